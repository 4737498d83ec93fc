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
use futures_util::StreamExt as _;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::compose::compose;
use crate::config::{Config, Report, SmtpSecurity};
use crate::message;
use crate::render::Templates;
use crate::store::{DeliveryKey, DeliveryOutcome, DeliveryStatus, Store};

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (a full disk, a 4xx reply, a dropped connection).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx reply for this recipient).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// Nothing can be sent: TLS, authentication or the server's capabilities are wrong.
    #[error("{0}")]
    Fatal(String),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A directory of .eml files.
    Outbox(PathBuf),
    /// A mail server, over a pooled connection.
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// "smtp://host:587 (STARTTLS)", for messages.
        describe: String,
        retry_for: Duration,
        /// A hard limit on one message's whole exchange with the server.
        deadline: Duration,
        /// Messages in flight at once.
        connections: usize,
    },
}

impl Transport {
    pub fn from_config(config: &Config) -> Result<Transport> {
        let Some(s) = &config.smtp else {
            return Ok(Transport::Outbox(config.outbox.clone()));
        };
        let mut tls = TlsParameters::builder(s.host.clone());
        if let Some(pem) = &s.ca_pem {
            tls = tls.add_root_certificate(Certificate::from_pem(pem).map_err(|e| {
                anyhow::anyhow!(
                    "{}: `smtp.ca_file` is not a PEM certificate: {e}",
                    config.origin
                )
            })?);
        }
        let params = tls
            .build_rustls()
            .context("cannot set up TLS for the mail server")?;
        let (tls, scheme, mode) = match s.security {
            SmtpSecurity::StartTls => (Tls::Required(params), "smtp", "STARTTLS required"),
            SmtpSecurity::ImplicitTls => (Tls::Wrapper(params), "smtps", "implicit TLS"),
            SmtpSecurity::Plain => (Tls::None, "smtp", "plain text, as configured"),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(tls)
            .timeout(Some(s.timeout))
            .pool_config(PoolConfig::new().max_size(s.connections as u32));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Transport::Smtp {
            transport: builder.build(),
            describe: format!("{scheme}://{}:{} ({mode})", s.host, s.port),
            retry_for: s.retry_for,
            deadline: s.timeout * 3,
            connections: s.connections,
        })
    }

    /// How long a claim may stay pending while its sender is still at work: every retry of
    /// one message fits in it.
    fn lease(&self) -> Duration {
        match self {
            Transport::Outbox(_) => Duration::from_secs(60),
            Transport::Smtp {
                retry_for,
                deadline,
                ..
            } => *retry_for + *deadline * 2 + Duration::from_secs(60),
        }
    }

    /// How many messages may be in flight at once.
    fn connections(&self) -> usize {
        match self {
            Transport::Outbox(_) => 1,
            Transport::Smtp { connections, .. } => *connections,
        }
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
            Transport::Smtp {
                transport,
                describe,
                deadline,
                ..
            } => match tokio::time::timeout(*deadline, transport.send(msg.clone())).await {
                Ok(result) => result.map(|_| ()).map_err(|e| classify(&e, describe)),
                // A server that stops answering must not hang the run.
                Err(_) => Err(DeliveryError::Transient(format!(
                    "{describe}: no answer within {deadline:?}"
                ))),
            },
        }
    }

    /// Delivers, retrying transient failures with exponential backoff and jitter until the
    /// transport's deadline.
    async fn deliver_with_retries(
        &self,
        msg: &lettre::Message,
        file_stem: &str,
    ) -> Result<u32, (u32, DeliveryError)> {
        let retry_for = match self {
            Transport::Smtp { retry_for, .. } => *retry_for,
            Transport::Outbox(_) => Duration::ZERO,
        };
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.deliver(msg, file_stem).await {
                Ok(()) => return Ok(attempts),
                Err(DeliveryError::Transient(e)) if started.elapsed() + delay < retry_for => {
                    tracing::warn!(attempt = attempts, error = %e, "transient failure; retrying in {delay:?}");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err((attempts, e)),
            }
        }
    }
}

/// ±25% of `d`, so that many senders retrying at once spread out.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(factor)
}

