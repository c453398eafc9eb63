//! One stream: its config, its engine store, and the publish path into it
//! (header checks, dedup, append, rollup) with PubAcks sent only once the
//! record is durable.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use nile_engine::{DurableTicket, PurgeRequest, StoreError, StreamStore, SubjectFilter};
use parking_lot::{Mutex, RwLock};

#[path = "ack_queue.rs"]
mod ack_queue;
#[path = "batch.rs"]
pub mod batch;
#[path = "fast_batch.rs"]
pub mod fast_batch;
#[path = "pub_ack.rs"]
mod pub_ack;

use ack_queue::{AckQueue, AckSender};
use pub_ack::{AckBody, AckWriter, PendingAck, ReplyTo};

use super::config::{Retention, StreamConfig};
use super::consumer::Consumer;
use super::counter;
use super::errors::{err, ApiError};
use super::headers;
use super::republish::{Republished, Rules, StoredFacts};
use super::resources;
use super::schedule;
use super::ttl;
use crate::client::{Backlog, FlushList};
use crate::router::RouteCache;
use crate::server::Server;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// Records per stream waiting for their fdatasync and PubAck: about 150
/// bytes each. Past it, a publisher's reader waits for the queue to drain.
const PENDING_ACKS_MAX: usize = 16 * 1024;

/// Dedup window: Msg-Id → sequence, oldest first for expiry.
#[derive(Default)]
struct Dedup {
    ids: HashMap<String, u64>,
    order: VecDeque<(i64, String)>,
}

