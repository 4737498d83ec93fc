//! Report periods: which days each comparison puts side by side for a report date.
//!
//! Pure calendar arithmetic; the report date is always an argument, never the clock.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

use crate::metrics::calendar::{Calendar, MAX_STEP_BACK_WEEKS};

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
    /// A weekly report's week (the 7 days ending on D) vs the 7 days before it.
    WeekBefore,
    /// A weekly report's week vs the same 7 days 52 weeks earlier.
    SameWeekLastYear,
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

    /// A weekly report's comparisons, for the week ending on its date.
    pub const WEEKLY: [ComparisonKind; 2] =
        [ComparisonKind::WeekBefore, ComparisonKind::SameWeekLastYear];

    /// A short label for tables and emails.
    pub fn label(self) -> &'static str {
        match self {
            ComparisonKind::PreviousDay => "vs day before",
            ComparisonKind::SameWeekdayLastWeek => "vs last week",
            ComparisonKind::SameWeekdayFourWeekMean => "vs 4-week avg",
            ComparisonKind::WeekToDate => "week to date",
            ComparisonKind::MonthToDate => "month to date",
            ComparisonKind::SameWeekdayLastYear => "vs last year",
            ComparisonKind::WeekBefore => "vs week before",
            ComparisonKind::SameWeekLastYear => "vs same week last year",
        }
    }

    /// The current and previous periods of this comparison for report date `d`. A previous
    /// day the shop was closed is never compared with: the comparison steps back to the last
    /// open day of its kind, and the period says so in its note.
    pub fn periods(self, d: NaiveDate, week_start: Weekday, cal: &Calendar) -> (Period, Period) {
        match self {
            ComparisonKind::PreviousDay => {
                let nominal = minus(d, 1);
                (
                    Period::day(d),
                    stepped(cal, nominal, cal.open_day_before(d)),
                )
            }
            ComparisonKind::SameWeekdayLastWeek => {
                let nominal = minus(d, 7);
                (
                    Period::day(d),
                    stepped(cal, nominal, cal.same_weekday_back(d, 1)),
                )
            }
            ComparisonKind::SameWeekdayFourWeekMean => (Period::day(d), four_weeks(d, cal)),
            ComparisonKind::WeekToDate => {
                let into_week = u64::from(d.weekday().days_since(week_start));
                let start = minus(d, into_week);
                (
                    Period::range(start, d),
                    Period::range(minus(start, 7), minus(d, 7)),
                )
            }
            ComparisonKind::MonthToDate => month_to_date(d, cal),
            ComparisonKind::SameWeekdayLastYear => {
                let nominal = minus(d, 364);
                (
                    Period::day(d),
                    stepped(cal, nominal, cal.same_weekday_back(d, 52)),
                )
            }
            // A week is compared whole: a closed day is part of both weeks' story.
            ComparisonKind::WeekBefore => (
                Period::range(minus(d, 6), d),
                Period::range(minus(d, 13), minus(d, 7)),
            ),
            ComparisonKind::SameWeekLastYear => (
                Period::range(minus(d, 6), d),
                Period::range(minus(d, 370), minus(d, 364)),
            ),
        }
    }
}

/// The day `nominal`, or the open day `open` found in its place when the shop was closed on
/// it (with a note saying why); `nominal` when no open day was found (nothing better exists).
fn stepped(cal: &Calendar, nominal: NaiveDate, open: Option<NaiveDate>) -> Period {
    match (cal.why_closed(nominal), open) {
        (Some(why), Some(o)) => Period {
            note: Some(format!("{} {why}", nominal.format("%-d %b"))),
            ..Period::day(o)
        },
        _ => Period::day(nominal),
    }
}

/// The mean of the same weekday over the four weeks before `d`, or of the last four open ones
/// where the shop was closed on some.
fn four_weeks(d: NaiveDate, cal: &Calendar) -> Period {
    let nominal: Vec<NaiveDate> = (1..=4).rev().map(|w| minus(d, 7 * w)).collect();
    let mut open: Vec<NaiveDate> = (1..=4 + MAX_STEP_BACK_WEEKS)
        .map(|w| minus(d, 7 * w))
        .filter(|x| cal.is_open(*x))
        .take(4)
        .collect();
    open.reverse();
    let closed: Vec<NaiveDate> = nominal
        .iter()
        .copied()
        .filter(|x| !cal.is_open(*x))
        .collect();
    if closed.is_empty() || open.is_empty() {
        return Period {
            days: nominal,
            daily_mean: true,
            note: None,
        };
    }
    let skipped: Vec<String> = closed
        .iter()
        .map(|x| x.format("%-d %b").to_string())
        .collect();
    Period {
        days: open,
        daily_mean: true,
        note: Some(format!("{} closed, left out", skipped.join(", "))),
    }
}

