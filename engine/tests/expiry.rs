//! Messages with an expiry time of their own: removed at that time, kept
//! from `age_max` when they never expire, counted like any message, and
//! still expiring after a crash or a clean reopen (sealed indexes,
//! checkpoints, scanned tails).
mod common;
use common::*;
use nile_engine::format::record::EXPIRES_NEVER;
use nile_engine::*;
use std::time::Duration;

const HOUR_NS: i64 = 3_600_000_000_000;
const RULE: SizeRule = SizeRule {
    msg_overhead_bytes: 30,
    headers_overhead_bytes: 4,
};
const HDR: &[u8] = b"NATS/1.0\r\nNats-TTL: 1h\r\n\r\n";

fn cfg() -> StoreConfig {
    StoreConfig {
        size_rule: RULE,
        ..small_cfg()
    }
}

fn put_expiring(s: &dyn StreamStore, subj: &str, expires: Option<i64>) -> u64 {
    let (seq, t) = s
        .append_expiring(subj.as_bytes(), HDR, b"value", seq_ts(), expires)
        .unwrap();
    t.wait().unwrap();
    seq
}

/// 60 messages over several 1 KiB segments, every third expiring in an
/// hour; returns the time they expire at and their bytes by the rule.
fn fill(s: &dyn StreamStore) -> (i64, u64) {
    let at = seq_ts() + HOUR_NS;
    let mut bytes = 0;
    for i in 0..60 {
        let expires = (i % 3 == 0).then_some(at);
        let subj = format!("k.{i}");
        put_expiring(s, &subj, expires);
        bytes += RULE.msg_bytes(subj.len(), HDR.len(), 5);
    }
    (at, bytes)
}

#[test]
fn removed_at_their_time_and_counted_like_any_message() {
    let s = FileStore::memory(cfg()).unwrap();
    let (at, bytes) = fill(&s);
    let st = s.state(false);
    assert_eq!((st.msgs, st.bytes), (60, bytes));
    assert_eq!(s.expire(at - 1).unwrap(), 0);
    assert_eq!(s.expire(at).unwrap(), 20);
    assert_eq!(s.state(false).msgs, 40);
    assert!(s.get(1).is_err(), "seq 1 expired");
    assert!(s.get(2).is_ok(), "seq 2 has no expiry time");
}

fn reopen_expires_the_same(crash: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(dir.path(), cfg()).unwrap();
    let (at, _) = fill(&s);
    s.delete(4, true).unwrap(); // an erased expiring record keeps its shape
    let before = s.state(false);
    if crash {
        drop(s);
    } else {
        s.close().unwrap();
    }
    let s = FileStore::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.state(false), before);
    assert!(s.verify().is_empty(), "{:?}", s.verify());
    assert_eq!(s.expire(at).unwrap(), 19);
    let kept: u64 = (0..60)
        .filter(|i| i % 3 != 0)
        .map(|i| RULE.msg_bytes(format!("k.{i}").len(), HDR.len(), 5))
        .sum();
    let after = s.state(false);
    assert_eq!((after.msgs, after.bytes), (40, kept));
}

#[test]
fn expiry_survives_a_crash() {
    reopen_expires_the_same(true);
}

#[test]
fn expiry_survives_a_clean_reopen() {
    reopen_expires_the_same(false);
}

#[test]
fn never_is_exempt_from_age() {
    let s = FileStore::memory(StoreConfig {
        age_max: Some(Duration::from_secs(3600)),
        ..cfg()
    })
    .unwrap();
    let old = seq_ts() - 2 * HOUR_NS;
    for (subj, expires) in [("a", None), ("b", Some(EXPIRES_NEVER)), ("c", None)] {
        let (_, t) = s
            .append_expiring(subj.as_bytes(), b"", b"v", old, expires)
            .unwrap();
        t.wait().unwrap();
    }
    s.expire(seq_ts()).unwrap();
    let st = s.state(false);
    assert_eq!((st.msgs, st.first_seq), (1, 2));
    assert_eq!(&s.get(2).unwrap().subject[..], b"b");
}

#[test]
fn subjects_emptied_by_expiry_are_reported() {
    let s = FileStore::memory(StoreConfig {
        report_expired_last: true,
        ..cfg()
    })
    .unwrap();
    let at = seq_ts() + HOUR_NS;
    put_expiring(&s, "a", Some(at));
    put_expiring(&s, "a", None);
    put_expiring(&s, "b", Some(at));
    put_expiring(&s, "c", Some(at + HOUR_NS));
    s.expire(at).unwrap();
    let last = s.take_expired_last();
    let subjects: Vec<&[u8]> = last.iter().map(|m| &m.subject[..]).collect();
    assert_eq!(subjects, vec![&b"b"[..]]);
    assert_eq!(&last[0].headers[..], HDR);
    assert!(s.take_expired_last().is_empty());
}

#[test]
fn nothing_is_reported_unless_asked() {
    let s = FileStore::memory(cfg()).unwrap();
    let at = seq_ts() + HOUR_NS;
    put_expiring(&s, "a", Some(at));
    s.expire(at).unwrap();
    assert!(s.take_expired_last().is_empty());
    assert_eq!(s.state(false).msgs, 0);
}

/// Power loss with torn tails: every acknowledged expiring message comes
/// back with its expiry time, and the sequences of lost unacknowledged
/// ones, reused by plain messages after the crash, do not expire.
#[test]
fn power_loss_keeps_acknowledged_expiry_times_only() {
    for seed in 1..20u64 {
        let io = nile_engine::io::SimIo::new();
        let s = sim_open(&io, cfg());
        let (at, _) = fill(&s);
        for i in 0..5 {
            // Not waited for: may be lost or torn.
            let subj = format!("late.{i}");
            let _ = s.append_expiring(subj.as_bytes(), HDR, b"v", seq_ts(), Some(at));
        }
        io.crash(Some(seed));
        drop(s);
        let s = sim_open(&io, cfg());
        let kept = s.state(false).last_seq;
        assert!(kept >= 60, "acknowledged messages lost (seed {seed})");
        for _ in kept..65 {
            put(&s, "plain", b"p");
        }
        s.expire(at).unwrap();
        let st = s.state(false);
        // 40 acked plain ones, the plain ones after the crash.
        assert_eq!(st.msgs, 40 + (65 - kept), "seed {seed}");
        assert!(s.verify().is_empty(), "seed {seed}");
    }
}
