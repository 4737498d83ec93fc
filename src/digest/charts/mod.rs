//! The digest's charts: one chart spec per chart, built from the fetched series, with a
//! short alt text saying what it shows and its one key fact (the tables carry the numbers);
//! a time chart with under a week of data is left out, with a note saying so; and drawing
//! them to PNG.

use super::*;
use crate::chart::{Band, Dash, Hatch, Note};
use crate::metrics::forecast::{self, DayForecast};

mod ahead;
use ahead::orders_ahead_chart;

/// Days with a value a time chart's main series needs before the chart is drawn: a line of
/// fewer points shows no shape the table does not.
pub(super) const MIN_CHART_DAYS: usize = 7;

/// Longest name (a channel's, a metric's) an alt text repeats, in characters.
const ALT_NAME: usize = 40;

/// Longest alt text, in characters: a sentence a screen reader says at once, or a client
/// shows in the image's box, not the table again.
pub(super) const ALT_MAX: usize = 150;

/// The key results chart, its alt text the count of each status and, when one is behind,
/// the one furthest behind its pace.
pub(super) fn kr_chart(rows: &[KrChartRow]) -> ChartSpec {
    // How many key results have each status, in the order of concern.
    let statuses = [
        Status::OffTrack,
        Status::AtRisk,
        Status::OnTrack,
        Status::Achieved,
        Status::NotStarted,
        Status::NoData,
    ];
    let counts: Vec<String> = statuses
        .iter()
        .filter_map(|s| {
            let n = rows.iter().filter(|r| r.status == *s).count();
            (n > 0).then(|| format!("{n} {}", s.label().to_lowercase()))
        })
        .collect();
    let kind = ChartKind::Progress(ProgressChart {
        rows: rows
            .iter()
            .map(|r| ProgressRow {
                label: r.label.clone(),
                progress: r.progress,
                expected: r.expected,
                color: match status_tone(r.status) {
                    "good" => palette::GOOD,
                    "warn" => palette::WARN,
                    "bad" => palette::BAD,
                    _ => palette::NEUTRAL,
                },
            })
            .collect(),
    });
    let (width, height) = kind.size();
    ChartSpec {
        view: ChartView {
            id: "key_results".into(),
            title: "Key results: progress against expected pace".into(),
            src: "cid:key-results.png".into(),
            file_name: "key-results.png".into(),
            alt: kr_alt(rows, &counts),
            width,
            height,
        },
        kind,
    }
}

/// "2 key results against the pace expected by now: 1 at risk, 1 achieved; furthest behind,
/// Conversion rate at 1.1% of 1.5%." The last part only while the whole stays short.
fn kr_alt(rows: &[KrChartRow], counts: &[String]) -> String {
    let what = match rows.len() {
        1 => "1 key result".to_string(),
        n => format!("{n} key results"),
    };
    let base = format!(
        "{what} against the pace expected by now: {}",
        counts.join(", ")
    );
    let behind = rows
        .iter()
        .filter(|r| matches!(r.status, Status::OffTrack | Status::AtRisk))
        .min_by(|a, b| {
            let pace = |r: &KrChartRow| r.progress.unwrap_or(0.0) / r.expected.max(1e-9);
            pace(a).total_cmp(&pace(b))
        });
    let full = behind.map(|r| {
        format!(
            "{base}; furthest behind, {} at {} of {}.",
            cap(&r.label, ALT_NAME),
            r.current,
            r.target
        )
    });
    match full {
        Some(full) if full.chars().count() <= ALT_MAX => full,
        _ => format!("{base}."),
    }
}

/// Values of one series for each chart day; None where there is no data.
fn daily(
    series: Option<&Series>,
    days: &[NaiveDate],
    value: impl Fn(f64, f64) -> Option<f64>,
) -> Vec<Option<f64>> {
    days.iter()
        .map(|d| {
            series
                .and_then(|s| s.days.get(d))
                .and_then(|r| value(r.num, r.den))
                // An infinity or NaN from a metric's SQL is a gap, in the chart and its text.
                .filter(|v| v.is_finite())
        })
        .collect()
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// What every 30-day chart shares.
struct ChartCtx<'a> {
    days: Vec<NaiveDate>,
    /// Each of `days` a week earlier.
    week_before: Vec<NaiveDate>,
    inputs: &'a DigestInputs,
    f: &'a Formatter,
    money: AxisUnit,
}

