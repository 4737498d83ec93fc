//! Sparklines: a headline tile's last days as a line without axes, the last day marked.

use super::*;

/// A headline tile's last days, in its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkChart {
    pub values: Vec<Option<f64>>,
    pub color: RGBColor,
}

/// Display size of a sparkline, in CSS pixels.
pub const SPARK_WIDTH: u32 = 240;
pub const SPARK_HEIGHT: u32 = 36;

/// Sparklines keep their size on a phone: three pixels per CSS pixel, sharp at 3x.
pub(super) const SPARK_SCALE: u32 = 3;

pub(super) fn draw_spark(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    sp: &SparkChart,
) -> Result<()> {
    let known: Vec<f64> = sp.values.iter().flatten().copied().collect();
    if known.is_empty() {
        return Ok(());
    }
    let (lo, hi) = known
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    // A flat line sits in the middle rather than on an edge.
    let (lo, hi) = if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let n = sp.values.len().max(2);
    let s = SPARK_SCALE;
    let mut chart = ChartBuilder::on(root)
        .margin(5 * s)
        .build_cartesian_2d(-0.2..(n as f64 - 0.8), lo..hi)
        .map_err(draw_err)?;
    for seg in segments(&sp.values) {
        if let [point] = seg[..] {
            draw_dot(&mut chart, point, sp.color, 2 * s)?;
            continue;
        }
        chart
            .draw_series(LineSeries::new(seg, sp.color.stroke_width(2 * s)))
            .map_err(draw_err)?;
    }
    // Yesterday, marked.
    mark_last(&mut chart, &sp.values, sp.color, 3 * s)
}
