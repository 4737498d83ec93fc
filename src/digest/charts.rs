//! The digest's charts: one chart spec per chart, with alt text that states its numbers,
//! built from the fetched series; and drawing them to PNG.

use super::*;
use crate::chart::{Band, Note};
use crate::metrics::forecast::{self, DayForecast};

pub(super) fn kr_chart(rows: &[KrChartRow]) -> ChartSpec {
    let alt_rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}: {} ({}, {}% expected by now, {}; target {})",
                r.label,
                r.current,
                match r.progress {
                    None => "progress n/a".to_string(),
                    Some(p) if p < 0.0 => "below the baseline".to_string(),
                    Some(p) => format!("{:.0}% of the way", p * 100.0),
                },
                (r.expected * 100.0).round(),
                r.status.label().to_lowercase(),
                r.target
            )
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
            alt: format!(
                "Key results, progress against the pace expected by now (tick). {}.",
                alt_rows.join("; ")
            ),
            width,
            height,
        },
        kind,
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
    /// "1 Feb to 1 Mar".
    range_label: String,
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

pub(super) fn charts(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    ahead: &[DayForecast],
    f: &Formatter,
) -> Vec<ChartSpec> {
    let days: Vec<NaiveDate> = (0..CHART_DAYS).rev().map(|i| d - Days::new(i)).collect();
    let cx = ChartCtx {
        week_before: days.iter().map(|x| *x - Days::new(7)).collect(),
        range_label: format!("{} to {}", days[0].format("%-d %b"), d.format("%-d %b")),
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

/// Net revenue per day, with the same weekday a week earlier.
fn revenue_chart(cx: &ChartCtx<'_>) -> ChartSpec {
    let (days, f, range_label) = (&cx.days, cx.f, &cx.range_label);
    let get = |key: &str| cx.get(key);
    let revenue = daily(get("net_revenue"), days, |n, _| Some(n));
    let revenue_prev = daily(get("net_revenue"), &cx.week_before, |n, _| Some(n));
    let alt = format!(
        "Net revenue per day, {range_label}: {}. Yesterday {} against {} on the same day a week earlier; 30-day total {}.",
        extremes(&revenue, days, |v| f.amount(Unit::Money, v)),
        last(&revenue, |v| f.amount(Unit::Money, v)),
        last(&revenue_prev, |v| f.amount(Unit::Money, v)),
        f.amount(Unit::Money, revenue.iter().flatten().sum())
    );
    spec(
        "revenue",
        "Net revenue, last 30 days (dashed: the week before)".to_string(),
        alt,
        ChartKind::Time(TimeChart {
            band: None,
            divider: None,
            notes: Vec::new(),
            days: days.clone(),
            primary: Axis {
                lines: vec![
                    Line {
                        label: "A week earlier".into(),
                        color: palette::COMPARE,
                        style: LineStyle::Dashed,
                        values: revenue_prev,
                    },
                    Line {
                        label: "Net revenue".into(),
                        color: palette::PRIMARY,
                        style: LineStyle::Solid,
                        values: revenue,
                    },
                ],
                unit: cx.money.clone(),
            },
            secondary: None,
        }),
    )
}

/// Orders per day against warehouse capacity.
fn orders_chart(cx: &ChartCtx<'_>) -> ChartSpec {
    let (days, f, range_label) = (&cx.days, cx.f, &cx.range_label);
    let get = |key: &str| cx.get(key);
    let cap = get("capacity_utilisation");
    let orders = daily(get("orders"), days, |n, _| Some(n));
    let capacity = daily(cap, days, |_, den| (den > 0.0).then_some(den));
    let busiest = days
        .iter()
        .zip(orders.iter().zip(&capacity))
        .filter_map(|(day, (o, c))| Some((*day, (*o)?, (*c)?)))
        .max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)));
    let alt = format!(
        "Orders per day against warehouse capacity, {range_label}: {}. Yesterday {} orders, capacity {}.{}",
        extremes(&orders, days, |v| f.amount(Unit::Count, v)),
        last(&orders, |v| f.amount(Unit::Count, v)),
        last(&capacity, |v| f.amount(Unit::Count, v)),
        busiest.map_or(String::new(), |(day, o, c)| format!(
            " Busiest: {} with {} orders, {} of capacity.",
            day.format("%-d %b"),
            f.amount(Unit::Count, o),
            f.amount(Unit::Percent, o / c)
        ))
    );
    let notes = capacity_label(&capacity, f);
    // Without capacity figures the chart is of orders alone, and says no more.
    let with_capacity = capacity.iter().any(Option::is_some);
    let (title, alt) = if with_capacity {
        (
            "Orders against warehouse capacity, last 30 days".to_string(),
            alt,
        )
    } else {
        (
            "Orders, last 30 days".to_string(),
            format!(
                "Orders per day, {range_label}: {}. Yesterday {} orders.",
                extremes(&orders, days, |v| f.amount(Unit::Count, v)),
                last(&orders, |v| f.amount(Unit::Count, v)),
            ),
        )
    };
    let mut lines = vec![Line {
        label: "Orders".into(),
        color: palette::SERIES_LIGHT,
        style: LineStyle::Bars,
        values: orders,
    }];
    if with_capacity {
        lines.push(capacity_line(capacity));
    }
    spec(
        "orders_capacity",
        title,
        alt,
        ChartKind::Time(TimeChart {
            band: None,
            divider: None,
            notes,
            days: days.clone(),
            primary: Axis {
                lines,
                unit: AxisUnit::Count,
            },
            secondary: None,
        }),
    )
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

