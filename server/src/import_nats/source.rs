//! What one nats-server stream directory holds, read and checked before
//! anything is written: its config, the scan of its blocks (every
//! checksum, the deletes, the last sequence) and its durable consumers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nile_engine::ConsumerState;
use serde_json::Value;

use super::blocks::{self, Block, Record};
use super::{consumer_state, index_db, ImportError};
use crate::jetstream::api::level::strip_request_metadata;
use crate::jetstream::config::StreamConfig;
use crate::jetstream::consumer::config::ConsumerConfig;
use crate::jetstream::time::parse_rfc3339;

const META_FILE: &str = "meta.inf";
const SUM_FILE: &str = "meta.sum";
/// Present only in encrypted stores (the stream's wrapped key).
const KEY_FILE: &str = "meta.key";
const CONSUMER_STATE_FILE: &str = "o.dat";

pub struct SourceStream {
    pub account: String,
    pub config: StreamConfig,
    pub created_ns: i64,
    /// Config fields with a value that Nile does not keep.
    pub dropped: Vec<String>,
    pub scan: Scan,
    pub consumers: Vec<SourceConsumer>,
    /// Why `index.db` was not used, when it exists but was not.
    pub notes: Vec<String>,
}

pub struct SourceConsumer {
    pub name: String,
    pub config: ConsumerConfig,
    pub created_ns: i64,
    pub dropped: Vec<String>,
    pub state: ConsumerState,
}

/// What the blocks say, before the messages are copied.
#[derive(Default)]
pub struct Scan {
    pub blocks: Vec<(u32, PathBuf)>,
    /// Tombstoned or erased sequences.
    pub deleted: BTreeSet<u64>,
    /// The highest sequence any record names, and that record's time.
    pub last_seq: u64,
    pub last_ts: i64,
    /// Sequences below this are gone (from a consistent `index.db`).
    pub first_seq_floor: u64,
    pub records: u64,
    /// The snapshot's totals, when it was used.
    pub index: Option<index_db::Summary>,
}

impl SourceStream {
    pub fn read(account: &str, dir: &Path) -> Result<SourceStream, ImportError> {
        if dir.join(KEY_FILE).exists() {
            return Err(ImportError::Encrypted(dir.to_path_buf()));
        }
        let (value, created_ns) = read_meta(&dir.join(META_FILE))?;
        let mut cfg_value = value.clone();
        // A stream's config is checked by Nile's own rules, as on create.
        let config: StreamConfig = serde_json::from_value(value)
            .map_err(|e| ImportError::meta(&dir.join(META_FILE), e.to_string()))?;
        let config = config
            .normalize()
            .map_err(|e| ImportError::meta(&dir.join(META_FILE), e.description))?;
        if config.storage != crate::jetstream::config::Storage::File {
            return Err(ImportError::meta(
                &dir.join(META_FILE),
                "not a file stream".into(),
            ));
        }
        check_sum(dir, &config.name)?;
        let kept = serde_json::to_value(&config).unwrap_or(Value::Null);
        let dropped = dropped_fields(&mut cfg_value, &kept);
        let mut notes = Vec::new();
        let scan = scan(dir, &config.name, &mut notes)?;
        let mut consumers = read_consumers(dir, &config)?;
        consumers.retain(|c| {
            let keep = c.config.is_durable() && !c.config.mem_storage;
            if !keep {
                notes.push(format!(
                    "consumer {:?} not imported: not a durable file consumer",
                    c.name
                ));
            }
            keep
        });
        Ok(SourceStream {
            account: account.to_string(),
            config,
            created_ns,
            dropped,
            scan,
            consumers,
            notes,
        })
    }
}

/// meta.inf as JSON without `created` and the server-owned metadata, and the creation time.
fn read_meta(path: &Path) -> Result<(Value, i64), ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
    let bytes = strip_request_metadata(&bytes).unwrap_or(bytes);
    let mut v: Value =
        serde_json::from_slice(&bytes).map_err(|e| ImportError::meta(path, e.to_string()))?;
    drop_nulls(&mut v);
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ImportError::meta(path, "not a JSON object".into()))?;
    // nats-server writes its file info's `Created` (and a consumer's `Name`) capitalised.
    let created = obj.shift_remove("Created");
    let created_ns = created
        .or_else(|| obj.shift_remove("created"))
        .and_then(|c| c.as_str().and_then(parse_rfc3339))
        .unwrap_or(0);
    if let Some(name) = obj.shift_remove("Name") {
        obj.entry("name").or_insert(name);
    }
    Ok((v, created_ns))
}

