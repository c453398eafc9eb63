//! Priority groups of pull consumers (nats-server 2.11/2.12, ADR-42):
//! the config rules, the checks of a pull request's group fields, overflow
//! thresholds, the pinned client (`Nats-Pin-Id`, 423 statuses, UNPIN, the
//! pin timeout, advisories, `priority_groups` in consumer info) and
//! prioritized requests. Also CONSUMER.RESET (2.14).
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::Duration;

use js_consumer_util::{Frame, Wire};
use nile_tests::Nile;
use serde_json::{json, Value};

/// The status line of a status-only reply (`423 Nats-Pin-Id mismatch`).
fn status(f: &Frame) -> String {
    let line = f.headers.lines().next().unwrap_or_default();
    line.trim_start_matches("NATS/1.0").trim().to_string()
}

/// One header's value.
fn header(f: &Frame, name: &str) -> Option<String> {
    f.headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

fn err_code(v: &Value) -> u64 {
    v["error"]["err_code"].as_u64().unwrap_or(0)
}

/// Stream S on `s.>` with `n` messages on `s.a`.
fn stream_with(w: &mut Wire, n: usize) {
    w.create_stream("S", &["s.>"]);
    for i in 0..n {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
}

fn create(w: &mut Wire, name: &str, config: Value) -> Value {
    let mut config = config;
    config["durable_name"] = name.into();
    let body = json!({"stream_name": "S", "config": config});
    w.api(
        &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
        &body.to_string(),
    )
}

#[test]
fn config_rules() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 0);
    let refused = [
        (
            json!({"deliver_subject": "d", "priority_policy": "overflow", "priority_groups": ["A"]}),
            10178,
        ),
        (json!({"priority_policy": "overflow"}), 10159),
        (
            json!({"priority_policy": "overflow", "priority_groups": [""]}),
            10161,
        ),
        (
            json!({"priority_policy": "overflow", "priority_groups": ["a.b"]}),
            10162,
        ),
        (
            json!({"priority_policy": "overflow", "priority_groups": ["ABCDEFGHIJKLMNOPQ"]}),
            10162,
        ),
        (json!({"priority_groups": ["A"]}), 10196),
        (json!({"priority_timeout": 5}), 10197),
        (json!({"priority_policy": "bogus"}), 10025),
    ];
    for (config, code) in refused {
        let r = create(&mut w, "Q", config.clone());
        assert_eq!(err_code(&r), code, "{config} → {r}");
    }
    let r = create(
        &mut w,
        "P",
        json!({"ack_policy": "explicit", "priority_policy": "pinned_client", "priority_groups": ["A"]}),
    );
    assert_eq!(r["config"]["priority_policy"], "pinned_client", "{r}");
    assert_eq!(r["config"]["priority_groups"], json!(["A"]));
    // The pin timeout defaults to two minutes.
    assert_eq!(r["config"]["priority_timeout"], 120_000_000_000u64);
    assert_eq!(
        r["priority_groups"],
        json!([{"group": "A", "pinned_ts": "0001-01-01T00:00:00Z"}])
    );
    // Policy "none" is left out of the echo, as nats-server.
    let r = create(&mut w, "N", json!({"priority_policy": "none"}));
    assert!(r["config"].get("priority_policy").is_none(), "{r}");
    assert!(r.get("priority_groups").is_none(), "{r}");
}

