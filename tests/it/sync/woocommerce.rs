//! WooCommerce's REST API v3 replayed from fixtures/woocommerce-api: 205 orders over three
//! pages, a refund three days after its order, a store too old, a wrong secret, another
//! currency, a 429, and a server that dies mid-sync.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use chrono_tz::Europe::London;
use serde_json::{Value, json};

use super::{config, cursor, opts, run, secret, store};
use crate::presets::values;
use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore, both_backends, fixture};

const KEY: &str = "ck_fixture_0123456789abcdef";
const SECRET: &str = "cs_fixture_fedcba9876543210";

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("woocommerce-api/{name}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The store the server plays: its orders, refunds by order, and what it says of itself.
#[derive(Clone)]
struct Woo {
    orders: Vec<Value>,
    refunds: BTreeMap<i64, Value>,
    status: Value,
    /// Answers with a 429 (Retry-After 0) this many times before the orders' first page.
    throttles: usize,
    /// Drops the connection instead of answering this page of orders.
    die_on_page: Option<u64>,
    /// The secret the store takes.
    secret: String,
}

impl Woo {
    /// The fixture's five orders and 200 more like order 1041, one every 70 minutes from
    /// 1 June 2024, so that the orders span three pages of 100.
    fn new() -> Woo {
        let mut orders: Vec<Value> = ["orders-page-1.json", "orders-page-2.json"]
            .iter()
            .flat_map(|f| read(f).as_array().unwrap().clone())
            .collect();
        let template = orders[0].clone();
        let start =
            NaiveDateTime::parse_from_str("2024-06-01T00:05:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        for i in 0..200i64 {
            let mut o = template.clone();
            let at = (start + chrono::Duration::minutes(70 * i))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            o["id"] = json!(5000 + i);
            o["number"] = json!(format!("{}", 5000 + i));
            o["customer_id"] = json!(if i % 3 == 0 { 0 } else { 100 + i % 17 });
            o["date_created_gmt"] = json!(at);
            o["date_modified_gmt"] = json!(at);
            o["date_completed_gmt"] = json!(at);
            o["line_items"][0]["quantity"] = json!(1 + i % 4);
            o["line_items"][0]["subtotal"] = json!(format!("{:.2}", 6.5 * (1 + i % 4) as f64));
            orders.push(o);
        }
        let mut refunds = BTreeMap::new();
        refunds.insert(1043, read("refunds-1043.json"));
        Woo {
            orders,
            refunds,
            status: read("system-status.json"),
            throttles: 0,
            die_on_page: None,
            secret: SECRET.to_string(),
        }
    }

    /// Order 1043 before its refund: not yet modified, no refunds listed.
    fn before_the_refund(mut self) -> Woo {
        for o in &mut self.orders {
            if o["id"] == 1043 {
                o["refunds"] = json!([]);
                o["date_modified_gmt"] = o["date_created_gmt"].clone();
            }
        }
        self.refunds.clear();
        self
    }

    fn answer(&mut self, r: &Request) -> Answer {
        let ok = |v: &Value| Answer::json(200, &v.to_string());
        if r.path() == "/wp-json/" {
            return ok(&read("site-index.json"));
        }
        let basic = format!("Basic {}", base64(&format!("{KEY}:{}", self.secret)));
        if r.header("Authorization") != Some(basic.as_str()) {
            return Answer::json(401, &read("unauthorized-bad-secret.json").to_string());
        }
        match r.path() {
            "/wp-json/wc/v3/system_status" => ok(&self.status),
            "/wp-json/wc/v3/products" => {
                page(&read("products.json").as_array().unwrap().clone(), r)
            }
            "/wp-json/wc/v3/orders" => {
                if self.throttles > 0 {
                    self.throttles -= 1;
                    return Answer::json(429, "{}").with_header("Retry-After", "0");
                }
                if self.die_on_page == r.param("page").and_then(|p| p.parse().ok()) {
                    return Answer::Drop;
                }
                let after = r.param("modified_after").unwrap();
                assert_eq!(r.param("dates_are_gmt").as_deref(), Some("true"));
                let mut matching: Vec<Value> = self
                    .orders
                    .iter()
                    .filter(|o| o["date_modified_gmt"].as_str().unwrap() > after.as_str())
                    .cloned()
                    .collect();
                matching.sort_by_key(|o| o["date_created_gmt"].as_str().unwrap().to_string());
                page(&matching, r)
            }
            p => match p
                .strip_prefix("/wp-json/wc/v3/orders/")
                .and_then(|rest| rest.strip_suffix("/refunds"))
                .and_then(|id| id.parse::<i64>().ok())
            {
                Some(id) => page(
                    self.refunds
                        .get(&id)
                        .and_then(Value::as_array)
                        .unwrap_or(&vec![]),
                    r,
                ),
                None => Answer::json(
                    404,
                    r#"{"code":"rest_no_route","message":"No route was found matching the URL and request method.","data":{"status":404}}"#,
                ),
            },
        }
    }
}

/// One page of a list as WooCommerce pages it: `per_page` (at most 100) and `page`, with
/// the totals in `X-WP-Total` and `X-WP-TotalPages`.
fn page(items: &[Value], r: &Request) -> Answer {
    let per: usize = r
        .param("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    assert!((1..=100).contains(&per), "per_page {per}");
    let n: usize = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let pages = items.len().div_ceil(per).max(1);
    let slice: Vec<Value> = items
        .iter()
        .skip((n - 1) * per)
        .take(per)
        .cloned()
        .collect();
    Answer::json(200, &Value::Array(slice).to_string())
        .with_header("X-WP-Total", &items.len().to_string())
        .with_header("X-WP-TotalPages", &pages.to_string())
}

fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Setup {
    t: TestStore,
    /// The config as written.
    text: String,
    server: Replay,
    woo: Arc<Mutex<Woo>>,
    _secrets: tempfile::TempDir,
}

async fn setup(b: Backend, woo: Woo, currency: &str, secret_value: &str) -> Option<Setup> {
    let woo = Arc::new(Mutex::new(woo));
    let w = woo.clone();
    let server = Replay::start(move |r| w.lock().unwrap().answer(r)).await;
    let secrets = tempfile::tempdir().unwrap();
    let source = format!(
        "[[sources]]\nname = \"woo\"\nkind = \"woocommerce\"\nurl = \"https://store.example.com\"\n\
         consumer_key_file = {}\nconsumer_secret_file = {}\nendpoint = \"{}\"\nca_file = {:?}\n\
         history_days = 30\n",
        secret(secrets.path(), "key", KEY),
        secret(secrets.path(), "secret", secret_value),
        server.url(),
        server.ca.display().to_string()
    );
    let text = config(currency, &source);
    let t = store(b, &text).await?;
    Some(Setup {
        t,
        text,
        server,
        woo,
        _secrets: secrets,
    })
}

/// The sync day and time: 15 June 2024, 05:00 UTC.
const DAY: &str = "2024-06-15";
const AT: i64 = 1_718_427_600;

/// Per local day, the sum of the orders' line subtotals, worked out from the served JSON.
fn sales_by_day(orders: &[Value]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for o in orders {
        let at = NaiveDateTime::parse_from_str(
            o["date_created_gmt"].as_str().unwrap(),
            "%Y-%m-%dT%H:%M:%S",
        )
        .unwrap();
        let day = at.and_utc().with_timezone(&London).date_naive().to_string();
        let sum: f64 = o["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["subtotal"].as_str().unwrap().parse::<f64>().unwrap())
            .sum();
        *out.entry(day).or_insert(0.0) += sum;
    }
    out
}

async fn a_sync_pages_through_every_order_and_dates_the_refund(b: Backend) {
    let Some(s) = setup(b, Woo::new(), "GBP", SECRET).await else {
        return;
    };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    assert_eq!(summary.orders, 205);
    // Products, then three pages of orders (100, 100, 5), then 1043's refunds.
    let order_pages: Vec<String> = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path() == "/wp-json/wc/v3/orders")
        .map(|r| r.param("page").unwrap())
        .collect();
    assert_eq!(order_pages, ["1", "2", "3"]);
    // A sync only reads: every request is a GET with no body.
    let writes = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" || !r.body.is_empty())
        .count();
    assert_eq!(writes, 0);
    let orders = s.woo.lock().unwrap().orders.clone();
    for (day, want) in sales_by_day(&orders) {
        let got =
            s.t.scalar(&format!(
                "SELECT SUM(l.quantity * l.unit_price) FROM order_lines l JOIN orders o \
                 ON o.order_id = l.order_id WHERE o.day = '{day}'"
            ))
            .await
            .unwrap();
        assert!((got - want).abs() < 1e-6, "{day}: {got} against {want}");
    }
    // Order 1043 was placed at 00:40 London time on 11 June (23:40 GMT on the 10th).
    let day =
        s.t.scalar("SELECT COUNT(*) FROM orders WHERE order_id = '1043' AND day = '2024-06-11'")
            .await;
    assert_eq!(day, Some(1.0));
    // Its refund of £18.00 counts on 14 June, the day it was given, with its one unit.
    let refunds = s.t.scalar("SELECT COUNT(*) FROM refunds").await;
    assert_eq!(refunds, Some(1.0));
    let on = s
        .t
        .scalar("SELECT amount + units * 1000 FROM refunds WHERE order_id = '1043' AND refund_id = '1050' AND day = '2024-06-14'")
        .await;
    assert_eq!(on, Some(1018.0));
    // A guest (customer 0) has no customer; order 1041's customer is a hash, not an address.
    let guests =
        s.t.scalar("SELECT COUNT(*) FROM orders WHERE customer_id IS NULL")
            .await
            .unwrap();
    let want = orders.iter().filter(|o| o["customer_id"] == 0).count() as f64;
    assert_eq!(guests, want);
    let leaked =
        s.t.scalar("SELECT COUNT(*) FROM orders WHERE customer_id LIKE '%@%'")
            .await;
    assert_eq!(leaked, Some(0.0));
    // Stock for the sync day, from products that manage it.
    let stock =
        s.t.scalar(&format!(
            "SELECT SUM(on_hand) FROM inventory WHERE day = '{DAY}'"
        ))
        .await
        .unwrap();
    let want: i64 = read("products.json")
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["manage_stock"] == true)
        .filter_map(|p| p["stock_quantity"].as_i64())
        .map(|q| q.max(0))
        .sum();
    assert_eq!(stock, want as f64);
    // The cursor is the latest modification served.
    let latest = orders
        .iter()
        .map(|o| o["date_modified_gmt"].as_str().unwrap())
        .max()
        .unwrap();
    assert_eq!(cursor(&s.t, "woo").await, Some(format!("{latest}Z")));
}

async fn a_late_refund_moves_its_own_day_and_no_other(b: Backend) {
    let Some(s) = setup(b, Woo::new().before_the_refund(), "GBP", SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    let days: Vec<String> = (1..=14).map(|d| format!("2024-06-{d:02}")).collect();
    let mut before = Vec::new();
    for d in &days {
        before.push(values(&s.t, d, &["net_revenue"]).await[0]);
    }
    // The refund comes: the order is modified at the refund's time and lists it.
    *s.woo.lock().unwrap() = Woo::new();
    let again = run(&s.t, &opts("2024-06-16", AT + 86_400)).await.unwrap();
    assert!(again.incremental);
    let refund: f64 = read("refunds-1043.json")[0]["amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for (d, was) in days.iter().zip(&before) {
        let now = values(&s.t, d, &["net_revenue"]).await[0];
        let want = if d == "2024-06-14" {
            was - refund
        } else {
            *was
        };
        assert!(
            (now - want).abs() < 1e-6,
            "{d}: net revenue {now}, expected {want}"
        );
    }
}

async fn an_overlapping_resync_changes_nothing(b: Backend) {
    let Some(s) = setup(b, Woo::new(), "GBP", SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    let before = s.t.fingerprint().await;
    let again = run(&s.t, &opts(DAY, AT + 3_600)).await.unwrap();
    assert!(again.incremental);
    // The lookback (3 days) re-read orders it had already: nothing changed, no day rebuilt.
    assert!(again.orders > 0, "the lookback re-reads recent orders");
    assert_eq!(again.import.rebuilt_days, 0);
    assert_eq!(s.t.fingerprint().await, before);
}

async fn a_server_that_dies_mid_sync_leaves_nothing_written(b: Backend) {
    let mut woo = Woo::new();
    woo.die_on_page = Some(2);
    let Some(s) = setup(b, woo, "GBP", SECRET).await else {
        return;
    };
    let before = s.t.fingerprint().await;
    let e = run(&s.t, &opts(DAY, AT)).await.unwrap_err();
    assert!(format!("{e:#}").contains("source woo"), "{e:#}");
    assert_eq!(s.t.fingerprint().await, before);
    assert_eq!(cursor(&s.t, "woo").await, None);
    let state = s.t.store.source_state("woo").await.unwrap();
    assert!(state.failure.unwrap().contains("orders page 2"));
    // The next run, with the server whole again, syncs everything.
    s.woo.lock().unwrap().die_on_page = None;
    assert_eq!(run(&s.t, &opts(DAY, AT)).await.unwrap().orders, 205);
    assert!(
        s.t.store
            .source_state("woo")
            .await
            .unwrap()
            .failure
            .is_none()
    );
}

async fn a_throttle_is_waited_out(b: Backend) {
    let mut woo = Woo::new();
    woo.throttles = 2;
    let Some(s) = setup(b, woo, "GBP", SECRET).await else {
        return;
    };
    assert_eq!(run(&s.t, &opts(DAY, AT)).await.unwrap().orders, 205);
    let first_pages = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path() == "/wp-json/wc/v3/orders" && r.param("page").as_deref() == Some("1"))
        .count();
    assert_eq!(first_pages, 3);
}

async fn a_wrong_secret_names_the_source_and_shows_no_secret(b: Backend) {
    let wrong = "cs_wrong_secret_value_42";
    let Some(s) = setup(b, Woo::new(), "GBP", wrong).await else {
        return;
    };
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source woo") && e.contains("401") && e.contains("Consumer secret is invalid"),
        "{e}"
    );
    assert!(!e.contains(wrong) && !e.contains(KEY), "{e}");
    let failure =
        s.t.store
            .source_state("woo")
            .await
            .unwrap()
            .failure
            .unwrap();
    assert!(!failure.contains(wrong), "{failure}");
    assert!(format!("{:?}", s.t.config).find(wrong).is_none());
}

async fn another_currency_is_refused(b: Backend) {
    let Some(s) = setup(b, Woo::new(), "EUR", SECRET).await else {
        return;
    };
    let before = s.t.fingerprint().await;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("GBP") && e.contains("EUR") && e.contains("source woo"),
        "{e}"
    );
    assert_eq!(s.t.fingerprint().await, before);
}

