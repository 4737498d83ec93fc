//! The range: where orders fell against the forecast's own expectations made about as far
//! ahead, over the last [`ERRORS`] ordinary days, at the level expected now, with each end
//! widened after a miss and narrowed after a hit. Pure.
//!
//! - **About as far ahead.** An error is kept by its lag: the days from the last ordinary day
//!   the forecast was made from to the day forecast. A forecast made across a closure is as
//!   uncertain as one made that many days before, so its lag counts the closure. A lag's
//!   spread is read from its own errors and those of the [`NEIGHBOURS`] lags either side:
//!   five times the errors behind each end, so that the range grows with the days ahead
//!   where the errors do, not with each lag's own luck.
//! - **At the level expected now.** A day's spread is part chance (a count of 30 varies more,
//!   as a share, than a count of 300) and part the shop's own: the log error's variance is
//!   taken as `κ + 1 / (expected + ½)`, κ read from the errors, and the quantiles are of
//!   errors measured in that spread. So a range read from a quiet summer fits a busy autumn.
//! - **Widened after a miss** (adaptive conformal inference). Each end has a factor shared by
//!   every lag, multiplied on every day whose orders come in by `e^(STEP × (share missed −
//!   10%))`, the share over that day's forecasts 1 to [`SHARED_LAGS`] days ahead; and a
//!   factor per lag, moved the same way by [`STEP_LAG`] on that lag's own miss or hit. A run
//!   of misses widens that end until it holds again, and days of hits narrow it, so the
//!   range holds 8 days in 10 over each few weeks, not only on average. The shared factor
//!   does most of that, so the days of the week ahead move together; the one per lag, slower,
//!   mends a lag that holds more or less often than the rest.
//! - **Every open day counts**, a campaign day against its range as shown, whose top reaches
//!   the largest lift a past campaign showed ([`Shown`]). The promise is about the ranges a
//!   reader sees: a campaign that beats its top widens the ranges of the days after it, its
//!   own among them, and one that stays inside narrows them, so a window with a campaign
//!   in it still holds about 8 days in 10.
//!
//! The steps trade holding 8 in 10 over each few weeks against ranges that are wider and
//! move more from day to day. They were chosen on 12 seeds of the demo shop and 5 of the
//! lumpy shop (README, "The week ahead"): 56-day windows outside 75-85% fell from 23 of the
//! demo's 72 (a step of 0.3 per lag, campaign days apart) to 3, for ranges about 11% wider.
//!
//! A factor stops at `FACTOR_MAX`. A run of misses (a shop that steps up, a campaign
//! that beats its top) moves the shared factor by up to `e^0.54` a day, and each hit takes
//! back only `e^-0.06`. With a bound of 4, the ranges of a demo shop that had stepped up
//! stayed two to three times their width for two to three weeks after the forecast caught
//! up, and their tops warned of busy days ahead that came nowhere near capacity.

use super::Days;
use super::smooth::log_error;

/// The longest lag with its own errors; a longer one (a long closure) takes these.
pub const MAX_LAG: usize = 21;
/// The errors the range is read from, per lag: the last 13 weeks of ordinary days.
pub const ERRORS: usize = 91;
/// Fewer errors than this at a lag, and the range is counting noise alone.
pub const MIN_ERRORS: usize = 14;
/// The range's ends: the 10th and 90th percentiles.
pub const TAIL: f64 = 0.10;
/// How far one day moves an end's shared factor (see the module's note).
pub const STEP: f64 = 0.6;
/// How far one day moves an end's factor at one lag.
pub const STEP_LAG: f64 = 0.15;
/// The forecasts whose misses move the shared factor: 1 to 7 days ahead, the week ahead.
pub const SHARED_LAGS: usize = 7;
/// The lags either side whose errors a lag's spread is read with.
pub const NEIGHBOURS: usize = 2;
/// Each factor's bounds, and so the product's (see the module's note). Against 4 on the
/// same 12 seeds: 3 windows out of 75-85% rather than 5, ranges 7% narrower, and a quarter
/// fewer capacity warnings for days that did not come near capacity.
const FACTOR_MIN: f64 = 0.25;
const FACTOR_MAX: f64 = 2.5;
/// The least of the shop's own variance κ (log scale): a range is never chance alone.
const KAPPA_MIN: f64 = 0.0025;
/// The median absolute deviation times this estimates a normal spread's standard deviation.
const MAD_SD: f64 = 1.4826;

/// An end's factor per lag (index 1..=MAX_LAG): [low, high].
pub type Factors = [[f64; 2]; MAX_LAG + 1];

/// One error: the day forecast, its log error and the expectation it was made against.
#[derive(Debug, Clone, Copy)]
struct Error {
    day: usize,
    error: f64,
    expected: f64,
}

