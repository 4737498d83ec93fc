//! Microsoft Teams through the ledger, against a local HTTPS server that answers like a
//! Workflows webhook (fixtures/msteams-webhook/README.md): 202 taken, 429 waited out, 413
//! refused, no answer unknown and never repeated, 4 requests a second, the card under 28 KB
//! at the program's caps, and the webhook's secret URL in no error.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use dawnpost::delivery::{Channel, SendOptions, SendSummary, TeamsChannel, send};
use serde_json::Value;

use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore};

const SIG: &str = "sig=SeCrEt0123456789";

/// A webhook answering with `answer` to each card (numbered from 1), logging when each came.
async fn webhook(
    mut answer: impl FnMut(usize) -> Answer + Send + 'static,
) -> (Replay, Arc<Mutex<Vec<(Request, Instant)>>>) {
    let seen: Arc<Mutex<Vec<(Request, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut n = 0;
    let replay = Replay::start(move |r: &Request| {
        log.lock().unwrap().push((r.clone(), Instant::now()));
        n += 1;
        answer(n)
    })
    .await;
    (replay, seen)
}

fn accepted() -> Answer {
    Answer::Reply {
        status: 202,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// The small shop with its report posted to `replay`'s webhook.
async fn shop(replay: &Replay) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("teams-webhook");
    std::fs::write(
        &url,
        format!(
            "https://127.0.0.1:{}/workflows/abc/triggers/manual/paths/invoke?api-version=1&{SIG}\n",
            replay.port
        ),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    text = text.replacen(
        "name = \"morning\"",
        &format!(
            "name = \"morning\"\nteams_webhook_file = \"{}\"",
            url.display()
        ),
        1,
    );
    text.push_str(&format!(
        "\n[msteams]\nca_file = \"{}\"\nretry_for_secs = 5\n",
        replay.ca.display()
    ));
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    drop(dir);
    t.with_small_data().await
}

async fn post_report(t: &TestStore) -> SendSummary {
    let channel = TeamsChannel::from_config(&t.config).unwrap().unwrap();
    let d: NaiveDate = "2024-03-01".parse().unwrap();
    let report = t.config.report(None).unwrap();
    send(
        &t.store,
        &t.config,
        report,
        &channel,
        d,
        crate::support::now(t),
        &SendOptions::default(),
    )
    .await
    .unwrap()
}

async fn ledger(t: &TestStore) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT recipient, status, last_error FROM deliveries \
         WHERE report = 'morning' AND report_date = '2024-03-01' AND recipient LIKE 'msteams:%'",
    )
    .fetch_all(t.store.pool())
    .await
    .unwrap()
}

fn cards(seen: &Arc<Mutex<Vec<(Request, Instant)>>>) -> Vec<Value> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(r, _)| serde_json::from_slice(&r.body).unwrap())
        .filter(|b: &Value| b["attachments"][0]["content"]["body"][0]["size"] == "Large")
        .collect()
}

/// The card is taken (202) and recorded once; the report's figures are in it; a second run
/// posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_goes_once_to_the_webhook() {
    let (replay, seen) = webhook(|_| accepted()).await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 1, "{s:?}");
    let cards = cards(&seen);
    assert_eq!(cards.len(), 1);
    let c = &cards[0];
    assert_eq!(c["type"], "message");
    let a = &c["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(a["content"]["type"], "AdaptiveCard");
    // No images: Teams shows only images it can fetch from a URL.
    assert!(!c.to_string().contains("\"Image\""));
    // The figures are the email's: $90 of revenue on 1 Mar (tests/it/metrics.rs by hand).
    assert!(c.to_string().contains("Revenue $90"), "{c}");
    let r = ledger(&t).await;
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str()),
        ("msteams:morning", "sent")
    );
    let again = post_report(&t).await;
    assert_eq!(again.skipped.len(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// 429 with Retry-After is waited out, then sent; 413 is a failure that says why; no
/// answer after the card was sent is unknown and never repeated. No error shows the
/// webhook's secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_answers_are_recorded_truthfully() {
    let (replay, seen) = webhook(|n| {
        if n == 1 {
            Answer::Reply {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: Vec::new(),
            }
        } else {
            accepted()
        }
    })
    .await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 1, "{s:?}");
    let log = seen.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert!(log[1].1 - log[0].1 >= std::time::Duration::from_millis(950));

    let (replay, _) = webhook(|_| Answer::Reply {
        status: 413,
        headers: Vec::new(),
        body: b"Request Entity Too Large".to_vec(),
    })
    .await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.failed.len(), 1);
    let r = ledger(&t).await;
    let why = r[0].2.clone().unwrap();
    assert!(why.contains("too large (HTTP 413)"), "{why}");
    assert!(!why.contains(SIG));

    let (replay, seen) = webhook(|_| Answer::Drop).await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.unknown.len(), 1, "{s:?}");
    let why = &s.unknown[0].1;
    assert!(why.contains("no answer") && !why.contains(SIG), "{why}");
    let again = post_report(&t).await;
    assert_eq!(again.held.len(), 1);
    assert_eq!(cards(&seen).len(), 1, "never sent again");
}

