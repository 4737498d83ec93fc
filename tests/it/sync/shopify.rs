//! Shopify's GraphQL Admin API replayed from fixtures/shopify-api: the client-credentials
//! sign-in, a token that expires, the shop's settings, a bulk operation's life (created,
//! running, completed, its JSONL), paged orders after it with a throttle on the way, a
//! download cut off and the operation picked up again, another currency and a wrong secret.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use chrono_tz::Europe::London;
use serde_json::{Value, json};

use super::{config, cursor, opts, run, secret, store};
use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore, both_backends, fixture};

const CLIENT_ID: &str = "fixture-client-id-0001";
const CLIENT_SECRET: &str = "shpss_fixture_client_secret_42";
const GRAPHQL: &str = "/admin/api/2026-01/graphql.json";
const DOWNLOAD: &str = "/bulk-operation-outputs/7300000000001/bulk-orders.jsonl";

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("shopify-api/{name}"))).unwrap()
}

fn read(name: &str) -> Value {
    serde_json::from_str(&text(name)).unwrap()
}

/// The shop the server plays.
struct Shop {
    url: String,
    /// Tokens handed out, in order; the last is the one that works.
    tokens: Vec<String>,
    /// The first token stops working after this many GraphQL calls (it "expired").
    first_token_calls: Option<usize>,
    calls_with_first: usize,
    currency: &'static str,
    /// THROTTLED answers before the first orders page.
    throttles: usize,
    /// RUNNING answers before COMPLETED.
    running: usize,
    runs: Vec<String>,
    polls: usize,
    /// Drops the connection when the bulk result is downloaded.
    die_on_download: bool,
    /// The scopes the sign-in grants, when not the fixture's.
    scope: Option<&'static str>,
    /// How far the source's first sync reaches back.
    history_days: u32,
    /// An order longer than a page (the whole of it), answered to paged queries instead of
    /// the fixture's pages.
    big: Option<Value>,
}

impl Shop {
    fn new() -> Shop {
        Shop {
            url: String::new(),
            tokens: Vec::new(),
            first_token_calls: None,
            calls_with_first: 0,
            currency: "GBP",
            throttles: 0,
            running: 1,
            runs: Vec::new(),
            polls: 0,
            die_on_download: false,
            scope: None,
            history_days: 30,
            big: None,
        }
    }

    fn answer(&mut self, r: &Request) -> Answer {
        match r.path() {
            "/admin/oauth/access_token" => self.sign_in(r),
            GRAPHQL => self.graphql(r),
            DOWNLOAD if self.die_on_download => Answer::Drop,
            DOWNLOAD => Answer::Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/jsonl".into())],
                body: text("bulk-orders.jsonl").into_bytes(),
            },
            _ => Answer::json(404, r#"{"errors":"Not Found"}"#),
        }
    }

    fn sign_in(&mut self, r: &Request) -> Answer {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
        if !ok {
            return Answer::json(400, &text("token-invalid-client.json"));
        }
        let mut t = read("token.json");
        let token = format!("shpat_fixture_{}", self.tokens.len() + 1);
        t["access_token"] = json!(token);
        if let Some(scope) = self.scope {
            t["scope"] = json!(scope);
        }
        self.tokens.push(token);
        Answer::json(200, &t.to_string())
    }