impl Dedup {
    // Inlined: on every publish, and most streams see no Msg-Id at all.
    #[inline]
    fn expire(&mut self, now_ns: i64, window_ns: i64) {
        while let Some((ts, _)) = self.order.front() {
            if now_ns - ts < window_ns {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    fn insert(&mut self, id: String, seq: u64, ts: i64) {
        self.order.push_back((ts, id.clone()));
        self.ids.insert(id, seq);
    }
}

struct Inner {
    dedup: Dedup,
    last_msg_id: Option<String>,
}

pub struct Stream {
    pub name: String,
    /// `config.storage`, which an update cannot change.
    pub storage: super::config::Storage,
    /// The account's and the server's storage limits for its publishes.
    caps: resources::Caps,
    pub config: RwLock<StreamConfig>,
    /// Compiled from `config` (subject transform, republish); replaced with
    /// it by [`Stream::set_config`].
    rules: RwLock<Rules>,
    pub created_ns: i64,
    pub store: Arc<dyn StreamStore>,
    pub dir: Option<PathBuf>,
    inner: Mutex<Inner>,
    acks: AckSender<PendingAck>,
    /// How many of `acks` wait; past [`PENDING_ACKS_MAX`] the publisher is
    /// held until the ack task catches up.
    acks_backlog: Arc<Backlog>,
    /// Highest sequence known to be durable: consumers deliver nothing past
    /// it, so no consumer sees a message a crash could take back.
    pub durable_seq: Arc<std::sync::atomic::AtomicU64>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    pub server: Arc<Server>,
    /// The account the stream lives in: it captures and acks there.
    pub account: Arc<crate::account::Account>,
    pub runtime: tokio::runtime::Handle,
    pub consumers: RwLock<BTreeMap<String, Arc<Consumer>>>,
    /// Copiers of mirrors and sources reading this stream, woken when the
    /// durable watermark moves.
    pub watchers: Mutex<Vec<std::sync::Weak<tokio::sync::Notify>>>,
    /// This stream's own copier, if it is a mirror or has sources.
    pub copier: Mutex<Option<Arc<super::mirror::copier::Copier>>>,
    /// The subject delete marker task runs (see `start_markers`).
    markers_started: std::sync::atomic::AtomicBool,
    /// Atomic batches being staged (see `batch`).
    batches: Mutex<batch::Batches>,
    /// Message schedules, once the stream allows them (see `schedule`).
    scheduler: std::sync::OnceLock<Arc<schedule::Scheduler>>,
    /// Fast batches open (see `fast_batch`).
    fast_batches: Mutex<fast_batch::FastBatches>,
}

/// Result of storing one published message.
enum Stored {
    /// Sequence, ticket, RePublish copy (boxed: rare, and moved on every
    /// publish), and a counter's new value.
    New(u64, DurableTicket, Option<Box<Republished>>, Option<String>),
    Duplicate(u64),
}

impl Stream {
    pub fn new(
        server: Arc<Server>,
        account: Arc<crate::account::Account>,
        config: StreamConfig,
        created_ns: i64,
        store: Arc<dyn StreamStore>,
        dir: Option<PathBuf>,
        runtime: &tokio::runtime::Handle,
    ) -> Arc<Stream> {
        let queue = Arc::new(AckQueue::default());
        let backlog = Arc::new(Backlog::new(PENDING_ACKS_MAX));
        // Everything recovered from disk is durable.
        let recovered_seq = store.state(false).last_seq;
        let rules = Rules::new(config.subject_transform.as_ref(), config.republish.as_ref());
        let stream = Arc::new(Stream {
            name: config.name.clone(),
            storage: config.storage,
            caps: resources::Caps::new(&server, &account.name, config.storage),
            rules: RwLock::new(rules),
            config: RwLock::new(config),
            created_ns,
            store,
            dir,
            inner: Mutex::new(Inner {
                dedup: Dedup::default(),
                last_msg_id: None,
            }),
            acks: AckSender(queue.clone()),
            acks_backlog: backlog.clone(),
            durable_seq: Arc::new(std::sync::atomic::AtomicU64::new(recovered_seq)),
            subs: Mutex::new(Vec::new()),
            server,
            account: account.clone(),
            runtime: runtime.clone(),
            consumers: RwLock::new(BTreeMap::new()),
            watchers: Mutex::new(Vec::new()),
            copier: Mutex::new(None),
            markers_started: std::sync::atomic::AtomicBool::new(false),
            batches: Mutex::new(batch::Batches::default()),
            scheduler: std::sync::OnceLock::new(),
            fast_batches: Mutex::new(fast_batch::FastBatches::default()),
        });
        stream.recover_dedup();
        let durable_seq = stream.durable_seq.clone();
        let task = AckTask {
            server: stream.server.clone(),
            account,
            stream: Arc::downgrade(&stream),
            queue,
            backlog,
            durable_seq,
        };
        runtime.spawn(ack_loop(task));
        stream.start_markers();
        stream.start_schedules();
        stream
    }

    /// The storage limits its publishes are checked against.
    pub fn caps(&self) -> &resources::Caps {
        &self.caps
    }

    /// Replace the config (stream update) and the rules compiled from it.
    pub fn set_config(&self, config: StreamConfig) {
        let rules = Rules::new(config.subject_transform.as_ref(), config.republish.as_ref());
        if !config.allow_batched {
            self.fast_batches.lock().clear();
        }
        let mut cfg = self.config.write();
        *self.rules.write() = rules;
        *cfg = config;
    }

    /// Capture the configured subjects: one internal subscription each.
    pub fn subscribe(self: &Arc<Self>) {
        let subjects = self.config.read().subjects.clone();
        let mut subs = self.subs.lock();
        for s in subs.drain(..) {
            self.account.sublist.remove(&s);
        }
        for subject in subjects {
            let target: Arc<dyn InternalSubscriber> = self.clone();
            let sub = Arc::new(Subscription::new(
                Bytes::from(subject),
                None,
                Bytes::from_static(b"js"),
                SubTarget::Internal(target),
            ));
            self.account.sublist.insert(sub.clone());
            subs.push(sub);
        }
    }

    pub fn unsubscribe(&self) {
        for s in self.subs.lock().drain(..) {
            self.account.sublist.remove(&s);
        }
        let consumers: Vec<_> = std::mem::take(&mut *self.consumers.write())
            .into_values()
            .collect();
        for c in consumers {
            c.stop(false);
        }
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    /// Delete a consumer and its saved state.
    pub fn remove_consumer(&self, name: &str) -> bool {
        let removed = self.consumers.write().remove(name);
        if let Some(c) = &removed {
            c.stop(true);
        }
        removed.is_some()
    }

    /// Interest retention: does any consumer but `except` still need `seq`?
    pub fn needed_by_others(&self, seq: u64, except: &str) -> bool {
        let Ok(m) = self.store.get(seq) else {
            return false;
        };
        self.consumers
            .read()
            .values()
            .any(|c| c.name != except && c.needs(seq, &m.subject))
    }

    /// After an append: wake consumers; under interest retention with no
    /// consumer interested the message is not kept.
    fn after_append(&self, seq: u64, subject: &[u8], retention: Retention) {
        if retention != Retention::Interest {
            return;
        }
        let consumers = self.consumers.read();
        if !consumers.values().any(|c| c.filter.read().matches(subject)) {
            let _ = self.store.delete(seq, false);
        }
    }

    /// Rebuild the dedup window and last Msg-Id from the newest messages.
    fn recover_dedup(&self) {
        let window = self.config.read().duplicate_window;
        let state = self.store.state(false);
        if state.msgs == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        if let Ok(last) = self.store.get(state.last_seq) {
            inner.last_msg_id =
                headers::get_str(&last.headers, headers::MSG_ID).map(str::to_string);
        }
        let from = self
            .store
            .seq_for_time(now_ns() - window)
            .unwrap_or(state.last_seq + 1);
        let all = SubjectFilter::all();
        let mut seq = from;
        while let Ok(Some(m)) = self.store.next_matching(seq, &all) {
            if let Some(id) = headers::get_str(&m.headers, headers::MSG_ID) {
                inner.dedup.insert(id.to_string(), m.seq, m.timestamp_ns);
            }
            seq = m.seq + 1;
        }
    }

    /// Store one published message under the stream's rules (`cfg`, read
    /// once per publish by the caller).
    // Always inlined: with a second caller (fast batches) the compiler made
    // it a call of its own, about 55 instructions more per plain publish
    // (callgrind, js-pub-async).
    #[inline(always)]
    fn store_msg(
        &self,
        cfg: &StreamConfig,
        subject: &[u8],
        hdrs: &[u8],
        body: &[u8],
    ) -> Result<Stored, ApiError> {
        if cfg.sealed {
            return Err(err::sealed());
        }
        if cfg.max_msg_size > 0 && (hdrs.len() + body.len()) as i64 > cfg.max_msg_size {
            return Err(err::message_too_big());
        }
        if hdrs.len() > 64 * 1024 {
            return Err(err::headers_too_big());
        }
        if !self.caps.unlimited() {
            resources::check_server(self)?;
        }
        let now = now_ns();
        let rules = self.rules.read();
        let transformed = rules.transform.as_ref().and_then(|t| {
            let s = std::str::from_utf8(subject).ok()?;
            t.apply(s)
        });
        let subject = transformed.as_deref().map_or(subject, str::as_bytes);
        let mut inner = self.inner.lock();
        inner.dedup.expire(now, cfg.duplicate_window);
        let msg_id = headers::get_str(hdrs, headers::MSG_ID).filter(|s| !s.is_empty());
        if !hdrs.is_empty() {
            // nats-server's order: expected stream and sequences, then
            // dedup, then the expected last Msg-Id.
            self.check_expectations(cfg, subject, hdrs, &[], || self.store.state(false).last_seq)?;
            if let Some(seq) = msg_id.and_then(|id| inner.dedup.ids.get(id)) {
                return Ok(Stored::Duplicate(*seq));
            }
            if let Some(expected) = headers::get_str(hdrs, headers::EXPECTED_LAST_MSG_ID) {
                let last = inner.last_msg_id.as_deref().unwrap_or("");
                if expected != last {
                    return Err(err::wrong_last_msg_id(last));
                }
            }
        }
        let counted = if cfg.allow_msg_counter || !hdrs.is_empty() {
            counter::apply(cfg, hdrs, body, || self.last_payload_of(subject))?
        } else {
            None
        };
        let body = counted.as_ref().map_or(body, |c| &c.payload[..]);
        // No call for a publish without headers (most of them): `check` is
        // not inlined here now that `store_msg` has two callers.
        let scheduled = if hdrs.is_empty() {
            schedule::Checked {
                headers: std::borrow::Cow::Borrowed(hdrs),
                schedule_at: None,
                stop: None,
            }
        } else {
            schedule::check(cfg, subject, hdrs, now, |s| self.last_headers_of(s))?
        };
        let hdrs = &scheduled.headers[..];
        let (rollup, ttl) = if hdrs.is_empty() {
            (None, ttl::Publish::plain(hdrs))
        } else {
            (rollup_of(cfg, hdrs)?, ttl::for_publish(cfg, hdrs, now)?)
        };
        let hdrs = &ttl.headers[..];
        let subject_last_seq = match &rules.republish {
            Some(_) => self.last_seq_of(subject)?,
            None => 0,
        };
        if !self.caps.unlimited() {
            resources::check_account(self, subject, hdrs, body)?;
        }
        let (seq, ticket) = self
            .store
            .append_for_commit(subject, hdrs, body, now, ttl.expires_ns)
            .map_err(|e| store_error(&e))?;
        if let Some(id) = msg_id {
            inner.dedup.insert(id.to_string(), seq, now);
        }
        inner.last_msg_id = msg_id.map(str::to_string);
        drop(inner);
        if let Some(sched) = self.scheduler.get() {
            sched.after_store(self.store.as_ref(), seq, subject, &scheduled);
        }
        let stored = StoredFacts {
            stream: &self.name,
            subject: republish_subject(&rules, subject),
            seq,
            timestamp_ns: now,
            subject_last_seq,
        };
        let republished = self.after_store(&stored, subject, rollup, cfg, &rules, hdrs, body)?;
        Ok(Stored::New(
            seq,
            ticket,
            republished,
            counted.map(|c| c.val),
        ))
    }

    /// The payload of the last message on `subject`, if any (a counter's value).
    fn last_payload_of(&self, subject: &[u8]) -> Result<Option<Vec<u8>>, ApiError> {
        match self.store.last_for_subject(&SubjectFilter::new(subject)) {
            Ok(m) => Ok(Some(m.payload.to_vec())),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(store_error(&e)),
        }
    }

    /// What follows every append, published or copied: the roll-up purge,
    /// retention and consumer wake-ups, and the RePublish copy (if any).
    #[allow(clippy::too_many_arguments)]
    #[inline] // once per publish; a call costs more than its body on the plain path
    fn after_store(
        &self,
        stored: &StoredFacts<'_>,
        subject: &[u8],
        rollup: Option<bool>,
        cfg: &StreamConfig,
        rules: &Rules,
        hdrs: &[u8],
        body: &[u8],
    ) -> Result<Option<Box<Republished>>, ApiError> {
        if let Some(all) = rollup {
            let subject = (!all).then(|| String::from_utf8_lossy(subject).into_owned());
            let req = PurgeRequest {
                subject,
                keep: None,
                up_to_seq: Some(stored.seq),
            };
            self.store
                .purge(&req)
                .map_err(|e| err::rollup_failed(e.to_string()))?;
        }
        self.after_append(stored.seq, subject, cfg.retention);
        // A subject that is not UTF-8 cannot be republished (nor stored by clients).
        let republish = rules
            .republish
            .as_ref()
            .filter(|_| !stored.subject.is_empty());
        Ok(republish.and_then(|r| r.message(stored, hdrs, body).map(Box::new)))
    }

    /// The headers of the last message on `subject`, if any.
    fn last_headers_of(&self, subject: &str) -> Option<Bytes> {
        let m = self.store.last_for_subject(&SubjectFilter::new(subject));
        m.ok().map(|m| m.headers)
    }

    /// Last stored sequence of `subject`, 0 if none.
    fn last_seq_of(&self, subject: &[u8]) -> Result<u64, ApiError> {
        match self.store.last_for_subject(&SubjectFilter::new(subject)) {
            Ok(m) => Ok(m.seq),
            Err(StoreError::NotFound) => Ok(0),
            Err(e) => Err(store_error(&e)),
        }
    }

    /// Append a message copied from a mirror's or source's origin, at
    /// `at_seq` when given (a mirror keeps its origin's numbers). As for a
    /// publish, consumers see it only once it is durable.
    pub fn append_copied(
        &self,
        at_seq: Option<u64>,
        subject: &[u8],
        hdrs: &[u8],
        body: &[u8],
        timestamp_ns: i64,
    ) -> Result<u64, ApiError> {
        let expires_ns = ttl::for_copy(&self.config.read(), hdrs, timestamp_ns);
        let msg = (subject, hdrs, body);
        self.append_internal(at_seq, msg, timestamp_ns, expires_ns)
    }

    /// Stores a message the server itself places (a copy, a marker or a
    /// scheduled message), at `at_seq` when given, with its own expiry time if any.
    pub(super) fn append_internal(
        &self,
        at_seq: Option<u64>,
        (subject, hdrs, body): (&[u8], &[u8], &[u8]),
        timestamp_ns: i64,
        expires_ns: Option<i64>,
    ) -> Result<u64, ApiError> {
        let cfg = self.config.read();
        if cfg.sealed {
            return Err(err::sealed());
        }
        // As nats-server: a copy rolls up when this stream allows roll-ups,
        // and is stored plainly when it does not.
        let rollup = rollup_of(&cfg, hdrs).ok().flatten();
        let rules = self.rules.read();
        let subject_last_seq = match &rules.republish {
            Some(_) => self.last_seq_of(subject)?,
            None => 0,
        };
        if let Some(seq) = at_seq {
            self.store.skip_to(seq).map_err(|e| store_error(&e))?;
        }
        let (seq, ticket) = self
            .store
            .append_for_commit(subject, hdrs, body, timestamp_ns, expires_ns)
            .map_err(|e| store_error(&e))?;
        let stored = StoredFacts {
            stream: &self.name,
            subject: republish_subject(&rules, subject),
            seq,
            timestamp_ns,
            subject_last_seq,
        };
        let republish = self.after_store(&stored, subject, rollup, &cfg, &rules, hdrs, body)?;
        self.send_ack(PendingAck::silent(ticket, republish), 0);
        Ok(seq)
    }

    /// Places a subject delete marker for every subject that expiry
    /// emptied since the last call (not for expired markers, nor for a
    /// subject that has a message again).
    pub fn place_markers(&self) {
        let marker_ttl_ns = self.config.read().subject_delete_marker_ttl;
        for gone in self.store.take_expired_last() {
            if marker_ttl_ns <= 0 || ttl::is_marker(&gone.headers) {
                continue;
            }
            if self.last_seq_of(&gone.subject) != Ok(0) {
                continue;
            }
            let hdrs = ttl::marker_headers(marker_ttl_ns);
            let now = now_ns();
            let expires = now.saturating_add(marker_ttl_ns);
            let msg = (&gone.subject[..], &hdrs[..], &b""[..]);
            if let Err(e) = self.append_internal(None, msg, now, Some(expires)) {
                tracing::warn!(stream = %self.name, error = %e.description, "subject delete marker not stored");
            }
        }
    }

    /// Starts the task that turns expiry reports into markers, once, when
    /// the stream has markers configured.
    pub fn start_markers(self: &Arc<Self>) {
        let wanted = self.config.read().subject_delete_marker_ttl > 0;
        if !wanted
            || self
                .markers_started
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        self.runtime.spawn(marker_loop(Arc::downgrade(self)));
    }

    /// Starts the schedule task, once, when the stream allows schedules:
    /// the due schedules are read back from the stream's messages first.
    pub fn start_schedules(self: &Arc<Self>) {
        if !self.config.read().allow_msg_schedules || self.scheduler.get().is_some() {
            return;
        }
        let sched = self.scheduler.get_or_init(Arc::default).clone();
        schedule::recover(self.store.as_ref(), &sched, now_ns());
        self.runtime
            .spawn(schedule::run(Arc::downgrade(self), sched));
    }

    /// Wake the copiers reading this stream; forget those that are gone.
    fn wake_watchers(&self) {
        self.watchers.lock().retain(|w| match w.upgrade() {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        });
    }

    /// Queue `ack` for the ack task; a publisher (`origin_cid`, 0 for the
    /// server's own copies) that takes the queue past its bound is held.
    #[inline] // saves moving the ack once more on every publish
    fn send_ack(&self, ack: PendingAck, origin_cid: u64) {
        if self.acks_backlog.push() && origin_cid != 0 {
            if let Some(c) = self.server.clients.lock().get(&origin_cid) {
                tracing::trace!(stream = %self.name, cid = origin_cid, "PubAck queue full: publisher held");
                c.hold_for(&self.acks_backlog);
            }
        }
        self.acks.0.push(ack);
    }

    /// A counter's PubAck: `{"stream":..,"seq":..,"val":"<sum>"}`.
    fn counter_ack(seq: u64, val: &str) -> AckBody {
        let mut tail = b",\"val\":".to_vec();
        let _ = serde_json::to_writer(&mut tail, val);
        AckBody::SeqWith { seq, tail }
    }

    fn error_ack(&self, e: &ApiError) -> Vec<u8> {
        let v = serde_json::json!({"error": e, "stream": self.name, "seq": 0});
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

impl InternalSubscriber for Stream {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let (hdrs, body) = d.payload.split_at(d.headers_len.min(d.payload.len()));
        if let Some(reply) = d.reply.filter(|r| fast_batch::is_fast(r)) {
            self.deliver_fast(d, hdrs, body, reply);
            return true;
        }
        if let Some(id) = batch::batch_id(hdrs) {
            self.deliver_batch(d, hdrs, body, id);
            return true;
        }
        let cfg = self.config.read();
        let result = self.store_msg(&cfg, d.subject, hdrs, body);
        let reply = d.reply.filter(|_| !cfg.no_ack);
        drop(cfg);
        let Some(reply) = reply else {
            if let Ok(Stored::New(_, ticket, republish, _)) = result {
                // No PubAck wanted; consumers still wait for durability.
                self.send_ack(PendingAck::silent(ticket, republish), d.origin_cid);
            }
            return true;
        };
        let (ticket, body, republish) = match result {
            Ok(Stored::New(seq, t, rp, None)) => {
                let body = AckBody::Seq {
                    seq,
                    duplicate: false,
                };
                (Some(t), body, rp)
            }
            Ok(Stored::New(seq, t, rp, Some(val))) => (Some(t), Self::counter_ack(seq, &val), rp),
            Ok(Stored::Duplicate(seq)) => {
                let body = AckBody::Seq {
                    seq,
                    duplicate: true,
                };
                (None, body, None)
            }
            Err(e) => (None, AckBody::Raw(self.error_ack(&e)), None),
        };
        // Acks leave in publish order, each after its record is durable.
        let ack = PendingAck {
            ticket,
            reply: Some(ReplyTo::new(reply)),
            body,
            republish,
        };
        self.send_ack(ack, d.origin_cid);
        true
    }
}

/// What the ack task works with.
struct AckTask {
    server: Arc<Server>,
    /// PubAcks and RePublish copies go out in the stream's account.
    account: Arc<crate::account::Account>,
    stream: std::sync::Weak<Stream>,
    queue: Arc<AckQueue<PendingAck>>,
    backlog: Arc<Backlog>,
    /// The stream's durable watermark for consumers.
    durable_seq: Arc<std::sync::atomic::AtomicU64>,
}

/// Sends PubAcks in order, each once its ticket completes. Tickets complete
/// in sequence order, so everything queued behind a completed one that is
/// already durable goes out in the same batch with one wake-up per client.
/// The appends that queued them left the fdatasync to this task (see
/// [`commit`]).
async fn ack_loop(task: AckTask) {
    let AckTask {
        server,
        account,
        stream,
        queue,
        backlog,
        durable_seq,
    } = task;
    let mut routes = RouteCache::default();
    let mut flush = FlushList::default();
    let mut writer = AckWriter::default();
    let mut batch = Vec::new();
    // The store's watermark as last seen: tickets at or below it are
    // durable without asking the store (one lock per fsync, not per ack).
    let mut durable_known = 0u64;
    // What `durable_seq` was raised to by this task.
    let mut advanced_to = 0u64;
    while queue.take_all(&mut batch).await {
        if let Some(s) = stream.upgrade() {
            writer.set_domain(&s.name, server.options().jetstream.domain.as_deref());
        }
        let mut advanced = false;
        let done = batch.len();
        for (i, ack) in batch.drain(..).enumerate() {
            let durable = match ack.ticket {
                None => true,
                Some(t) if t.seq() <= durable_known => {
                    raise(&durable_seq, t.seq(), &mut advanced_to, &mut advanced);
                    true
                }
                Some(mut t) => {
                    let alone = i + 1 == done && queue.is_empty();
                    // What is routed already goes out now, not after this wait.
                    flush.flush();
                    match durable_mark(&mut t, &stream, alone).await {
                        Some(mark) => {
                            durable_known = durable_known.max(mark);
                            raise(&durable_seq, t.seq(), &mut advanced_to, &mut advanced);
                            true
                        }
                        None => false,
                    }
                }
            };
            if !durable {
                continue;
            }
            if let Some(rp) = &ack.republish {
                let to = &rp.subject[..];
                account.publish_routed(
                    &mut routes,
                    &mut flush,
                    to,
                    to,
                    None,
                    &rp.headers,
                    &rp.payload,
                );
            }
            if let Some(reply) = &ack.reply {
                let reply = reply.as_bytes();
                let body = writer.write(&ack.body);
                account.publish_routed(&mut routes, &mut flush, reply, reply, None, &[], &body);
            }
        }
        flush.flush();
        backlog.pop(done);
        if let (true, Some(s)) = (advanced, stream.upgrade()) {
            for c in s.consumers.read().values() {
                c.notify();
            }
            s.wake_watchers();
        }
    }
    backlog.close();
}

/// Consumers may deliver up to `seq`: raise the stream's watermark (an
/// atomic max, as publishers on other connections may queue out of order).
fn raise(
    durable_seq: &std::sync::atomic::AtomicU64,
    seq: u64,
    advanced_to: &mut u64,
    advanced: &mut bool,
) {
    if seq > *advanced_to {
        durable_seq.fetch_max(seq, std::sync::atomic::Ordering::AcqRel);
        *advanced_to = seq;
    }
    *advanced = true;
}

/// Waits for `t` (committing first if no sync covers it yet); the store's
/// watermark once it is durable, `None` if the sync failed.
async fn durable_mark(
    t: &mut DurableTicket,
    stream: &std::sync::Weak<Stream>,
    alone: bool,
) -> Option<u64> {
    if let Some(r) = t.durable_through() {
        return r.ok();
    }
    if let Some(s) = stream.upgrade() {
        commit(s.store.as_ref(), alone);
    }
    // No strong reference held across the wait: a deleted stream goes now.
    (&mut *t).await.ok().map(|()| t.seq())
}

/// How often expiry reports are turned into markers: the engine's own
/// expiry timer runs at this pace too.
const MARKER_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

async fn marker_loop(stream: std::sync::Weak<Stream>) {
    let mut tick = tokio::time::interval(MARKER_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = stream.upgrade() else { return };
        s.place_markers();
    }
}

/// Runtime workers that may block in a stream's fdatasync at the same time
/// (see [`commit`]): half of them, so disk waits never hold every worker.
fn inline_commits_max() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)))
}

/// Ack tasks currently in an fdatasync on their own worker.
static INLINE_COMMITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Make the store's appends durable. A lone waiter (`alone`: no other ack
/// queued behind it, as for a client awaiting each PubAck) runs the
/// fdatasync right here on the ack task: no hand-off to the flusher thread
/// and back, which would cost a cross-thread wake-up each way on a path
/// that waits for every message. With more queued, or too many workers
/// already in an fdatasync, the flusher thread does it, so the reader keeps
/// appending while the disk syncs.
fn commit(store: &dyn StreamStore, alone: bool) {
    use std::sync::atomic::Ordering;
    if !alone {
        store.commit(false);
        return;
    }
    let running = INLINE_COMMITS.fetch_add(1, Ordering::AcqRel);
    store.commit(running < inline_commits_max());
    INLINE_COMMITS.fetch_sub(1, Ordering::AcqRel);
}

/// The stored subject as text for RePublish, which alone reads it: the UTF-8
/// check is not worth its cost on every other publish. Empty when none.
fn republish_subject<'a>(rules: &Rules, subject: &'a [u8]) -> &'a str {
    match rules.republish {
        Some(_) => std::str::from_utf8(subject).unwrap_or(""),
        None => "",
    }
}