#[test]
fn pull_request_group_checks() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 0);
    let pinned = json!({"ack_policy": "explicit", "priority_policy": "pinned_client", "priority_groups": ["A"]});
    create(&mut w, "P", pinned);
    let overflow =
        json!({"ack_policy": "explicit", "priority_policy": "overflow", "priority_groups": ["A"]});
    create(&mut w, "O", overflow);
    let cases = [
        (
            "P",
            json!({"batch": 1, "expires": 1_000_000_000u64}),
            "400 Bad Request - Priority Group missing",
        ),
        (
            "P",
            json!({"batch": 1, "group": "B"}),
            "400 Bad Request - Invalid Priority Group",
        ),
        (
            "P",
            json!({"batch": 1, "group": "A", "min_pending": 3}),
            "400 Bad Request - Not a Overflow Priority consumer",
        ),
        (
            "P",
            json!({"batch": 1, "group": "A", "priority": 11}),
            "400 Bad Request - Priority must be between 0 and 9",
        ),
        (
            "O",
            json!({"batch": 1, "group": "A", "id": "x"}),
            "400 Bad Request - Not a Pinned Client Priority consumer",
        ),
    ];
    for (consumer, request, want) in cases {
        let inbox = w.pull("S", consumer, &request.to_string());
        let f = w.next_on(&inbox);
        assert_eq!(status(&f), want, "{consumer} {request}");
    }
}

#[test]
fn overflow_waits_for_min_pending_or_min_ack_pending() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 5);
    let overflow =
        json!({"ack_policy": "explicit", "priority_policy": "overflow", "priority_groups": ["A"]});
    create(&mut w, "O", overflow);
    // 5 pending, the request wants 10: nothing, then its timeout.
    let req = json!({"batch": 10, "expires": 1_000_000_000u64, "group": "A", "min_pending": 10});
    let inbox = w.pull("S", "O", &req.to_string());
    let f = w.next_on(&inbox);
    assert_eq!(status(&f), "408 Request Timeout");
    for i in 5..15 {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    // 15 pending: served while at least 10 are left to deliver.
    let req = json!({"batch": 3, "expires": 5_000_000_000u64, "group": "A", "min_pending": 10});
    let inbox = w.pull("S", "O", &req.to_string());
    for i in 0..3 {
        assert_eq!(w.next_on(&inbox).text(), format!("m{i}"));
    }
    // 3 await an ack: a min_ack_pending of 3 is met, one of 4 is not.
    let req = json!({"batch": 1, "expires": 1_000_000_000u64, "group": "A", "min_ack_pending": 4});
    let inbox = w.pull("S", "O", &req.to_string());
    assert_eq!(status(&w.next_on(&inbox)), "408 Request Timeout");
    let req = json!({"batch": 1, "expires": 5_000_000_000u64, "group": "A", "min_ack_pending": 3});
    let inbox = w.pull("S", "O", &req.to_string());
    assert_eq!(w.next_on(&inbox).text(), "m3");
    // A group request without thresholds is served at once.
    let req = json!({"batch": 1, "expires": 5_000_000_000u64, "group": "A"});
    let inbox = w.pull("S", "O", &req.to_string());
    assert_eq!(w.next_on(&inbox).text(), "m4");
}

/// A pinned pull: batch 1, group A, with `id` if given.
fn pinned_pull(w: &mut Wire, id: Option<&str>, expires_ms: u64) -> String {
    let mut req = json!({"batch": 1, "expires": expires_ms * 1_000_000, "group": "A"});
    if let Some(id) = id {
        req["id"] = id.into();
    }
    w.pull("S", "P", &req.to_string())
}

