//! The `$JS.API.*` subjects, in one table, and the loop that serves them.

mod account;
mod consumers;
mod direct;
pub mod level;
mod msg;
mod streams;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;

use super::errors::{err, ApiError};
use super::{ApiRequest, JetStream};
use crate::subject;

/// What a handler answers: a JSON body, or nothing at all.
pub enum Reply {
    Json(serde_json::Value),
    /// A raw message with headers (direct get).
    Raw {
        headers: Vec<u8>,
        body: Vec<u8>,
    },
    /// Several raw messages, sent in order (batched direct get).
    Many(Vec<(Vec<u8>, Vec<u8>)>),
    None,
}

type Handler = fn(&JetStream, &Request<'_>) -> Reply;

/// A request as handlers see it: the subject's tokens and the body.
pub struct Request<'a> {
    pub subject: &'a str,
    pub tokens: Vec<&'a str>,
    pub body: &'a [u8],
}

impl Request<'_> {
    /// Token `i` of the subject (`$JS.API.STREAM.CREATE.<name>`: name is token 4).
    pub fn token(&self, i: usize) -> &str {
        self.tokens.get(i).copied().unwrap_or("")
    }

    /// Everything from token `i` on, joined by dots.
    pub fn tail(&self, i: usize) -> String {
        self.tokens
            .get(i..)
            .map(|t| t.join("."))
            .unwrap_or_default()
    }

    /// The body as JSON of type `T`; an empty body is `T::default()`.
    pub fn json<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(self.body).map_err(|e| err::invalid_json(&e.to_string()))?;
        drop_nulls(&mut v);
        if v.is_null() {
            return Ok(T::default());
        }
        serde_json::from_value(v).map_err(|e| err::invalid_json(&e.to_string()))
    }
}

/// Clients (async-nats) send `null` for unset options; nats-server's Go
/// decoder leaves such fields at their zero value, so drop them before
/// decoding into types whose fields have defaults.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Every API subject Nile serves, with its handler; first match wins.
const API: &[(&str, Handler)] = &[
    ("$JS.API.INFO", account::info),
    ("$JS.API.STREAM.CREATE.*", streams::create),
    ("$JS.API.STREAM.UPDATE.*", streams::update),
    ("$JS.API.STREAM.INFO.*", streams::info),
    ("$JS.API.STREAM.NAMES", streams::names),
    ("$JS.API.STREAM.LIST", streams::list),
    ("$JS.API.STREAM.DELETE.*", streams::delete),
    ("$JS.API.STREAM.PURGE.*", streams::purge),
    ("$JS.API.STREAM.MSG.GET.*", msg::get),
    ("$JS.API.STREAM.MSG.DELETE.*", msg::delete),
    ("$JS.API.CONSUMER.CREATE.*", consumers::create),
    ("$JS.API.CONSUMER.CREATE.*.*", consumers::create),
    ("$JS.API.CONSUMER.CREATE.*.*.>", consumers::create),
    ("$JS.API.CONSUMER.DURABLE.CREATE.*.*", consumers::create),
    ("$JS.API.CONSUMER.INFO.*.*", consumers::info),
    ("$JS.API.CONSUMER.NAMES.*", consumers::names),
    ("$JS.API.CONSUMER.LIST.*", consumers::list),
    ("$JS.API.CONSUMER.DELETE.*.*", consumers::delete),
    ("$JS.API.CONSUMER.PAUSE.*.*", consumers::pause),
    ("$JS.API.CONSUMER.UNPIN.*.*", consumers::unpin),
    ("$JS.API.CONSUMER.RESET.*.*", consumers::reset),
    ("$JS.API.DIRECT.GET.*", direct::get),
    ("$JS.API.DIRECT.GET.*.>", direct::get_last_for_subject),
];

fn handler_for(subj: &str) -> Option<Handler> {
    API.iter()
        .find(|(p, _)| subject::matches(p.as_bytes(), subj.as_bytes()))
        .map(|(_, h)| *h)
}

/// Would the server have a subscriber for this subject? nats-server
/// subscribes direct get per stream with `allow_direct`, so for a missing
/// stream the requester must see no-responders, not silence.
pub fn would_answer(js: &JetStream, subj: &str) -> bool {
    if subj.starts_with("$JS.API.DIRECT.GET.") {
        let name = subj.split('.').nth(4).unwrap_or("");
        return crate::jetstream::mirror::direct_target(js, name).is_some();
    }
    true
}

/// Requests whose body is a stream or consumer config.
fn is_config_write(subj: &str) -> bool {
    [
        "$JS.API.STREAM.CREATE.",
        "$JS.API.STREAM.UPDATE.",
        "$JS.API.CONSUMER.",
    ]
    .iter()
    .any(|p| subj.starts_with(p))
        && (subj.contains(".CREATE.") || subj.contains(".UPDATE."))
}

/// The API thread: one request at a time, in arrival order.
pub fn run(js: Arc<JetStream>, rx: std::sync::mpsc::Receiver<ApiRequest>) {
    while let Ok(req) = rx.recv() {
        let Some(reply_to) = req.reply.clone() else {
            continue;
        };
        let Some(handler) = handler_for(&req.subject) else {
            continue;
        };
        let stripped = is_config_write(&req.subject)
            .then(|| level::strip_request_metadata(&req.body))
            .flatten();
        let request = Request {
            subject: &req.subject,
            tokens: req.subject.split('.').collect(),
            body: stripped.as_deref().unwrap_or(&req.body),
        };
        let reply = if level::too_high(&req.headers) {
            level::reject(&request)
        } else {
            handler(&js, &request)
        };
        // Counted once handled, so an account INFO reports the requests before
        // it (as nats-server); direct gets are left out of the counters.
        if !req.subject.starts_with("$JS.API.DIRECT.GET.") {
            js.api_stats.total.fetch_add(1, Ordering::Relaxed);
        }
        match reply {
            Reply::Json(mut v) => {
                if v.get("error").is_some() {
                    js.api_stats.errors.fetch_add(1, Ordering::Relaxed);
                }
                level::stamp_response(&mut v);
                let body = serde_json::to_vec(&v).unwrap_or_default();
                js.account.publish_internal(&reply_to, None, &[], &body);
            }
            Reply::Raw { headers, body } => {
                js.account
                    .publish_internal(&reply_to, None, &headers, &body);
            }
            Reply::Many(msgs) => {
                for (headers, body) in msgs {
                    js.account
                        .publish_internal(&reply_to, None, &headers, &body);
                }
            }
            Reply::None => {}
        }
    }
}

/// `{"type": ..., <fields of value>}`.
pub fn typed(kind: &str, value: impl Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    let mut out = serde_json::Map::new();
    out.insert(
        "type".into(),
        format!("io.nats.jetstream.api.v1.{kind}").into(),
    );
    if let serde_json::Value::Object(m) = &mut v {
        out.append(m);
    }
    serde_json::Value::Object(out)
}

/// `{"type": ..., "error": {...}}` plus any `extra` fields.
pub fn error(kind: &str, e: ApiError, extra: serde_json::Value) -> Reply {
    let mut v = typed(kind, extra);
    if let serde_json::Value::Object(m) = &mut v {
        let mut ordered = serde_json::Map::new();
        // Map::remove would swap the last field into its place: keep the order.
        ordered.insert("type".into(), m.get("type").cloned().unwrap_or_default());
        ordered.insert("error".into(), serde_json::to_value(e).unwrap_or_default());
        ordered.extend(std::mem::take(m).into_iter().filter(|(k, _)| k != "type"));
        return Reply::Json(serde_json::Value::Object(ordered));
    }
    Reply::Json(v)
}
