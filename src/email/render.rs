//! Rendering: the digest through the templates into a subject, an HTML body and a text body.
//!
//! The templates in templates/ are embedded in the binary; a directory named in the config
//! may override any of them. Undefined variables are errors, HTML is escaped, and the
//! stylesheet is moved into style attributes by a CSS inliner (many clients drop `<style>`).
//!
//! A template is code the shop may write, so every render is bounded: the file's size when
//! it is loaded, the work of one render (minijinja's fuel, which also pays for every byte
//! written), the bytes written, the nesting of includes and macros, the work of inlining
//! its styles, and what comes out (the subject's length, the HTML's size against Gmail's
//! clip). Each refusal names the template.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

use crate::config::MAX_SUBJECT;
use crate::digest::{ChartView, Digest};

const TEMPLATES: [(&str, &str); 5] = [
    (
        "digest.html.j2",
        include_str!("../../templates/digest.html.j2"),
    ),
    (
        "digest.txt.j2",
        include_str!("../../templates/digest.txt.j2"),
    ),
    (
        "subject.txt.j2",
        include_str!("../../templates/subject.txt.j2"),
    ),
    // The weekly review's body, which the two above include for a weekly report.
    (
        "weekly.html.j2",
        include_str!("../../templates/weekly.html.j2"),
    ),
    (
        "weekly.txt.j2",
        include_str!("../../templates/weekly.txt.j2"),
    ),
];

/// The largest template file read: the built-in HTML template is 16 KB.
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// The fuel one render of one template may burn (an instruction is 1, 64 bytes written or
/// made are 1), so also at most 32 MB of data. On the demo digest the built-in templates
/// burn 20 (subject), 3,693 (HTML) and 7,553 (text) (`DAWNPOST_LOG=debug dawnpost preview`
/// logs each render's; `check` prints the most). Fuel grows with what is written, which the clip
/// holds: 40 times the largest leaves room for any digest that fits, and stops
/// `{% for a in range(100000) %}{% for b in range(100000) %}` in a fraction of a second.
pub const FUEL: u64 = 500_000;

/// The most bytes one render may write, and inlining may make of the HTML: ten times the
/// clip, so that the checks below see what was meant, while memory stays bounded.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// Gmail clips a message whose HTML is over about 102 KB, hiding the rest behind a link;
/// dawnpost refuses to send one of a user's templates rather than have its end unread.
/// The built-in template keeps its styles in one shared sheet to stay under 90 KB at the
/// program's caps (tests/it/glance.rs builds such a shop).
pub const GMAIL_CLIP_BYTES: usize = 102_000;

/// The nesting of includes, macros and blocks a render may reach; an include counts 10, a
/// macro call more, and the built-in templates use neither. At minijinja's default of 500 a
/// template that includes itself needed between 1 and 2 MiB of stack in a debug build
/// (a tokio worker has 2 MiB) before it was stopped; at 100 it needs under 512 KiB.
const RECURSION_LIMIT: usize = 100;

/// The most style declarations a template's inlined stylesheets may hold (colons in their
/// `<style>` text: 48 in the built-in one; a sheet marked `data-css-inline="ignore"` is
/// kept as it is and not counted), and the most declaration-tag pairs the inliner may weigh
/// (55,344 on the demo digest): inlining matches every rule
/// against every element, and an element's properties are searched one by one, so a sheet
/// of many properties on a page of many elements could run for hours. At these bounds the
/// worst (999 custom properties on `*`, 995 elements) took 3.2 s and 82 MB in a debug build.
const MAX_DECLARATIONS: usize = 1_000;
const MAX_STYLE_WORK: usize = 2_000_000;

/// The three templates, ready to render.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Each template's name as errors show it: the override's path, or "(built in)".
    origins: BTreeMap<&'static str, String>,
    /// Whether any template is the user's own. An email of the built-in templates past
    /// Gmail's clip still goes out, with a warning: the shop cannot shorten our template,
    /// and its top, which Gmail shows, is what matters most. A user's template past the clip
    /// is theirs to fix, and an error.
    custom: bool,
}

/// A rendered digest: what a message is made of.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Each chart's view and PNG bytes; the HTML refers to them as `cid:` URLs.
    pub images: Vec<(ChartView, Vec<u8>)>,
    /// The fuel each template burned, by name: how close a render came to [`FUEL`].
    pub fuel: BTreeMap<&'static str, u64>,
}

