//! Server options: every setting a flag or a config file can change.
//!
//! Defaults equal nats-server's, except the client port (6666, as Memphis) and
//! JetStream (on, with `./nile-data`) when Nile starts with no arguments at all.
//! `config::load` fills this from the command line and the config file.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's `MAX_PAYLOAD_SIZE`.
pub const PAYLOAD_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
/// nats-server's hard cap on `max_payload`.
pub const PAYLOAD_BYTES_MAX_LIMIT: usize = 64 * 1024 * 1024;
/// nats-server's `MAX_CONTROL_LINE_SIZE`.
pub const CONTROL_LINE_BYTES_MAX_DEFAULT: usize = 4096;
/// nats-server's `MAX_PENDING_SIZE`: outbound bytes before a slow consumer is cut.
pub const PENDING_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// nats-server's `DEFAULT_MAX_CONNECTIONS`.
pub const CONNECTIONS_MAX_DEFAULT: usize = 64 * 1024;
/// nats-server's `DEFAULT_PING_INTERVAL`.
pub const PING_INTERVAL_DEFAULT: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_PING_MAX_OUT`.
pub const PINGS_OUT_MAX_DEFAULT: u32 = 2;
/// nats-server's `AUTH_TIMEOUT`.
pub const AUTH_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);
/// nats-server's `DEFAULT_FLUSH_DEADLINE`.
pub const WRITE_DEADLINE_DEFAULT: Duration = Duration::from_secs(10);

/// Nile's own (`read_spin` in the config file; nats-server has no such
/// setting): long enough for a client on the same host or rack to answer.
/// Used when the key is absent and waking a thread proves slow here
/// (`connection/wake_probe.rs`).
pub const READ_SPIN_DEFAULT: Duration = Duration::from_micros(100);
/// nats-server's `DEFAULT_LAME_DUCK_DURATION`.
pub const LAME_DUCK_DURATION_DEFAULT: Duration = Duration::from_secs(120);
/// nats-server's `DEFAULT_LAME_DUCK_GRACE_PERIOD`.
pub const LAME_DUCK_GRACE_DEFAULT: Duration = Duration::from_secs(10);
/// Nile's client port: the Memphis promise.
pub const PORT_DEFAULT: u16 = 6666;
/// Monitoring port used when Nile starts with no arguments.
pub const HTTP_PORT_DEFAULT: u16 = 8222;
/// Data directory used when Nile starts with no arguments.
pub const STORE_DIR_DEFAULT: &str = "./nile-data";

/// A port setting: a fixed port, or `-1` in nats-server's syntax for "any free port".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Fixed(u16),
    Random,
}

impl Port {
    /// The port to hand to `bind`: 0 asks the kernel for a free one.
    pub fn bind_port(self) -> u16 {
        match self {
            Port::Fixed(p) => p,
            Port::Random => 0,
        }
    }
}

/// When stream data is fsynced relative to the PubAck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fdatasync before acknowledging (Nile's default).
    Always,
    /// Acknowledge after write; fsync on this period (nats-server's default, 2 min).
    Interval(Duration),
}

/// Publish/subscribe allow and deny lists of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// `None`: everything allowed (unless denied). `Some(vec![])`: nothing allowed.
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: a user may publish to reply subjects it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses allowed per request; nats-server's default is 1.
    pub max_msgs: u64,
    /// How long a reply subject stays publishable; 0 means forever.
    pub expires: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub allow_responses: Option<ResponsePermission>,
}

/// One entry of `authorization { users: [...] }` (or `--user/--pass`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub username: String,
    /// Plain text, or a bcrypt hash starting with `$2a$`/`$2b$`/`$2y$`.
    pub password: String,
    pub permissions: Option<Permissions>,
    /// `users[].account` or the enclosing `accounts { NAME {...} }` block.
    pub account: Option<String>,
    /// `users[].nkey`: a user public key (`U...`); such a user proves itself by
    /// signing the INFO nonce, and has no username or password.
    pub nkey: Option<String>,
}

/// The `tls { }` block or the `--tls*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    /// Require and verify client certificates against `ca_file`.
    pub verify: bool,
    /// How long a handshake may take (nats-server's default 2 s).
    pub timeout: Duration,
    pub handshake_first: HandshakeFirst,
}

/// When the TLS handshake happens relative to INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFirst {
    /// INFO in plain text, then the handshake (nats-server's default).
    No,
    /// The handshake first, INFO inside TLS.
    Yes,
    /// Wait this long for a ClientHello, else plain INFO first.
    Within(Duration),
}

/// The `websocket { }` block: a listener for WebSocket clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketOptions {
    /// `None`: the client listener's host.
    pub host: Option<String>,
    pub port: Port,
    /// TLS for the WebSocket listener; required unless `no_tls`.
    pub tls: Option<TlsOptions>,
    pub handshake_timeout: Duration,
}

/// nats-server's websocket handshake timeout default (the TLS timeout).
pub const WS_HANDSHAKE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

/// nats-server's `TLS_TIMEOUT`.
pub const TLS_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

/// Operator mode (`operator`, `resolver: MEMORY`, `resolver_preload`): users
/// log in with JWTs issued by accounts the operator signed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustOptions {
    /// Operator JWTs, as written inline or read from the files named.
    pub operators: Vec<String>,
    /// Account public key → account JWT.
    pub accounts: Vec<(String, String)>,
}

/// One configured account's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountOptions {
    pub name: String,
    /// `jetstream: enabled` or a limits block; `None`: JetStream is not
    /// enabled for the account.
    pub jetstream: Option<AccountJsLimits>,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
}

/// What an export or import shares: a stream of messages, or a service
/// that answers requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareKind {
    Stream,
    Service,
}

