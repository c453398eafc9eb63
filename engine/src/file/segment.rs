//! One segment: a `<base_seq>.seg` file of records plus its index, either
//! in memory (the active segment) or mapped from `<base_seq>.idx` (sealed).

use crate::coding::{Decode, Encode};
use crate::error::{Result, StoreError};
use crate::format::index::{
    encode_index, entry_at, parse_index, IndexEntry, SubjectRow, SUBJECT_LOST,
};
use crate::format::record::{
    peek_len, Kind, RecordFrame, RecordRef, EXPIRES_BYTES, GAP_SUBJECT, RECORD_HEADER_BYTES,
    RECORD_OVERHEAD_BYTES,
};
use crate::format::segment::{SegmentHeader, SEGMENT_HEADER_BYTES};
use crate::hash::FxMap;
use crate::io::{write_atomic, Io, IoFile};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name of a segment.
pub fn seg_name(base: u64) -> String {
    format!("{base:020}.seg")
}

/// File name of a segment's index.
pub fn idx_name(base: u64) -> String {
    format!("{base:020}.idx")
}

/// What an index entry says about its record besides where it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryFlags {
    /// The record has a non-empty header block.
    pub headers: bool,
    /// The record carries an expiry time.
    pub expires: bool,
}

/// Per-segment facts about one subject.
#[derive(Debug, Clone)]
pub struct SegSubject {
    /// Global subject id.
    pub gid: u32,
    /// First entry with this subject (deleted ones included: a hint).
    pub first: u64,
    /// Last entry with this subject (a hint, like `first`).
    pub last: u64,
    /// Entries with this subject, deleted ones included.
    pub total: u64,
    /// Live messages with this subject.
    pub live: u64,
}

enum Entries {
    Active(Vec<IndexEntry>),
    Sealed {
        map: Bytes,
        range: std::ops::Range<usize>,
        count: u64,
    },
}

/// A segment with its index and subject table.
pub struct Segment {
    /// First sequence.
    pub base: u64,
    /// Path of the `.seg` file.
    pub path: PathBuf,
    /// The open file.
    pub file: Arc<dyn IoFile>,
    /// End of valid data.
    pub len: u64,
    entries: Entries,
    /// Local subject id to facts.
    pub subjects: Vec<SegSubject>,
    /// Global id to local id.
    pub local_of: FxMap<u32, u32>,
    /// Live messages.
    pub live: u64,
    /// Live record bytes (on disk).
    pub live_bytes: u64,
    /// Live messages with headers (the size rule counts them apart).
    pub live_headers: u64,
    /// Live messages whose record carries an expiry time (bytes the size
    /// rule does not count).
    pub live_expiring: u64,
    /// Records appended but not yet written to the file (`SyncPolicy::
    /// Always` only: nothing is acknowledged before the flusher writes and
    /// fsyncs them, so buffering costs no durability and saves one
    /// `pwrite` per append).
    pending: Vec<u8>,
    /// File offset of `pending[0]`.
    pending_off: u64,
    /// File length as extended by preallocation (see [`Segment::allocate_for`]).
    allocated: u64,
    /// The last block read ahead for a sequential reader.
    read_ahead: parking_lot::Mutex<ReadAhead>,
}

/// Read-ahead for a sequential reader (a consumer replaying the stream): one
/// `pread` fills a block the following records are sliced from, instead of
/// one `pread` and one allocation per record. Random reads (direct get, KV)
/// read just their record, as before.
#[derive(Default)]
struct ReadAhead {
    /// File offset of `block[0]`.
    off: u64,
    block: Bytes,
    /// End of the last record read: a read starting here is sequential.
    last_end: u64,
}

/// Bytes one read-ahead fetches: a few hundred small records.
const READ_AHEAD_BYTES: u64 = 64 * 1024;

/// Buffered bytes that force a write before the flusher's next round.
const PENDING_BYTES_MAX: usize = 1 << 20;

/// Preallocation steps of the active segment (see [`Segment::allocate_for`]):
/// as large as the segment already is, within these bounds, so a small
/// stream holds little unused disk and a busy one extends rarely.
const PREALLOC_BYTES_MIN: u64 = 64 * 1024;
const PREALLOC_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// A record read back from disk, before the caller checks its sequence.
pub struct ReadRecord {
    /// The decoded fixed part.
    pub frame: RecordFrame,
    /// The record's bytes (parts are ranges into this).
    pub buf: Bytes,
}

