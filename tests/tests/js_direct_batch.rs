//! Batched and multi-subject DIRECT.GET (ADR-31 rev 2, nats-server 2.11):
//! `batch`, `max_bytes`, `start_time`, `multi_last`, `up_to_seq`,
//! `up_to_time`, `no_hdr`; per-message `Nats-Num-Pending` /
//! `Nats-Last-Sequence`, the `204 EOB` status and the error statuses, read
//! off a raw socket so the header blocks are compared as sent.

mod js_stream_util;

use js_stream_util::*;
use nile_tests::{Nile, Raw};
use serde_json::json;

/// One message read off the socket: header block (empty for MSG) and payload.
#[derive(Debug)]
struct Frame {
    headers: String,
    payload: String,
}

impl Frame {
    /// The header block with the (varying) timestamp replaced by `TS`.
    fn shape(&self) -> String {
        self.headers
            .split("\r\n")
            .map(|l| {
                if l.starts_with("Nats-Time-Stamp: ") {
                    "Nats-Time-Stamp: TS"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    fn is_status(&self) -> bool {
        self.headers.starts_with("NATS/1.0 ")
    }
}

fn read_frame(raw: &mut Raw) -> Frame {
    let line = raw.line();
    let parts: Vec<&str> = line.trim_end().split(' ').collect();
    match parts[0] {
        "HMSG" => {
            let hlen: usize = parts[parts.len() - 2].parse().unwrap();
            let tlen: usize = parts[parts.len() - 1].parse().unwrap();
            let bytes = raw.bytes(tlen + 2);
            Frame {
                headers: String::from_utf8_lossy(&bytes[..hlen]).into_owned(),
                payload: String::from_utf8_lossy(&bytes[hlen..tlen]).into_owned(),
            }
        }
        "MSG" => {
            let n: usize = parts[parts.len() - 1].parse().unwrap();
            let bytes = raw.bytes(n + 2);
            Frame {
                headers: String::new(),
                payload: String::from_utf8_lossy(&bytes[..n]).into_owned(),
            }
        }
        "PING" => {
            raw.send(b"PONG\r\n");
            read_frame(raw)
        }
        other => panic!("unexpected line {line:?} ({other})"),
    }
}

struct Client {
    raw: Raw,
    n: u32,
}

impl Client {
    fn new(nile: &Nile) -> Client {
        let mut raw =
            nile.raw_connected(r#"{"verbose":false,"headers":true,"no_responders":true}"#);
        let got = raw.roundtrip(b"SUB _R.> 1\r\n");
        assert_eq!(got, "");
        Client { raw, n: 0 }
    }

    fn send(&mut self, subject: &str, body: &str) -> String {
        self.n += 1;
        let reply = format!("_R.{}", self.n);
        let frame = format!("PUB {subject} {reply} {}\r\n{body}\r\n", body.len());
        self.raw.send(frame.as_bytes());
        reply
    }

    /// A request answered by frames up to and including the first status.
    fn until_status(&mut self, subject: &str, body: &str) -> Vec<Frame> {
        self.send(subject, body);
        let mut out = Vec::new();
        loop {
            let f = read_frame(&mut self.raw);
            let done = f.is_status();
            out.push(f);
            if done {
                return out;
            }
        }
    }

    /// A request answered by exactly one frame.
    fn one(&mut self, subject: &str, body: &str) -> Frame {
        self.send(subject, body);
        read_frame(&mut self.raw)
    }
}

fn msg_headers(seq: u64, subj: &str, pending: Option<(u64, u64)>) -> String {
    let mut h = format!(
        "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: {subj}\r\nNats-Sequence: {seq}\r\nNats-Time-Stamp: TS\r\n"
    );
    if let Some((np, last)) = pending {
        h.push_str(&format!(
            "Nats-Num-Pending: {np}\r\nNats-Last-Sequence: {last}\r\n"
        ));
    }
    h.push_str("\r\n");
    h
}

fn eob(np: u64, last: u64, up_to: Option<u64>) -> String {
    let mut h =
        format!("NATS/1.0 204 EOB\r\nNats-Num-Pending: {np}\r\nNats-Last-Sequence: {last}\r\n");
    if let Some(u) = up_to {
        h.push_str(&format!("Nats-UpTo-Sequence: {u}\r\n"));
    }
    h.push_str("\r\n");
    h
}

fn status(text: &str) -> String {
    format!("NATS/1.0 {text}\r\n\r\n")
}

/// S on a.>: m0..m4 on a.0, a.1, a.0, a.1, a.0 (seq 1..5).
async fn stream_of_five(nile: &Nile) {
    let c = connect(nile).await;
    create(
        &c,
        "S",
        json!({"name":"S","subjects":["a.>"],"allow_direct":true}),
    )
    .await;
    for i in 0..5 {
        assert_eq!(
            publish(&c, &format!("a.{}", i % 2), &[], &format!("m{i}")).await,
            ack("S", i + 1)
        );
    }
}

fn shapes(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(Frame::shape).collect()
}

#[tokio::test]
async fn batch_counts_down_and_ends_with_eob() {
    let nile = start();
    stream_of_five(&nile).await;
    let mut c = Client::new(&nile);
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"batch":3,"next_by_subj":"a.>"}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![
            msg_headers(1, "a.0", Some((4, 0))),
            msg_headers(2, "a.1", Some((3, 1))),
            msg_headers(3, "a.0", Some((2, 2))),
            eob(2, 3, None),
        ]
    );
    let payloads: Vec<_> = got.iter().map(|f| f.payload.as_str()).collect();
    assert_eq!(payloads, ["m0", "m1", "m2", ""]);

    // From a sequence, on one subject, running out before the batch is full.
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"batch":10,"seq":3,"next_by_subj":"a.1"}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![msg_headers(4, "a.1", Some((0, 0))), eob(0, 4, None)]
    );

    // No subject: every message from `seq`.
    let got = c.until_status("$JS.API.DIRECT.GET.S", r#"{"batch":2,"seq":4}"#);
    assert_eq!(
        shapes(&got),
        vec![
            msg_headers(4, "a.1", Some((1, 0))),
            msg_headers(5, "a.0", Some((0, 4))),
            eob(0, 5, None),
        ]
    );
    // A negative batch sends only the EOB, with everything still pending.
    let got = c.until_status("$JS.API.DIRECT.GET.S", r#"{"batch":-1,"seq":1}"#);
    assert_eq!(shapes(&got), vec![eob(5, 0, None)]);
}

#[tokio::test]
async fn max_bytes_stops_after_the_message_that_reaches_it() {
    let nile = start();
    stream_of_five(&nile).await;
    let mut c = Client::new(&nile);
    // Each message counts subject + stored headers + payload: 3 + 0 + 2.
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"batch":5,"max_bytes":10,"next_by_subj":"a.>"}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![
            msg_headers(1, "a.0", Some((4, 0))),
            msg_headers(2, "a.1", Some((3, 1))),
            eob(3, 2, None),
        ]
    );
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"batch":5,"max_bytes":1,"next_by_subj":"a.>"}"#,
    );
    assert_eq!(got.len(), 2, "one message and the EOB: {got:?}");
}

