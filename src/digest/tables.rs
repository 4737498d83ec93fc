//! The teams' tables as the email words them: metric rows quiet unless they are news,
//! traffic by channel, returns, stock-outs.

use super::*;

/// Marketing, and operations with merchandising: the built-in rows, then custom metrics.
pub(super) fn sections(
    config: &Config,
    report: &MetricsReport,
    ctx: &Ctx<'_>,
    shown_as_tile: &[&str],
) -> (Section, Section) {
    let custom = |team_matches: &dyn Fn(Team) -> bool| -> Vec<&MetricResult> {
        report
            .metrics
            .iter()
            .filter(|m| {
                m.breakdown.is_empty() && !is_builtin(config, &m.key) && team_matches(m.team)
            })
            .collect()
    };
    let rows = |keys: &[&str], extra: Vec<&MetricResult>| -> Vec<Row> {
        keys.iter()
            // A headline metric is a tile already: no number is printed twice.
            .filter(|k| !shown_as_tile.contains(*k))
            .filter_map(|k| report.get(k))
            .chain(extra)
            .map(|m| ctx.row(m))
            .collect()
    };
    let marketing = Section {
        title: "Marketing".into(),
        rows: rows(&MARKETING, custom(&|t| t == Team::Marketing)),
    };
    let operations = Section {
        title: "Operations & merchandising".into(),
        rows: rows(&OPERATIONS, custom(&|t| t != Team::Marketing)),
    };
    (marketing, operations)
}

pub(super) struct Ctx<'a> {
    pub(super) f: &'a Formatter,
    pub(super) weekday: &'a str,
    /// Metrics with news or a rule crossed: their rows keep colour and marks.
    pub(super) flagged: &'a BTreeSet<String>,
    /// Metrics the news names (or an alert is about): their rows say the other comparisons
    /// in a line. Bounded by the stories told, so a shop of hundreds of unusual metrics
    /// still fits under Gmail's clip.
    pub(super) noted: &'a BTreeSet<String>,
}

