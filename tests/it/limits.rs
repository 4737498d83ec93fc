//! Limits: a deadline on every metric query, bounds on what an import accepts, non-finite
//! values that cannot stop the digest, text from the data that cannot grow the email, and
//! report dates that cannot mail an empty digest to everyone.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dawnpost::email::render::Templates;
use dawnpost::metrics::compare::DayRow;

use crate::support::{
    Backend, TestStore, both_backends, composed, dawnpost, fixture, import_small_cli, now,
};

both_backends!(a_runaway_metric_is_cut_at_its_deadline_and_the_digest_goes_on);

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The small shop plus one custom metric whose SQL never ends, with a half-second deadline.
fn runaway_config(b: Backend) -> String {
    let sql = match b {
        // A recursive CTE without end: the probe's SQLite case.
        Backend::Sqlite => {
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
             SELECT $1 AS day, COUNT(*) AS num FROM r WHERE $1 <= $2"
        }
        Backend::Postgres => {
            "SELECT CAST($1 AS TEXT) AS day, 1 AS num FROM (SELECT pg_sleep(600)) s \
             WHERE CAST($1 AS TEXT) <= CAST($2 AS TEXT)"
        }
    };
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    text.replace(
        "url = \"sqlite://small.sqlite\"",
        "url = \"sqlite://small.sqlite\"\nquery_timeout_secs = 0.5",
    ) + &format!(
        "\n[[metrics]]\nkey = \"runaway\"\nlabel = \"Runaway metric\"\nteam = \"shared\"\n\
         unit = \"count\"\ndirection = \"neutral\"\naggregate = \"sum\"\nsql = \"{sql}\"\n"
    )
}

async fn a_runaway_metric_is_cut_at_its_deadline_and_the_digest_goes_on(b: Backend) {
    let Some(t) = TestStore::new(b, &runaway_config(b)).await else {
        return;
    };
    let t = t.with_small_data().await;
    let started = Instant::now();
    let report = dawnpost::store::report::build(&t.store, &t.config, day("2024-03-01"))
        .await
        .unwrap();
    // Each range and metric waits at most the deadline; nothing waits the query's 600 s.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let runaway = report.get("runaway").unwrap();
    let why = runaway.unavailable.as_deref().unwrap();
    assert!(
        why.contains("deadline") && why.contains("test config:"),
        "{why}"
    );
    // The other metrics answered: 4 orders on 1 Mar, counted here with independent SQL.
    let orders = t
        .scalar("SELECT COUNT(*) FROM orders WHERE day = '2024-03-01' AND status <> 'cancelled'")
        .await
        .unwrap();
    assert_eq!(
        report.get("orders").unwrap().comparisons[0].current.get(),
        Some(orders)
    );
    let c = composed(&t).await;
    assert!(c.digest.unavailable_note.contains("Runaway metric"));
    assert!(
        c.rendered
            .text
            .contains("Not available today: Runaway metric")
    );
    if b == Backend::Postgres {
        // The server stopped the statement too: nothing of it is still running.
        let running = t
            .scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
        assert_eq!(running, 0.0);
    }
}

both_backends!(a_metric_past_the_row_cap_is_unavailable_and_says_why);

/// A breakdown metric whose SQL ignores its range: `values` breakdown values on each of
/// `days` days from 1 Jan 1900, plus `extra` more rows on 1 Jan 2200, whatever range it is
/// asked for. Rows: values x days + extra.
fn flood_sql(b: Backend, values: u32, days: u32, extra: u32) -> String {
    match b {
        Backend::Sqlite => format!(
            "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < {last}), \
             v(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM v WHERE k < {values}), \
             x(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM x WHERE k < {extra}) \
             SELECT date('1900-01-01', '+' || d.n || ' days') AS day, 'v' || v.k AS dim, 1 AS num \
             FROM d, v WHERE $1 <= $2 \
             UNION ALL SELECT '2200-01-01' AS day, 'x' || x.k AS dim, 1 AS num FROM x \
             WHERE {extra} > 0",
            last = days - 1
        ),
        Backend::Postgres => format!(
            "SELECT CAST(DATE '1900-01-01' + d.n AS TEXT) AS day, 'v' || v.k AS dim, 1 AS num \
             FROM generate_series(0, {last}) d(n), generate_series(1, {values}) v(k) \
             WHERE CAST($1 AS TEXT) <= CAST($2 AS TEXT) \
             UNION ALL SELECT '2200-01-01' AS day, 'x' || x.k AS dim, 1 AS num \
             FROM generate_series(1, {extra}) x(k)",
            last = days - 1
        ),
    }
}

