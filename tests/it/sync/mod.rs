//! Live sources against local HTTPS servers that replay each platform's documented answers
//! (fixtures/shopify-api, fixtures/woocommerce-api): figures checked against separate SQL
//! and against sums the tests work out from the answers they serve.

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