impl Ctx<'_> {
    pub(super) fn change(&self, m: &MetricResult, c: &Comparison) -> Change {
        let label = match c.kind {
            ComparisonKind::PreviousDay => "vs day before".to_string(),
            ComparisonKind::SameWeekdayLastWeek => format!("vs last {}", self.weekday),
            ComparisonKind::SameWeekdayFourWeekMean => format!("vs 4-{} avg", self.weekday),
            ComparisonKind::WeekToDate => "vs last week to date".to_string(),
            ComparisonKind::MonthToDate => "vs last month to date".to_string(),
            ComparisonKind::SameWeekdayLastYear => "vs last year".to_string(),
            ComparisonKind::WeekBefore | ComparisonKind::SameWeekLastYear => {
                c.kind.label().to_string()
            }
        };
        // Where the shop was closed on the usual day, say which day stood in and why.
        let label = match (&c.previous_note, c.kind) {
            (None, _) => label,
            (
                Some(note),
                ComparisonKind::PreviousDay
                | ComparisonKind::SameWeekdayLastWeek
                | ComparisonKind::SameWeekdayLastYear,
            ) => format!("vs {} ({note})", c.previous_period.0.format("%a %-d %b")),
            (Some(note), _) => format!("{label} ({note})"),
        };
        let change = self.f.change(m.unit, c);
        // A change that rounds to nothing at the shown precision reads as no change.
        let negligible =
            c.abs_change.is_some() && !change.chars().any(|ch| ch.is_ascii_digit() && ch != '0');
        Change {
            label,
            change: if negligible {
                change.replacen(['+', '-'], "±", 1)
            } else {
                change
            },
            previous: self.f.value(m.unit, c.previous),
            // Week and month to date compare periods, not yesterday: their own value is
            // said beside the earlier one, or "−27 pts (was 63.9%)" reads against the wrong
            // figure.
            current: match c.kind {
                ComparisonKind::WeekToDate | ComparisonKind::MonthToDate => {
                    self.f.value(m.unit, c.current)
                }
                _ => String::new(),
            },
            tone: if negligible {
                "neutral"
            } else {
                tone(c.verdict)
            },
            arrow: if negligible { "·" } else { arrow(c) },
            mark: match (negligible, c.verdict) {
                (false, Verdict::Good) => "✓",
                (false, Verdict::Bad) => "✗",
                _ => "",
            },
        }
    }

    /// A table row: quiet unless the metric is news. A change of nothing, a comparison with
    /// nothing to compare (n/a), and a percentage of a count under 5 are left blank.
    pub(super) fn row(&self, m: &MetricResult) -> Row {
        let mtd = comparison(m, ComparisonKind::MonthToDate);
        let loud = self.flagged.contains(&m.key);
        let quiet = |c: &Comparison| {
            let mut ch = self.change(m, c);
            let tiny_base = m.unit == Unit::Count
                && c.rel_change.is_some()
                && c.previous.get().is_some_and(|p| p.abs() < 5.0);
            if ch.arrow == "·" || ch.change == "n/a" || tiny_base {
                ch.change = String::new();
                ch.arrow = "";
            }
            if !loud {
                ch.tone = "plain";
                ch.arrow = "";
                ch.mark = "";
            }
            if ch.change.is_empty() {
                ch.mark = "";
            }
            ch
        };
        // The table shows the week's comparison; a metric that is news says the others
        // in a line of its own.
        let note = if self.noted.contains(&m.key) {
            let others: Vec<String> = [
                quiet(comparison(m, ComparisonKind::PreviousDay)),
                quiet(comparison(m, ComparisonKind::SameWeekdayLastYear)),
            ]
            .into_iter()
            .filter(|c| !c.change.is_empty())
            .map(|c| format!("{} {}", c.change, c.label))
            .chain(std::iter::once(format!(
                "month to date {}",
                self.f.value(m.unit, mtd.current)
            )))
            .collect();
            others.join(" · ")
        } else {
            String::new()
        };
        Row {
            key: m.key.clone(),
            team: m.team,
            label: m.label.clone(),
            value: self.f.value(m.unit, m.comparisons[0].current),
            note,
            all: m.comparisons.iter().map(|c| self.change(m, c)).collect(),
            vs_day: quiet(comparison(m, ComparisonKind::PreviousDay)),
            vs_week: quiet(comparison(m, ComparisonKind::SameWeekdayLastWeek)),
            vs_year: quiet(comparison(m, ComparisonKind::SameWeekdayLastYear)),
            mtd: self.f.value(m.unit, mtd.current),
            vs_mtd: quiet(mtd),
        }
    }
}

