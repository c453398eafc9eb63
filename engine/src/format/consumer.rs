//! Consumer state files: `<name>.snap` (a full snapshot, replaced
//! atomically) and `<name>.<gen>.log` (operations since that snapshot).
//!
//! ```text
//! snapshot: 0 [u8; 8] magic "NILECSNP", 8 u16 version, 10 u16 reserved,
//!           12 u32 crc32c of bytes 16..end, 16 body:
//!   u64 log generation, u64 delivered consumer seq, u64 delivered stream seq,
//!   u64 ack-floor consumer seq, u64 ack-floor stream seq,
//!   u64 n pending, n x (u64 stream seq, u64 consumer seq, i64 timestamp_ns),
//!   u64 m redelivered, m x (u64 stream seq, u64 redelivery count)
//! log header: 0 [u8; 8] magic "NILECLOG", 8 u16 version, 10 u16 reserved,
//!             12 u32 crc32c of 0..12
//! log record (37 bytes): 0 u8 kind (1 delivered, 2 ack), 1 u64 consumer seq,
//!   9 u64 stream seq, 17 u64 delivery count, 25 i64 timestamp_ns,
//!   33 u32 crc32c of 0..33
//! ```

use super::{crc, FORMAT_VERSION};
use crate::coding::{Decode, DecodeError, Encode, Reader};
use std::collections::BTreeMap;

/// Snapshot magic.
pub const SNAP_MAGIC: [u8; 8] = *b"NILECSNP";
/// Log magic.
pub const CLOG_MAGIC: [u8; 8] = *b"NILECLOG";
/// Log header length.
pub const CLOG_HEADER_BYTES: usize = 16;
/// Log record length.
pub const CLOG_RECORD_BYTES: usize = 37;

/// An unacknowledged delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PendingAck {
    /// Consumer sequence of the (latest) delivery.
    pub consumer_seq: u64,
    /// When it was (last) delivered.
    pub timestamp_ns: i64,
}

/// A consumer's durable state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Highest consumer sequence delivered.
    pub delivered_consumer_seq: u64,
    /// Highest stream sequence delivered.
    pub delivered_stream_seq: u64,
    /// Every consumer sequence at or below this is acknowledged.
    pub ack_floor_consumer_seq: u64,
    /// Every stream sequence at or below this is acknowledged.
    pub ack_floor_stream_seq: u64,
    /// Outstanding deliveries by stream sequence.
    pub pending: BTreeMap<u64, PendingAck>,
    /// Redelivery counts by stream sequence (deliveries minus one).
    pub redelivered: BTreeMap<u64, u64>,
}

/// A snapshot with the log generation it precedes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Generation of the log that continues from this snapshot.
    pub gen: u64,
    /// The state.
    pub state: ConsumerState,
}

impl Encode for Snapshot {
    fn encoded_len(&self) -> usize {
        16 + 8 * 6 + self.state.pending.len() * 24 + 8 + self.state.redelivered.len() * 16
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(self.encoded_len());
        let s = &self.state;
        for v in [
            self.gen,
            s.delivered_consumer_seq,
            s.delivered_stream_seq,
            s.ack_floor_consumer_seq,
            s.ack_floor_stream_seq,
            s.pending.len() as u64,
        ] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        for (sseq, p) in &s.pending {
            body.extend_from_slice(&sseq.to_le_bytes());
            body.extend_from_slice(&p.consumer_seq.to_le_bytes());
            body.extend_from_slice(&p.timestamp_ns.to_le_bytes());
        }
        body.extend_from_slice(&(s.redelivered.len() as u64).to_le_bytes());
        for (sseq, n) in &s.redelivered {
            body.extend_from_slice(&sseq.to_le_bytes());
            body.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&SNAP_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&crc(&body).to_le_bytes());
        out.extend_from_slice(&body);
    }
}