impl Templates {
    /// The embedded templates, with any found in `overrides` used instead.
    pub fn load(overrides: Option<&Path>) -> Result<Templates> {
        let mut env = environment()?;
        let mut origins = BTreeMap::new();
        for (name, embedded) in TEMPLATES {
            let (source, origin) = match overrides.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => (read_template(&path)?, path.display().to_string()),
                None => (embedded.to_string(), format!("{name} (built in)")),
            };
            env.add_template_owned(name, source)
                .map_err(|e| template_error(&origin, &e))?;
            origins.insert(name, origin);
        }
        let custom = origins.values().any(|o| !o.ends_with("(built in)"));
        Ok(Templates {
            env,
            origins,
            custom,
        })
    }

    fn origin<'a>(&'a self, name: &'a str) -> &'a str {
        self.origins.get(name).map_or(name, String::as_str)
    }

    /// One template's output and the fuel it burned.
    fn render(&self, name: &'static str, ctx: &Value) -> Result<(String, u64)> {
        let origin = self.origin(name);
        let template = self
            .env
            .get_template(name)
            .map_err(|e| template_error(origin, &e))?;
        let mut out = Bounded::new(MAX_OUTPUT_BYTES);
        let fuel = match template.render_captured_to(ctx.clone(), &mut out) {
            Ok(captured) => captured.state().fuel_levels().map_or(0, |(used, _)| used),
            Err(_) if out.over => bail!(
                "template {origin}: writes more than {} KiB",
                MAX_OUTPUT_BYTES >> 10
            ),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => bail!(
                "template {origin}: stopped after {FUEL} fuel, the most one render may use \
                 (a loop over too much, or one without end): {e:#}"
            ),
            Err(e) => return Err(template_error(origin, &e)),
        };
        let text = String::from_utf8(out.buf)
            .map_err(|_| anyhow!("template {origin}: wrote text that is not UTF-8"))?;
        tracing::debug!(template = name, fuel, bytes = text.len(), "rendered");
        Ok((text, fuel))
    }

    /// Renders a digest and its drawn charts.
    pub fn render_digest(
        &self,
        digest: &Digest,
        images: Vec<(ChartView, Vec<u8>)>,
    ) -> Result<Rendered> {
        let ctx = Value::from(minijinja::value::Serde(digest));
        let mut fuel = BTreeMap::new();
        let (subject, used) = self.render("subject.txt.j2", &ctx)?;
        fuel.insert("subject.txt.j2", used);
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let chars = subject.chars().count();
        if chars > MAX_SUBJECT {
            bail!(
                "template {}: the subject is {chars} characters long; at most {MAX_SUBJECT} \
                 are allowed",
                self.origin("subject.txt.j2")
            );
        }
        let (html, used) = self.render("digest.html.j2", &ctx)?;
        fuel.insert("digest.html.j2", used);
        let html = self.inline(&html)?;
        let (text, used) = self.render("digest.txt.j2", &ctx)?;
        fuel.insert("digest.txt.j2", used);
        Ok(Rendered {
            subject,
            html,
            text,
            images,
            fuel,
        })
    }

    /// The HTML with its styles inlined and its indentation gone, within Gmail's clip.
    fn inline(&self, html: &str) -> Result<String> {
        let origin = self.origin("digest.html.j2");
        let styles = style_text(html);
        let elements = html.matches('<').count();
        // Inlining removes the stylesheet and adds to every element it styles: a page past
        // the clip without its stylesheet is past it after, and is not inlined at all.
        let page = trimmed_len(html) - styles.iter().map(|s| trimmed_len(s)).sum::<usize>();
        tracing::debug!(
            page,
            elements,
            styles = styles.len(),
            "HTML before inlining"
        );
        if page > GMAIL_CLIP_BYTES && (self.custom || page > MAX_OUTPUT_BYTES) {
            bail!(
                "template {origin}: the HTML is {page} bytes before its styles are inlined, \
                 over the {GMAIL_CLIP_BYTES} at which Gmail clips a message and hides its end"
            );
        }
        let declarations: usize = styles.iter().map(|s| s.matches(':').count()).sum();
        tracing::debug!(
            declarations,
            pairs = declarations * elements,
            "styles to inline"
        );
        if declarations > MAX_DECLARATIONS || declarations * elements > MAX_STYLE_WORK {
            bail!(
                "template {origin}: {declarations} style declarations over {elements} \
                 elements are more than the CSS inliner is given (at most \
                 {MAX_DECLARATIONS} declarations, {MAX_STYLE_WORK} pairs)"
            );
        }
        let mut out = Bounded::new(MAX_OUTPUT_BYTES);
        // A `<style data-css-inline="ignore">` stays as it is, for the clients that keep a
        // stylesheet; what was inlined leaves the other sheets, which are then dropped.
        let inliner = css_inline::CSSInliner::options()
            .keep_style_tags(true)
            .remove_inlined_selectors(true)
            .build();
        if let Err(e) = inliner.inline_to(html, &mut out) {
            if out.over {
                bail!(
                    "template {origin}: the HTML grows past {} KiB when its styles are inlined",
                    MAX_OUTPUT_BYTES >> 10
                );
            }
            return Err(e).with_context(|| format!("template {origin}: cannot inline its CSS"));
        }
        let html = String::from_utf8_lossy(&out.buf);
        // Indentation is for template authors, not worth bytes under Gmail's clip.
        let html: String = html
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if html.len() > GMAIL_CLIP_BYTES {
            let why = format!(
                "template {origin}: the HTML is {} bytes, over the {GMAIL_CLIP_BYTES} at which \
                 Gmail clips a message and hides its end",
                html.len()
            );
            if self.custom {
                bail!("{why}");
            }
            tracing::warn!("{why}; it goes out clipped (fewer metrics would keep it whole)");
        }
        Ok(html)
    }
}

