//! The core client protocol over raw TCP, byte for byte as nats-server 2.15.1 answers
//! (issue 2, item 4; spec §1). Each test starts its own Nile.

use nile_tests::Nile;

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

#[test]
fn info_has_the_fields_clients_read() {
    let nile = Nile::start(&[]);
    let a = nile.raw();
    let b = nile.raw();
    let info = &a.info;
    let id = info["server_id"].as_str().expect("server_id");
    assert_eq!(id.len(), 56, "server_id {id}");
    assert!(id.starts_with('N'), "server_id {id}");
    assert_eq!(
        info["server_name"].as_str(),
        Some(id),
        "server_name defaults to the id"
    );
    let version = info["version"].as_str().expect("version");
    assert_eq!(version.split('.').count(), 3, "semver: {version}");
    assert!(info["go"].is_string());
    assert_eq!(info["proto"], 1);
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1048576);
    assert_eq!(info["host"], "127.0.0.1");
    assert_eq!(info["port"], nile.port);
    assert_eq!(info["client_ip"], "127.0.0.1");
    let (ca, cb) = (
        info["client_id"].as_u64().unwrap(),
        b.info["client_id"].as_u64().unwrap(),
    );
    assert_ne!(ca, cb, "each connection has its own client_id");
    assert_eq!(b.info["server_id"], info["server_id"]);
    // nats-server omits these when off.
    assert!(
        info.get("auth_required").is_none(),
        "no auth configured: {info}"
    );
    assert!(
        info.get("jetstream").is_none() || info["jetstream"] == false,
        "{info}"
    );
}

#[test]
fn info_says_jetstream_when_enabled() {
    let nile = Nile::start(&["-js"]);
    assert_eq!(nile.raw().info["jetstream"], true);
}

#[test]
fn info_line_is_first_and_ends_with_crlf() {
    use std::io::Read;
    let nile = Nile::start(&[]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", nile.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before INFO");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("INFO {"), "{text}");
    // nats-server writes `INFO {...} \r\n` (a space before CRLF).
    assert!(text.ends_with("} \r\n"), "{text:?}");
    assert_eq!(text.matches("\r\n").count(), 1);
}

#[test]
fn connect_is_lenient_with_nulls_and_unknown_keys() {
    let nile = Nile::start(&[]);
    let mut raw = nile.raw();
    let got = raw.roundtrip(
        b"CONNECT {\"verbose\":null,\"pedantic\":null,\"echo\":null,\"name\":null,\"lang\":null,\
          \"version\":null,\"protocol\":null,\"headers\":null,\"no_responders\":null,\"user\":null,\
          \"pass\":null,\"auth_token\":null,\"tls_required\":false,\"sig\":null,\"jwt\":null,\"x\":{}}\r\n",
    );
    // Absent/null verbose means verbose (nats-server's default).
    assert_eq!(got, "+OK\r\n");
    let mut raw = nile.raw();
    assert_eq!(raw.roundtrip(b"CONNECT {}\r\n"), "+OK\r\n");
    nile.assert_serves();
}

#[test]
fn ping_pong_and_ops_are_case_insensitive() {
    let nile = Nile::start(&[]);
    let mut raw = nile.raw();
    raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\nping\r\n");
    assert_eq!(raw.line(), "PONG\r\n");
    assert_eq!(raw.line(), "PONG\r\n");
    let got = raw.roundtrip(b"sub x 1\r\npub x 2\r\nhi\r\nPong\r\n+OK\r\n");
    assert_eq!(got, "MSG x 1 2\r\nhi\r\n");
}

#[test]
fn ops_before_connect_use_nats_defaults() {
    // nats-server answers before CONNECT as if verbose were on (its default options).
    let nile = Nile::start(&[]);
    let mut raw = nile.raw();
    assert_eq!(raw.roundtrip(b""), "");
    assert_eq!(raw.roundtrip(b"SUB a 1\r\n"), "+OK\r\n");
}

