//! The daily rollups of orders and lines: kept exact through imports and through rows written
//! by another tool, on both backends.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use dawnpost::metrics::compare::Value;
use dawnpost::metrics::period::ComparisonKind::{self, MonthToDate, PreviousDay};
use dawnpost::store::report;

use crate::support::{Backend, TestStore, both_backends};

both_backends!(
    rollups_follow_every_change,
    shipment_return_refund_and_feedback_rollups_follow_every_change
);

/// Metrics' values on `d` (each one's "vs day before" current value), as the report computes
/// them.
async fn values_on<const N: usize>(t: &TestStore, d: &str, keys: [&str; N]) -> [Value; N] {
    let d: NaiveDate = d.parse().unwrap();
    let r = report::build(&t.store, &t.config, d).await.unwrap();
    keys.map(|key| {
        r.get(key)
            .unwrap()
            .comparisons
            .iter()
            .find(|c| c.kind == PreviousDay)
            .unwrap()
            .current
    })
}

/// Net revenue, units and orders on `d`, through the rollups.
async fn figures(t: &TestStore, d: &str) -> (f64, f64, f64) {
    let keys = ["net_revenue", "units", "orders"];
    let v = values_on(t, d, keys).await.map(|v| match v {
        Value::Value(x) => x,
        other => panic!("{keys:?} on {d}: {other:?}"),
    });
    (v[0], v[1], v[2])
}

#[track_caller]
fn near(got: (f64, f64, f64), want: (f64, f64, f64)) {
    let ok = (got.0 - want.0).abs() < 1e-9 && got.1 == want.1 && got.2 == want.2;
    assert!(ok, "got {got:?}, expected {want:?}");
}

