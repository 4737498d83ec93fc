//! Stories, not echoes: "What moved" tells changes that share a cause as one item.
//!
//! The rule (the README says it too):
//! - **A campaign.** A campaign running on the report date whose channel's figure is in the
//!   news (a breakdown value that is the campaign's channel, such as "Sessions by channel,
//!   paid social") is one story. It gathers that item, the channel's other breakdown items,
//!   and the news of the figures a campaign moves ([`CAMPAIGN_FAMILY`]) that moved the same
//!   way.
//! - **Fulfilment.** Two or more of the fulfilment figures ([`FULFILMENT_FAMILY`]) in the
//!   news are one story.
//! - Everything else stands alone. A story ranks by its most unusual member.

use chrono::NaiveDate;

use super::news::NewsItem;
use crate::metrics::alert::Promotion;

/// What a campaign that brings visitors moves.
const CAMPAIGN_FAMILY: [&str; 11] = [
    "sessions",
    "orders",
    "net_revenue",
    "units",
    "new_customers",
    "conversion_rate",
    "ad_spend",
    "roas",
    "cac",
    "capacity_utilisation",
    "aov",
];

/// The warehouse and the carrier: one delay shows in each of them.
const FULFILMENT_FAMILY: [&str; 3] = ["fulfilment_hours", "shipped_within_24h", "on_time_delivery"];

/// The most members a story names: past it the sentence would be a table.
const MEMBERS: usize = 4;

/// `items` with those that share a cause told as one story each.
pub(super) fn stories(
    items: Vec<NewsItem>,
    promotions: &[Promotion],
    d: NaiveDate,
) -> Vec<NewsItem> {
    let mut items = items;
    let mut out = Vec::new();
    for p in promotions.iter().filter(|p| p.start <= d && d <= p.end) {
        let channel = words(&p.channel);
        let Some(lead) = items
            .iter()
            .filter(|i| i.dim.as_deref().is_some_and(|v| words(v) == channel))
            .max_by(|a, b| a.score.total_cmp(&b.score))
        else {
            continue;
        };
        let up = lead.up;
        let (members, rest): (Vec<NewsItem>, Vec<NewsItem>) =
            items.into_iter().partition(|i| match i.dim.as_deref() {
                Some(v) => words(v) == channel,
                None => i.up == up && CAMPAIGN_FAMILY.contains(&i.metric.as_str()),
            });
        items = rest;
        out.push(told(&format!("{} on {channel}", p.campaign), members));
    }
    let (fulfilment, rest): (Vec<NewsItem>, Vec<NewsItem>) = items
        .into_iter()
        .partition(|i| i.dim.is_none() && FULFILMENT_FAMILY.contains(&i.metric.as_str()));
    items = rest;
    match fulfilment.len() {
        0 => {}
        1 => items.extend(fulfilment),
        _ => out.push(told("Fulfilment", fulfilment)),
    }
    out.extend(items);
    out
}

/// A breakdown value or a channel as people say it: "paid social".
fn words(v: &str) -> String {
    v.replace(['_', '-'], " ").to_lowercase()
}

/// The story of `members` under `name`: "Winter Warmers on paid social: sessions 2,638
/// (usual 903), orders 227 (usual 133–182)", most unusual first.
fn told(name: &str, mut members: Vec<NewsItem>) -> NewsItem {
    members.sort_by(|a, b| b.score.total_cmp(&a.score));
    let first = members[0].clone();
    let parts: Vec<String> = members
        .iter()
        .take(MEMBERS)
        .map(|m| format!("{} {} (usual {})", member_label(m), m.value, m.usual))
        .collect();
    let more = members.len().saturating_sub(MEMBERS);
    let tail = if more > 0 {
        format!(", and {more} more")
    } else {
        String::new()
    };
    let bad = members.iter().any(|m| m.tone == "bad");
    let keys = members.iter().map(|m| m.metric.clone()).collect();
    NewsItem {
        text: format!("{name}: {}{tail}.", parts.join(", ")),
        short: format!("{name}: {}", parts[0]),
        tone: match (name, bad) {
            ("Fulfilment", true) => "bad".into(),
            _ => first.tone.clone(),
        },
        score: first.score,
        members: keys,
        ..first
    }
}

