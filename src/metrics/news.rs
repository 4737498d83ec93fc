//! The morning news, worked out: which of a day's figures are unusual for its weekday, and
//! how the change in revenue splits into traffic, conversion and basket size. Pure: series
//! in, verdicts out; the digest words them.
//!
//! Formulas (README, "What moved"):
//! - baseline: the same weekday in each of the previous `weeks` weeks that has data;
//!   median m and spread s = max(1.4826 × MAD, floor), where the floor keeps a steady
//!   history from making every wobble news: 1 point or 5% of m for a percentage, the
//!   larger of 1, √m and 10% of m for a count, 10% of |m| for the rest;
//! - z = (x − m) / s; unusual when |z| ≥ `threshold` and the volume gate passes;
//! - volume: a ratio needs a denominator of at least `min_volume` on the day (200 sessions
//!   for the session rates, 30 otherwise); a count needs 20 on the day or in the median;
//! - rates (percent ratios) must also pass a pooled two-proportion test against the
//!   baseline days at p < `p_value`;
//! - fewer than 4 usable weeks: no verdict.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::metrics::calendar::Calendar;
use crate::metrics::compare::Series;
use crate::metrics::metric::{Aggregate, MetricDef, Unit};

/// The share of a day's sales or units one order must hold for the day's news to be that
/// order's rather than each figure's.
pub const ONE_ORDER_SHARE: f64 = 0.5;

/// The day's largest order, beside the day's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct BigOrder {
    pub order_id: String,
    /// The value of its lines.
    pub value: f64,
    pub units: f64,
    /// What was refunded of it on the same day.
    pub refunded_same_day: f64,
    /// The day's sales (lines of orders not cancelled) and units.
    pub day_value: f64,
    pub day_units: f64,
}

impl BigOrder {
    /// Whether this one order is over half of the day's sales or units: then figures that
    /// follow sales (revenue, units, order value) move with it, and that is the news.
    pub fn dominates(&self) -> bool {
        let share = |part: f64, whole: f64| whole > 0.0 && part / whole > ONE_ORDER_SHARE;
        share(self.value, self.day_value) || share(self.units, self.day_units)
    }
}

/// Fewer usable baseline weeks than this give no verdict.
pub const MIN_WEEKS: usize = 4;

/// `[news]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsSettings {
    /// Weeks of the same weekday the baseline looks back.
    #[serde(default = "default_weeks")]
    pub weeks: u32,
    /// |z| from which a change is unusual.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// |z| from which one value of a breakdown (a channel's orders) is unusual. Higher: a
    /// shop has many of them, and each speaks for a part its total already covers.
    #[serde(default = "default_breakdown_threshold")]
    pub breakdown_threshold: f64,
    /// The two-proportion test's level for rates.
    #[serde(default = "default_p")]
    pub p_value: f64,
    /// Per metric key: the least volume (a ratio's denominator, a count) that can be news.
    #[serde(default)]
    pub min_volume: BTreeMap<String, f64>,
}

fn default_weeks() -> u32 {
    8
}
fn default_threshold() -> f64 {
    3.0
}
fn default_breakdown_threshold() -> f64 {
    4.0
}
fn default_p() -> f64 {
    0.01
}

impl Default for NewsSettings {
    fn default() -> Self {
        NewsSettings {
            weeks: default_weeks(),
            threshold: default_threshold(),
            breakdown_threshold: default_breakdown_threshold(),
            p_value: default_p(),
            min_volume: BTreeMap::new(),
        }
    }
}

impl NewsSettings {
    /// The settings one value of a breakdown is judged by: the breakdown's threshold.
    pub fn for_breakdown(&self) -> NewsSettings {
        NewsSettings {
            threshold: self.breakdown_threshold,
            ..self.clone()
        }
    }

    /// The least volume for a metric: the config's, else 200 for rates over sessions (or
    /// carts), 30 for other ratios, 20 for counts, none for the rest.
    pub fn min_volume(&self, m: &MetricDef) -> f64 {
        if let Some(v) = self.min_volume.get(&m.key) {
            return *v;
        }
        match (m.aggregate, m.unit) {
            (Aggregate::Ratio, _)
                if matches!(
                    m.key.as_str(),
                    "conversion_rate" | "add_to_cart_rate" | "cart_abandonment_rate"
                ) =>
            {
                200.0
            }
            (Aggregate::Ratio, _) => 30.0,
            (Aggregate::Sum, Unit::Count) => 20.0,
            _ => 0.0,
        }
    }
}

