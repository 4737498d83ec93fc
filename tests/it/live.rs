//! Alerts as they happen: a day of hourly checks against the small shop, its Slack channel
//! answered by the local Slack server of tests/it/slack.rs. The promoted Beta Tee's cover
//! falls below its lead time at 10:00 and reaches 0 at 15:00: exactly two posts about it.
//! A restart repeats neither; quiet hours hold a new alert until they end; the next
//! morning's email lists what went out.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use dawnpost::delivery::live::check;
use dawnpost::delivery::outlets;

use crate::replay::Request;
use crate::slack::{accepted, body, slack};
use crate::support::{Backend, TestStore, both_backends};

both_backends!(
    a_day_of_hourly_checks_posts_the_new_and_the_worse_once,
    a_report_without_chat_gets_its_alerts_by_email
);

const CHANNEL: &str = "C0123ABC45";

/// The small shop posting to one Slack channel, with `[alerts] live` and quiet hours; None
/// where the backend's server is not installed.
async fn shop(replay: &crate::replay::Replay, b: Backend) -> Option<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("slack-token");
    std::fs::write(&token, "xoxb-test\n").unwrap();
    let mut text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    text = text.replacen(
        "name = \"morning\"",
        &format!("name = \"morning\"\nslack_channels = [\"{CHANNEL}\"]"),
        1,
    );
    text.push_str(&format!(
        "\n[alerts]\nlive = true\nquiet_hours = \"21:00-07:00\"\n\n[slack]\ntoken_file = \"{}\"\n\
         endpoint = \"https://127.0.0.1:{}/api\"\nca_file = \"{}\"\ncharts = false\nretry_for_secs = 2\n",
        token.display(),
        replay.port,
        replay.ca.display()
    ));
    let t = TestStore::new(b, &text).await?;
    drop(dir);
    Some(t.with_small_data().await)
}

/// Beta Tee's stock on `day`, as a stock export through the day would set it.
async fn stock(t: &TestStore, day: &str, sku: &str, on_hand: i64) {
    sqlx::query(
        "INSERT INTO inventory (day, sku, on_hand, on_order) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (day, sku) DO UPDATE SET on_hand = excluded.on_hand",
    )
    .bind(day)
    .bind(sku)
    .bind(on_hand)
    .execute(t.store.pool())
    .await
    .unwrap();
}

/// `hh:mm` on `day` in the shop's zone (New York).
fn at(t: &TestStore, day: &str, hour: u32, minute: u32) -> DateTime<Utc> {
    let d: NaiveDate = day.parse().unwrap();
    t.config
        .shop
        .timezone
        .from_local_datetime(&d.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The posts about `needle` so far.
fn posts_about(seen: &Arc<Mutex<Vec<Request>>>, needle: &str) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path() == "/api/chat.postMessage")
        .map(|r| body(r)["text"].as_str().unwrap_or("").to_string())
        .filter(|t| t.contains(needle))
        .collect()
}