pub(super) fn channels(report: &MetricsReport, ctx: &Ctx<'_>) -> Vec<ChannelRow> {
    let Some(m) = report.get("sessions_by_channel") else {
        return Vec::new();
    };
    let total: f64 = m
        .breakdown
        .iter()
        .filter_map(|b| b.comparisons[0].current.get())
        .sum();
    let mut rows: Vec<(f64, ChannelRow)> = m
        .breakdown
        .iter()
        .filter(|b| b.comparisons[0].current.get().is_some())
        .map(|b| {
            let v = b.comparisons[0].current.get().unwrap_or(0.0);
            let week = comparison_in(&b.comparisons, ComparisonKind::SameWeekdayLastWeek);
            (
                v,
                ChannelRow {
                    channel: cap(&b.value.replace('_', " "), text::LABEL),
                    sessions: ctx.f.value(m.unit, b.comparisons[0].current),
                    share: if total > 0.0 {
                        ctx.f.amount(Unit::Percent, v / total)
                    } else {
                        "n/a".into()
                    },
                    vs_week: ctx.change(m, week),
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    // The largest few: a shop with hundreds of tracking sources still gets a short table.
    rows.into_iter().take(8).map(|(_, r)| r).collect()
}

pub(super) fn comparison_in(cs: &[Comparison], kind: ComparisonKind) -> &Comparison {
    cs.iter()
        .find(|c| c.kind == kind)
        .expect("every comparison is computed")
}

pub(super) fn funnel(report: &MetricsReport, f: &Formatter) -> Vec<FunnelStep> {
    let today = |key: &str| report.get(key).and_then(|m| m.comparisons[0].current.get());
    // Without the funnel's middle steps (a traffic export of sessions only) there is no
    // funnel to show.
    if report.get("sessions").is_none()
        || (report.get("add_to_cart_rate").is_none() && report.get("checkouts").is_none())
    {
        return Vec::new();
    }
    let sessions = today("sessions");
    // Add-to-carts are the numerator of the add-to-cart rate.
    let carts = today("add_to_cart_rate").zip(sessions).map(|(r, s)| r * s);
    let steps = [
        ("Sessions", "sessions", sessions),
        ("Added to cart", "add_to_cart_rate", carts),
        ("Started checkout", "checkouts", today("checkouts")),
        ("Ordered", "orders", today("orders")),
    ];
    steps
        .iter()
        .filter(|(_, key, _)| report.get(key).is_some())
        .map(|(step, _, v)| FunnelStep {
            step: step.to_string(),
            count: v.map_or("no data".into(), |v| f.amount(Unit::Count, v.round())),
            of_sessions: match (v, sessions) {
                (Some(v), Some(s)) if s > 0.0 => f.amount(Unit::Percent, v / s),
                _ => "n/a".into(),
            },
        })
        .collect()
}

pub(super) fn top_returns(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    f: &Formatter,
) -> Vec<ReturnRow> {
    let Some(by_sku) = inputs.fetched.get("return_rate_by_product") else {
        return Vec::new();
    };
    let (mtd, _) = ComparisonKind::MonthToDate.periods(d, config.shop.week_start, &inputs.calendar);
    let mut rows: Vec<(f64, f64, &String)> = by_sku
        .iter()
        .filter_map(|(sku, s)| {
            let sku = sku.as_ref()?;
            let (num, den) = sums(s, &mtd);
            let enough = den >= f64::from(config.email.return_rate_min_units);
            (num > 0.0 && enough).then_some((num, den, sku))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(b.2)));
    rows.into_iter()
        .take(3)
        .map(|(num, den, sku)| ReturnRow {
            sku: cap(sku, text::NAME),
            product: cap(
                inputs.product_names.get(sku).map_or("", String::as_str),
                text::NAME,
            ),
            returned: f.amount(Unit::Count, num),
            sold: f.amount(Unit::Count, den),
            rate: f.value(Unit::Percent, Value::ratio(num, den)),
        })
        .collect()
}

/// Return rates month to date by order channel, the channels selling most first. `sku`
/// holds the channel; `product` is empty.
pub(super) fn returns_by_channel(
    config: &Config,
    d: NaiveDate,
    inputs: &DigestInputs,
    f: &Formatter,
) -> Vec<ReturnRow> {
    let Some(by_channel) = inputs.fetched.get("return_rate_by_channel") else {
        return Vec::new();
    };
    let (mtd, _) = ComparisonKind::MonthToDate.periods(d, config.shop.week_start, &inputs.calendar);
    let mut rows: Vec<(f64, f64, &String)> = by_channel
        .iter()
        .filter_map(|(ch, s)| {
            let ch = ch.as_ref()?;
            let (num, den) = sums(s, &mtd);
            (den > 0.0).then_some((num, den, ch))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(b.2)));
    rows.into_iter()
        .take(8)
        .map(|(num, den, ch)| ReturnRow {
            sku: alerts::channel_words(ch),
            product: String::new(),
            returned: f.amount(Unit::Count, num),
            sold: f.amount(Unit::Count, den),
            rate: f.value(Unit::Percent, Value::ratio(num, den)),
        })
        .collect()
}

pub(super) fn sums(s: &Series, p: &Period) -> (f64, f64) {
    p.days
        .iter()
        .filter_map(|d| s.days.get(d))
        .filter(|r| r.num.is_finite() && r.den.is_finite())
        .fold((0.0, 0.0), |(n, m), r| (n + r.num, m + r.den))
}

/// The stock-outs listed by name: the first few, then how many more.
pub(super) fn out_of_stock(items: &[(String, String)]) -> Vec<String> {
    const LISTED: usize = 20;
    let mut out: Vec<String> = items
        .iter()
        .take(LISTED)
        .map(|(sku, name)| format!("{} {}", cap(sku, text::NAME), cap(name, text::NAME)))
        .collect();
    if items.len() > LISTED {
        out.push(format!("and {} more", items.len() - LISTED));
    }
    out
}
