//! The Meta Ads Manager export (Reports > Export table data, CSV) with a daily breakdown:
//! `Reporting starts`, `Reporting ends`, `Campaign name`, `Amount spent (CUR)` (the
//! currency code is part of the header), `Impressions`, `Link clicks`.

use anyhow::{Result, anyhow, bail};

use super::ad_spend::{SpendColumns, SpendSums, TARGETS};
use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::export_day;

pub(super) static CAMPAIGNS_EXPORT: ExportFormat = ExportFormat {
    name: "meta-ads",
    expects: "Meta Ads Manager export with Breakdown > By time > Day: Reporting starts, \
              Campaign name, Amount spent (CUR), Impressions, Link clicks",
    matches,
    open: |h, opts| Ok(Box::new(Campaigns::new(h, opts)?)),
};

fn matches(h: &Header) -> bool {
    has_all(h, &["Reporting starts", "Campaign name", "Impressions"])
        && h.iter()
            .any(|c| c.to_ascii_lowercase().starts_with("amount spent"))
}

struct Campaigns {
    channel: String,
    starts: usize,
    ends: Option<usize>,
    day: Option<usize>,
    campaign: usize,
    spend: SpendColumns,
    sums: SpendSums,
}

impl Campaigns {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Campaigns> {
        let c = Columns::new(h);
        let (spent, spent_name) = c
            .starting("Amount spent")?
            .ok_or_else(|| anyhow!("missing column `Amount spent (CUR)`"))?;
        // `Amount spent (EUR)`: the currency is the header's.
        if let Some(code) = spent_name
            .rsplit_once('(')
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            && !opts.currency.is_empty()
            && !code.trim().eq_ignore_ascii_case(&opts.currency)
        {
            bail!(
                "column `{spent_name}`: amounts are in {code}, but the shop's currency is {}",
                opts.currency
            );
        }
        Ok(Campaigns {
            channel: opts.channel("Meta Ads"),
            starts: c.require(&["Reporting starts"])?,
            ends: c.find(&["Reporting ends"])?,
            day: c.find(&["Day"])?,
            campaign: c.require(&["Campaign name"])?,
            spend: SpendColumns {
                cost: (spent, spent_name.to_string()),
                impressions: (c.require(&["Impressions"])?, "Impressions"),
                clicks: (c.find(&["Link clicks"])?, "Link clicks"),
            },
            sums: SpendSums::default(),
        })
    }
}

impl Preset for Campaigns {
    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn record(&mut self, r: &csv::StringRecord, _out: &mut Rows) -> Result<()> {
        let campaign = cell(r, Some(self.campaign));
        if campaign.is_empty() {
            // The summary row Ads Manager puts above the campaigns.
            return Ok(());
        }
        let day = match cell(r, self.day) {
            "" => {
                let starts = cell(r, Some(self.starts));
                let ends = cell(r, self.ends);
                if !ends.is_empty() && ends != starts {
                    bail!(
                        "this row covers {starts} to {ends}, and dawnpost needs one row per \
                         day: in Ads Manager choose Breakdown > By time > Day, then export again"
                    );
                }
                export_day(starts).map_err(|e| anyhow!("column `Reporting starts`: {e}"))?
            }
            d => export_day(d).map_err(|e| anyhow!("column `Day`: {e}"))?,
        };
        self.sums.add(day, campaign, self.spend.read(r)?)
    }

    fn finish(&mut self, out: &mut Rows) -> Result<()> {
        self.sums.finish(&self.channel, out);
        Ok(())
    }
}
