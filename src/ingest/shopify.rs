//! Shopify's CSV exports: orders (Admin > Orders > Export) and products (Admin > Products >
//! Export). Columns are found by name, so versions that add, drop or move columns still
//! import; columns dawnpost does not use are ignored.

use std::collections::HashSet;

use anyhow::{Result, anyhow, bail};
use chrono_tz::Tz;

use super::history::Guesses;
use super::load::{Rows, Target};
use super::options::ImportOptions;
use super::preset::{ExportFormat, LINE_PRODUCTS, Preset};
use super::source::{Columns, Header, cell, has_all};
use super::values::{
    customer_hash, customer_id, export_number, local_day, optional, parse_timestamp, quantity, text,
};
use crate::schema::{self, ColType, TableSpec, col};
use crate::store::write::SqlValue;

pub(super) static ORDERS_EXPORT: ExportFormat = ExportFormat {
    name: "shopify-orders",
    expects: "Shopify Admin > Orders > Export (CSV): Name, Created at, Lineitem quantity, \
              Lineitem price, …",
    matches: matches_orders,
    open: |h, opts| Ok(Box::new(Orders::new(h, opts)?)),
};

pub(super) static PRODUCTS_EXPORT: ExportFormat = ExportFormat {
    name: "shopify-products",
    expects: "Shopify Admin > Products > Export (CSV): Handle, Variant SKU, Variant Price, …",
    matches: matches_products,
    open: |h, opts| Ok(Box::new(Products::new(h, opts)?)),
};

fn matches_orders(h: &Header) -> bool {
    has_all(
        h,
        &["Name", "Created at", "Lineitem quantity", "Lineitem price"],
    )
}

fn matches_products(h: &Header) -> bool {
    has_all(h, &["Handle", "Variant SKU", "Variant Price"])
}

/// What a products export knows of a product; the lead time is left as it was.
const PRODUCT_FIELDS: TableSpec = TableSpec {
    name: "products",
    columns: &[
        col("sku", ColType::Text),
        col("name", ColType::Text),
        col("category", ColType::Text),
        col("unit_price", ColType::Float { min: 0.0 }),
        col("unit_cost", ColType::Float { min: 0.0 }),
    ],
    key: &["sku"],
    refs: &[],
};

/// An order as the export gives it: the columns of `orders`, and the customer type guessed
/// from the file, written only into a new row (see [`schema::on_insert`]).
pub(super) const ORDER_FIELDS: TableSpec = TableSpec {
    name: "orders",
    columns: &schema::order_columns!(schema::on_insert(
        "derived_type",
        ColType::Enum(schema::CUSTOMER_TYPES)
    )),
    key: &["order_id"],
    refs: &[],
};

// An order's lines, shipment and refund follow from its key: only the order's is checked.
static ORDER_TARGETS: [Target; 5] = [
    Target::keep(&LINE_PRODUCTS),
    Target::upsert(&ORDER_FIELDS),
    Target::follows(&schema::ORDER_LINES),
    Target::follows(&schema::FULFILMENT),
    Target::follows(&super::refund_dates::REFUND_TOTALS).shown_as("refunds"),
];
const PRODUCTS: usize = 0;
const ORDERS: usize = 1;
const LINES: usize = 2;
const FULFILMENT: usize = 3;
const REFUNDS: usize = 4;

/// The orders export: one row per line item; the order's own fields only on its first row.
struct Orders {
    tz: Tz,
    opts: ImportOptions,
    c: OrderColumns,
    /// The order whose rows are being read, and its next line position.
    current: Option<(String, i64)>,
    skus: HashSet<String>,
    guesses: Guesses,
    channel: LastChannel,
}

/// The last `Source` read and its channel. Most orders come from one or two sources, and
/// mapping a source afresh (the shop's table, then the defaults) took a tenth of the time
/// an order's fields took.
#[derive(Default)]
struct LastChannel(Option<(String, String)>);

impl LastChannel {
    fn of(&mut self, opts: &ImportOptions, source: &str) -> &str {
        if self.0.as_ref().is_none_or(|(s, _)| s != source) {
            self.0 = Some((source.to_string(), opts.channel(source)));
        }
        self.0.as_ref().map_or("", |(_, channel)| channel.as_str())
    }
}

struct OrderColumns {
    name: usize,
    created: usize,
    qty: usize,
    price: usize,
    item: Option<usize>,
    sku: Option<usize>,
    email: Option<usize>,
    financial: Option<usize>,
    fulfillment: Option<usize>,
    fulfilled_at: Option<usize>,
    cancelled_at: Option<usize>,
    discount: Option<usize>,
    refunded: Option<usize>,
    source: Option<usize>,
    country: Option<usize>,
    region: Option<usize>,
    shipping_method: Option<usize>,
}

