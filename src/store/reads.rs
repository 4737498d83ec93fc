//! The digest's reads beyond its metrics: campaigns, orders per day, capacity, stock,
//! feedback, what the exports leave empty, and how fresh each table is.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use super::{Day, Store};
use crate::metrics::inputs::ThemeCount;

/// The most comments of one day the digest reads to count themes and pick examples: a bound
/// on a day of any size (the counts of a bigger day are those of its first comments).
pub const MAX_FEEDBACK: i64 = 5_000;

/// The most campaigns one forecast reads: a bound on what the calendar can make it do.
pub const MAX_CAMPAIGNS: i64 = 2000;

impl Store {
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .context("cannot read store metadata")?;
        Ok(v)
    }

    /// Rows in a data table (for `check` and tests).
    pub async fn count(&self, table: &str) -> Result<i64> {
        if !crate::schema::data_tables().any(|t| t == table) && table != "meta" {
            bail!("unknown table {table}");
        }
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot count rows of {table}"))?;
        Ok(n)
    }

    /// Rows of a dated table on one day.
    pub async fn rows_on(&self, table: &str, day: NaiveDate) -> Result<i64> {
        if !crate::schema::dated_tables().any(|t| t == table) {
            bail!("unknown dated table {table}");
        }
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE day = $1"
        )))
        .bind(Day(day))
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot count the rows of {table} on {day}"))?;
        Ok(n)
    }

    /// The last day with data on or before `d` in each dated table: what a report for `d`
    /// can know.
    pub async fn freshness_at(
        &self,
        d: NaiveDate,
    ) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        self.last_days(Some(d)).await
    }

    /// The last day with data in each dated table: how fresh the report can be.
    pub async fn freshness(&self) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        self.last_days(None).await
    }

    async fn last_days(
        &self,
        up_to: Option<NaiveDate>,
    ) -> Result<Vec<(&'static str, Option<NaiveDate>)>> {
        let mut out = Vec::new();
        for (table, column) in crate::schema::freshness_columns() {
            // Without a bound, every day qualifies: no day sorts after this text.
            let bound = up_to.map_or_else(|| "9999-12-31".to_string(), |d| d.to_string());
            let v: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT MAX({column}) FROM {table} WHERE {column} <= $1"
            )))
            .bind(bound)
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("cannot read the last day of {table}"))?;
            out.push((table, v.and_then(|s| s.parse().ok())));
        }
        Ok(out)
    }
    /// Campaigns that overlap `first..=last`, with their promoted SKUs (at most
    /// [`MAX_CAMPAIGNS`], the earliest to start).
    pub async fn promotions(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<crate::metrics::alert::Promotion>> {
        self.campaigns_where(
            "start_day <= $2 AND end_day >= $1",
            &[first.to_string(), last.to_string()],
            MAX_CAMPAIGNS,
        )
        .await
    }

    /// The campaigns `filter` (on `campaigns`, with `binds` as $1, $2...) keeps, at most
    /// `limit` of them by start day, each with its SKUs (at most
    /// [`super::MAX_PLAN_SKUS`]): one query, whatever their number.
    pub(super) async fn campaigns_where(
        &self,
        filter: &str,
        binds: &[String],
        limit: i64,
    ) -> Result<Vec<crate::metrics::alert::Promotion>> {
        type Row = (
            String,
            String,
            Day,
            Day,
            Option<f64>,
            Option<f64>,
            Option<String>,
        );
        let sql = format!(
            "SELECT c.campaign, c.channel, c.start_day, c.end_day, c.expected_lift, c.discount, cs.sku \
             FROM campaigns c LEFT JOIN campaign_skus cs ON cs.campaign = c.campaign \
             WHERE c.campaign IN (SELECT campaign FROM campaigns WHERE {filter} \
               ORDER BY start_day, campaign LIMIT {limit}) \
             ORDER BY c.start_day, c.campaign, cs.sku"
        );
        let mut q = sqlx::query_as::<_, Row>(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b.clone());
        }
        let rows = q
            .fetch_all(&self.reader)
            .await
            .context("cannot read the campaign calendar")?;
        let mut out: Vec<crate::metrics::alert::Promotion> = Vec::new();
        for (campaign, channel, start, end, expected_lift, discount, sku) in rows {
            if out.last().is_none_or(|p| p.campaign != campaign) {
                out.push(crate::metrics::alert::Promotion {
                    campaign,
                    channel,
                    start: start.0,
                    end: end.0,
                    skus: Vec::new(),
                    expected_lift,
                    discount,
                });
            }
            if let (Some(sku), Some(p)) = (sku, out.last_mut())
                && p.skus.len() < super::MAX_PLAN_SKUS
            {
                p.skus.push(sku);
            }
        }
        Ok(out)
    }

    /// Orders per day from `first` to `last`, from the rollup (refresh it first). Days
    /// without a row are absent.
    pub async fn daily_orders(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, f64>> {
        let rows: Vec<(Day, i64)> = sqlx::query_as(
            "SELECT day, CAST(orders AS BIGINT) FROM order_daily WHERE day BETWEEN $1 AND $2 ORDER BY day",
        )
        .bind(Day(first))
        .bind(Day(last))
        .fetch_all(&self.reader)
        .await
        .context("cannot read orders per day")?;
        Ok(rows.into_iter().map(|(day, n)| (day.0, n as f64)).collect())
    }

    /// The first day with orders, if any: an index end.
    pub async fn first_order_day(&self) -> Result<Option<NaiveDate>> {
        let day: Option<Day> = sqlx::query_scalar("SELECT MIN(day) FROM order_daily")
            .fetch_one(&self.reader)
            .await
            .context("cannot read the first day with orders")?;
        Ok(day.map(NaiveDate::from))
    }

    /// The campaigns that overlap `first..=last`, at most [`MAX_CAMPAIGNS`] of them (the
    /// latest to start).
    pub async fn campaign_spans(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<crate::metrics::forecast::CampaignSpan>> {
        let rows: Vec<(String, String, Day, Day, Option<f64>)> = sqlx::query_as(
            "SELECT campaign, channel, start_day, end_day, expected_lift FROM campaigns \
             WHERE start_day <= $2 AND end_day >= $1 ORDER BY start_day DESC, campaign LIMIT $3",
        )
        .bind(Day(first))
        .bind(Day(last))
        .bind(MAX_CAMPAIGNS)
        .fetch_all(&self.reader)
        .await
        .context("cannot read the campaign calendar")?;
        let mut out = rows
            .into_iter()
            .map(
                |(name, channel, start, end, lift)| crate::metrics::forecast::CampaignSpan {
                    start: start.0,
                    end: end.0,
                    name,
                    channel,
                    stated: lift.map(|l| 1.0 + l),
                },
            )
            .collect::<Vec<_>>();
        out.reverse();
        Ok(out)
    }

    /// Capacity from the latest row on or before `d` up to `last`: what the days after `d`
    /// are planned at, and what they are assumed at where no row says.
    pub async fn capacity_plan(
        &self,
        d: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, f64>> {
        let rows: Vec<(Day, i64)> = sqlx::query_as(
            "SELECT day, CAST(orders AS BIGINT) FROM capacity WHERE day <= $2 \
             AND day >= COALESCE((SELECT MAX(day) FROM capacity WHERE day <= $1), $1) ORDER BY day",
        )
        .bind(Day(d))
        .bind(Day(last))
        .fetch_all(&self.reader)
        .await
        .context("cannot read the capacity plan")?;
        Ok(rows.into_iter().map(|(day, n)| (day.0, n as f64)).collect())
    }

    /// Stock positions on `d` of the given SKUs: the latest snapshot on or before `d` and
    /// units sold over the `window` days ending on `d` (from the rollups: refresh them first).
    pub async fn stock_positions(
        &self,
        skus: &[String],
        d: NaiveDate,
        window: u32,
    ) -> Result<BTreeMap<String, crate::metrics::alert::StockPosition>> {
        let from = d - chrono::Days::new(u64::from(window.max(1)) - 1);
        let mut out = BTreeMap::new();
        for sku in skus {
            type Row = (String, String, Option<i64>, Option<i64>, Option<i64>);
            let row: Option<Row> = sqlx::query_as(
                "SELECT p.sku, p.name, p.lead_time_days, \
                   (SELECT i.on_hand FROM inventory i WHERE i.sku = p.sku AND i.day <= $2 ORDER BY i.day DESC LIMIT 1), \
                   (SELECT CAST(SUM(s.units) AS BIGINT) FROM sales_daily s \
                     WHERE s.sku = p.sku AND s.day BETWEEN $3 AND $2) \
                 FROM products p WHERE p.sku = $1",
            )
            .bind(sku.clone())
            .bind(Day(d))
            .bind(Day(from))
            .fetch_optional(&self.reader)
            .await
            .with_context(|| format!("cannot read the stock of {sku}"))?;
            if let Some((sku, name, lead, on_hand, sold)) = row {
                out.insert(
                    sku.clone(),
                    crate::metrics::alert::StockPosition {
                        sku,
                        name,
                        lead_time_days: lead,
                        on_hand,
                        units_sold_window: sold.unwrap_or(0),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The optional columns no row holds a value in, of tables that have rows: what the
    /// shop's exports do not give (a GA4 report has sessions but no carts). Shipments are
    /// judged by their rollup (refresh it first): a store of any size answers from one row
    /// per day.
    pub async fn empty_optional_columns(&self) -> Result<Vec<&'static str>> {
        const TRAFFIC: [&str; 3] = ["product_views", "add_to_carts", "checkouts"];
        let mut out = Vec::new();
        // Bounded: the first 100,000 rows tell, though traffic has a row per day and channel.
        let row = sqlx::query(
            "SELECT COUNT(*), COUNT(product_views), COUNT(add_to_carts), COUNT(checkouts) \
             FROM (SELECT * FROM traffic LIMIT 100000) t",
        )
        .fetch_one(&self.reader)
        .await
        .context("cannot read the columns of traffic")?;
        let rows: i64 = sqlx::Row::try_get(&row, 0)?;
        for (i, c) in TRAFFIC.iter().enumerate() {
            let filled: i64 = sqlx::Row::try_get(&row, i + 1)?;
            if rows > 0 && filled == 0 {
                out.push(*c);
            }
        }
        // A delivery counts as promised when its promised day is known.
        let (days, delivered, promised): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(delivered) AS BIGINT), CAST(SUM(promised) AS BIGINT) \
             FROM fulfilment_daily",
        )
        .fetch_one(&self.reader)
        .await
        .context("cannot read the columns of fulfilment")?;
        if days > 0 && promised.unwrap_or(0) == 0 {
            out.push("promised_day");
        }
        if days > 0 && delivered.unwrap_or(0) == 0 {
            out.push("delivered_at");
        }
        Ok(out)
    }

    /// SKUs with no stock at the end of `d`, with their names.
    pub async fn out_of_stock(&self, d: NaiveDate) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.sku, p.name FROM inventory i JOIN products p ON p.sku = i.sku \
             WHERE i.day = $1 AND i.on_hand <= 0 ORDER BY p.sku",
        )
        .bind(Day(d))
        .fetch_all(&self.reader)
        .await
        .context("cannot read stock-outs")?;
        Ok(rows)
    }

    /// Product names by SKU.
    pub async fn product_names(&self) -> Result<BTreeMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT sku, name FROM products")
            .fetch_all(&self.reader)
            .await
            .context("cannot read products")?;
        Ok(rows.into_iter().collect())
    }

    /// Feedback themes on `d`, most mentioned first.
    pub async fn feedback_themes(&self, d: NaiveDate) -> Result<Vec<ThemeCount>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT theme, sentiment, text, feedback_id FROM feedback WHERE day = $1 ORDER BY feedback_id LIMIT $2",
        )
        .bind(Day(d))
        .bind(MAX_FEEDBACK)
        .fetch_all(&self.reader)
        .await
        .context("cannot read feedback")?;
        let mut themes: Vec<ThemeCount> = Vec::new();
        for (theme, sentiment, text, _) in rows {
            let i = match themes.iter().position(|t| t.theme == theme) {
                Some(i) => i,
                None => {
                    themes.push(ThemeCount {
                        theme,
                        count: 0,
                        negative: 0,
                        example: None,
                    });
                    themes.len() - 1
                }
            };
            let t = &mut themes[i];
            t.count += 1;
            let negative = sentiment == "negative";
            if negative {
                t.negative += 1;
            }
            if t.example.is_none() || (negative && t.negative == 1) {
                t.example = Some(text);
            }
        }
        themes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.negative.cmp(&a.negative))
                .then(a.theme.cmp(&b.theme))
        });
        Ok(themes)
    }
}
