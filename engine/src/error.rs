//! The one error type of the engine.
//!
//! The server maps these to JetStream error codes in one place, so the limit
//! errors are separate variants rather than a string.

use std::path::PathBuf;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O call failed. After a failed write or fsync the store is also
    /// poisoned: every later write returns [`StoreError::Poisoned`].
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes on disk do not decode or fail their checksum.
    #[error("corrupted data in {file} at offset {offset}: {detail}")]
    Corrupted {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the bad record or header in that file.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// A previous write or fsync failed; close and reopen the store.
    #[error("store poisoned by an earlier I/O failure: {0}")]
    Poisoned(String),
    /// Discard-new: the stream holds `max_msgs` already.
    #[error("maximum messages exceeded")]
    MaxMsgs,
    /// Discard-new: the stream holds `max_bytes` already.
    #[error("maximum bytes exceeded")]
    MaxBytes,
    /// Discard-new per subject: the subject holds its maximum already.
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    /// Headers plus payload exceed `msg_bytes_max`.
    #[error("message size exceeds maximum allowed")]
    MsgTooBig,
    /// No (live) message at that sequence or for that subject.
    #[error("message not found")]
    NotFound,
    /// An argument the engine cannot store (empty subject, subject too long).
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// The store was closed.
    #[error("store closed")]
    Closed,
}

/// Short alias used across the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Builds a [`StoreError::Corrupted`].
    pub fn corrupted(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Self::Corrupted {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// A copy suitable for handing to every waiter of a failed flush
    /// (`std::io::Error` is not `Clone`).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(std::io::Error::new(e.kind(), e.to_string())),
            Self::Corrupted {
                file,
                offset,
                detail,
            } => Self::Corrupted {
                file: file.clone(),
                offset: *offset,
                detail: detail.clone(),
            },
            Self::Poisoned(s) => Self::Poisoned(s.clone()),
            Self::MaxMsgs => Self::MaxMsgs,
            Self::MaxBytes => Self::MaxBytes,
            Self::MaxMsgsPerSubject => Self::MaxMsgsPerSubject,
            Self::MsgTooBig => Self::MsgTooBig,
            Self::NotFound => Self::NotFound,
            Self::Invalid(s) => Self::Invalid(s),
            Self::Closed => Self::Closed,
        }
    }
}
