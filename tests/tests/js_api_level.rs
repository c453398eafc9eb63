//! The JetStream API level (ADR-44): INFO `api_lvl`, `$JS.API.INFO`
//! `api.level`, the `Nats-Required-Api-Level` request header, and the
//! `_nats.*` metadata stamped into returned stream and consumer configs.
//! What a server reports follows the version it advertises (none before
//! 2.11), so the same tests hold for Nile and for nats-server.

mod js_stream_util;

use async_nats::header::HeaderMap;
use async_nats::Client;
use js_stream_util::*;
use nile_tests::Nile;
use serde_json::{json, Value};

/// The level a server of `version` reports, if any (2.11 → 1, 2.12 → 2, ...).
fn expected_level(version: &str) -> Option<u64> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major == 2 && minor >= 11).then(|| minor - 10)
}

async fn req_with_level(c: &Client, subject: &str, level: &str, body: &str) -> async_nats::Message {
    let mut h = HeaderMap::new();
    h.insert("Nats-Required-Api-Level", level);
    let r = c.request_with_headers(subject.to_string(), h, body.to_string().into());
    tokio::time::timeout(TIMEOUT, r)
        .await
        .expect("reply in time")
        .expect("a reply")
}

async fn json_with_level(c: &Client, subject: &str, level: &str, body: &str) -> Value {
    let m = req_with_level(c, subject, level, body).await;
    serde_json::from_slice(&m.payload).expect("JSON reply")
}

fn level_error(kind: &str) -> Value {
    json!({
        "type": format!("io.nats.jetstream.api.v1.{kind}"),
        "error": api_err(412, 10185, "JetStream minimum api level required"),
    })
}

/// The body of an HTTP GET on the monitoring port.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn info_and_account_info_report_the_level_of_the_version() {
    let nile = Nile::start(&["-js", "-m", "-1"]);
    let raw = nile.raw();
    let version = raw.info["version"].as_str().unwrap().to_string();
    let want = expected_level(&version);
    assert_eq!(raw.info["api_lvl"].as_u64(), want, "INFO {}", raw.info);
    let c = connect(&nile).await;
    let v = req(&c, "$JS.API.INFO", "").await;
    assert_eq!(v["api"]["level"].as_u64(), want, "{v}");
    assert!(v["api"]["total"].is_u64());
    // /jsz says 0 where $JS.API.INFO says nothing.
    let jsz: Value = serde_json::from_str(&http_get(nile.http_port.unwrap(), "/jsz")).unwrap();
    assert_eq!(
        jsz["api"]["level"].as_u64(),
        Some(want.unwrap_or(0)),
        "{jsz}"
    );
}

