//! The key results chart: progress bars against the pace the cycle expects by now.

use super::*;

/// The chart's margin, CSS pixels.
const MARGIN_PX: u32 = 10;
/// Room above the first row to name the pace tick, CSS pixels.
const TOP_PX: u32 = 40;
/// The percentages under the plot, CSS pixels.
const AXIS_PX: u32 = 30;
/// One key result's row, CSS pixels.
const ROW_PX: u32 = 46;

/// The chart's display height for `rows` key results, CSS pixels.
pub(super) fn height(rows: usize) -> u32 {
    TOP_PX + AXIS_PX + MARGIN_PX + ROW_PX * rows.max(1) as u32
}

pub(super) fn draw_progress(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    p: &ProgressChart,
) -> Result<()> {
    let n = p.rows.len().max(1);
    let (min, top) = bar_range(&p.rows);
    let plot_px = f64::from(
        root.dim_in_pixel()
            .0
            .saturating_sub(PLOT_LEFT + MARGIN_PX * SCALE),
    );
    let max = axis_end(root, &p.rows, (min, top), plot_px)?;
    let labels: Vec<String> = p.rows.iter().map(|r| r.label.clone()).collect();
    let mut chart = progress_plot(root, &labels, min..max, n)?;
    for (i, row) in p.rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        if let Some(progress) = row.progress {
            draw_bar(&mut chart, row.color, progress, y, (min, top, max))?;
        }
        // The pace the cycle expects by now: a dark tick across the bar, named once, above
        // the first row.
        draw_pace(root, &mut chart, row.expected, y, i == 0)?;
        draw_value(root, &mut chart, row, y, (min, top, max), plot_px)?;
    }
    Ok(())
}

/// The key results chart's plot, with one row per key result.
type Plot<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Where the axis starts, and where the bars end: at zero (progress below the baseline is
/// no bar, and says so in words: a bar drawn backwards reads as nothing); the longest bar,
/// at least 100%.
fn bar_range(rows: &[ProgressRow]) -> (f64, f64) {
    // Bars end at 200% at most; past it they are cut.
    let top = rows
        .iter()
        .filter_map(|r| r.progress)
        .fold(1.0f64, f64::max)
        .min(2.0);
    (0.0, top)
}

/// The plot with its axes and grid drawn: progress across, the key results' names down,
/// the first row (`labels[0]`) at the top.
fn progress_plot<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    labels: &[String],
    x: std::ops::Range<f64>,
    n: usize,
) -> Result<Plot<'a, 'b>> {
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN_PX * SCALE)
        // Room above the first row to name the pace tick.
        .margin_top(TOP_PX * SCALE)
        .x_label_area_size(AXIS_PX * SCALE)
        .y_label_area_size(NAMES_PX)
        .build_cartesian_2d(x, -0.5..(n as f64 - 0.5))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(5)
        .y_labels(n)
        .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .y_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            // Ticks run past the last row (the headroom): those have no label.
            (n - 1)
                .checked_sub(i as usize)
                .and_then(|k| labels.get(k))
                .cloned()
                .unwrap_or_default()
        })
        .label_style(font(TEXT_PX))
        .bold_line_style(palette::GRID.stroke_width(SCALE))
        .light_line_style(TRANSPARENT)
        .axis_style(palette::COMPARE.stroke_width(SCALE))
        .draw()
        .map_err(draw_err)?;
    Ok(chart)
}

/// The pace tick at `expected` on row `y`, and over the first row its name.
fn draw_pace(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    chart: &mut Plot<'_, '_>,
    expected: f64,
    y: f64,
    first: bool,
) -> Result<()> {
    if first {
        // In the margin above the plot, over the tick's top end.
        let (x, top) = chart.backend_coord(&(expected, y + 0.42));
        root.draw(&Text::new(
            "expected by now".to_string(),
            (x, top - (2 * SCALE) as i32),
            font(TEXT_PX).pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))
        .map_err(draw_err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(expected, y - 0.42), (expected, y + 0.42)],
            palette::TEXT.stroke_width(TICK_PX),
        )))
        .map_err(draw_err)?;
    Ok(())
}

