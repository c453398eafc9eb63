//! Storage limits on what is stored, as nats-server enforces them: an
//! account's `max_file` / `max_mem` refuse the publish that would pass
//! them (10002), the server's `max_file_store` / `max_memory_store` refuse
//! publishes once passed (10023), and a stream's `max_bytes` must fit in
//! what the limits leave after the other streams' reservations (10047 for
//! file, 10028 for memory). A refused publish stores nothing and the
//! server goes on serving. Atomic batch messages are checked one by one
//! as they arrive.

use nile_tests::{Nile, Raw};
use serde_json::{json, Value};

/// Account `A` with 20,000 bytes of each storage; `$G` unlimited.
const ACCOUNT_LIMITS: &str = r#"
jetstream: enabled
accounts {
  A: { users: [{user: a, password: a}], jetstream: { max_mem: 20000, max_file: 20000 } }
}
"#;

/// The server's own limits, no accounts.
const SERVER_LIMITS: &str = "jetstream { max_file_store: 20000, max_memory_store: 30000 }\n";

/// 1000-byte payloads: a file stream counts 1035 bytes for each on subject
/// `sfile` (1000 + 5 + 30), a memory stream 1018 on `ma` (1000 + 2 + 16).
const PAYLOAD_BYTES: usize = 1000;

fn start(config: &str) -> Nile {
    let dir = tempfile::tempdir().expect("tempdir");
    start_in(dir, config)
}

fn start_in(dir: tempfile::TempDir, config: &str) -> Nile {
    let store = dir.path().join("store").display().to_string();
    let conf = dir.path().join("nile.conf");
    std::fs::write(&conf, config).expect("config");
    let conf = conf.display().to_string();
    Nile::start_in(dir, &["-c", &conf, "-sd", &store])
}

fn login(nile: &Nile, user: Option<&str>) -> Raw {
    let auth = user.map_or(String::new(), |u| format!(r#","user":"{u}","pass":"{u}""#));
    let mut c = nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"headers":true{auth}}}"#
    ));
    assert_eq!(c.roundtrip(b"SUB _INBOX.t 1\r\n"), "");
    c
}

/// One request; the JSON answer.
fn api(c: &mut Raw, subject: &str, body: &str) -> Value {
    c.send(format!("PUB {subject} _INBOX.t {}\r\n{body}\r\n", body.len()).as_bytes());
    answer(c)
}

/// The next message on `_INBOX.t`, as JSON.
fn answer(c: &mut Raw) -> Value {
    let head = c.line();
    let len: usize = head
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a MSG: {head:?}"));
    let payload = c.bytes(len + 2);
    serde_json::from_slice(&payload[..len]).expect("answer is JSON")
}

fn create(c: &mut Raw, name: &str, storage: &str, max_bytes: i64) -> Value {
    let cfg = json!({"name": name, "subjects": [name.to_lowercase()], "storage": storage,
                     "max_bytes": max_bytes});
    api(
        c,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        &cfg.to_string(),
    )
}

fn update(c: &mut Raw, name: &str, storage: &str, max_bytes: i64) -> Value {
    let cfg = json!({"name": name, "subjects": [name.to_lowercase()], "storage": storage,
                     "max_bytes": max_bytes});
    api(
        c,
        &format!("$JS.API.STREAM.UPDATE.{name}"),
        &cfg.to_string(),
    )
}

fn publish(c: &mut Raw, subject: &str) -> Value {
    api(c, subject, &"x".repeat(PAYLOAD_BYTES))
}

/// Publishes until the first refusal (at most `tries`): how many were
/// stored, and the refusal.
fn fill(c: &mut Raw, subject: &str, tries: u64) -> (u64, Value) {
    let mut last_seq = None;
    for i in 0..tries {
        let ack = publish(c, subject);
        if ack.get("error").is_some() {
            return (i, ack);
        }
        let seq = ack["seq"].as_u64().expect("seq");
        assert!(last_seq.is_none_or(|l| seq == l + 1), "{ack}");
        last_seq = Some(seq);
    }
    panic!("{tries} publishes to {subject} and none refused");
}

fn messages(c: &mut Raw, stream: &str) -> u64 {
    let info = api(c, &format!("$JS.API.STREAM.INFO.{stream}"), "");
    info["state"]["messages"].as_u64().expect("state.messages")
}

fn assert_error(v: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        v["error"],
        json!({"code": code, "err_code": err_code, "description": description}),
        "{v}"
    );
}

