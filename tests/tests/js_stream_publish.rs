//! Publishing into streams: PubAcks, dedup, `Nats-Expected-*`, rollups,
//! sealed / deny_delete / deny_purge, discard new, message size, per-subject
//! limits, max_age, memory storage, first_seq, MSG.GET / MSG.DELETE and
//! DIRECT.GET (issue 4, spec §3.7, 3.13, 3.14).

mod js_stream_util;

use std::time::{Duration, Instant};

use async_nats::header::HeaderMap;
use async_nats::jetstream::stream::{Config, DirectGetErrorKind, DiscardPolicy, StorageType};
use js_stream_util::*;
use serde_json::json;

fn hdrs(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, *v);
    }
    h
}

#[tokio::test]
async fn pub_ack_and_no_stream_is_no_responders() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "S", json!({"name":"S","subjects":["s.>"]})).await;
    // Raw PubAck bytes as nats-server sends them.
    let m = c.request("s.a", "one".into()).await.unwrap();
    assert_eq!(&m.payload[..], br#"{"stream":"S","seq":1}"#);
    let pa = js
        .publish("s.b", "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        (pa.stream.as_str(), pa.sequence, pa.duplicate),
        ("S", 2, false)
    );
    // A plain PUB (no reply) is stored too.
    c.publish("s.c", "three".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(publish(&c, "s.d", &[], "four").await, ack("S", 4));
    // Nothing captures "t": core no-responders, which async-nats reports.
    let e = c.request("t", "x".into()).await.unwrap_err();
    assert_eq!(e.kind(), async_nats::RequestErrorKind::NoResponders);
    let e = js
        .publish("t", "x".into())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        async_nats::jetstream::context::PublishErrorKind::StreamNotFound
    );
    let s = js.get_stream("S").await.unwrap();
    let m = s.get_raw_message(3).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("s.c", &b"three"[..]));
}

#[tokio::test]
async fn dedup_by_msg_id() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "D",
        json!({"name":"D","subjects":["d.*"],"duplicate_window":1_000_000_000}),
    )
    .await;
    let m = c
        .request_with_headers("d.a", hdrs(&[("Nats-Msg-Id", "m1")]), "one".into())
        .await
        .unwrap();
    assert_eq!(&m.payload[..], br#"{"stream":"D","seq":1}"#);
    let m = c
        .request_with_headers("d.b", hdrs(&[("Nats-Msg-Id", "m1")]), "again".into())
        .await
        .unwrap();
    // nats-server's exact bytes, space included.
    assert_eq!(
        &m.payload[..],
        br#"{"stream":"D","seq":1,"duplicate": true}"#
    );
    let pa = js
        .publish_with_headers("d.a", hdrs(&[("Nats-Msg-Id", "m2")]), "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((pa.sequence, pa.duplicate), (2, false));
    let pa = js
        .publish_with_headers("d.a", hdrs(&[("Nats-Msg-Id", "m2")]), "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((pa.sequence, pa.duplicate), (2, true));
    let st = &info(&c, "D").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(2), Some(2))
    );
    // After the window the id is new again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        publish(&c, "d.a", &[("Nats-Msg-Id", "m1")], "later").await,
        ack("D", 3)
    );
}

