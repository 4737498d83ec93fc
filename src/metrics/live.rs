//! Alerts as they happen, the pure part: which of the alerts found at a check are due to go
//! out (new, or worse than what already went), and whether the shop's quiet hours hold them.
//!
//! An alert is known by its kind, its subject and its day ("low_cover:KNT-003:2026-12-06"),
//! and goes out again only when it gets worse: a warning become critical, or stock run out.
//! What went out is the ledger's to remember; this module only compares.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::alert::{AlertKind, Severity};

/// An alert's identity for the day, and how bad it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    /// Kind, subject and day: "stock:KNT-003:2026-12-06", "capacity:2026-12-06".
    pub key: String,
    /// 1 a warning, 2 critical, 3 a promoted SKU out of stock.
    pub level: u8,
}

/// The mark of an alert found on `day`: stock alerts by SKU (low cover and out of stock are
/// one alert that gets worse), capacity by the day it is about, a rule by its metric;
/// `subject` is that SKU, day or metric.
pub fn mark(kind: AlertKind, severity: Severity, subject: &str, day: NaiveDate) -> Mark {
    let level = match (kind, severity) {
        (AlertKind::OutOfStock, _) => 3,
        (_, Severity::Critical) => 2,
        (_, Severity::Warning) => 1,
    };
    let key = match kind {
        AlertKind::OutOfStock | AlertKind::LowCover => format!("stock:{subject}:{day}"),
        AlertKind::Capacity | AlertKind::CapacityAhead => format!("capacity:{subject}"),
        AlertKind::Rule => format!("rule:{subject}:{day}"),
    };
    Mark { key, level }
}

/// Of the marks found now, those to send: new ones, and those worse than the worst that
/// went out (`sent`: each key's highest level already sent, or possibly sent).
pub fn due(found: &[Mark], sent: &BTreeMap<String, u8>) -> Vec<Mark> {
    let mut out: Vec<Mark> = Vec::new();
    for m in found {
        let before = sent.get(&m.key).copied().unwrap_or(0);
        if m.level <= before {
            continue;
        }
        // Found twice in one check (two campaigns promoting one SKU): the worse, once.
        match out.iter_mut().find(|o| o.key == m.key) {
            Some(o) => o.level = o.level.max(m.level),
            None => out.push(m.clone()),
        }
    }
    out
}

/// The shop's quiet hours, in its zone: "21:00-07:00" runs over midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl TryFrom<String> for QuietHours {
    type Error = String;
    fn try_from(text: String) -> Result<QuietHours, String> {
        QuietHours::parse(&text)
    }
}

impl From<QuietHours> for String {
    fn from(q: QuietHours) -> String {
        format!("{}-{}", q.start.format("%H:%M"), q.end.format("%H:%M"))
    }
}

impl QuietHours {
    /// "21:00-07:00"; an error that says what it expected.
    pub fn parse(text: &str) -> Result<QuietHours, String> {
        let bad = || format!("{text:?} is not a span of hours such as \"21:00-07:00\"");
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(format!("{text:?}: quiet hours that start when they end"));
        }
        Ok(QuietHours { start, end })
    }

    /// Whether `t` is inside them (the start included, the end not).
    pub fn holds(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When a message held at `now` may go: the end of the quiet hours it is in, or `now`.
    pub fn release(&self, now: NaiveDateTime) -> NaiveDateTime {
        if !self.holds(now.time()) {
            return now;
        }
        let today = now.date().and_time(self.end);
        if today > now {
            today
        } else {
            today + chrono::Duration::days(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn stock(kind: AlertKind, severity: Severity, d: NaiveDate) -> Mark {
        mark(kind, severity, "KNT-003", d)
    }

    /// A day of hourly checks: the cover falls below the lead time at 10:00 (critical) and
    /// reaches 0 at 15:00 (out of stock). Exactly two go out: at 10:00 and at 15:00.
    #[test]
    fn a_day_of_checks_sends_the_new_and_the_worse_once_each() {
        let d = day("2026-12-06");
        let mut sent: BTreeMap<String, u8> = BTreeMap::new();
        let mut posts = Vec::new();
        for hour in 6..22 {
            let found: Vec<Mark> = match hour {
                ..10 => Vec::new(),
                10..15 => vec![stock(AlertKind::LowCover, Severity::Critical, d)],
                _ => vec![stock(AlertKind::OutOfStock, Severity::Critical, d)],
            };
            for m in due(&found, &sent) {
                posts.push((hour, m.level));
                sent.insert(m.key, m.level);
            }
        }
        assert_eq!(posts, [(10, 2), (15, 3)]);
    }

    #[test]
    fn only_worse_goes_again_and_a_new_day_is_new() {
        let d = day("2026-12-06");
        let warn = stock(AlertKind::LowCover, Severity::Warning, d);
        let crit = stock(AlertKind::LowCover, Severity::Critical, d);
        let sent: BTreeMap<String, u8> = [(crit.key.clone(), 2)].into();
        // Better again (a restock) is not news; the same is not either.
        assert!(due(std::slice::from_ref(&warn), &sent).is_empty());
        assert!(due(std::slice::from_ref(&crit), &sent).is_empty());
        // The next day it is a new alert.
        let tomorrow = stock(AlertKind::LowCover, Severity::Critical, day("2026-12-07"));
        assert_eq!(due(std::slice::from_ref(&tomorrow), &sent), [tomorrow]);
        // Found twice in one check: once, the worse.
        let twice = due(&[warn.clone(), crit], &BTreeMap::new());
        assert_eq!(
            twice,
            [Mark {
                key: warn.key,
                level: 2
            }]
        );
    }

    #[test]
    fn a_rule_is_known_by_its_metric() {
        let d = day("2026-12-06");
        let w = mark(AlertKind::Rule, Severity::Warning, "orders", d);
        let c = mark(AlertKind::Rule, Severity::Critical, "orders", d);
        assert_eq!(
            (w.key.as_str(), w.level, c.level),
            ("rule:orders:2026-12-06", 1, 2)
        );
        assert_ne!(
            w.key,
            mark(AlertKind::Rule, Severity::Warning, "cac", d).key
        );
    }

    #[test]
    fn quiet_hours_over_midnight_hold_until_they_end() {
        let q = QuietHours::parse("21:00-07:00").unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert!(q.holds(t("21:00")) && q.holds(t("23:59")) && q.holds(t("06:59")));
        assert!(!q.holds(t("07:00")) && !q.holds(t("20:59")));
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(q.release(at("2026-12-06 22:15")), at("2026-12-07 07:00"));
        assert_eq!(q.release(at("2026-12-07 03:00")), at("2026-12-07 07:00"));
        assert_eq!(q.release(at("2026-12-07 12:00")), at("2026-12-07 12:00"));
        let day_time = QuietHours::parse("12:00-13:30").unwrap();
        assert!(day_time.holds(t("12:45")) && !day_time.holds(t("13:30")));
        assert!(
            QuietHours::parse("21:00")
                .unwrap_err()
                .contains("21:00-07:00")
        );
        assert!(QuietHours::parse("07:00-07:00").is_err());
    }
}
