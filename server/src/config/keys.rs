//! Config tree → [`Options`]: nats-server's keys, their aliases and its validation.
//!
//! Keys are matched case-insensitively, as nats-server lower-cases them. A repeated key: the
//! later one wins. An unknown key is an error (nats-server 2.9.10 says `unknown field`), except
//! a key that was used as a `$variable`, which is a definition. Keys nats-server knows but Nile
//! does not implement are accepted with a warning.

use std::path::PathBuf;
use std::time::Duration;

use super::duration::parse_go_duration;
use super::parser::{Entry, Kind, Map, Value};
use super::ConfigError;
use crate::options::{
    AccountJsLimits, AccountOptions, JetStreamOptions, Options, Permissions, Port,
    ResponsePermission, SubjectPermission, SyncPolicy, User, PAYLOAD_BYTES_MAX_LIMIT,
};

pub(super) type Result<T> = std::result::Result<T, ConfigError>;

/// nats-server's default `allow_responses` window (`DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
const RESPONSE_EXPIRES_DEFAULT: Duration = Duration::from_secs(120);
/// nats-server refuses a shorter `lame_duck_duration`.
const LAME_DUCK_DURATION_MIN: Duration = Duration::from_secs(30);
/// nats-server warns above this auth timeout (usually an unquoted `1m`).
const AUTH_TIMEOUT_HIGH: Duration = Duration::from_secs(60);

const WHY_CLUSTER: &str = "Nile runs as a single server";
const WHY_TLS: &str = "Nile does not serve TLS yet";
const WHY_JWT: &str = "Nile does not support JWT/operator auth yet";
const WHY_OTHER: &str = "not implemented by Nile";

/// Top-level keys nats-server knows and Nile accepts without acting on them.
const IGNORED_TOP: &[(&str, &str)] = &[
    ("cluster", WHY_CLUSTER),
    ("gateway", WHY_CLUSTER),
    ("leaf", WHY_CLUSTER),
    ("leafnodes", WHY_CLUSTER),
    ("client_advertise", WHY_CLUSTER),
    ("mqtt", "Nile has no MQTT listener"),
    ("ocsp", WHY_TLS),
    ("ocsp_cache", WHY_TLS),
    ("https", WHY_TLS),
    ("https_port", WHY_TLS),
    ("resolver_tls", WHY_TLS),
    ("root", WHY_JWT),
    ("roots", WHY_JWT),
    ("root_operator", WHY_JWT),
    ("root_operators", WHY_JWT),
    ("account_resolver", WHY_JWT),
    ("accounts_resolver", WHY_JWT),
    ("resolver_pinned_accounts", WHY_JWT),
    ("trusted", WHY_JWT),
    ("trusted_keys", WHY_JWT),
    ("default_js_domain", WHY_OTHER),
    ("server_tags", WHY_OTHER),
    ("server_metadata", WHY_OTHER),
    ("mappings", WHY_OTHER),
    ("maps", WHY_OTHER),
    ("syslog", "Nile logs to stderr or log_file only"),
    ("remote_syslog", "Nile logs to stderr or log_file only"),
    ("logtime_utc", "Nile's log timestamps are always UTC"),
    ("logfile_size_limit", "Nile does not rotate its log"),
    ("log_size_limit", "Nile does not rotate its log"),
    ("logfile_max_num", "Nile does not rotate its log"),
    ("log_max_num", "Nile does not rotate its log"),
    ("http_base_path", WHY_OTHER),
    ("prof_port", WHY_OTHER),
    ("prof_block_rate", WHY_OTHER),
    ("disable_sublist_cache", WHY_OTHER),
    ("no_sublist_cache", WHY_OTHER),
    ("max_traced_msg_len", WHY_OTHER),
    ("max_subscriptions", WHY_OTHER),
    ("max_subs", WHY_OTHER),
    ("max_sub_tokens", WHY_OTHER),
    ("max_subscription_tokens", WHY_OTHER),
    ("trace_headers", WHY_OTHER),
    ("no_header_support", WHY_OTHER),
    ("connect_error_reports", WHY_CLUSTER),
    ("reconnect_error_reports", WHY_CLUSTER),
    ("feature_flags", WHY_OTHER),
    ("no_fast_producer_stall", WHY_OTHER),
    ("max_closed_clients", WHY_OTHER),
    ("proxies", WHY_OTHER),
    ("proxy_protocol", WHY_OTHER),
    ("default_sentinel", WHY_JWT),
    ("write_timeout", WHY_OTHER),
];