#[tokio::test]
async fn expected_headers() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "Q", json!({"name":"Q","subjects":["q.>"]})).await;
    assert_eq!(
        publish(&c, "q.a", &[("Nats-Msg-Id", "m1")], "one").await,
        ack("Q", 1)
    );
    assert_eq!(
        publish(&c, "q.b", &[("Nats-Expected-Stream", "Z")], "x").await,
        ack_err("Q", 400, 10060, "expected stream does not match")
    );
    assert_eq!(
        publish(&c, "q.b", &[("Nats-Expected-Stream", "Q")], "x").await,
        ack("Q", 2)
    );
    assert_eq!(
        publish(&c, "q.b", &[("Nats-Expected-Last-Sequence", "5")], "x").await,
        ack_err("Q", 400, 10071, "wrong last sequence: 2")
    );
    assert_eq!(
        publish(&c, "q.b", &[("Nats-Expected-Last-Sequence", "abc")], "x").await,
        ack_err("Q", 400, 10071, "wrong last sequence: 2")
    );
    assert_eq!(
        publish(&c, "q.b", &[("Nats-Expected-Last-Sequence", "2")], "x").await,
        ack("Q", 3)
    );
    // Per subject: q.c has no message, so only 0 passes.
    assert_eq!(
        publish(
            &c,
            "q.c",
            &[("Nats-Expected-Last-Subject-Sequence", "1")],
            "x"
        )
        .await,
        ack_err("Q", 400, 10071, "wrong last sequence: 0")
    );
    assert_eq!(
        publish(
            &c,
            "q.c",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "x"
        )
        .await,
        ack("Q", 4)
    );
    assert_eq!(
        publish(
            &c,
            "q.c",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "y"
        )
        .await,
        ack_err("Q", 400, 10071, "wrong last sequence: 4")
    );
    assert_eq!(
        publish(
            &c,
            "q.c",
            &[("Nats-Expected-Last-Subject-Sequence", "4")],
            "y"
        )
        .await,
        ack("Q", 5)
    );
    // Last Msg-Id: the last stored message (seq 5) had none.
    assert_eq!(
        publish(&c, "q.d", &[("Nats-Expected-Last-Msg-Id", "m1")], "z").await,
        ack_err("Q", 400, 10070, "wrong last msg ID: ")
    );
    assert_eq!(
        publish(&c, "q.d", &[("Nats-Msg-Id", "m9")], "z").await,
        ack("Q", 6)
    );
    assert_eq!(
        publish(&c, "q.d", &[("Nats-Expected-Last-Msg-Id", "m1")], "z").await,
        ack_err("Q", 400, 10070, "wrong last msg ID: m9")
    );
    assert_eq!(
        publish(
            &c,
            "q.d",
            &[("Nats-Expected-Last-Msg-Id", "m9"), ("Nats-Msg-Id", "m10")],
            "z"
        )
        .await,
        ack("Q", 7)
    );
    // Purge-aware: after purging q.c, expecting 0 on q.c passes.
    let v = req(&c, "$JS.API.STREAM.PURGE.Q", r#"{"filter":"q.c"}"#).await;
    assert_eq!(v["purged"], 2);
    assert_eq!(
        publish(
            &c,
            "q.c",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "again"
        )
        .await,
        ack("Q", 8)
    );
    // Failed publishes stored nothing.
    let st = &info(&c, "Q").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(6), Some(8))
    );

    // Order: expected stream and sequences are checked before dedup, the
    // expected last Msg-Id after it (nats-server 2.15.1).
    assert_eq!(
        publish(
            &c,
            "q.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Stream", "Z")],
            "d"
        )
        .await,
        ack_err("Q", 400, 10060, "expected stream does not match")
    );
    assert_eq!(
        publish(
            &c,
            "q.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Last-Sequence", "1")],
            "d"
        )
        .await,
        ack_err("Q", 400, 10071, "wrong last sequence: 8")
    );
    assert_eq!(
        publish(
            &c,
            "q.a",
            &[
                ("Nats-Msg-Id", "m1"),
                ("Nats-Expected-Last-Subject-Sequence", "9")
            ],
            "d"
        )
        .await,
        ack_err("Q", 400, 10071, "wrong last sequence: 1")
    );
    assert_eq!(
        publish(
            &c,
            "q.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Last-Msg-Id", "no")],
            "d"
        )
        .await,
        json!({"stream":"Q","seq":1,"duplicate":true})
    );
    assert_eq!(
        publish(
            &c,
            "q.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Last-Sequence", "8")],
            "d"
        )
        .await,
        json!({"stream":"Q","seq":1,"duplicate":true})
    );

    // async-nats maps 10071 and 10070 to its own error kinds.
    let js = async_nats::jetstream::new(c.clone());
    let e = js
        .publish_with_headers(
            "q.a",
            hdrs(&[("Nats-Expected-Last-Sequence", "1")]),
            "x".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastSequence
    );
    let e = js
        .publish_with_headers(
            "q.a",
            hdrs(&[("Nats-Expected-Last-Msg-Id", "nope")]),
            "x".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastMessageId
    );
}

