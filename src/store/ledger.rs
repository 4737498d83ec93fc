//! The delivery ledger: one row per report, date and recipient, claimed before a message
//! leaves and marked after, so that nothing is sent twice or recorded as sent unconfirmed.

use super::*;
use crate::config::RecipientKey;

/// One row of the delivery ledger: a report, its date and one recipient.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryKey<'a> {
    pub report: &'a str,
    pub date: NaiveDate,
    pub recipient: &'a RecipientKey,
}

/// What one delivery to one recipient came to.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOutcome<'a> {
    pub status: DeliveryStatus,
    /// Attempts made in this run (retries included); 0 for a claim.
    pub attempts: u32,
    pub error: Option<&'a str>,
    pub message_id: Option<&'a str>,
}

/// What the ledger says about one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Claimed for sending; a crash leaves it here, and a re-run sends again.
    Pending,
    Sent,
    Failed,
    /// The connection failed after the end of the message: the server may have it. Never
    /// retried automatically, so a possible loss is preferred to a possible duplicate.
    Unknown,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown => "unknown",
        }
    }
}

impl Store {
    /// Recipients whose delivery for a report and date is settled: `sent`, or `unknown`
    /// (which only an explicit retry sends to again).
    pub async fn settled(
        &self,
        report: &str,
        date: NaiveDate,
    ) -> Result<std::collections::HashMap<RecipientKey, DeliveryStatus>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT recipient, status FROM deliveries \
             WHERE report = $1 AND report_date = $2 AND status IN ('sent', 'unknown')",
        )
        .bind(report)
        .bind(Day(date))
        .fetch_all(&self.pool)
        .await
        .context("cannot read the delivery ledger")?;
        Ok(rows
            .into_iter()
            .map(|(r, s)| {
                let status = if s == "sent" {
                    DeliveryStatus::Sent
                } else {
                    DeliveryStatus::Unknown
                };
                (RecipientKey::from_ledger(r), status)
            })
            .collect())
    }

    /// Per report date, newest first: how many recipients are sent, failed, pending and
    /// unknown.
    pub async fn delivery_counts(
        &self,
        report: &str,
        limit: i64,
    ) -> Result<Vec<(NaiveDate, Vec<(&'static str, DeliveryCounts)>)>> {
        // The channel is told by the key: `slack:` and a channel id, `msteams:` and a report,
        // or a mailbox.
        let rows: Vec<(Day, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT report_date, \
               CASE WHEN recipient LIKE 'slack:%' THEN 'slack' \
                    WHEN recipient LIKE 'msteams:%' THEN 'msteams' ELSE 'email' END AS channel, \
               CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'unknown' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM deliveries WHERE report = $1 AND report_date IN \
               (SELECT DISTINCT report_date FROM deliveries WHERE report = $1 \
                ORDER BY report_date DESC LIMIT $2) \
             GROUP BY report_date, channel ORDER BY report_date DESC, channel",
        )
        .bind(report)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("cannot read the delivery ledger")?;
        let mut out: Vec<(NaiveDate, Vec<(&'static str, DeliveryCounts)>)> = Vec::new();
        for (d, channel, sent, failed, pending, unknown) in rows {
            let counts = DeliveryCounts {
                sent,
                failed,
                pending,
                unknown,
            };
            let channel = match channel.as_str() {
                "slack" => "slack",
                "msteams" => "msteams",
                _ => "email",
            };
            match out.last_mut() {
                Some((day, by)) if *day == d.0 => by.push((channel, counts)),
                _ => out.push((d.0, vec![(channel, counts)])),
            }
        }
        Ok(out)
    }

    /// Claims one recipient for this sender: a new row, or one that failed, or one pending
    /// under a claim that is stale or held by a sender known to be dead, provided its message
    /// never came near the server (no `data_at`; [`Store::reap_abandoned`] settles the
    /// others as unknown). False when someone else holds it or it was sent (or is unknown),
    /// unless the claim says to override that. One statement, so two senders racing for a
    /// recipient cannot both win. `--force` overrides a settled row, never a live claim.
    pub async fn claim_delivery(&self, key: &DeliveryKey<'_>, c: &Claim<'_>) -> Result<bool> {
        let won: Option<String> = sqlx::query_scalar(
            "INSERT INTO deliveries (report, report_date, recipient, status, attempts, updated_at, claimed_by) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $5) \
             ON CONFLICT (report, report_date, recipient) DO UPDATE SET \
               status = 'pending', updated_at = excluded.updated_at, \
               claimed_by = excluded.claimed_by, data_at = NULL \
             WHERE deliveries.status = 'failed' \
               OR ($6 = 1 AND deliveries.status <> 'pending') \
               OR ($9 = 1 AND deliveries.status = 'unknown') \
               OR (deliveries.status = 'pending' AND deliveries.data_at IS NULL \
                   AND (deliveries.updated_at < $7 OR deliveries.claimed_by = $8)) \
             RETURNING recipient",
        )
        .bind(key.report)
        .bind(Day(key.date))
        .bind(key.recipient.as_str())
        .bind(c.now)
        .bind(c.claimer)
        .bind(i64::from(c.force))
        .bind(c.stale_before)
        .bind(c.takeover.unwrap_or(""))
        .bind(i64::from(c.retry_unknown))
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("cannot claim the delivery to {}", key.recipient))?;
        Ok(won.is_some())
    }

    /// Marks this sender's claim as about to hand its message over: from here on, the server
    /// may have it whatever becomes of this process. False when the claim is no longer this
    /// sender's (taken over as stale, or settled), and then the message must not leave.
    pub async fn mark_data(&self, key: &DeliveryKey<'_>, claimer: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET data_at = $4, updated_at = $4 \
             WHERE report = $1 AND report_date = $2 AND recipient = $3 \
               AND status = 'pending' AND claimed_by = $5",
        )
        .bind(key.report)
        .bind(Day(key.date))
        .bind(key.recipient.as_str())
        .bind(now)
        .bind(claimer)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot mark the delivery to {} as in flight", key.recipient))?;
        Ok(done.rows_affected() == 1)
    }

    /// Renews every claim this sender holds on a report date, so that a long send is never
    /// mistaken for a dead one. Returns how many were renewed.
    pub async fn renew_claims(
        &self,
        report: &str,
        date: NaiveDate,
        claimer: &str,
        now: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET updated_at = $4 \
             WHERE report = $1 AND report_date = $2 AND status = 'pending' AND claimed_by = $3",
        )
        .bind(report)
        .bind(Day(date))
        .bind(claimer)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("cannot renew this sender's claims in the delivery ledger")?;
        Ok(done.rows_affected())
    }

    /// Settles as `unknown` every pending claim of a report date whose message may have
    /// reached the server (`data_at` set) and whose sender is gone: its claim is stale, or
    /// held by one of `gone`. Returns (recipient, why), the reason as the ledger has it.
    pub async fn reap_abandoned(
        &self,
        report: &str,
        date: NaiveDate,
        stale_before: i64,
        gone: &[&str],
        now: i64,
    ) -> Result<Vec<(RecipientKey, String)>> {
        let holders: Vec<String> = (0..gone.len()).map(|i| format!("${}", i + 5)).collect();
        let held_by_gone = if holders.is_empty() {
            String::new()
        } else {
            format!(" OR claimed_by IN ({})", holders.join(", "))
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'unknown', updated_at = $4, last_error = \
               'the sender ' || COALESCE(claimed_by, '?') || ' stopped after the message may \
               have reached the server; not sent again' \
             WHERE report = $1 AND report_date = $2 AND status = 'pending' \
               AND data_at IS NOT NULL AND (updated_at < $3{held_by_gone}) \
             RETURNING recipient, last_error"
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql))
            .bind(report)
            .bind(Day(date))
            .bind(stale_before)
            .bind(now);
        for g in gone {
            q = q.bind(*g);
        }
        let rows: Vec<(String, Option<String>)> = q
            .fetch_all(&self.pool)
            .await
            .context("cannot settle abandoned claims in the delivery ledger")?;
        Ok(rows
            .into_iter()
            .map(|(r, why)| (RecipientKey::from_ledger(r), why.unwrap_or_default()))
            .collect())
    }

    /// Who holds each pending delivery of a report date.
    pub async fn pending_claims(
        &self,
        report: &str,
        date: NaiveDate,
    ) -> Result<std::collections::HashMap<RecipientKey, String>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT recipient, claimed_by FROM deliveries \
             WHERE report = $1 AND report_date = $2 AND status = 'pending'",
        )
        .bind(report)
        .bind(Day(date))
        .fetch_all(&self.pool)
        .await
        .context("cannot read the delivery ledger")?;
        Ok(rows
            .into_iter()
            .filter_map(|(r, c)| c.map(|c| (RecipientKey::from_ledger(r), c)))
            .collect())
    }

    /// Records a delivery outcome: a new row, or the next outcome on the old one, with its
    /// attempts added to those already made.
    ///
    /// Only the sender that holds the claim records: false (nothing written) when the row is
    /// another sender's now (a forced re-send took it over).
    pub async fn record_delivery(
        &self,
        key: &DeliveryKey<'_>,
        outcome: &DeliveryOutcome<'_>,
        claimer: &str,
        now: i64,
    ) -> Result<bool> {
        let DeliveryOutcome {
            status,
            attempts,
            error,
            message_id,
        } = *outcome;
        let done = sqlx::query(
            "INSERT INTO deliveries (report, report_date, recipient, status, attempts, last_error, message_id, sent_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (report, report_date, recipient) DO UPDATE SET \
               status = excluded.status, attempts = deliveries.attempts + excluded.attempts, \
               last_error = excluded.last_error, message_id = COALESCE(excluded.message_id, deliveries.message_id), \
               sent_at = COALESCE(excluded.sent_at, deliveries.sent_at), updated_at = excluded.updated_at \
             WHERE deliveries.claimed_by = $10",
        )
        .bind(key.report)
        .bind(Day(key.date))
        .bind(key.recipient.as_str())
        .bind(status.as_str())
        .bind(i64::from(attempts))
        .bind(error.map(str::to_string))
        .bind(message_id.map(str::to_string))
        .bind((status == DeliveryStatus::Sent).then_some(now))
        .bind(now)
        .bind(claimer)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the delivery to {}", key.recipient))?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// Records a recipient that a fatal failure kept from being tried, unless the ledger
    /// already knows more (sent, unknown, or held by a live claim).
    pub async fn record_not_attempted(
        &self,
        key: &DeliveryKey<'_>,
        error: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO deliveries (report, report_date, recipient, status, attempts, last_error, updated_at) \
             VALUES ($1, $2, $3, 'failed', 0, $4, $5) \
             ON CONFLICT (report, report_date, recipient) DO UPDATE SET \
               last_error = excluded.last_error, updated_at = excluded.updated_at \
             WHERE deliveries.status = 'failed'",
        )
        .bind(key.report)
        .bind(Day(key.date))
        .bind(key.recipient.as_str())
        .bind(error)
        .bind(now)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the delivery to {}", key.recipient))?;
        Ok(())
    }
}

/// Who claims a delivery, when, and what the claim may take over.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// "host:pid".
    pub claimer: &'a str,
    /// Epoch seconds.
    pub now: i64,
    /// A pending claim updated before this (epoch seconds) is stale.
    pub stale_before: i64,
    /// A claimer known to be dead, whose pending claim is taken over at once.
    pub takeover: Option<&'a str>,
    /// Take over even a sent row.
    pub force: bool,
    /// Take over an unknown row.
    pub retry_unknown: bool,
}

/// How one report date's recipients stand in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryCounts {
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
    pub unknown: i64,
}
