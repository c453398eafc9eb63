//! Helpers shared by the `js_consumer_*` tests: one raw connection that
//! speaks the protocol by hand, so acks and deliveries are checked byte for
//! byte, with the JetStream API reached by request on the same socket.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nile_tests::{Nile, Raw};
use serde_json::Value;

/// One MSG or HMSG frame as it arrived.
#[derive(Debug, Clone)]
pub struct Frame {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    pub headers: String,
    pub payload: Vec<u8>,
    pub at: Instant,
}

impl Frame {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.subject, self.text()))
    }

    /// The ack subject's tokens after `$JS.ACK.<stream>.<consumer>`:
    /// [delivered, stream seq, consumer seq, timestamp, pending].
    pub fn ack_tokens(&self) -> Vec<u64> {
        let reply = self.reply.as_deref().expect("delivery has an ack reply");
        let t: Vec<&str> = reply.split('.').collect();
        assert_eq!(t.len(), 9, "ack subject {reply}");
        assert_eq!(&t[..2], ["$JS", "ACK"], "ack subject {reply}");
        t[4..].iter().map(|n| n.parse().expect("number")).collect()
    }
}

pub struct Wire {
    raw: Raw,
    backlog: VecDeque<Frame>,
    /// Subscriptions by subject: deliveries to an inbox show the stored
    /// message's subject, so they are told apart by sid.
    sids: std::collections::HashMap<String, u64>,
    next_sid: u64,
    next_inbox: u64,
}

/// Bound on a wait for a frame that must come.
pub const WAIT: Duration = Duration::from_secs(10);

impl Wire {
    pub fn connect(nile: &Nile) -> Wire {
        let mut raw = nile.raw();
        raw.stream.set_read_timeout(Some(WAIT)).expect("timeout");
        raw.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n");
        let mut w = Wire {
            raw,
            backlog: VecDeque::new(),
            sids: Default::default(),
            next_sid: 1,
            next_inbox: 1,
        };
        w.sub("_R.>");
        w
    }

    pub fn sub(&mut self, subject: &str) {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.sids.insert(subject.to_string(), sid);
        self.raw.send(format!("SUB {subject} {sid}\r\n").as_bytes());
        // A round trip, so the subscription is in place before anything else.
        self.raw.send(b"PING\r\n");
        self.read_until_pong();
    }

    fn read_until_pong(&mut self) {
        loop {
            if let Some(f) = self.read_frame() {
                self.backlog.push_back(f);
            } else {
                return;
            }
        }
    }

