//! Turning each raw TOML section into typed, validated values, one function per section.
//!
//! Every error names the file, the line and the key. Text that ends up in a mail header or a
//! display name is refused if it holds a control character: a CR or LF there would end the
//! header, and lettre then fails to format the message at send time.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::Path;
use std::time::Duration;

use anyhow::{Error, Result, anyhow, bail};
use chrono::Weekday;
use lettre::message::Mailbox;
use toml::Spanned;

use super::*;
use crate::metrics::metric::Catalog;
use crate::metrics::okr::{Cycle, KeyResult, Objective, Window};

/// Where a section's text came from: for messages and relative paths.
pub(super) struct Cx<'a> {
    pub origin: &'a str,
    pub text: &'a str,
    pub base_dir: &'a Path,
}

impl Cx<'_> {
    pub(super) fn at(&self, span: Range<usize>, key: &str, msg: impl Into<String>) -> Error {
        anyhow!("{}: {}", self.place(span, key), msg.into())
    }

    /// Where a key is written: "shop.toml:12: `imports[0].format`".
    pub(super) fn place(&self, span: Range<usize>, key: &str) -> String {
        format!(
            "{}:{}: `{key}`",
            self.origin,
            line_of(self.text, span.start)
        )
    }

    /// Refuses control characters in text bound for a header or a display name.
    pub(super) fn plain(&self, text: &str, span: Range<usize>, key: &str) -> Result<()> {
        match text.chars().find(|c| c.is_control()) {
            Some(c) => Err(self.at(
                span,
                key,
                format!(
                    "contains the control character {c:?}: names and header values must be \
                     one line of plain text"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Plain text of at most `max` characters: a name bound for the email or a header.
    pub(super) fn name(&self, text: &str, span: Range<usize>, key: &str, max: usize) -> Result<()> {
        self.plain(text, span.clone(), key)?;
        let n = text.chars().count();
        if n > max {
            return Err(self.at(
                span,
                key,
                format!(
                    "{:?} is {n} characters long; at most {max} are allowed here",
                    excerpt(text)
                ),
            ));
        }
        Ok(())
    }

    /// An address with an optional display name, each within its bound.
    pub(super) fn mailbox(&self, text: &str, span: Range<usize>, key: &str) -> Result<Mailbox> {
        self.plain(text, span.clone(), key)?;
        // Longer than the longest display name, its quotes and brackets and the longest
        // address together: not a mailbox we accept, and not handed to the parser.
        let n = text.chars().count();
        if n > MAX_NAME + MAX_ADDRESS + 5 {
            return Err(self.at(
                span,
                key,
                format!(
                    "{:?} is {n} characters long; a display name is at most {MAX_NAME} \
                     characters and an address at most {MAX_ADDRESS}",
                    excerpt(text)
                ),
            ));
        }
        let mb = text.parse::<Mailbox>().map_err(|err| {
            self.at(
                span.clone(),
                key,
                format!("{:?} is not an email address: {err}", excerpt(text)),
            )
        })?;
        if let Some(name) = &mb.name {
            self.name(
                name,
                span.clone(),
                &format!("{key} (display name)"),
                MAX_NAME,
            )?;
        }
        self.name(
            mb.email.as_ref(),
            span,
            &format!("{key} (address)"),
            MAX_ADDRESS,
        )?;
        Ok(mb)
    }

    /// A secret from `password_env` or `password_file` (at most one of them).
    pub(super) fn secret(
        &self,
        env: Option<(&str, Range<usize>)>,
        file: Option<(&Path, Range<usize>)>,
        section: &str,
    ) -> Result<Option<Secret>> {
        self.secret_named("password", env, file, section)
    }

    /// A secret from `{field}_env` or `{field}_file` (at most one of them). A file's secret
    /// is read at most [`MAX_SECRET_BYTES`] long: a secret is a line, not a file's worth.
    pub(super) fn secret_named(
        &self,
        field: &str,
        env: Option<(&str, Range<usize>)>,
        file: Option<(&Path, Range<usize>)>,
        section: &str,
    ) -> Result<Option<Secret>> {
        match (env, file) {
            (Some(_), Some((_, span))) => Err(self.at(
                span,
                &format!("{section}.{field}_file"),
                format!("give either {field}_env or {field}_file, not both"),
            )),
            (Some((var, span)), None) => {
                std::env::var(var)
                    .map(|v| Some(Secret::new(v)))
                    .map_err(|_| {
                        self.at(
                            span,
                            &format!("{section}.{field}_env"),
                            format!("environment variable {var} is not set"),
                        )
                    })
            }
            (None, Some((file, span))) => {
                let path = self.base_dir.join(file);
                let text = read_secret_file(&path).map_err(|e| {
                    self.at(
                        span,
                        &format!("{section}.{field}_file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Ok(Some(Secret::new(
                    text.trim_end_matches(['\r', '\n']).to_string(),
                )))
            }
            (None, None) => Ok(None),
        }
    }
}

/// The longest secret file read: tokens and keys are far shorter.
pub(super) const MAX_SECRET_BYTES: u64 = 64 << 10;

pub(super) fn read_secret_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(std::io::Error::other(format!(
            "longer than {} KiB: a secret is one line",
            MAX_SECRET_BYTES >> 10
        )));
    }
    Ok(text)
}

/// The first 80 characters of a value, for an error message about it.
pub(super) fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if text.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// The currencies in use today (ISO 4217, active codes).
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
    BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP \
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK \
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK \
    MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG \
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS \
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR \
    ZMW ZWG ZWL";

pub(super) fn shop(cx: &Cx<'_>, raw: RawShop, closures: Vec<Spanned<RawClosure>>) -> Result<Shop> {
    cx.name(raw.name.get_ref(), raw.name.span(), "shop.name", MAX_NAME)?;
    let code = raw.currency.get_ref().trim().to_uppercase();
    if !ISO_4217.split_whitespace().any(|c| c == code) {
        return Err(cx.at(
            raw.currency.span(),
            "shop.currency",
            format!(
                "expected an ISO 4217 currency code such as GBP, got {:?}",
                excerpt(raw.currency.get_ref())
            ),
        ));
    }
    let currency_symbol = match raw.currency_symbol {
        Some(s) => {
            cx.name(s.get_ref(), s.span(), "shop.currency_symbol", MAX_SYMBOL)?;
            s.into_inner()
        }
        None => default_symbol(&code),
    };
    let closed = match &raw.closed {
        None => None,
        Some(days) => Some(
            days.iter()
                .map(|w| weekday(cx, w, "shop.closed"))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let closures = self::closures(cx, closures)?;
    let week_start = match raw.week_start.get_ref().to_lowercase().as_str() {
        "monday" => Weekday::Mon,
        "sunday" => Weekday::Sun,
        "saturday" => Weekday::Sat,
        other => {
            return Err(cx.at(
                raw.week_start.span(),
                "shop.week_start",
                format!(
                    "expected monday, sunday or saturday, got {:?}",
                    excerpt(other)
                ),
            ));
        }
    };
    Ok(Shop {
        name: raw.name.into_inner(),
        timezone: raw.timezone,
        currency: code,
        currency_symbol,
        week_start,
        closed,
        closures,
    })
}

pub(super) fn store(cx: &Cx<'_>, raw: &RawStore) -> Result<StoreConfig> {
    let url = StoreUrl::parse(raw.url.get_ref(), cx.base_dir)
        .map_err(|e| cx.at(raw.url.span(), "store.url", e.to_string()))?;
    let password = cx.secret(
        raw.password_env
            .as_ref()
            .map(|v| (v.get_ref().as_str(), v.span())),
        raw.password_file
            .as_ref()
            .map(|f| (f.get_ref().as_path(), f.span())),
        "store",
    )?;
    if password.is_some() && matches!(url, StoreUrl::Sqlite(_)) {
        return Err(cx.at(
            raw.url.span(),
            "store.url",
            "a SQLite store takes no password",
        ));
    }
    let timeout = *raw.query_timeout_secs.get_ref();
    if !(0.01..=3600.0).contains(&timeout) {
        return Err(cx.at(
            raw.query_timeout_secs.span(),
            "store.query_timeout_secs",
            format!("expected 0.01 to 3600 seconds, got {timeout}"),
        ));
    }
    Ok(StoreConfig {
        url,
        password,
        connect_timeout: Duration::from_secs(raw.connect_timeout_secs.clamp(1, 600)),
        query_timeout: Duration::from_secs_f64(timeout),
    })
}

pub(super) fn demo(cx: &Cx<'_>, raw: Option<RawDemo>) -> Result<Option<DemoSettings>> {
    let Some(d) = raw else { return Ok(None) };
    if !(60..=5000).contains(d.days.get_ref()) {
        return Err(cx.at(d.days.span(), "demo.days", "must be between 60 and 5000"));
    }
    let scale = *d.scale.get_ref();
    if !(0.01..=1000.0).contains(&scale) {
        return Err(cx.at(
            d.scale.span(),
            "demo.scale",
            "must be between 0.01 and 1000",
        ));
    }
    let shop = match &d.shop {
        None => DemoShop::default(),
        Some(s) => s
            .get_ref()
            .parse()
            .map_err(|m: String| cx.at(s.span(), "demo.shop", m))?,
    };
    Ok(Some(DemoSettings {
        seed: d.seed,
        days: *d.days.get_ref(),
        scale,
        shop,
    }))
}

pub(super) fn format(cx: &Cx<'_>, raw: Spanned<RawFormat>) -> Result<NumberFormat> {
    let span = raw.span();
    let raw = raw.into_inner();
    let defaults = NumberFormat::default();
    let f = NumberFormat {
        thousands_separator: raw
            .thousands_separator
            .unwrap_or(defaults.thousands_separator),
        decimal_separator: raw.decimal_separator.unwrap_or(defaults.decimal_separator),
        percent_decimals: decimals(
            cx,
            raw.percent_decimals,
            defaults.percent_decimals,
            MAX_PERCENT_DECIMALS,
            "format.percent_decimals",
        )?,
        money_decimals: decimals(
            cx,
            raw.money_decimals,
            defaults.money_decimals,
            MAX_MONEY_DECIMALS,
            "format.money_decimals",
        )?,
    };
    for (key, sep) in [
        ("format.thousands_separator", &f.thousands_separator),
        ("format.decimal_separator", &f.decimal_separator),
    ] {
        cx.plain(sep, span.clone(), key)?;
        if sep.chars().count() > 3 || sep.chars().any(|c| c.is_ascii_digit()) {
            return Err(cx.at(
                span,
                key,
                format!("{sep:?} is not a separator: up to 3 characters, no digits"),
            ));
        }
    }
    if f.thousands_separator == f.decimal_separator {
        return Err(cx.at(
            span,
            "format.decimal_separator",
            format!(
                "equals the thousands separator ({:?}): numbers would be ambiguous",
                f.decimal_separator
            ),
        ));
    }
    if f.decimal_separator.is_empty() {
        return Err(cx.at(span, "format.decimal_separator", "must not be empty"));
    }
    Ok(f)
}

/// A number of decimals up to `max`: a larger one is refused, not quietly lowered, so the
/// email shows what the config says.
fn decimals(
    cx: &Cx<'_>,
    raw: Option<Spanned<usize>>,
    default: usize,
    max: usize,
    key: &str,
) -> Result<usize> {
    match raw {
        None => Ok(default),
        Some(v) if *v.get_ref() <= max => Ok(*v.get_ref()),
        Some(v) => Err(cx.at(
            v.span(),
            key,
            format!("{} is not between 0 and {max}", v.get_ref()),
        )),
    }
}

pub(super) fn catalog(cx: &Cx<'_>, raw: Vec<Spanned<MetricDef>>) -> Result<Catalog> {
    let mut catalog = Catalog::builtin();
    for m in raw {
        let span = m.span();
        let mut def = m.into_inner();
        cx.name(&def.key, span.clone(), "metrics.key", MAX_KEY)?;
        let key = format!("metrics.{}", def.key);
        cx.name(&def.label, span.clone(), &format!("{key}.label"), MAX_LABEL)?;
        // Where a failing query is reported, it points at the line that defines it.
        def.origin = Some(format!("{}:{}", cx.origin, line_of(cx.text, span.start)));
        catalog
            .add_custom(def)
            .map_err(|e| cx.at(span, &key, e.to_string()))?;
    }
    Ok(catalog)
}

pub(super) fn objectives(
    cx: &Cx<'_>,
    raw: Vec<Spanned<RawObjective>>,
    catalog: &Catalog,
) -> Result<Vec<Objective>> {
    let mut out = Vec::new();
    for o in raw {
        let span = o.span();
        let o = o.into_inner();
        let key = format!("objectives[{:?}]", excerpt(&o.title));
        cx.name(&o.title, span.clone(), &format!("{key}.title"), MAX_NAME)?;
        cx.name(&o.owner, span.clone(), &format!("{key}.owner"), MAX_NAME)?;
        let cycle = cycle(cx, &o, span.clone(), &key)?;
        let mut key_results = Vec::new();
        for kr in o.key_results {
            key_results.push(key_result(cx, kr, catalog, &key)?);
        }
        if key_results.is_empty() {
            return Err(cx.at(
                span,
                &format!("{key}.key_results"),
                "an objective needs at least one key result",
            ));
        }
        out.push(Objective {
            title: o.title,
            owner: o.owner,
            team: o.team,
            cycle,
            key_results,
        });
    }
    Ok(out)
}

/// A weekday by its English name, in any case.
fn weekday(cx: &Cx<'_>, w: &Spanned<String>, key: &str) -> Result<Weekday> {
    w.get_ref().trim().parse::<Weekday>().map_err(|_| {
        cx.at(
            w.span(),
            key,
            format!(
                "expected a weekday such as saturday, got {:?}",
                excerpt(w.get_ref())
            ),
        )
    })
}

/// The most closures a shop may list: years of holidays.
const MAX_CLOSURES: usize = 500;

/// `[[closures]]`: each from one day to another, with the reason the email gives.
fn closures(
    cx: &Cx<'_>,
    raw: Vec<Spanned<RawClosure>>,
) -> Result<Vec<crate::metrics::calendar::Closure>> {
    if raw.len() > MAX_CLOSURES {
        return Err(cx.at(
            raw[MAX_CLOSURES].span(),
            "closures",
            format!("at most {MAX_CLOSURES} closures"),
        ));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let span = r.span();
            let r = r.into_inner();
            let key = format!("closures[{i}]");
            let at = |k: &str, m: String| cx.at(span.clone(), &format!("{key}.{k}"), m);
            let from: chrono::NaiveDate = r.from.parse().map_err(|m| at("from", m))?;
            let to: chrono::NaiveDate = r.to.parse().map_err(|m| at("to", m))?;
            if to < from {
                return Err(at(
                    "to",
                    format!("the closure ends ({to}) before it starts ({from})"),
                ));
            }
            cx.name(&r.reason, span.clone(), &format!("{key}.reason"), MAX_NAME)?;
            Ok(crate::metrics::calendar::Closure {
                from,
                to,
                reason: r.reason,
            })
        })
        .collect()
}

fn cycle(cx: &Cx<'_>, o: &RawObjective, span: Range<usize>, key: &str) -> Result<Cycle> {
    match (&o.cycle, &o.cycle_start, &o.cycle_end) {
        (Some(c), None, None) => match c.get_ref().as_str() {
            "month" => Ok(Cycle::Month),
            "quarter" => Ok(Cycle::Quarter),
            "year" => Ok(Cycle::Year),
            other => Err(cx.at(
                c.span(),
                &format!("{key}.cycle"),
                format!("expected month, quarter or year, got {:?}", excerpt(other)),
            )),
        },
        (None, Some(s), Some(e)) => {
            let start = s
                .parse()
                .map_err(|m| cx.at(span.clone(), &format!("{key}.cycle_start"), m))?;
            let end = e
                .parse()
                .map_err(|m| cx.at(span.clone(), &format!("{key}.cycle_end"), m))?;
            if end < start {
                return Err(cx.at(
                    span,
                    &format!("{key}.cycle_end"),
                    format!("the cycle ends ({end}) before it starts ({start})"),
                ));
            }
            Ok(Cycle::Fixed { start, end })
        }
        _ => Err(cx.at(
            span,
            key,
            "give either `cycle` (month, quarter, year) or both `cycle_start` and `cycle_end`",
        )),
    }
}

fn key_result(
    cx: &Cx<'_>,
    kr: Spanned<RawKeyResult>,
    catalog: &Catalog,
    objective: &str,
) -> Result<KeyResult> {
    let span = kr.span();
    let kr = kr.into_inner();
    let key = format!("{objective}.key_results[{:?}]", excerpt(&kr.metric));
    let err = |field: &str, msg: String| cx.at(span.clone(), &format!("{key}.{field}"), msg);
    if let Some(t) = &kr.title {
        cx.name(t, span.clone(), &format!("{key}.title"), MAX_NAME)?;
    }
    let Some(metric) = catalog.get(&kr.metric) else {
        return Err(err(
            "metric",
            format!("unknown metric `{}`", excerpt(&kr.metric)),
        ));
    };
    if let Some(b) = &metric.breakdown {
        return Err(err(
            "metric",
            format!(
                "`{}` is reported per {b}; a key result needs a single value",
                kr.metric
            ),
        ));
    }
    let baseline = kr.baseline.parse().map_err(|m| err("baseline", m))?;
    let target = kr.target.parse().map_err(|m| err("target", m))?;
    if baseline == target {
        return Err(err(
            "target",
            format!("equals the baseline ({baseline}): there is nothing to make progress on"),
        ));
    }
    let window = match kr.trailing_days {
        None => Window::CycleToDate,
        Some(0) => return Err(err("trailing_days", "must be at least 1".into())),
        Some(n) if n > 3660 => return Err(err("trailing_days", "must be at most 3660".into())),
        Some(n) => Window::Trailing(n),
    };
    Ok(KeyResult {
        title: kr.title.unwrap_or_default(),
        metric: kr.metric,
        window,
        baseline,
        target,
    })
}

/// `[alerts]`: each rule on a metric that exists (not a breakdown), with a finite value
/// and a plain sentence of what to do.
pub(super) fn alerts(cx: &Cx<'_>, raw: AlertSettings, catalog: &Catalog) -> Result<AlertSettings> {
    for (i, r) in raw.rules.iter().enumerate() {
        let span = r.span();
        let rule = r.get_ref();
        let key = |k: &str| format!("alerts.rules[{i}].{k}");
        match catalog.get(&rule.metric) {
            None => {
                return Err(cx.at(span, &key("metric"), format!("no metric `{}`", rule.metric)));
            }
            Some(m) if m.breakdown.is_some() => {
                return Err(cx.at(
                    span,
                    &key("metric"),
                    format!(
                        "`{}` is a breakdown; a rule needs a single figure",
                        rule.metric
                    ),
                ));
            }
            Some(_) => {}
        }
        if !rule.value.is_finite() || rule.value.abs() > 1e12 {
            return Err(cx.at(
                span,
                &key("value"),
                format!("{} is not a usable number", rule.value),
            ));
        }
        cx.name(
            &rule.action,
            span.clone(),
            &key("action"),
            crate::text::COMMENT,
        )?;
        if rule.action.trim().is_empty() {
            return Err(cx.at(span, &key("action"), "say what to do when the rule fires"));
        }
    }
    if !(5..=1_440).contains(&raw.sync_every_minutes) {
        bail!(
            "{}: `alerts.sync_every_minutes`: {} is not between 5 and 1440",
            cx.origin,
            raw.sync_every_minutes
        );
    }
    Ok(raw)
}

/// `[news]`: 4 to 52 weeks, a positive threshold, a p-value in (0, 1), and volumes of
/// metrics that exist.
pub(super) fn news(
    cx: &Cx<'_>,
    raw: Spanned<crate::metrics::news::NewsSettings>,
    catalog: &Catalog,
) -> Result<crate::metrics::news::NewsSettings> {
    let span = raw.span();
    let n = raw.into_inner();
    let at = |key: &str, msg: String| cx.at(span.clone(), &format!("news.{key}"), msg);
    if !(4..=52).contains(&n.weeks) {
        return Err(at("weeks", format!("{} is not between 4 and 52", n.weeks)));
    }
    for (key, t) in [
        ("threshold", n.threshold),
        ("breakdown_threshold", n.breakdown_threshold),
    ] {
        if !(t.is_finite() && t > 0.0) {
            return Err(at(key, format!("{t} is not a positive number")));
        }
    }
    if !(n.p_value > 0.0 && n.p_value < 1.0) {
        return Err(at(
            "p_value",
            format!("{} is not between 0 and 1", n.p_value),
        ));
    }
    for (k, v) in &n.min_volume {
        if catalog.get(k).is_none() {
            return Err(at(&format!("min_volume.{k}"), format!("no metric `{k}`")));
        }
        if !(v.is_finite() && *v >= 0.0) {
            return Err(at(
                &format!("min_volume.{k}"),
                format!("{v} is not a number of at least 0"),
            ));
        }
    }
    Ok(n)
}

/// `[outlook]`: 1 to 14 days ahead.
pub(super) fn outlook(
    cx: &Cx<'_>,
    raw: Spanned<crate::metrics::forecast::OutlookSettings>,
) -> Result<crate::metrics::forecast::OutlookSettings> {
    let span = raw.span();
    let o = raw.into_inner();
    if !(1..=crate::metrics::forecast::MAX_DAYS).contains(&o.days) {
        return Err(cx.at(
            span,
            "outlook.days",
            format!(
                "{} is not between 1 and {}",
                o.days,
                crate::metrics::forecast::MAX_DAYS
            ),
        ));
    }
    Ok(o)
}

/// `[[imports]]`: a folder and a file name pattern, a known format, and a time of day.
pub(super) fn imports(
    cx: &Cx<'_>,
    raw: Vec<Spanned<RawImport>>,
    base: &Path,
) -> Result<Vec<NightlyImport>> {
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let span = r.span();
        let r = r.into_inner();
        let at = |key: &str, msg: String| cx.at(span.clone(), &format!("imports[{i}].{key}"), msg);
        cx.plain(&r.path, span.clone(), &format!("imports[{i}].path"))?;
        let path = base.join(&r.path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                at(
                    "path",
                    "needs a file name pattern, e.g. `exports/orders_*.csv`".into(),
                )
            })?
            .to_string();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.to_string_lossy().contains(['*', '?']) {
            return Err(at("path", "only the file name may hold `*` or `?`".into()));
        }
        let after = match &r.time {
            None => None,
            Some(t) => Some(
                chrono::NaiveTime::parse_from_str(t, "%H:%M")
                    .map_err(|_| at("time", format!("{t:?} is not a time of day (HH:MM)")))?,
            ),
        };
        let settle = seconds_or(
            cx,
            &r.settle_secs,
            0.0..=600.0,
            &format!("imports[{i}].settle_secs"),
            5,
        )?;
        // The formats are ingest's to know (a new one is a line in its registry): it checks
        // the name against them when the config is loaded, and says where it was written.
        let format_at = cx.place(span.clone(), &format!("imports[{i}].format"));
        out.push(NightlyImport {
            dir,
            pattern: name,
            format: r.format,
            format_at,
            after,
            settle,
        });
    }
    Ok(out)
}

/// `[channels]`: each name and each shop channel plain text, the shop channel not empty.
pub(super) fn channels(
    cx: &Cx<'_>,
    raw: Spanned<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>> {
    let span = raw.span();
    let map = raw.into_inner();
    for (from, to) in &map {
        let key = format!("channels.{from}");
        cx.plain(from, span.clone(), &key)?;
        cx.plain(to, span.clone(), &key)?;
        if to.trim().is_empty() {
            return Err(cx.at(span, &key, "a shop channel name is required"));
        }
    }
    Ok(map)
}

pub(super) fn seconds(
    cx: &Cx<'_>,
    v: &Spanned<f64>,
    range: RangeInclusive<f64>,
    key: &str,
) -> Result<Duration> {
    let x = *v.get_ref();
    if range.contains(&x) {
        Ok(Duration::from_secs_f64(x))
    } else {
        Err(cx.at(
            v.span(),
            key,
            format!(
                "expected {} to {} seconds, got {x}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// An optional number of seconds in `range`, `default` seconds when not given.
pub(super) fn seconds_or(
    cx: &Cx<'_>,
    v: &Option<Spanned<f64>>,
    range: RangeInclusive<f64>,
    key: &str,
    default: u64,
) -> Result<Duration> {
    match v {
        Some(v) => seconds(cx, v, range, key),
        None => Ok(Duration::from_secs(default)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{MINIMAL, parse};

    #[test]
    fn live_alerts_settings_are_checked() {
        let c = parse(&format!(
            "{MINIMAL}\n[alerts]\nlive = true\nquiet_hours = \"21:00-07:00\"\n"
        ))
        .unwrap();
        assert!(c.alerts.live);
        assert_eq!(c.alerts.sync_every_minutes, 60);
        let q = c.alerts.quiet_hours.unwrap();
        assert_eq!(String::from(q), "21:00-07:00");
        let err = format!(
            "{:#}",
            parse(&format!(
                "{MINIMAL}\n[alerts]\nquiet_hours = \"25:00-07:00\"\n"
            ))
            .unwrap_err()
        );
        assert!(
            err.contains("test.toml:") && err.contains("21:00-07:00"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(&format!("{MINIMAL}\n[alerts]\nsync_every_minutes = 2\n")).unwrap_err()
        );
        assert!(
            err.contains("`alerts.sync_every_minutes`: 2 is not between 5 and 1440"),
            "{err}"
        );
    }
}
