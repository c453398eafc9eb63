//! Go's `time.ParseDuration`, which nats-server uses for every duration string.
//!
//! `"2s"`, `"1m30s"`, `"1.5h"`, `"500ms"`, `"0"`; units `ns us µs μs ms s m h`. A sign is
//! accepted; negative results are reported as such so callers can reject them by key.

use std::time::Duration;

/// A parsed duration: Go durations may be negative, `std::time::Duration` may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

/// Parse like Go's `time.ParseDuration`; the error text matches Go's wording.
pub fn parse_go_duration(text: &str) -> Result<GoDuration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(GoDuration {
            negative: false,
            magnitude: Duration::ZERO,
        });
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let (value, after) = leading_number(rest).ok_or_else(invalid)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let per_unit = unit_nanos(unit)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {text:?}"))?;
        // `as` saturates on huge or infinite values; the cap below rejects them.
        total_nanos = total_nanos.saturating_add((value * per_unit as f64) as u128);
        rest = next;
    }
    // Go caps durations at ~292 years; anything near that is a typo, not a setting.
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    Ok(GoDuration {
        negative,
        magnitude: Duration::from_nanos(nanos),
    })
}

/// `12`, `1.5`, `.5` at the start of `s`, and what follows.
fn leading_number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let number = &s[..end];
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    Some((value, &s[end..]))
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        let d = parse_go_duration(s).unwrap();
        assert!(!d.negative, "{s}");
        d.magnitude
    }

    #[test]
    fn go_forms() {
        assert_eq!(ok("2s"), Duration::from_secs(2));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("+3s"), Duration::from_secs(3));
        assert!(parse_go_duration("-3s").unwrap().negative);
    }

    #[test]
    fn go_errors() {
        let huge = format!("{0}s{0}s", "9".repeat(400));
        for bad in ["", "5", "s", "1x", "1.2.3s", "-", "1d", ".s", "2 s", &huge] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
    }
}
