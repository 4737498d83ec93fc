//! Delivery: the digest to each recipient once per report date, through a channel, recorded
//! in the ledger so that nobody gets it twice and the ledger never says more than the
//! destination said.
//!
//! - `channel`: the seam, [`Channel`]: render once per copy, deliver once per recipient;
//! - `email`: the first channel, over `smtp` (our own connections, a deadline on every step,
//!   none reused after a fault) or the `outbox` folder of .eml files;
//! - `job`: one recipient through the ledger (claim, mark, deliver with retries, record);
//! - `owner`: the note to the report's owner after a run that needs a person;
//! - here: [`send`], the loop over recipients, generic over channels.
//!
//! What the ledger records: `sent` only on the destination's acceptance of that very message
//! (for SMTP, the 250 that answers its own end of data); `failed` on a refusal or when retries
//! ran out; `unknown` when the connection failed or went silent after the whole message was
//! written. An `unknown` recipient is never retried automatically (dawnpost prefers a
//! possibly lost message to a possible duplicate); `send --retry-unknown` sends to them again,
//! and the owner is told either way.

pub mod channel;
pub mod email;
pub mod handoff;
mod job;
pub mod live;
pub mod outbox;
mod outlet;
mod owner;
pub mod slack;
pub mod smtp;
pub mod teams;
mod web;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use futures_util::StreamExt as _;

use crate::config::{Config, Lead, RecipientKey, Report};
use crate::email::compose::{Composed, compose_for};
use crate::email::render::Templates;
use crate::shutdown::Shutdown;
use crate::store::{DeliveryStatus, Store};
use job::{Job, Outcome};

pub use channel::{Channel, Draft, Flash, Note, Receipt, Tally};
pub use email::EmailChannel;
pub use outlet::{Outlet, outlets};
pub use slack::SlackChannel;
pub use smtp::SmtpClient;
pub use teams::TeamsChannel;

/// Why one message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (a full disk, a 4xx reply, a refused or dropped connection).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help (a 5xx reply for this recipient, a file name too long).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The destination may or may not have accepted the message (no answer after all of it
    /// was sent): never retried automatically.
    #[error("delivery unknown: {0}")]
    Unknown(String),
    /// Nothing can be sent: TLS, authentication or the server's capabilities are wrong.
    #[error("{0}")]
    Fatal(String),
    /// Another sender holds this recipient's claim now: the message was held back.
    #[error("{0}")]
    Elsewhere(String),
}

