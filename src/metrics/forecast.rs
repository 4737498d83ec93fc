//! The week ahead: expected orders per day, with a range, from the order history and the
//! campaign calendar; and the backtest that says how good those expectations have been.
//!
//! Pure: the history, the calendar and the day the forecast is made from are arguments.
//! The formulas (README, "The week ahead"):
//! - **baseline** = median of the same weekday over the last [`WEEKS`] weeks × trend^(lag/28);
//!   campaign days are left out of the median (their lift is the uplift's to estimate)
//!   unless that leaves fewer than 2 of the 4;
//! - **trend** = mean ordinary day of the last 28 days / the 28 before, capped to
//!   [1/[`TREND_CAP`], [`TREND_CAP`]]; `lag` is the mean distance in days from the sampled
//!   days to the day forecast;
//! - **uplift** per channel = 1 + (mean lift of past campaigns on it − 1) × n / (n + [`PRIOR`]);
//! - **range** = expected × the 10th and 90th percentiles of actual / baseline over the
//!   ordinary days of the last [`ERROR_DAYS`] days.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// Same-weekday samples in the baseline.
pub const WEEKS: u64 = 4;
/// Days in each of the two windows the trend compares.
pub const TREND_DAYS: u64 = 28;
/// The trend's ratio is held within [1/cap, cap].
pub const TREND_CAP: f64 = 1.25;
/// Days of the baseline's own errors the range is read from.
pub const ERROR_DAYS: u64 = 56;
/// Fewer errors than this, and the range falls back to counting noise alone.
pub const MIN_ERRORS: usize = 14;
/// The weight, in campaigns, of the prior belief that a campaign lifts nothing.
pub const PRIOR: f64 = 1.0;
/// Past campaigns that started longer ago than this do not inform the uplift.
pub const CAMPAIGN_LOOKBACK_DAYS: u64 = 400;
/// Days of order history before a forecast is made.
pub const MIN_HISTORY_DAYS: u64 = WEEKS * 7;
/// Fewer orders a day than this over the last 4 weeks, and no forecast: a handful of
/// orders is mostly chance, and a lift read from it means nothing.
pub const MIN_DAILY_ORDERS: f64 = 5.0;
/// The range's percentiles.
pub const LOW_PERCENTILE: f64 = 0.10;
pub const HIGH_PERCENTILE: f64 = 0.90;
/// The longest look ahead `[outlook] days` may ask for.
pub const MAX_DAYS: u32 = 14;

/// `[outlook]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlookSettings {
    /// Days ahead the "Coming up" section covers.
    #[serde(default = "default_days")]
    pub days: u32,
}

fn default_days() -> u32 {
    7
}

impl Default for OutlookSettings {
    fn default() -> Self {
        OutlookSettings {
            days: default_days(),
        }
    }
}

/// A campaign as the forecast sees it: when and on which channel.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpan {
    pub name: String,
    pub channel: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl CampaignSpan {
    pub fn runs_on(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }
}

/// Orders per day and the campaign calendar.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Orders per day; a day between the first and the last with none counts as 0.
    orders: BTreeMap<NaiveDate, f64>,
    campaigns: Vec<CampaignSpan>,
    /// Each day's baseline as known the day before. It reads only the days before, so it
    /// is the same whatever later origin asks for it: the errors and the uplifts of every
    /// forecast (and every replayed one) share it instead of working it out again.
    one_step: BTreeMap<NaiveDate, f64>,
    /// The days of history some campaign ran on.
    campaign_days: std::collections::BTreeSet<NaiveDate>,
}

impl History {
    pub fn new(orders: BTreeMap<NaiveDate, f64>, campaigns: Vec<CampaignSpan>) -> History {
        let orders = orders.into_iter().filter(|(_, v)| v.is_finite()).collect();
        let mut h = History {
            orders,
            campaigns,
            one_step: BTreeMap::new(),
            campaign_days: Default::default(),
        };
        if let (Some(first), Some(last)) = (h.first_day(), h.last_day()) {
            // Only days with history are ever asked about: each campaign is clipped to them.
            h.campaign_days = h
                .campaigns
                .iter()
                .flat_map(|c| {
                    c.start
                        .max(first)
                        .iter_days()
                        .take_while(move |d| *d <= c.end.min(last))
                })
                .collect();
            h.one_step = first
                .iter_days()
                .skip(1)
                .take_while(|d| *d <= last)
                .filter_map(|d| Some((d, baseline(&h, d - Days::new(1), d)?.value)))
                .collect();
        }
        h
    }

