//! Connection buffers grown by large messages are given back once the
//! connection is idle; the connection goes on as before, byte for byte.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

use std::time::Duration;

use nile_tests::{Nile, Raw};

/// Just under the default `max_payload` (1 MiB): grows both the
/// publisher's read buffer and the subscriber's outbound buffers.
const BIG_BYTES: usize = 900 * 1024;

fn publish(publisher: &mut Raw, payload: &[u8]) {
    let mut frame = format!("PUB big {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    publisher.send(&frame);
}

fn expect(subscriber: &mut Raw, payload: &[u8]) {
    assert_eq!(
        subscriber.line(),
        format!("MSG big 1 {}\r\n", payload.len())
    );
    let body = subscriber.bytes(payload.len() + 2);
    assert!(body[..payload.len()] == *payload, "payload differs");
    assert_eq!(&body[payload.len()..], b"\r\n");
}

#[test]
fn large_messages_then_idle_then_more_traffic() {
    let nile = Nile::start(&[]);
    let connect = r#"{"verbose":false,"pedantic":false}"#;
    let mut subscriber = nile.raw_connected(connect);
    assert_eq!(subscriber.roundtrip(b"SUB big 1\r\n"), "");
    let mut publisher = nile.raw_connected(connect);
    let big: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            (0..BIG_BYTES)
                .map(|j| (j as u8).wrapping_mul(31) ^ i)
                .collect()
        })
        .collect();
    for payload in &big {
        publish(&mut publisher, payload);
    }
    for payload in &big {
        expect(&mut subscriber, payload);
    }
    // Longer than the server's idle delay: the grown buffers go.
    std::thread::sleep(Duration::from_millis(1500));
    publish(&mut publisher, b"hi");
    expect(&mut subscriber, b"hi");
    publish(&mut publisher, &big[3]);
    publish(&mut publisher, b"after");
    expect(&mut subscriber, &big[3]);
    expect(&mut subscriber, b"after");
    assert_eq!(publisher.roundtrip(b""), "");
    assert_eq!(subscriber.roundtrip(b""), "");
}
