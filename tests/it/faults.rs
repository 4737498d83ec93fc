//! The fault suite: a real SMTP server (aiosmtpd) that delays, refuses, drops or never
//! answers, driven through the `dawnpost` binary with deadlines of a fraction of a second.
//!
//! Every case is checked against the server's Maildir, the ledger, `status` and the exit
//! code, and against one rule: a recipient recorded `sent` has exactly one message, one
//! recorded `failed` has none, and only one recorded `unknown` may have one or none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::smtp::{PASSWORD, certificates, credentials, start, tls_args};
use crate::support::{LedgerProbe, LedgerRow, dawnpost, fixture, import_small_cli};

const REPORT: &str = "morning";
const OWNER: &str = "owner@faults.example";
const DATE: &str = "2024-03-01";

fn recipient(i: usize) -> String {
    format!("r{i}@faults.example")
}

/// A shop with five recipients r1..r5 (in that order), the small shop's data, and `smtp`
/// as its [smtp] table; returns the config file.
fn shop(dir: &Path, smtp: &str) -> PathBuf {
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let head = &small[..small.find("[[teams]]").unwrap()];
    let members: Vec<String> = (1..=5)
        .map(|i| format!("{{ name = \"R{i}\", email = \"{}\" }}", recipient(i)))
        .collect();
    let text = format!(
        "{head}[[teams]]\nname = \"all\"\nmembers = [{}]\n\n[[reports]]\nname = \"{REPORT}\"\n\
         teams = [\"all\"]\nfrom = \"Reports <reports@faults.example>\"\nowner = \"{OWNER}\"\n\n\
         {smtp}\n",
        members.join(", ")
    )
    .replace("sqlite://small.sqlite", "sqlite://faults.sqlite");
    let path = dir.join("faults.toml");
    std::fs::write(&path, text).unwrap();
    import_small_cli(path.to_str().unwrap());
    path
}

/// An [smtp] table for a server on `port` with per-step deadlines of `timeout` seconds.
fn smtp_table(port: u16, timeout: f64, retry_for: f64, extra: &str) -> String {
    format!(
        "[smtp]\nurl = \"smtp://127.0.0.1:{port}\"\ntimeout_secs = {timeout}\n\
         retry_for_secs = {retry_for}\nconnections = 1\n{extra}"
    )
}

/// STARTTLS and AUTH, as the probe's server had them.
fn tls_and_auth(dir: &Path) -> (Vec<String>, String) {
    let (ca, cert, key) = certificates(dir);
    let args = tls_args(&cert, &key)
        .iter()
        .map(|a| a.to_string())
        .collect();
    (args, credentials(dir, &ca))
}

fn send(config: &Path, more: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["--config", config.to_str().unwrap(), "send", "--date", DATE];
    args.extend_from_slice(more);
    let (status, out, err) = dawnpost(&args, &[]);
    (status.code(), out, err)
}

fn status(config: &Path) -> String {
    let (s, out, err) = dawnpost(&["--config", config.to_str().unwrap(), "status"], &[]);
    assert!(s.success(), "status: {err}");
    out
}

fn delivered(maildir: &Path) -> (BTreeMap<String, usize>, Vec<String>) {
    crate::smtp::delivered(maildir, OWNER)
}

fn ledger_tells_the_truth(rows: &[LedgerRow], maildir: &Path) {
    crate::smtp::ledger_tells_the_truth(rows, maildir, OWNER, 5);
}

fn status_of<'a>(rows: &'a [LedgerRow], r: &str) -> &'a LedgerRow {
    rows.iter().find(|row| row.0 == r).unwrap()
}

