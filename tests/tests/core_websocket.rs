//! WebSocket clients: the `websocket {}` listener, the HTTP upgrade, NATS over
//! binary frames (raw bytes checked), and async-nats's own `ws://` transport.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures::StreamExt;
use nile_tests::Nile;

/// Start Nile with a plain-text WebSocket listener on a random port, found in
/// the log line nats-server also writes.
fn start() -> (Nile, u16) {
    let nile = Nile::start_with_config("websocket { port: -1, no_tls: true }\n", &[]);
    let log = nile.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("Listening for websocket clients on ws://"))
        .unwrap_or_else(|| panic!("no websocket log line in {log}"));
    let port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    (nile, port)
}

fn upgrade(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    s
}

/// One server frame: (opcode, payload). Server frames are never masked.
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are unmasked");
    let len = match h[1] & 0x7F {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (h[0] & 0x0F, body)
}

fn send_frame(s: &mut TcpStream, opcode: u8, payload: &[u8]) {
    let mask = [7u8, 1, 9, 3];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    s.write_all(&f).unwrap();
}

#[test]
fn nats_over_raw_websocket_frames() {
    let (nile, port) = start();
    let mut s = upgrade(port);
    let (op, info) = read_frame(&mut s);
    assert_eq!(op, 2, "binary frame");
    assert!(
        info.starts_with(b"INFO {"),
        "{}",
        String::from_utf8_lossy(&info)
    );
    send_frame(&mut s, 1, b"CONNECT {\"verbose\":false}\r\nSUB ws 1\r\n");
    send_frame(&mut s, 2, b"PUB ws 2\r\nhi\r\nPING\r\n");
    let mut got = Vec::new();
    while !got.ends_with(b"PONG\r\n") {
        let (op, body) = read_frame(&mut s);
        assert_eq!(op, 2);
        got.extend(body);
    }
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "MSG ws 1 2\r\nhi\r\nPONG\r\n"
    );
    // A WebSocket ping is answered with a pong carrying the same bytes.
    send_frame(&mut s, 9, b"are you there");
    assert_eq!(read_frame(&mut s), (10, b"are you there".to_vec()));
    // A close is echoed and the connection ends; the server carries on.
    send_frame(&mut s, 8, &1000u16.to_be_bytes());
    assert_eq!(read_frame(&mut s), (8, 1000u16.to_be_bytes().to_vec()));
    nile.assert_serves();
}

#[test]
fn plain_http_is_refused_with_400() {
    let (nile, port) = start();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    nile.assert_serves();
}

#[tokio::test]
async fn async_nats_over_websocket() {
    let (nile, port) = start();
    let ws = async_nats::connect(format!("ws://127.0.0.1:{port}"))
        .await
        .expect("ws connect");
    let tcp = async_nats::connect(nile.url()).await.unwrap();
    let mut sub = ws.subscribe("bridge").await.unwrap();
    ws.flush().await.unwrap();
    // Requests cross from TCP clients to WebSocket clients and back.
    let mut svc = ws.subscribe("svc").await.unwrap();
    tokio::spawn({
        let ws = ws.clone();
        async move {
            while let Some(m) = svc.next().await {
                ws.publish(m.reply.unwrap(), m.payload).await.unwrap();
            }
        }
    });
    ws.flush().await.unwrap();
    // async-nats's flush does not wait for the server: a request answered by
    // no-responders does, so both subscriptions are in place after it.
    let _ = ws.request("sync.nobody", "".into()).await;
    tcp.publish("bridge", vec![b'z'; 100_000].into())
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload.len(), 100_000);
    let reply = tcp.request("svc", "ping".into()).await.unwrap();
    assert_eq!(&reply.payload[..], b"ping");
}
