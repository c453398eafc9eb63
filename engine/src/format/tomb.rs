//! The tombstone log `deleted.tomb`: which sequences were deleted.
//!
//! A 16-byte file header, then 20-byte range records:
//!
//! ```text
//! header: 0 [u8; 8] magic "NILETOMB", 8 u16 version, 10 u16 reserved,
//!         12 u32 crc32c of bytes 0..12
//! record: 0 u64 first_seq, 8 u64 last_seq (inclusive), 16 u32 crc32c of 0..16
//! ```

use super::{crc, FORMAT_VERSION};
use crate::coding::{Decode, DecodeError, Encode, Reader};

/// Magic at offset 0 of the tombstone log.
pub const TOMB_MAGIC: [u8; 8] = *b"NILETOMB";
/// Header length.
pub const TOMB_HEADER_BYTES: usize = 16;
/// Record length.
pub const TOMB_RECORD_BYTES: usize = 20;

/// The tombstone log header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TombHeader;

impl Encode for TombHeader {
    fn encoded_len(&self) -> usize {
        TOMB_HEADER_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&TOMB_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

impl Decode for TombHeader {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        if r.bytes(8)? != TOMB_MAGIC {
            return Err(DecodeError::Bad("bad tombstone magic"));
        }
        if r.u16()? != FORMAT_VERSION {
            return Err(DecodeError::Bad("unsupported tombstone version"));
        }
        let _ = r.u16()?;
        let stored = r.u32()?;
        if crc(buf.get(..12).ok_or(DecodeError::Short)?) != stored {
            return Err(DecodeError::Bad("tombstone header checksum mismatch"));
        }
        Ok((Self, TOMB_HEADER_BYTES))
    }
}

/// Sequences `first..=last` are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TombRange {
    /// First deleted sequence.
    pub first: u64,
    /// Last deleted sequence (inclusive).
    pub last: u64,
}

impl Encode for TombRange {
    fn encoded_len(&self) -> usize {
        TOMB_RECORD_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.first.to_le_bytes());
        out.extend_from_slice(&self.last.to_le_bytes());
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

impl Decode for TombRange {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let first = r.u64()?;
        let last = r.u64()?;
        let stored = r.u32()?;
        if crc(buf.get(..16).ok_or(DecodeError::Short)?) != stored {
            return Err(DecodeError::Bad("tombstone checksum mismatch"));
        }
        if last < first {
            return Err(DecodeError::Bad("tombstone range reversed"));
        }
        Ok((Self { first, last }, TOMB_RECORD_BYTES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = TombRange { first: 3, last: 9 };
        let b = t.encode_to_vec();
        assert_eq!(TombRange::decode_from(&b), Ok((t, TOMB_RECORD_BYTES)));
        let h = TombHeader.encode_to_vec();
        assert_eq!(
            TombHeader::decode_from(&h),
            Ok((TombHeader, TOMB_HEADER_BYTES))
        );
        for i in 0..b.len() * 8 {
            let mut bad = b.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(TombRange::decode_from(&bad).is_err());
        }
    }
}