/// A row's value written beside its bar, clear of the pace tick (the axis spans `min` to
/// `max` over `plot_px` pixels).
fn draw_value(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    chart: &mut Plot<'_, '_>,
    row: &ProgressRow,
    y: f64,
    (min, top, max): (f64, f64, f64),
    plot_px: f64,
) -> Result<()> {
    let label = value_label(row.progress);
    let (w, _) = root
        .estimate_text_size(&label, &font(TEXT_PX))
        .map_err(draw_err)?;
    let units = |px: f64| px / plot_px.max(1.0) * (max - min);
    let at = label_x(
        row,
        top,
        (units(f64::from(w)), units(TICK_HALF_PX)),
        max - min,
    );
    chart
        .draw_series(std::iter::once(Text::new(
            label,
            (at, y + 0.12),
            font(TEXT_PX),
        )))
        .map_err(draw_err)?;
    Ok(())
}

/// The column of the key results' names, left of the plot: a third of the width.
const NAMES_PX: u32 = 190 * SCALE;

/// The plot's left edge: the chart's margin and the names.
const PLOT_LEFT: u32 = MARGIN_PX * SCALE + NAMES_PX;

/// The gap between a bar's end and its value, as a share of the axis.
const LABEL_GAP: f64 = 0.015;

/// The pace tick's width, and half of it as the room it takes either side of its value.
const TICK_PX: u32 = 3 * SCALE;
const TICK_HALF_PX: f64 = TICK_PX as f64 / 2.0;

/// Where a row's value is written: a gap past its bar's end, or past the pace tick where the
/// text would otherwise cross it (widths in axis units).
fn label_x(row: &ProgressRow, top: f64, (text, tick_half): (f64, f64), span: f64) -> f64 {
    let gap = span * LABEL_GAP;
    let bar = label_start(row.progress, top);
    let at = bar + gap;
    let crosses = row.expected + tick_half >= bar && row.expected - tick_half <= at + text;
    if crosses {
        at.max(row.expected + tick_half + gap)
    } else {
        at
    }
}

fn value_label(progress: Option<f64>) -> String {
    match progress {
        Some(p) if p < 0.0 => "below the baseline".to_string(),
        Some(p) => format!("{:.0}%", p * 100.0),
        None => "no data".to_string(),
    }
}

/// Where a row's value label starts, before the gap: at its bar's end, or at zero for a bar
/// below it or none.
fn label_start(progress: Option<f64>, top: f64) -> f64 {
    progress.unwrap_or(0.0).clamp(0.0, top)
}

/// The axis's right end: 12% past the longest bar, and far enough for every row's value to
/// fit beside its bar, or beside the pace tick when the tick lies past the bar's end (a 100%
/// key result once lost its last digit at the edge).
fn axis_end(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    rows: &[ProgressRow],
    (min, top): (f64, f64),
    plot_px: f64,
) -> Result<f64> {
    let mut max = top * 1.12;
    for r in rows {
        let (w, _) = root
            .estimate_text_size(&value_label(r.progress), &font(TEXT_PX))
            .map_err(draw_err)?;
        // Room for the gap, the text and two pixels, as a share of the plot; from the tick
        // (and half its width) when it lies past the bar's end.
        let share = |px: f64| px / plot_px.max(1.0);
        let free = 1.0 - LABEL_GAP - share(f64::from(w) + 2.0);
        let bar = label_start(r.progress, top);
        max = max.max(min + (bar - min) / free.max(0.2));
        if r.expected > bar {
            let free = free - share(TICK_HALF_PX);
            max = max.max(min + (r.expected - min) / free.max(0.2));
        }
    }
    Ok(max)
}