/// `meta.sum`, when present, is the hex HighwayHash-64 of `meta.inf`
/// keyed with the SHA-256 of the stream's (or `<stream>/<consumer>`) name.
fn check_sum(dir: &Path, seed: &str) -> Result<(), ImportError> {
    let sum_path = dir.join(SUM_FILE);
    let want = match std::fs::read_to_string(&sum_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ImportError::io(&sum_path, e)),
    };
    let meta = dir.join(META_FILE);
    let bytes = std::fs::read(&meta).map_err(|e| ImportError::io(&meta, e))?;
    let got: String = blocks::hash64(&blocks::key_of(seed.as_bytes()), &[&bytes])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != want.trim() {
        return Err(ImportError::Corrupt {
            path: meta,
            offset: 0,
            reason: "does not match its meta.sum".into(),
        });
    }
    Ok(())
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Keys of `given` that carry a value (not a zero, false or empty one) and
/// that Nile's config does not have.
fn dropped_fields(given: &mut Value, kept: &Value) -> Vec<String> {
    let Some(given) = given.as_object() else {
        return Vec::new();
    };
    given
        .iter()
        .filter(|(k, v)| kept.get(k.as_str()).is_none() && !is_empty_value(v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Walk every block once: checksums, deletes, the last sequence.
fn scan(dir: &Path, stream: &str, notes: &mut Vec<String>) -> Result<Scan, ImportError> {
    let msgs_dir = dir.join("msgs");
    let mut scan = Scan {
        blocks: blocks::list(&msgs_dir)?,
        ..Scan::default()
    };
    for (index, path) in &scan.blocks.clone() {
        let block = Block::read(*index, path.clone())?;
        for rec in block.records(stream) {
            scan.records += 1;
            let (seq, ts) = match rec? {
                Record::Msg(m) => (m.seq, m.ts),
                Record::Erased { seq, ts } | Record::Tombstone { seq, ts } => {
                    scan.deleted.insert(seq);
                    (seq, ts)
                }
            };
            if seq >= scan.last_seq {
                scan.last_seq = seq;
                scan.last_ts = ts;
            }
        }
    }
    match index_db::read(&msgs_dir.join("index.db"), stream) {
        Ok(Some(s)) if s.last_seq <= scan.last_seq || scan.records == 0 => {
            // A snapshot never runs ahead of the blocks; its first sequence
            // covers removals by limits, which leave no tombstone.
            scan.first_seq_floor = s.first_seq;
            scan.last_seq = scan.last_seq.max(s.last_seq);
            scan.index = Some(s);
        }
        Ok(Some(s)) => notes.push(format!(
            "index.db ignored: its last sequence {} is past the blocks' {}",
            s.last_seq, scan.last_seq
        )),
        Ok(None) => {}
        Err(e) => notes.push(format!("index.db ignored: {e}")),
    }
    Ok(scan)
}

fn read_consumers(dir: &Path, stream: &StreamConfig) -> Result<Vec<SourceConsumer>, ImportError> {
    let obs = dir.join("obs");
    let entries = match std::fs::read_dir(&obs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImportError::io(&obs, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let cdir = entry.map_err(|e| ImportError::io(&obs, e))?.path();
        if !cdir.join(META_FILE).exists() {
            continue;
        }
        if cdir.join(KEY_FILE).exists() {
            return Err(ImportError::Encrypted(cdir));
        }
        out.push(read_consumer(&cdir, stream)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn read_consumer(cdir: &Path, stream: &StreamConfig) -> Result<SourceConsumer, ImportError> {
    let meta = cdir.join(META_FILE);
    let (value, created_ns) = read_meta(&meta)?;
    let mut given = value.clone();
    let config: ConsumerConfig =
        serde_json::from_value(value).map_err(|e| ImportError::meta(&meta, e.to_string()))?;
    let config = config
        .normalize(stream, false)
        .map_err(|e| ImportError::meta(&meta, e.description))?;
    let kept = serde_json::to_value(&config).unwrap_or(Value::Null);
    let dropped = dropped_fields(&mut given, &kept);
    let dir_name = cdir.file_name().map(|n| n.to_string_lossy().into_owned());
    check_sum(
        cdir,
        &format!("{}/{}", stream.name, dir_name.unwrap_or_default()),
    )?;
    let name = config
        .name
        .clone()
        .or_else(|| config.durable_name.clone())
        .or_else(|| cdir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let state_path = cdir.join(CONSUMER_STATE_FILE);
    let state = match std::fs::read(&state_path) {
        Ok(b) if b.is_empty() => ConsumerState::default(),
        Ok(b) => consumer_state::decode(&b).map_err(|reason| ImportError::Corrupt {
            path: state_path.clone(),
            offset: 0,
            reason,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConsumerState::default(),
        Err(e) => return Err(ImportError::io(&state_path, e)),
    };
    Ok(SourceConsumer {
        name,
        config,
        created_ns,
        dropped,
        state,
    })
}
