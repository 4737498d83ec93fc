//! Talking to one Shopify shop: its access token (fetched again on a 401 or after a day),
//! GraphQL requests under the cost-based limit, and the shop's own settings.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::records::{
    LINES_QUERY, Lines, MAX_LINES, Order, PAGE_REFUNDS, REFUNDS_QUERY, RETURNS_QUERY, Refund,
    RefundLines, Returns, UNITS_BATCH, UNITS_QUERY,
};
use crate::ingest::live::http::{Http, MAX_WAIT, Reply, excerpt, retry_after, secret_header};

/// Pages of one order's lines or returns after the first: past [`MAX_LINES`] at 20 a page.
const MAX_MORE_PAGES: usize = MAX_LINES / 20 + 1;
use crate::config::{Secret, ShopifyAuth, SourceSettings};

/// The Admin API version every request names; Shopify supports each for a year.
pub(crate) const API_VERSION: &str = "2026-01";

/// Attempts at one request: throttles, 5xx and a refreshed token each take one.
const ATTEMPTS: u32 = 12;
/// The least wait after a throttle: the bucket refills a little at a time.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// The shop as its settings say.
#[derive(Debug)]
pub(super) struct ShopInfo {
    pub tz: chrono_tz::Tz,
    pub currency: String,
    /// The access scopes the app holds.
    pub scopes: Vec<String>,
}

