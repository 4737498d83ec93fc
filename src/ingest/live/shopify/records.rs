//! What Shopify's GraphQL gives for an order and a product variant, and the rows each
//! becomes: the queries, the shapes (only the fields read; Shopify may add more), and the
//! mapping onto dawnpost's tables.

use anyhow::{Context, Result, anyhow, bail};
use chrono::DateTime;
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ingest::live::intake::{amount, short, sku_or_name};
use crate::ingest::load::{Rows, Target};
use crate::ingest::options::ImportOptions;
use crate::ingest::preset::LINE_PRODUCTS;
use crate::ingest::values::{customer_hash, customer_id, local_day, optional, text};
use crate::schema;
use crate::store::write::SqlValue;

/// Orders a page asks for. Each asks for up to 50 lines (an order with more has the rest
/// read after it), its refunds, fulfilments and up to 5 returns of 20 lines; Shopify
/// refuses a query whose cost could pass 1,000 points.
pub(super) const PAGE_ORDERS: u32 = 4;
/// The most lines one order may have: past it the record is refused.
pub(super) const MAX_LINES: usize = 10_000;

/// The tables a Shopify sync writes, parents first.
pub(super) static TARGETS: [Target; 8] = [
    Target::upsert(&VARIANT_FIELDS),
    Target::keep(&LINE_PRODUCTS),
    Target::upsert(&schema::ORDERS),
    Target::follows(&schema::ORDER_LINES),
    Target::follows(&schema::FULFILMENT),
    Target::upsert(&schema::REFUNDS),
    Target::upsert(&schema::RETURNS),
    Target::upsert(&schema::INVENTORY),
];
/// What a variant says of a product; its lead time is left as it was.
const VARIANT_FIELDS: schema::TableSpec = schema::TableSpec {
    name: "products",
    columns: &[
        schema::col("sku", schema::ColType::Text),
        schema::col("name", schema::ColType::Text),
        schema::opt("category", schema::ColType::Text),
        schema::col("unit_price", schema::ColType::Float { min: 0.0 }),
        schema::opt("unit_cost", schema::ColType::Float { min: 0.0 }),
    ],
    key: &["sku"],
    refs: &[],
};
const PRODUCTS: usize = 0;
const LINE_PRODUCT: usize = 1;
const ORDERS: usize = 2;
const LINES: usize = 3;
const FULFILMENT: usize = 4;
const REFUNDS: usize = 5;
const RETURNS: usize = 6;
const INVENTORY: usize = 7;

/// An order's own fields, as both the paged query and the bulk operation ask for them.
macro_rules! order_own {
    () => {
        "id name createdAt updatedAt cancelledAt sourceName displayFinancialStatus \
         displayFulfillmentStatus customer { id } totalDiscountsSet { shopMoney { amount } } \
         shippingAddress { countryCodeV2 provinceCode } "
    };
}

/// A line's fields.
macro_rules! line_fields {
    () => {
        "id sku name title quantity originalUnitPriceSet { shopMoney { amount } } "
    };
}

/// A refund's own fields (its lines are a connection, which a bulk query cannot hold
/// inside the list of refunds).
macro_rules! refund_own {
    () => {
        "id createdAt totalRefundedSet { shopMoney { amount } } "
    };
}

/// A returned line: how many, why, and which of the order's lines.
macro_rules! return_line {
    () => {
        "id ... on ReturnLineItem { quantity returnReason returnReasonDefinition { handle } \
         fulfillmentLineItem { lineItem { sku name } } }"
    };
}

/// A page of orders with their lines, refunds (with their lines' units), shipments and
/// returns. Shopify refuses a query that could cost over 1,000 points, counting an object
/// 1 and a connection 2 plus `first` times its node. An order here: itself, its customer,
/// discounts and address 5; 25 lines × 3 + 2 = 77; 5 refunds × (3 + 10 refunded lines + 2)
/// = 75; 3 shipments × 2 = 6; 2 returns × (3 + 5 returned lines × 4) + 2 = 48: 211, and a
/// page of 4 orders 846. What an order has past these is read after it (see
/// `Client::rest_of`).
pub(super) const ORDERS_QUERY: &str = concat!(
    "query Orders($first: Int!, $after: String, $query: String!) { ",
    "orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { ",
    "pageInfo { hasNextPage endCursor } nodes { ",
    order_own!(),
    "lineItems(first: 25) { pageInfo { hasNextPage endCursor } nodes { ",
    line_fields!(),
    "} } ",
    "refunds(first: 5) { ",
    refund_own!(),
    "refundLineItems(first: 10) { pageInfo { hasNextPage } nodes { quantity } } } ",
    "fulfillments(first: 3) { createdAt deliveredAt status trackingInfo(first: 1) { company } } ",
    "returns(first: 2) { pageInfo { hasNextPage endCursor } nodes { id status createdAt ",
    "returnLineItems(first: 5) { nodes { ",
    return_line!(),
    " } } } } ",
    "} } }"
);

