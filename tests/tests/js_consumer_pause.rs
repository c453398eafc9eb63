//! Pausing consumers (nats-server 2.11): CONSUMER.PAUSE and its response,
//! `paused` / `pause_remaining` in consumer info, the pause advisory, no
//! deliveries while paused (pull requests still wait, time out and get
//! heartbeats), a consumer created paused resumes by itself at the
//! deadline, an update leaves the pause alone, and the pause survives a restart.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::{Duration, Instant};

use js_consumer_util::{Frame, Wire};
use nile_tests::Nile;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const FAR_FUTURE: &str = "2099-01-01T00:00:00Z";
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn status(f: &Frame) -> String {
    let line = f.headers.lines().next().unwrap_or_default();
    line.trim_start_matches("NATS/1.0").trim().to_string()
}

/// `d` from now, as RFC 3339.
fn from_now(d: Duration) -> String {
    (OffsetDateTime::now_utc() + d)
        .format(&Rfc3339)
        .expect("format")
}

fn setup(w: &mut Wire, n: usize) {
    w.create_stream("S", &["s.>"]);
    for i in 0..n {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
}

#[test]
fn pause_and_resume_by_api() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    setup(&mut w, 2);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C");
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    let info = w.info("S", "C");
    assert!(info.get("paused").is_none(), "{info}");

    let r = w.api(
        "$JS.API.CONSUMER.PAUSE.S.C",
        &json!({"pause_until": "2099-01-01T01:00:00+01:00"}).to_string(),
    );
    assert_eq!(
        r["type"],
        "io.nats.jetstream.api.v1.consumer_pause_response"
    );
    assert_eq!(r["paused"], true, "{r}");
    // Kept in UTC.
    assert_eq!(r["pause_until"], FAR_FUTURE, "{r}");
    assert!(r["pause_remaining"].as_u64().unwrap_or(0) > 0, "{r}");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C").json();
    assert_eq!(adv["type"], "io.nats.jetstream.advisory.v1.consumer_pause");
    assert_eq!(
        (adv["paused"].as_bool(), adv["pause_until"].as_str()),
        (Some(true), Some(FAR_FUTURE))
    );
    let info = w.info("S", "C");
    assert_eq!(info["paused"], true, "{info}");
    assert!(info["pause_remaining"].as_u64().unwrap_or(0) > 0, "{info}");
    assert_eq!(info["config"]["pause_until"], FAR_FUTURE, "{info}");

    // Paused: the request waits, gets its heartbeats, then times out with nothing.
    let inbox = w.pull(
        "S",
        "C",
        r#"{"batch":1,"expires":1000000000,"idle_heartbeat":200000000}"#,
    );
    let f = w.next_on(&inbox);
    assert_eq!(status(&f), "100 Idle Heartbeat");
    let f = w.next_where(|f| f.subject == inbox && status(f) != "100 Idle Heartbeat");
    assert_eq!(status(&f), "408 Request Timeout");
    assert_eq!(w.info("S", "C")["num_pending"], 2);
    // Paused is nothing to deliver: a no_wait request ends at once.
    let inbox = w.pull("S", "C", r#"{"batch":1,"no_wait":true}"#);
    assert_eq!(status(&w.next_on(&inbox)), "404 No Messages");

    // Resume: an empty body, or no time.
    let r = w.api("$JS.API.CONSUMER.PAUSE.S.C", "");
    assert_eq!(
        (r["paused"].as_bool(), r["pause_until"].as_str()),
        (Some(false), Some(ZERO_TIME)),
        "{r}"
    );
    assert!(r.get("pause_remaining").is_none(), "{r}");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C").json();
    assert_eq!(
        (adv["paused"].as_bool(), adv["pause_until"].as_str()),
        (Some(false), Some(ZERO_TIME))
    );
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":5000000000}"#);
    assert_eq!(w.next_on(&inbox).text(), "m0");
    let info = w.info("S", "C");
    assert!(
        info.get("paused").is_none() && info["config"].get("pause_until").is_none(),
        "{info}"
    );

    let r = w.api("$JS.API.CONSUMER.PAUSE.S.NOPE", "");
    assert_eq!(r["error"]["err_code"], 10014, "{r}");
}

#[test]
fn paused_push_consumer_sends_heartbeats_only() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    setup(&mut w, 1);
    let ds = w.delivery_inbox();
    let cfg = json!({"durable_name": "P", "deliver_subject": ds, "idle_heartbeat": 200_000_000u64,
        "pause_until": FAR_FUTURE});
    w.create_consumer("S", "P", cfg);
    let frames = w.drain_for(Duration::from_millis(800));
    let mine: Vec<&Frame> = frames.iter().filter(|f| f.subject == ds).collect();
    assert!(!mine.is_empty(), "heartbeats go on while paused");
    assert!(
        mine.iter().all(|f| status(f) == "100 Idle Heartbeat"),
        "{mine:?}"
    );
    w.api("$JS.API.CONSUMER.PAUSE.S.P", "{}");
    let f = w.next_where(|f| f.subject == "s.a");
    assert_eq!(f.text(), "m0");
}