#[tokio::test]
async fn start_time_and_no_hdr() {
    let nile = start();
    stream_of_five(&nile).await;
    let mut c = Client::new(&nile);
    // Not a batch: one message, no pending headers, no EOB.
    let f = c.one(
        "$JS.API.DIRECT.GET.S",
        r#"{"start_time":"2000-01-01T00:00:00Z"}"#,
    );
    assert_eq!(
        (f.shape(), f.payload.as_str()),
        (msg_headers(1, "a.0", None), "m0")
    );
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"start_time":"2000-01-01T00:00:00Z","batch":1,"next_by_subj":"a.1"}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![msg_headers(2, "a.1", Some((1, 0))), eob(1, 2, None)]
    );
    let f = c.one(
        "$JS.API.DIRECT.GET.S",
        r#"{"start_time":"2100-01-01T00:00:00Z"}"#,
    );
    assert_eq!(f.headers, status("404 Message Not Found"));
    // no_hdr: bare MSG frames; nats-server then leaves the count as it was.
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"seq":1,"batch":2,"no_hdr":true}"#,
    );
    assert_eq!(
        got.iter()
            .map(|f| (f.headers.as_str(), f.payload.as_str()))
            .collect::<Vec<_>>(),
        vec![("", "m0"), ("", "m1"), (eob(5, 2, None).as_str(), "")]
    );
    let f = c.one("$JS.API.DIRECT.GET.S.a.1", r#"{"no_hdr":true}"#);
    assert_eq!((f.headers.as_str(), f.payload.as_str()), ("", "m3"));
}

