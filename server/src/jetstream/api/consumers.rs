//! Consumer management: CREATE (all subject forms), DURABLE.CREATE, INFO,
//! NAMES, LIST, DELETE. MSG.NEXT bypasses the API queue (see `jetstream::ApiListener`).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{error, typed, Reply, Request};
use crate::jetstream::config::Retention;
use crate::jetstream::consumer::config::{
    is_valid_group_name, pause_deadline_ns, ConsumerConfig, CreateRequest,
};
use crate::jetstream::consumer::pause;
use crate::jetstream::consumer::persist::{self, Meta};
use crate::jetstream::consumer::Consumer;
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::stream::{now_ns, Stream};
use crate::jetstream::JetStream;
use crate::logging::rfc3339_ns;
use crate::subject;

const NAMES_PAGE_LEN: usize = 1024;
const LIST_PAGE_LEN: usize = 256;

fn api_err(code: u16, err_code: u16, text: &str) -> ApiError {
    ApiError {
        code,
        err_code,
        description: text.into(),
    }
}

/// ConsumerInfo as nats-server reports it.
pub fn info_json(js: &JetStream, c: &Consumer) -> Value {
    let cfg = c.config.read().clone();
    let st = c.state.lock();
    let (floor_d, floor_s) = st.ack_floor();
    let mut delivered = json!({"consumer_seq": st.dseq, "stream_seq": st.sseq});
    if st.last_active_ns != 0 {
        delivered["last_active"] = rfc3339_ns(st.last_active_ns).into();
    }
    let mut ack_floor = json!({"consumer_seq": floor_d, "stream_seq": floor_s});
    if st.last_ack_ns != 0 {
        ack_floor["last_active"] = rfc3339_ns(st.last_ack_ns).into();
    }
    let num_pending = c.num_pending(&st);
    let mut v = json!({
        "stream_name": c.stream_name,
        "name": c.name,
        "created": rfc3339_ns(c.created_ns),
        "config": cfg,
        "delivered": delivered,
        "ack_floor": ack_floor,
        "num_ack_pending": st.pending.len(),
        // As nats-server: redelivered messages still awaiting an ack.
        "num_redelivered": st.pending.values().filter(|p| p.deliveries > 1).count(),
        "num_waiting": st.waiting.len(),
        "num_pending": num_pending,
        "cluster": {"leader": js.server.server_name},
    });
    drop(st);
    if let Some(ds) = cfg.deliver_subject.as_deref() {
        if js.account.has_interest(ds.as_bytes()) {
            v["push_bound"] = true.into();
        }
    }
    if let Some(left) = pause::remaining(&cfg) {
        v["paused"] = true.into();
        v["pause_remaining"] = (left.as_nanos() as u64).into();
    }
    v["ts"] = rfc3339_ns(now_ns()).into();
    if let Some(group) = cfg.priority_groups.as_ref().and_then(|g| g.first()) {
        v["priority_groups"] = json!([group_state(c, group)]);
    }
    v
}

/// As nats-server, only the first group is reported, with its pin.
fn group_state(c: &Consumer, group: &str) -> Value {
    let mut g = json!({"group": group});
    match c.state.lock().pin.as_ref() {
        Some(pin) => {
            g["pinned_client_id"] = pin.id.clone().into();
            g["pinned_ts"] = rfc3339_ns(pin.ts_ns).into();
        }
        None => g["pinned_ts"] = pause::ZERO_TIME.into(),
    }
    g
}

/// What the subject says about the consumer: (stream, name, filter).
fn subject_parts<'a>(req: &'a Request<'_>) -> (&'a str, Option<String>, Option<String>, bool) {
    if req.token(3) == "DURABLE" {
        return (req.token(5), Some(req.token(6).to_string()), None, true);
    }
    let name = (req.tokens.len() > 5).then(|| req.token(5).to_string());
    let filter = (req.tokens.len() > 6).then(|| req.tail(6));
    (req.token(4), name, filter, false)
}

