//! The command line: what each command does (`args` defines them, `output` prints what
//! they show).
//!
//! This is the application edge: it reads the clock and the environment once and passes
//! explicit values (today, the data directory) into the library.

// The CLI is an edge: it reads the clock, and hands the time to everything it runs.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Days, NaiveDate, Utc};

/// Writes a line to standard output, returning from the function with [`output::OutputClosed`]
/// when the reader has gone (`dawnpost metrics | head -1`), instead of panicking as
/// `println!` does.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))?
    };
}

mod args;
mod output;

pub use args::{Cli, Command, JSON_BREAKDOWN_LIMIT, LogFormat, OutputFormat, log_filter};
pub use output::{OutputClosed, error_text};
use output::{print_import, print_recipients, print_schedule, write_backtest, write_table};

use crate::config::{Config, Lead, Report};
use crate::delivery::{SendOptions, Transport, send};
use crate::demo::{self, DemoOptions};
use crate::email::compose::{compose, write_preview};
use crate::email::render::Templates;
use crate::ingest::{self, Format, ImportOptions, parse_day};
use crate::serve::{ServeOptions, Shutdown, SystemClock, serve};
use crate::shops::{Shop, Shops};
use crate::store::Store;
use crate::store::report;

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<()> {
    let configs = if cli.config.is_empty() {
        vec![Config::demo(&data_dir(cli.data_dir.as_deref())?)?]
    } else {
        cli.config
            .iter()
            .map(|p| Config::load(p))
            .collect::<Result<Vec<_>>>()?
    };
    crate::shops::unique_report_names(&configs)?;
    // Commands that only read the config open no store: they work even where it is down.
    match &cli.command {
        Command::Recipients { report } => {
            let (_, report) = crate::shops::pick_report(&configs, |c| c, report.as_deref())?;
            return print_recipients(report);
        }
        Command::Schedule {
            report,
            count,
            from,
        } => {
            let (_, report) = crate::shops::pick_report(&configs, |c| c, report.as_deref())?;
            return schedule_command(report, *count, from.as_deref());
        }
        _ => {}
    }
    let mut shops = Vec::with_capacity(configs.len());
    for config in configs {
        let store = Store::open(&config.store.clone()).await?;
        shops.push(Shop { config, store });
    }
    let shops = Shops::new(shops)?;
    let result = dispatch(cli.command, &shops).await;
    shops.close().await;
    result
}

/// Runs a command that may span shops (it names a report), or hands one that works on a
/// single shop's store to [`dispatch_one`].
async fn dispatch(command: Command, shops: &Shops) -> Result<()> {
    match command {
        Command::Check => {
            for shop in shops.iter() {
                let yesterday = yesterday(&shop.config);
                refresh_demo(&shop.config, &shop.store, yesterday).await?;
                check(&shop.config, &shop.store, yesterday).await?;
            }
            Ok(())
        }
        Command::Send {
            report,
            date,
            to,
            dry_run,
            force,
            retry_unknown,
        } => {
            let (shop, report) = shops.report(report.as_deref())?;
            let (config, store) = (&shop.config, &shop.store);
            let yesterday = yesterday(config);
            refresh_demo(config, store, yesterday).await?;
            let flags = SendFlags {
                dry_run,
                force,
                retry_unknown,
            };
            send_command(config, store, report, yesterday, date, to, flags).await
        }
        Command::Serve => {
            let shutdown = std::sync::Arc::new(Shutdown::default());
            let signals = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("stopping: no new work; a send in flight finishes what it started");
                signals.trigger();
            });
            serve(shops, &SystemClock, &shutdown, &ServeOptions::default()).await?;
            Ok(())
        }
        Command::Status => status(shops).await,
        other => {
            let shop = shops.only(other.name())?;
            dispatch_one(other, &shop.config, &shop.store, yesterday(&shop.config)).await
        }
    }
}

/// A report's coming fire times, from `--from` or now.
fn schedule_command(report: &Report, count: usize, from: Option<&str>) -> Result<()> {
    let from = match from {
        Some(text) => parse_instant(text, report.schedule.tz).context("--from")?,
        None => Utc::now(),
    };
    print_schedule(report, from, count)
}

