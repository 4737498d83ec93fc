//! The pre-flight as people read it: the verdict, each check a line, and what must change
//! with the team that owns each change; for `dawnpost preflight` and the handoff note.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::alerts::channel_words;
use super::format::Formatter;
use crate::metrics::forecast::day_label;
use crate::metrics::metric::Unit;
use crate::metrics::preflight::{LiftSource, Owner, Preflight, Problem, SkuCheck};
use crate::text::{self, cap};

/// Lines of each kind told at most; the rest are counted.
const LISTED: usize = 40;

/// One change that must happen, and who makes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionView {
    /// "Operations".
    pub owner: &'static str,
    /// "restock 10 of KNT-003 by Thu 3 Dec".
    pub text: String,
    /// The way around it, and who takes it: "Marketing: drop it from the promotion".
    pub or: String,
}

/// The pre-flight, worded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreflightView {
    /// "Pre-flight: Winter push (email, Thu 3 Dec to Wed 9 Dec): not ready".
    pub subject: String,
    /// "Not ready: 3 changes before Thu 3 Dec." or "Ready."
    pub verdict: String,
    /// The lift, the confirmation.
    pub summary: Vec<String>,
    pub days: Vec<String>,
    pub skus: Vec<String>,
    pub overlaps: Vec<String>,
    pub actions: Vec<ActionView>,
    /// What was not checked, and why.
    pub notes: Vec<String>,
}

fn owner(o: Owner) -> &'static str {
    match o {
        Owner::Marketing => "Marketing",
        Owner::Operations => "Operations",
    }
}

fn count(f: &Formatter, x: f64) -> String {
    f.amount(Unit::Count, x.round())
}

