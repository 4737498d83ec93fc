//! What the shop's data covers: the last day of each source, the banner for sources that
//! stopped, the footer for those it never had, and the metrics left out for them.

use super::*;

/// A source with no row in this many days before the report date is not expected to have
/// one: it is named in the footer, not in the "incomplete data" banner.
pub(super) const EXPECTED_WITHIN_DAYS: u64 = 14;

/// The last day of each source that has data; the banner sentence for those that normally
/// have data but stop before the report date; and the footer line for those that have none.
pub(super) fn freshness(inputs: &DigestInputs, d: NaiveDate) -> (Vec<Freshness>, String, String) {
    let recent = d - Days::new(EXPECTED_WITHIN_DAYS);
    // On a closed day nothing is missing that the last open day has: a Saturday without
    // orders in a shop closed on Saturdays is not incomplete data.
    let expected = if inputs.calendar.is_open(d) {
        d
    } else {
        inputs.calendar.open_day_before(d).unwrap_or(d)
    };
    let name = |source: &str| source_name(source).to_string();
    let freshness: Vec<Freshness> = inputs
        .freshness
        .iter()
        .filter_map(|(source, last)| {
            let last = (*last)?;
            Some(Freshness {
                source: name(source),
                last_day: last.format("%-d %b %Y").to_string(),
                // Refunds come when customers ask, not every day: a day without one is
                // not incomplete data.
                stale: last < expected
                    && last >= recent
                    && *source != "refunds"
                    && !fed_with_orders(inputs, source, expected),
            })
        })
        .collect();
    let stale: Vec<String> = freshness
        .iter()
        .filter(|s| s.stale)
        .map(|s| format!("{} (last: {})", s.source, s.last_day))
        .collect();
    let stale_note = if stale.is_empty() {
        String::new()
    } else {
        format!(
            "Incomplete data for {}: {}.",
            d.format("%-d %b"),
            stale.join(", ")
        )
    };
    // Refunds never imported are named too: a shop cannot tell "none given" from "none
    // imported", and "Refunds £0" would claim the first.
    let never: Vec<String> = inputs
        .freshness
        .iter()
        .filter(|(_, last)| last.is_none())
        .map(|(s, _)| name(s))
        .collect();
    let old: Vec<String> = inputs
        .freshness
        .iter()
        .filter(|(_, last)| last.is_some_and(|l| l < recent))
        .map(|(s, _)| name(s))
        .collect();
    let mut absent = Vec::new();
    if !never.is_empty() {
        absent.push(format!(
            "Not shown, no data imported yet: {}.",
            never.join(", ")
        ));
    }
    if !old.is_empty() {
        absent.push(format!(
            "No data in the {EXPECTED_WITHIN_DAYS} days before {}: {}.",
            d.format("%-d %b"),
            old.join(", ")
        ));
    }
    (freshness, stale_note, absent.join(" "))
}

/// The live sources whose last sync failed: when each last synced, and why the latest
/// attempt failed ("Shopify (shop): last synced 05:02 yesterday; the latest sync failed:
/// 401 Unauthorized."). Empty when every source's last sync worked.
pub(super) fn sync_note(syncs: &[SourceSync], now: DateTime<Tz>) -> String {
    let failed: Vec<String> = syncs
        .iter()
        .filter_map(|s| {
            let failure = s.failure.as_deref()?;
            let last = match s.synced_at.and_then(|t| DateTime::from_timestamp(t, 0)) {
                Some(t) => {
                    let t = t.with_timezone(&now.timezone());
                    let day = match (now.date_naive() - t.date_naive()).num_days() {
                        0 => "today".to_string(),
                        1 => "yesterday".to_string(),
                        _ => t.format("%-d %b").to_string(),
                    };
                    format!("last synced {} {day}", t.format("%H:%M"))
                }
                None => "never synced".to_string(),
            };
            // The source's name leads the stored failure; the note names it already.
            let why = failure
                .strip_prefix(&format!("source {}: ", s.source))
                .unwrap_or(failure);
            Some(format!(
                "{} ({}): {last}; the latest sync failed: {}",
                s.platform,
                s.source,
                cap(why, 160)
            ))
        })
        .collect();
    if failed.is_empty() {
        String::new()
    } else {
        format!("{}.", failed.join(". "))
    }
}

