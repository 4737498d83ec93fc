//! The formats `dawnpost import` reads: [`FORMATS`], the registry of platform exports (one
//! line each, every row defined beside its parser), and dawnpost's own tables; how a header
//! is told apart, and what an unknown one is told.

use anyhow::{Result, anyhow, bail};

use super::preset::ExportFormat;
use super::source::{Header, HeaderNotFound};
use super::{ga4, google_ads, matrixify, meta_ads, shopify, table_csv, woocommerce};
use crate::config::Config;
use crate::schema::{self, TableSpec};

/// Every platform export, in the order they are tried and listed.
pub static FORMATS: &[&ExportFormat] = &[
    &shopify::ORDERS_EXPORT,
    &shopify::PRODUCTS_EXPORT,
    &matrixify::ORDERS_EXPORT,
    &woocommerce::ORDERS_EXPORT,
    &ga4::TRAFFIC_EXPORT,
    &google_ads::CAMPAIGNS_EXPORT,
    &meta_ads::CAMPAIGNS_EXPORT,
];

/// What a file is: one of dawnpost's tables, or a platform's export.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Table(&'static TableSpec),
    Export(&'static ExportFormat),
}

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
            Format::Export(f) => f.name,
        }
    }

    /// A format by its name, or a table by its own.
    pub fn from_name(name: &str) -> Result<Format> {
        FORMATS
            .iter()
            .find(|f| f.name == name)
            .map(|f| Format::Export(f))
            .or_else(|| schema::spec(name).map(Format::Table))
            .ok_or_else(|| anyhow!("unknown format `{name}`\n{}", Format::list()))
    }

    /// Where the file comes from and the columns that identify it.
    pub fn expects(self) -> &'static str {
        match self {
            Format::Table(_) => "dawnpost's own CSV for one table, with its column names",
            Format::Export(f) => f.expects,
        }
    }

    /// Whether `header` is this format's.
    pub fn matches(self, header: &Header) -> bool {
        match self {
            Format::Table(spec) => table_csv::matches(spec, header),
            Format::Export(f) => (f.matches)(header),
        }
    }

    /// The format a header belongs to: a platform's first, then a table whose columns it
    /// has exactly.
    pub fn detect(header: &Header) -> Option<Format> {
        FORMATS
            .iter()
            .map(|f| Format::Export(f))
            .chain(schema::importable().map(Format::Table))
            .find(|f| f.matches(header))
    }

    /// Every format and what it expects, for an error that must say what would do.
    pub fn list() -> String {
        let mut out = String::from("formats dawnpost reads (name it with --format):");
        for f in FORMATS {
            out.push_str(&format!("\n  {:<19} {}", f.name, f.expects));
        }
        let tables: Vec<&str> = schema::importable().map(|t| t.name).collect();
        out.push_str(&format!(
            "\n  {:<19} dawnpost's own CSV, one table per file, with the table's column names",
            tables.join(", ")
        ));
        out
    }
}

/// The export formats' names, joined for a list in prose.
pub fn export_names() -> String {
    let names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
    names.join(", ")
}

/// An unknown header becomes an error that lists the formats and what each expects.
pub(super) fn explain_header(e: anyhow::Error, format: Option<Format>) -> anyhow::Error {
    let Some(h) = e.downcast_ref::<HeaderNotFound>() else {
        return e;
    };
    match format {
        Some(Format::Table(spec)) => anyhow!(
            "{}:{}: {}",
            h.file,
            h.line,
            table_csv::header_problem(spec, &h.fields)
        ),
        Some(Format::Export(f)) => anyhow!(
            "{e}\nexpected the header of {} ({}): {}",
            f.name,
            f.expects,
            f.missing(&h.fields)
        ),
        None => anyhow!("{e}\n{}", Format::list()),
    }
}

/// Holds each nightly import's format to the formats dawnpost reads, when the config is
/// loaded: a misspelt name stops every command at once, not the first 6 AM run.
pub fn check_formats(config: &Config) -> Result<()> {
    for entry in &config.imports {
        if let Some(f) = &entry.format
            && Format::from_name(f).is_err()
        {
            bail!(
                "{}: unknown format `{f}`: one of {}, or a table's name",
                entry.format_at,
                FORMATS
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}