async fn a_store_too_old_is_told_what_to_upgrade(b: Backend) {
    let mut woo = Woo::new();
    woo.status = read("system-status-wc57.json");
    let Some(s) = setup(b, woo, "GBP", SECRET).await else {
        return;
    };
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("5.7.2") && e.contains("upgrade WooCommerce to 5.8"),
        "{e}"
    );
    let asked_orders = s
        .server
        .requests()
        .iter()
        .any(|r| r.path() == "/wp-json/wc/v3/orders");
    assert!(!asked_orders);
}

async fn a_failed_sync_is_told_in_the_email_which_still_has_the_data(b: Backend) {
    let Some(s) = setup(b, Woo::new(), "GBP", SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    // The key is revoked overnight: the next sync fails.
    s.woo.lock().unwrap().secret = "cs_rotated".into();
    assert!(run(&s.t, &opts(DAY, AT + 600)).await.is_err());
    let day = "2024-06-14".parse().unwrap();
    let c = crate::support::composed_on(&s.t, day).await;
    // Synced at 06:00 London time on the 15th, the morning the email is made.
    let note = "WooCommerce (woo): last synced 06:00 today; the latest sync failed: ";
    assert!(c.rendered.text.contains(note), "{}", c.rendered.text);
    assert!(
        c.rendered.html.contains("Consumer secret is invalid"),
        "{}",
        c.rendered.html
    );
    assert!(c.rendered.html.contains(note));
    // The figures are still those of the last sync.
    let orders = s.woo.lock().unwrap().orders.clone();
    let want = sales_by_day(&orders)["2024-06-14"];
    let got = s
        .t
        .scalar("SELECT SUM(l.quantity * l.unit_price) FROM order_lines l JOIN orders o ON o.order_id = l.order_id WHERE o.day = '2024-06-14'")
        .await
        .unwrap();
    assert!((got - want).abs() < 1e-9);
    // Once a sync works again, the note is gone.
    s.woo.lock().unwrap().secret = SECRET.into();
    run(&s.t, &opts(DAY, AT + 1_200)).await.unwrap();
    let c = crate::support::composed_on(&s.t, day).await;
    assert!(!c.rendered.text.contains("the latest sync failed"));
}

/// `check` signs in to the source; `status` shows its last sync and how far its orders reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_status_show_each_source() {
    let Some(s) = setup(Backend::Sqlite, Woo::new(), "GBP", SECRET).await else {
        return;
    };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    let cfg = s.t.dir.path().join("shop.toml");
    let text = crate::support::replace_store_url(&s.text, "sqlite://store.sqlite");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    let (status, out, err) = crate::support::dawnpost(&["--config", cfg, "status"], &[]);
    assert!(status.success(), "{err}");
    // Synced at 05:00 UTC on 15 June: 06:00 in London (BST).
    assert!(
        out.contains("source woo (WooCommerce): last synced 2024-06-15 06:00 BST; orders 2024-06-01 to 2024-06-14"),
        "{out}"
    );
    let (status, out, err) = crate::support::dawnpost(&["--config", cfg, "check"], &[]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains("source woo (WooCommerce): signed in"), "{out}");
    // A revoked key: `check` fails naming the source, and shows no secret.
    s.woo.lock().unwrap().secret = "cs_rotated".into();
    let (status, out, err) = crate::support::dawnpost(&["--config", cfg, "check"], &[]);
    assert!(!status.success());
    assert!(err.contains("source woo") && err.contains("401"), "{err}");
    assert!(!out.contains(SECRET) && !err.contains(SECRET));
}

