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
        let rows: Vec<(String, String, f64)> = sqlx::query_as(
            "SELECT report_date, metric, value FROM mailed_figures \
             WHERE report_date BETWEEN $1 AND $2 ORDER BY report_date, metric LIMIT 10000",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.reader)
        .await
        .context("cannot read the figures already mailed")?;
        rows.into_iter()
            .map(|(d, m, v)| {
                let d = d
                    .parse()
                    .with_context(|| format!("mailed_figures: bad day {d:?}"))?;
                Ok((d, m, v))
            })
            .collect()
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
            .bind(date.to_string())
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
            .bind(day.to_string())
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
