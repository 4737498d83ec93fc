//! The time charts: days across, one value axis, lines, stacked areas and bars, an optional
//! range band, a divider between past and ahead, and notes; their axes placed by `axes`.

use super::*;

/// Running totals of the stacked `Area` lines, bottom first.
pub(super) fn stacked(axis: &Axis) -> Vec<(usize, Vec<f64>)> {
    let mut totals: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for (i, l) in axis
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.style.is_area())
    {
        if totals.is_empty() {
            totals = vec![0.0; l.values.len()];
        }
        for (t, v) in totals.iter_mut().zip(&l.values) {
            *t += v.unwrap_or(0.0);
        }
        out.push((i, totals.clone()));
    }
    out
}

pub(super) fn range(axis: &Axis, band: Option<&Band>, from_zero: bool) -> (f64, f64) {
    let stack_top = stacked(axis)
        .last()
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let band_values = band
        .into_iter()
        .flat_map(|b| b.low.iter().chain(&b.high).flatten().copied());
    let values = axis
        .lines
        .iter()
        .filter(|l| !l.style.is_area())
        .flat_map(|l| l.values.iter().flatten().copied())
        .chain(stack_top)
        .chain(band_values);
    let (mut lo, mut hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if (hi - lo).abs() < 1e-9 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if from_zero { lo } else { lo - pad }, hi + pad)
}

pub(super) fn segments(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push((i as f64, *v)),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// Draws a time chart; returns where its axis labels went.
pub(super) fn draw_time(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    t: &TimeChart,
) -> Result<Vec<Placed>> {
    let (y0, y1) = range(&t.primary, t.band.as_ref(), true);
    let entries = legend_entries(t);
    let places = legend_layout(root, &entries)?;
    let legend_bottom =
        places.last().map_or(0, |(_, y)| *y as u32) + legend::LEGEND_ROW * SCALE / 2;
    let ticks = axes::AxisTicks {
        primary: axes::ticks(root, &t.primary.unit, (y0, y1))?,
        secondary: match &t.secondary {
            Some(a) => axes::ticks(root, &a.unit, range(a, None, false))?,
            None => Vec::new(),
        },
    };
    let mut chart = time_axes(root, t, legend_bottom, (y0, y1), &ticks)?;
    let placed = time_labels(root, &chart, t, &ticks)?;
    if let Some(b) = &t.band {
        draw_band(&mut chart, b)?;
    }
    if let Some((i, label)) = &t.divider {
        draw_divider(&mut chart, *i as f64 - 0.5, label, (y0, y1))?;
    }
    draw_stacked(root, &mut chart, &t.primary)?;
    draw_lines(&mut chart, &t.primary)?;
    if let Some(sec) = &t.secondary {
        for line in &sec.lines {
            for seg in segments(&line.values) {
                match line_series(line, seg) {
                    Segment::Dashed(dashed) => chart.draw_secondary_series(dashed),
                    Segment::Solid(solid) => chart.draw_secondary_series(solid),
                }
                .map_err(draw_err)?;
            }
        }
    }
    draw_notes(&mut chart, &t.notes, y1 - y0)?;
    // Yesterday (the last day with a value of each solid line) is marked with a dot.
    for line in t
        .primary
        .lines
        .iter()
        .filter(|l| l.style == LineStyle::Solid)
    {
        mark_last(&mut chart, &line.values, line.color, 4 * SCALE)?;
    }
    let axis_y = chart.plotting_area().get_pixel_range().1.end;
    axes::draw_labels(root, &placed, axis_y)?;
    legend(root, &entries, &places)?;
    Ok(placed)
}

/// A time chart's coordinates: one slot per day, the primary axis on the left and an
/// optional secondary one on the right, with their meshes drawn; room left for the labels
/// of `ticks` beside them and for the days under them, which [`time_labels`] places.
fn time_axes<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    t: &TimeChart,
    legend_bottom: u32,
    (y0, y1): (f64, f64),
    ticks: &axes::AxisTicks,
) -> Result<TimeCoords<'a, 'b>> {
    let n = t.days.len().max(2);
    let x = -0.6..(n as f64 - 0.4);
    let widths = |v: &[(f64, String, u32)]| v.iter().map(|(_, _, w)| *w).collect::<Vec<_>>();
    // Room under the axis as if every value label were the lowest, on it.
    let lowest: Vec<&str> = ticks
        .primary
        .iter()
        .chain(&ticks.secondary)
        .map(|(_, text, _)| text.as_str())
        .collect();
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(8 * SCALE)
        .margin_right(if t.secondary.is_some() { 8 } else { 24 } * SCALE)
        .margin_top(legend_bottom + 6 * SCALE)
        .margin_bottom(0)
        .x_label_area_size(axes::days_area(&lowest))
        .y_label_area_size(axes::values_area(&widths(&ticks.primary)))
        .right_y_label_area_size(if t.secondary.is_some() {
            axes::values_area(&widths(&ticks.secondary))
        } else {
            0
        });
    let secondary_range = t.secondary.as_ref().map(|a| range(a, None, false));
    let (s0, s1) = secondary_range.unwrap_or((0.0, 1.0));
    let mut chart = builder
        .build_cartesian_2d(x.clone(), y0..y1)
        .map_err(draw_err)?
        .set_secondary_coord(x, s0..s1);
    let span = y1 - y0;
    // The mesh's gridlines and axis lines only: the labels are placed by `time_labels`.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2)
        .y_labels(t.primary.unit.label_count(span))
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|_| String::new())
        .set_all_tick_mark_size(0)
        .bold_line_style(palette::GRID.stroke_width(SCALE))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::COMPARE.stroke_width(SCALE))
        .draw()
        .map_err(draw_err)?;
    if t.secondary.is_some() {
        chart
            .configure_secondary_axes()
            .y_labels(2)
            .y_label_formatter(&|_| String::new())
            .axis_style(palette::COMPARE.stroke_width(SCALE))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(chart)
}

