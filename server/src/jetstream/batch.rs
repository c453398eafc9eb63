//! Atomic batch publish (ADR-50, nats-server 2.12): messages carrying
//! `Nats-Batch-Id` and `Nats-Batch-Sequence` are staged per batch; the one
//! with `Nats-Batch-Commit` checks them all as if published one after the
//! other and appends them as one engine batch (one fsync; after a crash all
//! or none of it is there). Until then nothing is stored.
//!
//! A child module of `stream`: the commit runs under the stream's own
//! publish lock and rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nile_engine::BatchMsg;

use super::{now_ns, rollup_of, store_error, AckBody, PendingAck, ReplyTo, Stream};
use crate::jetstream::api::level;
use crate::jetstream::config::StreamConfig;
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::headers::{self, HeaderBuilder};
use crate::jetstream::republish::StoredFacts;
use crate::jetstream::resources;
use crate::jetstream::ttl;
use crate::subscription::Delivery;

pub const BATCH_ID: &str = "Nats-Batch-Id";
pub const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
pub const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// nats-server's limits on atomic batches.
const BATCH_ID_BYTES_MAX: usize = 64;
const BATCH_MSGS_MAX: u64 = 1000;
const BATCHES_PER_STREAM_MAX: usize = 50;
const BATCHES_TOTAL_MAX: usize = 1000;
/// A batch with no message for this long is abandoned (without a reply).
const BATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Open batches of all streams, for the server-wide limit.
static BATCHES_OPEN: AtomicUsize = AtomicUsize::new(0);

/// The open batches of one stream.
#[derive(Default)]
pub struct Batches {
    open: HashMap<String, Staged>,
}

impl Batches {
    fn remove(&mut self, id: &str) -> Option<Staged> {
        let b = self.open.remove(id);
        if b.is_some() {
            BATCHES_OPEN.fetch_sub(1, Ordering::Relaxed);
        }
        b
    }

    /// Forget batches idle past the timeout (their next message finds no
    /// batch); returns their ids.
    fn expire(&mut self, now: Instant) -> Vec<String> {
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, b)| now.duration_since(b.last_seen) >= BATCH_IDLE_TIMEOUT)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            self.remove(id);
        }
        idle
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        BATCHES_OPEN.fetch_sub(self.open.len(), Ordering::Relaxed);
    }
}

struct Staged {
    msgs: Vec<StagedMsg>,
    last_seen: Instant,
}

struct StagedMsg {
    subject: Vec<u8>,
    headers: Vec<u8>,
    payload: Vec<u8>,
}

/// How a commit ends the batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    No,
    /// `1`: store this message and commit.
    Store,
    /// `eob`: commit without storing this message.
    EndOfBatch,
}

/// What one batch message did.
enum Outcome {
    Staged,
    Committed(Committed),
}

struct Committed {
    last_seq: u64,
    count: usize,
    acks: Vec<PendingAck>,
}

/// The batch this message belongs to, if any (a non-empty `Nats-Batch-Id`).
pub fn batch_id(hdrs: &[u8]) -> Option<&str> {
    if hdrs.is_empty() {
        return None;
    }
    headers::get_str(hdrs, BATCH_ID).filter(|id| !id.is_empty())
}

/// Mirrors copy their origin's messages, so they take no batches.
pub fn check_config(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.allow_atomic && cfg.mirror.is_some() {
        return Err(err::mirror_with_atomic_publish());
    }
    Ok(())
}

impl Stream {
    /// A published message of batch `id`: staged, or the commit.
    pub(super) fn deliver_batch(&self, d: &Delivery<'_>, hdrs: &[u8], body: &[u8], id: &str) {
        let reply = d
            .reply
            .filter(|_| !self.config.read().no_ack)
            .map(ReplyTo::new);
        match self.batch_msg(d.subject, hdrs, body, id) {
            Ok(Outcome::Staged) => {
                // An empty reply says the message is staged.
                if let Some(reply) = reply {
                    self.queue_ack(reply, AckBody::Raw(Vec::new()));
                }
            }
            Ok(Outcome::Committed(c)) => {
                let Committed {
                    last_seq,
                    count,
                    mut acks,
                } = c;
                if let Some(last) = acks.last_mut() {
                    last.reply = reply;
                    last.body = Self::batch_ack(last_seq, id, count);
                }
                for ack in acks {
                    self.send_ack(ack, d.origin_cid);
                }
            }
            Err(e) => {
                if let Some(reply) = reply {
                    let body = self.error_ack(&e);
                    self.queue_ack(reply, AckBody::Raw(body));
                }
            }
        }
    }

