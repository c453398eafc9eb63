//! Command line and config file → [`Options`].
//!
//! nats-server's flags (Go style: `-js`, `-sd=DIR`, `--port 4222`) and its
//! config-file syntax. Flags override the file.
//!
//! Differences from nats-server, on purpose:
//! * the client port defaults to 6666 (Memphis's), also when other flags are given; with no
//!   arguments at all Nile also turns on JetStream and monitoring on 8222 (zero-config), while
//!   any argument switches to nats-server's defaults (JetStream and monitoring off);
//! * `-js` without `-sd` stores data in `./nile-data`, where nats-server uses
//!   `<tmp>/nats/jetstream`: Nile is a durable broker, so data outlives a reboot by default;
//! * `authorization { token, users }` together are allowed (Memphis's `<user>::<token>` login);
//! * `max_payload` above 64 MiB is refused when the file is read, not at listen time;
//! * config keys and flags for features Nile lacks (cluster, TLS, websocket, leafnodes, ...) are
//!   accepted and reported in [`Options::warnings`] instead of being acted on.
//!
//! `parser` turns text into a tree (no I/O: includes and environment variables come through
//! [`parser::Env`]); `keys` maps the tree onto [`Options`]; `flags` reads the command line.

pub mod duration;
pub mod flags;
pub mod keys;
pub mod parser;
mod shares;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::options::{Options, Port, User};
use flags::Flags;

/// What the command line asks Nile to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server with these options.
    Run(Box<Options>),
    /// `-v/--version`: print `nats-server: v<version>` style line and exit.
    Version,
    /// `-h/--help`: print usage and exit.
    Help,
    /// `-t`: the config was checked; exit 0.
    TestConfig,
    /// `--signal <sig>[=<pid>]`: send a signal to a running server and exit.
    /// `pid` is `None` when not given (nats-server then looks the process up by name).
    Signal { signal: String, pid: Option<i32> },
}

/// A config problem, worded to name the file, line and key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Usage(String),
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: key {key:?}: {message}")]
    Key {
        file: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

/// The signals `--signal` knows (nats-server's list).
pub const SIGNALS: &[&str] = &["ldm", "stop", "quit", "term", "reopen", "reload"];

/// Parse `args` (without argv[0]); `exe_name` is argv[0]'s base name.
pub fn load(exe_name: &str, args: &[String]) -> Result<Command, ConfigError> {
    let mut opts = Options {
        exe_name: exe_name.to_string(),
        ..Options::default()
    };
    if args.is_empty() {
        opts.zero_config = true;
        opts.jetstream.enabled = true;
        opts.http_port = Some(Port::Fixed(crate::options::HTTP_PORT_DEFAULT));
        return Ok(Command::Run(Box::new(opts)));
    }
    let flags = flags::parse_flags(args)?;
    // Go's flag parsing finishes first, so a bad flag wins over -v; then -v over -h.
    if flags.version {
        return Ok(Command::Version);
    }
    if flags.help {
        return Ok(Command::Help);
    }
    if let Some(signal) = &flags.signal {
        return parse_signal(signal);
    }
    if flags.check && flags.config.is_none() {
        return Err(ConfigError::Usage(
            "must specify [-c, --config] option to check configuration file syntax".into(),
        ));
    }
    let mut mapper = keys::Mapper::default();
    if let Some(file) = &flags.config {
        load_file(Path::new(file), &mut mapper, &mut opts)?;
        opts.config_file = Some(PathBuf::from(file));
    }
    if flags.check {
        return Ok(Command::TestConfig);
    }
    opts.warnings = mapper.warnings.clone();
    apply_flags(&flags, mapper.single_user, &mut opts)?;
    check_trust(&mut opts)?;
    Ok(Command::Run(Box::new(opts)))
}

/// `--tls`, `--tlsverify` (implies `--tls`), `--tlscert`, `--tlskey`, `--tlscacert`:
/// they override the config file's `tls` block field by field.
fn apply_tls_flags(flags: &Flags, opts: &mut Options) -> Result<(), ConfigError> {
    let verify = flags.tls_verify == Some(true);
    let wanted = flags.tls == Some(true) || verify || opts.tls.is_some();
    if !wanted {
        return Ok(());
    }
    let mut tls = opts
        .tls
        .clone()
        .unwrap_or_else(|| crate::options::TlsOptions {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            ca_file: None,
            verify: false,
            timeout: crate::options::TLS_TIMEOUT_DEFAULT,
            handshake_first: crate::options::HandshakeFirst::No,
        });
    if let Some(c) = &flags.tls_cert {
        tls.cert_file = PathBuf::from(c);
    }
    if let Some(k) = &flags.tls_key {
        tls.key_file = PathBuf::from(k);
    }
    if let Some(ca) = &flags.tls_ca_cert {
        tls.ca_file = Some(PathBuf::from(ca));
    }
    tls.verify |= verify;
    if tls.cert_file.as_os_str().is_empty() || tls.key_file.as_os_str().is_empty() {
        return Err(ConfigError::Usage(
            "TLS Server certificate must be present and valid".into(),
        ));
    }
    if let Err(e) = crate::tls::acceptor(&tls) {
        return Err(ConfigError::Usage(format!("error parsing TLS config: {e}")));
    }
    opts.tls = Some(tls);
    Ok(())
}

/// Operator mode: the operator JWTs must verify and a resolver must be there.
fn check_trust(opts: &mut Options) -> Result<(), ConfigError> {
    let Some(trust) = &opts.auth.trust else {
        return Ok(());
    };
    if trust.operators.is_empty() {
        return Err(ConfigError::Usage(
            "resolver_preload requires an operator".into(),
        ));
    }
    match crate::auth::Authenticator::new(&opts.auth) {
        Ok((_, warnings)) => {
            opts.warnings.extend(warnings);
            Ok(())
        }
        Err(e) => Err(ConfigError::Usage(format!("operator: {e}"))),
    }
}

/// Read, parse and apply one config file.
pub fn load_file(
    path: &Path,
    mapper: &mut keys::Mapper,
    opts: &mut Options,
) -> Result<(), ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        file: name.clone(),
        message: format!("error opening config file: {e}"),
    })?;
    let tree = parse_text(&name, &text, &FsEnv)?;
    mapper.apply(&tree, opts)
}

