//! CSV import: idempotent upserts, and bad input that names file, line and column while
//! leaving the store exactly as it was, on both backends.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dawnpost::ingest::import_csv;

use crate::support::{Backend, TestStore, both_backends, fixture};

both_backends!(
    reimport_counts_nothing_twice,
    bad_rows_name_line_and_column_and_write_nothing,
    failure_halfway_through_a_large_file_writes_nothing,
    campaign_reimport_replaces_its_skus,
    twenty_five_bad_rows_are_told_in_one_run,
    an_unchanged_reimport_rebuilds_no_day,
    a_column_named_twice_is_refused,
);

fn write(t: &TestStore, name: &str, text: &str) -> PathBuf {
    let p = t.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn import(t: &TestStore, table: &str, path: &Path) -> anyhow::Result<u64> {
    Ok(import_csv(&t.store, table, path, t.config.shop.timezone)
        .await?
        .rows)
}

async fn reimport_counts_nothing_twice(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let before = t.fingerprint().await;
    for table in [
        "products",
        "orders",
        "order_lines",
        "traffic",
        "campaigns",
        "fulfilment",
        "daily_values",
    ] {
        import(&t, table, &fixture(&format!("small/{table}.csv")))
            .await
            .unwrap();
    }
    assert_eq!(t.fingerprint().await, before);
    assert_eq!(t.store.count("orders").await.unwrap(), 11);

    // A later export with a changed status and one new order updates and adds.
    let p = write(
        &t,
        "orders2.csv",
        "order_id,placed_at,channel,customer_id,customer_type,discount,status\n\
         O03,2024-03-01 09:15,paid_search,c3,new,,delivered\n\
         O12,2024-03-02 08:00,direct,c11,new,2.5,placed\n",
    );
    assert_eq!(import(&t, "orders", &p).await.unwrap(), 2);
    assert_eq!(t.store.count("orders").await.unwrap(), 12);
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM orders WHERE order_id = 'O03' AND status = 'delivered'")
            .await,
        Some(1.0)
    );
    assert_eq!(
        t.scalar("SELECT discount FROM orders WHERE order_id = 'O12'")
            .await,
        Some(2.5)
    );
}

async fn bad_rows_name_line_and_column_and_write_nothing(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let before = t.fingerprint().await;
    let lines_header = "order_id,sku,quantity,unit_price\n";
    // (table, file text, what the message must contain)
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "order_lines",
            format!("{lines_header}O01,B,1,25\nO02,C,two,15\n"),
            vec![":3:", "`quantity`", "\"two\" is not a whole number"],
        ),
        (
            "traffic",
            "day,channel,sessions,product_views,add_to_carts,checkouts\n2024-03-02,organic,1,1,1,1\n2024-02-30,organic,1,1,1,1\n".into(),
            vec![":3:", "`day`", "\"2024-02-30\" is not a date"],
        ),
        (
            "products",
            "sku,name,category,unit_cost,lead_time_days\nZ,Zed,Home,1,1\n".into(),
            vec![":1:", "missing required column `unit_price`"],
        ),
        (
            "order_lines",
            format!("{lines_header}O01,B,1,25\nO02,C,1,15\nO03,ZZZ,1,15\n"),
            vec![":4:", "`sku`", "unknown sku \"ZZZ\" (not in products)"],
        ),
        (
            "order_lines",
            format!("{lines_header}O01,B,1,25\nO99,C,1,15\n"),
            vec![":3:", "`order_id`", "unknown order_id \"O99\""],
        ),
        (
            "traffic",
            "day,channel,sessions,product_views,add_to_carts,checkouts\n2024-03-02,organic,1,1,1,1\n2024-03-03,email,1,1,1,1\n2024-03-02,organic,2,2,2,2\n".into(),
            vec![":4:", "duplicate key (day, channel)", "already on line 2"],
        ),
        (
            "orders",
            "order_id,placed_at,channel,customer_id,customer_type,discount,status\nO20,2024-03-02 10:00,organic,c1,new,0,lost\n".into(),
            vec![":2:", "`status`", "\"lost\" is not one of"],
        ),
        (
            "orders",
            "order_id,placed_at,channel,customer_id,customer_type,discount,status\nO20,2024-03-10 02:30,organic,c1,new,0,placed\n".into(),
            vec![":2:", "`placed_at`", "does not exist in America/New_York"],
        ),
        (
            "order_lines",
            format!("{lines_header}O01,B,1.5,25\n"),
            vec![":2:", "`quantity`", "not a whole number"],
        ),
        (
            "returns",
            "order_id,sku,day,quantity,reason\nO04,B,2024-03-02,1,\n".into(),
            vec![":2:", "`reason`", "a value is required"],
        ),
        (
            "feedback",
            "feedback_id,day,channel,theme,sentiment,text,colour\n".into(),
            vec![":1:", "unknown column `colour`"],
        ),
        (
            "campaigns",
            "campaign,channel,start_day,end_day,skus\nX,email,2024-03-05,2024-03-01,A\n".into(),
            vec![":2:", "`end_day`", "before start_day"],
        ),
        (
            "order_lines",
            format!("{lines_header}O01,B,1,25\n\"O02,C,1,15\n"),
            vec!["malformed CSV"],
        ),
    ];
    for (i, (table, text, needles)) in cases.iter().enumerate() {
        let p = write(&t, &format!("bad{i}.csv"), text);
        let err = format!(
            "{:#}",
            import(&t, table, &p)
                .await
                .expect_err(&format!("case {i} must fail"))
        );
        assert!(
            err.contains(&p.display().to_string()),
            "case {i}: no file name in {err}"
        );
        for n in needles {
            assert!(err.contains(n), "case {i}: {n:?} not in {err}");
        }
        assert_eq!(t.fingerprint().await, before, "case {i} changed the store");
    }
    let err = format!(
        "{:#}",
        import(&t, "customers", &fixture("small/orders.csv"))
            .await
            .unwrap_err()
    );
    assert!(err.contains("unknown format `customers`"), "{err}");
    assert!(
        err.contains("shopify-orders") && err.contains("order_lines"),
        "{err}"
    );
}

