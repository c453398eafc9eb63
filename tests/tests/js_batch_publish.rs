//! Atomic batch publish (ADR-50, nats-server 2.12): `allow_atomic`,
//! `Nats-Batch-Id` / `Nats-Batch-Sequence` / `Nats-Batch-Commit`, the empty
//! replies while staging, the commit PubAck with `batch` and `count`, every
//! refusal with nats-server's code, all or nothing on the stream, and
//! across kill -9.

mod js_stream_util;

use async_nats::header::HeaderMap;
use async_nats::Client;
use js_stream_util::*;
use nile_tests::Nile;
use serde_json::{json, Value};

/// Publish one batch message with a reply; the raw reply payload.
async fn batch_msg(
    c: &Client,
    subject: &str,
    id: &str,
    seq: Option<u64>,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut h = HeaderMap::new();
    h.insert("Nats-Batch-Id", id);
    if let Some(seq) = seq {
        h.insert("Nats-Batch-Sequence", seq.to_string().as_str());
    }
    for (k, v) in extra {
        h.insert(*k, *v);
    }
    let r = c.request_with_headers(subject.to_string(), h, format!("{id}:{seq:?}").into());
    let m = tokio::time::timeout(TIMEOUT, r)
        .await
        .expect("a reply in time")
        .expect("a reply");
    m.payload.to_vec()
}

async fn batch_json(
    c: &Client,
    subject: &str,
    id: &str,
    seq: Option<u64>,
    extra: &[(&str, &str)],
) -> Value {
    let raw = batch_msg(c, subject, id, seq, extra).await;
    serde_json::from_slice(&raw)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&raw)))
}

const COMMIT: (&str, &str) = ("Nats-Batch-Commit", "1");

async fn atomic_stream(c: &Client, name: &str, subjects: &str) {
    create(
        c,
        name,
        json!({"name": name, "subjects": [subjects], "allow_atomic": true, "allow_direct": true}),
    )
    .await;
}

fn batch_ack(stream: &str, seq: u64, id: &str, count: u64) -> Value {
    json!({"stream": stream, "seq": seq, "batch": id, "count": count})
}

async fn messages(c: &Client, stream: &str) -> u64 {
    info(c, stream).await["state"]["messages"].as_u64().unwrap()
}

#[tokio::test]
async fn staged_then_committed_as_one() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    assert_eq!(publish(&c, "b.x", &[], "before").await, ack("B", 1));
    assert_eq!(batch_msg(&c, "b.1", "one", Some(1), &[]).await, b"");
    assert_eq!(batch_msg(&c, "b.2", "one", Some(2), &[]).await, b"");
    // Nothing is stored before the commit.
    assert_eq!(messages(&c, "B").await, 1);
    assert_eq!(
        batch_json(&c, "b.3", "one", Some(3), &[COMMIT]).await,
        batch_ack("B", 4, "one", 3)
    );
    assert_eq!(messages(&c, "B").await, 4);
    // Stored with the batch headers as sent.
    let s = js.get_stream("B").await.unwrap();
    let m = s.direct_get(4).await.unwrap();
    assert_eq!(
        m.headers.get("Nats-Batch-Id").map(|v| v.as_str()),
        Some("one")
    );
    assert_eq!(
        m.headers.get("Nats-Batch-Sequence").map(|v| v.as_str()),
        Some("3")
    );
    assert_eq!(
        m.headers.get("Nats-Batch-Commit").map(|v| v.as_str()),
        Some("1")
    );
    let m = s.direct_get(2).await.unwrap();
    assert_eq!(m.subject.as_str(), "b.1");
    assert!(m.headers.get("Nats-Batch-Commit").is_none());
    // A batch of one commits at once.
    assert_eq!(
        batch_json(&c, "b.4", "single", Some(1), &[COMMIT]).await,
        batch_ack("B", 5, "single", 1)
    );
}

#[tokio::test]
async fn end_of_batch_commits_without_storing_the_marker() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    assert_eq!(batch_msg(&c, "b.1", "e", Some(1), &[]).await, b"");
    assert_eq!(batch_msg(&c, "b.2", "e", Some(2), &[]).await, b"");
    let eob = ("Nats-Batch-Commit", "eob");
    assert_eq!(
        batch_json(&c, "b.end", "e", Some(3), &[eob]).await,
        batch_ack("B", 2, "e", 2)
    );
    let s = js.get_stream("B").await.unwrap();
    let m = s.direct_get(2).await.unwrap();
    assert_eq!(m.subject.as_str(), "b.2");
    assert_eq!(
        m.headers.get("Nats-Batch-Commit").map(|v| v.as_str()),
        Some("1")
    );
    // An end marker cannot be the whole batch.
    let v = batch_json(&c, "b.end", "e2", Some(1), &[eob]).await;
    assert_eq!(v["error"]["err_code"], 10176, "{v}");
}

