//! Slack, beside email: the morning report posted by a bot to the channels a report names,
//! through the same ledger as every email.
//!
//! One delivery is one post. The charts are uploaded first with Slack's two-step upload
//! (`files.getUploadURLExternal`, the bytes, `files.completeUploadExternal`), completed
//! without sharing them, so nothing reaches the channel before the ledger's mark; then
//! `chat.postMessage` shows them by file id. A post Slack refuses for its blocks is sent
//! again without the images, never dropped. A sharing of the files to the channel
//! (`channel_id` on the completion) would be a message of its own, before the mark.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DeliveryError;
use super::channel::{Channel, Draft, Flash, Note, Receipt};
use crate::chat::slack::{self as blocks, Post, Uploaded};
use crate::config::{Config, Lead, RecipientKey, Report, SlackSettings};
use crate::digest::ChartView;

/// The most bytes of an answer read: Slack's are a few hundred.
const MAX_ANSWER: usize = 1 << 20;

/// The Slack channel of a shop's config.
#[derive(Clone)]
pub struct SlackChannel {
    client: reqwest::Client,
    settings: Arc<SlackSettings>,
}

impl fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackChannel")
            .field("endpoint", &self.settings.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SlackChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Slack ({})",
            self.settings.endpoint.host_str().unwrap_or("?")
        )
    }
}

impl SlackChannel {
    /// The channel of `[slack]`, or None without one.
    pub fn from_config(config: &Config) -> Result<Option<SlackChannel>> {
        let Some(s) = &config.slack else {
            return Ok(None);
        };
        let client = super::web::client(s.ca_pem.as_deref(), s.timeout, "slack")?;
        Ok(Some(SlackChannel {
            client,
            settings: Arc::new(s.clone()),
        }))
    }

    fn url(&self, method: &str) -> reqwest::Url {
        let mut url = self.settings.endpoint.clone();
        url.path_segments_mut()
            .map(|mut p| {
                p.pop_if_empty().push(method);
            })
            .ok();
        url
    }

    fn auth(&self) -> Result<reqwest::header::HeaderValue, DeliveryError> {
        crate::ingest::live::http::secret_header(&format!(
            "Bearer {}",
            self.settings.token.expose()
        ))
        .map_err(|e| DeliveryError::Fatal(format!("slack: the token: {e:#}")))
    }
}

/// One rendering: the post without images, and the charts to upload.
#[derive(Debug)]
pub struct SlackCopy {
    post: Post,
    charts: Vec<(ChartView, Vec<u8>)>,
}

/// A post for one channel.
#[derive(Debug, Clone)]
pub struct SlackMessage {
    channel: String,
    copy: Arc<SlackCopy>,
}

/// What Slack's Web API answers: `ok`, and `error` when not.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    error: Option<String>,
    ts: Option<String>,
    upload_url: Option<String>,
    file_id: Option<String>,
    /// `auth.test`: the bot's name and its workspace.
    user: Option<String>,
    team: Option<String>,
}

/// How a request ended, for the ledger.
enum Sent {
    Answer(Answer),
    /// Slack asked to wait (HTTP 429): nothing was done.
    Limited(Duration),
}

impl Channel for SlackChannel {
    type To = String;
    type Copy = Arc<SlackCopy>;
    type Message = SlackMessage;

    fn audience(&self, report: &Report) -> Vec<String> {
        report.slack_channels.clone()
    }

    fn key(&self, to: &String) -> RecipientKey {
        RecipientKey::slack(to)
    }

    fn recipient(&self, text: &str) -> Result<String> {
        let id = text.strip_prefix("slack:").unwrap_or(text);
        let ok = (9..=12).contains(&id.len())
            && id.starts_with(['C', 'G', 'D'])
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok {
            anyhow::bail!("--to {text:?} is not a Slack channel: give slack:C0123ABC45");
        }
        Ok(id.to_string())
    }

    fn claims(&self, text: &str) -> bool {
        text.starts_with("slack:")
    }

