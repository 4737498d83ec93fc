//! Days already mailed whose headline figures a later import changed (a late refund, a
//! corrected export): said once, in the next email, rather than rewritten in silence.

use super::*;
use crate::metrics::inputs::MailedFigure;

/// What the email says of revised days, and the figures to record as mailed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Revisions {
    /// "Revised since mailed: 3 Nov net revenue £61,192.53 (was £61,327.68)."; empty when
    /// nothing changed.
    pub note: String,
    /// The revised days' figures as they are now, to record as told.
    #[serde(skip)]
    pub revised: Vec<MailedFigure>,
    /// This date's headline figures, to record as mailed.
    #[serde(skip)]
    pub mailed: Vec<(String, f64)>,
}

/// Compares each figure mailed for an earlier day with what the store says now; a figure
/// counts as revised when it prints differently, money to the penny.
pub(super) fn revisions(
    config: &Config,
    inputs: &DigestInputs,
    report: &MetricsReport,
    tiles: &[&str],
    f: &Formatter,
) -> Revisions {
    let mut revised = Vec::new();
    let mut words = Vec::new();
    for (day, key, was) in &inputs.mailed {
        let Some(m) = config.catalog.get(key) else {
            continue;
        };
        let now = inputs
            .fetched
            .get(key)
            .and_then(|by_dim| by_dim.get(&None))
            .and_then(|s| crate::metrics::news::day_value(s, m.aggregate, *day))
            .map(|v| v.0);
        let Some(now) = now else { continue };
        let (then_text, now_text) = (f.exact(m.unit, *was), f.exact(m.unit, now));
        if then_text == now_text {
            continue;
        }
        words.push(format!(
            "{} {} {now_text} (was {then_text})",
            day.format("%-d %b"),
            m.label.to_lowercase()
        ));
        revised.push((*day, key.clone(), now));
    }
    let note = if words.is_empty() {
        String::new()
    } else {
        format!("Revised since mailed: {}.", words.join("; "))
    };
    let mailed = tiles
        .iter()
        .filter_map(|k| {
            let c = report.get(k)?.comparisons.first()?;
            Some((k.to_string(), c.current.get()?))
        })
        .collect();
    Revisions {
        note,
        revised,
        mailed,
    }
}