    /// A reply that waits for no record.
    fn queue_ack(&self, reply: ReplyTo, body: AckBody) {
        let ack = PendingAck {
            ticket: None,
            reply: Some(reply),
            body,
            republish: None,
        };
        self.send_ack(ack, 0);
    }

    /// `$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>`: a batch was
    /// dropped for `reason` (timeout, large, incomplete, unsupported).
    fn batch_abandoned(&self, id: &str, reason: &str) {
        let subject = format!("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.{}", self.name);
        let mut body = serde_json::json!({
            "type": "io.nats.jetstream.advisory.v1.stream_batch_abandoned",
            "id": crate::jetstream::consumer::nuid(),
            "timestamp": crate::logging::rfc3339_ns(now_ns()),
            "stream": self.name,
        });
        if let Some(d) = &self.server.options().jetstream.domain {
            body["domain"] = d.clone().into();
        }
        body["batch"] = id.into();
        body["reason"] = reason.into();
        let body = body.to_string();
        self.account
            .publish_internal(subject.as_bytes(), None, &[], body.as_bytes());
    }

    /// The commit's PubAck: `{"stream":..,"seq":..,"batch":..,"count":..}`.
    fn batch_ack(seq: u64, id: &str, count: usize) -> AckBody {
        let mut tail = b",\"batch\":".to_vec();
        let _ = serde_json::to_writer(&mut tail, id);
        tail.extend_from_slice(format!(",\"count\":{count}").as_bytes());
        AckBody::SeqWith { seq, tail }
    }

