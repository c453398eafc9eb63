//! Durability statistics for monitoring: how long each `fdatasync` takes and
//! how many records each group commit made durable.
//!
//! One process-wide [`SyncStats`] ([`sync_stats`]), summed over every store,
//! so a deleted stream never takes its counts with it (Prometheus counters
//! must only go up). Recording is a few relaxed atomic adds, done once per
//! fsync by whoever issued it, never per append.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of the fsync histogram: 1 µs doubling up to 2^24 µs (about 16.8 s).
pub const FSYNC_BUCKETS: usize = 25;
/// Upper bound of the first fsync bucket, in nanoseconds.
pub const FSYNC_BUCKET_FIRST_NS: u64 = 1_000;
/// Buckets of the group-commit histogram: 1 record doubling up to 65,536.
pub const GROUP_COMMIT_BUCKETS: usize = 17;

/// A histogram over fixed log-scale buckets: bucket `i` counts observations
/// `<= first * 2^i`; one more counts everything above the last bound.
/// Lock-free: observing is two relaxed adds. A snapshot reads each bucket
/// once and accumulates those reads, so its counts are monotone even while
/// observations land (the sum may lag or lead them by one).
pub struct LogHistogram<const N: usize> {
    first: u64,
    /// `N` bounded buckets and the overflow bucket.
    counts: [AtomicU64; N],
    overflow: AtomicU64,
    sum: AtomicU64,
}

/// A point-in-time copy of a [`LogHistogram`], cumulative as Prometheus wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations <= bound)`, bounds ascending.
    pub buckets: Vec<(u64, u64)>,
    /// Every observation, the overflow ones included (the `+Inf` bucket).
    pub count: u64,
    /// Sum of the observed values, in the histogram's unit.
    pub sum: u64,
}

impl<const N: usize> LogHistogram<N> {
    /// An empty histogram whose first bucket ends at `first` (at least 1).
    pub const fn new(first: u64) -> Self {
        LogHistogram {
            first: if first == 0 { 1 } else { first },
            counts: [const { AtomicU64::new(0) }; N],
            overflow: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    /// Index of the bucket `v` falls in; `N` for the overflow bucket.
    fn index(&self, v: u64) -> usize {
        let q = v.div_ceil(self.first);
        if q <= 1 {
            return 0;
        }
        // ceil(log2(q)) for q >= 2.
        let i = (u64::BITS - (q - 1).leading_zeros()) as usize;
        i.min(N)
    }

    /// Records one observation of `v`.
    pub fn observe(&self, v: u64) {
        match self.counts.get(self.index(v)) {
            Some(c) => c.fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Upper bound of bucket `i`.
    fn bound(&self, i: usize) -> u64 {
        self.first.saturating_mul(1u64 << i.min(63))
    }

    /// Cumulative counts per bound. `count` is summed from the buckets read,
    /// so the `+Inf` bucket always equals the last bounded one or more.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0u64;
        let mut buckets = Vec::with_capacity(N);
        for (i, c) in self.counts.iter().enumerate() {
            running += c.load(Ordering::Relaxed);
            buckets.push((self.bound(i), running));
        }
        HistogramSnapshot {
            buckets,
            count: running + self.overflow.load(Ordering::Relaxed),
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

/// The engine's durability numbers.
pub struct SyncStats {
    /// Nanoseconds per `fdatasync` of a file the engine writes on disk
    /// (segments, tombstone logs, consumer state, metadata).
    pub fsync_ns: LogHistogram<FSYNC_BUCKETS>,
    /// Records (appended messages) made durable per group-commit fsync.
    pub group_commit_records: LogHistogram<GROUP_COMMIT_BUCKETS>,
}

impl SyncStats {
    /// Empty statistics.
    pub const fn new() -> Self {
        SyncStats {
            fsync_ns: LogHistogram::new(FSYNC_BUCKET_FIRST_NS),
            group_commit_records: LogHistogram::new(1),
        }
    }

    /// Records one fdatasync that took `d`.
    pub fn fsync(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.fsync_ns.observe(ns);
    }

    /// Records one group commit that made `records` records durable.
    pub fn group_commit(&self, records: u64) {
        if records > 0 {
            self.group_commit_records.observe(records);
        }
    }
}

impl Default for SyncStats {
    fn default() -> Self {
        Self::new()
    }
}

static SYNC_STATS: SyncStats = SyncStats::new();

/// The process-wide statistics every store records into.
pub fn sync_stats() -> &'static SyncStats {
    &SYNC_STATS
}

/// Runs `sync` (an fdatasync) and records its duration, failed or not.
pub(crate) fn timed_sync(sync: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    let res = sync();
    SYNC_STATS.fsync(started.elapsed());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log_scale_and_inclusive() {
        let h: LogHistogram<4> = LogHistogram::new(10);
        // Bounds 10, 20, 40, 80; above 80 overflows.
        for v in [0, 10, 11, 20, 21, 40, 80, 81, 1_000] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(10, 2), (20, 4), (40, 6), (80, 7)]);
        assert_eq!(s.count, 9);
        assert_eq!(s.sum, 1_263);
    }

    #[test]
    fn fsync_and_group_commit_land_in_their_buckets() {
        let st = SyncStats::new();
        st.fsync(Duration::from_micros(1));
        st.fsync(Duration::from_micros(3));
        st.fsync(Duration::from_secs(60));
        st.group_commit(0);
        st.group_commit(1);
        st.group_commit(100);
        let f = st.fsync_ns.snapshot();
        assert_eq!(f.buckets.len(), FSYNC_BUCKETS);
        assert_eq!(f.buckets.first(), Some(&(1_000, 1)));
        assert_eq!(f.buckets.get(2), Some(&(4_000, 2)));
        assert_eq!(f.buckets.last(), Some(&(1_000 << 24, 2)));
        assert_eq!(f.count, 3);
        let g = st.group_commit_records.snapshot();
        assert_eq!(g.count, 2, "a round with no records is not a group commit");
        assert_eq!(g.sum, 101);
        assert_eq!(g.buckets.get(6), Some(&(64, 1)));
        assert_eq!(g.buckets.get(7), Some(&(128, 2)));
        let cumulative: Vec<u64> = g.buckets.iter().map(|b| b.1).collect();
        assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
    }
}