/// Each report's next run and its last week of deliveries.
async fn status(shops: &Shops) -> Result<()> {
    let now = Utc::now();
    for (shop, report) in shops.reports() {
        let next = report.schedule.next_after(now).map_or("never".into(), |t| {
            t.with_timezone(&report.schedule.tz)
                .format("%a %Y-%m-%d %H:%M %:z")
                .to_string()
        });
        say!(
            "report {} ({} recipients, {}): next {next}",
            report.name,
            report.recipients.len(),
            shop.store
        );
        let rows = shop.store.delivery_counts(&report.name, 7).await?;
        if rows.is_empty() {
            say!("  no deliveries yet");
        }
        for (date, c) in rows {
            say!(
                "  {date}: {} sent, {} failed, {} pending, {} unknown",
                c.sent,
                c.failed,
                c.pending,
                c.unknown
            );
        }
    }
    Ok(())
}

/// The switches of `send`.
#[derive(Debug, Clone, Copy)]
struct SendFlags {
    dry_run: bool,
    force: bool,
    retry_unknown: bool,
}

async fn send_command(
    config: &Config,
    store: &Store,
    report: &Report,
    yesterday: NaiveDate,
    date: Option<String>,
    to: Vec<String>,
    flags: SendFlags,
) -> Result<()> {
    let SendFlags {
        dry_run,
        force,
        retry_unknown,
    } = flags;
    let date = match date {
        Some(s) => parse_day(&s).context("--date")?,
        None => yesterday,
    };
    if !force {
        refuse_date_without_data(store, date, yesterday).await?;
    }
    let to = to
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e| anyhow::anyhow!("--to {a:?} is not an email address: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let transport = Transport::from_config(config)?;
    let now = Utc::now().with_timezone(&config.shop.timezone);
    let opts = SendOptions {
        to,
        dry_run,
        force,
        retry_unknown,
        stop: None,
        import_failures: Vec::new(),
    };
    let sent = send(store, config, report, &transport, date, now, &opts).await;
    transport.close().await;
    let s = sent?;
    for r in &s.held {
        say!("not sent again: {r}: delivery unknown (see --retry-unknown)");
    }
    for r in &s.skipped {
        say!("already sent: {r} (use --force to send again)");
    }
    for r in &s.elsewhere {
        say!("being sent by another sender: {r}");
    }
    if dry_run {
        for r in &s.would_send {
            say!("would send: {r}");
        }
        say!(
            "dry run: {} would be sent via {transport}, {} already served",
            s.would_send.len(),
            s.skipped.len()
        );
        return Ok(());
    }
    for r in &s.sent {
        say!("sent: {r}");
    }
    for (r, e) in &s.failed {
        say!("FAILED: {r}: {e}");
    }
    for (r, e) in &s.unknown {
        say!("UNKNOWN: {r}: {e}");
    }
    for (r, e) in &s.unrecorded {
        say!("DELIVERED BUT NOT RECORDED: {r}: {e}");
    }
    let unrecorded = if s.unrecorded.is_empty() {
        String::new()
    } else {
        format!(", {} delivered but not recorded", s.unrecorded.len())
    };
    say!(
        "report {} for {date} via {transport}: {} sent, {} already served, {} failed, {} unknown{unrecorded}",
        report.name,
        s.sent.len(),
        s.skipped.len(),
        s.failed.len(),
        s.unknown.len() + s.held.len()
    );
    // An unknown delivery is unresolved until someone looks, even one from an earlier run.
    let unknown = s.unknown.len() + s.held.len();
    if !s.unrecorded.is_empty() {
        bail!(
            "{} recipient(s) were delivered but the ledger could not record it; the next run \
             records them as unknown and does not send them again",
            s.unrecorded.len()
        );
    }
    if !s.failed.is_empty() || unknown > 0 {
        bail!(
            "{} recipient(s) were not served and {unknown} may or may not have been",
            s.failed.len()
        );
    }
    Ok(())
}

async fn dispatch_one(
    command: Command,
    config: &Config,
    store: &Store,
    yesterday: NaiveDate,
) -> Result<()> {
    match command {
        Command::Demo {
            end,
            days,
            seed,
            scale,
            shop,
            force,
        } => {
            let options = DemoOptions {
                end: day_or(end, yesterday, "--end")?,
                days,
                seed,
                scale,
                shop,
            };
            demo_command(config, store, &options, force).await
        }
        Command::Import {
            format,
            check,
            day,
            files,
        } => {
            let day = day_or(day, yesterday, "--day")?;
            import(config, store, format, check, day, files).await
        }
        Command::Preview {
            date,
            out,
            open,
            team,
        } => {
            refresh_demo(config, store, yesterday).await?;
            let date = day_or(date, yesterday, "--date")?;
            preview(config, store, date, &out, open, team.as_deref()).await
        }
        Command::Check
        | Command::Recipients { .. }
        | Command::Send { .. }
        | Command::Serve
        | Command::Schedule { .. }
        | Command::Status => {
            unreachable!("dispatched across shops, or before the stores open")
        }
        Command::Backtest {
            date,
            days,
            horizon,
            windows,
            format,
        } => {
            refresh_demo(config, store, yesterday).await?;
            let date = day_or(date, yesterday, "--date")?;
            let span = Replay {
                days,
                horizon,
                windows,
            };
            backtest(config, store, date, span, format).await
        }
        Command::Metrics { date, format, all } => {
            refresh_demo(config, store, yesterday).await?;
            let date = day_or(date, yesterday, "--date")?;
            metrics(config, store, date, format, all).await
        }
    }
}

/// The day a flag names, or `default` without it.
fn day_or(flag: Option<String>, default: NaiveDate, name: &str) -> Result<NaiveDate> {
    match flag {
        Some(s) => parse_day(&s).context(name.to_string()),
        None => Ok(default),
    }
}

async fn demo_command(
    config: &Config,
    store: &Store,
    options: &DemoOptions,
    force: bool,
) -> Result<()> {
    let started = Instant::now();
    let summary = demo::generate(store, options, config.shop.timezone, force).await?;
    say!(
        "demo shop written to {store}: {} rows over {} days ending {} in {:.2} s",
        summary.total(),
        options.days,
        options.end,
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in &summary.rows {
        say!("  {table:<14} {rows:>10}");
    }
    Ok(())
}

async fn preview(
    config: &Config,
    store: &Store,
    date: NaiveDate,
    out: &Path,
    open: bool,
    team: Option<&str>,
) -> Result<()> {
    let now = Utc::now().with_timezone(&config.shop.timezone);
    let templates = Templates::load(config.email.templates_dir.as_deref())?;
    let lead = match team {
        None => None,
        Some(name) => *config.team_leads.get(name).with_context(|| {
            let known: Vec<&str> = config.team_leads.keys().map(String::as_str).collect();
            format!(
                "--team: no team `{name}` in {}; the teams are: {}",
                config.origin,
                known.join(", ")
            )
        })?,
    };
    let mut composed = compose(store, config, &templates, date, now).await?;
    if lead.is_some() {
        composed.rendered = composed.variant(&templates, lead)?;
        composed.digest = composed.digest.with_lead(lead);
    }
    let files = write_preview(&composed, config, now, out)?;
    say!("subject: {}", composed.rendered.subject);
    say!("{}", files.html.display());
    say!("{}", files.text.display());
    say!("{}", files.eml.display());
    for p in &files.images {
        say!("{}", p.display());
    }
    if open {
        open_in_browser(&files.html);
    }
    Ok(())
}

/// What `backtest` replays: windows of days, each forecast up to a horizon ahead.
struct Replay {
    days: u32,
    horizon: Option<u32>,
    windows: u32,
}

async fn backtest(
    config: &Config,
    store: &Store,
    date: NaiveDate,
    replay: Replay,
    format: OutputFormat,
) -> Result<()> {
    let Replay {
        days,
        horizon,
        windows,
    } = replay;
    if !(1..=3650).contains(&days) {
        bail!("--days must be between 1 and 3650 (got {days})");
    }
    if windows < 1 || u64::from(days) * u64::from(windows) > 3650 {
        bail!(
            "--windows must be at least 1, and --days × --windows at most 3650 (got {windows} × {days})"
        );
    }
    let horizon = horizon.unwrap_or(config.outlook.days);
    if !(1..=crate::metrics::forecast::MAX_DAYS).contains(&horizon) {
        bail!(
            "--horizon must be between 1 and {} (got {horizon})",
            crate::metrics::forecast::MAX_DAYS
        );
    }
    let b = crate::store::gather::backtest(store, config, date, days, horizon, windows).await?;
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => serde_json::to_writer_pretty(&mut out, &b)
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(writeln!(out)?)),
        OutputFormat::Table => write_backtest(&mut out, &b),
    }
    .map_err(output::closed)
}

