//! Google Analytics 4 through the Data API's `runReport`: sessions and the shop funnel's
//! events (item views, add-to-carts, checkouts) per day and session channel group, paged by
//! `limit` and `offset`, on the property's own days.
//!
//! GA4 keeps changing the last 48 hours, so each sync reads again from the cursor (the last
//! day read) less `lookback_days`; a day read again replaces what it said. Channel groups
//! map to the shop's channels as the GA4 CSV preset maps them (`[channels]` over the built-in
//! table); groups that map to one channel are summed. The property's quota is asked for with
//! each page, and a page waits while it runs low.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::google::GoogleToken;
use super::http::{Http, Reply, excerpt};
use super::intake::{Session, SyncOptions, Synced, import_options, load_days};
use crate::config::{Config, Platform, SourceSettings};
use crate::ingest::load::Target;
use crate::ingest::values::sum_counts;
use crate::schema;
use crate::store::Store;
use crate::store::write::SqlValue;

const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";
/// The longest channel name kept.
const MAX_CHANNEL: usize = 255;
/// Rows a page asks for (GA4 allows 250,000; smaller pages keep each answer small).
pub(super) const PAGE_ROWS: u64 = 1_000;
/// The most rows one sync reads: ten years of 50 channel groups.
const MAX_ROWS: u64 = 200_000;
/// Below this share of the hourly quota left, each page waits [`QUOTA_PAUSE`] first.
const QUOTA_LOW: f64 = 0.2;
const QUOTA_PAUSE: Duration = Duration::from_secs(2);

/// The metrics read, each with the traffic column it fills.
const METRICS: [(&str, &str); 4] = [
    ("sessions", "sessions"),
    ("itemViewEvents", "product_views"),
    ("addToCarts", "add_to_carts"),
    ("checkouts", "checkouts"),
];

static TARGETS: [Target; 1] = [Target::upsert(&schema::TRAFFIC)];

/// A page of `runReport`'s answer: only what is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    #[serde(default)]
    metric_headers: Vec<Header>,
    #[serde(default)]
    rows: Vec<Row>,
    #[serde(default)]
    row_count: u64,
    metadata: Option<Metadata>,
    property_quota: Option<Quota>,
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    dimension_values: Vec<Cell>,
    metric_values: Vec<Cell>,
}

