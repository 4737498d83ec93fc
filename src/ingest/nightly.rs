//! Nightly exports: `serve` picks up new or changed files from the `[[imports]]` folders
//! before each report's data check, each file all or nothing, none twice.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Days};
use chrono_tz::Tz;

use super::{Format, ImportOptions, import_file};
use crate::config::{Config, NightlyImport};
use crate::store::{Seen, Store, TrackedFile};

/// The most files one `[[imports]]` entry imports in a run; the rest wait for the next.
/// Unchanged files do not count: they are skipped before the cap.
const MAX_FILES: usize = 1_000;

/// The most matching names one folder listing keeps: a bound on a folder of any size.
const MAX_LISTED: usize = 100_000;

/// What a pick-up did: one line per file imported, and per file refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PickUp {
    pub imported: Vec<String>,
    /// `path: reason`, for the log and the owner's summary.
    pub failed: Vec<String>,
    /// Files still being written (their size or time changed while looked at): the next
    /// run takes them.
    pub waiting: Vec<String>,
}

/// One `[[imports]]` entry as `check` shows it: its folder and pattern, its format, how
/// many files match, and how many of them are new, changed or to be tried again (the next
/// run imports those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub entry: String,
    pub format: String,
    pub files: usize,
    pub pending: usize,
    /// Matching files whose last import failed, as `path: reason`.
    pub failed: Vec<String>,
    /// Problems listing the folder or reading the store.
    pub problems: Vec<String>,
}

/// A file that matches an entry, as the folder shows it now.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    shown: String,
    size: i64,
    /// Nanoseconds since the epoch.
    mtime: i64,
}

/// What `serve` would pick up, without importing anything.
pub async fn survey(store: &Store, config: &Config) -> Vec<Survey> {
    let mut problems = Vec::new();
    let seen = store.tracked_files().await.unwrap_or_else(|e| {
        problems.push(format!("{e:#}"));
        HashMap::new()
    });
    let mut out = Vec::new();
    for entry in &config.imports {
        let mut problems = problems.clone();
        let found = list(entry, &mut problems);
        let failed = found
            .iter()
            .filter_map(|f| {
                let why = seen.get(&f.shown)?.failed.as_ref()?;
                Some(format!("{}: {why}", f.shown))
            })
            .collect();
        out.push(Survey {
            entry: entry.dir.join(&entry.pattern).display().to_string(),
            format: entry
                .format
                .clone()
                .unwrap_or_else(|| "told by the header".into()),
            files: found.len(),
            pending: pending(&found, &seen).len(),
            failed,
            problems,
        });
    }
    out
}

/// Imports every file of the config's `[[imports]]` that is new, has changed since it was
/// last seen (by size and time, then by hash), or failed for a reason that was not the
/// file's. A file that fails is left in place and recorded; a file still being written is
/// left for the next run. Nothing one file does (not even a bug that panics) stops the
/// others or the digest.
pub async fn pick_up(store: &Store, config: &Config, now: DateTime<Tz>) -> PickUp {
    let mut out = PickUp::default();
    let seen = match store.tracked_files().await {
        Ok(s) => s,
        Err(e) => {
            out.failed.push(format!("{e:#}"));
            return out;
        }
    };
    let yesterday = now.date_naive() - Days::new(1);
    let opts = ImportOptions::from_config(config, yesterday, false, now.timestamp());
    for entry in &config.imports {
        if entry.after.is_some_and(|t| now.time() < t) {
            continue;
        }
        let found = list(entry, &mut out.failed);
        let mut todo = pending(&found, &seen);
        if todo.len() > MAX_FILES {
            tracing::warn!(folder = %entry.dir.display(), files = todo.len(), "more new files than one run takes; the rest wait");
            todo.truncate(MAX_FILES);
        }
        let todo = settled(todo, entry.settle, &mut out).await;
        let mut again = Vec::new();
        for f in &todo {
            if pick_up_one(store, entry, f, &seen, &opts, now.timestamp(), &mut out).await {
                again.push(f);
            }
        }
        // A file refused for naming a parent that a later file of the run brought (order
        // lines before their orders) is tried once more, after all of them.
        for f in again {
            out.failed
                .retain(|line| !line.starts_with(&format!("{}: ", f.shown)));
            pick_up_one(store, entry, f, &seen, &opts, now.timestamp(), &mut out).await;
        }
    }
    out
}

/// The files to import: new, changed (size or time), or marked to be tried again.
fn pending(found: &[Found], seen: &HashMap<String, Seen>) -> Vec<Found> {
    found
        .iter()
        .filter(|f| {
            seen.get(&f.shown)
                .is_none_or(|s| s.retry || s.size != f.size || s.mtime != Some(f.mtime))
        })
        .cloned()
        .collect()
}

