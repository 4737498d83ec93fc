//! Delivery: one message per recipient through a transport, recorded in the ledger so that
//! each person gets a report date's digest once, and the ledger never says more than the
//! server said.
//!
//! - `smtp`: our own SMTP connections, a deadline on every step, none reused after a fault;
//! - `outbox`: the folder of .eml files used when no mail server is configured.
//!
//! What the ledger records: `sent` only on the 250 that answers a message's own end of
//! data; `failed` on a refusal or when retries ran out; `unknown` when the connection failed
//! or went silent after the end of the message was written. An `unknown` recipient is never
//! retried automatically (dawnpost prefers a possibly lost message to a possible duplicate);
//! `send --retry-unknown` sends to them again, and the owner is told either way.

pub mod outbox;
pub mod smtp;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use futures_util::StreamExt as _;
use lettre::message::Mailbox;

use crate::config::{Config, Lead, Report};
use crate::email::compose::compose;
use crate::email::message;
use crate::email::render::Templates;
use crate::shutdown::Shutdown;
use crate::store::{Claim, DeliveryKey, DeliveryOutcome, DeliveryStatus, Store};

pub use smtp::SmtpClient;

/// Why one message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (a full disk, a 4xx reply, a refused or dropped connection).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx reply for this recipient, a file name too long).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The server may or may not have accepted the message: never retried automatically.
    #[error("delivery unknown: {0}")]
    Unknown(String),
    /// Nothing can be sent: TLS, authentication or the server's capabilities are wrong.
    #[error("{0}")]
    Fatal(String),
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
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

