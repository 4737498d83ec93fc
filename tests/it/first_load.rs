//! A shop's first Shopify export, into an empty store: on SQLite the raw tables' indexes
//! and triggers are set aside while its rows go in, and the customers whose type the file
//! leaves unsure are the only ones derived again. Every row, customer type, rollup, index
//! and trigger comes out as an import into a store that already holds rows makes them, a
//! failure leaves the store as it was, and fields padded with spaces or ended by CRLF read
//! as they always did; on both backends.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use dawnpost::ingest::import_file;

use crate::demo::schema_objects;
use crate::presets::{empty, opts, preset};
use crate::support::{Backend, TestStore, both_backends, fixture};

both_backends!(
    a_first_load_writes_what_a_later_load_writes,
    a_first_load_that_fails_leaves_the_store_as_it_was,
    spaces_and_windows_line_ends_read_as_before,
);

/// A change to an order's first row, by its place in the file and the row's fields (a
/// column's place by its name).
type Tweak = dyn Fn(usize, &mut [String], &dyn Fn(&str) -> usize);

/// An order of the test export: number, customer's email (None: a guest), when it was
/// placed (seconds since the epoch) and whether it was cancelled.
struct Order {
    id: String,
    email: Option<String>,
    at: i64,
    cancelled: bool,
}

/// 1 March 2024, 00:00 at -05:00.
const MARCH_1: i64 = 1_709_269_200;

/// `n` orders as Shopify exports them, with what makes customer types hard: runs of orders
/// as placed, reversed and shuffled; a customer's two orders in one second; cancelled
/// orders and guests; shipments, refunds and discounts. `tweak` may change an order's
/// first row (by its place in the file) to make it bad.
fn export(n: usize, tweak: &Tweak) -> (String, Vec<Order>) {
    let text = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let orders: Vec<Order> = (0..n)
        .map(|k| {
            // Orders are placed two to a second; every 50th is its customer's second
            // order in that second. Forty customers order in the first half of the file,
            // forty others in the second.
            let of = |k: usize| k % 40 + 40 * (k / 1_200);
            let customer = if k % 50 == 1 { of(k - 1) } else { of(k) };
            let email = (k % 10 != 3).then(|| {
                let e = format!("c{customer}@example.com");
                if k % 4 == 0 { e.to_uppercase() } else { e }
            });
            let at = MARCH_1 + (k as i64 / 2) * 600;
            Order {
                id: format!("#{}", 1000 + k),
                email,
                at,
                cancelled: k % 11 == 0,
            }
        })
        .collect();
    // Runs of 100: reversed, shuffled, as placed. Each half's customers first order in a
    // reversed run, so that guesses from the file alone go wrong.
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for (run, start) in (0..n).step_by(100).enumerate() {
        let ks: Vec<usize> = (start..(start + 100).min(n)).collect();
        match run % 3 {
            0 => order.extend(ks.iter().rev()),
            1 => order.extend((0..ks.len()).map(|j| ks[j * 37 % ks.len()])),
            _ => order.extend(&ks),
        }
    }
    let mut out = format!("{}\n", header.join(","));
    for (place, &k) in order.iter().enumerate() {
        let o = &orders[k];
        for j in 0..1 + k % 3 {
            let mut r = vec![String::new(); header.len()];
            r[col("Name")] = o.id.clone();
            r[col("Lineitem quantity")] = (1 + j).to_string();
            r[col("Lineitem price")] = "12.50".into();
            let sku = format!("SKU-{}", (k * 7 + j) % 30);
            r[col("Lineitem name")] = format!("Product {sku}");
            if (k + j) % 17 != 0 {
                r[col("Lineitem sku")] = sku;
            }
            if j == 0 {
                first_row(&mut r, &col, k, o);
                tweak(place, &mut r, &col);
            }
            writeln!(out, "{}", r.join(",")).unwrap();
        }
    }
    (out, orders)
}