#[test]
fn created_paused_resumes_at_the_deadline() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    setup(&mut w, 1);
    w.sub("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C");
    let pause = Duration::from_secs(2);
    let until = from_now(pause);
    let started = Instant::now();
    let r = w.create_consumer("S", "C", json!({"durable_name": "C", "pause_until": until}));
    assert_eq!(r["paused"], true, "{r}");
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C").json();
    assert_eq!(adv["paused"], true, "{adv}");
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":10000000000}"#);
    let f = w.next_on(&inbox);
    assert_eq!(f.text(), "m0");
    // Not before the deadline (lower bound only, with a little room for clocks).
    assert!(
        started.elapsed() >= pause - Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let adv = w.next_on("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C").json();
    assert_eq!(adv["paused"], false, "{adv}");
    assert!(w.info("S", "C").get("paused").is_none());
}

#[test]
fn update_leaves_the_pause_alone() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    setup(&mut w, 0);
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    let r = w.create_consumer(
        "S",
        "C",
        json!({"durable_name": "C", "description": "x", "pause_until": FAR_FUTURE}),
    );
    assert!(r.get("paused").is_none(), "{r}");
    assert!(r["config"].get("pause_until").is_none(), "{r}");
    w.api(
        "$JS.API.CONSUMER.PAUSE.S.C",
        &json!({"pause_until": FAR_FUTURE}).to_string(),
    );
    let r = w.create_consumer("S", "C", json!({"durable_name": "C", "description": "y"}));
    assert_eq!(r["paused"], true, "{r}");
    assert_eq!(r["config"]["pause_until"], FAR_FUTURE, "{r}");
}

#[test]
fn pause_survives_a_restart() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    setup(&mut w, 1);
    w.create_consumer("S", "C", json!({"durable_name": "C"}));
    w.api(
        "$JS.API.CONSUMER.PAUSE.S.C",
        &json!({"pause_until": FAR_FUTURE}).to_string(),
    );
    std::thread::sleep(Duration::from_millis(300));
    drop(w);
    let nile = Nile::start_in(nile.kill(), &["-js"]);
    let mut w = Wire::connect(&nile);
    let info = w.info("S", "C");
    assert_eq!(info["paused"], true, "{info}");
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":500000000}"#);
    assert_eq!(status(&w.next_on(&inbox)), "408 Request Timeout");
    w.api("$JS.API.CONSUMER.PAUSE.S.C", "");
    let inbox = w.pull("S", "C", r#"{"batch":1,"expires":5000000000}"#);
    assert_eq!(w.next_on(&inbox).text(), "m0");
}

/// async-nats: pause, resume, and a consumer created paused.
#[tokio::test]
async fn async_nats_pause_and_resume() {
    use async_nats::jetstream::consumer::pull;

    let nile = Nile::start(&["-js"]);
    let client = async_nats::connect(nile.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "E".into(),
            subjects: vec!["e.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    let mut consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("c".into()),
            ..Default::default()
        })
        .await
        .expect("consumer");
    assert!(!consumer.info().await.expect("info").paused);
    let until = OffsetDateTime::now_utc() + Duration::from_secs(30);
    let r = stream.pause_consumer("c", until).await.expect("pause");
    assert!(r.paused);
    assert!(consumer.info().await.expect("info").paused);
    let r = stream.resume_consumer("c").await.expect("resume");
    assert!(!r.paused);
    assert!(!consumer.info().await.expect("info").paused);
}
