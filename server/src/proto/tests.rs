use super::encode;
use super::parse::*;
use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

const LIMITS: ParseLimits = ParseLimits {
    control_line_bytes_max: 4096,
    payload_bytes_max: 1024 * 1024,
};

fn all(input: &[u8]) -> Result<Vec<ClientOp>, ParseError> {
    let mut buf = BytesMut::from(input);
    let mut ops = Vec::new();
    while let Some(op) = parse(&mut buf, &LIMITS)? {
        ops.push(op);
    }
    Ok(ops)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn pub_with_and_without_reply() {
    let ops = all(b"PUB foo 5\r\nhello\r\npub  foo\tbar 0\r\n\r\n").unwrap();
    assert_eq!(ops.len(), 2);
    let ClientOp::Pub(p) = &ops[0] else {
        panic!("not pub")
    };
    assert_eq!(
        (p.subject.as_ref(), p.reply.clone(), p.payload.as_ref()),
        (&b"foo"[..], None, &b"hello"[..])
    );
    let ClientOp::Pub(p) = &ops[1] else {
        panic!("not pub")
    };
    assert_eq!(p.reply, Some(b("bar")));
    assert!(p.payload.is_empty());
}

#[test]
fn payload_may_hold_crlf() {
    let ops = all(b"PUB a 4\r\n\r\n\r\n\r\n").unwrap();
    let ClientOp::Pub(p) = &ops[0] else {
        panic!("not pub")
    };
    assert_eq!(p.payload.as_ref(), b"\r\n\r\n");
}

#[test]
fn hpub_counts_headers() {
    let ops = all(b"HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").unwrap();
    let ClientOp::Pub(p) = &ops[0] else {
        panic!("not pub")
    };
    assert!(p.has_headers);
    assert_eq!(p.headers_len, 12);
    assert_eq!(p.payload.len(), 14);
    assert_eq!(p.reply, Some(b("r")));
}

#[test]
fn incomplete_input_waits() {
    for input in [
        &b"PU"[..],
        b"PUB a 5\r\nhel",
        b"PUB a 5\r\nhello\r",
        b"SUB a 1",
    ] {
        let mut buf = BytesMut::from(input);
        assert_eq!(parse(&mut buf, &LIMITS), Ok(None), "{input:?}");
        assert_eq!(buf.len(), input.len());
    }
}

#[test]
fn sub_unsub_ping_pong_connect() {
    let ops = all(b"SUB a.* 1\r\nsub a q 2\r\nUNSUB 1\r\nunsub 2 5\r\nPING\r\nPONG\r\nCONNECT {\"verbose\":false}\r\n").unwrap();
    assert_eq!(
        ops[0],
        ClientOp::Sub {
            subject: b("a.*"),
            queue: None,
            sid: b("1")
        }
    );
    assert_eq!(
        ops[1],
        ClientOp::Sub {
            subject: b("a"),
            queue: Some(b("q")),
            sid: b("2")
        }
    );
    assert_eq!(
        ops[2],
        ClientOp::Unsub {
            sid: b("1"),
            max: None
        }
    );
    assert_eq!(
        ops[3],
        ClientOp::Unsub {
            sid: b("2"),
            max: Some(5)
        }
    );
    assert_eq!(&ops[4..6], &[ClientOp::Ping, ClientOp::Pong]);
    assert_eq!(ops[6], ClientOp::Connect(b("{\"verbose\":false}")));
}

#[test]
fn bare_newline_is_accepted() {
    assert_eq!(
        all(b"PING\nPONG\n").unwrap(),
        vec![ClientOp::Ping, ClientOp::Pong]
    );
}

#[test]
fn errors() {
    assert_eq!(all(b"FOO bar\r\n"), Err(ParseError::UnknownOp));
    assert_eq!(all(b"PUB a 2000000\r\n"), Err(ParseError::PayloadTooBig));
    assert!(matches!(all(b"PUB a x\r\n"), Err(ParseError::BadArgs(_))));
    assert_eq!(all(b"PUB\r\n"), Err(ParseError::UnknownOp));
    assert_eq!(all(b"UNSUB\r\n"), Err(ParseError::UnknownOp));
    assert!(matches!(all(b"SUB a\r\n"), Err(ParseError::BadArgs(_))));
    // nats-server: a max that is not a number means "now".
    assert_eq!(
        all(b"UNSUB 1 x\r\n-ERR 'x'\r\n+OK\r\n").unwrap(),
        vec![
            ClientOp::Unsub {
                sid: b("1"),
                max: Some(0)
            },
            ClientOp::Err,
            ClientOp::Ack
        ]
    );
    assert!(matches!(
        all(b"UNSUB 1 2 3\r\n"),
        Err(ParseError::BadArgs(_))
    ));
    assert!(matches!(
        all(b"HPUB a 20 10\r\n"),
        Err(ParseError::BadArgs(_))
    ));
    assert_eq!(all(b"PUB a 1\r\nxyz\r\n"), Err(ParseError::UnknownOp));
    let long = vec![b'x'; 5000];
    assert_eq!(all(&long), Err(ParseError::ControlLineTooLong));
}

#[test]
fn encode_msg_and_hmsg() {
    let mut out = BytesMut::new();
    encode::msg(&mut out, b"foo", b"1", None, 0, false, b"hi");
    encode::msg(
        &mut out,
        b"foo",
        b"22",
        Some(b"r"),
        12,
        true,
        b"NATS/1.0\r\n\r\nhi",
    );
    assert_eq!(
        &out[..],
        b"MSG foo 1 2\r\nhi\r\nHMSG foo 22 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = all(&input);
    }

    #[test]
    fn op_shaped_noise_never_panics(parts in proptest::collection::vec(
        prop_oneof![Just("PUB "), Just("HPUB "), Just("SUB "), Just("UNSUB "), Just(" "), Just("\r\n"),
                    Just("12 "), Just("a.b "), Just("4"), Just("NATS/1.0\r\n\r\n"), Just("\t")], 0..24)) {
        let _ = all(parts.concat().as_bytes());
    }

    #[test]
    fn pub_round_trips(subject in "[a-z]{1,8}(\\.[a-z*]{1,8}){0,3}", reply in proptest::option::of("[A-Z_.]{1,12}"),
                       payload in proptest::collection::vec(any::<u8>(), 0..300), split in 0usize..400) {
        let mut wire = BytesMut::new();
        wire.put_slice(b"PUB ");
        wire.put_slice(subject.as_bytes());
        if let Some(r) = &reply { wire.put_u8(b' '); wire.put_slice(r.as_bytes()); }
        wire.put_u8(b' ');
        encode::put_decimal(&mut wire, payload.len() as u64);
        wire.put_slice(b"\r\n");
        wire.put_slice(&payload);
        wire.put_slice(b"\r\n");
        // Feed in two pieces: the parser must wait, then yield the same op.
        let split = split.min(wire.len());
        let mut buf = BytesMut::from(&wire[..split]);
        let mut got = parse(&mut buf, &LIMITS).unwrap();
        if got.is_none() {
            buf.extend_from_slice(&wire[split..]);
            got = parse(&mut buf, &LIMITS).unwrap();
        }
        let Some(ClientOp::Pub(p)) = got else { panic!("no pub") };
        prop_assert_eq!(p.subject.as_ref(), subject.as_bytes());
        prop_assert_eq!(p.reply.as_deref(), reply.as_ref().map(|r| r.as_bytes()));
        prop_assert_eq!(p.payload.as_ref(), &payload[..]);
    }
}

proptest! {
    #[test]
    fn decimals_match_display(n in any::<u64>(), small in 0u64..1000) {
        for v in [n, small, u64::MAX, 0, 9, 10, 99, 100] {
            let want = v.to_string();
            let mut out = BytesMut::new();
            encode::put_decimal(&mut out, v);
            prop_assert_eq!(&out[..], want.as_bytes());
            let mut vec = Vec::new();
            encode::push_decimal(&mut vec, v);
            prop_assert_eq!(&vec[..], want.as_bytes());
        }
    }
}

proptest! {
    #[test]
    fn msg_parts_writes_what_msg_writes(subject in "[a-z]{1,8}(\\.[a-z]{1,8}){0,3}",
                                        reply in proptest::option::of("[A-Z_.]{1,12}"),
                                        cut in 0usize..12,
                                        headers in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                                        body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let joined = [headers.clone().unwrap_or_default(), body.clone()].concat();
        let mut want = BytesMut::new();
        let headers_len = headers.as_ref().map_or(0, Vec::len);
        encode::msg(&mut want, subject.as_bytes(), b"7", reply.as_deref().map(str::as_bytes),
                    headers_len, headers.is_some(), &joined);
        // The reply in two pieces, cut anywhere.
        let r = reply.as_deref().unwrap_or_default().as_bytes();
        let (a, b) = r.split_at(cut.min(r.len()));
        let mut got = BytesMut::new();
        encode::msg_parts(&mut got, subject.as_bytes(), b"7", [a, b], headers.as_deref(), &body);
        prop_assert_eq!(&got[..], &want[..]);
    }
}

proptest! {
    /// The PUB/HPUB fast path yields exactly what the general parser does,
    /// ops and errors, however the line is spelled.
    #[test]
    fn fast_path_agrees_with_the_general_parser(parts in proptest::collection::vec(
        prop_oneof![Just("PUB "), Just("HPUB "), Just("pub "), Just(" "), Just("  "), Just("\t"),
                    Just("\r\n"), Just("\n"), Just("\r"), Just("a.b"), Just("_INBOX.x.y"),
                    Just("0"), Just("2"), Just("12"), Just("4"), Just("hi"), Just("NATS/1.0\r\n\r\n"),
                    Just("PING\r\n"), Just("$JS.API.STREAM.MSG.GET.benchstream"),
                    Just("_INBOX.0123456789abcdefghijkl.17")], 0..24), limit in 8usize..160) {
        let wire = parts.concat();
        let limits = ParseLimits { control_line_bytes_max: limit, payload_bytes_max: 64 };
        let mut fast = BytesMut::from(wire.as_bytes());
        let mut general = BytesMut::from(wire.as_bytes());
        loop {
            let a = parse(&mut fast, &limits);
            let b = super::parse::parse_general(&mut general, &limits);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&fast[..], &general[..]);
            if !matches!(a, Ok(Some(_))) {
                break;
            }
        }
    }
}

