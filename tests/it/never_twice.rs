//! Never twice: the ledger against a sender killed while the server holds its message, a
//! PostgreSQL server stopped and a SQLite store locked while a message is in flight, and two
//! senders on one store whose messages outlast the claim lease.
//!
//! Each case drives the `dawnpost` binary against aiosmtpd, which can store a message and
//! answer its end of data seconds later (`--store-then-delay`), and counts what each
//! recipient actually received against the ledger: `sent` means exactly one message arrived,
//! `failed` means none, and only `unknown` may mean either.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pg_cluster::PrivateCluster;
use crate::smtp::start;
use crate::support::{Backend, fixture, import_small_cli, postgres_database, replace_store_url};

const OWNER: &str = "owner@never.example";
const DATE: &str = "2024-03-01";

fn recipient(i: usize) -> String {
    format!("r{i}@never.example")
}

/// (recipient, status, attempts, last error)
type Row = (String, String, i64, Option<String>);

/// The ledger of a case's store, read and changed from outside the process under test.
struct Ledger {
    url: String,
    rt: tokio::runtime::Runtime,
}

impl Ledger {
    fn new(url: &str) -> Ledger {
        Ledger {
            url: url.to_string(),
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    fn rows(&self) -> Vec<Row> {
        const SQL: &str = "SELECT recipient, status, attempts, last_error FROM deliveries \
                           WHERE report = 'morning' ORDER BY recipient";
        self.rt.block_on(async {
            use sqlx::Connection;
            if self.url.starts_with("sqlite:") {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
            } else {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
            }
        })
    }

    fn exec(&self, sql: &str) {
        self.rt.block_on(async {
            use sqlx::Connection;
            let sql = sqlx::AssertSqlSafe(sql.to_string());
            if self.url.starts_with("sqlite:") {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            } else {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
        });
    }

    fn status(&self, r: &str) -> Row {
        let rows = self.rows();
        rows.into_iter()
            .find(|row| row.0 == r)
            .unwrap_or_else(|| panic!("{r} is not in the ledger"))
    }
}

/// The store of a case: a SQLite file in `dir`, or a new database on the shared cluster.
fn store_url(backend: Backend, dir: &Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("never.sqlite").display())),
        Backend::Postgres => tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(postgres_database()),
    }
}

/// A shop with `n` recipients r1..rn, the small shop's data, a mail server on `port` with
/// per-step deadlines of `timeout` seconds, `connections` messages in flight, and `delivery`
/// as its `[delivery]` table. Returns the config file.
fn shop(dir: &Path, n: usize, url: &str, port: u16, connections: usize, delivery: &str) -> PathBuf {
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let head = &small[..small.find("[[teams]]").unwrap()];
    let members: Vec<String> = (1..=n)
        .map(|i| format!("{{ name = \"R{i}\", email = \"{}\" }}", recipient(i)))
        .collect();
    let text = format!(
        "{head}[[teams]]\nname = \"all\"\nmembers = [{}]\n\n[[reports]]\nname = \"morning\"\n\
         teams = [\"all\"]\nfrom = \"Reports <reports@never.example>\"\nowner = \"{OWNER}\"\n\n\
         [smtp]\nurl = \"smtp://127.0.0.1:{port}\"\nplaintext = true\ntimeout_secs = 10\n\
         retry_for_secs = 1\nconnections = {connections}\n\n[delivery]\n{delivery}\n",
        members.join(", ")
    )
    // A store that goes away is given up on within a second, not the default ten.
    .replace("[store]\n", "[store]\nconnect_timeout_secs = 1\n");
    let path = dir.join("never.toml");
    std::fs::write(&path, replace_store_url(&text, url)).unwrap();
    import_small_cli(path.to_str().unwrap());
    path
}

