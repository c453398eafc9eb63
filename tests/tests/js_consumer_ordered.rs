//! An async-nats ordered push consumer replays 100 000 messages in order,
//! none missing, none repeated.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use nile_tests::Nile;

const MSGS: u64 = 100_000;

#[tokio::test]
async fn ordered_consumer_replays_100k_in_order() {
    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let mut stream = js
        .create_stream(stream::Config {
            name: "O".into(),
            subjects: vec!["o.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    // Core publishes (no PubAck round trip each); the stream stores them all.
    for i in 0..MSGS {
        client
            .publish(format!("o.{}", i % 16), i.to_string().into())
            .await
            .expect("publish");
    }
    client.flush().await.expect("flush");
    let mut stored = 0;
    for _ in 0..600 {
        stored = stream.info().await.expect("info").state.messages;
        if stored == MSGS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, MSGS, "stream did not store every publish");

    let ordered = stream
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut msgs = ordered.messages().await.expect("messages");
    for i in 0..MSGS {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.next())
            .await
            .unwrap_or_else(|_| panic!("stalled after {i} messages"))
            .expect("stream open")
            .expect("message");
        let info = m.info().expect("ack info");
        assert_eq!(info.stream_sequence, i + 1);
        assert_eq!(info.consumer_sequence, i + 1);
        assert_eq!(info.pending, MSGS - i - 1);
        assert_eq!(m.subject.as_str(), format!("o.{}", i % 16));
        assert_eq!(m.payload.as_ref(), i.to_string().as_bytes());
    }
}
