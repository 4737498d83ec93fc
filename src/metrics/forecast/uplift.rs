//! What campaigns do to the forecast: the lift each past campaign showed against the
//! baseline known the day before it, averaged per channel and shrunk toward no lift by
//! [`PRIOR`]; and the largest past lift, which bounds the top of a campaign day's range.

use std::collections::BTreeMap;

use chrono::{Days as Span, NaiveDate};

use super::History;

/// The weight, in campaigns, of the prior belief that a campaign lifts nothing.
pub const PRIOR: f64 = 1.0;
/// Past campaigns that started longer ago than this do not inform the uplift.
pub const CAMPAIGN_LOOKBACK_DAYS: u64 = 400;
/// A campaign as the forecast sees it: when and on which channel.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpan {
    pub name: String,
    pub channel: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The lift marketing stated for it (1.3 for 30% more orders), which takes the place of
    /// what its channel's past campaigns say.
    pub stated: Option<f64>,
}

impl CampaignSpan {
    pub fn runs_on(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }
}

/// What past campaigns on one channel say about the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplift {
    pub channel: String,
    /// Past campaigns with days of data: their number, and their mean lift before shrinking.
    pub campaigns: usize,
    pub raw: Option<f64>,
    /// The factor applied: 1 without past campaigns.
    pub lift: f64,
    /// Whether `lift` is the one marketing stated for a campaign, not the past's.
    pub stated: bool,
}

/// The observed lift of each campaign that `keep` keeps and that started in the
/// [`CAMPAIGN_LOOKBACK_DAYS`] up to `origin`: orders on its open days up to `origin` against
/// the baseline known the day before each.
fn past_lifts(h: &History, origin: NaiveDate, keep: impl Fn(&CampaignSpan) -> bool) -> Vec<f64> {
    let oldest = origin - Span::new(CAMPAIGN_LOOKBACK_DAYS);
    h.campaigns
        .iter()
        .filter(|c| keep(c) && c.start <= origin && c.start >= oldest)
        .filter_map(|c| {
            let (mut actual, mut base) = (0.0, 0.0);
            for d in c.start.iter_days().take_while(|d| *d <= c.end.min(origin)) {
                let (Some(a), Some(b)) = (h.orders(d), h.one_step(d)) else {
                    continue;
                };
                if !h.calendar.is_open(d) {
                    continue;
                }
                actual += a;
                base += b;
            }
            (base > 0.0).then(|| actual / base)
        })
        .collect()
}

/// The observed lift of campaigns on `channel` whose days fall on or before `origin`,
/// averaged and shrunk toward 1 by [`PRIOR`].
pub fn uplift(h: &History, origin: NaiveDate, channel: &str) -> Uplift {
    let lifts = past_lifts(h, origin, |c| c.channel == channel);
    let n = lifts.len();
    let raw = (n > 0).then(|| lifts.iter().sum::<f64>() / n as f64);
    let lift = raw.map_or(1.0, |r| 1.0 + (r - 1.0) * n as f64 / (n as f64 + PRIOR));
    Uplift {
        channel: channel.to_string(),
        campaigns: n,
        raw,
        lift,
        stated: false,
    }
}

/// Uplifts by origin and channel, and the largest past lift by origin, each worked out once.
#[derive(Debug, Default)]
pub(super) struct Lifts {
    uplifts: BTreeMap<(NaiveDate, String), Uplift>,
    largest: BTreeMap<NaiveDate, f64>,
}

impl Lifts {
    /// The largest lift any past campaign showed by `origin`, on any channel (at least 1): how
    /// far a campaign may lift orders, for the top of its range.
    pub(super) fn largest(&mut self, h: &History, origin: NaiveDate) -> f64 {
        *self.largest.entry(origin).or_insert_with(|| {
            past_lifts(h, origin, |_| true)
                .into_iter()
                .fold(1.0, f64::max)
        })
    }
}

/// The lift stated for the campaigns on `channel` that run together, the largest where
/// several state one: marketing knows its plan better than the past does.
fn stated(campaigns: &[CampaignSpan], channel: &str) -> Option<f64> {
    campaigns
        .iter()
        .filter(|c| c.channel == channel)
        .filter_map(|c| c.stated)
        .filter(|l| l.is_finite() && *l > 0.0)
        .reduce(f64::max)
}

/// The product of the uplifts of the channels with a campaign on `target`, as known on
/// `origin`, with those uplifts and the campaigns.
pub(super) fn lift(
    h: &History,
    origin: NaiveDate,
    target: NaiveDate,
    known: &mut Lifts,
) -> (f64, Vec<Uplift>, Vec<CampaignSpan>) {
    let campaigns: Vec<CampaignSpan> = h
        .campaigns
        .iter()
        .filter(|c| c.runs_on(target))
        .cloned()
        .collect();
    let mut channels: Vec<&str> = campaigns.iter().map(|c| c.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let uplifts: Vec<Uplift> = channels
        .iter()
        .map(|ch| {
            let past = known
                .uplifts
                .entry((origin, ch.to_string()))
                .or_insert_with(|| uplift(h, origin, ch))
                .clone();
            stated(&campaigns, ch).map_or(past.clone(), |lift| Uplift {
                lift,
                stated: true,
                ..past
            })
        })
        .collect();
    let factor = uplifts.iter().map(|u| u.lift).product::<f64>();
    (factor, uplifts, campaigns)
}