impl ChartCtx<'_> {
    /// A metric's rows as a whole (not per breakdown value).
    fn get(&self, key: &str) -> Option<&Series> {
        self.inputs.fetched.get(key).and_then(|m| m.get(&None))
    }
}

/// A time chart as built: drawn, or left out for thin data with the sentence that says so.
// Five at most per digest, each moved once: boxing the larger variant would save nothing.
#[allow(clippy::large_enum_variant)]
enum Built {
    Drawn(ChartSpec),
    Thin(String),
}

/// The chart `spec` makes, when its main series has a value on [`MIN_CHART_DAYS`] days at
/// least; else the note printed in its place, which names it by `name`.
fn unless_thin(name: &str, main: &[Option<f64>], spec: impl FnOnce() -> ChartSpec) -> Built {
    let n = main.iter().filter(|v| v.is_some()).count();
    if n >= MIN_CHART_DAYS {
        return Built::Drawn(spec());
    }
    let so_far = match n {
        0 => "none".to_string(),
        n => n.to_string(),
    };
    Built::Thin(format!(
        "{name}: not drawn until there are {MIN_CHART_DAYS} days of data ({so_far} so far)."
    ))
}

/// Every time chart of the email, drawn or left out for thin data.
fn time_charts(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    ahead: &[DayForecast],
    f: &Formatter,
) -> Vec<Built> {
    let days: Vec<NaiveDate> = (0..CHART_DAYS).rev().map(|i| d - Days::new(i)).collect();
    let cx = ChartCtx {
        week_before: days.iter().map(|x| *x - Days::new(7)).collect(),
        days,
        inputs,
        f,
        money: AxisUnit::Money(config.shop.currency_symbol.clone()),
    };
    // A chart of a source the shop has never had is left out, not drawn empty.
    let has = |key: &str| inputs.fetched.get(key).is_some();
    // With a forecast, orders are shown with the days ahead, in "Coming up"; without one,
    // over the last 30 days.
    let orders = if ahead.is_empty() {
        orders_chart(&cx)
    } else {
        orders_ahead_chart(&cx, d, ahead)
    };
    let mut out = vec![revenue_chart(&cx), orders];
    if has("sessions_by_channel") || has("conversion_rate") {
        out.push(traffic_chart(&cx));
    }
    if has("fulfilment_hours") || has("on_time_delivery") {
        out.push(fulfilment_chart(&cx));
    }
    out
}

/// The email's time charts, those with a week of data at least; and for each left out for
/// having under [`MIN_CHART_DAYS`] days of data, in the order the charts come, the sentence
/// the email says instead: "Net revenue, last 30 days: not drawn until there are 7 days of
/// data (2 so far)."
pub(super) fn charts(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    ahead: &[DayForecast],
    f: &Formatter,
) -> (Vec<ChartSpec>, Vec<String>) {
    let (mut drawn, mut notes) = (Vec::new(), Vec::new());
    for b in time_charts(config, d, inputs, ahead, f) {
        match b {
            Built::Drawn(spec) => drawn.push(spec),
            Built::Thin(note) => notes.push(note),
        }
    }
    (drawn, notes)
}

fn spec(id: &str, title: String, alt: String, kind: ChartKind) -> ChartSpec {
    let (width, height) = kind.size();
    ChartSpec {
        view: ChartView {
            id: id.into(),
            title,
            src: format!("cid:{}.png", id.replace('_', "-")),
            file_name: format!("{}.png", id.replace('_', "-")),
            alt,
            width,
            height,
        },
        kind,
    }
}

/// The lines with something to draw: a legend entry without its series does not exist.
fn drawable(lines: Vec<Line>) -> Vec<Line> {
    lines
        .into_iter()
        .filter(|l| l.values.iter().any(Option::is_some))
        .collect()
}

