//! `nile import-nats`: a store written by the real nats-server 2.15.1 is
//! imported offline, and Nile then serves what nats-server serves from the
//! same store: every message byte for byte (subject, headers, payload,
//! sequence, time), stream state, KV history, consumer positions.
//!
//! Needs the nats-server binary (`NATS_SERVER_BIN`, else
//! /work/ns/nats-server-2.15.1); without it the tests say so and pass.

mod js_stream_util;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use async_nats::header::HeaderMap;
use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;
use js_stream_util::*;
use nile_tests::{nile_bin, Nile};
use serde_json::{json, Value};

const NATS_SERVER_DEFAULT: &str = "/work/ns/nats-server-2.15.1";

fn nats_server_bin() -> Option<PathBuf> {
    let p = std::env::var("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(NATS_SERVER_DEFAULT));
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "skipping: no nats-server binary at {} (set NATS_SERVER_BIN)",
            p.display()
        );
        None
    }
}

/// A real nats-server with JetStream on a store directory.
struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    fn start(bin: &Path, store: &Path) -> NatsServer {
        Self::start_with(bin, store, &[])
    }

    fn start_with(bin: &Path, store: &Path, extra: &[&str]) -> NatsServer {
        let port = free_port();
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        NatsServer { child, port }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGTERM and wait: nats-server writes its state files on the way out.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-15")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn client(url: &str) -> Client {
    async_nats::ConnectOptions::new()
        .request_timeout(Some(TIMEOUT))
        .connect(url)
        .await
        .expect("connect")
}

fn import(src: &Path, sd: &Path) -> Output {
    import_with(src, sd, &[])
}

