//! The config file's TOML as written: serde structs that mirror it with
//! `deny_unknown_fields` and the defaults of keys left out. `sections` turns each into
//! typed, validated values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::Lead;
use crate::metrics::alert::AlertSettings;
use crate::metrics::metric::{MetricDef, Team};
use crate::metrics::okr::Thresholds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) shop: RawShop,
    pub(super) store: RawStore,
    pub(super) demo: Option<RawDemo>,
    pub(super) format: Option<Spanned<RawFormat>>,
    #[serde(default)]
    pub(super) metrics: Vec<Spanned<MetricDef>>,
    #[serde(default)]
    pub(super) okr: Thresholds,
    #[serde(default)]
    pub(super) objectives: Vec<Spanned<RawObjective>>,
    #[serde(default)]
    pub(super) alerts: AlertSettings,
    pub(super) news: Option<Spanned<crate::metrics::news::NewsSettings>>,
    #[serde(default)]
    pub(super) outlook: Option<Spanned<crate::metrics::forecast::OutlookSettings>>,
    pub(super) preflight: Option<Spanned<crate::metrics::preflight::PreflightSettings>>,
    #[serde(default)]
    pub(super) plans: Vec<Spanned<crate::metrics::plan::RawPlan>>,
    pub(super) channels: Option<Spanned<BTreeMap<String, String>>>,
    pub(super) email: Option<RawEmail>,
    #[serde(default)]
    pub(super) teams: Vec<Spanned<RawTeam>>,
    #[serde(default)]
    pub(super) reports: Vec<Spanned<RawReport>>,
    #[serde(default)]
    pub(super) delivery: RawDelivery,
    pub(super) smtp: Option<Spanned<RawSmtp>>,
    pub(super) slack: Option<Spanned<super::chat::RawSlack>>,
    pub(super) msteams: Option<Spanned<super::chat::RawMsTeams>>,
    #[serde(default)]
    pub(super) imports: Vec<Spanned<RawImport>>,
    #[serde(default)]
    pub(super) closures: Vec<Spanned<RawClosure>>,
    #[serde(default)]
    pub(super) sources: Vec<Spanned<super::sources::RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImport {
    pub(super) path: String,
    pub(super) format: Option<String>,
    pub(super) time: Option<String>,
    pub(super) settle_secs: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    /// smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS).
    pub(super) url: String,
    pub(super) username: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    /// Allow smtp:// without TLS (a local relay).
    #[serde(default)]
    pub(super) plaintext: bool,
    pub(super) ca_file: Option<PathBuf>,
    /// The deadline of each step of a message (seconds; fractions allowed).
    #[serde(default = "default_smtp_timeout")]
    pub(super) timeout_secs: Spanned<f64>,
    #[serde(default = "default_retry_for")]
    pub(super) retry_for_secs: Spanned<f64>,
    #[serde(default = "default_connections")]
    pub(super) connections: Spanned<u32>,
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
pub(super) struct RawTeam {
    pub(super) name: String,
    #[serde(default)]
    pub(super) lead: Option<Lead>,
    pub(super) members: Vec<RawMember>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMember {
    pub(super) name: Option<String>,
    pub(super) email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) name: String,
    pub(super) teams: Vec<String>,
    pub(super) from: String,
    pub(super) reply_to: Option<String>,
    pub(super) owner: String,
    /// Cron, in `timezone` (default: the shop's).
    pub(super) schedule: Option<String>,
    pub(super) timezone: Option<String>,
    #[serde(default = "default_grace_hours")]
    pub(super) grace_hours: u32,
    /// Tables that must have data for the report date before it is built.
    pub(super) wait_for: Option<Vec<String>>,
    #[serde(default = "default_recheck_minutes")]
    pub(super) recheck_minutes: u32,
    /// How long after the scheduled time to wait for data before sending anyway.
    #[serde(default = "default_wait_minutes")]
    pub(super) wait_minutes: u32,
    /// Slack channels (ids) the report is posted to, through `[slack]`.
    #[serde(default)]
    pub(super) slack_channels: Vec<String>,
    /// A Microsoft Teams Workflows webhook (a secret URL) the report is posted to.
    pub(super) teams_webhook_env: Option<String>,
    pub(super) teams_webhook_file: Option<PathBuf>,
    /// "day" (the default): the day before the send; "week": the last full week.
    #[serde(default)]
    pub(super) period: crate::config::ReportPeriod,
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
pub(super) struct RawDelivery {
    /// Directory of .eml files, relative to the config file.
    pub(super) outbox: Option<PathBuf>,
    pub(super) ledger_retry_secs: Option<Spanned<f64>>,
    pub(super) claim_lease_secs: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub(super) from: Spanned<String>,
    pub(super) preview_to: Option<Spanned<String>>,
    pub(super) templates_dir: Option<PathBuf>,
    pub(super) return_rate_min_units: Option<u32>,
    /// "https://reports.example/{date}": where the day's report can be read in a browser.
    pub(super) view_url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObjective {
    pub(super) title: String,
    pub(super) owner: String,
    pub(super) team: Team,
    /// "month", "quarter" or "year": the calendar period containing the report date.
    pub(super) cycle: Option<Spanned<String>>,
    pub(super) cycle_start: Option<DateValue>,
    pub(super) cycle_end: Option<DateValue>,
    pub(super) key_results: Vec<Spanned<RawKeyResult>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeyResult {
    pub(super) title: Option<String>,
    pub(super) metric: String,
    /// Value the metric over the last N days instead of the cycle to date.
    pub(super) trailing_days: Option<u32>,
    pub(super) baseline: NumberValue,
    pub(super) target: NumberValue,
}

/// A TOML date (2026-10-01) or the same as a string.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateValue {
    pub(super) fn parse(&self) -> Result<chrono::NaiveDate, String> {
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
pub(super) enum NumberValue {
    Number(f64),
    Integer(i64),
    Text(String),
}

impl NumberValue {
    pub(super) fn parse(&self) -> Result<f64, String> {
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
pub(super) struct RawShop {
    pub(super) name: Spanned<String>,
    pub(super) timezone: Tz,
    pub(super) currency: Spanned<String>,
    pub(super) currency_symbol: Option<Spanned<String>>,
    #[serde(default = "default_week_start")]
    pub(super) week_start: Spanned<String>,
    /// Weekdays the shop is closed; left out, they are told by the history.
    pub(super) closed: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClosure {
    pub(super) from: DateValue,
    pub(super) to: DateValue,
    pub(super) reason: String,
}

fn default_week_start() -> Spanned<String> {
    Spanned::new(0..0, "monday".to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) url: Spanned<String>,
    pub(super) password_env: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<PathBuf>>,
    #[serde(default = "default_connect_timeout")]
    pub(super) connect_timeout_secs: u64,
    /// The deadline of each metric query (seconds).
    #[serde(default = "default_query_timeout")]
    pub(super) query_timeout_secs: Spanned<f64>,
}

fn default_query_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 30.0)
}

fn default_connect_timeout() -> u64 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDemo {
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    #[serde(default = "default_days")]
    pub(super) days: Spanned<u32>,
    #[serde(default = "default_scale")]
    pub(super) scale: Spanned<f64>,
    /// northwind (the default) or lumpy.
    pub(super) shop: Option<Spanned<String>>,
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
pub(super) struct RawFormat {
    pub(super) thousands_separator: Option<String>,
    pub(super) decimal_separator: Option<String>,
    pub(super) percent_decimals: Option<Spanned<usize>>,
    pub(super) money_decimals: Option<Spanned<usize>>,
}
