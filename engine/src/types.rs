//! Public value types: configuration, messages, state, requests.

use bytes::Bytes;
use std::time::Duration;

/// Default segment size: 64 MiB.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// Largest segment the format allows (record offsets are u32).
pub const SEGMENT_BYTES_LIMIT: u64 = u32::MAX as u64;

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After `fdatasync` (group commit). The default.
    Always,
    /// After the write; `fdatasync` runs every interval (nats-server's mode).
    Interval(Duration),
}

/// What happens when a limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Remove the oldest messages.
    Old,
    /// Reject the new message.
    New,
}

/// How one message counts in [`StreamState::bytes`] and against
/// `bytes_max`: its subject, headers and payload plus fixed overheads. The
/// server picks the numbers (the engine stores the same record either
/// way); the default is the record's own size on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRule {
    /// Added to every message.
    pub msg_overhead_bytes: u64,
    /// Added on top for a message with a non-empty header block.
    pub headers_overhead_bytes: u64,
}

impl SizeRule {
    /// The record's size on disk (see `docs/format.md`).
    pub const RECORD: SizeRule = SizeRule {
        msg_overhead_bytes: crate::format::record::RECORD_OVERHEAD_BYTES as u64,
        headers_overhead_bytes: 0,
    };

    /// Accounted size of a message with these part lengths.
    pub fn msg_bytes(&self, subject: usize, headers: usize, payload: usize) -> u64 {
        let parts = (subject + headers + payload) as u64;
        parts + self.overhead_bytes(headers > 0)
    }

    /// Accounted size of a stored record, from its length on disk. A
    /// record's expiry time is not part of the message: not counted.
    pub(crate) fn record_msg_bytes(&self, record_bytes: u64, headers: bool, expires: bool) -> u64 {
        let fixed = crate::format::record::RECORD_OVERHEAD_BYTES
            + crate::format::record::expires_len(expires);
        let parts = record_bytes.saturating_sub(fixed as u64);
        parts + self.overhead_bytes(headers)
    }

    /// Accounted size of the records of `counts` totalling `record_bytes`
    /// on disk.
    pub(crate) fn records_bytes(&self, record_bytes: u64, counts: RecordCounts) -> u64 {
        let record_overhead = crate::format::record::RECORD_OVERHEAD_BYTES as u64;
        let expires = crate::format::record::EXPIRES_BYTES as u64;
        let parts = record_bytes
            .saturating_sub(counts.records * record_overhead + counts.expiring * expires);
        parts
            + counts.records * self.msg_overhead_bytes
            + counts.with_headers * self.headers_overhead_bytes
    }

    fn overhead_bytes(&self, headers: bool) -> u64 {
        if headers {
            self.msg_overhead_bytes + self.headers_overhead_bytes
        } else {
            self.msg_overhead_bytes
        }
    }
}

/// How many records a byte total covers, for [`SizeRule::records_bytes`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecordCounts {
    /// Records.
    pub records: u64,
    /// Of them, with headers.
    pub with_headers: u64,
    /// Of them, with an expiry time.
    pub expiring: u64,
}

impl Default for SizeRule {
    fn default() -> Self {
        Self::RECORD
    }
}

/// Limits and tuning of one stream store. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Messages kept at most.
    pub msgs_max: Option<u64>,
    /// Bytes kept at most, counted by `size_rule`.
    pub bytes_max: Option<u64>,
    /// How a message's bytes are counted (state and `bytes_max`). Fixed
    /// for the life of a store: `update_config` refuses to change it.
    pub size_rule: SizeRule,
    /// Age after which messages expire.
    pub age_max: Option<Duration>,
    /// Messages kept per subject at most.
    pub msgs_per_subject_max: Option<u64>,
    /// Largest headers + payload accepted.
    pub msg_bytes_max: Option<u64>,
    /// Old or new.
    pub discard: Discard,
    /// With `Discard::New`: reject when a subject is full (otherwise the
    /// subject's oldest message is dropped, as in NATS).
    pub discard_new_per_subject: bool,
    /// First sequence of a new (empty) stream.
    pub first_seq: u64,
    /// Durability mode.
    pub sync: SyncPolicy,
    /// Roll to a new segment at this size.
    pub segment_bytes_max: u64,
    /// Also roll once the active segment's first record is this old (by
    /// record timestamps), so `age_max` retention can free whole segments
    /// of slow streams.
    pub segment_age_max: Option<Duration>,
    /// Keep a copy of the last message of every subject that expiry
    /// (`age_max` or a message's own expiry time) empties, for
    /// `StreamStore::take_expired_last` (a server writes a marker for it).
    pub report_expired_last: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            msgs_max: None,
            bytes_max: None,
            size_rule: SizeRule::RECORD,
            age_max: None,
            msgs_per_subject_max: None,
            msg_bytes_max: None,
            discard: Discard::Old,
            discard_new_per_subject: false,
            first_seq: 1,
            sync: SyncPolicy::Always,
            segment_bytes_max: SEGMENT_BYTES_DEFAULT,
            segment_age_max: None,
            report_expired_last: false,
        }
    }
}

/// One message of an atomic batch append (`StreamStore::append_batch`).
#[derive(Debug, Clone, Copy)]
pub struct BatchMsg<'a> {
    /// Subject.
    pub subject: &'a [u8],
    /// Raw NATS header block, possibly empty.
    pub headers: &'a [u8],
    /// Payload.
    pub payload: &'a [u8],
    /// Its own expiry time, as for `append_expiring`.
    pub expires_ns: Option<i64>,
}

/// A stored message. The parts share one buffer (no copy per part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    /// Stream sequence.
    pub seq: u64,
    /// Subject.
    pub subject: Bytes,
    /// Raw NATS header block, possibly empty.
    pub headers: Bytes,
    /// Payload.
    pub payload: Bytes,
    /// Timestamp given at append.
    pub timestamp_ns: i64,
}

/// Purge request (JetStream `STREAM.PURGE`). All `None` purges everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Only subjects matching this filter.
    pub subject: Option<String>,
    /// Keep the newest `keep` of the matching messages (a total).
    pub keep: Option<u64>,
    /// Remove matching messages with sequence below this one.
    pub up_to_seq: Option<u64>,
}

/// Stream state as JetStream reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Live messages.
    pub msgs: u64,
    /// Live bytes, counted by the store's [`SizeRule`].
    pub bytes: u64,
    /// First live sequence (`last_seq + 1` when empty).
    pub first_seq: u64,
    /// Timestamp of the first live message (0 when empty).
    pub first_ts: i64,
    /// Last sequence ever assigned (kept across purges).
    pub last_seq: u64,
    /// Timestamp of the last message (0 when unknown).
    pub last_ts: i64,
    /// Subjects with at least one live message.
    pub num_subjects: u64,
    /// Deleted sequences between first and last.
    pub num_deleted: u64,
    /// Those sequences, filled only by `state(true)`.
    pub deleted: Vec<u64>,
}