/// The probe's case: the first DATA answered only after the deadline (the message taken),
/// 554 for r3's DATA, one connection. Before the fix, r1's late 250 was read as r2's answer
/// and so on down the line: five "sent", r3 never delivered.
#[test]
fn a_late_reply_never_answers_the_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut args, extra) = tls_and_auth(dir.path());
    args.extend(["--delay-first".into(), "DATA=2".into()]);
    args.extend(["--data-fail".into(), format!("{}=554", recipient(3))]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(server) = start(dir.path(), &args) else {
        return;
    };
    let config = shop(dir.path(), &smtp_table(server.port, 0.5, 3.0, &extra));
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains(&format!("UNKNOWN: {}", recipient(1))), "{out}");
    assert!(out.contains(&format!("FAILED: {}", recipient(3))), "{out}");

    let probe = LedgerProbe::new(&dir.path().join("faults.sqlite"));
    let rows = probe.rows(REPORT);
    ledger_tells_the_truth(&rows, &server.maildir);
    assert_eq!(status_of(&rows, &recipient(1)).1, "unknown");
    let r3 = status_of(&rows, &recipient(3));
    assert_eq!(r3.1, "failed");
    assert!(r3.3.as_deref().unwrap().contains("554"), "{r3:?}");
    for i in [2, 4, 5] {
        assert_eq!(status_of(&rows, &recipient(i)).1, "sent");
    }
    let (per, summaries) = delivered(&server.maildir);
    assert_eq!(per.get(&recipient(1)), Some(&1), "the server took r1 once");
    assert_eq!(per.get(&recipient(3)), None);
    let replies = std::fs::read_to_string(server.maildir.join("replies.log")).unwrap();
    assert!(
        replies.contains(&format!("554 {}", recipient(3))),
        "{replies}"
    );
    // The owner hears of both.
    assert_eq!(summaries.len(), 1);
    assert!(summaries[0].contains(&recipient(1)) && summaries[0].contains(&recipient(3)));
    assert!(status(&config).contains("3 sent, 1 failed, 0 pending, 1 unknown"));

    // Run again: r1 is not re-sent (a possible duplicate), r3 is refused again.
    let (code, out, _) = send(&config, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains(&format!("not sent again: {}", recipient(1))),
        "{out}"
    );
    assert_eq!(delivered(&server.maildir).0.get(&recipient(1)), Some(&1));
    ledger_tells_the_truth(&probe.rows(REPORT), &server.maildir);
}

/// A connection dropped after the message was written, before any reply: unknown, and the
/// rest go out on fresh connections.
#[test]
fn a_connection_dropped_in_data_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &["--drop-in-data", "1"]) else {
        return;
    };
    let config = shop(
        dir.path(),
        &smtp_table(server.port, 0.5, 3.0, "plaintext = true\n"),
    );
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
    ledger_tells_the_truth(&rows, &server.maildir);
    assert_eq!(status_of(&rows, &recipient(2)).1, "unknown");
    assert_eq!(rows.iter().filter(|r| r.1 == "sent").count(), 4, "{rows:?}");
    assert!(status(&config).contains("4 sent, 0 failed, 0 pending, 1 unknown"));
}

/// MAIL answered after the deadline: nothing was sent on that connection, so the message
/// is retried on a new one, and every later reply still belongs to its own message.
#[test]
fn a_slow_mail_reply_is_retried_on_a_fresh_connection() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &["--delay-first", "MAIL=1.5"]) else {
        return;
    };
    let config = shop(
        dir.path(),
        &smtp_table(server.port, 0.3, 5.0, "plaintext = true\n"),
    );
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains(&recipient(1)) && err.contains("retrying"),
        "the retry warning names the recipient: {err}"
    );
    let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
    ledger_tells_the_truth(&rows, &server.maildir);
    assert!(rows.iter().all(|r| r.1 == "sent"), "{rows:?}");
    assert_eq!(status_of(&rows, &recipient(1)).2, 2, "two attempts for r1");
    assert!(status(&config).contains("5 sent, 0 failed, 0 pending, 0 unknown"));
}

/// 451 to one RCPT every time: retried until the window closes, then failed; the others
/// are served.
#[test]
fn a_recipient_deferred_until_the_window_closes_is_failed() {
    let dir = tempfile::tempdir().unwrap();
    let fail = format!("{}=451", recipient(4));
    let Some(server) = start(dir.path(), &["--rcpt-fail", &fail]) else {
        return;
    };
    let config = shop(
        dir.path(),
        &smtp_table(server.port, 0.5, 1.5, "plaintext = true\n"),
    );
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
    ledger_tells_the_truth(&rows, &server.maildir);
    let r4 = status_of(&rows, &recipient(4));
    assert_eq!(r4.1, "failed");
    assert!(r4.2 >= 2, "retried: {r4:?}");
    assert!(r4.3.as_deref().unwrap().contains("451"), "{r4:?}");
    assert!(status(&config).contains("4 sent, 1 failed, 0 pending, 0 unknown"));
}

