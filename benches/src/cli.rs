//! Command line: one subcommand per scenario, plus `compare`.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::compare::CompareArgs;
use crate::scenarios::Scenario;

#[derive(Parser, Debug)]
#[command(
    name = "nile-bench",
    version,
    about = "Load generator for Nile and any NATS server (in the spirit of `nats bench`).",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 cannot connect, 4 auth failure, \
                  5 stream/bucket missing, 6 JetStream unavailable, 7 timed out."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Core publish: P publishers, fire and forget, then flush.
    Pub(BenchArgs),
    /// Core pub/sub: P publishers, S subscribers each receiving every message.
    Pubsub(BenchArgs),
    /// Request/reply: P requesters one request at a time, S responders (queue group).
    Req(BenchArgs),
    /// JetStream publish, awaiting each ack before the next publish.
    JsPub(BenchArgs),
    /// JetStream publish with up to --window acks in flight per publisher.
    JsPubAsync(BenchArgs),
    /// Pull consume with explicit acks, --batch messages per fetch, S consumers.
    JsPull(BenchArgs),
    /// Push consume with explicit acks (deliver group when S > 1).
    JsPush(BenchArgs),
    /// Ordered consumer replay of the whole stream (no acks).
    JsOrdered(BenchArgs),
    /// KV put, awaiting each ack, P writers.
    KvPut(BenchArgs),
    /// KV get of existing keys, P readers.
    KvGet(BenchArgs),
    /// Run scenarios against nats-server and Nile, A B A B, and write the ratio table.
    Compare(CompareArgs),
}

impl Command {
    /// The scenario and its flags, or None for `compare`.
    pub fn scenario(&self) -> Option<(Scenario, &BenchArgs)> {
        let s = match self {
            Command::Pub(a) => (Scenario::Pub, a),
            Command::Pubsub(a) => (Scenario::Pubsub, a),
            Command::Req(a) => (Scenario::Req, a),
            Command::JsPub(a) => (Scenario::JsPub, a),
            Command::JsPubAsync(a) => (Scenario::JsPubAsync, a),
            Command::JsPull(a) => (Scenario::JsPull, a),
            Command::JsPush(a) => (Scenario::JsPush, a),
            Command::JsOrdered(a) => (Scenario::JsOrdered, a),
            Command::KvPut(a) => (Scenario::KvPut, a),
            Command::KvGet(a) => (Scenario::KvGet, a),
            Command::Compare(_) => return None,
        };
        Some(s)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Storage {
    File,
    Memory,
}

/// Connection flags, shared by the scenarios and `compare`.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Server URL. Nile's default port is 6666 (nats-server's is 4222).
    #[arg(long, default_value = "nats://127.0.0.1:6666")]
    pub url: String,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    #[arg(long, conflicts_with_all = ["user", "password"])]
    pub token: Option<String>,
}

/// Flags of one scenario run.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Payload bytes per message (latency stamps need at least 8).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Messages in total (split across publishers; each subscriber gets all).
    #[arg(long, default_value_t = 100_000)]
    pub msgs: u64,
    /// Publishers / requesters / KV clients, each on its own connection.
    #[arg(long, default_value_t = 1)]
    pub pubs: usize,
    /// Subscribers / responders / consumers, each on its own connection.
    #[arg(long, default_value_t = 1)]
    pub subs: usize,
    /// Acks in flight per publisher (js-pub-async; also used to prefill streams).
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Messages per pull request (js-pull).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Storage of the stream or bucket the run creates.
    #[arg(long, value_enum, default_value_t = Storage::File)]
    pub storage: Storage,
    /// Stream name (JetStream scenarios).
    #[arg(long, default_value = "benchstream")]
    pub stream: String,
    /// KV bucket name (kv scenarios).
    #[arg(long, default_value = "benchkv")]
    pub bucket: String,
    /// Subject (or subject prefix with --subjects > 1).
    #[arg(long, default_value = "bench")]
    pub subject: String,
    /// Spread JetStream publishes over this many subjects: SUBJECT.0 .. SUBJECT.N-1.
    #[arg(long, default_value_t = 1)]
    pub subjects: u64,
    /// Distinct KV keys (0: one per message).
    #[arg(long, default_value_t = 0)]
    pub keys: u64,
    /// Use the existing stream/bucket as is: don't create, purge or prefill it.
    #[arg(long)]
    pub existing: bool,
    /// Give up after this many seconds without progress.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Print the result as JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the result as CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// No progress line on stderr (it is off anyway when stderr is not a tty).
    #[arg(long)]
    pub no_progress: bool,
}