/// The environment every template renders in: strict, with its layout filters and bounds.
fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    // Block tags on their own lines leave no blank lines behind in the text part.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| anyhow!("template syntax: {e}"))?,
    );
    // Layout for the plain-text part: wrapping and columns, no figures. Widths are bounded
    // by the line, so no filter can be asked for a gigabyte of spaces.
    env.add_filter(
        "wrap",
        |s: String, first: Option<usize>, rest: Option<usize>| {
            let first = width("wrap", first.unwrap_or(0))?;
            let rest = width("wrap", rest.unwrap_or(first))?;
            Ok(crate::text::wrap(&s, first, rest))
        },
    );
    env.add_filter("ljust", |s: String, w: usize| {
        Ok(crate::text::fit(&s, width("ljust", w)?, false))
    });
    env.add_filter("rjust", |s: String, w: usize| {
        Ok(crate::text::fit(&s, width("rjust", w)?, true))
    });
    Ok(env)
}

/// minijinja's words with the place in the template, and the first cause where there is one:
/// an include that failed says only that, its cause ("recursion limit exceeded") is below.
fn template_error(origin: &str, e: &minijinja::Error) -> anyhow::Error {
    let mut root: Option<&dyn std::error::Error> = None;
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        root = Some(cause);
        next = cause.source();
    }
    match root {
        Some(cause) => anyhow!("template {origin}: {e:#}\nbecause: {cause}"),
        None => anyhow!("template {origin}: {e:#}"),
    }
}

/// A filter's width or indent: at most a line of the text part.
fn width(filter: &str, w: usize) -> Result<usize, minijinja::Error> {
    if w > crate::text::TEXT_WIDTH {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "{filter}: {w} is wider than a line ({})",
                crate::text::TEXT_WIDTH
            ),
        ));
    }
    Ok(w)
}

/// An override template's text, refused past [`MAX_TEMPLATE_BYTES`] before it is read whole.
fn read_template(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read template {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEMPLATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read template {}", path.display()))?;
    if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
        bail!(
            "template {}: larger than {} KiB, which no email template needs",
            path.display(),
            MAX_TEMPLATE_BYTES >> 10
        );
    }
    String::from_utf8(bytes).with_context(|| format!("template {} is not UTF-8", path.display()))
}

/// The length of `s` without the indentation and blank lines [`Templates::inline`] drops.
fn trimmed_len(s: &str) -> usize {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.len() + 1)
        .sum()
}

/// The text of each `<style>` element of an HTML page that is to be inlined: one marked
/// `data-css-inline="ignore"` stays as it is, costs the inliner nothing and stays in the page.
fn style_text(html: &str) -> Vec<&str> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = lower[at..].find("<style").map(|i| at + i) {
        let start = lower[open..].find('>').map_or(html.len(), |i| open + i + 1);
        let end = lower[start..]
            .find("</style")
            .map_or(html.len(), |i| start + i);
        let tag = &lower[open..start];
        if !(tag.contains("data-css-inline=\"ignore\"") || tag.contains("data-css-inline='ignore'"))
        {
            out.push(&html[start..end]);
        }
        at = end;
    }
    out
}

/// Output that refuses to grow past a bound: a template cannot take memory by writing.
struct Bounded {
    buf: Vec<u8>,
    max: usize,
    over: bool,
}

impl Bounded {
    fn new(max: usize) -> Bounded {
        Bounded {
            buf: Vec::new(),
            max,
            over: false,
        }
    }
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            self.over = true;
            return Err(std::io::Error::other("past the output bound"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