/// The spread of the errors at one lag, as known on one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The shop's own variance of the log error, beyond chance.
    pub kappa: f64,
    /// The 10th and 90th percentiles of the errors in units of their spread, held to either
    /// side of 0 so that the range holds its expectation.
    pub low: f64,
    pub high: f64,
}

/// What a day's range is drawn around: its expectation, and on a campaign day the
/// expectation its top is read at (the day lifted as much as any past campaign lifted
/// orders), since the lift itself is uncertain and a shrunk one errs low.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    pub expected: f64,
    pub top: Option<f64>,
}

impl Spread {
    /// The range shown for `day`: around its expectation, the top at least that around its
    /// `top`.
    pub fn shown(&self, day: Shown, factors: [f64; 2]) -> (f64, f64) {
        let (low, high) = self.range(day.expected, factors);
        match day.top {
            Some(top) => (low, high.max(self.range(top, factors).1)),
            None => (low, high),
        }
    }

    /// The range around `expected`, each end scaled by its factor.
    pub fn range(&self, expected: f64, factors: [f64; 2]) -> (f64, f64) {
        let expected = expected.max(0.0);
        let sd = (self.kappa + 1.0 / (expected + 0.5)).sqrt();
        let end = |z: f64, f: f64| (expected + 0.5) * (z * sd * f).exp() - 0.5;
        (
            end(self.low, factors[0]).max(0.0),
            end(self.high, factors[1]),
        )
    }
}

/// The errors by lag, and their spread as known on each ordinary day.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// Index: lag; each in day order.
    by_lag: Vec<Vec<Error>>,
    /// Index: day, then lag; None on a day no forecast is made from or with too few errors.
    spreads: Vec<Vec<Option<Spread>>>,
}

impl Errors {
    /// Every ordinary day's error at each lag from an ordinary day before it, from
    /// `baseline(from, day)`.
    pub(crate) fn new(days: &Days, baseline: impl Fn(usize, usize) -> Option<f64>) -> Errors {
        let n = days.len();
        let mut by_lag: Vec<Vec<Error>> = vec![Vec::new(); MAX_LAG + 1];
        for t in (0..n).filter(|&t| days.used[t]) {
            for (k, errors) in by_lag
                .iter_mut()
                .enumerate()
                .take(MAX_LAG.min(t) + 1)
                .skip(1)
            {
                let j = t - k;
                if !days.used[j] {
                    continue;
                }
                if let Some(expected) = baseline(j, t) {
                    errors.push(Error {
                        day: t,
                        error: log_error(days.orders[t], expected),
                        expected,
                    });
                }
            }
        }
        let mut scratch = Scratch::default();
        let spreads = (0..n)
            .map(|j| {
                (0..=MAX_LAG)
                    .map(|k| {
                        (k > 0 && days.used[j])
                            .then(|| spread(&by_lag[neighbours(k)], j, &mut scratch))
                            .flatten()
                    })
                    .collect()
            })
            .collect();
        Errors { by_lag, spreads }
    }

    /// The spread at lag `k` (capped at [`MAX_LAG`]) known on ordinary day `j`.
    pub fn spread(&self, j: usize, k: usize) -> Option<Spread> {
        *self.spreads.get(j)?.get(k.clamp(1, MAX_LAG))?
    }

    /// The errors behind the spread at lag `k` on day `j`: the last [`ERRORS`] of days up to
    /// `j` at each of its lags.
    pub fn count(&self, j: usize, k: usize) -> usize {
        self.by_lag[neighbours(k.clamp(1, MAX_LAG))]
            .iter()
            .map(|e| e.partition_point(|x| x.day <= j).min(ERRORS))
            .sum()
    }
}

/// The lags whose errors lag `k`'s spread is read from: [`NEIGHBOURS`] either side, within
/// 1 to [`MAX_LAG`].
fn neighbours(k: usize) -> std::ops::RangeInclusive<usize> {
    k.saturating_sub(NEIGHBOURS).max(1)..=(k + NEIGHBOURS).min(MAX_LAG)
}

/// Buffers one spread is worked out in, kept from one to the next: a spread is read for
/// every day at every lag.
#[derive(Default)]
struct Scratch {
    /// Each error and its chance variance, `1 / (expected + ½)`.
    recent: Vec<(f64, f64)>,
    values: Vec<f64>,
}

