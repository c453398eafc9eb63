//! Accounts are separate subject spaces: a client sees only messages
//! published in its own account (`$G` for users without one, the
//! `no_auth_user`'s account for anonymous clients), and monitoring shows
//! each connection and subscription in its account.

#[path = "monitor_common/mod.rs"]
mod monitor_common;

use std::time::Duration;

use monitor_common::get_json;
use nile_tests::{Nile, Raw};

const ACCOUNTS: &str = r#"
accounts {
  A: {
    users: [
      {user: a, password: a},
      {user: a2, password: a2, permissions: {
        publish: "$SYS.REQ.USER.INFO", subscribe: ["q.>", "_INBOX.>"], allow_responses: true
      }}
    ]
  }
  B: { users: [{user: b, password: b}, {user: anon}] }
}
authorization { users: [{user: g, password: g}] }
no_auth_user: anon
"#;

fn login(nile: &Nile, user: &str) -> Raw {
    let creds = if user.is_empty() {
        String::new()
    } else {
        format!(r#","user":"{user}","pass":"{user}""#)
    };
    nile.raw_connected(&format!(r#"{{"verbose":false,"pedantic":false{creds}}}"#))
}

/// What arrives within a short wait, without the trailing `<OPEN>`.
fn received(c: &mut Raw) -> String {
    let got = c.read_for(Duration::from_millis(300));
    got.trim_end_matches("<OPEN>").to_string()
}

#[test]
fn messages_stay_in_their_account() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let mut a3 = login(&nile, "a");
    let mut b = login(&nile, "b");
    let mut g = login(&nile, "g");
    for c in [&mut a, &mut a3, &mut b, &mut g] {
        assert_eq!(c.roundtrip(b"SUB foo.> 1\r\n"), "");
    }
    a.send(b"PUB foo.a 1\r\na\r\n");
    b.send(b"PUB foo.b 1\r\nb\r\n");
    g.send(b"PUB foo.g 1\r\ng\r\n");
    assert_eq!(received(&mut a3), "MSG foo.a 1 1\r\na\r\n");
    assert_eq!(received(&mut a), "MSG foo.a 1 1\r\na\r\n");
    assert_eq!(received(&mut b), "MSG foo.b 1 1\r\nb\r\n");
    assert_eq!(received(&mut g), "MSG foo.g 1 1\r\ng\r\n");
}

#[test]
fn no_auth_user_joins_its_account() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut anon = login(&nile, "");
    let mut b = login(&nile, "b");
    let mut a = login(&nile, "a");
    assert_eq!(anon.roundtrip(b"SUB q 1\r\n"), "");
    assert_eq!(a.roundtrip(b"SUB q 1\r\n"), "");
    b.send(b"PUB q 2\r\nhi\r\n");
    assert_eq!(received(&mut anon), "MSG q 1 2\r\nhi\r\n");
    assert_eq!(received(&mut a), "");
}

#[test]
fn no_responders_only_counts_the_own_account() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let mut a = login(&nile, "a");
    let connect = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"user":"b","pass":"b"}"#;
    let mut b = nile.raw_connected(connect);
    assert_eq!(a.roundtrip(b"SUB svc 1\r\n"), "");
    let got = b.roundtrip(b"SUB _INBOX.r 1\r\nPUB svc _INBOX.r 0\r\n\r\n");
    let got = got + &received(&mut b);
    assert!(got.starts_with("HMSG _INBOX.r 1 "), "{got}");
    assert!(got.contains("NATS/1.0 503"), "{got}");
    assert_eq!(received(&mut a), "");
}

#[test]
fn monitoring_shows_each_account() {
    let nile = Nile::start_with_config(ACCOUNTS, &["-m", "-1"]);
    let mut a = login(&nile, "a");
    let mut b = login(&nile, "b");
    assert_eq!(a.roundtrip(b"SUB x 1\r\nSUB y 2\r\n"), "");
    assert_eq!(b.roundtrip(b"SUB x 1\r\n"), "");
    let connz = get_json(&nile, "/connz?acc=A&auth=1");
    assert_eq!(connz["num_connections"], 1, "{connz}");
    assert_eq!(connz["connections"][0]["account"], "A", "{connz}");
    let subsz = get_json(&nile, "/subsz?subs=1&acc=A");
    let subs = subsz["subscriptions_list"].as_array().expect("list");
    // nats-server also lists its system imports (`$SYS.REQ.*`) under A.
    let mine: Vec<_> = subs
        .iter()
        .filter(|s| !s["subject"].as_str().unwrap_or("").starts_with("$SYS."))
        .collect();
    assert_eq!(mine.len(), 2, "{subsz}");
    assert!(subs.iter().all(|s| s["account"] == "A"), "{subsz}");
    let accountz = get_json(&nile, "/accountz");
    let names = accountz["accounts"].as_array().expect("accounts");
    for want in ["$G", "A", "B"] {
        assert!(names.iter().any(|n| n == want), "{want} in {accountz}");
    }
}

#[test]
fn user_info_names_user_account_and_permissions() {
    let nile = Nile::start_with_config(ACCOUNTS, &[]);
    let ask = |c: &mut Raw| {
        c.send(b"SUB _INBOX.i 1\r\nPUB $SYS.REQ.USER.INFO _INBOX.i 0\r\n\r\n");
        let head = c.line();
        let len: usize = head.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
        let body = c.bytes(len + 2);
        serde_json::from_slice::<serde_json::Value>(&body[..len]).unwrap()["data"].clone()
    };
    let data = ask(&mut login(&nile, "a2"));
    assert_eq!(data["user"], "a2", "{data}");
    assert_eq!(data["account"], "A", "{data}");
    let p = &data["permissions"];
    assert_eq!(
        p["publish"]["allow"],
        serde_json::json!(["$SYS.REQ.USER.INFO"])
    );
    assert_eq!(
        p["subscribe"]["allow"],
        serde_json::json!(["q.>", "_INBOX.>"])
    );
    assert_eq!(p["responses"]["max"], 1, "{data}");
    let data = ask(&mut login(&nile, "g"));
    assert_eq!(
        (&data["user"], &data["account"]),
        (&"g".into(), &"$G".into()),
        "{data}"
    );
    assert!(data.get("permissions").is_none(), "{data}");
}
