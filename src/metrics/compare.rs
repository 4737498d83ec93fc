//! Period values and comparisons: turning per-day metric rows into "current vs previous".
//!
//! Pure: takes rows already fetched from the store. Missing data stays "no data" and a zero
//! denominator stays "n/a"; neither ever becomes 0, infinity or NaN.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Weekday};
use serde::Serialize;

use crate::metrics::calendar::Calendar;
use crate::metrics::metric::{Aggregate, Direction, MetricDef};
use crate::metrics::period::{ComparisonKind, Period};

/// One day's summed metric rows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DayRow {
    pub num: f64,
    pub den: f64,
}

/// A metric's rows per day (for one breakdown value, or the whole metric).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub days: BTreeMap<NaiveDate, DayRow>,
}

impl Series {
    /// Sets a day's row. Setting rather than adding means that fetching overlapping ranges
    /// can never count a day twice.
    pub fn insert(&mut self, day: NaiveDate, row: DayRow) {
        self.days.insert(day, row);
    }

    /// The metric's value over `period`, by the metric's aggregate.
    pub fn value(&self, aggregate: Aggregate, period: &Period) -> Value {
        let rows: Vec<DayRow> = period
            .days
            .iter()
            .filter_map(|d| self.days.get(d).copied())
            .collect();
        if rows.is_empty() {
            return Value::NoData;
        }
        let num: f64 = rows.iter().map(|r| r.num).sum();
        let (num, den) = match aggregate {
            Aggregate::Sum if period.daily_mean => (num, rows.len() as f64),
            Aggregate::Sum => (num, 1.0),
            Aggregate::Mean => (num, rows.len() as f64),
            Aggregate::Ratio => (num, rows.iter().map(|r| r.den).sum()),
        };
        Value::ratio(num, den)
    }
}

/// A metric value for a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", content = "value", rename_all = "snake_case")]
pub enum Value {
    Value(f64),
    /// No row in the store for any day of the period.
    NoData,
    /// The denominator was zero (for example, no sessions): the ratio is undefined.
    NotApplicable,
    /// The metric's query failed or ran past its deadline.
    Unavailable,
}

impl Value {
    pub fn ratio(num: f64, den: f64) -> Value {
        if den == 0.0 || !num.is_finite() || !den.is_finite() {
            Value::NotApplicable
        } else {
            Value::Value(num / den)
        }
    }

    pub fn get(self) -> Option<f64> {
        match self {
            Value::Value(v) => Some(v),
            Value::NoData | Value::NotApplicable | Value::Unavailable => None,
        }
    }
}

/// Whether a change is good news, by the metric's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Good,
    Bad,
    /// The metric has no good direction (ad spend), or did not move.
    Neutral,
    /// One side has no value.
    Unknown,
}

/// One comparison of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub kind: ComparisonKind,
    pub label: &'static str,
    pub current_period: (NaiveDate, NaiveDate),
    pub previous_period: (NaiveDate, NaiveDate),
    pub current: Value,
    pub previous: Value,
    /// current - previous, in the metric's unit (points for percentages).
    pub abs_change: Option<f64>,
    /// (current - previous) / |previous|; None when previous is 0 or missing.
    pub rel_change: Option<f64>,
    pub verdict: Verdict,
    /// How the previous period differs from the usual one where the shop was closed
    /// ("29 Dec closed for Christmas").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_note: Option<String>,
}

impl Comparison {
    pub fn new(
        kind: ComparisonKind,
        cur: &Period,
        prev: &Period,
        current: Value,
        previous: Value,
        direction: Direction,
    ) -> Comparison {
        let (abs_change, rel_change, verdict) = match (current.get(), previous.get()) {
            (Some(c), Some(p)) => {
                let abs = c - p;
                let rel = (p != 0.0).then(|| abs / p.abs());
                let verdict = match direction {
                    _ if abs == 0.0 => Verdict::Neutral,
                    Direction::Neutral => Verdict::Neutral,
                    Direction::HigherIsBetter if abs > 0.0 => Verdict::Good,
                    Direction::LowerIsBetter if abs < 0.0 => Verdict::Good,
                    _ => Verdict::Bad,
                };
                (Some(abs), rel, verdict)
            }
            _ => (None, None, Verdict::Unknown),
        };
        Comparison {
            kind,
            label: kind.label(),
            current_period: (cur.first(), cur.last()),
            previous_period: (prev.first(), prev.last()),
            current,
            previous,
            abs_change,
            rel_change,
            verdict,
            previous_note: prev.note.clone(),
        }
    }
}

