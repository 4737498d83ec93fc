//! WooCommerce's REST API v3, with the consumer key and secret as HTTP Basic over HTTPS:
//! the site's zone, the store's version and currency, products with stock, and orders
//! modified since the cursor with their lines and each refund on its own day.
//!
//! Money comes as decimal strings, dates in the site's zone with `_gmt` twins: the twins
//! are read, as UTC. `modified_after` came in WooCommerce 5.8; an older store ignores it
//! and answers with every order, so the version is checked first, and an order modified
//! before the filter's time stops the sync.

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http::{Http, Reply, excerpt};
use super::intake::{
    Intake, Session, SyncOptions, Synced, amount, begin, finish, import_options, short, sku_or_name,
};
use crate::config::{Config, Platform, Secret, SourceSettings};
use crate::ingest::load::Target;
use crate::ingest::preset::LINE_PRODUCTS;
use crate::ingest::values::{customer_hash, customer_id, local_day, optional, text};
use crate::schema;
use crate::store::Store;
use crate::store::write::SqlValue;

/// The first version whose orders endpoint takes `modified_after`.
const MODIFIED_AFTER_SINCE: (u32, u32) = (5, 8);
/// Items per page: the API's most.
const PER_PAGE: u32 = 100;
/// The most lines or refunds one order may have.
const MAX_ITEMS: usize = 10_000;

static TARGETS: [Target; 7] = [
    Target::upsert(&PRODUCT_FIELDS),
    Target::keep(&LINE_PRODUCTS),
    Target::upsert(&schema::ORDERS),
    Target::follows(&schema::ORDER_LINES),
    Target::follows(&schema::FULFILMENT),
    Target::upsert(&schema::REFUNDS),
    Target::upsert(&schema::INVENTORY),
];
const PRODUCTS: usize = 0;
const LINE_PRODUCT: usize = 1;
const ORDERS: usize = 2;
const LINES: usize = 3;
const FULFILMENT: usize = 4;
const REFUNDS: usize = 5;
const INVENTORY: usize = 6;

/// What a product says; WooCommerce keeps no unit cost, so that is left as it was.
const PRODUCT_FIELDS: schema::TableSpec = schema::TableSpec {
    name: "products",
    columns: &[
        schema::col("sku", schema::ColType::Text),
        schema::col("name", schema::ColType::Text),
        schema::opt("category", schema::ColType::Text),
        schema::col("unit_price", schema::ColType::Float { min: 0.0 }),
    ],
    key: &["sku"],
    refs: &[],
};

/// One store's API.
struct Api<'a> {
    http: &'a Http,
    base: url::Url,
    key: &'a Secret,
    secret: &'a Secret,
    requests: u64,
}

impl Api<'_> {
    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<url::Url> {
        let mut url = self
            .base
            .join(path)
            .with_context(|| format!("the URL cannot take the path {path}"))?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// A GET with the key and secret, after any 429 or 5xx; an answer other than 2xx says
    /// what WooCommerce said.
    async fn get(&mut self, url: url::Url, what: &str, auth: bool) -> Result<Reply> {
        self.requests += 1;
        let build = || {
            let req = self.http.request(Method::GET, url.clone());
            if auth {
                req.basic_auth(self.key.expose(), Some(self.secret.expose()))
            } else {
                req
            }
        };
        let reply = self.http.send_retrying(build, what).await?;
        if reply.status.is_success() {
            return Ok(reply);
        }
        let said = wc_error(&reply);
        let hint = match reply.status.as_u16() {
            401 => ": check consumer_key_env and consumer_secret_env (the secret is not shown)",
            403 => ": the key's user needs read access to WooCommerce (a shop manager)",
            404 => ": is the URL the site's, with pretty permalinks on?",
            _ => "",
        };
        bail!(
            "source {}: {what}: WooCommerce answered {}: {said}{hint}",
            self.http.source,
            reply.status
        )
    }

    async fn json<T: DeserializeOwned>(
        &mut self,
        url: url::Url,
        what: &str,
        auth: bool,
    ) -> Result<T> {
        let reply = self.get(url, what, auth).await?;
        reply
            .json(what)
            .map_err(|e| anyhow!("source {}: {e:#}", self.http.source))
    }
}

