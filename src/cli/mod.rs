//! The command line: what each command does (`args` defines them, `output` prints what
//! they show).
//!
//! This is the application edge: it reads the clock and the environment once and passes
//! explicit values (today, the data directory) into the library.

// The CLI is an edge: it reads the clock, and hands the time to everything it runs.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::{Days, NaiveDate, Utc};

mod args;
mod output;

use args::Moment;
pub use args::{Cli, Command, JSON_BREAKDOWN_LIMIT, LogFormat, OutputFormat, log_filter};
pub use output::{OutputClosed, error_text};
use output::{print_import, print_recipients, print_schedule};

use crate::config::{Config, Lead, Report};
use crate::delivery::{SendOptions, outlets};
use crate::demo::{self, DemoOptions};
use crate::email::compose::{compose, compose_for, write_preview};
use crate::email::render::Templates;
use crate::ingest::{self, Format, ImportOptions};
use crate::progress::Style;
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
    for config in &configs {
        ingest::check_formats(config)?;
    }
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
            return schedule_command(report, *count, *from);
        }
        _ => {}
    }
    // Each store opens when the command reaches its shop: one about a single shop opens
    // only that shop's store.
    let shops = Shops::new(configs.into_iter().map(Shop::new).collect())?;
    let style = progress_style(cli.log_format);
    let result = dispatch(cli.command, &shops, style).await;
    shops.close().await;
    result
}

