//! Reading a busy client's socket by polling it for a moment before the
//! reader goes to sleep.
//!
//! Why: a reader that sleeps is woken by the kernel when the client's next
//! bytes arrive, and on a machine whose idle CPUs halt (most virtual
//! machines) that wake-up costs tens of microseconds: a request/reply round
//! trip pays it twice in the server, a publish awaiting each ack once, and a
//! publisher pays the cost of waking the server for each of its writes. A
//! reader that has just had data polls its socket with a non-blocking
//! `recv` for [`SpinReader::window`] (yielding to the runtime between polls,
//! so the writer tasks it woke still run), and sleeps only if nothing came.
//! Go's scheduler, under nats-server, spins the same way before it parks.
//!
//! Bounded twice: a window per read, and [`spinners_max`] readers polling at
//! once in the whole server (half the CPUs, at least two), so an idle
//! server burns no CPU and a server with thousands of clients never polls
//! more than a few of them.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;

use crate::client::{clock_ns, ClientHandle};

/// Longest one spell polls, however often the writer extends it.
const SPELL_MAX: Duration = Duration::from_millis(1);

/// Readers polling at this moment, server-wide.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// Pollers for half the CPUs, as Go caps its spinning threads (polling
/// uses CPUs that would otherwise idle, but shows as load), and at least
/// [`SPINNERS_MIN`] where there are that many CPUs.
fn spinners_max() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus / 2).max(SPINNERS_MIN).min(cpus)
    })
}

/// A request crosses two connections, the requester's and the
/// responder's, and each reader saves a wake-up if it polls: with one
/// poller (half of two CPUs) they took turns, and the round trip's median
/// was 75-94 µs instead of 59-70 (`docs/profiles.md`, sixth and seventh
/// rounds).
const SPINNERS_MIN: usize = 2;

/// Reads at least this large come from a client streaming writes, whose
/// next bytes are already on their way: the reader's next read gathers more
/// of them if it sleeps first. Polling pays off after small writes, the
/// ones a client makes when it waits for an answer (requests, publishes
/// awaiting their acks, acks themselves).
const POLL_AFTER_READ_BYTES_MAX: usize = 4096;

/// Is a read of `n` bytes one to poll after?
pub(super) fn worth_polling_after(n: usize) -> bool {
    n > 0 && n < POLL_AFTER_READ_BYTES_MAX
}

/// What one spell of polling found.
pub(super) enum Spun {
    /// `n` bytes were appended to the buffer (0: the client closed).
    Data(usize),
    /// Nothing came within the window, or no poller slot was free: wait for
    /// the socket the ordinary way.
    Idle,
    /// The socket failed.
    Failed,
}

/// A plain TCP socket's descriptor, read directly while it is hot.
pub(super) struct SpinReader {
    /// Owned by the connection's read half, which outlives this reader.
    fd: RawFd,
    window: Duration,
    /// The window is the default: poll only where wake-ups are slow.
    auto: bool,
}

