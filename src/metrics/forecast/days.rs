//! The history as arrays by day index from its first day: orders, weekdays, which days are
//! open and which are ordinary. What the smoothing and the range read. Pure.

use std::collections::BTreeMap;

use chrono::{Datelike, Days as Span, NaiveDate};

use super::CampaignSpan;
use crate::metrics::calendar::Calendar;

/// A campaign day counts as an ordinary day when campaigns ran on more than [`ALWAYS_ON`] of
/// the [`ALWAYS_ON_DAYS`] before it: for a shop that always runs one, campaigns are ordinary.
const ALWAYS_ON: usize = 21;
const ALWAYS_ON_DAYS: usize = 28;

/// The history as arrays by day index from its first day: what the smoothing and the range
/// read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Days {
    pub(super) first: Option<NaiveDate>,
    /// Orders per day; a day with no row had none.
    pub(super) orders: Vec<f64>,
    /// Monday = 0.
    pub(super) weekday: Vec<usize>,
    /// Open on the trading calendar.
    pub(super) open: Vec<bool>,
    /// Ordinary: open, and no campaign ran (unless campaigns always run). What the state
    /// learns from and what the range's errors are read on.
    pub(super) used: Vec<bool>,
    /// Open days up to and including each day.
    pub(super) open_so_far: Vec<u32>,
}

impl Days {
    pub(super) fn new(
        orders: &BTreeMap<NaiveDate, f64>,
        campaigns: &[CampaignSpan],
        cal: &Calendar,
    ) -> Days {
        let (Some(first), Some(last)) = (orders.keys().next(), orders.keys().next_back()) else {
            return Days::default();
        };
        let dates: Vec<NaiveDate> = first.iter_days().take_while(|d| d <= last).collect();
        let open: Vec<bool> = dates.iter().map(|d| cal.is_open(*d)).collect();
        let mut on_campaign = vec![false; dates.len()];
        for c in campaigns {
            let from = c.start.max(*first);
            for d in from.iter_days().take_while(|d| *d <= c.end.min(*last)) {
                on_campaign[(d - *first).num_days() as usize] = true;
            }
        }
        let mut campaigns_so_far = vec![0usize; dates.len() + 1];
        for (i, c) in on_campaign.iter().enumerate() {
            campaigns_so_far[i + 1] = campaigns_so_far[i] + usize::from(*c);
        }
        let used = (0..dates.len())
            .map(|i| {
                let before =
                    campaigns_so_far[i] - campaigns_so_far[i.saturating_sub(ALWAYS_ON_DAYS)];
                open[i] && (!on_campaign[i] || before > ALWAYS_ON)
            })
            .collect();
        let open_so_far = open
            .iter()
            .scan(0u32, |n, o| {
                *n += u32::from(*o);
                Some(*n)
            })
            .collect();
        Days {
            first: Some(*first),
            orders: dates
                .iter()
                .map(|d| orders.get(d).copied().unwrap_or(0.0))
                .collect(),
            weekday: dates.iter().map(|d| weekday(*d)).collect(),
            open,
            used,
            open_so_far,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// Open days after day `from` up to and including day `to` (both in the history).
    pub(crate) fn steps(&self, from: usize, to: usize) -> u32 {
        self.open_so_far[to] - self.open_so_far[from]
    }

    pub(super) fn index(&self, d: NaiveDate) -> Option<usize> {
        let i = usize::try_from((d - self.first?).num_days()).ok()?;
        (i < self.len()).then_some(i)
    }

    pub(super) fn date(&self, i: usize) -> Option<NaiveDate> {
        self.first?.checked_add_days(Span::new(i as u64))
    }
}

pub(super) fn weekday(d: NaiveDate) -> usize {
    d.weekday().num_days_from_monday() as usize
}