/// WooCommerce's error body: `code` and `message`.
fn wc_error(reply: &Reply) -> String {
    #[derive(Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<E>(&reply.body) {
        Ok(E {
            code: Some(c),
            message: Some(m),
        }) => format!("{} ({})", excerpt(m.as_bytes()), excerpt(c.as_bytes())),
        _ => excerpt(&reply.body),
    }
}

pub(super) async fn sync(
    store: &Store,
    config: &Config,
    source: &SourceSettings,
    http: &Http,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<Synced> {
    let (key, secret) = keys(source)?;
    let mut api = Api {
        http,
        base: with_slash(&source.endpoint),
        key,
        secret,
        requests: 0,
    };
    let (tz, warnings) = check_store(&mut api, config, source).await?;
    let io = import_options(config, tz, opts);
    let file = format!("source {} (WooCommerce)", source.name);
    let mut load = begin(store, &io, &file, "woocommerce-api", &TARGETS).await?;
    let mut intake = Intake::new(&mut load, io, opts.progress, &file);
    let read = read(&mut api, &mut intake, since, opts).await;
    let (records, orders, cursor) = intake.done();
    let import = finish(
        load,
        read.map(|()| records),
        &source.name,
        cursor.clone(),
        opts.at,
        Some(tz.name().to_string()),
    )
    .await?;
    let session = Session {
        warnings,
        requests: api.requests,
    };
    Ok((session, orders, cursor, import))
}

/// Signs in and checks the store, as `check` does.
pub(super) async fn probe(
    config: &Config,
    source: &SourceSettings,
    http: &Http,
) -> Result<Vec<String>> {
    let (key, secret) = keys(source)?;
    let mut api = Api {
        http,
        base: with_slash(&source.endpoint),
        key,
        secret,
        requests: 0,
    };
    Ok(check_store(&mut api, config, source).await?.1)
}

fn keys(source: &SourceSettings) -> Result<(&Secret, &Secret)> {
    match &source.platform {
        Platform::WooCommerce {
            consumer_key,
            consumer_secret,
        } => Ok((consumer_key, consumer_secret)),
        _ => bail!("source {} is not a WooCommerce source", source.name),
    }
}

/// The site's URL as a base that keeps its path (`https://host/shop/`).
fn with_slash(url: &url::Url) -> url::Url {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        u.set_path(&format!("{}/", u.path()));
    }
    u
}

/// The site's zone, and the store's version and currency: an old store is told what to
/// upgrade, another currency is refused.
async fn check_store(
    api: &mut Api<'_>,
    config: &Config,
    source: &SourceSettings,
) -> Result<(Tz, Vec<String>)> {
    #[derive(Deserialize)]
    struct Index {
        timezone_string: Option<String>,
    }
    let index: Index = api
        .json(api.url("wp-json/", &[])?, "the site's index", false)
        .await?;
    let mut warnings = Vec::new();
    let tz = match index.timezone_string.as_deref().map(str::parse::<Tz>) {
        Some(Ok(tz)) => tz,
        _ => {
            warnings.push(format!(
                "the site names no time zone (a manual UTC offset?): its days follow [shop] \
                 timezone, {}",
                config.shop.timezone
            ));
            config.shop.timezone
        }
    };
    if tz != config.shop.timezone {
        warnings.push(format!(
            "the site's time zone is {tz}, but [shop] timezone is {}: its days follow {tz}",
            config.shop.timezone
        ));
    }
    #[derive(Deserialize)]
    struct Environment {
        version: String,
    }
    #[derive(Deserialize)]
    struct Settings {
        currency: String,
    }
    #[derive(Deserialize)]
    struct Status {
        environment: Environment,
        settings: Settings,
    }
    let query = [("_fields", "environment,settings".to_string())];
    let url = api.url("wp-json/wc/v3/system_status", &query)?;
    let status: Status = api.json(url, "the store's status", true).await?;
    if !at_least(&status.environment.version, MODIFIED_AFTER_SINCE) {
        bail!(
            "source {}: WooCommerce {} cannot say which orders changed (modified_after came in \
             5.8): upgrade WooCommerce to 5.8 or later",
            source.name,
            excerpt(status.environment.version.as_bytes())
        );
    }
    if !status
        .settings
        .currency
        .eq_ignore_ascii_case(&config.shop.currency)
    {
        bail!(
            "source {}: the store's currency is {}, but {} says {}: dawnpost keeps one currency \
             and does not convert",
            source.name,
            excerpt(status.settings.currency.as_bytes()),
            config.origin,
            config.shop.currency
        );
    }
    Ok((tz, warnings))
}

