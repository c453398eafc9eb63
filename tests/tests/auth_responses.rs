//! `allow_responses`: a service user with no publish rights may answer the
//! requests it receives, once per request (nats-server's default max of 1).

use nile_tests::Nile;

const CONFIG: &str = r#"
authorization {
  users: [
    {user: svc, password: pw, permissions: {publish: {deny: [">"]}, subscribe: ["svc"], allow_responses: true}}
    {user: cli, password: pw}
  ]
}
"#;

fn connect(nile: &Nile, user: &str) -> nile_tests::Raw {
    nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"pw"}}"#
    ))
}

#[test]
fn service_may_answer_each_request_once() {
    let nile = Nile::start_with_config(CONFIG, &[]);
    let mut svc = connect(&nile, "svc");
    let mut cli = connect(&nile, "cli");
    assert_eq!(svc.roundtrip(b"SUB svc 1\r\n"), "");
    assert_eq!(
        cli.roundtrip(b"SUB _INBOX.r1 9\r\nPUB svc _INBOX.r1 2\r\nhi\r\n"),
        ""
    );
    assert_eq!(svc.line(), "MSG svc 1 _INBOX.r1 2\r\n");
    assert_eq!(svc.bytes(4), b"hi\r\n");
    // Not a reply it was given: denied.
    assert_eq!(
        svc.roundtrip(b"PUB other 1\r\nx\r\n"),
        "-ERR 'Permissions Violation for Publish to \"other\"'\r\n"
    );
    // The reply: allowed once.
    assert_eq!(svc.roundtrip(b"PUB _INBOX.r1 3\r\nack\r\n"), "");
    assert_eq!(cli.roundtrip(b""), "MSG _INBOX.r1 9 3\r\nack\r\n");
    assert_eq!(
        svc.roundtrip(b"PUB _INBOX.r1 3\r\nack\r\n"),
        "-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n"
    );
}