/// Parse config text with the given environment, turning syntax errors into [`ConfigError`].
pub fn parse_text(
    name: &str,
    text: &str,
    env: &dyn parser::Env,
) -> Result<parser::Map, ConfigError> {
    parser::parse(name, text, env).map_err(|e| ConfigError::Parse {
        file: e.pos.file.to_string(),
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })
}

/// Includes from the file system (relative to the including file) and the process environment.
pub struct FsEnv;

impl parser::Env for FsEnv {
    fn include(&self, from: &str, path: &str) -> Result<(String, String), String> {
        let full = resolve_include(from, path);
        let text = std::fs::read_to_string(&full).map_err(|e| format!("open {path}: {e}"))?;
        Ok((full.display().to_string(), text))
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// `include` paths are relative to the directory of the including file.
pub fn resolve_include(from: &str, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let joined = Path::new(from)
        .parent()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|| path.to_path_buf());
    // Drop `./` parts so error messages name `dir/x.conf`, not `dir/./x.conf`.
    joined
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect()
}

/// `<sig>` or `<sig>=<pid>`, where `<pid>` may also name a pid file (as nats-server allows).
fn parse_signal(value: &str) -> Result<Command, ConfigError> {
    let (signal, pid) = match value.split_once('=') {
        Some((s, p)) => (s, Some(p)),
        None => (value, None),
    };
    if !SIGNALS.contains(&signal) {
        return Err(ConfigError::Usage(format!("unknown signal {signal:?}")));
    }
    let pid = pid.map(read_pid).transpose()?;
    Ok(Command::Signal {
        signal: signal.to_string(),
        pid,
    })
}

fn read_pid(text: &str) -> Result<i32, ConfigError> {
    let from_file = std::fs::read_to_string(text).ok();
    let digits = from_file.as_deref().unwrap_or(text).trim();
    // 0 and negative pids would signal a process group or every process: refuse them.
    match digits.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(ConfigError::Usage(format!("invalid pid: {digits}"))),
    }
}

