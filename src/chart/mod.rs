//! Charts: PNG images drawn with plotters from numbers the digest already holds.
//!
//! Pure (no files, no clock). Time and key results charts are drawn for the email's full
//! column at twice their display size, and scale down with a phone's column; sparklines, never
//! scaled down, at three times theirs. All on an opaque white background (dark-mode clients
//! must not invert a transparent chart), with a font embedded in the binary so that no system
//! font is ever looked up.

use std::sync::Once;

use anyhow::{Result, anyhow};
use chrono::NaiveDate;
use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use serde::Serialize;

/// Display size of a time chart, in CSS pixels: the email's 600-pixel column less its
/// 16-pixel padding either side. On a phone the image scales down with its column
/// (`max-width:100%`), to [`PHONE_WIDTH`]; 568 by 320 keeps it short there (343 by 193).
pub const WIDTH: u32 = 568;
pub const HEIGHT: u32 = 320;
/// The narrowest column a chart is read in: a 375-pixel phone's, less the padding. A chart
/// shown there is scaled by 343 / 568, about 0.6.
pub const PHONE_WIDTH: u32 = 343;
/// PNG pixels per CSS pixel of a time or key results chart: 1136 pixels across, sharp at 2x
/// on the full column and at 3x on a phone's (1029 pixels).
const SCALE: u32 = 2;
/// Chart text in CSS pixels at the full width (plotters' size: the font's line from ascender
/// to descender). A label with ascenders and descenders inks about 19 px (measured in a
/// test), 11.5 px once scaled to a phone's column: above the 11 px a phone needs.
pub const TEXT_PX: u32 = 23;

mod axes;
mod legend;
pub mod palette;
mod pattern;
mod png;
mod progress;
mod spark;
mod time;

use axes::{Placed, time_labels};
use legend::{legend, legend_entries, legend_layout};
pub use pattern::{Dash, Hatch};
use pattern::{Segment, fill_hatch, line_series};
use png::encode_indexed;
use progress::draw_progress;
pub use spark::{SPARK_HEIGHT, SPARK_WIDTH, SparkChart};
use spark::{SPARK_SCALE, draw_spark};
use time::{TimeCoords, draw_time, segments};

/// How a series is drawn. Within one chart no two series look alike even without their
/// colour: each has its own style, dash or hatching ([`TimeChart::alike`]), and the legend
/// shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LineStyle {
    /// The chart's main series: a thick unbroken line, yesterday marked with a dot.
    Solid,
    /// A comparison, an expectation or a limit: a thinner line, broken in its pattern.
    Dashed(Dash),
    Bars,
    /// Stacked filled areas (all `Area` lines of an axis stack in order), plain or hatched.
    Area(Hatch),
}

