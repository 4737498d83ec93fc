//! The driver every platform preset shares: records in, rows for several tables out,
//! written parents first inside one transaction.

use anyhow::{Context, Result, anyhow, bail};

use super::source::{Header, Source};
use super::{BadRows, Format, ImportOptions, ImportSummary, Plan, history};
use crate::store::Store;
use crate::table::{BatchWriter, RowError, SqlValue, TableSpec};

/// A table a preset writes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub spec: &'static TableSpec,
    /// Only add rows whose key is new (rows an export implies, such as a product named on
    /// an order line, must not overwrite a fuller source).
    pub keep_existing: bool,
}

impl Target {
    pub const fn upsert(spec: &'static TableSpec) -> Target {
        Target {
            spec,
            keep_existing: false,
        }
    }
    pub const fn keep(spec: &'static TableSpec) -> Target {
        Target {
            spec,
            keep_existing: true,
        }
    }
}

/// Rows a record turns into: (index into the preset's targets, values in column order).
pub type Rows = Vec<(usize, Vec<SqlValue>)>;

/// One platform's export format.
pub trait Preset {
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
}

fn build(format: Format, src: &Source, opts: &ImportOptions) -> Result<Box<dyn Preset>> {
    let h = &src.headers;
    Ok(match format {
        Format::ShopifyOrders => Box::new(super::shopify::Orders::new(h, opts)?),
        Format::ShopifyProducts => Box::new(super::shopify::Products::new(h, opts)?),
        Format::WooCommerceOrders => Box::new(super::woocommerce::Orders::new(h, opts)?),
        Format::Ga4Traffic => Box::new(super::ga4::Traffic::new(h, opts)?),
        Format::GoogleAds => Box::new(super::google_ads::Campaigns::new(h, opts)?),
        Format::MetaAds => Box::new(super::meta_ads::Campaigns::new(h, opts)?),
        Format::Table(t) => bail!("{} is a table of dawnpost's own, not an export", t.name),
    })
}

/// Which of a format's identifying columns `header` lacks, for an error.
pub fn missing(format: Format, header: &Header) -> String {
    let record = csv::StringRecord::from(header.clone());
    let opts = ImportOptions {
        tz: chrono_tz::UTC,
        currency: String::new(),
        channels: Default::default(),
        day: chrono::NaiveDate::MIN,
        check: true,
    };
    let src_like = |h: &csv::StringRecord| -> Result<()> {
        match format {
            Format::ShopifyOrders => super::shopify::Orders::new(h, &opts).map(drop),
            Format::ShopifyProducts => super::shopify::Products::new(h, &opts).map(drop),
            Format::WooCommerceOrders => super::woocommerce::Orders::new(h, &opts).map(drop),
            Format::Ga4Traffic => super::ga4::Traffic::new(h, &opts).map(drop),
            Format::GoogleAds => super::google_ads::Campaigns::new(h, &opts).map(drop),
            Format::MetaAds => super::meta_ads::Campaigns::new(h, &opts).map(drop),
            Format::Table(_) => Ok(()),
        }
    };
    match src_like(&record) {
        Err(e) => format!("{e:#}"),
        Ok(()) => "its columns are there, but not as the format has them".into(),
    }
}

/// Imports one export through its preset, all or nothing.
pub async fn import(
    store: &Store,
    format: Format,
    src: &mut Source,
    opts: &ImportOptions,
) -> Result<ImportSummary> {
    let file = src.name.clone();
    let mut preset =
        build(format, src, opts).map_err(|e| anyhow!("{file}:{}: {e:#}", src.skipped + 1))?;
    let targets = preset.targets();
    let mut writers: Vec<BatchWriter> = targets
        .iter()
        .map(|t| {
            if t.keep_existing {
                BatchWriter::keeping(t.spec)
            } else {
                BatchWriter::new(t.spec, true)
            }
        })
        .collect();
    let mut tx = store
        .pool()
        .begin()
        .await
        .with_context(|| format!("cannot start a transaction on {store}"))?;
    let lookups = store.reader();
    let (mut record, mut out) = (csv::StringRecord::new(), Rows::new());
    let (mut rows, mut bad, mut plan) = (0u64, BadRows::default(), Plan::default());
    let (mut line, mut done) = (src.skipped + 1, false);
    let width = src.headers.len();
    while !done {
        out.clear();
        let step = match src.next(&mut record)? {
            Some(l) => {
                line = l;
                rows += 1;
                read_row(preset.as_mut(), &record, width, &mut out)
            }
            None => {
                done = true;
                preset.finish(&mut out)
            }
        };
        if let Err(e) = step {
            bad.add(&anyhow!("{file}:{line}: {e:#}"));
            continue;
        }
        for (t, row) in out.drain(..) {
            if opts.check {
                plan.observe(targets[t].spec, &row);
            } else if bad.is_empty()
                && let Err(e) = writers[t].queue(row, line)
            {
                bad.add(&located(&file, &e));
            }
        }
        if bad.is_empty() && writers.iter().any(BatchWriter::is_full) {
            flush(&mut writers, &mut tx, lookups, &file).await?;
        }
    }
    if let Some(e) = bad.into_error() {
        // The transaction is dropped unfinished: nothing of the file is written.
        return Err(e);
    }
    if opts.check {
        return Ok(ImportSummary {
            format: format.name(),
            rows,
            tables: plan.rows.iter().map(|(t, n)| (*t, *n)).collect(),
            rebuilt_days: 0,
            plan: Some(plan.against(store).await?),
        });
    }
    flush(&mut writers, &mut tx, lookups, &file).await?;
    if targets.iter().any(|t| t.spec.name == "orders") {
        history::derive_customer_types(&mut tx).await?;
    }
    let rebuilt_days = crate::store::rollup::refresh(&mut tx, store.backend()).await?;
    tx.commit()
        .await
        .with_context(|| format!("{file}: cannot commit the import"))?;
    Ok(ImportSummary {
        format: format.name(),
        rows,
        tables: writers.iter().map(|w| (w.table(), w.written())).collect(),
        rebuilt_days,
        plan: None,
    })
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
    let blank = record.len() == 1 && record.get(0).is_some_and(str::is_empty);
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

/// Writes every queued row, parents first, so each reference finds its row.
async fn flush(
    writers: &mut [BatchWriter],
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    lookups: &sqlx::AnyPool,
    file: &str,
) -> Result<()> {
    for w in writers {
        w.flush(tx, lookups).await.map_err(|e| located(file, &e))?;
    }
    Ok(())
}

fn located(file: &str, e: &RowError) -> anyhow::Error {
    e.located(file)
}

// Values every preset writes.

pub fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

pub fn optional(s: &str) -> SqlValue {
    if s.is_empty() {
        SqlValue::Null
    } else {
        text(s)
    }
}

/// A customer id that is not an email address: the store keeps a hash of it, so the
/// shop's customers' addresses are not copied into it. No address is a guest.
pub fn customer(email: &str) -> SqlValue {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return SqlValue::Null;
    }
    SqlValue::Text(format!("c-{:016x}", crate::text::fnv1a(email.as_bytes())))
}