/// Month to date against the start of the month before. Where the shop has closed days, the
/// previous period covers as many open days as this one has (so a month that began on a
/// closed weekday is not set against one that began open); else the same dates, clamped to
/// the previous month's length.
fn month_to_date(d: NaiveDate, cal: &Calendar) -> (Period, Period) {
    let start = d.with_day(1).unwrap_or(d);
    let prev_start = start
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(start);
    let prev_len = days_in_month(prev_start);
    let prev_end = prev_start
        .with_day(d.day().min(prev_len))
        .unwrap_or(prev_start);
    let current = Period::range(start, d);
    let nominal = Period::range(prev_start, prev_end);
    let open = |p: &Period| p.days.iter().filter(|x| cal.is_open(**x)).count();
    let (want, have) = (open(&current), open(&nominal));
    if want == have || want == 0 {
        return (current, nominal);
    }
    // The previous month's first `want` open days, and no day past its end.
    let month_end = prev_start.with_day(prev_len).unwrap_or(prev_start);
    let mut seen = 0;
    let end = prev_start
        .iter_days()
        .take_while(|x| *x <= month_end)
        .find(|x| {
            seen += usize::from(cal.is_open(*x));
            seen == want
        })
        .unwrap_or(month_end);
    let previous = Period {
        note: Some(format!(
            "the first {want} open days of {}",
            prev_start.format("%B")
        )),
        ..Period::range(prev_start, end)
    };
    (current, previous)
}

