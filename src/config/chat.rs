//! The chat destinations' settings: `[slack]`, the bot that posts to the Slack channels
//! each `[[reports]]` entry names (`slack_channels`), and `[msteams]` with each report's
//! Teams webhook (`teams_webhook_env` / `teams_webhook_file`).

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::Secret;
use super::sections::Cx;

/// Slack's Web API, unless `endpoint` says otherwise (a proxy, a test server).
pub const SLACK_API: &str = "https://slack.com/api";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
    /// Whether the charts are uploaded and shown (default true).
    #[serde(default = "yes")]
    charts: bool,
    #[serde(default = "default_timeout")]
    timeout_secs: Spanned<f64>,
    #[serde(default = "default_retry_for")]
    retry_for_secs: Spanned<f64>,
}

fn yes() -> bool {
    true
}
fn default_timeout() -> Spanned<f64> {
    Spanned::new(0..0, 30.0)
}
fn default_retry_for() -> Spanned<f64> {
    Spanned::new(0..0, 300.0)
}

/// The Slack bot, parsed.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// The bot token (`xoxb-…`).
    pub token: Secret,
    /// The Web API's base: `https://slack.com/api` or the configured endpoint.
    pub endpoint: Url,
    pub ca_pem: Option<Vec<u8>>,
    pub charts: bool,
    /// The deadline of each request.
    pub timeout: Duration,
    /// How long a channel's transient failures (rate limits, 5xx) are retried.
    pub retry_for: Duration,
}

/// A report with Slack channels needs a `[slack]` section to post with.
pub(super) fn reports_need_slack(
    cx: &Cx<'_>,
    slack: bool,
    reports: &[Spanned<super::raw::RawReport>],
) -> Result<()> {
    if slack {
        return Ok(());
    }
    match reports
        .iter()
        .find(|r| !r.get_ref().slack_channels.is_empty())
    {
        None => Ok(()),
        Some(r) => Err(cx.at(
            r.span(),
            &format!(
                "reports[{:?}].slack_channels",
                super::sections::excerpt(&r.get_ref().name)
            ),
            "Slack channels need a [slack] section with the bot's token (token_env or \
             token_file)",
        )),
    }
}

pub(super) fn slack(cx: &Cx<'_>, raw: Option<Spanned<RawSlack>>) -> Result<Option<SlackSettings>> {
    let Some(s) = raw else { return Ok(None) };
    let span = s.span();
    let s = s.into_inner();
    let err = |key: &str, msg: String| cx.at(span.clone(), &format!("slack.{key}"), msg);
    let token = cx
        .secret_named(
            "token",
            s.token_env.as_deref().map(|v| (v, span.clone())),
            s.token_file.as_deref().map(|f| (f, span.clone())),
            "slack",
        )?
        .ok_or_else(|| {
            err(
                "token_env",
                "give token_env or token_file: the bot's token".into(),
            )
        })?;
    let endpoint = match &s.endpoint {
        Some(text) => super::sources::https_url(cx, text, span.clone(), "slack.endpoint")?,
        None => Url::parse(SLACK_API).map_err(|e| err("endpoint", e.to_string()))?,
    };
    let ca_pem = match &s.ca_file {
        Some(f) => Some(super::sending::ca_file(cx, f, &err)?),
        None => None,
    };
    Ok(Some(SlackSettings {
        token,
        endpoint,
        ca_pem,
        charts: s.charts,
        timeout: super::sections::seconds(cx, &s.timeout_secs, 0.01..=600.0, "slack.timeout_secs")?,
        retry_for: super::sections::seconds(
            cx,
            &s.retry_for_secs,
            0.0..=86_400.0,
            "slack.retry_for_secs",
        )?,
    }))
}

