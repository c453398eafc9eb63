//! Fast-ingest batch publish (ADR-50's fast flavour, nats-server 2.14): a
//! message whose reply subject is `<prefix>.<id>.<flow>.<gap>.<seq>.<op>.$FI`
//! belongs to batch `<id>`. Nothing is staged: each message is stored as it
//! comes, like a publish. Instead of a PubAck per message the server sends a
//! flow ack (`{"type":"ack","seq":n,"msgs":m}`) every `m` messages, reports
//! gaps and per-message errors as they happen, and ends the batch with one
//! PubAck carrying `batch` and `count`.
//!
//! Every reply that says messages are stored (flow acks, the final PubAck)
//! waits in the stream's ack queue for the fsync of the batch's last stored
//! message, as any PubAck does; gap and error reports carry no such claim
//! but keep their place in the queue, so the client reads them in order.
//!
//! A child module of `stream`: messages are stored by the stream's own
//! publish path, with its checks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nile_engine::DurableTicket;

use super::{AckBody, PendingAck, ReplyTo, Stored, Stream};
use crate::jetstream::api::level;
use crate::jetstream::config::StreamConfig;
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::headers;
use crate::jetstream::republish::Republished;
use crate::subscription::Delivery;

/// Reply subjects of fast batch messages end with this.
const FAST_SUFFIX: &[u8; 4] = b".$FI";

/// nats-server's limits on fast batches.
const BATCH_ID_BYTES_MAX: usize = 64;
const BATCHES_PER_STREAM_MAX: usize = 1000;
const BATCHES_TOTAL_MAX: usize = 50_000;
/// A batch with no message for this long is forgotten (without a reply).
const BATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a stream looks for idle batches (on its next batch message).
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Flow (messages per ack) a stream shares among its fast publishers.
const STREAM_FLOW_MSGS_MAX: usize = 500;
/// The flow a client asks for when its subject says none.
const CLIENT_FLOW_MSGS_DEFAULT: u16 = 10;

/// Open fast batches of all streams, for the server-wide limit.
static BATCHES_OPEN: AtomicUsize = AtomicUsize::new(0);

/// Does this reply subject mark a fast batch message? Inlined: it is the
/// one cost fast batches add to every publish with a reply.
#[inline]
pub fn is_fast(reply: &[u8]) -> bool {
    // One 4-byte compare, not a call to memcmp.
    reply
        .last_chunk::<4>()
        .is_some_and(|tail| u32::from_ne_bytes(*tail) == u32::from_ne_bytes(*FAST_SUFFIX))
}

/// Mirrors copy their origin's messages, so they take no batches.
pub fn check_config(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.allow_batched && cfg.mirror.is_some() {
        return Err(err::mirror_with_fast_publish());
    }
    Ok(())
}

/// The open fast batches of one stream.
pub struct FastBatches {
    open: HashMap<String, Fast>,
    swept: Instant,
}

impl Default for FastBatches {
    fn default() -> Self {
        FastBatches {
            open: HashMap::new(),
            swept: Instant::now(),
        }
    }
}

impl FastBatches {
    fn remove(&mut self, id: &str) {
        if self.open.remove(id).is_some() {
            BATCHES_OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Forget every batch (the stream stopped taking them).
    pub fn clear(&mut self) {
        BATCHES_OPEN.fetch_sub(self.open.len(), Ordering::Relaxed);
        self.open.clear();
    }

    /// Forget batches idle past the timeout, at most once a [`SWEEP_INTERVAL`].
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.swept) < SWEEP_INTERVAL {
            return;
        }
        self.swept = now;
        let before = self.open.len();
        self.open
            .retain(|_, b| now.duration_since(b.last_seen) < BATCH_IDLE_TIMEOUT);
        BATCHES_OPEN.fetch_sub(before - self.open.len(), Ordering::Relaxed);
    }

