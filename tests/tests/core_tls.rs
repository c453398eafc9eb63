//! TLS for clients: `--tls`/`--tlsverify` flags and the `tls {}` block, the
//! plain-INFO-then-handshake order, `handshake_first`, client certificates.
//! Driven by async-nats over real TLS and by raw TCP for what goes out in clear.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use nile_tests::Nile;

fn cert(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs")
        .join(name)
        .display()
        .to_string()
}

fn trusting() -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(cert("ca.pem").into())
        .require_tls(true)
}

async fn echo_works(nc: &async_nats::Client) {
    let mut sub = nc.subscribe("tls.echo").await.unwrap();
    nc.publish("tls.echo", "sealed".into()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"sealed");
}

#[tokio::test]
async fn tls_flags_serve_clients_over_tls() {
    let (c, k) = (cert("server-cert.pem"), cert("server-key.pem"));
    let nile = Nile::start(&["--tls", "--tlscert", &c, "--tlskey", &k]);
    // INFO goes out in clear, saying TLS is required; a client that then
    // speaks plain text is cut off.
    let mut raw = nile.raw();
    assert_eq!(raw.info["tls_required"], true);
    assert!(raw.info.get("tls_verify").is_none());
    let got = raw.send_until_close(b"CONNECT {}\r\nPING\r\n");
    assert!(!got.contains("PONG"), "{got}");

    let nc = trusting().connect(nile.url()).await.expect("TLS connect");
    echo_works(&nc).await;
    // A client that does not trust the CA fails the handshake.
    let err = async_nats::ConnectOptions::new()
        .require_tls(true)
        .connect(nile.url());
    let res = tokio::time::timeout(Duration::from_secs(5), err).await;
    assert!(
        !matches!(res, Ok(Ok(_))),
        "connected without trusting the CA"
    );
}

#[tokio::test]
async fn tlsverify_requires_a_client_certificate() {
    let (c, k, ca) = (
        cert("server-cert.pem"),
        cert("server-key.pem"),
        cert("ca.pem"),
    );
    let nile = Nile::start(&[
        "--tlsverify",
        "--tlscert",
        &c,
        "--tlskey",
        &k,
        "--tlscacert",
        &ca,
    ]);
    assert_eq!(nile.raw().info["tls_verify"], true);
    let nc = trusting()
        .add_client_certificate(
            cert("client-cert.pem").into(),
            cert("client-key.pem").into(),
        )
        .connect(nile.url())
        .await
        .expect("connect with a client certificate");
    echo_works(&nc).await;
    let without =
        tokio::time::timeout(Duration::from_secs(5), trusting().connect(nile.url())).await;
    assert!(
        !matches!(without, Ok(Ok(_))),
        "connected without a client certificate"
    );
}

#[tokio::test]
async fn handshake_first_sends_nothing_in_clear() {
    let config = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  timeout: 2\n  handshake_first: true\n}}\n",
        cert("server-cert.pem"),
        cert("server-key.pem"),
        cert("ca.pem")
    );
    let nile = Nile::start_with_config(&config, &[]);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", nile.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut tcp, &mut buf);
    assert!(n.is_err(), "the server spoke first in clear: {n:?}");
    let nc = trusting()
        .tls_first()
        .connect(nile.url())
        .await
        .expect("TLS-first connect");
    echo_works(&nc).await;
}

#[test]
fn unreadable_certificate_stops_start_up() {
    let out = std::process::Command::new(nile_tests::nile_bin())
        .args([
            "-p",
            "-1",
            "--tls",
            "--tlscert",
            "/nonexistent.pem",
            "--tlskey",
            "/nonexistent.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent.pem"), "{err}");
}

/// `allow_non_tls`: INFO says `tls_available`, and a client may either
/// upgrade or stay in clear.
#[tokio::test]
async fn allow_non_tls_serves_both() {
    let config = format!(
        "allow_non_tls: true\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        cert("server-cert.pem"),
        cert("server-key.pem")
    );
    let nile = Nile::start_with_config(&config, &[]);
    let info = nile.raw().info;
    assert_eq!(info["tls_available"], true, "{info}");
    assert!(info.get("tls_required").is_none(), "{info}");
    nile.assert_serves();
    let nc = trusting().connect(nile.url()).await.expect("TLS connect");
    echo_works(&nc).await;
    let plain = async_nats::connect(nile.url())
        .await
        .expect("plain connect");
    echo_works(&plain).await;
}