/// The sources whose days follow another zone than the shop's, in one sentence ("Traffic
/// days follow GA4's America/Los_Angeles; orders follow Europe/London."); empty when none.
/// Nothing is shifted: a platform's day is the day it reports.
pub(super) fn zones_note(syncs: &[SourceSync], shop: Tz) -> String {
    let mut other: Vec<String> = syncs
        .iter()
        .filter_map(|s| {
            let zone = s.zone.as_deref().filter(|z| *z != shop.name())?;
            // "GA4's", "Google Ads'".
            let owner = match s.platform.ends_with('s') {
                true => format!("{}'", s.platform),
                false => format!("{}'s", s.platform),
            };
            Some(format!(
                "{} days follow {owner} {}",
                s.days_of,
                cap(zone, 64)
            ))
        })
        .collect();
    if other.is_empty() {
        return String::new();
    }
    other.dedup();
    // One sentence: only its first clause starts with a capital.
    for o in other.iter_mut().skip(1) {
        if let Some(first) = o.get(..1) {
            *o = format!("{}{}", first.to_lowercase(), &o[1..]);
        }
    }
    let orders_elsewhere = syncs
        .iter()
        .any(|s| s.days_of == "Order" && s.zone.as_deref().is_some_and(|z| z != shop.name()));
    let rest = if orders_elsewhere {
        "the rest follow"
    } else {
        "orders follow"
    };
    format!("{}; {rest} {}.", other.join("; "), shop.name())
}

/// Whether `source` comes from the same export as the orders (a Shopify orders file's
/// shipments), and the orders are there for `day`: then a day without a row of it is a day
/// that shipped nothing, not a missing file.
fn fed_with_orders(inputs: &DigestInputs, source: &str, day: NaiveDate) -> bool {
    let feeds = &inputs.feeds;
    let same = matches!((feeds.get(source), feeds.get("orders")), (Some(a), Some(b)) if a == b);
    let orders_there = inputs
        .freshness
        .iter()
        .any(|(t, last)| *t == "orders" && last.is_some_and(|l| l >= day));
    same && source != "orders" && orders_there
}

/// An optional column as the email names it.
pub(super) fn column_name(column: &str) -> &str {
    match column {
        "product_views" => "product views",
        "add_to_carts" => "add-to-carts",
        "checkouts" => "checkouts",
        "promised_day" => "promised delivery days",
        "delivered_at" => "deliveries",
        c => c,
    }
}

/// A source table as the email names it.
pub(super) fn source_name(table: &str) -> &str {
    match table {
        "ad_spend" => "ad spend",
        "inventory" => "stock",
        "fulfilment" => "shipping",
        "daily_values" => "daily values",
        t => t,
    }
}

/// The source tables that have never held a row (up to the report date).
pub(super) fn never_filled(inputs: &DigestInputs) -> BTreeSet<&'static str> {
    inputs
        .freshness
        .iter()
        .filter(|(_, last)| last.is_none())
        .map(|(t, _)| *t)
        .collect()
}

/// Optional raw columns and the rollup columns counted from them (fulfilment_daily's), which
/// mean nothing while the raw column is empty everywhere.
const ROLLUP_COLUMNS: [(&str, &str); 2] =
    [("promised_day", "promised"), ("delivered_at", "delivered")];

