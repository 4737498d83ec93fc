//! The headline figures of each report date as they were mailed: what a later import that
//! changes a mailed day is measured against, once.

use super::*;
use crate::metrics::inputs::MailedFigure;

impl Store {
    /// The figures mailed for the days `first..=last`.
    pub async fn mailed_figures(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<MailedFigure>> {
        let rows: Vec<(Day, String, f64)> = sqlx::query_as(
            "SELECT report_date, metric, value FROM mailed_figures \
             WHERE report_date BETWEEN $1 AND $2 ORDER BY report_date, metric LIMIT 10000",
        )
        .bind(Day(first))
        .bind(Day(last))
        .fetch_all(&self.reader)
        .await
        .context("cannot read the figures already mailed")?;
        Ok(rows.into_iter().map(|(d, m, v)| (d.0, m, v)).collect())
    }

    /// Records a report date's figures as mailed, where they were not already (the first
    /// mailing stands); and the revised ones as now told, so each revision is said once.
    pub async fn record_mailed(
        &self,
        date: NaiveDate,
        figures: &[(String, f64)],
        revised: &[MailedFigure],
        at: i64,
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("cannot record mailed figures")?;
        for (metric, value) in figures.iter().filter(|(_, v)| v.is_finite()) {
            sqlx::query(
                "INSERT INTO mailed_figures (report_date, metric, value, mailed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (report_date, metric) DO NOTHING",
            )
            .bind(Day(date))
            .bind(metric.as_str())
            .bind(*value)
            .bind(at)
            .execute(&mut *tx)
            .await
            .context("cannot record mailed figures")?;
        }
        for (day, metric, value) in revised.iter().filter(|(_, _, v)| v.is_finite()) {
            sqlx::query(
                "UPDATE mailed_figures SET value = $3, mailed_at = $4 \
                 WHERE report_date = $1 AND metric = $2",
            )
            .bind(Day(*day))
            .bind(metric.as_str())
            .bind(*value)
            .bind(at)
            .execute(&mut *tx)
            .await
            .context("cannot record revised figures")?;
        }
        tx.commit().await.context("cannot record mailed figures")?;
        Ok(())
    }
}
