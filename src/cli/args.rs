//! The command line's arguments: the commands, their flags and help text, and the log filter.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone as _, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "dawnpost",
    version,
    about = "One shared morning report for marketing and operations"
)]
pub struct Cli {
    /// Configuration file: one shop, its store and its reports. Repeat it to serve several
    /// shops from one process. Without one, the bundled demo shop is used.
    #[arg(long, global = true, env = "DAWNPOST_CONFIG")]
    pub config: Vec<PathBuf>,

    /// Where the demo store lives when no config is given
    /// [default: $XDG_DATA_HOME/dawnpost or ~/.local/share/dawnpost].
    #[arg(long, global = true, env = "DAWNPOST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log lines as text, or as JSON objects for log shipping.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and the store, and run every metric once.
    Check,
    /// Load files into the store, each all or nothing (re-loading the same rows is safe).
    Import {
        // The formats' names come from the registry, so a new one is listed here by itself.
        #[arg(long, help = format_help())]
        format: Option<String>,
        /// Check the files and print what they would load; write nothing.
        #[arg(long)]
        check: bool,
        /// The day a stock snapshot is for (shopify-products) [default: yesterday].
        #[arg(long, value_parser = day_arg)]
        day: Option<NaiveDate>,
        /// The files. `import TABLE FILE`, the older form, still works.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Read what is new or changed from the live sources ([[sources]]), each all or nothing.
    Sync {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Read changes since this day, whatever the cursor says.
        #[arg(long, value_parser = day_arg)]
        since: Option<NaiveDate>,
        /// Connect, and print what would be synced; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Fill the store with a generated demo shop (replaces its contents).
    Demo(DemoArgs),
    /// Write the morning email for a date: index.html, digest.txt, digest.eml and the charts.
    Preview(PreviewArgs),
    /// Print who receives a report: every member of its teams, once each.
    Recipients {
        #[arg(long)]
        report: Option<String>,
    },
    /// Send a report's digest to everyone not yet served for that date.
    Send {
        #[arg(long)]
        report: Option<String>,
        /// Report date [default: yesterday in the shop time zone].
        #[arg(long, value_parser = day_arg)]
        date: Option<NaiveDate>,
        /// A test send to these addresses only (not recorded in the delivery ledger).
        #[arg(long, num_args = 1..)]
        to: Vec<String>,
        /// Print what would be sent and to whom; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send again to recipients already served for this date.
        #[arg(long)]
        force: bool,
        /// Send again to recipients whose delivery is unknown (the server may have their
        /// message already: check its log first).
        #[arg(long)]
        retry_unknown: bool,
    },
    /// Run every report on its schedule (06:00 local by default) until SIGTERM or SIGINT.
    Serve,
    /// List a report's next scheduled times with their UTC offsets.
    Schedule {
        #[arg(long)]
        report: Option<String>,
        #[arg(long, default_value_t = 7)]
        count: usize,
        /// Start from this time: RFC 3339, or "YYYY-MM-DD HH:MM" in the report's zone
        /// [default: now].
        #[arg(long, value_parser = instant_arg)]
        from: Option<Moment>,
    },
    /// Per report: recent deliveries (sent, failed, pending) and the next scheduled time.
    Status,
    /// Replay the expected-orders forecast over past days and print its accuracy.
    Backtest {
        /// The last day replayed [default: yesterday in the shop time zone].
        #[arg(long, value_parser = day_arg)]
        date: Option<NaiveDate>,
        /// Days replayed, ending on the date.
        #[arg(long, default_value_t = 56)]
        days: u32,
        /// Forecast each day from 1 to this many days before it [default: `[outlook] days`].
        #[arg(long)]
        horizon: Option<u32>,
        /// Consecutive windows of `--days` each, the last ending on the date: each window's
        /// accuracy is printed, then all of them per horizon.
        #[arg(long, default_value_t = 1)]
        windows: u32,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The campaign calendar: add a planned campaign, or change the one of its name.
    Campaign {
        #[command(subcommand)]
        action: CampaignAction,
    },
    /// Check a planned campaign's days against capacity, its SKUs' stock against its length
    /// and their lead times, and its margin; print the verdict and what must change.
    Preflight(PreflightArgs),
    /// Print every metric with its period comparisons.
    Metrics {
        /// Report date [default: yesterday in the shop time zone].
        #[arg(long, value_parser = day_arg)]
        date: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Every breakdown value in JSON, not only the largest 50 of each metric.
        #[arg(long)]
        all: bool,
        /// day: the date against the six comparisons; week: the last full week ending on
        /// or before the date, against the week before, the same week last year and the
        /// plans.
        #[arg(long, value_enum, default_value_t = PeriodArg::Day)]
        period: PeriodArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignAction {
    /// Add a campaign to the calendar, or replace the one of that name, with its SKUs.
    Add(PlanArgs),
}

/// `campaign add`: a planned campaign as typed.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub name: String,
    /// The marketing channel it runs on, as the shop's orders and traffic name it.
    #[arg(long)]
    pub channel: String,
    #[arg(long, value_parser = day_arg)]
    pub start: NaiveDate,
    #[arg(long, value_parser = day_arg)]
    pub end: NaiveDate,
    /// The promoted SKUs, separated by commas.
    #[arg(long, value_delimiter = ',')]
    pub skus: Vec<String>,
    /// The lift in orders marketing expects: 0.3 for 30% more [default: what the
    /// channel's past campaigns showed].
    #[arg(long, allow_negative_numbers = true)]
    pub expected_lift: Option<f64>,
    /// The planned discount: 0.2 for 20% off.
    #[arg(long)]
    pub discount: Option<f64>,
}

impl From<PlanArgs> for crate::metrics::preflight::Plan {
    fn from(a: PlanArgs) -> Self {
        crate::metrics::preflight::Plan {
            campaign: a.name,
            channel: a.channel,
            start: a.start,
            end: a.end,
            skus: a.skus,
            expected_lift: a.expected_lift,
            discount: a.discount,
        }
    }
}

/// `demo`: the generated shop's last day, length, seed, scale and kind.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Last day of data [default: yesterday in the shop time zone].
    #[arg(long, value_parser = day_arg)]
    pub end: Option<NaiveDate>,
    /// Number of days of history.
    #[arg(long, default_value_t = 430)]
    pub days: u32,
    /// The generator's seed: the same seed, days and end make the same shop.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Multiplies traffic and order volume (for benchmarks).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Which shop: northwind, or lumpy (a wholesaler closed on Saturdays and over
    /// Christmas, the forecast's hard case).
    #[arg(long, default_value = "northwind")]
    pub shop: crate::demo::DemoShop,
    /// Replace a store that holds data not generated by `demo`.
    #[arg(long)]
    pub force: bool,
}

impl DemoArgs {
    /// The generator's options, ending `yesterday` unless `--end` says otherwise.
    pub fn options(&self, yesterday: NaiveDate) -> crate::demo::DemoOptions {
        crate::demo::DemoOptions {
            end: self.end.unwrap_or(yesterday),
            days: self.days,
            seed: self.seed,
            scale: self.scale,
            shop: self.shop,
        }
    }
}

/// `preview`: the date, where to write, and which report and team's copy.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Report date [default: yesterday in the shop time zone].
    #[arg(long, value_parser = day_arg)]
    pub date: Option<NaiveDate>,
    /// Directory to write to.
    #[arg(long, default_value = "dawnpost-preview")]
    pub out: PathBuf,
    /// Open index.html in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Write this team's copy (its lead section first) [default: the common one].
    #[arg(long)]
    pub team: Option<String>,
    /// Preview this report (a weekly one is the review of the last full week ending on
    /// or before the date) [default: the morning email].
    #[arg(long)]
    pub report: Option<String>,
}

/// `preflight`: which campaign, a confirmation, the day of the data, the output.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The campaign's name, as in the calendar [default: every campaign starting within
    /// `[preflight] notice_days`, a line each].
    pub campaign: Option<String>,
    /// Record operations' confirmation of the campaign as planned now, with this note.
    #[arg(long)]
    pub confirm: Option<String>,
    /// The last day with data the check is made on [default: yesterday in the shop
    /// time zone].
    #[arg(long, value_parser = day_arg)]
    pub date: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// How many breakdown values (channels, SKUs) `metrics --format json` prints per metric
/// without `--all`: a shop with 20,000 SKUs must not print them all by default.
pub const JSON_BREAKDOWN_LIMIT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeriodArg {
    Day,
    Week,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// A day on the command line: exactly `YYYY-MM-DD`, within the years dates may fall in.
fn day_arg(text: &str) -> Result<NaiveDate, String> {
    crate::ingest::parse_day(text).map_err(|e| e.to_string())
}

/// A moment on the command line: exact (RFC 3339), or a wall-clock time read in the zone of
/// what it is about (which the flag alone does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Exact(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl Moment {
    /// The moment, a wall-clock time read in `tz`; an error for a time that `tz` skips.
    pub(super) fn in_zone(self, tz: chrono_tz::Tz) -> anyhow::Result<DateTime<Utc>> {
        match self {
            Moment::Exact(t) => Ok(t),
            Moment::Local(naive) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} does not exist in {tz} (a daylight-saving gap)",
                        naive.format("%Y-%m-%d %H:%M")
                    )
                }),
        }
    }
}

