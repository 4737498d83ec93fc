//! The legend across the top of a time chart: a swatch and a label per series, wrapped to
//! the chart's width.

use super::*;

/// Where each legend entry goes: rows of entries across the top, wrapped to the width.
pub(super) fn legend_layout(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    entries: &[(&Line, bool)],
) -> Result<Vec<(i32, i32)>> {
    let style = font(TEXT_PX);
    let (left, right) = ((10 * SCALE) as i32, ((WIDTH - 8) * SCALE) as i32);
    let (mut x, mut y) = (left, (12 * SCALE) as i32);
    let mut out = Vec::new();
    for (line, right_axis) in entries {
        let label = legend_label(line, *right_axis);
        let (w, _) = root.estimate_text_size(&label, &style).map_err(draw_err)?;
        let width = (23 * SCALE) as i32 + w as i32;
        if x > left && x + width > right {
            x = left;
            y += (LEGEND_ROW * SCALE) as i32;
        }
        out.push((x, y));
        x += width + (12 * SCALE) as i32;
    }
    Ok(out)
}

/// Height of one legend row, CSS pixels.
pub(super) const LEGEND_ROW: u32 = 18;

pub(super) fn legend_label(line: &Line, right_axis: bool) -> String {
    if right_axis {
        format!("{} (right)", line.label)
    } else {
        line.label.clone()
    }
}

/// The legend across the top: a swatch in each series' style, then its label.
pub(super) fn legend(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    entries: &[(&Line, bool)],
    places: &[(i32, i32)],
) -> Result<()> {
    let style = font(TEXT_PX);
    for ((line, right_axis), (x, y)) in entries.iter().zip(places) {
        let (x, y) = (*x, *y);
        let label = legend_label(line, *right_axis);
        let swatch = (18 * SCALE) as i32;
        match line.style {
            LineStyle::Bars | LineStyle::Area => {
                root.draw(&Rectangle::new(
                    [
                        (x, y - 5 * SCALE as i32),
                        (x + swatch, y + 5 * SCALE as i32),
                    ],
                    line.color.filled(),
                ))
                .map_err(draw_err)?;
            }
            LineStyle::Solid => {
                root.draw(&PathElement::new(
                    vec![(x, y), (x + swatch, y)],
                    line.color.stroke_width(3 * SCALE),
                ))
                .map_err(draw_err)?;
            }
            LineStyle::Dashed => {
                for k in 0..2 {
                    let a = x + k * 11 * SCALE as i32;
                    root.draw(&PathElement::new(
                        vec![(a, y), (a + 7 * SCALE as i32, y)],
                        line.color.stroke_width(2 * SCALE),
                    ))
                    .map_err(draw_err)?;
                }
            }
        }
        root.draw(&Text::new(
            label,
            (x + swatch + (5 * SCALE) as i32, y - 8 * SCALE as i32),
            style.clone(),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}