impl LineStyle {
    fn is_area(self) -> bool {
        matches!(self, LineStyle::Area(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub style: LineStyle,
    /// One value per day of the chart; None is a gap.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub lines: Vec<Line>,
    /// Formats tick labels in the axis unit.
    pub unit: AxisUnit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AxisUnit {
    Money(String),
    Count,
    Percent,
    Hours,
}

impl AxisUnit {
    /// How many labels an axis spanning `span` asks for: counts over a span of a few units
    /// get one per whole number (a count has no half orders), the rest five.
    fn label_count(&self, span: f64) -> usize {
        match self {
            AxisUnit::Count if span.is_finite() && span < 4.0 => {
                (span.ceil().max(1.0) as usize) + 1
            }
            _ => 5,
        }
    }

    /// Percent ticks get a decimal when the axis spans under ten points.
    fn tick_for(&self, v: f64, span: f64) -> String {
        match self {
            // As many decimals as a fifth of the span needs: 0.12% to 0.13% has five
            // distinct ticks, not five of "0.13%".
            AxisUnit::Percent if span < 0.1 => {
                let step = (span * 100.0 / 4.0).max(1e-6);
                let decimals = ((-step.log10()).ceil().max(1.0) as usize).min(4);
                format!("{:.*}%", decimals, v * 100.0)
            }
            // A span of a few units has ticks between whole numbers: rounded, they would
            // read 0, 0, 1, 2, 2.
            AxisUnit::Count | AxisUnit::Hours | AxisUnit::Money(_) if span < 10.0 => {
                let t = format!("{v:.1}");
                let t = t.strip_suffix(".0").unwrap_or(&t).to_string();
                match self {
                    AxisUnit::Money(sym) => format!("{sym}{t}"),
                    AxisUnit::Hours => format!("{t} h"),
                    _ => t,
                }
            }
            _ => self.tick(v),
        }
    }

    fn tick(&self, v: f64) -> String {
        let compact = |v: f64| {
            if v.abs() >= 1_000_000.0 {
                format!("{:.1}M", v / 1_000_000.0)
            } else if v.abs() >= 10_000.0 {
                format!("{:.0}k", v / 1_000.0)
            } else if v.abs() >= 1_000.0 {
                format!("{:.1}k", v / 1_000.0)
            } else {
                format!("{v:.0}")
            }
        };
        match self {
            AxisUnit::Money(sym) => format!("{sym}{}", compact(v)),
            AxisUnit::Count => compact(v),
            AxisUnit::Percent => format!("{:.0}%", v * 100.0),
            AxisUnit::Hours => format!("{v:.0} h"),
        }
    }
}

/// Days on x, one or two value axes.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    pub days: Vec<NaiveDate>,
    pub primary: Axis,
    pub secondary: Option<Axis>,
    /// A range drawn as a filled band on the primary axis, under the lines.
    pub band: Option<Band>,
    /// A vertical rule before this day's index, with a label: where the forecast begins.
    pub divider: Option<(usize, String)>,
    /// Text placed at a day and a value of the primary axis: a line's own label.
    pub notes: Vec<Note>,
}

impl TimeChart {
    /// Lines over days, with no band, divider or notes: the charts of the days gone by.
    pub fn over(days: Vec<NaiveDate>, primary: Axis, secondary: Option<Axis>) -> TimeChart {
        TimeChart {
            days,
            primary,
            secondary,
            band: None,
            divider: None,
            notes: Vec::new(),
        }
    }

    /// The first two series of the chart that look alike without their colour (the same
    /// style, dash and hatching), by label; None when every series has a look of its own.
    pub fn alike(&self) -> Option<(&str, &str)> {
        let lines: Vec<&Line> = std::iter::once(&self.primary)
            .chain(self.secondary.as_ref())
            .flat_map(|a| &a.lines)
            .collect();
        lines.iter().enumerate().find_map(|(i, a)| {
            lines[i + 1..]
                .iter()
                .find(|b| b.style == a.style)
                .map(|b| (a.label.as_str(), b.label.as_str()))
        })
    }
}

/// A low-high range per day; None is a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub label: String,
    pub color: RGBColor,
    pub low: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub day: usize,
    pub value: f64,
    pub text: String,
    pub color: RGBColor,
}

/// Key results: progress against the pace the cycle expects by now.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressChart {
    pub rows: Vec<ProgressRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProgressRow {
    pub label: String,
    pub progress: Option<f64>,
    pub expected: f64,
    pub color: RGBColor,
}

// A digest holds five charts at most: boxing the larger variant would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ChartKind {
    Time(TimeChart),
    Progress(ProgressChart),
    Spark(SparkChart),
}

impl ChartKind {
    /// Display size in CSS pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            ChartKind::Time(_) => (WIDTH, HEIGHT),
            ChartKind::Progress(p) => (WIDTH, progress::height(p.rows.len())),
            ChartKind::Spark(_) => (SPARK_WIDTH, SPARK_HEIGHT),
        }
    }

    /// PNG pixels per CSS pixel.
    fn scale(&self) -> u32 {
        match self {
            ChartKind::Spark(_) => SPARK_SCALE,
            _ => SCALE,
        }
    }
}

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register() {
    FONT.call_once(|| {
        // plotters keeps a process-wide font table; registering the embedded font under the
        // family every chart asks for means no system font lookup ever happens.
        if register_font("sans-serif", FontStyle::Normal, FONT_BYTES).is_err() {
            tracing::error!("the embedded chart font could not be registered");
        }
    });
}

