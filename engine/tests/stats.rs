//! The process-wide sync statistics, filled by real stores on disk. One
//! test in its own binary, so no other test's fsyncs land in the counts.

use nile_engine::stats::{sync_stats, HistogramSnapshot};
use nile_engine::{FileStore, StoreConfig, StreamStore, SyncPolicy};

const APPENDS: u64 = 40;

fn snapshots() -> (HistogramSnapshot, HistogramSnapshot) {
    let s = sync_stats();
    (s.fsync_ns.snapshot(), s.group_commit_records.snapshot())
}

fn assert_cumulative(h: &HistogramSnapshot) {
    let counts: Vec<u64> = h.buckets.iter().map(|b| b.1).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{h:?}");
    assert!(counts.last().is_some_and(|&last| last <= h.count), "{h:?}");
}

#[test]
fn disk_stores_count_fsyncs_and_records_memory_stores_do_not() {
    let (fsync0, commit0) = snapshots();

    let mem = FileStore::memory(StoreConfig::default()).unwrap();
    for _ in 0..10 {
        let (_, t) = mem.append(b"m", b"", b"x", 1).unwrap();
        t.wait().unwrap();
    }
    mem.close().unwrap();
    assert_eq!(snapshots(), (fsync0.clone(), commit0.clone()));

    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        sync: SyncPolicy::Always,
        ..StoreConfig::default()
    };
    let disk = FileStore::open(dir.path(), cfg).unwrap();
    let (f_open, _) = snapshots();
    // A new store's files are synced by its first append, not at open.
    assert_eq!(
        f_open.count, fsync0.count,
        "creating a store defers its fsyncs"
    );
    for _ in 0..APPENDS {
        let (_, t) = disk.append(b"d", b"", b"payload", 1).unwrap();
        t.wait().unwrap();
    }
    let (fsync, commit) = snapshots();
    // Each append waited for its own durability: at least one fsync each.
    assert!(fsync.count >= f_open.count + APPENDS, "{fsync:?}");
    assert!(fsync.sum > fsync0.sum);
    assert_eq!(commit.sum - commit0.sum, APPENDS, "{commit:?}");
    assert!(commit.count > commit0.count);
    assert!(commit.count - commit0.count <= APPENDS);
    assert_cumulative(&fsync);
    assert_cumulative(&commit);
    disk.close().unwrap();
}