/// Command-line values override the config file's.
fn apply_flags(
    flags: &Flags,
    single_user: Option<usize>,
    opts: &mut Options,
) -> Result<(), ConfigError> {
    opts.warnings.extend(flags.warnings.iter().cloned());
    apply_tls_flags(flags, opts)?;
    let port = |n: i64, name: &str| {
        keys::port_number(n).map_err(|m| ConfigError::Usage(format!("flag -{name}: {m}")))
    };
    if let Some(host) = &flags.host {
        opts.host = host.clone();
    }
    if let Some(n) = flags.port {
        opts.port = port(n, "port")?.unwrap_or(Options::default().port);
    }
    if let Some(n) = flags.http_port {
        opts.http_port = port(n, "http_port")?;
    }
    if let Some(name) = &flags.server_name {
        opts.server_name = Some(name.clone());
    }
    if let Some(on) = flags.jetstream {
        opts.jetstream.enabled = on;
    }
    if let Some(dir) = &flags.store_dir {
        opts.jetstream.store_dir = PathBuf::from(dir);
    }
    apply_log_flags(flags, opts);
    if let Some(p) = &flags.pid_file {
        opts.pid_file = Some(PathBuf::from(p));
    }
    if let Some(p) = &flags.ports_file_dir {
        opts.ports_file_dir = Some(PathBuf::from(p));
    }
    apply_auth_flags(flags, single_user, opts);
    Ok(())
}

fn apply_log_flags(flags: &Flags, opts: &mut Options) {
    if let Some(f) = &flags.log_file {
        opts.log.file = Some(PathBuf::from(f));
    }
    if let Some(t) = flags.logtime {
        opts.log.time = Some(t);
    }
    if let Some(d) = flags.debug {
        opts.log.debug = d;
    }
    if let Some(t) = flags.trace {
        opts.log.trace = t;
    }
}

/// `--auth` replaces the token; `--user/--pass` replace the file's single user (or add one).
fn apply_auth_flags(flags: &Flags, single_user: Option<usize>, opts: &mut Options) {
    if let Some(token) = &flags.auth {
        opts.auth.token = Some(token.clone());
    }
    if let Some(u) = &flags.no_auth_user {
        opts.auth.no_auth_user = Some(u.clone());
    }
    if flags.user.is_none() && flags.pass.is_none() {
        return;
    }
    let index = match single_user {
        Some(i) if i < opts.auth.users.len() => i,
        _ => {
            if flags.user.is_none() {
                opts.warnings.push(
                    "flag -pass ignored: no -user or authorization user to apply it to".into(),
                );
                return;
            }
            opts.auth.users.push(User::default());
            opts.auth.users.len() - 1
        }
    };
    let user = &mut opts.auth.users[index];
    if let Some(name) = &flags.user {
        user.username = name.clone();
    }
    if let Some(pass) = &flags.pass {
        user.password = pass.clone();
    }
}

/// The `-h` text, in nats-server's layout, listing what Nile acts on.
pub fn usage(exe_name: &str) -> String {
    format!(
        "Usage: {exe_name} [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 6666; -1 for random)
    -n, --name, --server_name <name> Server name
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl, --signal <signal>[=<pid>]   Send signal to nile process (ldm, stop, quit, term, reopen, reload)
    --ports_file_dir <dir>           Creates a ports file in the specified directory (<executable_name>_<pid>.ports)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace
    -VV, -DVV                        Verbose trace (same as -V / -DV in Nile)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory (default: ./nile-data)

Authorization Options:
    --user <user>                    User required for connections
    --pass <password>                Password required for connections
    --auth <token>                   Authorization token required for connections
    --no_auth_user <user>            User for connections that present no credentials

Accepted and ignored (Nile runs a single plain-TCP server):
    -ms, --https_port, -s, --syslog, -r, --remote_syslog, --tls, --tlscert, --tlskey,
    --tlsverify, --tlscacert, --routes, --cluster, --cluster_listen, --cluster_name,
    --cluster_advertise, --client_advertise, --no_advertise, --connect_retries

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
"
    )
}
