//! The Google Ads campaign report as the web interface downloads it (CSV): a title line and
//! a date-range line before the header, `Total: …` rows at the end, `--` for no value, and
//! thousands separators inside quoted numbers; some downloads are tab-separated.

use anyhow::{Result, anyhow, bail};

use super::ad_spend::{SpendColumns, SpendSums, TARGETS};
use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::export_day;

pub(super) static CAMPAIGNS_EXPORT: ExportFormat = ExportFormat {
    name: "google-ads",
    expects: "Google Ads campaign report with a Day segment, downloaded as CSV: Day, \
              Campaign, Cost, Impr., Clicks",
    matches,
    open: |h, opts| Ok(Box::new(Campaigns::new(h, opts)?)),
};

fn matches(h: &Header) -> bool {
    has_all(h, &["Day", "Campaign", "Cost", "Clicks"])
        && (has_all(h, &["Impr."]) || has_all(h, &["Impressions"]))
}

struct Campaigns {
    channel: String,
    currency: String,
    day: usize,
    campaign: usize,
    spend: SpendColumns,
    currency_code: Option<usize>,
    sums: SpendSums,
}

impl Campaigns {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Campaigns> {
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
