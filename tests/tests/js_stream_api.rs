//! Stream management through `$JS.API.STREAM.*` and `$JS.API.INFO`:
//! normalised configs, idempotent create, update rules, names/list paging,
//! and nats-server's exact error JSON for bad input (issue 4).

mod js_stream_util;

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use futures::TryStreamExt;
use js_stream_util::*;
use serde_json::{json, Value};

fn error_of(v: &Value) -> &Value {
    v.get("error")
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

#[tokio::test]
async fn create_echoes_full_normalised_config() {
    let nile = start();
    let c = connect(&nile).await;
    let v = create(&c, "S1", json!({"name":"S1","subjects":["s1.>"]})).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_create_response");
    assert_eq!(config_of(&v["config"]), default_config("S1", &["s1.>"]));
    assert_eq!(v["did_create"], true);
    assert!(is_rfc3339(v["created"].as_str().unwrap()), "{v}");
    assert!(is_rfc3339(v["ts"].as_str().unwrap()), "{v}");
    assert_eq!(
        v["state"],
        json!({
            "messages": 0, "bytes": 0,
            "first_seq": 0, "first_ts": "0001-01-01T00:00:00Z",
            "last_seq": 0, "last_ts": "0001-01-01T00:00:00Z",
            "consumer_count": 0
        })
    );

    // Zero and negative limits normalise to -1; no subjects captures the name.
    let v = create(
        &c,
        "S2",
        json!({"name":"S2","max_msgs":0,"max_bytes":-7,"max_msgs_per_subject":-3,
               "max_msg_size":-2,"max_consumers":-9,"num_replicas":0}),
    )
    .await;
    assert_eq!(config_of(&v["config"]), default_config("S2", &["S2"]));

    // A small max_age pulls the duplicate window down to it.
    let v = create(
        &c,
        "S3",
        json!({"name":"S3","max_age":1_000_000_000,"storage":"memory","retention":"interest",
               "discard":"new","max_msgs":10,"description":"d","allow_direct":true}),
    )
    .await;
    let mut want = default_config("S3", &["S3"]);
    want["max_age"] = json!(1_000_000_000);
    want["duplicate_window"] = json!(1_000_000_000);
    want["storage"] = json!("memory");
    want["retention"] = json!("interest");
    want["discard"] = json!("new");
    want["max_msgs"] = json!(10);
    want["description"] = json!("d");
    want["allow_direct"] = json!(true);
    assert_eq!(config_of(&v["config"]), want);

    // The async-nats view of the same stream.
    let js = async_nats::jetstream::new(c.clone());
    let mut s = js.get_stream("S3").await.unwrap();
    let info = s.info().await.unwrap();
    assert_eq!(info.config.storage, StorageType::Memory);
    assert_eq!(info.config.retention, RetentionPolicy::Interest);
    assert_eq!(info.config.discard, DiscardPolicy::New);
    assert_eq!(info.config.max_messages, 10);
    assert_eq!(info.config.max_bytes, -1);
    assert_eq!(info.config.max_age, Duration::from_secs(1));
    assert_eq!(info.config.duplicate_window, Duration::from_secs(1));
    assert_eq!(info.config.num_replicas, 1);
    assert_eq!(info.state.messages, 0);
    assert_eq!(info.state.consumer_count, 0);
}

#[tokio::test]
async fn create_is_idempotent_and_a_different_config_is_10058() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let cfg = Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.*".into()],
        max_messages: 100,
        ..Default::default()
    };
    let first = js.create_stream(cfg.clone()).await.unwrap();
    let created = first.cached_info().created;
    // Clients create on every start-up: the same config succeeds.
    let mut again = js.create_stream(cfg.clone()).await.unwrap();
    assert_eq!(again.info().await.unwrap().created, created);
    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.*"],"max_msgs":100}"#,
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(v["did_create"], true, "{v}");
    assert_eq!(v["config"]["max_msgs"], 100);
    // get_or_create does not recreate.
    js.get_or_create_stream(cfg.clone()).await.unwrap();

    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.*"],"max_msgs":5}"#,
    )
    .await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_create_response",
               "error": api_err(400, 10058, "stream name already in use with a different configuration")})
    );
    let mut different = cfg.clone();
    different.max_messages = 5;
    let e = js.create_stream(different).await.unwrap_err();
    assert!(e.to_string().contains("10058"), "{e}");
    // The original is untouched.
    let v = info(&c, "ORDERS").await;
    assert_eq!(v["config"]["max_msgs"], 100);
}

