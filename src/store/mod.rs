//! The store: one SQLite file or a PostgreSQL database, migrated on open, behind one API.
//!
//! Both backends are reached through sqlx's Any driver and a schema whose types mean the same
//! on both (see migrations/), so there is one code path. Metric SQL runs on a second, read-only
//! pool: a metric can read everything and change nothing.
//!
//! This file opens and closes the connections. Each other room owns one concern:
//! - `series`: a metric's SQL, under its deadline and row bounds;
//! - `reads`: the digest's other reads (campaigns, capacity, stock, feedback, freshness);
//! - `report`, `gather`: fetching what a date's report and one digest need;
//! - `rollup`: the daily rollups its triggers keep exact;
//! - `ledger`, `mailed`: who was sent what, and the figures as mailed;
//! - `files`: the files `serve` picked up; `bulk`: what a bulk load sets aside;
//! - `feeds`, `big_order`: where each table's rows came from, and one-order days;
//! - `sources`: each live source's cursor, last sync and bulk operation;
//! - `day`: days to and from SQL.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::config::{StoreConfig, StoreUrl};

mod big_order;
mod bulk;
mod campaigns;
pub use campaigns::{HandoffKey, HandoffSummary, MAX_PLAN_SKUS, MAX_PLANS};
mod day;
mod feeds;
mod files;
pub mod gather;
mod ledger;
mod live;
pub use live::LiveKey;
mod mailed;
mod reads;
pub mod report;
pub mod rollup;
mod series;
mod sources;
pub mod weekly;
pub mod write;

pub use bulk::SetAside;
pub use day::Day;
pub use files::{Seen, TrackedFile};
pub use ledger::{Claim, DeliveryCounts, DeliveryKey, DeliveryOutcome, DeliveryStatus};
pub use reads::{MAX_CAMPAIGNS, MAX_FEEDBACK};
pub use series::{MAX_BREAKDOWN_VALUES, MAX_DIM_CHARS, MAX_METRIC_ROWS, MetricUnavailable};
pub use sources::{SourceState, SyncMark, save_mark};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    reader: AnyPool,
    /// SQLite's metric queries run on native connections: only they expose the progress
    /// handler that enforces the deadline. PostgreSQL's run on `reader`.
    metric_pool: Option<sqlx::SqlitePool>,
    backend: Backend,
    /// For messages: the URL without any secret.
    display: String,
    query_timeout: Duration,
}

static DRIVERS: Once = Once::new();

/// Read-only connections: metric queries run this many at a time. Each holds its own page
/// cache, so more would cost memory without speed on a small machine.
const READERS: u32 = 2;

/// The page cache of each SQLite connection, in KiB: a report reads the same recent pages for
/// every metric.
const CACHE_KIB: u32 = 16_000;