pub(super) struct Client<'a> {
    http: &'a Http,
    auth: &'a ShopifyAuth,
    base: Url,
    graphql: Url,
    token: Option<Secret>,
    /// The scopes the sign-in granted (the client-credentials answer names them).
    granted: Vec<String>,
    /// Requests made, for the summary.
    pub requests: u64,
    /// The bucket as the last response left it: (available, restore rate per second, the
    /// cost that request asked for).
    bucket: Option<(f64, f64, f64)>,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("graphql", &self.graphql.as_str())
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl<'a> Client<'a> {
    pub(super) fn new(http: &'a Http, source: &'a SourceSettings) -> Result<Client<'a>> {
        let crate::config::Platform::Shopify { auth, .. } = &source.platform else {
            bail!("source {} is not a Shopify source", source.name);
        };
        let base = source.endpoint.clone();
        let graphql = base
            .join(&format!("admin/api/{API_VERSION}/graphql.json"))
            .context("the endpoint cannot take the API's path")?;
        let token = match auth {
            ShopifyAuth::Token(t) => Some(t.clone()),
            ShopifyAuth::ClientCredentials { .. } => None,
        };
        Ok(Client {
            http,
            auth,
            base,
            graphql,
            token,
            granted: Vec::new(),
            requests: 0,
            bucket: None,
        })
    }

    fn source(&self) -> &str {
        &self.http.source
    }

    /// The HTTP client, for a request that carries no token (a bulk result's URL).
    pub(super) fn http(&self) -> &'a Http {
        self.http
    }

    /// What an order has past a page's first of them: the rest of its lines and returns,
    /// and all of its refunds when the page held as many as it asks for.
    pub(super) async fn rest_of(&mut self, order: &mut Order) -> Result<()> {
        self.rest_of_lines(order).await?;
        if order.refunds.len() >= PAGE_REFUNDS {
            let data = self
                .graphql(
                    REFUNDS_QUERY,
                    json!({ "id": order.id }),
                    "an order's refunds",
                )
                .await?;
            let refunds = data.pointer("/node/refunds").ok_or_else(|| {
                anyhow!("source {}: {} has no refunds", self.source(), order.label())
            })?;
            let refunds: Vec<Refund> = Vec::deserialize(refunds).with_context(|| {
                format!(
                    "source {}: {}'s refunds are not as expected",
                    self.source(),
                    order.label()
                )
            })?;
            if refunds.len() > MAX_LINES {
                bail!(
                    "source {}: {} has more than {MAX_LINES} refunds",
                    self.source(),
                    order.label()
                );
            }
            order.refunds = refunds;
        }
        self.rest_of_returns(order).await
    }

    /// The refunded lines of `refunds` (read after a bulk operation, which cannot ask for
    /// them), 50 refunds a request.
    pub(super) async fn refund_lines(&mut self, refunds: &mut [Refund]) -> Result<()> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            id: Option<String>,
            refund_line_items: Option<RefundLines>,
        }
        for chunk in refunds.chunks_mut(UNITS_BATCH) {
            let ids: Vec<&str> = chunk.iter().map(Refund::id).collect();
            let data = self
                .graphql(UNITS_QUERY, json!({ "ids": ids }), "refunded lines")
                .await?;
            let nodes = data.get("nodes").cloned().unwrap_or_default();
            let nodes: Vec<Option<Node>> = Vec::deserialize(&nodes).with_context(|| {
                format!(
                    "source {}: the refunded lines are not as expected",
                    self.source()
                )
            })?;
            for node in nodes.into_iter().flatten() {
                let (Some(id), Some(lines)) = (node.id, node.refund_line_items) else {
                    continue;
                };
                if let Some(r) = chunk.iter_mut().find(|r| r.id() == id) {
                    r.set_lines(lines);
                }
            }
        }
        Ok(())
    }

    /// The rest of an order's lines, when the page held only the first of them.
    async fn rest_of_lines(&mut self, order: &mut Order) -> Result<()> {
        let mut next = order.line_items.page_info.next();
        for _ in 0..MAX_MORE_PAGES {
            let Some(after) = next else { return Ok(()) };
            let vars = json!({ "id": order.id, "after": after });
            let data = self.graphql(LINES_QUERY, vars, "an order's lines").await?;
            let page = self.part::<Lines>(&data, "/node/lineItems", order)?;
            if order.line_items.nodes.len() + page.nodes.len() > MAX_LINES {
                bail!(
                    "source {}: {} has more than {MAX_LINES} lines",
                    self.source(),
                    order.label()
                );
            }
            order.line_items.nodes.extend(page.nodes);
            next = page.page_info.next();
        }
        bail!(
            "source {}: {}: its lines run past {MAX_MORE_PAGES} pages",
            self.source(),
            order.label()
        )
    }

    /// The rest of an order's returns, when the page held only the first of them.
    async fn rest_of_returns(&mut self, order: &mut Order) -> Result<()> {
        let mut next = order.returns.page_info.next();
        for _ in 0..MAX_MORE_PAGES {
            let Some(after) = next else { return Ok(()) };
            let vars = json!({ "id": order.id, "after": after });
            let data = self
                .graphql(RETURNS_QUERY, vars, "an order's returns")
                .await?;
            let page = self.part::<Returns>(&data, "/node/returns", order)?;
            if order.returns.nodes.len() + page.nodes.len() > MAX_LINES {
                bail!(
                    "source {}: {} has more than {MAX_LINES} returns",
                    self.source(),
                    order.label()
                );
            }
            order.returns.nodes.extend(page.nodes);
            next = page.page_info.next();
        }
        bail!(
            "source {}: {}: its returns run past {MAX_MORE_PAGES} pages",
            self.source(),
            order.label()
        )
    }

    /// One part of an answer about `order`, at `pointer`.
    fn part<T: serde::de::DeserializeOwned>(
        &self,
        data: &Value,
        pointer: &str,
        order: &Order,
    ) -> Result<T> {
        let v = data.pointer(pointer).ok_or_else(|| {
            anyhow!(
                "source {}: the answer about {} has no {pointer}",
                self.source(),
                order.label()
            )
        })?;
        T::deserialize(v).with_context(|| {
            format!(
                "source {}: {pointer} of {} is not as expected",
                self.source(),
                order.label()
            )
        })
    }

    /// A token from the client-credentials grant.
    async fn sign_in(&mut self) -> Result<Secret> {
        let ShopifyAuth::ClientCredentials {
            client_id,
            client_secret,
        } = self.auth
        else {
            bail!(
                "source {}: Shopify refused the Admin API access token (401 Unauthorized): \
                 check access_token_env; the token is not shown",
                self.source()
            );
        };
        let url = self
            .base
            .join("admin/oauth/access_token")
            .context("the endpoint cannot take the token's path")?;
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id.expose())
            .append_pair("client_secret", client_secret.expose())
            .finish();
        let req = self
            .http
            .request(Method::POST, url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body);
        self.requests += 1;
        let reply = self.http.send(req, "sign-in").await?;
        if !reply.status.is_success() {
            bail!(
                "source {}: Shopify refused the app's client id and secret ({}): {}; check \
                 client_id_env and client_secret_env (the secret is not shown)",
                self.source(),
                reply.status,
                oauth_error(&reply)
            );
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            scope: Option<String>,
        }
        let t: Token = reply.json("the sign-in")?;
        let scopes = t.scope.unwrap_or_default();
        self.granted = scopes
            .split(',')
            .map(|s| s.trim().to_string())
            .take(1_000)
            .collect();
        Ok(Secret::new(t.access_token))
    }

    /// One GraphQL request's `data`, after any throttles, a 5xx or a refreshed token.
    pub(super) async fn graphql(
        &mut self,
        query: &str,
        variables: Value,
        what: &str,
    ) -> Result<Value> {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))?;
        let mut refreshed = false;
        for attempt in 1..=ATTEMPTS {
            self.pace().await;
            let token = match &self.token {
                Some(t) => t.clone(),
                None => {
                    let t = self.sign_in().await?;
                    self.token = Some(t.clone());
                    t
                }
            };
            let req = self
                .http
                .request(Method::POST, self.graphql.clone())
                .header("Content-Type", "application/json")
                .header("X-Shopify-Access-Token", secret_header(token.expose())?)
                .body(body.clone());
            self.requests += 1;
            let reply = self.http.send(req, what).await?;
            match reply.status.as_u16() {
                401 if !refreshed && matches!(self.auth, ShopifyAuth::ClientCredentials { .. }) => {
                    // A token lives a day; one refused is fetched again, once.
                    refreshed = true;
                    self.token = None;
                    continue;
                }
                401 => bail!(
                    "source {}: {what}: Shopify refused the access token (401 Unauthorized): {}",
                    self.source(),
                    excerpt(&reply.body)
                ),
                403 => bail!(
                    "source {}: {what}: the app lacks an access scope (403 Forbidden): {}",
                    self.source(),
                    excerpt(&reply.body)
                ),
                429 | 500..=599 if attempt < ATTEMPTS => {
                    tokio::time::sleep(retry_after(&reply, attempt)).await;
                    continue;
                }
                200..=299 => {}
                _ => bail!(
                    "source {}: {what}: Shopify answered {}: {}",
                    self.source(),
                    reply.status,
                    excerpt(&reply.body)
                ),
            }
            let answer: Answer = reply.json(what)?;
            self.bucket = answer.bucket();
            if answer.throttled() {
                tokio::time::sleep(answer.wait()).await;
                continue;
            }
            if let Some(e) = answer.error() {
                bail!("source {}: {what}: Shopify says: {e}", self.source());
            }
            return answer.data.ok_or_else(|| {
                anyhow!("source {}: {what}: the answer has no data", self.source())
            });
        }
        bail!(
            "source {}: {what}: still throttled or failing after {ATTEMPTS} attempts",
            self.source()
        )
    }

    /// Lets a nearly empty bucket refill before the next request: as much as the last one
    /// asked for, since pages ask alike.
    async fn pace(&self) {
        if let Some((available, rate, cost)) = self.bucket
            && available < cost
            && rate > 0.0
        {
            let secs = ((cost - available) / rate).clamp(0.0, MAX_WAIT.as_secs_f64());
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
    }

    /// The shop's zone, currency and the app's scopes.
    pub(super) async fn shop(&mut self) -> Result<ShopInfo> {
        let data = self
            .graphql(SHOP_QUERY, json!({}), "the shop's settings")
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Shop {
            iana_timezone: String,
            currency_code: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Installation {
            access_scopes: Vec<Scope>,
        }
        #[derive(Deserialize)]
        struct Scope {
            handle: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            shop: Shop,
            current_app_installation: Option<Installation>,
        }
        let d: Data = serde_json::from_value(data).with_context(|| {
            format!(
                "source {}: the shop's settings are not as expected",
                self.source()
            )
        })?;
        let tz = d.shop.iana_timezone.parse().map_err(|_| {
            anyhow!(
                "source {}: the shop's time zone {:?} is not one dawnpost knows",
                self.source(),
                excerpt(d.shop.iana_timezone.as_bytes())
            )
        })?;
        Ok(ShopInfo {
            tz,
            currency: d.shop.currency_code.chars().take(8).collect(),
            // The installation's scopes; the sign-in's where the answer has none.
            scopes: match d.current_app_installation {
                Some(i) => i
                    .access_scopes
                    .into_iter()
                    .map(|s| s.handle)
                    .take(1_000)
                    .collect(),
                None => self.granted.clone(),
            },
        })
    }
}

/// What a query is taken to cost when the answer does not say.
const PAGE_COST: f64 = 1_000.0;

const SHOP_QUERY: &str = "query Shop { shop { ianaTimezone currencyCode } \
     currentAppInstallation { accessScopes { handle } } }";

/// A GraphQL answer: data, errors, and the cost extension.
#[derive(Deserialize)]
struct Answer {
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: Option<f64>,
    throttle_status: Option<Throttle>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Throttle {
    currently_available: f64,
    restore_rate: f64,
}

impl Answer {
    fn cost(&self) -> Option<&Cost> {
        self.extensions.as_ref()?.cost.as_ref()
    }

    fn bucket(&self) -> Option<(f64, f64, f64)> {
        let c = self.cost()?;
        let t = c.throttle_status.as_ref()?;
        let asked = c.requested_query_cost.unwrap_or(0.0);
        Some((t.currently_available, t.restore_rate, asked))
    }

    fn throttled(&self) -> bool {
        self.errors
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|errors| {
                errors.iter().any(|e| {
                    e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED")
                })
            })
    }

    /// How long until the bucket holds what the query asked for.
    fn wait(&self) -> Duration {
        let secs = self
            .cost()
            .and_then(|c| {
                let t = c.throttle_status.as_ref()?;
                let need = c.requested_query_cost.unwrap_or(PAGE_COST) - t.currently_available;
                (t.restore_rate > 0.0).then(|| need / t.restore_rate)
            })
            .unwrap_or(1.0);
        Duration::from_secs_f64(secs.clamp(MIN_WAIT.as_secs_f64(), MAX_WAIT.as_secs_f64()))
    }

    /// The errors' messages, when the answer has any (at most five, each bounded).
    fn error(&self) -> Option<String> {
        let errors = self.errors.as_ref()?;
        let messages: Vec<String> = match errors {
            Value::Array(list) if !list.is_empty() => list
                .iter()
                .take(5)
                .map(|e| match e.get("message").and_then(Value::as_str) {
                    Some(m) => excerpt(m.as_bytes()),
                    None => excerpt(e.to_string().as_bytes()),
                })
                .collect(),
            Value::Array(_) | Value::Null => return None,
            other => vec![excerpt(other.to_string().as_bytes())],
        };
        Some(messages.join("; "))
    }
}

/// An OAuth error body's words: `error` and `error_description`.
fn oauth_error(reply: &Reply) -> String {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(|s| excerpt(s.as_bytes()))
    };
    match (field("error"), field("error_description")) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e,
        _ => excerpt(&reply.body),
    }
}
