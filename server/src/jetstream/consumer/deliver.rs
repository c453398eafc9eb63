//! The delivery engine: one task per consumer.
//!
//! Each turn takes the state lock, works out what to send (redeliveries
//! first, then new messages via the engine's subject index, to the oldest
//! pull request or the push subject), releases the lock, publishes, and
//! sleeps until new data, an ack, a request, or the next deadline (ack wait,
//! request expiry, heartbeat).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nile_engine::{StoreError, StoredMsg};

use super::config::{AckPolicy, ConsumerConfig, ReplayPolicy};
use super::handoff::{self, AckReply};
use super::pull::status;
use super::{ack_wait, persist, priority, Consumer, Pending, RateBucket, State};
use crate::client::FlushList;
use crate::jetstream::headers::HeaderBuilder;
use crate::router::RouteCache;

/// Messages handed out per turn before yielding to other tasks.
const TURN_MSGS_MAX: usize = 512;
/// How often a push consumer without interest looks again.
const INTEREST_POLL: Duration = Duration::from_millis(50);
/// Replay original: gaps up to this are not waited for (nats-server's 1 ms).
const REPLAY_GAP_MIN_NS: i64 = 1_000_000;
/// How often dirty durable state is written.
const SAVE_INTERVAL: Duration = Duration::from_millis(100);

/// One message or status to publish after the lock is released: routed to
/// the subscribers of `to`, shown with `subject` (a consumer delivers the
/// stored message's own subject to the inbox or deliver subject).
pub struct Out {
    pub to: Bytes,
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    /// A delivered message's `$JS.ACK` reply (then `reply` is `None`),
    /// written only into the frame that carries it.
    pub(crate) ack: Option<AckReply>,
    pub headers: Vec<u8>,
    pub body: Bytes,
}

impl Out {
    /// The reply subject's length, a `$JS.ACK` one included.
    fn reply_len(&self, ack_prefix_bytes: usize) -> usize {
        match (&self.reply, &self.ack) {
            (Some(r), _) => r.len(),
            (None, Some(a)) => a.len_after(ack_prefix_bytes),
            (None, None) => 0,
        }
    }

    /// An advisory, published like the rest once the lock is released.
    pub(crate) fn event(subject: String, body: String) -> Out {
        let subject = Bytes::from(subject);
        Out {
            to: subject.clone(),
            subject,
            reply: None,
            ack: None,
            headers: Vec::new(),
            body: Bytes::from(body),
        }
    }
}

pub async fn run(c: Arc<Consumer>) {
    let mut routes = RouteCache::default();
    let mut flush = FlushList::default();
    loop {
        if c.is_deleted() {
            return;
        }
        let now = Instant::now();
        let subs_generation = c.account.sublist.generation();
        let (out, next, busy) = turn(&c, now);
        handoff::publish(&c, &mut routes, &mut flush, &out);
        flush.flush();
        let save_due = {
            let st = c.state.lock();
            st.dirty && now.duration_since(st.last_save) >= SAVE_INTERVAL
        };
        if save_due && c.dir.is_some() {
            persist::save(&c);
        }
        if busy {
            tokio::task::yield_now().await;
            continue;
        }
        let sleep = next
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        // A push consumer without interest starts as soon as its deliver
        // subject gets a subscriber (clients create the consumer first).
        let awaits_interest = c.state.lock().no_interest_since.is_some();
        let subscribed = c.account.sublist.inserted().notified();
        tokio::pin!(subscribed);
        if awaits_interest {
            subscribed.as_mut().enable();
            if c.account.sublist.generation() != subs_generation {
                continue;
            }
        }
        tokio::select! {
            _ = c.wake.notified() => {}
            _ = &mut subscribed, if awaits_interest => {}
            _ = tokio::time::sleep(sleep) => {}
        }
        if c.inactive_expired(Instant::now()) {
            if let Some(stream) = c.stream.upgrade() {
                stream.remove_consumer(&c.name);
            }
            return;
        }
    }
}

