//! Composing the morning email for one date: gather, build the digest, draw, render.
//!
//! `preview` writes the result to files; `send` delivers the same message, one rendering
//! per team lead among its recipients.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;

use crate::config::{Config, Lead, ReportPeriod};
use crate::digest::{self, Digest};
use crate::email::message;
use crate::email::render::{Rendered, Templates};
use crate::store::Store;
use crate::store::gather;

/// A composed email: the digest it shows and its rendered parts.
#[derive(Debug, Clone)]
pub struct Composed {
    pub digest: Digest,
    pub rendered: Rendered,
}

impl Composed {
    /// The copy for a team's lead: the same figures and charts, its section first.
    pub fn variant(&self, templates: &Templates, lead: Option<Lead>) -> Result<Rendered> {
        match lead {
            None => Ok(self.rendered.clone()),
            Some(_) => {
                templates.render_digest(&self.digest.with_lead(lead), self.rendered.images.clone())
            }
        }
    }
}

/// Reads the store and renders the email for report date `d`, generated at `now`.
pub async fn compose(
    store: &Store,
    config: &Config,
    templates: &Templates,
    d: NaiveDate,
    now: DateTime<Tz>,
) -> Result<Composed> {
    let inputs = gather::gather(store, config, d).await?;
    let (digest, specs) = digest::build(config, d, now, &inputs);
    let images = digest::draw_charts(&specs)?;
    let rendered = templates.render_digest(&digest, images)?;
    Ok(Composed { digest, rendered })
}

/// The email of `report` for report date `d`: the morning email, or for a weekly report
/// the review of the week ending on `d`.
pub async fn compose_for(
    store: &Store,
    config: &Config,
    templates: &Templates,
    period: ReportPeriod,
    d: NaiveDate,
    now: DateTime<Tz>,
) -> Result<Composed> {
    match period {
        ReportPeriod::Day => compose(store, config, templates, d, now).await,
        ReportPeriod::Week => compose_weekly(store, config, templates, d, now).await,
    }
}

/// The weekly review of the week ending on `last`: the week's reads, the last day's digest
/// (with the key results' windows of every week end) and each day's alerts.
pub async fn compose_weekly(
    store: &Store,
    config: &Config,
    templates: &Templates,
    last: NaiveDate,
    now: DateTime<Tz>,
) -> Result<Composed> {
    let week = crate::store::weekly::weekly(store, config, last).await?;
    let day = gather::gather_weeks(store, config, last, &week.week_ends).await?;
    let mut alerts = Vec::with_capacity(7);
    for d in week.first.iter_days().take_while(|d| *d < last) {
        let inputs = gather::gather(store, config, d).await?;
        alerts.push((d, digest::day_alerts(config, d, &inputs)));
    }
    alerts.push((last, digest::day_alerts(config, last, &day)));
    let (digest, specs) = digest::build_weekly(config, now, &day, &week, &alerts);
    let images = digest::draw_charts(&specs)?;
    let rendered = templates.render_digest(&digest, images)?;
    Ok(Composed { digest, rendered })
}

/// The files a preview wrote.
#[derive(Debug, Clone)]
pub struct PreviewFiles {
    pub html: PathBuf,
    pub text: PathBuf,
    pub eml: PathBuf,
    pub images: Vec<PathBuf>,
}

/// Writes `index.html` (with `cid:` references pointed at the chart files beside it),
/// `digest.txt`, the charts and `digest.eml`, the exact message `send` delivers.
pub fn write_preview(
    c: &Composed,
    config: &Config,
    now: DateTime<Tz>,
    out: &Path,
) -> Result<PreviewFiles> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
        let p = out.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    };
    let mut html = c.rendered.html.clone();
    let mut images = Vec::new();
    for (view, png) in &c.rendered.images {
        images.push(write(&view.file_name, png)?);
        html = html.replace(
            &format!("src=\"{}\"", view.src),
            &format!("src=\"{}\"", view.file_name),
        );
    }
    // The preview is the first report's message, list headers and all.
    let list = config.reports.first().map(|r| message::List {
        report: &r.name,
        owner: &r.owner,
    });
    let msg = message::build(
        &c.rendered,
        &config.email.from,
        list,
        &config.email.preview_to,
        c.digest.date,
        now,
    )?;
    Ok(PreviewFiles {
        html: write("index.html", html.as_bytes())?,
        text: write("digest.txt", c.rendered.text.as_bytes())?,
        eml: write("digest.eml", &msg.formatted())?,
        images,
    })
}
