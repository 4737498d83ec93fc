//! Progress on long work (an import, a sync, the demo): a bar with an ETA on a terminal,
//! a log line every few seconds where nobody watches a terminal (`serve`, `--log-format
//! json`, a pipe), or nothing. The caller at the edge picks the [`Style`]; the work only
//! says how far it is.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A bar on standard error.
    Bar,
    /// A log line every [`LOG_EVERY`].
    Log,
    #[default]
    Hidden,
}

/// What the work counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Rows,
    Orders,
    Days,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Rows => "rows",
            Unit::Orders => "orders",
            Unit::Days => "days",
        }
    }
}

/// How often a log line is written.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// One piece of work's progress; cheap to clone, and a no-op when hidden.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    what: String,
    unit: Unit,
    total: Option<u64>,
    started: Instant,
    shown: Shown,
}

#[derive(Debug)]
enum Shown {
    Bar(indicatif::ProgressBar),
    Log(Mutex<Instant>),
}

impl Progress {
    /// Starts showing `what`, out of `total` when known.
    pub fn start(style: Style, what: &str, total: Option<u64>, unit: Unit) -> Progress {
        let shown = match style {
            Style::Hidden => return Progress::default(),
            Style::Log => Shown::Log(Mutex::new(Instant::now())),
            Style::Bar => Shown::Bar(bar(what, total, unit)),
        };
        Progress {
            inner: Some(Arc::new(Inner {
                what: crate::text::cap(what, 80),
                unit,
                total,
                started: Instant::now(),
                shown,
            })),
        }
    }

    /// The work has done `done` of its units.
    pub fn set(&self, done: u64) {
        let Some(inner) = &self.inner else { return };
        match &inner.shown {
            Shown::Bar(b) => b.set_position(done),
            Shown::Log(last) => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    inner.log(done);
                }
            }
        }
    }

    /// The work is over (done or not): the bar is cleared.
    pub fn finish(&self) {
        if let Some(Inner {
            shown: Shown::Bar(b),
            ..
        }) = self.inner.as_deref()
        {
            b.finish_and_clear();
        }
    }
}

impl Inner {
    fn log(&self, done: u64) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = self
            .total
            .filter(|_| rate > 0.0)
            .map(|t| (t.saturating_sub(done) as f64 / rate).round() as u64);
        tracing::info!(
            work = %self.what,
            done,
            total = self.total,
            unit = self.unit.name(),
            per_second = rate.round() as u64,
            eta_secs = eta,
            "in progress"
        );
    }
}

fn bar(what: &str, total: Option<u64>, unit: Unit) -> indicatif::ProgressBar {
    let (count, rate) = match unit {
        Unit::Bytes => ("{bytes}/{total_bytes}", "{bytes_per_sec}"),
        _ => ("{human_pos}/{human_len}", "{per_sec}"),
    };
    let template = match total {
        Some(_) => format!("{{msg}} [{{bar:30}}] {count} {rate} ETA {{eta}}"),
        None => format!(
            "{{msg}} {{spinner}} {} {} {rate}",
            count.split('/').next().unwrap_or(count),
            unit.name()
        ),
    };
    let style = indicatif::ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let b = match total {
        Some(t) => indicatif::ProgressBar::new(t),
        None => indicatif::ProgressBar::new_spinner(),
    };
    b.set_style(style);
    b.set_message(crate::text::cap(what, 40));
    b.enable_steady_tick(Duration::from_millis(200));
    b
}