/// One turn: returns what to publish, the next deadline, and whether more
/// work is ready right away.
fn turn(c: &Consumer, now: Instant) -> (Vec<Out>, Option<Instant>, bool) {
    let cfg = c.config.read().clone();
    let mut st = c.state.lock();
    let mut out = Vec::new();
    expire_requests(&mut st, now, &mut out);
    priority::expire_pin(c, &mut st, now, &mut out);
    collect_redeliveries(c, &cfg, &mut st, now);
    // Set again below if the next message must still wait; a stale hold
    // would make the task wake at once, over and over.
    st.hold_until = None;
    let busy = if c.check_pause(&cfg, &mut st, now, &mut out) {
        // Paused is nothing available: no_wait requests end, as nats-server.
        finish_starved_no_wait(&mut st, &mut out);
        false
    } else if cfg.is_push() {
        push_turn(c, &cfg, &mut st, now, &mut out)
    } else {
        pull_turn(c, &cfg, &mut st, now, &mut out)
    };
    heartbeats(c, &cfg, &mut st, now, &mut out);
    let next = next_deadline(&cfg, &st, now, c.dir.is_some());
    (out, next, busy)
}

fn expire_requests(st: &mut State, now: Instant, out: &mut Vec<Out>) {
    st.waiting.retain(|w| {
        let expired = w.expires_at.is_some_and(|t| t <= now);
        if expired {
            out.push(status_out(&w.reply, w.timeout_status()));
        }
        !expired
    });
}

pub(crate) fn status_out(reply: &Bytes, headers: Vec<u8>) -> Out {
    Out {
        to: reply.clone(),
        subject: reply.clone(),
        reply: None,
        ack: None,
        headers,
        body: Bytes::new(),
    }
}

/// Move pending messages whose ack wait passed to the redelivery set.
fn collect_redeliveries(c: &Consumer, cfg: &ConsumerConfig, st: &mut State, now: Instant) {
    if cfg.ack_policy == AckPolicy::None {
        return;
    }
    let due: Vec<u64> = st
        .pending
        .iter()
        .filter(|(_, p)| p.deadline <= now)
        .map(|(s, _)| *s)
        .collect();
    for sseq in due {
        if st.redeliver.contains(&sseq) {
            continue;
        }
        let deliveries = st.pending.get(&sseq).map_or(0, |p| p.deliveries);
        if cfg.max_deliver > 0 && i64::from(deliveries) >= cfg.max_deliver {
            if let Some(p) = st.pending.remove(&sseq) {
                c.log_done(p.dseq, sseq);
                advisory_max_deliveries(c, sseq, &p);
            }
            continue;
        }
        st.redeliver.insert(sseq);
    }
}

fn advisory_max_deliveries(c: &Consumer, sseq: u64, p: &Pending) {
    let (subject, body) = c.msg_advisory("MAX_DELIVERIES", "max_deliver", None, sseq, p.deliveries);
    c.account
        .publish_internal(subject.as_bytes(), None, &[], body.to_string().as_bytes());
}

/// Room under `max_ack_pending`?
fn has_capacity(cfg: &ConsumerConfig, st: &State) -> bool {
    cfg.ack_policy == AckPolicy::None
        || cfg.max_ack_pending <= 0
        || (st.pending.len() as i64) < cfg.max_ack_pending
}

/// The next message to hand out, without consuming it.
enum Next {
    Redeliver(StoredMsg),
    Fresh(StoredMsg, bool),
}

/// `fresh`: may a new message be handed out (room under max_ack_pending)?
/// Redeliveries are already pending, so they never wait for room.
fn peek_next(c: &Consumer, st: &mut State, fresh: bool) -> Option<Next> {
    let durable = c.durable_seq.load(std::sync::atomic::Ordering::Acquire);
    while let Some(&sseq) = st.redeliver.iter().next() {
        match c.store.get(sseq) {
            Ok(m) => return Some(Next::Redeliver(m)),
            Err(_) => {
                // Deleted or purged meanwhile: nothing left to redeliver.
                st.redeliver.remove(&sseq);
                if let Some(p) = st.pending.remove(&sseq) {
                    c.log_done(p.dseq, sseq);
                }
            }
        }
    }
    if !fresh {
        return None;
    }
    while let Some(&sseq) = st.lps.front() {
        match c.store.get(sseq) {
            Ok(m) if m.seq > durable => return None,
            Ok(m) => return Some(Next::Fresh(m, true)),
            Err(_) => {
                st.lps.pop_front();
            }
        }
    }
    let filter = c.filter.read();
    match c.store.next_matching(st.next_seq, &filter) {
        // Not yet fsynced: wait, a crash could still take it back.
        Ok(Some(m)) if m.seq > durable => None,
        Ok(Some(m)) => Some(Next::Fresh(m, false)),
        Ok(None) | Err(StoreError::NotFound) => None,
        Err(e) => {
            tracing::warn!("consumer {}: read failed: {e}", c.name);
            None
        }
    }
}

