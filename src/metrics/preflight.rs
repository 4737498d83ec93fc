//! The campaign pre-flight, pure: a planned campaign's days against capacity, each promoted
//! SKU's cover at the uplifted sales rate against the campaign's length and its lead time,
//! its margin at the planned discount, the campaigns it overlaps, and the verdict with what
//! must change and who owns each change.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::metrics::alert::{self, AlertSettings, COVER_WINDOW_DAYS, Promotion};
use crate::metrics::forecast::DayForecast;

/// `[preflight]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightSettings {
    /// A campaign starting within this many days gets its handoff note from `serve`.
    #[serde(default = "default_notice_days")]
    pub notice_days: u32,
}

fn default_notice_days() -> u32 {
    14
}

impl Default for PreflightSettings {
    fn default() -> Self {
        PreflightSettings {
            notice_days: default_notice_days(),
        }
    }
}

/// The longest notice `[preflight] notice_days` may give: the forecast's reach.
pub const MAX_NOTICE_DAYS: u32 = crate::metrics::forecast::REACH_DAYS;

/// A campaign as planned: the calendar's row, with its SKUs, lift and discount.
pub type Plan = Promotion;

impl Promotion {
    /// Days the campaign runs, both ends counted.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// What identifies the plan as operations saw it: its channel, dates, SKUs, lift and
    /// discount. A confirmation holds for one plan; a changed plan needs another.
    pub fn fingerprint(&self) -> String {
        let mut skus = self.skus.clone();
        skus.sort();
        let text = format!(
            "{}|{}|{}|{}|{:?}|{:?}",
            self.channel,
            self.start,
            self.end,
            skus.join(";"),
            self.expected_lift,
            self.discount
        );
        format!("{:016x}", fnv1a(text.as_bytes()))
    }

    /// Whether the campaign shares a day with `other`.
    pub fn overlaps(&self, other: &Promotion) -> bool {
        other.campaign != self.campaign && other.start <= self.end && other.end >= self.start
    }
}

/// FNV-1a, 64 bits: a fingerprint stable across builds and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A promoted SKU as the store knows it on the day of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct SkuFacts {
    pub position: alert::StockPosition,
    pub unit_price: Option<f64>,
    pub unit_cost: Option<f64>,
}

/// Operations' confirmation, as `preflight --confirm` recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    /// The fingerprint of the plan it was given for.
    pub plan: String,
    pub note: String,
    /// When, in epoch seconds.
    pub confirmed_at: i64,
}

/// Whether operations confirmed a campaign as it is planned now, for "Coming up".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// With the note it was confirmed with.
    Yes(String),
    /// Confirmed, but the plan changed since.
    Before,
    No,
}

impl Confirmed {
    /// The state of `plan` given its latest confirmation.
    pub fn of(plan: &Plan, c: Option<&Confirmation>) -> Confirmed {
        match c {
            Some(c) if c.plan == plan.fingerprint() => Confirmed::Yes(c.note.clone()),
            Some(_) => Confirmed::Before,
            None => Confirmed::No,
        }
    }
}

/// Everything one check reads.
#[derive(Debug, Clone)]
pub struct PreflightInputs<'a> {
    pub plan: &'a Plan,
    /// The last day with data: stock and sales are as of its end.
    pub origin: NaiveDate,
    /// The forecast of each campaign day within reach, with the campaign's lift.
    pub days: &'a [DayForecast],
    /// The factor the campaign lifts orders (and each SKU's sales) by, and where it is from.
    pub lift: f64,
    pub lift_source: LiftSource,
    pub capacity_plan: &'a std::collections::BTreeMap<NaiveDate, f64>,
    pub settings: &'a AlertSettings,
    pub skus: &'a [SkuFacts],
    /// Other campaigns of the calendar near its dates.
    pub calendar: &'a [Promotion],
}

/// The campaign's days as seen from the check: ordinary days before it starts, its days
/// already past (a running campaign), and its days still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ahead {
    before: i64,
    passed: i64,
    remaining: i64,
}

impl PreflightInputs<'_> {
    fn ahead(&self) -> Ahead {
        let first = self.plan.start.max(self.origin + Days::new(1));
        Ahead {
            before: (first - self.origin).num_days() - 1,
            passed: (first - self.plan.start).num_days(),
            remaining: (self.plan.end - first).num_days() + 1,
        }
    }
}

