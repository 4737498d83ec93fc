//! The HTTP client the chat channels (Slack, Teams) post through: TLS with the public roots
//! and the channel's own CA, a deadline per request, no redirects (one could carry a token to
//! another host), and a fresh connection for every request: hyper sends a request again,
//! unasked, when a reused connection closes before its answer, and a post sent twice is a
//! duplicate in the channel.

use std::time::Duration;

use anyhow::{Context, Result};

/// The client for one chat channel; `what` names it in errors ("slack").
pub(super) fn client(
    ca_pem: Option<&[u8]>,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Client> {
    let tls = crate::ingest::live::http::tls_config(ca_pem)
        .with_context(|| format!("{what}: cannot set up TLS"))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("dawnpost/", env!("CARGO_PKG_VERSION")))
        .build()
        .with_context(|| format!("{what}: cannot build the HTTP client"))
}
