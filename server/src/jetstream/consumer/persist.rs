//! The durable state of a consumer on a file stream: its config
//! (`meta.json`, replaced atomically) and the engine's consumer log
//! ([`ConsumerStore`]: one small record per delivery and ack, synced with
//! one fdatasync before a double ack is confirmed and at most every 100 ms
//! otherwise, compacted into a snapshot as it grows).
//!
//! The log keeps delivered sequences, the ack floor and the pending set.
//! A `last_per_subject` start also needs the list of last messages still to
//! deliver and where new messages begin: both are fixed at creation, so they
//! are written once to `position.json`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use nile_engine::{ConsumerState, ConsumerStore, PendingAck};
use serde::{Deserialize, Serialize};

use super::config::ConsumerConfig;
use super::{Consumer, Pending, State};

pub const META_FILE: &str = "meta.json";
/// The JSON snapshot of earlier versions; imported into the log once.
pub const STATE_FILE: &str = "state.json";
pub const POSITION_FILE: &str = "position.json";
/// The engine log's name inside the consumer directory.
pub const LOG_NAME: &str = "state";

#[derive(Serialize, Deserialize)]
pub struct Meta {
    pub config: ConsumerConfig,
    pub created_ns: i64,
}

/// A `last_per_subject` start, as created.
#[derive(Serialize, Deserialize, Default)]
struct Position {
    next_seq: u64,
    lps: Vec<u64>,
}

/// What survives a restart. Pending entries: (stream seq, consumer seq, deliveries, timestamp).
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    pub dseq: u64,
    pub sseq: u64,
    pub next_seq: u64,
    pub lps: Vec<u64>,
    pub pending: Vec<(u64, u64, u32, i64)>,
    #[serde(default)]
    pub num_redelivered: u64,
}

