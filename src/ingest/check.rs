//! `import --check`: what a file would load, worked out without writing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result};
use sqlx::AssertSqlSafe;

use crate::schema::TableSpec;
use crate::store::Store;
use crate::store::write::SqlValue;

/// How many new channels and SKUs a check remembers (and lists at most 20 of).
const KEPT: usize = 10_000;
const SHOWN: usize = 20;

/// What a file would load: rows per table, the days it covers, and the channels and SKUs
/// the store has not seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rows: BTreeMap<&'static str, u64>,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub new_channels: BTreeSet<String>,
    pub new_skus: BTreeSet<String>,
    /// Channels or SKUs past [`KEPT`], counted but not named.
    pub more: u64,
}

impl Plan {
    /// Notes one row bound for `spec`, counted under `shown`.
    pub fn observe(&mut self, shown: &'static str, spec: &TableSpec, row: &[SqlValue]) {
        *self.rows.entry(shown).or_default() += 1;
        for (c, v) in spec.columns.iter().zip(row) {
            let Some(text) = v.as_text() else { continue };
            match c.name {
                "day" | "ship_day" | "delivery_day" | "start_day" | "end_day"
                    if text.len() == 10 =>
                {
                    if self.first_day.as_deref().is_none_or(|d| text < d) {
                        self.first_day = Some(text.to_string());
                    }
                    if self.last_day.as_deref().is_none_or(|d| text > d) {
                        self.last_day = Some(text.to_string());
                    }
                }
                "channel" => keep(&mut self.new_channels, &mut self.more, text),
                "sku" => keep(&mut self.new_skus, &mut self.more, text),
                _ => {}
            }
        }
    }

    /// Drops the channels and SKUs the store already has.
    pub async fn against(mut self, store: &Store) -> Result<Plan> {
        let channels: Vec<String> = self.new_channels.iter().cloned().collect();
        for known in present(store, "channel", &channels).await? {
            self.new_channels.remove(&known);
        }
        let skus: Vec<String> = self.new_skus.iter().cloned().collect();
        for known in present(store, "sku", &skus).await? {
            self.new_skus.remove(&known);
        }
        Ok(self)
    }

    /// The report `import --check` prints.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (table, n) in &self.rows {
            let _ = writeln!(out, "  {table:<14} {n:>10} rows");
        }
        if let (Some(a), Some(b)) = (&self.first_day, &self.last_day) {
            let _ = writeln!(out, "  days           {a} to {b}");
        }
        for (what, set) in [("channels", &self.new_channels), ("SKUs", &self.new_skus)] {
            if set.is_empty() {
                continue;
            }
            let shown: Vec<&str> = set.iter().take(SHOWN).map(String::as_str).collect();
            let more = set.len().saturating_sub(SHOWN);
            let _ = writeln!(
                out,
                "  new {what:<10} {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        out
    }
}

fn keep(set: &mut BTreeSet<String>, more: &mut u64, text: &str) {
    if set.len() < KEPT {
        set.insert(crate::text::cap(text, crate::text::NAME));
    } else if !set.contains(text) {
        *more += 1;
    }
}

/// Which of `values` the store already has as a channel (in any table) or a SKU.
async fn present(store: &Store, what: &str, values: &[String]) -> Result<Vec<String>> {
    let tables: &[&str] = if what == "sku" {
        &["products"]
    } else {
        &["orders", "traffic", "ad_spend"]
    };
    let mut found = Vec::new();
    for chunk in values.chunks(500) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        for table in tables {
            let sql = format!(
                "SELECT DISTINCT {what} FROM {table} WHERE {what} IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for v in chunk {
                q = q.bind(v.clone());
            }
            found.extend(
                q.fetch_all(store.reader())
                    .await
                    .with_context(|| format!("cannot read the {what}s of {store}"))?,
            );
        }
    }
    Ok(found)
}