/// `sync --check` reads everything and says what it would load: nothing is written and the
/// cursor stays where it was.
async fn a_check_says_what_it_would_load_and_writes_nothing(b: Backend) {
    let Some(s) = setup(b, Woo::new(), "GBP", SECRET).await else {
        return;
    };
    let before = s.t.fingerprint().await;
    let o = dawnpost::ingest::live::SyncOptions {
        check: true,
        ..opts(DAY, AT)
    };
    let summary = run(&s.t, &o).await.unwrap();
    let plan = summary.import.plan.expect("a plan");
    assert_eq!(plan.rows.get("orders"), Some(&205));
    assert_eq!(plan.rows.get("refunds"), Some(&1));
    assert_eq!(plan.first_day.as_deref(), Some("2024-06-01"));
    assert_eq!(s.t.fingerprint().await, before);
    assert_eq!(cursor(&s.t, "woo").await, None);
    assert!(
        s.t.store
            .source_state("woo")
            .await
            .unwrap()
            .synced_at
            .is_none()
    );
}

both_backends!(
    a_check_says_what_it_would_load_and_writes_nothing,
    a_failed_sync_is_told_in_the_email_which_still_has_the_data,
    a_sync_pages_through_every_order_and_dates_the_refund,
    a_late_refund_moves_its_own_day_and_no_other,
    an_overlapping_resync_changes_nothing,
    a_server_that_dies_mid_sync_leaves_nothing_written,
    a_throttle_is_waited_out,
    a_wrong_secret_names_the_source_and_shows_no_secret,
    another_currency_is_refused,
    a_store_too_old_is_told_what_to_upgrade,
);
