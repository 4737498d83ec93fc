//! The lumpy shop: a wholesaler's days, closed on Saturdays and from 24 December to 3
//! January, and lumpy. It is the forecast's hard case, kept as a fixture (`fixtures/lumpy`):
//! a weekday pattern, an autumn ramp and a quiet January, mild growth, a slow swing of
//! demand that no calendar explains, daily counts far more spread than chance alone, a few
//! chains that order for each of their stores on one day, and huge orders, most of them
//! cancelled the same day.
//!
//! Only products, orders and their lines are written: what the forecast and the revenue
//! figures read. Same seed, end date, length and scale, same rows; demand's slow swing is
//! drawn on closed days too, so it moves on through a closure as a market would.

use super::generator::{Writers, local_epoch, minus, plus, text};
use super::*;
use crate::metrics::calendar::{Calendar, Closure};

/// Mean orders of an open Monday in spring, at scale 1, a year before the end.
const BASE_ORDERS: f64 = 55.0;
/// Orders by weekday, Monday first, against Monday's: Thursday is the day shops restock, and
/// Saturday is closed.
const WEEKDAY: [f64; 7] = [1.0, 1.05, 1.0, 1.2, 0.78, 0.0, 0.58];
/// The year's shape, linear between (day of year, factor) knots and across the year end:
/// shops stock up from September for Christmas, stop in mid-December and are quiet in January.
const SEASON: [(f64, f64); 10] = [
    (5.0, 0.80),
    (46.0, 0.86),
    (91.0, 0.95),
    (152.0, 0.97),
    (213.0, 0.95),
    (258.0, 1.12),
    (288.0, 1.35),
    (319.0, 1.45),
    (339.0, 1.28),
    (356.0, 0.95),
];
/// Growth a year.
const GROWTH: f64 = 1.08;
/// The slow swing of demand (log scale): each day keeps this much of the day before's and
/// draws a new part of this spread. Its error grows with the days ahead.
const SWING_KEEP: f64 = 0.96;
const SWING_SD: f64 = 0.045;
/// Each day's own spread beyond chance (log scale).
const DAY_SD: f64 = 0.17;
/// Chance that an open day brings a chain's orders, one for each of its stores.
const CHAIN_CHANCE: f64 = 0.015;
/// The chains: how many stores each orders for.
const CHAIN_STORES: [u64; 5] = [14, 22, 31, 45, 60];
/// Chance of a huge order on an open day, and the share of them cancelled the same day.
const HUGE_CHANCE: f64 = 0.03;
const HUGE_CANCELLED: f64 = 0.6;
/// Share of ordinary orders cancelled.
const CANCELLED: f64 = 0.015;
/// The customers' share of first orders.
const NEW_CUSTOMER: f64 = 0.12;

/// What the shop sells, in packs: (name, category, unit price).
const PRODUCTS: [(&str, &str, f64); 20] = [
    ("Tea Light Holder", "Home", 1.25),
    ("Jam Jar Lantern", "Home", 2.95),
    ("Lunch Bag", "Bags", 1.65),
    ("Cake Stand", "Kitchen", 9.95),
    ("Paper Bunting", "Party", 2.55),
    ("Coir Doormat", "Home", 7.95),
    ("Storage Tin", "Kitchen", 3.75),
    ("Gift Wrap Sheet", "Party", 0.42),
    ("Hot Water Bottle", "Home", 4.25),
    ("Enamel Mug", "Kitchen", 2.10),
    ("Pillar Candle", "Home", 1.95),
    ("Photo Frame", "Home", 2.95),
    ("Paper Napkins", "Party", 0.85),
    ("Wall Clock", "Home", 8.50),
    ("Zinc Plant Pot", "Garden", 3.25),
    ("Jute Shopping Bag", "Bags", 1.65),
    ("Cork Coasters", "Kitchen", 1.25),
    ("Tea Towel", "Kitchen", 1.45),
    ("Notebook", "Stationery", 1.65),
    ("Fairy Lights", "Home", 3.75),
];

/// The shop's closed weekday.
pub const CLOSED: Weekday = Weekday::Sat;

/// The Christmas closures, 24 December to 3 January, that touch `first..=last`.
pub fn closures(first: NaiveDate, last: NaiveDate) -> Vec<Closure> {
    (first.year() - 1..=last.year())
        .filter_map(|y| {
            Some(Closure {
                from: NaiveDate::from_ymd_opt(y, 12, 24)?,
                to: NaiveDate::from_ymd_opt(y + 1, 1, 3)?,
                reason: "Christmas".into(),
            })
        })
        .filter(|c| c.from <= last && c.to >= first)
        .collect()
}