#[tokio::test]
async fn rollup_headers() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "NR", json!({"name":"NR","subjects":["nr.>"]})).await;
    assert_eq!(
        publish(&c, "nr.a", &[("Nats-Rollup", "sub")], "x").await,
        ack_err("NR", 500, 10111, "rollup not permitted")
    );
    create(
        &c,
        "R",
        json!({"name":"R","subjects":["r.>"],"allow_rollup_hdrs":true}),
    )
    .await;
    for (s, b) in [("r.a", "1"), ("r.a", "2"), ("r.b", "3"), ("r.a", "4")] {
        js.publish(s, b.into()).await.unwrap().await.unwrap();
    }
    assert_eq!(
        publish(&c, "r.a", &[("Nats-Rollup", "bad")], "x").await,
        ack_err("R", 500, 10111, "rollup value invalid: \"bad\"")
    );
    assert_eq!(
        publish(&c, "r.a", &[("Nats-Rollup", "sub")], "5").await,
        ack("R", 5)
    );
    let v = req(&c, "$JS.API.STREAM.INFO.R", r#"{"subjects_filter":">"}"#).await;
    assert_eq!(v["state"]["subjects"], json!({"r.a": 1, "r.b": 1}));
    assert_eq!(
        (
            v["state"]["messages"].as_u64(),
            v["state"]["first_seq"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let s = js.get_stream("R").await.unwrap();
    let m = s.get_last_raw_message_by_subject("r.a").await.unwrap();
    assert_eq!((m.sequence, &m.payload[..]), (5, &b"5"[..]));
    assert_eq!(
        m.headers.get("Nats-Rollup").map(|v| v.as_str()),
        Some("sub")
    );
    assert_eq!(
        publish(&c, "r.c", &[("Nats-Rollup", "all")], "6").await,
        ack("R", 6)
    );
    let v = req(&c, "$JS.API.STREAM.INFO.R", r#"{"subjects_filter":">"}"#).await;
    assert_eq!(v["state"]["subjects"], json!({"r.c": 1}));
    assert_eq!(
        (
            v["state"]["messages"].as_u64(),
            v["state"]["first_seq"].as_u64(),
            v["state"]["last_seq"].as_u64()
        ),
        (Some(1), Some(6), Some(6))
    );
}

#[tokio::test]
async fn sealed_deny_delete_deny_purge() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "G",
        json!({"name":"G","subjects":["g"],"deny_delete":true,"deny_purge":true}),
    )
    .await;
    js.publish("g", "1".into()).await.unwrap().await.unwrap();
    js.publish("g", "2".into()).await.unwrap().await.unwrap();
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":1}"#).await,
        json!({"type":"io.nats.jetstream.api.v1.stream_msg_delete_response",
               "error": api_err(500, 10057, "message delete not permitted")})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.PURGE.G", "").await,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response",
               "error": api_err(500, 10110, "stream purge not permitted"), "purged": 0})
    );
    let s = js.get_stream("G").await.unwrap();
    assert!(s.delete_message(1).await.is_err());
    assert!(s.purge().await.is_err());
    assert_eq!(info(&c, "G").await["state"]["messages"], 2);

    // Sealing: no writes, deletes or purges; the data stays readable.
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.G",
        r#"{"name":"G","subjects":["g"],"deny_delete":true,"deny_purge":true,"sealed":true}"#,
    )
    .await;
    assert_eq!(v["config"]["sealed"], true, "{v}");
    let sealed = api_err(400, 10109, "invalid operation on sealed stream");
    assert_eq!(
        publish(&c, "g", &[], "3").await,
        ack_err("G", 400, 10109, "invalid operation on sealed stream")
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":1}"#).await,
        json!({"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","error": sealed})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.PURGE.G", "").await,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response","error": sealed, "purged": 0})
    );
    let m = s.get_raw_message(2).await.unwrap();
    assert_eq!(&m.payload[..], b"2");
    let st = &info(&c, "G").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn discard_new_and_max_msg_size() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    js.create_stream(Config {
        name: "N".into(),
        subjects: vec!["n.*".into()],
        max_messages: 3,
        discard: DiscardPolicy::New,
        max_message_size: 100,
        ..Default::default()
    })
    .await
    .unwrap();
    // Headers count toward max_msg_size: 10 header-free bytes fit exactly.
    let body100 = "x".repeat(100);
    assert_eq!(publish(&c, "n.a", &[], &body100).await, ack("N", 1));
    assert_eq!(
        publish(&c, "n.a", &[], &"x".repeat(101)).await,
        ack_err("N", 400, 10054, "message size exceeds maximum allowed")
    );
    assert_eq!(
        publish(&c, "n.a", &[("X", "y")], &body100).await,
        ack_err("N", 400, 10054, "message size exceeds maximum allowed")
    );
    assert_eq!(publish(&c, "n.b", &[], "2").await, ack("N", 2));
    assert_eq!(publish(&c, "n.c", &[], "3").await, ack("N", 3));
    assert_eq!(
        publish(&c, "n.d", &[], "4").await,
        ack_err("N", 503, 10077, "maximum messages exceeded")
    );
    let st = &info(&c, "N").await["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(3), Some(1), Some(3))
    );
    // Deleting one makes room again.
    let s = js.get_stream("N").await.unwrap();
    assert!(s.delete_message(2).await.unwrap());
    assert_eq!(publish(&c, "n.d", &[], "4").await, ack("N", 4));

    // max_bytes with discard new: nats-server's text.
    create(
        &c,
        "B",
        json!({"name":"B","subjects":["b"],"max_bytes":200,"discard":"new"}),
    )
    .await;
    let mut stored = 0;
    let last = loop {
        let a = publish(&c, "b", &[], "0123456789").await;
        if a.get("error").is_some() {
            break a;
        }
        stored += 1;
        assert!(stored < 100, "max_bytes never enforced");
    };
    // 4 records of 10 bytes fit, as on nats-server.
    assert_eq!(stored, 4);
    assert_eq!(last, ack_err("B", 503, 10077, "maximum bytes exceeded"));
    let st = &info(&c, "B").await["state"];
    assert_eq!(st["messages"].as_u64(), Some(stored));
    assert!(st["bytes"].as_u64().unwrap() <= 200);

    // Per subject with discard_new_per_subject.
    create(
        &c,
        "PS",
        json!({"name":"PS","subjects":["ps.*"],"discard":"new","max_msgs_per_subject":1,
               "discard_new_per_subject":true}),
    )
    .await;
    assert_eq!(publish(&c, "ps.a", &[], "1").await, ack("PS", 1));
    assert_eq!(
        publish(&c, "ps.a", &[], "2").await,
        ack_err("PS", 503, 10077, "maximum messages per subject exceeded")
    );
    assert_eq!(publish(&c, "ps.b", &[], "3").await, ack("PS", 2));
}

