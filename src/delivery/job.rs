//! One recipient's delivery through the ledger: claim, a durable mark before the message can
//! reach the server, deliver with retries, record the outcome (retried while the ledger is
//! locked or unreachable), and the heartbeat that keeps a long send's claims alive.
//!
//! The order is what makes a duplicate impossible: a claim that another sender takes over is
//! sent again only if its `data_at` was never written, and `data_at` is written (as a
//! compare-and-set on the claim) before the message's end of data can leave. So a sender that
//! dies, or cannot write its outcome, leaves a row that the next run settles as `unknown`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use chrono::NaiveDate;
use lettre::message::Mailbox;

use super::{DeliveryError, Transport, key, lead_of, outbox};
use crate::config::{Lead, Report};
use crate::email::message;
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
pub(super) struct Job<'a> {
    pub store: &'a Store,
    pub report: &'a Report,
    pub transport: &'a Transport,
    /// The message body for each lead section among the recipients.
    pub bodies: BTreeMap<Option<Lead>, lettre::message::MultiPart>,
    pub head: message::Head<'a>,
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
    pub dead_claims: HashMap<String, String>,
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

impl Job<'_> {
    fn ledger_key<'k>(&'k self, recipient: &'k str) -> DeliveryKey<'k> {
        DeliveryKey {
            report: &self.report.name,
            date: self.head.date,
            recipient,
        }
    }

    pub(super) async fn one(&self, to: &Mailbox) -> Result<Outcome> {
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
        let stem = outbox::file_stem(
            &self.report.name,
            &self.head.date.to_string(),
            &k,
            unique_part(&id),
        );
        let mark = async || self.mark(&k).await;
        let (attempts, result) = self
            .transport
            .deliver_with_retries(&msg, &stem, &k, &mark)
            .await;
        let (status, error, outcome) = self.judge(result);
        if !self.record {
            return Ok(outcome);
        }
        let recorded = DeliveryOutcome {
            status,
            attempts,
            error: error.as_deref(),
            message_id: (status != DeliveryStatus::Failed).then_some(id.as_str()),
        };
        Ok(match self.record_outcome(&k, &recorded).await {
            Ok(()) => outcome,
            Err(e) => unrecorded(outcome, &e),
        })
    }

    /// The ledger's status, its error text and the run's outcome for a delivery's result.
    fn judge(
        &self,
        result: Result<(), DeliveryError>,
    ) -> (DeliveryStatus, Option<String>, Outcome) {
        let e = match result {
            Ok(()) => return (DeliveryStatus::Sent, None, Outcome::Sent),
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
    async fn claim(&self, k: &str) -> Result<bool> {
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
    async fn mark(&self, k: &str) -> Result<(), DeliveryError> {
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
    async fn record_outcome(&self, k: &str, outcome: &DeliveryOutcome<'_>) -> Result<()> {
        let key = self.ledger_key(k);
        let stamp = self.head.now.timestamp();
        let started = std::time::Instant::now();
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
                .renew_claims(&self.report.name, self.head.date, &self.claimer, wall())
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
        never_tried: &[String],
        fatal: &str,
    ) -> Result<()> {
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

/// The part of a Message-ID unique to one message (its hash), so a forced re-send to the
/// outbox keeps the first file.
fn unique_part(id: &str) -> &str {
    id.trim_matches(['<', '>'])
        .split(['.', '@'])
        .nth(2)
        .unwrap_or_default()
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
) -> Result<Vec<(String, String)>> {
    let now = wall();
    let reaped = store
        .reap_abandoned(report, date, now - lease, gone, now)
        .await?;
    for (r, why) in &reaped {
        tracing::warn!(recipient = %r, "delivery unknown: {why}");
    }
    Ok(reaped)
}