/// Net revenue per day, with the same weekday a week earlier.
fn revenue_chart(cx: &ChartCtx<'_>) -> Built {
    let (days, f) = (&cx.days, cx.f);
    let get = |key: &str| cx.get(key);
    let revenue = daily(get("net_revenue"), days, |n, _| Some(n));
    let revenue_prev = daily(get("net_revenue"), &cx.week_before, |n, _| Some(n));
    let with_prev = revenue_prev.iter().any(Option::is_some);
    let money = |v: f64| f.amount(Unit::Money, v);
    let alt = format!(
        "Net revenue per day over the last 30 days{}; {}.",
        if with_prev {
            ", the week before dashed"
        } else {
            ""
        },
        standing(&revenue, days, money, ("highest", "lowest")),
    );
    let title = if with_prev {
        "Net revenue, last 30 days (dashed: the week before)"
    } else {
        "Net revenue, last 30 days"
    };
    let main = revenue.clone();
    unless_thin("Net revenue, last 30 days", &main, || {
        spec(
            "revenue",
            title.to_string(),
            alt,
            ChartKind::Time(TimeChart::over(
                days.clone(),
                Axis {
                    lines: drawable(vec![
                        Line {
                            label: "A week earlier".into(),
                            color: palette::COMPARE,
                            style: LineStyle::Dashed(Dash::Long),
                            values: revenue_prev,
                        },
                        Line {
                            label: "Net revenue".into(),
                            color: palette::PRIMARY,
                            style: LineStyle::Solid,
                            values: revenue,
                        },
                    ]),
                    unit: cx.money.clone(),
                },
                None,
            )),
        )
    })
}

/// Orders per day against warehouse capacity.
fn orders_chart(cx: &ChartCtx<'_>) -> Built {
    let (days, f) = (&cx.days, cx.f);
    let get = |key: &str| cx.get(key);
    let orders = daily(get("orders"), days, |n, _| Some(n));
    let capacity = daily(get("capacity_utilisation"), days, |_, den| {
        (den > 0.0).then_some(den)
    });
    let count = |v: f64| f.amount(Unit::Count, v);
    // Without capacity figures the chart is of orders alone, and says no more.
    let with_capacity = capacity.iter().any(Option::is_some);
    let yesterday = orders.last().copied().flatten();
    let (title, alt) = match (with_capacity, yesterday, capacity.last().copied().flatten()) {
        (true, Some(o), Some(c)) => (
            "Orders against warehouse capacity, last 30 days",
            format!(
                "Orders per day over the last 30 days against capacity (dashed); yesterday {} orders, {} of capacity.",
                count(o),
                f.amount(Unit::Percent, o / c)
            ),
        ),
        (true, _, _) => (
            "Orders against warehouse capacity, last 30 days",
            format!(
                "Orders per day over the last 30 days against capacity (dashed); {}.",
                standing(&orders, days, count, ("highest", "lowest"))
            ),
        ),
        (false, _, _) => (
            "Orders, last 30 days",
            format!(
                "Orders per day over the last 30 days; {}.",
                standing(&orders, days, count, ("highest", "lowest"))
            ),
        ),
    };
    let notes = capacity_label(&capacity, f);
    let mut lines = vec![Line {
        label: "Orders".into(),
        color: palette::SERIES_LIGHT,
        style: LineStyle::Bars,
        values: orders.clone(),
    }];
    if with_capacity {
        lines.push(capacity_line(capacity));
    }
    unless_thin("Orders, last 30 days", &orders, || {
        spec(
            "orders_capacity",
            title.to_string(),
            alt,
            ChartKind::Time(TimeChart {
                band: None,
                divider: None,
                notes,
                days: days.clone(),
                primary: Axis {
                    lines: drawable(lines),
                    unit: AxisUnit::Count,
                },
                secondary: None,
            }),
        )
    })
}

/// "Capacity 292" on the capacity line's last day: a threshold line says what it is.
fn capacity_label(capacity: &[Option<f64>], f: &Formatter) -> Vec<Note> {
    capacity
        .last()
        .copied()
        .flatten()
        .map(|c| Note {
            day: capacity.len().saturating_sub(1),
            value: c,
            text: format!("Capacity {}", f.amount(Unit::Count, c.round())),
            color: palette::BAD,
        })
        .into_iter()
        .collect()
}

/// Days a headline tile's sparkline covers.
const SPARK_DAYS: u64 = 14;

