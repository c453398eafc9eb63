//! `compare`: nats-server against Nile on loopback, alternating runs
//! (Nile, nats-server, Nile, nats-server, ...) so that drift in machine load
//! hits both alike, each run on a freshly started server with an empty store.

mod doc;
mod doc_svg;
mod plan;
mod server;
mod summary;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::progress::Progress;
use crate::scenarios::{self, Scenario};
use plan::Case;
use server::{Kind, Memory, Server};
use summary::{CaseResult, Sample, Side};

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// nats-server binary (benches/compare.sh finds or installs one).
    #[arg(long, default_value = "nats-server")]
    pub nats_server: PathBuf,
    /// Nile binary; when missing, Nile's side is reported as skipped.
    #[arg(long, default_value = "target/release/nile")]
    pub nile: PathBuf,
    /// Scenarios to run (default: all), comma separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// Nile/nats-server pairs per case.
    #[arg(long, default_value_t = 3)]
    pub pairs: usize,
    /// Multiplies every case's message count (0.05 for a quick look).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seconds one run may take before it counts as failed.
    #[arg(long, default_value_t = 180)]
    pub run_timeout: u64,
    /// Where servers keep their stores and logs (wiped per run).
    #[arg(long, default_value = "/tmp/nile-bench-compare")]
    pub work_dir: PathBuf,
    /// The Markdown report to write; `-` for none.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub doc: String,
    /// The ratio chart (SVG) the report links to.
    #[arg(long, default_value = "benches/results/ratios.svg")]
    pub svg: PathBuf,
    /// Raw samples as JSON.
    #[arg(long, default_value = "benches/results/compare.json")]
    pub raw: PathBuf,
    /// The command line to print in the report (compare.sh passes its own).
    #[arg(long)]
    pub invoked_as: Option<String>,
}

pub async fn run(a: &CompareArgs) -> i32 {
    if a.pairs == 0 {
        eprintln!("nile-bench compare: --pairs must be at least 1");
        return 2;
    }
    if !a.nats_server.exists() && which(&a.nats_server).is_none() {
        eprintln!(
            "nile-bench compare: no nats-server at {} (benches/compare.sh installs one)",
            a.nats_server.display()
        );
        return 3;
    }
    let nats_bin = which(&a.nats_server).unwrap_or_else(|| a.nats_server.clone());
    let nile_bin = which(&a.nile);
    let chosen: Vec<Scenario> = if a.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        a.scenarios.clone()
    };
    let cases = plan::cases(&chosen, a.scale);
    let load_before = doc::load_average();
    let mut results = Vec::new();
    for case in &cases {
        let mut nile = Side::default();
        let mut nats = Side::default();
        if nile_bin.is_none() {
            nile.skipped = Some(format!("no Nile binary at {}", a.nile.display()));
        }
        for pair in 0..a.pairs {
            for (kind, side) in [(Kind::Nile, &mut nile), (Kind::Nats, &mut nats)] {
                if side.skipped.is_some() {
                    continue;
                }
                let bin = match kind {
                    Kind::Nile => nile_bin.clone().expect("checked above"),
                    Kind::Nats => nats_bin.clone(),
                };
                match run_once(a, kind, &bin, case).await {
                    Ok(s) => side.samples.push(s),
                    Err(why) => side.skipped = Some(why),
                }
            }
            eprintln!(
                "[{} {}] pair {}/{}: {}",
                case.label,
                case.mode.name(),
                pair + 1,
                a.pairs,
                summary::pair_line(&nile, &nats)
            );
        }
        results.push(CaseResult {
            case: case.clone(),
            nile,
            nats,
        });
    }
    let rows = summary::rows(&results);
    print!("{}", summary::text_table(&rows));
    let ctx = doc::Context {
        nats_version: server::version(&nats_bin),
        nats_bin,
        nile_bin,
        load_before,
        args: a.clone(),
    };
    if let Err(e) = doc::write_all(&ctx, &results, &rows) {
        eprintln!("nile-bench compare: cannot write the report: {e}");
        return 1;
    }
    0
}

/// One run: a fresh server, one scenario, the server's memory, then kill it.
async fn run_once(a: &CompareArgs, kind: Kind, bin: &Path, case: &Case) -> Result<Sample, String> {
    let mut server = Server::start(kind, bin, case.mode, &a.work_dir)
        .map_err(|e| format!("{} did not start: {e}", kind.name()))?;
    let args = case.args(&server.url);
    let limit = Duration::from_secs(a.run_timeout);
    let outcome = tokio::time::timeout(
        limit,
        scenarios::run(case.scenario, &args, &Progress::hidden()),
    )
    .await;
    let mem: Memory = server.memory();
    if !server.alive() {
        return Err(format!("{} crashed: {}", kind.name(), server.log_tail()));
    }
    let report = match outcome {
        Err(_) => return Err(format!("run took over {} s", a.run_timeout)),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(r)) => r,
    };
    let row = report
        .row(case.scenario.headline_role())
        .ok_or_else(|| "no result row".to_string())?;
    Ok(Sample {
        msgs_per_sec: row.msgs_per_sec,
        p50_us: row.latency.as_ref().map(|l| l.p50_us),
        mem,
    })
}

/// Resolves a bare program name through PATH, like a shell would.
fn which(p: &PathBuf) -> Option<PathBuf> {
    if p.components().count() > 1 || p.is_absolute() {
        return p.exists().then(|| p.clone());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(p))
            .find(|c| c.is_file())
    })
}