async fn metrics(
    config: &Config,
    store: &Store,
    date: NaiveDate,
    format: OutputFormat,
    all: bool,
) -> Result<()> {
    let mut report = report::build(store, config, date).await?;
    if !all {
        // Ranked largest first (month to date), so the cut keeps the biggest.
        for m in &mut report.metrics {
            m.breakdown.truncate(JSON_BREAKDOWN_LIMIT);
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(writeln!(out)?)),
        OutputFormat::Table => write_table(&mut out, &report, config),
    }
    .map_err(output::closed)
}

/// A send for a day that has not ended, or for which the store holds no orders and no
/// traffic, would mail an email of "no data" to everyone: refused unless `--force`.
async fn refuse_date_without_data(
    store: &Store,
    date: NaiveDate,
    yesterday: NaiveDate,
) -> Result<()> {
    if date > yesterday {
        bail!(
            "--date {date} is not over yet (the latest report date is {yesterday}); use --force to send anyway"
        );
    }
    if store.rows_on("orders", date).await? == 0 && store.rows_on("traffic", date).await? == 0 {
        bail!("the store has no orders and no traffic for {date}; use --force to send anyway");
    }
    Ok(())
}

/// Regenerates a demo store that no longer ends yesterday.
async fn refresh_demo(config: &Config, store: &Store, yesterday: NaiveDate) -> Result<()> {
    demo::refresh(config, store, yesterday).await
}

