//! Decentralised auth: nkey users (a signed INFO nonce) and operator mode
//! (`operator`, `resolver: MEMORY`, `resolver_preload`) with user JWTs,
//! driven by async-nats's own nkey and JWT logins and by raw CONNECTs.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nile_tests::{Nile, Raw};
use nkeys::KeyPair;
use serde_json::{json, Value};

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n<EOF>";

/// A NATS JWT (v2 header) with `claims`, signed by `signer`.
fn encode(signer: &KeyPair, claims: Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let sig = signer.sign(format!("{h}.{c}").as_bytes()).unwrap();
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sign the nonce of a fresh raw connection's INFO and send CONNECT with `fields`.
fn raw_login(nile: &Nile, signer: Option<&KeyPair>, fields: Value) -> (Raw, String) {
    let mut raw = nile.raw();
    let nonce = raw.info["nonce"].as_str().expect("INFO nonce").to_string();
    let mut connect = json!({"verbose": false, "pedantic": false});
    for (k, v) in fields.as_object().unwrap() {
        connect[k] = v.clone();
    }
    if let Some(kp) = signer {
        connect["sig"] = URL_SAFE_NO_PAD
            .encode(kp.sign(nonce.as_bytes()).unwrap())
            .into();
    }
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    let first = raw.line();
    if first == "PONG\r\n" {
        return (raw, "OK".into());
    }
    let rest = raw.read_for(Duration::from_secs(5));
    (raw, first + &rest)
}

#[tokio::test]
async fn nkey_user_signs_the_nonce() {
    let user = KeyPair::new_user();
    let stranger = KeyPair::new_user();
    let config = format!(
        "authorization {{ users [ {{ nkey: {}, permissions: {{ publish: \"ok.>\", subscribe: \"ok.>\" }} }} ] }}\n",
        user.public_key()
    );
    let nile = Nile::start_with_config(&config, &[]);
    let info = nile.raw().info;
    assert_eq!(info["auth_required"], true);
    assert!(
        info["nonce"].as_str().is_some_and(|n| n.len() >= 11),
        "{info}"
    );

    let nc = async_nats::ConnectOptions::with_nkey(user.seed().unwrap())
        .connect(nile.url())
        .await
        .expect("nkey login");
    let mut sub = nc.subscribe("ok.x").await.unwrap();
    nc.publish("ok.x", "hi".into()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"hi");

    let pk = user.public_key();
    let (_, got) = raw_login(&nile, Some(&user), json!({"nkey": pk}));
    assert_eq!(got, "OK");
    // Signed by someone else, unsigned, or a key that is not configured.
    assert_eq!(
        raw_login(&nile, Some(&stranger), json!({"nkey": pk})).1,
        VIOLATION
    );
    assert_eq!(raw_login(&nile, None, json!({"nkey": pk})).1, VIOLATION);
    let other = stranger.public_key();
    assert_eq!(
        raw_login(&nile, Some(&stranger), json!({"nkey": other})).1,
        VIOLATION
    );
    // The nkey user's permissions hold.
    let (mut raw, _) = raw_login(&nile, Some(&user), json!({"nkey": pk}));
    let got = raw.roundtrip(b"PUB nope 0\r\n\r\n");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"nope\"'\r\n"
    );
}

/// An operator, one account it signed, and the config that trusts them.
struct Operator {
    account: KeyPair,
    config: String,
}

fn operator() -> Operator {
    operator_with_account_exp(None)
}

fn operator_with_account_exp(exp: Option<i64>) -> Operator {
    let op = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let op_jwt = encode(
        &op,
        json!({"iss": op.public_key(), "sub": op.public_key(), "name": "O", "nats": {"type": "operator", "version": 2}}),
    );
    let mut acc_claims = json!({"iss": op.public_key(), "sub": account.public_key(), "name": "A", "nats": {"type": "account", "version": 2, "limits": {"conn": -1, "subs": -1, "leaf": -1, "imports": -1, "exports": -1, "data": -1, "payload": -1, "wildcards": true}}});
    if let Some(exp) = exp {
        acc_claims["exp"] = exp.into();
    }
    let acc_jwt = encode(&op, acc_claims);
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{\n  {}: \"{acc_jwt}\"\n}}\n",
        account.public_key()
    );
    Operator { account, config }
}

fn user_jwt(account: &KeyPair, user: &KeyPair, nats: Value, exp: Option<i64>) -> String {
    let mut nats = nats;
    nats["type"] = "user".into();
    nats["version"] = 2.into();
    // What every JWT tool writes: no limits (absent means 0 to nats-server).
    for limit in ["subs", "data", "payload"] {
        nats[limit] = (-1).into();
    }
    let mut claims =
        json!({"iss": account.public_key(), "sub": user.public_key(), "name": "U", "nats": nats});
    if let Some(exp) = exp {
        claims["exp"] = exp.into();
    }
    encode(account, claims)
}

