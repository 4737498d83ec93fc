//! Microsoft Teams, beside email and Slack: the morning report as an Adaptive Card posted to
//! each report's Workflows webhook, through the same ledger, at most 4 requests a second.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use reqwest::header::CONTENT_TYPE;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::DeliveryError;
use super::channel::{Channel, Draft, Flash, Note, Receipt};
use crate::config::{Config, Lead, MsTeamsSettings, RecipientKey, Report, Secret};

/// Teams takes at most 4 requests a second on a webhook.
const SPACING: Duration = Duration::from_millis(250);

/// The Teams channel of a shop's config.
#[derive(Clone)]
pub struct TeamsChannel {
    client: reqwest::Client,
    settings: Arc<MsTeamsSettings>,
    /// Each report's webhook, by report name.
    webhooks: Arc<std::collections::BTreeMap<String, Secret>>,
    /// When the last request left, to keep 4 a second.
    last: Arc<Mutex<Option<Instant>>>,
}

impl fmt::Debug for TeamsChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsChannel").finish_non_exhaustive()
    }
}

impl fmt::Display for TeamsChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Microsoft Teams (Workflows webhooks)")
    }
}

/// A card for one report's webhook.
#[derive(Debug, Clone)]
pub struct TeamsMessage {
    /// The report whose webhook it goes to (the URL itself is a secret).
    report: String,
    url: Secret,
    body: Arc<String>,
}

impl TeamsChannel {
    /// The channel when any report has a Teams webhook.
    pub fn from_config(config: &Config) -> Result<Option<TeamsChannel>> {
        if config.reports.iter().all(|r| r.teams_webhook.is_none()) {
            return Ok(None);
        }
        let s = &config.msteams;
        let client = super::web::client(s.ca_pem.as_deref(), s.timeout, "msteams")?;
        let webhooks = config
            .reports
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.teams_webhook.clone()?)))
            .collect();
        Ok(Some(TeamsChannel {
            client,
            webhooks: Arc::new(webhooks),
            settings: Arc::new(s.clone()),
            last: Arc::new(Mutex::new(None)),
        }))
    }

    /// Waits until a quarter second has passed since the last request.
    async fn pace(&self) {
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + SPACING).await;
        }
        *last = Some(Instant::now());
    }
}

impl Channel for TeamsChannel {
    /// The report's name: one webhook each.
    type To = String;
    type Copy = Arc<String>;
    type Message = TeamsMessage;

    fn audience(&self, report: &Report) -> Vec<String> {
        match report.teams_webhook {
            Some(_) => vec![report.name.clone()],
            None => Vec::new(),
        }
    }

    fn key(&self, to: &String) -> RecipientKey {
        RecipientKey::msteams(to)
    }

    fn recipient(&self, text: &str) -> Result<String> {
        Ok(text.strip_prefix("msteams:").unwrap_or(text).to_string())
    }

    fn claims(&self, text: &str) -> bool {
        text.starts_with("msteams:")
    }

    fn render(&self, draft: &Draft<'_>, _lead: Option<Lead>) -> Result<Arc<String>> {
        let m = crate::chat::teams::message(&draft.composed.digest);
        Ok(Arc::new(m.to_string()))
    }

    fn address(&self, copy: &Arc<String>, to: &String) -> Result<TeamsMessage> {
        let url = self
            .webhooks
            .get(to)
            .ok_or_else(|| anyhow!("no report {to} with a Teams webhook"))?;
        Ok(TeamsMessage {
            report: to.clone(),
            url: url.clone(),
            body: copy.clone(),
        })
    }

    fn reference(&self, _msg: &TeamsMessage) -> Option<String> {
        None
    }

    async fn deliver(
        &self,
        msg: &TeamsMessage,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<Receipt, DeliveryError> {
        self.pace().await;
        let url: reqwest::Url = msg.url.expose().trim().parse().map_err(|_| {
            DeliveryError::Permanent(format!(
                "report {}: the Teams webhook is not a URL",
                msg.report
            ))
        })?;
        let req = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(msg.body.as_bytes().to_vec());
        mark().await?;
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(DeliveryError::Transient(format!(
                    "report {}: cannot connect to the Teams webhook",
                    msg.report
                )));
            }
            Err(_) => {
                return Err(DeliveryError::Unknown(format!(
                    "report {}: no answer from the Teams webhook after the card was sent",
                    msg.report
                )));
            }
        };
        let status = resp.status().as_u16();
        let wait = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .min(60);
        let who = format!("report {}: Teams", msg.report);
        match status {
            200..=299 => Ok(Receipt::default()),
            429 => {
                tokio::time::sleep(Duration::from_secs(wait)).await;
                Err(DeliveryError::Transient(format!(
                    "{who} throttled the webhook (HTTP 429); waited {wait} s"
                )))
            }
            413 => Err(DeliveryError::Permanent(format!(
                "{who} refused the card as too large (HTTP 413)"
            ))),
            400 => Err(DeliveryError::Permanent(format!(
                "{who} refused the card (HTTP 400): the flow may expect another shape"
            ))),
            401 | 403 | 404 => Err(DeliveryError::Permanent(format!(
                "{who} does not know the webhook any more (HTTP {status}): make a new one in \
                 the Workflows app and set teams_webhook_env or teams_webhook_file"
            ))),
            // A server error after the card was sent: it may or may not have been posted.
            _ => Err(DeliveryError::Unknown(format!(
                "{who} answered HTTP {status}"
            ))),
        }
    }

    fn alert(&self, a: &Flash<'_>, to: &String) -> Result<TeamsMessage> {
        self.address(&Arc::new(card(&a.headline(), &a.body())), to)
    }

    fn note(&self, note: &Note<'_>) -> Result<TeamsMessage> {
        self.address(
            &Arc::new(card(&note.subject, &note.body)),
            &note.report.name,
        )
    }

    fn retry_for(&self) -> Duration {
        self.settings.retry_for
    }

    fn concurrency(&self) -> usize {
        1
    }

    async fn close(&self) {}
}

/// A card of a title and a text: an alert as it happens, or the owner's note.
fn card(title: &str, text: &str) -> String {
    serde_json::json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": crate::text::cap(title, 300), "wrap": true, "weight": "Bolder"},
                    {"type": "TextBlock", "text": crate::text::cap(text, 4_000), "wrap": true}
                ]
            }
        }]
    })
    .to_string()
}