/// A config whose metric queries may take ten minutes: a million generated rows must meet
/// the row cap, not the deadline, however busy the machine running the tests.
fn patient(config: &str) -> String {
    config.replace(
        "url = \"sqlite://small.sqlite\"",
        "url = \"sqlite://small.sqlite\"\nquery_timeout_secs = 600",
    )
}

fn flood_metric(key: &str, sql: &str) -> String {
    format!(
        "\n[[metrics]]\nkey = \"{key}\"\nlabel = \"Row flood\"\nteam = \"shared\"\n\
         unit = \"count\"\ndirection = \"neutral\"\naggregate = \"sum\"\nbreakdown = \"n\"\n\
         sql = \"{sql}\"\n"
    )
}

/// 10 values on each of 100,001 days: 1,000,010 rows, past the cap of a million. The
/// metric is unavailable, and says why in the report (`metrics`) and the email; the others
/// answer.
async fn a_metric_past_the_row_cap_is_unavailable_and_says_why(b: Backend) {
    let text = patient(&std::fs::read_to_string(fixture("small/config.toml")).unwrap())
        + &flood_metric("flood", &flood_sql(b, 10, 100_001, 0));
    let Some(t) = TestStore::new(b, &text).await else {
        return;
    };
    let t = t.with_small_data().await;
    // Read once (a million rows take seconds in a debug build): the report `metrics`
    // prints, and the digest, from the same rows.
    let d = day("2024-03-01");
    let inputs = dawnpost::store::gather::gather(&t.store, &t.config, d)
        .await
        .unwrap();
    let report = t.config.assemble_report(d, &inputs.fetched);
    let why = report.get("flood").unwrap().unavailable.as_deref().unwrap();
    assert!(
        why.contains("test config:") && why.contains("returned more than 1000000 rows"),
        "{why}"
    );
    let orders = t
        .scalar("SELECT COUNT(*) FROM orders WHERE day = '2024-03-01' AND status <> 'cancelled'")
        .await
        .unwrap();
    assert_eq!(
        report.get("orders").unwrap().comparisons[0].current.get(),
        Some(orders)
    );
    let (digest, _) = dawnpost::digest::build(&t.config, d, now(&t), &inputs);
    assert_eq!(
        digest.unavailable_note,
        "Not available today: Row flood (its query returned more than 1000000 rows; the log \
         says why)."
    );
}

/// At the cap, every row is read: 10 values x 100,000 days, each day's value 1. One row
/// more and the metric is refused, naming the cap and the line that defines it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_of_exactly_the_cap_is_read_and_one_row_more_is_not() {
    assert_eq!(dawnpost::store::MAX_METRIC_ROWS, 1_000_000);
    let text = patient(&std::fs::read_to_string(fixture("small/config.toml")).unwrap())
        + &flood_metric("at_cap", &flood_sql(Backend::Sqlite, 10, 100_000, 0))
        + &flood_metric("past_cap", &flood_sql(Backend::Sqlite, 10, 100_000, 1));
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[metrics]]")
        .map(|(i, _)| i + 1)
        .last()
        .unwrap();
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    let one = [(day("2024-03-01"), day("2024-03-01"))];
    let mut series = Default::default();
    let at_cap = t.config.catalog.get("at_cap").unwrap();
    t.store
        .metric_series(at_cap, &one, &mut series)
        .await
        .unwrap();
    assert_eq!(series.len(), 10);
    let v7 = &series[&Some("v7".to_string())];
    assert_eq!(v7.days.len(), 100_000);
    // Day 99,999 after 1 Jan 1900: 1900-2172 are 273 years, 67 of them leap (1904 to 2172
    // but 2100), 99,712 days; 287 more is the 288th day of 2173, 15 October.
    let last = *v7.days.keys().last().unwrap();
    assert_eq!(last, day("2173-10-15"));
    assert_eq!(v7.days[&last].num, 1.0);
    let past = t.config.catalog.get("past_cap").unwrap();
    let err = t
        .store
        .metric_series(past, &one, &mut Default::default())
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.starts_with(&format!(
            "metric `past_cap` (test config:{line}) on sqlite://"
        )),
        "{err}"
    );
    assert!(err.contains("returned more than 1000000 rows"), "{err}");
}

