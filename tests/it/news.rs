//! The morning news on the demo shop: the report day leads with its storylines, and a
//! stretch of ordinary days is rarely called unusual.

use chrono::{Days, NaiveDate, TimeZone};
use dawnpost::metrics::news::{Verdict, judge};

use crate::support::{Backend, TestStore, demo_store};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn demo(end: NaiveDate) -> TestStore {
    demo_store(Backend::Sqlite, dawnpost::config::DEMO_CONFIG, end, 400)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_report_day_leads_with_its_storylines() {
    let end = d("2026-11-23");
    let t = demo(end).await;
    let c = crate::support::composed_on(&t, end).await;
    let news = &c.digest.news;
    let flagged: Vec<&str> = news.flagged.iter().map(String::as_str).collect();
    // The carrier delay (7 days) and the paid-social promotion (started 4 days ago).
    for story in [
        "on_time_delivery",
        "shipped_within_24h",
        "fulfilment_hours",
        "sessions_by_channel",
    ] {
        assert!(flagged.contains(&story), "{story} not in {flagged:?}");
    }
    // The promotion is one story, its members named; the carrier delay is another.
    let paid = news
        .items
        .iter()
        .find(|n| n.members.iter().any(|m| m == "sessions_by_channel"))
        .unwrap();
    assert!(paid.text.contains(" on paid social: "), "{}", paid.text);
    assert!(paid.members.len() > 1, "{:?}", paid.members);
    // Anything else flagged follows from the promotion: its ad spend, and the demand it
    // triples for the promoted SKUs (orders, revenue, units, new customers, and the orders
    // it brings towards the warehouse's capacity).
    let stories = [
        "on_time_delivery",
        "shipped_within_24h",
        "fulfilment_hours",
        "sessions_by_channel",
        "orders_by_channel",
        "ad_spend",
        "cac",
        "roas",
        "sessions",
        "orders",
        "net_revenue",
        "units",
        "new_customers",
        "capacity_utilisation",
        "aov",
    ];
    for f in &flagged {
        assert!(stories.contains(f), "{f} flagged: {:?}", news.items);
    }
    assert!(
        (2..=5).contains(&news.items.len()),
        "at most five stories lead: {:?}",
        news.items
    );
    // No number twice: a news sentence leaves the figure to the metric's tile or row.
    let d = &c.digest;
    for n in news.items.iter().filter(|n| n.members.len() == 1) {
        let shown = d
            .headline
            .iter()
            .find(|t| t.key == n.metric)
            .map(|t| t.value.clone())
            .or_else(|| {
                d.marketing
                    .rows
                    .iter()
                    .chain(&d.operations.rows)
                    .find(|r| r.key == n.metric)
                    .map(|r| r.value.clone())
            });
        if let Some(v) = shown {
            assert!(!n.text.contains(&v), "{v} twice: {}", n.text);
        }
    }
    // The demo's rule: on-time delivery below 90% is a critical alert, with its action.
    let rule = c
        .digest
        .alerts
        .iter()
        .find(|a| a.title.starts_with("On-time delivery"))
        .expect("the on-time rule fires");
    assert!(rule.title.ends_with(", below 90.0%"), "{}", rule.title);
    assert_eq!(rule.tone, "critical");
    assert!(rule.action.starts_with("Ask the carrier"));
    assert!(news.revenue.starts_with("Revenue "), "{}", news.revenue);
    // `metrics --format json` carries the same split as `explain`: its change is net
    // revenue on the day less a week before, by separate SQL on the raw rows, and its
    // parts add up to it to the cent.
    let r = dawnpost::store::report::build(&t.store, &t.config, end)
        .await
        .unwrap();
    let x = r.explain.clone().expect("an explain object");
    assert_eq!(x.vs, Some(end - Days::new(7)));
    let net = |day: NaiveDate| {
        format!(
            "(SELECT COALESCE(SUM(l.quantity * l.unit_price), 0) FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
             WHERE o.day = '{day}' AND o.status <> 'cancelled') \
             - (SELECT COALESCE(SUM(discount), 0) FROM orders WHERE day = '{day}' AND status <> 'cancelled') \
             - (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE day = '{day}')"
        )
    };
    let change = t
        .scalar(&format!("({}) - ({})", net(end), net(end - Days::new(7))))
        .await
        .unwrap();
    assert!(
        (x.change - change).abs() < 0.005,
        "{} vs {change}",
        x.change
    );
    let sum: f64 = x.parts.iter().map(|p| p.amount).sum();
    assert!((sum - change).abs() < 0.005, "{sum} vs {change}");
    // By channel: paid social leads the change in sessions, and the channels' changes in
    // orders add up to the change in orders, counted by separate SQL.
    assert_eq!(x.channels[0].channel, "paid_social");
    assert!(x.channels[0].sessions.unwrap() > 0.0);
    let orders = |day: NaiveDate| {
        format!("SELECT COUNT(*) FROM orders WHERE day = '{day}' AND status <> 'cancelled'")
    };
    let orders_change = t
        .scalar(&format!(
            "({}) - ({})",
            orders(end),
            orders(end - Days::new(7))
        ))
        .await
        .unwrap();
    let by_channel: f64 = x.channels.iter().filter_map(|c| c.orders).sum();
    assert_eq!(by_channel, orders_change);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["explain"]["parts"][0]["factor"], "sessions");
    assert!(news.revenue.contains("(paid social +"), "{}", news.revenue);
    assert_eq!(news.quiet, "");
    // The text part: the headline figures, the alerts in full, then what moved.
    let text = &c.rendered.text;
    let (tiles, alerts, moved) = (
        text.find("HEADLINE").unwrap(),
        text.find("ALERTS").unwrap(),
        text.find("WHAT MOVED").unwrap(),
    );
    assert!(tiles < alerts && alerts < moved);
    let end = moved + text[moved..].find("\n\n").unwrap();
    // Wrapped to the line, word for word the HTML's sentence.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words(&text[moved..end]).contains(&words(&news.items[0].text)));
    insta::assert_snapshot!("demo_news_text", &text[alerts..end]);
    // Quiet rows: only what is news (or past a rule) keeps colour and a mark.
    let rows: Vec<_> = c
        .digest
        .marketing
        .rows
        .iter()
        .chain(&c.digest.operations.rows)
        .collect();
    let on_time = rows.iter().find(|r| r.key == "on_time_delivery").unwrap();
    assert_eq!((on_time.vs_week.tone, on_time.vs_week.arrow), ("bad", "▼"));
    let carts = rows.iter().find(|r| r.key == "add_to_cart_rate").unwrap();
    assert_eq!((carts.vs_week.tone, carts.vs_week.arrow), ("plain", ""));
    assert!(!carts.vs_week.change.is_empty(), "the number stays, plain");
    let html = &c.rendered.html;
    let (h, m, a) = (
        html.find("class=\"tl\"").unwrap(),
        html.find(">What moved<").unwrap(),
        html.find(">Alerts <").unwrap(),
    );
    assert!(
        h < m && m < a,
        "the tiles, then what moved, then the alerts in full"
    );
    let moved = &html[m..a];
    insta::assert_snapshot!("demo_news_html", moved);
}