    fn graphql(&mut self, r: &Request) -> Answer {
        let token = r.header("X-Shopify-Access-Token").unwrap_or("").to_string();
        let first = self.tokens.first().is_some_and(|t| *t == token);
        if first {
            self.calls_with_first += 1;
        }
        let expired = first
            && self
                .first_token_calls
                .is_some_and(|n| self.calls_with_first > n);
        if self.tokens.last() != Some(&token) || expired {
            return Answer::json(401, &text("unauthorized.json"));
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let query = body["query"].as_str().unwrap().to_string();
        let vars = &body["variables"];
        let ok = |v: Value| Answer::json(200, &v.to_string());
        if query.starts_with("query Shop") {
            let mut s = read("shop.json");
            s["data"]["shop"]["currencyCode"] = json!(self.currency);
            return ok(s);
        }
        if query.starts_with("query Variants") {
            return ok(variants());
        }
        if query.starts_with("query RefundUnits") {
            // The refunds' lines as the paged answers show them, by refund id.
            let ids: Vec<&str> = vars["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(ids.len() <= 50);
            let nodes: Vec<Value> = ids
                .iter()
                .map(|id| {
                    refund_lines(id).map_or(
                        Value::Null,
                        |lines| json!({ "id": id, "refundLineItems": lines }),
                    )
                })
                .collect();
            return ok(
                json!({ "data": { "nodes": nodes }, "extensions": read("shop.json")["extensions"] }),
            );
        }
        if query.starts_with("mutation Run") {
            self.runs.push(vars["query"].as_str().unwrap().to_string());
            assert!(query.contains("groupObjects: true"), "{query}");
            return ok(read("bulk-run.json"));
        }
        if query.starts_with("query Poll") {
            assert_eq!(vars["id"], "gid://shopify/BulkOperation/7300000000001");
            self.polls += 1;
            if self.polls <= self.running {
                return ok(read("bulk-running.json"));
            }
            let mut done = read("bulk-completed.json");
            done["data"]["node"]["url"] = json!(format!("{}{DOWNLOAD}", self.url));
            return ok(done);
        }
        if let Some(big) = &self.big
            && let Some(answer) = big_answer(big, &query, vars)
        {
            return ok(answer);
        }
        if query.starts_with("query Orders") {
            if self.throttles > 0 {
                self.throttles -= 1;
                let mut t = read("throttled.json");
                // Nearly refilled: the wait it asks for is 50 ms, not seconds.
                t["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = json!(405);
                return ok(t);
            }
            let page1 = read("orders-page-1.json");
            let after = vars["after"].as_str();
            return match after {
                None => ok(page1),
                Some(c) if c == page1["data"]["orders"]["pageInfo"]["endCursor"] => {
                    ok(read("orders-page-2.json"))
                }
                Some(c) => panic!("an unknown cursor {c}"),
            };
        }
        panic!("an unexpected query: {query}");
    }
}

/// An order of 30 lines, 6 refunds and 3 returns, on the fixture's #1001: more of each than a
/// page of orders asks for.
fn big_order() -> Value {
    let mut o = read("orders-page-2.json")["data"]["orders"]["nodes"][1].clone();
    assert_eq!(o["name"], "#1001");
    let line = o["lineItems"]["nodes"][0].clone();
    let lines: Vec<Value> = (0..30)
        .map(|i| {
            let mut l = line.clone();
            l["id"] = json!(format!("gid://shopify/LineItem/77{i:03}"));
            l["sku"] = json!(format!("BIG-{i:02}"));
            l["quantity"] = json!(1 + i % 3);
            l["originalUnitPriceSet"]["shopMoney"]["amount"] = json!(format!("{}.5", 10 + i));
            l
        })
        .collect();
    let refund = o["refunds"][0].clone();
    let refunds: Vec<Value> = (0..6)
        .map(|i| {
            let mut r = refund.clone();
            r["id"] = json!(format!("gid://shopify/Refund/88{i}"));
            r["createdAt"] = json!(format!("2026-03-0{}T14:00:00Z", 3 + i % 3));
            r["totalRefundedSet"]["shopMoney"]["amount"] = json!(format!("{}.25", 1 + i));
            r
        })
        .collect();
    let ret = o["returns"]["nodes"][0].clone();
    let returns: Vec<Value> = (0..3)
        .map(|i| {
            let mut r = ret.clone();
            r["id"] = json!(format!("gid://shopify/Return/99{i}"));
            r["returnLineItems"]["nodes"][0]["fulfillmentLineItem"]["lineItem"]["sku"] =
                json!(format!("BIG-{i:02}"));
            r
        })
        .collect();
    o["updatedAt"] = json!("2026-03-05T20:00:00Z");
    o["lineItems"] = json!({ "nodes": lines });
    o["refunds"] = json!(refunds);
    o["returns"] = json!({ "nodes": returns });
    o
}

/// What the server answers about the big order: a page holds its first 25 lines, 5 refunds
/// and 2 returns; the rest come by the order's id.
fn big_answer(big: &Value, query: &str, vars: &Value) -> Option<Value> {
    let cost = read("shop.json")["extensions"].clone();
    let cut = |list: &Value, n: usize, cursor: &str| {
        let all = list.as_array().unwrap();
        json!({
            "pageInfo": { "hasNextPage": all.len() > n, "endCursor": cursor },
            "nodes": all.iter().take(n).cloned().collect::<Vec<_>>(),
        })
    };
    let rest = |list: &Value, from: usize| {
        let all = list.as_array().unwrap();
        json!({ "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": all[from..].to_vec() })
    };
    let data = if query.starts_with("query Orders") {
        let mut o = big.clone();
        o["lineItems"] = cut(&big["lineItems"]["nodes"], 25, "L25");
        o["refunds"] = json!(big["refunds"].as_array().unwrap()[..5].to_vec());
        o["returns"] = cut(&big["returns"]["nodes"], 2, "R2");
        json!({ "orders": { "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": [o] } })
    } else if query.starts_with("query Lines") {
        assert_eq!(vars["after"], "L25");
        json!({ "node": { "lineItems": rest(&big["lineItems"]["nodes"], 25) } })
    } else if query.starts_with("query Refunds") {
        // All of them, without their lines (the query does not ask for them).
        let all: Vec<Value> = big["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({ "id": r["id"], "createdAt": r["createdAt"], "totalRefundedSet": r["totalRefundedSet"] }))
            .collect();
        json!({ "node": { "refunds": all } })
    } else if query.starts_with("query Returns") {
        assert_eq!(vars["after"], "R2");
        json!({ "node": { "returns": rest(&big["returns"]["nodes"], 2) } })
    } else {
        return None;
    };
    Some(json!({ "data": data, "extensions": cost }))
}

/// A refund's lines as the fixture's pages of orders give them.
fn refund_lines(id: &str) -> Option<Value> {
    ["orders-page-1.json", "orders-page-2.json"]
        .iter()
        .find_map(|f| {
            read(f)["data"]["orders"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|o| o["refunds"].as_array().unwrap().clone())
                .find(|r| r["id"] == id)
                .map(|r| r["refundLineItems"].clone())
        })
}

/// The fixture's products as a `productVariants` page: each variant with its product's type
/// and the display name Shopify gives it ("Enamel Mug - Blue").
fn variants() -> Value {
    let products = read("products.json");
    let mut nodes = Vec::new();
    for p in products["data"]["products"]["nodes"].as_array().unwrap() {
        for v in p["variants"]["nodes"].as_array().unwrap() {
            let mut v = v.clone();
            v["displayName"] = json!(format!(
                "{} - {}",
                p["title"].as_str().unwrap(),
                v["title"].as_str().unwrap()
            ));
            v["product"] = json!({ "productType": "Homeware" });
            nodes.push(v);
        }
    }
    json!({
        "data": { "productVariants": { "pageInfo": { "hasNextPage": false, "endCursor": null }, "nodes": nodes } },
        "extensions": products["extensions"].clone(),
    })
}

struct Setup {
    t: TestStore,
    server: Replay,
    shop: Arc<Mutex<Shop>>,
    _secrets: tempfile::TempDir,
}

async fn setup(b: Backend, shop: Shop, client_secret: &str) -> Option<Setup> {
    let history = shop.history_days;
    let shop = Arc::new(Mutex::new(shop));
    let s = shop.clone();
    let server = Replay::start(move |r| s.lock().unwrap().answer(r)).await;
    shop.lock().unwrap().url = server.url();
    let secrets = tempfile::tempdir().unwrap();
    let source = format!(
        "[[sources]]\nname = \"shop\"\nkind = \"shopify\"\nshop = \"dawnpost-fixture.myshopify.com\"\n\
         client_id_file = {}\nclient_secret_file = {}\nendpoint = \"{}\"\nca_file = {:?}\n\
         history_days = {history}\n",
        secret(secrets.path(), "id", CLIENT_ID),
        secret(secrets.path(), "secret", client_secret),
        server.url(),
        server.ca.display().to_string()
    );
    let t = store(b, &config("GBP", &source)).await?;
    Some(Setup {
        t,
        server,
        shop,
        _secrets: secrets,
    })
}

/// The sync day and time: 6 March 2026, 05:00 UTC.
const DAY: &str = "2026-03-06";
const AT: i64 = 1_772_773_200;

fn london_day(t: &str) -> String {
    DateTime::parse_from_rfc3339(t)
        .unwrap()
        .with_timezone(&London)
        .date_naive()
        .to_string()
}

/// The bulk file's lines.
fn bulk_lines() -> Vec<Value> {
    text("bulk-orders.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn a_first_sync_reads_the_history_through_a_bulk_operation(b: Backend) {
    let Some(s) = setup(b, Shop::new(), CLIENT_SECRET).await else {
        return;
    };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    let lines = bulk_lines();
    let orders: Vec<&Value> = lines
        .iter()
        .filter(|l| l["__typename"] == "Order")
        .collect();
    assert_eq!(summary.orders, orders.len() as u64);
    {
        let shop = s.shop.lock().unwrap();
        assert_eq!(shop.runs.len(), 1, "one bulk operation");
        assert!(
            shop.runs[0].contains("updated_at:>='2026-02-04T00:00:00Z'"),
            "{}",
            shop.runs[0]
        );
        assert_eq!(shop.polls, 2, "running, then completed");
    }
    // Sales per London day, from the file's lines and their orders' creation times.
    let created: BTreeMap<&str, &str> = orders
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["createdAt"].as_str().unwrap()))
        .collect();
    let mut by_day: BTreeMap<String, f64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["__typename"] == "LineItem") {
        let at = created[l["__parentId"].as_str().unwrap()];
        let price: f64 = l["originalUnitPriceSet"]["shopMoney"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        *by_day.entry(london_day(at)).or_default() += price * l["quantity"].as_f64().unwrap();
    }
    for (day, want) in &by_day {
        let got =
            s.t.scalar(&format!(
                "SELECT SUM(l.quantity * l.unit_price) FROM order_lines l JOIN orders o \
                 ON o.order_id = l.order_id WHERE o.day = '{day}'"
            ))
            .await
            .unwrap();
        assert!((got - want).abs() < 1e-9, "{day}: {got} against {want}");
    }
    // Each refund on its own day: #1001's £12 three days after the order.
    let mut refunds = Vec::new();
    for o in &orders {
        for r in o["refunds"].as_array().unwrap() {
            let amount: f64 = r["totalRefundedSet"]["shopMoney"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            refunds.push((
                o["name"].as_str().unwrap().to_string(),
                london_day(r["createdAt"].as_str().unwrap()),
                amount,
            ));
        }
    }
    assert!(
        refunds
            .iter()
            .any(|(o, d, _)| o == "#1001" && d == "2026-03-05")
    );
    for (order, day, amount) in &refunds {
        let got =
            s.t.scalar(&format!(
                "SELECT SUM(amount) FROM refunds WHERE order_id = '{order}' AND day = '{day}'"
            ))
            .await;
        assert_eq!(got, Some(*amount), "{order} on {day}");
    }
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM refunds").await,
        Some(refunds.len() as f64)
    );
    // Their units, read after the bulk operation (which cannot ask for a refund's lines).
    for o in &orders {
        for r in o["refunds"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            let units: i64 = refund_lines(id).unwrap()["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["quantity"].as_i64().unwrap())
                .sum();
            let got =
                s.t.scalar(&format!(
                    "SELECT units FROM refunds WHERE refund_id = '{id}'"
                ))
                .await;
            assert_eq!(got, Some(units as f64), "{id}");
        }
    }
    // The returned mug, with its reason's handle, on the day the return was opened.
    let ret = lines
        .iter()
        .find(|l| l["__typename"] == "ReturnLineItem")
        .unwrap();
    let opened = lines.iter().find(|l| l["id"] == ret["__parentId"]).unwrap();
    let got = s
        .t
        .scalar(&format!(
            "SELECT quantity FROM returns WHERE order_id = '#1001' AND sku = '{}' AND day = '{}' AND reason = '{}'",
            ret["fulfillmentLineItem"]["lineItem"]["sku"].as_str().unwrap(),
            london_day(opened["createdAt"].as_str().unwrap()),
            ret["returnReasonDefinition"]["handle"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got, Some(ret["quantity"].as_f64().unwrap()));
    // #1001 left on 2 March and arrived on the 4th; #1003 was cancelled; its guest has no customer.
    let shipped = s
        .t
        .scalar("SELECT COUNT(*) FROM fulfilment WHERE order_id = '#1001' AND ship_day = '2026-03-02' AND delivery_day = '2026-03-04'")
        .await;
    assert_eq!(shipped, Some(1.0));
    let cancelled = s.t.scalar("SELECT COUNT(*) FROM orders WHERE order_id = '#1003' AND status = 'cancelled' AND customer_id IS NULL").await;
    assert_eq!(cancelled, Some(1.0));
    // Stock on the sync day and each variant's cost.
    let v = variants();
    let nodes = v["data"]["productVariants"]["nodes"].as_array().unwrap();
    let stock: i64 = nodes
        .iter()
        .map(|n| n["inventoryQuantity"].as_i64().unwrap().max(0))
        .sum();
    let got =
        s.t.scalar(&format!(
            "SELECT SUM(on_hand) FROM inventory WHERE day = '{DAY}'"
        ))
        .await;
    assert_eq!(got, Some(stock as f64));
    for n in nodes {
        // No cost set: none stored.
        let cost: Option<f64> = n["inventoryItem"]["unitCost"]["amount"]
            .as_str()
            .map(|a| a.parse().unwrap());
        let sku = n["sku"].as_str().unwrap();
        let got =
            s.t.scalar(&format!(
                "SELECT unit_cost FROM products WHERE sku = '{sku}'"
            ))
            .await;
        assert_eq!(got, cost, "{sku}");
    }
    // The cursor is the latest update in the file; the bulk operation is done with.
    let latest = orders
        .iter()
        .map(|o| o["updatedAt"].as_str().unwrap())
        .max()
        .unwrap();
    assert_eq!(cursor(&s.t, "shop").await.as_deref(), Some(latest));
    assert!(s.t.store.source_state("shop").await.unwrap().bulk.is_none());
}

async fn later_syncs_page_through_orders_past_a_throttle_and_an_expired_token(b: Backend) {
    let Some(s) = setup(b, Shop::new(), CLIENT_SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    {
        let mut shop = s.shop.lock().unwrap();
        shop.throttles = 2;
        // The first token stops working now: the next call meets a 401.
        shop.first_token_calls = Some(shop.calls_with_first);
    }
    let again = run(&s.t, &opts(DAY, AT + 3_600)).await.unwrap();
    assert!(again.incremental);
    {
        let shop = s.shop.lock().unwrap();
        assert_eq!(shop.tokens.len(), 2, "a new token after the 401");
        assert_eq!(shop.runs.len(), 1, "no second bulk operation");
    }
    let pages: Vec<Value> = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path() == GRAPHQL)
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|b| b["query"].as_str().unwrap().starts_with("query Orders"))
        .map(|b| b["variables"].clone())
        .collect();
    // Two throttled tries, then both pages; the window is the cursor less 3 days.
    assert_eq!(pages.len(), 4);
    assert_eq!(pages[0]["query"], "updated_at:>='2026-03-02T14:00:05Z'");
    assert!(pages[3]["after"].is_string());
    // The pages carry each refund's lines, which a bulk operation cannot: its units now.
    for name in ["orders-page-1.json", "orders-page-2.json"] {
        for o in read(name)["data"]["orders"]["nodes"].as_array().unwrap() {
            for r in o["refunds"].as_array().unwrap() {
                let units: i64 = r["refundLineItems"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["quantity"].as_i64().unwrap())
                    .sum();
                let got =
                    s.t.scalar(&format!(
                        "SELECT units FROM refunds WHERE refund_id = '{}'",
                        r["id"].as_str().unwrap()
                    ))
                    .await;
                assert_eq!(got, Some(units as f64), "{}", o["name"]);
            }
        }
    }
    // The same pages read again: nothing changes, no day is rebuilt.
    let before = s.t.fingerprint().await;
    let third = run(&s.t, &opts(DAY, AT + 7_200)).await.unwrap();
    assert_eq!(third.import.rebuilt_days, 0);
    assert_eq!(s.t.fingerprint().await, before);
}

async fn a_bulk_download_cut_off_writes_nothing_and_is_picked_up_again(b: Backend) {
    let mut shop = Shop::new();
    shop.die_on_download = true;
    let Some(s) = setup(b, shop, CLIENT_SECRET).await else {
        return;
    };
    let before = s.t.fingerprint().await;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(e.contains("source shop"), "{e}");
    assert_eq!(s.t.fingerprint().await, before);
    let state = s.t.store.source_state("shop").await.unwrap();
    assert_eq!(state.cursor, None);
    assert_eq!(
        state.bulk.map(|b| b.0).as_deref(),
        Some("gid://shopify/BulkOperation/7300000000001")
    );
    // The server whole again: the operation is polled, not started twice.
    s.shop.lock().unwrap().die_on_download = false;
    let summary = run(&s.t, &opts(DAY, AT + 600)).await.unwrap();
    assert_eq!(s.shop.lock().unwrap().runs.len(), 1);
    assert!(summary.orders > 0);
    assert!(s.t.store.source_state("shop").await.unwrap().bulk.is_none());
}

async fn another_currency_is_refused(b: Backend) {
    let mut shop = Shop::new();
    shop.currency = "USD";
    let Some(s) = setup(b, shop, CLIENT_SECRET).await else {
        return;
    };
    let before = s.t.fingerprint().await;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("USD") && e.contains("GBP") && e.contains("source shop"),
        "{e}"
    );
    assert_eq!(s.t.fingerprint().await, before);
    assert!(s.shop.lock().unwrap().runs.is_empty());
}

async fn a_wrong_secret_names_the_source_and_shows_no_secret(b: Backend) {
    let wrong = "shpss_wrong_secret_value_77";
    let Some(s) = setup(b, Shop::new(), wrong).await else {
        return;
    };
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source shop") && e.contains("invalid_client"),
        "{e}"
    );
    assert!(!e.contains(wrong) && !e.contains(CLIENT_ID), "{e}");
    let failure =
        s.t.store
            .source_state("shop")
            .await
            .unwrap()
            .failure
            .unwrap();
    assert!(!failure.contains(wrong));
    assert!(!format!("{:?}", s.t.config).contains(wrong));
}

async fn old_orders_without_read_all_orders_are_warned_of(b: Backend) {
    let mut shop = Shop::new();
    shop.history_days = 400;
    shop.scope = Some("read_orders,read_products,read_inventory,read_returns");
    let Some(s) = setup(b, shop, CLIENT_SECRET).await else {
        return;
    };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    let warned = summary
        .warnings
        .iter()
        .any(|w| w.contains("read_all_orders") && w.contains("60 days"));
    assert!(warned, "{:?}", summary.warnings);
    // With the scope (the fixture's token has it), no warning.
    let mut shop = Shop::new();
    shop.history_days = 400;
    let Some(s) = setup(b, shop, CLIENT_SECRET).await else {
        return;
    };
    assert!(run(&s.t, &opts(DAY, AT)).await.unwrap().warnings.is_empty());
}

async fn an_order_longer_than_a_page_is_read_whole(b: Backend) {
    let Some(s) = setup(b, Shop::new(), CLIENT_SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    let big = big_order();
    s.shop.lock().unwrap().big = Some(big.clone());
    run(&s.t, &opts(DAY, AT + 3_600)).await.unwrap();
    let lines = big["lineItems"]["nodes"].as_array().unwrap();
    let sales: f64 = lines
        .iter()
        .map(|l| {
            let p: f64 = l["originalUnitPriceSet"]["shopMoney"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            p * l["quantity"].as_f64().unwrap()
        })
        .sum();
    let got =
        s.t.scalar("SELECT SUM(quantity * unit_price) FROM order_lines WHERE order_id = '#1001'")
            .await;
    assert_eq!(got, Some(sales));
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM order_lines WHERE order_id = '#1001'")
            .await,
        Some(30.0)
    );
    let refunds = big["refunds"].as_array().unwrap();
    for r in refunds {
        let amount: f64 = r["totalRefundedSet"]["shopMoney"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let got =
            s.t.scalar(&format!(
                "SELECT amount FROM refunds WHERE refund_id = '{}' AND day = '{}'",
                r["id"].as_str().unwrap(),
                london_day(r["createdAt"].as_str().unwrap())
            ))
            .await;
        assert_eq!(got, Some(amount));
    }
    let returned =
        s.t.scalar("SELECT COUNT(*) FROM returns WHERE order_id = '#1001' AND sku LIKE 'BIG-%'")
            .await;
    assert_eq!(returned, Some(3.0));
}

both_backends!(
    an_order_longer_than_a_page_is_read_whole,
    old_orders_without_read_all_orders_are_warned_of,
    a_first_sync_reads_the_history_through_a_bulk_operation,
    later_syncs_page_through_orders_past_a_throttle_and_an_expired_token,
    a_bulk_download_cut_off_writes_nothing_and_is_picked_up_again,
    another_currency_is_refused,
    a_wrong_secret_names_the_source_and_shows_no_secret,
);