/// Runs a command that may span shops (it names a report), or hands one that works on a
/// single shop's store to [`dispatch_one`].
async fn dispatch(command: Command, shops: &Shops, style: Style) -> Result<()> {
    match command {
        Command::Check => {
            for shop in shops.iter() {
                let yesterday = yesterday(&shop.config);
                let store = shop.store().await?;
                refresh_demo(&shop.config, &store, yesterday).await?;
                check(&shop.config, &store, yesterday).await?;
                shop.close().await;
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
            let (config, store) = (&shop.config, &shop.store().await?);
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
            let store = shop.store().await?;
            dispatch_one(other, &shop.config, &store, yesterday(&shop.config), style).await
        }
    }
}

/// How long work shows its progress: a bar on a terminal, log lines where logs are read as
/// data or nobody watches.
fn progress_style(logs: LogFormat) -> Style {
    use std::io::IsTerminal as _;
    match logs {
        LogFormat::Text if std::io::stderr().is_terminal() => Style::Bar,
        _ => Style::Log,
    }
}

/// A report's coming fire times, from `--from` or now.
fn schedule_command(report: &Report, count: usize, from: Option<Moment>) -> Result<()> {
    let from = match from {
        Some(at) => at.in_zone(report.schedule.tz).context("--from")?,
        None => Utc::now(),
    };
    print_schedule(report, from, count)
}

/// Each report's next run and its last week of deliveries.
async fn status(shops: &Shops) -> Result<()> {
    let now = Utc::now();
    for shop in shops
        .iter()
        .filter(|s| !s.config.reports.is_empty() || !s.config.sources.is_empty())
    {
        let store = shop.store().await?;
        for report in &shop.config.reports {
            let rows = store.delivery_counts(&report.name, 7).await?;
            output::print_status(report, &store, report.schedule.next_after(now), &rows)?;
        }
        for source in &shop.config.sources {
            let state = store.source_state(&source.name).await?;
            output::print_source_status(source, &state, shop.config.shop.timezone)?;
        }
        let handoffs = store.recent_handoffs(10).await?;
        output::print_handoffs(&handoffs, shop.config.shop.timezone)?;
        shop.close().await;
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
    date: Option<NaiveDate>,
    to: Vec<String>,
    flags: SendFlags,
) -> Result<()> {
    let SendFlags {
        dry_run,
        force,
        retry_unknown,
    } = flags;
    let date = report.date_for(date.unwrap_or(yesterday));
    if !force {
        refuse_date_without_data(store, date, yesterday).await?;
    }
    let now = Utc::now().with_timezone(&config.shop.timezone);
    let opts = SendOptions {
        to,
        dry_run,
        force,
        retry_unknown,
        stop: None,
        import_failures: Vec::new(),
    };
    let (mut failed, mut unknown, mut unrecorded) = (0, 0, 0);
    let outlets = outlets(config)?;
    if let Some(t) = opts.to.iter().find(|t| !outlets.iter().any(|o| o.takes(t))) {
        bail!(
            "--to {t:?}: no channel of this config takes it (slack: needs [slack]; msteams: a \
             report with teams_webhook_env or teams_webhook_file)"
        );
    }
    for outlet in outlets {
        // A test send goes only through the channels its recipients are on.
        if !opts.to.is_empty() && !opts.to.iter().any(|t| outlet.takes(t)) {
            continue;
        }
        let sent = outlet.send(store, config, report, date, now, &opts).await;
        outlet.close().await;
        let s = sent?;
        output::print_send(report, date, &outlet, &s, dry_run)?;
        failed += s.failed.len();
        // An unknown delivery is unresolved until someone looks, even one from an earlier run.
        unknown += s.unknown.len() + s.held.len();
        unrecorded += s.unrecorded.len();
    }
    if dry_run {
        return Ok(());
    }
    if unrecorded > 0 {
        bail!(
            "{unrecorded} recipient(s) were delivered but the ledger could not record it; the \
             next run records them as unknown and does not send them again"
        );
    }
    if failed > 0 || unknown > 0 {
        bail!("{failed} recipient(s) were not served and {unknown} may or may not have been");
    }
    Ok(())
}

async fn dispatch_one(
    command: Command,
    config: &Config,
    store: &Store,
    yesterday: NaiveDate,
    style: Style,
) -> Result<()> {
    match command {
        Command::Demo(d) => {
            demo_command(config, store, &d.options(yesterday), d.force, style).await
        }
        Command::Import {
            format,
            check,
            day,
            files,
        } => {
            let day = day.unwrap_or(yesterday);
            import(config, store, format, check, day, files, style).await
        }
        Command::Sync {
            source,
            since,
            check,
        } => sync(config, store, source.as_deref(), since, check, style).await,
        Command::Preview(p) => {
            refresh_demo(config, store, yesterday).await?;
            let date = p.date.unwrap_or(yesterday);
            let page = Page::of(config, p.report.as_deref(), date, &p.out)?;
            let page = Page {
                open: p.open,
                team: p.team.as_deref(),
                ..page
            };
            preview(config, store, &page).await
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
            let date = date.unwrap_or(yesterday);
            let span = Replay {
                days,
                horizon,
                windows,
            };
            backtest(config, store, date, span, format).await
        }
        Command::Campaign {
            action: args::CampaignAction::Add(plan),
        } => campaign_add(store, plan.into()).await,
        Command::Preflight(p) => {
            refresh_demo(config, store, yesterday).await?;
            preflight_command(config, store, p.date.unwrap_or(yesterday), p).await
        }
        Command::Metrics {
            date,
            format,
            all,
            period,
        } => {
            refresh_demo(config, store, yesterday).await?;
            let date = date.unwrap_or(yesterday);
            metrics(config, store, date, format, all, period).await
        }
    }
}

async fn demo_command(
    config: &Config,
    store: &Store,
    options: &DemoOptions,
    force: bool,
    style: Style,
) -> Result<()> {
    let started = Instant::now();
    let tz = config.shop.timezone;
    let summary = demo::generate_showing(store, options, tz, force, style).await?;
    let secs = started.elapsed().as_secs_f64();
    output::print_demo(store, &summary, options, secs)
}

/// What `preview` writes: a report date and period, where, and which team's copy.
struct Page<'a> {
    date: NaiveDate,
    period: crate::config::ReportPeriod,
    out: &'a Path,
    open: bool,
    team: Option<&'a str>,
}

impl<'a> Page<'a> {
    /// The page of `report` (the morning email without one) for `date`: a weekly report's
    /// is the last full week ending on or before it.
    fn of(
        config: &Config,
        report: Option<&str>,
        date: NaiveDate,
        out: &'a Path,
    ) -> Result<Page<'a>> {
        let period = match report {
            None => crate::config::ReportPeriod::Day,
            Some(name) => named_report(config, name)?.period,
        };
        let date = match period {
            crate::config::ReportPeriod::Day => date,
            crate::config::ReportPeriod::Week => {
                crate::metrics::period::last_full_week(date, config.shop.week_start).1
            }
        };
        Ok(Page {
            date,
            period,
            out,
            open: false,
            team: None,
        })
    }
}

/// The report of that name in the config, or an error naming those there are.
fn named_report<'a>(config: &'a Config, name: &str) -> Result<&'a Report> {
    config
        .reports
        .iter()
        .find(|r| r.name == name)
        .with_context(|| {
            let known: Vec<&str> = config.reports.iter().map(|r| r.name.as_str()).collect();
            format!(
                "--report: no report `{name}` in {}; the reports are: {}",
                config.origin,
                known.join(", ")
            )
        })
}

