//! The `nile` process as scripts and client test harnesses drive nats-server:
//! signals, pid file, ports file, `-v` (issue 2, item 3 as far as core needs it).

use std::process::Command;

use nile_tests::{nile_bin, Nile};

#[test]
fn sigterm_exits_cleanly() {
    let mut nile = Nile::start(&[]);
    let mut c = nile.raw();
    assert_eq!(c.roundtrip(b"CONNECT {\"verbose\":false}\r\n"), "");
    let status = nile
        .signal_and_wait(15)
        .expect("exits within 10 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    // Clients see the connection closed.
    assert!(c
        .read_for(std::time::Duration::from_secs(5))
        .ends_with("<EOF>"));
}

#[test]
fn sigint_exits_cleanly() {
    let mut nile = Nile::start(&[]);
    let status = nile
        .signal_and_wait(2)
        .expect("exits within 10 s of SIGINT");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn pid_file_holds_the_bare_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("nile.pid");
    let nile = Nile::start(&["-P", pid_file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(
        text,
        nile.pid().to_string(),
        "no newline, no padding, as nats-server"
    );
}

#[test]
fn ports_file_names_the_client_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut nile = Nile::start(&["--ports_file_dir", dir.path().to_str().unwrap()]);
    let exe = nile_bin()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let path = dir.path().join(format!("{exe}_{}.ports", nile.pid()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["nats"],
        serde_json::json!([format!("nats://127.0.0.1:{}", nile.port)]),
        "{text}"
    );
    assert!(
        json.get("monitoring").is_none(),
        "no monitoring port asked for: {text}"
    );
    // nats-server removes it on a clean exit.
    assert_eq!(nile.signal_and_wait(15).and_then(|s| s.code()), Some(0));
    assert!(!path.exists(), "ports file left behind");
}

#[test]
fn ports_file_lists_monitoring_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let nile = Nile::start(&["-m", "-1", "--ports_file_dir", dir.path().to_str().unwrap()]);
    let exe = nile_bin()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let path = dir.path().join(format!("{exe}_{}.ports", nile.pid()));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let http = nile.http_port.expect("log names the monitor port");
    assert_eq!(
        json["monitoring"],
        serde_json::json!([format!("http://127.0.0.1:{http}")])
    );
}

#[test]
fn ports_file_of_a_wildcard_listener_lists_reachable_urls_loopback_first() {
    let dir = tempfile::tempdir().unwrap();
    let nile = Nile::start(&[
        "-a",
        "0.0.0.0",
        "--ports_file_dir",
        dir.path().to_str().unwrap(),
    ]);
    let exe = nile_bin()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let path = dir.path().join(format!("{exe}_{}.ports", nile.pid()));
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let urls = json["nats"].as_array().expect("nats urls");
    // Harnesses (nats.js's) dial the first entry.
    assert_eq!(urls[0], format!("nats://127.0.0.1:{}", nile.port), "{text}");
    for url in urls {
        let hostport = url.as_str().unwrap().trim_start_matches("nats://");
        let addr: std::net::SocketAddr = hostport.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        if addr.ip().is_loopback() {
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }
}

#[test]
fn version_flag_prints_a_nats_server_line() {
    for flag in ["-v", "--version"] {
        let out = Command::new(nile_bin()).arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("nats-server: v"), "{flag}: {text:?}");
        let version = text["nats-server: v".len()..]
            .split_whitespace()
            .next()
            .unwrap();
        assert_eq!(version.split('.').count(), 3, "{text:?}");
        assert!(
            version.split('.').all(|p| p.parse::<u32>().is_ok()),
            "{text:?}"
        );
    }
}

#[test]
fn log_has_the_lines_harnesses_parse() {
    let nile = Nile::start(&["-js"]);
    let log = nile.log_text();
    assert!(
        log.contains(&format!(
            "Listening for client connections on 127.0.0.1:{}",
            nile.port
        )),
        "{log}"
    );
    let store = std::fs::canonicalize(nile.dir.path().join("store")).unwrap();
    assert!(
        log.contains(&format!("Store Directory: \"{}\"", store.display())),
        "{log}"
    );
    assert!(log.contains("Server is ready"), "{log}");
}