/// The spread of the last [`ERRORS`] errors on days up to `j` of each of `lags`, together.
fn spread(lags: &[Vec<Error>], j: usize, scratch: &mut Scratch) -> Option<Spread> {
    let Scratch { recent, values } = scratch;
    recent.clear();
    for errors in lags {
        let end = errors.partition_point(|x| x.day <= j);
        let kept = &errors[end.saturating_sub(ERRORS)..end];
        recent.extend(kept.iter().map(|x| (x.error, 1.0 / (x.expected + 0.5))));
    }
    if recent.len() < MIN_ERRORS {
        return None;
    }
    values.clear();
    values.extend(recent.iter().map(|(e, _)| e));
    let mid = median(values);
    values.clear();
    values.extend(recent.iter().map(|(e, _)| (e - mid).abs()));
    let chance = recent.iter().map(|(_, c)| c).sum::<f64>() / recent.len() as f64;
    let kappa = ((MAD_SD * median(values)).powi(2) - chance).max(KAPPA_MIN);
    values.clear();
    values.extend(recent.iter().map(|(e, c)| e / (kappa + c).sqrt()));
    Some(Spread {
        kappa,
        low: selected(values, TAIL)?.min(0.0),
        high: selected(values, 1.0 - TAIL)?.max(0.0),
    })
}

/// The `p` percentile as [`super::percentile`] has it, found by selection rather than a sort
/// (reordering `v`): the spread is read for every day at every lag.
fn selected(v: &mut [f64], p: f64) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let h = (n as f64 + 1.0) * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    if h <= 1.0 || h >= n as f64 {
        let i = if h <= 1.0 { 0 } else { n - 1 };
        return Some(*v.select_nth_unstable_by(i, f64::total_cmp).1);
    }
    // 1 < h < n, so 1 <= lo < n: the order statistics lo and lo + 1 (1-based) both exist.
    let (_, below, above) = v.select_nth_unstable_by(lo - 1, f64::total_cmp);
    let below = *below;
    let above = above.iter().copied().min_by(f64::total_cmp)?;
    Some(below + (h - lo as f64) * (above - below))
}

/// The median, reordering `values`.
fn median(values: &mut [f64]) -> f64 {
    selected(values, 0.5).unwrap_or(0.0)
}

/// Each day's factors, after the misses and hits of every day up to it: on each open day
/// with orders known, every forecast of it made from an ordinary day at most [`MAX_LAG`]
/// before (`shown(from, day)`, with its campaigns' lift; None for a day that does not
/// count) is held against its range as shown.
pub(crate) fn adapt(
    days: &Days,
    errors: &Errors,
    mut shown: impl FnMut(usize, usize) -> Option<Shown>,
) -> Vec<Factors> {
    let mut per_lag: Factors = [[1.0; 2]; MAX_LAG + 1];
    let mut shared = [1.0; 2];
    let mut out: Vec<Factors> = Vec::with_capacity(days.len());
    for t in 0..days.len() {
        // Of the day's forecasts 1 to SHARED_LAGS days ahead: how many, and misses per end.
        let (mut week, mut missed_in_week) = (0u32, [0u32; 2]);
        if days.open[t] {
            let y = days.orders[t];
            for k in 1..=MAX_LAG.min(t) {
                let j = t - k;
                // A spread is known only on the ordinary days forecasts are made from.
                let Some(spread) = errors.spread(j, k) else {
                    continue;
                };
                let Some(day) = shown(j, t) else { continue };
                let (low, high) = spread.shown(day, out[j][k]);
                week += u32::from(k <= SHARED_LAGS);
                for (end, missed) in [(0, y < low), (1, y > high)] {
                    missed_in_week[end] += u32::from(missed && k <= SHARED_LAGS);
                    let f = &mut per_lag[k][end];
                    *f = moved(*f, STEP_LAG, f64::from(u8::from(missed)));
                }
            }
        }
        if week > 0 {
            for (end, f) in shared.iter_mut().enumerate() {
                *f = moved(*f, STEP, f64::from(missed_in_week[end]) / f64::from(week));
            }
        }
        out.push(
            per_lag.map(|ends| [0, 1].map(|e| (ends[e] * shared[e]).clamp(FACTOR_MIN, FACTOR_MAX))),
        );
    }
    out
}

