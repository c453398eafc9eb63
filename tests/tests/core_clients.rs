//! Core NATS through a real client library (async-nats), as applications use Nile
//! (issue 2, items 4 and 7).

use std::collections::HashMap;
use std::time::Duration;

use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;
use nile_tests::Nile;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("message within 5 s")
        .expect("subscription open")
}

/// Nothing more arrives (after a flush round trip from the publisher's side).
async fn assert_quiet(sub: &mut async_nats::Subscriber) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

/// A server round trip: everything this client sent before has been processed.
/// (async-nats's `flush` only writes to the socket.) A request nobody serves comes
/// back as a no-responders status once the server has handled all earlier ops.
async fn sync(client: &async_nats::Client) {
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        client.request("nile.sync.nobody", bytes::Bytes::new()),
    )
    .await
    .expect("sync round trip")
    .expect_err("nobody serves nile.sync.nobody");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
}

#[tokio::test]
async fn connect_reads_info() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let info = client.server_info();
    assert_eq!(info.proto, 1);
    assert_eq!(info.max_payload, 1048576);
    assert!(info.headers);
    assert!(!info.auth_required);
    assert_eq!(info.port, nile.port);
    assert!(info.client_id > 0);
    assert_eq!(info.server_id.len(), 56);
}

#[tokio::test]
async fn publish_subscribe_in_order() {
    let nile = Nile::start(&[]);
    let sub_client = async_nats::connect(nile.url()).await.unwrap();
    let pub_client = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = sub_client.subscribe("orders.new").await.unwrap();
    sync(&sub_client).await;
    for i in 0..100u32 {
        pub_client
            .publish("orders.new", Bytes::from(i.to_string()))
            .await
            .unwrap();
    }
    pub_client.publish("orders.old", "x".into()).await.unwrap();
    sync(&pub_client).await;
    for i in 0..100u32 {
        let m = next(&mut sub).await;
        assert_eq!(m.subject.as_str(), "orders.new");
        assert_eq!(m.payload, Bytes::from(i.to_string()));
        assert!(m.headers.is_none());
    }
    assert_quiet(&mut sub).await;
}

#[tokio::test]
async fn headers_round_trip() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = client.subscribe("h").await.unwrap();
    sync(&client).await;
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "abc-123");
    headers.append("Multi", "one");
    headers.append("Multi", "two");
    client
        .publish_with_headers("h", headers, "body".into())
        .await
        .unwrap();
    // Headers with an empty body, and an empty header map.
    let mut only = HeaderMap::new();
    only.insert("K", "v");
    client
        .publish_with_headers("h", only, Bytes::new())
        .await
        .unwrap();
    sync(&client).await;

    let m = next(&mut sub).await;
    assert_eq!(m.payload, "body");
    let h = m.headers.expect("headers");
    assert_eq!(h.get("Trace-Id").map(|v| v.as_str()), Some("abc-123"));
    let multi: Vec<_> = h.get_all("Multi").map(|v| v.as_str().to_string()).collect();
    assert_eq!(multi, ["one", "two"]);
    assert!(m.status.is_none());

    let m = next(&mut sub).await;
    assert!(m.payload.is_empty());
    assert_eq!(
        m.headers.expect("headers").get("K").map(|v| v.as_str()),
        Some("v")
    );
}

#[tokio::test]
async fn request_reply() {
    let nile = Nile::start(&[]);
    let service = async_nats::connect(nile.url()).await.unwrap();
    let mut requests = service.subscribe("svc.echo").await.unwrap();
    sync(&service).await;
    let responder = {
        let service = service.clone();
        tokio::spawn(async move {
            while let Some(req) = requests.next().await {
                let mut body = b"re: ".to_vec();
                body.extend_from_slice(&req.payload);
                service
                    .publish(req.reply.unwrap(), body.into())
                    .await
                    .unwrap();
            }
        })
    };
    let client = async_nats::connect(nile.url()).await.unwrap();
    for i in 0..20 {
        let reply = tokio::time::timeout(WAIT, client.request("svc.echo", format!("q{i}").into()))
            .await
            .expect("reply in time")
            .expect("request");
        assert_eq!(reply.payload, Bytes::from(format!("re: q{i}")));
    }
    responder.abort();
}

#[tokio::test]
async fn request_without_responders_fails_fast() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let started = std::time::Instant::now();
    let err = client.request("nobody.home", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    // The 503 comes back at once, long before async-nats's 10 s request timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    // The connection is still good.
    let mut sub = client.subscribe("after").await.unwrap();
    client.publish("after", "ok".into()).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "ok");
}

#[tokio::test]
async fn wildcard_subscriptions() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut star = client.subscribe("telemetry.*.temp").await.unwrap();
    let mut tail = client.subscribe("telemetry.>").await.unwrap();
    sync(&client).await;
    for s in [
        "telemetry.a.temp",
        "telemetry.b.temp",
        "telemetry.a.humidity",
        "telemetry.a.temp.x",
        "other",
    ] {
        client.publish(s, s.into()).await.unwrap();
    }
    sync(&client).await;
    for want in ["telemetry.a.temp", "telemetry.b.temp"] {
        assert_eq!(next(&mut star).await.subject.as_str(), want);
    }
    for want in [
        "telemetry.a.temp",
        "telemetry.b.temp",
        "telemetry.a.humidity",
        "telemetry.a.temp.x",
    ] {
        let m = next(&mut tail).await;
        assert_eq!(m.subject.as_str(), want);
        assert_eq!(m.payload, want);
    }
    assert_quiet(&mut star).await;
    assert_quiet(&mut tail).await;
}

