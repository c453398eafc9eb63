//! The tombstone log: appends of deleted ranges, replayed on open.

use crate::coding::{Decode, Encode};
use crate::error::Result;
use crate::format::tomb::{TombHeader, TombRange, TOMB_HEADER_BYTES};
use crate::io::{write_atomic, Io, IoFile};
use std::path::Path;
use std::sync::Arc;

/// File name of the tombstone log.
pub const TOMB_FILE: &str = "deleted.tomb";

/// An open tombstone log.
pub struct TombLog {
    file: Arc<dyn IoFile>,
    len: u64,
    /// Bytes written since the last sync.
    pub dirty: bool,
}

impl TombLog {
    /// Writes an empty log where there is none, synced by the caller. A
    /// new store needs no atomic replace: a torn header is reset on open
    /// and there is nothing to lose.
    pub fn write_new(io: &dyn Io, dir: &Path) -> Result<Arc<dyn IoFile>> {
        let file = io.open(&dir.join(TOMB_FILE), true)?;
        file.set_len(0)?;
        file.write_all_at(&TombHeader.encode_to_vec(), 0)?;
        Ok(file)
    }

    /// Opens (or creates) the log and returns its valid ranges. A torn or
    /// corrupt tail is cut off: ranges before it are kept.
    pub fn open(io: &dyn Io, dir: &Path) -> Result<(Self, Vec<TombRange>)> {
        let path = dir.join(TOMB_FILE);
        let file = match io.open(&path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(io, dir, TOMB_FILE, &TombHeader.encode_to_vec())?;
                io.open(&path, false)?
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.len()?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, 0)?;
        if TombHeader::decode_from(&buf).is_err() {
            // The header is written atomically, so a bad one is bit rot:
            // start over rather than refuse to open; the loss is logged.
            tracing::warn!(path = %path.display(), "tombstone log header damaged; resetting");
            let fresh = TombHeader.encode_to_vec();
            write_atomic(io, dir, TOMB_FILE, &fresh)?;
            let file = io.open(&path, false)?;
            return Ok((
                Self {
                    file,
                    len: fresh.len() as u64,
                    dirty: false,
                },
                Vec::new(),
            ));
        }
        let mut at = TOMB_HEADER_BYTES;
        let mut ranges = Vec::new();
        while let Ok((r, n)) = TombRange::decode_from(buf.get(at..).unwrap_or_default()) {
            ranges.push(r);
            at += n;
        }
        if at as u64 != len {
            file.set_len(at as u64)?;
            file.sync_data()?;
        }
        Ok((
            Self {
                file,
                len: at as u64,
                dirty: false,
            },
            ranges,
        ))
    }

    /// Appends ranges (not yet durable: call [`TombLog::sync`]).
    pub fn append(&mut self, ranges: &[TombRange]) -> Result<()> {
        if ranges.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        ranges.iter().for_each(|r| r.encode_into(&mut buf));
        self.file.write_all_at(&buf, self.len)?;
        self.len += buf.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// The file, for syncing outside the store lock.
    pub fn file(&self) -> Arc<dyn IoFile> {
        self.file.clone()
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Replaces the whole log atomically with `ranges`.
    pub fn rewrite(&mut self, io: &dyn Io, dir: &Path, ranges: &[TombRange]) -> Result<()> {
        let mut buf = TombHeader.encode_to_vec();
        ranges.iter().for_each(|r| r.encode_into(&mut buf));
        write_atomic(io, dir, TOMB_FILE, &buf)?;
        self.file = io.open(&dir.join(TOMB_FILE), false)?;
        self.len = buf.len() as u64;
        self.dirty = false;
        Ok(())
    }
}

/// Coalesces ascending sequences into ranges.
pub fn to_ranges(seqs: impl IntoIterator<Item = u64>) -> Vec<TombRange> {
    let mut out: Vec<TombRange> = Vec::new();
    for s in seqs {
        match out.last_mut() {
            Some(r) if r.last + 1 == s => r.last = s,
            _ => out.push(TombRange { first: s, last: s }),
        }
    }
    out
}