impl Store {
    /// Connects, creating and migrating the store if needed.
    pub async fn open(cfg: &StoreConfig) -> Result<Store> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let display = cfg.url.to_string();
        let (backend, url, reader_url) = match &cfg.url {
            StoreUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create directory {}", dir.display()))?;
                }
                let encoded = encode_path(&path.to_string_lossy());
                (
                    Backend::Sqlite,
                    format!("sqlite://{encoded}?mode=rwc"),
                    format!("sqlite://{encoded}?mode=ro"),
                )
            }
            StoreUrl::Postgres(raw) => {
                let mut url =
                    url::Url::parse(raw).with_context(|| format!("invalid store URL {display}"))?;
                if let Some(pw) = &cfg.password {
                    url.set_password(Some(pw.expose())).map_err(|()| {
                        anyhow::anyhow!("cannot set a password on store URL {display}")
                    })?;
                }
                let mut reader = url.clone();
                reader
                    .query_pairs_mut()
                    .append_pair("options[default_transaction_read_only]", "on");
                (Backend::Postgres, url.to_string(), reader.to_string())
            }
        };
        let pool = connect(
            &url,
            backend,
            if backend == Backend::Sqlite { 1 } else { 4 },
            cfg.connect_timeout,
        )
        .await
        .map_err(|e| explain_open_error(e, &display))?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => anyhow::anyhow!(
                "cannot use store {display}: it was made by a newer dawnpost (its schema has \
                 migration {v}, which this build does not know); run that version or newer"
            ),
            e => anyhow::Error::new(e).context(format!("cannot migrate store {display}")),
        })?;
        let (any_readers, metric_pool) = match backend {
            Backend::Sqlite => (1, Some(sqlite_metric_pool(&reader_url, cfg).await?)),
            Backend::Postgres => (READERS, None),
        };
        let reader = connect(&reader_url, backend, any_readers, cfg.connect_timeout)
            .await
            .with_context(|| format!("cannot open store {display} for reading"))?;
        Ok(Store {
            pool,
            reader,
            metric_pool,
            backend,
            display,
            query_timeout: cfg.query_timeout,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The writable pool, for imports and the demo generator.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The read-only pool: metric SQL and lookups outside a write transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Closes the read-only pools first: SQLite checkpoints the write-ahead log into the
    /// database and removes it when the last connection closes, which only a writer can do.
    /// Left behind, a log of a large import is read again by every process that opens the
    /// store (0.17 s for 300 MB, before its first query).
    ///
    /// A reader still inside a query (a shutdown during a report) is not waited for beyond
    /// a second: its query ends with the process, and the log is folded in next time.
    pub async fn close(&self) {
        let readers = async {
            if let Some(p) = &self.metric_pool {
                p.close().await;
            }
            self.reader.close().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), readers).await;
        // A connection never given back (a task stuck on it) must not keep the process
        // from exiting; SQLite's own locking keeps the file whole either way.
        if tokio::time::timeout(Duration::from_secs(10), self.pool.close())
            .await
            .is_err()
        {
            tracing::warn!(store = %self.display, "the store did not close within 10 s");
        }
    }
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

async fn connect(
    url: &str,
    backend: Backend,
    max: u32,
    timeout: Duration,
) -> Result<AnyPool, sqlx::Error> {
    let mut opts = no_maintenance(AnyPoolOptions::new())
        .max_connections(max)
        .acquire_timeout(timeout);
    if backend == Backend::Sqlite {
        opts = opts.after_connect(|conn, _| Box::pin(sqlite_settings(conn)));
    }
    // One plain connection first, set up as the pool's would be: the pool would retry a
    // store it cannot reach, open or write until its timeout, and then hide why ("Connection
    // refused", "attempt to write a readonly database") behind "pool timed out".
    use sqlx::Connection;
    let mut probe = tokio::time::timeout(timeout, sqlx::AnyConnection::connect(url))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    if backend == Backend::Sqlite {
        sqlite_settings(&mut probe).await?;
    }
    probe.close().await?;
    let pool = opts.connect(url).await?;
    if backend == Backend::Sqlite && url.ends_with("mode=rwc") {
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// Every SQLite connection's settings. WAL lets the read-only pool read while an import
/// writes.
async fn sqlite_settings(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute(AssertSqlSafe(format!("PRAGMA cache_size = -{CACHE_KIB}")))
        .await?;
    conn.execute("PRAGMA mmap_size = 0").await?;
    Ok(())
}

/// A pool without sqlx's maintenance task, which it starts only for an idle timeout, a
/// maximum lifetime or a minimum of connections. In sqlx-core 0.9.0 that task can loop
/// without yielding (launchbadge/sqlx#3645): `serve` then burns a core and never exits. A
/// connection that died while idle is caught by the ping before each use instead.
fn no_maintenance<DB: sqlx::Database>(
    opts: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    opts.idle_timeout(None)
        .max_lifetime(None)
        .min_connections(0)
        .test_before_acquire(true)
}

/// The read-only native SQLite pool that metric queries run on.
async fn sqlite_metric_pool(url: &str, cfg: &StoreConfig) -> Result<sqlx::SqlitePool> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;
    let options = SqliteConnectOptions::from_str(url)
        .context("the SQLite store path")?
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", format!("-{CACHE_KIB}"))
        .pragma("mmap_size", "0");
    no_maintenance(SqlitePoolOptions::new())
        .max_connections(READERS)
        .acquire_timeout(cfg.connect_timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open store {} for metric queries", cfg.url))
}

/// The reason a store cannot be opened, in words that say what to fix.
fn explain_open_error(e: sqlx::Error, display: &str) -> anyhow::Error {
    let text = e.to_string();
    let hint = if text.contains("readonly database") {
        ": the store file or its folder is not writable by this user (SQLite writes the file \
         and keeps its -wal and -shm files beside it)"
    } else if text.contains("unable to open database file") {
        ": the file or its folder cannot be opened or created by this user"
    } else if text.contains("Connection refused") {
        ": nothing is listening there (is the database server running?)"
    } else {
        ""
    };
    anyhow::Error::new(e).context(format!("cannot open store {display}{hint}"))
}

/// Percent-encodes the characters that would end a path inside a sqlx SQLite URL.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23")
}
