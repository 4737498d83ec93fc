//! Files `serve` picked up from the nightly folder: what the store remembers of each, so an
//! unchanged file is not imported twice and a failed one is tried again only when it changes.

use anyhow::{Context, Result};

use super::Store;

/// A file `serve` picked up, as the store remembers it.
#[derive(Debug, Clone)]
pub struct TrackedFile<'a> {
    pub path: &'a str,
    pub size: i64,
    pub hash: &'a str,
    pub ok: bool,
    /// What was imported, or why not.
    pub detail: &'a str,
    pub at: i64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
    /// A failure to try again though the file is unchanged.
    pub retry: bool,
}

/// `imported_files` as read: path, size, hash, mtime, retry, status, detail.
type SeenRow = (String, i64, String, Option<i64>, i64, String, String);

/// A picked-up file as the store last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub size: i64,
    pub hash: String,
    /// None for a file seen before modification times were kept.
    pub mtime: Option<i64>,
    pub retry: bool,
    /// Why its import failed, if it did.
    pub failed: Option<String>,
}

impl Store {
    /// Every picked-up file the store remembers, by path: how it was when last seen.
    pub async fn tracked_files(&self) -> Result<std::collections::HashMap<String, Seen>> {
        let rows: Vec<SeenRow> = sqlx::query_as(
            "SELECT path, size, hash, mtime, retry, status, detail FROM imported_files \
             ORDER BY path LIMIT 1000000",
        )
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the picked-up files of {self}"))?;
        Ok(rows
            .into_iter()
            .map(|(path, size, hash, mtime, retry, status, detail)| {
                let seen = Seen {
                    size,
                    hash,
                    mtime,
                    retry: retry != 0,
                    failed: (status == "failed").then_some(detail),
                };
                (path, seen)
            })
            .collect())
    }

    /// Files whose import failed at or after `since` (epoch seconds), as `path: reason`.
    pub async fn failed_files_since(&self, since: i64) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT path, detail FROM imported_files WHERE status = 'failed' \
             AND imported_at >= $1 ORDER BY path LIMIT 100",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("cannot read the picked-up files of {self}"))?;
        Ok(rows.into_iter().map(|(p, d)| format!("{p}: {d}")).collect())
    }

    /// Records a picked-up file: imported, or failed with the reason.
    pub async fn track_file(&self, f: &TrackedFile<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO imported_files (path, size, hash, status, detail, imported_at, mtime, retry) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (path) DO UPDATE SET \
             size = excluded.size, hash = excluded.hash, status = excluded.status, \
             detail = excluded.detail, imported_at = excluded.imported_at, \
             mtime = excluded.mtime, retry = excluded.retry",
        )
        .bind(f.path.to_string())
        .bind(f.size)
        .bind(f.hash.to_string())
        .bind(if f.ok { "imported" } else { "failed" })
        .bind(crate::text::cap(f.detail, 2_000))
        .bind(f.at)
        .bind(f.mtime)
        .bind(i64::from(f.retry))
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the picked-up file {}", f.path))?;
        Ok(())
    }
}
