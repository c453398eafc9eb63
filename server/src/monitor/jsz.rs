//! `/jsz` and the JetStream parts of `/varz`, shaped as nats-server 2.15's
//! `JSInfo`, from a [`JetStreamSnapshot`].

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::jetstream::{
    AccountSnapshot, ConsumerSnapshot, JetStreamSnapshot, SeqPair, SnapshotWants, StreamSnapshot,
};
use super::query::{self, Query};
use crate::logging::rfc3339;
use crate::options::{Options, SyncPolicy};
use crate::server::Server;

/// Go's zero `time.Time`, shown for timestamps that do not exist yet.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The registered source's numbers; with none, the configuration with zeros.
pub fn snapshot(server: &Server, wants: &SnapshotWants) -> JetStreamSnapshot {
    if !server.options().jetstream.enabled {
        return JetStreamSnapshot::default();
    }
    let sources = sources(server);
    let Some((first, rest)) = sources.split_first() else {
        return JetStreamSnapshot::empty();
    };
    // Limits and level are the server's; each account adds its own numbers.
    let mut snap = first.snapshot(wants);
    for s in rest {
        snap.accounts.extend(s.snapshot(wants).accounts);
    }
    snap.accounts.sort_by(|a, b| a.name.cmp(&b.name));
    snap
}

/// Every account's JetStream; the one registered with the monitor when no
/// account has one (the contract tests register a fake).
pub fn sources(server: &Server) -> Vec<Arc<dyn super::JetStreamSource>> {
    let all = server.accounts.jetstreams();
    if all.is_empty() {
        return server.monitor.jetstream().into_iter().collect();
    }
    all.into_iter()
        .map(|js| js as Arc<dyn super::JetStreamSource>)
        .collect()
}

#[derive(Serialize, Default)]
pub struct JetStreamConfigJson {
    pub max_memory: i64,
    pub max_storage: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    store_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_always: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
}

#[derive(Serialize, Default)]
pub struct JetStreamStatsJson {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: usize,
    ha_assets: u64,
    api: ApiJson,
}

#[derive(Serialize, Default)]
struct ApiJson {
    level: u32,
    total: u64,
    errors: u64,
}

pub fn config_json(o: &Options, snap: &JetStreamSnapshot) -> JetStreamConfigJson {
    let js = &o.jetstream;
    let dir = std::fs::canonicalize(&js.store_dir).unwrap_or_else(|_| js.store_dir.clone());
    let (sync_interval, sync_always) = match js.sync {
        SyncPolicy::Always => (None, Some(true)),
        SyncPolicy::Interval(d) => (Some(d.as_nanos() as u64), None),
    };
    JetStreamConfigJson {
        max_memory: snap
            .max_memory
            .or(js.max_memory_bytes)
            .unwrap_or_else(default_max_memory),
        max_storage: snap
            .max_storage
            .or(js.max_file_bytes)
            .unwrap_or_else(|| default_max_storage(&dir)),
        store_dir: Some(dir.display().to_string()),
        sync_interval,
        sync_always,
        strict: Some(js.strict),
        domain: js.domain.clone(),
    }
}

pub fn stats_json(snap: &JetStreamSnapshot) -> JetStreamStatsJson {
    let t = snap.totals();
    let reserved = |f: fn(&AccountSnapshot) -> Option<u64>| -> u64 {
        snap.accounts.iter().filter_map(f).sum()
    };
    JetStreamStatsJson {
        memory: t.memory,
        storage: t.storage,
        reserved_memory: reserved(|a| a.reserved_memory),
        reserved_storage: reserved(|a| a.reserved_storage),
        accounts: snap.accounts.len(),
        ha_assets: 0,
        api: ApiJson {
            level: snap.api_level,
            total: t.api_total,
            errors: t.api_errors,
        },
    }
}

/// nats-server's default: 75% of physical memory.
fn default_max_memory() -> i64 {
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    let kib: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    kib * 1024 / 4 * 3
}

