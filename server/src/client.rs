//! The shared half of a client connection: its outbound buffer, counters and
//! identity. Publishers on other tasks append frames here; the connection's
//! writer task drains it to the socket, many frames per syscall.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::proto::encode;

/// Why a connection ended (as /connz `reason` will say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    ProtocolViolation,
    AuthViolation,
    AuthTimeout,
    AuthExpired,
    StaleConnection,
    MaxPayload,
    MaxSubscriptions,
    MaxAccountConnections,
    ServerShutdown,
    WriteError,
    ReadError,
}

#[derive(Default)]
pub struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
}

/// What CONNECT told us, for monitoring.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub account: Option<String>,
    /// CONNECT was accepted: the system account heard of it.
    pub connected: bool,
}

struct OutState {
    buf: BytesMut,
    closed: Option<CloseReason>,
}

pub struct ClientHandle {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub counters: Counters,
    pub meta: Mutex<ClientMeta>,
    pub last_activity_ns: AtomicU64,
    /// When the writer last put bytes on the socket ([`clock_ns`]): a
    /// reader polling for the client's answer polls a moment past it.
    pub last_write_ns: AtomicU64,
    /// Live subscriptions of this client (for monitoring).
    pub subs_count: AtomicU64,
    /// Round-trip time in nanoseconds, 0 until measured: estimated at
    /// CONNECT, then timed from each server PING to its PONG (as nats-server).
    pub rtt_ns: AtomicU64,
    out: Mutex<OutState>,
    /// Wakes the writer: there is output, or the connection is closing.
    pub(crate) wake: Notify,
    /// Wakes the reader when someone else closes the connection.
    pub(crate) closing: Notify,
    /// Wakes the reader after a configuration reload to re-check its login.
    pub(crate) reauth: Notify,
    /// Set when a publisher queued output and owes the writer a wake-up.
    flush_owed: AtomicBool,
    /// CONNECT said `headers: true`; otherwise messages go out as MSG without
    /// their header block (as nats-server does).
    pub(crate) headers: AtomicBool,
    /// `allow_responses`: reply subjects this client was sent and may
    /// publish to, whatever its publish permissions say.
    pub(crate) responses: Mutex<Option<Responses>>,
    pending_bytes_max: usize,
    /// Pending output past this stalls the publishers feeding it (nats-server's
    /// fast-producer stall: half of `max_pending`).
    stall_bytes: usize,
    /// Set when pending output passed `stall_bytes`; cleared (waking the
    /// stalled publishers through `drained`) once the writer is back under it.
    stalled: AtomicBool,
    pub(crate) drained: Notify,
    /// A queue this client's publishes filled past its bound (a stream's
    /// pending PubAcks): the reader waits for it before reading more.
    backlog: Mutex<Option<std::sync::Arc<Backlog>>>,
}

impl ClientHandle {
    pub fn new(cid: u64, addr: SocketAddr, pending_bytes_max: usize) -> Self {
        ClientHandle {
            cid,
            addr,
            start: SystemTime::now(),
            counters: Counters::default(),
            meta: Mutex::new(ClientMeta::default()),
            last_activity_ns: AtomicU64::new(0),
            last_write_ns: AtomicU64::new(0),
            subs_count: AtomicU64::new(0),
            rtt_ns: AtomicU64::new(0),
            out: Mutex::new(OutState {
                buf: BytesMut::with_capacity(4096),
                closed: None,
            }),
            wake: Notify::new(),
            closing: Notify::new(),
            reauth: Notify::new(),
            flush_owed: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            responses: Mutex::new(None),
            pending_bytes_max,
            stall_bytes: pending_bytes_max / 2,
            stalled: AtomicBool::new(false),
            drained: Notify::new(),
            backlog: Mutex::new(None),
        }
    }

    /// Make this client's reader wait for `backlog` to drain after its
    /// current read (see [`Backlog`]).
    pub fn hold_for(&self, backlog: &std::sync::Arc<Backlog>) {
        *self.backlog.lock() = Some(backlog.clone());
    }

    /// The backlog this client's reader must wait for, if any.
    pub(crate) fn take_backlog(&self) -> Option<std::sync::Arc<Backlog>> {
        self.backlog.lock().take()
    }

