//! What a sync hands the store: the options it runs with, the load it fills record by
//! record (`Intake`), moving its cursor as it reads, and the end that commits the rows and
//! the cursor together. Every platform's module uses this; `live` dispatches to them.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::ingest::ImportSummary;
use crate::ingest::load::{Load, Rows, Target, Writing};
use crate::ingest::options::ImportOptions;
use crate::progress::{Progress, Style, Unit};
use crate::store::{Store, SyncMark};

/// The most pages (or bulk lines, in thousands) one sync reads: past it something loops.
pub(super) const MAX_PAGES: u64 = 100_000;

/// What a sync is told besides the source.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Read changes since this day (the shop's), whatever the cursor says.
    pub since: Option<NaiveDate>,
    /// Connect and say what would be synced; write nothing.
    pub check: bool,
    /// The day it runs, in the shop's zone: stock on hand is for it.
    pub day: NaiveDate,
    /// When it runs (epoch seconds), read at the edge.
    pub at: i64,
    /// How a long sync shows its progress (orders read).
    pub progress: Style,
}

/// A platform's side of a sync, once signed in and checked.
pub(super) struct Session {
    pub warnings: Vec<String>,
    pub requests: u64,
}

/// What a platform's sync hands back: the session, the orders read, the new cursor, the
/// import.
pub(super) type Synced = (Session, u64, Option<String>, ImportSummary);

/// The later of two RFC 3339 times (a cursor and an `updated_at`), as the API wrote it.
pub(super) fn later(cursor: &mut Option<String>, seen: &str) {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok();
    let Some(t) = parse(seen) else { return };
    if cursor.as_deref().and_then(parse).is_none_or(|c| t > c) {
        *cursor = Some(
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
}

/// Import options for a source's rows: the shop's zone (which its days follow), currency
/// and channels.
pub(super) fn import_options(
    config: &Config,
    tz: chrono_tz::Tz,
    opts: &SyncOptions,
) -> ImportOptions {
    ImportOptions {
        tz,
        ..ImportOptions::from_config(config, opts.day, opts.check, opts.at)
    }
}

/// Starts a source's load into the store.
pub(super) async fn begin<'s>(
    store: &'s Store,
    io: &ImportOptions,
    file: &str,
    format: &'static str,
    targets: &[Target],
) -> Result<Load<'s>> {
    Load::begin(
        store,
        io,
        file,
        format,
        targets,
        // A first sync into an empty store is a first load: its indexes are built once,
        // after the rows (see `load::FirstLoad`).
        Writing::Piped { first_load: true },
    )
    .await
}

/// Where a sync's records go: each record's rows into the load, the orders counted, and
/// the cursor moved to the latest `updated_at` seen.
pub(super) struct Intake<'l, 's> {
    load: &'l mut Load<'s>,
    progress: Progress,
    out: Rows,
    records: u64,
    pub orders: u64,
    pub cursor: Option<String>,
    /// The options the rows are read with (the shop's zone, channels, the day).
    pub io: ImportOptions,
}

impl<'l, 's> Intake<'l, 's> {
    pub(super) fn new(load: &'l mut Load<'s>, io: ImportOptions, style: Style, what: &str) -> Self {
        Intake {
            load,
            progress: Progress::start(style, what, None, Unit::Orders),
            out: Rows::new(),
            records: 0,
            orders: 0,
            cursor: None,
            io,
        }
    }

    /// One record's rows, from `rows`; a record that cannot be read is noted (nothing will
    /// be written, and the rest is only checked). False: stop reading.
    pub(super) async fn record(
        &mut self,
        what: &str,
        rows: impl FnOnce(&ImportOptions, &mut Rows) -> Result<()>,
    ) -> Result<bool> {
        self.records += 1;
        self.out.clear();
        if let Err(e) = rows(&self.io, &mut self.out) {
            self.out.clear();
            self.load.bad(self.records, &e.context(what.to_string()));
            return Ok(true);
        }
        self.load.rows(self.records, &mut self.out).await
    }

    /// An order read, updated at `updated_at`.
    pub(super) fn order_seen(&mut self, updated_at: &str) {
        self.orders += 1;
        self.progress.set(self.orders);
        later(&mut self.cursor, updated_at);
    }

    /// The records read, the orders among them and the new cursor.
    pub(super) fn done(self) -> (u64, u64, Option<String>) {
        self.progress.finish();
        (self.records, self.orders, self.cursor)
    }
}

