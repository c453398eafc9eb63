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

/// A 100 MiB object in and out: every chunk stored (fsynced), the digest
/// checked by the client on the way back, and the bytes compared; then a
/// restart, after which the object is still whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_100_mib_round_trip_survives_restart() {
    const SIZE: usize = 100 * 1024 * 1024;
    let nile = Nile::start(&["-js"]);
    let js = js(&nile).await;
    let store = js
        .create_object_store(object_store::Config {
            bucket: "big".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i % 253) as u8 ^ (i >> 20) as u8)
        .collect();
    let info = tokio::time::timeout(
        Duration::from_secs(300),
        store.put("huge", &mut data.as_slice()),
    )
    .await
    .expect("put within 5 minutes")
    .expect("put");
    assert_eq!(info.size, SIZE);
    assert_eq!(info.chunks, SIZE.div_ceil(128 * 1024));
    let read_back = |store: object_store::ObjectStore| async move {
        let mut obj = store.get("huge").await.expect("get");
        let mut back = Vec::with_capacity(SIZE);
        tokio::time::timeout(Duration::from_secs(300), obj.read_to_end(&mut back))
            .await
            .expect("read within 5 minutes")
            .expect("digest matches");
        back
    };
    assert!(read_back(store).await == data, "object bytes differ");

    let dir = nile.kill();
    let nile = Nile::start_in(dir, &["-js"]);
    let js = self::js(&nile).await;
    let store = js.get_object_store("big").await.unwrap();
    assert!(
        read_back(store).await == data,
        "object bytes differ after restart"
    );
}

async fn next(w: &mut kv::Watch) -> kv::Entry {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("watcher stalled")
        .expect("watch ended")
        .expect("watch error")
}

/// A KV watcher sees the initial values, then every later put, delete and
/// purge in order, each exactly once (ordered push consumer, last_per_subject).
#[tokio::test]
async fn kv_watcher_sees_every_update_in_order() {
    let nile = Nile::start(&["-js"]);
    let js = js(&nile).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "w".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    kv.put("a", "a0".into()).await.unwrap();
    kv.put("a", "a1".into()).await.unwrap();
    kv.put("b", "b0".into()).await.unwrap();
    let mut watch = kv.watch_with_history(">").await.unwrap();
    // Initial values: the last of each key only.
    let e = next(&mut watch).await;
    assert_eq!(
        (e.key.as_str(), &e.value[..], e.revision),
        ("a", &b"a1"[..], 2)
    );
    let e = next(&mut watch).await;
    assert_eq!(
        (e.key.as_str(), &e.value[..], e.revision),
        ("b", &b"b0"[..], 3)
    );
    // Each put has its own key: with `history` 5 a shared key's older
    // revisions would be evicted (legitimately skipped) whenever the
    // watcher falls 5 puts of that key behind the writer.
    const N: u64 = 500;
    let writer = {
        let kv = kv.clone();
        tokio::spawn(async move {
            for i in 0..N {
                kv.put(format!("k{i}"), i.to_string().into()).await.unwrap();
            }
            kv.delete("a").await.unwrap();
            kv.purge("b").await.unwrap();
        })
    };
    for i in 0..N {
        let e = next(&mut watch).await;
        assert_eq!(e.revision, 4 + i, "in order, none skipped");
        assert_eq!(e.key, format!("k{i}"));
        assert_eq!(&e.value[..], i.to_string().as_bytes());
        assert_eq!(e.operation, kv::Operation::Put);
    }
    let e = next(&mut watch).await;
    assert_eq!((e.key.as_str(), e.operation), ("a", kv::Operation::Delete));
    let e = next(&mut watch).await;
    assert_eq!((e.key.as_str(), e.operation), ("b", kv::Operation::Purge));
    writer.await.unwrap();
}
