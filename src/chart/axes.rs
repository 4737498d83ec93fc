//! A time chart's axis labels, placed here rather than by plotters: values at the axis's
//! round ticks, days a week apart counted back from yesterday, and every label's box kept
//! clear of every other, so that the lowest value label never touches the first day's.

use super::*;

/// Where a label's ink goes, in PNG pixels: left, top, right and bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LabelBox {
    pub(super) left: i32,
    pub(super) top: i32,
    pub(super) right: i32,
    pub(super) bottom: i32,
}

impl LabelBox {
    /// The empty space between two boxes, in pixels: the larger of the gaps across and down
    /// (negative when they overlap).
    pub(super) fn gap(&self, o: &LabelBox) -> i32 {
        let across = (o.left - self.right).max(self.left - o.right);
        let down = (o.top - self.bottom).max(self.top - o.bottom);
        across.max(down)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    /// The primary axis's values, left of the plot.
    Left,
    /// The secondary axis's values, right of the plot.
    Right,
    /// Days, under the plot.
    Days,
}

/// A label placed: its text, its axis, the baseline it is drawn on, and its box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placed {
    pub(super) text: String,
    pub(super) which: Which,
    pub(super) baseline: i32,
    pub(super) bounds: LabelBox,
}

/// The empty space kept between any two labels, CSS pixels.
pub(super) const CLEAR_PX: u32 = 6;
/// From the plot's edge to a value label, CSS pixels.
const Y_GAP_PX: u32 = 7;
/// The shortest distance from the x axis down to a day label, CSS pixels.
const X_GAP_PX: u32 = 8;
/// A day's tick under the x axis, CSS pixels.
pub(super) const TICK_PX: u32 = 4;
/// How close to the image's edge a label may come, CSS pixels.
const EDGE_PX: u32 = 6;

/// The font's ink above the baseline, as a share of plotters' text size: digits and capitals
/// rise to 0.63 of it in DejaVu Sans, `l`, `k` and `£` to 0.65.
const ASCENT: f64 = 0.66;
/// And below it: `g`, `p`, `y` and brackets fall to 0.2 of it; digits and `%` stay on it.
fn descent(text: &str) -> f64 {
    if text.chars().any(|c| "gjpqy(),;[]{}|/@$".contains(c)) {
        0.21
    } else {
        0.02
    }
}

/// Text size in PNG pixels.
fn size_px() -> f64 {
    f64::from(TEXT_PX * SCALE)
}

/// A value label centred on its tick: digits centred on the gridline, so their baseline
/// lies below it by half their height.
fn value_label(text: &str, width: u32, tick_y: i32, anchor_x: i32, which: Which) -> Placed {
    let s = size_px();
    let baseline = tick_y + (s * 0.63 / 2.0).round() as i32;
    let (left, right) = match which {
        Which::Right => (anchor_x, anchor_x + width as i32),
        _ => (anchor_x - width as i32, anchor_x),
    };
    Placed {
        text: text.to_string(),
        which,
        baseline,
        bounds: LabelBox {
            left,
            top: baseline - (s * ASCENT).ceil() as i32,
            right,
            bottom: baseline + (s * descent(text)).ceil() as i32,
        },
    }
}

/// How far below the x axis the day labels' tops go, in pixels: clear of the box of the
/// lowest value label, were it on the axis, by [`CLEAR_PX`].
pub(super) fn days_offset(lowest_values: &[&str]) -> i32 {
    let below = lowest_values
        .iter()
        .map(|t| value_label(t, 0, 0, 0, Which::Left).bounds.bottom)
        .max()
        .unwrap_or(0);
    (below + (CLEAR_PX * SCALE) as i32).max((X_GAP_PX * SCALE) as i32)
}

/// The height of the row of day labels under the axis, in pixels.
pub(super) fn days_area(lowest_values: &[&str]) -> u32 {
    let s = size_px();
    days_offset(lowest_values) as u32 + (s * (ASCENT + 0.21)).ceil() as u32 + 4 * SCALE
}

/// The width of a value axis's labels and their gap, in pixels.
pub(super) fn values_area(widths: &[u32]) -> u32 {
    widths.iter().copied().max().unwrap_or(0) + (Y_GAP_PX + 2) * SCALE
}

