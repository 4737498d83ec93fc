//! `dawnpost sync`: live sources (a Shopify shop, a WooCommerce store) read over their
//! APIs into the store, each run all or nothing.
//!
//! A platform's module signs in, checks the shop against the config, and turns what the
//! API returns into rows, record by record, for the same [`Load`] a file feeds. The source's
//! cursor (the latest `updated_at` it gave) is committed with the rows; a run cut off (a
//! server gone, a deadline, SIGTERM, SIGKILL) leaves both as they were, and the next run
//! starts again from the old cursor. Every run re-reads `lookback_days` before the cursor;
//! rows are upserted on their keys, so what is read again counts once, and only days whose
//! rows changed get their rollups rebuilt.

mod ga4;
mod google;
mod google_ads;
pub(crate) mod http;
mod intake;
mod meta_ads;
mod shopify;
mod woocommerce;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::ImportSummary;
use crate::config::{Config, Platform, SourceSettings};
use crate::store::{SourceState, Store};
pub use intake::SyncOptions;

/// What a sync did, or with `check`, would do.
#[derive(Debug, Clone)]
pub struct SyncSummary {
    pub source: String,
    pub platform: &'static str,
    /// The day its changes were read from, and whether that came from the cursor.
    pub since: DateTime<Utc>,
    pub incremental: bool,
    /// Requests made (pages, polls, bulk lines count as one).
    pub requests: u64,
    /// Orders read.
    pub orders: u64,
    /// The new cursor (None: nothing newer than the old one).
    pub cursor: Option<String>,
    /// What the source said that the owner should know (a missing scope, another zone).
    pub warnings: Vec<String>,
    pub import: ImportSummary,
}

/// Syncs every configured source, or the one named; each on its own, so that one failing
/// does not keep the others' data back. Each result names its source.
pub async fn sync_all(
    store: &Store,
    config: &Config,
    only: Option<&str>,
    opts: &SyncOptions,
) -> Result<Vec<(String, Result<SyncSummary>)>> {
    let chosen: Vec<&SourceSettings> = config
        .sources
        .iter()
        .filter(|s| only.is_none_or(|n| s.name == n))
        .collect();
    if chosen.is_empty() {
        match only {
            Some(n) => bail!(
                "no source named {n:?} in {}; configured: {}",
                config.origin,
                names(config)
            ),
            None => bail!(
                "{} configures no [[sources]]: add a Shopify or WooCommerce source (see the \
                 README, \"Live sources\")",
                config.origin
            ),
        }
    }
    let mut out = Vec::with_capacity(chosen.len());
    for source in chosen {
        let result = sync(store, config, source, opts).await;
        if let Err(e) = &result
            && !opts.check
        {
            let failure = format!("{e:#}");
            if let Err(e) = store
                .record_sync_failure(&source.name, opts.at, &failure)
                .await
            {
                tracing::warn!(source = %source.name, error = %format!("{e:#}"), "cannot record the failed sync");
            }
        }
        out.push((source.name.clone(), result));
    }
    Ok(out)
}

/// `serve`'s syncing before a report's data check: each source whose last sync ended more
/// than `gap` ago (serve looks again every few minutes while it waits for data), each
/// within `deadline` (a sync cut off by it writes nothing). Failures are recorded, logged
/// by the caller and told in the email; returns them as "source NAME: why".
pub async fn sync_due(
    store: &Store,
    config: &Config,
    opts: &SyncOptions,
    gap: std::time::Duration,
    deadline: std::time::Duration,
) -> Vec<String> {
    let mut failed = Vec::new();
    for source in &config.sources {
        let last = match store.source_state(&source.name).await {
            Ok(s) => s.attempted_at.or(s.synced_at),
            Err(e) => {
                failed.push(format!("source {}: {e:#}", source.name));
                continue;
            }
        };
        let gap_secs = i64::try_from(gap.as_secs()).unwrap_or(i64::MAX);
        if last.is_some_and(|t| opts.at.saturating_sub(t) < gap_secs) {
            continue;
        }
        let result = match tokio::time::timeout(deadline, sync(store, config, source, opts)).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(anyhow!(
                "source {}: the sync did not finish within {} s; nothing of it was written",
                source.name,
                deadline.as_secs()
            )),
        };
        if let Err(e) = result {
            let failure = format!("{e:#}");
            if let Err(e) = store
                .record_sync_failure(&source.name, opts.at, &failure)
                .await
            {
                tracing::warn!(source = %source.name, error = %format!("{e:#}"), "cannot record the failed sync");
            }
            failed.push(failure);
        }
    }
    failed
}

