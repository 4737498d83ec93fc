//! Fetching a weekly review: the week's metric rows, each campaign's week (the forecast
//! replayed from the day before it started, its orders, stock-outs, returns and spend), the
//! two weeks ahead, and the last day of each week the key results' trend is drawn at.

use anyhow::{Context, Result};
use chrono::{Days, NaiveDate};

use super::Store;
use super::day::Day;
use crate::config::Config;
use crate::metrics::alert::Promotion;
use crate::metrics::forecast;
use crate::metrics::inputs::{Retro, Starting, WeeklyInputs};
use crate::metrics::preflight::Confirmed;

/// Campaigns a week's retrospectives and its "starting" list hold at most.
pub const MAX_RETROS: usize = 20;
/// Days the weekly review looks ahead.
pub const AHEAD_DAYS: u32 = 14;
/// Weeks of a key result's trend at most: a year's cycle has 53.
pub const MAX_TREND_WEEKS: usize = 53;

/// Everything a weekly review of the week `first..=last` reads beyond its last day's digest.
pub async fn weekly(store: &Store, config: &Config, last: NaiveDate) -> Result<WeeklyInputs> {
    let first = last - Days::new(6);
    let fetched = super::report::fetch_week(store, config, last).await?;
    let mut retros = Vec::new();
    for p in store.promotions(first, last).await?.iter().take(MAX_RETROS) {
        retros.push(retro(store, config, p, last).await?);
    }
    let cal = super::report::calendar(store, config, last).await?;
    let ahead_last = last + Days::new(u64::from(AHEAD_DAYS));
    let h = super::gather::history(store, last, last, ahead_last, cal).await?;
    let starting: Vec<Promotion> = store
        .promotions(last + Days::new(1), ahead_last)
        .await?
        .into_iter()
        .filter(|p| p.start > last)
        .take(MAX_RETROS)
        .collect();
    let names: Vec<String> = starting.iter().map(|p| p.campaign.clone()).collect();
    let confirmations = store.confirmations(&names).await?;
    let checks = super::gather::preflights(store, config, &starting, last).await?;
    let with_state = starting
        .into_iter()
        .zip(checks)
        .map(|(p, check)| Starting {
            confirmed: Confirmed::of(&p, confirmations.get(&p.campaign)),
            promotion: p,
            check,
        })
        .collect();
    Ok(WeeklyInputs {
        first,
        last,
        fetched,
        retros,
        ahead: forecast::forecast(&h, last, AHEAD_DAYS),
        capacity_plan: store.capacity_plan(last, ahead_last).await?,
        starting: with_state,
        week_ends: week_ends(config, last),
    })
}