#[tokio::test]
async fn invalid_names() {
    let nile = start();
    let c = connect(&nile).await;
    let kind = "io.nats.jetstream.api.v1.stream_create_response";
    for name in ["a*", "a>", "*", ">"] {
        let v = req(
            &c,
            &format!("$JS.API.STREAM.CREATE.{name}"),
            &json!({ "name": name }).to_string(),
        )
        .await;
        assert_eq!(
            v,
            json!({"type": kind, "error": api_err(500, 10052,
                "stream name is required and can not contain '.', '*', '>', '\\', '/'")}),
            "name {name}"
        );
    }
    for name in ["a/b", "a\\b"] {
        let v = req(
            &c,
            &format!("$JS.API.STREAM.CREATE.{name}"),
            &json!({ "name": name }).to_string(),
        )
        .await;
        assert_eq!(
            v,
            json!({"type": kind, "error": api_err(400, 10128,
                "Stream name can not contain path separators")}),
            "name {name}"
        );
    }
    let long = "N".repeat(256);
    let v = req(
        &c,
        &format!("$JS.API.STREAM.CREATE.{long}"),
        &json!({ "name": long }).to_string(),
    )
    .await;
    assert_eq!(
        v,
        json!({"type": kind, "error": api_err(500, 10052,
            "stream name is too long, maximum allowed is 255")})
    );
    let ok = "N".repeat(255);
    create(&c, &ok, json!({ "name": ok })).await;
    // A space cannot be in a subject token: the body name never matches.
    let v = req(&c, "$JS.API.STREAM.CREATE.ab", r#"{"name":"a b"}"#).await;
    assert_eq!(
        v,
        json!({"type": kind, "error": api_err(400, 10056,
            "stream name in subject does not match request")})
    );
    let v = req(&c, "$JS.API.STREAM.CREATE.S1", r#"{"name":"S2"}"#).await;
    assert_eq!(error_of(&v)["err_code"], 10056);
    let v = req(&c, "$JS.API.STREAM.CREATE.S1", "").await;
    assert_eq!(error_of(&v)["err_code"], 10056);
    // A dotted name makes a longer subject that no API subject matches:
    // nats-server stays silent (the requester times out, no 503).
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        c.request("$JS.API.STREAM.CREATE.a.b", r#"{"name":"a.b"}"#.into()),
    )
    .await;
    assert!(r.is_err(), "expected silence, got {r:?}");
    // The async-nats client refuses such names itself; the server still works.
    assert!(async_nats::jetstream::new(c.clone())
        .create_stream(Config {
            name: "x.y".into(),
            ..Default::default()
        })
        .await
        .is_err());
    let v = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(v["streams"], json!([ok]));
}

#[tokio::test]
async fn bad_json_and_wrong_types_are_10025() {
    let nile = start();
    let c = connect(&nile).await;
    for body in [
        r#"{"name":"S1","#,
        r#"{"name":"S1","max_msgs":"x"}"#,
        r#"{"name":"S1","storage":"disk"}"#,
        r#"{"name":"S1","retention":"foo"}"#,
        r#"{"name":"S1","discard":1}"#,
        r#"[1,2]"#,
        r#"not json"#,
    ] {
        let v = req(&c, "$JS.API.STREAM.CREATE.S1", body).await;
        assert_eq!(
            v["type"], "io.nats.jetstream.api.v1.stream_create_response",
            "{body}"
        );
        let e = error_of(&v);
        assert_eq!(
            (e["code"].as_u64(), e["err_code"].as_u64()),
            (Some(400), Some(10025)),
            "{body}: {v}"
        );
        assert!(
            e["description"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON: "),
            "{body}: {v}"
        );
    }
    // Other endpoints too, each with its own response type and paging fields.
    create(&c, "S1", json!({"name":"S1"})).await;
    let v = req(&c, "$JS.API.STREAM.INFO.S1", r#"{"bad""#).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_info_response");
    assert_eq!(error_of(&v)["err_code"], 10025);
    assert_eq!(
        (
            v["total"].as_u64(),
            v["offset"].as_u64(),
            v["limit"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"offset":"x"}"#).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_names_response");
    assert_eq!(error_of(&v)["err_code"], 10025);
    let v = req(&c, "$JS.API.STREAM.PURGE.S1", r#"{"keep":-1}"#).await;
    assert_eq!(error_of(&v)["err_code"], 10025);
    assert_eq!(v["purged"], 0);
    let v = req(&c, "$JS.API.STREAM.MSG.GET.S1", r#"{"seq":"#).await;
    assert_eq!(error_of(&v)["err_code"], 10025);
    // The server carries on.
    let v = info(&c, "S1").await;
    assert_eq!(config_of(&v["config"]), default_config("S1", &["S1"]));
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    // nats-server 2.10 ignores unknown fields; 2.11+ rejects them unless
    // JetStream runs non-strict. Nile keeps the 2.10 behaviour although it
    // advertises 2.11 (docs/compatibility.md): a config field Nile does not
    // model is ignored rather than refused.
    let nile = start();
    let c = connect(&nile).await;
    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.S1",
        r#"{"name":"S1","subjects":["s1.>"],"bogus_field":5,"x":{"y":[1]}}"#,
    )
    .await;
    if nile_tests::is_nats_server() && is_server_2_11_plus(&c) {
        assert_eq!(
            v["error"],
            api_err(
                400,
                10025,
                "invalid JSON: json: unknown field \"bogus_field\""
            )
        );
        return;
    }
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(config_of(&v["config"]), default_config("S1", &["s1.>"]));
    assert!(v["config"].get("bogus_field").is_none());
}

/// `(request body, code, err_code, description)` for configs nats-server refuses.
const REFUSED: &[(&str, u64, u64, &str)] = &[
    (
        r#"{"name":"S","max_age":-1}"#,
        500,
        10052,
        "max age can not be negative",
    ),
    (
        r#"{"name":"S","max_age":50}"#,
        500,
        10052,
        "max age needs to be >= 100ms",
    ),
    (
        r#"{"name":"S","duplicate_window":-1}"#,
        500,
        10052,
        "duplicates window can not be negative",
    ),
    (
        r#"{"name":"S","max_age":1000000000,"duplicate_window":2000000000}"#,
        500,
        10052,
        "duplicates window can not be larger then max age",
    ),
    (
        r#"{"name":"S","duplicate_window":50}"#,
        500,
        10052,
        "duplicates window needs to be >= 100ms",
    ),
    (
        r#"{"name":"S","num_replicas":3}"#,
        500,
        10074,
        "replicas > 1 not supported in non-clustered mode",
    ),
    (
        r#"{"name":"S","num_replicas":6}"#,
        500,
        10052,
        "maximum replicas is 5",
    ),
    (
        r#"{"name":"S","deny_purge":true,"allow_rollup_hdrs":true}"#,
        500,
        10052,
        "roll-ups require the purge permission",
    ),
    (
        r#"{"name":"S","discard_new_per_subject":true}"#,
        500,
        10052,
        "discard new per subject requires discard new policy to be set",
    ),
    (
        r#"{"name":"S","discard":"new","discard_new_per_subject":true}"#,
        500,
        10052,
        "discard new per subject requires max msgs per subject > 0",
    ),
    (
        r#"{"name":"S","subjects":["a","a"]}"#,
        500,
        10052,
        r#"subject "a" overlaps with "a""#,
    ),
    (
        r#"{"name":"S","subjects":["a.*","a.b"]}"#,
        500,
        10052,
        r#"subject "a.*" overlaps with "a.b""#,
    ),
    (
        r#"{"name":"S","subjects":["a..b"]}"#,
        500,
        10052,
        "invalid subject",
    ),
    (
        r#"{"name":"S","subjects":["*.b"]}"#,
        500,
        10052,
        "subjects that overlap with jetstream api require no-ack to be true",
    ),
    (
        r#"{"name":"S","subjects":["$JS.FOO.x"]}"#,
        500,
        10052,
        "subjects that overlap with jetstream api require no-ack to be true",
    ),
    (
        r#"{"name":"S","subjects":["$SYS.x"]}"#,
        500,
        10052,
        "subjects that overlap with system api require no-ack to be true",
    ),
    (
        r#"{"name":"S","subjects":[">"]}"#,
        500,
        10052,
        "capturing all subjects requires no-ack to be true",
    ),
    (
        r#"{"name":"S","subjects":["$JS.API.>"]}"#,
        500,
        10052,
        "subjects that overlap with jetstream api require no-ack to be true",
    ),
    (
        r#"{"name":"S","sealed":true}"#,
        500,
        10052,
        "stream configuration for create can not be sealed",
    ),
    (
        r#"{"name":"S","description":"DESC"}"#,
        500,
        10052,
        "stream description is too long, maximum allowed is 4096",
    ),
];

#[tokio::test]
async fn negative_and_inconsistent_limits() {
    let nile = start();
    let c = connect(&nile).await;
    let long = "d".repeat(4097);
    for (body, code, err_code, desc) in REFUSED {
        let body = body.replace("DESC", &long);
        let v = req(&c, "$JS.API.STREAM.CREATE.S", &body).await;
        assert_eq!(
            v,
            json!({"type":"io.nats.jetstream.api.v1.stream_create_response",
                   "error": api_err(*code, *err_code, desc)}),
            "{body}"
        );
    }
    // max_msg_size does not fit nats-server's int32.
    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","max_msg_size":3000000000}"#,
    )
    .await;
    assert_eq!(error_of(&v)["err_code"], 10025, "{v}");
    // Nothing was created along the way, and the server carries on.
    let v = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(v["total"], 0);
    assert_eq!(v["streams"], Value::Null);
    create(&c, "S", json!({"name":"S","subjects":["a.*"]})).await;
    // The exempt namespaces, and anything with no_ack.
    create(
        &c,
        "EV",
        json!({"name":"EV","subjects":["$JS.EVENT.ADVISORY.>","$SYS.ACCOUNT.x"]}),
    )
    .await;
    create(
        &c,
        "NA",
        json!({"name":"NA","subjects":["*.zz.b"],"no_ack":true}),
    )
    .await;
}

#[tokio::test]
async fn subjects_overlap_with_another_stream_is_10065() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    js.create_stream(Config {
        name: "A".into(),
        subjects: vec!["s1.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let overlap = api_err(400, 10065, "subjects overlap with an existing stream");
    for subj in ["s1.a", "s1.*", "s1.>", "s1.a.>"] {
        let v = req(
            &c,
            "$JS.API.STREAM.CREATE.B",
            &json!({"name":"B","subjects":[subj]}).to_string(),
        )
        .await;
        assert_eq!(
            v,
            json!({"type":"io.nats.jetstream.api.v1.stream_create_response","error": overlap}),
            "{subj}"
        );
    }
    // Disjoint subjects are fine, and an update into A's subjects is refused.
    create(&c, "B", json!({"name":"B","subjects":["s2.>","s1"]})).await;
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.B",
        r#"{"name":"B","subjects":["s2.>","s1.x"]}"#,
    )
    .await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_update_response","error": overlap})
    );
    // A stream without subjects captures its own name, which overlaps too.
    let v = req(&c, "$JS.API.STREAM.CREATE.s1", r#"{"name":"s1"}"#).await;
    assert_eq!(error_of(&v)["err_code"], 10065);
    // After A is deleted its subjects are free.
    assert!(js.delete_stream("A").await.unwrap().success);
    create(&c, "C", json!({"name":"C","subjects":["s1.*"]})).await;
}

#[tokio::test]
async fn update_rules() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "U", json!({"name":"U","subjects":["u.>"]})).await;
    let kind = "io.nats.jetstream.api.v1.stream_update_response";
    let refused = |desc: &str| json!({"type": kind, "error": api_err(500, 10052, desc)});
    let upd = |body: &str| {
        let c = c.clone();
        let body = body.to_string();
        async move { req(&c, "$JS.API.STREAM.UPDATE.U", &body).await }
    };
    assert_eq!(
        upd(r#"{"name":"U","subjects":["u.>"],"storage":"memory"}"#).await,
        refused("stream configuration update can not change storage type")
    );
    assert_eq!(
        upd(r#"{"name":"U","subjects":["u.>"],"retention":"workqueue"}"#).await,
        refused("stream configuration update can not change retention policy to/from workqueue")
    );
    // limits ↔ interest is allowed, as are limits and new subjects.
    let v = upd(r#"{"name":"U","subjects":["u.>","v"],"retention":"interest","max_msgs":7}"#).await;
    assert!(v.get("error").is_none(), "{v}");
    let mut want = default_config("U", &["u.>", "v"]);
    want["retention"] = json!("interest");
    want["max_msgs"] = json!(7);
    assert_eq!(config_of(&v["config"]), want);
    assert_eq!(v["type"], kind);
    // The new subject captures at once.
    let ack = publish(&c, "v", &[], "x").await;
    assert_eq!(ack, json!({"stream":"U","seq":1}));

    let v = upd(r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"deny_purge":true}"#).await;
    assert!(v.get("error").is_none(), "{v}");
    // "v" is no longer captured.
    let e = c.request("v", "x".into()).await.unwrap_err();
    assert_eq!(e.kind(), async_nats::RequestErrorKind::NoResponders);
    assert_eq!(
        upd(r#"{"name":"U","subjects":["u.>"],"deny_purge":true}"#).await,
        refused("stream configuration update can not cancel deny message deletes")
    );
    assert_eq!(
        upd(r#"{"name":"U","subjects":["u.>"],"deny_delete":true}"#).await,
        refused("stream configuration update can not cancel deny purge")
    );
    let v = upd(
        r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"deny_purge":true,"sealed":true}"#,
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(v["config"]["sealed"], true);
    assert_eq!(
        upd(r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"deny_purge":true}"#).await,
        refused("stream configuration update can not unseal a sealed stream")
    );
    // Sealing rewrites the config as nats-server does.
    create(
        &c,
        "SE",
        json!({"name":"SE","max_age":5_000_000_000i64,"allow_rollup_hdrs":true}),
    )
    .await;
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.SE",
        r#"{"name":"SE","max_age":5000000000,"allow_rollup_hdrs":true,"sealed":true}"#,
    )
    .await;
    let mut want = default_config("SE", &["SE"]);
    want["duplicate_window"] = json!(5_000_000_000i64);
    want["discard"] = json!("new");
    want["sealed"] = json!(true);
    want["deny_delete"] = json!(true);
    want["deny_purge"] = json!(true);
    assert_eq!(config_of(&v["config"]), want);
    // Name checks and a missing stream.
    let v = req(&c, "$JS.API.STREAM.UPDATE.U", r#"{"name":"X"}"#).await;
    assert_eq!(
        v,
        json!({"type": kind, "error": api_err(400, 10056, "stream name in subject does not match request")})
    );
    let v = req(&c, "$JS.API.STREAM.UPDATE.NOPE", r#"{"name":"NOPE"}"#).await;
    assert_eq!(
        v,
        json!({"type": kind, "error": api_err(404, 10059, "stream not found")})
    );
    // The same through async-nats.
    let e = js
        .update_stream(Config {
            name: "U".into(),
            subjects: vec!["u.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("storage type"), "{e}");
    // Refused updates changed nothing.
    let v = info(&c, "U").await;
    assert_eq!(v["config"]["storage"], "file");
    assert_eq!(v["config"]["sealed"], true);
    assert_eq!(v["config"]["subjects"], json!(["u.>"]));
    // The message on "v" arrived while the stream had interest retention
    // and no consumers, so (as on nats-server) it was not kept.
    assert_eq!(
        (
            v["state"]["messages"].as_u64(),
            v["state"]["last_seq"].as_u64()
        ),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn update_limits_apply_to_stored_messages() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let mut cfg = Config {
        name: "L".into(),
        subjects: vec!["l.*".into()],
        ..Default::default()
    };
    js.create_stream(cfg.clone()).await.unwrap();
    for i in 0..10 {
        js.publish(format!("l.{}", i % 2), format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    cfg.max_messages = 4;
    let info = js.update_stream(cfg.clone()).await.unwrap();
    assert_eq!(info.config.max_messages, 4);
    assert_eq!(info.state.messages, 4);
    assert_eq!(info.state.first_sequence, 7);
    assert_eq!(info.state.last_sequence, 10);
    cfg.max_messages_per_subject = 1;
    let info = js.update_stream(cfg).await.unwrap();
    assert_eq!(info.state.messages, 2);
    assert_eq!(info.state.first_sequence, 9);
    let v = info_subjects(&c, "L", "l.*").await;
    assert_eq!(v["state"]["subjects"], json!({"l.0": 1, "l.1": 1}));
}

async fn info_subjects(c: &async_nats::Client, name: &str, filter: &str) -> Value {
    req(
        c,
        &format!("$JS.API.STREAM.INFO.{name}"),
        &json!({ "subjects_filter": filter }).to_string(),
    )
    .await
}

#[tokio::test]
async fn info_subjects_filter_and_deleted_details() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "M",
        json!({"name":"M","subjects":["m.*"],"storage":"memory"}),
    )
    .await;
    for (s, b) in [("m.a", "1"), ("m.a", "2"), ("m.a", "3"), ("m.b", "1")] {
        js.publish(s, b.into()).await.unwrap().await.unwrap();
    }
    let v = info_subjects(&c, "M", "m.*").await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_info_response");
    assert_eq!(
        (
            v["total"].as_u64(),
            v["offset"].as_u64(),
            v["limit"].as_u64()
        ),
        (Some(2), Some(0), Some(100000))
    );
    assert_eq!(v["state"]["subjects"], json!({"m.a": 3, "m.b": 1}));
    assert_eq!(v["state"]["num_subjects"], 2);
    assert_eq!(
        v["cluster"]["leader"].as_str().map(str::is_empty),
        Some(false)
    );
    let v = info_subjects(&c, "M", "m.b").await;
    assert_eq!(v["state"]["subjects"], json!({"m.b": 1}));
    assert_eq!(v["total"], 1);
    // Without a filter there is no subjects map and no paging.
    let v = info(&c, "M").await;
    assert!(v["state"].get("subjects").is_none(), "{v}");
    assert_eq!(
        (v["total"].as_u64(), v["limit"].as_u64()),
        (Some(0), Some(0))
    );

    let s = js.get_stream("M").await.unwrap();
    assert!(s.delete_message(2).await.unwrap());
    let v = req(&c, "$JS.API.STREAM.INFO.M", r#"{"deleted_details":true}"#).await;
    assert_eq!(v["state"]["num_deleted"], 1);
    assert_eq!(v["state"]["deleted"], json!([2]));
    assert_eq!(v["state"]["messages"], 3);
    assert_eq!(
        (
            v["state"]["first_seq"].as_u64(),
            v["state"]["last_seq"].as_u64()
        ),
        (Some(1), Some(4))
    );
    let v = info(&c, "M").await;
    assert_eq!(v["state"]["num_deleted"], 1);
    assert!(v["state"].get("deleted").is_none(), "{v}");
    // async-nats' info builder.
    let got = s
        .info_builder()
        .with_deleted(true)
        .subjects("m.a")
        .fetch()
        .await
        .unwrap();
    assert_eq!(got.info.state.deleted, Some(vec![2]));
    let subjects: Vec<(String, usize)> = got.try_collect().await.unwrap();
    assert_eq!(subjects, [("m.a".to_string(), 2)]);
}

#[tokio::test]
async fn names_and_list_paging_and_subject_filter() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let v = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_names_response",
               "total":0,"offset":0,"limit":1024,"streams":null})
    );
    let v = req(&c, "$JS.API.STREAM.LIST", "").await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_list_response",
               "total":0,"offset":0,"limit":256,"streams":[]})
    );
    for (name, subj) in [("C", "c.>"), ("A", "a.*"), ("B", "b")] {
        create(&c, name, json!({"name": name, "subjects": [subj]})).await;
    }
    let v = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_names_response",
               "total":3,"offset":0,"limit":1024,"streams":["A","B","C"]})
    );
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"offset":1}"#).await;
    assert_eq!(
        (v["total"].as_u64(), v["offset"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["streams"], json!(["B", "C"]));
    // An offset past the end is clamped to the total.
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"offset":5}"#).await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_names_response",
               "total":3,"offset":3,"limit":1024,"streams":null})
    );
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"subject":"a.x"}"#).await;
    assert_eq!(
        (v["total"].as_u64(), &v["streams"]),
        (Some(1), &json!(["A"]))
    );
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"subject":"nomatch"}"#).await;
    assert_eq!(
        (v["total"].as_u64(), &v["streams"]),
        (Some(0), &Value::Null)
    );
    let v = req(&c, "$JS.API.STREAM.NAMES", r#"{"subject":">"}"#).await;
    assert_eq!(v["total"], 3);

    let v = req(&c, "$JS.API.STREAM.LIST", r#"{"subject":"c.d.e"}"#).await;
    assert_eq!(
        (v["total"].as_u64(), v["limit"].as_u64()),
        (Some(1), Some(256))
    );
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(
        config_of(&streams[0]["config"]),
        default_config("C", &["c.>"])
    );
    assert_eq!(streams[0]["state"]["messages"], 0);

    // async-nats pages through both.
    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["A", "B", "C"]);
    let infos: Vec<_> = js.streams().try_collect().await.unwrap();
    let mut names: Vec<_> = infos.iter().map(|i| i.config.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["A", "B", "C"]);
    assert_eq!(js.stream_by_subject("b").await.unwrap(), "B");
}

#[tokio::test]
async fn list_pages_past_256_streams() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    // Memory streams are cheap; 260 exceed one LIST page.
    let n = 260;
    let mut pending = Vec::new();
    for i in 0..n {
        let name = format!("P{i:03}");
        let body = json!({"name": name, "storage": "memory"}).to_string();
        pending.push(c.request(format!("$JS.API.STREAM.CREATE.{name}"), body.into()));
    }
    for r in futures::future::join_all(pending).await {
        let v: Value = serde_json::from_slice(&r.unwrap().payload).unwrap();
        assert!(v.get("error").is_none(), "{v}");
    }
    let v = req(&c, "$JS.API.STREAM.LIST", "").await;
    assert_eq!(
        (
            v["total"].as_u64(),
            v["offset"].as_u64(),
            v["limit"].as_u64()
        ),
        (Some(n), Some(0), Some(256))
    );
    assert_eq!(v["streams"].as_array().map(Vec::len), Some(256));
    let v = req(&c, "$JS.API.STREAM.LIST", r#"{"offset":256}"#).await;
    let names: Vec<_> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["config"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["P256", "P257", "P258", "P259"]);
    let v = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(v["streams"].as_array().map(Vec::len), Some(n as usize));
    let infos: Vec<_> = js.streams().try_collect().await.unwrap();
    assert_eq!(infos.len(), n as usize);
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names.len(), n as usize);
}

