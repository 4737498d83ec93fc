//! Slack through the ledger, against a local HTTPS server that answers like Slack's Web API
//! (fixtures/slack-api/README.md names where each answer comes from): the charts uploaded in
//! two steps and shown by file id, a post refused for its images sent again without them,
//! errors that name the channel, a rate limit waited out, a post whose answer never came
//! recorded as unknown and never repeated, and the limits at the program's caps.

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use dawnpost::delivery::{SendOptions, SendSummary, SlackChannel, send};
use serde_json::Value;

use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore};

const CHANNELS: [&str; 2] = ["C0123ABC45", "C0999XYZ12"];
const TOKEN: &str = "xoxb-test-1234";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate::support::fixture(&format!("slack-api/{name}"))).unwrap()
}

/// Slack as its docs answer: an upload URL on this server, the bytes taken, the upload
/// completed, the post accepted with its `ts`; `post` decides each `chat.postMessage`.
pub(crate) async fn slack(
    mut post: impl FnMut(&Request, usize) -> Answer + Send + 'static,
) -> (Replay, Arc<Mutex<Vec<Request>>>) {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let port = Arc::new(Mutex::new(0u16));
    let p = port.clone();
    let mut files = 0usize;
    let mut posts = 0usize;
    let replay = Replay::start(move |r: &Request| {
        log.lock().unwrap().push(r.clone());
        match r.path() {
            "/api/files.getUploadURLExternal" => {
                files += 1;
                let id = format!("F0{files:09}");
                let body = fixture("files.getUploadURLExternal.json")
                    .replace("F0000000001", &id)
                    .replace("PORT", &p.lock().unwrap().to_string());
                Answer::json(200, &body)
            }
            path if path.starts_with("/upload/") => Answer::Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: format!("OK - {}", r.body.len()).into_bytes(),
            },
            "/api/auth.test" => Answer::json(200, &fixture("auth.test.json")),
            "/api/files.completeUploadExternal" => {
                Answer::json(200, &fixture("files.completeUploadExternal.json"))
            }
            "/api/chat.postMessage" => {
                posts += 1;
                post(r, posts)
            }
            _ => Answer::json(404, "{\"ok\":false,\"error\":\"unknown_method\"}"),
        }
    })
    .await;
    *port.lock().unwrap() = replay.port;
    (replay, seen)
}

pub(crate) fn accepted() -> Answer {
    Answer::json(200, &fixture("chat.postMessage.ok.json"))
}

/// The small shop with `[slack]` pointed at `replay`, its report posted to two channels.
async fn shop(replay: &Replay) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("slack-token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let mut text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    text = text.replacen(
        "name = \"morning\"",
        &format!("name = \"morning\"\nslack_channels = {CHANNELS:?}"),
        1,
    );
    text.push_str(&format!(
        "\n[slack]\ntoken_file = \"{}\"\nendpoint = \"https://127.0.0.1:{}/api\"\nca_file = \"{}\"\nretry_for_secs = 5\n",
        token.display(),
        replay.port,
        replay.ca.display()
    ));
    let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
    // The token file is read at parse time; the directory may go.
    drop(dir);
    t.with_small_data().await
}

async fn post_report(t: &TestStore) -> SendSummary {
    try_post_report(t).await.unwrap()
}

async fn try_post_report(t: &TestStore) -> anyhow::Result<SendSummary> {
    let channel = SlackChannel::from_config(&t.config).unwrap().unwrap();
    let report = t.config.report(None).unwrap();
    let d: NaiveDate = "2024-03-01".parse().unwrap();
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
}

pub(crate) fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn calls<'a>(seen: &'a [Request], path: &str) -> Vec<&'a Request> {
    seen.iter().filter(|r| r.path() == path).collect()
}

async fn ledger(t: &TestStore) -> Vec<(String, String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT recipient, status, message_id, last_error FROM deliveries \
         WHERE report = 'morning' AND report_date = '2024-03-01' AND recipient LIKE 'slack:%' \
         ORDER BY recipient",
    )
    .fetch_all(t.store.pool())
    .await
    .unwrap()
}

