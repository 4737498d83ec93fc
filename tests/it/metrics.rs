//! Metric values and comparisons on the hand-made shop of fixtures/small, against figures
//! worked out on paper (the working is in the comments), on both backends.

use chrono::NaiveDate;
use dawnpost::metrics::compare::{Comparison, Value, Verdict};
use dawnpost::metrics::period::ComparisonKind::{self, *};
use dawnpost::metrics::report::MetricsReport;
use dawnpost::store::report;

use crate::support::{Backend, TestStore, both_backends};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn cmp<'a>(r: &'a MetricsReport, key: &str, kind: ComparisonKind) -> &'a Comparison {
    r.get(key)
        .unwrap_or_else(|| panic!("no metric {key}"))
        .comparisons
        .iter()
        .find(|c| c.kind == kind)
        .unwrap()
}

fn dim<'a>(r: &'a MetricsReport, key: &str, value: &str, kind: ComparisonKind) -> &'a Comparison {
    r.get(key)
        .unwrap()
        .breakdown
        .iter()
        .find(|b| b.value == value)
        .unwrap_or_else(|| panic!("{key} has no breakdown {value}"))
        .comparisons
        .iter()
        .find(|c| c.kind == kind)
        .unwrap()
}

#[track_caller]
fn is(v: Value, expected: f64) {
    match v {
        Value::Value(x) => assert!((x - expected).abs() < 1e-9, "got {x}, expected {expected}"),
        other => panic!("got {other:?}, expected {expected}"),
    }
}

async fn report_for(t: &TestStore, d: &str) -> MetricsReport {
    report::build(&t.store, &t.config, date(d)).await.unwrap()
}

both_backends!(
    hand_figures_on_1_march_2024,
    calendar_edges,
    a_closed_day_stands_aside_in_every_comparison,
    local_day_follows_the_store_timezone,
    metric_sql_cannot_write,
);

