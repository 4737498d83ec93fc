//! The key the delivery ledger knows a recipient by, made in one place: a mailbox's address
//! lower-cased, so `Sam@x` and `sam@x` are one person to the ledger, the leads and `status`;
//! a Slack channel as `slack:` and its id.

use std::borrow::Borrow;
use std::fmt;

use lettre::message::Mailbox;

/// One recipient in the ledger and in a send's summary.
///
/// Equal, ordered and hashed as its text, so maps keyed by it can be read with a `&str`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecipientKey(String);

impl RecipientKey {
    /// The key of a person reached by email: the address, lower-cased.
    pub fn email(m: &Mailbox) -> RecipientKey {
        RecipientKey(m.email.to_string().to_lowercase())
    }

    /// The key of a Slack channel: `slack:` and its id, apart from every mailbox.
    pub fn slack(channel: &str) -> RecipientKey {
        RecipientKey(format!("slack:{channel}"))
    }

    /// The key of a report's Microsoft Teams webhook: `msteams:` and the report's name (the
    /// URL is a secret, never a key).
    pub fn msteams(report: &str) -> RecipientKey {
        RecipientKey(format!("msteams:{report}"))
    }

    /// A key as the ledger stored it, which was made by one of the constructors above.
    pub(crate) fn from_ledger(stored: String) -> RecipientKey {
        RecipientKey(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for RecipientKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RecipientKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RecipientKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_in_any_case_is_one_key() {
        let a: Mailbox = "Sam <Sam@Small.Example>".parse().unwrap();
        let b: Mailbox = "sam@small.example".parse().unwrap();
        assert_eq!(RecipientKey::email(&a), RecipientKey::email(&b));
        assert_eq!(RecipientKey::email(&a), "sam@small.example");
    }
}
