//! Message counters (ADR-49, nats-server 2.12): on a stream with
//! `allow_msg_counter`, a publish carries `Nats-Incr: <integer>` and no
//! payload; the stored payload is `{"val":"<sum>"}`, the subject's previous
//! value plus the increment, in arbitrary precision as nats-server's big.Int.

use super::config::StreamConfig;
use super::errors::{err, ApiError};
use super::headers;

pub const INCR: &str = "Nats-Incr";

/// The stored payload and the new value of a counter publish.
pub struct Counted {
    pub payload: Vec<u8>,
    pub val: String,
}

/// Counter streams refuse what could change or drop a count behind its back.
pub fn check_config(cfg: &StreamConfig) -> Result<(), ApiError> {
    if !cfg.allow_msg_counter {
        return Ok(());
    }
    if cfg.mirror.is_some() {
        return Err(err::mirror_with_counters());
    }
    if cfg.allow_msg_ttl {
        return Err(err::invalid_config(
            "counter stream cannot use message TTLs",
        ));
    }
    if cfg.discard == super::config::Discard::New {
        return Err(err::invalid_config("counter stream cannot use discard new"));
    }
    Ok(())
}

pub fn check_update(old: &StreamConfig, new: &StreamConfig) -> Result<(), ApiError> {
    if old.allow_msg_counter != new.allow_msg_counter {
        return Err(err::invalid_config(
            "stream configuration update can not change message counter setting",
        ));
    }
    Ok(())
}

/// For a publish into `cfg`: `None` when it is no counter update, else the
/// payload to store. `previous` gives the subject's last stored payload.
pub fn apply(
    cfg: &StreamConfig,
    hdrs: &[u8],
    body: &[u8],
    previous: impl FnOnce() -> Result<Option<Vec<u8>>, ApiError>,
) -> Result<Option<Counted>, ApiError> {
    let incr = headers::get(hdrs, INCR);
    if !cfg.allow_msg_counter {
        return match incr {
            Some(_) => Err(err::msg_counter_disabled()),
            None => Ok(None),
        };
    }
    if !body.is_empty() {
        return Err(err::msg_counter_has_payload());
    }
    let incr = match incr {
        None | Some(b"") => return Err(err::msg_counter_incr_missing()),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(BigInt::parse)
            .ok_or_else(err::msg_counter_incr_invalid)?,
    };
    let before = match previous()? {
        None => BigInt::zero(),
        Some(p) => value_of(&p).ok_or_else(err::msg_counter_broken)?,
    };
    let val = before.add(&incr).to_string();
    let payload = serde_json::json!({ "val": val }).to_string().into_bytes();
    Ok(Some(Counted { payload, val }))
}

/// The value in a stored `{"val":"<integer>"}`.
fn value_of(payload: &[u8]) -> Option<BigInt> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    BigInt::parse(v.get("val")?.as_str()?)
}

/// A signed decimal integer: sign and magnitude, least significant digit first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BigInt {
    negative: bool,
    digits: Vec<u8>,
}

impl BigInt {
    fn zero() -> Self {
        BigInt {
            negative: false,
            digits: Vec::new(),
        }
    }

    /// As Go's `SetString(s, 10)`: an optional sign, then decimal digits.
    fn parse(s: &str) -> Option<Self> {
        let (negative, digits) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut n = BigInt {
            negative,
            digits: digits.bytes().rev().map(|b| b - b'0').collect(),
        };
        n.trim();
        Some(n)
    }

    fn trim(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.negative = false;
        }
    }

    fn add(&self, other: &BigInt) -> BigInt {
        if self.negative == other.negative {
            let mut n = BigInt {
                negative: self.negative,
                digits: add_magnitudes(&self.digits, &other.digits),
            };
            n.trim();
            return n;
        }
        let (big, small) = if cmp_magnitudes(&self.digits, &other.digits).is_ge() {
            (self, other)
        } else {
            (other, self)
        };
        let mut n = BigInt {
            negative: big.negative,
            digits: sub_magnitudes(&big.digits, &small.digits),
        };
        n.trim();
        n
    }
}

impl std::fmt::Display for BigInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.digits.is_empty() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let s: String = self
            .digits
            .iter()
            .rev()
            .map(|d| char::from(b'0' + d))
            .collect();
        f.write_str(&s)
    }
}

fn cmp_magnitudes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().rev().cmp(b.iter().rev()))
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for `a >= b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for (i, &d) in a.iter().enumerate() {
        let mut x = d as i8 - b.get(i).copied().unwrap_or(0) as i8 - borrow;
        borrow = i8::from(x < 0);
        if x < 0 {
            x += 10;
        }
        out.push(x as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::BigInt;

    fn sum(a: &str, b: &str) -> String {
        BigInt::parse(a)
            .unwrap()
            .add(&BigInt::parse(b).unwrap())
            .to_string()
    }

    #[test]
    fn arbitrary_precision_sums() {
        assert_eq!(sum("1", "+5"), "6");
        assert_eq!(sum("6", "-10"), "-4");
        assert_eq!(sum("-4", "4"), "0");
        assert_eq!(sum("-0", "0"), "0");
        assert_eq!(sum("007", "-8"), "-1");
        assert_eq!(
            sum(
                "99999999999999999999999999999999999999999",
                "99999999999999999999999999999999999999999"
            ),
            "199999999999999999999999999999999999999998"
        );
        assert_eq!(sum("1000000000000000000000", "-1"), "999999999999999999999");
        for bad in ["", "+", "-", "1.5", "abc", "1_000", " 1"] {
            assert!(BigInt::parse(bad).is_none(), "{bad:?}");
        }
    }
}
