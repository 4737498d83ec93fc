//! The metric catalog: what each metric means, its unit and direction, and its portable SQL.
//!
//! A metric's SQL is one text that runs unchanged on SQLite and PostgreSQL. It receives the
//! first and last day of a range as `$1` and `$2` (ISO `YYYY-MM-DD` text) and returns rows with
//! a `day` column, a `num` column and, for ratios, a `den` column. Rows are summed per day, and a
//! period's value is `sum(num) / sum(den)` over its days, so a week's conversion rate is the
//! week's orders over the week's sessions, never a mean of daily rates.

use std::collections::HashSet;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

const BUILTIN: &str = include_str!("builtin.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    Marketing,
    Merchandising,
    Operations,
    Shared,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// An amount in the shop currency.
    Money,
    Count,
    /// Stored as a fraction (0.031), shown as a percentage (3.1%).
    Percent,
    /// A multiple, such as ROAS (4.2×).
    Ratio,
    Hours,
    Days,
    /// A plain score, such as NPS.
    Score,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Neutral,
}

/// How the per-day rows of a metric combine into one value for a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// A flow (revenue, orders): the period's total.
    Sum,
    /// sum(num) / sum(den).
    Ratio,
    /// A level (stock-outs, CSAT): the mean of the daily values of the days that have data.
    Mean,
}

/// One metric, as written in the built-in catalog or in a user's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    pub key: String,
    pub label: String,
    pub team: Team,
    pub unit: Unit,
    pub direction: Direction,
    pub aggregate: Aggregate,
    /// When set, the SQL also returns a `dim` column and the metric is reported per value of
    /// it (for example sessions per channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<String>,
    /// A sentence for readers of the report: what is counted and how.
    #[serde(default)]
    pub description: String,
    /// A figure some shops never have (discounts): while it is 0 on every day the report
    /// reads, it is left out, as a metric of a source never imported is.
    #[serde(default)]
    pub hide_if_always_zero: bool,
    #[serde(skip_serializing)]
    pub sql: String,
    #[serde(skip)]
    pub builtin: bool,
    /// Where a custom metric is defined ("file:line"), for messages about it.
    #[serde(skip)]
    pub origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuiltinFile {
    metrics: Vec<MetricDef>,
}

/// All metrics known to a configuration, built-ins first, in report order.
#[derive(Debug, Clone)]
pub struct Catalog {
    metrics: Vec<MetricDef>,
}

impl Catalog {
    pub fn builtin() -> Catalog {
        let file: BuiltinFile =
            toml::from_str(BUILTIN).expect("the built-in metric catalog is valid TOML");
        let mut catalog = Catalog {
            metrics: Vec::new(),
        };
        for mut m in file.metrics {
            m.builtin = true;
            catalog
                .add(m)
                .expect("the built-in metric catalog is consistent");
        }
        catalog
    }

    /// Adds a user-defined metric; its key must be new.
    pub fn add_custom(&mut self, mut def: MetricDef) -> Result<()> {
        def.builtin = false;
        self.add(def)
    }

