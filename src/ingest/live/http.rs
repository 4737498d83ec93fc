//! The HTTP client every live source talks through: TLS with the public roots and a
//! source's own CA, deadlines on every request, a bound on every body, and errors that
//! name the source and the status but never a secret.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::header::{HeaderMap, HeaderValue};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::SourceSettings;

/// The largest response body read into memory: a page of 250 orders with their lines is a
/// few MB. A bulk operation's JSONL is streamed instead ([`Http::lines`]).
pub(super) const MAX_BODY: usize = 32 << 20;
/// The longest line of a bulk operation's JSONL: one order, or one of its lines.
pub(super) const MAX_LINE: usize = 1 << 20;
/// The longest wait before trying again: a throttle, a 429's Retry-After, a 5xx's backoff.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(60);
/// Attempts at one request that meets 429 or 5xx answers.
const ATTEMPTS: u32 = 8;
/// How long a request may take to connect; to finish once sent (an answer read whole); and
/// to go without a byte (a bulk result streamed, however long it takes in all).
const CONNECT: Duration = Duration::from_secs(15);
const REQUEST: Duration = Duration::from_secs(120);
const STALL: Duration = Duration::from_secs(60);

/// A response read whole: its status, headers and body.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON, or an error naming what was asked.
    pub(super) fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "{what}: the response is not the JSON expected ({})",
                excerpt(&self.body)
            )
        })
    }

    /// A header's value as text, if it is there and readable.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// The start of a body, for an error: bounded, on one line.
pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// One source's client.
#[derive(Debug, Clone)]
pub(super) struct Http {
    client: reqwest::Client,
    /// The source's name, for messages.
    pub source: String,
}

impl Http {
    pub(super) fn new(source: &SourceSettings) -> Result<Http> {
        let tls = tls_config(source.ca_pem.as_deref())
            .with_context(|| format!("source {}: cannot set up TLS", source.name))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT)
            .read_timeout(STALL)
            // A redirect could carry a token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dawnpost/", env!("CARGO_PKG_VERSION")))
            .build()
            .with_context(|| format!("source {}: cannot build the HTTP client", source.name))?;
        Ok(Http {
            client,
            source: source.name.clone(),
        })
    }

    pub(super) fn request(
        &self,
        method: reqwest::Method,
        url: url::Url,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `req` and reads the whole body, up to [`MAX_BODY`]. `what` says what was asked,
    /// for errors ("Shopify orders page 3"). The URL is not in the error: it may carry a
    /// shop's name, never a secret, but a proxy's URL could.
    pub(super) async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Reply> {
        let req = req.timeout(REQUEST);
        let mut resp = req.send().await.map_err(|e| self.transport(what, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            bail!(
                "source {}: {what}: the response is larger than {} MB",
                self.source,
                MAX_BODY >> 20
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(what, &e))? {
            if body.len() + chunk.len() > MAX_BODY {
                bail!(
                    "source {}: {what}: the response is larger than {} MB",
                    self.source,
                    MAX_BODY >> 20
                );
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends the request `build` makes, again after a 429 or a 5xx (waiting as the answer
    /// asks, or longer each time), up to a bound; any other answer is returned.
    pub(super) async fn send_retrying(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Reply> {
        let mut attempt = 1;
        loop {
            let reply = self.send(build(), what).await?;
            let again = reply.status.as_u16() == 429 || reply.status.is_server_error();
            if !again || attempt >= ATTEMPTS {
                return Ok(reply);
            }
            tokio::time::sleep(retry_after(&reply, attempt)).await;
            attempt += 1;
        }
    }

    /// Sends `req` and hands each line of the body to `line`, each at most [`MAX_LINE`]
    /// bytes: a body of any size is read in bounded memory, for as long as it keeps coming
    /// (a minute without a byte ends it).
    pub(super) async fn lines(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
        mut line: impl AsyncFnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<u64> {
        let mut resp = req.send().await.map_err(|e| self.transport(what, &e))?;
        if !resp.status().is_success() {
            bail!("source {}: {what}: {}", self.source, resp.status());
        }
        let mut pending: Vec<u8> = Vec::new();
        let mut n = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(what, &e))? {
            pending.extend_from_slice(&chunk);
            // Lines are handed out in place; what is left of the last one moves once a chunk.
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
                n += 1;
                line(n, &pending[start..start + end]).await?;
                start += end + 1;
            }
            pending.drain(..start);
            if pending.len() > MAX_LINE {
                bail!(
                    "source {}: {what}: line {} is longer than {} KB",
                    self.source,
                    n + 1,
                    MAX_LINE >> 10
                );
            }
        }
        if !pending.iter().all(u8::is_ascii_whitespace) {
            n += 1;
            line(n, &pending).await?;
        }
        Ok(n)
    }

    /// A request that got no response: the cause chain, without the URL.
    fn transport(&self, what: &str, e: &reqwest::Error) -> anyhow::Error {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "the connection failed"
        };
        let mut cause = String::new();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        anyhow!("source {}: {what}: {kind}: {cause}", self.source)
    }
}

/// TLS with the public roots and, when given, the source's own CA.
pub(crate) fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| anyhow!("ca_file: {e}"))?;
            roots
                .add(cert)
                .context("ca_file: not a usable CA certificate")?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("no TLS version in common")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A header value from a secret, marked sensitive so that no debug output shows it.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| anyhow!("the secret holds characters a header cannot carry"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// How long to wait after a 429 or a 5xx: the Retry-After it gave, or a doubling backoff.
pub(super) fn retry_after(reply: &Reply, attempt: u32) -> Duration {
    let given = reply
        .header("Retry-After")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    let backoff = Duration::from_millis(250u64 << attempt.min(8));
    given.unwrap_or(backoff).min(MAX_WAIT)
}
