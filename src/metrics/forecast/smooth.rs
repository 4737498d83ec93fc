//! The baseline: Holt-Winters smoothing of the ordinary open days (a level, a damped trend
//! and each weekday's share, multiplied), robust to a lumpy day, with its smoothing weights
//! chosen on each day from the days before. Pure.
//!
//! Closed days and campaign days are not data: the state is carried over them unchanged, so
//! a closure neither drags the level down with its zeros nor moves it at all. A day far
//! from its forecast (a chain's orders for every store) moves the state only as far as
//! [`CLIP`] times the recent spread of the errors.

use super::Days;

/// The smoothing weights tried: each combination of a level weight, a trend weight and a
/// weekday weight. The default (the first) is taken until the history tells them apart.
const ALPHAS: [f64; 5] = [0.05, 0.1, 0.15, 0.2, 0.3];
const BETAS: [f64; 3] = [0.0, 0.01, 0.03];
const GAMMAS: [f64; 3] = [0.02, 0.05, 0.1];
const DEFAULT: Weights = Weights {
    alpha: 0.15,
    beta: 0.01,
    gamma: 0.05,
};
/// The trend fades by this much with each open day ahead, so that a week of falling orders
/// is not carried on for a month.
pub const DAMPING: f64 = 0.9;
/// An error beyond this many times the recent spread moves the state only that far.
pub const CLIP: f64 = 2.5;
/// Weight of each new error in the recent spread, the spread assumed at the start, and the
/// least the clip takes it to be: a shop that was steady for months may still change.
const SPREAD_WEIGHT: f64 = 0.05;
const SPREAD_START: f64 = 0.25;
const SPREAD_MIN: f64 = 0.05;
/// Days of history the first state is read from: the level is their mean and each
/// weekday's share its mean over it.
pub const INIT_DAYS: usize = 28;
/// Days of errors that choose the weights on a day, and how far ahead each error is taken.
pub const FIT_DAYS: usize = 364;
pub const FIT_HORIZON: usize = 7;
/// A weekday's share is never taken below this: a weekday once quiet may trade again.
const MIN_SHARE: f64 = 0.05;

/// The three smoothing weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Of a new day in the level.
    pub alpha: f64,
    /// Of the level's last change in the trend.
    pub beta: f64,
    /// Of a new day in its weekday's share.
    pub gamma: f64,
}

/// Every combination of weights, the default first.
pub fn grid() -> Vec<Weights> {
    let mut out = vec![DEFAULT];
    for alpha in ALPHAS {
        for beta in BETAS {
            for gamma in GAMMAS {
                let w = Weights { alpha, beta, gamma };
                if w != DEFAULT {
                    out.push(w);
                }
            }
        }
    }
    out
}

/// What the smoothing knows at the end of a day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// Orders on a day whose weekday share is 1.
    pub level: f64,
    /// The level's change per open day.
    pub trend: f64,
    /// Each weekday's share (Monday first); its mean over the open weekdays is about 1.
    pub share: [f64; 7],
    /// The recent spread of the log errors, for the clip.
    spread: f64,
}

impl State {
    /// The expected orders `steps` open days ahead on `weekday`, with the trend damped.
    pub fn ahead(&self, steps: u32, weekday: usize) -> f64 {
        let damped = damped_steps(steps);
        (self.level + self.trend * damped).max(0.0) * self.share[weekday]
    }
}

/// Σ DAMPING^i for i = 1..=steps: how many days of trend `steps` open days ahead carry.
pub fn damped_steps(steps: u32) -> f64 {
    DAMPING * (1.0 - DAMPING.powi(steps.min(1000) as i32)) / (1.0 - DAMPING)
}

/// ln((actual + ½) / (expected + ½)): the error of an expectation as a ratio, finite at 0.
pub fn log_error(actual: f64, expected: f64) -> f64 {
    ((actual + 0.5) / (expected.max(0.0) + 0.5)).ln()
}

/// The first state: the mean of the ordinary days of the first [`INIT_DAYS`] and each
/// weekday's share of it. None when those days hold no ordinary day.
fn first_state(days: &Days) -> Option<State> {
    let init: Vec<usize> = (0..INIT_DAYS.min(days.len()))
        .filter(|&i| days.used[i])
        .collect();
    if init.is_empty() {
        return None;
    }
    let level = init.iter().map(|&i| days.orders[i]).sum::<f64>() / init.len() as f64;
    let mut share = [1.0; 7];
    for (w, s) in share.iter_mut().enumerate() {
        let of_w: Vec<f64> = init
            .iter()
            .filter(|&&i| days.weekday[i] == w)
            .map(|&i| days.orders[i])
            .collect();
        if !of_w.is_empty() && level > 0.0 {
            *s = (of_w.iter().sum::<f64>() / of_w.len() as f64 / level).max(MIN_SHARE);
        }
    }
    Some(State {
        level,
        trend: 0.0,
        share,
        spread: SPREAD_START,
    })
}

/// One ordinary day's orders `y` into the state.
fn update(s: &mut State, w: Weights, weekday: usize, y: f64) {
    let expected = s.ahead(1, weekday);
    let error = log_error(y, expected);
    let limit = CLIP * s.spread.max(SPREAD_MIN);
    let clipped = error.clamp(-limit, limit);
    s.spread = ((1.0 - SPREAD_WEIGHT) * s.spread.powi(2) + SPREAD_WEIGHT * clipped.powi(2)).sqrt();
    // The day as far as the clip lets it count: the day itself when within it.
    let y = ((expected + 0.5) * clipped.exp() - 0.5).max(0.0);
    let share = s.share[weekday].max(MIN_SHARE);
    let before = s.level + DAMPING * s.trend;
    let level = (w.alpha * y / share + (1.0 - w.alpha) * before).max(0.0);
    s.trend = w.beta * (level - s.level) + (1.0 - w.beta) * DAMPING * s.trend;
    if level > 0.0 {
        s.share[weekday] = (w.gamma * y / level + (1.0 - w.gamma) * share).max(MIN_SHARE);
    }
    s.level = level;
}