/// When the shop trades between `first` and `last`.
pub fn calendar(first: NaiveDate, last: NaiveDate) -> Calendar {
    Calendar::new([CLOSED], closures(first, last))
}

pub(super) struct Lumpy {
    o: DemoOptions,
    tz: Tz,
    rng: Rng,
    pub(super) w: Writers,
    start: NaiveDate,
    calendar: Calendar,
    order_seq: u64,
    customers: u64,
    /// The slow swing of demand, carried from day to day.
    swing: f64,
}

impl Lumpy {
    pub(super) fn new(o: &DemoOptions, tz: Tz) -> Lumpy {
        let start = minus(o.end, u64::from(o.days) - 1);
        Lumpy {
            o: *o,
            tz,
            rng: Rng(o.seed ^ 0x1A3B_0C5D),
            w: Writers::new(),
            start,
            calendar: calendar(start, o.end),
            order_seq: 0,
            customers: 0,
            swing: 0.0,
        }
    }

    /// Mean orders on `d` before the swing and the day's own spread.
    fn demand(&self, d: NaiveDate) -> f64 {
        let doy = f64::from(d.ordinal());
        let season = season(doy);
        let years_back = (self.o.end - d).num_days() as f64 / 365.25;
        let weekday = WEEKDAY[d.weekday().num_days_from_monday() as usize];
        BASE_ORDERS * self.o.scale * weekday * season * GROWTH.powf(1.0 - years_back)
    }

    /// Makes the shop day by day and sends each day's rows to `pipeline`.
    pub(super) async fn write(
        &mut self,
        pipeline: &Pipeline,
        progress: &Progress,
    ) -> Result<(), RowError> {
        for (i, (name, category, price)) in PRODUCTS.iter().enumerate() {
            self.w.products.queue(
                vec![
                    text(sku(i)),
                    text(*name),
                    text(*category),
                    SqlValue::Float(*price),
                    SqlValue::Float((price * 0.55 * 100.0).round() / 100.0),
                    SqlValue::Int(21),
                ],
                0,
            )?;
        }
        let mut d = self.start;
        while d <= self.o.end {
            self.day(d)?;
            self.w.send(pipeline).await?;
            progress.set((d - self.start).num_days().unsigned_abs() + 1);
            d = plus(d, 1);
        }
        Ok(())
    }

    /// One day. The swing and the day's chances are drawn on closed days too: demand moves
    /// on while the doors are shut.
    fn day(&mut self, d: NaiveDate) -> Result<(), RowError> {
        self.swing = SWING_KEEP * self.swing + self.rng.normal(0.0, SWING_SD);
        let spread = self.rng.normal(0.0, DAY_SD);
        let chain = self
            .rng
            .chance(CHAIN_CHANCE)
            .then(|| self.rng.below(CHAIN_STORES.len()));
        let huge = self.rng.chance(HUGE_CHANCE);
        if !self.calendar.is_open(d) {
            return Ok(());
        }
        let n = self
            .rng
            .poisson(self.demand(d) * (self.swing + spread).exp());
        for _ in 0..n {
            let (new, customer) = self.customer();
            let cancelled = self.rng.chance(CANCELLED);
            self.order(d, &customer, new, cancelled, 1)?;
        }
        if let Some(k) = chain {
            // One order for each store, placed together by the chain's buyer.
            for store in 1..=CHAIN_STORES[k] {
                self.order(d, &format!("CHAIN{k}-{store:03}"), false, false, 1)?;
            }
        }
        if huge {
            let (new, customer) = self.customer();
            let cancelled = self.rng.chance(HUGE_CANCELLED);
            self.order(d, &customer, new, cancelled, 100)?;
        }
        Ok(())
    }

    /// A retailer: now and then a new one, otherwise one who has ordered before.
    fn customer(&mut self) -> (bool, String) {
        let new = self.customers == 0 || self.rng.chance(NEW_CUSTOMER);
        let n = if new {
            self.customers += 1;
            self.customers
        } else {
            1 + self.rng.below(self.customers as usize) as u64
        };
        (new, format!("R{n:06}"))
    }

