//! Several shops in one process: each config file is one shop, with its own store, teams and
//! reports. Report names are unique across them, so a report name alone picks the shop.
//!
//! A shop's store is opened when something needs it and closed when that is done: a command
//! about one shop opens no other, and a `serve` of a thousand shops holds connections only
//! for the shops at work, not for every shop all day.

use anyhow::{Result, bail};
use tokio::sync::Mutex;

use crate::config::{Config, Report};
use crate::store::Store;

/// One shop: its parsed config, and its store while it is open.
#[derive(Debug)]
pub struct Shop {
    pub config: Config,
    store: Mutex<Option<Store>>,
}

impl Shop {
    /// A shop whose store is not opened yet.
    pub fn new(config: Config) -> Shop {
        Shop {
            config,
            store: Mutex::new(None),
        }
    }

    /// The shop's store, opened (and migrated) on first use; the same one until [`Shop::close`].
    pub async fn store(&self) -> Result<Store> {
        let mut open = self.store.lock().await;
        if let Some(store) = &*open {
            return Ok(store.clone());
        }
        let store = Store::open(&self.config.store).await?;
        *open = Some(store.clone());
        Ok(store)
    }

    /// Closes the store if it is open; the next [`Shop::store`] opens it again.
    pub async fn close(&self) {
        let open = self.store.lock().await.take();
        if let Some(store) = open {
            store.close().await;
        }
    }
}

/// Every configured shop.
#[derive(Debug)]
pub struct Shops(Vec<Shop>);

/// Checks that no two config files name a report alike: a report name alone picks the shop.
pub fn unique_report_names<'a>(configs: impl IntoIterator<Item = &'a Config>) -> Result<()> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for config in configs {
        for r in &config.reports {
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == r.name) {
                bail!(
                    "report `{}` is configured twice, in {first} and in {}: report names must \
                     differ across config files",
                    r.name,
                    config.origin
                );
            }
            seen.push((&r.name, &config.origin));
        }
    }
    Ok(())
}

/// The named report among `items` (shops, or bare configs for commands that need no
/// store), or the only one configured anywhere when `name` is None.
pub fn pick_report<'a, T>(
    items: &'a [T],
    config: impl Fn(&T) -> &Config,
    name: Option<&str>,
) -> Result<(&'a T, &'a Report)> {
    if let [one] = items {
        // One shop: its own message names the config file.
        return Ok((one, config(one).report(name)?));
    }
    let all: Vec<(&T, &Report)> = items
        .iter()
        .flat_map(|t| config(t).reports.iter().map(move |r| (t, r)))
        .collect();
    let names = || {
        all.iter()
            .map(|(_, r)| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => all
            .iter()
            .find(|(_, r)| r.name == n)
            .copied()
            .ok_or_else(|| anyhow::anyhow!("no report named `{n}` (reports: {})", names())),
        None => match all.as_slice() {
            [only] => Ok(*only),
            [] => bail!("no [[reports]] configured in any config file"),
            _ => bail!(
                "several reports are configured ({}): choose one with --report",
                names()
            ),
        },
    }
}

impl Shops {
    /// Checks that no two shops name a report alike.
    pub fn new(shops: Vec<Shop>) -> Result<Shops> {
        unique_report_names(shops.iter().map(|s| &s.config))?;
        Ok(Shops(shops))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Shop> {
        self.0.iter()
    }

    /// The only shop; commands that work on one store's data (import, preview, ...) need it.
    pub fn only(&self, command: &str) -> Result<&Shop> {
        match self.0.as_slice() {
            [one] => Ok(one),
            _ => bail!(
                "`{command}` works on one shop's store: give exactly one --config (got {})",
                self.0.len()
            ),
        }
    }

    /// Every (shop, report) pair, in config order.
    pub fn reports(&self) -> impl Iterator<Item = (&Shop, &Report)> {
        self.0
            .iter()
            .flat_map(|s| s.config.reports.iter().map(move |r| (s, r)))
    }

    /// The named report, or the only one configured anywhere when `name` is None.
    pub fn report(&self, name: Option<&str>) -> Result<(&Shop, &Report)> {
        pick_report(&self.0, |s| &s.config, name)
    }

    /// Closes every store still open.
    pub async fn close(&self) {
        for shop in &self.0 {
            shop.close().await;
        }
    }
}