/// A member's figure in lower case, without its breakdown: "sessions", "on-time delivery".
fn member_label(m: &NewsItem) -> String {
    let label = match m.dim {
        Some(_) => m.label.split(" by ").next().unwrap_or(&m.label),
        None => &m.label,
    };
    let mut chars = label.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(metric: &str, dim: Option<&str>, score: f64, up: bool, tone: &str) -> NewsItem {
        let label = match dim {
            Some(_) => format!("{metric} by channel"),
            None => metric.to_string(),
        };
        NewsItem {
            text: format!("{metric} {dim:?}"),
            short: metric.into(),
            tone: tone.into(),
            metric: metric.into(),
            score,
            label: label.replace('_', " "),
            dim: dim.map(str::to_string),
            value: format!("{score}"),
            usual: "1–2".into(),
            up,
            members: vec![metric.into()],
        }
    }

    fn promotion(channel: &str, start: &str, end: &str) -> Promotion {
        Promotion {
            campaign: "Winter Warmers".into(),
            channel: channel.into(),
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            skus: Vec::new(),
            expected_lift: None,
            discount: None,
        }
    }

    fn d() -> NaiveDate {
        "2026-12-06".parse().unwrap()
    }

    #[test]
    fn a_running_campaign_gathers_its_channel_and_what_it_moves() {
        let items = vec![
            item("orders", None, 5.0, true, "good"),
            item("sessions", Some("paid_social"), 4.0, true, "good"),
            item("ad_spend", None, 3.0, true, "neutral"),
            item("capacity_utilisation", None, 2.5, true, "bad"),
            // Down while the campaign is up: not its echo.
            item("conversion_rate", None, 2.0, false, "bad"),
            item("on_time_delivery", None, 1.0, false, "bad"),
        ];
        let out = stories(
            items,
            &[promotion("paid_social", "2026-12-02", "2026-12-11")],
            d(),
        );
        let texts: Vec<&str> = out.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(out.len(), 3, "{texts:?}");
        assert_eq!(
            out[0].text,
            "Winter Warmers on paid social: orders 5 (usual 1–2), sessions 4 (usual 1–2), \
             ad spend 3 (usual 1–2), capacity utilisation 2.5 (usual 1–2)."
        );
        assert_eq!(out[0].score, 5.0);
        assert_eq!(out[1].metric, "conversion_rate");
        assert_eq!(out[2].metric, "on_time_delivery");
    }

    #[test]
    fn a_campaign_not_running_or_on_a_quiet_channel_is_no_story() {
        let items = || {
            vec![
                item("orders", None, 5.0, true, "good"),
                item("sessions", Some("email"), 4.0, true, "good"),
            ]
        };
        // Over before the report date.
        let out = stories(
            items(),
            &[promotion("email", "2026-11-01", "2026-11-05")],
            d(),
        );
        assert_eq!(out.len(), 2);
        // Running, but its channel did not move.
        let out = stories(
            items(),
            &[promotion("paid_search", "2026-12-01", "2026-12-09")],
            d(),
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn fulfilment_figures_are_one_story_from_two() {
        let out = stories(
            vec![
                item("on_time_delivery", None, 6.0, false, "bad"),
                item("shipped_within_24h", None, 3.0, false, "bad"),
                item("refunds", None, 2.0, true, "bad"),
            ],
            &[],
            d(),
        );
        assert_eq!(out.len(), 2);
        assert!(
            out[0]
                .text
                .starts_with("Fulfilment: on time delivery 6 (usual 1–2), shipped within 24h 3")
        );
        assert_eq!(out[0].tone, "bad");
        // One alone stays itself.
        let out = stories(
            vec![item("on_time_delivery", None, 6.0, false, "bad")],
            &[],
            d(),
        );
        assert_eq!(out[0].text, "on_time_delivery None");
    }
}
