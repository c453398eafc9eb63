//! `/jsz` and `/metrics` report real JetStream numbers after known traffic.

use std::io::{Read, Write};

use async_nats::jetstream::{self, consumer, stream};
use nile_tests::Nile;

fn get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
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

fn jsz(port: u16, query: &str) -> serde_json::Value {
    let body = get(port, &format!("/jsz{query}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn jsz_counts_follow_creates_and_deletes() {
    let nile = Nile::start(&["-js", "-m", "-1"]);
    let port = nile.http_port.expect("monitor port");
    let js = jetstream::new(async_nats::connect(nile.url()).await.unwrap());
    let file = js
        .create_stream(stream::Config {
            name: "FILED".into(),
            subjects: vec!["filed.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mem = js
        .create_stream(stream::Config {
            name: "MEM".into(),
            subjects: vec!["mem.>".into()],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    for (subject, n) in [("filed.a", 3), ("mem.a", 2)] {
        for _ in 0..n {
            js.publish(subject, "12345".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    for (s, name) in [(&file, "C1"), (&file, "C2"), (&mem, "C3")] {
        s.create_consumer(consumer::pull::Config {
            durable_name: Some(name.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    }

    let v = jsz(port, "");
    assert_eq!(
        (
            &v["streams"],
            &v["consumers"],
            &v["messages"],
            &v["accounts"]
        ),
        (&2.into(), &3.into(), &5.into(), &1.into()),
        "{v:#}"
    );
    let (memory, storage) = (
        v["memory"].as_u64().unwrap(),
        v["storage"].as_u64().unwrap(),
    );
    assert!(memory > 0 && storage > 0, "{v:#}");
    assert_eq!(v["bytes"].as_u64(), Some(memory + storage), "{v:#}");
    assert!(v.get("account_details").is_none(), "{v:#}");

    let accounts = jsz(port, "?accounts=true");
    assert_eq!(accounts["account_details"][0]["name"], "$G", "{accounts:#}");
    assert!(accounts["account_details"][0]
        .get("stream_detail")
        .is_none());

    let detail = jsz(port, "?streams=true");
    let streams = detail["account_details"][0]["stream_detail"]
        .as_array()
        .unwrap()
        .clone();
    let by_name = |n: &str| streams.iter().find(|s| s["name"] == n).unwrap().clone();
    assert_eq!(by_name("FILED")["state"]["messages"], 3, "{detail:#}");
    assert_eq!(by_name("FILED")["state"]["consumer_count"], 2, "{detail:#}");
    assert_eq!(by_name("MEM")["state"]["messages"], 2, "{detail:#}");
    assert!(by_name("MEM").get("consumer_detail").is_none());

    js.delete_stream("MEM").await.unwrap();
    let after = jsz(port, "");
    assert_eq!(
        (&after["streams"], &after["consumers"], &after["messages"]),
        (&1.into(), &2.into(), &3.into()),
        "{after:#}"
    );
    assert_eq!(after["memory"], 0, "{after:#}");
}

/// Two accounts with JetStream: `/jsz` sums both, lists both with
/// `accounts=true`, and `acc=` picks one.
#[tokio::test]
async fn jsz_covers_every_account() {
    const CONFIG: &str = "jetstream: enabled\naccounts {\n  A: { jetstream: enabled, users: [{user: a, password: a}] }\n  B: { jetstream: enabled, users: [{user: b, password: b}] }\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nile.conf");
    std::fs::write(&conf, CONFIG).unwrap();
    let conf = conf.display().to_string();
    let nile = Nile::start_in(dir, &["-c", &conf, "-m", "-1"]);
    let port = nile.http_port.expect("monitor port");
    for (user, streams) in [("a", 1), ("b", 2)] {
        let c = async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            .connect(nile.url())
            .await
            .unwrap();
        let js = jetstream::new(c);
        for i in 0..streams {
            let name = format!("{}{i}", user.to_uppercase());
            js.create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{user}.{i}")],
                ..Default::default()
            })
            .await
            .unwrap();
            js.publish(format!("{user}.{i}"), "x".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    let v = jsz(port, "?accounts=true");
    assert_eq!(
        (&v["streams"], &v["messages"]),
        (&3.into(), &3.into()),
        "{v}"
    );
    let names: Vec<&str> = v["account_details"]
        .as_array()
        .expect("account_details")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["A", "B"], "{v}");
    let b = jsz(port, "?acc=B&streams=true");
    let detail = b["account_details"].as_array().expect("account_details");
    assert_eq!(detail.len(), 1, "{b}");
    assert_eq!(
        detail[0]["stream_detail"].as_array().map(Vec::len),
        Some(2),
        "{b}"
    );
}
