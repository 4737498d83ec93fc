//! Platform exports: each preset's fixture (fixtures/presets, real headers) imported into an
//! empty store, with every figure worked out by hand from the fixture's rows, on both
//! backends; re-imports and overlapping exports that count nothing twice; `--check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use dawnpost::ingest::{Format, ImportOptions, ImportSummary, import_file};
use dawnpost::metrics::compare::Value;
use dawnpost::metrics::period::ComparisonKind::PreviousDay;
use dawnpost::store::report;

use crate::support::{Backend, TestStore, both_backends, fixture};

both_backends!(
    shopify_orders_fill_orders_lines_refunds_and_shipments,
    shopify_products_fill_costs_and_stock_without_overwriting,
    woocommerce_orders_spread_revenue_over_units,
    woocommerce_product_lists_agree_with_items_sold,
    woocommerce_refunds_each_stand_on_their_own,
    ga4_traffic_maps_channel_groups,
    google_ads_reports_in_csv_and_tsv,
    meta_ads_needs_a_daily_breakdown,
    check_reports_and_writes_nothing,
    an_older_store_upgrades_in_place,
    an_orders_only_shop_gets_an_email_of_what_it_has,
    three_platform_files_make_a_true_email,
    every_fixture_reimports_without_a_change,
    an_export_with_25_bad_rows_is_told_in_one_run,
    an_unknown_lead_time_is_said_or_taken_from_the_default,
    shipments_from_the_orders_export_are_never_incomplete,
    shopify_refunds_count_on_the_day_they_are_first_seen,
    matrixify_orders_date_each_refund_and_cost_each_variant,
);

/// Mangled exports: cut anywhere, and every field replaced by values no shop means. Each
/// import ends in a result (an error naming file and line, or rows), never a panic, and
/// a failed one leaves the store as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_exports_fail_cleanly() {
    let t = empty(Backend::Sqlite).await.unwrap();
    let o = opts(&t);
    let odd = [
        "1e400",
        "-5",
        "99999999999999999999",
        "",
        "--",
        "NaN",
        "0x10",
        "2024-02-30",
        "×",
        "\"",
        "1,2,3",
    ];
    for f in [
        "shopify_orders.csv",
        "shopify_products.csv",
        "woocommerce_orders.csv",
        "ga4_traffic.csv",
        "google_ads.csv",
        "meta_ads.csv",
        "../matrixify/orders.csv",
    ] {
        let text = std::fs::read_to_string(preset(f)).unwrap();
        let mut variants: Vec<String> = (1..text.len())
            .step_by(97)
            .filter(|n| text.is_char_boundary(*n))
            .map(|n| text[..n].to_string())
            .collect();
        let (head, body) = text.split_at(
            text.rfind(&text.lines().last().unwrap().to_string())
                .unwrap(),
        );
        for v in odd {
            let fields: Vec<String> = body
                .trim_end()
                .split(',')
                .enumerate()
                .map(|(i, x)| {
                    if i % 2 == 0 {
                        v.to_string()
                    } else {
                        x.to_string()
                    }
                })
                .collect();
            variants.push(format!("{head}{}\n", fields.join(",")));
        }
        for (i, v) in variants.iter().enumerate() {
            let name = f.rsplit('/').next().unwrap_or(f);
            let p = t.dir.path().join(format!("mangled_{i}_{name}"));
            std::fs::write(&p, v).unwrap();
            let before = t.fingerprint().await;
            if import_file(&t.store, None, &p, &o).await.is_err() {
                assert_eq!(t.fingerprint().await, before, "{f} variant {i}");
            }
        }
    }
}

/// An empty store with the small shop's settings (New York, USD).
pub(crate) async fn empty(b: Backend) -> Option<TestStore> {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    TestStore::new(b, &text).await
}

pub(crate) fn opts(t: &TestStore) -> ImportOptions {
    ImportOptions {
        tz: t.config.shop.timezone,
        currency: "USD".into(),
        channels: BTreeMap::new(),
        day: "2024-03-02".parse().unwrap(),
        check: false,
        at: 0,
        progress: Default::default(),
    }
}

/// Imports a fixture with its format detected from the header, as `import FILE` does.
pub(crate) async fn load(t: &TestStore, path: &Path, o: &ImportOptions) -> ImportSummary {
    import_file(&t.store, None, path, o)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

pub(crate) fn preset(name: &str) -> PathBuf {
    fixture(&format!("presets/{name}"))
}

/// Metric values on `d` (the day itself), through the metric path.
pub(crate) async fn values(t: &TestStore, d: &str, keys: &[&str]) -> Vec<f64> {
    let d: NaiveDate = d.parse().unwrap();
    let r = report::build(&t.store, &t.config, d).await.unwrap();
    keys.iter()
        .map(|k| {
            let c = r.get(k).unwrap().comparisons.iter();
            match c.clone().find(|c| c.kind == PreviousDay).unwrap().current {
                Value::Value(v) => v,
                other => panic!("{k} on {d}: {other:?}"),
            }
        })
        .collect()
}

#[track_caller]
pub(crate) fn close(got: &[f64], want: &[f64]) {
    let ok = got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9);
    assert!(ok, "got {got:?}, expected {want:?}");
}

pub(crate) async fn count(t: &TestStore, sql: &str) -> f64 {
    t.scalar(sql).await.unwrap_or(0.0)
}

