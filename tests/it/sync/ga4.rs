//! GA4's Data API replayed in the shapes of fixtures/ga4-api: the service account's signed
//! request checked with the test key's public half, pages by `limit` and `offset`, a quota
//! back-off, a token that expires, a revoked key, a lookback that restates yesterday, and a
//! server that dies mid-sync.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use super::{config, cursor, opts, run, store};
use crate::replay::{Answer, Replay, Request};
use crate::support::{Backend, TestStore, both_backends, fixture};

const PROPERTY: &str = "123456789";
const EMAIL: &str = "dawnpost@fixture-project.iam.gserviceaccount.com";
const GROUPS: [(&str, &str); 4] = [
    ("Direct", "direct"),
    ("Organic Search", "organic"),
    ("Paid Search", "paid_search"),
    ("Email", "email"),
];

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("ga4-api/{name}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Sessions, item views, add-to-carts and checkouts of one day and channel group: made up,
/// different for every day and group.
fn figures(day: NaiveDate, g: usize) -> [i64; 4] {
    let n = day.to_string().bytes().map(i64::from).sum::<i64>() + 37 * g as i64;
    let sessions = 100 + n % 250;
    [sessions, sessions * 3 / 2, sessions / 5, sessions / 12]
}

/// The property the server plays.
struct Property {
    /// The RSA key's public half (PKCS#1 DER), to check each signed request with.
    public: Vec<u8>,
    token_uri: String,
    tokens: Vec<String>,
    /// The key is revoked: every sign-in is refused.
    revoked: bool,
    /// A token stops working after this many reports (it "expired").
    token_life: Option<usize>,
    uses: BTreeMap<String, usize>,
    /// 429s before the next report page.
    throttles: usize,
    /// Drops the connection when a page from this offset is asked for.
    die_at_offset: Option<u64>,
    /// Sessions added to one day and group: GA4 restating a day.
    restated: Option<(NaiveDate, usize, i64)>,
    /// Each report's date range and offset.
    asked: Vec<(String, String, u64)>,
}

impl Property {
    fn answer(&mut self, r: &Request) -> Answer {
        match r.path() {
            "/token" => self.token(r),
            p if p == format!("/v1beta/properties/{PROPERTY}:runReport") => self.report(r),
            _ => Answer::json(
                404,
                r#"{"error":{"code":404,"status":"NOT_FOUND","message":"Not found"}}"#,
            ),
        }
    }

    /// The signed request, checked as Google checks it: the signature with the key's
    /// public half, then the claims.
    fn token(&mut self, r: &Request) -> Answer {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        let jwt = &form["assertion"];
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public,
        );
        let good = key.verify(signed.as_bytes(), &signature).is_ok();
        let (header, claims) = signed.split_once('.').unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], EMAIL);
        assert_eq!(
            claims["scope"],
            "https://www.googleapis.com/auth/analytics.readonly"
        );
        assert_eq!(claims["aud"], self.token_uri);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        if !good || self.revoked {
            return Answer::json(400, &read("token-invalid-grant.json").to_string());
        }
        let mut t = read("token.json");
        let token = format!("ya29.fixture-{}", self.tokens.len() + 1);
        t["access_token"] = json!(token);
        self.tokens.push(token);
        Answer::json(200, &t.to_string())
    }

    fn report(&mut self, r: &Request) -> Answer {
        let bearer = r
            .header("Authorization")
            .unwrap_or("")
            .trim_start_matches("Bearer ")
            .to_string();
        // A token's life is counted in pages served.
        let served = self.uses.get(&bearer).copied().unwrap_or(0);
        let expired = self.token_life.is_some_and(|n| served >= n);
        if self.tokens.last() != Some(&bearer) || expired {
            return Answer::json(401, &read("unauthenticated.json").to_string());
        }
        if self.throttles > 0 {
            self.throttles -= 1;
            return Answer::json(429, &read("quota-exhausted.json").to_string());
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["returnPropertyQuota"], true);
        let from: NaiveDate = body["dateRanges"][0]["startDate"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let to: NaiveDate = body["dateRanges"][0]["endDate"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let (limit, offset) = (
            body["limit"].as_u64().unwrap(),
            body["offset"].as_u64().unwrap(),
        );
        self.asked.push((from.to_string(), to.to_string(), offset));
        if self.die_at_offset == Some(offset) {
            return Answer::Drop;
        }
        let metrics: Vec<&str> = body["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            metrics,
            ["sessions", "itemViewEvents", "addToCarts", "checkouts"]
        );
        let mut rows = Vec::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            for (g, (group, _)) in GROUPS.iter().enumerate() {
                let mut f = figures(day, g);
                if let Some((d, rg, add)) = self.restated
                    && d == day
                    && rg == g
                {
                    f[0] += add;
                }
                rows.push(json!({
                    "dimensionValues": [{ "value": day.format("%Y%m%d").to_string() }, { "value": group }],
                    "metricValues": f.iter().map(|v| json!({ "value": v.to_string() })).collect::<Vec<_>>(),
                }));
            }
        }
        *self.uses.entry(bearer).or_default() += 1;
        let mut page = read("run-report-page-1.json");
        page["rowCount"] = json!(rows.len());
        page["rows"] = json!(
            rows.into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect::<Vec<_>>()
        );
        Answer::json(200, &page.to_string())
    }
}

