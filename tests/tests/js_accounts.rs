//! JetStream per account: only accounts that enable it have it (the others
//! get error 10039), each account's streams are its own, and an account's
//! limits are reported by `$JS.API.INFO` and enforced on create.

use nile_tests::{Nile, Raw};
use serde_json::Value;

const ACCOUNTS: &str = r#"
jetstream: enabled
accounts {
  A: { jetstream: enabled, users: [{user: a, password: a}] }
  C: { jetstream: enabled, users: [{user: c, password: c}] }
  B: { users: [{user: b, password: b}] }
  L: {
    users: [{user: l, password: l}]
    jetstream: {
      max_mem: 64MB, max_file: 32MB, max_streams: 1, max_consumers: 1,
      max_ack_pending: 100, memory_max_stream_bytes: 2048,
      store_max_stream_bytes: 4096, max_stream_bytes: true
    }
  }
}
authorization { users: [{user: g, password: g}] }
"#;

fn start() -> Nile {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store").display().to_string();
    let conf = dir.path().join("nile.conf");
    std::fs::write(&conf, ACCOUNTS).expect("config");
    let conf = conf.display().to_string();
    Nile::start_in(dir, &["-c", &conf, "-sd", &store])
}

fn login(nile: &Nile, user: &str) -> Raw {
    let mut c = nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"headers":true,"user":"{user}","pass":"{user}"}}"#
    ));
    assert_eq!(c.roundtrip(b"SUB _INBOX.t 1\r\n"), "");
    c
}

/// One API request; the JSON answer.
fn api(c: &mut Raw, subject: &str, body: &str) -> Value {
    c.send(format!("PUB {subject} _INBOX.t {}\r\n{body}\r\n", body.len()).as_bytes());
    let head = c.line();
    let len: usize = head
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a MSG: {head:?}"));
    let payload = c.bytes(len + 2);
    serde_json::from_slice(&payload[..len]).expect("API answer is JSON")
}

fn publish(c: &mut Raw, subject: &str) -> Value {
    api(c, subject, "x")
}

fn err_code(v: &Value) -> i64 {
    v["error"]["err_code"].as_i64().unwrap_or(0)
}

