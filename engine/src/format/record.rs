//! The message record inside a segment file.
//!
//! ```text
//! 0   u32 record_len   whole record, this field and the CRC included
//! 4   u8  kind         1 = message, 2 = erased message
//! 5   u8  flags        bit 0: an expiry time follows the fixed part;
//!                      bit 1: more records of the same atomic batch follow
//! 6   u16 subject_len
//! 8   u64 seq
//! 16  i64 timestamp_ns
//! 24  u32 headers_len
//! 28  u32 payload_len
//! 32  i64 expires_ns   only with flag bit 0
//! ..  subject, headers, payload
//! end u32 crc32c of every byte before it
//! ```

use super::crc;
use crate::coding::{DecodeError, Encode, Reader};

/// Bytes of the fixed part before the subject.
pub const RECORD_HEADER_BYTES: usize = 32;
/// Fixed overhead of a record: header plus trailing CRC.
pub const RECORD_OVERHEAD_BYTES: usize = RECORD_HEADER_BYTES + 4;
/// Bytes of the optional expiry time after the fixed part.
pub const EXPIRES_BYTES: usize = 8;
/// Flag: the record carries an expiry time.
const FLAG_EXPIRES: u8 = 1;
/// Flag: the record is part of an atomic batch and is not its last one.
/// Recovery drops a run of such records that no closing record follows.
const FLAG_BATCH_OPEN: u8 = 2;
/// Expiry time of a message that never expires, not even by `age_max`.
pub const EXPIRES_NEVER: i64 = i64::MAX;
/// Longest subject the format can hold.
pub const SUBJECT_BYTES_MAX: usize = u16::MAX as usize;
/// Subject of a gap record: an `Erased` record with no headers or payload
/// that holds a sequence which never had a message (`skip_to`). No NATS
/// subject can contain a space, so no message is ever mistaken for one.
pub const GAP_SUBJECT: &[u8] = b" gap";

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stored message.
    Msg = 1,
    /// A deleted message whose headers and payload were overwritten with
    /// zeros (`delete` with `erase`).
    Erased = 2,
}

/// A record to write, borrowing its parts.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Kind.
    pub kind: Kind,
    /// Stream sequence.
    pub seq: u64,
    /// Caller's timestamp.
    pub timestamp_ns: i64,
    /// Subject bytes.
    pub subject: &'a [u8],
    /// Raw NATS header block (may be empty).
    pub headers: &'a [u8],
    /// Payload.
    pub payload: &'a [u8],
    /// When the message expires ([`EXPIRES_NEVER`]: never), if it has an
    /// expiry time of its own.
    pub expires_ns: Option<i64>,
    /// More records of the same atomic batch follow this one.
    pub batch_open: bool,
}

/// Total on-disk length of a record with these part lengths.
pub fn record_len(subject: usize, headers: usize, payload: usize) -> usize {
    RECORD_OVERHEAD_BYTES + subject + headers + payload
}

/// Extra on-disk bytes of a record with (or without) an expiry time.
pub fn expires_len(expires: bool) -> usize {
    if expires {
        EXPIRES_BYTES
    } else {
        0
    }
}

impl Encode for RecordRef<'_> {
    fn encoded_len(&self) -> usize {
        record_len(self.subject.len(), self.headers.len(), self.payload.len())
            + expires_len(self.expires_ns.is_some())
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        // One reservation for the whole record, and the fixed part built
        // on the stack: no growth check per field on every append.
        out.reserve(len);
        let start = out.len();
        let mut fixed = [0u8; RECORD_HEADER_BYTES];
        let expires = if self.expires_ns.is_some() {
            FLAG_EXPIRES
        } else {
            0
        };
        let batch = if self.batch_open { FLAG_BATCH_OPEN } else { 0 };
        fixed[0..4].copy_from_slice(&(len as u32).to_le_bytes());
        fixed[4] = self.kind as u8;
        fixed[5] = expires | batch;
        fixed[6..8].copy_from_slice(&(self.subject.len() as u16).to_le_bytes());
        fixed[8..16].copy_from_slice(&self.seq.to_le_bytes());
        fixed[16..24].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        fixed[24..28].copy_from_slice(&(self.headers.len() as u32).to_le_bytes());
        fixed[28..32].copy_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&fixed);
        if let Some(at) = self.expires_ns {
            out.extend_from_slice(&at.to_le_bytes());
        }
        out.extend_from_slice(self.subject);
        out.extend_from_slice(self.headers);
        out.extend_from_slice(self.payload);
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

