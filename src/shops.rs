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

impl Shops {
    /// Checks that no two shops name a report alike.
    pub fn new(shops: Vec<Shop>) -> Result<Shops> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for shop in &shops {
            for r in &shop.config.reports {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == r.name) {
                    bail!(
                        "report `{}` is configured twice, in {first} and in {}: report names must \
                         differ across config files",
                        r.name,
                        shop.config.origin
                    );
                }
                seen.push((&r.name, &shop.config.origin));
            }
        }
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
        if let [one] = self.0.as_slice() {
            // One shop: its own message names the config file.
            return Ok((one, one.config.report(name)?));
        }
        let names = || {
            self.reports()
                .map(|(_, r)| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => self
                .reports()
                .find(|(_, r)| r.name == n)
                .ok_or_else(|| anyhow::anyhow!("no report named `{n}` (reports: {})", names())),
            None => {
                let all: Vec<_> = self.reports().collect();
                match all.as_slice() {
                    [only] => Ok(*only),
                    [] => bail!("no [[reports]] configured in any config file"),
                    _ => bail!(
                        "several reports are configured ({}): choose one with --report",
                        names()
                    ),
                }
            }
        }
    }

    pub async fn close(self) {
        for shop in self.0 {
            shop.store.close().await;
        }
    }
}
