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
fn a_skip_at_the_end_is_kept_before_any_append() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    put(&s, "a", b"x");
    s.skip_to(100).unwrap();
    drop(s);
    io.crash(None);
    let s = sim_open(&io, small_cfg());
    assert_eq!(s.state(false).last_seq, 99);
    assert_eq!(put(&s, "a", b"y"), 100);
    assert_eq!(live_seqs(&s), vec![1, 100]);
}