    /// The batch `id` refers to, opening it for its first message.
    fn batch_for(&mut self, r: &FastRef<'_>, now: Instant) -> Result<&mut Fast, ApiError> {
        self.sweep(now);
        let idle = self
            .open
            .get(r.id)
            .is_some_and(|b| now.duration_since(b.last_seen) >= BATCH_IDLE_TIMEOUT);
        if idle {
            self.remove(r.id);
        }
        if !self.open.contains_key(r.id) {
            if r.seq != 1 {
                return Err(err::fast_publish_unknown_id());
            }
            if self.open.len() >= BATCHES_PER_STREAM_MAX {
                return Err(err::fast_publish_too_many_inflight());
            }
            if BATCHES_OPEN.fetch_add(1, Ordering::Relaxed) >= BATCHES_TOTAL_MAX {
                BATCHES_OPEN.fetch_sub(1, Ordering::Relaxed);
                return Err(err::fast_publish_too_many_inflight());
            }
            // The only publisher gets the flow it asks for; others start
            // at an ack per message and are ramped up.
            let ack_msgs = if self.open.is_empty() {
                r.flow.min(STREAM_FLOW_MSGS_MAX as u16)
            } else {
                1
            };
            let b = Fast {
                lseq: 0,
                fseq: 0,
                sseq: 0,
                ack_msgs,
                max_ack_msgs: r.flow,
                gap_ok: r.gap_ok,
                last_seen: now,
            };
            self.open.insert(r.id.to_string(), b);
        }
        let b = self
            .open
            .get_mut(r.id)
            .ok_or_else(err::fast_publish_unknown_id)?;
        b.last_seen = now;
        Ok(b)
    }
}

impl Drop for FastBatches {
    fn drop(&mut self) {
        BATCHES_OPEN.fetch_sub(self.open.len(), Ordering::Relaxed);
    }
}

/// One open batch. Messages are stored as they arrive, so everything
/// received (`lseq`) is stored or skipped by the time the next comes.
struct Fast {
    /// Highest batch sequence received.
    lseq: u64,
    /// Batch sequence the last flow ack covered.
    fseq: u64,
    /// Stream sequence of the batch's last stored message (0: none yet).
    sseq: u64,
    /// A flow ack every this many messages.
    ack_msgs: u16,
    /// What the client asked for: the flow never goes above it.
    max_ack_msgs: u16,
    gap_ok: bool,
    last_seen: Instant,
}

impl Fast {
    /// Whether a flow ack is due now that everything up to `lseq` is
    /// stored; moves `fseq` and adjusts the flow (doubling towards the
    /// stream's share per publisher, halving above it).
    fn flow_due(&mut self, n_open: usize) -> bool {
        let am = u64::from(self.ack_msgs.max(1));
        if self.lseq < self.fseq + am {
            return false;
        }
        self.fseq += (self.lseq - self.fseq) / am * am;
        let share = (STREAM_FLOW_MSGS_MAX / n_open.max(1)).max(1);
        let target = (share.min(usize::from(u16::MAX)) as u16).min(self.max_ack_msgs);
        if self.ack_msgs < target {
            self.ack_msgs = self.ack_msgs.saturating_mul(2).min(target);
        } else if self.ack_msgs > target {
            self.ack_msgs = (self.ack_msgs / 2).max(target);
        }
        true
    }

    fn flow_ack(&self) -> AckBody {
        AckBody::Raw(
            format!(
                r#"{{"type":"ack","seq":{},"msgs":{}}}"#,
                self.fseq, self.ack_msgs
            )
            .into_bytes(),
        )
    }
}

/// What a batch message asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Start,
    Append,
    /// Store this message and end the batch.
    Commit,
    /// End the batch without storing this message.
    CommitEob,
    /// Resend the last flow ack (and report a gap up to `seq`).
    Ping,
}

/// A fast batch reply subject, parsed.
struct FastRef<'a> {
    id: &'a str,
    seq: u64,
    flow: u16,
    gap_ok: bool,
    op: Op,
}

