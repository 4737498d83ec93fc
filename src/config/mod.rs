//! The configuration file: parsed once, validated, and turned into typed values.
//!
//! `raw` mirrors the TOML with `deny_unknown_fields`; `sections` (the shop, store, metrics,
//! objectives, alerts, news, imports) and `sending` (email, teams, reports, SMTP) turn each
//! section into typed values. Everything a later step could get wrong (time zones, dates,
//! metric keys, secrets) is checked here, so the rest of the program receives values that
//! are already valid.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::Weekday;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::metrics::alert::AlertSettings;
use crate::metrics::metric::{Catalog, MetricDef};

mod chat;
mod planning;
mod raw;
mod recipient;
mod sections;
mod sending;
pub use sending::ReportPeriod;
mod sources;
use crate::metrics::okr::{Objective, Thresholds};
pub use chat::{MsTeamsSettings, SLACK_API, SlackSettings, is_slack_channel_id};
use raw::*;
pub use recipient::RecipientKey;
pub use sources::{Platform, ServiceAccountKey, ShopifyAuth, SourceSettings};

/// The demo configuration bundled into the binary, used when no config is given.
pub const DEMO_CONFIG: &str = include_str!("../../fixtures/demo.toml");

/// The largest config file read: the demo's is 6 KB, and a shop with dozens of metrics,
/// teams and objectives stays far below. Checked before parsing, so a huge or endless file
/// (`/dev/zero`) cannot take memory.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The longest name, in characters: the shop, a report, a team or member, an objective, its
/// owner and its key results, and every display name of a mailbox. Each reaches the email
/// or a header; 200 is twice the longest real one we know of.
pub const MAX_NAME: usize = 200;

/// The longest metric label: it heads a table row and may lead the subject line, so it
/// gets the bound that text from the data gets there (`text::LABEL`).
pub const MAX_LABEL: usize = crate::text::LABEL;

/// The longest metric key: keys name metrics in messages and JSON.
pub const MAX_KEY: usize = 64;

/// The longest email address (RFC 5321's limit on a path).
pub const MAX_ADDRESS: usize = 254;

/// The longest currency symbol: it is printed before every amount ("CHF " is four).
pub const MAX_SYMBOL: usize = 8;

/// The longest subject line a template may render, in characters. The built-in one is
/// at most about 200 (a label of 80, two figures, a date).
pub const MAX_SUBJECT: usize = 300;

/// The widest number formats: more decimals than these say nothing a reader can use.
pub const MAX_PERCENT_DECIMALS: usize = 6;
pub const MAX_MONEY_DECIMALS: usize = 4;

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from, for messages.
    pub origin: String,
    pub shop: Shop,
    pub store: StoreConfig,
    /// Present when the store is a generated demo shop that dawnpost keeps fresh.
    pub demo: Option<DemoSettings>,
    pub format: NumberFormat,
    pub catalog: Catalog,
    pub objectives: Vec<Objective>,
    pub okr_thresholds: Thresholds,
    pub alerts: AlertSettings,
    /// How unusual a change must be to lead the email (`[news]`).
    pub news: crate::metrics::news::NewsSettings,
    /// The days "Coming up" covers (`[outlook]`).
    pub outlook: crate::metrics::forecast::OutlookSettings,
    /// Targets the weekly report holds its figures to (`[[plans]]`).
    pub plans: Vec<crate::metrics::plan::PlanTarget>,
    /// When `serve` sends a campaign's handoff note (`[preflight]`).
    pub preflight: crate::metrics::preflight::PreflightSettings,
    /// Platform channel names (GA4 channel groups, "Google Ads", "Meta Ads", Shopify's
    /// `Source`) to the shop's channels, over the built-in table.
    pub channels: BTreeMap<String, String>,
    pub email: EmailSettings,
    /// Who receives which report.
    pub reports: Vec<Report>,
    /// Where the file transport writes messages when no mail server is configured.
    pub outbox: PathBuf,
    /// How long a delivery's outcome that the ledger refuses (locked, unreachable) is
    /// written again before the send gives up and says it was not recorded.
    pub ledger_retry: std::time::Duration,
    /// How long another sender's claim may go unrenewed before it is judged dead (senders
    /// renew theirs every quarter of it while they work).
    pub claim_lease: std::time::Duration,
    /// Export folders `serve` picks new files up from before each report's data check.
    pub imports: Vec<NightlyImport>,
    /// Live sources `sync` (and `serve`, before each report's data check) reads.
    pub sources: Vec<SourceSettings>,
    /// Each team's lead section, by team name (None: the common order).
    pub team_leads: BTreeMap<String, Option<Lead>>,
    /// The mail server; None means the outbox.
    pub smtp: Option<SmtpSettings>,
    /// The Slack bot the reports' `slack_channels` are posted through.
    pub slack: Option<SlackSettings>,
    /// What the reports' Teams webhooks share (`[msteams]`).
    pub msteams: MsTeamsSettings,
}