pub fn view(p: &Preflight, f: &Formatter) -> PreflightView {
    let plan = &p.plan;
    let name = cap(&plan.campaign, text::LABEL);
    let dates = format!("{} to {}", day_label(plan.start), day_label(plan.end));
    let subject = format!(
        "Pre-flight: {name} ({}, {dates}): {}",
        channel_words(&plan.channel),
        p.verdict()
    );
    let actions = actions(p, f);
    let verdict = match actions.len() {
        0 => "Ready: stock, capacity and margin hold for the campaign's days.".to_string(),
        1 => format!("Not ready: 1 change before {}.", day_label(plan.start)),
        n => format!("Not ready: {n} changes before {}.", day_label(plan.start)),
    };
    PreflightView {
        subject,
        verdict,
        summary: summary(p, f),
        days: p.days.iter().take(LISTED).map(|d| day_line(d, f)).collect(),
        skus: p
            .skus
            .iter()
            .take(LISTED)
            .map(|s| sku_line(s, p, f))
            .collect(),
        overlaps: p
            .overlaps
            .iter()
            .take(LISTED)
            .map(|o| {
                let shared = match o.shared_skus.len() {
                    0 => String::new(),
                    n => format!(
                        ", sharing {n} SKU{}: {}",
                        if n == 1 { "" } else { "s" },
                        o.shared_skus
                            .iter()
                            .take(8)
                            .map(|s| cap(s, text::NAME))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                format!(
                    "{} ({}, {} to {}) runs on {} of its days{shared}; the forecast counts both lifts.",
                    cap(&o.campaign, text::LABEL),
                    channel_words(&o.channel),
                    day_label(o.start),
                    day_label(o.end),
                    o.shared_days
                )
            })
            .collect(),
        actions,
        notes: notes(p),
    }
}

fn summary(p: &Preflight, f: &Formatter) -> Vec<String> {
    let plan = &p.plan;
    let mut out = vec![format!(
        "Checked on the data to {}: {} days, {} promoted SKU{}; orders {} ({}).",
        day_label(p.origin),
        plan.days(),
        plan.skus.len(),
        if plan.skus.len() == 1 { "" } else { "s" },
        match p.lift {
            l if (l - 1.0).abs() < 0.005 => "as usual".to_string(),
            l => format!("{:+.0}% on its days", (l - 1.0) * 100.0),
        },
        match p.lift_source {
            LiftSource::Stated => "stated by marketing".to_string(),
            LiftSource::Past { campaigns: 0 } => format!(
                "no past {} campaign: none assumed",
                channel_words(&plan.channel)
            ),
            LiftSource::Past { campaigns } => format!(
                "from {campaigns} past {} campaign{}",
                channel_words(&plan.channel),
                if campaigns == 1 { "" } else { "s" }
            ),
        }
    )];
    if let Some(d) = plan.discount {
        out.push(format!(
            "Planned discount: {} off.",
            f.amount(Unit::Percent, d)
        ));
    }
    out.push(match (&p.confirmation, p.confirmed) {
        (Some(c), true) => format!("Confirmed by operations: {}", cap(&c.note, text::LABEL)),
        (Some(_), false) => {
            "Not confirmed: operations confirmed an earlier plan, before it changed.".into()
        }
        (None, _) => "Not confirmed by operations yet.".into(),
    });
    out
}

fn day_line(d: &crate::metrics::preflight::DayCheck, f: &Formatter) -> String {
    if let Some(why) = &d.closed {
        return format!("{}: {}", day_label(d.day), cap(why, text::LABEL));
    }
    let expected = format!(
        "{}: {} orders expected ({}-{})",
        day_label(d.day),
        count(f, d.expected),
        count(f, d.low),
        count(f, d.high)
    );
    match d.capacity {
        Some(c) if c > 0.0 => format!(
            "{expected}, capacity {}{}: up to {}{}",
            count(f, c),
            if d.assumed { " (assumed)" } else { "" },
            f.amount(Unit::Percent, d.high / c),
            if d.over {
                " ✗ over the threshold"
            } else {
                " ✓"
            }
        ),
        _ => format!("{expected}, no capacity known"),
    }
}

fn sku_line(s: &SkuCheck, p: &Preflight, f: &Formatter) -> String {
    let who = format!("{} {}", cap(&s.sku, text::NAME), cap(&s.name, text::NAME));
    let margin = match (s.unit_margin, s.margin_share) {
        (Some(m), Some(share)) => format!(
            "; margin at the discount {} a unit ({})",
            f.amount(Unit::Money, m),
            f.amount(Unit::Percent, share)
        ),
        _ => String::new(),
    };
    let rate = format!(
        "sells {} a day, {} at the campaign's lift",
        f.amount(Unit::Count, s.daily_units),
        f.amount(Unit::Count, s.campaign_daily_units)
    );
    let cover = match (s.on_hand, s.runs_out_day) {
        (None, _) => "no stock data".to_string(),
        (Some(n), Some(0)) => format!("{n} on hand, sold out before the start ✗"),
        (Some(n), Some(k)) => format!(
            "{n} on hand, runs out on day {k} of {} ({}) ✗",
            p.plan.days(),
            day_label(p.plan.start + Days::new(u64::try_from(k - 1).unwrap_or(0)))
        ),
        (Some(n), None) if s.daily_units <= 0.0 => format!("{n} on hand, no recent sales"),
        (Some(n), None) => format!("{n} on hand, lasts the campaign ✓"),
    };
    format!("{who}: {cover}; {rate}{margin}")
}

/// What must change, a line each; days over capacity in a row are one change.
fn actions(p: &Preflight, f: &Formatter) -> Vec<ActionView> {
    let mut out = Vec::new();
    let mut run: Vec<(NaiveDate, i64)> = Vec::new();
    for x in &p.problems {
        if let Problem::OverCapacity { day, add } = x {
            if let Some((head, rest)) = run.split_first()
                && rest.last().unwrap_or(head).0 + Days::new(1) != *day
            {
                out.push(capacity_run(*head, rest, f));
                run.clear();
            }
            run.push((*day, *add));
        } else {
            out.push(action(x, p, f));
        }
    }
    if let Some((head, rest)) = run.split_first() {
        out.push(capacity_run(*head, rest, f));
    }
    out.truncate(LISTED);
    out
}

/// Days over capacity in a row, as one change: "add capacity for 40 orders on Sat 5 Dec",
/// or each day's figure over the run.
fn capacity_run(head: (NaiveDate, i64), rest: &[(NaiveDate, i64)], f: &Formatter) -> ActionView {
    let first = head.0;
    let Some(&(last, _)) = rest.last() else {
        return ActionView {
            owner: owner(Owner::Operations),
            text: format!(
                "add capacity for {} orders on {}",
                count(f, head.1 as f64),
                day_label(first)
            ),
            or: format!("Marketing: move the push off {}", day_label(first)),
        };
    };
    let mut figures: Vec<String> = std::iter::once(head)
        .chain(rest.iter().copied())
        .map(|(_, n)| count(f, n as f64))
        .collect();
    let tail = figures.pop().unwrap_or_default();
    ActionView {
        owner: owner(Owner::Operations),
        text: format!(
            "add capacity from {} to {}: {} and {tail} orders",
            day_label(first),
            day_label(last),
            figures.join(", "),
        ),
        or: format!(
            "Marketing: spread the push beyond {} to {}",
            day_label(first),
            day_label(last)
        ),
    }
}

fn action(x: &Problem, p: &Preflight, f: &Formatter) -> ActionView {
    // A running campaign's stock is needed by tomorrow.
    let start = p.plan.start.max(p.origin + Days::new(1));
    match x {
        Problem::RunsOut {
            sku,
            restock,
            reorder_arrives,
            ..
        } => {
            let lead = p
                .skus
                .iter()
                .find(|s| s.sku == *sku)
                .and_then(|s| s.lead_time_days);
            let sku = cap(sku, text::NAME);
            let text = match (reorder_arrives, lead) {
                (Some(a), Some(l)) if *a > start => format!(
                    "restock {restock} of {sku} by {}: a reorder placed now arrives {} at its {l}-day lead time, too late",
                    day_label(start),
                    day_label(*a)
                ),
                (Some(_), Some(l)) => format!(
                    "restock {restock} of {sku} by {} (order by {} at its {l}-day lead time)",
                    day_label(start),
                    day_label(order_by(start, l))
                ),
                _ => format!("restock {restock} of {sku} by {}", day_label(start)),
            };
            let or = match reorder_arrives {
                Some(a) if *a > start && *a <= p.plan.end => format!(
                    "Marketing: drop {sku} from the promotion, or start the campaign on {}",
                    day_label(*a)
                ),
                _ => format!("Marketing: drop {sku} from the promotion"),
            };
            ActionView {
                owner: owner(x.owner()),
                text,
                or,
            }
        }
        Problem::OverCapacity { day, add } => capacity_run((*day, *add), &[], f),
        Problem::BelowCost { sku, max_discount } => ActionView {
            owner: owner(x.owner()),
            text: format!(
                "{} sells below cost at {} off: keep its discount to {} or less",
                cap(sku, text::NAME),
                f.amount(Unit::Percent, p.plan.discount.unwrap_or(0.0)),
                f.amount(Unit::Percent, (max_discount * 100.0).floor() / 100.0)
            ),
            or: "or drop it from the promotion".into(),
        },
    }
}

fn order_by(start: NaiveDate, lead: i64) -> NaiveDate {
    u64::try_from(lead)
        .ok()
        .and_then(|l| start.checked_sub_days(Days::new(l)))
        .unwrap_or(start)
}

fn notes(p: &Preflight) -> Vec<String> {
    let mut out = Vec::new();
    if p.days.is_empty() && p.plan.end > p.origin {
        out.push(
            "Capacity not checked: no forecast (too little order history, or the campaign is too far ahead)."
                .into(),
        );
    } else if let Some(from) = p.unforecast_from {
        out.push(format!(
            "Capacity not checked from {}: too far ahead to forecast; check again nearer the start.",
            day_label(from)
        ));
    }
    let missing = p.plan.skus.len().saturating_sub(p.skus.len());
    if missing > 0 {
        out.push(format!(
            "{missing} promoted SKU{} not in the products: not checked.",
            if missing == 1 { " is" } else { "s are" }
        ));
    }
    let unknown: Vec<&str> = p
        .skus
        .iter()
        .filter(|s| s.on_hand.is_none())
        .map(|s| s.sku.as_str())
        .collect();
    if !unknown.is_empty() {
        out.push(format!(
            "Cover not checked for {} without stock data: {}.",
            if unknown.len() == 1 {
                "1 SKU".to_string()
            } else {
                format!("{} SKUs", unknown.len())
            },
            unknown
                .iter()
                .take(8)
                .map(|s| cap(s, text::NAME))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if p.plan.discount.is_some() && p.skus.iter().all(|s| s.unit_margin.is_none()) {
        out.push("Margin not checked: no product cost known.".into());
    }
    if p.plan.end <= p.origin {
        out.push("The campaign has ended: nothing left to check.".into());
    }
    out
}

/// The pre-flight as plain text: the note operations and marketing both read.
pub fn text(v: &PreflightView) -> String {
    let mut out = format!("{}\n\n{}\n", text::wrap(&v.subject, 0, 2), v.verdict);
    // A line each, wrapped at 76 as a plain-text email is, its continuation indented.
    let bullet = |out: &mut String, l: &str| {
        out.push_str(&text::wrap(&format!("- {l}"), 0, 2));
        out.push('\n');
    };
    let section = |out: &mut String, title: &str, lines: &[String]| {
        if !lines.is_empty() {
            out.push_str(&format!("\n{title}\n"));
            for l in lines {
                bullet(out, l);
            }
        }
    };
    if !v.actions.is_empty() {
        out.push_str("\nWhat must change\n");
        for a in &v.actions {
            bullet(&mut out, &format!("{}: {}; {}", a.owner, a.text, a.or));
        }
    }
    section(&mut out, "The plan", &v.summary);
    section(&mut out, "Orders against capacity", &v.days);
    section(&mut out, "Promoted SKUs", &v.skus);
    section(&mut out, "Overlapping campaigns", &v.overlaps);
    section(&mut out, "Not checked", &v.notes);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::NumberFormat;
    use crate::metrics::alert::{AlertSettings, StockPosition};
    use crate::metrics::forecast::{Baseline, DayForecast, RangeSource};
    use crate::metrics::preflight::{Plan, PreflightInputs, SkuFacts, check};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day(s: &str, high: f64) -> DayForecast {
        DayForecast {
            day: d(s),
            baseline: Baseline {
                value: 50.0,
                level: 50.0,
                trend: 1.0,
                share: 1.0,
                weights: crate::metrics::forecast::smooth::Weights {
                    alpha: 0.1,
                    beta: 0.1,
                    gamma: 0.1,
                },
                from: d("2026-12-06"),
            },
            uplifts: Vec::new(),
            campaigns: Vec::new(),
            expected: 50.0,
            low: 40.0,
            high,
            range: RangeSource::Errors,
            closed: None,
        }
    }

    #[test]
    fn days_over_capacity_in_a_row_are_one_change_and_unknown_stock_is_said() {
        let plan = Plan {
            campaign: "Push".into(),
            channel: "paid_social".into(),
            start: d("2026-12-10"),
            end: d("2026-12-13"),
            skus: vec!["A".into()],
            expected_lift: None,
            discount: None,
        };
        // Capacity 100 at 90%: 95 and 99 on the 10th and 11th, 120 on the 13th.
        let days = [
            day("2026-12-10", 95.0),
            day("2026-12-11", 99.0),
            day("2026-12-12", 80.0),
            day("2026-12-13", 120.0),
        ];
        let caps = BTreeMap::from([(d("2026-12-06"), 100.0)]);
        let skus = [SkuFacts {
            position: StockPosition {
                sku: "A".into(),
                name: "Alpha".into(),
                lead_time_days: None,
                on_hand: None,
                units_sold_window: 14,
            },
            unit_price: None,
            unit_cost: None,
        }];
        let settings = AlertSettings::default();
        let c = check(&PreflightInputs {
            plan: &plan,
            origin: d("2026-12-06"),
            days: &days,
            lift: 1.0,
            lift_source: LiftSource::Past { campaigns: 0 },
            capacity_plan: &caps,
            settings: &settings,
            skus: &skus,
            calendar: &[],
        });
        let v = view(&c, &Formatter::new(NumberFormat::default(), "£".into()));
        // 95 / 0.9 - 100 = 5.6, so 6; 99 / 0.9 - 100 = 10; 120 / 0.9 - 100 = 33.3, so 34.
        let texts: Vec<&str> = v.actions.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "add capacity from Thu 10 Dec to Fri 11 Dec: 6 and 10 orders",
                "add capacity for 34 orders on Sun 13 Dec",
            ]
        );
        assert_eq!(v.verdict, "Not ready: 2 changes before Thu 10 Dec.");
        assert!(
            v.notes
                .contains(&"Cover not checked for 1 SKU without stock data: A.".to_string()),
            "{:?}",
            v.notes
        );
        assert!(
            v.summary[0].contains("orders as usual (no past paid social campaign: none assumed)"),
            "{}",
            v.summary[0]
        );
        let t = text(&v);
        assert!(t.lines().all(|l| l.chars().count() <= 76), "{t}");
    }
}