/// Values beyond this magnitude, infinities and NaN are gaps: plotters' tick search never
/// ends on an infinite range, and no shop's figure is this large.
const PLOTTABLE: f64 = 1e15;

fn plottable(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && x.abs() < PLOTTABLE)
}

/// The chart with every value that cannot be drawn made a gap, and without the series (and
/// the band) left with nothing to draw: a legend entry without its series does not exist.
fn sanitised(kind: &ChartKind) -> ChartKind {
    let mut k = kind.clone();
    match &mut k {
        ChartKind::Time(t) => {
            for axis in std::iter::once(&mut t.primary).chain(t.secondary.as_mut()) {
                for line in &mut axis.lines {
                    for v in &mut line.values {
                        *v = plottable(*v);
                    }
                }
                axis.lines.retain(|l| l.values.iter().any(Option::is_some));
            }
            if t.secondary.as_ref().is_some_and(|a| a.lines.is_empty()) {
                t.secondary = None;
            }
            if let Some(b) = &mut t.band {
                for v in b.low.iter_mut().chain(b.high.iter_mut()) {
                    *v = plottable(*v);
                }
                if !b
                    .low
                    .iter()
                    .zip(&b.high)
                    .any(|(l, h)| l.is_some() && h.is_some())
                {
                    t.band = None;
                }
            }
        }
        ChartKind::Progress(p) => {
            for r in &mut p.rows {
                r.progress = plottable(r.progress);
            }
        }
        ChartKind::Spark(sp) => {
            for v in &mut sp.values {
                *v = plottable(*v);
            }
        }
    }
    k
}

/// Draws a chart to PNG bytes.
pub fn render_png(kind: &ChartKind) -> Result<Vec<u8>> {
    let (rgb, pw, ph) = render_rgb(kind)?;
    encode_indexed(&rgb, pw, ph)
}

/// Draws a chart to RGB pixels, with its pixel width and height.
fn render_rgb(kind: &ChartKind) -> Result<(Vec<u8>, u32, u32)> {
    render_rgb_placed(kind).map(|(rgb, w, h, _)| (rgb, w, h))
}

/// [`render_rgb`], and where a time chart's axis labels went.
fn render_rgb_placed(kind: &ChartKind) -> Result<(Vec<u8>, u32, u32, Vec<Placed>)> {
    register();
    let kind = &sanitised(kind);
    let (w, h) = kind.size();
    let scale = kind.scale();
    let (pw, ph) = (w * scale, h * scale);
    let mut rgb = vec![255u8; (pw * ph * 3) as usize];
    let mut placed = Vec::new();
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (pw, ph)).into_drawing_area();
        // The buffer starts white (every byte 255): no fill needed.
        match kind {
            ChartKind::Time(t) => placed = draw_time(&root, t)?,
            ChartKind::Progress(p) => draw_progress(&root, p)?,
            ChartKind::Spark(sp) => draw_spark(&root, sp)?,
        }
        // A thin frame in the image itself, so a white chart looks meant in a dark client
        // and the image's box is exactly its size (no CSS border to add to it).
        if !matches!(kind, ChartKind::Spark(_)) {
            root.draw(&Rectangle::new(
                [(0, 0), (pw as i32 - 1, ph as i32 - 1)],
                palette::FRAME.stroke_width(SCALE),
            ))
            .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok((rgb, pw, ph, placed))
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw chart: {e:?}")
}

/// Text of `size` CSS pixels in a time or key results chart.
fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", (size * SCALE) as f64)
        .into_font()
        .color(&palette::TEXT)
}

/// A filled dot of `radius` PNG pixels at `point`.
fn draw_dot<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    point: (f64, f64),
    color: RGBColor,
    radius: u32,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(std::iter::once(Circle::new(
            point,
            radius as i32,
            color.filled(),
        )))
        .map_err(|e| anyhow!("cannot draw chart: {e:?}"))?;
    Ok(())
}