/// One `[[imports]]` entry: files matching a pattern, read as one format.
#[derive(Debug, Clone, PartialEq)]
pub struct NightlyImport {
    /// The folder (relative paths are from the config file's folder).
    pub dir: PathBuf,
    /// The file name pattern: `*` is any run of characters, `?` any one.
    pub pattern: String,
    /// A format name (`shopify-orders`, a table's name…); None means told by the header.
    /// `ingest::check_formats` holds it to the formats dawnpost reads.
    pub format: Option<String>,
    /// Where the format is written, for that check's message: "shop.toml:12: `imports[0].format`".
    pub format_at: String,
    /// Files are looked at from this local time of day on; None means at every run.
    pub after: Option<chrono::NaiveTime>,
    /// A file is taken only once its size and modification time have held this long: one
    /// still being written is left for the next run.
    pub settle: std::time::Duration,
}

/// How to reach the mail server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Extra trusted CA certificate (PEM), for a server with a private CA.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: std::time::Duration,
    /// How long transient failures are retried before a recipient counts as failed.
    pub retry_for: std::time::Duration,
    /// Messages in flight at once, each on its own pooled connection.
    pub connections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// smtp://: STARTTLS, required; never a silent fall back to plain text.
    StartTls,
    /// smtps://: TLS from the first byte.
    ImplicitTls,
    /// smtp:// with `plaintext = true`: for a local relay only.
    Plain,
}

/// One report: a digest of this shop for a set of teams.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub from: lettre::message::Mailbox,
    pub reply_to: Option<lettre::message::Mailbox>,
    /// Told about delivery failures.
    pub owner: lettre::message::Mailbox,
    pub teams: Vec<String>,
    /// Every member of the teams, once each (by address, case-insensitive), in team order.
    pub recipients: Vec<lettre::message::Mailbox>,
    /// Each recipient's lead section: that of the first of the report's teams they are in.
    /// Absent: the common order.
    pub leads: BTreeMap<RecipientKey, Lead>,
    /// When it goes out, in its time zone.
    pub schedule: crate::schedule::Schedule,
    /// A digest not sent this long after its scheduled time is skipped, not sent late.
    pub grace: chrono::Duration,
    /// Tables that must have data for the report date before it is built.
    pub wait_for: Vec<String>,
    pub recheck: chrono::Duration,
    /// After this long past the scheduled time, it goes out anyway with a banner.
    pub wait: chrono::Duration,
    /// Slack channel ids it is posted to (through `[slack]`).
    pub slack_channels: Vec<String>,
    /// The Microsoft Teams Workflows webhook it is posted to: a secret URL.
    pub teams_webhook: Option<Secret>,
    /// What one report covers: a day, or the last full week.
    pub period: ReportPeriod,
    /// The shop's first day of the week, which a weekly report's weeks start on.
    pub week_start: Weekday,
}

impl Config {
    /// The metrics report of `date` from fetched rows, for this shop's catalog and week.
    pub fn assemble_report(
        &self,
        date: chrono::NaiveDate,
        fetched: &crate::metrics::report::Fetched,
    ) -> crate::metrics::report::MetricsReport {
        let of = self.report_of();
        crate::metrics::report::assemble(&self.catalog, self.shop.week_start, of, date, fetched)
    }

    /// The shop a report is of, as `metrics --format json` names it.
    fn report_of(&self) -> crate::metrics::report::ReportOf {
        crate::metrics::report::ReportOf {
            shop: self.shop.name.clone(),
            timezone: self.shop.timezone.name().to_string(),
            currency: self.shop.currency.clone(),
        }
    }

