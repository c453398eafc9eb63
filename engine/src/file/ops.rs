//! Mutations: append with limits, roll, delete, purge, expiry.

use super::segment::{EntryFlags, Segment};
use super::state::{State, Tomb};
use super::tomblog::to_ranges;
use crate::error::{Result, StoreError};
use crate::format::record::{
    expires_len, record_len, Kind, RecordRef, GAP_SUBJECT, SUBJECT_BYTES_MAX,
};

/// Gaps up to this many sequences are written in place as gap records;
/// longer ones start a new segment (a few fsyncs, whatever the length).
const SKIP_FILL_SEQS_MAX: u64 = 4096;
/// Expired last messages kept for `take_expired_last` at most; beyond it
/// (nobody takes them) further ones are not kept.
const EXPIRED_LAST_MSGS_MAX: usize = 100_000;
use crate::subject::SubjectFilter;
use crate::types::{BatchMsg, Discard, PurgeRequest, SyncPolicy};

impl State {
    /// Appends one message, with its own expiry time if `expires_ns` is
    /// given; returns its sequence.
    pub fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts: i64,
        expires_ns: Option<i64>,
    ) -> Result<u64> {
        self.check_writable()?;
        if subject.is_empty() || subject.len() > SUBJECT_BYTES_MAX {
            return Err(StoreError::Invalid("subject empty or too long"));
        }
        let body = (headers.len() + payload.len()) as u64;
        if self.cfg.msg_bytes_max.is_some_and(|m| body > m) || body > u64::from(u32::MAX) / 2 {
            return Err(StoreError::MsgTooBig);
        }
        let len = (record_len(subject.len(), headers.len(), payload.len())
            + expires_len(expires_ns.is_some())) as u64;
        let counted = self
            .cfg
            .size_rule
            .msg_bytes(subject.len(), headers.len(), payload.len());
        self.check_discard_new(subject, counted)?;
        if self.should_roll(len, ts)? {
            self.roll()?;
        }
        let msg = BatchMsg {
            subject,
            headers,
            payload,
            expires_ns,
        };
        self.push_msg(&msg, ts, (len, counted), false)
    }

    /// Appends `msgs` as one atomic batch with sequences from `last_seq + 1`;
    /// returns the last one. Every check comes before the first write and
    /// the batch never spans segments, so after a crash recovery finds all
    /// of it or (dropping an unclosed run) none.
    pub fn append_batch(&mut self, msgs: &[BatchMsg<'_>], ts: i64) -> Result<u64> {
        self.check_writable()?;
        let mut sizes = Vec::with_capacity(msgs.len());
        for m in msgs {
            if m.subject.is_empty() || m.subject.len() > SUBJECT_BYTES_MAX {
                return Err(StoreError::Invalid("subject empty or too long"));
            }
            let body = (m.headers.len() + m.payload.len()) as u64;
            if self.cfg.msg_bytes_max.is_some_and(|x| body > x) || body > u64::from(u32::MAX) / 2 {
                return Err(StoreError::MsgTooBig);
            }
            let len = (record_len(m.subject.len(), m.headers.len(), m.payload.len())
                + expires_len(m.expires_ns.is_some())) as u64;
            let counted =
                self.cfg
                    .size_rule
                    .msg_bytes(m.subject.len(), m.headers.len(), m.payload.len());
            sizes.push((len, counted));
        }
        self.check_discard_new_batch(msgs, &sizes)?;
        let total: u64 = sizes.iter().map(|(len, _)| len).sum();
        if self.should_roll(total, ts)? {
            self.roll()?;
        }
        let mut seq = self.last_seq;
        for (i, (m, size)) in msgs.iter().zip(sizes).enumerate() {
            seq = self.push_msg(m, ts, size, i + 1 < msgs.len())?;
        }
        Ok(seq)
    }

    /// Discard-new limits for a whole batch, counted as if appended one by one.
    fn check_discard_new_batch(&self, msgs: &[BatchMsg<'_>], sizes: &[(u64, u64)]) -> Result<()> {
        if self.cfg.discard != Discard::New {
            return Ok(());
        }
        let n = msgs.len() as u64;
        if self.cfg.msgs_max.is_some_and(|m| self.msgs + n > m) {
            return Err(StoreError::MaxMsgs);
        }
        let added: u64 = sizes.iter().map(|(_, counted)| counted).sum();
        if self.cfg.bytes_max.is_some_and(|m| self.bytes + added > m) {
            return Err(StoreError::MaxBytes);
        }
        if let (Some(max), true) = (
            self.cfg.msgs_per_subject_max,
            self.cfg.discard_new_per_subject,
        ) {
            let mut counts: std::collections::HashMap<&[u8], u64> = Default::default();
            for m in msgs {
                let c = counts.entry(m.subject).or_insert_with(|| {
                    self.subjects
                        .id(m.subject)
                        .map_or(0, |g| self.subjects.state(g).count)
                });
                *c += 1;
                if *c > max {
                    return Err(StoreError::MaxMsgsPerSubject);
                }
            }
        }
        Ok(())
    }

    /// Writes one checked message record and indexes it; `sizes` is its
    /// (record length, counted bytes).
    fn push_msg(
        &mut self,
        m: &BatchMsg<'_>,
        ts: i64,
        (len, counted): (u64, u64),
        batch_open: bool,
    ) -> Result<u64> {
        let BatchMsg {
            subject,
            headers,
            payload,
            expires_ns,
        } = *m;
        let seq = self.last_seq + 1;
        let rec = RecordRef {
            kind: Kind::Msg,
            seq,
            timestamp_ns: ts,
            subject,
            headers,
            payload,
            expires_ns,
            batch_open,
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        let buffered = self.cfg.sync == SyncPolicy::Always && self.persist_tombs;
        let written = self
            .active()
            .and_then(|a| a.write_record(&rec, &mut scratch, buffered));
        self.scratch = scratch;
        if let Err(e) = written {
            return Err(self.poison(e));
        }
        let gid = self.subjects.intern(subject);
        let active = self.active()?;
        let offset = active.len;
        let flags = EntryFlags {
            headers: !headers.is_empty(),
            expires: expires_ns.is_some(),
        };
        active.push_entry(gid, seq, (offset, len), ts, flags);
        self.subjects.add(gid, seq);
        if let Some(at) = expires_ns {
            self.expiries.insert(seq, at);
        }
        self.msgs += 1;
        self.bytes += counted;
        self.show_bytes();
        self.last_seq = seq;
        self.last_ts = ts;
        self.written_seq = seq;
        if self.msgs == 1 {
            self.first_seq = seq;
        }
        self.enforce_subject_limit(gid, Tomb::After(seq));
        self.enforce_count_limits(Tomb::After(seq));
        self.settle()?;
        Ok(seq)
    }

    /// See `StreamStore::skip_to`. A short gap is filled in place with gap
    /// records; a long one starts a new segment at `next`, and recovery
    /// derives it from the segment bases. Neither needs a tombstone: after a
    /// crash each gap sequence is either there as a gap or not written.
    pub fn skip_to(&mut self, next: u64) -> Result<()> {
        self.check_writable()?;
        if next <= self.last_seq + 1 {
            return Ok(());
        }
        if self.msgs == 0 {
            self.purge_all(next)?;
            return self.settle();
        }
        if next - self.last_seq - 1 <= SKIP_FILL_SEQS_MAX {
            return self.fill_gap(next);
        }
        let io = self.io.clone();
        let dir = self.dir.clone();
        let names = self.subjects.names.clone();
        let res = self
            .active()
            .and_then(|a| a.seal(io.as_ref(), &dir, &names))
            .and_then(|()| Segment::create(io.as_ref(), &dir, next));
        let seg = res.map_err(|e| self.poison(e))?;
        self.segs.push(seg);
        self.mark_gone_range(self.last_seq + 1, next - 1);
        self.last_seq = next - 1;
        self.written_seq = self.last_seq;
        self.synced_seq = self.last_seq;
        // An active segment that was empty is now sealed and empty: drop it.
        self.maybe_dead = true;
        self.settle()
    }

    /// Writes gap records up to `next - 1`.
    fn fill_gap(&mut self, next: u64) -> Result<()> {
        let len = record_len(GAP_SUBJECT.len(), 0, 0) as u64;
        let ts = self.last_ts;
        let buffered = self.cfg.sync == SyncPolicy::Always && self.persist_tombs;
        while self.last_seq + 1 < next {
            if self.should_roll(len, ts)? {
                self.roll()?;
            }
            let seq = self.last_seq + 1;
            let rec = RecordRef {
                kind: Kind::Erased,
                seq,
                timestamp_ns: ts,
                subject: GAP_SUBJECT,
                headers: &[],
                payload: &[],
                expires_ns: None,
                batch_open: false,
            };
            let mut scratch = std::mem::take(&mut self.scratch);
            let written = self
                .active()
                .and_then(|a| a.write_record(&rec, &mut scratch, buffered));
            self.scratch = scratch;
            if let Err(e) = written {
                return Err(self.poison(e));
            }
            let active = self.active()?;
            let offset = active.len;
            active.push_gap((offset, len), ts);
            self.last_seq = seq;
            self.written_seq = seq;
            self.mark_gone(seq);
        }
        Ok(())
    }

    /// Roll before writing `len` more bytes at time `ts`?
    fn should_roll(&mut self, len: u64, ts: i64) -> Result<bool> {
        let size_max = self.cfg.segment_bytes_max;
        let age_max = self.cfg.segment_age_max;
        let active = self.active()?;
        if active.count() == 0 {
            return Ok(false);
        }
        let too_big = active.len + len > size_max;
        let first_ts = active.entry(active.base).map_or(ts, |e| e.timestamp_ns);
        let age_ns = u64::try_from(ts.saturating_sub(first_ts)).unwrap_or(0);
        let too_old = age_max.is_some_and(|a| u128::from(age_ns) >= a.as_nanos());
        Ok(too_big || too_old)
    }

    /// `counted`: the new message's size by the size rule.
    fn check_discard_new(&self, subject: &[u8], counted: u64) -> Result<()> {
        if self.cfg.discard != Discard::New {
            return Ok(());
        }
        if self.cfg.msgs_max.is_some_and(|m| self.msgs >= m) {
            return Err(StoreError::MaxMsgs);
        }
        if self.cfg.bytes_max.is_some_and(|m| self.bytes + counted > m) {
            return Err(StoreError::MaxBytes);
        }
        if let (Some(m), true) = (
            self.cfg.msgs_per_subject_max,
            self.cfg.discard_new_per_subject,
        ) {
            let count = self
                .subjects
                .id(subject)
                .map_or(0, |g| self.subjects.state(g).count);
            if count >= m {
                return Err(StoreError::MaxMsgsPerSubject);
            }
        }
        Ok(())
    }

    /// Drops the oldest messages of `gid` beyond the per-subject limit.
    pub fn enforce_subject_limit(&mut self, gid: u32, tomb: Tomb) {
        let Some(max) = self.cfg.msgs_per_subject_max else {
            return;
        };
        while self.subjects.state(gid).count > max {
            self.fix_dirty_subjects();
            let first = self.subjects.state(gid).first;
            if !self.remove_msg(first, tomb) {
                break;
            }
        }
    }

    /// Drops the oldest messages beyond `msgs_max` / `bytes_max`. These
    /// are tombstoned too: re-deriving them on open would give a different
    /// answer once explicit deletes are interleaved.
    pub fn enforce_count_limits(&mut self, tomb: Tomb) {
        while self.cfg.msgs_max.is_some_and(|m| self.msgs > m) && self.remove_first(tomb) {}
        while self.cfg.bytes_max.is_some_and(|m| self.bytes > m) && self.remove_first(tomb) {}
    }

    fn remove_first(&mut self, tomb: Tomb) -> bool {
        let first = self.first_seq;
        self.remove_msg(first, tomb)
    }

    /// Applies all limits (open and config update).
    pub fn enforce_all_limits(&mut self, now_ns: i64) -> Result<u64> {
        let before = self.msgs;
        if self.cfg.msgs_per_subject_max.is_some() {
            let gids: Vec<u32> = (0..self.subjects.states.len() as u32).collect();
            for gid in gids {
                self.enforce_subject_limit(gid, Tomb::Now);
            }
        }
        self.enforce_count_limits(Tomb::Now);
        self.expire_at(now_ns);
        self.persist_tomb_now()?;
        self.settle()?;
        Ok(before - self.msgs)
    }

    /// Removes messages older than `age_max` and messages whose own
    /// expiry time has come (both relative to `now_ns`).
    pub fn expire_at(&mut self, now_ns: i64) -> u64 {
        self.expire_by_age(now_ns) + self.expire_by_time(now_ns)
    }

    fn expire_by_age(&mut self, now_ns: i64) -> u64 {
        let Some(age) = self.cfg.age_max else {
            return 0;
        };
        let cutoff = now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
        let mut n = 0;
        let mut seq = self.first_seq;
        while seq <= self.last_seq && self.msgs > 0 {
            if let Some((_, end)) = self.deleted.run(seq) {
                seq = end + 1;
                continue;
            }
            if self.ts_of(seq).is_none_or(|t| t > cutoff) {
                break;
            }
            // A message that never expires is exempt from age as well.
            if !self.expiries.is_never(seq) && self.remove_expired(seq) {
                n += 1;
            }
            seq += 1;
        }
        n
    }

    fn expire_by_time(&mut self, now_ns: i64) -> u64 {
        let mut n = 0;
        while let Some(seq) = self.expiries.first_due(now_ns) {
            if !self.remove_expired(seq) {
                // Not live any more: only the index entry was left.
                self.expiries.remove(seq);
                continue;
            }
            n += 1;
        }
        n
    }

    /// Removes `seq` for expiry, keeping a copy for `take_expired_last`
    /// when it is its subject's last message. Expiry is re-derived on open
    /// from timestamps and stored expiry times, so it needs no tombstone.
    fn remove_expired(&mut self, seq: u64) -> bool {
        let last = self.cfg.report_expired_last
            && self.expired_last.len() < EXPIRED_LAST_MSGS_MAX
            && self
                .gid_of(seq)
                .is_some_and(|g| self.subjects.state(g).count == 1);
        let copy = if last { self.read_msg(seq).ok() } else { None };
        let removed = self.remove_msg(seq, Tomb::Derived);
        if let (true, Some(m)) = (removed, copy) {
            self.expired_last.push(m);
        }
        removed
    }

    /// Seals the active segment and starts a new one. The old one is
    /// fsynced first, so every sealed segment is fully durable.
    pub fn roll(&mut self) -> Result<()> {
        let io = self.io.clone();
        let dir = self.dir.clone();
        let names = self.subjects.names.clone();
        let base = self.last_seq + 1;
        let res = self
            .active()
            .and_then(|a| a.seal(io.as_ref(), &dir, &names));
        let res = res.and_then(|()| Segment::create(io.as_ref(), &dir, base));
        match res {
            Ok(seg) => {
                self.mark_synced(self.written_seq);
                self.segs.push(seg);
                Ok(())
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    /// Writes `tomb_now` to the log and syncs it (under `Always`).
    pub fn persist_tomb_now(&mut self) -> Result<()> {
        if self.tomb_now.is_empty() {
            return Ok(());
        }
        let mut seqs = std::mem::take(&mut self.tomb_now);
        seqs.sort_unstable();
        let ranges = to_ranges(seqs);
        let mut res = self.tombs.append(&ranges);
        if res.is_ok() && self.cfg.sync == SyncPolicy::Always {
            res = self.tombs.file().sync_data().map_err(Into::into);
            self.tombs.dirty = res.is_err();
        }
        res.map_err(|e| self.poison(e))
    }

    /// Deletes one message, optionally overwriting its bytes.
    pub fn delete(&mut self, seq: u64, erase: bool) -> Result<()> {
        self.check_writable()?;
        if !self.remove_msg(seq, Tomb::Now) {
            return Err(StoreError::NotFound);
        }
        self.persist_tomb_now()?;
        if erase {
            let always = self.cfg.sync == SyncPolicy::Always;
            let seg = self.locate(seq).and_then(|i| self.segs.get_mut(i));
            let res = seg.map_or(Ok(()), |s| {
                s.erase(seq).and_then(|()| {
                    // The active segment is synced by the flusher; a sealed
                    // one is synced here since nothing else will.
                    if s.is_active() || !always {
                        Ok(())
                    } else {
                        s.file.sync_data().map_err(Into::into)
                    }
                })
            });
            res.map_err(|e| self.poison(e))?;
        }
        self.settle()
    }

    /// JetStream purge. Returns the number of messages removed.
    pub fn purge(&mut self, req: &PurgeRequest) -> Result<u64> {
        self.check_writable()?;
        let before = self.msgs;
        let filter = req.subject.as_deref().map(SubjectFilter::new);
        match filter.filter(|f| !f.is_all()) {
            Some(f) => self.purge_filtered(&f, req.keep, req.up_to_seq)?,
            // JetStream rejects keep + seq together; if both come, apply
            // both rather than pick one.
            None if req.keep.is_some() && req.up_to_seq.is_some() => {
                self.purge_filtered(&SubjectFilter::all(), req.keep, req.up_to_seq)?
            }
            None => self.purge_front(req.keep, req.up_to_seq)?,
        }
        self.settle()?;
        Ok(before - self.msgs)
    }

    fn purge_front(&mut self, keep: Option<u64>, up_to: Option<u64>) -> Result<()> {
        let cut = match (keep, up_to) {
            (Some(k), _) if self.msgs <= k => return Ok(()),
            (Some(0), _) | (None, None) => self.last_seq + 1,
            (Some(k), _) => self.nth_live(self.msgs - k),
            (None, Some(n)) => n,
        };
        if cut > self.last_seq {
            return self.purge_all(cut);
        }
        if cut <= self.first_seq {
            return Ok(());
        }
        let from = self.first_seq;
        let mut res = self.tombs.append(&[crate::format::tomb::TombRange {
            first: from,
            last: cut - 1,
        }]);
        if res.is_ok() && self.cfg.sync == SyncPolicy::Always {
            res = self.tombs.file().sync_data().map_err(Into::into);
        }
        res.map_err(|e| self.poison(e))?;
        for seq in from..cut {
            self.remove_msg(seq, Tomb::Derived);
        }
        Ok(())
    }

    /// Sequence of the n-th live message counted from the front (n >= 1 is
    /// kept: the result is the first sequence to keep).
    fn nth_live(&self, n: u64) -> u64 {
        let mut left = n;
        let mut seq = self.first_seq;
        while left > 0 && seq <= self.last_seq {
            if self.is_live(seq) {
                left -= 1;
            }
            seq += 1;
        }
        while seq <= self.last_seq && !self.is_live(seq) {
            seq += 1;
        }
        seq
    }

    fn purge_filtered(
        &mut self,
        f: &SubjectFilter,
        keep: Option<u64>,
        up_to: Option<u64>,
    ) -> Result<()> {
        let to = up_to.map_or(self.last_seq, |n| n.saturating_sub(1));
        let mut seqs = Vec::new();
        self.scan_matching(self.first_seq, to, f, &mut |s| {
            seqs.push(s);
            true
        });
        if let Some(k) = keep {
            let k = usize::try_from(k).unwrap_or(usize::MAX);
            seqs.truncate(seqs.len().saturating_sub(k));
        }
        for s in seqs {
            self.remove_msg(s, Tomb::Now);
        }
        self.persist_tomb_now()
    }

    /// Removes everything; the next sequence becomes `new_first`. The
    /// tombstone covering the old range is made durable before any
    /// segment is deleted, so a crash halfway cannot resurrect messages.
    fn purge_all(&mut self, new_first: u64) -> Result<()> {
        let res = self.purge_all_io(new_first);
        res.map_err(|e| self.poison(e))
    }

    fn purge_all_io(&mut self, new_first: u64) -> Result<()> {
        let range = crate::format::tomb::TombRange {
            first: self.first_seq.min(new_first - 1),
            last: new_first - 1,
        };
        self.tombs.append(&[range])?;
        self.tombs.file().sync_data()?;
        let active = self.active()?;
        active.write_pending()?;
        active.file.sync_data()?;
        self.mark_synced(self.written_seq);
        // An empty active segment already starting at `new_first` has the
        // very file name we would create: keep it instead.
        let reuse = self
            .segs
            .last()
            .is_some_and(|s| s.base == new_first && s.count() == 0);
        let seg = match self.segs.pop() {
            Some(active) if reuse => active,
            popped => {
                self.segs.extend(popped);
                Segment::create(self.io.as_ref(), &self.dir, new_first)?
            }
        };
        let old = std::mem::replace(&mut self.segs, vec![seg]);
        for s in &old {
            self.io.remove_file(&s.path)?;
            let _ = self
                .io
                .remove_file(&self.dir.join(super::segment::idx_name(s.base)));
        }
        self.io.sync_dir(&self.dir)?;
        self.subjects.clear();
        self.deleted.clear();
        self.tomb_after.clear();
        self.expiries.clear();
        self.msgs = 0;
        self.bytes = 0;
        self.show_bytes();
        self.first_seq = new_first;
        self.last_seq = new_first - 1;
        self.written_seq = self.last_seq;
        self.synced_seq = self.last_seq;
        self.tombs.rewrite(self.io.as_ref(), &self.dir, &[])
    }
}
