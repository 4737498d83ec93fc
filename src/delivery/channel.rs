//! The seam between the ledger loop and a way of delivering: a [`Channel`] renders the digest
//! once per copy, addresses and delivers it once per recipient, and says what came back.
//!
//! The loop in `delivery` owns everything a channel must not get wrong on its own: claims,
//! the durable mark before a message can arrive, retries, the outcome written to the ledger,
//! the tally and the owner's note. A channel owns only its messages and its wire.

use std::fmt;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use super::DeliveryError;
use crate::config::{Lead, RecipientKey, Report};
use crate::email::compose::Composed;
use crate::email::render::Templates;

/// What every copy of one send is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub report: &'a Report,
    /// The digest, and its common copy rendered by the templates.
    pub composed: &'a Composed,
    pub templates: &'a Templates,
    /// The report date.
    pub date: NaiveDate,
    /// When the send runs, in the shop's zone.
    pub now: DateTime<Tz>,
}

/// The owner's note on a send that needs a person: what to say, and about which run.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    pub report: &'a Report,
    pub date: NaiveDate,
    pub now: DateTime<Tz>,
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// A short message of its own, for any channel to word: an alert as it happens, or a
/// campaign's handoff note.
#[derive(Debug, Clone)]
pub struct Flash<'a> {
    pub report: &'a Report,
    /// What makes it unique: an alert's mark and level ("stock:KNT-003:2026-12-06#2"), a
    /// handoff's campaign and fingerprint.
    pub mark: &'a str,
    pub date: NaiveDate,
    pub now: DateTime<Tz>,
    /// What the note is, for a file name: the report's name for an alert, "handoff".
    pub topic: &'a str,
    headline: String,
    body: String,
}

impl<'a> Flash<'a> {
    /// An alert found as it happened.
    pub fn alert(
        report: &'a Report,
        shop: &str,
        alert: &crate::digest::AlertView,
        mark: &'a str,
        date: NaiveDate,
        now: DateTime<Tz>,
    ) -> Flash<'a> {
        let word = match alert.tone {
            "critical" => "✗ Critical",
            _ => "! Warning",
        };
        Flash {
            report,
            mark,
            date,
            now,
            topic: &report.name,
            headline: format!("{word}: {}", alert.title),
            body: format!(
                "{}\n\nWhat to do: {}\n\n{shop}, found at {}; the next morning's report lists it again.",
                alert.detail,
                alert.action,
                now.format("%H:%M %Z")
            ),
        }
    }

    /// A message of a headline and a plain-text body about `topic`.
    pub fn note(
        report: &'a Report,
        (topic, mark): (&'a str, &'a str),
        date: NaiveDate,
        now: DateTime<Tz>,
        headline: String,
        body: String,
    ) -> Flash<'a> {
        Flash {
            report,
            mark,
            date,
            now,
            topic,
            headline,
            body,
        }
    }

    /// "✗ Critical: KNT-003 Lambswool Cardigan: out of stock while promoted".
    pub fn headline(&self) -> String {
        self.headline.clone()
    }

    /// The detail and what to do, as plain text.
    pub fn body(&self) -> String {
        self.body.clone()
    }
}

/// Notes sent one at a time through a ledger (alerts as they happen, handoffs): how many
/// went out, failed (tried again at the next round) or may have gone (never again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: usize,
    pub failed: usize,
    pub unknown: usize,
}

impl Tally {
    /// One more note of `status` ("sent", "unknown", anything else failed).
    pub(super) fn count(&mut self, status: &str) {
        match status {
            "sent" => self.sent += 1,
            "unknown" => self.unknown += 1,
            _ => self.failed += 1,
        }
    }

    pub(super) fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.unknown += other.unknown;
    }
}

/// What one attempt at a note already claimed in its ledger came to: the status to record
/// ("sent", "failed" or "unknown"), its error, and whether it ends the round (the channel's
/// credentials are refused: no other note would go either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attempt {
    pub(super) status: &'static str,
    pub(super) error: Option<String>,
    pub(super) fatal: Option<String>,
}