/// 56 demo days far from every storyline (135 to 80 days before the end, after the Summer
/// Sale and before the winter ones): fewer than 2%
/// of the metric-days that get a verdict are called unusual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_days_are_rarely_news() {
    let end = d("2026-11-23");
    let t = demo(end).await;
    let first = end - Days::new(135);
    let last = end - Days::new(80);
    let from = first - Days::new(7 * 8);
    let fetched = dawnpost::store::report::fetch_with(&t.store, &t.config, last, &[(from, last)])
        .await
        .unwrap();
    let (mut judged, mut unusual) = (0u32, Vec::new());
    let mut day = first;
    while day <= last {
        for m in t.config.catalog.iter() {
            let Some(by) = fetched.get(&m.key) else {
                continue;
            };
            for (dim, s) in by {
                let j = judge(m, s, day, &t.config.news, &fetched.calendar);
                match j.verdict {
                    Verdict::Usual { .. } => judged += 1,
                    Verdict::Unusual { z, .. } => {
                        judged += 1;
                        unusual.push(format!("{day} {} {dim:?} z={z:.1}", m.key));
                    }
                    _ => {}
                }
            }
        }
        day = day + Days::new(1);
    }
    let rate = unusual.len() as f64 / f64::from(judged);
    eprintln!(
        "news: {} of {judged} metric-days unusual ({:.2}%)",
        unusual.len(),
        rate * 100.0
    );
    assert!(judged > 1000, "{judged}");
    assert!(rate < 0.02, "{rate}: {unusual:#?}");
}

#[test]
fn a_rule_on_an_unknown_metric_is_refused_where_it_stands() {
    let text = format!(
        "{}\n[[alerts.rules]]\nmetric = \"on_time_delivry\"\ncondition = \"below\"\nvalue = 0.9\naction = \"Call.\"\n",
        dawnpost::config::DEMO_CONFIG
    );
    // The rules in the demo config come first; this one is the third.
    let line = text.lines().count() - 4;
    let err = dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
        origin: "shop.toml".into(),
        text: &text,
        base_dir: std::env::temp_dir(),
    })
    .unwrap_err();
    let e = format!("{err:#}");
    assert!(e.contains(&format!("shop.toml:{line}")), "{e}");
    assert!(e.contains("alerts.rules[2].metric"), "{e}");
    assert!(e.contains("no metric `on_time_delivry`"), "{e}");
}

