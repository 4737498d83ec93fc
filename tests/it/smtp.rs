//! Sending through a real SMTP server (aiosmtpd, started here on 127.0.0.1) with STARTTLS,
//! AUTH and a test CA; messages are read back from its Maildir with an independent parser.
//!
//! Skips with a notice where aiosmtpd is not installed (`DAWNPOST_TEST_PYTHON` names a
//! Python that has it), unless `DAWNPOST_REQUIRE_SMTP=1`, which makes that a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{NaiveDate, TimeZone};
use dawnpost::delivery::{EmailChannel, SendOptions, send};
use mail_parser::MessageParser;

use crate::support::{Backend, TestStore, fixture, repo};

pub(crate) const PASSWORD: &str = "s3cret-Smtp-pw-9f2";

/// The small shop's report reaches these four, in address order (Sam, in two teams, once).
pub(crate) const SMALL_RECIPIENTS: [&str; 4] = [
    "kit@small.example",
    "mia@small.example",
    "ola@small.example",
    "sam@small.example",
];

pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    pub(crate) maildir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<String> {
    let py = std::env::var("DAWNPOST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    if std::env::var("DAWNPOST_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
        panic!("aiosmtpd is required (DAWNPOST_REQUIRE_SMTP=1) but {py} cannot import it");
    }
    eprintln!("notice: aiosmtpd is not installed for {py}; skipping this SMTP test");
    None
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn start(dir: &Path, args: &[&str]) -> Option<Server> {
    start_on(dir, free_port(), args)
}

fn start_on(dir: &Path, port: u16, args: &[&str]) -> Option<Server> {
    let py = python()?;
    let maildir = dir.join(format!("maildir-{port}"));
    let mut child = Command::new(py)
        .arg(repo().join("tests/it/smtp_server.py"))
        .args(["--port", &port.to_string(), "--maildir"])
        .arg(&maildir)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY", "the SMTP server did not start");
    Some(Server {
        child,
        port,
        maildir,
    })
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
pub(crate) fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=dawnpost test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

/// The small shop, sending through `server` (`smtp_extra` is added to its [smtp] table).
pub(crate) async fn shop(server_port: u16, smtp_extra: &str) -> TestStore {
    shop_at(&format!("smtp://127.0.0.1:{server_port}"), smtp_extra).await
}

pub(crate) async fn shop_at(url: &str, smtp_extra: &str) -> TestStore {
    let mut text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    text.push_str(&format!(
        "\n[smtp]\nurl = \"{url}\"\ntimeout_secs = 5\n{smtp_extra}\n"
    ));
    TestStore::new(Backend::Sqlite, &text)
        .await
        .unwrap()
        .with_small_data()
        .await
}

pub(crate) fn messages(maildir: &Path) -> Vec<mail_parser::Message<'static>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(maildir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            let raw = std::fs::read(e.path()).unwrap();
            out.push(MessageParser::default().parse(&raw).unwrap().into_owned());
        }
    }
    out
}

/// Digests that arrived per recipient (the owner's summaries apart), and the summaries.
pub(crate) fn delivered(
    maildir: &Path,
    owner: &str,
) -> (std::collections::BTreeMap<String, usize>, Vec<String>) {
    let mut per = std::collections::BTreeMap::new();
    let mut summaries = Vec::new();
    for m in messages(maildir) {
        let r = to(&m);
        if r == owner {
            summaries.push(m.body_text(0).unwrap().into_owned());
        } else {
            *per.entry(r).or_insert(0) += 1;
        }
    }
    (per, summaries)
}

/// The rule every delivery fault must keep, checked against what the server received:
/// `sent` is exactly one message, `failed` none, and only `unknown` may be either; all `n`
/// recipients are in the ledger, and nobody has two copies.
pub(crate) fn ledger_tells_the_truth(
    rows: &[crate::support::LedgerRow],
    maildir: &Path,
    owner: &str,
    n: usize,
) {
    let (per, _) = delivered(maildir, owner);
    assert_eq!(rows.len(), n, "every recipient is in the ledger: {rows:?}");
    for (r, status, _, err) in rows {
        let got = per.get(r).copied().unwrap_or(0);
        match status.as_str() {
            "sent" => assert_eq!(got, 1, "{r} is recorded sent: exactly one message"),
            "failed" => assert_eq!(got, 0, "{r} is recorded failed ({err:?}): no message"),
            "unknown" => assert!(got <= 1, "{r} is unknown, yet has {got} messages"),
            other => panic!("{r} is left {other}"),
        }
    }
    for (r, got) in &per {
        assert!(*got <= 1, "{r} received {got} copies");
    }
}

