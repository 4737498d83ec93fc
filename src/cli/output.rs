//! What the terminal shows, all of it: each command's lines, the metrics table, the
//! backtest's accuracy, JSON, and an error as one line. The commands fetch; this prints.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

/// Writes a line to standard output, returning from the function with [`OutputClosed`]
/// when the reader has gone (`dawnpost metrics | head -1`), instead of panicking as
/// `println!` does.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))?
    };
}

use crate::config::{Config, RecipientKey, Report};
use crate::delivery::SendSummary;
use crate::demo::{DemoOptions, DemoSummary};
use crate::digest::format::Formatter;
use crate::email::compose::PreviewFiles;
use crate::email::render::Rendered;
use crate::ingest;
use crate::ingest::nightly::Survey;
use crate::metrics::metric::Unit;
use crate::metrics::period::ComparisonKind;
use crate::metrics::report::{MetricResult, MetricsReport};
use crate::store::{DeliveryCounts, Store};

/// `check`'s line for the Slack bot it signed in as.
pub(super) fn print_slack_ok(who: &str) -> Result<()> {
    say!("slack    signed in as {who}");
    Ok(())
}

/// A report's next run and its last week of deliveries, for `status`.
pub(super) fn print_status(
    report: &Report,
    store: &Store,
    next: Option<DateTime<Utc>>,
    rows: &[(NaiveDate, Vec<(&'static str, DeliveryCounts)>)],
) -> Result<()> {
    let next = next.map_or("never".into(), |t| {
        t.with_timezone(&report.schedule.tz)
            .format("%a %Y-%m-%d %H:%M %:z")
            .to_string()
    });
    let mut slack = match report.slack_channels.len() {
        0 => String::new(),
        1 => ", 1 Slack channel".to_string(),
        n => format!(", {n} Slack channels"),
    };
    if report.teams_webhook.is_some() {
        slack.push_str(", a Teams webhook");
    }
    say!(
        "report {} ({} recipients{slack}, {}): next {next}",
        report.name,
        report.recipients.len(),
        store
    );
    if rows.is_empty() {
        say!("  no deliveries yet");
    }
    for (date, by) in rows {
        let parts: Vec<String> = by
            .iter()
            .map(|(channel, c)| {
                format!(
                    "{channel} {} sent, {} failed, {} pending, {} unknown",
                    c.sent, c.failed, c.pending, c.unknown
                )
            })
            .collect();
        say!("  {date}: {}", parts.join("; "));
    }
    Ok(())
}

/// What `send` did for each recipient, then the tally.
pub(super) fn print_send(
    report: &Report,
    date: NaiveDate,
    via: &impl std::fmt::Display,
    s: &SendSummary,
    dry_run: bool,
) -> Result<()> {
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
            "dry run: {} would be sent via {via}, {} already served",
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
        "report {} for {date} via {via}: {} sent, {} already served, {} failed, {} unknown{unrecorded}",
        report.name,
        s.sent.len(),
        s.skipped.len(),
        s.failed.len(),
        s.unknown.len() + s.held.len()
    );
    Ok(())
}

pub(super) fn print_demo(
    store: &Store,
    summary: &DemoSummary,
    options: &DemoOptions,
    secs: f64,
) -> Result<()> {
    say!(
        "demo shop written to {store}: {} rows over {} days ending {} in {secs:.2} s",
        summary.total(),
        options.days,
        options.end,
    );
    for (table, rows) in &summary.rows {
        say!("  {table:<14} {rows:>10}");
    }
    Ok(())
}

/// The preview's subject and the files written.
pub(super) fn print_preview(subject: &str, files: &PreviewFiles) -> Result<()> {
    say!("subject: {subject}");
    say!("{}", files.html.display());
    say!("{}", files.text.display());
    say!("{}", files.eml.display());
    for p in &files.images {
        say!("{}", p.display());
    }
    Ok(())
}

/// `check`'s opening: the config, the shop, and the store's tables, days and rollups.
pub(super) fn print_check_store(
    config: &Config,
    store: &Store,
    counts: &[(&str, i64)],
    fresh: &[(&str, Option<NaiveDate>)],
    stale: i64,
) -> Result<()> {
    say!("config   {}", config.origin);
    say!(
        "shop     {} ({}, {}), week starts {}",
        config.shop.name,
        config.shop.timezone,
        config.shop.currency,
        config.shop.week_start
    );
    say!("store    {store} ({:?}), migrated", store.backend());
    for (table, n) in counts {
        say!("  {table:<14} {n:>10} rows");
    }
    for (table, last) in fresh {
        let last = last.map_or_else(|| "no data".to_string(), |d| d.to_string());
        say!("  {table:<14} last day {last}");
    }
    if stale == 0 {
        say!("rollups  up to date");
    } else {
        say!("rollups  {stale} days to rebuild (on the next report)");
    }
    Ok(())
}

pub(super) fn print_check_metrics(defined: usize, failed: usize) -> Result<()> {
    say!("metrics  {defined} defined, {failed} failed");
    Ok(())
}

pub(super) fn print_email_unchecked() -> Result<()> {
    say!("email    not rendered until every metric answers");
    Ok(())
}

/// The email `check` rendered: its sizes against Gmail's clip and the template budget.
pub(super) fn print_email_check(what: &str, date: NaiveDate, r: &Rendered) -> Result<()> {
    say!(
        "{what:<8} rendered for {date}: subject {} characters, HTML {} of {} bytes (Gmail's \
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
    Ok(())
}

/// Each nightly folder: its files, what is new, and what failed.
pub(super) fn print_surveys(surveys: &[Survey]) -> Result<()> {
    for s in surveys {
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
    Ok(())
}

pub(super) fn print_ok() -> Result<()> {
    say!("ok");
    Ok(())
}

/// A file that was not imported, on standard error: the other files go on.
pub(super) fn print_file_error(e: &anyhow::Error) {
    // Nowhere to say it if standard error is gone; the exit code still does.
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
}

/// A value as pretty JSON on standard output.
pub(super) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(writeln!(out)?))
        .map_err(closed)
}

/// The latest campaign handoffs, a line each; nothing when none was sent.
pub(super) fn print_handoffs(
    rows: &[crate::store::HandoffSummary],
    tz: chrono_tz::Tz,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    say!("campaign handoffs (latest first)");
    for h in rows {
        let at = DateTime::from_timestamp(h.at, 0).map_or("?".into(), |t| {
            t.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
        });
        say!(
            "  {at}  {}: {}; sent {}, failed {}, unknown {}",
            h.campaign,
            h.verdict,
            h.sent,
            h.failed,
            h.unknown
        );
    }
    Ok(())
}

pub(super) fn print_campaign_added(plan: &crate::metrics::preflight::Plan) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Campaign {} ({}, {} to {}, {} SKUs) is in the calendar; check it with `dawnpost preflight {:?}`.",
        plan.campaign,
        plan.channel,
        plan.start,
        plan.end,
        plan.skus.len(),
        plan.campaign
    )
    .map_err(|e| closed(e.into()))
}

