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

/// Limits and tuning of one stream store. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Messages kept at most.
    pub msgs_max: Option<u64>,
    /// Bytes kept at most (record bytes on disk, see `docs/format.md`).
    pub bytes_max: Option<u64>,
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
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            msgs_max: None,
            bytes_max: None,
            age_max: None,
            msgs_per_subject_max: None,
            msg_bytes_max: None,
            discard: Discard::Old,
            discard_new_per_subject: false,
            first_seq: 1,
            sync: SyncPolicy::Always,
            segment_bytes_max: SEGMENT_BYTES_DEFAULT,
            segment_age_max: None,
        }
    }
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
    /// Live bytes.
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
