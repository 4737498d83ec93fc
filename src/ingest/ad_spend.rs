//! What the ad platforms' reports share: where a row keeps its cost, impressions and
//! clicks, and the spend summed per campaign and day into `ad_spend`.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

use super::load::{Rows, Target};
use super::source::cell;
use super::values::{export_count, export_number, sum_counts};
use crate::schema;
use crate::store::write::SqlValue::{Float, Int, Text};

/// An ad report's one table.
pub(super) static TARGETS: [Target; 1] = [Target::upsert(&schema::AD_SPEND)];

/// Spend per (day, campaign), summed over the rows of a report, and written at its end.
#[derive(Debug, Default)]
pub(super) struct SpendSums(BTreeMap<(String, String), Spend>);

impl SpendSums {
    pub(super) fn add(
        &mut self,
        day: chrono::NaiveDate,
        campaign: &str,
        spend: Spend,
    ) -> Result<()> {
        self.0
            .entry((day.to_string(), campaign.to_string()))
            .or_default()
            .add(spend)
    }

    /// The ad_spend rows, one per campaign and day, for `channel`.
    pub(super) fn finish(&mut self, channel: &str, out: &mut Rows) {
        spend_rows(channel, std::mem::take(&mut self.0), out);
    }
}

/// Where an ad report keeps a row's cost, impressions and clicks, and their names.
pub(super) struct SpendColumns {
    pub cost: (usize, String),
    pub impressions: (usize, &'static str),
    pub clicks: (Option<usize>, &'static str),
}

impl SpendColumns {
    /// A row's figures: no value (`--`, empty) is none; a negative cost is refused.
    pub(super) fn read(&self, r: &csv::StringRecord) -> Result<Spend> {
        let (i, name) = &self.cost;
        let cost = export_number(cell(r, Some(*i)))
            .map_err(|e| anyhow!("column `{name}`: {e}"))?
            .unwrap_or(0.0);
        if cost < 0.0 {
            bail!("column `{name}`: {cost} is below 0");
        }
        let count = |(i, name): (Option<usize>, &str)| {
            export_count(cell(r, i))
                .map_err(|e| anyhow!("column `{name}`: {e}"))
                .map(|v| v.unwrap_or(0))
        };
        Ok(Spend {
            cost,
            impressions: count((Some(self.impressions.0), self.impressions.1))?,
            clicks: count(self.clicks)?,
        })
    }
}

/// One campaign's day, summed over the report's rows (a report segmented by network has
/// several).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Spend {
    pub cost: f64,
    pub impressions: i64,
    pub clicks: i64,
}

impl Spend {
    pub(super) fn add(&mut self, other: Spend) -> Result<()> {
        self.cost += other.cost;
        self.impressions = sum_counts(self.impressions, other.impressions)
            .map_err(|e| anyhow!("impressions: {e}"))?;
        self.clicks = sum_counts(self.clicks, other.clicks).map_err(|e| anyhow!("clicks: {e}"))?;
        Ok(())
    }
}

/// Ad spend rows, one per campaign and day, in the ad_spend table's column order.
fn spend_rows(channel: &str, sums: BTreeMap<(String, String), Spend>, out: &mut Rows) {
    for ((day, campaign), s) in sums {
        // Sums of cents in binary floating point: round back to cents.
        let cost = (s.cost * 100.0).round() / 100.0;
        out.push((
            0,
            vec![
                Text(day),
                Text(channel.to_string()),
                Text(campaign),
                Float(cost),
                Int(s.impressions),
                Int(s.clicks),
            ],
        ));
    }
}
