//! Per-message TTL (`Nats-TTL`, ADR-43) and subject delete markers
//! (ADR-48): the config rules, the header's accepted values and errors,
//! expiry (also after SIGKILL), and the markers KV watchers and ordered
//! consumers see when expiry empties a subject (issue 6, item 1).

mod js_stream_util;

use std::time::{Duration, Instant};

use async_nats::jetstream::kv::Operation;
use base64::Engine;
use futures::StreamExt;
use js_stream_util::*;
use nile_tests::Nile;
use serde_json::{json, Value};

const SEC_NS: i64 = 1_000_000_000;

/// Polls stream info until `done` holds (or panics after `within`).
async fn wait_state(
    c: &async_nats::Client,
    stream: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let st = info(c, stream).await["state"].clone();
        if done(&st) {
            return st;
        }
        assert!(
            start.elapsed() < within,
            "{stream} never reached the state: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored header block of `seq` (STREAM.MSG.GET), as text.
async fn stored_headers(c: &async_nats::Client, stream: &str, seq: u64) -> String {
    let body = json!({ "seq": seq }).to_string();
    let v = req(c, &format!("$JS.API.STREAM.MSG.GET.{stream}"), &body).await;
    let hdrs = v["message"]["hdrs"].as_str().unwrap_or("");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(hdrs)
        .unwrap();
    String::from_utf8(raw).unwrap()
}

#[tokio::test]
async fn config_rules_follow_nats_server() {
    let nile = start();
    let c = connect(&nile).await;
    let created = create(&c, "T", json!({"name":"T","allow_msg_ttl":true})).await;
    assert_eq!(created["config"]["allow_msg_ttl"], true);
    assert!(created["config"].get("subject_delete_marker_ttl").is_none());

    // Markers turn on what they need, even against the request.
    let m = json!({"name":"M","subject_delete_marker_ttl":SEC_NS,"deny_purge":true,
        "allow_rollup_hdrs":false});
    let cfg = create(&c, "M", m).await["config"].clone();
    assert_eq!(cfg["allow_msg_ttl"], true);
    assert_eq!(cfg["allow_rollup_hdrs"], true);
    assert_eq!(cfg["deny_purge"], false);
    assert_eq!(cfg["subject_delete_marker_ttl"], SEC_NS);

    let refused = [
        (
            json!({"name":"A","subject_delete_marker_ttl":SEC_NS / 2}),
            "subject delete marker TTL must be at least 1 second",
        ),
        (
            json!({"name":"A","subject_delete_marker_ttl":-1}),
            "subject delete marker TTL must not be negative",
        ),
        (
            json!({"name":"A","mirror":{"name":"T"},"subject_delete_marker_ttl":SEC_NS}),
            "subject delete markers forbidden on mirrors",
        ),
    ];
    for (cfg, why) in refused {
        let v = req(&c, "$JS.API.STREAM.CREATE.A", &cfg.to_string()).await;
        assert_eq!(v["error"], api_err(500, 10052, why), "{cfg}");
    }
    // A mirror may allow TTLs, just not place markers.
    create(
        &c,
        "MI",
        json!({"name":"MI","mirror":{"name":"T"},"allow_msg_ttl":true}),
    )
    .await;

    // Once on, TTLs cannot be turned off; they can be turned on.
    let off = json!({"name":"T","allow_msg_ttl":false}).to_string();
    let v = req(&c, "$JS.API.STREAM.UPDATE.T", &off).await;
    let why = "message TTL status can not be disabled";
    assert_eq!(v["error"], api_err(500, 10052, why));
    create(&c, "P", json!({"name":"P"})).await;
    let on = json!({"name":"P","allow_msg_ttl":true}).to_string();
    let v = req(&c, "$JS.API.STREAM.UPDATE.P", &on).await;
    assert_eq!(v["config"]["allow_msg_ttl"], true, "{v}");
    let on = json!({"name":"P","subject_delete_marker_ttl":2 * SEC_NS}).to_string();
    let v = req(&c, "$JS.API.STREAM.UPDATE.P", &on).await;
    assert_eq!(v["config"]["subject_delete_marker_ttl"], 2 * SEC_NS, "{v}");
    let info = info(&c, "P").await;
    assert_eq!(info["config"]["allow_rollup_hdrs"], true);
}

#[tokio::test]
async fn ttl_values_accepted_and_refused() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "T",
        json!({"name":"T","subjects":["t.>"],"allow_msg_ttl":true}),
    )
    .await;
    create(&c, "OFF", json!({"name":"OFF","subjects":["off.>"]})).await;
    let mut seq = 0;
    for v in [
        "30s", "1h", "3600", "never", "NEVER", "1m30s", "1.5s", "+5s", "05", "",
    ] {
        seq += 1;
        let got = publish(&c, "t.a", &[("Nats-TTL", v)], "x").await;
        assert_eq!(got, ack("T", seq), "Nats-TTL {v:?}");
    }
    for v in ["0", "0s", "-1", "0.5s", "500ms", "abc", "1.5", "1d", "5S"] {
        let got = publish(&c, "t.a", &[("Nats-TTL", v)], "x").await;
        let want = ack_err("T", 400, 10165, "invalid per-message TTL");
        assert_eq!(got, want, "Nats-TTL {v:?}");
    }
    let got = publish(&c, "off.a", &[("Nats-TTL", "30s")], "x").await;
    let disabled = ack_err("OFF", 400, 10166, "per-message TTL is disabled");
    assert_eq!(got, disabled);
    // The value is judged first.
    let got = publish(&c, "off.a", &[("Nats-TTL", "abc")], "x").await;
    assert_eq!(got, ack_err("OFF", 400, 10165, "invalid per-message TTL"));
    // Expectations and dedup come before the TTL.
    let expect = [("Nats-TTL", "abc"), ("Nats-Expected-Last-Sequence", "99")];
    let got = publish(&c, "t.a", &expect, "x").await;
    assert_eq!(got, ack_err("T", 400, 10071, "wrong last sequence: 10"));
    publish(&c, "t.a", &[("Nats-Msg-Id", "m")], "x").await;
    let dup = publish(&c, "t.a", &[("Nats-TTL", "abc"), ("Nats-Msg-Id", "m")], "x").await;
    assert_eq!(dup, json!({"stream": "T", "seq": 11, "duplicate": true}));
    assert_eq!(info(&c, "OFF").await["state"]["messages"], 0);
    // The header is stored with the message.
    assert_eq!(
        stored_headers(&c, "T", 1).await,
        "NATS/1.0\r\nNats-TTL: 30s\r\n\r\n"
    );
}

