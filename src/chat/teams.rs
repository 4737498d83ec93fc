//! The morning report as a Microsoft Teams Adaptive Card, for a Workflows webhook: the same
//! parts as Slack's post (the day in a line, the headline figures, the alerts with what to
//! do, what moved, the data's date), text only (Teams shows only images it can fetch from a
//! URL), under Teams' 28 KB.

use serde_json::{Value, json};

use crate::digest::Digest;

/// Teams refuses a message past about 28 KB; the card stays well under it.
pub const MAX_BYTES: usize = 26_000;
/// The most alerts told in full; the rest are named a line each.
const ALERTS_TOLD: usize = 8;

/// The webhook's body: a message with the card as its one attachment.
pub fn message(d: &Digest) -> Value {
    if let Some(w) = &d.weekly {
        let mut per = 4_000;
        loop {
            let mut body = vec![text(
                &format!("{} · weekly review, {}", d.shop, w.title),
                per,
                "Large",
                true,
            )];
            for (i, (title, lines)) in w.sections().iter().enumerate() {
                body.push(text(&format!("{}. {title}", i + 1), per, "Medium", true));
                body.push(text(&lines.join("\n\n"), per, "Default", false));
            }
            body.push(text(&d.footer, per, "Small", false));
            let m = envelope(&json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }));
            if size(&m) <= MAX_BYTES || per <= 200 {
                return m;
            }
            per = per * 3 / 4;
        }
    }
    for told in (0..=ALERTS_TOLD.min(d.alerts.len())).rev() {
        let m = envelope(&card(d, told, 4_000));
        if size(&m) <= MAX_BYTES {
            return m;
        }
    }
    let mut per = 2_000;
    loop {
        let m = envelope(&card(d, 0, per));
        if size(&m) <= MAX_BYTES || per <= 200 {
            return m;
        }
        per = per * 3 / 4;
    }
}

/// The body's size as sent.
pub fn size(m: &Value) -> usize {
    serde_json::to_string(m).map_or(usize::MAX, |s| s.len())
}

fn envelope(card: &Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

fn card(d: &Digest, told: usize, per: usize) -> Value {
    let mut body = vec![
        text(&format!("{} · {}", d.shop, d.date_long), per, "Large", true),
        text(&d.glance.line, per, "Medium", true),
    ];
    let facts: Vec<Value> = d
        .headline
        .iter()
        .map(|t| {
            json!({"title": t.label, "value": format!("{} {} {} {} {}",
                t.value, t.main.arrow, t.main.change, t.main.mark, t.main.label)})
        })
        .collect();
    body.push(json!({"type": "FactSet", "facts": facts}));
    body.push(text(
        &format!("Alerts ({})", d.alerts_phrase),
        per,
        "Medium",
        true,
    ));
    if d.alerts.is_empty() {
        body.push(text(&d.no_alerts_note, per, "Default", false));
    }
    for a in d.alerts.iter().take(told) {
        let mark = if a.tone == "critical" {
            "✗ Critical"
        } else {
            "! Warning"
        };
        body.push(text(&format!("{mark}: {}", a.title), per, "Default", true));
        body.push(text(
            &format!("{}\n\nWhat to do: {}", a.detail, a.action),
            per,
            "Default",
            false,
        ));
    }
    let rest: Vec<String> = d
        .alerts
        .iter()
        .skip(told)
        .map(|a| format!("- {}", a.title))
        .chain(d.more_alerts.iter().map(|m| format!("- {m}")))
        .collect();
    if !rest.is_empty() {
        body.push(text(
            &format!("And {} more:\n\n{}", rest.len(), rest.join("\n")),
            per,
            "Default",
            false,
        ));
    }
    body.push(text("What moved", per, "Medium", true));
    let mut moved: Vec<String> = d
        .news
        .items
        .iter()
        .map(|n| format!("- {}", n.text))
        .collect();
    for line in [&d.news.quiet, &d.news.revenue] {
        if !line.is_empty() {
            moved.push(line.clone());
        }
    }
    body.push(text(&moved.join("\n"), per, "Default", false));
    let context = super::context(d);
    body.push(
        json!({"type": "TextBlock", "text": clip(&plain(&context), per),
        "wrap": true, "isSubtle": true, "size": "Small"}),
    );
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    })
}

fn text(s: &str, per: usize, size: &str, bold: bool) -> Value {
    let mut block =
        json!({"type": "TextBlock", "text": clip(&plain(s), per), "wrap": true, "size": size});
    if bold {
        block["weight"] = json!("Bolder");
    }
    block
}

/// Text from the data with Teams' markdown defused: a `[name](url)` or `**` it would
/// render is shown as written.
fn plain(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

/// `s` in at most `max` characters, lines kept, an ellipsis where cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    // Never end on half an escape.
    if out.ends_with('\\') {
        out.pop();
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_from_the_data_is_shown_as_written() {
        assert_eq!(
            plain("[x](http://e) **b** a_b"),
            "\\[x\\](http://e) \\*\\*b\\*\\* a\\_b"
        );
        assert_eq!(clip("abc\\[", 5), "abc\\[");
        assert_eq!(clip("ab\\[cdef", 4), "ab…");
    }
}
