//! dawnpost's own CSV: one file per table, with the table's column names, in any order.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use chrono_tz::Tz;

use super::load::{ImportSummary, InTurn, Load, Rows, Target, Writing};
use super::options::ImportOptions;
use super::source::{Header, Source};
use super::values::{local_day, parse_value};
use crate::schema::{self, ColType, TableSpec};
use crate::store::Store;
use crate::store::write::{RowError, SqlValue};

/// Whether `header` is `spec`'s: every column one of the table's, every required one there.
pub(super) fn matches(spec: &'static TableSpec, header: &Header) -> bool {
    header_problem_opt(spec, header).is_none()
}

/// Why `header` is not `spec`'s.
pub(super) fn header_problem(spec: &'static TableSpec, header: &Header) -> String {
    header_problem_opt(spec, header).unwrap_or_else(|| "the header is fine".into())
}

fn header_problem_opt(spec: &'static TableSpec, header: &Header) -> Option<String> {
    let record = csv::StringRecord::from(header.clone());
    Layout::new(spec, &record).err().map(|e| e.to_string())
}

/// Imports one table's file, already opened at its header.
pub(super) async fn import(
    store: &Store,
    spec: &'static TableSpec,
    src: &mut Source,
    opts: &ImportOptions,
) -> Result<ImportSummary> {
    let file = src.name.clone();
    let layout =
        Layout::new(spec, &src.headers).map_err(|e| anyhow!("{file}:{}: {e}", src.skipped + 1))?;
    // Keys the importer numbers itself cannot repeat: they need no memory of the file's keys.
    let table = Target {
        check_keys: !layout.numbers_keys(),
        ..Target::upsert(spec)
    };
    // Campaigns write two tables row by row; any other table is written on a task of its
    // own while the file is read.
    let (targets, writing) = if layout.skus.is_some() {
        let skus = Target::upsert(&schema::CAMPAIGN_SKUS);
        (vec![table, skus], Writing::InTurn)
    } else {
        (vec![table], Writing::Piped { first_load: false })
    };
    let mut load = Load::begin(store, opts, &file, spec.name, &targets, writing).await?;
    // dawnpost's own file is told its faults before anything the store said of a batch
    // sent ahead of them: an error of the reading first, then its bad rows.
    let rows = match read_rows(&layout, src, opts.tz, &mut load).await {
        Ok(rows) => rows,
        Err(e) => {
            load.abandon().await;
            return Err(e);
        }
    };
    let load = load.fail_if_bad().await?;
    load.finish(Ok(rows), None).await
}

/// Reads every record of `src` into `load`: the rows read (a bad one is not counted).
async fn read_rows(layout: &Layout, src: &mut Source, tz: Tz, load: &mut Load<'_>) -> Result<u64> {
    let file = src.name.clone();
    let (mut record, mut out) = (csv::StringRecord::new(), Rows::new());
    let mut rows = 0u64;
    let mut positions = Positions::default();
    while let Some(line) = src.next(&mut record)? {
        let row = match layout.parse(&record, tz, &mut positions) {
            Ok(row) => row,
            Err(e) => {
                load.bad(line, &e);
                continue;
            }
        };
        rows += 1;
        let skus = layout.skus(&record);
        if let Some(turn) = load.in_turn() {
            campaign_row(turn, &file, line, row, skus).await?;
            continue;
        }
        let campaign = row.first().cloned().unwrap_or(SqlValue::Null);
        out.push((0, row));
        out.extend(
            skus.into_iter()
                .map(|s| (1, vec![campaign.clone(), SqlValue::Text(s)])),
        );
        if !load.rows(line, &mut out).await? {
            break;
        }
    }
    Ok(rows)
}

/// The next line position of each order, for a file of order lines without `line_no`.
#[derive(Debug, Default)]
struct Positions {
    next: HashMap<String, i64>,
}

