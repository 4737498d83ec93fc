//! `serve`: every report on its schedule, delivered through the ledger, with catch-up inside a
//! grace period, a wait for the day's data, and a clean stop on a signal.
//!
//! Time comes from a [`Clock`], so tests run days of schedule in milliseconds. The ledger,
//! not this process's memory, says what has been delivered: a restart never re-sends.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::StreamExt as _;

use crate::config::Report;
use crate::delivery::{Outlet, SendOptions, SendSummary, outlets};
use crate::shops::{Shop, Shops};
pub use crate::shutdown::Shutdown;
use crate::store::Store;

/// Where `serve` gets the time and how it waits.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep_until(&self, t: DateTime<Utc>) -> impl Future<Output = ()> + Send;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[allow(clippy::disallowed_methods)] // The real clock: what every other part is given.
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let d = (t - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(d).await;
    }
}

/// One shop's campaign handoffs: each campaign starting within the notice checked, and its
/// note sent where this plan and verdict have not gone. A failure is logged and tried at the
/// next round.
async fn handoffs(shop: &Shop, channels: &[Box<dyn Outlet>], now: DateTime<Utc>) {
    let config = &shop.config;
    let work = async {
        let store = shop.store().await?;
        crate::delivery::handoff::check(&store, config, channels, now).await
    };
    match crate::caught::caught(work).await {
        Ok(run) if run.checked > 0 => {
            tracing::info!(shop = %config.shop.name, campaigns = run.checked, sent = run.tally.sent, failed = run.tally.failed, unknown = run.tally.unknown, "campaign handoffs checked");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(shop = %config.shop.name, error = %format!("{e:#}"), "campaign handoffs not checked");
        }
    }
    shop.close().await;
}

/// Shops at work at once. Each holds its store open (some 3 MB of connections and caches)
/// while it works, so this bounds memory however many shops are configured; a slow shop
/// holds one place and no other shop's run.
const SHOPS_AT_ONCE: usize = 16;

/// A live source is synced at most once in this long while a report waits for data.
const SYNC_GAP: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How long one source's sync may take before a report: past it, nothing of it is written
/// and the email goes out with what the store has.
const SYNC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// How often each shop's campaigns starting soon are checked for a handoff note to send.
const HANDOFF_EVERY: Duration = Duration::minutes(60);

/// The longest `serve` sleeps: a suspended machine or a changed clock is noticed within it.
const MAX_SLEEP: Duration = Duration::seconds(60);

#[derive(Debug, Default)]
pub struct ServeOptions {
    /// Stop once the clock passes this (for tests and one-off catch-up runs).
    pub until: Option<DateTime<Utc>>,
}

/// What one report run did, for the log line and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    Delivered {
        report: String,
        date: NaiveDate,
        sent: usize,
        failed: usize,
        incomplete: Vec<String>,
    },
    /// Past the grace period with recipients not served.
    Skipped { report: String, date: NaiveDate },
    /// Data missing; checking again later.
    Waiting {
        report: String,
        date: NaiveDate,
        missing: Vec<String>,
    },
}

