//! Which import format last fed each table: tables one export fills together (a Shopify
//! orders export's orders, shipments and refunds) are judged together for freshness.

use super::*;

impl Store {
    /// Records that `format` fed each of `tables` (whether or not this file had rows for
    /// it: an export with no shipment that day still is the shipments' source).
    pub async fn record_feeds(&self, format: &str, tables: &[&str], at: i64) -> Result<()> {
        for t in tables {
            sqlx::query(
                "INSERT INTO feeds (tbl, format, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tbl) DO UPDATE SET format = excluded.format, \
                 updated_at = excluded.updated_at",
            )
            .bind(*t)
            .bind(format)
            .bind(at)
            .execute(&self.pool)
            .await
            .with_context(|| format!("cannot record what feeds {t}"))?;
        }
        Ok(())
    }

    /// Each table's last feeding format.
    pub async fn feeds(&self) -> Result<BTreeMap<String, String>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT tbl, format FROM feeds ORDER BY tbl LIMIT 1000")
                .fetch_all(&self.reader)
                .await
                .context("cannot read what feeds each table")?;
        Ok(rows.into_iter().collect())
    }
}