impl Positions {
    fn take(&mut self, order: &str) -> i64 {
        let n = self.next.entry(order.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// One campaign and its SKUs. The campaign row must exist before its SKUs, and re-importing
/// a campaign replaces its SKU list rather than adding to it.
async fn campaign_row(
    turn: InTurn<'_>,
    file: &str,
    line: u64,
    row: Vec<SqlValue>,
    sku_list: Vec<String>,
) -> Result<()> {
    let InTurn {
        tx,
        writers,
        lookups,
    } = turn;
    let [writer, skus] = writers else {
        bail!("{file}: campaigns are written with their SKUs");
    };
    let located = |e: RowError| e.located(file);
    let campaign = row[0].clone();
    writer.push(tx, lookups, row, line).await.map_err(located)?;
    writer.flush(tx, lookups).await.map_err(located)?;
    let mut del = sqlx::query("DELETE FROM campaign_skus WHERE campaign = $1");
    if let SqlValue::Text(c) = &campaign {
        del = del.bind(c.clone());
    }
    del.execute(&mut **tx)
        .await
        .map_err(|e| anyhow!("{file}:{line}: {e}"))?;
    for sku in sku_list {
        skus.push(
            tx,
            lookups,
            vec![campaign.clone(), SqlValue::Text(sku)],
            line,
        )
        .await
        .map_err(located)?;
    }
    skus.flush(tx, lookups).await.map_err(located)?;
    Ok(())
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
        no_name_twice(headers)?;
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

    /// Whether the key has a position the file does not give, so that the importer numbers
    /// every row's key uniquely (an order's lines 1, 2, 3 ...).
    fn numbers_keys(&self) -> bool {
        self.spec.columns.iter().zip(&self.sources).any(|(c, src)| {
            c.ty == ColType::Position && src.is_none() && self.spec.key.contains(&c.name)
        })
    }

    fn parse(
        &self,
        record: &csv::StringRecord,
        tz: Tz,
        positions: &mut Positions,
    ) -> Result<Vec<SqlValue>> {
        let mut row = Vec::with_capacity(self.spec.columns.len());
        for (c, src) in self.spec.columns.iter().zip(&self.sources) {
            // Trimmed as the CSV reader once trimmed every field: of ASCII spaces only.
            let raw = src.and_then(|i| record.get(i)).unwrap_or("").trim_ascii();
            let value = match c.ty {
                ColType::DayOf(from) => {
                    let i = schema::column_index(self.spec, from);
                    match row.get(i) {
                        Some(SqlValue::Int(epoch)) => {
                            SqlValue::Text(local_day(*epoch, tz).to_string())
                        }
                        _ => SqlValue::Null,
                    }
                }
                ColType::Position if raw.is_empty() => match row.first() {
                    Some(SqlValue::Text(order)) => SqlValue::Int(positions.take(order)),
                    _ => SqlValue::Null,
                },
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
        let raw = self
            .skus
            .and_then(|i| record.get(i))
            .unwrap_or("")
            .trim_ascii();
        raw.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// Refuses a column named twice (in any case, as columns are found): the second would
/// otherwise be told as unknown, or its values never read.
fn no_name_twice(headers: &csv::StringRecord) -> Result<()> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(headers.len());
    for (j, h) in headers.iter().enumerate() {
        if let Some(i) = seen.insert(h.to_ascii_lowercase(), j) {
            let first = headers.get(i).unwrap_or(h);
            bail!(
                "column `{first}` is in the header twice, as columns {} and {}",
                i + 1,
                j + 1
            );
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(spec: &'static TableSpec, header: &[&str]) -> Layout {
        Layout::new(spec, &csv::StringRecord::from(header.to_vec())).unwrap()
    }

    #[test]
    fn only_keys_the_importer_numbers_skip_the_duplicate_check() {
        let lines = ["order_id", "sku", "quantity", "unit_price"];
        assert!(layout(&schema::ORDER_LINES, &lines).numbers_keys());
        let numbered = ["order_id", "line_no", "sku", "quantity", "unit_price"];
        assert!(!layout(&schema::ORDER_LINES, &numbered).numbers_keys());
        let traffic = ["day", "channel", "sessions"];
        assert!(!layout(&schema::TRAFFIC, &traffic).numbers_keys());
    }
}