/// Sorts a lettre error into what the sender should do about it.
fn classify(e: &lettre::transport::smtp::Error, server: &str) -> DeliveryError {
    let code = e.status().map(|c| c.to_string());
    let auth = matches!(code.as_deref(), Some("530" | "534" | "535" | "538"));
    if e.is_tls() || tls_failure(e).is_some() {
        DeliveryError::Fatal(format!(
            "TLS with {server} failed (is its certificate trusted? see smtp.ca_file): {e}"
        ))
    } else if auth {
        DeliveryError::Fatal(format!(
            "{server} refused the login (check smtp.username and the password): {e}"
        ))
    } else if e.is_client() {
        DeliveryError::Fatal(format!("cannot talk to {server} as configured: {e}"))
    } else if e.is_permanent() {
        DeliveryError::Permanent(format!("{server}: {e}"))
    } else {
        DeliveryError::Transient(format!("{server}: {e}"))
    }
}

/// The TLS error inside a connection error, if that is what it is.
///
/// lettre reports a failed handshake (an untrusted certificate, say) as a connection error
/// wrapping an I/O error that carries the rustls error; retrying cannot fix it.
fn tls_failure(e: &lettre::transport::smtp::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Outbox(d) => write!(f, "outbox {}", d.display()),
            Transport::Smtp { describe, .. } => f.write_str(describe),
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
    /// Set on shutdown: no new message starts; those in flight finish and are recorded.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// What a send did, recipient by recipient.
#[derive(Debug, Clone, Default)]
pub struct SendSummary {
    pub sent: Vec<String>,
    /// Already served for this date (not sent again).
    pub skipped: Vec<String>,
    /// (recipient, error)
    pub failed: Vec<(String, String)>,
    /// How many of the failures were transient (worth trying again later).
    pub transient: usize,
    /// Not attempted because the send was stopped (shutdown).
    pub not_tried: usize,
    /// Held by another sender working on the same store.
    pub elsewhere: Vec<String>,
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
    let dead_claims = if test_send {
        Default::default()
    } else {
        store
            .pending_claims(&report.name, date)
            .await?
            .into_iter()
            .filter(|(_, by)| claimer_is_gone(by))
            .collect()
    };
    let templates = Templates::load(config.email.templates_dir.as_deref())?;
    // Built once; only the To header and the Message-ID differ between recipients.
    let composed = compose(store, config, &templates, date, now).await?;
    let job = Job {
        store,
        report,
        transport,
        body: message::body(&composed.rendered),
        head: message::Head {
            subject: &composed.rendered.subject,
            from: &report.from,
            reply_to: report.reply_to.as_ref(),
            date,
            now,
        },
        record: !test_send,
        stop: std::sync::atomic::AtomicBool::new(false),
        shutdown: opts.stop.clone(),
        claimer: claimer(),
        lease: transport.lease().as_secs() as i64,
        dead_claims,
        force: opts.force,
    };
    // Several messages in flight, each on its own pooled connection: the server's time per
    // message, not ours, is what a large send waits on.
    let outcomes: Vec<Result<Outcome>> = futures_util::stream::iter(targets)
        .map(|to| job.one(to))
        .buffer_unordered(transport.connections())
        .collect()
        .await;
    let mut fatal = None;
    for outcome in outcomes {
        match outcome? {
            Outcome::Sent(k) => summary.sent.push(k),
            Outcome::Failed(k, e, transient) => {
                summary.transient += usize::from(transient);
                summary.failed.push((k, e));
            }
            Outcome::Fatal(e) => fatal = fatal.or(Some(e)),
            Outcome::NotTried => summary.not_tried += 1,
            Outcome::Elsewhere(k) => summary.elsewhere.push(k),
        }
    }
    if let Some(e) = fatal {
        // Nobody can be served this way: say why. Those sent before it are in the ledger.
        anyhow::bail!("{e}");
    }
    summary.sent.sort();
    summary.failed.sort();
    if !test_send && !summary.failed.is_empty() {
        tell_owner(transport, report, date, now, &summary).await;
    }
    Ok(summary)
}

/// What happened to one recipient.
enum Outcome {
    Sent(String),
    /// Recipient, error, and whether it was transient.
    Failed(String, String, bool),
    /// A failure that stops the whole send (TLS, login).
    Fatal(String),
    /// Not attempted: an earlier message failed fatally.
    NotTried,
    /// Claimed by another sender (another `serve` on the same store), or sent meanwhile.
    Elsewhere(String),
}

/// Everything one recipient's delivery needs, shared by the messages in flight.
struct Job<'a> {
    store: &'a Store,
    report: &'a Report,
    transport: &'a Transport,
    body: lettre::message::MultiPart,
    head: message::Head<'a>,
    /// False for a test send (`--to`): the ledger is for the real recipients.
    record: bool,
    /// Set by a fatal failure: nothing more can be sent.
    stop: std::sync::atomic::AtomicBool,
    shutdown: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Who this sender is in the ledger's claims: "host:pid".
    claimer: String,
    /// A pending claim older than this (seconds) belongs to a sender that is gone.
    lease: i64,
    /// Pending claims held by senders on this host that are no longer running.
    dead_claims: std::collections::HashMap<String, String>,
    force: bool,
}

