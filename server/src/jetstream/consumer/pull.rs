//! Pull requests (MSG.NEXT): parsing, and the statuses sent to requesters.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use crate::jetstream::headers::HeaderBuilder;

/// A waiting pull request.
#[derive(Debug)]
pub struct WaitingRequest {
    pub reply: Bytes,
    pub batch_left: u64,
    /// 0: no byte budget.
    pub bytes_left: u64,
    pub has_byte_budget: bool,
    pub expires_at: Option<Instant>,
    /// As asked, for the consumer's `max_expires` check.
    pub expires: Option<Duration>,
    pub no_wait: bool,
    pub heartbeat: Option<Duration>,
    pub next_heartbeat: Option<Instant>,
    pub delivered: u64,
    /// The priority-group fields; only a JSON request carries them, as nats-server.
    pub group: Option<GroupRequest>,
}

/// A pull request's priority-group fields (ADR-42).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRequest {
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    /// The pin id the client holds (pinned_client).
    pub id: String,
    /// 0 (first) to 9 (prioritized).
    pub priority: i64,
}

impl GroupRequest {
    /// Priority for ordering; a request without group fields goes last.
    pub fn rank(g: Option<&GroupRequest>) -> i64 {
        g.map_or(i64::MAX, |g| g.priority)
    }
}

/// Clients send `null` for unset fields (async-nats); Go reads that as zero.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestJson {
    #[serde(deserialize_with = "null_is_default")]
    batch: i64,
    #[serde(deserialize_with = "null_is_default")]
    expires: i64,
    #[serde(deserialize_with = "null_is_default")]
    no_wait: bool,
    #[serde(deserialize_with = "null_is_default")]
    max_bytes: i64,
    #[serde(deserialize_with = "null_is_default")]
    idle_heartbeat: i64,
    #[serde(deserialize_with = "null_is_default")]
    group: String,
    #[serde(deserialize_with = "null_is_default")]
    min_pending: i64,
    #[serde(deserialize_with = "null_is_default")]
    min_ack_pending: i64,
    #[serde(deserialize_with = "null_is_default")]
    id: String,
    #[serde(deserialize_with = "null_is_default")]
    priority: i64,
}

fn null_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Why a pull request was refused outright.
#[derive(Debug, PartialEq, Eq)]
pub enum PullError {
    /// `400 Bad Request - <detail>`
    BadRequest(String),
}

/// Parse a MSG.NEXT body: empty (batch 1), a bare integer, or JSON.
pub fn parse(reply: Bytes, body: &[u8], now: Instant) -> Result<WaitingRequest, PullError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| PullError::BadRequest("invalid request".into()))?
        .trim();
    let is_json = text.starts_with('{');
    let json = if text.is_empty() {
        RequestJson {
            batch: 1,
            ..RequestJson::default()
        }
    } else if let Ok(n) = text.parse::<i64>() {
        RequestJson {
            batch: n,
            ..RequestJson::default()
        }
    } else {
        serde_json::from_str(text).map_err(|e| PullError::BadRequest(e.to_string()))?
    };
    let group = is_json.then(|| GroupRequest {
        group: json.group.clone(),
        min_pending: json.min_pending,
        min_ack_pending: json.min_ack_pending,
        id: json.id.clone(),
        priority: json.priority,
    });
    let expires = (json.expires > 0).then(|| Duration::from_nanos(json.expires as u64));
    let heartbeat =
        (json.idle_heartbeat > 0).then(|| Duration::from_nanos(json.idle_heartbeat as u64));
    // As nats-server: a heartbeat needs an expiry at least twice as long,
    // so a request that never expires may not ask for one.
    if let Some(hb) = heartbeat {
        if expires.is_none_or(|exp| hb * 2 > exp) {
            return Err(PullError::BadRequest("heartbeat value too large".into()));
        }
    }
    Ok(WaitingRequest {
        reply,
        batch_left: json.batch.max(1) as u64,
        bytes_left: json.max_bytes.max(0) as u64,
        has_byte_budget: json.max_bytes > 0,
        expires_at: expires.map(|e| now + e),
        expires,
        no_wait: json.no_wait,
        heartbeat,
        next_heartbeat: heartbeat.map(|h| now + h),
        delivered: 0,
        group,
    })
}

/// A status-only header block: `NATS/1.0 <status>` plus optional lines.
pub fn status(text: &str, extra: &[(&str, String)]) -> Vec<u8> {
    extra
        .iter()
        .fold(HeaderBuilder::new(Some(text)), |h, (k, v)| h.add(k, v))
        .finish()
}

impl WaitingRequest {
    /// `408 Request Timeout` with what the request still wanted.
    pub fn timeout_status(&self) -> Vec<u8> {
        status(
            "408 Request Timeout",
            &[
                ("Nats-Pending-Messages", self.batch_left.to_string()),
                ("Nats-Pending-Bytes", self.bytes_left.to_string()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = Instant::now();
        let r = parse(Bytes::new(), b"", now).unwrap();
        assert_eq!((r.batch_left, r.no_wait, r.expires_at), (1, false, None));
        assert_eq!(parse(Bytes::new(), b"7", now).unwrap().batch_left, 7);
        let r = parse(
            Bytes::new(),
            br#"{"batch":5,"expires":1000000000,"no_wait":true,"max_bytes":10}"#,
            now,
        )
        .unwrap();
        assert_eq!((r.batch_left, r.no_wait, r.bytes_left), (5, true, 10));
        assert_eq!(r.expires_at, Some(now + Duration::from_secs(1)));
        assert!(parse(
            Bytes::new(),
            br#"{"batch":1,"expires":1000,"idle_heartbeat":1000}"#,
            now
        )
        .is_err());
        assert!(parse(
            Bytes::new(),
            br#"{"batch":1,"idle_heartbeat":100000000}"#,
            now
        )
        .is_err());
        assert!(parse(Bytes::new(), b"{bad", now).is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            status("404 No Messages", &[]),
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
        let r = parse(Bytes::new(), b"5", Instant::now()).unwrap();
        assert_eq!(
            r.timeout_status(),
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 0\r\n\r\n"
        );
    }
}
