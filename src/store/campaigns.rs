//! The campaign plans behind the pre-flight: a campaign added or changed from the command
//! line (all or nothing), read back as a `Plan`; operations' confirmations, each for the plan
//! it saw; and the handoff notes' ledger, claimed before a note leaves.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;

use super::Store;
use super::day::Day;
use crate::metrics::preflight::{Confirmation, Plan};

/// Campaigns a pre-flight or the handoff reads at most at once, and SKUs a plan carries.
pub const MAX_PLANS: i64 = 200;
pub const MAX_PLAN_SKUS: usize = 500;

/// One handoff note to one destination.
#[derive(Debug, Clone, Copy)]
pub struct HandoffKey<'a> {
    pub campaign: &'a str,
    pub fingerprint: &'a str,
    pub destination: &'a str,
}

impl Store {
    /// Adds `plan` to the campaign calendar, or replaces the campaign of its name, with its
    /// SKUs, in one transaction. An unknown SKU is refused by name, and nothing is written.
    pub async fn save_plan(&self, plan: &Plan) -> Result<()> {
        if plan.skus.len() > MAX_PLAN_SKUS {
            bail!("a campaign promotes at most {MAX_PLAN_SKUS} SKUs");
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .context("cannot write the campaign")?;
        for sku in &plan.skus {
            let known: Option<String> =
                sqlx::query_scalar("SELECT sku FROM products WHERE sku = $1")
                    .bind(sku)
                    .fetch_optional(&mut *tx)
                    .await
                    .context("cannot read the products")?;
            if known.is_none() {
                bail!("--skus: no product has the SKU `{sku}`; import the products first");
            }
        }
        sqlx::query(
            "INSERT INTO campaigns (campaign, channel, start_day, end_day, expected_lift, discount) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign) DO UPDATE SET \
             channel = excluded.channel, start_day = excluded.start_day, end_day = excluded.end_day, \
             expected_lift = excluded.expected_lift, discount = excluded.discount",
        )
        .bind(&plan.campaign)
        .bind(&plan.channel)
        .bind(Day(plan.start))
        .bind(Day(plan.end))
        .bind(plan.expected_lift)
        .bind(plan.discount)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot write the campaign {}", plan.campaign))?;
        sqlx::query("DELETE FROM campaign_skus WHERE campaign = $1")
            .bind(&plan.campaign)
            .execute(&mut *tx)
            .await
            .context("cannot write the campaign's SKUs")?;
        for sku in &plan.skus {
            sqlx::query("INSERT INTO campaign_skus (campaign, sku) VALUES ($1, $2)")
                .bind(&plan.campaign)
                .bind(sku)
                .execute(&mut *tx)
                .await
                .context("cannot write the campaign's SKUs")?;
        }
        tx.commit().await.context("cannot write the campaign")?;
        Ok(())
    }

    /// The campaign of that name, as planned.
    pub async fn plan(&self, campaign: &str) -> Result<Option<Plan>> {
        Ok(self
            .campaigns_where("campaign = $1", &[campaign.to_string()], 1)
            .await?
            .pop())
    }

    /// The campaigns that start from `first` to `last`, by start day (at most
    /// [`MAX_PLANS`]).
    pub async fn plans_starting(&self, first: NaiveDate, last: NaiveDate) -> Result<Vec<Plan>> {
        self.campaigns_where(
            "start_day >= $1 AND start_day <= $2",
            &[first.to_string(), last.to_string()],
            MAX_PLANS,
        )
        .await
    }

    /// Each SKU's price and cost, where the product has them.
    pub async fn prices(&self, skus: &[String]) -> Result<BTreeMap<String, (f64, Option<f64>)>> {
        let mut out = BTreeMap::new();
        // Bounded by the callers: at most MAX_PLANS plans of MAX_PLAN_SKUS SKUs each.
        for sku in skus {
            let row: Option<(f64, Option<f64>)> =
                sqlx::query_as("SELECT unit_price, unit_cost FROM products WHERE sku = $1")
                    .bind(sku)
                    .fetch_optional(&self.reader)
                    .await
                    .with_context(|| format!("cannot read the price of {sku}"))?;
            if let Some(r) = row {
                out.insert(sku.clone(), r);
            }
        }
        Ok(out)
    }

    /// Records operations' confirmation of `campaign` as planned (`plan`, its fingerprint);
    /// a second one for the same plan replaces the first.
    pub async fn confirm(&self, campaign: &str, plan: &str, note: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO preflight_confirmations (campaign, plan, note, confirmed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (campaign, plan) DO UPDATE SET \
             note = excluded.note, confirmed_at = excluded.confirmed_at",
        )
        .bind(campaign)
        .bind(plan)
        .bind(note)
        .bind(now)
        .execute(&self.pool)
        .await
        .with_context(|| format!("cannot record the confirmation of {campaign}"))?;
        Ok(())
    }

    /// The latest confirmation of each of `campaigns`, whatever plan it was for.
    pub async fn confirmations(
        &self,
        campaigns: &[String],
    ) -> Result<BTreeMap<String, Confirmation>> {
        let mut out = BTreeMap::new();
        for c in campaigns.iter().take(MAX_PLANS as usize) {
            let row: Option<(String, String, i64)> = sqlx::query_as(
                "SELECT plan, note, confirmed_at FROM preflight_confirmations \
                 WHERE campaign = $1 ORDER BY confirmed_at DESC, plan LIMIT 1",
            )
            .bind(c)
            .fetch_optional(&self.reader)
            .await
            .with_context(|| format!("cannot read the confirmation of {c}"))?;
            if let Some((plan, note, confirmed_at)) = row {
                out.insert(
                    c.clone(),
                    Confirmation {
                        plan,
                        note,
                        confirmed_at,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Claims a handoff note before it leaves: true when this run may send it (no row yet,
    /// or only a failed one).
    pub async fn claim_handoff(&self, k: &HandoffKey<'_>, verdict: &str, now: i64) -> Result<bool> {
        let won: Option<String> = sqlx::query_scalar(
            "INSERT INTO handoffs (campaign, fingerprint, destination, verdict, status, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5) \
             ON CONFLICT (campaign, fingerprint, destination) DO UPDATE SET \
               status = 'pending', error = NULL, updated_at = excluded.updated_at \
             WHERE handoffs.status = 'failed' \
             RETURNING destination",
        )
        .bind(k.campaign)
        .bind(k.fingerprint)
        .bind(k.destination)
        .bind(verdict)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("cannot claim the handoff of {} to {}", k.campaign, k.destination))?;
        Ok(won.is_some())
    }

    /// What became of a claimed handoff note: `sent`, `failed` or `unknown`.
    pub async fn record_handoff(
        &self,
        k: &HandoffKey<'_>,
        status: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE handoffs SET status = $4, error = $5, updated_at = $6 \
             WHERE campaign = $1 AND fingerprint = $2 AND destination = $3",
        )
        .bind(k.campaign)
        .bind(k.fingerprint)
        .bind(k.destination)
        .bind(status)
        .bind(error)
        .bind(now)
        .execute(&self.pool)
        .await
        .with_context(|| {
            format!(
                "cannot record the handoff of {} to {}",
                k.campaign, k.destination
            )
        })?;
        Ok(())
    }

    /// The latest handoff notes, newest first: each campaign's plan and verdict with how
    /// many destinations it reached, failed or may have reached, and when it last moved.
    pub async fn recent_handoffs(&self, limit: i64) -> Result<Vec<HandoffSummary>> {
        let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT campaign, verdict, \
               CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(SUM(CASE WHEN status IN ('unknown', 'pending') THEN 1 ELSE 0 END) AS BIGINT), \
               CAST(MAX(updated_at) AS BIGINT) \
             FROM handoffs GROUP BY campaign, fingerprint, verdict ORDER BY 6 DESC, 1 LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .context("cannot read the handoff ledger")?;
        Ok(rows
            .into_iter()
            .map(
                |(campaign, verdict, sent, failed, unknown, at)| HandoffSummary {
                    campaign,
                    verdict,
                    sent,
                    failed,
                    unknown,
                    at,
                },
            )
            .collect())
    }
}

/// One handoff note across its destinations, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffSummary {
    pub campaign: String,
    pub verdict: String,
    pub sent: i64,
    pub failed: i64,
    /// Unknown, or claimed by a run that never said: either may have reached them.
    pub unknown: i64,
    /// Epoch seconds.
    pub at: i64,
}
