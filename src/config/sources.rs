//! `[[sources]]`: the live sources `sync` reads (a Shopify shop, a WooCommerce store), with
//! where to reach them and their secrets, each checked and typed once.

use std::ops::Range;
use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Secret;
use super::sections::Cx;

/// The most days a first sync may reach back: ten years of orders.
pub(super) const MAX_HISTORY_DAYS: u32 = 3_650;
/// The most days re-read on every sync.
pub(super) const MAX_LOOKBACK_DAYS: u32 = 60;
/// The longest source name: it names the source in logs, the summary and the email.
pub(super) const MAX_SOURCE_NAME: usize = 64;

/// One live source.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Unique among the sources: `dawnpost sync --source NAME`.
    pub name: String,
    pub platform: Platform,
    /// How far the first sync reaches back, in days before the sync day.
    pub history_days: u32,
    /// Days re-read on every sync before the cursor, for changes that came late.
    pub lookback_days: u32,
    /// The API's base URL: the platform's own, or a proxy's or a test server's.
    pub endpoint: Url,
    /// A CA (PEM) trusted besides the public roots, for a proxy or a test server.
    pub ca_pem: Option<Vec<u8>>,
    /// Where the source is written, for messages: "shop.toml:40: `sources[0]`".
    pub at: String,
}

/// The platform a source reads, and how it signs in.
#[derive(Debug, Clone)]
pub enum Platform {
    Shopify {
        /// `northwind.myshopify.com`.
        shop: String,
        auth: ShopifyAuth,
    },
    WooCommerce {
        consumer_key: Secret,
        consumer_secret: Secret,
    },
    /// A Google Analytics 4 property, read with a service account's key.
    Ga4 {
        /// The property's number: `123456789`.
        property: String,
        key: ServiceAccountKey,
    },
    /// A Google Ads account, read with an OAuth client and a user's refresh token.
    GoogleAds {
        /// The account's ten digits, without dashes.
        customer: String,
        /// The manager account the access goes through, if any.
        login_customer: Option<String>,
        client_id: Secret,
        client_secret: Secret,
        refresh_token: Secret,
        /// Optional since 2026-09 (Google ignores it); sent when given.
        developer_token: Option<Secret>,
        /// Where the refresh token is exchanged (Google's, unless a proxy's or a test's).
        token_url: Url,
    },
    /// A Meta (Facebook and Instagram) ad account, read with a system user's token.
    MetaAds {
        /// `act_` and the account's digits.
        account: String,
        token: Secret,
    },
}

/// A Google service account's JSON key, as the Cloud console downloads it: what signs the
/// token request. `Debug` shows only the account.
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    /// The PKCS#8 PEM of the RSA key.
    pub private_key: Secret,
    /// Where the signed request is exchanged for a token.
    pub token_uri: Url,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// What the platform's days date, as the email's footer names it ("Traffic days follow
    /// GA4's America/Los_Angeles").
    pub fn days_of(&self) -> &'static str {
        match self {
            Platform::Shopify { .. } | Platform::WooCommerce { .. } => "Order",
            Platform::Ga4 { .. } => "Traffic",
            Platform::GoogleAds { .. } | Platform::MetaAds { .. } => "Ad spend",
        }
    }

    /// The platform's name as messages give it.
    pub fn label(&self) -> &'static str {
        match self {
            Platform::Shopify { .. } => "Shopify",
            Platform::WooCommerce { .. } => "WooCommerce",
            Platform::Ga4 { .. } => "GA4",
            Platform::GoogleAds { .. } => "Google Ads",
            Platform::MetaAds { .. } => "Meta Ads",
        }
    }
}

