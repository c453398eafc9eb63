//! One client connection: a reader task that parses and applies ops, and a
//! writer task that drains the client's outbound buffer to the socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::account::Account;
use crate::auth::{Credentials, Perms};
use crate::client::{ClientHandle, CloseReason, FlushList};
use crate::proto::{self, encode, ClientOp, ParseError, ParseLimits, Publish};
use crate::router::{self, RouteCache};
use crate::server::Server;
use crate::subject;
use crate::subscription::{Delivery, SubTarget, Subscription};
use crate::trace;

mod limits;
mod reauth;
mod spin;
mod user_info;
mod wake_probe;

use spin::{SpinReader, Spun};

/// Read buffer size: one read can carry many small messages.
const READ_BYTES_MIN: usize = 64 * 1024;
/// Longest a publisher waits, per read, for a backed-up subscriber to drain.
const STALL_WAIT_MAX: Duration = Duration::from_millis(50);
/// Pending output past this is written without waiting for the batch
/// being appended to end (nats-server's bound is the same 64 KiB).
const WRITE_COALESCE_BYTES_MAX: usize = 64 * 1024;
/// Output buffer kept between writes; larger ones are released.
const WRITE_BUFFER_KEEP_BYTES_MAX: usize = 1024 * 1024;
/// Output buffer an idle connection keeps: what a larger one shrinks to
/// once nothing was queued for [`IDLE_SHRINK_AFTER`].
const WRITE_BYTES_MIN: usize = 4096;
/// How long a connection is quiet before its grown buffers are given back.
/// Not at once: a busy subscriber's writer finds its buffer empty between
/// most batches, and regrowing it each time would copy it over and over.
const IDLE_SHRINK_AFTER: Duration = Duration::from_secs(1);

/// CONNECT as clients send it; every field optional, `null` accepted.
/// nats-server's defaults when absent: verbose and pedantic on, echo on.
#[derive(Debug, Default, serde::Deserialize)]
struct ConnectJson {
    verbose: Option<bool>,
    pedantic: Option<bool>,
    echo: Option<bool>,
    headers: Option<bool>,
    no_responders: Option<bool>,
    protocol: Option<i64>,
    name: Option<String>,
    lang: Option<String>,
    version: Option<String>,
    user: Option<String>,
    pass: Option<String>,
    auth_token: Option<String>,
    nkey: Option<String>,
    sig: Option<String>,
    jwt: Option<String>,
}

/// Per-connection options from CONNECT.
#[derive(Debug, Clone, Copy)]
struct ConnOpts {
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
}

/// Why the reader stops.
enum Stop {
    Close(CloseReason, Option<&'static str>),
}

pub async fn serve(server: Arc<Server>, mut stream: TcpStream, addr: SocketAddr) {
    let opts = server.options();
    let (mut conn, info) = match admit(&server, addr) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let _ = stream.write_all(&refusal).await;
            return;
        }
    };
    match (&server.tls, &opts.tls) {
        (Some(Ok(acceptor)), Some(tls)) if opts.allow_non_tls => {
            serve_tls_or_plain(conn, stream, acceptor.clone(), tls, &info).await
        }
        (Some(Ok(acceptor)), Some(tls)) => {
            serve_tls(conn, stream, acceptor.clone(), tls, &info).await
        }
        (Some(Err(e)), _) => tracing::error!(
            cid = conn.handle.cid,
            "TLS unavailable, client refused: {e}"
        ),
        _ => {
            conn.spin_on(&stream);
            let (rd, wr) = stream.into_split();
            run(conn, rd, wr, Some(&info)).await
        }
    }
}

/// Serve a client over an already-established byte stream (a WebSocket's).
pub async fn serve_stream<S>(server: Arc<Server>, mut stream: S, addr: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, info) = match admit(&server, addr) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let _ = stream.write_all(&refusal).await;
            return;
        }
    };
    let (rd, wr) = tokio::io::split(stream);
    run(conn, rd, wr, Some(&info)).await
}

