//! Message payloads, optionally stamped with their send time.
//!
//! Publisher and subscriber live in this one process, so a monotonic clock
//! shared through a process-wide epoch gives end-to-end latency without
//! trusting wall clocks.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

/// Bytes a latency stamp takes at the start of a payload.
pub const STAMP_BYTES: usize = 8;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// A payload of `size` bytes whose first 8 carry "now"; plain when too small.
pub fn stamped(size: usize) -> Bytes {
    let mut buf = BytesMut::zeroed(size);
    if size >= STAMP_BYTES {
        let ns = epoch().elapsed().as_nanos() as u64;
        buf[..STAMP_BYTES].copy_from_slice(&ns.to_le_bytes());
    }
    buf.freeze()
}

/// Time since the payload was stamped, if it carries a stamp.
pub fn age(payload: &[u8]) -> Option<Duration> {
    let stamp: [u8; STAMP_BYTES] = payload.get(..STAMP_BYTES)?.try_into().ok()?;
    let sent = Duration::from_nanos(u64::from_le_bytes(stamp));
    epoch().elapsed().checked_sub(sent)
}

/// A payload shared by every message of a run: cloning `Bytes` is a refcount,
/// so the client spends its time sending, not allocating.
pub fn fixed(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips() {
        let p = stamped(16);
        assert_eq!(p.len(), 16);
        assert!(age(&p).is_some());
        assert!(age(&stamped(4)).is_none());
    }
}
