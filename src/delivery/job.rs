//! One recipient's delivery through the ledger, whatever the channel: claim, a durable mark
//! before the message can reach its destination, deliver with retries, record the outcome
//! (retried while the ledger is locked or unreachable), and the heartbeat that keeps a long
//! send's claims alive.
//!
//! The order is what makes a duplicate impossible: a claim that another sender takes over is
//! sent again only if its `data_at` was never written, and `data_at` is written (as a
//! compare-and-set on the claim) before the message can arrive (for SMTP, before DATA). So a
//! sender that dies, or cannot write its outcome, leaves a row that the next run settles as
//! `unknown`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use super::channel::{Channel, Receipt};
use super::{DeliveryError, lead_of};
use crate::config::{Lead, RecipientKey, Report};
use crate::shutdown::Shutdown;
use crate::store::{Claim, DeliveryKey, DeliveryOutcome, DeliveryStatus, Store};

/// What happened to one recipient.
#[derive(Debug)]
pub(super) enum Outcome {
    Sent,
    /// The error, and whether it was transient.
    Failed(String, bool),
    /// The server may have the message; recorded as such, not retried.
    Unknown(String),
    /// The server took the message (250), but the ledger could not be written: the row is
    /// left marked in flight, so the next run settles it as unknown and never sends again.
    Unrecorded(String),
    /// A failure that stops the whole send (TLS, login).
    Fatal(String),
    /// Not attempted: stopped by a fatal failure or a shutdown.
    NotTried,
    /// Claimed by another sender (another `serve` on the same store), or sent meanwhile.
    Elsewhere,
}

/// Everything one recipient's delivery needs, shared by the messages in flight.
pub(super) struct Job<'a, C: Channel> {
    pub store: &'a Store,
    pub report: &'a Report,
    pub channel: &'a C,
    /// The rendered copy for each lead section among the recipients.
    pub copies: BTreeMap<Option<Lead>, C::Copy>,
    /// The report date.
    pub date: NaiveDate,
    /// When the send runs (the ledger's stamps on outcomes).
    pub now: DateTime<Tz>,
    /// False for a test send (`--to`): the ledger is for the real recipients.
    pub record: bool,
    /// Set by a fatal failure: nothing more can be sent.
    pub fatal: AtomicBool,
    pub shutdown: Option<Arc<Shutdown>>,
    /// Who this sender is in the ledger's claims: "host:pid".
    pub claimer: String,
    /// A pending claim not renewed for this long (seconds) belongs to a sender that is gone.
    pub lease: i64,
    /// Pending claims held by senders on this host that are no longer running.
    pub dead_claims: HashMap<RecipientKey, String>,
    pub force: bool,
    pub retry_unknown: bool,
    /// How long an outcome the ledger refuses is written again.
    pub ledger_retry: Duration,
}

/// The wall clock, in epoch seconds, for claims and their renewals. Claims are judged
/// against each other across processes and hosts, so they take the real time, never a
/// run's own "now" (which a catch-up run or a test sets in the past).
#[allow(clippy::disallowed_methods)] // Claims are judged against the real time: an edge.
pub(super) fn wall() -> i64 {
    chrono::Utc::now().timestamp()
}

