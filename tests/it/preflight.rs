//! The campaign pre-flight on the demo shop, on a campaign constructed to fail: a knitwear
//! push whose first SKU's stock (set here) runs out on its 4th day at the stated +30% and
//! whose Saturday has a capacity of 10 orders. The cover, the restock, the capacity to add and
//! the margin are worked by hand from separate SQL; the lift against the same plan at 0%.
//! Then the handoff: `serve` sends it once to everyone, never again on a repeated run, and
//! again after the campaign's dates change; and `preflight --confirm` is shown in "Coming up".

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use dawnpost::metrics::preflight::{Plan, Preflight, Problem};
use dawnpost::serve::{ServeOptions, Shutdown, serve};
use dawnpost::shops::{Shop, Shops};

use crate::support::{Backend, TestStore, both_backends};

both_backends!(a_campaign_built_to_fail_gets_the_hand_worked_verdict);

/// The demo's last day: the check is made on the data to it.
const END: &str = "2026-12-06";
/// The campaign: Thu 10 Dec to Wed 16 Dec, 3 days of ordinary sales after the end.
const START: &str = "2026-12-10";
const LAST: &str = "2026-12-16";
const SATURDAY: &str = "2026-12-12";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Text wrapped at 76 as one line, so a phrase is found wherever the wrap fell; each
/// bullet keeps its "- ".
fn joined(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .fold(String::new(), |mut out, l| {
            if l.starts_with("- ") || out.is_empty() {
                out.push('\n');
            } else {
                out.push(' ');
            }
            out.push_str(l);
            out
        })
}

async fn demo(b: Backend) -> Option<TestStore> {
    crate::weekly::demo(b, 150, "").await
}

/// Units of `sku` sold in the 14 days to `END`, from the raw rows.
async fn sold_14(t: &TestStore, sku: &str) -> f64 {
    t.scalar(&format!(
        "SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
         WHERE l.sku = '{sku}' AND o.status <> 'cancelled' AND o.day BETWEEN '2026-11-23' AND '{END}'"
    ))
    .await
    .unwrap()
}

/// The two promoted SKUs: the knitwear SKU that sells best over the 14 days, and the next.
async fn two_skus(t: &TestStore) -> (String, String) {
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.sku FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
         WHERE l.sku LIKE 'KNT-%' AND o.status <> 'cancelled' AND o.day BETWEEN '2026-11-23' AND '{END}' \
         GROUP BY l.sku ORDER BY SUM(l.quantity) DESC, l.sku LIMIT 2"
    )))
    .fetch_all(t.store.pool())
    .await
    .unwrap();
    (rows[0].0.clone(), rows[1].0.clone())
}

