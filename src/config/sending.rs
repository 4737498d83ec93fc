//! The sections about who receives what and how it leaves: `[email]`, `[[teams]]`,
//! `[[reports]]` with their recipients and leads, and `[smtp]` with its URL and CA file.

use std::ops::Range;
use std::path::Path;

use anyhow::{Error, Result};
use lettre::message::Mailbox;
use toml::Spanned;

use super::sections::{Cx, excerpt, seconds};
use super::*;

pub(super) fn email(cx: &Cx<'_>, raw: Option<RawEmail>) -> Result<EmailSettings> {
    let Some(e) = raw else {
        let me: Mailbox = "dawnpost <dawnpost@localhost>"
            .parse()
            .expect("valid mailbox");
        return Ok(EmailSettings {
            from: me.clone(),
            preview_to: me,
            templates_dir: None,
            return_rate_min_units: RETURN_RATE_MIN_UNITS,
            view_url: None,
        });
    };
    let from = cx.mailbox(e.from.get_ref(), e.from.span(), "email.from")?;
    let preview_to = match &e.preview_to {
        Some(v) => cx.mailbox(v.get_ref(), v.span(), "email.preview_to")?,
        None => from.clone(),
    };
    Ok(EmailSettings {
        from,
        preview_to,
        templates_dir: e.templates_dir.map(|d| cx.base_dir.join(d)),
        return_rate_min_units: e.return_rate_min_units.unwrap_or(RETURN_RATE_MIN_UNITS),
        view_url: e.view_url.map(|v| view_url(cx, &v)).transpose()?,
    })
}

/// `[email] view_url`: an https URL once `{date}` is filled in, on one line, within
/// [`MAX_VIEW_URL`].
fn view_url(cx: &Cx<'_>, v: &Spanned<String>) -> Result<String> {
    let text = v.get_ref().trim();
    cx.name(text, v.span(), "email.view_url", MAX_VIEW_URL)?;
    let sample = text.replace("{date}", "2026-01-31");
    match url::Url::parse(&sample) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(text.to_string()),
        _ => Err(cx.at(
            v.span(),
            "email.view_url",
            "give an https:// URL, with {date} where the report date goes",
        )),
    }
}

pub(super) type Teams = Vec<(String, Option<Lead>, Vec<Mailbox>)>;

pub(super) fn teams(cx: &Cx<'_>, raw: Vec<Spanned<RawTeam>>) -> Result<Teams> {
    let mut teams: Teams = Vec::new();
    for t in raw {
        let span = t.span();
        let t = t.into_inner();
        let key = format!("teams[{:?}]", excerpt(&t.name));
        cx.name(&t.name, span.clone(), &format!("{key}.name"), MAX_NAME)?;
        if teams.iter().any(|(n, _, _)| *n == t.name) {
            return Err(cx.at(span, &key, "a team with this name already exists"));
        }
        let mut members = Vec::new();
        for (i, m) in t.members.iter().enumerate() {
            let key = format!("{key}.members[{i}]");
            let mut mb = cx.mailbox(&m.email, span.clone(), &format!("{key}.email"))?;
            if let Some(name) = &m.name {
                cx.name(name, span.clone(), &format!("{key}.name"), MAX_NAME)?;
                mb.name = Some(name.clone());
            }
            members.push(mb);
        }
        teams.push((t.name, t.lead, members));
    }
    Ok(teams)
}

pub(super) fn reports(
    cx: &Cx<'_>,
    raw: Vec<Spanned<RawReport>>,
    teams: &Teams,
    shop_tz: Tz,
) -> Result<Vec<Report>> {
    let mut reports: Vec<Report> = Vec::new();
    for r in raw {
        let span = r.span();
        let r = r.into_inner();
        let key = format!("reports[{:?}]", excerpt(&r.name));
        cx.name(&r.name, span.clone(), &format!("{key}.name"), MAX_NAME)?;
        if reports.iter().any(|x| x.name == r.name) {
            return Err(cx.at(span, &key, "a report with this name already exists"));
        }
        reports.push(report(cx, r, span, &key, teams, shop_tz)?);
    }
    Ok(reports)
}

