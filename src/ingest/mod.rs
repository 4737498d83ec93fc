//! `dawnpost import`: a shop's files into the store, each file all or nothing.
//!
//! Two kinds of file come in. dawnpost's own CSV has one file per table, with the table's
//! column names ([`table_csv`]). A platform's export (Shopify, WooCommerce, GA4, Google Ads,
//! Meta Ads) goes through a preset, one file per format here, which maps its columns onto
//! one or more tables ([`preset`]). Either way the file is read record by record and
//! written in batches inside one transaction, so a file larger than memory imports, and any
//! bad row leaves the store exactly as it was.
//!
//! Below `store` and `table`; above nothing but `cli` and `serve`.

mod check;
mod ga4;
mod google_ads;
mod history;
mod meta_ads;
pub mod nightly;
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
pub use values::{YEARS, local_day, parse_day, parse_timestamp};

use crate::schema::{self, TableSpec};
use crate::store::Store;

/// What a file is: one of dawnpost's tables, or a platform's export.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Table(&'static TableSpec),
    ShopifyOrders,
    ShopifyProducts,
    WooCommerceOrders,
    Ga4Traffic,
    GoogleAds,
    MetaAds,
}

/// The platform formats, in the order they are tried and listed.
pub const PRESETS: [Format; 6] = [
    Format::ShopifyOrders,
    Format::ShopifyProducts,
    Format::WooCommerceOrders,
    Format::Ga4Traffic,
    Format::GoogleAds,
    Format::MetaAds,
];

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.name() == other.name()
    }
}
impl Eq for Format {}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Table(t) => t.name,
            Format::ShopifyOrders => "shopify-orders",
            Format::ShopifyProducts => "shopify-products",
            Format::WooCommerceOrders => "woocommerce-orders",
            Format::Ga4Traffic => "ga4-traffic",
            Format::GoogleAds => "google-ads",
            Format::MetaAds => "meta-ads",
        }
    }

    /// A format by its name, or a table by its own.
    pub fn from_name(name: &str) -> Result<Format> {
        PRESETS
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .or_else(|| schema::spec(name).map(Format::Table))
            .ok_or_else(|| anyhow!("unknown format `{name}`\n{}", Format::list()))
    }

    /// Where the file comes from and the columns that identify it.
    pub fn expects(self) -> &'static str {
        match self {
            Format::Table(_) => "dawnpost's own CSV for one table, with its column names",
            Format::ShopifyOrders => {
                "Shopify Admin > Orders > Export (CSV): Name, Created at, Lineitem quantity, \
                 Lineitem price, …"
            }
            Format::ShopifyProducts => {
                "Shopify Admin > Products > Export (CSV): Handle, Variant SKU, Variant Price, …"
            }
            Format::WooCommerceOrders => {
                "WooCommerce Analytics > Orders > Download: Date, Order #, Product(s), \
                 N. Revenue, …"
            }
            Format::Ga4Traffic => {
                "GA4 Reports > Acquisition > Traffic acquisition, with a Date dimension, \
                 downloaded as CSV: Session … channel group, Date, Sessions"
            }
            Format::GoogleAds => {
                "Google Ads campaign report with a Day segment, downloaded as CSV: Day, \
                 Campaign, Cost, Impr., Clicks"
            }
            Format::MetaAds => {
                "Meta Ads Manager export with Breakdown > By time > Day: Reporting starts, \
                 Campaign name, Amount spent (CUR), Impressions, Link clicks"
            }
        }
    }

    /// Whether `header` is this format's header.
    pub fn matches(self, header: &source::Header) -> bool {
        match self {
            Format::Table(spec) => table_csv::matches(spec, header),
            Format::ShopifyOrders => shopify::matches_orders(header),
            Format::ShopifyProducts => shopify::matches_products(header),
            Format::WooCommerceOrders => woocommerce::matches(header),
            Format::Ga4Traffic => ga4::matches(header),
            Format::GoogleAds => google_ads::matches(header),
            Format::MetaAds => meta_ads::matches(header),
        }
    }

    /// The format a header belongs to: a platform's first, then a table whose columns it
    /// has exactly.
    pub fn detect(header: &source::Header) -> Option<Format> {
        PRESETS
            .iter()
            .copied()
            .chain(schema::importable().map(Format::Table))
            .find(|f| f.matches(header))
    }

    /// Every format and what it expects, for an error that must say what would do.
    pub fn list() -> String {
        let mut out = String::from("formats dawnpost reads (name it with --format):");
        for f in PRESETS {
            out.push_str(&format!("\n  {:<19} {}", f.name(), f.expects()));
        }
        let tables: Vec<&str> = schema::importable().map(|t| t.name).collect();
        out.push_str(&format!(
            "\n  {:<19} dawnpost's own CSV, one table per file, with the table's column names",
            tables.join(", ")
        ));
        out
    }
}

