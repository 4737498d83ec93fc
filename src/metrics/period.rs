//! Report periods: which days each comparison puts side by side for a report date.
//!
//! Pure calendar arithmetic; the report date is always an argument, never the clock.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

/// The comparisons every metric gets, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonKind {
    /// D vs D-1.
    PreviousDay,
    /// D vs D-7.
    SameWeekdayLastWeek,
    /// D vs the mean of D-7, D-14, D-21 and D-28.
    SameWeekdayFourWeekMean,
    /// Week to date vs the same days of the previous week.
    WeekToDate,
    /// Month to date vs the same days of the previous month, clamped to its length.
    MonthToDate,
    /// D vs D-364, the same weekday a year earlier.
    SameWeekdayLastYear,
}

impl ComparisonKind {
    pub const ALL: [ComparisonKind; 6] = [
        ComparisonKind::PreviousDay,
        ComparisonKind::SameWeekdayLastWeek,
        ComparisonKind::SameWeekdayFourWeekMean,
        ComparisonKind::WeekToDate,
        ComparisonKind::MonthToDate,
        ComparisonKind::SameWeekdayLastYear,
    ];

    /// A short label for tables and emails.
    pub fn label(self) -> &'static str {
        match self {
            ComparisonKind::PreviousDay => "vs day before",
            ComparisonKind::SameWeekdayLastWeek => "vs last week",
            ComparisonKind::SameWeekdayFourWeekMean => "vs 4-week avg",
            ComparisonKind::WeekToDate => "week to date",
            ComparisonKind::MonthToDate => "month to date",
            ComparisonKind::SameWeekdayLastYear => "vs last year",
        }
    }

    /// The current and previous periods of this comparison for report date `d`.
    pub fn periods(self, d: NaiveDate, week_start: Weekday) -> (Period, Period) {
        match self {
            ComparisonKind::PreviousDay => (Period::day(d), Period::day(minus(d, 1))),
            ComparisonKind::SameWeekdayLastWeek => (Period::day(d), Period::day(minus(d, 7))),
            ComparisonKind::SameWeekdayFourWeekMean => (
                Period::day(d),
                Period {
                    days: (1..=4).rev().map(|w| minus(d, 7 * w)).collect(),
                    daily_mean: true,
                },
            ),
            ComparisonKind::WeekToDate => {
                let into_week = u64::from(d.weekday().days_since(week_start));
                let start = minus(d, into_week);
                (
                    Period::range(start, d),
                    Period::range(minus(start, 7), minus(d, 7)),
                )
            }
            ComparisonKind::MonthToDate => {
                let start = d.with_day(1).expect("day 1 exists in every month");
                let prev_start = start
                    .checked_sub_months(chrono::Months::new(1))
                    .expect("dates in range");
                let prev_len = days_in_month(prev_start);
                let prev_end = prev_start
                    .with_day(d.day().min(prev_len))
                    .expect("clamped to the month's length");
                (Period::range(start, d), Period::range(prev_start, prev_end))
            }
            ComparisonKind::SameWeekdayLastYear => (Period::day(d), Period::day(minus(d, 364))),
        }
    }
}

/// A set of days whose metric rows combine into one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The days, ascending.
    pub days: Vec<NaiveDate>,
    /// When true, additive metrics report the mean per day instead of the total
    /// (the "mean of the same weekday over four weeks" baseline).
    pub daily_mean: bool,
}

impl Period {
    pub fn day(d: NaiveDate) -> Period {
        Period {
            days: vec![d],
            daily_mean: false,
        }
    }

    pub fn range(start: NaiveDate, end: NaiveDate) -> Period {
        Period {
            days: start.iter_days().take_while(|x| *x <= end).collect(),
            daily_mean: false,
        }
    }

    pub fn first(&self) -> NaiveDate {
        self.days[0]
    }

    pub fn last(&self) -> NaiveDate {
        *self.days.last().expect("a period has at least one day")
    }
}

/// Every day any comparison for `d` needs, as (first, last) ranges to fetch.
///
/// Two ranges rather than one so that the year-ago day does not pull a whole year of rows.
pub fn fetch_ranges(d: NaiveDate, week_start: Weekday) -> Vec<(NaiveDate, NaiveDate)> {
    let mut recent_start = d;
    let mut ranges = Vec::new();
    for kind in ComparisonKind::ALL {
        let (cur, prev) = kind.periods(d, week_start);
        for p in [cur, prev] {
            if kind == ComparisonKind::SameWeekdayLastYear && p.first() < minus(d, 60) {
                ranges.push((p.first(), p.last()));
            } else {
                recent_start = recent_start.min(p.first());
            }
        }
    }
    ranges.push((recent_start, d));
    ranges
}

