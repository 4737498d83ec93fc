//! The alerts as the email words them: stock, capacity and the shop's rules, and the notes
//! for what could not be checked.

use super::coverage::EXPECTED_WITHIN_DAYS;
use super::*;
use crate::metrics::forecast::{self, DayForecast};

pub(super) fn build_alerts(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    report: &MetricsReport,
    ahead: &[DayForecast],
    f: &Formatter,
) -> Vec<AlertView> {
    let mut alerts = alert::stock_alerts(d, &inputs.promotions, &inputs.stock, &config.alerts);
    let capacity: BTreeMap<NaiveDate, (f64, f64)> = inputs
        .fetched
        .get("capacity_utilisation")
        .and_then(|m| m.get(&None))
        .map(|s| {
            s.days
                .iter()
                .filter(|(_, r)| r.num.is_finite() && r.den.is_finite())
                .map(|(day, r)| (*day, (r.num, r.den)))
                .collect()
        })
        .unwrap_or_default();
    alerts.extend(alert::capacity_alert(d, &capacity, &config.alerts));
    alerts.extend(alert::capacity_ahead_alerts(
        ahead,
        &inputs.capacity_plan,
        &config.alerts,
    ));
    let rule = config.alerts.capacity_threshold;
    let mut views: Vec<AlertView> = alerts.iter().map(|a| alert_view(a, d, f, rule)).collect();
    views.extend(rule_views(config, report, f));
    // Critical first; within a severity, in the order above.
    views.sort_by_key(|v| v.severity);
    views
}

/// The shop's `[[alerts.rules]]` that the day's figures cross.
pub(super) fn rule_views(config: &Config, report: &MetricsReport, f: &Formatter) -> Vec<AlertView> {
    use crate::metrics::alert::{Condition, RuleComparison};
    let mut out = Vec::new();
    for rule in config.alerts.rules.iter().map(|r| r.get_ref()) {
        // A metric the email leaves out (its source never had data) has no rule to cross.
        let Some(m) = report.get(&rule.metric) else {
            continue;
        };
        let kind = match rule.comparison {
            RuleComparison::DayBefore => ComparisonKind::PreviousDay,
            RuleComparison::LastWeek => ComparisonKind::SameWeekdayLastWeek,
            RuleComparison::FourWeekMean => ComparisonKind::SameWeekdayFourWeekMean,
            RuleComparison::LastYear => ComparisonKind::SameWeekdayLastYear,
        };
        let c = comparison(m, kind);
        let current = m.comparisons[0].current.get();
        if !alert::rule_fires(rule, current, c.rel_change) {
            continue;
        }
        let value = f.value(m.unit, m.comparisons[0].current);
        let (title, detail) = match rule.condition {
            Condition::Below | Condition::Above => {
                let word = if rule.condition == Condition::Below {
                    "below"
                } else {
                    "above"
                };
                (
                    format!(
                        "{} {value}, {word} {}",
                        m.label,
                        f.amount(m.unit, rule.value)
                    ),
                    format!(
                        "Your rule: {} {word} {}.",
                        m.label.to_lowercase(),
                        f.amount(m.unit, rule.value)
                    ),
                )
            }
            Condition::ChangeBelow | Condition::ChangeAbove => {
                let change = c
                    .rel_change
                    .map_or("n/a".into(), |r| format!("{:+.0}%", r * 100.0));
                (
                    format!("{} {value}, {change} {}", m.label, kind.label()),
                    format!(
                        "Your rule: {}, a change {} {:+.0}% {}.",
                        m.label.to_lowercase(),
                        if rule.condition == Condition::ChangeBelow {
                            "below"
                        } else {
                            "above"
                        },
                        rule.value * 100.0,
                        kind.label()
                    ),
                )
            }
        };
        out.push(AlertView {
            kind: AlertKind::Rule,
            severity: rule.severity,
            tone: match rule.severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
            },
            short: title.clone(),
            metric: Some(rule.metric.clone()),
            title,
            detail,
            action: cap(&rule.action, text::COMMENT),
            day: None,
            plan: String::new(),
            subject: rule.metric.clone(),
        });
    }
    out
}

