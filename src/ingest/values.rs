//! Values as exports write them: numbers, whole numbers, days and moments, each parsed
//! strictly enough that a wrong column is refused rather than read as nonsense; and the
//! values every preset writes (texts, customer ids).

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::schema::{self, ColType};
use crate::store::write::SqlValue;

pub fn parse_value(ty: ColType, raw: &str, tz: Tz) -> Result<SqlValue> {
    Ok(match ty {
        ColType::Text => SqlValue::Text(raw.to_string()),
        ColType::Enum(words) => {
            let lower = raw.to_ascii_lowercase();
            if !words.contains(&lower.as_str()) {
                bail!("{raw:?} is not one of {}", words.join(", "));
            }
            SqlValue::Text(lower)
        }
        ColType::Int { min } => {
            let v = whole_number(raw)?;
            if v < min {
                bail!("{v} is below the minimum {min}");
            }
            if v.unsigned_abs() as f64 > schema::MAX_NUMBER {
                bail!("{v} is beyond the largest number dawnpost accepts (10^12)");
            }
            SqlValue::Int(v)
        }
        ColType::Float { min } => {
            let v: f64 = raw
                .parse()
                .map_err(|_| anyhow!("{raw:?} is not a number"))?;
            if !v.is_finite() {
                bail!("{raw:?} is not a finite number");
            }
            if v < min {
                bail!("{v} is below the minimum {min}");
            }
            if v.abs() > schema::MAX_NUMBER {
                bail!("{raw} is beyond the largest number dawnpost accepts (10^12)");
            }
            SqlValue::Float(v)
        }
        ColType::Share => {
            let v: f64 = raw
                .parse()
                .map_err(|_| anyhow!("{raw:?} is not a number"))?;
            if !(0.0..1.0).contains(&v) {
                bail!("{raw} is not a share from 0 to under 1 (0.2 for 20%)");
            }
            SqlValue::Float(v)
        }
        ColType::Day => SqlValue::Text(parse_day_or_moment(raw, tz)?.to_string()),
        ColType::Timestamp => SqlValue::Int(parse_timestamp(raw, tz)?),
        ColType::Position => SqlValue::Int(whole_number(raw).and_then(|v| {
            if (1..=1_000_000).contains(&v) {
                Ok(v)
            } else {
                bail!("{v} is not a line position (1 to 1,000,000)")
            }
        })?),
        ColType::DayOf(from) => bail!("derived from `{from}`: it must not be given"),
    })
}

/// A quantity: a whole number of at most 10^12 either way.
pub fn quantity(raw: &str) -> Result<i64> {
    let v = whole_number(raw)?;
    if v.unsigned_abs() as f64 > schema::MAX_NUMBER {
        bail!("{v} is beyond the largest number dawnpost accepts (10^12)");
    }
    Ok(v)
}

/// A whole number, also as exports write them: `12.0` is 12, `12.5` is refused.
pub fn whole_number(raw: &str) -> Result<i64> {
    if let Ok(v) = raw.parse::<i64>() {
        return Ok(v);
    }
    let not = || anyhow!("{:?} is not a whole number", excerpt(raw));
    let f: f64 = raw.parse().map_err(|_| not())?;
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= schema::MAX_NUMBER {
        Ok(f as i64)
    } else {
        Err(not())
    }
}

/// A day as `YYYY-MM-DD`, or as a timestamp (as some exports write days), taken as its
/// local day in the store zone.
pub fn parse_day_or_moment(raw: &str, tz: Tz) -> Result<NaiveDate> {
    if raw.len() == 10 {
        return parse_day(raw);
    }
    parse_timestamp(raw, tz)
        .map(|t| local_day(t, tz))
        .map_err(|_| {
            anyhow!(
                "{:?} is not a date (YYYY-MM-DD) or a timestamp",
                excerpt(raw)
            )
        })
}

