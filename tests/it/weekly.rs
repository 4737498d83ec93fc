//! The weekly review on the demo shop, for the week of Mon 30 Nov to Sun 6 Dec 2026: the
//! week's figures against separate SQL on both backends, with plans worked by hand; each
//! campaign's retrospective against the forecast replayed here from the day before it
//! started and against SQL; the email in Chromium at phone widths; and `preview`, `send` and
//! `serve` with the report keyed by its week.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use dawnpost::config::ReportPeriod;
use dawnpost::email::compose::{compose_for, write_preview};
use dawnpost::email::render::Templates;
use dawnpost::metrics::forecast::{self, CampaignSpan, History};
use dawnpost::serve::{ServeOptions, Shutdown, serve};
use dawnpost::shops::{Shop, Shops};

use crate::support::{Backend, TestStore, both_backends, demo_store};

both_backends!(
    the_weeks_figures_match_separate_sql,
    a_campaigns_week_is_told_against_the_forecast_made_before_it
);

const LAST: &str = "2026-12-06";
const FIRST: &str = "2026-11-30";

/// Plans for the figures test: November and December's revenue, and Q4's conversion.
const PLANS: &str = r#"
[[plans]]
metric = "net_revenue"
period = "2026-11"
target = 600000

[[plans]]
metric = "net_revenue"
period = "2026-12"
target = 620000

[[plans]]
metric = "conversion_rate"
period = "2026-Q4"
target = 0.03
"#;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The demo to Sun 6 Dec 2026 over `days`, its config with `extra` appended; None where
/// the backend's server is not installed.
pub(crate) async fn demo(b: Backend, days: u32, extra: &str) -> Option<TestStore> {
    let text = format!("{}\n{extra}", dawnpost::config::DEMO_CONFIG);
    demo_store(b, &text, d(LAST), days).await
}

/// Net revenue from `a` to `b` from the raw rows: lines at their price, less order
/// discounts, less refunds by their day.
async fn revenue(t: &TestStore, a: NaiveDate, b: NaiveDate) -> f64 {
    let lines = t
        .scalar(&format!(
            "SELECT COALESCE(SUM(l.quantity * l.unit_price), 0) FROM order_lines l \
             JOIN orders o ON o.order_id = l.order_id \
             WHERE o.day BETWEEN '{a}' AND '{b}' AND o.status <> 'cancelled'"
        ))
        .await
        .unwrap();
    let discounts = t
        .scalar(&format!(
            "SELECT COALESCE(SUM(discount), 0) FROM orders \
             WHERE day BETWEEN '{a}' AND '{b}' AND status <> 'cancelled'"
        ))
        .await
        .unwrap();
    let refunds = t
        .scalar(&format!(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE day BETWEEN '{a}' AND '{b}'"
        ))
        .await
        .unwrap();
    lines - discounts - refunds
}

async fn orders(t: &TestStore, a: NaiveDate, b: NaiveDate) -> f64 {
    t.scalar(&format!(
        "SELECT COUNT(*) FROM orders WHERE day BETWEEN '{a}' AND '{b}' AND status <> 'cancelled'"
    ))
    .await
    .unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{what}: {a} against {b}"
    );
}

async fn the_weeks_figures_match_separate_sql(b: Backend) {
    let Some(t) = demo(b, 380, PLANS).await else {
        return;
    };
    let last = d(LAST);
    let report = dawnpost::store::report::build_week(&t.store, &t.config, last)
        .await
        .unwrap();
    let week = (d(FIRST), last);
    let before = (d("2026-11-23"), d("2026-11-29"));
    let year_ago = (d(FIRST) - Days::new(364), last - Days::new(364));
    assert_eq!(year_ago, (d("2025-12-01"), d("2025-12-07")));

    let rev = report.get("net_revenue").unwrap();
    let [w, y] = &rev.comparisons[..] else {
        panic!("two comparisons: {:?}", rev.comparisons)
    };
    assert_eq!(w.current_period, week);
    assert_eq!(w.previous_period, before);
    assert_eq!(y.previous_period, year_ago);
    let now = revenue(&t, week.0, week.1).await;
    close(w.current.get().unwrap(), now, "revenue");
    close(
        w.previous.get().unwrap(),
        revenue(&t, before.0, before.1).await,
        "week before",
    );
    close(
        y.previous.get().unwrap(),
        revenue(&t, year_ago.0, year_ago.1).await,
        "last year",
    );

    let o = report.get("orders").unwrap();
    close(
        o.comparisons[0].current.get().unwrap(),
        orders(&t, week.0, week.1).await,
        "orders",
    );
    close(
        o.comparisons[1].previous.get().unwrap(),
        orders(&t, year_ago.0, year_ago.1).await,
        "orders last year",
    );

    // The plan by hand: 30 Nov is a 30th of November's 600,000; 1-6 Dec six 31sts of
    // December's 620,000.
    let target = 600_000.0 / 30.0 + 620_000.0 * 6.0 / 31.0;
    let plan = rev.plan.as_ref().expect("a revenue plan");
    close(plan.target, target, "revenue target");
    close(plan.attained.unwrap(), now / target, "attained");
    // A rate is held to its target as it is.
    let conv = report.get("conversion_rate").unwrap();
    close(
        conv.plan.as_ref().unwrap().target,
        0.03,
        "conversion target",
    );
    assert!(report.get("aov").unwrap().plan.is_none());
}