async fn shopify_orders_fill_orders_lines_refunds_and_shipments(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    let s = load(&t, &preset("shopify_orders.csv"), &o).await;
    assert_eq!(s.format, "shopify-orders");
    assert_eq!(s.rows, 7, "one row per line item");
    let keys = ["net_revenue", "orders", "units", "new_customers", "refunds"];
    // 1 Mar: #1001 2×12.00 + 1×0.00 less 2.00 off; #1002 (a guest) 20.00, 5.00 refunded.
    // Revenue 24 + 0 + 20 - 2 - 5 = 37; 2 orders, 4 units, one new customer (a@ first; the
    // guest is counted apart, not as new).
    close(
        &values(&t, "2024-03-01", &keys).await,
        &[37.0, 2.0, 4.0, 1.0, 5.0],
    );
    // 2 Mar: #1003 is cancelled; #1004 (B@, first) 25 + 12; #1005 (a@ again) 12.
    close(
        &values(&t, "2024-03-02", &keys[..4]).await,
        &[49.0, 2.0, 3.0, 1.0],
    );
    // The same SKU twice in #1001, one line free.
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM order_lines WHERE order_id = '#1001' AND sku = 'MUG-1'"
        )
        .await,
        2.0
    );
    // The custom line without a SKU goes by its name; products come from the lines.
    assert_eq!(count(&t, "SELECT COUNT(*) FROM products").await, 3.0);
    assert_eq!(
        count(
            &t,
            "SELECT unit_price FROM products WHERE sku = 'Gift wrap'"
        )
        .await,
        25.0
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM orders WHERE customer_id IS NULL").await,
        1.0
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM orders WHERE customer_id LIKE '%@%'"
        )
        .await,
        0.0,
        "no email address is copied into the store"
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'").await,
        1.0
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM orders WHERE order_id = '#1004' AND country = 'CA' AND region = 'ON'").await,
        1.0
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM fulfilment WHERE order_id = '#1001' AND ship_day = '2024-03-02'"
        )
        .await,
        1.0
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM fulfilment").await, 1.0);

    // Re-importing the same export changes nothing and rebuilds no day.
    let before = t.fingerprint().await;
    let again = load(&t, &preset("shopify_orders.csv"), &o).await;
    assert_eq!(again.rebuilt_days, 0);
    assert_eq!(t.fingerprint().await, before);

    // Next night's export overlaps: #1005 again, and a new #1006 on 3 Mar by a@ (returning).
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let r1005 = lines.find(|l| l.starts_with("#1005,")).unwrap();
    let r1006 = r1005
        .replace("#1005", "#1006")
        .replace("2024-03-02 16:00:00", "2024-03-03 08:00:00");
    let next = t.dir.path().join("orders_export_2.csv");
    std::fs::write(&next, format!("{header}\n{r1005}\n{r1006}\n")).unwrap();
    let s = load(&t, &next, &o).await;
    assert_eq!(s.rebuilt_days, 1, "only 3 Mar is new");
    close(
        &values(&t, "2024-03-02", &keys[..4]).await,
        &[49.0, 2.0, 3.0, 1.0],
    );
    close(
        &values(&t, "2024-03-03", &keys[..4]).await,
        &[12.0, 1.0, 1.0, 0.0],
    );
}

async fn shopify_products_fill_costs_and_stock_without_overwriting(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    load(&t, &preset("shopify_orders.csv"), &o).await;
    let s = load(&t, &preset("shopify_products.csv"), &o).await;
    assert_eq!(s.format, "shopify-products");
    assert_eq!(s.tables, vec![("products", 3), ("inventory", 3)]);
    let p = |sql: &'static str| async { count(&t, sql).await };
    assert_eq!(
        p("SELECT unit_cost FROM products WHERE sku = 'MUG-1'").await,
        4.0
    );
    assert_eq!(
        p("SELECT COUNT(*) FROM products WHERE sku = 'TEE-1' AND unit_cost IS NULL AND name = 'Bravo Tee - M'").await,
        1.0
    );
    assert_eq!(
        p("SELECT COUNT(*) FROM products WHERE sku = 'TEE-0' AND category = 'Shirts & Tops'").await,
        1.0,
        "no Type: the last step of the product category"
    );
    // Stock for --day: 30, 5, and the oversold -2 as none on hand.
    assert_eq!(
        p("SELECT SUM(on_hand) FROM inventory WHERE day = '2024-03-02'").await,
        35.0
    );
    assert_eq!(
        p("SELECT on_hand FROM inventory WHERE sku = 'TEE-1'").await,
        0.0
    );
    // 2 Mar margin, over products whose cost is known: MUG-1 twice at 12.00 (cost 4.00);
    // the gift wrap has no cost and is left out: (24 - 8) / 24.
    close(
        &values(&t, "2024-03-02", &["gross_margin"]).await,
        &[16.0 / 24.0],
    );
    // The next orders export names MUG-1 again: its cost and name stay.
    load(&t, &preset("shopify_orders.csv"), &o).await;
    assert_eq!(
        p("SELECT unit_cost FROM products WHERE sku = 'MUG-1'").await,
        4.0
    );
}

async fn woocommerce_orders_spread_revenue_over_units(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let s = load(&t, &preset("woocommerce_orders.csv"), &opts(&t)).await;
    assert_eq!(s.format, "woocommerce-orders");
    let keys = ["net_revenue", "orders", "units", "new_customers"];
    // 1 Mar: #2001 30.00 for 3 units (new), #2002 15.00 for 1 (returning).
    close(
        &values(&t, "2024-03-01", &keys).await,
        &[45.0, 2.0, 4.0, 1.0],
    );
    // 2 Mar: #2003 cancelled; #2004 24.00 for 3 units (new).
    close(
        &values(&t, "2024-03-02", &keys).await,
        &[24.0, 1.0, 3.0, 1.0],
    );
    // A product name holding a comma stays one product; 30.00 over 3 units is 10.00 each.
    assert_eq!(
        count(
            &t,
            "SELECT SUM(quantity) FROM order_lines WHERE sku = 'Cap, Blue' AND order_id = '2001'"
        )
        .await,
        1.0
    );
    assert_eq!(
        count(
            &t,
            "SELECT MAX(unit_price) FROM order_lines WHERE order_id = '2001'"
        )
        .await,
        10.0
    );
}

