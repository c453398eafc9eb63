//! Per-message TTL (`Nats-TTL`, ADR-43) and subject delete markers
//! (ADR-48): parsing the header, the expiry time handed to the engine, and
//! the marker a stream stores when expiry empties a subject.

use std::borrow::Cow;

use super::config::StreamConfig;
use super::errors::{err, ApiError};
use super::headers;

pub const TTL: &str = "Nats-TTL";
pub const MARKER_REASON: &str = "Nats-Marker-Reason";
const KV_OPERATION: &str = "KV-Operation";

const NS_PER_SEC: i64 = 1_000_000_000;
/// The shortest TTL a message may ask for.
const TTL_SECS_MIN: i64 = 1;

/// A `Nats-TTL` value nats-server refuses (unparsable or under a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid per-message TTL")]
pub struct InvalidTtl;

/// A parsed `Nats-TTL` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgTtl {
    /// Kept forever, even past the stream's `max_age`.
    Never,
    /// Whole seconds after the message's timestamp.
    Secs(i64),
}

/// `"never"` (any case), whole seconds (`"3600"`), or a Go duration
/// (`"1h"`, `"1m30s"`, `"1.5s"`); at least one second.
pub fn parse(value: &str) -> Result<MsgTtl, InvalidTtl> {
    if value.eq_ignore_ascii_case("never") {
        return Ok(MsgTtl::Never);
    }
    let secs = match parse_int(value) {
        Some(n) => n,
        None => parse_go_duration_ns(value)? / NS_PER_SEC,
    };
    if secs < TTL_SECS_MIN {
        return Err(InvalidTtl);
    }
    Ok(MsgTtl::Secs(secs))
}

/// Go's `strconv.ParseInt(v, 10, 64)`: an optional sign, then digits.
fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i64>().ok()
}

/// Go's `time.ParseDuration`, for the non-negative values a TTL can be:
/// a sequence of decimal numbers, each with a unit (ns us µs ms s m h).
pub fn parse_go_duration_ns(v: &str) -> Result<i64, InvalidTtl> {
    let mut rest = v.strip_prefix('+').unwrap_or(v);
    if rest.is_empty() || rest.starts_with('-') {
        return Err(InvalidTtl);
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or(InvalidTtl)?;
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        total += component_ns(num, unit)?;
        if total > i128::from(i64::MAX) {
            return Err(InvalidTtl);
        }
        rest = tail;
    }
    i64::try_from(total).map_err(|_| InvalidTtl)
}

fn component_ns(num: &str, unit: &str) -> Result<i128, InvalidTtl> {
    let unit_ns: i128 = match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(InvalidTtl),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(InvalidTtl);
    }
    let whole: i128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| InvalidTtl)?
    };
    let mut ns = whole.checked_mul(unit_ns).ok_or(InvalidTtl)?;
    let mut scale = unit_ns;
    for d in frac.bytes().take(18) {
        scale /= 10;
        ns += i128::from(d - b'0') * scale;
    }
    Ok(ns)
}

/// Go's `time.Duration.String()` for durations of a second or more, the
/// form nats-server writes a marker's `Nats-TTL` in (`60s` is `1m0s`).
pub fn go_duration(ns: i64) -> String {
    let ns = ns.max(0);
    let (h, rem) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
    let (s, frac) = (rem / NS_PER_SEC, rem % NS_PER_SEC);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// What a published message's `Nats-TTL` means for storing it: the
/// expiry time for the engine and, when the stream raised the TTL to its
/// marker TTL, the header block with the raised value.
pub struct Publish<'a> {
    pub headers: Cow<'a, [u8]>,
    pub expires_ns: Option<i64>,
}

impl<'a> Publish<'a> {
    /// Stored as published, with no expiry time of its own.
    pub fn plain(hdrs: &'a [u8]) -> Self {
        Publish {
            headers: Cow::Borrowed(hdrs),
            expires_ns: None,
        }
    }
}

