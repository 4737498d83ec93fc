//! Google Ads through `googleAds:searchStream`: the account's currency and time zone, then
//! each campaign's cost, impressions and clicks per day (GAQL), summed by campaign name and
//! written as ad spend on the channel "Google Ads" maps to.
//!
//! Cost is `cost_micros / 1e6` in the account's currency, which must be the shop's. Days
//! are the account's own (its zone cannot be changed); another zone than the shop's is a
//! warning and a line in the email's footer. Each sync reads again from the last day read
//! less `lookback_days` (3): conversions and clicks are restated for days.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::google::RefreshedToken;
use super::http::{Http, Reply, excerpt};
use super::intake::{Session, SyncOptions, Synced, load_spend};
use crate::config::{Config, Platform, SourceSettings};
use crate::ingest::ad_spend::{Spend, SpendSums};
use crate::store::Store;

/// The API version every request names.
pub(crate) const API_VERSION: &str = "v26";
/// The longest wait a 429 may ask for that the sync waits out; a longer one ends the sync.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// 429s waited out in one request.
const RETRIES: u32 = 4;
/// The most rows one sync reads.
const MAX_ROWS: usize = 1_000_000;

struct Api<'a> {
    http: &'a Http,
    token: RefreshedToken<'a>,
    url: url::Url,
    login_customer: Option<&'a str>,
    developer_token: Option<&'a crate::config::Secret>,
    requests: u64,
}

pub(super) async fn sync(
    store: &Store,
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<Synced> {
    let mut api = Api::new(source, http)?;
    let (zone, warnings) = check_account(&mut api, config, source).await?;
    let (from, to) = (since.date_naive(), opts.day);
    let mut sums = SpendSums::default();
    campaigns(&mut api, from, to, &mut sums).await?;
    let session = Session {
        warnings,
        requests: api.requests + api.token.requests,
    };
    load_spend(
        store,
        config,
        source,
        opts,
        "google-ads-api",
        "Google Ads",
        zone,
        sums,
        session,
    )
    .await
}

/// Signs in and reads the account's settings, as `check` does.
pub(super) async fn probe(
    config: &Config,
    source: &SourceSettings,
    http: &Http,
) -> Result<Vec<String>> {
    let mut api = Api::new(source, http)?;
    Ok(check_account(&mut api, config, source).await?.1)
}

/// The account's time zone, refusing another currency; the warnings for another zone.
async fn check_account(
    api: &mut Api<'_>,
    config: &Config,
    source: &SourceSettings,
) -> Result<(String, Vec<String>)> {
    #[derive(Deserialize)]
    struct Settings {
        customer: Customer,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Customer {
        currency_code: String,
        time_zone: String,
    }
    let query = "SELECT customer.id, customer.currency_code, customer.time_zone FROM customer";
    let rows: Vec<Settings> = api.search(query, "the account's settings").await?;
    let c = rows.first().ok_or_else(|| {
        anyhow!(
            "source {}: the account's settings came back empty",
            source.name
        )
    })?;
    let text = |s: &str| s.chars().take(64).collect::<String>();
    let (currency, zone) = (text(&c.customer.currency_code), text(&c.customer.time_zone));
    if !currency.eq_ignore_ascii_case(&config.shop.currency) {
        bail!(
            "source {}: the account's currency is {currency}, but {} says {}: dawnpost keeps one \
             currency and does not convert",
            source.name,
            config.origin,
            config.shop.currency
        );
    }
    let mut warnings = Vec::new();
    if zone != config.shop.timezone.name() {
        warnings.push(format!(
            "the account's time zone is {zone}, but [shop] timezone is {}: ad spend days \
             follow Google Ads' {zone}",
            config.shop.timezone
        ));
    }
    Ok((zone, warnings))
}

/// Each campaign's days from `from` to `to`, summed by name into `sums`: the rows read.
async fn campaigns(
    api: &mut Api<'_>,
    from: NaiveDate,
    to: NaiveDate,
    sums: &mut SpendSums,
) -> Result<usize> {
    let query = format!(
        "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.clicks, \
         metrics.impressions FROM campaign WHERE segments.date BETWEEN '{from}' AND '{to}' \
         ORDER BY segments.date, campaign.id"
    );
    let rows: Vec<Row> = api.search(&query, "campaign days").await?;
    let n = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        add(row, sums)
            .map_err(|e| anyhow!("source {}: campaign row {}: {e:#}", api.http.source, i + 1))?;
    }
    Ok(n)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    campaign: Campaign,
    #[serde(default)]
    metrics: Metrics,
    segments: Segments,
}

#[derive(Debug, Deserialize)]
struct Campaign {
    name: Option<String>,
    id: Option<String>,
}

/// int64 fields come as strings; a field left out is 0.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    cost_micros: Option<String>,
    clicks: Option<String>,
    impressions: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Segments {
    date: String,
}

fn add(r: Row, sums: &mut SpendSums) -> Result<()> {
    let day: NaiveDate = r.segments.date.parse().map_err(|_| {
        anyhow!(
            "date {:?} is not a day",
            excerpt(r.segments.date.as_bytes())
        )
    })?;
    let count = |v: &Option<String>, what: &str| -> Result<i64> {
        let raw = v.as_deref().unwrap_or("0");
        raw.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=crate::schema::MAX_NUMBER as i64).contains(n))
            .ok_or_else(|| anyhow!("{what}: {:?} is not a count", excerpt(raw.as_bytes())))
    };
    let micros = count(&r.metrics.cost_micros, "costMicros")?;
    let name = r
        .campaign
        .name
        .or(r.campaign.id)
        .unwrap_or_else(|| "(no name)".into());
    let spend = Spend {
        cost: micros as f64 / 1e6,
        impressions: count(&r.metrics.impressions, "impressions")?,
        clicks: count(&r.metrics.clicks, "clicks")?,
    };
    sums.add(day, &name.chars().take(255).collect::<String>(), spend)
}

