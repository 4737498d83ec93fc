//! Several shops in one process: each config file is one shop, with its own store, teams and
//! reports. Report names are unique across them, so a report name alone picks the shop.

use anyhow::{Result, bail};

use crate::config::{Config, Report};
use crate::store::Store;

/// One shop: its parsed config and its open store.
#[derive(Debug)]
pub struct Shop {
    pub config: Config,
    pub store: Store,
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

    pub async fn close(self) {
        for shop in self.0 {
            shop.store.close().await;
        }
    }
}
