//! Rendering: the digest through the templates into a subject, an HTML body and a text body.
//!
//! The templates in templates/ are embedded in the binary; a directory named in the config
//! may override any of them. Undefined variables are errors, HTML is escaped, and the
//! stylesheet is moved into style attributes by a CSS inliner (many clients drop `<style>`).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::digest::{ChartView, Digest};

const TEMPLATES: [(&str, &str); 3] = [
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
];

/// The three templates, ready to render.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// A rendered digest: what a message is made of.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Each chart's view and PNG bytes; the HTML refers to them as `cid:` URLs.
    pub images: Vec<(ChartView, Vec<u8>)>,
}

impl Templates {
    /// The embedded templates, with any found in `overrides` used instead.
    pub fn load(overrides: Option<&Path>) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Block tags on their own lines leave no blank lines behind in the text part.
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .map_err(|e| anyhow!("template syntax: {e}"))?,
        );
        // Layout for the plain-text part: wrapping and columns, no figures.
        env.add_filter(
            "wrap",
            |s: String, first: Option<usize>, rest: Option<usize>| {
                let first = first.unwrap_or(0);
                crate::text::wrap(&s, first, rest.unwrap_or(first))
            },
        );
        env.add_filter("ljust", |s: String, w: usize| {
            crate::text::fit(&s, w, false)
        });
        env.add_filter("rjust", |s: String, w: usize| crate::text::fit(&s, w, true));
        for (name, embedded) in TEMPLATES {
            let source = match overrides.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read template {}", path.display()))?,
                None => embedded.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| anyhow!("template {name}: {e:#}"))?;
        }
        Ok(Templates { env })
    }

    fn render(&self, name: &str, ctx: &Value) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| anyhow!("template {name}: {e:#}"))
    }

    /// Renders a digest and its drawn charts.
    pub fn render_digest(
        &self,
        digest: &Digest,
        images: Vec<(ChartView, Vec<u8>)>,
    ) -> Result<Rendered> {
        let ctx = Value::from(minijinja::value::Serde(digest));
        let subject = self
            .render("subject.txt.j2", &ctx)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let html = self.render("digest.html.j2", &ctx)?;
        let html = css_inline::inline(&html).context("cannot inline the email's CSS")?;
        // Indentation is for template authors; Gmail clips messages over about 102 KB.
        let html: String = html
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let text = self.render("digest.txt.j2", &ctx)?;
        Ok(Rendered {
            subject,
            html,
            text,
            images,
        })
    }
}