struct Setup {
    t: TestStore,
    property: Arc<Mutex<Property>>,
    server: Replay,
    _keys: tempfile::TempDir,
}

/// A throwaway RSA key (PKCS#8 PEM, as a service account's) and its public half (PKCS#1 DER).
fn key(dir: &std::path::Path) -> (String, Vec<u8>) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "sa.pem",
    ]);
    run(&[
        "rsa",
        "-in",
        "sa.pem",
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        "sa.pub.der",
    ]);
    (
        std::fs::read_to_string(dir.join("sa.pem")).unwrap(),
        std::fs::read(dir.join("sa.pub.der")).unwrap(),
    )
}

async fn setup(b: Backend, history_days: u32) -> Option<Setup> {
    let keys = tempfile::tempdir().unwrap();
    let (pem, public) = key(keys.path());
    let property = Arc::new(Mutex::new(Property {
        public,
        token_uri: String::new(),
        tokens: Vec::new(),
        revoked: false,
        token_life: None,
        uses: BTreeMap::new(),
        throttles: 0,
        die_at_offset: None,
        restated: None,
        asked: Vec::new(),
    }));
    let p = property.clone();
    let server = Replay::start(move |r| p.lock().unwrap().answer(r)).await;
    let token_uri = format!("{}/token", server.url());
    property.lock().unwrap().token_uri = token_uri.clone();
    let credentials = json!({
        "type": "service_account",
        "project_id": "fixture-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": EMAIL,
        "token_uri": token_uri,
    });
    let file = keys.path().join("sa.json");
    std::fs::write(&file, credentials.to_string()).unwrap();
    let source = format!(
        "[[sources]]\nname = \"ga\"\nkind = \"ga4\"\nproperty = \"{PROPERTY}\"\ncredentials_file = {:?}\n\
         endpoint = \"{}\"\nca_file = {:?}\nhistory_days = {history_days}\n",
        file.display().to_string(),
        server.url(),
        server.ca.display().to_string()
    );
    let t = store(b, &config("GBP", &source)).await?;
    Some(Setup {
        t,
        property,
        server,
        _keys: keys,
    })
}

/// 2 June 2026, 05:00 UTC: the sync day in London is 2 June.
const DAY: &str = "2026-06-02";
const AT: i64 = 1_780_376_400;

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

async fn sessions(t: &TestStore, d: NaiveDate, channel: &str) -> Option<f64> {
    t.scalar(&format!(
        "SELECT sessions FROM traffic WHERE day = '{d}' AND channel = '{channel}'"
    ))
    .await
}

async fn a_first_sync_reads_two_pages_of_days_and_channels(b: Backend) {
    let Some(s) = setup(b, 400).await else { return };
    let summary = run(&s.t, &opts(DAY, AT)).await.unwrap();
    let from = day() - Days::new(400);
    // 401 days × 4 groups: two pages of 1,000 and one of the rest.
    let asked: Vec<u64> = s
        .property
        .lock()
        .unwrap()
        .asked
        .iter()
        .map(|a| a.2)
        .collect();
    assert_eq!(asked, [0, 1000]);
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM traffic").await,
        Some(1604.0)
    );
    for d in [from, from + Days::new(200), day()] {
        for (g, (_, channel)) in GROUPS.iter().enumerate() {
            let f = figures(d, g);
            let got = s
                .t
                .scalar(&format!(
                    "SELECT sessions * 1000000000 + product_views * 1000000 + add_to_carts * 1000 + checkouts \
                     FROM traffic WHERE day = '{d}' AND channel = '{channel}'"
                ))
                .await;
            assert_eq!(
                got,
                Some((f[0] * 1_000_000_000 + f[1] * 1_000_000 + f[2] * 1000 + f[3]) as f64),
                "{d} {channel}"
            );
        }
    }
    // The property's days are Los Angeles days, and the shop is told so, not shifted.
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("America/Los_Angeles")),
        "{:?}",
        summary.warnings
    );
    let c = crate::support::composed_on(&s.t, day() - Days::new(1)).await;
    let note = "Traffic days follow GA4's America/Los_Angeles; orders follow Europe/London.";
    let text = c
        .rendered
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains(note), "{text}");
    assert!(
        c.rendered
            .html
            .contains("America/Los_Angeles; orders follow Europe/London.")
    );
    assert_eq!(
        cursor(&s.t, "ga").await.as_deref(),
        Some("2026-06-02T00:00:00Z")
    );
    assert_eq!(s.property.lock().unwrap().tokens.len(), 1);
}

