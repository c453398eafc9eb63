//! `/metrics` parsed by a real Prometheus text-format parser after known traffic.

mod monitor_common;

use std::collections::HashMap;

use monitor_common::{get, start};
use prometheus_parse::{Scrape, Value};

fn scrape(nile: &nile_tests::Nile) -> (Scrape, String) {
    let r = get(nile, "/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.headers.contains("text/plain; version=0.0.4"),
        "{}",
        r.headers
    );
    let lines = r.body.lines().map(|l| Ok(l.to_string()));
    (
        Scrape::parse(lines).expect("valid exposition format"),
        r.body,
    )
}

/// Unlabelled samples by name.
fn values(s: &Scrape) -> HashMap<String, f64> {
    s.samples
        .iter()
        .filter(|x| x.labels.is_empty())
        .filter_map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some((x.metric.clone(), v)),
            _ => None,
        })
        .collect()
}

#[test]
fn metrics_parse_and_count_traffic() {
    let nile = start(&[]);
    let mut c = nile.raw();
    let mut out = String::from("CONNECT {\"verbose\":false}\r\nSUB m 1\r\nSUB m 2\r\n");
    for _ in 0..5 {
        out.push_str("PUB m 3\r\nabc\r\n");
    }
    let got = c.roundtrip(out.as_bytes());
    assert_eq!(got.matches("MSG m").count(), 10);

    let (s, body) = scrape(&nile);
    // Every sample line parsed (the parser skips what it cannot read).
    let sample_lines = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert_eq!(s.samples.len(), sample_lines, "{body}");
    let v = values(&s);
    assert_eq!(v["nile_connections"], 1.0);
    assert_eq!(v["nile_connections_accepted_total"], 1.0);
    assert_eq!(v["nile_subscriptions"], 2.0);
    assert_eq!(v["nile_received_messages_total"], 5.0);
    assert_eq!(v["nile_received_bytes_total"], 15.0);
    assert_eq!(v["nile_sent_messages_total"], 10.0);
    assert_eq!(v["nile_sent_bytes_total"], 30.0);
    assert_eq!(v["nile_slow_consumers_total"], 0.0);
    assert_eq!(v["nile_jetstream_enabled"], 0.0);
    assert!(v["nile_process_resident_memory_bytes"] > 0.0);
    assert!(v["nile_start_time_seconds"] > 1.6e9);

    for sample in &s.samples {
        assert!(sample.metric.starts_with("nile_"), "{}", sample.metric);
        if matches!(sample.value, Value::Counter(_)) {
            assert!(
                sample.metric.ends_with("_total"),
                "counter {}",
                sample.metric
            );
        }
    }
    let info = s.samples.iter().find(|x| x.metric == "nile_info").unwrap();
    assert_eq!(info.labels.get("nats_version"), Some("2.10.0"));
    let scrapes = s
        .samples
        .iter()
        .find(|x| {
            x.metric == "nile_http_requests_total" && x.labels.get("path") == Some("/metrics")
        })
        .expect("request counter for /metrics");
    assert_eq!(scrapes.value, Value::Counter(1.0));
}

#[test]
fn metrics_with_jetstream_report_limits() {
    let nile = start(&["-js"]);
    let (s, _) = scrape(&nile);
    let v = values(&s);
    assert_eq!(v["nile_jetstream_enabled"], 1.0);
    assert!(v["nile_jetstream_max_storage_bytes"] > 0.0);
    assert!(v["nile_jetstream_max_memory_bytes"] > 0.0);
    for family in [
        "nile_stream_messages",
        "nile_consumer_num_pending",
        "nile_jetstream_streams",
    ] {
        assert!(s.docs.contains_key(family), "no HELP for {family}");
    }
}