proptest! {
    /// Nearly well-formed PUB/HPUB frames, with the separators and line ends
    /// varied: the fast path and the general parser agree on each.
    #[test]
    fn fast_path_agrees_on_near_pubs(hpub: bool, reply: bool,
                                     seps in proptest::collection::vec(prop_oneof![Just(" "), Just("  "), Just("\t")], 4),
                                     end in prop_oneof![Just("\r\n"), Just("\n"), Just(" \r\n")],
                                     payload in "[a-z]{0,6}", hdr in 0usize..4, extra in 0usize..2) {
        let mut wire = String::from(if hpub { "HPUB" } else { "PUB" });
        wire.push_str(seps[0]);
        wire.push_str("s.x");
        if reply {
            wire.push_str(seps[1]);
            wire.push_str("_INBOX.r");
        }
        if hpub {
            wire.push_str(seps[2]);
            wire.push_str(&hdr.min(payload.len()).to_string());
        }
        wire.push_str(seps[3]);
        wire.push_str(&(payload.len() + extra).to_string());
        wire.push_str(end);
        wire.push_str(&payload);
        wire.push_str("\r\nPING\r\n");
        let limits = ParseLimits { control_line_bytes_max: 1024, payload_bytes_max: 1024 };
        let mut fast = BytesMut::from(wire.as_bytes());
        let mut general = BytesMut::from(wire.as_bytes());
        let a = parse(&mut fast, &limits);
        let b = super::parse::parse_general(&mut general, &limits);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&fast[..], &general[..]);
    }
}