    /// The baseline of `d` known the day before.
    fn one_step(&self, d: NaiveDate) -> Option<f64> {
        self.one_step.get(&d).copied()
    }

    pub fn first_day(&self) -> Option<NaiveDate> {
        self.orders.keys().next().copied()
    }

    pub fn last_day(&self) -> Option<NaiveDate> {
        self.orders.keys().next_back().copied()
    }

    /// Orders on `d`; None before the first day with data or after the last.
    pub fn orders(&self, d: NaiveDate) -> Option<f64> {
        let (first, last) = (self.first_day()?, self.last_day()?);
        (first <= d && d <= last).then(|| self.orders.get(&d).copied().unwrap_or(0.0))
    }

    fn campaign_day(&self, d: NaiveDate) -> bool {
        self.campaign_days.contains(&d)
    }

    /// Days of history on or before `origin`.
    pub fn days_known(&self, origin: NaiveDate) -> u64 {
        match self.first_day() {
            Some(first) if first <= origin => (origin - first).num_days() as u64 + 1,
            _ => 0,
        }
    }

    pub fn campaigns(&self) -> &[CampaignSpan] {
        &self.campaigns
    }
}

/// The baseline for one day, and what it was made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub value: f64,
    pub median: f64,
    /// The capped 28-day ratio (1 without 8 weeks of history).
    pub trend: f64,
    pub samples: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The trend known on `origin`: the mean ordinary day of the 28 days ending on it against
/// the 28 before, capped. Without 56 days of history, or with no orders in the earlier
/// window, 1.
pub fn trend(h: &History, origin: NaiveDate) -> f64 {
    let mean = |from: NaiveDate, to: NaiveDate| -> Option<f64> {
        let days: Vec<(NaiveDate, f64)> = from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|d| Some((d, h.orders(d)?)))
            .collect::<Option<_>>()?;
        let ordinary: Vec<f64> = days
            .iter()
            .filter(|(d, _)| !h.campaign_day(*d))
            .map(|(_, v)| *v)
            .collect();
        // A shop that always runs a campaign has no ordinary days: all days then count.
        let used: Vec<f64> = if ordinary.len() >= 7 {
            ordinary
        } else {
            days.iter().map(|(_, v)| *v).collect()
        };
        Some(used.iter().sum::<f64>() / used.len() as f64)
    };
    let recent_from = origin - Days::new(TREND_DAYS - 1);
    let before_from = origin - Days::new(2 * TREND_DAYS - 1);
    let before_to = origin - Days::new(TREND_DAYS);
    match (mean(recent_from, origin), mean(before_from, before_to)) {
        (Some(r), Some(b)) if b > 0.0 => (r / b).clamp(1.0 / TREND_CAP, TREND_CAP),
        _ => 1.0,
    }
}

/// The baseline for `target`, known on `origin` (before it): the median of the same
/// weekday's last [`WEEKS`] days on or before `origin`, scaled by the trend over the
/// distance from those days to `target`. None without those 4 weeks of history.
pub fn baseline(h: &History, origin: NaiveDate, target: NaiveDate) -> Option<Baseline> {
    if target <= origin {
        return None;
    }
    let ahead = (target - origin).num_days() as u64;
    let first = target - Days::new(7 * ahead.div_ceil(7));
    let sampled: Vec<(NaiveDate, f64)> = (0..WEEKS)
        .map(|k| {
            let d = first - Days::new(7 * k);
            Some((d, h.orders(d)?))
        })
        .collect::<Option<_>>()?;
    let ordinary: Vec<(NaiveDate, f64)> = sampled
        .iter()
        .copied()
        .filter(|(d, _)| !h.campaign_day(*d))
        .collect();
    let used = if ordinary.len() >= 2 {
        ordinary
    } else {
        sampled
    };
    let lag = used
        .iter()
        .map(|(d, _)| (target - *d).num_days() as f64)
        .sum::<f64>()
        / used.len() as f64;
    let mut values: Vec<f64> = used.iter().map(|(_, v)| *v).collect();
    let median = median(&mut values);
    let trend = trend(h, origin);
    Some(Baseline {
        value: median * trend.powf(lag / TREND_DAYS as f64),
        median,
        trend,
        samples: used.len(),
    })
}

