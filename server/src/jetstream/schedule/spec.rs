//! A `Nats-Schedule` value: `@at <RFC 3339>`, `@every <Go duration>`, a
//! predefined name (`@hourly`, ...) or a six-field cron pattern, with the
//! `Nats-Schedule-Time-Zone` that cron patterns may be read in.

use jiff::tz::TimeZone;

use super::cron::Cron;
use crate::jetstream::time::parse_rfc3339;

const NS_PER_SEC: i64 = 1_000_000_000;
/// ADR-51: shorter `@every` intervals are refused.
const EVERY_NS_MIN: i64 = NS_PER_SEC;

/// Why a schedule is refused, as the two errors a client can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("message schedules pattern is invalid")]
    Pattern,
    #[error("message schedules time zone is invalid")]
    TimeZone,
}

#[derive(Debug, Clone)]
pub enum Spec {
    /// Fires once, at this time (ns since the epoch).
    At(i64),
    /// Fires every this many ns.
    Every(i64),
    /// Fires when the wall clock of `tz` matches.
    Cron {
        cron: Box<Cron>,
        tz: Option<TimeZone>,
    },
}

/// The zone named by `Nats-Schedule-Time-Zone` (`None` when absent): an
/// IANA name from the host's tzdata, `UTC` or `Local`.
pub fn time_zone(name: Option<&str>) -> Result<Option<TimeZone>, SpecError> {
    match name {
        None => Ok(None),
        Some("") => Err(SpecError::TimeZone),
        Some("UTC") => Ok(Some(TimeZone::UTC)),
        Some("Local") => Ok(Some(TimeZone::system())),
        Some(n) => TimeZone::get(n).map(Some).map_err(|_| SpecError::TimeZone),
    }
}

impl Spec {
    /// Parses a non-empty pattern; a zone is allowed on cron patterns only.
    pub fn parse(pattern: &str, tz: Option<TimeZone>) -> Result<Spec, SpecError> {
        if let Some(at) = pattern.strip_prefix("@at ") {
            return match (tz, parse_rfc3339(at)) {
                (None, Some(ns)) => Ok(Spec::At(ns)),
                _ => Err(SpecError::Pattern),
            };
        }
        if let Some(every) = pattern.strip_prefix("@every ") {
            let ns = crate::jetstream::ttl::parse_go_duration_ns(every)
                .map_err(|_| SpecError::Pattern)?;
            if tz.is_some() || ns < EVERY_NS_MIN {
                return Err(SpecError::Pattern);
            }
            return Ok(Spec::Every(ns));
        }
        let pattern = match pattern {
            "@yearly" | "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * 0",
            "@daily" | "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            p => p,
        };
        let cron = Cron::parse(pattern).map_err(|_| SpecError::Pattern)?;
        let spec = Spec::Cron {
            cron: Box::new(cron),
            tz,
        };
        // A pattern that never fires (`0 0 0 31 2 *`) is refused up front.
        spec.next(super::super::stream::now_ns(), 0)?;
        Ok(spec)
    }

    pub fn repeats(&self) -> bool {
        !matches!(self, Spec::At(_))
    }

    /// When a schedule last due (or stored) at `ts_ns` fires next. A
    /// repeating schedule that would have fired several times while the
    /// server was down fires once, then goes on from `now_ns`.
    pub fn next(&self, ts_ns: i64, now_ns: i64) -> Result<i64, SpecError> {
        match self {
            Spec::At(at) => Ok(*at),
            Spec::Every(every) => {
                let next = round_to_second(ts_ns).saturating_add(*every);
                if next < now_ns {
                    return Ok(round_to_second(now_ns).saturating_add(*every));
                }
                Ok(next)
            }
            Spec::Cron { cron, tz } => {
                let utc = TimeZone::UTC;
                let tz = tz.as_ref().unwrap_or(&utc);
                let next = cron.next_after(ts_ns, tz).map_err(|_| SpecError::Pattern)?;
                if next < now_ns {
                    return cron
                        .next_after(round_to_second(now_ns), tz)
                        .map_err(|_| SpecError::Pattern);
                }
                Ok(next)
            }
        }
    }

    /// `Nats-Schedule-Next` for a fire time: RFC 3339 with nanoseconds as
    /// needed, in the schedule's zone (`Z` when its offset is zero).
    pub fn format_next(&self, ns: i64) -> String {
        let tz = match self {
            Spec::Cron { tz: Some(tz), .. } => tz.clone(),
            _ => TimeZone::UTC,
        };
        format_rfc3339(ns, &tz)
    }
}

/// To the nearest whole second, halves away from zero (Go's `Round`).
fn round_to_second(ns: i64) -> i64 {
    let rem = ns.rem_euclid(NS_PER_SEC);
    let floor = ns - rem;
    if rem * 2 >= NS_PER_SEC {
        floor + NS_PER_SEC
    } else {
        floor
    }
}

fn format_rfc3339(ns: i64, tz: &TimeZone) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(ns)) else {
        return String::new();
    };
    let dt = tz.to_datetime(ts);
    let offset = tz.to_offset(ts).seconds();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let frac = ns.rem_euclid(NS_PER_SEC);
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn forms() {
        assert!(matches!(
            Spec::parse("@at 2026-01-01T00:00:00Z", None),
            Ok(Spec::At(_))
        ));
        assert!(matches!(
            Spec::parse("@every 1m30s", None),
            Ok(Spec::Every(90_000_000_000))
        ));
        assert!(matches!(
            Spec::parse("@hourly", None),
            Ok(Spec::Cron { .. })
        ));
        assert!(Spec::parse("0 0 5 * * *", time_zone(Some("Europe/Amsterdam")).unwrap()).is_ok());
        for bad in [
            "@every 500ms",
            "@every 1x",
            "@at yesterday",
            "@weekly2",
            "* * * * *",
            "bogus",
        ] {
            assert_eq!(
                Spec::parse(bad, None).unwrap_err(),
                SpecError::Pattern,
                "{bad}"
            );
        }
        let utc = time_zone(Some("UTC")).unwrap();
        assert!(Spec::parse("@every 1s", utc.clone()).is_err());
        assert!(Spec::parse("@at 2026-01-01T00:00:00Z", utc).is_err());
        assert_eq!(time_zone(Some("")).unwrap_err(), SpecError::TimeZone);
        assert_eq!(
            time_zone(Some("Mars/Base")).unwrap_err(),
            SpecError::TimeZone
        );
    }

    #[test]
    fn every_rounds_then_skips_ahead() {
        let every = Spec::parse("@every 1s", None).unwrap();
        let t = ns("2026-01-01T00:00:00.6Z");
        assert_eq!(every.next(t, t).unwrap(), ns("2026-01-01T00:00:02Z"));
        let later = ns("2026-01-01T01:00:00.2Z");
        assert_eq!(every.next(t, later).unwrap(), ns("2026-01-01T01:00:01Z"));
    }

    #[test]
    fn next_is_formatted_in_the_zone() {
        let spec = Spec::parse("0 0 5 * * *", time_zone(Some("America/Denver")).unwrap()).unwrap();
        assert_eq!(
            spec.format_next(ns("2026-07-01T11:00:00Z")),
            "2026-07-01T05:00:00-06:00"
        );
        let every = Spec::parse("@every 1s", None).unwrap();
        assert_eq!(
            every.format_next(ns("2026-07-01T11:00:00.5Z")),
            "2026-07-01T11:00:00.5Z"
        );
    }
}
