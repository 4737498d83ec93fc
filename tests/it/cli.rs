//! The binary as a user runs it: no config at all, bad configs, bad files, secrets.

use chrono::{Days, Utc};

use crate::support::{dawnpost, fixture};

#[test]
fn metrics_with_no_config_builds_the_demo_and_reports_yesterday() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (status, out, err) = dawnpost(
        &["metrics", "--format", "json"],
        &[("DAWNPOST_DATA_DIR", data)],
    );
    assert!(status.success(), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        .checked_sub_days(Days::new(1))
        .unwrap();
    assert_eq!(json["date"], yesterday.to_string());
    assert_eq!(json["shop"], "Northwind Outfitters");
    let metrics = json["metrics"].as_array().unwrap();
    assert!(metrics.len() >= 28);
    let revenue = metrics.iter().find(|m| m["key"] == "net_revenue").unwrap();
    assert_eq!(revenue["comparisons"].as_array().unwrap().len(), 6);
    assert_eq!(revenue["comparisons"][0]["current"]["status"], "value");
    assert!(std::path::Path::new(data).join("demo.sqlite").exists());

    // A second run reuses the store (it already ends yesterday) and prints the table.
    let (status, out, err) = dawnpost(&["metrics"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains("Net revenue") && out.contains("vs last year"),
        "{out}"
    );
    assert!(!err.contains("building the demo shop"), "{err}");

    // The demo's report: three teams, one person in two of them, five people.
    let (status, out, err) = dawnpost(&["recipients"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(status.success(), "{err}");
    assert!(out.ends_with("5 recipients\n"), "{out}");
    assert_eq!(out.matches("aiko@northwind.example").count(), 1, "{out}");
    let (status, out, err) = dawnpost(&["send"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains(": 5 sent, 0 already served, 0 failed"),
        "{out}"
    );
    let outbox = std::path::Path::new(data).join("outbox");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 5);
    let (status, out, _) = dawnpost(&["send"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(
        status.success() && out.contains(": 0 sent, 5 already served, 0 failed"),
        "{out}"
    );
}

#[test]
fn check_names_file_line_and_key_of_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let cases = [
        (
            good.replace(
                "currency = \"USD\"",
                "currency = \"USD\"\nfavourite_colour = \"blue\"",
            ),
            "favourite_colour",
            6,
        ),
        (
            good.replace("America/New_York", "America/Atlantis"),
            "timezone",
            4,
        ),
        (
            good.replace("aggregate = \"sum\"", "aggregate = \"median\""),
            "aggregate",
            16,
        ),
        (
            good.replace("day BETWEEN $1 AND $2", "day > '2024-01-01'"),
            "metrics.orders_from_email",
            10,
        ),
    ];
    for (i, (text, key, line)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let (status, _out, err) = dawnpost(&["--config", path.to_str().unwrap(), "check"], &[]);
        assert_eq!(status.code(), Some(1), "case {i}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "case {i}: {err}");
        assert!(err.contains(key), "case {i}: {err}");
        assert!(
            err.contains(&format!("line {line}")) || err.contains(&format!(":{line}:")),
            "case {i}: {err}"
        );
    }
}

#[test]
fn check_passes_on_the_small_shop_and_import_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let config = config.to_str().unwrap();
    for table in ["products", "orders", "order_lines"] {
        let file = fixture(&format!("small/{table}.csv"));
        let (status, out, err) = dawnpost(
            &["--config", config, "import", table, file.to_str().unwrap()],
            &[],
        );
        assert!(status.success(), "{err}");
        assert!(out.contains("imported") && out.contains(table), "{out}");
    }
    let (status, out, err) = dawnpost(&["--config", config, "check"], &[]);
    assert!(status.success(), "{err}");
    assert!(out.contains("orders") && out.ends_with("ok\n"), "{out}");

    let bad = dir.path().join("lines.csv");
    std::fs::write(&bad, "order_id,sku,quantity,unit_price\nO01,A,1,ten\n").unwrap();
    let (status, _out, err) = dawnpost(
        &[
            "--config",
            config,
            "import",
            "order_lines",
            bad.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains(&format!("{}:2: column `unit_price`", bad.display())),
        "{err}"
    );
}

#[test]
fn the_database_password_never_appears_in_output() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cr3t-Hunter2-do-not-print";
    let config = dir.path().join("pg.toml");
    std::fs::write(
        &config,
        "[shop]\nname = \"S\"\ntimezone = \"UTC\"\ncurrency = \"EUR\"\n\n[store]\n\
         url = \"postgres://dawnpost@127.0.0.1:9/shop?connect_timeout=2\"\npassword_env = \"DP_TEST_DB_PASSWORD\"\nconnect_timeout_secs = 1\n",
    )
    .unwrap();
    let (status, out, err) = dawnpost(
        &["--config", config.to_str().unwrap(), "check"],
        &[("DP_TEST_DB_PASSWORD", secret), ("DAWNPOST_LOG", "trace")],
    );
    assert!(!status.success());
    assert!(
        err.contains("cannot open store postgres://dawnpost@127.0.0.1:9/shop"),
        "{err}"
    );
    assert!(
        !out.contains(secret) && !err.contains(secret),
        "{out}\n{err}"
    );

    // A password in the URL itself is refused before anything connects.
    std::fs::write(
        &config,
        format!("[shop]\nname = \"S\"\ntimezone = \"UTC\"\ncurrency = \"EUR\"\n\n[store]\nurl = \"postgres://u:{secret}@127.0.0.1:9/x\"\n"),
    )
    .unwrap();
    let (status, out, err) = dawnpost(&["--config", config.to_str().unwrap(), "check"], &[]);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains(":7: `store.url`"), "{err}");
    assert!(!out.contains(secret) && !err.contains(secret), "{err}");
}
