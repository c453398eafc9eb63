//! Stream and consumer settings of nats-server 2.12 and 2.14 besides
//! schedules: `persist_mode`, promoting a mirror by removing `mirror`, and
//! ADR-60's durable mirror/source consumers (`ack_policy: flow_control`
//! and the `consumer` of a mirror or source).

mod js_stream_util;

use std::time::{Duration, Instant};

use futures::StreamExt;
use js_stream_util::*;
use serde_json::{json, Value};

async fn refused(c: &async_nats::Client, subject: &str, body: Value) -> Value {
    req(c, subject, &body.to_string()).await["error"].clone()
}

async fn wait_messages(c: &async_nats::Client, stream: &str, n: u64) -> Value {
    let start = Instant::now();
    loop {
        let st = info(c, stream).await["state"].clone();
        if st["messages"] == n {
            return st;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{stream} never had {n} messages: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn persist_mode_round_trips_and_is_fixed() {
    let nile = start();
    let c = connect(&nile).await;
    let v = create(
        &c,
        "A",
        json!({"name":"A","subjects":["a"],"persist_mode":"async"}),
    )
    .await;
    assert_eq!(v["config"]["persist_mode"], "async");
    assert_eq!(v["config"]["metadata"]["_nats.req.level"], "2");
    // `default` is not echoed, as when unset.
    let v = create(
        &c,
        "D",
        json!({"name":"D","subjects":["d"],"persist_mode":"default"}),
    )
    .await;
    assert_eq!(v["config"].get("persist_mode"), None);
    let change = json!({"name":"D","subjects":["d"],"persist_mode":"async"});
    assert_eq!(
        refused(&c, "$JS.API.STREAM.UPDATE.D", change).await,
        api_err(
            500,
            10052,
            "stream configuration update can not change persist mode"
        )
    );
    let memory = json!({"name":"M","subjects":["m"],"persist_mode":"async","storage":"memory"});
    assert_eq!(
        refused(&c, "$JS.API.STREAM.CREATE.M", memory).await,
        api_err(
            500,
            10052,
            "async persist mode is only supported on file storage"
        )
    );
    let atomic = json!({"name":"B","subjects":["b"],"persist_mode":"async","allow_atomic":true});
    assert_eq!(
        refused(&c, "$JS.API.STREAM.CREATE.B", atomic).await,
        api_err(
            500,
            10052,
            "async persist mode is not supported with atomic batch publish"
        )
    );
    // An async stream takes publishes like any other.
    assert_eq!(publish(&c, "a", &[], "x").await, ack("A", 1));
}

#[tokio::test]
async fn removing_the_mirror_promotes_it_to_a_stream() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "O", json!({"name":"O","subjects":["o.>"]})).await;
    for i in 0..5 {
        publish(&c, &format!("o.{i}"), &[], "m").await;
    }
    create(&c, "M", json!({"name":"M","mirror":{"name":"O"}})).await;
    wait_messages(&c, "M", 5).await;
    let mut cfg = info(&c, "M").await["config"].clone();
    cfg.as_object_mut().unwrap().remove("mirror");
    cfg["subjects"] = json!(["m.>"]);
    let v = req(&c, "$JS.API.STREAM.UPDATE.M", &cfg.to_string()).await;
    assert_eq!(v.get("error"), None, "{v}");
    assert_eq!(v["config"].get("mirror"), None);
    assert_eq!(v["state"]["messages"], 5);
    // It no longer follows the origin, and takes publishes of its own.
    publish(&c, "o.5", &[], "m").await;
    assert_eq!(publish(&c, "m.x", &[], "own").await, ack("M", 6));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = info(&c, "M").await["state"].clone();
    assert_eq!(
        (st["messages"].clone(), st["last_seq"].clone()),
        (json!(6), json!(6))
    );
    // A mirror may still not be added to a stream, nor changed.
    let mut again = v["config"].clone();
    again["mirror"] = json!({"name":"O"});
    again.as_object_mut().unwrap().remove("subjects");
    assert_eq!(
        refused(&c, "$JS.API.STREAM.UPDATE.M", again).await["err_code"],
        10055
    );
}

#[tokio::test]
async fn flow_control_ack_policy_rules() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "O", json!({"name":"O","subjects":["o.>"]})).await;
    let create_consumer = |cfg: Value| {
        let c = c.clone();
        async move {
            let body = json!({"stream_name":"O","config":cfg}).to_string();
            let name = cfg["durable_name"].as_str().unwrap().to_string();
            req(&c, &format!("$JS.API.CONSUMER.CREATE.O.{name}"), &body).await
        }
    };
    // Flow control and a 1 s heartbeat are set for it; no ack wait.
    let v = create_consumer(json!({"durable_name":"C","deliver_subject":"d.c","ack_policy":"flow_control","idle_heartbeat":5_000_000_000i64})).await;
    let cfg = &v["config"];
    assert_eq!(cfg["ack_policy"], "flow_control");
    assert_eq!(
        (cfg["flow_control"].clone(), cfg["idle_heartbeat"].clone()),
        (json!(true), json!(1_000_000_000i64))
    );
    assert_eq!(
        (
            cfg.get("ack_wait"),
            cfg["max_deliver"].clone(),
            cfg["max_ack_pending"].clone()
        ),
        (None, json!(-1), json!(1000))
    );
    assert_eq!(cfg["metadata"]["_nats.req.level"], "4");
    let cases = [
        (
            json!({"durable_name":"P","ack_policy":"flow_control"}),
            10218,
            "flow control ack policy requires a push based consumer",
        ),
        (
            json!({"durable_name":"W","deliver_subject":"d.w","ack_policy":"flow_control","ack_wait":5_000_000_000i64}),
            10221,
            "flow control ack policy requires unset ack wait",
        ),
        (
            json!({"durable_name":"X","deliver_subject":"d.x","ack_policy":"flow_control","max_deliver":5}),
            10222,
            "flow control ack policy requires unset max deliver",
        ),
    ];
    for (cfg, code, text) in cases {
        assert_eq!(
            create_consumer(cfg).await["error"],
            api_err(400, code, text)
        );
    }
}