impl Saved {
    /// Rebuild live state; unacked messages are redelivered after one ack wait.
    pub fn into_state(self, now: Instant, ack_wait: Duration) -> State {
        let mut st = State::new(self.next_seq.max(1), now);
        let restored_ns = crate::jetstream::stream::now_ns();
        st.dseq = self.dseq;
        st.sseq = self.sseq;
        st.lps = VecDeque::from(self.lps);
        st.num_redelivered = self.num_redelivered;
        st.pending = self
            .pending
            .into_iter()
            .map(|(sseq, dseq, deliveries, ts)| {
                (
                    sseq,
                    Pending {
                        dseq,
                        deliveries,
                        deadline: now + ack_wait,
                        ts,
                        delivered_ns: restored_ns,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        st.redeliver = BTreeSet::new();
        st
    }

    /// Read back from the engine log (and the position of a `last_per_subject` start).
    fn from_log(cs: &ConsumerState, pos: Option<Position>) -> Saved {
        let delivered_next = cs.delivered_stream_seq + 1;
        let (next_seq, lps) = match pos {
            // The last-per-subject list is delivered in order: what is left
            // lies past the furthest delivery.
            Some(p) => (
                p.next_seq.max(delivered_next),
                p.lps
                    .into_iter()
                    .filter(|s| *s > cs.delivered_stream_seq)
                    .collect(),
            ),
            None => (delivered_next, Vec::new()),
        };
        let pending = cs
            .pending
            .iter()
            .map(|(sseq, p)| {
                let deliveries = cs.redelivered.get(sseq).map_or(1, |r| r + 1);
                (*sseq, p.consumer_seq, deliveries as u32, p.timestamp_ns)
            })
            .collect();
        Saved {
            dseq: cs.delivered_consumer_seq,
            sseq: cs.delivered_stream_seq,
            next_seq,
            lps,
            pending,
            num_redelivered: cs.redelivered.len() as u64,
        }
    }

    /// The engine's form of this state (for the first write and imports).
    fn to_log(&self) -> ConsumerState {
        let mut cs = ConsumerState {
            delivered_consumer_seq: self.dseq,
            delivered_stream_seq: self.sseq,
            ..Default::default()
        };
        for (sseq, dseq, deliveries, ts) in &self.pending {
            cs.pending.insert(
                *sseq,
                PendingAck {
                    consumer_seq: *dseq,
                    timestamp_ns: *ts,
                },
            );
            if *deliveries > 1 {
                cs.redelivered.insert(*sseq, u64::from(*deliveries) - 1);
            }
        }
        match cs.pending.iter().next() {
            Some((sseq, p)) => {
                cs.ack_floor_stream_seq = sseq - 1;
                cs.ack_floor_consumer_seq = p.consumer_seq.saturating_sub(1);
            }
            None => {
                cs.ack_floor_stream_seq = self.sseq;
                cs.ack_floor_consumer_seq = self.dseq;
            }
        }
        cs
    }

    fn of_state(st: &State) -> Saved {
        Saved {
            dseq: st.dseq,
            sseq: st.sseq,
            next_seq: st.next_seq,
            lps: st.lps.iter().copied().collect(),
            pending: st
                .pending
                .iter()
                .map(|(s, p)| (*s, p.dseq, p.deliveries, p.ts))
                .collect(),
            num_redelivered: st.num_redelivered,
        }
    }
}

/// [`save_meta`] for a new durable consumer: its directory (and the
/// `consumers` directory, which the first one creates) must survive power
/// loss once the create is answered.
pub fn create_meta(dir: &Path, meta: &Meta, stream_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    nile_engine::write_file_atomic_in_new_dir(&dir.join(META_FILE), &bytes, stream_dir)
        .map_err(std::io::Error::other)
}

pub fn save_meta(dir: &Path, meta: &Meta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    nile_engine::write_file_atomic(&dir.join(META_FILE), &bytes).map_err(std::io::Error::other)
}

/// Open the log of a new consumer and write its starting point.
pub fn create_log(dir: &Path, st: &State) -> Option<ConsumerStore> {
    let log = open_log(dir)?;
    if !st.lps.is_empty() {
        let pos = Position {
            next_seq: st.next_seq,
            lps: st.lps.iter().copied().collect(),
        };
        if let Err(e) = write_position(dir, &pos) {
            tracing::error!("consumer {}: cannot save its start: {e}", dir.display());
        }
    }
    if let Err(e) = log.set_state(Saved::of_state(st).to_log()) {
        tracing::error!("consumer {}: cannot save state: {e}", dir.display());
    }
    Some(log)
}

/// A reset consumer: the log holds the new starting point at once, and a
/// `last_per_subject` start no longer applies.
pub fn reset_log(c: &Consumer, st: &State) {
    let (Some(dir), Some(log)) = (&c.dir, &c.log) else {
        return;
    };
    match std::fs::remove_file(dir.join(POSITION_FILE)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!("consumer {}: cannot drop its start: {e}", c.name),
    }
    if let Err(e) = log.set_state(Saved::of_state(st).to_log()) {
        tracing::error!("consumer {}: cannot save state: {e}", c.name);
    }
}

fn open_log(dir: &Path) -> Option<ConsumerStore> {
    match ConsumerStore::open(dir, LOG_NAME) {
        Ok(log) => Some(log),
        Err(e) => {
            tracing::error!("consumer {}: cannot open its state: {e}", dir.display());
            None
        }
    }
}

fn write_position(dir: &Path, pos: &Position) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(pos).map_err(std::io::Error::other)?;
    nile_engine::write_file_atomic(&dir.join(POSITION_FILE), &bytes).map_err(std::io::Error::other)
}

/// Make everything logged so far durable (before a double ack is confirmed,
/// and periodically).
pub fn save(c: &Consumer) {
    let Some(log) = &c.log else { return };
    {
        let mut st = c.state.lock();
        st.dirty = false;
        st.last_save = Instant::now();
    }
    if let Err(e) = log.sync() {
        tracing::error!("consumer {}: cannot save state: {e}", c.name);
    }
}

/// Read a consumer directory: its config, creation time, state and log.
pub fn load(dir: &Path) -> Option<(Meta, Saved, Option<ConsumerStore>)> {
    let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join(META_FILE)).ok()?).ok()?;
    let log = open_log(dir);
    if let Some(old) = read_json::<Saved>(&dir.join(STATE_FILE)) {
        import(dir, log.as_ref(), &old);
        return Some((meta, old, log));
    }
    let pos = read_json::<Position>(&dir.join(POSITION_FILE));
    let saved = log
        .as_ref()
        .map(|l| Saved::from_log(&l.state(), pos))
        .unwrap_or_default();
    Some((meta, saved, log))
}

/// A JSON snapshot from an earlier version becomes the log's first state.
fn import(dir: &Path, log: Option<&ConsumerStore>, old: &Saved) {
    let Some(log) = log else { return };
    let pos = Position {
        next_seq: old.next_seq,
        lps: old.lps.clone(),
    };
    let position_saved = if old.lps.is_empty() {
        Ok(())
    } else {
        write_position(dir, &pos)
    };
    let saved =
        position_saved.and_then(|()| log.set_state(old.to_log()).map_err(std::io::Error::other));
    match saved {
        Ok(()) => {
            let _ = std::fs::remove_file(dir.join(STATE_FILE));
        }
        Err(e) => tracing::error!("consumer {}: cannot import state: {e}", dir.display()),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer directory written by an earlier version (meta.json and a
    /// state.json snapshot) is read once, moved into the log, and read from
    /// the log after that.
    #[test]
    fn json_state_is_imported_into_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta {
            config: ConsumerConfig::default(),
            created_ns: 7,
        };
        save_meta(dir.path(), &meta).expect("meta");
        let old = Saved {
            dseq: 9,
            sseq: 8,
            next_seq: 9,
            lps: Vec::new(),
            pending: vec![(5, 4, 2, 11), (7, 9, 1, 12)],
            num_redelivered: 1,
        };
        let json = serde_json::to_vec(&old).expect("json");
        std::fs::write(dir.path().join(STATE_FILE), json).expect("state.json");

        let (_, first, log) = load(dir.path()).expect("load");
        assert_eq!(first.pending, old.pending);
        assert!(!dir.path().join(STATE_FILE).exists(), "imported once");
        drop(log);

        let (m, again, _) = load(dir.path()).expect("load from the log");
        assert_eq!(m.created_ns, 7);
        assert_eq!((again.dseq, again.sseq, again.next_seq), (9, 8, 9));
        assert_eq!(again.pending, old.pending);
        assert!(again.lps.is_empty());
    }

    #[test]
    fn last_per_subject_start_comes_back_from_its_position() {
        let cs = ConsumerState {
            delivered_consumer_seq: 1,
            delivered_stream_seq: 2,
            ack_floor_consumer_seq: 1,
            ack_floor_stream_seq: 2,
            ..Default::default()
        };
        let pos = Position {
            next_seq: 7,
            lps: vec![2, 5, 6],
        };
        let s = Saved::from_log(&cs, Some(pos));
        assert_eq!(s.lps, [5, 6]);
        assert_eq!(s.next_seq, 7);
        let s = Saved::from_log(&cs, None);
        assert_eq!(s.next_seq, 3);
    }
}