async fn hand_figures_on_1_march_2024(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let r = report_for(&t, "2024-03-01").await;

    // Net revenue. 1 Mar: O03 10+2×15 = 40, O04 2×25 = 50 (O05 is cancelled) = 90.
    // 29 Feb: O01 2×10 = 20, O02 25 - 5 discount = 20 -> 40. 23 Feb: O06 15. 16 Feb: O07 30.
    let c = cmp(&r, "net_revenue", PreviousDay);
    is(c.current, 90.0);
    is(c.previous, 40.0);
    assert_eq!(c.abs_change, Some(50.0));
    assert_eq!(c.rel_change, Some(1.25));
    assert_eq!(c.verdict, Verdict::Good);
    assert_eq!(c.previous_period, (date("2024-02-29"), date("2024-02-29")));
    is(cmp(&r, "net_revenue", SameWeekdayLastWeek).previous, 15.0);
    // Fridays 2, 9, 16, 23 Feb: only 16 (30) and 23 (15) have data: (30 + 15) / 2.
    is(
        cmp(&r, "net_revenue", SameWeekdayFourWeekMean).previous,
        22.5,
    );
    // Week of Mon 26 Feb: 29 Feb 40 + 1 Mar 90; the week before to Friday: 23 Feb 15.
    let w = cmp(&r, "net_revenue", WeekToDate);
    is(w.current, 130.0);
    is(w.previous, 15.0);
    assert_eq!(w.previous_period, (date("2024-02-19"), date("2024-02-23")));
    // Month to date is 1 Mar alone; 1 Feb has O09 10.
    let m = cmp(&r, "net_revenue", MonthToDate);
    is(m.current, 90.0);
    is(m.previous, 10.0);
    assert_eq!(m.rel_change, Some(8.0));
    // 364 days earlier is Fri 3 Mar 2023: O08 25.
    is(cmp(&r, "net_revenue", SameWeekdayLastYear).previous, 25.0);

    let o = cmp(&r, "orders", PreviousDay);
    is(o.current, 2.0);
    is(o.previous, 2.0);
    assert_eq!(
        (o.abs_change, o.rel_change, o.verdict),
        (Some(0.0), Some(0.0), Verdict::Neutral)
    );
    is(cmp(&r, "units", PreviousDay).current, 5.0);
    is(cmp(&r, "aov", PreviousDay).current, 45.0);
    is(cmp(&r, "aov", PreviousDay).previous, 20.0);

    // Traffic: 1 Mar 120 organic + 80 paid search; 29 Feb 100 organic + 50 email; none on 23 Feb.
    let s = cmp(&r, "sessions", PreviousDay);
    is(s.current, 200.0);
    is(s.previous, 150.0);
    let lw = cmp(&r, "sessions", SameWeekdayLastWeek);
    assert_eq!(lw.previous, Value::NoData);
    assert_eq!((lw.abs_change, lw.verdict), (None, Verdict::Unknown));
    is(
        dim(&r, "sessions_by_channel", "organic", PreviousDay).current,
        120.0,
    );
    is(
        dim(&r, "sessions_by_channel", "organic", PreviousDay).previous,
        100.0,
    );
    is(
        dim(&r, "sessions_by_channel", "paid_search", PreviousDay).current,
        80.0,
    );
    // Email: 50 on 29 Feb and no row on 1 Mar, a day the shop had traffic: 0, not no data.
    is(
        dim(&r, "sessions_by_channel", "email", PreviousDay).current,
        0.0,
    );
    let order: Vec<&str> = r
        .get("sessions_by_channel")
        .unwrap()
        .breakdown
        .iter()
        .map(|b| b.value.as_str())
        .collect();
    assert_eq!(order, ["organic", "paid_search", "email"]);

    // Conversion: 2 / 200 vs 2 / 150; on 23 Feb one order but no sessions: n/a, not infinity.
    let cr = cmp(&r, "conversion_rate", PreviousDay);
    is(cr.current, 0.01);
    is(cr.previous, 2.0 / 150.0);
    assert_eq!(cr.verdict, Verdict::Bad);
    assert_eq!(
        cmp(&r, "conversion_rate", SameWeekdayLastWeek).previous,
        Value::NotApplicable
    );
    // Week to date pools days: (2 + 2) / (150 + 200), not the mean of 1.33% and 1%.
    is(cmp(&r, "conversion_rate", WeekToDate).current, 4.0 / 350.0);
    is(
        cmp(&r, "add_to_cart_rate", PreviousDay).current,
        30.0 / 200.0,
    );
    is(
        cmp(&r, "add_to_cart_rate", PreviousDay).previous,
        15.0 / 150.0,
    );
    is(
        cmp(&r, "cart_abandonment_rate", PreviousDay).current,
        28.0 / 30.0,
    );

    // Customers: O03 is new, O04 returning, O05 cancelled.
    is(cmp(&r, "new_customers", PreviousDay).current, 1.0);
    is(cmp(&r, "repeat_purchase_rate", PreviousDay).current, 0.5);

    // Marketing money: spend 30 on 1 Mar.
    is(cmp(&r, "ad_spend", PreviousDay).current, 30.0);
    assert_eq!(cmp(&r, "ad_spend", PreviousDay).previous, Value::NoData);
    is(cmp(&r, "roas", PreviousDay).current, 3.0);
    is(cmp(&r, "cac", PreviousDay).current, 30.0);

    // Margin: A 1×(10-4) + C 2×(15-6) + B 2×(25-10) = 54 of 90. 29 Feb: (12 + 15 - 5) / (45 - 5).
    is(cmp(&r, "gross_margin", PreviousDay).current, 0.6);
    is(cmp(&r, "gross_margin", PreviousDay).previous, 22.0 / 40.0);
    is(cmp(&r, "discount_rate", PreviousDay).current, 0.0);
    is(cmp(&r, "discount_rate", PreviousDay).previous, 5.0 / 45.0);

    // Leap Sale (28 Feb - 5 Mar) promotes B and C. Sold since the start: B 1 + 2 = 3, C 2;
    // on hand 1 Mar: B 5, C 12. Sell-through (3 + 2) / (3 + 5 + 2 + 12).
    is(
        cmp(&r, "promo_sell_through", PreviousDay).current,
        5.0 / 22.0,
    );
    // Days of cover: B 5 on hand / 2 sold, C 12 / 2.
    is(
        dim(&r, "promo_days_of_cover", "B", PreviousDay).current,
        2.5,
    );
    is(
        dim(&r, "promo_days_of_cover", "C", PreviousDay).current,
        6.0,
    );
    is(cmp(&r, "skus_out_of_stock", PreviousDay).current, 1.0);

    // Returns: 1 unit of B of 5 units sold; B alone: 1 of 2.
    is(cmp(&r, "return_rate", PreviousDay).current, 0.2);
    is(
        dim(&r, "return_rate_by_product", "B", PreviousDay).current,
        0.5,
    );

    // Shipped on 1 Mar (New York): O01 after 24 h, O02 after 12 h (O03 ships on 2 Mar).
    is(cmp(&r, "fulfilment_hours", PreviousDay).current, 18.0);
    is(cmp(&r, "shipped_within_24h", PreviousDay).current, 1.0);
    assert_eq!(
        cmp(&r, "on_time_delivery", PreviousDay).current,
        Value::NoData
    );

    is(cmp(&r, "capacity_utilisation", PreviousDay).current, 0.5);
    let csat = cmp(&r, "csat", PreviousDay);
    is(csat.current, 0.9);
    is(csat.previous, 0.8);
    assert_eq!(csat.verdict, Verdict::Good);
    is(cmp(&r, "nps", PreviousDay).current, 40.0);
    is(
        dim(
            &r,
            "negative_feedback_by_theme",
            "delivery speed",
            PreviousDay,
        )
        .current,
        2.0,
    );
    is(
        dim(&r, "negative_feedback_by_theme", "sizing", PreviousDay).current,
        1.0,
    );

    // The config's own metric behaves like a built-in: no email order on 1 Mar, a day of
    // orders, is 0 of them (not "no data"); O02 on 29 Feb.
    let e = cmp(&r, "orders_from_email", PreviousDay);
    is(e.current, 0.0);
    is(e.previous, 1.0);

    // Deliveries: O02 on 2 Mar, before its promise (4 Mar); O01 on 3 Mar, a day late.
    let r2 = report_for(&t, "2024-03-02").await;
    is(cmp(&r2, "on_time_delivery", PreviousDay).current, 1.0);
    is(cmp(&r2, "fulfilment_hours", PreviousDay).current, 30.0);
    let r3 = report_for(&t, "2024-03-03").await;
    is(cmp(&r3, "on_time_delivery", PreviousDay).current, 0.0);
}