pub(super) fn print_preflight(
    check: &crate::metrics::preflight::Preflight,
    config: &Config,
) -> Result<()> {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let view = crate::digest::preflight::view(check, &f);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", crate::digest::preflight::text(&view)).map_err(|e| closed(e.into()))
}

pub(super) fn print_preflights(
    checks: &[crate::metrics::preflight::Preflight],
    config: &Config,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<()> {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    if checks.is_empty() {
        say!("No campaign starts from {first} to {last}.");
    }
    for c in checks {
        let v = crate::digest::preflight::view(c, &f);
        let confirmed = if c.confirmed {
            "Confirmed"
        } else {
            "Not confirmed"
        };
        say!("{}", v.subject);
        say!("  {} {confirmed} by operations.", v.verdict);
    }
    Ok(())
}

pub(super) fn print_backtest(b: &crate::metrics::forecast::BacktestReport) -> Result<()> {
    write_backtest(&mut std::io::stdout().lock(), b).map_err(closed)
}

pub(super) fn print_table(report: &MetricsReport, config: &Config) -> Result<()> {
    write_table(&mut std::io::stdout().lock(), report, config).map_err(closed)
}

pub(super) fn print_recipients(report: &Report) -> Result<()> {
    say!(
        "report {} (teams: {}), from {}",
        report.name,
        report.teams.join(", "),
        report.from
    );
    for r in &report.recipients {
        match report.leads.get(&RecipientKey::email(r)) {
            Some(lead) => say!("  {r}  (leads with {})", lead.name()),
            None => say!("  {r}"),
        }
    }
    say!("{} recipients", report.recipients.len());
    Ok(())
}

/// The next `count` runs of a report's schedule after `from`.
pub(super) fn print_schedule(report: &Report, from: DateTime<Utc>, count: usize) -> Result<()> {
    let s = &report.schedule;
    say!(
        "report {}: \"{}\" in {} (report date: the day before)",
        report.name,
        s.expr,
        s.tz
    );
    let mut t = from;
    for _ in 0..count {
        let Some(next) = s.next_after(t) else { break };
        let local = next.with_timezone(&s.tz);
        say!(
            "  {}  {}  for {}",
            local.format("%a %Y-%m-%d %H:%M %:z %Z"),
            next.format("%Y-%m-%dT%H:%MZ"),
            report.date_for(s.report_date(next))
        );
        t = next;
    }
    Ok(())
}

pub(super) fn write_backtest(
    out: &mut impl Write,
    b: &crate::metrics::forecast::BacktestReport,
) -> Result<()> {
    use crate::metrics::forecast::Accuracy;
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1}%", v * 100.0));
    let signed = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:+.1}%", v * 100.0));
    let windows = match b.windows.len() {
        1 => format!("the {} days", b.days),
        n => format!("{n} windows of {} days", b.days),
    };
    writeln!(
        out,
        "Expected orders, replayed over {windows} to {}: each open day forecast 1 to {} days before it, from what was known then.",
        b.last, b.horizons
    )?;
    let header = |out: &mut dyn Write, first: &str, width: usize| {
        writeln!(
            out,
            "{first:<width$} {:>6} {:>8} {:>9} {:>7} {:>8} {:>7}",
            "days", "MAPE", "in range", "bias", "naive", "skill"
        )
    };
    let row = |out: &mut dyn Write, name: &str, width: usize, a: &Accuracy| {
        writeln!(
            out,
            "{name:<width$} {:>6} {:>8} {:>9} {:>7} {:>8} {:>7}",
            a.days,
            pct(a.mape),
            pct(a.in_range),
            signed(a.bias),
            pct(a.naive_mape),
            signed(a.skill)
        )
    };
    if b.windows.len() > 1 {
        header(out, "window", 22)?;
        for w in &b.windows {
            row(out, &format!("{}..{}", w.first, w.last), 22, &w.accuracy)?;
        }
        writeln!(out)?;
    }
    header(out, "horizon", 10)?;
    for (h, a) in &b.by_horizon {
        row(
            out,
            &format!("{h} day{}", if *h == 1 { "" } else { "s" }),
            10,
            a,
        )?;
    }
    row(out, "all", 10, &b.overall)?;
    writeln!(
        out,
        "The range is meant to hold 8 days in 10; bias above 0 means the forecast ran high. \
         naive: the MAPE of the same weekday last week (the open one before it, over a closure); \
         skill = 1 - MAPE / naive, above 0 when the forecast errs less. Closed days are left out."
    )?;
    Ok(())
}

