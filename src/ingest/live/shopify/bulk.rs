//! A first sync's orders through a bulk operation: started (or, when a run was cut off
//! while one ran, picked up), polled until done, and its JSONL read line by line, each
//! order's lines and returns following it as lines of their own tied by `__parentId`.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::Client;
use super::records::{LineItem, Order, Refund, Return, bulk_query, refund_rows};
use crate::ingest::live::intake::Intake;
use crate::store::Store;

/// How often a running operation is asked about: from the first to the last.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_MAX: Duration = Duration::from_secs(10);
/// The most times one operation is asked about (hours at the longest interval): past it
/// the sync gives up and the next run picks the operation up.
const MAX_POLLS: u32 = 2_000;

/// `groupObjects: true` keeps each object's children right after it (the default until
/// 2025-07, no longer from 2026-01), so that an order is whole once the next one starts and
/// the file is read in bounded memory.
const RUN: &str = "mutation Run($query: String!) { bulkOperationRunQuery(query: $query, \
     groupObjects: true) { bulkOperation { id status } userErrors { field message } } }";
const POLL: &str = "query Poll($id: ID!) { node(id: $id) { ... on BulkOperation { id status \
     errorCode objectCount url } } }";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    id: String,
    status: String,
    error_code: Option<String>,
    url: Option<String>,
}

/// Runs (or, when a run was cut off while one ran, picks up) the bulk operation of orders
/// updated since `since` (RFC 3339) to its end: the URL of its result, None when it found
/// nothing.
pub(super) async fn run(
    client: &mut Client<'_>,
    store: &Store,
    source: &str,
    running: Option<&(String, String)>,
    since: &str,
) -> Result<Option<url::Url>> {
    let id = match running.filter(|(_, s)| s == since) {
        Some((id, _)) => id.clone(),
        None => {
            let id = start(client, since).await?;
            // Kept before any transaction: a run killed now picks it up next time.
            store.record_bulk(source, Some((&id, since))).await?;
            id
        }
    };
    let done = wait(client, &id).await?;
    done.url
        .map(|u| url::Url::parse(&u).context("the bulk operation's result URL is not a URL"))
        .transpose()
}