/// The coordinates of a time chart: days by the primary axis, days by the secondary one.
pub(super) type TimeCoords<'a, 'b> = DualCoordChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

/// A chart's coordinates in days (x) and the axis's unit (y).
pub(super) type DayCoords<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A dashed vertical line at `x` with its label, from the axis's bottom to its top.
fn draw_divider<DB: DrawingBackend>(
    chart: &mut DayCoords<'_, DB>,
    x: f64,
    label: &str,
    (y0, y1): (f64, f64),
) -> Result<()> {
    chart
        .draw_series(DashedLineSeries::new(
            [(x, y0), (x, y1)],
            4 * SCALE,
            4 * SCALE,
            palette::NEUTRAL.stroke_width(SCALE),
        ))
        .map_err(draw_err)?;
    chart
        .draw_series(std::iter::once(Text::new(
            label.to_string(),
            (x + 0.15, y0 + (y1 - y0) * 0.12),
            font(TEXT_PX).color(&palette::NEUTRAL),
        )))
        .map_err(draw_err)?;
    Ok(())
}

/// Stacked areas: each band is the polygon between its own running total and the one below
/// it, so every pixel is filled once, then crossed by its hatching.
fn draw_stacked(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    chart: &mut DayCoords<'_, BitMapBackend<'_>>,
    axis: &Axis,
) -> Result<()> {
    let mut below: Option<Vec<f64>> = None;
    for (i, totals) in stacked(axis) {
        let line = &axis.lines[i];
        let lower = below.take().unwrap_or_else(|| vec![0.0; totals.len()]);
        let mut outline: Vec<(f64, f64)> = totals
            .iter()
            .enumerate()
            .map(|(x, v)| (x as f64, *v))
            .collect();
        outline.extend(lower.iter().enumerate().rev().map(|(x, v)| (x as f64, *v)));
        chart
            .draw_series(std::iter::once(Polygon::new(outline, line.color.filled())))
            .map_err(draw_err)?;
        if let LineStyle::Area(hatch) = line.style {
            let column = |x: usize| {
                let (px, top) = chart.backend_coord(&(x as f64, totals[x]));
                (px, top, chart.backend_coord(&(x as f64, lower[x])).1)
            };
            for x in 1..totals.len() {
                fill_hatch(
                    root,
                    hatch,
                    pattern::columns_between(column(x - 1), column(x)),
                )?;
            }
        }
        below = Some(totals);
    }
    Ok(())
}

