//! The whole morning email for the demo shop: queries, charts, templates and the MIME
//! message; and each chart alone. Targets: 150 ms for the whole digest, 5 ms per chart.
//!
//! cargo bench --bench digest

use chrono::{NaiveDate, TimeZone};
use criterion::{Criterion, criterion_group, criterion_main};
use dawnpost::config::{Config, ConfigSource, DEMO_CONFIG};
use dawnpost::demo::{self, DemoOptions};
use dawnpost::email::render::Templates;
use dawnpost::email::{compose, message};
use dawnpost::store::Store;
use dawnpost::store::gather;
use dawnpost::{chart, digest};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&ConfigSource {
        origin: "bench".into(),
        text: DEMO_CONFIG,
        base_dir: dir.path().to_path_buf(),
    })
    .unwrap();
    let d: NaiveDate = "2026-11-21".parse().unwrap();
    let store = rt.block_on(async {
        let store = Store::open(&config.store).await.unwrap();
        let options = DemoOptions {
            end: d,
            days: 430,
            seed: 7,
            scale: 1.0,
            shop: demo::DemoShop::Northwind,
        };
        demo::generate(&store, &options, config.shop.timezone, false)
            .await
            .unwrap();
        store
    });
    let templates = Templates::load(None).unwrap();
    let now = config
        .shop
        .timezone
        .with_ymd_and_hms(2026, 11, 22, 6, 0, 0)
        .unwrap();

    c.bench_function(
        "digest/whole email (queries, charts, templates, MIME)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let composed = compose::compose(&store, &config, &templates, d, now)
                        .await
                        .unwrap();
                    let msg = message::build(
                        &composed.rendered,
                        &config.email.from,
                        None,
                        &config.email.preview_to,
                        d,
                        now,
                    )
                    .unwrap();
                    msg.formatted().len()
                })
            })
        },
    );

    let inputs = rt.block_on(gather::gather(&store, &config, d)).unwrap();
    c.bench_function("digest/queries only", |b| {
        b.iter(|| rt.block_on(gather::gather(&store, &config, d)).unwrap())
    });
    let (_, specs) = digest::build(&config, d, now, &inputs);
    for spec in &specs {
        c.bench_function(&format!("chart/{}", spec.view.id), |b| {
            b.iter(|| chart::render_png(&spec.kind).unwrap().len())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