pub(super) fn write_table(
    out: &mut impl Write,
    report: &MetricsReport,
    config: &Config,
) -> Result<()> {
    let f = Formatter::new(config.format.clone(), config.shop.currency_symbol.clone());
    let kinds = report_kinds(report);
    let planned = report.metrics.iter().any(|m| m.plan.is_some());
    let when = match kinds.first() {
        Some(ComparisonKind::WeekBefore) => format!(
            "week {} to {}",
            (report.date - chrono::Days::new(6)).format("%a %-d %b"),
            report.date.format("%a %-d %b %Y")
        ),
        _ => report.date.format("%a %-d %b %Y").to_string(),
    };
    writeln!(
        out,
        "{} · {when} ({}) · changes: relative, in points for percentages; ▲ good ▼ bad",
        report.shop, report.timezone
    )?;
    let mut rows = vec![table_header(&kinds, planned)];
    for m in &report.metrics {
        metric_rows(&mut rows, m, &f, planned);
    }
    write_aligned(out, &rows)
}

/// The comparisons the report was assembled with: the morning's six, or a week's two.
fn report_kinds(report: &MetricsReport) -> Vec<ComparisonKind> {
    report
        .metrics
        .iter()
        .map(|m| {
            m.breakdown
                .first()
                .map_or(&m.comparisons, |b| &b.comparisons)
        })
        .find(|c| !c.is_empty())
        .map_or(ComparisonKind::ALL.to_vec(), |c| {
            c.iter().map(|c| c.kind).collect()
        })
}

