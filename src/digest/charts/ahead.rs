//! The week-ahead chart: the last 14 days' orders, then the days ahead with their likely
//! range as a band, against capacity.

use super::*;

/// Days of actual orders before the days ahead.
const ACTUAL_DAYS: u64 = 14;

/// The last 14 days' orders, then the days ahead: expected orders with their range as a
/// band, and capacity as a labelled line across both.
pub(super) fn orders_ahead_chart(cx: &ChartCtx<'_>, d: NaiveDate, ahead: &[DayForecast]) -> Built {
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
    let main = actual[..past.len()].to_vec();
    let lines = orders_ahead_lines(actual, pad(|a| a.expected), capacity, with_capacity);
    let name = format!(
        "Orders, last {ACTUAL_DAYS} days and the {} ahead",
        ahead.len()
    );
    unless_thin(&name, &main, || {
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
    })
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

/// The orders chart's alt text: what it shows, and the day ahead that matters most: the
/// first whose range reaches capacity, else the busiest expected.
fn orders_ahead_alt(
    f: &Formatter,
    ahead: &[DayForecast],
    actual: &[Option<f64>],
    capacity: &[Option<f64>],
) -> String {
    let count = |v: f64| f.amount(Unit::Count, v.round());
    let past = capacity.len().saturating_sub(ahead.len());
    let open = || ahead.iter().enumerate().filter(|(_, a)| a.closed.is_none());
    let reaches = open().find_map(|(i, a)| {
        let c = capacity.get(past + i).copied().flatten()?;
        (a.high >= c).then_some((a, c))
    });
    let busiest = open()
        .map(|(_, a)| a)
        .max_by(|a, b| a.expected.total_cmp(&b.expected));
    let fact = match (reaches, busiest) {
        (Some((a, c)), _) => format!(
            "the range reaches capacity ({}) on {}",
            count(c),
            forecast::day_label(a.day)
        ),
        (None, Some(a)) => format!(
            "busiest expected {}, about {}",
            forecast::day_label(a.day),
            count(a.expected)
        ),
        (None, None) => format!("yesterday {}", last(actual, count)),
    };
    format!(
        "Orders per day, last {ACTUAL_DAYS} days and {} ahead, the likely range shaded{}; {fact}.",
        ahead.len(),
        if capacity.iter().any(Option::is_some) {
            ", against capacity"
        } else {
            ""
        },
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
            style: LineStyle::Dashed(Dash::Long),
            values: expected,
        },
    ];
    if with_capacity {
        lines.push(capacity_line(capacity));
    }
    drawable(lines)
}
