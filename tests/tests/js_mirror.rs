//! Mirrors and sources driven by async-nats: a mirror keeps its origin's
//! sequence numbers and gaps, sources aggregate with `Nats-Stream-Source`,
//! filters, start sequences and transforms, KV buckets built on them, the
//! error codes of bad configs, and resuming without duplicates or gaps after
//! kill -9. `NILE_BIN=/path/to/nats-server` runs the same tests against
//! nats-server.

mod js_stream_util;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, kv, stream};
use async_nats::Client;
use futures::StreamExt;
use js_stream_util::{connect_js, req, req_msg};
use nile_tests::Nile;
use serde_json::{json, Value};

/// Bound on waiting for a copier to catch up (a correctness bound, not a
/// speed claim: nats-server's own mirrors take up to a second to start).
const CATCH_UP: Duration = Duration::from_secs(15);

async fn publish(js: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("ack")
        .sequence
}

async fn info(c: &Client, name: &str) -> Value {
    req(c, &format!("$JS.API.STREAM.INFO.{name}"), "").await
}

/// Wait until the stream's info satisfies `done`; returns that info.
async fn wait_info(c: &Client, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let v = info(c, name).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} never got there: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_msgs(c: &Client, name: &str, msgs: u64) -> Value {
    wait_info(c, name, |v| v["state"]["messages"] == msgs).await
}

async fn create(c: &Client, cfg: Value) -> Value {
    let name = cfg["name"].as_str().expect("name").to_string();
    req(
        c,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        &cfg.to_string(),
    )
    .await
}

/// nats-server appends an identity token to the header value: compare the
/// part both servers write.
fn header_starts(h: &Option<String>, prefix: &str) -> bool {
    h.as_deref().is_some_and(|v| v.starts_with(prefix))
}

/// (sequence, subject, payload, Nats-Stream-Source) of every message.
async fn contents(
    js: &jetstream::Context,
    name: &str,
) -> Vec<(u64, String, String, Option<String>)> {
    let s = js.get_stream(name).await.expect("stream");
    let st = s.get_info().await.expect("info").state;
    let mut out = Vec::new();
    for seq in st.first_sequence..=st.last_sequence {
        let Ok(m) = s.get_raw_message(seq).await else {
            continue;
        };
        let src = m
            .headers
            .get("Nats-Stream-Source")
            .map(|v| v.as_str().to_string());
        out.push((
            m.sequence,
            m.subject.to_string(),
            String::from_utf8_lossy(&m.payload).into_owned(),
            src,
        ));
    }
    out
}

#[tokio::test]
async fn mirror_keeps_sequences_gaps_headers_and_times() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    js.create_stream(stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        allow_direct: true,
        ..Default::default()
    })
    .await
    .expect("origin");
    let mut h = async_nats::HeaderMap::new();
    h.insert("X", "y");
    js.publish_with_headers("o.0", h, "m0".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for i in 1..5 {
        publish(&js, &format!("o.{}", i % 2), &format!("m{i}")).await;
    }
    let origin = js.get_stream("O").await.unwrap();
    origin.delete_message(2).await.expect("delete 2");

    let created = create(&c, json!({"name": "M", "mirror": {"name": "O"}})).await;
    assert_eq!(
        created["config"]["mirror"],
        json!({"name": "O"}),
        "{created}"
    );
    assert!(created["config"].get("subjects").is_none(), "{created}");
    // The origin allows direct gets, so the mirror serves them too.
    assert_eq!(created["config"]["mirror_direct"], true);
    assert_eq!(created["mirror"]["name"], "O");

    let v = wait_info(&c, "M", |v| v["state"]["last_seq"] == 5).await;
    assert_eq!(v["state"]["messages"], 4);
    assert_eq!(v["state"]["first_seq"], 1);
    assert_eq!(v["state"]["num_deleted"], 1);
    assert_eq!(v["mirror"]["lag"], 0);
    assert!(v["mirror"]["active"].as_i64().unwrap() >= 0, "{v}");

    let mirror = js.get_stream("M").await.unwrap();
    for seq in [1, 3, 4, 5] {
        let o = origin.get_raw_message(seq).await.unwrap();
        let m = mirror.get_raw_message(seq).await.unwrap();
        assert_eq!(
            (m.sequence, &m.subject, &m.payload),
            (o.sequence, &o.subject, &o.payload)
        );
        assert_eq!(m.time, o.time, "a mirror keeps the origin's timestamps");
        assert_eq!(m.headers.get("X"), o.headers.get("X"));
    }
    assert!(mirror.get_raw_message(2).await.is_err(), "the gap is kept");

    // Live: new origin messages follow, and consumers on the mirror see them.
    publish(&js, "o.1", "m5").await;
    wait_info(&c, "M", |v| v["state"]["last_seq"] == 6).await;
    let cons = mirror
        .create_consumer(consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = cons.fetch().max_messages(10).messages().await.unwrap();
    let mut seqs = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        seqs.push(m.info().unwrap().stream_sequence);
        m.ack().await.unwrap();
    }
    assert_eq!(seqs, vec![1, 3, 4, 5, 6]);

    // Info through async-nats' own types.
    let i = mirror.get_info().await.unwrap();
    assert_eq!(i.mirror.expect("mirror info").name, "O");
}

