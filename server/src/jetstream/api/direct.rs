//! DIRECT.GET (ADR-31): the stored message itself, with headers naming it;
//! with `batch` or `multi_last` (2.11), several messages and an end-of-batch
//! status carrying the pending count.

use nile_engine::{StoreError, StoredMsg, SubjectFilter};
use serde::Deserialize;

use super::{Reply, Request};
use crate::jetstream::headers::HeaderBuilder;
use crate::jetstream::stream::Stream;
use crate::jetstream::time::parse_rfc3339;
use crate::jetstream::JetStream;
use crate::logging::rfc3339_ns;

/// nats-server refuses a `multi_last` that matches more subjects than this.
const MULTI_LAST_RESULTS_MAX: usize = 1024;

/// The body of DIRECT.GET, as nats-server's request struct reads it (zero
/// means unset; `batch` and `max_bytes` are signed there).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct DirectRequest {
    seq: u64,
    last_by_subj: String,
    next_by_subj: String,
    batch: i64,
    max_bytes: i64,
    start_time: Option<String>,
    multi_last: Vec<String>,
    up_to_seq: u64,
    up_to_time: Option<String>,
    no_hdr: bool,
}

/// The request with its times parsed.
struct Parsed {
    req: DirectRequest,
    start_ns: Option<i64>,
    up_to_ns: Option<i64>,
}

fn status(text: &str) -> Reply {
    Reply::Raw {
        headers: HeaderBuilder::new(Some(text)).finish(),
        body: Vec::new(),
    }
}

/// Parse as Go's decoder would: `null` leaves a field unset; a wrong type
/// or a time that is not RFC 3339 is malformed.
fn parse(body: &[u8]) -> Option<Parsed> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    super::drop_nulls(&mut v);
    let req: DirectRequest = serde_json::from_value(v).ok()?;
    let time = |t: &Option<String>| match t {
        None => Some(None),
        Some(s) => parse_rfc3339(s).map(Some),
    };
    Some(Parsed {
        start_ns: time(&req.start_time)?,
        up_to_ns: time(&req.up_to_time)?,
        req,
    })
}

/// nats-server's combinations that make no sense together.
fn conflicting(p: &Parsed) -> bool {
    let r = &p.req;
    let last = !r.last_by_subj.is_empty();
    let next = !r.next_by_subj.is_empty();
    let multi = !r.multi_last.is_empty();
    let start = p.start_ns.is_some();
    (r.seq > 0 && (last || start))
        || (last && (start || next || r.batch > 0 || multi))
        || (next && multi)
        || (r.up_to_seq > 0 && p.up_to_ns.is_some())
}

/// A mirror with mirror_direct answers for its origin.
fn target(js: &JetStream, stream: &str) -> Option<(String, std::sync::Arc<Stream>)> {
    let name = crate::jetstream::mirror::direct_target(js, stream).unwrap_or(stream.to_string());
    js.stream(&name).map(|s| (name, s))
}

/// `$JS.API.DIRECT.GET.<stream>` with a JSON body.
pub fn get(js: &JetStream, req: &Request<'_>) -> Reply {
    if req.body.is_empty() {
        return status("408 Empty Request");
    }
    let Some(p) = parse(req.body) else {
        return status("408 Malformed Request");
    };
    let r = &p.req;
    if r.seq == 0
        && r.last_by_subj.is_empty()
        && r.next_by_subj.is_empty()
        && r.multi_last.is_empty()
        && p.start_ns.is_none()
    {
        return status("408 Empty Request");
    }
    if conflicting(&p) {
        return status("408 Bad Request");
    }
    answer(js, req.token(4), &p)
}

/// `$JS.API.DIRECT.GET.<stream>.<subject>`: the last message on that subject.
/// A body may only carry options that do not pick messages (`no_hdr`).
pub fn get_last_for_subject(js: &JetStream, req: &Request<'_>) -> Reply {
    let mut p = if req.body.is_empty() {
        Parsed {
            req: DirectRequest::default(),
            start_ns: None,
            up_to_ns: None,
        }
    } else {
        match parse(req.body) {
            Some(p) => p,
            None => return status("408 Malformed Request"),
        }
    };
    let key = req.tail(5);
    let r = &p.req;
    let picks = !r.last_by_subj.is_empty()
        || !r.next_by_subj.is_empty()
        || !r.multi_last.is_empty()
        || r.seq != 0
        || r.batch != 0
        || r.up_to_seq != 0
        || p.start_ns.is_some()
        || p.up_to_ns.is_some();
    if key.is_empty() || picks {
        return status("408 Bad Request");
    }
    p.req.last_by_subj = key;
    answer(js, req.token(4), &p)
}