impl Segment {
    /// Creates an empty segment: header written and fsynced, directory
    /// fsynced, so a segment that exists after a crash has a valid header.
    pub fn create(io: &dyn Io, dir: &Path, base: u64) -> Result<Self> {
        let (path, file) = Self::write_new(io, dir, base)?;
        file.sync_data()?;
        io.sync_dir(dir)?;
        Ok(Self::empty(base, path, file))
    }

    /// Creates the file with its header, synced by the caller.
    pub fn write_new(io: &dyn Io, dir: &Path, base: u64) -> Result<(PathBuf, Arc<dyn IoFile>)> {
        let path = dir.join(seg_name(base));
        let file = io.open(&path, true)?;
        file.set_len(0)?;
        file.write_all_at(&SegmentHeader { base_seq: base }.encode_to_vec(), 0)?;
        Ok((path, file))
    }

    fn empty(base: u64, path: PathBuf, file: Arc<dyn IoFile>) -> Self {
        Self {
            base,
            path,
            file,
            len: SEGMENT_HEADER_BYTES as u64,
            entries: Entries::Active(Vec::new()),
            subjects: Vec::new(),
            local_of: FxMap::default(),
            live: 0,
            live_bytes: 0,
            live_headers: 0,
            live_expiring: 0,
            pending: Vec::new(),
            pending_off: 0,
            allocated: SEGMENT_HEADER_BYTES as u64,
            read_ahead: parking_lot::Mutex::new(ReadAhead::default()),
        }
    }

    /// Number of entries (sequences) in this segment.
    pub fn count(&self) -> u64 {
        match &self.entries {
            Entries::Active(v) => v.len() as u64,
            Entries::Sealed { count, .. } => *count,
        }
    }

    /// Sequence one past the last entry.
    pub fn end_seq(&self) -> u64 {
        self.base + self.count()
    }

    /// True if this segment is the writable one.
    pub fn is_active(&self) -> bool {
        matches!(self.entries, Entries::Active(_))
    }

