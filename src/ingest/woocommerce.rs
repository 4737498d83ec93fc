//! WooCommerce's Analytics > Orders report, downloaded as CSV (the columns of
//! `Automattic\WooCommerce\Admin\API\Reports\Orders\Controller::get_export_columns`):
//! `Date`, `Order #`, `Status`, `Customer`, `Customer type`, `Product(s)`, `Items sold`,
//! `Coupon(s)`, `N. Revenue` (`Net Sales` in newer versions).
//!
//! The report gives each order's net revenue and its products as `2× Hoodie, 1× Cap`, but
//! no price per product: the revenue is spread evenly over the order's units, so daily
//! totals are exact and per-product revenue is an estimate (README, "Your shop's data").
//!
//! A refund is a row of its own: the parent order's number, the refund's date, negative
//! items and revenue. The export has no refund id, so each refund is keyed by its place
//! among its order's refunds of that day, in time order.

use std::collections::HashSet;

use anyhow::{Result, anyhow, bail};
use chrono_tz::Tz;

use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, LINE_PRODUCTS, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::{customer, excerpt, export_number, local_day, optional, parse_timestamp, text};
use crate::schema;
use crate::store::write::SqlValue;

pub(super) static ORDERS_EXPORT: ExportFormat = ExportFormat {
    name: "woocommerce-orders",
    expects: "WooCommerce Analytics > Orders > Download: Date, Order #, Product(s), \
              N. Revenue, …",
    matches,
    open: |h, opts| Ok(Box::new(Orders::new(h, opts)?)),
};

fn matches(h: &Header) -> bool {
    has_all(h, &["Date", "Order #", "Product(s)"])
        && (has_all(h, &["N. Revenue"]) || has_all(h, &["Net sales"]))
}

static TARGETS: [Target; 4] = [
    Target::keep(&LINE_PRODUCTS),
    Target::upsert(&schema::ORDERS),
    Target::upsert(&schema::ORDER_LINES),
    Target::upsert(&schema::REFUNDS),
];
const PRODUCTS: usize = 0;
const ORDERS: usize = 1;
const LINES: usize = 2;
const REFUNDS: usize = 3;

/// Product lists with more places where a `, ` might or might not start a product than this
/// are not searched for a reading that agrees with `Items sold` (2^16 readings at most).
const MAX_AMBIGUOUS: usize = 16;

struct Orders {
    tz: Tz,
    channel: String,
    date: usize,
    order: usize,
    revenue: usize,
    products: usize,
    status: Option<usize>,
    customer: Option<usize>,
    customer_type: Option<usize>,
    items: Option<usize>,
    skus: HashSet<String>,
    /// Held until the file is read: a refund's key is its place among its order's refunds
    /// of that day, which the whole file tells (the report lists newest first by default).
    refunds: Vec<Refund>,
}

struct Refund {
    order: String,
    day: String,
    at: i64,
    amount: f64,
    units: Option<i64>,
}

impl Orders {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Orders> {
        let c = Columns::new(h);
        Ok(Orders {
            tz: opts.tz,
            channel: opts.channel("web"),
            date: c.require(&["Date"])?,
            order: c.require(&["Order #"])?,
            revenue: c.require(&["N. Revenue", "Net sales"])?,
            products: c.require(&["Product(s)"])?,
            status: c.find(&["Status"])?,
            customer: c.find(&["Customer"])?,
            customer_type: c.find(&["Customer type"])?,
            items: c.find(&["Items sold"])?,
            skus: HashSet::new(),
            refunds: Vec::new(),
        })
    }