/// `<prefix>.<id>.<flow>.<gap>.<seq>.<op>.$FI`; `None` when it does not
/// follow the pattern. A flow that is not a positive number means the
/// default, as nats-server reads it.
fn parse(reply: &[u8]) -> Option<FastRef<'_>> {
    let text = std::str::from_utf8(reply.strip_suffix(FAST_SUFFIX)?).ok()?;
    let mut tokens = text.rsplitn(6, '.');
    let op = match tokens.next()? {
        "0" => Op::Start,
        "1" => Op::Append,
        "2" => Op::Commit,
        "3" => Op::CommitEob,
        "4" => Op::Ping,
        _ => return None,
    };
    let seq: u64 = tokens.next()?.parse().ok()?;
    if seq == 0 || seq == u64::MAX {
        return None;
    }
    let misplaced = match op {
        Op::Start => seq != 1,
        Op::Append | Op::CommitEob => seq == 1,
        Op::Commit | Op::Ping => false,
    };
    if misplaced {
        return None;
    }
    let gap_ok = match tokens.next()? {
        "ok" => true,
        "fail" => false,
        _ => return None,
    };
    let flow = match tokens.next()?.parse::<i64>() {
        Ok(f) if f > 0 => f.min(i64::from(u16::MAX)) as u16,
        _ => CLIENT_FLOW_MSGS_DEFAULT,
    };
    let id = tokens.next()?;
    // The prefix: the id must not be the subject's first token.
    tokens.next()?;
    Some(FastRef {
        id,
        seq,
        flow,
        gap_ok,
        op,
    })
}

/// The replies one batch message causes, queued in order once it is done.
struct Replies<'a> {
    stream: &'a Stream,
    /// `None` under `no_ack`: the stream answers nothing.
    reply: Option<&'a [u8]>,
    acks: Vec<PendingAck>,
}

impl Replies<'_> {
    fn push(
        &mut self,
        ticket: Option<DurableTicket>,
        body: AckBody,
        republish: Option<Box<Republished>>,
    ) {
        let reply = self.reply.map(ReplyTo::new);
        if reply.is_none() && ticket.is_none() && republish.is_none() {
            return;
        }
        self.acks.push(PendingAck {
            ticket,
            reply,
            body,
            republish,
        });
    }

    /// A report that claims nothing about storage.
    fn info(&mut self, body: String) {
        self.push(None, AckBody::Raw(body.into_bytes()), None);
    }

    fn error(&mut self, e: &ApiError) {
        let body = self.stream.error_ack(e);
        self.push(None, AckBody::Raw(body), None);
    }

    /// The ticket of the batch's last stored message: what a reply saying
    /// "stored up to here" waits for.
    fn stored_ticket(&self, b: &Fast) -> Option<DurableTicket> {
        (b.sseq > 0).then(|| self.stream.store.ticket(b.sseq))
    }
}

impl Stream {
    /// A message whose reply subject marks a fast batch.
    pub(super) fn deliver_fast(&self, d: &Delivery<'_>, hdrs: &[u8], body: &[u8], reply: &[u8]) {
        let cfg = self.config.read();
        let mut out = Replies {
            stream: self,
            reply: (!cfg.no_ack).then_some(reply),
            acks: Vec::new(),
        };
        if let Err(e) = self.fast_msg(&cfg, d.subject, hdrs, body, reply, &mut out) {
            out.error(&e);
        }
        drop(cfg);
        for ack in out.acks {
            self.send_ack(ack, d.origin_cid);
        }
    }

    /// nats-server's checks in its order, then the batch's bookkeeping
    /// around storing the message. An `Err` is answered as a failed publish.
    fn fast_msg(
        &self,
        cfg: &StreamConfig,
        subject: &[u8],
        hdrs: &[u8],
        body: &[u8],
        reply: &[u8],
        out: &mut Replies<'_>,
    ) -> Result<(), ApiError> {
        if cfg.sealed {
            return Err(err::sealed());
        }
        if cfg.max_msg_size > 0 && (hdrs.len() + body.len()) as i64 > cfg.max_msg_size {
            return Err(err::message_too_big());
        }
        if !cfg.allow_batched {
            return Err(err::fast_publish_disabled());
        }
        let r = parse(reply).ok_or_else(err::fast_publish_invalid_pattern)?;
        if r.id.len() > BATCH_ID_BYTES_MAX {
            return Err(err::fast_publish_invalid_id());
        }
        let mut batches = self.fast_batches.lock();
        let now = Instant::now();
        batches.batch_for(&r, now)?;
        // The level is checked on every message; it is never stored.
        let mut hdrs = std::borrow::Cow::Borrowed(hdrs);
        if !hdrs.is_empty() && headers::get(&hdrs, level::REQUIRED_API_LEVEL).is_some() {
            if level::too_high(&hdrs) {
                batches.remove(r.id);
                return Err(err::required_api_level());
            }
            hdrs = super::batch::without_header(&hdrs, level::REQUIRED_API_LEVEL).into();
        }
        let n_open = batches.open.len();
        let Some(b) = batches.open.get_mut(r.id) else {
            return Err(err::fast_publish_unknown_id());
        };
        let ended = if r.op == Op::Ping {
            self.fast_ping(b, &r, n_open, out)
        } else {
            self.fast_data(cfg, b, &r, (subject, &hdrs, body), n_open, out)
        };
        if ended {
            batches.remove(r.id);
        }
        Ok(())
    }

