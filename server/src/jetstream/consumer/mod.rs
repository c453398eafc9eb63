//! Consumers: the state of one consumer, acks, and its lifecycle.
//!
//! # Layout
//! - [`config`]: ConsumerConfig, defaults and rules.
//! - [`deliver`]: the delivery engine: one task per consumer that hands
//!   messages to pull requests or the push subject, redelivers, heartbeats.
//! - [`pull`]: MSG.NEXT requests and their statuses.
//! - [`ack`]: ack bodies.
//! - [`persist`]: the durable state snapshot.
//! - [`pause`]: `pause_until` and the CONSUMER.PAUSE request.
//! - [`priority`]: priority groups (overflow, pinned client, prioritized).
//! - [`reset`]: moving a consumer to another sequence (CONSUMER.RESET).
//!
//! Locking: `state` is a short mutex taken by the delivery task and by acks
//! (which arrive on the acker's connection task). Nothing awaits under it;
//! outgoing messages are collected under the lock and published after it.

pub mod ack;
pub mod config;
pub mod deliver;
mod flow;
mod handoff;
pub mod pause;
pub mod persist;
pub mod priority;
pub mod pull;
pub mod reset;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nile_engine::{ConsumerStore, StreamStore, SubjectFilter};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use self::ack::AckKind;
use self::config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use self::pull::WaitingRequest;
use super::config::Retention;
use super::headers;
use super::stream::{now_ns, Stream};
use crate::server::Server;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// One delivered, not yet acknowledged message.
#[derive(Debug, Clone)]
pub struct Pending {
    pub dseq: u64,
    pub deliveries: u32,
    pub deadline: Instant,
    pub ts: i64,
    /// When it was last delivered (ns since the epoch): ack metrics report the time to ack.
    pub delivered_ns: i64,
}

/// Push `rate_limit_bps` as a token bucket of bytes, as nats-server: a burst
/// of one maximum message, refilled at the rate.
#[derive(Debug, Clone)]
pub struct RateBucket {
    pub bps: u64,
    pub tokens: f64,
    pub burst_bytes: f64,
    pub at: Instant,
}

impl RateBucket {
    pub fn new(bps: u64, burst_bytes: u64, now: Instant) -> Self {
        RateBucket {
            bps,
            tokens: burst_bytes as f64,
            burst_bytes: burst_bytes as f64,
            at: now,
        }
    }

    fn bytes_per_sec(&self) -> f64 {
        self.bps as f64 / 8.0
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.bytes_per_sec()).min(self.burst_bytes);
        self.at = now;
    }

    /// When `size` bytes may go out (None: now).
    pub fn due(&mut self, size: u64, now: Instant) -> Option<Instant> {
        self.refill(now);
        let need = (size as f64).min(self.burst_bytes);
        if self.tokens >= need {
            return None;
        }
        let wait = (need - self.tokens) / self.bytes_per_sec();
        Some(now + Duration::from_secs_f64(wait))
    }

    pub fn spend(&mut self, size: u64) {
        self.tokens -= (size as f64).min(self.burst_bytes);
    }
}

#[derive(Debug)]
pub struct State {
    /// Last consumer sequence handed out.
    pub dseq: u64,
    /// Stream sequence of the last delivery.
    pub sseq: u64,
    /// Next stream sequence to look at for new messages.
    pub next_seq: u64,
    /// `last_per_subject` start: stream sequences still to deliver first.
    pub lps: VecDeque<u64>,
    pub pending: BTreeMap<u64, Pending>,
    /// Pending messages due for redelivery, by stream sequence.
    pub redeliver: BTreeSet<u64>,
    pub num_redelivered: u64,
    pub waiting: VecDeque<WaitingRequest>,
    pub last_active_ns: i64,
    /// Last ack of any kind but +WPI (ns since the epoch; 0: none yet).
    pub last_ack_ns: i64,
    /// Last time anything (message or heartbeat) went to the push subject.
    pub last_send: Instant,
    pub flow: flow::FlowControl,
    pub no_interest_since: Option<Instant>,
    pub last_request: Instant,
    /// Ack floor when nothing is pending beyond it: (consumer seq, stream seq).
    pub floor: (u64, u64),
    pub dirty: bool,
    pub last_save: Instant,
    /// Replay original: stored timestamp of the last new message sent, and when.
    pub replay_prev: Option<(i64, Instant)>,
    pub rate: Option<RateBucket>,
    /// The next message waits for replay timing or the rate limit until then.
    pub hold_until: Option<Instant>,
    /// Paused: the resume advisory is due then.
    pub resume_at: Option<Instant>,
    /// The pinned client of a `pinned_client` consumer.
    pub pin: Option<priority::Pin>,
}

