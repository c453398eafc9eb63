//! The group-commit flusher: one background thread per file store. Each
//! round takes the highest written sequence, runs one `fdatasync` for
//! everything written since the previous round, then completes all those
//! tickets with one watermark update. Appends that arrive during the
//! fdatasync go into the next round. It also runs the expiry timer
//! (`age_max` and messages' own expiry times).
//! A caller that batches its own appends can run the same round on its own
//! thread instead (`FileStore::commit`), which saves two thread hand-offs.

use super::Shared;
use crate::error::StoreError;
use crate::types::SyncPolicy;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Upper bound of the group-commit linger (see [`linger`]).
const LINGER_MAX: Duration = Duration::from_millis(2);

/// How often expiry runs when `age_max` is set or messages expire.
const EXPIRE_INTERVAL: Duration = Duration::from_millis(250);

/// Wall clock in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Timings the flusher carries from round to round.
struct Rounds {
    last_sync: Instant,
    last_expire: Instant,
    last_batch: u64,
    last_fsync: Duration,
}

type Guard<'a> = parking_lot::MutexGuard<'a, super::state::State>;

/// Body of the flusher thread.
pub fn run(shared: Arc<Shared>) {
    let now = Instant::now();
    let mut r = Rounds {
        last_sync: now,
        last_expire: now,
        last_batch: 0,
        last_fsync: Duration::ZERO,
    };
    loop {
        let mut st = shared.state.lock();
        if !wait_for_work(&shared, &mut st, &r) {
            return;
        }
        if expiry_due(&st, &r) {
            r.last_expire = Instant::now();
            if st.poisoned.is_none() {
                st.expire_at(now_ns());
                let _ = st.settle();
            }
        }
        if st.poisoned.is_some() {
            continue;
        }
        // Rounds are serialised with the commits callers run on their own
        // threads (`FileStore::commit`); the lock order is round, then state.
        drop(st);
        let _round = shared.round.lock();
        let mut st = shared.state.lock();
        if !is_dirty(&st) {
            // A commit synced it while this thread waited for the round.
            continue;
        }
        if st.cfg.sync == SyncPolicy::Always {
            linger(&shared, &mut st, r.last_batch, r.last_fsync);
        }
        r.last_batch = st.written_seq.saturating_sub(st.synced_seq);
        let started = Instant::now();
        let synced = round(&shared, st);
        r.last_sync = Instant::now();
        if synced {
            r.last_fsync = r.last_sync - started;
        }
    }
}

/// Is an expiry pass due: the `age_max` interval has passed, or a
/// message's own expiry time has come (those are met on time, not at the
/// interval: a client may wait for exactly its TTL)?
fn expiry_due(st: &super::state::State, r: &Rounds) -> bool {
    if st.poisoned.is_some() {
        return false;
    }
    let age = st.cfg.age_max.is_some() && r.last_expire.elapsed() >= EXPIRE_INTERVAL;
    age || st.expiries.next_at().is_some_and(|at| at <= now_ns())
}

/// How long until the next message's own expiry time (zero if due).
fn until_next_expiry(st: &super::state::State) -> Option<Duration> {
    let at = st.expiries.next_at()?;
    let ns = u64::try_from(at.saturating_sub(now_ns())).unwrap_or(0);
    Some(Duration::from_nanos(ns))
}

/// Anything written, or removals tombstoned, since the last round?
fn is_dirty(st: &super::state::State) -> bool {
    st.poisoned.is_none()
        && (st.written_seq > st.synced_seq || !st.tomb_after.is_empty() || st.tombs.dirty)
}

