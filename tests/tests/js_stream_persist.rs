//! Streams survive SIGKILL: every acknowledged message comes back byte-exact
//! with its headers, sequences continue, the config is intact and the dedup
//! window still recognises Msg-Ids (issue 4, item 4).

mod js_stream_util;

use std::sync::Arc;
use std::time::Duration;

use async_nats::header::HeaderMap;
use async_nats::jetstream::stream::Config;
use bytes::Bytes;
use js_stream_util::*;
use nile_tests::Nile;
use serde_json::json;

/// Payload `i`: varied lengths (some empty) and every byte value, CR/LF included.
fn payload(i: usize) -> Bytes {
    let len = (i * 37) % 700;
    (0..len)
        .map(|k| ((k * 7 + i) % 256) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn headers(i: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", format!("id-{i}").as_str());
    h.insert("X-Index", i.to_string().as_str());
    if i.rem_euclid(3) == 0 {
        h.append("X-Multi", "a");
        h.append("X-Multi", "b c");
    }
    h
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    const N: usize = 300;
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let cfg = json!({
        "name": "P", "subjects": ["p.*", "q"], "description": "persist me",
        "max_msgs": 100000, "max_msgs_per_subject": 1000, "max_msg_size": 4096,
        "duplicate_window": 60_000_000_000i64, "allow_direct": true,
        "allow_rollup_hdrs": true, "deny_delete": false, "metadata": {"k": "v"}
    });
    let created = create(&c, "P", cfg).await;
    // A memory stream: nats-server does not bring it back after SIGKILL.
    create(&c, "MEM", json!({"name":"MEM","storage":"memory"})).await;
    c.request("MEM", "x".into()).await.unwrap();
    // A deleted stream must stay deleted.
    create(&c, "GONE", json!({"name":"GONE"})).await;
    c.request("GONE", "x".into()).await.unwrap();
    assert_eq!(
        req(&c, "$JS.API.STREAM.DELETE.GONE", "").await["success"],
        true
    );

    // Pipelined publishes, every ack awaited and checked.
    let mut acks = Vec::new();
    for i in 0..N {
        let subj = format!("p.{}", i % 7);
        acks.push(
            js.publish_with_headers(subj, headers(i), payload(i))
                .await
                .unwrap(),
        );
    }
    for (i, a) in acks.into_iter().enumerate() {
        let a = a.await.unwrap();
        assert_eq!(
            (a.stream.as_str(), a.sequence, a.duplicate),
            ("P", i as u64 + 1, false)
        );
    }
    // Every stored message as MSG.GET returns it, checked against what was sent.
    let mut stored = Vec::new();
    for i in 0..N {
        let m = req(
            &c,
            "$JS.API.STREAM.MSG.GET.P",
            &format!("{{\"seq\":{}}}", i + 1),
        )
        .await;
        let m = m["message"].clone();
        assert_eq!(m["subject"], format!("p.{}", i % 7));
        let data = m["data"].as_str().map(b64decode).unwrap_or_default();
        assert_eq!(data, payload(i), "seq {}", i + 1);
        let h = String::from_utf8(b64decode(m["hdrs"].as_str().unwrap())).unwrap();
        assert!(
            h.starts_with("NATS/1.0\r\n") && h.ends_with("\r\n\r\n"),
            "{h:?}"
        );
        assert!(h.contains(&format!("Nats-Msg-Id: id-{i}\r\n")), "{h:?}");
        assert!(h.contains(&format!("X-Index: {i}\r\n")), "{h:?}");
        assert_eq!(
            h.contains("X-Multi: a\r\nX-Multi: b c\r\n"),
            i.rem_euclid(3) == 0,
            "{h:?}"
        );
        stored.push(m);
    }
    // One delete and an updated limit, both before the kill.
    let s = js.get_stream("P").await.unwrap();
    assert!(s.delete_message(10).await.unwrap());
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.P",
        &json!({
            "name": "P", "subjects": ["p.*", "q"], "description": "persist me",
            "max_msgs": 50000, "max_msgs_per_subject": 1000, "max_msg_size": 4096,
            "duplicate_window": 60_000_000_000i64, "allow_direct": true,
            "allow_rollup_hdrs": true, "metadata": {"k": "v"}
        })
        .to_string(),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    let before = info(&c, "P").await;
    assert_eq!(before["config"]["max_msgs"], 50000);
    drop(c);

    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let (c, js) = connect_js(&nile).await;

    let after = info(&c, "P").await;
    assert_eq!(after["config"], before["config"]);
    assert_eq!(after["created"], created["created"]);
    let st = &after["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(N as u64 - 1), Some(1), Some(N as u64))
    );
    assert_eq!(st["num_deleted"], 1);
    assert_eq!(st["bytes"], before["state"]["bytes"]);
    assert_eq!(st["last_ts"], before["state"]["last_ts"]);
    assert_eq!(st["num_subjects"], 7);
    let names = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["streams"], json!(["P"]));

    // Every message byte-exact (subject, headers, payload, time), and
    // async-nats reads them too.
    let s = js.get_stream("P").await.unwrap();
    for (i, before) in stored.iter().enumerate() {
        let seq = i as u64 + 1;
        let v = req(
            &c,
            "$JS.API.STREAM.MSG.GET.P",
            &format!("{{\"seq\":{seq}}}"),
        )
        .await;
        if seq == 10 {
            assert_eq!(v["error"]["err_code"], 10037, "{v}");
            continue;
        }
        assert_eq!(&v["message"], before, "seq {seq}");
        let m = s.get_raw_message(seq).await.unwrap();
        assert_eq!(m.payload, payload(i), "seq {seq}");
        assert_eq!(
            m.headers.get("X-Index").map(|v| v.as_str().to_string()),
            Some(i.to_string())
        );
    }
    // Direct get returns the same bytes.
    let m = s.direct_get(N as u64).await.unwrap();
    assert_eq!(m.payload, payload(N - 1));

    // The dedup window survived: old Msg-Ids are duplicates of their seq.
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", "id-4");
    let m = c
        .request_with_headers("p.0", h, "dup".into())
        .await
        .unwrap();
    assert_eq!(
        &m.payload[..],
        br#"{"stream":"P","seq":5,"duplicate": true}"#
    );
    // And so did the last Msg-Id.
    let a = publish(
        &c,
        "q",
        &[
            ("Nats-Expected-Last-Msg-Id", &format!("id-{}", N - 1)),
            ("Nats-Msg-Id", "new-1"),
        ],
        "after",
    )
    .await;
    assert_eq!(a, ack("P", N as u64 + 1));
    let a = publish(
        &c,
        "q",
        &[("Nats-Expected-Last-Sequence", &(N + 1).to_string())],
        "more",
    )
    .await;
    assert_eq!(a, ack("P", N as u64 + 2));

    // A second kill right after acknowledged writes.
    drop(c);
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let (c, js) = connect_js(&nile).await;
    let st = &info(&c, "P").await["state"];
    assert_eq!(
        (st["messages"].as_u64(), st["last_seq"].as_u64()),
        (Some(N as u64 + 1), Some(N as u64 + 2))
    );
    let s = js.get_stream("P").await.unwrap();
    let m = s.get_raw_message(N as u64 + 2).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("q", &b"more"[..]));
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", "new-1");
    let m = c.request_with_headers("q", h, "x".into()).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap(),
        json!({"stream":"P","seq": N + 1,"duplicate": true})
    );
    assert_eq!(
        publish(&c, "p.1", &[], "next").await,
        ack("P", N as u64 + 3)
    );
}

