//! The metrics report: every metric of the catalog with its period comparisons for one date,
//! assembled from rows already fetched. Pure: `store::report` fetches the rows, and the
//! digest builds on what this assembles.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Weekday};
use serde::Serialize;

use crate::metrics::calendar::Calendar;
use crate::metrics::compare::{Comparison, Series, Value, compare_kinds};
use crate::metrics::metric::{Aggregate, Catalog, Direction, MetricDef, Team, Unit};
use crate::metrics::news;
use crate::metrics::period::ComparisonKind;
use crate::metrics::plan::{self, PlanCheck, PlanTarget};

/// What a report is of, as `metrics --format json` names it: the shop, its time zone and its
/// currency.
#[derive(Debug, Clone, Default)]
pub struct ReportOf {
    pub shop: String,
    pub timezone: String,
    pub currency: String,
}

/// A metric's rows per breakdown value (`None` = the metric as a whole).
pub type MetricSeries = BTreeMap<Option<String>, Series>;

/// What the metric queries returned: each metric's rows, or why it is unavailable (its query
/// failed or ran past its deadline). One bad metric never stops the others.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub series: BTreeMap<String, MetricSeries>,
    /// Metric key → the reason, as logged.
    pub unavailable: BTreeMap<String, String>,
    /// Metric key → the reason in a few words, for the email ("its query failed").
    pub unavailable_short: BTreeMap<String, String>,
    /// When the shop traded, as the comparisons were drawn up for.
    pub calendar: Calendar,
}

impl Fetched {
    /// The rows of a metric that answered.
    pub fn get(&self, key: &str) -> Option<&MetricSeries> {
        self.series.get(key)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    pub shop: String,
    pub date: NaiveDate,
    pub timezone: String,
    pub currency: String,
    pub metrics: Vec<MetricResult>,
    /// Why net revenue moved against the same weekday a week before: sessions,
    /// conversion and basket size (orders and basket size without traffic data).
    pub explain: Option<news::RevenueSplit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricResult {
    pub key: String,
    pub label: String,
    pub team: Team,
    pub unit: Unit,
    pub direction: Direction,
    pub aggregate: Aggregate,
    pub description: String,
    /// The metric as a whole; empty for a metric reported only per breakdown value.
    pub comparisons: Vec<Comparison>,
    /// Why the metric has no values at all: its query failed or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// The first comparison's current period against the shop's plan, where one covers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanCheck>,
    /// Per breakdown value (for example per channel), largest first on the report date.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<BreakdownResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownResult {
    pub value: String,
    pub comparisons: Vec<Comparison>,
}

impl MetricsReport {
    pub fn get(&self, key: &str) -> Option<&MetricResult> {
        self.metrics.iter().find(|m| m.key == key)
    }
}

/// Builds the report from fetched rows. Pure.
pub fn assemble(
    catalog: &Catalog,
    week_start: Weekday,
    of: ReportOf,
    date: NaiveDate,
    fetched: &Fetched,
) -> MetricsReport {
    let report = assemble_with(catalog, &Over::daily(week_start), of, date, fetched);
    MetricsReport {
        explain: explain(date, fetched),
        ..report
    }
}

/// What a report compares: its comparisons, the shop's week and its plans.
#[derive(Debug, Clone, Copy)]
pub struct Over<'a> {
    pub kinds: &'a [ComparisonKind],
    pub week_start: Weekday,
    pub plans: &'a [PlanTarget],
}

impl Over<'static> {
    /// The morning report's six comparisons.
    pub fn daily(week_start: Weekday) -> Over<'static> {
        Over {
            kinds: &ComparisonKind::ALL,
            week_start,
            plans: &[],
        }
    }
}

/// The report of the comparisons `over.kinds` (a weekly report's: the week before and the
/// same week a year ago, and the plan), without the revenue split of a day.
pub fn assemble_with(
    catalog: &Catalog,
    over: &Over<'_>,
    of: ReportOf,
    date: NaiveDate,
    fetched: &Fetched,
) -> MetricsReport {
    let metrics = catalog
        .iter()
        .map(|m| metric_result(m, over, date, fetched))
        .collect();
    MetricsReport {
        shop: of.shop,
        date,
        timezone: of.timezone,
        currency: of.currency,
        metrics,
        explain: None,
    }
}