/// The rollup tables, compared with sums this test makes itself from the raw rows in Rust.
async fn assert_rollups_exact(t: &TestStore) {
    let pool = t.store.pool();
    type Order = (
        String,
        String,
        Option<String>,
        f64,
        String,
        Option<String>,
        Option<String>,
    );
    let orders: Vec<Order> = sqlx::query_as(
        "SELECT order_id, day, customer_type, discount, status, customer_id, derived_type FROM orders",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let lines: Vec<(String, String, i64, f64)> =
        sqlx::query_as("SELECT order_id, sku, quantity, unit_price FROM order_lines")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut by_day: BTreeMap<String, (i64, i64, f64, i64)> = BTreeMap::new();
    let mut day_of = BTreeMap::new();
    for (id, day, kind, discount, status, customer, derived) in &orders {
        if status == "cancelled" {
            continue;
        }
        day_of.insert(id.clone(), day.clone());
        // The file's type; else a guest when there is no customer; else the history's.
        let guest = kind.is_none() && customer.is_none();
        let new = match (kind, derived) {
            (Some(k), _) => k == "new",
            (None, _) if guest => false,
            (None, Some(d)) => d == "new",
            (None, None) => true,
        };
        let e = by_day.entry(day.clone()).or_default();
        e.0 += 1;
        e.1 += i64::from(new);
        e.2 += discount;
        e.3 += i64::from(guest);
    }
    let mut by_sku: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
    for (id, sku, qty, price) in &lines {
        if let Some(day) = day_of.get(id) {
            let e = by_sku.entry((day.clone(), sku.clone())).or_default();
            e.0 += qty;
            e.1 += *qty as f64 * price;
        }
    }

    let got: Vec<(String, i64, i64, f64, i64)> = sqlx::query_as(
        "SELECT day, orders, new_orders, discount, guests FROM order_daily ORDER BY day",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    same_rows(
        "order_daily",
        &got.into_iter()
            .map(|(d, n, new, x, g)| ((d, n, new, g), x))
            .collect::<Vec<_>>(),
        &by_day
            .into_iter()
            .map(|(d, (n, new, x, g))| ((d, n, new, g), x))
            .collect::<Vec<_>>(),
    );
    let got: Vec<(String, String, i64, f64)> =
        sqlx::query_as("SELECT day, sku, units, revenue FROM sales_daily ORDER BY day, sku")
            .fetch_all(pool)
            .await
            .unwrap();
    same_rows(
        "sales_daily",
        &got.into_iter()
            .map(|(d, s, u, r)| ((d, s, u), r))
            .collect::<Vec<_>>(),
        &by_sku
            .into_iter()
            .map(|((d, s), (u, r))| ((d, s, u), r))
            .collect::<Vec<_>>(),
    );
}

/// Rows equal in their exact part and within rounding in their money.
#[track_caller]
fn same_rows<K: PartialEq + std::fmt::Debug>(table: &str, got: &[(K, f64)], want: &[(K, f64)]) {
    let same = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.0 == w.0 && (g.1 - w.1).abs() < 1e-9);
    assert!(same, "{table}: {got:?}\nexpected {want:?}");
}

async fn dirty_days(t: &TestStore) -> i64 {
    dawnpost::store::rollup::stale_days(&t.store).await.unwrap()
}

async fn import(t: &TestStore, table: &str, csv: &str) {
    let path = t.dir.path().join(format!("{table}-edit.csv"));
    std::fs::write(&path, csv).unwrap();
    dawnpost::ingest::import_csv(&t.store, table, &path, t.config.shop.timezone)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
}

async fn exec(t: &TestStore, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(t.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn rollups_follow_every_change(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    // fixtures/small on 1 Mar (New York): O03 10 + 2×15 = 40 (3 units), O04 2×25 = 50
    // (2 units); O05 (5×10) is cancelled. 29 Feb: O01 2×10 = 20, O02 25 - 5 = 20.
    assert_eq!(
        dirty_days(&t).await,
        0,
        "each import refreshes what it marked"
    );
    assert_rollups_exact(&t).await;
    near(figures(&t, "2024-03-01").await, (90.0, 5.0, 2.0));

    // An orders export that cancels O03 and reinstates O05: 50 + 50, 2 + 5 units, 2 orders.
    import(
        &t,
        "orders",
        "order_id,placed_at,channel,customer_id,customer_type,discount,status\n\
         O03,2024-03-01 09:15,paid_search,c3,new,,cancelled\n\
         O05,2024-03-01 12:00:00,organic,c9,new,0,placed\n",
    )
    .await;
    assert_eq!(dirty_days(&t).await, 0);
    assert_rollups_exact(&t).await;
    near(figures(&t, "2024-03-01").await, (100.0, 7.0, 2.0));

    // A corrected line: O04 sold 3 of B, not 2: +25 and +1 unit.
    import(
        &t,
        "order_lines",
        "order_id,sku,quantity,unit_price\nO04,B,3,25.00\n",
    )
    .await;
    assert_rollups_exact(&t).await;
    near(figures(&t, "2024-03-01").await, (125.0, 8.0, 2.0));

    // Another tool writes straight into the store: an order of 1×15 with 2.50 off.
    exec(
        &t,
        "INSERT INTO orders (order_id, placed_at, day, channel, customer_id, customer_type, discount, status) \
         VALUES ('O99', 1709316000, '2024-03-01', 'email', 'c99', 'new', 2.5, 'placed')",
    )
    .await;
    exec(
        &t,
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price) VALUES ('O99', 1, 'C', 1, 15)",
    )
    .await;
    assert_eq!(dirty_days(&t).await, 1, "the triggers mark 1 Mar");
    near(figures(&t, "2024-03-01").await, (137.5, 9.0, 3.0));
    assert_eq!(dirty_days(&t).await, 0, "reading the metrics refreshed it");
    assert_rollups_exact(&t).await;

    // It moves O04 (3×25 = 75) to 29 Feb: 1 Mar loses it and 29 Feb (40) gains it.
    exec(
        &t,
        "UPDATE orders SET day = '2024-02-29' WHERE order_id = 'O04'",
    )
    .await;
    assert_eq!(dirty_days(&t).await, 2, "the old day and the new");
    near(figures(&t, "2024-03-01").await, (62.5, 6.0, 2.0));
    near(figures(&t, "2024-02-29").await, (115.0, 6.0, 3.0));
    assert_rollups_exact(&t).await;

    // And deletes O99: back to O05 alone on 1 Mar.
    exec(&t, "DELETE FROM order_lines WHERE order_id = 'O99'").await;
    exec(&t, "DELETE FROM orders WHERE order_id = 'O99'").await;
    near(figures(&t, "2024-03-01").await, (50.0, 5.0, 1.0));
    assert_rollups_exact(&t).await;

    // Cancelling every order of a day leaves no rollup rows for it: "no data", never 0.
    exec(
        &t,
        "UPDATE orders SET status = 'cancelled' WHERE day = '2024-03-01'",
    )
    .await;
    assert_eq!(
        values_on(&t, "2024-03-01", ["net_revenue"]).await[0],
        Value::NoData
    );
    assert_rollups_exact(&t).await;
}

/// An order on 1 Mar for fixtures/small and its shipment, committed on its own.
async fn add_order(conn: &mut sqlx::AnyConnection, id: &str) {
    sqlx::query(
        "INSERT INTO orders (order_id, placed_at, day, channel, customer_id, customer_type, discount, status) \
         VALUES ($1, 1709316000, '2024-03-01', 'email', 'cw', 'returning', 0, 'placed')",
    )
    .bind(id)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price) VALUES ($1, 1, 'A', 1, 10)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await
    .unwrap();
    // Shipped four hours after it was placed, the same day.
    sqlx::query(
        "INSERT INTO fulfilment (order_id, carrier, shipped_at, ship_day, promised_day) \
         VALUES ($1, 'ParcelCo', 1709330400, '2024-03-01', '2024-03-04')",
    )
    .bind(id)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// PostgreSQL: a refresh that runs while another tool is still writing a day must leave that
/// day marked. Here 1 Mar is already marked when a writer starts; a refresh takes the mark
/// and commits before the writer does; the writer's order must still count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_during_a_write_leaves_the_day_marked() {
    let Some(t) = TestStore::small(Backend::Postgres).await else {
        return;
    };
    let pool = t.store.pool();
    add_order(&mut pool.acquire().await.unwrap(), "E1").await;
    let mut writer = pool.begin().await.unwrap();
    add_order(&mut writer, "E2").await;
    let mut refresh = pool.begin().await.unwrap();
    let days = dawnpost::store::rollup::refresh(&mut refresh, dawnpost::store::Backend::Postgres)
        .await
        .unwrap();
    assert_eq!(days, 1, "the refresh took 1 Mar's committed mark");
    refresh.commit().await.unwrap();
    writer.commit().await.unwrap();
    // The fixture's 90 and 5 units on 1 Mar, plus E1 and E2 at 10 each.
    near(figures(&t, "2024-03-01").await, (110.0, 7.0, 4.0));
    // Shipments on 1 Mar: the fixture's 24 h and 12 h, and E1's and E2's 4 h each.
    is(
        values_on(&t, "2024-03-01", ["fulfilment_hours"]).await[0],
        11.0,
    );
    assert_rollups_exact(&t).await;
    assert_other_rollups_exact(&t).await;
}

/// PostgreSQL: two refreshes never rebuild one day at once. An import-like transaction marks
/// 1 Mar with its own order and rebuilds it, and holds that open while another writer's order
/// marks the day again; a second refresh must wait for the first, then rebuild on top of it
/// (without the wait, its insert of 1 Mar would collide with the first's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_of_one_day_take_turns() {
    let Some(t) = TestStore::small(Backend::Postgres).await else {
        return;
    };
    let t = std::sync::Arc::new(t);
    let pool = t.store.pool().clone();
    let mut first = pool.begin().await.unwrap();
    add_order(&mut first, "E1").await;
    let days = dawnpost::store::rollup::refresh(&mut first, dawnpost::store::Backend::Postgres)
        .await
        .unwrap();
    assert_eq!(days, 1, "its own mark");
    add_order(&mut pool.acquire().await.unwrap(), "E2").await;
    let second = {
        let t = t.clone();
        tokio::spawn(async move { dawnpost::store::rollup::refresh_if_stale(&t.store).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second refresh waits for the first"
    );
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap().unwrap(), 1);
    near(figures(&t, "2024-03-01").await, (110.0, 7.0, 4.0));
    assert_rollups_exact(&t).await;
    assert_other_rollups_exact(&t).await;
}

/// PostgreSQL: a reload by TRUNCATE (which fires no delete trigger) empties the rollups of the
/// days it removed, and the days loaded again count afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncate_and_reload_leaves_no_stale_day() {
    let Some(t) = TestStore::small(Backend::Postgres).await else {
        return;
    };
    exec(&t, "TRUNCATE order_lines, orders CASCADE").await;
    let pool = t.store.pool();
    add_order(&mut pool.acquire().await.unwrap(), "E1").await;
    // 1 Mar holds E1 alone (10); 29 Feb, whose orders are gone, has no data.
    near(figures(&t, "2024-03-01").await, (10.0, 1.0, 1.0));
    // Its shipment alone: 4 hours (the fixture's went with the TRUNCATE's CASCADE).
    is(
        values_on(&t, "2024-03-01", ["fulfilment_hours"]).await[0],
        4.0,
    );
    assert_other_rollups_exact(&t).await;
    assert_eq!(
        values_on(&t, "2024-02-29", ["net_revenue"]).await[0],
        Value::NoData
    );
    assert_rollups_exact(&t).await;
}