/// `check` names the metric and the line that defines it, with the database's words once.
#[test]
fn check_names_a_failing_metric_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap()
        + "\n[[metrics]]\nkey = \"broken\"\nlabel = \"Broken\"\nteam = \"shared\"\n\
           unit = \"count\"\ndirection = \"neutral\"\naggregate = \"sum\"\n\
           sql = \"SELECT day, 1 AS num FROM no_such_table WHERE day BETWEEN $1 AND $2\"\n";
    // The 1-based line of the last [[metrics]] table: the broken one.
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.iter().rposition(|l| *l == "[[metrics]]").unwrap() + 1;
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, &text).unwrap();
    let (s, out, err) = dawnpost(&["--config", config.to_str().unwrap(), "check"], &[]);
    assert_eq!(s.code(), Some(1), "{out}{err}");
    let want = format!("metric `broken` ({}:{last})", config.display());
    assert!(err.contains(&want), "{err}");
    assert_eq!(err.matches("no such table").count(), 1, "{err}");
}

/// SIGTERM while a digest waits on a query that would run for a minute: `serve` stops within
/// seconds, exit 0, having sent nothing.
#[test]
fn sigterm_stops_serve_while_a_query_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = runaway_config(Backend::Sqlite)
        .replace("query_timeout_secs = 0.5", "query_timeout_secs = 120")
        .replace(
            "owner = \"kit@small.example\"",
            "owner = \"kit@small.example\"\nschedule = \"* * * * *\"\nwait_for = []",
        );
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, text).unwrap();
    import_small_cli(config.to_str().unwrap());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dawnpost"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("DAWNPOST_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("--log-format")
        .arg("json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to be inside the metric queries (the rest of a digest takes milliseconds).
    std::thread::sleep(Duration::from_secs(3));
    let killed = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("serve did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!dir.path().join("outbox").exists(), "nothing was sent");
    // The signal came during the run: its one log line shows it began before the signal
    // (it lasted about as long as the wait) and sent nobody.
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    let run: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "run")
        .unwrap_or_else(|| panic!("no run line: {log}"));
    assert_eq!(run["sent"], 0);
    assert!(run["duration_ms"].as_u64().unwrap() >= 2_000, "{run}");
}

const TRAFFIC: &str = "day,channel,sessions,product_views,add_to_carts,checkouts\n";

/// What an import refuses, each with file:line, the store left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_refuse_what_no_shop_means() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let tz = t.config.shop.timezone;
    let cases: [(&str, &String, &str); 5] = [
        (
            "order_lines",
            &"order_id,sku,quantity,unit_price\nO01,A,2,1e308\n".to_string(),
            "beyond the largest number",
        ),
        (
            "inventory",
            &"day,sku,on_hand,on_order\n2024-03-02,A,-3,0\n".to_string(),
            "below the minimum 0",
        ),
        (
            "traffic",
            &format!("{TRAFFIC}2026-2-3,email,1,1,1,1\n"),
            "is not a date",
        ),
        (
            "traffic",
            &format!("{TRAFFIC}+12026-02-03,email,1,1,1,1\n"),
            "is not a date",
        ),
        (
            "traffic",
            &format!("{TRAFFIC}0000-01-01,email,1,1,1,1\n"),
            "outside 1900-2200",
        ),
    ];
    let before = t.fingerprint().await;
    for (table, csv, why) in cases {
        let p = t.dir.path().join("bad.csv");
        std::fs::write(&p, csv).unwrap();
        let e = format!(
            "{:#}",
            dawnpost::ingest::import_csv(&t.store, table, &p, tz)
                .await
                .unwrap_err()
        );
        assert!(e.contains("bad.csv:2:") && e.contains(why), "{table}: {e}");
    }
    assert_eq!(t.fingerprint().await, before);
}

/// A file with no line ends, or a quote never closed, is refused at the record bound with
/// its line, before memory grows with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_past_the_bound_is_refused_with_its_line() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let tz = t.config.shop.timezone;
    let p = t.dir.path().join("open-quote.csv");
    let mut text = String::from(
        "sku,name,category,unit_price,unit_cost,lead_time_days\nZ,ok,Home,1,1,1\nY,\"",
    );
    text.push_str(&"x".repeat(3 << 20));
    std::fs::write(&p, text).unwrap();
    let e = format!(
        "{:#}",
        dawnpost::ingest::import_csv(&t.store, "products", &p, tz)
            .await
            .unwrap_err()
    );
    assert!(
        e.contains("open-quote.csv:3: a record is longer than 1 MiB"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        dawnpost::ingest::import_csv(&t.store, "products", std::path::Path::new("/dev/zero"), tz)
            .await
            .unwrap_err()
    );
    assert!(
        e.contains("/dev/zero:1: a record is longer than 1 MiB"),
        "{e}"
    );
}