fn answer(js: &JetStream, stream: &str, p: &Parsed) -> Reply {
    let Some((name, stream)) = target(js, stream) else {
        return status("404 Message Not Found");
    };
    let bytes_max = match p.req.max_bytes {
        0 => i64::try_from(js.server.options().pending_bytes_max).unwrap_or(i64::MAX),
        n => n,
    };
    let out = Out {
        name: &name,
        no_hdr: p.req.no_hdr,
        bytes_max,
        msgs: Vec::new(),
        bytes: 0,
    };
    if p.req.multi_last.is_empty() {
        single_or_batch(&stream, p, out)
    } else {
        multi_last(&stream, p, out)
    }
}

/// The messages of one answer, with nats-server's byte budget.
struct Out<'a> {
    name: &'a str,
    no_hdr: bool,
    bytes_max: i64,
    msgs: Vec<(Vec<u8>, Vec<u8>)>,
    bytes: i64,
}

impl Out<'_> {
    /// Queue one message; false once the byte budget is spent. Only stored
    /// subject, headers and payload count, as in nats-server.
    fn push(&mut self, m: &StoredMsg, pending: Option<(u64, u64)>) -> bool {
        let headers = if self.no_hdr {
            Vec::new()
        } else {
            let mut h = HeaderBuilder::extend(&m.headers)
                .add("Nats-Stream", self.name)
                .add("Nats-Subject", &String::from_utf8_lossy(&m.subject))
                .add("Nats-Sequence", &m.seq.to_string())
                .add("Nats-Time-Stamp", &rfc3339_ns(m.timestamp_ns));
            if let Some((num_pending, last_seq)) = pending {
                h = h
                    .add("Nats-Num-Pending", &num_pending.to_string())
                    .add("Nats-Last-Sequence", &last_seq.to_string());
            }
            h.finish()
        };
        self.msgs.push((headers, m.payload.to_vec()));
        let size = m.subject.len() + m.headers.len() + m.payload.len();
        self.bytes += i64::try_from(size).unwrap_or(i64::MAX);
        self.bytes < self.bytes_max
    }

    fn end(mut self, num_pending: u64, last_seq: u64, up_to: Option<u64>) -> Reply {
        let mut h = HeaderBuilder::new(Some("204 EOB"))
            .add("Nats-Num-Pending", &num_pending.to_string())
            .add("Nats-Last-Sequence", &last_seq.to_string());
        if let Some(up_to) = up_to {
            h = h.add("Nats-UpTo-Sequence", &up_to.to_string());
        }
        self.msgs.push((h.finish(), Vec::new()));
        Reply::Many(self.msgs)
    }
}

/// The first sequence stored at or after `ns`; past the end, the next one.
fn seq_for_time(stream: &Stream, ns: i64) -> u64 {
    stream
        .store
        .seq_for_time(ns)
        .unwrap_or_else(|| stream.store.state(false).last_seq + 1)
}

