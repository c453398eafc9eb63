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