/// One metric on `date`: its comparisons as a whole, or per breakdown value, or why it has
/// none.
fn metric_result(
    m: &MetricDef,
    over: &Over<'_>,
    date: NaiveDate,
    fetched: &Fetched,
) -> MetricResult {
    let empty = BTreeMap::new();
    let cal = &fetched.calendar;
    let series = fetched.get(&m.key).unwrap_or(&empty);
    let unavailable = fetched.unavailable.get(&m.key).cloned();
    let (comparisons, breakdown) = if unavailable.is_some() {
        (unavailable_comparisons(m, over, date, cal), Vec::new())
    } else if m.breakdown.is_some() {
        (Vec::new(), breakdown(series, m, over, date, cal))
    } else {
        let s = series.get(&None).cloned().unwrap_or_default();
        let all = compare_kinds(over.kinds, &s, m, date, over.week_start, cal);
        (all, Vec::new())
    };
    let plan = comparisons.first().and_then(|c| {
        let (first, last) = c.current_period;
        let t = plan::target(over.plans, &m.key, m.aggregate, first, last)?;
        Some(plan::check(c.current.get(), t, m.direction))
    });
    MetricResult {
        key: m.key.clone(),
        label: m.label.clone(),
        team: m.team,
        unit: m.unit,
        direction: m.direction,
        aggregate: m.aggregate,
        description: m.description.clone(),
        comparisons,
        unavailable,
        plan,
        breakdown,
    }
}

/// Every comparison of a metric whose query failed, each side unavailable.
fn unavailable_comparisons(
    m: &MetricDef,
    over: &Over<'_>,
    date: NaiveDate,
    cal: &Calendar,
) -> Vec<Comparison> {
    let none = Series::default();
    let mut all = compare_kinds(over.kinds, &none, m, date, over.week_start, cal);
    for c in &mut all {
        c.current = Value::Unavailable;
        c.previous = Value::Unavailable;
    }
    all
}

/// A metric's comparisons per breakdown value, largest month to date first.
fn breakdown(
    series: &MetricSeries,
    m: &MetricDef,
    over: &Over<'_>,
    date: NaiveDate,
    cal: &Calendar,
) -> Vec<BreakdownResult> {
    let mut rows: Vec<BreakdownResult> = series
        .iter()
        .filter_map(|(dim, s)| {
            dim.as_ref().map(|d| BreakdownResult {
                value: d.clone(),
                comparisons: compare_kinds(over.kinds, s, m, date, over.week_start, cal),
            })
        })
        .collect();
    // Ranked by month to date: steadier than one day, and what "top" means in a report (a
    // weekly report's by its week).
    let mtd = over
        .kinds
        .iter()
        .position(|k| *k == ComparisonKind::MonthToDate)
        .unwrap_or(0);
    rows.sort_by(|a, b| {
        let v = |r: &BreakdownResult| {
            r.comparisons
                .get(mtd)
                .and_then(|c| c.current.get())
                .unwrap_or(f64::MIN)
        };
        v(b).total_cmp(&v(a)).then_with(|| a.value.cmp(&b.value))
    });
    rows
}

/// Why net revenue moved against the same weekday a week before, with each channel's part.
fn explain(date: NaiveDate, fetched: &Fetched) -> Option<news::RevenueSplit> {
    let day = |key: &str, on: NaiveDate| {
        let s = fetched.get(key)?.get(&None)?;
        news::day_value(s, Aggregate::Sum, on).map(|v| v.0)
    };
    // A shop with traffic data gets the three-way split; one without, orders × basket.
    let with_sessions = day("sessions", date).is_some();
    news::revenue_vs_last_week(date, day, with_sessions).map(|mut x| {
        x.channels = news::channel_changes(
            date,
            fetched.get("sessions_by_channel").filter(|_| with_sessions),
            fetched.get("orders_by_channel"),
        );
        x
    })
}