/// Signs in to `source` and reads its settings, as `check` does: the warnings a sync would
/// give, or why it cannot sync. Writes nothing.
pub async fn probe(config: &Config, source: &SourceSettings, at: i64) -> Result<Vec<String>> {
    let http = http::Http::new(source)?;
    match &source.platform {
        Platform::Shopify { .. } => shopify::probe(config, source, &http, at).await,
        Platform::WooCommerce { .. } => woocommerce::probe(config, source, &http).await,
        Platform::Ga4 { .. } => ga4::probe(config, source, &http, at).await,
        Platform::GoogleAds { .. } => google_ads::probe(config, source, &http).await,
        Platform::MetaAds { .. } => meta_ads::probe(config, source, &http).await,
    }
}

fn names(config: &Config) -> String {
    let v: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Syncs one source, all or nothing.
pub async fn sync(
    store: &Store,
    config: &Config,
    source: &SourceSettings,
    opts: &SyncOptions,
) -> Result<SyncSummary> {
    let state = store.source_state(&source.name).await?;
    let http = http::Http::new(source)?;
    let (since, incremental) = start(source, &state, opts)?;
    store.bulk_cache(true).await;
    let synced = match &source.platform {
        Platform::Shopify { .. } => {
            shopify::sync(store, config, source, &http, &state, since, opts).await
        }
        Platform::WooCommerce { .. } => {
            woocommerce::sync(store, config, source, &http, since, opts).await
        }
        Platform::Ga4 { .. } => ga4::sync(store, config, source, &http, since, opts).await,
        Platform::GoogleAds { .. } => {
            google_ads::sync(store, config, source, &http, since, opts).await
        }
        Platform::MetaAds { .. } => meta_ads::sync(store, config, source, &http, since, opts).await,
    };
    store.bulk_cache(false).await;
    let (session, orders, cursor, mut import) = synced?;
    // A table two targets write (products from the catalogue and from order lines) is one.
    let mut tables: Vec<(&'static str, u64)> = Vec::new();
    for (t, n) in import.tables.drain(..) {
        match tables.iter_mut().find(|(u, _)| *u == t) {
            Some((_, m)) => *m += n,
            None => tables.push((t, n)),
        }
    }
    import.tables = tables;
    if !opts.check {
        let tables: Vec<&str> = import.tables.iter().map(|(t, _)| *t).collect();
        let feed = format!("{}-api", source.platform.label().to_ascii_lowercase());
        if let Err(e) = store.record_feeds(&feed, &tables, opts.at).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot record what the sync fed");
        }
    }
    Ok(SyncSummary {
        source: source.name.clone(),
        platform: source.platform.label(),
        since,
        incremental,
        requests: session.requests,
        orders,
        cursor,
        warnings: session.warnings,
        import,
    })
}

/// Where a sync starts reading: `--since`, else the cursor less the lookback, else
/// `history_days` before the day. True when it follows the cursor.
fn start(
    source: &SourceSettings,
    state: &SourceState,
    opts: &SyncOptions,
) -> Result<(DateTime<Utc>, bool)> {
    if let Some(d) = opts.since {
        return Ok((midnight(d), false));
    }
    if let Some(c) = &state.cursor {
        let cursor = DateTime::parse_from_rfc3339(c)
            .with_context(|| {
                format!(
                    "source {}: the stored cursor {c:?} is not a time",
                    source.name
                )
            })?
            .with_timezone(&Utc);
        let back = chrono::Duration::days(i64::from(source.lookback_days));
        return Ok((cursor - back, true));
    }
    let first = opts
        .day
        .checked_sub_days(Days::new(u64::from(source.history_days)))
        .ok_or_else(|| anyhow!("source {}: history_days reaches before year 1", source.name))?;
    Ok((midnight(first), false))
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}
