//! Fast-ingest batch publish (ADR-50's fast flavour, nats-server 2.14):
//! `allow_batched`, the reply subject
//! `<prefix>.<id>.<flow>.<gap>.<seq>.<op>.$FI` that carries the batch, the
//! flow-control acks (`{"type":"ack",..}`), gap reports, per-message errors,
//! the final PubAck with `batch` and `count`, every refusal with
//! nats-server's code, and that what was acknowledged survives kill -9.

mod js_stream_util;

use std::time::Duration;

use async_nats::header::HeaderMap;
use async_nats::{Client, Subscriber};
use futures::StreamExt;
use js_stream_util::*;
use nile_tests::Nile;
use serde_json::{json, Value};

/// Operations of the reply subject.
const START: u8 = 0;
const APPEND: u8 = 1;
const COMMIT: u8 = 2;
const EOB: u8 = 3;
const PING: u8 = 4;

/// One batch as a client drives it: its inbox subscription and the reply
/// subject of each message.
struct Batch {
    c: Client,
    sub: Subscriber,
    prefix: String,
    id: String,
    flow: u16,
    gap: &'static str,
}

impl Batch {
    async fn new(c: &Client, id: &str, flow: u16, gap: &'static str) -> Batch {
        let prefix = format!("_FI.{}", c.new_inbox().rsplit('.').next().unwrap());
        let sub = c.subscribe(format!("{prefix}.{id}.>")).await.unwrap();
        c.flush().await.unwrap();
        Batch {
            c: c.clone(),
            sub,
            prefix,
            id: id.to_string(),
            flow,
            gap,
        }
    }

    fn reply(&self, seq: u64, op: u8) -> String {
        let Batch {
            prefix,
            id,
            flow,
            gap,
            ..
        } = self;
        format!("{prefix}.{id}.{flow}.{gap}.{seq}.{op}.$FI")
    }

    async fn send(&self, subject: &str, seq: u64, op: u8, headers: &[(&str, &str)]) {
        self.send_raw(subject, &self.reply(seq, op), headers).await;
    }

    async fn send_raw(&self, subject: &str, reply: &str, headers: &[(&str, &str)]) {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, *v);
        }
        let body = reply.to_string().into();
        self.c
            .publish_with_reply_and_headers(subject.to_string(), reply.to_string(), h, body)
            .await
            .unwrap();
    }

    /// The next reply: the subject it came on and its JSON.
    async fn next(&mut self) -> (String, Value) {
        let m = tokio::time::timeout(TIMEOUT, self.sub.next())
            .await
            .expect("a reply in time")
            .expect("subscription open");
        let v = serde_json::from_slice(&m.payload)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&m.payload)));
        (m.subject.to_string(), v)
    }

    /// The next reply, which must come on the reply subject of (seq, op).
    async fn next_on(&mut self, seq: u64, op: u8) -> Value {
        let (subject, v) = self.next().await;
        assert_eq!(subject, self.reply(seq, op), "reply {v}");
        v
    }

    /// Nothing more arrives for a moment (after a flush, so anything the
    /// server sent in reply to what came before is here by then).
    async fn quiet(&mut self) {
        self.c.flush().await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(300), self.sub.next()).await;
        if let Ok(Some(m)) = got {
            panic!(
                "unexpected reply on {}: {}",
                m.subject,
                String::from_utf8_lossy(&m.payload)
            );
        }
    }
}

fn flow(seq: u64, msgs: u64) -> Value {
    json!({"type": "ack", "seq": seq, "msgs": msgs})
}

fn gap(last_seq: u64, seq: u64) -> Value {
    json!({"type": "gap", "last_seq": last_seq, "seq": seq})
}

fn batch_ack(stream: &str, seq: u64, id: &str, count: u64) -> Value {
    json!({"stream": stream, "seq": seq, "batch": id, "count": count})
}

async fn fast_stream(c: &Client, name: &str, subjects: &str) {
    create(
        c,
        name,
        json!({"name": name, "subjects": [subjects], "allow_batched": true}),
    )
    .await;
}

async fn messages(c: &Client, stream: &str) -> u64 {
    info(c, stream).await["state"]["messages"].as_u64().unwrap()
}

