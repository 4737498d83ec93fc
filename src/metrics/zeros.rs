//! Zero, not "no data": a summed metric with no row on a day its source had rows.
//!
//! A metric's SQL returns rows only where something happened: no order from the email
//! channel is no row, not a row of 0. On a day the shop had orders, that is 0 orders from
//! email, and the email should say 0. A day before the metric's (or the breakdown value's)
//! first row stays without data: a channel that began in March had no data before it.

use chrono::NaiveDate;

use crate::metrics::compare::DayRow;
use crate::metrics::metric::{Aggregate, Catalog, sources_in_order};
use crate::metrics::report::Fetched;

/// Each table a metric can be about, and the built-in metric that has a row on every day
/// that table has one.
const PRESENCE: [(&str, &str); 3] = [
    ("orders", "orders"),
    ("traffic", "sessions"),
    ("ad_spend", "ad_spend"),
];

/// Fills in a 0 for each summed metric (and each of its breakdown values) on the days its
/// first table had rows and it had none, from its first row on.
pub fn fill(catalog: &Catalog, fetched: &mut Fetched) {
    for m in catalog.iter().filter(|m| m.aggregate == Aggregate::Sum) {
        let Some(first) = sources_in_order(&m.sql).first().copied() else {
            continue;
        };
        let Some(&(_, reference)) = PRESENCE.iter().find(|(t, _)| *t == first) else {
            continue;
        };
        if reference == m.key {
            continue;
        }
        let Some(days) = fetched
            .series
            .get(reference)
            .and_then(|s| s.get(&None))
            .map(|s| s.days.keys().copied().collect::<Vec<NaiveDate>>())
        else {
            continue;
        };
        let Some(series) = fetched.series.get_mut(&m.key) else {
            continue;
        };
        for s in series.values_mut() {
            let Some(start) = s.days.keys().next().copied() else {
                continue;
            };
            for d in days.iter().filter(|d| **d >= start) {
                s.days.entry(*d).or_insert(DayRow { num: 0.0, den: 1.0 });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::Series;
    use crate::metrics::metric::{Direction, MetricDef, Team, Unit};
    use crate::metrics::report::MetricSeries;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, n).unwrap()
    }

    fn series(days: &[u32], num: f64) -> Series {
        Series {
            days: days
                .iter()
                .map(|d| (day(*d), DayRow { num, den: 1.0 }))
                .collect(),
        }
    }

    #[test]
    fn a_day_of_orders_without_a_row_is_zero_from_the_first_row_on() {
        let mut catalog = Catalog::builtin();
        catalog
            .add_custom(MetricDef {
                key: "from_email".into(),
                label: "Orders from email".into(),
                team: Team::Marketing,
                unit: Unit::Count,
                direction: Direction::HigherIsBetter,
                aggregate: Aggregate::Sum,
                breakdown: None,
                description: String::new(),
                hide_if_always_zero: false,
                sql: "SELECT day, 1 AS num FROM orders WHERE channel = 'email' AND day BETWEEN $1 AND $2".into(),
                builtin: false,
                origin: None,
            })
            .unwrap();
        let mut fetched = Fetched::default();
        // Orders on 1-5 March; from email on the 2nd and the 4th only.
        let orders: MetricSeries = [(None, series(&[1, 2, 3, 4, 5], 10.0))].into();
        fetched.series.insert("orders".into(), orders);
        let email: MetricSeries = [(None, series(&[2, 4], 1.0))].into();
        fetched.series.insert("from_email".into(), email);
        // Refunds are about their own table: no day is filled in.
        let refunds: MetricSeries = [(None, series(&[3], 5.0))].into();
        fetched.series.insert("refunds".into(), refunds);
        fill(&catalog, &mut fetched);
        let got = &fetched.series["from_email"][&None].days;
        let days: Vec<(NaiveDate, f64)> = got.iter().map(|(d, r)| (*d, r.num)).collect();
        // The 1st is before its first row: still no data.
        assert_eq!(
            days,
            [(day(2), 1.0), (day(3), 0.0), (day(4), 1.0), (day(5), 0.0)]
        );
        assert_eq!(fetched.series["refunds"][&None].days.len(), 1);
        assert_eq!(fetched.series["orders"][&None].days.len(), 5);
    }
}