/// Infinity and NaN planted in the series the digest reads: it still finishes, and prints
/// neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_values_cannot_stop_the_digest() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let d = day("2024-03-01");
    let mut inputs = dawnpost::store::gather::gather(&t.store, &t.config, d)
        .await
        .unwrap();
    for (i, series) in inputs.fetched.series.values_mut().enumerate() {
        for s in series.values_mut() {
            let v = [f64::INFINITY, f64::NAN, f64::NEG_INFINITY][i % 3];
            s.insert(d, DayRow { num: v, den: 1.0 });
            s.insert(d - chrono::Days::new(1), DayRow { num: 1.0, den: v });
        }
    }
    let (digest, specs) = dawnpost::digest::build(&t.config, d, now(&t), &inputs);
    let images = dawnpost::digest::draw_charts(&specs).unwrap();
    let rendered = Templates::load(None)
        .unwrap()
        .render_digest(&digest, images)
        .unwrap();
    for bad in ["inf", "NaN"] {
        let line = rendered.text.lines().find(|l| l.contains(bad));
        assert!(line.is_none(), "{bad} in the text: {line:?}");
    }
}

/// A 2 MB comment and a 1 MB product name: the HTML stays under 60 KB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_the_data_cannot_grow_the_email() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let name = "N".repeat(1 << 20);
    let comment = "c".repeat(2 << 20);
    // Past the import's record bound, so written through SQL, as another tool could.
    sqlx::query("UPDATE products SET name = $1 WHERE sku = 'B'")
        .bind(&name)
        .execute(t.store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE feedback SET text = $1")
        .bind(&comment)
        .execute(t.store.pool())
        .await
        .unwrap();
    let c = composed(&t).await;
    assert!(
        c.rendered.html.len() < 60_000,
        "{} bytes",
        c.rendered.html.len()
    );
    assert!(c.rendered.text.contains(&format!("{}…", "c".repeat(279))));
}

/// A date not yet over, or one with no orders and no traffic, is refused unless --force.
#[test]
fn send_refuses_dates_that_would_mail_an_empty_digest() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    import_small_cli(config.to_str().unwrap());
    let cfg = config.to_str().unwrap();
    let (s, _, err) = dawnpost(&["--config", cfg, "send", "--date", "2099-01-01"], &[]);
    assert_eq!(s.code(), Some(1));
    assert!(err.contains("is not over yet"), "{err}");
    let (s, _, err) = dawnpost(&["--config", cfg, "send", "--date", "2024-01-15"], &[]);
    assert_eq!(s.code(), Some(1));
    assert!(
        err.contains("no orders and no traffic for 2024-01-15"),
        "{err}"
    );
    assert!(!dir.path().join("outbox").exists());
    // Refused where the flag is read, as a usage error (exit 2), before any store opens.
    let (s, _, err) = dawnpost(&["--config", cfg, "send", "--date", "+10000-01-01"], &[]);
    assert_eq!(s.code(), Some(2), "{err}");
    assert!(
        err.contains("'--date <DATE>': \"+10000-01-01\" is not a date (YYYY-MM-DD)"),
        "{err}"
    );
    let (s, out, err) = dawnpost(
        &["--config", cfg, "send", "--date", "2024-01-15", "--force"],
        &[],
    );
    assert!(s.success(), "{out}{err}");
}

/// `DAWNPOST_LOG=debug` is dawnpost's debug; the dependencies stay quiet.
#[test]
fn debug_logs_are_dawnposts_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shop.toml");
    std::fs::copy(fixture("small/config.toml"), &config).unwrap();
    import_small_cli(config.to_str().unwrap());
    let out = dir.path().join("preview");
    let (s, _, err) = dawnpost(
        &[
            "--config",
            config.to_str().unwrap(),
            "preview",
            "--date",
            "2024-03-01",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("DAWNPOST_LOG", "debug")],
    );
    assert!(s.success(), "{err}");
    assert!(
        err.contains("dawnpost"),
        "dawnpost's own debug lines are there: {err}"
    );
    assert!(
        !err.contains("selectors") && !err.contains("sqlx::"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(err.len() < 100_000, "{} bytes of logs", err.len());
}

/// Every command on PostgreSQL used to log sqlx's notice `relation "_sqlx_migrations"
/// already exists, skipping` at INFO; dependencies now stay at warn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commands_do_not_log_migration_notices() {
    let Some(url) = crate::support::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace("sqlite://small.sqlite", &url);
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, text).unwrap();
    for _ in 0..2 {
        let (s, _, err) = dawnpost(
            &["--config", config.to_str().unwrap(), "recipients"],
            &[("DAWNPOST_LOG", "info")],
        );
        assert!(s.success(), "{err}");
        assert!(!err.contains("already exists"), "{err}");
    }
}

