//! Per-client counters and latency histograms, and their aggregation.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histogram tracks; slower samples are clamped to it.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// What one client (connection) did.
pub struct ClientStats {
    pub msgs: u64,
    pub bytes: u64,
    pub start: Instant,
    pub end: Instant,
    pub hist: Histogram<u64>,
}

impl ClientStats {
    pub fn start() -> ClientStats {
        let now = Instant::now();
        ClientStats {
            msgs: 0,
            bytes: 0,
            start: now,
            end: now,
            // 3 significant digits: 0.1% resolution, the `nats bench` default too.
            hist: Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid bounds"),
        }
    }

    pub fn count(&mut self, bytes: usize) {
        self.msgs += 1;
        self.bytes += bytes as u64;
    }

    pub fn latency(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).clamp(1, LATENCY_MAX_NS);
        self.hist.record(ns).expect("clamped into bounds");
    }

    pub fn finish(mut self) -> ClientStats {
        self.end = Instant::now();
        self
    }
}

/// Latency percentiles in microseconds.
#[derive(Serialize, Debug, Clone)]
pub struct Latency {
    pub samples: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// One line of the summary: all clients of one role together.
#[derive(Serialize, Debug, Clone)]
pub struct Row {
    pub role: String,
    pub clients: usize,
    pub msgs: u64,
    pub bytes: u64,
    pub secs: f64,
    pub msgs_per_sec: f64,
    /// 10^6 bytes of payload per second.
    pub mb_per_sec: f64,
    pub latency: Option<Latency>,
}

/// Aggregates clients: throughput is total work over the span from the first
/// client's start to the last one's end, as `nats bench` reports it.
pub fn aggregate(role: &str, clients: Vec<ClientStats>) -> Row {
    let n = clients.len();
    let start = clients.iter().map(|c| c.start).min();
    let end = clients.iter().map(|c| c.end).max();
    let secs = match (start, end) {
        (Some(s), Some(e)) => e.duration_since(s).as_secs_f64(),
        _ => 0.0,
    };
    let msgs: u64 = clients.iter().map(|c| c.msgs).sum();
    let bytes: u64 = clients.iter().map(|c| c.bytes).sum();
    let mut hist = Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid bounds");
    for c in &clients {
        hist.add(&c.hist).expect("same bounds");
    }
    let rate = |x: f64| if secs > 0.0 { x / secs } else { 0.0 };
    Row {
        role: role.to_string(),
        clients: n,
        msgs,
        bytes,
        secs,
        msgs_per_sec: rate(msgs as f64),
        mb_per_sec: rate(bytes as f64) / 1e6,
        latency: latency(&hist),
    }
}

fn latency(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    Some(Latency {
        samples: h.len(),
        min_us: us(h.min()),
        mean_us: h.mean() / 1000.0,
        p50_us: us(h.value_at_quantile(0.50)),
        p90_us: us(h.value_at_quantile(0.90)),
        p99_us: us(h.value_at_quantile(0.99)),
        p999_us: us(h.value_at_quantile(0.999)),
        max_us: us(h.max()),
    })
}