pub fn create(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_create_response";
    match create_inner(js, req) {
        Ok(v) => Reply::Json(typed(KIND, v)),
        Err(e) => error(KIND, e, json!({})),
    }
}

fn create_inner(js: &JetStream, req: &Request<'_>) -> Result<Value, ApiError> {
    let (stream_name, name, filter, durable_form) = subject_parts(req);
    let body: CreateRequest = req.json()?;
    if body.stream_name != stream_name {
        return Err(err::stream_name_mismatch());
    }
    let stream = js.stream(stream_name).ok_or_else(err::stream_not_found)?;
    let mut cfg = body.config;
    check_subject_name(&mut cfg, name.as_deref(), durable_form)?;
    if let Some(f) = filter {
        if cfg.filter_subjects.is_some() {
            return Err(api_err(
                400,
                10137,
                "consumer create request did not match filtered subject from create subject",
            ));
        }
        if cfg.filter_subject.as_deref() != Some(f.as_str()) {
            return Err(api_err(
                400,
                10131,
                "Consumer create request did not match filtered subject from create subject",
            ));
        }
    }
    let stream_cfg = stream.config.read().clone();
    let mut cfg = cfg.normalize(&stream_cfg, body.pedantic)?;
    if cfg.name.is_none() {
        cfg.name = Some(ephemeral_name());
    }
    let cname = cfg.name.clone().unwrap_or_default();
    if let Some(existing) = stream.consumer(&cname) {
        return update_existing(js, &existing, cfg, &body.action);
    }
    if body.action == "update" {
        return Err(api_err(400, 10149, "consumer does not exist"));
    }
    check_limits(&stream, &stream_cfg, &cfg)?;
    super::account::check_new_consumer(js)?;
    let dir = (cfg.is_durable() && !cfg.mem_storage)
        .then(|| {
            stream
                .dir
                .as_ref()
                .map(|d| d.join("consumers").join(&cname))
        })
        .flatten();
    if let (Some(d), Some(stream_dir)) = (&dir, &stream.dir) {
        persist::create_meta(
            d,
            &Meta {
                config: cfg.clone(),
                created_ns: now_ns(),
            },
            stream_dir,
        )
        .map_err(|e| err::stream_general(e.to_string()))?;
    }
    let c = Consumer::create(&stream, cfg, dir);
    persist::save(&c);
    stream.consumers.write().insert(cname, c.clone());
    let cfg = c.config.read().clone();
    if pause::remaining(&cfg).is_some() {
        c.send_pause_advisory(&cfg);
    }
    Ok(info_json(js, &c))
}

/// The consumer named in the subject must agree with the body.
fn check_subject_name(
    cfg: &mut ConsumerConfig,
    name: Option<&str>,
    durable_form: bool,
) -> Result<(), ApiError> {
    let Some(name) = name else {
        // The old ephemeral form `CONSUMER.CREATE.<stream>` takes no durable.
        if cfg.is_durable() {
            return Err(api_err(
                400,
                10020,
                "consumer expected to be ephemeral but a durable name was set in request",
            ));
        }
        return Ok(());
    };
    if durable_form {
        match cfg.durable_name.as_deref() {
            Some(d) if d == name => {}
            Some(_) | None if cfg.durable_name.as_deref().unwrap_or("").is_empty() => {
                return Err(api_err(
                    400,
                    10016,
                    "consumer expected to be durable but no durable name set in subject",
                ))
            }
            _ => {
                return Err(api_err(
                    400,
                    10017,
                    "consumer name in subject does not match durable name in request",
                ))
            }
        }
        return Ok(());
    }
    if cfg
        .durable_name
        .as_deref()
        .is_some_and(|d| !d.is_empty() && d != name)
    {
        return Err(api_err(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        ));
    }
    let body_name = cfg
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| cfg.durable_name.clone().filter(|n| !n.is_empty()));
    match body_name {
        Some(n) if n != name => Err(api_err(
            400,
            10132,
            "consumer name in subject does not match durable name in request",
        )),
        Some(_) => Ok(()),
        None => {
            cfg.name = Some(name.to_string());
            Ok(())
        }
    }
}

