//! Customer type from history: where a file gives none, an order is `new` when it is the
//! customer's first (not cancelled) order in the store, and `returning` otherwise. Guest
//! orders, with no customer, are neither: the rollup counts them apart.

use anyhow::{Context, Result};
use sqlx::AnyConnection;

/// Sets `derived_type` on the orders, of customers with an order on a day this import
/// changed, whose type the file left out. Only rows whose type changes are written, so the
/// rollup triggers mark only days whose new-customer count may differ.
///
/// The days this import changed are the days marked for a rollup rebuild: an earlier order
/// arriving late turns the customer's later orders to `returning`, and its day is marked.
pub async fn derive_customer_types(conn: &mut AnyConnection) -> Result<u64> {
    let sql = "UPDATE orders SET derived_type = x.t FROM ( \
        SELECT o.order_id AS order_id, CASE WHEN EXISTS ( \
            SELECT 1 FROM orders e WHERE e.customer_id = o.customer_id \
              AND e.status <> 'cancelled' \
              AND (e.placed_at < o.placed_at OR (e.placed_at = o.placed_at AND e.order_id < o.order_id)) \
          ) THEN 'returning' ELSE 'new' END AS t \
        FROM orders o \
        WHERE o.customer_type IS NULL AND o.customer_id IN ( \
          SELECT c.customer_id FROM orders c \
          WHERE c.customer_id IS NOT NULL AND c.day IN (SELECT day FROM rollup_dirty)) \
      ) x \
      WHERE orders.order_id = x.order_id AND orders.derived_type IS DISTINCT FROM x.t";
    let done = sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .context("cannot derive customer types from order history")?;
    Ok(done.rows_affected())
}
