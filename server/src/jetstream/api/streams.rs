//! Stream management: CREATE, UPDATE, INFO, NAMES, LIST, DELETE, PURGE.

use std::sync::Arc;

use nile_engine::{PurgeRequest, SubjectFilter};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{error, typed, Reply, Request};
use crate::jetstream::config::StreamConfig;
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::stream::{now_ns, Stream};
use crate::jetstream::{mirror, resources};
use crate::jetstream::{remove_dir, JetStream};
use crate::logging::rfc3339_ns;
use crate::subject;

/// Paging limits nats-server uses for NAMES and LIST.
const NAMES_PAGE_LEN: usize = 1024;
const LIST_PAGE_LEN: usize = 256;
/// nats-server's cap on subjects reported per INFO page.
const SUBJECTS_PAGE_LEN: usize = 100_000;

fn time(ns: i64) -> String {
    if ns == 0 {
        "0001-01-01T00:00:00Z".into()
    } else {
        rfc3339_ns(ns)
    }
}

/// The `state` object of StreamInfo.
pub fn state_json(stream: &Stream, deleted_details: bool, subjects_filter: Option<&str>) -> Value {
    let st = stream.store.state(deleted_details);
    let first_seq = if st.msgs == 0 && st.last_seq == 0 {
        0
    } else {
        st.first_seq
    };
    let mut v = json!({
        "messages": st.msgs,
        "bytes": st.bytes,
        "first_seq": first_seq,
        "first_ts": time(if st.msgs == 0 { 0 } else { st.first_ts }),
        "last_seq": st.last_seq,
        "last_ts": time(st.last_ts),
    });
    if st.num_subjects > 0 {
        v["num_subjects"] = st.num_subjects.into();
    }
    if let Some(filter) = subjects_filter.filter(|f| !f.is_empty()) {
        let subjects = stream.store.subjects_state(&SubjectFilter::new(filter));
        if !subjects.is_empty() {
            v["subjects"] = Value::Object(
                subjects
                    .into_iter()
                    .take(SUBJECTS_PAGE_LEN)
                    .map(|(k, n)| (k, Value::from(n)))
                    .collect(),
            );
        }
    }
    if st.num_deleted > 0 {
        if deleted_details {
            v["deleted"] = json!(st.deleted);
        }
        v["num_deleted"] = st.num_deleted.into();
    }
    v["consumer_count"] = stream.consumers.read().len().into();
    v
}

/// StreamInfo: config, created, state, cluster, ts.
pub fn info_json(
    js: &JetStream,
    stream: &Stream,
    deleted: bool,
    subjects: Option<&str>,
    cluster: bool,
) -> Value {
    let mut v = json!({
        "config": *stream.config.read(),
        "created": time(stream.created_ns),
        "state": state_json(stream, deleted, subjects),
    });
    if cluster {
        v["cluster"] = json!({"leader": js.server.server_name});
    }
    v["ts"] = time(now_ns()).into();
    mirror::info_into(&mut v, stream);
    v
}

/// Parse the body as a StreamConfig, checking the name against the subject.
fn config_from(req: &Request<'_>) -> Result<StreamConfig, ApiError> {
    let name = req.token(4);
    let cfg: StreamConfig = req.json()?;
    if cfg.name != name {
        return Err(err::stream_name_mismatch());
    }
    cfg.normalize()
}

/// Parse, then check the mirror and sources against the streams there are.
fn config_resolved(js: &JetStream, req: &Request<'_>) -> Result<StreamConfig, ApiError> {
    let mut cfg = config_from(req)?;
    mirror::resolve(js, &mut cfg)?;
    Ok(cfg)
}

fn check_overlap(js: &JetStream, cfg: &StreamConfig) -> Result<(), ApiError> {
    let streams = js.streams.read();
    let clash = streams.values().filter(|s| s.name != cfg.name).any(|s| {
        let other = s.config.read();
        other.subjects.iter().any(|a| {
            cfg.subjects
                .iter()
                .any(|b| subject::overlaps(a.as_bytes(), b.as_bytes()))
        })
    });
    if clash {
        return Err(err::subjects_overlap());
    }
    Ok(())
}

