#![allow(dead_code)]
use nile_engine::io::SimIo;
use nile_engine::{FileStore, StoreConfig, StreamStore};
use std::path::Path;
use std::sync::Arc;

pub fn sim_open(io: &SimIo, cfg: StoreConfig) -> FileStore {
    FileStore::open_with_io(Arc::new(io.clone()), Path::new("/s"), cfg).unwrap()
}

pub fn put(s: &dyn StreamStore, subj: &str, payload: &[u8]) -> u64 {
    let (seq, t) = s.append(subj.as_bytes(), b"", payload, seq_ts()).unwrap();
    t.wait().unwrap();
    seq
}

pub fn seq_ts() -> i64 {
    nile_engine::file::now_ns()
}

pub fn small_cfg() -> StoreConfig {
    StoreConfig {
        segment_bytes_max: 1024,
        ..StoreConfig::default()
    }
}