/// `jetstream { }` keys nats-server knows and Nile ignores.
const IGNORED_JETSTREAM: &[&str] = &[
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

/// `accounts { NAME { } }` keys other than `users`, which Nile ignores.
const IGNORED_ACCOUNT: &[&str] = &[
    "nkey",
    "default_permissions",
    "mappings",
    "maps",
    "limits",
    "trace_dest",
    "trace_dest_sampling",
    "msg_trace",
];

/// `authorization { }` as written: a single user, a token, a users list.
#[derive(Default)]
struct AuthBlock {
    single: User,
    token: Option<String>,
    users: Option<Vec<User>>,
}

/// Applies a config tree to options, collecting warnings.
#[derive(Default)]
pub struct Mapper {
    pub warnings: Vec<String>,
    store_dir_set: bool,
    /// `authorization { user, password }`: index in `auth.users`, so `--user/--pass` replace it.
    pub single_user: Option<usize>,
    /// Where `max_payload` was set, to blame it if it exceeds `max_pending`.
    payload_entry: Option<(String, usize, usize)>,
}

/// An error blaming `entry` (its key position) under the dotted `path`.
pub(super) fn key_error(entry: &Entry, path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        file: entry.key_pos.file.to_string(),
        line: entry.key_pos.line,
        column: entry.key_pos.column,
        key: path.to_string(),
        message: message.into(),
    }
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn type_error(entry: &Entry, path: &str, want: &str) -> ConfigError {
    let got = entry.value.kind.type_name();
    key_error(entry, path, format!("expected {want}, got {got}"))
}

fn int(entry: &Entry, path: &str) -> Result<i64> {
    match entry.value.kind {
        Kind::Integer(n) => Ok(n),
        _ => Err(type_error(entry, path, "an integer")),
    }
}

fn string(entry: &Entry, path: &str) -> Result<String> {
    match &entry.value.kind {
        Kind::String(s) => Ok(s.clone()),
        _ => Err(type_error(entry, path, "a string")),
    }
}

fn boolean(entry: &Entry, path: &str) -> Result<bool> {
    match entry.value.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(type_error(entry, path, "a boolean")),
    }
}

fn map<'a>(entry: &'a Entry, path: &str) -> Result<&'a Map> {
    match &entry.value.kind {
        Kind::Map(m) => Ok(m),
        _ => Err(type_error(entry, path, "a map")),
    }
}

