//! Six-field cron patterns (seconds first) as ADR-51 defines them, and the
//! next time such a pattern fires in a time zone.
//!
//! Each field is a bit set of the values it allows. The search walks civil
//! (wall-clock) days in the schedule's zone and, on the first day that
//! matches, the earliest hour, minute and second that match; the civil
//! time is then mapped to an instant through the zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// How far ahead a pattern may first match (nats-server's limit): past
/// it a pattern such as `0 0 0 31 2 *` is refused.
const SEARCH_YEARS_MAX: i16 = 5;

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Why a pattern is refused; the client only sees "pattern is invalid".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("pattern needs 6 fields, got {0}")]
    FieldCount(usize),
    #[error("invalid field {0:?}")]
    Field(String),
    #[error("pattern never fires")]
    Never,
}

/// The values one field allows: bit `n` set allows value `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    /// The field was `*` or `?` (with no step past 1): for the two day
    /// fields this decides whether either or both must match.
    any: bool,
}

impl Field {
    fn has(self, v: i8) -> bool {
        v >= 0 && self.bits & (1u64 << v) != 0
    }

    /// The smallest allowed value in `from..=max`.
    fn first_from(self, from: i8, max: i8) -> Option<i8> {
        (from.max(0)..=max).find(|v| self.has(*v))
    }
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value of `names[0]` (months count from 1).
    names_from: u32,
}

const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
    names_from: 0,
};
const MINUTES: Bounds = SECONDS;
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
    names_from: 0,
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
    names_from: 0,
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    names_from: 1,
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &DAY_NAMES,
    names_from: 0,
};

/// A parsed pattern: second, minute, hour, day of month, month, day of week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: Field,
    minutes: Field,
    hours: Field,
    days_of_month: Field,
    months: Field,
    days_of_week: Field,
}

impl Cron {
    pub fn parse(pattern: &str) -> Result<Cron, CronError> {
        let fields: Vec<&str> = pattern.split_whitespace().collect();
        let [s, mi, h, dom, mo, dow] = fields[..] else {
            return Err(CronError::FieldCount(fields.len()));
        };
        Ok(Cron {
            seconds: parse_field(s, &SECONDS)?,
            minutes: parse_field(mi, &MINUTES)?,
            hours: parse_field(h, &HOURS)?,
            days_of_month: parse_field(dom, &DAYS_OF_MONTH)?,
            months: parse_field(mo, &MONTHS)?,
            days_of_week: parse_field(dow, &DAYS_OF_WEEK)?,
        })
    }

    /// The first instant after `after_ns` (from the next whole second) at
    /// which the pattern matches the wall clock of `tz`.
    pub fn next_after(&self, after_ns: i64, tz: &TimeZone) -> Result<i64, CronError> {
        let start_ns = after_ns.div_euclid(1_000_000_000) * 1_000_000_000 + 1_000_000_000;
        let start =
            Timestamp::from_nanosecond(i128::from(start_ns)).map_err(|_| CronError::Never)?;
        let mut from = tz.to_datetime(start);
        let year_max = from.year().saturating_add(SEARCH_YEARS_MAX);
        // A wall-clock time that repeats (clocks going back) can map to an
        // instant before `start`: then search on from the next second.
        loop {
            let found = self.civil_from(from, year_max).ok_or(CronError::Never)?;
            let ts = tz
                .to_ambiguous_timestamp(found)
                .compatible()
                .map_err(|_| CronError::Never)?;
            let ns = i64::try_from(ts.as_nanosecond()).map_err(|_| CronError::Never)?;
            if ns >= start_ns {
                return Ok(ns);
            }
            from = found
                .checked_add(jiff::SignedDuration::from_secs(1))
                .map_err(|_| CronError::Never)?;
        }
    }