/// Which days get a label: every `step` days back and forward from `anchor` (yesterday), the
/// smallest step of 1, 2, 7, 14, 28... days that leaves room for the widest label and a gap.
pub(super) fn day_ticks(n: usize, anchor: usize, slot_px: f64, widest_px: u32) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let anchor = anchor.min(n - 1);
    let need = f64::from(widest_px + 2 * CLEAR_PX * SCALE);
    let step = [1, 2, 7, 14, 28]
        .into_iter()
        .chain((2..).map(|k| 28 * k))
        .find(|s| *s as f64 * slot_px >= need || *s >= n)
        .unwrap_or(n);
    // Nearest yesterday first: when two collide at an edge, the one kept is the nearer.
    let mut out = vec![anchor];
    for k in 1..=n / step + 1 {
        if let Some(i) = anchor.checked_sub(k * step) {
            out.push(i);
        }
        if anchor + k * step < n {
            out.push(anchor + k * step);
        }
    }
    out
}

/// What [`place_labels`] needs of the plot, in pixels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    /// The plot's left, top, right and bottom edges.
    pub(super) plot: LabelBox,
    /// The image's width.
    pub(super) width: i32,
}

/// Every axis label placed: value labels beside their ticks (`(y, text, width)`), day labels
/// under the axis (`(x, text, width)`) in the order of [`day_ticks`], each day label moved
/// inside the image at its edges and left out where it would come within [`CLEAR_PX`] of a
/// label already placed.
pub(super) fn place_labels(
    frame: Frame,
    left: &[(i32, String, u32)],
    right: &[(i32, String, u32)],
    days: &[(i32, String, u32)],
) -> Vec<Placed> {
    let gap = (Y_GAP_PX * SCALE) as i32;
    let mut out: Vec<Placed> = left
        .iter()
        .map(|(y, t, w)| value_label(t, *w, *y, frame.plot.left - gap, Which::Left))
        .chain(
            right
                .iter()
                .map(|(y, t, w)| value_label(t, *w, *y, frame.plot.right + gap, Which::Right)),
        )
        .collect();
    let lowest: Vec<&str> = left
        .iter()
        .chain(right)
        .max_by_key(|(y, _, _)| *y)
        .map(|(_, t, _)| t.as_str())
        .into_iter()
        .collect();
    let s = size_px();
    let top = frame.plot.bottom
        + days_offset(&lowest).max(
            // Below every value label's box, wherever the lowest tick is.
            out.iter()
                .map(|p| p.bounds.bottom - frame.plot.bottom + (CLEAR_PX * SCALE) as i32)
                .max()
                .unwrap_or(0),
        );
    let baseline = top + (s * ASCENT).ceil() as i32;
    let edge = (EDGE_PX * SCALE) as i32;
    for (x, t, w) in days {
        let w = *w as i32;
        let left = (x - w / 2).clamp(edge, (frame.width - edge - w).max(edge));
        let placed = Placed {
            text: t.clone(),
            which: Which::Days,
            baseline,
            bounds: LabelBox {
                left,
                top,
                right: left + w,
                bottom: baseline + (s * descent(t)).ceil() as i32,
            },
        };
        let clear = (CLEAR_PX * SCALE) as i32;
        if out.iter().all(|p| p.bounds.gap(&placed.bounds) >= clear) {
            out.push(placed);
        }
    }
    out
}