/// An alert as the email words it; `rule` is the share of capacity a capacity alert fires
/// above, which it states.
pub(super) fn alert_view(a: &Alert, d: NaiveDate, f: &Formatter, rule: f64) -> AlertView {
    let tone = match a.severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
    };
    let (title, detail, action) = match a.kind {
        AlertKind::OutOfStock | AlertKind::LowCover => stock_words(a, f),
        AlertKind::Capacity => capacity_words(a, d, f, rule),
        AlertKind::CapacityAhead => capacity_ahead_words(a, d, f, rule),
        // Rule alerts are worded from their rule (`rule_views`); an `Alert` never is one.
        AlertKind::Rule => (product_name(a), String::new(), String::new()),
    };
    AlertView {
        kind: a.kind,
        severity: a.severity,
        tone,
        short: short_words(a, &title, f),
        metric: None,
        title: title.split_whitespace().collect::<Vec<_>>().join(" "),
        detail,
        action,
        day: a.day,
        subject: match a.kind {
            AlertKind::OutOfStock | AlertKind::LowCover => a.sku.clone().unwrap_or_default(),
            _ => a.day.unwrap_or(d).to_string(),
        },
        plan: match a.kind {
            AlertKind::CapacityAhead => marketing_words(a),
            _ => String::new(),
        },
    }
}

/// "KNT-003 Lambswool Cardigan", each part cut to its bound.
fn product_name(a: &Alert) -> String {
    format!(
        "{} {}",
        cap(a.sku.as_deref().unwrap_or(""), text::NAME),
        cap(a.product.as_deref().unwrap_or(""), text::NAME)
    )
}

fn days_of_cover(a: &Alert, f: &Formatter) -> String {
    a.days_of_cover.map_or("n/a".into(), |c| {
        f.amount(Unit::Days, c).replace(" d", " days")
    })
}

/// Title, detail and action of a promoted SKU out of stock or short of cover.
fn stock_words(a: &Alert, f: &Formatter) -> (String, String, String) {
    let product = product_name(a);
    let campaign = match (&a.campaign, a.campaign_start, a.campaign_end) {
        (Some(c), Some(s), Some(e)) => {
            let when = if a.campaign_running {
                "running".to_string()
            } else {
                format!("starts {}", s.format("%a %-d %b"))
            };
            format!("{} ({}, {when})", cap(c, text::LABEL), span(s, e))
        }
        _ => String::new(),
    };
    let lead = a
        .lead_time_days
        .map_or(String::new(), |l| format!("{l} days"));
    if a.kind == AlertKind::OutOfStock {
        return (
            format!("{product}: out of stock while promoted"),
            format!("Promoted in {campaign}. On hand: 0. Supplier lead time: {lead}."),
            if a.campaign_running {
                "Pause the promotion for this SKU or swap it out today; expedite a restock."
                    .to_string()
            } else {
                "Drop it from the campaign before it starts, or expedite a restock.".to_string()
            },
        );
    }
    (
        format!(
            "{product}: {} of cover, lead time {lead}",
            days_of_cover(a, f)
        ),
        format!(
            "Promoted in {campaign}. On hand: {}. Days of cover use the last 14 days' sales.",
            a.on_hand
                .map_or("n/a".into(), |n| f.amount(Unit::Count, n as f64))
        ),
        if a.campaign_running {
            "Expedite a restock, or cap the promotion's spend on this SKU before it sells out."
                .to_string()
        } else {
            "Expedite a restock before the campaign starts, or drop the SKU from it.".to_string()
        },
    )
}

