//! Shared key results: each objective's key results with progress, pace and status, and
//! the rows of their chart.

use super::*;
use crate::metrics::metric::MetricDef;

pub(super) struct KrChartRow {
    pub(super) label: String,
    pub(super) progress: Option<f64>,
    pub(super) expected: f64,
    pub(super) status: Status,
    pub(super) current: String,
    pub(super) target: String,
}

pub(super) fn status_tone(s: Status) -> &'static str {
    match s {
        Status::Achieved | Status::OnTrack => "good",
        Status::AtRisk => "warn",
        Status::OffTrack => "bad",
        Status::NoData | Status::NotStarted => "neutral",
    }
}

pub(super) fn build_objectives(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    f: &Formatter,
    hidden: &BTreeSet<String>,
) -> (Vec<ObjectiveView>, Vec<KrChartRow>) {
    let mut views = Vec::new();
    let mut chart_rows = Vec::new();
    for o in &config.objectives {
        let cycle = o.cycle.bounds(d);
        let mut statuses = Vec::new();
        let mut krs = Vec::new();
        for kr in &o.key_results {
            let Some(metric) = config.catalog.get(&kr.metric) else {
                continue;
            };
            // A key result on a metric whose source never had data is listed as such, with
            // no bar, and judges nothing: the objective does not vanish without a word.
            if hidden.contains(&kr.metric) {
                krs.push(no_data_yet(kr, metric, cycle, d, f));
                continue;
            }
            let s = key_result_status(config, cycle, d, inputs, kr, metric);
            chart_rows.push(kr_chart_row(kr, metric, &s, f));
            krs.push(kr_view(kr, metric, &s, f));
            statuses.push(s);
        }
        if krs.is_empty() {
            continue;
        }
        views.push(objective_view(o, cycle, d, &statuses, krs, f));
    }
    (views, chart_rows)
}

/// A key result's status on `d`: its metric's value over the key result's window.
pub(super) fn key_result_status(
    config: &Config,
    cycle: (NaiveDate, NaiveDate),
    d: NaiveDate,
    inputs: &DigestInputs,
    kr: &okr::KeyResult,
    metric: &MetricDef,
) -> okr::KrStatus {
    let empty = Series::default();
    let series = inputs
        .fetched
        .get(&kr.metric)
        .and_then(|m| m.get(&None))
        .unwrap_or(&empty);
    let current = match kr.window_days(cycle, d) {
        Some((a, b)) => series.value(metric.aggregate, &Period::range(a, b)),
        None => Value::NoData,
    };
    okr::kr_status(kr, cycle, d, current, config.okr_thresholds)
}

/// A key result's bar in the key results chart.
fn kr_chart_row(
    kr: &okr::KeyResult,
    metric: &MetricDef,
    s: &okr::KrStatus,
    f: &Formatter,
) -> KrChartRow {
    KrChartRow {
        label: shorten(&metric.label, 16),
        progress: s.progress,
        expected: s.expected,
        status: s.status,
        current: f.value(metric.unit, s.current),
        target: f.amount(metric.unit, kr.target),
    }
}

/// A key result as the objectives section shows it.
fn kr_view(kr: &okr::KeyResult, metric: &MetricDef, s: &okr::KrStatus, f: &Formatter) -> KrView {
    let title = if kr.title.is_empty() {
        format!(
            "{} {} from {} to {}",
            if kr.is_down() { "Decrease" } else { "Increase" },
            metric.label.to_lowercase(),
            f.amount(metric.unit, kr.baseline),
            f.amount(metric.unit, kr.target)
        )
    } else {
        kr.title.clone()
    };
    let pct = |v: f64| f.amount(Unit::Percent, v);
    KrView {
        title,
        current: f.value(metric.unit, s.current),
        baseline: f.amount(metric.unit, kr.baseline),
        target: f.amount(metric.unit, kr.target),
        progress: s.progress.map_or("n/a".into(), pct),
        progress_words: progress_words(s.progress, f),
        expected: pct(s.expected),
        status: s.status.label().to_string(),
        tone: status_tone(s.status),
        window: match kr.window {
            okr::Window::CycleToDate => "cycle to date".into(),
            okr::Window::Trailing(1) => "yesterday".into(),
            okr::Window::Trailing(n) => format!("last {n} days"),
        },
    }
}

/// A key result whose metric's source never had data.
fn no_data_yet(
    kr: &okr::KeyResult,
    metric: &MetricDef,
    cycle: (NaiveDate, NaiveDate),
    d: NaiveDate,
    f: &Formatter,
) -> KrView {
    let s = okr::KrStatus {
        current: Value::NoData,
        progress: None,
        expected: okr::expected(cycle, d),
        status: Status::NoData,
    };
    KrView {
        current: "no data yet".into(),
        ..kr_view(kr, metric, &s, f)
    }
}

/// A key result's progress in words: below 0 it is "below the baseline", not a negative
/// share of the way.
pub(super) fn progress_words(progress: Option<f64>, f: &Formatter) -> String {
    match progress {
        None => "progress n/a".into(),
        Some(p) if p < 0.0 => "below the baseline".into(),
        Some(p) => format!("{} of the way", f.amount(Unit::Percent, p)),
    }
}

/// An objective with its key results' views, its progress and status, and the day of its
/// cycle.
fn objective_view(
    o: &okr::Objective,
    cycle: (NaiveDate, NaiveDate),
    d: NaiveDate,
    statuses: &[okr::KrStatus],
    key_results: Vec<KrView>,
    f: &Formatter,
) -> ObjectiveView {
    let (progress, status) = okr::objective_status(statuses);
    let total = (cycle.1 - cycle.0).num_days() + 1;
    let day = ((d - cycle.0).num_days() + 1).clamp(0, total);
    ObjectiveView {
        title: o.title.clone(),
        owner: o.owner.clone(),
        team: format!("{:?}", o.team).to_lowercase(),
        cycle: format!("{} · day {day} of {total}", span(cycle.0, cycle.1)),
        progress: progress.map_or("n/a".into(), |p| f.amount(Unit::Percent, p)),
        status: status.label().to_string(),
        tone: status_tone(status),
        key_results,
    }
}

pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NumberFormat;

    #[test]
    fn progress_below_zero_reads_as_below_the_baseline() {
        let f = Formatter::new(NumberFormat::default(), "£".into());
        assert_eq!(progress_words(Some(0.643), &f), "64.3% of the way");
        assert_eq!(progress_words(Some(1.25), &f), "125.0% of the way");
        assert_eq!(progress_words(Some(0.0), &f), "0.0% of the way");
        assert_eq!(progress_words(Some(-1.671), &f), "below the baseline");
        assert_eq!(progress_words(None, &f), "progress n/a");
    }
}
