//! Google Ads' `searchStream` replayed in the shapes of fixtures/google-ads-api: the refresh
//! token exchanged, the account's currency and zone, campaign days in batches, a short quota
//! wait and a long one, a token that expires, a revoked refresh token, another currency.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use super::{config, cursor, opts, run, secret, store};
use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore, both_backends, fixture};

const CUSTOMER: &str = "1234567890";
const REFRESH: &str = "1//0fixture-refresh-token";
const SEARCH: &str = "/v26/customers/1234567890/googleAds:searchStream";

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("google-ads-api/{name}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's three campaigns.
fn campaigns() -> Vec<(String, String)> {
    let stream = read("search-stream.json");
    let mut out: Vec<(String, String)> = Vec::new();
    for b in stream.as_array().unwrap() {
        for r in b["results"].as_array().unwrap() {
            let c = (
                r["campaign"]["id"].as_str().unwrap().to_string(),
                r["campaign"]["name"].as_str().unwrap().to_string(),
            );
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Cost (micros), clicks and impressions of one campaign's day: made up, different each day.
fn figures(day: NaiveDate, c: usize) -> (i64, i64, i64) {
    let n = day.to_string().bytes().map(i64::from).sum::<i64>() + 17 * c as i64;
    (12_340_000 + n * 10_007, 40 + n % 90, 600 + n % 4000)
}

struct Account {
    currency: &'static str,
    tokens: Vec<String>,
    revoked: bool,
    /// The current token is refused once, as if it had expired.
    expire_once: bool,
    /// 429s before the campaign query is answered, and the delay each asks for.
    quota: Option<(usize, &'static str)>,
    asked: Vec<(String, String)>,
}

impl Account {
    fn answer(&mut self, r: &Request) -> Answer {
        match r.path() {
            "/token" => self.token(r),
            SEARCH => self.search(r),
            _ => Answer::json(404, "{}"),
        }
    }

    fn token(&mut self, r: &Request) -> Answer {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        assert_eq!(form["grant_type"], "refresh_token");
        if self.revoked
            || form["refresh_token"] != REFRESH
            || form["client_secret"] != "gads-secret"
        {
            return Answer::json(400, &read("token-invalid-grant.json").to_string());
        }
        let mut t = read("token.json");
        let token = format!("ya29.ads-{}", self.tokens.len() + 1);
        t["access_token"] = json!(token);
        self.tokens.push(token);
        Answer::json(200, &t.to_string())
    }

    fn search(&mut self, r: &Request) -> Answer {
        let bearer = r
            .header("Authorization")
            .unwrap_or("")
            .trim_start_matches("Bearer ");
        if self.tokens.last().map(String::as_str) != Some(bearer) || self.expire_once {
            self.expire_once = false;
            return Answer::json(401, &read("unauthenticated.json").to_string());
        }
        assert_eq!(r.header("login-customer-id"), Some("1112223333"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let query = body["query"].as_str().unwrap();
        if query.contains("FROM customer") {
            let mut c = read("customer.json");
            c[0]["results"][0]["customer"]["currencyCode"] = json!(self.currency);
            return Answer::json(200, &c.to_string());
        }
        if let Some((n, delay)) = self.quota
            && n > 0
        {
            self.quota = Some((n - 1, delay));
            let mut q = read("quota.json");
            q[0]["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"] =
                json!(delay);
            return Answer::json(429, &q.to_string());
        }
        let between = query.split("BETWEEN '").nth(1).unwrap();
        let from: NaiveDate = between[..10].parse().unwrap();
        let to: NaiveDate = between.split("AND '").nth(1).unwrap()[..10]
            .parse()
            .unwrap();
        self.asked.push((from.to_string(), to.to_string()));
        let mut rows = Vec::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            for (c, (id, name)) in campaigns().iter().enumerate() {
                let (cost, clicks, impressions) = figures(day, c);
                rows.push(json!({
                    "campaign": { "resourceName": format!("customers/{CUSTOMER}/campaigns/{id}"), "id": id, "name": name },
                    "metrics": { "costMicros": cost.to_string(), "clicks": clicks.to_string(), "impressions": impressions.to_string() },
                    "segments": { "date": day.to_string() },
                }));
            }
        }
        let batches: Vec<Value> = rows
            .chunks(5)
            .map(|c| json!({ "results": c, "requestId": "fixture" }))
            .collect();
        Answer::json(200, &Value::Array(batches).to_string())
    }
}

struct Setup {
    t: TestStore,
    account: Arc<Mutex<Account>>,
    _secrets: tempfile::TempDir,
    _server: Replay,
}

async fn setup(b: Backend, currency: &'static str) -> Option<Setup> {
    let account = Arc::new(Mutex::new(Account {
        currency,
        tokens: Vec::new(),
        revoked: false,
        expire_once: false,
        quota: None,
        asked: Vec::new(),
    }));
    let a = account.clone();
    let server = Replay::start(move |r| a.lock().unwrap().answer(r)).await;
    let secrets = tempfile::tempdir().unwrap();
    let source = format!(
        "[[sources]]\nname = \"ads\"\nkind = \"google-ads\"\ncustomer = \"123-456-7890\"\n\
         login_customer = \"111-222-3333\"\nclient_id_file = {}\nclient_secret_file = {}\n\
         refresh_token_file = {}\ntoken_url = \"{}/token\"\nendpoint = \"{}\"\nca_file = {:?}\n\
         history_days = 30\n",
        secret(
            secrets.path(),
            "id",
            "gads-client.apps.googleusercontent.com"
        ),
        secret(secrets.path(), "secret", "gads-secret"),
        secret(secrets.path(), "refresh", REFRESH),
        server.url(),
        server.url(),
        server.ca.display().to_string()
    );
    let t = store(b, &config(currency_of_shop(), &source)).await?;
    Some(Setup {
        t,
        account,
        _secrets: secrets,
        _server: server,
    })
}

fn currency_of_shop() -> &'static str {
    "USD"
}

const DAY: &str = "2026-03-06";
const AT: i64 = 1_772_773_200;

async fn campaign_days_fill_ad_spend_in_the_accounts_days(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    let day: NaiveDate = DAY.parse().unwrap();
    let from = day - Days::new(30);
    assert_eq!(
        s.account.lock().unwrap().asked,
        [(from.to_string(), DAY.to_string())]
    );
    let list = campaigns();
    for d in [from, from + Days::new(11), day] {
        for (c, (_, name)) in list.iter().enumerate() {
            let (cost, clicks, impressions) = figures(d, c);
            let spend = (cost as f64 / 1e6 * 100.0).round() / 100.0;
            let got = s
                .t
                .scalar(&format!(
                    "SELECT spend FROM ad_spend WHERE day = '{d}' AND channel = 'paid_search' AND campaign = '{name}'"
                ))
                .await;
            assert_eq!(got, Some(spend), "{d} {name}");
            let counts = s
                .t
                .scalar(&format!(
                    "SELECT clicks * 100000 + impressions FROM ad_spend WHERE day = '{d}' AND campaign = '{name}'"
                ))
                .await;
            assert_eq!(counts, Some((clicks * 100_000 + impressions) as f64));
        }
    }
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM ad_spend").await,
        Some(31.0 * list.len() as f64)
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("America/Los_Angeles")),
        "{:?}",
        summary.warnings
    );
    assert_eq!(
        cursor(&s.t, "ads").await.as_deref(),
        Some("2026-03-06T00:00:00Z")
    );
    // The next sync reads again from three days before its last day.
    run(&s.t, &opts("2026-03-07", AT + 86_400)).await.unwrap();
    let last = s.account.lock().unwrap().asked.last().cloned().unwrap();
    assert_eq!(last, ("2026-03-03".to_string(), "2026-03-07".to_string()));
}

async fn a_short_quota_wait_and_an_expired_token_are_waited_out(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    {
        let mut a = s.account.lock().unwrap();
        a.quota = Some((2, "0s"));
        a.expire_once = true;
    }
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    assert_eq!(s.account.lock().unwrap().tokens.len(), 2);
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM ad_spend").await,
        Some(31.0 * 3.0)
    );
}

async fn a_spent_quota_ends_the_sync_with_nothing_written(b: Backend) {
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    s.account.lock().unwrap().quota = Some((1, "40591s"));
    let before = s.t.fingerprint().await;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(e.contains("source ads") && e.contains("40591 s"), "{e}");
    assert_eq!(s.t.fingerprint().await, before);
}

async fn another_currency_and_a_revoked_token_are_refused_by_name(b: Backend) {
    let Some(s) = setup(b, "EUR").await else {
        return;
    };
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("EUR") && e.contains("USD") && e.contains("source ads"),
        "{e}"
    );
    let Some(s) = setup(b, "USD").await else {
        return;
    };
    s.account.lock().unwrap().revoked = true;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source ads") && e.contains("invalid_grant") && e.contains("expired or revoked"),
        "{e}"
    );
    assert!(!e.contains(REFRESH) && !e.contains("gads-secret"), "{e}");
}

both_backends!(
    campaign_days_fill_ad_spend_in_the_accounts_days,
    a_short_quota_wait_and_an_expired_token_are_waited_out,
    a_spent_quota_ends_the_sync_with_nothing_written,
    another_currency_and_a_revoked_token_are_refused_by_name,
);
