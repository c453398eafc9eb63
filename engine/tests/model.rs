//! Model-based test: random operations against the store and a BTreeMap
//! model, with clean reopens and simulated power loss in between.
mod common;
use common::*;
use nile_engine::io::SimIo;
use nile_engine::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SUBJECTS: [&str; 5] = ["s.0", "s.1", "s.2", "s.3", "t.x"];
const FILTERS: [&str; 6] = ["s.0", "s.*", "t.>", ">", "s.3", "x.y"];

#[derive(Debug, Clone)]
enum Op {
    Append(usize, usize),
    Delete(usize, bool),
    Purge(Option<usize>, Option<u64>, Option<usize>),
    Limits(Option<u64>, Option<u64>),
    Reopen,
    Crash(u64),
    CrashUnacked(u8, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..5usize, 0..120usize).prop_map(|(s, n)| Op::Append(s, n)),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, e)| Op::Delete(i, e)),
        1 => (proptest::option::of(0..6usize), proptest::option::of(0..4u64), proptest::option::of(any::<usize>()))
            .prop_map(|(f, k, u)| Op::Purge(f, k, u)),
        1 => (proptest::option::of(5..30u64), proptest::option::of(1..4u64)).prop_map(|(a, b)| Op::Limits(a, b)),
        1 => Just(Op::Reopen),
        1 => any::<u64>().prop_map(Op::Crash),
        1 => (1..4u8, any::<u64>()).prop_map(|(n, s)| Op::CrashUnacked(n, s)),
    ]
}

#[derive(Default)]
struct Model {
    msgs: BTreeMap<u64, (String, Vec<u8>)>,
    last: u64,
    first_floor: u64,
    cfg: StoreConfig,
}

impl Model {
    fn first(&self) -> u64 {
        self.msgs
            .keys()
            .next()
            .copied()
            .unwrap_or(self.last + 1)
            .max(self.first_floor)
    }
    fn enforce(&mut self, subj: Option<&str>) {
        if let Some(max) = self.cfg.msgs_per_subject_max {
            let subjects: Vec<String> = match subj {
                Some(s) => vec![s.to_string()],
                None => SUBJECTS.iter().map(|s| s.to_string()).collect(),
            };
            for s in subjects {
                let seqs: Vec<u64> = self
                    .msgs
                    .iter()
                    .filter(|(_, v)| v.0 == s)
                    .map(|(k, _)| *k)
                    .collect();
                for k in seqs.iter().take(seqs.len().saturating_sub(max as usize)) {
                    self.msgs.remove(k);
                }
            }
        }
        if let Some(max) = self.cfg.msgs_max {
            while self.msgs.len() as u64 > max {
                let k = *self.msgs.keys().next().unwrap();
                self.msgs.remove(&k);
            }
        }
    }
    fn purge(&mut self, f: Option<&str>, keep: Option<u64>, up_to: Option<u64>) {
        let filt = f.map(SubjectFilter::new).unwrap_or_else(SubjectFilter::all);
        if (f.is_none() || filt.is_all()) && keep.is_none() && up_to.is_none_or(|n| n > self.last) {
            let n = up_to.unwrap_or(self.last + 1).max(self.last + 1);
            self.msgs.clear();
            self.last = n - 1;
            self.first_floor = n;
            return;
        }
        let mut seqs: Vec<u64> = self
            .msgs
            .iter()
            .filter(|(k, v)| filt.matches(v.0.as_bytes()) && up_to.is_none_or(|n| **k < n))
            .map(|(k, _)| *k)
            .collect();
        if let Some(k) = keep {
            seqs.truncate(seqs.len().saturating_sub(k as usize));
        }
        for s in seqs {
            self.msgs.remove(&s);
        }
    }
}