fn single_or_batch(stream: &Stream, p: &Parsed, mut out: Out<'_>) -> Reply {
    let r = &p.req;
    let store = &stream.store;
    let mut seq = p.start_ns.map_or(r.seq, |ns| seq_for_time(stream, ns));
    let filter = SubjectFilter::new(&r.next_by_subj);
    let is_batch = r.batch != 0;
    let (mut pending, mut valid_through) = (0, 0);
    if is_batch {
        valid_through = store.state(false).last_seq;
        pending = store.num_pending(seq.max(1), &filter, false);
    }
    let mut last_seq = 0;
    // A negative batch sends no message, only the EOB, as in nats-server.
    let rounds = if is_batch { r.batch } else { 1 };
    for i in 0..rounds {
        let found = if seq > 0 && r.next_by_subj.is_empty() {
            if i == 0 && !is_batch {
                store.get(seq).map(Some)
            } else {
                store.next_matching(seq, &SubjectFilter::all())
            }
        } else if !r.next_by_subj.is_empty() {
            store.next_matching(seq.max(1), &filter)
        } else if !r.last_by_subj.is_empty() {
            store
                .last_for_subject(&SubjectFilter::new(&r.last_by_subj))
                .map(Some)
        } else {
            Err(StoreError::NotFound)
        };
        let Ok(Some(m)) = found else {
            // A batch that ran out after some messages still ends with EOB.
            if r.batch > 1 && i > 0 {
                break;
            }
            return status("404 Message Not Found");
        };
        seq = m.seq + 1;
        let headers = if is_batch && !r.no_hdr {
            // nats-server counts down only when it writes the headers.
            pending = pending.saturating_sub(1);
            Some((pending, last_seq))
        } else {
            None
        };
        last_seq = m.seq;
        if !out.push(&m, headers) {
            break;
        }
    }
    if !is_batch {
        return Reply::Many(out.msgs);
    }
    // Publishes since the count make it stale.
    if store.state(false).last_seq > valid_through {
        pending = store.num_pending(seq.max(1), &filter, false);
    }
    out.end(pending, last_seq, None)
}

/// The last message of every subject matching `filters` at or below `up_to`,
/// in sequence order; `None` when more subjects match than nats-server allows.
fn last_seqs(stream: &Stream, filters: &[String], up_to: u64) -> Option<Vec<u64>> {
    let store = &stream.store;
    let mut seqs = std::collections::BTreeSet::new();
    for f in filters {
        for subject in store.subjects_state(&SubjectFilter::new(f)).into_keys() {
            let literal = SubjectFilter::new(&subject);
            let last = store.last_for_subject(&literal).map(|m| m.seq).ok();
            let found = match last {
                Some(s) if s <= up_to => Some(s),
                _ => last_at_or_below(stream, &literal, up_to),
            };
            seqs.extend(found);
        }
        if seqs.len() > MULTI_LAST_RESULTS_MAX {
            return None;
        }
    }
    Some(seqs.into_iter().collect())
}

/// Walks the subject's index forward (no reads) to its last sequence at or below `up_to`.
fn last_at_or_below(stream: &Stream, subject: &SubjectFilter, up_to: u64) -> Option<u64> {
    let mut best = None;
    let mut at = 1;
    while let Some(s) = stream.store.next_matching_seq(at, subject) {
        if s > up_to {
            break;
        }
        best = Some(s);
        at = s + 1;
    }
    best
}

fn multi_last(stream: &Stream, p: &Parsed, mut out: Out<'_>) -> Reply {
    let r = &p.req;
    // nats-server names every multi_last answer, whatever `no_hdr` says.
    out.no_hdr = false;
    let state = stream.store.state(false);
    let mut up_to = r.up_to_seq;
    if let Some(ns) = p.up_to_ns {
        let seq = seq_for_time(stream, ns);
        // The first sequence at the time is the ceiling's successor.
        if seq <= state.first_seq {
            return status("404 No Results");
        }
        up_to = seq - 1;
    }
    if up_to == 0 {
        up_to = state.last_seq;
    }
    let seqs = if state.msgs == 0 {
        Vec::new()
    } else {
        match last_seqs(stream, &r.multi_last, up_to) {
            Some(s) => s,
            None => return status("413 Too Many Results"),
        }
    };
    if seqs.is_empty() {
        return status("404 No Results");
    }
    // Pending counts every later result, also those below `seq` that are skipped.
    let mut pending = seqs.len() as u64;
    let (mut last_seq, mut sent) = (0, 0i64);
    for seq in seqs {
        pending = pending.saturating_sub(1);
        if seq < r.seq {
            continue;
        }
        let Ok(m) = stream.store.get(seq) else {
            return status("404 Message Not Found");
        };
        let headers = Some((pending, last_seq));
        last_seq = m.seq;
        if !out.push(&m, headers) {
            break;
        }
        sent += 1;
        if r.batch > 0 && sent >= r.batch {
            break;
        }
    }
    out.end(pending, last_seq, Some(up_to))
}
