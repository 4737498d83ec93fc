//! The backtest: the forecast replayed over past days, each from what was known the given
//! number of days before it, against what came and against "the same weekday last week".
//! Pure.
//!
//! Closed days are left out: the calendar says 0 for them, so there is nothing to measure.
//! The naive forecast of a day `horizon` days ahead is the orders of the same weekday
//! `⌈horizon / 7⌉` weeks before it, stepping back over closed days of that weekday as the
//! calendar does; skill is `1 − MAPE / MAPE of the naive forecast`, above 0 when the forecast
//! errs less.

use chrono::{Days as Span, NaiveDate};
use serde::Serialize;

use super::{History, Lifts, MAX_DAYS, forecast_with, forecastable};

/// One replayed day: what was expected `horizon` days before, and what came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BacktestRow {
    pub day: NaiveDate,
    pub horizon: u32,
    pub actual: f64,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    /// The orders of the same weekday last week (or the open one before it), None when no
    /// open one lies within the calendar's reach back or the history.
    pub naive: Option<f64>,
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
    /// The MAPE of the same weekday last week, over the days with orders that have one.
    pub naive_mape: Option<f64>,
    /// 1 − MAPE / naive MAPE, both over the days with orders and a naive forecast.
    pub skill: Option<f64>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

pub fn accuracy(rows: &[BacktestRow]) -> Accuracy {
    let with_orders = || rows.iter().filter(|r| r.actual > 0.0);
    let ape = |r: &BacktestRow, f: f64| (r.actual - f).abs() / r.actual;
    let paired = || with_orders().filter_map(|r| Some((r, r.naive?)));
    let actual: f64 = rows.iter().map(|r| r.actual).sum();
    let naive_mape = mean(paired().map(|(r, n)| ape(r, n)));
    let paired_mape = mean(paired().map(|(r, _)| ape(r, r.expected)));
    Accuracy {
        days: rows.len(),
        mape: mean(with_orders().map(|r| ape(r, r.expected))),
        in_range: mean(rows.iter().map(|r| f64::from(u8::from(r.in_range())))),
        bias: (actual > 0.0)
            .then(|| rows.iter().map(|r| r.expected - r.actual).sum::<f64>() / actual),
        naive_mape,
        skill: match (paired_mape, naive_mape) {
            (Some(m), Some(n)) if n > 0.0 => Some(1.0 - m / n),
            _ => None,
        },
    }
}

/// "The same weekday last week" for `day` forecast `horizon` days ahead: the orders of the
/// last open same weekday at least ⌈horizon / 7⌉ weeks before it, so known when forecast.
pub(super) fn naive(h: &History, day: NaiveDate, horizon: u32) -> Option<f64> {
    let weeks = u64::from(horizon.div_ceil(7));
    h.orders(h.calendar().same_weekday_back(day, weeks)?)
}

/// The forecast replayed over the `days` ending on `last`, at each horizon from 1 to
/// `horizons`: each open day forecast from the history known `horizon` days before it.
/// Days without a forecast (too little history then) and closed days are left out.
pub fn backtest(h: &History, last: NaiveDate, days: u32, horizons: u32) -> Vec<BacktestRow> {
    let first = last - Span::new(u64::from(days.max(1)) - 1);
    let mut out = Vec::new();
    for horizon in 1..=horizons.clamp(1, MAX_DAYS) {
        let mut known = Lifts::default();
        for day in first.iter_days().take_while(|d| *d <= last) {
            let origin = day - Span::new(u64::from(horizon));
            if !h.calendar().is_open(day) || forecastable(h, origin).is_err() {
                continue;
            }
            let (Some(actual), Some(f)) =
                (h.orders(day), forecast_with(h, origin, day, &mut known))
            else {
                continue;
            };
            out.push(BacktestRow {
                day,
                horizon,
                actual,
                expected: f.expected,
                low: f.low,
                high: f.high,
                naive: naive(h, day, horizon),
            });
        }
    }
    out
}

/// One window of a backtest: its days and its accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub accuracy: Accuracy,
}

/// A backtest over `windows` consecutive windows of `days` each, the last ending on `last`:
/// each window's accuracy, and all of them together overall and per horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    pub last: NaiveDate,
    pub days: u32,
    pub horizons: u32,
    pub windows: Vec<Window>,
    pub overall: Accuracy,
    pub by_horizon: Vec<(u32, Accuracy)>,
    pub rows: Vec<BacktestRow>,
}