    /// An order's row, and a line per product with the revenue spread over the units.
    fn order(
        &mut self,
        r: &csv::StringRecord,
        o: &Row<'_>,
        lines: Vec<(i64, String)>,
        out: &mut Rows,
    ) -> Result<()> {
        let kind = cell(r, self.customer_type).to_ascii_lowercase();
        out.push((
            ORDERS,
            vec![
                text(o.id),
                SqlValue::Int(o.at),
                text(&o.day),
                text(&self.channel),
                customer(cell(r, self.customer)),
                if kind == "new" || kind == "returning" {
                    text(&kind)
                } else {
                    SqlValue::Null
                },
                SqlValue::Float(0.0),
                text(status(cell(r, self.status))?),
                optional(""),
                optional(""),
            ],
        ));
        let mut lines = lines;
        if lines.is_empty() {
            let n = o.items.unwrap_or(1).max(1);
            lines.push((n, "(no product listed)".to_string()));
        }
        let units: i64 = lines.iter().map(|(q, _)| q).sum();
        let unit_price = if units > 0 {
            o.revenue / units as f64
        } else {
            0.0
        };
        for (n, (qty, name)) in lines.into_iter().enumerate() {
            if self.skus.insert(name.clone()) {
                out.push((
                    PRODUCTS,
                    vec![text(&name), text(&name), SqlValue::Float(unit_price)],
                ));
            }
            out.push((
                LINES,
                vec![
                    text(o.id),
                    SqlValue::Int(n as i64 + 1),
                    text(&name),
                    SqlValue::Int(qty),
                    SqlValue::Float(unit_price),
                ],
            ));
        }
        Ok(())
    }
}

/// What every row has, read before it is known to be an order or a refund.
struct Row<'a> {
    id: &'a str,
    at: i64,
    day: String,
    revenue: f64,
    items: Option<i64>,
}

impl Preset for Orders {
    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn record(&mut self, r: &csv::StringRecord, out: &mut Rows) -> Result<()> {
        let id = cell(r, Some(self.order)).trim_start_matches('#');
        if id.is_empty() {
            bail!("column `Order #`: a value is required");
        }
        let at = parse_timestamp(cell(r, Some(self.date)), self.tz)
            .map_err(|e| anyhow!("column `Date`: {e}"))?;
        let revenue = export_number(cell(r, Some(self.revenue)))
            .map_err(|e| anyhow!("column `N. Revenue`: {e}"))?
            .unwrap_or(0.0);
        let items = items_sold(cell(r, self.items))?;
        let row = Row {
            id,
            at,
            day: local_day(at, self.tz).to_string(),
            revenue,
            items,
        };
        // A refund's items and revenue are negative; a sign lost from either (`-2× Hoodie`
        // at 40.00) still leaves a refund of that amount, never an order of nothing.
        if revenue < 0.0 || items.is_some_and(|n| n < 0) {
            self.refunds.push(refund(&row, items));
            return Ok(());
        }
        let lines = products(cell(r, Some(self.products)), items)?;
        let units: i64 = lines.iter().map(|(q, _)| q).sum();
        if units < 0 {
            self.refunds.push(refund(&row, Some(units)));
            return Ok(());
        }
        self.order(r, &row, lines, out)
    }

    fn finish(&mut self, out: &mut Rows) -> Result<()> {
        let mut refunds = std::mem::take(&mut self.refunds);
        refunds.sort_by(|a, b| {
            (&a.order, &a.day, a.at)
                .cmp(&(&b.order, &b.day, b.at))
                .then(a.amount.total_cmp(&b.amount))
        });
        let (mut place, mut prev) = (0, None);
        for r in &refunds {
            let group = Some((&r.order, &r.day));
            place = if group == prev { place + 1 } else { 1 };
            prev = group;
            // The first keeps the key of the days when one refund per order and day was all
            // dawnpost could hold, so a store that has it counts it once.
            let key = match place {
                1 => format!("woocommerce-{}", r.day),
                n => format!("woocommerce-{}-{n}", r.day),
            };
            out.push((
                REFUNDS,
                vec![
                    text(&r.order),
                    text(&key),
                    text(&r.day),
                    SqlValue::Float(r.amount),
                    r.units.map_or(SqlValue::Null, SqlValue::Int),
                ],
            ));
        }
        Ok(())
    }
}