/// A product name may hold `, ` and `×`: the list is split only where the quantities sum to
/// `Items sold`, and a list no reading of which does is refused by line and column.
async fn woocommerce_product_lists_agree_with_items_sold(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("woocommerce_orders.csv")).unwrap();
    let header = text.lines().next().unwrap();
    let canvas = "2024-03-02 17:00:00,2005,$45.00,processing,Ed Fox,new,\
                  \"1× Canvas print, 2×3 ft\",1,,45.00";
    let p = t.dir.path().join("woo_canvas.csv");
    std::fs::write(&p, format!("{text}{canvas}\n")).unwrap();
    load(&t, &p, &opts(&t)).await;
    // 2 Mar: #2004 24.00 for 3 units, #2005 45.00 for its 1 canvas print; both new.
    close(
        &values(
            &t,
            "2024-03-02",
            &["net_revenue", "orders", "units", "new_customers"],
        )
        .await,
        &[69.0, 2.0, 4.0, 2.0],
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM order_lines WHERE order_id = '2005' \
             AND sku = 'Canvas print, 2×3 ft' AND quantity = 1 AND unit_price = 45"
        )
        .await,
        1.0
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM order_lines WHERE order_id = '2005'"
        )
        .await,
        1.0
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM products WHERE sku = '3 ft'").await,
        0.0
    );

    // 2 + 1 or 2 alone, never the 5 items sold: refused, and nothing written.
    let bad = t.dir.path().join("woo_items.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}\n2024-03-02 17:00:00,2006,$20.00,processing,Ed Fox,new,\
             \"2× Mug, 1× Cap\",5,,20.00\n"
        ),
    )
    .unwrap();
    let before = t.fingerprint().await;
    let err = format!(
        "{:#}",
        import_file(&t.store, None, &bad, &opts(&t))
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("woo_items.csv:2: column `Product(s)`"),
        "{err}"
    );
    assert!(err.contains("Items sold"), "{err}");
    assert_eq!(t.fingerprint().await, before);
}

/// Refund rows (the parent's order number, the refund's date, negative items and revenue):
/// two of one order on one day, one of an order the store has never seen, and one whose
/// revenue is written without its sign. Each is a refund of its own, and the rest imports.
async fn woocommerce_refunds_each_stand_on_their_own(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("woocommerce_orders.csv")).unwrap();
    let refunds = [
        "2024-03-03 10:00:00,2001,$30.00,completed,Ann Lee,returning,-1× Hoodie,-1,,-10.00",
        "2024-03-03 15:00:00,2001,$30.00,completed,Ann Lee,returning,\"-1× Cap, Blue\",-1,,-10.00",
        "2024-03-03 12:00:00,1990,$50.00,completed,Di Ng,returning,-2× Hoodie,-2,,-40.00",
        "2024-03-04 09:30:00,1990,$50.00,completed,Di Ng,returning,-2× Hoodie,-2,,40.00",
    ];
    let p = t.dir.path().join("woo_refunds.csv");
    std::fs::write(&p, format!("{text}{}\n", refunds.join("\n"))).unwrap();
    let s = load(&t, &p, &opts(&t)).await;
    assert_eq!(s.rows, 8);
    // 3 Mar: 10.00 + 10.00 (#2001 twice) + 40.00 (#1990); 4 Mar: #1990's 40.00.
    close(&values(&t, "2024-03-03", &["refunds"]).await, &[60.0]);
    close(&values(&t, "2024-03-04", &["refunds"]).await, &[40.0]);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM refunds").await, 4.0);
    assert_eq!(
        count(
            &t,
            "SELECT SUM(units) FROM refunds WHERE day = '2024-03-03'"
        )
        .await,
        4.0
    );
    assert_eq!(
        count(
            &t,
            "SELECT SUM(amount) FROM refunds WHERE order_id = '1990'"
        )
        .await,
        80.0
    );
    // Refunds are not orders, and add no lines: the fixture's 4 orders and 5 lines.
    assert_eq!(count(&t, "SELECT COUNT(*) FROM orders").await, 4.0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM order_lines").await, 5.0);
    close(&values(&t, "2024-03-01", &["net_revenue"]).await, &[45.0]);

    // Again, and newest first as the report lists by default: the same four refunds.
    let before = t.fingerprint().await;
    assert_eq!(load(&t, &p, &opts(&t)).await.rebuilt_days, 0);
    let mut rows: Vec<&str> = text.lines().skip(1).chain(refunds).collect();
    rows.reverse();
    let header = text.lines().next().unwrap();
    let newest_first = t.dir.path().join("woo_refunds_desc.csv");
    std::fs::write(&newest_first, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    assert_eq!(load(&t, &newest_first, &opts(&t)).await.rebuilt_days, 0);
    assert_eq!(t.fingerprint().await, before);
}

async fn ga4_traffic_maps_channel_groups(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let mut o = opts(&t);
    o.channels.insert("Organic Social".into(), "organic".into());
    let s = load(&t, &preset("ga4_traffic.csv"), &o).await;
    assert_eq!(s.format, "ga4-traffic");
    // Organic Search 1,200 and Organic Social 50 (mapped to organic by the config) on 1 Mar.
    assert_eq!(
        count(
            &t,
            "SELECT sessions FROM traffic WHERE day = '2024-03-01' AND channel = 'organic'"
        )
        .await,
        1250.0
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM traffic").await, 5.0);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM traffic WHERE add_to_carts IS NULL"
        )
        .await,
        5.0,
        "the acquisition report has no funnel counts"
    );
    close(&values(&t, "2024-03-01", &["sessions"]).await, &[1550.0]);
    close(&values(&t, "2024-03-02", &["sessions"]).await, &[1600.0]);
    let before = t.fingerprint().await;
    assert_eq!(
        load(&t, &preset("ga4_traffic.csv"), &o).await.rebuilt_days,
        0
    );
    assert_eq!(t.fingerprint().await, before);
}

