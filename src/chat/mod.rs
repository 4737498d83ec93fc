//! The digest as chat messages: Slack's Block Kit, a Teams Adaptive Card. Pure: made from the `Digest` alone, like
//! the email's templates, so every channel says the same figures.

pub mod slack;
pub mod teams;