/// The same weekday's values over the baseline weeks.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// (day, value, num, den), newest first.
    pub days: Vec<(NaiveDate, f64, f64, f64)>,
    pub median: f64,
    pub spread: f64,
    pub min: f64,
    pub max: f64,
}

/// What the news makes of one metric on one day.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The day has no value.
    NoData,
    /// Too few usable baseline weeks.
    TooLittleHistory {
        weeks: usize,
    },
    /// Too little volume for a change to mean anything.
    TooLittleVolume {
        volume: f64,
        needed: f64,
    },
    Usual {
        z: f64,
    },
    Unusual {
        z: f64,
        p: Option<f64>,
    },
}

/// One metric's day against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub value: Option<f64>,
    pub baseline: Option<Baseline>,
    pub verdict: Verdict,
}

impl Judgement {
    pub fn is_unusual(&self) -> bool {
        matches!(self.verdict, Verdict::Unusual { .. })
    }

    pub fn z(&self) -> Option<f64> {
        match self.verdict {
            Verdict::Usual { z } | Verdict::Unusual { z, .. } => Some(z),
            _ => None,
        }
    }

    /// Lowest (or highest) of the weekday over the baseline weeks.
    pub fn extreme(&self) -> Option<Extreme> {
        let (v, b) = (self.value?, self.baseline.as_ref()?);
        if v < b.min {
            Some(Extreme::Lowest)
        } else if v > b.max {
            Some(Extreme::Highest)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extreme {
    Lowest,
    Highest,
}

/// A day's (value, num, den) for a metric, or None where the day has no usable row.
pub fn day_value(series: &Series, aggregate: Aggregate, d: NaiveDate) -> Option<(f64, f64, f64)> {
    let r = series.days.get(&d)?;
    if !r.num.is_finite() || !r.den.is_finite() {
        return None;
    }
    let v = match aggregate {
        Aggregate::Ratio if r.den > 0.0 => r.num / r.den,
        Aggregate::Ratio => return None,
        Aggregate::Sum | Aggregate::Mean => r.num,
    };
    v.is_finite().then_some((v, r.num, r.den))
}

/// The least spread a baseline is given, by unit (the module's formulas).
pub fn spread_floor(unit: Unit, median: f64) -> f64 {
    let m = median.abs();
    let floor = match unit {
        Unit::Percent => (0.05 * m).max(0.01),
        Unit::Count => (0.1 * m).max(m.sqrt()).max(1.0),
        _ => 0.1 * m,
    };
    floor.max(1e-9)
}

/// The same weekday in each of the `weeks` weeks before `d` that has a value and on which
/// the shop was open: a closure's empty days say nothing of what is usual, so the day after
/// one is judged against the open days before it.
pub fn baseline(
    series: &Series,
    aggregate: Aggregate,
    unit: Unit,
    d: NaiveDate,
    weeks: u32,
    cal: &Calendar,
) -> Option<Baseline> {
    let days: Vec<(NaiveDate, f64, f64, f64)> = (1..=u64::from(weeks))
        .filter_map(|w| {
            let day = d.checked_sub_days(Days::new(7 * w))?;
            if !cal.is_open(day) {
                return None;
            }
            day_value(series, aggregate, day).map(|(v, n, m)| (day, v, n, m))
        })
        .collect();
    if days.is_empty() {
        return None;
    }
    let values: Vec<f64> = days.iter().map(|x| x.1).collect();
    let median = median(&values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let spread = (1.4826 * self::median(&deviations)).max(spread_floor(unit, median));
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Baseline {
        days,
        median,
        spread,
        min,
        max,
    })
}

/// One metric's day, judged against the same weekday over the baseline weeks. A day the
/// shop was closed is not judged: nothing it shows is news.
pub fn judge(
    m: &MetricDef,
    series: &Series,
    d: NaiveDate,
    s: &NewsSettings,
    cal: &Calendar,
) -> Judgement {
    let day = day_value(series, m.aggregate, d).filter(|_| cal.is_open(d));
    let Some((value, num, den)) = day else {
        return Judgement {
            value: None,
            baseline: None,
            verdict: Verdict::NoData,
        };
    };
    let base = baseline(series, m.aggregate, m.unit, d, s.weeks, cal);
    let weeks = base.as_ref().map_or(0, |b| b.days.len());
    let verdict = match &base {
        _ if weeks < MIN_WEEKS => Verdict::TooLittleHistory { weeks },
        Some(b) => verdict(m, s, value, num, den, b),
        None => Verdict::TooLittleHistory { weeks },
    };
    Judgement {
        value: Some(value),
        baseline: base,
        verdict,
    }
}

fn verdict(
    m: &MetricDef,
    s: &NewsSettings,
    value: f64,
    num: f64,
    den: f64,
    b: &Baseline,
) -> Verdict {
    let needed = s.min_volume(m);
    let volume = match m.aggregate {
        Aggregate::Ratio => den,
        _ => value.abs().max(b.median.abs()),
    };
    if volume < needed {
        return Verdict::TooLittleVolume { volume, needed };
    }
    let z = (value - b.median) / b.spread;
    if z.abs() < s.threshold {
        return Verdict::Usual { z };
    }
    if m.aggregate == Aggregate::Ratio && m.unit == Unit::Percent {
        let (x0, n0) = b
            .days
            .iter()
            .fold((0.0, 0.0), |(x, n), r| (x + r.2, n + r.3));
        let p = two_proportion_p(num, den, x0, n0);
        return match p {
            Some(p) if p < s.p_value => Verdict::Unusual { z, p: Some(p) },
            _ => Verdict::Usual { z },
        };
    }
    Verdict::Unusual { z, p: None }
}

/// The two-sided p-value of a pooled two-proportion z-test: x1 of n1 against x0 of n0.
/// None where either sample is empty or the pooled rate is 0 or 1 (no variance to test).
pub fn two_proportion_p(x1: f64, n1: f64, x0: f64, n0: f64) -> Option<f64> {
    if n1 <= 0.0 || n0 <= 0.0 {
        return None;
    }
    let pooled = (x1 + x0) / (n1 + n0);
    if pooled <= 0.0 || pooled >= 1.0 {
        return None;
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0)).sqrt();
    let z = (x1 / n1 - x0 / n0) / se;
    Some(erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// The complementary error function (Numerical Recipes' `erfcc`, fractional error under
/// 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A part of a change in revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Sessions,
    Conversion,
    BasketSize,
    Orders,
}

/// Revenue then and now, as sessions × conversion × basket size (or orders × basket size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RevenueDay {
    pub revenue: f64,
    pub orders: f64,
    /// None for a shop without traffic data.
    pub sessions: Option<f64>,
}

/// A change in revenue split so that its parts add up to it exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueSplit {
    /// The day compared with (the same weekday a week before).
    pub vs: Option<NaiveDate>,
    pub change: f64,
    pub parts: Vec<Part>,
    /// Each channel's change in sessions and orders (set by the caller that has them).
    pub channels: Vec<ChannelChange>,
}

/// One channel's change against the same weekday a week before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelChange {
    pub channel: String,
    /// The change in sessions; None without traffic data.
    pub sessions: Option<f64>,
    /// The change in orders placed through the channel.
    pub orders: Option<f64>,
}