/// A headline metric's last 14 days as a sparkline; its alt text says where yesterday
/// stands among them.
pub(super) fn spark_chart(
    m: &MetricResult,
    d: NaiveDate,
    inputs: &DigestInputs,
    f: &Formatter,
) -> ChartSpec {
    let days: Vec<NaiveDate> = (0..SPARK_DAYS).rev().map(|i| d - Days::new(i)).collect();
    let series = inputs.fetched.get(&m.key).and_then(|s| s.get(&None));
    let values = match m.aggregate {
        crate::metrics::metric::Aggregate::Sum => daily(series, &days, |n, _| Some(n)),
        _ => daily(series, &days, ratio),
    };
    let fmt = |v: f64| f.amount(m.unit, v);
    let alt = format!(
        "{} per day over the last {SPARK_DAYS} days; {}.",
        cap(&m.label, ALT_NAME),
        standing(&values, &days, fmt, ("highest", "lowest"))
    );
    let id = format!("spark_{}", m.key);
    spec(
        &id,
        format!("{}, last {SPARK_DAYS} days", m.label),
        alt,
        ChartKind::Spark(chart::SparkChart {
            values,
            color: palette::PRIMARY,
        }),
    )
}

/// A key result's progress at the end of each week of its cycle, as a sparkline; its alt
/// text says where it started and where it stands.
pub(super) fn trend_spark(
    id: &str,
    label: &str,
    weeks: &[NaiveDate],
    at: &[okr::KrStatus],
    f: &Formatter,
) -> ChartSpec {
    let values: Vec<Option<f64>> = at.iter().map(|s| s.progress).collect();
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |p| f.amount(Unit::Percent, p));
    let alt = format!(
        "{} progress week by week: {} on {}, {} on {}.",
        cap(label, ALT_NAME),
        pct(values.first().copied().flatten()),
        weeks
            .first()
            .map_or(String::new(), |d| d.format("%-d %b").to_string()),
        pct(values.last().copied().flatten()),
        weeks
            .last()
            .map_or(String::new(), |d| d.format("%-d %b").to_string()),
    );
    spec(
        id,
        format!("{}, week by week", cap(label, ALT_NAME)),
        alt,
        ChartKind::Spark(chart::SparkChart {
            values,
            color: palette::PRIMARY,
        }),
    )
}

/// The band of the channels after the two largest, together.
const OTHER_CHANNELS: &str = "Other channels";

/// The stacked channels' hatching, largest first: apart by more than their hue.
const CHANNEL_HATCH: [Hatch; 3] = [Hatch::Plain, Hatch::Stripes, Hatch::Dots];

/// Sessions per day by channel (the largest few), and conversion.
fn traffic_chart(cx: &ChartCtx<'_>) -> Built {
    let days = &cx.days;
    let channel_lines = channel_bands(cx);
    // The main series: all sessions, on the days any channel has a figure.
    let total: Vec<Option<f64>> = (0..days.len())
        .map(|i| {
            let known: Vec<f64> = channel_lines
                .iter()
                .filter_map(|l| l.values.get(i).copied().flatten())
                .collect();
            (!known.is_empty()).then(|| known.iter().sum())
        })
        .collect();
    let alt = format!(
        "Sessions per day by channel, stacked, over the last 30 days; {}.",
        traffic_fact(cx.f, &channel_lines, &total)
    );
    unless_thin("Sessions by channel, last 30 days", &total, || {
        spec(
            "traffic",
            "Sessions by channel, last 30 days".into(),
            alt,
            ChartKind::Time(TimeChart::over(
                days.clone(),
                Axis {
                    lines: channel_lines,
                    unit: AxisUnit::Count,
                },
                None,
            )),
        )
    })
}

