//! Atomic batch appends: all or nothing under limits and across a crash.
mod common;
use common::*;
use nile_engine::coding::Decode;
use nile_engine::format::record::RecordFrame;
use nile_engine::io::{Io, SimIo};
use nile_engine::*;
use std::path::{Path, PathBuf};

fn batch_of(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("b.{i}"), format!("batch {i}").into_bytes()))
        .collect()
}

fn msgs(parts: &[(String, Vec<u8>)]) -> Vec<BatchMsg<'_>> {
    parts
        .iter()
        .map(|(s, p)| BatchMsg {
            subject: s.as_bytes(),
            headers: b"",
            payload: p,
            expires_ns: None,
        })
        .collect()
}

fn last_segment(io: &SimIo) -> PathBuf {
    io.list_dir(Path::new("/s"))
        .unwrap()
        .into_iter()
        .map(|n| Path::new("/s").join(n))
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .max()
        .unwrap()
}

fn record_offsets(seg: &[u8]) -> Vec<usize> {
    let mut at = 32;
    let mut out = Vec::new();
    while let Ok((_, n)) = RecordFrame::decode_from(&seg[at..]) {
        out.push(at);
        at += n;
    }
    out
}

#[test]
fn a_batch_is_one_ticket_and_consecutive_sequences() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    put(&s, "a", b"one");
    let parts = batch_of(4);
    let (last, t) = s.append_batch(&msgs(&parts), seq_ts()).unwrap();
    t.wait().unwrap();
    assert_eq!(last, 5);
    for (i, (subj, payload)) in parts.iter().enumerate() {
        let m = s.get(2 + i as u64).unwrap();
        assert_eq!(
            (&m.subject[..], &m.payload[..]),
            (subj.as_bytes(), &payload[..])
        );
    }
    assert_eq!(put(&s, "a", b"after"), 6);
}

#[test]
fn a_torn_batch_is_dropped_whole() {
    let io = SimIo::new();
    let s = sim_open(&io, small_cfg());
    for _ in 0..3 {
        put(&s, "a", b"before");
    }
    let parts = batch_of(5);
    let (last, t) = s.append_batch(&msgs(&parts), seq_ts()).unwrap();
    t.wait().unwrap();
    assert_eq!(last, 8);
    s.close().unwrap();
    let seg = last_segment(&io);
    let bytes = io.read_raw(&seg).unwrap();
    let offs = record_offsets(&bytes);
    // The batch never spans segments: its five records end this one.
    assert!(offs.len() >= 5, "{offs:?}");
    let batch_start = offs[offs.len() - 5];
    let kept_before = 3;
    for cut in batch_start..=bytes.len() {
        let disk = SimIo::new();
        for name in io.list_dir(Path::new("/s")).unwrap() {
            let p = Path::new("/s").join(name);
            let mut b = io.read_raw(&p).unwrap();
            if p == seg {
                b.truncate(cut);
            }
            disk.write_raw(&p, b);
        }
        let s = sim_open(&disk, small_cfg());
        let st = s.state(false);
        let want = if cut == bytes.len() { 8 } else { kept_before };
        assert_eq!((st.msgs, st.last_seq), (want, want), "cut at {cut}");
        assert_eq!(put(&s, "a", b"next"), want + 1, "cut at {cut}");
    }
}

#[test]
fn discard_new_limits_refuse_the_whole_batch() {
    let io = SimIo::new();
    let cfg = StoreConfig {
        msgs_max: Some(4),
        discard: Discard::New,
        ..small_cfg()
    };
    let s = sim_open(&io, cfg);
    put(&s, "a", b"one");
    let parts = batch_of(4);
    let refused = s.append_batch(&msgs(&parts), seq_ts()).map(|(seq, _)| seq);
    assert!(matches!(refused, Err(StoreError::MaxMsgs)), "{refused:?}");
    assert_eq!(s.state(false).msgs, 1);
    let (last, _) = s.append_batch(&msgs(&parts[..3]), seq_ts()).unwrap();
    assert_eq!(last, 4);
}