async fn google_ads_reports_in_csv_and_tsv(b: Backend) {
    for file in ["google_ads.csv", "google_ads_tabs.tsv"] {
        let Some(t) = empty(b).await else { return };
        let o = opts(&t);
        let s = load(&t, &preset(file), &o).await;
        assert_eq!(s.format, "google-ads", "{file}");
        // 1 Mar: 1,234.50 + 100.25 spent; the Total rows are not campaigns.
        close(&values(&t, "2024-03-01", &["ad_spend"]).await, &[1334.75]);
        close(&values(&t, "2024-03-02", &["ad_spend"]).await, &[99.0]);
        assert_eq!(
            count(
                &t,
                "SELECT SUM(impressions) FROM ad_spend WHERE day = '2024-03-01'"
            )
            .await,
            15345.0
        );
        assert_eq!(count(&t, "SELECT SUM(clicks) FROM ad_spend").await, 576.0);
        assert_eq!(
            count(
                &t,
                "SELECT COUNT(*) FROM ad_spend WHERE channel = 'paid_search'"
            )
            .await,
            4.0,
            "{file}: the paused campaign's day of `--` is a day of nothing spent"
        );
        let mut eur = o.clone();
        eur.currency = "EUR".into();
        let before = t.fingerprint().await;
        let err = format!(
            "{:#}",
            import_file(&t.store, None, &preset(file), &eur)
                .await
                .unwrap_err()
        );
        assert!(
            err.contains("costs are in USD, but the shop's currency is EUR"),
            "{err}"
        );
        assert!(err.contains(":4:"), "the first data line is line 4: {err}");
        assert_eq!(t.fingerprint().await, before);
    }
}

async fn meta_ads_needs_a_daily_breakdown(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    let s = load(&t, &preset("meta_ads.csv"), &o).await;
    assert_eq!(s.format, "meta-ads");
    close(&values(&t, "2024-03-01", &["ad_spend"]).await, &[65.0]);
    close(&values(&t, "2024-03-02", &["ad_spend"]).await, &[60.5]);
    assert_eq!(
        count(
            &t,
            "SELECT SUM(clicks) FROM ad_spend WHERE channel = 'paid_social'"
        )
        .await,
        300.0
    );
    let before = t.fingerprint().await;
    let err = format!(
        "{:#}",
        import_file(&t.store, None, &preset("meta_ads_no_breakdown.csv"), &o)
            .await
            .unwrap_err()
    );
    assert!(err.contains("meta_ads_no_breakdown.csv:2:"), "{err}");
    assert!(err.contains("Breakdown > By time > Day"), "{err}");
    assert_eq!(t.fingerprint().await, before);
}

async fn check_reports_and_writes_nothing(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let mut o = opts(&t);
    o.check = true;
    let before = t.fingerprint().await;
    let s = load(&t, &preset("shopify_orders.csv"), &o).await;
    let plan = s.plan.expect("a check reports a plan");
    assert_eq!(plan.rows.get("orders"), Some(&5));
    assert_eq!(plan.rows.get("order_lines"), Some(&7));
    assert_eq!(plan.rows.get("refunds"), Some(&1));
    assert_eq!(plan.first_day.as_deref(), Some("2024-03-01"));
    assert_eq!(plan.last_day.as_deref(), Some("2024-03-02"));
    let skus: Vec<&str> = plan.new_skus.iter().map(String::as_str).collect();
    assert_eq!(skus, ["Gift wrap", "MUG-1", "TEE-1"]);
    let channels: Vec<&str> = plan.new_channels.iter().map(String::as_str).collect();
    assert_eq!(channels, ["pos", "web"]);
    assert_eq!(t.fingerprint().await, before, "a check writes nothing");

    // A header no format knows: the error lists every format and what it expects.
    let odd = t.dir.path().join("odd.csv");
    std::fs::write(&odd, "Kunde,Betrag\nA,1\n").unwrap();
    let err = format!(
        "{:#}",
        import_file(&t.store, None, &odd, &o).await.unwrap_err()
    );
    assert!(
        err.contains("odd.csv:1: not a header dawnpost knows: `Kunde`, `Betrag`"),
        "{err}"
    );
    for f in dawnpost::ingest::FORMATS {
        assert!(err.contains(f.name) && err.contains(f.expects), "{err}");
    }
    // Named explicitly, the wrong format says which of its columns is missing.
    let err = format!(
        "{:#}",
        import_file(
            &t.store,
            Some(Format::from_name("google-ads").unwrap()),
            &preset("meta_ads.csv"),
            &o
        )
        .await
        .unwrap_err()
    );
    assert!(err.contains("expected the header of google-ads"), "{err}");
    assert!(err.contains("missing column `Day`"), "{err}");
}

