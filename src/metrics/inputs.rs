//! Everything one digest reads from the store, as values: the metrics' rows and the rest
//! (campaigns, stock, the order history, feedback, freshness...). The store fills it
//! (`store::gather`); the digest is built from it alone.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::metrics::alert::{Promotion, StockPosition};
use crate::metrics::calendar::Calendar;
use crate::metrics::forecast::History;
use crate::metrics::news::BigOrder;
use crate::metrics::report::Fetched;

/// Days before a report date whose mailed figures it checks for revisions.
pub const REVISION_DAYS: u64 = 14;

/// A figure as mailed: its report date, metric key and value.
pub type MailedFigure = (NaiveDate, String, f64);

/// Yesterday's customer feedback on one theme.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeCount {
    pub theme: String,
    pub count: i64,
    pub negative: i64,
    /// One comment, a negative one where there is one.
    pub example: Option<String>,
}

/// Days of history the charts show.
pub const CHART_DAYS: u64 = 30;

/// What the store holds for one report date.
#[derive(Debug, Clone, Default)]
pub struct DigestInputs {
    pub fetched: Fetched,
    /// Campaigns running on the date or starting within the alert look-ahead or the
    /// outlook, whichever is longer.
    pub promotions: Vec<Promotion>,
    /// Orders per day and the campaign calendar, for the week ahead.
    pub history: History,
    /// Capacity from the latest row on or before the date to the end of the outlook.
    pub capacity_plan: BTreeMap<NaiveDate, f64>,
    pub stock: BTreeMap<String, StockPosition>,
    pub out_of_stock: Vec<(String, String)>,
    pub product_names: BTreeMap<String, String>,
    pub feedback: Vec<ThemeCount>,
    /// Last day with data on or before the report date, per source table.
    pub freshness: Vec<(&'static str, Option<NaiveDate>)>,
    /// Optional columns of tables with rows, none of which holds a value.
    pub empty_columns: Vec<&'static str>,
    /// When the shop trades, as of the report date.
    pub calendar: Calendar,
    /// The headline figures mailed for the days before the report date.
    pub mailed: Vec<MailedFigure>,
    /// The report date's largest order, beside the day's totals.
    pub big_order: Option<BigOrder>,
    /// Each table's last feeding import format.
    pub feeds: BTreeMap<String, String>,
    /// Each live source's last sync, for the freshness line.
    pub syncs: Vec<SourceSync>,
    /// The titles of the alerts sent as they happened on the report date.
    pub live_sent: Vec<String>,
    /// Whether operations confirmed each campaign of `promotions` as planned.
    pub confirmed: BTreeMap<String, crate::metrics::preflight::Confirmed>,
}

/// A live source's last sync, as the email's freshness line tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSync {
    pub source: String,
    /// "Shopify", "WooCommerce".
    pub platform: &'static str,
    /// When it last synced, and when a sync last ended (epoch seconds).
    pub synced_at: Option<i64>,
    pub attempted_at: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub failure: Option<String>,
    /// What its days date ("Traffic"), and the time zone they follow, as it last said.
    pub days_of: &'static str,
    pub zone: Option<String>,
}

/// What a weekly review reads beyond the digest of its last day.
#[derive(Debug, Clone, Default)]
pub struct WeeklyInputs {
    /// The week: its first and last day.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Every metric's rows for the week, the week before and the same week a year ago.
    pub fetched: Fetched,
    /// The campaigns that ran in the week, each with what it did.
    pub retros: Vec<Retro>,
    /// The two weeks after it, forecast from its last day.
    pub ahead: Vec<crate::metrics::forecast::DayForecast>,
    pub capacity_plan: BTreeMap<NaiveDate, f64>,
    /// Campaigns starting in those two weeks, each with its pre-flight and whether
    /// operations confirmed it.
    pub starting: Vec<Starting>,
    /// The last day of each week of the key results' cycles up to the week's last day, for
    /// their trend.
    pub week_ends: Vec<NaiveDate>,
}

/// A campaign starting soon, as the weekly review lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Starting {
    pub promotion: Promotion,
    pub confirmed: crate::metrics::preflight::Confirmed,
    /// Its pre-flight on the week's data.
    pub check: crate::metrics::preflight::Preflight,
}

/// A campaign's week as its retrospective tells it: over its days up to the week's end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retro {
    pub campaign: String,
    pub channel: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Its days counted: from its start to its end or the week's last day.
    pub through: NaiveDate,
    /// Orders expected on those days by the forecast made the day before it started, with
    /// its lift and without (the baseline); None without a forecast.
    pub expected: Option<f64>,
    pub baseline: Option<f64>,
    /// Days of it past the forecast's reach, not in `expected`.
    pub unforecast: i64,
    pub orders: f64,
    /// Promoted SKUs, and SKU-days out of stock on its days.
    pub skus: usize,
    pub sku_days_out: i64,
    /// Units sold and returned of the orders on its channel on its days, and of every order
    /// on those days.
    pub units: f64,
    pub returned: f64,
    pub shop_units: f64,
    pub shop_returned: f64,
    /// Its ad spend on those days (ad rows naming it), and the revenue of its channel's
    /// orders then.
    pub spend: f64,
    pub revenue: f64,
}