/// A day of the demo with nothing unusual says so in one line, in HTML and text, and its
/// subject is the revenue alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_day_says_nothing_is_unusual() {
    let end = d("2026-11-23");
    let t = demo(end).await;
    let templates = dawnpost::email::render::Templates::load(None).unwrap();
    let mut day = end - Days::new(120);
    let quiet = loop {
        assert!(
            day < end - Days::new(80),
            "no quiet day in the ordinary stretch"
        );
        let now = t
            .config
            .shop
            .timezone
            .from_utc_datetime(&(day + Days::new(1)).and_hms_opt(8, 0, 0).unwrap());
        let c = dawnpost::email::compose::compose(&t.store, &t.config, &templates, day, now)
            .await
            .unwrap();
        if c.digest.news.items.is_empty() && c.digest.alerts.is_empty() {
            break c;
        }
        day = day + Days::new(1);
    };
    let weekday = day.format("%A").to_string();
    let line = format!("Nothing unusual: every metric within its usual range for a {weekday}.");
    assert_eq!(quiet.digest.news.quiet, line);
    assert!(quiet.rendered.text.contains(&line));
    assert!(quiet.rendered.html.contains(&line));
    assert!(
        quiet.rendered.subject.contains(": revenue "),
        "{}",
        quiet.rendered.subject
    );
}

/// On the demo's report date (Sun 6 Dec) a campaign's echoes are one story and the carrier
/// delay is in the section too: Winter Warmers on paid social gathers that channel's
/// sessions (counted here by SQL on the raw rows), orders and revenue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_day_tells_stories_not_echoes() {
    let end = d("2026-12-06");
    let t = demo(end).await;
    let c = crate::support::composed_on(&t, end).await;
    let items = &c.digest.news.items;
    let texts: Vec<&str> = items.iter().map(|n| n.text.as_str()).collect();
    let campaign = items
        .iter()
        .find(|n| n.text.starts_with("Winter Warmers on paid social: "))
        .unwrap_or_else(|| panic!("no campaign story in {texts:?}"));
    for member in ["sessions_by_channel", "orders", "net_revenue"] {
        assert!(
            campaign.members.iter().any(|m| m == member),
            "{member}: {texts:?}"
        );
    }
    let sessions = t
        .scalar("SELECT SUM(sessions) FROM traffic WHERE day = '2026-12-06' AND channel = 'paid_social'")
        .await
        .unwrap();
    let sessions = format!("sessions {}", c_count(sessions));
    assert!(
        campaign.text.contains(&sessions),
        "{sessions}: {}",
        campaign.text
    );
    // No other item echoes one of the story's members.
    for n in items.iter().filter(|n| n.text != campaign.text) {
        assert!(
            n.members.iter().all(|m| !campaign.members.contains(m)),
            "{} echoes the campaign",
            n.text
        );
    }
    assert!(
        items
            .iter()
            .any(|n| n.members.iter().any(|m| m == "on_time_delivery")),
        "the carrier delay is pushed out: {texts:?}"
    );
}

/// 2638 as the email writes a count: "2,638".
fn c_count(v: f64) -> String {
    let s = format!("{}", v.round() as i64);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The small shop's email for Saturday 2 Mar 2024, a day without orders or traffic: with
/// the shop open on Saturdays it is incomplete data; with `closed = ["saturday"]` it is a
/// closed day, with no banner and no verdicts, and it says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_day_has_no_banner_and_no_news() {
    let small = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    let digest = |text: String| async move {
        let t = TestStore::new(Backend::Sqlite, &text).await.unwrap();
        let t = t.with_small_data().await;
        crate::support::composed_on(&t, d("2024-03-02"))
            .await
            .digest
    };
    let open = digest(small.clone()).await;
    assert!(
        open.stale_note.contains("orders (last: 1 Mar 2024)"),
        "{}",
        open.stale_note
    );
    let closed = small.replace(
        "currency = \"USD\"\n",
        "currency = \"USD\"\nclosed = [\"saturday\"]\n",
    );
    assert_ne!(closed, small);
    let closed = digest(closed).await;
    assert_eq!(closed.stale_note, "");
    assert_eq!(
        closed.news.quiet,
        "No news for a day the shop was closed on Saturdays (Saturday 2 Mar)."
    );
    assert!(closed.news.items.is_empty());
}

