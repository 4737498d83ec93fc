//! Live sources against local HTTPS servers that replay each platform's documented answers
//! (fixtures/shopify-api, fixtures/woocommerce-api): figures checked against separate SQL
//! and against sums the tests work out from the answers they serve.

mod ga4;
mod google_ads;
mod meta_ads;
mod shopify;
mod woocommerce;

use std::path::Path;

use dawnpost::ingest::live::{SyncOptions, SyncSummary, sync_all};

use crate::support::{Backend, TestStore};

/// A shop's config with one source, its secrets in files under `secrets`.
pub(crate) fn config(currency: &str, source: &str) -> String {
    format!(
        "[shop]\nname = \"Sync Test Shop\"\ntimezone = \"Europe/London\"\ncurrency = \"{currency}\"\n\n\
         [store]\nurl = \"sqlite://sync.sqlite\"\n\n{source}\n"
    )
}

/// Writes a secret file and gives its path as TOML text.
pub(crate) fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    format!("{:?}", p.display().to_string())
}

pub(crate) async fn store(b: Backend, text: &str) -> Option<TestStore> {
    TestStore::new(b, text).await
}

/// Options for a sync run on `day` at `at` (epoch seconds).
pub(crate) fn opts(day: &str, at: i64) -> SyncOptions {
    SyncOptions {
        since: None,
        check: false,
        day: day.parse().unwrap(),
        at,
        progress: Default::default(),
    }
}

/// Syncs every source; the one result.
pub(crate) async fn run(t: &TestStore, o: &SyncOptions) -> anyhow::Result<SyncSummary> {
    let mut all = sync_all(&t.store, &t.config, None, o).await?;
    assert_eq!(all.len(), 1);
    all.pop().unwrap().1
}

/// The source's stored cursor.
pub(crate) async fn cursor(t: &TestStore, source: &str) -> Option<String> {
    t.store.source_state(source).await.unwrap().cursor
}

/// `[[sources]]` as written: what each mistake says, by file, line and key, and no secret
/// in an error or in `Debug`.
#[test]
fn a_source_misconfigured_is_told_where() {
    let dir = tempfile::tempdir().unwrap();
    let token = secret(dir.path(), "token", "shpat_do_not_print_me");
    let parse = |source: &str| {
        dawnpost::config::Config::parse(&dawnpost::config::ConfigSource {
            origin: "shop.toml".into(),
            text: &config("GBP", source),
            base_dir: dir.path().to_path_buf(),
        })
    };
    let shopify = |extra: &str| {
        format!(
            "[[sources]]\nname = \"shop\"\nkind = \"shopify\"\nshop = \"n.myshopify.com\"\naccess_token_file = {token}\n{extra}"
        )
    };
    let ok = parse(&shopify("")).unwrap();
    assert_eq!(ok.sources[0].endpoint.as_str(), "https://n.myshopify.com/");
    assert!(!format!("{ok:?}").contains("shpat_do_not_print_me"));
    let cases = [
        (shopify("colour = \"blue\""), "colour"),
        (shopify("endpoint = \"http://127.0.0.1:80\""), "`sources[0].endpoint`"),
        (shopify("endpoint = \"https://user:pw@proxy\""), "carries no user"),
        (shopify("lookback_days = 400"), "`sources[0].lookback_days`"),
        (shopify(&format!("client_id_file = {token}")), "not both"),
        (
            "[[sources]]\nname = \"w\"\nkind = \"woocommerce\"\nurl = \"https://s.example\"\nconsumer_key_env = \"DAWNPOST_TEST_UNSET_VAR\"\nconsumer_secret_env = \"DAWNPOST_TEST_UNSET_VAR\"\n".to_string(),
            "DAWNPOST_TEST_UNSET_VAR is not set",
        ),
        (
            "[[sources]]\nname = \"x\"\nkind = \"magento\"\n".to_string(),
            "magento",
        ),
        (format!("{}\n{}", shopify(""), shopify("")), "already configured"),
    ];
    for (text, says) in cases {
        let e = format!("{:#}", parse(&text).unwrap_err());
        assert!(e.contains(says), "{says}: {e}");
        assert!(e.contains("shop.toml:"), "{e}");
        assert!(
            !e.contains("pw@") && !e.contains("shpat_do_not_print_me"),
            "{e}"
        );
    }
}