/// A refund row: its order (which the store need not have), day, moment, amount and units.
fn refund(row: &Row<'_>, units: Option<i64>) -> Refund {
    Refund {
        order: row.id.to_string(),
        day: row.day.clone(),
        at: row.at,
        amount: row.revenue.abs(),
        units: units.map(i64::abs),
    }
}

/// `Items sold`: a whole number, negative on a refund; empty (or no column) is none.
fn items_sold(raw: &str) -> Result<Option<i64>> {
    match export_number(raw).map_err(|e| anyhow!("column `Items sold`: {e}"))? {
        None => Ok(None),
        // At most 10^12 either way (export_number's bound), so the cast is exact.
        Some(v) if v.fract() == 0.0 => Ok(Some(v as i64)),
        Some(_) => bail!("column `Items sold`: {raw:?} is not a whole number"),
    }
}

/// WooCommerce's order statuses as dawnpost's.
fn status(raw: &str) -> Result<&'static str> {
    Ok(match raw.to_ascii_lowercase().trim_start_matches("wc-") {
        "completed" => "shipped",
        "processing" | "on-hold" | "pending" | "" => "placed",
        "cancelled" | "failed" => "cancelled",
        "refunded" => "returned",
        other => bail!("column `Status`: {other:?} is not a WooCommerce order status"),
    })
}

/// Where a product may start in a list: the byte where its `, ` is (0 for the first), the
/// byte its name starts at, and its quantity.
#[derive(Debug, Clone, Copy)]
struct Start {
    sep: usize,
    name: usize,
    qty: i64,
}

/// `2× Hoodie, 1× Cap, Blue` as (quantity, name) pairs. WooCommerce joins `N× name` with
/// `, `, and a name may itself hold `, ` and `×` (`1× Canvas print, 2×3 ft`), so a `, `
/// before `N×` may or may not start a product. Where `Items sold` is given, the reading is
/// the one with the most products whose quantities sum to it; none, or two such, is
/// refused. Without it, every such `, ` starts a product.
fn products(raw: &str, items: Option<i64>) -> Result<Vec<(i64, String)>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let starts = starts(raw)?;
    let chosen = choose(raw, &starts, items)?;
    let mut out = Vec::with_capacity(chosen.len());
    for (k, s) in chosen.iter().enumerate() {
        let end = chosen.get(k + 1).map_or(raw.len(), |next| next.sep);
        let name = raw.get(s.name..end).unwrap_or("").trim();
        if name.is_empty() {
            bail!(
                "column `Product(s)`: product {} of {:?} has no name",
                k + 1,
                excerpt(raw)
            );
        }
        out.push((s.qty, name.to_string()));
    }
    Ok(out)
}

/// The first product's start, then every `, ` followed by `N×`.
fn starts(raw: &str) -> Result<Vec<Start>> {
    let Some((qty, len)) = count_and_times(raw) else {
        bail!("column `Product(s)`: {:?} is not `N× name`", excerpt(raw));
    };
    let mut out = vec![Start {
        sep: 0,
        name: len,
        qty,
    }];
    // A `, ` before the first `×` is inside the first quantity, which then did not parse.
    for (at, _) in raw.match_indices(", ").filter(|(at, _)| *at >= len) {
        let rest = &raw[at + 2..];
        let trimmed = rest.trim_start();
        if let Some((qty, len)) = count_and_times(trimmed) {
            let name = at + 2 + (rest.len() - trimmed.len()) + len;
            out.push(Start { sep: at, name, qty });
        }
    }
    Ok(out)
}

/// `N×` at the start of `s`: the quantity, and the bytes up to and with the `×`.
fn count_and_times(s: &str) -> Option<(i64, usize)> {
    let (q, _) = s.split_once('×')?;
    let qty = q.trim().parse::<i64>().ok()?;
    (qty.unsigned_abs() as f64 <= schema::MAX_NUMBER).then_some((qty, q.len() + '×'.len_utf8()))
}

