//! Google's sign-in for a service account: a JWT signed with the account's RSA key (RS256)
//! and exchanged at the key's token URI for an access token, kept until shortly before it
//! expires and fetched again after a 401.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, excerpt};
use crate::config::{Secret, ServiceAccountKey};

/// How long a signed request is good for (Google's most: an hour).
const ASSERTION_SECS: i64 = 3_600;
/// A token this close to its end is fetched again.
const EARLY: Duration = Duration::from_secs(60);

/// A service account's access token for one scope.
pub(super) struct GoogleToken<'a> {
    http: &'a Http,
    key: &'a ServiceAccountKey,
    scope: &'static str,
    /// When the sync runs (epoch seconds): the assertion's issue time.
    at: i64,
    token: Option<(Secret, Instant)>,
    pub requests: u64,
}

impl<'a> GoogleToken<'a> {
    pub(super) fn new(
        http: &'a Http,
        key: &'a ServiceAccountKey,
        scope: &'static str,
        at: i64,
    ) -> Self {
        GoogleToken {
            http,
            key,
            scope,
            at,
            token: None,
            requests: 0,
        }
    }

    /// A token good for now, fetched if there is none or it is about to end.
    pub(super) async fn bearer(&mut self) -> Result<Secret> {
        if let Some((t, until)) = &self.token
            && Instant::now() + EARLY < *until
        {
            return Ok(t.clone());
        }
        let (t, secs) = self.exchange().await?;
        self.token = Some((t.clone(), Instant::now() + Duration::from_secs(secs)));
        Ok(t)
    }

    /// Forgets the token (the API refused it): the next call fetches another.
    pub(super) fn forget(&mut self) {
        self.token = None;
    }

    async fn exchange(&mut self) -> Result<(Secret, u64)> {
        let source = &self.http.source;
        let assertion = assertion(self.key, self.scope, self.at).with_context(|| {
            format!("source {source}: cannot sign the token request with the key")
        })?;
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let req = self
            .http
            .request(Method::POST, self.key.token_uri.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.requests += 1;
        let reply = self.http.send(req, "sign-in").await?;
        if !reply.status.is_success() {
            let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let field = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .map(|s| excerpt(s.as_bytes()))
            };
            let said = match (field("error"), field("error_description")) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e,
                _ => excerpt(&reply.body),
            };
            bail!(
                "source {source}: Google refused the service account {}'s key ({}, {said}): is \
                 the key revoked or the account disabled? (the key is not shown)",
                self.key.client_email,
                reply.status
            );
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            expires_in: Option<u64>,
        }
        let t: Token = reply
            .json("the sign-in")
            .map_err(|e| anyhow!("source {source}: {e:#}"))?;
        Ok((
            Secret::new(t.access_token),
            t.expires_in.unwrap_or(3_600).min(86_400),
        ))
    }
}

/// The signed request: `header.claims.signature`, each base64url without padding.
pub(super) fn assertion(key: &ServiceAccountKey, scope: &str, at: i64) -> Result<String> {
    let mut header = json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = &key.private_key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": key.client_email,
        "scope": scope,
        "aud": key.token_uri.as_str(),
        "iat": at,
        "exp": at + ASSERTION_SECS,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = PrivatePkcs8KeyDer::from_pem_slice(key.private_key.expose().as_bytes())
        .map_err(|_| anyhow!("the private_key is not a PKCS#8 PEM key"))?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| anyhow!("the private_key is not an RSA key ring can use: {e}"))?;
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .map_err(|_| anyhow!("signing failed"))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// An access token from a user's OAuth refresh token (Google Ads): fetched once a sync, and
/// again after a 401.
pub(super) struct RefreshedToken<'a> {
    http: &'a Http,
    url: &'a url::Url,
    client_id: &'a Secret,
    client_secret: &'a Secret,
    refresh_token: &'a Secret,
    token: Option<Secret>,
    pub requests: u64,
}

impl<'a> RefreshedToken<'a> {
    pub(super) fn new(
        http: &'a Http,
        url: &'a url::Url,
        client: (&'a Secret, &'a Secret),
        refresh_token: &'a Secret,
    ) -> Self {
        RefreshedToken {
            http,
            url,
            client_id: client.0,
            client_secret: client.1,
            refresh_token,
            token: None,
            requests: 0,
        }
    }

    pub(super) async fn bearer(&mut self) -> Result<Secret> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("client_id", self.client_id.expose())
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("refresh_token", self.refresh_token.expose())
            .finish();
        let req = self
            .http
            .request(Method::POST, self.url.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.requests += 1;
        let reply = self.http.send(req, "sign-in").await?;
        let source = &self.http.source;
        if !reply.status.is_success() {
            let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let field = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .map(|s| excerpt(s.as_bytes()))
            };
            let said = match (field("error"), field("error_description")) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e,
                _ => excerpt(&reply.body),
            };
            bail!(
                "source {source}: Google refused the refresh token ({}, {said}): connect the \
                 account again and give its new refresh token (no token or secret is shown)",
                reply.status
            );
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
        }
        let t: Token = reply
            .json("the sign-in")
            .map_err(|e| anyhow!("source {source}: {e:#}"))?;
        let t = Secret::new(t.access_token);
        self.token = Some(t.clone());
        Ok(t)
    }

    pub(super) fn forget(&mut self) {
        self.token = None;
    }
}