/// Keeps the files whose size and time hold for `settle`: a file changed more recently is
/// looked at again once it has had that long, and left for the next run if it changed.
#[allow(clippy::disallowed_methods)] // A file's age is against the file system's own clock.
async fn settled(todo: Vec<Found>, settle: Duration, out: &mut PickUp) -> Vec<Found> {
    let now = nanos(SystemTime::now());
    let settle_ns = i64::try_from(settle.as_nanos()).unwrap_or(i64::MAX);
    let newest = todo.iter().map(|f| f.mtime).max().unwrap_or(i64::MIN);
    let wait = newest.saturating_add(settle_ns).saturating_sub(now);
    if wait <= 0 {
        return todo;
    }
    tokio::time::sleep(Duration::from_nanos(wait.unsigned_abs()).min(settle)).await;
    let mut kept = Vec::new();
    for f in todo {
        match look(&f.path) {
            Some((size, mtime)) if size == f.size && mtime == f.mtime => kept.push(f),
            _ => {
                tracing::info!(file = %f.shown, "still being written; the next run takes it");
                out.waiting.push(f.shown);
            }
        }
    }
    kept
}

/// Imports one file and records it. True when it failed for a missing parent, so that it
/// is worth one more try after the rest of the run.
async fn pick_up_one(
    store: &Store,
    entry: &NightlyImport,
    f: &Found,
    seen: &HashMap<String, Seen>,
    opts: &ImportOptions,
    at: i64,
    out: &mut PickUp,
) -> bool {
    let hash = match fingerprint(&f.path) {
        Ok((_, h)) => h,
        Err(e) => {
            out.failed.push(format!("{}: cannot read it: {e}", f.shown));
            return false;
        }
    };
    let known = seen.get(&f.shown);
    let (ok, detail, retry) =
        if known.is_some_and(|s| !s.retry && s.size == f.size && s.hash == hash) {
            // Touched, not changed: only its time is new.
            let s = known.map(|s| s.failed.clone());
            match s.flatten() {
                Some(why) => (false, why, Retry::No),
                None => (true, "unchanged".to_string(), Retry::No),
            }
        } else {
            let result = isolated(store, entry, &f.path, opts).await;
            judge(&result)
        };
    let tracked = TrackedFile {
        path: &f.shown,
        size: f.size,
        hash: &hash,
        ok,
        detail: &detail,
        at,
        mtime: f.mtime,
        retry: retry != Retry::No,
    };
    if let Err(e) = store.track_file(&tracked).await {
        tracing::error!(file = %f.shown, error = %format!("{e:#}"), "cannot record a picked-up file");
    }
    if ok {
        if detail != "unchanged" {
            tracing::info!(file = %f.shown, %detail, "imported");
            out.imported.push(format!("{}: {detail}", f.shown));
        }
    } else {
        tracing::error!(file = %f.shown, error = %detail, "import failed; the file is left in place");
        out.failed.push(format!("{}: {detail}", f.shown));
    }
    retry == Retry::AfterParents
}

/// Whether a failed file is tried again though it has not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// The file is at fault: only a new version is tried.
    No,
    /// The store was busy or unreachable: the next run tries again.
    Later,
    /// A row named a parent not in the store: after the rest of this run, and later.
    AfterParents,
}

/// (imported, what was imported or why not, whether to try again).
fn judge(result: &anyhow::Result<super::ImportSummary>) -> (bool, String, Retry) {
    match result {
        Ok(s) => {
            let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
            let detail = format!("{} rows ({}): {}", s.rows, s.format, tables.join(", "));
            (true, detail, Retry::No)
        }
        Err(e) => {
            let retry = if crate::store::write::is_store_fault(e) {
                Retry::Later
            } else if crate::store::write::is_missing_parent(e) {
                Retry::AfterParents
            } else {
                Retry::No
            };
            (false, format!("{e:#}"), retry)
        }
    }
}

/// One file's import, with a panic caught: it becomes that file's failure. Its transaction
/// is rolled back as the half-done import is dropped.
async fn isolated(
    store: &Store,
    entry: &NightlyImport,
    path: &Path,
    opts: &ImportOptions,
) -> anyhow::Result<super::ImportSummary> {
    let format = entry.format.as_deref().map(Format::from_name).transpose()?;
    let result = crate::caught::caught(import_file(store, format, path, opts)).await;
    if result.is_err() {
        // A panic may have left the bulk load's larger cache set.
        store.bulk_cache(false).await;
    }
    result
}

/// The entry's files as the folder shows them now, by name, at most [`MAX_LISTED`].
fn list(entry: &NightlyImport, problems: &mut Vec<String>) -> Vec<Found> {
    let dir = match std::fs::read_dir(&entry.dir) {
        Ok(d) => d,
        // A folder not made yet is a night without exports, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(format!(
                "{}: cannot list the folder: {e}",
                entry.dir.display()
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<Found> = dir
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard(&entry.pattern, n))
        })
        .take(MAX_LISTED)
        .filter_map(|e| {
            let path = e.path();
            let (size, mtime) = look(&path)?;
            let shown = path.display().to_string();
            Some(Found {
                path,
                shown,
                size,
                mtime,
            })
        })
        .collect();
    if files.len() == MAX_LISTED {
        problems.push(format!(
            "{}: more than {MAX_LISTED} files match; only the first {MAX_LISTED} listed are looked at",
            entry.dir.display()
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// A file's size and modification time now; None if it is gone or unreadable.
fn look(path: &Path) -> Option<(i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    let size = i64::try_from(m.len()).ok()?;
    Some((size, nanos(m.modified().ok()?)))
}

/// Nanoseconds since the epoch (negative before it), saturating.
fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
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
