//! Report schedules: a cron expression read as wall-clock time in the report's time zone,
//! turned into instants with daylight-saving gaps and repeats handled. Pure.
//!
//! The cron crate, given a zoned time, skips a local time that does not exist (02:30 on a
//! spring-forward day) and fires twice at one that happens twice. Here the expression is
//! evaluated on wall-clock time with no zone at all, and each wall-clock occurrence becomes
//! one instant: the earlier of a repeated time, and the next valid minute for a missing one.

use std::str::FromStr;

use chrono::{DateTime, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// 06:00 every day.
pub const DEFAULT: &str = "0 6 * * *";

#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written in the config.
    pub expr: String,
    cron: cron::Schedule,
    pub tz: Tz,
}

impl Schedule {
    /// Accepts the common 5-field form (`0 6 * * *`), the cron crate's 6- or 7-field form with
    /// seconds first (`0 0 6 * * *`), and shorthands such as `@daily`.
    pub fn parse(expr: &str, tz: Tz) -> Result<Schedule, String> {
        let trimmed = expr.trim();
        let fields = trimmed.split_whitespace().count();
        let full = if trimmed.starts_with('@') {
            trimmed.to_string()
        } else {
            match fields {
                5 => format!("0 {trimmed}"),
                6 | 7 => trimmed.to_string(),
                _ => {
                    return Err(format!(
                        "{trimmed:?} has {fields} fields: expected 5 (minute hour day month \
                         weekday, e.g. \"0 6 * * *\"), 6 with seconds first, or @daily"
                    ));
                }
            }
        };
        if !full.starts_with('@') {
            check_ranges(&full).map_err(|e| format!("{trimmed:?}: {e}"))?;
        }
        let cron = cron::Schedule::from_str(&full)
            .map_err(|e| format!("{trimmed:?} is not a cron expression: {e}"))?;
        // A schedule that never fires would leave the report silently unsent. (Checked from
        // a fixed instant: this module does not read the clock.)
        let epoch = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        if cron.after(&epoch).next().is_none() {
            return Err(format!("{trimmed:?} never fires"));
        }
        Ok(Schedule {
            expr: trimmed.to_string(),
            cron,
            tz,
        })
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // No wall-clock time before `after`'s can map past it: a missing time moves only to
        // the end of its gap, which a valid `after` is already beyond, and a repeated time
        // maps to its earlier instant. Wall times from `after`'s on are walked in order; in
        // a repeated hour, those already passed map before `after` and are passed over.
        let start = wall(after.with_timezone(&self.tz).naive_local()) - Duration::seconds(1);
        self.cron
            .after(&start)
            .take(100_000)
            .map(|w| self.instant(w.naive_utc()))
            .find(|t| *t > after)
    }

    /// The last fire at or before `now`, if it is within `horizon` of it.
    pub fn last_at_or_before(
        &self,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Option<DateTime<Utc>> {
        // Walked backwards in wall-clock time. Instants rise with wall time (a repeated time
        // maps to its first pass, a missing one to the end of its gap), so the first at or
        // before `now` is the last. Start past `now`'s wall time by more than any repeated
        // hour: in the second pass of one, later wall times already fired.
        let start = wall(now.with_timezone(&self.tz).naive_local()) + Duration::hours(3);
        self.cron
            .after(&start)
            .rev()
            .take(100_000)
            .map(|w| self.instant(w.naive_utc()))
            .find(|t| *t <= now)
            .filter(|t| *t >= now - horizon)
    }

    /// The instant of a wall-clock time in the schedule's zone, once.
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            // Happens twice (clocks go back): the first time only.
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            // Does not happen (clocks go forward): the next minute that does.
            LocalResult::None => {
                let mut m = local;
                loop {
                    m += Duration::minutes(1);
                    if let Some(t) = self.tz.from_local_datetime(&m).earliest() {
                        return t.with_timezone(&Utc);
                    }
                }
            }
        }
    }

    /// The report date a fire serves: the local day before it.
    pub fn report_date(&self, fire: DateTime<Utc>) -> NaiveDate {
        let local = fire.with_timezone(&self.tz).date_naive();
        local.checked_sub_days(Days::new(1)).unwrap_or(local)
    }
}

/// Wall-clock time carried as UTC, so the cron crate sees no offsets and no transitions.
fn wall(local: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&local)
}

