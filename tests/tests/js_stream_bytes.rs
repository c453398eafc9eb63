//! Byte accounting as nats-server does it: `state.bytes`, account `storage`
//! / `memory` and `max_bytes` all count a message as subject + headers +
//! payload plus 30 bytes in a file stream (34 with headers) and 16 in a
//! memory stream (issue 6; clients such as nats.py assert the exact totals).

mod js_stream_util;

use js_stream_util::*;
use serde_json::json;

/// Header block async-nats sends for one `X: 1` header (18 bytes).
const ONE_HEADER: &[(&str, &str)] = &[("X", "1")];

async fn state_bytes(c: &async_nats::Client, stream: &str) -> u64 {
    info(c, stream).await["state"]["bytes"].as_u64().unwrap()
}

/// (subject, headers, payload, file bytes, memory bytes)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, u64, u64);

#[tokio::test]
async fn file_and_memory_streams_count_like_nats_server() {
    let nile = start();
    let c = connect(&nile).await;
    // (subject, headers, payload, file bytes, memory bytes); subjects are
    // `<storage>.a` / `<storage>.abc` so the names differ by storage only.
    let cases: &[Case] = &[
        ("a", &[], "", 30 + 6, 16 + 8),
        ("a", &[], "hello", 30 + 6 + 5, 16 + 8 + 5),
        (
            "abc",
            ONE_HEADER,
            "hello",
            34 + 8 + 18 + 5,
            16 + 10 + 18 + 5,
        ),
        ("abc", ONE_HEADER, "", 34 + 8 + 18, 16 + 10 + 18),
    ];
    for (storage, prefix) in [("file", "file"), ("memory", "memory")] {
        let name = format!("B{storage}");
        let cfg = json!({"name": name, "subjects": [format!("{prefix}.>")], "storage": storage});
        create(&c, &name, cfg).await;
        let mut total = 0;
        for (i, (subj, hdrs, body, file_bytes, mem_bytes)) in cases.iter().enumerate() {
            let subject = format!("{prefix}.{subj}");
            assert_eq!(
                publish(&c, &subject, hdrs, body).await,
                ack(&name, i as u64 + 1)
            );
            total += if storage == "file" {
                file_bytes
            } else {
                mem_bytes
            };
            assert_eq!(state_bytes(&c, &name).await, total, "{storage} case {i}");
        }
    }
    let acc = req(&c, "$JS.API.INFO", "").await;
    let file_total: u64 = cases.iter().map(|c| c.3).sum();
    let mem_total: u64 = cases.iter().map(|c| c.4).sum();
    assert_eq!(acc["storage"], json!(file_total));
    assert_eq!(acc["memory"], json!(mem_total));
    // Deleting one message with headers gives its own count back.
    let del = req(&c, "$JS.API.STREAM.MSG.DELETE.Bfile", r#"{"seq":3}"#).await;
    assert_eq!(
        del,
        json!({"type": "io.nats.jetstream.api.v1.stream_msg_delete_response", "success": true})
    );
    assert_eq!(state_bytes(&c, "Bfile").await, file_total - cases[2].3);
}

#[tokio::test]
async fn file_stream_bytes_survive_restart() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "R", json!({"name": "R", "subjects": ["r"]})).await;
    publish(&c, "r", ONE_HEADER, "hello").await;
    publish(&c, "r", &[], "hello").await;
    let before = state_bytes(&c, "R").await;
    assert_eq!(before, (34 + 1 + 18 + 5) + (30 + 1 + 5));
    drop(c);
    let dir = nile.kill();
    let nile = nile_tests::Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    assert_eq!(state_bytes(&c, "R").await, before);
}

/// `max_bytes` admits a message that fills the stream exactly and no more:
/// discard new rejects the next one, discard old drops the oldest.
#[tokio::test]
async fn max_bytes_boundary_is_exact() {
    let nile = start();
    let c = connect(&nile).await;
    for (storage, unit) in [("file", 30 + 3), ("memory", 16 + 3)] {
        for discard in ["new", "old"] {
            let name = format!("L{storage}{discard}");
            let subject = format!("{}{}.x", &storage[..1], &discard[..1]);
            assert_eq!(subject.len(), 4);
            let unit = unit + 1;
            let cfg = json!({"name": name, "subjects": [subject], "storage": storage,
                "max_bytes": 2 * unit, "discard": discard});
            create(&c, &name, cfg).await;
            assert_eq!(publish(&c, &subject, &[], "").await, ack(&name, 1));
            assert_eq!(publish(&c, &subject, &[], "").await, ack(&name, 2));
            let third = publish(&c, &subject, &[], "").await;
            let st = info(&c, &name).await["state"].clone();
            if discard == "new" {
                assert_eq!(third, ack_err(&name, 503, 10077, "maximum bytes exceeded"));
                assert_eq!(
                    (st["messages"].as_u64(), st["first_seq"].as_u64()),
                    (Some(2), Some(1))
                );
            } else {
                assert_eq!(third, ack(&name, 3));
                assert_eq!(
                    (st["messages"].as_u64(), st["first_seq"].as_u64()),
                    (Some(2), Some(2))
                );
            }
            assert_eq!(st["bytes"].as_u64(), Some(2 * unit), "{name}");
        }
    }
}

/// `max_msg_size` counts headers and payload (not the subject).
#[tokio::test]
async fn max_msg_size_counts_headers_and_payload() {
    let nile = start();
    let c = connect(&nile).await;
    create(
        &c,
        "M",
        json!({"name": "M", "subjects": ["m"], "max_msg_size": 10}),
    )
    .await;
    assert_eq!(publish(&c, "m", &[], "0123456789").await, ack("M", 1));
    let too_big = ack_err("M", 400, 10054, "message size exceeds maximum allowed");
    assert_eq!(publish(&c, "m", &[], "0123456789A").await, too_big);
    assert_eq!(publish(&c, "m", ONE_HEADER, "").await, too_big);
}
