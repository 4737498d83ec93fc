//! Matrixify's Orders export (the scheduled-export app many Shopify shops use): one row per
//! line of an order, its kind in `Line: Type`. Unlike Shopify's own export it dates each
//! refund (`Refund: Created At` on its `Refund Line` rows) and carries each line's variant
//! cost (`Line: Variant Cost`). Columns are found by name; fixtures/matrixify says where
//! each comes from.
//!
//! An order's rows follow one another; its own fields are read from its first row. A refund
//! counts on its own day: its amount is the refunded lines' totals, its units their
//! quantities (both negative in the file). A refund of shipping alone has no line and is
//! not counted, which the README says.

use std::collections::HashSet;

use anyhow::{Result, anyhow, bail};
use chrono_tz::Tz;

use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, LINE_PRODUCTS, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::{
    customer, export_number, local_day, optional, parse_timestamp, quantity, text,
};
use crate::schema::{self, ColType, TableSpec, col, on_insert, opt};
use crate::store::write::SqlValue;

pub(super) static ORDERS_EXPORT: ExportFormat = ExportFormat {
    name: "matrixify-orders",
    expects: "Matrixify Orders export (CSV): Name, Created At, Line: Type, Line: Quantity, \
              Line: Price, …",
    matches,
    open: |h, opts| Ok(Box::new(Orders::new(h, opts)?)),
};

fn matches(h: &Header) -> bool {
    has_all(h, &["Name", "Created At", "Line: Type", "Line: Quantity"])
}

/// A product as a line with a cost names it: the cost is the variant's as exported, so it
/// replaces the stored one; the name and price are written only into a new row.
const COSTED_PRODUCTS: TableSpec = TableSpec {
    name: "products",
    columns: &[
        col("sku", ColType::Text),
        on_insert("name", ColType::Text),
        on_insert("unit_price", ColType::Float { min: 0.0 }),
        opt("unit_cost", ColType::Float { min: 0.0 }),
    ],
    key: &["sku"],
    refs: &[],
};

static TARGETS: [Target; 5] = [
    Target::keep(&LINE_PRODUCTS),
    Target::follows(&COSTED_PRODUCTS),
    Target::upsert(&schema::ORDERS),
    Target::follows(&schema::ORDER_LINES),
    Target::follows(&schema::REFUNDS),
];
const PRODUCTS: usize = 0;
const COSTED: usize = 1;
const ORDERS: usize = 2;
const LINES: usize = 3;
const REFUNDS: usize = 4;

/// The most refunds one order may have.
const MAX_REFUNDS: usize = 10_000;

struct Cols {
    name: usize,
    created: usize,
    kind: usize,
    qty: usize,
    price: Option<usize>,
    total: Option<usize>,
    sku: Option<usize>,
    title: Option<usize>,
    cost: Option<usize>,
    cancelled: Option<usize>,
    payment: Option<usize>,
    fulfilment: Option<usize>,
    discount: Option<usize>,
    email: Option<usize>,
    country: Option<usize>,
    region: Option<usize>,
    refund_id: Option<usize>,
    refund_at: Option<usize>,
}

/// A refund being summed over its lines: id, day, amount, units.
type Refund = (String, String, f64, i64);

struct Orders {
    tz: Tz,
    channel: String,
    c: Cols,
    /// The order whose rows are being read, its next line number and its refunds so far.
    current: Option<(String, i64, Vec<Refund>)>,
    skus: HashSet<String>,
}

impl Orders {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Orders> {
        let c = Columns::new(h);
        let cols = Cols {
            name: c.require(&["Name"])?,
            created: c.require(&["Created At"])?,
            kind: c.require(&["Line: Type"])?,
            qty: c.require(&["Line: Quantity"])?,
            price: c.find(&["Line: Price"])?,
            total: c.find(&["Line: Total"])?,
            sku: c.find(&["Line: SKU"])?,
            title: c.find(&["Line: Name", "Line: Title"])?,
            cost: c.find(&["Line: Variant Cost"])?,
            cancelled: c.find(&["Cancelled At"])?,
            payment: c.find(&["Payment: Status"])?,
            fulfilment: c.find(&["Order Fulfillment Status"])?,
            discount: c.find(&["Price: Total Discount"])?,
            email: c.find(&["Customer: Email", "Email"])?,
            country: c.find(&["Shipping: Country Code", "Billing: Country Code"])?,
            region: c.find(&["Shipping: Province Code", "Billing: Province Code"])?,
            refund_id: c.find(&["Refund: ID"])?,
            refund_at: c.find(&["Refund: Created At"])?,
        };
        if cols.sku.is_none() && cols.title.is_none() {
            bail!("missing column `Line: SKU` (or `Line: Name`)");
        }
        Ok(Orders {
            tz: opts.tz,
            channel: opts.channel("web"),
            c: cols,
            current: None,
            skus: HashSet::new(),
        })
    }

    /// The order's own row, from its first row.
    fn order_row(&self, r: &csv::StringRecord, id: &str, out: &mut Rows) -> Result<()> {
        let c = &self.c;
        let created = cell(r, Some(c.created));
        if created.is_empty() {
            bail!("column `Created At`: the first row of order {id} has no value");
        }
        let at =
            parse_timestamp(created, self.tz).map_err(|e| anyhow!("column `Created At`: {e}"))?;
        let is = |i: Option<usize>, v: &str| cell(r, i).eq_ignore_ascii_case(v);
        let status = if !cell(r, c.cancelled).is_empty() {
            "cancelled"
        } else if is(c.payment, "refunded") {
            "returned"
        } else if is(c.fulfilment, "fulfilled") {
            "shipped"
        } else {
            "placed"
        };
        let discount = money(r, c.discount, "Price: Total Discount")?
            .unwrap_or(0.0)
            .max(0.0);
        out.push((
            ORDERS,
            vec![
                text(id),
                SqlValue::Int(at),
                text(&local_day(at, self.tz).to_string()),
                text(&self.channel),
                customer(cell(r, c.email)),
                SqlValue::Null,
                SqlValue::Float(discount),
                text(status),
                optional(cell(r, c.country)),
                optional(cell(r, c.region)),
            ],
        ));
        Ok(())
    }