#[tokio::test]
async fn operator_mode_user_jwts() {
    let op = operator();
    let nile = Nile::start_with_config(&op.config, &[]);
    assert_eq!(nile.raw().info["auth_required"], true);
    let user = Arc::new(KeyPair::new_user());
    let jwt = user_jwt(
        &op.account,
        &user,
        json!({"pub": {"deny": ["secret.>"]}}),
        None,
    );

    let signer = user.clone();
    let nc = async_nats::ConnectOptions::with_jwt(jwt.clone(), move |nonce| {
        let kp = signer.clone();
        async move { kp.sign(&nonce).map_err(async_nats::AuthError::new) }
    })
    .connect(nile.url())
    .await
    .expect("JWT login");
    let mut sub = nc.subscribe("jobs").await.unwrap();
    nc.publish("jobs", "1".into()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"1");

    // The JWT's permissions hold.
    let (mut raw, got) = raw_login(&nile, Some(&user), json!({"jwt": jwt}));
    assert_eq!(got, "OK");
    let got = raw.roundtrip(b"PUB secret.x 0\r\n\r\n");
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n"
    );

    // Not signed, signed by another key, expired, or issued by an unknown account.
    assert_eq!(raw_login(&nile, None, json!({"jwt": jwt})).1, VIOLATION);
    let stranger = KeyPair::new_user();
    assert_eq!(
        raw_login(&nile, Some(&stranger), json!({"jwt": jwt})).1,
        VIOLATION
    );
    let expired = user_jwt(&op.account, &user, json!({}), Some(now_s() - 10));
    assert_eq!(
        raw_login(&nile, Some(&user), json!({"jwt": expired})).1,
        VIOLATION
    );
    let rogue = KeyPair::new_account();
    let foreign = user_jwt(&rogue, &user, json!({}), None);
    assert_eq!(
        raw_login(&nile, Some(&user), json!({"jwt": foreign})).1,
        VIOLATION
    );
    // Plain user/password logins do not exist in operator mode.
    assert_eq!(
        raw_login(&nile, None, json!({"user": "a", "pass": "b"})).1,
        VIOLATION
    );
    // A bearer token needs no signature.
    let bearer = user_jwt(&op.account, &user, json!({"bearer_token": true}), None);
    assert_eq!(raw_login(&nile, None, json!({"jwt": bearer})).1, "OK");
}

#[test]
fn expiring_user_jwt_is_disconnected() {
    let op = operator();
    let nile = Nile::start_with_config(&op.config, &[]);
    let user = KeyPair::new_user();
    let jwt = user_jwt(
        &op.account,
        &user,
        json!({"bearer_token": true}),
        Some(now_s() + 2),
    );
    let (mut raw, got) = raw_login(&nile, None, json!({"jwt": jwt}));
    assert_eq!(got, "OK");
    let got = raw.read_for(Duration::from_secs(6));
    assert_eq!(got, "-ERR 'User Authentication Expired'\r\n<EOF>");
}

#[test]
fn operator_jwt_that_does_not_verify_stops_start_up() {
    let op = KeyPair::new_operator();
    let mut op_jwt = encode(
        &op,
        json!({"iss": op.public_key(), "sub": op.public_key(), "nats": {"type": "operator"}}),
    );
    op_jwt.truncate(op_jwt.len() - 4);
    op_jwt.push_str("AAAA");
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, format!("operator: {op_jwt}\nresolver: MEMORY\n")).unwrap();
    let out = std::process::Command::new(nile_tests::nile_bin())
        .args(["-c", conf.to_str().unwrap(), "-p", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("operator"), "{err}");
}

#[test]
fn expiring_account_jwt_disconnects_its_users() {
    // Long enough for start-up on a loaded machine, short enough to wait for.
    let op = operator_with_account_exp(Some(now_s() + 5));
    let nile = Nile::start_with_config(&op.config, &[]);
    let user = KeyPair::new_user();
    let jwt = user_jwt(&op.account, &user, json!({"bearer_token": true}), None);
    let (mut raw, got) = raw_login(&nile, None, json!({"jwt": jwt}));
    assert_eq!(got, "OK");
    let got = raw.read_for(Duration::from_secs(10));
    // nats-server may PING first (about 2 s after CONNECT).
    let got = got.trim_start_matches("PING\r\n");
    assert_eq!(got, "-ERR 'Account Authentication Expired'\r\n<EOF>");
}

/// A v1 JWT (`alg: ed25519`, the type at the top level, the claims part
/// alone signed), as older tools wrote them.
fn encode_v1(signer: &KeyPair, claims: Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"typ":"jwt","alg":"ed25519"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let sig = signer.sign(c.as_bytes()).unwrap();
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn v1_user_jwt_without_limits_is_not_limited() {
    // v1 claims predate the limits: none written means none (nats.py's own
    // fixtures are such JWTs), unlike a v2 JWT where absent reads as 0.
    let op = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let op_jwt = encode_v1(
        &op,
        json!({"iss": op.public_key(), "sub": op.public_key(), "name": "O", "type": "operator"}),
    );
    let acc_jwt = encode_v1(
        &op,
        json!({"iss": op.public_key(), "sub": account.public_key(), "name": "A", "type": "account",
               "nats": {"limits": {"subs": -1, "conn": -1, "data": -1, "payload": -1}}}),
    );
    let user_jwt = encode_v1(
        &account,
        json!({"iss": account.public_key(), "sub": user.public_key(), "name": "U", "type": "user",
               "nats": {"pub": {}, "sub": {}}}),
    );
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload {{\n  {}: \"{acc_jwt}\"\n}}\n",
        account.public_key()
    );
    let nile = Nile::start_with_config(&config, &[]);
    let (mut raw, got) = raw_login(&nile, Some(&user), json!({"jwt": user_jwt}));
    assert_eq!(got, "OK");
    let got = raw.roundtrip(b"SUB help 1\r\nPUB help 2\r\nok\r\n");
    assert_eq!(got, "MSG help 1 2\r\nok\r\n");
}