#[tokio::test]
async fn allow_batched_round_trips_in_the_config() {
    let nile = start();
    let c = connect(&nile).await;
    let v = create(
        &c,
        "F",
        json!({"name": "F", "subjects": ["f.>"], "allow_batched": true}),
    )
    .await;
    assert_eq!(v["config"]["allow_batched"], json!(true));
    assert_eq!(info(&c, "F").await["config"]["allow_batched"], json!(true));
    let v = create(&c, "P", json!({"name": "P", "subjects": ["p.>"]})).await;
    assert!(v["config"].get("allow_batched").is_none(), "{v}");
    // Updates may turn it on and off.
    let upd = json!({"name": "P", "subjects": ["p.>"], "allow_batched": true});
    let v = req(&c, "$JS.API.STREAM.UPDATE.P", &upd.to_string()).await;
    assert_eq!(v["config"]["allow_batched"], json!(true), "{v}");
    // A mirror takes no batches.
    let mirror = json!({"name": "M", "mirror": {"name": "F"}, "allow_batched": true});
    let v = req(&c, "$JS.API.STREAM.CREATE.M", &mirror.to_string()).await;
    assert_eq!(
        v["error"],
        api_err(
            400,
            10209,
            "stream mirrors can not also use batch publishing"
        )
    );
}

#[tokio::test]
async fn flow_acks_every_n_then_the_commit_pub_ack() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "one", 5, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    // The first message says the flow the server allows.
    assert_eq!(b.next_on(1, START).await, flow(0, 5));
    for seq in 2..=12 {
        b.send("f.a", seq, APPEND, &[]).await;
    }
    // Every fifth message is acknowledged once stored, on its own reply.
    assert_eq!(b.next_on(5, APPEND).await, flow(5, 5));
    assert_eq!(b.next_on(10, APPEND).await, flow(10, 5));
    b.send("f.b", 13, COMMIT, &[]).await;
    assert_eq!(b.next_on(13, COMMIT).await, batch_ack("F", 13, "one", 13));
    b.quiet().await;
    assert_eq!(messages(&c, "F").await, 13);
    // The batch is over: a further message of it is unknown.
    b.send("f.a", 14, APPEND, &[]).await;
    assert_eq!(
        b.next_on(14, APPEND).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
}

#[tokio::test]
async fn a_batch_of_one_commits_at_once() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "single", 10, "fail").await;
    b.send("f.a", 1, COMMIT, &[]).await;
    assert_eq!(b.next_on(1, COMMIT).await, batch_ack("F", 1, "single", 1));
    b.quiet().await;
}

#[tokio::test]
async fn end_of_batch_commits_without_storing_the_marker() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "e", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 3, APPEND, &[]).await;
    b.send("f.end", 4, EOB, &[]).await;
    assert_eq!(b.next_on(4, EOB).await, batch_ack("F", 3, "e", 3));
    assert_eq!(messages(&c, "F").await, 3);
    let last = req(&c, "$JS.API.STREAM.MSG.GET.F", r#"{"seq":3}"#).await;
    assert_eq!(last["message"]["subject"], json!("f.a"));
    // nats-server marks nothing on the stored messages.
    assert!(last["message"].get("hdrs").is_none(), "{last}");
}

#[tokio::test]
async fn ping_resends_the_last_flow_ack() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "p", 3, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 3));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 2, PING, &[]).await;
    assert_eq!(b.next_on(2, PING).await, flow(0, 3));
    b.send("f.a", 3, APPEND, &[]).await;
    assert_eq!(b.next_on(3, APPEND).await, flow(3, 3));
    b.send("f.a", 3, PING, &[]).await;
    assert_eq!(b.next_on(3, PING).await, flow(3, 3));
    // A ping past what arrived reports the gap; in `fail` mode that ends
    // the batch with what was stored.
    b.send("f.a", 5, PING, &[]).await;
    assert_eq!(b.next_on(5, PING).await, gap(4, 6));
    assert_eq!(b.next_on(5, PING).await, batch_ack("F", 3, "p", 3));
    b.quiet().await;
}

#[tokio::test]
async fn a_ping_past_what_arrived_skips_ahead_in_an_ok_batch() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "pk", 4, "ok").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 4));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 3, PING, &[]).await;
    assert_eq!(b.next_on(3, PING).await, gap(3, 4));
    assert_eq!(b.next_on(3, PING).await, flow(0, 4));
    b.send("f.a", 9, PING, &[]).await;
    assert_eq!(b.next_on(9, PING).await, gap(4, 10));
    // The lost messages count towards the flow.
    assert_eq!(b.next_on(9, PING).await, flow(8, 4));
    b.send("f.a", 10, COMMIT, &[]).await;
    assert_eq!(b.next_on(10, COMMIT).await, batch_ack("F", 3, "pk", 10));
    b.quiet().await;
}

#[tokio::test]
async fn a_gap_ends_a_fail_batch_with_what_was_stored() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "g", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 4, APPEND, &[]).await;
    assert_eq!(b.next_on(4, APPEND).await, gap(3, 4));
    assert_eq!(b.next_on(4, APPEND).await, batch_ack("F", 2, "g", 2));
    b.send("f.a", 5, APPEND, &[]).await;
    assert_eq!(
        b.next_on(5, APPEND).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
    assert_eq!(messages(&c, "F").await, 2);
}