/// What past campaigns on one channel say about the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplift {
    pub channel: String,
    /// Past campaigns with days of data: their number, and their mean lift before shrinking.
    pub campaigns: usize,
    pub raw: Option<f64>,
    /// The factor applied: 1 without past campaigns.
    pub lift: f64,
}

/// The observed lift of campaigns on `channel` whose days fall on or before `origin`
/// (orders on their days against the baseline known the day before each), averaged and
/// shrunk toward 1 by [`PRIOR`].
pub fn uplift(h: &History, origin: NaiveDate, channel: &str) -> Uplift {
    let oldest = origin - Days::new(CAMPAIGN_LOOKBACK_DAYS);
    let lifts: Vec<f64> = h
        .campaigns
        .iter()
        .filter(|c| c.channel == channel && c.start <= origin && c.start >= oldest)
        .filter_map(|c| {
            let (mut actual, mut base) = (0.0, 0.0);
            for d in c.start.iter_days().take_while(|d| *d <= c.end.min(origin)) {
                let (Some(a), Some(b)) = (h.orders(d), h.one_step(d)) else {
                    continue;
                };
                actual += a;
                base += b;
            }
            (base > 0.0).then(|| actual / base)
        })
        .collect();
    let n = lifts.len();
    let raw = (n > 0).then(|| lifts.iter().sum::<f64>() / n as f64);
    let lift = raw.map_or(1.0, |r| 1.0 + (r - 1.0) * n as f64 / (n as f64 + PRIOR));
    Uplift {
        channel: channel.to_string(),
        campaigns: n,
        raw,
        lift,
    }
}

/// The `p` quantile of `values` (0 ≤ p ≤ 1) by the (n + 1)p rule ("type 6"): the
/// position whose expected share of a new value below it is p, so a range from the 10th to
/// the 90th holds a new day 8 times in 10 when days are alike. Linear between order
/// statistics, held at the smallest and largest. None for no values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    // 1-based position.
    let h = (n as f64 + 1.0) * p.clamp(0.0, 1.0);
    if h <= 1.0 {
        return Some(v[0]);
    }
    if h >= n as f64 {
        return Some(v[n - 1]);
    }
    let lo = h.floor() as usize;
    Some(v[lo - 1] + (h - lo as f64) * (v[lo] - v[lo - 1]))
}

/// actual / baseline on each ordinary day of the [`ERROR_DAYS`] ending on `origin`, each
/// baseline known the day before.
pub fn errors(h: &History, origin: NaiveDate) -> Vec<f64> {
    let from = origin - Days::new(ERROR_DAYS - 1);
    from.iter_days()
        .take_while(|d| *d <= origin)
        .filter(|d| !h.campaign_day(*d))
        .filter_map(|d| {
            let actual = h.orders(d)?;
            let b = h.one_step(d)?;
            (b > 0.0).then(|| actual / b)
        })
        .collect()
}

/// How the range was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeSource {
    /// The baseline's own errors over the last 8 weeks.
    Errors,
    /// Too few errors yet: an 80% interval of a Poisson count around the expectation.
    CountingNoise,
}

/// The ratios the range multiplies the expectation by, or None for counting noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeRatios {
    pub low: f64,
    pub high: f64,
}

pub fn range_ratios(errors: &[f64]) -> Option<RangeRatios> {
    if errors.len() < MIN_ERRORS {
        return None;
    }
    Some(RangeRatios {
        low: percentile(errors, LOW_PERCENTILE)?,
        high: percentile(errors, HIGH_PERCENTILE)?,
    })
}

/// One day ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct DayForecast {
    pub day: NaiveDate,
    pub baseline: Baseline,
    /// The uplift of each channel with a campaign on the day.
    pub uplifts: Vec<Uplift>,
    /// The campaigns running on the day.
    pub campaigns: Vec<CampaignSpan>,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    pub range: RangeSource,
}

impl DayForecast {
    /// The campaign the day's lift comes from most: the one on the channel of the largest
    /// uplift above 1, the earliest to start on a tie.
    pub fn driver(&self) -> Option<(&CampaignSpan, &Uplift)> {
        self.campaigns
            .iter()
            .filter_map(|c| Some((c, self.uplifts.iter().find(|u| u.channel == c.channel)?)))
            .filter(|(_, u)| u.lift > 1.0)
            .max_by(|a, b| {
                a.1.lift
                    .total_cmp(&b.1.lift)
                    .then(b.0.start.cmp(&a.0.start))
            })
    }
}

