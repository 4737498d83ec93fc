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
    let head = Head {
        subject: &rendered.subject,
        from,
        reply_to,
        date,
        now,
    };
    addressed(&body(rendered), &head, to)
}

/// The MIME body every recipient shares: the text, the HTML and the charts, encoded once.
///
/// Encoding the charts (base64) and the HTML (quoted-printable) is most of the work of a
/// message; a send to many people does it once and copies the result.
pub fn body(rendered: &Rendered) -> MultiPart {
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
    MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .multipart(related)
}

/// The headers every recipient shares.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub subject: &'a str,
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub date: NaiveDate,
    pub now: DateTime<Tz>,
}

/// One recipient's message around a prepared body: To alone, and its own Message-ID.
pub fn addressed(body: &MultiPart, head: &Head<'_>, to: &Mailbox) -> Result<Message> {
    let mut builder = Message::builder().from(head.from.clone()).to(to.clone());
    if let Some(r) = head.reply_to {
        builder = builder.reply_to(r.clone());
    }
    builder
        .subject(head.subject)
        .date(SystemTime::from(head.now))
        .message_id(Some(message_id(head.date, to, head.now, head.from)))
        .multipart(body.clone())
        .context("cannot build the email message")
}
