//! The owner's summary: who was not served, whose delivery is unknown or unrecorded, and
//! which files could not be imported; one short message after a run that needs a person,
//! through the channel the run used.

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use super::SendSummary;
use super::channel::{Channel, Note};
use crate::config::Report;

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
        body.push_str(
            "A file refused for what it holds is tried again once it changes: fix or replace \
             it. One that failed because the store was busy, or because it names orders or \
             products a later file brings, is tried again on the next run by itself.\n",
        );
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
    if !s.unrecorded.is_empty() {
        body.push_str("\nDelivered but not recorded (the server took the message; the ledger could not be written):\n");
        for (r, e) in &s.unrecorded {
            body.push_str(&format!("- {r}: {e}\n"));
        }
        body.push_str(
            "The next run records these as unknown and does not send them again. Check why \
             the store refused the writes.\n",
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
pub(super) async fn tell<C: Channel>(
    channel: &C,
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
    let note = Note {
        report,
        date,
        now,
        subject,
        body: owner_body(report, date, s, files),
    };
    // Once, with no ledger row and so nothing to mark: a lost note costs nobody a digest.
    let sent = match channel.note(&note) {
        Ok(m) => channel
            .deliver(&m, &async || Ok(()))
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::error!(owner = %report.owner, error = %e, "could not tell the owner about failed deliveries");
    }
}
