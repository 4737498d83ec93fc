//! The campaign handoff, sent: each campaign starting within `[preflight] notice_days` is
//! checked, and its pre-flight goes to every report's destinations once per plan and
//! verdict, through the handoff ledger (claimed before a note leaves). A changed plan or
//! verdict is a new note; the same one is never sent twice.

use anyhow::{Result, anyhow};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{Channel, Flash, Outlet, Tally};
use crate::config::{Config, Report};
use crate::digest::format::Formatter;
use crate::digest::preflight;
use crate::metrics::preflight::Preflight;
use crate::store::{HandoffKey, Store};

/// What one round of handoffs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoffRun {
    /// Campaigns checked: those starting within the notice.
    pub checked: usize,
    pub tally: Tally,
}

/// A campaign's handoff note, as every channel words it.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub campaign: String,
    /// The plan and verdict the note is sent once for.
    pub fingerprint: String,
    pub verdict: &'static str,
    pub subject: String,
    pub body: String,
}

impl Handoff {
    fn new(check: &Preflight, config: &Config) -> Handoff {
        let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
        let view = preflight::view(check, &f);
        let confirm = if check.confirmed {
            String::new()
        } else {
            format!(
                "\nOperations: once the changes above are in hand, confirm with\n  dawnpost preflight {:?} --confirm \"…\"\n",
                check.plan.campaign
            )
        };
        Handoff {
            campaign: check.plan.campaign.clone(),
            fingerprint: check.fingerprint(),
            verdict: check.verdict(),
            subject: view.subject.clone(),
            body: format!(
                "{}{confirm}\n{}: the campaign handoff, sent once for this plan and verdict; again only if either changes.\n",
                preflight::text(&view),
                config.shop.name
            ),
        }
    }
}

/// One round at `now`: the campaigns starting from today to the notice's end, each checked
/// on the data to yesterday and its note sent where it has not gone.
pub async fn check(
    store: &Store,
    config: &Config,
    outlets: &[Box<dyn Outlet>],
    now: DateTime<Utc>,
) -> Result<HandoffRun> {
    let local = now.with_timezone(&config.shop.timezone);
    let today = local.date_naive();
    let Some(origin) = today.checked_sub_days(Days::new(1)) else {
        return Ok(HandoffRun::default());
    };
    let last = today + Days::new(u64::from(config.preflight.notice_days));
    let plans = store.plans_starting(today, last).await?;
    let mut run = HandoffRun {
        checked: plans.len(),
        ..HandoffRun::default()
    };
    let names: Vec<String> = plans.iter().map(|p| p.campaign.clone()).collect();
    let mut confirmations = store.confirmations(&names).await?;
    let checks = crate::store::gather::preflights(store, config, &plans, origin).await?;
    for check in checks {
        let confirmation = confirmations.remove(&check.plan.campaign);
        let note = Handoff::new(&check.confirmed_by(confirmation), config);
        for report in &config.reports {
            for outlet in outlets {
                let r = outlet
                    .send_handoff(store, report, today, local, &note)
                    .await?;
                run.tally.add(r);
            }
        }
    }
    Ok(run)
}

/// Sends `note` to each of `report`'s destinations on `channel` that has not had it; a
/// destination shared by two reports gets it once, as the ledger keys it without the report.
pub(super) async fn send<C: Channel>(
    store: &Store,
    report: &Report,
    channel: &C,
    day: NaiveDate,
    now: DateTime<Tz>,
    note: &Handoff,
) -> Result<Tally> {
    let mut run = Tally::default();
    let mark = format!("handoff:{}:{}", note.campaign, note.fingerprint);
    for to in channel.audience(report) {
        let dest = channel.key(&to);
        let k = HandoffKey {
            campaign: &note.campaign,
            fingerprint: &note.fingerprint,
            destination: dest.as_str(),
        };
        // Claimed before it leaves: a restart finds the row and sends nothing again.
        if !store
            .claim_handoff(&k, note.verdict, now.timestamp())
            .await?
        {
            continue;
        }
        let flash = Flash::note(
            report,
            ("handoff", &mark),
            day,
            now,
            note.subject.clone(),
            note.body.clone(),
        );
        let a = super::channel::attempt(channel, &flash, &to).await;
        store
            .record_handoff(&k, a.status, a.error.as_deref(), now.timestamp())
            .await?;
        run.count(a.status);
        if let Some(e) = a.fatal {
            return Err(anyhow!("{channel}: {e}"));
        }
    }
    Ok(run)
}