/// A day written as a timestamp counts for its local day in the shop's zone (New York): 03:30
/// UTC on 2 Mar is still 1 Mar there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_written_as_timestamps_are_local_days() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let p = t.dir.path().join("returns.csv");
    std::fs::write(
        &p,
        "order_id,sku,day,quantity,reason\nO01,A,2024-03-02T03:30:00Z,1,late\nO02,B,2024-03-02 09:00,1,size\n",
    )
    .unwrap();
    dawnpost::ingest::import_csv(&t.store, "returns", &p, t.config.shop.timezone)
        .await
        .unwrap();
    let day = |o: &'static str| {
        let t = &t;
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT day FROM returns WHERE order_id = '{o}'"
            )))
            .fetch_one(t.store.pool())
            .await
            .unwrap()
        }
    };
    assert_eq!(day("O01").await, "2024-03-01");
    assert_eq!(day("O02").await, "2024-03-02");
}

/// The small shop's digest rendered with `files` over the built-in templates, in a debug
/// build, on a thread with half the 2 MiB stack of a tokio worker: a template that nests
/// without end must be stopped with room to spare.
fn render_with(
    digest: &dawnpost::digest::Digest,
    files: &[(&str, &str)],
) -> (
    Result<dawnpost::email::render::Rendered, String>,
    Duration,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let shown = dir.path().join(files[0].0).display().to_string();
    let digest = digest.clone();
    let path = dir.path().to_path_buf();
    let started = Instant::now();
    let result = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            Templates::load(Some(&path))
                .and_then(|t| t.render_digest(&digest, Vec::new()))
                .map_err(|e| format!("{e:#}"))
        })
        .unwrap()
        .join()
        .expect("the render thread did not crash");
    (result, started.elapsed(), shown)
}

/// Templates a shop could write that never end, nest without end or print without end: each
/// is stopped within seconds with an error that names its file, and nothing crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_runs_without_bound_is_stopped_and_named() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let digest = composed(&t).await.digest;
    let cases = [
        (
            "digest.txt.j2",
            "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}",
            "stopped after 500000 fuel",
        ),
        ("digest.txt.j2", "{{ no_such_variable }}", "undefined value"),
        (
            "digest.txt.j2",
            "x{% include \"digest.txt.j2\" %}",
            "recursion limit exceeded",
        ),
        (
            "digest.html.j2",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            "recursion limit exceeded",
        ),
        // Ten million spaces asked of a layout filter: a line is 76.
        (
            "digest.txt.j2",
            "{{ shop | ljust(10000000) }}",
            "ljust: 10000000 is wider than a line (76)",
        ),
        // 20,000 x 100 bytes is 2 MB: writing stops at 1 MiB (the fuel would allow 2 MB).
        (
            "digest.txt.j2",
            "{% for i in range(20000) %}{{ \"x\" * 100 }}{% endfor %}",
            "writes more than 1024 KiB",
        ),
    ];
    for (name, text, why) in cases {
        let (result, took, path) = render_with(&digest, &[(name, text)]);
        let err = result.expect_err(text);
        assert!(
            err.starts_with(&format!("template {path}: ")) && err.contains(why),
            "{text}: {err}"
        );
        assert!(took < Duration::from_secs(10), "{text}: {took:?}");
    }
}