/// Cards leave at most 4 a second: two in a row are a quarter second apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_leave_at_most_four_a_second() {
    let (replay, seen) = webhook(|_| accepted()).await;
    let t = shop(&replay).await;
    let channel = TeamsChannel::from_config(&t.config).unwrap().unwrap();
    let copy = Arc::new("{\"type\":\"message\",\"attachments\":[]}".to_string());
    let msg = channel.address(&copy, &"morning".to_string()).unwrap();
    for _ in 0..3 {
        channel.deliver(&msg, &async || Ok(())).await.unwrap();
    }
    let log = seen.lock().unwrap().clone();
    assert_eq!(log.len(), 3);
    for w in log.windows(2) {
        assert!(w[1].1 - w[0].1 >= std::time::Duration::from_millis(240));
    }
}

/// At the program's caps (the stress shop of tests/it/glance.rs) the card stays under
/// Teams' 28 KB, with every alert told or named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_stays_under_28_kb_at_the_caps() {
    let c = crate::glance::stress_shop().await;
    let d = &c.digest;
    let m = dawnpost::chat::teams::message(d);
    let bytes = m.to_string().len();
    assert!(bytes < 28 * 1024, "{bytes} bytes");
    let text = m.to_string();
    assert!(text.contains(&d.alerts_phrase));
    // (A title with a character Teams' markdown or JSON escapes is checked by its words.)
    for title in d.alerts.iter().map(|a| a.title.clone()) {
        let head: String = title.chars().take(20).collect();
        let head = head
            .split(['*', '_', '[', ']', '\\', '"'])
            .next()
            .unwrap_or("");
        assert!(text.contains(head), "{head:?} is not in the card");
    }
}

/// The fault suite's first case, on Teams: `dawnpost send` killed (SIGKILL) while the
/// webhook holds its card unanswered; the next run settles it as unknown and sends nothing
/// again; the webhook got exactly one card.
#[test]
fn a_killed_senders_card_is_never_sent_again() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (replay, seen) = rt.block_on(webhook(|_| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        accepted()
    }));
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("teams-webhook");
    std::fs::write(
        &url,
        format!(
            "https://127.0.0.1:{}/workflows/abc/triggers/manual/paths/invoke?api-version=1&{SIG}\n",
            replay.port
        ),
    )
    .unwrap();
    let db = dir.path().join("killed.sqlite");
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml"))
        .unwrap()
        .replacen(
            "name = \"morning\"",
            &format!(
                "name = \"morning\"\nteams_webhook_file = \"{}\"",
                url.display()
            ),
            1,
        )
        + &format!("\n[msteams]\nca_file = \"{}\"\n", replay.ca.display());
    let config = dir.path().join("killed.toml");
    std::fs::write(
        &config,
        crate::support::replace_store_url(&text, &format!("sqlite://{}", db.display())),
    )
    .unwrap();
    crate::support::import_small_cli(config.to_str().unwrap());
    let spawn = || crate::never_twice::spawn_send(&config);
    let mut child = spawn();
    let started = Instant::now();
    while seen.lock().unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 60, "the card never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let probe = crate::support::LedgerProbe::new(&db);
    let row = || {
        probe
            .rows("morning")
            .into_iter()
            .find(|r| r.0 == "msteams:morning")
            .unwrap()
    };
    assert_eq!(row().1, "pending", "as the kill left it");
    let out = spawn().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("UNKNOWN: msteams:morning"), "{stdout}");
    assert!(!stdout.contains(SIG));
    assert_eq!(row().1, "unknown");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the webhook got exactly one card"
    );
    drop(replay);
}