    /// nats-server's checks, in its order, then staging or the commit.
    fn batch_msg(
        &self,
        subject: &[u8],
        hdrs: &[u8],
        body: &[u8],
        id: &str,
    ) -> Result<Outcome, ApiError> {
        {
            let cfg = self.config.read();
            if cfg.sealed {
                return Err(err::sealed());
            }
            // Each message as it arrives, as nats-server does: against what
            // is stored, not counting the batch's staged messages.
            if !self.caps().unlimited() {
                resources::check_server(self)?;
                resources::check_account(self, subject, hdrs, body)?;
            }
            if cfg.max_msg_size > 0 && (hdrs.len() + body.len()) as i64 > cfg.max_msg_size {
                return Err(err::message_too_big());
            }
            if !cfg.allow_atomic {
                return Err(err::atomic_publish_disabled());
            }
        }
        if id.len() > BATCH_ID_BYTES_MAX {
            return Err(err::atomic_publish_invalid_id());
        }
        let seq = match headers::get_u64(hdrs, BATCH_SEQUENCE) {
            Some(Ok(s)) => s,
            _ => return Err(err::atomic_publish_missing_seq()),
        };
        let (commit, commit_valid) = match headers::get(hdrs, BATCH_COMMIT) {
            None => (Commit::No, true),
            Some(b"1") => (Commit::Store, true),
            Some(b"eob") => (Commit::EndOfBatch, true),
            Some(_) => (Commit::Store, false),
        };
        let size = seq.saturating_sub(u64::from(commit == Commit::EndOfBatch));
        let mut batches = self.batches.lock();
        let now = Instant::now();
        for idle in batches.expire(now) {
            self.batch_abandoned(&idle, "timeout");
        }
        if !batches.open.contains_key(id) {
            if seq != 1 {
                return Err(if size > BATCH_MSGS_MAX {
                    err::atomic_publish_too_large(BATCH_MSGS_MAX)
                } else {
                    err::atomic_publish_incomplete()
                });
            }
            if batches.open.len() >= BATCHES_PER_STREAM_MAX {
                return Err(err::atomic_publish_too_many_inflight());
            }
            if BATCHES_OPEN.fetch_add(1, Ordering::Relaxed) >= BATCHES_TOTAL_MAX {
                BATCHES_OPEN.fetch_sub(1, Ordering::Relaxed);
                return Err(err::atomic_publish_too_many_inflight());
            }
            let staged = Staged {
                msgs: Vec::new(),
                last_seen: now,
            };
            batches.open.insert(id.to_string(), staged);
        }
        if !commit_valid {
            batches.remove(id);
            return Err(err::atomic_publish_invalid_commit());
        }
        // The level is checked on every message; it is never stored.
        let mut hdrs = hdrs.to_vec();
        if headers::get(&hdrs, level::REQUIRED_API_LEVEL).is_some() {
            if level::too_high(&hdrs) {
                batches.remove(id);
                self.batch_abandoned(id, "unsupported");
                return Err(err::required_api_level());
            }
            hdrs = without_header(&hdrs, level::REQUIRED_API_LEVEL);
        }
        let Some(staged) = batches.open.get_mut(id) else {
            return Err(err::atomic_publish_incomplete());
        };
        let in_order = staged.msgs.len() as u64 + 1 == seq;
        if !in_order || (seq == 1 && commit == Commit::EndOfBatch) {
            batches.remove(id);
            self.batch_abandoned(id, "incomplete");
            return Err(err::atomic_publish_incomplete());
        }
        if size > BATCH_MSGS_MAX {
            batches.remove(id);
            self.batch_abandoned(id, "large");
            return Err(err::atomic_publish_too_large(BATCH_MSGS_MAX));
        }
        staged.last_seen = now;
        if commit != Commit::EndOfBatch {
            staged.msgs.push(StagedMsg {
                subject: subject.to_vec(),
                headers: hdrs,
                payload: body.to_vec(),
            });
        }
        if commit == Commit::No {
            return Ok(Outcome::Staged);
        }
        let Some(staged) = batches.remove(id) else {
            return Err(err::atomic_publish_incomplete());
        };
        drop(batches);
        let mut msgs = staged.msgs;
        if commit == Commit::EndOfBatch {
            // The last stored message carries the commit mark instead.
            if let Some(last) = msgs.last_mut() {
                last.headers = HeaderBuilder::extend(&last.headers)
                    .add(BATCH_COMMIT, "1")
                    .finish();
            }
        }
        self.commit_batch(msgs).map(Outcome::Committed)
    }

