//! Durable consumer state: an append-only operation log compacted into
//! snapshots.
//!
//! Operations are buffered in memory and written with one `pwrite` +
//! `fdatasync` per [`ConsumerStore::sync`] call, so 100k acks/s cost a few
//! syscalls per sync interval, not per ack. When the log grows past
//! [`LOG_BYTES_COMPACT`] the state is written as a snapshot (durable
//! replace) and a new, empty log generation is started.

use crate::coding::{Decode, Encode};
use crate::error::{Result, StoreError};
use crate::format::consumer::{clog_header, ConsumerOp, Snapshot, CLOG_HEADER_BYTES};
pub use crate::format::consumer::{ConsumerState, PendingAck};
use crate::io::{write_atomic, Io, IoFile};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Log size that triggers compaction into a snapshot.
pub const LOG_BYTES_COMPACT: u64 = 4 * 1024 * 1024;
/// Buffered operation bytes that force a write before `sync`.
const BUFFER_BYTES_MAX: usize = 256 * 1024;

struct Inner {
    state: ConsumerState,
    gen: u64,
    log: Arc<dyn IoFile>,
    log_len: u64,
    buf: Vec<u8>,
    poisoned: Option<String>,
}

/// One consumer's durable state.
pub struct ConsumerStore {
    io: Arc<dyn Io>,
    dir: PathBuf,
    name: String,
    inner: Mutex<Inner>,
}

fn log_name(name: &str, gen: u64) -> String {
    format!("{name}.{gen}.log")
}

impl ConsumerStore {
    /// Opens or creates consumer `name`'s state in `dir` on the real disk.
    pub fn open(dir: impl AsRef<Path>, name: &str) -> Result<Self> {
        Self::open_with_io(crate::io::default_io(), dir.as_ref(), name)
    }

    /// Opens through any [`Io`].
    pub fn open_with_io(io: Arc<dyn Io>, dir: &Path, name: &str) -> Result<Self> {
        io.create_dir_all(dir)?;
        let snap_path = dir.join(format!("{name}.snap"));
        let snap = match io.open(&snap_path, false) {
            Ok(f) => {
                let mut b = vec![0u8; f.len()? as usize];
                f.read_exact_at(&mut b, 0)?;
                Snapshot::decode_from(&b)
                    .map_err(|d| StoreError::corrupted(&snap_path, 0, d.detail()))?
                    .0
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Snapshot::default(),
            Err(e) => return Err(e.into()),
        };
        let mut state = snap.state;
        let path = dir.join(log_name(name, snap.gen));
        let (log, log_len) = match io.open(&path, false) {
            Ok(f) => {
                let len = replay(f.as_ref(), &mut state)?;
                (f, len)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_log(io.as_ref(), dir, &path)?,
            Err(e) => return Err(e.into()),
        };
        remove_stale_logs(io.as_ref(), dir, name, snap.gen)?;
        let inner = Inner {
            state,
            gen: snap.gen,
            log,
            log_len,
            buf: Vec::new(),
            poisoned: None,
        };
        Ok(Self {
            io,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            inner: Mutex::new(inner),
        })
    }

    /// Records a delivery (`count` 1 = first delivery).
    pub fn update_delivered(
        &self,
        consumer_seq: u64,
        stream_seq: u64,
        count: u64,
        ts: i64,
    ) -> Result<()> {
        self.push(ConsumerOp::Delivered {
            consumer_seq,
            stream_seq,
            count,
            timestamp_ns: ts,
        })
    }

    /// Records an acknowledgement.
    pub fn update_acks(&self, consumer_seq: u64, stream_seq: u64) -> Result<()> {
        self.push(ConsumerOp::Ack {
            consumer_seq,
            stream_seq,
        })
    }

    /// Replaces the whole state (e.g. ack floors moved up by a purge) and
    /// writes it as a snapshot at once.
    pub fn set_state(&self, state: ConsumerState) -> Result<()> {
        let mut g = self.inner.lock();
        g.state = state;
        g.buf.clear();
        self.compact_locked(&mut g)
    }

    /// A copy of the current state (including unsynced operations).
    pub fn state(&self) -> ConsumerState {
        self.inner.lock().state.clone()
    }

    /// Writes buffered operations and fdatasyncs them.
    pub fn sync(&self) -> Result<()> {
        let mut g = self.inner.lock();
        self.write_buf(&mut g)?;
        let r = g.log.sync_data();
        r.map_err(|e| poison(&mut g, e.into()))?;
        if g.log_len > LOG_BYTES_COMPACT {
            self.compact_locked(&mut g)?;
        }
        Ok(())
    }

    /// Removes this consumer's files.
    pub fn delete(self) -> Result<()> {
        let g = self.inner.lock();
        let _ = self
            .io
            .remove_file(&self.dir.join(log_name(&self.name, g.gen)));
        let _ = self
            .io
            .remove_file(&self.dir.join(format!("{}.snap", self.name)));
        self.io.sync_dir(&self.dir)?;
        Ok(())
    }

    fn push(&self, op: ConsumerOp) -> Result<()> {
        let mut g = self.inner.lock();
        if let Some(why) = &g.poisoned {
            return Err(StoreError::Poisoned(why.clone()));
        }
        apply(&mut g.state, op);
        op.encode_into(&mut g.buf);
        if g.buf.len() >= BUFFER_BYTES_MAX {
            self.write_buf(&mut g)?;
        }
        Ok(())
    }

    fn write_buf(&self, g: &mut Inner) -> Result<()> {
        if let Some(why) = &g.poisoned {
            return Err(StoreError::Poisoned(why.clone()));
        }
        if g.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut g.buf);
        let r = g.log.write_all_at(&buf, g.log_len);
        r.map_err(|e| poison(g, e.into()))?;
        g.log_len += buf.len() as u64;
        Ok(())
    }

    /// Snapshot, then a fresh log generation, then drop the old log. A
    /// crash between steps leaves either the old snapshot with its log or
    /// the new snapshot (whose log may be missing: it starts empty).
    fn compact_locked(&self, g: &mut Inner) -> Result<()> {
        let res = self.compact_io(g);
        res.map_err(|e| poison(g, e))
    }

    fn compact_io(&self, g: &mut Inner) -> Result<()> {
        let gen = g.gen + 1;
        let snap = Snapshot {
            gen,
            state: g.state.clone(),
        };
        write_atomic(
            self.io.as_ref(),
            &self.dir,
            &format!("{}.snap", self.name),
            &snap.encode_to_vec(),
        )?;
        let path = self.dir.join(log_name(&self.name, gen));
        let (log, len) = new_log(self.io.as_ref(), &self.dir, &path)?;
        let old = self.dir.join(log_name(&self.name, g.gen));
        let _ = self.io.remove_file(&old);
        self.io.sync_dir(&self.dir)?;
        g.gen = gen;
        g.log = log;
        g.log_len = len;
        g.buf.clear();
        Ok(())
    }
}

fn poison(g: &mut Inner, e: StoreError) -> StoreError {
    g.poisoned.get_or_insert_with(|| e.to_string());
    e
}

fn new_log(io: &dyn Io, dir: &Path, path: &Path) -> Result<(Arc<dyn IoFile>, u64)> {
    let f = io.open(path, true)?;
    let h = clog_header();
    f.set_len(0)?;
    f.write_all_at(&h, 0)?;
    f.sync_data()?;
    io.sync_dir(dir)?;
    Ok((f, h.len() as u64))
}

/// Applies logged operations; a torn tail is cut off.
fn replay(f: &dyn IoFile, state: &mut ConsumerState) -> Result<u64> {
    let len = f.len()?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, 0)?;
    let mut at = CLOG_HEADER_BYTES;
    if buf.get(..CLOG_HEADER_BYTES) != Some(&clog_header()[..]) {
        at = 0;
    }
    if at > 0 {
        while let Ok((op, n)) = ConsumerOp::decode_from(buf.get(at..).unwrap_or_default()) {
            apply(state, op);
            at += n;
        }
    } else {
        f.write_all_at(&clog_header(), 0)?;
        at = CLOG_HEADER_BYTES;
    }
    if at as u64 != len {
        f.set_len(at as u64)?;
        f.sync_data()?;
    }
    Ok(at as u64)
}

