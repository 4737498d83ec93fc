//! "What moved": the news verdicts of `crate::metrics::news` in sentences, for the top of the email
//! and its subject.

use chrono::NaiveDate;
use serde::Serialize;

use crate::config::Config;
use crate::digest::format::Formatter;
use crate::metrics::inputs::DigestInputs;
use crate::metrics::metric::{Direction, MetricDef, Unit};
use crate::metrics::news::{self, Extreme, Factor, Judgement};
use crate::metrics::report::MetricsReport;
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
    /// The parts a story is told from: the label ("Sessions by channel"), the breakdown
    /// value ("paid_social"), the figure, its usual range, and which way it moved.
    #[serde(skip)]
    pub label: String,
    #[serde(skip)]
    pub dim: Option<String>,
    #[serde(skip)]
    pub value: String,
    #[serde(skip)]
    pub usual: String,
    #[serde(skip)]
    pub up: bool,
    /// The metrics the item tells of: its own, or each of a story's.
    #[serde(skip)]
    pub members: Vec<String>,
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
        // A breakdown of one value (every order through one channel) is its total again:
        // only the total can be news.
        let values = by_dim.keys().filter(|k| k.is_some()).count();
        for (dim, series) in by_dim.iter().take(50) {
            if dim.is_some() && values < 2 {
                continue;
            }
            let settings = match dim {
                Some(_) => config.news.for_breakdown(),
                None => config.news.clone(),
            };
            let j = news::judge(m, series, d, &settings, &inputs.calendar);
            if j.z().is_some() {
                judged += 1;
            }
            if j.is_unusual() {
                items.push(item(m, dim.as_deref(), &j, &weekday, settings.threshold, f));
            }
        }
    }
    let flagged = items.iter().map(|i| i.metric.clone()).collect();
    if let Some(big) = inputs.big_order.as_ref().filter(|b| b.dominates()) {
        items = one_order(items, big, config, f);
    }
    let mut items = super::stories::stories(items, &inputs.promotions, d);
    items.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.text.cmp(&b.text)));
    items.truncate(SHOWN);
    let quiet = if let Some(why) = inputs.calendar.why_closed(d) {
        format!(
            "No news for a day the shop was {why} ({}).",
            d.format("%A %-d %b")
        )
    } else if !items.is_empty() {
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

/// The range the verdict used: the median give or take `threshold` spreads, never below 0
/// for a figure whose history never was. A value called unusual is outside it by
/// construction, so the email never calls a value unusual beside a range that holds it.
fn usual_range(
    b: &news::Baseline,
    unit: Unit,
    threshold: f64,
    amount: impl Fn(f64) -> String,
) -> String {
    let reach = threshold * b.spread;
    let (mut low, mut high) = (b.median - reach, b.median + reach);
    if b.min >= 0.0 {
        low = low.max(0.0);
    }
    // A rate whose history never passed 100% is not usual above it.
    if unit == Unit::Percent && b.max <= 1.0 {
        high = high.min(1.0);
    }
    // Whole things (orders, units) are counted whole: the band widened to whole numbers
    // still leaves an unusual value outside it.
    if unit == Unit::Count {
        (low, high) = (low.ceil(), high.floor());
    }
    let (low, high) = (amount(low), amount(high));
    if low == high {
        low
    } else {
        format!("{low}–{high}")
    }
}

fn item(
    m: &MetricDef,
    dim: Option<&str>,
    j: &Judgement,
    weekday: &str,
    threshold: f64,
    f: &Formatter,
) -> NewsItem {
    let b = j.baseline.as_ref().expect("a verdict has a baseline");
    let value = j.value.expect("a verdict has a value");
    let z = j.z().unwrap_or(0.0);
    let label = match dim {
        Some(d) => format!("{}, {}", m.label, cap(&d.replace('_', " "), text::LABEL)),
        None => m.label.clone(),
    };
    let amount = |v: f64| f.amount(m.unit, v);
    let usual = usual_range(b, m.unit, threshold, amount);
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
        label: m.label.clone(),
        dim: dim.map(str::to_string),
        value: amount(value),
        usual,
        up: z > 0.0,
        members: vec![m.key.clone()],
    }
}

