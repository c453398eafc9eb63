//! nats-server's command line, parsed the way Go's `flag` package does it.
//!
//! One or two dashes (`-js`, `--jetstream`); values as `-flag value` or `-flag=value`; booleans
//! only as `-flag` or `-flag=false` (a following word is never a boolean's value); a value flag
//! takes the next argument even when it starts with a dash (`-p -1`). Parsing stops at `--` or at
//! the first argument that is not a flag; of those, nats-server knows only `version` and `help`.

use super::ConfigError;

/// Every flag that was given; `None` means "not on the command line", so the config file's
/// value (or the default) stays.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub server_name: Option<String>,
    pub http_port: Option<i64>,
    pub jetstream: Option<bool>,
    pub store_dir: Option<String>,
    pub config: Option<String>,
    pub log_file: Option<String>,
    pub logtime: Option<bool>,
    pub pid_file: Option<String>,
    pub ports_file_dir: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth: Option<String>,
    pub no_auth_user: Option<String>,
    pub debug: Option<bool>,
    pub trace: Option<bool>,
    pub version: bool,
    pub help: bool,
    pub check: bool,
    pub signal: Option<String>,
    /// `--tls` / `--tlsverify` (which implies `--tls`).
    pub tls: Option<bool>,
    pub tls_verify: Option<bool>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_ca_cert: Option<String>,
    /// Accepted flags Nile does not act on.
    pub warnings: Vec<String>,
}

/// What a flag does with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Host,
    Port,
    ServerName,
    HttpPort,
    JetStream,
    StoreDir,
    Config,
    LogFile,
    LogTime,
    PidFile,
    PortsFileDir,
    User,
    Pass,
    Auth,
    NoAuthUser,
    Debug,
    Trace,
    DebugTrace,
    Version,
    Help,
    Check,
    Signal,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    /// Accepted and ignored, with the reason logged.
    Ignored(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    Bool,
    Int,
    Str,
}

const NO_CLUSTER: &str = "Nile runs as a single server (no clustering)";
const NO_SYSLOG: &str = "Nile logs to stderr or the -l file only";

/// nats-server 2.x's flags (`server/opts.go`, `ConfigureOptions`), plus `--no_auth_user`.
const FLAGS: &[(&[&str], Arg, Target)] = &[
    (&["a", "addr", "net"], Arg::Str, Target::Host),
    (&["p", "port"], Arg::Int, Target::Port),
    (&["n", "name", "server_name"], Arg::Str, Target::ServerName),
    (&["m", "http_port"], Arg::Int, Target::HttpPort),
    (&["js", "jetstream"], Arg::Bool, Target::JetStream),
    (&["sd", "store_dir"], Arg::Str, Target::StoreDir),
    (&["c", "config"], Arg::Str, Target::Config),
    (&["l", "log"], Arg::Str, Target::LogFile),
    (&["T", "logtime"], Arg::Bool, Target::LogTime),
    (&["P", "pid"], Arg::Str, Target::PidFile),
    (&["ports_file_dir"], Arg::Str, Target::PortsFileDir),
    (&["user"], Arg::Str, Target::User),
    (&["pass"], Arg::Str, Target::Pass),
    (&["auth"], Arg::Str, Target::Auth),
    (&["no_auth_user"], Arg::Str, Target::NoAuthUser),
    (&["D", "debug"], Arg::Bool, Target::Debug),
    (&["V", "VV", "trace"], Arg::Bool, Target::Trace),
    (&["DV", "DVV"], Arg::Bool, Target::DebugTrace),
    (&["v", "version"], Arg::Bool, Target::Version),
    (&["h", "help", "help_tls"], Arg::Bool, Target::Help),
    (&["t"], Arg::Bool, Target::Check),
    (&["sl", "signal"], Arg::Str, Target::Signal),
    (
        &["ms", "https_port"],
        Arg::Int,
        Target::Ignored("Nile serves monitoring over plain HTTP only"),
    ),
    (&["s", "syslog"], Arg::Bool, Target::Ignored(NO_SYSLOG)),
    (
        &["r", "remote_syslog"],
        Arg::Str,
        Target::Ignored(NO_SYSLOG),
    ),
    (
        &["logtime_utc"],
        Arg::Bool,
        Target::Ignored("Nile's log timestamps are always UTC"),
    ),
    (
        &["log_size_limit"],
        Arg::Int,
        Target::Ignored("Nile does not rotate its log"),
    ),
    (
        &["max_traced_msg_len"],
        Arg::Int,
        Target::Ignored("Nile does not truncate traced messages"),
    ),
    (
        &["profile"],
        Arg::Int,
        Target::Ignored("Nile has no Go profiling port"),
    ),
    (
        &[
            "routes",
            "cluster",
            "cluster_listen",
            "cluster_advertise",
            "cluster_name",
        ],
        Arg::Str,
        Target::Ignored(NO_CLUSTER),
    ),
    (&["client_advertise"], Arg::Str, Target::Ignored(NO_CLUSTER)),
    (&["no_advertise"], Arg::Bool, Target::Ignored(NO_CLUSTER)),
    (&["connect_retries"], Arg::Int, Target::Ignored(NO_CLUSTER)),
    (&["tls"], Arg::Bool, Target::Tls),
    (&["tlsverify"], Arg::Bool, Target::TlsVerify),
    (&["tlscert"], Arg::Str, Target::TlsCert),
    (&["tlskey"], Arg::Str, Target::TlsKey),
    (&["tlscacert"], Arg::Str, Target::TlsCaCert),
];

