//! Plans (`[[plans]]`): a metric's target for a month, a quarter or an ISO week, and a
//! period's figure against it ("vs plan"). A summed metric's target is spread evenly over its
//! days, so a week is held to its share of the month; a rate or a level is held to the
//! target as it is.

use chrono::{Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::metrics::compare::Verdict;
use crate::metrics::metric::{Aggregate, Direction};

/// One plan row: the metric, the days it covers, and the target over them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanTarget {
    pub metric: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub target: f64,
}

/// `[[plans]]` as written in the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub metric: String,
    /// "2026-12" (a month), "2026-Q4" (a quarter) or "2026-W49" (an ISO week).
    pub period: String,
    pub target: f64,
}

/// The first and last day of a plan's period, or why the text is not one.
pub fn parse_period(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let bad = || {
        format!(
            "{text:?} is not a period: give a month (2026-12), a quarter (2026-Q4) or an ISO week (2026-W49)"
        )
    };
    let (year, rest) = text.split_once('-').ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    if !(2000..=2100).contains(&year) {
        return Err(bad());
    }
    let month = |m: u32, n: u32| -> Option<(NaiveDate, NaiveDate)> {
        let first = NaiveDate::from_ymd_opt(year, m, 1)?;
        let next = first.checked_add_months(Months::new(n))?;
        Some((first, next.pred_opt()?))
    };
    if let Some(q) = rest.strip_prefix('Q') {
        let q: u32 = q.parse().map_err(|_| bad())?;
        return (1..=4)
            .contains(&q)
            .then(|| month((q - 1) * 3 + 1, 3))
            .flatten()
            .ok_or_else(bad);
    }
    if let Some(w) = rest.strip_prefix('W') {
        let w: u32 = w.parse().map_err(|_| bad())?;
        let first = NaiveDate::from_isoywd_opt(year, w, Weekday::Mon).ok_or_else(bad)?;
        return Ok((first, first + Days::new(6)));
    }
    let m: u32 = rest.parse().map_err(|_| bad())?;
    month(m, 1).filter(|_| rest.len() == 2).ok_or_else(bad)
}

/// A period's figure against its plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanCheck {
    /// The target for the period: its share of each plan it overlaps.
    pub target: f64,
    /// The figure over the target: 1.04 is 4% ahead of plan.
    pub attained: Option<f64>,
    pub verdict: Verdict,
}

/// The target of `metric` over `first..=last`: for a summed metric, each plan's target times
/// the share of its days in the period (None unless plans cover every day); for a rate or a
/// level, the target of the plan that covers the period's last day.
pub fn target(
    plans: &[PlanTarget],
    metric: &str,
    aggregate: Aggregate,
    first: NaiveDate,
    last: NaiveDate,
) -> Option<f64> {
    let mine = plans.iter().filter(|p| p.metric == metric);
    if aggregate != Aggregate::Sum {
        return mine
            .filter(|p| p.first <= last && p.last >= last)
            .map(|p| p.target)
            .next();
    }
    let (mut total, mut covered) = (0.0, 0i64);
    for p in mine {
        let from = p.first.max(first);
        let to = p.last.min(last);
        if from > to {
            continue;
        }
        let shared = (to - from).num_days() + 1;
        let days = (p.last - p.first).num_days() + 1;
        total += p.target * shared as f64 / days as f64;
        covered += shared;
    }
    (covered == (last - first).num_days() + 1).then_some(total)
}

/// `current` against `target`, judged by the metric's direction.
pub fn check(current: Option<f64>, target: f64, direction: Direction) -> PlanCheck {
    let attained = current.and_then(|c| (target != 0.0).then(|| c / target));
    let verdict = match (current, direction) {
        (None, _) | (_, Direction::Neutral) => Verdict::Neutral,
        (Some(c), Direction::HigherIsBetter) if c >= target => Verdict::Good,
        (Some(c), Direction::LowerIsBetter) if c <= target => Verdict::Good,
        (Some(_), _) => Verdict::Bad,
    };
    PlanCheck {
        target,
        attained,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_are_months_quarters_and_iso_weeks() {
        assert_eq!(
            parse_period("2026-12"),
            Ok((d("2026-12-01"), d("2026-12-31")))
        );
        assert_eq!(
            parse_period("2026-Q1"),
            Ok((d("2026-01-01"), d("2026-03-31")))
        );
        assert_eq!(
            parse_period("2026-W49"),
            Ok((d("2026-11-30"), d("2026-12-06")))
        );
        for bad in [
            "2026", "2026-13", "2026-Q5", "2026-W54", "26-12", "2026-1", "x-12",
        ] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_week_is_held_to_its_share_of_the_month() {
        let plans = [
            PlanTarget {
                metric: "net_revenue".into(),
                first: d("2026-11-01"),
                last: d("2026-11-30"),
                target: 30_000.0,
            },
            PlanTarget {
                metric: "net_revenue".into(),
                first: d("2026-12-01"),
                last: d("2026-12-31"),
                target: 62_000.0,
            },
        ];
        // 30 Nov is 1/30 of November's 30,000; 1-6 Dec are 6/31 of 62,000.
        let t = target(
            &plans,
            "net_revenue",
            Aggregate::Sum,
            d("2026-11-30"),
            d("2026-12-06"),
        );
        assert_eq!(t, Some(1_000.0 + 12_000.0));
        // Not every day planned: no target.
        let t = target(
            &plans,
            "net_revenue",
            Aggregate::Sum,
            d("2026-10-30"),
            d("2026-11-05"),
        );
        assert_eq!(t, None);
        // A rate: the plan of the last day, as it is.
        let t = target(
            &plans,
            "net_revenue",
            Aggregate::Ratio,
            d("2026-11-30"),
            d("2026-12-06"),
        );
        assert_eq!(t, Some(62_000.0));
        let c = check(Some(13_650.0), 13_000.0, Direction::HigherIsBetter);
        assert_eq!(c.verdict, Verdict::Good);
        assert!((c.attained.unwrap() - 1.05).abs() < 1e-12);
    }
}