    /// The weekly report of the week ending on `last`, against the week before, the same
    /// week a year ago and the plans.
    pub fn assemble_week(
        &self,
        last: chrono::NaiveDate,
        fetched: &crate::metrics::report::Fetched,
    ) -> crate::metrics::report::MetricsReport {
        let of = self.report_of();
        let over = crate::metrics::report::Over {
            kinds: &crate::metrics::period::ComparisonKind::WEEKLY,
            week_start: self.shop.week_start,
            plans: &self.plans,
        };
        crate::metrics::report::assemble_with(&self.catalog, &over, of, last, fetched)
    }
}

/// How the digest is addressed and rendered.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub from: lettre::message::Mailbox,
    /// Who `preview` addresses the message to.
    pub preview_to: lettre::message::Mailbox,
    /// Overrides for the embedded templates: any of digest.html.j2, digest.txt.j2,
    /// subject.txt.j2 found here is used instead.
    pub templates_dir: Option<PathBuf>,
    /// A product's return rate is listed only with at least this many units sold in the
    /// month to date: a rate over one or two sales says nothing.
    pub return_rate_min_units: u32,
    /// Where the day's report can be read in a browser: an https URL in which `{date}` is
    /// the report date (`YYYY-MM-DD`); the email links to it ("View in browser").
    pub view_url: Option<String>,
}

/// The longest `[email] view_url`.
pub const MAX_VIEW_URL: usize = 500;

/// The default of `email.return_rate_min_units`.
pub const RETURN_RATE_MIN_UNITS: u32 = 10;

#[derive(Debug, Clone)]
pub struct Shop {
    pub name: String,
    pub timezone: Tz,
    /// ISO 4217 code, e.g. "GBP".
    pub currency: String,
    /// What is printed before amounts, e.g. "£".
    pub currency_symbol: String,
    pub week_start: Weekday,
    /// The weekdays the shop is closed, as configured (`[shop] closed`); None: the weekdays
    /// its history shows closed.
    pub closed: Option<Vec<Weekday>>,
    /// The shop's closures (`[[closures]]`): holidays, a stocktake.
    pub closures: Vec<crate::metrics::calendar::Closure>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: StoreUrl,
    pub password: Option<Secret>,
    /// How long to keep trying to reach the store before giving up.
    pub connect_timeout: std::time::Duration,
    /// The deadline of each metric query: past it the metric is unavailable.
    pub query_timeout: std::time::Duration,
}

/// Where the data lives. Relative SQLite paths are already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    /// A `postgres://` URL without a password (the password is a [`Secret`]).
    Postgres(String),
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // The query string is never shown: parameters can carry more than they seem to.
            StoreUrl::Postgres(u) => match u.split_once('?') {
                Some((base, _)) => write!(f, "{base}?…"),
                None => f.write_str(u),
            },
        }
    }
}

impl StoreUrl {
    /// Parses a store URL; relative SQLite paths are taken relative to `base`.
    pub fn parse(url: &str, base: &Path) -> Result<StoreUrl> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            if path.is_empty() || path.contains(":memory:") {
                bail!(
                    "`{url}` is not a file path: dawnpost keeps its store in a file (sqlite://path/to/file.sqlite)"
                );
            }
            let path = Path::new(path);
            Ok(StoreUrl::Sqlite(if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            }))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed =
                url::Url::parse(url).map_err(|e| anyhow!("not a valid postgres:// URL: {e}"))?;
            let in_query = parsed.query_pairs().any(|(k, _)| {
                k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword")
            });
            if parsed.password().is_some() || in_query {
                bail!(
                    "the store URL must not contain a password (in the user part or as a \
                     `password`/`sslpassword` parameter); set `password_env` or \
                     `password_file` in [store]"
                );
            }
            Ok(StoreUrl::Postgres(url.to_string()))
        } else {
            bail!("unsupported store URL `{url}`: use sqlite://PATH or postgres://USER@HOST/DB")
        }
    }
}

/// A secret value (a password). Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    /// The only way to read the value; call it where the secret is handed to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoSettings {
    pub seed: u64,
    pub days: u32,
    pub scale: f64,
    pub shop: DemoShop,
}

/// Which shop the demo makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DemoShop {
    /// Northwind Outfitters, with its storylines.
    #[default]
    Northwind,
    /// The wholesaler of `demo::lumpy`.
    Lumpy,
}

impl std::str::FromStr for DemoShop {
    type Err = String;
    fn from_str(s: &str) -> Result<DemoShop, String> {
        match s.trim().to_lowercase().as_str() {
            "northwind" => Ok(DemoShop::Northwind),
            "lumpy" => Ok(DemoShop::Lumpy),
            _ => Err(format!("expected northwind or lumpy, got {s:?}")),
        }
    }
}

