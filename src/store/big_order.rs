//! The day's largest order, read from the raw rows of that one day: a single order can move
//! a whole day's figures, and the news should say so rather than call each figure unusual.

use super::*;
use crate::metrics::news::BigOrder;

impl Store {
    /// The largest order of `d` by the value of its lines (not cancelled), with its units and
    /// what was refunded of it on the same day; and the day's sales and units from the
    /// rollup. None for a day without orders.
    pub async fn big_order(&self, d: NaiveDate) -> Result<Option<BigOrder>> {
        let day = Day(d);
        let top: Option<(String, f64, i64)> = sqlx::query_as(
            "SELECT o.order_id, CAST(SUM(l.quantity * l.unit_price) AS DOUBLE PRECISION), \
               CAST(SUM(l.quantity) AS BIGINT) \
             FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
             WHERE o.day = $1 AND o.status <> 'cancelled' \
             GROUP BY o.order_id ORDER BY 2 DESC, o.order_id LIMIT 1",
        )
        .bind(day)
        .fetch_optional(&self.reader)
        .await
        .context("cannot read the day's largest order")?;
        let Some((order_id, value, units)) = top else {
            return Ok(None);
        };
        let (refunded,): (Option<f64>,) = sqlx::query_as(
            "SELECT CAST(SUM(amount) AS DOUBLE PRECISION) FROM refunds \
             WHERE order_id = $1 AND day = $2",
        )
        .bind(&order_id)
        .bind(day)
        .fetch_one(&self.reader)
        .await
        .context("cannot read the largest order's refunds")?;
        let (day_value, day_units): (Option<f64>, Option<i64>) = sqlx::query_as(
            "SELECT CAST(SUM(revenue) AS DOUBLE PRECISION), CAST(SUM(units) AS BIGINT) \
             FROM sales_daily WHERE day = $1",
        )
        .bind(day)
        .fetch_one(&self.reader)
        .await
        .context("cannot read the day's sales")?;
        Ok(Some(BigOrder {
            order_id,
            value,
            units: units as f64,
            refunded_same_day: refunded.unwrap_or(0.0),
            day_value: day_value.unwrap_or(0.0),
            day_units: day_units.unwrap_or(0) as f64,
        }))
    }
}
