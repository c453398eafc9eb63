//! Shared by the `monitor_*` tests: a plain HTTP GET over std TcpStream, and
//! polling until the server's numbers settle (counters are summed when asked,
//! so a test waits for traffic to land rather than sleeping a fixed time).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nile_tests::Nile;

pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Start Nile with monitoring on a random port (plus `extra` flags).
pub fn start(extra: &[&str]) -> Nile {
    let mut args = vec!["-m", "-1"];
    args.extend_from_slice(extra);
    let nile = Nile::start(&args);
    assert!(
        nile.http_port.is_some(),
        "no `Starting http monitor on` line:\n{}",
        nile.log_text()
    );
    nile
}

/// `GET path` with `Connection: close`; reads the whole answer.
pub fn get(nile: &Nile, path: &str) -> HttpResponse {
    let port = nile.http_port.expect("monitoring port");
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect monitor");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    HttpResponse {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

/// GET expecting 200 and JSON.
pub fn get_json(nile: &Nile, path: &str) -> serde_json::Value {
    let r = get(nile, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

/// Poll `path` until `ok` holds (5 s), returning the last JSON.
pub fn wait_json(
    nile: &Nile,
    path: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = get_json(nile, path);
        if ok(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The connection named `name` in a `/connz` answer.
pub fn conn_named<'a>(connz: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    connz["connections"]
        .as_array()
        .expect("connections array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no connection named {name}: {connz:#}"))
}