#[tokio::test]
async fn messages_expire_after_their_ttl_and_never_outlives_max_age() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "T",
        json!({"name":"T","subjects":["t.>"],"allow_msg_ttl":true}),
    )
    .await;
    assert_eq!(
        publish(&c, "t.a", &[("Nats-TTL", "1s")], "x").await,
        ack("T", 1)
    );
    assert_eq!(publish(&c, "t.b", &[], "y").await, ack("T", 2));
    assert_eq!(info(&c, "T").await["state"]["messages"], 2);
    let st = wait_state(&c, "T", Duration::from_secs(5), |s| s["messages"] == 1).await;
    assert_eq!(st["first_seq"], 2);

    let aged = json!({"name":"A","subjects":["a.>"],"allow_msg_ttl":true,"max_age":SEC_NS});
    create(&c, "A", aged).await;
    publish(&c, "a.forever", &[("Nats-TTL", "never")], "x").await;
    publish(&c, "a.plain", &[], "y").await;
    publish(&c, "a.long", &[("Nats-TTL", "1h")], "z").await;
    // max_age removes everything but the message that never expires.
    let st = wait_state(&c, "A", Duration::from_secs(5), |s| s["messages"] == 1).await;
    assert_eq!(
        (st["first_seq"].clone(), st["last_seq"].clone()),
        (json!(1), json!(3))
    );
}