/// Each channel's sessions as a band, ranked by yesterday so that the channel that moved is
/// one of the two named; three bands at most on a phone: the two largest, and the rest
/// together.
fn channel_bands(cx: &ChartCtx<'_>) -> Vec<Line> {
    let days = &cx.days;
    let mut channel_lines: Vec<(f64, Line)> = cx
        .inputs
        .fetched
        .get("sessions_by_channel")
        .map(|m| {
            m.iter()
                .filter_map(|(dim, s)| {
                    let dim = dim.as_ref()?;
                    let values = daily(Some(s), days, |n, _| Some(n));
                    // A channel without a session in the chart's days has no band.
                    values.iter().any(Option::is_some).then_some(())?;
                    let yesterday = values.last().copied().flatten().unwrap_or(0.0);
                    Some((
                        yesterday,
                        Line {
                            label: cap(&dim.replace('_', " "), text::LABEL),
                            color: palette::PRIMARY,
                            style: LineStyle::Area(Hatch::Plain),
                            values,
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    channel_lines.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.label.cmp(&b.1.label)));
    let mut rest: Option<Line> = None;
    for (_, l) in channel_lines.drain(2.min(channel_lines.len())..) {
        let r = rest.get_or_insert_with(|| Line {
            label: OTHER_CHANNELS.into(),
            color: palette::SERIES[2],
            style: LineStyle::Area(Hatch::Plain),
            values: vec![None; l.values.len()],
        });
        for (a, b) in r.values.iter_mut().zip(&l.values) {
            *a = match (*a, *b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            };
        }
    }
    channel_lines
        .into_iter()
        .map(|(_, l)| l)
        .chain(rest)
        .enumerate()
        .map(|(i, mut l)| {
            l.color = palette::SERIES[i];
            l.style = LineStyle::Area(CHANNEL_HATCH[i]);
            l
        })
        .collect()
}

/// Yesterday's sessions, and the largest single channel ("Other channels" is several).
fn traffic_fact(f: &Formatter, channel_lines: &[Line], total: &[Option<f64>]) -> String {
    let count = |v: f64| f.amount(Unit::Count, v);
    let leader = channel_lines
        .iter()
        .filter(|l| l.label != OTHER_CHANNELS)
        .filter_map(|l| Some((l, l.values.last().copied().flatten()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match (total.last().copied().flatten(), leader) {
        (Some(all), Some((l, v))) => format!(
            "yesterday {} sessions, the most from {} ({})",
            count(all),
            cap(&l.label, ALT_NAME),
            count(v)
        ),
        (Some(all), None) => format!("yesterday {} sessions", count(all)),
        (None, _) => "no sessions recorded yesterday".to_string(),
    }
}

/// Hours from order to shipment, and on-time delivery.
fn fulfilment_chart(cx: &ChartCtx<'_>) -> Built {
    let (days, f) = (&cx.days, cx.f);
    let hours = daily(cx.get("fulfilment_hours"), days, ratio);
    // On-time delivery has its own row and rule: one unit, one axis, on a phone.
    let alt = format!(
        "Hours from order to shipment per day over the last 30 days; {}.",
        standing(
            &hours,
            days,
            |v| f.amount(Unit::Hours, v),
            ("slowest", "fastest")
        ),
    );
    unless_thin("Time to ship, last 30 days", &hours, || {
        spec(
            "fulfilment",
            "Time to ship, last 30 days".into(),
            alt,
            ChartKind::Time(TimeChart::over(
                days.clone(),
                Axis {
                    lines: drawable(vec![Line {
                        label: "Hours to ship".into(),
                        color: palette::SERIES_LIGHT,
                        style: LineStyle::Bars,
                        values: hours.clone(),
                    }]),
                    unit: AxisUnit::Hours,
                },
                None,
            )),
        )
    })
}

/// The last (yesterday's) value of a chart series, formatted, or "no data".
fn last(values: &[Option<f64>], fmt: impl Fn(f64) -> String) -> String {
    values
        .last()
        .copied()
        .flatten()
        .map_or("no data".into(), fmt)
}

/// Where yesterday stands among the chart's days, the one fact an alt text adds to what the
/// chart shows: "yesterday £32,307 is the highest", "yesterday 18.0 h, against a high of
/// 26.0 h on 3 Dec", or, without a figure for yesterday, where the last one stands. `words` name
/// the top and the bottom ("highest", "lowest"; "slowest", "fastest").
fn standing(
    values: &[Option<f64>],
    days: &[NaiveDate],
    fmt: impl Fn(f64) -> String,
    (top, bottom): (&str, &str),
) -> String {
    let known: Vec<(NaiveDate, f64)> = days
        .iter()
        .zip(values)
        .filter_map(|(d, v)| Some((*d, (*v)?)))
        .collect();
    let hi = known.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let lo = known.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let (Some(hi), Some(lo)) = (hi, lo) else {
        return "no data yet".into();
    };
    let Some(&(day, v)) = known.last() else {
        return "no data yet".into();
    };
    let (subject, pause) = if Some(day) == days.last().copied() {
        (format!("yesterday {}", fmt(v)), "")
    } else {
        (
            format!("the last figure, {} on {}", fmt(v), day.format("%-d %b")),
            ",",
        )
    };
    if known.len() == 1 {
        subject
    } else if hi.1 - lo.1 < 1e-9 {
        format!("{subject}{pause} as on every day")
    } else if v >= hi.1 {
        format!("{subject}{pause} is the {top}")
    } else if v <= lo.1 {
        format!("{subject}{pause} is the {bottom}")
    } else {
        format!(
            "{subject}, against a high of {} on {}",
            fmt(hi.1),
            hi.0.format("%-d %b")
        )
    }
}

/// Draws every chart of a digest: (view, PNG bytes).
pub fn draw_charts(specs: &[ChartSpec]) -> anyhow::Result<Vec<(ChartView, Vec<u8>)>> {
    specs
        .iter()
        .map(|s| Ok((s.view.clone(), chart::render_png(&s.kind)?)))
        .collect()
}

/// The warehouse's capacity, in short dashes in the colour of a problem: the same in every
/// chart, apart from a comparison's long ones.
fn capacity_line(values: Vec<Option<f64>>) -> Line {
    Line {
        label: "Capacity".into(),
        color: palette::BAD,
        style: LineStyle::Dashed(Dash::Short),
        values,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::NumberFormat;
    use crate::metrics::calendar::Calendar;
    use crate::metrics::compare::DayRow;
    use crate::metrics::forecast::{History, forecast};
    use crate::metrics::metric::{Aggregate, Direction};

    /// The report date.
    fn d() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    /// A series with a row on each of the `n` days to the report date; `row(k)` is the row of
    /// the day `k` days before it.
    fn series(n: u64, row: impl Fn(u64) -> (f64, f64)) -> Series {
        let mut s = Series::default();
        for k in 0..n {
            let (num, den) = row(k);
            s.insert(d() - Days::new(k), DayRow { num, den });
        }
        s
    }

    /// Inputs with `n` days of data to the report date for every time chart, capacity among
    /// them, and a traffic breakdown of four channels.
    fn inputs(n: u64) -> DigestInputs {
        let mut i = DigestInputs::default();
        let mut put = |key: &str, s: Series| {
            i.fetched
                .series
                .insert(key.to_string(), BTreeMap::from([(None, s)]));
        };
        let orders = |k: u64| 150.0 + 10.0 * (k % 5) as f64;
        // Yesterday is the highest day of revenue.
        put(
            "net_revenue",
            series(n, |k| (32_307.0 - 500.0 * (k.min(1) + k % 7) as f64, 1.0)),
        );
        put("orders", series(n, |k| (orders(k), 1.0)));
        put("capacity_utilisation", series(n, |k| (orders(k), 240.0)));
        // Yesterday the fastest.
        let hours = |k: u64| 20.0 + 2.0 * (k % 4) as f64;
        put(
            "fulfilment_hours",
            series(n, |k| (hours(k) * orders(k), orders(k))),
        );
        let channels: BTreeMap<Option<String>, Series> = [
            ("paid_social", 2600.0),
            ("organic", 2000.0),
            ("email", 900.0),
            ("referral", 300.0),
        ]
        .into_iter()
        .map(|(c, v)| (Some(c.to_string()), series(n, |_| (v, 1.0))))
        .collect();
        i.fetched
            .series
            .insert("sessions_by_channel".into(), channels);
        i
    }

    /// A week ahead forecast from 200 days of about 150 orders.
    fn ahead() -> Vec<DayForecast> {
        let orders: BTreeMap<NaiveDate, f64> = (0..200)
            .map(|k| (d() - Days::new(k), 150.0 + 10.0 * (k % 5) as f64))
            .collect();
        let h = History::new(orders, Vec::new(), Calendar::default());
        let out = forecast(&h, d(), 7);
        assert_eq!(out.len(), 7);
        out
    }

    fn config() -> Config {
        Config::demo(Path::new("/data")).unwrap()
    }

    fn f() -> Formatter {
        Formatter::new(NumberFormat::default(), "£".into())
    }

    fn ids(specs: &[ChartSpec]) -> Vec<&str> {
        specs.iter().map(|s| s.view.id.as_str()).collect()
    }

    #[test]
    fn a_time_chart_needs_a_week_of_data() {
        let (c, f) = (config(), f());
        // Six days: no time chart, a note for each in its place.
        let six = inputs(6);
        let (drawn, notes) = charts(&c, d(), &six, &[], &f);
        assert!(drawn.is_empty());
        assert_eq!(
            notes,
            [
                "Net revenue, last 30 days: not drawn until there are 7 days of data (6 so far).",
                "Orders, last 30 days: not drawn until there are 7 days of data (6 so far).",
                "Sessions by channel, last 30 days: not drawn until there are 7 days of data (6 so far).",
                "Time to ship, last 30 days: not drawn until there are 7 days of data (6 so far).",
            ]
        );
        // Orders with the week ahead count the days behind only.
        let notes = charts(&c, d(), &six, &ahead(), &f).1;
        assert_eq!(
            notes[1],
            "Orders, last 14 days and the 7 ahead: not drawn until there are 7 days of data (6 so far)."
        );
        // Seven: every chart, and no note.
        let seven = inputs(7);
        assert_eq!(
            ids(&charts(&c, d(), &seven, &[], &f).0),
            ["revenue", "orders_capacity", "traffic", "fulfilment"]
        );
        assert!(charts(&c, d(), &seven, &[], &f).1.is_empty());
        assert_eq!(
            ids(&charts(&c, d(), &seven, &ahead(), &f).0),
            ["revenue", "orders_ahead", "traffic", "fulfilment"]
        );
        // None at all.
        let none = charts(&c, d(), &DigestInputs::default(), &[], &f).1;
        assert_eq!(
            none[0],
            "Net revenue, last 30 days: not drawn until there are 7 days of data (none so far)."
        );
    }

    /// Every chart of a month of data, with and without the week ahead, the key results and
    /// a sparkline.
    fn every_chart() -> Vec<ChartSpec> {
        let (c, f, i) = (config(), f(), inputs(40));
        let mut out = charts(&c, d(), &i, &[], &f).0;
        out.extend(charts(&c, d(), &i, &ahead(), &f).0);
        let kr = |label: &str, status, progress| KrChartRow {
            label: label.into(),
            progress: Some(progress),
            expected: 0.7,
            status,
            current: "1.1%".into(),
            target: "1.5%".into(),
        };
        out.push(kr_chart(&[
            kr("Conversion rate", Status::AtRisk, 0.55),
            kr("Time to ship", Status::Achieved, 1.2),
            kr(
                &"A key result with a very long name ".repeat(4),
                Status::OffTrack,
                0.1,
            ),
        ]));
        let m = MetricResult {
            key: "net_revenue".into(),
            label: "Net revenue".into(),
            team: Team::Shared,
            unit: Unit::Money,
            direction: Direction::HigherIsBetter,
            aggregate: Aggregate::Sum,
            description: String::new(),
            comparisons: Vec::new(),
            unavailable: None,
            plan: None,
            breakdown: Vec::new(),
        };
        out.push(spark_chart(&m, d(), &i, &f));
        out
    }

    #[test]
    fn alt_texts_say_what_a_chart_shows_in_one_short_sentence() {
        let all = every_chart();
        assert_eq!(all.len(), 10);
        for s in &all {
            let alt = &s.view.alt;
            let n = alt.chars().count();
            assert!(n <= ALT_MAX, "{} has {n} characters: {alt}", s.view.id);
            assert!(
                alt.ends_with('.') && !alt[..alt.len() - 1].contains(". "),
                "{alt}"
            );
        }
        let alt = |id: &str| {
            all.iter()
                .find(|s| s.view.id == id)
                .map(|s| s.view.alt.as_str())
                .unwrap()
        };
        assert_eq!(
            alt("revenue"),
            "Net revenue per day over the last 30 days, the week before dashed; yesterday £32,307 is the highest."
        );
        assert_eq!(
            alt("orders_capacity"),
            "Orders per day over the last 30 days against capacity (dashed); yesterday 150 orders, 62.5% of capacity."
        );
        assert_eq!(
            alt("traffic"),
            "Sessions per day by channel, stacked, over the last 30 days; yesterday 5,800 sessions, the most from paid social (2,600)."
        );
        assert_eq!(
            alt("fulfilment"),
            "Hours from order to shipment per day over the last 30 days; yesterday 20.0 h is the fastest."
        );
        assert!(alt("orders_ahead").starts_with(
            "Orders per day, last 14 days and 7 ahead, the likely range shaded, against capacity; "
        ));
        // The one furthest behind is named while the sentence stays short...
        assert_eq!(
            alt("key_results"),
            "3 key results against the pace expected by now: 1 off track, 1 at risk, 1 achieved."
        );
        // ...as with a shorter name.
        let row = |label: &str, status, progress| KrChartRow {
            label: label.into(),
            progress: Some(progress),
            expected: 0.7,
            status,
            current: "1.1%".into(),
            target: "1.5%".into(),
        };
        let rows = [
            row("Conversion rate", Status::AtRisk, 0.55),
            row("Time to ship", Status::Achieved, 1.2),
            row("Repeat purchase rate", Status::OffTrack, 0.1),
        ];
        assert_eq!(
            kr_chart(&rows).view.alt,
            "3 key results against the pace expected by now: 1 off track, 1 at risk, 1 achieved; \
             furthest behind, Repeat purchase rate at 1.1% of 1.5%."
        );
        assert_eq!(
            alt("spark_net_revenue"),
            "Net revenue per day over the last 14 days; yesterday £32,307 is the highest."
        );
    }

    #[test]
    fn where_yesterday_stands() {
        let days: Vec<NaiveDate> = (0..4).rev().map(|k| d() - Days::new(k)).collect();
        let words = ("highest", "lowest");
        let say = |v: [Option<f64>; 4]| standing(&v, &days, |x| format!("{x}"), words);
        assert_eq!(
            say([Some(1.0), Some(3.0), None, Some(2.0)]),
            "yesterday 2, against a high of 3 on 4 Dec"
        );
        assert_eq!(
            say([Some(1.0), Some(3.0), None, Some(0.5)]),
            "yesterday 0.5 is the lowest"
        );
        assert_eq!(
            say([Some(2.0), Some(2.0), None, Some(2.0)]),
            "yesterday 2 as on every day"
        );
        assert_eq!(
            say([Some(1.0), Some(3.0), None, None]),
            "the last figure, 3 on 4 Dec, is the highest"
        );
        assert_eq!(say([None, None, None, Some(7.0)]), "yesterday 7");
        assert_eq!(say([None; 4]), "no data yet");
    }

    #[test]
    fn no_two_series_of_a_chart_look_alike_without_their_colour() {
        for s in every_chart() {
            if let ChartKind::Time(t) = &s.kind {
                assert_eq!(t.alike(), None, "{}", s.view.id);
                assert!(!t.primary.lines.is_empty(), "{}", s.view.id);
            }
        }
    }

    #[test]
    fn a_series_without_data_is_left_out_with_its_legend_entry() {
        let (c, f) = (config(), f());
        // Seven days of revenue: none on the days a week before the chart's, so "A week
        // earlier" has nothing to draw, and is left out, its legend entry with it.
        let mut i = inputs(7);
        i.fetched.series.remove("capacity_utilisation");
        let specs = charts(&c, d(), &i, &[], &f).0;
        let revenue = &specs[0];
        let ChartKind::Time(t) = &revenue.kind else {
            panic!("not a time chart")
        };
        let labels: Vec<&str> = t.primary.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["Net revenue"]);
        assert_eq!(revenue.view.title, "Net revenue, last 30 days");
        assert!(!revenue.view.alt.contains("dashed"), "{}", revenue.view.alt);
        // Orders without capacity figures: no capacity line, title or alt.
        let ChartKind::Time(t) = &specs[1].kind else {
            panic!("not a time chart")
        };
        let labels: Vec<&str> = t.primary.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["Orders"]);
        assert!(!specs[1].view.alt.contains("capacity"));
        // With three days more, the week before has data on three days, and its line is back.
        let specs = charts(&c, d(), &inputs(10), &[], &f).0;
        let ChartKind::Time(t) = &specs[0].kind else {
            panic!("not a time chart")
        };
        assert_eq!(t.primary.lines.len(), 2);
    }
}