/// Title, detail and action of a day's orders near the warehouse's capacity.
fn capacity_words(a: &Alert, d: NaiveDate, f: &Formatter, rule: f64) -> (String, String, String) {
    let day = a.day.unwrap_or(d);
    let (o, c) = (a.orders.unwrap_or(0.0), a.capacity.unwrap_or(0.0));
    let when = if day == d {
        "yesterday".to_string()
    } else {
        day.format("%a %-d %b").to_string()
    };
    (
        format!(
            "Orders at {} of warehouse capacity {when}",
            f.amount(Unit::Percent, if c > 0.0 { o / c } else { 0.0 })
        ),
        format!(
            "{} orders against a capacity of {} on {}, above the alert's line of {}.",
            f.amount(Unit::Count, o),
            f.amount(Unit::Count, c),
            day.format("%-d %b"),
            rule_words(rule)
        ),
        "Plan extra picking shifts, and tell marketing before adding promotion spend.".to_string(),
    )
}

/// A capacity alert's line, as a share: "90%", "87.5%".
pub(super) fn rule_words(rule: f64) -> String {
    let pct = rule * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{pct:.0}%")
    } else {
        format!("{pct:.1}%")
    }
}

/// The alert in a few words a reader knows, for the first 38 characters of the subject:
/// "Lambswool Cardigan sells out in 4 days", not SKU codes.
fn short_words(a: &Alert, title: &str, f: &Formatter) -> String {
    let product = a
        .product
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .or(a.sku.as_deref())
        .map_or(String::new(), |p| cap(p, 24));
    match a.kind {
        AlertKind::OutOfStock => format!("{product} out of stock"),
        AlertKind::LowCover => match a.days_of_cover {
            Some(c) if c < 1.0 => format!("{product} sells out within a day"),
            Some(c) => format!(
                "{product} sells out in {} day{}",
                f.amount(Unit::Count, c.floor()),
                if c.floor() == 1.0 { "" } else { "s" }
            ),
            None => format!("{product} low on stock"),
        },
        AlertKind::Capacity => title
            .replace(" of warehouse capacity", " of capacity")
            .replace("Orders at", "Warehouse at"),
        AlertKind::CapacityAhead => format!(
            "{}: orders near capacity",
            a.day.map(forecast::day_label).unwrap_or_default()
        ),
        AlertKind::Rule => title.to_string(),
    }
}

/// "Thu 3 Dec: 260-300 orders expected, above 90% of capacity 250", the campaign behind it, and
/// what each team can do.
fn capacity_ahead_words(
    a: &Alert,
    d: NaiveDate,
    f: &Formatter,
    rule: f64,
) -> (String, String, String) {
    let day = a.day.unwrap_or(d);
    let count = |v: f64| f.amount(Unit::Count, v.round());
    let (low, high) = a.range.unwrap_or((0.0, 0.0));
    let capacity = a.capacity.unwrap_or(0.0);
    // The rule it fired by, stated: "above 90% of capacity 250".
    let title = format!(
        "{}: {}-{} orders expected, above {} of capacity {}{}",
        forecast::day_label(day),
        count(low),
        count(high),
        rule_words(rule),
        count(capacity),
        if a.capacity_assumed { " (assumed)" } else { "" }
    );
    let mut detail = match (&a.campaign, &a.channel, a.campaign_start, a.campaign_end) {
        (Some(c), Some(ch), Some(s), Some(e)) => format!(
            "{} on {} {} ({}): {:+.0}% orders expected from that channel's past campaigns.",
            cap(c, text::LABEL),
            channel_words(ch),
            if s <= d {
                "is running".to_string()
            } else {
                format!("starts {}", forecast::day_label(s))
            },
            span(s, e),
            (a.lift.unwrap_or(1.0) - 1.0) * 100.0
        ),
        _ => format!(
            "The usual {} volume and the recent trend, with no campaign behind it.",
            forecast::weekday_name(day)
        ),
    };
    if a.capacity_assumed {
        detail.push_str(" No capacity is planned for that day: the latest known is assumed.");
    }
    let action = format!(
        "Operations: plan extra shifts for {}; marketing: {}.",
        forecast::day_label(day),
        marketing_words(a)
    );
    (title, detail, action)
}

/// What marketing can do about a busy day ahead: "consider pacing the paid search budget
/// that day".
fn marketing_words(a: &Alert) -> String {
    match a.channel.as_deref() {
        Some("email") => "consider staggering the email send".to_string(),
        Some(ch) if a.campaign.is_some() => {
            format!("consider pacing the {} budget that day", channel_words(ch))
        }
        _ => "avoid launching a push that day".to_string(),
    }
}