#[derive(Debug, Deserialize)]
struct Cell {
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Quota {
    tokens_per_hour: Option<QuotaStatus>,
}

#[derive(Debug, Deserialize)]
struct QuotaStatus {
    #[serde(default)]
    consumed: f64,
    #[serde(default)]
    remaining: f64,
}

pub(super) async fn sync(
    store: &Store,
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<Synced> {
    let Platform::Ga4 { property, key } = &source.platform else {
        bail!("source {} is not a GA4 source", source.name);
    };
    let mut api = Api {
        http,
        token: GoogleToken::new(http, key, SCOPE, opts.at),
        url: report_url(source, property)?,
        requests: 0,
    };
    let (from, to) = (since.date_naive(), opts.day);
    // Sessions and events per (day, shop channel), read whole before anything is written.
    let mut sums: BTreeMap<(NaiveDate, String), [i64; 4]> = BTreeMap::new();
    let io = import_options(config, config.shop.timezone, opts);
    let zone = read_all(&mut api, (from, to), &io, &mut sums).await?;
    let warnings: Vec<String> = zone_warning(config, zone.as_deref()).into_iter().collect();
    let rows = sums
        .into_iter()
        .map(|((day, channel), v)| {
            let mut values = vec![SqlValue::Text(day.to_string()), SqlValue::Text(channel)];
            values.extend(v.iter().map(|n| SqlValue::Int(*n)));
            (0, values)
        })
        .collect();
    let (cursor, import) =
        load_days(store, config, source, opts, "ga4-api", &TARGETS, zone, rows).await?;
    let session = Session {
        warnings,
        requests: api.requests + api.token.requests,
    };
    Ok((session, 0, cursor, import))
}

/// Signs in and reads one day's report, as `check` does: the warnings a sync would give.
pub(super) async fn probe(
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    at: i64,
) -> Result<Vec<String>> {
    let Platform::Ga4 { property, key } = &source.platform else {
        bail!("source {} is not a GA4 source", source.name);
    };
    let mut api = Api {
        http,
        token: GoogleToken::new(http, key, SCOPE, at),
        url: report_url(source, property)?,
        requests: 0,
    };
    let day = DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .date_naive();
    let page = api.page((day, day), 0).await?;
    let zone = page.metadata.and_then(|m| m.time_zone);
    Ok(zone_warning(config, zone.as_deref()).into_iter().collect())
}

fn report_url(source: &SourceSettings, property: &str) -> Result<url::Url> {
    source
        .endpoint
        .join(&format!("v1beta/properties/{property}:runReport"))
        .map_err(|e| {
            anyhow!(
                "source {}: the endpoint cannot take the path: {e}",
                source.name
            )
        })
}

/// What a property on another clock than the shop's is told.
fn zone_warning(config: &Config, zone: Option<&str>) -> Option<String> {
    let z = zone?;
    (z != config.shop.timezone.name()).then(|| {
        format!(
            "the property's time zone is {z}, but [shop] timezone is {}: traffic days follow \
             GA4's {z}",
            config.shop.timezone
        )
    })
}

struct Api<'a> {
    http: &'a Http,
    token: GoogleToken<'a>,
    url: url::Url,
    requests: u64,
}

/// Every page of the report for `days`, summed into `sums`: the property's time zone.
async fn read_all(
    api: &mut Api<'_>,
    days: (NaiveDate, NaiveDate),
    io: &crate::ingest::ImportOptions,
    sums: &mut BTreeMap<(NaiveDate, String), [i64; 4]>,
) -> Result<Option<String>> {
    let mut offset = 0u64;
    let mut zone = None;
    loop {
        let page = api.page(days, offset).await?;
        zone = zone.or(page.metadata.as_ref().and_then(|m| m.time_zone.clone()));
        let columns = columns(&page.metric_headers)?;
        let n = page.rows.len() as u64;
        for (i, row) in page.rows.iter().enumerate() {
            add(row, &columns, io, sums).map_err(|e| {
                anyhow!(
                    "source {}: row {} of the report: {e:#}",
                    api.http.source,
                    offset + i as u64 + 1
                )
            })?;
        }
        offset += n;
        if n == 0 || offset >= page.row_count || offset >= MAX_ROWS {
            return Ok(zone.map(|z| z.chars().take(64).collect()));
        }
        api.pace(page.property_quota.as_ref()).await?;
    }
}

/// Where each of [`METRICS`] is among the answer's metric columns.
fn columns(headers: &[Header]) -> Result<[usize; 4]> {
    let mut out = [0; 4];
    for (i, (name, _)) in METRICS.iter().enumerate() {
        out[i] = headers
            .iter()
            .position(|h| h.name == *name)
            .ok_or_else(|| anyhow!("the report has no `{name}` column"))?;
    }
    Ok(out)
}

/// One row of the report into its (day, channel)'s sums.
fn add(
    row: &Row,
    columns: &[usize; 4],
    io: &crate::ingest::ImportOptions,
    sums: &mut BTreeMap<(NaiveDate, String), [i64; 4]>,
) -> Result<()> {
    let dim = |i: usize| {
        row.dimension_values
            .get(i)
            .and_then(|c| c.value.as_deref())
            .unwrap_or("")
    };
    let day = NaiveDate::parse_from_str(dim(0), "%Y%m%d").map_err(|_| {
        anyhow!(
            "date {:?} is not a YYYYMMDD day",
            excerpt(dim(0).as_bytes())
        )
    })?;
    let group = match dim(1) {
        "" => "(not set)",
        g => g,
    };
    let channel: String = io.channel(group).chars().take(MAX_CHANNEL).collect();
    let entry = sums.entry((day, channel)).or_insert([0; 4]);
    for (k, col) in columns.iter().enumerate() {
        let raw = row
            .metric_values
            .get(*col)
            .and_then(|c| c.value.as_deref())
            .unwrap_or("0");
        let v: f64 = raw.trim().parse().map_err(|_| {
            anyhow!(
                "{}: {:?} is not a count",
                METRICS[k].0,
                excerpt(raw.as_bytes())
            )
        })?;
        if !(0.0..=schema::MAX_NUMBER).contains(&v) || v.fract() != 0.0 {
            bail!(
                "{}: {:?} is not a count",
                METRICS[k].0,
                excerpt(raw.as_bytes())
            );
        }
        entry[k] = sum_counts(entry[k], v as i64)?;
    }
    Ok(())
}

impl Api<'_> {
    /// One page of the report, after a 401 with a fresh token.
    async fn page(&mut self, (from, to): (NaiveDate, NaiveDate), offset: u64) -> Result<Report> {
        let body = json!({
            "dateRanges": [{ "startDate": from.to_string(), "endDate": to.to_string() }],
            "dimensions": [{ "name": "date" }, { "name": "sessionDefaultChannelGroup" }],
            "metrics": METRICS.iter().map(|(m, _)| json!({ "name": m })).collect::<Vec<_>>(),
            "orderBys": [{ "dimension": { "dimensionName": "date" } }, { "dimension": { "dimensionName": "sessionDefaultChannelGroup" } }],
            "limit": PAGE_ROWS,
            "offset": offset,
            "returnPropertyQuota": true,
        })
        .to_string();
        let what = format!("report rows from {}", offset + 1);
        let mut refreshed = false;
        loop {
            let token = self.token.bearer().await?;
            let build = || {
                self.http
                    .request(Method::POST, self.url.clone())
                    .bearer_auth(token.expose())
                    .header("Content-Type", "application/json")
                    .body(body.clone())
            };
            self.requests += 1;
            let reply = self.http.send_retrying(build, &what).await?;
            // A token refused is fetched again, once.
            if reply.status.as_u16() == 401 && !refreshed {
                refreshed = true;
                self.token.forget();
                continue;
            }
            if !reply.status.is_success() {
                bail!(
                    "source {}: {what}: GA4 answered {}: {}",
                    self.http.source,
                    reply.status,
                    google_error(&reply)
                );
            }
            return reply
                .json(&what)
                .map_err(|e| anyhow!("source {}: {e:#}", self.http.source));
        }
    }

    /// Waits while the property's hourly quota runs low; stops when it is spent.
    async fn pace(&self, quota: Option<&Quota>) -> Result<()> {
        let Some(q) = quota.and_then(|q| q.tokens_per_hour.as_ref()) else {
            return Ok(());
        };
        if q.remaining <= 0.0 {
            bail!(
                "source {}: the property's hourly quota is spent: the next sync reads on",
                self.http.source
            );
        }
        let total = q.consumed + q.remaining;
        if total > 0.0 && q.remaining / total < QUOTA_LOW {
            tokio::time::sleep(QUOTA_PAUSE).await;
        }
        Ok(())
    }
}

/// Google's error body: `error.status` and `error.message`.
pub(super) fn google_error(reply: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let field = |k: &str| {
        v.pointer(k)
            .and_then(|s| s.as_str())
            .map(|s| excerpt(s.as_bytes()))
    };
    match (field("/error/status"), field("/error/message")) {
        (Some(s), Some(m)) => format!("{s}: {m}"),
        (None, Some(m)) => m,
        _ => excerpt(&reply.body),
    }
}
