//! Push consumers start delivering when their deliver subject gets a
//! subscriber. Clients create the consumer first and subscribe after, so a
//! consumer that only looked for interest now and then would start late.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::{FutureExt, StreamExt};
use nile_tests::Nile;

const MSGS: usize = 10;

/// As nats.py's `test_ephemeral_subscribe`: while the first of two push
/// consumers is read and each message acked with a round trip, the second
/// has already delivered everything (one connection, so its messages are
/// buffered before the last ack reply arrives).
#[tokio::test]
async fn second_push_consumer_delivers_on_subscribe() {
    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(stream::Config {
            name: "EPH".into(),
            subjects: vec!["eph".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    for i in 0..MSGS {
        js.publish("eph", format!("m{i}").into())
            .await
            .expect("publish")
            .await
            .expect("puback");
    }
    // The first subscribes before its consumer exists, so it starts at once;
    // the second subscribes after, as clients do.
    let first_inbox = client.new_inbox();
    let mut first = client.subscribe(first_inbox.clone()).await.expect("sub");
    push_consumer(&stream, &first_inbox).await;
    let second_inbox = client.new_inbox();
    push_consumer(&stream, &second_inbox).await;
    let mut second = client.subscribe(second_inbox).await.expect("sub");
    for _ in 0..MSGS {
        let m = tokio::time::timeout(Duration::from_secs(10), first.next())
            .await
            .expect("first consumer delivers")
            .expect("message");
        let reply = m.reply.expect("ack subject");
        client
            .request(reply, "+ACK".into())
            .await
            .expect("ack confirmed");
    }
    let mut buffered = 0;
    while let Some(Some(_)) = second.next().now_or_never() {
        buffered += 1;
    }
    assert_eq!(buffered, MSGS, "second consumer's messages already here");
}

async fn push_consumer(stream: &stream::Stream, deliver: &str) {
    stream
        .create_consumer(consumer::push::Config {
            deliver_subject: deliver.to_string(),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
}