/// Refunds a page of orders asks for each; an order with as many has all of its own read.
pub(super) const PAGE_REFUNDS: usize = 5;

/// The rest of one order's lines, after the first page of them.
pub(super) const LINES_QUERY: &str = concat!(
    "query Lines($id: ID!, $after: String) { node(id: $id) { ... on Order { ",
    "lineItems(first: 250, after: $after) { pageInfo { hasNextPage endCursor } nodes { ",
    line_fields!(),
    "} } } } }"
);

/// The refunded lines of up to [`UNITS_BATCH`] refunds by their ids: each refund 1 + a
/// connection of 10 lines (2 + 10), 650 points for 50.
pub(super) const UNITS_QUERY: &str = "query RefundUnits($ids: [ID!]!) { nodes(ids: $ids) { \
     ... on Refund { id refundLineItems(first: 10) { pageInfo { hasNextPage } nodes { quantity } } } } }";
pub(super) const UNITS_BATCH: usize = 50;

/// Every refund of one order (their units are not asked: a refund's lines would multiply
/// the cost by the refunds, which are not paged).
pub(super) const REFUNDS_QUERY: &str = concat!(
    "query Refunds($id: ID!) { node(id: $id) { ... on Order { refunds { ",
    refund_own!(),
    "} } } }"
);

/// The rest of one order's returns: 20 × (3 + 10 × 4) + 2 = 862 points a page.
pub(super) const RETURNS_QUERY: &str = concat!(
    "query Returns($id: ID!, $after: String) { node(id: $id) { ... on Order { ",
    "returns(first: 20, after: $after) { pageInfo { hasNextPage endCursor } nodes { id status ",
    "createdAt returnLineItems(first: 10) { nodes { ",
    return_line!(),
    " } } } } } } }"
);

/// Every product variant with its price, cost and stock on hand.
pub(super) const PRODUCTS_QUERY: &str = concat!(
    "query Variants($after: String) { productVariants(first: 100, after: $after) { ",
    "pageInfo { hasNextPage endCursor } nodes { id sku displayName price inventoryQuantity ",
    "product { productType } inventoryItem { unitCost { amount } } } } }"
);

/// A bulk operation's query: orders updated since `since`, their lines, returns and
/// returned lines as lines of their own (tied by `__parentId`); refunds and shipments are
/// lists, inline.
pub(super) fn bulk_query(since: &str) -> String {
    format!(
        "{{ orders(query: \"updated_at:>='{since}'\", sortKey: UPDATED_AT) {{ edges {{ node {{ \
         {} lineItems {{ edges {{ node {{ {} }} }} }} refunds {{ {} }} \
         fulfillments {{ createdAt deliveredAt status trackingInfo {{ company }} }} \
         returns {{ edges {{ node {{ id status createdAt returnLineItems {{ edges {{ node {{ {} \
         }} }} }} }} }} }} }} }} }} }}",
        order_own!(),
        line_fields!(),
        refund_own!(),
        return_line!()
    )
}

