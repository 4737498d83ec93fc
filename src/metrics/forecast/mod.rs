//! The week ahead: expected orders per day, with a range, from the order history, the
//! trading calendar and the campaign calendar; and the backtest that says how good those
//! expectations have been.
//!
//! Pure: the history, the calendars and the day the forecast is made from are arguments.
//! The method (README, "The week ahead"):
//! - **closed days** are 0, with a range of 0 to 0, and are not data: nothing is learnt from
//!   their zeros, and the level is carried across a closure;
//! - **baseline** = (level + damped trend) × the weekday's share, Holt-Winters smoothing of
//!   the ordinary open days with its weights chosen each day by the errors of the year
//!   before (`smooth`);
//! - **uplift** per channel = 1 + (mean lift of past campaigns on it − 1) × n / (n + [`PRIOR`])
//!   (`uplift`);
//! - **range** = the forecast's own errors made about as far ahead, at the level expected now,
//!   each end widened after a miss and narrowed after a hit (`range`).
//!
//! A forecast made on day D reads orders of days up to D only. Every figure that does not
//! depend on the day forecast (each day's smoothed state, each lag's errors, the range's
//! factors) is worked out once per history, for every day, in [`History::new`]: each reads
//! only the days up to its own, so one table serves every origin a backtest replays.

use std::collections::BTreeMap;

use chrono::{Datelike, Days as Span, NaiveDate};
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;

mod backtest;
mod days;
pub mod range;
pub mod smooth;
mod uplift;

pub use backtest::{
    Accuracy, BacktestReport, BacktestRow, Window, accuracy, backtest, backtest_report,
};
use days::{Days, weekday};
use range::{Errors, Factors, MAX_LAG, Shown};
pub use smooth::Weights;
use smooth::{INIT_DAYS, State};
pub use uplift::{CAMPAIGN_LOOKBACK_DAYS, CampaignSpan, PRIOR, Uplift, uplift};
use uplift::{Lifts, lift};

/// Days of order history before a forecast is made.
pub const MIN_HISTORY_DAYS: u64 = INIT_DAYS as u64;
/// Fewer orders an open day than this over the last 4 weeks, and no forecast: a handful of
/// orders is mostly chance, and a lift read from it means nothing.
pub const MIN_DAILY_ORDERS: f64 = 5.0;
/// The longest look ahead `[outlook] days` may ask for.
pub const MAX_DAYS: u32 = 14;
/// The most days of order history read before a forecast's date. A shop younger than this
/// is read from its first day, so that the email and a backtest start from the same day.
pub const HISTORY_DAYS: u64 = 3650;
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

/// Orders per day, the trading calendar and the campaign calendar, with every figure the
/// forecasts of any origin share.
#[derive(Debug, Clone, Default)]
pub struct History {
    days: Days,
    calendar: Calendar,
    campaigns: Vec<CampaignSpan>,
    /// Each day's smoothed state and the weights it was smoothed with (from the last day of
    /// the first [`INIT_DAYS`]).
    states: Vec<Option<(State, Weights)>>,
    /// The last ordinary day on or before each day.
    last_used: Vec<Option<usize>>,
    /// Each day's baseline as known the day before, for the uplifts.
    one_step: Vec<Option<f64>>,
    errors: Errors,
    /// The range's factors as known at the end of each day.
    factors: Vec<Factors>,
}

