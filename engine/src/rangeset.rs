//! A set of sequences stored as disjoint, non-adjacent inclusive ranges.
//!
//! Deleted sequences come in runs (purges, expired front, every old
//! revision of a KV key between two live ones), so a run costs one map
//! entry however long it is.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent `[start, end]` ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (inclusive).
    map: BTreeMap<u64, u64>,
    len: u64,
}

impl RangeSet {
    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of ranges (memory use).
    pub fn range_count(&self) -> usize {
        self.map.len()
    }

    /// The range holding `x`, if any.
    pub fn run(&self, x: u64) -> Option<(u64, u64)> {
        let (s, e) = self.map.range(..=x).next_back()?;
        (*e >= x).then_some((*s, *e))
    }

    /// Is `x` in the set?
    pub fn contains(&self, x: u64) -> bool {
        self.run(x).is_some()
    }

    /// Adds `x`; false if it was there.
    pub fn insert(&mut self, x: u64) -> bool {
        if self.contains(x) {
            return false;
        }
        self.insert_range(x, x);
        true
    }

    /// Adds `a..=b` (elements already present are fine).
    pub fn insert_range(&mut self, a: u64, b: u64) {
        if a > b {
            return;
        }
        let (mut lo, mut hi) = (a, b);
        // Absorb every range that overlaps or touches [a, b].
        let touching: Vec<(u64, u64)> = self
            .map
            .range(..=b.saturating_add(1))
            .rev()
            .take_while(|(_, e)| **e >= a.saturating_sub(1))
            .map(|(s, e)| (*s, *e))
            .collect();
        for (s, e) in touching {
            self.map.remove(&s);
            self.len -= e - s + 1;
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.map.insert(lo, hi);
        self.len += hi - lo + 1;
    }

    /// Removes `x`; false if absent.
    pub fn remove(&mut self, x: u64) -> bool {
        let Some((s, e)) = self.run(x) else {
            return false;
        };
        self.map.remove(&s);
        if s < x {
            self.map.insert(s, x - 1);
        }
        if x < e {
            self.map.insert(x + 1, e);
        }
        self.len -= 1;
        true
    }

    /// Removes every element of `a..=b`.
    pub fn remove_range(&mut self, a: u64, b: u64) {
        if a > b {
            return;
        }
        let hit: Vec<(u64, u64)> = self
            .map
            .range(..=b)
            .rev()
            .take_while(|(_, e)| **e >= a)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (s, e) in hit {
            self.map.remove(&s);
            self.len -= e - s + 1;
            if s < a {
                self.map.insert(s, a - 1);
                self.len += a - s;
            }
            if e > b {
                self.map.insert(b + 1, e);
                self.len += e - b;
            }
        }
    }

    /// Removes the range starting exactly at `x`, returning its end.
    pub fn take_run_at(&mut self, x: u64) -> Option<u64> {
        let e = self.map.remove(&x)?;
        self.len -= e - x + 1;
        Some(e)
    }

    /// Elements `>= x`.
    pub fn count_from(&self, x: u64) -> u64 {
        // At most one range starts at or before `x` and reaches it.
        let head = self.run(x).map_or(0, |(_, e)| e - x + 1);
        let tail: u64 = self
            .map
            .range(x.saturating_add(1)..)
            .map(|(s, e)| e - s + 1)
            .sum();
        head + tail
    }

    /// All ranges, ascending.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(s, e)| (*s, *e))
    }

    /// All elements, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges().flat_map(|(s, e)| s..=e)
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.map.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn matches_btreeset(ops in proptest::collection::vec((0..3u8, 0..60u64, 0..5u64), 1..200)) {
            let mut rs = RangeSet::default();
            let mut m = BTreeSet::new();
            for (k, x, w) in ops {
                match k {
                    0 => prop_assert_eq!(rs.insert(x), m.insert(x)),
                    1 if w == 0 => prop_assert_eq!(rs.remove(x), m.remove(&x)),
                    1 => {
                        rs.remove_range(x, x + w);
                        (x..=x + w).for_each(|q| { m.remove(&q); });
                    }
                    _ => {
                        rs.insert_range(x, x + w);
                        m.extend(x..=x + w);
                    }
                }
                prop_assert_eq!(rs.len(), m.len() as u64);
                let want: Vec<u64> = m.iter().copied().collect();
                prop_assert_eq!(rs.iter().collect::<Vec<_>>(), want);
                for q in 0..70 {
                    prop_assert_eq!(rs.count_from(q), m.range(q..).count() as u64);
                }
                let mut prev: Option<u64> = None;
                for (s, e) in rs.ranges() {
                    prop_assert!(s <= e);
                    if let Some(p) = prev { prop_assert!(s > p + 1, "ranges must not touch"); }
                    prev = Some(e);
                }
            }
        }
    }
}
