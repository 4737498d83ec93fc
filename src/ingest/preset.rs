//! A platform's export format: its row in the format registry ([`ExportFormat`]), the
//! [`Preset`] that turns its records into rows for several tables, and the reading every
//! preset shares, into a [`Load`]. No platform is named here.

use anyhow::{Result, anyhow, bail};

use super::load::{Load, Rows, Target, Writing};
use super::options::ImportOptions;
use super::source::{Header, Source};
use crate::schema::{ColType, TableSpec, col};
use crate::store::Store;

/// One platform's export format, as the registry (`formats::FORMATS`) lists it: a static
/// defined beside its parser.
#[derive(Debug)]
pub struct ExportFormat {
    /// What `--format` and the config call it (`shopify-orders`).
    pub name: &'static str,
    /// Where the file comes from and the columns that identify it.
    pub expects: &'static str,
    /// Whether a header is this format's.
    pub(super) matches: fn(&Header) -> bool,
    /// The preset that reads files with this header, or which of the format's columns the
    /// header lacks.
    pub(super) open: fn(&csv::StringRecord, &ImportOptions) -> Result<Box<dyn Preset>>,
}

impl ExportFormat {
    /// Which of the format's identifying columns `header` lacks, for an error.
    pub(super) fn missing(&self, header: &Header) -> String {
        let record = csv::StringRecord::from(header.clone());
        let opts = ImportOptions {
            tz: chrono_tz::UTC,
            currency: String::new(),
            channels: Default::default(),
            day: chrono::NaiveDate::MIN,
            check: true,
            at: 0,
            progress: crate::progress::Style::Hidden,
        };
        match (self.open)(&record, &opts) {
            Err(e) => format!("{e:#}"),
            Ok(_) => "its columns are there, but not as the format has them".into(),
        }
    }
}

/// One platform's export, being read.
pub(super) trait Preset {
    /// The tables written, parents before the tables that reference them.
    fn targets(&self) -> &'static [Target];
    /// Turns one record into rows. An error names the column and the reason.
    fn record(&mut self, record: &csv::StringRecord, out: &mut Rows) -> Result<()>;
    /// Whether `record` is the export's own sum of the rows above it (Google Ads' `Total: …`
    /// rows): skipped, however many fields it has.
    fn is_totals(&self, _record: &csv::StringRecord) -> bool {
        false
    }
    /// Rows held back until the whole file is read (sums over several records).
    fn finish(&mut self, _out: &mut Rows) -> Result<()> {
        Ok(())
    }
    /// The customers whose orders' `derived_type`, as the rows wrote it, may differ from
    /// what their history says once this file's orders are all the store has (see
    /// `history::Guesses`). None: every customer's is derived again, as after any import.
    fn unsure_customers(&self) -> Option<Vec<String>> {
        None
    }
}

/// A product as an order line names it: only added when the store has no such SKU, so it
/// never overwrites what a products export said.
pub(super) const LINE_PRODUCTS: TableSpec = TableSpec {
    name: "products",
    columns: &[
        col("sku", ColType::Text),
        col("name", ColType::Text),
        col("unit_price", ColType::Float { min: 0.0 }),
    ],
    key: &["sku"],
    refs: &[],
};

/// Imports one export through its preset, all or nothing.
///
/// The rows are written on a task of their own while the file is read, as a table's file
/// is: parsing and the database's writing then use a core each.
pub(super) async fn import(
    store: &Store,
    format: &ExportFormat,
    src: &mut Source,
    opts: &ImportOptions,
) -> Result<super::load::ImportSummary> {
    let file = src.name.clone();
    let mut preset = (format.open)(&src.headers, opts)
        .map_err(|e| anyhow!("{file}:{}: {e:#}", src.skipped + 1))?;
    let writing = Writing::Piped { first_load: true };
    let mut load = Load::begin(store, opts, &file, format.name, preset.targets(), writing).await?;
    let read = read_all(preset.as_mut(), src, &mut load).await;
    let unsure = preset.unsure_customers();
    load.finish(read, unsure).await
}

/// Reads every record of `src` into `load`: the data rows read.
async fn read_all(preset: &mut dyn Preset, src: &mut Source, load: &mut Load<'_>) -> Result<u64> {
    let width = src.headers.len();
    let (mut record, mut out) = (csv::StringRecord::new(), Rows::new());
    let mut rows = 0u64;
    let (mut line, mut done) = (src.skipped + 1, false);
    while !done {
        out.clear();
        let step = match src.next(&mut record)? {
            Some(l) => {
                line = l;
                rows += 1;
                read_row(preset, &record, width, &mut out)
            }
            None => {
                done = true;
                preset.finish(&mut out)
            }
        };
        if let Err(e) = step {
            load.bad(line, &e);
            continue;
        }
        if !load.rows(line, &mut out).await? {
            break;
        }
    }
    Ok(rows)
}

/// One data row into `out`. A totals row or a blank line is skipped. A row wider or
/// narrower than the header is refused: the reader is lenient about widths for the totals
/// rows' sake, and such a row's values would land in the wrong columns (an unquoted `12,50`
/// shifts every column after it; a download cut mid-row leaves the last ones empty).
fn read_row(
    preset: &mut dyn Preset,
    record: &csv::StringRecord,
    width: usize,
    out: &mut Rows,
) -> Result<()> {
    let blank = record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty());
    if blank || preset.is_totals(record) {
        return Ok(());
    }
    if record.len() != width {
        bail!(
            "the row has {} fields and the header {}: a value with an unquoted separator, \
             or a row cut short?",
            record.len(),
            width
        );
    }
    preset.record(record, out)
}