/// The starts that begin products: the first always, and of the others the largest set
/// whose quantities sum to `items`.
fn choose(raw: &str, starts: &[Start], items: Option<i64>) -> Result<Vec<Start>> {
    let all: i64 = starts.iter().map(|s| s.qty).sum();
    let Some(items) = items.filter(|n| *n != all) else {
        return Ok(starts.to_vec());
    };
    let (first, rest) = starts
        .split_first()
        .map_or((0, &[][..]), |(f, r)| (f.qty, r));
    let mismatch = || {
        anyhow!(
            "column `Product(s)`: no reading of {:?} has the {items} units of `Items sold`",
            excerpt(raw)
        )
    };
    if rest.len() > MAX_AMBIGUOUS {
        return Err(mismatch());
    }
    // (products, how many readings have that many, one of them)
    let mut best: Option<(u32, u32, u32)> = None;
    for mask in 0u32..(1 << rest.len()) {
        let sum: i64 = first
            + rest
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| s.qty)
                .sum::<i64>();
        if sum != items {
            continue;
        }
        let n = mask.count_ones();
        best = match best {
            Some((m, ties, b)) if m > n => Some((m, ties, b)),
            Some((m, ties, b)) if m == n => Some((m, ties + 1, b)),
            _ => Some((n, 1, mask)),
        };
    }
    match best {
        None => Err(mismatch()),
        Some((n, ties, _)) if ties > 1 => bail!(
            "column `Product(s)`: {:?} reads as {} products with the {items} units of `Items \
             sold` in {ties} ways: which names hold `, ` cannot be told",
            excerpt(raw),
            n + 1
        ),
        Some((_, _, mask)) => Ok(starts
            .iter()
            .take(1)
            .chain(
                rest.iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, s)| s),
            )
            .copied()
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str, items: Option<i64>) -> Vec<(i64, String)> {
        products(raw, items).unwrap_or_else(|e| panic!("{raw}: {e:#}"))
    }

    fn pairs(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter().map(|(q, n)| (*q, n.to_string())).collect()
    }

    #[test]
    fn product_lists_split_on_counts_not_on_every_comma() {
        assert_eq!(
            read("2× Hoodie, 1× Cap, Blue", Some(3)),
            pairs(&[(2, "Hoodie"), (1, "Cap, Blue")])
        );
        assert_eq!(read("", Some(0)), vec![]);
        assert!(products("Hoodie", Some(1)).is_err());
    }

    #[test]
    fn product_lists_agree_with_items_sold() {
        // One canvas print sold: `2×3 ft` is part of its name, not two more products.
        assert_eq!(
            read("1× Canvas print, 2×3 ft", Some(1)),
            pairs(&[(1, "Canvas print, 2×3 ft")])
        );
        // Three sold: the print and two of `3 ft`.
        assert_eq!(
            read("1× Canvas print, 2×3 ft", Some(3)),
            pairs(&[(1, "Canvas print"), (2, "3 ft")])
        );
        // No `Items sold`: every `, N×` starts a product.
        assert_eq!(
            read("1× Canvas print, 2×3 ft", None),
            pairs(&[(1, "Canvas print"), (2, "3 ft")])
        );
        // 2 + 1 + 1 = 4 and 2 + 1 = 3 twice over (`A, 1× B` + `C`, or `A` + `B, 1× C`).
        assert_eq!(
            read("2× A, 1× B, 1× C", Some(4)),
            pairs(&[(2, "A"), (1, "B"), (1, "C")])
        );
        let e = format!("{:#}", products("2× A, 1× B, 1× C", Some(3)).unwrap_err());
        assert!(e.contains("in 2 ways"), "{e}");
        // No reading sums to 5 (2 + 1 = 3, or 2).
        let e = format!("{:#}", products("2× Mug, 1× Cap", Some(5)).unwrap_err());
        assert!(e.contains("no reading") && e.contains("Items sold"), "{e}");
        // A refund's list: -2 + -1 = -3.
        assert_eq!(
            read("-2× Hoodie, -1× Cap", Some(-3)),
            pairs(&[(-2, "Hoodie"), (-1, "Cap")])
        );
        assert!(products("2× ", Some(2)).is_err());
    }
}