pub(crate) fn to(m: &mail_parser::Message<'_>) -> String {
    m.to()
        .unwrap()
        .first()
        .unwrap()
        .address()
        .unwrap()
        .to_lowercase()
}

pub(crate) fn d() -> NaiveDate {
    "2024-03-01".parse().unwrap()
}

pub(crate) async fn run(t: &TestStore) -> anyhow::Result<dawnpost::delivery::SendSummary> {
    let report = t.config.report(None).unwrap();
    let transport = EmailChannel::from_config(&t.config)?;
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2024, 3, 2, 6, 0, 0)
        .unwrap();
    send(
        &t.store,
        &t.config,
        report,
        &transport,
        d(),
        now,
        &SendOptions::default(),
    )
    .await
}

pub(crate) async fn ledger_sent(t: &TestStore) -> f64 {
    t.scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
        .await
        .unwrap()
}

pub(crate) fn credentials(dir: &Path, ca: &Path) -> String {
    credentials_with(dir, ca, PASSWORD)
}

pub(crate) fn credentials_with(dir: &Path, ca: &Path, password: &str) -> String {
    std::fs::write(dir.join("smtp-password"), format!("{password}\n")).unwrap();
    format!(
        "username = \"dawnpost\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        dir.join("smtp-password").display(),
        ca.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_auth_to_three_teams_with_an_overlapping_member() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let Some(server) = start(certs.path(), &tls_args(&cert, &key)) else {
        return;
    };
    let t = shop(server.port, &credentials(certs.path(), &ca)).await;
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.failed.len()), (4, 0));
    let msgs = messages(&server.maildir);
    let mut got: Vec<String> = msgs.iter().map(to).collect();
    got.sort();
    // Sam is in two teams and gets one message.
    assert_eq!(got, SMALL_RECIPIENTS);
    assert!(
        msgs.iter()
            .all(|m| m.subject() == Some("Fri 1 Mar: revenue $90 +500% vs last Fri · no alerts"))
    );
    assert_eq!(ledger_sent(&t).await, 4.0);
    // A second run sends nothing.
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.skipped.len()), (0, 4));
    assert_eq!(messages(&server.maildir).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_required_but_not_offered_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &[]) else {
        return;
    };
    let t = shop(server.port, "").await;
    let err = format!("{:#}", run(&t).await.unwrap_err());
    assert!(err.to_lowercase().contains("tls"), "{err}");
    assert_eq!(ledger_sent(&t).await, 0.0);
    assert!(
        messages(&server.maildir).is_empty(),
        "nothing may go out in plain text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_recipient_is_recorded_and_the_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    // A local relay without TLS, allowed only because the config says so.
    let Some(server) = start(dir.path(), &["--reject", "ola@small.example"]) else {
        return;
    };
    let t = shop(server.port, "plaintext = true").await;
    let s = run(&t).await.unwrap();
    assert_eq!(s.sent.len(), 3);
    assert_eq!(s.failed.len(), 1);
    assert_eq!(s.failed[0].0, "ola@small.example");
    assert!(
        s.failed[0].1.contains("permanent failure") && s.failed[0].1.contains("550"),
        "{:?}",
        s.failed
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM deliveries WHERE recipient = 'ola@small.example'")
            .fetch_one(t.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "failed");
    // Three digests and one short summary to the owner (kit).
    let msgs = messages(&server.maildir);
    assert_eq!(msgs.len(), 4);
    let summary: Vec<_> = msgs
        .iter()
        .filter(|m| {
            m.subject()
                .is_some_and(|s| s.starts_with("dawnpost: 1 of 4 not served"))
        })
        .collect();
    assert_eq!(summary.len(), 1);
    assert_eq!(to(summary[0]), "kit@small.example");
    assert!(
        summary[0]
            .body_text(0)
            .unwrap()
            .contains("ola@small.example")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_is_retried_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &["--tempfail", "1"]) else {
        return;
    };
    let t = shop(server.port, "plaintext = true\nretry_for_secs = 20").await;
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.failed.len()), (4, 0));
    let mut got: Vec<String> = messages(&server.maildir).iter().map(to).collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 4);
    assert_eq!(
        messages(&server.maildir).len(),
        4,
        "each recipient exactly once"
    );
    // The server refused exactly one message once: the ledger counts that retry, and only it.
    let attempts: Vec<i64> =
        sqlx::query_scalar("SELECT attempts FROM deliveries ORDER BY attempts")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
    assert_eq!(attempts, [1, 1, 1, 2]);
}

