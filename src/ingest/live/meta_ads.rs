//! Meta's Marketing API Insights: the ad account's currency and time zone, then each
//! campaign's spend, impressions and link clicks per day (`level=campaign`,
//! `time_increment=1`), paged by cursor, summed by campaign name and written as ad spend on
//! the channel "Meta Ads" maps to.
//!
//! Meta revises attribution for 28 days, so each sync reads again from the last day read
//! less `lookback_days` (28). The token travels in a header, never in a URL (Meta's own
//! `paging.next` URLs carry it, so they are not followed). Throttling: a page waits while
//! `x-fb-ads-insights-throttle` says the app or the account is near its limit, and a rate
//! error is waited out briefly or ends the sync with Meta's wait named.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, Reply, excerpt};
use super::intake::{Session, SyncOptions, Synced, load_spend};
use crate::config::{Config, Platform, Secret, SourceSettings};
use crate::ingest::ad_spend::{Spend, SpendSums};
use crate::store::Store;

/// The Graph API version every request names.
pub(crate) const API_VERSION: &str = "v26.0";
/// Rows a page asks for.
const PAGE: u32 = 100;
/// Meta's rate-limit error codes (the ads-insights and app limits among them).
const RATE_LIMITED: [i64; 12] = [
    4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008,
];
/// Rate errors waited out in one request, and the longest wait Meta may ask for that is.
const RETRIES: u32 = 4;
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Above this share of its limit used (either the app's or the account's), a page waits.
const BUSY_PCT: f64 = 95.0;
const BUSY_PAUSE: Duration = Duration::from_secs(2);

struct Api<'a> {
    http: &'a Http,
    token: &'a Secret,
    base: url::Url,
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
    insights(&mut api, from, to, &mut sums).await?;
    let session = Session {
        warnings,
        requests: api.requests,
    };
    load_spend(
        store,
        config,
        source,
        opts,
        "meta-ads-api",
        "Meta Ads",
        zone,
        sums,
        session,
    )
    .await
}

/// Reads the account's settings, as `check` does.
pub(super) async fn probe(
    config: &Config,
    source: &SourceSettings,
    http: &Http,
) -> Result<Vec<String>> {
    let mut api = Api::new(source, http)?;
    Ok(check_account(&mut api, config, source).await?.1)
}

async fn check_account(
    api: &mut Api<'_>,
    config: &Config,
    source: &SourceSettings,
) -> Result<(String, Vec<String>)> {
    #[derive(Deserialize)]
    struct Account {
        currency: String,
        timezone_name: String,
    }
    let reply = api
        .get(
            "",
            &[("fields", "currency,timezone_name".into())],
            "the ad account",
        )
        .await?;
    let a: Account = reply
        .json("the ad account")
        .map_err(|e| anyhow!("source {}: {e:#}", source.name))?;
    let (currency, zone): (String, String) = (
        a.currency.chars().take(8).collect(),
        a.timezone_name.chars().take(64).collect(),
    );
    if !currency.eq_ignore_ascii_case(&config.shop.currency) {
        bail!(
            "source {}: the ad account's currency is {currency}, but {} says {}: dawnpost keeps \
             one currency and does not convert",
            source.name,
            config.origin,
            config.shop.currency
        );
    }
    let mut warnings = Vec::new();
    if zone != config.shop.timezone.name() {
        warnings.push(format!(
            "the ad account's time zone is {zone}, but [shop] timezone is {}: ad spend days \
             follow Meta Ads' {zone}",
            config.shop.timezone
        ));
    }
    Ok((zone, warnings))
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Row>,
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Cursors {
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Row {
    campaign_name: Option<String>,
    campaign_id: Option<String>,
    spend: Option<String>,
    impressions: Option<String>,
    inline_link_clicks: Option<String>,
    date_start: String,
}

/// Every page of the insights from `from` to `to`, summed into `sums`: the rows read.
async fn insights(
    api: &mut Api<'_>,
    from: NaiveDate,
    to: NaiveDate,
    sums: &mut SpendSums,
) -> Result<usize> {
    let mut query: Vec<(&str, String)> = vec![
        ("level", "campaign".into()),
        ("time_increment", "1".into()),
        (
            "fields",
            "campaign_id,campaign_name,spend,impressions,inline_link_clicks,account_currency"
                .into(),
        ),
        (
            "time_range",
            json!({ "since": from.to_string(), "until": to.to_string() }).to_string(),
        ),
        ("limit", PAGE.to_string()),
    ];
    let mut rows = 0usize;
    for page_no in 1..=super::intake::MAX_PAGES {
        let what = format!("insights page {page_no}");
        let reply = api.get("/insights", &query, &what).await?;
        let busy = busy(&reply);
        let page: Page = reply
            .json(&what)
            .map_err(|e| anyhow!("source {}: {e:#}", api.http.source))?;
        for row in &page.data {
            rows += 1;
            add(row, sums).map_err(|e| anyhow!("source {}: {what}: {e:#}", api.http.source))?;
        }
        let after = page
            .paging
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors)
            .and_then(|c| c.after);
        let Some(after) = after else { return Ok(rows) };
        query.retain(|(k, _)| *k != "after");
        query.push(("after", after));
        if busy {
            tokio::time::sleep(BUSY_PAUSE).await;
        }
    }
    bail!(
        "source {}: the insights run past {} pages",
        api.http.source,
        super::intake::MAX_PAGES
    )
}

fn add(row: &Row, sums: &mut SpendSums) -> Result<()> {
    let day: NaiveDate = row.date_start.parse().map_err(|_| {
        anyhow!(
            "date_start {:?} is not a day",
            excerpt(row.date_start.as_bytes())
        )
    })?;
    let number = |v: &Option<String>, what: &str| -> Result<f64> {
        let raw = v.as_deref().unwrap_or("0");
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && (0.0..=crate::schema::MAX_NUMBER).contains(n))
            .ok_or_else(|| anyhow!("{what}: {:?} is not a figure", excerpt(raw.as_bytes())))
    };
    let count = |v: &Option<String>, what: &str| -> Result<i64> {
        let n = number(v, what)?;
        if n.fract() != 0.0 {
            bail!("{what}: {n} is not a count");
        }
        Ok(n as i64)
    };
    let name = row
        .campaign_name
        .clone()
        .or_else(|| row.campaign_id.clone())
        .unwrap_or_else(|| "(no name)".into());
    let spend = Spend {
        cost: number(&row.spend, "spend")?,
        impressions: count(&row.impressions, "impressions")?,
        clicks: count(&row.inline_link_clicks, "inline_link_clicks")?,
    };
    sums.add(day, &name.chars().take(255).collect::<String>(), spend)
}