#[tokio::test]
async fn max_msgs_per_subject_discards_oldest_on_that_subject() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "K",
        json!({"name":"K","subjects":["k.*"],"max_msgs_per_subject":2,"storage":"memory"}),
    )
    .await;
    for (s, b) in [
        ("k.b", "1"),
        ("k.a", "2"),
        ("k.a", "3"),
        ("k.a", "4"),
        ("k.a", "5"),
    ] {
        js.publish(s, b.into()).await.unwrap().await.unwrap();
    }
    // k.a keeps 4 and 5; k.b's seq 1 stays, so 2 and 3 are interior gaps.
    let v = req(
        &c,
        "$JS.API.STREAM.INFO.K",
        r#"{"subjects_filter":"k.*","deleted_details":true}"#,
    )
    .await;
    assert_eq!(v["state"]["subjects"], json!({"k.a": 2, "k.b": 1}));
    assert_eq!(
        (
            v["state"]["messages"].as_u64(),
            v["state"]["first_seq"].as_u64(),
            v["state"]["num_deleted"].as_u64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(v["state"]["deleted"], json!([2, 3]));
    let s = js.get_stream("K").await.unwrap();
    let m = s.get_raw_message(4).await.unwrap();
    assert_eq!(&m.payload[..], b"4");
    assert!(s.get_raw_message(2).await.is_err());
    assert!(s.get_raw_message(3).await.is_err());
    // Discard new without discard_new_per_subject still drops the oldest.
    create(
        &c,
        "K2",
        json!({"name":"K2","subjects":["k2.*"],"max_msgs_per_subject":1,"discard":"new"}),
    )
    .await;
    assert_eq!(publish(&c, "k2.a", &[], "1").await, ack("K2", 1));
    assert_eq!(publish(&c, "k2.a", &[], "2").await, ack("K2", 2));
    let st = &info(&c, "K2").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["first_seq"].as_u64()),
        (Some(1), Some(2))
    );
}

