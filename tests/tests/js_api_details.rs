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
