//! Tests of the config parser, the key mapping and `load`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::keys::Mapper;
use super::parser::{self, Env, Kind, Map, Value};
use super::*;
use crate::options::{
    Options, Permissions, Port, ResponsePermission, SubjectPermission, SyncPolicy,
    PAYLOAD_BYTES_MAX_DEFAULT,
};

/// Files and environment variables in memory.
#[derive(Default)]
struct MemEnv {
    files: HashMap<String, String>,
    vars: HashMap<String, String>,
}

impl MemEnv {
    fn file(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
    fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl Env for MemEnv {
    fn include(&self, from: &str, path: &str) -> Result<(String, String), String> {
        let full = resolve_include(from, path).display().to_string();
        match self.files.get(&full) {
            Some(text) => Ok((full, text.clone())),
            None => Err(format!("open {path}: no such file or directory")),
        }
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

fn tree_env(text: &str, env: &MemEnv) -> Result<Map, ConfigError> {
    parse_text("/etc/nile/main.conf", text, env)
}

fn tree(text: &str) -> Map {
    tree_env(text, &MemEnv::default()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn parse_err(text: &str) -> ConfigError {
    tree_env(text, &MemEnv::default()).expect_err(text)
}

/// The value of top-level `key` (last one wins).
fn get(map: &Map, key: &str) -> Kind {
    map.entries
        .iter()
        .rev()
        .find(|e| e.key == key)
        .map(|e| e.value.kind.clone())
        .unwrap_or_else(|| panic!("no key {key} in {map:?}"))
}

fn value(text: &str) -> Kind {
    get(&tree(&format!("k: {text}\n")), "k")
}

fn s(v: &str) -> Kind {
    Kind::String(v.into())
}

fn strings(kinds: &Kind) -> Vec<Kind> {
    match kinds {
        Kind::Array(items) => items.iter().map(|v: &Value| v.kind.clone()).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn map_of(kind: &Kind) -> &Map {
    match kind {
        Kind::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

fn options_env(text: &str, env: &MemEnv) -> Result<(Options, Vec<String>), ConfigError> {
    let map = tree_env(text, env)?;
    let mut opts = Options::default();
    let mut mapper = Mapper::default();
    mapper.apply(&map, &mut opts)?;
    Ok((opts, mapper.warnings))
}

fn options(text: &str) -> Options {
    options_env(text, &MemEnv::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .0
}

fn warnings(text: &str) -> Vec<String> {
    options_env(text, &MemEnv::default()).unwrap().1
}

fn key_err(text: &str) -> (usize, String, String) {
    match options_env(text, &MemEnv::default()) {
        Err(ConfigError::Key {
            line, key, message, ..
        }) => (line, key, message),
        other => panic!("expected a key error for {text:?}, got {other:?}"),
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn run(list: &[&str]) -> Options {
    match load("nats-server", &args(list)) {
        Ok(Command::Run(opts)) => *opts,
        other => panic!("{list:?}: {other:?}"),
    }
}

// ---------------------------------------------------------------- syntax

#[test]
fn separators() {
    let t = tree("a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6\n");
    for (k, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(get(&t, k), Kind::Integer(n), "{k}");
    }
}

#[test]
fn value_terminators() {
    let t = tree("a: 1; b: 2, c: x;d: y\n");
    assert_eq!(get(&t, "a"), Kind::Integer(1));
    assert_eq!(get(&t, "b"), Kind::Integer(2));
    assert_eq!(get(&t, "c"), s("x"));
    assert_eq!(get(&t, "d"), s("y"));
}

#[test]
fn blocks() {
    let t = tree("a { x: 1 }\nb: { y = 2; z 3 }\nc {\n  d {\n    e: true\n  }\n}\nempty {}\n");
    assert_eq!(get(map_of(&get(&t, "a")), "x"), Kind::Integer(1));
    let b = get(&t, "b");
    assert_eq!(get(map_of(&b), "y"), Kind::Integer(2));
    assert_eq!(get(map_of(&b), "z"), Kind::Integer(3));
    let c = get(&t, "c");
    let d = get(map_of(&c), "d");
    assert_eq!(get(map_of(&d), "e"), Kind::Bool(true));
    assert!(map_of(&get(&t, "empty")).entries.is_empty());
    // `key{` with no blank before the brace.
    assert_eq!(
        get(map_of(&get(&tree("a{x:1}"), "a")), "x"),
        Kind::Integer(1)
    );
}

#[test]
fn arrays() {
    assert_eq!(
        strings(&value("[1, 2, 3]")),
        vec![Kind::Integer(1), Kind::Integer(2), Kind::Integer(3)]
    );
    assert_eq!(strings(&value("[a,b , c,]")), vec![s("a"), s("b"), s("c")]);
    let t = tree("k [\n  a # one\n  \"b\"  // two\n  'c',\n]\n");
    assert_eq!(strings(&get(&t, "k")), vec![s("a"), s("b"), s("c")]);
    assert_eq!(strings(&value("[]")), vec![]);
    assert_eq!(
        strings(&value("[[1], {a: 2}]"))[0],
        Kind::Array(vec![Value {
            kind: Kind::Integer(1),
            pos: parser::Pos {
                file: "/etc/nile/main.conf".into(),
                line: 1,
                column: 6
            }
        }])
    );
    assert_eq!(strings(&value("[ id:abc ]")), vec![s("id:abc")]);
}

#[test]
fn comments() {
    let t = tree("# top\n// also\nport: 1 # trailing\nhost: h // trailing\n  # indented\nx { # in map\n a: 1 // in map\n}\n");
    assert_eq!(get(&t, "port"), Kind::Integer(1));
    assert_eq!(get(&t, "host"), s("h"));
    assert_eq!(t.entries.len(), 3);
    // `#` inside a bare word is part of it, as in nats-server.
    assert_eq!(value("a#b"), s("a#b"));
}

#[test]
fn strings_quoted_and_bare() {
    assert_eq!(
        value(r#""a b\tc\n\"q\" \\ \x41\xc3\xa9""#),
        s("a b\tc\n\"q\" \\ Aé")
    );
    assert_eq!(value(r"'raw \n $x'"), s(r"raw \n $x"));
    assert_eq!(value("bare/path/x.conf"), s("bare/path/x.conf"));
    assert_eq!(value("nats://127.0.0.1:4222"), s("nats://127.0.0.1:4222"));
    assert_eq!(value("localhost:4222"), s("localhost:4222"));
    assert_eq!(value("a\\x41"), s("aA"));
    assert_eq!(value("\"\""), s(""));
    assert_eq!(value("\"true\""), s("true"));
    assert_eq!(value("\"$x\""), s("$x"));
    // Quoted keys.
    let t = tree("\"my key\": 1\n'other': 2\n");
    assert_eq!(get(&t, "my key"), Kind::Integer(1));
    assert_eq!(get(&t, "other"), Kind::Integer(2));
}

#[test]
fn raw_block() {
    let t = tree("k (\nline one\n  line (two)\n)\nn: 1\n");
    assert_eq!(get(&t, "k"), s("\nline one\n  line (two)"));
    assert_eq!(get(&t, "n"), Kind::Integer(1));
}

#[test]
fn numbers() {
    assert_eq!(value("42"), Kind::Integer(42));
    assert_eq!(value("-1"), Kind::Integer(-1));
    assert_eq!(value("0"), Kind::Integer(0));
    assert_eq!(value("3.25"), Kind::Float(3.25));
    assert_eq!(value("-0.5"), Kind::Float(-0.5));
    assert_eq!(value("9223372036854775807"), Kind::Integer(i64::MAX));
    assert_eq!(value("127.0.0.1"), s("127.0.0.1"));
    assert_eq!(value("127.0.0.1:-1"), s("127.0.0.1:-1"));
    assert_eq!(value("0.0.0.0:4222"), s("0.0.0.0:4222"));
    assert_eq!(
        value("2020-01-02T03:04:05Z"),
        Kind::DateTime("2020-01-02T03:04:05Z".into())
    );
    // Starts with a digit but is not a number: a string.
    assert_eq!(value("2s"), s("2s"));
    assert_eq!(value("500ms"), s("500ms"));
    assert_eq!(value("1h"), s("1h"));
    assert_eq!(value("10abc"), s("10abc"));
}

#[test]
fn booleans() {
    for t in ["true", "TRUE", "yes", "Yes", "on", "ON"] {
        assert_eq!(value(t), Kind::Bool(true), "{t}");
    }
    for f in ["false", "False", "no", "NO", "off", "Off"] {
        assert_eq!(value(f), Kind::Bool(false), "{f}");
    }
}

#[test]
fn sizes_match_nats_server() {
    // conf/parse.go: a bare letter is decimal; with b, i or ib it is binary.
    let cases: &[(&str, i64)] = &[
        ("1k", 1000),
        ("1K", 1000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("128KB", 128 * 1024),
        ("1ki", 1024),
        ("1KiB", 1024),
        ("1m", 1_000_000),
        ("1M", 1_000_000),
        ("1MB", 1 << 20),
        ("64MB", 64 << 20),
        ("64MiB", 64 << 20),
        ("1mi", 1 << 20),
        ("1G", 1_000_000_000),
        ("1GB", 1 << 30),
        ("10GiB", 10 << 30),
        ("1T", 1_000_000_000_000),
        ("1TB", 1 << 40),
        ("1TiB", 1 << 40),
        ("1P", 1_000_000_000_000_000),
        ("1PB", 1 << 50),
        ("1E", 1_000_000_000_000_000_000),
        ("1EiB", 1 << 60),
        ("-1K", -1000),
    ];
    for (text, n) in cases {
        assert_eq!(value(text), Kind::Integer(*n), "{text}");
    }
    assert!(matches!(parse_err("k: 1kbb\n"), ConfigError::Parse { .. }));
    assert!(matches!(parse_err("k: 9EB\n"), ConfigError::Parse { .. }));
    assert_eq!(value("1kx"), s("1kx"));
}

#[test]
fn keys_keep_spelling() {
    let t = tree("Port: 1\nHOST: h\n");
    assert_eq!(t.entries[0].key, "Port");
    assert_eq!(t.entries[1].key, "HOST");
}

#[test]
fn whole_file_in_braces() {
    let t = tree("{\n  \"port\": 4222,\n  \"jetstream\": {\"store_dir\": \"/d\"}\n}\n");
    assert_eq!(get(&t, "port"), Kind::Integer(4222));
    assert!(matches!(
        parse_err("{ port: 1\n"),
        ConfigError::Parse { .. }
    ));
}

#[test]
fn key_value_on_next_line() {
    // nats-server allows new lines between a key and its value.
    assert_eq!(get(&tree("port\n  4222\n"), "port"), Kind::Integer(4222));
}

#[test]
fn positions() {
    let t = tree("a: 1\n  bb: \"x\"\nc {\n   d: [1,\n  2]\n}\n");
    let bb = &t.entries[1];
    assert_eq!((bb.key_pos.line, bb.key_pos.column), (2, 3));
    assert_eq!((bb.value.pos.line, bb.value.pos.column), (2, 7));
    let c = map_of(&t.entries[2].value.kind);
    let d = &c.entries[0];
    assert_eq!((d.key_pos.line, d.key_pos.column), (4, 4));
    match &d.value.kind {
        Kind::Array(items) => assert_eq!((items[1].pos.line, items[1].pos.column), (5, 3)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn includes() {
    let env = MemEnv::default()
        .file("/etc/nile/auth.conf", "authorization { token: secret }\n")
        .file(
            "/etc/nile/sub/js.conf",
            "store_dir: /data\ninclude ../limits.conf\n",
        )
        .file("/etc/nile/sub/../limits.conf", "max_mem: 1G\n")
        .file("/etc/nile/q u.conf", "port: 7\n");
    let t = tree_env(
        "include ./auth.conf\njetstream {\n  include 'sub/js.conf'\n}\ninclude \"q u.conf\"\n",
        &env,
    )
    .unwrap();
    let auth = get(&t, "authorization");
    assert_eq!(get(map_of(&auth), "token"), s("secret"));
    let js = get(&t, "jetstream");
    assert_eq!(get(map_of(&js), "store_dir"), s("/data"));
    assert_eq!(get(map_of(&js), "max_mem"), Kind::Integer(1_000_000_000));
    assert_eq!(get(&t, "port"), Kind::Integer(7));
    // Errors in an included file name that file.
    let env = MemEnv::default().file("/etc/nile/bad.conf", "ok: 1\nport: {\n");
    match tree_env("include bad.conf\n", &env).unwrap_err() {
        ConfigError::Parse { file, line, .. } => {
            assert_eq!(file, "/etc/nile/bad.conf");
            assert_eq!(line, 3);
        }
        other => panic!("{other:?}"),
    }
    match tree_env("\ninclude nope.conf\n", &MemEnv::default()).unwrap_err() {
        ConfigError::Parse { line, message, .. } => {
            assert_eq!(line, 2);
            assert!(
                message.contains("error parsing include file 'nope.conf'"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // An include loop stops with an error instead of recursing forever.
    let env = MemEnv::default().file("/etc/nile/self.conf", "include self.conf\n");
    assert!(tree_env("include self.conf\n", &env).is_err());
}

#[test]
fn include_keyword_needs_a_blank() {
    // `include: x` is an ordinary key (and an unknown field later on).
    assert_eq!(get(&tree("include: x\n"), "include"), s("x"));
}

#[test]
fn variables() {
    let t = tree("TOKEN: abc\nauthorization { token: $TOKEN }\n");
    assert_eq!(get(map_of(&get(&t, "authorization")), "token"), s("abc"));
    assert!(t.entries[0].referenced);
    // Innermost scope first.
    let t = tree("x: 1\nb { x: 2, y: $x }\nc { y: $x }\n");
    assert_eq!(get(map_of(&get(&t, "b")), "y"), Kind::Integer(2));
    assert_eq!(get(map_of(&get(&t, "c")), "y"), Kind::Integer(1));
    // Maps and arrays can be variables too.
    let t = tree("P { publish: a }\nu { permissions: $P }\n");
    assert!(matches!(
        get(map_of(&get(&t, "u")), "permissions"),
        Kind::Map(_)
    ));
    // Environment, parsed as a value.
    let env = MemEnv::default()
        .var("NILE_PORT", "4333")
        .var("SIZE", "1MB")
        .var("NAME", "nile-1");
    let t = tree_env(
        "port: $NILE_PORT\nmax_payload: $SIZE\nserver_name: $NAME\n",
        &env,
    )
    .unwrap();
    assert_eq!(get(&t, "port"), Kind::Integer(4333));
    assert_eq!(get(&t, "max_payload"), Kind::Integer(1 << 20));
    assert_eq!(get(&t, "server_name"), s("nile-1"));
    // The file wins over the environment.
    let env = MemEnv::default().var("X", "env");
    assert_eq!(
        get(&tree_env("X: file\ny: $X\n", &env).unwrap(), "y"),
        s("file")
    );
    // A bcrypt hash is not a variable.
    assert_eq!(value("$2a$11$abc"), s("$2a$11$abc"));
}

#[test]
fn variable_errors() {
    match parse_err("a: 1\nport: $NOPE_NOT_SET\n") {
        ConfigError::Parse { line, message, .. } => {
            assert_eq!(line, 2);
            assert_eq!(
                message,
                "variable reference for 'NOPE_NOT_SET' on line 2 can not be found"
            );
        }
        other => panic!("{other:?}"),
    }
    let env = MemEnv::default().var("A", "$B").var("B", "$A");
    assert!(tree_env("x: $A\n", &env).is_err());
    let env = MemEnv::default().var("A", "{");
    assert!(tree_env("x: $A\n", &env).is_err());
}

#[test]
fn syntax_errors_have_line_and_column() {
    let cases: &[(&str, usize)] = &[
        ("a: 1\nb: \"open\n", 3),
        ("a: 1\nb {\n c: 1\n", 4),
        ("a: \"bad \\q\"\n", 1),
        ("a: [1 2]\n", 1),
        ("\n\nport:\n", 3),
        ("a: 1\nb\n", 2),
        ("a: 1 2\n", 1),
        ("a: .5\n", 1),
        ("a: [,]\n", 1),
        ("a: 1\n}\n", 2),
        ("a { b: 1 c }\n", 1),
        ("a: 2020-01-02\n", 1),
        ("a: 123-4\n", 1),
        ("a: 99999999999999999999\n", 1),
        ("a: 'x\n", 2),
        ("a: (\nno end\n", 3),
        ("= 1\n", 1),
    ];
    for (text, line) in cases {
        match parse_err(text) {
            ConfigError::Parse {
                file,
                line: l,
                column,
                ..
            } => {
                assert_eq!(file, "/etc/nile/main.conf", "{text:?}");
                assert_eq!(l, *line, "{text:?}");
                assert!(column >= 1, "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let e = parse_err("a: 1\nb: \"x\\q\"\n").to_string();
    assert!(e.starts_with("/etc/nile/main.conf:2:"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = format!("a: {}", "[".repeat(10_000));
    assert!(tree_env(&text, &MemEnv::default()).is_err());
    let text = format!("a: {}", "{b: ".repeat(10_000));
    assert!(tree_env(&text, &MemEnv::default()).is_err());
}

// ---------------------------------------------------------------- keys

#[test]
fn listen_port_host() {
    let o = options("port: 4222\nhost: 127.0.0.1\n");
    assert_eq!((o.port, o.host.as_str()), (Port::Fixed(4222), "127.0.0.1"));
    assert_eq!(options("net: ::1\n").host, "::1");
    assert_eq!(options("port: -1\n").port, Port::Random);
    // 0 means "default", as in nats-server.
    assert_eq!(options("port: 0\n").port, Port::Fixed(6666));
    let o = options("listen: 10.0.0.1:5222\n");
    assert_eq!((o.port, o.host.as_str()), (Port::Fixed(5222), "10.0.0.1"));
    let o = options("listen: \"[::1]:5222\"\n");
    assert_eq!((o.port, o.host.as_str()), (Port::Fixed(5222), "::1"));
    let o = options("listen: localhost:-1\n");
    assert_eq!((o.port, o.host.as_str()), (Port::Random, "localhost"));
    let o = options("host: h\nlisten: 5222\n");
    assert_eq!((o.port, o.host.as_str()), (Port::Fixed(5222), "0.0.0.0"));
    assert_eq!(key_err("port: 70000\n").1, "port");
    assert_eq!(
        key_err("port: \"abc\"\n").2,
        "expected an integer, got string"
    );
    assert_eq!(
        key_err("listen: nope\n").2,
        "could not parse address string \"nope\""
    );
    assert_eq!(key_err("listen: \"h:x\"\n").2, "could not parse port \"x\"");
}

#[test]
fn monitoring() {
    let o = options("http: \"127.0.0.1:-1\"\n");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.1"), Some(Port::Random))
    );
    let o = options("http: 8222\n");
    assert_eq!((o.http_host, o.http_port), (None, Some(Port::Fixed(8222))));
    assert_eq!(
        options("http_port: 8223\n").http_port,
        Some(Port::Fixed(8223))
    );
    assert_eq!(options("monitor_port: -1\n").http_port, Some(Port::Random));
    assert_eq!(options("http_port: 0\n").http_port, None);
    assert_eq!(warnings("https: 8443\n").len(), 1);
    assert_eq!(warnings("https_port: 8443\n").len(), 1);
}

#[test]
fn names_paths_and_logging() {
    let o = options(
        "server_name: n1\nports_file_dir: /tmp/x\npid_file: /tmp/p.pid\nlog_file: /tmp/l.log\ndebug: true\ntrace: yes\nlogtime: false\nno_auth_user: bob\n",
    );
    assert_eq!(o.server_name.as_deref(), Some("n1"));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp/x")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/p.pid")));
    assert_eq!(o.log.file, Some(PathBuf::from("/tmp/l.log")));
    assert!(o.log.debug && o.log.trace);
    assert_eq!(o.log.time, Some(false));
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("bob"));
    let o = options("pidfile: a\nlogfile: b\ntrace_verbose: true\n");
    assert_eq!(o.pid_file, Some(PathBuf::from("a")));
    assert_eq!(o.log.file, Some(PathBuf::from("b")));
    assert!(o.log.trace);
    assert_eq!(
        key_err("server_name: \"a b\"\n").2,
        "server name cannot contain spaces"
    );
    assert_eq!(key_err("debug: 1\n").2, "expected a boolean, got integer");
}

#[test]
fn limits() {
    let o = options(
        "max_payload: 128KB\nmax_connections: 100\nmax_control_line: 8KB\nmax_pending: 128MB\nping_max: 5\n",
    );
    assert_eq!(o.payload_bytes_max, 128 * 1024);
    assert_eq!(o.connections_max, 100);
    assert_eq!(o.control_line_bytes_max, 8192);
    assert_eq!(o.pending_bytes_max, 128 << 20);
    assert_eq!(o.pings_out_max, 5);
    assert_eq!(options("max_conn: 7\n").connections_max, 7);
    assert_eq!(
        options("max_payload: 0\n").payload_bytes_max,
        PAYLOAD_BYTES_MAX_DEFAULT
    );
    assert_eq!(options("max_payload: 64MiB\n").payload_bytes_max, 64 << 20);
    let (line, key, message) = key_err("\nmax_payload: 65MB\n");
    assert_eq!((line, key.as_str()), (2, "max_payload"));
    assert!(message.contains("too big"), "{message}");
    assert!(key_err("max_payload: -5\n").2.contains("negative"));
    let (_, key, message) = key_err("max_pending: 1MB\nmax_payload: 2MB\n");
    assert_eq!(key, "max_payload");
    assert!(
        message.contains("cannot be higher than max_pending"),
        "{message}"
    );
    // A smaller payload than the default pending is fine.
    assert_eq!(options("max_payload: 8MB\n").payload_bytes_max, 8 << 20);
}

#[test]
fn timers() {
    let o = options("ping_interval: \"30s\"\nwrite_deadline: \"2s\"\nlame_duck_duration: \"1m\"\nlame_duck_grace_period: \"500ms\"\n");
    assert_eq!(o.ping_interval, Duration::from_secs(30));
    assert_eq!(o.write_deadline, Duration::from_secs(2));
    assert_eq!(
        options("read_spin: \"250us\"\n").read_spin,
        Some(Duration::from_micros(250))
    );
    assert_eq!(
        options("read_spin: \"0s\"\n").read_spin,
        Some(Duration::ZERO)
    );
    assert_eq!(o.lame_duck_duration, Duration::from_secs(60));
    assert_eq!(o.lame_duck_grace, Duration::from_millis(500));
    // Bare durations are strings too...
    assert_eq!(
        options("ping_interval: 30s\n").ping_interval,
        Duration::from_secs(30)
    );
    // ...except `2m`, `1k`, `5g`: nats-server reads a size suffix there, so an unquoted `2m` is
    // 2000000 (seconds, with a warning).
    assert_eq!(value("2m"), Kind::Integer(2_000_000));
    let (o, w) = options_env("ping_interval: 2m\n", &MemEnv::default()).unwrap();
    assert_eq!(o.ping_interval, Duration::from_secs(2_000_000));
    assert_eq!(w.len(), 1);
    // Integer seconds: accepted with nats-server's deprecation warning.
    let (o, w) = options_env("ping_interval: 5\n", &MemEnv::default()).unwrap();
    assert_eq!(o.ping_interval, Duration::from_secs(5));
    assert!(w[0].contains("should be converted to a duration"), "{w:?}");
    assert!(key_err("lame_duck_duration: \"5s\"\n")
        .2
        .contains("minimum is 30 seconds"));
    assert!(key_err("lame_duck_duration: 60\n")
        .2
        .contains("expected a string"));
    assert!(key_err("ping_interval: \"5x\"\n")
        .2
        .contains("error parsing ping_interval"));
    assert!(key_err("write_deadline: \"-1s\"\n").2.contains("negative"));
}

#[test]
fn jetstream_forms() {
    assert!(options("jetstream: enabled\n").jetstream.enabled);
    assert!(options("jetstream: true\n").jetstream.enabled);
    assert!(!options("jetstream: disabled\n").jetstream.enabled);
    assert!(!options("jetstream: false\n").jetstream.enabled);
    assert!(options("jetstream {}\n").jetstream.enabled);
    assert!(!options("jetstream { enabled: false }\n").jetstream.enabled);
    assert!(key_err("jetstream: foo\n")
        .2
        .contains("Expected 'enabled' or 'disabled'"));
    let o = options(
        "jetstream {\n store_dir: \"/data\"\n max_memory_store: 1G\n max_file_store: 10GiB\n sync_interval: \"2m\"\n strict: false\n domain: hub\n}\n",
    );
    let js = o.jetstream;
    assert!(js.enabled);
    assert_eq!(js.store_dir, PathBuf::from("/data"));
    assert_eq!(js.max_memory_bytes, Some(1_000_000_000));
    assert_eq!(js.max_file_bytes, Some(10 << 30));
    assert_eq!(js.sync, SyncPolicy::Interval(Duration::from_secs(120)));
    assert!(!js.strict);
    assert_eq!(js.domain.as_deref(), Some("hub"));
    let js =
        options("jetstream { store: /a, max_mem_store: 64MiB, max_file: \"1G\", sync: always }\n")
            .jetstream;
    assert_eq!(js.store_dir, PathBuf::from("/a"));
    assert_eq!(js.max_memory_bytes, Some(64 << 20));
    assert_eq!(js.max_file_bytes, Some(1 << 30), "string sizes are binary");
    assert_eq!(js.sync, SyncPolicy::Always);
    let js = options("jetstream { storedir: /b, max_mem: 1024, max_file_store: -1 }\n").jetstream;
    assert_eq!(js.store_dir, PathBuf::from("/b"));
    assert_eq!(js.max_memory_bytes, Some(1024));
    assert_eq!(js.max_file_bytes, None);
    assert_eq!(
        options("store_dir: /top\n").jetstream.store_dir,
        PathBuf::from("/top")
    );
    assert!(key_err("store_dir: /a\njetstream { store_dir: /b }\n")
        .2
        .contains("Duplicate"));
    let (_, key, msg) = key_err("jetstream {\n  bogus: 1\n}\n");
    assert_eq!(
        (key.as_str(), msg.as_str()),
        ("jetstream.bogus", "unknown field \"bogus\"")
    );
    assert_eq!(
        warnings("jetstream { unique_tag: az, max_buffered_msgs: 5 }\n").len(),
        2
    );
    assert!(key_err("jetstream { max_mem: \"1X\" }\n")
        .2
        .contains("must end in K, M, G, T"));
    assert!(key_err("jetstream { sync_interval: \"0s\" }\n")
        .2
        .contains("positive"));
}

#[test]
fn authorization_forms() {
    let a = options("authorization { token: s3cret, timeout: 3 }\n").auth;
    assert_eq!(a.token.as_deref(), Some("s3cret"));
    assert_eq!(a.timeout, Some(Duration::from_secs(3)));
    assert!(a.required());
    assert_eq!(
        options("authorization { timeout: 0.5 }\n").auth.timeout,
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        options("authorization { timeout: \"2s\" }\n").auth.timeout,
        Some(Duration::from_secs(2))
    );
    assert_eq!(warnings("authorization { timeout: 90 }\n").len(), 1);
    let a = options("authorization { user: alice, password: pw }\n").auth;
    assert_eq!(a.users.len(), 1);
    assert_eq!(
        (a.users[0].username.as_str(), a.users[0].password.as_str()),
        ("alice", "pw")
    );
    let a = options("authorization { username: alice, pass: $2a$11$hash }\n").auth;
    assert_eq!(a.users[0].password, "$2a$11$hash");
    assert!(
        key_err("authorization { token: t, user: a, password: b }\n")
            .2
            .contains("Cannot have a user/pass and token")
    );
    assert!(key_err("authorization { user: a, users: [] }\n")
        .2
        .contains("single user/pass and a users array"));
    // Nile allows a token beside users (Memphis logins).
    let a = options("authorization { token: t, users: [ {user: a, password: b} ] }\n").auth;
    assert_eq!((a.token.as_deref(), a.users.len()), (Some("t"), 1));
    let (_, key, _) = key_err("authorization {\n  nope: 1\n}\n");
    assert_eq!(key, "authorization.nope");
}

#[test]
fn users_and_permissions() {
    let text = r#"
authorization {
  default_permissions { publish: "_INBOX.>" }
  users = [
    { user: a, password: pa, permissions: { publish: "foo.>", subscribe: ["bar", "baz.*"] } }
    { username: b, password: pb, permission: { publish: { allow: ["x"], deny: "x.secret" }, subscribe: { deny: [">"] } } }
    { user: c, password: pc, permissions: { allow_responses: true } }
    { user: d, password: pd, permissions: { publish: [], allow_responses: { max: 5, expires: "1m" } } }
    { user: e, password: pe }
    { nkey: UCK5N7N66OBOINFXAYC2ACJQYFSOD4VYNU6APEJTAVFZB2SVHLKGEW7L }
  ]
}
"#;
    let (o, w) = options_env(text, &MemEnv::default()).unwrap();
    let users = &o.auth.users;
    assert_eq!(users.len(), 6);
    assert_eq!(
        users[5].nkey.as_deref(),
        Some("UCK5N7N66OBOINFXAYC2ACJQYFSOD4VYNU6APEJTAVFZB2SVHLKGEW7L")
    );
    let allow = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let pa = users[0].permissions.clone().unwrap();
    assert_eq!(pa.publish.unwrap().allow, allow(&["foo.>"]));
    assert_eq!(pa.subscribe.unwrap().allow, allow(&["bar", "baz.*"]));
    let pb = users[1].permissions.clone().unwrap();
    assert_eq!(
        pb.publish,
        Some(SubjectPermission {
            allow: allow(&["x"]),
            deny: vec!["x.secret".into()]
        })
    );
    assert_eq!(
        pb.subscribe,
        Some(SubjectPermission {
            allow: None,
            deny: vec![">".into()]
        })
    );
    let pc = users[2].permissions.clone().unwrap();
    assert_eq!(
        pc.allow_responses,
        Some(ResponsePermission {
            max_msgs: 1,
            expires: Duration::from_secs(120)
        })
    );
    // Responses turn the publish allow list into an explicit (empty) one.
    assert_eq!(pc.publish.unwrap().allow, Some(vec![]));
    let pd = users[3].permissions.clone().unwrap();
    assert_eq!(
        pd.allow_responses,
        Some(ResponsePermission {
            max_msgs: 5,
            expires: Duration::from_secs(60)
        })
    );
    // Default permissions go to users without their own.
    assert_eq!(
        users[4].permissions,
        Some(Permissions {
            publish: Some(SubjectPermission {
                allow: allow(&["_INBOX.>"]),
                deny: vec![]
            }),
            ..Permissions::default()
        })
    );
    assert!(o.auth.default_permissions.is_some());
    assert!(!w.iter().any(|w| w.contains("NKey")), "{w:?}");
    assert_eq!(
        options("authorization { users: [ {user: a, permissions: { publish: {} }} ] }\n")
            .auth
            .users[0]
            .permissions
            .clone()
            .unwrap()
            .publish,
        None
    );
    let p = options("authorization { users: [ {user: a, permissions: { allow_responses: { max: -1, expires: \"-1s\" } }} ] }\n")
        .auth
        .users[0]
        .permissions
        .clone()
        .unwrap();
    assert_eq!(
        p.allow_responses,
        Some(ResponsePermission {
            max_msgs: u64::MAX,
            expires: Duration::ZERO
        })
    );
    assert!(options(
        "authorization { users: [ {user: a, permissions: { allow_responses: false }} ] }\n"
    )
    .auth
    .users[0]
        .permissions
        .clone()
        .unwrap()
        .allow_responses
        .is_none());
}

#[test]
fn user_errors() {
    assert!(key_err("authorization { users: [ {password: x} ] }\n")
        .2
        .contains("requires a user"));
    assert!(key_err("authorization { users: [ a ] }\n")
        .2
        .contains("map/struct"));
    assert!(key_err("authorization { users: a }\n").2.contains("array"));
    assert!(
        key_err("authorization { users: [ {user: a}, {user: a} ] }\n")
            .2
            .contains("Duplicate user")
    );
    let (_, key, msg) =
        key_err("authorization { users: [ {user: a, permissions: { publish: a, x: 1 }} ] }\n");
    assert_eq!(key, "authorization.users.permissions.x");
    assert_eq!(msg, "Unknown field \"x\" parsing permissions");
    assert!(key_err(
        "authorization { users: [ {user: a, permissions: { publish: { allow: a, nope: b } }} ] }\n"
    )
    .2
    .contains("only 'allow' or 'deny'"));
    assert!(
        key_err("authorization { users: [ {user: a, permissions: { publish: [1] }} ] }\n")
            .2
            .contains("cannot be cast to string")
    );
    assert!(key_err(
        "authorization { users: [ {user: a, permissions: { allow_responses: 1 }} ] }\n"
    )
    .2
    .contains("expected a boolean or a map"));
    assert!(
        key_err("authorization { users: [ {user: a, bogus: 1} ] }\n")
            .1
            .ends_with("bogus")
    );
}

#[test]
fn account_exports_and_imports() {
    let o = options(
        "accounts { A { exports: [{stream: \"foo.>\"}, {service: \"svc.>\", response_type: stream, accounts: [B]}] }\n B { imports: [{stream: {account: A, subject: \"foo.x\"}, prefix: p}, {service: {account: A, subject: \"svc.>\"}, to: \"s.>\"}] } }\n",
    );
    let (a, b) = (&o.accounts[0], &o.accounts[1]);
    assert_eq!(a.exports.len(), 2);
    assert!(a.exports[1].response_stream && a.exports[1].accounts == ["B"]);
    assert_eq!(b.imports[0].local.as_deref(), Some("p.foo.x"));
    assert_eq!(b.imports[1].local.as_deref(), Some("s.>"));
    let refused = key_err("accounts { A { exports: [{stream: \"foo.>\", accounts: [C]}] }\n B { imports: [{stream: {account: A, subject: \"foo.>\"}}] } }\n");
    assert!(
        refused.2.contains("stream import not authorized"),
        "{refused:?}"
    );
}

#[test]
fn account_jetstream_limits_block() {
    let o = options(
        "accounts: { A { users: [{user: foo}]\n jetstream: { max_mem: 64MB, max_file: 32MB, max_streams: 10, max_consumers: 20, max_ack_pending: 100, memory_max_stream_bytes: 2048, store_max_stream_bytes: 4096, max_stream_bytes: true } } }\n",
    );
    let l = o.accounts[0].jetstream.expect("enabled");
    assert_eq!((l.max_memory, l.max_storage), (64 << 20, 32 << 20));
    assert_eq!(
        (l.max_streams, l.max_consumers, l.max_ack_pending),
        (10, 20, 100)
    );
    assert_eq!(
        (l.memory_max_stream_bytes, l.storage_max_stream_bytes),
        (2048, 4096)
    );
    assert!(l.max_bytes_required && !l.tiered);
    assert!(key_err("accounts: { A { jetstream: { bogus: 1 } } }\n")
        .2
        .contains("bogus"));
}

#[test]
fn accounts_users_are_kept() {
    let text = r#"
accounts {
  A: {
    jetstream: enabled
    users: [ {user: a, password: a} ]
    exports: [ {stream: "x.>"} ]
  }
  B { users [ {user: b, password: b, permissions: {subscribe: "y"}} ] }
}
authorization { users: [ {user: c, password: c} ] }
"#;
    let (o, w) = options_env(text, &MemEnv::default()).unwrap();
    let users = &o.auth.users;
    assert_eq!(users.len(), 3);
    assert_eq!(
        (users[0].username.as_str(), users[0].account.as_deref()),
        ("a", Some("A"))
    );
    assert_eq!(
        (users[1].username.as_str(), users[1].account.as_deref()),
        ("b", Some("B"))
    );
    assert_eq!(users[2].account, None);
    // `jetstream` and `exports` are read now: nothing to warn about.
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<_> = o.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(o.accounts[0].jetstream, Some(Default::default()));
    assert_eq!(o.accounts[1].jetstream, None);
    assert!(
        key_err("accounts { A { users: [ {user: a} ] }, B { users: [ {user: a} ] } }\n")
            .2
            .contains("Duplicate user")
    );
    assert!(key_err("accounts { A: 1 }\n")
        .2
        .contains("Expected map entries"));
    assert_eq!(warnings("accounts: [A, B]\n").len(), 1);
    let u = options("authorization { users: [ {user: a, account: X} ] }\n")
        .auth
        .users;
    assert_eq!(u[0].account.as_deref(), Some("X"));
}

#[test]
fn ignored_blocks_warn() {
    let text = "cluster { name: c, listen: 127.0.0.1:-1, routes: [nats://a:1] }\nleafnodes { listen: \"127.0.0.1:-1\" }\nserver_tags [ id:abc ]\nmqtt { port: 1883 }\ngateway { name: g }\nsystem_account: SYS\n";
    let w = warnings(text);
    // `system_account` is read now: five blocks warn.
    assert_eq!(w.len(), 5, "{w:?}");
    assert!(
        w[0].starts_with("/etc/nile/main.conf:1:1: \"cluster\" ignored"),
        "{w:?}"
    );
}

#[test]
fn unknown_top_level_key_is_an_error() {
    // nats-server 2.9.10: `x.conf:2:1: unknown field "foo"`.
    let (line, key, message) = key_err("port: 1\nfoo: bar\n");
    assert_eq!(
        (line, key.as_str(), message.as_str()),
        (2, "foo", "unknown field \"foo\"")
    );
    let e = options_env("port: 1\nfoo: bar\n", &MemEnv::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "/etc/nile/main.conf:2:1: key \"foo\": unknown field \"foo\""
    );
    // ... unless it was used as a variable.
    let o = options("PORT_VAR: 4333\nport: $PORT_VAR\n");
    assert_eq!(o.port, Port::Fixed(4333));
}

#[test]
fn keys_are_case_insensitive() {
    let o = options("PORT: 4333\nServer_Name: x\nJetStream { Store_Dir: /d, MAX_MEM: 1K }\nAuthorization { Users: [ {USER: a, Password: b, Permissions: {Publish: x}} ] }\n");
    assert_eq!(o.port, Port::Fixed(4333));
    assert_eq!(o.server_name.as_deref(), Some("x"));
    assert_eq!(o.jetstream.store_dir, PathBuf::from("/d"));
    assert_eq!(o.jetstream.max_memory_bytes, Some(1000));
    assert_eq!(o.auth.users[0].username, "a");
}

#[test]
fn later_key_wins() {
    assert_eq!(options("port: 1\nport: 2\n").port, Port::Fixed(2));
}

// ---------------------------------------------------------------- peer-suite configs

#[test]
fn nats_js_generated_config() {
    let text = r#"host: "127.0.0.1"
port: -1
http: "127.0.0.1:-1"
leafnodes {
  listen: "127.0.0.1:-1"
}
websocket {
  port: -1
  no_tls: true
}
server_tags [
  id:Xq4BcnXL3Gq1WcEX2bXbIa
]
ports_file_dir: /tmp/nats-js-12345
jetstream {
  store_dir: "/tmp/jetstream-abc"
  max_mem_store: 64MB
  max_file_store: 10GiB
  max_memory_store: 64MiB
  domain: leaf
}
max_payload: 128KB
debug: true
trace: false
no_auth_user: a
authorization {
  timeout: 2
  users: [
    { user: a, password: a, permission: { publish: { allow: ["q.>"] }, subscribe: { deny: "secret" }, allow_responses: true } }
  ]
}
"#;
    let (o, w) = options_env(text, &MemEnv::default()).unwrap();
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.port, Port::Random);
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.1"), Some(Port::Random))
    );
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp/nats-js-12345")));
    assert!(o.jetstream.enabled);
    assert_eq!(o.jetstream.max_memory_bytes, Some(64 << 20));
    assert_eq!(o.jetstream.max_file_bytes, Some(10 << 30));
    assert_eq!(o.payload_bytes_max, 128 * 1024);
    assert_eq!(o.auth.users[0].username, "a");
    let ws = o.websocket.unwrap();
    assert_eq!((ws.port, ws.tls), (Port::Random, None));
    assert_eq!(w.len(), 2, "{w:?}");
}

#[test]
fn async_nats_configs() {
    let js = options("jetstream: {strict: true}\n").jetstream;
    assert!(js.enabled && js.strict);
    let o = options("jetstream {\n  max_mem_store: 1GB\n  max_file_store: 10GB\n  domain: \"hub\"\n}\nserver_name: hub\nlisten: 127.0.0.1:-1\n");
    assert_eq!(o.jetstream.max_memory_bytes, Some(1 << 30));
    assert_eq!(o.port, Port::Random);
    let o = options("authorization {\n  user: derek\n  password: porkchop\n  timeout: 1\n}\n");
    assert_eq!(o.auth.users[0].username, "derek");
    let o = options("net: localhost\nport: 4222\nmax_payload: 1KB\n");
    assert_eq!(o.payload_bytes_max, 1024);
}

#[test]
fn nats_py_style_config() {
    let o = options("port: 4555\nhttp: 8222\naccounts {\n  JS {\n    jetstream: enabled\n    users: [{user: foo, password: bar}]\n  }\n}\nno_auth_user: foo\njetstream { domain: \"estre\" }\n");
    assert_eq!(o.port, Port::Fixed(4555));
    assert_eq!(o.auth.users[0].account.as_deref(), Some("JS"));
    assert_eq!(o.jetstream.domain.as_deref(), Some("estre"));
}

// ---------------------------------------------------------------- load()

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn zero_args_is_zero_config() {
    let o = run(&[]);
    assert!(o.zero_config && o.jetstream.enabled);
    assert_eq!(o.port, Port::Fixed(6666));
    assert_eq!(o.http_port, Some(Port::Fixed(8222)));
    assert_eq!(o.jetstream.store_dir, PathBuf::from("./nile-data"));
    assert_eq!(o.exe_name, "nats-server");
}

#[test]
fn flags_without_port_keep_6666() {
    let o = run(&["-js"]);
    assert!(!o.zero_config && o.jetstream.enabled);
    assert_eq!(o.port, Port::Fixed(6666));
    assert_eq!(o.http_port, None);
    assert_eq!(o.jetstream.store_dir, PathBuf::from("./nile-data"));
}

#[test]
fn nats_py_command_line() {
    let o = run(&[
        "-p",
        "4222",
        "-m",
        "8222",
        "-a",
        "127.0.0.1",
        "-js",
        "-sd=/tmp/js",
        "--user",
        "u",
        "--pass",
        "p",
    ]);
    assert_eq!(
        (o.port, o.http_port),
        (Port::Fixed(4222), Some(Port::Fixed(8222)))
    );
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.jetstream.store_dir, PathBuf::from("/tmp/js"));
    assert_eq!(o.auth.users[0].username, "u");
    assert_eq!(o.auth.users[0].password, "p");
    let o = run(&[
        "-p",
        "4222",
        "--auth",
        "tok",
        "--cluster_listen",
        "nats://127.0.0.1:6222",
        "--routes",
        "nats://127.0.0.1:6223",
        "--cluster_name",
        "c",
    ]);
    assert_eq!(o.auth.token.as_deref(), Some("tok"));
    assert_eq!(o.warnings.len(), 3);
}

#[test]
fn async_nats_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(&dir, "jetstream.conf", "jetstream {\n  strict: true\n}\n");
    let o = run(&[
        "--store_dir",
        "/tmp/s",
        "-p",
        "-1",
        "-l",
        "/tmp/n.log",
        "-P",
        "/tmp/n.pid",
        "-c",
        &conf,
    ]);
    assert_eq!(o.port, Port::Random);
    assert!(o.jetstream.enabled);
    assert_eq!(o.jetstream.store_dir, PathBuf::from("/tmp/s"));
    assert_eq!(o.log.file, Some(PathBuf::from("/tmp/n.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/n.pid")));
    assert_eq!(o.config_file, Some(PathBuf::from(&conf)));
}

#[test]
fn flags_override_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        &dir,
        "a.conf",
        "port: 4000\nhost: 10.0.0.1\nserver_name: file\ndebug: true\njetstream { enabled: false, store_dir: /f }\nauthorization { user: fu, password: fp }\nhttp_port: 9000\n",
    );
    let o = run(&[
        "-c",
        &conf,
        "-p",
        "5000",
        "-a",
        "127.0.0.1",
        "-n",
        "flag",
        "-D=false",
        "-js",
        "-sd",
        "/g",
        "--user",
        "gu",
        "-m",
        "9001",
    ]);
    assert_eq!(o.port, Port::Fixed(5000));
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.server_name.as_deref(), Some("flag"));
    assert!(!o.log.debug);
    assert!(o.jetstream.enabled);
    assert_eq!(o.jetstream.store_dir, PathBuf::from("/g"));
    assert_eq!(o.auth.users.len(), 1);
    assert_eq!(
        (
            o.auth.users[0].username.as_str(),
            o.auth.users[0].password.as_str()
        ),
        ("gu", "fp")
    );
    assert_eq!(o.http_port, Some(Port::Fixed(9001)));
    // Unset flags leave the file's values.
    let o = run(&["-c", &conf]);
    assert_eq!(o.port, Port::Fixed(4000));
    assert!(!o.jetstream.enabled);
}

#[test]
fn include_relative_to_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir, "sub/auth.conf", "authorization { token: t }\n");
    let conf = write(&dir, "main.conf", "include ./sub/auth.conf\nport: 1234\n");
    let o = run(&["--config", &conf]);
    assert_eq!(o.auth.token.as_deref(), Some("t"));
}

#[test]
fn check_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "good.conf", "port: 4222\n");
    let bad = write(&dir, "bad.conf", "port: 4222\nfoo: 1\n");
    let a = |v: &[&str]| load("nats-server", &args(v));
    assert_eq!(a(&["-c", &good, "-t"]), Ok(Command::TestConfig));
    match a(&["-t", "-c", &bad]).unwrap_err() {
        ConfigError::Key {
            file, line, key, ..
        } => {
            assert_eq!((file, line, key.as_str()), (bad.clone(), 2, "foo"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a(&["-t"]).unwrap_err(),
        ConfigError::Usage(
            "must specify [-c, --config] option to check configuration file syntax".into()
        )
    );
    let missing = dir.path().join("missing.conf").display().to_string();
    assert!(matches!(
        a(&["-c", &missing]).unwrap_err(),
        ConfigError::Io { .. }
    ));
}

#[test]
fn version_help_signal_commands() {
    let a = |v: &[&str]| load("nats-server", &args(v));
    assert_eq!(a(&["-v"]), Ok(Command::Version));
    assert_eq!(a(&["--version", "-h"]), Ok(Command::Version));
    assert_eq!(a(&["--help"]), Ok(Command::Help));
    assert_eq!(
        a(&["--signal", "ldm=1234"]),
        Ok(Command::Signal {
            signal: "ldm".into(),
            pid: Some(1234)
        })
    );
    assert_eq!(
        a(&["-sl", "stop"]),
        Ok(Command::Signal {
            signal: "stop".into(),
            pid: None
        })
    );
    for sig in SIGNALS {
        assert!(a(&["-sl", sig]).is_ok());
    }
    assert_eq!(
        a(&["-sl", "bogus=1"]),
        Err(ConfigError::Usage("unknown signal \"bogus\"".into()))
    );
    assert_eq!(
        a(&["-sl", "ldm=abc"]),
        Err(ConfigError::Usage("invalid pid: abc".into()))
    );
    assert_eq!(
        a(&["-sl", "stop=-1"]),
        Err(ConfigError::Usage("invalid pid: -1".into()))
    );
    assert!(a(&["-sl", "stop=0"]).is_err());
    let dir = tempfile::tempdir().unwrap();
    let pid = write(&dir, "n.pid", "4321");
    assert_eq!(
        a(&["--signal", &format!("quit={pid}")]),
        Ok(Command::Signal {
            signal: "quit".into(),
            pid: Some(4321)
        })
    );
    assert!(matches!(a(&["--bogus"]), Err(ConfigError::Usage(_))));
    assert!(matches!(a(&["-p", "99999"]), Err(ConfigError::Usage(_))));
    assert!(usage("nile").contains("--store_dir"));
}

#[test]
fn logging_flags() {
    let o = run(&["-DV", "-T=false", "-l", "x.log"]);
    assert!(o.log.debug && o.log.trace);
    assert_eq!(o.log.time, Some(false));
    let o = run(&["-VV"]);
    assert!(o.log.trace && !o.log.debug);
    let o = run(&[
        "--no_auth_user",
        "u",
        "--ports_file_dir",
        "/tmp/p",
        "-s",
        "-ms",
        "8443",
    ]);
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("u"));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp/p")));
    assert_eq!(o.warnings.len(), 2);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_never_panics(text in "\\PC{0,200}") {
            let env = MemEnv::default().var("V", "1").file("/etc/nile/i.conf", "a: 1\n");
            if let Ok(map) = tree_env(&text, &env) {
                let _ = Mapper::default().apply(&map, &mut Options::default());
            }
        }

        #[test]
        fn config_like_text_never_panics(
            text in "([a-z_]{1,8}|[ \\t\\n:=,;{}\\[\\]()#/'\"\\\\$.0-9kKmMiIbB-]|true|include |\\$V){0,60}"
        ) {
            let env = MemEnv::default().var("V", "1").file("/etc/nile/i.conf", "a: 1\n");
            if let Ok(map) = tree_env(&text, &env) {
                let _ = Mapper::default().apply(&map, &mut Options::default());
            }
        }

        #[test]
        fn any_args_never_panic(list in proptest::collection::vec("-{0,2}[a-zA-Z_]{0,6}(=[-0-9a-z]{0,4})?", 0..6)) {
            let _ = load("nile", &list);
        }
    }
}

#[test]
fn permission_variables_as_in_nats_docs() {
    let text = r#"
authorization {
  ADMIN = {
    publish = ">"
    subscribe = ">"
  }
  REQUESTOR = {
    publish = ["req.a", "req.b"]
    subscribe = "_INBOX.>"
  }
  users = [
    {user: admin,   password: $ADMIN_PASS, permissions: $ADMIN}
    {user: client,  password: $CLIENT_PASS, permissions: $REQUESTOR}
  ]
}
"#;
    let env = MemEnv::default()
        .var("ADMIN_PASS", "\"$2a$11$hash\"")
        .var("CLIENT_PASS", "pw");
    let (o, _) = options_env(text, &env).unwrap();
    let users = &o.auth.users;
    assert_eq!(users[0].password, "$2a$11$hash");
    assert_eq!(users[1].password, "pw");
    let p = users[1].permissions.clone().unwrap();
    assert_eq!(
        p.publish.unwrap().allow,
        Some(vec!["req.a".to_string(), "req.b".to_string()])
    );
    // An unused definition in the block is an unknown field, as in nats-server.
    let text = "authorization {\n  UNUSED = { publish = \">\" }\n  token: t\n}\n";
    let (line, key, _) = key_err(text);
    assert_eq!((line, key.as_str()), (2, "authorization.unused"));
}

#[test]
fn operator_mode_keys() {
    let text =
        "operator: eyJhbGciOi.x.y\nresolver: MEMORY\nresolver_preload { ACC: \" eyJ.a.b \" }\n";
    let o = options(text);
    let trust = o.auth.trust.unwrap();
    assert_eq!(trust.operators, vec!["eyJhbGciOi.x.y".to_string()]);
    assert_eq!(
        trust.accounts,
        vec![("ACC".to_string(), "eyJ.a.b".to_string())]
    );
    let (_, key, message) = key_err("resolver: URL(http://x)\n");
    assert_eq!(key, "resolver");
    assert!(message.contains("MEMORY"), "{message}");
    let (_, key, _) = key_err("authorization { users [ { nkey: UABC } ] }\n");
    assert_eq!(key, "authorization.users.nkey");
}

#[test]
fn tls_block() {
    use crate::options::HandshakeFirst;
    let o = options("tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, verify: true, timeout: 3, handshake_first: 300ms, cipher_suites: [x] }\n");
    let tls = o.tls.unwrap();
    assert_eq!(tls.cert_file.to_str(), Some("c.pem"));
    assert_eq!(tls.ca_file.unwrap().to_str(), Some("ca.pem"));
    assert!(tls.verify);
    assert_eq!(tls.timeout, std::time::Duration::from_secs(3));
    assert_eq!(
        tls.handshake_first,
        HandshakeFirst::Within(std::time::Duration::from_millis(300))
    );
    let o = options("tls { cert_file: c, key_file: k, handshake_first: true }\n");
    assert_eq!(o.tls.unwrap().handshake_first, HandshakeFirst::Yes);
    let (_, key, _) = key_err("tls { cert: c }\n");
    assert_eq!(key, "tls.cert");
}

#[test]
fn websocket_needs_tls_or_no_tls() {
    let (_, key, message) = key_err("websocket { port: 8080 }\n");
    assert_eq!(key, "websocket");
    assert!(message.contains("requires TLS"), "{message}");
    let o = options("ws { listen: \"0.0.0.0:8080\", no_tls: true, compression: true }\n");
    let ws = o.websocket.unwrap();
    assert_eq!(
        (ws.host.as_deref(), ws.port),
        (Some("0.0.0.0"), Port::Fixed(8080))
    );
}