    /// Checks every message against the stream as it will be when the ones
    /// before it are stored, then appends all of them at once.
    fn commit_batch(&self, msgs: Vec<StagedMsg>) -> Result<Committed, ApiError> {
        let cfg = self.config.read();
        if cfg.sealed {
            return Err(err::sealed());
        }
        let rules = self.rules.read();
        let now = now_ns();
        let mut inner = self.inner.lock();
        inner.dedup.expire(now, cfg.duplicate_window);
        let first_seq = self.store.state(false).last_seq + 1;
        let mut checked = Vec::with_capacity(msgs.len());
        let mut ids: Vec<&str> = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let subject = rules
                .transform
                .as_ref()
                .and_then(|t| t.apply(std::str::from_utf8(&m.subject).ok()?))
                .map_or_else(|| m.subject.clone(), String::into_bytes);
            let hdrs = &m.headers[..];
            if headers::get(hdrs, headers::EXPECTED_LAST_MSG_ID).is_some() {
                return Err(err::atomic_publish_unsupported_header(
                    headers::EXPECTED_LAST_MSG_ID,
                ));
            }
            self.check_expectations(&cfg, &subject, hdrs, &checked, || first_seq + i as u64 - 1)?;
            if let Some(id) = headers::get_str(hdrs, headers::MSG_ID).filter(|s| !s.is_empty()) {
                if inner.dedup.ids.contains_key(id) || ids.contains(&id) {
                    return Err(err::atomic_publish_duplicate_msg_id());
                }
                ids.push(id);
            }
            let rollup = rollup_of(&cfg, hdrs)?;
            let publish = ttl::for_publish(&cfg, hdrs, now)?;
            checked.push(Checked {
                subject,
                headers: publish.headers.into_owned(),
                expires_ns: publish.expires_ns,
                rollup,
            });
        }
        let batch: Vec<BatchMsg<'_>> = checked
            .iter()
            .zip(&msgs)
            .map(|(c, m)| BatchMsg {
                subject: &c.subject,
                headers: &c.headers,
                payload: &m.payload,
                expires_ns: c.expires_ns,
            })
            .collect();
        let (last_seq, _) = self
            .store
            .append_batch(&batch, now)
            .map_err(|e| store_error(&e))?;
        let first_seq = last_seq + 1 - checked.len() as u64;
        for (i, c) in checked.iter().enumerate() {
            if let Some(id) =
                headers::get_str(&c.headers, headers::MSG_ID).filter(|s| !s.is_empty())
            {
                inner
                    .dedup
                    .insert(id.to_string(), first_seq + i as u64, now);
            }
        }
        inner.last_msg_id = checked
            .last()
            .and_then(|c| headers::get_str(&c.headers, headers::MSG_ID))
            .map(str::to_string);
        drop(inner);
        let mut acks = Vec::with_capacity(checked.len());
        for (i, (c, m)) in checked.iter().zip(&msgs).enumerate() {
            let seq = first_seq + i as u64;
            let stored = StoredFacts {
                stream: &self.name,
                subject: std::str::from_utf8(&c.subject).unwrap_or(""),
                seq,
                timestamp_ns: now,
                subject_last_seq: 0,
            };
            let republish = self.after_store(
                &stored, &c.subject, c.rollup, &cfg, &rules, &c.headers, &m.payload,
            )?;
            acks.push(PendingAck::silent(self.store.ticket(seq), republish));
        }
        Ok(Committed {
            last_seq,
            count: checked.len(),
            acks,
        })
    }

    /// `Nats-Expected-*` for a message that would follow sequence `last()`,
    /// where `earlier` are the batch's messages before it (none for a
    /// publish on its own). `last` is read only when a header asks for it:
    /// it costs the store's lock on every plain publish otherwise.
    pub(super) fn check_expectations(
        &self,
        cfg: &StreamConfig,
        subject: &[u8],
        hdrs: &[u8],
        earlier: &[Checked],
        last: impl FnOnce() -> u64,
    ) -> Result<(), ApiError> {
        if let Some(name) = headers::get_str(hdrs, headers::EXPECTED_STREAM) {
            if name != cfg.name {
                return Err(err::expected_stream_mismatch());
            }
        }
        if let Some(expected) = headers::get_u64(hdrs, headers::EXPECTED_LAST_SUBJ_SEQ) {
            let on = headers::get(hdrs, headers::EXPECTED_LAST_SUBJ_SEQ_SUBJ)
                .filter(|s| !s.is_empty())
                .unwrap_or(subject);
            // What an earlier message of the batch did to it is not known yet.
            if earlier
                .iter()
                .any(|c| crate::subject::matches(on, &c.subject))
            {
                return Err(err::wrong_last_sequence_constant());
            }
            let last = self.last_seq_of(on)?;
            if expected != Ok(last) {
                return Err(err::wrong_last_sequence(last));
            }
        }
        if let Some(expected) = headers::get_u64(hdrs, headers::EXPECTED_LAST_SEQ) {
            let last = last();
            if expected != Ok(last) {
                return Err(err::wrong_last_sequence(last));
            }
            // Only the first message may expect a sequence: nats-server
            // refuses a later one even when it would match.
            if !earlier.is_empty() {
                return Err(err::wrong_last_sequence_constant());
            }
        }
        Ok(())
    }
}

/// The header block less every `name` line (nothing left: no block).
pub(super) fn without_header(block: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let mut kept = 0;
    for (i, line) in block.split_inclusive(|b| *b == b'\n').enumerate() {
        let is_name = line
            .iter()
            .position(|b| *b == b':')
            .is_some_and(|c| &line[..c] == name.as_bytes());
        if i > 0 && is_name {
            continue;
        }
        if i > 0 && line != b"\r\n" {
            kept += 1;
        }
        out.extend_from_slice(line);
    }
    if kept == 0 {
        return Vec::new();
    }
    out
}

/// A batch message that passed the checks, as it will be stored.
pub(super) struct Checked {
    subject: Vec<u8>,
    headers: Vec<u8>,
    expires_ns: Option<i64>,
    rollup: Option<bool>,
}
