//! Logins (issue 2, item 5; spec §2): none, token, user/password (plain and
//! bcrypt), users lists, `no_auth_user`, and the Memphis forms `<user>::<token>`
//! and `<user>$<account>`. Wrong credentials get `-ERR 'Authorization Violation'`
//! and a close; the server carries on.

use async_nats::ConnectErrorKind;
use nile_tests::Nile;

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n<EOF>";
/// bcrypt (`$2a$`, cost 4) of "s3cret".
const BCRYPT_S3CRET: &str = "$2a$04$O2ApN9zmNa2h4CGTD9PFKOLFdjOzG2vBpRsM3wnraACRKa3yQoDaa";
/// bcrypt (`$2a$`, cost 4) of "tok3n".
const BCRYPT_TOK3N: &str = "$2a$04$rJUecQumbGzRBc71HV/cSet4HMxzg0qFM4DgMpRiAk2nu2BLeQcme";

/// CONNECT with these extra fields; returns what came back before the PONG, or the close.
fn login(nile: &Nile, fields: &str) -> String {
    let mut c = nile.raw();
    let sep = if fields.is_empty() { "" } else { "," };
    let connect =
        format!("CONNECT {{\"verbose\":false,\"pedantic\":false{sep}{fields}}}\r\nPING\r\n");
    c.send(connect.as_bytes());
    let first = c.line();
    if first == "PONG\r\n" {
        // Logged in: the connection works.
        let got = c.roundtrip(b"SUB me 1\r\nPUB me 2\r\nok\r\n");
        assert_eq!(got, "MSG me 1 2\r\nok\r\n", "after login with {fields}");
        return "OK".into();
    }
    first + &c.read_for(std::time::Duration::from_secs(5))
}

fn assert_logins(nile: &Nile, good: &[&str], bad: &[&str]) {
    for fields in good {
        assert_eq!(login(nile, fields), "OK", "should log in: {fields}");
    }
    for fields in bad {
        assert_eq!(
            login(nile, fields),
            VIOLATION,
            "should be refused: {fields}"
        );
    }
}