fn lookup(name: &str) -> Option<(Arg, Target)> {
    FLAGS
        .iter()
        .find(|(names, _, _)| names.contains(&name))
        .map(|&(_, arg, target)| (arg, target))
}

fn usage(message: String) -> ConfigError {
    ConfigError::Usage(message)
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`, `0b`, leading-zero octal, `_`.
fn go_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower)
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Parse the arguments after argv[0].
pub fn parse_flags(args: &[String]) -> Result<Flags, ConfigError> {
    let mut flags = Flags::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            return positional(flags, args.get(i..).unwrap_or_default());
        }
        let Some(body) = flag_body(arg)? else {
            return positional(flags, args.get(i - 1..).unwrap_or_default());
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let (kind, target) =
            lookup(name).ok_or_else(|| usage(format!("flag provided but not defined: -{name}")))?;
        let value = match (kind, inline) {
            (_, Some(v)) => v,
            (Arg::Bool, None) => "true".to_string(),
            (_, None) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| usage(format!("flag needs an argument: -{name}")))?;
                i += 1;
                v.clone()
            }
        };
        set(&mut flags, name, kind, target, &value)?;
    }
    Ok(flags)
}

/// `-x`/`--x` → `Some("x")`; a non-flag → `None`; `---x` or `-=x` → Go's "bad flag syntax".
fn flag_body(arg: &str) -> Result<Option<&str>, ConfigError> {
    let Some(rest) = arg.strip_prefix('-') else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let body = rest.strip_prefix('-').unwrap_or(rest);
    if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
        return Err(usage(format!("bad flag syntax: {arg}")));
    }
    Ok(Some(body))
}

/// Non-flag arguments: nats-server understands the commands `version` and `help` only.
fn positional(mut flags: Flags, rest: &[String]) -> Result<Flags, ConfigError> {
    for arg in rest {
        match arg.to_ascii_lowercase().as_str() {
            "version" => flags.version = true,
            "help" => flags.help = true,
            _ => return Err(usage(format!("unrecognized command: {arg:?}"))),
        }
    }
    Ok(flags)
}

fn set(
    flags: &mut Flags,
    name: &str,
    kind: Arg,
    target: Target,
    value: &str,
) -> Result<(), ConfigError> {
    let invalid = || {
        usage(format!(
            "invalid value {value:?} for flag -{name}: parse error"
        ))
    };
    let b = || go_bool(value).ok_or_else(invalid);
    let n = || go_int(value).ok_or_else(invalid);
    let s = || Some(value.to_string());
    match target {
        Target::Host => flags.host = s(),
        Target::Port => flags.port = Some(n()?),
        Target::ServerName => flags.server_name = s(),
        Target::HttpPort => flags.http_port = Some(n()?),
        Target::JetStream => flags.jetstream = Some(b()?),
        Target::StoreDir => flags.store_dir = s(),
        Target::Config => flags.config = s(),
        Target::LogFile => flags.log_file = s(),
        Target::LogTime => flags.logtime = Some(b()?),
        Target::PidFile => flags.pid_file = s(),
        Target::PortsFileDir => flags.ports_file_dir = s(),
        Target::User => flags.user = s(),
        Target::Pass => flags.pass = s(),
        Target::Auth => flags.auth = s(),
        Target::NoAuthUser => flags.no_auth_user = s(),
        Target::Debug => flags.debug = Some(b()?),
        Target::Trace => flags.trace = Some(b()?),
        Target::DebugTrace => {
            let on = b()?;
            flags.debug = Some(on);
            flags.trace = Some(on);
        }
        Target::Version => flags.version = b()?,
        Target::Help => flags.help = b()?,
        Target::Check => flags.check = b()?,
        Target::Signal => flags.signal = s(),
        Target::Tls => flags.tls = Some(b()?),
        Target::TlsVerify => flags.tls_verify = Some(b()?),
        Target::TlsCert => flags.tls_cert = s(),
        Target::TlsKey => flags.tls_key = s(),
        Target::TlsCaCert => flags.tls_ca_cert = s(),
        Target::Ignored(why) => {
            // Still type-check the value, as nats-server would reject `-ms abc`.
            match kind {
                Arg::Bool => {
                    b()?;
                }
                Arg::Int => {
                    n()?;
                }
                Arg::Str => {}
            }
            flags.warnings.push(format!("flag -{name} ignored: {why}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_flags(&args)
    }

    #[test]
    fn dashes_and_values() {
        let f = parse(&[
            "-p",
            "4222",
            "--addr=127.0.0.1",
            "-js",
            "-sd=/tmp/d",
            "--name",
            "n1",
        ])
        .unwrap();
        assert_eq!(f.port, Some(4222));
        assert_eq!(f.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(f.jetstream, Some(true));
        assert_eq!(f.store_dir.as_deref(), Some("/tmp/d"));
        assert_eq!(f.server_name.as_deref(), Some("n1"));
    }

    #[test]
    fn value_flag_takes_dash_value() {
        assert_eq!(parse(&["-p", "-1"]).unwrap().port, Some(-1));
        assert_eq!(parse(&["--port=-1"]).unwrap().port, Some(-1));
    }

    #[test]
    fn every_alias() {
        let f = parse(&[
            "--net",
            "h",
            "--port",
            "1",
            "--server_name",
            "s",
            "--http_port",
            "2",
            "--jetstream",
            "--store_dir",
            "d",
            "--config",
            "c",
            "--log",
            "l",
            "--logtime=false",
            "--pid",
            "p",
            "--ports_file_dir",
            "pf",
            "--user",
            "u",
            "--pass",
            "pw",
            "--auth",
            "tok",
            "--no_auth_user",
            "u",
            "--debug",
            "--trace",
            "-t",
        ])
        .unwrap();
        assert_eq!(f.host.as_deref(), Some("h"));
        assert_eq!(f.http_port, Some(2));
        assert_eq!(f.config.as_deref(), Some("c"));
        assert_eq!(f.log_file.as_deref(), Some("l"));
        assert_eq!(f.logtime, Some(false));
        assert_eq!(f.pid_file.as_deref(), Some("p"));
        assert_eq!(f.ports_file_dir.as_deref(), Some("pf"));
        assert_eq!(f.user.as_deref(), Some("u"));
        assert_eq!(f.pass.as_deref(), Some("pw"));
        assert_eq!(f.auth.as_deref(), Some("tok"));
        assert_eq!(f.no_auth_user.as_deref(), Some("u"));
        assert_eq!((f.debug, f.trace, f.check), (Some(true), Some(true), true));
        let f = parse(&[
            "-a", "h", "-n", "x", "-m", "8222", "-c", "f", "-l", "l", "-T", "-P", "p",
        ])
        .unwrap();
        assert_eq!(f.http_port, Some(8222));
        assert_eq!(f.logtime, Some(true));
    }

    #[test]
    fn verbosity() {
        let f = parse(&["-DV"]).unwrap();
        assert_eq!((f.debug, f.trace), (Some(true), Some(true)));
        let f = parse(&["-VV"]).unwrap();
        assert_eq!((f.debug, f.trace), (None, Some(true)));
        let f = parse(&["-DVV"]).unwrap();
        assert_eq!((f.debug, f.trace), (Some(true), Some(true)));
        let f = parse(&["-D", "-V"]).unwrap();
        assert_eq!((f.debug, f.trace), (Some(true), Some(true)));
        let f = parse(&["-DV=false"]).unwrap();
        assert_eq!((f.debug, f.trace), (Some(false), Some(false)));
    }

    #[test]
    fn bool_never_takes_next_word() {
        // `-js false` is `-js` plus the unknown command "false", as in Go.
        assert_eq!(
            parse(&["-js", "false"]).unwrap_err(),
            ConfigError::Usage("unrecognized command: \"false\"".into())
        );
        assert_eq!(parse(&["-T=false"]).unwrap().logtime, Some(false));
        assert_eq!(parse(&["-T=0"]).unwrap().logtime, Some(false));
        assert!(parse(&["-T=nope"]).is_err());
    }

    #[test]
    fn version_help_signal() {
        assert!(parse(&["-v"]).unwrap().version);
        assert!(parse(&["--version"]).unwrap().version);
        assert!(parse(&["version"]).unwrap().version);
        assert!(parse(&["-h"]).unwrap().help);
        assert!(parse(&["--help_tls"]).unwrap().help);
        assert!(parse(&["help"]).unwrap().help);
        assert_eq!(
            parse(&["--signal", "ldm=12"]).unwrap().signal.as_deref(),
            Some("ldm=12")
        );
        assert_eq!(
            parse(&["-sl=stop"]).unwrap().signal.as_deref(),
            Some("stop")
        );
    }

    #[test]
    fn ignored_flags_warn() {
        let f = parse(&[
            "--routes",
            "nats://a:1",
            "--cluster",
            "nats://127.0.0.1:6222",
            "--cluster_listen",
            "x",
            "--cluster_name",
            "c",
            "--no_advertise",
            "--client_advertise",
            "h",
            "--connect_retries",
            "3",
            "-ms",
            "8443",
            "-s",
            "-r",
            "udp://x",
            "--logtime_utc",
        ])
        .unwrap();
        assert_eq!(f.warnings.len(), 11);
        assert!(f.warnings[0].contains("-routes"));
        assert!(parse(&["--connect_retries", "x"]).is_err());
    }

    #[test]
    fn errors() {
        let e = |args: &[&str]| match parse(args).unwrap_err() {
            ConfigError::Usage(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(e(&["--foo"]), "flag provided but not defined: -foo");
        assert_eq!(
            e(&["--max_payload", "1"]),
            "flag provided but not defined: -max_payload"
        );
        assert_eq!(e(&["-p"]), "flag needs an argument: -p");
        assert_eq!(
            e(&["-p", "abc"]),
            "invalid value \"abc\" for flag -p: parse error"
        );
        assert_eq!(e(&["---p"]), "bad flag syntax: ---p");
        assert_eq!(e(&["foo"]), "unrecognized command: \"foo\"");
    }

    #[test]
    fn go_ints() {
        assert_eq!(go_int("4222"), Some(4222));
        assert_eq!(go_int("-1"), Some(-1));
        assert_eq!(go_int("0x10"), Some(16));
        assert_eq!(go_int("010"), Some(8));
        assert_eq!(go_int("1_000"), Some(1000));
        assert_eq!(go_int(""), None);
        assert_eq!(go_int("99999999999999999999"), None);
    }

    #[test]
    fn double_dash_ends_flags() {
        assert!(parse(&["-p", "1", "--", "version"]).unwrap().version);
        assert!(parse(&["--", "-p"]).is_err());
    }
}
