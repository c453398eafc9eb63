//! `/varz`, `/healthz`, `/` and unknown paths against a running Nile.

mod monitor_common;

use monitor_common::{get, get_json, start, wait_json};

/// A raw client subscribes, publishes `n` messages of `len` bytes to itself,
/// and waits until it has read them all back.
fn echo_traffic(nile: &nile_tests::Nile, n: usize, len: usize) -> nile_tests::Raw {
    let mut c = nile.raw();
    let payload = "x".repeat(len);
    let mut out =
        String::from("CONNECT {\"verbose\":false,\"name\":\"varz-client\"}\r\nSUB t.a 1\r\n");
    for _ in 0..n {
        out.push_str(&format!("PUB t.a {len}\r\n{payload}\r\n"));
    }
    let got = c.roundtrip(out.as_bytes());
    assert_eq!(got.matches("MSG t.a 1").count(), n, "{got}");
    c
}

#[test]
fn varz_counts_exact_traffic() {
    let nile = start(&[]);
    let _c = echo_traffic(&nile, 10, 7);
    let v = wait_json(&nile, "/varz", |v| v["out_msgs"] == 10);
    assert_eq!(v["in_msgs"], 10);
    assert_eq!(v["in_bytes"], 70);
    assert_eq!(v["out_msgs"], 10);
    assert_eq!(v["out_bytes"], 70);
    assert_eq!(v["in_client_msgs"], 10);
    assert_eq!(v["connections"], 1);
    assert_eq!(v["total_connections"], 1);
    assert_eq!(v["subscriptions"], 1);
    assert_eq!(v["slow_consumers"], 0);
    assert_eq!(v["port"], nile.port);
    assert_eq!(v["http_port"], nile.http_port.unwrap());
    assert_eq!(v["max_payload"], 1024 * 1024);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["jetstream"], serde_json::json!({}));
    assert_eq!(v["proto"], 1);
    assert!(v["server_id"].as_str().unwrap().starts_with('N'));
    assert!(
        v["mem"].as_u64().unwrap() > 1024 * 1024,
        "mem is RSS bytes: {}",
        v["mem"]
    );
    assert!(v["cores"].as_u64().unwrap() >= 1);
    assert!(v["cpu"].as_f64().is_some());
    assert!(v["uptime"].as_str().unwrap().ends_with('s'));
    for k in ["start", "now", "config_load_time"] {
        assert!(v[k].as_str().unwrap().ends_with('Z'), "{k}: {}", v[k]);
    }
    assert!(v["http_req_stats"]["/varz"].as_u64().unwrap() >= 1);
}

#[test]
fn varz_keeps_counts_of_closed_connections() {
    let nile = start(&[]);
    drop(echo_traffic(&nile, 3, 5));
    let v = wait_json(&nile, "/varz", |v| v["connections"] == 0);
    assert_eq!(v["connections"], 0);
    assert_eq!(v["total_connections"], 1);
    assert_eq!(v["in_msgs"], 3);
    assert_eq!(v["in_bytes"], 15);
    assert_eq!(v["out_msgs"], 3);
    assert_eq!(v["subscriptions"], 0);
}

#[test]
fn healthz_index_and_unknown_paths() {
    let nile = start(&[]);
    let h = get(&nile, "/healthz");
    assert_eq!((h.status, h.body.as_str()), (200, r#"{"status":"ok"}"#));
    assert_eq!(get(&nile, "/healthz?js-enabled-only=true").status, 200);
    assert_eq!(get(&nile, "/healthz?js-server-only=1").status, 200);
    let bad = get(&nile, "/healthz?js-enabled-only=maybe");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("js-enabled-only"), "{}", bad.body);

    let index = get(&nile, "/");
    assert_eq!(index.status, 200);
    for e in ["varz", "connz", "subsz", "jsz", "healthz", "metrics"] {
        assert!(index.body.contains(&format!("/{e}")), "index lacks /{e}");
    }
    assert_eq!(get_json(&nile, "/routez")["num_routes"], 0);
    assert_eq!(get_json(&nile, "/leafz")["leafnodes"], 0);
    assert_eq!(
        get_json(&nile, "/gatewayz")["outbound_gateways"],
        serde_json::json!({})
    );
    assert_eq!(
        get_json(&nile, "/accountz")["accounts"],
        serde_json::json!(["$G"])
    );
    let missing = get(&nile, "/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(get(&nile, "/varz/extra").status, 404);
    // A trailing slash is the same endpoint; unknown parameters are ignored.
    assert_eq!(get(&nile, "/varz/?whatever=1").status, 200);
}

#[test]
fn jsonp_callback_wraps_the_json() {
    let nile = start(&[]);
    let r = get(&nile, "/varz?callback=cb");
    assert_eq!(r.status, 200);
    assert!(
        r.body.starts_with("cb({") && r.body.ends_with("})"),
        "{}",
        r.body
    );
}

#[test]
fn jetstream_config_in_varz_and_jsz() {
    let nile = start(&["-js"]);
    let v = get_json(&nile, "/varz");
    let config = &v["jetstream"]["config"];
    assert!(
        config["store_dir"].as_str().unwrap().ends_with("store"),
        "{v:#}"
    );
    assert!(config["max_memory"].as_i64().unwrap() > 0);
    assert!(config["max_storage"].as_i64().unwrap() > 0);
    assert_eq!(config["strict"], true);
    assert_eq!(v["jetstream"]["stats"]["api"]["errors"], 0);

    let j = get_json(&nile, "/jsz?accounts=true");
    assert!(j.get("disabled").is_none(), "{j:#}");
    assert_eq!(j["config"]["store_dir"], config["store_dir"]);
    for k in [
        "memory",
        "storage",
        "streams",
        "consumers",
        "messages",
        "bytes",
    ] {
        assert!(j[k].is_u64(), "{k}: {j:#}");
    }
    assert_eq!(j["server_id"], v["server_id"]);
    for query in ["", "?js-enabled-only=true", "?js-server-only=true"] {
        let h = get(&nile, &format!("/healthz{query}"));
        assert_eq!((h.status, h.body.as_str()), (200, r#"{"status":"ok"}"#));
    }
    let bad = get(&nile, "/healthz?js-server-only=maybe");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("Error decoding boolean for 'js-server-only'"),
        "{}",
        bad.body
    );
    assert_eq!(get(&nile, "/jsz?streams=maybe").status, 400);
}

#[test]
fn jsz_without_jetstream_says_disabled() {
    let nile = start(&[]);
    let j = get_json(&nile, "/jsz");
    assert_eq!(j["disabled"], true);
    assert_eq!(j["config"]["max_memory"], 0);
    assert_eq!(j["streams"], 0);
    assert_eq!(j["total"], 0);
}