#[tokio::test]
async fn ttl_below_the_marker_ttl_is_raised_and_stored_raised() {
    let nile = start();
    let c = connect(&nile).await;
    let m = json!({"name":"M","subjects":["m.>"],"subject_delete_marker_ttl":10 * SEC_NS});
    create(&c, "M", m).await;
    publish(&c, "m.a", &[("Nats-TTL", "2s"), ("X-Other", "1")], "x").await;
    // Moved to the end, as nats-server rewrites a header.
    let want = "NATS/1.0\r\nX-Other: 1\r\nNats-TTL: 10\r\n\r\n";
    assert_eq!(stored_headers(&c, "M", 1).await, want);
    // Not for one message per subject.
    let one = json!({"name":"O","subjects":["o.>"],"max_msgs_per_subject":1,
        "subject_delete_marker_ttl":10 * SEC_NS});
    create(&c, "O", one).await;
    publish(&c, "o.a", &[("Nats-TTL", "2s")], "x").await;
    assert_eq!(
        stored_headers(&c, "O", 1).await,
        "NATS/1.0\r\nNats-TTL: 2s\r\n\r\n"
    );
}

#[tokio::test]
async fn expiry_survives_sigkill() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "T",
        json!({"name":"T","subjects":["t.>"],"allow_msg_ttl":true}),
    )
    .await;
    publish(&c, "t.soon", &[("Nats-TTL", "1s")], "x").await;
    publish(&c, "t.later", &[("Nats-TTL", "3s")], "y").await;
    publish(&c, "t.plain", &[], "z").await;
    drop(c);
    let dir = nile.kill();
    // Down past the first message's expiry.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let st = wait_state(&c, "T", Duration::from_secs(5), |s| s["messages"] == 2).await;
    assert_eq!(st["first_seq"], 2);
    // The second expires while up again, after another restart.
    drop(c);
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let st = wait_state(&c, "T", Duration::from_secs(6), |s| s["messages"] == 1).await;
    assert_eq!(st["first_seq"], 3);
}

async fn next(w: &mut async_nats::jetstream::kv::Watch) -> async_nats::jetstream::kv::Entry {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("watcher stalled")
        .expect("watch ended")
        .expect("watch error")
}

/// A KV bucket with limit markers, created as the clients create it.
async fn marker_bucket(c: &async_nats::Client, marker_secs: i64, history: i64) {
    let cfg = json!({
        "name": "KV_b", "subjects": ["$KV.b.>"], "max_msgs_per_subject": history,
        "discard": "new", "allow_rollup_hdrs": true, "deny_delete": true,
        "allow_direct": true, "max_consumers": -1, "max_msgs": -1,
        "allow_msg_ttl": true, "subject_delete_marker_ttl": marker_secs * SEC_NS
    });
    create(c, "KV_b", cfg).await;
}

#[tokio::test]
async fn markers_tell_kv_watchers_about_expiry() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    marker_bucket(&c, 2, 5).await;
    let kv = js.get_key_value("b").await.unwrap();
    let mut watch = kv.watch_all().await.unwrap();
    kv.create_with_ttl("k", "v".into(), Duration::from_secs(1))
        .await
        .unwrap();
    kv.put("stays", "w".into()).await.unwrap();
    let e = next(&mut watch).await;
    assert_eq!((e.key.as_str(), e.operation), ("k", Operation::Put));
    let e = next(&mut watch).await;
    assert_eq!((e.key.as_str(), e.operation), ("stays", Operation::Put));
    // The TTL (raised to the 2 s marker TTL) expires: a MaxAge marker.
    let e = next(&mut watch).await;
    assert_eq!((e.key.as_str(), e.operation), ("k", Operation::Purge));
    assert_eq!(e.revision, 3);
    assert!(kv.get("k").await.unwrap().is_none());
    assert_eq!(kv.get("stays").await.unwrap().as_deref(), Some(&b"w"[..]));
    let want = "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n";
    assert_eq!(stored_headers(&c, "KV_b", 3).await, want);
    // The marker expires in turn and places no marker of its own.
    let st = wait_state(&c, "KV_b", Duration::from_secs(5), |s| s["messages"] == 1).await;
    assert_eq!(st["last_seq"], 3);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(info(&c, "KV_b").await["state"]["last_seq"], 3);
}