#[tokio::test]
async fn queue_groups_deliver_once_per_group_and_spread() {
    let nile = Nile::start(&[]);
    let mut members = Vec::new();
    let mut clients = Vec::new();
    for (group, n) in [("workers", 3), ("audit", 2)] {
        for _ in 0..n {
            let c = async_nats::connect(nile.url()).await.unwrap();
            let s = c.queue_subscribe("jobs", group.to_string()).await.unwrap();
            sync(&c).await;
            members.push((group, s));
            clients.push(c);
        }
    }
    let plain_client = async_nats::connect(nile.url()).await.unwrap();
    let mut plain = plain_client.subscribe("jobs").await.unwrap();
    sync(&plain_client).await;

    let publisher = async_nats::connect(nile.url()).await.unwrap();
    const N: usize = 300;
    for i in 0..N {
        publisher
            .publish("jobs", i.to_string().into())
            .await
            .unwrap();
    }
    sync(&publisher).await;

    for i in 0..N {
        assert_eq!(next(&mut plain).await.payload, Bytes::from(i.to_string()));
    }
    // Every member drains what it got; a flush from every client has already
    // happened server-side, so a short quiet period ends each member's share.
    let mut per_group: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut per_member = Vec::new();
    for (group, sub) in members.iter_mut() {
        let mut got = 0;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            per_group
                .entry(group)
                .or_default()
                .push(std::str::from_utf8(&m.payload).unwrap().parse().unwrap());
            got += 1;
        }
        per_member.push((*group, got));
    }
    for group in ["workers", "audit"] {
        let mut ids = per_group.remove(group).unwrap_or_default();
        ids.sort();
        assert_eq!(
            ids,
            (0..N).collect::<Vec<_>>(),
            "group {group}: each message exactly once"
        );
    }
    // Spread: every member of each group did some of the work.
    for (group, got) in &per_member {
        assert!(*got > 0, "a member of {group} got nothing: {per_member:?}");
    }
    drop(clients);
}

#[tokio::test]
async fn no_echo_client_does_not_get_its_own_messages() {
    let nile = Nile::start(&[]);
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(nile.url())
        .await
        .unwrap();
    let other = async_nats::connect(nile.url()).await.unwrap();
    let mut mine = quiet.subscribe("chat").await.unwrap();
    let mut theirs = other.subscribe("chat").await.unwrap();
    sync(&quiet).await;
    sync(&other).await;
    quiet.publish("chat", "from quiet".into()).await.unwrap();
    sync(&quiet).await;
    other.publish("chat", "from other".into()).await.unwrap();
    sync(&other).await;
    assert_eq!(next(&mut theirs).await.payload, "from quiet");
    assert_eq!(next(&mut theirs).await.payload, "from other");
    assert_eq!(next(&mut mine).await.payload, "from other");
    assert_quiet(&mut mine).await;
}

#[tokio::test]
async fn unsubscribe_after_n_messages() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = client.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    sync(&client).await;
    for i in 0..10 {
        client
            .publish("limited", format!("{i}").into())
            .await
            .unwrap();
    }
    sync(&client).await;
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        got.push(m.payload);
    }
    assert_eq!(got, ["0", "1", "2"]);
}

#[tokio::test]
async fn large_payload_round_trips() {
    let nile = Nile::start(&[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = client.subscribe("big").await.unwrap();
    sync(&client).await;
    let body: Bytes = (0..1048576u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    client.publish("big", body.clone()).await.unwrap();
    sync(&client).await;
    assert_eq!(next(&mut sub).await.payload, body);
    // One byte more is refused by the client itself, because INFO said max_payload.
    let err = client
        .publish("big", vec![0u8; 1048577].into())
        .await
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("payload"), "{err}");
}

#[tokio::test]
async fn request_with_headers_both_ways() {
    let nile = Nile::start(&[]);
    let service = async_nats::connect(nile.url()).await.unwrap();
    let mut requests = service.subscribe("svc.h").await.unwrap();
    sync(&service).await;
    let responder = service.clone();
    tokio::spawn(async move {
        let req = requests.next().await.unwrap();
        let asked = req
            .headers
            .as_ref()
            .and_then(|h| h.get("Q"))
            .map(|v| v.as_str().to_string());
        let mut headers = HeaderMap::new();
        headers.insert(
            "A",
            format!("answer to {}", asked.unwrap_or_default()).as_str(),
        );
        responder
            .publish_with_headers(req.reply.unwrap(), headers, "body".into())
            .await
            .unwrap();
    });
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Q", "42");
    let reply = tokio::time::timeout(
        WAIT,
        client.request_with_headers("svc.h", headers, Bytes::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(reply.payload, "body");
    assert_eq!(
        reply.headers.unwrap().get("A").map(|v| v.as_str()),
        Some("answer to 42")
    );
}