/// The small shop's config over a store of steady orders: `per_day` orders of one unit of A
/// at 10.00 through channel "web", every day from 1 Jan 2024 to `last`, and `extra` rows of
/// dawnpost's orders, lines and refunds CSVs (each with its header) added on top.
async fn steady_shop(last: NaiveDate, per_day: u32, extra: [&str; 3]) -> TestStore {
    let small = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap();
    let t = TestStore::new(Backend::Sqlite, &small).await.unwrap();
    let mut orders =
        String::from("order_id,placed_at,channel,customer_id,customer_type,discount,status\n");
    let mut lines = String::from("order_id,sku,quantity,unit_price\n");
    let mut day = d("2024-01-01");
    while day <= last {
        for i in 0..per_day {
            let id = format!("W{day}-{i}");
            orders.push_str(&format!(
                "{id},{day} 12:00:00,web,c{i},returning,0,delivered\n"
            ));
            lines.push_str(&format!("{id},A,1,10.00\n"));
        }
        day = day + Days::new(1);
    }
    orders.push_str(extra[0]);
    lines.push_str(extra[1]);
    let refunds = format!("order_id,refund_id,day,amount,units\n{}", extra[2]);
    let products =
        "sku,name,category,unit_price,unit_cost,lead_time_days\nA,Thing,Stuff,10.00,4.00,7\n";
    for (table, text) in [
        ("products", products),
        ("orders", orders.as_str()),
        ("order_lines", lines.as_str()),
        ("refunds", refunds.as_str()),
    ] {
        let path = t.dir.path().join(format!("{table}.csv"));
        std::fs::write(&path, text).unwrap();
        dawnpost::ingest::import_csv(&t.store, table, &path, t.config.shop.timezone)
            .await
            .unwrap();
    }
    t
}

async fn news_of(t: &TestStore, day: NaiveDate) -> Vec<String> {
    let digest = crate::support::composed_on(t, day).await.digest;
    digest.news.items.iter().map(|i| i.text.clone()).collect()
}

/// A shop that sells through one channel: nine weeks of 30 orders a day, then a Monday of 90.
/// Orders are news; "Orders by channel, web" would be the same news again, and is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakdown_of_one_value_is_not_news_apart_from_its_total() {
    let last = d("2024-03-04");
    let mut orders = String::new();
    let mut lines = String::new();
    for i in 0..60 {
        orders.push_str(&format!(
            "X{i},{last} 15:00:00,web,x{i},returning,0,delivered\n"
        ));
        lines.push_str(&format!("X{i},A,1,10.00\n"));
    }
    let t = steady_shop(last, 30, [&orders, &lines, ""]).await;
    let texts = news_of(&t, last).await;
    assert!(texts.iter().any(|t| t.starts_with("Orders:")), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("by channel")), "{texts:?}");
}

/// Nine weeks of 30 one-unit orders a day at 10.00, then a Monday with one order of 500 units
/// (5,000.00) refunded the same day. By hand: the day's sales 30 × 10 + 5,000 = 5,300, of
/// which the order is 94.3%. Units and order value moved because of that one order: the news
/// says so once, instead of calling each of them unusual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_that_moves_the_day_is_the_news() {
    let last = d("2024-03-04");
    let t = steady_shop(
        last,
        30,
        [
            &format!("H1,{last} 15:00:00,web,big,returning,0,delivered\n"),
            "H1,A,500,10.00\n",
            &format!("H1,r1,{last},5000.00,500\n"),
        ],
    )
    .await;
    let texts = news_of(&t, last).await;
    let one = texts
        .iter()
        .find(|t| t.starts_with("One order moved the day:"))
        .unwrap_or_else(|| panic!("{texts:?}"));
    assert!(
        one.starts_with(
            "One order moved the day: H1, $5,000 (500 units, 94.3% of the day's sales), \
             refunded the same day; it moves "
        ),
        "{one}"
    );
    assert!(
        one.contains("units") && one.contains("average order value"),
        "{one}"
    );
    for alone in ["Units:", "Average order value:"] {
        assert!(!texts.iter().any(|t| t.starts_with(alone)), "{texts:?}");
    }
}

/// The demo shop's rate of days with news, over the same ordinary stretch as the test above
/// (135 to 80 days before the end), printed for the README. The demo judges about 40 series
/// a day (five channels each for sessions, orders and return rate among them), more than
/// the lumpy shop's one channel, so its bound is looser: 1 day in 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_demo_days_are_rarely_loud() {
    let end = d("2026-11-23");
    let t = demo(end).await;
    let last = end - Days::new(80);
    let (open_days, with_news, said) = crate::lumpy::news_days(&t, last, 56).await;
    let rate = with_news as f64 / open_days as f64;
    eprintln!(
        "demo shop: news on {with_news} of {open_days} open days ({:.1}%)\n{}",
        rate * 100.0,
        said.join("\n")
    );
    assert_eq!(open_days, 56);
    assert!(rate <= 0.20, "news on {with_news} of {open_days} days");
}
