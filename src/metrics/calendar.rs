//! The shop's trading calendar: the weekdays it is closed, its closures (a Christmas break, a
//! stocktake), and the weekdays its history shows it closed. Pure: the history is an argument.
//!
//! A closed day is not a bad day. Nothing is compared with it, forecast above 0 for it, or
//! called incomplete for having no orders; and a comparison that would land on one (the same
//! weekday last week, a week after Christmas) steps back to the last open day of its kind.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

/// Weeks of history that decide whether a weekday is closed: none of its last this many
/// occurrences (closures apart) had an order, while other days did.
pub const INFER_WEEKS: u64 = 8;

/// Orders a day the shop must average on the weekdays it trades before a weekday without
/// any is taken for closed: at 2 a day, eight empty days by chance are a 1-in-9-million
/// event (e^-16); a shop of a few orders a week has empty weekdays by chance, not by rule.
pub const MIN_INFER_DAILY: f64 = 2.0;

/// How far back a comparison looks for an open day of the kind it wants, in weeks: past a
/// closure of any believable length, and no further.
pub const MAX_STEP_BACK_WEEKS: u64 = 8;

/// One closure of the shop: every day from `from` to `to`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Why, in the shop's words ("Christmas"): the email says it.
    pub reason: String,
}

/// When the shop trades.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Weekdays the shop never opens, as configured or as its history shows, by
    /// `num_days_from_monday`.
    closed: [bool; 7],
    /// Of those, the weekdays the history showed (for saying why).
    inferred: [bool; 7],
    closures: Vec<Closure>,
}

impl Calendar {
    /// A calendar of the configured closed weekdays and closures.
    pub fn new(closed: impl IntoIterator<Item = Weekday>, closures: Vec<Closure>) -> Calendar {
        let mut days = [false; 7];
        for w in closed {
            days[ix(w)] = true;
        }
        Calendar {
            closed: days,
            inferred: [false; 7],
            closures,
        }
    }

    /// Adds the weekdays on which the shop took no order in the [`INFER_WEEKS`] weeks up to
    /// `as_of` (closure days apart), while it took orders on other days of those weeks.
    /// `since` is the shop's first day with orders: a shop younger than the window infers
    /// nothing. `orders` needs only the window's days; a day it lacks had none.
    pub fn infer(
        mut self,
        orders: &BTreeMap<NaiveDate, f64>,
        since: Option<NaiveDate>,
        as_of: NaiveDate,
    ) -> Calendar {
        let Some(first) = as_of.checked_sub_days(Days::new(INFER_WEEKS * 7 - 1)) else {
            return self;
        };
        if since.is_none_or(|s| s > first) {
            return self;
        }
        let window = first.iter_days().take_while(|d| *d <= as_of);
        let (mut by_weekday, mut days) = ([0.0; 7], [0u32; 7]);
        for d in window.filter(|d| self.closure(*d).is_none()) {
            by_weekday[ix(d.weekday())] += orders.get(&d).copied().unwrap_or(0.0);
            days[ix(d.weekday())] += 1;
        }
        let trading: Vec<usize> = (0..7).filter(|i| by_weekday[*i] > 0.0).collect();
        let (total, trading_days) = trading
            .iter()
            .fold((0.0, 0u32), |(t, n), i| (t + by_weekday[*i], n + days[*i]));
        if trading_days == 0 || total / f64::from(trading_days) < MIN_INFER_DAILY {
            return self;
        }
        for (i, n) in by_weekday.into_iter().enumerate() {
            if n <= 0.0 && !self.closed[i] {
                self.closed[i] = true;
                self.inferred[i] = true;
            }
        }
        self
    }

    pub fn is_open(&self, d: NaiveDate) -> bool {
        !self.closed[ix(d.weekday())] && self.closure(d).is_none()
    }

    /// The closure `d` falls in, if any.
    pub fn closure(&self, d: NaiveDate) -> Option<&Closure> {
        self.closures.iter().find(|c| c.from <= d && d <= c.to)
    }

    /// Why the shop is closed on `d`, in words for the email; None on an open day.
    pub fn why_closed(&self, d: NaiveDate) -> Option<String> {
        if let Some(c) = self.closure(d) {
            return Some(format!("closed for {}", c.reason));
        }
        let w = d.weekday();
        if self.inferred[ix(w)] {
            Some(format!(
                "closed on {}s (no orders on one in {INFER_WEEKS} weeks)",
                weekday_name(w)
            ))
        } else if self.closed[ix(w)] {
            Some(format!("closed on {}s", weekday_name(w)))
        } else {
            None
        }
    }

