//! The running server: shared state, the accept loop, start-up and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::account::{Account, Accounts};
use crate::auth::Authenticator;
use crate::client::{ClientHandle, CloseReason};
use crate::options::Options;

/// The nats-server version whose client protocol and API Nile implements;
/// clients gate features on it (spec §4.6).
pub const NATS_VERSION: &str = "2.12.0";
/// The JetStream API level (ADR-44) of the nats-server release Nile matches
/// (2 is 2.12's), so the two never disagree. Reported only when
/// [`advertises_api_level`].
pub const JS_API_LEVEL: u32 = api_level_of(NATS_VERSION);

/// nats-server's API level by release: 2.11 → 1, 2.12 → 2, 2.14 → 4,
/// later → 5; none before 2.11.
const fn api_level_of(version: &str) -> u32 {
    let b = version.as_bytes();
    let mut i = 2; // past "2."
    let mut minor = 0u32;
    while i < b.len() && b[i].is_ascii_digit() {
        minor = minor * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    match minor {
        0..=10 => 0,
        11 => 1,
        12 | 13 => 2,
        14 => 4,
        _ => 5,
    }
}

/// Servers before 2.11 report no API level; clients gate on the version.
pub fn advertises_api_level() -> bool {
    let mut parts = NATS_VERSION
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 11)
}
/// Reported in INFO `go`: clients only display it.
pub const GO_VERSION: &str = "go1.22.0";

/// Totals of connections that have closed (live ones are summed on demand).
#[derive(Default)]
pub struct Totals {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub total_connections: AtomicU64,
}

pub struct Server {
    pub opts: RwLock<Arc<Options>>,
    pub server_id: String,
    pub server_name: String,
    pub start: SystemTime,
    /// Every account's subject space (`$G` alone without accounts).
    pub accounts: Accounts,
    pub auth: RwLock<Arc<Authenticator>>,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub totals: Totals,
    next_cid: AtomicU64,
    pub lame_duck: AtomicBool,
    /// Fired once when the server is shutting down.
    pub shutdown: Notify,
    shutting_down: AtomicBool,
    /// The address the client listener actually bound (for `-p -1`).
    pub client_addr: Mutex<Option<SocketAddr>>,
    pub http_addr: Mutex<Option<SocketAddr>>,
    /// Monitoring state: closed connections, request counts, JetStream source.
    pub monitor: crate::monitor::MonitorState,
    /// Set once at start-up when JetStream is enabled.
    pub jetstream: std::sync::OnceLock<Arc<crate::jetstream::JetStream>>,
    /// Where `$SYS.REQ.*` is served and `$SYS.ACCOUNT.*` events go, once
    /// the system account exists.
    pub system_account: std::sync::OnceLock<Arc<Account>>,
    /// Built once from `opts.tls`; `Err` when the files went bad after the
    /// config was checked (then clients are refused rather than served in clear).
    pub tls: Option<Result<tokio_rustls::TlsAcceptor, String>>,
}

