//! Reads that use the per-subject index: next match, last by subject,
//! pending counts, per-subject counts.

use super::segment::Segment;
use super::state::State;
use crate::subject::SubjectFilter;
use std::collections::{BTreeMap, HashMap};

/// Memoised "does global subject id match the filter".
struct Matcher<'a> {
    filter: &'a SubjectFilter,
    memo: HashMap<u32, bool>,
}

impl<'a> Matcher<'a> {
    fn new(filter: &'a SubjectFilter) -> Self {
        Self {
            filter,
            memo: HashMap::new(),
        }
    }

    fn gid(&mut self, st: &State, gid: u32) -> bool {
        if self.filter.is_all() {
            return true;
        }
        *self.memo.entry(gid).or_insert_with(|| {
            st.subjects
                .names
                .get(gid as usize)
                .is_some_and(|n| self.filter.matches(n))
        })
    }

    /// Per local subject id of `seg`: matches and has live messages.
    fn locals(&mut self, st: &State, seg: &Segment) -> Vec<bool> {
        seg.subjects
            .iter()
            .map(|s| s.live > 0 && self.gid(st, s.gid))
            .collect()
    }
}

impl State {
    /// Global ids of the literal subjects in a literal filter.
    fn literal_gids(&self, f: &SubjectFilter) -> Vec<u32> {
        f.patterns()
            .iter()
            .filter_map(|p| self.subjects.id(p))
            .collect()
    }

    /// Calls `visit` for each live matching sequence in `from..=to`, in
    /// order, until it returns false. Segments without a matching live
    /// subject are skipped without reading them.
    pub fn scan_matching(
        &self,
        from: u64,
        to: u64,
        f: &SubjectFilter,
        visit: &mut dyn FnMut(u64) -> bool,
    ) {
        let from = from.max(self.first_seq);
        let to = to.min(self.last_seq);
        let mut m = Matcher::new(f);
        for seg in self
            .segs
            .iter()
            .filter(|s| s.end_seq() > from && s.base <= to)
        {
            let mask = m.locals(self, seg);
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            for (s, _) in seg.subjects.iter().zip(&mask).filter(|(_, ok)| **ok) {
                lo = lo.min(s.first);
                hi = hi.max(s.last);
            }
            for seq in from.max(lo)..=to.min(hi) {
                let hit = seg
                    .entry(seq)
                    .is_some_and(|e| mask.get(e.subject as usize) == Some(&true));
                if hit && self.is_live(seq) && !visit(seq) {
                    return;
                }
            }
        }
    }

    /// First live sequence at or after `start` matching `f`.
    pub fn next_matching_seq(&self, start: u64, f: &SubjectFilter) -> Option<u64> {
        let start = start.max(self.first_seq);
        if start > self.last_seq || self.msgs == 0 {
            return None;
        }
        if f.is_all() {
            let s = self.deleted.run(start).map_or(start, |(_, end)| end + 1);
            return (s <= self.last_seq).then_some(s);
        }
        if f.is_literal() {
            return self
                .literal_gids(f)
                .into_iter()
                .filter_map(|g| {
                    let st = self.subjects.state(g);
                    (st.count > 0 && st.last >= start)
                        .then(|| self.find_subject(g, start.max(st.first), st.last, true))
                        .flatten()
                })
                .min();
        }
        let mut found = None;
        self.scan_matching(start, self.last_seq, f, &mut |s| {
            found = Some(s);
            false
        });
        found
    }

    /// Sequence of the last live message matching `f`.
    pub fn last_matching_seq(&self, f: &SubjectFilter) -> Option<u64> {
        if f.is_all() {
            return (self.msgs > 0).then_some(self.last_live());
        }
        let gids: Vec<u32> = if f.is_literal() {
            self.literal_gids(f)
        } else {
            let mut m = Matcher::new(f);
            (0..self.subjects.names.len() as u32)
                .filter(|g| m.gid(self, *g))
                .collect()
        };
        gids.into_iter()
            .map(|g| self.subjects.state(g))
            .filter(|s| s.count > 0)
            .map(|s| s.last)
            .max()
    }

    fn last_live(&self) -> u64 {
        // `deleted` holds maximal runs above `first_seq`, which is live.
        match self.deleted.run(self.last_seq) {
            Some((start, _)) => start - 1,
            None => self.last_seq,
        }
    }

    /// Exact count of matching live messages at or after `start`; with
    /// `last_per_subject`, the number of matching subjects whose last
    /// message is at or after `start`.
    pub fn num_pending(&self, start: u64, f: &SubjectFilter, last_per_subject: bool) -> u64 {
        let start = start.max(self.first_seq);
        if start > self.last_seq || self.msgs == 0 {
            return 0;
        }
        if last_per_subject {
            return self.matching_states(f).filter(|s| s.last >= start).count() as u64;
        }
        if f.is_all() {
            let gaps = self.deleted.count_from(start);
            return self.last_seq - start + 1 - gaps;
        }
        if start == self.first_seq {
            return self.matching_states(f).map(|s| s.count).sum();
        }
        let mut m = Matcher::new(f);
        let mut n = 0u64;
        for seg in self.segs.iter().filter(|s| s.end_seq() > start) {
            if seg.base >= start {
                let mask = m.locals(self, seg);
                n += seg
                    .subjects
                    .iter()
                    .zip(mask)
                    .filter(|(_, ok)| *ok)
                    .map(|(s, _)| s.live)
                    .sum::<u64>();
            } else {
                let mask = m.locals(self, seg);
                n += (start..seg.end_seq())
                    .filter(|q| {
                        seg.entry(*q)
                            .is_some_and(|e| mask.get(e.subject as usize) == Some(&true))
                            && self.is_live(*q)
                    })
                    .count() as u64;
            }
        }
        n
    }

    fn matching_states<'s>(
        &'s self,
        f: &'s SubjectFilter,
    ) -> Box<dyn Iterator<Item = super::subjects::SubjState> + 's> {
        if f.is_literal() {
            let g = self.literal_gids(f);
            return Box::new(
                g.into_iter()
                    .map(|g| self.subjects.state(g))
                    .filter(|s| s.count > 0),
            );
        }
        Box::new(
            self.subjects
                .names
                .iter()
                .zip(&self.subjects.states)
                .filter(|(n, s)| s.count > 0 && f.matches(n))
                .map(|(_, s)| *s),
        )
    }

    /// Live message count per matching subject.
    pub fn subjects_state(&self, f: &SubjectFilter) -> BTreeMap<String, u64> {
        self.subjects
            .names
            .iter()
            .zip(&self.subjects.states)
            .filter(|(n, s)| s.count > 0 && f.matches(n))
            .map(|(n, s)| (String::from_utf8_lossy(n).into_owned(), s.count))
            .collect()
    }

    /// First live sequence whose timestamp is at or after `ts` (start by
    /// time). Binary search over segments, then entries.
    pub fn seq_for_time(&self, ts: i64) -> Option<u64> {
        if self.msgs == 0 {
            return None;
        }
        let si = self.segs.partition_point(|s| {
            s.entry(s.end_seq().saturating_sub(1))
                .is_some_and(|e| e.timestamp_ns < ts)
        });
        let seg = self.segs.get(si)?;
        let (mut lo, mut hi) = (seg.base, seg.end_seq());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if seg.entry(mid).is_some_and(|e| e.timestamp_ns < ts) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.next_matching_seq(lo, &SubjectFilter::all())
    }
}
