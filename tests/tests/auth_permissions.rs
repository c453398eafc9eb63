//! Per-user publish/subscribe permissions (issue 2, item 5; spec §2.2): the
//! violation texts of nats-server 2.15.1, the connection stays open, and nothing
//! denied is delivered.

use nile_tests::Nile;

const CONFIG: &str = r#"
authorization {
  users: [
    {user: a, password: pw, permissions: {
      publish: {allow: ["foo.>", "_INBOX.>"], deny: ["foo.secret"]}
      subscribe: {allow: [">"], deny: ["priv.>"]}
    }}
    # Short form: a list is the allow list.
    {user: s, password: pw, permissions: {publish: ["only.this"], subscribe: ["sub.*", "jobs"]}}
    {user: o, password: pw}
  ]
}
"#;

fn connect(nile: &Nile, user: &str) -> nile_tests::Raw {
    nile.raw_connected(&format!(
        r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"pw"}}"#
    ))
}

#[test]
fn publish_allow_and_deny() {
    let nile = Nile::start_with_config(CONFIG, &[]);
    let mut watcher = connect(&nile, "o");
    assert_eq!(watcher.roundtrip(b"SUB > 1\r\n"), "");
    let mut a = connect(&nile, "a");
    let got = a.roundtrip(
        b"PUB bar 0\r\n\r\nPUB foo.secret 1\r\nx\r\nPUB foo.ok 1\r\ny\r\nPUB bar 0\r\n\r\n",
    );
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"bar\"'\r\n"
    );
    // Only the allowed one went out, and the connection is still usable.
    assert_eq!(watcher.roundtrip(b""), "MSG foo.ok 1 1\r\ny\r\n");
    assert_eq!(
        a.roundtrip(b"SUB foo.ok 5\r\nPUB foo.ok 1\r\nz\r\n"),
        "MSG foo.ok 5 1\r\nz\r\n"
    );
}

#[test]
fn subscribe_allow_and_deny_with_queue_text() {
    let nile = Nile::start_with_config(CONFIG, &[]);
    let mut a = connect(&nile, "a");
    let got = a.roundtrip(b"SUB priv.x 1\r\nSUB priv.x q 2\r\nSUB priv.* 3\r\nSUB ok 4\r\n");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Subscription to \"priv.x\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"priv.x\" using queue \"q\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"priv.*\"'\r\n"
    );
    let mut s = connect(&nile, "s");
    let got = s.roundtrip(b"PUB only.this 0\r\n\r\nPUB other 0\r\n\r\nSUB sub.x 1\r\nSUB x q 4\r\nSUB jobs workers 5\r\nSUB other 6\r\n");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"other\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"x\" using queue \"q\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"other\"'\r\n"
    );
    // The allowed subscriptions work; the refused ones do not exist.
    let mut o = connect(&nile, "o");
    assert_eq!(
        o.roundtrip(b"PUB sub.x 1\r\n1\r\nPUB jobs 1\r\n2\r\nPUB other 1\r\n3\r\nPUB x 1\r\n4\r\n"),
        ""
    );
    assert_eq!(
        s.roundtrip(b""),
        "MSG sub.x 1 1\r\n1\r\nMSG jobs 5 1\r\n2\r\n"
    );
}

#[test]
fn wildcard_subscriptions_do_not_leak_denied_subjects() {
    // nats-server lets `>` through a deny of `priv.>`, then filters each message.
    let nile = Nile::start_with_config(CONFIG, &[]);
    let mut a = connect(&nile, "a");
    assert_eq!(
        a.roundtrip(b"SUB > 1\r\nSUB *.x 2\r\nSUB priv2.> 3\r\n"),
        ""
    );
    let mut o = connect(&nile, "o");
    assert_eq!(o.roundtrip(b"PUB priv.x 1\r\n1\r\nPUB pub.x 1\r\n2\r\nPUB priv.a.b 1\r\n3\r\nPUB priv2.x 1\r\n4\r\n"), "");
    let got = a.roundtrip(b"");
    let mut lines: Vec<_> = got
        .split_terminator("\r\n")
        .filter(|l| l.starts_with("MSG"))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "MSG priv2.x 1 1",
            "MSG priv2.x 2 1",
            "MSG priv2.x 3 1",
            "MSG pub.x 1 1",
            "MSG pub.x 2 1"
        ],
        "{got:?}"
    );
}

#[test]
fn permissions_through_async_nats() {
    let nile = Nile::start_with_config(CONFIG, &[]);
    rt().block_on(async {
        let client = async_nats::ConnectOptions::with_user_and_password("a".into(), "pw".into())
            .connect(nile.url())
            .await
            .unwrap();
        let mut sub = client.subscribe("foo.>").await.unwrap();
        client.publish("bar", "denied".into()).await.unwrap();
        client.publish("foo.ok", "allowed".into()).await.unwrap();
        client.flush().await.unwrap();
        let m = futures::StreamExt::next(&mut sub).await.unwrap();
        assert_eq!(m.payload, "allowed");
        // Still connected after the violation (no reconnect happened).
        assert_eq!(
            client
                .statistics()
                .connects
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // Request/reply works for a user allowed to publish to foo.> and _INBOX.>.
        let responder = client.clone();
        let mut svc = client.subscribe("foo.svc").await.unwrap();
        tokio::spawn(async move {
            if let Some(req) = futures::StreamExt::next(&mut svc).await {
                responder
                    .publish(req.reply.unwrap(), "pong".into())
                    .await
                    .unwrap();
            }
        });
        let reply = client.request("foo.svc", "ping".into()).await.unwrap();
        assert_eq!(reply.payload, "pong");
    });
    nile.assert_serves_with(r#"{"verbose":false,"user":"o","pass":"pw"}"#);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn queue_group_permissions() {
    // nats-server's form: an entry "<subject> <queue>" allows (or denies) only that queue group.
    let config = r#"authorization { users: [ {user: q, password: pw, permissions: {subscribe: {allow: ["jobs workers", "open"], deny: ["open bad"]}}} ] }"#;
    let nile = Nile::start_with_config(config, &[]);
    let mut c = connect(&nile, "q");
    let got = c.roundtrip(b"SUB jobs 1\r\nSUB jobs workers 2\r\nSUB jobs other 3\r\nSUB open 4\r\nSUB open bad 5\r\nSUB open good 6\r\n");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Subscription to \"jobs\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"jobs\" using queue \"other\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"open\" using queue \"bad\"'\r\n"
    );
    let got = c.roundtrip(b"PUB jobs 1\r\nj\r\n");
    assert_eq!(got, "MSG jobs 2 1\r\nj\r\n");
}