    /// The weekdays the shop is closed on, configured or inferred.
    pub fn closed_weekdays(&self) -> impl Iterator<Item = Weekday> + '_ {
        WEEK.into_iter().filter(|w| self.closed[ix(*w)])
    }

    /// The last open day `weeks` whole weeks before `d` or, when that one was closed, the
    /// open same weekday before it, at most [`MAX_STEP_BACK_WEEKS`] further back.
    pub fn same_weekday_back(&self, d: NaiveDate, weeks: u64) -> Option<NaiveDate> {
        (weeks..weeks + MAX_STEP_BACK_WEEKS + 1)
            .filter_map(|w| d.checked_sub_days(Days::new(7 * w)))
            .find(|x| self.is_open(*x))
    }

    /// The last open day before `d`, at most [`MAX_STEP_BACK_WEEKS`] weeks back.
    pub fn open_day_before(&self, d: NaiveDate) -> Option<NaiveDate> {
        (1..=MAX_STEP_BACK_WEEKS * 7)
            .filter_map(|n| d.checked_sub_days(Days::new(n)))
            .find(|x| self.is_open(*x))
    }
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn ix(w: Weekday) -> usize {
    w.num_days_from_monday() as usize
}

/// "Saturday".
pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A shop closed on Saturdays and over Christmas, with `n` orders every open day.
    fn history(from: &str, to: &str, n: f64, christmas: &Calendar) -> BTreeMap<NaiveDate, f64> {
        d(from)
            .iter_days()
            .take_while(|x| *x <= d(to))
            .map(|x| {
                let open = x.weekday() != Weekday::Sat && christmas.closure(x).is_none();
                (x, if open { n } else { 0.0 })
            })
            .collect()
    }

    fn christmas() -> Vec<Closure> {
        vec![Closure {
            from: d("2025-12-24"),
            to: d("2026-01-03"),
            reason: "Christmas".into(),
        }]
    }

    #[test]
    fn a_weekday_without_orders_for_eight_weeks_is_closed() {
        let cal = Calendar::new([], christmas());
        let h = history("2025-10-01", "2026-01-20", 40.0, &cal);
        let since = h.keys().next().copied();
        let cal = cal.infer(&h, since, d("2026-01-20"));
        // 20 Jan 2026 is a Tuesday; Saturdays had no order, Sundays did.
        assert!(!cal.is_open(d("2026-01-17")));
        assert!(cal.is_open(d("2026-01-18")));
        assert_eq!(
            cal.why_closed(d("2026-01-17")).unwrap(),
            "closed on Saturdays (no orders on one in 8 weeks)"
        );
        assert_eq!(
            cal.why_closed(d("2025-12-29")).unwrap(),
            "closed for Christmas"
        );
        assert_eq!(cal.why_closed(d("2026-01-19")), None);
    }

    #[test]
    fn a_quiet_shop_infers_nothing_from_empty_weekdays() {
        // One order every open day but Saturdays: 1 a day is too few to tell a closed
        // weekday from a quiet one.
        let cal = Calendar::new([], Vec::new());
        let h = history("2025-10-01", "2026-01-20", 1.0, &cal);
        let since = h.keys().next().copied();
        assert!(
            cal.clone()
                .infer(&h, since, d("2026-01-20"))
                .is_open(d("2026-01-17"))
        );
        let busy = history("2025-10-01", "2026-01-20", 2.0, &cal);
        assert!(
            !cal.infer(&busy, since, d("2026-01-20"))
                .is_open(d("2026-01-17"))
        );
    }

    #[test]
    fn a_young_or_empty_history_infers_nothing() {
        let cal = Calendar::new([], Vec::new());
        let young = history("2026-01-01", "2026-01-20", 40.0, &cal);
        let since = Some(d("2026-01-01"));
        assert!(
            cal.clone()
                .infer(&young, since, d("2026-01-20"))
                .is_open(d("2026-01-17"))
        );
        let empty = history("2025-10-01", "2026-01-20", 0.0, &cal);
        assert!(
            cal.infer(&empty, None, d("2026-01-20"))
                .is_open(d("2026-01-19"))
        );
    }

    #[test]
    fn a_comparison_steps_back_over_closed_days_to_an_open_one() {
        let cal = Calendar::new([Weekday::Sat], christmas());
        // Monday 5 Jan 2026: a week before is 29 Dec (closed), two weeks 22 Dec (open).
        assert_eq!(
            cal.same_weekday_back(d("2026-01-05"), 1),
            Some(d("2025-12-22"))
        );
        assert_eq!(
            cal.same_weekday_back(d("2026-01-12"), 1),
            Some(d("2026-01-05"))
        );
        // Sunday 4 Jan: the day before is Saturday 3 Jan, closed; so is all of the break;
        // the last open day is Tuesday 23 Dec.
        assert_eq!(cal.open_day_before(d("2026-01-04")), Some(d("2025-12-23")));
        // A weekday always closed has no open day of its kind.
        assert_eq!(cal.same_weekday_back(d("2026-01-10"), 1), None);
    }
}