#[tokio::test]
async fn refusals_have_nats_server_codes() {
    let nile = start();
    let c = connect(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    create(&c, "P", json!({"name":"P","subjects":["p.>"]})).await;
    let e =
        |code: u64, err_code: u64, text: &str, stream: &str| ack_err(stream, code, err_code, text);
    assert_eq!(
        batch_json(&c, "p.1", "x", Some(1), &[COMMIT]).await,
        e(400, 10174, "atomic publish is disabled", "P")
    );
    let long = "i".repeat(65);
    assert_eq!(
        batch_json(&c, "b.1", &long, Some(1), &[]).await,
        e(400, 10179, "atomic publish batch ID is invalid", "B")
    );
    assert_eq!(
        batch_msg(&c, "b.1", &"i".repeat(64), Some(1), &[]).await,
        b""
    );
    assert_eq!(
        batch_json(&c, "b.1", "x", None, &[]).await,
        e(400, 10175, "atomic publish sequence is missing", "B")
    );
    // A batch must start at 1 and have no gaps; a gap abandons it.
    let incomplete = e(400, 10176, "atomic publish batch is incomplete", "B");
    assert_eq!(
        batch_json(&c, "b.1", "late", Some(2), &[]).await,
        incomplete
    );
    assert_eq!(batch_msg(&c, "b.1", "gap", Some(1), &[]).await, b"");
    assert_eq!(batch_json(&c, "b.1", "gap", Some(3), &[]).await, incomplete);
    assert_eq!(
        batch_json(&c, "b.1", "gap", Some(2), &[COMMIT]).await,
        incomplete
    );
    // Only 1 and eob commit.
    assert_eq!(batch_msg(&c, "b.1", "bad", Some(1), &[]).await, b"");
    assert_eq!(
        batch_json(&c, "b.1", "bad", Some(2), &[("Nats-Batch-Commit", "yes")]).await,
        e(400, 10200, "atomic publish batch commit is invalid", "B")
    );
    assert_eq!(
        batch_json(&c, "b.1", "bad", Some(3), &[COMMIT]).await,
        incomplete
    );
    // A required API level above the server's abandons the batch.
    let v = batch_json(
        &c,
        "b.1",
        "lvl",
        Some(1),
        &[("Nats-Required-Api-Level", "99")],
    )
    .await;
    assert_eq!(v["error"]["err_code"], 10185, "{v}");
    // Checked at the commit.
    assert_eq!(
        batch_msg(
            &c,
            "b.1",
            "lmi",
            Some(1),
            &[("Nats-Expected-Last-Msg-Id", "q")]
        )
        .await,
        b""
    );
    assert_eq!(
        batch_json(&c, "b.2", "lmi", Some(2), &[COMMIT]).await,
        e(
            400,
            10177,
            "atomic publish unsupported header used: Nats-Expected-Last-Msg-Id",
            "B"
        )
    );
    let dup = e(
        400,
        10201,
        "atomic publish batch contains duplicate message id",
        "B",
    );
    assert_eq!(
        batch_msg(&c, "b.1", "dup", Some(1), &[("Nats-Msg-Id", "m1")]).await,
        b""
    );
    assert_eq!(
        batch_json(&c, "b.2", "dup", Some(2), &[COMMIT, ("Nats-Msg-Id", "m1")]).await,
        dup
    );
    assert_eq!(
        publish(&c, "b.p", &[("Nats-Msg-Id", "m2")], "x").await,
        ack("B", 1)
    );
    assert_eq!(
        batch_json(&c, "b.1", "dup2", Some(1), &[COMMIT, ("Nats-Msg-Id", "m2")]).await,
        dup
    );
    // Of all these only the plain publish is stored (the 64-byte batch is still open).
    assert_eq!(messages(&c, "B").await, 1);
    // Mirrors take no batches.
    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.M",
        &json!({"name":"M","mirror":{"name":"B"},"allow_atomic":true}).to_string(),
    )
    .await;
    assert_eq!(
        v["error"],
        api_err(
            400,
            10198,
            "stream mirrors can not also use atomic publishing"
        )
    );
}