/// One attempt at `flash` to `to`: no retries, as its ledger row was claimed before it and
/// only a failure that reached nobody is tried again, at the next round.
pub(super) async fn attempt<C: Channel>(channel: &C, flash: &Flash<'_>, to: &C::To) -> Attempt {
    let result = match channel.alert(flash, to) {
        Ok(msg) => channel.deliver(&msg, &async || Ok(())).await,
        Err(e) => Err(DeliveryError::Permanent(format!("{e:#}"))),
    };
    match result {
        Ok(_) => Attempt {
            status: "sent",
            error: None,
            fatal: None,
        },
        Err(DeliveryError::Unknown(e)) => Attempt {
            status: "unknown",
            error: Some(e),
            fatal: None,
        },
        Err(e) => Attempt {
            status: "failed",
            error: Some(e.to_string()),
            fatal: match e {
                DeliveryError::Fatal(f) => Some(f),
                _ => None,
            },
        },
    }
}

/// What a delivery that was accepted came back with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// What the destination knows the message by (an email's Message-ID, a chat post's
    /// timestamp), for the ledger.
    pub reference: Option<String>,
}

/// A way of delivering the digest: email today, chat webhooks next.
///
/// Every method but `deliver` and `close` is pure; `deliver` is one attempt, and the loop
/// decides whether to try again from the [`DeliveryError`] it returns.
// Sends run on their caller's task and are never spawned, so the futures need no `Send`
// bound, which `async fn` in a public trait cannot state.
#[allow(async_fn_in_trait)]
pub trait Channel: Send + Sync + fmt::Display {
    /// Whom one delivery goes to: a mailbox; a chat destination.
    type To: Clone + Send + Sync;
    /// One rendering of the digest, shared by every recipient who reads the same lead
    /// section first.
    type Copy: Send + Sync;
    /// One recipient's message, built once and delivered as it is on every attempt.
    type Message: Send + Sync;

    /// Everyone the report goes to on this channel, in the report's order.
    fn audience(&self, report: &Report) -> Vec<Self::To>;

    /// The key the ledger knows `to` by.
    fn key(&self, to: &Self::To) -> RecipientKey;

    /// A test send's recipient as typed after `send --to`; an error that says why not.
    fn recipient(&self, text: &str) -> Result<Self::To>;

    /// Whether a `send --to` text is this channel's: each chat channel has its prefix
    /// (`slack:`), and email takes what has none of them.
    fn claims(&self, text: &str) -> bool;

    /// Renders the digest with `lead`'s section first (the common copy for None); called
    /// once per lead among the recipients, however many share it.
    fn render(&self, draft: &Draft<'_>, lead: Option<Lead>) -> Result<Self::Copy>;

    /// `copy` addressed to one recipient.
    fn address(&self, copy: &Self::Copy, to: &Self::To) -> Result<Self::Message>;

    /// What the destination will know `msg` by, when that is fixed before it leaves (an
    /// email's Message-ID): the ledger keeps it even when the delivery is unknown.
    fn reference(&self, msg: &Self::Message) -> Option<String>;

    /// One attempt at delivering `msg`. `mark` is awaited at the last moment before the
    /// message can reach the destination (before SMTP's DATA; before a file is renamed into
    /// place; before a request's body is sent), and an error from it holds the message back:
    /// it is the ledger's durable note that the message may have left. A failure once the
    /// destination may have the message (no reply after the whole of it was sent) is
    /// [`DeliveryError::Unknown`], which nothing retries.
    async fn deliver(
        &self,
        msg: &Self::Message,
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<Receipt, DeliveryError>;

    /// Whether alerts as they happen go to `report`'s destinations on this channel: chat
    /// channels take them; email only for a report with no chat destination, so that a team
    /// on Slack is not told twice.
    fn carries_live(&self, _report: &Report) -> bool {
        true
    }

    /// An alert found as it happened, as a short message of this channel to `to`; `mark` is
    /// what makes it unique ("stock:KNT-003:2026-12-06" at its level).
    fn alert(&self, alert: &Flash<'_>, to: &Self::To) -> Result<Self::Message>;

    /// The owner's note as a message of this channel, addressed to wherever the owner is
    /// told; delivered once, without a ledger row.
    fn note(&self, note: &Note<'_>) -> Result<Self::Message>;

    /// How long transient failures of one message are retried.
    fn retry_for(&self) -> Duration;

    /// How many messages may be in flight at once.
    fn concurrency(&self) -> usize;

    /// Lets go of what a send kept open (idle connections).
    async fn close(&self);
}