fn assert_account_refusal(ack: &Value, stream: &str) {
    assert_error(ack, 400, 10002, "resource limits exceeded for account");
    assert_eq!((&ack["stream"], &ack["seq"]), (&json!(stream), &json!(0)));
}

#[test]
fn account_file_limit_refuses_the_publish_that_would_pass_it() {
    let nile = start(ACCOUNT_LIMITS);
    let mut c = login(&nile, Some("a"));
    assert_eq!(create(&mut c, "SFILE", "file", -1)["did_create"], true);
    // 19 × 1035 = 19,665 fits in 20,000; a 20th would not.
    let (stored, refusal) = fill(&mut c, "sfile", 30);
    assert_eq!(stored, 19);
    assert_account_refusal(&refusal, "SFILE");
    assert_eq!(
        messages(&mut c, "SFILE"),
        19,
        "a refused publish stores nothing"
    );
    let info = api(&mut c, "$JS.API.INFO", "");
    assert_eq!(info["storage"], 19 * 1035, "{info}");
    // Room again once the stream is purged.
    let purged = api(&mut c, "$JS.API.STREAM.PURGE.SFILE", "");
    assert_eq!(purged["purged"], 19, "{purged}");
    assert_eq!(publish(&mut c, "sfile")["seq"], 20);
}

/// Sends one message of atomic batch `id` (sequence `seq`, committing if
/// `commit`) with a 1000-byte payload.
fn send_batch_msg(c: &mut Raw, subject: &str, id: &str, seq: u64, commit: bool) {
    let mut hdrs = format!("NATS/1.0\r\nNats-Batch-Id: {id}\r\nNats-Batch-Sequence: {seq}\r\n");
    if commit {
        hdrs.push_str("Nats-Batch-Commit: 1\r\n");
    }
    hdrs.push_str("\r\n");
    let body = "x".repeat(PAYLOAD_BYTES);
    let (h, t) = (hdrs.len(), hdrs.len() + body.len());
    c.send(format!("HPUB {subject} _INBOX.t {h} {t}\r\n{hdrs}{body}\r\n").as_bytes());
}

/// A batch message the server stages: answered with an empty message.
fn stage(c: &mut Raw, subject: &str, id: &str, seq: u64) {
    send_batch_msg(c, subject, id, seq, false);
    assert_eq!(c.line(), "MSG _INBOX.t 1 0\r\n", "staged, not refused");
    assert_eq!(c.line(), "\r\n");
}

/// A batch message the server answers (a refusal, or the commit's ack).
fn answered(c: &mut Raw, subject: &str, id: &str, seq: u64, commit: bool) -> Value {
    send_batch_msg(c, subject, id, seq, commit);
    answer(c)
}

#[test]
fn account_file_limit_refuses_an_atomic_batch_message_that_would_pass_it() {
    let nile = start(ACCOUNT_LIMITS);
    let mut c = login(&nile, Some("a"));
    let cfg = json!({"name": "SFILE", "subjects": ["sfile"], "storage": "file",
                     "allow_atomic": true});
    let created = api(&mut c, "$JS.API.STREAM.CREATE.SFILE", &cfg.to_string());
    assert_eq!(created["did_create"], true, "{created}");
    // A batch within the limit commits.
    stage(&mut c, "sfile", "ok", 1);
    let ack = answered(&mut c, "sfile", "ok", 2, true);
    assert_eq!(
        (&ack["seq"], &ack["count"]),
        (&json!(2), &json!(2)),
        "{ack}"
    );
    let (stored, _) = fill(&mut c, "sfile", 30);
    // The batch's two count their headers too: 19,785 bytes with 17 more.
    assert_eq!(stored, 17, "room left for 17 plain publishes");
    // Full: the batch's first message is refused as a publish would be,
    // and nothing is staged or stored.
    let refusal = answered(&mut c, "sfile", "full", 1, false);
    assert_account_refusal(&refusal, "SFILE");
    assert_eq!(messages(&mut c, "SFILE"), 19);
    let commit = answered(&mut c, "sfile", "full", 2, true);
    assert!(commit.get("error").is_some(), "{commit}");
    assert_eq!(messages(&mut c, "SFILE"), 19);
}