#[test]
fn pub_sub_msg_byte_exact() {
    let nile = Nile::start(&[]);
    let mut sub = nile.raw_connected(QUIET);
    let mut publ = nile.raw_connected(QUIET);
    assert_eq!(
        sub.roundtrip(b"SUB foo.bar 7\r\nSUB foo.bar  \t q1 8\r\n"),
        ""
    );
    let got = publ.roundtrip(
        b"PUB foo.bar 5\r\nhello\r\nPUB foo.bar reply.to 0\r\n\r\nPUB\tfoo.bar\t4\r\na\r\nb\r\n",
    );
    assert_eq!(got, "");
    let want_each = [
        "MSG foo.bar 7 5\r\nhello\r\n",
        "MSG foo.bar 8 5\r\nhello\r\n",
        "MSG foo.bar 7 reply.to 0\r\n\r\n",
        "MSG foo.bar 8 reply.to 0\r\n\r\n",
        "MSG foo.bar 7 4\r\na\r\nb\r\n",
        "MSG foo.bar 8 4\r\na\r\nb\r\n",
    ];
    let got = sub.roundtrip(b"");
    assert_eq!(
        got.len(),
        want_each.iter().map(|s| s.len()).sum::<usize>(),
        "{got:?}"
    );
    // Per subscription, messages keep publish order.
    for sid in ["7", "8"] {
        let mine: Vec<_> = want_each
            .iter()
            .filter(|m| m.split(' ').nth(2) == Some(sid))
            .collect();
        let mut at = 0;
        for m in mine {
            let pos = got[at..]
                .find(*m)
                .unwrap_or_else(|| panic!("{m:?} missing or out of order in {got:?}"));
            at += pos + m.len();
        }
    }
}

#[test]
fn hpub_hmsg_byte_exact() {
    let nile = Nile::start(&[]);
    let hdr = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
    let mut sub = nile.raw_connected(hdr);
    assert_eq!(sub.roundtrip(b"SUB h 1\r\n"), "");
    let mut publ = nile.raw_connected(hdr);
    let got = publ.roundtrip(
        b"HPUB h r 24 29\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhello\r\nHPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n",
    );
    assert_eq!(got, "");
    assert_eq!(
        sub.roundtrip(b""),
        "HMSG h 1 r 24 29\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nhello\r\nHMSG h 1 12 12\r\nNATS/1.0\r\n\r\n\r\n"
    );
}

#[test]
fn unsub_with_max_counts_what_was_delivered() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    let got =
        c.roundtrip(b"SUB x 1\r\nUNSUB 1 2\r\nPUB x 1\r\na\r\nPUB x 1\r\nb\r\nPUB x 1\r\nc\r\n");
    assert_eq!(got, "MSG x 1 1\r\na\r\nMSG x 1 1\r\nb\r\n");
    // A max at or below the count already delivered ends it at once.
    let got = c.roundtrip(b"SUB y 2\r\nPUB y 1\r\na\r\nUNSUB 2 1\r\nPUB y 1\r\nb\r\n");
    assert_eq!(got, "MSG y 2 1\r\na\r\n");
    // Plain UNSUB, and UNSUB of an unknown sid, are silent.
    let got = c.roundtrip(b"SUB z 3\r\nUNSUB 3\r\nUNSUB 99\r\nPUB z 1\r\na\r\n");
    assert_eq!(got, "");
    // A max that is not a number unsubscribes at once (nats-server keeps the connection).
    let got = c.roundtrip(b"SUB w 4\r\nUNSUB 4 x\r\nPUB w 1\r\na\r\n");
    assert_eq!(got, "");
    // The sid can be reused after the max ran out.
    let got = c.roundtrip(b"SUB z 1\r\nPUB z 1\r\nd\r\n");
    assert_eq!(got, "MSG z 1 1\r\nd\r\n");
}

#[test]
fn a_sub_reusing_a_live_sid_changes_nothing() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    let got = c.roundtrip(b"SUB x 1\r\nSUB x 1\r\nSUB y 1\r\nPUB x 0\r\n\r\nPUB y 0\r\n\r\n");
    assert_eq!(got, "MSG x 1 0\r\n\r\n");
}

#[test]
fn verbose_acks_every_op() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw();
    let got = c.roundtrip(
        b"CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB a 1\r\nUNSUB 1\r\nUNSUB 99\r\nPUB a 0\r\n\r\n",
    );
    assert_eq!(got, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");
    // A second CONNECT switches verbose off again.
    let got = c.roundtrip(b"CONNECT {\"verbose\":false}\r\nSUB b 2\r\n");
    assert_eq!(got, "");
}

