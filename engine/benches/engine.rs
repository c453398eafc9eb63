//! Engine benchmarks (not timed tests). Prints Markdown rows.
//!
//! cargo bench -p nile-engine --bench engine -- [--dir D] [--quick] [--open N,N]
//!     [--only append|read|open] [--sizes 16,128,1024,16384]
//!
//! `NILE_IO=io_uring` uses the io_uring backend instead of pwrite/fdatasync.
//!
//! - append: `always` with concurrent appenders (group commit) and
//!   `interval`, beside the raw limit measured in the same run: the same
//!   record bytes written sequentially with one fdatasync per batch.
//! - read: sequential `get`, filtered `next_matching`.
//! - open: time to open stores of N messages.

use nile_engine::io::{Io, RealIo};
use nile_engine::{FileStore, StoreConfig, StreamStore, SubjectFilter, SyncPolicy};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    dir: PathBuf,
    only: Option<String>,
    sizes: Vec<usize>,
    quick: bool,
    open: Vec<u64>,
}

fn args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir().join("nile-bench"),
        only: None,
        sizes: vec![16, 128, 1024, 16 * 1024],
        quick: false,
        open: vec![1_000_000, 10_000_000],
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "--only" => a.only = it.next(),
            "--sizes" => {
                let v = it.next().unwrap_or_default();
                a.sizes = v.split(',').filter_map(|s| s.parse().ok()).collect();
            }
            "--quick" => {
                a.quick = true;
                a.open = vec![100_000];
            }
            "--open" => {
                a.open = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect();
            }
            _ => {}
        }
    }
    a
}

fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).ok();
    dir.to_path_buf()
}

fn rate(n: u64, bytes: u64, d: Duration) -> String {
    let s = d.as_secs_f64();
    format!(
        "{:>10.0} msgs/s {:>8.1} MB/s",
        n as f64 / s,
        bytes as f64 / s / 1e6
    )
}

/// Raw limit: `batch` records of `rec` bytes per pwrite, one fdatasync per batch.
fn raw(dir: &Path, rec: usize, n: u64, batch: usize) -> Duration {
    let f = RealIo
        .open(&fresh(dir).join("raw"), true)
        .unwrap_or_else(|e| panic!("{e}"));
    let buf = vec![7u8; rec * batch];
    let t = Instant::now();
    let mut off = 0u64;
    let mut done = 0u64;
    while done < n {
        f.write_all_at(&buf, off).unwrap();
        f.sync_data().unwrap();
        off += buf.len() as u64;
        done += batch as u64;
    }
    t.elapsed()
}

/// `threads` appenders, each keeping `window` tickets outstanding (like
/// asynchronous publishers).
fn append(
    dir: &Path,
    size: usize,
    n: u64,
    sync: SyncPolicy,
    threads: usize,
    window: usize,
) -> Duration {
    let cfg = StoreConfig {
        sync,
        ..StoreConfig::default()
    };
    let s = Arc::new(FileStore::open(fresh(dir), cfg).unwrap());
    let per = n / threads as u64;
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                let payload = vec![1u8; size];
                let subj = format!("bench.{i}");
                let mut q = VecDeque::new();
                for k in 0..per {
                    let (_, tk) = s.append(subj.as_bytes(), b"", &payload, k as i64).unwrap();
                    q.push_back(tk);
                    if q.len() >= window {
                        if let Some(t) = q.pop_front() {
                            t.wait().unwrap();
                        }
                    }
                }
                q.into_iter().for_each(|t| t.wait().unwrap());
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let d = t.elapsed();
    s.close().unwrap();
    d
}

fn bench_append(a: &Args) {
    let n_bytes: u64 = if a.quick { 32 << 20 } else { 256 << 20 };
    println!("| size | mode | result |\n|---|---|---|");
    for &size in &a.sizes {
        let rec = size + 36 + 7;
        let n = (n_bytes / rec as u64).min(if a.quick { 100_000 } else { 500_000 });
        let row = |mode: &str, n: u64, d: Duration| {
            println!("| {size} B | {mode} | {} |", rate(n, n * rec as u64, d));
        };
        let d = raw(&a.dir, rec, n, 256);
        row("raw write+fdatasync, 256 records/batch", n, d);
        let d = raw(&a.dir, rec, n, ((1usize << 20) / rec).max(1));
        row("raw write+fdatasync, 1 MiB/batch", n, d);
        let d = append(&a.dir, size, n, SyncPolicy::Always, 4, 64);
        row("always, 4 appenders x 64 in flight", n, d);
        let d = append(&a.dir, size, n, SyncPolicy::Always, 8, 512);
        row("always, 8 appenders x 512 in flight", n, d);
        // One message in flight per appender is fsync-latency bound: fewer messages.
        let n1 = n.min(20_000);
        let d = append(&a.dir, size, n1, SyncPolicy::Always, 16, 1);
        row("always, 16 appenders x 1 in flight", n1, d);
        let d = append(
            &a.dir,
            size,
            n,
            SyncPolicy::Interval(Duration::from_secs(1)),
            1,
            1,
        );
        row("interval 1s, 1 appender", n, d);
    }
}

