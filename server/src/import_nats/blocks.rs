//! nats-server message blocks (`msgs/<index>.blk`): records, their
//! checksums, and the compression header.
//!
//! A record is `u32 len` (top bit: has headers), `u64 seq` (top bit: erased,
//! next bit: delete tombstone), `i64 ts`, `u16 subject_len`, the subject,
//! then with headers `u32 headers_len` and the headers, the payload, and an
//! 8-byte HighwayHash-64 of seq, ts, subject, headers and payload, keyed
//! with the SHA-256 of `"<stream>-<block index>"`.

use std::path::{Path, PathBuf};

use highway::{HighwayHash, HighwayHasher, Key};
use sha2::{Digest, Sha256};

use super::varint::Cursor;
use super::{s2, ImportError};

const HEADERS_BIT: u32 = 1 << 31;
const ERASED_BIT: u64 = 1 << 63;
const TOMBSTONE_BIT: u64 = 1 << 62;
/// len, seq, ts, subject_len.
const RECORD_HEADER_BYTES: usize = 22;
const RECORD_HASH_BYTES: usize = 8;
/// nats-server refuses records longer than this as corrupt.
const RECORD_BYTES_MAX: usize = 32 * 1024 * 1024;
/// `cmp` + algorithm byte + uvarint original size, before a compressed block.
const COMPRESSION_MAGIC: &[u8; 3] = b"cmp";
const ALGORITHM_NONE: u8 = 0;
const ALGORITHM_S2: u8 = 1;

/// One record of a block.
pub enum Record<'a> {
    Msg(Msg<'a>),
    /// A sequence that exists but is deleted (erased or skipped).
    Erased {
        seq: u64,
        ts: i64,
    },
    /// A later delete of `seq` (also how an emptied stream remembers its last sequence).
    Tombstone {
        seq: u64,
        ts: i64,
    },
}

pub struct Msg<'a> {
    pub seq: u64,
    pub ts: i64,
    pub subject: &'a [u8],
    pub headers: &'a [u8],
    pub payload: &'a [u8],
}