/// Record the delivery of `next` and build the message for `to`.
fn take(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    next: Next,
    pending_left: &mut u64,
    now: Instant,
    to: &Bytes,
) -> Out {
    let (m, deliveries) = match next {
        Next::Redeliver(m) => {
            st.redeliver.remove(&m.seq);
            let p = st.pending.get_mut(&m.seq);
            let d = p.map_or(1, |p| {
                p.deliveries += 1;
                p.deliveries
            });
            if d == 2 {
                st.num_redelivered += 1;
            }
            (m, d)
        }
        Next::Fresh(m, from_lps) => {
            if from_lps {
                st.lps.pop_front();
            } else {
                st.next_seq = m.seq + 1;
            }
            *pending_left = pending_left.saturating_sub(1);
            (m, 1)
        }
    };
    st.dseq += 1;
    if deliveries == 1 {
        // As nats-server: `delivered.stream_seq` is the furthest new message;
        // a redelivery of an older one does not move it back.
        st.sseq = st.sseq.max(m.seq);
    }
    let now_ns = crate::jetstream::stream::now_ns();
    st.last_active_ns = now_ns;
    c.log_delivered(st.dseq, m.seq, deliveries, now_ns);
    if cfg.ack_policy == AckPolicy::None {
        // Nothing to wait for: delivered is done.
        c.log_done(st.dseq, m.seq);
    } else {
        let deadline = now + ack_wait(cfg, deliveries);
        let dseq = st.dseq;
        st.pending
            .entry(m.seq)
            // A redelivery keeps the first consumer sequence, as nats-server:
            // the ack floor does not pass a delivery nobody acked.
            .and_modify(|p| {
                p.deadline = deadline;
                p.delivered_ns = now_ns;
            })
            .or_insert(Pending {
                dseq,
                deliveries,
                deadline,
                ts: m.timestamp_ns,
                delivered_ns: now_ns,
            });
    }
    st.dirty = true;
    let ack = AckReply {
        nums: [u64::from(deliveries), m.seq, st.dseq],
        ts: m.timestamp_ns,
        pending: *pending_left,
    };
    let (headers, body) = if cfg.headers_only {
        let h = HeaderBuilder::extend(&m.headers)
            .add("Nats-Msg-Size", &m.payload.len().to_string())
            .finish();
        (h, Bytes::new())
    } else {
        (m.headers.to_vec(), m.payload.clone())
    };
    Out {
        to: to.clone(),
        subject: m.subject,
        reply: None,
        ack: Some(ack),
        headers,
        body,
    }
}

/// Replay original and the rate limit: the time `next` may go out, when
/// that is later than `now`.
fn held_until(cfg: &ConsumerConfig, st: &mut State, next: &Next, now: Instant) -> Option<Instant> {
    let mut until = None;
    if let (ReplayPolicy::Original, Next::Fresh(m, _), Some((prev_ts, prev_at))) =
        (cfg.replay_policy, next, st.replay_prev)
    {
        let gap_ns = m.timestamp_ns.saturating_sub(prev_ts);
        if gap_ns > REPLAY_GAP_MIN_NS {
            let due = prev_at + Duration::from_nanos(gap_ns as u64);
            until = (due > now).then_some(due);
        }
    }
    if let Some(bucket) = st.rate.as_mut() {
        if let Some(due) = bucket.due(rate_size(next.msg()), now) {
            until = Some(until.map_or(due, |u: Instant| u.max(due)));
        }
    }
    until
}

/// Book what `held_until` measures for a message that goes out now.
fn record_sent(st: &mut State, fresh_ts: Option<i64>, size: u64, now: Instant) {
    if let Some(ts) = fresh_ts {
        st.replay_prev = Some((ts, now));
    }
    if let Some(bucket) = st.rate.as_mut() {
        bucket.spend(size);
    }
}