impl History {
    pub fn new(
        orders: BTreeMap<NaiveDate, f64>,
        campaigns: Vec<CampaignSpan>,
        calendar: Calendar,
    ) -> History {
        let orders: BTreeMap<NaiveDate, f64> = orders
            .into_iter()
            .filter(|(_, v)| v.is_finite() && *v >= 0.0)
            .collect();
        let days = Days::new(&orders, &campaigns, &calendar);
        let last_used = days
            .used
            .iter()
            .enumerate()
            .scan(None, |last, (i, u)| {
                if *u {
                    *last = Some(i);
                }
                Some(*last)
            })
            .collect();
        let mut h = History {
            states: smooth::fit(&days),
            days,
            calendar,
            campaigns,
            last_used,
            ..History::default()
        };
        let n = h.days.len();
        h.one_step = (0..n)
            .map(|t| Some(h.baseline_at(h.anchor(t.checked_sub(1)?)?, t)?.value))
            .collect();
        h.errors = Errors::new(&h.days, |j, t| Some(h.baseline_at(j, t)?.value));
        let mut known = Lifts::default();
        // Every open day moves the factors, a campaign day against its range as shown.
        let factors = range::adapt(&h.days, &h.errors, |j, t| {
            let base = h.baseline_at(j, t)?.value;
            let (origin, target) = (h.days.date(j)?, h.days.date(t)?);
            Some(h.shown(origin, target, base, &mut known).0)
        });
        h.factors = factors;
        h
    }

    /// What the range of `target` forecast on `origin` is drawn around, from its `baseline`:
    /// with the lift of its campaigns (and those uplifts and campaigns).
    fn shown(
        &self,
        origin: NaiveDate,
        target: NaiveDate,
        baseline: f64,
        known: &mut Lifts,
    ) -> (Shown, Vec<Uplift>, Vec<CampaignSpan>) {
        let (factor, uplifts, campaigns) = lift(self, origin, target, known);
        let top =
            (!campaigns.is_empty()).then(|| baseline * known.largest(self, origin).max(factor));
        let shown = Shown {
            expected: baseline * factor,
            top,
        };
        (shown, uplifts, campaigns)
    }

    /// The day whose state a forecast made at the end of day `origin` starts from: the last
    /// ordinary day on or before it (the state does not move on other days), or the first
    /// state's day. None before there is a state.
    fn anchor(&self, origin: usize) -> Option<usize> {
        let origin = origin.min(self.days.len().checked_sub(1)?);
        if origin + 1 < INIT_DAYS {
            return None;
        }
        Some(self.last_used[origin].map_or(INIT_DAYS - 1, |u| u.max(INIT_DAYS - 1)))
    }

    /// The baseline of day index `t` (within the history) from the state of day `j`.
    fn baseline_at(&self, j: usize, t: usize) -> Option<Baseline> {
        let target = self.days.date(t)?;
        self.baseline_from(j, target)
    }

    /// The baseline of `target` (any day after `j`) from the state of day `j`.
    fn baseline_from(&self, j: usize, target: NaiveDate) -> Option<Baseline> {
        let (state, weights) = self.states.get(j).copied().flatten()?;
        let from = self.days.date(j)?;
        if target <= from {
            return None;
        }
        let steps = self.open_days_between(j, target);
        let w = weekday(target);
        let damped = smooth::damped_steps(steps);
        Some(Baseline {
            value: state.ahead(steps, w),
            level: state.level,
            trend: if state.level > 0.0 {
                ((state.level + state.trend * damped) / state.level).max(0.0)
            } else {
                1.0
            },
            share: state.share[w],
            weights,
            from,
        })
    }

    /// Open days after day `j` up to and including `target`, which may lie past the history.
    fn open_days_between(&self, j: usize, target: NaiveDate) -> u32 {
        let last = self.days.len() - 1;
        match self.days.index(target) {
            Some(t) => self.days.steps(j, t),
            None => {
                let beyond = self
                    .days
                    .date(last)
                    .into_iter()
                    .flat_map(|l| l.iter_days().skip(1))
                    .take_while(|d| *d <= target)
                    .take(MAX_DAYS as usize + MAX_LAG)
                    .filter(|d| self.calendar.is_open(*d))
                    .count();
                self.days.steps(j, last) + beyond as u32
            }
        }
    }