#[tokio::test]
async fn mirror_filter_and_start_sequence() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(&c, json!({"name": "O", "subjects": ["o.>"]})).await;
    for i in 0..6 {
        publish(&js, &format!("o.{}", i % 2), &format!("m{i}")).await;
    }
    let body =
        json!({"name": "MF", "mirror": {"name": "O", "filter_subject": "o.1", "opt_start_seq": 3}});
    let r = req_msg(&c, "$JS.API.STREAM.CREATE.MF", &body.to_string())
        .await
        .expect("create MF");
    // Echoed in nats-server's field order.
    let text = String::from_utf8_lossy(&r.payload);
    assert!(
        text.contains(r#""mirror":{"name":"O","opt_start_seq":3,"filter_subject":"o.1"}"#),
        "{text}"
    );
    let v = wait_info(&c, "MF", |v| v["state"]["last_seq"] == 6).await;
    assert_eq!(v["state"]["messages"], 2);
    assert_eq!(v["state"]["first_seq"], 4);
    assert_eq!(v["mirror"]["filter_subject"], "o.1");
    let got: Vec<_> = contents(&js, "MF")
        .await
        .into_iter()
        .map(|(s, subj, p, _)| (s, subj, p))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "o.1".to_string(), "m3".to_string()),
            (6, "o.1".to_string(), "m5".to_string())
        ]
    );
}

#[tokio::test]
async fn sources_aggregate_with_headers_filters_and_own_subjects() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(&c, json!({"name": "A", "subjects": ["a.>"]})).await;
    create(&c, json!({"name": "B", "subjects": ["b.>"]})).await;
    publish(&js, "a.1", "a1").await;
    publish(&js, "b.1", "b1").await;
    publish(&js, "b.2", "b2").await;
    let r = create(
        &c,
        json!({"name": "S", "subjects": ["s.>"], "sources": [
            {"name": "A"}, {"name": "B", "filter_subject": "b.2"}
        ]}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    wait_msgs(&c, "S", 2).await;
    // Its own subjects work beside the sources.
    let own = publish(&js, "s.x", "own").await;
    assert_eq!(own, 3);
    publish(&js, "a.2", "a2").await;
    let v = wait_msgs(&c, "S", 4).await;
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{v}");
    assert_eq!(sources[0]["name"], "A");
    assert_eq!(sources[1]["filter_subject"], "b.2");

    let mut got = contents(&js, "S").await;
    let seqs: Vec<_> = got.iter().map(|m| m.0).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "new sequence numbers");
    // The first two come from two sources in either order.
    got[..2].sort_by(|a, b| a.1.cmp(&b.1));
    let subjects: Vec<_> = got.iter().map(|m| m.1.as_str()).collect();
    assert_eq!(subjects, vec!["a.1", "b.2", "s.x", "a.2"]);
    assert!(header_starts(&got[0].3, "A 1 > > a.1"), "{got:?}");
    assert!(header_starts(&got[1].3, "B 2 b.2 > b.2"), "{got:?}");
    assert_eq!(got[2].3, None);
    assert!(header_starts(&got[3].3, "A 2 > > a.2"), "{got:?}");
}

