//! The channels a shop's reports go out through, made from its config in one place
//! ([`outlets`]): a new channel is its file, its config section and one line there. `serve`
//! and `send` work through [`Outlet`], which every [`Channel`] is, whatever its recipients.

use std::collections::HashMap;
use std::fmt;

use anyhow::Result;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use futures_util::future::LocalBoxFuture;

use super::{Channel, EmailChannel, SendOptions, SendSummary, SlackChannel, TeamsChannel};
use crate::config::{Config, RecipientKey, Report};
use crate::store::{DeliveryStatus, Store};

/// The prefixes of a `send --to` that name a chat destination rather than a mailbox.
pub(super) const CHAT_PREFIXES: [&str; 2] = ["slack:", "msteams:"];

/// A channel as the commands see it: who is still to be served, and a report's send.
/// Futures are local: a send runs on its caller's task and is never spawned.
pub trait Outlet: fmt::Display {
    /// How many of the report's recipients on this channel `settled` does not hold.
    fn unserved(&self, report: &Report, settled: &HashMap<RecipientKey, DeliveryStatus>) -> usize;

    /// [`super::send`] through this channel; a test send's recipients as typed (`--to`).
    fn send<'a>(
        &'a self,
        store: &'a Store,
        config: &'a Config,
        report: &'a Report,
        date: NaiveDate,
        now: DateTime<Tz>,
        opts: &'a SendOptions<String>,
    ) -> LocalBoxFuture<'a, Result<SendSummary>>;

    /// Drops open connections: the next send is hours away.
    fn close(&self) -> LocalBoxFuture<'_, ()>;

    /// Whether a `send --to` text is this channel's.
    fn takes(&self, text: &str) -> bool;

    /// Alerts found as they happen, sent to the report's destinations on this channel.
    #[allow(clippy::too_many_arguments)]
    fn send_live<'a>(
        &'a self,
        store: &'a Store,
        report: &'a Report,
        shop: &'a str,
        day: NaiveDate,
        now: DateTime<Tz>,
        found: &'a [(crate::metrics::live::Mark, crate::digest::AlertView)],
    ) -> LocalBoxFuture<'a, Result<super::Tally>>;

    /// A campaign's handoff note, sent to the report's destinations on this channel that
    /// have not had it.
    fn send_handoff<'a>(
        &'a self,
        store: &'a Store,
        report: &'a Report,
        day: NaiveDate,
        now: DateTime<Tz>,
        note: &'a super::handoff::Handoff,
    ) -> LocalBoxFuture<'a, Result<super::Tally>>;
}

impl<C: Channel> Outlet for C {
    fn unserved(&self, report: &Report, settled: &HashMap<RecipientKey, DeliveryStatus>) -> usize {
        self.audience(report)
            .iter()
            .filter(|to| !settled.contains_key(&self.key(to)))
            .count()
    }

    fn send<'a>(
        &'a self,
        store: &'a Store,
        config: &'a Config,
        report: &'a Report,
        date: NaiveDate,
        now: DateTime<Tz>,
        opts: &'a SendOptions<String>,
    ) -> LocalBoxFuture<'a, Result<SendSummary>> {
        Box::pin(async move {
            let to = opts
                .to
                .iter()
                .filter(|t| self.claims(t))
                .map(|t| self.recipient(t))
                .collect::<Result<Vec<_>>>()?;
            let typed = SendOptions {
                to,
                dry_run: opts.dry_run,
                force: opts.force,
                retry_unknown: opts.retry_unknown,
                stop: opts.stop.clone(),
                import_failures: opts.import_failures.clone(),
            };
            super::send(store, config, report, self, date, now, &typed).await
        })
    }

    fn close(&self) -> LocalBoxFuture<'_, ()> {
        Box::pin(Channel::close(self))
    }

    fn takes(&self, text: &str) -> bool {
        self.claims(text)
    }

    fn send_live<'a>(
        &'a self,
        store: &'a Store,
        report: &'a Report,
        shop: &'a str,
        day: NaiveDate,
        now: DateTime<Tz>,
        found: &'a [(crate::metrics::live::Mark, crate::digest::AlertView)],
    ) -> LocalBoxFuture<'a, Result<super::Tally>> {
        Box::pin(super::live::send(
            store, report, shop, self, day, now, found,
        ))
    }

    fn send_handoff<'a>(
        &'a self,
        store: &'a Store,
        report: &'a Report,
        day: NaiveDate,
        now: DateTime<Tz>,
        note: &'a super::handoff::Handoff,
    ) -> LocalBoxFuture<'a, Result<super::Tally>> {
        Box::pin(super::handoff::send(store, report, self, day, now, note))
    }
}

/// Every channel the shop's config sets up, in the order its reports go out.
pub fn outlets(config: &Config) -> Result<Vec<Box<dyn Outlet>>> {
    let mut out: Vec<Box<dyn Outlet>> = vec![Box::new(EmailChannel::from_config(config)?)];
    if let Some(slack) = SlackChannel::from_config(config)? {
        out.push(Box::new(slack));
    }
    if let Some(teams) = TeamsChannel::from_config(config)? {
        out.push(Box::new(teams));
    }
    Ok(out)
}
