//! Alerts that join marketing and operations: promoted SKUs running out, and order volume
//! nearing warehouse capacity, yesterday or in the days ahead.
//!
//! Pure: takes the campaign calendar, stock and order figures already read from the store.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::metrics::forecast::DayForecast;

/// When alerts fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Alert on promoted SKUs with fewer days of cover than this, even within lead time.
    #[serde(default = "default_min_cover")]
    pub min_days_of_cover: f64,
    /// Campaigns starting within this many days after the report date count as promoted.
    #[serde(default = "default_lookahead")]
    pub lookahead_days: u32,
    /// Share of capacity above which order volume raises an alert.
    #[serde(default = "default_capacity")]
    pub capacity_threshold: f64,
    /// The lead time of a product whose own is unknown; without it such a product gets no
    /// stock alert, and the email says so.
    #[serde(default)]
    pub default_lead_time_days: Option<u32>,
    /// `[[alerts.rules]]`: thresholds the shop sets on any metric (their place in the file
    /// kept, for errors).
    #[serde(default)]
    pub rules: Vec<toml::Spanned<AlertRule>>,
    /// Alerts as they happen: `serve` re-checks them between morning reports and sends what
    /// is new or worse to each report's destinations.
    #[serde(default)]
    pub live: bool,
    /// How often `serve` syncs the live sources and re-checks (5 to 1,440 minutes).
    #[serde(default = "default_every")]
    pub sync_every_minutes: u32,
    /// When nothing goes out, in the shop's zone ("21:00-07:00"): held until they end.
    #[serde(default)]
    pub quiet_hours: Option<crate::metrics::live::QuietHours>,
}

/// A threshold the shop sets: when a metric's day is past it, an alert for both teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub metric: String,
    pub condition: Condition,
    /// The level (`below`, `above`; in the metric's own units: 0.9 is 90%), or the relative
    /// change (`change_below`, `change_above`: 0.25 is +25%).
    pub value: f64,
    /// What a change is measured against.
    #[serde(default)]
    pub comparison: RuleComparison,
    #[serde(default = "warning")]
    pub severity: Severity,
    /// What to do, said in the alert.
    pub action: String,
    /// Checked through the day too (with `[alerts] live`), on the day's figures so far.
    #[serde(default)]
    pub live: bool,
}

fn warning() -> Severity {
    Severity::Warning
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Below,
    Above,
    ChangeBelow,
    ChangeAbove,
}

/// The comparisons a change rule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleComparison {
    DayBefore,
    #[default]
    LastWeek,
    FourWeekMean,
    LastYear,
}

/// Whether a rule fires on a day's value and its relative change. Strict: a value exactly
/// at the threshold does not fire.
pub fn rule_fires(rule: &AlertRule, current: Option<f64>, rel_change: Option<f64>) -> bool {
    let past = |v: Option<f64>, below: bool| {
        v.is_some_and(|v| {
            v.is_finite()
                && if below {
                    v < rule.value
                } else {
                    v > rule.value
                }
        })
    };
    match rule.condition {
        Condition::Below => past(current, true),
        Condition::Above => past(current, false),
        Condition::ChangeBelow => past(rel_change, true),
        Condition::ChangeAbove => past(rel_change, false),
    }
}

fn default_min_cover() -> f64 {
    7.0
}
fn default_lookahead() -> u32 {
    7
}
fn default_capacity() -> f64 {
    0.9
}
fn default_every() -> u32 {
    60
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            min_days_of_cover: default_min_cover(),
            lookahead_days: default_lookahead(),
            capacity_threshold: default_capacity(),
            default_lead_time_days: None,
            rules: Vec::new(),
            live: false,
            sync_every_minutes: default_every(),
            quiet_hours: None,
        }
    }
}

/// Days of sales that "days of cover" averages over.
pub const COVER_WINDOW_DAYS: u32 = 14;

/// A campaign from the calendar with its promoted SKUs, as planned (the pre-flight's
/// `Plan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promotion {
    pub campaign: String,
    pub channel: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub skus: Vec<String>,
    /// 0.3 for 30% more orders, as marketing stated it.
    pub expected_lift: Option<f64>,
    /// 0.2 for 20% off.
    pub discount: Option<f64>,
}

/// A SKU's stock position on the report date.
#[derive(Debug, Clone, PartialEq)]
pub struct StockPosition {
    pub sku: String,
    pub name: String,
    /// None where the product has none (then `[alerts] default_lead_time_days` applies).
    pub lead_time_days: Option<i64>,
    /// Latest snapshot on or before the report date; None without any snapshot.
    pub on_hand: Option<i64>,
    /// Units sold over the [`COVER_WINDOW_DAYS`] days ending on the report date.
    pub units_sold_window: i64,
}

