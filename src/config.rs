//! The configuration file: parsed once, validated, and turned into typed values.
//!
//! Raw serde structs mirror the TOML with `deny_unknown_fields`; everything a later step
//! could get wrong (time zones, dates, metric keys, secrets) is checked here so that the
//! rest of the program receives values that are already valid.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::Weekday;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::alert::AlertSettings;
use crate::metric::{Catalog, MetricDef, Team};
use crate::okr::{Cycle, KeyResult, Objective, Thresholds, Window};

/// The demo configuration bundled into the binary, used when no config is given.
pub const DEMO_CONFIG: &str = include_str!("../fixtures/demo.toml");

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
    pub email: EmailSettings,
    /// Who receives which report.
    pub reports: Vec<Report>,
    /// Where the file transport writes messages when no mail server is configured.
    pub outbox: PathBuf,
    /// The mail server; None means the outbox.
    pub smtp: Option<SmtpSettings>,
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
    /// When it goes out, in its time zone.
    pub schedule: crate::schedule::Schedule,
    /// A digest not sent this long after its scheduled time is skipped, not sent late.
    pub grace: chrono::Duration,
    /// Tables that must have data for the report date before it is built.
    pub wait_for: Vec<String>,
    pub recheck: chrono::Duration,
    /// After this long past the scheduled time, it goes out anyway with a banner.
    pub wait: chrono::Duration,
}

