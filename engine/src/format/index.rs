//! The per-segment index file `<base_seq>.idx`, written once when a segment
//! is sealed and memory-mapped afterwards. It is derived data: if it is
//! missing or fails any check it is rebuilt from the segment.
//!
//! ```text
//! header (72 bytes)
//! 0   [u8; 8] magic "NILEIDX\0"
//! 8   u16     index version (3; older files are rebuilt)
//! 10  u16     header length (72)
//! 12  u32     entry length (16)
//! 16  u64     base_seq
//! 24  u64     entry_count: one entry per sequence base_seq..base_seq+count
//! 32  u64     segment_len: length of the .seg file this index describes
//! 40  u32     subject_count
//! 44  u32     lost_count: entries whose record was unreadable
//! 48  u32     crc32c of the entry array
//! 52  u32     crc32c of the subject table
//! 56  u32     headers_count: non-lost entries whose record has headers
//! 60  u32     expiring_count: non-lost entries whose record has an expiry time
//! 64  u32     reserved (0)
//! 68  u32     crc32c of header bytes 0..68
//! entries (entry_count x 16 bytes)
//! 0   u32     offset of the record in the segment file
//! 4   u32     subject id, local to the segment, in bits 0..30; bit 31 set
//!             when the record has headers, bit 30 when it has an expiry
//!             time (u32::MAX = lost record)
//! 8   i64     timestamp_ns
//! subject table (subject_count rows, row i is local subject id i)
//! 0   u64     first seq with this subject in the segment
//! 8   u64     last seq with this subject in the segment
//! 16  u64     number of entries with this subject (deleted ones included)
//! 24  u16     subject length, then the subject bytes
//! ```

use super::crc;
use crate::coding::{u32_at, u64_at, Decode, DecodeError, Encode, Reader};

/// Magic at offset 0 of an index file.
pub const INDEX_MAGIC: [u8; 8] = *b"NILEIDX\0";
/// Header length.
pub const INDEX_HEADER_BYTES: usize = 72;
/// Entry length.
pub const INDEX_ENTRY_BYTES: usize = 16;
/// Subject id of an entry whose record could not be read.
pub const SUBJECT_LOST: u32 = u32::MAX;
/// Version of the index layout. Indexes are derived data, so one of
/// another version is rebuilt from its segment rather than read. Version 2
/// added the headers bit and `headers_count` (byte accounting needs to
/// know which records carry headers); version 3 the expiry bit and
/// `expiring_count` (an expiry time adds bytes to the record that are not
/// the message's, and opening must find the records that carry one).
pub const INDEX_VERSION: u16 = 3;
/// Bit of the stored subject field that marks a record with headers.
const HEADERS_BIT: u32 = 1 << 31;
/// Bit of the stored subject field that marks a record with an expiry time.
const EXPIRES_BIT: u32 = 1 << 30;

/// Index header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// First sequence.
    pub base_seq: u64,
    /// Number of entries.
    pub entry_count: u64,
    /// Segment file length covered.
    pub segment_len: u64,
    /// Rows in the subject table.
    pub subject_count: u32,
    /// Entries marked lost.
    pub lost_count: u32,
    /// CRC of the entry array.
    pub entries_crc: u32,
    /// CRC of the subject table.
    pub subjects_crc: u32,
    /// Non-lost entries whose record has headers.
    pub headers_count: u32,
    /// Non-lost entries whose record has an expiry time.
    pub expiring_count: u32,
}

impl Encode for IndexHeader {
    fn encoded_len(&self) -> usize {
        INDEX_HEADER_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&(INDEX_HEADER_BYTES as u16).to_le_bytes());
        out.extend_from_slice(&(INDEX_ENTRY_BYTES as u32).to_le_bytes());
        out.extend_from_slice(&self.base_seq.to_le_bytes());
        out.extend_from_slice(&self.entry_count.to_le_bytes());
        out.extend_from_slice(&self.segment_len.to_le_bytes());
        out.extend_from_slice(&self.subject_count.to_le_bytes());
        out.extend_from_slice(&self.lost_count.to_le_bytes());
        out.extend_from_slice(&self.entries_crc.to_le_bytes());
        out.extend_from_slice(&self.subjects_crc.to_le_bytes());
        out.extend_from_slice(&self.headers_count.to_le_bytes());
        out.extend_from_slice(&self.expiring_count.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let sum = crc(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&sum.to_le_bytes());
    }
}

