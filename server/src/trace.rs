//! Message tracing (nats-server 2.11+, ADR-41): a message published with a
//! `Nats-Trace-Dest: <subject>` header makes the server publish one JSON event
//! to that subject saying how the message came in and where it went; with
//! `Nats-Trace-Only: true` the message itself is not delivered (nor stored).

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::jetstream::headers;
use crate::logging::rfc3339;
use crate::sublist::SubResult;
use crate::subscription::SubTarget;

pub const TRACE_DEST: &str = "Nats-Trace-Dest";
const TRACE_ONLY: &str = "Nats-Trace-Only";

/// What a header block asks of tracing.
pub struct TraceRequest<'a> {
    pub dest: &'a [u8],
    pub only: bool,
}

/// `None` unless the block names a trace destination. A cheap scan first:
/// almost no message carries the header.
pub fn request(block: &[u8]) -> Option<TraceRequest<'_>> {
    memchr::memmem::find(block, TRACE_DEST.as_bytes())?;
    let dest = headers::get(block, TRACE_DEST).filter(|d| !d.is_empty())?;
    let only = headers::get_str(block, TRACE_ONLY)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    Some(TraceRequest { dest, only })
}

/// Who published the traced message.
pub struct Ingress<'a> {
    pub cid: u64,
    pub name: &'a str,
    pub account: &'a str,
    pub subject: &'a [u8],
}

/// The server's part of the event.
pub struct ServerInfo<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub host: &'a str,
    pub version: &'a str,
    pub jetstream: bool,
}

/// The trace event for one message: ingress, then one egress per client
/// subscription it reached (`echo == false` skips the publisher's own) and
/// one per queue group (its first member stands for the group).
pub fn event(
    server: &ServerInfo<'_>,
    block: &[u8],
    msg_bytes: usize,
    from: &Ingress<'_>,
    result: &SubResult,
    echo: bool,
) -> Vec<u8> {
    let now = rfc3339(SystemTime::now());
    let mut ingress = json!({"type": "in", "ts": now, "kind": 0, "cid": from.cid});
    if !from.name.is_empty() {
        ingress["name"] = from.name.into();
    }
    ingress["acc"] = from.account.into();
    ingress["subj"] = String::from_utf8_lossy(from.subject).into();
    let mut events = vec![ingress];
    let groups = result.qsubs.iter().filter_map(|g| g.first());
    for sub in result.psubs.iter().chain(groups) {
        let SubTarget::Client(client) = &sub.target else {
            continue;
        };
        if !echo && client.cid == from.cid {
            continue;
        }
        let mut eg = json!({"type": "eg", "ts": now, "kind": 0, "cid": client.cid});
        let name = client.meta.lock().name.clone();
        if !name.is_empty() {
            eg["name"] = name.into();
        }
        eg["sub"] = String::from_utf8_lossy(&sub.subject).into();
        if let Some(q) = &sub.queue {
            eg["queue"] = String::from_utf8_lossy(q).into();
        }
        events.push(eg);
    }
    let doc = json!({
        "server": {
            "name": server.name,
            "host": server.host,
            "id": server.id,
            "ver": server.version,
            "jetstream": server.jetstream,
            "time": now,
        },
        "request": {"header": header_map(block), "msgsize": msg_bytes},
        "events": events,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The header block as nats-server reports it: name → list of values.
fn header_map(block: &[u8]) -> Value {
    let mut map = serde_json::Map::new();
    let text = String::from_utf8_lossy(block);
    for line in text.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let entry = map.entry(k.trim().to_string()).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            list.push(v.trim().into());
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_needs_a_destination() {
        let block = b"NATS/1.0\r\nNats-Trace-Dest: traces\r\nNats-Trace-Only: true\r\n\r\n";
        let r = request(block).unwrap();
        assert_eq!((r.dest, r.only), (&b"traces"[..], true));
        assert!(request(b"NATS/1.0\r\nX: y\r\n\r\n").is_none());
        let r = request(b"NATS/1.0\r\nNats-Trace-Dest: t\r\n\r\n").unwrap();
        assert!(!r.only);
    }

    #[test]
    fn header_map_keeps_every_value() {
        let m = header_map(b"NATS/1.0\r\nA: 1\r\nA: 2\r\nB: x\r\n\r\n");
        assert_eq!(m, json!({"A": ["1", "2"], "B": ["x"]}));
    }
}