#[tokio::test]
async fn expectations_are_checked_as_if_published_one_by_one() {
    let nile = start();
    let c = connect(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    assert_eq!(publish(&c, "b.a", &[], "x").await, ack("B", 1));
    // The first message may expect the stream's last sequence...
    assert_eq!(
        batch_msg(
            &c,
            "b.b",
            "ok",
            Some(1),
            &[("Nats-Expected-Last-Sequence", "1")]
        )
        .await,
        b""
    );
    assert_eq!(
        batch_json(&c, "b.c", "ok", Some(2), &[COMMIT]).await,
        batch_ack("B", 3, "ok", 2)
    );
    // ...a later one may not, even with the sequence it would follow.
    assert_eq!(batch_msg(&c, "b.d", "later", Some(1), &[]).await, b"");
    assert_eq!(
        batch_json(
            &c,
            "b.e",
            "later",
            Some(2),
            &[COMMIT, ("Nats-Expected-Last-Sequence", "4")]
        )
        .await,
        ack_err("B", 400, 10164, "wrong last sequence")
    );
    // One failing expectation stores nothing.
    assert_eq!(batch_msg(&c, "b.d", "no", Some(1), &[]).await, b"");
    assert_eq!(
        batch_json(
            &c,
            "b.e",
            "no",
            Some(2),
            &[COMMIT, ("Nats-Expected-Last-Sequence", "3")]
        )
        .await,
        ack_err("B", 400, 10071, "wrong last sequence: 4")
    );
    assert_eq!(messages(&c, "B").await, 3);
    // A subject the batch already writes cannot be checked.
    assert_eq!(batch_msg(&c, "b.s", "subj", Some(1), &[]).await, b"");
    let expect = [
        COMMIT,
        ("Nats-Expected-Last-Subject-Sequence", "0"),
        ("Nats-Expected-Last-Subject-Sequence-Subject", "b.s"),
    ];
    assert_eq!(
        batch_json(&c, "b.t", "subj", Some(2), &expect).await,
        ack_err("B", 400, 10164, "wrong last sequence")
    );
    assert_eq!(messages(&c, "B").await, 3);
}

#[tokio::test]
async fn at_most_1000_messages() {
    let nile = start();
    let c = connect(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    for seq in 1..=1000 {
        let mut h = HeaderMap::new();
        h.insert("Nats-Batch-Id", "big");
        h.insert("Nats-Batch-Sequence", seq.to_string().as_str());
        c.publish_with_headers("b.x", h, "x".into()).await.unwrap();
    }
    assert_eq!(
        batch_json(&c, "b.x", "big", Some(1001), &[COMMIT]).await,
        ack_err("B", 400, 10199, "atomic publish batch is too large: 1000")
    );
    assert_eq!(messages(&c, "B").await, 0);
}

async fn stage_and_kill(with_commit: bool) -> (Nile, Client) {
    let nile = start();
    let c = connect(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    for seq in 1..=3 {
        assert_eq!(batch_msg(&c, "b.x", "k", Some(seq), &[]).await, b"");
    }
    if with_commit {
        assert_eq!(
            batch_json(&c, "b.x", "k", Some(4), &[COMMIT]).await,
            batch_ack("B", 4, "k", 4)
        );
    }
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    (nile, c)
}

#[tokio::test]
async fn an_acknowledged_batch_survives_kill_9() {
    let (_nile, c) = stage_and_kill(true).await;
    assert_eq!(messages(&c, "B").await, 4);
}

#[tokio::test]
async fn an_uncommitted_batch_is_gone_after_kill_9() {
    let (_nile, c) = stage_and_kill(false).await;
    assert_eq!(messages(&c, "B").await, 0);
    assert_eq!(
        batch_json(&c, "b.x", "k", Some(4), &[COMMIT]).await,
        ack_err("B", 400, 10176, "atomic publish batch is incomplete")
    );
}

#[tokio::test]
async fn abandoned_batches_are_advised() {
    use futures::StreamExt;
    let nile = start();
    let c = connect(&nile).await;
    atomic_stream(&c, "B", "b.>").await;
    let mut adv = c
        .subscribe("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.B")
        .await
        .unwrap();
    c.flush().await.unwrap();
    assert_eq!(batch_msg(&c, "b.1", "g", Some(1), &[]).await, b"");
    let v = batch_json(&c, "b.1", "g", Some(3), &[]).await;
    assert_eq!(v["error"]["err_code"], 10176, "{v}");
    let m = tokio::time::timeout(TIMEOUT, adv.next())
        .await
        .expect("an advisory")
        .unwrap();
    let a: Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(
        (&a["type"], &a["stream"], &a["batch"], &a["reason"]),
        (
            &json!("io.nats.jetstream.advisory.v1.stream_batch_abandoned"),
            &json!("B"),
            &json!("g"),
            &json!("incomplete")
        ),
        "{a}"
    );
}
