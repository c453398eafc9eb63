//! How a consumer's deliveries reach their subscribers: the frames written
//! for the one client on the push subject or pull inbox (byte for byte, as
//! the router writes them), a client without header support, a
//! subscription's UNSUB max, and an inbox with more than one subscriber.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::Duration;

use js_consumer_util::Wire;
use nile_tests::{Nile, Raw};
use serde_json::json;

/// Stream S on `s.>` with `m0..m{n-1}` on `s.a`, each with header `X: 1`.
fn stream_with_headers(w: &mut Wire, n: usize) {
    w.create_stream("S", &["s.>"]);
    for i in 0..n {
        let inbox = w.inbox();
        w.hpublish("s.a", &inbox, &[("X", "1")], format!("m{i}").as_bytes());
        let ack = w.next_on(&inbox).json();
        assert!(ack.get("error").is_none(), "publish failed: {ack}");
    }
}

/// A raw client subscribed to `subject` as sid 1 (and nothing sent since).
fn raw_subscriber(nile: &Nile, headers: bool, subject: &str, max: Option<u64>) -> Raw {
    let connect = json!({"verbose": false, "pedantic": false, "headers": headers});
    let mut raw = nile.raw_connected(&connect.to_string());
    let unsub = max.map(|m| format!("UNSUB 1 {m}\r\n")).unwrap_or_default();
    let got = raw.roundtrip(format!("SUB {subject} 1\r\n{unsub}").as_bytes());
    assert_eq!(got, "");
    raw
}

/// One frame's control line and the bytes after it (payload and CRLF).
fn frame(raw: &mut Raw) -> (String, Vec<u8>) {
    let line = raw.line();
    let total: usize = line
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a MSG line: {line:?}"));
    (line, raw.bytes(total + 2))
}

/// `MSG <subject> <sid> $JS.ACK.S.C.1.<seq>.<seq>.<ts>.<pending> ...`: the
/// ack reply's tokens as numbers, checking the fixed ones.
fn ack_numbers(line: &str, seq: u64) -> Vec<u64> {
    let reply = line.split(' ').nth(3).expect("reply subject");
    let t: Vec<&str> = reply.split('.').collect();
    assert_eq!(t.len(), 9, "ack reply {reply}");
    assert_eq!(&t[..4], ["$JS", "ACK", "S", "C"], "ack reply {reply}");
    let n: Vec<u64> = t[4..].iter().map(|n| n.parse().expect("number")).collect();
    assert_eq!(&n[..3], [1, seq, seq], "ack reply {reply}");
    n
}

#[test]
fn push_frames_carry_the_ack_reply_and_the_header_block() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with_headers(&mut w, 3);
    let mut sub = raw_subscriber(&nile, true, "d.h", None);
    w.create_consumer("S", "C", json!({"deliver_subject": "d.h"}));
    let block = "NATS/1.0\r\nX: 1\r\n\r\n";
    for i in 0..3u64 {
        let (line, body) = frame(&mut sub);
        let n = ack_numbers(&line, i + 1);
        let pending = 2 - i;
        assert_eq!(n[4], pending, "{line}");
        let reply = format!("$JS.ACK.S.C.1.{0}.{0}.{1}.{pending}", i + 1, n[3]);
        let payload = format!("{block}m{i}");
        let want = format!("HMSG s.a 1 {reply} {} {}\r\n", block.len(), payload.len());
        assert_eq!(line, want);
        assert_eq!(body, format!("{payload}\r\n").as_bytes());
    }
}

#[test]
fn a_client_without_headers_gets_the_bodies_as_msg() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with_headers(&mut w, 3);
    let mut sub = raw_subscriber(&nile, false, "d.plain", None);
    w.create_consumer(
        "S",
        "C",
        json!({"deliver_subject": "d.plain", "ack_policy": "none"}),
    );
    for i in 0..3u64 {
        let (line, body) = frame(&mut sub);
        let n = ack_numbers(&line, i + 1);
        let reply = format!("$JS.ACK.S.C.1.{0}.{0}.{1}.{2}", i + 1, n[3], n[4]);
        assert_eq!(line, format!("MSG s.a 1 {reply} 2\r\n"));
        assert_eq!(body, format!("m{i}\r\n").as_bytes());
    }
}

#[test]
fn deliveries_stop_at_the_subscription_unsub_max() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with_headers(&mut w, 5);
    let mut sub = raw_subscriber(&nile, true, "d.max", Some(2));
    w.create_consumer(
        "S",
        "C",
        json!({"deliver_subject": "d.max", "ack_policy": "none"}),
    );
    for i in 0..2u64 {
        let (line, _) = frame(&mut sub);
        ack_numbers(&line, i + 1);
    }
    // The other three were sent in the same turn: any that got through
    // would arrive before the PONG.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sub.roundtrip(b""), "");
}

#[test]
fn a_pull_inbox_with_two_subscribers_reaches_both() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_with_headers(&mut w, 2);
    w.create_consumer("S", "C", json!({"ack_policy": "none"}));
    let mut other = raw_subscriber(&nile, true, "_D.shared", None);
    w.sub("_D.shared");
    w.publish(
        "$JS.API.CONSUMER.MSG.NEXT.S.C",
        Some("_D.shared"),
        br#"{"batch":2}"#,
    );
    for i in 0..2u64 {
        let f = w.next_on("_D.shared");
        assert_eq!(f.text(), format!("m{i}"));
        assert_eq!(f.ack_tokens()[..3], [1, i + 1, i + 1]);
        let (line, body) = frame(&mut other);
        assert!(line.starts_with("HMSG s.a 1 $JS.ACK.S.C.1."), "{line}");
        assert!(body.ends_with(format!("m{i}\r\n").as_bytes()));
    }
}