/// 80% of a Poisson count lies within about ±1.2816 standard deviations of its mean.
const Z80: f64 = 1.281_551_565_545;

/// Uplifts by channel for one origin, each worked out once.
type Uplifts = BTreeMap<String, Uplift>;

fn forecast_with(
    h: &History,
    origin: NaiveDate,
    target: NaiveDate,
    ratios: Option<RangeRatios>,
    known: &mut Uplifts,
) -> Option<DayForecast> {
    let baseline = baseline(h, origin, target)?;
    let campaigns: Vec<CampaignSpan> = h
        .campaigns
        .iter()
        .filter(|c| c.runs_on(target))
        .cloned()
        .collect();
    let mut channels: Vec<&str> = campaigns.iter().map(|c| c.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let uplifts: Vec<Uplift> = channels
        .iter()
        .map(|ch| {
            known
                .entry(ch.to_string())
                .or_insert_with(|| uplift(h, origin, ch))
                .clone()
        })
        .collect();
    let expected = baseline.value * uplifts.iter().map(|u| u.lift).product::<f64>();
    let (low, high, range) = match ratios {
        Some(r) => (expected * r.low, expected * r.high, RangeSource::Errors),
        None => {
            let sd = expected.max(0.0).sqrt();
            (
                (expected - Z80 * sd).max(0.0),
                expected + Z80 * sd,
                RangeSource::CountingNoise,
            )
        }
    };
    Some(DayForecast {
        day: target,
        baseline,
        uplifts,
        campaigns,
        expected,
        low,
        high,
        range,
    })
}

/// The forecast of one day made on `origin`.
pub fn forecast_day(h: &History, origin: NaiveDate, target: NaiveDate) -> Option<DayForecast> {
    forecast_with(
        h,
        origin,
        target,
        range_ratios(&errors(h, origin)),
        &mut Uplifts::new(),
    )
}

/// Why a forecast cannot be made on `origin`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoForecast {
    /// Days of history, fewer than [`MIN_HISTORY_DAYS`].
    ShortHistory(u64),
    /// Mean orders a day over the last 4 weeks, under [`MIN_DAILY_ORDERS`].
    FewOrders(f64),
}

pub fn forecastable(h: &History, origin: NaiveDate) -> Result<(), NoForecast> {
    let known = h.days_known(origin);
    if known < MIN_HISTORY_DAYS {
        return Err(NoForecast::ShortHistory(known));
    }
    let from = origin - Days::new(MIN_HISTORY_DAYS - 1);
    let total: f64 = from
        .iter_days()
        .take_while(|d| *d <= origin)
        .filter_map(|d| h.orders(d))
        .sum();
    let mean = total / MIN_HISTORY_DAYS as f64;
    if mean < MIN_DAILY_ORDERS {
        return Err(NoForecast::FewOrders(mean));
    }
    Ok(())
}

/// The `days` after `origin`; empty when [`forecastable`] says no.
pub fn forecast(h: &History, origin: NaiveDate, days: u32) -> Vec<DayForecast> {
    if forecastable(h, origin).is_err() {
        return Vec::new();
    }
    let ratios = range_ratios(&errors(h, origin));
    let mut known = Uplifts::new();
    (1..=u64::from(days.min(MAX_DAYS)))
        .filter_map(|k| forecast_with(h, origin, origin + Days::new(k), ratios, &mut known))
        .collect()
}

/// One replayed day: what was expected `horizon` days before, and what came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BacktestRow {
    pub day: NaiveDate,
    pub horizon: u32,
    pub actual: f64,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
}

impl BacktestRow {
    pub fn in_range(&self) -> bool {
        self.low <= self.actual && self.actual <= self.high
    }
}

/// Accuracy over a set of replayed days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    pub days: usize,
    /// Mean of |actual − expected| / actual over days with orders.
    pub mape: Option<f64>,
    /// Share of days whose orders fell inside the range.
    pub in_range: Option<f64>,
    /// Σ(expected − actual) / Σ actual: above 0 the forecast ran high.
    pub bias: Option<f64>,
}