/// Numbers out of range in the second, minute, hour, day and month fields, told plainly:
/// the cron crate's own messages are off by one ("Minutes must be less than 59").
fn check_ranges(full: &str) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of the month", 1, 31),
        ("month", 1, 12),
    ];
    for (field, (name, min, max)) in full.split_whitespace().zip(FIELDS) {
        for part in field.split(',') {
            let values = part.split('/').next().unwrap_or_default();
            for v in values.split('-') {
                if let Ok(n) = v.parse::<u32>()
                    && !(min..=max).contains(&n)
                {
                    return Err(format!("{name} {n} is out of range ({min} to {max})"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_fields_are_named_with_their_real_range() {
        let tz = chrono_tz::Europe::London;
        assert!(Schedule::parse("59 23 * * *", tz).is_ok());
        let e = Schedule::parse("60 6 * * *", tz).unwrap_err();
        assert!(e.contains("minute 60 is out of range (0 to 59)"), "{e}");
        let e = Schedule::parse("0 24 * * *", tz).unwrap_err();
        assert!(e.contains("hour 24 is out of range (0 to 23)"), "{e}");
        let e = Schedule::parse("0 6 1-32 * *", tz).unwrap_err();
        assert!(e.contains("day of the month 32"), "{e}");
    }

    fn at(tz: Tz, s: &str) -> DateTime<Utc> {
        let n = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&n)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn five_six_and_shorthand_forms() {
        let tz = chrono_tz::Europe::London;
        for e in ["0 6 * * *", "0 0 6 * * *", "0 0 6 * * * *"] {
            let s = Schedule::parse(e, tz).unwrap();
            let next = s.next_after(at(tz, "2026-11-22 07:00")).unwrap();
            assert_eq!(next, at(tz, "2026-11-23 06:00"), "{e}");
        }
        let s = Schedule::parse("@daily", tz).unwrap();
        assert_eq!(
            s.next_after(at(tz, "2026-11-22 07:00")).unwrap(),
            at(tz, "2026-11-23 00:00")
        );
        // A fine-grained schedule finds its next second, not nothing.
        let s = Schedule::parse("* * * * * *", tz).unwrap();
        let t = at(tz, "2026-11-22 07:00");
        assert_eq!(s.next_after(t).unwrap(), t + Duration::seconds(1));
        for bad in ["6 * *", "0 6 * * * * * *", "0 61 * * *", "@sometimes", ""] {
            assert!(Schedule::parse(bad, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_time_fires_at_the_next_valid_minute_and_a_repeated_one_once() {
        let ny = chrono_tz::America::New_York;
        let s = Schedule::parse("30 2 * * *", ny).unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        let fire = s.next_after(at(ny, "2026-03-08 00:00")).unwrap();
        assert_eq!(fire.to_rfc3339(), "2026-03-08T07:00:00+00:00"); // 03:00 EDT
        // 2026-11-01: 01:00-02:00 happens twice; 01:30 fires at the first (EDT) only.
        let s = Schedule::parse("30 1 * * *", ny).unwrap();
        let first = s.next_after(at(ny, "2026-11-01 00:00")).unwrap();
        assert_eq!(first.to_rfc3339(), "2026-11-01T05:30:00+00:00"); // 01:30 EDT
        let next = s.next_after(first).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-02T06:30:00+00:00"); // 01:30 EST, next day
    }

    #[test]
    fn the_report_date_is_the_local_day_before() {
        let kolkata = chrono_tz::Asia::Kolkata;
        let s = Schedule::parse(DEFAULT, kolkata).unwrap();
        let fire = s.next_after(at(kolkata, "2026-11-22 05:00")).unwrap();
        assert_eq!(fire.to_rfc3339(), "2026-11-22T00:30:00+00:00");
        assert_eq!(s.report_date(fire).to_string(), "2026-11-21");
    }

    #[test]
    fn last_at_or_before_across_a_gap_and_a_repeat() {
        let ny = chrono_tz::America::New_York;
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 02:30 did not exist on 2026-03-08: it fired at 03:00 EDT (07:00Z).
        let s = Schedule::parse("30 2 * * *", ny).unwrap();
        assert_eq!(
            s.last_at_or_before(utc("2026-03-08T07:05:00Z"), Duration::days(2)),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // 01:30 on 2026-11-01 fired in the first pass (EDT, 05:30Z); in the second pass
        // (EST), before and after 01:30 again, that is still the last fire.
        let s = Schedule::parse("30 1 * * *", ny).unwrap();
        for now in [
            "2026-11-01T05:45:00Z",
            "2026-11-01T06:10:00Z",
            "2026-11-01T06:45:00Z",
        ] {
            assert_eq!(
                s.last_at_or_before(utc(now), Duration::days(2)),
                Some(utc("2026-11-01T05:30:00Z")),
                "{now}"
            );
        }
        assert_eq!(
            s.last_at_or_before(utc("2026-11-01T05:29:00Z"), Duration::days(2)),
            Some(utc("2026-10-31T05:30:00Z"))
        );
    }

    #[test]
    fn last_at_or_before_finds_the_fire_just_passed() {
        let tz = chrono_tz::Europe::London;
        let s = Schedule::parse(DEFAULT, tz).unwrap();
        let now = at(tz, "2026-11-22 09:15");
        assert_eq!(
            s.last_at_or_before(now, Duration::days(2)),
            Some(at(tz, "2026-11-22 06:00"))
        );
        assert_eq!(
            s.last_at_or_before(at(tz, "2026-11-22 05:59"), Duration::days(2)),
            Some(at(tz, "2026-11-21 06:00"))
        );
        assert_eq!(
            s.last_at_or_before(at(tz, "2026-11-22 05:59"), Duration::hours(2)),
            None
        );
    }

    /// Two years of fires in four zones, at 06:00 and at times that fall in DST gaps and
    /// repeats: exactly one fire per local day, at the configured time, or at the next valid
    /// minute where that time does not exist.
    #[test]
    fn two_years_one_fire_per_local_day_in_four_zones() {
        use chrono::{NaiveTime, Timelike};
        let zones = [
            chrono_tz::America::New_York,
            chrono_tz::Europe::London,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
        ];
        let mut gap_days = Vec::new();
        for tz in zones {
            for (expr, h, m) in [
                ("0 6 * * *", 6, 0),
                ("30 2 * * *", 2, 30),
                ("15 2 * * *", 2, 15),
                ("30 1 * * *", 1, 30),
            ] {
                let s = Schedule::parse(expr, tz).unwrap();
                let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
                let last = NaiveDate::from_ymd_opt(2027, 12, 31).unwrap();
                let mut per_day = std::collections::BTreeMap::<NaiveDate, Vec<NaiveTime>>::new();
                let mut t = s.next_after(at(tz, "2025-12-31 12:00")).unwrap();
                while t.with_timezone(&tz).date_naive() <= last {
                    let local = t.with_timezone(&tz);
                    per_day
                        .entry(local.date_naive())
                        .or_default()
                        .push(local.time());
                    t = s.next_after(t).unwrap();
                }
                let days = (last - first).num_days() + 1;
                assert_eq!(
                    per_day.len() as i64,
                    days,
                    "{tz} {expr}: a day without a fire"
                );
                let wanted = NaiveTime::from_hms_opt(h, m, 0).unwrap();
                for (day, times) in &per_day {
                    assert_eq!(times.len(), 1, "{tz} {expr} {day}: {times:?}");
                    let exists = tz
                        .from_local_datetime(&day.and_time(wanted))
                        .earliest()
                        .is_some();
                    if exists {
                        assert_eq!(times[0], wanted, "{tz} {expr} {day}");
                    } else {
                        assert!(
                            times[0] > wanted && times[0].second() == 0,
                            "{tz} {expr} {day}: {times:?}"
                        );
                        gap_days.push((tz, expr, *day, times[0]));
                    }
                }
            }
        }
        // The gaps, worked out from each zone's rules by hand.
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let ny = chrono_tz::America::New_York;
        let lh = chrono_tz::Australia::Lord_Howe;
        let london = chrono_tz::Europe::London;
        for expected in [
            (ny, "30 2 * * *", d("2026-03-08"), hm(3, 0)),
            (ny, "15 2 * * *", d("2027-03-14"), hm(3, 0)),
            (london, "30 1 * * *", d("2026-03-29"), hm(2, 0)),
            (lh, "15 2 * * *", d("2026-10-04"), hm(2, 30)),
            (lh, "15 2 * * *", d("2027-10-03"), hm(2, 30)),
        ] {
            assert!(
                gap_days.contains(&expected),
                "{expected:?} not in {gap_days:?}"
            );
        }
        // NY and London each skip 02:xx or 01:30 once a year; Lord Howe's half-hour shift
        // skips only 02:00-02:29; Kolkata has no DST.
        assert_eq!(gap_days.len(), 2 * 2 + 2 + 2, "{gap_days:?}");
    }
}