/// The order's own fields, on its first row only.
fn first_row(r: &mut [String], col: &dyn Fn(&str) -> usize, k: usize, o: &Order) {
    let moment = |at: i64| {
        chrono::DateTime::from_timestamp(at - 5 * 3600, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S -0500")
            .to_string()
    };
    r[col("Email")] = o.email.clone().unwrap_or_default();
    r[col("Created at")] = moment(o.at);
    r[col("Financial Status")] = if k.is_multiple_of(13) {
        "refunded"
    } else {
        "paid"
    }
    .into();
    r[col("Source")] = ["web", "pos", ""][k % 3].into();
    r[col("Discount Amount")] = if k.is_multiple_of(5) { "1.00" } else { "0.00" }.into();
    r[col("Refunded Amount")] = if k.is_multiple_of(9) { "4.50" } else { "0.00" }.into();
    if o.cancelled {
        r[col("Cancelled at")] = moment(o.at);
    } else if k.is_multiple_of(2) {
        r[col("Fulfillment Status")] = "fulfilled".into();
        r[col("Fulfilled at")] = moment(o.at + 86_400);
    }
}

/// Each order's customer type, worked out the slow way: `returning` when the customer has
/// an order, not cancelled, placed before it (or in the same second with a lower number).
fn derived_types(orders: &[Order]) -> BTreeMap<String, Option<&'static str>> {
    let customer = |o: &Order| o.email.as_ref().map(|e| e.to_lowercase());
    orders
        .iter()
        .map(|o| {
            let kind = customer(o).map(|c| {
                let earlier = orders.iter().any(|e| {
                    customer(e).as_ref() == Some(&c)
                        && !e.cancelled
                        && (e.at, &e.id) < (o.at, &o.id)
                });
                if earlier { "returning" } else { "new" }
            });
            (o.id.clone(), kind)
        })
        .collect()
}

fn write(t: &TestStore, name: &str, text: &str) -> PathBuf {
    let p = t.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every row of the raw tables, the products and the rollups, and the days marked for a
/// rebuild, leaving out what `skip` names (per table, a condition on its rows).
async fn tables(t: &TestStore, skip: &dyn Fn(&str) -> &'static str) -> Vec<(String, Vec<String>)> {
    let names = [
        "products",
        "orders",
        "order_lines",
        "fulfilment",
        "refunds",
        "rollup_dirty",
    ]
    .into_iter()
    .chain(dawnpost::schema::rollups().map(|(r, _)| r));
    let mut out = Vec::new();
    for table in names {
        let sql = format!("SELECT * FROM {table} WHERE NOT ({})", skip(table));
        let rows: Vec<sqlx::any::AnyRow> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(t.store.pool())
            .await
            .unwrap();
        let mut text: Vec<String> = rows.iter().map(crate::support::row_text).collect();
        text.sort();
        out.push((table.to_string(), text));
    }
    out
}

/// The same export into an empty store (a first load) and into a store that holds another
/// shop day's order: the same rows, types, rollups and summary, and every index and trigger
/// back in place; the types are those worked out independently from the file.
async fn a_first_load_writes_what_a_later_load_writes(b: Backend) {
    let Some(first) = empty(b).await else { return };
    let Some(later) = empty(b).await else { return };
    let (text, orders) = export(2_400, &|_, _, _| {});
    assert!(
        text.lines().count() > 4_000,
        "several batches of each table"
    );
    let o = opts(&first);
    let catalog = schema_objects(&first, b).await;
    let path = write(&first, "orders_export_1.csv", &text);
    let s1 = import_file(&first.store, None, &path, &o).await.unwrap();
    assert_eq!(schema_objects(&first, b).await, catalog);

    // The other store holds an order of its own: a customer, a product and days (11 and
    // 12 January) the export lacks.
    let fixture = std::fs::read_to_string(preset("shopify_orders.csv")).unwrap();
    let mut lines = fixture.lines();
    let mut other = format!("{}\n", lines.next().unwrap());
    let row = lines.next().unwrap().replacen("#1001,a@", "#1,other@", 1);
    writeln!(
        other,
        "{}",
        row.replace("2024-03-0", "2024-01-1")
            .replace("MUG-1", "OTHER")
    )
    .unwrap();
    import_file(&later.store, None, &write(&later, "other.csv", &other), &o)
        .await
        .unwrap();
    let s2 = import_file(&later.store, None, &write(&later, "x.csv", &text), &o)
        .await
        .unwrap();
    assert_eq!((s1.rows, &s1.tables), (s2.rows, &s2.tables));
    assert_eq!(s1.rebuilt_days, s2.rebuilt_days);
    assert_eq!(s1.rows, text.lines().count() as u64 - 1);
    let none = |_: &str| "false";
    let theirs = |table: &str| match table {
        "products" => "sku = 'OTHER'",
        "orders" | "order_lines" | "fulfilment" | "refunds" => "order_id = '#1'",
        _ => "day IN ('2024-01-11', '2024-01-12')",
    };
    let got = tables(&first, &none).await;
    assert_eq!(got, tables(&later, &theirs).await);
    assert!(
        got.iter()
            .any(|(t, rows)| t == "sales_daily" && rows.len() > 100)
    );
    assert!(
        got.iter()
            .any(|(t, rows)| t == "rollup_dirty" && rows.is_empty())
    );

    let want = derived_types(&orders);
    let stored: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT order_id, derived_type FROM orders")
            .fetch_all(first.store.pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 2_400);
    for (id, kind) in stored {
        assert_eq!(kind.as_deref(), want[&id], "{id}");
    }
    // Each of the 72 customers with an email (eight have only guest orders) has a first.
    let new = want.values().filter(|k| **k == Some("new")).count();
    assert!((72..150).contains(&new), "{new}");
}

/// A first load that the store refuses part way (a negative discount, which only the
/// store's check catches) or that has a bad row near its end: an error that says where, and
/// the store, its indexes and its triggers as they were; then the good export loads.
async fn a_first_load_that_fails_leaves_the_store_as_it_was(b: Backend) {
    let Some(t) = empty(b).await else { return };
    let o = opts(&t);
    let before = (t.fingerprint().await, schema_objects(&t, b).await);
    let (refused, _) = export(2_400, &|place, r, col| {
        if place == 2_000 {
            r[col("Discount Amount")] = "-5.00".into();
        }
    });
    let e = import_file(&t.store, None, &write(&t, "refused.csv", &refused), &o)
        .await
        .unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("refused.csv: lines "), "{e}");
    assert!(e.contains("the store refused them"), "{e}");
    assert_eq!((t.fingerprint().await, schema_objects(&t, b).await), before);

    let (bad, _) = export(2_400, &|place, r, col| {
        if place == 2_300 {
            r[col("Lineitem quantity")] = "one".into();
        }
    });
    let e = import_file(&t.store, None, &write(&t, "bad.csv", &bad), &o)
        .await
        .unwrap_err();
    let line = bad.lines().position(|l| l.contains(",one,")).unwrap() + 1;
    let e = format!("{e:#}");
    assert!(
        e.contains(&format!("bad.csv:{line}: column `Lineitem quantity`")),
        "{e}"
    );
    assert!(e.ends_with("nothing was imported"), "{e}");
    assert_eq!((t.fingerprint().await, schema_objects(&t, b).await), before);

    let (good, _) = export(2_400, &|_, _, _| {});
    let s = import_file(&t.store, None, &write(&t, "good.csv", &good), &o)
        .await
        .unwrap();
    assert_eq!(s.tables[1], ("orders", 2_400));
    assert_eq!(schema_objects(&t, b).await, before.1);
}