#[tokio::test]
async fn kill_during_publishing_loses_no_acknowledged_message() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    js.create_stream(Config {
        name: "K".into(),
        subjects: vec!["k".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let acked: Arc<shared::Acked> = Arc::default();
    let writer = {
        let acked = acked.clone();
        let js = js.clone();
        tokio::spawn(async move {
            for i in 0u64.. {
                let body = format!("msg-{i}");
                let Ok(f) = js.publish("k", body.clone().into()).await else {
                    break;
                };
                let Ok(a) = f.await else { break };
                acked.push(a.sequence, body);
                if i > 100_000 {
                    break;
                }
            }
        })
    };
    // Let some acks arrive, then SIGKILL mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while acked.len() < 200 {
        assert!(std::time::Instant::now() < deadline, "publishing stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = nile.kill();
    drop(c);
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    let acked = acked.take();
    assert!(acked.len() >= 200);

    let nile = Nile::start_in(dir, &["-js"]);
    let (c, js) = connect_js(&nile).await;
    let st = &info(&c, "K").await["state"];
    let last = st["last_seq"].as_u64().unwrap();
    assert!(
        last >= acked.len() as u64,
        "last_seq {last} < {} acked",
        acked.len()
    );
    assert_eq!(st["messages"].as_u64(), Some(last));
    let s = js.get_stream("K").await.unwrap();
    for (seq, body) in &acked {
        let m = s.get_raw_message(*seq).await.unwrap();
        assert_eq!(&m.payload[..], body.as_bytes(), "seq {seq}");
    }
    // Sequences continue.
    assert_eq!(publish(&c, "k", &[], "after").await, ack("K", last + 1));
}

/// A tiny shared list without extra dependencies.
mod shared {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Acked(Mutex<Vec<(u64, String)>>);

    impl Acked {
        pub fn push(&self, seq: u64, body: String) {
            self.0.lock().unwrap().push((seq, body));
        }
        pub fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub fn take(&self) -> Vec<(u64, String)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }
}

#[tokio::test]
async fn purges_deletes_and_expiry_survive_sigkill() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "PG", json!({"name":"PG","subjects":["pg.*"]})).await;
    create(&c, "DL", json!({"name":"DL","subjects":["dl"]})).await;
    create(
        &c,
        "AGE",
        json!({"name":"AGE","subjects":["age"],"max_age":1_000_000_000}),
    )
    .await;
    for i in 0..10 {
        js.publish(format!("pg.{}", i % 2), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
        js.publish("dl", format!("d{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    js.publish("age", "old".into())
        .await
        .unwrap()
        .await
        .unwrap();
    // PG: purge pg.0, then everything; DL: delete the last two messages.
    assert_eq!(
        req(&c, "$JS.API.STREAM.PURGE.PG", r#"{"filter":"pg.0"}"#).await["purged"],
        5
    );
    assert_eq!(req(&c, "$JS.API.STREAM.PURGE.PG", "").await["purged"], 5);
    let dl = js.get_stream("DL").await.unwrap();
    assert!(dl.delete_message(10).await.unwrap());
    assert!(dl.delete_message(9).await.unwrap());
    assert!(dl.delete_message(5).await.unwrap());
    drop(c);

    let dir = nile.kill();
    // Let AGE's message pass max_age while the server is down.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let nile = Nile::start_in(dir, &["-js"]);
    let (c, js) = connect_js(&nile).await;

    let st = &info(&c, "PG").await["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(0), Some(11), Some(10))
    );
    assert_eq!(publish(&c, "pg.0", &[], "new").await, ack("PG", 11));

    // Deleting the last messages does not give their sequences back.
    let st = &req(&c, "$JS.API.STREAM.INFO.DL", r#"{"deleted_details":true}"#).await["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(7), Some(1), Some(10)),
        "{st}"
    );
    assert_eq!(st["deleted"], json!([5, 9, 10]));
    let dl = js.get_stream("DL").await.unwrap();
    assert!(dl.get_raw_message(5).await.is_err());
    assert_eq!(&dl.get_raw_message(8).await.unwrap().payload[..], b"d7");
    assert_eq!(publish(&c, "dl", &[], "after").await, ack("DL", 11));

    // Expired while down: gone at start-up, sequence kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let st = info(&c, "AGE").await["state"].clone();
        if st["messages"] == 0 {
            assert_eq!(st["last_seq"], 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not expired: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(publish(&c, "age", &[], "new").await, ack("AGE", 2));
}
