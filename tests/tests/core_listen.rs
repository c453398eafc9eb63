//! The client listener on the wildcard address serves IPv4 and IPv6, as
//! nats-server does (clients dialling `localhost` may try `::1` first), and
//! shows IPv4 clients by their IPv4 address.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;

use nile_tests::Nile;

fn info_from(addr: (&str, u16)) -> serde_json::Value {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr:?}: {e}"));
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(line.trim_start_matches("INFO ").trim()).unwrap()
}

#[test]
fn wildcard_host_serves_ipv4_and_ipv6() {
    let nile = Nile::start(&["-a", "0.0.0.0"]);
    let info = info_from(("127.0.0.1", nile.port));
    assert_eq!(info["client_ip"], "127.0.0.1", "{info}");
    assert_eq!(info["host"], "0.0.0.0");
    // Only where this machine has IPv6 loopback at all.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let info = info_from(("::1", nile.port));
        assert_eq!(info["client_ip"], "::1", "{info}");
    }
    nile.assert_serves();
}