/// A to-date comparison has two columns: the period's value so far, and its change.
fn to_date(kind: ComparisonKind) -> bool {
    matches!(
        kind,
        ComparisonKind::WeekToDate | ComparisonKind::MonthToDate
    )
}

fn table_header(kinds: &[ComparisonKind], planned: bool) -> Vec<String> {
    let mut header = vec!["metric".to_string(), "value".to_string()];
    if planned {
        header.push("vs plan".into());
    }
    for &k in kinds {
        header.push(k.label().to_string());
        if to_date(k) {
            header.push("vs prior".into());
        }
    }
    header
}

/// A metric's row, or a row for each of its largest few breakdown values (`--format json`
/// has them all).
fn metric_rows(rows: &mut Vec<Vec<String>>, m: &MetricResult, f: &Formatter, planned: bool) {
    let plan = m.plan.as_ref().map_or(String::new(), |p| {
        format!(
            "{} of {} {}",
            p.attained
                .map_or("n/a".into(), |a| f.amount(Unit::Percent, a)),
            f.amount(m.unit, p.target),
            Formatter::mark(p.verdict)
        )
    });
    let mut add = |label: String, comparisons: &[crate::metrics::compare::Comparison]| {
        let Some(first) = comparisons.first() else {
            return;
        };
        let mut row = vec![label, f.value(m.unit, first.current)];
        if planned {
            row.push(plan.clone());
        }
        for c in comparisons {
            if to_date(c.kind) {
                row.push(f.value(m.unit, c.current));
            }
            row.push(format!(
                "{} {}",
                f.change(m.unit, c),
                Formatter::mark(c.verdict)
            ));
        }
        rows.push(row);
    };
    if m.breakdown.is_empty() {
        add(m.label.clone(), &m.comparisons);
    } else {
        for b in m.breakdown.iter().take(6) {
            add(format!("{} · {}", m.label, b.value), &b.comparisons);
        }
    }
}

/// Rows in columns: the first left-aligned, the rest right-aligned, a rule under the header.
fn write_aligned(out: &mut impl Write, rows: &[Vec<String>]) -> Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            if i == 0 {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str("  ");
                line.push_str(&pad);
                line.push_str(cell);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        if n == 0 {
            let rule = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
            writeln!(out, "{}", "-".repeat(rule))?;
        }
    }
    Ok(())
}

pub(super) fn print_import(file: &Path, s: &ingest::ImportSummary, secs: f64) -> Result<()> {
    let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    match &s.plan {
        Some(plan) => {
            say!(
                "{} ({}): {} rows read, would load:\n{}nothing was written (--check)",
                file.display(),
                s.format,
                s.rows,
                plan.describe()
            );
        }
        None => say!(
            "imported {} rows from {} ({}) in {secs:.2} s ({:.0} rows/s): {}; rollups rebuilt \
             for {} days",
            s.rows,
            file.display(),
            s.format,
            s.rows as f64 / secs.max(1e-9),
            tables.join(", "),
            s.rebuilt_days
        ),
    }
    Ok(())
}

