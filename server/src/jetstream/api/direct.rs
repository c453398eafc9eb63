//! DIRECT.GET (ADR-31): the stored message itself, with headers naming it.

use super::msg::{lookup, GetRequest};
use super::{Reply, Request};
use crate::jetstream::headers::HeaderBuilder;
use crate::jetstream::JetStream;
use crate::logging::rfc3339_ns;

fn status(text: &str) -> Reply {
    Reply::Raw {
        headers: HeaderBuilder::new(Some(text)).finish(),
        body: Vec::new(),
    }
}

fn answer(js: &JetStream, stream: &str, r: &GetRequest) -> Reply {
    // A mirror with mirror_direct answers for its origin.
    let target = crate::jetstream::mirror::direct_target(js, stream);
    let stream = target.as_deref().unwrap_or(stream);
    match lookup(js, stream, r) {
        Ok(m) => {
            let headers = HeaderBuilder::extend(&m.headers)
                .add("Nats-Stream", stream)
                .add("Nats-Subject", &String::from_utf8_lossy(&m.subject))
                .add("Nats-Sequence", &m.seq.to_string())
                .add("Nats-Time-Stamp", &rfc3339_ns(m.timestamp_ns))
                .finish();
            Reply::Raw {
                headers,
                body: m.payload.to_vec(),
            }
        }
        Err(e) if e.code == 404 => status("404 Message Not Found"),
        Err(_) => status("408 Bad Request"),
    }
}

/// `$JS.API.DIRECT.GET.<stream>` with a MSG.GET-style body.
pub fn get(js: &JetStream, req: &Request<'_>) -> Reply {
    if req.body.is_empty() {
        return status("408 Empty Request");
    }
    match serde_json::from_slice::<GetRequest>(req.body) {
        // Nothing to look up: nats-server calls that an empty request.
        Ok(r)
            if r.seq.unwrap_or(0) == 0
                && r.last_by_subj.as_deref().unwrap_or("").is_empty()
                && r.next_by_subj.as_deref().unwrap_or("").is_empty() =>
        {
            status("408 Empty Request")
        }
        Ok(r) => answer(js, req.token(4), &r),
        Err(_) => status("408 Malformed Request"),
    }
}

/// `$JS.API.DIRECT.GET.<stream>.<subject>`: the last message on that subject.
pub fn get_last_for_subject(js: &JetStream, req: &Request<'_>) -> Reply {
    if !req.body.is_empty() {
        return status("408 Bad Request");
    }
    let r = GetRequest {
        last_by_subj: Some(req.tail(5)),
        ..GetRequest::default()
    };
    answer(js, req.token(4), &r)
}
