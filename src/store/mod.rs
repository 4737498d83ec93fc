//! The store: one SQLite file or a PostgreSQL database, migrated on open, behind one API.
//!
//! Both backends are reached through sqlx's Any driver and a schema whose types mean the same
//! on both (see migrations/), so there is one code path. Metric SQL runs on a second, read-only
//! pool: a metric can read everything and change nothing.
//!
//! Besides the connection and its queries (this file), the store owns the delivery ledger
//! (`ledger`), the daily rollups its triggers keep exact (`rollup`), and reading figures
//! back: a date's metrics report (`report`) and everything one digest reads (`gather`).

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::config::{StoreConfig, StoreUrl};
use crate::metrics::compare::{DayRow, Series};
use crate::metrics::inputs::ThemeCount;
use crate::metrics::metric::MetricDef;

mod big_order;
mod feeds;
pub mod gather;
mod ledger;
mod mailed;
pub mod report;
pub mod rollup;
pub mod write;

pub use ledger::{Claim, DeliveryCounts, DeliveryKey, DeliveryOutcome, DeliveryStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A file `serve` picked up, as the store remembers it.
#[derive(Debug, Clone)]
pub struct TrackedFile<'a> {
    pub path: &'a str,
    pub size: i64,
    pub hash: &'a str,
    pub ok: bool,
    /// What was imported, or why not.
    pub detail: &'a str,
    pub at: i64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
    /// A failure to try again though the file is unchanged.
    pub retry: bool,
}

/// `imported_files` as read: path, size, hash, mtime, retry, status, detail.
type SeenRow = (String, i64, String, Option<i64>, i64, String, String);

/// A picked-up file as the store last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub size: i64,
    pub hash: String,
    /// None for a file seen before modification times were kept.
    pub mtime: Option<i64>,
    pub retry: bool,
    /// Why its import failed, if it did.
    pub failed: Option<String>,
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

/// Why a metric is unavailable: the whole reason for the log, `check` and `metrics`, and
/// a few words for the email's banner.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MetricUnavailable {
    pub message: String,
    /// "its query ran past its deadline".
    pub short: String,
}

/// A metric's rows as its wrapped SQL returns them: day, num, den, dim.
type MetricRow = (Option<String>, Option<f64>, Option<f64>, Option<String>);

/// Where a metric's rows go as they arrive: into its series, counted against
/// [`MAX_METRIC_ROWS`], so no list of raw rows is ever held.
struct RowSink<'a> {
    metric: &'a MetricDef,
    into: &'a mut BTreeMap<Option<String>, Series>,
    rows: usize,
    /// Why reading stopped early (the cap, a row that is not a day), and in a few words.
    refused: Option<(String, String)>,
}

impl RowSink<'_> {
    /// Adds one row; false once reading must stop.
    fn add(&mut self, (day, num, den, dim): MetricRow) -> bool {
        self.rows += 1;
        if self.rows > MAX_METRIC_ROWS {
            self.refused = Some((
                format!(
                    "its query returned more than {MAX_METRIC_ROWS} rows, the most a metric \
                     may (one per day, or per day and breakdown value, of its range $1..$2); \
                     reading stopped there"
                ),
                format!("its query returned more than {MAX_METRIC_ROWS} rows"),
            ));
            return false;
        }
        let Some(day) = day else { return true };
        let Ok(day) = day.get(..10).unwrap_or(&day).parse::<NaiveDate>() else {
            let shown = crate::text::cap(&day, 40);
            self.refused = Some((
                format!("`day` {shown:?} is not a YYYY-MM-DD date"),
                "its query returned a day that is not a date".into(),
            ));
            return false;
        };
        // A NULL sum means the rows exist but carry no value: that day has no data.
        let Some(num) = num else { return true };
        let dim = self
            .metric
            .breakdown
            .is_some()
            .then(|| dim.unwrap_or_else(|| "(none)".into()));
        if let Some(d) = &dim
            && !self.into.contains_key(&dim)
        {
            if d.chars().count() > MAX_DIM_CHARS {
                let shown = crate::text::cap(d, 40);
                self.refused = Some((
                    format!(
                        "the breakdown value {shown:?} is longer than {MAX_DIM_CHARS} characters"
                    ),
                    format!("a breakdown value longer than {MAX_DIM_CHARS} characters"),
                ));
                return false;
            }
            if self.into.len() >= MAX_BREAKDOWN_VALUES {
                self.refused = Some((
                    format!(
                        "its query returned more than {MAX_BREAKDOWN_VALUES} breakdown values, \
                         the most a metric may; reading stopped there"
                    ),
                    format!("more than {MAX_BREAKDOWN_VALUES} breakdown values"),
                ));
                return false;
            }
        }
        self.into.entry(dim).or_default().insert(
            day,
            DayRow {
                num,
                den: den.unwrap_or(0.0),
            },
        );
        true
    }
}

