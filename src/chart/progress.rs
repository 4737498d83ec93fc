//! The key results chart: progress bars against the pace the cycle expects by now.

use super::*;

/// Progress below the baseline is drawn down to this floor (and labelled with its value).
pub(super) const PROGRESS_FLOOR: f64 = -0.4;

pub(super) fn draw_progress(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    p: &ProgressChart,
) -> Result<()> {
    let n = p.rows.len().max(1);
    let max = p
        .rows
        .iter()
        .filter_map(|r| r.progress)
        .fold(1.0f64, f64::max)
        .min(2.0)
        * 1.12;
    let min = if p.rows.iter().any(|r| r.progress.is_some_and(|v| v < 0.0)) {
        PROGRESS_FLOOR - 0.05
    } else {
        0.0
    };
    let labels: Vec<String> = p.rows.iter().map(|r| r.label.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(10 * SCALE)
        // Room above the first row to name the pace tick.
        .margin_top(30 * SCALE)
        .x_label_area_size(20 * SCALE)
        .y_label_area_size(118 * SCALE)
        .build_cartesian_2d(min..max, -0.5..(n as f64 - 0.5))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(7)
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
    for (i, row) in p.rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let label = match row.progress {
            Some(progress) => {
                let v = progress.clamp(PROGRESS_FLOOR, max);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y - 0.28), (v, y + 0.28)],
                        row.color.filled(),
                    )))
                    .map_err(draw_err)?;
                // A bar cut at the floor or the top gets a break mark: two white slashes
                // across it, so its length is never read as its value.
                if progress < PROGRESS_FLOOR || progress > max {
                    let at = if progress < PROGRESS_FLOOR {
                        PROGRESS_FLOOR + (max - min) * 0.04
                    } else {
                        max - (max - min) * 0.06
                    };
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
                format!("{:.0}%", progress * 100.0)
            }
            None => "no data".to_string(),
        };
        // The pace the cycle expects by now: a dark tick across the bar, named once, above
        // the first row.
        if i == 0 {
            // In the margin above the plot, over the tick's top end.
            let (x, top) = chart.backend_coord(&(row.expected, y + 0.42));
            root.draw(&Text::new(
                "expected by now".to_string(),
                (x, top - (2 * SCALE) as i32),
                font(TEXT_PX).pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))
            .map_err(draw_err)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(row.expected, y - 0.42), (row.expected, y + 0.42)],
                palette::TEXT.stroke_width(3 * SCALE),
            )))
            .map_err(draw_err)?;
        let at = row.progress.unwrap_or(0.0).clamp(0.0, max) + (max - min) * 0.015;
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (at, y + 0.12),
                font(TEXT_PX),
            )))
            .map_err(draw_err)?;
    }
    Ok(())
}
