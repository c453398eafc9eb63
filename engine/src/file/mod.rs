//! The segment-file implementation of [`StreamStore`].
//!
//! Layout of a stream directory (bytes in `docs/format.md`):
//! `<base>.seg` segments, `<base>.idx` indexes of sealed segments,
//! `deleted.tomb` the tombstone log.

mod expiry;
mod flusher;
mod ops;
mod query;
mod recover;
mod segment;
mod state;
mod subjects;
mod tomblog;

use crate::error::{Result, StoreError};
use crate::io::{Io, SimIo};
use crate::store::StreamStore;
use crate::subject::SubjectFilter;
use crate::ticket::{Durability, DurableTicket};
use crate::types::{
    BatchMsg, PurgeRequest, StoreConfig, StoredMsg, StreamState, SyncPolicy, SEGMENT_BYTES_LIMIT,
};
use parking_lot::{Condvar, Mutex};
use state::State;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use flusher::now_ns;

/// State shared with the flusher thread.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher when there is something to sync.
    work: Condvar,
    /// Held for a whole group-commit round, by the flusher or by a caller
    /// committing on its own thread: one fdatasync at a time per store.
    round: Mutex<()>,
    dur: Arc<Durability>,
    /// The state's `bytes`, without its lock.
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// A stream stored in segment files (or, via [`FileStore::memory`], in
/// simulated files in memory).
pub struct FileStore {
    shared: Arc<Shared>,
    /// Started by the first append (or at open when there are messages):
    /// an empty store has nothing to sync or expire, and servers create
    /// hundreds of streams that may never see a message.
    flusher: Mutex<Option<JoinHandle<()>>>,
    flusher_started: AtomicBool,
    memory: bool,
}

impl FileStore {
    /// Opens or creates a store in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, cfg: StoreConfig) -> Result<Self> {
        Self::open_with_io(crate::io::default_io(), dir.as_ref(), cfg)
    }

    /// Opens or creates a store through any [`Io`] (tests use [`SimIo`]).
    pub fn open_with_io(io: Arc<dyn Io>, dir: &Path, cfg: StoreConfig) -> Result<Self> {
        Self::start(io, dir, cfg, false)
    }

    /// A memory-only store: same code over an in-memory disk, no fsync.
    pub fn memory(mut cfg: StoreConfig) -> Result<Self> {
        cfg.sync = SyncPolicy::Interval(Duration::from_secs(3600));
        Self::start(Arc::new(SimIo::memory()), Path::new("/memory"), cfg, true)
    }

    fn start(io: Arc<dyn Io>, dir: &Path, cfg: StoreConfig, memory: bool) -> Result<Self> {
        check_config(&cfg)?;
        let io_name = io.name();
        let (mut state, dur) = recover::open_state(io, dir, cfg, now_ns())?;
        state.persist_tombs = !memory;
        tracing::info!(dir = %dir.display(), msgs = state.msgs, last_seq = state.last_seq,
            segments = state.segs.len(), io = io_name, "stream store opened");
        let has_msgs = state.msgs > 0;
        let bytes = state.bytes_seen.clone();
        let shared = Arc::new(Shared {
            bytes,
            state: Mutex::new(state),
            work: Condvar::new(),
            round: Mutex::new(()),
            dur,
        });
        let store = Self {
            shared,
            flusher: Mutex::new(None),
            flusher_started: AtomicBool::new(false),
            memory,
        };
        if has_msgs {
            store.ensure_flusher()?;
        }
        Ok(store)
    }

    /// Starts the flusher thread if it is not running yet.
    #[inline] // every append asks; the answer is almost always yes
    fn ensure_flusher(&self) -> Result<()> {
        if self.flusher_started.load(Ordering::Acquire) {
            return Ok(());
        }
        self.start_flusher()
    }

    #[cold]
    fn start_flusher(&self) -> Result<()> {
        let mut slot = self.flusher.lock();
        if slot.is_none() {
            let shared = self.shared.clone();
            let handle = std::thread::Builder::new()
                .name("nile-flusher".into())
                .spawn(move || flusher::run(shared))?;
            *slot = Some(handle);
        }
        self.flusher_started.store(true, Ordering::Release);
        Ok(())
    }

    fn checkpoint(&self) -> Result<()> {
        let mut st = self.shared.state.lock();
        let names = st.subjects.names.clone();
        let (io, dir) = (st.io.clone(), st.dir.clone());
        match st.segs.last_mut() {
            Some(seg) => seg.checkpoint(io.as_ref(), &dir, &names),
            None => Ok(()),
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut st = self.shared.state.lock();
        let r = f(&mut st);
        let synced = st.synced_seq;
        drop(st);
        self.shared.dur.advance(synced);
        r
    }
}

