//! Which alerts the email tells in full, which it tells as one, and which it names in a
//! line past its cap: every alert is accounted for, and a critical one is never cut.

use chrono::NaiveDate;
use serde::Serialize;

use super::alerts::rule_words;
use super::{AlertView, text};
use crate::metrics::alert::{AlertKind, Severity};
use crate::metrics::forecast::day_label;
use crate::text::cap;

/// The most alerts told in full; past it the rest are named, a line each.
pub const LISTED: usize = 12;

/// The most members a grouped alert names in its detail (a shop promotes 8 × 8 SKUs at most).
const MEMBERS_NAMED: usize = 64;

/// The alerts as the email lists them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertList {
    /// Told in full: critical first, each group of one kind as one alert.
    pub shown: Vec<AlertView>,
    /// The titles of those past the cap, a line each ("and 3 more: …").
    pub more: Vec<String>,
    /// "And 3 more:", or empty.
    pub more_phrase: String,
}

/// Sorts out `alerts` (critical first) for the email, with capacity for `rule` of the
/// warehouse's capacity: busy days ahead are one alert, and past [`LISTED`] the promoted
/// SKUs of one kind are one alert too; what still does not fit is named a line each,
/// warnings first to go.
pub fn triage(mut alerts: Vec<AlertView>, rule: f64) -> AlertList {
    alerts.sort_by_key(|a| a.severity);
    let mut alerts = group(
        alerts,
        |a| a.kind == AlertKind::CapacityAhead,
        |m| busy_days(m, rule),
    );
    if alerts.len() > LISTED {
        for kind in [AlertKind::LowCover, AlertKind::OutOfStock] {
            alerts = group(alerts, |a| a.kind == kind, stock_group);
        }
    }
    let critical = alerts
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .count();
    let keep = LISTED.max(critical);
    let more: Vec<String> = alerts
        .iter()
        .skip(keep)
        .map(|a| format!("{}: {}", tone_word(a), a.title))
        .collect();
    alerts.truncate(keep);
    AlertList {
        shown: alerts,
        more_phrase: match more.len() {
            0 => String::new(),
            n => format!("And {n} more:"),
        },
        more,
    }
}

fn tone_word(a: &AlertView) -> &'static str {
    match a.severity {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
    }
}

/// Tells the alerts that `belongs` of each severity as one, made by `merge`, where there is
/// more than one; the one takes the place of the first.
fn group(
    alerts: Vec<AlertView>,
    belongs: impl Fn(&AlertView) -> bool,
    merge: impl Fn(&[AlertView]) -> AlertView,
) -> Vec<AlertView> {
    let mut out: Vec<AlertView> = Vec::with_capacity(alerts.len());
    let mut members: Vec<(Severity, Vec<AlertView>, usize)> = Vec::new();
    for a in alerts {
        if !belongs(&a) {
            out.push(a);
            continue;
        }
        match members.iter_mut().find(|(s, _, _)| *s == a.severity) {
            Some((_, m, _)) => m.push(a),
            None => {
                members.push((a.severity, Vec::new(), out.len()));
                out.push(a);
            }
        }
    }
    for (_, rest, at) in members.into_iter().rev() {
        if rest.is_empty() {
            continue;
        }
        let all: Vec<AlertView> = std::iter::once(out[at].clone()).chain(rest).collect();
        out[at] = merge(&all);
    }
    out
}

/// "Fri 11 Dec and Sat 12 Dec: orders expected above 90% of capacity", from the days'
/// alerts, each day's numbers in the detail.
fn busy_days(m: &[AlertView], rule: f64) -> AlertView {
    let days: Vec<NaiveDate> = m.iter().filter_map(|a| a.day).collect();
    let mut plans: Vec<&str> = Vec::new();
    for a in m {
        if !plans.contains(&a.plan.as_str()) {
            plans.push(&a.plan);
        }
    }
    let mut details: Vec<&str> = Vec::new();
    for a in m {
        if !details.contains(&a.detail.as_str()) {
            details.push(&a.detail);
        }
    }
    let titles: Vec<&str> = m.iter().map(|a| a.title.as_str()).collect();
    let first = &m[0];
    AlertView {
        title: format!(
            "{}: orders expected above {} of capacity",
            runs(&days),
            rule_words(rule)
        ),
        short: format!("{} busy days ahead", m.len()),
        detail: format!("{}. {}", titles.join("; "), details.join(" ")),
        action: format!(
            "Operations: plan extra shifts for those {} days; marketing: {}.",
            m.len(),
            plans.join("; ")
        ),
        day: first.day,
        ..first.clone()
    }
}

/// "Low cover on 9 promoted SKUs", each named in the detail.
fn stock_group(m: &[AlertView]) -> AlertView {
    let first = &m[0];
    let what = match first.kind {
        AlertKind::OutOfStock => "Out of stock while promoted",
        _ => "Short of cover while promoted",
    };
    // The group's title says what they share; each member is named with what is its own:
    // "KNT-003 Lambswool Cardigan (4.0 days of cover, lead time 35 days)".
    let named: Vec<String> = m
        .iter()
        .take(MEMBERS_NAMED)
        .map(|a| match a.title.rsplit_once(": ") {
            Some((name, "out of stock while promoted")) => cap(name, text::LABEL * 2),
            Some((name, own)) => format!("{} ({own})", cap(name, text::LABEL * 2)),
            None => cap(&a.title, text::LABEL * 2),
        })
        .collect();
    let mut actions: Vec<&str> = Vec::new();
    for a in m {
        if !actions.contains(&a.action.as_str()) {
            actions.push(&a.action);
        }
    }
    AlertView {
        title: format!("{what}: {} SKUs", m.len()),
        short: format!("{} promoted SKUs {}", m.len(), what.to_lowercase()),
        detail: format!("{}.", named.join("; ")),
        action: actions.join(" "),
        ..first.clone()
    }
}