/// A dot of `radius` PNG pixels on the last day with a value: yesterday.
fn mark_last<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    values: &[Option<f64>],
    color: RGBColor,
    radius: u32,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let Some((i, v)) = values
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, v)| Some((i, (*v)?)))
    else {
        return Ok(());
    };
    draw_dot(chart, (i as f64, v), color, radius)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_over_a_few_units_is_labelled_at_whole_numbers() {
        assert_eq!(AxisUnit::Count.label_count(2.0), 3);
        assert_eq!(AxisUnit::Count.label_count(3.0), 4);
        assert_eq!(AxisUnit::Count.label_count(0.0), 2);
        assert_eq!(AxisUnit::Count.label_count(250.0), 5);
        assert_eq!(AxisUnit::Percent.label_count(0.02), 5);
        assert_eq!(AxisUnit::Money("£".into()).label_count(2.0), 5);
    }

    #[test]
    fn small_spans_keep_their_tick_labels_apart() {
        let ticks: Vec<String> = [0.0, 0.5, 1.0, 1.5, 2.0]
            .iter()
            .map(|v| AxisUnit::Count.tick_for(*v, 2.0))
            .collect();
        assert_eq!(ticks, ["0", "0.5", "1", "1.5", "2"]);
        assert_eq!(AxisUnit::Count.tick_for(1500.0, 3000.0), "1.5k");
        let pct: Vec<String> = [0.0012, 0.00125, 0.0013]
            .iter()
            .map(|v| AxisUnit::Percent.tick_for(*v, 0.0001))
            .collect();
        assert_eq!(pct, ["0.120%", "0.125%", "0.130%"]);
        assert_eq!(AxisUnit::Percent.tick_for(0.05, 0.08), "5.0%");
    }

    /// Pixels of `color` in rows `from_row..` of a rendered chart.
    fn pixels_of(kind: &ChartKind, color: RGBColor, from_row: u32) -> usize {
        let (rgb, w, h) = render_rgb(kind).unwrap();
        (from_row..h)
            .flat_map(|y| (0..w).map(move |x| ((y * w + x) * 3) as usize))
            .filter(|&i| (rgb[i], rgb[i + 1], rgb[i + 2]) == (color.0, color.1, color.2))
            .count()
    }

    #[test]
    fn a_day_alone_between_gaps_is_drawn() {
        // Open on day 5 alone, between closed days, as a shop closed around a holiday is.
        let mut values = vec![None; 14];
        values[5] = Some(120.0);
        let line = |values: Vec<Option<f64>>| Line {
            label: "Orders".into(),
            color: palette::PRIMARY,
            style: LineStyle::Solid,
            values,
        };
        let time = |values| {
            ChartKind::Time(TimeChart {
                band: None,
                divider: None,
                notes: Vec::new(),
                days: (0..14)
                    .map(|i| NaiveDate::from_ymd_opt(2026, 11, 1 + i).unwrap())
                    .collect(),
                primary: Axis {
                    lines: vec![line(values)],
                    unit: AxisUnit::Count,
                },
                secondary: None,
            })
        };
        // Below the legend, whose swatch has the line's colour too.
        let plot = (legend::LEGEND_ROW + 12) * SCALE;
        assert_eq!(pixels_of(&time(vec![None; 14]), palette::PRIMARY, plot), 0);
        assert!(pixels_of(&time(values.clone()), palette::PRIMARY, plot) > 0);
        // A sparkline: the lone day and the last day are each a dot; no line joins them.
        let spark = |values| {
            ChartKind::Spark(SparkChart {
                values,
                color: palette::PRIMARY,
            })
        };
        let last_only = {
            let mut v = vec![None; 14];
            v[13] = Some(100.0);
            v
        };
        let mut both = last_only.clone();
        both[5] = Some(120.0);
        let alone = pixels_of(&spark(last_only), palette::PRIMARY, 0);
        assert!(pixels_of(&spark(both), palette::PRIMARY, 0) > alone);
    }

    #[test]
    fn segments_split_at_gaps() {
        let s = segments(&[Some(1.0), None, Some(2.0), Some(3.0), None]);
        assert_eq!(s, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    /// `n` days from 1 Nov 2026.
    fn days(n: u64) -> Vec<NaiveDate> {
        (0..n)
            .map(|i| NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Days::new(i))
            .collect()
    }

    fn line(label: &str, color: RGBColor, style: LineStyle, values: Vec<Option<f64>>) -> Line {
        Line {
            label: label.into(),
            color,
            style,
            values,
        }
    }

    /// A time chart of `lines` in `unit` over `days`, nothing else.
    fn time(days: Vec<NaiveDate>, unit: AxisUnit, lines: Vec<Line>) -> TimeChart {
        TimeChart {
            band: None,
            divider: None,
            notes: Vec::new(),
            days,
            primary: Axis { lines, unit },
            secondary: None,
        }
    }

    /// Revenue of the month against the week before, as the digest draws it.
    fn revenue(prev: Vec<Option<f64>>) -> TimeChart {
        time(
            days(30),
            AxisUnit::Money("£".into()),
            vec![
                line(
                    "A week earlier",
                    palette::COMPARE,
                    LineStyle::Dashed(Dash::Long),
                    prev,
                ),
                line(
                    "Net revenue",
                    palette::PRIMARY,
                    LineStyle::Solid,
                    (0..30)
                        .map(|i| Some(18_000.0 + 400.0 * f64::from(i % 7)))
                        .collect(),
                ),
            ],
        )
    }

    #[test]
    fn a_chart_is_a_png_at_twice_the_display_size() {
        let png = render_png(&ChartKind::Time(revenue(vec![None; 30]))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR width and height, big-endian at bytes 16..24.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        // The email's column, twice: as many pixels as a 3x phone shows it with (1029).
        assert_eq!((w, h), (WIDTH * 2, HEIGHT * 2));
        assert_eq!((WIDTH, HEIGHT), (568, 320));
        assert!(w >= PHONE_WIDTH * 3);
        // Colour type 3: a palette without a tRNS chunk, so no transparency anywhere.
        assert_eq!(png[25], 3);
        assert!(!png.windows(4).any(|w| w == b"tRNS"));
        // A sparkline keeps its size on a phone: three times it.
        let spark = ChartKind::Spark(SparkChart {
            values: vec![Some(1.0), Some(2.0)],
            color: palette::PRIMARY,
        });
        let (_, w, h) = render_rgb(&spark).unwrap();
        assert_eq!((w, h), (SPARK_WIDTH * 3, SPARK_HEIGHT * 3));
    }

    #[test]
    fn every_colour_a_chart_draws_data_with_is_3_to_1_on_white() {
        use palette::*;
        let white = RGBColor(255, 255, 255);
        let data = [
            GOOD,
            BAD,
            WARN,
            NEUTRAL,
            PRIMARY,
            COMPARE,
            SERIES_LIGHT,
            TEXT,
            BAND_EDGE,
        ]
        .into_iter()
        .chain(SERIES.into_iter().take(3));
        for c in data {
            assert!(
                contrast(c, white) >= 3.0,
                "{} is {:.2}:1",
                hex(c),
                contrast(c, white)
            );
        }
        // By hand: black on white is 21:1, and a colour against itself 1:1.
        assert!((contrast(RGBColor(0, 0, 0), white) - 21.0).abs() < 1e-9);
        assert_eq!(contrast(PRIMARY, PRIMARY), 1.0);
        // The grid and the frame are not data: the lines and the numbers beside them carry
        // it. Nor is the band's pale fill: its edges are what shows it.
        assert!(contrast(BAND, white) < 3.0 && contrast(GRID, white) < 3.0);
    }

    #[test]
    fn the_range_band_is_outlined_at_3_to_1_on_white() {
        let white = RGBColor(255, 255, 255);
        let edge = palette::contrast(palette::BAND_EDGE, white);
        assert!(edge >= 3.0, "the band's edge is {edge:.2}:1");
        // And the chart draws it: its edge's colour is on the image, at least two days long
        // on each side, with the fill between.
        let mut t = revenue(vec![None; 30]);
        t.band = Some(Band {
            label: "Usual range".into(),
            color: palette::BAND,
            low: (0..30).map(|i| (i >= 20).then_some(10_000.0)).collect(),
            high: (0..30).map(|i| (i >= 20).then_some(25_000.0)).collect(),
        });
        let kind = ChartKind::Time(t);
        let plot = (legend::LEGEND_ROW * 2) * SCALE;
        let edge_px = pixels_of(&kind, palette::BAND_EDGE, plot);
        let fill_px = pixels_of(&kind, palette::BAND, plot);
        assert!(edge_px > 2 * 200, "{edge_px} pixels of the band's edge");
        assert!(fill_px > edge_px, "{fill_px} pixels of fill");
    }

    #[test]
    fn no_two_series_of_a_chart_look_alike_without_their_colour() {
        let t = revenue((0..30).map(|_| Some(15_000.0)).collect());
        assert_eq!(t.alike(), None);
        let mut same = t;
        same.primary.lines[1].style = LineStyle::Dashed(Dash::Long);
        assert_eq!(same.alike(), Some(("A week earlier", "Net revenue")));
        // Areas apart by their hatching.
        let areas = time(
            days(3),
            AxisUnit::Count,
            [Hatch::Plain, Hatch::Stripes, Hatch::Dots]
                .into_iter()
                .map(|h| {
                    line(
                        "a",
                        palette::PRIMARY,
                        LineStyle::Area(h),
                        vec![Some(1.0); 3],
                    )
                })
                .collect(),
        );
        assert_eq!(areas.alike(), None);
    }

    #[test]
    fn a_hatched_area_and_its_swatch_show_white_marks() {
        let t = time(
            days(14),
            AxisUnit::Count,
            vec![
                line(
                    "paid",
                    palette::SERIES[0],
                    LineStyle::Area(Hatch::Plain),
                    vec![Some(100.0); 14],
                ),
                line(
                    "other",
                    palette::SERIES[2],
                    LineStyle::Area(Hatch::Stripes),
                    vec![Some(100.0); 14],
                ),
            ],
        );
        let (rgb, w, h) = render_rgb(&ChartKind::Time(t)).unwrap();
        // In the plot, the upper area's rows hold white between its colour.
        let rows = |from: u32, to: u32| {
            let mut white_between = 0;
            for y in from..to {
                let row: Vec<[u8; 3]> = (0..w)
                    .map(|x| {
                        let i = ((y * w + x) * 3) as usize;
                        [rgb[i], rgb[i + 1], rgb[i + 2]]
                    })
                    .collect();
                let c = palette::SERIES[2];
                let first = row.iter().position(|p| *p == [c.0, c.1, c.2]);
                let last = row.iter().rposition(|p| *p == [c.0, c.1, c.2]);
                if let (Some(a), Some(b)) = (first, last) {
                    white_between += row[a..b].iter().filter(|p| **p == [255; 3]).count();
                }
            }
            white_between
        };
        let legend_rows = legend::LEGEND_ROW * SCALE;
        assert!(rows(0, legend_rows) > 20, "no hatching in the swatch");
        assert!(rows(legend_rows, h) > 1000, "no hatching in the area");
    }

    #[test]
    fn a_series_with_nothing_to_draw_has_no_legend_entry() {
        // "A week earlier" without a value, as before the shop's second week.
        let t = revenue(vec![None; 30]);
        let ChartKind::Time(drawn) = sanitised(&ChartKind::Time(t)) else {
            unreachable!()
        };
        let labels: Vec<String> = legend_entries(&drawn)
            .into_iter()
            .map(|(l, _)| l.label)
            .collect();
        assert_eq!(labels, ["Net revenue"]);
        // Nor a value that cannot be drawn, nor a band without both ends on any day.
        let mut t = revenue(vec![Some(f64::NAN); 30]);
        t.band = Some(Band {
            label: "Usual range".into(),
            color: palette::BAND,
            low: vec![Some(1.0); 30],
            high: vec![None; 30],
        });
        let ChartKind::Time(drawn) = sanitised(&ChartKind::Time(t)) else {
            unreachable!()
        };
        assert_eq!(legend_entries(&drawn).len(), 1);
        assert!(drawn.band.is_none());
        // In the image: no grey dashes in the legend's row.
        let legend_rows = legend::LEGEND_ROW * SCALE;
        let grey = |t: TimeChart| {
            let (rgb, w, _) = render_rgb(&ChartKind::Time(t)).unwrap();
            (0..legend_rows * w)
                .filter(|p| {
                    let i = (*p * 3) as usize;
                    let c = palette::COMPARE;
                    (rgb[i], rgb[i + 1], rgb[i + 2]) == (c.0, c.1, c.2)
                })
                .count()
        };
        assert_eq!(grey(revenue(vec![None; 30])), 0);
        assert!(grey(revenue(vec![Some(1.0); 30])) > 0);
    }

    /// Charts whose labels once touched or could: revenue from £0, a few orders, a narrow
    /// percentage, a secondary axis, the days ahead after a divider.
    fn label_cases() -> Vec<TimeChart> {
        let mut ahead = time(
            days(21),
            AxisUnit::Count,
            vec![line(
                "Orders",
                palette::PRIMARY,
                LineStyle::Solid,
                (0..21).map(|i| (i < 14).then_some(150.0)).collect(),
            )],
        );
        ahead.divider = Some((14, "ahead".into()));
        let mut two_axes = revenue(vec![None; 30]);
        two_axes.secondary = Some(Axis {
            lines: vec![line(
                "Conversion",
                palette::SERIES[1],
                LineStyle::Dashed(Dash::Short),
                (0..30)
                    .map(|i| Some(0.012 + 0.0001 * f64::from(i)))
                    .collect(),
            )],
            unit: AxisUnit::Percent,
        });
        vec![
            revenue(vec![Some(21_000.0); 30]),
            time(
                days(30),
                AxisUnit::Count,
                vec![line(
                    "Orders",
                    palette::SERIES_LIGHT,
                    LineStyle::Bars,
                    (0..30).map(|i| Some(f64::from(i % 3))).collect(),
                )],
            ),
            time(
                days(9),
                AxisUnit::Percent,
                vec![line(
                    "Conversion",
                    palette::PRIMARY,
                    LineStyle::Solid,
                    (0..9)
                        .map(|i| Some(0.0012 + 0.00001 * f64::from(i)))
                        .collect(),
                )],
            ),
            two_axes,
            ahead,
        ]
    }

    #[test]
    fn axis_labels_never_touch() {
        let clear = (axes::CLEAR_PX * SCALE) as i32;
        for t in label_cases() {
            let (rgb, w, h, placed) = render_rgb_placed(&ChartKind::Time(t.clone())).unwrap();
            let values: Vec<&Placed> = placed
                .iter()
                .filter(|p| p.which != axes::Which::Days)
                .collect();
            let days: Vec<&Placed> = placed
                .iter()
                .filter(|p| p.which == axes::Which::Days)
                .collect();
            assert!(values.len() >= 2 && days.len() >= 2, "{placed:?}");
            // Every two labels apart by the gap, and the lowest value label above every
            // day label: "£0" no longer sits on "7 Nov".
            for (i, a) in placed.iter().enumerate() {
                for b in &placed[i + 1..] {
                    let gap = a.bounds.gap(&b.bounds);
                    assert!(gap >= clear, "{:?} and {:?} {gap} px apart", a.text, b.text);
                }
                let b = a.bounds;
                assert!(
                    b.left >= 0 && b.right <= w as i32 && b.bottom <= h as i32,
                    "{a:?}"
                );
            }
            let lowest = values.iter().map(|p| p.bounds.bottom).max().unwrap();
            let top = days.iter().map(|p| p.bounds.top).min().unwrap();
            assert!(top - lowest >= clear, "{lowest} and {top}");
            // The boxes hold the text's ink: every pixel in the text's colour from the top
            // value label down lies in a label's box (a pixel of slack); notes and the
            // divider's label have colours of their own.
            let first = values.iter().map(|p| p.bounds.top).min().unwrap();
            let text = palette::TEXT;
            for y in first.max(0) as u32..h {
                for x in 0..w {
                    let i = ((y * w + x) * 3) as usize;
                    if (rgb[i], rgb[i + 1], rgb[i + 2]) != (text.0, text.1, text.2) {
                        continue;
                    }
                    let (x, y) = (x as i32, y as i32);
                    let inside = placed.iter().any(|p| {
                        let b = p.bounds;
                        x >= b.left - 1 && x <= b.right + 1 && y >= b.top - 1 && y <= b.bottom + 1
                    });
                    assert!(inside, "text ink at ({x}, {y}) outside every label");
                }
            }
        }
    }

    #[test]
    fn chart_labels_ink_at_least_11_css_pixels_on_a_phone() {
        // A chart of one labelled series; its legend is drawn above the plot. "Typical range"
        // has letters that rise (T, l) and fall (y, p, g).
        let chart = ChartKind::Time(time(
            days(14),
            AxisUnit::Count,
            vec![line(
                "Typical range",
                palette::PRIMARY,
                LineStyle::Solid,
                vec![Some(5.0); 14],
            )],
        ));
        let (rgb, w, _) = render_rgb(&chart).unwrap();
        let text = palette::TEXT;
        // The legend's text pixels: the text colour, in the legend's row, right of the y
        // axis's tick labels: "pical range".
        let (mut top, mut bottom) = (u32::MAX, 0);
        for y in 0..legend::LEGEND_ROW * SCALE + 4 {
            for x in (90 * SCALE)..w {
                let i = ((y * w + x) * 3) as usize;
                let p = (rgb[i], rgb[i + 1], rgb[i + 2]);
                let dark = i32::from(p.0).abs_diff(i32::from(text.0)) < 40
                    && i32::from(p.1).abs_diff(i32::from(text.1)) < 40
                    && i32::from(p.2).abs_diff(i32::from(text.2)) < 40;
                if dark {
                    top = top.min(y);
                    bottom = bottom.max(y);
                }
            }
        }
        assert!(top < bottom, "no legend text found");
        let full = f64::from(bottom - top + 1) / f64::from(SCALE);
        // Shown on a phone's 343-pixel column, the chart is scaled by 343 / 568.
        let phone = full * f64::from(PHONE_WIDTH) / f64::from(WIDTH);
        eprintln!("legend label inks {full:.1} CSS px, {phone:.1} on a phone");
        assert!(phone >= 11.0, "labels ink {phone:.1} CSS px on a phone");
    }

    #[test]
    fn key_result_charts_of_any_length_and_value_draw() {
        for n in 1..=12 {
            let rows = (0..n)
                .map(|i| ProgressRow {
                    label: format!("Key result number {i} with a long name"),
                    progress: [None, Some(-3.0), Some(0.5), Some(9.0), Some(f64::NAN)]
                        .get(i % 5)
                        .copied()
                        .flatten(),
                    expected: 0.6,
                    color: palette::GOOD,
                })
                .collect();
            let png = render_png(&ChartKind::Progress(ProgressChart { rows })).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        }
    }

    #[test]
    fn under_deuteranopia_good_and_bad_are_one_colour_so_marks_carry_them() {
        // Machado, Oliveira and Fernandes (2009), deuteranopia at severity 1, on linear RGB.
        const M: [[f64; 3]; 3] = [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ];
        let simulate = |c: RGBColor| {
            let lin = |x: u8| {
                let x = f64::from(x) / 255.0;
                if x <= 0.04045 {
                    x / 12.92
                } else {
                    ((x + 0.055) / 1.055).powf(2.4)
                }
            };
            let srgb = |x: f64| {
                let x = x.clamp(0.0, 1.0);
                let v = if x <= 0.003_130_8 {
                    12.92 * x
                } else {
                    1.055 * x.powf(1.0 / 2.4) - 0.055
                };
                (v * 255.0).round() as u8
            };
            let v = [lin(c.0), lin(c.1), lin(c.2)];
            let row = |r: [f64; 3]| srgb(r[0] * v[0] + r[1] * v[1] + r[2] * v[2]);
            RGBColor(row(M[0]), row(M[1]), row(M[2]))
        };
        let (good, bad) = (simulate(palette::GOOD), simulate(palette::BAD));
        // Brightness alike (under 1.5:1 apart): colour alone cannot tell them apart, which is
        // why every good or bad mark in the email also carries ✓ or ✗ (the Chromium test
        // checks that), and each keeps 3:1 on white as a graphic.
        let apart = palette::contrast(good, bad);
        assert!(apart < 1.5, "{apart}");
        let white = RGBColor(255, 255, 255);
        assert!(palette::contrast(good, white) >= 3.0 && palette::contrast(bad, white) >= 3.0);
    }
}