#[test]
fn pedantic_rejects_wildcard_and_malformed_publish_subjects() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(r#"{"verbose":false,"pedantic":true}"#);
    let got =
        c.roundtrip(b"PUB foo.* 2\r\nhi\r\nPUB a.> 0\r\n\r\nPUB x..y 0\r\n\r\nPUB ok 0\r\n\r\n");
    assert_eq!(
        got,
        "-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n"
    );
    // As nats-server: the wildcard publish is still delivered (subjects with an
    // empty token match nothing), and verbose acks it after the error.
    let got = c.roundtrip(b"SUB foo.* 1\r\nSUB > 2\r\nPUB foo.* 0\r\n\r\nPUB x..y 0\r\n\r\n");
    let (e, m1, m2) = (
        "-ERR 'Invalid Publish Subject'\r\n",
        "MSG foo.* 1 0\r\n\r\n",
        "MSG foo.* 2 0\r\n\r\n",
    );
    // The two subscriptions of one connection may be served in either order.
    assert!(
        got == [e, m1, m2, e].concat() || got == [e, m2, m1, e].concat(),
        "{got:?}"
    );
    let mut v = nile.raw();
    let got = v.roundtrip(b"CONNECT {\"verbose\":true,\"pedantic\":true}\r\nPUB foo.* 0\r\n\r\n");
    assert_eq!(got, "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n");
    // Not pedantic: the same publishes are accepted silently.
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(c.roundtrip(b"PUB foo.* 2\r\nhi\r\n"), "");
    let got = c.roundtrip(b"SUB > 2\r\nSUB x.* 3\r\nPUB x..y 0\r\n\r\nPUB .x 0\r\n\r\nPUB x. 0\r\n\r\nPUB x.> 0\r\n\r\n");
    let mut lines: Vec<_> = got
        .split_terminator("\r\n")
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    assert_eq!(lines, ["MSG x.> 2 0", "MSG x.> 3 0"]);
    nile.assert_serves();
}

#[test]
fn invalid_sub_subjects_are_refused_and_the_connection_stays() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    let got = c.roundtrip(b"SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB .a 3\r\nSUB a. 4\r\n");
    assert_eq!(got, "-ERR 'Invalid Subject'\r\n".repeat(4));
    // Nothing was subscribed: publishing to what the bad patterns resembled reaches nobody.
    let got = c.roundtrip(b"PUB foo.x.bar 0\r\n\r\nSUB a.* 5\r\nPUB a.b 1\r\nz\r\n");
    assert_eq!(got, "MSG a.b 5 1\r\nz\r\n");
}

#[test]
fn wildcards_star_and_greater() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(
        c.roundtrip(b"SUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nSUB *.b.* 4\r\nSUB a*b 5\r\n"),
        ""
    );
    let mut p = nile.raw_connected(QUIET);
    let cases: [(&str, &[&str]); 6] = [
        ("a.b", &["1", "2", "3"]),
        ("a.b.c", &["2", "3", "4"]),
        ("a", &["3"]),
        ("x.b.y", &["3", "4"]),
        ("a*b", &["3", "5"]),
        ("axb", &["3"]),
    ];
    for (subject, sids) in cases {
        assert_eq!(
            p.roundtrip(format!("PUB {subject} 0\r\n\r\n").as_bytes()),
            ""
        );
        let got = c.roundtrip(b"");
        let mut lines: Vec<_> = got
            .split_terminator("\r\n")
            .filter(|l| !l.is_empty())
            .collect();
        lines.sort();
        let want: Vec<String> = sids
            .iter()
            .map(|s| format!("MSG {subject} {s} 0"))
            .collect();
        assert_eq!(lines, want, "publish to {subject}");
    }
}

#[test]
fn queue_groups_raw_one_per_group_and_all_plain() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(
        c.roundtrip(b"SUB q g1 1\r\nSUB q g1 2\r\nSUB q g2 3\r\nSUB q 4\r\nSUB q 5\r\n"),
        ""
    );
    let mut seen = [0usize; 6];
    for i in 0..60 {
        let got = c.roundtrip(format!("PUB q {}\r\n{i}\r\n", i.to_string().len()).as_bytes());
        let sids: Vec<usize> = got
            .split_terminator("\r\n")
            .filter(|l| l.starts_with("MSG "))
            .map(|l| l.split(' ').nth(2).unwrap().parse().unwrap())
            .collect();
        let g1 = sids.iter().filter(|s| **s == 1 || **s == 2).count();
        assert_eq!(g1, 1, "one of g1 per message: {got:?}");
        assert_eq!(sids.iter().filter(|s| **s == 3).count(), 1, "{got:?}");
        assert_eq!(
            sids.iter().filter(|s| **s == 4 || **s == 5).count(),
            2,
            "{got:?}"
        );
        assert_eq!(sids.len(), 4);
        for s in sids {
            seen[s] += 1;
        }
    }
    // Spread: with a random pick, 60 messages missing one member is ~1e-18 likely.
    assert!(seen[1] > 0 && seen[2] > 0, "both g1 members used: {seen:?}");
}

