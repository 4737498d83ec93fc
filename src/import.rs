//! `dawnpost import`: streams a CSV file into one table, all or nothing.
//!
//! The file is read record by record and written in batches inside one transaction, so a
//! file larger than memory imports, and any bad row leaves the store exactly as it was.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::store::Store;
use crate::table::{self, BatchWriter, ColType, RowError, SqlValue, TableSpec};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub table: &'static str,
    /// Data rows read from the file.
    pub rows: u64,
    /// Days whose rollups were rebuilt: only days with a row that changed.
    pub rebuilt_days: usize,
}

/// Imports `path` into `table`. On any error nothing is written.
pub async fn import_csv(store: &Store, table: &str, path: &Path, tz: Tz) -> Result<ImportSummary> {
    let spec = table::spec(table).ok_or_else(|| {
        let names: Vec<&str> = table::IMPORTABLE.iter().map(|t| t.name).collect();
        anyhow!(
            "unknown table `{table}`: expected one of {}",
            names.join(", ")
        )
    })?;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file_name = path.display().to_string();
    let record_start = Arc::new(AtomicU64::new(0));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(Bounded {
            inner: std::io::BufReader::with_capacity(1 << 16, file),
            read: 0,
            record_start: record_start.clone(),
        });
    let too_long = |line: u64| {
        anyhow!(
            "{file_name}:{line}: a record is longer than {} MiB (a missing closing quote, or \
             not a CSV file?)",
            MAX_RECORD >> 20
        )
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) if is_too_long(&e) => return Err(too_long(1)),
        Err(e) => return Err(anyhow!("{file_name}: cannot read the header line: {e}")),
    };
    let layout = Layout::new(spec, &headers).map_err(|e| anyhow!("{file_name}:1: {e}"))?;

    let mut tx = store
        .pool()
        .begin()
        .await
        .with_context(|| format!("cannot start a transaction on {store}"))?;
    let mut writer = BatchWriter::new(spec, true);
    let mut skus_writer =
        (spec.name == "campaigns").then(|| BatchWriter::new(&table::CAMPAIGN_SKUS, true));
    let lookups = store.reader();
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    let at = |line: u64, e: &dyn std::fmt::Display| anyhow!("{file_name}:{line}: {e}");
    let mut last_line = 1;
    let mut bad = BadRows::default();
    loop {
        record_start.store(reader.position().byte(), Ordering::Relaxed);
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) if is_too_long(&e) => return Err(too_long(last_line + 1)),
            Err(e) => bail!("{file_name}:{}: malformed CSV: {e}", csv_line(&e)),
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        last_line = line;
        let row = match layout.parse(&record, tz) {
            Ok(row) => row,
            Err(e) => {
                bad.add(&at(line, &e));
                continue;
            }
        };
        rows += 1;
        // Once a row is bad nothing will be committed: the rest are only checked, so one run
        // tells every problem (up to a bound) at once.
        if !bad.is_empty() {
            continue;
        }
        match &mut skus_writer {
            None => writer
                .push(&mut tx, lookups, row, line)
                .await
                .map_err(|e| located(&file_name, &e))?,
            Some(skus) => {
                let sku_list = layout.skus(&record);
                let ctx = CampaignRow {
                    tx: &mut tx,
                    lookups,
                    file_name: &file_name,
                    line,
                };
                campaign_row(ctx, &mut writer, skus, row, sku_list).await?;
            }
        }
    }
    if let Some(e) = bad.into_error() {
        // The transaction is dropped unfinished: nothing of the file is written.
        return Err(e);
    }
    writer
        .flush(&mut tx, lookups)
        .await
        .map_err(|e| located(&file_name, &e))?;
    // Part of the import's transaction: the import commits with its rollups up to date.
    let rebuilt_days = crate::rollup::refresh(&mut tx, store.backend()).await?;
    tx.commit()
        .await
        .with_context(|| format!("{file_name}: cannot commit the import"))?;
    Ok(ImportSummary {
        table: spec.name,
        rows,
        rebuilt_days,
    })
}

/// The bad rows of a file: the first [`BadRows::SHOWN`] in full, then how many more.
#[derive(Debug, Default)]
struct BadRows {
    shown: Vec<String>,
    more: u64,
}

