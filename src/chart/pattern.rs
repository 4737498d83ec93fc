//! What tells series apart besides their colour: a line's dash pattern and an area's
//! hatching, drawn the same in the plot and in the legend's swatch.

use super::*;

/// A dashed line's pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dash {
    /// Long dashes: a comparison or an expectation.
    Long,
    /// Short dashes: a limit (capacity).
    Short,
    /// Dots.
    Dot,
}

impl Dash {
    /// Dash and gap lengths, CSS pixels.
    pub(super) fn pattern(self) -> (u32, u32) {
        match self {
            Dash::Long => (9, 5),
            Dash::Short => (4, 3),
            Dash::Dot => (2, 3),
        }
    }
}

/// An area's fill: plain, or crossed with white stripes or dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Hatch {
    Plain,
    Stripes,
    Dots,
}

/// A solid line's width, and a dashed one's (thinner: comparisons and limits stay
/// secondary), CSS pixels.
pub(super) const SOLID_PX: u32 = 3;
pub(super) const DASHED_PX: u32 = 2;

/// One run of a line's known values, dashed or solid as its style says.
pub(super) fn line_series<DB: DrawingBackend>(line: &Line, seg: Vec<(f64, f64)>) -> Segment<DB> {
    match line.style {
        LineStyle::Dashed(dash) => {
            let (on, off) = dash.pattern();
            let style = line.color.stroke_width(DASHED_PX * SCALE);
            Segment::Dashed(DashedLineSeries::new(seg, on * SCALE, off * SCALE, style))
        }
        _ => Segment::Solid(LineSeries::new(
            seg,
            line.color.stroke_width(SOLID_PX * SCALE),
        )),
    }
}

/// A run of a line's values as plotters draws it: the two series have different types.
pub(super) enum Segment<DB: DrawingBackend> {
    Dashed(DashedLineSeries<std::vec::IntoIter<(f64, f64)>, u32>),
    Solid(LineSeries<DB, (f64, f64)>),
}

/// Whether the pixel at `(x, y)` (PNG pixels from the image's corner) is one of the hatch's
/// white marks: the same grid in the plot and in the legend.
pub(super) fn hatch_mark(hatch: Hatch, x: i32, y: i32) -> bool {
    let s = SCALE as i32;
    match hatch {
        Hatch::Plain => false,
        // Stripes rising to the right, 2.5 px wide every 7 px (across).
        Hatch::Stripes => (x + y).rem_euclid(7 * s) < 5 * s / 2,
        // Dots 2.5 px square on a 6 px grid, every other row shifted by half.
        Hatch::Dots => {
            let row = y.div_euclid(6 * s);
            let x = x + (row % 2) * 3 * s;
            x.rem_euclid(6 * s) < 5 * s / 2 && y.rem_euclid(6 * s) < 5 * s / 2
        }
    }
}

/// The hatch's white marks over the pixels from `top` to `bottom` (exclusive) in each column
/// `x`, given as `(x, top, bottom)`, a pixel inside the edges so that the outline stays whole.
pub(super) fn fill_hatch(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    hatch: Hatch,
    columns: impl IntoIterator<Item = (i32, i32, i32)>,
) -> Result<()> {
    if hatch == Hatch::Plain {
        return Ok(());
    }
    for (x, top, bottom) in columns {
        for y in (top + 1)..(bottom - 1) {
            if hatch_mark(hatch, x, y) {
                root.draw_pixel((x, y), &WHITE).map_err(draw_err)?;
            }
        }
    }
    Ok(())
}

/// Each pixel column between `(x0, top0, bottom0)` and `(x1, top1, bottom1)`, the edges
/// straight between them: the columns of a band or a stacked area between two days.
pub(super) fn columns_between(
    (x0, top0, bottom0): (i32, i32, i32),
    (x1, top1, bottom1): (i32, i32, i32),
) -> impl Iterator<Item = (i32, i32, i32)> {
    let lerp = move |a: i32, b: i32, x: i32| {
        if x1 == x0 {
            a
        } else {
            a + ((b - a) as f64 * f64::from(x - x0) / f64::from(x1 - x0)).round() as i32
        }
    };
    (x0..x1).map(move |x| (x, lerp(top0, top1, x), lerp(bottom0, bottom1, x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hatch_marks_some_pixels_and_not_others() {
        for h in [Hatch::Stripes, Hatch::Dots] {
            let marked = (0..40)
                .flat_map(|x| (0..40).map(move |y| (x, y)))
                .filter(|(x, y)| hatch_mark(h, *x, *y))
                .count();
            // Between a tenth and a half of the area: visible, the colour still the fill's.
            assert!((160..800).contains(&marked), "{h:?}: {marked} of 1600");
        }
        assert!(!hatch_mark(Hatch::Plain, 0, 0));
    }

    #[test]
    fn columns_follow_the_edges_between_two_days() {
        let c: Vec<_> = columns_between((0, 10, 100), (4, 30, 100)).collect();
        assert_eq!(
            c,
            vec![(0, 10, 100), (1, 15, 100), (2, 20, 100), (3, 25, 100)]
        );
    }
}
