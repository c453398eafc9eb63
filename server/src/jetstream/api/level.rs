//! The JetStream API level (ADR-44): the `Nats-Required-Api-Level` request
//! check, and the `_nats.*` metadata nats-server stamps into the stream and
//! consumer configs it returns.
//!
//! Nile stores none of these keys: it strips them from incoming configs and
//! computes them for every response, so a client that sends a returned config
//! back (KV, `nats` CLI edits) still matches the stored one.

use serde_json::{json, Map, Value};

use super::{error, Reply, Request};
use crate::jetstream::errors::err;
use crate::jetstream::headers::{self, HeaderBuilder};
use crate::jetstream::JetStream;
use crate::server::{advertises_api_level, JS_API_LEVEL, NATS_VERSION};

/// The request header asking for a minimum API level (nats-server matches
/// its name case-sensitively).
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";
const SERVER_VERSION_KEY: &str = "_nats.ver";
const SERVER_LEVEL_KEY: &str = "_nats.level";

/// Does the request ask for more than this server's level? A value that is
/// not a number is refused too; an empty one asks for nothing.
pub fn too_high(header_block: &[u8]) -> bool {
    match headers::get_str(header_block, REQUIRED_API_LEVEL) {
        None | Some("") => false,
        Some(v) => v
            .parse::<i64>()
            .map_or(true, |l| l > i64::from(JS_API_LEVEL)),
    }
}

/// The raw status answer of the subjects that reply with messages
/// (DIRECT.GET, CONSUMER.MSG.NEXT).
pub fn reject_raw(js: &JetStream, reply: &[u8]) {
    let status = HeaderBuilder::new(Some("412 Required Api Level")).finish();
    js.account.publish_internal(reply, None, &status, &[]);
}

/// The JSON error nats-server sends for `subject`, with the paging fields its
/// response type carries even when empty.
pub fn reject(req: &Request<'_>) -> Reply {
    if req.subject.starts_with("$JS.API.DIRECT.GET.") {
        return Reply::Raw {
            headers: HeaderBuilder::new(Some("412 Required Api Level")).finish(),
            body: Vec::new(),
        };
    }
    let paging = |list: &str, empty: Value| {
        let mut v = json!({"total": 0, "offset": 0, "limit": 0});
        if !list.is_empty() {
            v[list] = empty;
        }
        v
    };
    let (kind, extra) = match (req.token(2), req.token(3), req.token(4)) {
        ("INFO", _, _) => ("account_info_response", json!({})),
        ("STREAM", "INFO", _) => ("stream_info_response", paging("", Value::Null)),
        ("STREAM", "NAMES", _) => ("stream_names_response", paging("streams", Value::Null)),
        ("STREAM", "LIST", _) => ("stream_list_response", paging("streams", json!([]))),
        ("STREAM", "PURGE", _) => ("stream_purge_response", json!({"purged": 0})),
        ("STREAM", "MSG", "GET") => ("stream_msg_get_response", json!({})),
        ("STREAM", "MSG", "DELETE") => ("stream_msg_delete_response", json!({})),
        ("STREAM", "CREATE", _) => ("stream_create_response", json!({})),
        ("STREAM", "UPDATE", _) => ("stream_update_response", json!({})),
        ("STREAM", "DELETE", _) => ("stream_delete_response", json!({})),
        ("CONSUMER", "CREATE" | "DURABLE", _) => ("consumer_create_response", json!({})),
        ("CONSUMER", "INFO", _) => ("consumer_info_response", json!({})),
        ("CONSUMER", "NAMES", _) => ("consumer_names_response", paging("consumers", json!([]))),
        ("CONSUMER", "LIST", _) => ("consumer_list_response", paging("consumers", json!([]))),
        ("CONSUMER", "DELETE", _) => ("consumer_delete_response", json!({})),
        ("CONSUMER", "PAUSE", _) => (
            "consumer_pause_response",
            json!({"paused": false, "pause_until": "0001-01-01T00:00:00Z"}),
        ),
        ("CONSUMER", "RESET", _) => ("consumer_reset_response", json!({"reset_seq": 0})),
        ("CONSUMER", "UNPIN", _) => ("consumer_unpin_response", json!({})),
        (area, action, _) => {
            tracing::debug!("no API level error shape for {area}.{action}");
            ("error_response", json!({}))
        }
    };
    error(kind, err::required_api_level(), extra)
}

/// Drop the server-owned keys from the `metadata` of an incoming stream or
/// consumer config (the body of CREATE / UPDATE), so they are never stored.
pub fn strip_request_metadata(body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let mut changed = strip(&mut v);
    if let Some(cfg) = v.get_mut("config") {
        changed |= strip(cfg);
    }
    changed.then(|| serde_json::to_vec(&v).unwrap_or_default())
}

