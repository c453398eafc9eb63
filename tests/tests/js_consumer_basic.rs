//! Consumers driven by async-nats: pull fetch and messages(), push, ordered,
//! acks and redelivery, num_pending, durable state across kill -9.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use nile_tests::Nile;

async fn setup(
    nile: &Nile,
    subjects: &[&str],
) -> (async_nats::Client, jetstream::Context, stream::Stream) {
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(stream::Config {
            name: "S".into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .expect("create stream");
    (client, js, stream)
}

async fn publish_n(js: &jetstream::Context, subject: &str, n: usize) {
    for i in 0..n {
        js.publish(subject.to_string(), format!("m{i}").into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
}

#[tokio::test]
async fn pull_fetch_acks_and_info() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.a", 5).await;
    let cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut batch = cons
        .fetch()
        .max_messages(3)
        .messages()
        .await
        .expect("fetch");
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.expect("msg");
        got.push(String::from_utf8(m.payload.to_vec()).unwrap());
        let info = m.info().expect("ack info");
        assert_eq!(info.pending, 5 - got.len() as u64);
        m.ack().await.expect("ack");
    }
    assert_eq!(got, ["m0", "m1", "m2"]);
    let mut cons = cons;
    let info = cons.info().await.expect("info");
    assert_eq!(info.num_pending, 2);
    assert_eq!(info.delivered.consumer_sequence, 3);
    assert_eq!(info.delivered.stream_sequence, 3);
    // Acks are applied asynchronously; give them a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let info = cons.info().await.expect("info");
    assert_eq!(info.ack_floor.stream_sequence, 3);
    assert_eq!(info.num_ack_pending, 0);
}

#[tokio::test]
async fn pull_messages_stream_sees_live_publishes() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    let cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("W".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut msgs = cons.messages().await.expect("messages");
    publish_n(&js, "s.x", 20).await;
    for i in 0..20 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("timely")
            .unwrap()
            .unwrap();
        assert_eq!(m.payload.as_ref(), format!("m{i}").as_bytes());
        m.double_ack().await.expect("double ack");
    }
}

#[tokio::test]
async fn nak_redelivers_and_counts() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.a", 1).await;
    let mut cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("N".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut msgs = cons.messages().await.expect("messages");
    let first = msgs.next().await.unwrap().unwrap();
    assert_eq!(first.info().unwrap().delivered, 1);
    first
        .ack_with(jetstream::AckKind::Nak(None))
        .await
        .expect("nak");
    let again = tokio::time::timeout(Duration::from_secs(5), msgs.next())
        .await
        .expect("redelivered")
        .unwrap()
        .unwrap();
    assert_eq!(again.info().unwrap().delivered, 2);
    assert_eq!(again.info().unwrap().stream_sequence, 1);
    again.double_ack().await.expect("ack");
    let info = cons.info().await.expect("info");
    // nats-server counts redelivered messages still pending: none after the ack.
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(info.num_ack_pending, 0);
}

#[tokio::test]
async fn ack_wait_expiry_redelivers() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.a", 1).await;
    let cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("AW".into()),
            ack_wait: Duration::from_millis(300),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut msgs = cons.messages().await.expect("messages");
    let first = msgs.next().await.unwrap().unwrap();
    assert_eq!(first.info().unwrap().delivered, 1);
    let again = tokio::time::timeout(Duration::from_secs(5), msgs.next())
        .await
        .expect("redelivered")
        .unwrap()
        .unwrap();
    assert_eq!(again.info().unwrap().delivered, 2);
}