    /// The first matching wall-clock time at or after `from`.
    fn civil_from(&self, from: DateTime, year_max: i16) -> Option<DateTime> {
        let mut date = from.date();
        let mut first_day = true;
        while date.year() <= year_max {
            if self.months.has(date.month()) && self.day_matches(date) {
                let start = if first_day {
                    (from.hour(), from.minute(), from.second())
                } else {
                    (0, 0, 0)
                };
                if let Some((h, m, s)) = self.time_from(start) {
                    return Some(date.at(h, m, s, 0));
                }
            }
            first_day = false;
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The earliest matching time of day at or after `(h, m, s)`.
    fn time_from(&self, (h0, m0, s0): (i8, i8, i8)) -> Option<(i8, i8, i8)> {
        let mut h = self.hours.first_from(h0, 23)?;
        loop {
            let on_start_hour = h == h0;
            let m_from = if on_start_hour { m0 } else { 0 };
            let mut m = self.minutes.first_from(m_from, 59);
            while let Some(mv) = m {
                let s_from = if on_start_hour && mv == m0 { s0 } else { 0 };
                if let Some(s) = self.seconds.first_from(s_from, 59) {
                    return Some((h, mv, s));
                }
                m = self.minutes.first_from(mv + 1, 59);
            }
            h = self.hours.first_from(h + 1, 23)?;
        }
    }

    /// crontab(5): when both day fields are restricted, either may match.
    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days_of_month.has(date.day());
        let dow = self
            .days_of_week
            .has(date.weekday().to_sunday_zero_offset());
        if self.days_of_month.any || self.days_of_week.any {
            dom && dow
        } else {
            dom || dow
        }
    }
}

/// A comma-separated list of `*`, `?`, values or `a-b` ranges, each with an
/// optional `/step`.
fn parse_field(text: &str, b: &Bounds) -> Result<Field, CronError> {
    let bad = || CronError::Field(text.to_string());
    let mut field = Field {
        bits: 0,
        any: false,
    };
    for item in text.split(',').filter(|i| !i.is_empty()) {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) if !s.contains('/') => (r, Some(parse_number(s).ok_or_else(bad)?)),
            Some(_) => return Err(bad()),
            None => (item, None),
        };
        let star = range == "*" || range == "?";
        let (lo, hi) = if star {
            (b.min, b.max)
        } else {
            match range.split_once('-') {
                Some((lo, hi)) if !hi.contains('-') => {
                    (value(lo, b).ok_or_else(bad)?, value(hi, b).ok_or_else(bad)?)
                }
                Some(_) => return Err(bad()),
                // `n/step` runs from n to the field's maximum.
                None => {
                    let v = value(range, b).ok_or_else(bad)?;
                    (v, if step.is_some() { b.max } else { v })
                }
            }
        };
        let step = step.unwrap_or(1);
        if lo < b.min || hi > b.max || lo > hi || step == 0 {
            return Err(bad());
        }
        field.any |= star && step == 1;
        for v in (lo..=hi).step_by(step as usize) {
            field.bits |= 1u64 << v;
        }
    }
    Ok(field)
}

fn value(text: &str, b: &Bounds) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        return Some(i as u32 + b.names_from);
    }
    parse_number(text)
}

/// A non-negative decimal number (an optional `+` allowed, as Go's Atoi).
fn parse_number(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        crate::jetstream::time::parse_rfc3339(s).unwrap()
    }

    fn next(pattern: &str, after: &str) -> i64 {
        Cron::parse(pattern)
            .unwrap()
            .next_after(ns(after), &TimeZone::UTC)
            .unwrap()
    }

    #[test]
    fn every_second_is_the_next_whole_second() {
        assert_eq!(
            next("* * * * * *", "2026-01-01T00:00:00.5Z"),
            ns("2026-01-01T00:00:01Z")
        );
        assert_eq!(
            next("* * * * * *", "2026-01-01T00:00:01Z"),
            ns("2026-01-01T00:00:02Z")
        );
    }

    #[test]
    fn fields_ranges_steps_and_names() {
        assert_eq!(
            next("0 0 * * * *", "2026-01-01T10:20:30Z"),
            ns("2026-01-01T11:00:00Z")
        );
        assert_eq!(
            next("0 30 4 1,15 * *", "2026-01-02T00:00:00Z"),
            ns("2026-01-15T04:30:00Z")
        );
        assert_eq!(
            next("*/15 * * * * *", "2026-01-01T00:00:16Z"),
            ns("2026-01-01T00:00:30Z")
        );
        assert_eq!(
            next("0 0 0 * jan-mar mon", "2026-04-01T00:00:00Z"),
            ns("2027-01-04T00:00:00Z")
        );
        // Both day fields restricted: the 1st or any Friday.
        assert_eq!(
            next("0 0 0 1 * 5", "2026-01-01T00:00:00Z"),
            ns("2026-01-02T00:00:00Z")
        );
        assert_eq!(
            next("5/20 * * * * *", "2026-01-01T00:00:26Z"),
            ns("2026-01-01T00:00:45Z")
        );
    }

    #[test]
    fn time_zones() {
        let denver = TimeZone::get("America/Denver").unwrap();
        let at = Cron::parse("0 0 5 * * *")
            .unwrap()
            .next_after(ns("2026-07-01T00:00:00Z"), &denver)
            .unwrap();
        assert_eq!(at, ns("2026-07-01T11:00:00Z"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "* * * * *",
            "60 * * * * *",
            "* * 24 * * *",
            "* * * 0 * *",
            "* * * * 13 *",
            "* * * * * 7",
            "*/0 * * * * *",
            "5-1 * * * * *",
            "1-2-3 * * * * *",
            "a * * * * *",
            "-1 * * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
        let never = Cron::parse("0 0 0 31 2 *").unwrap();
        assert_eq!(
            never.next_after(ns("2026-01-01T00:00:00Z"), &TimeZone::UTC),
            Err(CronError::Never)
        );
    }
}
