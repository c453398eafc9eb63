//! Fills a store and times `FileStore::open` (used while tuning recovery).
//! cargo run --release -p nile-engine --example open_probe -- DIR N [expiring]
//! With `expiring`, every message has an expiry time (an hour ahead), which
//! opening reads back from each record.
use nile_engine::{FileStore, StoreConfig, StreamStore, SyncPolicy};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = std::env::args().skip(1);
    let dir = a.next().unwrap_or_else(|| "/tmp/nile-open-probe".into());
    let n: u64 = a.next().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let expires = (a.next().as_deref() == Some("expiring"))
        .then(|| nile_engine::file::now_ns() + 3_600_000_000_000);
    if std::fs::metadata(&dir).is_err() {
        let cfg = StoreConfig {
            sync: SyncPolicy::Interval(Duration::from_secs(5)),
            ..StoreConfig::default()
        };
        let s = FileStore::open(&dir, cfg)?;
        for i in 0..n {
            let _ = s.append_expiring(
                format!("fill.{}", i % 10).as_bytes(),
                b"",
                &[3u8; 16],
                i as i64,
                expires,
            )?;
        }
        s.close()?;
    }
    for _ in 0..3 {
        let t = Instant::now();
        let s = FileStore::open(&dir, StoreConfig::default())?;
        println!("open {} msgs: {:?}", s.state(false).msgs, t.elapsed());
    }
    Ok(())
}
