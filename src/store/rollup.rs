//! Daily rollups: rebuilding the days the store's triggers mark.
//!
//! Every table that grows with the orders has a daily rollup that metrics read instead of the
//! raw rows: `order_daily` and `sales_daily` (migrations/*/0004_rollups.sql), `channel_daily`,
//! `fulfilment_daily`, `returns_daily`, `refunds_daily` and `feedback_daily` (0008). Triggers on
//! the raw tables mark each day a change touches in `rollup_dirty`, whoever writes; [`refresh`]
//! rebuilds every rollup of exactly those days from the raw rows. So a rollup is a pure
//! function of the raw rows once refreshed, never an incremental sum that could drift.
//!
//! A bulk load that rewrites a whole store sets its tables' triggers aside
//! ([`crate::store::SetAside`]) and rebuilds every day once at its end ([`rebuild_all`]).

use anyhow::{Context, Result};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::store::{Backend, Store};

/// Days rebuilt per statement: small enough that one statement stays short on a busy shop
/// (sqlx warns of statements over a second), large enough to amortise the round trips.
const CHUNK: usize = 7;

/// PostgreSQL advisory lock that serialises refreshes (an arbitrary constant, "dawnpost
/// rollups"): two refreshes of one day at once would each insert its rows.
const PG_REFRESH_LOCK: i64 = 0x6461_776e_726f_6c6c;

/// Each rollup and the query that rebuilds its rows for the days `{days}` (a list of
/// parameters) from the raw rows. Cancelled orders never count, as in every metric; shipments,
/// returns, refunds and feedback count whatever became of the order, as the metrics always did.
const REBUILDS: [Rebuild; 7] = [
    Rebuild {
        table: "order_daily",
        columns: "(day, orders, new_orders, discount, guests)",
        // A guest (no customer, and no type from the file) is not a new customer: an
        // export of mostly guest checkouts would otherwise count every one as new.
        select: "SELECT day, COUNT(*), \
         SUM(CASE WHEN COALESCE(customer_type, CASE WHEN customer_id IS NULL THEN 'guest' END, \
           derived_type, 'new') = 'new' THEN 1 ELSE 0 END), \
         SUM(discount), \
         SUM(CASE WHEN customer_type IS NULL AND customer_id IS NULL THEN 1 ELSE 0 END) \
         FROM orders WHERE day IN ({days}) AND status <> 'cancelled' GROUP BY day",
    },
    Rebuild {
        table: "sales_daily",
        columns: "(day, sku, units, revenue)",
        select: "SELECT o.day, l.sku, SUM(l.quantity), SUM(l.quantity * l.unit_price) \
         FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
         WHERE o.day IN ({days}) AND o.status <> 'cancelled' GROUP BY o.day, l.sku",
    },
    // An order without lines still counts as an order of its channel.
    Rebuild {
        table: "channel_daily",
        columns: "(day, channel, orders, units)",
        select: "SELECT day, channel, COUNT(*), COALESCE(SUM(units), 0) FROM ( \
           SELECT o.day, o.channel, \
             (SELECT SUM(l.quantity) FROM order_lines l WHERE l.order_id = o.order_id) AS units \
           FROM orders o WHERE o.day IN ({days}) AND o.status <> 'cancelled') t \
         GROUP BY day, channel",
    },
    // Shipments on their ship day, deliveries on their delivery day: one row per day of either.
    Rebuild {
        table: "fulfilment_daily",
        columns: "(day, shipped, ship_seconds, shipped_24h, delivered, promised, on_time)",
        select: "SELECT day, SUM(shipped), SUM(ship_seconds), SUM(shipped_24h), SUM(delivered), \
           SUM(promised), SUM(on_time) FROM ( \
           SELECT f.ship_day AS day, 1 AS shipped, f.shipped_at - o.placed_at AS ship_seconds, \
             CASE WHEN f.shipped_at - o.placed_at <= 86400 THEN 1 ELSE 0 END AS shipped_24h, \
             0 AS delivered, 0 AS promised, 0 AS on_time \
           FROM fulfilment f JOIN orders o ON o.order_id = f.order_id WHERE f.ship_day IN ({days}) \
           UNION ALL \
           SELECT delivery_day, 0, NULL, 0, 1, \
             CASE WHEN promised_day IS NOT NULL THEN 1 ELSE 0 END, \
             CASE WHEN delivery_day <= promised_day THEN 1 ELSE 0 END \
           FROM fulfilment WHERE delivery_day IN ({days})) t \
         GROUP BY day",
    },
    Rebuild {
        table: "returns_daily",
        columns: "(day, sku, channel, units)",
        select: "SELECT r.day, r.sku, o.channel, SUM(r.quantity) \
         FROM returns r JOIN orders o ON o.order_id = r.order_id \
         WHERE r.day IN ({days}) GROUP BY r.day, r.sku, o.channel",
    },
    Rebuild {
        table: "refunds_daily",
        columns: "(day, refunds, amount, units)",
        select: "SELECT day, COUNT(*), SUM(amount), SUM(units) FROM refunds \
         WHERE day IN ({days}) GROUP BY day",
    },
    Rebuild {
        table: "feedback_daily",
        columns: "(day, theme, sentiment, comments)",
        select: "SELECT day, theme, sentiment, COUNT(*) FROM feedback \
         WHERE day IN ({days}) GROUP BY day, theme, sentiment",
    },
];

fn tables() -> impl Iterator<Item = &'static str> {
    REBUILDS.iter().map(|r| r.table)
}

struct Rebuild {
    table: &'static str,
    columns: &'static str,
    /// Rows for the days `{days}`.
    select: &'static str,
}