/// The years a date in the data or on the command line may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// A date written exactly `YYYY-MM-DD` (chrono alone also takes `2026-2-3` and
/// `+12026-02-03`), within [`YEARS`].
pub fn parse_day(raw: &str) -> Result<NaiveDate> {
    let bad = || anyhow!("{:?} is not a date (YYYY-MM-DD)", excerpt(raw));
    let b = raw.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(bad());
    }
    let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
    in_years(d).map_err(|e| anyhow!("{raw:?}: {e}"))?;
    Ok(d)
}

fn in_years(d: NaiveDate) -> Result<()> {
    use chrono::Datelike;
    if YEARS.contains(&d.year()) {
        Ok(())
    } else {
        bail!(
            "the year {} is outside {}-{}",
            d.year(),
            YEARS.start(),
            YEARS.end()
        )
    }
}

/// The first 60 characters of a value, for a message about it.
pub fn excerpt(raw: &str) -> String {
    let mut s: String = raw.chars().take(60).collect();
    if raw.chars().nth(60).is_some() {
        s.push('…');
    }
    s
}

/// Epoch seconds of an RFC 3339 timestamp, or of a local date-time in `tz`.
pub fn parse_timestamp(raw: &str, tz: Tz) -> Result<i64> {
    let t = parse_moment(raw, tz)?;
    let day = DateTime::from_timestamp(t, 0)
        .map(|d| d.date_naive())
        .ok_or_else(|| anyhow!("{:?} is out of range", excerpt(raw)))?;
    in_years(day).map_err(|e| anyhow!("{:?}: {e}", excerpt(raw)))?;
    Ok(t)
}

fn parse_moment(raw: &str, tz: Tz) -> Result<i64> {
    if let Some(t) = shopify_moment(raw) {
        return Ok(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp());
    }
    // Shopify writes `2026-11-21 23:30:00 -0500`.
    if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S %z") {
        return Ok(t.timestamp());
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .ok_or_else(|| {
        anyhow!(
            "{raw:?} is not a timestamp (RFC 3339, or YYYY-MM-DD HH:MM:SS in the store time zone)"
        )
    })?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.timestamp()),
        // A repeated hour at the end of summer time: the first occurrence, as a clock on the wall would read it first.
        LocalResult::Ambiguous(first, _) => Ok(first.timestamp()),
        LocalResult::None => {
            bail!("{raw:?} does not exist in {tz} (skipped by a daylight-saving change)")
        }
    }
}

/// Epoch seconds of a moment written exactly as Shopify writes one,
/// `2026-11-21 23:30:00 -0500`, read by hand; None for anything else, which the general
/// parsers then read (or refuse) as they always did. chrono's `parse_from_str` works through
/// its format string again for every value: a third of the time a Shopify order took.
fn shopify_moment(raw: &str) -> Option<i64> {
    let b = raw.as_bytes();
    if b.len() != 25 || !matches!(b[20], b'+' | b'-') {
        return None;
    }
    let shaped = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 | 19 => *c == b' ',
        13 | 16 => *c == b':',
        20 => true,
        _ => c.is_ascii_digit(),
    });
    if !shaped {
        return None;
    }
    let num = |at: usize, len: usize| -> u32 {
        b[at..at + len]
            .iter()
            .fold(0, |n, c| n * 10 + u32::from(c - b'0'))
    };
    let (hours, minutes) = (num(21, 2), num(23, 2));
    // A leap second, or an offset chrono would refuse: left to chrono.
    if num(17, 2) > 59 || hours > 23 || minutes > 59 {
        return None;
    }
    let local = NaiveDate::from_ymd_opt(num(0, 4) as i32, num(5, 2), num(8, 2))?
        .and_hms_opt(num(11, 2), num(14, 2), num(17, 2))?
        .and_utc()
        .timestamp();
    let offset = i64::from(hours * 3600 + minutes * 60);
    Some(if b[20] == b'-' {
        local + offset
    } else {
        local - offset
    })
}