#[tokio::test]
async fn ordered_consumer_sees_the_marker_after_max_age() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let cfg = json!({"name":"A","subjects":["a.>"],"max_age":SEC_NS,
        "subject_delete_marker_ttl":60 * SEC_NS});
    create(&c, "A", cfg).await;
    publish(&c, "a.x", &[], "1").await;
    publish(&c, "a.x", &[], "2").await;
    publish(&c, "a.y", &[], "3").await;
    let stream = js.get_stream("A").await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("ordered consumer stalled")
            .unwrap()
            .unwrap();
        let reason = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Marker-Reason").map(|v| v.to_string()));
        let ttl = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-TTL").map(|v| v.to_string()));
        seen.push((m.subject.to_string(), reason, ttl, m.payload.len()));
    }
    let marker = |s: &str| (s.to_string(), Some("MaxAge".into()), Some("1m0s".into()), 0);
    assert_eq!(seen[3..], [marker("a.x"), marker("a.y")]);
    // max_age applies to markers too (before their own TTL), and an
    // expired marker places none.
    let st = wait_state(&c, "A", Duration::from_secs(5), |s| s["messages"] == 0).await;
    assert_eq!(st["last_seq"], 5);
}

#[tokio::test]
async fn an_expired_kv_purge_places_no_marker() {
    let nile = start();
    let c = connect(&nile).await;
    marker_bucket(&c, 1, 5).await;
    publish(&c, "$KV.b.k", &[], "v").await;
    let purge = [
        ("KV-Operation", "PURGE"),
        ("Nats-Rollup", "sub"),
        ("Nats-TTL", "1s"),
    ];
    assert_eq!(publish(&c, "$KV.b.k", &purge, "").await, ack("KV_b", 2));
    // Like a marker, a purge that expires leaves the subject empty.
    let st = wait_state(&c, "KV_b", Duration::from_secs(5), |s| s["messages"] == 0).await;
    assert_eq!(st["last_seq"], 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(info(&c, "KV_b").await["state"]["last_seq"], 2);
}

#[tokio::test]
async fn what_expired_while_down_gets_its_marker_on_start() {
    let nile = start();
    let c = connect(&nile).await;
    // History 1: the TTL is not raised to the 60 s marker TTL.
    marker_bucket(&c, 60, 1).await;
    assert_eq!(
        publish(&c, "$KV.b.k", &[("Nats-TTL", "1s")], "v").await,
        ack("KV_b", 1)
    );
    drop(c);
    let dir = nile.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let st = wait_state(&c, "KV_b", Duration::from_secs(5), |s| s["last_seq"] == 2).await;
    assert_eq!(
        (st["messages"].clone(), st["first_seq"].clone()),
        (json!(1), json!(2))
    );
    let want =
        "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1m0s\r\nNats-Rollup: sub\r\n\r\n";
    assert_eq!(stored_headers(&c, "KV_b", 2).await, want);
}

#[tokio::test]
async fn mirrors_keep_ttl_messages_unless_they_allow_ttls() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "O",
        json!({"name":"O","subjects":["o.>"],"allow_msg_ttl":true}),
    )
    .await;
    create(&c, "KEEP", json!({"name":"KEEP","mirror":{"name":"O"}})).await;
    let expiring = json!({"name":"EXP","mirror":{"name":"O"},"allow_msg_ttl":true});
    create(&c, "EXP", expiring).await;
    publish(&c, "o.a", &[("Nats-TTL", "1s")], "x").await;
    publish(&c, "o.b", &[], "y").await;
    for name in ["KEEP", "EXP"] {
        wait_state(&c, name, Duration::from_secs(5), |s| s["last_seq"] == 2).await;
    }
    let o = wait_state(&c, "O", Duration::from_secs(5), |s| s["messages"] == 1).await;
    assert_eq!(o["first_seq"], 2);
    let exp = wait_state(&c, "EXP", Duration::from_secs(5), |s| s["messages"] == 1).await;
    assert_eq!(exp["first_seq"], 2);
    let keep = info(&c, "KEEP").await["state"].clone();
    assert_eq!(
        (keep["messages"].clone(), keep["first_seq"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        stored_headers(&c, "KEEP", 1).await,
        "NATS/1.0\r\nNats-TTL: 1s\r\n\r\n"
    );
}