/// A store made by the previous release (migrations 1-5) with an order of two lines keeps
/// its rows and figures through the upgrade, and then takes the same SKU twice.
async fn an_older_store_upgrades_in_place(b: Backend) {
    let Some(t) = empty(b).await else { return };
    // Start over from the schema of migration 5 on a store of its own.
    let url = match b {
        Backend::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            t.dir.path().join("old.sqlite").display()
        ),
        Backend::Postgres => match crate::support::postgres_database().await {
            Some(u) => u,
            None => return,
        },
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut old = match b {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= 5)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO products VALUES ('A', 'Alpha', 'Home', 10, 4, 5), ('B', 'Bravo', 'Home', 7, 2, 5)",
        "INSERT INTO orders VALUES ('O1', 1709301600, '2024-03-01', 'email', 'c1', 'new', 1, 'placed')",
        "INSERT INTO order_lines VALUES ('O1', 'B', 1, 7), ('O1', 'A', 2, 10)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store_url = match b {
        Backend::Sqlite => format!("sqlite://{}", t.dir.path().join("old.sqlite").display()),
        Backend::Postgres => url.clone(),
    };
    let text = crate::support::replace_store_url(&text, &store_url);
    let config = dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
        origin: "test config".into(),
        text: &text,
        base_dir: dir.path().to_path_buf(),
    })
    .unwrap();
    let store = dawnpost::store::Store::open(&config.store).await.unwrap();
    let upgraded = TestStore {
        store,
        config,
        dir,
        _database: None,
    };
    // Lines numbered in SKU order; 2×10 + 7 - 1 = 26, 3 units, 1 new customer.
    assert_eq!(
        count(
            &upgraded,
            "SELECT line_no FROM order_lines WHERE order_id = 'O1' AND sku = 'B'"
        )
        .await,
        2.0
    );
    close(
        &values(
            &upgraded,
            "2024-03-01",
            &["net_revenue", "units", "new_customers"],
        )
        .await,
        &[26.0, 3.0, 1.0],
    );
    let more = upgraded.dir.path().join("lines.csv");
    std::fs::write(
        &more,
        "order_id,line_no,sku,quantity,unit_price\nO1,3,A,1,0\n",
    )
    .unwrap();
    dawnpost::ingest::import_csv(
        &upgraded.store,
        "order_lines",
        &more,
        upgraded.config.shop.timezone,
    )
    .await
    .unwrap();
    close(&values(&upgraded, "2024-03-01", &["units"]).await, &[4.0]);
}

/// A shop with only an orders export (WooCommerce: orders and their lines, no traffic, ads,
/// stock, shipping or costs): its email shows what it has, and says what it leaves out.
async fn an_orders_only_shop_gets_an_email_of_what_it_has(b: Backend) {
    use chrono::TimeZone;
    let Some(t) = empty(b).await else { return };
    load(&t, &preset("woocommerce_orders.csv"), &opts(&t)).await;
    let templates = dawnpost::email::render::Templates::load(None).unwrap();
    let d: NaiveDate = "2024-03-02".parse().unwrap();
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2024, 3, 3, 6, 0, 0)
        .unwrap();
    let c = dawnpost::email::compose::compose(&t.store, &t.config, &templates, d, now)
        .await
        .unwrap();
    let g = &c.digest;
    assert_eq!(
        g.stale_note, "",
        "no incomplete-data banner for sources it never had"
    );
    assert_eq!(
        g.absent_note,
        "Not shown, no data imported yet: traffic, ad spend, stock, shipping, returns, refunds, \
         capacity, feedback, daily values. Not shown, no value in the days this email reads: \
         Gross margin, Orders from email."
    );
    // Refunds never imported are not a row of 0.
    assert!(
        g.marketing
            .rows
            .iter()
            .chain(&g.operations.rows)
            .all(|r| r.key != "refunds"),
        "a refunds row without refunds"
    );
    let tiles: Vec<&str> = g.headline.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(
        tiles,
        ["net_revenue", "orders", "aov", "units"],
        "four tiles of what exists"
    );
    assert_eq!(
        g.no_alerts_note,
        "No alerts could be checked: there is no stock data and no capacity data."
    );
    // No cost is known: never a made-up margin, and no row of "no data" every morning
    // either; nor a discount rate of 0.0% for a shop that gives no discounts.
    for left_out in ["Gross margin", "Discount rate"] {
        assert!(
            !g.operations.rows.iter().any(|r| r.label == left_out),
            "{left_out} is shown"
        );
    }
    let charts: Vec<&str> = g.charts.iter().map(|c| c.id.as_str()).collect();
    assert!(
        !charts.contains(&"traffic") && !charts.contains(&"fulfilment"),
        "{charts:?}"
    );
    for absent in [
        "Sessions",
        "Conversion rate",
        "Ad spend",
        "Time to ship",
        "On-time delivery",
        "Traffic by channel",
        "Funnel",
        "Most returned",
        "Out of stock",
        "Customer feedback",
        "Warehouse capacity",
    ] {
        assert!(!c.rendered.html.contains(absent), "{absent:?} in the HTML");
        assert!(!c.rendered.text.contains(absent), "{absent:?} in the text");
    }
    // No capacity data: no chart, title, column or legend of capacity.
    for capacity in [
        "against capacity",
        "against warehouse capacity",
        ">Capacity<",
    ] {
        assert!(
            !c.rendered.html.contains(capacity),
            "{capacity:?} in the HTML"
        );
    }
    assert!(!g.outlook.has_capacity);
    // 2 Mar: #2004, 24.00 over 3 units; #2003 was cancelled.
    assert_eq!(g.headline[0].value, "$24");

    // In a browser: every image loads, and a screenshot is left for people to look at.
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| crate::email::which(b))
    else {
        if std::env::var("DAWNPOST_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("Chromium is required (DAWNPOST_REQUIRE_CHROMIUM=1) but not installed");
        }
        return;
    };
    let out = t.dir.path().join("preview");
    let files = dawnpost::email::compose::write_preview(&c, &t.config, now, &out).unwrap();
    let probe = r#"<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
  document.title = 'PROBE ' + JSON.stringify({images: imgs.length, broken, text: document.body.innerText.length});
});
</script></body>"#;
    let r = crate::email::probe_in_chromium(&chromium, &files.html, probe);
    assert_eq!(r["images"], g.charts.len(), "{r}");
    assert_eq!(r["broken"], 0, "{r}");
    if let Ok(path) = std::env::var("DAWNPOST_SCREENSHOT_ORDERS_ONLY") {
        crate::email::run_chromium(
            &chromium,
            &[&format!("--screenshot={path}"), "--window-size=700,2600"],
            &files.html,
        );
        assert!(Path::new(&path).exists());
    }
}

