//! Gathering: everything one digest needs, read from the store in one place.
//!
//! The only I/O behind a digest; `digest::build` then works on these values alone.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{Days, NaiveDate};

use crate::config::Config;
use crate::metrics::alert::COVER_WINDOW_DAYS;
use crate::metrics::calendar::Calendar;
use crate::metrics::forecast::{self, History};
use crate::metrics::inputs::{CHART_DAYS, DigestInputs, REVISION_DAYS, SourceSync};
use crate::metrics::preflight::{
    self, Confirmed, LiftSource, Plan, Preflight, PreflightInputs, SkuFacts,
};
use crate::metrics::report::Fetched;
use crate::store::Store;
use crate::store::report;

/// The metric windows every metric needs beyond the comparisons: charts and the news.
pub fn extra_ranges(config: &Config, d: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    vec![
        // Thirty days of charts, and the same weekday a week before each of them.
        (d - Days::new(CHART_DAYS - 1 + 7), d),
        // The news baseline: the same weekday over the weeks before.
        (d - Days::new(7 * u64::from(config.news.weeks)), d),
    ]
}

/// Each key result's window, for its own metric only.
pub fn key_result_ranges(
    config: &Config,
    d: NaiveDate,
) -> BTreeMap<String, Vec<(NaiveDate, NaiveDate)>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for o in &config.objectives {
        let cycle = o.cycle.bounds(d);
        for kr in &o.key_results {
            if let Some(w) = kr.window_days(cycle, d) {
                out.entry(kr.metric.clone()).or_default().push(w);
            }
        }
    }
    out
}

pub async fn gather(store: &Store, config: &Config, d: NaiveDate) -> Result<DigestInputs> {
    gather_own(store, config, d, key_result_ranges(config, d)).await
}

/// Like [`gather`], with each key result's window as of every one of `week_ends` too: a
/// weekly review's trend of the key results, week by week.
pub async fn gather_weeks(
    store: &Store,
    config: &Config,
    d: NaiveDate,
    week_ends: &[NaiveDate],
) -> Result<DigestInputs> {
    let mut own = key_result_ranges(config, d);
    for w in week_ends {
        for (metric, ranges) in key_result_ranges(config, *w) {
            own.entry(metric).or_default().extend(ranges);
        }
    }
    gather_own(store, config, d, own).await
}

async fn gather_own(
    store: &Store,
    config: &Config,
    d: NaiveDate,
    own: BTreeMap<String, Vec<(NaiveDate, NaiveDate)>>,
) -> Result<DigestInputs> {
    // Rows written by another tool since the last import leave their days' rollups stale;
    // both halves below read the rollups.
    crate::store::rollup::refresh_if_stale(store).await?;
    // The metrics' comparisons read the same calendar (`report::fetch_windows`); the week
    // ahead needs it first.
    let for_history = report::calendar(store, config, d).await?;
    // The metrics run on the read-only pool; the rest reads through the other pool, so the
    // two proceed side by side.
    let extra = extra_ranges(config, d);
    let metrics = report::fetch_windows(store, config, d, &extra, &own);
    let rest = async {
        let ahead = d + Days::new(u64::from(config.outlook.days));
        let horizon = ahead.max(d + Days::new(u64::from(config.alerts.lookahead_days)));
        let promotions = store.promotions(d, horizon).await?;
        let mut skus: Vec<String> = promotions
            .iter()
            .flat_map(|p| p.skus.iter().cloned())
            .collect();
        skus.sort();
        skus.dedup();
        Ok::<_, anyhow::Error>(DigestInputs {
            fetched: Fetched::default(),
            stock: store.stock_positions(&skus, d, COVER_WINDOW_DAYS).await?,
            history: history(store, d, d, ahead, for_history).await?,
            capacity_plan: store.capacity_plan(d, ahead).await?,
            out_of_stock: store.out_of_stock(d).await?,
            product_names: store.product_names().await?,
            feedback: store.feedback_themes(d).await?,
            freshness: store.freshness_at(d).await?,
            empty_columns: store.empty_optional_columns().await?,
            calendar: Calendar::default(),
            mailed: store
                .mailed_figures(d - Days::new(REVISION_DAYS), d - Days::new(1))
                .await?,
            big_order: store.big_order(d).await?,
            feeds: store.feeds().await?,
            syncs: source_syncs(store, config).await?,
            live_sent: store.live_titles(d).await?,
            confirmed: confirmed(store, &promotions).await?,
            promotions,
        })
    };
    let (fetched, rest) = tokio::try_join!(metrics, rest)?;
    Ok(DigestInputs {
        calendar: fetched.calendar.clone(),
        fetched,
        ..rest
    })
}

/// Whether operations confirmed each campaign as it is planned now (the first
/// [`crate::store::MAX_PLANS`]).
async fn confirmed(
    store: &Store,
    promotions: &[crate::metrics::alert::Promotion],
) -> Result<BTreeMap<String, Confirmed>> {
    let names: Vec<String> = promotions
        .iter()
        .take(crate::store::MAX_PLANS as usize)
        .map(|p| p.campaign.clone())
        .collect();
    let confirmations = store.confirmations(&names).await?;
    Ok(promotions
        .iter()
        .take(names.len())
        .map(|p| {
            (
                p.campaign.clone(),
                Confirmed::of(p, confirmations.get(&p.campaign)),
            )
        })
        .collect())
}

