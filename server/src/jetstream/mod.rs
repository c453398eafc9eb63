//! JetStream: streams on `nile-engine`, and the `$JS.API.*` request handlers.
//!
//! # Layout
//! - [`config`]: StreamConfig, its defaults and rules.
//! - [`stream`]: one stream and the publish path into it (PubAck after fsync).
//! - [`api`]: the API subjects table and one module per area.
//! - [`errors`]: every API error code in one table.
//! - [`headers`]: NATS header blocks.
//!
//! API requests arrive through an internal subscription on `$JS.API.>` and are
//! queued to one API thread (disk work never runs on a connection's task).
//! Each stream captures its subjects with internal subscriptions, so a
//! publish into a stream travels the ordinary routing path.

pub mod accounts;
pub mod api;
pub mod config;
pub mod consumer;
pub mod counter;
pub mod errors;
pub mod headers;
pub mod mirror;
mod monitor;
pub mod republish;
pub mod resources;
pub mod schedule;
pub mod stream;
pub mod time;
pub mod transform;
pub mod ttl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use nile_engine::{FileStore, StoreConfig, StreamStore};
use parking_lot::RwLock;

use self::config::{Storage, StreamConfig};
use self::stream::Stream;
use crate::account::Account;
use crate::options::SyncPolicy;
use crate::server::Server;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// Bound on API requests waiting for the API thread; past it requests are
/// dropped (the client times out), as nats-server drops when its queue is full.
const API_QUEUE_LEN_MAX: usize = 8192;

/// One queued API request.
pub struct ApiRequest {
    pub subject: String,
    pub reply: Option<Bytes>,
    /// The request body (headers stripped).
    pub body: Bytes,
    /// The request's header block, empty when it has none.
    pub headers: Bytes,
}

/// Counters for `$JS.API.INFO` and `/jsz`.
#[derive(Default)]
pub struct ApiStats {
    pub total: AtomicU64,
    pub errors: AtomicU64,
}

pub struct JetStream {
    pub server: Arc<Server>,
    /// The account whose JetStream this is: streams capture, and replies
    /// and deliveries go out, in its subject space only.
    pub account: Arc<Account>,
    /// The account's limits (all -1 for `$G` without accounts).
    pub limits: crate::options::AccountJsLimits,
    pub store_dir: PathBuf,
    pub streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    pub api_stats: ApiStats,
    runtime: tokio::runtime::Handle,
    api_tx: std::sync::mpsc::SyncSender<ApiRequest>,
    /// Itself, for tasks that must not keep JetStream alive (copiers).
    me: std::sync::Weak<JetStream>,
    /// Streams found in the store that could not be opened at start-up, by
    /// directory name, with why: their files are kept, `/healthz` reports
    /// them, a create of the same name is refused and a delete removes them.
    pub unrecovered: parking_lot::Mutex<BTreeMap<String, String>>,
}

/// Errors that stop JetStream from starting.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("cannot read store directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("cannot open stream {0}: {1}")]
    Stream(String, String),
}

impl JetStream {
    /// Open every stream under the store dir and start serving the API.
    pub fn start(
        server: &Arc<Server>,
        account: &Arc<Account>,
        limits: crate::options::AccountJsLimits,
    ) -> Result<Arc<JetStream>, JetStreamError> {
        let opts = server.options();
        let store_dir = accounts::streams_dir(&opts.jetstream.store_dir, &account.name);
        std::fs::create_dir_all(&store_dir)
            .map_err(|e| JetStreamError::Dir(store_dir.clone(), e))?;
        let (api_tx, api_rx) = std::sync::mpsc::sync_channel(API_QUEUE_LEN_MAX);
        let js = Arc::new_cyclic(|me| JetStream {
            server: server.clone(),
            account: account.clone(),
            limits,
            store_dir,
            streams: RwLock::new(BTreeMap::new()),
            api_stats: ApiStats::default(),
            runtime: tokio::runtime::Handle::current(),
            api_tx,
            me: me.clone(),
            unrecovered: Default::default(),
        });
        js.load_streams()?;
        let worker = js.clone();
        std::thread::Builder::new()
            .name("js-api".into())
            .spawn(move || api::run(worker, api_rx))
            .map_err(|e| JetStreamError::Dir(js.store_dir.clone(), e))?;
        // With a domain, `$JS.<domain>.API.>` is the same API (ADR-19).
        let domain = opts.jetstream.domain.clone().filter(|d| !d.is_empty());
        let prefixes = std::iter::once("$JS.API.>".to_string())
            .chain(domain.map(|d| format!("$JS.{d}.API.>")));
        for prefix in prefixes {
            let sub = Subscription::new(
                Bytes::from(prefix),
                None,
                Bytes::from_static(b"js-api"),
                SubTarget::Internal(Arc::new(ApiListener {
                    js: Arc::downgrade(&js),
                })),
            );
            account.sublist.insert(Arc::new(sub));
        }
        Ok(js)
    }

