//! Byte accounting by a caller-chosen size rule: state, limits, and the
//! same totals after reopening (sealed indexes, checkpoints, tombstones).
mod common;
use common::*;
use nile_engine::*;

/// The rule nats-server uses for file streams (30 bytes, 4 more with headers).
const RULE: SizeRule = SizeRule {
    msg_overhead_bytes: 30,
    headers_overhead_bytes: 4,
};
const HDR: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";

fn cfg() -> StoreConfig {
    StoreConfig {
        size_rule: RULE,
        ..small_cfg()
    }
}

/// Appends `n` messages on `a.<i % 3>`, every other one with headers;
/// returns the expected byte total.
fn fill(s: &FileStore, n: u64) -> u64 {
    let mut want = 0;
    for i in 0..n {
        let subj = format!("a.{}", i % 3);
        let hdr = if i % 2 == 0 { HDR } else { b"" };
        let payload = vec![7u8; (i % 50) as usize];
        let (_, t) = s.append(subj.as_bytes(), hdr, &payload, i as i64).unwrap();
        t.wait().unwrap();
        want += RULE.msg_bytes(subj.len(), hdr.len(), payload.len());
    }
    want
}

#[test]
fn bytes_follow_the_rule_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(dir.path(), cfg()).unwrap();
    let mut want = fill(&s, 200);
    assert_eq!(s.state(false).bytes, want);
    // Sequence 4 is i = 3 (no headers, 3 bytes of payload), 5 is i = 4
    // (headers, 4 bytes of payload).
    s.delete(4, false).unwrap();
    s.delete(5, true).unwrap();
    want -= (30 + 3 + 3) + (30 + 4 + 3 + HDR.len() as u64 + 4);
    assert_eq!(s.state(false).bytes, want);
    s.close().unwrap();
    drop(s);
    let s = FileStore::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.state(false).bytes, want);
    // Without a clean close: no checkpoint of the active segment.
    let more = fill(&s, 10);
    drop(s);
    let s = FileStore::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.state(false).bytes, want + more);
    assert_eq!(s.bytes(), want + more, "bytes() after recovery");
    s.purge(&PurgeRequest::default()).unwrap();
    assert_eq!((s.state(false).bytes, s.bytes()), (0, 0));
}

#[test]
fn memory_store_counts_by_the_rule() {
    let rule = SizeRule {
        msg_overhead_bytes: 16,
        headers_overhead_bytes: 0,
    };
    let s = FileStore::memory(StoreConfig {
        size_rule: rule,
        ..small_cfg()
    })
    .unwrap();
    put(&s, "m.a", b"hello");
    let _ = s.append(b"m.a", HDR, b"", 2).unwrap();
    assert_eq!(
        s.state(false).bytes,
        (16 + 3 + 5) + (16 + 3 + HDR.len() as u64)
    );
}

#[test]
fn bytes_max_boundary_is_inclusive() {
    // Each message counts 30 + 3 = 33 bytes: two fill 66 exactly.
    for discard in [Discard::New, Discard::Old] {
        let s = FileStore::memory(StoreConfig {
            bytes_max: Some(66),
            discard,
            ..cfg()
        })
        .unwrap();
        put(&s, "b.a", b"");
        put(&s, "b.a", b"");
        assert_eq!((s.state(false).msgs, s.state(false).bytes), (2, 66));
        let third = s.append(b"b.a", b"", b"", 3);
        let st = s.state(false);
        match discard {
            Discard::New => assert!(matches!(third, Err(StoreError::MaxBytes))),
            Discard::Old => assert!(third.is_ok() && st.first_seq == 2),
        }
        assert_eq!((st.msgs, st.bytes), (2, 66));
    }
}

#[test]
fn size_rule_cannot_change_on_update() {
    let s = FileStore::memory(cfg()).unwrap();
    let bad = StoreConfig {
        size_rule: SizeRule::RECORD,
        ..cfg()
    };
    assert!(s.update_config(bad).is_err());
}