impl Config {
    /// The named report, or the only one when `name` is None.
    pub fn report(&self, name: Option<&str>) -> Result<&Report> {
        let names = || {
            self.reports
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => self.reports.iter().find(|r| r.name == n).ok_or_else(|| {
                anyhow!(
                    "{}: no report named `{n}` (reports: {})",
                    self.origin,
                    names()
                )
            }),
            None => match self.reports.as_slice() {
                [only] => Ok(only),
                [] => bail!(
                    "{}: no [[reports]] configured: add one that names its teams",
                    self.origin
                ),
                _ => bail!(
                    "{}: several reports are configured ({}): choose one with --report",
                    self.origin,
                    names()
                ),
            },
        }
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
}

#[derive(Debug, Clone)]
pub struct Shop {
    pub name: String,
    pub timezone: Tz,
    /// ISO 4217 code, e.g. "GBP".
    pub currency: String,
    /// What is printed before amounts, e.g. "£".
    pub currency_symbol: String,
    pub week_start: Weekday,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: StoreUrl,
    pub password: Option<Secret>,
    /// How long to keep trying to reach the store before giving up.
    pub connect_timeout: std::time::Duration,
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
            StoreUrl::Postgres(u) => f.write_str(u),
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
            if let Some(authority) = url.split("://").nth(1).and_then(|r| r.split('/').next())
                && let Some((userinfo, _)) = authority.rsplit_once('@')
                && userinfo.contains(':')
            {
                bail!(
                    "the store URL must not contain a password; set `password_env` or `password_file` in [store]"
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

// ---- raw TOML shape -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    shop: RawShop,
    store: RawStore,
    demo: Option<RawDemo>,
    #[serde(default)]
    format: RawFormat,
    #[serde(default)]
    metrics: Vec<Spanned<MetricDef>>,
    #[serde(default)]
    okr: Thresholds,
    #[serde(default)]
    objectives: Vec<Spanned<RawObjective>>,
    #[serde(default)]
    alerts: AlertSettings,
    email: Option<RawEmail>,
    #[serde(default)]
    teams: Vec<Spanned<RawTeam>>,
    #[serde(default)]
    reports: Vec<Spanned<RawReport>>,
    #[serde(default)]
    delivery: RawDelivery,
    smtp: Option<Spanned<RawSmtp>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    /// smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS).
    url: String,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    /// Allow smtp:// without TLS (a local relay).
    #[serde(default)]
    plaintext: bool,
    ca_file: Option<PathBuf>,
    /// The deadline of each step of a message (seconds; fractions allowed).
    #[serde(default = "default_smtp_timeout")]
    timeout_secs: Spanned<f64>,
    #[serde(default = "default_retry_for")]
    retry_for_secs: Spanned<f64>,
    #[serde(default = "default_connections")]
    connections: Spanned<u32>,
}

fn default_connections() -> Spanned<u32> {
    Spanned::new(0..0, 4)
}

fn default_smtp_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 30.0)
}
fn default_retry_for() -> Spanned<f64> {
    Spanned::new(0..0, 300.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: String,
    members: Vec<RawMember>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    name: Option<String>,
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    name: String,
    teams: Vec<String>,
    from: String,
    reply_to: Option<String>,
    owner: String,
    /// Cron, in `timezone` (default: the shop's).
    schedule: Option<String>,
    timezone: Option<String>,
    #[serde(default = "default_grace_hours")]
    grace_hours: u32,
    /// Tables that must have data for the report date before it is built.
    wait_for: Option<Vec<String>>,
    #[serde(default = "default_recheck_minutes")]
    recheck_minutes: u32,
    /// How long after the scheduled time to wait for data before sending anyway.
    #[serde(default = "default_wait_minutes")]
    wait_minutes: u32,
}

fn default_grace_hours() -> u32 {
    6
}
fn default_recheck_minutes() -> u32 {
    15
}
fn default_wait_minutes() -> u32 {
    120
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    /// Directory of .eml files, relative to the config file.
    outbox: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: Spanned<String>,
    preview_to: Option<Spanned<String>>,
    templates_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    title: String,
    owner: String,
    team: Team,
    /// "month", "quarter" or "year": the calendar period containing the report date.
    cycle: Option<Spanned<String>>,
    cycle_start: Option<DateValue>,
    cycle_end: Option<DateValue>,
    key_results: Vec<Spanned<RawKeyResult>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyResult {
    title: Option<String>,
    metric: String,
    /// Value the metric over the last N days instead of the cycle to date.
    trailing_days: Option<u32>,
    baseline: NumberValue,
    target: NumberValue,
}

/// A TOML date (2026-10-01) or the same as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateValue {
    fn parse(&self) -> Result<chrono::NaiveDate, String> {
        let text = match self {
            DateValue::Toml(d) => d.to_string(),
            DateValue::Text(s) => s.clone(),
        };
        text.parse()
            .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
    }
}

/// A number in the metric's unit: 0.62, "62%", "48h" or "48 h".
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberValue {
    Number(f64),
    Integer(i64),
    Text(String),
}

impl NumberValue {
    fn parse(&self) -> Result<f64, String> {
        match self {
            NumberValue::Number(n) => Ok(*n),
            NumberValue::Integer(n) => Ok(*n as f64),
            NumberValue::Text(t) => {
                let s = t.trim();
                let (digits, scale) = if let Some(p) = s.strip_suffix('%') {
                    (p, 0.01)
                } else if let Some(h) = s.strip_suffix('h') {
                    (h, 1.0)
                } else {
                    (s, 1.0)
                };
                digits
                    .trim()
                    .parse::<f64>()
                    .map(|v| v * scale)
                    .map_err(|_| format!("{t:?} is not a number (write 0.62, \"62%\" or \"48h\")"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShop {
    name: String,
    timezone: Tz,
    currency: Spanned<String>,
    currency_symbol: Option<String>,
    #[serde(default = "default_week_start")]
    week_start: Spanned<String>,
}

fn default_week_start() -> Spanned<String> {
    Spanned::new(0..0, "monday".to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: Spanned<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_secs: u64,
}

fn default_connect_timeout() -> u64 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemo {
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_days")]
    days: Spanned<u32>,
    #[serde(default = "default_scale")]
    scale: Spanned<f64>,
}

fn default_seed() -> u64 {
    7
}
fn default_days() -> Spanned<u32> {
    Spanned::new(0..0, 430)
}
fn default_scale() -> Spanned<f64> {
    Spanned::new(0..0, 1.0)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    thousands_separator: Option<String>,
    decimal_separator: Option<String>,
    percent_decimals: Option<usize>,
    money_decimals: Option<usize>,
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
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
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
        let raw: RawConfig = toml::from_str(src.text)
            .map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
        let at = |span: Range<usize>, key: &str, msg: String| -> anyhow::Error {
            anyhow!("{origin}:{}: `{key}`: {msg}", line_of(src.text, span.start))
        };

        let currency = raw.shop.currency.get_ref().trim().to_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(at(
                raw.shop.currency.span(),
                "shop.currency",
                format!(
                    "expected a 3-letter ISO 4217 code such as GBP, got {:?}",
                    raw.shop.currency.get_ref()
                ),
            ));
        }
        let currency_symbol = raw
            .shop
            .currency_symbol
            .unwrap_or_else(|| default_symbol(&currency));
        let week_start = match raw.shop.week_start.get_ref().to_lowercase().as_str() {
            "monday" => Weekday::Mon,
            "sunday" => Weekday::Sun,
            "saturday" => Weekday::Sat,
            other => {
                return Err(at(
                    raw.shop.week_start.span(),
                    "shop.week_start",
                    format!("expected monday, sunday or saturday, got {other:?}"),
                ));
            }
        };

        let url = StoreUrl::parse(raw.store.url.get_ref(), &src.base_dir)
            .map_err(|e| at(raw.store.url.span(), "store.url", e.to_string()))?;
        let password = match (&raw.store.password_env, &raw.store.password_file) {
            (Some(_), Some(f)) => {
                return Err(at(
                    f.span(),
                    "store.password_file",
                    "give either password_env or password_file, not both".into(),
                ));
            }
            (Some(var), None) => Some(Secret::new(std::env::var(var.get_ref()).map_err(|_| {
                at(
                    var.span(),
                    "store.password_env",
                    format!("environment variable {} is not set", var.get_ref()),
                )
            })?)),
            (None, Some(file)) => {
                let path = src.base_dir.join(file.get_ref());
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    at(
                        file.span(),
                        "store.password_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(Secret::new(text.trim_end_matches(['\r', '\n']).to_string()))
            }
            (None, None) => None,
        };
        if password.is_some() && matches!(url, StoreUrl::Sqlite(_)) {
            return Err(at(
                raw.store.url.span(),
                "store.url",
                "a SQLite store takes no password".into(),
            ));
        }

        let demo = match raw.demo {
            None => None,
            Some(d) => {
                if !(60..=5000).contains(d.days.get_ref()) {
                    return Err(at(
                        d.days.span(),
                        "demo.days",
                        "must be between 60 and 5000".into(),
                    ));
                }
                let scale = *d.scale.get_ref();
                if !(0.01..=1000.0).contains(&scale) {
                    return Err(at(
                        d.scale.span(),
                        "demo.scale",
                        "must be between 0.01 and 1000".into(),
                    ));
                }
                Some(DemoSettings {
                    seed: d.seed,
                    days: *d.days.get_ref(),
                    scale,
                })
            }
        };

        let defaults = NumberFormat::default();
        let format = NumberFormat {
            thousands_separator: raw
                .format
                .thousands_separator
                .unwrap_or(defaults.thousands_separator),
            decimal_separator: raw
                .format
                .decimal_separator
                .unwrap_or(defaults.decimal_separator),
            percent_decimals: raw
                .format
                .percent_decimals
                .unwrap_or(defaults.percent_decimals)
                .min(6),
            money_decimals: raw
                .format
                .money_decimals
                .unwrap_or(defaults.money_decimals)
                .min(4),
        };

        let mut catalog = Catalog::builtin();
        for m in raw.metrics {
            let span = m.span();
            let def = m.into_inner();
            let key = def.key.clone();
            catalog
                .add_custom(def)
                .map_err(|e| at(span, &format!("metrics.{key}"), e.to_string()))?;
        }

        let mut objectives = Vec::new();
        for o in raw.objectives {
            let span = o.span();
            let o = o.into_inner();
            let key = format!("objectives[{:?}]", o.title);
            let cycle = match (&o.cycle, &o.cycle_start, &o.cycle_end) {
                (Some(c), None, None) => match c.get_ref().as_str() {
                    "month" => Cycle::Month,
                    "quarter" => Cycle::Quarter,
                    "year" => Cycle::Year,
                    other => {
                        return Err(at(
                            c.span(),
                            &format!("{key}.cycle"),
                            format!("expected month, quarter or year, got {other:?}"),
                        ));
                    }
                },
                (None, Some(s), Some(e)) => {
                    let start = s
                        .parse()
                        .map_err(|m| at(span.clone(), &format!("{key}.cycle_start"), m))?;
                    let end = e
                        .parse()
                        .map_err(|m| at(span.clone(), &format!("{key}.cycle_end"), m))?;
                    if end < start {
                        return Err(at(
                            span,
                            &format!("{key}.cycle_end"),
                            format!("the cycle ends ({end}) before it starts ({start})"),
                        ));
                    }
                    Cycle::Fixed { start, end }
                }
                _ => {
                    return Err(at(
                        span,
                        &key,
                        "give either `cycle` (month, quarter, year) or both `cycle_start` and `cycle_end`".into(),
                    ));
                }
            };
            let mut key_results = Vec::new();
            for kr in o.key_results {
                let kr_span = kr.span();
                let kr = kr.into_inner();
                let kr_key = format!("{key}.key_results[{:?}]", kr.metric);
                let err = |field: &str, msg: String| {
                    at(kr_span.clone(), &format!("{kr_key}.{field}"), msg)
                };
                let Some(metric) = catalog.get(&kr.metric) else {
                    return Err(err("metric", format!("unknown metric `{}`", kr.metric)));
                };
                if metric.breakdown.is_some() {
                    return Err(err(
                        "metric",
                        format!(
                            "`{}` is reported per {}; a key result needs a single value",
                            kr.metric,
                            metric.breakdown.as_deref().unwrap_or("value")
                        ),
                    ));
                }
                let baseline = kr.baseline.parse().map_err(|m| err("baseline", m))?;
                let target = kr.target.parse().map_err(|m| err("target", m))?;
                if baseline == target {
                    return Err(err(
                        "target",
                        format!(
                            "equals the baseline ({baseline}): there is nothing to make progress on"
                        ),
                    ));
                }
                let window = match kr.trailing_days {
                    None => Window::CycleToDate,
                    Some(0) => return Err(err("trailing_days", "must be at least 1".into())),
                    Some(n) => Window::Trailing(n),
                };
                key_results.push(KeyResult {
                    title: kr.title.unwrap_or_default(),
                    metric: kr.metric,
                    window,
                    baseline,
                    target,
                });
            }
            if key_results.is_empty() {
                return Err(at(
                    span,
                    &format!("{key}.key_results"),
                    "an objective needs at least one key result".into(),
                ));
            }
            objectives.push(Objective {
                title: o.title,
                owner: o.owner,
                team: o.team,
                cycle,
                key_results,
            });
        }
        let t = raw.okr;
        if !(0.0 < t.at_risk && t.at_risk <= t.on_track && t.on_track <= 1.0) {
            return Err(anyhow!(
                "{origin}: `okr`: thresholds must satisfy 0 < at_risk <= on_track <= 1"
            ));
        }

        let email = match raw.email {
            None => {
                let me: lettre::message::Mailbox = "dawnpost <dawnpost@localhost>"
                    .parse()
                    .expect("valid mailbox");
                EmailSettings {
                    from: me.clone(),
                    preview_to: me,
                    templates_dir: None,
                }
            }
            Some(e) => {
                let mailbox = |v: &Spanned<String>, key: &str| {
                    v.get_ref()
                        .parse::<lettre::message::Mailbox>()
                        .map_err(|err| {
                            at(
                                v.span(),
                                key,
                                format!("{:?} is not an email address: {err}", v.get_ref()),
                            )
                        })
                };
                let from = mailbox(&e.from, "email.from")?;
                let preview_to = match &e.preview_to {
                    Some(v) => mailbox(v, "email.preview_to")?,
                    None => from.clone(),
                };
                EmailSettings {
                    from,
                    preview_to,
                    templates_dir: e.templates_dir.map(|d| src.base_dir.join(d)),
                }
            }
        };

        let mailbox = |text: &str, span: Range<usize>, key: &str| {
            text.parse::<lettre::message::Mailbox>().map_err(|err| {
                at(
                    span,
                    key,
                    format!("{text:?} is not an email address: {err}"),
                )
            })
        };
        let mut teams: Vec<(String, Vec<lettre::message::Mailbox>)> = Vec::new();
        for t in raw.teams {
            let span = t.span();
            let t = t.into_inner();
            if teams.iter().any(|(n, _)| *n == t.name) {
                return Err(at(
                    span,
                    &format!("teams[{:?}]", t.name),
                    "a team with this name already exists".into(),
                ));
            }
            let mut members = Vec::new();
            for (i, m) in t.members.iter().enumerate() {
                let key = format!("teams[{:?}].members[{i}].email", t.name);
                let mut mb = mailbox(&m.email, span.clone(), &key)?;
                if let Some(name) = &m.name {
                    mb.name = Some(name.clone());
                }
                members.push(mb);
            }
            teams.push((t.name, members));
        }
        let mut reports = Vec::new();
        for r in raw.reports {
            let span = r.span();
            let r = r.into_inner();
            let key = format!("reports[{:?}]", r.name);
            if reports.iter().any(|x: &Report| x.name == r.name) {
                return Err(at(
                    span,
                    &key,
                    "a report with this name already exists".into(),
                ));
            }
            let mut recipients: Vec<lettre::message::Mailbox> = Vec::new();
            for team in &r.teams {
                let Some((_, members)) = teams.iter().find(|(n, _)| n == team) else {
                    return Err(at(
                        span,
                        &format!("{key}.teams"),
                        format!("unknown team `{team}`"),
                    ));
                };
                for m in members {
                    // One email per person, however many of the report's teams they are in.
                    if !recipients
                        .iter()
                        .any(|x| x.email.to_string().eq_ignore_ascii_case(m.email.as_ref()))
                    {
                        recipients.push(m.clone());
                    }
                }
            }
            let tz = match &r.timezone {
                Some(name) => name.parse::<Tz>().map_err(|_| {
                    at(
                        span.clone(),
                        &format!("{key}.timezone"),
                        format!("{name:?} is not an IANA time zone such as Europe/London"),
                    )
                })?,
                None => raw.shop.timezone,
            };
            let schedule = crate::schedule::Schedule::parse(
                r.schedule.as_deref().unwrap_or(crate::schedule::DEFAULT),
                tz,
            )
            .map_err(|e| at(span.clone(), &format!("{key}.schedule"), e))?;
            let wait_for = r
                .wait_for
                .unwrap_or_else(|| vec!["orders".into(), "traffic".into()]);
            for t in &wait_for {
                if !crate::store::DATED_TABLES.contains(&t.as_str()) {
                    return Err(at(
                        span,
                        &format!("{key}.wait_for"),
                        format!(
                            "unknown table `{t}` (tables with days: {})",
                            crate::store::DATED_TABLES.join(", ")
                        ),
                    ));
                }
            }
            if r.wait_minutes / 60 >= r.grace_hours {
                return Err(at(
                    span,
                    &format!("{key}.wait_minutes"),
                    format!(
                        "waiting {} minutes for data leaves nothing of the {} h grace period",
                        r.wait_minutes, r.grace_hours
                    ),
                ));
            }
            reports.push(Report {
                schedule,
                grace: chrono::Duration::hours(i64::from(r.grace_hours)),
                wait_for,
                recheck: chrono::Duration::minutes(i64::from(r.recheck_minutes.max(1))),
                wait: chrono::Duration::minutes(i64::from(r.wait_minutes)),
                from: mailbox(&r.from, span.clone(), &format!("{key}.from"))?,
                reply_to: r
                    .reply_to
                    .as_deref()
                    .map(|t| mailbox(t, span.clone(), &format!("{key}.reply_to")))
                    .transpose()?,
                owner: mailbox(&r.owner, span.clone(), &format!("{key}.owner"))?,
                name: r.name,
                teams: r.teams,
                recipients,
            });
        }
        let outbox = src.base_dir.join(
            raw.delivery
                .outbox
                .unwrap_or_else(|| PathBuf::from("outbox")),
        );
        let smtp = match raw.smtp {
            None => None,
            Some(s) => {
                let span = s.span();
                let s = s.into_inner();
                let err = |key: &str, msg: String| at(span.clone(), &format!("smtp.{key}"), msg);
                let (scheme, rest) = s.url.split_once("://").ok_or_else(|| {
                    err(
                        "url",
                        format!("{:?} is not smtp://host:port or smtps://host:port", s.url),
                    )
                })?;
                if rest.contains('@') {
                    return Err(err("url", "must not contain credentials; use username and password_env or password_file".into()));
                }
                let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
                    Some((h, p)) => (
                        h.to_string(),
                        p.parse::<u16>()
                            .map_err(|_| err("url", format!("bad port in {:?}", s.url)))?,
                    ),
                    None => (
                        rest.trim_end_matches('/').to_string(),
                        if scheme == "smtps" { 465 } else { 587 },
                    ),
                };
                let security = match (scheme, s.plaintext) {
                    ("smtps", false) => SmtpSecurity::ImplicitTls,
                    ("smtp", false) => SmtpSecurity::StartTls,
                    ("smtp", true) => SmtpSecurity::Plain,
                    ("smtps", true) => {
                        return Err(err("plaintext", "smtps:// is always encrypted".into()));
                    }
                    (other, _) => {
                        return Err(err(
                            "url",
                            format!("unsupported scheme {other:?}: use smtp or smtps"),
                        ));
                    }
                };
                let password = match (&s.password_env, &s.password_file) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "password_file",
                            "give either password_env or password_file, not both".into(),
                        ));
                    }
                    (Some(var), None) => Some(Secret::new(std::env::var(var).map_err(|_| {
                        err(
                            "password_env",
                            format!("environment variable {var} is not set"),
                        )
                    })?)),
                    (None, Some(f)) => {
                        let path = src.base_dir.join(f);
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            err(
                                "password_file",
                                format!("cannot read {}: {e}", path.display()),
                            )
                        })?;
                        Some(Secret::new(text.trim_end_matches(['\r', '\n']).to_string()))
                    }
                    (None, None) => None,
                };
                if password.is_some() != s.username.is_some() {
                    return Err(err(
                        "username",
                        "username and a password (password_env or password_file) go together"
                            .into(),
                    ));
                }
                let ca_pem = match &s.ca_file {
                    Some(f) => {
                        let path = src.base_dir.join(f);
                        Some(std::fs::read(&path).map_err(|e| {
                            err("ca_file", format!("cannot read {}: {e}", path.display()))
                        })?)
                    }
                    None => None,
                };
                let seconds =
                    |v: &Spanned<f64>, range: std::ops::RangeInclusive<f64>, key: &str| {
                        let x = *v.get_ref();
                        if range.contains(&x) {
                            Ok(std::time::Duration::from_secs_f64(x))
                        } else {
                            Err(at(
                                v.span(),
                                key,
                                format!(
                                    "expected {} to {} seconds, got {x}",
                                    range.start(),
                                    range.end()
                                ),
                            ))
                        }
                    };
                let connections = *s.connections.get_ref();
                if !(1..=32).contains(&connections) {
                    return Err(at(
                        s.connections.span(),
                        "smtp.connections",
                        format!("expected 1 to 32 connections, got {connections}"),
                    ));
                }
                Some(SmtpSettings {
                    host,
                    port,
                    security,
                    username: s.username,
                    password,
                    ca_pem,
                    timeout: seconds(&s.timeout_secs, 0.01..=600.0, "smtp.timeout_secs")?,
                    retry_for: seconds(&s.retry_for_secs, 0.0..=86_400.0, "smtp.retry_for_secs")?,
                    connections: connections as usize,
                })
            }
        };

        Ok(Config {
            origin: origin.clone(),
            shop: Shop {
                name: raw.shop.name,
                timezone: raw.shop.timezone,
                currency,
                currency_symbol,
                week_start,
            },
            store: StoreConfig {
                url,
                password,
                connect_timeout: std::time::Duration::from_secs(
                    raw.store.connect_timeout_secs.clamp(1, 600),
                ),
            },
            demo,
            format,
            catalog,
            objectives,
            okr_thresholds: t,
            alerts: raw.alerts,
            email,
            reports,
            outbox,
            smtp,
        })
    }
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

    fn parse(text: &str) -> Result<Config> {
        Config::parse(&ConfigSource {
            origin: "test.toml".into(),
            text,
            base_dir: PathBuf::from("/base"),
        })
    }

    const MINIMAL: &str = "[shop]\nname = \"S\"\ntimezone = \"Europe/Paris\"\ncurrency = \"EUR\"\n\n[store]\nurl = \"sqlite://s.db\"\n";

    #[test]
    fn minimal_config_resolves_relative_sqlite_path() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.store.url, StoreUrl::Sqlite(PathBuf::from("/base/s.db")));
        assert_eq!(c.shop.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.shop.currency_symbol, "€");
        assert_eq!(c.shop.week_start, Weekday::Mon);
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
    fn bundled_demo_config_parses() {
        let c = Config::demo(Path::new("/data")).unwrap();
        assert!(c.demo.is_some());
        assert!(matches!(c.store.url, StoreUrl::Sqlite(ref p) if p.starts_with("/data")));
    }
}
