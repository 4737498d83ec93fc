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

    // The forecast's accuracy over the last 56 days, per horizon and overall.
    let (status, out, err) = dawnpost(&["backtest"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(status.success(), "{err}");
    let all = out.lines().find(|l| l.starts_with("all ")).unwrap();
    let cols: Vec<&str> = all.split_whitespace().collect();
    assert_eq!(cols[1], "392", "{out}");
    let share: f64 = cols[3].trim_end_matches('%').parse().unwrap();
    assert!((50.0..=100.0).contains(&share), "{out}");
    let horizons = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(horizons, 7, "{out}");
    let (status, _, err) = dawnpost(&["backtest", "--days", "0"], &[("DAWNPOST_DATA_DIR", data)]);
    assert!(!status.success());
    assert!(err.contains("--days must be between 1 and 3650"), "{err}");

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

/// `check` renders every template once, for the store's latest day with orders (1 Mar: the
/// last order was placed at 18:00 New York time that day): the built-in ones pass and say
/// how close the email is to Gmail's clip; an undefined variable, a template without end or
/// one that includes itself fails `check`, naming its file.
#[test]
fn check_renders_every_template_and_names_the_one_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace(
            "return_rate_min_units = 1",
            "return_rate_min_units = 1\ntemplates_dir = \"tpl\"",
        );
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    crate::support::import_small_cli(config);
    let (status, out, err) = dawnpost(&["--config", config, "check"], &[]);
    assert!(status.success(), "{out}{err}");
    let line = out.lines().find(|l| l.starts_with("email ")).unwrap();
    assert!(
        line.starts_with("email    rendered for 2024-03-01: subject "),
        "{line}"
    );
    assert!(line.contains(" of 102000 bytes (Gmail's clip)"), "{line}");
    let tpl = dir.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    let cases = [
        (
            "subject.txt.j2",
            "{{ no_such_variable }}",
            "undefined value",
        ),
        (
            "digest.txt.j2",
            "{% for a in range(100000) %}{% for b in range(100000) %}.{% endfor %}{% endfor %}",
            "stopped after 500000 fuel",
        ),
        (
            "digest.html.j2",
            "{% include \"digest.html.j2\" %}",
            "recursion limit exceeded",
        ),
    ];
    for (name, source, why) in cases {
        let file = tpl.join(name);
        std::fs::write(&file, source).unwrap();
        let started = std::time::Instant::now();
        let (status, out, err) = dawnpost(&["--config", config, "check"], &[]);
        assert_eq!(status.code(), Some(1), "{source}: {out}{err}");
        assert!(
            err.contains(&format!("template {}: ", file.display())) && err.contains(why),
            "{source}: {err}"
        );
        assert!(started.elapsed().as_secs() < 30, "{source}");
        std::fs::remove_file(&file).unwrap();
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
    assert!(out.contains("\nrollups  up to date\n"), "{out}");

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

#[test]
fn several_shops_each_with_its_own_store_recipients_and_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    // Shop A is the small shop as it is; shop B is a second brand with its own store,
    // one team and its own report.
    let a = dir.path().join("a.toml");
    std::fs::write(
        &a,
        format!("{small}\n[delivery]\noutbox = \"outbox-a\"\n").replace("small.sqlite", "a.sqlite"),
    )
    .unwrap();
    let b_text = small
        .replace("small.sqlite", "b.sqlite")
        .replace("name = \"Small Test Shop\"", "name = \"Second Brand\"")
        .replace("name = \"morning\"", "name = \"brand-b\"")
        .replace(
            "teams = [\"marketing\", \"merchandising\", \"operations\"]",
            "teams = [\"merchandising\"]",
        );
    let b = dir.path().join("b.toml");
    std::fs::write(&b, format!("{b_text}\n[delivery]\noutbox = \"outbox-b\"\n")).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for config in [a, b] {
        crate::support::import_small_cli(config);
    }
    let both = ["--config", a, "--config", b];
    let with = |args: &[&str]| dawnpost(&[&both[..], args].concat(), &[]);

    let (status, out, err) = with(&["recipients", "--report", "brand-b"]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains("ola@small.example") && out.ends_with("1 recipients\n"),
        "{out}"
    );

    let (status, out, err) = with(&["send", "--report", "brand-b", "--date", "2024-03-01"]);
    assert!(status.success(), "{out}\n{err}");
    let (status, out, err) = with(&["send", "--report", "morning", "--date", "2024-03-01"]);
    assert!(status.success(), "{out}\n{err}");
    let emls = |sub: &str| {
        std::fs::read_dir(dir.path().join(sub))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!((emls("outbox-a"), emls("outbox-b")), (4, 1));
    // Each shop's ledger is in its own store.
    let ledger = |db: &str| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let url = format!("sqlite://{}", dir.path().join(db).display());
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT report, recipient FROM deliveries WHERE status = 'sent' ORDER BY recipient",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            rows
        })
    };
    assert_eq!(
        ledger("b.sqlite"),
        [("brand-b".to_string(), "ola@small.example".to_string())]
    );
    assert_eq!(ledger("a.sqlite").len(), 4);
    assert!(ledger("a.sqlite").iter().all(|(r, _)| r == "morning"));

    // Without --report, two reports are ambiguous; a store command needs one shop.
    let (status, _, err) = with(&["send", "--date", "2024-03-01"]);
    assert!(
        !status.success() && err.contains("choose one with --report"),
        "{err}"
    );
    let f = fixture("small/orders.csv");
    let (status, _, err) = with(&["import", "orders", f.to_str().unwrap()]);
    assert!(
        !status.success() && err.contains("exactly one --config"),
        "{err}"
    );
    // The same report name in two files is refused, naming both.
    let (status, _, err) = dawnpost(&["--config", a, "--config", a, "recipients"], &[]);
    assert!(
        !status.success() && err.contains("configured twice"),
        "{err}"
    );
    assert_eq!(err.matches("a.toml").count(), 2, "{err}");
}