    /// The baseline of `target` as known at the end of `origin`. None without a state then,
    /// or for a day not after it.
    pub fn baseline(&self, origin: NaiveDate, target: NaiveDate) -> Option<Baseline> {
        let o = self.origin_index(origin)?;
        self.baseline_from(self.anchor(o)?, target)
    }

    /// The index of `origin` in the history, or of its last day when the origin is later.
    fn origin_index(&self, origin: NaiveDate) -> Option<usize> {
        let first = self.days.first?;
        let i = usize::try_from((origin - first).num_days()).ok()?;
        Some(i.min(self.days.len().checked_sub(1)?))
    }

    /// The baseline of `d` known the day before.
    fn one_step(&self, d: NaiveDate) -> Option<f64> {
        self.one_step.get(self.days.index(d)?).copied().flatten()
    }

    pub fn first_day(&self) -> Option<NaiveDate> {
        self.days.first
    }

    pub fn last_day(&self) -> Option<NaiveDate> {
        self.days.date(self.days.len().checked_sub(1)?)
    }

    /// Orders on `d`; None before the first day with data or after the last.
    pub fn orders(&self, d: NaiveDate) -> Option<f64> {
        Some(self.days.orders[self.days.index(d)?])
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

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }
}

/// The baseline for one day, and what it was made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub value: f64,
    /// The smoothed level: orders on a day whose weekday share is 1.
    pub level: f64,
    /// The damped trend's factor on the day (1: flat).
    pub trend: f64,
    /// The day's weekday share.
    pub share: f64,
    /// The smoothing weights chosen on the day the state is from.
    pub weights: Weights,
    /// The last day whose orders the state holds: the origin, or the last ordinary day
    /// before it (before a closure or a campaign).
    pub from: NaiveDate,
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

/// How the range was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeSource {
    /// The forecast's own errors made about as far ahead, over the last 13 weeks.
    Errors,
    /// Too few errors yet: an 80% interval of a Poisson count around the expectation.
    CountingNoise,
    /// The shop is closed: 0, and no range.
    Closed,
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
    /// Why the shop is closed on the day ("closed for Christmas"); None on an open day.
    pub closed: Option<String>,
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

fn forecast_with(
    h: &History,
    origin: NaiveDate,
    target: NaiveDate,
    known: &mut Lifts,
) -> Option<DayForecast> {
    let o = h.origin_index(origin)?;
    let j = h.anchor(o)?;
    let baseline = h.baseline_from(j, target)?;
    if let Some(why) = h.calendar.why_closed(target) {
        return Some(DayForecast {
            day: target,
            baseline: Baseline {
                value: 0.0,
                ..baseline
            },
            uplifts: Vec::new(),
            campaigns: h
                .campaigns
                .iter()
                .filter(|c| c.runs_on(target))
                .cloned()
                .collect(),
            expected: 0.0,
            low: 0.0,
            high: 0.0,
            range: RangeSource::Closed,
            closed: Some(why),
        });
    }
    let (shown, uplifts, campaigns) = h.shown(origin, target, baseline.value, known);
    let expected = shown.expected;
    let lag = usize::try_from((target - baseline.from).num_days()).ok()?;
    let spread = h.errors.spread(j, lag.min(MAX_LAG));
    let (low, high, range) = match spread {
        Some(s) => {
            let (low, high) = s.shown(shown, h.factors[o][lag.min(MAX_LAG)]);
            (low, high, RangeSource::Errors)
        }
        None => {
            let sd = expected.max(0.0).sqrt();
            let low = (expected - Z80 * sd).max(0.0);
            (low, expected + Z80 * sd, RangeSource::CountingNoise)
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
        closed: None,
    })
}

/// The forecast of one day made on `origin`.
pub fn forecast_day(h: &History, origin: NaiveDate, target: NaiveDate) -> Option<DayForecast> {
    forecast_with(h, origin, target, &mut Lifts::default())
}

