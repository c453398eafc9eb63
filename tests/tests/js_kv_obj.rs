//! KV and object store through async-nats: the client-side features that
//! need rollups, purge by filter, last-by-subject gets and ordered consumers.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store};
use futures::StreamExt;
use nile_tests::Nile;
use tokio::io::AsyncReadExt;

async fn js(nile: &Nile) -> jetstream::Context {
    jetstream::new(async_nats::connect(nile.url()).await.expect("connect"))
}

#[tokio::test]
async fn kv_history_purge_and_recreate() {
    let nile = Nile::start(&["-js"]);
    let js = js(&nile).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "h".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    for v in ["1", "2", "3"] {
        kv.put("k", v.into()).await.unwrap();
    }
    let history: Vec<_> = kv
        .history("k")
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let values: Vec<_> = history
        .iter()
        .map(|e| String::from_utf8(e.value.to_vec()).unwrap())
        .collect();
    assert_eq!(values, ["1", "2", "3"]);
    assert_eq!(history.last().unwrap().revision, 3);
    kv.purge("k").await.unwrap();
    assert!(kv.get("k").await.unwrap().is_none());
    let history: Vec<_> = kv
        .history("k")
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert_eq!(history.len(), 1, "purge keeps only its marker");
    assert_eq!(history[0].operation, kv::Operation::Purge);
    // create works again on a purged key (the client retries on the marker's revision)
    kv.create("k", "fresh".into())
        .await
        .expect("create after purge");
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"fresh"[..]));
    let status = kv.status().await.unwrap();
    assert_eq!(status.history(), 5);
    assert_eq!(status.bucket(), "h");
}

#[tokio::test]
async fn kv_update_conflict_reports_revision() {
    let nile = Nile::start(&["-js"]);
    let js = js(&nile).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "c".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let r1 = kv.put("k", "a".into()).await.unwrap();
    kv.put("k", "b".into()).await.unwrap();
    let err = kv
        .update("k", "c".into(), r1)
        .await
        .expect_err("stale revision");
    assert!(err.to_string().contains("wrong last sequence"), "{err}");
    let entry = kv.entry("k").await.unwrap().unwrap();
    assert_eq!(entry.revision, 2);
}

#[tokio::test]
async fn object_store_round_trip() {
    let nile = Nile::start(&["-js"]);
    let js = js(&nile).await;
    let store = js
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let info = store
        .put("blob.bin", &mut data.as_slice())
        .await
        .expect("put");
    assert_eq!(info.size, data.len());
    assert!(info.chunks > 1);
    let mut obj = store.get("blob.bin").await.expect("get");
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), obj.read_to_end(&mut back))
        .await
        .expect("timely")
        .unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "object bytes differ");
    // Replace it: the old chunks are purged, the new content is served.
    store.put("blob.bin", &mut &b"small"[..]).await.unwrap();
    let mut obj = store.get("blob.bin").await.unwrap();
    let mut back = Vec::new();
    obj.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"small");
    store.put("other", &mut &b"x"[..]).await.unwrap();
    let mut names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .map(|i| i.unwrap().name)
        .collect()
        .await;
    names.sort();
    assert_eq!(names, ["blob.bin", "other"]);
    store.delete("other").await.unwrap();
    assert!(store.get("other").await.is_err());
    let st = js
        .get_stream("OBJ_files")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .clone();
    assert!(st.messages <= 3, "old chunks purged, left {}", st.messages);
}
