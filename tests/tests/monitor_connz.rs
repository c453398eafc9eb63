//! `/connz` and `/subsz` against a running Nile: names, subscriptions,
//! exact counts, closed connections, sorting, paging, bad parameters.

mod monitor_common;

use futures::StreamExt;
use monitor_common::{conn_named, get, get_json, start, wait_json};

#[tokio::test]
async fn connz_shows_name_subscriptions_and_counts() {
    let nile = start(&[]);
    let sub = async_nats::ConnectOptions::new()
        .name("mon-sub")
        .connect(nile.url())
        .await
        .unwrap();
    let mut s1 = sub.subscribe("orders.new").await.unwrap();
    let _s2 = sub
        .queue_subscribe("orders.*", "workers".into())
        .await
        .unwrap();
    sub.flush().await.unwrap();
    let publ = async_nats::ConnectOptions::new()
        .name("mon-pub")
        .connect(nile.url())
        .await
        .unwrap();
    for _ in 0..4 {
        publ.publish("orders.new", "12345".into()).await.unwrap();
    }
    publ.flush().await.unwrap();
    for _ in 0..4 {
        s1.next().await.unwrap();
    }

    let connz = wait_json(&nile, "/connz?subs=1", |v| {
        v["connections"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["name"] == "mon-sub" && c["out_msgs"] == 8)
        })
    });
    assert_eq!(connz["num_connections"], 2);
    assert_eq!(connz["total"], 2);
    let c = conn_named(&connz, "mon-sub");
    assert_eq!(c["subscriptions"], 2);
    let mut list: Vec<&str> = c["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    list.sort();
    assert_eq!(list, ["orders.*", "orders.new"]);
    // Each message reaches the plain subscription and the queue group.
    assert_eq!(c["out_msgs"], 8);
    assert_eq!(c["out_bytes"], 40);
    assert_eq!(c["in_msgs"], 0);
    assert_eq!(c["lang"], "rust");
    assert_eq!(c["kind"], "Client");
    assert_eq!(c["ip"], "127.0.0.1");
    for k in ["start", "last_activity"] {
        assert!(c[k].as_str().unwrap().ends_with('Z'));
    }
    for k in ["uptime", "idle"] {
        assert!(c[k].as_str().unwrap().ends_with('s'));
    }
    let p = conn_named(&connz, "mon-pub");
    assert_eq!(
        (p["in_msgs"].as_u64(), p["in_bytes"].as_u64()),
        (Some(4), Some(20))
    );
    assert!(
        p.get("subscriptions_list").is_none(),
        "no subs, no list: {p:#}"
    );

    let detail = get_json(&nile, "/connz?subs=detail");
    let d = conn_named(&detail, "mon-sub")["subscriptions_list_detail"]
        .as_array()
        .unwrap()
        .clone();
    let queue = d.iter().find(|s| s["subject"] == "orders.*").unwrap();
    assert_eq!(queue["qgroup"], "workers");
    assert_eq!(queue["msgs"], 4);
    let plain = d.iter().find(|s| s["subject"] == "orders.new").unwrap();
    assert!(plain.get("qgroup").is_none());
    assert_eq!(plain["msgs"], 4);
    assert_eq!(plain["cid"], conn_named(&detail, "mon-sub")["cid"]);
}

/// CONNECT with a name, publish `n` messages, PING/PONG, keep the socket.
fn raw_client(nile: &nile_tests::Nile, name: &str, n: usize) -> nile_tests::Raw {
    let mut c = nile.raw();
    let mut out = format!("CONNECT {{\"verbose\":false,\"name\":\"{name}\"}}\r\n");
    for _ in 0..n {
        out.push_str("PUB nowhere 2\r\nhi\r\n");
    }
    assert_eq!(c.roundtrip(out.as_bytes()), "");
    c
}

