//! JetStream API details the official client suites check (nats.js,
//! async-nats, nats.py): defaults, limits and statuses as nats-server 2.15.1
//! gives them. Passes against nats-server too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use js_consumer_util::Wire;
use nile_tests::Nile;
use serde_json::json;

fn setup() -> (Nile, Wire) {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("S", &["s.>"]);
    (nile, w)
}

/// A create request without `ack_policy` makes an ack-none consumer (the
/// JSON zero value); nothing listens on its ack subjects, so a double ack
/// gets no responders (nats.js "no ack consumer is ackAck 503").
#[test]
fn omitted_ack_policy_is_none_and_acks_get_no_responders() {
    let (_nile, mut w) = setup();
    w.js_publish("s.a", b"x");
    let body = json!({"stream_name": "S", "config": {"durable_name": "a"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.a", &body.to_string());
    assert_eq!(r["config"]["ack_policy"], "none", "{r}");
    assert!(r["config"].get("max_ack_pending").is_none(), "{r}");
    let inbox = w.pull("S", "a", r#"{"batch":1}"#);
    let m = w.next_on(&inbox);
    let ack = m.reply.expect("delivery has an ack subject");
    let reply = w.delivery_inbox();
    w.publish(&ack, Some(&reply), b"+ACK");
    let f = w.next_on(&reply);
    assert!(f.headers.starts_with("NATS/1.0 503"), "{f:?}");
}

fn create(w: &mut Wire, stream: &str, name: &str, request: serde_json::Value) -> serde_json::Value {
    let mut body = request;
    body["stream_name"] = stream.into();
    w.api(
        &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
        &body.to_string(),
    )
}

fn stream_body(limits: serde_json::Value) -> String {
    json!({"name": "L", "subjects": ["l"], "consumer_limits": limits}).to_string()
}

/// Stream `consumer_limits` (async-nats `jetstream::limits`): consumers
/// without values take them, larger values are refused, and an update may
/// not put an existing consumer over the new limits.
#[test]
fn stream_consumer_limits_fill_refuse_and_guard_updates() {
    let (_nile, mut w) = setup();
    let limits = json!({"inactive_threshold": 10_000_000_000u64, "max_ack_pending": 500});
    let r = w.api("$JS.API.STREAM.CREATE.L", &stream_body(limits.clone()));
    assert_eq!(r["config"]["consumer_limits"], limits, "{r}");

    let explicit = json!({"config": {"durable_name": "d", "ack_policy": "explicit"}});
    let r = create(&mut w, "L", "d", explicit);
    assert_eq!(r["config"]["max_ack_pending"], 500, "{r}");
    assert_eq!(r["config"]["inactive_threshold"], 10_000_000_000u64, "{r}");
    let none = json!({"config": {"name": "n", "ack_policy": "none"}});
    let r = create(&mut w, "L", "n", none);
    assert_eq!(r["config"]["max_ack_pending"], 500, "{r}");

    let big = json!({"config": {"name": "b", "ack_policy": "explicit", "max_ack_pending": 1000}});
    let r = create(&mut w, "L", "b", big);
    let want = json!({"code": 400, "err_code": 10121, "description": "consumer max ack pending exceeds system limit of 500"});
    assert_eq!(r["error"], want, "{r}");
    let long = json!({"config": {"name": "b", "ack_policy": "explicit", "inactive_threshold": 20_000_000_000u64}});
    let r = create(&mut w, "L", "b", long);
    let want = json!({"code": 400, "err_code": 10153, "description": "consumer inactive threshold exceeds system limit of 10s"});
    assert_eq!(r["error"], want, "{r}");

    let lower = json!({"inactive_threshold": 10_000_000_000u64, "max_ack_pending": 50});
    let r = w.api("$JS.API.STREAM.UPDATE.L", &stream_body(lower));
    assert_eq!(r["error"]["code"], 500, "{r}");
    assert_eq!(r["error"]["err_code"], 10069, "{r}");
    // nats-server lists the consumers in map order.
    let text = r["error"]["description"].as_str().unwrap_or_default();
    let names = text.strip_prefix("change to limits violates consumers: ");
    let mut names: Vec<&str> = names.expect(text).split(", ").collect();
    names.sort();
    assert_eq!(names, ["d", "n"], "{r}");
    let same = json!({"inactive_threshold": 10_000_000_000u64, "max_ack_pending": 500});
    let r = w.api("$JS.API.STREAM.UPDATE.L", &stream_body(same));
    assert!(r.get("error").is_none(), "{r}");
}

/// A durable made before any limits has no inactive threshold: a later
/// threshold limit leaves it alone, a max ack pending limit below its
/// default does not.
#[test]
fn limits_added_later_check_only_what_is_set() {
    let (_nile, mut w) = setup();
    let r = w.api("$JS.API.STREAM.CREATE.L", &stream_body(json!({})));
    assert!(r.get("error").is_none(), "{r}");
    let r = create(
        &mut w,
        "L",
        "d",
        json!({"config": {"durable_name": "d", "ack_policy": "explicit"}}),
    );
    assert_eq!(r["config"]["max_ack_pending"], 1000, "{r}");
    let r = w.api(
        "$JS.API.STREAM.UPDATE.L",
        &stream_body(json!({"inactive_threshold": 2_000_000_000u64})),
    );
    assert!(r.get("error").is_none(), "{r}");
    let r = w.api(
        "$JS.API.STREAM.UPDATE.L",
        &stream_body(json!({"inactive_threshold": 2_000_000_000u64, "max_ack_pending": 10})),
    );
    let want = json!({"code": 500, "err_code": 10069, "description": "change to limits violates consumers: d"});
    assert_eq!(r["error"], want, "{r}");
}

/// 2.11's `pedantic` (nats.js "jsm - consumer pedantic"): a consumer that
/// leaves out a value the stream limits would fill is refused; the field is
/// accepted on stream requests too.
#[test]
fn pedantic_consumer_must_set_limited_values() {
    let (_nile, mut w) = setup();
    let body = json!({"name": "L", "subjects": ["l"], "consumer_limits": {"max_ack_pending": 10}, "pedantic": true});
    let r = w.api("$JS.API.STREAM.CREATE.L", &body.to_string());
    assert!(r.get("error").is_none(), "{r}");
    let plain = json!({"config": {"name": "a", "ack_policy": "explicit"}});
    let r = create(&mut w, "L", "a", plain);
    assert_eq!(r["config"]["max_ack_pending"], 10, "{r}");
    let pedantic = json!({"config": {"name": "b", "ack_policy": "explicit", "max_ack_pending": 0}, "pedantic": true});
    let r = create(&mut w, "L", "b", pedantic);
    let want = json!({"code": 400, "err_code": 10157, "description": "pedantic mode: max_ack_pending must be set if it's configured in stream limits"});
    assert_eq!(r["error"], want, "{r}");
    let set = json!({"config": {"name": "c", "ack_policy": "explicit", "max_ack_pending": 5}, "pedantic": true});
    let r = create(&mut w, "L", "c", set);
    assert_eq!(r["config"]["max_ack_pending"], 5, "{r}");
}

/// A pull with a heartbeat but no expiry is refused (async-nats
/// `pull_stream_error`), and one asking to wait longer than the consumer's
/// `max_expires` gets 409 (nats.js "409 - max expires").
#[test]
fn pull_heartbeat_without_expires_and_max_expires_are_refused() {
    let (_nile, mut w) = setup();
    w.create_consumer(
        "S",
        "p",
        json!({"durable_name": "p", "max_expires": 1_000_000_000u64}),
    );
    let cases = [
        (
            r#"{"batch":25,"idle_heartbeat":100000000}"#,
            "NATS/1.0 400 Bad Request - heartbeat value too large\r\n",
        ),
        (
            r#"{"batch":1,"expires":30000000000,"idle_heartbeat":20000000000}"#,
            "NATS/1.0 400 Bad Request - heartbeat value too large\r\n",
        ),
        (
            r#"{"batch":1,"expires":30000000000}"#,
            "NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n",
        ),
    ];
    for (request, status) in cases {
        let inbox = w.pull("S", "p", request);
        let f = w.next_on(&inbox);
        assert_eq!(f.headers, format!("{status}\r\n"), "{request}");
    }
    // Within the limit the request waits and times out as asked.
    let inbox = w.pull("S", "p", r#"{"batch":1,"expires":500000000}"#);
    let f = w.next_on(&inbox);
    assert!(
        f.headers.starts_with("NATS/1.0 408 Request Timeout\r\n"),
        "{f:?}"
    );
}

/// `Nats-Expected-Last-Subject-Sequence-Subject` (2.11; nats.js "last
/// subject sequence subject"): the expected sequence is checked against the
/// last message on that wildcard subject, not the published one.
#[test]
fn last_subject_sequence_checked_on_the_given_subject() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    let body = json!({"name": "A", "subjects": ["a.>"], "max_msgs_per_subject": 1});
    let r = w.api("$JS.API.STREAM.CREATE.A", &body.to_string());
    assert!(r.get("error").is_none(), "{r}");
    for s in [
        "a.1.foo", "a.1.bar", "a.2.foo", "a.3.bar", "a.1.baz", "a.1.bar", "a.2.baz",
    ] {
        w.js_publish(s, b"x");
    }
    // a.1.* was last stored at 6 (a.1.bar); a.2.* at 7.
    let publish = |w: &mut Wire, subject: &str, filter: &str, seq: u64| {
        let inbox = w.inbox();
        let seq = seq.to_string();
        let headers = [
            ("Nats-Expected-Last-Subject-Sequence", seq.as_str()),
            ("Nats-Expected-Last-Subject-Sequence-Subject", filter),
        ];
        w.hpublish(subject, &inbox, &headers, b"data");
        w.next_on(&inbox).json()
    };
    let wrong = |seq: u64| json!({"code": 400, "err_code": 10071, "description": format!("wrong last sequence: {seq}")});
    for (subject, seq) in [("a.1.foo", 0), ("a.1.xxx", 1), ("a.1.bar", 5)] {
        let r = publish(&mut w, subject, "a.1.*", seq);
        assert_eq!(r["error"], wrong(6), "{subject} {seq}: {r}");
    }
    let r = publish(&mut w, "a.2.xxx", "a.2.*", 1);
    assert_eq!(r["error"], wrong(7), "{r}");
    let r = publish(&mut w, "a.1.bar", "a.1.*", 6);
    assert_eq!(r["seq"], 8, "{r}");
    let r = publish(&mut w, "a.1.xxx", "a.1.*", 8);
    assert_eq!(r["seq"], 9, "{r}");
}

/// A pull's `max_bytes` counts each message with its ack subject, and a
/// request whose next message does not fit ends with 409 and what it still
/// wanted (nats.js "consumers - threshold_messages bytes").
#[test]
fn pull_max_bytes_counts_the_ack_subject_and_ends_with_409() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("T", &["t.a"]);
    for _ in 0..3 {
        w.js_publish("t.a", b"");
    }
    w.create_consumer(
        "T",
        "a",
        json!({"ack_policy": "none", "inactive_threshold": 60_000_000_000u64}),
    );
    let pull = |w: &mut Wire, max_bytes: u64| {
        let body = json!({"batch": 100, "max_bytes": max_bytes, "expires": 1_000_000_000u64});
        w.pull("T", "a", &body.to_string())
    };
    let exceeded = |messages: u64, bytes: u64| {
        format!("NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: {messages}\r\nNats-Pending-Bytes: {bytes}\r\n\r\n")
    };
    // Each delivery is "t.a" plus a 39-byte ack subject: 42 bytes.
    let inbox = pull(&mut w, 10);
    assert_eq!(w.next_on(&inbox).headers, exceeded(100, 10));
    let inbox = pull(&mut w, 43);
    let m = w.next_on(&inbox);
    assert_eq!(
        (m.subject.as_str(), m.reply.as_ref().map(|r| r.len())),
        ("t.a", Some(39))
    );
    assert_eq!(w.next_on(&inbox).headers, exceeded(99, 1));
    let inbox = pull(&mut w, 86);
    for _ in 0..2 {
        assert!(w.next_on(&inbox).headers.is_empty());
    }
    let f = w.next_on(&inbox);
    let timeout = "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 98\r\nNats-Pending-Bytes: 2\r\n\r\n";
    assert_eq!(f.headers, timeout);
}