/// Done when: a Shopify orders export, a GA4 traffic download and an ad report are all a
/// shop has, and the email shows true numbers and nothing empty.
async fn three_platform_files_make_a_true_email(b: Backend) {
    use chrono::TimeZone;
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    for f in ["shopify_orders.csv", "ga4_traffic.csv", "google_ads.csv"] {
        load(&t, &preset(f), &o).await;
    }
    let templates = dawnpost::email::render::Templates::load(None).unwrap();
    let d: NaiveDate = "2024-03-02".parse().unwrap();
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2024, 3, 3, 6, 0, 0)
        .unwrap();
    let c = dawnpost::email::compose::compose(&t.store, &t.config, &templates, d, now)
        .await
        .unwrap();
    let g = &c.digest;
    let tiles: Vec<(&str, &str)> = g
        .headline
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    // 2 Mar: #1004 (25 + 12) and #1005 (12); sessions 400 + 100 + 1,100 = 1,600.
    assert_eq!(
        tiles,
        [
            ("net_revenue", "$49"),
            ("orders", "2"),
            // 2 / 1,600 = 0.125%, and 49 / 2 = 24.50, at the small shop's precision.
            ("conversion_rate", "0.1%"),
            ("aov", "$24")
        ]
    );
    let row = |label: &str| {
        g.marketing
            .rows
            .iter()
            .chain(&g.operations.rows)
            .find(|r| r.label == label)
            .map(|r| r.value.clone())
    };
    assert_eq!(row("Sessions").as_deref(), Some("1,600"));
    assert_eq!(row("Ad spend").as_deref(), Some("$99"));
    // Ad spend per new customer: 99.00 over B@'s first order (a@ is returning).
    assert_eq!(row("Customer acquisition cost").as_deref(), Some("$99"));
    // GA4's acquisition report has no carts or checkouts: those rows are not shown.
    assert_eq!(row("Add-to-cart rate"), None);
    assert_eq!(row("Cart abandonment"), None);
    assert!(g.funnel.is_empty());
    // Shopify gives no promised day: on-time delivery is not shown; time to ship is.
    assert_eq!(row("On-time delivery"), None);
    assert!(row("Time to ship").is_some());
    assert!(
        g.absent_note.contains("Not shown, not in the exports so far: product views, add-to-carts, checkouts, promised delivery days, deliveries."),
        "{}",
        g.absent_note
    );
    // Every row shows a number, but the margin (no product has a cost yet) and the small
    // shop's own count of email orders (none): "no data" is then the truth.
    for r in g.marketing.rows.iter().chain(&g.operations.rows) {
        if r.value == "no data" {
            assert!(
                ["Gross margin", "Orders from email"].contains(&r.label.as_str()),
                "{}: no data",
                r.label
            );
        }
    }
    // Channels with sessions on earlier days and none yesterday say 0, not "no data".
    let channels: Vec<(&str, &str)> = g
        .channels
        .iter()
        .map(|c| (c.channel.as_str(), c.sessions.as_str()))
        .collect();
    assert_eq!(channels.len(), 5, "{channels:?}");
    assert_eq!(
        channels[..3].iter().map(|c| c.0).collect::<Vec<_>>(),
        ["organic", "paid search", "email"]
    );
    let mut zeros: Vec<(&str, &str)> = channels[3..].to_vec();
    zeros.sort();
    assert_eq!(zeros, [("direct", "0"), ("organic social", "0")]);
    if let Ok(path) = std::env::var("DAWNPOST_SCREENSHOT_THREE_FILES") {
        let Some(chromium) = crate::email::which("chromium") else {
            return;
        };
        let out = t.dir.path().join("preview");
        let files = dawnpost::email::compose::write_preview(&c, &t.config, now, &out).unwrap();
        crate::email::run_chromium(
            &chromium,
            &[&format!("--screenshot={path}"), "--window-size=700,3600"],
            &files.html,
        );
    }
}

/// Each preset's fixture loaded twice, and an ad report that overlaps the last by a day:
/// the second load changes no row and rebuilds no day; the overlap counts nothing twice.
async fn every_fixture_reimports_without_a_change(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    let files = [
        "shopify_orders.csv",
        "shopify_products.csv",
        "woocommerce_orders.csv",
        "ga4_traffic.csv",
        "google_ads.csv",
        "google_ads_tabs.tsv",
        "meta_ads.csv",
    ];
    for f in files {
        load(&t, &preset(f), &o).await;
    }
    let before = t.fingerprint().await;
    for f in files {
        let s = load(&t, &preset(f), &o).await;
        assert_eq!(s.rebuilt_days, 0, "{f}");
    }
    assert_eq!(t.fingerprint().await, before);
    // The next Meta export repeats 2 Mar and adds 3 Mar.
    let next = t.dir.path().join("meta_next.csv");
    let text = std::fs::read_to_string(preset("meta_ads.csv")).unwrap();
    let header = text.lines().next().unwrap();
    let again = text.lines().find(|l| l.starts_with("2024-03-02")).unwrap();
    let new_day = again.replace("2024-03-02", "2024-03-03");
    std::fs::write(&next, format!("{header}\n{again}\n{new_day}\n")).unwrap();
    load(&t, &next, &o).await;
    // 2 Mar: Google 99.00 and Meta 60.50, each counted once.
    close(&values(&t, "2024-03-02", &["ad_spend"]).await, &[159.5]);
    close(&values(&t, "2024-03-03", &["ad_spend"]).await, &[60.5]);
}

