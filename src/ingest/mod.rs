//! `dawnpost import`: a shop's files into the store, each file all or nothing.
//!
//! Two kinds of file come in. dawnpost's own CSV has one file per table, with the table's
//! column names ([`table_csv`]). A platform's export (Shopify, WooCommerce, GA4, Google Ads,
//! Meta Ads) goes through a preset, one file per format here, which maps its columns onto
//! one or more tables ([`preset`]); a format is one line of the registry, [`FORMATS`].
//! Either way the file is read record by record into a [`load`]: written in batches inside
//! one transaction, so a file larger than memory imports, and any bad row leaves the store
//! exactly as it was.
//!
//! Below `store` and `schema`; above nothing but `cli` and `serve`.

mod ad_spend;
mod check;
mod formats;
mod ga4;
mod google_ads;
mod history;
pub mod live;
mod load;
mod matrixify;
mod meta_ads;
pub mod nightly;
mod options;
mod preset;
mod refund_dates;
mod shopify;
pub mod source;
mod table_csv;
pub mod values;
mod woocommerce;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use chrono::NaiveDate;
use chrono_tz::Tz;

pub use check::Plan;
pub use formats::{FORMATS, Format, check_formats, export_names};
pub use load::ImportSummary;
pub use options::ImportOptions;
pub use preset::ExportFormat;
pub use values::{YEARS, local_day, parse_day, parse_timestamp};

use crate::store::Store;

/// Imports `path`, as `format` or as the format its header shows. On any error nothing is
/// written.
pub async fn import_file(
    store: &Store,
    format: Option<Format>,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportSummary> {
    // dawnpost's own files have their header first: whatever that line is, the table's
    // loader says what is wrong with it.
    let accept = |h: &source::Header| match format {
        Some(Format::Table(_)) => true,
        Some(f) => f.matches(h),
        None => Format::detect(h).is_some(),
    };
    let flexible = !matches!(format, Some(Format::Table(_)));
    let mut src = match source::Source::open(path, &accept, flexible) {
        Ok(s) => s,
        Err(e) => return Err(formats::explain_header(e, format)),
    };
    let fields: source::Header = src.headers.iter().map(|h| h.trim().to_string()).collect();
    // `Source::open` took this header only if a format accepted it; should that ever
    // disagree with `detect`, the file is refused like any unknown header.
    let Some(format) = format.or_else(|| Format::detect(&fields)) else {
        let unknown = source::HeaderNotFound {
            file: src.name.clone(),
            line: src.skipped + 1,
            fields,
        };
        return Err(formats::explain_header(anyhow!(unknown), None));
    };
    let size = std::fs::metadata(path).ok().map(|m| m.len());
    src.progress = crate::progress::Progress::start(
        opts.progress,
        &src.name,
        size,
        crate::progress::Unit::Bytes,
    );
    store.bulk_cache(true).await;
    let imported = match format {
        Format::Table(spec) => table_csv::import(store, spec, &mut src, opts).await,
        Format::Export(f) => preset::import(store, f, &mut src, opts).await,
    };
    src.progress.finish();
    // The import's transaction is over, committed or rolled back.
    store.bulk_cache(false).await;
    if let Ok(s) = &imported
        && !opts.check
    {
        let tables: Vec<&str> = s.tables.iter().map(|(t, _)| *t).collect();
        // What feeds a table is a hint for the freshness banner, not data: a failure to
        // note it does not undo a committed import.
        if let Err(e) = store.record_feeds(s.format, &tables, opts.at).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot record what the import fed");
        }
    }
    imported
}

/// Imports `path` into `table` (dawnpost's own CSV), with no check-only run.
pub async fn import_csv(store: &Store, table: &str, path: &Path, tz: Tz) -> Result<ImportSummary> {
    let format = Format::from_name(table)?;
    let opts = ImportOptions {
        tz,
        currency: String::new(),
        channels: BTreeMap::new(),
        day: NaiveDate::MIN,
        check: false,
        at: 0,
        progress: crate::progress::Style::Hidden,
    };
    import_file(store, Some(format), path, &opts).await
}