/// The primary axis's bars (side by side within a day) and lines, in the axis's order.
fn draw_lines<DB: DrawingBackend>(chart: &mut DayCoords<'_, DB>, axis: &Axis) -> Result<()> {
    let bar_count = axis.lines.iter().filter(|l| l.style == LineStyle::Bars);
    let width = 0.7 / bar_count.count().max(1) as f64;
    let mut bar_i = 0;
    for line in &axis.lines {
        match line.style {
            LineStyle::Area(_) => {}
            LineStyle::Bars => {
                draw_bars(chart, line, -0.35 + width * bar_i as f64, width)?;
                bar_i += 1;
            }
            LineStyle::Solid | LineStyle::Dashed(_) => {
                for seg in segments(&line.values) {
                    if let [point] = seg[..] {
                        // A day alone between gaps (a shop open one day between two closed
                        // ones) has no neighbour to draw a line to: a dot shows it.
                        draw_dot(chart, point, line.color, 3 * SCALE)?;
                        continue;
                    }
                    match line_series(line, seg) {
                        Segment::Dashed(dashed) => chart.draw_series(dashed),
                        Segment::Solid(solid) => chart.draw_series(solid),
                    }
                    .map_err(draw_err)?;
                }
            }
        }
    }
    Ok(())
}

/// One bar per day with a value, `offset` from the day's slot; yesterday's bar (the last
/// with a value) in the strong colour: marked.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut DayCoords<'_, DB>,
    line: &Line,
    offset: f64,
    width: f64,
) -> Result<()> {
    let last = line.values.iter().rposition(Option::is_some);
    chart
        .draw_series(line.values.iter().enumerate().filter_map(|(i, v)| {
            v.map(|v| {
                let x0 = i as f64 + offset;
                let color = if Some(i) == last {
                    palette::PRIMARY
                } else {
                    line.color
                };
                Rectangle::new([(x0, 0.0), (x0 + width * 0.9, v)], color.filled())
            })
        }))
        .map_err(draw_err)?;
    Ok(())
}

/// Notes above their day's value, right-aligned on the day so that a note on the last day
/// stays inside the chart.
fn draw_notes<DB: DrawingBackend>(
    chart: &mut DayCoords<'_, DB>,
    notes: &[Note],
    span: f64,
) -> Result<()> {
    for n in notes {
        let style = font(TEXT_PX)
            .color(&n.color)
            .pos(Pos::new(HPos::Right, VPos::Bottom));
        chart
            .draw_series(std::iter::once(Text::new(
                n.text.clone(),
                (n.day as f64 + 0.3, n.value + span * 0.03),
                style,
            )))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// The width of the band's edges in PNG pixels (1.5 CSS pixels): the fill alone is too pale
/// to see as a graphic (1.4:1 on white), so its edges carry it, at 3:1.
pub(super) const BAND_EDGE_WIDTH: u32 = 3 * SCALE / 2;

/// The band as one polygon per run of days with both ends known, its high and low edges
/// drawn in [`palette::BAND_EDGE`].
fn draw_band<DB: DrawingBackend>(chart: &mut DayCoords<'_, DB>, b: &Band) -> Result<()> {
    let both: Vec<Option<f64>> = b
        .low
        .iter()
        .zip(&b.high)
        .map(|(l, h)| l.zip(*h).map(|(l, _)| l))
        .collect();
    let edge = palette::BAND_EDGE.stroke_width(BAND_EDGE_WIDTH);
    for seg in segments(&both) {
        let high: Vec<(f64, f64)> = seg
            .iter()
            .map(|(x, _)| (*x, b.high[*x as usize].unwrap_or(0.0)))
            .collect();
        let mut outline = high.clone();
        outline.extend(seg.iter().rev().copied());
        chart
            .draw_series(std::iter::once(Polygon::new(outline, b.color.filled())))
            .map_err(draw_err)?;
        if let [(x, low)] = seg[..] {
            // One day alone: its range as an upright bar's edge.
            let (top, bottom) = (b.high[x as usize].unwrap_or(low), low);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, top), (x, bottom)],
                    edge,
                )))
                .map_err(draw_err)?;
            continue;
        }
        for edge_line in [high, seg] {
            chart
                .draw_series(std::iter::once(PathElement::new(edge_line, edge)))
                .map_err(draw_err)?;
        }
    }
    Ok(())
}
