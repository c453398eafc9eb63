//! Helpers to start a real Nile process for end-to-end tests.
//!
//! Each test starts its own `nile` binary on a random port (`-p -1`) with its
//! own store directory, finds the port from the log line nats-server prints
//! (`Listening for client connections on <host>:<port>`), and kills the
//! process when the [`Nile`] value is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tests run against nats-server itself (`NILE_BIN=.../nats-server`),
/// for the few checks where Nile deliberately differs.
pub fn is_nats_server() -> bool {
    nile_bin()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("nats-server"))
}

/// Path of the `nile` binary for this workspace, built once per test process
/// so that a plain `cargo test` always runs the current server code.
pub fn nile_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("NILE_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test exe path");
        // target/<profile>/deps/<test> → target/<profile>/nile
        let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
        let target_dir = profile_dir.parent().expect("target dir");
        // A target dir of its own: building `-p nile-server` beside the outer
        // `cargo test` would unify features differently and make the two
        // rebuild each other's artifacts on every run.
        let harness_dir = target_dir.join("harness");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args(["build", "-q", "-p", "nile-server", "--bin", "nile"])
            .env("CARGO_TARGET_DIR", &harness_dir);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build for nile");
        assert!(status.success(), "cargo build -p nile-server failed");
        harness_dir
            .join(if release { "release" } else { "debug" })
            .join("nile")
    })
    .clone()
}

pub struct Nile {
    child: Child,
    pub port: u16,
    pub http_port: Option<u16>,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    log_offset: usize,
}

impl Nile {
    /// Start with `-p -1`, a fresh store dir, a log file, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Nile {
        Self::start_in(tempfile::tempdir().expect("tempdir"), extra)
    }

    /// Start with a given directory (kept across restarts by the caller).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Nile {
        let log = dir.path().join("nile.log");
        // A restart appends to the same log: only lines after this offset count.
        let log_offset = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let store = dir.path().join("store");
        let mut args: Vec<String> = vec!["-a", "127.0.0.1", "-p", "-1", "-l"]
            .into_iter()
            .map(String::from)
            .collect();
        args.push(log.display().to_string());
        args.push("-sd".into());
        args.push(store.display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(nile_bin())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nile (run `cargo build` first)");
        let mut nile = Nile {
            child,
            port: 0,
            http_port: None,
            dir,
            log,
            log_offset,
        };
        nile.port = nile
            .wait_for_log_port("client connections on")
            .expect("nile did not start");
        nile.http_port = nile.find_log_port("Starting http monitor on");
        nile
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn find_log_port(&self, marker: &str) -> Option<u16> {
        let text = self.log_text();
        let text = text.get(self.log_offset..).unwrap_or("");
        let line = text.lines().find(|l| l.contains(marker))?;
        line.rsplit(':').next()?.trim().parse().ok()
    }

    fn wait_for_log_port(&mut self, marker: &str) -> Option<u16> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(p) = self.find_log_port(marker) {
                return Some(p);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nile exited early: {status}\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal (e.g. `libc::SIGTERM` as 15) and wait for exit.
    pub fn signal_and_wait(&mut self, sig: i32) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kill -9 and hand back the directory for a restart.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// A raw TCP client that has read the INFO line.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for Nile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain socket speaking the protocol by hand, for byte-exact checks.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub info: serde_json::Value,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("INFO line");
        let json = line
            .strip_prefix("INFO ")
            .expect("first line is INFO")
            .trim();
        let info = serde_json::from_str(json).expect("INFO json");
        Raw {
            stream,
            reader,
            info,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Read one line, CRLF included.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read line");
        line
    }

    /// Read exactly `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("read bytes");
        buf
    }

    /// Send, then read until the PONG that answers a trailing PING; returns all before it.
    pub fn roundtrip(&mut self, bytes: &[u8]) -> String {
        self.send(bytes);
        self.send(b"PING\r\n");
        let mut out = String::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                out.push_str("<EOF>");
                return out;
            }
            if line == "PONG\r\n" {
                return out;
            }
            out.push_str(&line);
        }
    }

    /// Read everything until the server closes the connection.
    pub fn until_close(&mut self) -> String {
        let mut out = Vec::new();
        let _ = self.reader.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Nile {
    /// Start with a config file holding `config` (written into the test's own
    /// directory as `nile.conf`), plus `extra` flags. Flags win over the file.
    pub fn start_with_config(config: &str, extra: &[&str]) -> Nile {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nile.conf");
        std::fs::write(&path, config).expect("write config");
        let path = path.display().to_string();
        let mut args = vec!["-c", path.as_str()];
        args.extend_from_slice(extra);
        Self::start_in(dir, &args)
    }

    /// A raw client that has sent `CONNECT <json>` and seen the PONG of a PING after it.
    pub fn raw_connected(&self, connect_json: &str) -> Raw {
        let mut raw = self.raw();
        let got = raw.roundtrip(format!("CONNECT {connect_json}\r\n").as_bytes());
        assert_eq!(got, "", "CONNECT {connect_json} answered {got:?}");
        raw
    }

    /// Panics unless a fresh client can connect, subscribe and get its own message
    /// back byte for byte: the server is alive after whatever a test did to it.
    pub fn assert_serves(&self) {
        self.assert_serves_with(r#"{"verbose":false,"pedantic":false}"#);
    }

    /// [`Nile::assert_serves`] with the given CONNECT JSON (for servers with auth).
    pub fn assert_serves_with(&self, connect_json: &str) {
        let mut raw = self.raw_connected(connect_json);
        let got = raw.roundtrip(b"SUB health.check 1\r\nPUB health.check 2\r\nok\r\n");
        assert_eq!(
            got, "MSG health.check 1 2\r\nok\r\n",
            "server stopped serving"
        );
    }
}

impl Raw {
    /// Read until the server closes the socket or `timeout` passes. The text read,
    /// then `<EOF>` when the server closed it (or `<RESET>`), or `<OPEN>` if it stayed open.
    pub fn read_for(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        let end = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break "<OPEN>";
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.reader.read(&mut buf) {
                Ok(0) => break "<EOF>",
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break "<OPEN>"
                }
                Err(_) => break "<RESET>",
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push_str(end);
        text
    }

    /// Send `bytes`, then read until the server closes (at most 5 s): what it said before closing,
    /// followed by `<EOF>` / `<RESET>`, or `<OPEN>` if it did not close.
    pub fn send_until_close(&mut self, bytes: &[u8]) -> String {
        self.send(bytes);
        self.read_for(Duration::from_secs(5))
    }
}