async fn preview(config: &Config, store: &Store, page: &Page<'_>) -> Result<()> {
    let Page {
        date,
        period,
        out,
        open,
        team,
    } = *page;
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
    let mut composed = compose_for(store, config, &templates, period, date, now).await?;
    if lead.is_some() {
        composed.rendered = composed.variant(&templates, lead)?;
        composed.digest = composed.digest.with_lead(lead);
    }
    let files = write_preview(&composed, config, now, out)?;
    // The Slack post as a channel would get it, in its Block Kit shape (charts by file id
    // once uploaded): for Slack's Block Kit Builder, or a look before setting up [slack].
    let slack = out.join("slack.json");
    let post = crate::chat::slack::post(&composed.digest);
    std::fs::write(&slack, serde_json::to_string_pretty(&post)?)
        .with_context(|| format!("cannot write {}", slack.display()))?;
    output::print_preview(&composed.rendered.subject, &files)?;
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
    match format {
        OutputFormat::Json => output::print_json(&b),
        OutputFormat::Table => output::print_backtest(&b),
    }
}

async fn metrics(
    config: &Config,
    store: &Store,
    date: NaiveDate,
    format: OutputFormat,
    all: bool,
    period: args::PeriodArg,
) -> Result<()> {
    let mut report = match period {
        args::PeriodArg::Day => report::build(store, config, date).await?,
        args::PeriodArg::Week => {
            let (_, last) = crate::metrics::period::last_full_week(date, config.shop.week_start);
            report::build_week(store, config, last).await?
        }
    };
    if !all {
        // Ranked largest first (month to date), so the cut keeps the biggest.
        for m in &mut report.metrics {
            m.breakdown.truncate(JSON_BREAKDOWN_LIMIT);
        }
    }
    match format {
        OutputFormat::Json => output::print_json(&report),
        OutputFormat::Table => output::print_table(&report, config),
    }
}

/// `campaign add`: the plan checked for what the store would refuse less clearly, then
/// written with its SKUs in one transaction.
async fn campaign_add(store: &Store, mut plan: crate::metrics::preflight::Plan) -> Result<()> {
    plan.skus.retain(|s| !s.trim().is_empty());
    plan.skus = plan.skus.iter().map(|s| s.trim().to_string()).collect();
    plan.skus.sort();
    plan.skus.dedup();
    for (key, v) in [("--name", &plan.campaign), ("--channel", &plan.channel)] {
        if v.trim().is_empty() || v.chars().count() > crate::config::MAX_NAME {
            bail!("{key}: give 1 to {} characters", crate::config::MAX_NAME);
        }
        if v.chars().any(char::is_control) {
            bail!("{key}: control characters are not allowed");
        }
    }
    if plan.end < plan.start {
        bail!("--end {} is before --start {}", plan.end, plan.start);
    }
    if let Some(l) = plan.expected_lift
        && !(l.is_finite() && l > -1.0 && l <= 100.0)
    {
        bail!(
            "--expected-lift {l}: give the lift as a fraction above -1 (0.3 for 30% more orders)"
        );
    }
    if let Some(d) = plan.discount
        && !(d.is_finite() && (0.0..1.0).contains(&d))
    {
        bail!(
            "--discount {d}: give the discount as a fraction from 0 to under 1 (0.2 for 20% off)"
        );
    }
    store.save_plan(&plan).await?;
    output::print_campaign_added(&plan)
}

/// `preflight`: the check of one campaign as of `origin`, after recording a confirmation
/// if one is given.
async fn preflight(
    config: &Config,
    store: &Store,
    campaign: &str,
    confirm: Option<&str>,
    origin: NaiveDate,
    format: OutputFormat,
) -> Result<()> {
    let Some(plan) = store.plan(campaign).await? else {
        bail!(
            "no campaign named {campaign:?} in the calendar (add it with `dawnpost campaign add`)"
        );
    };
    if let Some(note) = confirm {
        if note.trim().is_empty() || note.chars().count() > crate::config::MAX_SUBJECT {
            bail!(
                "--confirm: give a note of 1 to {} characters",
                crate::config::MAX_SUBJECT
            );
        }
        if note.chars().any(char::is_control) {
            bail!("--confirm: control characters are not allowed");
        }
        let now = Utc::now().timestamp();
        store
            .confirm(campaign, &plan.fingerprint(), note.trim(), now)
            .await?;
    }
    let confirmation = store
        .confirmations(std::slice::from_ref(&plan.campaign))
        .await?
        .remove(&plan.campaign);
    let check = crate::store::gather::preflight(store, config, &plan, origin)
        .await?
        .confirmed_by(confirmation);
    match format {
        OutputFormat::Json => output::print_json(&check),
        OutputFormat::Table => output::print_preflight(&check, config),
    }
}