#[tokio::test]
async fn a_repeated_sequence_ends_the_batch() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "r", 10, "ok").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 2, APPEND, &[]).await;
    // Even where gaps are fine, going back is not: reported as a gap, and
    // the batch ends with what was stored.
    assert_eq!(b.next_on(2, APPEND).await, gap(3, 2));
    assert_eq!(b.next_on(2, APPEND).await, batch_ack("F", 2, "r", 2));
    b.quiet().await;
    assert_eq!(messages(&c, "F").await, 2);
}

#[tokio::test]
async fn a_gap_in_an_ok_batch_is_reported_and_skipped() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "k", 2, "ok").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 2));
    b.send("f.a", 2, APPEND, &[]).await;
    assert_eq!(b.next_on(2, APPEND).await, flow(2, 2));
    b.send("f.a", 5, APPEND, &[]).await;
    assert_eq!(b.next_on(5, APPEND).await, gap(3, 5));
    // Flow acks count batch sequences, the lost ones included.
    assert_eq!(b.next_on(5, APPEND).await, flow(4, 2));
    b.send("f.a", 6, COMMIT, &[]).await;
    assert_eq!(b.next_on(6, COMMIT).await, batch_ack("F", 4, "k", 6));
    assert_eq!(messages(&c, "F").await, 4);
}

#[tokio::test]
async fn a_failed_expectation_on_the_first_message_answers_as_a_publish() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "x", 10, "fail").await;
    b.send("f.a", 1, START, &[("Nats-Expected-Last-Sequence", "5")])
        .await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    assert_eq!(
        b.next_on(1, START).await,
        ack_err("F", 400, 10071, "wrong last sequence: 0")
    );
    b.quiet().await;
    assert_eq!(messages(&c, "F").await, 0);
    b.send("f.a", 2, APPEND, &[]).await;
    assert_eq!(
        b.next_on(2, APPEND).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
}

#[tokio::test]
async fn a_failed_expectation_later_reports_and_ends_a_fail_batch() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "y", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[]).await;
    b.send("f.a", 3, APPEND, &[("Nats-Expected-Last-Sequence", "1")])
        .await;
    let e = json!({"type": "err", "seq": 3,
        "error": api_err(400, 10071, "wrong last sequence: 2")});
    assert_eq!(b.next_on(3, APPEND).await, e);
    assert_eq!(b.next_on(3, APPEND).await, batch_ack("F", 2, "y", 2));
    b.quiet().await;
    assert_eq!(messages(&c, "F").await, 2);
}

#[tokio::test]
async fn a_failed_expectation_in_an_ok_batch_skips_the_message() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "z", 10, "ok").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[("Nats-Expected-Stream", "other")])
        .await;
    let e = json!({"type": "err", "seq": 2,
        "error": api_err(400, 10060, "expected stream does not match")});
    assert_eq!(b.next_on(2, APPEND).await, e);
    b.send("f.a", 3, COMMIT, &[]).await;
    assert_eq!(b.next_on(3, COMMIT).await, batch_ack("F", 2, "z", 3));
    assert_eq!(messages(&c, "F").await, 2);
}

#[tokio::test]
async fn duplicates_are_skipped_quietly() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "d", 10, "fail").await;
    b.send("f.a", 1, START, &[("Nats-Msg-Id", "m1")]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[("Nats-Msg-Id", "m1")]).await;
    b.send("f.a", 3, COMMIT, &[]).await;
    assert_eq!(b.next_on(3, COMMIT).await, batch_ack("F", 2, "d", 3));
    assert_eq!(messages(&c, "F").await, 2);
}