/// Where a campaign's lift comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum LiftSource {
    /// Marketing stated it for the campaign.
    Stated,
    /// The channel's past campaigns showed it (none: no lift assumed).
    Past { campaigns: usize },
}

/// Who acts on a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Marketing,
    Operations,
}

/// What must change before the campaign is ready, and the way around it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A SKU sells out before the campaign ends (day 0: before it starts).
    RunsOut {
        sku: String,
        /// Units to add by the campaign's first day for it to last.
        restock: i64,
        /// The day a reorder placed on the day after the check arrives, by its lead time.
        reorder_arrives: Option<NaiveDate>,
        run_out_day: i64,
    },
    /// A day whose orders, at the top of their range, pass the capacity threshold.
    OverCapacity {
        day: NaiveDate,
        /// Orders of capacity to add for the top of the range to stay under the threshold.
        add: i64,
    },
    /// A SKU sold below cost at the planned discount.
    BelowCost {
        sku: String,
        /// The largest discount that still covers the cost.
        max_discount: f64,
    },
}

impl Problem {
    /// What the problem is about, for the verdict's fingerprint: the same problems on the
    /// same things is the same verdict, whatever the day's exact figures.
    pub fn subject(&self) -> String {
        match self {
            Problem::RunsOut { sku, .. } => format!("stock:{sku}"),
            Problem::OverCapacity { day, .. } => format!("capacity:{day}"),
            Problem::BelowCost { sku, .. } => format!("margin:{sku}"),
        }
    }

    /// Who acts first; the other team has the way around it.
    pub fn owner(&self) -> Owner {
        match self {
            Problem::RunsOut { .. } | Problem::OverCapacity { .. } => Owner::Operations,
            Problem::BelowCost { .. } => Owner::Marketing,
        }
    }
}

/// One campaign day against capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCheck {
    pub day: NaiveDate,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    /// Capacity, and whether it is assumed from the latest row before the day.
    pub capacity: Option<f64>,
    pub assumed: bool,
    pub over: bool,
    /// Why the shop is closed on the day.
    pub closed: Option<String>,
}

/// One promoted SKU's cover and margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkuCheck {
    pub sku: String,
    pub name: String,
    pub on_hand: Option<i64>,
    pub lead_time_days: Option<i64>,
    /// Units a day over the last [`COVER_WINDOW_DAYS`] days, and at the campaign's lift.
    pub daily_units: f64,
    pub campaign_daily_units: f64,
    /// Units left on the campaign's first morning, at the ordinary rate until then.
    pub at_start: Option<f64>,
    /// The campaign day it sells out on (1 is the first; 0 before the start); None when it
    /// lasts or cannot be told.
    pub runs_out_day: Option<i64>,
    /// Price after the planned discount, less cost, per unit; and as a share of that price.
    pub unit_margin: Option<f64>,
    pub margin_share: Option<f64>,
}

/// A campaign of the calendar that shares days with the one checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    pub campaign: String,
    pub channel: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub shared_days: i64,
    pub shared_skus: Vec<String>,
}

/// The check of one campaign, and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preflight {
    pub plan: Plan,
    pub origin: NaiveDate,
    pub lift: f64,
    pub lift_source: LiftSource,
    pub days: Vec<DayCheck>,
    /// The campaign's days the forecast does not reach, from the first.
    pub unforecast_from: Option<NaiveDate>,
    pub skus: Vec<SkuCheck>,
    pub overlaps: Vec<Overlap>,
    pub problems: Vec<Problem>,
    pub ready: bool,
    /// Whether operations confirmed this plan; and the latest confirmation, which may be of
    /// the plan before a change.
    pub confirmed: bool,
    pub confirmation: Option<Confirmation>,
}

impl Preflight {
    /// The check with operations' latest confirmation of the campaign, which counts only
    /// for the plan it was given for.
    pub fn confirmed_by(mut self, c: Option<Confirmation>) -> Preflight {
        self.confirmed = c
            .as_ref()
            .is_some_and(|c| c.plan == self.plan.fingerprint());
        self.confirmation = c;
        self
    }