pub fn backtest_report(
    h: &History,
    last: NaiveDate,
    days: u32,
    horizons: u32,
    windows: u32,
) -> BacktestReport {
    let days = days.max(1);
    let windows: Vec<(NaiveDate, NaiveDate)> = (0..windows.max(1))
        .rev()
        .map(|w| {
            let end = last - Span::new(u64::from(w) * u64::from(days));
            (end - Span::new(u64::from(days) - 1), end)
        })
        .collect();
    let rows: Vec<BacktestRow> = windows
        .iter()
        .flat_map(|(_, end)| backtest(h, *end, days, horizons))
        .collect();
    let horizons = horizons.clamp(1, MAX_DAYS);
    let of = |keep: &dyn Fn(&BacktestRow) -> bool| {
        accuracy(&rows.iter().filter(|r| keep(r)).copied().collect::<Vec<_>>())
    };
    BacktestReport {
        last,
        days,
        horizons,
        windows: windows
            .iter()
            .map(|(first, end)| Window {
                first: *first,
                last: *end,
                accuracy: of(&|r| *first <= r.day && r.day <= *end),
            })
            .collect(),
        overall: accuracy(&rows),
        by_horizon: (1..=horizons)
            .map(|k| (k, of(&|r| r.horizon == k)))
            .collect(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::forecast::tests::{christmas, d, series};

    fn row(
        day: &str,
        actual: f64,
        expected: f64,
        range: (f64, f64),
        naive: Option<f64>,
    ) -> BacktestRow {
        BacktestRow {
            day: d(day),
            horizon: 1,
            actual,
            expected,
            low: range.0,
            high: range.1,
            naive,
        }
    }

    #[test]
    fn accuracy_by_hand() {
        let rows = [
            row("2026-12-01", 100.0, 90.0, (80.0, 110.0), Some(120.0)),
            row("2026-12-02", 50.0, 60.0, (55.0, 70.0), Some(40.0)),
        ];
        let a = accuracy(&rows);
        // |100-90|/100 = 0.1, |50-60|/50 = 0.2: MAPE 0.15. One of two in range. Bias
        // (−10 + 10) / 150 = 0. Naive: |100-120|/100 = 0.2, |50-40|/50 = 0.2: 0.2; skill
        // 1 - 0.15 / 0.2 = 0.25.
        assert!((a.mape.unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(a.in_range, Some(0.5));
        assert_eq!(a.bias, Some(0.0));
        assert!((a.naive_mape.unwrap() - 0.2).abs() < 1e-12);
        assert!((a.skill.unwrap() - 0.25).abs() < 1e-12);
        // Skill pairs the days: a day without a naive forecast is in the MAPE, not the skill.
        let rows = [rows[0], row("2026-12-03", 50.0, 60.0, (55.0, 70.0), None)];
        let a = accuracy(&rows);
        assert!((a.mape.unwrap() - 0.15).abs() < 1e-12);
        assert!((a.naive_mape.unwrap() - 0.2).abs() < 1e-12);
        assert!((a.skill.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(accuracy(&[]).mape, None);
    }

    #[test]
    fn the_naive_forecast_steps_back_over_a_closure() {
        // Orders numbered by day: each day's orders say which day they were.
        let h = History::new(
            series("2026-01-31", 200, |i, _| 1000.0 + i as f64),
            Vec::new(),
            christmas(),
        );
        let orders = |s: &str| h.orders(d(s));
        // Monday 12 Jan, a day ahead: Monday 5 Jan.
        assert_eq!(naive(&h, d("2026-01-12"), 1), orders("2026-01-05"));
        // Monday 5 Jan: 29 Dec was closed, so 22 Dec.
        assert_eq!(naive(&h, d("2026-01-05"), 1), orders("2025-12-22"));
        // Eight days ahead, two weeks back: 29 Dec again closed, so 22 Dec.
        assert_eq!(naive(&h, d("2026-01-12"), 8), orders("2025-12-22"));
    }

    #[test]
    fn a_backtest_leaves_out_closed_days_and_reports_each_window() {
        // 100 orders every open day, closed on Saturdays and over Christmas: forecast exactly.
        let cal = christmas();
        let h = History::new(
            series("2026-03-01", 400, |_, day| {
                if cal.is_open(day) { 100.0 } else { 0.0 }
            }),
            Vec::new(),
            cal.clone(),
        );
        let b = backtest_report(&h, d("2026-03-01"), 28, 7, 3);
        let spans: Vec<(NaiveDate, NaiveDate)> =
            b.windows.iter().map(|w| (w.first, w.last)).collect();
        assert_eq!(
            spans,
            [
                (d("2025-12-08"), d("2026-01-04")),
                (d("2026-01-05"), d("2026-02-01")),
                (d("2026-02-02"), d("2026-03-01"))
            ]
        );
        // Every open day of the 84 at each of 7 horizons, counted here from the calendar.
        let open = d("2025-12-08")
            .iter_days()
            .take(84)
            .filter(|x| cal.is_open(*x))
            .count();
        assert_eq!(b.rows.len(), open * 7);
        assert!(b.rows.iter().all(|r| cal.is_open(r.day)));
        // The first window holds the closure: 28 days, 4 Saturdays (two of them in it) and
        // 9 other days of Christmas.
        assert_eq!(b.windows[0].accuracy.days, (28 - 4 - 9) * 7);
        let a = b.overall;
        assert_eq!(
            (a.mape, a.in_range, a.bias),
            (Some(0.0), Some(1.0), Some(0.0))
        );
        // The naive forecast is exact too, so skill cannot be said.
        assert_eq!((a.naive_mape, a.skill), (Some(0.0), None));
        assert_eq!(b.by_horizon.len(), 7);
    }
}