/// Why a forecast cannot be made on `origin`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoForecast {
    /// Days of history, fewer than [`MIN_HISTORY_DAYS`].
    ShortHistory(u64),
    /// Mean orders an open day over the last 4 weeks, under [`MIN_DAILY_ORDERS`].
    FewOrders(f64),
}

pub fn forecastable(h: &History, origin: NaiveDate) -> Result<(), NoForecast> {
    let known = h.days_known(origin);
    if known < MIN_HISTORY_DAYS {
        return Err(NoForecast::ShortHistory(known));
    }
    let from = origin - Span::new(MIN_HISTORY_DAYS - 1);
    let open: Vec<f64> = from
        .iter_days()
        .take_while(|d| *d <= origin)
        .filter(|d| h.calendar.is_open(*d))
        .filter_map(|d| h.orders(d))
        .collect();
    let mean = if open.is_empty() {
        0.0
    } else {
        open.iter().sum::<f64>() / open.len() as f64
    };
    if mean < MIN_DAILY_ORDERS {
        return Err(NoForecast::FewOrders(mean));
    }
    // The first 28 days may hold no ordinary day to start the smoothing from.
    let state = h
        .origin_index(origin)
        .and_then(|o| h.anchor(o))
        .and_then(|j| h.states[j]);
    if state.is_none() {
        return Err(NoForecast::ShortHistory(known));
    }
    Ok(())
}

/// The `days` after `origin`; empty when [`forecastable`] says no.
pub fn forecast(h: &History, origin: NaiveDate, days: u32) -> Vec<DayForecast> {
    if forecastable(h, origin).is_err() {
        return Vec::new();
    }
    let mut known = Lifts::default();
    (1..=u64::from(days.min(MAX_DAYS)))
        .filter_map(|k| forecast_with(h, origin, origin + Span::new(k), &mut known))
        .collect()
}

/// The farthest a pre-flight's forecast reaches past its origin: as far as the range's
/// errors are measured beyond the outlook's longest look ahead.
pub const REACH_DAYS: u32 = MAX_DAYS + MAX_LAG as u32;

