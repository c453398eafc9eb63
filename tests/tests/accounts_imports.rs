//! Exports and imports: a stream import brings the exporter's messages into
//! the importer's subject space (under a prefix or another subject if
//! configured); a service import carries a request into the exporter's
//! account with a `_R_.` reply there, and its answer back exactly once.

use std::time::Duration;

use nile_tests::{Nile, Raw};

const ACCOUNTS: &str = r#"
accounts {
  A: {
    users: [{user: a, password: a}]
    exports: [
      {stream: "foo.>"}, {service: "svc.>"}, {stream: "only.>", accounts: [C]},
      {service: "many.>", response_type: stream}
    ]
  }
  B: {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "foo.>"}},
      {service: {account: A, subject: "svc.>"}},
      {service: {account: A, subject: "many.>"}}
    ]
  }
  C: {
    users: [{user: c, password: c}]
    imports: [
      {stream: {account: A, subject: "foo.>"}, prefix: "a"},
      {service: {account: A, subject: "svc.>"}, to: "echo.>"},
      {stream: {account: A, subject: "only.>"}}
    ]
  }
}
"#;

fn login(nile: &Nile, user: &str) -> Raw {
    nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{user}"}}"#
    ))
}

/// A login whose CONNECT says it takes headers.
fn login_headers(nile: &Nile, user: &str) -> Raw {
    nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"headers":true,"user":"{user}","pass":"{user}"}}"#
    ))
}

/// What arrives within a short wait.
fn received(c: &mut Raw) -> String {
    let got = c.read_for(Duration::from_millis(300));
    got.trim_end_matches("<OPEN>").to_string()
}

/// The request a service subscriber got: its subject, reply and payload.
fn request_line(got: &str) -> (String, String, String) {
    let mut lines = got.split("\r\n");
    let head: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let (op, subject, reply) = (head[0], head[1], head[3]);
    let payload = if op == "HMSG" {
        // Skip the header block nats-server adds (Nats-Request-Info).
        let after = got.split_once("\r\n\r\n").map_or("", |(_, rest)| rest);
        after.split("\r\n").next().unwrap_or("").to_string()
    } else {
        lines.next().unwrap_or("").to_string()
    };
    (subject.to_string(), reply.to_string(), payload)
}

#[test]
fn stream_import_brings_exported_messages() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let mut b = login(&nile, "b");
    let mut c = login(&nile, "c");
    for conn in [&mut a, &mut b, &mut c] {
        assert_eq!(conn.roundtrip(b"SUB foo.> 1\r\nSUB a.foo.> 2\r\n"), "");
    }
    a.send(b"PUB foo.x 2\r\nhi\r\n");
    assert_eq!(received(&mut b), "MSG foo.x 1 2\r\nhi\r\n");
    assert_eq!(received(&mut c), "MSG a.foo.x 2 2\r\nhi\r\n");
    assert_eq!(received(&mut a), "MSG foo.x 1 2\r\nhi\r\n");
    // Imports go one way: the importer's own messages stay with it.
    b.send(b"PUB foo.y 2\r\nho\r\n");
    assert_eq!(received(&mut b), "MSG foo.y 1 2\r\nho\r\n");
    assert_eq!(received(&mut a), "");
    assert_eq!(received(&mut c), "");
}

/// B may not import `only.>` (a config naming it is refused, see the
/// config tests), so only C gets it.
#[test]
fn export_to_named_accounts_only() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let mut b = login(&nile, "b");
    let mut c = login(&nile, "c");
    for conn in [&mut b, &mut c] {
        assert_eq!(conn.roundtrip(b"SUB only.> 1\r\n"), "");
    }
    a.send(b"PUB only.x 1\r\nz\r\n");
    assert_eq!(received(&mut c), "MSG only.x 1 1\r\nz\r\n");
    assert_eq!(received(&mut b), "");
}

#[test]
fn service_import_answers_once() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login_headers(&nile, "a");
    let mut b = login(&nile, "b");
    assert_eq!(a.roundtrip(b"SUB svc.> 1\r\n"), "");
    assert_eq!(b.roundtrip(b"SUB _INBOX.r 9\r\n"), "");
    b.send(b"PUB svc.echo _INBOX.r 3\r\nreq\r\n");
    let got = received(&mut a);
    let (subject, reply, payload) = request_line(&got);
    assert_eq!(subject, "svc.echo", "{got}");
    assert!(reply.starts_with("_R_."), "{got}");
    assert_eq!(payload, "req", "{got}");
    // The responder learns the requesting account.
    assert!(got.contains("Nats-Request-Info: {\"acc\":\"B\""), "{got}");
    // Answer twice: a singleton service's requester gets the first only.
    a.send(format!("PUB {reply} 3\r\nrep\r\nPUB {reply} 3\r\nrep\r\n").as_bytes());
    assert_eq!(received(&mut b), "MSG _INBOX.r 9 3\r\nrep\r\n");
    // The `_R_` subject is the exporter's: nobody else sees the answer.
    assert_eq!(received(&mut a), "");
}

#[test]
fn service_import_under_a_local_subject() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let mut c = login(&nile, "c");
    assert_eq!(a.roundtrip(b"SUB svc.> 1\r\n"), "");
    assert_eq!(c.roundtrip(b"SUB _INBOX.c 1\r\n"), "");
    c.send(b"PUB echo.time _INBOX.c 1\r\n?\r\n");
    let got = received(&mut a);
    let (subject, reply, _) = request_line(&got);
    assert_eq!(subject, "svc.time", "{got}");
    a.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes());
    assert_eq!(received(&mut c), "MSG _INBOX.c 1 2\r\nok\r\n");
}

#[test]
fn streamed_service_answers_all_arrive() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let mut b = login(&nile, "b");
    assert_eq!(a.roundtrip(b"SUB many.> 1\r\n"), "");
    assert_eq!(b.roundtrip(b"SUB _INBOX.m 1\r\n"), "");
    b.send(b"PUB many.x _INBOX.m 0\r\n\r\n");
    let got = received(&mut a);
    let (_, reply, _) = request_line(&got);
    a.send(format!("PUB {reply} 1\r\n1\r\nPUB {reply} 1\r\n2\r\n").as_bytes());
    assert_eq!(
        received(&mut b),
        "MSG _INBOX.m 1 1\r\n1\r\nMSG _INBOX.m 1 1\r\n2\r\n"
    );
}
