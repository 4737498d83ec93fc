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

mod job;
pub mod outbox;
mod owner;
pub mod smtp;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use futures_util::StreamExt as _;
use lettre::message::Mailbox;

use crate::config::{Config, Lead, Report};
use crate::email::compose::compose;
use crate::email::message;
use crate::email::render::Templates;
use crate::shutdown::Shutdown;
use crate::store::{DeliveryStatus, Store};
use job::{Job, Outcome};

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
    /// Another sender holds this recipient's claim now: the message was held back.
    #[error("{0}")]
    Elsewhere(String),
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

    /// How many messages may be in flight at once.
    fn connections(&self) -> usize {
        match self {
            Transport::Outbox(_) => 1,
            Transport::Smtp { connections, .. } => *connections,
        }
    }

    /// Delivers one message. `mark` is awaited at the last moment before the message can
    /// reach the server (before DATA; before an .eml file is moved into place), and its error
    /// holds the message back: the ledger's durable note that it may have left.
    async fn deliver(
        &self,
        msg: &lettre::Message,
        file_stem: &str,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        match self {
            Transport::Outbox(dir) => outbox::write(dir, file_stem, msg.formatted(), mark).await,
            Transport::Smtp { client, .. } => {
                client.send(msg.envelope(), &msg.formatted(), mark).await
            }
        }
    }

    /// Delivers, retrying transient failures with exponential backoff and jitter until the
    /// transport's retry window closes. Returns the attempts made either way.
    async fn deliver_with_retries(
        &self,
        msg: &lettre::Message,
        file_stem: &str,
        recipient: &str,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
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
            match self.deliver(msg, file_stem, mark).await {
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
#[allow(clippy::disallowed_methods)] // Only the clock's nanoseconds, as a little randomness.
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
    /// (recipient, why): the server took the message, but the ledger could not be written;
    /// the next run records it as unknown and does not send it again.
    pub unrecorded: Vec<(String, String)>,
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
    /// Everyone not known to be served: failed, unknown, or delivered but not recorded.
    pub fn unserved(&self) -> usize {
        self.failed.len() + self.unknown.len() + self.unrecorded.len()
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
    let lease = config.claim_lease.as_secs().max(1) as i64;
    let me = claimer();
    let (dead_claims, reaped) = if test_send || opts.dry_run {
        (HashMap::new(), Vec::new())
    } else {
        abandoned(store, report, date, lease, &me).await?
    };
    let (mut summary, targets) = targets(store, report, date, opts).await?;
    // Settled as unknown just now: this run's news, not an earlier run's.
    summary.held.retain(|r| !reaped.iter().any(|(k, _)| k == r));
    summary.unknown.extend(reaped);
    if opts.dry_run || targets.is_empty() {
        summary.would_send = targets.iter().map(key).collect();
        if !summary.unknown.is_empty() {
            owner::tell(transport, report, date, now, &summary, &[]).await;
        }
        return Ok(summary);
    }
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
        claimer: me,
        lease,
        dead_claims,
        force: opts.force,
        retry_unknown: opts.retry_unknown,
        ledger_retry: config.ledger_retry,
    };
    let outcomes = deliver_all(job, targets).await;
    let (fatal, never_tried) = tally(&mut summary, outcomes)?;
    if job.record && !summary.sent.is_empty() {
        remember_mailed(store, date, &composed.digest.revisions).await;
    }
    if let Some(e) = fatal {
        // Nobody else can be served this way: those never tried are recorded as failed with
        // the reason, so the ledger and `status` count every recipient.
        if job.record {
            job.record_not_attempted(&never_tried, &e).await?;
        }
        anyhow::bail!("{e}");
    }
    if !test_send && (summary.unserved() > 0 || !opts.import_failures.is_empty()) {
        owner::tell(
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

/// Records the date's headline figures as mailed (the first mailing stands) and the revised
/// days' as told, so the next email says each revision once. A failure to record costs a
/// repeated or missed revision note, never a delivery: it is logged, not raised.
async fn remember_mailed(store: &Store, date: NaiveDate, r: &crate::digest::revisions::Revisions) {
    let at = job::wall();
    if let Err(e) = store.record_mailed(date, &r.mailed, &r.revised, at).await {
        tracing::warn!(%date, error = %format!("{e:#}"), "cannot record the figures mailed");
    }
}

/// Pending claims whose sender is gone: those on this host that are no longer running (and
/// this process's own, left by an earlier run of it), to be taken over at once if their
/// message never left; and every such claim whose message may have reached the server,
/// settled as unknown now (with a stale one from any host), with why.
async fn abandoned(
    store: &Store,
    report: &Report,
    date: NaiveDate,
    lease: i64,
    me: &str,
) -> Result<(HashMap<String, String>, Vec<(String, String)>)> {
    let dead: HashMap<String, String> = store
        .pending_claims(&report.name, date)
        .await?
        .into_iter()
        .filter(|(_, by)| by == me || claimer_is_gone(by))
        .collect();
    let mut gone: Vec<&str> = dead.values().map(String::as_str).collect();
    gone.sort_unstable();
    gone.dedup();
    let reaped = job::reap(store, &report.name, date, lease, &gone).await?;
    Ok((dead, reaped))
}

/// Every target's delivery, several messages in flight, each on its own connection (the
/// server's time per message, not ours, is what a large send waits on), while a heartbeat
/// keeps this sender's claims fresh.
async fn deliver_all(job: &Job<'_>, targets: Vec<Mailbox>) -> Vec<(String, Result<Outcome>)> {
    let deliveries = futures_util::stream::iter(targets)
        .map(|to| async move {
            let k = key(&to);
            (k, job.one(&to).await)
        })
        .buffer_unordered(job.transport.connections())
        .collect();
    if !job.record {
        return deliveries.await;
    }
    tokio::select! {
        outcomes = deliveries => outcomes,
        never = job.heartbeat() => match never {},
    }
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
            Outcome::Unrecorded(e) => summary.unrecorded.push((k, e)),
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
    summary.unrecorded.sort();
    Ok((fatal, never_tried))
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