    /// "ready" or "not ready".
    pub fn verdict(&self) -> &'static str {
        if self.ready { "ready" } else { "not ready" }
    }

    /// The plan and the verdict: what a handoff is sent once for. The problems count by
    /// what they are about, not by the day's figures, so a restock of 118 rather than 120
    /// is the same verdict.
    pub fn fingerprint(&self) -> String {
        let mut subjects: Vec<String> = self.problems.iter().map(Problem::subject).collect();
        subjects.sort();
        let text = format!(
            "{}|{}|{}",
            self.plan.fingerprint(),
            self.verdict(),
            subjects.join(",")
        );
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
}

/// The check.
pub fn check(i: &PreflightInputs<'_>) -> Preflight {
    let days: Vec<DayCheck> = i.days.iter().map(|f| day_check(f, i)).collect();
    let unforecast_from = unforecast(i.plan, &days, i.origin);
    let skus: Vec<SkuCheck> = i.skus.iter().map(|s| sku_check(s, i)).collect();
    let mut problems = Vec::new();
    for s in &skus {
        if let Some(p) = runs_out(s, i) {
            problems.push(p);
        }
    }
    for d in days.iter().filter(|d| d.over) {
        let cap = d.capacity.unwrap_or(0.0);
        let add = (d.high / i.settings.capacity_threshold - cap)
            .ceil()
            .max(1.0) as i64;
        problems.push(Problem::OverCapacity { day: d.day, add });
    }
    for (s, facts) in skus.iter().zip(i.skus) {
        if let (Some(m), Some(price), Some(cost)) =
            (s.unit_margin, facts.unit_price, facts.unit_cost)
            && m < 0.0
            && price > 0.0
        {
            problems.push(Problem::BelowCost {
                sku: s.sku.clone(),
                max_discount: (1.0 - cost / price).max(0.0),
            });
        }
    }
    Preflight {
        plan: i.plan.clone(),
        origin: i.origin,
        lift: i.lift,
        lift_source: i.lift_source,
        ready: problems.is_empty(),
        days,
        unforecast_from,
        skus,
        overlaps: overlaps(i.plan, i.calendar),
        problems,
        confirmed: false,
        confirmation: None,
    }
}

fn day_check(f: &DayForecast, i: &PreflightInputs<'_>) -> DayCheck {
    let capacity = alert::capacity_on(i.capacity_plan, f.day);
    DayCheck {
        day: f.day,
        expected: f.expected,
        low: f.low,
        high: f.high,
        capacity: capacity.map(|(c, _)| c),
        assumed: capacity.is_some_and(|(_, a)| a),
        over: f.closed.is_none()
            && capacity.is_some_and(|(c, _)| alert::over_threshold(f, c, i.settings)),
        closed: f.closed.clone(),
    }
}

/// The first campaign day after the check's last day forecast (every day when none is).
fn unforecast(plan: &Plan, days: &[DayCheck], origin: NaiveDate) -> Option<NaiveDate> {
    let first = plan.start.max(origin + Days::new(1));
    let next = days
        .last()
        .map_or(first, |d| d.day + Days::new(1))
        .max(first);
    (next <= plan.end).then_some(next)
}

fn sku_check(s: &SkuFacts, i: &PreflightInputs<'_>) -> SkuCheck {
    let p = &s.position;
    let daily = p.units_sold_window.max(0) as f64 / f64::from(COVER_WINDOW_DAYS);
    let lifted = daily * i.lift.max(0.0);
    let w = i.ahead();
    // Sales go on at the ordinary rate on the days between the check and the start.
    let at_start = p
        .on_hand
        .map(|n| (n.max(0) as f64 - daily * w.before as f64).max(0.0));
    let runs_out_day = match at_start {
        _ if w.remaining <= 0 => None,
        Some(left) if left <= 0.0 && daily > 0.0 && w.passed == 0 => Some(0),
        Some(left) if lifted > 0.0 && left < lifted * w.remaining as f64 => {
            // The day whose sales take the last unit: day k sells out when k × rate ≥ left,
            // counted from the campaign's first day.
            Some(w.passed + ((left / lifted).ceil() as i64).max(1))
        }
        _ => None,
    };
    let price = s
        .unit_price
        .map(|pr| pr * (1.0 - i.plan.discount.unwrap_or(0.0)));
    let unit_margin = match (price, s.unit_cost) {
        (Some(pr), Some(c)) if i.plan.discount.is_some() => Some(pr - c),
        _ => None,
    };
    SkuCheck {
        sku: p.sku.clone(),
        name: p.name.clone(),
        on_hand: p.on_hand,
        lead_time_days: p
            .lead_time_days
            .or(i.settings.default_lead_time_days.map(i64::from)),
        daily_units: daily,
        campaign_daily_units: lifted,
        at_start,
        runs_out_day,
        margin_share: unit_margin
            .zip(price)
            .and_then(|(m, pr)| (pr > 0.0).then(|| m / pr)),
        unit_margin,
    }
}