/// The channels whose sessions or orders changed between `d` and the same weekday a week
/// before, the largest change in sessions first (then in orders); at most 20. A day a
/// channel has no row counts as 0 where the series has any row.
pub fn channel_changes(
    d: NaiveDate,
    sessions: Option<&BTreeMap<Option<String>, Series>>,
    orders: Option<&BTreeMap<Option<String>, Series>>,
) -> Vec<ChannelChange> {
    let Some(before) = d.checked_sub_days(Days::new(7)) else {
        return Vec::new();
    };
    let delta = |by: Option<&BTreeMap<Option<String>, Series>>, ch: &str| {
        let s = by?.get(&Some(ch.to_string()))?;
        let at = |day| s.days.get(&day).map_or(0.0, |r| r.num);
        let v = at(d) - at(before);
        v.is_finite().then_some(v)
    };
    let names: std::collections::BTreeSet<String> = [sessions, orders]
        .iter()
        .flatten()
        .flat_map(|m| m.keys().flatten().cloned())
        .collect();
    let mut out: Vec<ChannelChange> = names
        .into_iter()
        .map(|ch| ChannelChange {
            sessions: sessions.and_then(|_| delta(sessions, &ch)),
            orders: orders.and_then(|_| delta(orders, &ch)),
            channel: ch,
        })
        .filter(|c| c.sessions.unwrap_or(0.0) != 0.0 || c.orders.unwrap_or(0.0) != 0.0)
        .collect();
    let size = |c: &ChannelChange| {
        (
            c.sessions.unwrap_or(0.0).abs(),
            c.orders.unwrap_or(0.0).abs(),
        )
    };
    out.sort_by(|a, b| {
        let (x, y) = (size(a), size(b));
        y.0.total_cmp(&x.0)
            .then(y.1.total_cmp(&x.1))
            .then(a.channel.cmp(&b.channel))
    });
    out.truncate(20);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Part {
    pub factor: Factor,
    pub amount: f64,
}

/// The split of `d` against the same weekday a week before, from each day's net revenue,
/// orders and (when the shop has traffic) sessions, as `day(metric, date)` gives them.
pub fn revenue_vs_last_week(
    d: NaiveDate,
    day: impl Fn(&str, NaiveDate) -> Option<f64>,
    with_sessions: bool,
) -> Option<RevenueSplit> {
    let before = d.checked_sub_days(Days::new(7))?;
    let at = |on: NaiveDate| -> Option<RevenueDay> {
        Some(RevenueDay {
            revenue: day("net_revenue", on)?,
            orders: day("orders", on)?,
            sessions: if with_sessions {
                Some(day("sessions", on)?)
            } else {
                None
            },
        })
    };
    let mut split = explain_revenue(at(before)?, at(d)?)?;
    split.vs = Some(before);
    Some(split)
}

/// Splits `now.revenue − then.revenue` by Shapley values: each factor's part is its
/// change weighted over every order of changing the factors, so the parts add up to the
/// whole change exactly and a factor that did not move gets nothing.
///
/// With sessions S, conversion C = orders / S and basket A = revenue / orders, R = S·C·A:
///   part_S = ΔS·(C0·A0/3 + (C1·A0 + C0·A1)/6 + C1·A1/3), and likewise for C and A.
/// Without sessions, R = O·A: part_O = ΔO·(A0 + A1)/2, part_A = ΔA·(O0 + O1)/2.
/// None when either day has no orders (a basket size needs one) or no sessions.
pub fn explain_revenue(then: RevenueDay, now: RevenueDay) -> Option<RevenueSplit> {
    if then.orders <= 0.0 || now.orders <= 0.0 {
        return None;
    }
    let (a0, a1) = (then.revenue / then.orders, now.revenue / now.orders);
    let parts = match (then.sessions, now.sessions) {
        (Some(s0), Some(s1)) if s0 > 0.0 && s1 > 0.0 => {
            let (c0, c1) = (then.orders / s0, now.orders / s1);
            let shapley = |d: f64, (p0, p1): (f64, f64), (q0, q1): (f64, f64)| {
                d * (p0 * q0 / 3.0 + (p1 * q0 + p0 * q1) / 6.0 + p1 * q1 / 3.0)
            };
            vec![
                (Factor::Sessions, shapley(s1 - s0, (c0, c1), (a0, a1))),
                (Factor::Conversion, shapley(c1 - c0, (s0, s1), (a0, a1))),
                (Factor::BasketSize, shapley(a1 - a0, (s0, s1), (c0, c1))),
            ]
        }
        (None, None) => vec![
            (Factor::Orders, (now.orders - then.orders) * (a0 + a1) / 2.0),
            (
                Factor::BasketSize,
                (a1 - a0) * (then.orders + now.orders) / 2.0,
            ),
        ],
        _ => return None,
    };
    Some(RevenueSplit {
        vs: None,
        channels: Vec::new(),
        change: now.revenue - then.revenue,
        parts: parts
            .into_iter()
            .map(|(factor, amount)| Part { factor, amount })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::DayRow;
    use crate::metrics::metric::Catalog;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A series of Mondays before 2026-11-23 (newest first) and the day itself.
    fn mondays(values: &[f64], today: f64) -> Series {
        let mut s = Series::default();
        let day = d("2026-11-23");
        s.insert(
            day,
            DayRow {
                num: today,
                den: 0.0,
            },
        );
        for (i, v) in values.iter().enumerate() {
            s.insert(
                day - Days::new(7 * (i as u64 + 1)),
                DayRow { num: *v, den: 0.0 },
            );
        }
        s
    }

    fn metric(key: &str) -> MetricDef {
        Catalog::builtin().get(key).unwrap().clone()
    }

    #[test]
    fn a_flat_series_with_one_spike_is_unusual() {
        // Net revenue on 8 Mondays: 1000 1030 970 1010 990 1000 1040 960: sorted 960 970
        // 990 1000 1000 1010 1030 1040, median 1000. Deviations 0 30 30 10 10 0 40 40:
        // sorted 0 0 10 10 30 30 40 40, median 20, so 1.4826 × 20 = 29.652; the floor,
        // 10% of 1000 = 100, is larger: the spread is 100. Today 1,500: z = 500 / 100 = 5.
        let s = mondays(
            &[1000.0, 1030.0, 970.0, 1010.0, 990.0, 1000.0, 1040.0, 960.0],
            1500.0,
        );
        let j = judge(
            &metric("net_revenue"),
            &s,
            d("2026-11-23"),
            &NewsSettings::default(),
            &Calendar::default(),
        );
        let b = j.baseline.clone().unwrap();
        assert_eq!(b.median, 1000.0);
        assert_eq!(b.spread, 100.0);
        assert_eq!(j.z(), Some(5.0));
        assert!(j.is_unusual());
        assert_eq!(j.extreme(), Some(Extreme::Highest));
        // Orders 100 102 98 101 99 100 103 97: median 100, MAD 1.5, 1.4826 × 1.5 = 2.22;
        // the count floor max(1, √100, 10% of 100) = 10 is the spread. Today 135: z = 3.5.
        let s = mondays(
            &[100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 103.0, 97.0],
            135.0,
        );
        let j = judge(
            &metric("orders"),
            &s,
            d("2026-11-23"),
            &NewsSettings::default(),
            &Calendar::default(),
        );
        assert_eq!(j.z(), Some(3.5));
        assert!(j.is_unusual());
    }

    #[test]
    fn spread_floors_by_unit() {
        assert!((spread_floor(Unit::Percent, 0.98) - 0.049).abs() < 1e-12);
        assert_eq!(spread_floor(Unit::Percent, 0.02), 0.01);
        assert_eq!(spread_floor(Unit::Count, 0.0), 1.0);
        assert_eq!(spread_floor(Unit::Count, 25.0), 5.0);
        assert_eq!(spread_floor(Unit::Money, 1000.0), 100.0);
    }

    #[test]
    fn a_noisy_series_with_the_same_spike_is_usual() {
        // 60 150 80 130 100 70 140 90: median (90 + 100) / 2 = 95; deviations 35 55 15 35
        // 5 25 45 5, sorted 5 5 15 25 35 35 45 55, median 30; spread 44.478 (over the floor
        // of 9.5); z = 35 / 44.478 = 0.79.
        let s = mondays(&[60.0, 150.0, 80.0, 130.0, 100.0, 70.0, 140.0, 90.0], 130.0);
        let j = judge(
            &metric("orders"),
            &s,
            d("2026-11-23"),
            &NewsSettings::default(),
            &Calendar::default(),
        );
        assert!((j.z().unwrap() - 35.0 / 44.478).abs() < 1e-9);
        assert!(!j.is_unusual());
    }

    #[test]
    fn three_baseline_weeks_give_no_verdict() {
        let s = mondays(&[100.0, 100.0, 100.0], 500.0);
        let j = judge(
            &metric("orders"),
            &s,
            d("2026-11-23"),
            &NewsSettings::default(),
            &Calendar::default(),
        );
        assert_eq!(j.verdict, Verdict::TooLittleHistory { weeks: 3 });
    }

    #[test]
    fn a_rate_on_40_sessions_is_never_news() {
        let mut s = Series::default();
        let day = d("2026-11-23");
        s.insert(
            day,
            DayRow {
                num: 20.0,
                den: 40.0,
            },
        );
        for w in 1..=8 {
            s.insert(
                day - Days::new(7 * w),
                DayRow {
                    num: 2.0,
                    den: 40.0,
                },
            );
        }
        let j = judge(
            &metric("conversion_rate"),
            &s,
            day,
            &NewsSettings::default(),
            &Calendar::default(),
        );
        assert_eq!(
            j.verdict,
            Verdict::TooLittleVolume {
                volume: 40.0,
                needed: 200.0
            }
        );
    }

    #[test]
    fn the_two_proportion_p_value() {
        // 60 of 1,000 against 400 of 10,000: pooled 460 / 11,000; se = sqrt(p(1-p)(1/1000 +
        // 1/10000)); z = 0.02 / se = 3.0125; two-sided p = erfc(z/√2) = 0.0025911 (Python:
        // math.erfc(3.0125004257724624 / math.sqrt(2)) = 0.0025910507262542986).
        let p = two_proportion_p(60.0, 1000.0, 400.0, 10_000.0).unwrap();
        let pooled: f64 = 460.0 / 11_000.0;
        let z = 0.02 / (pooled * (1.0 - pooled) * (1.0 / 1000.0 + 1.0 / 10_000.0)).sqrt();
        assert!((z - 3.012_500_4).abs() < 1e-6, "{z}");
        assert!((p - 0.002_591_05).abs() < 1e-7, "{p}");
        assert_eq!(two_proportion_p(0.0, 100.0, 0.0, 100.0), None);
    }

    #[test]
    fn channel_changes_are_ranked_by_sessions() {
        let day = d("2026-11-23");
        let week = day - Days::new(7);
        let series = |pairs: &[(&str, f64, f64)]| -> BTreeMap<Option<String>, Series> {
            pairs
                .iter()
                .map(|(ch, then, now)| {
                    let mut s = Series::default();
                    s.insert(
                        week,
                        DayRow {
                            num: *then,
                            den: 0.0,
                        },
                    );
                    s.insert(
                        day,
                        DayRow {
                            num: *now,
                            den: 0.0,
                        },
                    );
                    (Some(ch.to_string()), s)
                })
                .collect()
        };
        let sessions = series(&[
            ("email", 100.0, 120.0),
            ("paid_social", 800.0, 2000.0),
            ("organic", 500.0, 500.0),
        ]);
        let orders = series(&[
            ("email", 4.0, 5.0),
            ("paid_social", 20.0, 45.0),
            ("organic", 12.0, 10.0),
        ]);
        let c = channel_changes(day, Some(&sessions), Some(&orders));
        let got: Vec<(&str, Option<f64>, Option<f64>)> = c
            .iter()
            .map(|c| (c.channel.as_str(), c.sessions, c.orders))
            .collect();
        assert_eq!(
            got,
            [
                ("paid_social", Some(1200.0), Some(25.0)),
                ("email", Some(20.0), Some(1.0)),
                ("organic", Some(0.0), Some(-2.0)),
            ]
        );
        let c = channel_changes(day, None, Some(&orders));
        assert_eq!(c[0].channel, "paid_social");
        assert_eq!(c[0].sessions, None);
    }

    #[test]
    fn the_revenue_split_adds_up_to_the_cent() {
        // Last Monday: 10,000 sessions, 200 orders (2%), 50.00 basket: 10,000.00.
        // Today: 12,000 sessions, 216 orders (1.8%), 55.00 basket: 11,880.00. Change 1,880.
        let then = RevenueDay {
            revenue: 10_000.0,
            orders: 200.0,
            sessions: Some(10_000.0),
        };
        let now = RevenueDay {
            revenue: 11_880.0,
            orders: 216.0,
            sessions: Some(12_000.0),
        };
        let s = explain_revenue(then, now).unwrap();
        let part = |f: Factor| s.parts.iter().find(|p| p.factor == f).unwrap().amount;
        // By hand: ΔS = 2,000; C 0.02 → 0.018; A 50 → 55.
        // S: 2000 × (1/3 + (0.9 + 1.1)/6 + 0.99/3) = 2000 × 0.996667 = 1,993.33
        // C: −0.002 × (166,666.67 + 1,150,000/6 + 220,000) = −0.002 × 578,333.33 = −1,156.67
        // A: 5 × (200/3 + (240 + 180)/6 + 216/3) = 5 × 208.667 = 1,043.33
        assert!((part(Factor::Sessions) - 1_993.333_333_3).abs() < 1e-6);
        assert!((part(Factor::Conversion) + 1_156.666_666_7).abs() < 1e-6);
        assert!((part(Factor::BasketSize) - 1_043.333_333_3).abs() < 1e-6);
        let sum: f64 = s.parts.iter().map(|p| p.amount).sum();
        assert!((sum - 1880.0).abs() < 0.005, "{sum}");
        // Without traffic: 200 → 216 orders, 50 → 55: orders 16 × 52.5 = 840, basket
        // 5 × 208 = 1,040; 1,880 in all.
        let s = explain_revenue(
            RevenueDay {
                sessions: None,
                ..then
            },
            RevenueDay {
                sessions: None,
                ..now
            },
        )
        .unwrap();
        let parts: Vec<(Factor, f64)> = s.parts.iter().map(|p| (p.factor, p.amount)).collect();
        assert_eq!(
            parts,
            vec![(Factor::Orders, 840.0), (Factor::BasketSize, 1040.0)]
        );
    }
}
