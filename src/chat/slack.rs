//! The morning report in Slack's Block Kit, text first: a header, the day in a line with
//! the headline figures as fields, the alerts with what to do, what moved, a context line;
//! the charts as image blocks once uploaded. Within Slack's limits: at most 50 blocks, 3,000
//! characters a section, and about 12 KB in all, whatever the shop's data.

use serde::Serialize;
use serde_json::{Value, json};

use crate::digest::{ChartView, Digest};
use crate::text::cap;

/// Slack refuses a message of more blocks.
pub const MAX_BLOCKS: usize = 50;
/// Slack refuses a section's text past this many characters.
pub const MAX_SECTION: usize = 3_000;
/// A header's plain text.
const MAX_HEADER: usize = 150;
/// The whole message's blocks, as JSON: Slack truncates or refuses past about this.
pub const MAX_BYTES: usize = 12_000;
/// Room kept for the charts' image blocks (each under 400 bytes).
const IMAGES_RESERVE: usize = 2_000;
/// The most alerts told in full; the rest are named a line each.
const ALERTS_TOLD: usize = 6;
/// A section field's text (Slack allows 2,000).
const MAX_FIELD: usize = 200;

/// A message for `chat.postMessage`: the notification text and the blocks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Post {
    /// What notifications and clients without blocks show.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// One uploaded chart: the file's id and the chart it shows.
#[derive(Debug, Clone)]
pub struct Uploaded<'a> {
    pub file_id: String,
    pub chart: &'a ChartView,
}

/// The digest as a post without images, within the limits less room for the charts.
pub fn post(d: &Digest) -> Post {
    let budget = MAX_BYTES - IMAGES_RESERVE;
    if let Some(w) = &d.weekly {
        return weekly_post(d, w, budget);
    }
    for told in (0..=ALERTS_TOLD.min(d.alerts.len())).rev() {
        let p = assemble(d, told, MAX_SECTION);
        if size(&p) <= budget {
            return p;
        }
    }
    // Even with every alert named in a line, too long: shorten each section.
    let mut per = MAX_SECTION;
    loop {
        let p = assemble(d, 0, per);
        if size(&p) <= budget || per <= 200 {
            return p;
        }
        per = per * 3 / 4;
    }
}

/// `post` with the charts' image blocks before its context line, as many as the limits
/// allow.
pub fn with_images(post: &Post, images: &[Uploaded<'_>]) -> Post {
    let mut p = post.clone();
    let context = p.blocks.pop();
    for u in images {
        let block = json!({
            "type": "image",
            "slack_file": {"id": u.file_id},
            "alt_text": cap(&u.chart.alt, 1_000),
            "title": {"type": "plain_text", "text": cap(&u.chart.title, MAX_HEADER)},
        });
        p.blocks.push(block);
        if p.blocks.len() + 1 > MAX_BLOCKS || size(&p) > MAX_BYTES - 600 {
            p.blocks.pop();
            break;
        }
    }
    p.blocks.extend(context);
    p
}

/// A weekly review as a post: a header, the agenda's sections in order, each cut to fit.
fn weekly_post(d: &Digest, w: &crate::digest::weekly::Weekly, budget: usize) -> Post {
    let mut per = MAX_SECTION;
    loop {
        let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text",
            "text": cap(&format!("{} · weekly review, {}", d.shop, w.title), MAX_HEADER)}})];
        for (i, (title, lines)) in w.sections().iter().enumerate() {
            let body = lines
                .iter()
                .map(|l| format!("• {}", esc(l)))
                .collect::<Vec<_>>();
            blocks.push(section(
                &format!("*{}. {}*\n{}", i + 1, esc(title), body.join("\n")),
                per,
            ));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": clip(&esc(&d.footer), 2_000)}]}));
        let p = Post {
            text: cap(&w.subject, 3_000),
            blocks,
        };
        if size(&p) <= budget || per <= 200 {
            return p;
        }
        per = per * 3 / 4;
    }
}

/// The size Slack weighs: the blocks as JSON.
pub fn size(p: &Post) -> usize {
    serde_json::to_string(&p.blocks).map_or(usize::MAX, |s| s.len())
}