/// The people of a report's teams, each once, in the order of the first team they are in,
/// with the lead of the team each came from; or the first team that does not exist.
fn team_recipients(
    names: &[String],
    teams: &Teams,
) -> Result<(Vec<Mailbox>, BTreeMap<RecipientKey, Lead>), String> {
    let mut recipients: Vec<Mailbox> = Vec::new();
    let mut leads = BTreeMap::new();
    for team in names {
        let Some((_, lead, members)) = teams.iter().find(|(n, _, _)| n == team) else {
            return Err(team.clone());
        };
        for m in members {
            // One person to the ledger is one recipient here: the same key, not a
            // narrower sameness that would leave one of two Unicode-cased twins unserved.
            let key = RecipientKey::email(m);
            if !recipients.iter().any(|x| RecipientKey::email(x) == key) {
                recipients.push(m.clone());
                if let Some(lead) = lead {
                    leads.insert(key, *lead);
                }
            }
        }
    }
    Ok((recipients, leads))
}

fn report(
    cx: &Cx<'_>,
    r: RawReport,
    span: Range<usize>,
    key: &str,
    teams: &Teams,
    shop_tz: Tz,
) -> Result<Report> {
    let at = |field: &str, msg: String| cx.at(span.clone(), &format!("{key}.{field}"), msg);
    let (recipients, leads) = team_recipients(&r.teams, teams)
        .map_err(|team| at("teams", format!("unknown team `{}`", excerpt(&team))))?;
    let tz = match &r.timezone {
        Some(name) => name.parse::<Tz>().map_err(|_| {
            at(
                "timezone",
                format!(
                    "{:?} is not an IANA time zone such as Europe/London",
                    excerpt(name)
                ),
            )
        })?,
        None => shop_tz,
    };
    let schedule = crate::schedule::Schedule::parse(
        r.schedule.as_deref().unwrap_or(crate::schedule::DEFAULT),
        tz,
    )
    .map_err(|e| at("schedule", e))?;
    let wait_for = waiting(&r, at)?;
    let slack_channels = r
        .slack_channels
        .iter()
        .map(|c| chat::slack_channel(cx, c, span.clone(), &format!("{key}.slack_channels")))
        .collect::<Result<Vec<_>>>()?;
    let teams_webhook = cx
        .secret_named(
            "teams_webhook",
            r.teams_webhook_env.as_deref().map(|v| (v, span.clone())),
            r.teams_webhook_file.as_deref().map(|f| (f, span.clone())),
            key,
        )?
        .map(|url| chat::teams_webhook(cx, url, span.clone(), &format!("{key}.teams_webhook")))
        .transpose()?;
    Ok(Report {
        period: r.period,
        // Set from `[shop]` once the whole config is read.
        week_start: Weekday::Mon,
        teams_webhook,
        slack_channels,
        schedule,
        grace: chrono::Duration::hours(i64::from(r.grace_hours)),
        wait_for,
        recheck: chrono::Duration::minutes(i64::from(r.recheck_minutes.clamp(1, 24 * 60))),
        wait: chrono::Duration::minutes(i64::from(r.wait_minutes)),
        from: cx.mailbox(&r.from, span.clone(), &format!("{key}.from"))?,
        reply_to: r
            .reply_to
            .as_deref()
            .map(|t| cx.mailbox(t, span.clone(), &format!("{key}.reply_to")))
            .transpose()?,
        owner: cx.mailbox(&r.owner, span.clone(), &format!("{key}.owner"))?,
        name: r.name,
        teams: r.teams,
        recipients,
        leads,
    })
}