impl BadRows {
    const SHOWN: usize = 20;

    fn add(&mut self, e: &anyhow::Error) {
        if self.shown.len() < Self::SHOWN {
            self.shown.push(format!("{e:#}"));
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    fn into_error(self) -> Option<anyhow::Error> {
        if self.shown.is_empty() {
            return None;
        }
        let mut text = self.shown.join("\n");
        if self.more > 0 {
            text.push_str(&format!("\n… and {} more bad rows", self.more));
        }
        text.push_str("\nnothing was imported");
        Some(anyhow!(text))
    }
}

/// Where one campaign row is being written.
struct CampaignRow<'a, 'c> {
    tx: &'a mut sqlx::Transaction<'c, sqlx::Any>,
    lookups: &'a sqlx::AnyPool,
    file_name: &'a str,
    line: u64,
}

/// One campaign and its SKUs. The campaign row must exist before its SKUs, and re-importing
/// a campaign replaces its SKU list rather than adding to it.
async fn campaign_row(
    cx: CampaignRow<'_, '_>,
    writer: &mut BatchWriter,
    skus: &mut BatchWriter,
    row: Vec<SqlValue>,
    sku_list: Vec<String>,
) -> Result<()> {
    let CampaignRow {
        tx,
        lookups,
        file_name,
        line,
    } = cx;
    let located = |e: &RowError| located(file_name, e);
    let campaign = row[0].clone();
    writer
        .push(tx, lookups, row, line)
        .await
        .map_err(|e| located(&e))?;
    writer.flush(tx, lookups).await.map_err(|e| located(&e))?;
    let mut del = sqlx::query("DELETE FROM campaign_skus WHERE campaign = $1");
    if let SqlValue::Text(c) = &campaign {
        del = del.bind(c.clone());
    }
    del.execute(&mut **tx)
        .await
        .map_err(|e| anyhow!("{file_name}:{line}: {e}"))?;
    for sku in sku_list {
        skus.push(
            tx,
            lookups,
            vec![campaign.clone(), SqlValue::Text(sku)],
            line,
        )
        .await
        .map_err(|e| located(&e))?;
    }
    skus.flush(tx, lookups).await.map_err(|e| located(&e))?;
    Ok(())
}

/// The longest record an import reads: 1 MiB. A file with no line ends (or a quote that is
/// never closed) is refused at this length instead of filling memory.
pub const MAX_RECORD: u64 = 1 << 20;

/// A reader that fails once the record being read has grown past [`MAX_RECORD`]. The CSV
/// reader reads ahead by its buffer (8 KiB) and ours (64 KiB), hence the allowance.
struct Bounded<R> {
    inner: R,
    read: u64,
    /// Where the record now being read starts, in bytes from the start of the file.
    record_start: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = self.record_start.load(Ordering::Relaxed);
        if self.read.saturating_sub(start) > MAX_RECORD + (128 << 10) {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("record too long")]
struct RecordTooLong;

fn is_too_long(e: &csv::Error) -> bool {
    matches!(e.kind(), csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|i| i.is::<RecordTooLong>()))
}

fn located(file: &str, e: &RowError) -> anyhow::Error {
    match e.line {
        Some(l) => anyhow!("{file}:{l}: {}", e.message),
        None => anyhow!("{file}: {}", e.message),
    }
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, |p| p.line())
}

/// Where each table column is found in the file.
struct Layout {
    spec: &'static TableSpec,
    /// Per table column: its index in the file, if the file has it.
    sources: Vec<Option<usize>>,
    /// The `skus` column of a campaigns file.
    skus: Option<usize>,
}

impl Layout {
    fn new(spec: &'static TableSpec, headers: &csv::StringRecord) -> Result<Layout> {
        let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let mut sources = Vec::new();
        for c in spec.columns {
            let idx = find(c.name);
            if let ColType::DayOf(_) = c.ty {
                if idx.is_some() {
                    bail!(
                        "column `{}` is derived from the timestamp and must not be in the file",
                        c.name
                    );
                }
            } else if idx.is_none() && c.required {
                bail!(
                    "missing required column `{}` (columns: {})",
                    c.name,
                    file_columns(spec)
                );
            }
            sources.push(idx);
        }
        let skus =
            if spec.name == "campaigns" {
                Some(find("skus").ok_or_else(|| {
                    anyhow!("missing required column `skus` (SKUs separated by `;`)")
                })?)
            } else {
                None
            };
        for (i, h) in headers.iter().enumerate() {
            if !sources.contains(&Some(i)) && skus != Some(i) {
                bail!(
                    "unknown column `{h}` for table {} (columns: {})",
                    spec.name,
                    file_columns(spec)
                );
            }
        }
        Ok(Layout {
            spec,
            sources,
            skus,
        })
    }