    fn render(&self, draft: &Draft<'_>, _lead: Option<Lead>) -> Result<Arc<SlackCopy>> {
        // A channel is both teams: the common copy.
        let charts = if self.settings.charts {
            draft
                .composed
                .rendered
                .images
                .iter()
                .filter(|(v, _)| !v.id.starts_with("spark_"))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Ok(Arc::new(SlackCopy {
            post: blocks::post(&draft.composed.digest),
            charts,
        }))
    }

    fn address(&self, copy: &Arc<SlackCopy>, to: &String) -> Result<SlackMessage> {
        Ok(SlackMessage {
            channel: to.clone(),
            copy: copy.clone(),
        })
    }

    fn reference(&self, _msg: &SlackMessage) -> Option<String> {
        None
    }

    async fn deliver(
        &self,
        msg: &SlackMessage,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<Receipt, DeliveryError> {
        let uploaded = self.upload(msg).await?;
        let with = blocks::with_images(&msg.copy.post, &uploaded);
        mark().await?;
        let answer = self.post(&msg.channel, &with).await?;
        let answer = match answer.error.as_deref() {
            // Refused for its blocks (an image Slack cannot show yet): again without them.
            Some("invalid_blocks" | "invalid_blocks_format") if !uploaded.is_empty() => {
                tracing::warn!(channel = %msg.channel, "Slack refused the post's images; sending it without them");
                self.post(&msg.channel, &msg.copy.post).await?
            }
            _ => answer,
        };
        if answer.ok {
            return Ok(Receipt {
                reference: answer.ts.map(|ts| format!("slack:{}:{ts}", msg.channel)),
            });
        }
        Err(refusal(
            &msg.channel,
            answer.error.as_deref().unwrap_or("no error given"),
        ))
    }

    fn alert(&self, a: &Flash<'_>, to: &String) -> Result<SlackMessage> {
        let head = crate::text::cap(&a.headline(), 2_900);
        let body = crate::text::cap(&a.body().replace("\n\n", " "), 2_900);
        Ok(SlackMessage {
            channel: to.clone(),
            copy: Arc::new(SlackCopy {
                post: Post {
                    text: head.clone(),
                    blocks: vec![
                        json!({"type": "section", "text": {"type": "plain_text", "text": head}}),
                        json!({"type": "section", "text": {"type": "plain_text", "text": body}}),
                    ],
                },
                charts: Vec::new(),
            }),
        })
    }

    fn note(&self, note: &Note<'_>) -> Result<SlackMessage> {
        let channel = note
            .report
            .slack_channels
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("report {} has no Slack channel", note.report.name))?;
        let text = format!("{}\n{}", note.subject, note.body);
        Ok(SlackMessage {
            channel,
            copy: Arc::new(SlackCopy {
                post: Post {
                    text: text.clone(),
                    blocks: vec![json!({"type": "section",
                        "text": {"type": "plain_text", "text": crate::text::cap(&text, 2_900)}})],
                },
                charts: Vec::new(),
            }),
        })
    }

    fn retry_for(&self) -> Duration {
        self.settings.retry_for
    }

    fn concurrency(&self) -> usize {
        // Slack allows about one post a second per channel.
        1
    }

    async fn close(&self) {}
}

impl SlackChannel {
    /// For `check`: signs in with `auth.test` and says as whom ("dawnpost in Northwind"),
    /// posting nothing; a bad token is an error that says what to do.
    pub async fn probe(&self) -> Result<String> {
        let answer = self
            .call("auth.test", &json!({}))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if !answer.ok {
            let error = answer.error.unwrap_or_default();
            return Err(anyhow!(
                "{}",
                fatal(&error).unwrap_or_else(|| format!("slack: auth.test refused: {error}"))
            ));
        }
        Ok(format!(
            "{} in {}",
            answer.user.unwrap_or_else(|| "the bot".into()),
            answer.team.unwrap_or_else(|| "its workspace".into())
        ))
    }

