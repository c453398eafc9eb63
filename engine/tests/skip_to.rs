//! `skip_to`: a mirror's gaps survive close, crash and reopen.
mod common;
use common::*;
use nile_engine::io::SimIo;
use nile_engine::*;

fn live_seqs(s: &dyn StreamStore) -> Vec<u64> {
    let mut out = Vec::new();
    let mut seq = 1;
    while let Ok(Some(m)) = s.next_matching(seq, &SubjectFilter::all()) {
        out.push(m.seq);
        seq = m.seq + 1;
    }
    out
}

#[test]
fn gaps_in_an_empty_and_a_filled_store_survive_reopen() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    s.skip_to(5).unwrap();
    assert_eq!(put(&s, "a", b"x"), 5);
    put(&s, "a", b"y");
    s.skip_to(10).unwrap();
    // Twice in a row (an append failed in between) must not break anything.
    s.skip_to(12).unwrap();
    assert_eq!(put(&s, "b", b"z"), 12);
    s.skip_to(3).unwrap(); // not past the end: no-op
    assert_eq!(put(&s, "b", b"w"), 13);
    let st = s.state(true);
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (5, 13, 4));
    assert_eq!(st.num_deleted, 5);
    s.close().unwrap();

    let s = sim_open(&io, small_cfg());
    assert_eq!(live_seqs(&s), vec![5, 6, 12, 13]);
    assert_eq!(put(&s, "c", b"v"), 14);
    drop(s);
    io.crash(None);
    let s = sim_open(&io, small_cfg());
    assert_eq!(live_seqs(&s), vec![5, 6, 12, 13, 14]);
    let st = s.state(false);
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (5, 14, 5));
}

#[test]
fn a_skip_at_the_end_before_any_append_survives_a_crash() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    put(&s, "a", b"x");
    // A long gap starts a synced segment: kept as it is.
    s.skip_to(100_000).unwrap();
    drop(s);
    io.crash(None);
    let s = sim_open(&io, small_cfg());
    assert_eq!(s.state(false).last_seq, 99_999);
    assert_eq!(put(&s, "a", b"y"), 100_000);
    // A short one is written like messages: a crash may take back part of it.
    s.skip_to(100_050).unwrap();
    drop(s);
    io.crash(None);
    let s = sim_open(&io, small_cfg());
    let last = s.state(false).last_seq;
    assert!((100_000..100_050).contains(&last), "{last}");
    s.skip_to(100_050).unwrap();
    assert_eq!(put(&s, "a", b"z"), 100_050);
    assert_eq!(live_seqs(&s), vec![1, 100_000, 100_050]);
}

fn seg_files(io: &SimIo) -> usize {
    use nile_engine::io::Io;
    io.list_dir(std::path::Path::new("/s"))
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".seg"))
        .count()
}

#[test]
fn short_gaps_are_filled_in_place_and_survive_rolls_reopen_and_crash() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    put(&s, "a", b"x");
    let segs = seg_files(&io);
    s.skip_to(4).unwrap();
    assert_eq!(put(&s, "a", b"y"), 4);
    assert_eq!(seg_files(&io), segs, "a short gap needs no new segment");
    // Many short gaps across segment rolls (1 KiB segments).
    let mut want = vec![1, 4];
    let mut seq = 4;
    for i in 0..60u64 {
        seq += 1 + i % 5;
        s.skip_to(seq).unwrap();
        assert_eq!(put(&s, "b", b"0123456789"), seq);
        want.push(seq);
    }
    assert_eq!(live_seqs(&s), want);
    assert!(s.verify().is_empty(), "{:?}", s.verify());
    let st = s.state(false);
    assert_eq!(st.msgs, want.len() as u64);
    assert_eq!(st.num_deleted, seq - want.len() as u64);
    let bytes = st.bytes;
    s.close().unwrap();

    let s = sim_open(&io, small_cfg());
    assert_eq!(live_seqs(&s), want);
    assert_eq!(s.state(false).bytes, bytes, "gap records count no bytes");
    assert!(s.verify().is_empty(), "{:?}", s.verify());
    s.skip_to(seq + 3).unwrap();
    drop(s);
    io.crash(None);
    // The gap after the last message may or may not have been written; either
    // way nothing appears and the next append lands where the mirror wants.
    let s = sim_open(&io, small_cfg());
    assert_eq!(live_seqs(&s), want);
    s.skip_to(seq + 3).unwrap();
    assert_eq!(put(&s, "c", b"z"), seq + 3);
    assert_eq!(s.state(false).msgs, want.len() as u64 + 1);
}
