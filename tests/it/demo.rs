//! The demo shop: its metrics against independent SQL on its raw rows, and its storylines,
//! on both backends.

use chrono::{Datelike, NaiveDate, Weekday};
use dawnpost::demo::{self, DemoOptions, story};
use dawnpost::metrics::compare::Value;
use dawnpost::metrics::period::ComparisonKind::{self, *};
use dawnpost::metrics::report::MetricsReport;
use dawnpost::store::report;

use crate::support::{Backend, TestStore, both_backends};

const END: &str = "2026-11-21";

fn options() -> DemoOptions {
    DemoOptions {
        end: END.parse().unwrap(),
        days: 400,
        seed: 7,
        scale: 0.25,
        shop: demo::DemoShop::Northwind,
    }
}

async fn demo_store(b: Backend) -> Option<TestStore> {
    let text = dawnpost::config::DEMO_CONFIG;
    let t = TestStore::new(b, text).await?;
    demo::generate(&t.store, &options(), t.config.shop.timezone, false)
        .await
        .unwrap();
    Some(t)
}

fn value(r: &MetricsReport, key: &str, kind: ComparisonKind, current: bool) -> f64 {
    let c = r
        .get(key)
        .unwrap()
        .comparisons
        .iter()
        .find(|c| c.kind == kind)
        .unwrap();
    match if current { c.current } else { c.previous } {
        Value::Value(v) => v,
        other => panic!("{key} {kind:?}: {other:?}"),
    }
}

#[track_caller]
fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} != {b}");
}

both_backends!(
    metrics_match_independent_sql,
    storylines_are_true_yesterday,
    a_demo_gives_back_every_index_trigger_and_key
);

async fn metrics_match_independent_sql(b: Backend) {
    let Some(t) = demo_store(b).await else { return };
    assert_keys_hold(&t, b).await;
    let d = END;
    let r = report::build(&t.store, &t.config, d.parse().unwrap())
        .await
        .unwrap();
    let q = |sql: String| {
        let t = &t;
        async move { t.scalar(&sql).await.expect("a value") }
    };
    let live = "status <> 'cancelled'";

    let revenue = |from: &str, to: &str| {
        format!(
            "(SELECT SUM(l.quantity * l.unit_price) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
             WHERE o.day BETWEEN '{from}' AND '{to}' AND o.{live}) \
             - (SELECT SUM(discount) FROM orders WHERE day BETWEEN '{from}' AND '{to}' AND {live})"
        )
    };
    close(
        value(&r, "net_revenue", PreviousDay, true),
        q(revenue(d, d)).await,
    );
    close(
        value(&r, "net_revenue", PreviousDay, false),
        q(revenue("2026-11-20", "2026-11-20")).await,
    );
    // Month to date: 1-21 Nov against 1-21 Oct.
    let orders = |from: &str, to: &str| {
        format!("SELECT COUNT(*) FROM orders WHERE day BETWEEN '{from}' AND '{to}' AND {live}")
    };
    close(
        value(&r, "orders", MonthToDate, true),
        q(orders("2026-11-01", d)).await,
    );
    close(
        value(&r, "orders", MonthToDate, false),
        q(orders("2026-10-01", "2026-10-21")).await,
    );
    // Mean of the four previous Saturdays.
    let four: f64 = {
        let mut s = 0.0;
        for day in ["2026-11-14", "2026-11-07", "2026-10-31", "2026-10-24"] {
            s += q(orders(day, day)).await;
        }
        s / 4.0
    };
    close(value(&r, "orders", SameWeekdayFourWeekMean, false), four);
    // Week to date (Mon 16 - Sat 21 Nov) conversion, pooled.
    let conv = q(orders("2026-11-16", d)).await
        / q(
            "SELECT SUM(sessions) FROM traffic WHERE day BETWEEN '2026-11-16' AND '2026-11-21'"
                .into(),
        )
        .await;
    close(value(&r, "conversion_rate", WeekToDate, true), conv);
    close(
        value(&r, "sessions", SameWeekdayLastYear, false),
        q("SELECT SUM(sessions) FROM traffic WHERE day = '2025-11-22'".into()).await,
    );
    close(
        value(&r, "fulfilment_hours", PreviousDay, true),
        q(format!(
            "SELECT AVG((f.shipped_at - o.placed_at) / 3600.0) FROM fulfilment f JOIN orders o ON o.order_id = f.order_id WHERE f.ship_day = '{d}'"
        ))
        .await,
    );
    close(
        value(&r, "on_time_delivery", PreviousDay, true),
        q(format!(
            "SELECT AVG(CASE WHEN delivery_day <= promised_day THEN 1.0 ELSE 0.0 END) FROM fulfilment WHERE delivery_day = '{d}'"
        ))
        .await,
    );
    close(
        value(&r, "capacity_utilisation", PreviousDay, true),
        q(orders(d, d)).await / q(format!("SELECT orders FROM capacity WHERE day = '{d}'")).await,
    );
    close(
        value(&r, "return_rate", MonthToDate, true),
        q(format!("SELECT SUM(quantity) FROM returns WHERE day BETWEEN '2026-11-01' AND '{d}'")).await
            / q(format!(
                "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id WHERE o.day BETWEEN '2026-11-01' AND '{d}' AND o.{live}"
            ))
            .await,
    );
    close(
        value(&r, "roas", PreviousDay, true),
        q(revenue(d, d)).await
            / q(format!("SELECT SUM(spend) FROM ad_spend WHERE day = '{d}'")).await,
    );
    close(
        value(&r, "csat", PreviousDay, true),
        q(format!(
            "SELECT value FROM daily_values WHERE metric = 'csat' AND day = '{d}'"
        ))
        .await,
    );
    // Returns by the channel of their order, month to date, against units sold on it; and
    // yesterday alone.
    let by_channel = r.get("return_rate_by_channel").unwrap();
    assert_eq!(by_channel.breakdown.len(), 5);
    for (from, kind) in [("2026-11-01", MonthToDate), (d, PreviousDay)] {
        // Every channel sold that day, so each rate is a value.
        for b in &by_channel.breakdown {
            let ch = &b.value;
            let returned = q(format!(
                "SELECT COALESCE(SUM(r.quantity), 0) FROM returns r JOIN orders o ON o.order_id = r.order_id \
                 WHERE o.channel = '{ch}' AND r.day BETWEEN '{from}' AND '{d}'"
            ))
            .await;
            let sold = q(format!(
                "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
                 WHERE o.channel = '{ch}' AND o.day BETWEEN '{from}' AND '{d}' AND o.{live}"
            ))
            .await;
            let c = b.comparisons.iter().find(|c| c.kind == kind).unwrap();
            match c.current {
                Value::Value(v) => close(v, returned / sold),
                other => panic!("{ch} {kind:?}: {other:?}"),
            }
        }
    }
    assert!(
        q(format!("SELECT COUNT(*) FROM returns WHERE day = '{d}'")).await > 0.0,
        "yesterday has returns to compare"
    );
}