    /// Uploads the charts without sharing them; before the mark, so any failure leaves the
    /// channel untouched. A chart Slack will not take is left out, the post goes on.
    async fn upload<'a>(&self, msg: &'a SlackMessage) -> Result<Vec<Uploaded<'a>>, DeliveryError> {
        let mut out = Vec::new();
        for (view, png) in &msg.copy.charts {
            match self.upload_one(view, png).await {
                Ok(file_id) => out.push(Uploaded {
                    file_id,
                    chart: view,
                }),
                Err(DeliveryError::Permanent(why)) => {
                    tracing::warn!(channel = %msg.channel, chart = %view.id, %why, "chart not uploaded; the post goes without it");
                }
                Err(e) => return Err(e),
            }
        }
        if !out.is_empty() {
            let files: Vec<Value> = out
                .iter()
                .map(|u| json!({"id": u.file_id, "title": u.chart.title}))
                .collect();
            let answer = self
                .call("files.completeUploadExternal", &json!({ "files": files }))
                .await?;
            if !answer.ok {
                let why = answer.error.unwrap_or_default();
                tracing::warn!(channel = %msg.channel, %why, "charts not completed; the post goes without them");
                out.clear();
            }
        }
        Ok(out)
    }

    async fn upload_one(&self, view: &ChartView, png: &[u8]) -> Result<String, DeliveryError> {
        let form = [
            ("filename", view.file_name.clone()),
            ("length", png.len().to_string()),
            ("alt_text", crate::text::cap(&view.alt, 1_000)),
        ];
        let req = self
            .client
            .post(self.url("files.getUploadURLExternal"))
            .header(AUTHORIZATION, self.auth()?)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter())
                    .finish(),
            );
        let answer = match self.send(req, "files.getUploadURLExternal").await? {
            Sent::Answer(a) => a,
            Sent::Limited(wait) => return Err(limited(wait)),
        };
        let (Some(url), Some(id)) = (answer.upload_url, answer.file_id) else {
            return Err(upload_refusal(
                answer.error.as_deref().unwrap_or("no upload URL"),
            ));
        };
        let url: reqwest::Url = url.parse().map_err(|_| {
            DeliveryError::Permanent("slack: an upload URL that is not a URL".into())
        })?;
        if url.scheme() != "https" {
            return Err(DeliveryError::Permanent(
                "slack: an upload URL that is not https".into(),
            ));
        }
        let resp = self
            .client
            .post(url)
            .body(png.to_vec())
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Transient(format!("slack: uploading a chart: {}", kind(&e)))
            })?;
        if !resp.status().is_success() {
            return Err(DeliveryError::Transient(format!(
                "slack: uploading a chart: HTTP {}",
                resp.status().as_u16()
            )));
        }
        Ok(id)
    }

    /// `chat.postMessage` of `post` to `channel`. After the mark: an answer that never came
    /// is unknown, since Slack may have posted it.
    async fn post(&self, channel: &str, post: &Post) -> Result<Answer, DeliveryError> {
        let body = json!({
            "channel": channel,
            "text": post.text,
            "blocks": post.blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let req = self
            .client
            .post(self.url("chat.postMessage"))
            .header(AUTHORIZATION, self.auth()?)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_string());
        match self.send(req, "chat.postMessage").await {
            Ok(Sent::Answer(a)) => Ok(a),
            Ok(Sent::Limited(wait)) => Err(limited(wait)),
            // Connected and sent, no answer: Slack may have posted it.
            Err(DeliveryError::Transient(why)) if !why.contains("cannot connect") => {
                Err(DeliveryError::Unknown(format!(
                    "channel {channel}: no answer from Slack after the post was sent ({why})"
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// A Web API call with a JSON body.
    async fn call(&self, method: &str, body: &Value) -> Result<Answer, DeliveryError> {
        let req = self
            .client
            .post(self.url(method))
            .header(AUTHORIZATION, self.auth()?)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_string());
        match self.send(req, method).await? {
            Sent::Answer(a) => Ok(a),
            Sent::Limited(wait) => Err(limited(wait)),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Sent, DeliveryError> {
        let mut resp = req
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("slack: {what}: {}", kind(&e))))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let wait = resp
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1)
                .min(60);
            // Waited here, as Slack asked; the ledger's loop then tries again.
            tokio::time::sleep(Duration::from_secs(wait)).await;
            return Ok(Sent::Limited(Duration::from_secs(wait)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| DeliveryError::Transient(format!("slack: {what}: {}", kind(&e))))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(DeliveryError::Transient(format!(
                    "slack: {what}: an answer past {} KB",
                    MAX_ANSWER >> 10
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_server_error() {
            return Err(DeliveryError::Transient(format!(
                "slack: {what}: HTTP {}",
                status.as_u16()
            )));
        }
        serde_json::from_slice::<Answer>(&body)
            .map(Sent::Answer)
            .map_err(|_| {
                DeliveryError::Transient(format!(
                    "slack: {what}: HTTP {} and an answer that is not Slack's JSON",
                    status.as_u16()
                ))
            })
    }
}

/// A transport error in a few words, without the URL (a proxy's could carry a secret).
fn kind(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "the connection failed"
    };
    let mut cause = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) => format!("{what}: {c}"),
        None => what.to_string(),
    }
}

fn limited(wait: Duration) -> DeliveryError {
    DeliveryError::Transient(format!(
        "slack: rate limited; Slack asked to wait {} s",
        wait.as_secs()
    ))
}

fn upload_refusal(error: &str) -> DeliveryError {
    match fatal(error) {
        Some(why) => DeliveryError::Fatal(why),
        None => DeliveryError::Permanent(format!("slack: a chart's upload was refused: {error}")),
    }
}

/// Slack's `ok: false` for a post to `channel`, as the ledger and the owner read it.
fn refusal(channel: &str, error: &str) -> DeliveryError {
    if let Some(why) = fatal(error) {
        return DeliveryError::Fatal(format!("channel {channel}: {why}"));
    }
    let why = match error {
        "channel_not_found" => "no such channel, or the bot cannot see it (a private channel \
                                needs the bot invited)"
            .to_string(),
        "not_in_channel" => "the bot is not in the channel: invite it (/invite @bot)".to_string(),
        "is_archived" => "the channel is archived".to_string(),
        "msg_too_long" | "invalid_blocks" | "invalid_blocks_format" | "too_many_blocks" => {
            format!("Slack refused the message's blocks ({error})")
        }
        other => format!("Slack refused the post: {other}"),
    };
    DeliveryError::Permanent(format!("channel {channel}: {why}"))
}

/// The errors after which no post can go anywhere: the token or its scopes.
fn fatal(error: &str) -> Option<String> {
    Some(match error {
        "invalid_auth" | "not_authed" => {
            "slack: the token is not valid (slack.token_env or token_file)".into()
        }
        "token_revoked" | "token_expired" | "account_inactive" => {
            format!("slack: the token was revoked or expired ({error}): make a new one")
        }
        "missing_scope" => {
            "slack: the bot lacks a scope: it needs chat:write and files:write".into()
        }
        _ => return None,
    })
}
