//! Message counters (ADR-49, nats-server 2.12): `allow_msg_counter`,
//! `Nats-Incr`, the stored `{"val":..}` payload and the PubAck `val`, in
//! arbitrary precision, with nats-server's refusals.

mod js_stream_util;

use js_stream_util::*;
use serde_json::json;

#[tokio::test]
async fn increments_sum_per_subject_in_arbitrary_precision() {
    let nile = start();
    let (c, js) = connect_js(&nile).await;
    create(
        &c,
        "K",
        json!({"name":"K","subjects":["k.>"],"allow_msg_counter":true,"allow_direct":true}),
    )
    .await;
    let incr = |v: &'static str| [("Nats-Incr", v)];
    // The exact PubAck bytes.
    let m = c
        .request_with_headers(
            "k.a",
            {
                let mut h = async_nats::HeaderMap::new();
                h.insert("Nats-Incr", "1");
                h
            },
            "".into(),
        )
        .await
        .unwrap();
    assert_eq!(&m.payload[..], br#"{"stream":"K","seq":1,"val":"1"}"#);
    let v = publish(&c, "k.a", &incr("+5"), "").await;
    assert_eq!(v, json!({"stream":"K","seq":2,"val":"6"}));
    let v = publish(&c, "k.a", &incr("-10"), "").await;
    assert_eq!(v["val"], "-4");
    // Another subject counts on its own.
    let big = "99999999999999999999999999999999999999999";
    assert_eq!(publish(&c, "k.b", &incr(big), "").await["val"], big);
    assert_eq!(
        publish(&c, "k.b", &incr(big), "").await["val"],
        "199999999999999999999999999999999999999998"
    );
    assert_eq!(publish(&c, "k.a", &incr("0"), "").await["val"], "-4");
    let s = js.get_stream("K").await.unwrap();
    let m = s.direct_get_last_for_subject("k.a").await.unwrap();
    assert_eq!(&m.payload[..], br#"{"val":"-4"}"#);
    assert_eq!(m.headers.get("Nats-Incr").map(|v| v.as_str()), Some("0"));
    // A repeated Msg-Id is a duplicate, not a second increment.
    let dedup = [("Nats-Incr", "1"), ("Nats-Msg-Id", "once")];
    assert_eq!(publish(&c, "k.c", &dedup, "").await["val"], "1");
    assert_eq!(
        publish(&c, "k.c", &dedup, "").await,
        json!({"stream":"K","seq":7,"duplicate":true})
    );
}

#[tokio::test]
async fn refusals_have_nats_server_codes() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "K",
        json!({"name":"K","subjects":["k.>"],"allow_msg_counter":true}),
    )
    .await;
    create(&c, "N", json!({"name":"N","subjects":["n.>"]})).await;
    assert_eq!(
        publish(&c, "k.a", &[("Nats-Incr", "1")], "x").await,
        ack_err("K", 400, 10170, "message counter has payload")
    );
    for missing in [&[][..], &[("Nats-Incr", "")][..]] {
        assert_eq!(
            publish(&c, "k.a", missing, "").await,
            ack_err("K", 400, 10169, "message counter increment is missing")
        );
    }
    for bad in ["abc", "1.5", "1e3"] {
        assert_eq!(
            publish(&c, "k.a", &[("Nats-Incr", bad)], "").await,
            ack_err("K", 400, 10171, "message counter increment is invalid"),
            "{bad}"
        );
    }
    assert_eq!(
        publish(&c, "n.a", &[("Nats-Incr", "1")], "").await,
        ack_err("N", 400, 10168, "message counters is disabled")
    );
    assert_eq!(info(&c, "K").await["state"]["messages"], 0);
    let refused = |body: serde_json::Value| {
        let c = c.clone();
        async move {
            let name = body["name"].as_str().unwrap().to_string();
            req(
                &c,
                &format!("$JS.API.STREAM.CREATE.{name}"),
                &body.to_string(),
            )
            .await["error"]
                .clone()
        }
    };
    assert_eq!(
        refused(json!({"name":"T","subjects":["t"],"allow_msg_counter":true,"allow_msg_ttl":true}))
            .await,
        api_err(500, 10052, "counter stream cannot use message TTLs")
    );
    assert_eq!(
        refused(json!({"name":"D","subjects":["d"],"allow_msg_counter":true,"discard":"new"}))
            .await,
        api_err(500, 10052, "counter stream cannot use discard new")
    );
    assert_eq!(
        refused(json!({"name":"M","mirror":{"name":"K"},"allow_msg_counter":true})).await,
        api_err(400, 10173, "stream mirrors can not also calculate counters")
    );
    let v = req(
        &c,
        "$JS.API.STREAM.UPDATE.N",
        &json!({"name":"N","subjects":["n.>"],"allow_msg_counter":true}).to_string(),
    )
    .await;
    assert_eq!(
        v["error"],
        api_err(
            500,
            10052,
            "stream configuration update can not change message counter setting"
        )
    );
}
