//! The head of nats-server's `msgs/index.db` (its stream state snapshot):
//! magic 11, a version byte, then uvarint msgs, bytes, first seq, varint
//! first ts, uvarint last seq, varint last ts. The whole file ends with a
//! HighwayHash-64 keyed with the SHA-256 of the stream name. Only the
//! totals are used: the snapshot may be stale, the blocks are the truth.

use std::path::Path;

use super::blocks::{hash64, key_of};
use super::varint::Cursor;

const MAGIC: u8 = 11;
const VERSION_MAX: u8 = 4;
const HASH_BYTES: usize = 8;

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// The summary when the file exists, its checksum holds and it parses;
/// why not otherwise (absent: `Ok(None)`).
pub fn read(path: &Path, stream: &str) -> Result<Option<Summary>, String> {
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if buf.len() < 2 + HASH_BYTES {
        return Err("too short".into());
    }
    let (body, stored) = buf.split_at(buf.len() - HASH_BYTES);
    if hash64(&key_of(stream.as_bytes()), &[body]) != stored {
        return Err("checksum mismatch".into());
    }
    if body[0] != MAGIC || body[1] == 0 || body[1] > VERSION_MAX {
        return Err(format!("unknown magic/version {}/{}", body[0], body[1]));
    }
    let mut c = Cursor::new(body, 2);
    let mut next = || c.uvarint();
    let parsed = (|| {
        let msgs = next()?;
        let bytes = next()?;
        let first_seq = next()?;
        let _first_ts = next()?;
        let last_seq = next()?;
        Some(Summary {
            msgs,
            bytes,
            first_seq,
            last_seq,
        })
    })();
    parsed.map(Some).ok_or_else(|| "truncated".into())
}
