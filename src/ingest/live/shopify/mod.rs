//! Shopify's GraphQL Admin API: sign-in (an app's client credentials, or a legacy Admin API
//! token), the shop's zone and currency, and orders with their lines, refunds, fulfilments
//! and returns, products with cost, and stock on hand.
//!
//! The first sync (and one given `--since`) reads its orders through a bulk operation: one
//! query with no cost limit, whose JSONL result is streamed line by line. Later syncs page
//! through orders updated since the cursor less the lookback. Every request honours
//! Shopify's cost-based limit (see `client`).

mod bulk;
mod client;
mod records;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::http::Http;
use super::intake::{Intake, Session, SyncOptions, Synced, begin, finish, import_options};
use crate::config::{Config, SourceSettings};
use crate::progress::Style;
use crate::store::{SourceState, Store};
use client::Client;
use records::{ORDERS_QUERY, Order, PAGE_ORDERS, PRODUCTS_QUERY, TARGETS, Variant};

/// Orders older than this many days need the `read_all_orders` scope.
const RECENT_DAYS: i64 = 60;

/// One sync of a Shopify source: the shop checked, then products and stock, then orders.
pub(super) async fn sync(
    store: &Store,
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    state: &SourceState,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<Synced> {
    let mut client = Client::new(http, source)?;
    let shop = client.shop().await?;
    let warnings = check_shop(config, source, &shop, since, opts)?;
    let since = since.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // A first sync's bulk operation runs to its end before the store's transaction begins:
    // nothing is held open while Shopify works, and a run cut off meanwhile picks it up.
    let first = state.cursor.is_none() || opts.since.is_some();
    let bulk = match first && !opts.check {
        true => Some(
            bulk::run(
                &mut client,
                store,
                &source.name,
                state.bulk.as_ref(),
                &since,
            )
            .await?,
        ),
        false => None,
    };
    let io = import_options(config, shop.tz, opts);
    let file = format!("source {} (Shopify)", source.name);
    let mut load = begin(store, &io, &file, "shopify-api", &TARGETS).await?;
    let mut intake = Intake::new(&mut load, io, opts.progress, &file);
    let read = read(&mut client, &mut intake, bulk, &since, opts).await;
    let (records, orders, cursor) = intake.done();
    let import = finish(
        load,
        read.map(|()| records),
        &source.name,
        cursor.clone(),
        opts.at,
        Some(shop.tz.name().to_string()),
    )
    .await?;
    let session = Session {
        warnings,
        requests: client.requests,
    };
    Ok((session, orders, cursor, import))
}

/// Signs in and checks the shop, as `check` does: the warnings a first sync would give.
pub(super) async fn probe(
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    at: i64,
) -> Result<Vec<String>> {
    let mut client = Client::new(http, source)?;
    let shop = client.shop().await?;
    let reach = chrono::Duration::days(i64::from(source.history_days));
    let since = DateTime::from_timestamp(at, 0).unwrap_or_default() - reach;
    let opts = SyncOptions {
        since: None,
        check: true,
        day: since.date_naive(),
        at,
        progress: Style::Hidden,
    };
    check_shop(config, source, &shop, since, &opts)
}

/// Refuses a shop in another currency; warns of another zone, and of old orders the app
/// may not read.
fn check_shop(
    config: &Config,
    source: &SourceSettings,
    shop: &client::ShopInfo,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<Vec<String>> {
    if !shop.currency.eq_ignore_ascii_case(&config.shop.currency) {
        bail!(
            "source {}: the shop's currency is {}, but {} says {}: dawnpost keeps one currency \
             and does not convert",
            source.name,
            shop.currency,
            config.origin,
            config.shop.currency
        );
    }
    let mut warnings = Vec::new();
    if shop.tz != config.shop.timezone {
        warnings.push(format!(
            "the shop's time zone is {}, but [shop] timezone is {}: its days follow {}",
            shop.tz, config.shop.timezone, shop.tz
        ));
    }
    let now = DateTime::from_timestamp(opts.at, 0).unwrap_or(since);
    if (now - since).num_days() > RECENT_DAYS && !shop.scopes.iter().any(|s| s == "read_all_orders")
    {
        warnings.push(format!(
            "orders older than {RECENT_DAYS} days need the read_all_orders scope, which the \
             app lacks: Shopify gives only the last {RECENT_DAYS} days"
        ));
    }
    Ok(warnings)
}

/// Products and stock, then orders: from a finished bulk operation's result (None: it
/// found nothing), or by pages of those updated since `since`.
async fn read(
    client: &mut Client<'_>,
    intake: &mut Intake<'_, '_>,
    bulk: Option<Option<url::Url>>,
    since: &str,
    opts: &SyncOptions,
) -> Result<()> {
    let day = opts.day.to_string();
    let mut after: Option<String> = None;
    for _ in 0..super::intake::MAX_PAGES {
        let data = client
            .graphql(PRODUCTS_QUERY, json!({ "after": after }), "products")
            .await?;
        let (variants, next) = records::page::<Variant>(&data, "productVariants")?;
        for v in variants {
            if !intake
                .record(&v.label(), |_, out| v.rows(&day, out))
                .await?
            {
                return Ok(());
            }
        }
        match next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    match bulk {
        Some(Some(url)) => return bulk::read(client, url, intake).await,
        Some(None) => return Ok(()),
        None => {}
    }
    let query = format!("updated_at:>='{since}'");
    let mut after: Option<String> = None;
    for _ in 0..super::intake::MAX_PAGES {
        let vars = json!({ "first": PAGE_ORDERS, "after": after, "query": query });
        let data = client.graphql(ORDERS_QUERY, vars, "orders").await?;
        let (page, next) = records::page::<Order>(&data, "orders")?;
        for mut order in page {
            client.rest_of(&mut order).await?;
            if !bulk::take(intake, order).await? {
                return Ok(());
            }
        }
        match next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    Ok(())
}
