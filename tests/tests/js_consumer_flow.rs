//! Push flow control paced as nats-server paces it: the bytes in flight
//! (delivery subject, reply, headers and body of each message) may reach a window
//! of 2 MiB at first; past half of it comes a `100 FlowControl Request`,
//! past all of it delivery waits for the reply, which doubles the window.
//! Passes against nats-server 2.15.1 too (`NILE_BIN=.../nats-server`).

mod js_consumer_util;

use std::time::{Duration, Instant};

use js_consumer_util::{Frame, Wire};
use nile_tests::Nile;
use serde_json::json;

const WINDOW_START_BYTES: usize = 2 * 1024 * 1024;
/// Slack for where a server notices a limit: a turn's worth of small messages.
const SLACK_BYTES: usize = 16 * 1024;
const MSGS: usize = 40_000;

/// As nats-server counts a delivery: the subject it is sent to (the push
/// inbox, not the stored subject the MSG line shows), reply, headers, body.
fn counted(inbox: &str, f: &Frame) -> usize {
    inbox.len() + f.reply.as_ref().map_or(0, |r| r.len()) + f.headers.len() + f.payload.len()
}

fn is_fc_request(f: &Frame) -> bool {
    f.headers.starts_with("NATS/1.0 100 FlowControl Request")
}

fn stream_of_small_messages(w: &mut Wire) {
    w.create_stream("S", &["s"]);
    for _ in 0..MSGS {
        w.publish("s", None, &[b'x'; 100]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.api("$JS.API.STREAM.INFO.S", "")["state"]["messages"] != json!(MSGS) {
        assert!(
            Instant::now() < deadline,
            "stream never held {MSGS} messages"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn small_messages_are_paced_by_their_whole_frames_with_a_growing_window() {
    let nile = Nile::start(&["-js"]);
    let mut w = Wire::connect(&nile);
    stream_of_small_messages(&mut w);
    let inbox = w.delivery_inbox();
    w.create_consumer(
        "S",
        "C",
        json!({"deliver_subject": inbox, "flow_control": true,
               "idle_heartbeat": 30_000_000_000u64, "ack_policy": "none"}),
    );
    let frames = w.drain_for(Duration::from_secs(2));
    let fc_at = frames
        .iter()
        .position(is_fc_request)
        .expect("a flow control request");
    let before: usize = frames[..fc_at].iter().map(|f| counted(&inbox, f)).sum();
    assert!(
        before > WINDOW_START_BYTES / 2 && before < WINDOW_START_BYTES / 2 + SLACK_BYTES,
        "asked after {before} bytes, {fc_at} messages"
    );
    let delivered: Vec<&Frame> = frames.iter().filter(|f| !is_fc_request(f)).collect();
    let total: usize = delivered.iter().map(|f| counted(&inbox, f)).sum();
    assert!(
        total > WINDOW_START_BYTES && total < WINDOW_START_BYTES + SLACK_BYTES,
        "stalled after {total} bytes ({} messages)",
        delivered.len()
    );
    assert!(delivered.len() < MSGS, "stalled before the end");
    let reply = frames[fc_at]
        .reply
        .clone()
        .expect("request has a reply subject");
    w.publish(&reply, None, b"");
    let more = w.drain_for(Duration::from_secs(2));
    let more_bytes: usize = more
        .iter()
        .filter(|f| !is_fc_request(f))
        .map(|f| counted(&inbox, f))
        .sum();
    // The reply takes back the first half and doubles the window to 4 MiB.
    assert!(
        more_bytes > WINDOW_START_BYTES,
        "after the reply: {more_bytes} bytes"
    );
    assert!(more.iter().any(is_fc_request), "a second request");
}