/// `factor` after a day on which its end missed `share` of the time, moved by `step`.
fn moved(factor: f64, step: f64, share: f64) -> f64 {
    (factor * (step * (share - TAIL)).exp()).clamp(FACTOR_MIN, FACTOR_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_spread_at_the_expected_level() {
        let s = Spread {
            kappa: 0.04,
            low: -1.2,
            high: 1.3,
        };
        // At 99.5 expected: sd = √(0.04 + 1/100) = √0.05.
        let (lo, hi) = s.range(99.5, [1.0, 1.0]);
        let sd = 0.05f64.sqrt();
        assert!((lo - (100.0 * (-1.2 * sd).exp() - 0.5)).abs() < 1e-9);
        assert!((hi - (100.0 * (1.3 * sd).exp() - 0.5)).abs() < 1e-9);
        // A smaller count spreads more as a share: at 9.5, sd = √(0.04 + 0.1).
        let (lo, hi) = s.range(9.5, [1.0, 1.0]);
        assert!(hi / lo > (100.0 * (1.3 * sd).exp() - 0.5) / (100.0 * (-1.2 * sd).exp() - 0.5));
        // A factor of 2 on the high end doubles its log distance.
        let (_, hi2) = s.range(99.5, [1.0, 2.0]);
        assert!((hi2 - (100.0 * (2.6 * sd).exp() - 0.5)).abs() < 1e-9);
    }

    #[test]
    fn a_campaign_days_top_reaches_the_largest_past_lift() {
        let s = Spread {
            kappa: 0.04,
            low: -1.2,
            high: 1.3,
        };
        let plain = Shown {
            expected: 99.5,
            top: None,
        };
        assert_eq!(s.shown(plain, [1.0, 1.5]), s.range(99.5, [1.0, 1.5]));
        // The top is that of 149.5 orders expected, the low end still that of 99.5.
        let lifted = Shown {
            top: Some(149.5),
            ..plain
        };
        let (lo, hi) = s.shown(lifted, [1.0, 1.5]);
        assert_eq!(lo, s.range(99.5, [1.0, 1.5]).0);
        let sd = (0.04 + 1.0 / 150.0f64).sqrt();
        assert!((hi - (150.0 * (1.3 * sd * 1.5).exp() - 0.5)).abs() < 1e-9);
        // A top below the expectation changes nothing.
        let below = Shown {
            top: Some(50.0),
            ..plain
        };
        assert_eq!(s.shown(below, [1.0, 1.0]), s.range(99.5, [1.0, 1.0]));
    }

    #[test]
    fn selection_finds_the_percentiles_a_sort_does() {
        // 0, 1, ..., 10 shuffled, and shorter runs: every percentile as the sort has it.
        for n in 0..12usize {
            let values: Vec<f64> = (0..n).map(|i| ((i * 7) % n.max(1)) as f64).collect();
            for p in [0.0, 0.05, 0.1, 0.25, 0.5, 0.9, 0.95, 1.0] {
                let mut v = values.clone();
                assert_eq!(
                    selected(&mut v, p),
                    super::super::percentile(&values, p),
                    "{n} {p}"
                );
            }
        }
    }

    #[test]
    fn a_lags_spread_reads_the_errors_of_its_neighbours_too() {
        assert_eq!(neighbours(1), 1..=3);
        assert_eq!(neighbours(7), 5..=9);
        assert_eq!(neighbours(MAX_LAG), MAX_LAG - 2..=MAX_LAG);
        // Two lags of 10 errors at an expectation of 49.5, one all +0.1, the other all -0.1:
        // too few at either alone; together, median 0 and every deviation 0.1, so
        // κ = (1.4826 × 0.1)² - 1/50 → held at 0.0025, and the ends at ±0.1 in units of
        // √(0.0025 + 1/50).
        let lag = |error: f64| -> Vec<Error> {
            (0..10)
                .map(|day| Error {
                    day,
                    error,
                    expected: 49.5,
                })
                .collect()
        };
        let (up, down) = (lag(0.1), lag(-0.1));
        assert_eq!(
            spread(std::slice::from_ref(&up), 9, &mut Scratch::default()),
            None
        );
        let s = spread(&[up, down], 9, &mut Scratch::default()).unwrap();
        assert_eq!(s.kappa, KAPPA_MIN);
        let z = 0.1 / (KAPPA_MIN + 0.02f64).sqrt();
        assert!(
            (s.high - z).abs() < 1e-12 && (s.low + z).abs() < 1e-12,
            "{s:?}"
        );
    }

    #[test]
    fn the_spread_reads_the_last_errors_in_units_of_their_level() {
        // 20 errors at an expectation of 49.5: ±0.1 alternating, then a last one of 0.3.
        let mut errors: Vec<Error> = (0..20)
            .map(|i| Error {
                day: i,
                error: if i % 2 == 0 { 0.1 } else { -0.1 },
                expected: 49.5,
            })
            .collect();
        errors.push(Error {
            day: 20,
            error: 0.3,
            expected: 49.5,
        });
        // On day 19: 20 errors, median 0 (halfway between -0.1 and 0.1), every deviation
        // 0.1: κ = (1.4826 × 0.1)² - 1/50 = 0.001981 → held at 0.0025.
        let s = spread(std::slice::from_ref(&errors), 19, &mut Scratch::default()).unwrap();
        assert_eq!(s.kappa, KAPPA_MIN);
        let z = 0.1 / (KAPPA_MIN + 0.02f64).sqrt();
        assert!(
            (s.high - z).abs() < 1e-12 && (s.low + z).abs() < 1e-12,
            "{s:?}"
        );
        // 13 errors are too few.
        assert_eq!(
            spread(std::slice::from_ref(&errors), 12, &mut Scratch::default()),
            None
        );
        assert!(spread(std::slice::from_ref(&errors), 13, &mut Scratch::default()).is_some());
    }
}