fn strip(cfg: &mut Value) -> bool {
    let Some(obj) = cfg.as_object_mut() else {
        return false;
    };
    let Some(Value::Object(meta)) = obj.get_mut("metadata") else {
        return false;
    };
    let before = meta.len();
    for key in [REQUIRED_LEVEL_KEY, SERVER_VERSION_KEY, SERVER_LEVEL_KEY] {
        meta.shift_remove(key);
    }
    if before == meta.len() {
        return false;
    }
    if meta.is_empty() {
        obj.shift_remove("metadata");
    }
    true
}

/// Stamp the metadata of the configs in a successful response, as
/// nats-server 2.11+ does: every config gets its required level; single
/// stream / consumer answers also name the server's version and level.
pub fn stamp_response(v: &mut Value) {
    if !advertises_api_level() || v.get("error").is_some() {
        return;
    }
    let kind = v["type"].as_str().unwrap_or("");
    let kind = kind.strip_prefix("io.nats.jetstream.api.v1.").unwrap_or("");
    match kind {
        "stream_create_response" | "stream_update_response" | "stream_info_response" => {
            stamp(&mut v["config"], stream_level, true);
        }
        "consumer_create_response" | "consumer_info_response" | "consumer_reset_response" => {
            stamp(&mut v["config"], consumer_level, true);
        }
        "stream_list_response" => stamp_all(&mut v["streams"], stream_level),
        "consumer_list_response" => stamp_all(&mut v["consumers"], consumer_level),
        _ => {}
    }
}

fn stamp_all(list: &mut Value, level: fn(&Value) -> u32) {
    if let Some(items) = list.as_array_mut() {
        for item in items {
            stamp(&mut item["config"], level, false);
        }
    }
}

fn stamp(cfg: &mut Value, level: fn(&Value) -> u32, dynamic: bool) {
    let required = level(cfg);
    let Some(obj) = cfg.as_object_mut() else {
        return;
    };
    let mut meta: Vec<(String, Value)> = match obj.get_mut("metadata").map(Value::take) {
        Some(Value::Object(m)) => m.into_iter().collect(),
        _ => Vec::new(),
    };
    meta.push((REQUIRED_LEVEL_KEY.into(), required.to_string().into()));
    if dynamic {
        meta.push((SERVER_VERSION_KEY.into(), NATS_VERSION.into()));
        meta.push((SERVER_LEVEL_KEY.into(), JS_API_LEVEL.to_string().into()));
    }
    // Go writes map keys in sorted order.
    meta.sort_by(|a, b| a.0.cmp(&b.0));
    let meta = Value::Object(meta.into_iter().collect::<Map<_, _>>());
    // Where nats-server's struct has it: a consumer's pause and priority
    // fields come after it.
    let index_of = |key: &str| obj.keys().position(|k| k == key);
    let at = index_of("metadata").or_else(|| {
        CONSUMER_FIELDS_AFTER_METADATA
            .iter()
            .find_map(|k| index_of(k))
    });
    match at {
        Some(at) => {
            obj.shift_remove("metadata");
            obj.shift_insert(at, "metadata".into(), meta);
        }
        None => {
            obj.insert("metadata".into(), meta);
        }
    }
}

/// ConsumerConfig fields nats-server writes after `metadata`.
const CONSUMER_FIELDS_AFTER_METADATA: [&str; 4] = [
    "pause_until",
    "priority_groups",
    "priority_policy",
    "priority_timeout",
];

fn is_set(cfg: &Value, key: &str) -> bool {
    match &cfg[key] {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// The API level a stream config needs, by the features it uses.
fn stream_level(cfg: &Value) -> u32 {
    let mut level = 0;
    if is_set(cfg, "allow_msg_ttl") || is_set(cfg, "subject_delete_marker_ttl") {
        level = 1;
    }
    let async_persist = cfg["persist_mode"].as_str() == Some("async");
    if ["allow_msg_counter", "allow_atomic", "allow_msg_schedules"]
        .iter()
        .any(|k| is_set(cfg, k))
        || async_persist
    {
        level = 2;
    }
    if is_set(cfg, "allow_batched") {
        level = 4;
    }
    level
}

/// The API level a consumer config needs: pausing and priority groups are 2.11's.
fn consumer_level(cfg: &Value) -> u32 {
    let paused = cfg["pause_until"]
        .as_str()
        .is_some_and(|t| !t.starts_with("0001-01-01"));
    let priority = cfg["priority_policy"]
        .as_str()
        .is_some_and(|p| !p.is_empty() && p != "none");
    // ADR-60's flow-control acks came with 2.14 (level 4).
    if cfg["ack_policy"].as_str() == Some("flow_control") {
        return 4;
    }
    if paused || priority || is_set(cfg, "priority_timeout") || is_set(cfg, "priority_groups") {
        return 1;
    }
    0
}