    fn load_streams(&self) -> Result<(), JetStreamError> {
        let entries = std::fs::read_dir(&self.store_dir)
            .map_err(|e| JetStreamError::Dir(self.store_dir.clone(), e))?;
        for entry in entries.flatten() {
            let dir = entry.path();
            let meta = dir.join(META_FILE);
            let Ok(text) = std::fs::read(&meta) else {
                continue;
            };
            if text.iter().all(|b| *b == 0) {
                // A create that crashed before its config was synced (and so
                // was never answered): see `write_file_atomic_in_new_dir`.
                tracing::warn!("skipping {}: empty stream config", dir.display());
                continue;
            }
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let meta: StreamMeta = match serde_json::from_slice(&text) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(
                        "  Error unmarshalling stream metafile {:?}: {e}",
                        meta.display()
                    );
                    self.unrecovered.lock().insert(dir_name, e.to_string());
                    continue;
                }
            };
            let name = meta.config.name.clone();
            match self.open_stream(meta.config, meta.created_ns) {
                Ok(stream) => tracing::info!(
                    "  Restored stream {name:?}: {} messages",
                    stream.store.state(false).msgs
                ),
                Err(e) => {
                    // One damaged stream must not keep the others (and the
                    // server) down; its files stay for the operator.
                    tracing::warn!("  Error recreating stream {name:?}: {}", e.description);
                    self.unrecovered.lock().insert(dir_name, e.description);
                }
            }
        }
        Ok(())
    }

    /// Why the stream stored under `name` could not be opened, if it could not.
    pub fn unrecovered_reason(&self, name: &str) -> Option<String> {
        self.unrecovered.lock().get(name).cloned()
    }

    /// Open (or create) the store for `config` and start capturing its subjects.
    pub fn open_stream(
        &self,
        config: StreamConfig,
        created_ns: i64,
    ) -> Result<Arc<Stream>, errors::ApiError> {
        let store_cfg = self.store_config(&config);
        let (store, dir): (Arc<dyn StreamStore>, _) = match config.storage {
            Storage::Memory => (
                Arc::new(FileStore::memory(store_cfg).map_err(|e| stream::store_error(&e))?),
                None,
            ),
            Storage::File => {
                let dir = self.stream_dir(&config.name);
                let store = FileStore::open(dir.join("msgs"), store_cfg)
                    .map_err(|e| stream::store_error(&e))?;
                (Arc::new(store), Some(dir))
            }
        };
        let name = config.name.clone();
        let stream = Stream::new(
            self.server.clone(),
            self.account.clone(),
            config,
            created_ns,
            store,
            dir,
            &self.runtime,
        );
        self.load_consumers(&stream);
        stream.subscribe();
        self.streams.write().insert(name, stream.clone());
        mirror::start(self, &stream);
        mirror::wake_all(self);
        Ok(stream)
    }

    /// Restore the durable consumers saved under a file stream.
    fn load_consumers(&self, stream: &Arc<Stream>) {
        let Some(dir) = &stream.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir.join("consumers")) else {
            return;
        };
        for entry in entries.flatten() {
            let cdir = entry.path();
            let Some((meta, saved, log)) = consumer::persist::load(&cdir) else {
                continue;
            };
            let c =
                consumer::Consumer::restore(stream, meta.config, meta.created_ns, saved, cdir, log);
            stream.consumers.write().insert(c.name.clone(), c);
        }
    }

    pub fn stream_dir(&self, name: &str) -> PathBuf {
        self.store_dir.join(name)
    }

    /// Engine limits for a stream config.
    pub fn store_config(&self, c: &StreamConfig) -> StoreConfig {
        let sync = match self.server.options().jetstream.sync {
            SyncPolicy::Always => nile_engine::SyncPolicy::Always,
            SyncPolicy::Interval(d) => nile_engine::SyncPolicy::Interval(d),
        };
        store_config_for(c, sync)
    }

    /// Persist a stream's config atomically (tmp, fsync, rename, fsync dir).
    pub fn save_meta(&self, stream: &Stream) -> Result<(), errors::ApiError> {
        self.write_meta(stream, nile_engine::write_file_atomic)
    }

    /// [`Self::save_meta`] for a new stream: also makes the stream
    /// directory's entry in the store directory durable, so the stream
    /// survives power loss once its create is answered.
    pub fn create_meta(&self, stream: &Stream) -> Result<(), errors::ApiError> {
        self.write_meta(stream, |path, bytes| {
            nile_engine::write_file_atomic_in_new_dir(path, bytes, &self.store_dir)
        })
    }

    fn write_meta(
        &self,
        stream: &Stream,
        write: impl Fn(&Path, &[u8]) -> std::io::Result<()>,
    ) -> Result<(), errors::ApiError> {
        let Some(dir) = &stream.dir else {
            return Ok(());
        };
        let meta = StreamMeta {
            config: stream.config.read().clone(),
            created_ns: stream.created_ns,
        };
        let bytes = serde_json::to_vec_pretty(&meta)
            .map_err(|e| errors::err::stream_general(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(|e| errors::err::stream_general(e.to_string()))?;
        write(&dir.join(META_FILE), &bytes).map_err(|e| errors::err::stream_general(e.to_string()))
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    /// Flush and close every store (clean shutdown). Consumer logs first:
    /// deliveries and acks since their last periodic sync are only buffered.
    pub fn shutdown(&self) {
        for s in self.streams.read().values() {
            for c in s.consumers.read().values() {
                consumer::persist::save(c);
            }
            let _ = s.store.close();
        }
    }
}

/// Engine limits for a stream config under a sync policy (also used
/// offline, by `nile import-nats`).
pub fn store_config_for(c: &StreamConfig, sync: nile_engine::SyncPolicy) -> StoreConfig {
    let pos = |v: i64| (v > 0).then_some(v as u64);
    StoreConfig {
        msgs_max: pos(c.max_msgs),
        bytes_max: pos(c.max_bytes),
        age_max: pos(c.max_age).map(std::time::Duration::from_nanos),
        msgs_per_subject_max: pos(c.max_msgs_per_subject),
        msg_bytes_max: pos(c.max_msg_size),
        discard: match c.discard {
            config::Discard::Old => nile_engine::Discard::Old,
            config::Discard::New => nile_engine::Discard::New,
        },
        discard_new_per_subject: c.discard_new_per_subject,
        first_seq: c.first_seq.max(1),
        sync,
        size_rule: size_rule(c.storage),
        report_expired_last: c.subject_delete_marker_ttl > 0,
        ..StoreConfig::default()
    }
}

/// How nats-server counts a stored message in `state.bytes` and against
/// `max_bytes`, which clients assert exactly: subject + headers + payload
/// plus, for file streams, 30 bytes (34 with headers: its record layout),
/// and for memory streams 16.
fn size_rule(storage: Storage) -> nile_engine::SizeRule {
    match storage {
        Storage::File => nile_engine::SizeRule {
            msg_overhead_bytes: 30,
            headers_overhead_bytes: 4,
        },
        Storage::Memory => nile_engine::SizeRule {
            msg_overhead_bytes: 16,
            headers_overhead_bytes: 0,
        },
    }
}

/// Remove a directory tree if present.
pub fn remove_dir(dir: &Path) {
    if dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

pub const META_FILE: &str = "meta.json";

#[derive(serde::Serialize, serde::Deserialize)]
pub struct StreamMeta {
    pub config: StreamConfig,
    pub created_ns: i64,
}

/// The `$JS.API.>` subscriber: queue the request for the API thread.
struct ApiListener {
    js: std::sync::Weak<JetStream>,
}

impl InternalSubscriber for ApiListener {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(js) = self.js.upgrade() else {
            return false;
        };
        let mut subject = String::from_utf8_lossy(d.subject).into_owned();
        if !subject.starts_with("$JS.API.") {
            // `$JS.<domain>.API.X` → `$JS.API.X`
            if let Some(at) = subject.find(".API.") {
                subject = format!("$JS{}", &subject[at..]);
            }
        }
        if let Some(rest) = subject.strip_prefix("$JS.API.CONSUMER.MSG.NEXT.") {
            // Pull requests skip the API queue: they only touch one consumer.
            let (stream, consumer) = rest.split_once('.').unwrap_or((rest, ""));
            let Some(c) = js.stream(stream).and_then(|s| s.consumer(consumer)) else {
                return false;
            };
            let Some(reply) = d.reply else { return true };
            if api::level::too_high(&d.payload[..d.headers_len.min(d.payload.len())]) {
                api::level::reject_raw(&js, reply);
                return true;
            }
            c.add_request(reply, &d.payload[d.headers_len.min(d.payload.len())..]);
            return true;
        }
        if !api::would_answer(&js, &subject) {
            return false;
        }
        let split = d.headers_len.min(d.payload.len());
        let req = ApiRequest {
            subject,
            reply: d.reply.map(Bytes::copy_from_slice),
            body: d.payload.slice(split..),
            headers: d.payload.slice(..split),
        };
        if js.api_tx.try_send(req).is_err() {
            tracing::warn!("JetStream API queue full, dropping request");
        }
        true
    }
}