impl Orders {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Orders> {
        let c = Columns::new(h);
        let cols = OrderColumns {
            name: c.require(&["Name"])?,
            created: c.require(&["Created at"])?,
            qty: c.require(&["Lineitem quantity"])?,
            price: c.require(&["Lineitem price"])?,
            item: c.find(&["Lineitem name"])?,
            sku: c.find(&["Lineitem sku"])?,
            email: c.find(&["Email"])?,
            financial: c.find(&["Financial Status"])?,
            fulfillment: c.find(&["Fulfillment Status"])?,
            fulfilled_at: c.find(&["Fulfilled at", "Fulfilled At", "Fulfillment Date"])?,
            cancelled_at: c.find(&["Cancelled at"])?,
            discount: c.find(&["Discount Amount"])?,
            refunded: c.find(&["Refunded Amount"])?,
            source: c.find(&["Source"])?,
            country: c.find(&["Shipping Country", "Billing Country"])?,
            region: c.find(&["Shipping Province", "Billing Province"])?,
            shipping_method: c.find(&["Shipping Method"])?,
        };
        if cols.item.is_none() && cols.sku.is_none() {
            bail!("missing column `Lineitem sku` (or `Lineitem name`)");
        }
        Ok(Orders {
            tz: opts.tz,
            opts: opts.clone(),
            c: cols,
            current: None,
            skus: HashSet::new(),
            guesses: Guesses::default(),
            channel: LastChannel::default(),
        })
    }

    /// The order's own row, and its shipment and refund where the export shows them.
    fn order_rows(&mut self, r: &csv::StringRecord, id: &str, out: &mut Rows) -> Result<()> {
        let c = &self.c;
        let created = cell(r, Some(c.created));
        if created.is_empty() {
            bail!("column `Created at`: the first row of order {id} has no value");
        }
        let placed_at =
            parse_timestamp(created, self.tz).map_err(|e| anyhow!("column `Created at`: {e}"))?;
        let day = local_day(placed_at, self.tz).to_string();
        let status = if !cell(r, c.cancelled_at).is_empty() {
            "cancelled"
        } else if cell(r, c.financial).eq_ignore_ascii_case("refunded") {
            "returned"
        } else if cell(r, c.fulfillment).eq_ignore_ascii_case("fulfilled") {
            "shipped"
        } else {
            "placed"
        };
        let source = match cell(r, c.source) {
            "" => "web",
            s => s,
        };
        let channel = self.channel.of(&self.opts, source);
        let discount = money(r, c.discount, "Discount Amount")?.unwrap_or(0.0);
        let customer = customer_hash(cell(r, c.email));
        let guessed = self
            .guesses
            .guess_type(customer, placed_at, status == "cancelled");
        out.push((
            ORDERS,
            vec![
                text(id),
                SqlValue::Int(placed_at),
                text(&day),
                text(channel),
                customer.map_or(SqlValue::Null, |h| SqlValue::Text(customer_id(h))),
                SqlValue::Null,
                SqlValue::Float(discount),
                text(status),
                optional(cell(r, c.country)),
                optional(cell(r, c.region)),
                guessed,
            ],
        ));
        let fulfilled = cell(r, c.fulfilled_at);
        if !fulfilled.is_empty() {
            let at = parse_timestamp(fulfilled, self.tz)
                .map_err(|e| anyhow!("column `Fulfilled at`: {e}"))?;
            out.push((
                FULFILMENT,
                vec![
                    text(id),
                    optional(cell(r, c.shipping_method)),
                    SqlValue::Int(at),
                    text(&local_day(at, self.tz).to_string()),
                    SqlValue::Null,
                    SqlValue::Null,
                    SqlValue::Null,
                ],
            ));
        }
        if let Some(amount) = money(r, c.refunded, "Refunded Amount")?.filter(|a| *a > 0.0) {
            // A running total with no date: `refund_dates` dates what is new in it.
            out.push((REFUNDS, vec![text(id), SqlValue::Float(amount)]));
        }
        Ok(())
    }
}