    /// Append bytes built by `f`; returns false if the connection is closed or
    /// just became a slow consumer. The caller must arrange a wake-up
    /// ([`ClientHandle::signal`] or a [`FlushList`]).
    pub fn queue(&self, f: impl FnOnce(&mut BytesMut)) -> bool {
        self.queue_frames(|buf| {
            f(buf);
            (0, 0)
        })
    }

    /// As [`ClientHandle::queue`], for `f` writing messages: it returns how
    /// many and their payload bytes, counted once they are in. Counted under
    /// the lock, which every writer of `out_msgs` and `out_bytes` holds, so a
    /// load and a store keep them exact without a locked read-modify-write.
    pub fn queue_frames(&self, f: impl FnOnce(&mut BytesMut) -> (u64, u64)) -> bool {
        let mut out = self.out.lock();
        if out.closed.is_some() {
            return false;
        }
        let (msgs, bytes) = f(&mut out.buf);
        if out.buf.len() > self.stall_bytes && !self.stalled.load(Ordering::Relaxed) {
            self.stalled.store(true, Ordering::Release);
        }
        if out.buf.len() > self.pending_bytes_max {
            // Drop what the client could not take; tell it why, then close.
            out.buf.clear();
            encode::err(&mut out.buf, "Slow Consumer");
            out.closed = Some(CloseReason::SlowConsumerPendingBytes);
            drop(out);
            self.release_stalled();
            self.closing.notify_one();
            self.wake.notify_one();
            return false;
        }
        if msgs > 0 {
            add_single_writer(&self.counters.out_msgs, msgs);
            add_single_writer(&self.counters.out_bytes, bytes);
        }
        true
    }

    /// Queue a MSG/HMSG and count it.
    pub fn queue_msg(&self, sid: &[u8], d: &crate::subscription::Delivery<'_>) -> bool {
        let strip = d.has_headers && !self.headers.load(Ordering::Relaxed);
        let ok = self.queue_frames(|buf| {
            if strip {
                let body = d.payload.get(d.headers_len..).unwrap_or_default();
                encode::msg(buf, d.subject, sid, d.reply, 0, false, body);
            } else {
                encode::msg(
                    buf,
                    d.subject,
                    sid,
                    d.reply,
                    d.headers_len,
                    d.has_headers,
                    d.payload,
                );
            }
            (1, d.payload.len() as u64)
        });
        if let (true, Some(reply)) = (ok, d.reply) {
            if let Some(r) = self.responses.lock().as_mut() {
                r.grant(reply);
            }
        }
        ok
    }

    /// Wake the writer now.
    pub fn signal(&self) {
        self.wake.notify_one();
    }

    /// Queue a final frame (usually `-ERR`), then close after it is written.
    pub fn close_with(&self, reason: CloseReason, last: Option<&[u8]>) {
        let mut out = self.out.lock();
        if out.closed.is_none() {
            if let Some(bytes) = last {
                out.buf.extend_from_slice(bytes);
            }
            out.closed = Some(reason);
        }
        drop(out);
        self.release_stalled();
        self.closing.notify_one();
        self.wake.notify_one();
    }

    /// A closing client holds no publisher back.
    fn release_stalled(&self) {
        self.stalled.store(false, Ordering::Release);
        self.drained.notify_waiters();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.out.lock().closed
    }

    pub fn pending_bytes(&self) -> usize {
        self.out.lock().buf.len()
    }

    /// Record a round trip; never 0 once measured, so 0 keeps meaning "not yet".
    pub fn set_rtt(&self, d: std::time::Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.rtt_ns.store(ns, Ordering::Relaxed);
    }