async fn start(client: &mut Client<'_>, since: &str) -> Result<String> {
    let vars = json!({ "query": bulk_query(since) });
    let data = client
        .graphql(RUN, vars, "starting the bulk operation")
        .await?;
    let run = data
        .get("bulkOperationRunQuery")
        .ok_or_else(|| anyhow!("the bulk operation's answer has no bulkOperationRunQuery"))?;
    if let Some(errors) = run.get("userErrors").and_then(Value::as_array)
        && let Some(e) = errors.first()
    {
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("an error");
        bail!(
            "Shopify would not start the bulk operation: {}",
            message.chars().take(300).collect::<String>()
        );
    }
    run.pointer("/bulkOperation/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("Shopify started no bulk operation"))
}

/// Polls the operation until it completes; an operation that failed says why.
async fn wait(client: &mut Client<'_>, id: &str) -> Result<Operation> {
    let mut interval = POLL_FIRST;
    for _ in 0..MAX_POLLS {
        let data = client
            .graphql(POLL, json!({ "id": id }), "the bulk operation")
            .await?;
        let node = data.get("node").cloned().unwrap_or(Value::Null);
        if node.is_null() {
            bail!("Shopify knows no bulk operation {id}");
        }
        let op: Operation = serde_json::from_value(node)
            .context("the bulk operation's status is not as expected")?;
        match op.status.as_str() {
            "COMPLETED" => return Ok(op),
            "CREATED" | "RUNNING" => {}
            other => {
                let code = op.error_code.as_deref().unwrap_or("no error code");
                let hint = if code == "ACCESS_DENIED" {
                    ": the app lacks a scope the query needs (read_orders, read_products, \
                     read_returns; read_all_orders for orders older than 60 days)"
                } else {
                    ""
                };
                bail!("the bulk operation {} ended {other} ({code}){hint}", op.id);
            }
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(POLL_MAX);
    }
    bail!(
        "the bulk operation {id} is still running after {MAX_POLLS} polls; the next sync picks it up"
    )
}

/// The operation's JSONL: each order, with the lines and returns that follow it.
pub(super) async fn read(
    client: &mut Client<'_>,
    url: url::Url,
    intake: &mut Intake<'_, '_>,
) -> Result<()> {
    // Refunds wait for their lines' units, which the bulk operation cannot give: they are
    // read after the stream, and written last (a refund names its order but needs no row
    // of it first).
    let mut refunds: Vec<(String, Refund)> = Vec::new();
    let mut current: Option<Order> = None;
    // The store refused a batch: the rest is not read (the load says why).
    let mut stopped = false;
    let http = client.http();
    let req = http.request(reqwest::Method::GET, url);
    http.lines(req, "the bulk operation's result", async |n, line| {
        if stopped {
            return Ok(());
        }
        // A first look reads only the id and the parent (the rest is skipped, not kept); the
        // line is then read once into what it is.
        let peek: Peek = serde_json::from_slice(line)
            .with_context(|| format!("the bulk result's line {n} is not JSON"))?;
        match peek.parent.as_deref() {
            None => {
                if let Some(order) = current.take() {
                    stopped = !take_holding_refunds(intake, order, &mut refunds).await?;
                }
                let order: Order = serde_json::from_slice(line)
                    .with_context(|| format!("the bulk result's line {n} is not an order"))?;
                current = Some(order);
            }
            Some(parent) => {
                let order = current
                    .as_mut()
                    .ok_or_else(|| anyhow!("the bulk result's line {n} comes before any order"))?;
                child(order, parent, peek.id.as_deref().unwrap_or(""), line, n)?;
            }
        }
        Ok(())
    })
    .await?;
    if let Some(order) = current.take()
        && !stopped
    {
        stopped = !take_holding_refunds(intake, order, &mut refunds).await?;
    }
    if stopped || refunds.is_empty() {
        return Ok(());
    }
    let (orders, mut just): (Vec<String>, Vec<Refund>) = refunds.into_iter().unzip();
    client.refund_lines(&mut just).await?;
    for (order, refund) in orders.iter().zip(just) {
        let label = format!("order {order}'s refund");
        let tz = intake.io.tz;
        let one = [refund];
        if !intake
            .record(&label, |_, out| refund_rows(order, &one, tz, out))
            .await?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// What a bulk line is: its id and its parent's.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "__parentId", borrow)]
    parent: Option<std::borrow::Cow<'a, str>>,
}

/// A line or a return onto its order, or a returned line onto its return.
fn child(order: &mut Order, parent: &str, id: &str, v: &[u8], n: u64) -> Result<()> {
    if parent != order.id {
        let Some(r) = order
            .returns
            .nodes
            .iter_mut()
            .find(|r| r.id.as_deref() == Some(parent))
        else {
            bail!("the bulk result's line {n} follows neither its order nor its return");
        };
        if !id.starts_with("gid://shopify/ReturnLineItem/") {
            return Ok(());
        }
        let lines = r.return_line_items.get_or_insert_with(Default::default);
        if lines.nodes.len() >= super::records::MAX_LINES {
            bail!(
                "{}: a return of more than {} lines",
                order.label(),
                super::records::MAX_LINES
            );
        }
        let line = serde_json::from_slice(v)
            .with_context(|| format!("the bulk result's line {n} is not a returned line"))?;
        lines.nodes.push(line);
        return Ok(());
    }
    if id.starts_with("gid://shopify/LineItem/") {
        if order.line_items.nodes.len() >= super::records::MAX_LINES {
            bail!(
                "{}: more than {} lines",
                order.label(),
                super::records::MAX_LINES
            );
        }
        let line: LineItem = serde_json::from_slice(v)
            .with_context(|| format!("the bulk result's line {n} is not an order line"))?;
        order.line_items.nodes.push(line);
    } else if id.starts_with("gid://shopify/Return/")
        && order.returns.nodes.len() < super::records::MAX_LINES
    {
        let r: Return = serde_json::from_slice(v)
            .with_context(|| format!("the bulk result's line {n} is not a return"))?;
        order.returns.nodes.push(r);
    }
    Ok(())
}

/// The most refunds a bulk operation's orders may hold back for their units.
const MAX_REFUNDS: usize = 1_000_000;

/// An order into the intake, its refunds held back in `refunds`.
async fn take_holding_refunds(
    intake: &mut Intake<'_, '_>,
    mut order: Order,
    refunds: &mut Vec<(String, Refund)>,
) -> Result<bool> {
    if refunds.len() + order.refunds.len() > MAX_REFUNDS {
        bail!("the bulk result holds more than {MAX_REFUNDS} refunds");
    }
    let key = order.key();
    refunds.extend(
        std::mem::take(&mut order.refunds)
            .into_iter()
            .map(|r| (key.clone(), r)),
    );
    take(intake, order).await
}

/// One whole order into the intake.
pub(super) async fn take(intake: &mut Intake<'_, '_>, order: Order) -> Result<bool> {
    intake.order_seen(&order.updated_at);
    let label = order.label();
    intake.record(&label, |io, out| order.rows(io, out)).await
}
