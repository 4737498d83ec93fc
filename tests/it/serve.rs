//! `serve` with an injected clock: days of schedule run in milliseconds, against a real store
//! and the file outbox, with what went out read back from the outbox and the ledger.

use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dawnpost::serve::{Clock, RunEvent, ServeOptions, Shutdown, serve};
use dawnpost::shops::{Shop, Shops};

use crate::support::{Backend, TestStore, fixture};

/// A clock that jumps to whatever time `serve` sleeps until, and remembers each wake.
pub(crate) struct FakeClock {
    now: Mutex<DateTime<Utc>>,
    wakes: Mutex<Vec<DateTime<Utc>>>,
}

impl FakeClock {
    pub(crate) fn at(t: DateTime<Utc>) -> FakeClock {
        FakeClock {
            now: Mutex::new(t),
            wakes: Mutex::new(Vec::new()),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap();
        if t > *now {
            *now = t;
        }
        self.wakes.lock().unwrap().push(*now);
    }
}

/// New York local time.
fn ny(s: &str) -> DateTime<Utc> {
    let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    chrono_tz::America::New_York
        .from_local_datetime(&n)
        .unwrap()
        .with_timezone(&Utc)
}

/// The morning report delivered for `date` to `sent` people, failing none.
fn delivered(date: &str, sent: usize, incomplete: &[&str]) -> RunEvent {
    RunEvent::Delivered {
        report: "morning".into(),
        date: d(date),
        sent,
        failed: 0,
        incomplete: incomplete.iter().map(|s| s.to_string()).collect(),
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The small shop (06:00 New York, 4 recipients) with `report_extra` added to its report.
async fn small(report_extra: &str) -> TestStore {
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace(
            "owner = \"kit@small.example\"",
            &format!("owner = \"kit@small.example\"\n{report_extra}"),
        );
    TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await
}

fn shops(t: &TestStore) -> Shops {
    Shops::new(vec![Shop::new(t.config.clone())]).unwrap()
}

async fn run(t: &TestStore, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<RunEvent> {
    run_clocked(t, from, until).await.0
}

/// Also returns every time `serve` woke.
async fn run_clocked(
    t: &TestStore,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (Vec<RunEvent>, Vec<DateTime<Utc>>) {
    let clock = FakeClock::at(from);
    let events = serve(
        &shops(t),
        &clock,
        &std::sync::Arc::new(Shutdown::default()),
        &ServeOptions { until: Some(until) },
    )
    .await
    .unwrap();
    (events, clock.wakes.into_inner().unwrap())
}

/// Messages in the outbox, as (report date in the file name, recipient).
fn outbox(t: &TestStore) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(t.dir.path().join("outbox"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn sent(t: &TestStore, date: &str) -> f64 {
    t.scalar(&format!(
        "SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND report_date = '{date}'"
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_grace_period_a_missed_digest_goes_out_and_a_restart_does_not_resend() {
    let t = small("wait_for = [\"orders\"]").await;
    // Started at 08:00, two hours after the 06:00 fire: Friday 1 March's digest is caught up.
    let events = run(&t, ny("2024-03-02 08:00"), ny("2024-03-02 09:00")).await;
    assert_eq!(events, [delivered("2024-03-01", 4, &[])]);
    assert_eq!(sent(&t, "2024-03-01").await, 4.0);
    assert_eq!(outbox(&t).len(), 4);
    // A restart an hour later finds the ledger complete and sends nothing.
    let events = run(&t, ny("2024-03-02 09:00"), ny("2024-03-02 10:00")).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(outbox(&t).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_grace_period_the_digest_is_skipped() {
    let t = small("wait_for = [\"orders\"]\ngrace_hours = 6").await;
    let events = run(&t, ny("2024-03-02 12:01"), ny("2024-03-02 12:30")).await;
    assert_eq!(
        events,
        [RunEvent::Skipped {
            report: "morning".into(),
            date: d("2024-03-01"),
        }]
    );
    assert_eq!(sent(&t, "2024-03-01").await, 0.0);
    assert!(outbox(&t).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_waits_for_the_data_then_sends_with_a_banner_at_the_deadline() {
    // Orders end on 1 March: the digest for 2 March (06:00 on the 3rd) has none.
    let t = small("wait_for = [\"orders\"]\nrecheck_minutes = 15\nwait_minutes = 120").await;
    let events = run(&t, ny("2024-03-03 05:50"), ny("2024-03-03 09:00")).await;
    let waiting = events
        .iter()
        .filter(|e| matches!(e, RunEvent::Waiting { missing, .. } if missing == &["orders"]))
        .count();
    // 06:00, 06:15, ... 07:45: eight checks, then the deadline at 08:00.
    assert_eq!(waiting, 8, "{events:?}");
    assert_eq!(
        events.last().unwrap(),
        &delivered("2024-03-02", 4, &["orders"])
    );
    // The banner is in both parts of what went out.
    let eml = std::fs::read(t.dir.path().join("outbox").join(&outbox(&t)[0])).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    assert!(
        text.contains("Incomplete data for 2 Mar") && text.contains("orders"),
        "{text}"
    );
    assert!(html.contains("Incomplete data"), "the HTML has no banner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_arrives_while_waiting_ends_the_wait_without_a_banner() {
    let t = small("wait_for = [\"orders\"]\nrecheck_minutes = 15\nwait_minutes = 120").await;
    let events = run(&t, ny("2024-03-03 05:50"), ny("2024-03-03 06:20")).await;
    assert!(
        matches!(events.last(), Some(RunEvent::Waiting { .. })),
        "{events:?}"
    );
    // The night's export lands.
    sqlx::query("INSERT INTO orders (order_id, placed_at, day, channel, customer_id, customer_type, discount, status) VALUES ('LATE1', $1, '2024-03-02', 'organic', 'c9', 'new', 0, 'placed')")
        .bind(ny("2024-03-02 12:00").timestamp())
        .execute(t.store.pool())
        .await
        .unwrap();
    // A restart at 06:20 finds the data and sends at once.
    let events = run(&t, ny("2024-03-03 06:20"), ny("2024-03-03 07:00")).await;
    assert_eq!(events, [delivered("2024-03-02", 4, &[])]);
    let at: f64 = t
        .scalar("SELECT MIN(sent_at) FROM deliveries WHERE report_date = '2024-03-02'")
        .await
        .unwrap();
    assert_eq!(at as i64, ny("2024-03-03 06:20").timestamp());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_serve_sends_one_digest_a_day_and_never_sleeps_past_a_minute() {
    let t = small("wait_for = []").await;
    let (events, wakes) = run_clocked(&t, ny("2024-03-02 00:00"), ny("2024-03-09 00:00")).await;
    // Started at midnight, 18 hours after Thursday's 06:00: past the grace, skipped.
    assert_eq!(
        events[0],
        RunEvent::Skipped {
            report: "morning".into(),
            date: d("2024-02-29"),
        }
    );
    let dates: Vec<NaiveDate> = events[1..]
        .iter()
        .map(|e| match e {
            RunEvent::Delivered { date, sent: 4, .. } => *date,
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<NaiveDate> = (0..7)
        .map(|i| d("2024-03-01") + Duration::days(i))
        .collect();
    assert_eq!(dates, expected);
    assert_eq!(outbox(&t).len(), 7 * 4);
    for day in &expected {
        assert_eq!(sent(&t, &day.to_string()).await, 4.0, "{day}");
    }
    // Each digest left at 06:00 New York time (the ledger's sent_at is the run's clock).
    let times: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT sent_at FROM deliveries ORDER BY sent_at")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
    let wanted: Vec<i64> = (2..9)
        .map(|day| ny(&format!("2024-03-{day:02} 06:00")).timestamp())
        .collect();
    assert_eq!(times, wanted);
    // Awake at least once a minute, and not more often than that needs: no busy loop.
    let gaps: Vec<i64> = wakes
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .collect();
    assert!(
        gaps.iter().all(|g| (0..=60).contains(g)),
        "a sleep longer than a minute"
    );
    let minutes = 7 * 24 * 60;
    assert!(
        wakes.len() <= minutes + 7 + 1,
        "{} wakes in {minutes} minutes",
        wakes.len()
    );
    assert!(wakes.len() >= minutes, "{} wakes", wakes.len());
}

#[test]
fn a_bad_schedule_or_wait_is_refused_naming_the_key() {
    let base = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let with = |extra: &str| {
        let text = base.replace(
            "owner = \"kit@small.example\"",
            &format!("owner = \"kit@small.example\"\n{extra}"),
        );
        dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
            origin: "shop.toml".into(),
            text: &text,
            base_dir: std::env::temp_dir(),
        })
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
    };
    assert!(with("schedule = \"0 6 * * *\"").is_ok());
    assert!(with("schedule = \"@daily\"\ntimezone = \"Asia/Kolkata\"").is_ok());
    let err = with("schedule = \"6 * *\"").unwrap_err();
    assert!(
        err.starts_with("shop.toml:") && err.contains("reports[\"morning\"].schedule"),
        "{err}"
    );
    let err = with("timezone = \"Mars/Olympus\"").unwrap_err();
    assert!(err.contains("reports[\"morning\"].timezone"), "{err}");
    let err = with("wait_for = [\"weather\"]").unwrap_err();
    assert!(err.contains("wait_for") && err.contains("weather"), "{err}");
    let err = with("grace_hours = 2\nwait_minutes = 180").unwrap_err();
    assert!(err.contains("wait_minutes"), "{err}");
    let err = with("graze_hours = 2").unwrap_err();
    assert!(err.contains("graze_hours"), "{err}");
}

/// `dawnpost serve` as a process, sending to 20 people through aiosmtpd (slowed down so a
/// signal lands mid-send): SIGTERM stops it with exit 0 and a truthful ledger, and a
/// restart serves the rest, each person once.
#[test]
fn sigterm_mid_send_then_a_restart_serves_each_recipient_once() {
    use std::process::{Command, Stdio};
    use std::time::{Duration as StdDuration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let Some(server) = crate::smtp::start(dir.path(), &["--delay", "0.3"]) else {
        return;
    };
    let (people, text) = crate::smtp::crowd(20, server.port);
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();
    crate::support::import_small_cli(c);
    let probe = crate::support::LedgerProbe::new(&dir.path().join("small.sqlite"));
    let ledger = |status: &str| probe.count("crowd", status);
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_dawnpost"))
            .args(["--config", c, "serve"])
            .env("DAWNPOST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let term = |child: &mut std::process::Child| {
        let status = sigterm(child.id());
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < StdDuration::from_secs(30),
                "serve did not stop"
            );
            std::thread::sleep(StdDuration::from_millis(20));
        }
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < StdDuration::from_secs(60), "{what}");
            std::thread::sleep(StdDuration::from_millis(20));
        }
    };

    let mut first = serve();
    wait_for("the first messages", &|| {
        crate::smtp::messages(&server.maildir).len() >= 3
    });
    let status = term(&mut first);
    assert!(status.success(), "serve exited with {status}");
    let delivered = crate::smtp::messages(&server.maildir).len() as i64;
    assert!(delivered < 20, "the signal came too late to test anything");
    // Messages in flight were finished and recorded; none was left pending.
    assert_eq!(ledger("sent"), delivered);
    assert_eq!(ledger("pending"), 0);

    let mut second = serve();
    wait_for("the rest", &|| ledger("sent") == 20);
    let status = term(&mut second);
    assert!(status.success(), "serve exited with {status}");
    let mut got: Vec<String> = crate::smtp::messages(&server.maildir)
        .iter()
        .map(crate::smtp::to)
        .collect();
    got.sort();
    assert_eq!(got, people, "each recipient exactly once");
}

/// Two `serve` processes on one PostgreSQL store, racing for the same 50 recipients: the
/// claims in the database let each recipient be served once.
#[test]
fn two_serve_processes_on_one_postgresql_store_serve_each_recipient_once() {
    use std::process::{Command, Stdio};
    use std::time::{Duration as StdDuration, Instant};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = rt.block_on(crate::support::postgres_database()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = crate::smtp::start(dir.path(), &["--delay", "0.05"]) else {
        return;
    };
    let (people, text) = crate::smtp::crowd(50, server.port);
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, crate::support::replace_store_url(&text, &url)).unwrap();
    let c = config.to_str().unwrap();
    crate::support::import_small_cli(c);
    let count = |sql: &str| -> i64 {
        rt.block_on(async {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        })
    };
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_dawnpost"))
            .args(["--config", c, "serve"])
            .env("DAWNPOST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = serve();
    let mut b = serve();
    let started = Instant::now();
    while count("SELECT COUNT(*) FROM deliveries WHERE report = 'crowd' AND status = 'sent'") < 50 {
        assert!(
            started.elapsed() < StdDuration::from_secs(90),
            "not everyone was served"
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
    // A moment for a duplicate, if there were one, to arrive.
    std::thread::sleep(StdDuration::from_millis(500));
    for child in [&mut a, &mut b] {
        assert!(sigterm(child.id()).success());
        let status = child.wait().unwrap();
        assert!(status.success(), "serve exited with {status}");
    }
    let mut got: Vec<String> = crate::smtp::messages(&server.maildir)
        .iter()
        .map(crate::smtp::to)
        .collect();
    got.sort();
    assert_eq!(got, people, "each recipient exactly once");
    let senders = count(
        "SELECT COUNT(DISTINCT claimed_by) FROM deliveries WHERE report = 'crowd' AND status = 'sent'",
    );
    eprintln!("{senders} instance(s) served the 50 recipients");
}

/// Sends SIGTERM through the shell's built-in `kill` (no procps needed).
fn sigterm(pid: u32) -> std::process::ExitStatus {
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_the_bundled_demo_builds_the_day_it_reports() {
    let dir = tempfile::tempdir().unwrap();
    let config = dawnpost::config::Config::demo(dir.path()).unwrap();
    let store = dawnpost::store::Store::open(&config.store).await.unwrap();
    let recipients = config.report(None).unwrap().recipients.len();
    let tz = config.shop.timezone;
    let shops = Shops::new(vec![Shop::new(config)]).unwrap();
    let at = |s: &str| {
        let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&n).unwrap().with_timezone(&Utc)
    };
    let clock = FakeClock::at(at("2026-11-23 06:30"));
    let events = serve(
        &shops,
        &clock,
        &std::sync::Arc::new(Shutdown::default()),
        &ServeOptions {
            until: Some(at("2026-11-23 07:00")),
        },
    )
    .await
    .unwrap();
    assert_eq!(events, [delivered("2026-11-22", recipients, &[])]);
    assert_eq!(
        store
            .meta(dawnpost::demo::META_END)
            .await
            .unwrap()
            .as_deref(),
        Some("2026-11-22")
    );
}

/// The small shop with its night's exports dropped into `drop/`, picked up by `serve`.
async fn with_imports() -> TestStore {
    let imports = r#"

[[imports]]
path = "drop/orders_*.csv"
format = "orders"
time = "05:00"
settle_secs = 0

[[imports]]
path = "drop/lines_*.csv"
format = "order_lines"
settle_secs = 0

[[imports]]
path = "drop/traffic_*.csv"
settle_secs = 0
"#;
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace(
            "owner = \"kit@small.example\"",
            "owner = \"kit@small.example\"\nwait_for = [\"orders\"]\nwait_minutes = 60",
        )
        + imports;
    TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await
}

async fn picked_up(t: &TestStore) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT path, status, imported_at FROM imported_files ORDER BY path")
        .fetch_all(t.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_imports_the_nights_exports_before_the_send() {
    let t = with_imports().await;
    let drop = t.dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    // Dropped at 05:50 for Saturday 2 March: one order of 3 × A at 10.00, and a traffic
    // file with a bad row.
    std::fs::write(
        drop.join("orders_0302.csv"),
        "order_id,placed_at,channel,customer_id,customer_type,discount,status\n\
         N1,2024-03-02 10:00,email,c77,new,0,placed\n",
    )
    .unwrap();
    std::fs::write(
        drop.join("lines_0302.csv"),
        "order_id,sku,quantity,unit_price\nN1,A,3,10.00\n",
    )
    .unwrap();
    let bad = drop.join("traffic_0302.csv");
    std::fs::write(
        &bad,
        "day,channel,sessions,product_views,add_to_carts,checkouts\n2024-03-02,organic,lots,1,1,1\n",
    )
    .unwrap();
    // `check` sees what the next run will pick up.
    let pending = |t: &TestStore| {
        let (store, config) = (t.store.clone(), t.config.clone());
        async move {
            dawnpost::ingest::nightly::survey(&store, &config)
                .await
                .iter()
                .map(|s| (s.files, s.pending))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(pending(&t).await, [(1, 1), (1, 1), (1, 1)]);
    let events = run(&t, ny("2024-03-03 05:50"), ny("2024-03-03 06:30")).await;
    assert_eq!(
        pending(&t).await,
        [(1, 0), (1, 0), (1, 0)],
        "the failed file waits for a change"
    );
    // The orders came in before the 06:00 check: no wait, and the digest went to all four
    // (Friday's digest, a day old, is past its grace).
    assert_eq!(
        events.last(),
        Some(&delivered("2024-03-02", 4, &[])),
        "{events:?}"
    );
    let at: f64 = t
        .scalar("SELECT MIN(sent_at) FROM deliveries WHERE report_date = '2024-03-02'")
        .await
        .unwrap();
    assert_eq!(at as i64, ny("2024-03-03 06:00").timestamp());
    // Its numbers are the file's: 3 × 10.00 on 2 Mar, and the banner names the traffic that
    // did not come in.
    let names = outbox(&t);
    let digest = names
        .iter()
        .find(|n| n.contains("2024-03-02") && n.contains("mia"))
        .unwrap();
    let raw = std::fs::read(t.dir.path().join("outbox").join(digest)).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = msg.body_text(0).unwrap();
    assert!(
        msg.subject().unwrap().contains("revenue $30"),
        "{:?}",
        msg.subject()
    );
    assert!(
        text.contains("Incomplete data for 2 Mar: traffic (last: 1 Mar 2024),"),
        "{text}"
    );
    assert!(text.contains("Net revenue: $30"), "{text}");
    // The owner hears of the bad file, by name and line.
    let failures = names
        .iter()
        .find(|n| n.contains("failures"))
        .expect("an owner summary");
    let raw = std::fs::read(t.dir.path().join("outbox").join(failures)).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let body = msg.body_text(0).unwrap();
    assert!(
        body.contains("traffic_0302.csv:2: column `sessions`"),
        "{body}"
    );
    assert!(body.contains("went to all 4 recipients"), "{body}");
    // Nothing of the bad file was loaded; the file is left where it was.
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM traffic WHERE day = '2024-03-02'")
            .await,
        Some(0.0)
    );
    assert!(bad.exists());
    let first = picked_up(&t).await;
    let status: Vec<&str> = first.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(status, ["imported", "imported", "failed"]);

    // The next morning the same files are still there: none is imported again.
    let events = run(&t, ny("2024-03-04 05:50"), ny("2024-03-04 06:30")).await;
    assert!(
        matches!(events.last(), Some(RunEvent::Waiting { .. })),
        "{events:?}"
    );
    assert_eq!(picked_up(&t).await, first);
    // A fixed traffic file is a changed file: it is imported on the next run.
    std::fs::write(
        &bad,
        "day,channel,sessions,product_views,add_to_carts,checkouts\n2024-03-02,organic,120,60,12,6\n",
    )
    .unwrap();
    assert_eq!(pending(&t).await, [(1, 0), (1, 0), (1, 1)]);
    run(&t, ny("2024-03-04 06:30"), ny("2024-03-04 06:45")).await;
    assert_eq!(
        t.scalar("SELECT SUM(sessions) FROM traffic WHERE day = '2024-03-02'")
            .await,
        Some(120.0)
    );
    let after = picked_up(&t).await;
    assert_eq!(after[2].1, "imported");
    assert_eq!(after[..2], first[..2]);
}

/// When the earliest .eml file of a shop's outbox was written.
fn first_written(t: &TestStore) -> std::time::SystemTime {
    outbox(t)
        .iter()
        .map(|n| {
            let path = t.dir.path().join("outbox").join(n);
            std::fs::metadata(path).unwrap().modified().unwrap()
        })
        .min()
        .expect("a digest went out")
}

/// Two shops in one `serve`, the first with a metric that runs to its 2-second deadline on
/// every range: the second shop's digest goes out without waiting for the first's, which
/// still goes out, with the metric unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shop_does_not_hold_back_another() {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let slow_sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
                    SELECT $1 AS day, COUNT(*) AS num FROM r WHERE $1 <= $2";
    let slow_text = text.replace(
        "url = \"sqlite://small.sqlite\"",
        "url = \"sqlite://small.sqlite\"\nquery_timeout_secs = 2",
    ) + &format!(
        "\n[[metrics]]\nkey = \"runaway\"\nlabel = \"Runaway metric\"\nteam = \"shared\"\n\
         unit = \"count\"\ndirection = \"neutral\"\naggregate = \"sum\"\nsql = \"{slow_sql}\"\n"
    );
    let quick_text = text.replace("name = \"morning\"", "name = \"morning-quick\"");
    let slow = TestStore::new(Backend::Sqlite, &slow_text).await.unwrap();
    let slow = slow.with_small_data().await;
    let quick = TestStore::new(Backend::Sqlite, &quick_text).await.unwrap();
    let quick = quick.with_small_data().await;
    // Each shop is its own config file, as with `--config` given twice.
    let shop = |t: &TestStore, origin: &str| {
        let mut config = t.config.clone();
        config.origin = origin.into();
        Shop::new(config)
    };
    let shops = Shops::new(vec![shop(&slow, "slow.toml"), shop(&quick, "quick.toml")]).unwrap();
    let clock = FakeClock::at(ny("2024-03-02 06:00"));
    let until = ny("2024-03-02 06:01");
    let shutdown = std::sync::Arc::new(Shutdown::default());
    let opts = ServeOptions { until: Some(until) };
    let events = serve(&shops, &clock, &shutdown, &opts).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(sent(&slow, "2024-03-01").await == 4.0 && sent(&quick, "2024-03-01").await == 4.0);
    let (s, q) = (first_written(&slow), first_written(&quick));
    let ahead = s.duration_since(q).unwrap_or_default();
    assert!(
        ahead >= std::time::Duration::from_secs(1),
        "the quick shop's digest went out {ahead:?} before the slow one's"
    );
}

/// A live source that fails at 06:00 (its key revoked): the digest still goes to everyone,
/// its banner says the source's sync failed, and the owner's summary names the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_to_sync_is_told_and_the_digest_goes_out() {
    let server = crate::replay::Replay::start(|_| {
        crate::replay::Answer::json(
            401,
            r#"{"code":"woocommerce_rest_authentication_error","message":"Consumer secret is invalid.","data":{"status":401}}"#,
        )
    })
    .await;
    let secrets = tempfile::tempdir().unwrap();
    let key = crate::sync::secret(secrets.path(), "key", "ck_serve_test");
    let secret = crate::sync::secret(secrets.path(), "secret", "cs_serve_test_revoked");
    let source = format!(
        "\n[[sources]]\nname = \"woo\"\nkind = \"woocommerce\"\nurl = \"https://shop.example\"\n\
         consumer_key_file = {key}\nconsumer_secret_file = {secret}\nendpoint = \"{}\"\n\
         ca_file = {:?}\n",
        server.url(),
        server.ca.display().to_string()
    );
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap() + &source;
    let t = TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await;
    let events = run(&t, ny("2024-03-02 05:50"), ny("2024-03-02 06:30")).await;
    assert!(
        matches!(
            events.last(),
            Some(RunEvent::Delivered {
                sent: 4,
                failed: 0,
                ..
            })
        ),
        "{events:?}"
    );
    assert!(server.requests().iter().any(|r| r.path() == "/wp-json/"));
    let names = outbox(&t);
    let digest = names
        .iter()
        .find(|n| n.contains("2024-03-01") && n.contains("mia"))
        .unwrap();
    let raw = std::fs::read(t.dir.path().join("outbox").join(digest)).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = msg.body_text(0).unwrap();
    assert!(
        text.contains("WooCommerce (woo): never synced; the latest sync failed:"),
        "{text}"
    );
    let failures = names
        .iter()
        .find(|n| n.contains("failures"))
        .expect("an owner summary");
    let raw = std::fs::read(t.dir.path().join("outbox").join(failures)).unwrap();
    let body = mail_parser::MessageParser::default()
        .parse(&raw)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(
        body.contains("source woo") && body.contains("401"),
        "{body}"
    );
    assert!(!body.contains("cs_serve_test_revoked") && !text.contains("cs_serve_test_revoked"));
    // Once the report is served, its later looks ask the source nothing.
    let asked = server.requests().len();
    run(&t, ny("2024-03-02 06:30"), ny("2024-03-02 06:40")).await;
    assert_eq!(server.requests().len(), asked);
}

/// `serve` with `[alerts] live`: between morning reports it checks every hour, and the
/// promoted Beta Tee out of stock on 2 Mar goes to the report's four people once, however
/// many checks see it; the quiet hours from 21:00 check nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_an_alert_as_it_happens_once() {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap()
        + "\n[alerts]\nlive = true\nsync_every_minutes = 60\nquiet_hours = \"21:00-07:00\"\n";
    let t = TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await;
    sqlx::query(
        "INSERT INTO inventory (day, sku, on_hand, on_order) VALUES ('2024-03-02', 'B', 0, 0)",
    )
    .execute(t.store.pool())
    .await
    .unwrap();
    let (_, wakes) = run_clocked(&t, ny("2024-03-02 09:30"), ny("2024-03-02 23:00")).await;
    let mut alerts = Vec::new();
    for f in std::fs::read_dir(t.dir.path().join("outbox")).unwrap() {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let subject = msg.subject().unwrap_or("").to_string();
        if subject.contains("Beta Tee") {
            alerts.push(subject);
        }
    }
    assert_eq!(alerts.len(), 4, "{alerts:?}");
    // Checked hourly: the live ledger has the one alert, at one level, for four people.
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT COUNT(*) FROM live_alerts WHERE alert_key = 'stock:B:2024-03-02'")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
    assert_eq!(rows[0].0, 4);
    assert!(wakes.iter().any(|w| *w >= ny("2024-03-02 20:00")));
}
