//! nile-bench: a load generator for Nile and any NATS server, driving it
//! through async-nats like a real application would.

mod cli;
mod compare;
mod conn;
mod error;
mod payload;
mod progress;
mod report;
mod scenarios;
mod stats;

use clap::Parser;

/// A thread-caching allocator: async-nats allocates each received message on
/// its connection task and the subscriber frees it on another thread, and
/// under glibc's malloc those frees contend on an arena lock that took most
/// of the client's futex calls (docs/profiles.md, fifth round). The load
/// generator should measure the servers, not its allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{BenchArgs, Cli, Command};
use crate::progress::Progress;
use crate::scenarios::Scenario;

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async {
        match &cli.command {
            Command::Compare(args) => compare::run(args).await,
            cmd => {
                let (scenario, args) = cmd.scenario().expect("not compare");
                run_one(scenario, args).await
            }
        }
    });
    // Don't wait for client tasks still draining sockets.
    runtime.shutdown_background();
    std::process::exit(code);
}

async fn run_one(scenario: Scenario, args: &BenchArgs) -> i32 {
    let progress = Progress::new(!args.no_progress);
    match scenarios::run(scenario, args, &progress).await {
        Ok(report) => {
            if args.json {
                println!("{}", report.json());
            } else if args.csv {
                print!("{}", report.csv());
            } else {
                print!("{}", report.table());
            }
            0
        }
        Err(e) => {
            eprintln!("nile-bench {}: {e}", scenario.name());
            e.exit_code()
        }
    }
}
