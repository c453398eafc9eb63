//! `nile`: start the broker. Takes nats-server's flags and config file.

use nile_server::config::{self, Command};
use nile_server::server::NATS_VERSION;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exe = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    let rest = args.get(1..).unwrap_or(&[]).to_vec();
    if rest.first().is_some_and(|a| a == "import-nats") {
        std::process::exit(nile_server::import_nats::main(&rest[1..]));
    }
    let cmd = match config::load(&exe, &rest) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("nile: {e}");
            std::process::exit(1);
        }
    };
    match cmd {
        Command::Version => println!(
            "nats-server: v{NATS_VERSION} (nile v{})",
            env!("CARGO_PKG_VERSION")
        ),
        Command::Help => println!("{}", config::usage(&exe)),
        Command::TestConfig => println!("nile: configuration file is valid"),
        Command::Signal { signal, pid } => std::process::exit(send_signal(&exe, &signal, pid)),
        Command::Run(opts) => run(*opts, exe, rest),
    }
}

fn run(opts: nile_server::options::Options, exe: String, args: Vec<String>) {
    if let Err(e) = nile_server::logging::init(&opts.log) {
        eprintln!("nile: cannot open log: {e}");
        std::process::exit(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nile: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async move {
        let running = match nile_server::start::start(opts).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("nile: {e}");
                std::process::exit(1);
            }
        };
        running
            .wait_for_signals(|| match config::load(&exe, &args) {
                Ok(Command::Run(o)) => Some(*o),
                Ok(_) => None,
                Err(e) => {
                    tracing::error!("{e}");
                    None
                }
            })
            .await;
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
}

/// `--signal <sig>[=<pid>]`: as nats-server, find the server by name when no pid is given.
fn send_signal(exe: &str, signal: &str, pid: Option<i32>) -> i32 {
    let sig = match signal {
        "ldm" => libc::SIGUSR2,
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        other => {
            eprintln!("nile: unknown signal {other:?}");
            return 1;
        }
    };
    let pids = match pid {
        Some(p) => vec![p],
        None => find_pids(exe),
    };
    if pids.len() != 1 {
        eprintln!(
            "nile: expected one running {exe} process, found {}; give =<pid>",
            pids.len()
        );
        return 1;
    }
    // SAFETY: kill(2) with a pid and a valid signal number has no memory effects.
    let rc = unsafe { libc::kill(pids[0], sig) };
    if rc != 0 {
        eprintln!(
            "nile: signal {signal} to {}: {}",
            pids[0],
            std::io::Error::last_os_error()
        );
        return 1;
    }
    0
}

fn find_pids(exe: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| *p != me)
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == exe)
        })
        .collect()
}
