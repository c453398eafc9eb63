//! Monitoring over NATS from the system account: `$SYS.REQ.SERVER.PING`,
//! `$SYS.REQ.SERVER.PING.<EP>`, `$SYS.REQ.SERVER.<id>.<EP>` and
//! `$SYS.REQ.ACCOUNT.<acc>.<EP>` answered in nats-server's envelope, and
//! nothing answered for other accounts.

use std::time::Duration;

use async_nats::{Client, ConnectOptions};
use nile_tests::Nile;
use serde_json::{json, Value};

const CONFIG: &str = r#"
server_name: n1
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}] }
}
system_account: SYS
"#;

fn start() -> Nile {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("nile.conf");
    std::fs::write(&conf, CONFIG).expect("config");
    let conf = conf.display().to_string();
    Nile::start_in(dir, &["-c", &conf])
}

async fn login(nile: &Nile, user: &str) -> Client {
    ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(nile.url())
        .await
        .expect("connect")
}

async fn ask(c: &Client, subject: &str, body: &str) -> Value {
    let m = tokio::time::timeout(
        Duration::from_secs(5),
        c.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("answered in time")
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&m.payload).expect("JSON answer")
}

async fn no_responders(c: &Client, subject: &str) -> bool {
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        c.request(subject.to_string(), "".into()),
    )
    .await
    .expect("answered in time");
    matches!(r, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders)
}

fn assert_envelope(v: &Value, id: &str) {
    let s = &v["server"];
    assert_eq!((&s["id"], &s["name"]), (&json!(id), &json!("n1")), "{v}");
    for key in ["host", "ver", "jetstream", "flags", "seq", "time"] {
        assert!(s.get(key).is_some(), "server.{key} missing: {v}");
    }
}

#[tokio::test]
async fn ping_answers_with_the_servers_stats() {
    let nile = start();
    let sys = login(&nile, "sys").await;
    let id = sys.server_info().server_id;
    for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"] {
        let v = ask(&sys, subject, "").await;
        assert_envelope(&v, &id);
        let st = &v["statsz"];
        assert!(st["connections"].as_u64() >= Some(1), "{v}");
        assert!(st["received"]["msgs"].as_u64() >= Some(1), "{v}");
        for key in [
            "start",
            "mem",
            "cores",
            "total_connections",
            "subscriptions",
            "slow_consumers",
        ] {
            assert!(st.get(key).is_some(), "statsz.{key} missing: {v}");
        }
    }
}

#[tokio::test]
async fn endpoints_answer_by_ping_and_by_server_id() {
    let nile = start();
    let sys = login(&nile, "sys").await;
    let id = sys.server_info().server_id;
    let a = login(&nile, "a").await;
    let _sub = a.subscribe("orders.new").await.unwrap();
    a.flush().await.unwrap();

    for subject in [
        "$SYS.REQ.SERVER.PING.VARZ".to_string(),
        format!("$SYS.REQ.SERVER.{id}.VARZ"),
    ] {
        let v = ask(&sys, &subject, "").await;
        assert_envelope(&v, &id);
        assert_eq!(v["data"]["server_id"], id, "{v}");
        assert_eq!(v["data"]["server_name"], "n1", "{v}");
    }
    let v = ask(
        &sys,
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"subscriptions":true}"#,
    )
    .await;
    let conns = v["data"]["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 2, "{v}");
    assert!(
        conns
            .iter()
            .any(|c| c["subscriptions_list"] == json!(["orders.new"])),
        "{v}"
    );
    // Scoped to one account.
    let v = ask(&sys, "$SYS.REQ.ACCOUNT.A.CONNZ", "").await;
    assert_eq!(v["data"]["num_connections"], 1, "{v}");
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await;
    assert_eq!(
        v["data"],
        json!({"status": "ok", "status_code": 200}),
        "{v}"
    );
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await;
    assert_eq!(v["id"], id, "IDZ has no envelope: {v}");
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", "").await;
    assert_eq!(v["data"]["system_account"], "SYS", "{v}");
    // A bad options body is answered with an error in the envelope.
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.CONNZ", "{bad").await;
    assert_envelope(&v, &id);
    assert_eq!(v["error"]["code"], 400, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert!(no_responders(&sys, "$SYS.REQ.SERVER.PING.NOPE").await);
}

#[tokio::test]
async fn only_the_system_account_is_answered() {
    let nile = start();
    let a = login(&nile, "a").await;
    assert!(no_responders(&a, "$SYS.REQ.SERVER.PING").await);
    assert!(no_responders(&a, "$SYS.REQ.SERVER.PING.VARZ").await);
}

#[tokio::test]
async fn connects_and_disconnects_are_announced() {
    let nile = start();
    let sys = login(&nile, "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.A.*").await.unwrap();
    sys.flush().await.unwrap();
    let a = ConnectOptions::with_user_and_password("a".into(), "a".into())
        .name("client-a")
        .connect(nile.url())
        .await
        .unwrap();
    a.publish("x", "hello".into()).await.unwrap();
    a.flush().await.unwrap();
    drop(a);
    let connect = next_event(&mut events, "CONNECT").await;
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    let c = &connect["client"];
    assert_eq!(
        (&c["acc"], &c["user"], &c["name"]),
        (&json!("A"), &json!("a"), &json!("client-a"))
    );
    assert_eq!(c["kind"], "Client", "{connect}");
    let disconnect = next_event(&mut events, "DISCONNECT").await;
    assert_eq!(
        disconnect["type"],
        "io.nats.server.advisory.v1.client_disconnect"
    );
    assert_eq!(disconnect["client"]["id"], c["id"], "{disconnect}");
    assert_eq!(
        disconnect["sent"],
        json!({"msgs": 1, "bytes": 5}),
        "{disconnect}"
    );
    assert_eq!(disconnect["reason"], "Client Closed", "{disconnect}");
}

/// The next event of `kind` for account A (others are skipped).
async fn next_event(events: &mut async_nats::Subscriber, kind: &str) -> Value {
    use futures::StreamExt;
    let want = format!("$SYS.ACCOUNT.A.{kind}");
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("event in time")
            .expect("subscription open");
        if m.subject.as_str() == want {
            return serde_json::from_slice(&m.payload).expect("JSON event");
        }
    }
}