/// A count or byte size that must not be negative; 0 keeps the default, as in nats-server.
fn size(entry: &Entry, path: &str, limit: usize, default: usize) -> Result<usize> {
    let n = int(entry, path)?;
    if n < 0 {
        return Err(key_error(
            entry,
            path,
            format!("{path} can not be negative"),
        ));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > limit {
        return Err(key_error(
            entry,
            path,
            format!("{path} value is too big (limit {limit})"),
        ));
    }
    Ok(if n == 0 { default } else { n })
}

/// `-1` is a random port, 0 is "unset", 1-65535 a port.
pub fn port_number(n: i64) -> std::result::Result<Option<Port>, String> {
    match n {
        -1 => Ok(Some(Port::Random)),
        0 => Ok(None),
        _ => u16::try_from(n)
            .map(|p| Some(Port::Fixed(p)))
            .map_err(|_| format!("port {n} is out of range (1-65535, or -1 for random)")),
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

/// `listen`/`http`: a port number or `host:port`. Returns the host (`None`: none given).
fn listen(entry: &Entry, path: &str) -> Result<(Option<String>, Option<Port>)> {
    let (host, port) = match &entry.value.kind {
        Kind::Integer(n) => (None, *n),
        Kind::String(s) => {
            let (host, port) = split_host_port(s).ok_or_else(|| {
                key_error(entry, path, format!("could not parse address string {s:?}"))
            })?;
            let port: i64 = port
                .parse()
                .map_err(|_| key_error(entry, path, format!("could not parse port {port:?}")))?;
            ((!host.is_empty()).then_some(host), port)
        }
        _ => return Err(type_error(entry, path, "a port or host:port")),
    };
    let port = port_number(port).map_err(|m| key_error(entry, path, m))?;
    Ok((host, port))
}

impl Mapper {
    fn warn(&mut self, entry: &Entry, path: &str, why: &str) {
        let pos = &entry.key_pos;
        self.warnings.push(format!(
            "{}:{}:{}: {path:?} ignored: {why}",
            pos.file, pos.line, pos.column
        ));
    }

    /// A duration given as a Go duration string, or (deprecated, warned) integer seconds.
    fn duration(&mut self, entry: &Entry, path: &str) -> Result<Duration> {
        match &entry.value.kind {
            Kind::String(s) => go_duration(entry, path, s),
            Kind::Integer(n) if *n >= 0 => {
                let pos = &entry.key_pos;
                self.warnings.push(format!(
                    "{}:{}:{}: {path} should be converted to a duration (\"{n}s\")",
                    pos.file, pos.line, pos.column
                ));
                Ok(Duration::from_secs(n.unsigned_abs()))
            }
            Kind::Integer(_) => Err(key_error(
                entry,
                path,
                format!("{path} can not be negative"),
            )),
            _ => Err(type_error(entry, path, "a duration string")),
        }
    }

    /// Apply every top-level entry in file order.
    pub fn apply(&mut self, tree: &Map, opts: &mut Options) -> Result<()> {
        for entry in &tree.entries {
            self.top(entry, opts)?;
        }
        self.check_payload(opts)
    }

    /// nats-server refuses a `max_payload` above `max_pending`.
    fn check_payload(&self, opts: &Options) -> Result<()> {
        if opts.payload_bytes_max <= opts.pending_bytes_max {
            return Ok(());
        }
        let (file, line, column) = self.payload_entry.clone().unwrap_or_default();
        Err(ConfigError::Key {
            file,
            line,
            column,
            key: "max_payload".into(),
            message: format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                opts.payload_bytes_max, opts.pending_bytes_max
            ),
        })
    }

    fn top(&mut self, e: &Entry, opts: &mut Options) -> Result<()> {
        let key = e.key.to_ascii_lowercase();
        let k = key.as_str();
        match k {
            "listen" => {
                let (host, port) = listen(e, k)?;
                // nats-server: `listen: 4222` resets the host to the default.
                opts.host = host.unwrap_or_else(|| Options::default().host);
                opts.port = port.unwrap_or(Options::default().port);
            }
            "port" => {
                let port = port_number(int(e, k)?).map_err(|m| key_error(e, k, m))?;
                opts.port = port.unwrap_or(Options::default().port);
            }
            "host" | "net" => opts.host = string(e, k)?,
            "server_name" => opts.server_name = Some(server_name(e, k)?),
            "system_account" | "system" => opts.system_account = Some(string(e, k)?),
            "no_system_account" | "no_system" | "no_sys_acc" => {
                opts.no_system_account = boolean(e, k)?
            }
            "debug" => opts.log.debug = boolean(e, k)?,
            "trace" | "trace_verbose" => opts.log.trace = boolean(e, k)?,
            "logtime" => opts.log.time = Some(boolean(e, k)?),
            "http" => {
                let (host, port) = listen(e, k)?;
                opts.http_host = host;
                opts.http_port = port;
            }
            "http_port" | "monitor_port" => {
                opts.http_port = port_number(int(e, k)?).map_err(|m| key_error(e, k, m))?;
            }
            "ports_file_dir" => opts.ports_file_dir = Some(PathBuf::from(string(e, k)?)),
            "pidfile" | "pid_file" => opts.pid_file = Some(PathBuf::from(string(e, k)?)),
            "logfile" | "log_file" => opts.log.file = Some(PathBuf::from(string(e, k)?)),
            "no_auth_user" => opts.auth.no_auth_user = Some(string(e, k)?),
            "store_dir" | "storedir" => self.store_dir(e, k, &mut opts.jetstream)?,
            "jetstream" => self.jetstream(e, &mut opts.jetstream)?,
            "authorization" => self.authorization(e, opts)?,
            "accounts" => self.accounts(e, opts)?,
            "operator" | "operators" => {
                let jwts = operator_jwts(e, k)?;
                opts.auth
                    .trust
                    .get_or_insert_with(Default::default)
                    .operators = jwts;
            }
            "resolver" => resolver(e, k)?,
            "tls" => opts.tls = Some(self.tls(e, k)?),
            "allow_non_tls" => opts.allow_non_tls = boolean(e, k)?,
            "websocket" | "ws" => opts.websocket = Some(self.websocket(e, k)?),
            "resolver_preload" => {
                let preload = resolver_preload(e, k)?;
                opts.auth
                    .trust
                    .get_or_insert_with(Default::default)
                    .accounts = preload;
            }
            _ => self.limits(e, k, opts)?,
        }
        Ok(())
    }

    /// Limits and timers; then ignored and unknown keys.
    fn limits(&mut self, e: &Entry, k: &str, opts: &mut Options) -> Result<()> {
        let defaults = Options::default();
        match k {
            "max_payload" => {
                opts.payload_bytes_max =
                    size(e, k, PAYLOAD_BYTES_MAX_LIMIT, defaults.payload_bytes_max)?;
                let pos = &e.key_pos;
                self.payload_entry = Some((pos.file.to_string(), pos.line, pos.column));
            }
            "max_control_line" => {
                opts.control_line_bytes_max =
                    size(e, k, i32::MAX as usize, defaults.control_line_bytes_max)?;
            }
            "max_pending" => {
                opts.pending_bytes_max = size(e, k, usize::MAX, defaults.pending_bytes_max)?;
            }
            "max_connections" | "max_conn" => {
                opts.connections_max = size(e, k, usize::MAX, defaults.connections_max)?;
            }
            "ping_max" => {
                let n = size(e, k, u32::MAX as usize, defaults.pings_out_max as usize)?;
                opts.pings_out_max = u32::try_from(n).unwrap_or(u32::MAX);
            }
            "ping_interval" => {
                opts.ping_interval = or_default(self.duration(e, k)?, defaults.ping_interval);
            }
            "read_spin" => {
                // Zero turns polling off, unlike the timeouts where it means the default.
                opts.read_spin = Some(self.duration(e, k)?);
            }
            "write_deadline" => {
                opts.write_deadline = or_default(self.duration(e, k)?, defaults.write_deadline);
            }
            "lame_duck_duration" => opts.lame_duck_duration = lame_duck_duration(e, k)?,
            "lame_duck_grace_period" => {
                let s = string(e, k)?;
                opts.lame_duck_grace = or_default(go_duration(e, k, &s)?, defaults.lame_duck_grace);
            }
            _ => self.other(e, k)?,
        }
        Ok(())
    }

    fn other(&mut self, e: &Entry, k: &str) -> Result<()> {
        if let Some((_, why)) = IGNORED_TOP.iter().find(|(name, _)| *name == k) {
            self.warn(e, k, why);
            return Ok(());
        }
        unknown_key(e, &e.key)
    }

    fn store_dir(&mut self, e: &Entry, path: &str, js: &mut JetStreamOptions) -> Result<()> {
        if self.store_dir_set {
            return Err(key_error(e, path, "Duplicate 'store_dir' configuration"));
        }
        self.store_dir_set = true;
        js.store_dir = PathBuf::from(string(e, path)?);
        Ok(())
    }

    /// `jetstream: enabled|disabled|true|false` or a block (which enables it unless
    /// `enabled: false`).
    fn jetstream(&mut self, e: &Entry, js: &mut JetStreamOptions) -> Result<()> {
        match &e.value.kind {
            Kind::Bool(b) => js.enabled = *b,
            Kind::String(s) => {
                js.enabled = match s.to_ascii_lowercase().as_str() {
                    "enabled" | "enable" => true,
                    "disabled" | "disable" => false,
                    _ => {
                        return Err(key_error(
                            e,
                            "jetstream",
                            format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                        ))
                    }
                }
            }
            Kind::Map(m) => {
                js.enabled = true;
                for entry in &m.entries {
                    self.jetstream_key(entry, js)?;
                }
            }
            _ => return Err(type_error(e, "jetstream", "a map, boolean or string")),
        }
        Ok(())
    }

    fn jetstream_key(&mut self, e: &Entry, js: &mut JetStreamOptions) -> Result<()> {
        let key = e.key.to_ascii_lowercase();
        let path = join("jetstream", &key);
        let p = path.as_str();
        match key.as_str() {
            "strict" => js.strict = boolean(e, p)?,
            "store" | "store_dir" | "storedir" => self.store_dir(e, p, js)?,
            "sync" | "sync_interval" => js.sync = self.sync_policy(e, p)?,
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                js.max_memory_bytes = storage_size(e, p)?
            }
            "max_file_store" | "max_file" => js.max_file_bytes = storage_size(e, p)?,
            "domain" => js.domain = Some(string(e, p)?),
            "enable" | "enabled" => js.enabled = boolean(e, p)?,
            k if IGNORED_JETSTREAM.contains(&k) => self.warn(e, p, WHY_OTHER),
            _ => unknown_key(e, p)?,
        }
        Ok(())
    }

    fn sync_policy(&mut self, e: &Entry, path: &str) -> Result<SyncPolicy> {
        if let Kind::String(s) = &e.value.kind {
            if s.eq_ignore_ascii_case("always") {
                return Ok(SyncPolicy::Always);
            }
        }
        let d = self.duration(e, path)?;
        if d.is_zero() {
            return Err(key_error(
                e,
                path,
                "sync_interval must be positive or \"always\"",
            ));
        }
        Ok(SyncPolicy::Interval(d))
    }

    fn authorization(&mut self, e: &Entry, opts: &mut Options) -> Result<()> {
        let block = self.authorization_block(e, opts)?;
        let has_single = !block.single.username.is_empty() || !block.single.password.is_empty();
        if has_single && block.token.is_some() {
            return Err(key_error(
                e,
                "authorization",
                "Cannot have a user/pass and token",
            ));
        }
        if has_single && block.users.is_some() {
            return Err(key_error(
                e,
                "authorization",
                "Can not have a single user/pass and a users array",
            ));
        }
        // nats-server refuses a token beside a users array; Nile allows it (Memphis's
        // `<user>::<token>` login needs both).
        opts.auth.token = block.token;
        if has_single {
            self.single_user = Some(opts.auth.users.len());
            opts.auth.users.push(block.single);
        }
        let mut users = block.users.unwrap_or_default();
        apply_default_permissions(&mut users, opts.auth.default_permissions.as_ref());
        add_users(e, "authorization.users", &mut opts.auth.users, users)
    }

    /// The keys of `authorization { }`, before the checks that combine them.
    fn authorization_block(&mut self, e: &Entry, opts: &mut Options) -> Result<AuthBlock> {
        let mut block = AuthBlock::default();
        for entry in &map(e, "authorization")?.entries {
            let key = entry.key.to_ascii_lowercase();
            let path = join("authorization", &key);
            let p = path.as_str();
            match key.as_str() {
                "user" | "username" => block.single.username = string(entry, p)?,
                "pass" | "password" => block.single.password = string(entry, p)?,
                "token" => block.token = Some(string(entry, p)?),
                "timeout" => opts.auth.timeout = Some(self.auth_timeout(entry, p)?),
                "users" => block.users = Some(self.users(entry, p, None)?),
                "default_permission" | "default_permissions" | "permissions" => {
                    opts.auth.default_permissions = Some(permissions(entry, p)?)
                }
                "auth_callout" | "auth_hook" | "proxy_required" => self.warn(entry, p, WHY_OTHER),
                _ => unknown_key(entry, p)?,
            }
        }
        Ok(block)
    }

    /// Seconds (integer or float) or a duration string.
    fn auth_timeout(&mut self, e: &Entry, path: &str) -> Result<Duration> {
        let d = match &e.value.kind {
            Kind::Integer(n) if *n >= 0 => Duration::from_secs(n.unsigned_abs()),
            Kind::Float(f) if f.is_finite() && *f >= 0.0 && *f < 1e9 => Duration::from_secs_f64(*f),
            Kind::String(s) => go_duration(e, path, s)?,
            Kind::Integer(_) | Kind::Float(_) => {
                return Err(key_error(
                    e,
                    path,
                    "timeout must be a positive number of seconds",
                ))
            }
            _ => return Err(type_error(e, path, "seconds or a duration string")),
        };
        if d > AUTH_TIMEOUT_HIGH {
            let pos = &e.key_pos;
            self.warnings.push(format!(
                "{}:{}:{}: {path} of {d:?} is high, consider keeping it under 60 seconds; possibly caused by an unquoted duration: use '1m' instead of 1m",
                pos.file, pos.line, pos.column
            ));
        }
        Ok(d)
    }

    /// `users: [ {user, password, permissions}, ... ]`. NKey users are skipped with a warning.
    fn users(&mut self, e: &Entry, path: &str, account: Option<&str>) -> Result<Vec<User>> {
        let Kind::Array(items) = &e.value.kind else {
            return Err(type_error(e, path, "an array of users"));
        };
        let mut users = Vec::new();
        for item in items {
            let Kind::Map(m) = &item.kind else {
                return Err(value_error(
                    item,
                    path,
                    "Expected user entry to be a map/struct",
                ));
            };
            if let Some(user) = self.user(item, m, path, account)? {
                users.push(user);
            }
        }
        Ok(users)
    }

    fn user(
        &mut self,
        item: &Value,
        m: &Map,
        path: &str,
        account: Option<&str>,
    ) -> Result<Option<User>> {
        let mut user = User {
            account: account.map(str::to_string),
            ..User::default()
        };
        for entry in &m.entries {
            let key = entry.key.to_ascii_lowercase();
            let p = join(path, &key);
            match key.as_str() {
                "user" | "username" => user.username = string(entry, &p)?,
                "pass" | "password" => user.password = string(entry, &p)?,
                "permission" | "permissions" | "authorization" => {
                    user.permissions = Some(permissions(entry, &p)?)
                }
                // Nile extension: the account a user of `authorization.users` belongs to.
                "account" => user.account = Some(string(entry, &p)?),
                "nkey" => user.nkey = Some(nkey_user(entry, &p)?),
                "allowed_connection_types" | "connection_types" | "clients" | "proxy_required" => {
                    self.warn(entry, &p, WHY_OTHER)
                }
                _ => unknown_key(entry, &p)?,
            }
        }
        if user.nkey.is_some() {
            if !user.username.is_empty() || !user.password.is_empty() {
                return Err(value_error(
                    item,
                    path,
                    "Nkey users do not take usernames or passwords",
                ));
            }
            return Ok(Some(user));
        }
        if user.username.is_empty() {
            return Err(value_error(item, path, "User entry requires a user"));
        }
        Ok(Some(user))
    }

    /// `accounts { NAME { users: [...] } }`: users are kept with their account; the rest is
    /// ignored with a warning.
    fn accounts(&mut self, e: &Entry, opts: &mut Options) -> Result<()> {
        let block = match &e.value.kind {
            Kind::Map(m) => m,
            Kind::Array(_) => {
                self.warn(
                    e,
                    "accounts",
                    "a list of account names is not read: declare accounts as a map",
                );
                return Ok(());
            }
            _ => return Err(type_error(e, "accounts", "a map of accounts")),
        };
        for account in &block.entries {
            let path = join("accounts", &account.key);
            let Kind::Map(body) = &account.value.kind else {
                if account.referenced {
                    continue;
                }
                return Err(key_error(
                    account,
                    &path,
                    "Expected map entries for accounts",
                ));
            };
            let mut settings = AccountOptions {
                name: account.key.clone(),
                ..AccountOptions::default()
            };
            for entry in &body.entries {
                let key = entry.key.to_ascii_lowercase();
                let p = join(&path, &key);
                match key.as_str() {
                    "users" => {
                        let users = self.users(entry, &p, Some(&account.key))?;
                        add_users(entry, &p, &mut opts.auth.users, users)?;
                    }
                    "jetstream" => settings.jetstream = account_jetstream(entry, &p)?,
                    "exports" => settings.exports = super::shares::exports(entry, &p)?,
                    "imports" => settings.imports = super::shares::imports(entry, &p)?,
                    k if IGNORED_ACCOUNT.contains(&k) => self.warn(
                        entry,
                        &p,
                        "Nile does not implement per-account settings yet",
                    ),
                    _ => unknown_key(entry, &p)?,
                }
            }
            opts.accounts.push(settings);
        }
        check_imports(e, &opts.accounts)
    }
}

/// nats-server refuses a config whose import no export allows.
fn check_imports(e: &Entry, accounts: &[AccountOptions]) -> Result<()> {
    for a in accounts {
        for i in &a.imports {
            if crate::imports::find_export(accounts, i, &a.name).is_none() {
                let kind = match i.kind {
                    crate::options::ShareKind::Stream => "stream",
                    crate::options::ShareKind::Service => "service",
                };
                return Err(key_error(
                    e,
                    "accounts",
                    format!(
                        "Error adding {kind} import {:?}: {kind} import not authorized",
                        i.subject
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An account's `jetstream`: `enabled`/`disabled`, a boolean, or a limits map.
fn account_jetstream(e: &Entry, path: &str) -> Result<Option<AccountJsLimits>> {
    let m = match &e.value.kind {
        Kind::Bool(b) => return Ok(b.then(AccountJsLimits::default)),
        Kind::String(s) => {
            return match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Ok(Some(AccountJsLimits::default())),
                "disabled" | "disable" => Ok(None),
                _ => Err(key_error(
                    e,
                    path,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                )),
            }
        }
        Kind::Map(m) => m,
        _ => return Err(type_error(e, path, "a map, boolean or string")),
    };
    let mut l = AccountJsLimits::default();
    for entry in &m.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = join(path, &key);
        let size = |entry| storage_size(entry, &p).map(|n| n.unwrap_or(-1));
        match key.as_str() {
            "max_memory" | "max_mem" | "max_mem_store" | "max_memory_store" => {
                l.max_memory = size(entry)?
            }
            "max_file" | "max_store" | "max_file_store" | "max_storage" => {
                l.max_storage = size(entry)?
            }
            "max_streams" => l.max_streams = int(entry, &p)?,
            "max_consumers" => l.max_consumers = int(entry, &p)?,
            "max_ack_pending" => l.max_ack_pending = int(entry, &p)?,
            "memory_max_stream_bytes" | "mem_max_stream_bytes" => {
                l.memory_max_stream_bytes = size(entry)?
            }
            "store_max_stream_bytes" | "disk_max_stream_bytes" | "storage_max_stream_bytes" => {
                l.storage_max_stream_bytes = size(entry)?
            }
            "max_stream_bytes" | "max_bytes_required" | "max_bytes" => {
                l.max_bytes_required = boolean(entry, &p)?
            }
            "enabled" | "enable" => {
                if !boolean(entry, &p)? {
                    return Ok(None);
                }
            }
            _ => unknown_key(entry, &p)?,
        }
    }
    Ok(Some(l))
}

/// `tls { }` keys nats-server knows and Nile ignores.
const IGNORED_TLS: &[&str] = &[
    "cipher_suites",
    "curve_preferences",
    "insecure",
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "pinned_certs",
    "min_version",
    "cert_store",
    "cert_match",
    "cert_match_by",
    "ca_certs_match",
    "ocsp_peer",
    "certs",
    "connection_rate_limit",
];

/// `websocket { }` keys nats-server knows and Nile ignores.
const IGNORED_WEBSOCKET: &[&str] = &[
    "advertise",
    "compression",
    "same_origin",
    "allowed_origins",
    "jwt_cookie",
    "user_cookie",
    "pass_cookie",
    "token_cookie",
    "no_auth_user",
    "authorization",
    "headers",
];

impl Mapper {
    fn websocket(&mut self, e: &Entry, path: &str) -> Result<crate::options::WebsocketOptions> {
        use crate::options::{Port, WebsocketOptions, WS_HANDSHAKE_TIMEOUT_DEFAULT};
        let m = map(e, path)?;
        let mut ws = WebsocketOptions {
            host: None,
            port: Port::Fixed(0),
            tls: None,
            handshake_timeout: WS_HANDSHAKE_TIMEOUT_DEFAULT,
        };
        let mut no_tls = false;
        for entry in &m.entries {
            let key = entry.key.to_ascii_lowercase();
            let p = join(path, &key);
            match key.as_str() {
                "host" | "net" => ws.host = Some(string(entry, &p)?),
                "port" => {
                    let Kind::Integer(n) = entry.value.kind else {
                        return Err(type_error(entry, &p, "a port number"));
                    };
                    ws.port = port_number(n)
                        .map_err(|m| key_error(entry, &p, m))?
                        .unwrap_or(Port::Fixed(0));
                }
                "listen" => {
                    let (host, port) = listen(entry, &p)?;
                    ws.host = host.or(ws.host);
                    if let Some(port) = port {
                        ws.port = port;
                    }
                }
                "no_tls" => no_tls = boolean(entry, &p)?,
                "tls" => ws.tls = Some(self.tls(entry, &p)?),
                "handshake_timeout" => ws.handshake_timeout = self.duration(entry, &p)?,
                k if IGNORED_WEBSOCKET.contains(&k) => self.warn(entry, &p, WHY_OTHER),
                _ => unknown_key(entry, &p)?,
            }
        }
        if ws.tls.is_none() && !no_tls {
            return Err(key_error(e, path, "websocket requires TLS configuration"));
        }
        if no_tls {
            ws.tls = None;
        }
        Ok(ws)
    }

    fn tls(&mut self, e: &Entry, path: &str) -> Result<crate::options::TlsOptions> {
        use crate::options::{HandshakeFirst, TlsOptions, TLS_TIMEOUT_DEFAULT};
        let m = map(e, path)?;
        let mut tls = TlsOptions {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            ca_file: None,
            verify: false,
            timeout: TLS_TIMEOUT_DEFAULT,
            handshake_first: HandshakeFirst::No,
        };
        for entry in &m.entries {
            let key = entry.key.to_ascii_lowercase();
            let p = join(path, &key);
            match key.as_str() {
                "cert_file" => tls.cert_file = PathBuf::from(string(entry, &p)?),
                "key_file" => tls.key_file = PathBuf::from(string(entry, &p)?),
                "ca_file" => tls.ca_file = Some(PathBuf::from(string(entry, &p)?)),
                "verify" => tls.verify = boolean(entry, &p)?,
                "timeout" => {
                    tls.timeout = match &entry.value.kind {
                        Kind::Integer(n) if *n >= 0 => Duration::from_secs(n.unsigned_abs()),
                        Kind::Float(f) if *f >= 0.0 => Duration::from_secs_f64(*f),
                        _ => self.duration(entry, &p)?,
                    }
                }
                "handshake_first" | "first" | "immediate" => {
                    tls.handshake_first = match &entry.value.kind {
                        Kind::Bool(true) => HandshakeFirst::Yes,
                        Kind::Bool(false) => HandshakeFirst::No,
                        Kind::String(s) if s.eq_ignore_ascii_case("auto") => {
                            HandshakeFirst::Within(Duration::from_millis(50))
                        }
                        _ => HandshakeFirst::Within(self.duration(entry, &p)?),
                    }
                }
                k if IGNORED_TLS.contains(&k) => self.warn(entry, &p, WHY_OTHER),
                _ => unknown_key(entry, &p)?,
            }
        }
        Ok(tls)
    }
}

/// `operator: <JWT or file>` or a list of them. nats-server takes a value that
/// looks like a JWT as one, and anything else as a file holding one.
fn operator_jwts(e: &Entry, path: &str) -> Result<Vec<String>> {
    let items: Vec<&Value> = match &e.value.kind {
        Kind::Array(a) => a.iter().collect(),
        _ => vec![&e.value],
    };
    items
        .into_iter()
        .map(|v| {
            let Kind::String(s) = &v.kind else {
                return Err(value_error(v, path, "Expected a JWT or a file name"));
            };
            jwt_or_file(s).map_err(|m| key_error(e, path, m))
        })
        .collect()
}

fn jwt_or_file(s: &str) -> std::result::Result<String, String> {
    let s = s.trim();
    if s.starts_with("eyJ") {
        return Ok(s.to_string());
    }
    let text = std::fs::read_to_string(s).map_err(|err| format!("error reading {s}: {err}"))?;
    // A creds-style file: the JWT is the line that starts like one.
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("eyJ"))
        .map(str::to_string)
        .ok_or_else(|| format!("{s}: no JWT found"))
}

/// Only the in-memory resolver (`MEMORY`, filled by `resolver_preload`) exists.
fn resolver(e: &Entry, path: &str) -> Result<()> {
    match &e.value.kind {
        Kind::String(s) if s.eq_ignore_ascii_case("memory") => Ok(()),
        _ => Err(key_error(
            e,
            path,
            "Nile supports only the MEMORY resolver (with resolver_preload)",
        )),
    }
}

fn resolver_preload(e: &Entry, path: &str) -> Result<Vec<(String, String)>> {
    let m = map(e, path)?;
    m.entries
        .iter()
        .map(|entry| {
            let p = join(path, &entry.key);
            Ok((entry.key.clone(), string(entry, &p)?.trim().to_string()))
        })
        .collect()
}

/// A user nkey: a public key starting with `U`.
fn nkey_user(e: &Entry, path: &str) -> Result<String> {
    let key = string(e, path)?;
    if !key.starts_with('U') || nkeys::KeyPair::from_public_key(&key).is_err() {
        return Err(key_error(
            e,
            path,
            format!("Not a valid public nkey for a user: {key}"),
        ));
    }
    Ok(key)
}

/// A key no table knows: fine when it was only `include`d or referenced
/// (`$var`), an error otherwise.
fn unknown_key(e: &Entry, path: &str) -> Result<()> {
    if e.referenced {
        return Ok(());
    }
    Err(key_error(e, path, format!("unknown field {:?}", e.key)))
}

/// An error about one element of an array: the element's position, the array key's path.
pub(super) fn value_error(value: &Value, path: &str, message: &str) -> ConfigError {
    ConfigError::Key {
        file: value.pos.file.to_string(),
        line: value.pos.line,
        column: value.pos.column,
        key: path.to_string(),
        message: format!("{message}, got {}", value.kind.type_name()),
    }
}

/// Append users, refusing a name that is already configured (also across accounts).
fn add_users(e: &Entry, path: &str, all: &mut Vec<User>, new: Vec<User>) -> Result<()> {
    for user in new {
        if let Some(key) = &user.nkey {
            if all.iter().any(|u| u.nkey.as_ref() == Some(key)) {
                return Err(key_error(
                    e,
                    path,
                    format!("Duplicate nkey {key:?} detected"),
                ));
            }
            all.push(user);
            continue;
        }
        if all.iter().any(|u| u.username == user.username) {
            return Err(key_error(
                e,
                path,
                format!("Duplicate user {:?} detected", user.username),
            ));
        }
        all.push(user);
    }
    Ok(())
}

/// nats-server gives the block's default permissions to list users that have none.
fn apply_default_permissions(users: &mut [User], default: Option<&Permissions>) {
    let Some(default) = default else { return };
    for user in users.iter_mut().filter(|u| u.permissions.is_none()) {
        user.permissions = Some(default.clone());
    }
}

fn or_default(d: Duration, default: Duration) -> Duration {
    if d.is_zero() {
        default
    } else {
        d
    }
}

fn go_duration(e: &Entry, path: &str, s: &str) -> Result<Duration> {
    let d = parse_go_duration(s)
        .map_err(|m| key_error(e, path, format!("error parsing {path}: {m}")))?;
    if d.negative && !d.magnitude.is_zero() {
        return Err(key_error(e, path, format!("{path} can not be negative")));
    }
    Ok(d.magnitude)
}

/// A duration string of at least 30 s (nats-server accepts only strings here).
fn lame_duck_duration(e: &Entry, path: &str) -> Result<Duration> {
    let s = string(e, path)?;
    let d = go_duration(e, path, &s)?;
    if d < LAME_DUCK_DURATION_MIN {
        return Err(key_error(
            e,
            path,
            format!("invalid lame_duck_duration of {s}, minimum is 30 seconds"),
        ));
    }
    Ok(d)
}

/// nats-server refuses server names with spaces.
fn server_name(e: &Entry, path: &str) -> Result<String> {
    let name = string(e, path)?;
    if name.contains(char::is_whitespace) {
        return Err(key_error(e, path, "server name cannot contain spaces"));
    }
    Ok(name)
}

/// JetStream sizes: an integer (config suffixes already applied) or a string with a binary
/// `K`/`M`/`G`/`T` suffix (nats-server's `getStorageSize`: `"1G"` is 2^30). Negative means
/// "no explicit limit".
fn storage_size(e: &Entry, path: &str) -> Result<Option<i64>> {
    let n = match &e.value.kind {
        Kind::Integer(n) => *n,
        Kind::String(s) if s.is_empty() => 0,
        Kind::String(s) => string_size(s).ok_or_else(|| {
            key_error(
                e,
                path,
                format!("{s:?}: sizes defined as strings must end in K, M, G, T"),
            )
        })?,
        _ => return Err(type_error(e, path, "a size")),
    };
    Ok((n >= 0).then_some(n))
}

fn string_size(s: &str) -> Option<i64> {
    let shift = match s.chars().last()? {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return None,
    };
    let n: i64 = s.get(..s.len() - 1)?.parse().ok()?;
    n.checked_mul(1i64 << shift)
}

/// `permissions { publish, subscribe, allow_responses }`.
fn permissions(e: &Entry, path: &str) -> Result<Permissions> {
    let block = map(e, path)?;
    let mut perms = Permissions::default();
    for entry in &block.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = join(path, &key);
        match key.as_str() {
            "pub" | "publish" | "import" => perms.publish = subject_permission(entry, &p)?,
            "sub" | "subscribe" | "export" => perms.subscribe = subject_permission(entry, &p)?,
            "allow_responses" | "publish_allow_responses" => {
                perms.allow_responses = allow_responses(entry, &p)?
            }
            _ if entry.referenced => {}
            _ => {
                return Err(key_error(
                    entry,
                    &p,
                    format!("Unknown field {:?} parsing permissions", entry.key),
                ))
            }
        }
    }
    // Responses imply a publish allow list (empty unless given), as in nats-server.
    if perms.allow_responses.is_some() {
        let publish = perms.publish.get_or_insert_with(SubjectPermission::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Ok(perms)
}

/// A subject or array of subjects (an allow list), or `{ allow, deny }`.
fn subject_permission(e: &Entry, path: &str) -> Result<Option<SubjectPermission>> {
    let Kind::Map(m) = &e.value.kind else {
        return Ok(Some(SubjectPermission {
            allow: Some(subjects(e, path)?),
            deny: Vec::new(),
        }));
    };
    if m.entries.is_empty() {
        return Ok(None);
    }
    let mut perm = SubjectPermission::default();
    for entry in &m.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = join(path, &key);
        match key.as_str() {
            "allow" => perm.allow = Some(subjects(entry, &p)?),
            "deny" => perm.deny = subjects(entry, &p)?,
            _ if entry.referenced => {}
            _ => {
                return Err(key_error(
                    entry,
                    &p,
                    format!(
                        "Unknown field name {:?} parsing subject permissions, only 'allow' or 'deny' are permitted",
                        entry.key
                    ),
                ))
            }
        }
    }
    Ok(Some(perm))
}

fn subjects(e: &Entry, path: &str) -> Result<Vec<String>> {
    match &e.value.kind {
        Kind::String(s) => Ok(vec![s.clone()]),
        Kind::Array(items) => items
            .iter()
            .map(|v| match &v.kind {
                Kind::String(s) => Ok(s.clone()),
                _ => Err(value_error(
                    v,
                    path,
                    "Subject in permissions array cannot be cast to string",
                )),
            })
            .collect(),
        _ => Err(type_error(e, path, "a subject or an array of subjects")),
    }
}

/// `true`/`false`, or `{ max, expires }`; 0 keeps nats-server's default, negative is unlimited.
fn allow_responses(e: &Entry, path: &str) -> Result<Option<ResponsePermission>> {
    let mut rp = ResponsePermission {
        max_msgs: 1,
        expires: RESPONSE_EXPIRES_DEFAULT,
    };
    let m = match &e.value.kind {
        Kind::Bool(true) => return Ok(Some(rp)),
        Kind::Bool(false) => return Ok(None),
        Kind::Map(m) => m,
        _ => {
            return Err(key_error(
                e,
                path,
                "error parsing response permissions, expected a boolean or a map",
            ))
        }
    };
    for entry in &m.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = join(path, &key);
        match key.as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => match int(entry, &p)? {
                0 => {}
                n if n < 0 => rp.max_msgs = u64::MAX,
                n => rp.max_msgs = n.unsigned_abs(),
            },
            "expires" | "expiration" | "ttl" => {
                let Kind::String(s) = &entry.value.kind else {
                    return Err(key_error(
                        entry,
                        &p,
                        "error parsing expires, not a duration string",
                    ));
                };
                let d = parse_go_duration(s)
                    .map_err(|m| key_error(entry, &p, format!("error parsing expires: {m}")))?;
                if d.negative {
                    rp.expires = Duration::ZERO;
                } else if !d.magnitude.is_zero() {
                    rp.expires = d.magnitude;
                }
            }
            _ if entry.referenced => {}
            _ => {
                return Err(key_error(
                    entry,
                    &p,
                    format!("Unknown field {:?} parsing permissions", entry.key),
                ))
            }
        }
    }
    Ok(Some(rp))
}
