//! A metric's figures read from the store: its SQL run over the report's ranges on the
//! read-only connections, under a deadline and a bound on the rows and breakdown values it
//! may return.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::AssertSqlSafe;

use super::{Day, Store};
use crate::metrics::compare::{DayRow, Series};
use crate::metrics::metric::MetricDef;

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
                    .bind(Day(*first))
                    .bind(Day(*last))
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
                .bind(Day(*first))
                .bind(Day(*last))
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
}
