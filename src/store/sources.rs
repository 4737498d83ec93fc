//! Each live source's sync state: the cursor written with the rows it covers, the last
//! success and failure, and a Shopify bulk operation under way.

use super::*;

/// What the store knows of one source's syncing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    /// The latest `updated_at` the source has given (RFC 3339, UTC); None before the first
    /// successful sync.
    pub cursor: Option<String>,
    /// When the last successful sync committed (epoch seconds).
    pub synced_at: Option<i64>,
    /// The days its orders reach, as of the last successful sync.
    pub reach: Option<(String, String)>,
    /// When a sync last ended, and why it failed if it did.
    pub attempted_at: Option<i64>,
    pub failure: Option<String>,
    /// A bulk operation started and not yet read, and the day it reaches back to.
    pub bulk: Option<(String, String)>,
    /// The time zone its days follow, as it last said.
    pub zone: Option<String>,
}

/// What a successful sync commits with its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMark {
    pub source: String,
    pub cursor: Option<String>,
    pub at: i64,
    /// The time zone the source's days follow, where it says.
    pub zone: Option<String>,
}

type StateRow = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// The source's state; the default before its first sync.
    pub async fn source_state(&self, source: &str) -> Result<SourceState> {
        let row: Option<StateRow> = sqlx::query_as(
            "SELECT cursor, synced_at, reach_from, reach_to, attempted_at, failure, bulk_id, \
             bulk_since, zone FROM source_state WHERE source = $1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("cannot read source {source}'s sync state"))?;
        let Some((cursor, synced_at, from, to, attempted_at, failure, bulk_id, since, zone)) = row
        else {
            return Ok(SourceState::default());
        };
        Ok(SourceState {
            cursor,
            synced_at,
            reach: from.zip(to),
            attempted_at,
            failure,
            bulk: bulk_id.zip(since),
            zone,
        })
    }

    /// Records how a sync attempt ended outside its transaction: a failure is kept until the
    /// next success.
    pub async fn record_sync_failure(&self, source: &str, at: i64, failure: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO source_state (source, attempted_at, failure) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET attempted_at = excluded.attempted_at, \
             failure = excluded.failure",
        )
        .bind(source)
        .bind(at)
        .bind(failure)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record source {source}'s failed sync"))?;
        Ok(())
    }

    /// The sources whose latest sync, ended since `since` (epoch seconds), failed: "source
    /// NAME: why", for the owner's summary.
    pub async fn failed_syncs_since(&self, since: i64) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT source, failure FROM source_state WHERE failure IS NOT NULL \
             AND attempted_at >= $1 ORDER BY source LIMIT 100",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the sources' failed syncs")?;
        Ok(rows
            .into_iter()
            .map(|(s, f)| match f.starts_with(&format!("source {s}")) {
                true => f,
                false => format!("source {s}: {f}"),
            })
            .collect())
    }

    /// Keeps (or, with None, forgets) the bulk operation a first sync is waiting on.
    pub async fn record_bulk(&self, source: &str, bulk: Option<(&str, &str)>) -> Result<()> {
        sqlx::query(
            "INSERT INTO source_state (source, bulk_id, bulk_since) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET bulk_id = excluded.bulk_id, \
             bulk_since = excluded.bulk_since",
        )
        .bind(source)
        .bind(bulk.map(|b| b.0))
        .bind(bulk.map(|b| b.1))
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record source {source}'s bulk operation"))?;
        Ok(())
    }
}

/// Writes a successful sync's mark in its transaction: the cursor (kept when the sync saw
/// nothing newer), the time, the days the orders reach, and no failure or bulk operation.
pub async fn save_mark(tx: &mut sqlx::AnyConnection, mark: &SyncMark) -> Result<()> {
    let source = &mark.source;
    sqlx::query(
        "INSERT INTO source_state (source, cursor, synced_at, attempted_at, zone) \
         VALUES ($1, $2, $3, $3, $4) \
         ON CONFLICT (source) DO UPDATE SET \
         cursor = COALESCE(excluded.cursor, source_state.cursor), \
         synced_at = excluded.synced_at, attempted_at = excluded.attempted_at, \
         zone = COALESCE(excluded.zone, source_state.zone), \
         failure = NULL, bulk_id = NULL, bulk_since = NULL",
    )
    .bind(source)
    .bind(mark.cursor.as_deref())
    .bind(mark.at)
    .bind(mark.zone.as_deref())
    .execute(&mut *tx)
    .await
    .with_context(|| format!("cannot save source {source}'s cursor"))?;
    let reach: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT MIN(day), MAX(day) FROM orders")
            .fetch_one(&mut *tx)
            .await
            .context("cannot read the days the orders reach")?;
    sqlx::query("UPDATE source_state SET reach_from = $1, reach_to = $2 WHERE source = $3")
        .bind(reach.0)
        .bind(reach.1)
        .bind(source)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot save source {source}'s reach"))?;
    Ok(())
}