/// A SKU that sells out before the campaign ends: what it lacks by the first day, and when a
/// reorder placed the next day would arrive.
fn runs_out(s: &SkuCheck, i: &PreflightInputs<'_>) -> Option<Problem> {
    let day = s.runs_out_day?;
    let w = i.ahead();
    let need = s.daily_units * w.before as f64 + s.campaign_daily_units * w.remaining as f64;
    let restock = (need - s.on_hand.unwrap_or(0).max(0) as f64)
        .ceil()
        .max(1.0) as i64;
    let reorder_arrives = s
        .lead_time_days
        .and_then(|l| u64::try_from(l).ok())
        .and_then(|l| i.origin.checked_add_days(Days::new(l.saturating_add(1))));
    Some(Problem::RunsOut {
        sku: s.sku.clone(),
        restock,
        reorder_arrives,
        run_out_day: day,
    })
}

fn overlaps(plan: &Plan, calendar: &[Promotion]) -> Vec<Overlap> {
    calendar
        .iter()
        .filter(|c| plan.overlaps(c))
        .map(|c| Overlap {
            campaign: c.campaign.clone(),
            channel: c.channel.clone(),
            start: c.start,
            end: c.end,
            shared_days: (c.end.min(plan.end) - c.start.max(plan.start)).num_days() + 1,
            shared_skus: c
                .skus
                .iter()
                .filter(|s| plan.skus.contains(s))
                .cloned()
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::alert::StockPosition;
    use crate::metrics::forecast::{Baseline, RangeSource, Weights};
    use std::collections::BTreeMap;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plan() -> Plan {
        Plan {
            campaign: "Winter push".into(),
            channel: "email".into(),
            start: d("2026-12-03"),
            end: d("2026-12-09"),
            skus: vec!["KNT-003".into()],
            expected_lift: Some(0.3),
            discount: Some(0.4),
        }
    }

    fn day(s: &str, expected: f64, high: f64) -> DayForecast {
        DayForecast {
            day: d(s),
            baseline: Baseline {
                value: expected,
                level: expected,
                trend: 1.0,
                share: 1.0,
                weights: Weights {
                    alpha: 0.1,
                    beta: 0.1,
                    gamma: 0.1,
                },
                from: d("2026-11-30"),
            },
            uplifts: Vec::new(),
            campaigns: Vec::new(),
            expected,
            low: expected * 0.8,
            high,
            range: RangeSource::Errors,
            closed: None,
        }
    }

    fn sku(on_hand: i64, sold: i64) -> SkuFacts {
        SkuFacts {
            position: StockPosition {
                sku: "KNT-003".into(),
                name: "Lambswool Cardigan".into(),
                lead_time_days: Some(10),
                on_hand: Some(on_hand),
                units_sold_window: sold,
            },
            unit_price: Some(50.0),
            unit_cost: Some(32.0),
        }
    }

    #[test]
    fn a_sku_runs_out_on_the_day_its_lifted_sales_take_the_last_unit() {
        // 28 sold in 14 days: 2 a day, 2.6 at +30%. Checked on 30 Nov, starting 3 Dec: 2
        // days of ordinary sales (1 and 2 Dec) take 4 of 13, leaving 9; 9 / 2.6 = 3.46, so
        // day 4 sells the last unit. Lasting 7 days needs 4 + 18.2 = 22.2: restock 10.
        let p = plan();
        let skus = [sku(13, 28)];
        let settings = AlertSettings::default();
        let caps = BTreeMap::from([(d("2026-12-01"), 100.0), (d("2026-12-05"), 10.0)]);
        let days = [day("2026-12-04", 5.0, 8.0), day("2026-12-05", 9.0, 12.0)];
        let i = PreflightInputs {
            plan: &p,
            origin: d("2026-11-30"),
            days: &days,
            lift: 1.3,
            lift_source: LiftSource::Stated,
            capacity_plan: &caps,
            settings: &settings,
            skus: &skus,
            calendar: &[],
        };
        let c = check(&i);
        assert!(!c.ready);
        assert_eq!(c.skus[0].runs_out_day, Some(4));
        assert_eq!(c.skus[0].at_start, Some(9.0));
        // 12 orders at the top against 10 at 90%: 12 / 0.9 = 13.3, so 4 more.
        assert_eq!(
            c.problems,
            vec![
                Problem::RunsOut {
                    sku: "KNT-003".into(),
                    restock: 10,
                    reorder_arrives: Some(d("2026-12-11")),
                    run_out_day: 4
                },
                Problem::OverCapacity {
                    day: d("2026-12-05"),
                    add: 4
                },
                // £50 at 40% off is £30, under the £32 cost: 36% off is the most.
                Problem::BelowCost {
                    sku: "KNT-003".into(),
                    max_discount: 1.0 - 32.0 / 50.0
                },
            ]
        );
        assert_eq!(c.skus[0].unit_margin, Some(-2.0));
        assert_eq!(c.unforecast_from, Some(d("2026-12-06")));
    }

    #[test]
    fn a_running_campaign_is_checked_over_its_days_to_come() {
        // 29 Nov to 5 Dec, checked on the data to 2 Dec: 4 days have passed, 3 to 5 Dec
        // (days 5 to 7) remain. 6 on hand at 2.6 a day lasts 2.3 days, so it sells out on
        // day 4 + 3 = 7; the 3 days need 7.8, so 2 more.
        let mut p = plan();
        p.start = d("2026-11-29");
        p.end = d("2026-12-05");
        let skus = [sku(6, 28)];
        let settings = AlertSettings::default();
        let caps = BTreeMap::new();
        let i = PreflightInputs {
            plan: &p,
            origin: d("2026-12-02"),
            days: &[],
            lift: 1.3,
            lift_source: LiftSource::Stated,
            capacity_plan: &caps,
            settings: &settings,
            skus: &skus,
            calendar: &[],
        };
        let c = check(&i);
        assert_eq!(c.skus[0].runs_out_day, Some(7));
        assert_eq!(c.skus[0].at_start, Some(6.0));
        assert!(matches!(
            c.problems[0],
            Problem::RunsOut {
                restock: 2,
                run_out_day: 7,
                ..
            }
        ));
    }

    #[test]
    fn the_verdict_fingerprint_ignores_figures_but_not_dates() {
        let p = plan();
        let mut q = plan();
        q.start = d("2026-12-04");
        assert_ne!(p.fingerprint(), q.fingerprint());
        let mut r = plan();
        r.skus = vec!["KNT-003".into()];
        assert_eq!(p.fingerprint(), r.fingerprint());
        let a = Problem::RunsOut {
            sku: "A".into(),
            restock: 120,
            reorder_arrives: None,
            run_out_day: 4,
        };
        let b = Problem::RunsOut {
            sku: "A".into(),
            restock: 118,
            reorder_arrives: None,
            run_out_day: 4,
        };
        assert_eq!(a.subject(), b.subject());
    }

    #[test]
    fn overlaps_count_shared_days_and_skus() {
        let p = plan();
        let other = Promotion {
            campaign: "Gift guide".into(),
            channel: "paid_social".into(),
            start: d("2026-12-08"),
            end: d("2026-12-20"),
            skus: vec!["KNT-003".into(), "SCF-001".into()],
            expected_lift: None,
            discount: None,
        };
        let o = overlaps(
            &p,
            &[
                other.clone(),
                Promotion {
                    campaign: p.campaign.clone(),
                    ..other
                },
            ],
        );
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].shared_days, 2);
        assert_eq!(o[0].shared_skus, vec!["KNT-003".to_string()]);
    }
}
