//! The ledger of alerts as they happen: what went to which destination, at which level, on
//! which day; claimed before a message leaves, so that a restart never sends one twice.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Store;
use super::day::Day;

/// One alert to one destination.
#[derive(Debug, Clone, Copy)]
pub struct LiveKey<'a> {
    pub report: &'a str,
    pub day: NaiveDate,
    pub alert: &'a str,
    pub level: u8,
    pub destination: &'a str,
}

impl Store {
    /// Each alert's highest level that went, or may have gone, to `destination` on `day`
    /// (a failure, which reached nobody, does not count).
    pub async fn live_sent(
        &self,
        report: &str,
        day: NaiveDate,
        destination: &str,
    ) -> Result<BTreeMap<String, u8>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT alert_key, CAST(MAX(level) AS BIGINT) FROM live_alerts \
             WHERE report = $1 AND day = $2 AND destination = $3 AND status <> 'failed' \
             GROUP BY alert_key",
        )
        .bind(report)
        .bind(Day(day))
        .bind(destination)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the live alerts' ledger")?;
        Ok(rows
            .into_iter()
            .map(|(k, l)| (k, u8::try_from(l).unwrap_or(u8::MAX)))
            .collect())
    }

    /// Claims an alert for a destination before it leaves: true when this run may send it
    /// (no row yet, or only a failed one).
    pub async fn claim_live(&self, k: &LiveKey<'_>, title: &str, now: i64) -> Result<bool> {
        let won: Option<String> = sqlx::query_scalar(
            "INSERT INTO live_alerts (report, day, alert_key, level, destination, status, title, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) \
             ON CONFLICT (report, day, alert_key, level, destination) DO UPDATE SET \
               status = 'pending', title = excluded.title, error = NULL, updated_at = excluded.updated_at \
             WHERE live_alerts.status = 'failed' \
             RETURNING destination",
        )
        .bind(k.report)
        .bind(Day(k.day))
        .bind(k.alert)
        .bind(i64::from(k.level))
        .bind(k.destination)
        .bind(title)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("cannot claim the live alert to {}", k.destination))?;
        Ok(won.is_some())
    }

    /// What became of a claimed alert: `sent`, `failed` or `unknown`.
    pub async fn record_live(
        &self,
        k: &LiveKey<'_>,
        status: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE live_alerts SET status = $6, error = $7, updated_at = $8 \
             WHERE report = $1 AND day = $2 AND alert_key = $3 AND level = $4 AND destination = $5",
        )
        .bind(k.report)
        .bind(Day(k.day))
        .bind(k.alert)
        .bind(i64::from(k.level))
        .bind(k.destination)
        .bind(status)
        .bind(error)
        .bind(now)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the live alert to {}", k.destination))?;
        Ok(())
    }

    /// The titles of the alerts that went out on `day` (any report, any destination), each
    /// once at its worst, in the order they first went: for the next morning's email.
    pub async fn live_titles(&self, day: NaiveDate) -> Result<Vec<String>> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT alert_key, title, CAST(level AS BIGINT), CAST(MIN(updated_at) AS BIGINT) \
             FROM live_alerts WHERE day = $1 AND status = 'sent' \
             GROUP BY alert_key, title, level ORDER BY 4, 1 LIMIT 200",
        )
        .bind(Day(day))
        .fetch_all(&self.pool)
        .await
        .context("cannot read the live alerts' ledger")?;
        let mut worst: Vec<(String, String, i64)> = Vec::new();
        for (key, title, level, _) in rows {
            match worst.iter_mut().find(|w| w.0 == key) {
                Some(w) if level > w.2 => {
                    w.1 = title;
                    w.2 = level;
                }
                Some(_) => {}
                None => worst.push((key, title, level)),
            }
        }
        Ok(worst.into_iter().map(|w| w.1).collect())
    }
}
