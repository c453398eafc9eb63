//! What monitoring needs from JetStream: a plain snapshot of numbers.
//!
//! The JetStream module implements [`JetStreamSource`] and registers it with
//! `server.monitor.set_jetstream(..)` when it starts. Until then (or with
//! JetStream off) `/varz`, `/jsz` and `/metrics` report the configuration and
//! zeros, and `/healthz` says JetStream is not ready when it is configured.
//! Monitoring only ever reads snapshots, so JetStream keeps its own locking.
//!
//! What the JetStream side provides, in short:
//! - `impl JetStreamSource for JetStream`, registered right after
//!   `JetStream::start` with `server.monitor.set_jetstream(js.clone())`.
//!   Until then a started JetStream (`server.jetstream` set) counts as
//!   healthy with zero numbers, and a configured but unstarted one as
//!   "JetStream not enabled" (503).
//! - `health`: `Err` while streams or consumers are still being recovered or
//!   one failed to open, with nats-server's wording, e.g.
//!   `JetStream stream '$G > ORDERS' could not be recovered`.
//! - `snapshot`: one [`AccountSnapshot`] per account with JetStream (`$G`
//!   for the global one), with counts always filled; `streams` only when
//!   [`SnapshotWants::streams`], each from the store's state (messages,
//!   bytes, first/last seq and timestamps, subjects, deleted) and consumer
//!   count; `consumers` only when [`SnapshotWants::consumers`] (delivered
//!   and ack-floor pairs, ack pending, redelivered, waiting pulls, pending);
//!   `config` JSON (as the API returns it) only when [`SnapshotWants::config`];
//!   only the account in [`SnapshotWants::account`] when set. API counters
//!   (`api_total`, `api_errors`) per account, resolved `max_memory` and
//!   `max_storage` if it computes them. (The engine's fsync-latency and
//!   group-commit histograms come from `nile_engine::stats`, not from here.)

use std::time::SystemTime;

/// Which parts of a snapshot a request needs: per-stream and per-consumer
/// details cost time with many streams, configs cost JSON.
#[derive(Debug, Clone, Default)]
pub struct SnapshotWants {
    /// Fill [`AccountSnapshot::streams`].
    pub streams: bool,
    /// Fill [`StreamSnapshot::consumers`] (implies `streams`).
    pub consumers: bool,
    /// Fill the `config` JSON of streams and consumers.
    pub config: bool,
    /// Only this account (`None`: all).
    pub account: Option<String>,
}

/// JetStream's side of monitoring.
pub trait JetStreamSource: Send + Sync {
    /// `Ok` once JetStream is running and every stream and consumer on disk
    /// has been recovered; otherwise the reason, shown by `/healthz` (503).
    fn health(&self) -> Result<(), String>;

    /// Current numbers. Must not block on I/O: `/healthz` and `/varz` call it.
    fn snapshot(&self, wants: &SnapshotWants) -> JetStreamSnapshot;
}

/// Server-wide JetStream numbers; account totals are summed by monitoring.
#[derive(Debug, Clone, Default)]
pub struct JetStreamSnapshot {
    /// Resolved limits in bytes; `None`: monitoring shows nats-server's
    /// defaults (75% of RAM, 75% of the store's free disk).
    pub max_memory: Option<i64>,
    pub max_storage: Option<i64>,
    /// JetStream API level (`api.level`); 0 leaves it out.
    pub api_level: u32,
    /// Every account with JetStream enabled, even those with no streams.
    pub accounts: Vec<AccountSnapshot>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountSnapshot {
    /// `$G` for the global account.
    pub name: String,
    /// Bytes held in memory streams / file streams.
    pub memory: u64,
    pub storage: u64,
    /// Reservations; `None` is unlimited (nats-server shows 2^64-1).
    pub reserved_memory: Option<u64>,
    pub reserved_storage: Option<u64>,
    /// JetStream API requests answered for this account, and how many were errors.
    pub api_total: u64,
    pub api_errors: u64,
    /// Number of streams and consumers; filled even when `streams` is empty.
    pub stream_count: u64,
    pub consumer_count: u64,
    /// Messages and bytes over all streams of this account.
    pub messages: u64,
    pub bytes: u64,
    /// Per stream, when [`SnapshotWants::streams`].
    pub streams: Vec<StreamSnapshot>,
}

#[derive(Debug, Clone)]
pub struct StreamSnapshot {
    pub name: String,
    pub created: SystemTime,
    /// The stream config as the JetStream API returns it, when wanted.
    pub config: Option<serde_json::Value>,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: Option<SystemTime>,
    pub last_seq: u64,
    pub last_ts: Option<SystemTime>,
    pub num_subjects: u64,
    pub num_deleted: u64,
    pub consumer_count: u64,
    /// Per consumer, when [`SnapshotWants::consumers`].
    pub consumers: Vec<ConsumerSnapshot>,
}

/// A (consumer sequence, stream sequence) pair, as `delivered` and `ack_floor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqPair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

#[derive(Debug, Clone)]
pub struct ConsumerSnapshot {
    pub name: String,
    pub created: SystemTime,
    /// The consumer config as the JetStream API returns it, when wanted.
    pub config: Option<serde_json::Value>,
    pub delivered: SeqPair,
    pub ack_floor: SeqPair,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
}

/// A Prometheus histogram: cumulative counts per upper bound (ascending, the
/// `+Inf` bucket implied by `count`), and the sum of observed values.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    /// The engine's histogram with bounds and sum divided by `per_unit`
    /// (1e9 turns nanoseconds into the seconds Prometheus wants). Division,
    /// not multiplication by 1e-9, so 1000 ns prints as `0.000001`.
    pub fn scaled(h: &nile_engine::stats::HistogramSnapshot, per_unit: f64) -> Self {
        Histogram {
            buckets: h
                .buckets
                .iter()
                .map(|&(le, n)| (le as f64 / per_unit, n))
                .collect(),
            sum: h.sum as f64 / per_unit,
            count: h.count,
        }
    }
}

impl JetStreamSnapshot {
    /// What monitoring shows before JetStream registers: one empty global account.
    pub fn empty() -> Self {
        JetStreamSnapshot {
            accounts: vec![AccountSnapshot {
                name: "$G".to_string(),
                ..AccountSnapshot::default()
            }],
            ..JetStreamSnapshot::default()
        }
    }

    /// Sums over accounts: (memory, storage, streams, consumers, messages, bytes, api_total, api_errors).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for a in &self.accounts {
            t.memory += a.memory;
            t.storage += a.storage;
            t.streams += a.stream_count;
            t.consumers += a.consumer_count;
            t.messages += a.messages;
            t.bytes += a.bytes;
            t.api_total += a.api_total;
            t.api_errors += a.api_errors;
        }
        t
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub memory: u64,
    pub storage: u64,
    pub streams: u64,
    pub consumers: u64,
    pub messages: u64,
    pub bytes: u64,
    pub api_total: u64,
    pub api_errors: u64,
}