/// Whether a version such as "8.9.1" is at least `(major, minor)`.
fn at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version
        .trim()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// Products and stock, then the orders modified since `since`, with their refunds.
async fn read(
    api: &mut Api<'_>,
    intake: &mut Intake<'_, '_>,
    since: DateTime<Utc>,
    opts: &SyncOptions,
) -> Result<()> {
    let day = opts.day.to_string();
    let products: Vec<Product> = all_pages(api, "wp-json/wc/v3/products", &[], "products").await?;
    for p in &products {
        let label = format!("product {}", short(&p.name));
        if !intake.record(&label, |_, out| p.rows(&day, out)).await? {
            return Ok(());
        }
    }
    let after = since.format("%Y-%m-%dT%H:%M:%S").to_string();
    let query = [
        ("modified_after", after),
        ("dates_are_gmt", "true".to_string()),
        ("orderby", "date".to_string()),
        ("order", "asc".to_string()),
    ];
    let mut page = 1u64;
    loop {
        let (orders, pages) =
            one_page::<Order>(api, "wp-json/wc/v3/orders", &query, page, "orders").await?;
        for order in orders {
            let modified = gmt(&order.date_modified_gmt, "date_modified_gmt")?;
            if modified < since.naive_utc() {
                bail!(
                    "source {}: order {} was last modified before {since}, yet the store listed \
                     it: it ignores modified_after (WooCommerce older than 5.8, or a plugin)",
                    api.http.source,
                    short(&order.number)
                );
            }
            let refunds = order.refunds(api).await?;
            intake.order_seen(&format!("{}Z", modified.format("%Y-%m-%dT%H:%M:%S")));
            let label = format!("order {}", short(&order.number));
            if !intake
                .record(&label, |io, out| order.rows(&refunds, io.tz, io, out))
                .await?
            {
                return Ok(());
            }
        }
        if page >= pages.min(super::intake::MAX_PAGES) {
            return Ok(());
        }
        page += 1;
    }
}

/// One page of a list, and the number of pages the list has (`X-WP-TotalPages`).
async fn one_page<T: DeserializeOwned>(
    api: &mut Api<'_>,
    path: &str,
    query: &[(&str, String)],
    page: u64,
    what: &str,
) -> Result<(Vec<T>, u64)> {
    let mut q = query.to_vec();
    q.push(("per_page", PER_PAGE.to_string()));
    q.push(("page", page.to_string()));
    let url = api.url(path, &q)?;
    let what = format!("{what} page {page}");
    let reply = api.get(url, &what, true).await?;
    let pages = reply
        .header("X-WP-TotalPages")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    let items: Vec<T> = reply
        .json(&what)
        .map_err(|e| anyhow!("source {}: {e:#}", api.http.source))?;
    Ok((items, pages))
}

/// Every page of a list, up to [`super::intake::MAX_PAGES`].
async fn all_pages<T: DeserializeOwned>(
    api: &mut Api<'_>,
    path: &str,
    query: &[(&str, String)],
    what: &str,
) -> Result<Vec<T>> {
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let (items, pages) = one_page(api, path, query, page, what).await?;
        let empty = items.is_empty();
        all.extend(items);
        if empty || page >= pages.min(super::intake::MAX_PAGES) {
            return Ok(all);
        }
        page += 1;
    }
}

/// A `_gmt` time (no offset: UTC).
fn gmt(raw: &Option<String>, what: &str) -> Result<NaiveDateTime> {
    let raw = raw.as_deref().ok_or_else(|| anyhow!("{what} is missing"))?;
    NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S")
        .map_err(|e| anyhow!("{what}: {:?} is not a time: {e}", excerpt(raw.as_bytes())))
}