/// A new client: its connection state and INFO, or (past `max_connections`)
/// the bytes that refuse it.
fn admit(server: &Arc<Server>, addr: SocketAddr) -> Result<(Connection, Vec<u8>), BytesMut> {
    let opts = server.options();
    let cid = server.next_cid();
    let nonce = server.authenticator().wants_nonce().then(new_nonce);
    let ip = addr.ip().to_string();
    let info = server.info_json(cid, Some(&ip), false, nonce.as_deref());
    if server.clients.lock().len() >= opts.connections_max {
        let mut out = BytesMut::new();
        encode::info(&mut out, &info);
        encode::err(&mut out, "maximum connections exceeded");
        return Err(out);
    }
    let handle = Arc::new(ClientHandle::new(cid, addr, opts.pending_bytes_max));
    let conn = Connection::new(server.clone(), handle, nonce.unwrap_or_default());
    Ok((conn, info))
}

/// nats-server's order: plain INFO, then the client's handshake; or, with
/// `handshake_first`, the handshake and then INFO inside TLS.
async fn serve_tls(
    conn: Connection,
    mut stream: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    tls: &crate::options::TlsOptions,
    info: &[u8],
) {
    use crate::options::HandshakeFirst;
    let first = match tls.handshake_first {
        HandshakeFirst::Yes => true,
        HandshakeFirst::No => false,
        HandshakeFirst::Within(wait) => client_hello_within(&stream, wait).await,
    };
    if !first {
        let mut out = BytesMut::new();
        encode::info(&mut out, info);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
    let cid = conn.handle.cid;
    let tls_stream = match tokio::time::timeout(tls.timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(cid, "TLS handshake error: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(cid, "TLS handshake timeout");
            return;
        }
    };
    let (rd, wr) = tokio::io::split(tls_stream);
    run(conn, rd, wr, first.then_some(info)).await
}

/// `allow_non_tls`: INFO in clear (saying `tls_available`), then the client
/// either starts a handshake or goes on in plain text.
async fn serve_tls_or_plain(
    mut conn: Connection,
    mut stream: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    tls: &crate::options::TlsOptions,
    info: &[u8],
) {
    let mut out = BytesMut::new();
    encode::info(&mut out, info);
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let wait = conn
        .server
        .options()
        .auth
        .timeout
        .unwrap_or(crate::options::AUTH_TIMEOUT_DEFAULT);
    if !client_hello_within(&stream, wait).await {
        conn.spin_on(&stream);
        let (rd, wr) = stream.into_split();
        return run(conn, rd, wr, None).await;
    }
    let cid = conn.handle.cid;
    match tokio::time::timeout(tls.timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => {
            let (rd, wr) = tokio::io::split(s);
            run(conn, rd, wr, None).await
        }
        _ => tracing::debug!(cid, "TLS handshake failed or timed out"),
    }
}

/// Does the client open with a TLS record (a ClientHello) within `wait`?
async fn client_hello_within(stream: &TcpStream, wait: Duration) -> bool {
    const TLS_HANDSHAKE_RECORD: u8 = 0x16;
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(wait, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD
    )
}

/// Serve one connection over any byte stream; `info` is queued first unless
/// it already went out.
async fn run<R, W>(mut conn: Connection, rd: R, wr: W, info: Option<&[u8]>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let server = conn.server.clone();
    let handle = conn.handle.clone();
    server.register(handle.clone());
    let deadline = server.options().write_deadline;
    let writer = tokio::spawn(write_loop(handle.clone(), wr, deadline));
    if let Some(info) = info {
        handle.queue(|b| encode::info(b, info));
        handle.signal();
    }
    conn.read_loop(rd).await;
    conn.remove_all_subs();
    let _ = writer.await;
    server.unregister(&handle);
}

async fn write_loop<W: AsyncWrite + Unpin>(
    handle: Arc<ClientHandle>,
    mut wr: W,
    deadline: Duration,
) {
    let mut spare = BytesMut::with_capacity(WRITE_BYTES_MIN);
    loop {
        if handle.batch_in_progress(WRITE_COALESCE_BYTES_MAX) {
            // A publisher is still appending to this output and wakes us at
            // the end of its batch: one write for the whole batch rather
            // than one for the part that is in (the client wakes per write).
            // Once per turn, so a stream of batches cannot hold us back.
            handle.wake.notified().await;
        }
        let closed = handle.take_output(&mut spare);
        if !spare.is_empty() {
            match tokio::time::timeout(deadline, wr.write_all(&spare)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    handle.close_with(CloseReason::WriteError, None);
                    break;
                }
                Err(_) => {
                    handle.close_with(CloseReason::SlowConsumerWriteDeadline, None);
                    break;
                }
            }
            spare.clear();
            handle.wrote();
            if spare.capacity() > WRITE_BUFFER_KEEP_BYTES_MAX {
                spare = BytesMut::with_capacity(WRITE_BYTES_MIN);
            }
            continue;
        }
        if closed.is_some() {
            break;
        }
        if spare.capacity() <= WRITE_BYTES_MIN && !handle.output_grown(WRITE_BYTES_MIN) {
            handle.wake.notified().await;
            continue;
        }
        tokio::select! {
            _ = handle.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_SHRINK_AFTER) => {
                spare = BytesMut::with_capacity(WRITE_BYTES_MIN);
                handle.shrink_idle_output(WRITE_BYTES_MIN);
            }
        }
    }
    let _ = wr.shutdown().await;
}