    /// The line's SKU (its name when it has none) and, the first time the file names it,
    /// its product.
    fn product(&mut self, r: &csv::StringRecord, price: f64, out: &mut Rows) -> Result<String> {
        let title = cell(r, self.c.title);
        let sku = match cell(r, self.c.sku) {
            "" if title.is_empty() => bail!("columns `Line: SKU` and `Line: Name` are both empty"),
            "" => title,
            s => s,
        }
        .to_string();
        if self.skus.insert(sku.clone()) {
            let name = text(if title.is_empty() { &sku } else { title });
            match money(r, self.c.cost, "Line: Variant Cost")? {
                Some(cost) if cost >= 0.0 => out.push((
                    COSTED,
                    vec![
                        text(&sku),
                        name,
                        SqlValue::Float(price),
                        SqlValue::Float(cost),
                    ],
                )),
                _ => out.push((PRODUCTS, vec![text(&sku), name, SqlValue::Float(price)])),
            }
        }
        Ok(sku)
    }

    /// A `Refund Line` row, added to its refund.
    fn refund_line(&mut self, r: &csv::StringRecord) -> Result<()> {
        let c = &self.c;
        let id = cell(r, c.refund_id);
        if id.is_empty() {
            bail!("column `Refund: ID`: a `Refund Line` row needs one");
        }
        let at = cell(r, c.refund_at);
        if at.is_empty() {
            bail!("column `Refund: Created At`: a `Refund Line` row needs one");
        }
        let at = parse_timestamp(at, self.tz)
            .map_err(|e| anyhow!("column `Refund: Created At`: {e}"))?;
        let day = local_day(at, self.tz).to_string();
        let units = quantity(cell(r, Some(c.qty)))
            .map_err(|e| anyhow!("column `Line: Quantity`: {e}"))?
            .unsigned_abs();
        let amount = match money(r, c.total, "Line: Total")? {
            Some(t) => t.abs(),
            None => money(r, c.price, "Line: Price")?.unwrap_or(0.0).abs() * units as f64,
        };
        let Some((_, _, refunds)) = self.current.as_mut() else {
            bail!("a `Refund Line` row before any order");
        };
        let units = i64::try_from(units).unwrap_or(i64::MAX);
        match refunds.iter().position(|f| f.0 == id) {
            Some(i) => {
                refunds[i].2 += amount;
                refunds[i].3 = refunds[i].3.saturating_add(units);
            }
            None if refunds.len() >= MAX_REFUNDS => {
                bail!("more than {MAX_REFUNDS} refunds on one order")
            }
            None => refunds.push((id.to_string(), day, amount, units)),
        }
        Ok(())
    }

    /// The refunds of the order just read.
    fn end_order(&mut self, out: &mut Rows) {
        if let Some((order, _, refunds)) = self.current.take() {
            for (id, day, amount, units) in refunds {
                out.push((
                    REFUNDS,
                    vec![
                        text(&order),
                        text(&id),
                        text(&day),
                        SqlValue::Float(amount),
                        SqlValue::Int(units),
                    ],
                ));
            }
        }
    }
}

impl Preset for Orders {
    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn record(&mut self, r: &csv::StringRecord, out: &mut Rows) -> Result<()> {
        let id = cell(r, Some(self.c.name));
        if id.is_empty() {
            bail!("column `Name`: a value is required (the order's name)");
        }
        if self.current.as_ref().is_none_or(|(o, ..)| o != id) {
            self.end_order(out);
            self.order_row(r, id, out)?;
            self.current = Some((id.to_string(), 0, Vec::new()));
        }
        match cell(r, Some(self.c.kind)) {
            "Line Item" => {
                let qty = quantity(cell(r, Some(self.c.qty)))
                    .map_err(|e| anyhow!("column `Line: Quantity`: {e}"))?;
                let price = money(r, self.c.price, "Line: Price")?.unwrap_or(0.0);
                if price < 0.0 {
                    bail!("column `Line: Price`: {price} is below 0");
                }
                let sku = self.product(r, price, out)?;
                let Some((order, line, _)) = self.current.as_mut() else {
                    bail!("a line before any order");
                };
                *line += 1;
                out.push((
                    LINES,
                    vec![
                        text(order),
                        SqlValue::Int(*line),
                        text(&sku),
                        SqlValue::Int(qty),
                        SqlValue::Float(price),
                    ],
                ));
                Ok(())
            }
            "Refund Line" => self.refund_line(r),
            // Shipping, discount, transaction and fulfilment rows: the order's own fields
            // already hold what dawnpost reads of them.
            _ => Ok(()),
        }
    }

    fn finish(&mut self, out: &mut Rows) -> Result<()> {
        self.end_order(out);
        Ok(())
    }
}

fn money(r: &csv::StringRecord, i: Option<usize>, name: &str) -> Result<Option<f64>> {
    export_number(cell(r, i)).map_err(|e| anyhow!("column `{name}`: {e}"))
}