async fn storylines_are_true_yesterday(b: Backend) {
    let Some(t) = demo_store(b).await else { return };
    let d = END;
    let q = |sql: String| {
        let t = &t;
        async move { t.scalar(&sql).await.expect("a value") }
    };

    // Shape: ~50 SKUs, 5 channels, every day of 400 has orders, a year-ago history.
    assert_eq!(q("SELECT COUNT(*) FROM products".into()).await, 50.0);
    assert_eq!(
        q("SELECT COUNT(DISTINCT channel) FROM traffic".into()).await,
        5.0
    );
    assert_eq!(
        q("SELECT COUNT(DISTINCT day) FROM orders".into()).await,
        400.0
    );
    assert!(q("SELECT COUNT(*) FROM orders WHERE day = '2025-11-22'".into()).await > 10.0);

    // Weekly seasonality: Saturdays outsell Tuesdays on average.
    let by_day: Vec<(String, i64)> =
        sqlx::query_as("SELECT day, COUNT(*) FROM orders GROUP BY day")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
    let mean = |wd: Weekday| {
        let v: Vec<f64> = by_day
            .iter()
            .filter(|(day, _)| day.parse::<NaiveDate>().unwrap().weekday() == wd)
            .map(|(_, n)| *n as f64)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean(Weekday::Sat) > 1.1 * mean(Weekday::Tue),
        "{} vs {}",
        mean(Weekday::Sat),
        mean(Weekday::Tue)
    );

    // A promotion is running, and its channel's traffic spiked against last week.
    let running = format!(
        "SELECT COUNT(*) FROM campaigns WHERE campaign = '{}' AND start_day <= '{d}' AND end_day >= '{d}'",
        story::PROMO_CAMPAIGN
    );
    assert_eq!(q(running).await, 1.0);
    let social = |day: &str| {
        format!("SELECT sessions FROM traffic WHERE channel = 'paid_social' AND day = '{day}'")
    };
    assert!(q(social(d)).await > 1.8 * q(social("2026-11-14")).await);

    // One promoted SKU has fewer days of cover than its supplier lead time.
    let sku = story::LOW_COVER_SKU;
    let on_hand = q(format!(
        "SELECT on_hand FROM inventory WHERE sku = '{sku}' AND day = '{d}'"
    ))
    .await;
    let sold_14 = q(format!(
        "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
         WHERE l.sku = '{sku}' AND o.day BETWEEN '2026-11-08' AND '{d}' AND o.status <> 'cancelled'"
    ))
    .await;
    let lead = q(format!(
        "SELECT lead_time_days FROM products WHERE sku = '{sku}'"
    ))
    .await;
    let cover = on_hand / (sold_14 / 14.0);
    assert!(
        on_hand > 0.0 && cover < lead,
        "cover {cover} vs lead time {lead}"
    );
    assert_eq!(
        q(format!(
            "SELECT COUNT(*) FROM campaign_skus WHERE campaign = '{}' AND sku = '{sku}'",
            story::PROMO_CAMPAIGN
        ))
        .await,
        1.0
    );

    // A carrier delay over the last week: slower shipping and fewer on-time deliveries.
    let hours = |from: &str, to: &str| {
        format!(
            "SELECT AVG((f.shipped_at - o.placed_at) / 3600.0) FROM fulfilment f JOIN orders o ON o.order_id = f.order_id \
             WHERE f.ship_day BETWEEN '{from}' AND '{to}'"
        )
    };
    assert!(q(hours(d, d)).await > 1.3 * q(hours("2026-10-15", "2026-11-10")).await);
    let on_time = |from: &str, to: &str| {
        format!(
            "SELECT AVG(CASE WHEN delivery_day <= promised_day THEN 1.0 ELSE 0.0 END) FROM fulfilment \
             WHERE carrier = '{}' AND delivery_day BETWEEN '{from}' AND '{to}'",
            story::DELAYED_CARRIER
        )
    };
    assert!(q(on_time("2026-11-18", d)).await < 0.75);
    assert!(q(on_time("2026-10-01", "2026-11-10")).await > 0.95);

    // One product is returned far more often than the rest.
    let rate = |cond: &str| {
        format!(
            "SELECT (SELECT SUM(quantity) FROM returns WHERE day BETWEEN '2026-08-01' AND '{d}' AND sku {cond}) * 1.0 / \
             (SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
              WHERE o.day BETWEEN '2026-07-20' AND '2026-11-10' AND o.status <> 'cancelled' AND l.sku {cond})"
        )
    };
    let worst = q(rate(&format!("= '{}'", story::RETURNS_SKU))).await;
    let rest = q(rate(&format!("<> '{}'", story::RETURNS_SKU))).await;
    assert!(worst > 3.0 * rest, "{worst} vs {rest}");

    // Peak days close to warehouse capacity, without going over.
    let peak = q(format!(
        "SELECT MAX(n * 1.0 / c.orders) FROM (SELECT day, COUNT(*) AS n FROM orders WHERE status <> 'cancelled' GROUP BY day) x \
         JOIN capacity c ON c.day = x.day WHERE x.day BETWEEN '2026-11-15' AND '{d}'"
    ))
    .await;
    assert!((0.9..=1.0).contains(&peak), "peak utilisation {peak}");

    // CSAT, NPS and feedback themes for yesterday; a stock-out elsewhere.
    assert_eq!(
        q(format!(
            "SELECT COUNT(*) FROM daily_values WHERE day = '{d}' AND metric IN ('csat', 'nps')"
        ))
        .await,
        2.0
    );
    assert!(
        q(format!(
            "SELECT COUNT(DISTINCT theme) FROM feedback WHERE day = '{d}'"
        ))
        .await
            >= 3.0
    );
    assert_eq!(
        q(format!(
            "SELECT on_hand FROM inventory WHERE sku = '{}' AND day = '{d}'",
            story::STOCKOUT_SKU
        ))
        .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_shop() {
    let a = demo_store(Backend::Sqlite).await.unwrap();
    let b = demo_store(Backend::Sqlite).await.unwrap();
    assert_eq!(a.fingerprint().await, b.fingerprint().await);
    let other = TestStore::new(Backend::Sqlite, dawnpost::config::DEMO_CONFIG)
        .await
        .unwrap();
    let o = DemoOptions {
        seed: 8,
        ..options()
    };
    demo::generate(&other.store, &o, other.config.shop.timezone, false)
        .await
        .unwrap();
    assert_ne!(a.fingerprint().await, other.fingerprint().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_refuses_to_replace_real_data() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let err = demo::generate(&t.store, &options(), t.config.shop.timezone, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--force"), "{err:#}");
    assert_eq!(t.store.count("orders").await.unwrap(), 11);
}

/// The references hold. On SQLite, every one (`PRAGMA foreign_key_check`). On PostgreSQL,
/// where the demo writes without its foreign keys and makes them again at the end, the
/// order and product of every line and the order of every shipment and return, by SQL of
/// the test's own.
async fn assert_keys_hold(t: &TestStore, b: Backend) {
    let broken = match b {
        Backend::Sqlite => sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(t.store.pool())
            .await
            .unwrap()
            .len(),
        Backend::Postgres => {
            let sql = "SELECT COUNT(*) FROM ( \
                       SELECT l.order_id, l.sku FROM order_lines l \
                       UNION ALL SELECT order_id, NULL FROM fulfilment \
                       UNION ALL SELECT order_id, sku FROM returns) r \
                       LEFT JOIN orders o ON o.order_id = r.order_id \
                       LEFT JOIN products p ON p.sku = r.sku \
                       WHERE o.order_id IS NULL OR (r.sku IS NOT NULL AND p.sku IS NULL)";
            t.scalar(sql).await.unwrap() as usize
        }
    };
    assert_eq!(broken, 0, "rows whose references do not resolve");
    assert!(t.scalar("SELECT COUNT(*) FROM order_lines").await.unwrap() > 0.0);
}

/// Every index, trigger and foreign key of the store, as the catalog spells it.
pub(crate) async fn schema_objects(t: &TestStore, b: Backend) -> Vec<(String, String)> {
    let sql = match b {
        Backend::Sqlite => {
            "SELECT type || ' ' || name, COALESCE(sql, '') FROM sqlite_schema \
             WHERE type IN ('index', 'trigger') ORDER BY 1"
        }
        Backend::Postgres => {
            "SELECT 'index ' || indexname, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() \
             UNION ALL SELECT 'trigger ' || g.tgname, pg_get_triggerdef(g.oid) FROM pg_trigger g \
             JOIN pg_class c ON c.oid = g.tgrelid \
             WHERE NOT g.tgisinternal AND c.relnamespace = current_schema()::regnamespace \
             UNION ALL SELECT 'key ' || conname, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace ORDER BY 1"
        }
    };
    sqlx::query_as(sql).fetch_all(t.store.pool()).await.unwrap()
}

/// The demo sets its tables' indexes, triggers and (on PostgreSQL) foreign keys aside while
/// it writes: afterwards each is back as it was, and does its work.
async fn a_demo_gives_back_every_index_trigger_and_key(b: Backend) {
    let Some(t) = TestStore::new(b, dawnpost::config::DEMO_CONFIG).await else {
        return;
    };
    let before = schema_objects(&t, b).await;
    let triggers = before
        .iter()
        .filter(|(k, _)| k.starts_with("trigger "))
        .count();
    assert!(triggers >= 18, "{before:?}");
    let o = DemoOptions {
        days: 60,
        scale: 0.1,
        ..options()
    };
    // The second demo replaces the first: its deletes run with everything set aside too.
    for _ in 0..2 {
        demo::generate(&t.store, &o, t.config.shop.timezone, true)
            .await
            .unwrap();
        assert_eq!(schema_objects(&t, b).await, before);
        assert_keys_hold(&t, b).await;
    }
    // The keys hold again: a line of an order the store does not have is refused.
    let orphan = sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price) \
         SELECT 'no-such-order', 1, sku, 1, 1.0 FROM products LIMIT 1",
    )
    .execute(t.store.pool())
    .await;
    assert!(
        orphan.is_err(),
        "an order line without its order was written"
    );
    // The triggers mark again: a new order marks its day.
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM rollup_dirty").await,
        Some(0.0)
    );
    sqlx::query(
        "INSERT INTO orders (order_id, placed_at, day, channel, status) \
         VALUES ('after-the-demo', 1700000000, '2001-02-03', 'email', 'placed')",
    )
    .execute(t.store.pool())
    .await
    .unwrap();
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM rollup_dirty WHERE day = '2001-02-03'")
            .await,
        Some(1.0)
    );
}
