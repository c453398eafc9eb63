//! `$JS.API.INFO`: account usage and limits.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::{typed, Reply, Request};
use crate::jetstream::config::Storage;
use crate::jetstream::JetStream;

pub fn info(js: &JetStream, _req: &Request<'_>) -> Reply {
    let (mut memory, mut storage) = (0u64, 0u64);
    let streams = js.streams.read();
    for s in streams.values() {
        let bytes = s.store.state(false).bytes;
        match s.config.read().storage {
            Storage::Memory => memory += bytes,
            Storage::File => storage += bytes,
        }
    }
    let opts = js.server.options();
    let mut v = json!({
        "memory": memory,
        "storage": storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "streams": streams.len(),
        "consumers": 0,
        "limits": {
            "max_memory": -1,
            "max_storage": -1,
            "max_streams": -1,
            "max_consumers": -1,
            "max_ack_pending": -1,
            "memory_max_stream_bytes": -1,
            "storage_max_stream_bytes": -1,
            "max_bytes_required": false,
        },
        "api": {
            "total": js.api_stats.total.load(Ordering::Relaxed),
            "errors": js.api_stats.errors.load(Ordering::Relaxed),
        },
    });
    if let Some(d) = &opts.jetstream.domain {
        v["domain"] = d.clone().into();
    }
    Reply::Json(typed("account_info_response", v))
}