/// A channel as people say it: "paid social".
pub(super) fn channel_words(channel: &str) -> String {
    cap(&channel.replace('_', " "), text::LABEL)
}

/// "No alerts: promoted stock and warehouse capacity are fine.", or what could not be
/// checked: stock or capacity with no data in the two weeks before the report date.
pub(super) fn no_alerts_note(inputs: &DigestInputs, d: NaiveDate) -> String {
    let recent = d - Days::new(EXPECTED_WITHIN_DAYS);
    let has = |table: &str| {
        inputs
            .freshness
            .iter()
            .any(|(t, last)| *t == table && last.is_some_and(|l| l >= recent))
    };
    match (has("inventory"), has("capacity")) {
        (true, true) => "No alerts: promoted stock and warehouse capacity are fine.".into(),
        (true, false) => "No alerts: promoted stock is fine. Warehouse capacity is not checked: \
                          there is no capacity data."
            .into(),
        (false, true) => "No alerts: warehouse capacity is fine. Promoted stock is not checked: \
                          there is no stock data."
            .into(),
        (false, false) => "No alerts could be checked: there is no stock data and no capacity \
                           data."
            .into(),
    }
}

/// "Lead time unknown for …": promoted products with no lead time of their own, when the
/// config sets no default, so their cover was checked only against the minimum.
pub(super) fn lead_time_note(config: &Config, inputs: &DigestInputs) -> String {
    if config.alerts.default_lead_time_days.is_some() {
        return String::new();
    }
    let unknown: Vec<String> = inputs
        .stock
        .values()
        .filter(|p| p.lead_time_days.is_none())
        .map(|p| cap(&p.sku, text::NAME))
        .collect();
    if unknown.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
    let more = unknown.len().saturating_sub(5);
    format!(
        "Lead time unknown for {} promoted product{} ({}{}): their stock is checked only \
         against the {}-day minimum. Set `[alerts] default_lead_time_days` to check it \
         against a lead time.",
        unknown.len(),
        if unknown.len() == 1 { "" } else { "s" },
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        config.alerts.min_days_of_cover
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NumberFormat;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn out_of_stock(running: bool) -> Alert {
        Alert {
            sku: Some("KNT-003".into()),
            product: Some("Lambswool Cardigan".into()),
            campaign: Some("Winter Warmers".into()),
            campaign_start: Some(day("2026-11-27")),
            campaign_end: Some(day("2026-12-06")),
            campaign_running: running,
            on_hand: Some(0),
            lead_time_days: Some(35),
            ..Alert::new(AlertKind::OutOfStock, Severity::Critical)
        }
    }

    /// No demo storyline runs a promoted SKU dry, so the words of that alert are checked here.
    #[test]
    fn a_promoted_sku_out_of_stock_says_what_to_do_before_and_during_the_campaign() {
        let f = Formatter::new(NumberFormat::default(), "£".into());
        let d = day("2026-11-30");
        let v = alert_view(&out_of_stock(true), d, &f, 0.9);
        assert_eq!(
            v.title,
            "KNT-003 Lambswool Cardigan: out of stock while promoted"
        );
        assert_eq!(
            v.detail,
            "Promoted in Winter Warmers (27 Nov - 6 Dec, running). On hand: 0. Supplier lead time: 35 days."
        );
        assert!(v.action.starts_with("Pause the promotion"), "{}", v.action);
        assert_eq!(v.short, "Lambswool Cardigan out of stock");
        assert_eq!(v.tone, "critical");
        let before = alert_view(&out_of_stock(false), day("2026-11-20"), &f, 0.9);
        assert!(
            before
                .detail
                .contains("(27 Nov - 6 Dec, starts Fri 27 Nov)"),
            "{}",
            before.detail
        );
        assert!(
            before.action.starts_with("Drop it from the campaign"),
            "{}",
            before.action
        );
    }
}