impl State {
    fn new(next_seq: u64, now: Instant) -> Self {
        State {
            dseq: 0,
            sseq: 0,
            next_seq,
            lps: VecDeque::new(),
            pending: BTreeMap::new(),
            redeliver: BTreeSet::new(),
            num_redelivered: 0,
            waiting: VecDeque::new(),
            last_active_ns: 0,
            last_ack_ns: 0,
            last_send: now,
            flow: flow::FlowControl::default(),
            no_interest_since: None,
            last_request: now,
            floor: (0, 0),
            dirty: false,
            last_save: now,
            replay_prev: None,
            rate: None,
            hold_until: None,
            resume_at: None,
            pin: None,
        }
    }

    /// The ack floor: everything at or below it is acknowledged.
    pub fn ack_floor(&self) -> (u64, u64) {
        match self.pending.iter().next() {
            Some((sseq, p)) => (p.dseq.saturating_sub(1), sseq.saturating_sub(1)),
            None => (self.dseq, self.sseq),
        }
    }
}

pub struct Consumer {
    pub name: String,
    pub stream_name: String,
    pub config: RwLock<ConsumerConfig>,
    pub created_ns: i64,
    pub store: Arc<dyn StreamStore>,
    pub stream: Weak<Stream>,
    pub server: Arc<Server>,
    /// Its stream's account: deliveries, acks and advisories stay in it.
    pub account: Arc<crate::account::Account>,
    pub state: Mutex<State>,
    pub filter: RwLock<SubjectFilter>,
    /// The stream's durable watermark: nothing past it is delivered.
    pub durable_seq: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) wake: Notify,
    deleted: AtomicBool,
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// Where a durable consumer of a file stream keeps its state.
    pub dir: Option<PathBuf>,
    /// Its delivery and ack log (durable consumers of file streams).
    pub log: Option<ConsumerStore>,
}

fn filter_of(cfg: &ConsumerConfig) -> SubjectFilter {
    let f = cfg.filters();
    if f.is_empty() {
        SubjectFilter::all()
    } else {
        SubjectFilter::from_patterns(f)
    }
}

impl Consumer {
    /// A new consumer positioned by its deliver policy.
    pub fn create(
        stream: &Arc<Stream>,
        config: ConsumerConfig,
        dir: Option<PathBuf>,
    ) -> Arc<Consumer> {
        let now = Instant::now();
        let filter = filter_of(&config);
        let mut state = State::new(1, now);
        position(&*stream.store, &config, &filter, &mut state);
        let log = dir.as_deref().and_then(|d| persist::create_log(d, &state));
        Self::build(stream, config, now_ns(), filter, state, dir, log)
    }

    /// A consumer restored from its saved config and state.
    pub fn restore(
        stream: &Arc<Stream>,
        config: ConsumerConfig,
        created_ns: i64,
        saved: persist::Saved,
        dir: PathBuf,
        log: Option<ConsumerStore>,
    ) -> Arc<Consumer> {
        let now = Instant::now();
        let filter = filter_of(&config);
        let state = saved.into_state(now, Duration::from_nanos(config.ack_wait.max(0) as u64));
        Self::build(stream, config, created_ns, filter, state, Some(dir), log)
    }

    fn build(
        stream: &Arc<Stream>,
        config: ConsumerConfig,
        created_ns: i64,
        filter: SubjectFilter,
        state: State,
        dir: Option<PathBuf>,
        log: Option<ConsumerStore>,
    ) -> Arc<Consumer> {
        let mut state = state;
        state.resume_at = pause::resume_at(&config, Instant::now());
        let name = config.name.clone().unwrap_or_default();
        let c = Arc::new(Consumer {
            name,
            stream_name: stream.name.clone(),
            config: RwLock::new(config),
            created_ns,
            store: stream.store.clone(),
            stream: Arc::downgrade(stream),
            server: stream.server.clone(),
            account: stream.account.clone(),
            state: Mutex::new(state),
            filter: RwLock::new(filter),
            durable_seq: stream.durable_seq.clone(),
            wake: Notify::new(),
            deleted: AtomicBool::new(false),
            subs: Mutex::new(Vec::new()),
            dir,
            log,
        });
        c.subscribe();
        stream.runtime.spawn(deliver::run(c.clone()));
        c
    }

