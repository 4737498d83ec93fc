//! The digest as chat messages: Slack's Block Kit, a Teams Adaptive Card. Pure: made from the `Digest` alone, like
//! the email's templates, so every channel says the same figures.

pub mod slack;
pub mod teams;

use crate::digest::Digest;

/// The data's date and freshness, and what is not shown: a chat post's last line.
fn context(d: &Digest) -> String {
    [
        d.stale_note.as_str(),
        d.footer.as_str(),
        d.absent_note.as_str(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ")
}