/// Each configured live source's last sync.
async fn source_syncs(store: &Store, config: &Config) -> Result<Vec<SourceSync>> {
    let mut out = Vec::with_capacity(config.sources.len());
    for s in &config.sources {
        let state = store.source_state(&s.name).await?;
        out.push(SourceSync {
            source: s.name.clone(),
            platform: s.platform.label(),
            synced_at: state.synced_at,
            attempted_at: state.attempted_at,
            failure: state.failure,
            days_of: s.platform.days_of(),
            zone: state.zone,
        });
    }
    Ok(out)
}

/// The forecast replayed over `windows` windows of `days`, the last ending on `last` (see
/// [`forecast::backtest_report`]), with the trading calendar as of `last`.
pub async fn backtest(
    store: &Store,
    config: &Config,
    last: NaiveDate,
    days: u32,
    horizons: u32,
    windows: u32,
) -> Result<forecast::BacktestReport> {
    crate::store::rollup::refresh_if_stale(store).await?;
    // The first replayed forecast is made `horizons` days before the first day replayed,
    // and needs the history a forecast made then would have had.
    let span = u64::from(days) * u64::from(windows.max(1));
    let first_origin = last - Days::new(span + u64::from(horizons));
    let cal = report::calendar(store, config, last).await?;
    let h = history(store, first_origin, last, last, cal).await?;
    Ok(forecast::backtest_report(&h, last, days, horizons, windows))
}

/// Orders per day from the shop's first day with orders, or [`forecast::HISTORY_DAYS`]
/// before `origin` if that is later, up to `last`, and the campaigns over the same days up
/// to `ahead`. A forecast's state is smoothed from the first day read, and campaign days are
/// left out of it, so the email and a backtest read from the same day, and the same
/// campaigns, for any shop younger than that.
pub(super) async fn history(
    store: &Store,
    origin: NaiveDate,
    last: NaiveDate,
    ahead: NaiveDate,
    calendar: Calendar,
) -> Result<History> {
    let oldest = origin - Days::new(forecast::HISTORY_DAYS);
    let from = store
        .first_order_day()
        .await?
        .map_or(oldest, |f| f.max(oldest));
    Ok(History::new(
        store.daily_orders(from, last).await?,
        store.campaign_spans(from, ahead).await?,
        calendar,
    ))
}

/// The pre-flight of `plan` as of the end of `origin`, the last day with data.
pub async fn preflight(
    store: &Store,
    config: &Config,
    plan: &Plan,
    origin: NaiveDate,
) -> Result<Preflight> {
    let mut one = preflights(store, config, std::slice::from_ref(plan), origin).await?;
    one.pop()
        .ok_or_else(|| anyhow::anyhow!("no pre-flight of {}", plan.campaign))
}

/// The pre-flight of each of `plans` as of the end of `origin`, the last day with data:
/// their days' forecast with their lifts, capacity, their SKUs' stock, sales and prices, and
/// the calendar around them. What they share (the history and its forecast state, capacity,
/// each SKU's stock) is read once.
pub async fn preflights(
    store: &Store,
    config: &Config,
    plans: &[Plan],
    origin: NaiveDate,
) -> Result<Vec<Preflight>> {
    let (Some(first), Some(last)) = (
        plans.iter().map(|p| p.start).min(),
        plans.iter().map(|p| p.end).max(),
    ) else {
        return Ok(Vec::new());
    };
    crate::store::rollup::refresh_if_stale(store).await?;
    let cal = report::calendar(store, config, origin).await?;
    // Campaigns starting after a plan's end run on none of its days: one history to the
    // last end serves every plan.
    let h = history(store, origin, origin, last, cal).await?;
    let mut all: Vec<String> = plans.iter().flat_map(|p| p.skus.iter().cloned()).collect();
    all.sort();
    all.dedup();
    let stock = store
        .stock_positions(&all, origin, COVER_WINDOW_DAYS)
        .await?;
    let prices = store.prices(&all).await?;
    let capacity_plan = store.capacity_plan(origin, last).await?;
    let calendar = store.promotions(first, last).await?;
    Ok(plans
        .iter()
        .map(|plan| {
            let (lift, lift_source) = match plan.expected_lift {
                Some(l) => (1.0 + l, LiftSource::Stated),
                None => {
                    let u = forecast::uplift(&h, origin, &plan.channel);
                    let campaigns = u.campaigns;
                    (u.lift, LiftSource::Past { campaigns })
                }
            };
            let skus: Vec<SkuFacts> = plan
                .skus
                .iter()
                .filter_map(|s| {
                    let (unit_price, unit_cost) = prices
                        .get(s)
                        .copied()
                        .map_or((None, None), |(p, c)| (Some(p), c));
                    Some(SkuFacts {
                        position: stock.get(s)?.clone(),
                        unit_price,
                        unit_cost,
                    })
                })
                .collect();
            preflight::check(&PreflightInputs {
                plan,
                origin,
                days: &forecast::forecast_span(&h, origin, plan.start, plan.end),
                lift,
                lift_source,
                capacity_plan: &capacity_plan,
                settings: &config.alerts,
                skus: &skus,
                calendar: &calendar,
            })
        })
        .collect())
}