/// Sorts ranges and merges those that overlap or touch.
pub fn merge_ranges(mut ranges: Vec<(NaiveDate, NaiveDate)>) -> Vec<(NaiveDate, NaiveDate)> {
    ranges.sort();
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1 + Days::new(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn minus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(days)).expect("dates in range")
}

fn days_in_month(first: NaiveDate) -> u32 {
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("dates in range");
    (next - first).num_days() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn span(p: &Period) -> (String, String, usize) {
        (p.first().to_string(), p.last().to_string(), p.days.len())
    }

    #[test]
    fn month_to_date_on_31_march_clamps_to_february() {
        let (cur, prev) = ComparisonKind::MonthToDate.periods(date("2027-03-31"), Weekday::Mon);
        assert_eq!(span(&cur), ("2027-03-01".into(), "2027-03-31".into(), 31));
        assert_eq!(span(&prev), ("2027-02-01".into(), "2027-02-28".into(), 28));
        let (_, prev) = ComparisonKind::MonthToDate.periods(date("2028-03-31"), Weekday::Mon);
        assert_eq!(span(&prev), ("2028-02-01".into(), "2028-02-29".into(), 29));
    }

    #[test]
    fn month_to_date_on_the_first_and_on_1_january() {
        let (cur, prev) = ComparisonKind::MonthToDate.periods(date("2026-01-01"), Weekday::Mon);
        assert_eq!(span(&cur), ("2026-01-01".into(), "2026-01-01".into(), 1));
        assert_eq!(span(&prev), ("2025-12-01".into(), "2025-12-01".into(), 1));
    }

    #[test]
    fn month_to_date_on_29_february() {
        let (cur, prev) = ComparisonKind::MonthToDate.periods(date("2028-02-29"), Weekday::Mon);
        assert_eq!(span(&cur).2, 29);
        assert_eq!(span(&prev), ("2028-01-01".into(), "2028-01-29".into(), 29));
    }

    #[test]
    fn week_to_date_respects_week_start() {
        // 2026-11-21 is a Saturday.
        let (cur, prev) = ComparisonKind::WeekToDate.periods(date("2026-11-21"), Weekday::Mon);
        assert_eq!(span(&cur), ("2026-11-16".into(), "2026-11-21".into(), 6));
        assert_eq!(span(&prev), ("2026-11-09".into(), "2026-11-14".into(), 6));
        let (cur, _) = ComparisonKind::WeekToDate.periods(date("2026-11-21"), Weekday::Sun);
        assert_eq!(span(&cur), ("2026-11-15".into(), "2026-11-21".into(), 7));
        let (cur, _) = ComparisonKind::WeekToDate.periods(date("2026-11-16"), Weekday::Mon);
        assert_eq!(span(&cur).2, 1);
    }

    #[test]
    fn same_weekday_comparisons() {
        let d = date("2024-03-01");
        let (_, prev) = ComparisonKind::SameWeekdayLastYear.periods(d, Weekday::Mon);
        assert_eq!(prev.first(), date("2023-03-03"));
        assert_eq!(prev.first().weekday(), d.weekday());
        let (_, prev) = ComparisonKind::SameWeekdayFourWeekMean.periods(d, Weekday::Mon);
        assert_eq!(
            prev.days,
            vec![
                date("2024-02-02"),
                date("2024-02-09"),
                date("2024-02-16"),
                date("2024-02-23")
            ]
        );
        assert!(prev.daily_mean);
        let (_, prev) = ComparisonKind::PreviousDay.periods(d, Weekday::Mon);
        assert_eq!(prev.first(), date("2024-02-29"));
    }

    #[test]
    fn merging_ranges() {
        let r = merge_ranges(vec![
            (date("2026-01-10"), date("2026-01-20")),
            (date("2026-01-01"), date("2026-01-05")),
            (date("2026-01-06"), date("2026-01-07")),
            (date("2026-01-15"), date("2026-01-25")),
            (date("2026-03-01"), date("2026-03-01")),
        ]);
        assert_eq!(
            r,
            vec![
                (date("2026-01-01"), date("2026-01-07")),
                (date("2026-01-10"), date("2026-01-25")),
                (date("2026-03-01"), date("2026-03-01")),
            ]
        );
    }

    #[test]
    fn fetch_ranges_cover_every_period() {
        for d in ["2026-01-01", "2026-03-31", "2028-02-29", "2026-11-21"] {
            let d = date(d);
            let ranges = fetch_ranges(d, Weekday::Mon);
            for kind in ComparisonKind::ALL {
                let (c, p) = kind.periods(d, Weekday::Mon);
                for day in c.days.iter().chain(&p.days) {
                    assert!(
                        ranges.iter().any(|(a, b)| a <= day && day <= b),
                        "{day} of {kind:?} not fetched for {d}"
                    );
                }
            }
            assert!(
                ranges
                    .iter()
                    .map(|(a, b)| (*b - *a).num_days())
                    .sum::<i64>()
                    < 80
            );
        }
    }
}