/// `preflight`: one campaign (with a confirmation first, if given), or every one starting
/// within the notice.
async fn preflight_command(
    config: &Config,
    store: &Store,
    origin: NaiveDate,
    p: args::PreflightArgs,
) -> Result<()> {
    match p.campaign {
        Some(c) => preflight(config, store, &c, p.confirm.as_deref(), origin, p.format).await,
        None if p.confirm.is_some() => bail!("--confirm: name the campaign it confirms"),
        None => preflight_all(config, store, origin, p.format).await,
    }
}

/// `preflight` without a campaign: every campaign starting from the day after `origin` to
/// the notice's end, checked, a line each (or all of them as JSON).
async fn preflight_all(
    config: &Config,
    store: &Store,
    origin: NaiveDate,
    format: OutputFormat,
) -> Result<()> {
    let first = origin + Days::new(1);
    let last = first + Days::new(u64::from(config.preflight.notice_days));
    let plans = store.plans_starting(first, last).await?;
    let names: Vec<String> = plans.iter().map(|p| p.campaign.clone()).collect();
    let mut confirmations = store.confirmations(&names).await?;
    let checks: Vec<_> = crate::store::gather::preflights(store, config, &plans, origin)
        .await?
        .into_iter()
        .map(|c| {
            let confirmation = confirmations.remove(&c.plan.campaign);
            c.confirmed_by(confirmation)
        })
        .collect();
    match format {
        OutputFormat::Json => output::print_json(&checks),
        OutputFormat::Table => output::print_preflights(&checks, config, first, last),
    }
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
    let mut counts = Vec::new();
    for table in crate::schema::data_tables() {
        counts.push((table, store.count(table).await?));
    }
    let fresh = store.freshness().await?;
    let stale = crate::store::rollup::stale_days(store).await?;
    output::print_check_store(config, store, &counts, &fresh, stale)?;
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
    output::print_check_metrics(config.catalog.len(), failed.len())?;
    if failed.is_empty() {
        failed.extend(check_templates(config, store, yesterday).await?);
    } else {
        // Composing would run the failed metrics again and log their reasons twice.
        output::print_email_unchecked()?;
    }
    output::print_surveys(&ingest::nightly::survey(store, config).await)?;
    for source in &config.sources {
        match ingest::live::probe(config, source, Utc::now().timestamp()).await {
            Ok(warnings) => output::print_source_ok(source, &warnings)?,
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if let Some(slack) = crate::delivery::SlackChannel::from_config(config)? {
        match slack.probe().await {
            Ok(who) => output::print_slack_ok(&who)?,
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    output::print_ok()
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
    output::print_email_check("email", date, &composed.rendered)?;
    // A weekly report renders its own body: the week to the same date, checked once.
    if let Some(weekly) = config
        .reports
        .iter()
        .find(|r| r.period == crate::config::ReportPeriod::Week)
    {
        let week = weekly.date_for(date);
        match compose_for(store, config, &templates, weekly.period, week, now).await {
            Ok(c) => output::print_email_check("weekly", week, &c.rendered)?,
            Err(e) => failed.push(format!("{e:#} (rendering the weekly review to {week})")),
        }
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

/// `dawnpost import`: each file on its own, all or nothing; the run fails if any file did.
/// `sync`: every source (or one), each on its own; fails when any failed.
async fn sync(
    config: &Config,
    store: &Store,
    source: Option<&str>,
    since: Option<NaiveDate>,
    check: bool,
    style: Style,
) -> Result<()> {
    let now = Utc::now();
    let opts = ingest::live::SyncOptions {
        since,
        check,
        progress: style,
        day: now.with_timezone(&config.shop.timezone).date_naive(),
        at: now.timestamp(),
    };
    let results = ingest::live::sync_all(store, config, source, &opts).await?;
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    for (name, result) in &results {
        match result {
            Ok(s) => output::print_sync(s)?,
            Err(e) => output::print_sync_error(name, e),
        }
    }
    if failed > 0 {
        bail!("{failed} of {} sources not synced", results.len());
    }
    Ok(())
}

async fn import(
    config: &Config,
    store: &Store,
    format: Option<String>,
    check: bool,
    day: NaiveDate,
    mut files: Vec<PathBuf>,
    style: Style,
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
    let opts = ImportOptions {
        progress: style,
        ..ImportOptions::from_config(config, day, check, Utc::now().timestamp())
    };
    let mut failed = 0;
    for file in &files {
        let started = Instant::now();
        match ingest::import_file(store, format, file, &opts).await {
            Ok(s) => print_import(file, &s, started.elapsed().as_secs_f64())?,
            Err(e) => {
                failed += 1;
                output::print_file_error(&e);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files not imported", files.len());
    }
    Ok(())
}
