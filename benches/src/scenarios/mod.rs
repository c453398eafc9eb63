//! The scenarios, one file each, and what they share.

use std::time::Duration;

use clap::ValueEnum;
use tokio::task::JoinHandle;

use crate::cli::BenchArgs;
use crate::error::{BenchError, Result};
use crate::progress::Progress;
use crate::report::Report;

mod core_pub;
mod js_ordered;
mod js_pub;
pub mod js_pub_async;
mod js_pull;
mod js_push;
pub mod js_setup;
mod kv_get;
mod kv_put;
mod pubsub;
mod req;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Scenario {
    Pub,
    Pubsub,
    Req,
    JsPub,
    JsPubAsync,
    JsPull,
    JsPush,
    JsOrdered,
    KvPut,
    KvGet,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pub => "pub",
            Scenario::Pubsub => "pubsub",
            Scenario::Req => "req",
            Scenario::JsPub => "js-pub",
            Scenario::JsPubAsync => "js-pub-async",
            Scenario::JsPull => "js-pull",
            Scenario::JsPush => "js-push",
            Scenario::JsOrdered => "js-ordered",
            Scenario::KvPut => "kv-put",
            Scenario::KvGet => "kv-get",
        }
    }

    /// Core scenarios need no JetStream, so durability settings don't matter.
    pub fn is_core(self) -> bool {
        matches!(self, Scenario::Pub | Scenario::Pubsub | Scenario::Req)
    }

    /// The summary row whose numbers represent the scenario.
    pub fn headline_role(self) -> &'static str {
        match self {
            Scenario::Pub | Scenario::JsPub | Scenario::JsPubAsync | Scenario::KvPut => "pub",
            Scenario::Pubsub => "sub",
            Scenario::Req => "req",
            Scenario::JsPull | Scenario::JsPush | Scenario::JsOrdered => "sub",
            Scenario::KvGet => "get",
        }
    }
}

/// Runs one scenario and returns its summary.
pub async fn run(s: Scenario, a: &BenchArgs, progress: &Progress) -> Result<Report> {
    if a.msgs == 0 {
        return Err(BenchError::Other("--msgs must be at least 1".into()));
    }
    if a.pubs == 0 || a.subs == 0 || a.window == 0 || a.batch == 0 || a.subjects == 0 {
        return Err(BenchError::Other(
            "--pubs, --subs, --window, --batch and --subjects must be at least 1".into(),
        ));
    }
    let rows = match s {
        Scenario::Pub => core_pub::run(a, progress).await?,
        Scenario::Pubsub => pubsub::run(a, progress).await?,
        Scenario::Req => req::run(a, progress).await?,
        Scenario::JsPub => js_pub::run(a, progress).await?,
        Scenario::JsPubAsync => js_pub_async::run(a, progress).await?,
        Scenario::JsPull => js_pull::run(a, progress).await?,
        Scenario::JsPush => js_push::run(a, progress).await?,
        Scenario::JsOrdered => js_ordered::run(a, progress).await?,
        Scenario::KvPut => kv_put::run(a, progress).await?,
        Scenario::KvGet => kv_get::run(a, progress).await?,
    };
    Ok(Report::new(s.name(), a, rows))
}

/// Client `i`'s share of `total` when split over `n` clients.
pub fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

/// The first index of client `i`'s share, so clients cover disjoint ranges.
pub fn share_start(total: u64, n: usize, i: usize) -> u64 {
    (0..i).map(|j| share(total, n, j)).sum()
}

/// Waits for every client task; the first failure wins.
pub async fn join_all<T>(handles: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let r = h
            .await
            .map_err(|e| BenchError::Other(format!("client task failed: {e}")))?;
        out.push(r?);
    }
    Ok(out)
}

/// The no-progress timeout of a run.
pub fn idle(a: &BenchArgs) -> Duration {
    Duration::from_secs(a.timeout.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_total() {
        for (total, n) in [(10, 3), (3, 5), (100, 1), (7, 7)] {
            let sum: u64 = (0..n).map(|i| share(total, n, i)).sum();
            assert_eq!(sum, total);
            assert_eq!(share_start(total, n, n - 1) + share(total, n, n - 1), total);
        }
    }
}