/// The days from `first` to `last` as forecast on `origin`, those within [`REACH_DAYS`] of
/// it; empty when [`forecastable`] says no.
pub fn forecast_span(
    h: &History,
    origin: NaiveDate,
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<DayForecast> {
    if forecastable(h, origin).is_err() {
        return Vec::new();
    }
    let reach = origin + Span::new(u64::from(REACH_DAYS));
    let mut known = Lifts::default();
    first
        .max(origin + Span::new(1))
        .iter_days()
        .take_while(|d| *d <= last.min(reach))
        .filter_map(|d| forecast_with(h, origin, d, &mut known))
        .collect()
}

/// "Thu 3 Dec".
pub fn day_label(d: NaiveDate) -> String {
    format!("{} {}", d.format("%a"), d.format("%-d %b"))
}

/// The weekday of `d` as a word, for text that says "every Thursday".
pub fn weekday_name(d: NaiveDate) -> &'static str {
    super::calendar::weekday_name(d.weekday())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::calendar::Closure;
    use chrono::Weekday;

    pub(super) fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// `n` days ending on `last`, orders from `f(day index from the start, day)`.
    pub(super) fn series(
        last: &str,
        n: u64,
        f: impl Fn(u64, NaiveDate) -> f64,
    ) -> BTreeMap<NaiveDate, f64> {
        let first = d(last) - Span::new(n - 1);
        (0..n)
            .map(|i| {
                let day = first + Span::new(i);
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
            stated: None,
        }
    }

    /// Closed on Saturdays and from 24 Dec 2025 to 3 Jan 2026.
    pub(super) fn christmas() -> Calendar {
        Calendar::new(
            [Weekday::Sat],
            vec![Closure {
                from: d("2025-12-24"),
                to: d("2026-01-03"),
                reason: "Christmas".into(),
            }],
        )
    }

    /// Deterministic noise: standard normal draws from a SplitMix64 stream.
    pub(super) struct Noise(u64);

    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        pub(super) fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.uniform().max(1e-12), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    #[test]
    fn closed_days_are_zero_and_the_level_is_carried_across_a_closure() {
        // 100 orders every open day, none on closed ones.
        let cal = christmas();
        let orders = series("2026-01-20", 300, |_, day| {
            if cal.is_open(day) { 100.0 } else { 0.0 }
        });
        let h = History::new(orders.clone(), Vec::new(), cal);
        let f = forecast(&h, d("2025-12-23"), 14);
        assert_eq!(f.len(), 14);
        for day in &f[..11] {
            // 24 Dec to 3 Jan: closed, whatever the weekday.
            assert_eq!(
                (day.expected, day.low, day.high),
                (0.0, 0.0, 0.0),
                "{}",
                day.day
            );
            assert_eq!(day.closed.as_deref(), Some("closed for Christmas"));
            assert_eq!(day.range, RangeSource::Closed);
        }
        // Sunday 4 Jan and after: the level of before, 100, not dragged down by 11 days of 0.
        assert_eq!(f[11].day, d("2026-01-04"));
        for day in &f[11..] {
            assert!((day.expected - 100.0).abs() < 1e-9, "{day:?}");
            assert_eq!(day.closed, None);
        }
        // Made during the closure, the forecast is the one made on its eve.
        let during = forecast_day(&h, d("2025-12-30"), d("2026-01-05")).unwrap();
        assert!((during.expected - 100.0).abs() < 1e-9);
        assert_eq!(during.baseline.from, d("2025-12-23"));
        // A Saturday after Christmas is closed for being a Saturday.
        let sat = forecast_day(&h, d("2026-01-05"), d("2026-01-10")).unwrap();
        assert_eq!(sat.closed.as_deref(), Some("closed on Saturdays"));
        // A calendar that does not know the closure takes its zeros for orders: the level
        // after it is lower.
        let blind = History::new(
            orders,
            Vec::new(),
            Calendar::new([Weekday::Sat], Vec::new()),
        );
        let after = forecast_day(&blind, d("2026-01-03"), d("2026-01-05")).unwrap();
        assert!(after.expected < 99.0, "{}", after.expected);
    }

    #[test]
    fn the_baseline_is_the_level_times_the_weekday_share() {
        // Thursdays 200, other days 100: the first 28 days give a level of 3,200 / 28 and
        // shares of 1.75 and 0.875; every day is then forecast exactly, so nothing moves.
        let h = History::new(
            series("2026-12-01", 140, |_, day| {
                if day.weekday() == Weekday::Thu {
                    200.0
                } else {
                    100.0
                }
            }),
            Vec::new(),
            Calendar::default(),
        );
        let f = forecast(&h, d("2026-12-01"), 7);
        for day in &f {
            let want = if day.day.weekday() == Weekday::Thu {
                200.0
            } else {
                100.0
            };
            assert!((day.expected - want).abs() < 1e-6, "{day:?}");
            // A series the forecast never misses has a range of the expectation itself.
            assert!((day.high - day.low).abs() < 1e-6, "{day:?}");
        }
        let b = f[1].baseline;
        assert!((b.level - 3200.0 / 28.0).abs() < 1e-6, "{b:?}");
        assert!((b.share - 1.75).abs() < 1e-6 && (b.trend - 1.0).abs() < 1e-9);
        // 27 days of history: no state, no forecast.
        let short = History::new(
            series("2026-12-01", 27, |_, _| 50.0),
            Vec::new(),
            Calendar::default(),
        );
        assert_eq!(short.baseline(d("2026-12-01"), d("2026-12-02")), None);
        assert!(forecast(&short, d("2026-12-01"), 7).is_empty());
    }

    #[test]
    fn a_rising_shop_is_forecast_with_its_damped_trend() {
        // 100 orders rising by 1 a day to 299 on 1 Dec: the week after holds 300 to 306. The
        // damped trend keeps each day within 3% of that, where the level alone (about 290,
        // smoothed over the days before) would be 3-5% low.
        let h = History::new(
            series("2026-12-01", 200, |i, _| 100.0 + i as f64),
            Vec::new(),
            Calendar::default(),
        );
        for (k, day) in forecast(&h, d("2026-12-01"), 7).iter().enumerate() {
            let truth = 300.0 + k as f64;
            assert!((day.expected / truth - 1.0).abs() < 0.03, "{day:?}");
            assert!(day.baseline.trend > 1.0, "{day:?}");
        }
    }

    /// A flat 100 orders a day for 200 days to 1 Dec; each campaign's days get 150.
    fn with_campaigns(n: usize) -> History {
        let campaigns: Vec<CampaignSpan> = (0..n)
            .map(|i| {
                // Two-day email campaigns, three weeks apart, the last ending 20 Nov.
                let end = d("2026-11-20") - Span::new(21 * i as u64);
                campaign(
                    &format!("C{i}"),
                    "email",
                    &(end - Span::new(1)).to_string(),
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
        History::new(orders, campaigns, Calendar::default())
    }

    #[test]
    fn the_uplift_is_shrunk_toward_one_for_few_campaigns() {
        // Every past campaign lifted orders by exactly 1.5 over a flat baseline of 100
        // (campaign days are not data, so the level before each stays 100).
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
        let orders = series("2026-12-01", 200, |_, day| past.orders(day).unwrap());
        let h = History::new(orders, campaigns, Calendar::default());
        let f = forecast(&h, d("2026-12-01"), 7);
        assert_eq!(f.len(), 7);
        let thu = &f[1];
        assert_eq!(thu.day, d("2026-12-03"));
        assert!((thu.expected - 125.0).abs() < 1e-9, "{}", thu.expected);
        assert_eq!(thu.driver().unwrap().0.name, "Next");
        // The shop never errs on an ordinary day, so an ordinary range is the expectation
        // itself; a campaign day's reaches up to the past campaign's whole lift, 100 × 1.5.
        assert!(
            (thu.low - 125.0).abs() < 1e-9 && (thu.high - 150.0).abs() < 1e-9,
            "{thu:?}"
        );
        assert!((f[0].high - f[0].low).abs() < 1e-9);
        assert!((f[0].expected - 100.0).abs() < 1e-9);
        assert!(f[0].driver().is_none());
    }

    #[test]
    fn a_forecast_reads_nothing_after_its_origin() {
        // Noisy orders, a closure and campaigns before and after the origin: the forecast
        // made on 30 Dec is the same whether the store holds the days after it or not.
        let mut noise = Noise(11);
        let cal = christmas();
        let full: BTreeMap<NaiveDate, f64> = series("2026-03-01", 400, |_, _| 0.0)
            .into_keys()
            .map(|day| {
                let n = (80.0 * (0.2 * noise.normal()).exp()).round();
                (day, if cal.is_open(day) { n } else { 0.0 })
            })
            .collect();
        let campaigns = vec![
            campaign("Before", "email", "2025-10-01", "2025-10-03"),
            campaign("After", "email", "2026-01-06", "2026-01-08"),
        ];
        let origin = d("2025-12-30");
        let cut = full.range(..=origin).map(|(k, v)| (*k, *v)).collect();
        let a = History::new(full, campaigns.clone(), cal.clone());
        let b = History::new(cut, campaigns, cal);
        let (fa, fb) = (forecast(&a, origin, 14), forecast(&b, origin, 14));
        assert_eq!(fa.len(), 14);
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(
                (x.expected, x.low, x.high),
                (y.expected, y.low, y.high),
                "{}",
                x.day
            );
        }
        // The campaign after the origin is in the forecast (the calendar is known ahead),
        // with the lift of the one before it.
        let on = fa.iter().find(|f| f.day == d("2026-01-07")).unwrap();
        assert_eq!(on.campaigns[0].name, "After");
        assert_eq!(on.uplifts[0].campaigns, 1);
    }

    /// 500 days to 1 Dec 2026 of `level × e^(swing + 0.15 × noise)`, the swing wandering by
    /// `wander` a day (and fading by 3% a day).
    fn noisy(wander: f64, seed: u64) -> History {
        let mut noise = Noise(seed);
        let mut swing = 0.0;
        let orders = series("2026-12-01", 500, |_, _| 0.0)
            .into_keys()
            .map(|day| {
                swing = 0.97 * swing + wander * noise.normal();
                (day, (200.0 * (swing + 0.15 * noise.normal()).exp()).round())
            })
            .collect();
        History::new(orders, Vec::new(), Calendar::default())
    }

    /// The width of the range in log terms, ln(high / low), for a day `lag` days ahead of the
    /// last day, mean over 20 weeks of origins: each lag's factor wanders from week to week
    /// after its own misses and hits, so a few weeks' mean says more of luck than of the lag.
    fn width(h: &History, lag: u64) -> f64 {
        let origins = (0..140).map(|i| d("2026-12-01") - Span::new(i + lag));
        let widths: Vec<f64> = origins
            .map(|o| {
                let f = forecast_day(h, o, o + Span::new(lag)).unwrap();
                assert_eq!(f.range, RangeSource::Errors);
                (f.high / f.low).ln()
            })
            .collect();
        widths.iter().sum::<f64>() / widths.len() as f64
    }

    #[test]
    fn the_range_grows_with_the_lag_where_the_errors_do() {
        // Days that scatter around a steady level err as much a week ahead as a day ahead;
        // a level that wanders errs more the further ahead. Its 7-day range is wider, and
        // still holds about as often as the 1-day one: the factors' bound does not leave the
        // longer lag short.
        let steady = noisy(0.0, 3);
        let ratio = width(&steady, 7) / width(&steady, 1);
        assert!((0.85..1.2).contains(&ratio), "steady: {ratio}");
        let wandering = noisy(0.06, 3);
        let ratio = width(&wandering, 7) / width(&wandering, 1);
        assert!(ratio > 1.15, "wandering: {ratio}");
        let rows = backtest(&wandering, d("2026-12-01"), 280, 7);
        let held = |lag: u32| {
            let at: Vec<_> = rows.iter().filter(|r| r.horizon == lag).collect();
            let inside = at.iter().filter(|r| (r.low..=r.high).contains(&r.actual));
            inside.count() as f64 / at.len() as f64
        };
        let (one, seven) = (held(1), held(7));
        assert!((0.72..=0.88).contains(&seven), "7 days ahead: {seven}");
        assert!((seven - one).abs() < 0.06, "1 day {one}, 7 days {seven}");
    }

    /// 400 days to 1 Dec 2026 around 200 orders, with a first campaign on email from 20 to
    /// 30 Nov whose days come in at `lift` times what they would have been.
    fn with_a_first_campaign(lift: f64) -> History {
        let mut noise = Noise(11);
        let orders = series("2026-12-01", 400, |_, _| 0.0)
            .into_keys()
            .map(|day| {
                let base = 200.0 * (0.1 * noise.normal()).exp();
                let on = (d("2026-11-20")..=d("2026-11-30")).contains(&day);
                (day, (base * if on { lift } else { 1.0 }).round())
            })
            .collect();
        let launch = campaign("Launch", "email", "2026-11-20", "2026-11-30");
        History::new(orders, vec![launch], Calendar::default())
    }

    #[test]
    fn campaign_days_move_the_range_as_shown() {
        // No past campaign, so the first one is forecast at no lift with a range no wider.
        // Days at twice that all beat its top: the range of the day after it widens. Days as
        // usual mostly fall inside: it narrows. The state learns nothing from campaign days,
        // so the expectation is the same in both.
        let (beaten, inside) = (with_a_first_campaign(2.0), with_a_first_campaign(1.0));
        let (from, day) = (d("2026-11-30"), d("2026-12-01"));
        let a = forecast_day(&beaten, from, day).unwrap();
        let b = forecast_day(&inside, from, day).unwrap();
        assert_eq!(a.expected, b.expected);
        assert!(
            a.high - a.expected > 1.5 * (b.high - b.expected),
            "{a:?}\n{b:?}"
        );
        // Before the campaign the two histories are the same day for day.
        let before = |h: &History| forecast_day(h, d("2026-11-19"), d("2026-11-20")).unwrap();
        assert_eq!(before(&beaten).high, before(&inside).high);
        // The campaign's own days learn from its first: its last day's top, from the day
        // before, is further above its expectation when its first days beat their tops.
        let last = |h: &History| forecast_day(h, d("2026-11-29"), d("2026-11-30")).unwrap();
        let (la, lb) = (last(&beaten), last(&inside));
        assert!(
            la.high / la.expected > lb.high / lb.expected,
            "{la:?}\n{lb:?}"
        );
    }

    #[test]
    fn the_range_holds_about_eight_days_in_ten() {
        for (wander, seed) in [(0.0, 5), (0.04, 6)] {
            let h = noisy(wander, seed);
            let rows = backtest(&h, d("2026-12-01"), 112, 7);
            let a = accuracy(&rows);
            let held = a.in_range.unwrap();
            assert!((0.75..=0.85).contains(&held), "{wander}: {held}");
        }
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
    fn a_shop_of_a_few_orders_a_day_gets_no_forecast() {
        // Three days of 4 and 25 of 5: 137 orders in 28 open days, 4.89 a day. 140 (5.0 a
        // day) is enough.
        let few = History::new(
            series("2026-12-01", 28, |i, _| if i < 3 { 4.0 } else { 5.0 }),
            Vec::new(),
            Calendar::default(),
        );
        assert_eq!(
            forecastable(&few, d("2026-12-01")),
            Err(NoForecast::FewOrders(137.0 / 28.0))
        );
        assert!(forecast(&few, d("2026-12-01"), 7).is_empty());
        let enough = History::new(
            series("2026-12-01", 28, |_, _| 5.0),
            Vec::new(),
            Calendar::default(),
        );
        assert_eq!(forecastable(&enough, d("2026-12-01")), Ok(()));
        assert_eq!(forecast(&enough, d("2026-12-01"), 7).len(), 7);
        assert_eq!(
            forecastable(&enough, d("2026-11-30")),
            Err(NoForecast::ShortHistory(27))
        );
        // Closed days do not count against a shop: 6 on each of its open days is enough.
        let cal = Calendar::new([Weekday::Sat, Weekday::Sun], Vec::new());
        let weekdays = History::new(
            series(
                "2026-12-01",
                60,
                |_, day| if cal.is_open(day) { 6.0 } else { 0.0 },
            ),
            Vec::new(),
            cal,
        );
        assert_eq!(forecastable(&weekdays, d("2026-12-01")), Ok(()));
    }

    #[test]
    fn too_few_errors_fall_back_to_counting_noise() {
        // 30 days: a state from day 28, but only 2 days with a forecast a day before them.
        let h = History::new(
            series("2026-12-01", 30, |_, _| 100.0),
            Vec::new(),
            Calendar::default(),
        );
        let f = forecast(&h, d("2026-12-01"), 1);
        assert_eq!(f[0].range, RangeSource::CountingNoise);
        // 100 ± 1.2816 × 10.
        assert!((f[0].low - (100.0 - Z80 * 10.0)).abs() < 1e-9);
        assert!((f[0].high - (100.0 + Z80 * 10.0)).abs() < 1e-9);
    }
}