/// A poller slot, given back when the spell ends.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        let max = spinners_max();
        SPINNING
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        SPINNING.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SpinReader {
    /// `None` when `window` is zero: polling is off. No window: the
    /// default, where the wake-up probe says polling pays.
    pub(super) fn new(fd: RawFd, window: Option<Duration>) -> Option<SpinReader> {
        let auto = window.is_none();
        let window = window.unwrap_or(crate::options::READ_SPIN_DEFAULT);
        (!window.is_zero()).then_some(SpinReader { fd, window, auto })
    }

    /// Poll the socket until bytes come or the window ends: `window` after
    /// the last read, or after the last write to this client if that came
    /// later (a reply or PubAck it will answer), at most [`SPELL_MAX`].
    /// `buf` must have spare capacity.
    pub(super) async fn read(&self, buf: &mut BytesMut, handle: &ClientHandle) -> Spun {
        debug_assert!(buf.capacity() > buf.len());
        if self.auto && !super::wake_probe::wake_ups_are_slow() {
            return Spun::Idle;
        }
        let Some(_slot) = Slot::take() else {
            return Spun::Idle;
        };
        let start_ns = clock_ns();
        let window_ns = self.window.as_nanos() as u64;
        let spell_end_ns = start_ns.saturating_add(SPELL_MAX.as_nanos() as u64);
        loop {
            match self.recv(buf) {
                Ok(n) => return Spun::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Spun::Failed,
            }
            let wrote_ns = handle.last_write_ns.load(Ordering::Relaxed);
            let until_ns = start_ns.max(wrote_ns).saturating_add(window_ns);
            if clock_ns() >= until_ns.min(spell_end_ns) {
                return Spun::Idle;
            }
            // Let a thread the kernel woke on this CPU (often the client's)
            // run first, then the runtime's other tasks.
            std::thread::yield_now();
            tokio::task::yield_now().await;
        }
    }

    /// One non-blocking `recv` into the buffer's spare capacity.
    fn recv(&self, buf: &mut BytesMut) -> io::Result<usize> {
        let spare = buf.spare_capacity_mut();
        // SAFETY: `fd` is open while the read half lives (see the field);
        // `recv` writes at most `spare.len()` bytes into memory we own.
        let n = unsafe {
            libc::recv(
                self.fd,
                spare.as_mut_ptr().cast(),
                spare.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        debug_assert!(n <= spare.len());
        // SAFETY: the kernel initialised the first `n` spare bytes.
        unsafe { buf.set_len(buf.len() + n) };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::Instant;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        (l.accept().await.unwrap().0, c)
    }

    fn handle() -> ClientHandle {
        ClientHandle::new(1, "127.0.0.1:1".parse().unwrap(), 1 << 20)
    }

    #[tokio::test]
    async fn bytes_sent_during_the_window_are_read() {
        let (server, mut client) = pair().await;
        let spin = SpinReader::new(server.as_raw_fd(), Some(Duration::from_millis(200))).unwrap();
        let h = handle();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            client.write_all(b"PING\r\n").await.unwrap();
            client
        });
        let mut buf = BytesMut::with_capacity(64);
        assert_eq!(read_until_data(&spin, &mut buf, &h).await, 6);
        assert_eq!(&buf[..], b"PING\r\n");
        drop(writer.await.unwrap());
        buf.clear();
        // The peer closed: a zero-byte read.
        assert_eq!(read_until_data(&spin, &mut buf, &h).await, 0);
    }

    /// Spells until one reads (another test may hold the poller slots).
    async fn read_until_data(spin: &SpinReader, buf: &mut BytesMut, h: &ClientHandle) -> usize {
        loop {
            match spin.read(buf, h).await {
                Spun::Data(n) => return n,
                Spun::Idle => tokio::task::yield_now().await,
                Spun::Failed => panic!("recv failed"),
            }
        }
    }

    #[tokio::test]
    async fn a_quiet_socket_ends_the_spell_within_its_bound() {
        let (server, _client) = pair().await;
        let spin = SpinReader::new(server.as_raw_fd(), Some(Duration::from_micros(300))).unwrap();
        let h = handle();
        let mut buf = BytesMut::with_capacity(64);
        for _ in 0..100 {
            let start = Instant::now();
            // A write to the client extends the window, never past SPELL_MAX.
            h.wrote();
            assert!(matches!(spin.read(&mut buf, &h).await, Spun::Idle));
            assert!(start.elapsed() < SPELL_MAX * 20, "the spell ends");
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn polling_is_off_at_zero_and_after_large_reads() {
        assert!(SpinReader::new(0, Some(Duration::ZERO)).is_none());
        assert!(SpinReader::new(0, None).is_some_and(|s| s.auto));
        assert!(worth_polling_after(200));
        assert!(!worth_polling_after(0));
        assert!(!worth_polling_after(POLL_AFTER_READ_BYTES_MAX));
    }
}