#[tokio::test]
async fn max_age_expires_without_new_writes() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "A",
        json!({"name":"A","subjects":["a"],"max_age":200_000_000}),
    )
    .await;
    create(
        &c,
        "AM",
        json!({"name":"AM","subjects":["am"],"max_age":200_000_000,"storage":"memory"}),
    )
    .await;
    for _ in 0..5 {
        js.publish("a", "x".into()).await.unwrap().await.unwrap();
        js.publish("am", "x".into()).await.unwrap().await.unwrap();
    }
    assert_eq!(info(&c, "A").await["state"]["messages"], 5);
    let deadline = Instant::now() + Duration::from_secs(5);
    for name in ["A", "AM"] {
        loop {
            let st = info(&c, name).await["state"].clone();
            if st["messages"] == 0 {
                assert_eq!(
                    (
                        st["first_seq"].as_u64(),
                        st["last_seq"].as_u64(),
                        st["bytes"].as_u64()
                    ),
                    (Some(6), Some(5), Some(0)),
                    "{name}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "{name} never expired: {st}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Sequences continue after expiry.
    assert_eq!(publish(&c, "a", &[], "y").await, ack("A", 6));
}

#[tokio::test]
async fn memory_storage_and_first_seq() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let v = create(
        &c,
        "F",
        json!({"name":"F","subjects":["f"],"first_seq":100}),
    )
    .await;
    assert_eq!(v["config"]["first_seq"], 100);
    assert_eq!(
        (
            v["state"]["first_seq"].as_u64(),
            v["state"]["last_seq"].as_u64()
        ),
        (Some(100), Some(99))
    );
    assert_eq!(publish(&c, "f", &[], "a").await, ack("F", 100));
    assert_eq!(publish(&c, "f", &[], "b").await, ack("F", 101));

    let mut s = js
        .create_stream(Config {
            name: "MEM".into(),
            subjects: vec!["mem.>".into()],
            storage: StorageType::Memory,
            first_sequence: Some(7),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        let pa = js
            .publish_with_headers(
                "mem.x",
                hdrs(&[("I", &i.to_string())]),
                format!("p{i}").into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(pa.sequence, 7 + i);
    }
    let info = s.info().await.unwrap();
    assert_eq!(info.config.storage, StorageType::Memory);
    assert_eq!(
        (
            info.state.messages,
            info.state.first_sequence,
            info.state.last_sequence
        ),
        (3, 7, 9)
    );
    let m = s.get_raw_message(8).await.unwrap();
    assert_eq!(
        (&m.payload[..], m.headers.get("I").map(|v| v.as_str())),
        (&b"p1"[..], Some("1"))
    );
}

#[tokio::test]
async fn msg_get_and_delete() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "G", json!({"name":"G","subjects":["g.*"]})).await;
    js.publish_with_headers("g.a", hdrs(&[("H1", "v1")]), "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("g.b", "".into()).await.unwrap().await.unwrap();
    js.publish("g.a", "three".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let kind = "io.nats.jetstream.api.v1.stream_msg_get_response";
    let v = req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"seq":1}"#).await;
    assert_eq!(v["type"], kind);
    let m = &v["message"];
    assert_eq!(
        (m["subject"].as_str(), m["seq"].as_u64()),
        (Some("g.a"), Some(1))
    );
    assert_eq!(m["data"], "b25l"); // "one"
    assert_eq!(m["hdrs"], "TkFUUy8xLjANCkgxOiB2MQ0KDQo="); // NATS/1.0\r\nH1: v1\r\n\r\n
    assert!(is_rfc3339(m["time"].as_str().unwrap()));
    // Empty payload and no headers: both fields absent.
    let v = req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"seq":2}"#).await;
    assert_eq!(v["message"].get("data"), None, "{v}");
    assert_eq!(v["message"].get("hdrs"), None, "{v}");
    let v = req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"last_by_subj":"g.a"}"#).await;
    assert_eq!(v["message"]["seq"], 3);
    let v = req(
        &c,
        "$JS.API.STREAM.MSG.GET.G",
        r#"{"next_by_subj":"g.a","seq":2}"#,
    )
    .await;
    assert_eq!(v["message"]["seq"], 3);
    let v = req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"next_by_subj":"g.b"}"#).await;
    assert_eq!(v["message"]["seq"], 2);
    let not_found = json!({"type": kind, "error": api_err(404, 10037, "no message found")});
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"seq":9}"#).await,
        not_found
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"last_by_subj":"g.z"}"#).await,
        not_found
    );
    let bad = json!({"type": kind, "error": api_err(400, 10003, "bad request")});
    assert_eq!(req(&c, "$JS.API.STREAM.MSG.GET.G", "{}").await, bad);
    assert_eq!(req(&c, "$JS.API.STREAM.MSG.GET.G", "").await, bad);
    assert_eq!(
        req(
            &c,
            "$JS.API.STREAM.MSG.GET.G",
            r#"{"seq":1,"last_by_subj":"g.a"}"#
        )
        .await,
        bad
    );

    // async-nats.
    let s = js.get_stream("G").await.unwrap();
    let m = s.get_raw_message(1).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("g.a", &b"one"[..]));
    assert_eq!(m.headers.get("H1").map(|v| v.as_str()), Some("v1"));
    assert!(s.get_raw_message(9).await.is_err());

    // Delete, then the gap is reported and the message is gone.
    let dkind = "io.nats.jetstream.api.v1.stream_msg_delete_response";
    assert_eq!(
        req(
            &c,
            "$JS.API.STREAM.MSG.DELETE.G",
            r#"{"seq":2,"no_erase":true}"#
        )
        .await,
        json!({"type": dkind, "success": true})
    );
    // Gone already: interior, past the end, before the start.
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":2}"#).await,
        json!({"type": dkind, "error": api_err(400, 10043, "sequence 2 not found")})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":9}"#).await,
        json!({"type": dkind, "error": api_err(500, 10057, "stream store EOF")})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", "{}").await,
        json!({"type": dkind, "error": api_err(400, 10003, "bad request")})
    );
    assert!(s.delete_message(1).await.unwrap());
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.GET.G", r#"{"seq":1}"#).await,
        not_found
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":1}"#).await,
        json!({"type": dkind, "error": api_err(500, 10057, "no message found")})
    );
    let st = &req(&c, "$JS.API.STREAM.INFO.G", r#"{"deleted_details":true}"#).await["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(1), Some(3), Some(3))
    );
    // Deleting the first messages moves first_seq; no interior gaps remain.
    assert_eq!(st.get("num_deleted"), None, "{st}");
}