/// Checks `Nats-TTL` on a publish into a stream configured as `cfg`.
pub fn for_publish<'a>(
    cfg: &StreamConfig,
    hdrs: &'a [u8],
    now_ns: i64,
) -> Result<Publish<'a>, ApiError> {
    let plain = Publish::plain(hdrs);
    if hdrs.is_empty() {
        return Ok(plain);
    }
    // An empty value is no TTL, as in nats-server.
    let Some(raw) = headers::get(hdrs, TTL).filter(|v| !v.is_empty()) else {
        return Ok(plain);
    };
    // nats-server judges the value before whether TTLs are allowed.
    let value = std::str::from_utf8(raw).map_err(|_| err::msg_ttl_invalid())?;
    let ttl = parse(value).map_err(|InvalidTtl| err::msg_ttl_invalid())?;
    if !cfg.allow_msg_ttl {
        return Err(err::msg_ttl_disabled());
    }
    // Below the marker TTL a message would vanish before its own marker
    // could matter: nats-server raises it (except for one-per-subject
    // streams) and stores the raised value.
    let floor_secs = cfg.subject_delete_marker_ttl / NS_PER_SEC;
    match ttl {
        MsgTtl::Secs(secs) if secs < floor_secs && cfg.max_msgs_per_subject != 1 => {
            let raised = headers::set_last(hdrs, TTL, floor_secs.to_string().as_bytes());
            Ok(Publish {
                headers: Cow::Owned(raised),
                expires_ns: Some(expiry_ns(now_ns, MsgTtl::Secs(floor_secs))),
            })
        }
        ttl => Ok(Publish {
            headers: Cow::Borrowed(hdrs),
            expires_ns: Some(expiry_ns(now_ns, ttl)),
        }),
    }
}

/// The expiry time of a copied message (mirror or source): stored as it
/// comes, expiring only if this stream allows TTLs and the value parses.
pub fn for_copy(cfg: &StreamConfig, hdrs: &[u8], timestamp_ns: i64) -> Option<i64> {
    if !cfg.allow_msg_ttl || hdrs.is_empty() {
        return None;
    }
    let ttl = parse(headers::get_str(hdrs, TTL)?).ok()?;
    Some(expiry_ns(timestamp_ns, ttl))
}

fn expiry_ns(timestamp_ns: i64, ttl: MsgTtl) -> i64 {
    match ttl {
        MsgTtl::Never => nile_engine::format::record::EXPIRES_NEVER,
        MsgTtl::Secs(s) => timestamp_ns.saturating_add(s.saturating_mul(NS_PER_SEC)),
    }
}

/// The header block of the marker stored when expiry removes the last
/// message on a subject: reason, the marker's own TTL, and a subject
/// roll-up, in nats-server's order.
pub fn marker_headers(marker_ttl_ns: i64) -> Vec<u8> {
    headers::HeaderBuilder::new(None)
        .add(MARKER_REASON, "MaxAge")
        .add(TTL, &go_duration(marker_ttl_ns))
        .add(headers::ROLLUP, "sub")
        .finish()
}

/// Is this stored message a marker itself? Its expiry places no marker.
/// As for nats-server, a KV purge (`KV-Operation: PURGE`) counts as one.
pub fn is_marker(hdrs: &[u8]) -> bool {
    if hdrs.is_empty() {
        return false;
    }
    let reason = headers::get(hdrs, MARKER_REASON).is_some_and(|v| !v.is_empty());
    reason || headers::get(hdrs, KV_OPERATION) == Some(b"PURGE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_nats_server_accepts() {
        for (v, secs) in [
            ("30s", 30),
            ("1h", 3600),
            ("3600", 3600),
            ("1", 1),
            ("05", 5),
            ("+5s", 5),
            ("1m30s", 90),
            ("1.5s", 1),
            ("1s500ms", 1),
            ("1000ms", 1),
            ("1000000000ns", 1),
            ("9223372036", 9_223_372_036),
        ] {
            assert_eq!(parse(v), Ok(MsgTtl::Secs(secs)), "{v}");
        }
        for v in ["never", "NEVER", "Never"] {
            assert_eq!(parse(v), Ok(MsgTtl::Never));
        }
    }

    #[test]
    fn values_nats_server_refuses() {
        for v in [
            "0", "0s", "-1", "-5s", "0.5s", "500ms", "abc", "1.5", "1d", "5S", "1e3", "0x10",
            "1µs", "s", ".s", "1..5s",
        ] {
            assert_eq!(parse(v), Err(InvalidTtl), "{v}");
        }
    }

    #[test]
    fn markers_and_kv_purges_place_no_marker() {
        assert!(is_marker(&marker_headers(NS_PER_SEC)));
        assert!(is_marker(b"NATS/1.0\r\nKV-Operation: PURGE\r\n\r\n"));
        assert!(!is_marker(b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"));
        assert!(!is_marker(b"NATS/1.0\r\nNats-TTL: 5s\r\n\r\n"));
        assert!(!is_marker(b""));
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(go_duration(60 * NS_PER_SEC), "1m0s");
        assert_eq!(go_duration(3 * NS_PER_SEC), "3s");
        assert_eq!(go_duration(3600 * NS_PER_SEC), "1h0m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(3661 * NS_PER_SEC), "1h1m1s");
    }

    #[test]
    fn marker_headers_in_nats_server_order() {
        assert_eq!(
            marker_headers(60 * NS_PER_SEC),
            b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1m0s\r\nNats-Rollup: sub\r\n\r\n"
        );
    }
}