async fn a_lookback_restates_yesterday_and_nothing_else(b: Backend) {
    let Some(s) = setup(b, 30).await else { return };
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    let before = s.t.fingerprint().await;
    let yesterday = day() - Days::new(1);
    s.property.lock().unwrap().restated = Some((yesterday, 0, 25));
    let again = run(&s.t, &opts(DAY, AT + 3_600)).await.unwrap();
    assert!(again.incremental);
    // The cursor (2 June) less the lookback (2 days).
    let last = s.property.lock().unwrap().asked.last().cloned().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("2026-05-31", DAY));
    assert_eq!(
        sessions(&s.t, yesterday, "direct").await,
        Some((figures(yesterday, 0)[0] + 25) as f64)
    );
    let after = s.t.fingerprint().await;
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert_eq!(changed, ["traffic"]);
    let rows = |f: &[(String, i64, String)]| -> Vec<String> {
        f.iter()
            .find(|t| t.0 == "traffic")
            .unwrap()
            .2
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (was, now) = (rows(&before), rows(&after));
    let differ: Vec<&String> = now.iter().filter(|r| !was.contains(r)).collect();
    assert_eq!(differ.len(), 1, "{differ:?}");
    assert!(differ[0].contains(&yesterday.to_string()) && differ[0].contains("direct"));
}

async fn a_quota_back_off_and_an_expired_token_are_waited_out(b: Backend) {
    let Some(s) = setup(b, 400).await else { return };
    {
        let mut p = s.property.lock().unwrap();
        p.throttles = 2;
        // Each token is good for one report: the second page meets a 401.
        p.token_life = Some(1);
    }
    run(&s.t, &opts(DAY, AT)).await.unwrap();
    assert_eq!(
        s.property.lock().unwrap().tokens.len(),
        2,
        "a new token after the 401"
    );
    let reports = s
        .server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(":runReport"))
        .count();
    // Two 429s and the first page; the second page's 401, and again with a fresh token.
    assert_eq!(reports, 3 + 2);
    assert_eq!(
        s.t.scalar("SELECT COUNT(*) FROM traffic").await,
        Some(1604.0)
    );
}

async fn a_revoked_key_is_named_and_not_shown(b: Backend) {
    let Some(s) = setup(b, 30).await else { return };
    s.property.lock().unwrap().revoked = true;
    let e = format!("{:#}", run(&s.t, &opts(DAY, AT)).await.unwrap_err());
    assert!(
        e.contains("source ga") && e.contains("invalid_grant") && e.contains(EMAIL),
        "{e}"
    );
    assert!(!e.contains("PRIVATE KEY") && !e.contains("ya29"), "{e}");
    assert!(!format!("{:?}", s.t.config).contains("PRIVATE KEY"));
}

async fn a_server_that_dies_mid_sync_leaves_nothing_written(b: Backend) {
    let Some(s) = setup(b, 400).await else { return };
    s.property.lock().unwrap().die_at_offset = Some(1000);
    let before = s.t.fingerprint().await;
    assert!(run(&s.t, &opts(DAY, AT)).await.is_err());
    assert_eq!(s.t.fingerprint().await, before);
    assert_eq!(cursor(&s.t, "ga").await, None);
}

both_backends!(
    a_first_sync_reads_two_pages_of_days_and_channels,
    a_lookback_restates_yesterday_and_nothing_else,
    a_quota_back_off_and_an_expired_token_are_waited_out,
    a_revoked_key_is_named_and_not_shown,
    a_server_that_dies_mid_sync_leaves_nothing_written,
);
