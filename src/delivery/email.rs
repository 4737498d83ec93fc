//! Email, the first channel: the digest as one MIME message per recipient, handed to a mail
//! server (`smtp`) or written into a folder of .eml files (`outbox`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use lettre::message::{Mailbox, MultiPart};

use super::channel::{Channel, Draft, Flash, Note, Receipt};
use super::{DeliveryError, SmtpClient, outbox, smtp};
use crate::config::{Config, Lead, RecipientKey, Report};
use crate::email::message::{self, MessageId};

/// The email channel over the transport the configuration names.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    transport: Transport,
}

/// Where messages go.
#[derive(Debug, Clone)]
enum Transport {
    /// A directory of .eml files.
    Outbox(PathBuf),
    /// A mail server.
    Smtp {
        client: Arc<SmtpClient>,
        retry_for: Duration,
        /// Messages in flight at once, each on its own connection.
        connections: usize,
    },
}

impl EmailChannel {
    /// The mail server of `[smtp]`, or the outbox folder when there is none.
    pub fn from_config(config: &Config) -> Result<EmailChannel> {
        let Some(s) = &config.smtp else {
            return Ok(EmailChannel::outbox(config.outbox.clone()));
        };
        let tls = smtp::tls_parameters(&s.host, s.ca_pem.as_deref()).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot set up TLS for the mail server (smtp.ca_file): {e}",
                config.origin
            )
        })?;
        let login = match (&s.username, &s.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        let client = SmtpClient::new(s.host.clone(), s.port, s.security, tls, login, s.timeout);
        let transport = Transport::Smtp {
            client: Arc::new(client),
            retry_for: s.retry_for,
            connections: s.connections,
        };
        Ok(EmailChannel { transport })
    }

    /// Every message written as an .eml file into `dir`.
    pub fn outbox(dir: PathBuf) -> EmailChannel {
        EmailChannel {
            transport: Transport::Outbox(dir),
        }
    }
}

impl fmt::Display for EmailChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            Transport::Outbox(d) => f.write_str(&outbox::describe(d)),
            Transport::Smtp { client, .. } => f.write_str(&client.describe),
        }
    }
}

/// One rendering of the digest: its MIME body, encoded once (most of a message's work), and
/// the headers every recipient of it shares.
#[derive(Debug, Clone)]
pub struct EmailCopy {
    body: MultiPart,
    subject: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    report: String,
    owner: Mailbox,
    date: NaiveDate,
    now: DateTime<Tz>,
}

impl EmailCopy {
    fn head(&self) -> message::Head<'_> {
        message::Head {
            subject: &self.subject,
            from: &self.from,
            reply_to: self.reply_to.as_ref(),
            date: self.date,
            now: self.now,
            list: Some(message::List {
                report: &self.report,
                owner: &self.owner,
            }),
        }
    }
}

/// One message ready to go: the MIME message, its Message-ID, and its outbox file name.
#[derive(Debug, Clone)]
pub struct Letter {
    message: lettre::Message,
    id: MessageId,
    /// The .eml file's name without extension, should it go to the outbox.
    stem: String,
}

impl Channel for EmailChannel {
    type To = Mailbox;
    type Copy = EmailCopy;
    type Message = Letter;

    fn audience(&self, report: &Report) -> Vec<Mailbox> {
        report.recipients.clone()
    }

    fn key(&self, to: &Mailbox) -> RecipientKey {
        RecipientKey::email(to)
    }

    fn recipient(&self, text: &str) -> Result<Mailbox> {
        text.parse()
            .map_err(|e| anyhow::anyhow!("--to {text:?} is not an email address: {e}"))
    }

    fn claims(&self, text: &str) -> bool {
        !super::outlet::CHAT_PREFIXES
            .iter()
            .any(|p| text.starts_with(p))
    }

    fn render(&self, draft: &Draft<'_>, lead: Option<Lead>) -> Result<EmailCopy> {
        let report = draft.report;
        Ok(EmailCopy {
            body: message::body(&draft.composed.variant(draft.templates, lead)?),
            // Every copy keeps the common subject: the lead changes the order, not the news.
            subject: draft.composed.rendered.subject.clone(),
            from: report.from.clone(),
            reply_to: report.reply_to.clone(),
            report: report.name.clone(),
            owner: report.owner.clone(),
            date: draft.date,
            now: draft.now,
        })
    }

    fn address(&self, copy: &EmailCopy, to: &Mailbox) -> Result<Letter> {
        let id = MessageId::digest(copy.date, to, copy.now, &copy.from);
        let message = message::addressed(&copy.body, &copy.head(), to, &id)?;
        let stem = outbox::file_stem(
            &copy.report,
            &copy.date.to_string(),
            RecipientKey::email(to).as_str(),
            &id.unique(),
        );
        Ok(Letter { message, id, stem })
    }

    fn reference(&self, msg: &Letter) -> Option<String> {
        Some(msg.id.to_string())
    }

    async fn deliver(
        &self,
        msg: &Letter,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<Receipt, DeliveryError> {
        let bytes = msg.message.formatted();
        match &self.transport {
            Transport::Outbox(dir) => outbox::write(dir, &msg.stem, bytes, mark).await?,
            Transport::Smtp { client, .. } => {
                client.send(msg.message.envelope(), &bytes, mark).await?;
            }
        }
        Ok(Receipt {
            reference: self.reference(msg),
        })
    }

    fn carries_live(&self, report: &Report) -> bool {
        report.slack_channels.is_empty() && report.teams_webhook.is_none()
    }

    fn alert(&self, a: &Flash<'_>, to: &Mailbox) -> Result<Letter> {
        let id = MessageId::alert(a.date, to, a.mark, a.now, &a.report.from);
        let subject = crate::text::cap(&a.headline(), 200);
        let message = message::short(&a.report.from, to, &subject, a.body(), &id, a.now)?;
        let stem = outbox::file_stem(
            a.topic,
            &a.date.to_string(),
            RecipientKey::email(to).as_str(),
            &id.unique(),
        );
        Ok(Letter { message, id, stem })
    }

    fn note(&self, note: &Note<'_>) -> Result<Letter> {
        let Note {
            report, date, now, ..
        } = *note;
        let id = MessageId::failures(date, &report.owner, now, &report.from);
        let message = lettre::Message::builder()
            .from(report.from.clone())
            .to(report.owner.clone())
            .subject(note.subject.clone())
            .date(SystemTime::from(now))
            .message_id(Some(id.to_string()))
            .body(note.body.clone())?;
        let stem = outbox::file_stem(
            &report.name,
            &date.to_string(),
            "failures",
            &now.to_rfc3339(),
        );
        Ok(Letter { message, id, stem })
    }

    fn retry_for(&self) -> Duration {
        match &self.transport {
            Transport::Smtp { retry_for, .. } => *retry_for,
            Transport::Outbox(_) => Duration::ZERO,
        }
    }

    fn concurrency(&self) -> usize {
        match &self.transport {
            Transport::Outbox(_) => 1,
            Transport::Smtp { connections, .. } => *connections,
        }
    }

    async fn close(&self) {
        if let Transport::Smtp { client, .. } = &self.transport {
            client.close().await;
        }
    }
}