#[tokio::test]
async fn filtered_num_pending_is_exact() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.a", 3).await;
    publish_n(&js, "s.b", 4).await;
    publish_n(&js, "s.a", 2).await;
    let mut cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("F".into()),
            filter_subject: "s.a".into(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert_eq!(cons.info().await.unwrap().num_pending, 5);
    let mut lps = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("L".into()),
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            filter_subject: "s.>".into(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert_eq!(lps.info().await.unwrap().num_pending, 2);
    let mut batch = lps.fetch().max_messages(5).messages().await.expect("fetch");
    let mut seqs = Vec::new();
    while let Some(m) = batch.next().await {
        seqs.push(m.unwrap().info().unwrap().stream_sequence);
    }
    assert_eq!(seqs, [7, 9]);
}

#[tokio::test]
async fn push_and_ordered_consumers_deliver_in_order() {
    let nile = Nile::start(&["-js"]);
    let (client, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.o", 300).await;
    let ordered = stream
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .expect("ordered");
    let mut msgs = ordered.messages().await.expect("messages");
    for i in 0..300 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("timely")
            .unwrap()
            .unwrap();
        assert_eq!(m.payload.as_ref(), format!("m{i}").as_bytes());
    }
    let push = stream
        .create_consumer(consumer::push::Config {
            durable_name: Some("P".into()),
            deliver_subject: client.new_inbox(),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("push");
    let mut msgs = push.messages().await.expect("messages");
    for i in 0..300 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("timely")
            .unwrap()
            .unwrap();
        assert_eq!(m.payload.as_ref(), format!("m{i}").as_bytes());
        m.ack().await.unwrap();
    }
}

/// nats-server 2.15.1 fails this one: it flushes consumer state lazily, so a
/// kill -9 forgets double-acked messages. Nile saves before confirming.
#[tokio::test]
async fn durable_state_survives_kill_9() {
    let nile = Nile::start(&["-js"]);
    let (_c, js, stream) = setup(&nile, &["s.>"]).await;
    publish_n(&js, "s.a", 10).await;
    let cons = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("D".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut batch = cons
        .fetch()
        .max_messages(4)
        .messages()
        .await
        .expect("fetch");
    while let Some(m) = batch.next().await {
        m.unwrap().double_ack().await.expect("double ack");
    }
    drop(js);
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client);
    let stream = js.get_stream("S").await.expect("stream after restart");
    let mut cons: consumer::PullConsumer = stream
        .get_consumer("D")
        .await
        .expect("consumer after restart");
    let info = cons.info().await.expect("info");
    assert_eq!(info.ack_floor.stream_sequence, 4);
    assert_eq!(info.num_pending, 6);
    let mut batch = cons
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch");
    let m = batch.next().await.unwrap().unwrap();
    assert_eq!(m.info().unwrap().stream_sequence, 5);
    assert_eq!(m.payload.as_ref(), b"m4");
}

#[tokio::test]
async fn kv_put_get_watch() {
    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client);
    let kv = js
        .create_key_value(jetstream::kv::Config {
            bucket: "cfg".into(),
            history: 3,
            ..Default::default()
        })
        .await
        .expect("bucket");
    kv.put("a", "1".into()).await.expect("put");
    kv.put("b", "2".into()).await.expect("put");
    assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"1"[..]));
    assert!(kv.get("missing").await.expect("get").is_none());
    let rev = kv.create("c", "3".into()).await.expect("create");
    assert!(
        kv.create("c", "4".into()).await.is_err(),
        "create of an existing key fails"
    );
    kv.update("c", "5".into(), rev).await.expect("update");
    kv.delete("b").await.expect("delete");
    assert!(kv.get("b").await.expect("get").is_none());
    let mut watch = kv.watch_with_history(">").await.expect("watch");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("timely")
            .unwrap()
            .unwrap();
        seen.push((e.key.clone(), e.operation));
    }
    assert_eq!(seen[0].0, "a");
    kv.put("d", "6".into()).await.expect("put");
    let e = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("live update")
        .unwrap()
        .unwrap();
    assert_eq!(e.key, "d");
    let mut keys: Vec<String> = kv
        .keys()
        .await
        .expect("keys")
        .map(|k| k.unwrap())
        .collect()
        .await;
    keys.sort();
    assert_eq!(keys, ["a", "c", "d"]);
}
