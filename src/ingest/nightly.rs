//! Nightly exports: `serve` picks up new or changed files from the `[[imports]]` folders
//! before each report's data check, each file all or nothing, none twice.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days};
use chrono_tz::Tz;

use super::{Format, ImportOptions, import_file};
use crate::config::{Config, NightlyImport};
use crate::store::{Store, TrackedFile};

/// The most files one `[[imports]]` entry picks up in a run; the rest wait for the next.
const MAX_FILES: usize = 1_000;

/// What a pick-up did: one line per file imported, and per file refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PickUp {
    pub imported: Vec<String>,
    /// `path: reason`, for the log and the owner's summary.
    pub failed: Vec<String>,
}

/// One `[[imports]]` entry as `check` shows it: its folder and pattern, its format, how
/// many files match, and how many of them are new or changed (the next run imports those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub entry: String,
    pub format: String,
    pub files: usize,
    pub pending: usize,
    /// Problems listing the folder or reading a file.
    pub problems: Vec<String>,
}

/// What `serve` would pick up, without importing anything.
pub async fn survey(store: &Store, config: &Config) -> Vec<Survey> {
    let mut out = Vec::new();
    for entry in &config.imports {
        let mut pick = PickUp::default();
        let files = candidates(entry, &mut pick);
        let mut pending = 0;
        for path in &files {
            let shown = path.display().to_string();
            match (fingerprint(path), store.tracked_file(&shown).await) {
                (Ok((size, hash)), Ok(Some((s, h)))) if s == size && h == hash => {}
                (Ok(_), Ok(_)) => pending += 1,
                (Err(e), _) => pick.failed.push(format!("{shown}: cannot read it: {e}")),
                (_, Err(e)) => pick.failed.push(format!("{shown}: {e:#}")),
            }
        }
        out.push(Survey {
            entry: entry.dir.join(&entry.pattern).display().to_string(),
            format: entry
                .format
                .clone()
                .unwrap_or_else(|| "told by the header".into()),
            files: files.len(),
            pending,
            problems: pick.failed,
        });
    }
    out
}

/// Imports every file of the config's `[[imports]]` that is new or has changed since it
/// was last seen (by size and hash). A file that fails is left in place and recorded, so
/// it is not tried again until it changes.
pub async fn pick_up(store: &Store, config: &Config, now: DateTime<Tz>) -> PickUp {
    let mut out = PickUp::default();
    let yesterday = now.date_naive() - Days::new(1);
    let opts = ImportOptions::from_config(config, yesterday, false);
    for entry in &config.imports {
        if entry.after.is_some_and(|t| now.time() < t) {
            continue;
        }
        for path in candidates(entry, &mut out) {
            pick_up_one(store, entry, &path, &opts, now.timestamp(), &mut out).await;
        }
    }
    out
}

async fn pick_up_one(
    store: &Store,
    entry: &NightlyImport,
    path: &Path,
    opts: &ImportOptions,
    at: i64,
    out: &mut PickUp,
) {
    let shown = path.display().to_string();
    let (size, hash) = match fingerprint(path) {
        Ok(f) => f,
        Err(e) => {
            out.failed.push(format!("{shown}: cannot read it: {e}"));
            return;
        }
    };
    match store.tracked_file(&shown).await {
        Ok(Some((s, h))) if s == size && h == hash => return,
        Ok(_) => {}
        Err(e) => {
            out.failed.push(format!("{shown}: {e:#}"));
            return;
        }
    }
    let format = entry.format.as_deref().map(Format::from_name).transpose();
    let result = match format {
        Ok(f) => import_file(store, f, path, opts).await,
        Err(e) => Err(e),
    };
    let (ok, detail) = match &result {
        Ok(s) => {
            let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
            (
                true,
                format!("{} rows ({}): {}", s.rows, s.format, tables.join(", ")),
            )
        }
        Err(e) => (false, format!("{e:#}")),
    };
    let tracked = TrackedFile {
        path: &shown,
        size,
        hash: &hash,
        ok,
        detail: &detail,
        at,
    };
    if let Err(e) = store.track_file(&tracked).await {
        tracing::error!(file = %shown, error = %format!("{e:#}"), "cannot record a picked-up file");
    }
    if ok {
        tracing::info!(file = %shown, %detail, "imported");
        out.imported.push(format!("{shown}: {detail}"));
    } else {
        tracing::error!(file = %shown, error = %detail, "import failed; the file is left in place");
        out.failed.push(format!("{shown}: {detail}"));
    }
}

/// The entry's files, by name, at most [`MAX_FILES`].
fn candidates(entry: &NightlyImport, out: &mut PickUp) -> Vec<PathBuf> {
    let dir = match std::fs::read_dir(&entry.dir) {
        Ok(d) => d,
        // A folder not made yet is a night without exports, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            out.failed.push(format!(
                "{}: cannot list the folder: {e}",
                entry.dir.display()
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = dir
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard(&entry.pattern, n))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    if files.len() > MAX_FILES {
        tracing::warn!(folder = %entry.dir.display(), files = files.len(), "more files than one run takes; the rest wait");
        files.truncate(MAX_FILES);
    }
    files
}

/// A file's size and a 64-bit FNV-1a hash of its bytes, read once.
fn fingerprint(path: &Path) -> std::io::Result<(i64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut size, mut h) = (0i64, 0xcbf2_9ce4_8422_2325u64);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as i64;
        for b in &buf[..n] {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok((size, format!("{h:016x}")))
}

/// `*` matches any run of characters, `?` any one; everything else itself.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and where in the name it started matching.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn file_name_patterns() {
        assert!(wildcard("orders_*.csv", "orders_2026-11-30.csv"));
        assert!(wildcard("orders_*.csv", "orders_.csv"));
        assert!(!wildcard("orders_*.csv", "orders_1.csv.tmp"));
        assert!(wildcard("*", "anything"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("*_*_x.csv", "a_b_c_x.csv"));
        assert!(!wildcard("*.csv", "orders.CSV"));
    }
}