fn update_existing(
    js: &JetStream,
    c: &Arc<Consumer>,
    cfg: ConsumerConfig,
    action: &str,
) -> Result<Value, ApiError> {
    let mut cfg = cfg;
    let old = c.config.read().clone();
    // As nats-server, an update cannot pause or resume: that is CONSUMER.PAUSE.
    cfg.pause_until = old.pause_until.clone();
    if old == cfg {
        return Ok(info_json(js, c));
    }
    if action == "create" {
        return Err(api_err(400, 10148, "consumer already exists"));
    }
    cfg.check_update(&old)?;
    if let Some(d) = &c.dir {
        persist::save_meta(
            d,
            &Meta {
                config: cfg.clone(),
                created_ns: c.created_ns,
            },
        )
        .map_err(|e| err::stream_general(e.to_string()))?;
    }
    let filter = {
        let f = cfg.filters();
        if f.is_empty() {
            nile_engine::SubjectFilter::all()
        } else {
            nile_engine::SubjectFilter::from_patterns(f)
        }
    };
    *c.filter.write() = filter;
    *c.config.write() = cfg;
    c.notify();
    Ok(info_json(js, c))
}

fn check_limits(
    stream: &Stream,
    scfg: &crate::jetstream::config::StreamConfig,
    cfg: &ConsumerConfig,
) -> Result<(), ApiError> {
    let consumers = stream.consumers.read();
    if scfg.max_consumers > 0 && consumers.len() as i64 >= scfg.max_consumers {
        return Err(err::max_consumers());
    }
    if scfg.retention == Retention::Workqueue {
        let mine = cfg.filters();
        for other in consumers.values() {
            let theirs = other.config.read().filters();
            if mine.is_empty() || theirs.is_empty() {
                return Err(api_err(
                    400,
                    10100,
                    "multiple non-filtered consumers not allowed on workqueue stream",
                ));
            }
            if mine.iter().any(|a| {
                theirs
                    .iter()
                    .any(|b| subject::overlaps(a.as_bytes(), b.as_bytes()))
            }) {
                return Err(api_err(
                    400,
                    10099,
                    "filtered consumer not unique on workqueue stream",
                ));
            }
        }
    }
    Ok(())
}

fn ephemeral_name() -> String {
    crate::jetstream::consumer::nuid()
        .chars()
        .take(8)
        .collect::<String>()
        .to_uppercase()
}

