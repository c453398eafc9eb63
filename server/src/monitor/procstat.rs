//! Process memory and CPU from /proc/self, as nats-server's `mem` and `cpu`.

use std::time::Instant;

use parking_lot::Mutex;

/// Resident set size in bytes (0 if /proc is unreadable).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

/// User plus system CPU time used by this process, in seconds.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let ticks = |i: usize| -> u64 { fields.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if n > 0 {
        n as f64
    } else {
        100.0
    }
}

/// nats-server reports CPU as a percentage over the last sampling period
/// (about a second), not since start: keep the previous sample.
pub struct CpuGauge {
    last: Mutex<(Instant, f64, f64)>,
}

/// Shorter gaps reuse the previous percentage: ticks are 10 ms coarse.
const CPU_SAMPLE_PERIOD_MIN: std::time::Duration = std::time::Duration::from_millis(500);

impl CpuGauge {
    pub fn new() -> Self {
        CpuGauge {
            last: Mutex::new((Instant::now(), cpu_seconds(), 0.0)),
        }
    }

    /// Percent of one core used since the previous sample (may exceed 100).
    pub fn percent(&self) -> f64 {
        let mut last = self.last.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(last.0);
        if elapsed < CPU_SAMPLE_PERIOD_MIN {
            return last.2;
        }
        let cpu = cpu_seconds();
        let pct = ((cpu - last.1) / elapsed.as_secs_f64() * 100.0).max(0.0);
        // One decimal, as nats-server rounds.
        let pct = (pct * 10.0).round() / 10.0;
        *last = (now, cpu, pct);
        pct
    }
}

impl Default for CpuGauge {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_proc() {
        assert!(super::rss_bytes() > 0);
        assert!(super::cpu_seconds() >= 0.0);
    }
}
