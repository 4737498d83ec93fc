//! Alerts as they happen, sent: at each check between morning reports, the alerts found on
//! the day's figures so far go to each of a report's destinations once, and again only when
//! worse, through the live ledger; quiet hours hold them until they end.

use anyhow::{Result, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{Channel, Flash, Outlet, Tally};
use crate::config::{Config, Report};
use crate::digest::AlertView;
use crate::metrics::live::{Mark, due};
use crate::store::{LiveKey, Store};

/// What one check found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRun {
    /// Alerts found on the day so far.
    pub found: usize,
    /// Messages by what became of them (one per alert, level and destination).
    pub tally: Tally,
    /// Held by quiet hours: nothing was checked; the next check is when they end.
    pub held_until: Option<DateTime<Utc>>,
}

/// One check of a shop at `now`: unless quiet hours hold, the alerts of the shop's day so
/// far, each new or worse one sent to every report's destinations on `outlets`.
pub async fn check(
    store: &Store,
    config: &Config,
    outlets: &[Box<dyn Outlet>],
    now: DateTime<Utc>,
) -> Result<LiveRun> {
    let local = now.with_timezone(&config.shop.timezone);
    if let Some(q) = config.alerts.quiet_hours
        && q.holds(local.time())
    {
        let release = q.release(local.naive_local());
        let until = release
            .and_local_timezone(config.shop.timezone)
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc));
        return Ok(LiveRun {
            held_until: Some(until),
            ..LiveRun::default()
        });
    }
    let day = local.date_naive();
    let inputs = crate::store::gather::gather(store, config, day).await?;
    let found = crate::digest::live_alerts(config, day, &inputs);
    let mut run = LiveRun {
        found: found.len(),
        ..LiveRun::default()
    };
    for report in &config.reports {
        for outlet in outlets {
            let r = outlet
                .send_live(store, report, &config.shop.name, day, local, &found)
                .await?;
            run.tally.add(r);
        }
    }
    Ok(run)
}

/// Sends the due ones of `found` to each of `report`'s destinations on `channel`.
pub(super) async fn send<C: Channel>(
    store: &Store,
    report: &Report,
    shop: &str,
    channel: &C,
    day: NaiveDate,
    now: DateTime<Tz>,
    found: &[(Mark, AlertView)],
) -> Result<Tally> {
    let mut run = Tally::default();
    if !channel.carries_live(report) {
        return Ok(run);
    }
    let marks: Vec<Mark> = found.iter().map(|(m, _)| m.clone()).collect();
    for to in channel.audience(report) {
        let dest = channel.key(&to);
        let sent = store.live_sent(&report.name, day, dest.as_str()).await?;
        for m in due(&marks, &sent) {
            let Some((_, view)) = found.iter().find(|(x, _)| *x == m) else {
                continue;
            };
            let k = LiveKey {
                report: &report.name,
                day,
                alert: &m.key,
                level: m.level,
                destination: dest.as_str(),
            };
            // Claimed before it leaves: a restart finds the row and sends nothing again.
            if !store.claim_live(&k, &view.title, now.timestamp()).await? {
                continue;
            }
            let mark = format!("{}#{}", m.key, m.level);
            let flash = Flash::alert(report, shop, view, &mark, day, now);
            let a = super::channel::attempt(channel, &flash, &to).await;
            store
                .record_live(&k, a.status, a.error.as_deref(), now.timestamp())
                .await?;
            run.count(a.status);
            if let Some(e) = a.fatal {
                return Err(anyhow!("{channel}: {e}"));
            }
        }
    }
    Ok(run)
}