/// Ends a source's load: the rows and the mark committed together, or the plan.
pub(super) async fn finish(
    mut load: Load<'_>,
    read: Result<u64>,
    source: &str,
    cursor: Option<String>,
    at: i64,
    zone: Option<String>,
) -> Result<ImportSummary> {
    load.mark(SyncMark {
        source: source.to_string(),
        cursor,
        at,
        zone,
    });
    load.finish(read, None).await
}

/// The tail of an ad platform's sync: its spend, summed by day and campaign, loaded under the
/// channel the shop maps `platform` to ("Google Ads" is paid search by default), with the
/// cursor at the sync day.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load_spend(
    store: &Store,
    config: &Config,
    source: &crate::config::SourceSettings,
    opts: &SyncOptions,
    format: &'static str,
    platform: &str,
    zone: String,
    mut sums: crate::ingest::ad_spend::SpendSums,
    session: Session,
) -> Result<Synced> {
    let channel = import_options(config, config.shop.timezone, opts).channel(platform);
    let mut rows = Rows::new();
    sums.finish(&channel, &mut rows);
    let targets = &crate::ingest::ad_spend::TARGETS;
    let (cursor, import) = load_days(
        store,
        config,
        source,
        opts,
        format,
        targets,
        Some(zone),
        rows,
    )
    .await?;
    Ok((session, 0, cursor, import))
}

/// A day-based source's rows (traffic, ad spend), each a record, committed with the cursor
/// at the sync day: the next sync reads again from that day less the lookback. Its days
/// are the platform's own, `zone`. Returns the cursor and the import.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load_days(
    store: &Store,
    config: &Config,
    source: &crate::config::SourceSettings,
    opts: &SyncOptions,
    format: &'static str,
    targets: &[Target],
    zone: Option<String>,
    rows: Rows,
) -> Result<(Option<String>, ImportSummary)> {
    let io = import_options(config, config.shop.timezone, opts);
    let file = format!("source {} ({})", source.name, source.platform.label());
    let mut load = begin(store, &io, &file, format, targets).await?;
    let mut intake = Intake::new(&mut load, io, opts.progress, &file);
    let mut read = Ok(());
    for (n, row) in rows.into_iter().enumerate() {
        let label = format!("row {}", n + 1);
        let one = |_: &ImportOptions, out: &mut Rows| {
            out.push(row);
            Ok(())
        };
        match intake.record(&label, one).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                read = Err(e);
                break;
            }
        }
    }
    let (records, _, _) = intake.done();
    let cursor = Some(format!("{}T00:00:00Z", opts.day));
    let import = finish(
        load,
        read.map(|()| records),
        &source.name,
        cursor.clone(),
        opts.at,
        zone,
    )
    .await?;
    Ok((cursor, import))
}

/// The longest text kept from an API (a name, a reason); a longer SKU is refused.
pub(super) const MAX_TEXT: usize = 255;

/// Text from an API, cut at [`MAX_TEXT`] characters.
pub(super) fn short(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

/// A money amount an API sends as a decimal string ("12.5"), within dawnpost's bound.
pub(super) fn amount(raw: &str, what: &str) -> Result<f64> {
    let shown = || super::http::excerpt(raw.as_bytes());
    let v: f64 = raw
        .trim()
        .parse()
        .map_err(|_| anyhow!("{what}: {:?} is not an amount", shown()))?;
    if !v.is_finite() || v.abs() > crate::schema::MAX_NUMBER {
        bail!("{what}: {:?} is not an amount dawnpost keeps", shown());
    }
    Ok(v)
}

/// A line's SKU, or its name when it has none (a custom item, a deleted product).
pub(super) fn sku_or_name(sku: Option<&str>, name: Option<&str>) -> Result<String> {
    let pick = match (sku.map(str::trim), name.map(str::trim)) {
        (Some(s), _) if !s.is_empty() => s,
        (_, Some(n)) if !n.is_empty() => n,
        _ => bail!("the line has neither a SKU nor a name"),
    };
    if pick.chars().count() > MAX_TEXT {
        bail!("a SKU of more than {MAX_TEXT} characters");
    }
    Ok(pick.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_keeps_the_latest_time_in_utc() {
        let mut c = None;
        later(&mut c, "2026-03-02T10:15:00Z");
        assert_eq!(c.as_deref(), Some("2026-03-02T10:15:00Z"));
        // An earlier time, and one that is no time, leave it.
        later(&mut c, "2026-03-01T23:00:00Z");
        later(&mut c, "yesterday");
        assert_eq!(c.as_deref(), Some("2026-03-02T10:15:00Z"));
        // 12:00 at +01:00 is 11:00 UTC: later, and written in UTC.
        later(&mut c, "2026-03-02T12:00:00+01:00");
        assert_eq!(c.as_deref(), Some("2026-03-02T11:00:00Z"));
    }
}