#[tokio::test]
async fn source_subject_transform() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(&c, json!({"name": "O", "subjects": ["o.>"]})).await;
    publish(&js, "o.a", "1").await;
    publish(&js, "o.b", "2").await;
    create(
        &c,
        json!({"name": "T", "sources": [{"name": "O", "subject_transforms": [
            {"src": "o.*", "dest": "t.{{wildcard(1)}}"}
        ]}]}),
    )
    .await;
    wait_msgs(&c, "T", 2).await;
    let got = contents(&js, "T").await;
    assert_eq!(got[0].1, "t.a");
    assert_eq!(got[1].1, "t.b");
    assert!(
        header_starts(&got[1].3, "O 2 o.* t.{{wildcard(1)}} o.b"),
        "{got:?}"
    );
}

#[tokio::test]
async fn bad_configs_get_nats_server_codes() {
    let nile = Nile::start(&["-js"]);
    let (c, _js) = connect_js(&nile).await;
    create(
        &c,
        json!({"name": "O", "subjects": ["o.>"], "max_msg_size": 100}),
    )
    .await;
    let cases = [
        (
            json!({"name":"X1","mirror":{"name":"O"},"subjects":["x"]}),
            10034,
        ),
        (
            json!({"name":"X2","mirror":{"name":"O"},"sources":[{"name":"O"}]}),
            10031,
        ),
        (
            json!({"name":"X3","mirror":{"name":"O"},"first_seq":5}),
            10143,
        ),
        (json!({"name":"X4","mirror":{"name":"a.b"}}), 10142),
        (
            json!({"name":"X5","mirror":{"name":"O","filter_subject":"o.1",
                "subject_transforms":[{"src":"o.1","dest":"p"}]}}),
            10150,
        ),
        (
            json!({"name":"X6","mirror":{"name":"O"},"max_msg_size":10}),
            10030,
        ),
        (
            json!({"name":"X7","sources":[{"name":"O"},{"name":"O"}]}),
            10140,
        ),
        (json!({"name":"X8","sources":[{"name":"a.b"}]}), 10141),
        (
            json!({"name":"X9","sources":[{"name":"O","subject_transforms":[
                {"src":"o.*","dest":"p"},{"src":"o.1","dest":"q"}]}]}),
            10147,
        ),
        (
            json!({"name":"X10","sources":[{"name":"O","subject_transforms":[
                {"src":"o.*","dest":"p.{{wildcard(2)}}"}]}]}),
            10146,
        ),
        (
            json!({"name":"X11","sources":[{"name":"O"}],"max_msg_size":10}),
            10046,
        ),
        (
            json!({"name":"X12","sources":[{"name":"X12"}],"subjects":["x12"]}),
            10052,
        ),
        (
            json!({"name":"X13","mirror":{"name":"O","external":{"api":"$JS.API"}}}),
            10021,
        ),
    ];
    for (cfg, code) in cases {
        let r = create(&c, cfg.clone()).await;
        assert_eq!(r["error"]["err_code"], code, "{cfg} -> {r}");
    }
    create(&c, json!({"name": "M", "mirror": {"name": "O"}})).await;
    let r = req(
        &c,
        "$JS.API.STREAM.UPDATE.M",
        &json!({"name":"M","mirror":{"name":"O","filter_subject":"o.1"}}).to_string(),
    )
    .await;
    assert_eq!(r["error"]["err_code"], 10055, "{r}");
}

