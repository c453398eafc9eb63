//! Monitoring's own state inside [`crate::server::Server`]: recently closed
//! connections, request counts, the JetStream source. Nothing here is
//! touched per message: only on connection close and per HTTP request.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};

use super::jetstream::JetStreamSource;
use super::procstat::CpuGauge;
use crate::client::{ClientHandle, CloseReason};

/// nats-server's default `MaxClosedClients`.
pub const CLOSED_CONNS_MAX: usize = 10_000;

/// A connection as it was when it closed, for `/connz?state=closed`.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    pub stop: SystemTime,
    pub reason: &'static str,
    pub rtt: std::time::Duration,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub subscriptions: u64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub account: Option<String>,
}

pub struct MonitorState {
    closed: Mutex<VecDeque<Arc<ClosedConn>>>,
    http_requests: Mutex<BTreeMap<&'static str, u64>>,
    stale_connections: AtomicU64,
    config_load_time: Mutex<SystemTime>,
    jetstream: RwLock<Option<Arc<dyn JetStreamSource>>>,
    pub(crate) cpu: CpuGauge,
}

impl Default for MonitorState {
    fn default() -> Self {
        MonitorState {
            closed: Mutex::new(VecDeque::new()),
            http_requests: Mutex::new(BTreeMap::new()),
            stale_connections: AtomicU64::new(0),
            config_load_time: Mutex::new(SystemTime::now()),
            jetstream: RwLock::new(None),
            cpu: CpuGauge::new(),
        }
    }
}

impl MonitorState {
    /// JetStream calls this once it runs; monitoring then reads its numbers.
    pub fn set_jetstream(&self, source: Arc<dyn JetStreamSource>) {
        *self.jetstream.write() = Some(source);
    }

    pub fn jetstream(&self) -> Option<Arc<dyn JetStreamSource>> {
        self.jetstream.read().clone()
    }

    /// Call after a configuration reload (SIGHUP) for `config_load_time`.
    pub fn config_reloaded(&self) {
        *self.config_load_time.lock() = SystemTime::now();
    }

    pub fn config_load_time(&self) -> SystemTime {
        *self.config_load_time.lock()
    }

    pub fn stale_connections(&self) -> u64 {
        self.stale_connections.load(Ordering::Relaxed)
    }

    /// Remember a connection that just closed (called from `Server::unregister`).
    pub fn record_closed(&self, c: &ClientHandle) -> Arc<ClosedConn> {
        let reason = c.close_reason();
        if reason == Some(CloseReason::StaleConnection) {
            self.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        let meta = c.meta.lock().clone();
        let k = &c.counters;
        let closed = ClosedConn {
            cid: c.cid,
            addr: c.addr,
            start: c.start,
            last_activity: c.last_activity(),
            stop: SystemTime::now(),
            reason: reason.map_or("Client Closed", reason_text),
            rtt: c.rtt(),
            in_msgs: k.in_msgs.load(Ordering::Relaxed),
            in_bytes: k.in_bytes.load(Ordering::Relaxed),
            out_msgs: k.out_msgs.load(Ordering::Relaxed),
            out_bytes: k.out_bytes.load(Ordering::Relaxed),
            subscriptions: c.subs_count.load(Ordering::Relaxed),
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            user: meta.user,
            account: meta.account,
        };
        let closed = Arc::new(closed);
        let mut ring = self.closed.lock();
        if ring.len() >= CLOSED_CONNS_MAX {
            ring.pop_front();
        }
        ring.push_back(closed.clone());
        closed
    }

    /// Recently closed connections, oldest first.
    pub fn closed(&self) -> Vec<Arc<ClosedConn>> {
        self.closed.lock().iter().cloned().collect()
    }

    /// Count one request to a known endpoint (`http_req_stats`).
    pub fn count_request(&self, path: &'static str) {
        *self.http_requests.lock().entry(path).or_default() += 1;
    }

    pub fn http_requests(&self) -> BTreeMap<&'static str, u64> {
        self.http_requests.lock().clone()
    }
}

/// nats-server's `ClosedState` strings.
pub fn reason_text(r: CloseReason) -> &'static str {
    match r {
        CloseReason::ClientClosed => "Client Closed",
        CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
        CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
        CloseReason::ProtocolViolation => "Protocol Violation",
        CloseReason::AuthViolation => "Authentication Failure",
        CloseReason::AuthTimeout => "Authentication Timeout",
        CloseReason::AuthExpired => "Authentication Expired",
        CloseReason::StaleConnection => "Stale Connection",
        CloseReason::MaxPayload => "Maximum Message Payload Exceeded",
        CloseReason::MaxSubscriptions => "Maximum Subscriptions Exceeded",
        CloseReason::MaxAccountConnections => "Maximum Account Connections Exceeded",
        CloseReason::ServerShutdown => "Server Shutdown",
        CloseReason::WriteError => "Write Error",
        CloseReason::ReadError => "Read Error",
    }
}
