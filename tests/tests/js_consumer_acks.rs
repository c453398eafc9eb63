//! Every ack kind as bytes on the wire: +ACK, -NAK (with and without a
//! delay), +WPI, +NXT with a batch, +TERM with a reason and its advisory,
//! double acks confirmed; redelivery after ack_wait and along the backoff
//! schedule; max_deliver and the MAX_DELIVERIES advisory.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::Duration;

use js_consumer_util::{Frame, Wire};
use nile_tests::Nile;
use serde_json::json;

const SEC_NS: u64 = 1_000_000_000;

/// A server with stream S on `s.>` holding `n` messages `m0..` on `s.a`.
fn setup(n: usize) -> (Nile, Wire) {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("S", &["s.>"]);
    for i in 0..n {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    (nile, w)
}

fn assert_delivery(f: &Frame, dc: u64, sseq: u64, dseq: u64, pending: u64, body: &str) {
    assert_eq!(f.subject, "s.a");
    assert!(
        f.headers.is_empty(),
        "no headers were published: {:?}",
        f.headers
    );
    assert_eq!(f.text(), body);
    let t = f.ack_tokens();
    assert!(f
        .reply
        .as_deref()
        .is_some_and(|r| r.starts_with("$JS.ACK.S.C.")));
    assert_eq!((t[0], t[1], t[2], t[4]), (dc, sseq, dseq, pending), "{f:?}");
    assert!(t[3] > 0, "timestamp token");
}

#[test]
fn ack_with_reply_is_confirmed_with_an_empty_message() {
    let (_nile, mut w) = setup(2);
    w.create_consumer("S", "C", json!({}));
    let inbox = w.pull("S", "C", r#"{"batch":2}"#);
    let m0 = w.next_on(&inbox);
    let m1 = w.next_on(&inbox);
    assert_delivery(&m0, 1, 1, 1, 1, "m0");
    assert_delivery(&m1, 1, 2, 2, 0, "m1");
    // Double ack: the server answers the ack's reply once the ack is applied.
    let confirm = w.inbox();
    w.publish(m0.reply.as_deref().unwrap(), Some(&confirm), b"+ACK");
    let c = w.next_on(&confirm);
    assert!(c.payload.is_empty() && c.headers.is_empty(), "{c:?}");
    // A bare ack (empty body) counts as +ACK.
    let confirm = w.inbox();
    w.publish(m1.reply.as_deref().unwrap(), Some(&confirm), b"");
    w.next_on(&confirm);
    let info = w.info("S", "C");
    assert_eq!(info["num_ack_pending"], 0, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 2, "{info}");
    assert_eq!(info["ack_floor"]["consumer_seq"], 2, "{info}");
}

#[test]
fn nak_redelivers_now_and_nak_with_delay_waits() {
    let (_nile, mut w) = setup(1);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.*.S.C");
    w.create_consumer("S", "C", json!({}));
    let inbox = w.pull("S", "C", r#"{"batch":3,"expires":20000000000}"#);
    let first = w.next_on(&inbox);
    assert_delivery(&first, 1, 1, 1, 0, "m0");
    w.publish(first.reply.as_deref().unwrap(), None, b"-NAK");
    let adv = w
        .next_on("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.S.C")
        .json();
    assert_eq!(adv["type"], "io.nats.jetstream.advisory.v1.nak", "{adv}");
    assert_eq!(
        (&adv["stream"], &adv["consumer"]),
        (&json!("S"), &json!("C"))
    );
    assert_eq!(adv["consumer_seq"], 1, "{adv}");
    assert_eq!(adv["stream_seq"], 1, "{adv}");
    assert_eq!(adv["deliveries"], 1, "{adv}");
    let second = w.next_on(&inbox);
    // Redelivered: delivery count 2, a new consumer sequence.
    assert_delivery(&second, 2, 1, 2, 0, "m0");
    let delay_ns = 700_000_000u64;
    let nak = format!("-NAK {{\"delay\": {delay_ns}}}");
    w.publish(second.reply.as_deref().unwrap(), None, nak.as_bytes());
    let early: Vec<Frame> = w
        .drain_for(Duration::from_millis(300))
        .into_iter()
        .filter(|f| f.subject == "s.a")
        .collect();
    assert!(early.is_empty(), "redelivered before its delay: {early:?}");
    let third = w.next_on(&inbox);
    assert_delivery(&third, 3, 1, 3, 0, "m0");
    let waited = third.at.duration_since(second.at);
    assert!(
        waited >= Duration::from_nanos(delay_ns * 8 / 10),
        "NAK delay not honoured: {waited:?}"
    );
    let info = w.info("S", "C");
    assert_eq!(info["num_redelivered"], 1, "{info}");
    assert_eq!(info["num_ack_pending"], 1, "{info}");
    // Consumer sequence 1 was never acked: redeliveries do not move the floor.
    assert_eq!(info["ack_floor"]["consumer_seq"], 0, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 0, "{info}");
    assert_eq!(info["delivered"]["consumer_seq"], 3, "{info}");
    // +TERM without a reason: the advisory has no reason field.
    w.publish(third.reply.as_deref().unwrap(), None, b"+TERM");
    let adv = w
        .next_on("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C")
        .json();
    assert_eq!(adv["consumer_seq"], 3, "{adv}");
    assert_eq!(adv["deliveries"], 3, "{adv}");
    assert!(adv.get("reason").is_none(), "{adv}");
    let info = w.info("S", "C");
    assert_eq!(info["ack_floor"]["consumer_seq"], 3, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 1, "{info}");
    assert!(info["ack_floor"]["last_active"].is_string(), "{info}");
}

#[test]
fn progress_extends_the_ack_wait() {
    let (_nile, mut w) = setup(1);
    w.create_consumer("S", "C", json!({"ack_wait": 3 * SEC_NS}));
    let inbox = w.pull("S", "C", r#"{"batch":2,"expires":20000000000}"#);
    let first = w.next_on(&inbox);
    assert_delivery(&first, 1, 1, 1, 0, "m0");
    std::thread::sleep(Duration::from_millis(1000));
    w.publish(first.reply.as_deref().unwrap(), None, b"+WPI");
    // Without the +WPI the redelivery would come at 3 s; with it not before 4 s.
    let quiet: Vec<Frame> = w
        .drain_for(Duration::from_millis(2500))
        .into_iter()
        .filter(|f| f.subject == "s.a")
        .collect();
    assert!(quiet.is_empty(), "+WPI did not hold redelivery: {quiet:?}");
    let again = w.next_on(&inbox);
    assert_delivery(&again, 2, 1, 2, 0, "m0");
    assert!(again.at.duration_since(first.at) >= Duration::from_millis(3500));
}

#[test]
fn next_acks_and_asks_for_a_batch() {
    let (_nile, mut w) = setup(4);
    w.create_consumer("S", "C", json!({}));
    let inbox = w.pull("S", "C", r#"{"batch":1}"#);
    let m0 = w.next_on(&inbox);
    assert_delivery(&m0, 1, 1, 1, 3, "m0");
    // +NXT acks m0 and is a pull request answered to the ack's reply subject.
    let next_inbox = w.delivery_inbox();
    w.publish(
        m0.reply.as_deref().unwrap(),
        Some(&next_inbox),
        br#"+NXT {"batch":2}"#,
    );
    let m1 = w.next_on(&next_inbox);
    let m2 = w.next_on(&next_inbox);
    assert_delivery(&m1, 1, 2, 2, 2, "m1");
    assert_delivery(&m2, 1, 3, 3, 1, "m2");
    let rest = w.drain_for(Duration::from_millis(200));
    assert!(rest.is_empty(), "a batch of 2 got more: {rest:?}");
    let info = w.info("S", "C");
    assert_eq!(info["ack_floor"]["stream_seq"], 1, "{info}");
    assert_eq!(info["num_ack_pending"], 2, "{info}");
    assert_eq!(info["num_pending"], 1, "{info}");
}

#[test]
fn term_with_reason_stops_redelivery_and_advises() {
    let (_nile, mut w) = setup(2);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>");
    w.create_consumer("S", "C", json!({"ack_wait": SEC_NS}));
    let inbox = w.pull("S", "C", r#"{"batch":1}"#);
    let m0 = w.next_on(&inbox);
    w.publish(m0.reply.as_deref().unwrap(), None, b"+TERM bad payload");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C");
    let v = adv.json();
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.terminated", "{v}");
    assert_eq!(v["stream"], "S");
    assert_eq!(v["consumer"], "C");
    assert_eq!(v["consumer_seq"], 1);
    assert_eq!(v["stream_seq"], 1);
    assert_eq!(v["deliveries"], 1);
    assert_eq!(v["reason"], "bad payload");
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(v["timestamp"].as_str().is_some(), "{v}");
    // Terminated is done: past its ack wait the next pull gets m1, not m0 again.
    std::thread::sleep(Duration::from_millis(1300));
    let inbox = w.pull("S", "C", r#"{"batch":1}"#);
    let m1 = w.next_on(&inbox);
    assert_delivery(&m1, 1, 2, 2, 0, "m1");
    let info = w.info("S", "C");
    assert_eq!(info["num_ack_pending"], 1, "{info}");
    assert_eq!(info["num_redelivered"], 0, "{info}");
}

#[test]
fn ack_wait_expiry_follows_the_backoff_then_max_deliveries_advises() {
    let (_nile, mut w) = setup(1);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>");
    let steps_ms = [400u64, 1000];
    let backoff: Vec<u64> = steps_ms.iter().map(|ms| ms * 1_000_000).collect();
    let created = w.create_consumer("S", "C", json!({"backoff": backoff, "max_deliver": 3}));
    // The first backoff step is the ack wait.
    assert_eq!(created["config"]["ack_wait"], backoff[0], "{created}");
    let inbox = w.pull("S", "C", r#"{"batch":10,"expires":20000000000}"#);
    let d1 = w.next_on(&inbox);
    let d2 = w.next_on(&inbox);
    let d3 = w.next_on(&inbox);
    assert_delivery(&d1, 1, 1, 1, 0, "m0");
    assert_delivery(&d2, 2, 1, 2, 0, "m0");
    assert_delivery(&d3, 3, 1, 3, 0, "m0");
    let gap1 = d2.at.duration_since(d1.at);
    let gap2 = d3.at.duration_since(d2.at);
    assert!(
        gap1 >= Duration::from_millis(steps_ms[0] * 8 / 10),
        "first redelivery too early: {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(steps_ms[1] * 8 / 10),
        "second redelivery too early: {gap2:?}"
    );
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C");
    let v = adv.json();
    assert_eq!(
        v["type"], "io.nats.jetstream.advisory.v1.max_deliver",
        "{v}"
    );
    assert_eq!(v["stream"], "S");
    assert_eq!(v["consumer"], "C");
    assert_eq!(v["stream_seq"], 1);
    assert_eq!(v["deliveries"], 3);
    // No fourth delivery.
    let rest: Vec<Frame> = w
        .drain_for(Duration::from_millis(1500))
        .into_iter()
        .filter(|f| f.subject == "s.a")
        .collect();
    assert!(rest.is_empty(), "delivered past max_deliver: {rest:?}");
}
