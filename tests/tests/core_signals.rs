//! SIGHUP reloads the config file; SIGUSR2 (and `--signal ldm=<pid>`) enters
//! lame-duck mode: clients get INFO with `ldm:true`, then are closed.

use std::process::Command;

use nile_tests::Nile;

fn kill(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn sighup_reloads_authorization() {
    let nile = Nile::start_with_config("authorization { token: first }\n", &[]);
    nile.raw_connected(r#"{"verbose":false,"auth_token":"first"}"#);
    let conf = nile.dir.path().join("nile.conf");
    std::fs::write(&conf, "authorization { token: second }\n").unwrap();
    kill("HUP", nile.pid());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !nile.log_text().contains("Reloaded server configuration") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload in log:\n{}",
            nile.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut old = nile.raw();
    old.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"first\"}\r\n");
    assert_eq!(old.line(), "-ERR 'Authorization Violation'\r\n");
    nile.raw_connected(r#"{"verbose":false,"auth_token":"second"}"#);
}

/// Rewrites the config file and waits for the reload to be logged.
fn reload(nile: &Nile, conf_text: &str) {
    let conf = nile.dir.path().join("nile.conf");
    let before = nile
        .log_text()
        .matches("Reloaded server configuration")
        .count();
    std::fs::write(&conf, conf_text).unwrap();
    kill("HUP", nile.pid());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while nile
        .log_text()
        .matches("Reloaded server configuration")
        .count()
        == before
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload in log:\n{}",
            nile.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

const USER_A: &str = "authorization { users: [ { user: a, password: a } ] }\n";

#[test]
fn reload_drops_subscriptions_the_new_permissions_deny() {
    let nile = Nile::start_with_config(USER_A, &[]);
    let mut c = nile.raw_connected(r#"{"verbose":false,"user":"a","pass":"a"}"#);
    c.send(b"SUB _INBOX.x 1\r\nSUB q 2\r\nPING\r\n");
    assert_eq!(c.line(), "PONG\r\n");
    reload(
        &nile,
        "authorization { users: [ { user: a, password: a, \
         permissions: { subscribe: { deny: \"_INBOX.>\" } } } ] }\n",
    );
    assert_eq!(
        c.line(),
        "-ERR 'Permissions Violation for Subscription to \"_INBOX.x\" (sid \"1\")'\r\n"
    );
    // The denied one is gone, the other still delivers.
    c.send(b"PUB _INBOX.x 1\r\na\r\nPUB q 1\r\nb\r\nPING\r\n");
    assert_eq!(c.line(), "MSG q 2 1\r\n");
    assert_eq!(c.line(), "b\r\n");
    assert_eq!(c.line(), "PONG\r\n");
}

#[test]
fn reload_closes_a_client_whose_user_is_gone() {
    let nile = Nile::start_with_config(USER_A, &[]);
    let mut gone = nile.raw_connected(r#"{"verbose":false,"user":"a","pass":"a"}"#);
    reload(
        &nile,
        "authorization { users: [ { user: b, password: b } ] }\n",
    );
    // Closed without an -ERR, as nats-server does.
    assert_eq!(gone.until_close(), "");
    nile.raw_connected(r#"{"verbose":false,"user":"b","pass":"b"}"#);
}

#[test]
fn lame_duck_via_signal_flag_sends_ldm_info_then_closes() {
    let nile = Nile::start_with_config(
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"100ms\"\n",
        &[],
    );
    let mut client = nile.raw_connected(r#"{"verbose":false}"#);
    let status = Command::new(nile_tests::nile_bin())
        .arg("--signal")
        .arg(format!("ldm={}", nile.pid()))
        .status()
        .expect("run nile --signal");
    assert!(status.success());
    let line = client.line();
    assert!(
        line.starts_with("INFO ") && line.contains("\"ldm\":true"),
        "{line}"
    );
    assert_eq!(client.until_close(), "", "closed after the grace period");
}