    fn parse(&self, record: &csv::StringRecord, tz: Tz) -> Result<Vec<SqlValue>> {
        let mut row = Vec::with_capacity(self.spec.columns.len());
        for (c, src) in self.spec.columns.iter().zip(&self.sources) {
            let raw = src.and_then(|i| record.get(i)).unwrap_or("");
            let value = match c.ty {
                ColType::DayOf(from) => {
                    let i = table::column_index(self.spec, from);
                    match row.get(i) {
                        Some(SqlValue::Int(epoch)) => {
                            SqlValue::Text(local_day(*epoch, tz).to_string())
                        }
                        _ => SqlValue::Null,
                    }
                }
                _ if raw.is_empty() => {
                    if c.required {
                        bail!("column `{}`: a value is required", c.name);
                    }
                    match c.ty {
                        ColType::Float { .. } if c.name == "discount" => SqlValue::Float(0.0),
                        ColType::Int { .. } if c.name == "on_order" => SqlValue::Int(0),
                        _ => SqlValue::Null,
                    }
                }
                ty => parse_value(ty, raw, tz).map_err(|e| anyhow!("column `{}`: {e}", c.name))?,
            };
            row.push(value);
        }
        if self.spec.name == "campaigns"
            && let (Some(SqlValue::Text(start)), Some(SqlValue::Text(end))) =
                (row.get(2), row.get(3))
            && end < start
        {
            bail!("column `end_day`: {end} is before start_day {start}");
        }
        Ok(row)
    }

    fn skus(&self, record: &csv::StringRecord) -> Vec<String> {
        let raw = self.skus.and_then(|i| record.get(i)).unwrap_or("");
        raw.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

fn file_columns(spec: &TableSpec) -> String {
    let mut cols: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| !matches!(c.ty, ColType::DayOf(_)))
        .map(|c| c.name)
        .collect();
    if spec.name == "campaigns" {
        cols.push("skus");
    }
    cols.join(", ")
}

fn parse_value(ty: ColType, raw: &str, tz: Tz) -> Result<SqlValue> {
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
            if v.unsigned_abs() as f64 > table::MAX_NUMBER {
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
            if v.abs() > table::MAX_NUMBER {
                bail!("{raw} is beyond the largest number dawnpost accepts (10^12)");
            }
            SqlValue::Float(v)
        }
        ColType::Day => SqlValue::Text(parse_day_or_moment(raw, tz)?.to_string()),
        ColType::Timestamp => SqlValue::Int(parse_timestamp(raw, tz)?),
        ColType::DayOf(_) => unreachable!("derived columns are not parsed"),
    })
}

/// A whole number, also as exports write them: `12.0` is 12, `12.5` is refused.
fn whole_number(raw: &str) -> Result<i64> {
    if let Ok(v) = raw.parse::<i64>() {
        return Ok(v);
    }
    let not = || anyhow!("{:?} is not a whole number", excerpt(raw));
    let f: f64 = raw.parse().map_err(|_| not())?;
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= table::MAX_NUMBER {
        Ok(f as i64)
    } else {
        Err(not())
    }
}

/// A day as `YYYY-MM-DD`, or as a timestamp (as some exports write days), taken as its
/// local day in the store zone.
fn parse_day_or_moment(raw: &str, tz: Tz) -> Result<NaiveDate> {
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
fn excerpt(raw: &str) -> String {
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
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
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

/// The store-local calendar day of an epoch second.
pub fn local_day(epoch: i64, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp(epoch, 0)
        .expect("epoch seconds in chrono's range")
        .with_timezone(&tz)
        .date_naive()
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
    }
}