fn fill(dir: &Path, n: u64, size: usize) {
    let cfg = StoreConfig {
        sync: SyncPolicy::Interval(Duration::from_secs(5)),
        ..StoreConfig::default()
    };
    let s = FileStore::open(fresh(dir), cfg).unwrap();
    let payload = vec![3u8; size];
    for i in 0..n {
        let subj = format!("fill.{}", i % 10);
        let _ = s.append(subj.as_bytes(), b"", &payload, i as i64).unwrap();
    }
    s.close().unwrap();
}

fn bench_read(a: &Args) {
    let n = if a.quick { 200_000 } else { 2_000_000 };
    let dir = a.dir.join("read");
    fill(&dir, n, 128);
    let s = FileStore::open(&dir, StoreConfig::default()).unwrap();
    let t = Instant::now();
    let mut bytes = 0u64;
    for seq in 1..=n {
        bytes += s.get(seq).unwrap().payload.len() as u64;
    }
    println!(
        "| read | sequential get, 128 B | {} |",
        rate(n, bytes, t.elapsed())
    );
    let f = SubjectFilter::new("fill.3");
    let t = Instant::now();
    let (mut seq, mut hits) = (1u64, 0u64);
    while let Some(m) = s.next_matching(seq, &f).unwrap() {
        hits += 1;
        seq = m.seq + 1;
    }
    println!(
        "| read | next_matching literal (1 in 10) | {} |",
        rate(hits, hits * 128, t.elapsed())
    );
    let f = SubjectFilter::new("fill.*");
    let t = Instant::now();
    let (mut seq, mut hits) = (1u64, 0u64);
    while let Some(m) = s.next_matching(seq, &f).unwrap() {
        hits += 1;
        seq = m.seq + 1;
    }
    println!(
        "| read | next_matching wildcard (all) | {} |",
        rate(hits, hits * 128, t.elapsed())
    );
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn bench_open(a: &Args) {
    for n in &a.open {
        let dir = a.dir.join(format!("open{n}"));
        fill(&dir, *n, 16);
        let before = rss_kib();
        let t = Instant::now();
        let s = FileStore::open(&dir, StoreConfig::default()).unwrap();
        let d = t.elapsed();
        let st = s.state(false);
        assert_eq!(st.msgs, *n);
        println!(
            "| open | {n} msgs of 16 B | {:.3} s, RSS +{} MiB |",
            d.as_secs_f64(),
            rss_kib().saturating_sub(before) / 1024
        );
        drop(s);
        // After a crash there is no checkpoint of the active segment: the
        // whole active segment (up to 64 MiB) is scanned.
        let last_idx = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .max();
        if let Some(p) = last_idx {
            std::fs::remove_file(p).unwrap();
        }
        let t = Instant::now();
        let s = FileStore::open(&dir, StoreConfig::default()).unwrap();
        let d = t.elapsed();
        assert_eq!(s.state(false).msgs, *n);
        println!(
            "| open | {n} msgs of 16 B, after crash (active segment rescanned) | {:.3} s |",
            d.as_secs_f64()
        );
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Consumer state: one delivery and one ack per message, `sync()` (write +
/// fdatasync) every 1000 messages, as a server flushing every few ms would.
fn bench_consumer(a: &Args) {
    let n: u64 = if a.quick { 200_000 } else { 1_000_000 };
    let dir = fresh(&a.dir.join("consumer"));
    let c = nile_engine::ConsumerStore::open(&dir, "c").unwrap();
    let t = Instant::now();
    for i in 1..=n {
        c.update_delivered(i, i, 1, i as i64).unwrap();
        c.update_acks(i, i).unwrap();
        if i % 1000 == 0 {
            c.sync().unwrap();
        }
    }
    c.sync().unwrap();
    let d = t.elapsed();
    let ops = n as f64 / d.as_secs_f64();
    println!("| consumer | deliver+ack, sync every 1000 | {ops:>10.0} acks/s |");
}

fn main() {
    let a = args();
    let run = |name: &str| a.only.as_deref().is_none_or(|o| o == name);
    if run("append") {
        bench_append(&a);
    }
    if run("read") {
        bench_read(&a);
    }
    if run("open") {
        bench_open(&a);
    }
    if run("consumer") {
        bench_consumer(&a);
    }
    let _ = std::fs::remove_dir_all(&a.dir);
}