fn names(connz: &serde_json::Value) -> Vec<String> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn connz_sorts_pages_and_filters_by_cid() {
    let nile = start(&[]);
    let _a = raw_client(&nile, "a", 1);
    let _b = raw_client(&nile, "b", 3);
    let _c = raw_client(&nile, "c", 2);
    let by_cid = get_json(&nile, "/connz");
    assert_eq!(names(&by_cid), ["a", "b", "c"]);
    assert_eq!(
        names(&get_json(&nile, "/connz?sort=msgs_from")),
        ["b", "c", "a"]
    );
    assert_eq!(
        names(&get_json(&nile, "/connz?sort=bytes_from")),
        ["b", "c", "a"]
    );
    // Oldest first by uptime is ascending: the newest connection first.
    assert_eq!(
        names(&get_json(&nile, "/connz?sort=uptime")),
        ["c", "b", "a"]
    );
    for sort in [
        "start", "subs", "pending", "msgs_to", "bytes_to", "last", "idle", "rtt",
    ] {
        assert_eq!(
            get(&nile, &format!("/connz?sort={sort}")).status,
            200,
            "sort={sort}"
        );
    }

    let page = get_json(&nile, "/connz?sort=msgs_from&limit=1&offset=1");
    assert_eq!(names(&page), ["c"]);
    assert_eq!(
        (page["total"].as_u64(), page["num_connections"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        (page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(names(&get_json(&nile, "/connz?offset=10")).len(), 0);

    let cid = by_cid["connections"][1]["cid"].as_u64().unwrap();
    let one = get_json(&nile, &format!("/connz?cid={cid}"));
    assert_eq!(names(&one), ["b"]);
    assert_eq!(one["limit"], 1);
}

#[test]
fn connz_remembers_closed_connections() {
    let nile = start(&[]);
    let _open = raw_client(&nile, "stays", 0);
    drop(raw_client(&nile, "leaves", 2));
    let closed = wait_json(&nile, "/connz?state=closed", |v| v["total"] == 1);
    assert_eq!(names(&closed), ["leaves"]);
    let c = &closed["connections"][0];
    assert_eq!(c["reason"], "Client Closed");
    assert!(c["stop"].as_str().unwrap().ends_with('Z'));
    assert_eq!(c["in_msgs"], 2);
    assert_eq!(c["in_bytes"], 4);
    assert_eq!(names(&get_json(&nile, "/connz")), ["stays"]);
    let any = get_json(&nile, "/connz?state=any");
    assert_eq!(names(&any), ["stays", "leaves"]);
    assert_eq!(get(&nile, "/connz?state=closed&sort=stop").status, 200);
    assert_eq!(get(&nile, "/connz?state=closed&sort=reason").status, 200);
}

#[test]
fn connz_auth_shows_the_user() {
    let nile = start(&["--user", "alice", "--pass", "s3cret"]);
    let mut c = nile.raw();
    let connect =
        "CONNECT {\"verbose\":false,\"name\":\"authd\",\"user\":\"alice\",\"pass\":\"s3cret\"}\r\n";
    assert_eq!(c.roundtrip(connect.as_bytes()), "");
    let plain = get_json(&nile, "/connz");
    assert!(conn_named(&plain, "authd").get("authorized_user").is_none());
    let auth = get_json(&nile, "/connz?auth=1");
    assert_eq!(conn_named(&auth, "authd")["authorized_user"], "alice");
    assert_eq!(
        names(&get_json(&nile, "/connz?auth=1&user=alice")),
        ["authd"]
    );
    assert_eq!(names(&get_json(&nile, "/connz?auth=1&user=bob")).len(), 0);
}

#[test]
fn bad_parameters_get_400_with_a_message() {
    let nile = start(&[]);
    for (query, message) in [
        ("/connz?sort=foo", "invalid sorting option: foo"),
        ("/connz?limit=x", "Error decoding int for 'limit'"),
        ("/connz?offset=1.5", "Error decoding int for 'offset'"),
        ("/connz?state=bogus", "Error decoding state for bogus"),
        ("/connz?subs=2", "Error decoding boolean for 'subs'"),
        ("/connz?auth=yes", "Error decoding boolean for 'auth'"),
        ("/connz?cid=abc", "Error decoding uint64 for 'cid'"),
        (
            "/connz?sort=stop",
            "sort by stop only valid on closed connections",
        ),
        (
            "/connz?sort=reason&state=any",
            "sort by reason only valid on closed connections",
        ),
        (
            "/subsz?test=foo.*",
            "invalid test subject, must be valid publish subject: foo.*",
        ),
        ("/subsz?subs=nope", "Error decoding boolean for 'subs'"),
        ("/jsz?limit=z", "Error decoding int for 'limit'"),
        ("/jsz?offset=-x", "Error decoding int for 'offset'"),
        ("/jsz?accounts=2", "Error decoding boolean for 'accounts'"),
        (
            "/jsz?consumers=no",
            "Error decoding boolean for 'consumers'",
        ),
        ("/jsz?config=on", "Error decoding boolean for 'config'"),
        (
            "/jsz?leader-only=x",
            "Error decoding boolean for 'leader-only'",
        ),
        (
            "/jsz?direct-consumers=x",
            "Error decoding boolean for 'direct-consumers'",
        ),
        ("/subsz?offset=x", "Error decoding int for 'offset'"),
        ("/healthz?details=x", "Error decoding boolean for 'details'"),
    ] {
        let r = get(&nile, query);
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(r.body.contains(message), "{query}: {}", r.body);
    }
    // The whole body, byte for byte as nats-server 2.15.1 writes it.
    assert_eq!(
        get(&nile, "/connz?subs=2").body,
        "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"
    );
}

#[test]
fn subsz_counts_lists_and_tests_a_subject() {
    let nile = start(&[]);
    let mut c = nile.raw();
    let subs = "CONNECT {\"verbose\":false}\r\nSUB a.b 1\r\nSUB a.* 2\r\nSUB x.> q 3\r\nSUB gone 4\r\nUNSUB 4\r\n";
    assert_eq!(c.roundtrip(subs.as_bytes()), "");
    let s = get_json(&nile, "/subsz");
    assert_eq!(s["num_subscriptions"], 3);
    assert_eq!(s["num_inserts"], 4);
    assert_eq!(s["num_removes"], 1);
    assert!(s.get("subscriptions_list").is_none());

    let all = get_json(&nile, "/subscriptionsz?subs=1");
    assert_eq!(all["total"], 3);
    let list = all["subscriptions_list"].as_array().unwrap();
    let q = list.iter().find(|s| s["subject"] == "x.>").unwrap();
    assert_eq!(
        (q["qgroup"].as_str(), q["sid"].as_str()),
        (Some("q"), Some("3"))
    );
    assert_eq!(q["account"], "$G");

    let hit = get_json(&nile, "/subsz?subs=1&test=a.b");
    let mut subjects: Vec<&str> = hit["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["a.*", "a.b"]);
    assert_eq!(get_json(&nile, "/subsz?test=x.y.z")["total"], 1);
    assert_eq!(get_json(&nile, "/subsz?test=nothing")["total"], 0);
    let paged = get_json(&nile, "/subsz?subs=1&limit=1&offset=2");
    assert_eq!(paged["subscriptions_list"].as_array().unwrap().len(), 1);
}

/// nats.py's `test_unsubscribe` reads these after an UNSUB.
#[test]
fn connz_after_unsubscribe_as_nats_py_reads_it() {
    let nile = start(&[]);
    let mut c = nile.raw();
    let ops = "CONNECT {\"verbose\":false,\"name\":\"py\"}\r\nSUB foo 1\r\nPUB foo 1\r\nA\r\nPUB foo 1\r\nB\r\n";
    assert_eq!(c.roundtrip(ops.as_bytes()).matches("MSG foo 1").count(), 2);
    c.roundtrip(b"UNSUB 1\r\nPUB foo 1\r\nC\r\nPUB foo 1\r\nD\r\n");
    let connz = get_json(&nile, "/connz");
    assert_eq!(connz["connections"].as_array().unwrap().len(), 1);
    let conn = conn_named(&connz, "py");
    assert_eq!(conn["subscriptions"], 0);
    assert_eq!(
        (conn["in_msgs"].as_u64(), conn["in_bytes"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(
        (conn["out_msgs"].as_u64(), conn["out_bytes"].as_u64()),
        (Some(2), Some(2))
    );
}

/// A duration as Go prints it (`105µs`, `2.054704ms`, `1.5s`), in nanoseconds.
fn parse_go_duration(s: &str) -> Option<f64> {
    let units = [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)];
    if s == "0s" {
        return Some(0.0);
    }
    units.iter().find_map(|(suffix, scale)| {
        let n = s.strip_suffix(suffix)?;
        // "ms" also ends in "s": only a plain number before the suffix counts.
        n.parse::<f64>().ok().map(|v| v * scale)
    })
}

#[tokio::test]
async fn connz_rtt_is_measured_and_go_formatted() {
    let nile = start(&[]);
    let client = async_nats::ConnectOptions::new()
        .name("rtt-client")
        .connect(nile.url())
        .await
        .unwrap();
    client.flush().await.unwrap();
    // Connected but silent: no CONNECT yet, nothing to time.
    let _silent = nile.raw();
    // CONNECT a second after INFO: the first estimate is accept to CONNECT.
    let mut slow = nile.raw();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        slow.roundtrip(b"CONNECT {\"verbose\":false,\"name\":\"slow\"}\r\n"),
        ""
    );
    let connz = get_json(&nile, "/connz?sort=rtt");
    let slow_rtt = conn_named(&connz, "slow")["rtt"].as_str().unwrap();
    assert!(
        parse_go_duration(slow_rtt).is_some_and(|ns| ns >= 1e9),
        "{slow_rtt}"
    );
    // Longest first, as nats-server sorts it.
    assert_eq!(connz["connections"][0]["name"], "slow", "{connz:#}");
    let rtt = conn_named(&connz, "rtt-client")["rtt"]
        .as_str()
        .expect("rtt is a string")
        .to_string();
    let ns = parse_go_duration(&rtt).unwrap_or_else(|| panic!("not a Go duration: {rtt}"));
    assert!(ns > 0.0, "measured at CONNECT: {rtt}");
    let silent_rtt = &connz["connections"].as_array().unwrap().last().unwrap()["rtt"];
    assert_eq!(silent_rtt, "0s", "{connz:#}");
    // The unmeasured connection sorts last.

    // Closed connections keep the last measurement.
    drop(raw_client(&nile, "gone", 0));
    let closed = wait_json(&nile, "/connz?state=closed", |v| v["total"] == 1);
    let kept = closed["connections"][0]["rtt"].as_str().unwrap();
    assert!(parse_go_duration(kept).is_some_and(|v| v > 0.0), "{kept}");
}

#[test]
fn server_pings_update_rtt() {
    // A short ping interval: the server PINGs, the raw client's PONG is timed.
    let nile = nile_tests::Nile::start_with_config("ping_interval: \"1s\"\n", &["-m", "-1"]);
    let mut c = nile.raw();
    assert_eq!(
        c.roundtrip(b"CONNECT {\"verbose\":false,\"name\":\"pinged\"}\r\n"),
        ""
    );
    let at_connect = conn_named(&get_json(&nile, "/connz"), "pinged")["rtt"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.line(), "PING\r\n");
    // Hold the PONG back so the measured round trip is at least 300 ms,
    // far above the estimate CONNECT gave on a loopback socket.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let later = c.roundtrip(b"PONG\r\n");
    assert!(later.replace("PING\r\n", "").is_empty(), "{later}");
    let rtt = conn_named(&get_json(&nile, "/connz"), "pinged")["rtt"]
        .as_str()
        .unwrap()
        .to_string();
    let ns = parse_go_duration(&rtt).unwrap_or_else(|| panic!("not a Go duration: {rtt}"));
    assert!(ns >= 300e6, "{at_connect} then {rtt}");
}