static DRIVERS: Once = Once::new();

/// Read-only connections: metric queries run this many at a time. Each holds its own page
/// cache, so more would cost memory without speed on a small machine.
const READERS: u32 = 2;

/// The page cache of each SQLite connection, in KiB: a report reads the same recent pages for
/// every metric.
const CACHE_KIB: u32 = 16_000;

/// The writer's page cache during a bulk load, in KiB. A load of a million order lines checks
/// every line's order and rebuilds every day from the lines, all over a store of some 150 MB;
/// with the everyday cache a fifth of the writer's time went to reading pages back from the
/// operating system. Given back when the load ends ([`Store::bulk_cache`]).
const BULK_CACHE_KIB: u32 = 65_536;

/// The most comments of one day the digest reads to count themes and pick examples: a bound
/// on a day of any size (the counts of a bigger day are those of its first comments).
pub const MAX_FEEDBACK: i64 = 5_000;

/// The most campaigns one forecast reads: a bound on what the calendar can make it do.
pub const MAX_CAMPAIGNS: i64 = 2000;

/// The most rows one metric's query may return over all the ranges of a report; past it the
/// metric is unavailable. A metric has a row per day, and per breakdown value and day. The
/// widest window every metric reads is a year and a few days (`news.weeks = 52` and the same
/// weekday last year), and a key result's longer window (up to 3,660 days) is read only for
/// its own metric, which has no breakdown. So a million rows is a breakdown of 2,500 values
/// on every one of 400 days, a catalogue of thousands of SKUs selling daily; a query past it
/// ignores its range or groups by something that is not a day. Each row goes into the
/// series as it arrives (some 40 bytes there): a test that holds a million rows of ten
/// breakdown values peaks at 130 MB in all, where 2M rows read whole took 394 MB.
pub const MAX_METRIC_ROWS: usize = 1_000_000;