pub fn info(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_info_response";
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    let Some(c) = stream.consumer(req.token(5)) else {
        return error(KIND, err::consumer_not_found(), json!({}));
    };
    Reply::Json(typed(KIND, info_json(js, &c)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Paging {
    offset: usize,
}

pub fn names(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_names_response";
    let p: Paging = match req.json() {
        Ok(p) => p,
        Err(e) => return error(KIND, e, json!({})),
    };
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    let all: Vec<String> = stream.consumers.read().keys().cloned().collect();
    let page: Vec<_> = all.iter().skip(p.offset).take(NAMES_PAGE_LEN).collect();
    Reply::Json(typed(
        KIND,
        json!({"total": all.len(), "offset": p.offset, "limit": NAMES_PAGE_LEN, "consumers": page}),
    ))
}

pub fn list(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_list_response";
    let p: Paging = match req.json() {
        Ok(p) => p,
        Err(e) => return error(KIND, e, json!({})),
    };
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    let all: Vec<_> = stream.consumers.read().values().cloned().collect();
    let page: Vec<_> = all
        .iter()
        .skip(p.offset)
        .take(LIST_PAGE_LEN)
        .map(|c| info_json(js, c))
        .collect();
    Reply::Json(typed(
        KIND,
        json!({"total": all.len(), "offset": p.offset, "limit": LIST_PAGE_LEN, "consumers": page}),
    ))
}

pub fn delete(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_delete_response";
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    if !stream.remove_consumer(req.token(5)) {
        return error(KIND, err::consumer_not_found(), json!({}));
    }
    Reply::Json(typed(KIND, json!({"success": true})))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PauseRequest {
    pause_until: Option<String>,
}

/// CONSUMER.PAUSE: pause until a time, or resume (no or zero time).
pub fn pause(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_pause_response";
    // nats-server's response carries these fields even with an error.
    let unpaused = json!({"paused": false, "pause_until": pause::ZERO_TIME});
    let body: PauseRequest = match req.json() {
        Ok(b) => b,
        Err(e) => return error(KIND, e, unpaused),
    };
    let until_ns = match body.pause_until.as_deref().map(pause_deadline_ns) {
        None => None,
        Some(Ok(ns)) => ns,
        Some(Err(e)) => return error(KIND, e, unpaused),
    };
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), unpaused);
    };
    let Some(c) = stream.consumer(req.token(5)) else {
        return error(KIND, err::consumer_not_found(), unpaused);
    };
    let until = until_ns.map(rfc3339_ns);
    let mut cfg = c.config.read().clone();
    cfg.pause_until = until.clone();
    if let Some(d) = &c.dir {
        let meta = Meta {
            config: cfg.clone(),
            created_ns: c.created_ns,
        };
        if let Err(e) = persist::save_meta(d, &meta) {
            return error(KIND, err::consumer_store_failed(&e.to_string()), unpaused);
        }
    }
    c.set_pause(until.clone());
    let mut v =
        json!({"paused": false, "pause_until": until.as_deref().unwrap_or(pause::ZERO_TIME)});
    if let Some(left) = pause::remaining(&cfg) {
        v["paused"] = true.into();
        v["pause_remaining"] = (left.as_nanos() as u64).into();
    }
    Reply::Json(typed(KIND, v))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UnpinRequest {
    group: String,
}

/// CONSUMER.UNPIN: the pinned client of a group loses its pin.
pub fn unpin(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_unpin_response";
    match unpin_inner(js, req) {
        Ok(()) => Reply::Json(typed(KIND, json!({}))),
        Err(e) => error(KIND, e, json!({})),
    }
}

fn unpin_inner(js: &JetStream, req: &Request<'_>) -> Result<(), ApiError> {
    // Go's decoder refuses an empty body.
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(err::invalid_json("unexpected end of JSON input"));
    }
    let body: UnpinRequest = req.json()?;
    if body.group.is_empty() {
        return Err(err::invalid_json("consumer group not specified"));
    }
    if !is_valid_group_name(&body.group) {
        return Err(err::invalid_group_name());
    }
    let stream = js.stream(req.token(4)).ok_or_else(err::stream_not_found)?;
    let c = stream
        .consumer(req.token(5))
        .ok_or_else(err::consumer_not_found)?;
    if !c.config.read().has_group(&body.group) {
        return Err(err::invalid_priority_group());
    }
    c.unpin(&body.group);
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetRequest {
    seq: u64,
}

/// CONSUMER.RESET (2.14): restart delivery at a sequence (0: past the ack
/// floor). nats-server answers from the consumer itself, so a missing
/// consumer gets no answer.
pub fn reset(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "consumer_reset_response";
    let Some(c) = js
        .stream(req.token(4))
        .and_then(|s| s.consumer(req.token(5)))
    else {
        return Reply::None;
    };
    let body: ResetRequest = match req.json() {
        Ok(b) => b,
        Err(e) => return error(KIND, e, json!({"reset_seq": 0})),
    };
    match c.reset(body.seq) {
        Ok(seq) => {
            let mut v = info_json(js, &c);
            v["reset_seq"] = seq.into();
            Reply::Json(typed(KIND, v))
        }
        Err(e) => error(KIND, e, json!({"reset_seq": 0})),
    }
}