/// Orders per day and the campaign calendar from the raw rows, as a forecast made on
/// `origin` would have them.
async fn history_by_hand(t: &TestStore, origin: NaiveDate) -> History {
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT day, COUNT(*) FROM orders WHERE status <> 'cancelled' AND day <= '{origin}' \
         GROUP BY day ORDER BY day"
    )))
    .fetch_all(t.store.pool())
    .await
    .unwrap();
    let orders: BTreeMap<NaiveDate, f64> =
        rows.into_iter().map(|(k, n)| (d(&k), n as f64)).collect();
    let spans: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT campaign, channel, start_day, end_day FROM campaigns ORDER BY start_day, campaign",
    )
    .fetch_all(t.store.pool())
    .await
    .unwrap();
    let campaigns = spans
        .into_iter()
        .map(|(name, channel, s, e)| CampaignSpan {
            name,
            channel,
            start: d(&s),
            end: d(&e),
            stated: None,
        })
        .collect();
    History::new(orders, campaigns, Default::default())
}

async fn a_campaigns_week_is_told_against_the_forecast_made_before_it(b: Backend) {
    // Long enough for last year's campaign on the channel to have a lift to learn from.
    let Some(t) = demo(b, 430, "").await else {
        return;
    };
    let w = dawnpost::store::weekly::weekly(&t.store, &t.config, d(LAST))
        .await
        .unwrap();
    let r = w
        .retros
        .iter()
        .find(|r| r.campaign == "Winter Warmers")
        .expect("the campaign ran in the week");
    assert_eq!(
        (r.start, r.end, r.through),
        (d("2026-12-02"), d("2026-12-11"), d(LAST))
    );

    // The forecast replayed here, from the raw orders, on 1 Dec for 2 to 6 Dec.
    let h = history_by_hand(&t, d("2026-12-01")).await;
    let days: Vec<_> = d("2026-12-02")
        .iter_days()
        .take(5)
        .map(|x| forecast::forecast_day(&h, d("2026-12-01"), x).unwrap())
        .collect();
    let expected: f64 = days.iter().map(|f| f.expected).sum();
    let baseline: f64 = days.iter().map(|f| f.baseline.value).sum();
    close(r.expected.unwrap(), expected, "expected");
    close(r.baseline.unwrap(), baseline, "baseline");
    assert!(
        expected > baseline,
        "the campaign's lift is in the expectation"
    );
    close(
        r.orders,
        orders(&t, d("2026-12-02"), d(LAST)).await,
        "orders",
    );

    let q = |sql: String| {
        let t = &t;
        async move { t.scalar(&sql).await.unwrap_or(0.0) }
    };
    let spend = q(format!(
        "SELECT SUM(spend) FROM ad_spend WHERE campaign = 'Winter Warmers' \
         AND day BETWEEN '2026-12-02' AND '{LAST}'"
    ))
    .await;
    assert!(spend > 0.0);
    close(r.spend, spend, "spend");
    let out = q(format!(
        "SELECT COUNT(*) FROM inventory i JOIN campaign_skus cs ON cs.sku = i.sku \
         WHERE cs.campaign = 'Winter Warmers' AND i.day BETWEEN '2026-12-02' AND '{LAST}' \
         AND i.on_hand <= 0"
    ))
    .await;
    assert_eq!(r.sku_days_out as f64, out);
    let sold = q(format!(
        "SELECT SUM(l.quantity) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
         WHERE o.channel = 'paid_social' AND o.status <> 'cancelled' \
         AND o.day BETWEEN '2026-12-02' AND '{LAST}'"
    ))
    .await;
    close(r.units, sold, "units");

    // As the email words it.
    let c = compose_for(
        &t.store,
        &t.config,
        &Templates::load(None).unwrap(),
        ReportPeriod::Week,
        d(LAST),
        t.config
            .shop
            .timezone
            .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .unwrap(),
    )
    .await
    .unwrap();
    let review = c.digest.weekly.as_ref().unwrap();
    let view = review
        .retros
        .iter()
        .find(|v| v.name == "Winter Warmers")
        .unwrap();
    let fmt = |x: f64| {
        let n = x.round() as i64;
        if n >= 1000 {
            format!("{},{:03}", n / 1000, n % 1000)
        } else {
            n.to_string()
        }
    };
    assert!(
        view.orders.starts_with(&format!(
            "{} orders, {} expected",
            fmt(r.orders),
            fmt(expected)
        )),
        "{}",
        view.orders
    );
    assert!(view.when.contains("running: 5 of 10 days"), "{}", view.when);
    assert!(
        c.rendered
            .subject
            .starts_with("Week to Sun 6 Dec: revenue £"),
        "{}",
        c.rendered.subject
    );
    assert!(
        c.rendered.text.contains("3. CAMPAIGNS"),
        "{}",
        c.rendered.text
    );
    insta::assert_snapshot!("weekly_review_text", c.rendered.text);

    // The same review as a Slack post and a Teams card: the header, the agenda's six
    // sections in order and a context line, within each platform's limits.
    let post = dawnpost::chat::slack::post(&c.digest);
    assert_eq!(post.blocks.len(), 8, "{:?}", post.blocks);
    assert!(dawnpost::chat::slack::size(&post) <= dawnpost::chat::slack::MAX_BYTES);
    assert!(
        post.blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("weekly review")
    );
    let sections: Vec<&str> = post.blocks[1..7]
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    for (i, title) in review.agenda.iter().enumerate() {
        assert!(
            sections[i].starts_with(&format!("*{}. {title}*", i + 1)),
            "{}",
            sections[i]
        );
    }
    assert!(sections[2].contains("Winter Warmers"), "{}", sections[2]);
    let card = dawnpost::chat::teams::message(&c.digest);
    assert!(dawnpost::chat::teams::size(&card) <= dawnpost::chat::teams::MAX_BYTES);
    let text = card.to_string();
    assert!(text.contains("6. Alerts of the week"), "{text}");
}