/// The tables a report waits for (orders and traffic unless it says), and a wait that leaves
/// some of the grace period to send in.
fn waiting(r: &RawReport, at: impl Fn(&str, String) -> Error) -> Result<Vec<String>> {
    let wait_for = r
        .wait_for
        .clone()
        .unwrap_or_else(|| vec!["orders".into(), "traffic".into()]);
    if let Some(t) = wait_for
        .iter()
        .find(|t| !crate::schema::dated_tables().any(|d| d == t.as_str()))
    {
        return Err(at(
            "wait_for",
            format!(
                "unknown table `{}` (tables with days: {})",
                excerpt(t),
                crate::schema::dated_tables().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if r.grace_hours > 24 * 7 {
        return Err(at("grace_hours", "must be at most 168 (a week)".into()));
    }
    if r.wait_minutes / 60 >= r.grace_hours {
        return Err(at(
            "wait_minutes",
            format!(
                "waiting {} minutes for data leaves nothing of the {} h grace period",
                r.wait_minutes, r.grace_hours
            ),
        ));
    }
    Ok(wait_for)
}

pub(super) fn smtp(cx: &Cx<'_>, raw: Option<Spanned<RawSmtp>>) -> Result<Option<SmtpSettings>> {
    let Some(s) = raw else { return Ok(None) };
    let span = s.span();
    let s = s.into_inner();
    let err = |key: &str, msg: String| cx.at(span.clone(), &format!("smtp.{key}"), msg);
    let (host, port, security) = smtp_url(&s, &err)?;
    let password = cx.secret(
        s.password_env.as_deref().map(|v| (v, span.clone())),
        s.password_file.as_deref().map(|f| (f, span.clone())),
        "smtp",
    )?;
    if password.is_some() != s.username.is_some() {
        return Err(err(
            "username",
            "username and a password (password_env or password_file) go together".into(),
        ));
    }
    if let Some(u) = &s.username {
        cx.plain(u, span.clone(), "smtp.username")?;
    }
    let ca_pem = match &s.ca_file {
        Some(f) => Some(ca_file(cx, f, &err)?),
        None => None,
    };
    let connections = *s.connections.get_ref();
    if !(1..=32).contains(&connections) {
        return Err(cx.at(
            s.connections.span(),
            "smtp.connections",
            format!("expected 1 to 32 connections, got {connections}"),
        ));
    }
    Ok(Some(SmtpSettings {
        host,
        port,
        security,
        username: s.username,
        password,
        ca_pem,
        timeout: seconds(cx, &s.timeout_secs, 0.01..=600.0, "smtp.timeout_secs")?,
        retry_for: seconds(cx, &s.retry_for_secs, 0.0..=86_400.0, "smtp.retry_for_secs")?,
        connections: connections as usize,
    }))
}

fn smtp_url(
    s: &RawSmtp,
    err: &impl Fn(&str, String) -> Error,
) -> Result<(String, u16, SmtpSecurity)> {
    let (scheme, rest) = s.url.split_once("://").ok_or_else(|| {
        err(
            "url",
            format!(
                "{:?} is not smtp://host:port or smtps://host:port",
                excerpt(&s.url)
            ),
        )
    })?;
    if rest.contains('@') {
        return Err(err(
            "url",
            "must not contain credentials; use username and password_env or password_file".into(),
        ));
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(err(
            "url",
            format!("{:?} has no valid host", excerpt(&s.url)),
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| err("url", format!("bad port in {:?}", excerpt(&s.url))))?,
        ),
        None => (rest.to_string(), if scheme == "smtps" { 465 } else { 587 }),
    };
    let security = match (scheme, s.plaintext) {
        ("smtps", false) => SmtpSecurity::ImplicitTls,
        ("smtp", false) => SmtpSecurity::StartTls,
        ("smtp", true) => SmtpSecurity::Plain,
        ("smtps", true) => return Err(err("plaintext", "smtps:// is always encrypted".into())),
        (other, _) => {
            return Err(err(
                "url",
                format!("unsupported scheme {:?}: use smtp or smtps", excerpt(other)),
            ));
        }
    };
    Ok((host, port, security))
}

/// Reads the CA file and checks now that it holds a PEM certificate lettre accepts, so a
/// wrong file fails `check`, not the morning's send.
pub(super) fn ca_file(
    cx: &Cx<'_>,
    f: &Path,
    err: &impl Fn(&str, String) -> Error,
) -> Result<Vec<u8>> {
    let path = cx.base_dir.join(f);
    let pem = std::fs::read(&path)
        .map_err(|e| err("ca_file", format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&pem);
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(err(
            "ca_file",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    lettre::transport::smtp::client::Certificate::from_pem(&pem).map_err(|e| {
        err(
            "ca_file",
            format!("{} is not a usable PEM certificate: {e}", path.display()),
        )
    })?;
    Ok(pem)
}

/// What a report covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPeriod {
    /// The day before it goes out: the morning email.
    #[default]
    Day,
    /// The last full week (by `[shop] week_start`) before it goes out: the weekly review.
    Week,
}

impl Report {
    /// The report date that covers `d`: `d` itself, or for a weekly report the last day of
    /// the last full week ending on or before it.
    pub fn date_for(&self, d: chrono::NaiveDate) -> chrono::NaiveDate {
        match self.period {
            ReportPeriod::Day => d,
            ReportPeriod::Week => crate::metrics::period::last_full_week(d, self.week_start).1,
        }
    }
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
            None => {
                // The morning email and a weekly review: the morning email is the default.
                let daily: Vec<&Report> = self
                    .reports
                    .iter()
                    .filter(|r| r.period == ReportPeriod::Day)
                    .collect();
                match (self.reports.as_slice(), daily.as_slice()) {
                    ([only], _) => Ok(only),
                    (_, [daily]) => Ok(daily),
                    ([], _) => bail!(
                        "{}: no [[reports]] configured: add one that names its teams",
                        self.origin
                    ),
                    _ => bail!(
                        "{}: several reports are configured ({}): choose one with --report",
                        self.origin,
                        names()
                    ),
                }
            }
        }
    }
}