async fn run(conn: &mut AnyConnection, sql: &str, days: &[String]) -> Result<()> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
    for day in days {
        q = q.bind(day.as_str());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Rebuilds the rollups for every marked day, on `conn` and inside its transaction, and
/// returns how many days that was.
///
/// Refreshes take turns (SQLite has one writer; PostgreSQL takes an advisory lock held to the
/// end of the transaction). The marks are taken before the rebuild, and only committed marks
/// (and this transaction's own) are visible: a writer still at work keeps its mark for the
/// next refresh, and every mark taken belongs to rows the rebuild can see.
pub async fn refresh(conn: &mut AnyConnection, backend: Backend) -> Result<usize> {
    let started = std::time::Instant::now();
    take_turn(conn, backend).await?;
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
        for r in &REBUILDS {
            rebuild(conn, r, Some(chunk)).await?;
        }
    }
    tracing::debug!(
        days = days.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "rollups rebuilt"
    );
    Ok(days.len())
}

/// Waits for any other refresh to end: SQLite has one writer already; PostgreSQL takes an
/// advisory lock held to the end of the transaction.
async fn take_turn(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_REFRESH_LOCK)
            .execute(&mut *conn)
            .await
            .context("cannot take the rollup refresh lock")?;
    }
    Ok(())
}

/// Rebuilds `r`'s rows of `days` from the raw rows; `None` is every day.
async fn rebuild(conn: &mut AnyConnection, r: &Rebuild, days: Option<&[String]>) -> Result<()> {
    let (filter, select) = match days {
        Some(days) => {
            let list = (1..=days.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!(" WHERE day IN ({list})"),
                r.select.replace("{days}", &list),
            )
        }
        None => (String::new(), every_day(r.select)),
    };
    let delete = format!("DELETE FROM {}{filter}", r.table);
    let insert = format!("INSERT INTO {} {} {select}", r.table, r.columns);
    for sql in [delete, insert] {
        run(conn, &sql, days.unwrap_or_default())
            .await
            .with_context(|| format!("cannot rebuild the rollup {}", r.table))?;
    }
    Ok(())
}

/// Rebuilds every rollup of every day from the raw rows, for a bulk load that wrote the raw
/// tables without their triggers, and takes every mark (each day is rebuilt here).
///
/// PostgreSQL rebuilds each rollup in one statement over the whole table: hashing in one
/// pass, it took 4.4 s at 625k orders against 16-20 s a week at a time. SQLite, which sorts
/// for every `GROUP BY`, is faster a week at a time (7.4 s against 8.6 s at 1.5M orders):
/// there every day is marked and refreshed as usual.
pub async fn rebuild_all(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    if backend == Backend::Sqlite {
        mark_every_day(conn).await?;
        refresh(conn, backend).await?;
        return Ok(());
    }
    let started = std::time::Instant::now();
    take_turn(conn, backend).await?;
    sqlx::query("DELETE FROM rollup_dirty")
        .execute(&mut *conn)
        .await
        .context("cannot take the rollup marks")?;
    for r in &REBUILDS {
        rebuild(conn, r, None).await?;
    }
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "every rollup rebuilt"
    );
    Ok(())
}

/// Marks every day that any raw table or rollup holds, so that the next [`refresh`] rebuilds
/// them all: the days a bulk load wrote without its tables' triggers, and the days whose rows
/// are gone.
async fn mark_every_day(conn: &mut AnyConnection) -> Result<()> {
    let sources = crate::schema::rollup_day_sources().chain(tables().map(|t| (t, "day")));
    for (table, column) in sources {
        mark_column(conn, table, column).await?;
    }
    Ok(())
}

/// Marks the days of every row of `tables` that their triggers would have marked as each
/// row was inserted (an order line's is its order's day): for a load into empty tables that
/// wrote them with their triggers set aside. Their day indexes must be in place.
pub async fn mark_days_of(conn: &mut AnyConnection, tables: &[&str]) -> Result<()> {
    for (table, column) in crate::schema::rollup_day_sources() {
        if tables.contains(&table) {
            mark_column(conn, table, column).await?;
        }
    }
    Ok(())
}

/// Marks each distinct value of `table.column`, found by stepping through its day index (one
/// probe per day), not by reading the rows.
async fn mark_column(conn: &mut AnyConnection, table: &str, column: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO rollup_dirty (day) \
         WITH RECURSIVE d(day) AS ( \
           SELECT MIN({column}) FROM {table} \
           UNION ALL \
           SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > d.day) FROM d \
           WHERE d.day IS NOT NULL) \
         SELECT day FROM d WHERE day IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM rollup_dirty m WHERE m.day = d.day)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("cannot mark the days of {table}"))?;
    Ok(())
}

/// A rebuild's query for every day: a day column is in the list of days exactly when it is
/// a day at all.
fn every_day(select: &str) -> String {
    select.replace(" IN ({days})", " IS NOT NULL")
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_rollup_is_rebuilt() {
        let listed: Vec<&str> = crate::schema::rollups().map(|(r, _)| r).collect();
        assert_eq!(super::tables().collect::<Vec<_>>(), listed);
    }

    /// Every day filter of every rebuild has a whole-table form, and no other use of the
    /// day list is left behind in it.
    #[test]
    fn every_rebuild_has_a_form_for_every_day() {
        for r in &super::REBUILDS {
            assert!(r.select.contains(" IN ({days})"), "{}", r.table);
            assert!(
                !super::every_day(r.select).contains("{days}"),
                "{}",
                r.table
            );
        }
        assert_eq!(
            super::every_day("SELECT 1 FROM t WHERE a.day IN ({days}) AND b <> 'x'"),
            "SELECT 1 FROM t WHERE a.day IS NOT NULL AND b <> 'x'"
        );
    }
}