    fn add(&mut self, def: MetricDef) -> Result<()> {
        validate(&def)?;
        if self.get(&def.key).is_some() {
            bail!("a metric with key `{}` already exists", def.key);
        }
        self.metrics.push(def);
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&MetricDef> {
        self.metrics.iter().find(|m| m.key == key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MetricDef> {
        self.metrics.iter()
    }

    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}

fn validate(def: &MetricDef) -> Result<()> {
    if def.key.is_empty()
        || !def
            .key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!(
            "metric key {:?} must be lowercase letters, digits and underscores",
            def.key
        );
    }
    let sql = def.sql.to_lowercase();
    let words: HashSet<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .collect();
    for needed in ["day", "num"] {
        if !words.contains(needed) {
            bail!("`sql` must return a `{needed}` column");
        }
    }
    if def.aggregate == Aggregate::Ratio && !words.contains("den") {
        bail!("`sql` of a ratio metric must return a `den` column");
    }
    if def.breakdown.is_some() && !words.contains("dim") {
        bail!("`sql` of a metric with a breakdown must return a `dim` column");
    }
    if !words.contains("$1") || !words.contains("$2") {
        bail!("`sql` must restrict days to the range $1..$2 (first and last day, inclusive)");
    }
    Ok(())
}

/// The identifiers in a metric's SQL, lower-cased: the tables and columns it may read.
pub fn words(sql: &str) -> std::collections::BTreeSet<String> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The dated tables a metric's SQL reads (after FROM or JOIN), with each rollup read as the
/// table it sums: what must have held a row for the metric to mean anything.
pub fn sources(sql: &str) -> std::collections::BTreeSet<&'static str> {
    sources_in_order(sql).into_iter().collect()
}

/// The dated tables a metric's SQL reads, in the order it first names them: the first is
/// the table its figure is about (a later `UNION ALL` of order days only fills in zeros).
pub fn sources_in_order(sql: &str) -> Vec<&'static str> {
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        if pair[0] != "from" && pair[0] != "join" {
            continue;
        }
        let t = pair[1].as_str();
        let rollup = crate::schema::rollups().find(|(r, _)| *r == t);
        let table = match rollup {
            Some((_, source)) => source,
            None if t == "order_lines" => "orders",
            None => match crate::schema::dated_tables().find(|d| *d == t) {
                Some(d) => d,
                None => continue,
            },
        };
        if !out.contains(&table) {
            out.push(table);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_the_tables_read_with_rollups_as_their_source() {
        let c = Catalog::builtin();
        let of = |k: &str| {
            sources(&c.get(k).unwrap().sql)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(of("conversion_rate"), ["orders", "traffic"]);
        assert_eq!(of("net_revenue"), ["orders", "refunds"]);
        assert_eq!(of("on_time_delivery"), ["fulfilment"]);
        assert_eq!(of("promo_sell_through"), ["inventory", "orders"]);
        assert_eq!(of("csat"), ["daily_values"]);
    }

    #[test]
    fn builtin_catalog_has_the_metrics_both_teams_read() {
        let c = Catalog::builtin();
        for key in [
            "net_revenue",
            "orders",
            "units",
            "aov",
            "sessions",
            "sessions_by_channel",
            "conversion_rate",
            "add_to_cart_rate",
            "cart_abandonment_rate",
            "new_customers",
            "repeat_purchase_rate",
            "ad_spend",
            "roas",
            "cac",
            "gross_margin",
            "discount_rate",
            "promo_sell_through",
            "skus_out_of_stock",
            "return_rate",
            "fulfilment_hours",
            "shipped_within_24h",
            "on_time_delivery",
            "capacity_utilisation",
            "csat",
            "nps",
        ] {
            assert!(c.get(key).is_some(), "missing built-in metric {key}");
        }
    }

    fn custom(sql: &str) -> MetricDef {
        MetricDef {
            key: "mine".into(),
            label: "Mine".into(),
            team: Team::Shared,
            unit: Unit::Count,
            direction: Direction::Neutral,
            aggregate: Aggregate::Sum,
            breakdown: None,
            description: String::new(),
            hide_if_always_zero: false,
            sql: sql.into(),
            builtin: false,
            origin: None,
        }
    }

    #[test]
    fn custom_metric_sql_is_checked() {
        let mut c = Catalog::builtin();
        assert!(
            c.add_custom(custom("SELECT day, 1 AS num FROM orders"))
                .is_err()
        );
        assert!(
            c.add_custom(custom(
                "SELECT day, 1 AS n FROM orders WHERE day BETWEEN $1 AND $2"
            ))
            .is_err()
        );
        c.add_custom(custom(
            "SELECT day, 1 AS num FROM orders WHERE day BETWEEN $1 AND $2",
        ))
        .unwrap();
        let mut dup = custom("SELECT day, 1 AS num FROM orders WHERE day BETWEEN $1 AND $2");
        dup.key = "orders".into();
        assert!(c.add_custom(dup).is_err());
    }
}
