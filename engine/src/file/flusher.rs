//! The group-commit flusher: one background thread per file store. Each
//! round takes the highest written sequence, runs one `fdatasync` for
//! everything written since the previous round, then completes all those
//! tickets with one watermark update. Appends that arrive during the
//! fdatasync go into the next round. It also runs the `age_max` timer.

use super::Shared;
use crate::error::StoreError;
use crate::types::SyncPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often expiry runs when `age_max` is set.
const EXPIRE_INTERVAL: Duration = Duration::from_millis(250);

/// Wall clock in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Body of the flusher thread.
pub fn run(shared: Arc<Shared>) {
    let mut last_sync = Instant::now();
    let mut last_expire = Instant::now();
    loop {
        let mut st = shared.state.lock();
        loop {
            if st.closed {
                return;
            }
            let dirty = st.poisoned.is_none()
                && (st.written_seq > st.synced_seq || !st.tomb_after.is_empty() || st.tombs.dirty);
            let sync_due = match st.cfg.sync {
                SyncPolicy::Always => dirty,
                SyncPolicy::Interval(d) => dirty && last_sync.elapsed() >= d,
            };
            let expire_due = st.cfg.age_max.is_some() && last_expire.elapsed() >= EXPIRE_INTERVAL;
            if sync_due || expire_due {
                break;
            }
            let wait = match st.cfg.sync {
                SyncPolicy::Always => EXPIRE_INTERVAL,
                SyncPolicy::Interval(d) => d.min(EXPIRE_INTERVAL),
            };
            shared.work.wait_for(&mut st, wait);
        }
        if st.cfg.age_max.is_some() && last_expire.elapsed() >= EXPIRE_INTERVAL {
            last_expire = Instant::now();
            if st.poisoned.is_none() {
                st.expire_at(now_ns());
                let _ = st.settle();
            }
        }
        if st.poisoned.is_some() {
            continue;
        }
        let written = st.written_seq;
        let Some(file) = st.segs.last().map(|s| s.file.clone()) else {
            continue;
        };
        drop(st);
        let res = file.sync_data();
        last_sync = Instant::now();
        let mut st = shared.state.lock();
        if let Err(e) = res {
            fail(&shared, &mut st, e.into());
            continue;
        }
        st.synced_seq = st.synced_seq.max(written);
        let (ready, later): (Vec<_>, Vec<_>) =
            st.tomb_after.drain(..).partition(|(c, _)| *c <= written);
        st.tomb_after = later;
        let mut seqs: Vec<u64> = ready.into_iter().map(|(_, s)| s).collect();
        seqs.sort_unstable();
        if let Err(e) = st.tombs.append(&super::tomblog::to_ranges(seqs)) {
            fail(&shared, &mut st, e);
            continue;
        }
        let tomb_file = st.tombs.dirty.then(|| st.tombs.file());
        st.tombs.dirty = false;
        drop(st);
        if let Some(f) = tomb_file {
            if let Err(e) = f.sync_data() {
                let mut st = shared.state.lock();
                fail(&shared, &mut st, e.into());
                continue;
            }
        }
        shared.dur.advance(written);
        housekeeping(&shared);
    }
}

/// Now that removals up to the synced point are tombstoned durably: drop
/// segments they emptied and compact the tombstone log if it has grown.
fn housekeeping(shared: &Shared) {
    let mut st = shared.state.lock();
    if st.poisoned.is_some() {
        return;
    }
    let pending: Vec<u64> = st.tomb_after.iter().map(|(_, s)| *s).collect();
    if let Err(e) = st.compact_tombs(&pending).and_then(|()| st.settle()) {
        fail(shared, &mut st, e);
    }
}

fn fail(shared: &Shared, st: &mut super::state::State, e: StoreError) {
    let e = st.poison(e);
    shared.dur.fail(e.to_string());
}
