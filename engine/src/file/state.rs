//! The store's in-memory state and the primitive operations on it. Every
//! method here runs under the store lock.

use super::expiry::Expiries;
use super::segment::{idx_name, Segment};
use super::subjects::Subjects;
use super::tomblog::TombLog;
use crate::error::{Result, StoreError};
use crate::format::index::SUBJECT_LOST;
use crate::format::tomb::TombRange;
use crate::io::Io;
use crate::rangeset::RangeSet;
use crate::types::{StoreConfig, StoredMsg};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How a removal is recorded in the tombstone log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tomb {
    /// Not at all: the removal is re-derived on open (limits, age).
    Derived,
    /// Collected in `tomb_now`; the caller writes and syncs it.
    Now,
    /// Written by the flusher once the append with this sequence (which
    /// caused the removal) is durable, so a crash can never keep the
    /// removal but lose its cause.
    After(u64),
}

/// Everything behind the store lock.
pub struct State {
    pub io: Arc<dyn Io>,
    pub dir: PathBuf,
    pub cfg: StoreConfig,
    /// Sorted by base; the last one is active.
    pub segs: Vec<Segment>,
    pub subjects: Subjects,
    /// Deleted (or lost) sequences in `first_seq..=last_seq`.
    pub deleted: RangeSet,
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_ts: i64,
    pub msgs: u64,
    pub bytes: u64,
    /// `bytes` as of the last change, readable without the lock: account
    /// and server storage limits sum it over many streams on a publish.
    pub bytes_seen: Arc<AtomicU64>,
    /// Highest sequence written to the active segment.
    pub written_seq: u64,
    /// Highest sequence known fsynced.
    pub synced_seq: u64,
    /// Removals waiting for their cause to be durable: (highest cause,
    /// range). Consecutive removals (the front moving under a limit)
    /// share one entry.
    pub tomb_after: Vec<(u64, TombRange)>,
    /// False for memory stores: nothing to persist, so no tombstones.
    pub persist_tombs: bool,
    /// Removals the current operation must persist before returning.
    pub tomb_now: Vec<u64>,
    pub tombs: TombLog,
    pub poisoned: Option<String>,
    pub closed: bool,
    /// A removal happened since segments were last checked for death
    /// (keeps the per-append `settle` from walking every segment).
    pub maybe_dead: bool,
    pub scratch: Vec<u8>,
    /// Until the first append after opening: the store's files may not be
    /// durable yet (see `sync_new_files`).
    pub files_unsynced: bool,
    /// Live messages with an expiry time of their own.
    pub expiries: Expiries,
    /// Last messages of subjects that expiry emptied, waiting for
    /// `take_expired_last` (only with `cfg.report_expired_last`).
    pub expired_last: Vec<StoredMsg>,
}

impl State {
    /// Publish `bytes` to readers that do not take the lock.
    #[inline]
    pub fn show_bytes(&self) {
        self.bytes_seen.store(self.bytes, Ordering::Relaxed);
    }

    /// Before the first append after opening: sync the active segment,
    /// the tombstone log and the directory, so the record that follows
    /// lands in files a crash cannot take away (a new store's files are
    /// created unsynced).
    // The check inlined, the work apart: every append passes here.
    #[inline]
    pub fn sync_new_files(&mut self) -> Result<()> {
        if !self.files_unsynced {
            return Ok(());
        }
        self.sync_new_files_now()
    }

    #[cold]
    fn sync_new_files_now(&mut self) -> Result<()> {
        let seg = self.active()?.file.clone();
        let res = seg
            .sync_data()
            .and_then(|()| self.tombs.file().sync_data())
            .and_then(|()| self.io.sync_dir(&self.dir));
        res.map_err(|e| self.poison(e.into()))?;
        self.files_unsynced = false;
        Ok(())
    }

    /// Everything written up to `upto` is now fsynced. Counts the records
    /// that sync made durable, for the group-commit statistics (memory
    /// stores issue no fsync, so they count nothing).
    pub fn mark_synced(&mut self, upto: u64) {
        if upto <= self.synced_seq {
            return;
        }
        if self.persist_tombs {
            crate::stats::sync_stats().group_commit(upto - self.synced_seq);
        }
        self.synced_seq = upto;
    }