/// Whether `x-fb-ads-insights-throttle` says the app or the account is near its limit.
fn busy(reply: &Reply) -> bool {
    let Some(h) = reply.header("x-fb-ads-insights-throttle") else {
        return false;
    };
    let v: Value = serde_json::from_str(h).unwrap_or_default();
    ["app_id_util_pct", "acc_id_util_pct"].iter().any(|k| {
        v.get(k)
            .and_then(Value::as_f64)
            .is_some_and(|p| p >= BUSY_PCT)
    })
}

impl<'a> Api<'a> {
    fn new(source: &'a SourceSettings, http: &'a Http) -> Result<Api<'a>> {
        let Platform::MetaAds { account, token } = &source.platform else {
            bail!("source {} is not a Meta Ads source", source.name);
        };
        let base = source
            .endpoint
            .join(&format!("{API_VERSION}/{account}"))
            .map_err(|e| {
                anyhow!(
                    "source {}: the endpoint cannot take the path: {e}",
                    source.name
                )
            })?;
        Ok(Api {
            http,
            token,
            base,
            requests: 0,
        })
    }

    /// A GET below the account, waiting out a brief rate limit.
    async fn get(&mut self, path: &str, query: &[(&str, String)], what: &str) -> Result<Reply> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path()));
        url.query_pairs_mut().extend_pairs(query);
        for attempt in 0..=RETRIES {
            let req = self.http.request(Method::GET, url.clone()).header(
                "Authorization",
                super::http::secret_header(&format!("Bearer {}", self.token.expose()))?,
            );
            self.requests += 1;
            let reply = self.http.send(req, what).await?;
            if reply.status.is_success() {
                return Ok(reply);
            }
            let (code, subcode, message) = meta_error(&reply);
            if RATE_LIMITED.contains(&code) && attempt < RETRIES {
                let wait = regain(&reply).unwrap_or(Duration::from_millis(500 << attempt));
                if wait > MAX_WAIT {
                    bail!(
                        "source {}: {what}: Meta's rate limit ({code}): it asks to wait {} minutes; \
                         the next sync reads on",
                        self.http.source,
                        wait.as_secs() / 60
                    );
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            let hint = if code == 190 {
                ": the access token expired or was revoked; give a new system user token \
                 (it is not shown)"
            } else {
                ""
            };
            bail!(
                "source {}: {what}: Meta answered {} ({code}/{subcode}): {message}{hint}",
                self.http.source,
                reply.status
            );
        }
        bail!(
            "source {}: {what}: still rate-limited after {RETRIES} waits",
            self.http.source
        )
    }
}

/// Meta's error: code, subcode and message.
fn meta_error(reply: &Reply) -> (i64, i64, String) {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let e = v.get("error").cloned().unwrap_or_default();
    (
        e.get("code").and_then(Value::as_i64).unwrap_or(0),
        e.get("error_subcode").and_then(Value::as_i64).unwrap_or(0),
        e.get("message")
            .and_then(Value::as_str)
            .map_or_else(|| excerpt(&reply.body), |m| excerpt(m.as_bytes())),
    )
}

/// How long `x-business-use-case-usage` says until access is regained (it gives minutes).
fn regain(reply: &Reply) -> Option<Duration> {
    let v: Value = serde_json::from_str(reply.header("x-business-use-case-usage")?).ok()?;
    let minutes = v
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| {
            u.get("estimated_time_to_regain_access")
                .and_then(Value::as_f64)
        })
        .fold(0.0f64, f64::max);
    (minutes.is_finite() && minutes > 0.0).then(|| Duration::from_secs_f64(minutes.min(1e6) * 60.0))
}