    /// Read one frame; None when the line was a PONG.
    fn read_frame(&mut self) -> Option<Frame> {
        loop {
            let line = self.raw.line();
            assert!(!line.is_empty(), "server closed the connection");
            let line = line.trim_end();
            if line == "PONG" {
                return None;
            }
            if line == "PING" {
                self.raw.send(b"PONG\r\n");
                continue;
            }
            if line.starts_with("+OK") || line.starts_with("INFO ") {
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            let (hdr_len, total, reply) = match parts[0] {
                "MSG" => {
                    let total: usize = parts[parts.len() - 1].parse().expect("size");
                    (0, total, (parts.len() == 5).then(|| parts[3].to_string()))
                }
                "HMSG" => {
                    let total: usize = parts[parts.len() - 1].parse().expect("size");
                    let hdr: usize = parts[parts.len() - 2].parse().expect("hdr size");
                    (hdr, total, (parts.len() == 6).then(|| parts[3].to_string()))
                }
                _ => panic!("unexpected line from server: {line:?}"),
            };
            let body = self.raw.bytes(total + 2);
            let headers = String::from_utf8_lossy(&body[..hdr_len]).into_owned();
            return Some(Frame {
                subject: parts[1].to_string(),
                sid: parts[2].parse().expect("sid"),
                reply,
                headers,
                payload: body[hdr_len..total].to_vec(),
                at: Instant::now(),
            });
        }
    }

    pub fn publish(&mut self, subject: &str, reply: Option<&str>, body: &[u8]) {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut frame = format!("PUB {subject}{reply} {}\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body);
        frame.extend_from_slice(b"\r\n");
        self.raw.send(&frame);
    }

    /// HPUB with `headers` (`Name: value` lines, without the NATS/1.0 line).
    pub fn hpublish(&mut self, subject: &str, reply: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut hdr = String::from("NATS/1.0\r\n");
        for (k, v) in headers {
            hdr.push_str(&format!("{k}: {v}\r\n"));
        }
        hdr.push_str("\r\n");
        let total = hdr.len() + body.len();
        let mut frame =
            format!("HPUB {subject} {reply} {} {total}\r\n{hdr}", hdr.len()).into_bytes();
        frame.extend_from_slice(body);
        frame.extend_from_slice(b"\r\n");
        self.raw.send(&frame);
    }

    /// A fresh reply subject under this connection's `_R.>` subscription.
    pub fn inbox(&mut self) -> String {
        self.next_inbox += 1;
        format!("_R.{}", self.next_inbox)
    }

    /// A subscribed inbox for deliveries (pull replies, +NXT, push).
    pub fn delivery_inbox(&mut self) -> String {
        self.next_inbox += 1;
        let inbox = format!("_D.{}", self.next_inbox);
        self.sub(&inbox);
        inbox
    }

    /// The next frame on `subject`: its own subscription's if it has one,
    /// else any frame with that subject (others stay queued).
    pub fn next_on(&mut self, subject: &str) -> Frame {
        match self.sids.get(subject).copied() {
            Some(sid) => self.next_where(|f| f.sid == sid),
            None => self.next_where(|f| f.subject == subject),
        }
    }

    /// The next frame matching `pred`, read within [`WAIT`].
    pub fn next_where(&mut self, pred: impl Fn(&Frame) -> bool) -> Frame {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).expect("queued frame");
        }
        loop {
            let Some(f) = self.read_frame() else { continue };
            if pred(&f) {
                return f;
            }
            self.backlog.push_back(f);
        }
    }

    /// Everything that arrives in the next `d` (after what is queued).
    pub fn drain_for(&mut self, d: Duration) -> Vec<Frame> {
        let mut out: Vec<Frame> = self.backlog.drain(..).collect();
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Every 50 ms a PING: its PONG comes after whatever arrived before it.
            std::thread::sleep(left.min(Duration::from_millis(50)));
            self.raw.send(b"PING\r\n");
            while let Some(f) = self.read_frame() {
                out.push(f);
            }
        }
        out
    }

    /// An API request on this connection; its JSON reply.
    pub fn api(&mut self, subject: &str, body: &str) -> Value {
        let inbox = self.inbox();
        self.publish(subject, Some(&inbox), body.as_bytes());
        self.next_on(&inbox).json()
    }

    /// Publish into a stream and wait for its PubAck.
    pub fn js_publish(&mut self, subject: &str, body: &[u8]) -> Value {
        let inbox = self.inbox();
        self.publish(subject, Some(&inbox), body);
        let ack = self.next_on(&inbox).json();
        assert!(ack.get("error").is_none(), "publish failed: {ack}");
        ack
    }

    pub fn create_stream(&mut self, name: &str, subjects: &[&str]) {
        let body = serde_json::json!({"name": name, "subjects": subjects});
        let r = self.api(&format!("$JS.API.STREAM.CREATE.{name}"), &body.to_string());
        assert!(r.get("error").is_none(), "stream create: {r}");
    }

    /// Create consumer `name` on `stream` with `config` (name filled in).
    pub fn create_consumer(&mut self, stream: &str, name: &str, mut config: Value) -> Value {
        config["name"] = name.into();
        if config.get("ack_policy").is_none() {
            config["ack_policy"] = "explicit".into();
        }
        let body = serde_json::json!({"stream_name": stream, "config": config});
        let r = self.api(
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            &body.to_string(),
        );
        assert!(r.get("error").is_none(), "consumer create: {r}");
        r
    }

    pub fn info(&mut self, stream: &str, consumer: &str) -> Value {
        self.api(&format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"), "")
    }

    /// Send a pull request for `consumer`; deliveries come to the returned inbox.
    pub fn pull(&mut self, stream: &str, consumer: &str, request: &str) -> String {
        let inbox = self.delivery_inbox();
        self.publish(
            &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            Some(&inbox),
            request.as_bytes(),
        );
        inbox
    }
}