/// How numbers are written in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    pub thousands_separator: String,
    pub decimal_separator: String,
    pub percent_decimals: usize,
    pub money_decimals: usize,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            thousands_separator: ",".into(),
            decimal_separator: ".".into(),
            percent_decimals: 1,
            money_decimals: 0,
        }
    }
}

/// The section a team's copy of the email puts right after the news.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Lead {
    Marketing,
    Operations,
    /// The operations section, its merchandising rows first.
    Merchandising,
}

impl Lead {
    pub fn name(self) -> &'static str {
        match self {
            Lead::Marketing => "marketing",
            Lead::Operations => "operations",
            Lead::Merchandising => "merchandising",
        }
    }
}

/// Where a config comes from and how to resolve its relative paths.
#[derive(Debug, Clone)]
pub struct ConfigSource<'a> {
    /// Shown in messages: a path, or "bundled demo config".
    pub origin: String,
    pub text: &'a str,
    /// Relative paths in the config are resolved against this directory.
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = read_bounded(path)?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&ConfigSource {
            origin: path.display().to_string(),
            text: &text,
            base_dir,
        })
    }

    /// The bundled demo configuration, with its store in `data_dir`.
    pub fn demo(data_dir: &Path) -> Result<Config> {
        Config::parse(&ConfigSource {
            origin: "bundled demo config (fixtures/demo.toml)".into(),
            text: DEMO_CONFIG,
            base_dir: data_dir.to_path_buf(),
        })
    }

    /// Parses and validates config text. Every error names the origin, line and key.
    pub fn parse(src: &ConfigSource<'_>) -> Result<Config> {
        let origin = &src.origin;
        let raw: RawConfig =
            toml::from_str(src.text).map_err(|e| anyhow!("{origin}: {}", toml_error(&e)))?;
        let cx = sections::Cx {
            origin,
            text: src.text,
            base_dir: &src.base_dir,
        };
        let catalog = sections::catalog(&cx, raw.metrics)?;
        let alerts = sections::alerts(&cx, raw.alerts, &catalog)?;
        let news = match raw.news {
            Some(n) => sections::news(&cx, n, &catalog)?,
            None => crate::metrics::news::NewsSettings::default(),
        };
        let objectives = sections::objectives(&cx, raw.objectives, &catalog)?;
        let plans = planning::plans(&cx, raw.plans, &catalog)?;
        let t = raw.okr;
        if !(0.0 < t.at_risk && t.at_risk <= t.on_track && t.on_track <= 1.0) {
            bail!("{origin}: `okr`: thresholds must satisfy 0 < at_risk <= on_track <= 1");
        }
        let teams = sending::teams(&cx, raw.teams)?;
        let shop_tz = raw.shop.timezone;
        chat::reports_need_slack(&cx, raw.slack.is_some(), &raw.reports)?;
        let format = raw
            .format
            .unwrap_or_else(|| Spanned::new(0..0, RawFormat::default()));
        let mut config = Config {
            origin: origin.clone(),
            shop: sections::shop(&cx, raw.shop, raw.closures)?,
            store: sections::store(&cx, &raw.store)?,
            demo: sections::demo(&cx, raw.demo)?,
            format: sections::format(&cx, format)?,
            catalog,
            objectives,
            okr_thresholds: t,
            alerts,
            news,
            outlook: match raw.outlook {
                Some(o) => sections::outlook(&cx, o)?,
                None => crate::metrics::forecast::OutlookSettings::default(),
            },
            plans,
            preflight: match raw.preflight {
                Some(p) => planning::preflight(&cx, p)?,
                None => crate::metrics::preflight::PreflightSettings::default(),
            },
            channels: match raw.channels {
                Some(c) => sections::channels(&cx, c)?,
                None => BTreeMap::new(),
            },
            email: sending::email(&cx, raw.email)?,
            reports: sending::reports(&cx, raw.reports, &teams, shop_tz)?,
            ledger_retry: sections::seconds_or(
                &cx,
                &raw.delivery.ledger_retry_secs,
                0.0..=3_600.0,
                "delivery.ledger_retry_secs",
                60,
            )?,
            claim_lease: sections::seconds_or(
                &cx,
                &raw.delivery.claim_lease_secs,
                2.0..=86_400.0,
                "delivery.claim_lease_secs",
                120,
            )?,
            outbox: src.base_dir.join(
                raw.delivery
                    .outbox
                    .unwrap_or_else(|| PathBuf::from("outbox")),
            ),
            smtp: sending::smtp(&cx, raw.smtp)?,
            slack: chat::slack(&cx, raw.slack)?,
            msteams: chat::msteams(&cx, raw.msteams)?,
            imports: sections::imports(&cx, raw.imports, &src.base_dir)?,
            sources: sources::sources(&cx, raw.sources)?,
            team_leads: teams.iter().map(|(n, l, _)| (n.clone(), *l)).collect(),
        };
        // A weekly report's date is its week's last day, by the shop's week.
        for r in &mut config.reports {
            r.week_start = config.shop.week_start;
        }
        Ok(config)
    }
}