/// Days as runs: "Mon 7 Dec to Fri 11 Dec and Sun 13 Dec".
fn runs(days: &[NaiveDate]) -> String {
    let mut spans: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &d in days {
        match spans.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(d) => *last = d,
            _ => spans.push((d, d)),
        }
    }
    let words: Vec<String> = spans
        .iter()
        .map(|&(a, b)| match (b - a).num_days() {
            0 => day_label(a),
            1 => format!("{} and {}", day_label(a), day_label(b)),
            _ => format!("{} to {}", day_label(a), day_label(b)),
        })
        .collect();
    and_list(&words)
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind, severity: Severity, title: &str, day: Option<&str>) -> AlertView {
        AlertView {
            kind,
            severity,
            tone: match severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
            },
            title: title.into(),
            short: title.into(),
            metric: None,
            detail: format!("{title} detail"),
            action: "Act.".into(),
            day: day.map(|d| d.parse::<NaiveDate>().unwrap()),
            plan: "consider pacing the paid search budget that day".into(),
            subject: title.into(),
        }
    }

    #[test]
    fn busy_days_ahead_are_one_alert_naming_each_day() {
        let list = triage(
            vec![
                alert(
                    AlertKind::CapacityAhead,
                    Severity::Warning,
                    "Fri 11 Dec: 260-300",
                    Some("2026-12-11"),
                ),
                alert(
                    AlertKind::Capacity,
                    Severity::Warning,
                    "Orders at 95%",
                    None,
                ),
                alert(
                    AlertKind::CapacityAhead,
                    Severity::Warning,
                    "Sat 12 Dec: 270-310",
                    Some("2026-12-12"),
                ),
            ],
            0.9,
        );
        let titles: Vec<&str> = list.shown.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Fri 11 Dec and Sat 12 Dec: orders expected above 90% of capacity",
                "Orders at 95%"
            ]
        );
        assert!(
            list.shown[0]
                .detail
                .starts_with("Fri 11 Dec: 260-300; Sat 12 Dec: 270-310.")
        );
        // The same plan for both days is said once.
        assert_eq!(
            list.shown[0].action,
            "Operations: plan extra shifts for those 2 days; marketing: consider pacing the paid search budget that day."
        );
        assert!(list.more.is_empty());
    }

    #[test]
    fn past_the_cap_nothing_is_dropped_and_no_critical_is_cut() {
        // 20 warnings of rules and 14 critical ones: all 14 critical are told in full, the
        // warnings fill no place, and each of the 20 is named a line each.
        let mut alerts: Vec<AlertView> = (0..20)
            .map(|i| {
                alert(
                    AlertKind::Rule,
                    Severity::Warning,
                    &format!("warning {i}"),
                    None,
                )
            })
            .collect();
        alerts.extend((0..14).map(|i| {
            alert(
                AlertKind::Rule,
                Severity::Critical,
                &format!("critical {i}"),
                None,
            )
        }));
        let list = triage(alerts, 0.9);
        assert_eq!(list.shown.len(), 14);
        assert!(list.shown.iter().all(|a| a.severity == Severity::Critical));
        assert_eq!(list.more.len(), 20);
        assert_eq!(list.more[0], "Warning: warning 0");
        assert_eq!(list.more_phrase, "And 20 more:");
    }

    #[test]
    fn past_the_cap_promoted_skus_of_one_kind_are_one_alert() {
        let mut alerts: Vec<AlertView> = (0..30)
            .map(|i| {
                alert(
                    AlertKind::LowCover,
                    Severity::Warning,
                    &format!("SKU-{i}: 3 days"),
                    None,
                )
            })
            .collect();
        alerts.push(alert(
            AlertKind::OutOfStock,
            Severity::Critical,
            "SKU-X: out",
            None,
        ));
        let list = triage(alerts, 0.9);
        assert_eq!(list.shown.len(), 2);
        assert_eq!(list.shown[0].title, "SKU-X: out");
        assert_eq!(
            list.shown[1].title,
            "Short of cover while promoted: 30 SKUs"
        );
        assert!(
            list.shown[1].detail.contains("SKU-29 (3 days)"),
            "{}",
            list.shown[1].detail
        );
        assert_eq!(list.shown[1].action, "Act.");
        assert!(list.more.is_empty());
    }

    #[test]
    fn under_the_cap_alerts_are_told_one_by_one() {
        let alerts: Vec<AlertView> = (0..3)
            .map(|i| {
                alert(
                    AlertKind::LowCover,
                    Severity::Warning,
                    &format!("SKU-{i}"),
                    None,
                )
            })
            .collect();
        let list = triage(alerts, 0.9);
        assert_eq!(list.shown.len(), 3);
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