pub(crate) fn spawn_send(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dawnpost"))
        .args(["--config", config.to_str().unwrap(), "send", "--date", DATE])
        .env("DAWNPOST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn send(config: &Path) -> (Option<i32>, String, String) {
    finish(spawn_send(config))
}

/// Waits until the server has stored a message to `r` (it has not answered it yet).
fn wait_stored(maildir: &Path, r: &str) {
    let log = maildir.join("stored.log");
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .any(|l| l == r)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server never took {r}'s message"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn delivered(maildir: &Path) -> (BTreeMap<String, usize>, Vec<String>) {
    crate::smtp::delivered(maildir, OWNER)
}

fn ledger_tells_the_truth(rows: &[Row], maildir: &Path, n: usize) {
    crate::smtp::ledger_tells_the_truth(rows, maildir, OWNER, n);
}

/// The probe's first case. A sender is killed (SIGKILL) while the server, which already
/// stored r1's message, is still to answer it; a later run must not send r1 again. On
/// SQLite the dead sender is on this host, so its claim is judged at once; on PostgreSQL
/// the claim is made to look like another host's, alive until its lease runs out.
fn a_killed_senders_message_is_never_sent_again(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = store_url(backend, dir.path()) else {
        return;
    };
    let Some(server) = start(dir.path(), &["--store-then-delay", "2"]) else {
        return;
    };
    let config = shop(dir.path(), 3, &url, server.port, 1, "claim_lease_secs = 3");
    let ledger = Ledger::new(&url);
    let mut child = spawn_send(&config);
    wait_stored(&server.maildir, &recipient(1));
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        ledger.status(&recipient(1)).1,
        "pending",
        "as the kill left it"
    );

    if backend == Backend::Postgres {
        // Another host's sender, renewed a moment ago: left alone.
        ledger.exec(&format!(
            "UPDATE deliveries SET claimed_by = 'elsewhere:1', updated_at = {} \
             WHERE recipient = '{}'",
            chrono::Utc::now().timestamp(),
            recipient(1)
        ));
        let (code, out, err) = send(&config);
        assert_eq!(code, Some(0), "{out}\n{err}");
        assert!(
            out.contains(&format!("being sent by another sender: {}", recipient(1))),
            "{out}"
        );
        // Its lease runs out with no renewal: the sender is gone.
        ledger.exec("UPDATE deliveries SET updated_at = 0 WHERE status = 'pending'");
    }
    let (code, out, err) = send(&config);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains(&format!("UNKNOWN: {}", recipient(1)))
            && out.contains("stopped after the message may have reached the server"),
        "{out}"
    );
    let rows = ledger.rows();
    ledger_tells_the_truth(&rows, &server.maildir, 3);
    let (per, summaries) = delivered(&server.maildir);
    assert_eq!(per.get(&recipient(1)), Some(&1), "r1 got its one message");
    assert_eq!(ledger.status(&recipient(1)).1, "unknown");
    for i in [2, 3] {
        assert_eq!(ledger.status(&recipient(i)).1, "sent");
    }
    assert!(
        summaries.iter().any(|s| s.contains(&recipient(1))),
        "the owner is told: {summaries:?}"
    );

    // And never later either.
    let (code, out, _) = send(&config);
    assert_eq!(code, Some(1));
    assert!(
        out.contains(&format!("not sent again: {}", recipient(1))),
        "{out}"
    );
    ledger_tells_the_truth(&ledger.rows(), &server.maildir, 3);
}

#[test]
fn a_killed_senders_message_is_never_sent_again_sqlite() {
    a_killed_senders_message_is_never_sent_again(Backend::Sqlite);
}

#[test]
fn a_killed_senders_message_is_never_sent_again_postgres() {
    a_killed_senders_message_is_never_sent_again(Backend::Postgres);
}

/// PostgreSQL stopped (`pg_ctl stop -m fast`) while r2's message waits for its 250: the
/// outcome cannot be written, so `send` says "delivered but not recorded", tells the owner
/// and exits non-zero; r3 is not attempted. With the server back, the next run records r2
/// as unknown, sends r3, and sends nobody twice.
#[test]
fn a_store_stopped_mid_message_never_sends_it_twice() {
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.database("never");
    let Some(server) = start(dir.path(), &["--store-then-delay", "2"]) else {
        return;
    };
    let config = shop(dir.path(), 3, &url, server.port, 1, "ledger_retry_secs = 1");
    let child = spawn_send(&config);
    wait_stored(&server.maildir, &recipient(2));
    cluster.down();
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        out.contains(&format!("DELIVERED BUT NOT RECORDED: {}", recipient(2))),
        "{out}\n{err}"
    );
    assert!(
        out.contains(&format!("FAILED: {}", recipient(3))) && out.contains("not attempted"),
        "{out}"
    );
    let (per, summaries) = delivered(&server.maildir);
    assert_eq!(per.get(&recipient(3)), None);
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("Delivered but not recorded") && s.contains(&recipient(2))),
        "the owner is told: {summaries:?}"
    );

    cluster.up();
    let (code, out, err) = send(&config);
    assert_eq!(code, Some(1), "r2 is unknown: {out}\n{err}");
    let ledger = Ledger::new(&url);
    let rows = ledger.rows();
    ledger_tells_the_truth(&rows, &server.maildir, 3);
    assert_eq!(ledger.status(&recipient(1)).1, "sent");
    assert_eq!(ledger.status(&recipient(2)).1, "unknown");
    assert_eq!(ledger.status(&recipient(3)).1, "sent");
    let (per, _) = delivered(&server.maildir);
    assert_eq!(per.get(&recipient(2)), Some(&1), "r2 got its one message");
}