/// Each channel gets one post, with the charts uploaded in two steps and shown by file id,
/// the token in the header only; a second run posts nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_channel_gets_the_report_once_with_its_charts() {
    let (replay, log) = slack(|_, _| accepted()).await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 2, "{s:?}");
    let seen = seen_now(&log);
    let posts = calls(&seen, "/api/chat.postMessage");
    assert_eq!(posts.len(), 2);
    let uploads = calls(&seen, "/api/files.getUploadURLExternal");
    // The small shop's charts: the key results chart only (its days are too few for the
    // others); sparklines stay in the email.
    assert_eq!(uploads.len(), 2, "one chart, once per channel");
    assert_eq!(
        seen.iter()
            .filter(|r| r.path().starts_with("/upload/"))
            .count(),
        2
    );
    for r in &seen {
        assert_eq!(
            r.header("Authorization").is_some(),
            r.path().starts_with("/api/")
        );
        assert!(!r.target.contains(TOKEN), "the token in a URL");
    }
    let auth = posts[0].header("Authorization").unwrap();
    assert_eq!(auth, format!("Bearer {TOKEN}"));
    // Completed without sharing: only the post reaches the channel.
    for c in calls(&seen, "/api/files.completeUploadExternal") {
        assert!(body(c).get("channel_id").is_none());
    }
    let mut channels: Vec<String> = posts
        .iter()
        .map(|p| body(p)["channel"].as_str().unwrap().to_string())
        .collect();
    channels.sort();
    assert_eq!(channels, CHANNELS);
    let b = body(posts[0]);
    let blocks = b["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.len() <= 50);
    let images: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "image").collect();
    assert_eq!(images.len(), 1);
    assert!(
        images[0]["slack_file"]["id"]
            .as_str()
            .unwrap()
            .starts_with("F0")
    );
    // The figures are the email's: $90 of revenue on 1 Mar (tests/it/metrics.rs by hand).
    assert!(
        b["text"].as_str().unwrap().contains("Revenue $90"),
        "{}",
        b["text"]
    );
    let rows = ledger(&t).await;
    assert_eq!(rows.len(), 2);
    for (who, status, reference, _) in &rows {
        assert_eq!(status, "sent", "{who}");
        assert!(
            reference
                .as_deref()
                .unwrap()
                .ends_with(":1503435956.000247")
        );
    }
    // `status` counts them by channel.
    let counts = t.store.delivery_counts("morning", 7).await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].1.len(), 1);
    assert_eq!((counts[0].1[0].0, counts[0].1[0].1.sent), ("slack", 2));
    // Again: the ledger says both were served.
    let again = post_report(&t).await;
    assert_eq!((again.sent.len(), again.skipped.len()), (0, 2));
    assert_eq!(calls(&seen_now(&log), "/api/chat.postMessage").len(), 2);
    drop(replay);
}

fn seen_now(seen: &Arc<Mutex<Vec<Request>>>) -> Vec<Request> {
    seen.lock().unwrap().clone()
}

/// A post refused for its blocks (an image Slack cannot show) goes again without images:
/// the report arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_refused_for_its_images_goes_again_without_them() {
    let (replay, seen) = slack(|r, _| {
        let has_image = body(r)["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["type"] == "image");
        if has_image {
            Answer::json(200, &fixture("chat.postMessage.invalid_blocks.json"))
        } else {
            accepted()
        }
    })
    .await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 2, "{s:?}");
    let seen = seen.lock().unwrap().clone();
    let posts = calls(&seen, "/api/chat.postMessage");
    assert_eq!(
        posts.len(),
        4,
        "each channel: refused with images, then taken"
    );
    let without: Vec<&&Request> = posts
        .iter()
        .filter(|p| {
            !body(p)["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["type"] == "image")
        })
        .collect();
    assert_eq!(without.len(), 2);
    assert!(ledger(&t).await.iter().all(|r| r.1 == "sent"));
}

