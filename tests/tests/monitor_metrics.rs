//! `/metrics` parsed by a real Prometheus text-format parser after known traffic.

mod monitor_common;

use std::collections::HashMap;

use async_nats::jetstream::{self, stream};
use monitor_common::{get, start};
use prometheus_parse::{HistogramCount, Scrape, Value};

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
    // Every sample line parsed (the parser skips what it cannot read); a
    // histogram's `_bucket` lines become one sample.
    let sample_lines = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    let bucket_lines = body.lines().filter(|l| l.contains("_bucket{")).count();
    let histograms = s
        .samples
        .iter()
        .filter(|x| matches!(x.value, Value::Histogram(_)))
        .count();
    assert_eq!(histograms, 2, "{body}");
    assert_eq!(
        s.samples.len(),
        sample_lines - bucket_lines + histograms,
        "{body}"
    );
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
    assert_eq!(info.labels.get("nats_version"), Some("2.12.0"));
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

/// A histogram family: its buckets (the parser's, `+Inf` last), `_sum`, `_count`.
struct Hist {
    buckets: Vec<HistogramCount>,
    sum: f64,
    count: f64,
}

fn histogram(s: &Scrape, name: &str) -> Hist {
    let buckets = s
        .samples
        .iter()
        .find_map(|x| match &x.value {
            Value::Histogram(b) if x.metric == name => Some(b.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no histogram {name}"));
    let v = values(s);
    Hist {
        buckets,
        sum: v[&format!("{name}_sum")],
        count: v[&format!("{name}_count")],
    }
}

/// Bounds ascend to `+Inf`, counts are cumulative (never fall) and the
/// `+Inf` bucket is `_count`.
fn assert_well_formed(name: &str, h: &Hist) {
    let bounds: Vec<f64> = h.buckets.iter().map(|b| b.less_than).collect();
    assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{name}: {bounds:?}");
    assert_eq!(bounds.last(), Some(&f64::INFINITY), "{name}");
    let counts: Vec<f64> = h.buckets.iter().map(|b| b.count).collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "{name}: {counts:?}"
    );
    assert_eq!(counts.last(), Some(&h.count), "{name}");
}

#[tokio::test]
async fn jetstream_publishes_raise_fsync_and_group_commit_histograms() {
    const PUBLISHES: usize = 30;
    let nile = start(&["-js"]);
    let js = jetstream::new(async_nats::connect(nile.url()).await.unwrap());
    js.create_stream(stream::Config {
        name: "HIST".into(),
        subjects: vec!["hist.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let (before, _) = scrape(&nile);
    let (fsync0, commit0) = (
        histogram(&before, "nile_engine_fsync_seconds"),
        histogram(&before, "nile_engine_group_commit_records"),
    );
    // One at a time: each PubAck waits for the fsync that made it durable.
    for i in 0..PUBLISHES {
        js.publish(format!("hist.{i}"), "payload".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (after, body) = scrape(&nile);
    let fsync = histogram(&after, "nile_engine_fsync_seconds");
    let commit = histogram(&after, "nile_engine_group_commit_records");
    assert_well_formed("fsync", &fsync);
    assert_well_formed("group commit", &commit);
    assert!(
        fsync.count >= fsync0.count + PUBLISHES as f64,
        "{} -> {}",
        fsync0.count,
        fsync.count
    );
    assert!(fsync.sum > fsync0.sum);
    // Base units: the first bound is one microsecond, in seconds.
    assert_eq!(fsync.buckets[0].less_than, 0.000_001);
    assert!(body.contains("nile_engine_fsync_seconds_bucket{le=\"0.000001\"} "));
    // Every published message was made durable by exactly one group commit.
    assert_eq!(commit.sum - commit0.sum, PUBLISHES as f64);
    assert!(commit.count - commit0.count >= 1.0);
    assert!(commit.count - commit0.count <= PUBLISHES as f64);
    assert_eq!(commit.buckets[0].less_than, 1.0);
}