/// What a sync did, or would do.
pub(super) fn print_sync(s: &ingest::live::SyncSummary) -> Result<()> {
    let tables: Vec<String> = s
        .import
        .tables
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    let from = if s.incremental {
        format!(
            "changes since {} (the cursor less the lookback)",
            s.since.format("%Y-%m-%d %H:%M UTC")
        )
    } else {
        format!("everything since {}", s.since.format("%Y-%m-%d"))
    };
    for w in &s.warnings {
        say!("source {}: warning: {w}", s.source);
    }
    match &s.import.plan {
        Some(plan) => say!(
            "source {} ({}): {from}: {} orders in {} requests, would load:\n{}nothing was \
             written (--check)",
            s.source,
            s.platform,
            s.orders,
            s.requests,
            plan.describe()
        ),
        None => say!(
            "source {} ({}): {from}: {} orders in {} requests: {}; rollups rebuilt for {} days; \
             cursor {}",
            s.source,
            s.platform,
            s.orders,
            s.requests,
            tables.join(", "),
            s.import.rebuilt_days,
            s.cursor.as_deref().unwrap_or("unchanged")
        ),
    }
    Ok(())
}

/// A source `check` reached.
pub(super) fn print_source_ok(
    source: &crate::config::SourceSettings,
    warnings: &[String],
) -> Result<()> {
    say!(
        "source {} ({}): signed in",
        source.name,
        source.platform.label()
    );
    for w in warnings {
        say!("  warning: {w}");
    }
    Ok(())
}

/// A source's last sync and how far its data reaches, for `status`.
pub(super) fn print_source_status(
    source: &crate::config::SourceSettings,
    s: &crate::store::SourceState,
    tz: chrono_tz::Tz,
) -> Result<()> {
    let when = |t: Option<i64>| {
        t.and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
    };
    let last = when(s.synced_at).unwrap_or_else(|| "never".into());
    let reach = match &s.reach {
        Some((from, to)) => format!("orders {from} to {to}"),
        None => "no orders yet".into(),
    };
    say!(
        "source {} ({}): last synced {last}; {reach}",
        source.name,
        source.platform.label()
    );
    if let Some(f) = &s.failure {
        let at = when(s.attempted_at).unwrap_or_default();
        say!("  the latest sync failed ({at}): {f}");
    }
    Ok(())
}

/// A source that did not sync.
pub(super) fn print_sync_error(source: &str, e: &anyhow::Error) {
    let text = error_text(e);
    if text.starts_with(&format!("source {source}")) {
        eprintln!("error: {text}");
    } else {
        eprintln!("error: source {source}: {text}");
    }
}

/// An error and its causes on one line, as `{:#}` prints them, less a cause whose text the
/// line already holds: sqlx's database error repeats its source's text, which would
/// otherwise be printed twice.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod error_tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("(code: 1544) attempt to write a readonly database")]
    struct Inner;

    #[test]
    fn a_cause_already_in_the_line_is_not_printed_again() {
        let e = anyhow::Error::new(Outer(Inner)).context("cannot open store x.sqlite");
        assert_eq!(
            error_text(&e),
            "cannot open store x.sqlite: error returned from database: (code: 1544) attempt \
             to write a readonly database"
        );
        let plain = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_text(&plain), "outer: middle: inner");
    }
}

/// Standard output was closed by its reader (a pipe into `head`): the command stops, quietly
/// and successfully, since whatever it wrote to files is written.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct OutputClosed;

/// One line on standard output; a closed pipe is [`OutputClosed`], any other failure an
/// error that says where.
pub(super) fn line(args: std::fmt::Arguments<'_>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| closed(e.into()))
}

/// An output error, as [`OutputClosed`] when it was the reader going away.
pub(super) fn closed(e: anyhow::Error) -> anyhow::Error {
    let gone = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    });
    if gone {
        OutputClosed.into()
    } else {
        e.context("cannot write to standard output")
    }
}
