//! nile-engine: the storage engine under every Nile stream.
//!
//! It knows nothing of NATS or sockets. See `docs/format.md` for every byte it
//! writes and `docs/durability.md` for what an acknowledgement promises.
//!
//! # Layout
//!
//! - [`store`]: the [`StreamStore`] trait the server programs against.
//! - [`file`](mod@file): its implementation on segment files (and in memory):
//!   segments, mapped indexes, per-subject index, tombstones, limits,
//!   recovery, and the group-commit flusher thread.
//! - [`consumer`]: durable consumer state (append-only log + snapshots).
//! - [`format`](mod@format): one `Encode`/`Decode` pair per on-disk struct.
//! - [`io`]: the I/O trait, the real file system and the simulated disk
//!   used by fault-injection tests; [`io::write_file_atomic`] for metadata.
//! - [`ticket`]: durability tickets (blocking `wait` or `.await`).
//! - [`subject`]: NATS subject wildcard matching.
//! - [`rangeset`]: deleted sequences as runs (one entry per run, not per
//!   message).
//! - [`stats`]: fsync latency and group-commit size histograms for
//!   monitoring (atomic counters, filled once per fsync).
//!
//! Tests: `tests/model.rs` (model-based, with simulated power loss),
//! `tests/recovery.rs` (torn tails, bit flips, injected I/O errors),
//! `tests/fixture_v1.rs` (format compatibility), `tests/tidy.rs` (size
//! wall). Benchmarks: `benches/engine.rs`, results in
//! `docs/engine-benchmarks.md`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod coding;
pub mod consumer;
pub mod error;
pub mod file;
pub mod format;
mod hash;
pub mod io;
pub mod rangeset;
pub mod stats;
pub mod store;
pub mod subject;
pub mod ticket;
pub mod types;

pub use consumer::{ConsumerState, ConsumerStore, PendingAck};
pub use error::{Result, StoreError};
pub use file::FileStore;
pub use io::{write_file_atomic, write_file_atomic_in_new_dir};
pub use store::StreamStore;
pub use subject::SubjectFilter;
pub use ticket::DurableTicket;
pub use types::{
    BatchMsg, Discard, PurgeRequest, SizeRule, StoreConfig, StoredMsg, StreamState, SyncPolicy,
};