pub fn accuracy(rows: &[BacktestRow]) -> Accuracy {
    let with_orders: Vec<&BacktestRow> = rows.iter().filter(|r| r.actual > 0.0).collect();
    let actual: f64 = rows.iter().map(|r| r.actual).sum();
    Accuracy {
        days: rows.len(),
        mape: (!with_orders.is_empty()).then(|| {
            with_orders
                .iter()
                .map(|r| (r.actual - r.expected).abs() / r.actual)
                .sum::<f64>()
                / with_orders.len() as f64
        }),
        in_range: (!rows.is_empty())
            .then(|| rows.iter().filter(|r| r.in_range()).count() as f64 / rows.len() as f64),
        bias: (actual > 0.0)
            .then(|| rows.iter().map(|r| r.expected - r.actual).sum::<f64>() / actual),
    }
}

/// The forecast replayed over the `days` ending on `last`, at each horizon from 1 to
/// `horizons`: each day forecast from the history known `horizon` days before it. Days
/// without a forecast (too little history then) are left out.
pub fn backtest(h: &History, last: NaiveDate, days: u32, horizons: u32) -> Vec<BacktestRow> {
    let first = last - Days::new(u64::from(days.max(1)) - 1);
    let mut out = Vec::new();
    for horizon in 1..=horizons.clamp(1, MAX_DAYS) {
        for day in first.iter_days().take_while(|d| *d <= last) {
            let origin = day - Days::new(u64::from(horizon));
            if forecastable(h, origin).is_err() {
                continue;
            }
            let (Some(actual), Some(f)) = (h.orders(day), forecast_day(h, origin, day)) else {
                continue;
            };
            out.push(BacktestRow {
                day,
                horizon,
                actual,
                expected: f.expected,
                low: f.low,
                high: f.high,
            });
        }
    }
    out
}

/// A backtest with its accuracy, overall and per horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    pub last: NaiveDate,
    pub days: u32,
    pub horizons: u32,
    pub overall: Accuracy,
    pub by_horizon: Vec<(u32, Accuracy)>,
    pub rows: Vec<BacktestRow>,
}

pub fn backtest_report(h: &History, last: NaiveDate, days: u32, horizons: u32) -> BacktestReport {
    let rows = backtest(h, last, days, horizons);
    let horizons = horizons.clamp(1, MAX_DAYS);
    BacktestReport {
        last,
        days,
        horizons,
        overall: accuracy(&rows),
        by_horizon: (1..=horizons)
            .map(|k| {
                let at: Vec<BacktestRow> =
                    rows.iter().filter(|r| r.horizon == k).copied().collect();
                (k, accuracy(&at))
            })
            .collect(),
        rows,
    }
}

/// "Thu 3 Dec".
pub fn day_label(d: NaiveDate) -> String {
    format!("{} {}", d.format("%a"), d.format("%-d %b"))
}