/// A headline metric's last 14 days as a sparkline, its numbers in the alt text.
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
        "{} per day, {} to {}: {}; yesterday {}.",
        m.label,
        days[0].format("%-d %b"),
        d.format("%-d %b"),
        extremes(&values, &days, fmt),
        last(&values, fmt)
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

/// Days of actual orders before the days ahead.
const ACTUAL_DAYS: u64 = 14;

/// The last 14 days' orders, then the days ahead: expected orders with their range as a
/// band, and capacity as a labelled line across both.
fn orders_ahead_chart(cx: &ChartCtx<'_>, d: NaiveDate, ahead: &[DayForecast]) -> ChartSpec {
    let past: Vec<NaiveDate> = (0..ACTUAL_DAYS).rev().map(|i| d - Days::new(i)).collect();
    let days: Vec<NaiveDate> = past
        .iter()
        .copied()
        .chain(ahead.iter().map(|a| a.day))
        .collect();
    let actual = daily(cx.get("orders"), &days, |n, _| Some(n));
    let capacity = capacity_per_day(cx, &days);
    let pad = |get: fn(&DayForecast) -> f64| pad_ahead(past.len(), ahead, get);
    let with_capacity = capacity.iter().any(Option::is_some);
    let alt = orders_ahead_alt(cx.f, ahead, &actual[..past.len()], &capacity);
    let notes = capacity_label(&capacity, cx.f);
    let lines = orders_ahead_lines(actual, pad(|a| a.expected), capacity, with_capacity);
    spec(
        "orders_ahead",
        format!(
            "Orders: last {ACTUAL_DAYS} days and the {} ahead (shaded: the likely range){}",
            ahead.len(),
            if with_capacity {
                ", against capacity"
            } else {
                ""
            }
        ),
        alt,
        ChartKind::Time(TimeChart {
            band: Some(Band {
                // Drawn with "Expected", whose range it is: one series, not two.
                label: String::new(),
                color: palette::BAND,
                low: pad(|a| a.low),
                high: pad(|a| a.high),
            }),
            divider: Some((past.len(), "ahead".into())),
            notes,
            days,
            primary: Axis {
                lines,
                unit: AxisUnit::Count,
            },
            secondary: None,
        }),
    )
}

