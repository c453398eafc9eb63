//! `$JS.API.INFO`: account usage and limits.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::{typed, Reply, Request};
use crate::jetstream::config::Storage;
use crate::jetstream::JetStream;
use crate::server::JS_API_LEVEL;

pub fn info(js: &JetStream, _req: &Request<'_>) -> Reply {
    let (mut memory, mut storage) = (0u64, 0u64);
    // nats-server reserves each stream's max_bytes up front.
    let (mut reserved_memory, mut reserved_storage) = (0u64, 0u64);
    let mut consumers = 0;
    let streams = js.streams.read();
    for s in streams.values() {
        consumers += s.consumers.read().len();
        let bytes = s.store.state(false).bytes;
        let cfg = s.config.read();
        let reserved = u64::try_from(cfg.max_bytes).unwrap_or(0);
        match cfg.storage {
            Storage::Memory => {
                memory += bytes;
                reserved_memory += reserved;
            }
            Storage::File => {
                storage += bytes;
                reserved_storage += reserved;
            }
        }
    }
    let opts = js.server.options();
    let mut v = json!({
        "memory": memory,
        "storage": storage,
        "reserved_memory": reserved_memory,
        "reserved_storage": reserved_storage,
        "streams": streams.len(),
        "consumers": consumers,
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
    if crate::server::advertises_api_level() {
        // nats-server lists the level first.
        let api = v["api"].take();
        v["api"] = json!({"level": JS_API_LEVEL, "total": api["total"], "errors": api["errors"]});
    }
    Reply::Json(typed("account_info_response", v))
}