#[tokio::test]
async fn flow_control_replies_ack_a_work_queue() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "Q",
        json!({"name":"Q","subjects":["q.>"],"retention":"workqueue"}),
    )
    .await;
    let body = json!({"stream_name":"Q","config":{"durable_name":"C","deliver_subject":"d.q","ack_policy":"flow_control","max_ack_pending":2}});
    let v = req(&c, "$JS.API.CONSUMER.CREATE.Q.C", &body.to_string()).await;
    assert_eq!(v.get("error"), None, "{v}");
    let mut sub = c.subscribe("d.q").await.unwrap();
    for i in 0..3 {
        publish(&c, &format!("q.{i}"), &[], "m").await;
    }
    // Answer every flow-control request as a sourcing server does: the
    // last stream and consumer sequences stored, which acks up to them. A
    // reply without them acks nothing.
    let mut delivered = 0;
    let mut last = (0u64, 0u64);
    let mut bare_replies = 0;
    let start = Instant::now();
    while start.elapsed() < TIMEOUT {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await else {
            if delivered == 3 && info(&c, "Q").await["state"]["messages"] == 0 {
                break;
            }
            continue;
        };
        let Some(reply) = m.reply else { continue };
        if m.headers.is_none() {
            let meta = reply.as_str().split('.').collect::<Vec<_>>();
            // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>...
            last = (meta[5].parse().unwrap(), meta[6].parse().unwrap());
            delivered += 1;
            continue;
        }
        if bare_replies == 0 {
            bare_replies += 1;
            c.publish(reply, "".into()).await.unwrap();
            assert_eq!(
                req(&c, "$JS.API.CONSUMER.INFO.Q.C", "").await["num_ack_pending"],
                2
            );
            continue;
        }
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Last-Stream", last.0.to_string().as_str());
        h.insert("Nats-Last-Consumer", last.1.to_string().as_str());
        c.publish_with_headers(reply, h, "".into()).await.unwrap();
    }
    assert_eq!(delivered, 3);
    assert_eq!(wait_messages(&c, "Q", 0).await["first_seq"], 4);
    let ci = req(&c, "$JS.API.CONSUMER.INFO.Q.C", "").await;
    assert_eq!(
        (
            ci["num_ack_pending"].clone(),
            ci["ack_floor"]["stream_seq"].clone()
        ),
        (json!(0), json!(3))
    );
}

#[tokio::test]
async fn mirror_and_source_consumers_are_checked_and_copy() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "O", json!({"name":"O","subjects":["o.>"]})).await;
    for (stream, kind, code, text) in [
        (
            "M",
            "mirror",
            10213,
            "stream mirror consumer config is invalid",
        ),
        (
            "S",
            "sources",
            10215,
            "stream source consumer config is invalid",
        ),
    ] {
        let bad = [
            json!({"name":"O","consumer":{"name":"","deliver_subject":"d.x"}}),
            json!({"name":"O","consumer":{"name":"C","deliver_subject":""}}),
            json!({"name":"O","opt_start_seq":2,"consumer":{"name":"C","deliver_subject":"d.x"}}),
            json!({"name":"O","filter_subject":"o.a","consumer":{"name":"C","deliver_subject":"d.x"}}),
        ];
        for src in bad {
            let src = if kind == "sources" { json!([src]) } else { src };
            let body = json!({"name": stream, kind: src});
            assert_eq!(
                refused(&c, &format!("$JS.API.STREAM.CREATE.{stream}"), body).await,
                api_err(400, code, text)
            );
        }
    }
    let fc = json!({"ack_policy":"flow_control","idle_heartbeat":1_000_000_000i64});
    for (name, ds) in [("C", "deliver.mirror"), ("C2", "deliver.source")] {
        let mut cfg = fc.clone();
        cfg["durable_name"] = name.into();
        cfg["deliver_subject"] = ds.into();
        let body = json!({"stream_name":"O","config":cfg}).to_string();
        let v = req(&c, &format!("$JS.API.CONSUMER.CREATE.O.{name}"), &body).await;
        assert_eq!(v.get("error"), None, "{v}");
    }
    let m = create(&c, "M", json!({"name":"M","mirror":{"name":"O","consumer":{"name":"C","deliver_subject":"deliver.mirror"}}})).await;
    assert_eq!(
        m["config"]["mirror"]["consumer"],
        json!({"name":"C","deliver_subject":"deliver.mirror"})
    );
    let s = create(&c, "S", json!({"name":"S","sources":[{"name":"O","consumer":{"name":"C2","deliver_subject":"deliver.source"}}]})).await;
    assert_eq!(s["config"]["sources"][0]["consumer"]["name"], "C2");
    for i in 0..3 {
        publish(&c, &format!("o.{i}"), &[], "m").await;
    }
    wait_messages(&c, "M", 3).await;
    wait_messages(&c, "S", 3).await;
}