#[test]
fn accounts_without_jetstream_are_told_so() {
    let nile = start();
    for user in ["b", "g"] {
        let mut c = login(&nile, user);
        let info = api(&mut c, "$JS.API.INFO", "");
        assert_eq!(
            info["type"], "io.nats.jetstream.api.v1.account_info_response",
            "{info}"
        );
        assert_eq!(info["error"]["code"], 503, "{info}");
        assert_eq!(err_code(&info), 10039, "{info}");
        assert_eq!(
            info["error"]["description"],
            "JetStream not enabled for account"
        );
        let create = api(&mut c, "$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#);
        assert_eq!(
            create["type"], "io.nats.jetstream.api.v1.stream_create_response",
            "{create}"
        );
        assert_eq!(err_code(&create), 10039, "{create}");
    }
    let mut a = login(&nile, "a");
    let info = api(&mut a, "$JS.API.INFO", "");
    assert!(info.get("error").is_none(), "{info}");
    assert_eq!(info["limits"]["max_streams"], -1, "{info}");
}

#[test]
fn each_account_has_its_own_streams() {
    let nile = start();
    let mut a = login(&nile, "a");
    let mut c = login(&nile, "c");
    let cfg = r#"{"name":"S","subjects":["s.>"]}"#;
    for conn in [&mut a, &mut c] {
        let created = api(conn, "$JS.API.STREAM.CREATE.S", cfg);
        assert!(created.get("error").is_none(), "{created}");
    }
    let ack = publish(&mut a, "s.1");
    assert_eq!(ack["stream"], "S", "{ack}");
    assert_eq!(ack["seq"], 1, "{ack}");
    assert_eq!(publish(&mut a, "s.2")["seq"], 2);
    assert_eq!(publish(&mut c, "s.1")["seq"], 1);
    let info = |conn: &mut Raw| api(conn, "$JS.API.STREAM.INFO.S", "")["state"]["messages"].clone();
    assert_eq!(info(&mut a), 2);
    assert_eq!(info(&mut c), 1);
    let names = api(&mut a, "$JS.API.STREAM.NAMES", "");
    assert_eq!(names["streams"], serde_json::json!(["S"]), "{names}");
    assert_eq!(api(&mut a, "$JS.API.INFO", "")["streams"], 1);
}

#[test]
fn account_streams_survive_a_restart() {
    let nile = start();
    {
        let mut a = login(&nile, "a");
        let created = api(
            &mut a,
            "$JS.API.STREAM.CREATE.P",
            r#"{"name":"P","subjects":["p"]}"#,
        );
        assert!(created.get("error").is_none(), "{created}");
        assert_eq!(publish(&mut a, "p")["seq"], 1);
    }
    let store = nile.dir.path().join("store");
    if !nile_tests::is_nats_server() {
        // Nile's layout: `$G` in <store>/streams, others under accounts/.
        let dir = store.join("accounts/A/streams/P");
        assert!(dir.is_dir(), "no {}", dir.display());
    }
    let dir = nile.kill();
    let store = store.display().to_string();
    let conf = dir.path().join("nile.conf").display().to_string();
    let nile = Nile::start_in(dir, &["-c", &conf, "-sd", &store]);
    let mut a = login(&nile, "a");
    let info = api(&mut a, "$JS.API.STREAM.INFO.P", "");
    assert_eq!(info["state"]["messages"], 1, "{info}");
    let mut c = login(&nile, "c");
    let info = api(&mut c, "$JS.API.STREAM.INFO.P", "");
    assert_eq!(err_code(&info), 10059, "{info}");
}

#[test]
fn account_limits_are_reported_and_enforced() {
    let nile = start();
    let mut l = login(&nile, "l");
    let info = api(&mut l, "$JS.API.INFO", "");
    let want = serde_json::json!({
        "max_memory": 67108864, "max_storage": 33554432, "max_streams": 1,
        "max_consumers": 1, "max_ack_pending": 100, "memory_max_stream_bytes": 2048,
        "storage_max_stream_bytes": 4096, "max_bytes_required": true
    });
    assert_eq!(info["limits"], want, "{info}");
    let no_max = api(
        &mut l,
        "$JS.API.STREAM.CREATE.L",
        r#"{"name":"L","subjects":["l"]}"#,
    );
    assert_eq!(err_code(&no_max), 10113, "{no_max}");
    assert_eq!(
        no_max["error"]["description"],
        "account requires a stream config to have max bytes set"
    );
    let too_big = r#"{"name":"L","subjects":["l"],"max_bytes":65536}"#;
    let too_big = api(&mut l, "$JS.API.STREAM.CREATE.L", too_big);
    assert_eq!(err_code(&too_big), 10122, "{too_big}");
    let ok = r#"{"name":"L","subjects":["l"],"max_bytes":128}"#;
    let ok = api(&mut l, "$JS.API.STREAM.CREATE.L", ok);
    assert!(ok.get("error").is_none(), "{ok}");
    let second = r#"{"name":"L2","subjects":["l2"],"max_bytes":128}"#;
    let second = api(&mut l, "$JS.API.STREAM.CREATE.L2", second);
    assert_eq!(err_code(&second), 10027, "{second}");
    let consumer = |name: &str| {
        format!(
            r#"{{"stream_name":"L","config":{{"durable_name":"{name}","ack_policy":"explicit"}}}}"#
        )
    };
    let first = api(&mut l, "$JS.API.CONSUMER.CREATE.L.D1", &consumer("D1"));
    assert!(first.get("error").is_none(), "{first}");
    let over = api(&mut l, "$JS.API.CONSUMER.CREATE.L.D2", &consumer("D2"));
    assert_eq!(err_code(&over), 10026, "{over}");
    let info = api(&mut l, "$JS.API.INFO", "");
    assert_eq!(info["api"]["errors"], 4, "{info}");
}

/// The nats.js tests' layout: JetStream lives in JS; A reaches its API
/// through a service import under `IPA.>`, acks through `$JS.ACK.>`, and
/// gets push deliveries through a stream import of `A.>`.
const EXPORTED: &str = r#"
jetstream: enabled
accounts {
  JS: {
    jetstream: enabled
    users: [{user: js, password: js}]
    exports: [
      {service: "$JS.API.>", response_type: stream},
      {service: "$JS.ACK.>", response_type: stream},
      {stream: "A.>", accounts: [A]}
    ]
  }
  A: {
    users: [{user: a, password: a}]
    imports: [
      {service: {subject: "$JS.API.>", account: JS}, to: "IPA.>"},
      {service: {subject: "$JS.ACK.>", account: JS}},
      {stream: {subject: "A.>", account: JS}}
    ]
  }
}
"#;

#[test]
fn jetstream_through_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store").display().to_string();
    let conf = dir.path().join("nile.conf");
    std::fs::write(&conf, EXPORTED).expect("config");
    let conf = conf.display().to_string();
    let nile = Nile::start_in(dir, &["-c", &conf, "-sd", &store]);
    let mut js = login(&nile, "js");
    let created = api(
        &mut js,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    );
    assert!(created.get("error").is_none(), "{created}");
    assert_eq!(publish(&mut js, "s.1")["seq"], 1);
    assert_eq!(publish(&mut js, "s.2")["seq"], 2);
    let mut a = login(&nile, "a");
    // A has no JetStream of its own, but its API is JS's under IPA.
    let info = api(&mut a, "IPA.STREAM.INFO.S", "");
    assert_eq!(info["state"]["messages"], 2, "{info}");
    let consumer = r#"{"stream_name":"S","config":{"durable_name":"me","ack_policy":"explicit","deliver_subject":"A.inbox"}}"#;
    let created = api(&mut a, "IPA.CONSUMER.DURABLE.CREATE.S.me", consumer);
    assert!(created.get("error").is_none(), "{created}");
    a.send(b"SUB A.inbox 5\r\n");
    let mut acks = Vec::new();
    for seq in 1..=2 {
        let head = a.line();
        let parts: Vec<&str> = head.trim_end().split(' ').collect();
        assert_eq!(parts[..3], ["MSG", &format!("s.{seq}"), "5"], "{head:?}");
        assert!(parts[3].starts_with("$JS.ACK.S.me."), "{head:?}");
        acks.push(parts[3].to_string());
        let _ = a.bytes(3);
    }
    for ack in &acks {
        a.send(format!("PUB {ack} 4\r\n+ACK\r\n").as_bytes());
    }
    let mut done = Value::Null;
    for _ in 0..50 {
        done = api(&mut a, "IPA.CONSUMER.INFO.S.me", "");
        if done["ack_floor"]["stream_seq"] == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(done["ack_floor"]["stream_seq"], 2, "{done}");
    assert_eq!(done["num_pending"], 0, "{done}");
}