/// Runs the smoothing with weights `w` over every day, calling `visit` with each day's
/// index and its state at the end of it, from the last day of the first state on.
fn smooth(days: &Days, w: Weights, mut visit: impl FnMut(usize, &State)) {
    let Some(mut s) = first_state(days) else {
        return;
    };
    for t in INIT_DAYS - 1..days.len() {
        if t >= INIT_DAYS && days.used[t] {
            update(&mut s, w, days.weekday[t], days.orders[t]);
        }
        visit(t, &s);
    }
}

/// Each day's state, from the weights whose forecasts 1 to [`FIT_HORIZON`] days ahead
/// erred least over the [`FIT_DAYS`] ending on it (the default on a tie). None before the
/// first state. A day's choice reads only the errors of days up to it.
pub(crate) fn fit(days: &Days) -> Vec<Option<(State, Weights)>> {
    let n = days.len();
    let grid = grid();
    // Running sums of each weight's errors, day by day.
    let sums: Vec<Vec<f64>> = grid.iter().map(|w| error_sums(days, *w)).collect();
    let chosen: Vec<Option<usize>> = (0..n)
        .map(|t| {
            if t + 1 < INIT_DAYS {
                return None;
            }
            let score = |c: usize| sums[c][t] - t.checked_sub(FIT_DAYS).map_or(0.0, |a| sums[c][a]);
            let mut best = 0;
            for c in 1..grid.len() {
                if score(c) < score(best) {
                    best = c;
                }
            }
            Some(best)
        })
        .collect();
    let mut out = vec![None; n];
    for (c, w) in grid.iter().enumerate() {
        if !chosen.contains(&Some(c)) {
            continue;
        }
        smooth(days, *w, |t, s| {
            if chosen[t] == Some(c) {
                out[t] = Some((*s, *w));
            }
        });
    }
    out
}

/// The running sum, day by day, of the absolute log errors of weights `w`'s forecasts of each
/// ordinary day made 1 to [`FIT_HORIZON`] days before it.
fn error_sums(days: &Days, w: Weights) -> Vec<f64> {
    let mut sums = vec![0.0; days.len()];
    // The last FIT_HORIZON days' states, by day index modulo its length.
    const SLOTS: usize = FIT_HORIZON + 1;
    let mut recent: [Option<State>; SLOTS] = [None; SLOTS];
    let mut total = 0.0;
    smooth(days, w, |t, s| {
        if days.used[t] {
            for h in 1..=FIT_HORIZON.min(t) {
                // A slot holds day t - h once that day has a state, and nothing before.
                if let Some(before) = recent[(t - h) % SLOTS] {
                    let expected = before.ahead(days.steps(t - h, t), days.weekday[t]);
                    total += log_error(days.orders[t], expected).abs();
                }
            }
        }
        recent[t % SLOTS] = Some(*s);
        sums[t] = total;
    });
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_fades_with_each_open_day() {
        // 0.9 + 0.81 + 0.729 = 2.439.
        assert!((damped_steps(3) - 2.439).abs() < 1e-12);
        assert_eq!(damped_steps(0), 0.0);
        // Far ahead it tends to 0.9 / 0.1 = 9 days of trend.
        assert!((damped_steps(500) - 9.0).abs() < 1e-9);
    }

    #[test]
    fn an_ordinary_day_moves_the_state_by_its_weights() {
        let mut s = State {
            level: 100.0,
            trend: 2.0,
            share: [1.0, 1.0, 1.0, 1.2, 1.0, 0.5, 0.5],
            spread: 0.25,
        };
        let w = Weights {
            alpha: 0.2,
            beta: 0.1,
            gamma: 0.1,
        };
        // Thursday: expected (100 + 0.9 × 2) × 1.2 = 122.16; 130 came, well within the clip.
        update(&mut s, w, 3, 130.0);
        let level = 0.2 * 130.0 / 1.2 + 0.8 * 101.8;
        assert!((s.level - level).abs() < 1e-9, "{}", s.level);
        let trend = 0.1 * (level - 100.0) + 0.9 * 0.9 * 2.0;
        assert!((s.trend - trend).abs() < 1e-9);
        assert!((s.share[3] - (0.1 * 130.0 / level + 0.9 * 1.2)).abs() < 1e-9);
        // Other weekdays keep their shares.
        assert_eq!(s.share[0], 1.0);
    }

    #[test]
    fn a_day_far_off_counts_only_as_far_as_the_clip() {
        let s0 = State {
            level: 100.0,
            trend: 0.0,
            share: [1.0; 7],
            spread: 0.1,
        };
        let w = Weights {
            alpha: 0.5,
            beta: 0.0,
            gamma: 0.0,
        };
        let (mut a, mut b) = (s0, s0);
        // 1,000 orders and 10,000 are both past 2.5 × 0.1 of the expected 100: each counts as
        // (100.5 × e^0.25 − 0.5) = 128.55.
        update(&mut a, w, 0, 1000.0);
        update(&mut b, w, 0, 10_000.0);
        assert_eq!(a.level, b.level);
        let y = 100.5 * 0.25f64.exp() - 0.5;
        assert!(
            (a.level - (0.5 * y + 0.5 * 100.0)).abs() < 1e-9,
            "{}",
            a.level
        );
    }
}
