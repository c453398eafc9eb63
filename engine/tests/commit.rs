//! Commits run on the caller's thread (`append_for_commit` + `commit`):
//! the tickets complete before `commit` returns, what they acknowledge
//! survives a power loss, and failures still reach the tickets.
mod common;
use common::*;
use nile_engine::io::{Fault, SimIo};
use nile_engine::*;
use std::sync::Arc;

#[test]
fn commit_on_this_thread_makes_every_append_durable_before_returning() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    // Enough to roll segments of 1 KiB several times, so a commit also
    // meets records a roll already synced.
    let mut tickets = Vec::new();
    for i in 0..40u64 {
        let (seq, t) = s
            .append_for_commit(b"c.a", b"", &[i as u8; 100], seq_ts(), None)
            .unwrap();
        assert_eq!(seq, i + 1);
        tickets.push(t);
        if i % 7 == 6 {
            s.commit(true);
            for t in &tickets {
                assert!(matches!(t.try_result(), Some(Ok(()))), "seq {}", t.seq());
            }
        }
    }
    s.commit(true);
    assert!(tickets
        .iter()
        .all(|t| matches!(t.try_result(), Some(Ok(())))));
    io.crash(None);
    drop(s);
    let s = sim_open(&io, small_cfg());
    assert_eq!(s.state(false).msgs, 40);
    for seq in 1..=40u64 {
        assert_eq!(
            s.get(seq).unwrap().payload.as_ref(),
            &[(seq - 1) as u8; 100]
        );
    }
    assert!(s.verify().is_empty());
}

#[test]
fn a_commit_left_to_the_flusher_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(dir.path(), StoreConfig::default()).unwrap();
    let (_, t) = s
        .append_for_commit(b"c.b", b"", b"one", seq_ts(), None)
        .unwrap();
    s.commit(false);
    t.wait().unwrap();
    // A caller that never commits: the flusher's periodic check syncs it.
    let (_, t) = s
        .append_for_commit(b"c.b", b"", b"two", seq_ts(), None)
        .unwrap();
    t.wait().unwrap();
    assert_eq!(s.state(false).msgs, 2);
}

#[test]
fn a_failed_commit_fails_its_tickets_and_the_store() {
    for fault in [Fault::Eio, Fault::TornWrite, Fault::Enospc] {
        for at in 0..2 {
            let io = SimIo::new();
            let s = sim_open(&io, small_cfg());
            put(&s, "c.c", b"before");
            let (_, t) = s
                .append_for_commit(b"c.c", b"", b"doomed", seq_ts(), None)
                .unwrap();
            // The next call is the commit's pwrite, the one after its fdatasync.
            io.fail_at(at, fault);
            s.commit(true);
            assert!(t.wait().is_err(), "{fault:?} at {at} acknowledged");
            let later = s.append_for_commit(b"c.c", b"", b"late", seq_ts(), None);
            assert!(later.is_err(), "{fault:?} at {at}: store still writable");
            io.crash(None);
            drop(s);
            let s = sim_open(&io, small_cfg());
            assert_eq!(s.get(1).unwrap().payload.as_ref(), b"before");
        }
    }
}

#[test]
fn commits_from_many_threads_and_the_flusher_interleave_safely() {
    let io = SimIo::new();
    let s = Arc::new(sim_open(&io, small_cfg()));
    let threads: Vec<_> = (0..4u8)
        .map(|n| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..200u32 {
                    let payload = [n, (i % 251) as u8];
                    let subject = format!("c.t{n}");
                    // Two of the threads leave the sync to the flusher.
                    let (seq, t) = if n < 2 {
                        let r =
                            s.append_for_commit(subject.as_bytes(), b"", &payload, seq_ts(), None);
                        let r = r.unwrap();
                        s.commit(true);
                        r
                    } else {
                        s.append(subject.as_bytes(), b"", &payload, seq_ts())
                            .unwrap()
                    };
                    t.wait().unwrap();
                    acked.push((seq, payload));
                }
                acked
            })
        })
        .collect();
    let acked: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    io.crash(None);
    drop(s);
    let s = sim_open(&io, small_cfg());
    assert_eq!(acked.len(), 800);
    for (seq, payload) in acked {
        assert_eq!(s.get(seq).unwrap().payload.as_ref(), &payload);
    }
    assert!(s.verify().is_empty());
}