impl Preset for Orders {
    fn targets(&self) -> &'static [Target] {
        &ORDER_TARGETS
    }

    fn unsure_customers(&self) -> Option<Vec<String>> {
        Some(self.guesses.unsure())
    }

    fn record(&mut self, r: &csv::StringRecord, out: &mut Rows) -> Result<()> {
        let id = cell(r, Some(self.c.name));
        if id.is_empty() {
            bail!("column `Name`: a value is required (the order number)");
        }
        let first = self.current.as_ref().is_none_or(|(o, _)| o != id);
        if first {
            self.current = None;
        }
        let (_, pos) = self.current.get_or_insert_with(|| (id.to_string(), 0));
        *pos += 1;
        let line_no = *pos;
        if first {
            self.order_rows(r, id, out)?;
        }
        let qty = quantity(cell(r, Some(self.c.qty)))
            .map_err(|e| anyhow!("column `Lineitem quantity`: {e}"))?;
        let price = money(r, Some(self.c.price), "Lineitem price")?.unwrap_or(0.0);
        if price < 0.0 {
            bail!("column `Lineitem price`: {price} is below 0");
        }
        let name = cell(r, self.c.item);
        let sku = match cell(r, self.c.sku) {
            "" if name.is_empty() => {
                bail!("columns `Lineitem sku` and `Lineitem name` are both empty")
            }
            "" => name,
            s => s,
        };
        if !self.skus.contains(sku) {
            self.skus.insert(sku.to_string());
            let shown = if name.is_empty() { sku } else { name };
            out.push((
                PRODUCTS,
                vec![text(sku), text(shown), SqlValue::Float(price)],
            ));
        }
        out.push((
            LINES,
            vec![
                text(id),
                SqlValue::Int(line_no),
                text(sku),
                SqlValue::Int(qty),
                SqlValue::Float(price),
            ],
        ));
        Ok(())
    }
}

static PRODUCT_TARGETS: [Target; 2] = [
    Target::upsert(&PRODUCT_FIELDS),
    Target::upsert(&schema::INVENTORY),
];

/// The products export: one row per variant; the product's own fields (Title, Type) only
/// on its first row.
struct Products {
    day: String,
    handle: Option<(String, String, String)>,
    c: ProductColumns,
}

struct ProductColumns {
    handle: usize,
    sku: usize,
    price: usize,
    title: Option<usize>,
    kind: Option<usize>,
    category: Option<usize>,
    option: Option<usize>,
    cost: Option<usize>,
    stock: Option<usize>,
}

impl Products {
    fn new(h: &csv::StringRecord, opts: &ImportOptions) -> Result<Products> {
        let c = Columns::new(h);
        Ok(Products {
            day: opts.day.to_string(),
            handle: None,
            c: ProductColumns {
                handle: c.require(&["Handle"])?,
                sku: c.require(&["Variant SKU"])?,
                price: c.require(&["Variant Price"])?,
                title: c.find(&["Title"])?,
                kind: c.find(&["Type"])?,
                category: c.find(&["Product Category"])?,
                option: c.find(&["Option1 Value"])?,
                cost: c.find(&["Cost per item"])?,
                stock: c.find(&["Variant Inventory Qty"])?,
            },
        })
    }
}

impl Preset for Products {
    fn targets(&self) -> &'static [Target] {
        &PRODUCT_TARGETS
    }

    fn record(&mut self, r: &csv::StringRecord, out: &mut Rows) -> Result<()> {
        let c = &self.c;
        let handle = cell(r, Some(c.handle));
        if self.handle.as_ref().is_some_and(|(h, _, _)| h != handle) {
            self.handle = None;
        }
        let (_, title, kind) = self.handle.get_or_insert_with(|| {
            // Type is the shop's own word for a category; Shopify's taxonomy path is longer.
            let kind = match cell(r, c.kind) {
                "" => cell(r, c.category).rsplit(" > ").next().unwrap_or(""),
                k => k,
            };
            (
                handle.to_string(),
                cell(r, c.title).to_string(),
                kind.to_string(),
            )
        });
        let sku = cell(r, Some(c.sku));
        if sku.is_empty() {
            // An image row, or a variant without a SKU: nothing to sell by.
            return Ok(());
        }
        let option = cell(r, c.option);
        let name = match (title.as_str(), option) {
            ("", _) => handle.to_string(),
            (t, "" | "Default Title") => t.to_string(),
            (t, o) => format!("{t} - {o}"),
        };
        let price = money(r, Some(c.price), "Variant Price")?
            .ok_or_else(|| anyhow!("column `Variant Price`: a value is required"))?;
        if price < 0.0 {
            bail!("column `Variant Price`: {price} is below 0");
        }
        let cost = money(r, c.cost, "Cost per item")?;
        out.push((
            0,
            vec![
                text(sku),
                text(&name),
                optional(kind),
                SqlValue::Float(price),
                cost.map_or(SqlValue::Null, SqlValue::Float),
            ],
        ));
        let stock = cell(r, c.stock);
        if !stock.is_empty() {
            let qty =
                quantity(stock).map_err(|e| anyhow!("column `Variant Inventory Qty`: {e}"))?;
            // Oversold stock is negative in Shopify; none is on hand.
            out.push((
                1,
                vec![
                    text(&self.day),
                    text(sku),
                    SqlValue::Int(qty.max(0)),
                    SqlValue::Int(0),
                ],
            ));
        }
        Ok(())
    }
}

fn money(r: &csv::StringRecord, i: Option<usize>, name: &str) -> Result<Option<f64>> {
    export_number(cell(r, i)).map_err(|e| anyhow!("column `{name}`: {e}"))
}