impl Job<'_> {
    async fn one(&self, to: &Mailbox) -> Result<Outcome> {
        use std::sync::atomic::Ordering;
        if self.stop.load(Ordering::Relaxed)
            || self
                .shutdown
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Ok(Outcome::NotTried);
        }
        let (report, date) = (self.report, self.head.date);
        let k = key(to);
        let msg = message::addressed(&self.body, &self.head, to)?;
        let id = msg
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        let stamp = self.head.now.timestamp();
        let ledger_key = DeliveryKey {
            report: &report.name,
            date,
            recipient: &k,
        };
        if self.record {
            // Claimed before the message leaves: a crash leaves it pending, never "sent", and
            // another sender on the same store sees the claim and leaves this recipient alone.
            let won = self
                .store
                .claim_delivery(
                    &ledger_key,
                    &self.claimer,
                    stamp,
                    stamp - self.lease,
                    self.dead_claims.get(&k).map(String::as_str),
                    self.force,
                )
                .await?;
            if !won {
                return Ok(Outcome::Elsewhere(k));
            }
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
        match self.transport.deliver_with_retries(&msg, &stem).await {
            Ok(attempts) => {
                if self.record {
                    let outcome = DeliveryOutcome {
                        status: DeliveryStatus::Sent,
                        attempts,
                        error: None,
                        message_id: Some(&id),
                    };
                    self.store
                        .record_delivery(&ledger_key, &outcome, stamp)
                        .await
                        .with_context(|| {
                            format!("{k} was sent but the ledger could not record it")
                        })?;
                }
                Ok(Outcome::Sent(k))
            }
            Err((attempts, e)) => {
                let text = e.to_string();
                if self.record {
                    let outcome = DeliveryOutcome {
                        status: DeliveryStatus::Failed,
                        attempts,
                        error: Some(&text),
                        message_id: None,
                    };
                    self.store
                        .record_delivery(&ledger_key, &outcome, stamp)
                        .await?;
                }
                if matches!(e, DeliveryError::Fatal(_)) {
                    self.stop.store(true, Ordering::Relaxed);
                    return Ok(Outcome::Fatal(text));
                }
                let transient = matches!(e, DeliveryError::Transient(_));
                Ok(Outcome::Failed(k, text, transient))
            }
        }
    }
}

/// This sender in the ledger's claims: "host:pid".
fn claimer() -> String {
    format!("{}:{}", host(), std::process::id())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// A claim made by another process on this host that is no longer running (killed, or
/// crashed): its recipients can be taken over at once rather than after the lease.
fn claimer_is_gone(by: &str) -> bool {
    let Some((h, pid)) = by.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    h == host()
        && pid != std::process::id()
        && std::path::Path::new("/proc").is_dir()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// One short message to the report's owner listing who was not served.
async fn tell_owner(
    transport: &Transport,
    report: &Report,
    date: NaiveDate,
    now: DateTime<Tz>,
    s: &SendSummary,
) {
    let total = s.sent.len() + s.skipped.len() + s.failed.len();
    let mut body = format!(
        "The {} report for {date} was not delivered to {} of {total} recipients:\n\n",
        report.name,
        s.failed.len()
    );
    for (r, e) in &s.failed {
        body.push_str(&format!("- {r}: {e}\n"));
    }
    body.push_str("\nRun `dawnpost send` again to retry them; those already served are skipped.\n");
    let msg = lettre::Message::builder()
        .from(report.from.clone())
        .to(report.owner.clone())
        .subject(format!(
            "dawnpost: {} of {total} not served ({}, {date})",
            s.failed.len(),
            report.name
        ))
        .date(std::time::SystemTime::from(now))
        .message_id(Some(
            message::message_id(date, &report.owner, now, &report.from)
                .replace("<dawnpost.", "<dawnpost-failures."),
        ))
        .body(body);
    let sent = match msg {
        Ok(m) => transport
            .deliver(&m, &format!("{}-{date}-failures", report.name))
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::error!(owner = %report.owner, error = %e, "could not tell the owner about failed deliveries");
    }
}
