//! Starting and stopping the servers under test, and reading their memory.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::plan::Mode;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Nile,
    Nats,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nile => "nile",
            Kind::Nats => "nats-server",
        }
    }
}

/// A server we started; killed and its store removed on drop.
pub struct Server {
    child: Child,
    dir: PathBuf,
    pub url: String,
    pub log: PathBuf,
}

/// Memory of a server process, KiB, from /proc/<pid>/status.
#[derive(Copy, Clone, Debug, Default)]
pub struct Memory {
    /// VmHWM: the peak resident set over the process's life.
    pub peak_kib: u64,
    /// VmRSS: resident now (after the run).
    pub now_kib: u64,
}

/// A port the kernel says is free right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The command line that starts `kind` on `port` with its store in `dir`.
/// Both take nats-server's flags; fsync-always for nats-server needs a config.
pub fn command_line(kind: Kind, bin: &Path, mode: Mode, port: u16, dir: &Path) -> Vec<String> {
    let mut argv = vec![bin.display().to_string()];
    let flags = ["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"];
    argv.extend(flags.iter().map(|s| s.to_string()));
    argv.push(dir.join("store").display().to_string());
    if kind == Kind::Nats && mode == Mode::Always {
        argv.push("-c".into());
        argv.push(dir.join("sync.conf").display().to_string());
    }
    argv
}

impl Server {
    pub fn start(kind: Kind, bin: &Path, mode: Mode, work: &Path) -> Result<Server, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let dir = work.join(format!("{}-{port}", kind.name()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        fs::write(
            dir.join("sync.conf"),
            "jetstream { sync_interval: always }\n",
        )
        .map_err(|e| format!("write config: {e}"))?;
        let log = dir.join("server.log");
        let out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let argv = command_line(kind, bin, mode, port, &dir);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = Server {
            child,
            dir,
            url: format!("nats://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready(port)?;
        Ok(server)
    }

    /// Ready when the port accepts; a server that exits instead is reported
    /// with the tail of its log, so "Nile cannot do this yet" is readable.
    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status}): {}", self.log_tail()));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("not listening after 15 s: {}", self.log_tail()))
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    pub fn memory(&self) -> Memory {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()));
        let field = |name: &str| {
            status.as_deref().ok().and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
        };
        Memory {
            peak_kib: field("VmHWM:").unwrap_or(0),
            now_kib: field("VmRSS:").unwrap_or(0),
        }
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only this child, by its pid; the store goes with it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `nats-server --version` or similar, for the report.
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let out = String::from_utf8_lossy(&o.stdout);
            // "nats-server: v2.15.1" -> "v2.15.1"
            out.trim().rsplit(": ").next().unwrap_or("").to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