/// nats-server's default: 75% of the free space where the store lives.
fn default_max_storage(dir: &Path) -> i64 {
    use std::os::unix::ffi::OsStrExt;
    // The directory may not exist yet: ask about the nearest ancestor that does.
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let Ok(path) = std::ffi::CString::new(existing.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: `path` is NUL-terminated; `st` is plain data that statvfs fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    (st.f_bavail as i64 * st.f_frsize as i64) / 4 * 3
}

#[derive(Serialize)]
pub struct Jsz {
    #[serde(flatten)]
    stats: JetStreamStatsJson,
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: JetStreamConfigJson,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_details: Option<Vec<AccountJson>>,
    total: usize,
}

#[derive(Serialize)]
struct AccountJson {
    name: String,
    id: String,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: ApiJson,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stream_detail: Vec<StreamJson>,
}

#[derive(Serialize)]
struct StreamJson {
    name: String,
    created: String,
    cluster: ClusterJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Value>,
    state: StreamStateJson,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    consumer_detail: Vec<ConsumerJson>,
}

#[derive(Serialize)]
struct ClusterJson {
    leader: String,
}

#[derive(Serialize)]
struct StreamStateJson {
    messages: u64,
    bytes: u64,
    first_seq: u64,
    first_ts: String,
    last_seq: u64,
    last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    num_deleted: u64,
    #[serde(skip_serializing_if = "is_zero")]
    num_subjects: u64,
    consumer_count: u64,
}

#[derive(Serialize)]
struct ConsumerJson {
    stream_name: String,
    name: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Value>,
    delivered: SeqPairJson,
    ack_floor: SeqPairJson,
    num_ack_pending: u64,
    num_redelivered: u64,
    num_waiting: u64,
    num_pending: u64,
    ts: String,
}

#[derive(Serialize)]
struct SeqPairJson {
    consumer_seq: u64,
    stream_seq: u64,
}

impl From<SeqPair> for SeqPairJson {
    fn from(p: SeqPair) -> Self {
        SeqPairJson {
            consumer_seq: p.consumer_seq,
            stream_seq: p.stream_seq,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn ts(t: Option<SystemTime>) -> String {
    t.map_or_else(|| ZERO_TIME.to_string(), rfc3339)
}

/// The `/jsz` handler: `accounts`, `streams`, `consumers`, `config`, `acc`,
/// `offset`, `limit` (and `leader-only`, `stream-leader-only`, `raft`,
/// `direct-consumers`: validated as nats-server does, nothing to add here).
pub fn jsz(server: &Server, q: &Query) -> query::Result<Jsz> {
    let mut accounts = q.bool("accounts")?;
    let mut streams = q.bool("streams")?;
    let consumers = q.bool("consumers")?;
    let config = q.bool("config")?;
    for flag in [
        "leader-only",
        "stream-leader-only",
        "raft",
        "direct-consumers",
    ] {
        q.bool(flag)?;
    }
    let (offset, limit) = query::paging(q)?;
    let acc = Some(q.get("acc")).filter(|a| !a.is_empty());
    // As nats-server: consumers imply streams, streams or an account imply accounts.
    streams |= consumers;
    accounts |= streams || acc.is_some();
    let wants = SnapshotWants {
        streams,
        consumers,
        config,
        account: acc.map(str::to_string),
    };
    let o = server.options();
    let enabled = o.jetstream.enabled;
    let snap = snapshot(server, &wants);
    let t = snap.totals();
    let now = SystemTime::now();
    let details = accounts.then(|| {
        let list = snap
            .accounts
            .iter()
            .filter(|a| acc.is_none_or(|n| n == a.name))
            .map(|a| account_json(server, a, now))
            .collect();
        query::page(list, offset, limit)
    });
    let jsz = Jsz {
        stats: stats_json(&snap),
        server_id: server.server_id.clone(),
        now: rfc3339(now),
        disabled: !enabled,
        config: if enabled {
            config_json(&o, &snap)
        } else {
            JetStreamConfigJson::default()
        },
        streams: t.streams,
        consumers: t.consumers,
        messages: t.messages,
        bytes: t.bytes,
        account_details: details.filter(|d| !d.is_empty()),
        total: snap.accounts.len(),
    };
    Ok(jsz)
}

fn account_json(server: &Server, a: &AccountSnapshot, now: SystemTime) -> AccountJson {
    AccountJson {
        name: a.name.clone(),
        id: a.name.clone(),
        memory: a.memory,
        storage: a.storage,
        reserved_memory: a.reserved_memory.unwrap_or(u64::MAX),
        reserved_storage: a.reserved_storage.unwrap_or(u64::MAX),
        accounts: 0,
        ha_assets: 0,
        api: ApiJson {
            level: 0,
            total: a.api_total,
            errors: a.api_errors,
        },
        stream_detail: a
            .streams
            .iter()
            .map(|s| stream_json(server, s, now))
            .collect(),
    }
}

fn stream_json(server: &Server, s: &StreamSnapshot, now: SystemTime) -> StreamJson {
    StreamJson {
        name: s.name.clone(),
        created: rfc3339(s.created),
        cluster: ClusterJson {
            leader: server.server_name.clone(),
        },
        config: s.config.clone(),
        state: StreamStateJson {
            messages: s.messages,
            bytes: s.bytes,
            first_seq: s.first_seq,
            first_ts: ts(s.first_ts),
            last_seq: s.last_seq,
            last_ts: ts(s.last_ts),
            num_deleted: s.num_deleted,
            num_subjects: s.num_subjects,
            consumer_count: s.consumer_count,
        },
        consumer_detail: s
            .consumers
            .iter()
            .map(|c| consumer_json(&s.name, c, now))
            .collect(),
    }
}

fn consumer_json(stream: &str, c: &ConsumerSnapshot, now: SystemTime) -> ConsumerJson {
    ConsumerJson {
        stream_name: stream.to_string(),
        name: c.name.clone(),
        created: rfc3339(c.created),
        config: c.config.clone(),
        delivered: c.delivered.into(),
        ack_floor: c.ack_floor.into(),
        num_ack_pending: c.num_ack_pending,
        num_redelivered: c.num_redelivered,
        num_waiting: c.num_waiting,
        num_pending: c.num_pending,
        ts: rfc3339(now),
    }
}