/// Slack's refusals name the channel: an unknown channel fails that channel only; a
/// revoked token stops the send and says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_channel() {
    let (replay, _) = slack(|r, _| {
        if body(r)["channel"] == CHANNELS[1] {
            Answer::json(200, &fixture("chat.postMessage.channel_not_found.json"))
        } else {
            accepted()
        }
    })
    .await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 1);
    assert_eq!(s.failed.len(), 1);
    let rows = ledger(&t).await;
    let failed = rows.iter().find(|r| r.1 == "failed").unwrap();
    assert_eq!(failed.0, format!("slack:{}", CHANNELS[1]));
    let why = failed.3.as_deref().unwrap();
    assert!(
        why.contains(&format!("channel {}", CHANNELS[1])) && why.contains("no such channel"),
        "{why}"
    );

    let (replay, seen) =
        slack(|_, _| Answer::json(200, &fixture("chat.postMessage.token_revoked.json"))).await;
    let t = shop(&replay).await;
    let err = format!("{:#}", try_post_report(&t).await.unwrap_err());
    assert!(
        err.contains("revoked") && err.contains("channel C0"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
    // Nothing more is tried once the token is known to be dead.
    assert_eq!(calls(&seen_now(&seen), "/api/chat.postMessage").len(), 1);
    let rows = ledger(&t).await;
    let why = rows
        .iter()
        .find_map(|r| r.3.clone())
        .expect("an error recorded");
    assert!(why.contains("revoked"), "{why}");
    assert!(rows.iter().all(|r| r.1 != "sent"));
}

/// HTTP 429 with Retry-After: nothing was posted, so it is waited out and sent; one post
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_waited_out() {
    let (replay, seen) = slack(|_, n| {
        if n == 1 {
            Answer::json(429, &fixture("chat.postMessage.ratelimited.json"))
                .with_header("Retry-After", "1")
        } else {
            accepted()
        }
    })
    .await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.sent.len(), 2, "{s:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(calls(&seen, "/api/chat.postMessage").len(), 3);
}

/// The server takes the post and the connection dies before it answers: Slack may have
/// posted it, so the ledger says unknown, and a re-run does not post again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_an_answer_is_unknown_and_never_repeated() {
    let (replay, seen) = slack(|_, _| Answer::Drop).await;
    let t = shop(&replay).await;
    let s = post_report(&t).await;
    assert_eq!(s.unknown.len(), 2, "{s:?}");
    assert!(ledger(&t).await.iter().all(|r| r.1 == "unknown"));
    // The report's posts (the owner's note, which goes to the first channel, has no header).
    let reports = |seen: &Arc<Mutex<Vec<Request>>>| {
        calls(&seen_now(seen), "/api/chat.postMessage")
            .iter()
            .filter(|r| body(r)["blocks"][0]["type"] == "header")
            .count()
    };
    let before = reports(&seen);
    assert_eq!(before, 2, "no retry of a post that may have arrived: {s:?}");
    let again = post_report(&t).await;
    assert_eq!(again.held.len(), 2);
    assert_eq!(reports(&seen), 2);
}

/// At the program's caps (the stress shop of tests/it/glance.rs: 104 alerts, 8 campaigns,
/// 200 metrics of its own), the post keeps Slack's limits with five charts: at most 50
/// blocks, 3,000 characters a section, 12 KB in all, and every alert accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_post_keeps_slacks_limits_at_the_caps() {
    let c = crate::glance::stress_shop().await;
    let d = &c.digest;
    let post = dawnpost::chat::slack::post(d);
    let charts: Vec<dawnpost::chat::slack::Uploaded<'_>> = d
        .charts
        .iter()
        .filter(|v| !v.id.starts_with("spark_"))
        .enumerate()
        .map(|(i, chart)| dawnpost::chat::slack::Uploaded {
            file_id: format!("F0{i:09}"),
            chart,
        })
        .collect();
    assert!(charts.len() >= 4);
    let full = dawnpost::chat::slack::with_images(&post, &charts);
    for p in [&post, &full] {
        assert!(p.blocks.len() <= 50, "{} blocks", p.blocks.len());
        let bytes = serde_json::to_string(&p.blocks).unwrap().len();
        assert!(bytes <= 12_000, "{bytes} bytes");
        for b in &p.blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3_000);
            }
        }
    }
    assert_eq!(
        full.blocks.iter().filter(|b| b["type"] == "image").count(),
        charts.len()
    );
    // Every alert is told in full or named in a line, as in the email.
    let text = serde_json::to_string(&full.blocks).unwrap();
    assert!(text.contains(&d.alerts_phrase), "{}", d.alerts_phrase);
    let titles = d.alerts.iter().map(|a| a.title.clone()).chain(
        d.more_alerts
            .iter()
            .map(|m| m.split_once(": ").map_or(m.clone(), |x| x.1.to_string())),
    );
    for title in titles {
        let head: String = title.chars().take(24).collect();
        assert!(text.contains(&head), "{head:?} is not in the post");
    }
}

