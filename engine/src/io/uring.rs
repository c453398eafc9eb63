//! Writes and `fdatasync` through io_uring, reads and directory operations
//! as in [`RealIo`]. Chosen at start-up by [`default_io`] (opt-in with
//! `NILE_IO=io_uring`, probed, since containers often forbid io_uring),
//! with `pwrite`/`fdatasync` as the fallback; the choice is logged once.
//!
//! Each call submits one operation and waits for it, so today this performs
//! like the plain path; it is the seam for linking a segment write to its
//! fdatasync in one submission.

use super::{Io, IoFile, RealIo};
use bytes::Bytes;
use io_uring::{opcode, types, IoUring};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Submission queue size of each file's ring (one operation at a time).
const RING_ENTRIES: u32 = 4;

/// io_uring for writes and syncs.
#[derive(Debug, Clone, Copy, Default)]
pub struct UringIo;

impl UringIo {
    /// Can this process use io_uring? Sets up a ring and runs a NOP.
    pub fn probe() -> io::Result<()> {
        let mut ring = IoUring::new(RING_ENTRIES)?;
        let nop = opcode::Nop::new().build();
        run(&mut ring, &nop).map(|_| ())
    }
}

/// Submits one entry and waits for its completion; returns its result.
fn run(ring: &mut IoUring, entry: &io_uring::squeue::Entry) -> io::Result<i32> {
    // SAFETY: every buffer an entry points to is borrowed by the caller
    // for the whole call, and the call waits for the completion, so the
    // kernel never touches memory after it is released.
    unsafe { ring.submission().push(entry) }.map_err(|_| io::Error::other("io_uring full"))?;
    ring.submit_and_wait(1)?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| io::Error::other("io_uring: no cqe"))?;
    let res = cqe.result();
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    Ok(res)
}

struct UringFile {
    file: File,
    /// Created on first write: sealed segments are only read.
    ring: OnceLock<Mutex<IoUring>>,
}

impl UringFile {
    fn ring(&self) -> io::Result<&Mutex<IoUring>> {
        if let Some(r) = self.ring.get() {
            return Ok(r);
        }
        let r = IoUring::new(RING_ENTRIES)?;
        Ok(self.ring.get_or_init(|| Mutex::new(r)))
    }
}

impl IoFile for UringFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut ring = self.ring()?.lock();
        let fd = types::Fd(self.file.as_raw_fd());
        let mut done = 0usize;
        while done < buf.len() {
            let rest = buf.get(done..).unwrap_or_default();
            let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
            let e = opcode::Write::new(fd, rest.as_ptr(), len)
                .offset(offset + done as u64)
                .build();
            let n = run(&mut ring, &e)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            done += n as usize;
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut ring = self.ring()?.lock();
        let fd = types::Fd(self.file.as_raw_fd());
        let e = opcode::Fsync::new(fd)
            .flags(types::FsyncFlags::DATASYNC)
            .build();
        crate::stats::timed_sync(|| run(&mut ring, &e).map(|_| ()))
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn allocate(&self, len: u64) -> io::Result<()> {
        super::real::extend_with_zeros(&self.file, len)
    }

    fn map(&self) -> io::Result<Bytes> {
        super::real::map_file(&self.file)
    }
}

impl Io for UringIo {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn IoFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .open(path)?;
        Ok(Arc::new(UringFile {
            file,
            ring: OnceLock::new(),
        }))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        RealIo.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealIo.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        RealIo.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        RealIo.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealIo.list_dir(dir)
    }
    fn name(&self) -> &'static str {
        "io_uring"
    }
}

/// The file system the engine uses by default, chosen once per process
/// and logged: `pwrite`/`fdatasync`, or io_uring with `NILE_IO=io_uring`
/// when the kernel allows it (probed; falls back otherwise).
///
/// pwrite is the default because it measured faster here: a buffered
/// io_uring write submitted and awaited on its own is often handed to an
/// io-wq worker thread, adding a thread hop to every append (see
/// `docs/engine-benchmarks.md`).
pub fn default_io() -> Arc<dyn Io> {
    static CHOICE: OnceLock<bool> = OnceLock::new();
    let uring = *CHOICE.get_or_init(|| {
        if !std::env::var("NILE_IO").is_ok_and(|v| v == "io_uring") {
            tracing::info!("storage I/O: pwrite+fdatasync (NILE_IO=io_uring to try io_uring)");
            return false;
        }
        match UringIo::probe() {
            Ok(()) => {
                tracing::info!("storage I/O: io_uring for writes and fdatasync");
                true
            }
            Err(e) => {
                let why = e.to_string();
                tracing::info!(
                    why,
                    "storage I/O: io_uring unavailable, using pwrite+fdatasync"
                );
                false
            }
        }
    });
    if uring {
        Arc::new(UringIo)
    } else {
        Arc::new(RealIo)
    }
}