async fn calendar_edges(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };

    // 29 Feb: month to date 1 Feb 10 + 16 Feb 30 + 23 Feb 15 + 29 Feb 40 = 95,
    // against 1-29 Jan: 1 Jan 15.
    let r = report_for(&t, "2024-02-29").await;
    let m = cmp(&r, "net_revenue", MonthToDate);
    is(m.current, 95.0);
    is(m.previous, 15.0);
    assert_eq!(m.previous_period, (date("2024-01-01"), date("2024-01-29")));
    assert_eq!(cmp(&r, "net_revenue", PreviousDay).previous, Value::NoData);

    // 31 Mar: no orders that day; March to date 90 against all of February (clamped to 29) 95.
    let r = report_for(&t, "2024-03-31").await;
    assert_eq!(cmp(&r, "net_revenue", PreviousDay).current, Value::NoData);
    let m = cmp(&r, "net_revenue", MonthToDate);
    is(m.current, 90.0);
    is(m.previous, 95.0);
    assert_eq!(m.previous_period, (date("2024-02-01"), date("2024-02-29")));
    assert_eq!(m.verdict, Verdict::Bad);

    // 1 Jan 2024 (a Monday): 15 against 1 Dec 2023 (O11 2×25 = 50); 31 Dec has no data.
    let r = report_for(&t, "2024-01-01").await;
    let m = cmp(&r, "net_revenue", MonthToDate);
    is(m.current, 15.0);
    is(m.previous, 50.0);
    assert_eq!(m.rel_change, Some(-0.7));
    assert_eq!(
        cmp(&r, "net_revenue", PreviousDay).verdict,
        Verdict::Unknown
    );
    let w = cmp(&r, "net_revenue", WeekToDate);
    assert_eq!(w.current_period, (date("2024-01-01"), date("2024-01-01")));
    is(w.current, 15.0);
    assert_eq!(w.previous, Value::NoData);

    // 1 Mar 2024 is the 1st of a month: checked in hand_figures_on_1_march_2024.
}

