//! The folder watch: past the first thousand files, a file still being written, a store
//! locked while a file loads, and children dropped beside their parents.

use std::time::Duration;

use chrono::Utc;
use dawnpost::ingest::nightly::{pick_up, survey};

use crate::support::{Backend, TestStore, both_backends, fixture};

both_backends!(
    a_new_file_after_a_thousand_known_ones_is_imported,
    a_file_still_being_written_waits_for_the_next_run,
    children_dropped_beside_their_parents_load_in_one_run,
);

/// The small shop on `b`, every data file imported, with `imports` (TOML) appended; None
/// where PostgreSQL is wanted but not installed (and not required).
async fn shop_on(b: Backend, imports: &str) -> Option<TestStore> {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap() + imports;
    Some(TestStore::new(b, &text).await?.with_small_data().await)
}

async fn shop(imports: &str) -> TestStore {
    shop_on(Backend::Sqlite, imports).await.unwrap()
}

fn now(t: &TestStore) -> chrono::DateTime<chrono_tz::Tz> {
    Utc::now().with_timezone(&t.config.shop.timezone)
}

const TRAFFIC_HEADER: &str = "day,channel,sessions,product_views,add_to_carts,checkouts\n";

/// One traffic row for `day` on channel "watch" with `sessions` sessions.
fn traffic(day: &str, sessions: u32) -> String {
    format!("{TRAFFIC_HEADER}{day},watch,{sessions},1,1,1\n")
}

async fn sessions(t: &TestStore, day: &str) -> Option<f64> {
    t.scalar(&format!(
        "SELECT SUM(sessions) FROM traffic WHERE channel = 'watch' AND day = '{day}'"
    ))
    .await
}

/// The probe's case: 1,002 files already imported, then one more. The list used to be cut
/// at 1,000 names before the known files were skipped, so the new one (last by name) was
/// never reached, and `check` said "0 new or changed".
async fn a_new_file_after_a_thousand_known_ones_is_imported(b: Backend) {
    let Some(t) = shop_on(
        b,
        "\n[[imports]]\npath = \"drop/traffic_*.csv\"\nsettle_secs = 0\n",
    )
    .await
    else {
        return;
    };
    let drop = t.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    for i in 0..1_002 {
        let path = drop.join(format!("traffic_{i:04}.csv"));
        std::fs::write(&path, traffic("2024-01-01", 1)).unwrap();
        // Known to the store exactly as the folder shows it now.
        let meta = std::fs::metadata(&path).unwrap();
        let mtime = meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        sqlx::query(
            "INSERT INTO imported_files (path, size, hash, status, detail, imported_at, mtime) \
             VALUES ($1, $2, 'h', 'imported', 'earlier', 0, $3)",
        )
        .bind(path.display().to_string())
        .bind(meta.len() as i64)
        .bind(mtime)
        .execute(t.store.pool())
        .await
        .unwrap();
    }
    std::fs::write(drop.join("traffic_9999.csv"), traffic("2024-03-01", 77)).unwrap();
    let s = survey(&t.store, &t.config).await;
    assert_eq!((s[0].files, s[0].pending), (1_003, 1));
    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    assert_eq!(picked.imported.len(), 1, "{picked:?}");
    assert!(picked.failed.is_empty(), "{picked:?}");
    assert_eq!(sessions(&t, "2024-03-01").await, Some(77.0));
    // The thousand known files were skipped unread: none of their rows came in.
    assert_eq!(sessions(&t, "2024-01-01").await, None);
}

/// A file still being written when the watch looks is left for the next run, and then
/// imported whole. Before, a row cut mid-field was imported as it stood.
async fn a_file_still_being_written_waits_for_the_next_run(b: Backend) {
    let Some(t) = shop_on(
        b,
        "\n[[imports]]\npath = \"drop/traffic_*.csv\"\nsettle_secs = 1.5\n",
    )
    .await
    else {
        return;
    };
    let drop = t.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let path = drop.join("traffic_0301.csv");
    // The writer has got as far as "12" of "120" sessions.
    std::fs::write(&path, format!("{TRAFFIC_HEADER}2024-03-01,watch,12")).unwrap();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(b"0,60,12,6\n").unwrap();
        })
    };
    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    writer.join().unwrap();
    assert_eq!(picked.waiting, [path.display().to_string()], "{picked:?}");
    assert!(picked.imported.is_empty() && picked.failed.is_empty());
    assert_eq!(sessions(&t, "2024-03-01").await, None);

    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    assert_eq!(picked.imported.len(), 1, "{picked:?}");
    assert_eq!(sessions(&t, "2024-03-01").await, Some(120.0));
}

