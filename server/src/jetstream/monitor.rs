//! JetStream's numbers for the monitoring endpoints (`/jsz`, `/varz`, `/metrics`).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::config::Storage;
use super::consumer::Consumer;
use super::stream::Stream;
use super::JetStream;
use crate::monitor::jetstream::{
    AccountSnapshot, ConsumerSnapshot, JetStreamSnapshot, JetStreamSource, SeqPair, SnapshotWants,
    StreamSnapshot,
};

/// The only account Nile has today.
pub(crate) const GLOBAL_ACCOUNT: &str = "$G";

fn time_of(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

fn ts(ns: i64) -> Option<SystemTime> {
    (ns > 0).then(|| time_of(ns))
}

fn consumer_snapshot(c: &Consumer, config: bool) -> ConsumerSnapshot {
    let st = c.state.lock();
    let (floor_d, floor_s) = st.ack_floor();
    ConsumerSnapshot {
        name: c.name.clone(),
        created: time_of(c.created_ns),
        config: config.then(|| serde_json::to_value(&*c.config.read()).unwrap_or_default()),
        delivered: SeqPair {
            consumer_seq: st.dseq,
            stream_seq: st.sseq,
        },
        ack_floor: SeqPair {
            consumer_seq: floor_d,
            stream_seq: floor_s,
        },
        num_ack_pending: st.pending.len() as u64,
        num_redelivered: st.pending.values().filter(|p| p.deliveries > 1).count() as u64,
        num_waiting: st.waiting.len() as u64,
        num_pending: c.num_pending(&st),
    }
}

fn stream_snapshot(s: &Stream, wants: &SnapshotWants) -> StreamSnapshot {
    let st = s.store.state(false);
    let consumers: Vec<_> = s.consumers.read().values().cloned().collect();
    StreamSnapshot {
        name: s.name.clone(),
        created: time_of(s.created_ns),
        config: wants
            .config
            .then(|| serde_json::to_value(&*s.config.read()).unwrap_or_default()),
        messages: st.msgs,
        bytes: st.bytes,
        first_seq: st.first_seq,
        first_ts: ts(st.first_ts),
        last_seq: st.last_seq,
        last_ts: ts(st.last_ts),
        num_subjects: st.num_subjects,
        num_deleted: st.num_deleted,
        consumer_count: consumers.len() as u64,
        consumers: if wants.consumers {
            consumers
                .iter()
                .map(|c| consumer_snapshot(c, wants.config))
                .collect()
        } else {
            Vec::new()
        },
    }
}

impl JetStreamSource for JetStream {
    fn health(&self) -> Result<(), String> {
        match self.unrecovered.lock().keys().next() {
            Some(stream) => Err(format!(
                "JetStream stream '{} > {stream}' could not be recovered",
                self.account.name
            )),
            None => Ok(()),
        }
    }

    fn snapshot(&self, wants: &SnapshotWants) -> JetStreamSnapshot {
        let opts = self.server.options();
        let mut acc = AccountSnapshot {
            name: self.account.name.clone(),
            api_total: self.api_stats.total.load(Ordering::Relaxed),
            api_errors: self.api_stats.errors.load(Ordering::Relaxed),
            ..AccountSnapshot::default()
        };
        let streams: Vec<_> = self.streams.read().values().cloned().collect();
        for s in &streams {
            let st = s.store.state(false);
            match s.config.read().storage {
                Storage::Memory => acc.memory += st.bytes,
                Storage::File => acc.storage += st.bytes,
            }
            acc.messages += st.msgs;
            acc.bytes += st.bytes;
            acc.consumer_count += s.consumers.read().len() as u64;
            if wants.streams || wants.consumers {
                acc.streams.push(stream_snapshot(s, wants));
            }
        }
        acc.stream_count = streams.len() as u64;
        let wanted = wants
            .account
            .as_deref()
            .is_none_or(|a| a == self.account.name);
        JetStreamSnapshot {
            max_memory: opts.jetstream.max_memory_bytes,
            max_storage: opts.jetstream.max_file_bytes,
            // As `$JS.API.INFO`: none before the advertised version has one.
            api_level: if crate::server::advertises_api_level() {
                crate::server::JS_API_LEVEL
            } else {
                0
            },
            accounts: if wanted { vec![acc] } else { Vec::new() },
        }
    }
}
