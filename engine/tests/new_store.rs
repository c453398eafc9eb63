//! New stores are cheap: the flusher thread starts on the first append (or
//! at open when the store holds messages), and a new store's files are
//! synced by that first append rather than at creation, so hundreds of empty
//! streams cost no threads and no fsyncs; appends still complete only once
//! synced. Alone in its test binary: it counts this process's threads.
use nile_engine::*;

/// The tests of this binary run one at a time: the other test's stores run
/// flusher threads too, which the thread count would see.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Flusher threads once the count settles at `want` (a new thread names
/// itself when it starts running), or the count after a second.
fn flusher_threads_settled(want: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let n = flusher_threads();
        if n == want || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn flusher_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "nile-flusher")
        .count()
}

#[test]
fn flusher_starts_on_first_append() {
    let _serial = serial();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores: Vec<_> = dirs
        .iter()
        .map(|d| FileStore::open(d.path(), StoreConfig::default()).unwrap())
        .collect();
    assert_eq!(flusher_threads(), 0);
    let (seq, ticket) = stores[1].append(b"a", b"", b"x", 1).unwrap();
    ticket.wait().unwrap();
    assert_eq!((seq, flusher_threads()), (1, 1));
    for s in &stores {
        s.close().unwrap();
    }
    drop(stores);
    assert_eq!(flusher_threads_settled(0), 0);
    // Reopened with a message: the flusher runs from the start.
    let s = FileStore::open(dirs[1].path(), StoreConfig::default()).unwrap();
    assert_eq!((s.state(false).msgs, flusher_threads_settled(1)), (1, 1));
    let empty = FileStore::open(dirs[0].path(), StoreConfig::default()).unwrap();
    assert_eq!(flusher_threads(), 1);
    drop(empty);
}

/// A new store's files are synced by its first append, not at creation:
/// a crash before it loses only empty files, which opening recreates, and
/// an acknowledged first append survives a crash.
#[test]
fn new_store_files_are_synced_by_the_first_append() {
    let _serial = serial();
    use nile_engine::io::SimIo;
    use std::path::Path;
    use std::sync::Arc;
    let io = SimIo::new();
    let open = |io: &SimIo| {
        FileStore::open_with_io(
            Arc::new(io.clone()),
            Path::new("/s"),
            StoreConfig::default(),
        )
        .unwrap()
    };
    drop(open(&io));
    io.crash(Some(7));
    let s = open(&io);
    // A segment file that survived without its header (torn creation).
    io.write_raw(Path::new("/s/00000000000000000001.seg"), Vec::new());
    drop(s);
    let s = open(&io);
    let (seq, t) = s.append(b"a", b"", b"kept", 1).unwrap();
    t.wait().unwrap();
    drop(s);
    io.crash(Some(3));
    let s = open(&io);
    assert_eq!(s.get(seq).unwrap().payload.as_ref(), b"kept");
    assert!(s.verify().is_empty(), "{:?}", s.verify());
}