impl Decode for IndexHeader {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        if r.bytes(8)? != INDEX_MAGIC {
            return Err(DecodeError::Bad("bad index magic"));
        }
        if r.u16()? != INDEX_VERSION {
            return Err(DecodeError::Bad("unsupported index version"));
        }
        if r.u16()? as usize != INDEX_HEADER_BYTES || r.u32()? as usize != INDEX_ENTRY_BYTES {
            return Err(DecodeError::Bad("bad index header or entry length"));
        }
        let h = Self {
            base_seq: r.u64()?,
            entry_count: r.u64()?,
            segment_len: r.u64()?,
            subject_count: r.u32()?,
            lost_count: r.u32()?,
            entries_crc: r.u32()?,
            subjects_crc: r.u32()?,
            headers_count: r.u32()?,
            expiring_count: r.u32()?,
        };
        let _reserved = r.u32()?;
        let stored = r.u32()?;
        if crc(buf
            .get(..INDEX_HEADER_BYTES - 4)
            .ok_or(DecodeError::Short)?)
            != stored
        {
            return Err(DecodeError::Bad("index header checksum mismatch"));
        }
        Ok((h, INDEX_HEADER_BYTES))
    }
}

/// One index entry: where sequence `base_seq + i` lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Record offset in the segment file.
    pub offset: u32,
    /// Segment-local subject id, or [`SUBJECT_LOST`].
    pub subject: u32,
    /// Timestamp of the record.
    pub timestamp_ns: i64,
    /// The record has a non-empty header block.
    pub headers: bool,
    /// The record carries an expiry time.
    pub expires: bool,
}

impl IndexEntry {
    /// The subject field as stored: the flags folded into the id.
    fn stored_subject(&self) -> u32 {
        if self.subject == SUBJECT_LOST {
            return self.subject;
        }
        let mut s = self.subject;
        if self.headers {
            s |= HEADERS_BIT;
        }
        if self.expires {
            s |= EXPIRES_BIT;
        }
        s
    }

    fn from_stored(offset: u32, stored: u32, timestamp_ns: i64) -> Self {
        let lost = stored == SUBJECT_LOST;
        Self {
            offset,
            subject: if lost {
                stored
            } else {
                stored & !(HEADERS_BIT | EXPIRES_BIT)
            },
            timestamp_ns,
            headers: !lost && stored & HEADERS_BIT != 0,
            expires: !lost && stored & EXPIRES_BIT != 0,
        }
    }
}

impl Encode for IndexEntry {
    fn encoded_len(&self) -> usize {
        INDEX_ENTRY_BYTES
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_subject().to_le_bytes());
        out.extend_from_slice(&self.timestamp_ns.to_le_bytes());
    }
}

impl Decode for IndexEntry {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let (offset, stored, ts) = (r.u32()?, r.u32()?, r.i64()?);
        Ok((Self::from_stored(offset, stored, ts), INDEX_ENTRY_BYTES))
    }
}

/// Reads entry `i` straight out of a mapped entry array (the hot path:
/// no bounds panic, no copy of the array).
pub fn entry_at(entries: &[u8], i: usize) -> Option<IndexEntry> {
    let at = i.checked_mul(INDEX_ENTRY_BYTES)?;
    let offset = u32_at(entries, at)?;
    let stored = u32_at(entries, at + 4)?;
    let timestamp_ns = u64_at(entries, at + 8)? as i64;
    Some(IndexEntry::from_stored(offset, stored, timestamp_ns))
}

/// One row of the subject table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRow {
    /// First seq with this subject in the segment.
    pub first: u64,
    /// Last seq with this subject in the segment.
    pub last: u64,
    /// Entries with this subject.
    pub count: u64,
    /// The subject.
    pub subject: Vec<u8>,
}

impl Encode for SubjectRow {
    fn encoded_len(&self) -> usize {
        26 + self.subject.len()
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.first.to_le_bytes());
        out.extend_from_slice(&self.last.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&(self.subject.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.subject);
    }
}

impl Decode for SubjectRow {
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let first = r.u64()?;
        let last = r.u64()?;
        let count = r.u64()?;
        let len = r.u16()? as usize;
        let subject = r.bytes(len)?.to_vec();
        Ok((
            Self {
                first,
                last,
                count,
                subject,
            },
            r.pos(),
        ))
    }
}

