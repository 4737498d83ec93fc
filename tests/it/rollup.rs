//! The daily rollups of orders and lines: kept exact through imports and through rows written
//! by another tool, on both backends.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use dawnpost::compare::Value;
use dawnpost::period::ComparisonKind::PreviousDay;
use dawnpost::report;

use crate::support::{Backend, TestStore, both_backends};

both_backends!(rollups_follow_every_change);

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
    let orders: Vec<(String, String, String, f64, String)> =
        sqlx::query_as("SELECT order_id, day, customer_type, discount, status FROM orders")
            .fetch_all(pool)
            .await
            .unwrap();
    let lines: Vec<(String, String, i64, f64)> =
        sqlx::query_as("SELECT order_id, sku, quantity, unit_price FROM order_lines")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut by_day: BTreeMap<String, (i64, i64, f64)> = BTreeMap::new();
    let mut day_of = BTreeMap::new();
    for (id, day, kind, discount, status) in &orders {
        if status == "cancelled" {
            continue;
        }
        day_of.insert(id.clone(), day.clone());
        let e = by_day.entry(day.clone()).or_default();
        e.0 += 1;
        e.1 += i64::from(kind == "new");
        e.2 += discount;
    }
    let mut by_sku: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
    for (id, sku, qty, price) in &lines {
        if let Some(day) = day_of.get(id) {
            let e = by_sku.entry((day.clone(), sku.clone())).or_default();
            e.0 += qty;
            e.1 += *qty as f64 * price;
        }
    }

    let got: Vec<(String, i64, i64, f64)> =
        sqlx::query_as("SELECT day, orders, new_orders, discount FROM order_daily ORDER BY day")
            .fetch_all(pool)
            .await
            .unwrap();
    same_rows(
        "order_daily",
        &got.into_iter()
            .map(|(d, n, new, x)| ((d, n, new), x))
            .collect::<Vec<_>>(),
        &by_day
            .into_iter()
            .map(|(d, (n, new, x))| ((d, n, new), x))
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
    dawnpost::rollup::stale_days(&t.store).await.unwrap()
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

/// An order on 1 Mar for fixtures/small, committed on its own.
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
    let days = dawnpost::rollup::refresh(&mut refresh, dawnpost::store::Backend::Postgres)
        .await
        .unwrap();
    assert_eq!(days, 1, "the refresh took 1 Mar's committed mark");
    refresh.commit().await.unwrap();
    writer.commit().await.unwrap();
    // The fixture's 90 and 5 units on 1 Mar, plus E1 and E2 at 10 each.
    near(figures(&t, "2024-03-01").await, (110.0, 7.0, 4.0));
    assert_rollups_exact(&t).await;
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
    let days = dawnpost::rollup::refresh(&mut first, dawnpost::store::Backend::Postgres)
        .await
        .unwrap();
    assert_eq!(days, 1, "its own mark");
    add_order(&mut pool.acquire().await.unwrap(), "E2").await;
    let second = {
        let t = t.clone();
        tokio::spawn(async move { dawnpost::rollup::refresh_if_stale(&t.store).await })
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
    assert_eq!(
        values_on(&t, "2024-02-29", ["net_revenue"]).await[0],
        Value::NoData
    );
    assert_rollups_exact(&t).await;
}