    /// One order of up to six lines, each a number of packs times `size`.
    fn order(
        &mut self,
        d: NaiveDate,
        customer: &str,
        new: bool,
        cancelled: bool,
        size: i64,
    ) -> Result<(), RowError> {
        self.order_seq += 1;
        let id = format!("LW-{:07}", self.order_seq);
        let placed_at = self.placed_at(d);
        let status = if cancelled {
            "cancelled"
        } else if (self.o.end - d).num_days() < 3 {
            "placed"
        } else {
            "delivered"
        };
        let channel = if self.rng.chance(0.8) {
            "direct"
        } else {
            "email"
        };
        self.w.orders.queue(
            vec![
                text(id.as_str()),
                SqlValue::Int(placed_at),
                text(d.to_string()),
                text(channel),
                text(customer),
                text(if new { "new" } else { "returning" }),
                SqlValue::Float(0.0),
                text(status),
                SqlValue::Null,
                SqlValue::Null,
            ],
            0,
        )?;
        let lines = 1 + self.rng.weighted(&[0.3, 0.25, 0.2, 0.12, 0.08, 0.05]);
        let mut skus: Vec<usize> = Vec::with_capacity(lines);
        for _ in 0..lines {
            let i = self.rng.below(PRODUCTS.len());
            if skus.contains(&i) {
                continue;
            }
            skus.push(i);
            let packs = [6, 12, 24, 48][self.rng.weighted(&[0.4, 0.3, 0.2, 0.1])];
            self.w.lines.queue(
                vec![
                    text(id.as_str()),
                    SqlValue::Int(skus.len() as i64),
                    text(sku(i)),
                    SqlValue::Int(packs * size),
                    SqlValue::Float(PRODUCTS[i].2),
                ],
                0,
            )?;
        }
        Ok(())
    }

    /// Office hours, a short Sunday.
    fn placed_at(&mut self, d: NaiveDate) -> i64 {
        const HOURS: [f64; 24] = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8, 2.0, 3.0, 3.2, 3.0, 2.4, 2.6, 2.8, 2.4, 1.6,
            0.8, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0,
        ];
        let h = if d.weekday() == Weekday::Sun {
            10 + self.rng.below(5) as u32
        } else {
            self.rng.weighted(&HOURS) as u32
        };
        let (m, s) = (self.rng.below(60) as u32, self.rng.below(60) as u32);
        let t = NaiveTime::from_hms_opt(h, m, s).unwrap_or(NaiveTime::MIN);
        local_epoch(self.tz, d.and_time(t))
    }
}

fn sku(i: usize) -> String {
    format!("LW-{:03}", i + 1)
}

/// The year's factor on day of year `doy` (1 to 366).
fn season(doy: f64) -> f64 {
    let n = SEASON.len();
    // The knots, with the last one a year before the first and the first a year after the
    // last, so that every day lies between two.
    let knot = |i: usize| match i {
        0 => (SEASON[n - 1].0 - 365.25, SEASON[n - 1].1),
        i if i <= n => SEASON[i - 1],
        _ => (SEASON[0].0 + 365.25, SEASON[0].1),
    };
    let i = (1..=n + 1).find(|&i| doy < knot(i).0).unwrap_or(n + 1);
    let (a, b) = (knot(i - 1), knot(i));
    a.1 + (b.1 - a.1) * (doy - a.0) / (b.0 - a.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_season_is_linear_between_its_knots_and_across_the_year_end() {
        assert!((season(5.0) - 0.80).abs() < 1e-12);
        assert!((season(319.0) - 1.45).abs() < 1e-12);
        // Halfway from 288 (1.35) to 319 (1.45).
        assert!((season(303.5) - 1.40).abs() < 1e-12);
        // From 356 (0.95) to 5 + 365.25 (0.80): 1 Jan (day 1) is 10.25 days past the
        // last knot, of 14.25.
        let expected = 0.95 + (0.80 - 0.95) * 10.25 / 14.25;
        assert!((season(1.0) - expected).abs() < 1e-12);
        // 31 Dec of a leap year (day 366) lies between the same two knots.
        assert!(season(366.0) < 0.95 && season(366.0) > 0.80);
    }

    #[test]
    fn christmas_closes_from_the_24th_to_the_3rd() {
        let c = closures(d("2024-09-01"), d("2026-09-01"));
        let spans: Vec<(NaiveDate, NaiveDate)> = c.iter().map(|c| (c.from, c.to)).collect();
        assert_eq!(
            spans,
            [
                (d("2024-12-24"), d("2025-01-03")),
                (d("2025-12-24"), d("2026-01-03"))
            ]
        );
        let cal = calendar(d("2024-09-01"), d("2026-09-01"));
        assert!(!cal.is_open(d("2025-12-24")) && !cal.is_open(d("2026-01-03")));
        assert!(cal.is_open(d("2025-12-23")) && cal.is_open(d("2026-01-04")));
        // 6 Dec 2025 is a Saturday.
        assert!(!cal.is_open(d("2025-12-06")));
    }
}