/// Whether `text` is a Slack conversation id: `C`, `G` or `D` and 8 to 11 more capitals or
/// digits.
pub fn is_slack_channel_id(text: &str) -> bool {
    (9..=12).contains(&text.len())
        && text.starts_with(['C', 'G', 'D'])
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack conversation id as a report names it: `C0123ABC` (a channel), `G…` (a private
/// one) or `D…` (a direct message); a name (`#ops`) is refused, since the API wants ids.
pub(super) fn slack_channel(
    cx: &Cx<'_>,
    text: &str,
    span: Range<usize>,
    key: &str,
) -> Result<String> {
    let ok = (9..=12).contains(&text.len())
        && text.starts_with(['C', 'G', 'D'])
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !ok {
        return Err(cx.at(
            span,
            key,
            format!(
                "{:?} is not a Slack channel id: give the id (C0123ABC45, from the channel's \
                 details), not its name",
                super::sections::excerpt(text)
            ),
        ));
    }
    Ok(text.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMsTeams {
    ca_file: Option<PathBuf>,
    #[serde(default = "default_timeout")]
    timeout_secs: Spanned<f64>,
    #[serde(default = "default_retry_for")]
    retry_for_secs: Spanned<f64>,
}

/// How reports reach Microsoft Teams: each report's Workflows webhook is its own secret
/// (`teams_webhook_env` or `teams_webhook_file` on `[[reports]]`); this is what they share.
#[derive(Debug, Clone)]
pub struct MsTeamsSettings {
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    pub retry_for: Duration,
}

impl Default for MsTeamsSettings {
    fn default() -> MsTeamsSettings {
        MsTeamsSettings {
            ca_pem: None,
            timeout: Duration::from_secs(30),
            retry_for: Duration::from_secs(300),
        }
    }
}

pub(super) fn msteams(cx: &Cx<'_>, raw: Option<Spanned<RawMsTeams>>) -> Result<MsTeamsSettings> {
    let Some(s) = raw else {
        return Ok(MsTeamsSettings::default());
    };
    let span = s.span();
    let s = s.into_inner();
    let err = |key: &str, msg: String| cx.at(span.clone(), &format!("msteams.{key}"), msg);
    Ok(MsTeamsSettings {
        ca_pem: match &s.ca_file {
            Some(f) => Some(super::sending::ca_file(cx, f, &err)?),
            None => None,
        },
        timeout: super::sections::seconds(
            cx,
            &s.timeout_secs,
            0.01..=600.0,
            "msteams.timeout_secs",
        )?,
        retry_for: super::sections::seconds(
            cx,
            &s.retry_for_secs,
            0.0..=86_400.0,
            "msteams.retry_for_secs",
        )?,
    })
}

/// A report's Teams webhook, checked: an https URL, and not an Office 365 connector's
/// (retired by Microsoft). The URL is a secret: no message repeats it.
pub(super) fn teams_webhook(
    cx: &Cx<'_>,
    url: Secret,
    span: Range<usize>,
    key: &str,
) -> Result<Secret> {
    let parsed = Url::parse(url.expose().trim())
        .map_err(|e| cx.at(span.clone(), key, format!("the webhook is not a URL: {e}")))?;
    let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
    if host == "webhook.office.com"
        || host.ends_with(".webhook.office.com")
        || host == "outlook.office.com"
    {
        return Err(cx.at(
            span,
            key,
            "an Office 365 connector webhook: Microsoft retired those. In Teams, add the \
             Workflows app's \"Post to a channel when a webhook request is received\" to the \
             channel and give the URL it makes",
        ));
    }
    if parsed.scheme() != "https" {
        return Err(cx.at(span, key, "the webhook must be an https:// URL"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{MINIMAL, parse};

    #[test]
    fn slack_channels_are_ids_and_need_a_bot() {
        let report = |channels: &str| {
            format!(
                "{MINIMAL}\n[[teams]]\nname = \"a\"\nmembers = [{{ name = \"Al\", email = \"al@x.example\" }}]\n\
                 [[reports]]\nname = \"r\"\nfrom = \"r@x.example\"\nowner = \"r@x.example\"\nteams = [\"a\"]\n\
                 slack_channels = {channels}\n"
            )
        };
        let err = format!("{:#}", parse(&report("[\"C0123ABC45\"]")).unwrap_err());
        assert!(
            err.starts_with("test.toml:") && err.contains("`reports[\"r\"].slack_channels`"),
            "{err}"
        );
        assert!(err.contains("need a [slack] section"), "{err}");
        let slack = "\n[slack]\ntoken_file = \"/no/such/token\"\n";
        let err = format!("{:#}", parse(&(report("[\"#ops\"]") + slack)).unwrap_err());
        assert!(err.contains("\"#ops\" is not a Slack channel id"), "{err}");
        // The token file is read at parse time; a missing one is named, never its content.
        let err = format!(
            "{:#}",
            parse(&(report("[\"C0123ABC45\"]") + slack)).unwrap_err()
        );
        assert!(
            err.contains("`slack.token_file`") && err.contains("/no/such/token"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(&(report("[]") + "\n[slack]\nendpoint = \"https://proxy.example/api\"\n"))
                .unwrap_err()
        );
        assert!(err.contains("give token_env or token_file"), "{err}");
        let err = format!(
            "{:#}",
            parse(&(report("[]") + "\n[slack]\ntoken_file = \"t\"\nchannel = \"C1\"\n"))
                .unwrap_err()
        );
        assert!(err.contains("unknown field `channel`"), "{err}");
    }

    #[test]
    fn a_teams_webhook_is_a_workflows_url_and_never_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let with = |url: &str| {
            let f = dir.path().join("hook");
            std::fs::write(&f, url).unwrap();
            format!(
                "{MINIMAL}\n[[teams]]\nname = \"a\"\nmembers = [{{ name = \"Al\", email = \"al@x.example\" }}]\n\
                 [[reports]]\nname = \"r\"\nfrom = \"r@x.example\"\nowner = \"r@x.example\"\nteams = [\"a\"]\n\
                 teams_webhook_file = \"{}\"\n",
                f.display()
            )
        };
        let retired =
            "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y?sig=zz";
        let err = format!("{:#}", parse(&with(retired)).unwrap_err());
        assert!(err.contains("`reports[\"r\"].teams_webhook`"), "{err}");
        assert!(
            err.contains("Office 365 connector") && err.contains("Workflows"),
            "{err}"
        );
        assert!(!err.contains("sig=zz") && !err.contains("contoso"), "{err}");
        let err = format!(
            "{:#}",
            parse(&with("http://flows.example/x?sig=zz")).unwrap_err()
        );
        assert!(err.contains("https://") && !err.contains("sig=zz"), "{err}");
        let ok = "https://prod-1.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=zz";
        let c = parse(&with(ok)).unwrap();
        let hook = c.reports[0].teams_webhook.as_ref().unwrap();
        assert_eq!(hook.expose(), ok);
        assert!(!format!("{:?}", c.reports[0]).contains("sig=zz"));
    }
}
