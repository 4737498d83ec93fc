//! The MIME message: multipart/alternative of text and a multipart/related HTML part with
//! the charts inline, exactly as it is delivered.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::render::Rendered;

/// A Message-ID that is unique per report date, recipient and generation time, and needs no
/// hostname lookup: `<dawnpost.2026-11-21.3f2a…@northwind.example>`.
pub fn message_id(date: NaiveDate, to: &Mailbox, now: DateTime<Tz>, from: &Mailbox) -> String {
    let mut h = DefaultHasher::new();
    to.email.to_string().to_lowercase().hash(&mut h);
    now.timestamp_nanos_opt().unwrap_or_default().hash(&mut h);
    format!(
        "<dawnpost.{date}.{:016x}@{}>",
        h.finish(),
        from.email.domain()
    )
}

/// Builds the message for one recipient.
pub fn build(
    rendered: &Rendered,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    to: &Mailbox,
    date: NaiveDate,
    now: DateTime<Tz>,
) -> Result<Message> {
    let mut related = MultiPart::related().singlepart(SinglePart::html(rendered.html.clone()));
    for (view, png) in &rendered.images {
        let cid = view.src.trim_start_matches("cid:").to_string();
        related = related.singlepart(
            Attachment::new_inline_with_name(cid, view.file_name.clone()).body(
                png.clone(),
                ContentType::parse("image/png").expect("a valid content type"),
            ),
        );
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .multipart(related);
    let mut builder = Message::builder().from(from.clone()).to(to.clone());
    if let Some(r) = reply_to {
        builder = builder.reply_to(r.clone());
    }
    builder
        .subject(rendered.subject.clone())
        .date(SystemTime::from(now))
        .message_id(Some(message_id(date, to, now, from)))
        .multipart(body)
        .context("cannot build the email message")
}