#[test]
fn the_smtp_password_never_appears_in_output() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &["--user", "dawnpost", "--password", "wrong"]) else {
        return;
    };
    let config = dir.path().join("shop.toml");
    let mut text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    text.push_str(&format!(
        "\n[smtp]\nurl = \"smtp://127.0.0.1:{}\"\nplaintext = true\nusername = \"dawnpost\"\npassword_env = \"DP_TEST_SMTP_PASSWORD\"\ntimeout_secs = 1\nretry_for_secs = 1\n",
        server.port
    ));
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();
    for table in ["products", "orders", "order_lines"] {
        let f = fixture(&format!("small/{table}.csv"));
        let (status, _, err) = crate::support::dawnpost(
            &["--config", c, "import", table, f.to_str().unwrap()],
            &[("DP_TEST_SMTP_PASSWORD", PASSWORD)],
        );
        assert!(status.success(), "{err}");
    }
    let (status, out, err) = crate::support::dawnpost(
        &["--config", c, "send", "--date", "2024-03-01"],
        &[
            ("DP_TEST_SMTP_PASSWORD", PASSWORD),
            ("DAWNPOST_LOG", "trace"),
        ],
    );
    // The server refuses the login: nobody is served, the run fails.
    assert!(!status.success(), "{out}");
    assert!(!out.contains("sent: "), "{out}\n{err}");
    assert!(err.contains("refused the login"), "{err}");
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "the password leaked"
    );
}

/// The server's arguments for STARTTLS with `cert`/`key` and AUTH as dawnpost/[`PASSWORD`].
pub(crate) fn tls_args<'a>(cert: &'a Path, key: &'a Path) -> Vec<&'a str> {
    vec![
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--user",
        "dawnpost",
        "--password",
        PASSWORD,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_and_nobody_is_sent() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let Some(server) = start(certs.path(), &tls_args(&cert, &key)) else {
        return;
    };
    let wrong = "not-the-Password-77";
    let t = shop(server.port, &credentials_with(certs.path(), &ca, wrong)).await;
    let started = std::time::Instant::now();
    let err = format!("{:#}", run(&t).await.unwrap_err());
    assert!(err.contains("refused the login"), "{err}");
    assert!(err.contains("535"), "{err}");
    assert!(!err.contains(wrong), "the password leaked: {err}");
    // Refused at once, not after waiting out a timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(ledger_sent(&t).await, 0.0);
    assert!(messages(&server.maildir).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_auth_delivers() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let mut args = tls_args(&cert, &key);
    args.push("--implicit");
    let Some(server) = start(certs.path(), &args) else {
        return;
    };
    let t = shop_at(
        &format!("smtps://127.0.0.1:{}", server.port),
        &credentials(certs.path(), &ca),
    )
    .await;
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.failed.len()), (4, 0));
    assert_eq!(messages(&server.maildir).len(), 4);
    assert_eq!(ledger_sent(&t).await, 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = certificates(certs.path());
    let Some(server) = start(certs.path(), &tls_args(&cert, &key)) else {
        return;
    };
    // The server's CA is not named: the system roots do not trust it.
    std::fs::write(certs.path().join("pw"), PASSWORD).unwrap();
    let extra = format!(
        "username = \"dawnpost\"\npassword_file = \"{}\"\n",
        certs.path().join("pw").display()
    );
    let t = shop(server.port, &extra).await;
    let err = format!("{:#}", run(&t).await.unwrap_err());
    assert!(err.contains("TLS") && err.contains("certificate"), "{err}");
    assert_eq!(ledger_sent(&t).await, 0.0);
    assert!(messages(&server.maildir).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_then_up_within_the_deadline_gets_each_message_once() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let t = shop(port, "plaintext = true\nretry_for_secs = 30").await;
    // Nothing listens yet: the first attempts are refused, then the server comes up.
    let root = dir.path().to_path_buf();
    let later = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        start_on(&root, port, &[]).unwrap()
    });
    let s = run(&t).await.unwrap();
    let server = later.join().unwrap();
    assert_eq!((s.sent.len(), s.failed.len()), (4, 0));
    let mut got: Vec<String> = messages(&server.maildir).iter().map(to).collect();
    got.sort();
    assert_eq!(got, SMALL_RECIPIENTS);
    // All four were in flight at once (four connections) and met the closed port: the
    // ledger counts each one's retries.
    let attempts: Vec<i64> =
        sqlx::query_scalar("SELECT attempts FROM deliveries ORDER BY attempts DESC")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
    assert_eq!(attempts.len(), 4);
    assert!(attempts.iter().all(|a| *a >= 2), "{attempts:?}");
}