/// A number as a platform's download writes it: `1234.5`, or with thousands separators
/// (`"1,234.50"`); `--` and an empty cell are no value. A currency sign or a unit is refused.
pub fn export_number(raw: &str) -> Result<Option<f64>> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "--" {
        return Ok(None);
    }
    // Most numbers have no separator, and are read where they are.
    let plain: std::borrow::Cow<str> = if raw.contains(',') && is_grouped(raw) {
        raw.chars().filter(|c| *c != ',').collect::<String>().into()
    } else {
        raw.into()
    };
    let v: f64 = plain
        .parse()
        .map_err(|_| anyhow!("{:?} is not a number", excerpt(raw)))?;
    if !v.is_finite() || v.abs() > schema::MAX_NUMBER {
        bail!(
            "{:?} is not a number dawnpost accepts (at most 10^12)",
            excerpt(raw)
        );
    }
    Ok(Some(v))
}

/// `1,234` or `-12,345.67`: digits in groups of three after the first, then a decimal part.
fn is_grouped(raw: &str) -> bool {
    let body = raw.strip_prefix('-').unwrap_or(raw);
    let int = body.split('.').next().unwrap_or("");
    let groups: Vec<&str> = int.split(',').collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && body
            .split('.')
            .nth(1)
            .is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
}

/// A whole count from a download (`"1,234"`, `--` for none).
pub fn export_count(raw: &str) -> Result<Option<i64>> {
    match export_number(raw)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && v >= 0.0 => Ok(Some(v as i64)),
        Some(_) => bail!("{:?} is not a whole number of at least 0", excerpt(raw)),
    }
}

/// Two counts of one day summed (sessions of several channel groups, impressions of several
/// rows). Each is at most 10^12, so the sum cannot overflow; past 10^12 it is refused, as
/// any single count would be.
pub fn sum_counts(a: i64, b: i64) -> Result<i64> {
    let sum = a.saturating_add(b);
    if sum.unsigned_abs() as f64 > schema::MAX_NUMBER {
        bail!("the rows of one day sum to {sum}, past the largest number dawnpost accepts (10^12)");
    }
    Ok(sum)
}

/// A day as downloads write it: `2026-11-21`, GA4's `20261121`, or Google Ads' `Nov 21, 2026`.
pub fn export_day(raw: &str) -> Result<NaiveDate> {
    let raw = raw.trim();
    if raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()) {
        let d = NaiveDate::parse_from_str(raw, "%Y%m%d")
            .map_err(|_| anyhow!("{raw:?} is not a date (YYYYMMDD)"))?;
        in_years(d).map_err(|e| anyhow!("{raw:?}: {e}"))?;
        return Ok(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%b %d, %Y") {
        in_years(d).map_err(|e| anyhow!("{raw:?}: {e}"))?;
        return Ok(d);
    }
    parse_day(raw)
}

/// The store-local calendar day of an epoch second. Every epoch the importers pass comes
/// from [`parse_timestamp`], which holds it to [`YEARS`], far inside chrono's range.
pub fn local_day(epoch: i64, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp(epoch, 0)
        .expect("epoch seconds in chrono's range")
        .with_timezone(&tz)
        .date_naive()
}

// Values every preset writes.

pub(super) fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

pub(super) fn optional(s: &str) -> SqlValue {
    if s.is_empty() {
        SqlValue::Null
    } else {
        text(s)
    }
}

/// A customer id that is not an email address: the store keeps a hash of it, so the
/// shop's customers' addresses are not copied into it. No address is a guest.
pub(super) fn customer(email: &str) -> SqlValue {
    customer_hash(email).map_or(SqlValue::Null, |h| SqlValue::Text(customer_id(h)))
}

/// The hash a customer id is made of; None for a guest.
pub(super) fn customer_hash(email: &str) -> Option<u64> {
    let email = email.trim().to_lowercase();
    (!email.is_empty()).then(|| crate::text::fnv1a(email.as_bytes()))
}