/// The bytes counted against `rate_limit_bps`: subject, headers and payload
/// (nats-server counts about the same, plus the ack subject).
fn rate_size(m: &StoredMsg) -> u64 {
    msg_size(m)
}

/// Keep the rate bucket in step with the config (`rate_limit_bps` may be updated).
fn sync_rate(c: &Consumer, cfg: &ConsumerConfig, st: &mut State, now: Instant) {
    let bps = cfg.rate_limit_bps.unwrap_or(0);
    if bps == 0 {
        st.rate = None;
        return;
    }
    if st.rate.as_ref().is_some_and(|b| b.bps == bps) {
        return;
    }
    // nats-server's burst: the stream's largest message, else the server's max payload.
    let stream_max = c
        .stream
        .upgrade()
        .map_or(-1, |s| s.config.read().max_msg_size);
    let burst_bytes = if stream_max > 0 {
        stream_max as u64
    } else {
        c.server.options().payload_bytes_max as u64
    };
    st.rate = Some(RateBucket::new(bps, burst_bytes, now));
}

impl Next {
    fn msg(&self) -> &StoredMsg {
        match self {
            Next::Redeliver(m) | Next::Fresh(m, _) => m,
        }
    }

    fn fresh_ts(&self) -> Option<i64> {
        match self {
            Next::Fresh(m, _) => Some(m.timestamp_ns),
            Next::Redeliver(_) => None,
        }
    }
}

/// What a delivery costs against a pull request's `max_bytes`: as
/// nats-server, the message plus the ack subject it will carry.
fn pull_size(c: &Consumer, st: &State, next: &Next, pending_left: u64) -> u64 {
    let m = next.msg();
    let (deliveries, pending) = match next {
        Next::Redeliver(_) => (
            st.pending
                .get(&m.seq)
                .map_or(1, |p| u64::from(p.deliveries) + 1),
            pending_left,
        ),
        Next::Fresh(..) => (1, pending_left.saturating_sub(1)),
    };
    let nums = [deliveries, m.seq, st.dseq + 1];
    msg_size(m) + ack_reply_len(c, nums, m.timestamp_ns, pending) as u64
}

/// The length of the ack reply the hand-off writes, without writing it.
fn ack_reply_len(c: &Consumer, nums: [u64; 3], ts: i64, pending: u64) -> usize {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let fixed = "$JS.ACK.".len() + c.stream_name.len() + 1 + c.name.len();
    let numbers: usize = nums.iter().map(|n| 1 + digits(*n)).sum();
    let sign = usize::from(ts < 0);
    fixed + numbers + 1 + sign + digits(ts.unsigned_abs()) + 1 + digits(pending)
}

fn msg_size(m: &StoredMsg) -> u64 {
    (m.subject.len() + m.headers.len() + m.payload.len()) as u64
}

/// Serve waiting pull requests in turn. Returns whether more is ready.
fn pull_turn(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    now: Instant,
    out: &mut Vec<Out>,
) -> bool {
    let mut pending_left = c.num_pending(st);
    let mut sent = 0;
    while sent < TURN_MSGS_MAX {
        if st.waiting.is_empty() {
            return false;
        }
        let fresh = has_capacity(cfg, st);
        let next = peek_next(c, st, fresh);
        let Some(next) = next else {
            finish_starved_no_wait(st, out);
            return false;
        };
        if let Some(t) = held_until(cfg, st, &next, now) {
            st.hold_until = Some(t);
            return false;
        }
        let backlog = priority::Backlog {
            // A new message is still counted in `pending_left`; a redelivery is not.
            num_pending: pending_left + u64::from(matches!(next, Next::Redeliver(_))),
            ack_pending: st.pending.len() as u64,
        };
        let Some(chosen) = priority::choose(c, cfg, st, backlog, now, out) else {
            return false;
        };
        let idx = chosen.idx;
        let Some(w) = st.waiting.get(idx) else {
            return false;
        };
        let reply = w.reply.clone();
        if w.delivered == 0 && !has_interest(c, &reply) {
            st.waiting.remove(idx);
            continue;
        }
        let size = pull_size(c, st, &next, pending_left);
        let Some(w) = st.waiting.get_mut(idx) else {
            return false;
        };
        if w.has_byte_budget && size > w.bytes_left {
            // As nats-server: the request ends with what it still wanted,
            // whether or not something was delivered before.
            let left = [
                ("Nats-Pending-Messages", w.batch_left.to_string()),
                ("Nats-Pending-Bytes", w.bytes_left.to_string()),
            ];
            st.waiting.remove(idx);
            if chosen.pinned_now {
                st.pin = None;
            }
            out.push(status_out(
                &reply,
                status("409 Message Size Exceeds MaxBytes", &left),
            ));
            continue;
        }
        w.batch_left -= 1;
        w.bytes_left = w.bytes_left.saturating_sub(size);
        w.delivered += 1;
        if let Some(hb) = w.heartbeat {
            w.next_heartbeat = Some(now + hb);
        }
        let done = w.batch_left == 0 || (w.has_byte_budget && w.bytes_left == 0);
        record_sent(st, next.fresh_ts(), rate_size(next.msg()), now);
        let mut o = take(c, cfg, st, next, &mut pending_left, now, &reply);
        if let Some(pin) = st.pin.as_ref().filter(|_| cfg.is_pinned()) {
            o.headers = priority::with_pin_header(&o.headers, &pin.id);
        }
        out.push(o);
        if done {
            st.waiting.remove(idx);
        } else if st.waiting.len() > 1 {
            // As nats-server: one message at a time, then to the back of the
            // queue (of its priority), so waiting clients share the messages.
            if let Some(w) = st.waiting.remove(idx) {
                priority::enqueue(cfg, &mut st.waiting, w);
            }
        }
        sent += 1;
    }
    true
}

