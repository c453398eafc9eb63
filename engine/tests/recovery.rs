//! Torn tails, bit flips, and injected I/O errors.
mod common;
use common::*;
use nile_engine::coding::Decode;
use nile_engine::format::record::RecordFrame;
use nile_engine::io::{Fault, Io, SimIo};
use nile_engine::*;
use std::path::{Path, PathBuf};

fn payload(seq: u64) -> Vec<u8> {
    (0..(seq % 50 + 5)).map(|i| (seq * 7 + i) as u8).collect()
}

/// Writes `n` messages and closes cleanly.
fn fill(io: &SimIo, n: u64) {
    let s = sim_open(io, small_cfg());
    for seq in 1..=n {
        let (got, t) = s
            .append(
                format!("r.{}", seq % 3).as_bytes(),
                b"",
                &payload(seq),
                seq as i64,
            )
            .unwrap();
        assert_eq!(got, seq);
        t.wait().unwrap();
    }
    s.close().unwrap();
}

fn files(io: &SimIo) -> Vec<PathBuf> {
    io.list_dir(Path::new("/s"))
        .unwrap()
        .into_iter()
        .map(|n| Path::new("/s").join(n))
        .collect()
}

fn copy_disk(from: &SimIo, edit: impl Fn(&Path, Vec<u8>) -> Vec<u8>) -> SimIo {
    let to = SimIo::new();
    for f in files(from) {
        let bytes = from.read_raw(&f).unwrap();
        to.write_raw(&f, edit(&f, bytes));
    }
    to
}

/// Record start offsets in a segment file.
fn record_offsets(seg: &[u8]) -> Vec<usize> {
    let mut at = 32;
    let mut out = Vec::new();
    while let Ok((_, n)) = RecordFrame::decode_from(&seg[at..]) {
        out.push(at);
        at += n;
    }
    out
}

fn check_prefix(s: &FileStore, n: u64) {
    let st = s.state(false);
    assert_eq!((st.msgs, st.last_seq), (n, n));
    for seq in 1..=n {
        assert_eq!(s.get(seq).unwrap().payload.as_ref(), &payload(seq)[..]);
    }
}

#[test]
fn truncation_at_every_byte_of_last_three_records() {
    let io = SimIo::new();
    fill(&io, 40);
    let last_seg = files(&io)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .max()
        .unwrap();
    let bytes = io.read_raw(&last_seg).unwrap();
    let offs = record_offsets(&bytes);
    assert!(offs.len() >= 3, "need 3 records in the last segment");
    let first_cut = offs[offs.len() - 3];
    let total = 40u64;
    for cut in first_cut..bytes.len() {
        let whole = offs.iter().filter(|o| **o < cut).count() as u64;
        let complete_before = if offs.contains(&cut) {
            whole
        } else {
            whole - 1
        };
        let expect = total - offs.len() as u64 + complete_before;
        let disk = copy_disk(
            &io,
            |p, b| if p == last_seg { b[..cut].to_vec() } else { b },
        );
        for _ in 0..10 {
            let s = sim_open(&disk, small_cfg());
            check_prefix(&s, expect);
            drop(s);
        }
        // Appending after recovery continues the sequence.
        let s = sim_open(&disk, small_cfg());
        assert_eq!(put(&s, "r.x", b"after"), expect + 1);
    }
}

#[test]
fn bit_flips_in_sealed_segments_are_detected() {
    let io = SimIo::new();
    fill(&io, 60);
    let segs: Vec<PathBuf> = files(&io)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    let sealed = &segs[..segs.len() - 1];
    let mut rng = 0x9e3779b97f4a7c15u64;
    for round in 0..200 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let target = &sealed[(rng % sealed.len() as u64) as usize];
        let len = io.read_raw(target).unwrap().len() as u64;
        let bit = rng % (len * 8);
        let drop_index = round % 2 == 1;
        let disk = copy_disk(&io, |p, mut b| {
            if p == target {
                b[(bit / 8) as usize] ^= 1 << (bit % 8);
            }
            b
        });
        if drop_index {
            let idx = target.with_extension("idx");
            disk.remove_file(&idx).unwrap();
        }
        let s = sim_open(&disk, small_cfg());
        let problems = s.verify();
        assert!(
            !problems.is_empty(),
            "flip of bit {bit} in {} not detected",
            target.display()
        );
        // Every other message is intact and byte-exact.
        let mut bad = 0;
        for seq in 1..=60 {
            match s.get(seq) {
                Ok(m) => assert_eq!(m.payload.as_ref(), &payload(seq)[..]),
                Err(StoreError::Corrupted { .. }) | Err(StoreError::NotFound) => bad += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(bad <= 1, "one flip damaged {bad} messages");
    }
}

fn workload(s: &FileStore, acked: &mut Vec<u64>) -> Result<()> {
    for seq in 1..=12u64 {
        let (got, t) = s.append(b"w.a", b"hdr", &payload(seq), seq as i64)?;
        t.wait()?;
        acked.push(got);
        if seq == 6 {
            // A failed delete may or may not have happened: stop checking 3.
            acked.retain(|x| *x != 3);
            s.delete(3, true)?;
        }
    }
    // Same for the purged ones.
    let keep_from = acked.len().saturating_sub(8);
    acked.drain(..keep_from);
    s.purge(&PurgeRequest {
        keep: Some(8),
        ..Default::default()
    })?;
    Ok(())
}

#[test]
fn io_errors_at_every_call_fail_stop_and_recover() {
    // Count the calls of a clean run first.
    let probe = SimIo::new();
    let s = sim_open(&probe, small_cfg());
    let start = probe.calls();
    workload(&s, &mut Vec::new()).unwrap();
    let calls = probe.calls() - start;
    drop(s);
    for fault in [Fault::Eio, Fault::Enospc, Fault::TornWrite] {
        for n in 0..calls + 5 {
            let io = SimIo::new();
            let s = sim_open(&io, small_cfg());
            io.fail_at(n, fault);
            let mut acked = Vec::new();
            let res = workload(&s, &mut acked);
            if res.is_err() {
                // Fail-stop: nothing more is acknowledged.
                let later = s
                    .append(b"w.a", b"", b"late", 0)
                    .and_then(|(_, t)| t.wait());
                assert!(
                    later.is_err(),
                    "append acknowledged after a failure (fault {fault:?} at {n})"
                );
            }
            io.crash(None);
            drop(s);
            let s = sim_open(&io, small_cfg());
            for seq in &acked {
                let m = s
                    .get(*seq)
                    .unwrap_or_else(|e| panic!("acked {seq} lost ({fault:?} at {n}): {e}"));
                assert_eq!(m.payload.as_ref(), &payload(*seq)[..]);
            }
            assert!(s.verify().is_empty());
            put(&s, "w.b", b"after");
        }
    }
}
