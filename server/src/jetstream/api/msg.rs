//! STREAM.MSG.GET and STREAM.MSG.DELETE.

use base64::Engine as _;
use nile_engine::{StoreError, StoredMsg, SubjectFilter};
use serde::Deserialize;
use serde_json::json;

use super::{error, typed, Reply, Request};
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::JetStream;
use crate::logging::rfc3339_ns;

/// The body of MSG.GET and DIRECT.GET.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct GetRequest {
    pub seq: Option<u64>,
    pub last_by_subj: Option<String>,
    pub next_by_subj: Option<String>,
}

/// Look a message up as MSG.GET / DIRECT.GET describe it.
pub fn lookup(js: &JetStream, stream: &str, r: &GetRequest) -> Result<StoredMsg, ApiError> {
    let Some(stream) = js.stream(stream) else {
        return Err(err::stream_not_found());
    };
    let store = &stream.store;
    let found = match (r.seq, &r.last_by_subj, &r.next_by_subj) {
        // A sequence together with last_by_subj is a bad request.
        (None | Some(0), Some(subj), None) if !subj.is_empty() => {
            store.last_for_subject(&SubjectFilter::new(subj)).map(Some)
        }
        (seq, None, Some(subj)) if !subj.is_empty() => {
            store.next_matching(seq.unwrap_or(0).max(1), &SubjectFilter::new(subj))
        }
        (Some(seq), None, None) if seq > 0 => store.get(seq).map(Some),
        _ => return Err(err::bad_request()),
    };
    match found {
        Ok(Some(m)) => Ok(m),
        Ok(None) | Err(StoreError::NotFound) => Err(err::no_message_found()),
        Err(e) => Err(err::stream_general(e.to_string())),
    }
}

pub fn get(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_msg_get_response";
    let r: GetRequest = match req.json() {
        Ok(r) => r,
        Err(e) => return error(KIND, e, json!({})),
    };
    match lookup(js, req.token(5), &r) {
        Ok(m) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut message = json!({"subject": String::from_utf8_lossy(&m.subject), "seq": m.seq});
            if !m.headers.is_empty() {
                message["hdrs"] = b64.encode(&m.headers).into();
            }
            if !m.payload.is_empty() {
                message["data"] = b64.encode(&m.payload).into();
            }
            message["time"] = rfc3339_ns(m.timestamp_ns).into();
            Reply::Json(typed(KIND, json!({"message": message})))
        }
        Err(e) => error(KIND, e, json!({})),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteRequest {
    seq: u64,
    no_erase: bool,
}

pub fn delete(js: &JetStream, req: &Request<'_>) -> Reply {
    const KIND: &str = "stream_msg_delete_response";
    let Some(stream) = js.stream(req.token(5)) else {
        return error(KIND, err::stream_not_found(), json!({}));
    };
    // nats-server treats an empty body and `{}` alike as a bad request.
    let body = req.body.trim_ascii();
    if body.is_empty() || body == b"{}" {
        return error(KIND, err::bad_request(), json!({}));
    }
    let r: DeleteRequest = match req.json() {
        Ok(r) => r,
        Err(e) => return error(KIND, e, json!({})),
    };
    {
        let cfg = stream.config.read();
        if cfg.sealed {
            return error(KIND, err::sealed(), json!({}));
        }
        if cfg.deny_delete {
            return error(KIND, err::stream_delete_denied(), json!({}));
        }
    }
    match stream.store.delete(r.seq, !r.no_erase) {
        Ok(()) => Reply::Json(typed(KIND, json!({"success": true}))),
        Err(StoreError::NotFound) => {
            // nats-server's three answers: past the end, before the start,
            // or an interior sequence already gone.
            let st = stream.store.state(false);
            let e = if r.seq > st.last_seq {
                err::stream_msg_delete_failed("stream store EOF")
            } else if r.seq < st.first_seq {
                err::stream_msg_delete_failed("no message found")
            } else {
                err::sequence_not_found(r.seq)
            };
            error(KIND, e, json!({}))
        }
        Err(e) => error(
            KIND,
            err::stream_msg_delete_failed(e.to_string()),
            json!({}),
        ),
    }
}