/// Every comparison of one series for report date `d`.
pub fn compare_all(
    series: &Series,
    metric: &MetricDef,
    d: NaiveDate,
    week_start: Weekday,
    cal: &Calendar,
) -> Vec<Comparison> {
    compare_kinds(&ComparisonKind::ALL, series, metric, d, week_start, cal)
}

/// The comparisons `kinds` of one series for report date `d`.
pub fn compare_kinds(
    kinds: &[ComparisonKind],
    series: &Series,
    metric: &MetricDef,
    d: NaiveDate,
    week_start: Weekday,
    cal: &Calendar,
) -> Vec<Comparison> {
    kinds
        .iter()
        .map(|&kind| {
            let (cur, prev) = kind.periods(d, week_start, cal);
            Comparison::new(
                kind,
                &cur,
                &prev,
                series.value(metric.aggregate, &cur),
                series.value(metric.aggregate, &prev),
                metric.direction,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(rows: &[(&str, f64, f64)]) -> Series {
        let mut s = Series::default();
        for (day, num, den) in rows {
            s.insert(
                d(day),
                DayRow {
                    num: *num,
                    den: *den,
                },
            );
        }
        s
    }

    #[test]
    fn ratio_of_a_period_is_pooled_not_a_mean_of_daily_rates() {
        // Day 1: 1/10 = 10%; day 2: 9/90 = 10%... use unequal: 1/10 and 1/100.
        let s = series(&[("2026-01-01", 1.0, 10.0), ("2026-01-02", 1.0, 100.0)]);
        let v = s.value(
            Aggregate::Ratio,
            &Period::range(d("2026-01-01"), d("2026-01-02")),
        );
        assert_eq!(v, Value::Value(2.0 / 110.0));
    }

    #[test]
    fn missing_days_are_no_data_and_zero_denominators_are_not_applicable() {
        let s = series(&[("2026-01-01", 5.0, 0.0)]);
        assert_eq!(
            s.value(Aggregate::Sum, &Period::day(d("2026-01-02"))),
            Value::NoData
        );
        assert_eq!(
            s.value(Aggregate::Ratio, &Period::day(d("2026-01-01"))),
            Value::NotApplicable
        );
        assert_eq!(
            s.value(Aggregate::Sum, &Period::day(d("2026-01-01"))),
            Value::Value(5.0)
        );
    }

    #[test]
    fn daily_mean_divides_additive_metrics_by_days_with_data() {
        let s = series(&[("2026-01-01", 10.0, 0.0), ("2026-01-08", 20.0, 0.0)]);
        let p = Period {
            days: vec![d("2026-01-01"), d("2026-01-08"), d("2026-01-15")],
            daily_mean: true,
            note: None,
        };
        assert_eq!(s.value(Aggregate::Sum, &p), Value::Value(15.0));
        assert_eq!(
            s.value(
                Aggregate::Mean,
                &Period::range(d("2026-01-01"), d("2026-01-08"))
            ),
            Value::Value(15.0)
        );
    }

    #[test]
    fn verdict_follows_direction() {
        let p = Period::day(d("2026-01-01"));
        let c = |cur: f64, prev: f64, dir| {
            Comparison::new(
                ComparisonKind::PreviousDay,
                &p,
                &p,
                Value::Value(cur),
                Value::Value(prev),
                dir,
            )
        };
        assert_eq!(
            c(2.0, 1.0, Direction::HigherIsBetter).verdict,
            Verdict::Good
        );
        assert_eq!(c(2.0, 1.0, Direction::LowerIsBetter).verdict, Verdict::Bad);
        assert_eq!(c(0.5, 1.0, Direction::LowerIsBetter).verdict, Verdict::Good);
        assert_eq!(c(2.0, 1.0, Direction::Neutral).verdict, Verdict::Neutral);
        assert_eq!(
            c(1.0, 1.0, Direction::HigherIsBetter).verdict,
            Verdict::Neutral
        );
        let up = c(3.0, 2.0, Direction::HigherIsBetter);
        assert_eq!(up.abs_change, Some(1.0));
        assert_eq!(up.rel_change, Some(0.5));
        let from_zero = c(3.0, 0.0, Direction::HigherIsBetter);
        assert_eq!(from_zero.rel_change, None);
        assert_eq!(from_zero.abs_change, Some(3.0));
        let down_from_negative = c(-20.0, -10.0, Direction::HigherIsBetter);
        assert_eq!(down_from_negative.rel_change, Some(-1.0));
        let missing = Comparison::new(
            ComparisonKind::PreviousDay,
            &p,
            &p,
            Value::Value(1.0),
            Value::NoData,
            Direction::HigherIsBetter,
        );
        assert_eq!(
            (missing.abs_change, missing.verdict),
            (None, Verdict::Unknown)
        );
    }
}
