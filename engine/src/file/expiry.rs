//! The expiry index: live messages that carry an expiry time of their own,
//! by sequence and by time. The times themselves live in the records (see
//! `docs/format.md`); this index is rebuilt from them on open.

use crate::format::record::EXPIRES_NEVER;
use std::collections::{BTreeMap, BTreeSet};

/// Messages with an expiry time. One entry per such live message: streams
/// without expiring messages pay one empty map per lookup.
#[derive(Debug, Default)]
pub struct Expiries {
    by_seq: BTreeMap<u64, i64>,
    /// (expiry time, sequence), earliest first; never-expiring messages are
    /// only in `by_seq`.
    by_time: BTreeSet<(i64, u64)>,
}

impl Expiries {
    /// Adds (or replaces) the expiry of `seq`.
    pub fn insert(&mut self, seq: u64, at_ns: i64) {
        self.remove(seq);
        self.by_seq.insert(seq, at_ns);
        if at_ns != EXPIRES_NEVER {
            self.by_time.insert((at_ns, seq));
        }
    }

    /// The index of `found` (sequence, expiry time) pairs, built in bulk
    /// (opening).
    pub fn from_found(found: Vec<(u64, i64)>) -> Self {
        let by_time = found
            .iter()
            .filter(|(_, at)| *at != EXPIRES_NEVER)
            .map(|(seq, at)| (*at, *seq))
            .collect();
        Self {
            by_seq: found.into_iter().collect(),
            by_time,
        }
    }

    /// Forgets `seq` (it was removed by any means).
    pub fn remove(&mut self, seq: u64) {
        if self.by_seq.is_empty() {
            return;
        }
        if let Some(at) = self.by_seq.remove(&seq) {
            self.by_time.remove(&(at, seq));
        }
    }

    /// Forgets everything (full purge).
    pub fn clear(&mut self) {
        self.by_seq.clear();
        self.by_time.clear();
    }

    /// The message at `seq` is exempt from `age_max`.
    pub fn is_never(&self, seq: u64) -> bool {
        !self.by_seq.is_empty() && self.by_seq.get(&seq) == Some(&EXPIRES_NEVER)
    }

    /// The earliest expiry time still to come (or already due).
    pub fn next_at(&self) -> Option<i64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// The earliest sequence whose expiry time is at or before `now_ns`.
    pub fn first_due(&self, now_ns: i64) -> Option<u64> {
        self.by_time
            .first()
            .filter(|(at, _)| *at <= now_ns)
            .map(|(_, seq)| *seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_time_order_and_never_is_not_timed() {
        let mut e = Expiries::default();
        e.insert(1, 50);
        e.insert(2, 10);
        e.insert(3, EXPIRES_NEVER);
        assert!(e.is_never(3));
        assert!(!e.is_never(1));
        assert_eq!(e.first_due(5), None);
        assert_eq!(e.next_at(), Some(10));
        assert_eq!(e.first_due(10), Some(2));
        e.remove(2);
        assert_eq!(e.first_due(100), Some(1));
        e.remove(1);
        assert_eq!(e.next_at(), None);
        assert!(e.is_never(3));
        e.clear();
        assert!(!e.is_never(3));
    }
}