/// Runs every report of every shop on its schedule until shut down (or `until`).
pub async fn serve<C: Clock>(
    shops: &Shops,
    clock: &C,
    shutdown: &Arc<Shutdown>,
    opts: &ServeOptions,
) -> Result<Vec<RunEvent>> {
    let mut events = Vec::new();
    let mut memory = Memory::default();
    let channels = channels(shops)?;
    // When each shop with `[alerts] live` is next checked, by its config file.
    let mut next_live: HashMap<String, DateTime<Utc>> = HashMap::new();
    // When each shop's campaigns are next checked for a handoff, likewise.
    let mut next_handoff: HashMap<String, DateTime<Utc>> = HashMap::new();
    for (_, report) in shops.reports() {
        tracing::info!(
            report = %report.name,
            schedule = %report.schedule.expr,
            timezone = %report.schedule.tz,
            next = %next_fire(report, clock.now()).map_or("never".into(), |t| t.to_rfc3339()),
            "scheduled"
        );
    }
    loop {
        let now = clock.now();
        if shutdown.is_set() || opts.until.is_some_and(|u| now >= u) {
            break;
        }
        // Every shop at once, each shop's reports in turn: one shop's slow digest (a metric
        // at its deadline, a slow mail server) holds back no other shop, and no two runs
        // import one shop's nightly files side by side.
        let runs = shops
            .iter()
            .map(|shop| shop_runs(shop, &channels[&shop.config.origin], &memory, now, shutdown));
        let results: Vec<_> = futures_util::stream::iter(runs)
            .buffer_unordered(SHOPS_AT_ONCE)
            .collect()
            .await;
        for (report, date, result) in results.into_iter().flatten() {
            events.extend(memory.settle(report, date, now, result));
        }
        for shop in shops.iter().filter(|s| s.config.alerts.live) {
            let origin = &shop.config.origin;
            if next_live.get(origin).is_some_and(|t| now < *t) || shutdown.is_set() {
                continue;
            }
            let next = live_check(shop, &channels[origin], now).await;
            next_live.insert(origin.clone(), next);
        }
        for shop in shops.iter() {
            let origin = &shop.config.origin;
            let Some(outlets) = channels.get(origin) else {
                continue;
            };
            if next_handoff.get(origin).is_some_and(|t| now < *t) || shutdown.is_set() {
                continue;
            }
            handoffs(shop, outlets, now).await;
            next_handoff.insert(origin.clone(), now + HANDOFF_EVERY);
        }
        let wake = next_live
            .values()
            .chain(next_handoff.values())
            .copied()
            .fold(memory.wake(shops, now, opts.until), DateTime::min);
        tokio::select! {
            () = clock.sleep_until(wake) => {}
            () = shutdown.wait() => {}
        }
    }
    tracing::info!("serve stopped");
    Ok(events)
}

/// Each shop's channels, by its config file: made once, for every run of the process.
fn channels(shops: &Shops) -> Result<HashMap<String, Vec<Box<dyn Outlet>>>> {
    let mut channels = HashMap::new();
    for (shop, _) in shops.reports() {
        if !channels.contains_key(&shop.config.origin) {
            let made = outlets(&shop.config)?;
            channels.insert(shop.config.origin.clone(), made);
        }
    }
    Ok(channels)
}

/// One shop's due reports, in turn, then its store closed.
async fn shop_runs<'a>(
    shop: &'a Shop,
    channels: &[Box<dyn Outlet>],
    memory: &Memory,
    now: DateTime<Utc>,
    shutdown: &Arc<Shutdown>,
) -> Vec<(&'a Report, NaiveDate, Result<Step>)> {
    let mut out = Vec::new();
    for report in &shop.config.reports {
        if shutdown.is_set() {
            break;
        }
        let Some((fire, date)) = memory.due(report, now) else {
            continue;
        };
        // A bug that panics in one shop's run is that run's failure, retried later like
        // any other, not the end of every shop's 6 AM email.
        let due = Due {
            shop,
            report,
            fire,
            date,
            now,
        };
        let work = run(due, channels, shutdown);
        out.push((report, date, crate::caught::caught(work).await));
    }
    // Hours pass before this shop has work again: its connections would idle.
    shop.close().await;
    out
}

fn next_fire(report: &Report, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    report.schedule.next_after(now)
}

/// What this process remembers between its looks: the report dates it has finished with
/// (delivered, or given up on past the grace), and when to look again at the others.
#[derive(Debug, Default)]
struct Memory {
    done: HashSet<(String, NaiveDate)>,
    recheck: HashMap<(String, NaiveDate), DateTime<Utc>>,
}

impl Memory {
    /// The scheduled digest of a report to look at now, as (fire time, report date): None
    /// when nothing is scheduled within reach, or it is done or waiting to be looked at again.
    fn due(&self, report: &Report, now: DateTime<Utc>) -> Option<(DateTime<Utc>, NaiveDate)> {
        let fire = report
            .schedule
            .last_at_or_before(now, report.grace + Duration::days(2))?;
        let date = report.date_for(report.schedule.report_date(fire));
        let key = (report.name.clone(), date);
        if self.done.contains(&key) || self.recheck.get(&key).is_some_and(|t| now < *t) {
            return None;
        }
        Some((fire, date))
    }

