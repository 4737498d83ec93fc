//! Delivery: one message per recipient through a transport, recorded in the ledger so that
//! each person gets a report date's digest once.
//!
//! The file outbox is the transport when no mail server is configured. Errors a caller acts
//! on are typed: a transient failure may be retried, a permanent one is recorded and the
//! other recipients still get their email.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use lettre::message::Mailbox;

use crate::compose::compose;
use crate::config::{Config, Report};
use crate::message;
use crate::render::Templates;
use crate::store::{DeliveryKey, DeliveryStatus, Store};

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (a full disk, a 4xx reply, a dropped connection).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx reply for this recipient).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A directory of .eml files.
    Outbox(PathBuf),
}

impl Transport {
    pub fn from_config(config: &Config) -> Transport {
        Transport::Outbox(config.outbox.clone())
    }

    async fn deliver(&self, msg: &lettre::Message, file_stem: &str) -> Result<(), DeliveryError> {
        match self {
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    DeliveryError::Transient(format!("cannot create {}: {e}", dir.display()))
                })?;
                // Written under a temporary name and renamed: a reader never sees half a message.
                let path = dir.join(format!("{file_stem}.eml"));
                let tmp = dir.join(format!(".{file_stem}.eml.tmp"));
                tokio::fs::write(&tmp, msg.formatted()).await.map_err(|e| {
                    DeliveryError::Transient(format!("cannot write {}: {e}", tmp.display()))
                })?;
                tokio::fs::rename(&tmp, &path).await.map_err(|e| {
                    DeliveryError::Transient(format!("cannot write {}: {e}", path.display()))
                })
            }
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Outbox(d) => write!(f, "outbox {}", d.display()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// A test send to these addresses only; not recorded in the ledger.
    pub to: Vec<Mailbox>,
    /// Say what would be sent, send nothing.
    pub dry_run: bool,
    /// Send again to recipients the ledger says were served.
    pub force: bool,
}

/// What a send did, recipient by recipient.
#[derive(Debug, Clone, Default)]
pub struct SendSummary {
    pub sent: Vec<String>,
    /// Already served for this date (not sent again).
    pub skipped: Vec<String>,
    /// (recipient, error)
    pub failed: Vec<(String, String)>,
    /// With --dry-run: who would get it.
    pub would_send: Vec<String>,
}

fn key(m: &Mailbox) -> String {
    m.email.to_string().to_lowercase()
}

/// Sends `report`'s digest for `date` to everyone not yet served.
pub async fn send(
    store: &Store,
    config: &Config,
    report: &Report,
    transport: &Transport,
    date: NaiveDate,
    now: DateTime<Tz>,
    opts: &SendOptions,
) -> Result<SendSummary> {
    let test_send = !opts.to.is_empty();
    let recipients: Vec<Mailbox> = if test_send {
        opts.to.clone()
    } else {
        report.recipients.clone()
    };
    let served = if test_send || opts.force {
        Default::default()
    } else {
        store.delivered(&report.name, date).await?
    };
    let mut summary = SendSummary::default();
    let targets: Vec<&Mailbox> = recipients
        .iter()
        .filter(|m| {
            let served = served.contains(&key(m));
            if served {
                summary.skipped.push(key(m));
            }
            !served
        })
        .collect();
    if opts.dry_run || targets.is_empty() {
        summary.would_send = targets.iter().map(|m| key(m)).collect();
        return Ok(summary);
    }
    let templates = Templates::load(config.email.templates_dir.as_deref())?;
    // Built once; only the To header and the Message-ID differ between recipients.
    let composed = compose(store, config, &templates, date, now).await?;
    for to in targets {
        let k = key(to);
        let msg = message::build(
            &composed.rendered,
            &report.from,
            report.reply_to.as_ref(),
            to,
            date,
            now,
        )?;
        let id = message::message_id(date, to, now, &report.from);
        let stamp = now.timestamp();
        let ledger_key = DeliveryKey {
            report: &report.name,
            date,
            recipient: &k,
        };
        if !test_send {
            store
                .record_delivery(&ledger_key, DeliveryStatus::Pending, None, None, stamp)
                .await?;
        }
        // Unique per message (the Message-ID's hash), so a forced re-send keeps the first file.
        let unique = id
            .trim_matches(['<', '>'])
            .split(['.', '@'])
            .nth(2)
            .unwrap_or_default();
        let stem = format!(
            "{}-{date}-{}-{unique}",
            report.name,
            k.replace(['@', '/', '\\'], "_")
        );
        match transport.deliver(&msg, &stem).await {
            Ok(()) => {
                if !test_send {
                    store
                        .record_delivery(&ledger_key, DeliveryStatus::Sent, None, Some(&id), stamp)
                        .await
                        .with_context(|| {
                            format!("{k} was sent but the ledger could not record it")
                        })?;
                }
                summary.sent.push(k);
            }
            Err(e) => {
                let text = e.to_string();
                if !test_send {
                    store
                        .record_delivery(
                            &ledger_key,
                            DeliveryStatus::Failed,
                            Some(&text),
                            None,
                            stamp,
                        )
                        .await?;
                }
                summary.failed.push((k, text));
            }
        }
    }
    Ok(summary)
}
