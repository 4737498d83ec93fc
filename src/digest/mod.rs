//! The digest: everything the morning email shows, as one serializable value.
//!
//! Pure: built from [`DigestInputs`], the config, the report date and the generation time.
//! Every number is formatted here, so the templates only place text; they compute nothing.
//! Its parts: `news` (what moved), `alerts` (stock, capacity and rules, worded),
//! `coverage` (what the data covers, and what is left out for it), `charts`, and `format`
//! (numbers for people; the `metrics` command prints with it too).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use crate::chart::{
    self, Axis, AxisUnit, ChartKind, Line, LineStyle, ProgressChart, ProgressRow, TimeChart,
    palette,
};
use crate::config::{Config, Lead};
use crate::digest::format::Formatter;
use crate::metrics::alert::{self, Alert, AlertKind, Severity};
use crate::metrics::compare::{Comparison, Series, Value, Verdict};
use crate::metrics::forecast::DayForecast;
use crate::metrics::inputs::{CHART_DAYS, DigestInputs, SourceSync};
use crate::metrics::metric::{Team, Unit};
use crate::metrics::okr::{self, Status};
use crate::metrics::period::{ComparisonKind, Period};
use crate::metrics::report::{MetricResult, MetricsReport};
mod alerts;
mod charts;
mod coverage;
pub mod format;
mod glance;
mod news;
mod objectives;
mod outlook;
pub mod preflight;
pub mod revisions;
mod stories;
mod tables;
pub mod triage;
pub mod weekly;

use crate::text::{self, cap};
use alerts::{build_alerts, lead_time_note, no_alerts_note};
pub use charts::draw_charts;
use charts::{charts, kr_chart};
use coverage::{
    column_name, footer, freshness, hidden_metrics, never_filled, sync_note, unavailable_note,
    valueless_metrics, without, zones_note,
};
pub use glance::Glance;
use objectives::{KrChartRow, build_objectives, status_tone};
use tables::{Ctx, channels, funnel, out_of_stock, returns_by_channel, sections, top_returns};

/// The four numbers both teams read first.
pub const HEADLINE: [&str; 4] = ["net_revenue", "orders", "conversion_rate", "aov"];
/// Where a headline metric is not shown (its source never had data), the next of these
/// takes its place, so the headline keeps four tiles.
const HEADLINE_SPARE: [&str; 3] = ["units", "new_customers", "repeat_purchase_rate"];
const MARKETING: [&str; 9] = [
    "sessions",
    "conversion_rate",
    "add_to_cart_rate",
    "cart_abandonment_rate",
    "new_customers",
    "repeat_purchase_rate",
    "ad_spend",
    "roas",
    "cac",
];
const OPERATIONS: [&str; 11] = [
    "capacity_utilisation",
    "fulfilment_hours",
    "shipped_within_24h",
    "on_time_delivery",
    "return_rate",
    "refunds",
    "units",
    "skus_out_of_stock",
    "promo_sell_through",
    "gross_margin",
    "discount_rate",
];