/// The config file's text, refused past [`MAX_CONFIG_BYTES`] before it is read whole: the
/// size is checked on what is read, not on the metadata, so a device or a pipe is bounded too.
fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        bail!(
            "{}: the config file is larger than {} KiB: a config is a page or two of settings, \
             not data",
            path.display(),
            MAX_CONFIG_BYTES >> 10
        );
    }
    String::from_utf8(bytes)
        .with_context(|| format!("config file {} is not UTF-8 text", path.display()))
}

/// toml's message, with each line of the quoted source cut short: a one-line garbage file
/// of a megabyte must not come back whole in the error.
fn toml_error(e: &toml::de::Error) -> String {
    e.to_string()
        .trim_end()
        .lines()
        .map(|l| {
            if l.chars().count() > 160 {
                let cut: String = l.chars().take(160).collect();
                format!("{cut}…")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn default_symbol(code: &str) -> String {
    match code {
        "GBP" => "£",
        "USD" | "AUD" | "CAD" | "NZD" => "$",
        "EUR" => "€",
        "JPY" => "¥",
        "INR" => "₹",
        _ => return format!("{code} "),
    }
    .to_string()
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn parse(text: &str) -> Result<Config> {
        Config::parse(&ConfigSource {
            origin: "test.toml".into(),
            text,
            base_dir: PathBuf::from("/base"),
        })
    }

    pub(super) const MINIMAL: &str = "[shop]\nname = \"S\"\ntimezone = \"Europe/Paris\"\ncurrency = \"EUR\"\n\n[store]\nurl = \"sqlite://s.db\"\n";

    #[test]
    fn minimal_config_resolves_relative_sqlite_path() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.store.url, StoreUrl::Sqlite(PathBuf::from("/base/s.db")));
        assert_eq!(c.shop.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.shop.currency_symbol, "€");
        assert_eq!(c.shop.week_start, Weekday::Mon);
    }

    #[test]
    fn members_whose_addresses_differ_only_in_case_are_one_recipient() {
        // `Ö` and `ö` lower-case alike: one ledger key, so one recipient, whichever team
        // names them; an ASCII-only comparison would keep both and serve only one.
        let text = format!(
            "{MINIMAL}\n[[teams]]\nname = \"a\"\nmembers = [{{ name = \"Jo\", email = \"jÖrg@x.example\" }}, \
             {{ name = \"Jo\", email = \"jörg@x.example\" }}, {{ name = \"Al\", email = \"AL@x.example\" }}]\n\
             [[teams]]\nname = \"b\"\nmembers = [{{ name = \"Al\", email = \"al@x.example\" }}]\n\
             [[reports]]\nname = \"r\"\nfrom = \"R <r@x.example>\"\nowner = \"r@x.example\"\nteams = [\"a\", \"b\"]\n"
        );
        let c = parse(&text).unwrap();
        let got: Vec<String> = c.reports[0]
            .recipients
            .iter()
            .map(|m| m.email.to_string())
            .collect();
        assert_eq!(got, ["jÖrg@x.example", "AL@x.example"]);
    }

    #[test]
    fn unknown_key_is_rejected_with_line() {
        let text = MINIMAL.replace("currency = \"EUR\"", "currency = \"EUR\"\ncolour = \"red\"");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn the_outlook_takes_1_to_14_days_and_no_other_key() {
        assert_eq!(parse(MINIMAL).unwrap().outlook.days, 7);
        let with = |body: &str| format!("{MINIMAL}\n[outlook]\n{body}\n");
        assert_eq!(parse(&with("days = 10")).unwrap().outlook.days, 10);
        for bad in ["days = 0", "days = 15"] {
            let err = format!("{:#}", parse(&with(bad)).unwrap_err());
            assert!(err.contains("`outlook.days`"), "{err}");
            assert!(err.contains("is not between 1 and 14"), "{err}");
        }
        let err = format!("{:#}", parse(&with("weeks = 4")).unwrap_err());
        assert!(err.contains("weeks"), "{err}");
    }

    #[test]
    fn bad_timezone_names_line() {
        let text = MINIMAL.replace("Europe/Paris", "Mars/Olympus");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn password_in_url_is_refused() {
        let text = MINIMAL.replace("sqlite://s.db", "postgres://u:hunter2@db/x");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("test.toml:7: `store.url`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_password_anywhere_in_the_store_url_is_refused() {
        for url in [
            "postgres://shop@db/shop?password=hunter2",
            "postgres://shop@db/shop?sslmode=require&PassWord=hunter2",
            "postgresql://shop@db/shop?sslpassword=hunter2",
            "postgres://shop:hunter2@db/shop",
        ] {
            let text = MINIMAL.replace("sqlite://s.db", url);
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.starts_with("test.toml:7: `store.url`"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_store_url_is_shown_without_its_query() {
        let text = MINIMAL.replace(
            "sqlite://s.db",
            "postgres://shop@db:5433/shop?sslmode=require",
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.store.url.to_string(), "postgres://shop@db:5433/shop?…");
    }

    #[test]
    fn a_team_lead_is_one_of_three_sections() {
        let team = |lead: &str| {
            format!(
                "{MINIMAL}\n[[teams]]\nname = \"ops\"\nlead = \"{lead}\"\nmembers = [{{ email = \"a@b.example\" }}]\n"
            )
        };
        let c = parse(&team("merchandising")).unwrap();
        assert_eq!(c.team_leads["ops"], Some(Lead::Merchandising));
        let err = format!("{:#}", parse(&team("finance")).unwrap_err());
        assert!(err.contains("test.toml"), "{err}");
        assert!(
            err.contains("finance") && err.contains("marketing"),
            "{err}"
        );
    }

    #[test]
    fn a_report_mails_each_member_of_its_teams_once_and_refuses_an_unknown_team() {
        let teams = "\n[[teams]]\nname = \"ops\"\nlead = \"operations\"\nmembers = [{ email = \"sam@b.example\" }, { email = \"ann@b.example\" }]\n\
             \n[[teams]]\nname = \"mkt\"\nlead = \"marketing\"\nmembers = [{ email = \"Sam@B.example\" }, { email = \"bo@b.example\" }]\n";
        let report = |names: &str| {
            format!(
                "{MINIMAL}{teams}\n[[reports]]\nname = \"daily\"\nteams = [{names}]\nfrom = \"r@b.example\"\nowner = \"o@b.example\"\n"
            )
        };
        let c = parse(&report("\"ops\", \"mkt\"")).unwrap();
        let r = &c.reports[0];
        let emails: Vec<String> = r.recipients.iter().map(|m| m.email.to_string()).collect();
        assert_eq!(emails, ["sam@b.example", "ann@b.example", "bo@b.example"]);
        // Sam leads with the first team Sam was found in.
        assert_eq!(r.leads["sam@b.example"], Lead::Operations);
        assert_eq!(r.leads["bo@b.example"], Lead::Marketing);
        let err = format!("{:#}", parse(&report("\"ops\", \"finance\"")).unwrap_err());
        assert!(err.contains("`reports[\"daily\"].teams`"), "{err}");
        assert!(err.contains("unknown team `finance`"), "{err}");
    }

    #[test]
    fn control_characters_in_names_and_headers_are_refused_with_line_and_key() {
        let team = "\n[[teams]]\nname = \"ops\"\nmembers = [{ name = \"A\\r\\nBcc: x@evil.example\", email = \"a@b.example\" }]\n";
        let err = format!("{:#}", parse(&format!("{MINIMAL}{team}")).unwrap_err());
        assert!(
            err.starts_with("test.toml:9: `teams[\"ops\"].members[0].name`"),
            "{err}"
        );
        assert!(err.contains("control character"), "{err}");
        let shop = MINIMAL.replace("name = \"S\"", "name = \"S\\u0007\"");
        let err = format!("{:#}", parse(&shop).unwrap_err());
        assert!(err.starts_with("test.toml:2: `shop.name`"), "{err}");
        let from = format!("{MINIMAL}\n[email]\nfrom = \"R\\n <r@b.example>\"\n");
        let err = format!("{:#}", parse(&from).unwrap_err());
        assert!(err.starts_with("test.toml:10: `email.from`"), "{err}");
    }

    #[test]
    fn separators_must_differ_and_currencies_must_exist() {
        let text = format!(
            "{MINIMAL}\n[format]\nthousands_separator = \".\"\ndecimal_separator = \".\"\n"
        );
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("`format.decimal_separator`"), "{err}");
        let err = format!(
            "{:#}",
            parse(&MINIMAL.replace("\"EUR\"", "\"XYZ\"")).unwrap_err()
        );
        assert!(err.starts_with("test.toml:4: `shop.currency`"), "{err}");
    }

    #[test]
    fn closed_weekdays_and_closures_are_read_and_checked() {
        let shop = MINIMAL.replace(
            "currency = \"EUR\"\n",
            "currency = \"EUR\"\nclosed = [\"Saturday\", \"sunday\"]\n",
        );
        let closures =
            "\n[[closures]]\nfrom = 2025-12-24\nto = 2026-01-03\nreason = \"Christmas\"\n";
        let c = parse(&format!("{shop}{closures}")).unwrap();
        assert_eq!(c.shop.closed, Some(vec![Weekday::Sat, Weekday::Sun]));
        assert_eq!(c.shop.closures.len(), 1);
        assert_eq!(c.shop.closures[0].reason, "Christmas");
        // Left out, the weekdays are the history's to tell.
        assert_eq!(parse(MINIMAL).unwrap().shop.closed, None);
        let bad_day = MINIMAL.replace(
            "currency = \"EUR\"\n",
            "currency = \"EUR\"\nclosed = [\"Caturday\"]\n",
        );
        let err = format!("{:#}", parse(&bad_day).unwrap_err());
        assert_eq!(
            err,
            "test.toml:5: `shop.closed`: expected a weekday such as saturday, got \"Caturday\""
        );
        let backwards = closures.replace("to = 2026-01-03", "to = 2025-12-01");
        let err = format!("{:#}", parse(&format!("{MINIMAL}{backwards}")).unwrap_err());
        assert!(
            err.ends_with(
                "`closures[0].to`: the closure ends (2025-12-01) before it starts (2025-12-24)"
            ),
            "{err}"
        );
    }

    #[test]
    fn decimals_past_their_range_are_refused_with_line_and_key() {
        let with = |body: &str| format!("{MINIMAL}\n[format]\n{body}\n");
        let f = parse(&with("percent_decimals = 6\nmoney_decimals = 4"))
            .unwrap()
            .format;
        assert_eq!((f.percent_decimals, f.money_decimals), (6, 4));
        let err = format!("{:#}", parse(&with("percent_decimals = 200")).unwrap_err());
        assert_eq!(
            err,
            "test.toml:10: `format.percent_decimals`: 200 is not between 0 and 6"
        );
        let err = format!(
            "{:#}",
            parse(&with("percent_decimals = 2\nmoney_decimals = 100000")).unwrap_err()
        );
        assert_eq!(
            err,
            "test.toml:11: `format.money_decimals`: 100000 is not between 0 and 4"
        );
    }

    #[test]
    fn names_past_their_bound_are_refused_with_line_and_key() {
        let long = |n: usize| "n".repeat(n);
        // The shop's name: 200 characters are fine (multi-byte ones count once), 201 not.
        let shop = |name: &str| MINIMAL.replace("name = \"S\"", &format!("name = \"{name}\""));
        assert_eq!(
            parse(&shop(&"é".repeat(200)))
                .unwrap()
                .shop
                .name
                .chars()
                .count(),
            200
        );
        let err = format!("{:#}", parse(&shop(&long(201))).unwrap_err());
        assert!(err.starts_with("test.toml:2: `shop.name`: "), "{err}");
        assert!(err.contains("is 201 characters long; at most 200"), "{err}");
        assert!(err.len() < 300, "the name is not echoed whole: {err}");
        let team = |member: &str| {
            format!(
                "{MINIMAL}\n[[teams]]\nname = \"ops\"\nmembers = [{{ name = \"{member}\", email = \"a@b.example\" }}]\n"
            )
        };
        let err = format!("{:#}", parse(&team(&long(1 << 20))).unwrap_err());
        assert!(
            err.starts_with("test.toml:9: `teams[\"ops\"].members[0].name`: "),
            "{err}"
        );
        assert!(err.contains("is 1048576 characters long"), "{err}");
        // A display name inside a mailbox, and a metric label (80).
        let from = format!(
            "{MINIMAL}\n[email]\nfrom = \"{} <r@b.example>\"\n",
            long(201)
        );
        let err = format!("{:#}", parse(&from).unwrap_err());
        assert!(
            err.starts_with("test.toml:10: `email.from (display name)`: "),
            "{err}"
        );
        let metric = |label: &str| {
            format!(
                "{MINIMAL}\n[[metrics]]\nkey = \"k\"\nlabel = \"{label}\"\nteam = \"shared\"\n\
                 unit = \"count\"\ndirection = \"neutral\"\naggregate = \"sum\"\n\
                 sql = \"SELECT day, 1 AS num FROM orders WHERE day BETWEEN $1 AND $2\"\n"
            )
        };
        assert!(parse(&metric(&long(80))).is_ok());
        let err = format!("{:#}", parse(&metric(&long(81))).unwrap_err());
        assert!(err.starts_with("test.toml:9: `metrics.k.label`: "), "{err}");
        assert!(err.contains("at most 80"), "{err}");
        let symbol = MINIMAL.replace(
            "currency = \"EUR\"",
            "currency = \"EUR\"\ncurrency_symbol = \"EUROS EUR\"",
        );
        let err = format!("{:#}", parse(&symbol).unwrap_err());
        assert!(
            err.starts_with("test.toml:5: `shop.currency_symbol`: "),
            "{err}"
        );
    }

    #[test]
    fn a_config_file_past_1_mib_is_refused_before_it_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        // Exactly 1 MiB of valid config (the rest a comment) loads; one byte more does not.
        let path = dir.path().join("shop.toml");
        let pad = MAX_CONFIG_BYTES as usize - MINIMAL.len() - 2;
        let text = format!("{MINIMAL}#{}\n", "x".repeat(pad));
        assert_eq!(text.len() as u64, MAX_CONFIG_BYTES);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(Config::load(&path).unwrap().shop.name, "S");
        std::fs::write(&path, format!("{text} ")).unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert_eq!(
            err,
            format!(
                "{}: the config file is larger than 1024 KiB: a config is a page or two of \
                 settings, not data",
                path.display()
            )
        );
        // A device without end is read no further than the bound.
        let err = format!("{:#}", Config::load(Path::new("/dev/zero")).unwrap_err());
        assert!(
            err.starts_with("/dev/zero: the config file is larger"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_garbage_line_is_not_echoed_whole() {
        let garbage = "x".repeat(1_000_000);
        let err = format!("{:#}", parse(&garbage).unwrap_err());
        assert!(err.len() < 2_000, "{} bytes", err.len());
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
        let text =
            format!("{MINIMAL}\n[smtp]\nurl = \"smtp://mail.example:587\"\nca_file = \"ca.pem\"\n");
        let err = Config::parse(&ConfigSource {
            origin: "test.toml".into(),
            text: &text,
            base_dir: dir.path().to_path_buf(),
        })
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.starts_with("test.toml:9: `smtp.ca_file`"), "{err}");
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }

    #[test]
    fn bad_currency_names_line_and_key() {
        let text = MINIMAL.replace("\"EUR\"", "\"euro\"");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.starts_with("test.toml:4: `shop.currency`"), "{err}");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_demo_shop_is_named_or_northwind() {
        let demo = |shop: &str| format!("{MINIMAL}\n[demo]\n{shop}");
        let c = parse(&demo("shop = \"Lumpy\"\n")).unwrap();
        assert_eq!(c.demo.unwrap().shop, DemoShop::Lumpy);
        let c = parse(&demo("seed = 3\n")).unwrap();
        assert_eq!(c.demo.unwrap().shop, DemoShop::Northwind);
        let err = format!("{:#}", parse(&demo("shop = \"bumpy\"\n")).unwrap_err());
        assert!(
            err.ends_with("`demo.shop`: expected northwind or lumpy, got \"bumpy\""),
            "{err}"
        );
        assert!(err.starts_with("test.toml:10:"), "{err}");
    }

    #[test]
    fn bundled_demo_config_parses() {
        let c = Config::demo(Path::new("/data")).unwrap();
        assert!(c.demo.is_some());
        assert!(matches!(c.store.url, StoreUrl::Sqlite(ref p) if p.starts_with("/data")));
    }
}