    /// The entry for `seq`, if inside this segment.
    pub fn entry(&self, seq: u64) -> Option<IndexEntry> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        match &self.entries {
            Entries::Active(v) => v.get(i).copied(),
            Entries::Sealed { map, range, .. } => entry_at(map.get(range.clone())?, i),
        }
    }

    /// On-disk size of the record at `seq`.
    pub fn record_bytes(&self, seq: u64) -> u64 {
        let Some(e) = self.entry(seq) else { return 0 };
        let end = self
            .entry(seq + 1)
            .map_or(self.len, |n| u64::from(n.offset));
        end.saturating_sub(u64::from(e.offset))
    }

    /// The expiry times stored in this segment's records, for the entries
    /// `want` accepts (opening: one mapping of the file, no read per record).
    pub fn read_expiries(&self, want: impl Fn(u64) -> bool) -> Result<Vec<(u64, i64)>> {
        let data = self.file.map()?;
        let mut out = Vec::new();
        for seq in self.base..self.end_seq() {
            let Some(e) = self.entry(seq).filter(|e| e.expires && want(seq)) else {
                continue;
            };
            let at = e.offset as usize + RECORD_HEADER_BYTES;
            let bytes = data
                .get(at..at + EXPIRES_BYTES)
                .and_then(|b| b.try_into().ok());
            let bytes = bytes
                .ok_or_else(|| StoreError::corrupted(&self.path, u64::from(e.offset), "short"))?;
            out.push((seq, i64::from_le_bytes(bytes)));
        }
        Ok(out)
    }

    /// Local id for `gid`, adding it to the subject table if new.
    fn local_for(&mut self, gid: u32, seq: u64) -> u32 {
        // Appends mostly repeat the previous record's subject: ask the last
        // entry before hashing.
        if let Entries::Active(v) = &self.entries {
            let prev = v.last().map(|e| e.subject);
            if let Some(l) =
                prev.filter(|&l| self.subjects.get(l as usize).is_some_and(|s| s.gid == gid))
            {
                return l;
            }
        }
        if let Some(l) = self.local_of.get(&gid) {
            return *l;
        }
        let l = self.subjects.len() as u32;
        self.subjects.push(SegSubject {
            gid,
            first: seq,
            last: seq,
            total: 0,
            live: 0,
        });
        self.local_of.insert(gid, l);
        l
    }

    /// Records an entry just written (or found while scanning).
    pub fn push_entry(&mut self, gid: u32, seq: u64, at: (u64, u64), ts: i64, flags: EntryFlags) {
        let (offset, len) = at;
        let EntryFlags { headers, expires } = flags;
        let local = self.local_for(gid, seq);
        if let Some(s) = self.subjects.get_mut(local as usize) {
            s.last = seq;
            s.total += 1;
            s.live += 1;
        }
        if let Entries::Active(v) = &mut self.entries {
            v.push(IndexEntry {
                offset: offset as u32,
                subject: local,
                timestamp_ns: ts,
                headers,
                expires,
            });
        }
        self.live += 1;
        self.live_bytes += len;
        self.live_headers += u64::from(headers);
        self.live_expiring += u64::from(expires);
        self.len = offset + len;
    }

    /// Records a gap record just written (or found while scanning): its
    /// sequence is taken, it holds no message.
    pub fn push_gap(&mut self, at: (u64, u64), ts: i64) {
        let (offset, len) = at;
        if let Entries::Active(v) = &mut self.entries {
            v.push(IndexEntry {
                offset: offset as u32,
                subject: SUBJECT_LOST,
                timestamp_ns: ts,
                headers: false,
                expires: false,
            });
        }
        self.len = offset + len;
    }

    /// Does `seq` (an entry without a message) hold a gap record?
    pub fn is_gap_at(&self, seq: u64) -> bool {
        let Some(e) = self.entry(seq) else {
            return false;
        };
        let mut buf = vec![0u8; self.record_bytes(seq) as usize];
        if self.read_bytes(&mut buf, u64::from(e.offset)).is_err() {
            return false;
        }
        RecordFrame::decode_from(&buf).is_ok_and(|(f, _)| is_gap(&f, &buf))
    }

    /// Records a lost (unreadable) sequence while scanning.
    pub fn push_lost(&mut self, offset: u64) {
        if let Entries::Active(v) = &mut self.entries {
            v.push(IndexEntry {
                offset: offset as u32,
                subject: SUBJECT_LOST,
                timestamp_ns: 0,
                headers: false,
                expires: false,
            });
        }
    }

    /// Writes one record at the end, or with `buffered` appends it to the
    /// write buffer. The caller poisons the store on error.
    pub fn write_record(
        &mut self,
        rec: &RecordRef<'_>,
        scratch: &mut Vec<u8>,
        buffered: bool,
    ) -> Result<u64> {
        if buffered {
            if self.pending.is_empty() {
                self.pending_off = self.len;
            }
            let before = self.pending.len();
            rec.encode_into(&mut self.pending);
            let n = (self.pending.len() - before) as u64;
            if self.pending.len() >= PENDING_BYTES_MAX {
                self.write_pending()?;
            }
            return Ok(n);
        }
        self.write_pending()?;
        scratch.clear();
        rec.encode_into(scratch);
        self.file.write_all_at(scratch, self.len)?;
        Ok(scratch.len() as u64)
    }

    /// Writes the buffered records to the file (not yet fsynced).
    pub fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.allocate_for(self.pending_off + self.pending.len() as u64);
        self.file.write_all_at(&self.pending, self.pending_off)?;
        self.pending.clear();
        Ok(())
    }

    /// Under `SyncPolicy::Always` every acknowledgement waits for an
    /// fdatasync; one that must also commit a grown file size to the
    /// journal costs about half as much again on ext4. So the file is
    /// extended ahead of the records, in steps, and the size changes only
    /// once per step. The step is written as zeros (`IoFile::allocate`), so
    /// the extent map changes once per step too, not in every group commit
    /// that reaches new blocks. The zeros past the last record are cut when
    /// the segment is sealed and skipped by the scan on open.
    fn allocate_for(&mut self, end: u64) {
        if end <= self.allocated {
            return;
        }
        let target = end + self.len.clamp(PREALLOC_BYTES_MIN, PREALLOC_BYTES_MAX);
        if let Err(e) = self.file.allocate(target) {
            tracing::debug!(segment = %self.path.display(), error = %e, "preallocation failed");
        }
        // Failed or not, writes go on; try again one step further.
        self.allocated = target;
    }

    /// The file was cut to `len` (recovery dropped its tail).
    pub fn allocated_to(&mut self, len: u64) {
        self.allocated = len;
    }

    /// Cuts the preallocated zeros past the last record.
    fn trim_allocation(&mut self) -> Result<()> {
        if self.allocated > self.len {
            self.file.set_len(self.len)?;
            self.allocated = self.len;
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes at `offset` from the buffer or the file.
    fn read_bytes(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let buffered = !self.pending.is_empty() && offset >= self.pending_off;
        if !buffered {
            return Ok(self.file.read_exact_at(buf, offset)?);
        }
        let at = usize::try_from(offset - self.pending_off).unwrap_or(usize::MAX);
        let src = at
            .checked_add(buf.len())
            .and_then(|end| self.pending.get(at..end))
            .ok_or_else(|| StoreError::corrupted(&self.path, offset, "read past buffer"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    /// Reads and checks the record for `seq`.
    pub fn read(&self, seq: u64) -> Result<Option<ReadRecord>> {
        let Some(e) = self.entry(seq) else {
            return Ok(None);
        };
        if e.subject == SUBJECT_LOST {
            return Ok(None);
        }
        let len = self.record_bytes(seq) as usize;
        let buf = self.record_at(u64::from(e.offset), len)?;
        let bad = |d: String| StoreError::corrupted(&self.path, u64::from(e.offset), d);
        let (frame, _) = RecordFrame::decode_from(&buf).map_err(|d| bad(d.detail()))?;
        if frame.seq != seq {
            return Err(bad(format!("expected seq {seq}, found {}", frame.seq)));
        }
        Ok(Some(ReadRecord { frame, buf }))
    }

    /// The `len` record bytes at `offset`: sliced from the read-ahead block
    /// when it holds them, else read (with a block ahead if sequential).
    fn record_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        if !self.pending.is_empty() && offset >= self.pending_off {
            let mut buf = vec![0u8; len];
            self.read_bytes(&mut buf, offset)?;
            return Ok(Bytes::from(buf));
        }
        let end = offset + len as u64;
        let mut ra = self.read_ahead.lock();
        let block_end = ra.off + ra.block.len() as u64;
        if offset >= ra.off && end <= block_end {
            ra.last_end = end;
            let at = usize::try_from(offset - ra.off).unwrap_or(usize::MAX);
            return Ok(ra.block.slice(at..at + len));
        }
        let sequential = offset == ra.last_end;
        ra.last_end = end;
        // Only bytes already in the file: the buffered tail is not there yet.
        let file_end = if self.pending.is_empty() {
            self.len
        } else {
            self.pending_off
        };
        let want = READ_AHEAD_BYTES.min(file_end.saturating_sub(offset));
        if !sequential || want <= len as u64 {
            drop(ra);
            let mut buf = vec![0u8; len];
            self.read_bytes(&mut buf, offset)?;
            return Ok(Bytes::from(buf));
        }
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(len)];
        let got = self.file.read_at(&mut buf, offset)?;
        if got < len {
            buf.truncate(len);
            self.file.read_exact_at(&mut buf, offset)?;
        }
        buf.truncate(got.max(len));
        let block = Bytes::from(buf);
        ra.off = offset;
        ra.block = block.clone();
        Ok(block.slice(..len))
    }

    /// Overwrites the record at `seq` with an erased copy (same length,
    /// headers and payload zeroed, new CRC).
    pub fn erase(&mut self, seq: u64) -> Result<()> {
        let r = self.overwrite_erased(seq);
        // The record changed in place: no stale copy may be served.
        *self.read_ahead.get_mut() = ReadAhead::default();
        r
    }

    fn overwrite_erased(&mut self, seq: u64) -> Result<()> {
        let Some(r) = self.read(seq)? else {
            return Ok(());
        };
        let f = &r.frame;
        let zeros_h = vec![0u8; f.headers.len()];
        let zeros_p = vec![0u8; f.payload.len()];
        let rec = RecordRef {
            kind: Kind::Erased,
            seq,
            timestamp_ns: f.timestamp_ns,
            subject: r.buf.get(f.subject.clone()).unwrap_or_default(),
            headers: &zeros_h,
            payload: &zeros_p,
            expires_ns: f.expires_ns,
            // An erased record keeps its place in its batch.
            batch_open: f.batch_open,
        };
        let off = self.entry(seq).map_or(0, |e| u64::from(e.offset));
        let bytes = rec.encode_to_vec();
        if !self.pending.is_empty() && off >= self.pending_off {
            let at = usize::try_from(off - self.pending_off).unwrap_or(usize::MAX);
            if let Some(dst) = at
                .checked_add(bytes.len())
                .and_then(|e| self.pending.get_mut(at..e))
            {
                dst.copy_from_slice(&bytes);
            }
            return Ok(());
        }
        self.file.write_all_at(&bytes, off)?;
        Ok(())
    }

    /// Subject table rows for the index file.
    fn subject_rows(&self, names: &[Bytes]) -> Vec<SubjectRow> {
        self.subjects
            .iter()
            .map(|s| SubjectRow {
                first: s.first,
                last: s.last,
                count: s.total,
                subject: names
                    .get(s.gid as usize)
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Seals the active segment: fsyncs its data, writes the index
    /// atomically and switches to the mapped index.
    pub fn seal(&mut self, io: &dyn Io, dir: &Path, names: &[Bytes]) -> Result<()> {
        if !self.is_active() {
            return Ok(());
        }
        self.write_pending()?;
        self.trim_allocation()?;
        self.file.sync_data()?;
        let Entries::Active(v) = &self.entries else {
            return Ok(());
        };
        let count = v.len() as u64;
        let bytes = encode_index(self.base, self.len, v, &self.subject_rows(names));
        write_atomic(io, dir, &idx_name(self.base), &bytes)?;
        self.map_written_index(io, dir, count)
    }

    /// Maps the index `seal` just wrote. Unlike opening one
    /// ([`Segment::open_sealed`]) it checks no checksum: this process wrote
    /// those bytes, and reading them all through the mapping would make
    /// every page resident (about 10 MiB per full 64 MiB segment of small
    /// messages) where lookups touch only the pages they need.
    fn map_written_index(&mut self, io: &dyn Io, dir: &Path, count: u64) -> Result<()> {
        use crate::format::index::{INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES};
        let path = dir.join(idx_name(self.base));
        let map = io.open(&path, false)?.map()?;
        let end = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(INDEX_ENTRY_BYTES))
            .and_then(|n| n.checked_add(INDEX_HEADER_BYTES))
            .filter(|end| *end <= map.len())
            .ok_or_else(|| StoreError::corrupted(&path, 0, "index shorter than written"))?;
        self.entries = Entries::Sealed {
            map,
            range: INDEX_HEADER_BYTES..end,
            count,
        };
        Ok(())
    }

    /// Opens a sealed segment from its index, if the index is intact and
    /// matches the segment. `None` means: rebuild it.
    pub fn open_sealed(
        io: &dyn Io,
        dir: &Path,
        base: u64,
        intern: &mut dyn FnMut(&[u8]) -> u32,
    ) -> Result<Option<Self>> {
        let path = dir.join(seg_name(base));
        let file = io.open(&path, false)?;
        let seg_len = file.len()?;
        let Ok(idx) = io.open(&dir.join(idx_name(base)), false) else {
            return Ok(None);
        };
        let map = idx.map()?;
        let Ok(p) = parse_index(&map) else {
            return Ok(None);
        };
        if p.header.base_seq != base || p.header.segment_len != seg_len {
            return Ok(None);
        }
        let mut seg = Self::empty(base, path, file);
        seg.len = seg_len;
        seg.adopt_rows(&p.subjects, intern);
        let count = p.header.entry_count;
        seg.entries = Entries::Sealed {
            map,
            range: p.entries,
            count,
        };
        seg.live = count - u64::from(p.header.lost_count);
        seg.live_headers = u64::from(p.header.headers_count);
        seg.live_expiring = u64::from(p.header.expiring_count);
        seg.live_bytes = seg_len - SEGMENT_HEADER_BYTES as u64;
        if p.header.lost_count > 0 {
            seg.live_bytes -= seg
                .lost_seqs()
                .iter()
                .map(|s| seg.record_bytes(*s))
                .sum::<u64>();
        }
        Ok(Some(seg))
    }

    /// Takes the subject table of an index file.
    fn adopt_rows(&mut self, rows: &[SubjectRow], intern: &mut dyn FnMut(&[u8]) -> u32) {
        for row in rows {
            let gid = intern(&row.subject);
            let s = SegSubject {
                gid,
                first: row.first,
                last: row.last,
                total: row.count,
                live: row.count,
            };
            self.local_of.insert(gid, self.subjects.len() as u32);
            self.subjects.push(s);
        }
    }

    /// Writes the index of the active segment as a checkpoint (on clean
    /// close), so the next open scans only what was appended after it.
    pub fn checkpoint(&mut self, io: &dyn Io, dir: &Path, names: &[Bytes]) -> Result<()> {
        self.write_pending()?;
        if !matches!(&self.entries, Entries::Active(v) if !v.is_empty()) {
            return Ok(());
        }
        self.trim_allocation()?;
        self.file.sync_data()?;
        let Entries::Active(v) = &self.entries else {
            return Ok(());
        };
        let bytes = encode_index(self.base, self.len, v, &self.subject_rows(names));
        write_atomic(io, dir, &idx_name(self.base), &bytes)?;
        Ok(())
    }

    /// Loads a checkpoint index covering a prefix of `data` (the whole
    /// segment file). Returns where scanning must continue, or `None` if
    /// there is no usable checkpoint. The record the checkpoint ends with
    /// is decoded and checked against it before the checkpoint is trusted.
    fn load_checkpoint(
        &mut self,
        io: &dyn Io,
        dir: &Path,
        data: &[u8],
        intern: &mut dyn FnMut(&[u8]) -> u32,
    ) -> Option<usize> {
        let map = io
            .open(&dir.join(idx_name(self.base)), false)
            .ok()?
            .map()
            .ok()?;
        let p = parse_index(&map).ok()?;
        let h = p.header;
        let end = usize::try_from(h.segment_len).ok()?;
        if h.base_seq != self.base || h.entry_count == 0 || end > data.len() {
            return None;
        }
        let ents = map.get(p.entries.clone())?;
        let count = usize::try_from(h.entry_count).ok()?;
        let last = entry_at(ents, count - 1)?;
        if last.subject != SUBJECT_LOST {
            let (f, n) = RecordFrame::decode_from(data.get(last.offset as usize..)?).ok()?;
            let last_seq = self.base + h.entry_count - 1;
            if f.seq != last_seq || last.offset as usize + n != end {
                return None;
            }
        }
        let entries: Vec<IndexEntry> = (0..count).filter_map(|i| entry_at(ents, i)).collect();
        self.adopt_rows(&p.subjects, intern);
        let lost = entries.iter().filter(|e| e.subject == SUBJECT_LOST).count() as u64;
        let with_headers = entries.iter().filter(|e| e.headers).count() as u64;
        let expiring = entries.iter().filter(|e| e.expires).count() as u64;
        self.entries = Entries::Active(entries);
        self.len = h.segment_len;
        self.live = h.entry_count - lost;
        self.live_headers = with_headers;
        self.live_expiring = expiring;
        self.live_bytes = h.segment_len - SEGMENT_HEADER_BYTES as u64;
        if lost > 0 {
            self.live_bytes -= self
                .lost_seqs()
                .iter()
                .map(|s| self.record_bytes(*s))
                .sum::<u64>();
        }
        Some(end)
    }

    /// Sequences marked lost.
    pub fn lost_seqs(&self) -> Vec<u64> {
        (self.base..self.end_seq())
            .filter(|s| self.entry(*s).is_some_and(|e| e.subject == SUBJECT_LOST))
            .collect()
    }

    /// Scans a segment file record by record, building the index. Used for
    /// the active segment on every open and to rebuild a damaged index.
    /// Returns the segment and the byte offset where valid data ends.
    pub fn scan(
        io: &dyn Io,
        dir: &Path,
        base: u64,
        intern: &mut dyn FnMut(&[u8]) -> u32,
    ) -> Result<ScanOutcome> {
        let path = dir.join(seg_name(base));
        let file = io.open(&path, false)?;
        let file_len = file.len()?;
        let data = file.map()?;
        // The header is fsynced before the segment's name is, so a bad one
        // is bit rot. The base is also in the file name: report and go on,
        // so one flipped bit does not cost the whole segment.
        match SegmentHeader::decode_from(&data) {
            Ok((h, _)) if h.base_seq == base => {}
            Ok(_) => {
                tracing::error!(path = %path.display(), "segment header base differs from name")
            }
            Err(d) => {
                let e = StoreError::corrupted(&path, 0, d.detail());
                tracing::error!(error = %e, "damaged segment header");
            }
        }
        let mut seg = Self::empty(base, path, file);
        let mut at = seg
            .load_checkpoint(io, dir, &data, intern)
            .unwrap_or(SEGMENT_HEADER_BYTES);
        let mut bad_records = Vec::new();
        let mut zero_tail = false;
        // Records of an atomic batch whose closing record has not been seen
        // yet: where the batch starts, and its entries held back.
        let mut open_batch: Option<(usize, Vec<HeldEntry>)> = None;
        while at < data.len() {
            let rest = data.get(at..).unwrap_or_default();
            let want = seg.end_seq() + open_batch.as_ref().map_or(0, |(_, v)| v.len() as u64);
            match RecordFrame::decode_from(rest) {
                Ok((f, n)) if f.seq == want && is_gap(&f, rest) && open_batch.is_none() => {
                    seg.push_gap((at as u64, n as u64), f.timestamp_ns);
                    at += n;
                }
                Ok((f, n)) if f.seq == want && !is_gap(&f, rest) => {
                    let subj = rest.get(f.subject.clone()).unwrap_or_default();
                    let gid = intern(subj);
                    let flags = EntryFlags {
                        headers: !f.headers.is_empty(),
                        expires: f.expires_ns.is_some(),
                    };
                    let held = (gid, want, (at as u64, n as u64), f.timestamp_ns, flags);
                    if f.batch_open {
                        open_batch
                            .get_or_insert_with(|| (at, Vec::new()))
                            .1
                            .push(held);
                    } else {
                        for (g, s, place, ts, fl) in
                            open_batch.take().map(|(_, v)| v).unwrap_or_default()
                        {
                            seg.push_entry(g, s, place, ts, fl);
                        }
                        seg.push_entry(gid, want, (at as u64, n as u64), f.timestamp_ns, flags);
                    }
                    at += n;
                }
                // An unfinished batch ends the valid records (see below).
                _ if open_batch.is_some() => break,
                // The preallocated rest of the active segment.
                _ if rest.iter().all(|&b| b == 0) => {
                    zero_tail = true;
                    break;
                }
                _ => match resync(&data, at, want) {
                    Some((next_at, next_seq)) => {
                        bad_records.push(at as u64);
                        for _ in want..next_seq {
                            seg.push_lost(at as u64);
                        }
                        seg.len = next_at as u64;
                        at = next_at;
                    }
                    None => break,
                },
            }
        }
        // A batch cut short by a crash is dropped whole: its start is the torn tail.
        if let Some((start, held)) = open_batch {
            let records = held.len();
            tracing::warn!(path = %seg.path.display(), records, "dropping an unfinished batch");
            at = start;
        }
        let valid_len = at as u64;
        seg.len = valid_len;
        seg.allocated = file_len;
        Ok(ScanOutcome {
            seg,
            valid_len,
            file_len,
            bad_records,
            zero_tail,
        })
    }
}

/// An index entry found by a scan: subject id, sequence, (offset, length), timestamp, flags.
type HeldEntry = (u32, u64, (u64, u64), i64, EntryFlags);

/// Is this decoded record a gap record (see [`GAP_SUBJECT`])?
pub fn is_gap(f: &RecordFrame, buf: &[u8]) -> bool {
    f.kind == Kind::Erased && buf.get(f.subject.clone()) == Some(GAP_SUBJECT)
}

/// Result of [`Segment::scan`].
pub struct ScanOutcome {
    /// The segment with an in-memory index.
    pub seg: Segment,
    /// Where valid records end (a torn tail starts here).
    pub valid_len: u64,
    /// The file length found.
    pub file_len: u64,
    /// Offsets of unreadable records that were skipped.
    pub bad_records: Vec<u64>,
    /// Whatever follows `valid_len` is zeros: preallocated, never written.
    pub zero_tail: bool,
}

/// After a bad record at `at`, looks for the next valid record with a
/// sequence above `want` (an interior bit flip, not a torn tail). The
/// record's own length field is tried first; then every byte offset.
fn resync(data: &[u8], at: usize, want: u64) -> Option<(usize, u64)> {
    let ok_at = |pos: usize| -> Option<(usize, u64)> {
        let (f, _) = RecordFrame::decode_from(data.get(pos..)?).ok()?;
        (f.seq > want && f.seq < want + (1 << 32)).then_some((pos, f.seq))
    };
    if let Ok(n) = peek_len(data.get(at..).unwrap_or_default()) {
        if let Some(hit) = at.checked_add(n).and_then(ok_at) {
            return Some(hit);
        }
    }
    (at + 1..data.len().saturating_sub(RECORD_OVERHEAD_BYTES - 1)).find_map(ok_at)
}