/// One group commit: writes the buffered records with one `pwrite` (under
/// the lock: a page-cache copy), runs one `fdatasync` outside it for
/// everything written so far, then completes all those tickets at once.
/// The caller holds `shared.round`. False if there was nothing to sync.
pub(super) fn round(shared: &Shared, mut st: Guard<'_>) -> bool {
    let written = st.written_seq;
    let Some(active) = st.segs.last_mut() else {
        return false;
    };
    let file = active.file.clone();
    if let Err(e) = active.write_pending() {
        fail(shared, &mut st, e);
        return false;
    }
    drop(st);
    let res = file.sync_data();
    finish_round(shared, res, written);
    true
}

/// Waits until a sync or an expiry is due. False once the store closed.
fn wait_for_work(shared: &Shared, st: &mut Guard<'_>, r: &Rounds) -> bool {
    loop {
        if st.closed {
            return false;
        }
        let dirty = is_dirty(st);
        let sync_due = match st.cfg.sync {
            SyncPolicy::Always => dirty,
            SyncPolicy::Interval(d) => dirty && r.last_sync.elapsed() >= d,
        };
        if sync_due || expiry_due(st, r) {
            return true;
        }
        let wait = match st.cfg.sync {
            SyncPolicy::Always => EXPIRE_INTERVAL,
            SyncPolicy::Interval(d) => d.min(EXPIRE_INTERVAL),
        };
        let wait = until_next_expiry(st).map_or(wait, |d| d.min(wait));
        shared.work.wait_for(st, wait);
    }
}

/// After the segment fdatasync: persist the removals it made safe, then
/// complete every ticket up to `written` at once.
fn finish_round(shared: &Shared, res: std::io::Result<()>, written: u64) {
    let mut st = shared.state.lock();
    if let Err(e) = res {
        fail(shared, &mut st, e.into());
        return;
    }
    st.mark_synced(written);
    let (ready, later): (Vec<_>, Vec<_>) =
        st.tomb_after.drain(..).partition(|(c, _)| *c <= written);
    st.tomb_after = later;
    let mut ranges: Vec<_> = ready.into_iter().map(|(_, r)| r).collect();
    ranges.sort_unstable_by_key(|r| r.first);
    if let Err(e) = st.tombs.append(&ranges) {
        fail(shared, &mut st, e);
        return;
    }
    let tomb_file = st.tombs.dirty.then(|| st.tombs.file());
    st.tombs.dirty = false;
    drop(st);
    if let Some(f) = tomb_file {
        if let Err(e) = f.sync_data() {
            let mut st = shared.state.lock();
            fail(shared, &mut st, e.into());
            return;
        }
    }
    shared.dur.advance(written);
    housekeeping(shared);
}

/// Now that removals up to the synced point are tombstoned durably: drop
/// segments they emptied and compact the tombstone log if it has grown.
fn housekeeping(shared: &Shared) {
    let mut st = shared.state.lock();
    if st.poisoned.is_some() {
        return;
    }
    let pending: Vec<_> = st.tomb_after.iter().map(|(_, r)| *r).collect();
    if let Err(e) = st.compact_tombs(&pending).and_then(|()| st.settle()) {
        fail(shared, &mut st, e);
    }
}

/// Group commit without linger syncs whatever was written the moment the
/// previous fdatasync returns, which with a bounded number of appends in
/// flight settles at about half of them per fdatasync. So wait, at most a
/// quarter of the last fdatasync's duration (and `LINGER_MAX`), until as
/// many records are written as the last round covered. A lone synchronous
/// appender (last round: 1 record) never waits.
fn linger(
    shared: &Shared,
    st: &mut parking_lot::MutexGuard<'_, super::state::State>,
    last_batch: u64,
    last_fsync: Duration,
) {
    let deadline = Instant::now() + (last_fsync / 4).min(LINGER_MAX);
    while st.written_seq.saturating_sub(st.synced_seq) < last_batch
        && !st.closed
        && Instant::now() < deadline
    {
        shared.work.wait_until(st, deadline);
    }
}

fn fail(shared: &Shared, st: &mut super::state::State, e: StoreError) {
    let e = st.poison(e);
    shared.dur.fail(e.to_string());
}
