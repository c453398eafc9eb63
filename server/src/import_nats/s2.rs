//! A decoder for the S2 stream format, the one nats-server writes a
//! compressed message block in. Written from the published format
//! description: Snappy's framing (chunks of a type byte and a 24-bit
//! length; compressed and uncompressed data chunks carry a masked CRC-32C
//! of their output) around Snappy's block format, with S2's extensions
//! (the `S2sTwO` stream identifier, blocks up to 4 MiB, and a copy with a
//! 1-byte offset of 0 that repeats the previous offset with a longer
//! length).

/// Output bytes one decoded stream may hold (nats-server blocks are far smaller).
const OUTPUT_BYTES_MAX: usize = 256 * 1024 * 1024;
const CHUNK_HEADER_BYTES: usize = 4;
const CRC_BYTES: usize = 4;
const STREAM_IDS: [&[u8]; 2] = [b"S2sTwO", b"sNaPpY"];

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_UNCOMPRESSED: u8 = 0x01;
const CHUNK_STREAM_ID: u8 = 0xff;
/// 0x80 ..= 0xfe are skippable (padding, indexes); 0x02 ..= 0x7f are not.
const CHUNK_SKIPPABLE_MIN: u8 = 0x80;

/// Decode a whole framed stream.
pub fn decode_stream(mut input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut seen_id = false;
    while !input.is_empty() {
        if input.len() < CHUNK_HEADER_BYTES {
            return Err("truncated chunk header".into());
        }
        let kind = input[0];
        let len = usize::from(input[1]) | usize::from(input[2]) << 8 | usize::from(input[3]) << 16;
        let body = input
            .get(CHUNK_HEADER_BYTES..CHUNK_HEADER_BYTES + len)
            .ok_or("truncated chunk")?;
        input = &input[CHUNK_HEADER_BYTES + len..];
        match kind {
            CHUNK_STREAM_ID => {
                if !STREAM_IDS.contains(&body) {
                    return Err("not an S2 stream".into());
                }
                seen_id = true;
            }
            _ if !seen_id => return Err("data before the stream identifier".into()),
            CHUNK_COMPRESSED | CHUNK_UNCOMPRESSED => {
                let (crc, data) = body.split_at_checked(CRC_BYTES).ok_or("short chunk")?;
                let start = out.len();
                if kind == CHUNK_COMPRESSED {
                    decode_block(data, &mut out)?;
                } else {
                    out.extend_from_slice(data);
                }
                let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                if masked_crc(&out[start..]) != want {
                    return Err("chunk checksum mismatch".into());
                }
                if out.len() > OUTPUT_BYTES_MAX {
                    return Err("decoded stream too large".into());
                }
            }
            k if k >= CHUNK_SKIPPABLE_MIN => {}
            k => return Err(format!("unknown chunk type {k:#x}")),
        }
    }
    Ok(out)
}

/// The framing format's CRC: CRC-32C rotated and offset.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Little-endian integer of `n` bytes at `at`.
fn le(b: &[u8], at: usize, n: usize) -> Result<usize, String> {
    let bytes = b.get(at..at + n).ok_or("truncated tag")?;
    Ok(bytes
        .iter()
        .rev()
        .fold(0usize, |acc, x| acc << 8 | usize::from(*x)))
}

/// One block: a uvarint output length, then literal and copy tags.
fn decode_block(b: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut c = super::varint::Cursor::new(b, 0);
    let want =
        usize::try_from(c.uvarint().ok_or("bad block length")?).map_err(|_| "block length")?;
    if want > OUTPUT_BYTES_MAX {
        return Err("block too large".into());
    }
    let mut at = c.position();
    let start = out.len();
    let mut offset = 0usize;
    while at < b.len() {
        let tag = b[at];
        let (len, copy_from) = match tag & 3 {
            0 => {
                let code = usize::from(tag >> 2);
                let (n, extra) = if code < 60 {
                    (code + 1, 0)
                } else {
                    (le(b, at + 1, code - 59)? + 1, code - 59)
                };
                let lit = b
                    .get(at + 1 + extra..at + 1 + extra + n)
                    .ok_or("literal past the block")?;
                out.extend_from_slice(lit);
                at += 1 + extra + n;
                continue;
            }
            1 => {
                let off = usize::from(tag >> 5) << 8 | le(b, at + 1, 1)?;
                let code = usize::from(tag >> 2) & 7;
                at += 2;
                if off != 0 {
                    offset = off;
                    (code + 4, off)
                } else {
                    // S2's repeat of the previous offset.
                    let len = match code {
                        0..=4 => code + 4,
                        5 => 8 + le(b, at, 1)?,
                        6 => 260 + le(b, at, 2)?,
                        _ => 65540 + le(b, at, 3)?,
                    };
                    at += code.saturating_sub(4);
                    (len, offset)
                }
            }
            2 => {
                offset = le(b, at + 1, 2)?;
                at += 3;
                (usize::from(tag >> 2) + 1, offset)
            }
            _ => {
                offset = le(b, at + 1, 4)?;
                at += 5;
                (usize::from(tag >> 2) + 1, offset)
            }
        };
        let produced = out.len() - start;
        if copy_from == 0 || copy_from > produced {
            return Err("copy offset outside the block".into());
        }
        if produced + len > want {
            return Err("block longer than declared".into());
        }
        // Byte by byte: a copy may overlap what it writes.
        let from = out.len() - copy_from;
        for i in 0..len {
            let x = out[from + i];
            out.push(x);
        }
    }
    if out.len() - start != want {
        return Err("block shorter than declared".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(block: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut s = vec![CHUNK_STREAM_ID, 6, 0, 0];
        s.extend_from_slice(b"S2sTwO");
        let len = CRC_BYTES + block.len();
        s.extend_from_slice(&[CHUNK_COMPRESSED, len as u8, (len >> 8) as u8, 0]);
        s.extend_from_slice(&masked_crc(plain).to_le_bytes());
        s.extend_from_slice(block);
        s
    }

    /// Literal, copy with a 2-byte offset, S2's repeat (with its extra
    /// length byte), and an overlapping copy with a 1-byte offset.
    #[test]
    fn literal_copy_and_repeat_decode() {
        let plain = b"abcdabcdabcdxxabcdabcdabcdxxabcdabcdabcda";
        let mut block = vec![plain.len() as u8];
        block.extend_from_slice(&[(4 - 1) << 2]); // literal "abcd"
        block.extend_from_slice(b"abcd");
        block.extend_from_slice(&[((8 - 1) << 2) | 2, 4, 0]); // copy 8 from 4 back
        block.extend_from_slice(&[(2 - 1) << 2]); // literal "xx"
        block.extend_from_slice(b"xx");
        block.extend_from_slice(&[((4 - 1) << 2) | 2, 14, 0]); // copy 4 from 14 back: offset 14
        block.extend_from_slice(&[(5 << 2) | 1, 0, 9]); // repeat offset 14, length 8 + 9 = 17
        block.extend_from_slice(&[((6 - 4) << 2) | 1, 4]); // copy1: 6 from 4 back, overlapping
        let out = decode_stream(&framed(&block, plain)).expect("decodes");
        assert_eq!(out, plain);
        let mut bad = framed(&block, plain);
        let last = bad.len() - 1;
        bad[last] = 5; // another offset: other bytes, so the CRC fails
        assert!(decode_stream(&bad).is_err());
    }

    #[test]
    fn a_repeat_first_is_refused() {
        let block = [4u8, 1, 0];
        assert!(decode_stream(&framed(&block, b"aaaa")).is_err());
    }
}