#[tokio::test]
async fn refusals_with_nats_server_codes() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    create(&c, "P", json!({"name": "P", "subjects": ["p.>"]})).await;
    let mut b = Batch::new(&c, "bad", 10, "fail").await;
    // Not enabled on the stream; nothing stored.
    b.send("p.a", 1, START, &[]).await;
    assert_eq!(
        b.next_on(1, START).await,
        ack_err("P", 400, 10205, "batch publish is disabled")
    );
    assert_eq!(messages(&c, "P").await, 0);
    let invalid = ack_err("F", 400, 10206, "batch publish pattern is invalid");
    let p = b.prefix.clone();
    for reply in [
        format!("{p}.bad.10.fail.1.7.$FI"),  // no such operation
        format!("{p}.bad.10.maybe.1.0.$FI"), // no such gap mode
        format!("{p}.bad.10.fail.1.1.$FI"),  // append as the first
        format!("{p}.bad.10.fail.2.0.$FI"),  // start past 1
        format!("{p}.bad.10.fail.1.3.$FI"),  // end of an empty batch
        format!("{p}.bad.10.fail.0.0.$FI"),  // sequence 0
        format!("{p}.bad.10.fail.x.0.$FI"),  // not a number
    ] {
        b.send_raw("f.a", &reply, &[]).await;
        let (subject, v) = b.next().await;
        assert_eq!(subject, reply);
        assert_eq!(v, invalid, "{reply}");
    }
    // An ID over 64 bytes.
    let long = "i".repeat(65);
    let mut l = Batch::new(&c, &long, 10, "fail").await;
    l.send("f.a", 1, START, &[]).await;
    assert_eq!(
        l.next_on(1, START).await,
        ack_err("F", 400, 10207, "batch publish ID is invalid")
    );
    // A batch that was never started.
    b.send("f.a", 2, APPEND, &[]).await;
    assert_eq!(
        b.next_on(2, APPEND).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
    assert_eq!(messages(&c, "F").await, 0);
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_first() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "F",
        json!({"name": "F", "subjects": ["f.>"], "allow_batched": true, "max_msg_size": 8}),
    )
    .await;
    let mut b = Batch::new(&c, "big", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await; // the body is the reply subject: long
    assert_eq!(
        b.next_on(1, START).await,
        ack_err("F", 400, 10054, "message size exceeds maximum allowed")
    );
    assert_eq!(messages(&c, "F").await, 0);
}

#[tokio::test]
async fn too_many_batches_in_flight_on_one_stream() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let prefix = "_MANY";
    let mut sub = c.subscribe(format!("{prefix}.>")).await.unwrap();
    for i in 0..1001 {
        let reply = format!("{prefix}.b{i}.1.fail.1.0.$FI");
        c.publish_with_reply("f.a", reply, "x".into())
            .await
            .unwrap();
    }
    // Each start gets a flow ack or two (all but the first batch start at a
    // flow of 1); read until the server has nothing more to say.
    let mut refused = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(1500), sub.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        if v.get("error").is_some() {
            refused.push((m.subject.to_string(), v));
        }
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, format!("{prefix}.b1000.1.fail.1.0.$FI"));
    assert_eq!(
        refused[0].1,
        ack_err("F", 429, 10211, "batch publish too many inflight")
    );
    assert_eq!(messages(&c, "F").await, 1000);
}

#[tokio::test]
async fn an_acknowledged_batch_survives_kill_9() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "k9", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    for seq in 2..=49 {
        b.send("f.a", seq, APPEND, &[]).await;
    }
    b.send("f.a", 50, COMMIT, &[]).await;
    let mut last = Value::Null;
    for _ in 0..5 {
        last = b.next().await.1;
    }
    assert_eq!(last, batch_ack("F", 50, "k9", 50));
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    assert_eq!(messages(&c, "F").await, 50);
}

#[tokio::test]
async fn a_required_api_level_too_high_ends_the_batch() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "lvl", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    b.send("f.a", 2, APPEND, &[("Nats-Required-Api-Level", "99")])
        .await;
    assert_eq!(
        b.next_on(2, APPEND).await,
        ack_err("F", 412, 10185, "JetStream minimum api level required")
    );
    b.send("f.a", 3, APPEND, &[]).await;
    assert_eq!(
        b.next_on(3, APPEND).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
    // An acceptable level is checked and not stored.
    let mut ok = Batch::new(&c, "lvl1", 10, "fail").await;
    ok.send("f.a", 1, COMMIT, &[("Nats-Required-Api-Level", "1")])
        .await;
    assert_eq!(ok.next_on(1, COMMIT).await, batch_ack("F", 2, "lvl1", 1));
    let m = req(&c, "$JS.API.STREAM.MSG.GET.F", r#"{"seq":2}"#).await;
    assert!(m["message"].get("hdrs").is_none(), "{m}");
}

#[tokio::test]
async fn flow_acked_messages_survive_kill_9_before_the_commit() {
    let nile = start();
    let c = connect(&nile).await;
    fast_stream(&c, "F", "f.>").await;
    let mut b = Batch::new(&c, "open", 10, "fail").await;
    b.send("f.a", 1, START, &[]).await;
    assert_eq!(b.next_on(1, START).await, flow(0, 10));
    for seq in 2..=20 {
        b.send("f.a", seq, APPEND, &[]).await;
    }
    assert_eq!(b.next_on(10, APPEND).await, flow(10, 10));
    assert_eq!(b.next_on(20, APPEND).await, flow(20, 10));
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    assert_eq!(messages(&c, "F").await, 20);
    // The batch itself did not survive: it is unknown now.
    let mut b = Batch::new(&c, "open", 10, "fail").await;
    b.send("f.a", 21, COMMIT, &[]).await;
    assert_eq!(
        b.next_on(21, COMMIT).await,
        ack_err("F", 400, 10208, "batch publish ID unknown")
    );
}