fn remove_stale_logs(io: &dyn Io, dir: &Path, name: &str, gen: u64) -> Result<()> {
    let keep = log_name(name, gen);
    let prefix = format!("{name}.");
    for f in io.list_dir(dir)? {
        let stale = f != keep
            && f.strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".log"))
                .is_some_and(|g| g.parse::<u64>().is_ok());
        if stale {
            io.remove_file(&dir.join(f))?;
        }
    }
    Ok(())
}

/// The state machine, shared by live updates and replay.
pub fn apply(s: &mut ConsumerState, op: ConsumerOp) {
    match op {
        ConsumerOp::Delivered {
            consumer_seq,
            stream_seq,
            count,
            timestamp_ns,
        } => {
            if stream_seq <= s.ack_floor_stream_seq {
                return;
            }
            s.delivered_consumer_seq = s.delivered_consumer_seq.max(consumer_seq);
            s.delivered_stream_seq = s.delivered_stream_seq.max(stream_seq);
            // A redelivery keeps the original consumer sequence (as NATS
            // does), so the consumer ack floor stays meaningful.
            s.pending
                .entry(stream_seq)
                .and_modify(|p| p.timestamp_ns = timestamp_ns)
                .or_insert(PendingAck {
                    consumer_seq,
                    timestamp_ns,
                });
            if count > 1 {
                s.redelivered.insert(stream_seq, count - 1);
            }
        }
        ConsumerOp::Ack { stream_seq, .. } => {
            s.pending.remove(&stream_seq);
            s.redelivered.remove(&stream_seq);
            match s.pending.iter().next() {
                None => {
                    s.ack_floor_consumer_seq = s.delivered_consumer_seq;
                    s.ack_floor_stream_seq = s.delivered_stream_seq;
                }
                Some((sseq, p)) => {
                    s.ack_floor_stream_seq = s.ack_floor_stream_seq.max(sseq - 1);
                    s.ack_floor_consumer_seq = s
                        .ack_floor_consumer_seq
                        .max(p.consumer_seq.saturating_sub(1));
                }
            }
        }
    }
}