    /// Log a delivery (`deliveries` 1: the first) to the durable state.
    pub(crate) fn log_delivered(&self, dseq: u64, sseq: u64, deliveries: u32, now_ns: i64) {
        if let Some(log) = &self.log {
            if let Err(e) = log.update_delivered(dseq, sseq, u64::from(deliveries), now_ns) {
                tracing::error!("consumer {}: cannot log a delivery: {e}", self.name);
            }
        }
    }

    /// Log that a pending message is done with (acked, terminated, dropped).
    pub(crate) fn log_done(&self, dseq: u64, sseq: u64) {
        if let Some(log) = &self.log {
            if let Err(e) = log.update_acks(dseq, sseq) {
                tracing::error!("consumer {}: cannot log an ack: {e}", self.name);
            }
        }
    }

    /// Internal subscriptions for acks and flow-control replies. As
    /// nats-server, an ack-none consumer has no ack subscription, so a
    /// double ack gets no responders (ack policy cannot change on update).
    fn subscribe(self: &Arc<Self>) {
        let mut subs = self.subs.lock();
        let acks = self.config.read().ack_policy != AckPolicy::None;
        let wanted = [("$JS.ACK", "ack", acks), ("$JS.FC", "fc", true)];
        for (prefix, sid, _) in wanted.into_iter().filter(|w| w.2) {
            let subject = format!("{prefix}.{}.{}.>", self.stream_name, self.name);
            let target: Arc<dyn InternalSubscriber> = Arc::new(Listener {
                consumer: Arc::downgrade(self),
            });
            let sub = Subscription::new(
                Bytes::from(subject),
                None,
                Bytes::from_static(sid.as_bytes()),
                SubTarget::Internal(target),
            );
            let sub = Arc::new(sub);
            self.account.sublist.insert(sub.clone());
            subs.push(sub);
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// Stop: tell waiting pull requests, drop subscriptions, end the task.
    pub fn stop(&self, remove_state: bool) {
        if self.deleted.swap(true, Ordering::AcqRel) {
            return;
        }
        for s in self.subs.lock().drain(..) {
            self.account.sublist.remove(&s);
        }
        let waiting: Vec<_> = self.state.lock().waiting.drain(..).collect();
        let status = pull::status("409 Consumer Deleted", &[]);
        for w in waiting {
            self.account.publish_internal(&w.reply, None, &status, &[]);
        }
        if remove_state {
            if let Some(dir) = &self.dir {
                super::remove_dir(dir);
            }
        } else {
            // Shutting down: what is logged but not yet synced goes to disk now.
            persist::save(self);
        }
        self.wake.notify_one();
    }

    /// New data may be available (the stream stored a message).
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Count of messages still to deliver (exact; the ack subject's last token).
    pub fn num_pending(&self, st: &State) -> u64 {
        let filter = self.filter.read();
        st.lps.len() as u64 + self.store.num_pending(st.next_seq, &filter, false)
    }

    /// A pull request arrived on MSG.NEXT.
    pub fn add_request(&self, reply: &[u8], body: &[u8]) {
        let now = Instant::now();
        let reply = Bytes::copy_from_slice(reply);
        let cfg = self.config.read();
        if cfg.is_push() {
            let status = pull::status("409 Consumer is push based", &[]);
            self.account.publish_internal(&reply, None, &status, &[]);
            return;
        }
        let req = match pull::parse(reply.clone(), body, now) {
            Ok(r) => r,
            Err(pull::PullError::BadRequest(d)) => {
                let status = pull::status(&format!("400 Bad Request - {d}"), &[]);
                self.account.publish_internal(&reply, None, &status, &[]);
                return;
            }
        };
        if let Some(status) = limits_violation(&cfg, &req) {
            self.account.publish_internal(&reply, None, &status, &[]);
            return;
        }
        let mut st = self.state.lock();
        st.last_request = now;
        if let Err(status) = priority::check_request(&cfg, &mut st, req.group.as_ref(), now) {
            drop(st);
            self.account.publish_internal(&reply, None, &status, &[]);
            return;
        }
        let max_waiting = cfg
            .max_waiting
            .unwrap_or(config::MAX_WAITING_DEFAULT)
            .max(1) as usize;
        if st.waiting.len() >= max_waiting {
            drop(st);
            if req.heartbeat.is_none() {
                let status = pull::status("409 Exceeded MaxWaiting", &[]);
                self.account.publish_internal(&reply, None, &status, &[]);
            }
            return;
        }
        priority::enqueue(&cfg, &mut st.waiting, req);
        drop(st);
        self.wake.notify_one();
    }

    /// Apply an ack published to one of this consumer's ack subjects.
    fn on_ack(&self, subject: &[u8], reply: Option<&[u8]>, body: &[u8]) {
        let Some(tokens) = ack::seqs(subject) else {
            return;
        };
        let sseq = tokens.sseq;
        let kind = ack::parse(body);
        let cfg = self.config.read().clone();
        let now = Instant::now();
        let mut acked = Vec::new();
        let mut metric = None;
        let mut advisory = None;
        {
            let mut st = self.state.lock();
            if !matches!(kind, AckKind::Progress) {
                st.last_ack_ns = now_ns();
            }
            match &kind {
                AckKind::Ack | AckKind::Next(_) => {
                    let delivered_ns = st.pending.get(&sseq).map(|p| p.delivered_ns);
                    acked = self.ack_locked(&mut st, &cfg, sseq);
                    if let Some(ns) = delivered_ns.filter(|_| !acked.is_empty()) {
                        metric = sample(&cfg).then_some(ns);
                    }
                }
                AckKind::Nak(delay) => {
                    if let Some(p) = st.pending.get_mut(&sseq) {
                        p.deadline = now + delay.unwrap_or_default();
                        advisory = Some(self.advisory_nak(&tokens, p.deliveries));
                        if delay.is_none() {
                            st.redeliver.insert(sseq);
                        }
                    }
                }
                AckKind::Progress => {
                    if let Some(p) = st.pending.get_mut(&sseq) {
                        p.deadline = now + ack_wait(&cfg, p.deliveries);
                    }
                }
                AckKind::Term(reason) => {
                    if let Some(p) = st.pending.remove(&sseq) {
                        self.log_done(p.dseq, sseq);
                        st.redeliver.remove(&sseq);
                        advisory = Some(self.advisory_terminated(&tokens, &p, reason.as_deref()));
                        acked.push(sseq);
                    }
                }
            }
            st.dirty = true;
        }
        self.apply_retention(&acked);
        if let Some((subject, body)) = advisory {
            self.account.publish_internal(
                subject.as_bytes(),
                None,
                &[],
                body.to_string().as_bytes(),
            );
        }
        if let Some(delivered_ns) = metric {
            self.metric_ack(&tokens, delivered_ns);
        }
        match (kind, reply) {
            (AckKind::Next(req), Some(r)) => self.add_request(r, &req),
            (_, Some(r)) => {
                if self.dir.is_some() {
                    // A confirmed ack must survive a crash: save before confirming.
                    persist::save(self);
                }
                self.account.publish_internal(r, None, &[], &[]);
            }
            _ => {}
        }
        self.wake.notify_one();
    }

    /// Remove acknowledged entries; returns the stream sequences acked.
    fn ack_locked(&self, st: &mut State, cfg: &ConsumerConfig, sseq: u64) -> Vec<u64> {
        match cfg.ack_policy {
            AckPolicy::None => Vec::new(),
            AckPolicy::Explicit => {
                st.redeliver.remove(&sseq);
                match st.pending.remove(&sseq) {
                    Some(p) => {
                        self.log_done(p.dseq, sseq);
                        vec![sseq]
                    }
                    None => Vec::new(),
                }
            }
            AckPolicy::All | AckPolicy::FlowControl => {
                let done: Vec<u64> = st.pending.range(..=sseq).map(|(s, _)| *s).collect();
                for s in &done {
                    if let Some(p) = st.pending.remove(s) {
                        self.log_done(p.dseq, *s);
                    }
                    st.redeliver.remove(s);
                }
                done
            }
        }
    }

    /// Workqueue: an acked message leaves the stream. Interest: it leaves
    /// once no other consumer of the stream still needs it.
    fn apply_retention(&self, acked: &[u64]) {
        if acked.is_empty() {
            return;
        }
        let Some(stream) = self.stream.upgrade() else {
            return;
        };
        let retention = stream.config.read().retention;
        match retention {
            Retention::Limits => {}
            Retention::Workqueue => {
                for s in acked {
                    let _ = self.store.delete(*s, false);
                }
            }
            Retention::Interest => {
                for s in acked {
                    if !stream.needed_by_others(*s, &self.name) {
                        let _ = self.store.delete(*s, false);
                    }
                }
            }
        }
    }

    /// Does this consumer still need stream sequence `seq` (interest retention)?
    pub fn needs(&self, seq: u64, subject: &[u8]) -> bool {
        if !self.filter.read().matches(subject) {
            return false;
        }
        let st = self.state.lock();
        seq >= st.next_seq || st.pending.contains_key(&seq)
    }

    /// `MSG_TERMINATED`: subject and body, published after the state lock.
    fn advisory_terminated(
        &self,
        t: &ack::AckTokens,
        p: &Pending,
        reason: Option<&str>,
    ) -> (String, serde_json::Value) {
        let (subject, mut body) = self.msg_advisory(
            "MSG_TERMINATED",
            "terminated",
            Some(t.dseq),
            t.sseq,
            p.deliveries,
        );
        // nats-server leaves an empty reason out.
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            body["reason"] = r.into();
        }
        self.with_domain(&mut body);
        (subject, body)
    }

    /// `MSG_NAKED`: subject and body, published after the state lock.
    fn advisory_nak(&self, t: &ack::AckTokens, deliveries: u32) -> (String, serde_json::Value) {
        let (subject, mut body) =
            self.msg_advisory("MSG_NAKED", "nak", Some(t.dseq), t.sseq, deliveries);
        self.with_domain(&mut body);
        (subject, body)
    }

    /// Advisories and metrics name the JetStream domain when there is one.
    /// A per-message advisory: `$JS.EVENT.ADVISORY.CONSUMER.<event>.<stream>.<consumer>`
    /// and the fields they all carry, in nats-server's order.
    pub(crate) fn msg_advisory(
        &self,
        event: &str,
        kind: &str,
        consumer_seq: Option<u64>,
        stream_seq: u64,
        deliveries: u32,
    ) -> (String, serde_json::Value) {
        let subject = format!(
            "$JS.EVENT.ADVISORY.CONSUMER.{event}.{}.{}",
            self.stream_name, self.name
        );
        let mut body = serde_json::json!({
            "type": format!("io.nats.jetstream.advisory.v1.{kind}"),
            "id": nuid(),
            "timestamp": crate::logging::rfc3339_ns(now_ns()),
            "stream": self.stream_name,
            "consumer": self.name,
        });
        if let Some(dseq) = consumer_seq {
            body["consumer_seq"] = dseq.into();
        }
        body["stream_seq"] = stream_seq.into();
        body["deliveries"] = deliveries.into();
        (subject, body)
    }

    fn with_domain(&self, body: &mut serde_json::Value) {
        if let Some(d) = self.server.options().jetstream.domain.clone() {
            body["domain"] = d.into();
        }
    }

    /// `$JS.EVENT.METRIC.CONSUMER.ACK`: a sampled ack and how long it took.
    fn metric_ack(&self, t: &ack::AckTokens, delivered_ns: i64) {
        let subject = format!(
            "$JS.EVENT.METRIC.CONSUMER.ACK.{}.{}",
            self.stream_name, self.name
        );
        let now = now_ns();
        let mut body = serde_json::json!({
            "type": "io.nats.jetstream.metric.v1.consumer_ack",
            "id": nuid(),
            "timestamp": crate::logging::rfc3339_ns(now),
            "stream": self.stream_name,
            "consumer": self.name,
            "consumer_seq": t.dseq,
            "stream_seq": t.sseq,
            "ack_time": now - delivered_ns,
            "deliveries": t.deliveries,
        });
        self.with_domain(&mut body);
        self.account
            .publish_internal(subject.as_bytes(), None, &[], body.to_string().as_bytes());
    }

    /// A reply to a flow-control request. Under `ack_policy: flow_control`
    /// its `Nats-Last-Stream` header (the last stream sequence the sourcing
    /// side stored) acks everything up to it.
    fn on_flow_control(&self, subject: &[u8], hdrs: &[u8]) {
        let mut st = self.state.lock();
        if !st.flow.on_reply(subject) {
            return;
        }
        let cfg = self.config.read().clone();
        let stored_through = headers::get_str(hdrs, "Nats-Last-Stream")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0);
        let acked = match (cfg.ack_policy, stored_through) {
            (AckPolicy::FlowControl, Some(sseq)) => self.ack_locked(&mut st, &cfg, sseq),
            _ => Vec::new(),
        };
        drop(st);
        if !acked.is_empty() {
            persist::save(self);
            self.apply_retention(&acked);
        }
        self.wake.notify_one();
    }
}

/// The pull-request limits of the consumer config (`max_batch`, ...).
fn limits_violation(cfg: &ConsumerConfig, req: &WaitingRequest) -> Option<Vec<u8>> {
    if let Some(max) = cfg.max_batch.filter(|m| *m > 0) {
        if req.batch_left > max as u64 {
            return Some(pull::status(
                &format!("409 Exceeded MaxRequestBatch of {max}"),
                &[],
            ));
        }
    }
    if let Some(max) = cfg.max_expires.filter(|m| *m > 0) {
        if req.expires.is_some_and(|e| e.as_nanos() > max as u128) {
            let max = crate::monitor::go_duration(max as u64);
            return Some(pull::status(
                &format!("409 Exceeded MaxRequestExpires of {max}"),
                &[],
            ));
        }
    }
    if let Some(max) = cfg.max_bytes.filter(|m| *m > 0) {
        if req.bytes_left > max as u64 {
            return Some(pull::status(
                &format!("409 Exceeded MaxRequestMaxBytes of {max}"),
                &[],
            ));
        }
    }
    None
}

/// Is this ack one of the `sample_freq` share that is reported?
fn sample(cfg: &ConsumerConfig) -> bool {
    use rand::Rng;
    match config::sample_percent(cfg.sample_freq.as_deref()) {
        Ok(Some(p)) if p >= 100 => true,
        // nats-server's draw: 0..100 at or below the percentage.
        Ok(Some(p)) => rand::thread_rng().gen_range(0..100) <= p,
        _ => false,
    }
}

/// Flow-control acks have no ack wait: a delivered message is taken back
/// only if no flow-control reply acks it for this long.
const FLOW_CONTROL_REDELIVERY: Duration = Duration::from_secs(24 * 3600);

/// The ack wait for a message delivered `deliveries` times (backoff aware).
pub fn ack_wait(cfg: &ConsumerConfig, deliveries: u32) -> Duration {
    if cfg.ack_policy == AckPolicy::FlowControl {
        return FLOW_CONTROL_REDELIVERY;
    }
    let ns = match &cfg.backoff {
        Some(b) if !b.is_empty() => b[(deliveries.max(1) as usize - 1).min(b.len() - 1)],
        _ => cfg.ack_wait,
    };
    Duration::from_nanos(ns.max(1) as u64)
}

/// Where a new consumer starts, by its deliver policy.
fn position(store: &dyn StreamStore, cfg: &ConsumerConfig, filter: &SubjectFilter, st: &mut State) {
    let state = store.state(false);
    let after_last = state.last_seq + 1;
    st.next_seq = match cfg.deliver_policy {
        DeliverPolicy::All => state.first_seq.max(1),
        DeliverPolicy::New => after_last,
        DeliverPolicy::Last => store.last_for_subject(filter).map_or(after_last, |m| m.seq),
        DeliverPolicy::ByStartSequence => cfg.opt_start_seq.unwrap_or(1).max(1),
        DeliverPolicy::ByStartTime => {
            let ts = cfg
                .opt_start_time
                .as_deref()
                .and_then(crate::jetstream::time::parse_rfc3339)
                .unwrap_or(0);
            store.seq_for_time(ts).unwrap_or(after_last)
        }
        DeliverPolicy::LastPerSubject => {
            let mut seqs: Vec<u64> = store
                .subjects_state(filter)
                .keys()
                .filter_map(|s| {
                    store
                        .last_for_subject(&SubjectFilter::new(s))
                        .ok()
                        .map(|m| m.seq)
                })
                .collect();
            seqs.sort_unstable();
            st.lps = seqs.into();
            after_last
        }
    };
    // nats-server reports the delivered stream seq as the one before the start.
    st.sseq = st.next_seq.saturating_sub(1);
    if cfg.deliver_policy == DeliverPolicy::LastPerSubject {
        st.sseq = st
            .lps
            .front()
            .map_or(state.last_seq, |s| s.saturating_sub(1));
    }
    st.floor = (0, st.sseq);
}

/// Routes acks and flow-control replies to the consumer.
struct Listener {
    consumer: Weak<Consumer>,
}

impl InternalSubscriber for Listener {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(c) = self.consumer.upgrade() else {
            return false;
        };
        if d.subject.starts_with(b"$JS.FC.") {
            c.on_flow_control(d.subject, &d.payload[..d.headers_len.min(d.payload.len())]);
            return true;
        }
        let body = &d.payload[d.headers_len.min(d.payload.len())..];
        c.on_ack(d.subject, d.reply, body);
        true
    }
}

/// A short random id (ephemeral consumer names, advisory ids).
pub fn nuid() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