/// nats-server's nonce: 11 random bytes, base64url without padding.
fn new_nonce() -> String {
    use base64::Engine;
    let bytes: [u8; 11] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Connection {
    server: Arc<Server>,
    /// Bound at CONNECT (`$G` until then): every publish, subscription and
    /// route of this client stays in its subject space.
    account: Arc<Account>,
    handle: Arc<ClientHandle>,
    limits: ParseLimits,
    opts: ConnOpts,
    connected: bool,
    perms: Option<Arc<Perms>>,
    subs: HashMap<Bytes, Arc<Subscription>>,
    subs_sweep_len: usize,
    routes: RouteCache,
    flush: FlushList,
    pings_out: u32,
    /// Sent in INFO for nkey and JWT users to sign; empty when not asked for.
    nonce: String,
    /// A JWT login's end: the connection closes then.
    expires_at: Option<tokio::time::Instant>,
    /// When the socket was accepted: CONNECT's arrival estimates the RTT.
    accepted: Instant,
    /// When the last server PING went out; its PONG measures the RTT.
    ping_sent: Option<Instant>,
    /// How the connection ends at `expires_at`: the `-ERR` and the reason.
    expiry: (CloseReason, &'static str),
    /// A JWT login's `subs` limit.
    subs_max: Option<usize>,
    /// `-V`: log every op the client sends.
    trace: bool,
    /// What CONNECT offered, re-checked when the configuration is reloaded.
    creds: reauth::SavedCredentials,
    /// A plain TCP client's socket, polled for a moment after each read.
    spin: Option<SpinReader>,
}

impl Connection {
    fn new(server: Arc<Server>, handle: Arc<ClientHandle>, nonce: String) -> Self {
        let o = server.options();
        Connection {
            limits: ParseLimits {
                control_line_bytes_max: o.control_line_bytes_max,
                payload_bytes_max: o.payload_bytes_max,
            },
            account: server.accounts.global().clone(),
            server,
            handle,
            // nats-server's defaults until CONNECT says otherwise.
            opts: ConnOpts {
                verbose: true,
                pedantic: true,
                echo: true,
                headers: false,
                no_responders: false,
            },
            connected: false,
            perms: None,
            subs: HashMap::new(),
            subs_sweep_len: 64,
            routes: RouteCache::default(),
            flush: FlushList::default(),
            pings_out: 0,
            trace: o.log.trace,
            creds: reauth::SavedCredentials::default(),
            nonce,
            expires_at: None,
            expiry: (CloseReason::AuthExpired, "User Authentication Expired"),
            subs_max: None,
            // Made as the socket is accepted, before INFO goes out.
            accepted: Instant::now(),
            ping_sent: None,
            spin: None,
        }
    }

    /// Poll this plain TCP socket after reads (see [`spin`]).
    fn spin_on(&mut self, stream: &TcpStream) {
        use std::os::fd::AsRawFd;
        let window = self.server.options().read_spin;
        self.spin = SpinReader::new(stream.as_raw_fd(), window);
    }

    async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut rd: R) {
        let o = self.server.options();
        let mut buf = BytesMut::with_capacity(READ_BYTES_MIN);
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + o.ping_interval,
            o.ping_interval,
        );
        let auth_timeout = o
            .auth
            .timeout
            .unwrap_or(crate::options::AUTH_TIMEOUT_DEFAULT);
        let auth_deadline = tokio::time::sleep(auth_timeout);
        tokio::pin!(auth_deadline);
        let auth_armed = self.server.authenticator().required();
        let expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(expiry);
        let mut expiry_armed = None;
        // The last read was a client's small write, likely answered soon:
        // poll the socket before sleeping on it.
        let mut hot = false;
        loop {
            if buf.is_empty() && buf.capacity() > READ_BYTES_MIN {
                // A large message grew it: back to the minimum.
                buf = BytesMut::with_capacity(READ_BYTES_MIN);
            } else if buf.capacity() - buf.len() < READ_BYTES_MIN / 4 {
                if buf.is_empty() {
                    // A fresh chunk rather than reclaiming the old one in
                    // place, which may be one a large message grew.
                    buf = BytesMut::with_capacity(READ_BYTES_MIN);
                } else {
                    buf.reserve(READ_BYTES_MIN);
                }
            }
            let spun = match &self.spin {
                Some(spin) if hot => spin.read(&mut buf, &self.handle).await,
                _ => Spun::Idle,
            };
            hot = false;
            let stop = match spun {
                Spun::Data(n) => {
                    hot = spin::worth_polling_after(n);
                    self.read_done(n, &mut buf)
                }
                Spun::Failed => Some(Stop::Close(CloseReason::ReadError, None)),
                Spun::Idle => tokio::select! {
                    biased;
                    _ = self.handle.closing.notified() => return,
                    r = rd.read_buf(&mut buf) => match r {
                        Ok(n) => {
                            hot = spin::worth_polling_after(n);
                            self.read_done(n, &mut buf)
                        }
                        Err(_) => Some(Stop::Close(CloseReason::ReadError, None)),
                    },
                    _ = ping.tick() => self.server_ping().err(),
                    _ = self.handle.reauth.notified() => self.reauthorize().err(),
                    _ = &mut auth_deadline, if auth_armed && !self.connected => {
                        Some(Stop::Close(CloseReason::AuthTimeout, Some("Authentication Timeout")))
                    }
                    _ = &mut expiry, if expiry_armed.is_some() => {
                        Some(Stop::Close(self.expiry.0, Some(self.expiry.1)))
                    }
                },
            };
            if expiry_armed != self.expires_at {
                expiry_armed = self.expires_at;
                if let Some(at) = expiry_armed {
                    expiry.as_mut().reset(at);
                }
            }
            if let Some(slow) = self.flush.flush_find_stalled() {
                // Fast-producer stall: let a backed-up subscriber drain
                // before reading more from this publisher.
                slow.wait_drained(STALL_WAIT_MAX).await;
            }
            if let Some(backlog) = self.handle.take_backlog() {
                // A stream's PubAck queue is full: let it drain first.
                backlog.wait_drained().await;
            }
            if let Some(Stop::Close(reason, err)) = stop {
                let mut last = BytesMut::new();
                if let Some(text) = err {
                    encode::err(&mut last, text);
                }
                self.handle.close_with(reason, Some(&last));
                return;
            }
        }
    }

    /// After a read of `n` bytes into `buf`: 0 is the client closing.
    fn read_done(&mut self, n: usize, buf: &mut BytesMut) -> Option<Stop> {
        if n == 0 {
            return Some(Stop::Close(CloseReason::ClientClosed, None));
        }
        self.process(buf).err()
    }

    /// nats-server's `-V` line for an op the client sent.
    fn trace_op(&self, op: &ClientOp) {
        if let Some(text) = proto::describe::describe(op) {
            let h = &self.handle;
            tracing::trace!("{} - cid:{} - <<- {text}", h.addr, h.cid);
        }
    }

    fn server_ping(&mut self) -> Result<(), Stop> {
        let max = self.server.options().pings_out_max;
        if self.pings_out >= max {
            return Err(Stop::Close(
                CloseReason::StaleConnection,
                Some("Stale Connection"),
            ));
        }
        self.pings_out += 1;
        self.ping_sent = Some(Instant::now());
        self.reply(encode::PING);
        Ok(())
    }

    /// Apply every complete op in `buf`.
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), Stop> {
        self.handle
            .last_activity_ns
            .store(now_ns(), Ordering::Relaxed);
        loop {
            let op = match proto::parse(buf, &self.limits) {
                Ok(Some(op)) => op,
                Ok(None) => return Ok(()),
                Err(e) => return Err(parse_error_stop(&e)),
            };
            if !self.connected
                && self.server.authenticator().required()
                && !matches!(op, ClientOp::Connect(_))
            {
                return Err(auth_violation());
            }
            if self.trace {
                self.trace_op(&op);
            }
            self.apply(op)?;
        }
    }

    fn apply(&mut self, op: ClientOp) -> Result<(), Stop> {
        match op {
            ClientOp::Pub(p) => self.publish(p),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                self.subscribe(subject, queue, sid);
                Ok(())
            }
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(&sid, max);
                Ok(())
            }
            ClientOp::Ping => {
                self.reply(encode::PONG);
                Ok(())
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent.take() {
                    self.handle.set_rtt(sent.elapsed());
                }
                Ok(())
            }
            ClientOp::Connect(json) => self.connect(&json),
            ClientOp::Ack => Ok(()),
            // nats-server logs a client's -ERR and closes it, without a reply.
            ClientOp::Err => Err(Stop::Close(CloseReason::ProtocolViolation, None)),
        }
    }

    /// Queue bytes for this client's own socket.
    fn reply(&mut self, bytes: &[u8]) {
        if self.handle.queue(|b| b.extend_from_slice(bytes)) {
            self.flush.add(&self.handle);
        }
    }

    fn send_err(&mut self, text: &str) {
        if self.handle.queue(|b| encode::err(b, text)) {
            self.flush.add(&self.handle);
        }
    }

    fn ok(&mut self) {
        if self.opts.verbose {
            self.reply(encode::OK);
        }
    }

    fn connect(&mut self, json: &[u8]) -> Result<(), Stop> {
        let Ok(c) = serde_json::from_slice::<ConnectJson>(json) else {
            return Err(Stop::Close(CloseReason::ProtocolViolation, None));
        };
        let creds = Credentials {
            user: c.user.as_deref(),
            pass: c.pass.as_deref(),
            token: c.auth_token.as_deref(),
            nkey: c.nkey.as_deref(),
            sig: c.sig.as_deref(),
            jwt: c.jwt.as_deref(),
            nonce: &self.nonce,
            client_ip: Some(self.handle.addr.ip()),
        };
        let Some(identity) = self.server.authenticator().authenticate(&creds) else {
            tracing::debug!(cid = self.handle.cid, "authorization violation");
            return Err(auth_violation());
        };
        self.take_account_place(&identity)?;
        self.creds = reauth::SavedCredentials::save(&creds);
        self.bind_account(identity.account.as_deref());
        if !matches!(c.protocol, None | Some(0) | Some(1)) {
            return Err(Stop::Close(
                CloseReason::ProtocolViolation,
                Some("invalid client protocol"),
            ));
        }
        let headers = c.headers.unwrap_or(false);
        if c.no_responders.unwrap_or(false) && !headers {
            return Err(Stop::Close(
                CloseReason::ProtocolViolation,
                Some("no responders requires headers support"),
            ));
        }
        self.opts = ConnOpts {
            verbose: c.verbose.unwrap_or(true),
            pedantic: c.pedantic.unwrap_or(true),
            echo: c.echo.unwrap_or(true),
            headers,
            no_responders: c.no_responders.unwrap_or(false),
        };
        {
            let mut meta = self.handle.meta.lock();
            meta.name = c.name.unwrap_or_default();
            meta.lang = c.lang.unwrap_or_default();
            meta.version = c.version.unwrap_or_default();
            meta.user = identity.user;
            meta.account = identity.account_label.or(identity.account);
            meta.connected = true;
        }
        self.handle.headers.store(headers, Ordering::Relaxed);
        *self.handle.responses.lock() = identity
            .perms
            .as_ref()
            .and_then(|p| p.responses)
            .map(crate::client::Responses::new);
        self.perms = identity.perms;
        if identity.account_expires {
            self.expiry.1 = "Account Authentication Expired";
        }
        self.expires_at = identity.expires_unix_s.map(|exp| {
            let left_s = (exp - crate::jwt::unix_now_s()).max(0) as u64;
            tokio::time::Instant::now() + Duration::from_secs(left_s)
        });
        self.apply_limits(&identity.limits);
        self.connected = true;
        // INFO out, CONNECT back: a first round trip, until a PING measures one.
        self.handle.set_rtt(self.accepted.elapsed());
        self.ok();
        crate::monitor::sys::client_connect(&self.server, &self.handle);
        Ok(())
    }

    /// Enter the login's account (once: a repeated CONNECT keeps the first).
    fn bind_account(&mut self, name: Option<&str>) {
        if self.connected {
            return;
        }
        let account = self.server.account(name);
        if !Arc::ptr_eq(&account, &self.account) {
            // Routes cached before CONNECT are the old account's.
            self.routes = RouteCache::default();
            self.account = account;
        }
    }

    fn publish(&mut self, p: Publish) -> Result<(), Stop> {
        if p.has_headers && !self.opts.headers {
            return Err(Stop::Close(CloseReason::ProtocolViolation, None));
        }
        // Only this connection's reader writes its inbound counters.
        let counters = &self.handle.counters;
        crate::client::add_single_writer(&counters.in_msgs, 1);
        crate::client::add_single_writer(&counters.in_bytes, p.payload.len() as u64);
        if self.opts.pedantic && !subject::is_valid_literal(&p.subject) {
            self.send_err("Invalid Publish Subject");
        }
        if let Some(perms) = &self.perms {
            let response = || {
                self.handle
                    .responses
                    .lock()
                    .as_mut()
                    .is_some_and(|r| r.take(&p.subject))
            };
            if !perms.can_publish(&p.subject) && !response() {
                let text = format!(
                    "Permissions Violation for Publish to \"{}\"",
                    String::from_utf8_lossy(&p.subject)
                );
                self.send_err(&text);
                return Ok(());
            }
        }
        self.ok();
        if p.subject[..] == *user_info::SUBJECT {
            if let Some(reply) = &p.reply {
                self.user_info(reply);
            }
            return Ok(());
        }
        let result = self.routes.lookup(&self.account.sublist, &p.subject);
        // An empty header block goes out as a plain MSG (as nats-server).
        let has_headers = p.has_headers && p.headers_len > 0;
        let traced = has_headers
            .then(|| trace::request(&p.payload[..p.headers_len]))
            .flatten();
        if let Some(req) = &traced {
            if req.only {
                self.send_trace(&p, req.dest, &result);
                return Ok(());
            }
        }
        let d = Delivery {
            subject: &p.subject,
            routed: None,
            reply: p.reply.as_deref(),
            headers_len: p.headers_len,
            has_headers,
            payload: &p.payload,
            origin_cid: self.handle.cid,
        };
        let delivered = router::route(
            &self.account.sublist,
            &result,
            &d,
            self.opts.echo,
            &mut self.flush,
        );
        if let Some(req) = &traced {
            self.send_trace(&p, req.dest, &result);
        }
        if delivered == 0 && self.opts.no_responders {
            if let Some(reply) = &p.reply {
                self.no_responders(&p.subject, reply);
            }
        }
        Ok(())
    }

    /// Publish the trace event of a message that asked for one.
    fn send_trace(&mut self, p: &Publish, dest: &[u8], result: &crate::sublist::SubResult) {
        let opts = self.server.options();
        let (name, account) = {
            let meta = self.handle.meta.lock();
            (meta.name.clone(), meta.account.clone())
        };
        let server = trace::ServerInfo {
            name: &self.server.server_name,
            id: &self.server.server_id,
            host: &opts.host,
            version: crate::server::NATS_VERSION,
            jetstream: opts.jetstream.enabled,
        };
        let from = trace::Ingress {
            cid: self.handle.cid,
            name: &name,
            account: account.as_deref().unwrap_or("$G"),
            subject: &p.subject,
        };
        let block = &p.payload[..p.headers_len];
        let event = trace::event(
            &server,
            block,
            p.payload.len(),
            &from,
            result,
            self.opts.echo,
        );
        self.account.publish_internal(dest, None, &[], &event);
    }

    /// A 503 status to this client's own subscription on the reply subject.
    fn no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let result = self.routes.lookup(&self.account.sublist, reply);
        let cid = self.handle.cid;
        let Some(sub) = result
            .psubs
            .iter()
            .chain(result.qsubs.iter().flatten())
            .find(|s| s.client_cid() == cid)
        else {
            return;
        };
        let mut headers = Vec::with_capacity(48 + subject.len());
        headers.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        headers.extend_from_slice(subject);
        headers.extend_from_slice(b"\r\n\r\n");
        let payload = Bytes::from(headers);
        let d = Delivery {
            subject: reply,
            routed: None,
            reply: None,
            headers_len: payload.len(),
            has_headers: true,
            payload: &payload,
            origin_cid: 0,
        };
        if self.handle.queue_msg(&sub.sid, &d) {
            self.flush.add(&self.handle);
        }
    }

    fn subscribe(&mut self, subj: Bytes, queue: Option<Bytes>, sid: Bytes) {
        if !subject::is_valid(&subj) {
            self.send_err("Invalid Subject");
            return;
        }
        if queue.as_ref().is_some_and(|q| !subject::is_valid_queue(q)) {
            self.send_err("Invalid Queue Name");
            return;
        }
        if let Some(perms) = &self.perms {
            if !perms.can_subscribe(&subj, queue.as_deref()) {
                let mut text = format!(
                    "Permissions Violation for Subscription to \"{}\"",
                    String::from_utf8_lossy(&subj)
                );
                if let Some(q) = &queue {
                    text.push_str(&format!(" using queue \"{}\"", String::from_utf8_lossy(q)));
                }
                self.send_err(&text);
                return;
            }
        }
        if self.subs_at_limit() {
            self.send_err(limits::SUBS_EXCEEDED);
            return;
        }
        // A SUB reusing a live sid changes nothing (as nats-server).
        if self.subs.get(&sid).is_none_or(|s| s.is_spent()) {
            // Copy out of the read buffer: the subscription outlives it.
            let sid = Bytes::copy_from_slice(&sid);
            // A wildcard may cover denied subjects: those are filtered per message.
            let deny = self
                .perms
                .as_ref()
                .and_then(|p| p.subscribe.as_ref())
                .filter(|r| r.has_deny() && !subject::is_valid_literal(&subj))
                .map(|r| Arc::new(r.clone()));
            let sub = Arc::new(
                Subscription::new(
                    Bytes::copy_from_slice(&subj),
                    queue.map(|q| Bytes::copy_from_slice(&q)),
                    sid.clone(),
                    SubTarget::Client(self.handle.clone()),
                )
                .with_deny(deny),
            );
            self.account.sublist.insert(sub.clone());
            self.account.interest_added();
            self.subs.insert(sid, sub);
            self.sweep_spent_subs();
            self.handle
                .subs_count
                .store(self.subs.len() as u64, Ordering::Relaxed);
        }
        self.ok();
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        if let Some(sub) = self.subs.get(sid).cloned() {
            match max {
                Some(max) if max > sub.delivered() => sub.set_max(max),
                _ => {
                    self.account.sublist.remove(&sub);
                    self.subs.remove(sid);
                    self.handle
                        .subs_count
                        .store(self.subs.len() as u64, Ordering::Relaxed);
                }
            }
        }
        self.ok();
    }

    /// Subscriptions ended by an UNSUB max are removed from the sublist on
    /// delivery; drop them from the sid map now and then so a long-lived
    /// requester's map stays small.
    fn sweep_spent_subs(&mut self) {
        if self.subs.len() < self.subs_sweep_len {
            return;
        }
        self.subs.retain(|_, s| !s.is_spent());
        self.subs_sweep_len = (self.subs.len() * 2).max(64);
    }

    fn remove_all_subs(&mut self) {
        for (_, sub) in self.subs.drain() {
            self.account.sublist.remove(&sub);
        }
    }
}

fn auth_violation() -> Stop {
    Stop::Close(CloseReason::AuthViolation, Some("Authorization Violation"))
}

fn parse_error_stop(e: &ParseError) -> Stop {
    match e {
        ParseError::UnknownOp => Stop::Close(
            CloseReason::ProtocolViolation,
            Some("Unknown Protocol Operation"),
        ),
        ParseError::ControlLineTooLong => Stop::Close(
            CloseReason::ProtocolViolation,
            Some("maximum control line exceeded"),
        ),
        ParseError::PayloadTooBig => {
            Stop::Close(CloseReason::MaxPayload, Some("Maximum Payload Violation"))
        }
        // nats-server closes without an -ERR on malformed arguments.
        ParseError::BadArgs(_) => Stop::Close(CloseReason::ProtocolViolation, None),
    }
}

/// On the clock monitoring converts to wall time (`/connz` last_activity).
fn now_ns() -> u64 {
    crate::client::clock_ns()
}