fn rollup_of(cfg: &StreamConfig, hdrs: &[u8]) -> Result<Option<bool>, ApiError> {
    let Some(v) = headers::get_str(hdrs, headers::ROLLUP) else {
        return Ok(None);
    };
    if !cfg.allow_rollup_hdrs || cfg.deny_purge {
        return Err(err::rollup_failed("rollup not permitted"));
    }
    match v {
        "sub" => Ok(Some(false)),
        "all" => Ok(Some(true)),
        other => Err(err::rollup_failed(format!(
            "rollup value invalid: {other:?}"
        ))),
    }
}

/// Engine errors on append, in nats-server's words.
pub fn store_error(e: &StoreError) -> ApiError {
    match e {
        StoreError::MaxMsgs => err::store_failed("maximum messages exceeded"),
        StoreError::MaxBytes => err::store_failed("maximum bytes exceeded"),
        StoreError::MaxMsgsPerSubject => err::store_failed("maximum messages per subject exceeded"),
        StoreError::MsgTooBig => err::message_too_big(),
        other => err::storage_failed(other.to_string()),
    }
}

pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Nanoseconds since the Unix epoch (0 before it). Read straight from the
/// clock: `SystemTime`'s subtraction and checks cost twice the clock read
/// itself, once per publish.
pub fn now_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is handed.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
        return 0;
    }
    #[allow(clippy::useless_conversion)] // time_t and c_long are i64 here, not everywhere
    let ns = i64::from(ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.tv_nsec));
    ns.max(0)
}
