//! Errors a benchmark run can end with, and the exit code of each.
//!
//! Scripts (and the comparison runner) tell "server down" from "stream
//! missing" by exit code, so each failure class has its own code.

use std::fmt;

/// Why a run failed. The message is what the user reads on stderr.
#[derive(Debug)]
pub enum BenchError {
    /// The server could not be reached (refused, DNS, timeout on connect).
    Connect(String),
    /// The server refused our credentials.
    Auth(String),
    /// A stream or KV bucket the run needs is not there (`--existing`).
    Missing(String),
    /// The server does not answer the JetStream API (not enabled / not supported).
    JetStream(String),
    /// Messages or acks stopped arriving before the run was complete.
    Timeout(String),
    /// Anything else the server or client reported.
    Other(String),
}

impl BenchError {
    /// Exit codes: 0 ok, 2 is clap's usage error, the rest are ours.
    pub fn exit_code(&self) -> i32 {
        match self {
            BenchError::Other(_) => 1,
            BenchError::Connect(_) => 3,
            BenchError::Auth(_) => 4,
            BenchError::Missing(_) => 5,
            BenchError::JetStream(_) => 6,
            BenchError::Timeout(_) => 7,
        }
    }

    /// Classifies a JetStream-side error from async-nats. Its many error kinds
    /// (one per API call) all render the server's reason into their text, so
    /// the text is the one thing they share.
    pub fn from_js(what: &str, err: impl fmt::Display) -> BenchError {
        let text = err.to_string();
        let lower = text.to_lowercase();
        let msg = format!("{what}: {text}");
        if lower.contains("no responders")
            || lower.contains("jetstream unavailable")
            || lower.contains("jetstream not enabled")
        {
            BenchError::JetStream(format!(
                "{msg} (is JetStream enabled on the server? nats-server needs -js)"
            ))
        } else if lower.contains("not found")
            || lower.contains("no stream found")
            || lower.contains("does not exist")
        {
            BenchError::Missing(msg)
        } else if lower.contains("timed out") || lower.contains("timeout") {
            BenchError::Timeout(msg)
        } else if lower.contains("authorization") || lower.contains("permission") {
            BenchError::Auth(msg)
        } else {
            BenchError::Other(msg)
        }
    }

    /// Classifies a core-NATS error (publish, subscribe, request, flush).
    pub fn from_core(what: &str, err: impl fmt::Display) -> BenchError {
        let text = err.to_string();
        let lower = text.to_lowercase();
        let msg = format!("{what}: {text}");
        if lower.contains("timed out") || lower.contains("timeout") {
            BenchError::Timeout(msg)
        } else if lower.contains("no responders") {
            BenchError::Other(format!("{msg} (nobody subscribed to the subject)"))
        } else {
            BenchError::Other(msg)
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, msg) = match self {
            BenchError::Connect(m) => ("cannot connect", m),
            BenchError::Auth(m) => ("authentication failed", m),
            BenchError::Missing(m) => ("not found", m),
            BenchError::JetStream(m) => ("JetStream unavailable", m),
            BenchError::Timeout(m) => ("timed out", m),
            BenchError::Other(m) => ("error", m),
        };
        write!(f, "{kind}: {msg}")
    }
}

impl std::error::Error for BenchError {}

pub type Result<T> = std::result::Result<T, BenchError>;
