//! The MIME message: multipart/alternative of text and a multipart/related HTML part with
//! the charts inline, exactly as it is delivered.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::config::RecipientKey;
use crate::email::render::Rendered;

/// A Message-ID that is unique per report date, recipient and generation time, and needs no
/// hostname lookup: `<dawnpost.2026-11-21.3f2a…@northwind.example>`.
///
/// Kept as its parts, so whoever needs its unique part (the outbox's file name) or its text
/// (the ledger) has it without reading it back out of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId {
    /// `dawnpost` for a digest, `dawnpost-failures` for the owner's note.
    kind: &'static str,
    date: NaiveDate,
    hash: u64,
    domain: String,
}

impl MessageId {
    /// The id of a digest for `to`.
    pub fn digest(date: NaiveDate, to: &Mailbox, now: DateTime<Tz>, from: &Mailbox) -> MessageId {
        let mut h = DefaultHasher::new();
        RecipientKey::email(to).as_str().hash(&mut h);
        now.timestamp_nanos_opt().unwrap_or_default().hash(&mut h);
        MessageId {
            kind: "dawnpost",
            date,
            hash: h.finish(),
            domain: from.email.domain().to_string(),
        }
    }

    /// The id of the owner's note on a send: the digest's id for the owner, marked apart.
    pub fn failures(
        date: NaiveDate,
        owner: &Mailbox,
        now: DateTime<Tz>,
        from: &Mailbox,
    ) -> MessageId {
        MessageId {
            kind: "dawnpost-failures",
            ..MessageId::digest(date, owner, now, from)
        }
    }

    /// The id of an alert sent as it happened: unique to the alert (its mark) and the
    /// recipient.
    pub fn alert(
        date: NaiveDate,
        to: &Mailbox,
        mark: &str,
        now: DateTime<Tz>,
        from: &Mailbox,
    ) -> MessageId {
        let mut id = MessageId::digest(date, to, now, from);
        let mut h = DefaultHasher::new();
        id.hash.hash(&mut h);
        mark.hash(&mut h);
        id.hash = h.finish();
        MessageId {
            kind: "dawnpost-alert",
            ..id
        }
    }

    /// The part unique to one message (its hash), so a forced re-send to the outbox keeps
    /// the first file.
    pub fn unique(&self) -> String {
        format!("{:016x}", self.hash)
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let MessageId {
            kind,
            date,
            hash,
            domain,
        } = self;
        write!(f, "<{kind}.{date}.{hash:016x}@{domain}>")
    }
}

/// Builds the message for one recipient.
pub fn build(
    rendered: &Rendered,
    from: &Mailbox,
    list: Option<List<'_>>,
    to: &Mailbox,
    date: NaiveDate,
    now: DateTime<Tz>,
) -> Result<Message> {
    let head = Head {
        subject: &rendered.subject,
        from,
        reply_to: None,
        date,
        now,
        list,
    };
    let id = MessageId::digest(date, to, now, from);
    addressed(&body(rendered), &head, to, &id)
}

/// The MIME body every recipient shares: the text, the HTML and the charts, encoded once.
///
/// Encoding the charts (base64) and the HTML (quoted-printable) is most of the work of a
/// message; a send to many people does it once and copies the result.
pub fn body(rendered: &Rendered) -> MultiPart {
    // `type=` names the root part, as RFC 2387 asks; lettre's `related()` leaves it out.
    // The boundary is a hash of the HTML, so it cannot occur in it.
    let mut h = DefaultHasher::new();
    rendered.html.hash(&mut h);
    let boundary = format!("dawnpost-related-{:016x}", h.finish());
    let content_type = ContentType::parse(&format!(
        "multipart/related; type=\"text/html\"; boundary=\"{boundary}\""
    ))
    .expect("a valid content type");
    let mut related = MultiPart::builder()
        .header(content_type)
        .singlepart(SinglePart::html(rendered.html.clone()));
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

/// The report a message belongs to, for its list headers.
#[derive(Debug, Clone, Copy)]
pub struct List<'a> {
    pub report: &'a str,
    pub owner: &'a Mailbox,
}

/// The headers every recipient shares.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub subject: &'a str,
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub date: NaiveDate,
    pub now: DateTime<Tz>,
    pub list: Option<List<'a>>,
}

/// A header of our own, by name and value.
macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Debug, Clone)]
        struct $ty(String);

        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

// RFC 3834: out-of-office replies are not sent back to an auto-generated message.
text_header!(AutoSubmitted, "Auto-Submitted");
// Exchange and Outlook do not read RFC 3834: they are asked in their own header.
text_header!(AutoResponseSuppress, "X-Auto-Response-Suppress");
// RFC 2919 and 2369: clients group the report and offer a way out.
text_header!(ListId, "List-Id");
text_header!(ListUnsubscribe, "List-Unsubscribe");

/// A short plain-text message (an alert as it happens), marked auto-generated like the
/// digest so that no out-of-office reply comes back.
pub fn short(
    from: &Mailbox,
    to: &Mailbox,
    subject: &str,
    body: String,
    id: &MessageId,
    now: DateTime<Tz>,
) -> Result<Message> {
    Ok(Message::builder()
        .from(from.clone())
        .to(to.clone())
        .subject(subject)
        .date(SystemTime::from(now))
        .message_id(Some(id.to_string()))
        .header(AutoSubmitted("auto-generated".into()))
        .header(AutoResponseSuppress("OOF, AutoReply".into()))
        .body(body)?)
}

/// `morning.northwind.example` for report "morning" from `@northwind.example`: the report
/// name as a DNS label (letters, digits and hyphens).
pub fn list_id(report: &str, from: &Mailbox) -> String {
    let label: String = report
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    let label = if label.is_empty() { "report" } else { label };
    format!("{label}.{}", from.email.domain())
}

/// A mailto to the owner whose subject says who wants out of which report.
fn unsubscribe(list: &List<'_>, to: &Mailbox) -> String {
    let subject = format!("Unsubscribe {} from the {} report", to.email, list.report);
    let mut encoded = String::new();
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("<mailto:{}?subject={encoded}>", list.owner.email)
}

/// One recipient's message around a prepared body: To alone, and its own Message-ID.
pub fn addressed(
    body: &MultiPart,
    head: &Head<'_>,
    to: &Mailbox,
    id: &MessageId,
) -> Result<Message> {
    let mut builder = Message::builder()
        .from(head.from.clone())
        .to(to.clone())
        .header(AutoSubmitted("auto-generated".into()))
        .header(AutoResponseSuppress("OOF, AutoReply".into()));
    if let Some(r) = head.reply_to {
        builder = builder.reply_to(r.clone());
    }
    if let Some(list) = &head.list {
        builder = builder
            .header(ListId(format!(
                "{} report <{}>",
                crate::text::cap(list.report, crate::text::LABEL),
                list_id(list.report, head.from)
            )))
            .header(ListUnsubscribe(unsubscribe(list, to)));
    }
    builder
        .subject(head.subject)
        .date(SystemTime::from(head.now))
        .message_id(Some(id.to_string()))
        .multipart(body.clone())
        .context("cannot build the email message")
}