/// A server that never answers: every recipient fails within the deadlines, nobody is
/// recorded as sent, and the run ends with an error, not a hang or a panic.
#[test]
fn a_silent_server_fails_everyone_within_the_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = start(dir.path(), &["--silent"]) else {
        return;
    };
    let config = shop(
        dir.path(),
        &smtp_table(server.port, 0.2, 0.8, "plaintext = true\n"),
    );
    let started = Instant::now();
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    // Five recipients one at a time, each bounded by the retry window and two connect
    // deadlines; far less than a minute.
    assert!(started.elapsed() < Duration::from_secs(30));
    let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
    assert!(rows.iter().all(|r| r.1 == "failed"), "{rows:?}");
    assert!(status(&config).contains("0 sent, 5 failed, 0 pending, 0 unknown"));
}

/// A refused login stops the send; the recipients never tried are recorded too, so
/// `status` counts all five.
#[test]
fn a_refused_login_records_every_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let (args, extra) = tls_and_auth(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(server) = start(dir.path(), &args) else {
        return;
    };
    std::fs::write(dir.path().join("smtp-password"), "wrong\n").unwrap();
    let config = shop(dir.path(), &smtp_table(server.port, 1.0, 2.0, &extra));
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("refused the login"), "{err}");
    assert!(!format!("{out}{err}").contains(PASSWORD));
    let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
    ledger_tells_the_truth(&rows, &server.maildir);
    assert!(status(&config).contains("0 sent, 5 failed, 0 pending, 0 unknown"));
}

/// A valid 245-character address gets a file of its own with a name the file system takes.
#[test]
fn an_outbox_file_for_a_long_address_has_a_short_name() {
    let dir = tempfile::tempdir().unwrap();
    // Labels of at most 63 characters, as DNS allows.
    let long = format!(
        "{}@{}.{}.{}.example",
        "a".repeat(64),
        "b".repeat(57),
        "c".repeat(57),
        "d".repeat(56)
    );
    assert_eq!(long.len(), 245);
    let config = shop(dir.path(), "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&recipient(5), &long);
    std::fs::write(&config, text).unwrap();
    let (code, out, err) = send(&config, &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let files: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".eml") && f.len() < 100));
}

/// A write that fails (a full device, here /dev/full; a name taken by a folder) leaves no
/// temporary file behind, and says whether waiting can help.
#[test]
fn a_failed_outbox_write_leaves_no_temporary_file() {
    use dawnpost::delivery::{DeliveryError, outbox};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join(".full.eml.tmp");
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let e = rt
        .block_on(outbox::write(
            dir.path(),
            "full",
            b"x".repeat(10_000),
            &async || Ok(()),
        ))
        .unwrap_err();
    assert!(matches!(e, DeliveryError::Transient(_)), "{e}");
    assert!(std::fs::symlink_metadata(&tmp).is_err(), "temp file left");

    std::fs::create_dir_all(dir.path().join("taken.eml/inside")).unwrap();
    assert!(
        rt.block_on(outbox::write(
            dir.path(),
            "taken",
            b"x".to_vec(),
            &async || Ok(())
        ))
        .is_err()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["taken.eml"], "only the folder that was there");
}