/// No message is available right now: no_wait requests end.
fn finish_starved_no_wait(st: &mut State, out: &mut Vec<Out>) {
    // Nothing is available for anyone: every no_wait request ends now,
    // wherever it sits in the queue (a no_wait with expires that got
    // nothing yet waits for its expiry, as nats-server).
    st.waiting.retain(|w| {
        let ends = w.no_wait && !(w.delivered == 0 && w.expires_at.is_some());
        if ends {
            out.push(status_out(&w.reply, status("404 No Messages", &[])));
        }
        !ends
    });
}

fn has_interest(c: &Consumer, subject: &[u8]) -> bool {
    c.account.has_interest(subject)
}

/// Deliver to the push subject while someone listens. Returns whether more is ready.
fn push_turn(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    now: Instant,
    out: &mut Vec<Out>,
) -> bool {
    let Some(ds) = cfg.deliver_subject.as_deref() else {
        return false;
    };
    let to = Bytes::copy_from_slice(ds.as_bytes());
    if !has_interest(c, &to) {
        st.no_interest_since.get_or_insert(now);
        return false;
    }
    st.no_interest_since = None;
    sync_rate(c, cfg, st, now);
    let mut pending_left = c.num_pending(st);
    // `$JS.ACK.<stream>.<consumer>`
    let ack_prefix_bytes = 8 + c.stream_name.len() + 1 + c.name.len();
    let mut sent = 0;
    while sent < TURN_MSGS_MAX {
        if cfg.flow_control && st.flow.stalled() {
            return false;
        }
        let fresh = has_capacity(cfg, st);
        let Some(next) = peek_next(c, st, fresh) else {
            return false;
        };
        if let Some(t) = held_until(cfg, st, &next, now) {
            st.hold_until = Some(t);
            return false;
        }
        record_sent(st, next.fresh_ts(), rate_size(next.msg()), now);
        let o = take(c, cfg, st, next, &mut pending_left, now, &to);
        // Counted as nats-server counts it: the subject it goes to, reply, headers, body.
        let size =
            (o.to.len() + o.reply_len(ack_prefix_bytes) + o.headers.len() + o.body.len()) as u64;
        out.push(o);
        st.last_send = now;
        sent += 1;
        let window_half = cfg.flow_control && st.flow.on_sent(size);
        if window_half || acks_by_flow_control_due(cfg, st) {
            out.push(flow_control_request(c, st, &to));
        }
    }
    true
}

/// Under `ack_policy: flow_control` acks come only from flow-control
/// replies: ask for one when `max_ack_pending` is reached, rather than
/// wait for the byte window (as nats-server).
fn acks_by_flow_control_due(cfg: &ConsumerConfig, st: &State) -> bool {
    cfg.ack_policy == AckPolicy::FlowControl
        && st.flow.outstanding.is_none()
        && !st.pending.is_empty()
        && !has_capacity(cfg, st)
}