/// Every field padded with spaces and every line ended by CRLF, in a Shopify export and in
/// dawnpost's own CSV: the same rows as the files as they are.
async fn spaces_and_windows_line_ends_read_as_before(b: Backend) {
    let Some(plain) = empty(b).await else { return };
    let Some(padded) = empty(b).await else { return };
    let o = opts(&plain);
    let files = [
        preset("shopify_orders.csv"),
        fixture("small/products.csv"),
        fixture("small/orders.csv"),
    ];
    let formats = [None, Some("products"), Some("orders")];
    for (path, format) in files.iter().zip(formats) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut wide = String::new();
        for (i, line) in text.lines().enumerate() {
            let fields: Vec<String> = line.split(',').map(|f| format!(" {f}  ")).collect();
            write!(wide, "{}\r\n", fields.join(",")).unwrap();
            // A line of spaces in an export is skipped, as an empty one is.
            if i == 0 && format.is_none() {
                wide.push_str("   \r\n");
            }
        }
        let format = format.map(|f| dawnpost::ingest::Format::from_name(f).unwrap());
        let name = path.file_name().unwrap().to_string_lossy();
        let a = import_file(&plain.store, format, path, &o).await.unwrap();
        let padded_path = write(&padded, &name, &wide);
        let b2 = import_file(&padded.store, format, &padded_path, &o)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let blank = u64::from(format.is_none());
        assert_eq!((a.rows + blank, a.tables), (b2.rows, b2.tables), "{name}");
    }
    assert_eq!(plain.fingerprint().await, padded.fingerprint().await);
    assert!(plain.scalar("SELECT COUNT(*) FROM orders").await.unwrap() > 5.0);
}