/// Hostile names and headers: `check` refuses them with file:line, or every command runs on
/// them to an exit code of 0 or 1. None may panic (exit 101), under systemd a crash loop.
#[test]
fn no_command_panics_on_a_config_that_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let base = shop(dir.path(), "");
    let text = std::fs::read_to_string(&base).unwrap();
    // As long as a name may be (config::MAX_NAME), and two bytes a character.
    let long_name = "Ä".repeat(200);
    let cases: Vec<(&str, String)> = vec![
        (
            "CR LF in a display name",
            text.replace("name = \"R2\"", "name = \"R2\\r\\nBcc: x@evil.example\""),
        ),
        (
            "LF in a report name",
            text.replace("name = \"morning\"", "name = \"mor\\nning\""),
        ),
        (
            "NUL in the shop name",
            text.replace("Small Test Shop", "Small\\u0000Shop"),
        ),
        (
            "CR in the sender",
            text.replace("Reports <reports@", "Rep\\rorts <reports@"),
        ),
        (
            "a long, non-ASCII display name",
            text.replace("name = \"R3\"", &format!("name = \"{long_name}\"")),
        ),
        (
            "quotes and commas in a name",
            text.replace("name = \"R4\"", "name = \"O'Neil, \\\"Ops\\\" <lead>\""),
        ),
    ];
    let outbox = dir.path().join("preview");
    let commands: [&[&str]; 6] = [
        &["recipients"],
        &["status"],
        &["schedule", "--count", "2"],
        &["send", "--date", DATE, "--dry-run"],
        &["preview", "--date", DATE, "--out", outbox.to_str().unwrap()],
        &["send", "--date", DATE],
    ];
    let mut accepted = 0;
    for (what, variant) in &cases {
        std::fs::write(&base, variant).unwrap();
        let cfg = base.to_str().unwrap();
        let (s, _, err) = dawnpost(&["--config", cfg, "check"], &[]);
        assert!(!err.contains("panicked"), "{what}: check panicked: {err}");
        if !s.success() {
            assert_eq!(s.code(), Some(1), "{what}: {err}");
            assert!(
                err.contains("faults.toml:"),
                "{what}: names file and line: {err}"
            );
            continue;
        }
        accepted += 1;
        for c in commands {
            let mut args = vec!["--config", cfg];
            args.extend_from_slice(c);
            let (s, out, err) = dawnpost(&args, &[]);
            assert!(
                matches!(s.code(), Some(0 | 1)) && !err.contains("panicked"),
                "{what}: {c:?} exited {:?}: {out}\n{err}",
                s.code()
            );
        }
    }
    assert_eq!(
        accepted, 2,
        "the last two cases are fine and must be accepted"
    );
}

/// An address beyond ASCII needs SMTPUTF8: refused for that recipient alone where the server
/// does not offer it (nothing sent), delivered where it does; a domain alone beyond ASCII is
/// delivered either way.
#[test]
fn an_address_beyond_ascii_needs_smtputf8() {
    for (offer, code) in [(false, 1), (true, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let args: &[&str] = if offer { &[] } else { &["--no-smtputf8"] };
        let Some(server) = start(dir.path(), args) else {
            return;
        };
        let config = shop(
            dir.path(),
            &smtp_table(server.port, 1.0, 1.0, "plaintext = true\n"),
        );
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace(&recipient(5), "jörg@faults.example")
            .replace(&recipient(4), "r4@bücher.example");
        std::fs::write(&config, text).unwrap();
        let (c, out, err) = send(&config, &[]);
        assert_eq!(c, Some(code), "SMTPUTF8 offered: {offer}: {out}\n{err}");
        let rows = LedgerProbe::new(&dir.path().join("faults.sqlite")).rows(REPORT);
        let jorg = status_of(&rows, "jörg@faults.example");
        let (per, _) = delivered(&server.maildir);
        if offer {
            assert_eq!(jorg.1, "sent");
            assert_eq!(per.values().sum::<usize>(), 5);
        } else {
            assert_eq!(jorg.1, "failed");
            assert!(jorg.3.as_deref().unwrap().contains("SMTPUTF8"), "{jorg:?}");
            assert_eq!(per.values().sum::<usize>(), 4);
        }
        // A domain beyond ASCII with an ASCII local part needs nothing of the server: its
        // ASCII form (RFC 5891) goes in the envelope where SMTPUTF8 is not offered.
        assert_eq!(status_of(&rows, "r4@bücher.example").1, "sent");
        let replies = std::fs::read_to_string(server.maildir.join("replies.log")).unwrap();
        let envelope = if offer {
            "r4@bücher.example"
        } else {
            "r4@xn--bcher-kva.example"
        };
        assert!(replies.contains(&format!("250 {envelope}\n")), "{replies}");
    }
}