#[tokio::test]
async fn direct_get() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "DG",
        json!({"name":"DG","subjects":["dg.>"],"allow_direct":true}),
    )
    .await;
    create(&c, "ND", json!({"name":"ND","subjects":["nd"]})).await;
    js.publish_with_headers("dg.a", hdrs(&[("X-A", "1")]), "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("dg.b", "two".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("dg.a", "three".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("nd", "x".into()).await.unwrap().await.unwrap();

    // Byte-exact reply headers.
    let mut raw = raw_client(&nile);
    let (h, body) = raw_request(&mut raw, "$JS.API.DIRECT.GET.DG", br#"{"seq":1}"#);
    let h = h.expect("headers");
    assert_eq!(body, b"one");
    let lines: Vec<&str> = h.split("\r\n").collect();
    assert_eq!(
        &lines[..5],
        [
            "NATS/1.0",
            "X-A: 1",
            "Nats-Stream: DG",
            "Nats-Subject: dg.a",
            "Nats-Sequence: 1"
        ],
        "{h:?}"
    );
    let ts = lines[5]
        .strip_prefix("Nats-Time-Stamp: ")
        .expect("timestamp");
    assert!(is_rfc3339(ts), "{ts}");
    assert_eq!(&lines[6..], ["", ""]);
    // Last for subject, by body and by subject suffix.
    let (h, body) = raw_request(
        &mut raw,
        "$JS.API.DIRECT.GET.DG",
        br#"{"last_by_subj":"dg.a"}"#,
    );
    assert!(h.unwrap().contains("Nats-Sequence: 3\r\n"));
    assert_eq!(body, b"three");
    let (h, body) = raw_request(&mut raw, "$JS.API.DIRECT.GET.DG.dg.b", b"");
    assert!(h.unwrap().contains("Nats-Sequence: 2\r\n"));
    assert_eq!(body, b"two");
    // Misses and bad requests are status replies.
    for (subj, req_body, status) in [
        (
            "$JS.API.DIRECT.GET.DG",
            &br#"{"seq":99}"#[..],
            "NATS/1.0 404 Message Not Found\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG.dg.zz",
            b"",
            "NATS/1.0 404 Message Not Found\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG",
            b"",
            "NATS/1.0 408 Empty Request\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG",
            b"{}",
            "NATS/1.0 408 Empty Request\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG",
            br#"{"seq":0}"#,
            "NATS/1.0 408 Empty Request\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG",
            br#"{"seq":1,"last_by_subj":"dg.a"}"#,
            "NATS/1.0 408 Bad Request\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG",
            b"{bad",
            "NATS/1.0 408 Malformed Request\r\n\r\n",
        ),
        (
            "$JS.API.DIRECT.GET.DG.dg.a",
            br#"{"seq":1}"#,
            "NATS/1.0 408 Bad Request\r\n\r\n",
        ),
    ] {
        let (h, body) = raw_request(&mut raw, subj, req_body);
        assert_eq!((h.as_deref(), body.len()), (Some(status), 0), "{subj}");
    }

    // async-nats.
    let s = js.get_stream("DG").await.unwrap();
    let m = s.direct_get_last_for_subject("dg.a").await.unwrap();
    assert_eq!(
        (m.sequence, &m.payload[..], m.subject.as_str()),
        (3, &b"three"[..], "dg.a")
    );
    let m = s.direct_get(1).await.unwrap();
    assert_eq!(m.headers.get("X-A").map(|v| v.as_str()), Some("1"));
    let e = s.direct_get_last_for_subject("dg.none").await.unwrap_err();
    assert_eq!(e.kind(), DirectGetErrorKind::NotFound);
    let e = s.direct_get(42).await.unwrap_err();
    assert_eq!(e.kind(), DirectGetErrorKind::NotFound);

    // No direct get on ND and no stream NOPE: nobody answers (503).
    for subj in [
        "$JS.API.DIRECT.GET.ND",
        "$JS.API.DIRECT.GET.NOPE",
        "$JS.API.DIRECT.GET.ND.nd",
    ] {
        let body = if subj.ends_with(".nd") {
            ""
        } else {
            r#"{"seq":1}"#
        };
        let e = req_msg(&c, subj, body).await.unwrap_err();
        assert_eq!(
            e.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{subj}"
        );
    }
    // Turning allow_direct on by update starts answering.
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.ND",
        r#"{"name":"ND","subjects":["nd"],"allow_direct":true}"#,
    )
    .await;
    assert_eq!(v["config"]["allow_direct"], true, "{v}");
    let m = req_msg(&c, "$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#)
        .await
        .unwrap();
    assert_eq!(&m.payload[..], b"x");
}

#[tokio::test]
async fn header_limit_no_ack_and_workqueue() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "HB", json!({"name":"HB","subjects":["hb"]})).await;
    let big = "a".repeat(70_000);
    assert_eq!(
        publish(&c, "hb", &[("X-Big", big.as_str())], "").await,
        ack_err(
            "HB",
            400,
            10097,
            "header size exceeds maximum allowed of 64k"
        )
    );
    assert_eq!(info(&c, "HB").await["state"]["messages"], 0);

    // no_ack: stored, but the publisher gets no reply at all (not a 503).
    create(
        &c,
        "NA",
        json!({"name":"NA","subjects":["na"],"no_ack":true}),
    )
    .await;
    let r = tokio::time::timeout(Duration::from_millis(300), c.request("na", "x".into())).await;
    assert!(r.is_err(), "expected no ack, got {r:?}");
    assert_eq!(info(&c, "NA").await["state"]["messages"], 1);

    // A workqueue stream keeps messages while no consumer took them.
    create(
        &c,
        "WQ",
        json!({"name":"WQ","subjects":["wq.*"],"retention":"workqueue"}),
    )
    .await;
    for i in 0..3 {
        let a = js
            .publish(format!("wq.{i}"), "job".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(a.sequence, i + 1);
    }
    let v = info(&c, "WQ").await;
    assert_eq!(v["config"]["retention"], "workqueue");
    assert_eq!(v["state"]["messages"], 3);
    // An interest stream with no consumers keeps nothing.
    create(
        &c,
        "IN",
        json!({"name":"IN","subjects":["in"],"retention":"interest"}),
    )
    .await;
    assert_eq!(publish(&c, "in", &[], "x").await, ack("IN", 1));
    let st = &info(&c, "IN").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn large_message_round_trip() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "BIG",
        json!({"name":"BIG","subjects":["big"],"allow_direct":true}),
    )
    .await;
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let a = js
        .publish("big", payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(a.sequence, 1);
    let s = js.get_stream("BIG").await.unwrap();
    let m = s.direct_get(1).await.unwrap();
    assert_eq!(m.payload.len(), payload.len());
    assert!(m.payload[..] == payload[..]);
    let m = s.get_raw_message(1).await.unwrap();
    assert!(m.payload[..] == payload[..]);
}

