//! Colours with a meaning, the same in every chart and in the email's text, and the
//! contrast between two of them.

use plotters::style::RGBColor;
pub const GOOD: RGBColor = RGBColor(0x1a, 0x7f, 0x37);
pub const BAD: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
pub const WARN: RGBColor = RGBColor(0xbf, 0x87, 0x00);
pub const NEUTRAL: RGBColor = RGBColor(0x6e, 0x77, 0x81);
pub const PRIMARY: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
pub const COMPARE: RGBColor = RGBColor(0x7d, 0x87, 0x93);
pub const GRID: RGBColor = RGBColor(0xea, 0xee, 0xf2);
/// The frame around a chart.
pub const FRAME: RGBColor = RGBColor(0xd0, 0xd7, 0xde);
pub const TEXT: RGBColor = RGBColor(0x3d, 0x44, 0x4d);
/// A range around an expectation (the forecast's band): a pale fill, too pale to see as a
/// graphic on its own (1.4:1 on white)...
pub const BAND: RGBColor = RGBColor(0xc9, 0xd9, 0xf2);
/// ...so its edges are drawn in this, 3.3:1 on white.
pub const BAND_EDGE: RGBColor = RGBColor(0x5a, 0x8f, 0xd6);
/// Bars without a good/bad meaning.
pub const SERIES_LIGHT: RGBColor = RGBColor(0x5a, 0x8f, 0xd6);
/// For series without a good/bad meaning (traffic channels).
pub const SERIES: [RGBColor; 6] = [
    RGBColor(0x1f, 0x5f, 0xbf),
    RGBColor(0x0f, 0x8b, 0x8d),
    RGBColor(0x82, 0x50, 0xdf),
    RGBColor(0xd9, 0x73, 0x1a),
    RGBColor(0x8c, 0x95, 0x9f),
    RGBColor(0xc2, 0x3b, 0x8a),
];

/// WCAG 2 contrast ratio of two colours, 1 to 21.
pub fn contrast(a: RGBColor, b: RGBColor) -> f64 {
    let lum = |c: RGBColor| {
        let ch = |x: u8| {
            let x = f64::from(x) / 255.0;
            if x <= 0.03928 {
                x / 12.92
            } else {
                ((x + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(c.0) + 0.7152 * ch(c.1) + 0.0722 * ch(c.2)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// `#rrggbb` for HTML.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}