impl Decode for Snapshot {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        if r.bytes(8)? != SNAP_MAGIC {
            return Err(DecodeError::Bad("bad snapshot magic"));
        }
        if r.u16()? != FORMAT_VERSION {
            return Err(DecodeError::Bad("unsupported snapshot version"));
        }
        let _ = r.u16()?;
        let stored = r.u32()?;
        if crc(buf.get(16..).ok_or(DecodeError::Short)?) != stored {
            return Err(DecodeError::Bad("snapshot checksum mismatch"));
        }
        let gen = r.u64()?;
        let mut s = ConsumerState {
            delivered_consumer_seq: r.u64()?,
            delivered_stream_seq: r.u64()?,
            ack_floor_consumer_seq: r.u64()?,
            ack_floor_stream_seq: r.u64()?,
            ..ConsumerState::default()
        };
        let n = r.u64()?;
        for _ in 0..n {
            let sseq = r.u64()?;
            let p = PendingAck {
                consumer_seq: r.u64()?,
                timestamp_ns: r.i64()?,
            };
            s.pending.insert(sseq, p);
        }
        let m = r.u64()?;
        for _ in 0..m {
            let sseq = r.u64()?;
            s.redelivered.insert(sseq, r.u64()?);
        }
        Ok((Self { gen, state: s }, r.pos()))
    }
}

/// One logged consumer operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerOp {
    /// A message was delivered (count 1 = first delivery).
    Delivered {
        /// Consumer sequence.
        consumer_seq: u64,
        /// Stream sequence.
        stream_seq: u64,
        /// Delivery count.
        count: u64,
        /// Time of delivery.
        timestamp_ns: i64,
    },
    /// A message was acknowledged.
    Ack {
        /// Consumer sequence.
        consumer_seq: u64,
        /// Stream sequence.
        stream_seq: u64,
    },
}

impl Encode for ConsumerOp {
    fn encoded_len(&self) -> usize {
        CLOG_RECORD_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let (kind, c, s, n, t) = match *self {
            Self::Delivered {
                consumer_seq,
                stream_seq,
                count,
                timestamp_ns,
            } => (1u8, consumer_seq, stream_seq, count, timestamp_ns),
            Self::Ack {
                consumer_seq,
                stream_seq,
            } => (2u8, consumer_seq, stream_seq, 0, 0),
        };
        out.push(kind);
        out.extend_from_slice(&c.to_le_bytes());
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&t.to_le_bytes());
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

impl Decode for ConsumerOp {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let kind = r.u8()?;
        let (c, s, n, t) = (r.u64()?, r.u64()?, r.u64()?, r.i64()?);
        let stored = r.u32()?;
        if crc(buf.get(..33).ok_or(DecodeError::Short)?) != stored {
            return Err(DecodeError::Bad("consumer log checksum mismatch"));
        }
        let op = match kind {
            1 => Self::Delivered {
                consumer_seq: c,
                stream_seq: s,
                count: n,
                timestamp_ns: t,
            },
            2 => Self::Ack {
                consumer_seq: c,
                stream_seq: s,
            },
            _ => return Err(DecodeError::Bad("unknown consumer op")),
        };
        Ok((op, CLOG_RECORD_BYTES))
    }
}

/// Encodes the log header.
pub fn clog_header() -> Vec<u8> {
    let mut out = Vec::with_capacity(CLOG_HEADER_BYTES);
    out.extend_from_slice(&CLOG_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let sum = crc(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut s = ConsumerState {
            delivered_consumer_seq: 9,
            ack_floor_stream_seq: 3,
            ..Default::default()
        };
        s.pending.insert(
            5,
            PendingAck {
                consumer_seq: 4,
                timestamp_ns: -7,
            },
        );
        s.redelivered.insert(5, 2);
        let snap = Snapshot { gen: 3, state: s };
        let b = snap.encode_to_vec();
        assert_eq!(b.len(), snap.encoded_len());
        assert_eq!(Snapshot::decode_from(&b).unwrap().0, snap);
        let op = ConsumerOp::Delivered {
            consumer_seq: 1,
            stream_seq: 2,
            count: 3,
            timestamp_ns: 4,
        };
        let b = op.encode_to_vec();
        assert_eq!(ConsumerOp::decode_from(&b), Ok((op, CLOG_RECORD_BYTES)));
        for i in 0..b.len() * 8 {
            let mut bad = b.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(ConsumerOp::decode_from(&bad).is_err());
        }
    }
}
