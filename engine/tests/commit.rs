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

/// Lengths of the `.seg` files in `dir`, by name.
fn seg_lens(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_active_segment_is_preallocated_and_sealed_ones_are_cut_to_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        segment_bytes_max: 4096,
        ..StoreConfig::default()
    };
    let s = FileStore::open(dir.path(), cfg.clone()).unwrap();
    for i in 0..100u32 {
        let (_, t) = s
            .append_for_commit(b"p.a", b"", &[i as u8; 100], seq_ts(), None)
            .unwrap();
        s.commit(true);
        t.wait().unwrap();
    }
    let lens = seg_lens(dir.path());
    assert!(lens.len() > 2, "{lens:?}");
    let (sealed, active) = lens.split_at(lens.len() - 1);
    for (name, len) in sealed {
        assert!(
            *len <= 4096 + 200,
            "sealed {name} keeps its preallocation: {len}"
        );
    }
    assert!(
        active[0].1 >= 64 * 1024,
        "active segment not preallocated: {active:?}"
    );
    // A crash: no clean close. Reopening drops the zeros and goes on.
    drop(s);
    let s = FileStore::open(dir.path(), cfg.clone()).unwrap();
    assert_eq!(s.state(false).msgs, 100);
    for seq in 1..=100u64 {
        assert_eq!(
            s.get(seq).unwrap().payload.as_ref(),
            &[(seq - 1) as u8; 100]
        );
    }
    assert!(s.verify().is_empty());
    put(&s, "p.a", b"after");
    s.close().unwrap();
    let s = FileStore::open(dir.path(), cfg).unwrap();
    assert_eq!(s.get(101).unwrap().payload.as_ref(), b"after");
    assert!(s.verify().is_empty());
}

#[test]
fn a_torn_record_before_the_preallocated_zeros_is_cut_on_open() {
    for seed in 1..40u64 {
        let io = SimIo::new();
        let s = sim_open(&io, small_cfg());
        let mut acked = 0;
        for i in 0..12u64 {
            let (seq, t) = s
                .append_for_commit(b"p.t", b"", &[i as u8; 60], seq_ts(), None)
                .unwrap();
            if i % 4 == 3 {
                s.commit(true);
                t.wait().unwrap();
                acked = seq;
            }
        }
        // Written, not synced: the crash keeps a seed-chosen prefix of it.
        s.commit(false);
        io.crash(Some(seed));
        drop(s);
        let s = sim_open(&io, small_cfg());
        let st = s.state(false);
        assert!(st.last_seq >= acked, "seed {seed}: acked {acked} lost");
        for seq in 1..=st.last_seq {
            assert_eq!(s.get(seq).unwrap().payload.as_ref(), &[(seq - 1) as u8; 60]);
        }
        assert!(s.verify().is_empty(), "seed {seed}");
        put(&s, "p.t", b"after");
    }
}

#[test]
fn durable_through_gives_the_whole_watermark_once_a_ticket_is_durable() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    let mut tickets = Vec::new();
    for i in 0..5u64 {
        let (_, t) = s
            .append_for_commit(b"c.w", b"", &[i as u8; 10], seq_ts(), None)
            .unwrap();
        tickets.push(t);
    }
    assert!(tickets[0].durable_through().is_none(), "nothing synced yet");
    s.commit(true);
    // The first ticket reports the mark of all five: the rest need no check.
    assert_eq!(tickets[0].durable_through().unwrap().unwrap(), 5);
    let (_, late) = s
        .append_for_commit(b"c.w", b"", b"late", seq_ts(), None)
        .unwrap();
    assert!(late.durable_through().is_none());
    assert_eq!(tickets[4].durable_through().unwrap().unwrap(), 5);
    io.fail_at(0, Fault::Eio);
    s.commit(true);
    assert!(
        late.durable_through().unwrap().is_err(),
        "a failed sync fails it"
    );
    assert_eq!(
        tickets[2].durable_through().unwrap().unwrap(),
        5,
        "durable stays durable"
    );
}