/// Another process holds SQLite's write lock past the busy timeout while a file loads: the
/// failure is the store's, so the file is tried again on the next run though unchanged,
/// and `check` lists it meanwhile. A file refused for its contents is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_failed_on_a_locked_store_is_tried_again() {
    let t = shop("\n[[imports]]\npath = \"drop/traffic_*.csv\"\nsettle_secs = 0\n").await;
    let drop = t.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("traffic_0301.csv"), traffic("2024-03-01", 55)).unwrap();
    std::fs::write(
        drop.join("traffic_bad.csv"),
        format!("{TRAFFIC_HEADER}2024-03-02,watch,lots,1,1,1\n"),
    )
    .unwrap();
    let db = t.dir.path().join("store.sqlite");
    let mut locker = crate::never_twice::hold_write_lock(&db, 12);
    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    locker.wait().unwrap();
    assert_eq!(picked.failed.len(), 2, "{picked:?}");
    let locked = &picked.failed[0];
    assert!(
        locked.contains("traffic_0301.csv") && locked.contains("busy or unavailable"),
        "{locked}"
    );
    let s = survey(&t.store, &t.config).await;
    assert_eq!(s[0].pending, 1, "the locked-out file is due again: {s:?}");
    assert_eq!(s[0].failed.len(), 2, "check lists both failures: {s:?}");

    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    assert_eq!(picked.imported.len(), 1, "{picked:?}");
    assert!(
        picked.failed.is_empty(),
        "the bad file is not tried again: {picked:?}"
    );
    assert_eq!(sessions(&t, "2024-03-01").await, Some(55.0));
}

/// dawnpost's own table files in one folder, the children sorting first (`order_lines_…`
/// before `orders_…`): one run loads both, the lines once their order is in.
async fn children_dropped_beside_their_parents_load_in_one_run(b: Backend) {
    let Some(t) = shop_on(b, "\n[[imports]]\npath = \"drop/*.csv\"\nsettle_secs = 0\n").await
    else {
        return;
    };
    let drop = t.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(
        drop.join("order_lines_0302.csv"),
        "order_id,sku,quantity,unit_price\nW1,A,4,10.00\nW1,B,1,25.00\n",
    )
    .unwrap();
    std::fs::write(
        drop.join("orders_0302.csv"),
        "order_id,placed_at,channel,customer_id,customer_type,discount,status\n\
         W1,2024-03-02 10:00,email,c9,new,0,placed\n",
    )
    .unwrap();
    let picked = pick_up(&t.store, &t.config, now(&t)).await;
    assert!(picked.failed.is_empty(), "{picked:?}");
    assert_eq!(picked.imported.len(), 2, "{picked:?}");
    // 4 × 10.00 + 1 × 25.00
    let revenue = t
        .scalar("SELECT SUM(quantity * unit_price) FROM order_lines WHERE order_id = 'W1'")
        .await;
    assert_eq!(revenue, Some(65.0));
}

/// A misspelt format stops every command when the config loads, naming the file, the line
/// and the key; no store is opened or made.
#[test]
fn an_unknown_import_format_is_refused_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let text = format!("{small}\n[[imports]]\npath = \"drop/*.csv\"\nformat = \"shopify-order\"\n");
    let line = text.lines().position(|l| l == "[[imports]]").unwrap() + 1;
    let cfg = dir.path().join("shop.toml");
    std::fs::write(&cfg, &text).unwrap();
    let cfg = cfg.to_str().unwrap();
    for command in ["status", "recipients", "check"] {
        let (status, _, err) = crate::support::dawnpost(&["--config", cfg, command], &[]);
        assert_eq!(status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains(&format!(
                "{cfg}:{line}: `imports[0].format`: unknown format `shopify-order`: one of \
                 shopify-orders, shopify-products, matrixify-orders, woocommerce-orders, \
                 ga4-traffic, google-ads, meta-ads, or a table's name"
            )),
            "{command}: {err}"
        );
    }
    assert!(!dir.path().join("small.sqlite").exists());
}