    /// The last round-trip time; zero until measured.
    pub fn rtt(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.rtt_ns.load(Ordering::Relaxed))
    }

    /// Wall-clock time of the last inbound activity (start if none yet).
    pub fn last_activity(&self) -> SystemTime {
        match self.last_activity_ns.load(Ordering::Relaxed) {
            0 => self.start,
            ns => clock_to_system(ns),
        }
    }

    /// Is this client's output backed up past the stall threshold?
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }

    /// After a write: once pending output is back under the threshold, the
    /// publishers waiting on this client go on.
    pub(crate) fn wrote(&self) {
        self.last_write_ns.store(clock_ns(), Ordering::Relaxed);
        if !self.stalled.load(Ordering::Acquire) {
            return;
        }
        if self.out.lock().buf.len() <= self.stall_bytes {
            self.release_stalled();
        }
    }

    /// Wait until `wrote` says the output drained, at most `max`. The waiter is
    /// registered before the check, so a drain in between is not missed.
    pub async fn wait_drained(&self, max: std::time::Duration) {
        let notified = self.drained.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !self.is_stalled() {
            return;
        }
        let _ = tokio::time::timeout(max, notified).await;
    }

    /// Is a publisher mid-batch for this client (it owes the writer a
    /// wake-up at the batch's end) with less than `bytes_max` queued so far?
    pub(crate) fn batch_in_progress(&self, bytes_max: usize) -> bool {
        if !self.flush_owed.load(Ordering::Acquire) {
            return false;
        }
        let out = self.out.lock();
        out.closed.is_none() && out.buf.len() < bytes_max
    }

    /// Is the (empty or not) outbound buffer larger than `bytes_min`?
    pub(crate) fn output_grown(&self, bytes_min: usize) -> bool {
        self.out.lock().buf.capacity() > bytes_min
    }

    /// An idle connection gives back a grown outbound buffer.
    pub(crate) fn shrink_idle_output(&self, bytes_min: usize) {
        let mut out = self.out.lock();
        if out.buf.is_empty() && out.buf.capacity() > bytes_min {
            out.buf = BytesMut::with_capacity(bytes_min);
        }
    }

    /// Swap the pending output into `spare` (which must be empty).
    /// Returns the close reason once everything has been handed out.
    pub fn take_output(&self, spare: &mut BytesMut) -> Option<CloseReason> {
        let mut out = self.out.lock();
        std::mem::swap(&mut out.buf, spare);
        if spare.is_empty() {
            out.closed
        } else {
            None
        }
    }
}

/// `counter += n` for a counter only one thread writes at a time (its
/// owner, or whoever holds the lock that guards it); readers see a value
/// that was true, as with `fetch_add`, at the cost of a load and a store.
pub(crate) fn add_single_writer(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

/// One process-wide monotonic clock for activity stamps (`last_activity_ns`),
/// with its wall-clock origin so monitoring can show wall times.
fn clock() -> &'static (std::time::Instant, SystemTime) {
    static CLOCK: std::sync::OnceLock<(std::time::Instant, SystemTime)> =
        std::sync::OnceLock::new();
    CLOCK.get_or_init(|| (std::time::Instant::now(), SystemTime::now()))
}

/// Nanoseconds on the activity clock; never 0 (0 means "no activity yet").
pub fn clock_ns() -> u64 {
    clock().0.elapsed().as_nanos() as u64 + 1
}

/// The wall-clock time of an activity-clock reading.
pub fn clock_to_system(ns: u64) -> SystemTime {
    clock().1 + std::time::Duration::from_nanos(ns)
}

/// Clients a reader queued output for during one read batch: each gets one
/// wake-up at the end of the batch instead of one per message.
#[derive(Default)]
pub struct FlushList {
    owed: Vec<std::sync::Arc<ClientHandle>>,
}

/// A list dropped unflushed still pays what it owes: a writer waits for the
/// wake-up of a batch in progress ([`ClientHandle::batch_in_progress`]).
impl Drop for FlushList {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Bound on clients remembered per batch; past it we wake them at once.
const FLUSH_LIST_LEN_MAX: usize = 1024;

impl FlushList {
    pub fn add(&mut self, client: &std::sync::Arc<ClientHandle>) {
        // Most adds in a batch find the wake-up already owed: a plain load
        // answers them without a locked exchange.
        if client.flush_owed.load(Ordering::Acquire)
            || client.flush_owed.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if self.owed.len() >= FLUSH_LIST_LEN_MAX {
            client.flush_owed.store(false, Ordering::Release);
            client.signal();
            return;
        }
        self.owed.push(client.clone());
    }

    pub fn flush(&mut self) {
        for c in self.owed.drain(..) {
            c.flush_owed.store(false, Ordering::Release);
            c.signal();
        }
    }