/// Encodes a whole index file.
pub fn encode_index(
    base_seq: u64,
    segment_len: u64,
    entries: &[IndexEntry],
    subjects: &[SubjectRow],
) -> Vec<u8> {
    let mut ent = Vec::with_capacity(entries.len() * INDEX_ENTRY_BYTES);
    entries.iter().for_each(|e| e.encode_into(&mut ent));
    let mut subj = Vec::new();
    subjects.iter().for_each(|s| s.encode_into(&mut subj));
    let header = IndexHeader {
        base_seq,
        entry_count: entries.len() as u64,
        segment_len,
        subject_count: subjects.len() as u32,
        lost_count: entries.iter().filter(|e| e.subject == SUBJECT_LOST).count() as u32,
        entries_crc: crc(&ent),
        subjects_crc: crc(&subj),
        headers_count: entries.iter().filter(|e| e.headers).count() as u32,
        expiring_count: entries.iter().filter(|e| e.expires).count() as u32,
    };
    let mut out = Vec::with_capacity(INDEX_HEADER_BYTES + ent.len() + subj.len());
    header.encode_into(&mut out);
    out.extend_from_slice(&ent);
    out.extend_from_slice(&subj);
    out
}

/// A checked index file: header, the byte range of the entry array, and the
/// decoded subject table.
pub struct ParsedIndex {
    /// Header.
    pub header: IndexHeader,
    /// Byte range of the entries within the file.
    pub entries: std::ops::Range<usize>,
    /// Subject table.
    pub subjects: Vec<SubjectRow>,
}

/// Validates a whole index file (sizes and all three checksums), the
/// `sanity_check` run on every open.
pub fn parse_index(buf: &[u8]) -> Result<ParsedIndex, DecodeError> {
    let (header, _) = IndexHeader::decode_from(buf)?;
    let ent_len = usize::try_from(header.entry_count)
        .ok()
        .and_then(|n| n.checked_mul(INDEX_ENTRY_BYTES))
        .ok_or(DecodeError::Bad("index entry count too large"))?;
    let ent_end = INDEX_HEADER_BYTES + ent_len;
    let ent = buf
        .get(INDEX_HEADER_BYTES..ent_end)
        .ok_or(DecodeError::Short)?;
    if crc(ent) != header.entries_crc {
        return Err(DecodeError::Bad("index entries checksum mismatch"));
    }
    let subj = buf.get(ent_end..).ok_or(DecodeError::Short)?;
    if crc(subj) != header.subjects_crc {
        return Err(DecodeError::Bad("index subject table checksum mismatch"));
    }
    let mut subjects = Vec::with_capacity(header.subject_count as usize);
    let mut at = 0usize;
    for _ in 0..header.subject_count {
        let (row, n) = SubjectRow::decode_from(subj.get(at..).ok_or(DecodeError::Short)?)?;
        subjects.push(row);
        at += n;
    }
    if at != subj.len() {
        return Err(DecodeError::Bad("index subject table length mismatch"));
    }
    Ok(ParsedIndex {
        header,
        entries: INDEX_HEADER_BYTES..ent_end,
        subjects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_flips() {
        let entries = vec![
            IndexEntry {
                offset: 32,
                subject: 0,
                timestamp_ns: 5,
                headers: true,
                expires: true,
            },
            IndexEntry {
                offset: 80,
                subject: SUBJECT_LOST,
                timestamp_ns: -1,
                headers: false,
                expires: false,
            },
            IndexEntry {
                offset: 120,
                subject: 0,
                timestamp_ns: 7,
                headers: false,
                expires: false,
            },
        ];
        let subjects = vec![SubjectRow {
            first: 10,
            last: 10,
            count: 1,
            subject: b"a.b".to_vec(),
        }];
        let buf = encode_index(10, 200, &entries, &subjects);
        let p = parse_index(&buf).map_err(|e| e.detail()).unwrap();
        assert_eq!(p.header.lost_count, 1);
        assert_eq!(p.header.headers_count, 1);
        assert_eq!(p.header.expiring_count, 1);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(entry_at(&buf[p.entries.clone()], i), Some(*e));
        }
        assert_eq!(p.subjects, subjects);
        assert_eq!(entry_at(&buf[p.entries.clone()], 1), Some(entries[1]));
        for i in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(parse_index(&bad).is_err(), "flip {i} undetected");
        }
    }
}