/// 25 line items of a Shopify export with a bad quantity: the first 20 told with their
/// lines and column, then how many more, and nothing written.
async fn an_export_with_25_bad_rows_is_told_in_one_run(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let first = lines.next().unwrap();
    let mut out = format!("{header}\n");
    for i in 0..25 {
        let row = first.replacen("#1001", &format!("#9{i:03}"), 2).replacen(
            ",2,Alpha Mug,",
            ",two,Alpha Mug,",
            1,
        );
        out.push_str(&row);
        out.push('\n');
    }
    let p = t.dir.path().join("bad_orders.csv");
    std::fs::write(&p, out).unwrap();
    let before = t.fingerprint().await;
    let err = format!(
        "{:#}",
        import_file(&t.store, None, &p, &opts(&t))
            .await
            .unwrap_err()
    );
    let told: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("bad_orders.csv:"))
        .collect();
    assert_eq!(told.len(), 20, "{err}");
    assert!(
        told[0].contains("bad_orders.csv:2: column `Lineitem quantity`"),
        "{err}"
    );
    assert!(told[19].contains("bad_orders.csv:21:"), "{err}");
    assert!(err.contains("… and 5 more bad rows"), "{err}");
    assert!(err.ends_with("nothing was imported"), "{err}");
    assert_eq!(t.fingerprint().await, before);
}

/// Shopify has no lead times: a promoted product's cover is checked against the config's
/// default, or the email says it could not be.
async fn an_unknown_lead_time_is_said_or_taken_from_the_default(b: Backend) {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    for default in [None, Some(100)] {
        let config = match default {
            None => text.clone(),
            Some(n) => format!("{text}\n[alerts]\ndefault_lead_time_days = {n}\n"),
        };
        let Some(t) = TestStore::new(b, &config).await else {
            return;
        };
        let o = opts(&t);
        load(&t, &preset("shopify_orders.csv"), &o).await;
        load(&t, &preset("shopify_products.csv"), &o).await;
        let c = t.dir.path().join("campaigns.csv");
        std::fs::write(
            &c,
            "campaign,channel,start_day,end_day,skus\nMug week,email,2024-03-02,2024-03-09,MUG-1\n",
        )
        .unwrap();
        dawnpost::ingest::import_csv(&t.store, "campaigns", &c, t.config.shop.timezone)
            .await
            .unwrap();
        let d: NaiveDate = "2024-03-02".parse().unwrap();
        let g = crate::support::composed_on(&t, d).await.digest;
        // MUG-1: 30 on hand; 2 + 1 + 1 + 1 sold in the 14 days to 2 Mar, so 30 / (5 / 14)
        // = 84 days of cover: fine by the 7-day minimum, short of a 100-day lead time.
        match default {
            None => {
                assert!(g.alerts.is_empty(), "{:?}", g.alerts);
                assert!(
                    g.lead_time_note
                        .starts_with("Lead time unknown for 1 promoted product (MUG-1)"),
                    "{}",
                    g.lead_time_note
                );
            }
            Some(_) => {
                assert_eq!(g.lead_time_note, "");
                assert_eq!(g.alerts.len(), 1, "{:?}", g.alerts);
                assert!(
                    g.alerts[0]
                        .title
                        .contains("84.0 days of cover, lead time 100 days"),
                    "{:?}",
                    g.alerts[0]
                );
            }
        }
    }
}

/// A Shopify-only shop: its shipments come from the same export as its orders. On 3 Mar it
/// has an order and nothing shipped: a quiet day, not "Incomplete data: shipping". The same
/// day with the shipments from a file of their own (dawnpost's fulfilment CSV) is another
/// matter: that file may be missing, and the banner says so.
async fn shipments_from_the_orders_export_are_never_incomplete(b: Backend) {
    use chrono::TimeZone;
    let Some(t) = empty(b).await else { return };
    load(&t, &preset("shopify_orders.csv"), &opts(&t)).await;
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let header = text.lines().next().unwrap();
    let cols: Vec<&str> = header.split(',').collect();
    let mut row = vec![""; cols.len()];
    for (name, value) in [
        ("Name", "#1006"),
        ("Email", "c@example.com"),
        ("Financial Status", "paid"),
        ("Fulfillment Status", "unfulfilled"),
        ("Currency", "USD"),
        ("Subtotal", "12.00"),
        ("Total", "12.00"),
        ("Created at", "2024-03-03 10:00:00 -0500"),
        ("Lineitem quantity", "1"),
        ("Lineitem name", "Alpha Mug"),
        ("Lineitem price", "12.00"),
        ("Lineitem sku", "MUG-1"),
    ] {
        let i = cols.iter().position(|c| *c == name).unwrap();
        row[i] = value;
    }
    let third = t.dir.path().join("orders_export_3.csv");
    std::fs::write(&third, format!("{header}\n{}\n", row.join(","))).unwrap();
    let mut o = opts(&t);
    o.day = "2024-03-03".parse().unwrap();
    load(&t, &third, &o).await;
    let templates = dawnpost::email::render::Templates::load(None).unwrap();
    let d: NaiveDate = "2024-03-03".parse().unwrap();
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2024, 3, 4, 6, 0, 0)
        .unwrap();
    let stale = || async {
        dawnpost::email::compose::compose(&t.store, &t.config, &templates, d, now)
            .await
            .unwrap()
            .digest
            .stale_note
    };
    assert!(!stale().await.contains("shipping"), "{}", stale().await);
    // Shipments from a file of their own: a day without one is worth a word.
    let ship = t.dir.path().join("fulfilment.csv");
    std::fs::write(
        &ship,
        "order_id,carrier,shipped_at,delivered_at,promised_day\n#1004,ParcelCo,2024-03-02 18:00:00,,\n",
    )
    .unwrap();
    dawnpost::ingest::import_csv(&t.store, "fulfilment", &ship, t.config.shop.timezone)
        .await
        .unwrap();
    assert!(
        stale().await.contains("shipping (last: 2 Mar 2024)"),
        "{}",
        stale().await
    );
}

