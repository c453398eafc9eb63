//! `num_pending` is exact with filter_subject, filter_subjects and
//! last_per_subject, before, during and after consumption and as new
//! messages arrive (KV watchers and object reads finish on it).
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use nile_tests::Nile;

async fn setup(nile: &Nile) -> (jetstream::Context, stream::Stream) {
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client);
    let stream = js
        .create_stream(stream::Config {
            name: "P".into(),
            subjects: vec!["p.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    (js, stream)
}

async fn publish(js: &jetstream::Context, subject: &str, n: usize) {
    for i in 0..n {
        js.publish(subject.to_string(), format!("{subject}-{i}").into())
            .await
            .expect("publish")
            .await
            .expect("puback");
    }
}

/// Fetch up to `n` (short expiry); the stream sequences and ack-subject pending counts.
async fn fetch(c: &consumer::PullConsumer, n: usize) -> Vec<(u64, u64)> {
    let mut batch = c
        .fetch()
        .max_messages(n)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .expect("fetch");
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.expect("message");
        let info = m.info().expect("ack info");
        out.push((info.stream_sequence, info.pending));
        m.ack().await.expect("ack");
    }
    out
}

async fn num_pending(c: &mut consumer::PullConsumer) -> u64 {
    c.info().await.expect("info").num_pending
}

#[tokio::test]
async fn filter_subjects_count_only_their_subjects() {
    let nile = Nile::start(&["-js"]);
    let (js, stream) = setup(&nile).await;
    publish(&js, "p.a", 3).await; // 1..3
    publish(&js, "p.b", 2).await; // 4..5
    publish(&js, "p.c.x", 4).await; // 6..9
    publish(&js, "p.a", 1).await; // 10
    let mut one = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("ONE".into()),
            filter_subject: "p.a".into(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut many = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("MANY".into()),
            filter_subjects: vec!["p.b".into(), "p.c.>".into()],
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert_eq!(num_pending(&mut one).await, 4);
    assert_eq!(num_pending(&mut many).await, 6);

    assert_eq!(fetch(&one, 2).await, [(1, 3), (2, 2)]);
    assert_eq!(num_pending(&mut one).await, 2);
    assert_eq!(fetch(&many, 3).await, [(4, 5), (5, 4), (6, 3)]);
    assert_eq!(num_pending(&mut many).await, 3);

    // New messages: only matching ones count.
    publish(&js, "p.b", 1).await; // 11
    publish(&js, "p.z", 5).await; // 12..16
    assert_eq!(num_pending(&mut one).await, 2);
    assert_eq!(num_pending(&mut many).await, 4);
    assert_eq!(fetch(&many, 10).await, [(7, 3), (8, 2), (9, 1), (11, 0)]);
    assert_eq!(num_pending(&mut many).await, 0);
    assert_eq!(fetch(&one, 10).await, [(3, 1), (10, 0)]);
    assert_eq!(num_pending(&mut one).await, 0);
}

#[tokio::test]
async fn last_per_subject_counts_distinct_subjects() {
    let nile = Nile::start(&["-js"]);
    let (js, stream) = setup(&nile).await;
    publish(&js, "p.k.1", 3).await; // 1..3
    publish(&js, "p.k.2", 2).await; // 4..5
    publish(&js, "p.k.1", 1).await; // 6
    publish(&js, "p.other", 2).await; // 7..8
    publish(&js, "p.k.3", 1).await; // 9
    let mut lps = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("LPS".into()),
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            filter_subject: "p.k.>".into(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    // Last of p.k.1 (6), p.k.2 (5), p.k.3 (9).
    assert_eq!(num_pending(&mut lps).await, 3);
    assert_eq!(fetch(&lps, 1).await, [(5, 2)]);
    assert_eq!(num_pending(&mut lps).await, 2);
    publish(&js, "p.k.2", 1).await; // 10
    assert_eq!(num_pending(&mut lps).await, 3);
    assert_eq!(fetch(&lps, 10).await, [(6, 2), (9, 1), (10, 0)]);
    assert_eq!(num_pending(&mut lps).await, 0);

    let mut lps_many = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("LPS2".into()),
            deliver_policy: consumer::DeliverPolicy::LastPerSubject,
            filter_subjects: vec!["p.k.1".into(), "p.other".into()],
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert_eq!(num_pending(&mut lps_many).await, 2);
    assert_eq!(fetch(&lps_many, 10).await, [(6, 1), (8, 0)]);
}
