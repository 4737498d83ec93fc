//! What an import is told besides the file: the store's zone, the shop's currency and
//! channels, the day it serves, whether it only checks, and when it runs.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

/// What an import needs besides the file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The store's time zone: local times and days are read in it.
    pub tz: Tz,
    /// The shop's currency code: an ad export in another currency is refused.
    pub currency: String,
    /// Source channel names (GA4 channel groups, "Google Ads", "Meta Ads") to the shop's
    /// channels, over [`DEFAULT_CHANNELS`].
    pub channels: BTreeMap<String, String>,
    /// The day a stock snapshot (Shopify products' inventory) is for.
    pub day: NaiveDate,
    /// Validate and report only; write nothing.
    pub check: bool,
    /// When the import runs (epoch seconds), for the store's note of what fed each table:
    /// the clock is read by the caller, at the edge.
    pub at: i64,
    /// How a long import shows its progress.
    pub progress: crate::progress::Style,
}

impl ImportOptions {
    /// The options a shop's config gives, with `day` for stock snapshots.
    pub fn from_config(
        config: &crate::config::Config,
        day: NaiveDate,
        check: bool,
        at: i64,
    ) -> Self {
        ImportOptions {
            tz: config.shop.timezone,
            currency: config.shop.currency.clone(),
            channels: config.channels.clone(),
            day,
            check,
            at,
            progress: crate::progress::Style::Hidden,
        }
    }

    /// The shop channel for a source's channel name.
    pub fn channel(&self, source: &str) -> String {
        self.channels
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(source))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| default_channel(source))
    }
}

/// GA4's default channel groups (and the ad platforms' names) to shop channels. A name not
/// here becomes its own channel, in lower case with `_` for spaces.
const DEFAULT_CHANNELS: [(&str, &str); 22] = [
    ("Direct", "direct"),
    ("Organic Search", "organic"),
    ("Organic Social", "organic_social"),
    ("Organic Video", "organic_video"),
    ("Organic Shopping", "organic_shopping"),
    ("Paid Search", "paid_search"),
    ("Paid Shopping", "paid_shopping"),
    ("Paid Social", "paid_social"),
    ("Paid Video", "paid_video"),
    ("Paid Other", "paid_other"),
    ("Cross-network", "cross_network"),
    ("Display", "display"),
    ("Email", "email"),
    ("SMS", "sms"),
    ("Mobile Push Notifications", "push"),
    ("Referral", "referral"),
    ("Affiliates", "affiliates"),
    ("Audio", "audio"),
    ("Unassigned", "unassigned"),
    ("(other)", "other"),
    ("Google Ads", "paid_search"),
    ("Meta Ads", "paid_social"),
];

/// The shop channel for a source's name when the config does not say.
fn default_channel(source: &str) -> String {
    DEFAULT_CHANNELS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(source))
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| slug(source))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_groups_map_to_shop_channels() {
        assert_eq!(default_channel("Organic Search"), "organic");
        assert_eq!(default_channel("paid social"), "paid_social");
        assert_eq!(default_channel("Partner Sites (EU)"), "partner_sites_eu");
    }
}