/// The weekday of `d` as a word, for text that says "every Thursday".
pub fn weekday_name(d: NaiveDate) -> &'static str {
    match d.weekday() {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// `n` days ending on `last`, orders from `f(day index from the start)`.
    fn series(last: &str, n: u64, f: impl Fn(u64, NaiveDate) -> f64) -> BTreeMap<NaiveDate, f64> {
        let first = d(last) - Days::new(n - 1);
        (0..n)
            .map(|i| {
                let day = first + Days::new(i);
                (day, f(i, day))
            })
            .collect()
    }

    fn campaign(name: &str, channel: &str, start: &str, end: &str) -> CampaignSpan {
        CampaignSpan {
            name: name.into(),
            channel: channel.into(),
            start: d(start),
            end: d(end),
        }
    }

    #[test]
    fn the_baseline_is_the_median_of_the_same_weekday() {
        // 28 days ending Tue 1 Dec 2026. Thursdays (26 Nov, 19, 12, 5 Nov) hold 120, 100,
        // 200 and 90; every other day 50. Without 56 days there is no trend.
        let thursdays: BTreeMap<NaiveDate, f64> = [
            (d("2026-11-26"), 120.0),
            (d("2026-11-19"), 100.0),
            (d("2026-11-12"), 200.0),
            (d("2026-11-05"), 90.0),
        ]
        .into();
        let h = History::new(
            series("2026-12-01", 28, |_, day| {
                thursdays.get(&day).copied().unwrap_or(50.0)
            }),
            Vec::new(),
        );
        // Thu 3 Dec: median of 90, 100, 120, 200 = (100 + 120) / 2 = 110.
        let b = baseline(&h, d("2026-12-01"), d("2026-12-03")).unwrap();
        assert_eq!((b.median, b.trend, b.samples), (110.0, 1.0, 4));
        assert_eq!(b.value, 110.0);
        // Thu 10 Dec, 9 days out, samples the same four Thursdays.
        assert_eq!(
            baseline(&h, d("2026-12-01"), d("2026-12-10"))
                .unwrap()
                .median,
            110.0
        );
        // Wed 2 Dec: four Wednesdays of 50.
        assert_eq!(
            baseline(&h, d("2026-12-01"), d("2026-12-02"))
                .unwrap()
                .value,
            50.0
        );
        // A campaign on 12 Nov takes the 200 out: median of 90, 100, 120 = 100.
        let h2 = History::new(
            h.orders,
            vec![campaign("Push", "email", "2026-11-12", "2026-11-12")],
        );
        let b = baseline(&h2, d("2026-12-01"), d("2026-12-03")).unwrap();
        assert_eq!((b.median, b.samples), (100.0, 3));
        // 27 days of history (from 5 Nov): no 4th Wednesday before 2 Dec, no baseline, and
        // no forecast at all.
        let short = History::new(series("2026-12-01", 27, |_, _| 50.0), Vec::new());
        assert_eq!(baseline(&short, d("2026-12-01"), d("2026-12-02")), None);
        assert!(forecast(&short, d("2026-12-01"), 7).is_empty());
    }

    #[test]
    fn the_trend_is_capped() {
        // 56 days: the first 28 at 100 a day, the last 28 at `recent`.
        let h = |recent: f64| {
            History::new(
                series("2026-12-01", 56, |i, _| if i < 28 { 100.0 } else { recent }),
                Vec::new(),
            )
        };
        assert_eq!(trend(&h(110.0), d("2026-12-01")), 1.1);
        // 150 / 100 = 1.5 is held at 1.25; 60 / 100 = 0.6 at 1 / 1.25 = 0.8.
        assert_eq!(trend(&h(150.0), d("2026-12-01")), 1.25);
        assert_eq!(trend(&h(60.0), d("2026-12-01")), 0.8);
        // The baseline for Wed 2 Dec samples 25 Nov, 18, 11 and 4 Nov: 7, 14, 21 and 28
        // days before, a mean lag of 17.5 days. 110 × 1.1^(17.5 / 28).
        let b = baseline(&h(110.0), d("2026-12-01"), d("2026-12-02")).unwrap();
        assert!((b.value - 110.0 * 1.1f64.powf(0.625)).abs() < 1e-9);
        // 1.1^0.625 = e^(0.625 × ln 1.1) = e^0.059569 = 1.061379, so 116.75.
        assert!((b.value - 116.75).abs() < 0.01, "{}", b.value);
        // 55 days: no trend.
        let short = History::new(series("2026-12-01", 55, |_, _| 100.0), Vec::new());
        assert_eq!(trend(&short, d("2026-12-01")), 1.0);
    }

    /// A flat 100 orders a day for 200 days to 1 Dec; each campaign's days get 150.
    fn with_campaigns(n: usize) -> History {
        let campaigns: Vec<CampaignSpan> = (0..n)
            .map(|i| {
                // Two-day email campaigns, three weeks apart, the last ending 20 Nov.
                let end = d("2026-11-20") - Days::new(21 * i as u64);
                campaign(
                    &format!("C{i}"),
                    "email",
                    &(end - Days::new(1)).to_string(),
                    &end.to_string(),
                )
            })
            .collect();
        let spans = campaigns.clone();
        let orders = series("2026-12-01", 200, |_, day| {
            if spans.iter().any(|c| c.runs_on(day)) {
                150.0
            } else {
                100.0
            }
        });
        History::new(orders, campaigns)
    }

    #[test]
    fn the_uplift_is_shrunk_toward_one_for_few_campaigns() {
        // Every past campaign lifted orders by exactly 1.5 over a flat baseline of 100
        // (campaign days are out of the median, and the trend's ordinary days are flat).
        let none = uplift(&with_campaigns(0), d("2026-12-01"), "email");
        assert_eq!((none.campaigns, none.raw, none.lift), (0, None, 1.0));
        // One campaign: 1 + 0.5 × 1 / 2 = 1.25.
        let one = uplift(&with_campaigns(1), d("2026-12-01"), "email");
        assert_eq!(one.campaigns, 1);
        assert!((one.raw.unwrap() - 1.5).abs() < 1e-9);
        assert!((one.lift - 1.25).abs() < 1e-9);
        // Five: 1 + 0.5 × 5 / 6 = 1.41667.
        let five = uplift(&with_campaigns(5), d("2026-12-01"), "email");
        assert_eq!(five.campaigns, 5);
        assert!((five.lift - (1.0 + 0.5 * 5.0 / 6.0)).abs() < 1e-9);
        // Another channel has no past campaign.
        assert_eq!(
            uplift(&with_campaigns(5), d("2026-12-01"), "paid_social").lift,
            1.0
        );
        // A campaign not started by the origin does not count.
        assert_eq!(
            uplift(&with_campaigns(1), d("2026-11-18"), "email").campaigns,
            0
        );
    }

    #[test]
    fn an_upcoming_campaign_multiplies_the_baseline_by_its_channels_uplift() {
        let past = with_campaigns(1);
        let mut campaigns = past.campaigns.clone();
        campaigns.push(campaign("Next", "email", "2026-12-03", "2026-12-04"));
        let h = History::new(past.orders, campaigns);
        let f = forecast(&h, d("2026-12-01"), 7);
        assert_eq!(f.len(), 7);
        let thu = &f[1];
        assert_eq!(thu.day, d("2026-12-03"));
        assert!((thu.expected - 125.0).abs() < 1e-9, "{}", thu.expected);
        assert_eq!(thu.driver().unwrap().0.name, "Next");
        assert!((f[0].expected - 100.0).abs() < 1e-9);
        assert!(f[0].driver().is_none());
    }

    #[test]
    fn a_forecast_reads_nothing_after_its_origin() {
        // Noisy orders with a campaign after the origin: the forecast made on 10 Nov is the
        // same whether the store holds the days after it or not.
        let noisy = |i: u64| 100.0 + ((i * 7919) % 37) as f64;
        let full = History::new(
            series("2026-12-01", 200, |i, _| noisy(i)),
            vec![
                campaign("Before", "email", "2026-10-01", "2026-10-03"),
                campaign("After", "email", "2026-11-12", "2026-11-14"),
            ],
        );
        let origin = d("2026-11-10");
        let cut = History::new(
            full.orders
                .range(..=origin)
                .map(|(k, v)| (*k, *v))
                .collect(),
            full.campaigns.clone(),
        );
        let (a, b) = (forecast(&full, origin, 7), forecast(&cut, origin, 7));
        assert_eq!(a.len(), 7);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.expected, x.low, x.high), (y.expected, y.low, y.high));
        }
        // The campaign after the origin is in the forecast (the calendar is known ahead),
        // with the lift of the one before it.
        assert_eq!(a[2].campaigns[0].name, "After");
        assert_eq!(a[2].uplifts[0].campaigns, 1);
    }

    #[test]
    fn percentiles_interpolate_between_order_statistics() {
        // 11 values 0, 10, ..., 100. The 10th percentile is at position (11 + 1) × 0.1 =
        // 1.2: 0 + 0.2 × 10 = 2. The 90th at 10.8: 90 + 0.8 × 10 = 98.
        let v: Vec<f64> = (0..=10).rev().map(|i| f64::from(i) * 10.0).collect();
        assert!((percentile(&v, 0.1).unwrap() - 2.0).abs() < 1e-12);
        assert!((percentile(&v, 0.9).unwrap() - 98.0).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        // 1, 2, 3, 4: positions 0.5 and 4.5 fall outside, so the ends hold.
        let w = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&w, 0.1), Some(1.0));
        assert_eq!(percentile(&w, 0.9), Some(4.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn the_range_is_the_10th_to_90th_percentile_of_the_errors() {
        // 14 errors; sorted: 0.8, 0.85, 0.9, 0.9, 0.95, 1.0 ×4, 1.05, 1.1, 1.15, 1.2, 1.3.
        // The 10th percentile sits at position 15 × 0.1 = 1.5: 0.8 + 0.5 × 0.05 = 0.825.
        // The 90th at 13.5: 1.2 + 0.5 × 0.1 = 1.25.
        let e = [
            0.8, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 0.85, 1.0, 1.0, 0.9, 1.15,
        ];
        let r = range_ratios(&e).unwrap();
        assert!((r.low - 0.825).abs() < 1e-12, "{}", r.low);
        assert!((r.high - 1.25).abs() < 1e-12, "{}", r.high);
        // One error fewer is too few to read a range from.
        assert_eq!(range_ratios(&e[..13]), None);
    }

    #[test]
    fn errors_are_actual_over_the_baseline_known_the_day_before() {
        // Flat at 100 for 140 days but 150 on Sat 28 Nov: that day's error is 1.5, and
        // every day before it 1.0.
        let spike = d("2026-11-28");
        let h = History::new(
            series(
                "2026-12-01",
                140,
                |_, day| if day == spike { 150.0 } else { 100.0 },
            ),
            Vec::new(),
        );
        let e = errors(&h, d("2026-12-01"));
        assert_eq!(e.len(), 56);
        assert!(e[..52].iter().all(|x| *x == 1.0), "{e:?}");
        assert_eq!(e[52], 1.5);
        // After it, the trend's recent window holds the spike: 29 Nov's baseline is
        // 100 × (100 + 50 / 28)^... / 100, a hair above 100, so its error is a hair below 1.
        let after = 100.0 / (100.0 * (1.0 + 50.0 / 28.0 / 100.0f64).powf(0.625));
        assert!((e[53] - after).abs() < 1e-9, "{} vs {after}", e[53]);
        // A flat shop's range is the expectation itself.
        let flat = History::new(series("2026-12-01", 140, |_, _| 100.0), Vec::new());
        let f = forecast(&flat, d("2026-12-01"), 1);
        assert_eq!((f[0].low, f[0].expected, f[0].high), (100.0, 100.0, 100.0));
        assert_eq!(f[0].range, RangeSource::Errors);
    }

    #[test]
    fn a_shop_of_a_few_orders_a_day_gets_no_forecast() {
        // Three days of 4 and 25 of 5: 137 orders in 28 days, 4.89 a day. 140 (5.0 a day)
        // is enough.
        let few = History::new(
            series("2026-12-01", 28, |i, _| if i < 3 { 4.0 } else { 5.0 }),
            Vec::new(),
        );
        assert_eq!(
            forecastable(&few, d("2026-12-01")),
            Err(NoForecast::FewOrders(137.0 / 28.0))
        );
        assert!(forecast(&few, d("2026-12-01"), 7).is_empty());
        let enough = History::new(series("2026-12-01", 28, |_, _| 5.0), Vec::new());
        assert_eq!(forecastable(&enough, d("2026-12-01")), Ok(()));
        assert_eq!(forecast(&enough, d("2026-12-01"), 7).len(), 7);
        assert_eq!(
            forecastable(&enough, d("2026-11-30")),
            Err(NoForecast::ShortHistory(27))
        );
    }

    #[test]
    fn too_few_errors_fall_back_to_counting_noise() {
        // 30 days: a baseline, but only 2 days with a known baseline before them.
        let h = History::new(series("2026-12-01", 30, |_, _| 100.0), Vec::new());
        let f = forecast(&h, d("2026-12-01"), 1);
        assert_eq!(f[0].range, RangeSource::CountingNoise);
        // 100 ± 1.2816 × 10.
        assert!((f[0].low - (100.0 - Z80 * 10.0)).abs() < 1e-9);
        assert!((f[0].high - (100.0 + Z80 * 10.0)).abs() < 1e-9);
    }

    #[test]
    fn backtest_figures_by_hand() {
        let rows = [
            BacktestRow {
                day: d("2026-12-01"),
                horizon: 1,
                actual: 100.0,
                expected: 90.0,
                low: 80.0,
                high: 110.0,
            },
            BacktestRow {
                day: d("2026-12-02"),
                horizon: 1,
                actual: 50.0,
                expected: 60.0,
                low: 55.0,
                high: 70.0,
            },
        ];
        let a = accuracy(&rows);
        // |100-90|/100 = 0.1, |50-60|/50 = 0.2: MAPE 0.15. One of two in range. Bias
        // (−10 + 10) / 150 = 0.
        assert!((a.mape.unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(a.in_range, Some(0.5));
        assert_eq!(a.bias, Some(0.0));
        // A flat shop is forecast exactly at every horizon.
        let h = History::new(series("2026-12-01", 200, |_, _| 100.0), Vec::new());
        let rows = backtest(&h, d("2026-12-01"), 56, 7);
        assert_eq!(rows.len(), 56 * 7);
        let a = accuracy(&rows);
        assert_eq!(
            (a.mape, a.in_range, a.bias),
            (Some(0.0), Some(1.0), Some(0.0))
        );
    }
}