#[tokio::test]
async fn domain_in_pub_ack_and_account_info() {
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(conf.path(), "jetstream {\n  domain: hub\n}\n").unwrap();
    let path = conf.path().display().to_string();
    let nile = nile_tests::Nile::start(&["-c", &path, "-js"]);
    let c = connect(&nile).await;
    create(&c, "D", json!({"name":"D"})).await;
    // nats-server's bytes: domain between stream and seq.
    let m = c.request("D", "x".into()).await.unwrap();
    assert_eq!(&m.payload[..], br#"{"stream":"D","domain":"hub","seq":1}"#);
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(v["domain"], "hub");
    let js = async_nats::jetstream::new(c.clone());
    let a = js.publish("D", "y".into()).await.unwrap().await.unwrap();
    assert_eq!((a.domain.as_str(), a.sequence), ("hub", 2));
}

/// Key-value buckets are streams driven by the client: this exercises
/// max_msgs_per_subject, discard new, allow_direct, rollups and the
/// expected-subject-sequence checks the way async-nats uses them.
#[tokio::test]
async fn key_value_bucket_on_a_stream() {
    use async_nats::jetstream::kv;
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "cfg".into(),
            history: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let v = info(&c, "KV_cfg").await;
    assert_eq!(v["config"]["subjects"], json!(["$KV.cfg.>"]));
    assert_eq!(v["config"]["max_msgs_per_subject"], 3);
    assert_eq!(v["config"]["allow_rollup_hdrs"], true);
    assert_eq!(v["config"]["deny_delete"], true);
    assert_eq!(v["config"]["allow_direct"], true);
    assert_eq!(v["config"]["discard"], "new");

    assert_eq!(kv.put("a", "1".into()).await.unwrap(), 1);
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(kv.get("missing").await.unwrap(), None);
    // create fails when the key exists; update needs the right revision.
    assert!(kv.create("a", "x".into()).await.is_err());
    assert_eq!(kv.create("b", "2".into()).await.unwrap(), 2);
    assert!(kv.update("a", "x".into(), 2).await.is_err());
    assert_eq!(kv.update("a", "3".into(), 1).await.unwrap(), 3);
    let e = kv.entry("a").await.unwrap().unwrap();
    assert_eq!((e.revision, &e.value[..]), (3, &b"3"[..]));
    // delete leaves a marker; create works again on a deleted key.
    kv.delete("b").await.unwrap();
    assert_eq!(kv.get("b").await.unwrap(), None);
    assert_eq!(kv.create("b", "again".into()).await.unwrap(), 5);
    // purge rolls the key up to one marker.
    for i in 0..3 {
        kv.put("a", i.to_string().into()).await.unwrap();
    }
    kv.purge("a").await.unwrap();
    assert_eq!(kv.get("a").await.unwrap(), None);
    let v = req(
        &c,
        "$JS.API.STREAM.INFO.KV_cfg",
        r#"{"subjects_filter":">"}"#,
    )
    .await;
    assert_eq!(
        v["state"]["subjects"],
        json!({"$KV.cfg.a": 1, "$KV.cfg.b": 3})
    );
    // History is capped at 3 per key.
    for i in 0..5 {
        kv.put("h", i.to_string().into()).await.unwrap();
    }
    let v = req(
        &c,
        "$JS.API.STREAM.INFO.KV_cfg",
        r#"{"subjects_filter":"$KV.cfg.h"}"#,
    )
    .await;
    assert_eq!(v["state"]["subjects"], json!({"$KV.cfg.h": 3}));
    assert_eq!(kv.get("h").await.unwrap().as_deref(), Some(&b"4"[..]));
}

#[tokio::test]
async fn concurrent_publishers_with_dedup() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "CC", json!({"name":"CC","subjects":["cc.*"]})).await;
    const TASKS: usize = 8;
    const PER: usize = 100;
    // Every id is published twice, by two different tasks, concurrently.
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let js = js.clone();
        handles.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..PER {
                let owner = (t / 2) * PER + i; // tasks 2k and 2k+1 share ids
                let mut h = HeaderMap::new();
                h.insert("Nats-Msg-Id", format!("id-{owner}").as_str());
                let f = js
                    .publish_with_headers(format!("cc.{t}"), h, owner.to_string().into())
                    .await
                    .unwrap();
                acks.push((owner, f));
            }
            let mut out = Vec::new();
            for (owner, f) in acks {
                let a = f.await.unwrap();
                out.push((owner, a.sequence, a.duplicate));
            }
            out
        }));
    }
    let mut by_id = std::collections::HashMap::new();
    let mut originals = 0;
    for h in handles {
        for (owner, seq, dup) in h.await.unwrap() {
            if !dup {
                originals += 1;
            }
            // Both publishes of an id report the same sequence.
            let prev = by_id.insert(owner, seq);
            assert!(
                prev.is_none() || prev == Some(seq),
                "id-{owner}: {prev:?} vs {seq}"
            );
        }
    }
    let unique = TASKS / 2 * PER;
    assert_eq!(originals, unique);
    assert_eq!(by_id.len(), unique);
    let st = &info(&c, "CC").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(unique as u64), Some(unique as u64))
    );
    // Each sequence holds the payload of the id that claimed it.
    let s = js.get_stream("CC").await.unwrap();
    for (owner, seq) in by_id.iter().take(50) {
        let m = s.get_raw_message(*seq).await.unwrap();
        assert_eq!(&m.payload[..], owner.to_string().as_bytes());
    }
}

