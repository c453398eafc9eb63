//! A stream whose files cannot be opened at start-up does not keep the
//! server or the other streams down: Nile starts, `/healthz` names the
//! stream as nats-server does, its files are kept (a create of the same
//! name is refused rather than writing over them) until a STREAM.DELETE
//! removes them. Nile's own store layout, so Nile only.

mod js_stream_util;
mod monitor_common;

use js_stream_util::*;
use nile_tests::Nile;
use serde_json::json;

const SUBJECTS: [&str; 3] = ["good", "garbled", "broken"];

/// Three streams of 5 messages each, then a kill: the store to damage.
async fn store_with_three_streams() -> tempfile::TempDir {
    let nile = monitor_common::start(&["-js"]);
    let (c, _js) = connect_js(&nile).await;
    for name in SUBJECTS {
        let v = create(
            &c,
            &name.to_uppercase(),
            default_config(&name.to_uppercase(), &[name]),
        )
        .await;
        assert!(v.get("error").is_none(), "{v}");
        for i in 0..5 {
            let ack = publish(&c, name, &[], &format!("{name}-{i}")).await;
            assert_eq!(ack["seq"], i + 1, "{ack}");
        }
    }
    drop(c);
    nile.kill()
}

fn restart(dir: tempfile::TempDir) -> Nile {
    let nile = Nile::start_in(dir, &["-js", "-m", "-1"]);
    assert!(nile.http_port.is_some(), "{}", nile.log_text());
    nile
}

fn stream_dir(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    dir.path().join("store").join("streams").join(name)
}

#[tokio::test]
async fn damaged_streams_are_reported_and_kept_not_fatal() {
    if nile_tests::is_nats_server() {
        return; // Nile's store layout
    }
    let dir = store_with_three_streams().await;
    // GARBLED: its config is not JSON. BROKEN: its message directory is a file.
    std::fs::write(stream_dir(&dir, "GARBLED").join("meta.json"), b"{not json").unwrap();
    let msgs = stream_dir(&dir, "BROKEN").join("msgs");
    std::fs::rename(&msgs, stream_dir(&dir, "BROKEN").join("msgs.saved")).unwrap();
    std::fs::write(&msgs, b"not a directory").unwrap();

    let nile = restart(dir);
    let log = nile.log_text();
    assert!(log.contains("Error unmarshalling stream metafile"), "{log}");
    assert!(log.contains("Error recreating stream \"BROKEN\""), "{log}");
    let (c, js) = connect_js(&nile).await;
    // The healthy stream serves as before.
    let good = js.get_stream("GOOD").await.unwrap();
    let m = good.get_raw_message(5).await.unwrap();
    assert_eq!(&m.payload[..], b"good-4");
    let names = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["streams"], json!(["GOOD"]), "{names}");
    let h = monitor_common::get(&nile, "/healthz");
    assert_eq!(h.status, 503, "{}", h.body);
    assert!(
        h.body
            .contains("JetStream stream '$G > BROKEN' could not be recovered"),
        "{}",
        h.body
    );

    // Creating one afresh would write over its files: refused, files kept.
    let cfg = default_config("BROKEN", &["broken"]).to_string();
    let v = req(&c, "$JS.API.STREAM.CREATE.BROKEN", &cfg).await;
    assert_eq!(v["error"]["err_code"], 10049, "{v}");
    let desc = v["error"]["description"].as_str().unwrap();
    assert!(desc.contains("could not be recovered"), "{desc}");
    let kept = nile.dir.path().join("store/streams/BROKEN/msgs.saved");
    assert!(kept.is_dir(), "the damaged stream's files are kept");

    // Deleting them is the operator's way out.
    for name in ["BROKEN", "GARBLED"] {
        let v = req(&c, &format!("$JS.API.STREAM.DELETE.{name}"), "").await;
        assert_eq!(v["success"], true, "{v}");
    }
    assert!(!nile.dir.path().join("store/streams/BROKEN").exists());
    assert_eq!(monitor_common::get(&nile, "/healthz").status, 200);
    let v = create(&c, "BROKEN", default_config("BROKEN", &["broken"])).await;
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(publish(&c, "broken", &[], "new").await["seq"], 1);
    // A delete of a stream that never existed is still "not found".
    let v = req(&c, "$JS.API.STREAM.DELETE.NEVER", "").await;
    assert_eq!(v["error"]["err_code"], 10059, "{v}");
}