async fn a_day_of_hourly_checks_posts_the_new_and_the_worse_once(b: Backend) {
    let (replay, seen) = slack(|_, _| accepted()).await;
    let Some(t) = shop(&replay, b).await else {
        return;
    };
    let outlets = outlets(&t.config).unwrap();
    // Beta Tee (lead time 21 days) is promoted in the Leap Sale (28 Feb - 5 Mar). By hand:
    // 500 on hand is far more cover than 21 days; 1 is less; 0 is out of stock.
    let day = "2024-03-02";
    for hour in 8..=20 {
        match hour {
            8 => stock(&t, day, "B", 500).await,
            10 => stock(&t, day, "B", 1).await,
            15 => stock(&t, day, "B", 0).await,
            _ => {}
        }
        let run = check(&t.store, &t.config, &outlets, at(&t, day, hour, 0))
            .await
            .unwrap();
        assert_eq!(run.held_until, None, "{hour}:00");
        let beta = posts_about(&seen, "Beta Tee");
        let want = match hour {
            ..10 => 0,
            10..15 => 1,
            _ => 2,
        };
        assert_eq!(beta.len(), want, "{hour}:00: {beta:?}");
    }
    let beta = posts_about(&seen, "Beta Tee");
    assert!(
        beta[0].contains("Critical") && beta[0].contains("of cover"),
        "{}",
        beta[0]
    );
    assert!(beta[1].contains("out of stock"), "{}", beta[1]);
    // A restart (a new process, the same store) finds both in the ledger.
    let outlets = dawnpost::delivery::outlets(&t.config).unwrap();
    check(&t.store, &t.config, &outlets, at(&t, day, 20, 30))
        .await
        .unwrap();
    assert_eq!(posts_about(&seen, "Beta Tee").len(), 2);
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT alert_key, CAST(level AS BIGINT), status FROM live_alerts \
         WHERE alert_key LIKE 'stock:B:%' ORDER BY level",
    )
    .fetch_all(t.store.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("stock:B:2024-03-02".to_string(), 2, "sent".to_string()),
            ("stock:B:2024-03-02".to_string(), 3, "sent".to_string())
        ]
    );

    // Quiet hours: Gamma Cap runs out at 22:00; nothing goes until 07:00, then it does.
    stock(&t, day, "C", 0).await;
    let run = check(&t.store, &t.config, &outlets, at(&t, day, 22, 0))
        .await
        .unwrap();
    assert_eq!(run.held_until, Some(at(&t, "2024-03-03", 7, 0)));
    assert!(posts_about(&seen, "Gamma Cap").is_empty());
    let run = check(&t.store, &t.config, &outlets, at(&t, "2024-03-03", 7, 0))
        .await
        .unwrap();
    assert!(run.tally.sent >= 1, "{run:?}");
    assert_eq!(posts_about(&seen, "Gamma Cap").len(), 1);

    // The morning email for 2 Mar lists what went out that day, each at its worst.
    let c = crate::support::composed_on(&t, day.parse().unwrap()).await;
    let note = &c.digest.live_note;
    assert!(
        note.starts_with("Sent as they happened on Sat 2 Mar: "),
        "{note}"
    );
    assert!(
        note.contains("Beta Tee: out of stock while promoted"),
        "{note}"
    );
    assert!(!note.contains("of cover"), "{note}");
    assert!(c.rendered.text.contains("Sent as they happened"));
}

/// A report with no chat destination gets its alerts by email, one message per member,
/// marked auto-generated; parsed back with mail-parser.
async fn a_report_without_chat_gets_its_alerts_by_email(b: Backend) {
    let mut text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    text.push_str("\n[alerts]\nlive = true\n");
    let Some(t) = TestStore::new(b, &text).await else {
        return;
    };
    let t = t.with_small_data().await;
    let outlets = outlets(&t.config).unwrap();
    stock(&t, "2024-03-02", "B", 0).await;
    let run = check(&t.store, &t.config, &outlets, at(&t, "2024-03-02", 10, 0))
        .await
        .unwrap();
    let outbox = &t.config.outbox;
    let mut subjects = Vec::new();
    for f in std::fs::read_dir(outbox).unwrap() {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            msg.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        subjects.push(msg.subject().unwrap().to_string());
    }
    let beta: Vec<&String> = subjects.iter().filter(|s| s.contains("Beta Tee")).collect();
    // The small shop's report goes to four people (tests/it/send.rs).
    assert_eq!(beta.len(), 4, "{subjects:?}");
    assert!(
        beta[0].starts_with("✗ Critical: B Beta Tee: out of stock while promoted"),
        "{}",
        beta[0]
    );
    assert_eq!(run.tally.sent, subjects.len());
    // Again at 11:00: nothing new.
    check(&t.store, &t.config, &outlets, at(&t, "2024-03-02", 11, 0))
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(outbox).unwrap().count(), subjects.len());
}
