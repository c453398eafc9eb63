//! The [`StreamStore`] trait: what the server calls, for file and memory
//! streams alike. Object safe; use it as `Arc<dyn StreamStore>`.

use crate::error::Result;
use crate::subject::SubjectFilter;
use crate::ticket::DurableTicket;
use crate::types::{BatchMsg, PurgeRequest, StoreConfig, StoredMsg, StreamState};
use std::collections::BTreeMap;

/// Storage of one stream's messages.
pub trait StreamStore: Send + Sync {
    /// Appends a message. Returns its sequence and a ticket that completes
    /// once the record is durable (immediately under `SyncPolicy::Interval`).
    /// Limit errors (`MaxMsgs`, `MaxBytes`, `MaxMsgsPerSubject`,
    /// `MsgTooBig`) leave the store unchanged.
    fn append(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        timestamp_ns: i64,
    ) -> Result<(u64, DurableTicket)> {
        self.append_expiring(subject, headers, payload, timestamp_ns, None)
    }

    /// Appends a message that is removed at `expires_ns` (nanoseconds
    /// since the epoch, as timestamps) whatever `age_max` says;
    /// `EXPIRES_NEVER` keeps it from both. The time is stored with the
    /// record, so expiry survives restarts and crashes. `None` is `append`.
    fn append_expiring(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        timestamp_ns: i64,
        expires_ns: Option<i64>,
    ) -> Result<(u64, DurableTicket)>;

    /// The last messages of subjects that expiry has emptied since the
    /// previous call, oldest first (kept only with
    /// `StoreConfig::report_expired_last`).
    fn take_expired_last(&self) -> Vec<StoredMsg> {
        Vec::new()
    }

    /// As [`StreamStore::append_expiring`], but the caller promises to call
    /// [`StreamStore::commit`] once it has appended what it has (a whole
    /// read of publishes, say), so nothing wakes the flusher for this record.
    /// If the caller never commits, the flusher's periodic check syncs it.
    fn append_for_commit(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        timestamp_ns: i64,
        expires_ns: Option<i64>,
    ) -> Result<(u64, DurableTicket)> {
        self.append_expiring(subject, headers, payload, timestamp_ns, expires_ns)
    }

    /// Makes every record appended so far durable and completes its ticket,
    /// under `SyncPolicy::Always` (otherwise a no-op). With `on_this_thread`
    /// it blocks until then, running the fdatasync on the caller's thread as
    /// one group-commit round (after a round already running, if that one
    /// leaves anything); without, it wakes the flusher thread to do it and
    /// the tickets complete from there. Failures reach the tickets.
    fn commit(&self, on_this_thread: bool) {
        let _ = on_this_thread;
    }

    /// Appends `msgs` at one timestamp, all or nothing: a limit error
    /// stores none of them, and after a crash (kill or power loss) recovery
    /// finds either the whole batch or none of it. Returns the last
    /// sequence and one ticket for the whole batch.
    fn append_batch(
        &self,
        msgs: &[BatchMsg<'_>],
        timestamp_ns: i64,
    ) -> Result<(u64, DurableTicket)>;

    /// Moves the next append's sequence up to `next_seq`, leaving
    /// everything between as deleted (a mirror keeps its origin's gaps).
    /// Existing messages stay. No-op when `next_seq` is not past the end.
    fn skip_to(&self, next_seq: u64) -> Result<()>;

    /// The live message at `seq`, or `NotFound`.
    fn get(&self, seq: u64) -> Result<StoredMsg>;

    /// The last live message whose subject matches `filter` (wildcards
    /// allowed), or `NotFound`.
    fn last_for_subject(&self, filter: &SubjectFilter) -> Result<StoredMsg>;

    /// The first live message at or after `start_seq` matching `filter`.
    fn next_matching(&self, start_seq: u64, filter: &SubjectFilter) -> Result<Option<StoredMsg>>;

    /// Like `next_matching` but only the sequence (no read).
    fn next_matching_seq(&self, start_seq: u64, filter: &SubjectFilter) -> Option<u64>;

    /// Deletes one message; `erase` overwrites its bytes on disk.
    fn delete(&self, seq: u64, erase: bool) -> Result<()>;

    /// JetStream purge; returns the number of messages removed.
    fn purge(&self, req: &PurgeRequest) -> Result<u64>;

    /// Stream state; `with_deleted` fills `deleted`.
    fn state(&self, with_deleted: bool) -> StreamState;

    /// `state().bytes` as of the last change, cheap enough to sum over an
    /// account's streams on every publish.
    fn bytes(&self) -> u64 {
        self.state(false).bytes
    }

    /// Live message count per subject matching `filter`.
    fn subjects_state(&self, filter: &SubjectFilter) -> BTreeMap<String, u64>;

    /// Exact number of matching messages at or after `start_seq`; with
    /// `last_per_subject`, the number of matching subjects whose last
    /// message is at or after `start_seq`.
    fn num_pending(&self, start_seq: u64, filter: &SubjectFilter, last_per_subject: bool) -> u64;

    /// First live sequence with timestamp at or after `timestamp_ns`.
    fn seq_for_time(&self, timestamp_ns: i64) -> Option<u64>;

    /// Removes messages older than `age_max` as of `now_ns` (a background
    /// timer also does this); returns how many.
    fn expire(&self, now_ns: i64) -> Result<u64>;

    /// Current configuration.
    fn config(&self) -> StoreConfig;

    /// Changes limits (stream update); applies them at once.
    fn update_config(&self, cfg: StoreConfig) -> Result<()>;

    /// A ticket for sequence `seq` (already appended): completes when every
    /// append up to `seq` is durable. To acknowledge a batch, wait on the
    /// ticket of its highest sequence only.
    fn ticket(&self, seq: u64) -> DurableTicket {
        DurableTicket::ready(seq)
    }

    /// Makes everything written so far durable now.
    fn flush(&self) -> Result<()>;

    /// Flushes and stops the background thread. Later calls fail `Closed`.
    fn close(&self) -> Result<()>;
}