/// A connection's nodes and the cursor of the next page, if there is one.
pub(super) fn page<T: DeserializeOwned>(
    data: &Value,
    field: &str,
) -> Result<(Vec<T>, Option<String>)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<T> {
        page_info: PageInfo,
        nodes: Vec<T>,
    }
    let v = data
        .get(field)
        .ok_or_else(|| anyhow!("the answer has no `{field}`"))?;
    let p = Page::<T>::deserialize(v).with_context(|| format!("`{field}` is not as expected"))?;
    Ok((p.nodes, p.page_info.next()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageInfo {
    #[serde(default)]
    has_next_page: bool,
    end_cursor: Option<String>,
}

impl PageInfo {
    pub(super) fn next(&self) -> Option<String> {
        self.has_next_page
            .then(|| self.end_cursor.clone())
            .flatten()
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Money {
    amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MoneyBag {
    shop_money: Money,
}

impl MoneyBag {
    fn amount(&self, what: &str) -> Result<f64> {
        amount(&self.shop_money.amount, what)
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

#[derive(Debug, Deserialize)]
pub(super) struct Node {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Address {
    country_code_v2: Option<String>,
    province_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Lines {
    #[serde(default)]
    pub page_info: PageInfo,
    #[serde(default)]
    pub nodes: Vec<LineItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LineItem {
    sku: Option<String>,
    name: Option<String>,
    title: Option<String>,
    quantity: i64,
    original_unit_price_set: MoneyBag,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Refund {
    id: String,
    created_at: String,
    total_refunded_set: MoneyBag,
    /// Absent where they were not asked (a bulk operation, an order's refunds read alone).
    refund_line_items: Option<RefundLines>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RefundLines {
    #[serde(default)]
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<RefundLine>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RefundLine {
    quantity: i64,
}

impl Refund {
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Its lines as read after a bulk operation (which cannot ask for them).
    pub(super) fn set_lines(&mut self, lines: RefundLines) {
        self.refund_line_items = Some(lines);
    }

    /// The units given back, when every refunded line was read.
    fn units(&self) -> SqlValue {
        match &self.refund_line_items {
            Some(l) if !l.page_info.has_next_page => SqlValue::Int(
                l.nodes
                    .iter()
                    .map(|n| n.quantity.saturating_abs())
                    .fold(0, i64::saturating_add),
            ),
            _ => SqlValue::Null,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Fulfillment {
    created_at: String,
    delivered_at: Option<String>,
    status: Option<String>,
    #[serde(default)]
    tracking_info: Vec<Tracking>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Tracking {
    company: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Returns {
    #[serde(default)]
    pub page_info: PageInfo,
    #[serde(default)]
    pub nodes: Vec<Return>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Return {
    pub id: Option<String>,
    status: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    pub return_line_items: Option<ReturnLines>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ReturnLines {
    #[serde(default)]
    pub nodes: Vec<ReturnLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReturnLine {
    quantity: i64,
    return_reason: Option<String>,
    return_reason_definition: Option<ReasonDefinition>,
    fulfillment_line_item: Option<FulfilledLine>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReasonDefinition {
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FulfilledLine {
    line_item: Option<ReturnedItem>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReturnedItem {
    sku: Option<String>,
    name: Option<String>,
}

/// One order with what the sync reads of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Order {
    pub id: String,
    name: String,
    created_at: String,
    pub updated_at: String,
    cancelled_at: Option<String>,
    source_name: Option<String>,
    display_financial_status: Option<String>,
    display_fulfillment_status: Option<String>,
    customer: Option<Node>,
    total_discounts_set: Option<MoneyBag>,
    shipping_address: Option<Address>,
    #[serde(default)]
    pub line_items: Lines,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default)]
    fulfillments: Vec<Fulfillment>,
    #[serde(default)]
    pub returns: Returns,
}

/// Epoch seconds of an RFC 3339 time.
fn epoch(raw: &str, what: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp())
        .map_err(|e| anyhow!("{what}: {:?} is not a time: {e}", excerpt(raw)))
}

impl Order {
    /// What messages call the order.
    pub(super) fn label(&self) -> String {
        format!("order {}", short(&self.name))
    }

    /// The order's rows: products its lines name, the order, its lines, its first shipment,
    /// each refund on its own day, and its returns by SKU.
    pub(super) fn rows(&self, io: &ImportOptions, out: &mut Rows) -> Result<()> {
        let tz = io.tz;
        let id = short(&self.name);
        if id.is_empty() {
            bail!("the order has no name");
        }
        let placed = epoch(&self.created_at, "createdAt")?;
        let status = self.status();
        let discount = match &self.total_discounts_set {
            Some(m) => m.amount("totalDiscountsSet")?.max(0.0),
            None => 0.0,
        };
        let source = self
            .source_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("web");
        let customer = self
            .customer
            .as_ref()
            .and_then(|c| customer_hash(&c.id))
            .map_or(SqlValue::Null, |h| SqlValue::Text(customer_id(h)));
        let address = self.shipping_address.as_ref();
        let code = |f: fn(&Address) -> &Option<String>| {
            optional(&short(address.and_then(|a| f(a).as_deref()).unwrap_or("")))
        };
        out.push((
            ORDERS,
            vec![
                text(&id),
                SqlValue::Int(placed),
                text(&local_day(placed, tz).to_string()),
                text(&io.channel(source)),
                customer,
                SqlValue::Null,
                SqlValue::Float(discount),
                text(status),
                code(|a| &a.country_code_v2),
                code(|a| &a.province_code),
            ],
        ));
        self.line_rows(&id, out)?;
        self.fulfilment_rows(&id, tz, out)?;
        refund_rows(&id, &self.refunds, tz, out)?;
        self.return_rows(&id, tz, out)
    }

    /// The order's name, as its rows key it.
    pub(super) fn key(&self) -> String {
        short(&self.name)
    }

    fn status(&self) -> &'static str {
        let is =
            |v: &Option<String>, s: &str| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(s));
        if self.cancelled_at.is_some() {
            "cancelled"
        } else if is(&self.display_financial_status, "REFUNDED") {
            "returned"
        } else if self.fulfillments.iter().any(|f| f.delivered_at.is_some()) {
            "delivered"
        } else if is(&self.display_fulfillment_status, "FULFILLED") {
            "shipped"
        } else {
            "placed"
        }
    }

    fn line_rows(&self, id: &str, out: &mut Rows) -> Result<()> {
        if self.line_items.nodes.len() > MAX_LINES {
            bail!("more than {MAX_LINES} lines");
        }
        for (i, line) in self.line_items.nodes.iter().enumerate() {
            let what = format!("line {}", i + 1);
            let sku = sku_or_name(
                line.sku.as_deref(),
                line.name.as_deref().or(line.title.as_deref()),
            )
            .with_context(|| what.clone())?;
            let price = line
                .original_unit_price_set
                .amount("originalUnitPriceSet")?;
            if price < 0.0 {
                bail!("{what}: a unit price of {price} is below 0");
            }
            let name = short(
                line.name
                    .as_deref()
                    .or(line.title.as_deref())
                    .unwrap_or(&sku),
            );
            out.push((
                LINE_PRODUCT,
                vec![text(&sku), text(&name), SqlValue::Float(price)],
            ));
            out.push((
                LINES,
                vec![
                    text(id),
                    SqlValue::Int(i as i64 + 1),
                    text(&sku),
                    SqlValue::Int(line.quantity),
                    SqlValue::Float(price),
                ],
            ));
        }
        Ok(())
    }

    /// The first shipment that was not cancelled: when it left, and when it arrived.
    fn fulfilment_rows(&self, id: &str, tz: Tz, out: &mut Rows) -> Result<()> {
        let live = self.fulfillments.iter().filter(|f| {
            !f.status.as_deref().is_some_and(|s| {
                s.eq_ignore_ascii_case("CANCELLED") || s.eq_ignore_ascii_case("ERROR")
            })
        });
        let mut first: Option<(i64, &Fulfillment)> = None;
        for f in live {
            let at = epoch(&f.created_at, "fulfillments.createdAt")?;
            if first.is_none_or(|(t, _)| at < t) {
                first = Some((at, f));
            }
        }
        let Some((shipped, f)) = first else {
            return Ok(());
        };
        let delivered = f
            .delivered_at
            .as_deref()
            .map(|d| epoch(d, "fulfillments.deliveredAt"))
            .transpose()?;
        let carrier = f
            .tracking_info
            .iter()
            .find_map(|t| t.company.as_deref())
            .unwrap_or("");
        out.push((
            FULFILMENT,
            vec![
                text(id),
                optional(&short(carrier)),
                SqlValue::Int(shipped),
                text(&local_day(shipped, tz).to_string()),
                delivered.map_or(SqlValue::Null, SqlValue::Int),
                delivered.map_or(SqlValue::Null, |d| text(&local_day(d, tz).to_string())),
                SqlValue::Null,
            ],
        ));
        Ok(())
    }

    /// Returns by SKU (the table's key), on the day each was opened; declined and
    /// cancelled ones are not returns.
    fn return_rows(&self, id: &str, tz: Tz, out: &mut Rows) -> Result<()> {
        let mut by_sku: Vec<(String, String, i64, String)> = Vec::new();
        for r in &self.returns.nodes {
            let status = r.status.as_deref().unwrap_or("");
            if ["CANCELED", "DECLINED"]
                .iter()
                .any(|s| status.eq_ignore_ascii_case(s))
            {
                continue;
            }
            let Some(created) = r.created_at.as_deref() else {
                continue;
            };
            let day = local_day(epoch(created, "returns.createdAt")?, tz).to_string();
            let lines = r
                .return_line_items
                .as_ref()
                .map_or(&[][..], |l| &l.nodes[..]);
            for line in lines {
                let item = line
                    .fulfillment_line_item
                    .as_ref()
                    .and_then(|f| f.line_item.as_ref());
                let sku = sku_or_name(
                    item.and_then(|i| i.sku.as_deref()),
                    item.and_then(|i| i.name.as_deref()),
                )
                .context("a returned line")?;
                // The reason's handle ("defective"); the older enum where there is none.
                let handle = line
                    .return_reason_definition
                    .as_ref()
                    .and_then(|d| d.handle.as_deref());
                let reason = short(
                    handle
                        .or(line.return_reason.as_deref())
                        .unwrap_or("unknown"),
                )
                .to_ascii_lowercase();
                match by_sku.iter_mut().find(|(s, ..)| *s == sku) {
                    Some(r) => r.2 += line.quantity,
                    None => by_sku.push((sku, day.clone(), line.quantity, reason)),
                }
            }
        }
        for (sku, day, quantity, reason) in by_sku.into_iter().filter(|r| r.2 > 0) {
            out.push((
                RETURNS,
                vec![
                    text(id),
                    text(&sku),
                    text(&day),
                    SqlValue::Int(quantity),
                    text(&reason),
                ],
            ));
        }
        Ok(())
    }
}

/// Each refund of an order on the day it was given, with its amount and (where its lines
/// were read) its units.
pub(super) fn refund_rows(order: &str, refunds: &[Refund], tz: Tz, out: &mut Rows) -> Result<()> {
    for r in refunds {
        let at = epoch(&r.created_at, "refunds.createdAt")?;
        out.push((
            REFUNDS,
            vec![
                text(order),
                text(&short(&r.id)),
                text(&local_day(at, tz).to_string()),
                SqlValue::Float(r.total_refunded_set.amount("totalRefundedSet")?.max(0.0)),
                r.units(),
            ],
        ));
    }
    Ok(())
}

/// A product variant: its price, cost and stock on hand.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Variant {
    sku: Option<String>,
    display_name: String,
    price: String,
    inventory_quantity: Option<i64>,
    product: Option<ProductType>,
    inventory_item: Option<InventoryItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductType {
    product_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InventoryItem {
    unit_cost: Option<Money>,
}

impl Variant {
    pub(super) fn label(&self) -> String {
        format!("variant {}", short(&self.display_name))
    }

    /// The product (a variant without a SKU is no product dawnpost can name) and its stock
    /// on `day`.
    pub(super) fn rows(&self, day: &str, out: &mut Rows) -> Result<()> {
        let Some(sku) = self.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(());
        };
        let sku = sku_or_name(Some(sku), None)?;
        let price = amount(&self.price, "price")?.max(0.0);
        let cost = match self
            .inventory_item
            .as_ref()
            .and_then(|i| i.unit_cost.as_ref())
        {
            Some(m) => SqlValue::Float(amount(&m.amount, "unitCost")?.max(0.0)),
            None => SqlValue::Null,
        };
        let category = self
            .product
            .as_ref()
            .and_then(|p| p.product_type.as_deref())
            .unwrap_or("");
        out.push((
            PRODUCTS,
            vec![
                text(&sku),
                text(&short(&self.display_name)),
                optional(&short(category)),
                SqlValue::Float(price),
                cost,
            ],
        ));
        if let Some(q) = self.inventory_quantity {
            out.push((
                INVENTORY,
                vec![
                    text(day),
                    text(&sku),
                    SqlValue::Int(q.max(0)),
                    SqlValue::Int(0),
                ],
            ));
        }
        Ok(())
    }
}
