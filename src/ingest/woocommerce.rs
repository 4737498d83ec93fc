//! WooCommerce's Analytics > Orders report, downloaded as CSV (the columns of
//! `Automattic\WooCommerce\Admin\API\Reports\Orders\Controller::get_export_columns`):
//! `Date`, `Order #`, `Status`, `Customer`, `Customer type`, `Product(s)`, `Items sold`,
//! `Coupon(s)`, `N. Revenue`.
//!
//! The report gives each order's net revenue and its products as `2× Hoodie, 1× Cap`, but
//! no price per product: the revenue is spread evenly over the order's units, so daily
//! totals are exact and per-product revenue is an estimate (README, "Your shop's data").

use std::collections::HashSet;

use anyhow::{Result, anyhow, bail};
use chrono_tz::Tz;

use super::ImportOptions;
use super::preset::{Preset, Rows, Target, customer, optional, text};
use super::shopify::LINE_PRODUCTS;
use super::source::{Columns, Header, cell, has_all};
use super::values::{export_count, export_number, local_day, parse_timestamp};
use crate::table::{self, SqlValue};

pub fn matches(h: &Header) -> bool {
    has_all(h, &["Date", "Order #", "Product(s)"])
        && (has_all(h, &["N. Revenue"]) || has_all(h, &["Net sales"]))
}

static TARGETS: [Target; 4] = [
    Target::keep(&LINE_PRODUCTS),
    Target::upsert(&table::ORDERS),
    Target::upsert(&table::ORDER_LINES),
    Target::upsert(&table::REFUNDS),
];

pub struct Orders {
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
}

impl Orders {
    pub fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Orders> {
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
        })
    }
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
        let placed_at = parse_timestamp(cell(r, Some(self.date)), self.tz)
            .map_err(|e| anyhow!("column `Date`: {e}"))?;
        let day = local_day(placed_at, self.tz).to_string();
        let revenue = export_number(cell(r, Some(self.revenue)))
            .map_err(|e| anyhow!("column `N. Revenue`: {e}"))?
            .unwrap_or(0.0);
        if revenue < 0.0 {
            // A refund, reported as an order of negative revenue on the refund's date.
            out.push((
                3,
                vec![
                    text(id),
                    text(&format!("woocommerce-{day}")),
                    text(&day),
                    SqlValue::Float(-revenue),
                    SqlValue::Null,
                ],
            ));
            return Ok(());
        }
        let kind = cell(r, self.customer_type).to_ascii_lowercase();
        out.push((
            1,
            vec![
                text(id),
                SqlValue::Int(placed_at),
                text(&day),
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
        let mut lines = products(cell(r, Some(self.products)))?;
        if lines.is_empty() {
            let n = export_count(cell(r, self.items))
                .ok()
                .flatten()
                .unwrap_or(1)
                .max(1);
            lines.push((n, "(no product listed)".to_string()));
        }
        let units: i64 = lines.iter().map(|(q, _)| q).sum();
        let unit_price = if units > 0 {
            revenue / units as f64
        } else {
            0.0
        };
        for (n, (qty, name)) in lines.into_iter().enumerate() {
            if self.skus.insert(name.clone()) {
                out.push((
                    0,
                    vec![text(&name), text(&name), SqlValue::Float(unit_price)],
                ));
            }
            out.push((
                2,
                vec![
                    text(id),
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

/// `2× Hoodie, 1× Cap, Blue` as (quantity, name) pairs. A name may itself hold `, `: only a
/// `, ` followed by a count and `×` starts the next product.
fn products(raw: &str) -> Result<Vec<(i64, String)>> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let (qty, after) = match rest.split_once('×') {
            Some((q, a)) if q.trim().parse::<i64>().is_ok() => {
                (super::values::quantity(q.trim())?, a)
            }
            _ => bail!("column `Product(s)`: {rest:?} is not `N× name`"),
        };
        let mut end = after.len();
        let mut search = 0;
        while let Some(p) = after[search..].find(", ") {
            let at = search + p;
            let next = after[at + 2..].trim_start();
            if next
                .split_once('×')
                .is_some_and(|(q, _)| q.trim().parse::<i64>().is_ok())
            {
                end = at;
                break;
            }
            search = at + 2;
        }
        out.push((qty, after[..end].trim().to_string()));
        rest = after[end..].trim_start_matches(", ").trim();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_lists_split_on_counts_not_on_every_comma() {
        assert_eq!(
            products("2× Hoodie, 1× Cap, Blue").unwrap(),
            vec![(2, "Hoodie".to_string()), (1, "Cap, Blue".to_string())]
        );
        assert_eq!(products("").unwrap(), vec![]);
        assert!(products("Hoodie").is_err());
    }
}