fn instant_arg(text: &str) -> Result<Moment, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Moment::Exact(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .map(Moment::Local)
        .map_err(|_| format!("{text:?} is neither RFC 3339 nor \"YYYY-MM-DD HH:MM\""))
}

/// The tracing filter for `DAWNPOST_LOG`: a bare level ("debug") is dawnpost's own, and
/// every dependency stays at `warn` unless named (`debug,sqlx=debug`). Default: info.
pub fn log_filter(wanted: &str) -> String {
    let mut out = vec!["warn".to_string()];
    let mut own = "dawnpost=info".to_string();
    for d in wanted.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if d.contains('=') || d.contains('[') {
            out.push(d.to_string());
        } else {
            own = format!("dawnpost={d}");
        }
    }
    out.insert(1, own);
    out.join(",")
}

impl Command {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::Check => "check",
            Command::Import { .. } => "import",
            Command::Sync { .. } => "sync",
            Command::Demo(_) => "demo",
            Command::Preview(_) => "preview",
            Command::Recipients { .. } => "recipients",
            Command::Send { .. } => "send",
            Command::Metrics { .. } => "metrics",
            Command::Campaign { .. } => "campaign",
            Command::Preflight(_) => "preflight",
            Command::Backtest { .. } => "backtest",
            Command::Serve => "serve",
            Command::Schedule { .. } => "schedule",
            Command::Status => "status",
        }
    }
}

/// `--format`'s help: the export formats by name, or a table's.
fn format_help() -> String {
    format!(
        "{}, or a table's name for dawnpost's own CSV [default: from the header]",
        crate::ingest::export_names()
    )
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn a_bare_level_applies_to_dawnpost_alone() {
        assert_eq!(log_filter(""), "warn,dawnpost=info");
        assert_eq!(log_filter("debug"), "warn,dawnpost=debug");
        assert_eq!(
            log_filter("debug,sqlx=debug"),
            "warn,dawnpost=debug,sqlx=debug"
        );
        assert_eq!(log_filter("sqlx=trace"), "warn,dawnpost=info,sqlx=trace");
    }
}