/// A publisher that never waits for its PubAcks fills the stream's ack queue
/// past its bound: it is held back, not dropped, so every ack still comes,
/// in publish order.
#[tokio::test]
async fn pub_acks_of_a_flood_all_arrive_in_order() {
    use futures::StreamExt;
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "FLOOD", json!({"name":"FLOOD","subjects":["flood"]})).await;
    let mut acks = c.subscribe("flood.acks").await.unwrap();
    c.flush().await.unwrap();
    // Twice the server's bound on pending PubAcks per stream.
    let n = 32 * 1024u64;
    for i in 0..n {
        c.publish_with_reply("flood", "flood.acks", i.to_string().into())
            .await
            .unwrap();
    }
    c.flush().await.unwrap();
    for seq in 1..=n {
        let m = tokio::time::timeout(Duration::from_secs(30), acks.next())
            .await
            .unwrap_or_else(|_| panic!("ack {seq} of {n} never came"))
            .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(got, ack("FLOOD", seq), "ack {seq}");
    }
    let s = js.get_stream("FLOOD").await.unwrap();
    let m = s.get_raw_message(n).await.unwrap();
    assert_eq!(&m.payload[..], (n - 1).to_string().as_bytes());
}

#[tokio::test]
async fn pub_acks_reach_reply_subjects_of_any_length() {
    use futures::StreamExt;
    let nile = start();
    let (c, _js) = connect_js(&nile).await;
    create(&c, "R", json!({"name":"R","subjects":["r"]})).await;
    // Short inboxes are kept inline by the server, long ones elsewhere:
    // around that boundary and well past it, interleaved.
    let replies: Vec<String> = [1usize, 29, 61, 62, 63, 64, 200, 1000]
        .iter()
        .map(|&n| "x".repeat(n))
        .collect();
    let mut subs = Vec::new();
    for r in &replies {
        subs.push(c.subscribe(r.clone()).await.unwrap());
    }
    c.flush().await.unwrap();
    for round in 0..3u64 {
        for r in &replies {
            c.publish_with_reply("r", r.clone(), "m".into())
                .await
                .unwrap();
        }
        c.flush().await.unwrap();
        for (i, sub) in subs.iter_mut().enumerate() {
            let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("PubAck arrives")
                .unwrap();
            let seq = round * replies.len() as u64 + i as u64 + 1;
            assert_eq!(m.payload, format!(r#"{{"stream":"R","seq":{seq}}}"#));
        }
    }
}
