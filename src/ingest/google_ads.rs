//! The Google Ads campaign report as the web interface downloads it (CSV): a title line and
//! a date-range line before the header, `Total: …` rows at the end, `--` for no value, and
//! thousands separators inside quoted numbers; some downloads are tab-separated.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

use super::ImportOptions;
use super::preset::{Preset, Rows, Target};
use super::source::{Columns, Header, cell, has_all};
use super::values::{export_count, export_day, export_number, sum_counts};
use crate::schema;

pub(super) fn matches(h: &Header) -> bool {
    has_all(h, &["Day", "Campaign", "Cost", "Clicks"])
        && (has_all(h, &["Impr."]) || has_all(h, &["Impressions"]))
}

static TARGETS: [Target; 1] = [Target::upsert(&schema::AD_SPEND)];

pub(super) struct Campaigns {
    channel: String,
    currency: String,
    day: usize,
    campaign: usize,
    spend: SpendColumns,
    currency_code: Option<usize>,
    sums: SpendSums,
}

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

impl Campaigns {
    pub(super) fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Campaigns> {
        let c = Columns::new(h);
        Ok(Campaigns {
            channel: opts.channel("Google Ads"),
            currency: opts.currency.clone(),
            day: c.require(&["Day"])?,
            campaign: c.require(&["Campaign"])?,
            spend: SpendColumns {
                cost: (c.require(&["Cost"])?, "Cost".into()),
                impressions: (c.require(&["Impr.", "Impressions"])?, "Impr."),
                clicks: (Some(c.require(&["Clicks"])?), "Clicks"),
            },
            currency_code: c.find(&["Currency code", "Currency"])?,
            sums: SpendSums::default(),
        })
    }
}

impl Preset for Campaigns {
    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    /// `Total: Account`, `Total: Campaigns`, `Total: Search`, … in the first column, with no
    /// day (or the label itself where Day is the first column). A campaign may be named
    /// `Total Brand Awareness`, or even `Total: …`, but it has a day.
    fn is_totals(&self, r: &csv::StringRecord) -> bool {
        let first = r.get(0).unwrap_or("").trim();
        let day = cell(r, Some(self.day));
        first.starts_with("Total:") && (day.is_empty() || day == first)
    }

    fn record(&mut self, r: &csv::StringRecord, _out: &mut Rows) -> Result<()> {
        let code = cell(r, self.currency_code);
        if !code.is_empty()
            && !self.currency.is_empty()
            && !code.eq_ignore_ascii_case(&self.currency)
        {
            bail!(
                "column `Currency code`: costs are in {code}, but the shop's currency is {}",
                self.currency
            );
        }
        let day = export_day(cell(r, Some(self.day))).map_err(|e| anyhow!("column `Day`: {e}"))?;
        let campaign = cell(r, Some(self.campaign));
        if campaign.is_empty() {
            bail!("column `Campaign`: a value is required");
        }
        self.sums.add(day, campaign, self.spend.read(r)?)
    }

    fn finish(&mut self, out: &mut Rows) -> Result<()> {
        self.sums.finish(&self.channel, out);
        Ok(())
    }
}

/// Ad spend rows, one per campaign and day, in the ad_spend table's column order.
fn spend_rows(channel: &str, sums: BTreeMap<(String, String), Spend>, out: &mut Rows) {
    use crate::store::write::SqlValue::{Float, Int, Text};
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
