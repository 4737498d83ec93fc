//! Objectives and key results: their definition in the config and their status on a date.
//!
//! Pure. progress = (current - baseline) / (target - baseline); expected = the elapsed share
//! of the cycle; the status compares the two with configurable thresholds.

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::metrics::compare::Value;
use crate::metrics::metric::Team;

/// When a key result's status changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// On track when progress >= on_track × expected.
    #[serde(default = "default_on_track")]
    pub on_track: f64,
    /// At risk when progress >= at_risk × expected; off track below.
    #[serde(default = "default_at_risk")]
    pub at_risk: f64,
}

fn default_on_track() -> f64 {
    0.95
}
fn default_at_risk() -> f64 {
    0.75
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            on_track: default_on_track(),
            at_risk: default_at_risk(),
        }
    }
}

/// An objective's cycle: fixed dates, or the calendar period that contains the report date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cycle {
    Fixed { start: NaiveDate, end: NaiveDate },
    Month,
    Quarter,
    Year,
}

impl Cycle {
    /// The first and last day of the cycle that applies on `d`.
    pub fn bounds(self, d: NaiveDate) -> (NaiveDate, NaiveDate) {
        let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).expect("valid month");
        let (start, months) = match self {
            Cycle::Fixed { start, end } => return (start, end),
            Cycle::Month => (first(d.year(), d.month()), 1),
            Cycle::Quarter => (first(d.year(), (d.month() - 1) / 3 * 3 + 1), 3),
            Cycle::Year => (first(d.year(), 1), 12),
        };
        let end = start
            .checked_add_months(Months::new(months))
            .expect("dates in range")
            - Days::new(1);
        (start, end)
    }
}

/// The days a key result's metric is valued over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Window {
    /// From the cycle start to the report date (or the cycle end, if earlier).
    CycleToDate,
    /// The N days ending on the report date.
    Trailing(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyResult {
    pub title: String,
    pub metric: String,
    pub window: Window,
    pub baseline: f64,
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub title: String,
    pub owner: String,
    pub team: Team,
    pub cycle: Cycle,
    pub key_results: Vec<KeyResult>,
}

impl KeyResult {
    /// The days to value the metric over on report date `d`, or None before the cycle.
    pub fn window_days(
        &self,
        cycle: (NaiveDate, NaiveDate),
        d: NaiveDate,
    ) -> Option<(NaiveDate, NaiveDate)> {
        if d < cycle.0 {
            return None;
        }
        Some(match self.window {
            Window::CycleToDate => (cycle.0, d.min(cycle.1)),
            Window::Trailing(n) => (d - Days::new(u64::from(n.max(1)) - 1), d),
        })
    }

    /// Whether lower values are the goal ("48 h to 24 h").
    pub fn is_down(&self) -> bool {
        self.target < self.baseline
    }
}

/// Status, from worst to best, so that `min` finds an objective's weakest key result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OffTrack,
    AtRisk,
    /// The metric has no value for the window.
    NoData,
    OnTrack,
    Achieved,
    NotStarted,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::OffTrack => "Off track",
            Status::AtRisk => "At risk",
            Status::NoData => "No data",
            Status::OnTrack => "On track",
            Status::Achieved => "Achieved",
            Status::NotStarted => "Not started",
        }
    }
}

/// A key result on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KrStatus {
    pub current: Value,
    /// (current - baseline) / (target - baseline); None without a value or before the cycle.
    pub progress: Option<f64>,
    /// Elapsed share of the cycle, 0..=1.
    pub expected: f64,
    pub status: Status,
}

/// Elapsed share of the cycle on `d`, counting `d` itself as elapsed.
pub fn expected(cycle: (NaiveDate, NaiveDate), d: NaiveDate) -> f64 {
    let total = (cycle.1 - cycle.0).num_days() + 1;
    let elapsed = (d - cycle.0).num_days() + 1;
    (elapsed as f64 / total as f64).clamp(0.0, 1.0)
}

/// The status of a key result whose metric is `current` on date `d`.
pub fn kr_status(
    kr: &KeyResult,
    cycle: (NaiveDate, NaiveDate),
    d: NaiveDate,
    current: Value,
    t: Thresholds,
) -> KrStatus {
    let expected = expected(cycle, d);
    if d < cycle.0 {
        return KrStatus {
            current,
            progress: None,
            expected: 0.0,
            status: Status::NotStarted,
        };
    }
    let Some(v) = current.get() else {
        return KrStatus {
            current,
            progress: None,
            expected,
            status: Status::NoData,
        };
    };
    let progress = (v - kr.baseline) / (kr.target - kr.baseline);
    // A tiny tolerance so that a value exactly on a boundary (0.95 × expected) is not lost
    // to floating-point noise in the division above.
    let eps = 1e-9;
    let status = if progress >= 1.0 - eps {
        Status::Achieved
    } else if progress >= t.on_track * expected - eps {
        Status::OnTrack
    } else if progress >= t.at_risk * expected - eps {
        Status::AtRisk
    } else {
        Status::OffTrack
    };
    KrStatus {
        current,
        progress: Some(progress),
        expected,
        status,
    }
}

