//! Helpers shared by the `js_stream_*` tests: raw JetStream API requests and
//! publishes whose replies are compared as exact JSON.

#![allow(dead_code)]

use std::time::Duration;

use async_nats::{header::HeaderMap, Client, Message};
use nile_tests::Nile;
use serde_json::{json, Value};

/// Bound on every wait for a reply.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn start() -> Nile {
    Nile::start(&["-js"])
}

pub async fn connect(nile: &Nile) -> Client {
    async_nats::ConnectOptions::new()
        .request_timeout(Some(TIMEOUT))
        .connect(nile.url())
        .await
        .expect("connect to nile")
}

pub async fn connect_js(nile: &Nile) -> (Client, async_nats::jetstream::Context) {
    let c = connect(nile).await;
    let js = async_nats::jetstream::new(c.clone());
    (c, js)
}

/// A request whose reply is JSON; panics on timeout or no-responders.
pub async fn req(c: &Client, subject: &str, body: &str) -> Value {
    let m = req_msg(c, subject, body)
        .await
        .unwrap_or_else(|e| panic!("request {subject} {body}: {e}"));
    serde_json::from_slice(&m.payload).unwrap_or_else(|e| {
        panic!(
            "reply to {subject} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&m.payload)
        )
    })
}

pub async fn req_msg(
    c: &Client,
    subject: &str,
    body: &str,
) -> Result<Message, async_nats::RequestError> {
    let r = c.request(subject.to_string(), body.to_string().into());
    tokio::time::timeout(TIMEOUT, r)
        .await
        .unwrap_or_else(|_| panic!("no reply to {subject} within {TIMEOUT:?}"))
}

/// Publish with a reply subject and headers; the PubAck as JSON.
pub async fn publish(c: &Client, subject: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, *v);
    }
    let r = if headers.is_empty() {
        c.request(subject.to_string(), body.to_string().into())
            .await
    } else {
        c.request_with_headers(subject.to_string(), h, body.to_string().into())
            .await
    };
    let m = r.unwrap_or_else(|e| panic!("publish to {subject}: {e}"));
    serde_json::from_slice(&m.payload).expect("PubAck JSON")
}

/// `{"stream":S,"seq":N}`
pub fn ack(stream: &str, seq: u64) -> Value {
    json!({"stream": stream, "seq": seq})
}

/// The PubAck nats-server sends for a failed publish.
pub fn ack_err(stream: &str, code: u64, err_code: u64, description: &str) -> Value {
    json!({
        "error": {"code": code, "err_code": err_code, "description": description},
        "stream": stream,
        "seq": 0
    })
}

/// `{"code":..,"err_code":..,"description":..}`
pub fn api_err(code: u64, err_code: u64, description: &str) -> Value {
    json!({"code": code, "err_code": err_code, "description": description})
}

/// The normalised config nats-server 2.10 echoes for `{"name":N,"subjects":[..]}`.
pub fn default_config(name: &str, subjects: &[&str]) -> Value {
    json!({
        "name": name,
        "subjects": subjects,
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "discard": "old",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": 120_000_000_000i64,
        "compression": "none",
        "allow_direct": false,
        "mirror_direct": false,
        "sealed": false,
        "deny_delete": false,
        "deny_purge": false,
        "allow_rollup_hdrs": false,
        "consumer_limits": {}
    })
}

/// A config as nats-server 2.10 echoes it: 2.11+ additions that carry no
/// setting (`allow_msg_ttl: false`, the server's `_nats.*` metadata keys)
/// are dropped, so the same assertions hold against nats-server 2.15.
pub fn config_of(config: &Value) -> Value {
    let mut c = config.clone();
    if let Some(m) = c.as_object_mut() {
        if m.get("allow_msg_ttl") == Some(&Value::Bool(false)) {
            m.remove("allow_msg_ttl");
        }
        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
            meta.retain(|k, _| !k.starts_with("_nats."));
            if meta.is_empty() {
                m.remove("metadata");
            }
        }
    }
    c
}

/// Is the server nats-server 2.11 or later (rather than Nile, which
/// advertises 2.10)? Used only where the two deliberately differ.
pub fn is_server_2_11_plus(c: &Client) -> bool {
    let v = c.server_info().version;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 11)
}

/// Create a stream from raw JSON and return the response, asserting success.
pub async fn create(c: &Client, name: &str, config: Value) -> Value {
    let v = req(
        c,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        &config.to_string(),
    )
    .await;
    assert!(v.get("error").is_none(), "create {name} failed: {v}");
    v
}

pub async fn info(c: &Client, name: &str) -> Value {
    req(c, &format!("$JS.API.STREAM.INFO.{name}"), "").await
}

/// Whether a string is an RFC 3339 UTC time with nanoseconds (`...T..:..:..(.n)Z`).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
}

/// A raw protocol client with headers and no_responders on, subscribed to
/// the reply subject `_RAW.R`.
pub fn raw_client(nile: &Nile) -> nile_tests::Raw {
    let mut raw = nile.raw();
    let out = raw.roundtrip(
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _RAW.R 77\r\n",
    );
    assert_eq!(out, "");
    raw
}

/// Raw protocol: one HMSG/MSG reply to a request, as (header block, payload).
/// `None` when the reply carries no headers; panics on timeout.
pub fn raw_request(
    raw: &mut nile_tests::Raw,
    subject: &str,
    body: &[u8],
) -> (Option<String>, Vec<u8>) {
    raw.send(format!("PUB {subject} _RAW.R {}\r\n", body.len()).as_bytes());
    raw.send(body);
    raw.send(b"\r\n");
    loop {
        let line = raw.line();
        assert!(!line.is_empty(), "connection closed");
        if line == "PING\r\n" {
            raw.send(b"PONG\r\n");
            continue;
        }
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        match parts[0] {
            "MSG" => {
                let n: usize = parts.last().unwrap().parse().unwrap();
                let mut data = raw.bytes(n + 2);
                data.truncate(n);
                return (None, data);
            }
            "HMSG" => {
                let hl: usize = parts[parts.len() - 2].parse().unwrap();
                let n: usize = parts.last().unwrap().parse().unwrap();
                let mut data = raw.bytes(n + 2);
                data.truncate(n);
                let body = data.split_off(hl);
                return (Some(String::from_utf8(data).unwrap()), body);
            }
            _ => continue, // +OK, PONG, INFO
        }
    }
}

/// Standard base64 (with padding) as MSG.GET encodes `hdrs` and `data`.
pub fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..chunk.len()]);
    }
    out
}
