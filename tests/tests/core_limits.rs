//! Limits and timers set in a config file: max_payload, max_control_line,
//! max_connections, server PINGs and stale connections, the auth timeout, and a
//! slow consumer beside a fast one (issue 2, items 4 and 7).

use std::time::Duration;

use futures::StreamExt;
use nile_tests::Nile;

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// A server round trip: everything this client sent before has been processed.
/// (async-nats's `flush` only writes to the socket.) A request nobody serves comes
/// back as a no-responders status once the server has handled all earlier ops.
async fn sync(client: &async_nats::Client) {
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        client.request("nile.sync.nobody", bytes::Bytes::new()),
    )
    .await
    .expect("sync round trip")
    .expect_err("nobody serves nile.sync.nobody");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
}

#[test]
fn max_payload_from_config() {
    let nile = Nile::start_with_config("max_payload: 1000\n", &[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(c.info["max_payload"], 1000);
    let mut ok = b"SUB p 1\r\nPUB p 1000\r\n".to_vec();
    ok.extend([b'a'; 1000]);
    ok.extend_from_slice(b"\r\n");
    let got = c.roundtrip(&ok);
    assert_eq!(got, format!("MSG p 1 1000\r\n{}\r\n", "a".repeat(1000)));
    assert_eq!(
        c.send_until_close(b"PUB p 1001\r\n"),
        "-ERR 'Maximum Payload Violation'\r\n<EOF>"
    );
    // Headers count towards the payload.
    let mut h = nile.raw_connected(r#"{"verbose":false,"headers":true}"#);
    assert_eq!(
        h.send_until_close(b"HPUB p 12 1001\r\n"),
        "-ERR 'Maximum Payload Violation'\r\n<EOF>"
    );
    nile.assert_serves();
}

#[tokio::test]
async fn max_payload_from_config_reaches_async_nats() {
    let nile = Nile::start_with_config("max_payload: 2KB\n", &[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    assert_eq!(client.server_info().max_payload, 2048);
    assert!(client.publish("x", vec![0u8; 2049].into()).await.is_err());
    client.publish("x", vec![0u8; 2048].into()).await.unwrap();
    sync(&client).await;
}

#[test]
fn max_control_line_from_config() {
    let nile = Nile::start_with_config("max_control_line: 256\n", &[]);
    let mut c = nile.raw_connected(QUIET);
    let ok = "s".repeat(200);
    assert_eq!(
        c.roundtrip(format!("SUB {ok} 1\r\nPUB {ok} 0\r\n\r\n").as_bytes()),
        format!("MSG {ok} 1 0\r\n\r\n")
    );
    let long = "s".repeat(300);
    let got = c.send_until_close(format!("SUB {long} 2\r\n").as_bytes());
    assert_eq!(got, "-ERR 'maximum control line exceeded'\r\n<EOF>");
    nile.assert_serves();
}

#[test]
fn max_connections_from_config() {
    let nile = Nile::start_with_config("max_connections: 2\n", &[]);
    let _a = nile.raw_connected(QUIET);
    let _b = nile.raw_connected(QUIET);
    // The third one gets an INFO (read by `raw`), then the error, then the close.
    let mut c = nile.raw();
    assert_eq!(
        c.read_for(Duration::from_secs(5)),
        "-ERR 'maximum connections exceeded'\r\n<EOF>"
    );
    drop(_a);
    // Once a slot is free, clients get in again (the close is noticed asynchronously).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // Refused clients get the -ERR at once; an admitted one hears nothing.
        let mut d = nile.raw();
        let got = d.read_for(Duration::from_millis(200));
        if got == "<OPEN>" {
            assert_eq!(d.roundtrip(b"CONNECT {\"verbose\":false}\r\n"), "");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no slot freed: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const STALE: &str = "ping_interval: \"100ms\"\nping_max: 1\n";

#[test]
fn server_pings_and_closes_a_stale_connection() {
    let nile = Nile::start_with_config(STALE, &[]);
    let mut silent = nile.raw_connected(QUIET);
    // ping_max 1: one PING goes unanswered, the next tick finds it stale.
    let got = silent.read_for(Duration::from_secs(5));
    assert_eq!(got, "PING\r\n-ERR 'Stale Connection'\r\n<EOF>");
    nile.assert_serves();
}

#[test]
fn a_client_that_answers_pings_stays() {
    let nile = Nile::start_with_config(STALE, &[]);
    let mut c = nile.raw_connected(QUIET);
    for _ in 0..5 {
        assert_eq!(c.line(), "PING\r\n");
        c.send(b"PONG\r\n");
    }
    assert_eq!(
        c.roundtrip(b"SUB s 1\r\nPUB s 1\r\nk\r\n")
            .replace("PING\r\n", ""),
        "MSG s 1 1\r\nk\r\n"
    );
}

#[tokio::test]
async fn async_nats_answers_server_pings_and_stays_connected() {
    let nile = Nile::start_with_config(STALE, &[]);
    let client = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = client.subscribe("alive").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.publish("alive", "yes".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload, "yes");
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
    assert_eq!(
        client
            .statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "no reconnect"
    );
}

#[test]
fn auth_timeout_closes_a_silent_client() {
    let nile = Nile::start_with_config("authorization { token: t, timeout: 0.5 }\n", &[]);
    let mut silent = nile.raw();
    assert_eq!(silent.info["auth_required"], true);
    assert_eq!(
        silent.read_for(Duration::from_secs(5)),
        "-ERR 'Authentication Timeout'\r\n<EOF>"
    );
    // A client that logged in in time is not cut when the timer would have fired.
    let mut c = nile.raw_connected(r#"{"verbose":false,"auth_token":"t"}"#);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        c.roundtrip(b"SUB a 1\r\nPUB a 0\r\n\r\n"),
        "MSG a 1 0\r\n\r\n"
    );
    nile.assert_serves_with(r#"{"verbose":false,"auth_token":"t"}"#);
}

/// A subscriber that never reads beside one that keeps up, while a publisher
/// floods: the slow one is cut, the fast one gets every message, and the server
/// keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_and_the_fast_one_gets_everything() {
    let nile = Nile::start_with_config("max_pending: 1MB\n", &[]);
    // The slow one: subscribed, then never reads. Kernel buffers on loopback hold
    // a few MB each way, so the flood below is several times that.
    let mut slow = nile.raw_connected(QUIET);
    assert_eq!(slow.roundtrip(b"SUB flood 1\r\n"), "");

    let fast = async_nats::connect(nile.url()).await.unwrap();
    let mut fast_sub = fast.subscribe("flood").await.unwrap();
    sync(&fast).await;

    const N: usize = 4000;
    const SIZE: usize = 8 * 1024;
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = received.clone();
    let reader = tokio::spawn(async move {
        let mut count = 0usize;
        while count < N {
            let m = tokio::time::timeout(Duration::from_secs(20), fast_sub.next())
                .await
                .expect("fast subscriber stalled")
                .expect("fast subscription ended");
            assert_eq!(m.payload.len(), SIZE);
            assert_eq!(
                &m.payload[..8],
                format!("{count:08}").as_bytes(),
                "in order, none lost"
            );
            count += 1;
            seen.store(count, std::sync::atomic::Ordering::Release);
        }
        count
    });

    // Publish in bursts of ~256 KB, each after the fast subscriber has caught up
    // to within 512 KB, so its output never nears max_pending even on a loaded
    // machine (Nile does not stall fast producers as nats-server does).
    let port = nile.port;
    let published = tokio::task::spawn_blocking(move || {
        let mut p = nile_tests::Raw::connect(port);
        assert_eq!(
            p.roundtrip(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"),
            ""
        );
        let mut burst = Vec::new();
        for i in 0..N {
            burst.extend_from_slice(format!("PUB flood {SIZE}\r\n{i:08}").as_bytes());
            burst.extend(std::iter::repeat_n(b'.', SIZE - 8));
            burst.extend_from_slice(b"\r\n");
            if burst.len() >= 256 * 1024 || i == N - 1 {
                let caught_up = (i + 1).saturating_sub(32 + 64);
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while received.load(std::sync::atomic::Ordering::Acquire) < caught_up {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "fast subscriber stalled"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
                assert_eq!(p.roundtrip(&burst), "");
                burst.clear();
            }
        }
        p
    })
    .await
    .unwrap();
    assert_eq!(reader.await.unwrap(), N);

    // The slow one was closed: whole messages, then the error, then EOF.
    let got = tokio::task::spawn_blocking(move || slow.read_for(Duration::from_secs(10)))
        .await
        .unwrap();
    let frame = format!("MSG flood 1 {SIZE}\r\n");
    let mut rest = got.as_str();
    let mut frames = 0;
    while let Some(after) = rest.strip_prefix(frame.as_str()) {
        rest = &after[SIZE + 2..];
        frames += 1;
    }
    assert!(frames < N, "the slow consumer was never cut");
    assert_eq!(
        rest, "-ERR 'Slow Consumer'\r\n<EOF>",
        "after {frames} whole messages"
    );

    // Everyone else carries on.
    drop(published);
    nile.assert_serves();
    fast.publish("flood", vec![b'x'; SIZE].into())
        .await
        .unwrap();
    sync(&fast).await;
}

/// A subscriber whose socket stays full past `write_deadline` is cut without an
/// `-ERR` (as nats-server), and the publisher is not held up.
#[test]
fn write_deadline_cuts_a_stuck_subscriber() {
    let nile = Nile::start_with_config("write_deadline: \"300ms\"\n", &[]);
    let mut stuck = nile.raw_connected(QUIET);
    assert_eq!(stuck.roundtrip(b"SUB wd 1\r\n"), "");
    let mut p = nile.raw_connected(QUIET);
    const SIZE: usize = 64 * 1024;
    let mut frame = format!("PUB wd {SIZE}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'w', SIZE));
    frame.extend_from_slice(b"\r\n");
    let burst = frame.repeat(16); // 1 MiB
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Publish until the server has given up on the stuck subscriber: then its
    // subscription is gone and a probe subscriber on the same subject sees the
    // subject's interest drop to just itself.
    let mut probe = nile.raw_connected(r#"{"verbose":false,"headers":true,"no_responders":true}"#);
    assert_eq!(probe.roundtrip(b"SUB wd.reply 1\r\n"), "");
    loop {
        assert_eq!(p.roundtrip(&burst), "");
        std::thread::sleep(Duration::from_millis(50));
        // No responders on `wd` means the stuck subscription was removed.
        let got = probe.roundtrip(b"PUB wd wd.reply 0\r\n\r\n");
        if got.starts_with("HMSG wd.reply 1 ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stuck subscriber never cut"
        );
    }
    let got = stuck.read_for(Duration::from_secs(10));
    assert!(got.ends_with("<EOF>") || got.ends_with("<RESET>"), "closed");
    assert!(
        got.starts_with(&format!("MSG wd 1 {SIZE}\r\n")),
        "{:?}",
        &got[..got.len().min(40)]
    );
    assert!(
        !got.contains("-ERR"),
        "nats-server sends no -ERR on a write deadline"
    );
    nile.assert_serves();
}

/// Fast-producer stall (nats-server's): a client that floods a subject it is
/// itself subscribed to, and only starts reading a moment later, is slowed
/// down while its output is backed up instead of being cut as a slow consumer
/// (nats.js's "clobber - buffers don't clobber" does this from one thread).
#[test]
fn fast_producer_is_stalled_not_cut() {
    use std::io::{Read, Write};
    let nile = Nile::start_with_config("max_pending: 4MB\n", &[]);
    let mut c = nile.raw_connected(QUIET);
    assert_eq!(c.roundtrip(b"SUB loop 1\r\n"), "");
    const N: usize = 16 * 1024;
    const SIZE: usize = 1024;
    let mut wr = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut chunk = Vec::new();
        for i in 0..N {
            chunk.extend_from_slice(format!("PUB loop {SIZE}\r\n{i:08}").as_bytes());
            chunk.extend(std::iter::repeat_n(b'.', SIZE - 8));
            chunk.extend_from_slice(b"\r\n");
            if chunk.len() >= 64 * 1024 {
                wr.write_all(&chunk).unwrap();
                chunk.clear();
            }
        }
        wr.write_all(&chunk).unwrap();
        wr.write_all(b"PING\r\n").unwrap();
    });
    // Busy elsewhere for a while: nothing is read.
    std::thread::sleep(Duration::from_millis(300));
    let frame_len = format!("MSG loop 1 {SIZE}\r\n").len() + SIZE + 2;
    let want = N * frame_len + "PONG\r\n".len();
    let mut got = Vec::with_capacity(want);
    let mut buf = vec![0u8; 256 * 1024];
    c.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    while got.len() < want {
        let n = c.stream.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed after {} bytes: {:?}",
            got.len(),
            String::from_utf8_lossy(&got[got.len().saturating_sub(200)..])
        );
        got.extend_from_slice(&buf[..n]);
    }
    writer.join().unwrap();
    assert!(got.ends_with(b"PONG\r\n"));
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("-ERR"), "cut as a slow consumer");
    for (i, msg) in text.split("MSG loop 1 1024\r\n").skip(1).enumerate() {
        assert!(
            msg.starts_with(&format!("{i:08}")),
            "message {i} out of order"
        );
    }
}
