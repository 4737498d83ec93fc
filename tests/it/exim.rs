//! Sending through Debian's Exim, the production MTA: STARTTLS with a test CA, AUTH PLAIN or
//! LOGIN, a recipient refused with 550, delivery into a Maildir read back independently.
//!
//! Exim runs as a throwaway daemon on 127.0.0.1 with its own config, spool and logs in a
//! temporary directory. Skips with a notice where Exim is not installed, unless
//! `DAWNPOST_REQUIRE_EXIM=1`, which makes that a failure.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::smtp::{
    PASSWORD, SMALL_RECIPIENTS, certificates, credentials, credentials_with, free_port,
    ledger_sent, messages, run, shop, to,
};

const EXIM: &str = "/usr/sbin/exim4";

struct Exim {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exim {
    /// Waits for Exim's local deliveries (they run just after it answers 250) to reach `n`,
    /// then a moment longer so that an unexpected extra message is seen too.
    fn delivered(&self, n: usize) -> Vec<mail_parser::Message<'static>> {
        let started = Instant::now();
        loop {
            let got = messages(&self.maildir);
            if got.len() >= n || started.elapsed() > Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(300));
                return messages(&self.maildir);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn installed() -> bool {
    if Path::new(EXIM).exists() {
        return true;
    }
    if std::env::var("DAWNPOST_REQUIRE_EXIM").is_ok_and(|v| v == "1") {
        panic!("Exim is required (DAWNPOST_REQUIRE_EXIM=1) but {EXIM} is not installed");
    }
    eprintln!("notice: Exim is not installed ({EXIM}); skipping this test");
    false
}

/// Starts Exim on a free port: STARTTLS with `cert`, AUTH for user `dawnpost`, RCPT refused
/// for `rejected`, every accepted message delivered into a Maildir.
fn start(dir: &Path, cert: &Path, key: &Path, rejected: &str) -> Option<Exim> {
    if !installed() {
        return None;
    }
    // Started by root with its own config, Exim gives up root and runs as its own user
    // (Debian-exim); it must be able to read the key and write its directories.
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let user = if as_root {
        "Debian-exim".to_string()
    } else {
        std::env::var("USER").unwrap_or_else(|_| "nobody".into())
    };
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    open(dir, 0o755);
    open(key, 0o644);
    for sub in ["spool", "log", "maildir"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        open(&dir.join(sub), 0o777);
    }
    let port = free_port();
    // Placeholders rather than format!: Exim's expansion syntax is all braces.
    let config = include_str!("exim.conf.in")
        .replace("@D@", &dir.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@CERT@", &cert.display().to_string())
        .replace("@KEY@", &key.display().to_string())
        .replace("@REJECTED@", rejected)
        .replace("@USER@", &user)
        .replace("@AUTH_USER@", "dawnpost")
        .replace("@PASSWORD@", PASSWORD);
    let conf = dir.join("exim.conf");
    std::fs::write(&conf, config).unwrap();
    open(&conf, 0o644);
    // -bdf: a daemon that stays in the foreground, so the test owns (and ends) it.
    let child = Command::new(EXIM)
        .arg("-C")
        .arg(&conf)
        .arg("-bdf")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start exim");
    let exim = Exim {
        child,
        port,
        maildir: dir.join("maildir"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Exim did not start; its log: {}",
            std::fs::read_to_string(dir.join("log/paniclog")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(exim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exim_delivers_to_three_teams_with_an_overlapping_member_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let Some(exim) = start(dir.path(), &cert, &key, "nobody@small.example") else {
        return;
    };
    let t = shop(exim.port, &credentials(dir.path(), &ca)).await;
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.failed.len()), (4, 0));
    let msgs = exim.delivered(4);
    let mut got: Vec<String> = msgs.iter().map(to).collect();
    got.sort();
    assert_eq!(got, SMALL_RECIPIENTS);
    // Exim received it over TLS from an authenticated client, and says so in the trace
    // header it adds.
    let received = msgs[0].header_raw("Received").unwrap_or_default();
    assert!(
        received.contains("esmtpsa") && received.contains("TLS"),
        "{received}"
    );
    assert_eq!(ledger_sent(&t).await, 4.0);
    let s = run(&t).await.unwrap();
    assert_eq!((s.sent.len(), s.skipped.len()), (0, 4));
    assert_eq!(exim.delivered(4).len(), 4, "a second run sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exim_refusing_one_recipient_leaves_the_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let Some(exim) = start(dir.path(), &cert, &key, "mia@small.example") else {
        return;
    };
    let t = shop(exim.port, &credentials(dir.path(), &ca)).await;
    let s = run(&t).await.unwrap();
    assert_eq!(s.sent.len(), 3);
    assert_eq!(s.failed.len(), 1);
    assert_eq!(s.failed[0].0, "mia@small.example");
    assert!(s.failed[0].1.contains("550"), "{:?}", s.failed);
    // Three digests, and the owner's summary naming Mia.
    let msgs = exim.delivered(4);
    assert_eq!(msgs.len(), 4);
    let summary: Vec<_> = msgs
        .iter()
        .filter(|m| m.subject().is_some_and(|s| s.contains("1 of 4 not served")))
        .collect();
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0]
            .body_text(0)
            .unwrap()
            .contains("mia@small.example")
    );
    assert_eq!(ledger_sent(&t).await, 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exim_refusing_the_password_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let Some(exim) = start(dir.path(), &cert, &key, "nobody@small.example") else {
        return;
    };
    let t = shop(
        exim.port,
        &credentials_with(dir.path(), &ca, "wrong-Password-31"),
    )
    .await;
    let err = format!("{:#}", run(&t).await.unwrap_err());
    assert!(err.contains("refused the login"), "{err}");
    assert!(!err.contains("wrong-Password-31"));
    assert_eq!(ledger_sent(&t).await, 0.0);
    assert!(exim.delivered(0).is_empty());
}
