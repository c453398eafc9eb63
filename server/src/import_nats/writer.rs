//! Writes one read nats-server stream into a Nile store with the server's
//! own pieces: the engine store with the stream's limits, the stream
//! config file, the consumer config and state log. Messages keep their
//! sequences and timestamps; deleted sequences stay deleted.

use std::path::{Path, PathBuf};

use nile_engine::{ConsumerStore, FileStore, StreamState, StreamStore};

use super::blocks::{Block, Record};
use super::source::SourceStream;
use super::ImportError;
use crate::jetstream::consumer::persist;
use crate::jetstream::{self, accounts, ttl};

/// Where `src` goes in the Nile store `sd`.
pub fn target_dir(sd: &Path, src: &SourceStream) -> PathBuf {
    accounts::streams_dir(sd, &src.account).join(&src.config.name)
}

/// Write the stream; on failure nothing of it is left behind.
pub fn write(sd: &Path, src: &SourceStream) -> Result<StreamState, ImportError> {
    let dir = target_dir(sd, src);
    if dir.exists() {
        return Err(ImportError::Exists(dir));
    }
    let res = write_stream(&dir, src);
    if res.is_err() {
        jetstream::remove_dir(&dir);
    }
    res
}

fn write_stream(dir: &Path, src: &SourceStream) -> Result<StreamState, ImportError> {
    let streams_dir = dir.parent().unwrap_or(dir).to_path_buf();
    std::fs::create_dir_all(&streams_dir).map_err(|e| ImportError::io(&streams_dir, e))?;
    let mut store_cfg =
        jetstream::store_config_for(&src.config, nile_engine::SyncPolicy::Interval(INTERVAL));
    // Copying what nats-server kept: limits remove the oldest (as they did
    // there), but nothing it stored is refused.
    store_cfg.discard = nile_engine::Discard::Old;
    store_cfg.discard_new_per_subject = false;
    store_cfg.msg_bytes_max = None;
    let store_err =
        |e: nile_engine::StoreError| ImportError::Store(dir.to_path_buf(), e.to_string());
    let store = FileStore::open(dir.join("msgs"), store_cfg).map_err(store_err)?;
    copy_messages(&store, src).map_err(|e| match e {
        ImportError::Store(_, m) => ImportError::Store(dir.to_path_buf(), m),
        other => other,
    })?;
    store.flush().map_err(store_err)?;
    let state = store.state(false);
    store.close().map_err(store_err)?;
    for c in &src.consumers {
        write_consumer(dir, c)?;
    }
    // The config last: a stream directory without it is not a stream.
    let meta = jetstream::StreamMeta {
        config: src.config.clone(),
        created_ns: src.created_ns,
    };
    let bytes = serde_json::to_vec_pretty(&meta)
        .map_err(|e| ImportError::Store(dir.to_path_buf(), e.to_string()))?;
    nile_engine::write_file_atomic_in_new_dir(
        &dir.join(jetstream::META_FILE),
        &bytes,
        &streams_dir,
    )
    .map_err(|e| ImportError::Store(dir.to_path_buf(), e.to_string()))?;
    Ok(state)
}

/// The engine syncs by itself at most this often; the import flushes at the end.
const INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

fn copy_messages(store: &FileStore, src: &SourceStream) -> Result<(), ImportError> {
    let scan = &src.scan;
    let name = &src.config.name;
    let store_err = |e: nile_engine::StoreError| ImportError::Store(PathBuf::new(), e.to_string());
    let mut last_copied = 0u64;
    for (index, path) in &scan.blocks {
        let block = Block::read(*index, path.clone())?;
        for rec in block.records(name) {
            let Record::Msg(m) = rec? else { continue };
            if m.seq <= last_copied || m.seq < scan.first_seq_floor || scan.deleted.contains(&m.seq)
            {
                continue;
            }
            store.skip_to(m.seq).map_err(store_err)?;
            let expires = ttl::for_copy(&src.config, m.headers, m.ts);
            let (seq, _) = store
                .append_expiring(m.subject, m.headers, m.payload, m.ts, expires)
                .map_err(store_err)?;
            if seq != m.seq {
                return Err(ImportError::Store(
                    PathBuf::new(),
                    format!("stored seq {} as {seq}", m.seq),
                ));
            }
            last_copied = seq;
        }
    }
    // Deleted sequences at the end (and an emptied stream) keep the last
    // sequence, and its time when a stand-in can hold it.
    let last = scan.last_seq.max(scan.first_seq_floor.saturating_sub(1));
    if last <= last_copied || last == 0 {
        return Ok(());
    }
    store.skip_to(last).map_err(store_err)?;
    if !stand_in_fits(store) {
        return store.skip_to(last + 1).map_err(store_err);
    }
    let (seq, _) = store
        .append(STAND_IN_SUBJECT, &[], &[], scan.last_ts)
        .map_err(store_err)?;
    store.delete(seq, true).map_err(store_err)
}

/// Subject of the record that holds a deleted last sequence's time (no
/// client subject can be it: it has a space).
const STAND_IN_SUBJECT: &[u8] = b"nile import";
/// More than a stand-in record counts against `max_bytes`.
const STAND_IN_BYTES_MAX: u64 = 64;

/// Would one more message evict nothing?
fn stand_in_fits(store: &FileStore) -> bool {
    let cfg = store.config();
    let st = store.state(false);
    cfg.msgs_max.is_none_or(|m| st.msgs < m)
        && cfg
            .bytes_max
            .is_none_or(|b| st.bytes + STAND_IN_BYTES_MAX <= b)
}

fn write_consumer(stream_dir: &Path, c: &super::source::SourceConsumer) -> Result<(), ImportError> {
    let dir = stream_dir.join("consumers").join(&c.name);
    let meta = persist::Meta {
        config: c.config.clone(),
        created_ns: c.created_ns,
    };
    persist::create_meta(&dir, &meta, stream_dir).map_err(|e| ImportError::io(&dir, e))?;
    let log = ConsumerStore::open(&dir, persist::LOG_NAME)
        .map_err(|e| ImportError::Store(dir.clone(), e.to_string()))?;
    log.set_state(c.state.clone())
        .and_then(|()| log.sync())
        .map_err(|e| ImportError::Store(dir.clone(), e.to_string()))
}
