//! An in-memory disk for tests and for memory-backed streams.
//!
//! It keeps, per file, the bytes as written and the bytes as of the last
//! `sync_data`, and per directory the names as of the last `sync_dir`.
//! [`SimIo::crash`] throws away everything not yet durable (optionally
//! keeping a random prefix of unsynced appends, like a torn write), and
//! [`SimIo::fail_at`] makes the Nth I/O call from now fail.

use super::{Io, IoFile};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What an injected failure looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `EIO`.
    Eio,
    /// `ENOSPC`.
    Enospc,
    /// `EIO` after writing the first half of the buffer (a torn write).
    TornWrite,
}

#[derive(Default)]
struct NodeData {
    data: Vec<u8>,
    durable: Vec<u8>,
}

struct Node {
    d: Mutex<NodeData>,
    /// Set on crash: handles opened before the crash stop working, so a
    /// store that was "killed" cannot touch the post-crash disk.
    dead: AtomicBool,
}

impl Node {
    fn new(data: Vec<u8>, durable: Vec<u8>) -> Arc<Self> {
        Arc::new(Self {
            d: Mutex::new(NodeData { data, durable }),
            dead: AtomicBool::new(false),
        })
    }
}

#[derive(Default)]
struct Disk {
    names: HashMap<PathBuf, Arc<Node>>,
    durable_names: HashMap<PathBuf, Arc<Node>>,
    calls: u64,
    fail: Option<(u64, Fault)>,
    faults_fired: u64,
}

/// The simulated file system. Cloning shares the disk.
#[derive(Clone)]
pub struct SimIo {
    disk: Arc<Mutex<Disk>>,
    /// False for memory-backed stores: no durable copy is kept.
    track_durability: bool,
}

impl Default for SimIo {
    fn default() -> Self {
        Self::new()
    }
}

impl SimIo {
    /// A disk that tracks durability (for crash tests).
    pub fn new() -> Self {
        Self {
            disk: Arc::default(),
            track_durability: true,
        }
    }

    /// A disk that does not keep durable copies (memory-backed streams).
    pub fn memory() -> Self {
        Self {
            disk: Arc::default(),
            track_durability: false,
        }
    }

    /// The `n`th I/O call from now (0 = the next one) fails with `fault`.
    pub fn fail_at(&self, n: u64, fault: Fault) {
        let mut d = self.disk.lock();
        let at = d.calls + n;
        d.fail = Some((at, fault));
    }

    /// Number of I/O calls so far (to size a fail-at-every-call loop).
    pub fn calls(&self) -> u64 {
        self.disk.lock().calls
    }

    /// Number of injected faults that fired.
    pub fn faults_fired(&self) -> u64 {
        self.disk.lock().faults_fired
    }

    /// Simulated power loss. Unsynced bytes and unsynced directory entries
    /// are lost; with `seed` set, each file keeps a seed-chosen prefix of
    /// its unsynced appended bytes. Handles opened before become dead.
    pub fn crash(&self, seed: Option<u64>) {
        let mut d = self.disk.lock();
        d.fail = None;
        let mut rng = seed.unwrap_or(0) | 1;
        let mut names = HashMap::new();
        let mut old: Vec<(PathBuf, Arc<Node>)> = d.durable_names.drain().collect();
        old.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, node) in old {
            node.dead.store(true, Ordering::SeqCst);
            let nd = node.d.lock();
            let mut bytes = nd.durable.clone();
            if seed.is_some() && nd.data.len() > bytes.len() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let extra = nd.data.len() - bytes.len();
                let keep = (rng % (extra as u64 + 1)) as usize;
                let from = bytes.len();
                bytes.extend_from_slice(nd.data.get(from..from + keep).unwrap_or_default());
            }
            names.insert(path, Node::new(bytes.clone(), bytes));
        }
        for node in d.names.values() {
            node.dead.store(true, Ordering::SeqCst);
        }
        d.durable_names = names.clone();
        d.names = names;
    }

    /// Raw bytes of a file as currently written (tests corrupt files with
    /// [`SimIo::write_raw`]).
    pub fn read_raw(&self, path: &Path) -> Option<Vec<u8>> {
        let d = self.disk.lock();
        d.names.get(path).map(|n| n.d.lock().data.clone())
    }

    /// Replaces a file's bytes, durable at once (models bit rot and tests'
    /// direct edits).
    pub fn write_raw(&self, path: &Path, bytes: Vec<u8>) {
        let mut d = self.disk.lock();
        let node = Node::new(bytes.clone(), bytes);
        d.names.insert(path.to_path_buf(), node.clone());
        d.durable_names.insert(path.to_path_buf(), node);
    }

    fn tick(&self) -> io::Result<Option<Fault>> {
        let mut d = self.disk.lock();
        let now = d.calls;
        d.calls += 1;
        match d.fail {
            Some((at, fault)) if at == now => {
                d.fail = None;
                d.faults_fired += 1;
                Ok(Some(fault))
            }
            _ => Ok(None),
        }
    }
}

