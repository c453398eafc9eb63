//! Format version 1 fixture: a stream directory written by this version,
//! committed under `tests/fixtures/v1`. Later versions must still open it.
//! Regenerate only when the format version changes, into a new folder:
//! `cargo test -p nile-engine --test fixture_v1 -- --ignored write_fixture`
use nile_engine::*;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

fn cfg() -> StoreConfig {
    StoreConfig {
        segment_bytes_max: 1024,
        ..StoreConfig::default()
    }
}

#[test]
#[ignore = "writes the committed fixture"]
fn write_fixture() {
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let s = FileStore::open(&dir, cfg()).unwrap();
    for i in 0..40u64 {
        let subj = format!("fx.{}", i % 4);
        let (_, t) = s
            .append(
                subj.as_bytes(),
                b"NATS/1.0\r\nA: b\r\n\r\n",
                &i.to_le_bytes(),
                i as i64,
            )
            .unwrap();
        t.wait().unwrap();
    }
    s.delete(5, true).unwrap();
    s.delete(6, false).unwrap();
    s.purge(&PurgeRequest {
        up_to_seq: Some(3),
        ..Default::default()
    })
    .unwrap();
    s.close().unwrap();
}

#[test]
fn opens_v1_fixture() {
    // Copy first: opening may rewrite derived files.
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    let s = FileStore::open(tmp.path(), cfg()).unwrap();
    let st = s.state(true);
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (36, 3, 40));
    assert_eq!(st.deleted, vec![5, 6]);
    let m = s.get(40).unwrap();
    assert_eq!(
        (m.subject.as_ref(), m.payload.as_ref()),
        (&b"fx.3"[..], &39u64.to_le_bytes()[..])
    );
    assert_eq!(m.headers.as_ref(), b"NATS/1.0\r\nA: b\r\n\r\n");
    assert_eq!(s.num_pending(0, &SubjectFilter::new("fx.0"), false), 8);
    assert!(s.verify().is_empty());
}
