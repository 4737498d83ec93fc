//! Daily rollups of orders and order lines: rebuilding the days the store's triggers mark.
//!
//! `order_daily` (orders, new orders, discounts per day) and `sales_daily` (units and revenue
//! per day and SKU) hold what most metrics would otherwise sum from every order line of a
//! period. Triggers on `orders` and `order_lines` (migrations/*/0004_rollups.sql) mark each
//! day they touch in `rollup_dirty`, whoever writes; [`refresh`] rebuilds exactly those days
//! from the raw rows. So a rollup is a pure function of the raw rows once refreshed, never an
//! incremental sum that could drift.

use anyhow::{Context, Result};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::store::{Backend, Store};

/// Days rebuilt per statement: small enough that one statement stays short on a busy shop
/// (sqlx warns of statements over a second), large enough to amortise the round trips.
const CHUNK: usize = 7;

/// PostgreSQL advisory lock that serialises refreshes (an arbitrary constant, "dawnpost
/// rollups"): two refreshes of one day at once would each insert its rows.
const PG_REFRESH_LOCK: i64 = 0x6461_776e_726f_6c6c;

/// Rebuilds the rollups for every marked day, on `conn` and inside its transaction, and
/// returns how many days that was.
///
/// Refreshes take turns (SQLite has one writer; PostgreSQL takes an advisory lock held to the
/// end of the transaction). The marks are taken before the rebuild, and only committed marks
/// (and this transaction's own) are visible: a writer still at work keeps its mark for the
/// next refresh, and every mark taken belongs to rows the rebuild can see.
pub async fn refresh(conn: &mut AnyConnection, backend: Backend) -> Result<usize> {
    let started = std::time::Instant::now();
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_REFRESH_LOCK)
            .execute(&mut *conn)
            .await
            .context("cannot take the rollup refresh lock")?;
    }
    let mut days: Vec<String> = sqlx::query("DELETE FROM rollup_dirty RETURNING day")
        .fetch_all(&mut *conn)
        .await
        .context(
            "cannot take the days whose rollups are stale: this step writes to the store \
             (is another process writing to it?)",
        )?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    // PostgreSQL keeps every mark, so a day can come back several times.
    days.sort_unstable();
    days.dedup();
    for chunk in days.chunks(CHUNK) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let statements = [
            format!("DELETE FROM order_daily WHERE day IN ({list})"),
            format!("DELETE FROM sales_daily WHERE day IN ({list})"),
            format!(
                "INSERT INTO order_daily (day, orders, new_orders, discount) \
                 SELECT day, COUNT(*), SUM(CASE WHEN COALESCE(customer_type, derived_type, 'new') = 'new' THEN 1 ELSE 0 END), \
                 SUM(discount) FROM orders \
                 WHERE day IN ({list}) AND status <> 'cancelled' GROUP BY day"
            ),
            format!(
                "INSERT INTO sales_daily (day, sku, units, revenue) \
                 SELECT o.day, l.sku, SUM(l.quantity), SUM(l.quantity * l.unit_price) \
                 FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
                 WHERE o.day IN ({list}) AND o.status <> 'cancelled' GROUP BY o.day, l.sku"
            ),
        ];
        for sql in statements {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for day in chunk {
                q = q.bind(day.as_str());
            }
            q.execute(&mut *conn)
                .await
                .context("cannot rebuild the daily rollups")?;
        }
    }
    tracing::debug!(
        days = days.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "rollups rebuilt"
    );
    Ok(days.len())
}

/// How many days are marked for a rebuild (PostgreSQL may mark one day several times).
pub async fn stale_days(store: &Store) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(DISTINCT day) FROM rollup_dirty")
        .fetch_one(store.reader())
        .await
        .with_context(|| format!("cannot check the rollups of {store}"))
}

/// Refreshes the rollups in a transaction of their own if any day is marked: before metrics
/// are read, so that rows written by another tool count too.
pub async fn refresh_if_stale(store: &Store) -> Result<usize> {
    let stale = sqlx::query("SELECT 1 FROM rollup_dirty LIMIT 1")
        .fetch_optional(store.reader())
        .await
        .with_context(|| format!("cannot check the rollups of {store}"))?
        .is_some();
    if !stale {
        return Ok(0);
    }
    let mut tx = store
        .pool()
        .begin()
        .await
        .with_context(|| format!("cannot start a write to rebuild the rollups of {store}"))?;
    let days = refresh(&mut tx, store.backend()).await?;
    tx.commit()
        .await
        .with_context(|| format!("cannot commit the rollups of {store}"))?;
    Ok(days)
}
