//! GA4's CSV download of a traffic acquisition report with a Date dimension: `#` lines
//! (report name, property, date range) before the header, then one row per channel group
//! and day. Channel groups map to the shop's channels through [`super::options::DEFAULT_CHANNELS`], which
//! `[import.channels]` in the config overrides.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::{export_count, export_day, sum_counts};
use crate::schema::{ColType, TableSpec, col};
use crate::store::write::SqlValue;

pub(super) static TRAFFIC_EXPORT: ExportFormat = ExportFormat {
    name: "ga4-traffic",
    expects: "GA4 Reports > Acquisition > Traffic acquisition, with a Date dimension, \
              downloaded as CSV: Session … channel group, Date, Sessions",
    matches,
    open: |h, opts| Ok(Box::new(Traffic::new(h, opts)?)),
};

fn matches(h: &Header) -> bool {
    has_all(h, &["Date", "Sessions"]) && h.iter().any(|c| is_channel_group(c))
}

fn is_channel_group(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h.contains("channel group")
}

/// Sessions only: the acquisition report has no product views, carts or checkouts, and an
/// upsert of these columns leaves those of another source as they are.
const SESSIONS: TableSpec = TableSpec {
    name: "traffic",
    columns: &[
        col("day", ColType::Day),
        col("channel", ColType::Text),
        col("sessions", ColType::Int { min: 0 }),
    ],
    key: &["day", "channel"],
    refs: &[],
};
static TARGETS: [Target; 1] = [Target::upsert(&SESSIONS)];

struct Traffic {
    opts: ImportOptions,
    date: usize,
    channel: usize,
    sessions: usize,
    /// Sessions per (day, shop channel): several channel groups may map to one channel.
    sums: BTreeMap<(String, String), i64>,
}

impl Traffic {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Traffic> {
        let c = Columns::new(h);
        let channel = c
            .only("channel groups", is_channel_group)?
            .ok_or_else(|| anyhow!("missing column `Session default channel group`"))?;
        Ok(Traffic {
            opts: opts.clone(),
            date: c.require(&["Date"])?,
            channel,
            sessions: c.require(&["Sessions"])?,
            sums: BTreeMap::new(),
        })
    }
}

impl Preset for Traffic {
    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn record(&mut self, r: &csv::StringRecord, _out: &mut Rows) -> Result<()> {
        let group = cell(r, Some(self.channel));
        if group.is_empty() {
            bail!("column `{}`: a value is required", "channel group");
        }
        let day =
            export_day(cell(r, Some(self.date))).map_err(|e| anyhow!("column `Date`: {e}"))?;
        let sessions = export_count(cell(r, Some(self.sessions)))
            .map_err(|e| anyhow!("column `Sessions`: {e}"))?
            .unwrap_or(0);
        let sum = self
            .sums
            .entry((day.to_string(), self.opts.channel(group)))
            .or_default();
        *sum = sum_counts(*sum, sessions).map_err(|e| anyhow!("column `Sessions`: {e}"))?;
        Ok(())
    }

    fn finish(&mut self, out: &mut Rows) -> Result<()> {
        for ((day, channel), sessions) in std::mem::take(&mut self.sums) {
            out.push((
                0,
                vec![
                    SqlValue::Text(day),
                    SqlValue::Text(channel),
                    SqlValue::Int(sessions),
                ],
            ));
        }
        Ok(())
    }
}
