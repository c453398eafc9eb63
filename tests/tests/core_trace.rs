//! Message tracing: `Nats-Trace-Dest` makes the server publish a trace event
//! (ingress, one egress per subscription reached); `Nats-Trace-Only: true`
//! traces without delivering. Raw protocol, compared with nats-server 2.15.1.

use std::time::Duration;

use nile_tests::Nile;
use serde_json::Value;

/// Read MSG/HMSG frames until `n` arrived: (subject, payload) of each.
fn frames(raw: &mut nile_tests::Raw, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let line = raw.line();
        let parts: Vec<&str> = line.split_whitespace().collect();
        let total: usize = parts.last().unwrap().parse().unwrap();
        let body = raw.bytes(total + 2);
        out.push((parts[1].to_string(), body[..total].to_vec()));
    }
    out
}

fn hpub(subject: &str, headers: &str) -> Vec<u8> {
    let h = format!("NATS/1.0\r\n{headers}\r\n");
    format!("HPUB {subject} {} {}\r\n{h}\r\n", h.len(), h.len()).into_bytes()
}

#[test]
fn traced_publish_reports_ingress_and_egress() {
    let nile = Nile::start(&[]);
    let mut c =
        nile.raw_connected(r#"{"verbose":false,"pedantic":false,"headers":true,"name":"tracer"}"#);
    c.send(b"SUB foo 1\r\nSUB traces 2\r\n");
    c.send(&hpub("foo", "Nats-Trace-Dest: traces\r\n"));
    let got = frames(&mut c, 2);
    assert_eq!(got[0].0, "foo", "the message is delivered, header and all");
    assert!(String::from_utf8_lossy(&got[0].1).contains("Nats-Trace-Dest: traces"));
    assert_eq!(got[1].0, "traces");
    let ev: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(ev["request"]["header"]["Nats-Trace-Dest"][0], "traces");
    assert_eq!(ev["request"]["msgsize"], 37);
    let events = ev["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "in");
    assert_eq!(events[0]["subj"], "foo");
    assert_eq!(events[0]["acc"], "$G");
    assert_eq!(events[0]["name"], "tracer");
    assert_eq!(events[1]["type"], "eg");
    assert_eq!(events[1]["sub"], "foo");
    assert_eq!(events.len(), 2);
    assert!(ev["server"]["id"].as_str().is_some_and(|s| !s.is_empty()));

    // Trace only: the trace arrives, the message does not.
    c.send(&hpub(
        "foo",
        "Nats-Trace-Dest: traces\r\nNats-Trace-Only: true\r\n",
    ));
    let got = frames(&mut c, 1);
    assert_eq!(got[0].0, "traces");
    let ev: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(ev["events"][1]["type"], "eg");
    assert_eq!(c.roundtrip(b""), "", "the message itself is not delivered");
    // Nobody listening: only the ingress event.
    c.send(&hpub("nobody", "Nats-Trace-Dest: traces\r\n"));
    let got = frames(&mut c, 1);
    let ev: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(ev["events"].as_array().unwrap().len(), 1);
    assert_eq!(c.read_for(Duration::from_millis(200)), "<OPEN>");
}

/// `-V` traces each op a client sends, in nats-server's bracketed form
/// (nats.js's doublesubs test greps the log for `[SUB foo 1]`).
#[test]
fn protocol_trace_logs_client_ops() {
    let nile = Nile::start(&["-V"]);
    let mut c = nile.raw_connected(r#"{"verbose":false,"pedantic":false}"#);
    assert_eq!(
        c.roundtrip(b"SUB foo 1\r\nSUB bar q 2\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\n"),
        "MSG foo 1 2\r\nhi\r\n"
    );
    let log = nile.log_text();
    for want in [
        "<<- [SUB foo 1]",
        "<<- [SUB bar q 2]",
        "<<- [PUB foo 2]",
        "<<- [UNSUB 1]",
        "<<- [CONNECT {",
    ] {
        assert!(log.contains(want), "no {want:?} in\n{log}");
    }
}