impl<'a> Api<'a> {
    fn new(source: &'a SourceSettings, http: &'a Http) -> Result<Api<'a>> {
        let Platform::GoogleAds {
            customer,
            login_customer,
            client_id,
            client_secret,
            refresh_token,
            developer_token,
            token_url,
        } = &source.platform
        else {
            bail!("source {} is not a Google Ads source", source.name);
        };
        let url = source
            .endpoint
            .join(&format!(
                "{API_VERSION}/customers/{customer}/googleAds:searchStream"
            ))
            .map_err(|e| {
                anyhow!(
                    "source {}: the endpoint cannot take the path: {e}",
                    source.name
                )
            })?;
        Ok(Api {
            http,
            token: RefreshedToken::new(http, token_url, (client_id, client_secret), refresh_token),
            url,
            login_customer: login_customer.as_deref(),
            developer_token: developer_token.as_ref(),
            requests: 0,
        })
    }

    /// Every row of a GAQL query's stream (its batches' `results`), each read straight into
    /// `T`: a stream of many rows is never held as JSON values.
    async fn search<T: serde::de::DeserializeOwned>(
        &mut self,
        query: &str,
        what: &str,
    ) -> Result<Vec<T>> {
        let body = json!({ "query": query }).to_string();
        let (mut refreshed, mut waited) = (false, 0);
        loop {
            let token = self.token.bearer().await?;
            let mut req = self
                .http
                .request(Method::POST, self.url.clone())
                .bearer_auth(token.expose())
                .header("Content-Type", "application/json")
                .body(body.clone());
            if let Some(l) = self.login_customer {
                req = req.header("login-customer-id", l);
            }
            if let Some(d) = self.developer_token {
                req = req.header("developer-token", super::http::secret_header(d.expose())?);
            }
            self.requests += 1;
            let reply = self.http.send(req, what).await?;
            match reply.status.as_u16() {
                200..=299 => return batches::<T>(&reply, &self.http.source, what),
                401 if !refreshed => {
                    refreshed = true;
                    self.token.forget();
                }
                429 if waited < RETRIES => {
                    let delay = retry_delay(&reply);
                    if delay > MAX_RETRY_DELAY {
                        bail!(
                            "source {}: {what}: the account's quota is spent: Google asks to wait \
                             {} s; the next sync reads on",
                            self.http.source,
                            delay.as_secs()
                        );
                    }
                    waited += 1;
                    tokio::time::sleep(delay).await;
                }
                _ => bail!(
                    "source {}: {what}: Google Ads answered {}: {}",
                    self.http.source,
                    reply.status,
                    ads_error(&reply)
                ),
            }
        }
    }
}

/// The stream's batches: a JSON array of `{results: [...]}`.
fn batches<T: serde::de::DeserializeOwned>(
    reply: &Reply,
    source: &str,
    what: &str,
) -> Result<Vec<T>> {
    #[derive(Deserialize)]
    struct Batch<T> {
        #[serde(default = "Vec::new")]
        results: Vec<T>,
    }
    let batches: Vec<Batch<T>> = reply
        .json(what)
        .map_err(|e| anyhow!("source {source}: {e:#}"))?;
    let mut rows = Vec::new();
    for b in batches {
        if rows.len() + b.results.len() > MAX_ROWS {
            bail!("source {source}: {what}: more than {MAX_ROWS} rows");
        }
        rows.extend(b.results);
    }
    Ok(rows)
}

/// The error Google Ads gave, in or out of an array: its status, message and error code.
fn ads_error(reply: &Reply) -> String {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let e = match &v {
        Value::Array(a) => a.first().and_then(|x| x.get("error")),
        other => other.get("error"),
    };
    let Some(e) = e else {
        return excerpt(&reply.body);
    };
    let text = |p: &str| {
        e.pointer(p)
            .map(|s| excerpt(s.to_string().trim_matches('"').as_bytes()))
    };
    let code = e
        .pointer("/details/0/errors/0/errorCode")
        .map(|c| excerpt(c.to_string().as_bytes()))
        .unwrap_or_default();
    format!(
        "{}: {} {code}",
        text("/status").unwrap_or_default(),
        text("/message").unwrap_or_default()
    )
    .trim()
    .to_string()
}

/// How long a 429 asks to wait: its `retryDelay` ("40591s"), else 2 s.
fn retry_delay(reply: &Reply) -> Duration {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let e = match &v {
        Value::Array(a) => a.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    e.pointer("/error/details/0/errors/0/details/quotaErrorDetails/retryDelay")
        .and_then(Value::as_str)
        .and_then(|s| s.trim_end_matches('s').parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(2), |s| {
            Duration::from_secs_f64(s.min(1e9))
        })
}