    /// As [`FlushList::flush`], returning a client whose output is backed up
    /// (the publisher should wait for it before reading more).
    pub fn flush_find_stalled(&mut self) -> Option<std::sync::Arc<ClientHandle>> {
        let mut stalled = None;
        for c in self.owed.drain(..) {
            c.flush_owed.store(false, Ordering::Release);
            c.signal();
            if stalled.is_none() && c.is_stalled() {
                stalled = Some(c);
            }
        }
        stalled
    }
}

/// A bounded queue fed by publishers on their readers' tasks, who cannot
/// wait where they feed it: past `len_max` the feeder marks its client
/// ([`ClientHandle::hold_for`]) and that client's reader waits, after its
/// read, until the queue is back under half its bound. Back-pressure on the
/// publisher, nothing dropped.
pub struct Backlog {
    len: AtomicUsize,
    len_max: usize,
    closed: AtomicBool,
    drained: Notify,
}

impl Backlog {
    pub fn new(len_max: usize) -> Self {
        Backlog {
            len: AtomicUsize::new(0),
            len_max,
            closed: AtomicBool::new(false),
            drained: Notify::new(),
        }
    }

    /// One more queued; true when that takes it past its bound.
    pub fn push(&self) -> bool {
        self.len.fetch_add(1, Ordering::AcqRel) + 1 > self.len_max
    }

    /// `n` fewer queued; wakes the held readers once under half the bound.
    pub fn pop(&self, n: usize) {
        let update = self
            .len
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
                Some(l.saturating_sub(n))
            });
        let before = update.unwrap_or_else(|l| l);
        if before > self.len_max / 2 && before.saturating_sub(n) <= self.len_max / 2 {
            self.drained.notify_waiters();
        }
    }

    /// Nobody drains it any more: release every reader for good.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.drained.notify_waiters();
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_held(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && self.len() > self.len_max / 2
    }

    /// Wait until under half the bound or closed. The waiter is registered
    /// before each check, so a drain in between is not missed.
    pub async fn wait_drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_held() {
                return;
            }
            notified.await;
        }
    }
}

/// Bound on reply subjects remembered for `allow_responses`; the oldest go first.
const RESPONSES_LEN_MAX: usize = 64 * 1024;

/// Reply subjects a client with `allow_responses` may answer.
pub struct Responses {
    /// Replies allowed per request.
    max_msgs: u64,
    /// How long a reply subject stays open (`None`: until used up).
    ttl: Option<std::time::Duration>,
    open: std::collections::HashMap<bytes::Bytes, (u64, std::time::Instant)>,
}

impl Responses {
    pub fn new(p: crate::options::ResponsePermission) -> Self {
        let ttl = (!p.expires.is_zero()).then_some(p.expires);
        Responses {
            max_msgs: p.max_msgs.max(1),
            ttl,
            open: std::collections::HashMap::new(),
        }
    }

    fn grant(&mut self, reply: &[u8]) {
        if self.open.len() >= RESPONSES_LEN_MAX {
            let now = std::time::Instant::now();
            let ttl = self.ttl;
            self.open
                .retain(|_, (_, at)| ttl.is_some_and(|t| now.duration_since(*at) < t));
            if self.open.len() >= RESPONSES_LEN_MAX {
                self.open.clear();
            }
        }
        self.open.insert(
            bytes::Bytes::copy_from_slice(reply),
            (self.max_msgs, std::time::Instant::now()),
        );
    }

    /// May the client publish to `subject` as a response? Uses one grant.
    pub fn take(&mut self, subject: &[u8]) -> bool {
        let Some((left, at)) = self.open.get_mut(subject) else {
            return false;
        };
        if self.ttl.is_some_and(|t| at.elapsed() > t) {
            self.open.remove(subject);
            return false;
        }
        *left -= 1;
        if *left == 0 {
            self.open.remove(subject);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_backlog_holds_its_feeder_until_under_half_its_bound() {
        let b = Arc::new(Backlog::new(4));
        assert!(!(0..4).any(|_| b.push()));
        assert!(b.push(), "the fifth is past the bound");
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.wait_drained().await }
        });
        b.pop(2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "3 queued is not under half of 4");
        b.pop(1);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released once at 2")
            .unwrap();
        // Closed: nobody drains it, so nobody is held by it.
        (0..10).for_each(|_| {
            b.push();
        });
        b.close();
        tokio::time::timeout(Duration::from_secs(5), b.wait_drained())
            .await
            .expect("a closed backlog holds nobody");
    }
}
