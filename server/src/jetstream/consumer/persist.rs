//! The durable state of a consumer on a file stream: its config
//! (`meta.json`) and a state snapshot (`state.json`), each replaced
//! atomically (write tmp, fsync, rename, fsync dir). A snapshot is written
//! before a double ack is confirmed and at most every 100 ms otherwise.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::ConsumerConfig;
use super::{Consumer, Pending, State};

pub const META_FILE: &str = "meta.json";
pub const STATE_FILE: &str = "state.json";

#[derive(Serialize, Deserialize)]
pub struct Meta {
    pub config: ConsumerConfig,
    pub created_ns: i64,
}

/// What survives a restart. Pending entries: (stream seq, consumer seq, deliveries, timestamp).
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    pub dseq: u64,
    pub sseq: u64,
    pub next_seq: u64,
    pub lps: Vec<u64>,
    pub pending: Vec<(u64, u64, u32, i64)>,
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
}

pub fn save_meta(dir: &Path, meta: &Meta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    nile_engine::write_file_atomic(&dir.join(META_FILE), &bytes).map_err(std::io::Error::other)
}

/// Snapshot the consumer's state now.
pub fn save(c: &Consumer) {
    let Some(dir) = &c.dir else { return };
    let saved = {
        let mut st = c.state.lock();
        st.dirty = false;
        st.last_save = Instant::now();
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
    };
    let Ok(bytes) = serde_json::to_vec(&saved) else {
        return;
    };
    if let Err(e) = nile_engine::write_file_atomic(&dir.join(STATE_FILE), &bytes) {
        tracing::error!("consumer {}: cannot save state: {e}", c.name);
    }
}

/// Read a consumer directory: its config, creation time and state.
pub fn load(dir: &Path) -> Option<(Meta, Saved)> {
    let meta: Meta = serde_json::from_slice(&std::fs::read(dir.join(META_FILE)).ok()?).ok()?;
    let saved = std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Some((meta, saved))
}