fn check_config(cfg: &StoreConfig) -> Result<()> {
    if cfg.segment_bytes_max < 1024 || cfg.segment_bytes_max > SEGMENT_BYTES_LIMIT {
        return Err(StoreError::Invalid(
            "segment_bytes_max must be within 1 KiB..4 GiB",
        ));
    }
    Ok(())
}

impl FileStore {
    /// Appends under the lock; `wake` tells the flusher (under `Always`)
    /// that there is a record to sync.
    fn append_with(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
        expires_ns: Option<i64>,
        wake: bool,
    ) -> Result<(u64, DurableTicket)> {
        self.ensure_flusher()?;
        let mut st = self.shared.state.lock();
        st.check_writable()?;
        st.sync_new_files()?;
        let seq = st.append(subject, headers, payload, ts, expires_ns)?;
        let always = st.cfg.sync == SyncPolicy::Always && !self.memory;
        drop(st);
        if !always {
            return Ok((seq, DurableTicket::ready(seq)));
        }
        if wake {
            self.shared.work.notify_one();
        }
        Ok((seq, DurableTicket::pending(seq, self.shared.dur.clone())))
    }
}

impl StreamStore for FileStore {
    fn append_expiring(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
        expires_ns: Option<i64>,
    ) -> Result<(u64, DurableTicket)> {
        self.append_with(subject, headers, payload, ts, expires_ns, true)
    }

    fn append_for_commit(
        &self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
        expires_ns: Option<i64>,
    ) -> Result<(u64, DurableTicket)> {
        self.append_with(subject, headers, payload, ts, expires_ns, false)
    }

    fn commit(&self, on_this_thread: bool) {
        if self.memory {
            return;
        }
        if !on_this_thread {
            self.shared.work.notify_one();
            return;
        }
        // A round already running may cover these records: wait for it,
        // then sync whatever it did not.
        let _round = self.shared.round.lock();
        let st = self.shared.state.lock();
        if let Some(why) = st.poisoned.clone() {
            // Fail the waiting tickets rather than leave them hanging.
            drop(st);
            self.shared.dur.fail(why);
            return;
        }
        if st.cfg.sync != SyncPolicy::Always || st.closed {
            return;
        }
        if st.written_seq <= st.synced_seq {
            // A roll synced it already; the watermark may not know yet.
            let synced = st.synced_seq;
            drop(st);
            self.shared.dur.advance(synced);
            return;
        }
        flusher::round(&self.shared, st);
    }