/// The review at 320, 375 and 600 px in Chromium, as the morning email is checked: no
/// sideways scroll, no text under 12 px, a caption on every table, under the size budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_email_reads_on_a_phone() {
    let Some(chromium) = crate::email::chromium_or_skip("the weekly email test") else {
        return;
    };
    let t = demo(Backend::Sqlite, 380, PLANS).await.unwrap();
    let now = t
        .config
        .shop
        .timezone
        .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
        .unwrap();
    let c = compose_for(
        &t.store,
        &t.config,
        &Templates::load(None).unwrap(),
        ReportPeriod::Week,
        d(LAST),
        now,
    )
    .await
    .unwrap();
    let page = &c.rendered.html;
    assert!(
        page.len() < crate::glance::HTML_BUDGET,
        "{} bytes",
        page.len()
    );
    assert_eq!(
        page.matches("<table class=\"grid\"").count(),
        page.matches("<caption class=\"sr\">").count(),
        "a table without a caption"
    );
    for needle in [
        "1. The week's figures",
        "Week and plan",
        "6. Alerts of the week",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write_preview(&c, &t.config, now, dir.path()).unwrap();
    assert!(!files.images.is_empty(), "the key results' charts");
    for width in [320u32, 375, 600] {
        let r = crate::email::probe_in_chromium_at(
            &chromium,
            &files.html,
            &crate::glance::probe(&["Net revenue", "1. The week"]),
            width,
        );
        assert_eq!(r["vw"], width, "{r}");
        assert!(
            r["scroll"].as_f64().unwrap() <= f64::from(width),
            "{width}: {r}"
        );
        assert!(r["small"].as_f64().unwrap() >= 12.0, "{width}: {r}");
        if width == 375 {
            // The week's first figure is on the first screen.
            let bottom = r["bottoms"][0].as_f64().unwrap();
            assert!((0.0..=667.0).contains(&bottom), "{r}");
        }
    }
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/email-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let frame = files.html.with_file_name("frame-weekly.html");
    std::fs::write(
        &frame,
        "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"index.html\" \
         style=\"width:375px;height:1400px;border:0\"></iframe></body></html>",
    )
    .unwrap();
    let shot = shots.join("weekly-375.png");
    crate::email::run_chromium(
        &chromium,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=400,1400",
        ],
        &frame,
    );
    assert!(shot.exists());
}