#[test]
fn no_auth_accepts_anyone() {
    let nile = Nile::start(&[]);
    assert!(nile.raw().info.get("auth_required").is_none());
    assert_logins(
        &nile,
        &["", r#""user":"x","pass":"y""#, r#""auth_token":"whatever""#],
        &[],
    );
}

#[test]
fn token_flag() {
    let nile = Nile::start(&["--auth", "s3cr3t"]);
    assert_eq!(nile.raw().info["auth_required"], true);
    assert_logins(
        &nile,
        &[r#""auth_token":"s3cr3t""#],
        &[
            "",
            r#""auth_token":"wrong""#,
            r#""auth_token":"s3cr3""#,
            r#""auth_token":"s3cr3tt""#,
            r#""user":"s3cr3t""#,
            r#""auth_token":"""#,
            r#""auth_token":null"#,
        ],
    );
    nile.assert_serves_with(r#"{"verbose":false,"auth_token":"s3cr3t"}"#);
}

#[test]
fn bcrypt_token_in_config() {
    let nile = Nile::start_with_config(
        &format!("authorization {{ token: \"{BCRYPT_TOK3N}\" }}\n"),
        &[],
    );
    assert_logins(
        &nile,
        &[r#""auth_token":"tok3n""#],
        &[
            &format!(r#""auth_token":"{BCRYPT_TOK3N}""#),
            r#""auth_token":"tok3""#,
        ],
    );
}

#[test]
fn any_op_before_connect_is_a_violation_when_auth_is_on() {
    let nile = Nile::start(&["--auth", "t"]);
    for op in [&b"PING\r\n"[..], b"SUB x 1\r\n", b"PUB x 0\r\n\r\n"] {
        let mut c = nile.raw();
        assert_eq!(
            c.send_until_close(op),
            VIOLATION,
            "{:?}",
            String::from_utf8_lossy(op)
        );
    }
}

#[test]
fn user_and_pass_flags() {
    let nile = Nile::start(&["--user", "alice", "--pass", "pw1"]);
    assert_eq!(nile.raw().info["auth_required"], true);
    assert_logins(
        &nile,
        &[r#""user":"alice","pass":"pw1""#],
        &[
            "",
            r#""user":"alice","pass":"pw2""#,
            r#""user":"alice""#,
            r#""user":"bob","pass":"pw1""#,
            r#""auth_token":"pw1""#,
            r#""user":"Alice","pass":"pw1""#,
        ],
    );
}

#[test]
fn users_list_with_plain_and_bcrypt_passwords() {
    let config = format!(
        "authorization {{\n  users: [\n    {{user: plain, password: pw}}\n    {{user: hashed, password: \"{BCRYPT_S3CRET}\"}}\n  ]\n}}\n"
    );
    let nile = Nile::start_with_config(&config, &[]);
    assert_logins(
        &nile,
        &[
            r#""user":"plain","pass":"pw""#,
            r#""user":"hashed","pass":"s3cret""#,
        ],
        &[
            r#""user":"hashed","pass":"s3cre""#,
            // The hash itself is not the password.
            &format!(r#""user":"hashed","pass":"{BCRYPT_S3CRET}""#),
            r#""user":"plain","pass":"s3cret""#,
            r#""user":"ghost","pass":"pw""#,
            "",
        ],
    );
}

#[test]
fn no_auth_user_maps_anonymous_clients() {
    let config = "authorization { users: [ {user: guest, password: gpw}, {user: admin, password: apw} ] }\nno_auth_user: guest\n";
    let nile = Nile::start_with_config(config, &[]);
    // As nats-server: INFO does not ask for credentials when anonymous clients get in.
    assert!(nile.raw().info.get("auth_required").is_none());
    // Anonymous is guest; named logins still need the right password.
    assert_logins(
        &nile,
        &["", r#""user":"admin","pass":"apw""#],
        &[
            r#""user":"admin","pass":"bad""#,
            r#""user":"guest","pass":"bad""#,
        ],
    );
}

#[test]
fn no_auth_user_gets_that_users_permissions() {
    let config = "authorization { users: [ {user: guest, password: gpw, permissions: {publish: {deny: [\"secret.>\"]}}} ] }\nno_auth_user: guest\n";
    let nile = Nile::start_with_config(config, &[]);
    let mut anon = nile.raw_connected(r#"{"verbose":false}"#);
    assert_eq!(
        anon.roundtrip(b"PUB secret.x 0\r\n\r\nPUB open 0\r\n\r\n"),
        "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n"
    );
}

// ---- Memphis forms ----

const MEMPHIS: &str = "authorization {\n  token: T0K\n  users: [ {user: app, password: pw}, {user: \"x$1\", password: other} ]\n}\n";

#[test]
fn memphis_user_token_in_auth_token() {
    let nile = Nile::start_with_config(MEMPHIS, &[]);
    assert_logins(
        &nile,
        &[r#""auth_token":"app::T0K""#, r#""auth_token":"T0K""#],
        &[
            r#""auth_token":"ghost::T0K""#,
            r#""auth_token":"app::X""#,
            r#""auth_token":"app::""#,
            r#""auth_token":"::T0K""#,
            r#""auth_token":"app:T0K""#,
        ],
    );
}

#[test]
fn memphis_user_token_in_user_with_empty_password() {
    let nile = Nile::start_with_config(MEMPHIS, &[]);
    assert_logins(
        &nile,
        &[
            r#""user":"app::T0K","pass":"""#,
            r#""user":"app::T0K""#,
            r#""user":"app","pass":"pw""#,
        ],
        &[
            r#""user":"ghost::T0K","pass":"""#,
            r#""user":"app::X","pass":"""#,
            r#""user":"app::T0K","pass":"pw""#,
        ],
    );
}

#[test]
fn memphis_user_dollar_account() {
    let nile = Nile::start_with_config(MEMPHIS, &[]);
    assert_logins(
        &nile,
        &[
            r#""user":"app$7","pass":"pw""#,
            // A configured user whose name has a `$` is that user, with its own password.
            r#""user":"x$1","pass":"other""#,
        ],
        &[
            r#""user":"app$7","pass":"bad""#,
            r#""user":"ghost$7","pass":"pw""#,
            r#""user":"x$1","pass":"pw""#,
        ],
    );
}

#[test]
fn memphis_token_without_users_list_takes_any_user_name() {
    let nile = Nile::start(&["--auth", "T0K"]);
    assert_logins(
        &nile,
        &[r#""auth_token":"anyone::T0K""#],
        &[r#""auth_token":"anyone::T0""#],
    );
}

// ---- through async-nats ----

#[tokio::test]
async fn async_nats_logins() {
    let nile = Nile::start_with_config(MEMPHIS, &[]);
    let ok = [
        async_nats::ConnectOptions::with_token("T0K".into()),
        async_nats::ConnectOptions::with_token("app::T0K".into()),
        async_nats::ConnectOptions::with_user_and_password("app".into(), "pw".into()),
        async_nats::ConnectOptions::with_user_and_password("app$7".into(), "pw".into()),
    ];
    for opts in ok {
        let client = opts.connect(nile.url()).await.expect("login");
        assert!(client.server_info().auth_required);
        let mut sub = client.subscribe("a").await.unwrap();
        client.publish("a", "b".into()).await.unwrap();
        let m = futures::StreamExt::next(&mut sub).await.unwrap();
        assert_eq!(m.payload, "b");
    }
    let bad = [
        async_nats::ConnectOptions::with_token("nope".into()),
        async_nats::ConnectOptions::with_user_and_password("app".into(), "nope".into()),
        async_nats::ConnectOptions::new(),
    ];
    for opts in bad {
        let err = opts.connect(nile.url()).await.expect_err("refused");
        assert_eq!(
            err.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "{err}"
        );
    }
}

#[tokio::test]
async fn async_nats_with_user_flags() {
    let nile = Nile::start(&["--user", "u", "--pass", "p"]);
    let client = async_nats::ConnectOptions::with_user_and_password("u".into(), "p".into())
        .connect(nile.url())
        .await
        .expect("login");
    client.flush().await.unwrap();
    let err = async_nats::ConnectOptions::with_user_and_password("u".into(), "x".into())
        .connect(nile.url())
        .await
        .expect_err("wrong password");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
}

#[test]
fn users_list_ignores_a_token_beside_user_and_password() {
    // nats-server with a users list (no token) checks user/pass and ignores auth_token.
    let nile = Nile::start_with_config(
        "authorization { users: [ {user: a, password: pw} ] }\n",
        &[],
    );
    assert_logins(
        &nile,
        &[r#""user":"a","pass":"pw","auth_token":"zzz""#],
        &[
            r#""user":"a","pass":"bad","auth_token":"zzz""#,
            r#""auth_token":"pw""#,
        ],
    );
}