/// The last day of each week from the start of the earliest key result cycle running on
/// `last` up to `last`, at most [`MAX_TREND_WEEKS`].
pub fn week_ends(config: &Config, last: NaiveDate) -> Vec<NaiveDate> {
    let start = config
        .objectives
        .iter()
        .map(|o| o.cycle.bounds(last).0)
        .min()
        .unwrap_or(last);
    (0..MAX_TREND_WEEKS as u64)
        .map(|w| last - Days::new(7 * w))
        .take_while(|d| *d >= start)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// One campaign's days up to `last`: the forecast made the day before it started, what
/// came, its stock-outs, its returns and its spend.
async fn retro(store: &Store, config: &Config, p: &Promotion, last: NaiveDate) -> Result<Retro> {
    let through = p.end.min(last);
    let before = p.start - Days::new(1);
    let cal = super::report::calendar(store, config, before).await?;
    let h = super::gather::history(store, before, through, p.end, cal).await?;
    let days = forecast::forecast_span(&h, before, p.start, through);
    let counted = (through - p.start).num_days() + 1;
    let (expected, baseline) = if days.is_empty() {
        (None, None)
    } else {
        let e = days.iter().map(|d| d.expected).sum::<f64>();
        let b = days
            .iter()
            .map(|d| {
                if d.closed.is_some() {
                    0.0
                } else {
                    d.baseline.value
                }
            })
            .sum::<f64>();
        (Some(e), Some(b))
    };
    let orders = store.daily_orders(p.start, through).await?.values().sum();
    let (units, returned) = store
        .cohort_returns(Some(&p.channel), p.start, through)
        .await?;
    let (shop_units, shop_returned) = store.cohort_returns(None, p.start, through).await?;
    Ok(Retro {
        campaign: p.campaign.clone(),
        channel: p.channel.clone(),
        start: p.start,
        end: p.end,
        through,
        expected,
        baseline,
        unforecast: if days.is_empty() {
            0
        } else {
            counted - days.len() as i64
        },
        orders,
        skus: p.skus.len(),
        sku_days_out: store.days_out(&p.skus, p.start, through).await?,
        units,
        returned,
        shop_units,
        shop_returned,
        spend: store.campaign_spend(&p.campaign, p.start, through).await?,
        revenue: store.channel_revenue(&p.channel, p.start, through).await?,
    })
}

impl Store {
    /// Units sold in the orders placed from `first` to `last` (on `channel`, or any), and
    /// the units of those orders returned since.
    pub async fn cohort_returns(
        &self,
        channel: Option<&str>,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<(f64, f64)> {
        let row: (Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT \
               (SELECT CAST(SUM(l.quantity) AS DOUBLE PRECISION) FROM order_lines l \
                  JOIN orders o ON o.order_id = l.order_id \
                  WHERE o.day BETWEEN $1 AND $2 AND o.status <> 'cancelled' \
                  AND (CAST($3 AS TEXT) IS NULL OR o.channel = $3)), \
               (SELECT CAST(SUM(r.quantity) AS DOUBLE PRECISION) FROM returns r \
                  JOIN orders o ON o.order_id = r.order_id \
                  WHERE o.day BETWEEN $1 AND $2 AND o.status <> 'cancelled' \
                  AND (CAST($3 AS TEXT) IS NULL OR o.channel = $3))",
        )
        .bind(Day(first))
        .bind(Day(last))
        .bind(channel)
        .fetch_one(&self.reader)
        .await
        .context("cannot read the returns of a campaign's orders")?;
        Ok((row.0.unwrap_or(0.0), row.1.unwrap_or(0.0)))
    }

    /// SKU-days out of stock: snapshots from `first` to `last` of `skus` with none on hand.
    pub async fn days_out(
        &self,
        skus: &[String],
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<i64> {
        let mut n = 0;
        for sku in skus.iter().take(super::MAX_PLAN_SKUS) {
            let days: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM inventory WHERE sku = $1 AND day BETWEEN $2 AND $3 \
                 AND on_hand <= 0",
            )
            .bind(sku)
            .bind(Day(first))
            .bind(Day(last))
            .fetch_one(&self.reader)
            .await
            .with_context(|| format!("cannot read the stock of {sku}"))?;
            n += days;
        }
        Ok(n)
    }

    /// The ad spend of rows naming `campaign`, from `first` to `last`.
    pub async fn campaign_spend(
        &self,
        campaign: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<f64> {
        let v: Option<f64> = sqlx::query_scalar(
            "SELECT CAST(SUM(spend) AS DOUBLE PRECISION) FROM ad_spend \
             WHERE campaign = $1 AND day BETWEEN $2 AND $3",
        )
        .bind(campaign)
        .bind(Day(first))
        .bind(Day(last))
        .fetch_one(&self.reader)
        .await
        .with_context(|| format!("cannot read the ad spend of {campaign}"))?;
        Ok(v.unwrap_or(0.0))
    }

    /// The revenue of the orders on `channel` from `first` to `last`: lines at their price,
    /// less order discounts.
    pub async fn channel_revenue(
        &self,
        channel: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<f64> {
        let v: (Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT \
               (SELECT CAST(SUM(l.quantity * l.unit_price) AS DOUBLE PRECISION) FROM order_lines l \
                  JOIN orders o ON o.order_id = l.order_id \
                  WHERE o.channel = $1 AND o.day BETWEEN $2 AND $3 AND o.status <> 'cancelled'), \
               (SELECT CAST(SUM(o.discount) AS DOUBLE PRECISION) FROM orders o \
                  WHERE o.channel = $1 AND o.day BETWEEN $2 AND $3 AND o.status <> 'cancelled')",
        )
        .bind(channel)
        .bind(Day(first))
        .bind(Day(last))
        .fetch_one(&self.reader)
        .await
        .with_context(|| format!("cannot read the revenue of {channel}"))?;
        Ok(v.0.unwrap_or(0.0) - v.1.unwrap_or(0.0))
    }
}