#[test]
fn echo_false_skips_own_messages_only() {
    let nile = Nile::start(&[]);
    let mut me = nile.raw_connected(r#"{"verbose":false,"pedantic":false,"echo":false}"#);
    let mut other = nile.raw_connected(QUIET);
    assert_eq!(me.roundtrip(b"SUB e 1\r\nSUB e q 2\r\n"), "");
    assert_eq!(other.roundtrip(b"SUB e 1\r\n"), "");
    assert_eq!(me.roundtrip(b"PUB e 1\r\nx\r\n"), "");
    assert_eq!(other.roundtrip(b""), "MSG e 1 1\r\nx\r\n");
    assert_eq!(other.roundtrip(b"PUB e 1\r\ny\r\n"), "MSG e 1 1\r\ny\r\n");
    let got = me.roundtrip(b"");
    let mut lines: Vec<_> = got.split_terminator("\r\n").collect();
    lines.sort();
    assert_eq!(lines, ["MSG e 1 1", "MSG e 2 1", "y", "y"]);
}

#[test]
fn no_responders_gets_503_byte_exact() {
    let nile = Nile::start(&[]);
    let mut c = nile
        .raw_connected(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#);
    let got = c.roundtrip(b"SUB r 9\r\nPUB x r 0\r\n\r\n");
    assert_eq!(
        got,
        "HMSG r 9 33 33\r\nNATS/1.0 503\r\nNats-Subject: x\r\n\r\n\r\n"
    );
    // HPUB requests get it too; a request with a responder does not.
    let got = c.roundtrip(b"HPUB x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(
        got,
        "HMSG r 9 33 33\r\nNATS/1.0 503\r\nNats-Subject: x\r\n\r\n\r\n"
    );
    let mut server = nile.raw_connected(QUIET);
    assert_eq!(server.roundtrip(b"SUB x 1\r\n"), "");
    assert_eq!(c.roundtrip(b"PUB x r 0\r\n\r\n"), "");
    assert_eq!(server.roundtrip(b""), "MSG x 1 r 0\r\n\r\n");
    // Without no_responders (or without a reply), nothing comes back.
    let mut plain = nile.raw_connected(r#"{"verbose":false,"headers":true}"#);
    assert_eq!(plain.roundtrip(b"SUB r 9\r\nPUB nobody r 0\r\n\r\n"), "");
    assert_eq!(c.roundtrip(b"PUB nobody 0\r\n\r\n"), "");
}

// ---- bad input: the right error, the right close, and the server carries on ----

#[test]
fn garbage_is_unknown_protocol_operation() {
    let nile = Nile::start(&[]);
    for garbage in [
        &b"GARBAGE\r\n"[..],
        b"\x00\x01\x02\r\n",
        b"PUBX foo 0\r\n",
        b"PUB\r\n",
        b"UNSUB\r\n",
    ] {
        let mut c = nile.raw_connected(QUIET);
        let got = c.send_until_close(garbage);
        assert_eq!(
            got, "-ERR 'Unknown Protocol Operation'\r\n<EOF>",
            "{garbage:?}"
        );
    }
    // Before CONNECT too.
    let mut c = nile.raw();
    assert_eq!(
        c.send_until_close(b"HELLO\r\n"),
        "-ERR 'Unknown Protocol Operation'\r\n<EOF>"
    );
    nile.assert_serves();
}

#[test]
fn payload_not_followed_by_crlf_is_unknown_protocol_operation() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(
        c.send_until_close(b"PUB foo 3\r\nabcdef\r\n"),
        "-ERR 'Unknown Protocol Operation'\r\n<EOF>"
    );
    nile.assert_serves();
}

#[test]
fn malformed_arguments_close_without_a_reply() {
    // nats-server logs "processPub Parse Error" (etc.) and closes silently.
    let nile = Nile::start(&[]);
    for bad in [
        &b"SUB foo bar baz qux\r\n"[..],
        b"SUB a\r\n",
        b"PUB foo bar baz 1\r\nx\r\n",
        b"PUB x -1\r\n",
        b"PUB x\r\n",
        b"HPUB x 5 3\r\nabc\r\n",
        b"HPUB x 12\r\n",
    ] {
        let mut c = nile.raw_connected(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
        assert_eq!(
            c.send_until_close(bad),
            "<EOF>",
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    nile.assert_serves();
}

#[test]
fn hpub_without_headers_in_connect_closes() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(
        c.send_until_close(b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        "<EOF>"
    );
    nile.assert_serves();
}

#[test]
fn bad_connect_json_closes_silently() {
    let nile = Nile::start(&[]);
    for bad in [
        &b"CONNECT {bad json\r\n"[..],
        b"CONNECT {\"protocol\":\"x\"}\r\n",
        b"CONNECT [1]\r\n",
    ] {
        let mut c = nile.raw();
        assert_eq!(
            c.send_until_close(bad),
            "<EOF>",
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    nile.assert_serves();
}

#[test]
fn connect_protocol_and_no_responders_checks() {
    let nile = Nile::start(&[]);
    let cases = [
        (r#"{"protocol":2}"#, "invalid client protocol"),
        (r#"{"protocol":-1}"#, "invalid client protocol"),
        (
            r#"{"protocol":1,"no_responders":true}"#,
            "no responders requires headers support",
        ),
        (
            r#"{"no_responders":true,"headers":false}"#,
            "no responders requires headers support",
        ),
    ];
    for (json, err) in cases {
        let mut c = nile.raw();
        let got = c.send_until_close(format!("CONNECT {json}\r\n").as_bytes());
        assert_eq!(got, format!("-ERR '{err}'\r\n<EOF>"), "{json}");
    }
    for ok in [
        r#"{"protocol":0}"#,
        r#"{"protocol":1,"headers":true,"no_responders":true}"#,
    ] {
        let mut c = nile.raw();
        assert_eq!(
            c.roundtrip(format!("CONNECT {ok}\r\n").as_bytes()),
            "+OK\r\n",
            "{ok}"
        );
    }
    nile.assert_serves();
}

#[test]
fn oversize_payload_is_maximum_payload_violation() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    let got = c.send_until_close(b"PUB foo 1048577\r\n");
    assert_eq!(got, "-ERR 'Maximum Payload Violation'\r\n<EOF>");
    let mut c = nile.raw_connected(r#"{"verbose":false,"headers":true}"#);
    let got = c.send_until_close(b"HPUB foo 12 2000000\r\n");
    assert_eq!(got, "-ERR 'Maximum Payload Violation'\r\n<EOF>");
    // Exactly max_payload is fine.
    let mut c = nile.raw_connected(QUIET);
    let mut msg = b"SUB big 1\r\nPUB big 1048576\r\n".to_vec();
    msg.extend(std::iter::repeat_n(b'z', 1048576));
    msg.extend_from_slice(b"\r\n");
    c.send(&msg);
    assert_eq!(c.line(), "MSG big 1 1048576\r\n");
    let body = c.bytes(1048578);
    assert!(body[..1048576].iter().all(|b| *b == b'z') && body.ends_with(b"\r\n"));
    nile.assert_serves();
}

#[test]
fn overlong_control_line_is_refused() {
    let nile = Nile::start(&[]);
    let subject = "a".repeat(5000);
    let mut c = nile.raw_connected(QUIET);
    let got = c.send_until_close(format!("PUB {subject} 0\r\n\r\n").as_bytes());
    assert_eq!(got, "-ERR 'maximum control line exceeded'\r\n<EOF>");
    // Also when the line never ends.
    let mut c = nile.raw_connected(QUIET);
    let got = c.send_until_close(format!("SUB {subject}").as_bytes());
    assert_eq!(got, "-ERR 'maximum control line exceeded'\r\n<EOF>");
    nile.assert_serves();
}

#[test]
fn an_err_from_the_client_closes_it() {
    // nats-server 2.15.1: a client sending -ERR is closed (no reply); +OK and INFO are ignored.
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(c.roundtrip(b"+OK\r\nINFO {\"x\":1}\r\n"), "");
    assert_eq!(c.send_until_close(b"-ERR 'x'\r\n"), "<EOF>");
    nile.assert_serves();
}

#[test]
fn other_connections_carry_on_after_a_bad_one() {
    let nile = Nile::start(&[]);
    let mut sub = nile.raw_connected(QUIET);
    assert_eq!(sub.roundtrip(b"SUB keep 1\r\n"), "");
    let mut bad = nile.raw_connected(QUIET);
    bad.send(b"SUB keep 2\r\nPUB keep 1\r\na\r\nGARBAGE\r\n");
    assert_eq!(
        bad.read_for(std::time::Duration::from_secs(5)),
        "MSG keep 2 1\r\na\r\n-ERR 'Unknown Protocol Operation'\r\n<EOF>"
    );
    assert_eq!(sub.roundtrip(b""), "MSG keep 1 1\r\na\r\n");
    // The bad connection's subscription is gone with it.
    let mut p = nile.raw_connected(QUIET);
    assert_eq!(p.roundtrip(b"PUB keep 1\r\nb\r\n"), "");
    assert_eq!(sub.roundtrip(b""), "MSG keep 1 1\r\nb\r\n");
}

#[test]
fn frames_split_across_reads_and_many_in_one_write() {
    let nile = Nile::start(&[]);
    let mut sub = nile.raw_connected(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
    assert_eq!(sub.roundtrip(b"SUB s.* 1\r\n"), "");
    let mut p = nile.raw_connected(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
    // One byte per write: the codec must wait for whole control lines and payloads.
    let frame = b"HPUB s.a r 18 23\r\nNATS/1.0\r\nK: v\r\n\r\nhello\r\nPUB s.b 3\r\n\r\n\n\r\n";
    for b in frame {
        p.send(&[*b]);
    }
    assert_eq!(p.roundtrip(b""), "");
    assert_eq!(
        sub.roundtrip(b""),
        "HMSG s.a 1 r 18 23\r\nNATS/1.0\r\nK: v\r\n\r\nhello\r\nMSG s.b 1 3\r\n\r\n\n\r\n"
    );
    // Thousands of frames in one write come out whole and in order.
    let mut batch = Vec::new();
    let mut want = String::new();
    for i in 0..5000 {
        let body = format!("m{i}");
        batch.extend_from_slice(format!("PUB s.n {}\r\n{body}\r\n", body.len()).as_bytes());
        want.push_str(&format!("MSG s.n 1 {}\r\n{body}\r\n", body.len()));
    }
    assert_eq!(p.roundtrip(&batch), "");
    assert_eq!(sub.roundtrip(b""), want);
}

#[test]
fn fan_out_to_many_connections() {
    let nile = Nile::start(&[]);
    let mut subs: Vec<_> = (0..40)
        .map(|i| {
            let mut c = nile.raw_connected(QUIET);
            assert_eq!(c.roundtrip(format!("SUB fan {i}\r\n").as_bytes()), "");
            (i, c)
        })
        .collect();
    let mut p = nile.raw_connected(QUIET);
    assert_eq!(p.roundtrip(b"PUB fan 3\r\nall\r\n"), "");
    for (i, c) in subs.iter_mut() {
        assert_eq!(c.roundtrip(b""), format!("MSG fan {i} 3\r\nall\r\n"));
    }
}

#[test]
fn verbose_acks_hpub_too() {
    let nile = Nile::start(&[]);
    let mut c = nile.raw();
    let got = c.roundtrip(
        b"CONNECT {\"verbose\":true,\"headers\":true}\r\nHPUB v 12 12\r\nNATS/1.0\r\n\r\n\r\nSUB v 1\r\nHPUB v 12 13\r\nNATS/1.0\r\n\r\nx\r\n",
    );
    assert_eq!(
        got,
        "+OK\r\n+OK\r\n+OK\r\n+OK\r\nHMSG v 1 12 13\r\nNATS/1.0\r\n\r\nx\r\n"
    );
}

#[test]
fn subscribers_without_headers_get_plain_msg() {
    // nats-server strips the header block for clients that did not say headers:true.
    let nile = Nile::start(&[]);
    let mut old_client = nile.raw_connected(QUIET);
    assert_eq!(old_client.roundtrip(b"SUB x 1\r\n"), "");
    let mut p = nile.raw_connected(r#"{"verbose":false,"headers":true}"#);
    assert_eq!(
        p.roundtrip(b"SUB x 2\r\nHPUB x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        "HMSG x 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    assert_eq!(old_client.roundtrip(b""), "MSG x 1 r 2\r\nhi\r\n");
}

#[test]
fn hpub_header_sizes_as_nats_server() {
    // A 0-byte header block is a plain message; a short one is forwarded as is.
    let nile = Nile::start(&[]);
    let mut c = nile.raw_connected(r#"{"verbose":false,"headers":true}"#);
    assert_eq!(
        c.roundtrip(b"SUB x 1\r\nHPUB x 0 2\r\nhi\r\n"),
        "MSG x 1 2\r\nhi\r\n"
    );
    assert_eq!(
        c.roundtrip(b"HPUB x 3 3\r\nabc\r\n"),
        "HMSG x 1 3 3\r\nabc\r\n"
    );
}