/// Capacity on each of `days`: as recorded on a day behind, as planned on a day ahead.
fn capacity_per_day(cx: &ChartCtx<'_>, days: &[NaiveDate]) -> Vec<Option<f64>> {
    let planned = &cx.inputs.capacity_plan;
    days.iter()
        .zip(daily(cx.get("capacity_utilisation"), days, |_, den| {
            (den > 0.0).then_some(den)
        }))
        .map(|(day, past)| past.or_else(|| alert::capacity_on(planned, *day).map(|(c, _)| c)))
        .collect()
}

/// One value of each day ahead, after `past` gaps for the days behind.
fn pad_ahead(past: usize, ahead: &[DayForecast], get: fn(&DayForecast) -> f64) -> Vec<Option<f64>> {
    // A closed day ahead is a gap, as a closed day behind is: no orders are expected of it.
    std::iter::repeat_n(None, past)
        .chain(ahead.iter().map(|a| a.closed.is_none().then(|| get(a))))
        .collect()
}

/// The orders chart's alt text: yesterday's orders, each day ahead's range, and capacity.
fn orders_ahead_alt(
    f: &Formatter,
    ahead: &[DayForecast],
    actual: &[Option<f64>],
    capacity: &[Option<f64>],
) -> String {
    let count = |v: f64| f.amount(Unit::Count, v.round());
    let ahead_text: Vec<String> = ahead
        .iter()
        .map(|a| match &a.closed {
            Some(_) => format!("{} closed", forecast::day_label(a.day)),
            None => format!(
                "{} {} ({}-{})",
                forecast::day_label(a.day),
                count(a.expected),
                count(a.low),
                count(a.high)
            ),
        })
        .collect();
    let with_capacity = capacity.iter().any(Option::is_some);
    let capacity_text = match capacity.last().copied().flatten() {
        Some(c) => format!(" Capacity {}.", count(c)),
        None if with_capacity => " Capacity unknown.".to_string(),
        None => String::new(),
    };
    format!(
        "Orders per day, the last {ACTUAL_DAYS} days and the {} ahead. Yesterday {} orders. Expected, with the range of 8 in 10 days: {}.{capacity_text}",
        ahead.len(),
        last(actual, count),
        ahead_text.join("; "),
    )
}

/// The orders chart's lines: orders, expected orders, and capacity where there is one.
fn orders_ahead_lines(
    actual: Vec<Option<f64>>,
    expected: Vec<Option<f64>>,
    capacity: Vec<Option<f64>>,
    with_capacity: bool,
) -> Vec<Line> {
    let mut lines = vec![
        Line {
            label: "Orders".into(),
            color: palette::PRIMARY,
            style: LineStyle::Solid,
            values: actual,
        },
        Line {
            label: "Expected".into(),
            color: palette::PRIMARY,
            style: LineStyle::Dashed,
            values: expected,
        },
    ];
    if with_capacity {
        lines.push(capacity_line(capacity));
    }
    lines
}