async fn local_day_follows_the_store_timezone(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    // O02 was placed at 04:30 UTC on 1 Mar, which is 23:30 on 29 Feb in New York.
    let day: String = sqlx::query_scalar("SELECT day FROM orders WHERE order_id = 'O02'")
        .fetch_one(t.store.pool())
        .await
        .unwrap();
    assert_eq!(day, "2024-02-29");
    let r = report_for(&t, "2024-02-29").await;
    is(cmp(&r, "orders", PreviousDay).current, 2.0);
    // Its shipment at 16:30 UTC is 11:30 in New York, still 1 Mar.
    let ship: String = sqlx::query_scalar("SELECT ship_day FROM fulfilment WHERE order_id = 'O02'")
        .fetch_one(t.store.pool())
        .await
        .unwrap();
    assert_eq!(ship, "2024-03-01");
}

async fn metric_sql_cannot_write(b: Backend) {
    // A custom metric whose SQL smuggles in a DELETE after the SELECT the wrapper expects.
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap()
        + r#"
[[metrics]]
key = "vandal"
label = "Vandal"
team = "shared"
unit = "count"
direction = "neutral"
aggregate = "sum"
sql = "SELECT day, 1 AS num FROM orders WHERE day BETWEEN $1 AND $2) m GROUP BY m.day; DELETE FROM order_lines; DELETE FROM orders; SELECT 1 AS day, 1 AS num FROM (SELECT 1"
"#;
    let Some(small) = TestStore::small(b).await else {
        return;
    };
    // Same store, config with the vandal metric.
    let config = dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
        origin: "vandal".into(),
        text: &text,
        base_dir: small.dir.path().to_path_buf(),
    })
    .unwrap();
    let before = small.fingerprint().await;
    assert!(small.store.count("orders").await.unwrap() > 0);
    let vandal = config.catalog.get("vandal").unwrap();
    let mut sink = Default::default();
    let result = small
        .store
        .metric_series(
            vandal,
            &[(date("2024-03-01"), date("2024-03-01"))],
            &mut sink,
        )
        .await;
    assert!(result.is_err(), "the smuggled DELETE must fail");
    let _ = report::build(&small.store, &config, date("2024-03-01")).await;
    assert_eq!(
        small.fingerprint().await,
        before,
        "metric SQL changed the store ({result:?})"
    );

    if b == Backend::Postgres {
        // Writes that look like a plain SELECT to the parser. A function that deletes is refused
        // by the read-only transaction; lo_create, which PostgreSQL allows even there, is
        // undone because metric queries always roll back.
        sqlx::query(
            "CREATE FUNCTION wipe() RETURNS BIGINT AS 'DELETE FROM order_lines; SELECT 1::BIGINT' LANGUAGE sql",
        )
        .execute(small.store.pool())
        .await
        .unwrap();
        let before = small.fingerprint().await;
        let mut writer = vandal.clone();
        writer.sql = "SELECT day, wipe() AS num FROM orders WHERE day BETWEEN $1 AND $2".into();
        let err = small
            .store
            .metric_series(
                &writer,
                &[(date("2024-03-01"), date("2024-03-01"))],
                &mut Default::default(),
            )
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("read-only transaction"),
            "{err:#}"
        );
        writer.sql =
            "SELECT day, CAST(CAST(lo_create(0) AS TEXT) AS BIGINT) AS num FROM orders WHERE day BETWEEN $1 AND $2".into();
        let _ = small
            .store
            .metric_series(
                &writer,
                &[(date("2024-03-01"), date("2024-03-01"))],
                &mut Default::default(),
            )
            .await;
        assert_eq!(
            small
                .scalar("SELECT COUNT(*) FROM pg_largeobject_metadata")
                .await,
            Some(0.0)
        );
        assert_eq!(small.fingerprint().await, before);
    }
}

