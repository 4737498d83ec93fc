//! The chart's pixels as an 8-bit palette PNG: the 256 most used colours kept, deflate
//! at a low level, written here to choose it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use anyhow::{Context, Result};

/// Encodes RGB pixels as an 8-bit palette PNG.
///
/// A chart has a few hundred distinct colours, most of them anti-aliasing shades that cover
/// a handful of pixels each. The 256 most used colours are kept exactly and the rare rest
/// map to their nearest kept colour, which keeps files small (well under the 60 KB budget)
/// and quick to compress.
pub(super) fn encode_indexed(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let runs = runs(rgb);
    let mut counts: RgbMap<u32> = RgbMap::default();
    for (c, n) in &runs {
        *counts.entry(*c).or_default() += n;
    }
    let mut by_use: Vec<([u8; 3], u32)> = counts.into_iter().collect();
    by_use.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let palette: Vec<[u8; 3]> = by_use.iter().take(256).map(|(c, _)| *c).collect();
    // Hundreds of rare shades each search the palette: a plain loop over integer
    // distances, first minimum wins.
    let nearest = |c: [u8; 3]| -> u8 {
        let (r, g, b) = (i32::from(c[0]), i32::from(c[1]), i32::from(c[2]));
        let mut best = (i32::MAX, 0u8);
        for (i, p) in palette.iter().enumerate() {
            let d = (i32::from(p[0]) - r).pow(2)
                + (i32::from(p[1]) - g).pow(2)
                + (i32::from(p[2]) - b).pow(2);
            if d < best.0 {
                best = (d, i as u8);
            }
        }
        best.1
    };
    let index: RgbMap<u8> = by_use
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (*c, if i < 256 { i as u8 } else { nearest(*c) }))
        .collect();
    // The scanlines as PNG wants them: a filter byte (0, none: palette indices do not
    // predict well), then the row's indices.
    let row = w as usize;
    let mut raw = Vec::with_capacity((row + 1) * h as usize);
    let mut col = 0;
    for (c, n) in &runs {
        let i = index[c];
        let mut n = *n as usize;
        while n > 0 {
            if col == 0 {
                raw.push(0);
            }
            let take = n.min(row - col);
            raw.resize(raw.len() + take, i);
            col = (col + take) % row;
            n -= take;
        }
    }
    write_png(w, h, &palette, &raw)
}

/// Splits RGB pixels into runs of one colour.
///
/// Charts are mostly long runs: a pixel continues its run when its three bytes equal the
/// three before them, so a run is found by comparing the buffer with itself shifted by one
/// pixel, a block at a time, instead of pixel by pixel.
fn runs(rgb: &[u8]) -> Vec<([u8; 3], u32)> {
    const BLOCK: usize = 32;
    let mut runs = Vec::new();
    let mut start = 0;
    while start + 3 <= rgb.len() {
        let mut k = start + 3;
        while k + BLOCK <= rgb.len() && rgb[k..k + BLOCK] == rgb[k - 3..k + BLOCK - 3] {
            k += BLOCK;
        }
        while k < rgb.len() && rgb[k] == rgb[k - 3] {
            k += 1;
        }
        // Byte k differs from the byte a pixel before it: the pixel holding k starts a new
        // run (or the buffer ended).
        let end = (k / 3 * 3).max(start + 3);
        runs.push((
            [rgb[start], rgb[start + 1], rgb[start + 2]],
            ((end - start) / 3) as u32,
        ));
        start = end;
    }
    runs
}

/// A map keyed by colour. A colour is three bytes: a multiplicative hash of them is all the
/// spreading a hash table needs, and far cheaper than the default SipHash.
type RgbMap<V> = HashMap<[u8; 3], V, BuildHasherDefault<RgbHasher>>;

#[derive(Default)]
struct RgbHasher(u64);

impl Hasher for RgbHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Writes an 8-bit palette PNG: signature, IHDR, PLTE, IDAT, IEND.
///
/// Written here rather than through an encoder crate to choose the deflate level: a low
/// level compresses a chart's long runs almost as well as the default, several times faster.
fn write_png(w: u32, h: u32, palette: &[[u8; 3]], scanlines: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write as _;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // Bit depth 8, colour type 3 (palette), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", &palette.concat());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
    z.write_all(scanlines)
        .context("cannot compress the chart")?;
    chunk(
        &mut out,
        b"IDAT",
        &z.finish().context("cannot compress the chart")?,
    );
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_match_a_pixel_by_pixel_walk() {
        // Long runs crossing block edges, single pixels, and colours that share bytes with
        // their neighbours (a shifted compare must not mistake them for a run).
        let mut rgb = Vec::new();
        let mut expect: Vec<([u8; 3], u32)> = Vec::new();
        let pattern: [([u8; 3], u32); 7] = [
            ([255, 255, 255], 40),
            ([1, 2, 3], 1),
            ([2, 3, 1], 1),
            ([3, 1, 2], 13),
            ([255, 255, 255], 1),
            ([255, 255, 254], 1),
            ([9, 9, 9], 100),
        ];
        for (c, n) in pattern {
            for _ in 0..n {
                rgb.extend_from_slice(&c);
            }
            expect.push((c, n));
        }
        assert_eq!(runs(&rgb), expect);
        assert_eq!(runs(&rgb[..3]), vec![([255, 255, 255], 1)]);
        assert!(runs(&[]).is_empty());
    }
}