    /// Takes a run's result into what is done and what to look at again; returns its event.
    fn settle(
        &mut self,
        report: &Report,
        date: NaiveDate,
        now: DateTime<Utc>,
        result: Result<Step>,
    ) -> Option<RunEvent> {
        let key = (report.name.clone(), date);
        match result {
            Ok(Step::Done(event)) => {
                self.recheck.remove(&key);
                self.done.insert(key);
                event
            }
            Ok(Step::Later(event)) => {
                self.recheck.insert(key, now + report.recheck);
                event
            }
            Err(e) => {
                // A fatal failure (login, TLS, the store): try again later, within the grace.
                tracing::error!(report = %report.name, %date, error = %format!("{e:#}"), "run failed");
                self.recheck.insert(key, now + report.recheck);
                None
            }
        }
    }

    /// When to look next: the next fire or recheck, and never more than a minute away.
    fn wake(
        &self,
        shops: &Shops,
        now: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let fires = shops.reports().filter_map(|(_, r)| next_fire(r, now));
        let rechecks = self.recheck.values().copied().filter(|t| *t > now);
        fires
            .chain(rechecks)
            .chain(until)
            .fold(now + MAX_SLEEP, DateTime::min)
    }
}

/// One shop's alerts as they happen: its live sources synced, then the alerts of its day so
/// far sent where new or worse. Returns when to check next: after `sync_every_minutes`, or
/// when its quiet hours end. A failure is logged and tried at the next check.
async fn live_check(
    shop: &Shop,
    channels: &[Box<dyn Outlet>],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let config = &shop.config;
    let every = Duration::minutes(i64::from(config.alerts.sync_every_minutes));
    let work = async {
        let store = shop.store().await?;
        let local = now.with_timezone(&config.shop.timezone);
        let held = config
            .alerts
            .quiet_hours
            .is_some_and(|q| q.holds(local.time()));
        if !held {
            let sync = crate::ingest::live::SyncOptions {
                since: None,
                check: false,
                day: local.date_naive(),
                at: now.timestamp(),
                progress: crate::progress::Style::Log,
            };
            for f in
                crate::ingest::live::sync_due(&store, config, &sync, SYNC_GAP, SYNC_DEADLINE).await
            {
                tracing::error!(problem = %f, "a source did not sync for the live alerts");
            }
        }
        crate::delivery::live::check(&store, config, channels, now).await
    };
    match crate::caught::caught(work).await {
        Ok(run) => {
            tracing::info!(shop = %config.shop.name, found = run.found, sent = run.tally.sent, failed = run.tally.failed, unknown = run.tally.unknown, "live alerts checked");
            run.held_until.unwrap_or(now + every)
        }
        Err(e) => {
            tracing::error!(shop = %config.shop.name, error = %format!("{e:#}"), "live alerts not checked");
            now + every
        }
    }
}

enum Step {
    Done(Option<RunEvent>),
    Later(Option<RunEvent>),
}

/// One report's look: the shop, the report, the fire it answers and its report date, now.
struct Due<'a> {
    shop: &'a Shop,
    report: &'a Report,
    fire: DateTime<Utc>,
    date: NaiveDate,
    now: DateTime<Utc>,
}

async fn run(due: Due<'_>, channels: &[Box<dyn Outlet>], shutdown: &Arc<Shutdown>) -> Result<Step> {
    let Due {
        shop,
        report,
        fire,
        date,
        now,
    } = due;
    let store = shop.store().await?;
    if let Some(step) = served_or_late(&due, &store, channels).await? {
        return Ok(step);
    }
    // The bundled demo shop moves on with the calendar, as `preview` and `send` see it.
    crate::demo::refresh(&shop.config, &store, date).await?;
    // The night's exports, before the data check: a file dropped at 05:50 is in the 06:00
    // digest. A file that fails is named to the owner; the digest goes out without it.
    let local_now = now.with_timezone(&shop.config.shop.timezone);
    let picked = crate::ingest::nightly::pick_up(&store, &shop.config, local_now).await;
    for f in &picked.failed {
        tracing::error!(report = %report.name, %date, problem = %f, "a file was not imported");
    }
    // The live sources, likewise before the check; one that fails is named in the log, the
    // owner's summary and the email's freshness line, and the email goes out.
    let sync = crate::ingest::live::SyncOptions {
        since: None,
        check: false,
        day: local_now.date_naive(),
        at: now.timestamp(),
        progress: crate::progress::Style::Log,
    };
    let failed =
        crate::ingest::live::sync_due(&store, &shop.config, &sync, SYNC_GAP, SYNC_DEADLINE).await;
    for f in &failed {
        tracing::error!(report = %report.name, %date, problem = %f, "a source did not sync");
    }
    let missing = missing_data(&store, report, date).await?;
    if !missing.is_empty() && now < fire + report.wait {
        tracing::info!(report = %report.name, %date, missing = %missing.join(", "), "waiting for data");
        return Ok(Step::Later(Some(RunEvent::Waiting {
            report: report.name.clone(),
            date,
            missing,
        })));
    }
    deliver(&due, &store, channels, missing, shutdown).await
}

