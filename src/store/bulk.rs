//! A bulk load's setting aside: the indexes, triggers and keys a load fills tables without,
//! and the writer's larger page cache while it runs.

use anyhow::{Context, Result};
use sqlx::AssertSqlSafe;

use super::{Backend, CACHE_KIB, Store};

/// The writer's page cache during a bulk load, in KiB. A load of a million order lines checks
/// every line's order and rebuilds every day from the lines, all over a store of some 150 MB;
/// with the everyday cache a fifth of the writer's time went to reading pages back from the
/// operating system. Given back when the load ends ([`Store::bulk_cache`]).
const BULK_CACHE_KIB: u32 = 65_536;

impl Store {
    /// Gives SQLite's writer the larger page cache of a bulk load (`true`), or its everyday
    /// one back (`false`), so that a long-running `serve` does not keep a load's pages. SQLite
    /// has one writer connection, so this reaches the one every load uses. A failure only
    /// leaves the cache as it was: it is logged, not fatal.
    pub async fn bulk_cache(&self, bulk: bool) {
        if self.backend != Backend::Sqlite {
            return;
        }
        let kib = if bulk { BULK_CACHE_KIB } else { CACHE_KIB };
        let sql = format!("PRAGMA cache_size = -{kib}");
        if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&self.pool).await {
            tracing::warn!(store = %self, error = %e, "cannot size the writer's page cache");
        }
    }
}

/// What a bulk load sets aside while it fills tables afresh, as the statements that make it
/// again: each index no key needs (built once at the end, by sorting, instead of row by row),
/// each trigger (the load rebuilds every day's rollups once instead, [`rollup::rebuild_all`]),
/// and on PostgreSQL each foreign key from those tables (checked once at the end, by one
/// join, instead of a lookup per row; SQLite cannot drop one and checks its keys as before).
///
/// All of it happens inside the load's transaction: no other connection ever sees the tables
/// without their indexes, triggers or keys.
#[derive(Debug)]
#[must_use = "what is set aside must be restored before the load commits"]
pub struct SetAside {
    restore: Vec<String>,
}

impl SetAside {
    /// Sets aside the indexes, triggers and (on PostgreSQL) foreign keys of `tables`.
    pub async fn take(
        conn: &mut sqlx::AnyConnection,
        backend: Backend,
        tables: &[&str],
    ) -> Result<SetAside> {
        let list = tables
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut restore = Vec::new();
        for (what, sql) in set_aside_queries(backend, &list) {
            let found: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(&mut *conn)
                .await
                .with_context(|| format!("cannot list the store's {what}"))?;
            for (drop, make) in found {
                sqlx::query(AssertSqlSafe(drop.clone()))
                    .execute(&mut *conn)
                    .await
                    .with_context(|| format!("cannot set aside for a bulk load: {drop}"))?;
                restore.push(make);
            }
        }
        Ok(SetAside { restore })
    }

    /// Makes again what [`SetAside::take`] set aside, in the same order.
    pub async fn restore(self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        for sql in self.restore {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .execute(&mut *conn)
                .await
                .with_context(|| format!("cannot make again after a bulk load: {sql}"))?;
        }
        Ok(())
    }
}

/// For each kind of thing set aside, a query giving the statement that drops each one and
/// the statement that makes it again. Indexes come first: a trigger or key made again after
/// them finds them in place.
fn set_aside_queries(backend: Backend, tables: &str) -> Vec<(&'static str, String)> {
    match backend {
        // An index a key makes has no SQL of its own; SQLite keeps its foreign keys.
        Backend::Sqlite => vec![
            (
                "indexes",
                format!(
                    "SELECT 'DROP INDEX ' || name, sql FROM sqlite_schema WHERE type = 'index' \
                     AND sql IS NOT NULL AND tbl_name IN ({tables}) ORDER BY name"
                ),
            ),
            (
                "triggers",
                format!(
                    "SELECT 'DROP TRIGGER ' || name, sql FROM sqlite_schema \
                     WHERE type = 'trigger' AND tbl_name IN ({tables}) ORDER BY name"
                ),
            ),
        ],
        Backend::Postgres => vec![
            (
                "indexes",
                format!(
                    "SELECT 'DROP INDEX ' || quote_ident(i.relname), pg_get_indexdef(i.oid) \
                     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                     JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname IN ({tables}) \
                     AND t.relnamespace = current_schema()::regnamespace \
                     AND NOT x.indisprimary AND NOT x.indisunique ORDER BY i.relname"
                ),
            ),
            (
                "triggers",
                format!(
                    "SELECT 'DROP TRIGGER ' || quote_ident(g.tgname) || ' ON ' \
                     || quote_ident(t.relname), pg_get_triggerdef(g.oid) \
                     FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid \
                     WHERE t.relname IN ({tables}) AND NOT g.tgisinternal \
                     AND t.relnamespace = current_schema()::regnamespace \
                     ORDER BY t.relname, g.tgname"
                ),
            ),
            (
                "foreign keys",
                format!(
                    "SELECT 'ALTER TABLE ' || quote_ident(t.relname) || ' DROP CONSTRAINT ' \
                     || quote_ident(c.conname), 'ALTER TABLE ' || quote_ident(t.relname) \
                     || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' \
                     || pg_get_constraintdef(c.oid) \
                     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                     WHERE c.contype = 'f' AND t.relname IN ({tables}) \
                     AND t.relnamespace = current_schema()::regnamespace \
                     ORDER BY t.relname, c.conname"
                ),
            ),
        ],
    }
}