#[tokio::test]
async fn multi_last_is_a_point_in_time_read() {
    let nile = start();
    stream_of_five(&nile).await;
    let mut c = Client::new(&nile);
    let got = c.until_status("$JS.API.DIRECT.GET.S", r#"{"multi_last":["a.>"]}"#);
    assert_eq!(
        shapes(&got),
        vec![
            msg_headers(4, "a.1", Some((1, 0))),
            msg_headers(5, "a.0", Some((0, 4))),
            eob(0, 5, Some(5)),
        ]
    );
    // As the stream stood at sequence 3.
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"multi_last":["a.0","a.1"],"up_to_seq":3}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![
            msg_headers(2, "a.1", Some((1, 0))),
            msg_headers(3, "a.0", Some((0, 2))),
            eob(0, 3, Some(3)),
        ]
    );
    // A page of one, then the next page from Last-Sequence + 1.
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"multi_last":["a.>"],"batch":1}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![msg_headers(4, "a.1", Some((1, 0))), eob(1, 4, Some(5))]
    );
    let got = c.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"multi_last":["a.>"],"batch":1,"seq":5,"up_to_seq":5}"#,
    );
    assert_eq!(
        shapes(&got),
        vec![msg_headers(5, "a.0", Some((0, 0))), eob(0, 5, Some(5))]
    );
    // Every result below `seq`: only the EOB.
    let got = c.until_status("$JS.API.DIRECT.GET.S", r#"{"multi_last":["a.>"],"seq":6}"#);
    assert_eq!(shapes(&got), vec![eob(0, 0, Some(5))]);
    let f = c.one(
        "$JS.API.DIRECT.GET.S",
        r#"{"multi_last":["a.>"],"up_to_time":"2000-01-01T00:00:00Z"}"#,
    );
    assert_eq!(f.headers, status("404 No Results"));
    let f = c.one("$JS.API.DIRECT.GET.S", r#"{"multi_last":["zz"]}"#);
    assert_eq!(f.headers, status("404 No Results"));
}

#[tokio::test]
async fn multi_last_refuses_more_than_1024_subjects() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "S",
        json!({"name":"S","subjects":["k.>"],"allow_direct":true}),
    )
    .await;
    for i in 0..1025 {
        c.publish(format!("k.{i}"), "v".into()).await.unwrap();
    }
    c.flush().await.unwrap();
    // The publishes above are not acknowledged; wait until all are stored.
    for _ in 0..500 {
        if info(&c, "S").await["state"]["messages"] == 1025 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut raw = Client::new(&nile);
    let f = raw.one("$JS.API.DIRECT.GET.S", r#"{"multi_last":["k.>"]}"#);
    assert_eq!(f.headers, status("413 Too Many Results"));
    let got = raw.until_status(
        "$JS.API.DIRECT.GET.S",
        r#"{"multi_last":["k.>"],"up_to_seq":2}"#,
    );
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn bad_combinations_and_no_messages() {
    let nile = start();
    stream_of_five(&nile).await;
    let mut c = Client::new(&nile);
    for (body, want) in [
        (r#"{"batch":2}"#, "408 Empty Request"),
        (r#"{"multi_last":[]}"#, "408 Empty Request"),
        (r#"{"seq":"1"}"#, "408 Malformed Request"),
        (r#"{"start_time":"yesterday"}"#, "408 Malformed Request"),
        (
            r#"{"seq":1,"start_time":"2000-01-01T00:00:00Z"}"#,
            "408 Bad Request",
        ),
        (r#"{"batch":2,"last_by_subj":"a.0"}"#, "408 Bad Request"),
        (
            r#"{"multi_last":["a.>"],"next_by_subj":"a.0"}"#,
            "408 Bad Request",
        ),
        (
            r#"{"multi_last":["a.>"],"last_by_subj":"a.0"}"#,
            "408 Bad Request",
        ),
        (
            r#"{"multi_last":["a.>"],"up_to_seq":3,"up_to_time":"2000-01-01T00:00:00Z"}"#,
            "408 Bad Request",
        ),
        // Nothing to send: a plain 404, no EOB.
        (
            r#"{"batch":10,"next_by_subj":"zz"}"#,
            "404 Message Not Found",
        ),
        (r#"{"seq":100,"batch":3}"#, "404 Message Not Found"),
    ] {
        let f = c.one("$JS.API.DIRECT.GET.S", body);
        assert_eq!(f.headers, status(want), "{body}");
    }
    // The subject-appended form takes a body without selectors only.
    let f = c.one("$JS.API.DIRECT.GET.S.a.1", r#"{"seq":1}"#);
    assert_eq!(f.headers, status("408 Bad Request"));
    let f = c.one("$JS.API.DIRECT.GET.S.a.1", "{}");
    assert_eq!(f.shape(), msg_headers(4, "a.1", None));
    // batch 0 is a plain get.
    let f = c.one("$JS.API.DIRECT.GET.S", r#"{"seq":2,"batch":0}"#);
    assert_eq!(f.shape(), msg_headers(2, "a.1", None));
}

#[tokio::test]
async fn stored_headers_come_first() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "S",
        json!({"name":"S","subjects":["a.>"],"allow_direct":true}),
    )
    .await;
    assert_eq!(publish(&c, "a.x", &[("H", "v")], "hi").await, ack("S", 1));
    let mut raw = Client::new(&nile);
    let got = raw.until_status("$JS.API.DIRECT.GET.S", r#"{"batch":1,"seq":1}"#);
    assert_eq!(
        got[0].shape(),
        "NATS/1.0\r\nH: v\r\nNats-Stream: S\r\nNats-Subject: a.x\r\nNats-Sequence: 1\r\nNats-Time-Stamp: TS\r\nNats-Num-Pending: 0\r\nNats-Last-Sequence: 0\r\n\r\n"
    );
    assert_eq!(got[1].headers, eob(0, 1, None));
}
