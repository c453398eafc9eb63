//! Opening a store: load sealed indexes (rebuilding damaged ones), scan
//! the active segment's tail, replay tombstones, re-apply limits.

use super::expiry::Expiries;
use super::segment::{seg_name, Segment};
use super::state::{State, Tomb};
use super::subjects::Subjects;
use super::tomblog::TombLog;
use crate::error::{Result, StoreError};
use crate::format::segment::SEGMENT_HEADER_BYTES;
use crate::format::tomb::TombRange;
use crate::io::Io;
use crate::rangeset::RangeSet;
use crate::ticket::Durability;
use crate::types::{RecordCounts, StoreConfig};
use std::path::Path;
use std::sync::Arc;

/// Tombstone log size below which it is never compacted.
const TOMB_BYTES_COMPACT_MIN: u64 = 64 * 1024;

/// Bases of the segment files in `dir`, ascending; stray `.tmp` files from
/// an interrupted atomic write are removed.
fn list_segments(io: &dyn Io, dir: &Path) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    for name in io.list_dir(dir)? {
        if name.ends_with(".tmp") {
            io.remove_file(&dir.join(&name))?;
        } else if let Some(b) = name
            .strip_suffix(".seg")
            .and_then(|s| s.parse::<u64>().ok())
        {
            bases.push(b);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

fn load_sealed(
    io: &dyn Io,
    dir: &Path,
    base: u64,
    next_base: u64,
    subjects: &mut Subjects,
) -> Result<Segment> {
    let mut intern = |s: &[u8]| subjects.intern(s);
    if let Some(seg) = Segment::open_sealed(io, dir, base, &mut intern)? {
        return Ok(seg);
    }
    tracing::warn!(segment = %seg_name(base), "index missing or damaged; rebuilding from segment");
    let out = Segment::scan(io, dir, base, &mut intern)?;
    for off in &out.bad_records {
        let e = StoreError::corrupted(dir.join(seg_name(base)), *off, "record skipped");
        tracing::error!(error = %e, "corrupt record in sealed segment");
    }
    let mut seg = out.seg;
    if out.valid_len != out.file_len {
        // A sealed segment was fsynced before the next one was created, so
        // a short tail here is damage, not a torn write: keep the bytes
        // for inspection and index only the valid prefix.
        let at = out.valid_len;
        tracing::error!(segment = %seg_name(base), at, "sealed segment has an unreadable tail");
        // The next segment's base says how many sequences were here.
        while seg.end_seq() < next_base {
            seg.push_lost(out.valid_len);
        }
    }
    seg.len = out.file_len;
    seg.seal(io, dir, &subjects.names)?;
    Ok(seg)
}

fn load_active(io: &dyn Io, dir: &Path, base: u64, subjects: &mut Subjects) -> Result<Segment> {
    let mut intern = |s: &[u8]| subjects.intern(s);
    let path = dir.join(seg_name(base));
    if io.open(&path, false)?.len()? < SEGMENT_HEADER_BYTES as u64 {
        // Created but never synced (a new store's files wait for their
        // first append): it held no record, so write its header again.
        tracing::warn!(segment = %seg_name(base), "segment shorter than its header; rewriting it");
        Segment::write_new(io, dir, base)?;
    }
    let mut out = Segment::scan(io, dir, base, &mut intern)?;
    if out.valid_len < out.file_len {
        let (from, to) = (out.file_len, out.valid_len);
        if out.zero_tail {
            tracing::debug!(segment = %seg_name(base), from, to, "dropping preallocated tail");
        } else {
            tracing::warn!(segment = %seg_name(base), from, to, "truncating torn tail");
        }
        out.seg.file.set_len(out.valid_len)?;
        out.seg.file.sync_data()?;
        out.seg.allocated_to(out.valid_len);
    }
    Ok(out.seg)
}

/// A new store's first segment and, if missing, its tombstone log,
/// written but not synced: an empty store loses nothing if they vanish in
/// a crash (opening recreates them), so their syncs wait for the first
/// append (`State::sync_new_files`). Creating a stream then costs no
/// journal commit of the engine's, which dominated creating many streams.
fn create_fresh(io: &dyn Io, dir: &Path, base: u64) -> Result<()> {
    Segment::write_new(io, dir, base)?;
    match io.open(&dir.join(super::tomblog::TOMB_FILE), false) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            TombLog::write_new(io, dir).map(|_| ())
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens or creates the store in `dir`.
pub fn open_state(
    io: Arc<dyn Io>,
    dir: &Path,
    cfg: StoreConfig,
    now_ns: i64,
) -> Result<(State, Arc<Durability>)> {
    io.create_dir_all(dir)?;
    let mut bases = list_segments(io.as_ref(), dir)?;
    if bases.is_empty() {
        create_fresh(io.as_ref(), dir, cfg.first_seq.max(1))?;
        bases.push(cfg.first_seq.max(1));
    }
    let mut subjects = Subjects::default();
    let mut segs = Vec::with_capacity(bases.len());
    let last_base = bases.last().copied().unwrap_or(1);
    for (i, base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied().unwrap_or(u64::MAX);
        if *base == last_base {
            segs.push(load_active(io.as_ref(), dir, *base, &mut subjects)?);
        } else {
            segs.push(load_sealed(
                io.as_ref(),
                dir,
                *base,
                next_base,
                &mut subjects,
            )?);
        }
    }
    let (tombs, ranges) = TombLog::open(io.as_ref(), dir)?;
    let first_seq = segs.first().map_or(1, |s| s.base);
    let last_seq = segs.last().map_or(0, |s| s.end_seq().saturating_sub(1));
    let last_ts = segs
        .last()
        .and_then(|s| s.entry(last_seq))
        .map_or(0, |e| e.timestamp_ns);
    let mut st = State {
        io: io.clone(),
        dir: dir.to_path_buf(),
        cfg,
        segs,
        subjects,
        deleted: RangeSet::default(),
        first_seq,
        last_seq,
        last_ts,
        msgs: 0,
        bytes: 0,
        bytes_seen: Default::default(),
        written_seq: last_seq,
        synced_seq: last_seq,
        tomb_after: Vec::new(),
        persist_tombs: true,
        tomb_now: Vec::new(),
        tombs,
        poisoned: None,
        closed: false,
        maybe_dead: true,
        scratch: Vec::new(),
        // Also for a store that already existed: a previous process may
        // have created its files and closed without an append (which
        // syncs them), so nothing says they are durable.
        files_unsynced: true,
        expiries: Default::default(),
        expired_last: Vec::new(),
    };
    st.load_counts();
    st.replay_tombs(&ranges);
    st.load_expiries()?;
    st.enforce_all_limits(now_ns)?;
    st.compact_tombs(&[])?;
    st.show_bytes();
    let dur = Durability::new(st.last_seq);
    Ok((st, dur))
}

impl State {
    /// Applies the tombstone log, skipping runs that are already gone.
    fn replay_tombs(&mut self, ranges: &[TombRange]) {
        for r in ranges {
            let mut seq = r.first.max(self.first_seq);
            let hi = r.last.min(self.last_seq);
            while seq <= hi {
                if let Some((_, end)) = self.deleted.run(seq) {
                    seq = end + 1;
                    continue;
                }
                self.remove_msg(seq, Tomb::Derived);
                seq += 1;
            }
        }
    }

    /// The expiry index from the records that carry an expiry time (their
    /// segments mapped once each; none read for segments without any).
    fn load_expiries(&mut self) -> Result<()> {
        let mut found = Vec::new();
        for seg in self.segs.iter().filter(|s| s.live_expiring > 0) {
            found.extend(seg.read_expiries(|seq| self.is_live(seq))?);
        }
        self.expiries = Expiries::from_found(found);
        Ok(())
    }

    /// Totals, gaps and subject state from the loaded segments.
    fn load_counts(&mut self) {
        let mut gaps = Vec::new();
        let mut expect = self.first_seq;
        for seg in &self.segs {
            // Sequences between segments: an interior segment was dropped
            // (all deleted) or a purge moved the next base up.
            gaps.push((expect, seg.base.saturating_sub(1)));
            gaps.extend(seg.lost_seqs().into_iter().map(|s| (s, s)));
            expect = seg.end_seq().max(expect);
            self.msgs += seg.live;
            let rule = self.cfg.size_rule;
            let counts = RecordCounts {
                records: seg.live,
                with_headers: seg.live_headers,
                expiring: seg.live_expiring,
            };
            self.bytes += rule.records_bytes(seg.live_bytes, counts);
            for s in &seg.subjects {
                self.subjects.add_range(s.gid, s.live, s.first, s.last);
            }
        }
        for (a, b) in gaps {
            self.mark_gone_range(a, b);
        }
        if self.msgs == 0 {
            self.first_seq = self.last_seq + 1;
            self.deleted.clear();
        }
    }

    /// Rewrites the tombstone log to just the current gaps when it has
    /// grown well past them. `pending` are removals whose cause is not yet
    /// durable: they must not be persisted ahead of it.
    pub fn compact_tombs(&mut self, pending: &[TombRange]) -> Result<()> {
        let needed = self.deleted.range_count() as u64 * 20 + 16;
        if self.tombs.len() <= (4 * needed).max(TOMB_BYTES_COMPACT_MIN) {
            return Ok(());
        }
        let mut keep = self.deleted.clone();
        for r in pending {
            keep.remove_range(r.first, r.last);
        }
        // Sequences below `first_seq` that still sit in the first segment
        // are deleted too and must stay so: keep one range for them.
        let floor = self.segs.first().map_or(self.first_seq, |s| s.base);
        let below = (floor < self.first_seq).then(|| (floor, self.first_seq - 1));
        let ranges: Vec<TombRange> = below
            .into_iter()
            .chain(keep.ranges())
            .map(|(first, last)| TombRange { first, last })
            .collect();
        let io = self.io.clone();
        let dir = self.dir.clone();
        self.tombs.rewrite(io.as_ref(), &dir, &ranges)
    }
}