async fn exec(t: &TestStore, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(t.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Stock and capacity set as the failing plan needs: returns the first SKU's stock.
async fn arrange(t: &TestStore, first: &str, second: &str, rate: f64) -> i64 {
    // 3 days at the ordinary rate, then 3.5 campaign days at +30%: it sells out on day 4.
    let on_hand = (3.0 * rate + 3.5 * 1.3 * rate).round() as i64;
    for (sku, n) in [(first, on_hand), (second, 100_000)] {
        exec(
            t,
            &format!(
                "INSERT INTO inventory (day, sku, on_hand, on_order) VALUES ('{END}', '{sku}', {n}, 0) \
                 ON CONFLICT (day, sku) DO UPDATE SET on_hand = excluded.on_hand"
            ),
        )
        .await;
    }
    let mut day = d(END);
    while day < d(LAST) {
        day = day + Days::new(1);
        let cap = if day == d(SATURDAY) { 10 } else { 100_000 };
        exec(
            t,
            &format!(
                "INSERT INTO capacity (day, orders) VALUES ('{day}', {cap}) \
                 ON CONFLICT (day) DO UPDATE SET orders = excluded.orders"
            ),
        )
        .await;
    }
    on_hand
}

fn plan(first: &str, second: &str, lift: f64) -> Plan {
    Plan {
        campaign: "Knitwear push".into(),
        channel: "email".into(),
        start: d(START),
        end: d(LAST),
        skus: vec![first.to_string(), second.to_string()],
        expected_lift: Some(lift),
        discount: Some(0.2),
    }
}

async fn check(t: &TestStore, p: &Plan) -> Preflight {
    t.store.save_plan(p).await.unwrap();
    dawnpost::store::gather::preflight(&t.store, &t.config, p, d(END))
        .await
        .unwrap()
}

async fn a_campaign_built_to_fail_gets_the_hand_worked_verdict(b: Backend) {
    let Some(t) = demo(b).await else { return };
    let (first, second) = two_skus(&t).await;
    let rate = sold_14(&t, &first).await / 14.0;
    assert!(rate > 1.0, "{first} sells {rate} a day");
    let on_hand = arrange(&t, &first, &second, rate).await;

    // By hand: 3 days (7-9 Dec) at the ordinary rate, then 1.3 × rate a day.
    let at_start = on_hand as f64 - 3.0 * rate;
    let day = (at_start / (1.3 * rate)).ceil() as i64;
    assert_eq!(day, 4, "the arrangement makes day 4");
    let restock = (3.0 * rate + 7.0 * 1.3 * rate - on_hand as f64).ceil() as i64;

    let flat = check(&t, &plan(&first, &second, 0.0)).await;
    let c = check(&t, &plan(&first, &second, 0.3)).await;
    assert!(!c.ready);
    assert_eq!(c.verdict(), "not ready");

    // The lift: each campaign day 1.3 times the same plan at 0%.
    assert_eq!(c.days.len(), 7);
    for (a, z) in c.days.iter().zip(&flat.days) {
        assert!(
            (a.expected - 1.3 * z.expected).abs() < 1e-6,
            "{}: {} against {}",
            a.day,
            a.expected,
            z.expected
        );
    }

    // The capacity: only Saturday, 10 orders, against the top of its range at 90%.
    let sat = c.days.iter().find(|x| x.day == d(SATURDAY)).unwrap();
    let over: Vec<NaiveDate> = c.days.iter().filter(|x| x.over).map(|x| x.day).collect();
    assert_eq!(over, vec![d(SATURDAY)]);
    let add = (sat.high / 0.9 - 10.0).ceil() as i64;

    // The margin at 20% off, from the products.
    let price = t
        .scalar(&format!(
            "SELECT unit_price FROM products WHERE sku = '{first}'"
        ))
        .await
        .unwrap();
    let cost = t
        .scalar(&format!(
            "SELECT unit_cost FROM products WHERE sku = '{first}'"
        ))
        .await
        .unwrap();
    let s = c.skus.iter().find(|s| s.sku == first).unwrap();
    assert!((s.unit_margin.unwrap() - (price * 0.8 - cost)).abs() < 1e-9);
    assert!(
        price * 0.8 > cost,
        "the demo sells knitwear above cost at 20% off"
    );
    assert_eq!(s.on_hand, Some(on_hand));
    assert!((s.daily_units - rate).abs() < 1e-9);

    let lead = t
        .scalar(&format!(
            "SELECT lead_time_days FROM products WHERE sku = '{first}'"
        ))
        .await
        .unwrap() as u64;
    assert_eq!(
        c.problems,
        vec![
            Problem::RunsOut {
                sku: first.clone(),
                restock,
                reorder_arrives: Some(d(END) + Days::new(lead + 1)),
                run_out_day: 4,
            },
            Problem::OverCapacity {
                day: d(SATURDAY),
                add,
            },
        ]
    );

    // As people read it.
    let f = dawnpost::digest::format::Formatter::new(
        t.config.format.clone(),
        t.config.shop.currency_symbol.clone(),
    );
    let text = dawnpost::digest::preflight::text(&dawnpost::digest::preflight::view(&c, &f));
    for needle in [
        "Pre-flight: Knitwear push (email, Thu 10 Dec to Wed 16 Dec): not ready".to_string(),
        "Not ready: 2 changes before Thu 10 Dec.".to_string(),
        "runs out on day 4 of 7 (Sun 13 Dec)".to_string(),
        format!("Operations: restock {restock} of {first} by Thu 10 Dec"),
        format!("Marketing: drop {first} from the promotion"),
        format!("Operations: add capacity for {add} orders on Sat 12 Dec"),
        "orders +30% on its days (stated by marketing)".to_string(),
        "Not confirmed by operations yet.".to_string(),
    ] {
        assert!(
            joined(&text).contains(&needle),
            "{needle:?} not in:\n{text}"
        );
    }
}

/// 07:00 on `day` in the demo's zone (London).
fn at(t: &TestStore, day: &str, hour: u32) -> DateTime<Utc> {
    t.config
        .shop
        .timezone
        .from_local_datetime(&d(day).and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn serve_once(t: &TestStore, from: DateTime<Utc>) {
    let shops = Shops::new(vec![Shop::new(t.config.clone())]).unwrap();
    let clock = crate::serve::FakeClock::at(from);
    serve(
        &shops,
        &clock,
        &std::sync::Arc::new(Shutdown::default()),
        &ServeOptions {
            until: Some(from + chrono::Duration::minutes(1)),
        },
    )
    .await
    .unwrap();
}

/// The handoff notes in the outbox: subject by recipient, with their bodies.
fn handoffs(t: &TestStore) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(t.dir.path().join("outbox")) else {
        return out;
    };
    for f in dir.flatten() {
        let raw = std::fs::read(f.path()).unwrap();
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let subject = msg.subject().unwrap_or("").to_string();
        if !subject.starts_with("Pre-flight: Knitwear push") {
            continue;
        }
        let to = msg
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or("")
            .to_string();
        let body = msg.body_text(0).unwrap_or_default().to_string();
        out.entry(to).or_default().push((subject, body));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_the_handoff_once_and_again_when_the_dates_change() {
    let t = demo(Backend::Sqlite).await.unwrap();
    let (first, second) = two_skus(&t).await;
    let rate = sold_14(&t, &first).await / 14.0;
    arrange(&t, &first, &second, rate).await;
    t.store
        .save_plan(&plan(&first, &second, 0.3))
        .await
        .unwrap();

    // The figures the note must carry, worked by hand as in the test above: 3 days at the
    // ordinary rate, then 7 at +30%, less what is on hand; Saturday's top over 90% of 10.
    let on_hand = (3.0 * rate + 3.5 * 1.3 * rate).round();
    let restock = (3.0 * rate + 7.0 * 1.3 * rate - on_hand).ceil() as i64;
    let c = dawnpost::store::gather::preflight(
        &t.store,
        &t.config,
        &plan(&first, &second, 0.3),
        d(END),
    )
    .await
    .unwrap();
    let sat = c.days.iter().find(|x| x.day == d(SATURDAY)).unwrap();
    let add = (sat.high / 0.9 - 10.0).ceil() as i64;

    // 7 Dec, after the morning report: the campaign starts in 3 days, within the 14.
    serve_once(&t, at(&t, "2026-12-07", 7)).await;
    let sent = handoffs(&t);
    let people: Vec<&String> = sent.keys().collect();
    // Everyone the morning report goes to, once: 5 people across the three teams.
    assert_eq!(people.len(), 5, "{people:?}");
    for (who, notes) in &sent {
        assert_eq!(notes.len(), 1, "{who}");
        let (subject, body) = &notes[0];
        assert!(subject.ends_with(": not ready"), "{subject}");
        for line in [
            format!("- Operations: restock {restock} of {first} by Thu 10 Dec"),
            format!("Marketing: drop {first} from the promotion"),
            format!("- Operations: add capacity for {add} orders on Sat 12 Dec"),
            "runs out on day 4 of 7 (Sun 13 Dec)".to_string(),
        ] {
            assert!(joined(body).contains(&line), "{line:?} not in:\n{body}");
        }
        assert!(body.contains("--confirm"), "{body}");
    }

    // A second run, an hour later and after a restart: nothing new.
    serve_once(&t, at(&t, "2026-12-07", 8)).await;
    assert!(handoffs(&t).values().all(|n| n.len() == 1));

    // Confirmed: "Coming up" says so. The plan is unchanged, so no note.
    let p = plan(&first, &second, 0.3);
    t.store
        .confirm(&p.campaign, &p.fingerprint(), "Ops: extra shift booked", 1)
        .await
        .unwrap();
    let c = crate::support::composed_on(&t, d(END)).await;
    let view = c
        .digest
        .outlook
        .campaigns
        .iter()
        .find(|v| v.name == "Knitwear push")
        .expect("the campaign is coming up");
    assert_eq!(
        view.handoff,
        "✓ confirmed by operations: Ops: extra shift booked"
    );

    // The dates move a day later: a new note to everyone, and the confirmation no longer
    // holds.
    let mut moved = plan(&first, &second, 0.3);
    moved.start = d("2026-12-11");
    moved.end = d("2026-12-17");
    t.store.save_plan(&moved).await.unwrap();
    serve_once(&t, at(&t, "2026-12-07", 9)).await;
    let sent = handoffs(&t);
    assert_eq!(sent.len(), 5);
    for (who, notes) in &sent {
        assert_eq!(notes.len(), 2, "{who}");
        assert!(
            notes
                .iter()
                .any(|(s, _)| s.contains("Fri 11 Dec to Thu 17 Dec")),
            "{notes:?}"
        );
    }
    let c = crate::support::composed_on(&t, d(END)).await;
    let view = c
        .digest
        .outlook
        .campaigns
        .iter()
        .find(|v| v.name == "Knitwear push")
        .unwrap();
    assert_eq!(view.handoff, "✗ not confirmed since its plan changed");
    // `status` lists both notes, each sent to the five.
    let mine: Vec<_> = t
        .store
        .recent_handoffs(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.campaign == "Knitwear push")
        .map(|h| (h.verdict, h.sent, h.failed, h.unknown))
        .collect();
    assert_eq!(mine, vec![("not ready".to_string(), 5, 0, 0); 2]);
}

/// The commands as a user types them: mistakes named by flag, nothing written; then the
/// check as JSON, and a confirmation recorded for the plan as it is.
#[test]
fn the_commands_refuse_mistakes_and_print_the_check_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--data-dir", data];
        all.extend_from_slice(args);
        crate::support::dawnpost(&all, &[])
    };
    // The demo store is made by the first command that reads it.
    let (status, _, err) = run(&["preflight", "Knitwear push"]);
    assert!(!status.success());
    assert!(err.contains("no campaign named \"Knitwear push\""), "{err}");

    let add = |extra: &[&str]| {
        let mut a = vec![
            "campaign",
            "add",
            "--name",
            "Knitwear push",
            "--channel",
            "email",
            "--start",
            "2030-01-10",
            "--end",
            "2030-01-16",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    for (extra, says) in [
        (
            &["--skus", "KNT-001,NOPE-9"][..],
            "--skus: no product has the SKU `NOPE-9`",
        ),
        (
            &["--skus", "KNT-001", "--discount", "1.5"][..],
            "--discount 1.5",
        ),
        (
            &["--skus", "KNT-001", "--expected-lift", "-1"][..],
            "--expected-lift -1",
        ),
    ] {
        let (status, _, err) = add(extra);
        assert!(!status.success(), "{extra:?}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    let (status, _, err) = run(&["preflight", "Knitwear push"]);
    assert!(
        err.contains("no campaign named"),
        "nothing was written: {err}"
    );
    assert!(!status.success());

    let (status, out, err) = add(&["--skus", "KNT-001, KNT-002", "--expected-lift", "0.3"]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains("Knitwear push (email, 2030-01-10 to 2030-01-16, 2 SKUs)"),
        "{out}"
    );

    let (status, out, err) = run(&["preflight", "Knitwear push", "--format", "json"]);
    assert!(status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["plan"]["skus"], serde_json::json!(["KNT-001", "KNT-002"]));
    assert_eq!(v["lift"], serde_json::json!(1.3));
    assert_eq!(v["confirmed"], serde_json::json!(false));
    // Years ahead: no day is within the forecast's reach, and the check says so.
    assert_eq!(v["days"], serde_json::json!([]));
    assert_eq!(v["unforecast_from"], serde_json::json!("2030-01-10"));

    let (status, out, err) = run(&[
        "preflight",
        "Knitwear push",
        "--confirm",
        "Ops: extra shift booked",
    ]);
    assert!(status.success(), "{err}");
    assert!(
        joined(&out).contains("Confirmed by operations: Ops: extra shift booked"),
        "{out}"
    );
    assert!(joined(&out).contains("Capacity not checked"), "{out}");

    // Without a name: every campaign starting within the 14 days after the date.
    let (status, out, err) = run(&["preflight", "--date", "2030-01-05"]);
    assert!(status.success(), "{err}");
    assert!(
        out.contains("Pre-flight: Knitwear push (email, Thu 10 Jan to Wed 16 Jan)")
            && out.contains("Confirmed by operations."),
        "{out}"
    );
    let (_, out, _) = run(&["preflight", "--date", "2029-12-01", "--format", "json"]);
    assert_eq!(
        out.trim(),
        "[]",
        "nothing starts within 14 days of 1 Dec 2029"
    );
    let (status, _, err) = run(&["preflight", "--confirm", "yes"]);
    assert!(
        !status.success() && err.contains("--confirm: name the campaign"),
        "{err}"
    );

    // A plan imported with the calendar carries its lift and discount the same way.
    let file = dir.path().join("campaigns.csv");
    std::fs::write(
        &file,
        "campaign,channel,start_day,end_day,skus,expected_lift,discount\n\
         Imported push,email,2030-02-01,2030-02-07,KNT-001;KNT-002,0.25,0.1\n",
    )
    .unwrap();
    let (status, _, err) = run(&["import", "campaigns", file.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    let (status, out, err) = run(&["preflight", "Imported push", "--format", "json"]);
    assert!(status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["lift"], serde_json::json!(1.25));
    assert_eq!(v["plan"]["discount"], serde_json::json!(0.1));
    assert_eq!(v["lift_source"], serde_json::json!({"from": "stated"}));
    // A discount of 100% or more is refused, naming the file, its line and the column.
    std::fs::write(
        &file,
        "campaign,channel,start_day,end_day,skus,expected_lift,discount\n\
         Imported push,email,2030-02-01,2030-02-07,KNT-001,0.25,1.5\n",
    )
    .unwrap();
    let (status, _, err) = run(&["import", "campaigns", file.to_str().unwrap()]);
    assert!(!status.success());
    assert!(
        err.contains("campaigns.csv:2") && err.contains("column `discount`"),
        "{err}"
    );
    let (_, out, _) = run(&["preflight", "Imported push", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["plan"]["discount"],
        serde_json::json!(0.1),
        "nothing half written"
    );
}

/// A run killed after claiming a note and before it left leaves the claim `pending`: the next
/// `serve` sends that destination nothing (a gap, never a duplicate), the others their note,
/// and `status` counts it as unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_handoff_is_never_sent_again() {
    let t = demo(Backend::Sqlite).await.unwrap();
    let (first, second) = two_skus(&t).await;
    let rate = sold_14(&t, &first).await / 14.0;
    arrange(&t, &first, &second, rate).await;
    let p = plan(&first, &second, 0.3);
    t.store.save_plan(&p).await.unwrap();
    // What serve will work out on 7 Dec: the check on the data to the 6th.
    let c = dawnpost::store::gather::preflight(&t.store, &t.config, &p, d(END))
        .await
        .unwrap()
        .confirmed_by(None);
    let fingerprint = c.fingerprint();
    let key = dawnpost::store::HandoffKey {
        campaign: &p.campaign,
        fingerprint: &fingerprint,
        destination: "aiko@northwind.example",
    };
    assert!(t.store.claim_handoff(&key, c.verdict(), 1).await.unwrap());

    serve_once(&t, at(&t, "2026-12-07", 7)).await;
    let sent = handoffs(&t);
    assert!(!sent.contains_key("aiko@northwind.example"), "{sent:?}");
    assert_eq!(sent.len(), 4, "{sent:?}");
    let mine: Vec<_> = t
        .store
        .recent_handoffs(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.campaign == "Knitwear push")
        .map(|h| (h.sent, h.failed, h.unknown))
        .collect();
    assert_eq!(mine, vec![(4, 0, 1)]);
}