fn london(day: &str, hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Europe::London
        .from_local_datetime(&d(day).and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// `serve` on Monday morning sends the morning email for Sunday and, at 08:00, the review
/// of the week to Sunday, keyed in the ledger by that Sunday; again, it sends neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_the_review_once_keyed_by_its_week() {
    let t = demo(Backend::Sqlite, 120, "").await.unwrap();
    let shops = || Shops::new(vec![Shop::new(t.config.clone())]).unwrap();
    for (from, until) in [
        (london("2026-12-07", 7, 55), london("2026-12-07", 8, 30)),
        (london("2026-12-07", 9, 0), london("2026-12-07", 9, 30)),
    ] {
        serve(
            &shops(),
            &crate::serve::FakeClock::at(from),
            &std::sync::Arc::new(Shutdown::default()),
            &ServeOptions { until: Some(until) },
        )
        .await
        .unwrap();
    }
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT report, report_date, status, COUNT(*) FROM deliveries \
         GROUP BY report, report_date, status ORDER BY report",
    )
    .fetch_all(t.store.pool())
    .await
    .unwrap();
    // Marketing and operations: Marcus, Aiko, Dana and Luis; the morning email has Priya.
    assert_eq!(
        rows,
        vec![
            ("morning".into(), LAST.into(), "sent".into(), 5),
            ("weekly".into(), LAST.into(), "sent".into(), 4),
        ]
    );
    let subjects: Vec<String> = std::fs::read_dir(t.dir.path().join("outbox"))
        .unwrap()
        .flatten()
        .filter_map(|f| {
            let raw = std::fs::read(f.path()).ok()?;
            let m = mail_parser::MessageParser::default().parse(&raw)?;
            Some(m.subject()?.to_string())
        })
        .filter(|s| s.starts_with("Week to"))
        .collect();
    assert_eq!(subjects.len(), 4, "{subjects:?}");
}

/// `preview --report weekly` and `send --report weekly --date`: the week ending on or before
/// the date, sent once.
#[test]
fn preview_and_send_take_the_weekly_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--data-dir", data];
        all.extend_from_slice(args);
        crate::support::dawnpost(&all, &[])
    };
    let out = dir.path().join("wk");
    let (status, stdout, err) = run(&[
        "preview",
        "--report",
        "weekly",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(status.success(), "{err}");
    assert!(stdout.contains("Week to"), "{stdout}");
    let text = std::fs::read_to_string(out.join("digest.txt")).unwrap();
    assert!(text.contains("weekly review"), "{text}");

    let (status, _, err) = run(&["preview", "--report", "nope"]);
    assert!(!status.success());
    assert!(
        err.contains("no report `nope`") && err.contains("morning, weekly"),
        "{err}"
    );

    // 3 Dec 2026 is a Thursday: the week is the one to Sun 29 Nov.
    for _ in 0..2 {
        let (status, _, err) = run(&["send", "--report", "weekly", "--date", "2026-12-03"]);
        assert!(status.success(), "{err}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows: Vec<(String, String)> = rt.block_on(async {
        use sqlx::Connection;
        let url = format!(
            "sqlite://{}?mode=ro",
            dir.path().join("demo.sqlite").display()
        );
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as("SELECT report_date, status FROM deliveries WHERE report = 'weekly'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter().all(|(d, s)| d == "2026-11-29" && s == "sent"),
        "{rows:?}"
    );
    let sent = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(sent, 4, "sent once to each of the four");
}
