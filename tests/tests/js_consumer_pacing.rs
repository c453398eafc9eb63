//! Delivery pacing and ack sampling: `replay_policy: original` keeps the
//! stored gaps (push and pull), `rate_limit_bps` paces a push consumer, and
//! `sample_freq` publishes the consumer ack metric.
//! Lower bounds only: a slow machine may deliver later, never earlier.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::{Duration, Instant};

use js_consumer_util::Wire;
use nile_tests::Nile;
use serde_json::json;

/// Gaps between the publishes, in ms.
const GAPS_MS: [u64; 4] = [300, 100, 400, 200];

/// Stream S with `m0..m4` on `s.a`, published with [`GAPS_MS`] between them.
/// Returns the stored span (last timestamp minus first) measured by the server.
fn publish_with_gaps(w: &mut Wire) -> Duration {
    w.create_stream("S", &["s.>"]);
    w.js_publish("s.a", b"m0");
    for (i, gap) in GAPS_MS.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(*gap));
        w.js_publish("s.a", format!("m{}", i + 1).as_bytes());
    }
    let first = w.api("$JS.API.STREAM.MSG.GET.S", r#"{"seq":1}"#);
    let last = w.api("$JS.API.STREAM.MSG.GET.S", r#"{"seq":5}"#);
    let ts = |v: &serde_json::Value| -> String { v["message"]["time"].as_str().unwrap().into() };
    span_between(&ts(&first), &ts(&last))
}

/// The difference of two RFC 3339 UTC times with the same date.
fn span_between(a: &str, b: &str) -> Duration {
    let secs = |t: &str| -> f64 {
        let clock = t.split('T').nth(1).unwrap().trim_end_matches('Z');
        let parts: Vec<&str> = clock.split(':').collect();
        parts[0].parse::<f64>().unwrap() * 3600.0
            + parts[1].parse::<f64>().unwrap() * 60.0
            + parts[2].parse::<f64>().unwrap()
    };
    Duration::from_secs_f64(secs(b) - secs(a))
}

fn assert_replayed(arrivals: &[Instant], span: Duration) {
    let total = arrivals[arrivals.len() - 1].duration_since(arrivals[0]);
    assert!(
        total >= span * 8 / 10,
        "replay took {total:?}, the stored span is {span:?}"
    );
    // Each gap roughly kept (the biggest one, 400 ms, at least).
    let gap3 = arrivals[3].duration_since(arrivals[2]);
    assert!(gap3 >= Duration::from_millis(300), "gap m2→m3 {gap3:?}");
}

#[test]
fn replay_original_push_keeps_the_stored_gaps() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    let span = publish_with_gaps(&mut w);
    assert!(span >= Duration::from_millis(900), "stored span {span:?}");
    let inbox = w.delivery_inbox();
    let created = w.create_consumer(
        "S",
        "R",
        json!({"deliver_subject": inbox, "replay_policy": "original", "ack_policy": "none"}),
    );
    assert_eq!(created["config"]["replay_policy"], "original");
    let mut arrivals = Vec::new();
    for i in 0..5 {
        let f = w.next_on(&inbox);
        assert_eq!(f.text(), format!("m{i}"));
        arrivals.push(f.at);
    }
    assert_replayed(&arrivals, span);
}

#[test]
fn replay_original_pull_keeps_the_stored_gaps() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    let span = publish_with_gaps(&mut w);
    w.create_consumer("S", "R", json!({"replay_policy": "original"}));
    let inbox = w.pull("S", "R", r#"{"batch":5,"expires":30000000000}"#);
    let mut arrivals = Vec::new();
    for i in 0..5 {
        let f = w.next_on(&inbox);
        assert_eq!(f.text(), format!("m{i}"));
        arrivals.push(f.at);
    }
    assert_replayed(&arrivals, span);
}

#[test]
fn rate_limit_paces_a_push_consumer() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    // The burst is one maximum message of the stream: keep it small.
    // (nats-server never delivers a message bigger than the burst.)
    let burst_bytes = 4096;
    let stream = json!({"name": "S", "subjects": ["s.>"], "max_msg_size": burst_bytes});
    let r = w.api("$JS.API.STREAM.CREATE.S", &stream.to_string());
    assert!(r.get("error").is_none(), "{r}");
    let msgs = 30;
    let payload = vec![b'x'; 1000];
    for _ in 0..msgs {
        w.js_publish("s.a", &payload);
    }
    // 10 000 bytes per second: 30 kB takes about 3 s.
    let bps = 80_000u64;
    let inbox = w.delivery_inbox();
    let created = w.create_consumer(
        "S",
        "RL",
        json!({"deliver_subject": inbox, "ack_policy": "none", "rate_limit_bps": bps}),
    );
    assert_eq!(created["config"]["rate_limit_bps"], bps);
    let start = Instant::now();
    for _ in 0..msgs {
        let f = w.next_on(&inbox);
        assert_eq!(f.payload.len(), payload.len());
    }
    let took = start.elapsed();
    let paced_bytes = msgs * payload.len() as u64 - burst_bytes;
    let expected = Duration::from_secs_f64(paced_bytes as f64 * 8.0 / bps as f64);
    assert!(
        took >= expected * 8 / 10,
        "{msgs} msgs at {bps} bps took {took:?}, expected about {expected:?}"
    );
}

#[test]
fn sampled_acks_publish_the_ack_metric() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("S", &["s.>"]);
    for i in 0..3 {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    w.sub("$JS.EVENT.METRIC.>");
    w.create_consumer("S", "M", json!({"sample_freq": "100%"}));
    w.create_consumer("S", "N", json!({}));
    let inbox = w.pull("S", "M", r#"{"batch":3}"#);
    let mut acked = Vec::new();
    for _ in 0..3 {
        let f = w.next_on(&inbox);
        acked.push(f.ack_tokens());
        w.publish(f.reply.as_deref().unwrap(), None, b"+ACK");
    }
    // Unsampled consumer: its acks publish nothing.
    let inbox = w.pull("S", "N", r#"{"batch":1}"#);
    let f = w.next_on(&inbox);
    w.publish(f.reply.as_deref().unwrap(), None, b"+ACK");
    for tokens in &acked {
        let m = w.next_on("$JS.EVENT.METRIC.CONSUMER.ACK.S.M");
        let v = m.json();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "ack_time",
                "consumer",
                "consumer_seq",
                "deliveries",
                "id",
                "stream",
                "stream_seq",
                "timestamp",
                "type"
            ],
            "{v}"
        );
        assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack");
        assert_eq!(v["stream"], "S");
        assert_eq!(v["consumer"], "M");
        assert_eq!(v["stream_seq"], tokens[1]);
        assert_eq!(v["consumer_seq"], tokens[2]);
        assert_eq!(v["deliveries"], 1);
        assert!(v["ack_time"].as_i64().is_some_and(|t| t > 0), "{v}");
    }
    let more = w.drain_for(Duration::from_millis(300));
    assert!(
        more.iter()
            .all(|f| !f.subject.starts_with("$JS.EVENT.METRIC")),
        "unexpected metrics: {more:?}"
    );
}

#[test]
fn bad_sample_freq_is_refused() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("S", &["s.>"]);
    let body = json!({"stream_name": "S", "config": {"name": "X", "ack_policy": "explicit", "sample_freq": "often"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.X", &body.to_string());
    assert_eq!(
        r["error"],
        json!({"code": 400, "err_code": 10095, "description": "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"often\": invalid syntax"})
    );
}
