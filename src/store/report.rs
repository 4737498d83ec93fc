//! Fetching the metrics report: every metric's rows for the days the comparisons of one date
//! need, and the trading calendar they are drawn up by. The report itself is assembled, pure,
//! in `metrics::report`.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;

use crate::config::Config;
use crate::metrics::calendar::{self, Calendar};
use crate::metrics::period::fetch_ranges;
use crate::metrics::report::{Fetched, MetricsReport};
use crate::store::Store;

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
    fetch_over(store, config, calendar, common, own).await
}

/// The rows of a weekly report ending on `last`: its week, the week before and the same
/// week a year ago, with the rollups refreshed first.
pub async fn fetch_week(store: &Store, config: &Config, last: NaiveDate) -> Result<Fetched> {
    crate::store::rollup::refresh_if_stale(store).await?;
    let calendar = calendar(store, config, last).await?;
    let ranges = crate::metrics::period::fetch_ranges_of(
        &crate::metrics::period::ComparisonKind::WEEKLY,
        last,
        config.shop.week_start,
        &calendar,
    );
    fetch_over(store, config, calendar, ranges, &BTreeMap::new()).await
}

/// The weekly report ending on `last`: each metric against the week before, the same week a
/// year ago and the shop's plan.
pub async fn build_week(store: &Store, config: &Config, last: NaiveDate) -> Result<MetricsReport> {
    let fetched = fetch_week(store, config, last).await?;
    Ok(config.assemble_week(last, &fetched))
}

/// Every metric's rows over `common` (and its own ranges of `own`), side by side.
async fn fetch_over(
    store: &Store,
    config: &Config,
    calendar: Calendar,
    common: Vec<(NaiveDate, NaiveDate)>,
    own: &BTreeMap<String, Vec<(NaiveDate, NaiveDate)>>,
) -> Result<Fetched> {
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
    crate::metrics::zeros::fill(&config.catalog, &mut out);
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

/// Fetches and assembles in one go.
pub async fn build(store: &Store, config: &Config, date: NaiveDate) -> Result<MetricsReport> {
    let fetched = fetch(store, config, date).await?;
    Ok(config.assemble_report(date, &fetched))
}