#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub shop: String,
    pub date: NaiveDate,
    /// "Saturday 21 November 2026".
    pub date_long: String,
    /// "Sat 21 Nov".
    pub date_short: String,
    pub weekday_short: String,
    pub timezone: String,
    /// "22 Nov 2026 06:00 GMT".
    pub generated_at: String,
    /// Where this day's report reads in a browser (`[email] view_url`); empty without one.
    pub view_url: String,
    /// The hidden first line email clients show beside the subject.
    pub preheader: String,
    /// Pieces of the subject line.
    pub subject: Subject,
    pub freshness: Vec<Freshness>,
    /// Sources whose data stops before the report date, as a sentence; empty when all are fresh.
    pub stale_note: String,
    /// Days already mailed whose figures changed since, said once.
    pub revisions: revisions::Revisions,
    /// The foot of the email, one line unless a source is behind.
    pub footer: String,
    /// Sources with no data at all, or none in the two weeks before, as a quiet sentence for
    /// the foot of the email; empty when every source has recent data.
    pub absent_note: String,
    /// What moved: unusual changes, why revenue moved, or that nothing is unusual.
    pub news: news::News,
    /// Coming up: the campaign calendar and the orders expected against capacity.
    pub outlook: outlook::Outlook,
    /// The sections after the news, in the order this copy shows them: `tiles`, `outlook`,
    /// `objectives`, `marketing`, `operations`, `feedback`.
    pub order: Vec<&'static str>,
    /// The team whose section leads this copy ("marketing"), or empty for the common one.
    pub lead: String,
    /// Whether each source ever held a row: a section of a source the shop does not have
    /// is left out.
    pub has_returns: bool,
    pub has_stock: bool,
    pub has_feedback: bool,
    /// Metrics whose queries failed or timed out, as a sentence; empty when all answered.
    pub unavailable_note: String,
    pub headline: Vec<Tile>,
    pub marketing: Section,
    pub operations: Section,
    pub channels: Vec<ChannelRow>,
    /// The funnel, for the text part's appendix (the HTML has each step as a tile or row).
    pub funnel: Vec<FunnelStep>,
    pub top_returns: Vec<ReturnRow>,
    /// Month to date, per channel of the order: units returned over units sold.
    pub returns_by_channel: Vec<ReturnRow>,
    pub out_of_stock: Vec<String>,
    pub objectives: Vec<ObjectiveView>,
    /// The alerts told in full: critical first, busy days ahead as one, and past the cap
    /// the promoted SKUs of one kind as one.
    pub alerts: Vec<AlertView>,
    /// The alerts past the cap, a title each; none is critical.
    pub more_alerts: Vec<String>,
    /// "And 3 more:", or empty.
    pub more_alerts_phrase: String,
    /// The first screen: the day in one line, and the alerts that cannot wait.
    pub glance: Glance,
    /// "2 alerts", "1 alert", "no alerts".
    pub alerts_phrase: String,
    /// What an empty alerts section says: "fine" only for what there is data to check.
    pub no_alerts_note: String,
    /// Promoted products whose cover could not be checked against a lead time.
    pub lead_time_note: String,
    /// The alerts already sent as they happened on the report date, as a sentence; empty
    /// without any.
    pub live_note: String,
    pub feedback: Vec<ThemeView>,
    pub charts: Vec<ChartView>,
    /// The same charts by id (revenue, orders_capacity, traffic, fulfilment, key_results).
    pub chart: BTreeMap<String, ChartView>,
    /// Charts not drawn for too few days of data, a sentence each.
    pub chart_notes: Vec<String>,
    /// Colours with a meaning, as in the charts.
    pub colors: Colors,
    /// A weekly report's review of its week, which the templates show in place of the
    /// day's sections; None in the morning email.
    pub weekly: Option<weekly::Weekly>,
}

/// The sections after the news in the common copy.
const ORDER: [&str; 6] = [
    "trend",
    "outlook",
    "objectives",
    "marketing",
    "operations",
    "feedback",
];