#[tokio::test]
async fn missing_stream_errors() {
    let nile = start();
    let c = connect(&nile).await;
    let nf = api_err(404, 10059, "stream not found");
    let t = |k: &str| format!("io.nats.jetstream.api.v1.{k}");
    assert_eq!(
        info(&c, "NOPE").await,
        json!({"type": t("stream_info_response"), "error": nf, "total":0, "offset":0, "limit":0})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.DELETE.NOPE", "").await,
        json!({"type": t("stream_delete_response"), "error": nf})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.PURGE.NOPE", "").await,
        json!({"type": t("stream_purge_response"), "error": nf, "purged": 0})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#).await,
        json!({"type": t("stream_msg_get_response"), "error": nf})
    );
    assert_eq!(
        req(&c, "$JS.API.STREAM.MSG.DELETE.NOPE", r#"{"seq":1}"#).await,
        json!({"type": t("stream_msg_delete_response"), "error": nf})
    );
    let js = async_nats::jetstream::new(c.clone());
    assert!(js.get_stream("NOPE").await.is_err());
    assert!(js.delete_stream("NOPE").await.is_err());
}

#[tokio::test]
async fn delete_stream_removes_it_and_its_messages() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "D", json!({"name":"D","subjects":["d.>"]})).await;
    js.publish("d.1", "x".into()).await.unwrap().await.unwrap();
    assert_eq!(
        req(&c, "$JS.API.STREAM.DELETE.D", "").await,
        json!({"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true})
    );
    assert_eq!(info(&c, "D").await["error"]["err_code"], 10059);
    // Its subjects are no longer captured: a publish gets no responders.
    let e = c.request("d.1", "x".into()).await.unwrap_err();
    assert_eq!(e.kind(), async_nats::RequestErrorKind::NoResponders);
    // Recreating starts empty.
    let v = create(&c, "D", json!({"name":"D","subjects":["d.>"]})).await;
    assert_eq!(v["state"]["messages"], 0);
    assert_eq!(v["state"]["last_seq"], 0);
    let ack = publish(&c, "d.1", &[], "y").await;
    assert_eq!(ack, ack_json("D", 1));
}

fn ack_json(stream: &str, seq: u64) -> Value {
    ack(stream, seq)
}

#[tokio::test]
async fn account_info() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    assert_eq!(
        (
            v["memory"].as_u64(),
            v["storage"].as_u64(),
            v["streams"].as_u64(),
            v["consumers"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0))
    );
    assert_eq!(
        (
            v["reserved_memory"].as_u64(),
            v["reserved_storage"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        v["limits"],
        json!({"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,
               "max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,
               "max_bytes_required":false})
    );
    let total0 = v["api"]["total"].as_u64().unwrap();
    let errors0 = v["api"]["errors"].as_u64().unwrap();

    create(
        &c,
        "F",
        json!({"name":"F","subjects":["f"],"max_bytes":1_000_000}),
    )
    .await;
    create(
        &c,
        "M",
        json!({"name":"M","subjects":["m"],"storage":"memory","max_bytes":5000,"allow_direct":true}),
    )
    .await;
    for _ in 0..3 {
        js.publish("f", "file-payload".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    js.publish("m", "memory-payload".into())
        .await
        .unwrap()
        .await
        .unwrap();
    // Two consumers on F.
    for name in ["c1", "c2"] {
        let v = req(
            &c,
            &format!("$JS.API.CONSUMER.CREATE.F.{name}"),
            &json!({"stream_name":"F","config":{"durable_name":name,"ack_policy":"explicit"}})
                .to_string(),
        )
        .await;
        assert!(v.get("error").is_none(), "{v}");
    }
    // Direct gets are not API requests in nats-server's counters.
    for _ in 0..3 {
        let m = req_msg(&c, "$JS.API.DIRECT.GET.M", r#"{"seq":1}"#)
            .await
            .unwrap();
        assert_eq!(&m.payload[..], b"memory-payload");
    }
    let _ = info(&c, "NOPE").await; // one error
    let v = req(&c, "$JS.API.INFO", "").await;
    let f = info(&c, "F").await["state"]["bytes"].as_u64().unwrap();
    let m = info(&c, "M").await["state"]["bytes"].as_u64().unwrap();
    assert!(f > 3 * 12 && m > 14, "file {f} memory {m}");
    assert_eq!(
        (v["storage"].as_u64(), v["memory"].as_u64()),
        (Some(f), Some(m))
    );
    assert_eq!(v["streams"], 2);
    assert_eq!(v["consumers"], 2);
    assert_eq!(info(&c, "F").await["state"]["consumer_count"], 2);
    assert_eq!(info(&c, "M").await["state"]["consumer_count"], 0);
    // nats-server reserves max_bytes per stream.
    assert_eq!(
        (
            v["reserved_storage"].as_u64(),
            v["reserved_memory"].as_u64()
        ),
        (Some(1_000_000), Some(5000))
    );
    // 2 stream and 2 consumer creates, the failed INFO, then this INFO (the
    // first one is in total0).
    assert_eq!(v["api"]["total"].as_u64(), Some(total0 + 6));
    assert_eq!(v["api"]["errors"].as_u64(), Some(errors0 + 1));

    let acct = js.query_account().await.unwrap();
    assert_eq!(acct.streams, 2);
    assert_eq!(acct.consumers, 2);
    assert_eq!(acct.storage, f);
    assert_eq!(acct.memory, m);
    // -1 (unlimited) is None in async-nats.
    assert_eq!(acct.limits.max_streams, None);
}

#[tokio::test]
async fn purge_options_and_errors() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(&c, "P", json!({"name":"P","subjects":["p.*"]})).await;
    for i in 1..=10 {
        js.publish(format!("p.{}", i % 2), i.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let s = js.get_stream("P").await.unwrap();
    // Both seq and keep: bad request, nothing purged.
    let v = req(&c, "$JS.API.STREAM.PURGE.P", r#"{"seq":3,"keep":1}"#).await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response",
               "error": api_err(400, 10003, "bad request"), "purged": 0})
    );
    // keep 3 of p.0 (seqs 2,4,6,8,10): purges 2 and 4.
    let r = s.purge().filter("p.0").keep(3).await.unwrap();
    assert_eq!((r.success, r.purged), (true, 2));
    // seq: everything on p.1 below 5 (1 and 3).
    let v = req(&c, "$JS.API.STREAM.PURGE.P", r#"{"filter":"p.1","seq":5}"#).await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":2})
    );
    let v = info_subjects(&c, "P", ">").await;
    assert_eq!(v["state"]["subjects"], json!({"p.0": 3, "p.1": 3}));
    assert_eq!(v["state"]["messages"], 6);
    assert_eq!(v["state"]["first_seq"], 5);
    // Keep at most 2 of everything (a total, not per subject).
    let r = s.purge().keep(2).await.unwrap();
    assert_eq!(r.purged, 4);
    let v = info_subjects(&c, "P", ">").await;
    assert_eq!(v["state"]["subjects"], json!({"p.0": 1, "p.1": 1}));
    // keep 0 and seq 0 mean "not set": a full purge, which keeps last_seq
    // and moves first_seq past it.
    let v = req(&c, "$JS.API.STREAM.PURGE.P", r#"{"keep":0,"seq":0}"#).await;
    assert_eq!(v["purged"], 2, "{v}");
    let r = s.purge().await.unwrap();
    assert_eq!(r.purged, 0);
    let st = &info(&c, "P").await["state"];
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["first_seq"].as_u64(),
            st["last_seq"].as_u64()
        ),
        (Some(0), Some(11), Some(10))
    );
    assert_eq!(st["first_ts"], "0001-01-01T00:00:00Z");
    assert!(is_rfc3339(st["last_ts"].as_str().unwrap()));
    let ack = publish(&c, "p.1", &[], "z").await;
    assert_eq!(ack, ack_json("P", 11));
}

#[tokio::test]
async fn stream_advisories() {
    let nile = start();
    let c = connect(&nile).await;
    let mut sub = c.subscribe("$JS.EVENT.ADVISORY.STREAM.>").await.unwrap();
    c.flush().await.unwrap();
    create(&c, "ADV", json!({"name":"ADV"})).await;
    // An idempotent create changes nothing and announces nothing.
    create(&c, "ADV", json!({"name":"ADV"})).await;
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.ADV",
        r#"{"name":"ADV","max_msgs":5}"#,
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    // A refused update announces nothing either.
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.ADV",
        r#"{"name":"ADV","storage":"memory"}"#,
    )
    .await;
    assert!(v.get("error").is_some(), "{v}");
    assert_eq!(
        req(&c, "$JS.API.STREAM.DELETE.ADV", "").await["success"],
        true
    );
    let mut ids = Vec::new();
    for (subject, action) in [
        ("$JS.EVENT.ADVISORY.STREAM.CREATED.ADV", "create"),
        ("$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV", "modify"),
        ("$JS.EVENT.ADVISORY.STREAM.DELETED.ADV", "delete"),
    ] {
        let m = tokio::time::timeout(TIMEOUT, futures::StreamExt::next(&mut sub))
            .await
            .expect("advisory")
            .unwrap();
        assert_eq!(m.subject.as_str(), subject);
        let mut v: Value = serde_json::from_slice(&m.payload).unwrap();
        let id = v["id"].take();
        let ts = v["timestamp"].take();
        assert!(is_rfc3339(ts.as_str().unwrap()), "{ts}");
        assert!(!id.as_str().unwrap().is_empty());
        ids.push(id);
        assert_eq!(
            v,
            json!({"type":"io.nats.jetstream.advisory.v1.stream_action","id":null,
                   "timestamp":null,"stream":"ADV","action":action})
        );
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    let extra = tokio::time::timeout(
        Duration::from_millis(200),
        futures::StreamExt::next(&mut sub),
    )
    .await;
    assert!(extra.is_err(), "unexpected advisory {extra:?}");
}

#[tokio::test]
async fn without_jetstream_the_api_has_no_responders() {
    let nile = nile_tests::Nile::start(&[]);
    let c = connect(&nile).await;
    for subj in ["$JS.API.INFO", "$JS.API.STREAM.CREATE.S"] {
        let e = req_msg(&c, subj, r#"{"name":"S"}"#).await.unwrap_err();
        assert_eq!(
            e.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{subj}"
        );
    }
    let js = async_nats::jetstream::new(c.clone());
    assert!(js.query_account().await.is_err());
}

/// `$JS.API.INFO` reports the API requests handled before it (async-nats's
/// `query_account_requests` and nats.py's `test_account_limits` count on it).
#[tokio::test]
async fn account_info_counts_the_requests_before_it() {
    let nile = start();
    let c = connect(&nile).await;
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(v["api"]["total"], 0, "{v}");
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(v["api"]["total"], 1, "{v}");
    let bad = req(&c, "$JS.API.STREAM.INFO.NOPE", "").await;
    assert_eq!(bad["error"]["err_code"], 10059);
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(
        (v["api"]["total"].as_u64(), v["api"]["errors"].as_u64()),
        (Some(3), Some(1)),
        "{v}"
    );
}