#[test]
fn schedule_status_and_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let c = config.to_str().unwrap();
    // 06:00 New York, across the spring-forward night of 8 March 2026 (worked out by hand:
    // EST is UTC-5 until 02:00 on the 8th, EDT UTC-4 after).
    let (status, out, err) = dawnpost(
        &[
            "--config",
            c,
            "schedule",
            "--from",
            "2026-03-07 05:00",
            "--count",
            "2",
        ],
        &[],
    );
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("Sat 2026-03-07 06:00 -05:00")
            && lines[1].contains("2026-03-07T11:00Z")
            && lines[1].ends_with("for 2026-03-06"),
        "{out}"
    );
    assert!(
        lines[2].contains("Sun 2026-03-08 06:00 -04:00") && lines[2].contains("2026-03-08T10:00Z"),
        "{out}"
    );

    crate::support::import_small_cli(c);
    let (status, out, _) = dawnpost(&["--config", c, "status"], &[]);
    assert!(status.success());
    assert!(
        out.contains("report morning (4 recipients") && out.contains("no deliveries yet"),
        "{out}"
    );
    let (status, _, err) = dawnpost(&["--config", c, "send", "--date", "2024-03-01"], &[]);
    assert!(status.success(), "{err}");
    let (_, out, _) = dawnpost(&["--config", c, "status"], &[]);
    assert!(
        out.contains("2024-03-01: email 4 sent, 0 failed, 0 pending"),
        "{out}"
    );

    // --log-format json: every log line is one JSON object with a level and a message.
    let (status, _, err) = dawnpost(
        &[
            "--config",
            c,
            "--log-format",
            "json",
            "metrics",
            "--date",
            "2024-03-01",
        ],
        &[("DAWNPOST_LOG", "dawnpost=debug")],
    );
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
}

/// `metrics --format json` prints the largest 50 values of a breakdown; `--all` prints all.
#[test]
fn json_breakdowns_are_cut_at_fifty_unless_all() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let cfg = config.to_str().unwrap();
    crate::support::import_small_cli(cfg);
    // 60 channels on 1 Mar, channel k with k sessions.
    let mut csv = String::from("day,channel,sessions,product_views,add_to_carts,checkouts\n");
    for k in 1..=60 {
        csv.push_str(&format!("2024-03-01,ch{k:02},{k},0,0,0\n"));
    }
    let traffic = dir.path().join("traffic.csv");
    std::fs::write(&traffic, csv).unwrap();
    let (s, _, err) = dawnpost(
        &[
            "--config",
            cfg,
            "import",
            "traffic",
            traffic.to_str().unwrap(),
        ],
        &[],
    );
    assert!(s.success(), "{err}");
    let channels = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "--config",
            cfg,
            "metrics",
            "--date",
            "2024-03-01",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (s, out, err) = dawnpost(&args, &[]);
        assert!(s.success(), "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let m = v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == "sessions_by_channel")
            .unwrap()
            .clone();
        m["breakdown"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["value"].as_str().unwrap().to_string())
            .collect()
    };
    let top = channels(&[]);
    assert_eq!(top.len(), 50);
    // The largest first: ch60 down to ch11; the ten smallest are cut.
    assert_eq!(top[0], "ch60");
    assert_eq!(top[49], "ch11");
    assert_eq!(channels(&["--all"]).len(), 60);
}

