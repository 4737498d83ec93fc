//! The weekly review, pure: the agenda of the meeting where marketing and operations look
//! at the same week. Its figures against the week before, the same week a year ago and the
//! plan; the key results week by week; each campaign's retrospective; returns and feedback
//! against the week before; the two weeks ahead; and the week's alerts, each cleared or open.

use super::outlook::{ForecastRow, forecast_row};
use super::*;
use crate::metrics::forecast;
use crate::metrics::inputs::{Retro, WeeklyInputs};
use crate::metrics::preflight::Confirmed;

/// Rows of returns and themes listed at most.
const LISTED: usize = 5;
/// Units sold in the week below which a product's or channel's return rate is not ranked: a
/// rate of 1 in 2 is chance.
const MIN_UNITS: f64 = 10.0;
/// Key results drawn at most, each as a small chart.
const TRENDS_DRAWN: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Weekly {
    /// "Mon 30 Nov to Sun 6 Dec 2026".
    pub title: String,
    pub subject: String,
    pub preheader: String,
    /// The sections in the meeting's order, as a line.
    pub agenda: Vec<String>,
    pub figures: Vec<FigureSection>,
    pub has_plan: bool,
    /// Metrics without a figure this week, named once.
    pub figures_note: String,
    pub key_results: Vec<KrTrend>,
    pub retros: Vec<RetroView>,
    pub retros_note: String,
    pub returns_by_product: Vec<ChangeLine>,
    pub returns_by_channel: Vec<ChangeLine>,
    pub themes: Vec<ChangeLine>,
    pub ahead: Vec<ForecastRow>,
    pub ahead_note: String,
    pub has_capacity: bool,
    pub starting: Vec<StartingView>,
    pub alerts: Vec<WeekAlert>,
    pub alerts_note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FigureSection {
    pub title: &'static str,
    pub rows: Vec<FigureRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    pub label: String,
    pub value: String,
    pub vs_week: Cell,
    pub vs_year: Cell,
    /// "104% of £165,000"; empty without a plan.
    pub plan: Cell,
}

/// A change as a table cell: its words and its tone.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub text: String,
    pub tone: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct KrTrend {
    pub objective: String,
    pub name: String,
    /// "62% of the way, 70% expected by now".
    pub pace: String,
    pub status: &'static str,
    pub tone: &'static str,
    /// Progress at the end of each week: "29 Nov 12% · 6 Dec 25%".
    pub weeks: String,
    pub chart: Option<ChartView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetroView {
    pub name: String,
    pub channel: String,
    /// "2 Dec - 11 Dec, running: 5 of 10 days".
    pub when: String,
    /// "1,050 orders, 880 expected (+19%)".
    pub orders: String,
    /// "417 above the baseline, 247 expected from the campaign".
    pub lift: String,
    pub stock: String,
    pub returns: String,
    pub spend: String,
    pub tone: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeLine {
    pub label: String,
    pub now: String,
    pub before: String,
    pub tone: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct StartingView {
    pub name: String,
    pub channel: String,
    pub dates: String,
    pub confirmed: String,
    pub tone: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeekAlert {
    pub title: String,
    /// "Tue 1 Dec to Thu 3 Dec", or the days it fired.
    pub days: String,
    /// "cleared by Fri 4 Dec" or "still open on Sun 6 Dec".
    pub state: String,
    pub tone: &'static str,
}

/// The weekly section of the digest for the week `w`, with its key results' charts. `day`
/// is the week's last day's inputs (with the key results' windows of every week end), and
/// `alerts` each day's alerts.
pub fn build(
    config: &Config,
    day: &DigestInputs,
    w: &WeeklyInputs,
    alerts: &[(NaiveDate, Vec<AlertView>)],
    hidden: &BTreeSet<String>,
    f: &Formatter,
) -> (Weekly, Vec<ChartSpec>) {
    let mut report = config.assemble_week(w.last, &w.fetched);
    // What the morning email leaves out (a source never fed, a figure never filled), so
    // does the review.
    report.metrics.retain(|m| !hidden.contains(&m.key));
    let (figures, missing) = figures(&report, f);
    let no_figures = figures.iter().all(|s| s.rows.is_empty());
    let (key_results, specs) = key_results(config, day, w, hidden, f);
    let retros: Vec<RetroView> = w.retros.iter().map(|r| retro(r, f)).collect();
    let alerts = week_alerts(alerts, w.last);
    let title = format!(
        "{} to {}",
        forecast::day_label(w.first),
        w.last.format("%a %-d %b %Y")
    );
    let revenue = report
        .get("net_revenue")
        .and_then(|m| m.comparisons.first());
    let open = alerts.iter().filter(|a| a.tone != "good").count();
    let weekly = Weekly {
        subject: subject(w, revenue, retros.len(), open, f),
        preheader: preheader(&report, f),
        agenda: vec![
            "The week's figures".into(),
            "Key results".into(),
            "Campaigns".into(),
            "Returns and feedback".into(),
            "The next two weeks".into(),
            "Alerts of the week".into(),
        ],
        has_plan: report.metrics.iter().any(|m| m.plan.is_some()),
        figures,
        figures_note: match missing.len() {
            _ if no_figures => {
                "No figures for the week: no data for it yet.".to_string()
            }
            0 => String::new(),
            _ => format!("No figure this week: {}.", missing.join(", ")),
        },
        key_results,
        retros_note: match retros.len() {
            0 => "No campaign ran this week.".into(),
            _ => "Expected: the forecast made the day before each campaign started, with its lift; the baseline is the same forecast without it.".into(),
        },
        retros,
        returns_by_product: rates(w, "return_rate_by_product", day, f),
        returns_by_channel: rates(w, "return_rate_by_channel", day, f),
        themes: themes(w, f),
        ahead: w
            .ahead
            .iter()
            .map(|a| forecast_row(a, config, &w.capacity_plan, f))
            .collect(),
        ahead_note: if w.ahead.is_empty() {
            "No expected orders: too little order history to forecast.".into()
        } else {
            String::new()
        },
        has_capacity: !w.capacity_plan.is_empty(),
        starting: starting(w, f),
        alerts_note: match alerts.len() {
            0 => "No alert fired this week.".into(),
            _ => String::new(),
        },
        alerts,
        title,
    };
    (weekly, specs)
}

fn cell(text: String, v: Verdict) -> Cell {
    Cell {
        text,
        tone: tone(v),
    }
}

/// The week's metrics by team, and the labels of those without a figure.
fn figures(report: &MetricsReport, f: &Formatter) -> (Vec<FigureSection>, Vec<String>) {
    let mut missing = Vec::new();
    let mut sections = vec![
        FigureSection {
            title: "Marketing",
            rows: Vec::new(),
        },
        FigureSection {
            title: "Operations",
            rows: Vec::new(),
        },
    ];
    for m in report.metrics.iter().filter(|m| m.breakdown.is_empty()) {
        let (Some(week), Some(year)) = (m.comparisons.first(), m.comparisons.get(1)) else {
            continue;
        };
        if week.current.get().is_none() {
            missing.push(m.label.clone());
            continue;
        }
        let change =
            |c: &Comparison| format!("{} {}", f.change(m.unit, c), Formatter::mark(c.verdict));
        let plan = m.plan.as_ref().map_or(
            Cell {
                text: String::new(),
                tone: "neutral",
            },
            |p| {
                cell(
                    format!(
                        "{} of {}",
                        p.attained
                            .map_or("n/a".into(), |a| f.amount(Unit::Percent, a)),
                        f.amount(m.unit, p.target)
                    ),
                    p.verdict,
                )
            },
        );
        let row = FigureRow {
            label: cap(&m.label, text::LABEL),
            value: f.value(m.unit, week.current),
            vs_week: cell(change(week), week.verdict),
            vs_year: cell(change(year), year.verdict),
            plan,
        };
        let i = usize::from(matches!(m.team, Team::Operations | Team::Merchandising));
        sections[i].rows.push(row);
    }
    (sections, missing)
}

/// Each key result's progress at the end of every week of its cycle so far.
fn key_results(
    config: &Config,
    day: &DigestInputs,
    w: &WeeklyInputs,
    hidden: &BTreeSet<String>,
    f: &Formatter,
) -> (Vec<KrTrend>, Vec<ChartSpec>) {
    let mut out = Vec::new();
    let mut specs = Vec::new();
    for o in &config.objectives {
        let cycle = o.cycle.bounds(w.last);
        for kr in &o.key_results {
            let Some(metric) = config.catalog.get(&kr.metric) else {
                continue;
            };
            if hidden.contains(&kr.metric) {
                continue;
            }
            let weeks: Vec<NaiveDate> = w
                .week_ends
                .iter()
                .copied()
                .filter(|e| *e >= cycle.0)
                .collect();
            let at: Vec<okr::KrStatus> = weeks
                .iter()
                .map(|e| objectives::key_result_status(config, cycle, *e, day, kr, metric))
                .collect();
            let Some(now) = at.last() else { continue };
            let pct = |p: Option<f64>| p.map_or("n/a".to_string(), |p| f.amount(Unit::Percent, p));
            let chart = (out.len() < TRENDS_DRAWN && at.len() >= 2).then(|| {
                let id = format!("kr_trend_{}", out.len() + 1);
                let s = charts::trend_spark(&id, &metric.label, &weeks, &at, f);
                let view = s.view.clone();
                specs.push(s);
                view
            });
            out.push(KrTrend {
                objective: cap(&o.title, text::LABEL),
                name: cap(
                    if kr.title.is_empty() {
                        &metric.label
                    } else {
                        &kr.title
                    },
                    text::LABEL,
                ),
                pace: format!(
                    "{} of the way, {} expected by now",
                    pct(now.progress),
                    f.amount(Unit::Percent, now.expected)
                ),
                status: now.status.label(),
                tone: status_tone(now.status),
                // The last six in words; the chart has them all.
                weeks: weeks
                    .iter()
                    .zip(&at)
                    .skip(weeks.len().saturating_sub(6))
                    .map(|(e, s)| format!("{} {}", e.format("%-d %b"), pct(s.progress)))
                    .collect::<Vec<_>>()
                    .join(" · "),
                chart,
            });
        }
    }
    (out, specs)
}

/// A campaign's orders against the forecast made before it, and against its baseline;
/// good when it brought what was expected.
fn expectation(r: &Retro, days: i64, f: &Formatter) -> (String, String, &'static str) {
    let count = |v: f64| f.amount(Unit::Count, v.round());
    match (r.expected, r.baseline) {
        (Some(e), Some(b)) => {
            let vs = if e > 0.0 {
                format!(" ({:+.0}%)", (r.orders / e - 1.0) * 100.0)
            } else {
                String::new()
            };
            let short = r.unforecast > 0;
            (
                format!(
                    "{} orders, {} expected{vs}{}",
                    count(r.orders),
                    count(e),
                    if short {
                        format!(" over its first {} days", days - r.unforecast)
                    } else {
                        String::new()
                    }
                ),
                format!(
                    "{} above the baseline of {}; {} expected from the campaign",
                    count(r.orders - b),
                    count(b),
                    count(e - b)
                ),
                if r.orders >= e { "good" } else { "bad" },
            )
        }
        _ => (
            format!(
                "{} orders; no forecast from before it started",
                count(r.orders)
            ),
            String::new(),
            "neutral",
        ),
    }
}

fn retro(r: &Retro, f: &Formatter) -> RetroView {
    let days = (r.through - r.start).num_days() + 1;
    let total = (r.end - r.start).num_days() + 1;
    let when = if r.through < r.end {
        format!("{}, running: {days} of {total} days", span(r.start, r.end))
    } else {
        format!(
            "{}, ended {}",
            span(r.start, r.end),
            forecast::day_label(r.end)
        )
    };
    let (orders, lift, tone) = expectation(r, days, f);
    let rate = |ret: f64, sold: f64| {
        if sold > 0.0 {
            f.amount(Unit::Percent, ret / sold)
        } else {
            "n/a".into()
        }
    };
    RetroView {
        name: cap(&r.campaign, text::LABEL),
        channel: alerts::channel_words(&r.channel),
        when,
        orders,
        lift,
        stock: match (r.skus, r.sku_days_out) {
            (0, _) => "no promoted SKUs".into(),
            (n, 0) => format!("none of its {n} promoted SKUs out of stock"),
            (n, d) => format!("{d} SKU-days out of stock across its {n} promoted SKUs"),
        },
        returns: format!(
            "returns so far {} of the units of its channel's orders, {} across the shop's",
            rate(r.returned, r.units),
            rate(r.shop_returned, r.shop_units)
        ),
        spend: if r.spend > 0.0 {
            format!(
                "{} ad spend, ROAS {}",
                f.amount(Unit::Money, r.spend),
                f.amount(Unit::Ratio, r.revenue / r.spend)
            )
        } else {
            "no ad spend recorded under its name".into()
        },
        tone,
    }
}

/// A breakdown's rate this week against the week before, by units returned, the values with
/// enough units sold.
fn rates(w: &WeeklyInputs, key: &str, day: &DigestInputs, f: &Formatter) -> Vec<ChangeLine> {
    let Some(by) = w.fetched.get(key) else {
        return Vec::new();
    };
    let week = Period::range(w.first, w.last);
    let before = Period::range(w.first - Days::new(7), w.last - Days::new(7));
    let sum = |s: &Series, p: &Period| {
        p.days
            .iter()
            .filter_map(|d| s.days.get(d))
            .fold((0.0, 0.0), |(n, d), r| (n + r.num, d + r.den))
    };
    let mut rows: Vec<(f64, ChangeLine)> = by
        .iter()
        .filter_map(|(dim, s)| {
            let dim = dim.as_ref()?;
            let (ret, sold) = sum(s, &week);
            let (ret0, sold0) = sum(s, &before);
            (sold >= MIN_UNITS && ret > 0.0).then(|| {
                // A SKU with its product's name; a channel as the email words it.
                let label = match day.product_names.get(dim) {
                    Some(n) => format!("{dim} {n}"),
                    None if key.ends_with("_by_channel") => alerts::channel_words(dim),
                    None => dim.clone(),
                };
                let now = ret / sold;
                let was = (sold0 > 0.0).then(|| ret0 / sold0);
                let line = ChangeLine {
                    label: cap(&label, text::NAME),
                    now: format!("{} ({} of {})", f.amount(Unit::Percent, now), ret, sold),
                    before: was.map_or("n/a".into(), |v| f.amount(Unit::Percent, v)),
                    tone: match was {
                        Some(v) if now > v => "bad",
                        Some(_) => "good",
                        None => "neutral",
                    },
                };
                (ret, line)
            })
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
    rows.into_iter().take(LISTED).map(|(_, l)| l).collect()
}

/// Negative feedback by theme, this week against the week before.
fn themes(w: &WeeklyInputs, f: &Formatter) -> Vec<ChangeLine> {
    let report = w.fetched.get("negative_feedback_by_theme");
    let week = Period::range(w.first, w.last);
    let before = Period::range(w.first - Days::new(7), w.last - Days::new(7));
    let total = |s: &Series, p: &Period| -> f64 {
        p.days
            .iter()
            .filter_map(|d| s.days.get(d))
            .map(|r| r.num)
            .sum()
    };
    let mut rows: Vec<(f64, ChangeLine)> = report
        .into_iter()
        .flatten()
        .filter_map(|(dim, s)| {
            let dim = dim.as_ref()?;
            let (now, was) = (total(s, &week), total(s, &before));
            (now > 0.0 || was > 0.0).then(|| {
                let line = ChangeLine {
                    label: cap(dim, text::THEME),
                    now: f.amount(Unit::Count, now),
                    before: f.amount(Unit::Count, was),
                    tone: if now > was {
                        "bad"
                    } else if now < was {
                        "good"
                    } else {
                        "neutral"
                    },
                };
                (now, line)
            })
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
    rows.into_iter().take(LISTED).map(|(_, l)| l).collect()
}

fn starting(w: &WeeklyInputs, f: &Formatter) -> Vec<StartingView> {
    w.starting
        .iter()
        .map(|s| {
            let p = &s.promotion;
            let (confirmed, tone) = match &s.confirmed {
                Confirmed::Yes(note) => (
                    format!("✓ confirmed by operations: {}", cap(note, text::LABEL)),
                    "good",
                ),
                Confirmed::Before => ("✗ not confirmed since its plan changed".into(), "bad"),
                Confirmed::No => ("✗ not confirmed by operations".into(), "bad"),
            };
            // The pre-flight's verdict first: what the meeting must settle.
            let (confirmed, tone) = match &s.check {
                c if !c.ready => (
                    format!(
                        "{} {confirmed}",
                        preflight::view(c, f)
                            .verdict
                            .replacen("Not ready", "✗ Not ready", 1)
                    ),
                    "bad",
                ),
                _ => (format!("✓ Ready; {confirmed}"), tone),
            };
            StartingView {
                name: cap(&p.campaign, text::LABEL),
                channel: alerts::channel_words(&p.channel),
                dates: format!(
                    "{} to {}",
                    forecast::day_label(p.start),
                    forecast::day_label(p.end)
                ),
                confirmed,
                tone,
            }
        })
        .collect()
}

/// The alerts of the week's days, each once: the days it fired, and whether it still did
/// on the last day. An alert is the same one from day to day by its kind and subject.
fn week_alerts(days: &[(NaiveDate, Vec<AlertView>)], last: NaiveDate) -> Vec<WeekAlert> {
    let family = |a: &AlertView| {
        let k = match a.kind {
            AlertKind::OutOfStock | AlertKind::LowCover => "stock",
            // Orders near capacity is one story from day to day, whichever day it is about.
            AlertKind::Capacity | AlertKind::CapacityAhead => return "capacity".to_string(),
            AlertKind::Rule => "rule",
        };
        format!("{k}:{}", a.subject)
    };
    let mut seen: Vec<(String, Vec<NaiveDate>, AlertView)> = Vec::new();
    for (d, alerts) in days {
        for a in alerts {
            let key = family(a);
            match seen.iter_mut().find(|s| s.0 == key) {
                Some(s) => {
                    s.1.push(*d);
                    s.2 = a.clone();
                }
                None => seen.push((key, vec![*d], a.clone())),
            }
        }
    }
    seen.into_iter()
        .filter_map(|(_, on, a)| {
            let (&first, &end) = (on.first()?, on.last()?);
            let run = (end - first).num_days() + 1 == on.len() as i64;
            let days = match (on.len(), run) {
                (1, _) => forecast::day_label(first),
                (_, true) => format!(
                    "{} to {}",
                    forecast::day_label(first),
                    forecast::day_label(end)
                ),
                _ => on
                    .iter()
                    .map(|d| forecast::day_label(*d))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let open = end == last;
            Some(WeekAlert {
                // The morning's "yesterday" is a day of the week here, named in `days`.
                title: a.title.trim_end_matches(" yesterday").to_string(),
                days,
                state: if open {
                    format!("still open on {}", forecast::day_label(last))
                } else {
                    format!("cleared by {}", forecast::day_label(end + Days::new(1)))
                },
                tone: if open { a.tone } else { "good" },
            })
        })
        .collect()
}

fn subject(
    w: &WeeklyInputs,
    revenue: Option<&Comparison>,
    campaigns: usize,
    open: usize,
    f: &Formatter,
) -> String {
    let revenue = revenue
        .and_then(|c| {
            let v = c.current.get()?;
            Some(format!(
                "revenue {} {} · ",
                f.compact_money(v),
                c.rel_change
                    .map_or("".into(), |r| format!("{:+.0}%", r * 100.0))
            ))
        })
        .unwrap_or_default();
    let open = match open {
        0 => "no alert open".to_string(),
        1 => "1 alert open".to_string(),
        n => format!("{n} alerts open"),
    };
    format!(
        "Week to {}: {revenue}{campaigns} campaign{} · {open}",
        forecast::day_label(w.last),
        if campaigns == 1 { "" } else { "s" }
    )
}

fn preheader(report: &MetricsReport, f: &Formatter) -> String {
    ["orders", "conversion_rate", "return_rate"]
        .iter()
        .filter_map(|k| {
            let m = report.get(k)?;
            let c = m.comparisons.first()?;
            Some(format!(
                "{} {} ({} vs week before)",
                m.label,
                f.value(m.unit, c.current),
                f.change(m.unit, c)
            ))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

impl Weekly {
    /// The review as plain-text sections, a title and its lines each, in the agenda's order:
    /// what a chat post shows.
    pub fn sections(&self) -> Vec<(String, Vec<String>)> {
        let mut figures = Vec::new();
        for s in &self.figures {
            for r in &s.rows {
                let plan = if r.plan.text.is_empty() {
                    String::new()
                } else {
                    format!(", vs plan {}", r.plan.text)
                };
                figures.push(format!(
                    "{}: {} (vs week before {}, vs last year {}{plan})",
                    r.label, r.value, r.vs_week.text, r.vs_year.text
                ));
            }
        }
        let krs = self
            .key_results
            .iter()
            .map(|k| format!("{} ({}): {}", k.name, k.status, k.pace))
            .collect();
        let mut retros: Vec<String> = self
            .retros
            .iter()
            .map(|c| {
                format!(
                    "{}, {}, {}: {}. {}; {}; {}.",
                    c.name, c.channel, c.when, c.orders, c.stock, c.returns, c.spend
                )
            })
            .collect();
        if self.retros.is_empty() {
            retros.push(self.retros_note.clone());
        }
        let change = |l: &ChangeLine| format!("{}: {}, was {}", l.label, l.now, l.before);
        let returns = self
            .returns_by_product
            .iter()
            .chain(&self.returns_by_channel)
            .map(change)
            .chain(
                self.themes
                    .iter()
                    .map(|l| format!("Feedback, {}", change(l))),
            )
            .collect();
        let mut ahead: Vec<String> = self
            .starting
            .iter()
            .map(|c| format!("{}, {}, {}: {}", c.name, c.channel, c.dates, c.confirmed))
            .collect();
        ahead.extend(self.ahead.iter().filter(|r| r.tone == "bad").map(|r| {
            format!(
                "✗ {}: {} orders expected ({}), capacity {}",
                r.day, r.expected, r.range, r.capacity
            )
        }));
        let mut alerts: Vec<String> = self
            .alerts
            .iter()
            .map(|a| {
                let mark = if a.tone == "good" { "✓" } else { "✗" };
                format!("{mark} {}: {}; {}", a.title, a.days, a.state)
            })
            .collect();
        if alerts.is_empty() {
            alerts.push(self.alerts_note.clone());
        }
        self.agenda
            .iter()
            .cloned()
            .zip([figures, krs, retros, returns, ahead, alerts])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn alert(kind: AlertKind, subject: &str, title: &str) -> AlertView {
        AlertView {
            kind,
            severity: Severity::Warning,
            tone: "warning",
            title: title.into(),
            short: String::new(),
            metric: None,
            detail: String::new(),
            action: String::new(),
            day: None,
            plan: String::new(),
            subject: subject.into(),
        }
    }

    #[test]
    fn an_alert_of_the_week_is_told_once_with_its_days_and_whether_it_cleared() {
        let low = |t: &str| alert(AlertKind::LowCover, "KNT-003", t);
        let cap = |t: &str| alert(AlertKind::Capacity, "2026-12-0x", t);
        let days = vec![
            (d("2026-11-30"), vec![low("KNT-003: 6 days of cover")]),
            (d("2026-12-01"), vec![low("KNT-003: 5 days of cover")]),
            (
                d("2026-12-02"),
                vec![cap("Orders at 92% of capacity yesterday")],
            ),
            (d("2026-12-03"), vec![]),
            (
                d("2026-12-04"),
                vec![cap("Orders at 95% of capacity yesterday")],
            ),
            (d("2026-12-05"), vec![]),
            (
                d("2026-12-06"),
                vec![alert(
                    AlertKind::OutOfStock,
                    "KNT-003",
                    "KNT-003: out of stock",
                )],
            ),
        ];
        let out = week_alerts(&days, d("2026-12-06"));
        let told: Vec<(&str, &str, &str)> = out
            .iter()
            .map(|a| (a.title.as_str(), a.days.as_str(), a.state.as_str()))
            .collect();
        assert_eq!(
            told,
            [
                // Low cover, then out of stock: one story about the SKU, still open.
                (
                    "KNT-003: out of stock",
                    "Mon 30 Nov, Tue 1 Dec, Sun 6 Dec",
                    "still open on Sun 6 Dec"
                ),
                (
                    "Orders at 95% of capacity",
                    "Wed 2 Dec, Fri 4 Dec",
                    "cleared by Sat 5 Dec"
                ),
            ]
        );
        assert_eq!(out[1].tone, "good");
    }
}