impl Server {
    pub fn new(opts: Options) -> Arc<Self> {
        let server_id = new_server_id();
        let server_name = opts
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone());
        let auth = Authenticator::new_or_closed(&opts.auth);
        let tls = opts
            .tls
            .as_ref()
            .map(|t| crate::tls::acceptor(t).map_err(|e| e.to_string()));
        Arc::new(Server {
            opts: RwLock::new(Arc::new(opts)),
            server_id,
            server_name,
            start: SystemTime::now(),
            accounts: Accounts::default(),
            auth: RwLock::new(Arc::new(auth)),
            clients: Mutex::new(HashMap::new()),
            totals: Totals::default(),
            next_cid: AtomicU64::new(1),
            lame_duck: AtomicBool::new(false),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            client_addr: Mutex::new(None),
            http_addr: Mutex::new(None),
            monitor: crate::monitor::MonitorState::default(),
            jetstream: std::sync::OnceLock::new(),
            system_account: std::sync::OnceLock::new(),
            tls,
        })
    }

    /// The account called `name` (`None`: `$G`); one made here gets its
    /// JetStream (or the "not enabled" answer) at once.
    pub fn account(self: &Arc<Self>, name: Option<&str>) -> Arc<Account> {
        let (account, created) = self.accounts.get_or_create(name);
        if created {
            self.attach_jetstream(&account);
            crate::monitor::sys::attach(self, &account);
        }
        account
    }

    /// See [`crate::jetstream::accounts::attach`]; the first JetStream
    /// started is the one `/jsz` and `/healthz` report.
    pub fn attach_jetstream(self: &Arc<Self>, account: &Arc<Account>) {
        match crate::jetstream::accounts::attach(self, account) {
            Ok(Some(js)) => {
                if self.jetstream.set(js.clone()).is_ok() {
                    self.monitor.set_jetstream(js);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!("account {}: JetStream not started: {e}", account.name),
        }
    }

    pub fn options(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    pub fn authenticator(&self) -> Arc<Authenticator> {
        self.auth.read().clone()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Stop accepting, close every client, wake whoever waits on `shutdown`.
    pub fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let clients: Vec<_> = self.clients.lock().values().cloned().collect();
        for c in clients {
            c.close_with(CloseReason::ServerShutdown, None);
        }
        self.shutdown.notify_waiters();
    }

    /// The INFO JSON for one client (or for `cid == 0`, the generic one).
    pub fn info_json(
        &self,
        cid: u64,
        client_ip: Option<&str>,
        ldm: bool,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        let opts = self.options();
        let port = self
            .client_addr
            .lock()
            .map_or(opts.port.bind_port(), |a| a.port());
        let mut info = serde_json::json!({
            "server_id": self.server_id,
            "server_name": self.server_name,
            "version": NATS_VERSION,
            "proto": 1,
            "go": GO_VERSION,
            "host": opts.host,
            "port": port,
            "headers": true,
            "max_payload": opts.payload_bytes_max,
        });
        let map = info.as_object_mut().expect("json! object");
        // nats-server leaves auth_required out when no_auth_user lets anyone in.
        if self.authenticator().required() && opts.auth.no_auth_user.is_none() {
            map.insert("auth_required".into(), true.into());
        }
        if opts.jetstream.enabled {
            map.insert("jetstream".into(), true.into());
        }
        if let Some(tls) = &opts.tls {
            let key = if opts.allow_non_tls {
                "tls_available"
            } else {
                "tls_required"
            };
            map.insert(key.into(), true.into());
            if tls.verify {
                map.insert("tls_verify".into(), true.into());
            }
        }
        if cid != 0 {
            map.insert("client_id".into(), cid.into());
        }
        if let Some(ip) = client_ip {
            map.insert("client_ip".into(), ip.into());
        }
        if ldm {
            map.insert("ldm".into(), true.into());
        }
        if let Some(nonce) = nonce {
            map.insert("nonce".into(), nonce.into());
        }
        if let Some(domain) = &opts.jetstream.domain {
            map.insert("domain".into(), domain.clone().into());
        }
        if advertises_api_level() {
            map.insert("api_lvl".into(), JS_API_LEVEL.into());
        }
        let mut bytes = serde_json::to_vec(&info).unwrap_or_default();
        bytes.push(b' ');
        bytes
    }

    /// Publish from the server into `$G` (see [`Account::publish_internal`]).
    pub fn publish_internal(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        body: &[u8],
    ) -> usize {
        self.accounts
            .global()
            .publish_internal(subject, reply, headers, body)
    }

    pub fn next_cid(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, client: Arc<ClientHandle>) {
        self.totals
            .total_connections
            .fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(client.cid, client);
    }

    /// Forget a closed client, folding its counters into the totals.
    pub fn unregister(&self, client: &ClientHandle) {
        // Fold under the clients lock: `traffic` sums under it too, so a
        // closing client is never missing from nor counted twice in /varz.
        let mut clients = self.clients.lock();
        clients.remove(&client.cid);
        let c = &client.counters;
        let t = &self.totals;
        for (from, to) in [
            (&c.in_msgs, &t.in_msgs),
            (&c.in_bytes, &t.in_bytes),
            (&c.out_msgs, &t.out_msgs),
            (&c.out_bytes, &t.out_bytes),
        ] {
            to.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        drop(clients);
        if matches!(
            client.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline)
        ) {
            t.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
        let closed = self.monitor.record_closed(client);
        if client.meta.lock().connected {
            crate::monitor::sys::client_disconnect(self, &closed);
        }
    }

    /// Server-wide (in_msgs, in_bytes, out_msgs, out_bytes): closed plus live.
    pub fn traffic(&self) -> [u64; 4] {
        let t = &self.totals;
        let mut sum =
            [&t.in_msgs, &t.in_bytes, &t.out_msgs, &t.out_bytes].map(|a| a.load(Ordering::Relaxed));
        for c in self.clients.lock().values() {
            let k = &c.counters;
            for (s, a) in sum
                .iter_mut()
                .zip([&k.in_msgs, &k.in_bytes, &k.out_msgs, &k.out_bytes])
            {
                *s += a.load(Ordering::Relaxed);
            }
        }
        sum
    }

    /// Accept clients until shutdown.
    pub async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = self.shutdown.notified() => return,
            };
            match accepted {
                Ok((stream, addr)) => self.clone().spawn_client(stream, addr),
                Err(e) => {
                    tracing::error!("Error accepting client connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            if self.is_shutting_down() || self.lame_duck.load(Ordering::Acquire) {
                return;
            }
        }
    }

    fn spawn_client(self: Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let _ = stream.set_nodelay(true);
        // An IPv4 client of the dual-stack listener shows as itself, not `::ffff:a.b.c.d`.
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        tokio::spawn(crate::connection::serve(self, stream, addr));
    }
}

/// A 56-character id in nats-server's alphabet, starting with `N`.
fn new_server_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 1..56 {
        id.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    id
}

#[cfg(test)]
mod api_level_tests {
    use super::api_level_of;

    #[test]
    fn the_api_level_follows_the_advertised_version() {
        let levels = [
            ("2.10.14", 0),
            ("2.11.0", 1),
            ("2.12.3", 2),
            ("2.14.0", 4),
            ("2.15.1", 5),
        ];
        for (version, level) in levels {
            assert_eq!(api_level_of(version), level, "{version}");
        }
    }
}
