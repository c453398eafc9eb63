//! The 32-byte header at the start of every segment file.
//!
//! ```text
//! 0   [u8; 8] magic "NILESEG\0"
//! 8   u16     format version
//! 10  u16     header length (32)
//! 12  u32     reserved, 0
//! 16  u64     base_seq: sequence of the first record in this segment
//! 24  u32     reserved, 0
//! 28  u32     crc32c of bytes 0..28
//! ```

use super::{crc, FORMAT_VERSION};
use crate::coding::{Decode, DecodeError, Encode, Reader};

/// Magic at offset 0 of a segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"NILESEG\0";
/// Length of the segment header.
pub const SEGMENT_HEADER_BYTES: usize = 32;

/// Segment file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// First sequence stored in the segment.
    pub base_seq: u64,
}

impl Encode for SegmentHeader {
    fn encoded_len(&self) -> usize {
        SEGMENT_HEADER_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&SEGMENT_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.base_seq.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

impl Decode for SegmentHeader {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        if r.bytes(8)? != SEGMENT_MAGIC {
            return Err(DecodeError::Bad("bad segment magic"));
        }
        if r.u16()? != FORMAT_VERSION {
            return Err(DecodeError::Bad("unsupported segment version"));
        }
        if r.u16()? as usize != SEGMENT_HEADER_BYTES {
            return Err(DecodeError::Bad("bad segment header length"));
        }
        let _ = r.u32()?;
        let base_seq = r.u64()?;
        let _ = r.u32()?;
        let stored = r.u32()?;
        if crc(buf.get(..28).ok_or(DecodeError::Short)?) != stored {
            return Err(DecodeError::Bad("segment header checksum mismatch"));
        }
        Ok((Self { base_seq }, SEGMENT_HEADER_BYTES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = SegmentHeader { base_seq: 77 };
        let b = h.encode_to_vec();
        assert_eq!(b.len(), SEGMENT_HEADER_BYTES);
        assert_eq!(
            SegmentHeader::decode_from(&b),
            Ok((h, SEGMENT_HEADER_BYTES))
        );
        let mut bad = b.clone();
        bad[17] ^= 1;
        assert!(SegmentHeader::decode_from(&bad).is_err());
    }
}