    fn append_batch(&self, msgs: &[BatchMsg<'_>], ts: i64) -> Result<(u64, DurableTicket)> {
        self.ensure_flusher()?;
        let mut st = self.shared.state.lock();
        st.check_writable()?;
        st.sync_new_files()?;
        let seq = st.append_batch(msgs, ts)?;
        let always = st.cfg.sync == SyncPolicy::Always && !self.memory;
        drop(st);
        if always {
            self.shared.work.notify_one();
            Ok((seq, DurableTicket::pending(seq, self.shared.dur.clone())))
        } else {
            Ok((seq, DurableTicket::ready(seq)))
        }
    }

    fn skip_to(&self, next_seq: u64) -> Result<()> {
        self.with_state(|st| st.skip_to(next_seq))
    }

    fn get(&self, seq: u64) -> Result<StoredMsg> {
        self.shared.state.lock().read_msg(seq)
    }

    fn last_for_subject(&self, filter: &SubjectFilter) -> Result<StoredMsg> {
        let st = self.shared.state.lock();
        let seq = st.last_matching_seq(filter).ok_or(StoreError::NotFound)?;
        st.read_msg(seq)
    }

    fn next_matching(&self, start: u64, filter: &SubjectFilter) -> Result<Option<StoredMsg>> {
        let st = self.shared.state.lock();
        match st.next_matching_seq(start, filter) {
            Some(seq) => st.read_msg(seq).map(Some),
            None => Ok(None),
        }
    }

    fn next_matching_seq(&self, start: u64, filter: &SubjectFilter) -> Option<u64> {
        self.shared.state.lock().next_matching_seq(start, filter)
    }

    fn ticket(&self, seq: u64) -> DurableTicket {
        let always = self.shared.state.lock().cfg.sync == SyncPolicy::Always;
        if always && !self.memory {
            DurableTicket::pending(seq, self.shared.dur.clone())
        } else {
            DurableTicket::ready(seq)
        }
    }

    fn delete(&self, seq: u64, erase: bool) -> Result<()> {
        self.with_state(|st| st.delete(seq, erase))
    }

    fn purge(&self, req: &PurgeRequest) -> Result<u64> {
        self.with_state(|st| st.purge(req))
    }

    fn state(&self, with_deleted: bool) -> StreamState {
        let st = self.shared.state.lock();
        let first_ts = if st.msgs > 0 {
            st.ts_of(st.first_seq).unwrap_or(0)
        } else {
            0
        };
        StreamState {
            msgs: st.msgs,
            bytes: st.bytes,
            first_seq: st.first_seq,
            first_ts,
            last_seq: st.last_seq,
            last_ts: st.last_ts,
            num_subjects: st.subjects.live,
            num_deleted: st.deleted.len(),
            deleted: if with_deleted {
                st.deleted.iter().collect()
            } else {
                Vec::new()
            },
        }
    }

    fn subjects_state(&self, filter: &SubjectFilter) -> BTreeMap<String, u64> {
        self.shared.state.lock().subjects_state(filter)
    }

    fn num_pending(&self, start: u64, filter: &SubjectFilter, lps: bool) -> u64 {
        self.shared.state.lock().num_pending(start, filter, lps)
    }

    fn seq_for_time(&self, ts: i64) -> Option<u64> {
        self.shared.state.lock().seq_for_time(ts)
    }

    fn expire(&self, now: i64) -> Result<u64> {
        self.with_state(|st| {
            st.check_writable()?;
            let n = st.expire_at(now);
            st.settle()?;
            Ok(n)
        })
    }

    fn take_expired_last(&self) -> Vec<StoredMsg> {
        std::mem::take(&mut self.shared.state.lock().expired_last)
    }

    fn bytes(&self) -> u64 {
        self.shared.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn config(&self) -> StoreConfig {
        self.shared.state.lock().cfg.clone()
    }

    fn update_config(&self, mut cfg: StoreConfig) -> Result<()> {
        check_config(&cfg)?;
        if self.memory {
            cfg.sync = SyncPolicy::Interval(Duration::from_secs(3600));
        }
        self.with_state(|st| {
            st.check_writable()?;
            if cfg.size_rule != st.cfg.size_rule {
                return Err(StoreError::Invalid("a store's size rule cannot change"));
            }
            st.cfg = cfg;
            st.enforce_all_limits(now_ns()).map(|_| ())
        })?;
        self.shared.work.notify_one();
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.with_state(|st| {
            st.check_writable()?;
            let active = st.active()?;
            let res = active.write_pending().map(|()| active.file.clone());
            let file = res.map_err(|e| st.poison(e))?;
            file.sync_data().map_err(|e| st.poison(e.into()))?;
            let written = st.written_seq;
            st.mark_synced(written);
            Ok(())
        })?;
        self.shared.work.notify_one();
        Ok(())
    }

    fn close(&self) -> Result<()> {
        let poisoned = self.shared.state.lock().poisoned.is_some();
        let flushed = if poisoned {
            Ok(())
        } else {
            self.flush().and_then(|()| self.checkpoint())
        };
        self.shared.state.lock().closed = true;
        self.shared.work.notify_all();
        if let Some(h) = self.flusher.lock().take() {
            let _ = h.join();
        }
        self.shared.dur.fail("store closed".into());
        flushed
    }
}

impl Drop for FileStore {
    /// Stops the flusher without a final fsync (call `close` for that), so
    /// dropping a store behaves like a crash for tests.
    fn drop(&mut self) {
        self.shared.state.lock().closed = true;
        self.shared.work.notify_all();
        if let Some(h) = self.flusher.lock().take() {
            let _ = h.join();
        }
        // Nobody will sync what is still pending: fail those tickets
        // rather than leave their waiters hanging.
        self.shared.dur.fail("store dropped".into());
    }
}

impl FileStore {
    /// Reads every record of every segment and reports each problem found
    /// (bad segment header, checksum failures, lost records). A full scan:
    /// for operators and tests, never called on the hot path.
    pub fn verify(&self) -> Vec<StoreError> {
        self.shared.state.lock().verify()
    }
}
