//! Meta's Insights API replayed in the shapes of fixtures/meta-ads-api: the account's
//! currency and zone, campaign days paged by cursor, a rate limit waited out and one that
//! ends the sync, an expired token, another currency.

use std::sync::{Arc, Mutex};

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use super::{config, cursor, opts, run, secret, store};
use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore, both_backends, fixture};

const ACCOUNT: &str = "/v26.0/act_111111111111111";
const TOKEN: &str = "EAAG-fixture-system-user-token";

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("meta-ads-api/{name}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's campaigns: (id, name).
fn campaigns() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in read("insights-page-1.json")["data"].as_array().unwrap() {
        let c = (
            r["campaign_id"].as_str().unwrap().to_string(),
            r["campaign_name"].as_str().unwrap().to_string(),
        );
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Spend (cents), impressions and link clicks of one campaign's day: made up.
fn figures(day: NaiveDate, c: usize) -> (i64, i64, i64) {
    let n = day.to_string().bytes().map(i64::from).sum::<i64>() + 29 * c as i64;
    (2_000 + n * 13, 5_000 + n * 7, 30 + n % 70)
}

struct Ads {
    currency: &'static str,
    expired: bool,
    /// Rate errors before the insights, with the minutes each says to wait.
    limited: Option<(usize, f64)>,
    pages: Vec<Option<String>>,
}

impl Ads {
    fn answer(&mut self, r: &Request) -> Answer {
        if self.expired || r.header("Authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Answer::json(400, &read("token-expired.json").to_string());
        }
        assert!(!r.target.contains(TOKEN), "the token is never in a URL");
        if r.path() == ACCOUNT {
            assert_eq!(r.param("fields").as_deref(), Some("currency,timezone_name"));
            let mut a = read("account.json");
            a["currency"] = json!(self.currency);
            return Answer::json(200, &a.to_string());
        }
        assert_eq!(r.path(), format!("{ACCOUNT}/insights"));
        if let Some((n, minutes)) = self.limited
            && n > 0
        {
            self.limited = Some((n - 1, minutes));
            let usage = json!({ "111111111111111": [{ "type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": minutes }] });
            return Answer::json(400, &read("throttled.json").to_string())
                .with_header("x-business-use-case-usage", &usage.to_string());
        }
        assert_eq!(r.param("level").as_deref(), Some("campaign"));
        assert_eq!(r.param("time_increment").as_deref(), Some("1"));
        let range: Value = serde_json::from_str(&r.param("time_range").unwrap()).unwrap();
        let from: NaiveDate = range["since"].as_str().unwrap().parse().unwrap();
        let to: NaiveDate = range["until"].as_str().unwrap().parse().unwrap();
        let limit: usize = r.param("limit").unwrap().parse().unwrap();
        let after = r.param("after");
        self.pages.push(after.clone());
        let start: usize = after.map_or(0, |a| a.trim_start_matches("c").parse().unwrap());
        let mut rows = Vec::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            for (c, (id, name)) in campaigns().iter().enumerate() {
                let (cents, impressions, clicks) = figures(day, c);
                rows.push(json!({
                    "campaign_id": id, "campaign_name": name,
                    "spend": format!("{}.{:02}", cents / 100, cents % 100),
                    "impressions": impressions.to_string(), "inline_link_clicks": clicks.to_string(),
                    "account_currency": "USD", "date_start": day.to_string(), "date_stop": day.to_string(),
                }));
            }
        }
        let page: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
        let end = start + page.len();
        let mut body = json!({ "data": page, "paging": { "cursors": { "before": format!("c{start}"), "after": format!("c{end}") } } });
        if end < rows.len() {
            body["paging"]["next"] = json!(format!(
                "https://graph.facebook.com{ACCOUNT}/insights?after=c{end}&access_token=NOT-FOLLOWED"
            ));
        }
        Answer::json(200, &body.to_string())
            .with_header("x-fb-ads-insights-throttle", r#"{"app_id_util_pct":12.5,"acc_id_util_pct":3,"ads_api_access_tier":"standard_access"}"#)
    }
}

struct Setup {
    t: TestStore,
    ads: Arc<Mutex<Ads>>,
    _secrets: tempfile::TempDir,
    _server: Replay,
}

async fn setup(b: Backend, currency: &'static str) -> Option<Setup> {
    let ads = Arc::new(Mutex::new(Ads {
        currency,
        expired: false,
        limited: None,
        pages: Vec::new(),
    }));
    let a = ads.clone();
    let server = Replay::start(move |r| a.lock().unwrap().answer(r)).await;
    let secrets = tempfile::tempdir().unwrap();
    let source = format!(
        "[[sources]]\nname = \"meta\"\nkind = \"meta-ads\"\naccount = \"act_111111111111111\"\n\
         access_token_file = {}\nendpoint = \"{}\"\nca_file = {:?}\nhistory_days = 60\n",
        secret(secrets.path(), "token", TOKEN),
        server.url(),
        server.ca.display().to_string()
    );
    let t = store(b, &config("USD", &source)).await?;
    Some(Setup {
        t,
        ads,
        _secrets: secrets,
        _server: server,
    })
}

const DAY: &str = "2026-03-06";
const AT: i64 = 1_772_773_200;

async fn campaign_days_page_by_cursor_into_ad_spend(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    // 61 days × 3 campaigns = 183 rows: a page of 100 and one of 83.
    assert_eq!(
        s.ads.lock().unwrap().pages,
        [None, Some("c100".to_string())]
    );
    let day: NaiveDate = DAY.parse().unwrap();
    let list = campaigns();
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM ad_spend").await,
        Some(61.0 * list.len() as f64)
    );
    for d in [day - Days::new(60), day - Days::new(25), day] {
        for (c, (_, name)) in list.iter().enumerate() {
            let (cents, impressions, clicks) = figures(d, c);
            let got = s
                .t
                .scalar(&format!(
                    "SELECT spend * 100 FROM ad_spend WHERE day = '{d}' AND channel = 'paid_social' AND campaign = '{name}'"
                ))
                .await
                .unwrap();
            assert!((got - cents as f64).abs() < 1e-6, "{d} {name}: {got}");
            let counts = s
                .t
                .scalar(&format!("SELECT impressions * 1000 + clicks FROM ad_spend WHERE day = '{d}' AND campaign = '{name}'"))
                .await;
            assert_eq!(counts, Some((impressions * 1000 + clicks) as f64));
        }
    }
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("America/Los_Angeles"))
    );
    assert_eq!(
        cursor(&s.t, "meta").await.as_deref(),
        Some("2026-03-06T00:00:00Z")
    );
}

async fn a_brief_rate_limit_is_waited_out_and_a_long_one_ends_the_sync(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    s.ads.lock().unwrap().limited = Some((2, 0.005));
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM ad_spend").await,
        Some(183.0)
    );
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    s.ads.lock().unwrap().limited = Some((1, 30.0));
    let before = s.t.fingerprint().await;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source meta") && e.contains("80000") && e.contains("30 minutes"),
        "{e}"
    );
    assert_eq!(s.t.fingerprint().await, before);
}

async fn an_expired_token_and_another_currency_are_refused_by_name(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    s.ads.lock().unwrap().expired = true;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source meta") && e.contains("190/463") && e.contains("expired"),
        "{e}"
    );
    assert!(!e.contains(TOKEN), "{e}");
    let Some(s) = setup(b, "EUR").await else {
        return;
    };
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("EUR") && e.contains("USD") && e.contains("source meta"),
        "{e}"
    );
}

both_backends!(
    campaign_days_page_by_cursor_into_ad_spend,
    a_brief_rate_limit_is_waited_out_and_a_long_one_ends_the_sync,
    an_expired_token_and_another_currency_are_refused_by_name,
);