/// A store this user cannot write is named at once with the reason, not after ten seconds
/// as "pool timed out"; a PostgreSQL port with nothing behind it likewise; and `recipients`
/// and `schedule`, which only read the config, need no store at all.
#[test]
fn a_store_that_cannot_be_opened_says_why_at_once() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let c = config.to_str().unwrap();
    crate::support::import_small_cli(c);
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(&dir.path().join("small.sqlite"), 0o444);
    mode(dir.path(), 0o555);
    // Root writes whatever the mode says: run as nobody then.
    let as_user = |args: &[&str]| {
        let mut cmd = if crate::support::is_root() {
            let mut r = std::process::Command::new("runuser");
            r.args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_dawnpost")]);
            r
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_dawnpost"))
        };
        let started = Instant::now();
        let out = cmd.args(args).env("DAWNPOST_LOG", "warn").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), err, started.elapsed())
    };
    let (ok, err, took) = as_user(&["--config", c, "status"]);
    mode(dir.path(), 0o755);
    assert!(!ok);
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(err.contains("not writable by this user"), "{err}");
    assert!(!err.contains("pool timed out"), "{err}");
    assert_eq!(
        err.matches("attempt to write a readonly database").count(),
        1,
        "{err}"
    );

    let refused = dir.path().join("refused.toml");
    let port = crate::smtp::free_port();
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace(
            "sqlite://small.sqlite",
            &format!("postgres://postgres@127.0.0.1:{port}/nowhere"),
        );
    std::fs::write(&refused, text).unwrap();
    let r = refused.to_str().unwrap();
    let (status, _, err) = dawnpost(&["--config", r, "status"], &[]);
    assert!(!status.success());
    assert!(err.contains("nothing is listening there"), "{err}");
    for args in [
        ["recipients", "--report", "morning"],
        ["schedule", "--report", "morning"],
    ] {
        let (status, out, err) = dawnpost(&[&["--config", r][..], &args[..]].concat(), &[]);
        assert!(status.success(), "{args:?}: {err}");
        assert!(!out.is_empty());
    }
}

/// A store whose schema has a migration this build does not know was made by a newer
/// dawnpost, and the error says so rather than "previously applied but missing".
#[test]
fn a_store_from_a_newer_dawnpost_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let c = config.to_str().unwrap();
    let (status, _, err) = dawnpost(&["--config", c, "status"], &[]);
    assert!(status.success(), "{err}");
    let db = format!("sqlite://{}", dir.path().join("small.sqlite").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    });
    let (status, _, err) = dawnpost(&["--config", c, "status"], &[]);
    assert!(!status.success());
    assert!(
        err.contains("made by a newer dawnpost") && err.contains("9999"),
        "{err}"
    );
}

/// Output into a pipe whose reader has gone (`dawnpost preview | head -1`): the command ends
/// quietly, exit 0, files written, instead of panicking with a backtrace.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    let c = config.to_str().unwrap();
    crate::support::import_small_cli(c);
    let out = dir.path().join("preview");
    let o = out.to_str().unwrap();
    let runs: [&[&str]; 4] = [
        &["--config", c, "preview", "--date", "2024-03-01", "--out", o],
        &["--config", c, "metrics", "--date", "2024-03-01"],
        &[
            "--config",
            c,
            "metrics",
            "--date",
            "2024-03-01",
            "--format",
            "json",
        ],
        &["--config", c, "recipients"],
    ];
    for args in runs {
        // The reader is gone before the first byte is written.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_dawnpost"))
            .args(args)
            .env("DAWNPOST_LOG", "warn")
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{args:?}: {}\n{err}", run.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quietly, yet: {err}");
    }
    assert!(out.join("index.html").exists(), "preview wrote its files");
    // Any other failure to write is an error that says so.
    let full = std::fs::File::create("/dev/full");
    if let Ok(full) = full {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_dawnpost"))
            .args(["--config", c, "recipients"])
            .env("DAWNPOST_LOG", "warn")
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot write to standard output"), "{err}");
    }
}

/// A command about one shop opens that shop's store and no other: with a second shop whose
/// store cannot be opened at all, the first shop's send, check and preview work, and only a
/// command that reaches the second shop says why it cannot.
#[test]
fn a_command_about_one_shop_opens_only_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let a = dir.path().join("a.toml");
    std::fs::write(&a, small.replace("small.sqlite", "a.sqlite")).unwrap();
    // A store under a regular file: its folder can never be made, so opening it fails.
    std::fs::write(dir.path().join("not-a-folder"), "").unwrap();
    let b = dir.path().join("b.toml");
    let b_text = small
        .replace("sqlite://small.sqlite", "sqlite://not-a-folder/b.sqlite")
        .replace("name = \"morning\"", "name = \"brand-b\"");
    std::fs::write(&b, b_text).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    crate::support::import_small_cli(a);
    let both = ["--config", a, "--config", b];
    let with = |args: &[&str]| dawnpost(&[&both[..], args].concat(), &[]);

    let (status, out, err) = with(&["send", "--report", "morning", "--date", "2024-03-01"]);
    assert!(status.success(), "{out}\n{err}");
    assert!(out.contains("4 sent"), "{out}");
    let (status, out, err) = with(&["send", "--report", "brand-b", "--date", "2024-03-01"]);
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("not-a-folder") && err.contains("cannot create directory"),
        "{err}"
    );
    // `status` spans every shop: it reports the first, then stops at the second.
    let (status, out, err) = with(&["status"]);
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("report morning (4 recipients"), "{out}");
    assert!(!dir.path().join("not-a-folder").is_dir());
}
