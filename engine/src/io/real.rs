//! The real file system: `pwrite`/`pread`/`fdatasync` through std.

use super::{Io, IoFile};
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealIo;

struct RealFile(File);

impl IoFile for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        crate::stats::timed_sync(|| self.0.sync_data())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        extend_with_zeros(&self.0, len)
    }
    fn map(&self) -> io::Result<Bytes> {
        map_file(&self.0)
    }
}

/// A read-only mapping of a whole file (empty files map to empty bytes).
pub(super) fn map_file(file: &File) -> io::Result<Bytes> {
    if file.metadata()?.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the engine maps index files, which are written once
    // through `write_atomic` and never modified in place, and segment
    // files only while scanning them on open, before any write or
    // truncation; unlinking a mapped file is safe on Unix.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(file)? };
    Ok(Bytes::from_owner(map))
}

impl Io for RealIo {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn IoFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .open(path)?;
        Ok(Arc::new(RealFile(f)))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    out.push(name.to_string());
                }
            }
        }
        Ok(out)
    }
}

/// Bytes of zeros one `pwrite` of [`extend_with_zeros`] writes.
const ZERO_CHUNK_BYTES: usize = 1 << 20;

/// Zeros to copy from, allocated zeroed once and never written: fresh
/// anonymous pages, which reads map to the kernel's shared zero page, so
/// they add nothing to the resident set (a `static` array would sit in the
/// binary's read-only data, a mebibyte of file pages).
fn zeros() -> &'static [u8] {
    static ZEROS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ZEROS.get_or_init(|| vec![0; ZERO_CHUNK_BYTES])
}

/// Extends the file to `len` by writing zeros past its end (never below
/// it: those bytes may be records). Written zeros rather than `fallocate`:
/// a block `fallocate` reserves is "unwritten" in the extent tree, and the
/// first write into it changes that tree, metadata that every `fdatasync`
/// covering such a write must write as well (on ext4 without a journal a
/// second and third device write before the cache flush; with a journal,
/// a journal commit). Zeroed ahead, those blocks are plain data, and the
/// metadata is written once per extension, by the sync after it. Measured
/// in `docs/profiles.md` (seventh round).
pub(crate) fn extend_with_zeros(file: &File, len: u64) -> io::Result<()> {
    let mut at = file.metadata()?.len();
    while at < len {
        let n = usize::try_from(len - at).map_or(ZERO_CHUNK_BYTES, |n| n.min(ZERO_CHUNK_BYTES));
        let zeros = zeros().get(..n).unwrap_or_default();
        file.write_all_at(zeros, at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extending_with_zeros_keeps_the_bytes_before_the_end() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let f = RealIo.open(&dir.path().join("seg"), true)?;
        f.write_all_at(b"records", 0)?;
        let len = ZERO_CHUNK_BYTES as u64 * 2 + 5;
        f.allocate(len)?;
        assert_eq!(f.len()?, len);
        let mut buf = vec![1u8; len as usize];
        f.read_exact_at(&mut buf, 0)?;
        assert_eq!(buf.get(..7), Some(&b"records"[..]));
        assert!(buf.iter().skip(7).all(|b| *b == 0));
        // Never shrinks, never rewrites.
        f.write_all_at(b"more", 7)?;
        f.allocate(10)?;
        assert_eq!(f.len()?, len);
        f.read_exact_at(&mut buf[..11], 0)?;
        assert_eq!(&buf[..11], b"recordsmore");
        Ok(())
    }
}