/// An HTML part past Gmail's clip (102,000 bytes) is refused and names the template, before
/// inlining when the page alone is past it, after when the inlined styles take it past.
/// The built-in templates on a shop of 150 custom metrics: past Gmail's clip, the email
/// still goes out (clipped, with a warning), since the shop cannot shorten our template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_email_past_the_clip_still_goes_out() {
    let mut text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    for i in 0..1000 {
        text.push_str(&format!(
            "\n[[metrics]]\nkey = \"extra_{i}\"\nlabel = \"Extra metric number {i}\"\n\
             team = \"marketing\"\nunit = \"count\"\ndirection = \"higher_is_better\"\n\
             aggregate = \"sum\"\nsql = \"SELECT day, {i} AS num FROM orders WHERE day \
             BETWEEN $1 AND $2\"\n"
        ));
    }
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    let t = t.with_small_data().await;
    let html = composed(&t).await.rendered.html;
    assert!(
        html.len() > dawnpost::email::render::GMAIL_CLIP_BYTES,
        "{} bytes: not past the clip, so this proves nothing",
        html.len()
    );
    assert!(html.contains("Extra metric number 149"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_past_gmails_clip_is_refused_and_names_the_template() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let digest = composed(&t).await.digest;
    // 1,100 paragraphs of 3 + 100 + 4 bytes, one line: 117,700 bytes (+1 for the line end).
    let page = "{% for i in range(1100) %}<p>{{ \"x\" * 100 }}</p>{% endfor %}";
    let (result, _, path) = render_with(&digest, &[("digest.html.j2", page)]);
    assert_eq!(
        result.unwrap_err(),
        format!(
            "template {path}: the HTML is 117701 bytes before its styles are inlined, over the \
             102000 at which Gmail clips a message and hides its end"
        )
    );
    // 1,000 paragraphs of 18 bytes, each line its own: 19,000 bytes, under the clip. Each
    // gets the 6 declarations of `.a` (`color: red;` and five margins and paddings), about
    // 120 bytes a paragraph: over the clip once inlined.
    let styled = "<style>.a { color: red; margin-top: 1px; margin-bottom: 1px; padding-top: 1px; \
                  padding-bottom: 1px; padding-left: 1px; }</style>\n\
                  {% for i in range(1000) %}<p class=\"a\">x</p>\n{% endfor %}";
    let (result, _, path) = render_with(&digest, &[("digest.html.j2", styled)]);
    let err = result.unwrap_err();
    assert!(
        err.starts_with(&format!("template {path}: the HTML is ")),
        "{err}"
    );
    assert!(
        err.ends_with("bytes, over the 102000 at which Gmail clips a message and hides its end"),
        "{err}"
    );
    // 400 of them fit: the same template is fine under the clip.
    let fewer = styled.replace("range(1000)", "range(400)");
    let (result, _, _) = render_with(&digest, &[("digest.html.j2", &fewer)]);
    let html = result.unwrap().html;
    assert_eq!(
        html.matches("<p class=\"a\" style=").count(),
        400,
        "{}",
        &html[..300]
    );
    // A stylesheet of 1,000 declarations is inlined; of 1,001, refused before inlining.
    let sheet = |n: usize| {
        let rules: String = (0..n)
            .map(|i| format!(".c{i} {{ color: red; }}\n"))
            .collect();
        format!("<style>{rules}</style><p class=\"c7\">x</p>")
    };
    let (result, _, _) = render_with(&digest, &[("digest.html.j2", &sheet(1000))]);
    assert!(
        result
            .unwrap()
            .html
            .contains("<p class=\"c7\" style=\"color: red;\">x</p>")
    );
    let (result, _, path) = render_with(&digest, &[("digest.html.j2", &sheet(1001))]);
    let err = result.unwrap_err();
    assert!(
        err.starts_with(&format!("template {path}: 1001 style declarations")),
        "{err}"
    );
}

/// A subject of 300 characters is sent; of 301, refused with the template's name. A
/// template file over 1 MiB is refused when the templates load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_past_300_characters_and_a_template_past_1_mib_are_refused() {
    let t = TestStore::small(Backend::Sqlite).await.unwrap();
    let digest = composed(&t).await.digest;
    let (result, _, _) = render_with(&digest, &[("subject.txt.j2", "{{ \"s\" * 300 }}")]);
    assert_eq!(result.unwrap().subject, "s".repeat(300));
    let (result, _, path) = render_with(&digest, &[("subject.txt.j2", "{{ \"s\" * 301 }}")]);
    assert_eq!(
        result.unwrap_err(),
        format!("template {path}: the subject is 301 characters long; at most 300 are allowed")
    );
    let big = format!("{{# {} #}}", "x".repeat(1 << 20));
    let (result, _, path) = render_with(&digest, &[("digest.txt.j2", &big)]);
    assert_eq!(
        result.unwrap_err(),
        format!("template {path}: larger than 1024 KiB, which no email template needs")
    );
}