async fn failure_halfway_through_a_large_file_writes_nothing(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let before = t.fingerprint().await;
    // 5,000 orders: many batches are written inside the transaction before row 4,001 fails.
    let mut orders =
        String::from("order_id,placed_at,channel,customer_id,customer_type,discount,status\n");
    for i in 0..5000 {
        let placed = if i == 3999 {
            "yesterday".to_string()
        } else {
            format!("2024-04-{:02} 12:00", 1 + i % 28)
        };
        writeln!(orders, "N{i:05},{placed},organic,c{i},new,0,placed").unwrap();
    }
    let p = write(&t, "many_orders.csv", &orders);
    let err = format!("{:#}", import(&t, "orders", &p).await.unwrap_err());
    assert!(
        err.contains(":4001:") && err.contains("`placed_at`"),
        "{err}"
    );
    assert_eq!(t.fingerprint().await, before);

    // A reference failure late in the file: the good orders first, then lines whose last
    // batch names an unknown SKU.
    let good: String = orders.replace("yesterday", "2024-04-02 12:00");
    let p = write(&t, "many_orders_ok.csv", &good);
    assert_eq!(import(&t, "orders", &p).await.unwrap(), 5000);
    let after_orders = t.fingerprint().await;
    let mut lines = String::from("order_id,sku,quantity,unit_price\n");
    for i in 0..5000 {
        let sku = if i == 4500 { "NOPE" } else { "A" };
        writeln!(lines, "N{i:05},{sku},1,10").unwrap();
    }
    let p = write(&t, "many_lines.csv", &lines);
    let err = format!("{:#}", import(&t, "order_lines", &p).await.unwrap_err());
    assert!(
        err.contains(":4502:") && err.contains("unknown sku \"NOPE\""),
        "{err}"
    );
    assert_eq!(t.fingerprint().await, after_orders);
}

async fn campaign_reimport_replaces_its_skus(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let skus = "SELECT COUNT(*) FROM campaign_skus WHERE campaign = 'Leap Sale'";
    assert_eq!(t.scalar(skus).await, Some(2.0));
    let p = write(
        &t,
        "campaigns2.csv",
        "campaign,channel,start_day,end_day,skus\nLeap Sale,email,2024-02-28,2024-03-06, A ; B \n",
    );
    import(&t, "campaigns", &p).await.unwrap();
    assert_eq!(t.scalar(skus).await, Some(2.0));
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM campaign_skus WHERE campaign = 'Leap Sale' AND sku = 'A'")
            .await,
        Some(1.0)
    );
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM campaigns WHERE end_day = '2024-03-06'")
            .await,
        Some(1.0)
    );
    let before = t.fingerprint().await;
    let p = write(
        &t,
        "campaigns3.csv",
        "campaign,channel,start_day,end_day,skus\nLeap Sale,email,2024-02-28,2024-03-06,A;Q\n",
    );
    let err = format!("{:#}", import(&t, "campaigns", &p).await.unwrap_err());
    assert!(
        err.contains(":2:") && err.contains("unknown sku \"Q\""),
        "{err}"
    );
    assert_eq!(t.fingerprint().await, before);
}