/// A set of days whose metric rows combine into one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The days, ascending.
    pub days: Vec<NaiveDate>,
    /// When true, additive metrics report the mean per day instead of the total
    /// (the "mean of the same weekday over four weeks" baseline).
    pub daily_mean: bool,
    /// How the period differs from the comparison's usual one, where the shop was closed
    /// ("29 Dec closed: Christmas"); None when it is the usual one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Period {
    pub fn day(d: NaiveDate) -> Period {
        Period {
            days: vec![d],
            daily_mean: false,
            note: None,
        }
    }

    pub fn range(start: NaiveDate, end: NaiveDate) -> Period {
        Period {
            days: start.iter_days().take_while(|x| *x <= end).collect(),
            daily_mean: false,
            note: None,
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
pub fn fetch_ranges(
    d: NaiveDate,
    week_start: Weekday,
    cal: &Calendar,
) -> Vec<(NaiveDate, NaiveDate)> {
    fetch_ranges_of(&ComparisonKind::ALL, d, week_start, cal)
}

/// The days the comparisons `kinds` need for `d`, as [`fetch_ranges`] gives them.
pub fn fetch_ranges_of(
    kinds: &[ComparisonKind],
    d: NaiveDate,
    week_start: Weekday,
    cal: &Calendar,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut recent_start = d;
    let mut ranges = Vec::new();
    for &kind in kinds {
        let (cur, prev) = kind.periods(d, week_start, cal);
        for p in [cur, prev] {
            let year_ago = matches!(
                kind,
                ComparisonKind::SameWeekdayLastYear | ComparisonKind::SameWeekLastYear
            );
            if year_ago && p.first() < minus(d, 60) {
                ranges.push((p.first(), p.last()));
            } else {
                recent_start = recent_start.min(p.first());
            }
        }
    }
    ranges.push((recent_start, d));
    ranges
}

/// The last full week ending on or before `d`, as its first and last days: the week a
/// weekly report covers.
pub fn last_full_week(d: NaiveDate, week_start: Weekday) -> (NaiveDate, NaiveDate) {
    let last_day = week_start.pred();
    let back = u64::from(d.weekday().days_since(last_day));
    let last = minus(d, back);
    (minus(last, 6), last)
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

    /// A shop open every day.
    fn open() -> Calendar {
        Calendar::default()
    }

    fn span(p: &Period) -> (String, String, usize) {
        (p.first().to_string(), p.last().to_string(), p.days.len())
    }

    #[test]
    fn month_to_date_on_31_march_clamps_to_february() {
        let (cur, prev) =
            ComparisonKind::MonthToDate.periods(date("2027-03-31"), Weekday::Mon, &open());
        assert_eq!(span(&cur), ("2027-03-01".into(), "2027-03-31".into(), 31));
        assert_eq!(span(&prev), ("2027-02-01".into(), "2027-02-28".into(), 28));
        let (_, prev) =
            ComparisonKind::MonthToDate.periods(date("2028-03-31"), Weekday::Mon, &open());
        assert_eq!(span(&prev), ("2028-02-01".into(), "2028-02-29".into(), 29));
    }

    #[test]
    fn a_weekly_report_covers_the_last_full_week_against_the_one_before_and_last_year() {
        let w = |d: &str, ws| {
            let (a, b) = last_full_week(date(d), ws);
            (a.to_string(), b.to_string())
        };
        // Weeks from Monday: a Thursday's is the week to the Sunday before; a Sunday's its own.
        assert_eq!(
            w("2026-12-03", Weekday::Mon),
            ("2026-11-23".into(), "2026-11-29".into())
        );
        assert_eq!(
            w("2026-12-06", Weekday::Mon),
            ("2026-11-30".into(), "2026-12-06".into())
        );
        // Weeks from Sunday end on Saturdays.
        assert_eq!(
            w("2026-12-06", Weekday::Sun),
            ("2026-11-29".into(), "2026-12-05".into())
        );
        let (cur, prev) =
            ComparisonKind::WeekBefore.periods(date("2026-12-06"), Weekday::Mon, &open());
        assert_eq!(span(&cur), ("2026-11-30".into(), "2026-12-06".into(), 7));
        assert_eq!(span(&prev), ("2026-11-23".into(), "2026-11-29".into(), 7));
        let (_, prev) =
            ComparisonKind::SameWeekLastYear.periods(date("2026-12-06"), Weekday::Mon, &open());
        // 52 weeks back: the same weekdays, Monday 1 to Sunday 7 December 2025.
        assert_eq!(span(&prev), ("2025-12-01".into(), "2025-12-07".into(), 7));
        let ranges = fetch_ranges_of(
            &ComparisonKind::WEEKLY,
            date("2026-12-06"),
            Weekday::Mon,
            &open(),
        );
        assert_eq!(
            ranges,
            vec![
                (date("2025-12-01"), date("2025-12-07")),
                (date("2026-11-23"), date("2026-12-06"))
            ]
        );
    }

    #[test]
    fn month_to_date_on_the_first_and_on_1_january() {
        let (cur, prev) =
            ComparisonKind::MonthToDate.periods(date("2026-01-01"), Weekday::Mon, &open());
        assert_eq!(span(&cur), ("2026-01-01".into(), "2026-01-01".into(), 1));
        assert_eq!(span(&prev), ("2025-12-01".into(), "2025-12-01".into(), 1));
    }

    #[test]
    fn month_to_date_on_29_february() {
        let (cur, prev) =
            ComparisonKind::MonthToDate.periods(date("2028-02-29"), Weekday::Mon, &open());
        assert_eq!(span(&cur).2, 29);
        assert_eq!(span(&prev), ("2028-01-01".into(), "2028-01-29".into(), 29));
    }

    #[test]
    fn week_to_date_respects_week_start() {
        // 2026-11-21 is a Saturday.
        let (cur, prev) =
            ComparisonKind::WeekToDate.periods(date("2026-11-21"), Weekday::Mon, &open());
        assert_eq!(span(&cur), ("2026-11-16".into(), "2026-11-21".into(), 6));
        assert_eq!(span(&prev), ("2026-11-09".into(), "2026-11-14".into(), 6));
        let (cur, _) =
            ComparisonKind::WeekToDate.periods(date("2026-11-21"), Weekday::Sun, &open());
        assert_eq!(span(&cur), ("2026-11-15".into(), "2026-11-21".into(), 7));
        let (cur, _) =
            ComparisonKind::WeekToDate.periods(date("2026-11-16"), Weekday::Mon, &open());
        assert_eq!(span(&cur).2, 1);
    }

    #[test]
    fn same_weekday_comparisons() {
        let d = date("2024-03-01");
        let (_, prev) = ComparisonKind::SameWeekdayLastYear.periods(d, Weekday::Mon, &open());
        assert_eq!(prev.first(), date("2023-03-03"));
        assert_eq!(prev.first().weekday(), d.weekday());
        let (_, prev) = ComparisonKind::SameWeekdayFourWeekMean.periods(d, Weekday::Mon, &open());
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
        let (_, prev) = ComparisonKind::PreviousDay.periods(d, Weekday::Mon, &open());
        assert_eq!(prev.first(), date("2024-02-29"));
    }

    /// Closed on Saturdays and from 24 Dec 2025 to 3 Jan 2026.
    fn wholesaler() -> Calendar {
        Calendar::new(
            [Weekday::Sat],
            vec![crate::metrics::calendar::Closure {
                from: date("2025-12-24"),
                to: date("2026-01-03"),
                reason: "Christmas".into(),
            }],
        )
    }

    #[test]
    fn a_closed_day_is_never_compared_with() {
        let cal = wholesaler();
        // Monday 5 Jan 2026, the first day back: a week before was 29 Dec, closed.
        let d = date("2026-01-05");
        let (_, prev) = ComparisonKind::SameWeekdayLastWeek.periods(d, Weekday::Mon, &cal);
        assert_eq!(prev.days, [date("2025-12-22")]);
        assert_eq!(prev.note.as_deref(), Some("29 Dec closed for Christmas"));
        // The day before was Sunday 4 Jan, open (only Saturdays and the break are closed).
        let (_, prev) = ComparisonKind::PreviousDay.periods(d, Weekday::Mon, &cal);
        assert_eq!(
            (prev.days.clone(), prev.note),
            (vec![date("2026-01-04")], None)
        );
        // Sunday 4 Jan: the day before (3 Jan) was in the break, and so was every day back
        // to 24 Dec; the last open day was Tuesday 23 Dec.
        let (_, prev) = ComparisonKind::PreviousDay.periods(date("2026-01-04"), Weekday::Mon, &cal);
        assert_eq!(prev.days, [date("2025-12-23")]);
        assert_eq!(prev.note.as_deref(), Some("3 Jan closed for Christmas"));
        // The four-week mean leaves the closed Monday out and reaches back a week more.
        let (_, prev) = ComparisonKind::SameWeekdayFourWeekMean.periods(d, Weekday::Mon, &cal);
        // By hand: 29 Dec is closed, so the four open Mondays before 5 Jan are 1, 8, 15
        // and 22 Dec.
        assert_eq!(
            prev.days,
            [
                date("2025-12-01"),
                date("2025-12-08"),
                date("2025-12-15"),
                date("2025-12-22")
            ]
        );
        assert_eq!(prev.note.as_deref(), Some("29 Dec closed, left out"));
        // A Saturday, always closed, has no open Saturday to step back to: the usual day.
        let (_, prev) =
            ComparisonKind::SameWeekdayLastWeek.periods(date("2026-01-10"), Weekday::Mon, &cal);
        assert_eq!((prev.days, prev.note), (vec![date("2026-01-03")], None));
    }

    #[test]
    fn month_to_date_compares_as_many_open_days() {
        let cal = Calendar::new([Weekday::Sat, Weekday::Sun], Vec::new());
        // Tuesday 3 Feb 2026: 1 (Sun) is closed, 2 and 3 open: two open days. January 2026
        // began on a Thursday: 1 and 2 Jan open, then the weekend; its first two open days
        // are 1-2 Jan, where the dates alone (1-3 Jan) would hold the same two.
        let (cur, prev) =
            ComparisonKind::MonthToDate.periods(date("2026-02-03"), Weekday::Mon, &cal);
        assert_eq!(span(&cur), ("2026-02-01".into(), "2026-02-03".into(), 3));
        assert_eq!(span(&prev), ("2026-01-01".into(), "2026-01-03".into(), 3));
        assert_eq!(prev.note, None);
        // Monday 2 Mar 2026: 1 Mar (Sun) closed, 2 Mar open: one open day. February 2026
        // began on a Sunday: its first open day is Monday 2 Feb, not 1-2 Feb by dates
        // (which would be the same one open day: no shift needed either).
        let (_, prev) = ComparisonKind::MonthToDate.periods(date("2026-03-02"), Weekday::Mon, &cal);
        assert_eq!(span(&prev), ("2026-02-01".into(), "2026-02-02".into(), 2));
        // Friday 6 Nov 2026: 2-6 Nov open (5 days; 1 Nov is a Sunday). October 2026 began on
        // a Thursday: 1-6 Oct by dates holds 4 open days (1, 2, 5, 6), so the comparison
        // runs to its fifth open day, Wednesday 7 Oct.
        let (cur, prev) =
            ComparisonKind::MonthToDate.periods(date("2026-11-06"), Weekday::Mon, &cal);
        assert_eq!(span(&cur).2, 6);
        assert_eq!(span(&prev), ("2026-10-01".into(), "2026-10-07".into(), 7));
        assert_eq!(
            prev.note.as_deref(),
            Some("the first 5 open days of October")
        );
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
            let ranges = fetch_ranges(d, Weekday::Mon, &open());
            for kind in ComparisonKind::ALL {
                let (c, p) = kind.periods(d, Weekday::Mon, &open());
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
