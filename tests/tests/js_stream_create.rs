//! Stream and consumer creates are durable once answered, and what a crash
//! in the middle of a create leaves behind (a stream directory whose config
//! file is still empty) neither stops a restart nor blocks creating the
//! stream again.

mod js_stream_util;

use js_stream_util::*;
use nile_tests::Nile;
use serde_json::json;

/// The directory that holds one directory per stream.
fn streams_dir(store: &std::path::Path) -> std::path::PathBuf {
    let named = |d: &std::path::Path| d.join("A").join("meta.json").exists();
    std::fs::read_dir(store)
        .expect("store dir")
        .flatten()
        .map(|e| e.path())
        .find(|d| named(d))
        .unwrap_or_else(|| store.to_path_buf())
}

#[tokio::test]
async fn created_streams_survive_sigkill_and_empty_configs_are_skipped() {
    let nile = start();
    let c = connect(&nile).await;
    for name in ["A", "B"] {
        let r = create(&c, name, default_config(name, &[&format!("{name}.>")])).await;
        assert_eq!(r["did_create"], true, "{r}");
    }
    let r = req(
        &c,
        "$JS.API.CONSUMER.CREATE.A.D",
        r#"{"stream_name":"A","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
    )
    .await;
    assert_eq!(r["name"], "D", "{r}");
    drop(c);
    let dir = nile.kill();
    let streams = streams_dir(&dir.path().join("store"));
    let ghost = streams.join("GHOST");
    std::fs::create_dir_all(ghost.join("msgs")).expect("ghost dir");
    std::fs::write(ghost.join("meta.json"), b"").expect("empty config");

    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let names = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["streams"], json!(["A", "B"]));
    let names = req(&c, "$JS.API.CONSUMER.NAMES.A", "").await;
    assert_eq!(names["consumers"], json!(["D"]));

    // The leftover does not block the real create, which replaces it.
    let r = create(&c, "GHOST", default_config("GHOST", &["ghost.>"])).await;
    assert_eq!(r["did_create"], true, "{r}");
    drop(c);
    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let names = req(&c, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["streams"], json!(["A", "B", "GHOST"]));
}