#[tokio::test]
async fn required_level_above_the_server_is_refused() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "S",
        json!({"name":"S","subjects":["s.>"],"allow_direct":true}),
    )
    .await;
    assert_eq!(publish(&c, "s.a", &[], "x").await, ack("S", 1));
    let v = json_with_level(&c, "$JS.API.INFO", "99", "").await;
    assert_eq!(v, level_error("account_info_response"));
    // Not a number is refused too.
    let v = json_with_level(&c, "$JS.API.INFO", "abc", "").await;
    assert_eq!(v, level_error("account_info_response"));
    // The check comes before anything else: the stream is not created.
    let body = json!({"name":"T","subjects":["t"]}).to_string();
    let v = json_with_level(&c, "$JS.API.STREAM.CREATE.T", "99", &body).await;
    assert_eq!(v, level_error("stream_create_response"));
    let v = req(&c, "$JS.API.STREAM.INFO.T", "").await;
    assert_eq!(v["error"]["err_code"], 10059);
    // Paged answers keep their paging fields.
    let v = json_with_level(&c, "$JS.API.STREAM.NAMES", "99", "").await;
    let mut want = level_error("stream_names_response");
    want["total"] = 0.into();
    want["offset"] = 0.into();
    want["limit"] = 0.into();
    want["streams"] = Value::Null;
    assert_eq!(v, want);
    let v = json_with_level(&c, "$JS.API.STREAM.INFO.NOPE", "99", "").await;
    assert_eq!(v["error"]["err_code"], 10185, "{v}");
    // Direct get answers with a status.
    let m = req_with_level(&c, "$JS.API.DIRECT.GET.S", "99", r#"{"seq":1}"#).await;
    let status = m.status.map(|s| s.as_u16());
    assert_eq!(
        (status, m.description.as_deref()),
        (Some(412), Some("Required Api Level"))
    );
    // Levels the server has, and an empty value, pass.
    for ok in ["0", "1", ""] {
        let v = json_with_level(&c, "$JS.API.INFO", ok, "").await;
        assert!(v.get("error").is_none(), "level {ok:?}: {v}");
    }
    let m = req_with_level(&c, "$JS.API.DIRECT.GET.S", "1", r#"{"seq":1}"#).await;
    assert_eq!(&m.payload[..], b"x");
    // The refusals count as API errors.
    let v = req(&c, "$JS.API.INFO", "").await;
    assert!(v["api"]["errors"].as_u64().unwrap() >= 5, "{v}");
}

#[tokio::test]
async fn required_level_on_a_pull_request() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "S", json!({"name":"S","subjects":["s.>"]})).await;
    let body = json!({"stream_name":"S","config":{"durable_name":"d","ack_policy":"explicit"}});
    let v = req(&c, "$JS.API.CONSUMER.CREATE.S.d", &body.to_string()).await;
    assert!(v.get("error").is_none(), "{v}");
    let m = req_with_level(&c, "$JS.API.CONSUMER.MSG.NEXT.S.d", "99", "").await;
    let status = m.status.map(|s| s.as_u16());
    assert_eq!(
        (status, m.description.as_deref()),
        (Some(412), Some("Required Api Level"))
    );
    let v = json_with_level(&c, "$JS.API.CONSUMER.INFO.S.d", "99", "").await;
    assert_eq!(v, level_error("consumer_info_response"));
}

#[tokio::test]
async fn configs_carry_server_metadata_from_2_11() {
    let nile = start();
    let raw = nile.raw();
    let version = raw.info["version"].as_str().unwrap().to_string();
    let want = expected_level(&version);
    let c = connect(&nile).await;
    let cfg = json!({"name":"S","subjects":["s.>"],"metadata":{"x":"y","_nats.ver":"0.1"}});
    let v = create(&c, "S", cfg).await;
    let meta = &v["config"]["metadata"];
    match want {
        Some(level) => {
            let level = level.to_string();
            assert_eq!(
                *meta,
                json!({"_nats.level": level, "_nats.req.level": "0", "_nats.ver": version, "x": "y"})
            );
            // Lists carry the stored key only.
            let v = req(&c, "$JS.API.STREAM.LIST", "").await;
            assert_eq!(
                v["streams"][0]["config"]["metadata"],
                json!({"_nats.req.level": "0", "x": "y"})
            );
        }
        None => assert_eq!(meta["x"], "y"),
    }
    // The returned config, stamps and all, creates the same stream again.
    let again = v["config"].clone();
    let v = req(&c, "$JS.API.STREAM.CREATE.S", &again.to_string()).await;
    assert!(v.get("error").is_none(), "{v}");
    // An update with the stamps keeps only the user's keys stored.
    let v = req(&c, "$JS.API.STREAM.UPDATE.S", &again.to_string()).await;
    assert!(v.get("error").is_none(), "{v}");
    let v = req(
        &c,
        "$JS.API.STREAM.CREATE.S",
        &json!({"name":"S","subjects":["s.>"],"metadata":{"x":"y"}}).to_string(),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");

    let body = json!({"stream_name":"S","config":{"durable_name":"d","ack_policy":"explicit"}});
    let v = req(&c, "$JS.API.CONSUMER.CREATE.S.d", &body.to_string()).await;
    let meta = &v["config"]["metadata"];
    match want {
        Some(level) => assert_eq!(
            *meta,
            json!({"_nats.level": level.to_string(), "_nats.req.level": "0", "_nats.ver": version})
        ),
        None => assert!(meta.is_null(), "{v}"),
    }
    let v = req(&c, "$JS.API.CONSUMER.LIST.S", "").await;
    if want.is_some() {
        assert_eq!(
            v["consumers"][0]["config"]["metadata"],
            json!({"_nats.req.level": "0"})
        );
    }
}