/// The customer id of a [`customer_hash`].
pub(super) fn customer_id(hash: u64) -> String {
    format!("c-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_local_time_follow_the_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 23:30 on 21 Nov in New York is 04:30 UTC on 22 Nov.
        let t = parse_timestamp("2026-11-21 23:30:00", tz).unwrap();
        // Worked out with Python's datetime: 2026-11-22T04:30:00Z.
        assert_eq!(t, 1_795_321_800);
        assert_eq!(local_day(t, tz).to_string(), "2026-11-21");
        assert_eq!(parse_timestamp("2026-11-22T04:30:00Z", tz).unwrap(), t);
        assert!(parse_timestamp("2026-03-08 02:30", tz).is_err());
        assert!(parse_timestamp("21/11/2026", tz).is_err());
        // Shopify's form, with the shop's offset: 23:30 at -05:00 is the same moment.
        assert_eq!(parse_timestamp("2026-11-21 23:30:00 -0500", tz).unwrap(), t);
    }

    #[test]
    fn download_numbers_with_separators_and_dashes() {
        assert_eq!(export_number("1,234.50").unwrap(), Some(1234.5));
        assert_eq!(export_number("-12,345").unwrap(), Some(-12345.0));
        assert_eq!(export_number("12.5").unwrap(), Some(12.5));
        assert_eq!(export_number("--").unwrap(), None);
        assert_eq!(export_number("").unwrap(), None);
        // A comma that is not a thousands separator is a decimal comma or a mistake: refused.
        assert!(export_number("12,5").is_err());
        assert!(export_number("1,23,456").is_err());
        assert!(export_number("$12").is_err());
        assert_eq!(export_count("1,234").unwrap(), Some(1234));
        assert!(export_count("1.5").is_err());
    }

    #[test]
    fn download_days_in_three_spellings() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(export_day("20261121").unwrap(), d);
        assert_eq!(export_day("2026-11-21").unwrap(), d);
        assert_eq!(export_day("Nov 21, 2026").unwrap(), d);
        assert!(export_day("21/11/2026").is_err());
        assert!(export_day("20261321").is_err());
    }

    /// Shopify's moments read by hand agree with chrono's reading of the same text, and
    /// whatever chrono alone should judge (a leap second, an offset past a day, a shape
    /// not exactly Shopify's) is left to it.
    #[test]
    fn shopify_moments_read_by_hand_agree_with_chrono() {
        let chrono = |raw: &str| {
            DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S %z")
                .ok()
                .map(|t| t.timestamp())
        };
        let mut checked = 0;
        for date in [
            "2024-02-29",
            "2023-12-31",
            "1900-01-01",
            "2200-12-31",
            "2026-03-08",
        ] {
            for time in ["00:00:00", "09:15:07", "23:59:59"] {
                for zone in [
                    "-0500", "+0000", "-0000", "+0530", "+2359", "-2359", "+1400",
                ] {
                    let raw = format!("{date} {time} {zone}");
                    assert_eq!(shopify_moment(&raw), chrono(&raw), "{raw}");
                    assert!(shopify_moment(&raw).is_some(), "{raw}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 105);
        // 23:30 at -05:00 on 21 Nov 2026 is 04:30 UTC on 22 Nov (Python's datetime).
        assert_eq!(
            shopify_moment("2026-11-21 23:30:00 -0500"),
            Some(1_795_321_800)
        );
        for other in [
            "2023-02-29 10:00:00 -0500",
            "2026-11-21 24:00:00 -0500",
            "2026-11-21 23:59:60 -0500",
            "2026-11-21 23:30:00 +2400",
            "2026-11-21 23:30:00 -0560",
            "2026-11-21 23:30:00 -05:00",
            "2026-11-21T23:30:00 -0500",
            "2026-11-21 23:30:00 Z0500",
            "2026-1-21 23:30:00 -05000",
            "+026-11-21 23:30:00 -0500",
            "2026-11-21 23:30:00",
            "",
        ] {
            assert_eq!(shopify_moment(other), None, "{other}");
        }
        // Left to chrono, they read as they always did.
        let tz: Tz = "America/New_York".parse().unwrap();
        assert!(parse_timestamp("2023-02-29 10:00:00 -0500", tz).is_err());
        assert_eq!(
            parse_timestamp("2026-11-21T23:30:00-05:00", tz).unwrap(),
            1_795_321_800
        );
    }
}