pub fn create(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_create_response";
    let cfg = match config_resolved(js, req) {
        Ok(c) => c,
        Err(e) => return error(KIND, e, json!({})),
    };
    if cfg.sealed {
        return error(
            KIND,
            err::invalid_config("stream configuration for create can not be sealed"),
            json!({}),
        );
    }
    if let Some(existing) = js.stream(&cfg.name) {
        if *existing.config.read() != cfg {
            return error(KIND, err::stream_name_exists(), json!({}));
        }
        // nats-server answers an idempotent create with did_create too.
        let mut v = info_json(js, &existing, false, None, false);
        v["did_create"] = true.into();
        return Reply::Json(typed(KIND, v));
    }
    if let Some(why) = js.unrecovered_reason(&cfg.name) {
        // Creating it afresh would write over the files it could not open.
        let text = format!("stream could not be recovered at start-up ({why}); its files are kept until the stream is deleted");
        return error(KIND, err::stream_create(text), json!({}));
    }
    if let Err(e) = check_overlap(js, &cfg) {
        return error(KIND, e, json!({}));
    }
    if let Err(e) = super::account::check_new_stream(js, &cfg) {
        return error(KIND, e, json!({}));
    }
    let stream = match js.open_stream(cfg, now_ns()) {
        Ok(s) => s,
        Err(e) => return error(KIND, e, json!({})),
    };
    if let Err(e) = js.create_meta(&stream) {
        delete_stream(js, &stream);
        return error(KIND, e, json!({}));
    }
    tracing::debug!("created stream {:?}", stream.name);
    advise(js, "CREATED", "create", &stream.name);
    let mut v = info_json(js, &stream, false, None, false);
    v["did_create"] = true.into();
    Reply::Json(typed(KIND, v))
}

/// New `consumer_limits` may not put an existing consumer over them.
fn check_consumer_limits(stream: &Stream, cfg: &StreamConfig) -> Result<(), ApiError> {
    let mut over: Vec<String> = stream
        .consumers
        .read()
        .iter()
        .filter(|(_, c)| c.config.read().violates(&cfg.consumer_limits))
        .map(|(name, _)| name.clone())
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    over.sort();
    Err(err::consumer_limits_violated(&over.join(", ")))
}