/// Sessions per day by channel (the largest few), and conversion.
fn traffic_chart(cx: &ChartCtx<'_>) -> ChartSpec {
    let (days, f, range_label) = (&cx.days, cx.f, &cx.range_label);
    let by_channel = cx.inputs.fetched.get("sessions_by_channel");
    let mut channel_lines: Vec<(f64, Line)> = by_channel
        .map(|m| {
            m.iter()
                .filter_map(|(dim, s)| {
                    let dim = dim.as_ref()?;
                    let values = daily(Some(s), days, |n, _| Some(n));
                    // Ranked by yesterday: the channel that moved is one of the two named.
                    let yesterday = values.last().copied().flatten().unwrap_or(0.0);
                    Some((
                        yesterday,
                        Line {
                            label: cap(&dim.replace('_', " "), text::LABEL),
                            color: palette::PRIMARY,
                            style: LineStyle::Area,
                            values,
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    channel_lines.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.label.cmp(&b.1.label)));
    // Three bands at most on a phone: the two largest channels, and the rest together.
    let mut rest: Option<Line> = None;
    for (_, l) in channel_lines.drain(2.min(channel_lines.len())..) {
        let r = rest.get_or_insert_with(|| Line {
            label: "Other channels".into(),
            color: palette::SERIES[2],
            style: LineStyle::Area,
            values: vec![None; l.values.len()],
        });
        for (a, b) in r.values.iter_mut().zip(&l.values) {
            *a = match (*a, *b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            };
        }
    }
    let channel_lines: Vec<Line> = channel_lines
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut l))| {
            l.color = palette::SERIES[i];
            l
        })
        .chain(rest)
        .collect();
    let alt = format!(
        "Sessions per day by channel, {range_label}. Yesterday: {}.",
        channel_lines
            .iter()
            .map(|l| format!(
                "{} {}",
                l.label,
                last(&l.values, |v| f.amount(Unit::Count, v))
            ))
            .collect::<Vec<_>>()
            .join(", "),
    );
    spec(
        "traffic",
        "Sessions by channel, last 30 days".into(),
        alt,
        ChartKind::Time(TimeChart {
            band: None,
            divider: None,
            notes: Vec::new(),
            days: days.clone(),
            primary: Axis {
                lines: channel_lines,
                unit: AxisUnit::Count,
            },
            secondary: None,
        }),
    )
}

/// Hours from order to shipment, and on-time delivery.
fn fulfilment_chart(cx: &ChartCtx<'_>) -> ChartSpec {
    let (days, f, range_label) = (&cx.days, cx.f, &cx.range_label);
    let hours = daily(cx.get("fulfilment_hours"), days, ratio);
    // On-time delivery has its own row and rule: one unit, one axis, on a phone.
    let alt = format!(
        "Hours from order to shipment, {range_label}: {}; yesterday {}.",
        extremes(&hours, days, |v| f.amount(Unit::Hours, v)),
        last(&hours, |v| f.amount(Unit::Hours, v)),
    );
    spec(
        "fulfilment",
        "Time to ship, last 30 days".into(),
        alt,
        ChartKind::Time(TimeChart {
            band: None,
            divider: None,
            notes: Vec::new(),
            days: days.clone(),
            primary: Axis {
                lines: vec![Line {
                    label: "Hours to ship".into(),
                    color: palette::SERIES_LIGHT,
                    style: LineStyle::Bars,
                    values: hours,
                }],
                unit: AxisUnit::Hours,
            },
            secondary: None,
        }),
    )
}

/// The last (yesterday's) value of a chart series, formatted, or "no data".
fn last(values: &[Option<f64>], fmt: impl Fn(f64) -> String) -> String {
    values
        .last()
        .copied()
        .flatten()
        .map_or("no data".into(), fmt)
}

/// "lowest X on D, highest Y on D".
fn extremes(values: &[Option<f64>], days: &[NaiveDate], fmt: impl Fn(f64) -> String) -> String {
    let known: Vec<(NaiveDate, f64)> = days
        .iter()
        .zip(values)
        .filter_map(|(d, v)| Some((*d, (*v)?)))
        .collect();
    let lo = known.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let hi = known.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!(
            "lowest {} on {}, highest {} on {}",
            fmt(lo.1),
            lo.0.format("%-d %b"),
            fmt(hi.1),
            hi.0.format("%-d %b")
        ),
        _ => "no data".into(),
    }
}

/// Draws every chart of a digest: (view, PNG bytes).
pub fn draw_charts(specs: &[ChartSpec]) -> anyhow::Result<Vec<(ChartView, Vec<u8>)>> {
    specs
        .iter()
        .map(|s| Ok((s.view.clone(), chart::render_png(&s.kind)?)))
        .collect()
}

/// The warehouse's capacity, dashed in the colour of a problem: the same in every chart.
fn capacity_line(values: Vec<Option<f64>>) -> Line {
    Line {
        label: "Capacity".into(),
        color: palette::BAD,
        style: LineStyle::Dashed,
        values,
    }
}