/// One breakdown value of a metric on `d`.
async fn dim_on(t: &TestStore, d: &str, key: &str, dim: &str, kind: ComparisonKind) -> Value {
    let r = report::build(&t.store, &t.config, d.parse().unwrap())
        .await
        .unwrap();
    let m = r.get(key).unwrap();
    m.breakdown
        .iter()
        .find(|b| b.value == dim)
        .map_or(Value::NoData, |b| {
            b.comparisons
                .iter()
                .find(|c| c.kind == kind)
                .unwrap()
                .current
        })
}

#[track_caller]
fn is(v: Value, want: f64) {
    match v {
        Value::Value(x) => assert!((x - want).abs() < 1e-9, "got {x}, expected {want}"),
        other => panic!("got {other:?}, expected {want}"),
    }
}

/// Every rollup but the two above, against rows this test sums itself from the raw tables.
async fn assert_other_rollups_exact(t: &TestStore) {
    let pool = t.store.pool();
    type Order = (String, i64, String, String, String);
    let orders: Vec<Order> =
        sqlx::query_as("SELECT order_id, placed_at, day, channel, status FROM orders")
            .fetch_all(pool)
            .await
            .unwrap();
    let order = |id: &str| orders.iter().find(|o| o.0 == id).unwrap().clone();
    let lines: Vec<(String, i64)> = sqlx::query_as("SELECT order_id, quantity FROM order_lines")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut channels: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (id, _, day, channel, status) in &orders {
        if status != "cancelled" {
            let e = channels.entry((day.clone(), channel.clone())).or_default();
            e.0 += 1;
            e.1 += lines
                .iter()
                .filter(|l| &l.0 == id)
                .map(|l| l.1)
                .sum::<i64>();
        }
    }
    let got: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT day, channel, orders, units FROM channel_daily ORDER BY day, channel",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let want: Vec<_> = channels
        .into_iter()
        .map(|((d, c), (n, u))| (d, c, n, u))
        .collect();
    assert_eq!(got, want, "channel_daily");

    type Shipment = (
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let shipments: Vec<Shipment> = sqlx::query_as(
        "SELECT order_id, shipped_at, ship_day, delivery_day, promised_day FROM fulfilment",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    // day -> shipped, seconds, within 24 h, delivered, promised, on time
    let mut days: BTreeMap<String, [i64; 6]> = BTreeMap::new();
    for (id, shipped_at, ship_day, delivery_day, promised) in &shipments {
        if let (Some(day), Some(at)) = (ship_day, shipped_at) {
            let secs = at - order(id).1;
            let e = days.entry(day.clone()).or_default();
            e[0] += 1;
            e[1] += secs;
            e[2] += i64::from(secs <= 86_400);
        }
        if let Some(day) = delivery_day {
            let e = days.entry(day.clone()).or_default();
            e[3] += 1;
            if let Some(p) = promised {
                e[4] += 1;
                e[5] += i64::from(day <= p);
            }
        }
    }
    type Day = (String, i64, Option<i64>, i64, i64, i64, i64);
    let got: Vec<Day> = sqlx::query_as(
        "SELECT day, shipped, ship_seconds, shipped_24h, delivered, promised, on_time \
         FROM fulfilment_daily ORDER BY day",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let want: Vec<_> = days
        .into_iter()
        .map(|(d, e)| (d, e[0], (e[0] > 0).then_some(e[1]), e[2], e[3], e[4], e[5]))
        .collect();
    assert_eq!(got, want, "fulfilment_daily");

    let returns: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT order_id, sku, day, quantity FROM returns")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut by_key: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (id, sku, day, qty) in returns {
        *by_key.entry((day, sku, order(&id).3)).or_default() += qty;
    }
    let got: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT day, sku, channel, units FROM returns_daily ORDER BY day, sku, channel",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let want: Vec<_> = by_key
        .into_iter()
        .map(|((d, s, c), u)| (d, s, c, u))
        .collect();
    assert_eq!(got, want, "returns_daily");

    let refunds: Vec<(String, f64)> = sqlx::query_as("SELECT day, amount FROM refunds")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut by_day: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for (day, amount) in refunds {
        let e = by_day.entry(day).or_default();
        e.0 += 1;
        e.1 += amount;
    }
    let got: Vec<(String, i64, f64)> =
        sqlx::query_as("SELECT day, refunds, amount FROM refunds_daily ORDER BY day")
            .fetch_all(pool)
            .await
            .unwrap();
    same_rows(
        "refunds_daily",
        &got.into_iter()
            .map(|(d, n, a)| ((d, n), a))
            .collect::<Vec<_>>(),
        &by_day
            .into_iter()
            .map(|(d, (n, a))| ((d, n), a))
            .collect::<Vec<_>>(),
    );

    let feedback: Vec<(String, String, String)> =
        sqlx::query_as("SELECT day, theme, sentiment FROM feedback")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut by_theme: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for k in feedback {
        *by_theme.entry(k).or_default() += 1;
    }
    let got: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT day, theme, sentiment, comments FROM feedback_daily ORDER BY day, theme, sentiment",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let want: Vec<_> = by_theme
        .into_iter()
        .map(|((d, t, s), n)| (d, t, s, n))
        .collect();
    assert_eq!(got, want, "feedback_daily");
}

async fn shipment_return_refund_and_feedback_rollups_follow_every_change(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    // fixtures/small (New York): O01, placed 29 Feb 10:00, shipped 1 Mar 10:00 (24 h);
    // O02 placed 04:30Z, shipped 16:30Z on 1 Mar (12 h); O03 placed 1 Mar 09:15, shipped
    // 2 Mar 15:15 (30 h). O02 arrived 2 Mar (promised 4 Mar), O01 3 Mar (promised 2 Mar).
    assert_other_rollups_exact(&t).await;
    is(
        values_on(&t, "2024-03-01", ["fulfilment_hours"]).await[0],
        18.0,
    );
    is(
        values_on(&t, "2024-03-02", ["fulfilment_hours"]).await[0],
        30.0,
    );
    is(
        values_on(&t, "2024-03-02", ["shipped_within_24h"]).await[0],
        0.0,
    );
    is(
        values_on(&t, "2024-03-02", ["on_time_delivery"]).await[0],
        1.0,
    );
    is(
        values_on(&t, "2024-03-03", ["on_time_delivery"]).await[0],
        0.0,
    );

    // Another tool places O03 ten hours later: its shipment on 2 Mar (a day its order is
    // not on) is now 20 h, within a day.
    exec(
        &t,
        "UPDATE orders SET placed_at = placed_at + 36000 WHERE order_id = 'O03'",
    )
    .await;
    let [hours, within] =
        values_on(&t, "2024-03-02", ["fulfilment_hours", "shipped_within_24h"]).await;
    is(hours, 20.0);
    is(within, 1.0);
    assert_other_rollups_exact(&t).await;

    // O03 is delivered on 4 Mar, a day before its promise; O01's shipment record is deleted:
    // 1 Mar keeps O02's 12 h, and 3 Mar has no delivery left.
    exec(
        &t,
        "UPDATE fulfilment SET delivered_at = 1709568000, delivery_day = '2024-03-04' WHERE order_id = 'O03'",
    )
    .await;
    exec(&t, "DELETE FROM fulfilment WHERE order_id = 'O01'").await;
    is(
        values_on(&t, "2024-03-04", ["on_time_delivery"]).await[0],
        1.0,
    );
    is(
        values_on(&t, "2024-03-01", ["fulfilment_hours"]).await[0],
        12.0,
    );
    assert_eq!(
        values_on(&t, "2024-03-03", ["on_time_delivery"]).await[0],
        Value::NoData
    );
    assert_other_rollups_exact(&t).await;

    // A return of O01 (an organic order of 29 Feb) on 3 Mar. Organic, month to date on
    // 3 Mar: O04's 1 and O01's 1 returned against O04's 2 units sold in March = 1.0.
    import(
        &t,
        "returns",
        "order_id,sku,day,quantity,reason\nO01,A,2024-03-03,1,damaged\n",
    )
    .await;
    is(
        dim_on(
            &t,
            "2024-03-03",
            "return_rate_by_channel",
            "organic",
            MonthToDate,
        )
        .await,
        1.0,
    );
    // O01 turns out to have come by email: organic keeps 1 of 2; email has 1 returned and
    // sold nothing in March (O02 is on 29 Feb in New York), so it has no rate.
    exec(
        &t,
        "UPDATE orders SET channel = 'email' WHERE order_id = 'O01'",
    )
    .await;
    is(
        dim_on(
            &t,
            "2024-03-03",
            "return_rate_by_channel",
            "organic",
            MonthToDate,
        )
        .await,
        0.5,
    );
    assert_eq!(
        dim_on(
            &t,
            "2024-03-03",
            "return_rate_by_channel",
            "email",
            MonthToDate,
        )
        .await,
        Value::NotApplicable,
    );
    assert_other_rollups_exact(&t).await;

    // A refund of 5 on 1 Mar: net revenue 90 - 5. Moved to 29 Feb (40 - 5), then deleted.
    import(
        &t,
        "refunds",
        "order_id,refund_id,day,amount,units\nO02,R1,2024-03-01,5.00,1\n",
    )
    .await;
    let [net, refunds] = values_on(&t, "2024-03-01", ["net_revenue", "refunds"]).await;
    is(net, 85.0);
    is(refunds, 5.0);
    exec(
        &t,
        "UPDATE refunds SET day = '2024-02-29' WHERE refund_id = 'R1'",
    )
    .await;
    is(values_on(&t, "2024-03-01", ["refunds"]).await[0], 0.0);
    is(values_on(&t, "2024-02-29", ["net_revenue"]).await[0], 35.0);
    assert_other_rollups_exact(&t).await;
    exec(&t, "DELETE FROM refunds").await;
    is(values_on(&t, "2024-02-29", ["refunds"]).await[0], 0.0);
    assert_other_rollups_exact(&t).await;

    // Two negative comments on delivery speed on 1 Mar; one is deleted, one added on sizing.
    is(
        dim_on(
            &t,
            "2024-03-01",
            "negative_feedback_by_theme",
            "delivery speed",
            PreviousDay,
        )
        .await,
        2.0,
    );
    exec(&t, "DELETE FROM feedback WHERE feedback_id = 'F1'").await;
    exec(
        &t,
        "INSERT INTO feedback (feedback_id, day, channel, theme, sentiment, text) \
         VALUES ('F9', '2024-03-01', 'chat', 'sizing', 'negative', 'Too big')",
    )
    .await;
    is(
        dim_on(
            &t,
            "2024-03-01",
            "negative_feedback_by_theme",
            "delivery speed",
            PreviousDay,
        )
        .await,
        1.0,
    );
    is(
        dim_on(
            &t,
            "2024-03-01",
            "negative_feedback_by_theme",
            "sizing",
            PreviousDay,
        )
        .await,
        2.0,
    );
    assert_other_rollups_exact(&t).await;

    if b == Backend::Postgres {
        // TRUNCATE fires no delete trigger: the rollups of every day are rebuilt, empty.
        exec(&t, "TRUNCATE fulfilment, returns, refunds, feedback").await;
        assert_eq!(
            values_on(&t, "2024-03-01", ["fulfilment_hours"]).await[0],
            Value::NoData
        );
        assert_other_rollups_exact(&t).await;
        for table in [
            "fulfilment_daily",
            "returns_daily",
            "refunds_daily",
            "feedback_daily",
        ] {
            assert_eq!(
                t.scalar(&format!("SELECT COUNT(*) FROM {table}")).await,
                Some(0.0),
                "{table}"
            );
        }
    }
}