/// How one send runs. `To` is the channel's recipient (a mailbox, for email).
#[derive(Debug, Clone)]
pub struct SendOptions<To> {
    /// A test send to these recipients only; not recorded in the ledger.
    pub to: Vec<To>,
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

// By hand: a derive would ask `To: Default`, which a mailbox is not.
impl<To> Default for SendOptions<To> {
    fn default() -> Self {
        SendOptions {
            to: Vec::new(),
            dry_run: false,
            force: false,
            retry_unknown: false,
            stop: None,
            import_failures: Vec::new(),
        }
    }
}

/// What a send did, recipient by recipient.
#[derive(Debug, Clone, Default)]
pub struct SendSummary {
    pub sent: Vec<RecipientKey>,
    /// Already served for this date (not sent again).
    pub skipped: Vec<RecipientKey>,
    /// (recipient, error)
    pub failed: Vec<(RecipientKey, String)>,
    /// How many of the failures were transient (worth trying again later).
    pub transient: usize,
    /// (recipient, why): the destination may or may not have the message.
    pub unknown: Vec<(RecipientKey, String)>,
    /// (recipient, why): the destination took the message, but the ledger could not be
    /// written; the next run records it as unknown and does not send it again.
    pub unrecorded: Vec<(RecipientKey, String)>,
    /// Unknown from an earlier run, not sent again without `retry_unknown`.
    pub held: Vec<RecipientKey>,
    /// Not attempted because the send was stopped (shutdown).
    pub not_tried: usize,
    /// Held by another sender working on the same store.
    pub elsewhere: Vec<RecipientKey>,
    /// With --dry-run: who would get it.
    pub would_send: Vec<RecipientKey>,
}

impl SendSummary {
    /// Everyone not known to be served: failed, unknown, or delivered but not recorded.
    pub fn unserved(&self) -> usize {
        self.failed.len() + self.unknown.len() + self.unrecorded.len()
    }
}

/// The section a recipient's copy leads with; a test send (`--to`) gets the common copy.
fn lead_of(report: &Report, to: &RecipientKey, test_send: bool) -> Option<Lead> {
    if test_send {
        return None;
    }
    report.leads.get(to).copied()
}

/// Sends `report`'s digest for `date` through `channel` to everyone not yet served.
pub async fn send<C: Channel>(
    store: &Store,
    config: &Config,
    report: &Report,
    channel: &C,
    date: NaiveDate,
    now: DateTime<Tz>,
    opts: &SendOptions<C::To>,
) -> Result<SendSummary> {
    let test_send = !opts.to.is_empty();
    let lease = config.claim_lease.as_secs().max(1) as i64;
    let me = claimer();
    let (dead_claims, reaped) = if test_send || opts.dry_run {
        (HashMap::new(), Vec::new())
    } else {
        abandoned(store, report, date, lease, &me).await?
    };
    let (mut summary, targets) = targets(store, report, channel, date, opts).await?;
    // Settled as unknown just now: this run's news, not an earlier run's.
    summary.held.retain(|r| !reaped.iter().any(|(k, _)| k == r));
    summary.unknown.extend(reaped);
    if opts.dry_run || targets.is_empty() {
        summary.would_send = targets.iter().map(|t| channel.key(t)).collect();
        if !summary.unknown.is_empty() {
            owner::tell(channel, report, date, now, &summary, &[]).await;
        }
        return Ok(summary);
    }
    let templates = Templates::load(config.email.templates_dir.as_deref())?;
    let composing = compose_for(store, config, &templates, report.period, date, now);
    let Some(composed) = unless_stopped(composing, opts.stop.as_deref()).await? else {
        // A digest still being composed at shutdown is given up: nothing has left yet.
        summary.not_tried = targets.len();
        return Ok(summary);
    };
    let draft = Draft {
        report,
        composed: &composed,
        templates: &templates,
        date,
        now,
    };
    let job = &Job {
        store,
        report,
        channel,
        copies: copies(channel, &draft, &targets, test_send)?,
        date,
        now,
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
    conclude(job, summary, outcomes, &composed, &opts.import_failures).await
}

/// The digest composed, or None once `stop` is set first.
async fn unless_stopped(
    composing: impl Future<Output = Result<Composed>>,
    stop: Option<&Shutdown>,
) -> Result<Option<Composed>> {
    match stop {
        Some(stop) => tokio::select! {
            c = composing => c.map(Some),
            () = stop.wait() => Ok(None),
        },
        None => composing.await.map(Some),
    }
}

/// One rendering per lead among those to be sent to, however many people share it; only the
/// addressing differs between recipients of a copy.
fn copies<C: Channel>(
    channel: &C,
    draft: &Draft<'_>,
    targets: &[C::To],
    test_send: bool,
) -> Result<BTreeMap<Option<Lead>, C::Copy>> {
    let mut copies = BTreeMap::new();
    for to in targets {
        let lead = lead_of(draft.report, &channel.key(to), test_send);
        if let std::collections::btree_map::Entry::Vacant(e) = copies.entry(lead) {
            e.insert(channel.render(draft, lead)?);
        }
    }
    Ok(copies)
}

/// Tallies the outcomes, records what was mailed, and tells the owner about anyone not
/// served; a fatal failure is the send's error, after those it kept from being tried are
/// recorded.
async fn conclude<C: Channel>(
    job: &Job<'_, C>,
    mut summary: SendSummary,
    outcomes: Vec<(RecipientKey, Result<Outcome>)>,
    composed: &Composed,
    import_failures: &[String],
) -> Result<SendSummary> {
    let (fatal, never_tried) = tally(&mut summary, outcomes)?;
    if job.record && !summary.sent.is_empty() {
        remember_mailed(job.store, job.date, &composed.digest.revisions).await;
    }
    if let Some(e) = fatal {
        // Nobody else can be served this way: those never tried are recorded as failed with
        // the reason, so the ledger and `status` count every recipient.
        if job.record {
            job.record_not_attempted(&never_tried, &e).await?;
        }
        anyhow::bail!("{e}");
    }
    if job.record && (summary.unserved() > 0 || !import_failures.is_empty()) {
        let (report, date, now) = (job.report, job.date, job.now);
        owner::tell(job.channel, report, date, now, &summary, import_failures).await;
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
) -> Result<(HashMap<RecipientKey, String>, Vec<(RecipientKey, String)>)> {
    let dead: HashMap<RecipientKey, String> = store
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
async fn deliver_all<C: Channel>(
    job: &Job<'_, C>,
    targets: Vec<C::To>,
) -> Vec<(RecipientKey, Result<Outcome>)> {
    let deliveries = futures_util::stream::iter(targets)
        .map(|to| async move {
            let k = job.channel.key(&to);
            (k, job.one(&to).await)
        })
        .buffer_unordered(job.channel.concurrency())
        .collect();
    if !job.record {
        return deliveries.await;
    }
    tokio::select! {
        outcomes = deliveries => outcomes,
        never = job.heartbeat() => match never {},
    }
}

/// Who is to be sent to: the report's audience on the channel (or the test recipients) less
/// those the ledger says are served, or unknown unless asked to retry them.
async fn targets<C: Channel>(
    store: &Store,
    report: &Report,
    channel: &C,
    date: NaiveDate,
    opts: &SendOptions<C::To>,
) -> Result<(SendSummary, Vec<C::To>)> {
    let test_send = !opts.to.is_empty();
    let recipients = if test_send {
        opts.to.clone()
    } else {
        channel.audience(report)
    };
    let settled = if test_send || opts.force {
        HashMap::new()
    } else {
        store.settled(&report.name, date).await?
    };
    let mut summary = SendSummary::default();
    let mut targets = Vec::new();
    for to in recipients {
        let k = channel.key(&to);
        match settled.get(&k) {
            Some(DeliveryStatus::Sent) => summary.skipped.push(k),
            Some(DeliveryStatus::Unknown) if !opts.retry_unknown => summary.held.push(k),
            _ => targets.push(to),
        }
    }
    Ok((summary, targets))
}

/// Adds each recipient's outcome to the summary; returns the fatal error, if one stopped
/// the send, and the recipients never tried.
fn tally(
    summary: &mut SendSummary,
    outcomes: Vec<(RecipientKey, Result<Outcome>)>,
) -> Result<(Option<String>, Vec<RecipientKey>)> {
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