/// A key result's bar at row `y`, none below zero, cut past `top` (the axis ends at `max`).
fn draw_bar<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    color: RGBColor,
    progress: f64,
    y: f64,
    (min, top, max): (f64, f64, f64),
) -> Result<()> {
    let v = progress.clamp(0.0, top);
    if v <= 0.0 {
        return Ok(());
    }
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.28), (v, y + 0.28)],
            color.filled(),
        )))
        .map_err(draw_err)?;
    // A bar cut at the top gets a break mark: two white slashes across it, so its length
    // is never read as its value.
    if progress > top {
        let at = top - (max - min) * 0.06;
        for k in 0..2 {
            let x0 = at + (max - min) * 0.018 * f64::from(k);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (x0 - (max - min) * 0.01, y - 0.36),
                        (x0 + (max - min) * 0.01, y + 0.36),
                    ],
                    WHITE.stroke_width(2 * SCALE),
                )))
                .map_err(draw_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_below_the_baseline_is_no_bar_and_says_so() {
        let row = |progress: f64| ProgressRow {
            label: "KR".into(),
            progress: Some(progress),
            expected: 0.5,
            color: palette::BAD,
        };
        // The axis starts at zero even with a row at -167%.
        assert_eq!(bar_range(&[row(-1.671), row(0.4)]), (0.0, 1.0));
        assert_eq!(value_label(Some(-1.671)), "below the baseline");
        assert_eq!(label_start(Some(-1.671), 1.0), 0.0);
        // It still draws: the chart is whole, with its words where the bar would be.
        let png = render_png(&ChartKind::Progress(ProgressChart {
            rows: vec![row(-1.671), row(0.4)],
        }))
        .unwrap();
        assert!(!png.is_empty());
    }

    #[test]
    fn a_value_is_written_past_the_pace_tick_it_would_cross() {
        let row = |progress: f64| ProgressRow {
            label: "KR".into(),
            progress: Some(progress),
            expected: 0.66,
            color: palette::GOOD,
        };
        // Axis units: the axis spans 1.0, so the gap is 0.015; the text is 0.15 wide and the
        // tick 0.01 either side of its value.
        let widths = (0.15, 0.01);
        // 54%: the text from 0.555 to 0.705 would cross the tick at 0.66, so it starts past
        // it: 0.66 + 0.01 + 0.015.
        assert!((label_x(&row(0.54), 1.0, widths, 1.0) - 0.685).abs() < 1e-9);
        // 85%: the tick lies inside the bar; the text starts a gap past the bar's end.
        assert!((label_x(&row(0.85), 1.0, widths, 1.0) - 0.865).abs() < 1e-9);
        // 20%: the text ends at 0.365, well before the tick.
        assert!((label_x(&row(0.2), 1.0, widths, 1.0) - 0.215).abs() < 1e-9);
    }

    /// Plotters cuts whatever crosses the plot's right edge, so a value written past it
    /// loses its last characters: nothing dark (the text) may touch the edge.
    #[test]
    fn a_value_beside_a_long_bar_is_not_cut_at_the_edge() {
        for progress in [0.85, 1.0, 1.6, 2.0, 3.5] {
            let chart = ChartKind::Progress(ProgressChart {
                rows: vec![ProgressRow {
                    label: "Done".into(),
                    progress: Some(progress),
                    expected: 0.5,
                    color: palette::GOOD,
                }],
            });
            let (rgb, w, h) = render_rgb(&chart).unwrap();
            let (w, h) = (w as usize, h as usize);
            let edge = w - (MARGIN_PX * SCALE) as usize;
            // The row's band, clear of the axis line along the bottom.
            let (top, bottom) = (
                (TOP_PX * SCALE) as usize + 10,
                h - ((AXIS_PX + MARGIN_PX) * SCALE) as usize - 10,
            );
            let dark = (top..bottom)
                .flat_map(|y| (edge - 3..edge).map(move |x| (y * w + x) * 3))
                .filter(|&i| rgb[i..i + 3].iter().all(|&c| c < 0x70))
                .count();
            assert_eq!(dark, 0, "{progress}: text at the plot's right edge");
        }
    }
}