impl StockPosition {
    /// on hand / mean daily units; None when nothing sold (cover is unbounded) or no snapshot.
    pub fn days_of_cover(&self) -> Option<f64> {
        let on_hand = self.on_hand?;
        if self.units_sold_window <= 0 {
            return None;
        }
        Some(on_hand.max(0) as f64 / (self.units_sold_window as f64 / f64::from(COVER_WINDOW_DAYS)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    OutOfStock,
    LowCover,
    Capacity,
    /// A day ahead whose expected orders, at the top of their range, pass the threshold.
    CapacityAhead,
    /// A shop's `[[alerts.rules]]` threshold.
    Rule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
}

/// One alert, with the facts it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub sku: Option<String>,
    pub product: Option<String>,
    pub campaign: Option<String>,
    pub campaign_start: Option<NaiveDate>,
    pub campaign_end: Option<NaiveDate>,
    /// The campaign is running on the report date (not only upcoming).
    pub campaign_running: bool,
    pub on_hand: Option<i64>,
    pub days_of_cover: Option<f64>,
    pub lead_time_days: Option<i64>,
    /// For capacity alerts: the day, its orders (expected, for a day ahead) and capacity.
    pub day: Option<NaiveDate>,
    pub orders: Option<f64>,
    pub capacity: Option<f64>,
    /// For a day ahead: the range of its expected orders.
    pub range: Option<(f64, f64)>,
    /// The day has no capacity row of its own: the latest known one is assumed.
    pub capacity_assumed: bool,
    /// The channel of the campaign, and the uplift its past campaigns suggest.
    pub channel: Option<String>,
    pub lift: Option<f64>,
}

impl Alert {
    /// An alert with none of its facts yet.
    pub fn new(kind: AlertKind, severity: Severity) -> Alert {
        Alert {
            kind,
            severity,
            sku: None,
            product: None,
            campaign: None,
            campaign_start: None,
            campaign_end: None,
            campaign_running: false,
            on_hand: None,
            days_of_cover: None,
            lead_time_days: None,
            day: None,
            orders: None,
            capacity: None,
            range: None,
            capacity_assumed: false,
            channel: None,
            lift: None,
        }
    }
}

/// Stock alerts for every SKU promoted on `d` or in the `lookahead_days` after it.
pub fn stock_alerts(
    d: NaiveDate,
    promotions: &[Promotion],
    stock: &BTreeMap<String, StockPosition>,
    s: &AlertSettings,
) -> Vec<Alert> {
    let horizon = d + Days::new(u64::from(s.lookahead_days));
    let mut out: Vec<Alert> = Vec::new();
    for p in promotions
        .iter()
        .filter(|p| p.start <= horizon && p.end >= d)
    {
        for sku in &p.skus {
            let Some(pos) = stock.get(sku) else { continue };
            // One alert per SKU: the earliest campaign that promotes it.
            if out.iter().any(|a| a.sku.as_deref() == Some(sku.as_str())) {
                continue;
            }
            let cover = pos.days_of_cover();
            let lead = pos
                .lead_time_days
                .or(s.default_lead_time_days.map(i64::from));
            let (kind, severity) = match (pos.on_hand, cover) {
                (Some(n), _) if n <= 0 => (AlertKind::OutOfStock, Severity::Critical),
                (_, Some(c)) if lead.is_some_and(|l| c < l as f64) => {
                    (AlertKind::LowCover, Severity::Critical)
                }
                (_, Some(c)) if c < s.min_days_of_cover => (AlertKind::LowCover, Severity::Warning),
                _ => continue,
            };
            out.push(Alert {
                sku: Some(sku.clone()),
                product: Some(pos.name.clone()),
                campaign: Some(p.campaign.clone()),
                campaign_start: Some(p.start),
                campaign_end: Some(p.end),
                campaign_running: p.start <= d,
                channel: Some(p.channel.clone()),
                on_hand: pos.on_hand,
                days_of_cover: cover,
                lead_time_days: lead,
                ..Alert::new(kind, severity)
            });
        }
    }
    out.sort_by(|a, b| {
        (a.severity, a.kind, a.days_of_cover.unwrap_or(0.0))
            .partial_cmp(&(b.severity, b.kind, b.days_of_cover.unwrap_or(0.0)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// A capacity alert when the report date, or the busiest of the 7 days ending on it, ran
/// above the threshold. `days` maps a day to (orders, capacity).
pub fn capacity_alert(
    d: NaiveDate,
    days: &BTreeMap<NaiveDate, (f64, f64)>,
    s: &AlertSettings,
) -> Option<Alert> {
    let week_start = d - Days::new(6);
    let share = |(orders, cap): (f64, f64)| if cap > 0.0 { orders / cap } else { 0.0 };
    let (day, (orders, capacity)) = days
        .range(week_start..=d)
        .filter(|(_, v)| v.1 > 0.0)
        // The report date wins a tie: it is the freshest news.
        .max_by(|a, b| share(*a.1).total_cmp(&share(*b.1)).then(a.0.cmp(b.0)))
        .map(|(k, v)| (*k, *v))?;
    if share((orders, capacity)) <= s.capacity_threshold {
        return None;
    }
    let severity = if orders >= capacity {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Some(Alert {
        day: Some(day),
        orders: Some(orders),
        capacity: Some(capacity),
        ..Alert::new(AlertKind::Capacity, severity)
    })
}

/// The capacity of `day`: its own row, else the latest before it (then `true`: assumed).
pub fn capacity_on(plan: &BTreeMap<NaiveDate, f64>, day: NaiveDate) -> Option<(f64, bool)> {
    if let Some(c) = plan.get(&day) {
        return Some((*c, false));
    }
    plan.range(..day).next_back().map(|(_, c)| (*c, true))
}

/// Whether a day ahead, at the top of its range, is above the threshold's share of
/// `capacity` (strictly: exactly at it is not).
pub fn over_threshold(f: &DayForecast, capacity: f64, s: &AlertSettings) -> bool {
    capacity > 0.0 && f.high > s.capacity_threshold * capacity
}

/// A capacity alert for each day ahead whose expected orders, at the top of their range,
/// are above the threshold's share of that day's capacity. Critical when even the
/// expectation is above capacity. Strict, like the look back: exactly at it does not fire.
pub fn capacity_ahead_alerts(
    forecast: &[DayForecast],
    plan: &BTreeMap<NaiveDate, f64>,
    s: &AlertSettings,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for f in forecast {
        let Some((capacity, assumed)) = capacity_on(plan, f.day) else {
            continue;
        };
        if !over_threshold(f, capacity, s) {
            continue;
        }
        let severity = if f.expected > capacity {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let driver = f.driver();
        out.push(Alert {
            campaign: driver.map(|(c, _)| c.name.clone()),
            campaign_start: driver.map(|(c, _)| c.start),
            campaign_end: driver.map(|(c, _)| c.end),
            channel: driver.map(|(c, _)| c.channel.clone()),
            lift: driver.map(|(_, u)| u.lift),
            day: Some(f.day),
            orders: Some(f.expected),
            capacity: Some(capacity),
            range: Some((f.low, f.high)),
            capacity_assumed: assumed,
            ..Alert::new(AlertKind::CapacityAhead, severity)
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_past_their_threshold_not_at_it() {
        let rule = |condition, value| AlertRule {
            metric: "on_time_delivery".into(),
            condition,
            value,
            comparison: RuleComparison::LastWeek,
            severity: Severity::Critical,
            action: "Call the carrier.".into(),
            live: false,
        };
        let below = rule(Condition::Below, 0.9);
        assert!(!rule_fires(&below, Some(0.9), None));
        assert!(rule_fires(&below, Some(0.899_999), None));
        assert!(!rule_fires(&below, None, None));
        assert!(!rule_fires(&below, Some(f64::NAN), None));
        let above = rule(Condition::Above, 0.9);
        assert!(!rule_fires(&above, Some(0.9), None));
        assert!(rule_fires(&above, Some(0.900_001), None));
        let up = rule(Condition::ChangeAbove, 0.25);
        assert!(!rule_fires(&up, Some(1.0), Some(0.25)));
        assert!(rule_fires(&up, Some(1.0), Some(0.250_001)));
        assert!(
            !rule_fires(&up, Some(1.0), None),
            "no comparison, no change"
        );
        let down = rule(Condition::ChangeBelow, -0.25);
        assert!(!rule_fires(&down, Some(1.0), Some(-0.25)));
        assert!(rule_fires(&down, Some(1.0), Some(-0.3)));
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn promo(name: &str, start: &str, end: &str, skus: &[&str]) -> Promotion {
        Promotion {
            campaign: name.into(),
            channel: "email".into(),
            start: d(start),
            end: d(end),
            skus: skus.iter().map(|s| s.to_string()).collect(),
            expected_lift: None,
            discount: None,
        }
    }

    /// `sold` units over 14 days is `sold / 14` a day.
    fn pos(sku: &str, on_hand: i64, sold: i64, lead: i64) -> (String, StockPosition) {
        (
            sku.to_string(),
            StockPosition {
                sku: sku.into(),
                name: format!("Product {sku}"),
                lead_time_days: Some(lead),
                on_hand: Some(on_hand),
                units_sold_window: sold,
            },
        )
    }

    #[test]
    fn cover_just_below_and_just_above_lead_time() {
        // 28 sold in 14 days = 2 a day. Lead time 10: 19 units = 9.5 days, 21 units = 10.5 days.
        let stock: BTreeMap<_, _> = [pos("LOW", 19, 28, 10), pos("OK", 21, 28, 10)].into();
        let promos = [promo("Sale", "2026-11-20", "2026-11-25", &["LOW", "OK"])];
        let s = AlertSettings {
            min_days_of_cover: 3.0,
            ..Default::default()
        };
        let a = stock_alerts(d("2026-11-21"), &promos, &stock, &s);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].sku.as_deref(), Some("LOW"));
        assert_eq!(a[0].days_of_cover, Some(9.5));
        assert_eq!(
            (a[0].kind, a[0].severity),
            (AlertKind::LowCover, Severity::Critical)
        );
        assert!(a[0].campaign_running);
    }

    #[test]
    fn an_unknown_lead_time_takes_the_default_or_skips_the_lead_time_test() {
        // 19 units at 2 a day = 9.5 days of cover; no lead time of its own.
        let mut stock: BTreeMap<_, _> = [pos("LOW", 19, 28, 0)].into();
        stock.get_mut("LOW").unwrap().lead_time_days = None;
        let promos = [promo("Sale", "2026-11-20", "2026-11-25", &["LOW"])];
        let mut s = AlertSettings {
            min_days_of_cover: 3.0,
            ..Default::default()
        };
        assert!(stock_alerts(d("2026-11-21"), &promos, &stock, &s).is_empty());
        s.default_lead_time_days = Some(10);
        let a = stock_alerts(d("2026-11-21"), &promos, &stock, &s);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].lead_time_days, Some(10));
        assert_eq!(a[0].severity, Severity::Critical);
    }

    #[test]
    fn minimum_cover_applies_within_lead_time() {
        // Lead time 2 days, 5 days of cover: fine by lead time, short of a 7-day minimum.
        let stock: BTreeMap<_, _> = [pos("A", 10, 28, 2)].into();
        let promos = [promo("Sale", "2026-11-21", "2026-11-21", &["A"])];
        let a = stock_alerts(d("2026-11-21"), &promos, &stock, &AlertSettings::default());
        assert_eq!(
            (a[0].kind, a[0].severity, a[0].days_of_cover),
            (AlertKind::LowCover, Severity::Warning, Some(5.0))
        );
    }

    #[test]
    fn campaigns_starting_in_7_days_count_and_in_8_do_not() {
        let stock: BTreeMap<_, _> = [pos("IN7", 0, 10, 5), pos("IN8", 0, 10, 5)].into();
        let promos = [
            promo("Soon", "2026-11-28", "2026-12-05", &["IN7"]),
            promo("Later", "2026-11-29", "2026-12-05", &["IN8"]),
            promo("Over", "2026-11-01", "2026-11-20", &["IN8"]),
        ];
        let a = stock_alerts(d("2026-11-21"), &promos, &stock, &AlertSettings::default());
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].sku.as_deref(), Some("IN7"));
        assert_eq!(
            (a[0].kind, a[0].severity),
            (AlertKind::OutOfStock, Severity::Critical)
        );
        assert!(!a[0].campaign_running);
    }

    #[test]
    fn stock_at_zero_is_out_of_stock_even_without_sales() {
        let stock: BTreeMap<_, _> = [pos("Z", 0, 0, 5), pos("IDLE", 3, 0, 5)].into();
        let promos = [promo("Sale", "2026-11-20", "2026-11-25", &["Z", "IDLE"])];
        let a = stock_alerts(d("2026-11-21"), &promos, &stock, &AlertSettings::default());
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, AlertKind::OutOfStock);
        assert_eq!(a[0].days_of_cover, None);
    }

    #[test]
    fn capacity_on_the_day_or_the_busiest_of_the_week() {
        let s = AlertSettings::default();
        let mut days: BTreeMap<NaiveDate, (f64, f64)> = BTreeMap::new();
        for (i, orders) in [50.0, 60.0, 91.0, 70.0, 60.0, 80.0, 90.0]
            .iter()
            .enumerate()
        {
            days.insert(d("2026-11-15") + Days::new(i as u64), (*orders, 100.0));
        }
        // The 17th ran at 91%: above 90%.
        let a = capacity_alert(d("2026-11-21"), &days, &s).unwrap();
        assert_eq!(
            (a.day, a.orders, a.severity),
            (Some(d("2026-11-17")), Some(91.0), Severity::Warning)
        );
        // Exactly 90% is not above it.
        days.insert(d("2026-11-17"), (90.0, 100.0));
        assert_eq!(capacity_alert(d("2026-11-21"), &days, &s), None);
        // A day eight days back does not count; over capacity is critical.
        days.insert(d("2026-11-14"), (120.0, 100.0));
        assert_eq!(capacity_alert(d("2026-11-21"), &days, &s), None);
        days.insert(d("2026-11-21"), (101.0, 100.0));
        assert_eq!(
            capacity_alert(d("2026-11-21"), &days, &s).unwrap().severity,
            Severity::Critical
        );
    }

    fn ahead(day: &str, expected: f64, high: f64, campaign: Option<(&str, f64)>) -> DayForecast {
        use crate::metrics::forecast::{Baseline, CampaignSpan, RangeSource, Uplift, Weights};
        let campaigns: Vec<CampaignSpan> = campaign
            .iter()
            .map(|(name, _)| CampaignSpan {
                name: name.to_string(),
                channel: "email".into(),
                start: d("2026-12-02"),
                end: d("2026-12-05"),
                stated: None,
            })
            .collect();
        DayForecast {
            day: d(day),
            baseline: Baseline {
                value: expected,
                level: expected,
                trend: 1.0,
                share: 1.0,
                weights: Weights {
                    alpha: 0.1,
                    beta: 0.0,
                    gamma: 0.05,
                },
                from: d("2026-12-01"),
            },
            uplifts: campaign
                .iter()
                .map(|(_, lift)| Uplift {
                    channel: "email".into(),
                    campaigns: 1,
                    raw: Some(*lift),
                    lift: *lift,
                    stated: false,
                })
                .collect(),
            campaigns,
            expected,
            low: expected * 0.9,
            high,
            range: RangeSource::Errors,
            closed: None,
        }
    }

    #[test]
    fn capacity_ahead_reads_the_top_of_the_range_against_the_threshold() {
        let s = AlertSettings::default();
        // Capacity 250 on 3 Dec, none after: 4 Dec assumes 250. 90% of 250 is 225.
        let plan: BTreeMap<NaiveDate, f64> =
            [(d("2026-11-30"), 200.0), (d("2026-12-03"), 250.0)].into();
        let days = [
            ahead("2026-12-03", 200.0, 225.0, Some(("Gift Guide", 1.2))),
            ahead("2026-12-04", 200.0, 224.99, None),
            ahead("2026-12-05", 200.0, 225.01, Some(("Gift Guide", 1.2))),
            // Before 3 Dec, 30 Nov's 200 applies: 180 is 90% of it, 181 above.
            ahead("2026-12-02", 150.0, 181.0, None),
        ];
        let a = capacity_ahead_alerts(&days, &plan, &s);
        let flagged: Vec<NaiveDate> = a.iter().filter_map(|a| a.day).collect();
        // Exactly at 225 does not fire, just under does not, just over does.
        assert_eq!(flagged, vec![d("2026-12-05"), d("2026-12-02")]);
        assert_eq!(a[0].capacity, Some(250.0));
        assert!(a[0].capacity_assumed, "5 Dec has no row of its own");
        assert_eq!(a[0].campaign.as_deref(), Some("Gift Guide"));
        assert_eq!(a[0].lift, Some(1.2));
        assert_eq!(a[0].range, Some((180.0, 225.01)));
        assert_eq!(a[0].severity, Severity::Warning);
        assert_eq!((a[1].capacity, a[1].capacity_assumed), (Some(200.0), true));
        assert_eq!(a[1].campaign, None);
        // The expectation itself above capacity is critical.
        let over = [ahead("2026-12-03", 251.0, 280.0, None)];
        let a = capacity_ahead_alerts(&over, &plan, &s);
        assert_eq!(
            (a[0].severity, a[0].capacity_assumed),
            (Severity::Critical, false)
        );
        // No capacity known at all: nothing to compare with.
        assert!(capacity_ahead_alerts(&over, &BTreeMap::new(), &s).is_empty());
    }
}