/// The most distinct breakdown values one metric may return, and the longest of them (in
/// characters; Shopify's product titles are at most 255). With the row cap, these hold a
/// metric whose every row names a new value to some 100 MB.
pub const MAX_BREAKDOWN_VALUES: usize = 100_000;
pub const MAX_DIM_CHARS: usize = 255;

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

    /// Runs a metric's SQL over each range `first..=last` on the read-only pool, in one
    /// transaction, and adds its rows per breakdown value (`None` for a metric without
    /// breakdown) to `into`.
    pub async fn metric_series(
        &self,
        metric: &MetricDef,
        ranges: &[(NaiveDate, NaiveDate)],
        into: &mut BTreeMap<Option<String>, Series>,
    ) -> Result<()> {
        let den = if metric.aggregate == crate::metrics::metric::Aggregate::Ratio {
            "SUM(m.den)"
        } else {
            "0"
        };
        let (dim_select, dim_group) = if metric.breakdown.is_some() {
            // Cut in the database one past the bound: a value of a gigabyte never arrives.
            (", SUBSTR(CAST(m.dim AS TEXT), 1, 256)", ", m.dim")
        } else {
            (", CAST(NULL AS TEXT)", "")
        };
        // The same four columns whatever the metric, so one row type reads both backends.
        // The LIMIT stops the database one row past the cap, whatever the metric's SQL does.
        let sql = format!(
            "SELECT SUBSTR(CAST(m.day AS TEXT), 1, 40), CAST(SUM(m.num) AS DOUBLE PRECISION), \
             CAST({den} AS DOUBLE PRECISION){dim_select} \
             FROM ({inner}\n) m GROUP BY m.day{dim_group} LIMIT {limit}",
            inner = metric.sql.trim(),
            limit = MAX_METRIC_ROWS + 1,
        );
        let mut sink = RowSink {
            metric,
            into,
            rows: 0,
            refused: None,
        };
        match &self.metric_pool {
            Some(pool) => self.sqlite_metric_rows(pool, &sql, ranges, &mut sink).await,
            None => self.postgres_metric_rows(&sql, ranges, &mut sink).await,
        }
        .map_err(|e| self.metric_error(metric, &e))?;
        match sink.refused {
            Some((why, short)) => Err(self.metric_failure(metric, &why, short)),
            None => Ok(()),
        }
    }

    /// Runs a metric on SQLite under the deadline: the progress handler, called every few
    /// thousand steps of the statement, ends it once the deadline has passed.
    async fn sqlite_metric_rows(
        &self,
        pool: &sqlx::SqlitePool,
        sql: &str,
        ranges: &[(NaiveDate, NaiveDate)],
        sink: &mut RowSink<'_>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = pool.begin().await?;
        let deadline = std::time::Instant::now() + self.query_timeout;
        tx.lock_handle()
            .await?
            .set_progress_handler(4000, move || std::time::Instant::now() < deadline);
        let mut result = Ok(());
        'ranges: for (first, last) in ranges {
            let mut rows =
                sqlx::query_as::<sqlx::Sqlite, MetricRow>(AssertSqlSafe(sql.to_string()))
                    .bind(first.to_string())
                    .bind(last.to_string())
                    .fetch(&mut *tx);
            loop {
                match rows.try_next().await {
                    Ok(Some(row)) => {
                        if !sink.add(row) {
                            break 'ranges;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break 'ranges;
                    }
                }
            }
        }
        tx.lock_handle().await?.remove_progress_handler();
        tx.rollback().await?;
        result
    }

    /// Runs a metric on PostgreSQL under `statement_timeout`, in a transaction that is
    /// always rolled back: PostgreSQL lets a few functions (lo_create, for one) act even in a
    /// read-only transaction.
    async fn postgres_metric_rows(
        &self,
        sql: &str,
        ranges: &[(NaiveDate, NaiveDate)],
        sink: &mut RowSink<'_>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.reader.begin().await?;
        let ms = self.query_timeout.as_millis().max(1);
        sqlx::query(AssertSqlSafe(format!("SET LOCAL statement_timeout = {ms}")))
            .execute(&mut *tx)
            .await?;
        'ranges: for (first, last) in ranges {
            let mut rows = sqlx::query_as::<sqlx::Any, MetricRow>(AssertSqlSafe(sql.to_string()))
                .bind(first.to_string())
                .bind(last.to_string())
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                if !sink.add(row) {
                    break 'ranges;
                }
            }
        }
        tx.rollback().await?;
        Ok(())
    }

    /// One line about a metric that is unavailable: its key, where it is defined, and why.
    fn metric_failure(&self, metric: &MetricDef, why: &str, short: String) -> anyhow::Error {
        let at = metric
            .origin
            .as_deref()
            .map_or_else(String::new, |o| format!(" ({o})"));
        MetricUnavailable {
            message: format!("metric `{}`{at} on {}: {why}", metric.key, self.display),
            short,
        }
        .into()
    }

    /// One line about a failed metric query, with the database's own words once.
    fn metric_error(&self, metric: &MetricDef, e: &sqlx::Error) -> anyhow::Error {
        let (why, short) = match e.as_database_error() {
            // SQLITE_INTERRUPT from the progress handler; query_canceled from the timeout.
            Some(d) if matches!(d.code().as_deref(), Some("9" | "57014")) => (
                format!(
                    "its query ran past the {:?} deadline (store.query_timeout_secs)",
                    self.query_timeout
                ),
                "its query ran past its deadline",
            ),
            Some(d) => (
                format!("its SQL failed: {}", d.message()),
                "its query failed",
            ),
            None => (format!("its SQL failed: {e}"), "its query failed"),
        };
        self.metric_failure(metric, &why, short.into())
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .context("cannot read store metadata")?;
        Ok(v)
    }

    /// Rows in a data table (for `check` and tests).
    pub async fn count(&self, table: &str) -> Result<i64> {
        if !crate::schema::data_tables().any(|t| t == table) && table != "meta" {
            bail!("unknown table {table}");
        }
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot count rows of {table}"))?;
        Ok(n)
    }

    /// Rows of a dated table on one day.
    pub async fn rows_on(&self, table: &str, day: NaiveDate) -> Result<i64> {
        if !crate::schema::dated_tables().any(|t| t == table) {
            bail!("unknown dated table {table}");
        }
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE day = $1"
        )))
        .bind(day.to_string())
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot count the rows of {table} on {day}"))?;
        Ok(n)
    }

    /// The last day with data on or before `d` in each dated table: what a report for `d`
    /// can know.
    pub async fn freshness_at(
        &self,
        d: NaiveDate,
    ) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        self.last_days(Some(d)).await
    }

    /// The last day with data in each dated table: how fresh the report can be.
    pub async fn freshness(&self) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        self.last_days(None).await
    }

    async fn last_days(
        &self,
        up_to: Option<NaiveDate>,
    ) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        let mut out = Vec::new();
        for (table, column) in crate::schema::freshness_columns() {
            // Without a bound, every day qualifies: no day sorts after this text.
            let bound = up_to.map_or_else(|| "9999-12-31".to_string(), |d| d.to_string());
            let v: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT MAX({column}) FROM {table} WHERE {column} <= $1"
            )))
            .bind(bound)
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot read the last day of {table}"))?;
            out.push((table, v.and_then(|s| s.parse().ok())));
        }
        Ok(out)
    }
}