fn fault_error(f: Fault) -> io::Error {
    match f {
        Fault::Enospc => io::Error::from_raw_os_error(libc::ENOSPC),
        Fault::Eio | Fault::TornWrite => io::Error::from_raw_os_error(libc::EIO),
    }
}

fn dead_error() -> io::Error {
    io::Error::other("simulated crash: stale handle")
}

struct SimFile {
    io: SimIo,
    node: Arc<Node>,
}

impl SimFile {
    fn check(&self) -> io::Result<Option<Fault>> {
        if self.node.dead.load(Ordering::SeqCst) {
            return Err(dead_error());
        }
        self.io.tick()
    }
}

fn write_into(data: &mut Vec<u8>, buf: &[u8], offset: u64) {
    let start = offset as usize;
    let end = start + buf.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    if let Some(dst) = data.get_mut(start..end) {
        dst.copy_from_slice(buf);
    }
}

impl IoFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if let Some(f) = self.check()? {
            return Err(fault_error(f));
        }
        let d = self.node.d.lock();
        let start = (offset as usize).min(d.data.len());
        let n = buf.len().min(d.data.len() - start);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), d.data.get(start..start + n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let fault = self.check()?;
        let mut d = self.node.d.lock();
        match fault {
            None => {
                write_into(&mut d.data, buf, offset);
                Ok(())
            }
            Some(Fault::TornWrite) => {
                let half = buf.get(..buf.len() / 2).unwrap_or_default();
                write_into(&mut d.data, half, offset);
                Err(fault_error(Fault::TornWrite))
            }
            Some(f) => Err(fault_error(f)),
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        if let Some(f) = self.check()? {
            // Like Linux after a failed fsync: the dirty pages may be gone
            // and the error is reported once. The engine must not retry.
            return Err(fault_error(f));
        }
        if self.io.track_durability {
            let mut d = self.node.d.lock();
            d.durable = d.data.clone();
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        if self.node.dead.load(Ordering::SeqCst) {
            return Err(dead_error());
        }
        Ok(self.node.d.lock().data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if let Some(f) = self.check()? {
            return Err(fault_error(f));
        }
        self.node.d.lock().data.resize(len as usize, 0);
        Ok(())
    }

    /// Zeros past the end, not durable until the next sync. Not counted as
    /// a call (the engine ignores its failure, so a fault here would fire
    /// unseen); a memory disk skips it rather than hold the zeros in RAM.
    fn allocate(&self, len: u64) -> io::Result<()> {
        if self.node.dead.load(Ordering::SeqCst) {
            return Err(dead_error());
        }
        let mut d = self.node.d.lock();
        if self.io.track_durability && d.data.len() < len as usize {
            d.data.resize(len as usize, 0);
        }
        Ok(())
    }

    fn map(&self) -> io::Result<Bytes> {
        if let Some(f) = self.check()? {
            return Err(fault_error(f));
        }
        Ok(Bytes::from(self.node.d.lock().data.clone()))
    }
}

impl Io for SimIo {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn IoFile>> {
        if let Some(f) = self.tick()? {
            return Err(fault_error(f));
        }
        let mut d = self.disk.lock();
        let node = match d.names.get(path) {
            Some(n) => n.clone(),
            None if create => {
                let n = Node::new(Vec::new(), Vec::new());
                d.names.insert(path.to_path_buf(), n.clone());
                n
            }
            None => return Err(io::Error::from(io::ErrorKind::NotFound)),
        };
        if !self.track_durability {
            d.durable_names.insert(path.to_path_buf(), node.clone());
        }
        Ok(Arc::new(SimFile {
            io: self.clone(),
            node,
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        if let Some(f) = self.tick()? {
            return Err(fault_error(f));
        }
        let mut d = self.disk.lock();
        d.names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if let Some(f) = self.tick()? {
            return Err(fault_error(f));
        }
        let mut d = self.disk.lock();
        let node = d
            .names
            .remove(from)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        d.names.insert(to.to_path_buf(), node);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if let Some(f) = self.tick()? {
            return Err(fault_error(f));
        }
        let mut d = self.disk.lock();
        d.durable_names.retain(|p, _| p.parent() != Some(dir));
        let now: Vec<(PathBuf, Arc<Node>)> = d
            .names
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        d.durable_names.extend(now);
        Ok(())
    }

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "simulated"
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        if let Some(f) = self.tick()? {
            return Err(fault_error(f));
        }
        let d = self.disk.lock();
        let mut out: Vec<String> = d
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }
}
