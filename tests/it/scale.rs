//! Work that does not grow with the orders: every built-in metric reads rollups and small
//! tables only (by its text and by SQLite's query plan), and equals independent SQL over the
//! raw rows on demo stores of two sizes, on both backends.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use dawnpost::demo::{self, DemoOptions};
use dawnpost::metrics::compare::Series;
use dawnpost::metrics::metric::{Aggregate, Catalog};

use crate::support::{Backend, TestStore, both_backends};

/// The tables that grow with the orders, as this test names them.
const RAW: [&str; 6] = [
    "orders",
    "order_lines",
    "fulfilment",
    "returns",
    "refunds",
    "feedback",
];

/// The tables named after FROM or JOIN in `sql`.
fn tables_read(sql: &str) -> Vec<String> {
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words
        .windows(2)
        .filter(|w| w[0] == "from" || w[0] == "join")
        .map(|w| w[1].clone())
        .collect()
}

#[test]
fn no_builtin_metric_names_a_table_that_grows_with_the_orders() {
    let catalog = Catalog::builtin();
    let mut offenders = Vec::new();
    for m in catalog.iter() {
        let read = tables_read(&m.sql);
        assert!(!read.is_empty(), "{}: no table found in its SQL", m.key);
        for t in read {
            if RAW.contains(&t.as_str()) {
                offenders.push(format!("{} reads {t}", m.key));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
    // The test's reader finds raw tables where they are.
    assert_eq!(
        tables_read("SELECT 1 FROM orders o JOIN order_lines l ON x"),
        ["orders", "order_lines"]
    );
}

/// The tables (and the tables of the indexes) SQLite opens to run `sql` over October: every
/// `OpenRead` of its bytecode, by root page. A plan shows aliases; the bytecode cannot hide.
async fn tables_opened(t: &TestStore, sql: &str) -> std::collections::BTreeSet<String> {
    use sqlx::Row;
    let pool = t.store.pool();
    let roots: BTreeMap<i64, String> =
        sqlx::query_as("SELECT rootpage, tbl_name FROM sqlite_schema WHERE rootpage > 0")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let program = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
        .bind("2026-10-01")
        .bind("2026-10-31")
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    program
        .iter()
        .filter(|op| op.get::<String, _>(1) == "OpenRead")
        .map(|op| {
            let root: i64 = op.get(3);
            roots
                .get(&root)
                .cloned()
                .unwrap_or_else(|| format!("page {root}"))
        })
        .collect()
}

/// SQLite's program for every built-in metric opens no raw table or index of one: the rows
/// it reads are rollup rows, a bounded number per day, whatever the order count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_builtin_metric_opens_a_raw_table() {
    let Some(t) = demo_store(Backend::Sqlite, 1.0, 60).await else {
        return;
    };
    // The check sees raw reads where they are: the first reference reads orders and lines.
    let raw = tables_opened(&t, REFERENCES[0].1).await;
    assert!(
        raw.contains("orders") && raw.contains("order_lines"),
        "{raw:?}"
    );
    let mut offenders = Vec::new();
    for m in t.config.catalog.iter().filter(|m| m.builtin) {
        let opened = tables_opened(&t, &m.sql).await;
        assert!(!opened.is_empty(), "{}: opens nothing", m.key);
        for table in opened {
            if RAW.contains(&table.as_str()) || table.starts_with("page ") {
                offenders.push(format!("{} opens {table}", m.key));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Independent SQL over the raw rows for every built-in metric that reads a rollup: the
/// metric's definition before the rollups, returning day, dim, num and den per row.
const REFERENCES: [(&str, &str); 25] = [
    (
        "net_revenue",
        "SELECT o.day AS day, NULL AS dim, l.quantity * l.unit_price AS num, 0 AS den FROM orders o \
         JOIN order_lines l ON l.order_id = o.order_id WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, -discount, 0 FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, -amount, 0 FROM refunds WHERE day BETWEEN $1 AND $2",
    ),
    (
        "refunds",
        "SELECT day, NULL AS dim, amount AS num, 0 AS den FROM refunds WHERE day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, 0, 0 FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "orders",
        "SELECT day, NULL AS dim, 1 AS num, 0 AS den FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "orders_by_channel",
        "SELECT day, channel AS dim, 1 AS num, 0 AS den FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "units",
        "SELECT o.day AS day, NULL AS dim, l.quantity AS num, 0 AS den FROM orders o JOIN order_lines l \
         ON l.order_id = o.order_id WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2",
    ),
    (
        "aov",
        "SELECT o.day AS day, NULL AS dim, l.quantity * l.unit_price AS num, 0 AS den FROM orders o \
         JOIN order_lines l ON l.order_id = o.order_id WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, -discount, 1 FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "conversion_rate",
        "SELECT day, NULL AS dim, 1 AS num, 0 AS den FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, 0, sessions FROM traffic WHERE day BETWEEN $1 AND $2",
    ),
    (
        "cart_abandonment_rate",
        "SELECT day, NULL AS dim, add_to_carts AS num, add_to_carts AS den FROM traffic \
         WHERE add_to_carts IS NOT NULL AND day BETWEEN $1 AND $2 \
         UNION ALL SELECT o.day, NULL, -1, 0 FROM orders o WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 \
         AND o.day IN (SELECT day FROM traffic WHERE add_to_carts IS NOT NULL)",
    ),
    (
        "new_customers",
        "SELECT day, NULL AS dim, 1 AS num, 0 AS den FROM orders WHERE status <> 'cancelled' \
         AND NOT (customer_type IS NULL AND customer_id IS NULL) \
         AND COALESCE(customer_type, derived_type, 'new') = 'new' AND day BETWEEN $1 AND $2",
    ),
    (
        "guest_orders",
        "SELECT day, NULL AS dim, CASE WHEN customer_type IS NULL AND customer_id IS NULL \
         THEN 1 ELSE 0 END AS num, 0 AS den FROM orders WHERE status <> 'cancelled' \
         AND day BETWEEN $1 AND $2",
    ),
    (
        "repeat_purchase_rate",
        "SELECT day, NULL AS dim, CASE WHEN COALESCE(customer_type, derived_type, 'new') = 'new' THEN 0 ELSE 1 END AS num, \
         1 AS den FROM orders WHERE status <> 'cancelled' \
         AND NOT (customer_type IS NULL AND customer_id IS NULL) AND day BETWEEN $1 AND $2",
    ),
    (
        "roas",
        "SELECT o.day AS day, NULL AS dim, l.quantity * l.unit_price AS num, 0 AS den FROM orders o \
         JOIN order_lines l ON l.order_id = o.order_id WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, -discount, 0 FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, 0, spend FROM ad_spend WHERE day BETWEEN $1 AND $2",
    ),
    (
        "cac",
        "SELECT day, NULL AS dim, spend AS num, 0 AS den FROM ad_spend WHERE day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, NULL, 1 FROM orders WHERE status <> 'cancelled' \
         AND COALESCE(customer_type, derived_type, 'new') = 'new' AND day BETWEEN $1 AND $2",
    ),
    (
        "gross_margin",
        "SELECT o.day AS day, NULL AS dim, l.quantity * (l.unit_price - p.unit_cost) AS num, l.quantity * l.unit_price AS den \
         FROM orders o JOIN order_lines l ON l.order_id = o.order_id JOIN products p ON p.sku = l.sku \
         WHERE o.status <> 'cancelled' AND p.unit_cost IS NOT NULL AND o.day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, -discount, -discount FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "discount_rate",
        "SELECT o.day AS day, NULL AS dim, 0 AS num, l.quantity * l.unit_price AS den FROM orders o \
         JOIN order_lines l ON l.order_id = o.order_id WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, discount, 0 FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2",
    ),
    (
        "promo_sell_through",
        "SELECT i.day AS day, NULL AS dim, 0 AS num, i.on_hand AS den FROM inventory i \
         JOIN campaign_skus cs ON cs.sku = i.sku JOIN campaigns c ON c.campaign = cs.campaign \
         WHERE i.day BETWEEN $1 AND $2 AND i.day BETWEEN c.start_day AND c.end_day \
         UNION ALL \
         SELECT i.day, NULL, l.quantity, l.quantity FROM inventory i \
         JOIN campaign_skus cs ON cs.sku = i.sku JOIN campaigns c ON c.campaign = cs.campaign \
         JOIN order_lines l ON l.sku = i.sku JOIN orders o ON o.order_id = l.order_id \
         WHERE i.day BETWEEN $1 AND $2 AND i.day BETWEEN c.start_day AND c.end_day \
         AND o.status <> 'cancelled' AND o.day >= c.start_day AND o.day <= i.day",
    ),
    (
        "promo_days_of_cover",
        "SELECT i.day AS day, i.sku AS dim, i.on_hand AS num, 0 AS den FROM inventory i \
         JOIN campaign_skus cs ON cs.sku = i.sku JOIN campaigns c ON c.campaign = cs.campaign \
         WHERE i.day BETWEEN $1 AND $2 AND i.day BETWEEN c.start_day AND c.end_day \
         UNION ALL \
         SELECT o.day, l.sku, 0, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
         JOIN campaign_skus cs ON cs.sku = l.sku JOIN campaigns c ON c.campaign = cs.campaign \
         WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2 AND o.day BETWEEN c.start_day AND c.end_day",
    ),
    (
        "return_rate",
        "SELECT day, NULL AS dim, quantity AS num, 0 AS den FROM returns WHERE day BETWEEN $1 AND $2 \
         UNION ALL SELECT o.day, NULL, 0, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
         WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2",
    ),
    (
        "return_rate_by_product",
        "SELECT day, sku AS dim, quantity AS num, 0 AS den FROM returns WHERE day BETWEEN $1 AND $2 \
         UNION ALL SELECT o.day, l.sku, 0, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
         WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2",
    ),
    (
        "return_rate_by_channel",
        "SELECT r.day AS day, o.channel AS dim, r.quantity AS num, 0 AS den FROM returns r \
         JOIN orders o ON o.order_id = r.order_id WHERE r.day BETWEEN $1 AND $2 \
         UNION ALL SELECT o.day, o.channel, 0, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
         WHERE o.status <> 'cancelled' AND o.day BETWEEN $1 AND $2",
    ),
    (
        "fulfilment_hours",
        "SELECT f.ship_day AS day, NULL AS dim, (f.shipped_at - o.placed_at) / 3600.0 AS num, 1 AS den \
         FROM fulfilment f JOIN orders o ON o.order_id = f.order_id WHERE f.ship_day BETWEEN $1 AND $2",
    ),
    (
        "shipped_within_24h",
        "SELECT f.ship_day AS day, NULL AS dim, CASE WHEN f.shipped_at - o.placed_at <= 86400 THEN 1 ELSE 0 END AS num, \
         1 AS den FROM fulfilment f JOIN orders o ON o.order_id = f.order_id WHERE f.ship_day BETWEEN $1 AND $2",
    ),
    (
        "on_time_delivery",
        "SELECT delivery_day AS day, NULL AS dim, CASE WHEN delivery_day <= promised_day THEN 1 ELSE 0 END AS num, \
         1 AS den FROM fulfilment WHERE promised_day IS NOT NULL AND delivery_day BETWEEN $1 AND $2",
    ),
    (
        "capacity_utilisation",
        "SELECT day, NULL AS dim, 1 AS num, 0 AS den FROM orders WHERE status <> 'cancelled' AND day BETWEEN $1 AND $2 \
         UNION ALL SELECT day, NULL, 0, orders FROM capacity WHERE day BETWEEN $1 AND $2",
    ),
    (
        "negative_feedback_by_theme",
        "SELECT day, theme AS dim, 1 AS num, 0 AS den FROM feedback WHERE sentiment = 'negative' AND day BETWEEN $1 AND $2",
    ),
];

async fn demo_store(b: Backend, scale: f64, days: u32) -> Option<TestStore> {
    let t = TestStore::new(b, dawnpost::config::DEMO_CONFIG).await?;
    let o = DemoOptions {
        end: "2026-11-21".parse().unwrap(),
        days,
        seed: 11,
        scale,
        shop: demo::DemoShop::Northwind,
    };
    demo::generate(&t.store, &o, t.config.shop.timezone, false)
        .await
        .unwrap();
    Some(t)
}

/// The reference's sums per (dim, day), with the test's own grouping. A day whose sum is
/// NULL carries no value, and is left out as the metric leaves it out.
async fn reference(
    t: &TestStore,
    sql: &str,
    first: &str,
    last: &str,
) -> BTreeMap<(String, NaiveDate), (f64, f64)> {
    type Row = (String, Option<String>, Option<f64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(r.day AS TEXT), CAST(r.dim AS TEXT), CAST(SUM(r.num) AS DOUBLE PRECISION), \
         CAST(SUM(r.den) AS DOUBLE PRECISION) FROM ({sql}) r GROUP BY r.day, r.dim"
    )))
    .bind(first)
    .bind(last)
    .fetch_all(t.store.pool())
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .filter_map(|(day, dim, num, den)| {
            let dim = dim.unwrap_or_default();
            Some(((dim, day.parse().unwrap()), (num?, den.unwrap_or(0.0))))
        })
        .collect()
}

#[track_caller]
fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

both_backends!(rollup_metrics_equal_raw_sql_at_two_sizes);

async fn rollup_metrics_equal_raw_sql_at_two_sizes(b: Backend) {
    let catalog = Catalog::builtin();
    // Every metric that reads a rollup has a reference; the others read small tables only.
    for m in catalog.iter() {
        let reads_rollup = tables_read(&m.sql).iter().any(|t| t.ends_with("_daily"));
        let has_reference = REFERENCES.iter().any(|(k, _)| *k == m.key);
        assert_eq!(reads_rollup, has_reference, "{}", m.key);
    }
    for scale in [1.0, 3.0] {
        let Some(t) = demo_store(b, scale, 90).await else {
            return;
        };
        let (first, last) = ("2026-08-24", "2026-11-21");
        let mut compared = 0;
        for (key, sql) in REFERENCES {
            let m = catalog.get(key).unwrap();
            let mut got: BTreeMap<Option<String>, Series> = BTreeMap::new();
            t.store
                .metric_series(
                    m,
                    &[(first.parse().unwrap(), last.parse().unwrap())],
                    &mut got,
                )
                .await
                .unwrap();
            let got: BTreeMap<(String, NaiveDate), (f64, f64)> = got
                .into_iter()
                .flat_map(|(dim, s)| {
                    let dim = dim.unwrap_or_default();
                    s.days
                        .into_iter()
                        .map(move |(day, r)| ((dim.clone(), day), (r.num, r.den)))
                })
                .collect();
            let want = reference(&t, sql, first, last).await;
            assert!(!want.is_empty(), "{key} at scale {scale}: no rows");
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{key} at scale {scale}: the same days and breakdowns"
            );
            let ratio = m.aggregate == Aggregate::Ratio;
            for (k, (num, den)) in &want {
                let (gnum, gden) = got[k];
                assert!(
                    near(gnum, *num) && (!ratio || near(gden, *den)),
                    "{key} at scale {scale}, {k:?}: {gnum}/{gden}, expected {num}/{den}"
                );
            }
            compared += want.len();
        }
        assert!(compared > 3000, "{compared} values compared");
    }
}