/// The Shopify fixture with each order's `Refunded Amount` set as given (others as they are).
fn with_refunds(dir: &Path, name: &str, refunded: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let cols: Vec<&str> = header.split(',').collect();
    let (name_at, amount_at) = (
        cols.iter().position(|c| *c == "Name").unwrap(),
        cols.iter().position(|c| *c == "Refunded Amount").unwrap(),
    );
    let mut out = vec![header.to_string()];
    let mut seen = std::collections::HashSet::new();
    for line in lines {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        // The order's own fields are on its first row only.
        if seen.insert(f[name_at].clone())
            && let Some((_, amount)) = refunded.iter().find(|(o, _)| *o == f[name_at])
        {
            f[amount_at] = amount.to_string();
        }
        out.push(f.join(","));
    }
    let path = dir.join(name);
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path
}

/// The export's refunds have no date. Loaded before anything was mailed, #1002's 5.00 counts
/// on its order's day (1 Mar). Once 2 Mar has been mailed, an export read for 2 Mar whose
/// totals grew (#1002 to 12.00: 7.00 more; #1005 refunded 12.00) counts them on 3 Mar, the
/// first day not mailed, and leaves 1 and 2 Mar as they were; read again, it adds nothing;
/// read for 4 Mar with #1004 refunded 10.00, it counts that on 4 Mar.
async fn shopify_refunds_count_on_the_day_they_are_first_seen(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let mut o = opts(&t);
    load(&t, &preset("shopify_orders.csv"), &o).await;
    let refunds = |day: &'static str| {
        let t = &t;
        async move {
            count(
                t,
                &format!("SELECT SUM(amount) FROM refunds WHERE day = '{day}'"),
            )
            .await
        }
    };
    assert_eq!(refunds("2024-03-01").await, 5.0);
    t.store
        .record_mailed(
            "2024-03-02".parse().unwrap(),
            &[("orders".into(), 2.0)],
            &[],
            0,
        )
        .await
        .unwrap();
    let grown = with_refunds(
        t.dir.path(),
        "export_2.csv",
        &[("#1002", "12.00"), ("#1005", "12.00")],
    );
    load(&t, &grown, &o).await;
    assert_eq!(
        refunds("2024-03-01").await,
        5.0,
        "a mailed day keeps its refunds"
    );
    assert_eq!(refunds("2024-03-02").await, 0.0);
    assert_eq!(
        refunds("2024-03-03").await,
        19.0,
        "7.00 more of #1002 and 12.00 of #1005"
    );
    close(&values(&t, "2024-03-03", &["refunds"]).await, &[19.0]);
    load(&t, &grown, &o).await;
    assert_eq!(refunds("2024-03-03").await, 19.0, "read again, nothing new");
    o.day = "2024-03-04".parse().unwrap();
    let more = with_refunds(
        t.dir.path(),
        "export_3.csv",
        &[("#1002", "12.00"), ("#1005", "12.00"), ("#1004", "10.00")],
    );
    load(&t, &more, &o).await;
    assert_eq!(refunds("2024-03-04").await, 10.0);
    assert_eq!(refunds("2024-03-03").await, 19.0);
    let total = count(&t, "SELECT SUM(amount) FROM refunds").await;
    assert_eq!(total, 5.0 + 19.0 + 10.0, "every refund once");
}

/// fixtures/matrixify/orders.csv in a London shop: three orders, one refunded three days
/// later. Every figure below is read off the file by hand.
async fn matrixify_orders_date_each_refund_and_cost_each_variant(b: Backend) {
    let text = "[shop]\nname = \"M\"\ntimezone = \"Europe/London\"\ncurrency = \"GBP\"\n\n\
                [store]\nurl = \"sqlite://m.sqlite\"\n";
    let Some(t) = TestStore::new(b, text).await else {
        return;
    };
    let o = ImportOptions {
        tz: t.config.shop.timezone,
        currency: "GBP".into(),
        ..opts(&t)
    };
    let file = fixture("matrixify/orders.csv");
    let s = load(&t, &file, &o).await;
    assert_eq!(s.format, "matrixify-orders");
    // #1002 was placed at 00:40 on 11 June, London time.
    let days = [
        ("#1001", "2024-06-10"),
        ("#1002", "2024-06-11"),
        ("#1003", "2024-06-12"),
    ];
    for (order, day) in days {
        let n = count(
            &t,
            &format!("SELECT COUNT(*) FROM orders WHERE order_id = '{order}' AND day = '{day}'"),
        )
        .await;
        assert_eq!(n, 1.0, "{order} on {day}");
    }
    // Line items only: 2 × 6.50 + 12.00; 18.00 + 6.50; 20.00 + 6.50.
    for (order, sales) in [("#1001", 25.0), ("#1002", 24.5), ("#1003", 26.5)] {
        let got = count(
            &t,
            &format!(
                "SELECT SUM(quantity * unit_price) FROM order_lines WHERE order_id = '{order}'"
            ),
        )
        .await;
        assert_eq!(got, sales, "{order}");
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM order_lines").await, 6.0);
    // The candle refunded on 14 June at 16:20 London time: 18.00 and one unit, that day.
    let refund = count(
        &t,
        "SELECT amount + 1000 * units FROM refunds WHERE order_id = '#1002' \
         AND refund_id = '930000000021' AND day = '2024-06-14'",
    )
    .await;
    assert_eq!(refund, 1018.0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM refunds").await, 1.0);
    close(&values(&t, "2024-06-14", &["refunds"]).await, &[18.0]);
    // Each variant's cost, from `Line: Variant Cost`.
    for (sku, cost) in [
        ("SOAP-OAT", 2.10),
        ("TOWEL-LIN", 4.80),
        ("CNDL-CEDAR", 7.25),
        ("MUG-STONE", 8.00),
    ] {
        let got = count(
            &t,
            &format!("SELECT unit_cost FROM products WHERE sku = '{sku}'"),
        )
        .await;
        assert!((got - cost).abs() < 1e-9, "{sku}: {got}");
    }
    // Read again: nothing changes.
    let before = t.fingerprint().await;
    load(&t, &file, &o).await;
    assert_eq!(t.fingerprint().await, before);
}
