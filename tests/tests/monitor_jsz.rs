//! `/jsz` and `/metrics` report real JetStream numbers after known traffic.

use std::io::{Read, Write};

use async_nats::jetstream::{self, consumer, stream};
use nile_tests::Nile;

fn get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn jsz_counts_streams_consumers_and_messages() {
    let nile = Nile::start(&["-js", "-m", "-1"]);
    let port = nile.http_port.expect("monitor port");
    let js = jetstream::new(async_nats::connect(nile.url()).await.unwrap());
    let s = js
        .create_stream(stream::Config {
            name: "M".into(),
            subjects: vec!["m.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..7 {
        js.publish(format!("m.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    s.create_consumer(consumer::pull::Config {
        durable_name: Some("C".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&get(port, "/jsz?streams=true&consumers=true")).unwrap();
    assert_eq!(v["streams"], 1, "{v}");
    assert_eq!(v["consumers"], 1, "{v}");
    assert_eq!(v["messages"], 7, "{v}");
    let detail = &v["account_details"][0]["stream_detail"][0];
    assert_eq!(detail["name"], "M", "{v}");
    assert_eq!(detail["state"]["last_seq"], 7, "{v}");
    assert_eq!(detail["consumer_detail"][0]["num_pending"], 7, "{v}");
    let metrics = get(port, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("nile_") && l.contains("stream=\"M\"")),
        "{metrics}"
    );
}