pub fn update(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_update_response";
    let mut cfg = match config_resolved(js, req) {
        Ok(c) => c,
        Err(e) => return error(KIND, e, json!({})),
    };
    if cfg.sealed {
        cfg.seal();
    }
    let Some(stream) = js.stream(&cfg.name) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    let old = stream.config.read().clone();
    if let Err(e) = cfg
        .check_update(&old)
        .and_then(|()| check_overlap(js, &cfg))
        .and_then(|()| check_consumer_limits(&stream, &cfg))
        .and_then(|()| resources::check_reservation(js, &cfg, true))
    {
        return error(KIND, e, json!({}));
    }
    if let Err(e) = stream.store.update_config(js.store_config(&cfg)) {
        return error(KIND, err::stream_general(e.to_string()), json!({}));
    }
    let subjects_changed = old.subjects != cfg.subjects;
    let copy_changed = old.mirror != cfg.mirror || old.sources != cfg.sources;
    stream.set_config(cfg);
    stream.start_markers();
    stream.start_schedules();
    if subjects_changed {
        stream.subscribe();
    }
    if copy_changed {
        mirror::start(js, &stream);
    }
    if let Err(e) = js.save_meta(&stream) {
        return error(KIND, e, json!({}));
    }
    advise(js, "UPDATED", "modify", &stream.name);
    Reply::Json(typed(KIND, info_json(js, &stream, false, None, false)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InfoRequest {
    deleted_details: bool,
    subjects_filter: Option<String>,
    offset: usize,
}

pub fn info(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_info_response";
    let paging = json!({"total": 0, "offset": 0, "limit": 0});
    let r: InfoRequest = match req.json() {
        Ok(r) => r,
        Err(e) => return error(KIND, e, paging),
    };
    let Some(stream) = js.stream(req.token(4)) else {
        return error(KIND, err::stream_not_found(), paging);
    };
    let mut v = json!({"total": 0, "offset": r.offset, "limit": 0});
    let info = info_json(js, &stream, r.deleted_details, None, true);
    if let (Value::Object(m), Value::Object(i)) = (&mut v, info) {
        m.extend(i);
    }
    // Subjects are paged by `offset` in name order; with no matching
    // subject at all nats-server leaves total and limit at 0.
    if let Some(filter) = r.subjects_filter.as_deref().filter(|f| !f.is_empty()) {
        let all = stream.store.subjects_state(&SubjectFilter::new(filter));
        if !all.is_empty() {
            v["total"] = all.len().into();
            v["limit"] = SUBJECTS_PAGE_LEN.into();
            let page: serde_json::Map<String, Value> = all
                .into_iter()
                .skip(r.offset)
                .take(SUBJECTS_PAGE_LEN)
                .map(|(k, n)| (k, Value::from(n)))
                .collect();
            if !page.is_empty() {
                v["state"]["subjects"] = Value::Object(page);
            }
        }
    }
    Reply::Json(typed(KIND, v))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListRequest {
    offset: usize,
    subject: Option<String>,
}

/// Streams (sorted by name) whose subjects overlap `filter`, if given.
fn selected(js: &JetStream, filter: Option<&str>) -> Vec<Arc<Stream>> {
    let streams = js.streams.read();
    streams
        .values()
        .filter(|s| {
            filter.is_none_or(|f| {
                s.config
                    .read()
                    .subjects
                    .iter()
                    .any(|x| subject::overlaps(x.as_bytes(), f.as_bytes()))
            })
        })
        .cloned()
        .collect()
}

pub fn names(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_names_response";
    let r: ListRequest = match req.json() {
        Ok(r) => r,
        Err(e) => {
            let paging = json!({"total": 0, "offset": 0, "limit": 0, "streams": null});
            return error(KIND, e, paging);
        }
    };
    let all = selected(js, r.subject.as_deref().filter(|s| !s.is_empty()));
    // nats-server clamps the offset to the total and sends `null` for no names.
    let offset = r.offset.min(all.len());
    let page: Vec<_> = all
        .iter()
        .skip(offset)
        .take(NAMES_PAGE_LEN)
        .map(|s| s.name.clone())
        .collect();
    let streams = if page.is_empty() {
        Value::Null
    } else {
        json!(page)
    };
    Reply::Json(typed(
        KIND,
        json!({"total": all.len(), "offset": offset, "limit": NAMES_PAGE_LEN, "streams": streams}),
    ))
}

pub fn list(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_list_response";
    let r: ListRequest = match req.json() {
        Ok(r) => r,
        Err(e) => {
            let paging = json!({"total": 0, "offset": 0, "limit": 0, "streams": []});
            return error(KIND, e, paging);
        }
    };
    let all = selected(js, r.subject.as_deref().filter(|s| !s.is_empty()));
    let offset = r.offset.min(all.len());
    let page: Vec<_> = all
        .iter()
        .skip(offset)
        .take(LIST_PAGE_LEN)
        .map(|s| info_json(js, s, false, None, false))
        .collect();
    Reply::Json(typed(
        KIND,
        json!({"total": all.len(), "offset": offset, "limit": LIST_PAGE_LEN, "streams": page}),
    ))
}

fn delete_stream(js: &JetStream, stream: &Arc<Stream>) {
    mirror::stop(stream);
    stream.unsubscribe();
    js.streams.write().remove(&stream.name);
    let _ = stream.store.close();
    if let Some(dir) = &stream.dir {
        remove_dir(dir);
    }
}

pub fn delete(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_delete_response";
    let name = req.token(4);
    let Some(stream) = js.stream(name) else {
        if js.unrecovered.lock().remove(name).is_some() {
            tracing::warn!("removing the files of stream {name:?}, which could not be recovered");
            remove_dir(&js.stream_dir(name));
            return Reply::Json(typed(KIND, json!({"success": true})));
        }
        return error(KIND, err::stream_not_found(), json!({}));
    };
    delete_stream(js, &stream);
    advise(js, "DELETED", "delete", &stream.name);
    Reply::Json(typed(KIND, json!({"success": true})))
}

/// `$JS.EVENT.ADVISORY.STREAM.<event>.<stream>` as nats-server sends it.
fn advise(js: &JetStream, event: &str, action: &str, stream: &str) {
    let subject = format!("$JS.EVENT.ADVISORY.STREAM.{event}.{stream}");
    let mut body = json!({
        "type": "io.nats.jetstream.advisory.v1.stream_action",
        "id": crate::jetstream::consumer::nuid(),
        "timestamp": rfc3339_ns(now_ns()),
        "stream": stream,
        "action": action,
    });
    if let Some(d) = &js.server.options().jetstream.domain {
        body["domain"] = d.clone().into();
    }
    js.account
        .publish_internal(subject.as_bytes(), None, &[], body.to_string().as_bytes());
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PurgeBody {
    filter: Option<String>,
    seq: Option<u64>,
    keep: Option<u64>,
}

pub fn purge(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_purge_response";
    // nats-server's purge errors carry `"purged":0`.
    let failed = |e| error(KIND, e, json!({"purged": 0}));
    let Some(stream) = js.stream(req.token(4)) else {
        return failed(err::stream_not_found());
    };
    let body: PurgeBody = match req.json() {
        Ok(b) => b,
        Err(e) => return failed(e),
    };
    {
        let cfg = stream.config.read();
        if cfg.sealed {
            return failed(err::sealed());
        }
        if cfg.deny_purge {
            return failed(err::stream_purge_denied());
        }
    }
    if body.seq.unwrap_or(0) > 0 && body.keep.unwrap_or(0) > 0 {
        return failed(err::bad_request());
    }
    let filter = body.filter.filter(|f| !f.is_empty() && f != ">");
    // Zero means "not set", as in nats-server's request struct.
    let preq = PurgeRequest {
        subject: filter,
        keep: body.keep.filter(|k| *k > 0),
        up_to_seq: body.seq.filter(|s| *s > 0),
    };
    match stream.store.purge(&preq) {
        Ok(n) => Reply::Json(typed(KIND, json!({"success": true, "purged": n}))),
        Err(e) => failed(err::stream_general(e.to_string())),
    }
}
