//! The legend across the top of a time chart: a swatch and a label per series, wrapped to
//! the chart's width, each swatch drawn as its series is (dashes, hatching).

use super::*;

/// The legend's entries: the band when it has a label, then every series, each with whether
/// it is on the right axis. A series with nothing to draw has been dropped from the chart
/// ([`sanitised`]), so it has no entry.
pub(super) fn legend_entries(t: &TimeChart) -> Vec<(Line, bool)> {
    let band = t
        .band
        .as_ref()
        .filter(|b| !b.label.is_empty())
        .map(|b| Line {
            label: b.label.clone(),
            color: b.color,
            style: LineStyle::Area(Hatch::Plain),
            values: Vec::new(),
        });
    band.into_iter()
        .map(|l| (l, false))
        .chain(t.primary.lines.iter().map(|l| (l.clone(), false)))
        .chain(
            t.secondary
                .iter()
                .flat_map(|a| &a.lines)
                .map(|l| (l.clone(), true)),
        )
        .collect()
}

/// Height of one legend row, CSS pixels.
pub(super) const LEGEND_ROW: u32 = 28;
/// A swatch's width, CSS pixels.
const SWATCH_PX: u32 = 30;
/// The first row's middle, from the image's top, CSS pixels.
const FIRST_ROW_PX: u32 = 18;

/// Where each legend entry goes (the left end of its swatch, on its row's middle): rows of
/// entries across the top, wrapped to the width.
pub(super) fn legend_layout(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    entries: &[(Line, bool)],
) -> Result<Vec<(i32, i32)>> {
    let style = font(TEXT_PX);
    let (left, right) = ((10 * SCALE) as i32, ((WIDTH - 10) * SCALE) as i32);
    let (mut x, mut y) = (left, (FIRST_ROW_PX * SCALE) as i32);
    let mut out = Vec::new();
    for (line, right_axis) in entries {
        let label = legend_label(line, *right_axis);
        let (w, _) = root.estimate_text_size(&label, &style).map_err(draw_err)?;
        let width = ((SWATCH_PX + 6) * SCALE) as i32 + w as i32;
        if x > left && x + width > right {
            x = left;
            y += (LEGEND_ROW * SCALE) as i32;
        }
        out.push((x, y));
        x += width + (16 * SCALE) as i32;
    }
    Ok(out)
}

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
    entries: &[(Line, bool)],
    places: &[(i32, i32)],
) -> Result<()> {
    let style = font(TEXT_PX);
    let size = f64::from(TEXT_PX * SCALE);
    let s = SCALE as i32;
    for ((line, right_axis), (x, y)) in entries.iter().zip(places) {
        let (x, y) = (*x, *y);
        let label = legend_label(line, *right_axis);
        let swatch = (SWATCH_PX * SCALE) as i32;
        match line.style {
            LineStyle::Bars | LineStyle::Area(_) => {
                let (top, bottom) = (y - 7 * s, y + 7 * s);
                root.draw(&Rectangle::new(
                    [(x, top), (x + swatch, bottom)],
                    line.color.filled(),
                ))
                .map_err(draw_err)?;
                if let LineStyle::Area(hatch) = line.style {
                    fill_hatch(root, hatch, (x..x + swatch).map(|c| (c, top, bottom + 1)))?;
                }
            }
            LineStyle::Solid => {
                root.draw(&PathElement::new(
                    vec![(x, y), (x + swatch, y)],
                    line.color.stroke_width(pattern::SOLID_PX * SCALE),
                ))
                .map_err(draw_err)?;
            }
            LineStyle::Dashed(dash) => {
                // Whole dashes only, centred in the swatch: a stub at its end would read as
                // a dot.
                let (on, off) = dash.pattern();
                let (on, off) = ((on * SCALE) as i32, (off * SCALE) as i32);
                let k = ((swatch + off) / (on + off)).max(1);
                let mut a = x + (swatch - (k * on + (k - 1) * off)) / 2;
                for _ in 0..k {
                    root.draw(&PathElement::new(
                        vec![(a, y), (a + on, y)],
                        line.color.stroke_width(pattern::DASHED_PX * SCALE),
                    ))
                    .map_err(draw_err)?;
                    a += on + off;
                }
            }
        }
        // The text's digits and capitals centred on the swatch's middle.
        let baseline = y + (size * 0.63 / 2.0).round() as i32;
        root.draw(&Text::new(
            label,
            (x + swatch + 6 * s, baseline - (size / 2.0) as i32),
            style.clone().pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}