    /// Fails if writes are no longer allowed.
    pub fn check_writable(&self) -> Result<()> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        match &self.poisoned {
            Some(why) => Err(StoreError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Records a write/fsync failure: from now on the store refuses writes.
    pub fn poison(&mut self, e: StoreError) -> StoreError {
        let why = e.to_string();
        tracing::error!(dir = %self.dir.display(), error = %why, "store poisoned");
        self.poisoned.get_or_insert(why);
        e
    }

    /// Index of the segment holding `seq`.
    pub fn locate(&self, seq: u64) -> Option<usize> {
        let i = self
            .segs
            .partition_point(|s| s.base <= seq)
            .checked_sub(1)?;
        let seg = self.segs.get(i)?;
        (seq < seg.end_seq()).then_some(i)
    }

    /// The active segment.
    pub fn active(&mut self) -> Result<&mut Segment> {
        // Not `ok_or`: it builds and drops an error on every call (the
        // drop is not optimised away), and this runs several times per
        // append.
        match self.segs.last_mut() {
            Some(seg) => Ok(seg),
            None => Err(StoreError::Invalid("store has no segment")),
        }
    }

    /// Is `seq` a live message (ignoring lost entries, which are in
    /// `deleted`)?
    pub fn is_live(&self, seq: u64) -> bool {
        seq >= self.first_seq && seq <= self.last_seq && !self.deleted.contains(seq)
    }

    /// Timestamp of `seq` from the index.
    pub fn ts_of(&self, seq: u64) -> Option<i64> {
        let seg = self.segs.get(self.locate(seq)?)?;
        seg.entry(seq).map(|e| e.timestamp_ns)
    }

    /// Global subject id of the message at `seq`.
    pub fn gid_of(&self, seq: u64) -> Option<u32> {
        let seg = self.segs.get(self.locate(seq)?)?;
        let e = seg.entry(seq)?;
        seg.subjects.get(e.subject as usize).map(|s| s.gid)
    }

    /// Reads a live message.
    pub fn read_msg(&self, seq: u64) -> Result<StoredMsg> {
        if !self.is_live(seq) {
            return Err(StoreError::NotFound);
        }
        let seg = self
            .locate(seq)
            .and_then(|i| self.segs.get(i))
            .ok_or(StoreError::NotFound)?;
        let r = seg.read(seq)?.ok_or(StoreError::NotFound)?;
        let f = r.frame;
        Ok(StoredMsg {
            seq,
            subject: r.buf.slice(f.subject),
            headers: r.buf.slice(f.headers),
            payload: r.buf.slice(f.payload),
            timestamp_ns: f.timestamp_ns,
        })
    }

    /// Removes one live message from every count. Returns false if it was
    /// not live.
    pub fn remove_msg(&mut self, seq: u64, tomb: Tomb) -> bool {
        if !self.is_live(seq) {
            return false;
        }
        let Some(si) = self.locate(seq) else {
            return false;
        };
        let Some(seg) = self.segs.get_mut(si) else {
            return false;
        };
        let Some(e) = seg.entry(seq) else {
            return false;
        };
        if e.subject == SUBJECT_LOST {
            return false;
        }
        let size = seg.record_bytes(seq);
        let counted = self
            .cfg
            .size_rule
            .record_msg_bytes(size, e.headers, e.expires);
        let Some(ss) = seg.subjects.get_mut(e.subject as usize) else {
            return false;
        };
        ss.live = ss.live.saturating_sub(1);
        let gid = ss.gid;
        seg.live = seg.live.saturating_sub(1);
        seg.live_bytes = seg.live_bytes.saturating_sub(size);
        seg.live_headers = seg.live_headers.saturating_sub(u64::from(e.headers));
        seg.live_expiring = seg.live_expiring.saturating_sub(u64::from(e.expires));
        if e.expires {
            self.expiries.remove(seq);
        }
        self.subjects.remove(gid, 1, Some(seq));
        self.msgs = self.msgs.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(counted);
        self.show_bytes();
        self.maybe_dead = true;
        self.mark_gone(seq);
        let tomb = if self.persist_tombs {
            tomb
        } else {
            Tomb::Derived
        };
        match tomb {
            Tomb::Derived => {}
            Tomb::Now => self.tomb_now.push(seq),
            Tomb::After(cause) => self.push_tomb_after(cause, seq),
        }
        true
    }

    fn push_tomb_after(&mut self, cause: u64, seq: u64) {
        if let Some((c, r)) = self.tomb_after.last_mut() {
            if r.last + 1 == seq {
                r.last = seq;
                *c = (*c).max(cause);
                return;
            }
        }
        self.tomb_after.push((
            cause,
            TombRange {
                first: seq,
                last: seq,
            },
        ));
    }

    /// `seq` is no longer live: move `first_seq` or remember the gap.
    pub fn mark_gone(&mut self, seq: u64) {
        self.mark_gone_range(seq, seq);
    }

    /// `a..=b` are no longer live (or never were: gaps, lost records).
    pub fn mark_gone_range(&mut self, a: u64, b: u64) {
        if a > b {
            return;
        }
        if a != self.first_seq {
            self.deleted.insert_range(a, b);
            return;
        }
        // Ranges in `deleted` are maximal, so one step skips the whole run
        // that may follow.
        self.first_seq = b + 1;
        if let Some(end) = self.deleted.take_run_at(self.first_seq) {
            self.first_seq = end + 1;
        }
    }

    /// Forward (or backward) search for the next live message of `gid`
    /// within `from..=to`, skipping segments that do not hold it.
    pub fn find_subject(&self, gid: u32, from: u64, to: u64, forward: bool) -> Option<u64> {
        if from > to {
            return None;
        }
        let check = |seg: &Segment| -> Option<u64> {
            let local = *seg.local_of.get(&gid)?;
            let ss = seg.subjects.get(local as usize)?;
            if ss.live == 0 {
                return None;
            }
            let lo = from.max(ss.first);
            let hi = to.min(ss.last);
            let hit =
                |s: &u64| seg.entry(*s).is_some_and(|e| e.subject == local) && self.is_live(*s);
            if forward {
                (lo..=hi).find(hit)
            } else {
                (lo..=hi).rev().find(hit)
            }
        };
        let in_range = |s: &&Segment| s.base <= to && s.end_seq() > from;
        if forward {
            self.segs.iter().filter(in_range).find_map(check)
        } else {
            self.segs.iter().rev().filter(in_range).find_map(check)
        }
    }

    /// Recomputes first/last of subjects touched by removals.
    #[inline]
    pub fn fix_dirty_subjects(&mut self) {
        if !self.subjects.dirty.is_empty() {
            self.fix_dirty_subjects_now();
        }
    }

    fn fix_dirty_subjects_now(&mut self) {
        let mut dirty = std::mem::take(&mut self.subjects.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for gid in dirty {
            let st = self.subjects.state(gid);
            if st.count == 0 {
                continue;
            }
            let first = self.find_subject(gid, st.first.max(self.first_seq), self.last_seq, true);
            let last = self.find_subject(gid, self.first_seq, st.last.min(self.last_seq), false);
            if let Some(s) = self.subjects.states.get_mut(gid as usize) {
                s.first = first.unwrap_or(0);
                s.last = last.unwrap_or(0);
            }
        }
    }

    /// Deletes sealed segments without live messages: wholly below
    /// `first_seq`, or interior ones whose every removal is already
    /// tombstoned durably (none waits in `tomb_after`).
    #[inline]
    pub fn drop_dead_segments(&mut self) -> Result<()> {
        if !self.maybe_dead {
            return Ok(());
        }
        self.drop_dead_segments_now()
    }

    fn drop_dead_segments_now(&mut self) -> Result<()> {
        // Segments held back by pending removals are retried by the flusher.
        self.maybe_dead = !self.tomb_after.is_empty();
        let mut dropped = false;
        let mut i = 0;
        while i + 1 < self.segs.len() {
            let Some(seg) = self.segs.get(i) else { break };
            let below = seg.end_seq() <= self.first_seq;
            let range = seg.base..seg.end_seq();
            let pending = |r: &TombRange| r.first < range.end && r.last >= range.start;
            let dead = seg.live == 0 && !self.tomb_after.iter().any(|(_, r)| pending(r));
            if !below && !dead {
                i += 1;
                continue;
            }
            let seg = self.segs.remove(i);
            self.io.remove_file(&seg.path)?;
            let idx = self.dir.join(idx_name(seg.base));
            if let Err(e) = self.io.remove_file(&idx) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(e.into());
                }
            }
            dropped = true;
        }
        if dropped {
            self.io.sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Bookkeeping after every mutation.
    #[inline]
    pub fn settle(&mut self) -> Result<()> {
        self.fix_dirty_subjects();
        if let Err(e) = self.drop_dead_segments() {
            return Err(self.poison(e));
        }
        Ok(())
    }
}

impl State {
    /// See `FileStore::verify`.
    pub fn verify(&self) -> Vec<StoreError> {
        use crate::coding::Decode;
        let mut errs = Vec::new();
        for seg in &self.segs {
            let mut h = [0u8; crate::format::segment::SEGMENT_HEADER_BYTES];
            let hdr = seg
                .file
                .read_exact_at(&mut h, 0)
                .map_err(StoreError::from)
                .and_then(|()| {
                    crate::format::segment::SegmentHeader::decode_from(&h)
                        .map_err(|d| StoreError::corrupted(&seg.path, 0, d.detail()))
                });
            match hdr {
                Ok((hd, _)) if hd.base_seq != seg.base => {
                    errs.push(StoreError::corrupted(&seg.path, 0, "segment base mismatch"));
                }
                Ok(_) => {}
                Err(e) => errs.push(e),
            }
            for seq in seg.base..seg.end_seq() {
                match seg.read(seq) {
                    Ok(Some(_)) => {}
                    Ok(None) if seg.is_gap_at(seq) => {}
                    Ok(None) => {
                        let off = seg.entry(seq).map_or(0, |e| u64::from(e.offset));
                        errs.push(StoreError::corrupted(
                            &seg.path,
                            off,
                            format!("seq {seq} lost"),
                        ));
                    }
                    Err(e) => errs.push(e),
                }
            }
        }
        errs
    }
}
