//! "Coming up": the campaign calendar of the days ahead with each promoted SKU's cover, and
//! the orders expected each day against capacity, as the email words them.

use super::alerts::channel_words;
use super::*;
use crate::metrics::forecast::{self, DayForecast, RangeSource};
use crate::metrics::preflight::Confirmed;

/// Campaigns and SKUs listed at most; the rest are counted.
const CAMPAIGNS_LISTED: usize = 8;
const SKUS_LISTED: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct Outlook {
    /// "Coming up: Wed 2 Dec to Tue 8 Dec".
    pub title: String,
    pub campaigns: Vec<CampaignView>,
    /// What the calendar says when it is empty, or how many more campaigns there are.
    pub campaigns_note: String,
    pub days: Vec<ForecastRow>,
    /// How the expectation and its range were worked out.
    pub forecast_note: String,
    /// Why there is no forecast; empty when there is one.
    pub no_forecast: String,
    /// Whether any capacity is known (planned, or recorded for a past day): without it the
    /// table has no capacity column and its title does not name capacity.
    pub has_capacity: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    pub name: String,
    pub channel: String,
    /// "2 Dec - 5 Dec".
    pub dates: String,
    /// "starts Thu 3 Dec" or "running, ends Sat 5 Dec".
    pub when: String,
    /// "+12% orders expected, from 1 past email campaign", or "no past campaign to
    /// estimate from".
    pub lift: String,
    /// "✓ confirmed by operations: extra shift booked", "not confirmed by operations".
    pub handoff: String,
    /// good when confirmed for the plan as it is, bad otherwise.
    pub handoff_tone: &'static str,
    pub skus: Vec<SkuCover>,
    /// "and 3 more SKUs"; empty when all are listed.
    pub more_skus: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkuCover {
    pub sku: String,
    pub product: String,
    /// "4.0 days of cover", "no stock", "no recent sales", "no stock data".
    pub cover: String,
    /// "5 days left".
    pub remaining: String,
    /// bad: runs out before the campaign ends; good: lasts it; neutral: cannot tell.
    pub tone: &'static str,
    /// "✗ runs short" / "✓ lasts": the cue besides colour.
    pub verdict: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForecastRow {
    /// "Thu 3 Dec".
    pub day: String,
    pub expected: String,
    /// "170-196".
    pub range: String,
    /// "250", or "250 (assumed)"; "n/a" without any capacity row.
    pub capacity: String,
    /// The top of the range as a share of capacity: "up to 92%".
    pub share: String,
    /// bad when the day raised a capacity alert, plain otherwise.
    pub tone: &'static str,
    /// The campaigns running that day.
    pub campaigns: String,
    /// "closed (Christmas)" on a day the shop is closed, in place of the figures; empty on
    /// an open day.
    pub closed: String,
}

pub(super) fn build(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    ahead: &[DayForecast],
    f: &Formatter,
) -> Outlook {
    let first = d + Days::new(1);
    let last = d + Days::new(u64::from(config.outlook.days));
    let coming: Vec<&alert::Promotion> = inputs
        .promotions
        .iter()
        .filter(|p| p.end >= first && p.start <= last)
        .collect();
    // A lift read from a handful of orders means nothing: the same gate as the forecast.
    let liftable = forecast::forecastable(&inputs.history, d).is_ok();
    let campaigns: Vec<CampaignView> = coming
        .iter()
        .take(CAMPAIGNS_LISTED)
        .map(|p| campaign_view(p, first, liftable, inputs, f))
        .collect();
    let campaigns_note = match coming.len() {
        0 => format!("No campaigns in the next {} days.", config.outlook.days),
        n if n > CAMPAIGNS_LISTED => format!("And {} more campaigns.", n - CAMPAIGNS_LISTED),
        _ => String::new(),
    };
    Outlook {
        title: format!(
            "Coming up: {} to {}",
            forecast::day_label(first),
            forecast::day_label(last)
        ),
        campaigns,
        campaigns_note,
        days: ahead
            .iter()
            .map(|day| forecast_row(day, config, &inputs.capacity_plan, f))
            .collect(),
        forecast_note: forecast_note(ahead),
        no_forecast: no_forecast(inputs, d, ahead),
        has_capacity: has_capacity(inputs),
    }
}

fn campaign_view(
    p: &alert::Promotion,
    first: NaiveDate,
    liftable: bool,
    inputs: &DigestInputs,
    f: &Formatter,
) -> CampaignView {
    let from = p.start.max(first);
    let remaining = (p.end - from).num_days() + 1;
    let u = forecast::uplift(&inputs.history, first - Days::new(1), &p.channel);
    let channel = channel_words(&p.channel);
    let stated = inputs
        .history
        .campaigns()
        .iter()
        .find(|c| c.name == p.campaign)
        .and_then(|c| c.stated);
    let lift = match u.campaigns {
        _ if !liftable => "too few orders yet to estimate its lift".to_string(),
        _ if stated.is_some() => format!(
            "{:+.0}% orders expected, as marketing stated",
            (stated.unwrap_or(1.0) - 1.0) * 100.0
        ),
        0 => "no past campaign to estimate from".to_string(),
        n => format!(
            "{:+.0}% orders expected, from {n} past {channel} campaign{}",
            (u.lift - 1.0) * 100.0,
            if n == 1 { "" } else { "s" }
        ),
    };
    let (handoff, handoff_tone) = match inputs.confirmed.get(&p.campaign) {
        Some(Confirmed::Yes(note)) => (
            format!("✓ confirmed by operations: {}", cap(note, text::LABEL)),
            "good",
        ),
        Some(Confirmed::Before) => ("✗ not confirmed since its plan changed".to_string(), "bad"),
        _ => ("✗ not confirmed by operations".to_string(), "bad"),
    };
    CampaignView {
        handoff,
        handoff_tone,
        name: cap(&p.campaign, text::LABEL),
        when: if p.start < first {
            format!("running, ends {}", forecast::day_label(p.end))
        } else {
            format!("starts {}", forecast::day_label(p.start))
        },
        channel,
        dates: span(p.start, p.end),
        lift,
        skus: p
            .skus
            .iter()
            .take(SKUS_LISTED)
            .map(|sku| sku_cover(sku, remaining, inputs, f))
            .collect(),
        more_skus: match p.skus.len().saturating_sub(SKUS_LISTED) {
            0 => String::new(),
            n => format!("and {n} more SKUs"),
        },
    }
}

/// A promoted SKU's days of cover against the days its campaign has left.
fn sku_cover(sku: &str, remaining: i64, inputs: &DigestInputs, f: &Formatter) -> SkuCover {
    let pos = inputs.stock.get(sku);
    let days = |n: f64| f.amount(Unit::Days, n).replace(" d", " days");
    let (cover, tone, verdict) = match pos.map(|p| (p.on_hand, p.days_of_cover())) {
        None | Some((None, _)) => ("no stock data".to_string(), "neutral", ""),
        Some((Some(n), _)) if n <= 0 => ("out of stock".to_string(), "bad", "✗ runs short"),
        Some((Some(_), None)) => ("no recent sales".to_string(), "neutral", ""),
        Some((Some(_), Some(c))) if c < remaining as f64 => {
            (format!("{} of cover", days(c)), "bad", "✗ runs short")
        }
        Some((Some(_), Some(c))) => (format!("{} of cover", days(c)), "good", "✓ lasts"),
    };
    SkuCover {
        sku: cap(sku, text::NAME),
        product: cap(pos.map_or("", |p| p.name.as_str()), text::NAME),
        cover,
        remaining: format!(
            "{remaining} day{} left",
            if remaining == 1 { "" } else { "s" }
        ),
        tone,
        verdict,
    }
}

pub(super) fn forecast_row(
    day: &DayForecast,
    config: &Config,
    capacity_plan: &BTreeMap<NaiveDate, f64>,
    f: &Formatter,
) -> ForecastRow {
    let count = |v: f64| f.amount(Unit::Count, v.round());
    let campaigns = day
        .campaigns
        .iter()
        .map(|c| cap(&c.name, text::LABEL))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(why) = &day.closed {
        return ForecastRow {
            day: forecast::day_label(day.day),
            expected: String::new(),
            range: String::new(),
            capacity: String::new(),
            share: String::new(),
            tone: "plain",
            campaigns,
            closed: closed_words(why),
        };
    }
    let capacity = alert::capacity_on(capacity_plan, day.day);
    let flagged = capacity.is_some_and(|(c, _)| alert::over_threshold(day, c, &config.alerts));
    ForecastRow {
        day: forecast::day_label(day.day),
        expected: count(day.expected),
        range: format!("{}-{}", count(day.low), count(day.high)),
        capacity: match capacity {
            Some((c, true)) => format!("{} (assumed)", count(c)),
            Some((c, false)) => count(c),
            None => "n/a".into(),
        },
        share: match capacity {
            Some((c, _)) if c > 0.0 => format!("up to {}", f.amount(Unit::Percent, day.high / c)),
            _ => String::new(),
        },
        tone: if flagged { "bad" } else { "plain" },
        campaigns,
        closed: String::new(),
    }
}

/// The calendar's "closed for Christmas" as the row says it, "closed (Christmas)"; "closed
/// on Saturdays" stays as it is.
fn closed_words(why: &str) -> String {
    match why.strip_prefix("closed for ") {
        Some(reason) => format!("closed ({})", cap(reason, text::LABEL)),
        None => cap(why, text::LABEL),
    }
}

/// Whether the shop has any capacity figure: a plan, or a past day's capacity.
pub(super) fn has_capacity(inputs: &DigestInputs) -> bool {
    !inputs.capacity_plan.is_empty()
        || inputs
            .fetched
            .get("capacity_utilisation")
            .is_some_and(|by_dim| {
                by_dim
                    .values()
                    .any(|s| s.days.values().any(|r| r.den > 0.0))
            })
}

fn forecast_note(ahead: &[DayForecast]) -> String {
    let open: Vec<&DayForecast> = ahead.iter().filter(|a| a.closed.is_none()).collect();
    let (Some(first), Some(last)) = (open.first(), open.last()) else {
        return String::new();
    };
    let b = &last.baseline;
    let range = match first.range {
        RangeSource::Errors | RangeSource::Closed => format!(
            "the range is where 8 in 10 days fell against the same estimate made about as far ahead, over the last {} weeks",
            forecast::range::ERRORS / 7
        ),
        RangeSource::CountingNoise => {
            "the range is counting noise alone: too little history yet to measure the estimate's own errors"
                .to_string()
        }
    };
    let campaign_top = if open.iter().any(|a| !a.campaigns.is_empty()) {
        ", and on a campaign day its top allows for the largest lift a past campaign showed"
    } else {
        ""
    };
    let carried = if ahead.iter().any(|a| a.closed.is_some()) {
        " Closed days are 0, and the level is carried across them."
    } else {
        ""
    };
    format!(
        "Expected: the recent level of ordinary open days ({:.0} orders a day, smoothed) times each weekday's share, with the trend ({:+.0}% by {}) and each campaign's lift; {range}{campaign_top}.{carried}",
        b.level,
        (b.trend - 1.0) * 100.0,
        forecast::day_label(last.day),
    )
}

fn no_forecast(inputs: &DigestInputs, d: NaiveDate, ahead: &[DayForecast]) -> String {
    if !ahead.is_empty() {
        return String::new();
    }
    match forecast::forecastable(&inputs.history, d) {
        Err(forecast::NoForecast::ShortHistory(0)) => {
            "No expected orders: there is no order history.".into()
        }
        Err(forecast::NoForecast::ShortHistory(known)) => format!(
            "No expected orders yet: {known} days of order history, {} needed.",
            forecast::MIN_HISTORY_DAYS
        ),
        Err(forecast::NoForecast::FewOrders(mean)) => format!(
            "No expected orders: {mean:.1} orders an open day over the last 4 weeks, too few \
             to forecast (from {:.0} a day).",
            forecast::MIN_DAILY_ORDERS
        ),
        Ok(()) => String::new(),
    }
}