fn assemble(d: &Digest, told: usize, per: usize) -> Post {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text",
            "text": cap(&format!("{} · {}", d.shop, d.date_long), MAX_HEADER)}}),
        section(&format!("*{}*", esc(&d.glance.line)), per),
    ];
    let fields: Vec<Value> = d
        .headline
        .iter()
        .take(10)
        .map(|t| {
            let text = format!(
                "*{}*\n{}  {} {} {} {}",
                esc(&t.label),
                esc(&t.value),
                t.main.arrow,
                esc(&t.main.change),
                t.main.mark,
                esc(&t.main.label)
            );
            json!({"type": "mrkdwn", "text": clip(&text, MAX_FIELD)})
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "divider"}));
    blocks.extend(alerts(d, told, per));
    blocks.push(section(&news(d), per));
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": clip(&esc(&super::context(d)), per.min(2_000))}
    ]}));
    Post {
        text: cap(
            &format!("{}, {}: {}", d.shop, d.date_short, d.glance.line),
            3_000,
        ),
        blocks,
    }
}

/// The alerts: the first `told` in full, the rest (and those past the email's cap) a line
/// each, so none is left out.
fn alerts(d: &Digest, told: usize, per: usize) -> Vec<Value> {
    if d.alerts.is_empty() {
        return vec![section(
            &format!("*Alerts*\n{}", esc(&d.no_alerts_note)),
            per,
        )];
    }
    let mut out = vec![section(
        &format!("*Alerts* ({})", esc(&d.alerts_phrase)),
        per,
    )];
    for a in d.alerts.iter().take(told) {
        let mark = if a.tone == "critical" {
            "✗ Critical"
        } else {
            "! Warning"
        };
        out.push(section(
            &format!(
                "{mark}: *{}*\n{}\n*What to do:* {}",
                esc(&a.title),
                esc(&a.detail),
                esc(&a.action)
            ),
            per,
        ));
    }
    let rest: Vec<String> = d
        .alerts
        .iter()
        .skip(told)
        .map(|a| {
            let word = if a.tone == "critical" {
                "Critical"
            } else {
                "Warning"
            };
            format!("• {word}: {}", esc(&a.title))
        })
        .chain(d.more_alerts.iter().map(|m| format!("• {}", esc(m))))
        .collect();
    if !rest.is_empty() {
        out.push(section(
            &format!("*And {} more:*\n{}", rest.len(), rest.join("\n")),
            per,
        ));
    }
    out
}

fn news(d: &Digest) -> String {
    let mut lines = vec!["*What moved*".to_string()];
    for n in &d.news.items {
        let mark = match n.tone.as_str() {
            "bad" => "✗",
            "good" => "✓",
            _ => "•",
        };
        lines.push(format!("{mark} {}", esc(&n.text)));
    }
    if !d.news.quiet.is_empty() {
        lines.push(esc(&d.news.quiet));
    }
    if !d.news.revenue.is_empty() {
        lines.push(esc(&d.news.revenue));
    }
    lines.join("\n")
}

/// A section of mrkdwn, cut to `per` characters (and Slack's 3,000).
fn section(text: &str, per: usize) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, per.min(MAX_SECTION))}})
}

/// `s` in at most `max` characters, its lines kept, an ellipsis where it was cut; a cut
/// never splits an escape (`&amp;`).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = out.rfind('&')
        && !out[amp..].contains(';')
    {
        out.truncate(amp);
    }
    out.push('…');
    out
}

/// Text from the data, escaped as Slack's mrkdwn asks: `&`, `<` and `>` (a `<` starts a link
/// or a mention).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_keeps_lines_and_never_splits_an_escape() {
        assert_eq!(clip("a\nb", 10), "a\nb");
        assert_eq!(clip("ab &amp; cd", 6), "ab …");
        assert_eq!(clip("abcdef", 4).chars().count(), 4);
    }

    #[test]
    fn mrkdwn_from_the_data_cannot_mention_or_link() {
        assert_eq!(
            esc("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }
}
