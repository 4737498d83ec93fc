//! The first screen: the day's headline figures in one line, and the alerts that cannot wait.

use serde::Serialize;

use super::Tile;
use super::triage::AlertList;
use crate::metrics::alert::Severity;

/// How many warnings the first screen names on a day without a critical alert.
const WARNINGS_NAMED: usize = 2;

/// What a phone shows before any scrolling.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Glance {
    /// "Revenue £32,307 (+86.4% vs last Sun) · 227 orders · 3.0% conversion · AOV £142".
    pub line: String,
    /// The line without its revenue, for the preheader beside a subject that has it.
    #[serde(skip)]
    pub figures: String,
    /// The alerts named a line each: every critical one, or on a day without one the
    /// first warnings.
    pub alerts: Vec<GlanceAlert>,
    /// Where the alerts are told in full: "All 4 alerts, with what to do, below.".
    pub more: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GlanceAlert {
    /// critical | warning
    pub tone: &'static str,
    pub title: String,
}

pub(super) fn glance(headline: &[Tile], alerts: &AlertList, phrase: &str) -> Glance {
    let parts: Vec<String> = headline.iter().map(figure).collect();
    let figures: Vec<&str> = headline
        .iter()
        .zip(&parts)
        .filter(|(t, _)| t.key != "net_revenue")
        .map(|(_, p)| p.as_str())
        .collect();
    let critical: Vec<GlanceAlert> = alerts
        .shown
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .map(named)
        .collect();
    let named_alerts = if critical.is_empty() {
        alerts
            .shown
            .iter()
            .take(WARNINGS_NAMED)
            .map(named)
            .collect()
    } else {
        critical
    };
    let total = alerts.shown.len() + alerts.more.len();
    let more = match total {
        0 => String::new(),
        1 => "The alert, with what to do, below.".to_string(),
        _ => format!("All {phrase}, with what to do, below."),
    };
    Glance {
        line: parts.join(" · "),
        figures: figures.join(" · "),
        alerts: named_alerts,
        more,
    }
}

fn named(a: &super::AlertView) -> GlanceAlert {
    GlanceAlert {
        tone: a.tone,
        title: a.title.clone(),
    }
}

/// A headline figure as a phrase: "Revenue £32,307 (+86.4% vs last Sun)", "227 orders".
fn figure(t: &Tile) -> String {
    let v = &t.value;
    match t.key.as_str() {
        "net_revenue" if t.main.change != "n/a" => {
            format!("Revenue {v} ({} {})", t.main.change, t.main.label)
        }
        "net_revenue" => format!("Revenue {v}"),
        "orders" => format!("{v} orders"),
        "conversion_rate" => format!("{v} conversion"),
        "aov" => format!("AOV {v}"),
        "units" => format!("{v} units"),
        "new_customers" => format!("{v} new customers"),
        _ => format!("{} {v}", t.label),
    }
}
