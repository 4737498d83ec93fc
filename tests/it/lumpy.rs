//! The lumpy shop (fixtures/lumpy): a wholesaler closed on Saturdays and over Christmas.
//! dawnpost's backtest against the textbook forecasts kept in fixtures/lumpy/reference.json
//! (worked out by reference.py, apart from dawnpost), and the seasonal naive worked out again
//! here from the raw orders, so that the kept figures are tied to the fixture.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, TimeZone, Weekday};
use dawnpost::demo::{DemoOptions, DemoShop, generate};
use dawnpost::metrics::forecast::{self, BacktestReport, RangeSource};

use crate::support::{Backend, TestStore, fixture};

const END: &str = "2026-09-06";
const WINDOWS: u32 = 6;
const DAYS: u32 = 56;
const HORIZONS: u32 = 7;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn lumpy(b: Backend) -> Option<TestStore> {
    let text = std::fs::read_to_string(fixture("lumpy/config.toml")).unwrap();
    let t = TestStore::new(b, &text).await?;
    let o = DemoOptions {
        end: d(END),
        days: 730,
        seed: 7,
        scale: 1.0,
        shop: DemoShop::Lumpy,
    };
    generate(&t.store, &o, t.config.shop.timezone, false)
        .await
        .unwrap();
    Some(t)
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("lumpy/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Open on the fixture's calendar, worked out here: not a Saturday, not in a closure.
fn open(t: &TestStore, day: NaiveDate) -> bool {
    day.weekday() != Weekday::Sat
        && !t
            .config
            .shop
            .closures
            .iter()
            .any(|c| c.from <= day && day <= c.to)
}

/// The same weekday last week, or the open one before it: (MAPE, forecasts) per window.
fn naive_by_window(t: &TestStore, orders: &BTreeMap<NaiveDate, f64>) -> Vec<(f64, usize)> {
    let last = d(END);
    (0..WINDOWS)
        .rev()
        .map(|w| {
            let end = last - Days::new(u64::from(w * DAYS));
            let first = end - Days::new(u64::from(DAYS) - 1);
            let mut apes = Vec::new();
            for day in first.iter_days().take_while(|x| *x <= end) {
                let actual = orders.get(&day).copied().unwrap_or(0.0);
                if !open(t, day) || actual <= 0.0 {
                    continue;
                }
                for h in 1..=HORIZONS {
                    let weeks = u64::from(h.div_ceil(7));
                    let back = (weeks..weeks + 9)
                        .map(|k| day - Days::new(7 * k))
                        .find(|x| open(t, *x))
                        .unwrap();
                    let naive = orders.get(&back).copied().unwrap_or(0.0);
                    apes.push((actual - naive).abs() / actual);
                }
            }
            (apes.iter().sum::<f64>() / apes.len() as f64, apes.len())
        })
        .collect()
}

async fn backtest(t: &TestStore, config: &dawnpost::config::Config) -> BacktestReport {
    dawnpost::store::gather::backtest(&t.store, config, d(END), DAYS, HORIZONS, WINDOWS)
        .await
        .unwrap()
}

crate::support::both_backends!(the_lumpy_shop_beats_seasonal_naive_and_ets);

/// dawnpost's forecast of the lumpy shop beats the same weekday last week in every window
/// and AutoETS over all six; its range holds 75-85% of days in every window.
async fn the_lumpy_shop_beats_seasonal_naive_and_ets(b: Backend) {
    let Some(t) = lumpy(b).await else {
        return;
    };
    let r = reference();
    let orders = t.raw_orders().await;
    let bt = backtest(&t, &t.config).await;
    the_reference_is_of_this_store(&t, &r, &orders, &bt);
    each_window_beats_naive_and_holds_its_range(&t, &orders, &bt);
    // Beats AutoETS over all six windows, and AutoETS on the open days only.
    let all = bt.overall.mape.unwrap();
    for m in ["ets_mape", "ets_open_days_mape"] {
        let ets = r["all"][m].as_f64().unwrap();
        assert!(all < ets, "MAPE {all} against {m} {ets}");
    }
    assert_eq!(r["all"]["forecasts"], bt.overall.days);

    // The data's error grows with the days ahead, and so does the range.
    let by_h: Vec<f64> = bt.by_horizon.iter().map(|(_, a)| a.mape.unwrap()).collect();
    assert!(by_h[6] > by_h[0], "{by_h:?}");
    let width = |h: u32| {
        let w: Vec<f64> = bt
            .rows
            .iter()
            .filter(|r| r.horizon == h)
            .map(|r| ((r.high + 0.5) / (r.low + 0.5)).ln())
            .collect();
        w.iter().sum::<f64>() / w.len() as f64
    };
    assert!(width(7) > width(1), "{} against {}", width(7), width(1));

    // The calendar told by the history (no `[shop] closed`) closes Saturdays too, and the
    // backtest is the same.
    let mut inferred = t.config.clone();
    inferred.shop.closed = None;
    let cal = dawnpost::store::report::calendar(&t.store, &inferred, d(END))
        .await
        .unwrap();
    assert_eq!(cal.closed_weekdays().collect::<Vec<_>>(), [Weekday::Sat]);
    assert_eq!(backtest(&t, &inferred).await.rows, bt.rows);
}

/// The kept reference read this store (the same days and orders), and its seasonal naive,
/// the one worked out here and dawnpost's agree, window by window.
fn the_reference_is_of_this_store(
    t: &TestStore,
    r: &serde_json::Value,
    orders: &BTreeMap<NaiveDate, f64>,
    bt: &BacktestReport,
) {
    let store = &r["store"];
    let first = *orders.keys().next().unwrap();
    let last = *orders.keys().next_back().unwrap();
    assert_eq!(store["first_day"], first.to_string());
    assert_eq!(store["last_day"], last.to_string());
    assert_eq!(store["days"], (last - first).num_days() + 1);
    assert_eq!(store["orders"], orders.values().sum::<f64>() as i64);
    let naive = naive_by_window(t, orders);
    assert_eq!(bt.windows.len(), WINDOWS as usize);
    for (i, w) in bt.windows.iter().enumerate() {
        let kept = &r["windows"][i];
        assert_eq!(kept["first"], w.first.to_string());
        assert_eq!(kept["last"], w.last.to_string());
        let (mape, n) = naive[i];
        assert_eq!(kept["forecasts"], n);
        assert!(
            (kept["naive_mape"].as_f64().unwrap() - mape).abs() < 1e-12,
            "{i}"
        );
        assert!((w.accuracy.naive_mape.unwrap() - mape).abs() < 1e-12, "{i}");
        assert_eq!(w.accuracy.days, n);
    }
}

/// Each replayed day against its orders counted here, each window's MAPE and share in range
/// from them: below the naive MAPE, and 75-85%.
fn each_window_beats_naive_and_holds_its_range(
    t: &TestStore,
    orders: &BTreeMap<NaiveDate, f64>,
    bt: &BacktestReport,
) {
    for w in &bt.windows {
        let rows: Vec<_> = bt
            .rows
            .iter()
            .filter(|r| w.first <= r.day && r.day <= w.last)
            .collect();
        let mut apes = 0.0;
        let mut inside = 0;
        for row in &rows {
            let actual = orders[&row.day];
            assert_eq!(row.actual, actual, "{}", row.day);
            assert!(open(t, row.day), "a closed day replayed: {}", row.day);
            apes += (actual - row.expected).abs() / actual;
            inside += usize::from(row.low <= actual && actual <= row.high);
        }
        let mape = apes / rows.len() as f64;
        let held = inside as f64 / rows.len() as f64;
        assert!((w.accuracy.mape.unwrap() - mape).abs() < 1e-12);
        assert_eq!(w.accuracy.in_range, Some(held));
        let naive = w.accuracy.naive_mape.unwrap();
        assert!(
            mape < naive,
            "{}: MAPE {mape} against naive {naive}",
            w.first
        );
        assert!((0.75..=0.85).contains(&held), "{}: {held}", w.first);
    }
}

/// Over Christmas: the week ahead is 0 on each closed day with a range of 0-0, the email
/// says the days are closed, and the first days after are forecast from the level before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn christmas_is_closed_and_the_level_is_carried_over_it() {
    let t = lumpy(Backend::Sqlite).await.unwrap();
    the_fixture_is_what_it_says(&t).await;
    let monday = d("2025-12-22");
    let inputs = dawnpost::store::gather::gather(&t.store, &t.config, monday)
        .await
        .unwrap();
    let ahead = forecast::forecast(&inputs.history, monday, 14);
    assert_eq!(ahead.len(), 14);
    for f in &ahead {
        if open(&t, f.day) {
            assert_eq!(f.closed, None);
            assert!(
                f.expected > 0.0 && f.low < f.expected && f.expected < f.high,
                "{f:?}"
            );
            assert_eq!(f.range, RangeSource::Errors);
        } else {
            assert_eq!((f.expected, f.low, f.high), (0.0, 0.0, 0.0), "{}", f.day);
            assert_eq!(f.range, RangeSource::Closed);
        }
    }
    // Read on 22 Dec, the history ends then: Sunday 4 Jan is forecast from its state.
    assert_eq!(ahead[12].day, d("2026-01-04"));
    assert_eq!(ahead[12].baseline.from, monday);
    // With the days after in the store, a forecast made on any day of the closure starts
    // from Tuesday 23 Dec, the last open day, and is the one made that evening.
    let later = dawnpost::store::gather::gather(&t.store, &t.config, d("2026-01-10"))
        .await
        .unwrap();
    let h = &later.history;
    let target = d("2026-01-05");
    let eve = forecast::forecast_day(h, d("2025-12-23"), target).unwrap();
    assert_eq!(eve.baseline.from, d("2025-12-23"));
    for during in d("2025-12-24").iter_days().take(11) {
        let f = forecast::forecast_day(h, during, target).unwrap();
        assert_eq!(f.baseline.from, d("2025-12-23"), "{during}");
        assert_eq!(
            (f.expected, f.low, f.high),
            (eve.expected, eve.low, eve.high),
            "{during}"
        );
    }

    // "Coming up" in the email says the closed days are closed.
    let c = crate::support::composed_on(&t, monday).await;
    let rows = &c.digest.outlook.days;
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].closed, "");
    for row in &rows[1..] {
        assert_eq!(row.closed, "closed (Christmas)", "{row:?}");
        assert_eq!(row.expected, "");
    }
    let text = &c.rendered.text;
    let line = text.lines().find(|l| l.contains("Sat 27 Dec")).unwrap();
    assert!(line.trim_end().ends_with("closed (Christmas)"), "{line}");
    assert!(c.rendered.html.contains("closed (Christmas)"));
    // The shop has no capacity figures: the table and the chart say nothing of capacity.
    assert!(!c.digest.outlook.has_capacity);
    assert!(
        text.contains("Expected orders          Expected      Range\n"),
        "{text}"
    );
    for capacity in ["against capacity", ">Capacity<"] {
        assert!(
            !c.rendered.html.contains(capacity),
            "{capacity:?} in the HTML"
        );
    }
}