/// An objective's progress (the mean of its key results that have one) and status (that of
/// its weakest key result).
pub fn objective_status(krs: &[KrStatus]) -> (Option<f64>, Status) {
    let progresses: Vec<f64> = krs.iter().filter_map(|k| k.progress).collect();
    let progress =
        (!progresses.is_empty()).then(|| progresses.iter().sum::<f64>() / progresses.len() as f64);
    let status = krs.iter().map(|k| k.status).min().unwrap_or(Status::NoData);
    (progress, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    // A 100-day cycle: on its 40th day, 40% of it has elapsed.
    const CYCLE: (&str, &str) = ("2026-01-01", "2026-04-10");

    fn cycle() -> (NaiveDate, NaiveDate) {
        (d(CYCLE.0), d(CYCLE.1))
    }

    fn kr(baseline: f64, target: f64) -> KeyResult {
        KeyResult {
            title: "kr".into(),
            metric: "m".into(),
            window: Window::CycleToDate,
            baseline,
            target,
        }
    }

    fn status(kr: &KeyResult, day: &str, v: f64) -> Status {
        kr_status(kr, cycle(), d(day), Value::Value(v), Thresholds::default()).status
    }

    #[test]
    fn expected_is_the_elapsed_share() {
        assert_eq!(expected(cycle(), d("2026-02-09")), 0.4);
        assert_eq!(expected(cycle(), d("2026-04-10")), 1.0);
        assert_eq!(expected(cycle(), d("2026-06-01")), 1.0);
    }

    #[test]
    fn boundaries_on_day_40() {
        // Up: 0.0 -> 1.0, expected 0.4. On track from 0.95 × 0.4 = 0.38; at risk from 0.3.
        let up = kr(0.0, 1.0);
        assert_eq!(status(&up, "2026-02-09", 0.38), Status::OnTrack);
        assert_eq!(status(&up, "2026-02-09", 0.3799), Status::AtRisk);
        assert_eq!(status(&up, "2026-02-09", 0.30), Status::AtRisk);
        assert_eq!(status(&up, "2026-02-09", 0.2999), Status::OffTrack);
        assert_eq!(status(&up, "2026-02-09", 1.0), Status::Achieved);
        assert_eq!(status(&up, "2026-02-09", 1.2), Status::Achieved);
    }

    #[test]
    fn down_is_good_key_results() {
        // "Decrease time to ship from 48 h to 24 h": progress 0.38 is 48 - 0.38 × 24 = 38.88 h.
        let down = kr(48.0, 24.0);
        assert!(down.is_down());
        assert_eq!(status(&down, "2026-02-09", 38.88), Status::OnTrack);
        assert_eq!(status(&down, "2026-02-09", 38.9), Status::AtRisk);
        assert_eq!(status(&down, "2026-02-09", 40.8), Status::AtRisk);
        assert_eq!(status(&down, "2026-02-09", 40.81), Status::OffTrack);
        assert_eq!(status(&down, "2026-02-09", 24.0), Status::Achieved);
        assert_eq!(status(&down, "2026-02-09", 50.0), Status::OffTrack);
        let s = kr_status(
            &down,
            cycle(),
            d("2026-02-09"),
            Value::Value(36.0),
            Thresholds::default(),
        );
        assert_eq!(s.progress, Some(0.5));
    }

    #[test]
    fn before_and_after_the_cycle() {
        let up = kr(0.62, 0.75);
        assert_eq!(status(&up, "2025-12-31", 0.9), Status::NotStarted);
        // After the cycle everything was expected: only the target is on track... or achieved.
        assert_eq!(status(&up, "2026-05-01", 0.75), Status::Achieved);
        assert_eq!(status(&up, "2026-05-01", 0.7435), Status::OnTrack);
        // At risk from 0.62 + 0.75 × 0.13 = 0.7175.
        assert_eq!(status(&up, "2026-05-01", 0.72), Status::AtRisk);
        assert_eq!(status(&up, "2026-05-01", 0.70), Status::OffTrack);
        let none = kr_status(
            &up,
            cycle(),
            d("2026-02-01"),
            Value::NoData,
            Thresholds::default(),
        );
        assert_eq!((none.status, none.progress), (Status::NoData, None));
    }

    #[test]
    fn thresholds_can_be_overridden() {
        let t = Thresholds {
            on_track: 1.0,
            at_risk: 0.5,
        };
        let s = kr_status(
            &kr(0.0, 1.0),
            cycle(),
            d("2026-02-09"),
            Value::Value(0.38),
            t,
        );
        assert_eq!(s.status, Status::AtRisk);
    }

    #[test]
    fn objective_is_the_mean_and_the_weakest() {
        let k = |p: f64, s| KrStatus {
            current: Value::Value(p),
            progress: Some(p),
            expected: 0.5,
            status: s,
        };
        let (p, s) = objective_status(&[
            k(0.8, Status::OnTrack),
            k(0.2, Status::OffTrack),
            k(1.1, Status::Achieved),
        ]);
        assert!((p.unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(s, Status::OffTrack);
    }

    #[test]
    fn calendar_cycles() {
        assert_eq!(
            Cycle::Quarter.bounds(d("2026-11-21")),
            (d("2026-10-01"), d("2026-12-31"))
        );
        assert_eq!(
            Cycle::Quarter.bounds(d("2026-01-01")),
            (d("2026-01-01"), d("2026-03-31"))
        );
        assert_eq!(
            Cycle::Month.bounds(d("2028-02-10")),
            (d("2028-02-01"), d("2028-02-29"))
        );
        assert_eq!(
            Cycle::Year.bounds(d("2026-07-04")),
            (d("2026-01-01"), d("2026-12-31"))
        );
    }
}
