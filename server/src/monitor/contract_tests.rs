//! Monitoring against a fake [`JetStreamSource`]: the contract JetStream
//! fills, checked without JetStream itself.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::endpoints::route;
use super::jetstream::*;
use crate::options::Options;
use crate::server::Server;

struct FakeJs {
    streams: usize,
    healthy: bool,
}

impl JetStreamSource for FakeJs {
    fn health(&self) -> Result<(), String> {
        if self.healthy {
            Ok(())
        } else {
            Err("JetStream stream '$G > ORDERS' could not be recovered".into())
        }
    }

    fn snapshot(&self, wants: &SnapshotWants) -> JetStreamSnapshot {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let stream = |i: usize| StreamSnapshot {
            name: format!("S{i}"),
            created: t,
            config: wants
                .config
                .then(|| serde_json::json!({"name": format!("S{i}")})),
            messages: 3,
            bytes: 120,
            first_seq: 1,
            first_ts: Some(t),
            last_seq: 3,
            last_ts: Some(t),
            num_subjects: 1,
            num_deleted: 0,
            consumer_count: 1,
            consumers: if wants.consumers {
                vec![ConsumerSnapshot {
                    name: "C1".into(),
                    created: t,
                    config: None,
                    delivered: SeqPair {
                        consumer_seq: 2,
                        stream_seq: 2,
                    },
                    ack_floor: SeqPair {
                        consumer_seq: 1,
                        stream_seq: 1,
                    },
                    num_ack_pending: 1,
                    num_redelivered: 0,
                    num_waiting: 0,
                    num_pending: 1,
                }]
            } else {
                Vec::new()
            },
        };
        let n = self.streams as u64;
        JetStreamSnapshot {
            max_memory: Some(1 << 30),
            max_storage: Some(1 << 40),
            api_level: 0,
            accounts: vec![AccountSnapshot {
                name: "$G".into(),
                storage: 120 * n,
                api_total: 7,
                api_errors: 1,
                stream_count: n,
                consumer_count: n,
                messages: 3 * n,
                bytes: 120 * n,
                streams: if wants.streams {
                    (0..self.streams).map(stream).collect()
                } else {
                    Vec::new()
                },
                ..AccountSnapshot::default()
            }],
        }
    }
}

fn server_with(js: FakeJs) -> Arc<Server> {
    let mut o = Options::default();
    o.jetstream.enabled = true;
    o.jetstream.store_dir = std::env::temp_dir();
    let server = Server::new(o);
    *server.client_addr.lock() = Some("127.0.0.1:4222".parse().unwrap());
    server.monitor.set_jetstream(Arc::new(js));
    server
}

fn body_json(server: &Arc<Server>, path: &str, query: &str) -> serde_json::Value {
    let r = route(server, path, query);
    assert_eq!(r.status, 200, "{path}?{query}");
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn jsz_reports_streams_and_consumers_from_the_source() {
    let server = server_with(FakeJs {
        streams: 2,
        healthy: true,
    });
    let j = body_json(&server, "/jsz", "");
    assert_eq!(
        (j["streams"].as_u64(), j["consumers"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (j["messages"].as_u64(), j["bytes"].as_u64()),
        (Some(6), Some(240))
    );
    assert_eq!(j["api"]["total"], 7);
    assert_eq!(j["api"]["errors"], 1);
    assert_eq!(j["config"]["max_memory"], 1u64 << 30);
    assert!(j.get("account_details").is_none());

    let d = body_json(&server, "/jsz", "consumers=true&config=1");
    let acc = &d["account_details"][0];
    assert_eq!(acc["name"], "$G");
    let s = &acc["stream_detail"][1];
    assert_eq!(s["name"], "S1");
    assert_eq!(s["config"]["name"], "S1");
    assert_eq!(s["state"]["last_seq"], 3);
    assert_eq!(s["state"]["first_ts"], "2023-11-14T22:13:20Z");
    let c = &s["consumer_detail"][0];
    assert_eq!(c["stream_name"], "S1");
    assert_eq!(c["delivered"]["stream_seq"], 2);
    assert_eq!(c["ack_floor"]["consumer_seq"], 1);
    assert_eq!(c["num_pending"], 1);

    let none = body_json(&server, "/jsz", "acc=OTHER");
    assert!(none.get("account_details").is_none());
    let v = body_json(&server, "/varz", "");
    assert_eq!(v["jetstream"]["stats"]["storage"], 240);
}

#[test]
fn healthz_reports_jetstream_health() {
    let server = server_with(FakeJs {
        streams: 1,
        healthy: false,
    });
    let r = route(&server, "/healthz", "");
    assert_eq!(r.status, 503);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "unavailable");
    assert!(v.get("status_code").is_none(), "as nats-server 2.15.1: {v}");
    assert!(v["error"].as_str().unwrap().contains("ORDERS"));
    assert_eq!(
        route(&server, "/healthz", "js-enabled-only=true").status,
        200
    );
    assert_eq!(
        route(&server, "/healthz", "js-server-only=true").status,
        200
    );
    // /varz never fails while the server runs, whatever JetStream says.
    assert_eq!(route(&server, "/varz", "").status, 200);
}

#[test]
fn metrics_with_a_thousand_streams() {
    let server = server_with(FakeJs {
        streams: 1000,
        healthy: true,
    });
    let r = route(&server, "/metrics", "");
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("nile_stream_messages{account=\"$G\",stream=\"S999\"} 3\n"));
    assert!(text.contains(
        "nile_consumer_ack_floor_stream_seq{account=\"$G\",stream=\"S0\",consumer=\"C1\"} 1\n"
    ));
    assert!(text.contains("nile_engine_fsync_seconds_bucket{le=\"0.000001\"} "));
    assert!(text.contains("nile_engine_group_commit_records_bucket{le=\"+Inf\"} "));
}

#[test]
fn healthz_wants_jetstream_running_whatever_the_flags() {
    let mut o = Options::default();
    o.jetstream.enabled = true;
    let server = Server::new(o);
    *server.client_addr.lock() = Some("127.0.0.1:4222".parse().unwrap());
    for query in ["", "js-enabled-only=true", "js-server-only=1"] {
        let r = route(&server, "/healthz", query);
        assert_eq!(r.status, 503, "{query}");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            r#"{"status":"unavailable","error":"JetStream not enabled (10076)"}"#,
            "{query}"
        );
    }
}