/// `exports: [{stream: "foo.>"}, {service: "svc.>", response_type: stream}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub kind: ShareKind,
    pub subject: String,
    /// Who may import it; empty: every account.
    pub accounts: Vec<String>,
    /// A service's `response_type: stream|chunked`: a request may get many
    /// replies (singleton, the default, gets one).
    pub response_stream: bool,
}

/// `imports: [{stream: {account, subject}, prefix|to}, {service: {account, subject}, to}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub kind: ShareKind,
    /// The exporting account.
    pub account: String,
    /// The subject as the exporter has it.
    pub subject: String,
    /// The subject in the importer's space: `to`, or a stream's `prefix.`
    /// + subject; `None`: the same as `subject`.
    pub local: Option<String>,
}

/// An account's JetStream limits, as `$JS.API.INFO` reports them; -1 (and
/// `false`) where nothing limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountJsLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
    /// From an account JWT's `tiered_limits.R1`: INFO reports them as tier R1.
    pub tiered: bool,
}

impl Default for AccountJsLimits {
    fn default() -> Self {
        AccountJsLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
            tiered: false,
        }
    }
}

/// The `authorization` block and the auth flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// Single token (`--auth`, `authorization { token }`); may be bcrypt.
    pub token: Option<String>,
    /// `authorization { user, password }` and `--user/--pass` land here as one user.
    pub users: Vec<User>,
    /// Permissions from the `authorization` block itself, applied to the single user/token.
    pub default_permissions: Option<Permissions>,
    pub timeout: Option<Duration>,
    pub no_auth_user: Option<String>,
    /// Operator mode; `None` unless `operator` is configured.
    pub trust: Option<TrustOptions>,
}

impl AuthOptions {
    /// Any form of authentication configured?
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || self.trust.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamOptions {
    pub enabled: bool,
    pub store_dir: PathBuf,
    /// Bytes; `None`: nats-server's default (75% of RAM / of disk).
    pub max_memory_bytes: Option<i64>,
    pub max_file_bytes: Option<i64>,
    pub sync: SyncPolicy,
    pub strict: bool,
    pub domain: Option<String>,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            enabled: false,
            store_dir: PathBuf::from(STORE_DIR_DEFAULT),
            max_memory_bytes: None,
            max_file_bytes: None,
            sync: SyncPolicy::Always,
            strict: true,
            domain: None,
        }
    }
}

/// Log destination and verbosity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub file: Option<PathBuf>,
    pub debug: bool,
    pub trace: bool,
    /// nats-server prints a timestamp on each line unless `logtime: false`.
    pub time: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub host: String,
    pub port: Port,
    pub server_name: Option<String>,
    /// The account whose users may send `$SYS.REQ.*` requests (`$SYS` when
    /// `accounts` configures one of that name and this is not set).
    pub system_account: Option<String>,
    pub no_system_account: bool,
    /// Monitoring listener; `None` = off.
    pub http_host: Option<String>,
    pub http_port: Option<Port>,
    pub payload_bytes_max: usize,
    pub control_line_bytes_max: usize,
    pub pending_bytes_max: usize,
    pub connections_max: usize,
    pub ping_interval: Duration,
    pub pings_out_max: u32,
    pub write_deadline: Duration,
    /// How long a reader polls its socket after data before sleeping on it
    /// (`connection/spin.rs`); zero: never; `None`: [`READ_SPIN_DEFAULT`]
    /// where wake-ups are slow, else never.
    pub read_spin: Option<Duration>,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace: Duration,
    pub auth: AuthOptions,
    /// TLS for client connections; `None`: plain TCP.
    pub tls: Option<TlsOptions>,
    /// `allow_non_tls`: with TLS configured, clients may also stay in clear.
    pub allow_non_tls: bool,
    pub websocket: Option<WebsocketOptions>,
    pub jetstream: JetStreamOptions,
    /// `accounts { NAME { ... } }`: each configured account's own settings
    /// (its users are in `auth.users`).
    pub accounts: Vec<AccountOptions>,
    pub log: LogOptions,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    /// The config file this came from, for reload on SIGHUP.
    pub config_file: Option<PathBuf>,
    /// Base name used for the ports file: nats-server takes it from argv[0].
    pub exe_name: String,
    /// `true` when the command line had no arguments (zero-config start).
    pub zero_config: bool,
    /// Flags and config keys that were accepted but are not acted on (cluster, TLS, ...),
    /// and deprecated forms; the server logs each at start-up.
    pub warnings: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".to_string(),
            port: Port::Fixed(PORT_DEFAULT),
            server_name: None,
            system_account: None,
            no_system_account: false,
            http_host: None,
            http_port: None,
            payload_bytes_max: PAYLOAD_BYTES_MAX_DEFAULT,
            control_line_bytes_max: CONTROL_LINE_BYTES_MAX_DEFAULT,
            pending_bytes_max: PENDING_BYTES_MAX_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            ping_interval: PING_INTERVAL_DEFAULT,
            pings_out_max: PINGS_OUT_MAX_DEFAULT,
            write_deadline: WRITE_DEADLINE_DEFAULT,
            read_spin: None,
            lame_duck_duration: LAME_DUCK_DURATION_DEFAULT,
            lame_duck_grace: LAME_DUCK_GRACE_DEFAULT,
            auth: AuthOptions::default(),
            tls: None,
            allow_non_tls: false,
            websocket: None,
            jetstream: JetStreamOptions::default(),
            accounts: Vec::new(),
            log: LogOptions::default(),
            pid_file: None,
            ports_file_dir: None,
            config_file: None,
            exe_name: "nile".to_string(),
            zero_config: false,
            warnings: Vec::new(),
        }
    }
}
