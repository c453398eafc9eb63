//! The per-subject index: one small record per distinct subject (count,
//! first and last live sequence), never one per message. Which segments
//! hold a subject is in each segment's own subject table.

use crate::hash::FxMap;
use bytes::Bytes;

/// Facts about one subject across the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjState {
    /// Live messages.
    pub count: u64,
    /// First live sequence (valid when `count > 0` and not dirty).
    pub first: u64,
    /// Last live sequence (valid when `count > 0` and not dirty).
    pub last: u64,
}

/// Interned subjects and their state.
#[derive(Default)]
pub struct Subjects {
    /// Global id to subject.
    pub names: Vec<Bytes>,
    ids: FxMap<Bytes, u32>,
    /// Global id to state.
    pub states: Vec<SubjState>,
    /// Subjects with `count > 0`.
    pub live: u64,
    /// Ids whose first/last may point at a removed message.
    pub dirty: Vec<u32>,
    /// The id interned last: appends often repeat a subject, and one
    /// comparison is cheaper than hashing it.
    recent: Option<u32>,
}

impl Subjects {
    /// Id of `subject`, interning it if new.
    pub fn intern(&mut self, subject: &[u8]) -> u32 {
        if let Some(id) = self.recent {
            if self
                .names
                .get(id as usize)
                // The last byte first: mixed subjects (keys, counters)
                // mostly differ there, and then no memcmp is called.
                .is_some_and(|n| n.last() == subject.last() && n[..] == *subject)
            {
                return id;
            }
        }
        let id = match self.ids.get(subject) {
            Some(id) => *id,
            None => {
                let id = self.names.len() as u32;
                let b = Bytes::copy_from_slice(subject);
                self.names.push(b.clone());
                self.ids.insert(b, id);
                self.states.push(SubjState::default());
                id
            }
        };
        self.recent = Some(id);
        id
    }

    /// Id of `subject` if known.
    pub fn id(&self, subject: &[u8]) -> Option<u32> {
        self.ids.get(subject).copied()
    }

    /// State of `gid`.
    pub fn state(&self, gid: u32) -> SubjState {
        self.states.get(gid as usize).copied().unwrap_or_default()
    }

    /// A message with this subject was added at `seq` (the newest).
    pub fn add(&mut self, gid: u32, seq: u64) {
        if let Some(s) = self.states.get_mut(gid as usize) {
            if s.count == 0 {
                self.live += 1;
                s.first = seq;
            }
            s.count += 1;
            s.last = seq;
        }
    }

    /// Adds `n` live messages spanning `first..=last` (loading a segment).
    pub fn add_range(&mut self, gid: u32, n: u64, first: u64, last: u64) {
        let Some(s) = self.states.get_mut(gid as usize) else {
            return;
        };
        if n == 0 {
            return;
        }
        if s.count == 0 {
            self.live += 1;
            s.first = first;
        }
        s.first = s.first.min(first);
        s.count += n;
        s.last = s.last.max(last);
        self.dirty.push(gid);
    }

    /// `n` messages with this subject were removed, one of them possibly
    /// at the subject's first or last sequence.
    pub fn remove(&mut self, gid: u32, n: u64, seq: Option<u64>) {
        let Some(s) = self.states.get_mut(gid as usize) else {
            return;
        };
        s.count = s.count.saturating_sub(n);
        if s.count == 0 {
            self.live = self.live.saturating_sub(1);
            *s = SubjState::default();
        } else if seq.is_none_or(|q| q == s.first || q == s.last) {
            self.dirty.push(gid);
        }
    }

    /// Forgets everything (full purge).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_gives_one_id_per_subject_whatever_the_order() {
        let mut s = Subjects::default();
        let a = s.intern(b"a.b");
        assert_eq!(s.intern(b"a.b"), a, "the same subject again");
        let b = s.intern(b"a.c");
        assert_ne!(a, b);
        assert_eq!(s.intern(b"a.b"), a, "back to an earlier one");
        assert_eq!(
            s.intern(b"a.bc"),
            2,
            "a longer subject with the recent one as prefix"
        );
        assert_eq!(s.intern(b"a.c"), b);
        assert_eq!(s.names.len(), 3);
        s.clear();
        assert_eq!(s.intern(b"a.c"), 0, "ids start over after a clear");
    }
}