#[test]
fn pinned_client_holds_the_group_until_unpinned() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 6);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.*.S.P");
    let cfg = json!({"ack_policy": "explicit", "priority_policy": "pinned_client", "priority_groups": ["A"]});
    create(&mut w, "P", cfg);

    // The first request takes the pin; its message names it.
    let inbox = pinned_pull(&mut w, None, 5000);
    let first = w.next_on(&inbox);
    assert_eq!(first.text(), "m0");
    let id = header(&first, "Nats-Pin-Id").expect("Nats-Pin-Id");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.PINNED.S.P").json();
    assert_eq!(
        adv["type"],
        "io.nats.jetstream.advisory.v1.consumer_group_pinned"
    );
    assert_eq!(
        (adv["group"].as_str(), adv["pinned_id"].as_str()),
        (Some("A"), Some(id.as_str()))
    );
    let info = w.info("S", "P");
    assert_eq!(
        info["priority_groups"][0]["pinned_client_id"],
        id.as_str(),
        "{info}"
    );

    // Another client without the id gets nothing while the pin holds.
    let other = pinned_pull(&mut w, None, 500);
    assert_eq!(status(&w.next_on(&other)), "408 Request Timeout");
    // The pinned client goes on; a wrong id is refused at once.
    let inbox = pinned_pull(&mut w, Some(&id), 5000);
    let f = w.next_on(&inbox);
    assert_eq!(
        (f.text(), header(&f, "Nats-Pin-Id")),
        ("m1".into(), Some(id.clone()))
    );
    let wrong = pinned_pull(&mut w, Some("not-the-pin"), 5000);
    assert_eq!(status(&w.next_on(&wrong)), "423 Nats-Pin-Id mismatch");

    // UNPIN: the advisory, then the next request without an id takes a new pin.
    let r = w.api("$JS.API.CONSUMER.UNPIN.S.P", r#"{"group":"B"}"#);
    assert_eq!(err_code(&r), 10160, "{r}");
    let r = w.api("$JS.API.CONSUMER.UNPIN.S.P", r#"{"group":"A"}"#);
    assert!(r.get("error").is_none(), "{r}");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.P").json();
    assert_eq!(
        (adv["group"].as_str(), adv["reason"].as_str()),
        (Some("A"), Some("admin"))
    );
    // The old pin id now belongs to nobody: that request ends with 423 and what it wanted.
    let stale = pinned_pull(&mut w, Some(&id), 5000);
    let f = w.next_on(&stale);
    assert_eq!(status(&f), "423 Nats-Wrong-Pin-Id");
    assert_eq!(header(&f, "Nats-Pending-Messages").as_deref(), Some("1"));
    let inbox = pinned_pull(&mut w, None, 5000);
    let f = w.next_on(&inbox);
    let new_id = header(&f, "Nats-Pin-Id").expect("a new pin");
    assert_eq!(f.text(), "m2");
    assert_ne!(new_id, id);
}

#[test]
fn pin_expires_without_requests() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 2);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.P");
    let cfg = json!({"ack_policy": "explicit", "priority_policy": "pinned_client",
        "priority_groups": ["A"], "priority_timeout": 500_000_000u64});
    create(&mut w, "P", cfg);
    let inbox = pinned_pull(&mut w, None, 5000);
    let id = header(&w.next_on(&inbox), "Nats-Pin-Id").expect("pinned");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.P").json();
    assert_eq!(adv["reason"], "timeout", "{adv}");
    let info = w.info("S", "P");
    assert!(
        info["priority_groups"][0].get("pinned_client_id").is_none(),
        "{info}"
    );
    let inbox = pinned_pull(&mut w, None, 5000);
    let f = w.next_on(&inbox);
    assert_eq!(f.text(), "m1");
    assert_ne!(header(&f, "Nats-Pin-Id"), Some(id));
}

#[test]
fn prioritized_serves_the_lowest_priority_first() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 0);
    let cfg = json!({"ack_policy": "explicit", "priority_policy": "prioritized", "priority_groups": ["A"]});
    create(&mut w, "R", cfg);
    let pull = |w: &mut Wire, priority: u64| {
        let req =
            json!({"batch": 5, "expires": 3_000_000_000u64, "group": "A", "priority": priority});
        w.pull("S", "R", &req.to_string())
    };
    let low = pull(&mut w, 5);
    let high = pull(&mut w, 1);
    let info = w.info("S", "R");
    assert_eq!(info["num_waiting"], 2, "{info}");
    for i in 0..3 {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    for i in 0..3 {
        assert_eq!(w.next_on(&high).text(), format!("m{i}"));
    }
    // The priority-5 request got nothing and times out.
    assert_eq!(status(&w.next_on(&low)), "408 Request Timeout");
}