/// Metrics that read a source that never held a row. Refunds only adjust other figures
/// (net revenue less refunds): a shop without any still sees its net revenue, but not a
/// metric about refunds (whose first table is refunds; a later `UNION ALL` of order days
/// only fills in zeros), which would say "Refunds £0" of refunds never imported.
pub(super) fn hidden_metrics(
    config: &Config,
    never: &BTreeSet<&'static str>,
    empty_columns: &[&'static str],
) -> BTreeSet<String> {
    config
        .catalog
        .iter()
        .filter(|m| {
            // An optional column no export has filled (carts in a GA4 sessions report, a
            // promised day in a Shopify export) hides the metrics that read it.
            let words = crate::metrics::metric::words(&m.sql);
            let reads = |c: &str| {
                words.contains(c)
                    || ROLLUP_COLUMNS
                        .iter()
                        .any(|(raw, rolled)| *raw == c && words.contains(*rolled))
            };
            if empty_columns.iter().any(|c| reads(c)) {
                return true;
            }
            let read = crate::metrics::metric::sources(&m.sql);
            let about = crate::metrics::metric::sources_in_order(&m.sql)
                .first()
                .copied();
            let mut needed: BTreeSet<&str> = read
                .iter()
                .copied()
                .filter(|t| *t != "refunds" || about == Some("refunds"))
                .collect();
            if needed.is_empty() {
                needed = read;
            }
            needed.iter().any(|t| never.contains(t))
        })
        .map(|m| m.key.clone())
        .collect()
}

/// Metrics with no value on any day the report read (gross margin without product costs),
/// and those marked `hide_if_always_zero` whose every value was 0 (discounts in a shop that
/// gives none): shown, they would print "no data" or 0.0% every morning.
pub(super) fn valueless_metrics(config: &Config, inputs: &DigestInputs) -> BTreeSet<String> {
    config
        .catalog
        .iter()
        .filter(|m| !inputs.fetched.unavailable.contains_key(&m.key))
        .filter(|m| {
            let Some(by_dim) = inputs.fetched.get(&m.key) else {
                return true;
            };
            let values = || {
                by_dim.values().flat_map(|s| {
                    s.days.keys().filter_map(|d| {
                        crate::metrics::news::day_value(s, m.aggregate, *d).map(|v| v.0)
                    })
                })
            };
            let mut any = values().peekable();
            any.peek().is_none() || (m.hide_if_always_zero && values().all(|v| v == 0.0))
        })
        .map(|m| m.key.clone())
        .collect()
}

/// The inputs without the hidden metrics' series.
pub(super) fn without(inputs: &DigestInputs, hidden: &BTreeSet<String>) -> DigestInputs {
    let mut out = inputs.clone();
    out.fetched.series.retain(|k, _| !hidden.contains(k));
    out
}

/// "Not available today: Orders from email (its query failed), Refund rate (its query ran
/// past its deadline); the log says why."
pub(super) fn unavailable_note(config: &Config, inputs: &DigestInputs) -> String {
    let fetched = &inputs.fetched;
    let items: Vec<String> = fetched
        .unavailable
        .keys()
        .map(|k| {
            let label = config
                .catalog
                .get(k)
                .map_or_else(|| k.clone(), |m| m.label.clone());
            let why = fetched
                .unavailable_short
                .get(k)
                .map_or("its query failed or timed out", String::as_str);
            (cap(&label, text::LABEL), why)
        })
        .map(|(label, why)| format!("{label} ({why}"))
        .collect();
    if items.is_empty() {
        return String::new();
    }
    // Each item's parenthesis closes before the next; the last one closes after the pointer
    // to the log.
    format!(
        "Not available today: {}; the log says why).",
        items.join("), ")
    )
}

/// The foot of the email in one line: how fresh the data is (every source named only when
/// one is behind), when the email was made, and what the marks mean.
pub(super) fn footer(
    freshness: &[Freshness],
    d: NaiveDate,
    generated_at: &str,
    zones: &str,
) -> String {
    let behind = freshness.iter().any(|s| s.stale);
    let data = if freshness.is_empty() {
        "No data yet.".to_string()
    } else if behind {
        let each: Vec<String> = freshness
            .iter()
            .map(|s| format!("{} {}", s.source, s.last_day))
            .collect();
        format!("Data up to: {}.", each.join(" · "))
    } else {
        format!("Data up to {}.", d.format("%a %-d %b"))
    };
    let zones = if zones.is_empty() {
        String::new()
    } else {
        format!(" {zones}")
    };
    format!(
        "{data}{zones} Generated {generated_at} by dawnpost. ✓ good news, ✗ bad, by each metric's goal; ▲ ▼ the direction."
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn sync(synced_at: Option<i64>, failure: Option<&str>) -> SourceSync {
        SourceSync {
            source: "shop".into(),
            platform: "Shopify",
            synced_at,
            attempted_at: Some(0),
            failure: failure.map(str::to_string),
            days_of: "Order",
            zone: None,
        }
    }

    #[test]
    fn a_failed_sync_says_when_the_source_last_synced() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let now = tz.with_ymd_and_hms(2026, 3, 6, 6, 0, 0).unwrap();
        // 05:02 London time the day before (GMT in March).
        let yesterday = tz
            .with_ymd_and_hms(2026, 3, 5, 5, 2, 0)
            .unwrap()
            .timestamp();
        let failed = "source shop: the shop's settings: 401 Unauthorized";
        assert_eq!(
            sync_note(&[sync(Some(yesterday), Some(failed))], now),
            "Shopify (shop): last synced 05:02 yesterday; the latest sync failed: the shop's \
             settings: 401 Unauthorized."
        );
        assert_eq!(
            sync_note(&[sync(None, Some("timed out"))], now),
            "Shopify (shop): never synced; the latest sync failed: timed out."
        );
        // A source whose last sync worked says nothing.
        assert_eq!(sync_note(&[sync(Some(yesterday), None)], now), "");
    }

    #[test]
    fn a_source_on_another_clock_is_named_once() {
        let shop: Tz = "Europe/London".parse().unwrap();
        let ga4 = SourceSync {
            platform: "GA4",
            days_of: "Traffic",
            zone: Some("America/Los_Angeles".into()),
            ..sync(None, None)
        };
        assert_eq!(
            zones_note(std::slice::from_ref(&ga4), shop),
            "Traffic days follow GA4's America/Los_Angeles; orders follow Europe/London."
        );
        // A shop source on the shop's own clock says nothing.
        let same = SourceSync {
            zone: Some("Europe/London".into()),
            ..sync(None, None)
        };
        assert_eq!(zones_note(std::slice::from_ref(&same), shop), "");
        assert_eq!(
            zones_note(&[same, ga4.clone()], shop),
            "Traffic days follow GA4's America/Los_Angeles; orders follow Europe/London."
        );
        let ads = SourceSync {
            platform: "Google Ads",
            days_of: "Ad spend",
            zone: Some("America/New_York".into()),
            ..sync(None, None)
        };
        assert_eq!(
            zones_note(&[ga4, ads], shop),
            "Traffic days follow GA4's America/Los_Angeles; ad spend days follow Google Ads' \
             America/New_York; orders follow Europe/London."
        );
    }
}
