//! Stream `subject_transform` (the stored subject is the transformed one)
//! and `republish` (a copy of each stored message, with headers naming its
//! stream, subject, sequence, time and the subject's previous sequence),
//! with nats-server 2.15.1's config errors (issue 6; nats.py
//! test_subject_transforms and test_kv_republish).

mod js_stream_util;

use std::time::Duration;

use async_nats::Subscriber;
use futures::StreamExt;
use js_stream_util::*;
use serde_json::json;

async fn next(sub: &mut Subscriber) -> async_nats::Message {
    tokio::time::timeout(TIMEOUT, sub.next())
        .await
        .expect("republished message within the timeout")
        .expect("subscription open")
}

/// Stored subject of sequence `seq`.
async fn stored_subject(c: &async_nats::Client, stream: &str, seq: u64) -> String {
    let body = json!({ "seq": seq }).to_string();
    let v = req(c, &format!("$JS.API.STREAM.MSG.GET.{stream}"), &body).await;
    v["message"]["subject"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn subject_transform_stores_the_transformed_subject() {
    let nile = start();
    let c = connect(&nile).await;
    let cfg = json!({"name": "T", "subjects": ["test", "in.*.*"],
        "subject_transform": {"src": "in.*.*", "dest": "out.{{partition(10,1,2)}}.$2.{{wildcard(1)}}"}});
    let v = create(&c, "T", cfg).await;
    assert_eq!(
        v["config"]["subject_transform"],
        json!({"src": "in.*.*", "dest": "out.{{partition(10,1,2)}}.$2.{{wildcard(1)}}"})
    );
    assert_eq!(publish(&c, "in.abc-de-f.k", &[], "1").await, ack("T", 1));
    assert_eq!(publish(&c, "test", &[], "2").await, ack("T", 2));
    assert_eq!(stored_subject(&c, "T", 1).await, "out.7.k.abc-de-f");
    // Outside the transform's source: stored as published.
    assert_eq!(stored_subject(&c, "T", 2).await, "test");

    // Every subject, as nats.py's test does; an empty src means `>`.
    let cfg = json!({"name": "ALL", "subjects": ["a", "b"],
        "subject_transform": {"src": "", "dest": "transformed.>"}});
    let v = create(&c, "ALL", cfg).await;
    assert_eq!(
        v["config"]["subject_transform"],
        json!({"src": "", "dest": "transformed.>"})
    );
    publish(&c, "a", &[], "x").await;
    assert_eq!(stored_subject(&c, "ALL", 1).await, "transformed.a");
    let st = req(&c, "$JS.API.STREAM.INFO.ALL", r#"{"subjects_filter":">"}"#).await;
    assert_eq!(st["state"]["subjects"], json!({"transformed.a": 1}));
}

#[tokio::test]
async fn subject_transform_errors_as_nats_server() {
    let nile = start();
    let c = connect(&nile).await;
    for (dest, why) in [
        (
            "t.$2",
            "invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
        ("t.>", "invalid subject"),
        ("t.*", "invalid subject"),
        (
            "t.{{bogus(1)}}",
            "invalid mapping destination: unknown function in {{bogus(1)}}",
        ),
    ] {
        let cfg = json!({"name": "X", "subjects": ["a.*"],
            "subject_transform": {"src": "a.*", "dest": dest}});
        let v = req(&c, "$JS.API.STREAM.CREATE.X", &cfg.to_string()).await;
        let want = api_err(400, 10156, &format!("stream transform: {why}"));
        assert_eq!(v["error"], want, "{dest}");
    }
}

#[tokio::test]
async fn republish_after_store_with_nats_headers() {
    let nile = start();
    let c = connect(&nile).await;
    let mut sub = c.subscribe("rp.>").await.unwrap();
    let cfg = json!({"name": "R", "subjects": ["foo.>", "bar"],
        "republish": {"src": "foo.>", "dest": "rp.>"}});
    let v = create(&c, "R", cfg).await;
    assert_eq!(
        v["config"]["republish"],
        json!({"src": "foo.>", "dest": "rp.>"})
    );
    publish(&c, "foo.a", &[], "one").await;
    publish(&c, "bar", &[], "two").await; // outside src: not republished
    publish(&c, "foo.b", &[("X-A", "1")], "three").await;
    publish(&c, "foo.a", &[], "four").await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut sub).await);
    }
    let want = [
        ("rp.a", "foo.a", "1", "0", "one"),
        ("rp.b", "foo.b", "3", "0", "three"),
        ("rp.a", "foo.a", "4", "1", "four"),
    ];
    for (m, (to, subject, seq, last, body)) in got.iter().zip(want) {
        let h = m.headers.as_ref().expect("headers");
        let get = |k: &str| h.get(k).map(|v| v.as_str().to_string());
        assert_eq!(m.subject.as_str(), to);
        assert_eq!(m.reply, None);
        assert_eq!(get("Nats-Stream").as_deref(), Some("R"));
        assert_eq!(get("Nats-Subject").as_deref(), Some(subject));
        assert_eq!(get("Nats-Sequence").as_deref(), Some(seq));
        assert_eq!(get("Nats-Last-Sequence").as_deref(), Some(last));
        assert!(is_rfc3339(&get("Nats-Time-Stamp").unwrap()));
        assert_eq!(get("Nats-Msg-Size"), None);
        assert_eq!(&m.payload[..], body.as_bytes());
    }
    assert_eq!(
        got[1]
            .headers
            .as_ref()
            .unwrap()
            .get("X-A")
            .map(|v| v.as_str()),
        Some("1")
    );
    // Nothing else arrives: `bar` was not copied.
    let more = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
    assert!(more.is_err(), "unexpected republish: {more:?}");
}

#[tokio::test]
async fn republish_headers_only_and_with_transform() {
    let nile = start();
    let c = connect(&nile).await;
    let mut sub = c.subscribe("hd.>").await.unwrap();
    let cfg = json!({"name": "H", "subjects": ["h.*"],
        "subject_transform": {"src": "h.*", "dest": "k.$1"},
        "republish": {"src": "k.*", "dest": "hd.$1", "headers_only": true}});
    create(&c, "H", cfg).await;
    publish(&c, "h.x", &[], "12345").await;
    let m = next(&mut sub).await;
    let h = m.headers.as_ref().unwrap();
    assert_eq!(m.subject.as_str(), "hd.x");
    assert!(m.payload.is_empty());
    assert_eq!(h.get("Nats-Subject").map(|v| v.as_str()), Some("k.x"));
    assert_eq!(h.get("Nats-Msg-Size").map(|v| v.as_str()), Some("5"));
}

#[tokio::test]
async fn republish_errors_as_nats_server() {
    let nile = start();
    let c = connect(&nile).await;
    let cycle = "stream configuration for republish destination forms a cycle";
    let invalid = |s: &str, d: &str| {
        format!("stream configuration for republish with transform from '{s}' to '{d}' not valid")
    };
    let cases = [
        (json!({"src": ">", "dest": "v.x"}), cycle.to_string()),
        (json!({"src": "v.>", "dest": "w"}), cycle.to_string()),
        (json!({"dest": "q"}), invalid(">", "q")),
        (json!({"src": "v.>", "dest": "q.*"}), invalid("v.>", "q.*")),
        (
            json!({"src": "v.*", "dest": "q.$2"}),
            invalid("v.*", "q.$2"),
        ),
    ];
    for (rp, why) in cases {
        let cfg = json!({"name": "X", "subjects": ["v.>", "w"], "republish": rp});
        let v = req(&c, "$JS.API.STREAM.CREATE.X", &cfg.to_string()).await;
        assert_eq!(v["error"], api_err(500, 10052, &why), "{rp}");
    }
}

/// A republish destination is compared with the stream's subjects as
/// written (`$KV` is a plain token), and the copy is stored by a stream that
/// captures it, as nats.js's "kv - republish header handling" does.
#[tokio::test]
async fn republish_into_another_stream() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "KV_B", json!({"name": "KV_B", "subjects": ["$KV.B.>"]})).await;
    let cfg =
        json!({"name": "A", "subjects": ["A.>"], "republish": {"src": ">", "dest": "$KV.B.>"}});
    create(&c, "A", cfg).await;
    publish(&c, "A.orange", &[], "hey").await;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while info(&c, "KV_B").await["state"]["messages"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "republished copy not stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored_subject(&c, "KV_B", 1).await, "$KV.B.A.orange");
}
