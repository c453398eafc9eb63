//! The limits of operator-mode JWTs: a user's `subs`, `payload` and `src`,
//! an account's `conn`, `subs` and `payload`, answered on the wire as
//! nats-server answers them. Raw CONNECTs, so every byte is checked.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nile_tests::{Nile, Raw};
use nkeys::KeyPair;
use serde_json::{json, Value};

const SUBS_EXCEEDED: &str = "-ERR 'maximum subscriptions exceeded'\r\n";
const PAYLOAD_VIOLATION: &str = "-ERR 'Maximum Payload Violation'\r\n<EOF>";

fn encode(signer: &KeyPair, claims: Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let sig = signer.sign(format!("{h}.{c}").as_bytes()).unwrap();
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A server trusting one operator and one account with these `limits`
/// (unlisted ones unlimited), and that account's key.
fn server_with_account(limits: Value) -> (Nile, KeyPair) {
    let op = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let op_jwt = encode(
        &op,
        json!({"iss": op.public_key(), "sub": op.public_key(), "nats": {"type": "operator", "version": 2}}),
    );
    let mut all = json!({"conn": -1, "subs": -1, "leaf": -1, "imports": -1, "exports": -1, "data": -1, "payload": -1, "wildcards": true});
    for (k, v) in limits.as_object().unwrap() {
        all[k] = v.clone();
    }
    let acc_jwt = encode(
        &op,
        json!({"iss": op.public_key(), "sub": account.public_key(), "nats": {"type": "account", "version": 2, "limits": all}}),
    );
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{\n  {}: \"{acc_jwt}\"\n}}\n",
        account.public_key()
    );
    (Nile::start_with_config(&config, &[]), account)
}

/// A bearer user JWT of `account` with `nats` claims; `subs`, `data` and
/// `payload` default to -1 (unlimited) unless `nats` sets them.
fn bearer(account: &KeyPair, nats: Value) -> String {
    let user = KeyPair::new_user();
    let mut all = json!({"type": "user", "version": 2, "bearer_token": true, "subs": -1, "data": -1, "payload": -1});
    for (k, v) in nats.as_object().unwrap() {
        all[k] = v.clone();
    }
    encode(
        account,
        json!({"iss": account.public_key(), "sub": user.public_key(), "nats": all}),
    )
}

/// CONNECT with `jwt`, then PING: `"OK"` and the open connection when PONG
/// came back, else what the server said (ending `<EOF>` if it closed).
fn login(nile: &Nile, jwt: &str) -> (Raw, String) {
    let mut raw = nile.raw();
    let connect = json!({"verbose": false, "pedantic": false, "headers": true, "jwt": jwt});
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let first = raw.line();
    if first == "PONG\r\n" {
        return (raw, "OK".into());
    }
    // Closing with the PING unread may reset the socket instead.
    let rest = raw
        .read_for(Duration::from_secs(5))
        .replace("<RESET>", "<EOF>");
    (raw, first + &rest)
}

#[test]
fn user_subs_limit_refuses_the_sub_beyond_it_and_keeps_the_connection() {
    let (nile, account) = server_with_account(json!({}));
    let (mut raw, got) = login(&nile, &bearer(&account, json!({"subs": 2})));
    assert_eq!(got, "OK");
    assert_eq!(raw.roundtrip(b"SUB a 1\r\nSUB b 2\r\n"), "");
    assert_eq!(raw.roundtrip(b"SUB c 3\r\n"), SUBS_EXCEEDED);
    // At the limit even a SUB repeating a live sid is refused.
    assert_eq!(raw.roundtrip(b"SUB a 1\r\n"), SUBS_EXCEEDED);
    // The refused SUB did not subscribe; the two others still deliver.
    assert_eq!(
        raw.roundtrip(b"PUB c 1\r\nx\r\nPUB b 1\r\ny\r\n"),
        "MSG b 2 1\r\ny\r\n"
    );
    // An UNSUB makes room again.
    assert_eq!(raw.roundtrip(b"UNSUB 1\r\nSUB c 3\r\n"), "");
    assert_eq!(raw.roundtrip(b"PUB c 1\r\nz\r\n"), "MSG c 3 1\r\nz\r\n");
}

#[test]
fn subs_spent_by_an_unsub_max_free_their_place() {
    let (nile, account) = server_with_account(json!({}));
    let (mut raw, _) = login(&nile, &bearer(&account, json!({"subs": 1})));
    assert_eq!(raw.roundtrip(b"SUB a 1\r\nUNSUB 1 1\r\n"), "");
    assert_eq!(raw.roundtrip(b"PUB a 1\r\nx\r\n"), "MSG a 1 1\r\nx\r\n");
    assert_eq!(raw.roundtrip(b"SUB b 2\r\n"), "");
    assert_eq!(raw.roundtrip(b"SUB c 3\r\n"), SUBS_EXCEEDED);
}

#[test]
fn zero_subs_allowed_closes_the_connection_after_connect() {
    let (nile, account) = server_with_account(json!({}));
    assert_closed_for_no_subs(&nile, &bearer(&account, json!({"subs": 0})));
}

/// nats-server completes the CONNECT (the PING is answered), says why, and
/// closes the connection 20 ms later; its `-ERR` may overtake the PONG.
fn assert_closed_for_no_subs(nile: &Nile, jwt: &str) {
    let mut raw = nile.raw();
    let connect = json!({"verbose": false, "pedantic": false, "jwt": jwt});
    let got = raw.send_until_close(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let pong_first = format!("PONG\r\n{SUBS_EXCEEDED}<EOF>");
    let err_first = format!("{SUBS_EXCEEDED}PONG\r\n<EOF>");
    assert!(got == pong_first || got == err_first, "{got:?}");
}

#[test]
fn user_payload_limit_closes_on_the_pub_beyond_it() {
    let (nile, account) = server_with_account(json!({}));
    let (mut raw, got) = login(&nile, &bearer(&account, json!({"payload": 10})));
    assert_eq!(got, "OK");
    // INFO goes out before CONNECT: it shows the server's max_payload.
    assert_eq!(raw.info["max_payload"], 1024 * 1024);
    assert_eq!(
        raw.roundtrip(b"SUB p 1\r\nPUB p 10\r\n0123456789\r\n"),
        "MSG p 1 10\r\n0123456789\r\n"
    );
    // The limit counts headers and payload together.
    let got = raw.send_until_close(b"HPUB p 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    assert_eq!(got, PAYLOAD_VIOLATION);
    let (mut raw, _) = login(&nile, &bearer(&account, json!({"payload": 10})));
    let got = raw.send_until_close(b"PUB p 11\r\n01234567890\r\n");
    assert_eq!(got, PAYLOAD_VIOLATION);
}

#[test]
fn absent_limits_mean_zero() {
    let (nile, account) = server_with_account(json!({}));
    let user = KeyPair::new_user();
    // No `subs`, `data` or `payload` claims at all.
    let jwt = encode(
        &account,
        json!({"iss": account.public_key(), "sub": user.public_key(), "nats": {"type": "user", "version": 2, "bearer_token": true}}),
    );
    assert_closed_for_no_subs(&nile, &jwt);
    // With subscriptions allowed, an empty payload passes and a byte does not.
    let jwt = encode(
        &account,
        json!({"iss": account.public_key(), "sub": user.public_key(), "nats": {"type": "user", "version": 2, "bearer_token": true, "subs": -1}}),
    );
    let (mut raw, got) = login(&nile, &jwt);
    assert_eq!(got, "OK");
    assert_eq!(raw.roundtrip(b"PUB e 0\r\n\r\n"), "");
    assert_eq!(raw.send_until_close(b"PUB e 1\r\nx\r\n"), PAYLOAD_VIOLATION);
}

#[test]
fn data_limit_is_not_enforced_for_clients() {
    let (nile, account) = server_with_account(json!({"data": 1}));
    let (mut raw, _) = login(&nile, &bearer(&account, json!({"data": 1})));
    let body = "x".repeat(100);
    let pubs = format!("SUB d 1\r\nPUB d 100\r\n{body}\r\nPUB d 100\r\n{body}\r\n");
    let want = format!("MSG d 1 100\r\n{body}\r\n").repeat(2);
    assert_eq!(raw.roundtrip(pubs.as_bytes()), want);
}

#[test]
fn account_conn_limit_refuses_the_connection_beyond_it() {
    let (nile, account) = server_with_account(json!({"conn": 2}));
    let jwt = bearer(&account, json!({}));
    let (first, got) = login(&nile, &jwt);
    assert_eq!(got, "OK");
    let (_second, got) = login(&nile, &jwt);
    assert_eq!(got, "OK");
    let (_, got) = login(&nile, &jwt);
    assert_eq!(
        got,
        "-ERR 'maximum account active connections exceeded'\r\n<EOF>"
    );
    // A connection that has not sent CONNECT yet does not count.
    let _pending = nile.raw();
    drop(first);
    let mut got = String::new();
    for _ in 0..50 {
        got = login(&nile, &jwt).1;
        if got == "OK" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, "OK", "the closed connection's place was not freed");
}

#[test]
fn account_with_zero_connections_refuses_every_one() {
    let (nile, account) = server_with_account(json!({"conn": 0}));
    let (_, got) = login(&nile, &bearer(&account, json!({})));
    assert_eq!(
        got,
        "-ERR 'maximum account active connections exceeded'\r\n<EOF>"
    );
}

#[test]
fn account_subs_and_payload_limits_bound_the_users() {
    let (nile, account) = server_with_account(json!({"subs": 1, "payload": 4}));
    // The user's own limits are looser: the account's hold.
    let jwt = bearer(&account, json!({"subs": 5, "payload": 100}));
    let (mut raw, got) = login(&nile, &jwt);
    assert_eq!(got, "OK");
    assert_eq!(raw.roundtrip(b"SUB a 1\r\n"), "");
    assert_eq!(raw.roundtrip(b"SUB b 2\r\n"), SUBS_EXCEEDED);
    // The subs limit is per connection, not for the whole account.
    let (mut other, _) = login(&nile, &jwt);
    assert_eq!(other.roundtrip(b"SUB b 2\r\n"), "");
    assert_eq!(
        raw.roundtrip(b"PUB a 4\r\nabcd\r\n"),
        "MSG a 1 4\r\nabcd\r\n"
    );
    assert_eq!(
        raw.send_until_close(b"PUB a 5\r\nabcde\r\n"),
        PAYLOAD_VIOLATION
    );
    // A tighter user limit wins over the account's.
    let (mut raw, _) = login(&nile, &bearer(&account, json!({"payload": 2})));
    assert_eq!(
        raw.send_until_close(b"PUB a 3\r\nabc\r\n"),
        PAYLOAD_VIOLATION
    );
}

#[test]
fn user_src_cidrs_limit_where_it_may_connect_from() {
    let (nile, account) = server_with_account(json!({}));
    let (_, got) = login(&nile, &bearer(&account, json!({"src": ["10.0.0.0/8"]})));
    assert_eq!(got, "-ERR 'Authorization Violation'\r\n<EOF>");
    let jwt = bearer(&account, json!({"src": ["10.0.0.0/8", "127.0.0.0/8"]}));
    assert_eq!(login(&nile, &jwt).1, "OK");
    let jwt = bearer(&account, json!({"src": ["127.0.0.1/32"]}));
    assert_eq!(login(&nile, &jwt).1, "OK");
}

/// `HH:MM:SS` (UTC) of a Unix second.
fn hms(unix_s: i64) -> String {
    let s = unix_s.rem_euclid(24 * 3600);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[test]
fn user_times_limit_when_it_may_connect() {
    // The windows are read in the server's zone (UTC on the machines this runs on).
    let (nile, account) = server_with_account(json!({}));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let later = json!([{"start": hms(now + 3600), "end": hms(now + 7200)}]);
    let (_, got) = login(&nile, &bearer(&account, json!({"times": later})));
    assert_eq!(got, "-ERR 'Authorization Violation'\r\n<EOF>");
    // Inside a window: connected until it ends.
    let closing = json!([
        {"start": hms(now - 60), "end": hms(now + 4)},
        {"start": hms(now + 3600), "end": hms(now + 7200)}
    ]);
    let jwt = bearer(&account, json!({"times": closing, "times_location": "UTC"}));
    let (mut raw, got) = login(&nile, &jwt);
    assert_eq!(got, "OK");
    let got = raw.read_for(Duration::from_secs(10));
    // nats-server may PING first (about 2 s after CONNECT).
    let got = got.trim_start_matches("PING\r\n");
    assert_eq!(got, "-ERR 'User Authentication Expired'\r\n<EOF>");
}

#[tokio::test]
async fn async_nats_client_past_the_account_conn_limit_is_refused() {
    let (nile, account) = server_with_account(json!({"conn": 1}));
    let jwt = bearer(&account, json!({}));
    let connect = |jwt: String| {
        async_nats::ConnectOptions::with_jwt(jwt, |_| async { Ok(Vec::new()) })
            .connection_timeout(Duration::from_secs(5))
            .connect(nile.url())
    };
    let first = connect(jwt.clone())
        .await
        .expect("the first connection fits");
    let refused = connect(jwt.clone()).await;
    let Err(err) = refused else {
        panic!("the second connection is refused");
    };
    assert!(
        err.to_string()
            .contains("maximum account active connections exceeded"),
        "{err}"
    );
    // The first still works.
    first.flush().await.unwrap();
}
