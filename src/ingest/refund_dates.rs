//! Dating refunds an export gives no date for. A Shopify orders export has one `Refunded
//! Amount` per order: a running total, not a dated refund. What is new in it against the
//! refunds already recorded counts on the day the import first saw it, the report date it
//! serves, and never on a day already mailed; so "refunds yesterday" are the refunds that
//! became known yesterday, and a mailed day is not rewritten by a late refund.
//!
//! Before anything has been mailed (a shop loading its history), a refund counts on its
//! order's day, as it always did: the first email then sees history as the export tells it.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::AnyConnection;

use crate::schema::{ColType, TableSpec, col};
use crate::store::Day;

/// The totals the export gives, held for the import: see the migration 0018.
pub(super) const REFUND_TOTALS: TableSpec = TableSpec {
    name: "shopify_refund_totals",
    columns: &[
        col("order_id", ColType::Text),
        col("amount", ColType::Float { min: 0.0 }),
    ],
    key: &["order_id"],
    refs: &[],
};

/// The key of the refunds a total's first import recorded on the order's day (and every
/// import did, before refunds were dated); a refund dated on the day it was seen is this,
/// `@` and the day.
pub(super) const REFUND_ID: &str = "shopify-refunded-amount";

/// Turns the totals this import held into refunds: for each order, the total less what is
/// already recorded for it, on `seen` (or the day after the last day mailed, if `seen` was
/// mailed already); on the order's day while nothing has been mailed. Empties the totals.
/// Returns the refunds written.
pub(super) async fn date_refunds(conn: &mut AnyConnection, seen: NaiveDate) -> Result<u64> {
    let last_mailed: Option<Day> =
        sqlx::query_scalar("SELECT MAX(report_date) FROM mailed_figures")
            .fetch_one(&mut *conn)
            .await
            .context("cannot read the last day mailed")?;
    let day = match last_mailed.map(NaiveDate::from) {
        None => None,
        Some(last) if seen <= last => Some(last.succ_opt().unwrap_or(last)),
        Some(_) => Some(seen),
    };
    let (key, day_of) = match day {
        Some(d) => (format!("{REFUND_ID}@{d}"), format!("'{d}'")),
        None => (REFUND_ID.to_string(), "o.day".to_string()),
    };
    // `day_of` is a date this function formatted, or a column name: never text from outside.
    let sql = format!(
        "INSERT INTO refunds (order_id, refund_id, day, amount, units) \
         SELECT t.order_id, $1, {day_of}, t.amount - COALESCE((SELECT SUM(r.amount) \
           FROM refunds r WHERE r.order_id = t.order_id AND r.refund_id LIKE '{REFUND_ID}%'), 0), \
           NULL \
         FROM shopify_refund_totals t JOIN orders o ON o.order_id = t.order_id \
         WHERE ABS(t.amount - COALESCE((SELECT SUM(r.amount) FROM refunds r \
           WHERE r.order_id = t.order_id AND r.refund_id LIKE '{REFUND_ID}%'), 0)) >= 0.005 \
         ON CONFLICT (order_id, refund_id) DO UPDATE SET amount = refunds.amount + excluded.amount"
    );
    let written = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .execute(&mut *conn)
        .await
        .context("cannot date the export's refunds")?
        .rows_affected();
    sqlx::query("DELETE FROM shopify_refund_totals")
        .execute(&mut *conn)
        .await
        .context("cannot clear the export's refund totals")?;
    Ok(written)
}