/// How a Shopify source gets its access token.
#[derive(Debug, Clone)]
pub enum ShopifyAuth {
    /// An app the shop owns: a token from the client-credentials grant, good for a day.
    ClientCredentials {
        client_id: Secret,
        client_secret: Secret,
    },
    /// A legacy custom app's Admin API access token.
    Token(Secret),
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum RawSource {
    Shopify(RawShopify),
    #[serde(rename = "woocommerce")]
    WooCommerce(RawWoo),
    Ga4(RawGa4),
    #[serde(rename = "google-ads")]
    GoogleAds(RawGoogleAds),
    #[serde(rename = "meta-ads")]
    MetaAds(RawMetaAds),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetaAds {
    name: String,
    account: String,
    access_token_env: Option<String>,
    access_token_file: Option<PathBuf>,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogleAds {
    name: String,
    customer: String,
    login_customer: Option<String>,
    client_id_env: Option<String>,
    client_id_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    refresh_token_env: Option<String>,
    refresh_token_file: Option<PathBuf>,
    developer_token_env: Option<String>,
    developer_token_file: Option<PathBuf>,
    token_url: Option<String>,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGa4 {
    name: String,
    property: String,
    credentials_file: PathBuf,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShopify {
    name: String,
    shop: String,
    client_id_env: Option<String>,
    client_id_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    access_token_env: Option<String>,
    access_token_file: Option<PathBuf>,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWoo {
    name: String,
    url: String,
    consumer_key_env: Option<String>,
    consumer_key_file: Option<PathBuf>,
    consumer_secret_env: Option<String>,
    consumer_secret_file: Option<PathBuf>,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

/// The keys every source has, as written (serde's `flatten` cannot refuse unknown keys).
struct RawCommon {
    name: String,
    history_days: Option<u32>,
    lookback_days: Option<u32>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

/// The keys every source has, checked.
struct Common {
    name: String,
    history_days: u32,
    lookback_days: u32,
    endpoint: Url,
    ca_pem: Option<Vec<u8>>,
    at: String,
}

impl Common {
    fn with(self, platform: Platform) -> SourceSettings {
        SourceSettings {
            name: self.name,
            platform,
            history_days: self.history_days,
            lookback_days: self.lookback_days,
            endpoint: self.endpoint,
            ca_pem: self.ca_pem,
            at: self.at,
        }
    }
}

/// `[[sources]]`, each checked; names are unique.
pub(super) fn sources(cx: &Cx<'_>, raw: Vec<Spanned<RawSource>>) -> Result<Vec<SourceSettings>> {
    let mut out: Vec<SourceSettings> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let span = r.span();
        let key = format!("sources[{i}]");
        let s = match r.into_inner() {
            RawSource::Shopify(s) => shopify(cx, s, span.clone(), &key)?,
            RawSource::WooCommerce(w) => woocommerce(cx, w, span.clone(), &key)?,
            RawSource::Ga4(g) => ga4(cx, g, span.clone(), &key)?,
            RawSource::GoogleAds(g) => google_ads(cx, g, span.clone(), &key)?,
            RawSource::MetaAds(m) => meta_ads(cx, m, span.clone(), &key)?,
        };
        if out.iter().any(|o| o.name == s.name) {
            return Err(cx.at(
                span,
                &format!("{key}.name"),
                format!("a source named {:?} is already configured", s.name),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

fn shopify(cx: &Cx<'_>, s: RawShopify, span: Range<usize>, key: &str) -> Result<SourceSettings> {
    let at = |k: &str, msg: String| cx.at(span.clone(), &format!("{key}.{k}"), msg);
    let shop = s.shop.trim().to_ascii_lowercase();
    let host_like = !shop.is_empty()
        && shop.len() <= 255
        && shop
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !host_like {
        return Err(at(
            "shop",
            format!(
                "{:?} is not a shop's domain; write it as `northwind.myshopify.com`",
                super::sections::excerpt(&s.shop)
            ),
        ));
    }
    let secret = |field: &str, env: &Option<String>, file: &Option<PathBuf>| {
        cx.secret_named(
            field,
            env.as_deref().map(|v| (v, span.clone())),
            file.as_deref().map(|f| (f, span.clone())),
            key,
        )
    };
    let id = secret("client_id", &s.client_id_env, &s.client_id_file)?;
    let client_secret = secret("client_secret", &s.client_secret_env, &s.client_secret_file)?;
    let token = secret("access_token", &s.access_token_env, &s.access_token_file)?;
    let auth = match (id, client_secret, token) {
        (Some(client_id), Some(client_secret), None) => ShopifyAuth::ClientCredentials {
            client_id,
            client_secret,
        },
        (None, None, Some(t)) => ShopifyAuth::Token(t),
        _ => {
            return Err(at(
                "client_id_env",
                "give client_id_env and client_secret_env (or their _file twins) for an app \
                 the shop owns, or access_token_env (or access_token_file) for a legacy \
                 custom app, not both"
                    .into(),
            ));
        }
    };
    let raw = RawCommon {
        name: s.name,
        history_days: s.history_days,
        lookback_days: s.lookback_days,
        endpoint: s.endpoint,
        ca_file: s.ca_file,
    };
    let common = common(cx, raw, &format!("https://{shop}"), 3, span, key)?;
    Ok(common.with(Platform::Shopify { shop, auth }))
}

fn woocommerce(cx: &Cx<'_>, w: RawWoo, span: Range<usize>, key: &str) -> Result<SourceSettings> {
    let secret = |field: &str, env: &Option<String>, file: &Option<PathBuf>| {
        cx.secret_named(
            field,
            env.as_deref().map(|v| (v, span.clone())),
            file.as_deref().map(|f| (f, span.clone())),
            key,
        )?
        .ok_or_else(|| {
            cx.at(
                span.clone(),
                &format!("{key}.{field}_env"),
                format!("give {field}_env or {field}_file"),
            )
        })
    };
    let consumer_key = secret("consumer_key", &w.consumer_key_env, &w.consumer_key_file)?;
    let consumer_secret = secret(
        "consumer_secret",
        &w.consumer_secret_env,
        &w.consumer_secret_file,
    )?;
    let site = https_url(cx, &w.url, span.clone(), &format!("{key}.url"))?;
    let raw = RawCommon {
        name: w.name,
        history_days: w.history_days,
        lookback_days: w.lookback_days,
        endpoint: w.endpoint,
        ca_file: w.ca_file,
    };
    let common = common(cx, raw, site.as_str(), 3, span, key)?;
    Ok(common.with(Platform::WooCommerce {
        consumer_key,
        consumer_secret,
    }))
}

fn ga4(cx: &Cx<'_>, g: RawGa4, span: Range<usize>, key: &str) -> Result<SourceSettings> {
    let at = |k: &str, msg: String| cx.at(span.clone(), &format!("{key}.{k}"), msg);
    let property = g
        .property
        .trim()
        .trim_start_matches("properties/")
        .to_string();
    if property.is_empty() || property.len() > 20 || !property.chars().all(|c| c.is_ascii_digit()) {
        return Err(at(
            "property",
            "a GA4 property is its number, such as \"123456789\" (Admin > Property details)".into(),
        ));
    }
    let path = cx.base_dir.join(&g.credentials_file);
    let sa = service_account(&path)
        .map_err(|e| at("credentials_file", format!("{}: {e}", path.display())))?;
    let raw = RawCommon {
        name: g.name,
        history_days: g.history_days,
        lookback_days: g.lookback_days,
        endpoint: g.endpoint,
        ca_file: g.ca_file,
    };
    // GA4 keeps changing the last 48 hours: two days are read again every time.
    let common = common(
        cx,
        raw,
        "https://analyticsdata.googleapis.com",
        2,
        span,
        key,
    )?;
    Ok(common.with(Platform::Ga4 { property, key: sa }))
}

const ADS_ACCOUNT: &str = "a Google Ads account is ten digits, such as \"123-456-7890\"";

/// A Google Ads account's ten digits, dashes or not.
fn ads_account(v: &str) -> Option<String> {
    let digits: String = v.trim().chars().filter(|c| *c != '-').collect();
    (digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

fn google_ads(
    cx: &Cx<'_>,
    g: RawGoogleAds,
    span: Range<usize>,
    key: &str,
) -> Result<SourceSettings> {
    let at = |k: &str, msg: String| cx.at(span.clone(), &format!("{key}.{k}"), msg);
    let account = |k: &str, v: &str| ads_account(v).ok_or_else(|| at(k, ADS_ACCOUNT.into()));
    let customer = account("customer", &g.customer)?;
    let login_customer = g
        .login_customer
        .as_deref()
        .map(|l| account("login_customer", l))
        .transpose()?;
    let secret = |field: &str, env: &Option<String>, file: &Option<PathBuf>| {
        cx.secret_named(
            field,
            env.as_deref().map(|v| (v, span.clone())),
            file.as_deref().map(|f| (f, span.clone())),
            key,
        )
    };
    let required = |field: &str, v: Option<Secret>| {
        v.ok_or_else(|| {
            at(
                &format!("{field}_env"),
                format!("give {field}_env or {field}_file"),
            )
        })
    };
    let client_id = required(
        "client_id",
        secret("client_id", &g.client_id_env, &g.client_id_file)?,
    )?;
    let client_secret = required(
        "client_secret",
        secret("client_secret", &g.client_secret_env, &g.client_secret_file)?,
    )?;
    let refresh_token = required(
        "refresh_token",
        secret("refresh_token", &g.refresh_token_env, &g.refresh_token_file)?,
    )?;
    let developer_token = secret(
        "developer_token",
        &g.developer_token_env,
        &g.developer_token_file,
    )?;
    let token_url = https_url(
        cx,
        g.token_url
            .as_deref()
            .unwrap_or("https://oauth2.googleapis.com/token"),
        span.clone(),
        &format!("{key}.token_url"),
    )?;
    let raw = RawCommon {
        name: g.name,
        history_days: g.history_days,
        lookback_days: g.lookback_days,
        endpoint: g.endpoint,
        ca_file: g.ca_file,
    };
    let common = common(cx, raw, "https://googleads.googleapis.com", 3, span, key)?;
    Ok(common.with(Platform::GoogleAds {
        customer,
        login_customer,
        client_id,
        client_secret,
        refresh_token,
        developer_token,
        token_url,
    }))
}

fn meta_ads(cx: &Cx<'_>, m: RawMetaAds, span: Range<usize>, key: &str) -> Result<SourceSettings> {
    let at = |k: &str, msg: String| cx.at(span.clone(), &format!("{key}.{k}"), msg);
    let digits = m.account.trim().trim_start_matches("act_");
    if digits.is_empty() || digits.len() > 20 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(at(
            "account",
            "a Meta ad account is `act_` and its digits, such as \"act_123456\"".into(),
        ));
    }
    let token = cx
        .secret_named(
            "access_token",
            m.access_token_env.as_deref().map(|v| (v, span.clone())),
            m.access_token_file.as_deref().map(|f| (f, span.clone())),
            key,
        )?
        .ok_or_else(|| {
            at(
                "access_token_env",
                "give access_token_env or access_token_file".into(),
            )
        })?;
    let raw = RawCommon {
        name: m.name,
        history_days: m.history_days,
        lookback_days: m.lookback_days,
        endpoint: m.endpoint,
        ca_file: m.ca_file,
    };
    // Meta revises attribution for 28 days.
    let common = common(cx, raw, "https://graph.facebook.com", 28, span, key)?;
    Ok(common.with(Platform::MetaAds {
        account: format!("act_{digits}"),
        token,
    }))
}

/// A service account's JSON key file: its account, key and token URI. The key's text never
/// reaches a message.
fn service_account(path: &std::path::Path) -> Result<ServiceAccountKey> {
    #[derive(Deserialize)]
    struct File {
        #[serde(rename = "type")]
        kind: Option<String>,
        client_email: String,
        private_key_id: Option<String>,
        private_key: String,
        token_uri: Option<String>,
    }
    let text = super::sections::read_secret_file(path)
        .map_err(|e| anyhow::anyhow!("cannot read it: {e}"))?;
    let f: File = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "not a service account's JSON key (client_email, private_key, token_uri): {}",
            // serde's message names the field and place, never the text around it.
            e.to_string().split(" at line").next().unwrap_or("")
        )
    })?;
    if f.kind.as_deref().is_some_and(|k| k != "service_account") {
        anyhow::bail!(
            "a key of type {:?}; give a service account's key",
            super::sections::excerpt(f.kind.as_deref().unwrap_or(""))
        );
    }
    if !f.private_key.contains("-----BEGIN PRIVATE KEY-----") {
        anyhow::bail!("its private_key is not a PKCS#8 PEM key");
    }
    let token_uri = f
        .token_uri
        .as_deref()
        .unwrap_or("https://oauth2.googleapis.com/token");
    let token_uri = Url::parse(token_uri)
        .ok()
        .filter(|u| u.scheme() == "https")
        .ok_or_else(|| anyhow::anyhow!("its token_uri is not an https:// URL"))?;
    Ok(ServiceAccountKey {
        client_email: f.client_email.chars().take(254).collect(),
        private_key_id: f.private_key_id.map(|k| k.chars().take(100).collect()),
        private_key: Secret::new(f.private_key),
        token_uri,
    })
}

/// The keys every source has; `default` is the endpoint when none is given.
fn common(
    cx: &Cx<'_>,
    c: RawCommon,
    default: &str,
    lookback: u32,
    span: Range<usize>,
    key: &str,
) -> Result<Common> {
    let name = c.name;
    let at = |k: &str, msg: String| cx.at(span.clone(), &format!("{key}.{k}"), msg);
    cx.name(&name, span.clone(), &format!("{key}.name"), MAX_SOURCE_NAME)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(at(
            "name",
            format!("{name:?}: a source's name is one word, such as \"shop\""),
        ));
    }
    let history_days = c.history_days.unwrap_or(730);
    if !(1..=MAX_HISTORY_DAYS).contains(&history_days) {
        return Err(at(
            "history_days",
            format!("{history_days} is outside 1..={MAX_HISTORY_DAYS}"),
        ));
    }
    let lookback_days = c.lookback_days.unwrap_or(lookback);
    if lookback_days > MAX_LOOKBACK_DAYS {
        return Err(at(
            "lookback_days",
            format!("{lookback_days} is outside 0..={MAX_LOOKBACK_DAYS}"),
        ));
    }
    let endpoint = https_url(
        cx,
        c.endpoint.as_deref().unwrap_or(default),
        span.clone(),
        &format!("{key}.endpoint"),
    )?;
    let ca_pem = match &c.ca_file {
        Some(f) => Some(super::sending::ca_file(cx, f, &at)?),
        None => None,
    };
    Ok(Common {
        name,
        history_days,
        lookback_days,
        endpoint,
        ca_pem,
        at: cx.place(span, key),
    })
}

/// An `https://` URL with a host and no user or password in it (secrets have keys of their
/// own, and a URL is shown in messages).
pub(super) fn https_url(cx: &Cx<'_>, text: &str, span: Range<usize>, key: &str) -> Result<Url> {
    // The text is not repeated in the messages: it may hold a password by mistake.
    let url =
        Url::parse(text.trim()).map_err(|e| cx.at(span.clone(), key, format!("not a URL: {e}")))?;
    if url.scheme() != "https" || url.host().is_none() {
        return Err(cx.at(
            span,
            key,
            "give an https:// URL with a host: credentials travel to it",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(cx.at(
            span,
            key,
            "a URL here carries no user, password or query: secrets have keys of their own",
        ));
    }
    Ok(url)
}