/// Figures that follow the day's sales, and so move with one large order.
const FOLLOW_SALES: [&str; 5] = ["net_revenue", "units", "aov", "roas", "refunds"];

/// The news of figures one order moved, told as that order's: "One order moved the day:
/// #1234, £77,184 (1,200 units, 93% of the day's sales), refunded the same day; it moves
/// net revenue, average order value and units."
fn one_order(
    items: Vec<NewsItem>,
    big: &news::BigOrder,
    config: &Config,
    f: &Formatter,
) -> Vec<NewsItem> {
    let (moved, mut rest): (Vec<NewsItem>, Vec<NewsItem>) = items
        .into_iter()
        .partition(|i| FOLLOW_SALES.contains(&i.metric.as_str()));
    if moved.is_empty() {
        return rest;
    }
    let labels: Vec<String> = moved
        .iter()
        .filter_map(|i| config.catalog.get(&i.metric))
        .map(|m| m.label.to_lowercase())
        .collect();
    let labels = match labels.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, first)) => format!("{} and {last}", first.join(", ")),
        None => String::new(),
    };
    let value = f.amount(Unit::Money, big.value);
    let share = if big.day_value > 0.0 {
        format!(
            ", {} of the day's sales",
            f.amount(Unit::Percent, big.value / big.day_value)
        )
    } else {
        String::new()
    };
    let refund = if big.refunded_same_day >= big.value * 0.99 {
        ", refunded the same day".to_string()
    } else if big.refunded_same_day > 0.0 {
        format!(
            ", {} of it refunded the same day",
            f.amount(Unit::Money, big.refunded_same_day)
        )
    } else {
        String::new()
    };
    let id = cap(&big.order_id, text::NAME);
    rest.push(NewsItem {
        text: format!(
            "One order moved the day: {id}, {value} ({} units{share}){refund}; it moves {labels}.",
            f.amount(Unit::Count, big.units)
        ),
        short: format!("One order of {value}{refund}"),
        tone: "neutral".into(),
        metric: moved[0].metric.clone(),
        score: moved.iter().map(|i| i.score).fold(0.0, f64::max),
        label: String::new(),
        dim: None,
        value,
        usual: String::new(),
        up: true,
        members: moved.iter().map(|i| i.metric.clone()).collect(),
    });
    rest
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

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(median: f64, spread: f64, min: f64, max: f64) -> news::Baseline {
        news::Baseline {
            days: Vec::new(),
            median,
            spread,
            min,
            max,
        }
    }

    #[test]
    fn the_usual_range_is_the_one_the_verdict_used() {
        let amount = |v: f64| format!("{v:.1}");
        // 1,000 give or take 3 × 100; the history (900-1,100) is narrower than the band.
        let b = baseline(1000.0, 100.0, 900.0, 1100.0);
        assert_eq!(usual_range(&b, Unit::Money, 3.0, amount), "700.0–1300.0");
        // Never below 0 for a figure that never was.
        let b = baseline(50.0, 30.0, 10.0, 90.0);
        assert_eq!(usual_range(&b, Unit::Money, 3.0, amount), "0.0–140.0");
        // Counts whole: 10.5 ± 3.6 is 6.9-14.1, so 7-14; an unusual 6 or 15 is outside.
        let b = baseline(10.5, 1.2, 8.0, 13.0);
        assert_eq!(usual_range(&b, Unit::Count, 3.0, amount), "7.0–14.0");
        // A rate never above 100% is not usual above it.
        let b = baseline(0.97, 0.02, 0.94, 1.0);
        assert_eq!(usual_range(&b, Unit::Percent, 3.0, amount), "0.9–1.0");
        // One value when both ends print alike.
        let b = baseline(5.0, 0.001, 5.0, 5.0);
        assert_eq!(usual_range(&b, Unit::Money, 3.0, amount), "5.0");
    }
}
