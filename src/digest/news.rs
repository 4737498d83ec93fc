//! "What moved": the news verdicts of `crate::metrics::news` in sentences, for the top of the email
//! and its subject.

use chrono::NaiveDate;
use serde::Serialize;

use crate::config::Config;
use crate::digest::format::Formatter;
use crate::metrics::metric::{Direction, MetricDef, Unit};
use crate::metrics::news::{self, Extreme, Factor, Judgement};
use crate::store::gather::DigestInputs;
use crate::store::report::MetricsReport;
use crate::text::{self, cap};

/// At most this many unusual changes lead the email.
const SHOWN: usize = 5;

/// One unusual change, worded.
#[derive(Debug, Clone, Serialize)]
pub struct NewsItem {
    /// "On-time delivery: lowest Monday in 8 weeks (usual 97.0–100.0%)".
    pub text: String,
    /// The subject's short form: "On-time delivery 64.4% (usual 98.9%)".
    pub short: String,
    /// good, bad or neutral, by the metric's direction.
    pub tone: String,
    pub metric: String,
    #[serde(skip)]
    pub score: f64,
}

/// The news section: unusual changes (most unusual first), why revenue moved, and the
/// line for a quiet day or for too little history.
#[derive(Debug, Clone, Default, Serialize)]
pub struct News {
    /// The most unusual changes, at most five.
    pub items: Vec<NewsItem>,
    /// Every metric with an unusual change, most unusual first (the items are its head).
    pub flagged: Vec<String>,
    pub revenue: String,
    pub quiet: String,
}

/// The headline metrics count double when ranking what leads, one value of a breakdown
/// (a channel's sessions) half.
fn weight(key: &str, dim: Option<&str>) -> f64 {
    if dim.is_some() {
        0.5
    } else if super::HEADLINE.contains(&key) {
        2.0
    } else {
        1.0
    }
}

pub(super) fn build(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    report: &MetricsReport,
    f: &Formatter,
) -> News {
    let weekday = d.format("%A").to_string();
    let mut items = Vec::new();
    let mut judged = 0;
    for m in config
        .catalog
        .iter()
        .filter(|m| report.get(&m.key).is_some())
    {
        let Some(by_dim) = inputs.fetched.get(&m.key) else {
            continue;
        };
        for (dim, series) in by_dim.iter().take(50) {
            let j = news::judge(m, series, d, &config.news);
            if j.z().is_some() {
                judged += 1;
            }
            if j.is_unusual() {
                items.push(item(m, dim.as_deref(), &j, &weekday, f));
            }
        }
    }
    items.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.text.cmp(&b.text)));
    let flagged = items.iter().map(|i| i.metric.clone()).collect();
    items.truncate(SHOWN);
    let quiet = if !items.is_empty() {
        String::new()
    } else if judged == 0 {
        format!(
            "Too little history to tell what is unusual: a verdict needs {} earlier {}s with data.",
            news::MIN_WEEKS,
            weekday
        )
    } else {
        format!("Nothing unusual: every metric within its usual range for a {weekday}.")
    };
    News {
        items,
        flagged,
        revenue: revenue_line(d, report, f),
        quiet,
    }
}

fn item(m: &MetricDef, dim: Option<&str>, j: &Judgement, weekday: &str, f: &Formatter) -> NewsItem {
    let b = j.baseline.as_ref().expect("a verdict has a baseline");
    let value = j.value.expect("a verdict has a value");
    let z = j.z().unwrap_or(0.0);
    let label = match dim {
        Some(d) => format!("{}, {}", m.label, cap(&d.replace('_', " "), text::LABEL)),
        None => m.label.clone(),
    };
    let amount = |v: f64| f.amount(m.unit, v);
    let usual = if (b.max - b.min).abs() < f64::EPSILON {
        amount(b.min)
    } else {
        format!("{}–{}", amount(b.min), amount(b.max))
    };
    let how = match j.extreme() {
        Some(Extreme::Lowest) => format!("lowest {weekday} in {} weeks", b.days.len()),
        Some(Extreme::Highest) => format!("highest {weekday} in {} weeks", b.days.len()),
        None if z < 0.0 => format!("unusually low for a {weekday}"),
        None => format!("unusually high for a {weekday}"),
    };
    let tone = match m.direction {
        Direction::Neutral => "neutral",
        Direction::HigherIsBetter if z > 0.0 => "good",
        Direction::LowerIsBetter if z < 0.0 => "good",
        _ => "bad",
    };
    NewsItem {
        // The figure itself is in its tile or row below: the sentence says how unusual it
        // is, so that no number is printed twice.
        text: format!("{label}: {how} (usual {usual})"),
        short: format!("{label} {} (usual {})", amount(value), amount(b.median)),
        tone: tone.into(),
        metric: m.key.clone(),
        score: z.abs() * weight(&m.key, dim),
    }
}

/// "Revenue +$7,438 vs last Mon: sessions +$9,800 (paid social +1,400 sessions),
/// conversion −$600, basket size −$1,760".
/// The split is the report's own `explain`, worked out once in `report::assemble`.
fn revenue_line(d: NaiveDate, report: &MetricsReport, f: &Formatter) -> String {
    let Some(split) = &report.explain else {
        return String::new();
    };
    let signed = |v: f64| {
        let a = f.amount(Unit::Money, v.abs());
        if f.amount(Unit::Money, 0.0) == a {
            format!("±{a}")
        } else if v < 0.0 {
            format!("−{a}")
        } else {
            format!("+{a}")
        }
    };
    let parts: Vec<String> = split
        .parts
        .iter()
        .map(|p| {
            let (factor, v) = (&p.factor, &p.amount);
            let name = match factor {
                Factor::Sessions => "sessions",
                Factor::Conversion => "conversion",
                Factor::BasketSize => "basket size",
                Factor::Orders => "orders",
            };
            let top = split.channels.first();
            let n = |v: f64| {
                format!(
                    "{}{}",
                    if v < 0.0 { "−" } else { "+" },
                    f.amount(Unit::Count, v.abs())
                )
            };
            match (factor, top) {
                (Factor::Sessions, Some(c)) if c.sessions.is_some_and(|s| s != 0.0) => format!(
                    "{name} {} ({} {} sessions{})",
                    signed(*v),
                    cap(&c.channel.replace('_', " "), text::LABEL),
                    n(c.sessions.unwrap_or(0.0)),
                    c.orders
                        .filter(|o| *o != 0.0)
                        .map_or(String::new(), |o| format!(", {} orders", n(o)))
                ),
                (Factor::Orders, Some(c)) if c.orders.is_some_and(|o| o != 0.0) => format!(
                    "{name} {} ({} {} orders)",
                    signed(*v),
                    cap(&c.channel.replace('_', " "), text::LABEL),
                    n(c.orders.unwrap_or(0.0))
                ),
                _ => format!("{name} {}", signed(*v)),
            }
        })
        .collect();
    format!(
        "Revenue {} vs last {}: {}.",
        signed(split.change),
        d.format("%a"),
        parts.join(", ")
    )
}