/// No order on a closed day; a few huge orders (600 units or more on a line), most of them
/// cancelled.
async fn the_fixture_is_what_it_says(t: &TestStore) {
    let all = t.raw_orders().await;
    assert!(all.keys().all(|day| open(t, *day)));
    let placed_closed = t
        .scalar("SELECT COUNT(*) FROM orders WHERE strftime('%w', day) = '6'")
        .await
        .unwrap();
    assert_eq!(placed_closed, 0.0);
    let huge = |status: &str| {
        format!(
            "SELECT COUNT(DISTINCT o.order_id) FROM orders o JOIN order_lines l ON l.order_id = o.order_id \
             WHERE l.quantity >= 600 AND o.status {status}"
        )
    };
    let (kept, cancelled) = (
        t.scalar(&huge("<> 'cancelled'")).await.unwrap(),
        t.scalar(&huge("= 'cancelled'")).await.unwrap(),
    );
    assert!(
        (5.0..=20.0).contains(&kept) && cancelled > kept,
        "{kept} kept, {cancelled} cancelled"
    );
}

/// Days with any item in "What moved" over `days` days ending on `last`, of the open ones.
pub(crate) async fn news_days(
    t: &TestStore,
    last: NaiveDate,
    days: u64,
) -> (usize, usize, Vec<String>) {
    let (mut open_days, mut with_news, mut said) = (0, 0, Vec::new());
    for back in (0..days).rev() {
        let day = last - Days::new(back);
        let inputs = dawnpost::store::gather::gather(&t.store, &t.config, day)
            .await
            .unwrap();
        if !inputs.calendar.is_open(day) {
            continue;
        }
        open_days += 1;
        let now = t
            .config
            .shop
            .timezone
            .from_local_datetime(&(day + Days::new(1)).and_hms_opt(6, 0, 0).unwrap())
            .unwrap();
        let (digest, _) = dawnpost::digest::build(&t.config, day, now, &inputs);
        if !digest.news.items.is_empty() {
            with_news += 1;
            let texts: Vec<&str> = digest.news.items.iter().map(|i| i.text.as_str()).collect();
            said.push(format!("{day}: {}", texts.join(" | ")));
        }
    }
    (open_days, with_news, said)
}

/// "What moved" speaks on at most 15% of the lumpy shop's open days, over its last eight
/// weeks (closed days are not judged); the rate is printed for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_news_is_rarely_loud_on_a_lumpy_shop() {
    let t = lumpy(Backend::Sqlite).await.unwrap();
    let (open_days, with_news, said) = news_days(&t, d(END), 56).await;
    let rate = with_news as f64 / open_days as f64;
    eprintln!(
        "lumpy shop: news on {with_news} of {open_days} open days ({:.1}%)\n{}",
        rate * 100.0,
        said.join("\n")
    );
    assert!(open_days >= 45, "{open_days}");
    assert!(rate <= 0.15, "news on {with_news} of {open_days} open days");
}
