//! Bad consumer requests get nats-server 2.15.1's error JSON, code and text
//! (each case below was run against both servers and compared).
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use js_consumer_util::Wire;
use nile_tests::Nile;
use serde_json::{json, Value};

fn setup() -> (Nile, Wire) {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    w.create_stream("S", &["s.>"]);
    (nile, w)
}

fn error(code: u16, err_code: u32, description: &str) -> Value {
    json!({"code": code, "err_code": err_code, "description": description})
}

#[test]
fn unknown_stream_is_10059_and_unknown_consumer_10014() {
    let (_nile, mut w) = setup();
    let missing_stream = error(404, 10059, "stream not found");
    let missing_consumer = error(404, 10014, "consumer not found");
    let r = w.api("$JS.API.CONSUMER.INFO.NOPE.C", "");
    assert_eq!(r["error"], missing_stream, "{r}");
    assert_eq!(r["type"], "io.nats.jetstream.api.v1.consumer_info_response");
    let body = json!({"stream_name": "NOPE", "config": {"name": "C", "ack_policy": "explicit"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.NOPE.C", &body.to_string());
    assert_eq!(r["error"], missing_stream, "{r}");
    let r = w.api("$JS.API.CONSUMER.INFO.S.NOPE", "");
    assert_eq!(r["error"], missing_consumer, "{r}");
    let r = w.api("$JS.API.CONSUMER.DELETE.S.NOPE", "");
    assert_eq!(r["error"], missing_consumer, "{r}");
    assert_eq!(
        r["type"],
        "io.nats.jetstream.api.v1.consumer_delete_response"
    );
    let update = json!({"stream_name": "S", "action": "update", "config": {"name": "U", "ack_policy": "explicit"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.U", &update.to_string());
    assert_eq!(
        r["error"],
        error(400, 10149, "consumer does not exist"),
        "{r}"
    );
}

#[test]
fn pull_on_a_missing_consumer_gets_no_responders() {
    let (_nile, mut w) = setup();
    let inbox = w.delivery_inbox();
    w.publish(
        "$JS.API.CONSUMER.MSG.NEXT.S.NOPE",
        Some(&inbox),
        br#"{"batch":1}"#,
    );
    let f = w.next_on(&inbox);
    assert!(
        f.headers.starts_with("NATS/1.0 503"),
        "expected no-responders, got {f:?}"
    );
}

#[test]
fn invalid_configs_get_nats_server_codes() {
    let (_nile, mut w) = setup();
    let t = "2020-01-01T00:00:00Z";
    let cases: Vec<(Value, Value)> = vec![
        (json!({"rate_limit_bps": 1000}), error(400, 10086, "consumer in pull mode can not have rate limit set")),
        (json!({"sample_freq": "abc"}), error(400, 10095, "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"abc\": invalid syntax")),
        (json!({"sample_freq": "%"}), error(400, 10095, "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"\": invalid syntax")),
        (json!({"sample_freq": "-5%"}), error(400, 10095, "failed to parse consumer sampling configuration: <nil>")),
        (json!({"max_deliver": 1, "backoff": [1_000_000_000u64, 2_000_000_000u64]}), error(400, 10116, "max deliver is required to be > length of backoff values")),
        (json!({"backoff": [-1]}), error(400, 10184, "consumer backoff needs to be positive")),
        (json!({"ack_wait": -5}), error(400, 10183, "consumer ack wait needs to be positive")),
        (json!({"max_expires": 1000}), error(400, 10115, "consumer max request expires needs to be >= 1ms")),
        (json!({"description": "x".repeat(5000)}), error(400, 10107, "consumer description is too long, maximum allowed is 4096")),
        (json!({"metadata": {"k": "v".repeat(140_000)}}), error(400, 10135, "consumer metadata exceeds maximum size of 128KB")),
        (json!({"deliver_subject": "d.x", "idle_heartbeat": 1000}), error(400, 10083, "consumer idle heartbeat needs to be >= 100ms")),
        (json!({"deliver_subject": "d.x", "flow_control": true}), error(400, 10108, "consumer with flow control also needs heartbeats")),
        (json!({"deliver_subject": "d.*"}), error(400, 10079, "consumer deliver subject has wildcards")),
        (json!({"deliver_subject": "d.x", "max_waiting": 5}), error(400, 10080, "consumer in push mode can not set max waiting")),
        (json!({"idle_heartbeat": 1_000_000_000u64}), error(400, 10088, "consumer idle heartbeat requires a push based consumer")),
        (json!({"flow_control": true}), error(400, 10089, "consumer flow control requires a push based consumer")),
        (json!({"deliver_policy": "by_start_sequence"}), error(400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set")),
        (json!({"deliver_policy": "by_start_time"}), error(400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set")),
        (json!({"deliver_policy": "last_per_subject"}), error(400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set")),
        (json!({"opt_start_seq": 5}), error(400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set")),
        (json!({"deliver_policy": "last", "opt_start_seq": 3}), error(400, 10094, "consumer delivery policy is deliver last, but optional start sequence is also set")),
        (json!({"deliver_policy": "new", "opt_start_time": t}), error(400, 10094, "consumer delivery policy is deliver new, but optional start time is also set")),
        (json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 3, "opt_start_time": t}), error(400, 10094, "consumer delivery policy is deliver by start sequence, but optional start time is also set")),
        (json!({"filter_subject": "s.a", "filter_subjects": ["s.b"]}), error(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")),
        (json!({"filter_subjects": ["s.a", "s.*"]}), error(400, 10138, "consumer subject filters cannot overlap")),
        (json!({"filter_subjects": ["s.a", ""]}), error(400, 10139, "consumer filter in FilterSubjects cannot be empty")),
        (json!({"num_replicas": 3}), error(500, 10074, "replicas > 1 not supported in non-clustered mode")),
    ];
    for (i, (config, expected)) in cases.into_iter().enumerate() {
        let name = format!("C{i}");
        let mut config = config;
        config["name"] = name.clone().into();
        config["ack_policy"] = "explicit".into();
        let body = json!({"stream_name": "S", "config": config});
        let r = w.api(
            &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
            &body.to_string(),
        );
        assert_eq!(r["error"], expected, "config {config}");
        assert_eq!(
            r["type"],
            "io.nats.jetstream.api.v1.consumer_create_response"
        );
    }
}

#[test]
fn request_shape_errors() {
    let (_nile, mut w) = setup();
    // The old ephemeral form takes no durable name.
    let body =
        json!({"stream_name": "S", "config": {"durable_name": "D", "ack_policy": "explicit"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S", &body.to_string());
    assert_eq!(
        r["error"],
        error(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request"
        ),
        "{r}"
    );
    let body = json!({"stream_name": "T", "config": {"name": "C", "ack_policy": "explicit"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.C", &body.to_string());
    assert_eq!(
        r["error"],
        error(400, 10056, "stream name in subject does not match request"),
        "{r}"
    );
    let body = json!({"stream_name": "S", "config": {"name": "Y", "durable_name": "Y", "ack_policy": "explicit"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.X", &body.to_string());
    assert_eq!(
        r["error"],
        error(
            400,
            10017,
            "consumer name in subject does not match durable name in request"
        ),
        "{r}"
    );
    let r = w.api("$JS.API.CONSUMER.CREATE.S.C", "{not json");
    assert_eq!(r["error"]["code"], 400, "{r}");
    assert_eq!(r["error"]["err_code"], 10025, "{r}");
    // Valid, and echoed as sent: sample_freq is a string, 150% is not refused.
    let body = json!({"stream_name": "S", "config": {"name": "OK", "ack_policy": "explicit", "sample_freq": "150%", "filter_subject": "elsewhere"}});
    let r = w.api("$JS.API.CONSUMER.CREATE.S.OK", &body.to_string());
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["config"]["sample_freq"], "150%");
}

#[test]
fn defaults_are_echoed_as_nats_server_does() {
    let (_nile, mut w) = setup();
    for i in 0..3 {
        w.js_publish("s.a", format!("m{i}").as_bytes());
    }
    // Without acks there is no ack wait and no ack-pending limit to report.
    let r = w.create_consumer("S", "NONE", json!({"ack_policy": "none"}));
    assert!(r["config"].get("ack_wait").is_none(), "{r}");
    assert!(r["config"].get("max_ack_pending").is_none(), "{r}");
    let r = w.create_consumer("S", "EXP", json!({}));
    assert_eq!(r["config"]["ack_wait"], 30_000_000_000u64, "{r}");
    assert_eq!(r["config"]["max_ack_pending"], 1000, "{r}");
    // A start past the end: delivered is the sequence before the start.
    let r = w.create_consumer(
        "S",
        "FAR",
        json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 100}),
    );
    assert_eq!(r["delivered"]["stream_seq"], 99, "{r}");
    assert_eq!(r["ack_floor"]["stream_seq"], 99, "{r}");
    assert_eq!(r["num_pending"], 0, "{r}");
}