#[tokio::test]
async fn removing_the_mirror_promotes_it_to_a_plain_stream() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(&c, json!({"name": "Q", "subjects": ["q.>"]})).await;
    publish(&js, "q.1", "x").await;
    create(&c, json!({"name": "QM", "mirror": {"name": "Q"}})).await;
    wait_msgs(&c, "QM", 1).await;
    let r = req(&c, "$JS.API.STREAM.UPDATE.QM", r#"{"name":"QM"}"#).await;
    assert!(r.get("error").is_none(), "{r}");
    assert!(r["config"].get("mirror").is_none(), "{r}");
    assert_eq!(r["config"]["subjects"], json!(["QM"]));
    assert!(r.get("mirror").is_none(), "{r}");
    // It takes publishes of its own now, after the mirrored message.
    assert_eq!(publish(&js, "QM", "own").await, 2);
    // And no longer follows the origin.
    publish(&js, "q.2", "y").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(info(&c, "QM").await["state"]["messages"], 2);
    let r = req(
        &c,
        "$JS.API.STREAM.UPDATE.QM",
        r#"{"name":"QM","mirror":{"name":"Q"}}"#,
    )
    .await;
    assert_eq!(r["error"]["err_code"], 10055, "{r}");
}

#[tokio::test]
async fn mirror_and_sources_resume_after_kill_without_duplicates_or_gaps() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(&c, json!({"name": "O", "subjects": ["o.>"]})).await;
    create(&c, json!({"name": "P", "subjects": ["p.>"]})).await;
    for i in 0..10 {
        publish(&js, &format!("o.{i}"), "x").await;
        publish(&js, &format!("p.{i}"), "y").await;
    }
    create(&c, json!({"name": "M", "mirror": {"name": "O"}})).await;
    create(
        &c,
        json!({"name": "S", "sources": [{"name": "O"}, {"name": "P"}]}),
    )
    .await;
    wait_msgs(&c, "M", 10).await;
    wait_msgs(&c, "S", 20).await;
    drop(c);
    drop(js);

    let nile = Nile::start_in(nile.kill(), &["-js"]);
    let (c, js) = connect_js(&nile).await;
    for i in 10..15 {
        publish(&js, &format!("o.{i}"), "x").await;
        publish(&js, &format!("p.{i}"), "y").await;
    }
    let m = wait_info(&c, "M", |v| v["state"]["last_seq"] == 15).await;
    assert_eq!(m["state"]["messages"], 15);
    wait_msgs(&c, "S", 30).await;
    // Give a duplicating copier time to show itself before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(info(&c, "S").await["state"]["messages"], 30);
    let mut seen: Vec<(String, u64)> = contents(&js, "S")
        .await
        .into_iter()
        .map(|(_, _, _, src)| {
            let src = src.expect("sourced header");
            let mut t = src.split(' ');
            let name = t.next().unwrap().to_string();
            (name, t.next().unwrap().parse().unwrap())
        })
        .collect();
    seen.sort();
    let want: Vec<(String, u64)> = ["O", "P"]
        .iter()
        .flat_map(|n| (1..=15).map(move |s| (n.to_string(), s)))
        .collect();
    assert_eq!(seen, want, "every origin message exactly once");
    let mirror = contents(&js, "M").await;
    assert_eq!(
        mirror.iter().map(|m| m.0).collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn kv_bucket_mirror_and_sources() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    let a = js
        .create_key_value(kv::Config {
            bucket: "A".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .expect("bucket A");
    a.put("k1", "v1".into()).await.unwrap();
    a.put("k2", "v2".into()).await.unwrap();
    a.put("k1", "v3".into()).await.unwrap();
    js.create_key_value(kv::Config {
        bucket: "B".into(),
        mirror: Some(stream::Source {
            name: "A".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("mirror bucket");
    js.create_key_value(kv::Config {
        bucket: "C".into(),
        sources: Some(vec![stream::Source {
            name: "A".into(),
            ..Default::default()
        }]),
        ..Default::default()
    })
    .await
    .expect("sourcing bucket");
    let b = wait_info(&c, "KV_B", |v| v["state"]["last_seq"] == 3).await;
    assert_eq!(b["config"]["mirror"]["name"], "KV_A");
    assert_eq!(b["config"]["mirror_direct"], true);
    // C keeps one value per key (history 1): k1's older value is gone.
    let cc = wait_info(&c, "KV_C", |v| v["state"]["last_seq"] == 3).await;
    assert_eq!(cc["state"]["messages"], 2);
    for name in ["KV_B", "KV_C"] {
        let s = js.get_stream(name).await.unwrap();
        let m = s.get_last_raw_message_by_subject("$KV.A.k1").await.unwrap();
        assert_eq!(&m.payload[..], b"v3", "{name}");
    }
}

#[tokio::test]
async fn mirror_direct_answers_direct_gets_for_its_origin() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        json!({"name": "O", "subjects": ["o.>"], "allow_direct": true}),
    )
    .await;
    publish(&js, "o.1", "x").await;
    let r = create(&c, json!({"name": "M", "mirror": {"name": "O"}})).await;
    assert_eq!(r["config"]["mirror_direct"], true, "{r}");
    wait_msgs(&c, "M", 1).await;
    // With the origin gone, the mirror still answers under the origin's name.
    let d = req(&c, "$JS.API.STREAM.DELETE.O", "").await;
    assert_eq!(d["success"], true, "{d}");
    let m = req_msg(&c, "$JS.API.DIRECT.GET.O", r#"{"last_by_subj":"o.1"}"#)
        .await
        .expect("a mirror answers");
    assert_eq!(&m.payload[..], b"x");
    let h = m.headers.expect("headers");
    assert_eq!(h.get("Nats-Stream").map(|v| v.as_str()), Some("M"));
    assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("1"));
}

#[tokio::test]
async fn copies_roll_up_and_republish_as_publishes_do() {
    let nile = Nile::start(&["-js"]);
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        json!({"name": "R", "subjects": ["r.>"], "allow_rollup_hdrs": true}),
    )
    .await;
    create(
        &c,
        json!({"name": "RM", "mirror": {"name": "R"}, "allow_rollup_hdrs": true}),
    )
    .await;
    create(
        &c,
        json!({"name": "RS", "sources": [{"name": "R"}], "allow_rollup_hdrs": true}),
    )
    .await;
    // Without allow_rollup_hdrs the marker is stored like any message.
    create(&c, json!({"name": "RN", "mirror": {"name": "R"}})).await;
    create(
        &c,
        json!({"name": "RP", "mirror": {"name": "R"}, "republish": {"src": ">", "dest": "rp.>"}}),
    )
    .await;
    let mut republished = c.subscribe("rp.>").await.unwrap();
    c.flush().await.unwrap();
    publish(&js, "r.1", "a").await;
    publish(&js, "r.1", "b").await;
    publish(&js, "r.2", "c").await;
    for name in ["RM", "RS", "RN"] {
        wait_msgs(&c, name, 3).await;
    }
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Rollup", "sub");
    js.publish_with_headers("r.1", h, "roll".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for name in ["RM", "RS"] {
        let v = wait_info(&c, name, |v| v["state"]["last_seq"] == 4).await;
        assert_eq!(v["state"]["messages"], 2, "{name}: {v}");
        assert_eq!(v["state"]["first_seq"], 3, "{name}: {v}");
    }
    let v = wait_info(&c, "RN", |v| v["state"]["last_seq"] == 4).await;
    assert_eq!(v["state"]["messages"], 4, "{v}");

    let first = tokio::time::timeout(CATCH_UP, republished.next())
        .await
        .expect("a republished copy")
        .unwrap();
    assert_eq!(first.subject.as_str(), "rp.r.1");
    let h = first.headers.expect("headers");
    assert_eq!(h.get("Nats-Stream").map(|v| v.as_str()), Some("RP"));
    assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("1"));
}