/// `send --to slack:C…` is a test send through Slack alone: one post to that channel, no
/// ledger row, and the email channel does not take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_send_to_a_channel_posts_once_and_records_nothing() {
    let (replay, seen) = slack(|_, _| accepted()).await;
    let t = shop(&replay).await;
    let outlets = dawnpost::delivery::outlets(&t.config).unwrap();
    let to = format!("slack:{}", CHANNELS[1]);
    let takers: Vec<String> = outlets
        .iter()
        .filter(|o| o.takes(&to))
        .map(|o| o.to_string())
        .collect();
    assert_eq!(takers.len(), 1, "{takers:?}");
    assert!(takers[0].starts_with("Slack"), "{takers:?}");
    assert!(
        !outlets
            .iter()
            .any(|o| o.takes("slack-ish@small.example") && o.to_string().starts_with("Slack"))
    );
    let slack = outlets.iter().find(|o| o.takes(&to)).unwrap();
    let report = t.config.report(None).unwrap();
    let now = crate::support::now(&t);
    let opts = SendOptions {
        to: vec![to.clone()],
        ..SendOptions::default()
    };
    let s = slack
        .send(
            &t.store,
            &t.config,
            report,
            "2024-03-01".parse().unwrap(),
            now,
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(s.sent.len(), 1);
    let posts = calls(&seen_now(&seen), "/api/chat.postMessage")
        .iter()
        .map(|p| body(p)["channel"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(posts, [CHANNELS[1]]);
    assert!(ledger(&t).await.is_empty(), "a test send is not recorded");
}

/// The fault suite's first case, on Slack: the `dawnpost send` process is killed (SIGKILL)
/// while Slack holds its post unanswered. The ledger keeps it pending; the next run settles
/// it as unknown and does not post again; Slack got exactly one post.
#[test]
fn a_killed_senders_post_is_never_sent_again() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Slack takes the post and answers it 3 s later: the sender is killed in between.
    let (replay, seen) = rt.block_on(slack(|_, _| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        accepted()
    }));
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("slack-token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let db = dir.path().join("killed.sqlite");
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml"))
        .unwrap()
        .replacen(
            "name = \"morning\"",
            &format!("name = \"morning\"\nslack_channels = [\"{}\"]", CHANNELS[0]),
            1,
        )
        + &format!(
            "\n[slack]\ntoken_file = \"{}\"\nendpoint = \"https://127.0.0.1:{}/api\"\nca_file = \"{}\"\ncharts = false\n",
            token.display(),
            replay.port,
            replay.ca.display()
        );
    let config = dir.path().join("killed.toml");
    std::fs::write(
        &config,
        crate::support::replace_store_url(&text, &format!("sqlite://{}", db.display())),
    )
    .unwrap();
    crate::support::import_small_cli(config.to_str().unwrap());
    let spawn = || crate::never_twice::spawn_send(&config);
    let posts = || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|r| r.path() == "/api/chat.postMessage")
            .count()
    };
    let mut child = spawn();
    let started = std::time::Instant::now();
    while posts() == 0 {
        assert!(started.elapsed().as_secs() < 60, "the post never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let probe = crate::support::LedgerProbe::new(&db);
    let slack_row = |rows: Vec<crate::support::LedgerRow>| {
        rows.into_iter()
            .find(|r| r.0 == format!("slack:{}", CHANNELS[0]))
            .unwrap()
    };
    assert_eq!(
        slack_row(probe.rows("morning")).1,
        "pending",
        "as the kill left it"
    );
    let out = spawn().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("UNKNOWN: slack:{}", CHANNELS[0])),
        "{stdout}"
    );
    assert_eq!(slack_row(probe.rows("morning")).1, "unknown");
    // Give a late second post time to arrive, were there one.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(posts(), 1, "Slack got exactly one post");
    // And never later either.
    let out = spawn().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("not sent again: slack:{}", CHANNELS[0])),
        "{stdout}"
    );
    assert_eq!(posts(), 1);
    drop(replay);
}

/// `check` signs in with `auth.test` and says as whom, posting nothing; a revoked token is
/// an error that says what to do, without the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_signs_in_and_posts_nothing() {
    let (replay, seen) = slack(|_, _| accepted()).await;
    let t = shop(&replay).await;
    let channel = SlackChannel::from_config(&t.config).unwrap().unwrap();
    assert_eq!(
        channel.probe().await.unwrap(),
        "dawnpost in Northwind Outfitters"
    );
    let paths: Vec<String> = seen_now(&seen)
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, ["/api/auth.test"]);

    let revoked =
        Replay::start(|_| Answer::json(200, &fixture("chat.postMessage.token_revoked.json"))).await;
    let t = shop(&revoked).await;
    let channel = SlackChannel::from_config(&t.config).unwrap().unwrap();
    let err = format!("{:#}", channel.probe().await.unwrap_err());
    assert!(
        err.contains("revoked") && err.contains("make a new one"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
}