/// What an import needs besides the file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The store's time zone: local times and days are read in it.
    pub tz: Tz,
    /// The shop's currency code: an ad export in another currency is refused.
    pub currency: String,
    /// Source channel names (GA4 channel groups, "Google Ads", "Meta Ads") to the shop's
    /// channels, over [`ga4::DEFAULT_CHANNELS`].
    pub channels: BTreeMap<String, String>,
    /// The day a stock snapshot (Shopify products' inventory) is for.
    pub day: NaiveDate,
    /// Validate and report only; write nothing.
    pub check: bool,
    /// When the import runs (epoch seconds), for the store's note of what fed each table:
    /// the clock is read by the caller, at the edge.
    pub at: i64,
}

impl ImportOptions {
    /// The options a shop's config gives, with `day` for stock snapshots.
    pub fn from_config(
        config: &crate::config::Config,
        day: NaiveDate,
        check: bool,
        at: i64,
    ) -> Self {
        ImportOptions {
            tz: config.shop.timezone,
            currency: config.shop.currency.clone(),
            channels: config.channels.clone(),
            day,
            check,
            at,
        }
    }

    /// The shop channel for a source's channel name.
    pub fn channel(&self, source: &str) -> String {
        self.channels
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(source))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| ga4::default_channel(source))
    }
}

/// What an import did, or with `check`, would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub format: &'static str,
    /// Data rows read from the file.
    pub rows: u64,
    /// Rows written (or, with `check`, to be written) per table.
    pub tables: Vec<(&'static str, u64)>,
    /// Days whose rollups were rebuilt: only days with a row that changed.
    pub rebuilt_days: usize,
    /// With `check`: the date range and what is new to the store.
    pub plan: Option<Plan>,
}

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
        Err(e) => return Err(explain_header(e, format)),
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
        return Err(explain_header(anyhow!(unknown), None));
    };
    store.bulk_cache(true).await;
    let imported = match format {
        Format::Table(spec) => table_csv::import(store, spec, &mut src, opts).await,
        preset => preset::import(store, preset, &mut src, opts).await,
    };
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
    };
    import_file(store, Some(format), path, &opts).await
}

/// An unknown header becomes an error that lists the formats and what each expects.
fn explain_header(e: anyhow::Error, format: Option<Format>) -> anyhow::Error {
    let Some(h) = e.downcast_ref::<source::HeaderNotFound>() else {
        return e;
    };
    match format {
        Some(Format::Table(spec)) => anyhow!(
            "{}:{}: {}",
            h.file,
            h.line,
            table_csv::header_problem(spec, &h.fields)
        ),
        Some(f) => anyhow!(
            "{e}\nexpected the header of {} ({}): {}",
            f.name(),
            f.expects(),
            preset::missing(f, &h.fields)
        ),
        None => anyhow!("{e}\n{}", Format::list()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_knows_every_format_by_its_name() {
        let names: Vec<&str> = PRESETS.iter().map(|f| f.name()).collect();
        assert_eq!(names, schema::EXPORT_FORMATS);
    }
}