#[test]
fn account_memory_limit_counts_every_memory_stream() {
    let nile = start(ACCOUNT_LIMITS);
    let mut c = login(&nile, Some("a"));
    assert_eq!(create(&mut c, "MA", "memory", -1)["did_create"], true);
    assert_eq!(create(&mut c, "MB", "memory", -1)["did_create"], true);
    // A memory stream counts 1000 + 2 + 16 = 1018 per message here.
    for i in 0..10 {
        assert_eq!(publish(&mut c, "ma")["seq"], i + 1);
    }
    // 10 in MA leave room for 9 in MB (19 × 1018 = 19,342).
    let (stored, refusal) = fill(&mut c, "mb", 30);
    assert_eq!(stored, 9);
    assert_account_refusal(&refusal, "MB");
    // File storage is limited on its own.
    assert_eq!(create(&mut c, "SFILE", "file", -1)["did_create"], true);
    assert_eq!(publish(&mut c, "sfile")["seq"], 1);
}

#[test]
fn account_usage_is_counted_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nile = start_in(dir, ACCOUNT_LIMITS);
    let mut c = login(&nile, Some("a"));
    assert_eq!(create(&mut c, "SFILE", "file", -1)["did_create"], true);
    for i in 0..15 {
        assert_eq!(publish(&mut c, "sfile")["seq"], i + 1);
    }
    drop(c);
    // Killed: what was acknowledged is stored, and counted on recovery.
    let dir = nile.kill();
    let nile = start_in(dir, ACCOUNT_LIMITS);
    let mut c = login(&nile, Some("a"));
    let (stored, refusal) = fill(&mut c, "sfile", 30);
    assert_eq!(stored, 4, "15 recovered + 4 = 19 fit");
    assert_eq!(messages(&mut c, "SFILE"), 19);
    assert_account_refusal(&refusal, "SFILE");
}

#[test]
fn server_file_limit_refuses_publishes_once_passed() {
    let nile = start(SERVER_LIMITS);
    let mut c = login(&nile, None);
    assert_eq!(create(&mut c, "SFILE", "file", -1)["did_create"], true);
    // Checked before storing: the 20th takes usage to 20,700, past 20,000.
    let (stored, refusal) = fill(&mut c, "sfile", 30);
    assert_eq!(stored, 20);
    assert_error(&refusal, 503, 10023, "insufficient resources");
    assert_eq!(
        (&refusal["stream"], &refusal["seq"]),
        (&json!("SFILE"), &json!(0))
    );
    assert_eq!(messages(&mut c, "SFILE"), 20);
    // The account itself has no limits of its own.
    let info = api(&mut c, "$JS.API.INFO", "");
    assert_eq!(info["limits"]["max_storage"], -1, "{info}");
    // A memory stream has its own server limit.
    assert_eq!(create(&mut c, "MEM", "memory", -1)["did_create"], true);
    assert_eq!(publish(&mut c, "mem")["seq"], 1);
    let purged = api(&mut c, "$JS.API.STREAM.PURGE.SFILE", "");
    assert_eq!(purged["purged"], 20, "{purged}");
    assert_eq!(publish(&mut c, "sfile")["seq"], 21);
}

#[test]
fn max_bytes_must_fit_in_what_the_limits_leave() {
    for (config, user) in [(ACCOUNT_LIMITS, Some("a")), (SERVER_LIMITS, None)] {
        let nile = start(config);
        let mut c = login(&nile, user);
        for (storage, err_code, description) in [
            ("file", 10047, "insufficient storage resources available"),
            ("memory", 10028, "insufficient memory resources available"),
        ] {
            let big = create(&mut c, &format!("BIG{storage}"), storage, 100_000);
            assert_error(&big, 500, err_code, description);
            let small = format!("SMALL{storage}");
            assert_eq!(create(&mut c, &small, storage, 15_000)["did_create"], true);
            // The other stream's 15,000 leave 5,000 (the limits are 20,000
            // for file, and for memory 20,000 in A and 30,000 on the server).
            let room = if config == SERVER_LIMITS && storage == "memory" {
                15_000
            } else {
                5_000
            };
            let next = create(&mut c, &format!("NEXT{storage}"), storage, room + 1);
            assert_error(&next, 500, err_code, description);
            let fits = create(&mut c, &format!("FITS{storage}"), storage, room);
            assert_eq!(fits["did_create"], true, "{fits}");
            // An update may not grow past it either, nor may it keep a
            // size that no longer fits; keeping its own size is fine.
            let grown = update(&mut c, &small, storage, 15_001);
            assert_error(&grown, 500, err_code, description);
            let same = update(&mut c, &small, storage, 15_000);
            assert_eq!(same["config"]["max_bytes"], 15_000, "{same}");
            let shrunk = update(&mut c, &small, storage, 10_000);
            assert_eq!(shrunk["config"]["max_bytes"], 10_000, "{shrunk}");
        }
    }
}