fn check(s: &FileStore, m: &Model) {
    let st = s.state(false);
    assert_eq!(st.msgs, m.msgs.len() as u64, "msgs");
    assert_eq!(s.bytes(), st.bytes, "bytes() read without the lock");
    assert_eq!(st.last_seq, m.last, "last_seq");
    assert_eq!(st.first_seq, m.first(), "first_seq");
    for (k, (subj, pay)) in &m.msgs {
        let got = s.get(*k).unwrap_or_else(|e| panic!("get {k}: {e}"));
        assert_eq!(got.subject.as_ref(), subj.as_bytes());
        assert_eq!(got.payload.as_ref(), &pay[..]);
    }
    for f in FILTERS {
        let filt = SubjectFilter::new(f);
        for start in [0, m.first(), m.first() + 3, m.last.saturating_sub(2)] {
            let want = m
                .msgs
                .range(start..)
                .find(|(_, v)| filt.matches(v.0.as_bytes()))
                .map(|(k, _)| *k);
            assert_eq!(s.next_matching_seq(start, &filt), want, "next {f} {start}");
            let n = m
                .msgs
                .range(start..)
                .filter(|(_, v)| filt.matches(v.0.as_bytes()))
                .count() as u64;
            assert_eq!(s.num_pending(start, &filt, false), n, "pending {f} {start}");
        }
        let want = m
            .msgs
            .iter()
            .rev()
            .find(|(_, v)| filt.matches(v.0.as_bytes()))
            .map(|(k, _)| *k);
        assert_eq!(
            s.last_for_subject(&filt).ok().map(|x| x.seq),
            want,
            "last {f}"
        );
    }
}

fn payload(seq: u64, n: usize) -> Vec<u8> {
    (0..n).map(|i| (seq as usize * 31 + i) as u8).collect()
}

fn run(ops: Vec<Op>) {
    let io = SimIo::new();
    let mut m = Model {
        first_floor: 1,
        cfg: small_cfg(),
        ..Model::default()
    };
    let mut s = sim_open(&io, m.cfg.clone());
    for op in ops {
        match op {
            Op::Append(si, n) => {
                let seq = m.last + 1;
                let p = payload(seq, n);
                let (got, t) = s
                    .append(SUBJECTS[si].as_bytes(), b"", &p, seq as i64)
                    .unwrap();
                t.wait().unwrap();
                assert_eq!(got, seq);
                m.last = seq;
                m.msgs.insert(seq, (SUBJECTS[si].to_string(), p));
                m.enforce(Some(SUBJECTS[si]));
            }
            Op::Delete(i, erase) => {
                if m.msgs.is_empty() {
                    continue;
                }
                let k = *m.msgs.keys().nth(i % m.msgs.len()).unwrap();
                s.delete(k, erase).unwrap();
                m.msgs.remove(&k);
            }
            Op::Purge(f, keep, up) => {
                let up =
                    up.map(|u| m.first() + (u as u64 % (m.last + 3 - m.first().min(m.last + 2))));
                let f = f.map(|i| FILTERS[i]);
                let req = PurgeRequest {
                    subject: f.map(str::to_string),
                    keep,
                    up_to_seq: up,
                };
                let before = m.msgs.len() as u64;
                m.purge(f, keep, up);
                assert_eq!(
                    s.purge(&req).unwrap(),
                    before - m.msgs.len() as u64,
                    "{req:?}"
                );
            }
            Op::Limits(mm, ps) => {
                m.cfg.msgs_max = mm;
                m.cfg.msgs_per_subject_max = ps;
                s.update_config(m.cfg.clone()).unwrap();
                m.enforce(None);
            }
            Op::Reopen => {
                s.close().unwrap();
                drop(s);
                s = sim_open(&io, m.cfg.clone());
            }
            Op::Crash(seed) => {
                io.crash(Some(seed));
                drop(s);
                s = sim_open(&io, m.cfg.clone());
            }
            Op::CrashUnacked(n, seed) => {
                if m.cfg.msgs_max.is_some() || m.cfg.msgs_per_subject_max.is_some() {
                    continue;
                }
                let mut maybe = Vec::new();
                for i in 0..n {
                    let seq = m.last + 1 + u64::from(i);
                    let p = payload(seq, 40);
                    let (got, _ticket) = s.append(b"s.0", b"", &p, seq as i64).unwrap();
                    assert_eq!(got, seq);
                    maybe.push((seq, p));
                }
                io.crash(Some(seed));
                drop(s);
                s = sim_open(&io, m.cfg.clone());
                for (seq, p) in maybe {
                    match s.get(seq) {
                        Ok(got) => {
                            assert_eq!(got.payload.as_ref(), &p[..], "unacked record corrupted");
                            m.msgs.insert(seq, ("s.0".into(), p));
                            m.last = seq;
                        }
                        Err(StoreError::NotFound) => break,
                        Err(e) => panic!("unacked read: {e}"),
                    }
                }
            }
        }
        check(&s, &m);
    }
}

/// 48 by default (CI); `PROPTEST_CASES=2000` for a longer soak.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]
    #[test]
    fn model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