/// The labels of a time chart's axes, for its plot as built: values at the ticks each axis
/// asks for, days from [`day_ticks`].
pub(super) fn time_labels(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    chart: &TimeCoords<'_, '_>,
    t: &TimeChart,
    ticks: &AxisTicks,
) -> Result<Vec<Placed>> {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let frame = Frame {
        plot: LabelBox {
            left: xs.start,
            top: ys.start,
            right: xs.end,
            bottom: ys.end,
        },
        width: root.dim_in_pixel().0 as i32,
    };
    let at = |v: f64| chart.backend_coord(&(0.0, v)).1;
    let left: Vec<(i32, String, u32)> = ticks
        .primary
        .iter()
        .map(|(v, text, w)| (at(*v), text.clone(), *w))
        .collect();
    let right: Vec<(i32, String, u32)> = ticks
        .secondary
        .iter()
        .map(|(v, text, w)| {
            let y = chart.borrow_secondary().backend_coord(&(0.0, *v)).1;
            (y, text.clone(), *w)
        })
        .collect();
    let style = font(TEXT_PX);
    let day_text = |i: usize| {
        t.days
            .get(i)
            .map(|d| d.format("%-d %b").to_string())
            .unwrap_or_default()
    };
    let mut widest = 0;
    for i in 0..t.days.len() {
        let (w, _) = root
            .estimate_text_size(&day_text(i), &style)
            .map_err(draw_err)?;
        widest = widest.max(w);
    }
    let slot = chart.backend_coord(&(1.0, 0.0)).0 - chart.backend_coord(&(0.0, 0.0)).0;
    // Yesterday: the day before the divider, or the last day.
    let anchor = t
        .divider
        .as_ref()
        .map_or(t.days.len().saturating_sub(1), |(i, _)| i.saturating_sub(1));
    let mut days = Vec::new();
    for i in day_ticks(t.days.len(), anchor, f64::from(slot), widest) {
        let text = day_text(i);
        let (w, _) = root.estimate_text_size(&text, &style).map_err(draw_err)?;
        days.push((chart.backend_coord(&(i as f64, 0.0)).0, text, w));
    }
    Ok(place_labels(frame, &left, &right, &days))
}

/// Each value axis's ticks: the value, its label and the label's width in pixels.
#[derive(Debug, Clone, Default)]
pub(super) struct AxisTicks {
    pub(super) primary: Vec<(f64, String, u32)>,
    pub(super) secondary: Vec<(f64, String, u32)>,
}

/// The ticks of an axis over `lo..hi`: plotters' round values, as its mesh draws them.
pub(super) fn ticks(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    unit: &AxisUnit,
    (lo, hi): (f64, f64),
) -> Result<Vec<(f64, String, u32)>> {
    let span = hi - lo;
    let coord: RangedCoordf64 = (lo..hi).into();
    coord
        .key_points(unit.label_count(span))
        .into_iter()
        .map(|v| {
            let text = unit.tick_for(v, span);
            let (w, _) = root
                .estimate_text_size(&text, &font(TEXT_PX))
                .map_err(draw_err)?;
            Ok((v, text, w))
        })
        .collect()
}

/// Draws the labels placed, and a tick under the axis at each day labelled.
pub(super) fn draw_labels(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    placed: &[Placed],
    axis_y: i32,
) -> Result<()> {
    let s = size_px();
    for p in placed {
        root.draw(&Text::new(
            p.text.clone(),
            (p.bounds.left, p.baseline - (s / 2.0) as i32),
            font(TEXT_PX).pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
        if p.which == Which::Days {
            let x = (p.bounds.left + p.bounds.right) / 2;
            root.draw(&PathElement::new(
                vec![(x, axis_y), (x, axis_y + (TICK_PX * SCALE) as i32)],
                palette::COMPARE.stroke_width(SCALE),
            ))
            .map_err(draw_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_a_week_apart_from_yesterday_when_a_day_is_narrow() {
        // 30 days over 960 pixels: 32 a day; "28 Nov" (134 pixels) and the gaps either side
        // need 5 days' room, so a week.
        assert_eq!(day_ticks(30, 29, 32.0, 134), vec![29, 22, 15, 8, 1]);
        // 21 days with the last 7 ahead: from yesterday (13) both ways.
        assert_eq!(day_ticks(21, 13, 45.0, 134), vec![13, 6, 20]);
        // Too narrow for a week: a fortnight.
        assert_eq!(day_ticks(30, 29, 20.0, 134), vec![29, 15, 1]);
        // Room for every day.
        assert_eq!(day_ticks(4, 3, 200.0, 130), vec![3, 2, 1, 0]);
        assert!(day_ticks(0, 0, 10.0, 10).is_empty());
    }

    #[test]
    fn a_label_that_would_touch_another_is_left_out() {
        let frame = Frame {
            plot: LabelBox {
                left: 100,
                top: 50,
                right: 1000,
                bottom: 500,
            },
            width: 1100,
        };
        let days = [(600, "x".to_string(), 100), (640, "y".to_string(), 100)];
        let placed = place_labels(frame, &[], &[], &days);
        assert_eq!(placed.len(), 1);
        // At the image's edge, a day label moves inside it.
        let placed = place_labels(frame, &[], &[], &[(1090, "z".to_string(), 100)]);
        assert_eq!(placed[0].bounds.right, 1100 - (EDGE_PX * SCALE) as i32);
    }
}