impl Transport {
    pub fn from_config(config: &Config) -> Result<Transport> {
        let Some(s) = &config.smtp else {
            return Ok(Transport::Outbox(config.outbox.clone()));
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
        Ok(Transport::Smtp {
            client: Arc::new(client),
            retry_for: s.retry_for,
            connections: s.connections,
        })
    }

    /// How long a claim may stay pending while its sender is still at work: every retry of
    /// one message fits in it.
    fn lease(&self) -> Duration {
        match self {
            Transport::Outbox(_) => Duration::from_secs(60),
            Transport::Smtp {
                client, retry_for, ..
            } => *retry_for + client.deadline() * 2 + Duration::from_secs(60),
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
            Transport::Outbox(dir) => outbox::write(dir, file_stem, msg.formatted()).await,
            Transport::Smtp { client, .. } => client.send(msg.envelope(), &msg.formatted()).await,
        }
    }

    /// Delivers, retrying transient failures with exponential backoff and jitter until the
    /// transport's retry window closes. Returns the attempts made either way.
    async fn deliver_with_retries(
        &self,
        msg: &lettre::Message,
        file_stem: &str,
        recipient: &str,
    ) -> (u32, Result<(), DeliveryError>) {
        let retry_for = match self {
            Transport::Smtp { retry_for, .. } => *retry_for,
            Transport::Outbox(_) => Duration::ZERO,
        };
        let started = Instant::now();
        let mut delay = Duration::from_millis(500).min(retry_for / 4);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.deliver(msg, file_stem).await {
                Err(DeliveryError::Transient(e)) if started.elapsed() + delay < retry_for => {
                    tracing::warn!(%recipient, attempt = attempts, error = %e, "transient failure; retrying in {delay:?}");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                other => return (attempts, other),
            }
        }
    }

    /// Closes idle connections.
    pub async fn close(&self) {
        if let Transport::Smtp { client, .. } = self {
            client.close().await;
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

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Outbox(d) => f.write_str(&outbox::describe(d)),
            Transport::Smtp { client, .. } => f.write_str(&client.describe),
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
    /// Send again to recipients whose delivery is unknown (a possible duplicate).
    pub retry_unknown: bool,
    /// Set on shutdown: no new message starts; those in flight finish and are recorded, and
    /// a digest still being composed is abandoned.
    pub stop: Option<Arc<Shutdown>>,
    /// Files `serve` could not import before this run (`path: reason`): the owner is told
    /// of them with any recipients not served.
    pub import_failures: Vec<String>,
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
    /// (recipient, why): the server may or may not have the message.
    pub unknown: Vec<(String, String)>,
    /// Unknown from an earlier run, not sent again without `retry_unknown`.
    pub held: Vec<String>,
    /// Not attempted because the send was stopped (shutdown).
    pub not_tried: usize,
    /// Held by another sender working on the same store.
    pub elsewhere: Vec<String>,
    /// With --dry-run: who would get it.
    pub would_send: Vec<String>,
}

impl SendSummary {
    /// Everyone not known to be served: failed or unknown.
    pub fn unserved(&self) -> usize {
        self.failed.len() + self.unknown.len()
    }
}

fn key(m: &Mailbox) -> String {
    m.email.to_string().to_lowercase()
}

/// The section a recipient's copy leads with; a test send (`--to`) gets the common copy.
fn lead_of(report: &Report, to: &Mailbox, test_send: bool) -> Option<Lead> {
    if test_send {
        return None;
    }
    report.leads.get(&key(to)).copied()
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
    let (mut summary, targets) = targets(store, report, date, opts).await?;
    if opts.dry_run || targets.is_empty() {
        summary.would_send = targets.iter().map(key).collect();
        return Ok(summary);
    }
    let dead_claims = if test_send {
        HashMap::new()
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
    let composing = compose(store, config, &templates, date, now);
    let composed = match &opts.stop {
        // A digest still being composed at shutdown is given up: nothing has left yet.
        Some(stop) => tokio::select! {
            c = composing => c?,
            () = stop.wait() => {
                summary.not_tried = targets.len();
                return Ok(summary);
            }
        },
        None => composing.await?,
    };
    // One rendering per lead among those to be sent to, however many people share it.
    let mut bodies = BTreeMap::new();
    for to in &targets {
        let lead = lead_of(report, to, test_send);
        if let std::collections::btree_map::Entry::Vacant(e) = bodies.entry(lead) {
            e.insert(message::body(&composed.variant(&templates, lead)?));
        }
    }
    let job = &Job {
        store,
        report,
        transport,
        bodies,
        head: message::Head {
            subject: &composed.rendered.subject,
            from: &report.from,
            reply_to: report.reply_to.as_ref(),
            date,
            now,
            list: Some(message::List {
                report: &report.name,
                owner: &report.owner,
            }),
        },
        record: !test_send,
        fatal: AtomicBool::new(false),
        shutdown: opts.stop.clone(),
        claimer: claimer(),
        lease: transport.lease().as_secs() as i64,
        dead_claims,
        force: opts.force,
        retry_unknown: opts.retry_unknown,
    };
    // Several messages in flight, each on its own connection: the server's time per
    // message, not ours, is what a large send waits on.
    let outcomes: Vec<(String, Result<Outcome>)> = futures_util::stream::iter(targets)
        .map(|to| async move {
            let k = key(&to);
            (k, job.one(&to).await)
        })
        .buffer_unordered(transport.connections())
        .collect()
        .await;
    let (fatal, never_tried) = tally(&mut summary, outcomes)?;
    if let Some(e) = fatal {
        // Nobody else can be served this way: those never tried are recorded as failed with
        // the reason, so the ledger and `status` count every recipient.
        if job.record {
            job.record_not_attempted(&never_tried, &e).await?;
        }
        anyhow::bail!("{e}");
    }
    if !test_send && (summary.unserved() > 0 || !opts.import_failures.is_empty()) {
        tell_owner(
            transport,
            report,
            date,
            now,
            &summary,
            &opts.import_failures,
        )
        .await;
    }
    Ok(summary)
}

/// Who is to be sent to: the report's recipients (or the test addresses) less those the
/// ledger says are served, or unknown unless asked to retry them.
async fn targets(
    store: &Store,
    report: &Report,
    date: NaiveDate,
    opts: &SendOptions,
) -> Result<(SendSummary, Vec<Mailbox>)> {
    let test_send = !opts.to.is_empty();
    let recipients = if test_send {
        &opts.to
    } else {
        &report.recipients
    };
    let settled = if test_send || opts.force {
        HashMap::new()
    } else {
        store.settled(&report.name, date).await?
    };
    let mut summary = SendSummary::default();
    let mut targets = Vec::new();
    for m in recipients {
        match settled.get(&key(m)) {
            Some(DeliveryStatus::Sent) => summary.skipped.push(key(m)),
            Some(DeliveryStatus::Unknown) if !opts.retry_unknown => summary.held.push(key(m)),
            _ => targets.push(m.clone()),
        }
    }
    Ok((summary, targets))
}

/// Adds each recipient's outcome to the summary; returns the fatal error, if one stopped
/// the send, and the recipients never tried.
fn tally(
    summary: &mut SendSummary,
    outcomes: Vec<(String, Result<Outcome>)>,
) -> Result<(Option<String>, Vec<String>)> {
    let mut fatal = None;
    let mut never_tried = Vec::new();
    for (k, outcome) in outcomes {
        match outcome? {
            Outcome::Sent => summary.sent.push(k),
            Outcome::Failed(e, transient) => {
                summary.transient += usize::from(transient);
                summary.failed.push((k, e));
            }
            Outcome::Unknown(e) => summary.unknown.push((k, e)),
            Outcome::Fatal(e) => {
                summary.failed.push((k, e.clone()));
                fatal = fatal.or(Some(e));
            }
            Outcome::NotTried => never_tried.push(k),
            Outcome::Elsewhere => summary.elsewhere.push(k),
        }
    }
    match &fatal {
        Some(e) => summary.failed.extend(
            never_tried
                .iter()
                .map(|k| (k.clone(), format!("not attempted: {e}"))),
        ),
        None => summary.not_tried = never_tried.len(),
    }
    summary.sent.sort();
    summary.failed.sort();
    summary.unknown.sort();
    Ok((fatal, never_tried))
}

/// What happened to one recipient.
enum Outcome {
    Sent,
    /// The error, and whether it was transient.
    Failed(String, bool),
    /// The server may have the message; recorded as such, not retried.
    Unknown(String),
    /// A failure that stops the whole send (TLS, login).
    Fatal(String),
    /// Not attempted: stopped by a fatal failure or a shutdown.
    NotTried,
    /// Claimed by another sender (another `serve` on the same store), or sent meanwhile.
    Elsewhere,
}

/// Everything one recipient's delivery needs, shared by the messages in flight.
struct Job<'a> {
    store: &'a Store,
    report: &'a Report,
    transport: &'a Transport,
    /// The message body for each lead section among the recipients.
    bodies: BTreeMap<Option<Lead>, lettre::message::MultiPart>,
    head: message::Head<'a>,
    /// False for a test send (`--to`): the ledger is for the real recipients.
    record: bool,
    /// Set by a fatal failure: nothing more can be sent.
    fatal: AtomicBool,
    shutdown: Option<Arc<Shutdown>>,
    /// Who this sender is in the ledger's claims: "host:pid".
    claimer: String,
    /// A pending claim older than this (seconds) belongs to a sender that is gone.
    lease: i64,
    /// Pending claims held by senders on this host that are no longer running.
    dead_claims: HashMap<String, String>,
    force: bool,
    retry_unknown: bool,
}

impl Job<'_> {
    fn ledger_key<'k>(&'k self, recipient: &'k str) -> DeliveryKey<'k> {
        DeliveryKey {
            report: &self.report.name,
            date: self.head.date,
            recipient,
        }
    }

    async fn one(&self, to: &Mailbox) -> Result<Outcome> {
        if self.fatal.load(Ordering::SeqCst) || self.shutdown.as_ref().is_some_and(|s| s.is_set()) {
            return Ok(Outcome::NotTried);
        }
        let k = key(to);
        let body = &self.bodies[&lead_of(self.report, to, !self.record)];
        let msg = message::addressed(body, &self.head, to)?;
        let id = msg
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        let stamp = self.head.now.timestamp();
        if self.record && !self.claim(&k, stamp).await? {
            return Ok(Outcome::Elsewhere);
        }
        // Unique per message (the Message-ID's hash), so a forced re-send keeps the first file.
        let unique = id
            .trim_matches(['<', '>'])
            .split(['.', '@'])
            .nth(2)
            .unwrap_or_default();
        let stem = outbox::file_stem(&self.report.name, &self.head.date.to_string(), &k, unique);
        let (attempts, result) = self.transport.deliver_with_retries(&msg, &stem, &k).await;
        let (status, error, outcome) = match result {
            Ok(()) => (DeliveryStatus::Sent, None, Outcome::Sent),
            Err(e) => {
                let text = e.to_string();
                let outcome = match e {
                    DeliveryError::Fatal(_) => {
                        self.fatal.store(true, Ordering::SeqCst);
                        Outcome::Fatal(text.clone())
                    }
                    DeliveryError::Unknown(_) => Outcome::Unknown(text.clone()),
                    DeliveryError::Transient(_) => Outcome::Failed(text.clone(), true),
                    DeliveryError::Permanent(_) => Outcome::Failed(text.clone(), false),
                };
                let status = match outcome {
                    Outcome::Unknown(_) => DeliveryStatus::Unknown,
                    _ => DeliveryStatus::Failed,
                };
                (status, Some(text), outcome)
            }
        };
        if self.record {
            let recorded = DeliveryOutcome {
                status,
                attempts,
                error: error.as_deref(),
                message_id: (status != DeliveryStatus::Failed).then_some(id.as_str()),
            };
            self.store
                .record_delivery(&self.ledger_key(&k), &recorded, stamp)
                .await
                .with_context(|| format!("the outcome for {k} could not be recorded"))?;
        }
        Ok(outcome)
    }

    /// Claimed before the message leaves: a crash leaves it pending, never "sent", and
    /// another sender on the same store sees the claim and leaves this recipient alone.
    async fn claim(&self, k: &str, stamp: i64) -> Result<bool> {
        let claim = Claim {
            claimer: &self.claimer,
            now: stamp,
            stale_before: stamp - self.lease,
            takeover: self.dead_claims.get(k).map(String::as_str),
            force: self.force,
            retry_unknown: self.retry_unknown,
        };
        self.store.claim_delivery(&self.ledger_key(k), &claim).await
    }

    /// Records the recipients a fatal failure kept from being tried, where the ledger has
    /// nothing better to say about them.
    async fn record_not_attempted(&self, never_tried: &[String], fatal: &str) -> Result<()> {
        let stamp = self.head.now.timestamp();
        let why = format!("not attempted: {fatal}");
        for k in never_tried {
            self.store
                .record_not_attempted(&self.ledger_key(k), &why, stamp)
                .await?;
        }
        Ok(())
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

/// The owner's message: who was not served, whose delivery is unknown, and which files
/// could not be imported.
fn owner_body(report: &Report, date: NaiveDate, s: &SendSummary, files: &[String]) -> String {
    let total = s.sent.len() + s.skipped.len() + s.unserved();
    let mut body = if s.unserved() > 0 {
        format!(
            "The {} report for {date} was not confirmed for {} of {total} recipients.\n",
            report.name,
            s.unserved()
        )
    } else {
        format!(
            "The {} report for {date} went to all {total} recipients, without the files below.\n",
            report.name
        )
    };
    if !files.is_empty() {
        body.push_str("\nFiles not imported (left in place; nothing of them was loaded):\n");
        for f in files.iter().take(20) {
            body.push_str(&format!("- {}\n", crate::text::cap(f, 2_000)));
        }
        if files.len() > 20 {
            body.push_str(&format!("- … and {} more\n", files.len() - 20));
        }
        body.push_str("Fix a file (or replace it) and `serve` imports it on its next run.\n");
    }
    if !s.failed.is_empty() {
        body.push_str("\nNot delivered:\n");
        for (r, e) in &s.failed {
            body.push_str(&format!("- {r}: {e}\n"));
        }
        body.push_str(
            "Run `dawnpost send` again to retry them; those already served are skipped.\n",
        );
    }
    if !s.unknown.is_empty() {
        body.push_str("\nDelivery unknown (the server may or may not have the message):\n");
        for (r, e) in &s.unknown {
            body.push_str(&format!("- {r}: {e}\n"));
        }
        body.push_str(
            "These are not retried, to avoid duplicates. Check the server's log, then run \
             `dawnpost send --retry-unknown` for those that did not arrive.\n",
        );
    }
    body
}

/// One short message to the report's owner listing who was not served.
async fn tell_owner(
    transport: &Transport,
    report: &Report,
    date: NaiveDate,
    now: DateTime<Tz>,
    s: &SendSummary,
    files: &[String],
) {
    let total = s.sent.len() + s.skipped.len() + s.unserved();
    let subject = if s.unserved() > 0 {
        format!(
            "dawnpost: {} of {total} not served ({}, {date})",
            s.unserved(),
            report.name
        )
    } else {
        format!(
            "dawnpost: {} file(s) not imported ({}, {date})",
            files.len(),
            report.name
        )
    };
    let msg = lettre::Message::builder()
        .from(report.from.clone())
        .to(report.owner.clone())
        .subject(subject)
        .date(std::time::SystemTime::from(now))
        .message_id(Some(
            message::message_id(date, &report.owner, now, &report.from)
                .replace("<dawnpost.", "<dawnpost-failures."),
        ))
        .body(owner_body(report, date, s, files));
    let stem = outbox::file_stem(
        &report.name,
        &date.to_string(),
        "failures",
        &now.to_rfc3339(),
    );
    let sent = match msg {
        Ok(m) => transport
            .deliver(&m, &stem)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::error!(owner = %report.owner, error = %e, "could not tell the owner about failed deliveries");
    }
}