fn flow_control_request(c: &Consumer, st: &mut State, to: &Bytes) -> Out {
    let fc = st.flow.ask(&c.stream_name, &c.name);
    Out {
        to: to.clone(),
        subject: to.clone(),
        reply: Some(Bytes::from(fc)),
        ack: None,
        headers: status("100 FlowControl Request", &[]),
        body: Bytes::new(),
    }
}

fn heartbeats(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    now: Instant,
    out: &mut Vec<Out>,
) {
    let last = [
        ("Nats-Last-Consumer", st.dseq.to_string()),
        ("Nats-Last-Stream", st.sseq.to_string()),
    ];
    for w in st.waiting.iter_mut() {
        if let (Some(hb), Some(t)) = (w.heartbeat, w.next_heartbeat) {
            if t <= now {
                w.next_heartbeat = Some(now + hb);
                out.push(status_out(&w.reply, status("100 Idle Heartbeat", &last)));
            }
        }
    }
    let Some(hb) = cfg
        .idle_heartbeat
        .filter(|h| *h > 0)
        .map(|h| Duration::from_nanos(h as u64))
    else {
        return;
    };
    let Some(ds) = cfg.deliver_subject.as_deref() else {
        return;
    };
    if now.duration_since(st.last_send) < hb {
        return;
    }
    st.last_send = now;
    // An idle flow-control-acked consumer asks for the acks of what it sent.
    if cfg.ack_policy == AckPolicy::FlowControl
        && st.flow.outstanding.is_none()
        && !st.pending.is_empty()
    {
        let to = Bytes::copy_from_slice(ds.as_bytes());
        out.push(flow_control_request(c, st, &to));
        return;
    }
    let mut lines = last.to_vec();
    if let Some(fc) = &st.flow.outstanding {
        lines.push(("Nats-Consumer-Stalled", fc.clone()));
    }
    out.push(status_out(
        &Bytes::copy_from_slice(ds.as_bytes()),
        status("100 Idle Heartbeat", &lines),
    ));
}

fn next_deadline(cfg: &ConsumerConfig, st: &State, now: Instant, durable: bool) -> Option<Instant> {
    let mut next: Option<Instant> = None;
    let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
    for w in &st.waiting {
        if let Some(t) = w.expires_at {
            consider(t);
        }
        if let Some(t) = w.next_heartbeat {
            consider(t);
        }
    }
    // Messages already due wait for a taker (a pull request or interest
    // wakes the task); only deadlines still ahead need a timer.
    let ack_deadline = st
        .pending
        .iter()
        .filter(|(sseq, _)| !st.redeliver.contains(sseq))
        .map(|(_, p)| p.deadline)
        .min();
    if let Some(t) = ack_deadline {
        consider(t.max(now));
    }
    if let Some(t) = st.hold_until {
        consider(t.max(now));
    }
    if let Some(t) = st.resume_at {
        consider(t.max(now));
    }
    if let Some(p) = &st.pin {
        consider(p.expires.max(now));
    }
    if let Some(hb) = cfg.idle_heartbeat.filter(|h| *h > 0) {
        consider(st.last_send + Duration::from_nanos(hb as u64));
    }
    if cfg.is_push() && st.no_interest_since.is_some() {
        consider(now + INTEREST_POLL);
    }
    if cfg.inactive_threshold.is_some() {
        consider(now + Duration::from_millis(250));
    }
    if durable && st.dirty {
        consider(st.last_save + SAVE_INTERVAL);
    }
    next
}

impl Consumer {
    /// Ephemeral (or `inactive_threshold`) consumers go away after that long
    /// without interest (push) or without pull requests (pull).
    pub fn inactive_expired(&self, now: Instant) -> bool {
        let cfg = self.config.read();
        let Some(t) = cfg.inactive_threshold.filter(|t| *t > 0) else {
            return false;
        };
        let threshold = Duration::from_nanos(t as u64);
        let st = self.state.lock();
        if cfg.is_push() {
            st.no_interest_since
                .is_some_and(|since| now.duration_since(since) >= threshold)
        } else {
            st.waiting.is_empty() && now.duration_since(st.last_request) >= threshold
        }
    }
}