/// The small shop closed on Friday 23 Feb for a stocktake: on Friday 1 Mar, "vs last week"
/// steps back to Friday 16 Feb (net revenue 30, by hand from fixtures/small: O07, 3 × A at
/// 10.00) and says why, in the report and in the email's table.
async fn a_closed_day_stands_aside_in_every_comparison(b: Backend) {
    let text = std::fs::read_to_string(crate::support::fixture("small/config.toml")).unwrap()
        + "\n[[closures]]\nfrom = 2024-02-23\nto = 2024-02-23\nreason = \"stocktaking\"\n";
    let Some(t) = TestStore::new(b, &text).await else {
        return;
    };
    let t = t.with_small_data().await;
    let r = report_for(&t, "2024-03-01").await;
    let w = cmp(&r, "net_revenue", SameWeekdayLastWeek);
    assert_eq!(w.previous_period, (date("2024-02-16"), date("2024-02-16")));
    is(w.previous, 30.0);
    assert_eq!(
        w.previous_note.as_deref(),
        Some("23 Feb closed for stocktaking")
    );
    // The day before (29 Feb) was open: nothing changes there.
    let p = cmp(&r, "net_revenue", PreviousDay);
    assert_eq!(
        (p.previous_period.0, &p.previous_note),
        (date("2024-02-29"), &None)
    );
    let text = crate::support::composed(&t).await.rendered.text;
    assert!(
        text.contains("vs Fri 16 Feb (23 Feb closed for stocktaking)"),
        "{text}"
    );
}

both_backends!(guest_orders_are_counted_apart_from_new_customers);

/// Two guest orders (no customer, no type) on 1 Mar beside the small shop's two (O03 new,
/// O04 returning; O02 falls on 29 Feb in New York and O05 was cancelled): by hand, new
/// customers stay 1, guest orders are 2, and the repeat rate is over customers' orders
/// only: (4 − 1 new − 2 guests) / (4 − 2) = 1/2, where guests as new would make it 1/4.
async fn guest_orders_are_counted_apart_from_new_customers(b: Backend) {
    let Some(t) = TestStore::small(b).await else {
        return;
    };
    let path = t.dir.path().join("guests.csv");
    std::fs::write(
        &path,
        "order_id,placed_at,channel,customer_id,customer_type,discount,status\n\
         G1,2024-03-01 11:00:00,organic,,,0,delivered\n\
         G2,2024-03-01 13:00:00,direct,,,0,delivered\n",
    )
    .unwrap();
    dawnpost::ingest::import_csv(&t.store, "orders", &path, t.config.shop.timezone)
        .await
        .unwrap();
    let r = report_for(&t, "2024-03-01").await;
    is(cmp(&r, "orders", PreviousDay).current, 4.0);
    is(cmp(&r, "new_customers", PreviousDay).current, 1.0);
    is(cmp(&r, "guest_orders", PreviousDay).current, 2.0);
    is(cmp(&r, "repeat_purchase_rate", PreviousDay).current, 0.5);
}
