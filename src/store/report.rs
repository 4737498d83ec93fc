//! The metrics report: every metric of the catalog with its period comparisons for one date.
//!
//! `fetch` is the only part that touches the store; `assemble` is pure and is what the
//! digest builds on.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use crate::config::Config;
use crate::metrics::calendar::{self, Calendar};
use crate::metrics::compare::{Comparison, Series, compare_all};
use crate::metrics::metric::{Aggregate, Direction, Team, Unit};
use crate::metrics::period::{ComparisonKind, fetch_ranges};
use crate::store::Store;

/// A metric's rows per breakdown value (`None` = the metric as a whole).
pub type MetricSeries = BTreeMap<Option<String>, Series>;

/// What the metric queries returned: each metric's rows, or why it is unavailable (its query
/// failed or ran past its deadline). One bad metric never stops the others.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub series: BTreeMap<String, MetricSeries>,
    /// Metric key → the reason, as logged.
    pub unavailable: BTreeMap<String, String>,
    /// Metric key → the reason in a few words, for the email ("its query failed").
    pub unavailable_short: BTreeMap<String, String>,
    /// When the shop traded, as the comparisons were drawn up for.
    pub calendar: Calendar,
}

impl Fetched {
    /// The rows of a metric that answered.
    pub fn get(&self, key: &str) -> Option<&MetricSeries> {
        self.series.get(key)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    pub shop: String,
    pub date: NaiveDate,
    pub timezone: String,
    pub currency: String,
    pub metrics: Vec<MetricResult>,
    /// Why net revenue moved against the same weekday a week before: sessions,
    /// conversion and basket size (orders and basket size without traffic data).
    pub explain: Option<crate::metrics::news::RevenueSplit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricResult {
    pub key: String,
    pub label: String,
    pub team: Team,
    pub unit: Unit,
    pub direction: Direction,
    pub aggregate: Aggregate,
    pub description: String,
    /// The metric as a whole; empty for a metric reported only per breakdown value.
    pub comparisons: Vec<Comparison>,
    /// Why the metric has no values at all: its query failed or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Per breakdown value (for example per channel), largest first on the report date.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<BreakdownResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownResult {
    pub value: String,
    pub comparisons: Vec<Comparison>,
}

impl MetricsReport {
    pub fn get(&self, key: &str) -> Option<&MetricResult> {
        self.metrics.iter().find(|m| m.key == key)
    }
}

/// Runs every metric's SQL over the days the comparisons for `date` need.
pub async fn fetch(store: &Store, config: &Config, date: NaiveDate) -> Result<Fetched> {
    crate::store::rollup::refresh_if_stale(store).await?;
    fetch_with(store, config, date, &[]).await
}

/// Like [`fetch`], plus the `extra` ranges of every metric (chart windows), and without
/// refreshing the rollups: the caller does, once, before everything it reads.
pub async fn fetch_with(
    store: &Store,
    config: &Config,
    date: NaiveDate,
    extra: &[(NaiveDate, NaiveDate)],
) -> Result<Fetched> {
    fetch_windows(store, config, date, extra, &BTreeMap::new()).await
}

/// Like [`fetch_with`], and the ranges of `own` for the metric each is keyed by only (a key
/// result's window): a breakdown metric never reads ten years because a key result does.
pub async fn fetch_windows(
    store: &Store,
    config: &Config,
    date: NaiveDate,
    extra: &[(NaiveDate, NaiveDate)],
    own: &BTreeMap<String, Vec<(NaiveDate, NaiveDate)>>,
) -> Result<Fetched> {
    let calendar = calendar(store, config, date).await?;
    let mut common = fetch_ranges(date, config.shop.week_start, &calendar);
    common.extend_from_slice(extra);
    // Metrics are independent: run them side by side, as many at a time as the read-only
    // pool has connections.
    let mut tasks = tokio::task::JoinSet::new();
    for metric in config.catalog.iter().cloned() {
        let store = store.clone();
        let mut ranges = common.clone();
        ranges.extend(own.get(&metric.key).into_iter().flatten());
        let ranges = crate::metrics::period::merge_ranges(ranges);
        tasks.spawn(async move {
            let started = std::time::Instant::now();
            let mut series = BTreeMap::new();
            let result = store.metric_series(&metric, &ranges, &mut series).await;
            tracing::debug!(metric = %metric.key, ms = started.elapsed().as_secs_f64() * 1e3, "fetched");
            (metric.key, result.map(|()| series))
        });
    }
    let mut out = Fetched {
        calendar,
        ..Fetched::default()
    };
    while let Some(done) = tasks.join_next().await {
        let (key, result) = done.map_err(|e| anyhow::anyhow!("a metric query task failed: {e}"))?;
        match result {
            Ok(series) => {
                out.series.insert(key, series);
            }
            Err(e) => {
                let why = format!("{e:#}");
                tracing::warn!(metric = %key, error = %why, "metric unavailable");
                if let Some(u) = e.downcast_ref::<crate::store::MetricUnavailable>() {
                    out.unavailable_short.insert(key.clone(), u.short.clone());
                }
                out.unavailable.insert(key, why);
            }
        }
    }
    Ok(out)
}

/// The shop's trading calendar on report date `d`: its configured closed weekdays and
/// closures; without `[shop] closed`, also the weekdays its last weeks of orders show closed.
pub async fn calendar(store: &Store, config: &Config, d: NaiveDate) -> Result<Calendar> {
    let cal = Calendar::new(
        config.shop.closed.clone().unwrap_or_default(),
        config.shop.closures.clone(),
    );
    if config.shop.closed.is_some() {
        return Ok(cal);
    }
    let from = d - chrono::Days::new(calendar::INFER_WEEKS * 7 - 1);
    let orders = store.daily_orders(from, d).await?;
    let since = store.first_order_day().await?;
    Ok(cal.infer(&orders, since, d))
}

/// Builds the report from fetched rows. Pure.
pub fn assemble(config: &Config, date: NaiveDate, fetched: &Fetched) -> MetricsReport {
    let empty = BTreeMap::new();
    let week_start = config.shop.week_start;
    let cal = &fetched.calendar;
    let metrics = config
        .catalog
        .iter()
        .map(|m| {
            let series = fetched.get(&m.key).unwrap_or(&empty);
            let unavailable = fetched.unavailable.get(&m.key).cloned();
            let (comparisons, breakdown) = if unavailable.is_some() {
                let none = Series::default();
                let mut all = compare_all(&none, m, date, week_start, cal);
                for c in &mut all {
                    c.current = crate::metrics::compare::Value::Unavailable;
                    c.previous = crate::metrics::compare::Value::Unavailable;
                }
                (all, Vec::new())
            } else if m.breakdown.is_some() {
                let mut rows: Vec<BreakdownResult> = series
                    .iter()
                    .filter_map(|(dim, s)| {
                        dim.as_ref().map(|d| BreakdownResult {
                            value: d.clone(),
                            comparisons: compare_all(s, m, date, week_start, cal),
                        })
                    })
                    .collect();
                // Ranked by month to date: steadier than one day, and what "top" means in a report.
                let mtd = ComparisonKind::ALL
                    .iter()
                    .position(|k| *k == ComparisonKind::MonthToDate)
                    .expect("listed");
                rows.sort_by(|a, b| {
                    let v =
                        |r: &BreakdownResult| r.comparisons[mtd].current.get().unwrap_or(f64::MIN);
                    v(b).total_cmp(&v(a)).then_with(|| a.value.cmp(&b.value))
                });
                (Vec::new(), rows)
            } else {
                let s = series.get(&None).cloned().unwrap_or_default();
                (compare_all(&s, m, date, week_start, cal), Vec::new())
            };
            MetricResult {
                key: m.key.clone(),
                label: m.label.clone(),
                team: m.team,
                unit: m.unit,
                direction: m.direction,
                aggregate: m.aggregate,
                description: m.description.clone(),
                comparisons,
                unavailable,
                breakdown,
            }
        })
        .collect();
    let day = |key: &str, on: NaiveDate| {
        let s = fetched.get(key)?.get(&None)?;
        crate::metrics::news::day_value(s, Aggregate::Sum, on).map(|v| v.0)
    };
    // A shop with traffic data gets the three-way split; one without, orders × basket.
    let with_sessions = day("sessions", date).is_some();
    MetricsReport {
        shop: config.shop.name.clone(),
        date,
        timezone: config.shop.timezone.name().to_string(),
        currency: config.shop.currency.clone(),
        metrics,
        explain: crate::metrics::news::revenue_vs_last_week(date, day, with_sessions).map(
            |mut x| {
                x.channels = crate::metrics::news::channel_changes(
                    date,
                    fetched.get("sessions_by_channel").filter(|_| with_sessions),
                    fetched.get("orders_by_channel"),
                );
                x
            },
        ),
    }
}

/// Fetches and assembles in one go.
pub async fn build(store: &Store, config: &Config, date: NaiveDate) -> Result<MetricsReport> {
    let fetched = fetch(store, config, date).await?;
    Ok(assemble(config, date, &fetched))
}