/// A decoded record: fixed fields plus where its parts lie in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFrame {
    /// Kind.
    pub kind: Kind,
    /// Stream sequence.
    pub seq: u64,
    /// Timestamp.
    pub timestamp_ns: i64,
    /// Whole record length.
    pub len: usize,
    /// The record's expiry time, if it has one.
    pub expires_ns: Option<i64>,
    /// More records of the same atomic batch follow this one.
    pub batch_open: bool,
    /// Subject range within the buffer.
    pub subject: std::ops::Range<usize>,
    /// Headers range within the buffer.
    pub headers: std::ops::Range<usize>,
    /// Payload range within the buffer.
    pub payload: std::ops::Range<usize>,
}

/// Reads just the length field (to size a read before decoding).
pub fn peek_len(buf: &[u8]) -> Result<usize, DecodeError> {
    let len = Reader::new(buf).u32()? as usize;
    if len < RECORD_OVERHEAD_BYTES {
        return Err(DecodeError::Bad("record length too small"));
    }
    Ok(len)
}

impl crate::coding::Decode for RecordFrame {
    /// Checks length, kind, part lengths and CRC. A buffer shorter than the
    /// record is `Short` (a torn tail); anything else wrong is `Bad`.
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let len = r.u32()? as usize;
        if len < RECORD_OVERHEAD_BYTES {
            return Err(DecodeError::Bad("record length too small"));
        }
        let kind = match r.u8()? {
            1 => Kind::Msg,
            2 => Kind::Erased,
            _ => return Err(DecodeError::Bad("unknown record kind")),
        };
        let flags = r.u8()?;
        if flags & !(FLAG_EXPIRES | FLAG_BATCH_OPEN) != 0 {
            return Err(DecodeError::Bad("unknown record flags"));
        }
        let subject_len = r.u16()? as usize;
        let seq = r.u64()?;
        let timestamp_ns = r.i64()?;
        let headers_len = r.u32()? as usize;
        let payload_len = r.u32()? as usize;
        let has_expiry = flags & FLAG_EXPIRES != 0;
        let expires_ns = if has_expiry { Some(r.i64()?) } else { None };
        let extra = expires_len(has_expiry);
        if record_len(subject_len, headers_len, payload_len) + extra != len {
            return Err(DecodeError::Bad(
                "record part lengths disagree with record length",
            ));
        }
        let body = buf.get(..len - 4).ok_or(DecodeError::Short)?;
        let stored = crate::coding::u32_at(buf, len - 4).ok_or(DecodeError::Short)?;
        if crc(body) != stored {
            return Err(DecodeError::Bad("record checksum mismatch"));
        }
        let s0 = RECORD_HEADER_BYTES + extra;
        let h0 = s0 + subject_len;
        let p0 = h0 + headers_len;
        let frame = RecordFrame {
            kind,
            seq,
            timestamp_ns,
            len,
            expires_ns,
            batch_open: flags & FLAG_BATCH_OPEN != 0,
            subject: s0..h0,
            headers: h0..p0,
            payload: p0..p0 + payload_len,
        };
        Ok((frame, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coding::Decode;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trip(seq: u64, ts: i64, subj in "[a-z.]{1,20}",
                      hdr in proptest::collection::vec(any::<u8>(), 0..40),
                      pay in proptest::collection::vec(any::<u8>(), 0..200),
                      expires in proptest::option::of(any::<i64>())) {
            let r = RecordRef { kind: Kind::Msg, seq, timestamp_ns: ts,
                subject: subj.as_bytes(), headers: &hdr, payload: &pay, expires_ns: expires,
                batch_open: seq % 2 == 0 };
            let buf = r.encode_to_vec();
            prop_assert_eq!(buf.len(), r.encoded_len());
            let (f, n) = RecordFrame::decode_from(&buf)
                .map_err(|e| TestCaseError::fail(e.detail()))?;
            prop_assert_eq!(n, buf.len());
            prop_assert_eq!(f.seq, seq);
            prop_assert_eq!(f.timestamp_ns, ts);
            prop_assert_eq!(f.expires_ns, expires);
            prop_assert_eq!(f.batch_open, seq % 2 == 0);
            prop_assert_eq!(&buf[f.subject], subj.as_bytes());
            prop_assert_eq!(&buf[f.headers], &hdr[..]);
            prop_assert_eq!(&buf[f.payload], &pay[..]);
            for cut in 0..buf.len() {
                prop_assert!(RecordFrame::decode_from(&buf[..cut]).is_err());
            }
        }
    }
}