fn import_with(src: &Path, sd: &Path, extra: &[&str]) -> Output {
    Command::new(nile_bin())
        .arg("import-nats")
        .arg(src)
        .arg("-sd")
        .arg(sd)
        .args(extra)
        .output()
        .expect("run nile import-nats")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn payload(i: usize) -> Bytes {
    let len = (i * 53) % 1500;
    (0..len)
        .map(|k| ((k * 11 + i) % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn pub_ok(c: &Client, subject: &str, headers: Option<HeaderMap>, body: Bytes) -> u64 {
    let r = match headers {
        Some(h) => c.request_with_headers(subject.to_string(), h, body).await,
        None => c.request(subject.to_string(), body).await,
    };
    let ack: Value = serde_json::from_slice(&r.expect("publish").payload).expect("ack");
    ack["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("publish {subject}: {ack}"))
}

/// Fill a nats-server with every shape the importer must carry; the
/// purged stream's last time as it served it.
async fn populate(c: &Client) -> Value {
    // Several blocks (max_bytes ≤ 128 kB gives nats-server 32 kB blocks),
    // headers, several subjects, a delete in the first block.
    let r = req(
        c,
        "$JS.API.STREAM.CREATE.ORDERS",
        &json!({"name":"ORDERS","subjects":["orders.>"],"max_bytes":120000,
                "description":"imported","metadata":{"team":"a"}})
        .to_string(),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    for i in 0..150 {
        let mut h = HeaderMap::new();
        h.insert("X-Index", i.to_string().as_str());
        if i % 3 == 0 {
            h.append("X-Multi", "a");
            h.append("X-Multi", "b c");
        }
        let hdrs = (i % 4 != 0).then_some(h);
        pub_ok(c, &format!("orders.{}", i % 5), hdrs, payload(i)).await;
    }
    let first = req(c, "$JS.API.STREAM.INFO.ORDERS", "").await["state"]["first_seq"]
        .as_u64()
        .expect("first");
    let del = req(
        c,
        "$JS.API.STREAM.MSG.DELETE.ORDERS",
        &json!({"seq": first + 2}).to_string(),
    )
    .await;
    assert_eq!(del["success"], true, "{del}");
    let del = req(
        c,
        "$JS.API.STREAM.MSG.DELETE.ORDERS",
        &json!({"seq": first + 40, "no_erase": true}).to_string(),
    )
    .await;
    assert_eq!(del["success"], true, "{del}");

    // A durable pull consumer with some acks and some pending.
    let r = req(
        c,
        "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.WORKER",
        &json!({"stream_name":"ORDERS","config":{"durable_name":"WORKER","ack_policy":"explicit",
                "filter_subject":"orders.>","ack_wait":600_000_000_000i64}})
        .to_string(),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    let js = async_nats::jetstream::new(c.clone());
    let n = fetch_acking(&js, "ORDERS", "WORKER", 12, |n| n % 3 != 1).await;
    assert_eq!(n, 12);

    // Consumers that start later in the stream and have delivered nothing.
    for (name, extra) in [
        ("LATE", json!({"deliver_policy": "new"})),
        (
            "FROM",
            json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 50}),
        ),
        (
            "LAST",
            json!({"deliver_policy": "last_per_subject", "filter_subject": "orders.2"}),
        ),
    ] {
        let mut cfg = json!({"durable_name": name, "ack_policy": "explicit"});
        for (k, v) in extra.as_object().expect("object") {
            cfg[k] = v.clone();
        }
        let r = req(
            c,
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.{name}"),
            &json!({"stream_name": "ORDERS", "config": cfg}).to_string(),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
    }

    // A limits stream that dropped its oldest (no tombstones for those).
    req(
        c,
        "$JS.API.STREAM.CREATE.LIM",
        &json!({"name":"LIM","subjects":["lim.*"],"max_msgs":10,"max_msgs_per_subject":4})
            .to_string(),
    )
    .await;
    for i in 0..37 {
        pub_ok(c, &format!("lim.{}", i % 3), None, payload(i)).await;
    }
    // With one message deleted, copying every record and letting the limit
    // drop the oldest would keep one message too many.
    let del = req(
        c,
        "$JS.API.STREAM.MSG.DELETE.LIM",
        &json!({"seq": 37}).to_string(),
    )
    .await;
    assert_eq!(del["success"], true, "{del}");

    // s2-compressed blocks (nats-server compresses a block once it is full).
    req(
        c,
        "$JS.API.STREAM.CREATE.ZIP",
        &json!({"name":"ZIP","subjects":["zip.*"],"compression":"s2","max_bytes":120000})
            .to_string(),
    )
    .await;
    for i in 0..120 {
        let body = format!(
            "{i:05} {}",
            "compressible text, repeated; ".repeat(20 + i % 7)
        );
        let mut h = HeaderMap::new();
        h.insert("X-Index", i.to_string().as_str());
        pub_ok(c, &format!("zip.{}", i % 4), Some(h), body.into()).await;
    }
    let del = req(
        c,
        "$JS.API.STREAM.MSG.DELETE.ZIP",
        &json!({"seq": 30}).to_string(),
    )
    .await;
    assert_eq!(del["success"], true, "{del}");

    // A purged stream keeps its last sequence.
    req(
        c,
        "$JS.API.STREAM.CREATE.PURGED",
        &json!({"name":"PURGED","subjects":["purged"]}).to_string(),
    )
    .await;
    for i in 0..7 {
        pub_ok(c, "purged", None, payload(i)).await;
    }
    let p = req(c, "$JS.API.STREAM.PURGE.PURGED", "").await;
    assert_eq!(p["success"], true, "{p}");
    let purged_last_ts = req(c, "$JS.API.STREAM.INFO.PURGED", "").await["state"]["last_ts"].clone();

    // A work queue with some messages acked away.
    req(
        c,
        "$JS.API.STREAM.CREATE.WQ",
        &json!({"name":"WQ","subjects":["wq.*"],"retention":"workqueue"}).to_string(),
    )
    .await;
    for i in 0..20 {
        pub_ok(c, &format!("wq.{}", i % 2), None, payload(i)).await;
    }
    req(
        c,
        "$JS.API.CONSUMER.DURABLE.CREATE.WQ.JOBS",
        &json!({"stream_name":"WQ","config":{"durable_name":"JOBS","ack_policy":"explicit",
                "ack_wait":600_000_000_000i64}})
        .to_string(),
    )
    .await;
    fetch_acking(&js, "WQ", "JOBS", 8, |n| n != 5).await;

    // A KV bucket with history, deletes and a purge.
    let kv = js
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: "CFG".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .expect("kv");
    for i in 0..8 {
        kv.put("a", format!("a{i}").into()).await.expect("put");
        kv.put("b.c", format!("b{i}").into()).await.expect("put");
    }
    kv.put("gone", "x".into()).await.expect("put");
    kv.delete("gone").await.expect("delete");
    kv.put("purged", "x".into()).await.expect("put");
    kv.purge("purged").await.expect("purge");
    purged_last_ts
}

/// Everything a client can see of the store, as JSON, from either server.
async fn observe(c: &Client) -> Value {
    let mut out = serde_json::Map::new();
    for name in ["ORDERS", "ZIP", "LIM", "PURGED", "WQ", "KV_CFG"] {
        let info = req(c, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
        let st = &info["state"];
        let state = json!({
            "messages": st["messages"], "bytes": st["bytes"],
            "first_seq": st["first_seq"], "last_seq": st["last_seq"],
            "first_ts": st["first_ts"], "last_ts": st["last_ts"],
            "num_deleted": st["num_deleted"], "num_subjects": st["num_subjects"],
            "consumer_count": st["consumer_count"],
        });
        let mut cfg = info["config"].clone();
        if let Some(m) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
            m.retain(|k, _| !k.starts_with("_nats."));
        }
        let (first, last) = (
            st["first_seq"].as_u64().expect("first"),
            st["last_seq"].as_u64().expect("last"),
        );
        let mut msgs = Vec::new();
        for seq in first..=last {
            let r = req(
                c,
                &format!("$JS.API.STREAM.MSG.GET.{name}"),
                &json!({ "seq": seq }).to_string(),
            )
            .await;
            msgs.push(r.get("message").cloned().unwrap_or(json!({"missing": seq})));
        }
        out.insert(
            name.into(),
            json!({"state": state, "config": cfg, "created": info["created"], "messages": msgs}),
        );
    }
    for (stream, consumer) in [
        ("ORDERS", "WORKER"),
        ("ORDERS", "LATE"),
        ("ORDERS", "FROM"),
        ("ORDERS", "LAST"),
        ("WQ", "JOBS"),
    ] {
        let i = req(c, &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"), "").await;
        out.insert(
            format!("{stream}.{consumer}"),
            json!({
                "created": i["created"], "name": i["name"],
                "delivered": i["delivered"], "ack_floor": i["ack_floor"],
                "num_ack_pending": i["num_ack_pending"], "num_pending": i["num_pending"],
                "num_redelivered": i["num_redelivered"],
                "ack_policy": i["config"]["ack_policy"], "ack_wait": i["config"]["ack_wait"],
                "filter_subject": i["config"]["filter_subject"],
            }),
        );
    }
    out.insert("kv".into(), kv_view(c).await);
    Value::Object(out)
}

async fn kv_view(c: &Client) -> Value {
    let js = async_nats::jetstream::new(c.clone());
    let kv = js.get_key_value("CFG").await.expect("bucket");
    let mut v = serde_json::Map::new();
    for key in ["a", "b.c", "gone", "purged"] {
        let entry = kv.entry(key).await.expect("entry");
        let history: Vec<Value> = match kv.history(key).await {
            Ok(h) => {
                h.map(|e| {
                    let e = e.expect("history entry");
                    json!([
                        e.revision,
                        format!("{:?}", e.operation),
                        String::from_utf8_lossy(&e.value)
                    ])
                })
                .collect()
                .await
            }
            Err(e) => vec![json!(e.to_string())],
        };
        v.insert(
            key.into(),
            json!({
                "get": entry.map(|e| json!([e.revision, String::from_utf8_lossy(&e.value)])),
                "history": history,
            }),
        );
    }
    Value::Object(v)
}

/// The next message each consumer hands out, and the consumers after it.
async fn next_of_consumers(c: &Client) -> Value {
    let js = async_nats::jetstream::new(c.clone());
    let mut out = Vec::new();
    for (stream, name) in [
        ("ORDERS", "WORKER"),
        ("ORDERS", "FROM"),
        ("ORDERS", "LAST"),
        ("WQ", "JOBS"),
    ] {
        let consumer: async_nats::jetstream::consumer::PullConsumer = js
            .get_consumer_from_stream(name, stream)
            .await
            .expect("consumer");
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .expect("fetch");
        let m = batch.next().await.expect("a next message").expect("msg");
        let info = m.info().expect("ack info");
        out.push(json!({
            "subject": m.subject.to_string(),
            "stream_seq": info.stream_sequence,
            "consumer_seq": info.consumer_sequence,
            "delivered": info.delivered,
            "pending": info.pending,
            "payload": m.payload.len(),
        }));
    }
    Value::Array(out)
}

/// A stream's state and sequences (whole messages are too long to read in a failure).
fn brief(v: &Value) -> Value {
    match v.get("messages").and_then(Value::as_array) {
        Some(msgs) => json!({
            "state": v["state"],
            "seqs": msgs.iter().map(|m| m["seq"].clone()).collect::<Vec<_>>(),
            "same_messages_hash": format!("{:x}", msgs.iter().map(|m| m.to_string().len()).sum::<usize>()),
        }),
        None => v.clone(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

#[tokio::test]
async fn nats_server_store_is_served_the_same_after_import() {
    let Some(bin) = nats_server_bin() else { return };
    // Built first: pending acks must not reach their ack wait during the test.
    nile_bin();
    let tmp = tempfile::tempdir().expect("tmp");
    let nats_sd = tmp.path().join("nats");
    let ns = NatsServer::start(&bin, &nats_sd);
    let purged_last_ts = populate(&client(&ns.url()).await).await;
    ns.stop();

    // Import from a copy: nats-server rewrites its own store when it restarts.
    let src = tmp.path().join("nats-copy");
    copy_dir(&nats_sd, &src);
    let blocks = std::fs::read_dir(src.join("jetstream/$G/streams/ORDERS/msgs"))
        .expect("msgs")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".blk"))
        .count();
    assert!(blocks >= 3, "ORDERS spans {blocks} blocks");
    let compressed = std::fs::read_dir(src.join("jetstream/$G/streams/ZIP/msgs"))
        .expect("msgs")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".blk"))
        .filter(|e| std::fs::read(e.path()).is_ok_and(|b| b.starts_with(b"cmp\x01")))
        .count();
    assert!(compressed >= 2, "ZIP has {compressed} compressed blocks");
    let nile_dir = tempfile::tempdir().expect("nile dir");
    let sd = nile_dir.path().join("store");
    let out = import(&src, &sd);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("imported stream \"ORDERS\""), "{report}");

    let ns = NatsServer::start(&bin, &nats_sd);
    let nc = client(&ns.url()).await;
    let nile = Nile::start_in(nile_dir, &["-js"]);
    let lc = client(&nile.url()).await;

    let mut want = observe(&nc).await;
    let got = observe(&lc).await;
    // nats-server itself brings an emptied stream's last time back from
    // its tombstone only sometimes: compare with what it served before.
    assert_ne!(purged_last_ts, "0001-01-01T00:00:00Z");
    want["PURGED"]["state"]["last_ts"] = purged_last_ts;
    let differ: Vec<String> = want
        .as_object()
        .expect("object")
        .iter()
        .filter(|(k, w)| &got[k.as_str()] != *w)
        .map(|(k, w)| {
            format!(
                "{k}:\n nats-server {}\n nile        {}",
                brief(w),
                brief(&got[k.as_str()])
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "differs after import:\n{}",
        differ.join("\n")
    );
    assert_eq!(
        want["ORDERS"]["state"]["num_deleted"], 2,
        "{}",
        want["ORDERS"]["state"]
    );
    assert_eq!(want["PURGED"]["state"]["last_seq"], 7);

    assert_eq!(next_of_consumers(&lc).await, next_of_consumers(&nc).await);
    // Publishing continues the sequences.
    for c in [&nc, &lc] {
        assert_eq!(pub_ok(c, "purged", None, "next".into()).await, 8);
    }
    ns.stop();
}

/// One flipped byte in a block is reported and nothing is imported;
/// an encrypted store is refused; a second import does not overwrite.
#[tokio::test]
async fn corrupt_encrypted_and_existing_are_refused() {
    let Some(bin) = nats_server_bin() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let nats_sd = tmp.path().join("nats");
    let ns = NatsServer::start(&bin, &nats_sd);
    let c = client(&ns.url()).await;
    req(
        &c,
        "$JS.API.STREAM.CREATE.S",
        &json!({"name":"S","subjects":["s"]}).to_string(),
    )
    .await;
    for i in 0..20 {
        pub_ok(&c, "s", None, payload(i + 1)).await;
    }
    ns.stop();
    let streams = nats_sd.join("jetstream").join("$G").join("streams");
    let blk = streams.join("S").join("msgs").join("1.blk");

    let bad = tmp.path().join("bad");
    copy_dir(&nats_sd, &bad);
    let bad_blk = bad.join("jetstream/$G/streams/S/msgs/1.blk");
    let mut bytes = std::fs::read(&bad_blk).expect("block");
    assert_eq!(bytes, std::fs::read(&blk).expect("block"));
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&bad_blk, bytes).expect("write");
    let sd = tmp.path().join("nile-bad");
    let out = import(&bad, &sd);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("corrupt record"),
        "{}",
        text(&out)
    );
    assert!(!sd.join("streams").join("S").exists(), "nothing imported");

    // A changed config no longer matches its meta.sum.
    let cfg = tmp.path().join("cfg");
    copy_dir(&nats_sd, &cfg);
    let meta = cfg.join("jetstream/$G/streams/S/meta.inf");
    let json = std::fs::read_to_string(&meta).expect("meta.inf");
    assert!(json.contains("\"max_msgs\":-1"), "{json}");
    std::fs::write(&meta, json.replace("\"max_msgs\":-1", "\"max_msgs\":5")).expect("write");
    let out = import(&cfg, &tmp.path().join("nile-cfg"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("meta.sum"),
        "{}",
        text(&out)
    );

    let enc = tmp.path().join("enc");
    copy_dir(&nats_sd, &enc);
    std::fs::write(enc.join("jetstream/$G/streams/S/meta.key"), b"key").expect("key");
    let out = import(&enc, &tmp.path().join("nile-enc"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("encrypted"),
        "{}",
        text(&out)
    );

    let sd = tmp.path().join("nile");
    let first = import(&nats_sd, &sd);
    assert!(first.status.success(), "{}", text(&first));
    let meta = std::fs::read(sd.join("streams/S/meta.json")).expect("meta");
    let again = import(&nats_sd, &sd);
    assert!(!again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read(sd.join("streams/S/meta.json")).expect("meta"),
        meta
    );
}

const ACCOUNTS_CONF: &str = "
jetstream: enabled
accounts {
  A: { jetstream: enabled, users: [{user: a, password: a}] }
  B: { jetstream: enabled, users: [{user: b, password: b}] }
}
";

async fn client_as(url: &str, user: &str) -> Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .request_timeout(Some(TIMEOUT))
        .connect(url)
        .await
        .expect("connect")
}

/// A named account's streams land in `<sd>/accounts/<name>/streams`, and
/// `--account` imports only the accounts it names.
#[tokio::test]
async fn accounts_import_into_their_own_directories() {
    let Some(bin) = nats_server_bin() else { return };
    nile_bin();
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = tmp.path().join("accounts.conf");
    std::fs::write(&conf, ACCOUNTS_CONF).expect("conf");
    let conf = conf.display().to_string();
    let nats_sd = tmp.path().join("nats");
    let ns = NatsServer::start_with(&bin, &nats_sd, &["-c", &conf]);
    let mut want = Vec::new();
    for (user, stream) in [("a", "S"), ("b", "T")] {
        let c = client_as(&ns.url(), user).await;
        let r = req(
            &c,
            &format!("$JS.API.STREAM.CREATE.{stream}"),
            &json!({"name": stream, "subjects": ["s.>"]}).to_string(),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
        for i in 0..3 {
            pub_ok(&c, &format!("s.{i}"), None, payload(i + 10)).await;
        }
        let got = req(
            &c,
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            r#"{"seq":2}"#,
        )
        .await;
        want.push(got["message"].clone());
    }
    ns.stop();

    let nile_dir = tempfile::tempdir().expect("nile dir");
    let sd = nile_dir.path().join("store");
    let out = import_with(&nats_sd, &sd, &["--account", "A"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("\"S\" (account A)"), "{report}");
    assert!(!report.contains("\"T\""), "{report}");
    assert!(sd.join("accounts/A/streams/S/meta.json").is_file());
    assert!(!sd.join("streams").join("T").exists());

    let nile = Nile::start_in(nile_dir, &["-c", &conf]);
    let a = client_as(&nile.url(), "a").await;
    let got = req(&a, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":2}"#).await;
    assert_eq!(got["message"], want[0]);
    let b = client_as(&nile.url(), "b").await;
    let info = req(&b, "$JS.API.STREAM.INFO.T", "").await;
    assert_eq!(info["error"]["err_code"], 10059, "{info}");
}

/// Fetches up to `max` messages from a pull consumer and double-acks those
/// `ack(n)` picks (the others stay pending); how many came.
async fn fetch_acking(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
    max: usize,
    ack: impl Fn(usize) -> bool,
) -> usize {
    let consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream(consumer, stream)
        .await
        .expect("consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .expect("fetch");
    let mut n = 0;
    while let Some(m) = batch.next().await {
        let m = m.expect("msg");
        if ack(n) {
            m.double_ack().await.expect("ack");
        }
        n += 1;
    }
    n
}