/// A block file read whole, with its index (from the file name).
pub struct Block {
    pub index: u32,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The block files of a `msgs` directory in index order.
pub fn list(msgs_dir: &Path) -> Result<Vec<(u32, PathBuf)>, ImportError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(msgs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(ImportError::io(msgs_dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| ImportError::io(msgs_dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(index) = name
            .strip_suffix(".blk")
            .and_then(|n| n.parse::<u32>().ok())
        {
            out.push((index, entry.path()));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

impl Block {
    pub fn read(index: u32, path: PathBuf) -> Result<Block, ImportError> {
        let raw = std::fs::read(&path).map_err(|e| ImportError::io(&path, e))?;
        let bytes = match uncompressed(&raw) {
            Ok(Some(b)) => b,
            Ok(None) => raw,
            Err(reason) => {
                return Err(ImportError::Corrupt {
                    path,
                    offset: 0,
                    reason,
                })
            }
        };
        Ok(Block { index, path, bytes })
    }

    /// Every record, checked; the first bad one ends the walk with an error.
    pub fn records(
        &self,
        stream: &str,
    ) -> impl Iterator<Item = Result<Record<'_>, ImportError>> + '_ {
        let key = block_key(stream, self.index);
        let mut at = 0;
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed || at >= self.bytes.len() {
                return None;
            }
            match parse_record(&self.bytes[at..], &key) {
                Ok((rec, len)) => {
                    at += len;
                    Some(Ok(rec))
                }
                Err(reason) => {
                    failed = true;
                    Some(Err(ImportError::Corrupt {
                        path: self.path.clone(),
                        offset: at as u64,
                        reason,
                    }))
                }
            }
        })
    }
}

/// A compressed block's records: after `cmp`, the algorithm byte and the
/// uvarint size of the original comes the S2 stream of all but the last 8
/// bytes, which follow as they were (the last record's checksum).
/// `None`: the block is not compressed.
fn uncompressed(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if raw.len() < 5 || !raw.starts_with(COMPRESSION_MAGIC) {
        return Ok(None);
    }
    let mut c = Cursor::new(raw, 4);
    let original = c.uvarint().ok_or("bad compression header")?;
    let body = &raw[c.position()..];
    match raw[3] {
        ALGORITHM_NONE => Ok(Some(body.to_vec())),
        ALGORITHM_S2 => {
            let split = body
                .len()
                .checked_sub(RECORD_HASH_BYTES)
                .ok_or("short compressed block")?;
            let mut out = s2::decode_stream(&body[..split])?;
            out.extend_from_slice(&body[split..]);
            if out.len() as u64 != original {
                return Err(format!(
                    "decompressed to {} bytes, header says {original}",
                    out.len()
                ));
            }
            Ok(Some(out))
        }
        other => Err(format!("unknown compression algorithm {other}")),
    }
}

/// The HighwayHash key of block `index` of `stream`.
fn block_key(stream: &str, index: u32) -> Key {
    key_of(format!("{stream}-{index}").as_bytes())
}

/// SHA-256 of `seed` as a HighwayHash key (four little-endian words).
pub fn key_of(seed: &[u8]) -> Key {
    let digest = Sha256::digest(seed);
    let mut words = [0u64; 4];
    for (w, chunk) in words.iter_mut().zip(digest.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    Key(words)
}

/// HighwayHash-64 of `parts` as the 8 bytes nats-server stores.
pub fn hash64(key: &Key, parts: &[&[u8]]) -> [u8; 8] {
    let mut h = HighwayHasher::new(*key);
    for p in parts {
        h.append(p);
    }
    h.finalize64().to_le_bytes()
}

/// Non-empty tokens of printable bytes without spaces.
fn is_subject(s: &[u8]) -> bool {
    !s.is_empty()
        && s.split(|b| *b == b'.').all(|t| !t.is_empty())
        && s.iter().all(|b| *b > b' ' && *b != 0x7f)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// One record at the start of `buf` and its length, or why it is bad.
fn parse_record<'a>(buf: &'a [u8], key: &Key) -> Result<(Record<'a>, usize), String> {
    if buf.len() < RECORD_HEADER_BYTES {
        return Err(format!(
            "{} bytes left, a record header needs 22",
            buf.len()
        ));
    }
    let raw_len = le_u32(buf);
    let has_headers = raw_len & HEADERS_BIT != 0;
    let len = (raw_len & !HEADERS_BIT) as usize;
    let subject_len = usize::from(u16::from_le_bytes([buf[20], buf[21]]));
    let fixed = RECORD_HEADER_BYTES + RECORD_HASH_BYTES + if has_headers { 4 } else { 0 };
    if len < fixed + subject_len || len > buf.len() || len > RECORD_BYTES_MAX {
        return Err(format!(
            "record length {len} does not fit (subject {subject_len}, {} bytes left)",
            buf.len()
        ));
    }
    let raw_seq = le_u64(&buf[4..]);
    let ts = le_u64(&buf[12..]) as i64;
    let body = &buf[RECORD_HEADER_BYTES..len - RECORD_HASH_BYTES];
    let subject = &body[..subject_len];
    let (headers, payload) = if has_headers {
        let hlen = le_u32(&body[subject_len..]) as usize;
        let rest = &body[subject_len + 4..];
        if hlen > rest.len() {
            return Err(format!("headers length {hlen} past the record"));
        }
        rest.split_at(hlen)
    } else {
        (&body[..0], &body[subject_len..])
    };
    let stored = &buf[len - RECORD_HASH_BYTES..len];
    let hashed_tail = if has_headers {
        &body[subject_len + 4..]
    } else {
        &body[subject_len..]
    };
    if hash64(key, &[&buf[4..20], subject, hashed_tail]) != stored {
        return Err(format!(
            "checksum mismatch (record of seq {})",
            raw_seq & !(ERASED_BIT | TOMBSTONE_BIT)
        ));
    }
    // The checksum runs over subject, headers and payload as one stream, so
    // it does not see where one ends and the next begins: check the shapes.
    let is_msg = raw_seq & (TOMBSTONE_BIT | ERASED_BIT) == 0 && raw_seq != 0;
    if is_msg && !is_subject(subject) {
        return Err(format!("record of seq {raw_seq}: subject is not valid"));
    }
    if is_msg && !headers.is_empty() && !headers.ends_with(b"\r\n\r\n") {
        return Err(format!(
            "record of seq {raw_seq}: header block does not end"
        ));
    }
    let rec = if raw_seq & TOMBSTONE_BIT != 0 {
        Record::Tombstone {
            seq: raw_seq & !(TOMBSTONE_BIT | ERASED_BIT),
            ts,
        }
    } else if raw_seq & ERASED_BIT != 0 || raw_seq == 0 {
        Record::Erased {
            seq: raw_seq & !ERASED_BIT,
            ts,
        }
    } else {
        Record::Msg(Msg {
            seq: raw_seq,
            ts,
            subject,
            headers,
            payload,
        })
    };
    Ok((rec, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as nats-server lays it out, with its checksum.
    fn record(
        key: &Key,
        seq: u64,
        ts: i64,
        subject: &[u8],
        hdrs: Option<&[u8]>,
        payload: &[u8],
    ) -> Vec<u8> {
        let hlen = hdrs.map_or(0, |h| 4 + h.len());
        let len = RECORD_HEADER_BYTES + subject.len() + hlen + payload.len() + RECORD_HASH_BYTES;
        let mut b = Vec::new();
        let flag = if hdrs.is_some() { HEADERS_BIT } else { 0 };
        b.extend_from_slice(&(len as u32 | flag).to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&ts.to_le_bytes());
        b.extend_from_slice(&(subject.len() as u16).to_le_bytes());
        b.extend_from_slice(subject);
        if let Some(h) = hdrs {
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
            b.extend_from_slice(h);
        }
        b.extend_from_slice(payload);
        let tail = [hdrs.unwrap_or(&[]), payload].concat();
        let sum = hash64(key, &[&b[4..20], subject, &tail]);
        b.extend_from_slice(&sum);
        b
    }

    fn block(bytes: Vec<u8>) -> Block {
        Block {
            index: 1,
            path: PathBuf::from("1.blk"),
            bytes,
        }
    }

    #[test]
    fn records_parse_and_every_flipped_byte_is_caught() {
        let key = block_key("S", 1);
        let h = b"NATS/1.0\r\nA: b\r\n\r\n";
        let mut bytes = record(&key, 1, 10, b"a.b", Some(h), b"hello");
        bytes.extend(record(&key, 2 | TOMBSTONE_BIT, 11, b"", None, b""));
        bytes.extend(record(&key, 3 | ERASED_BIT, 12, b"", None, b""));
        let b = block(bytes.clone());
        let recs: Vec<_> = b.records("S").collect::<Result<_, _>>().expect("clean");
        match &recs[0] {
            Record::Msg(m) => {
                assert_eq!(
                    (m.seq, m.ts, m.subject, m.headers, m.payload),
                    (1, 10, &b"a.b"[..], &h[..], &b"hello"[..])
                );
            }
            _ => panic!("a message first"),
        }
        assert!(matches!(recs[1], Record::Tombstone { seq: 2, ts: 11 }));
        assert!(matches!(recs[2], Record::Erased { seq: 3, ts: 12 }));
        // Another stream's key does not verify.
        assert!(b.records("T").next().expect("one").is_err());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            let bad = block(bad);
            assert!(
                bad.records("S").any(|r| r.is_err()),
                "flip at byte {at} not caught"
            );
        }
    }

    #[test]
    fn bad_compressed_blocks_are_reported() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("1.blk");
        for bytes in [
            &b"cmp\x01\x10garbage-garbage-garbage"[..],
            b"cmp\x07\x10xxxxxxxxxxxxxxxx",
        ] {
            std::fs::write(&path, bytes).expect("write");
            assert!(matches!(
                Block::read(1, path.clone()),
                Err(ImportError::Corrupt { .. })
            ));
        }
    }
}