#[derive(Debug, Deserialize)]
struct Category {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Product {
    name: String,
    sku: Option<String>,
    price: Option<String>,
    #[serde(default)]
    manage_stock: bool,
    stock_quantity: Option<i64>,
    #[serde(default)]
    categories: Vec<Category>,
}

impl Product {
    /// The product (one without a SKU is none dawnpost can name) and its stock on `day`.
    fn rows(&self, day: &str, out: &mut crate::ingest::load::Rows) -> Result<()> {
        let Some(sku) = self.sku.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(());
        };
        let sku = sku_or_name(Some(sku), Some(&self.name))?;
        let price = match self.price.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => amount(p, "price")?.max(0.0),
            None => 0.0,
        };
        let category = self.categories.first().map_or("", |c| c.name.as_str());
        out.push((
            PRODUCTS,
            vec![
                text(&sku),
                text(&short(&self.name)),
                optional(&short(category)),
                SqlValue::Float(price),
            ],
        ));
        if self.manage_stock
            && let Some(q) = self.stock_quantity
        {
            out.push((
                INVENTORY,
                vec![
                    text(day),
                    text(&sku),
                    SqlValue::Int(q.max(0)),
                    SqlValue::Int(0),
                ],
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct Address {
    country: Option<String>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Line {
    name: String,
    sku: Option<String>,
    quantity: i64,
    subtotal: String,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: i64,
    number: String,
    status: String,
    date_created_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    date_completed_gmt: Option<String>,
    discount_total: Option<String>,
    #[serde(default)]
    customer_id: i64,
    shipping: Option<Address>,
    billing: Option<Address>,
    #[serde(default)]
    line_items: Vec<Line>,
    #[serde(default)]
    refunds: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: i64,
    date_created_gmt: Option<String>,
    amount: String,
    #[serde(default)]
    line_items: Vec<RefundLine>,
}

#[derive(Debug, Deserialize)]
struct RefundLine {
    quantity: i64,
}

/// An epoch second of a UTC time.
fn epoch(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

impl Order {
    /// The order's refunds, with their own dates (read only when the order has any).
    async fn refunds(&self, api: &mut Api<'_>) -> Result<Vec<Refund>> {
        if self.refunds.is_empty() {
            return Ok(Vec::new());
        }
        let path = format!("wp-json/wc/v3/orders/{}/refunds", self.id);
        let what = format!("order {}'s refunds", short(&self.number));
        let refunds: Vec<Refund> = all_pages(api, &path, &[], &what).await?;
        if refunds.len() > MAX_ITEMS {
            bail!("source {}: {what}: more than {MAX_ITEMS}", api.http.source);
        }
        Ok(refunds)
    }

    /// The order, its lines, its completion as its shipment, and each refund on its day.
    fn rows(
        &self,
        refunds: &[Refund],
        tz: Tz,
        io: &crate::ingest::ImportOptions,
        out: &mut crate::ingest::load::Rows,
    ) -> Result<()> {
        let id = short(&self.number);
        let placed = epoch(gmt(&self.date_created_gmt, "date_created_gmt")?);
        let status = status(&self.status)?;
        let discount = match self.discount_total.as_deref() {
            Some(d) => amount(d, "discount_total")?.max(0.0),
            None => 0.0,
        };
        // A guest checkout (customer 0) has no customer.
        let customer = (self.customer_id > 0)
            .then(|| customer_hash(&format!("woocommerce-customer-{}", self.customer_id)))
            .flatten()
            .map_or(SqlValue::Null, |h| SqlValue::Text(customer_id(h)));
        let place = |f: fn(&Address) -> &Option<String>| {
            let v = [&self.shipping, &self.billing]
                .into_iter()
                .flatten()
                .find_map(|a| f(a).as_deref().filter(|s| !s.is_empty()));
            optional(&short(v.unwrap_or("")))
        };
        out.push((
            ORDERS,
            vec![
                text(&id),
                SqlValue::Int(placed),
                text(&local_day(placed, tz).to_string()),
                text(&io.channel("web")),
                customer,
                SqlValue::Null,
                SqlValue::Float(discount),
                text(status),
                place(|a| &a.country),
                place(|a| &a.state),
            ],
        ));
        self.line_rows(&id, out)?;
        if status == "shipped"
            && let Some(done) = &self.date_completed_gmt
        {
            let at = epoch(gmt(&Some(done.clone()), "date_completed_gmt")?);
            out.push((
                FULFILMENT,
                vec![
                    text(&id),
                    SqlValue::Null,
                    SqlValue::Int(at),
                    text(&local_day(at, tz).to_string()),
                    SqlValue::Null,
                    SqlValue::Null,
                    SqlValue::Null,
                ],
            ));
        }
        refund_rows(&id, refunds, tz, out)
    }

    /// Its lines, each priced at its subtotal (before discounts) over its quantity.
    fn line_rows(&self, id: &str, out: &mut crate::ingest::load::Rows) -> Result<()> {
        if self.line_items.len() > MAX_ITEMS {
            bail!("more than {MAX_ITEMS} lines");
        }
        for (i, line) in self.line_items.iter().enumerate() {
            let sku = sku_or_name(line.sku.as_deref(), Some(&line.name))
                .with_context(|| format!("line {}", i + 1))?;
            let subtotal = amount(&line.subtotal, "subtotal")?;
            let price = if line.quantity != 0 {
                (subtotal / line.quantity as f64).max(0.0)
            } else {
                0.0
            };
            out.push((
                LINE_PRODUCT,
                vec![text(&sku), text(&short(&line.name)), SqlValue::Float(price)],
            ));
            out.push((
                LINES,
                vec![
                    text(id),
                    SqlValue::Int(i as i64 + 1),
                    text(&sku),
                    SqlValue::Int(line.quantity),
                    SqlValue::Float(price),
                ],
            ));
        }
        Ok(())
    }
}

/// Each refund on the day it was given, with its units where it names its lines.
fn refund_rows(
    order: &str,
    refunds: &[Refund],
    tz: Tz,
    out: &mut crate::ingest::load::Rows,
) -> Result<()> {
    for r in refunds {
        let at = epoch(gmt(&r.date_created_gmt, "refund date_created_gmt")?);
        let units: i64 = r
            .line_items
            .iter()
            .map(|l| l.quantity.unsigned_abs().min(i64::MAX as u64) as i64)
            .fold(0, i64::saturating_add);
        out.push((
            REFUNDS,
            vec![
                text(order),
                text(&r.id.to_string()),
                text(&local_day(at, tz).to_string()),
                SqlValue::Float(amount(&r.amount, "refund amount")?.abs()),
                if r.line_items.is_empty() {
                    SqlValue::Null
                } else {
                    SqlValue::Int(units)
                },
            ],
        ));
    }
    Ok(())
}

/// WooCommerce's order statuses as dawnpost's.
fn status(raw: &str) -> Result<&'static str> {
    Ok(match raw.to_ascii_lowercase().trim_start_matches("wc-") {
        "completed" => "shipped",
        "processing" | "on-hold" | "pending" | "checkout-draft" | "" => "placed",
        "cancelled" | "failed" | "trash" => "cancelled",
        "refunded" => "returned",
        other => bail!(
            "{:?} is not a WooCommerce order status",
            excerpt(other.as_bytes())
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(at_least("8.9.1", (5, 8)));
        assert!(at_least("5.8", (5, 8)));
        assert!(at_least("10.0.0", (5, 8)));
        assert!(!at_least("5.7.2", (5, 8)));
        assert!(!at_least("4.12", (5, 8)));
        assert!(!at_least("", (5, 8)));
    }

    #[test]
    fn statuses_map_and_an_unknown_one_is_refused() {
        assert_eq!(status("completed").unwrap(), "shipped");
        assert_eq!(status("wc-on-hold").unwrap(), "placed");
        assert_eq!(status("refunded").unwrap(), "returned");
        assert!(status("teleported").is_err());
    }
}
