//! `dawnpost import`: streams a CSV file into one table, all or nothing.
//!
//! The file is read record by record and written in batches inside one transaction, so a
//! file larger than memory imports, and any bad row leaves the store exactly as it was.

use std::path::Path;

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
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::with_capacity(1 << 16, file));
    let headers = reader
        .headers()
        .with_context(|| format!("{file_name}: cannot read the header line"))?
        .clone();
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
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| anyhow!("{file_name}:{}: malformed CSV: {e}", csv_line(&e)))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let row = layout.parse(&record, tz).map_err(|e| at(line, &e))?;
        rows += 1;
        match &mut skus_writer {
            None => writer
                .push(&mut tx, lookups, row, line)
                .await
                .map_err(|e| located(&file_name, &e))?,
            Some(skus) => {
                // The campaign row must exist before its SKUs, and re-importing a campaign
                // replaces its SKU list rather than adding to it.
                let campaign = row[0].clone();
                writer
                    .push(&mut tx, lookups, row, line)
                    .await
                    .map_err(|e| located(&file_name, &e))?;
                writer
                    .flush(&mut tx, lookups)
                    .await
                    .map_err(|e| located(&file_name, &e))?;
                let mut del = sqlx::query("DELETE FROM campaign_skus WHERE campaign = $1");
                if let SqlValue::Text(c) = &campaign {
                    del = del.bind(c.clone());
                }
                del.execute(&mut *tx).await.map_err(|e| at(line, &e))?;
                for sku in layout.skus(&record) {
                    skus.push(
                        &mut tx,
                        lookups,
                        vec![campaign.clone(), SqlValue::Text(sku)],
                        line,
                    )
                    .await
                    .map_err(|e| located(&file_name, &e))?;
                }
                skus.flush(&mut tx, lookups)
                    .await
                    .map_err(|e| located(&file_name, &e))?;
            }
        }
    }
    writer
        .flush(&mut tx, lookups)
        .await
        .map_err(|e| located(&file_name, &e))?;
    // Part of the import's transaction: the import commits with its rollups up to date.
    crate::rollup::refresh(&mut tx, store.backend()).await?;
    tx.commit()
        .await
        .with_context(|| format!("{file_name}: cannot commit the import"))?;
    Ok(ImportSummary {
        table: spec.name,
        rows,
    })
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
            let v: i64 = raw
                .parse()
                .map_err(|_| anyhow!("{raw:?} is not a whole number"))?;
            if v < min {
                bail!("{v} is below the minimum {min}");
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
            SqlValue::Float(v)
        }
        ColType::Day => SqlValue::Text(parse_day(raw)?.to_string()),
        ColType::Timestamp => SqlValue::Int(parse_timestamp(raw, tz)?),
        ColType::DayOf(_) => unreachable!("derived columns are not parsed"),
    })
}

pub fn parse_day(raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| anyhow!("{raw:?} is not a date (YYYY-MM-DD)"))
}

/// Epoch seconds of an RFC 3339 timestamp, or of a local date-time in `tz`.
pub fn parse_timestamp(raw: &str, tz: Tz) -> Result<i64> {
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