/// Done before any work: everyone is served (by this process before a restart, or by
/// another instance; sent, or unknown and never retried automatically), or it is too late.
async fn served_or_late(
    due: &Due<'_>,
    store: &Store,
    channels: &[Box<dyn Outlet>],
) -> Result<Option<Step>> {
    let Due {
        report, fire, date, ..
    } = *due;
    let settled = store.settled(&report.name, date).await?;
    let unserved: usize = channels.iter().map(|c| c.unserved(report, &settled)).sum();
    if unserved == 0 {
        return Ok(Some(Step::Done(None)));
    }
    if due.now - fire > report.grace {
        tracing::warn!(
            report = %report.name, %date, scheduled = %fire.to_rfc3339(), unserved,
            "skipped: past the grace period of {} h", report.grace.num_hours()
        );
        return Ok(Some(Step::Done(Some(RunEvent::Skipped {
            report: report.name.clone(),
            date,
        }))));
    }
    Ok(None)
}

/// The send itself, its log line, and whether to look again.
async fn deliver(
    due: &Due<'_>,
    store: &Store,
    channels: &[Box<dyn Outlet>],
    missing: Vec<String>,
    shutdown: &Arc<Shutdown>,
) -> Result<Step> {
    let Due {
        shop,
        report,
        fire,
        date,
        now,
    } = *due;
    let started = std::time::Instant::now();
    let opts = SendOptions {
        stop: Some(shutdown.clone()),
        // Every failure since the day before this fire, also those met while waiting.
        import_failures: [
            store
                .failed_files_since((fire - Duration::days(1)).timestamp())
                .await?,
            store
                .failed_syncs_since((fire - Duration::days(1)).timestamp())
                .await?,
        ]
        .concat(),
        ..SendOptions::default()
    };
    let local_now = now.with_timezone(&shop.config.shop.timezone);
    let (mut sent, mut failed, mut again) = (0, 0, false);
    for channel in channels {
        let summary = channel
            .send(store, &shop.config, report, date, local_now, &opts)
            .await;
        // The next run is hours away: a connection kept until then would be stale.
        channel.close().await;
        let s = summary?;
        log_run(report, date, &s, &missing, started);
        sent += s.sent.len();
        failed += s.unserved();
        // Transient failures, a stop part-way, or recipients another instance holds are
        // looked at again while the grace lasts; permanent failures are final (the owner
        // was told). Deliveries the ledger would not record are settled as unknown by the
        // next look.
        again |= s.transient > 0 || s.not_tried > 0 || !s.elsewhere.is_empty();
        again |= !s.unrecorded.is_empty();
    }
    let event = Some(RunEvent::Delivered {
        report: report.name.clone(),
        date,
        sent,
        failed,
        incomplete: missing,
    });
    if again {
        Ok(Step::Later(event))
    } else {
        Ok(Step::Done(event))
    }
}

/// The log line of one channel's send.
fn log_run(
    report: &Report,
    date: NaiveDate,
    s: &SendSummary,
    missing: &[String],
    started: std::time::Instant,
) {
    tracing::info!(
        report = %report.name,
        %date,
        sent = s.sent.len(),
        failed = s.failed.len(),
        unknown = s.unknown.len(),
        unrecorded = s.unrecorded.len(),
        already = s.skipped.len(),
        elsewhere = s.elsewhere.len(),
        incomplete = %missing.join(", "),
        duration_ms = started.elapsed().as_millis() as u64,
        "run"
    );
}

/// The tables the report waits for that have no data for `date`.
async fn missing_data(store: &Store, report: &Report, date: NaiveDate) -> Result<Vec<String>> {
    let fresh = store.freshness().await?;
    Ok(report
        .wait_for
        .iter()
        .filter(|t| {
            fresh
                .iter()
                .find(|(name, _)| name == t)
                .is_none_or(|(_, last)| last.is_none_or(|l| l < date))
        })
        .cloned()
        .collect())
}
