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
    let l = &js.limits;
    let limits = json!({
        "max_memory": l.max_memory,
        "max_storage": l.max_storage,
        "max_streams": l.max_streams,
        "max_consumers": l.max_consumers,
        "max_ack_pending": l.max_ack_pending,
        "memory_max_stream_bytes": l.memory_max_stream_bytes,
        "storage_max_stream_bytes": l.storage_max_stream_bytes,
        "max_bytes_required": l.max_bytes_required,
    });
    let usage = json!({
        "memory": memory,
        "storage": storage,
        "reserved_memory": reserved_memory,
        "reserved_storage": reserved_storage,
        "streams": streams.len(),
        "consumers": consumers,
    });
    // The top level is the usage, then limits and API counts (key order kept).
    let mut v = usage.clone();
    v["limits"] = if l.tiered {
        zero_limits()
    } else {
        limits.clone()
    };
    v["api"] = json!({
        "total": js.api_stats.total.load(Ordering::Relaxed),
        "errors": js.api_stats.errors.load(Ordering::Relaxed),
    });
    if let Some(d) = &opts.jetstream.domain {
        v["domain"] = d.clone().into();
    }
    if l.tiered {
        let mut r1 = usage;
        r1["limits"] = limits;
        v["tiers"] = json!({ "R1": r1 });
    }
    if crate::server::advertises_api_level() {
        // nats-server lists the level first.
        let api = v["api"].take();
        v["api"] = json!({"level": JS_API_LEVEL, "total": api["total"], "errors": api["errors"]});
    }
    Reply::Json(typed("account_info_response", v))
}

/// A tiered account's top-level limits: nats-server leaves them all zero.
fn zero_limits() -> serde_json::Value {
    json!({
        "max_memory": 0,
        "max_storage": 0,
        "max_streams": 0,
        "max_consumers": 0,
        "max_ack_pending": 0,
        "memory_max_stream_bytes": 0,
        "storage_max_stream_bytes": 0,
        "max_bytes_required": false,
    })
}

/// The account's limits on a new stream: its count, `max_bytes` required
/// or capped per storage type.
pub fn check_new_stream(
    js: &JetStream,
    cfg: &crate::jetstream::config::StreamConfig,
) -> Result<(), crate::jetstream::errors::ApiError> {
    use crate::jetstream::errors::err;
    let l = &js.limits;
    if l.max_streams >= 0 && js.streams.read().len() as i64 >= l.max_streams {
        return Err(err::max_streams());
    }
    check_stream_bytes(js, cfg)?;
    crate::jetstream::resources::check_reservation(js, cfg, false)
}

/// An account's cap on one stream's `max_bytes` (create and update).
pub fn check_stream_bytes(
    js: &JetStream,
    cfg: &crate::jetstream::config::StreamConfig,
) -> Result<(), crate::jetstream::errors::ApiError> {
    use crate::jetstream::errors::err;
    let l = &js.limits;
    if l.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(err::max_bytes_required());
    }
    let cap = match cfg.storage {
        Storage::Memory => l.memory_max_stream_bytes,
        Storage::File => l.storage_max_stream_bytes,
    };
    if cap > 0 && cfg.max_bytes > cap {
        return Err(err::max_bytes_over_account());
    }
    Ok(())
}

/// The account's consumer count limit, over all its streams.
pub fn check_new_consumer(js: &JetStream) -> Result<(), crate::jetstream::errors::ApiError> {
    let max = js.limits.max_consumers;
    if max < 0 {
        return Ok(());
    }
    let n: usize = js
        .streams
        .read()
        .values()
        .map(|s| s.consumers.read().len())
        .sum();
    if n as i64 >= max {
        return Err(crate::jetstream::errors::err::max_consumers());
    }
    Ok(())
}
