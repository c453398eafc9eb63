//! A one-line progress indicator on stderr for long runs.
//!
//! Clients bump a shared atomic counter; a ticker task redraws the line four
//! times a second. Off when stderr is not a terminal, so logs and pipes stay
//! clean, and off under `--no-progress` and in `compare`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

#[derive(Clone)]
pub struct Progress {
    done: Arc<AtomicU64>,
    enabled: bool,
}

pub struct Ticker {
    handle: Option<JoinHandle<()>>,
}

impl Progress {
    /// A counter that never prints (for `compare` and tests).
    pub fn hidden() -> Progress {
        Progress {
            done: Arc::new(AtomicU64::new(0)),
            enabled: false,
        }
    }

    pub fn new(wanted: bool) -> Progress {
        Progress {
            done: Arc::new(AtomicU64::new(0)),
            enabled: wanted && std::io::stderr().is_terminal(),
        }
    }

    #[inline]
    pub fn inc(&self, n: u64) {
        if self.enabled {
            self.done.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Starts drawing `label done/total`; call once per phase (prefill, run).
    pub fn start(&self, label: &str, total: u64) -> Ticker {
        if !self.enabled {
            return Ticker { handle: None };
        }
        self.done.store(0, Ordering::Relaxed);
        let done = self.done.clone();
        let label = label.to_string();
        let handle = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                let secs = t0.elapsed().as_secs_f64().max(1e-9);
                let pct = (n * 100).checked_div(total).unwrap_or(0);
                eprint!(
                    "\r\x1b[2K{label}: {n}/{total} ({pct}%) {:.0} msgs/s",
                    n as f64 / secs
                );
                let _ = std::io::stderr().flush();
            }
        });
        Ticker {
            handle: Some(handle),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
            // Erase the line so the summary starts on a clean one.
            eprint!("\r\x1b[2K");
        }
    }
}
