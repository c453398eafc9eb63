//! Does waking a sleeping thread cost enough here for socket polling to pay?
//!
//! Polling (`spin.rs`) saves the wake-up of a reader sleeping on an idle
//! CPU, but costs the CPU it holds. Where idle CPUs halt (virtual machines,
//! deep C-states) that wake-up costs tens of microseconds and polling halves
//! a request/reply round trip; where they poll (`/dev/cpu_dma_latency` held
//! at 0, or a tuned host) it costs a few, and polling made the round trip
//! slower (see `docs/profiles.md`, sixth round). So, once, in the
//! background: two threads on two different CPUs; one sleeps a millisecond
//! (its CPU idles), then wakes the other and times how long that takes.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Median wake-up above which polling pays (halted CPUs measured 21-28 µs
/// here, polling ones 3-4.5 µs).
const WAKE_SLOW_MIN: Duration = Duration::from_micros(10);
/// Wake-ups timed: about this many milliseconds of one background thread.
const ROUNDS: usize = 25;

const UNKNOWN: u8 = 0;
const SLOW: u8 = 1;
const FAST: u8 = 2;

static VERDICT: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Is waking a thread on an idle CPU slow here? `false` until the probe
/// (started by the first call) has answered, and where it cannot run.
pub(super) fn wake_ups_are_slow() -> bool {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("nile-wake-probe".into())
            .spawn(|| {
                let verdict = match median_wake_up() {
                    Some(d) if d >= WAKE_SLOW_MIN => SLOW,
                    _ => FAST,
                };
                tracing::debug!(slow = verdict == SLOW, "wake-up probe");
                VERDICT.store(verdict, Ordering::Release);
            });
        if spawned.is_err() {
            VERDICT.store(FAST, Ordering::Release);
        }
    });
    VERDICT.load(Ordering::Acquire) == SLOW
}

/// The median time from a notify to the waiter running, the waiter on
/// another CPU than the notifier; `None` with fewer than two CPUs to use.
fn median_wake_up() -> Option<Duration> {
    let [a, b] = two_cpus()?;
    let slot = Arc::new((Mutex::new(None::<Instant>), Condvar::new()));
    let (tx, rx) = mpsc::sync_channel(1);
    let waiter_slot = slot.clone();
    let waiter = std::thread::Builder::new()
        .name("nile-wake-probe-waiter".into())
        .spawn(move || {
            pin_to(b);
            let (lock, cv) = &*waiter_slot;
            for _ in 0..ROUNDS {
                let mut sent = lock.lock().ok()?;
                while sent.is_none() {
                    sent = cv.wait(sent).ok()?;
                }
                let elapsed = sent.take()?.elapsed();
                drop(sent);
                tx.send(elapsed).ok()?;
            }
            Some(())
        })
        .ok()?;
    pin_to(a);
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        std::thread::sleep(Duration::from_millis(1));
        let (lock, cv) = &*slot;
        *lock.lock().ok()? = Some(Instant::now());
        cv.notify_one();
        times.push(rx.recv_timeout(Duration::from_secs(1)).ok()?);
    }
    waiter.join().ok()??;
    times.sort();
    times.get(ROUNDS / 2).copied()
}

/// The first two CPUs this process may run on.
fn two_cpus() -> Option<[usize; 2]> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return None;
    }
    let mut cpus = (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) });
    Some([cpus.next()?, cpus.next()?])
}

/// Keep the calling (probe) thread on one CPU.
fn pin_to(cpu: usize) {
    // SAFETY: as in `two_cpus`; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_real_wake_ups() {
        // Any machine that runs the tests has a scheduler: a wake-up takes
        // some time, and far less than the probe's timeout.
        if two_cpus().is_none() {
            return;
        }
        let d = median_wake_up().expect("two CPUs, so the probe runs");
        assert!(
            d > Duration::ZERO && d < Duration::from_millis(100),
            "{d:?}"
        );
    }
}