#[test]
fn reset_restarts_delivery_at_a_sequence() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 5);
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    let inbox = w.pull("S", "C", r#"{"batch":3,"expires":5000000000}"#);
    let got: Vec<Frame> = (0..3).map(|_| w.next_on(&inbox)).collect();
    w.publish(got[0].reply.as_deref().unwrap(), None, b"+ACK");
    // Empty body: back to just past the ack floor.
    let r = w.api("$JS.API.CONSUMER.RESET.S.C", "");
    assert_eq!(
        r["type"],
        "io.nats.jetstream.api.v1.consumer_reset_response"
    );
    assert_eq!(r["reset_seq"], 2, "{r}");
    assert_eq!(r["num_ack_pending"], 0, "{r}");
    assert_eq!(
        r["delivered"],
        json!({"consumer_seq": 0, "stream_seq": 1}),
        "{r}"
    );
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":5000000000}"#);
    let f = w.next_on(&inbox);
    assert_eq!(f.text(), "m1");
    // [delivered, stream seq, consumer seq, ..]: the consumer sequence starts over.
    assert_eq!(&f.ack_tokens()[..3], [1, 2, 1]);
    let r = w.api("$JS.API.CONSUMER.RESET.S.C", r#"{"seq":4}"#);
    assert_eq!(r["reset_seq"], 4, "{r}");
    assert_eq!(r["num_pending"], 2, "{r}");
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":5000000000}"#);
    assert_eq!(w.next_on(&inbox).text(), "m3");

    // Not below the configured start; not at all for other start policies.
    let by_seq =
        json!({"durable_name": "B", "deliver_policy": "by_start_sequence", "opt_start_seq": 3});
    w.create_consumer("S", "B", by_seq);
    let r = w.api("$JS.API.CONSUMER.RESET.S.B", r#"{"seq":1}"#);
    assert_eq!(
        r["error"]["description"], "invalid reset: below start seq",
        "{r}"
    );
    assert_eq!((err_code(&r), r["reset_seq"].as_u64()), (10204, Some(0)));
    w.create_consumer(
        "S",
        "L",
        json!({"durable_name": "L", "deliver_policy": "new"}),
    );
    let r = w.api("$JS.API.CONSUMER.RESET.S.L", r#"{"seq":2}"#);
    assert_eq!(
        r["error"]["description"], "invalid reset: not allowed",
        "{r}"
    );
}

#[test]
fn reset_survives_a_restart() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 5);
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    let r = w.api("$JS.API.CONSUMER.RESET.S.C", r#"{"seq":4}"#);
    assert_eq!(r["reset_seq"], 4, "{r}");
    // nats-server writes consumer state asynchronously: give it a moment before the kill.
    std::thread::sleep(Duration::from_millis(500));
    drop(w);
    let nile = Nile::start_in(nile.kill(), &["-js"]);
    let mut w = Wire::connect(&nile);
    let info = w.info("S", "C");
    assert_eq!(info["delivered"]["stream_seq"], 3, "{info}");
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":5000000000}"#);
    assert_eq!(w.next_on(&inbox).text(), "m3");
}

/// async-nats drives the same features through its own API.
#[tokio::test]
async fn async_nats_overflow_and_reset() {
    use async_nats::jetstream::consumer::{pull, AckPolicy, PriorityPolicy};
    use futures::StreamExt;

    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "E".into(),
            subjects: vec!["e.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    let mut consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("c".into()),
            ack_policy: AckPolicy::Explicit,
            priority_policy: PriorityPolicy::Overflow,
            priority_groups: vec!["A".into()],
            ..Default::default()
        })
        .await
        .expect("consumer");
    for i in 0..3 {
        js.publish("e.1", format!("{i}").into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let mut messages = consumer
        .stream()
        .group("A")
        .min_pending(2)
        .messages()
        .await
        .expect("messages");
    let m = messages.next().await.expect("one").expect("message");
    assert_eq!(m.payload.as_ref(), b"0");
    drop(messages);
    let r = consumer.reset(Some(2)).await.expect("reset");
    assert_eq!(r.reset_seq, 2);
    let r = consumer.reset(None).await.expect("reset to the ack floor");
    assert_eq!(r.reset_seq, 2);
}

#[test]
fn a_pin_taken_by_a_request_too_small_for_the_message_goes_again() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 1);
    let cfg = json!({"ack_policy": "explicit", "priority_policy": "pinned_client", "priority_groups": ["A"]});
    create(&mut w, "P", cfg);
    let small = json!({"batch": 1, "max_bytes": 10, "expires": 5_000_000_000u64, "group": "A"});
    let inbox = w.pull("S", "P", &small.to_string());
    assert_eq!(
        status(&w.next_on(&inbox)),
        "409 Message Size Exceeds MaxBytes"
    );
    // Not left pinned to a request that is gone: the next one takes the message.
    let inbox = pinned_pull(&mut w, None, 5000);
    let f = w.next_on(&inbox);
    assert_eq!(f.text(), "m0");
    assert!(header(&f, "Nats-Pin-Id").is_some());
}

/// async-nats's pinned streams: of two clients of one group, one takes the
/// pin and every message, each naming the same pin id.
#[tokio::test]
async fn async_nats_pinned_client_takes_every_message() {
    use async_nats::jetstream::consumer::{pull, AckPolicy, PriorityPolicy};
    use futures::StreamExt;

    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "E".into(),
            subjects: vec!["e.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("c".into()),
            ack_policy: AckPolicy::Explicit,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            ..Default::default()
        })
        .await
        .expect("consumer");
    let messages = |c: &async_nats::jetstream::consumer::PullConsumer| {
        let c = c.clone();
        async move { c.stream().group("A").messages().await.expect("messages") }
    };
    let mut one = messages(&consumer).await;
    let mut two = messages(&consumer).await;
    for i in 0..5 {
        js.publish("e.1", format!("{i}").into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let first = tokio::select! {
        m = one.next() => (1, m),
        m = two.next() => (2, m),
    };
    let (winner, m) = (first.0, first.1.expect("a message").expect("ok"));
    let pin_of = |m: &async_nats::jetstream::Message| {
        m.headers
            .as_ref()
            .and_then(|h| h.get("Nats-Pin-Id"))
            .map(|v| v.to_string())
    };
    let pin = pin_of(&m).expect("Nats-Pin-Id");
    m.ack().await.expect("ack");
    let (pinned, other) = if winner == 1 {
        (&mut one, &mut two)
    } else {
        (&mut two, &mut one)
    };
    for i in 1..5 {
        let m = pinned.next().await.expect("message").expect("ok");
        assert_eq!(m.payload.as_ref(), format!("{i}").as_bytes());
        assert_eq!(pin_of(&m).as_deref(), Some(pin.as_str()));
        m.ack().await.expect("ack");
    }
    let nothing = tokio::time::timeout(Duration::from_millis(500), other.next()).await;
    assert!(nothing.is_err(), "the unpinned client got a message");
}

/// Waiting requests take turns, one message each, as in nats-server; under
/// `prioritized` within one priority.
#[test]
fn waiting_requests_take_turns() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with(&mut w, 0);
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    let cfg = json!({"ack_policy": "explicit", "priority_policy": "prioritized", "priority_groups": ["A"]});
    create(&mut w, "R", cfg);
    let plain = r#"{"batch":3,"expires":5000000000}"#;
    let first = w.pull("S", "C", plain);
    let second = w.pull("S", "C", plain);
    let same = json!({"batch": 3, "expires": 5_000_000_000u64, "group": "A", "priority": 2});
    let third = w.pull("S", "R", &same.to_string());
    let fourth = w.pull("S", "R", &same.to_string());
    assert_eq!(w.info("S", "R")["num_waiting"], 2);
    for i in 0..4 {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    for (a, b) in [(&first, &second), (&third, &fourth)] {
        let got_a: Vec<String> = (0..2).map(|_| w.next_on(a).text()).collect();
        let got_b: Vec<String> = (0..2).map(|_| w.next_on(b).text()).collect();
        assert_eq!(
            (got_a, got_b),
            (
                vec!["m0".into(), "m2".into()],
                vec!["m1".into(), "m3".into()]
            )
        );
    }
}