impl<C: Channel> Job<'_, C> {
    fn ledger_key<'k>(&'k self, recipient: &'k RecipientKey) -> DeliveryKey<'k> {
        DeliveryKey {
            report: &self.report.name,
            date: self.date,
            recipient,
        }
    }

    pub(super) async fn one(&self, to: &C::To) -> Result<Outcome> {
        if self.fatal.load(Ordering::SeqCst) || self.shutdown.as_ref().is_some_and(|s| s.is_set()) {
            return Ok(Outcome::NotTried);
        }
        let k = self.channel.key(to);
        let copy = &self.copies[&lead_of(self.report, &k, !self.record)];
        let msg = self.channel.address(copy, to)?;
        let reference = self.channel.reference(&msg);
        if self.record {
            match self.claim(&k).await {
                Ok(true) => {}
                Ok(false) => return Ok(Outcome::Elsewhere),
                Err(e) => {
                    tracing::warn!(recipient = %k, error = %format!("{e:#}"), "cannot claim");
                    let why =
                        format!("not attempted: the delivery ledger cannot be written: {e:#}");
                    return Ok(Outcome::Failed(why, true));
                }
            }
        }
        let mark = async || self.mark(&k).await;
        let (attempts, result) = self.deliver_with_retries(&msg, &k, &mark).await;
        // The destination's own word for the message when it gives one (a chat post's
        // timestamp); else what it was sent as, which is all an unknown delivery has.
        let reference = match &result {
            Ok(receipt) => receipt.reference.clone().or(reference),
            Err(_) => reference,
        };
        let (status, error, outcome) = self.judge(result);
        if !self.record {
            return Ok(outcome);
        }
        let recorded = DeliveryOutcome {
            status,
            attempts,
            error: error.as_deref(),
            message_id: reference
                .as_deref()
                .filter(|_| status != DeliveryStatus::Failed),
        };
        Ok(match self.record_outcome(&k, &recorded).await {
            Ok(()) => outcome,
            Err(e) => unrecorded(outcome, &e),
        })
    }

    /// Delivers, retrying transient failures with exponential backoff and jitter until the
    /// channel's retry window closes. Returns the attempts made either way.
    async fn deliver_with_retries(
        &self,
        msg: &C::Message,
        recipient: &RecipientKey,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> (u32, Result<Receipt, DeliveryError>) {
        let retry_for = self.channel.retry_for();
        let started = Instant::now();
        let mut delay = Duration::from_millis(500).min(retry_for / 4);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.channel.deliver(msg, mark).await {
                Err(DeliveryError::Transient(e)) if started.elapsed() + delay < retry_for => {
                    tracing::warn!(%recipient, attempt = attempts, error = %e, "transient failure; retrying in {delay:?}");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                other => return (attempts, other),
            }
        }
    }

    /// The ledger's status, its error text and the run's outcome for a delivery's result.
    fn judge(
        &self,
        result: Result<Receipt, DeliveryError>,
    ) -> (DeliveryStatus, Option<String>, Outcome) {
        let e = match result {
            Ok(_) => return (DeliveryStatus::Sent, None, Outcome::Sent),
            Err(e) => e,
        };
        let text = e.to_string();
        let outcome = match e {
            DeliveryError::Fatal(_) => {
                self.fatal.store(true, Ordering::SeqCst);
                Outcome::Fatal(text.clone())
            }
            DeliveryError::Unknown(_) => Outcome::Unknown(text.clone()),
            DeliveryError::Transient(_) => Outcome::Failed(text.clone(), true),
            DeliveryError::Permanent(_) => Outcome::Failed(text.clone(), false),
            // The claim is another sender's: what it records stands.
            DeliveryError::Elsewhere(_) => Outcome::Elsewhere,
        };
        let status = match outcome {
            Outcome::Unknown(_) => DeliveryStatus::Unknown,
            _ => DeliveryStatus::Failed,
        };
        (status, Some(text), outcome)
    }

    /// Claimed before the message leaves: a crash leaves it pending, never "sent", and
    /// another sender on the same store sees the claim and leaves this recipient alone.
    async fn claim(&self, k: &RecipientKey) -> Result<bool> {
        let now = wall();
        let claim = Claim {
            claimer: &self.claimer,
            now,
            stale_before: now - self.lease,
            takeover: self.dead_claims.get(k).map(String::as_str),
            force: self.force,
            retry_unknown: self.retry_unknown,
        };
        self.store.claim_delivery(&self.ledger_key(k), &claim).await
    }

    /// The durable mark written just before a message can reach the server. Without it
    /// written, the message does not leave; a claim no longer ours means someone else owns
    /// this recipient now.
    async fn mark(&self, k: &RecipientKey) -> Result<(), DeliveryError> {
        if !self.record {
            return Ok(());
        }
        match self
            .store
            .mark_data(&self.ledger_key(k), &self.claimer, wall())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError::Elsewhere(
                "the claim was taken over by another sender before the message left; \
                 nothing was sent"
                    .into(),
            )),
            Err(e) => Err(DeliveryError::Transient(format!(
                "the delivery ledger cannot be written, so the message was held back: {e:#}"
            ))),
        }
    }

    /// Writes the outcome, again and again with backoff while the ledger refuses it (a
    /// SQLite store locked by another writer, a PostgreSQL server restarting), for
    /// `ledger_retry` at most.
    async fn record_outcome(&self, k: &RecipientKey, outcome: &DeliveryOutcome<'_>) -> Result<()> {
        let key = self.ledger_key(k);
        let stamp = self.now.timestamp();
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            match self
                .store
                .record_delivery(&key, outcome, &self.claimer, stamp)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::warn!(recipient = %k, "not recorded: another sender holds the claim now");
                    return Ok(());
                }
                Err(e) if started.elapsed() + delay < self.ledger_retry => {
                    tracing::warn!(recipient = %k, error = %format!("{e:#}"), "cannot record the outcome; trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Keeps this sender's claims on the report date fresh while messages are in flight,
    /// so that no other sender takes them for a dead one's. Runs until dropped.
    pub(super) async fn heartbeat(&self) -> std::convert::Infallible {
        let every = Duration::from_millis(self.lease.max(1).unsigned_abs() * 250);
        loop {
            tokio::time::sleep(every).await;
            let renewed = self
                .store
                .renew_claims(&self.report.name, self.date, &self.claimer, wall())
                .await;
            if let Err(e) = renewed {
                // A claim that goes stale meanwhile is safe: the mark before each message
                // checks that the claim is still ours.
                tracing::warn!(error = %format!("{e:#}"), "cannot renew this sender's claims");
            }
        }
    }

    /// Records the recipients a fatal failure kept from being tried, where the ledger has
    /// nothing better to say about them.
    pub(super) async fn record_not_attempted(
        &self,
        never_tried: &[RecipientKey],
        fatal: &str,
    ) -> Result<()> {
        let stamp = self.now.timestamp();
        let why = format!("not attempted: {fatal}");
        for k in never_tried {
            self.store
                .record_not_attempted(&self.ledger_key(k), &why, stamp)
                .await?;
        }
        Ok(())
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

/// What a run reports when the ledger would not take a delivery's outcome.
fn unrecorded(outcome: Outcome, e: &anyhow::Error) -> Outcome {
    tracing::error!(error = %format!("{e:#}"), "the outcome of a delivery could not be recorded");
    match outcome {
        Outcome::Sent => Outcome::Unrecorded(format!(
            "delivered but not recorded (the ledger could not be written: {e:#}); the next \
             run records it as unknown and does not send it again"
        )),
        Outcome::Failed(why, transient) => Outcome::Failed(
            format!("{why} (and the ledger could not be written: {e:#})"),
            transient,
        ),
        Outcome::Unknown(why) => Outcome::Unknown(format!(
            "{why} (and the ledger could not be written: {e:#})"
        )),
        other => other,
    }
}

/// Settles the claims of senders that are gone and whose message may have reached the
/// server as `unknown`, before anyone could take them over and send again. Returns them
/// with the reason, for the run's summary.
pub(super) async fn reap(
    store: &Store,
    report: &str,
    date: NaiveDate,
    lease: i64,
    gone: &[&str],
) -> Result<Vec<(RecipientKey, String)>> {
    let now = wall();
    let reaped = store
        .reap_abandoned(report, date, now - lease, gone, now)
        .await?;
    for (r, why) in &reaped {
        tracing::warn!(recipient = %r, "delivery unknown: {why}");
    }
    Ok(reaped)
}