impl Digest {
    /// The copy for a team: its section right after the news (and, for merchandising, its
    /// rows first within the operations section). The numbers are the same.
    pub fn with_lead(&self, lead: Option<Lead>) -> Digest {
        let mut d = self.clone();
        let Some(lead) = lead else { return d };
        let first = match lead {
            Lead::Marketing => "marketing",
            Lead::Operations | Lead::Merchandising => "operations",
        };
        d.order = std::iter::once(first)
            .chain(ORDER.iter().copied().filter(|s| *s != first))
            .collect();
        if lead == Lead::Merchandising {
            d.operations
                .rows
                .sort_by_key(|r| r.team != Team::Merchandising);
        }
        d.lead = lead.name().to_string();
        d
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    /// The first alert, or the most unusual change, in a few words: what a phone shows
    /// first. Empty on a quiet day.
    pub lead: String,
    pub revenue: String,
    /// "+8%" against the same weekday last week, or "n/a".
    pub revenue_change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Colors {
    pub good: String,
    pub bad: String,
    pub warn: String,
    pub neutral: String,
    pub primary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    pub source: String,
    pub last_day: String,
    pub stale: bool,
}

/// A change against one earlier period.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// "vs last Sat".
    pub label: String,
    /// "+8.2%", "-0.4 pts", "n/a".
    pub change: String,
    /// The earlier value, formatted.
    pub previous: String,
    /// For week and month to date, the period's own value ("36.8%"); empty for a
    /// comparison of yesterday, whose value is beside it.
    pub current: String,
    /// good | bad | neutral | unknown.
    pub tone: &'static str,
    /// "▲", "▼" or "·": the direction of the change.
    pub arrow: &'static str,
    /// "✓" for good news, "✗" for bad, "" otherwise: the cue besides colour, since an
    /// arrow up is good for revenue and bad for returns.
    pub mark: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tile {
    pub key: String,
    pub label: String,
    pub value: String,
    /// The one comparison the tile shows: the same weekday last week.
    pub main: Change,
    /// Every comparison, for the text part's appendix.
    pub changes: Vec<Change>,
    /// The last 14 days as a sparkline, yesterday marked.
    pub spark: Option<ChartView>,
}

/// A metric as a table row: yesterday, three changes and month to date.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    pub team: Team,
    pub label: String,
    pub value: String,
    /// For a metric that is news: its other comparisons in a few words ("−12% vs day
    /// before · month to date 81.9%, +26 pts"); empty otherwise.
    pub note: String,
    /// Every comparison in full, for the text part's appendix.
    pub all: Vec<Change>,
    pub vs_day: Change,
    pub vs_week: Change,
    pub vs_year: Change,
    pub mtd: String,
    pub vs_mtd: Change,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelRow {
    pub channel: String,
    pub sessions: String,
    pub share: String,
    pub vs_week: Change,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunnelStep {
    pub step: String,
    pub count: String,
    /// Share of sessions.
    pub of_sessions: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReturnRow {
    pub sku: String,
    pub product: String,
    pub returned: String,
    pub sold: String,
    pub rate: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveView {
    pub title: String,
    pub owner: String,
    pub team: String,
    /// "1 Oct - 31 Dec 2026 · day 52 of 92".
    pub cycle: String,
    pub progress: String,
    pub status: String,
    pub tone: &'static str,
    pub key_results: Vec<KrView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KrView {
    pub title: String,
    pub current: String,
    pub baseline: String,
    pub target: String,
    pub progress: String,
    /// The progress in words: "64.3% of the way", or "below the baseline" when it is below
    /// 0 (a raw "-167.1% of the way" reads as nothing).
    pub progress_words: String,
    pub expected: String,
    pub status: String,
    pub tone: &'static str,
    /// "last 7 days" or "cycle to date".
    pub window: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub kind: AlertKind,
    pub severity: Severity,
    /// critical | warning
    pub tone: &'static str,
    pub title: String,
    /// The few words a subject line carries: "KNT-003 cover 4.0 days (lead 35)".
    pub short: String,
    /// The metric a rule alert is about.
    pub metric: Option<String>,
    pub detail: String,
    pub action: String,
    /// The day a capacity alert is about: alerts for several days ahead are told as one.
    #[serde(skip)]
    pub day: Option<NaiveDate>,
    /// What marketing can do about a busy day ahead, for the grouped alert's action.
    #[serde(skip)]
    pub plan: String,
    /// What the alert is about, for alerts as they happen: the SKU, the day, the metric.
    #[serde(skip)]
    pub subject: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThemeView {
    pub theme: String,
    pub count: i64,
    pub negative: i64,
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    pub id: String,
    pub title: String,
    /// `cid:` reference in the email; preview points it at a file.
    pub src: String,
    pub file_name: String,
    pub alt: String,
    pub width: u32,
    pub height: u32,
}

/// A chart to draw: its view in the digest and its data.
#[derive(Debug, Clone)]
pub struct ChartSpec {
    pub view: ChartView,
    pub kind: ChartKind,
}

/// Builds the digest for report date `d`, generated at `now`.
pub fn build(
    config: &Config,
    d: NaiveDate,
    now: DateTime<Tz>,
    inputs: &DigestInputs,
) -> (Digest, Vec<ChartSpec>) {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let left = left_out(config, inputs);
    // A metric whose source never held a row is left out everywhere (tiles, tables,
    // charts), not shown as "no data": the footer says what is not shown and why.
    let shown;
    let inputs = if left.hidden.is_empty() {
        inputs
    } else {
        shown = without(inputs, &left.hidden);
        &shown
    };
    let mut report = config.assemble_report(d, &inputs.fetched);
    report.metrics.retain(|m| !left.hidden.contains(&m.key));
    let weekday = d.format("%a").to_string();
    let news = news::build(config, d, inputs, &report, &f);
    let ahead = crate::metrics::forecast::forecast(&inputs.history, d, config.outlook.days);
    let alerts = build_alerts(config, d, inputs, &report, &ahead, &f);
    let flagged = flagged(&news, &alerts);
    let noted: BTreeSet<String> = news
        .items
        .iter()
        .flat_map(|n| n.members.iter().cloned())
        .chain(alerts.iter().filter_map(|a| a.metric.clone()))
        .collect();
    let ctx = Ctx {
        f: &f,
        weekday: &weekday,
        flagged: &flagged,
        noted: &noted,
    };
    let day = Day {
        config,
        d,
        now,
        inputs,
        report: &report,
        ctx: &ctx,
        ahead: &ahead,
        left: &left,
    };
    compose(&day, news, alerts)
}

/// The alerts that can go out as they happen on `d` (today, on its figures so far): promoted
/// stock, orders past capacity on the day, and the shop's rules marked `live`; each with its
/// mark. Not the days ahead: a forecast is the morning's to say.
pub fn live_alerts(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
) -> Vec<(crate::metrics::live::Mark, AlertView)> {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let report = config.assemble_report(d, &inputs.fetched);
    let live_rules: BTreeSet<&str> = config
        .alerts
        .rules
        .iter()
        .map(|r| r.get_ref())
        .filter(|r| r.live)
        .map(|r| r.metric.as_str())
        .collect();
    build_alerts(config, d, inputs, &report, &[], &f)
        .into_iter()
        .filter(|a| match a.kind {
            AlertKind::OutOfStock | AlertKind::LowCover => true,
            AlertKind::Capacity => a.day == Some(d),
            AlertKind::CapacityAhead => false,
            AlertKind::Rule => a.metric.as_deref().is_some_and(|m| live_rules.contains(m)),
        })
        .map(|a| {
            let m = crate::metrics::live::mark(a.kind, a.severity, &a.subject, d);
            (m, a)
        })
        .collect()
}

/// What every part of one digest reads: the inputs with the hidden metrics left out, the
/// report made from them, and the orders expected ahead.
struct Day<'a> {
    config: &'a Config,
    d: NaiveDate,
    now: DateTime<Tz>,
    inputs: &'a DigestInputs,
    report: &'a MetricsReport,
    ctx: &'a Ctx<'a>,
    ahead: &'a [DayForecast],
    left: &'a LeftOut,
}

/// What the digest leaves out, and what of it the footer names.
struct LeftOut {
    /// Sources that never held a row.
    never: BTreeSet<&'static str>,
    /// Metrics shown nowhere: their source never held a row, or they have no value.
    hidden: BTreeSet<String>,
    /// The hidden metrics with no value at all that the footer names.
    valueless: BTreeSet<String>,
}

/// The sources that never held a row, the metrics left out, and those the footer names.
fn left_out(config: &Config, inputs: &DigestInputs) -> LeftOut {
    let never = never_filled(inputs);
    let mut hidden = hidden_metrics(config, &never, &inputs.empty_columns);
    let valueless: BTreeSet<String> = valueless_metrics(config, inputs)
        .into_iter()
        .filter(|k| !hidden.contains(k))
        .collect();
    hidden.extend(valueless.iter().cloned());
    // The footer names those with no value at all; a figure that is 0 every day (no guest
    // checkouts, no discounts) is simply not the shop's, and needs no word.
    let valueless: BTreeSet<String> = valueless
        .into_iter()
        .filter(|k| {
            config
                .catalog
                .get(k)
                .is_some_and(|m| !m.hide_if_always_zero)
        })
        .collect();
    LeftOut {
        never,
        hidden,
        valueless,
    }
}

/// The metrics that get colour and a mark in the tables: those in the news or past a rule.
fn flagged(news: &news::News, alerts: &[AlertView]) -> BTreeSet<String> {
    news.flagged
        .iter()
        .cloned()
        .chain(alerts.iter().filter_map(|a| a.metric.clone()))
        .collect()
}

/// The digest and its charts, from the day's reading, its news and its alerts.
fn compose(day: &Day<'_>, news: news::News, alerts: Vec<AlertView>) -> (Digest, Vec<ChartSpec>) {
    let Day {
        config,
        d,
        inputs,
        report,
        ctx,
        left,
        ..
    } = *day;
    let f = ctx.f;
    let mut headline = headline(report, ctx);
    let tiles: Vec<&str> = headline.iter().map(|t| t.key.as_str()).collect();
    let (marketing, operations) = sections(config, report, ctx, &tiles);
    let revisions = revisions::revisions(config, inputs, report, &tiles, f);
    let summary = summary(&headline, f, &news, alerts, report, config);
    let (objectives, kr_rows) = build_objectives(config, d, inputs, f, &left.hidden);
    let cover = Coverage::new(config, d, day.now, inputs, &left.valueless);
    let (specs, chart_notes) = chart_specs(day, &kr_rows, &mut headline);
    let digest = Digest {
        shop: config.shop.name.clone(),
        date: d,
        date_long: d.format("%A %-d %B %Y").to_string(),
        date_short: d.format("%a %-d %b").to_string(),
        weekday_short: ctx.weekday.to_string(),
        timezone: config.shop.timezone.name().to_string(),
        generated_at: cover.generated_at,
        view_url: config
            .email
            .view_url
            .as_deref()
            .map_or(String::new(), |u| u.replace("{date}", &d.to_string())),
        footer: cover.footer,
        preheader: summary.preheader,
        subject: summary.subject,
        freshness: cover.freshness,
        stale_note: cover.stale_note,
        absent_note: cover.absent_note,
        revisions,
        news,
        outlook: outlook::build(config, d, inputs, day.ahead, f),
        order: ORDER.to_vec(),
        lead: String::new(),
        unavailable_note: cover.unavailable_note,
        headline,
        marketing,
        operations,
        channels: channels(report, ctx),
        funnel: funnel(report, f),
        top_returns: top_returns(config, d, inputs, f),
        returns_by_channel: returns_by_channel(config, d, inputs, f),
        out_of_stock: out_of_stock(&inputs.out_of_stock),
        objectives,
        alerts: summary.alerts.shown,
        more_alerts: summary.alerts.more,
        more_alerts_phrase: summary.alerts.more_phrase,
        glance: summary.glance,
        alerts_phrase: summary.alerts_phrase,
        no_alerts_note: no_alerts_note(inputs, d),
        lead_time_note: lead_time_note(config, inputs),
        live_note: live_note(&inputs.live_sent, d),
        has_returns: !left.never.contains("returns"),
        has_stock: !left.never.contains("inventory"),
        has_feedback: !left.never.contains("feedback"),
        feedback: feedback(inputs),
        chart_notes,
        charts: specs.iter().map(|s| s.view.clone()).collect(),
        chart: specs
            .iter()
            .map(|s| (s.view.id.clone(), s.view.clone()))
            .collect(),
        colors: Colors::from_palette(),
        weekly: None,
    };
    (digest, specs)
}

/// The alerts of day `d` as its morning email would list them, bar the days ahead: for the
/// weekly review's alerts of the week.
pub fn day_alerts(config: &Config, d: NaiveDate, inputs: &DigestInputs) -> Vec<AlertView> {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let report = config.assemble_report(d, &inputs.fetched);
    build_alerts(config, d, inputs, &report, &[], &f)
        .into_iter()
        .filter(|a| a.kind != AlertKind::CapacityAhead)
        .filter(|a| a.kind != AlertKind::Capacity || a.day == Some(d))
        .collect()
}

/// A weekly report's digest: the digest of the week's last day with its review of the week
/// in place of the day's sections, and the review's charts only.
pub fn build_weekly(
    config: &Config,
    now: DateTime<Tz>,
    day: &DigestInputs,
    w: &crate::metrics::inputs::WeeklyInputs,
    alerts: &[(NaiveDate, Vec<AlertView>)],
) -> (Digest, Vec<ChartSpec>) {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let (mut digest, _) = build(config, w.last, now, day);
    let hidden = left_out(config, day).hidden;
    let (review, specs) = weekly::build(config, day, w, alerts, &hidden, &f);
    digest.preheader = review.preheader.clone();
    digest.charts = specs.iter().map(|s| s.view.clone()).collect();
    digest.chart = specs
        .iter()
        .map(|s| (s.view.id.clone(), s.view.clone()))
        .collect();
    digest.chart_notes = Vec::new();
    // The day's figures as mailed stay the morning email's to remember.
    digest.revisions = revisions::Revisions::default();
    digest.weekly = Some(review);
    (digest, specs)
}

/// The alerts the email lists, their count in words, the first screen, the subject and the
/// preheader.
struct Summary {
    alerts: triage::AlertList,
    alerts_phrase: String,
    glance: Glance,
    subject: Subject,
    preheader: String,
}

/// The day's summary lines, with the alerts sorted out for the email.
fn summary(
    headline: &[Tile],
    f: &Formatter,
    news: &news::News,
    alerts: Vec<AlertView>,
    report: &MetricsReport,
    config: &Config,
) -> Summary {
    let alerts_phrase = alerts_phrase(alerts.len());
    let alerts = triage::triage(alerts, config.alerts.capacity_threshold);
    let mut subject = subject(report, f);
    // The subject's first words are the day's most important thing: the first alert, or
    // the first story of what moved.
    subject.lead = match (alerts.shown.first(), news.items.first()) {
        (Some(a), _) => a.short.clone(),
        (None, Some(n)) => n.short.clone(),
        (None, None) => String::new(),
    };
    let glance = glance::glance(headline, &alerts, &alerts_phrase);
    let preheader = preheader(&subject, &glance, news, &alerts);
    Summary {
        alerts,
        alerts_phrase,
        glance,
        subject,
        preheader,
    }
}

/// How fresh the data is, what it leaves out, and when the email was made.
struct Coverage {
    freshness: Vec<Freshness>,
    stale_note: String,
    absent_note: String,
    unavailable_note: String,
    generated_at: String,
    footer: String,
}

impl Coverage {
    /// The coverage notes for report date `d`, generated at `now`.
    fn new(
        config: &Config,
        d: NaiveDate,
        now: DateTime<Tz>,
        inputs: &DigestInputs,
        valueless: &BTreeSet<String>,
    ) -> Coverage {
        let (freshness, stale_note, absent_note) = freshness(inputs, d);
        let stale_note = [stale_note, sync_note(&inputs.syncs, now)]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let absent_note = with_empty_columns(absent_note, &inputs.empty_columns);
        let absent_note = with_valueless(absent_note, config, valueless);
        let generated_at = now.format("%-d %b %Y %H:%M %Z").to_string();
        let unavailable_note = unavailable_note(config, inputs);
        Coverage {
            footer: footer(
                &freshness,
                d,
                &generated_at,
                &zones_note(&inputs.syncs, config.shop.timezone),
            ),
            freshness,
            stale_note,
            absent_note,
            unavailable_note,
            generated_at,
        }
    }
}

/// Every chart the email shows, tied to this email, and each headline tile's sparkline; and
/// the notes for the charts not drawn for too few days.
fn chart_specs(
    day: &Day<'_>,
    kr_rows: &[KrChartRow],
    headline: &mut [Tile],
) -> (Vec<ChartSpec>, Vec<String>) {
    let (config, d, inputs, f) = (day.config, day.d, day.inputs, day.ctx.f);
    let sparks: Vec<ChartSpec> = headline
        .iter()
        .filter_map(|t| day.report.get(&t.key))
        .map(|m| charts::spark_chart(m, d, inputs, f))
        .collect();
    let (mut specs, notes) = charts(config, d, inputs, day.ahead, f);
    if !kr_rows.is_empty() {
        specs.push(kr_chart(kr_rows));
    }
    specs.extend(sparks);
    tie_charts(&mut specs, &cid_tag(config, d, day.now), headline);
    (specs, notes)
}

/// "Sent as they happened on Sun 6 Dec: …": what the teams already had during the day.
fn live_note(sent: &[String], d: NaiveDate) -> String {
    if sent.is_empty() {
        return String::new();
    }
    let titles: Vec<String> = sent
        .iter()
        .take(12)
        .map(|t| cap(t, text::LABEL * 2))
        .collect();
    let more = sent.len().saturating_sub(titles.len());
    format!(
        "Sent as they happened on {}: {}{}.",
        d.format("%a %-d %b"),
        titles.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

fn alerts_phrase(n: usize) -> String {
    match n {
        0 => "no alerts".to_string(),
        1 => "1 alert".to_string(),
        n => format!("{n} alerts"),
    }
}

/// The "not shown" note, with the optional columns no export has filled so far.
fn with_empty_columns(note: String, empty_columns: &[&str]) -> String {
    if empty_columns.is_empty() {
        return note;
    }
    let names: Vec<&str> = empty_columns.iter().map(|c| column_name(c)).collect();
    let line = format!(
        "Not shown, not in the exports so far: {}.",
        names.join(", ")
    );
    [note, line].join(" ").trim().to_string()
}

/// The footer's word on the metrics left out for having no value (or only zeros).
fn with_valueless(note: String, config: &Config, valueless: &BTreeSet<String>) -> String {
    if valueless.is_empty() {
        return note;
    }
    let labels: Vec<String> = config
        .catalog
        .iter()
        .filter(|m| valueless.contains(&m.key))
        .map(|m| cap(&m.label, text::LABEL))
        .collect();
    let line = format!(
        "Not shown, no value in the days this email reads: {}.",
        labels.join(", ")
    );
    [note, line].join(" ").trim().to_string()
}

/// Gives each chart the Content-ID that ties it to this one email, and each headline tile
/// its sparkline's view.
fn tie_charts(specs: &mut [ChartSpec], tag: &str, headline: &mut [Tile]) {
    for s in specs.iter_mut() {
        s.view.src = format!("cid:{}.{tag}", s.view.id.replace('_', "-"));
    }
    for t in headline {
        let id = format!("spark_{}", t.key);
        t.spark = specs
            .iter()
            .find(|s| s.view.id == id)
            .map(|s| s.view.clone());
    }
}

impl Colors {
    fn from_palette() -> Colors {
        Colors {
            good: palette::hex(palette::GOOD),
            bad: palette::hex(palette::BAD),
            warn: palette::hex(palette::WARN),
            neutral: palette::hex(palette::NEUTRAL),
            primary: palette::hex(palette::PRIMARY),
        }
    }
}

/// `3f2a…@northwind.example`: what makes a chart's Content-ID unique to this one email
/// (the shop, the report date and the moment it was made), at the sender's domain.
fn cid_tag(config: &Config, d: NaiveDate, now: DateTime<Tz>) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    config.shop.name.hash(&mut h);
    d.hash(&mut h);
    now.timestamp_nanos_opt().unwrap_or_default().hash(&mut h);
    format!("{:016x}@{}", h.finish(), config.email.from.email.domain())
}

/// What the subject leaves out: the other headline figures, then the next alerts and news.
fn preheader(
    subject: &Subject,
    glance: &Glance,
    news: &news::News,
    alerts: &triage::AlertList,
) -> String {
    let rest: Vec<&str> = alerts
        .shown
        .iter()
        .map(|a| a.short.as_str())
        .chain(news.items.iter().map(|n| n.short.as_str()))
        .filter(|s| *s != subject.lead)
        .take(2)
        .collect();
    let mut out = glance.figures.clone();
    if !rest.is_empty() {
        out.push_str(". Also: ");
        out.push_str(&rest.join("; "));
    }
    out.push('.');
    out
}

/// The headline tiles: each with its three nearest comparisons.
fn headline(report: &MetricsReport, ctx: &Ctx<'_>) -> Vec<Tile> {
    let f = ctx.f;
    HEADLINE
        .iter()
        .chain(&HEADLINE_SPARE)
        .filter_map(|k| report.get(k))
        .take(HEADLINE.len())
        .map(|m| Tile {
            key: m.key.clone(),
            label: m.label.clone(),
            value: f.value(m.unit, m.comparisons[0].current),
            main: ctx.change(m, comparison(m, ComparisonKind::SameWeekdayLastWeek)),
            changes: [
                ComparisonKind::SameWeekdayLastWeek,
                ComparisonKind::PreviousDay,
                ComparisonKind::SameWeekdayLastYear,
            ]
            .iter()
            .map(|k| ctx.change(m, comparison(m, *k)))
            .collect(),
            spark: None,
        })
        .collect()
}

/// The subject's revenue in few characters, and its change against the same weekday a
/// week earlier: "+86%", "flat" where it rounds to nothing (never "−0%"), or "n/a".
fn subject(report: &MetricsReport, f: &Formatter) -> Subject {
    let revenue = report.get("net_revenue");
    let revenue_value = revenue
        .and_then(|m| m.comparisons[0].current.get())
        .map_or("n/a".into(), |v| f.compact_money(v));
    let revenue_change = revenue.map_or("n/a".into(), |m| {
        let c = comparison(m, ComparisonKind::SameWeekdayLastWeek);
        c.rel_change.map_or("n/a".into(), percent_words)
    });
    Subject {
        lead: String::new(),
        revenue: revenue_value,
        revenue_change,
    }
}

/// A relative change in whole percent for a subject line: "+86%", "−12%", and "flat" for
/// one that rounds to nothing (never "−0%").
fn percent_words(r: f64) -> String {
    let whole = (r * 100.0).round();
    if whole == 0.0 {
        "flat".into()
    } else {
        format!("{}{:.0}%", if whole > 0.0 { "+" } else { "−" }, whole.abs())
    }
}

/// The most mentioned feedback themes, with one comment each.
fn feedback(inputs: &DigestInputs) -> Vec<ThemeView> {
    inputs
        .feedback
        .iter()
        .take(5)
        .map(|t| ThemeView {
            theme: cap(&t.theme, text::THEME),
            count: t.count,
            negative: t.negative,
            example: cap(t.example.as_deref().unwrap_or_default(), text::COMMENT),
        })
        .collect()
}

fn is_builtin(config: &Config, key: &str) -> bool {
    config.catalog.get(key).is_some_and(|m| m.builtin)
}

fn comparison(m: &MetricResult, kind: ComparisonKind) -> &Comparison {
    m.comparisons
        .iter()
        .find(|c| c.kind == kind)
        .expect("every comparison is computed")
}

fn tone(v: Verdict) -> &'static str {
    match v {
        Verdict::Good => "good",
        Verdict::Bad => "bad",
        Verdict::Neutral => "neutral",
        Verdict::Unknown => "unknown",
    }
}

fn arrow(c: &Comparison) -> &'static str {
    match c.abs_change {
        Some(a) if a > 0.0 => "▲",
        Some(a) if a < 0.0 => "▼",
        _ => "·",
    }
}

fn span(a: NaiveDate, b: NaiveDate) -> String {
    format!("{} - {}", a.format("%-d %b"), b.format("%-d %b"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_never_says_minus_zero() {
        assert_eq!(percent_words(0.864), "+86%");
        assert_eq!(percent_words(-0.004), "flat");
        assert_eq!(percent_words(0.0049), "flat");
        assert_eq!(percent_words(-0.005), "−1%");
        assert_eq!(percent_words(-0.12), "−12%");
    }
}