/// 25 bad rows among good ones: one run names the first 20 with their lines and columns, says
/// "5 more", and writes nothing. Whole numbers written `12.0` are good; `12.5` is not.
async fn twenty_five_bad_rows_are_told_in_one_run(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let before = t.fingerprint().await;
    let mut csv = String::from("day,sku,on_hand,on_order\n");
    // Lines 2..=51 alternate: a good row (on_hand written 7.0), then a bad one (12.5).
    for i in 0..25 {
        writeln!(csv, "2024-03-{:02},A,7.0,0", 2 + i).unwrap();
        writeln!(csv, "2024-03-0{},B,12.5,0", 2 + i % 7).unwrap();
    }
    let p = write(&t, "inventory-bad.csv", &csv);
    let e = format!("{:#}", import(&t, "inventory", &p).await.unwrap_err());
    let told: Vec<&str> = e
        .lines()
        .filter(|l| l.contains("inventory-bad.csv:"))
        .collect();
    assert_eq!(told.len(), 20, "{e}");
    // The bad rows are the odd lines 3, 5, ..., 41 for the first twenty.
    for (k, l) in told.iter().enumerate() {
        let line = 3 + 2 * k;
        assert!(l.contains(&format!("inventory-bad.csv:{line}:")), "{l}");
        assert!(l.contains("on_hand") && l.contains("12.5"), "{l}");
    }
    assert!(e.contains("… and 5 more bad rows"), "{e}");
    assert!(e.contains("nothing was imported"), "{e}");
    assert_eq!(t.fingerprint().await, before, "nothing was written");

    // The good rows alone load, 7.0 as 7.
    let good: String = csv
        .lines()
        .take(1)
        .chain(csv.lines().skip(1).step_by(2))
        .map(|l| format!("{l}\n"))
        .collect();
    let p = write(&t, "inventory-good.csv", &good);
    assert_eq!(import(&t, "inventory", &p).await.unwrap(), 25);
    let on_hand = t
        .scalar("SELECT on_hand FROM inventory WHERE day = '2024-03-02' AND sku = 'A'")
        .await
        .unwrap();
    assert_eq!(on_hand, 7.0);
}

/// Re-importing an unchanged export writes no row, so no day's rollups are rebuilt; one
/// changed line rebuilds its order's day alone.
async fn an_unchanged_reimport_rebuilds_no_day(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let tz = t.config.shop.timezone;
    for table in ["products", "orders", "order_lines", "traffic"] {
        let f = fixture(&format!("small/{table}.csv"));
        let s = import_csv(&t.store, table, &f, tz).await.unwrap();
        assert_eq!(
            s.rebuilt_days, 0,
            "{table}: nothing changed, nothing rebuilt"
        );
    }
    let before = t.fingerprint().await;
    // O01 (placed on 1 Mar, by independent SQL) now has 3 units of A, not 2.
    let day: String = sqlx::query_scalar("SELECT day FROM orders WHERE order_id = 'O01'")
        .fetch_one(t.store.pool())
        .await
        .unwrap();
    let p = write(
        &t,
        "line.csv",
        "order_id,sku,quantity,unit_price\nO01,A,3,10.00\n",
    );
    let s = import_csv(&t.store, "order_lines", &p, tz).await.unwrap();
    assert_eq!(s.rebuilt_days, 1);
    assert_ne!(t.fingerprint().await, before);
    let units = t
        .scalar(&format!(
            "SELECT SUM(units) FROM sales_daily WHERE day = '{day}' AND sku = 'A'"
        ))
        .await
        .unwrap();
    let expected = t
        .scalar(&format!(
            "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
             WHERE o.day = '{day}' AND l.sku = 'A' AND o.status <> 'cancelled'"
        ))
        .await
        .unwrap();
    assert_eq!(units, expected);
}

/// A column named twice (any case, as table columns are read): refused with the name and
/// both positions, where before the second was taken for an unknown column.
async fn a_column_named_twice_is_refused(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let before = t.fingerprint().await;
    let p = write(
        &t,
        "lines_sku_twice.csv",
        "order_id,sku,quantity,unit_price,SKU\nO01,B,1,25,B\n",
    );
    let err = format!("{:#}", import(&t, "order_lines", &p).await.unwrap_err());
    assert!(
        err.contains(
            "lines_sku_twice.csv:1: column `sku` is in the header twice, as columns 2 and 5"
        ),
        "{err}"
    );
    assert_eq!(t.fingerprint().await, before);
}
