//! Storage the account's limits (`max_storage` / `max_memory`) and the
//! server's (`max_file_store` / `max_memory_store`) leave to a publish or
//! to a new stream's `max_bytes`, with nats-server's rules and errors:
//!
//! - a publish is refused (10002) when the account's stored bytes of its
//!   storage type plus this message would pass the account's limit, and
//!   (10023) when the server's already passed the server's;
//! - a stream create or update is refused (10047 file, 10028 memory) when
//!   the `max_bytes` reserved by the account's (or the server's) other
//!   streams plus its own would pass the limit.
//!
//! No limit set (-1, the default) costs nothing on the publish path.

use std::sync::Arc;

use super::config::{Storage, StreamConfig};
use super::errors::{err, ApiError};
use super::stream::Stream;
use super::JetStream;
use crate::server::Server;

/// The limits a stream's publishes are checked against, fixed when the
/// stream opens (its storage type cannot change). Negative: no limit.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub account_bytes_max: i64,
    pub server_bytes_max: i64,
}

impl Caps {
    pub fn new(server: &Server, account: &str, storage: Storage) -> Caps {
        let limits = super::accounts::limits_of(server, account).unwrap_or_default();
        Caps {
            account_bytes_max: match storage {
                Storage::File => limits.max_storage,
                Storage::Memory => limits.max_memory,
            },
            server_bytes_max: server_max(server, storage),
        }
    }

    #[inline]
    pub fn unlimited(&self) -> bool {
        self.account_bytes_max < 0 && self.server_bytes_max < 0
    }
}

fn account_max(js: &JetStream, storage: Storage) -> i64 {
    match storage {
        Storage::File => js.limits.max_storage,
        Storage::Memory => js.limits.max_memory,
    }
}

fn server_max(server: &Server, storage: Storage) -> i64 {
    let opts = server.options();
    let max = match storage {
        Storage::File => opts.jetstream.max_file_bytes,
        Storage::Memory => opts.jetstream.max_memory_bytes,
    };
    max.unwrap_or(-1)
}

/// What one message counts in `state.bytes` (nats-server's store sizes).
pub fn msg_bytes(storage: Storage, subject: &[u8], hdrs: &[u8], body: &[u8]) -> i64 {
    let rule = super::size_rule(storage);
    let mut n = rule.msg_overhead_bytes + subject.len() as u64 + hdrs.len() as u64;
    if !hdrs.is_empty() {
        n += rule.headers_overhead_bytes;
    }
    (n + body.len() as u64) as i64
}

/// Bytes stored by the account's streams of `storage`.
fn account_used(js: &JetStream, storage: Storage) -> i64 {
    let streams = js.streams.read();
    let used: u64 = streams
        .values()
        .filter(|s| s.storage == storage)
        .map(|s| s.store.bytes())
        .sum();
    used as i64
}

/// Refuses a publish once the server's stored bytes of the stream's
/// storage type passed the server's limit (checked first, as nats-server,
/// before duplicates are answered).
pub fn check_server(stream: &Stream) -> Result<(), ApiError> {
    let max = stream.caps().server_bytes_max;
    if max < 0 {
        return Ok(());
    }
    let used: i64 = stream
        .server
        .accounts
        .jetstreams()
        .iter()
        .map(|js| account_used(js, stream.storage))
        .sum();
    if used > max {
        return Err(err::insufficient_resources());
    }
    Ok(())
}

/// Refuses a message that would take the account's stored bytes of the
/// stream's storage type past the account's limit.
pub fn check_account(
    stream: &Stream,
    subject: &[u8],
    hdrs: &[u8],
    body: &[u8],
) -> Result<(), ApiError> {
    let max = stream.caps().account_bytes_max;
    let Some(js) = stream.account.jetstream.get().filter(|_| max >= 0) else {
        return Ok(());
    };
    let size = msg_bytes(stream.storage, subject, hdrs, body);
    if account_used(js, stream.storage) + size > max {
        return Err(err::account_resources_exceeded());
    }
    Ok(())
}

/// `max_bytes` reserved by `js`'s streams of `storage`, but `except`.
fn reserved(js: &JetStream, storage: Storage, except: &str) -> i64 {
    let streams = js.streams.read();
    streams
        .values()
        .filter(|s| s.name != except)
        .map(|s| {
            let c = s.config.read();
            if c.storage == storage && c.max_bytes > 0 {
                c.max_bytes
            } else {
                0
            }
        })
        .fold(0i64, i64::saturating_add)
}

/// Room for `cfg`'s `max_bytes` under the account's and the server's
/// limits. A new stream without `max_bytes` still needs one byte of room
/// (nats-server's rule); an update only the size it now asks for.
pub fn check_reservation(js: &JetStream, cfg: &StreamConfig, update: bool) -> Result<(), ApiError> {
    let wanted = match (cfg.max_bytes > 0, update) {
        (true, _) => cfg.max_bytes,
        (false, false) => 1,
        (false, true) => 0,
    };
    let exceeded = || match cfg.storage {
        Storage::File => err::storage_resources_exceeded(),
        Storage::Memory => err::memory_resources_exceeded(),
    };
    let account_limit = account_max(js, cfg.storage);
    if account_limit >= 0
        && reserved(js, cfg.storage, &cfg.name).saturating_add(wanted) > account_limit
    {
        return Err(exceeded());
    }
    let server_limit = server_max(&js.server, cfg.storage);
    if server_limit >= 0 {
        let others = js
            .server
            .accounts
            .jetstreams()
            .iter()
            .map(|other| {
                let except = if Arc::ptr_eq(&other.account, &js.account) {
                    cfg.name.as_str()
                } else {
                    ""
                };
                reserved(other, cfg.storage, except)
            })
            .fold(0i64, i64::saturating_add);
        if others.saturating_add(wanted) > server_limit {
            return Err(exceeded());
        }
    }
    Ok(())
}