    /// A ping: the last flow ack again, or the gap up to what the client
    /// sent. Returns whether the batch ended.
    fn fast_ping(
        &self,
        b: &mut Fast,
        r: &FastRef<'_>,
        n_open: usize,
        out: &mut Replies<'_>,
    ) -> bool {
        if r.seq > b.lseq {
            out.info(format!(
                r#"{{"type":"gap","last_seq":{},"seq":{}}}"#,
                b.lseq + 1,
                r.seq + 1
            ));
            if !b.gap_ok {
                self.fast_end(b, r, None, out);
                return true;
            }
            // What was lost counts as received; the ack below may move.
            b.lseq = r.seq;
            b.flow_due(n_open);
        }
        let t = out.stored_ticket(b);
        out.push(t, b.flow_ack(), None);
        false
    }

    /// A message to store (or, for `CommitEob`, the end). Returns whether
    /// the batch ended.
    fn fast_data(
        &self,
        cfg: &StreamConfig,
        b: &mut Fast,
        r: &FastRef<'_>,
        (subject, hdrs, body): (&[u8], &[u8], &[u8]),
        n_open: usize,
        out: &mut Replies<'_>,
    ) -> bool {
        let expected = b.lseq + 1;
        if r.seq != expected {
            out.info(format!(
                r#"{{"type":"gap","last_seq":{expected},"seq":{}}}"#,
                r.seq
            ));
            // Lost messages are fine where the client says so; going
            // back never is.
            if !(b.gap_ok && r.seq > expected) {
                self.fast_end(b, r, None, out);
                return true;
            }
        }
        b.lseq = r.seq;
        if r.op == Op::CommitEob {
            b.lseq -= 1;
            self.fast_end(b, r, None, out);
            return true;
        }
        let commit = r.op == Op::Commit;
        if r.seq == 1 && !commit {
            // The first reply says the flow the client starts at.
            out.push(None, b.flow_ack(), None);
        }
        match self.store_msg(cfg, subject, hdrs, body) {
            Ok(Stored::New(seq, ticket, republish, _)) => {
                b.sseq = seq;
                if commit {
                    self.fast_end(b, r, Some((ticket, republish)), out);
                    return true;
                }
                if b.flow_due(n_open) {
                    out.push(Some(ticket), b.flow_ack(), republish);
                } else {
                    // No reply, but consumers still wait for it to be durable.
                    out.acks.push(PendingAck::silent(ticket, republish));
                }
                false
            }
            Ok(Stored::Duplicate(dup_seq)) => self.fast_duplicate(b, r, dup_seq, n_open, out),
            Err(e) => self.fast_failed(b, r, &e, out),
        }
    }

    /// A duplicate `Nats-Msg-Id`: skipped quietly, but it counts towards
    /// the flow. Returns whether the batch ended.
    fn fast_duplicate(
        &self,
        b: &mut Fast,
        r: &FastRef<'_>,
        dup_seq: u64,
        n_open: usize,
        out: &mut Replies<'_>,
    ) -> bool {
        if b.flow_due(n_open) {
            let t = out.stored_ticket(b);
            out.push(t, b.flow_ack(), None);
        }
        if r.op != Op::Commit {
            return false;
        }
        if !b.gap_ok && b.lseq == 1 {
            // A batch of one answers as a publish would, batch fields added.
            let mut tail = br#","duplicate": true"#.to_vec();
            tail.extend_from_slice(&batch_tail(r.id, r.seq));
            out.push(None, AckBody::SeqWith { seq: dup_seq, tail }, None);
        } else {
            self.fast_end(b, r, None, out);
        }
        true
    }