/// Another process holds SQLite's write lock (`BEGIN IMMEDIATE`) for 12 s, longer than the
/// store's 10 s busy timeout, from just after the server took r1's message: the outcome is
/// written again until the lock is gone, and everyone gets exactly one message.
#[test]
fn a_store_locked_past_its_busy_timeout_records_late_and_sends_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(Backend::Sqlite, dir.path()).unwrap();
    let Some(server) = start(dir.path(), &["--store-then-delay", "1"]) else {
        return;
    };
    let config = shop(dir.path(), 3, &url, server.port, 1, "");
    let child = spawn_send(&config);
    wait_stored(&server.maildir, &recipient(1));
    let mut locker = hold_write_lock(&dir.path().join("never.sqlite"), 12);
    let (code, out, err) = finish(child);
    locker.wait().unwrap();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains("cannot record the outcome; trying again"),
        "{err}"
    );
    let ledger = Ledger::new(&url);
    let rows = ledger.rows();
    ledger_tells_the_truth(&rows, &server.maildir, 3);
    assert!(rows.iter().all(|r| r.1 == "sent" && r.2 == 1), "{rows:?}");
}

/// A second process that takes SQLite's write lock and keeps it `secs` seconds; returns once
/// it holds the lock.
pub(crate) fn hold_write_lock(db: &Path, secs: u32) -> Child {
    let script = format!(
        "import sqlite3, time\n\
         c = sqlite3.connect({db:?}, isolation_level=None, timeout=30)\n\
         c.execute('BEGIN IMMEDIATE')\n\
         print('LOCKED', flush=True)\n\
         time.sleep({secs})\n\
         c.execute('COMMIT')\n",
        db = db.display().to_string()
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "LOCKED");
    child
}

/// Two senders on one store, each message taking 4 s against a claim lease of 2 s, the
/// second started while the first's messages have been in flight for longer than the lease:
/// the first renews its claims while it works, so the second neither takes them over nor
/// settles them as unknown. Everyone gets one message, and nobody is left unknown.
fn two_senders_past_the_lease_send_each_message_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = store_url(backend, dir.path()) else {
        return;
    };
    let Some(server) = start(dir.path(), &["--store-then-delay", "4"]) else {
        return;
    };
    let config = shop(dir.path(), 8, &url, server.port, 2, "claim_lease_secs = 2");
    let a = spawn_send(&config);
    wait_stored(&server.maildir, &recipient(1));
    std::thread::sleep(Duration::from_millis(2_500));
    let b = spawn_send(&config);
    for (code, out, err) in [finish(a), finish(b)] {
        assert_eq!(code, Some(0), "{out}\n{err}");
        assert!(!out.contains("UNKNOWN"), "{out}");
    }
    let ledger = Ledger::new(&url);
    let rows = ledger.rows();
    ledger_tells_the_truth(&rows, &server.maildir, 8);
    assert!(rows.iter().all(|r| r.1 == "sent"), "{rows:?}");
    assert_eq!(delivered(&server.maildir).0.len(), 8);
}

#[test]
fn two_senders_past_the_lease_send_each_message_once_sqlite() {
    two_senders_past_the_lease_send_each_message_once(Backend::Sqlite);
}

#[test]
fn two_senders_past_the_lease_send_each_message_once_postgres() {
    two_senders_past_the_lease_send_each_message_once(Backend::Postgres);
}