#[test]
/// The eighth message is on the wire when the sender is killed: the server never answered
/// it, so nobody can tell whether it took it. A re-run sends nobody twice: the eighth is
/// settled as unknown, and only `--retry-unknown` (a person's decision) sends it again.
fn a_send_killed_partway_through_twenty_recipients_then_rerun_sends_nobody_twice() {
    let dir = tempfile::tempdir().unwrap();
    // The server accepts seven messages, then never answers the eighth (once).
    let Some(server) = start(dir.path(), &["--hang-after", "7"]) else {
        return;
    };
    let (people, text) = crowd(20, server.port);
    let config = dir.path().join("shop.toml");
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();
    crate::support::import_small_cli(c);
    let args = [
        "--config",
        c,
        "send",
        "--report",
        "crowd",
        "--date",
        "2024-03-01",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_dawnpost"))
        .args(args)
        .env("DAWNPOST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the eighth message has reached the server (which will never acknowledge
    // it) and the other messages in flight have all settled, then kill the sender without
    // warning.
    let probe = crate::support::LedgerProbe::new(&dir.path().join("small.sqlite"));
    let ledger = |status: &str| probe.count("crowd", status);
    let waited = std::time::Instant::now();
    while !(server.maildir.join("hung").exists() && ledger("sent") == 19) {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(60),
            "the send never reached the eighth recipient"
        );
        assert!(child.try_wait().unwrap().is_none(), "the send ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(ledger("pending"), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(messages(&server.maildir).len(), 19);

    let (status, out, err) = crate::support::dawnpost(&args, &[]);
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("UNKNOWN: ") && out.contains("may have reached the server"),
        "{out}"
    );
    let digests = || {
        let mut got: Vec<String> = messages(&server.maildir)
            .iter()
            .map(to)
            .filter(|r| r.ends_with("@crowd.example"))
            .collect();
        got.sort();
        got
    };
    assert_eq!(digests().len(), 19, "nothing sent twice, nothing new");
    assert_eq!(
        (ledger("sent"), ledger("unknown"), ledger("pending")),
        (19, 1, 0)
    );

    let mut retry = args.to_vec();
    retry.push("--retry-unknown");
    let (status, out, err) = crate::support::dawnpost(&retry, &[]);
    assert!(status.success(), "{out}\n{err}");
    assert_eq!(digests(), people, "each recipient exactly once");
    assert_eq!(ledger("sent"), 20);
    assert_eq!(ledger("pending"), 0);
}

/// The small shop plus a report to `n` people that fires every second (the shop's own report
/// fires only on 1 January), sending through the SMTP server on `port`.
pub(crate) fn crowd(n: usize, port: u16) -> (Vec<String>, String) {
    let people: Vec<String> = (1..=n).map(|i| format!("p{i:02}@crowd.example")).collect();
    let members: Vec<String> = people
        .iter()
        .map(|p| format!("{{ name = \"{p}\", email = \"{p}\" }}"))
        .collect();
    let text = std::fs::read_to_string(fixture("small/config.toml"))
        .unwrap()
        .replace(
            "owner = \"kit@small.example\"",
            "owner = \"kit@small.example\"\nschedule = \"0 6 1 1 *\"",
        );
    let text = format!(
        "{text}\n[[teams]]\nname = \"crowd\"\nmembers = [{}]\n\n[[reports]]\nname = \"crowd\"\nteams = [\"crowd\"]\nfrom = \"reports@small.example\"\nowner = \"kit@small.example\"\nschedule = \"* * * * * *\"\nwait_for = []\n\n[smtp]\nurl = \"smtp://127.0.0.1:{port}\"\nplaintext = true\ntimeout_secs = 5\n",
        members.join(", "),
    );
    (people, text)
}