    /// A message the stream refused: reported, and in `fail` mode (or on
    /// the commit) the end of the batch. Returns whether the batch ended.
    fn fast_failed(
        &self,
        b: &mut Fast,
        r: &FastRef<'_>,
        e: &ApiError,
        out: &mut Replies<'_>,
    ) -> bool {
        if !b.gap_ok && b.lseq == 1 {
            // A batch failing at once answers as a publish would.
            out.error(e);
            return true;
        }
        let mut report = format!(r#"{{"type":"err","seq":{},"error":"#, r.seq).into_bytes();
        let _ = serde_json::to_writer(&mut report, e);
        report.push(b'}');
        out.push(None, AckBody::Raw(report), None);
        if b.gap_ok && r.op != Op::Commit {
            return false;
        }
        b.lseq -= 1;
        self.fast_end(b, r, None, out);
        true
    }

    /// The final PubAck: the batch's last stored sequence and how many
    /// messages it received, once the last stored one is durable.
    fn fast_end(
        &self,
        b: &Fast,
        r: &FastRef<'_>,
        stored: Option<(DurableTicket, Option<Box<Republished>>)>,
        out: &mut Replies<'_>,
    ) {
        let (ticket, republish) = match stored {
            Some((t, rp)) => (Some(t), rp),
            None => (out.stored_ticket(b), None),
        };
        let tail = batch_tail(r.id, b.lseq);
        out.push(ticket, AckBody::SeqWith { seq: b.sseq, tail }, republish);
    }
}

/// `,"batch":<id>,"count":<n>` for a PubAck.
fn batch_tail(id: &str, count: u64) -> Vec<u8> {
    let mut tail = br#","batch":"#.to_vec();
    let _ = serde_json::to_writer(&mut tail, id);
    tail.extend_from_slice(format!(r#","count":{count}"#).as_bytes());
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(reply: &str) -> Option<(String, u64, u16, bool, u8)> {
        parse(reply.as_bytes()).map(|r| {
            let op = match r.op {
                Op::Start => 0,
                Op::Append => 1,
                Op::Commit => 2,
                Op::CommitEob => 3,
                Op::Ping => 4,
            };
            (r.id.to_string(), r.seq, r.flow, r.gap_ok, op)
        })
    }

    #[test]
    fn reply_subjects_as_nats_server_reads_them() {
        let some = |id: &str, seq, flow, ok, op| Some((id.to_string(), seq, flow, ok, op));
        assert_eq!(parsed("_INBOX.b.10.ok.1.0.$FI"), some("b", 1, 10, true, 0));
        assert_eq!(
            parsed("a.b.c.id.5.fail.7.1.$FI"),
            some("id", 7, 5, false, 1)
        );
        assert_eq!(parsed("p.b.0.fail.3.2.$FI"), some("b", 3, 10, false, 2));
        assert_eq!(parsed("p.b.x.fail.3.4.$FI"), some("b", 3, 10, false, 4));
        assert_eq!(
            parsed("p.b.99999.fail.2.3.$FI"),
            some("b", 2, 65535, false, 3)
        );
        assert_eq!(parsed("p.b.10.ok.1.2.$FI"), some("b", 1, 10, true, 2));
        for bad in [
            "p.b.10.ok.1.5.$FI",
            "p.b.10.ok.1.-1.$FI",
            "p.b.10.maybe.1.0.$FI",
            "p.b.10.ok.0.0.$FI",
            "p.b.10.ok.2.0.$FI",
            "p.b.10.ok.1.1.$FI",
            "p.b.10.ok.1.3.$FI",
            "p.b.10.ok.18446744073709551615.1.$FI",
            "b.10.ok.1.0.$FI",
            "10.ok.1.0.$FI",
            "p.b.10.ok.1.0",
        ] {
            assert!(parsed(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn flow_ramps_up_to_the_share_and_never_past_the_client() {
        let mut b = Fast {
            lseq: 0,
            fseq: 0,
            sseq: 0,
            ack_msgs: 1,
            max_ack_msgs: 20,
            gap_ok: false,
            last_seen: Instant::now(),
        };
        let mut acks = Vec::new();
        for seq in 1..=40 {
            b.lseq = seq;
            if b.flow_due(2) {
                acks.push((b.fseq, b.ack_msgs));
            }
        }
        assert_eq!(acks, [(1, 2), (3, 4), (7, 8), (15, 16), (31, 20)]);
        // Many publishers: the share drops below the flow, which halves.
        b.lseq = 60;
        assert!(b.flow_due(100));
        assert_eq!((b.fseq, b.ack_msgs), (51, 10));
    }
}