impl Store {
    /// Campaigns that overlap `first..=last`, with their promoted SKUs.
    pub async fn promotions(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<crate::metrics::alert::Promotion>> {
        let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT c.campaign, c.channel, c.start_day, c.end_day, cs.sku \
             FROM campaigns c LEFT JOIN campaign_skus cs ON cs.campaign = c.campaign \
             WHERE c.start_day <= $2 AND c.end_day >= $1 ORDER BY c.start_day, c.campaign, cs.sku",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.reader)
        .await
        .context("cannot read the campaign calendar")?;
        let mut out: Vec<crate::metrics::alert::Promotion> = Vec::new();
        for (campaign, channel, start, end, sku) in rows {
            if out.last().is_none_or(|p| p.campaign != campaign) {
                out.push(crate::metrics::alert::Promotion {
                    campaign,
                    channel,
                    start: start.parse().context("campaign start_day")?,
                    end: end.parse().context("campaign end_day")?,
                    skus: Vec::new(),
                });
            }
            if let (Some(sku), Some(p)) = (sku, out.last_mut()) {
                p.skus.push(sku);
            }
        }
        Ok(out)
    }

    /// Orders per day from `first` to `last`, from the rollup (refresh it first). Days
    /// without a row are absent.
    pub async fn daily_orders(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, f64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT day, CAST(orders AS BIGINT) FROM order_daily WHERE day BETWEEN $1 AND $2 ORDER BY day",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.reader)
        .await
        .context("cannot read orders per day")?;
        rows.into_iter()
            .map(|(day, n)| {
                let day: NaiveDate = day
                    .parse()
                    .with_context(|| format!("order_daily: bad day {day:?}"))?;
                Ok((day, n as f64))
            })
            .collect()
    }

    /// The first day with orders, if any: an index end.
    pub async fn first_order_day(&self) -> Result<Option<NaiveDate>> {
        let day: Option<String> = sqlx::query_scalar("SELECT MIN(day) FROM order_daily")
            .fetch_one(&self.reader)
            .await
            .context("cannot read the first day with orders")?;
        day.map(|d| {
            d.parse()
                .with_context(|| format!("order_daily: bad day {d:?}"))
        })
        .transpose()
    }

    /// The campaigns that overlap `first..=last`, at most [`MAX_CAMPAIGNS`] of them (the
    /// latest to start).
    pub async fn campaign_spans(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<crate::metrics::forecast::CampaignSpan>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT campaign, channel, start_day, end_day FROM campaigns \
             WHERE start_day <= $2 AND end_day >= $1 ORDER BY start_day DESC, campaign LIMIT $3",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .bind(MAX_CAMPAIGNS)
        .fetch_all(&self.reader)
        .await
        .context("cannot read the campaign calendar")?;
        let mut out = rows
            .into_iter()
            .map(|(name, channel, start, end)| {
                Ok(crate::metrics::forecast::CampaignSpan {
                    start: start
                        .parse()
                        .with_context(|| format!("campaign {name}: bad start_day {start:?}"))?,
                    end: end
                        .parse()
                        .with_context(|| format!("campaign {name}: bad end_day {end:?}"))?,
                    name,
                    channel,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    /// Capacity from the latest row on or before `d` up to `last`: what the days after `d`
    /// are planned at, and what they are assumed at where no row says.
    pub async fn capacity_plan(
        &self,
        d: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, f64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT day, CAST(orders AS BIGINT) FROM capacity WHERE day <= $2 \
             AND day >= COALESCE((SELECT MAX(day) FROM capacity WHERE day <= $1), $1) ORDER BY day",
        )
        .bind(d.to_string())
        .bind(last.to_string())
        .fetch_all(&self.reader)
        .await
        .context("cannot read the capacity plan")?;
        rows.into_iter()
            .map(|(day, n)| {
                let day: NaiveDate = day
                    .parse()
                    .with_context(|| format!("capacity: bad day {day:?}"))?;
                Ok((day, n as f64))
            })
            .collect()
    }

    /// Stock positions on `d` of the given SKUs: the latest snapshot on or before `d` and
    /// units sold over the `window` days ending on `d` (from the rollups: refresh them first).
    pub async fn stock_positions(
        &self,
        skus: &[String],
        d: NaiveDate,
        window: u32,
    ) -> Result<BTreeMap<String, crate::metrics::alert::StockPosition>> {
        let from = d - chrono::Days::new(u64::from(window.max(1)) - 1);
        let mut out = BTreeMap::new();
        for sku in skus {
            type Row = (String, String, Option<i64>, Option<i64>, Option<i64>);
            let row: Option<Row> = sqlx::query_as(
                "SELECT p.sku, p.name, p.lead_time_days, \
                   (SELECT i.on_hand FROM inventory i WHERE i.sku = p.sku AND i.day <= $2 ORDER BY i.day DESC LIMIT 1), \
                   (SELECT CAST(SUM(s.units) AS BIGINT) FROM sales_daily s \
                     WHERE s.sku = p.sku AND s.day BETWEEN $3 AND $2) \
                 FROM products p WHERE p.sku = $1",
            )
            .bind(sku.clone())
            .bind(d.to_string())
            .bind(from.to_string())
            .fetch_optional(&self.reader)
            .await
            .with_context(|| format!("cannot read the stock of {sku}"))?;
            if let Some((sku, name, lead, on_hand, sold)) = row {
                out.insert(
                    sku.clone(),
                    crate::metrics::alert::StockPosition {
                        sku,
                        name,
                        lead_time_days: lead,
                        on_hand,
                        units_sold_window: sold.unwrap_or(0),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The optional columns no row holds a value in, of tables that have rows: what the
    /// shop's exports do not give (a GA4 report has sessions but no carts). Shipments are
    /// judged by their rollup (refresh it first): a store of any size answers from one row
    /// per day.
    pub async fn empty_optional_columns(&self) -> Result<Vec<&'static str>> {
        const TRAFFIC: [&str; 3] = ["product_views", "add_to_carts", "checkouts"];
        let mut out = Vec::new();
        // Bounded: the first 100,000 rows tell, though traffic has a row per day and channel.
        let row = sqlx::query(
            "SELECT COUNT(*), COUNT(product_views), COUNT(add_to_carts), COUNT(checkouts) \
             FROM (SELECT * FROM traffic LIMIT 100000) t",
        )
        .fetch_one(&self.reader)
        .await
        .context("cannot read the columns of traffic")?;
        let rows: i64 = sqlx::Row::try_get(&row, 0)?;
        for (i, c) in TRAFFIC.iter().enumerate() {
            let filled: i64 = sqlx::Row::try_get(&row, i + 1)?;
            if rows > 0 && filled == 0 {
                out.push(*c);
            }
        }
        // A delivery counts as promised when its promised day is known.
        let (days, delivered, promised): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(delivered) AS BIGINT), CAST(SUM(promised) AS BIGINT) \
             FROM fulfilment_daily",
        )
        .fetch_one(&self.reader)
        .await
        .context("cannot read the columns of fulfilment")?;
        if days > 0 && promised.unwrap_or(0) == 0 {
            out.push("promised_day");
        }
        if days > 0 && delivered.unwrap_or(0) == 0 {
            out.push("delivered_at");
        }
        Ok(out)
    }

    /// Every picked-up file the store remembers, by path: how it was when last seen.
    pub async fn tracked_files(&self) -> Result<std::collections::HashMap<String, Seen>> {
        let rows: Vec<SeenRow> = sqlx::query_as(
            "SELECT path, size, hash, mtime, retry, status, detail FROM imported_files \
             ORDER BY path LIMIT 1000000",
        )
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the picked-up files of {self}"))?;
        Ok(rows
            .into_iter()
            .map(|(path, size, hash, mtime, retry, status, detail)| {
                let seen = Seen {
                    size,
                    hash,
                    mtime,
                    retry: retry != 0,
                    failed: (status == "failed").then_some(detail),
                };
                (path, seen)
            })
            .collect())
    }

    /// Files whose import failed at or after `since` (epoch seconds), as `path: reason`.
    pub async fn failed_files_since(&self, since: i64) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT path, detail FROM imported_files WHERE status = 'failed' \
             AND imported_at >= $1 ORDER BY path LIMIT 100",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the picked-up files of {self}"))?;
        Ok(rows.into_iter().map(|(p, d)| format!("{p}: {d}")).collect())
    }

    /// Records a picked-up file: imported, or failed with the reason.
    pub async fn track_file(&self, f: &TrackedFile<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO imported_files (path, size, hash, status, detail, imported_at, mtime, retry) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (path) DO UPDATE SET \
             size = excluded.size, hash = excluded.hash, status = excluded.status, \
             detail = excluded.detail, imported_at = excluded.imported_at, \
             mtime = excluded.mtime, retry = excluded.retry",
        )
        .bind(f.path.to_string())
        .bind(f.size)
        .bind(f.hash.to_string())
        .bind(if f.ok { "imported" } else { "failed" })
        .bind(crate::text::cap(f.detail, 2_000))
        .bind(f.at)
        .bind(f.mtime)
        .bind(i64::from(f.retry))
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the picked-up file {}", f.path))?;
        Ok(())
    }

    /// SKUs with no stock at the end of `d`, with their names.
    pub async fn out_of_stock(&self, d: NaiveDate) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.sku, p.name FROM inventory i JOIN products p ON p.sku = i.sku \
             WHERE i.day = $1 AND i.on_hand <= 0 ORDER BY p.sku",
        )
        .bind(d.to_string())
        .fetch_all(&self.reader)
        .await
        .context("cannot read stock-outs")?;
        Ok(rows)
    }

    /// Product names by SKU.
    pub async fn product_names(&self) -> Result<BTreeMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT sku, name FROM products")
            .fetch_all(&self.reader)
            .await
            .context("cannot read products")?;
        Ok(rows.into_iter().collect())
    }

    /// Feedback themes on `d`, most mentioned first.
    pub async fn feedback_themes(&self, d: NaiveDate) -> Result<Vec<ThemeCount>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT theme, sentiment, text, feedback_id FROM feedback WHERE day = $1 ORDER BY feedback_id LIMIT $2",
        )
        .bind(d.to_string())
        .bind(MAX_FEEDBACK)
        .fetch_all(&self.reader)
        .await
        .context("cannot read feedback")?;
        let mut themes: Vec<ThemeCount> = Vec::new();
        for (theme, sentiment, text, _) in rows {
            let i = match themes.iter().position(|t| t.theme == theme) {
                Some(i) => i,
                None => {
                    themes.push(ThemeCount {
                        theme,
                        count: 0,
                        negative: 0,
                        example: None,
                    });
                    themes.len() - 1
                }
            };
            let t = &mut themes[i];
            t.count += 1;
            let negative = sentiment == "negative";
            if negative {
                t.negative += 1;
            }
            if t.example.is_none() || (negative && t.negative == 1) {
                t.example = Some(text);
            }
        }
        themes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.negative.cmp(&a.negative))
                .then(a.theme.cmp(&b.theme))
        });
        Ok(themes)
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