async fn check(config: &Config, store: &Store, yesterday: NaiveDate) -> Result<()> {
    say!("config   {}", config.origin);
    say!(
        "shop     {} ({}, {}), week starts {}",
        config.shop.name,
        config.shop.timezone,
        config.shop.currency,
        config.shop.week_start
    );
    say!("store    {store} ({:?}), migrated", store.backend());
    for table in crate::schema::data_tables() {
        say!("  {table:<14} {:>10} rows", store.count(table).await?);
    }
    for (table, last) in store.freshness().await? {
        let last = last.map_or_else(|| "no data".to_string(), |d| d.to_string());
        say!("  {table:<14} last day {last}");
    }
    let stale = crate::store::rollup::stale_days(store).await?;
    if stale == 0 {
        say!("rollups  up to date");
    } else {
        say!("rollups  {stale} days to rebuild (on the next report)");
    }
    // Running every metric once proves its SQL against this store.
    let mut failed = Vec::new();
    for m in config.catalog.iter() {
        let mut sink = Default::default();
        if let Err(e) = store
            .metric_series(m, &[(yesterday, yesterday)], &mut sink)
            .await
        {
            failed.push(format!("{e:#}"));
        }
    }
    say!(
        "metrics  {} defined, {} failed",
        config.catalog.len(),
        failed.len()
    );
    if failed.is_empty() {
        failed.extend(check_templates(config, store, yesterday).await?);
    } else {
        // Composing would run the failed metrics again and log their reasons twice.
        say!("email    not rendered until every metric answers");
    }
    for s in ingest::nightly::survey(store, config).await {
        say!(
            "imports  {} ({}): {} files, {} new or changed",
            s.entry,
            s.format,
            s.files,
            s.pending
        );
        for p in &s.problems {
            say!("  {p}");
        }
        for f in &s.failed {
            say!("  failed: {f}");
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    say!("ok");
    Ok(())
}

/// Renders every template once, as `send` would: the store's digest for the latest day up to
/// yesterday with orders or traffic (yesterday itself when the store has neither, whose
/// "no data" wording still runs every template), then each team lead's copy. So an
/// undefined variable, a template that includes itself or never ends, or an email past
/// Gmail's clip fails here, not at 6 AM. Returns what failed.
async fn check_templates(
    config: &Config,
    store: &Store,
    yesterday: NaiveDate,
) -> Result<Vec<String>> {
    let templates = match Templates::load(config.email.templates_dir.as_deref()) {
        Ok(t) => t,
        Err(e) => return Ok(vec![format!("{e:#}")]),
    };
    let date = match store.freshness_at(yesterday).await {
        Ok(last) => last
            .iter()
            .filter(|(table, _)| matches!(*table, "orders" | "traffic"))
            .filter_map(|(_, d)| *d)
            .max()
            .unwrap_or(yesterday),
        Err(e) => return Ok(vec![format!("{e:#}")]),
    };
    let now = Utc::now().with_timezone(&config.shop.timezone);
    let composed = match compose(store, config, &templates, date, now).await {
        Ok(c) => c,
        Err(e) => return Ok(vec![format!("{e:#} (rendering the email for {date})")]),
    };
    let mut leads: Vec<Lead> = config.team_leads.values().flatten().copied().collect();
    leads.sort();
    leads.dedup();
    let mut failed = Vec::new();
    for lead in leads {
        if let Err(e) = composed.variant(&templates, Some(lead)) {
            failed.push(format!("{e:#} (the {} copy for {date})", lead.name()));
        }
    }
    let r = &composed.rendered;
    say!(
        "email    rendered for {date}: subject {} characters, HTML {} of {} bytes (Gmail's \
         clip), template fuel at most {} of {}",
        r.subject.chars().count(),
        r.html.len(),
        crate::email::render::GMAIL_CLIP_BYTES,
        r.fuel.values().max().unwrap_or(&0),
        crate::email::render::FUEL
    );
    if r.html.len() > crate::email::render::GMAIL_CLIP_BYTES {
        say!(
            "  warning: past Gmail's clip, the email goes out clipped (Gmail shows its top and \
             links to the rest); fewer metrics of your own would keep it whole"
        );
    }
    Ok(failed)
}

fn open_in_browser(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(path).spawn() {
        tracing::warn!(error = %e, "could not open {} with {opener}", path.display());
    }
}

/// Yesterday in the shop's time zone: the default report date.
fn yesterday(config: &Config) -> NaiveDate {
    let today = Utc::now().with_timezone(&config.shop.timezone).date_naive();
    today
        .checked_sub_days(Days::new(1))
        .expect("dates in range")
}

/// The data directory: the flag or `DAWNPOST_DATA_DIR`, else the XDG data directory.
fn data_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = flag {
        return Ok(d.to_path_buf());
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("dawnpost"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/dawnpost")),
        None => bail!("no data directory: set DAWNPOST_DATA_DIR or HOME, or pass --config"),
    }
}

/// SIGTERM (systemd stop) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// An instant from RFC 3339, or from "YYYY-MM-DD HH:MM" read in `tz`.
fn parse_instant(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>> {
    use chrono::TimeZone;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .map_err(|_| anyhow::anyhow!("{text:?} is neither RFC 3339 nor \"YYYY-MM-DD HH:MM\""))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| anyhow::anyhow!("{text} does not exist in {tz} (a daylight-saving gap)"))
}

/// `dawnpost import`: each file on its own, all or nothing; the run fails if any file did.
async fn import(
    config: &Config,
    store: &Store,
    format: Option<String>,
    check: bool,
    day: NaiveDate,
    mut files: Vec<PathBuf>,
) -> Result<()> {
    let mut format = format.as_deref().map(Format::from_name).transpose()?;
    // `import orders orders.csv`: a table's name first, where no such file exists.
    if format.is_none()
        && files.len() >= 2
        && !files[0].exists()
        && let Some(name) = files[0].to_str()
        && let Ok(f @ Format::Table(_)) = Format::from_name(name)
    {
        format = Some(f);
        files.remove(0);
    }
    let opts = ImportOptions::from_config(config, day, check, Utc::now().timestamp());
    let mut failed = 0;
    for file in &files {
        let started = Instant::now();
        match ingest::import_file(store, format, file, &opts).await {
            Ok(s) => print_import(file, &s, started.elapsed().as_secs_f64())?,
            Err(e) => {
                failed += 1;
                let _ = writeln!(std::io::stderr(), "error: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files not imported", files.len());
    }
    Ok(())
}
