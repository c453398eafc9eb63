//! Message schedules (ADR-51, nats-server 2.12/2.14): `allow_msg_schedules`
//! and its config rules, `Nats-Schedule` (`@at`, `@every`, cron with a time
//! zone) firing into `Nats-Schedule-Target` with the produced message's
//! headers, subject sourcing, stopping a schedule with
//! `Nats-Schedule-Next: purge`, nats-server's refusals, and schedules that
//! go on after a restart.

mod js_stream_util;

use std::time::{Duration, Instant};

use base64::Engine;
use js_stream_util::*;
use serde_json::{json, Value};

/// How long a test waits for a schedule to fire (each fires within seconds).
const FIRE_WAIT: Duration = Duration::from_secs(10);

fn stream_config(name: &str) -> Value {
    json!({
        "name": name,
        "subjects": ["sched.>", "tgt.>", "data.>", "stop.>"],
        "allow_msg_schedules": true,
        "allow_msg_ttl": true,
    })
}

/// The last message on `subject` (STREAM.MSG.GET), `None` when there is none:
/// (sequence, header block as text, payload).
async fn last_on(
    c: &async_nats::Client,
    stream: &str,
    subject: &str,
) -> Option<(u64, String, String)> {
    let body = json!({ "last_by_subj": subject }).to_string();
    let v = req(c, &format!("$JS.API.STREAM.MSG.GET.{stream}"), &body).await;
    let m = v.get("message")?;
    let decode = |field: &str| {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(m[field].as_str().unwrap_or(""))
            .unwrap();
        String::from_utf8(raw).unwrap()
    };
    Some((m["seq"].as_u64().unwrap(), decode("hdrs"), decode("data")))
}

/// Messages per subject in `stream`.
async fn subjects(c: &async_nats::Client, stream: &str) -> Value {
    let v = req(
        c,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        r#"{"subjects_filter":">"}"#,
    )
    .await;
    v["state"]["subjects"].clone()
}

/// Polls until `subject` holds at least `n` messages.
async fn wait_count(c: &async_nats::Client, stream: &str, subject: &str, n: u64) {
    let start = Instant::now();
    loop {
        let got = subjects(c, stream).await[subject].as_u64().unwrap_or(0);
        if got >= n {
            return;
        }
        assert!(
            start.elapsed() < FIRE_WAIT,
            "{subject} has {got} of {n} messages"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An RFC 3339 time `ms` milliseconds from now.
fn in_ms(ms: u64) -> String {
    let t = time::OffsetDateTime::now_utc() + Duration::from_millis(ms);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn at_fires_once_into_its_target_and_purges_itself() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "S", stream_config("S")).await;
    let at = format!("@at {}", in_ms(1500));
    let hdrs = [
        ("Nats-Schedule", at.as_str()),
        ("Nats-Schedule-Target", "tgt.a"),
        ("Nats-Schedule-TTL", "5m"),
        ("X-Custom", "keep"),
        ("Nats-Msg-Id", "m1"),
    ];
    assert_eq!(publish(&c, "sched.a", &hdrs, "body").await, ack("S", 1));
    // Stored as a subject roll-up, so a new schedule replaces it.
    let (_, stored, _) = last_on(&c, "S", "sched.a").await.unwrap();
    // (The client sends its headers in no set order.)
    assert!(stored.ends_with("\r\nNats-Rollup: sub\r\n\r\n"), "{stored}");
    for h in hdrs {
        assert!(
            stored.contains(&format!("\r\n{}: {}\r\n", h.0, h.1)),
            "{stored}"
        );
    }
    // Nothing before its time.
    assert_eq!(last_on(&c, "S", "tgt.a").await, None);
    wait_count(&c, "S", "tgt.a", 1).await;
    let (seq, produced, body) = last_on(&c, "S", "tgt.a").await.unwrap();
    assert_eq!(seq, 2);
    assert_eq!(body, "body");
    assert_eq!(
        produced,
        "NATS/1.0\r\nX-Custom: keep\r\nNats-Scheduler: sched.a\r\nNats-Schedule-Next: purge\r\nNats-TTL: 5m\r\n\r\n"
    );
    // Done: the schedule is gone, and it never fires again.
    assert_eq!(subjects(&c, "S").await, json!({"tgt.a": 1}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(subjects(&c, "S").await, json!({"tgt.a": 1}));
}

#[tokio::test]
async fn every_repeats_until_stopped_atomically() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "S", stream_config("S")).await;
    let hdrs = [
        ("Nats-Schedule", "@every 1s"),
        ("Nats-Schedule-Target", "tgt.e"),
    ];
    publish(&c, "sched.e", &hdrs, "tick").await;
    wait_count(&c, "S", "tgt.e", 2).await;
    let (_, produced, _) = last_on(&c, "S", "tgt.e").await.unwrap();
    let next = produced
        .lines()
        .find_map(|l| l.strip_prefix("Nats-Schedule-Next: "))
        .unwrap();
    assert!(is_rfc3339(next) && !next.contains('.'), "{next}");
    assert!(
        produced.starts_with("NATS/1.0\r\nNats-Scheduler: sched.e\r\n"),
        "{produced}"
    );
    // A plain message may not claim to be from a scheduler.
    assert_eq!(
        publish(&c, "stop.e", &[("Nats-Scheduler", "sched.e")], "").await,
        ack_err("S", 400, 10212, "message schedules invalid scheduler")
    );
    // Stopping it stores this message and purges the schedule, in one step.
    let stop = [
        ("Nats-Schedule-Next", "purge"),
        ("Nats-Scheduler", "sched.e"),
    ];
    let v = publish(&c, "stop.e", &stop, "stopped").await;
    assert_eq!(v["stream"], "S");
    let s = subjects(&c, "S").await;
    assert_eq!(s.get("sched.e"), None, "{s}");
    assert_eq!(s["stop.e"], 1);
    let fired = s["tgt.e"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(subjects(&c, "S").await["tgt.e"].as_u64().unwrap(), fired);
    // The subject now holds no schedule: stopping it again is allowed (nothing to stop).
    assert_eq!(
        publish(&c, "stop.f", &stop, "").await["seq"],
        v["seq"].as_u64().unwrap() + 1
    );
}

#[tokio::test]
async fn cron_in_a_time_zone_sources_the_last_message_with_rollup() {
    let nile = start();
    let c = connect(&nile).await;
    let mut cfg = stream_config("S");
    cfg["allow_rollup_hdrs"] = true.into();
    create(&c, "S", cfg).await;
    publish(&c, "data.last", &[("X-Src", "1")], "sourced-payload").await;
    let hdrs = [
        ("Nats-Schedule", "* * * * * *"),
        ("Nats-Schedule-Time-Zone", "America/Denver"),
        ("Nats-Schedule-Target", "tgt.c"),
        ("Nats-Schedule-Source", "data.last"),
        ("Nats-Schedule-Rollup", "sub"),
    ];
    publish(&c, "sched.c", &hdrs, "own").await;
    wait_count(&c, "S", "tgt.c", 1).await;
    let (_, produced, body) = last_on(&c, "S", "tgt.c").await.unwrap();
    assert_eq!(body, "sourced-payload");
    let lines: Vec<&str> = produced.lines().collect();
    assert_eq!(
        lines[..3],
        ["NATS/1.0", "X-Src: 1", "Nats-Scheduler: sched.c"]
    );
    // Denver is 6 or 7 hours behind UTC: the next time carries the offset.
    let next = lines[3].strip_prefix("Nats-Schedule-Next: ").unwrap();
    assert!(
        next.ends_with("-06:00") || next.ends_with("-07:00"),
        "{next}"
    );
    assert_eq!(lines[4], "Nats-Rollup: sub");
    // Each fire rolls the target up: one message however often it fired.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(subjects(&c, "S").await["tgt.c"], 1);
    // Predefined schedules are accepted in a zone too.
    let hourly = [
        ("Nats-Schedule", "@hourly"),
        ("Nats-Schedule-Time-Zone", "Europe/Amsterdam"),
        ("Nats-Schedule-Target", "tgt.h"),
    ];
    assert!(publish(&c, "sched.h", &hourly, "")
        .await
        .get("error")
        .is_none());
}

/// A publish (subject, headers) and the error code and text it gets.
type Refusal = (
    &'static str,
    &'static [(&'static str, &'static str)],
    u64,
    &'static str,
);

#[tokio::test]
async fn refusals_have_nats_server_codes() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "S", stream_config("S")).await;
    create(&c, "P", json!({"name":"P","subjects":["p.>"]})).await;
    let cases: &[Refusal] = &[
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@every 500ms"),
                ("Nats-Schedule-Target", "tgt.b"),
            ],
            10189,
            "message schedules pattern is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "bogus"),
                ("Nats-Schedule-Target", "tgt.b"),
            ],
            10189,
            "message schedules pattern is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "* * * * *"),
                ("Nats-Schedule-Target", "tgt.b"),
            ],
            10189,
            "message schedules pattern is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@at 2020-01-01T00:00:00Z"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-Time-Zone", "UTC"),
            ],
            10189,
            "message schedules pattern is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "* * * * * *"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-Time-Zone", "Mars/Base"),
            ],
            10223,
            "message schedules time zone is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-TTL", "bad"),
            ],
            10191,
            "message schedules invalid per-message TTL",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-Rollup", "all"),
            ],
            10192,
            "message schedules invalid rollup",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Rollup", "all"),
            ],
            10192,
            "message schedules invalid rollup",
        ),
        (
            "sched.b",
            &[("Nats-Schedule", "@hourly")],
            10190,
            "message schedules target is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "other.x"),
            ],
            10190,
            "message schedules target is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "sched.b"),
            ],
            10190,
            "message schedules target is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.*"),
            ],
            10190,
            "message schedules target is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-Source", "tgt.b"),
            ],
            10203,
            "message schedules source is invalid",
        ),
        (
            "sched.b",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "tgt.b"),
                ("Nats-Schedule-Source", "zzz"),
            ],
            10203,
            "message schedules source is invalid",
        ),
        (
            "tgt.z",
            &[
                ("Nats-Schedule-Next", "2020-01-01T00:00:00Z"),
                ("Nats-Scheduler", "sched.b"),
            ],
            10212,
            "message schedules invalid scheduler",
        ),
        (
            "tgt.z",
            &[("Nats-Schedule-Next", "purge")],
            10212,
            "message schedules invalid scheduler",
        ),
        (
            "tgt.z",
            &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "tgt.z")],
            10212,
            "message schedules invalid scheduler",
        ),
        (
            "p.x",
            &[
                ("Nats-Schedule", "@hourly"),
                ("Nats-Schedule-Target", "p.b"),
            ],
            10188,
            "message schedules is disabled",
        ),
        (
            "p.x",
            &[("Nats-Schedule", "bogus"), ("Nats-Schedule-Target", "p.b")],
            10188,
            "message schedules is disabled",
        ),
        (
            "p.x",
            &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "p.y")],
            10188,
            "message schedules is disabled",
        ),
    ];
    for (subject, hdrs, code, text) in cases {
        let stream = if subject.starts_with("p.") { "P" } else { "S" };
        assert_eq!(
            publish(&c, subject, hdrs, "").await,
            ack_err(stream, 400, *code, text),
            "{hdrs:?}"
        );
    }
    // A subject holding a plain message is no schedule to stop.
    publish(&c, "tgt.plain", &[], "x").await;
    let stop = [
        ("Nats-Schedule-Next", "purge"),
        ("Nats-Scheduler", "tgt.plain"),
    ];
    assert_eq!(
        publish(&c, "tgt.z", &stop, "").await,
        ack_err("S", 400, 10212, "message schedules invalid scheduler")
    );
    // A schedule TTL needs per-message TTLs.
    create(
        &c,
        "N",
        json!({"name":"N","subjects":["n.>"],"allow_msg_schedules":true}),
    )
    .await;
    let ttl = [
        ("Nats-Schedule", "@hourly"),
        ("Nats-Schedule-Target", "n.t"),
        ("Nats-Schedule-TTL", "5m"),
    ];
    assert_eq!(
        publish(&c, "n.s", &ttl, "").await,
        ack_err("N", 400, 10166, "per-message TTL is disabled")
    );
    // An empty schedule is a plain message.
    assert_eq!(
        publish(
            &c,
            "sched.c",
            &[("Nats-Schedule", ""), ("Nats-Schedule-Target", "tgt.b")],
            ""
        )
        .await,
        ack("S", 2)
    );
    assert_eq!(
        subjects(&c, "S").await,
        json!({"sched.c": 1, "tgt.plain": 1})
    );
}

#[tokio::test]
async fn config_rules_follow_nats_server() {
    let nile = start();
    let c = connect(&nile).await;
    let v = create(
        &c,
        "S",
        json!({"name":"S","subjects":["s.>"],"allow_msg_schedules":true,"deny_purge":true}),
    )
    .await;
    // Schedules are roll-ups: allowing them allows roll-ups and purges.
    let cfg = &v["config"];
    assert_eq!(
        (
            cfg["allow_msg_schedules"].clone(),
            cfg["allow_rollup_hdrs"].clone(),
            cfg["deny_purge"].clone()
        ),
        (json!(true), json!(true), json!(false))
    );
    assert_eq!(cfg["metadata"]["_nats.req.level"], "2");
    let refused = |body: Value| {
        let c = c.clone();
        async move {
            let name = body["name"].as_str().unwrap().to_string();
            req(
                &c,
                &format!("$JS.API.STREAM.CREATE.{name}"),
                &body.to_string(),
            )
            .await["error"]
                .clone()
        }
    };
    assert_eq!(
        refused(json!({"name":"D","subjects":["d"],"allow_msg_schedules":true,"discard":"new"}))
            .await,
        api_err(500, 10052, "message scheduling cannot use discard new")
    );
    assert_eq!(
        refused(json!({"name":"M","mirror":{"name":"S"},"allow_msg_schedules":true})).await,
        api_err(400, 10186, "stream mirrors can not also schedule messages")
    );
    assert_eq!(
        refused(json!({"name":"R","sources":[{"name":"S"}],"allow_msg_schedules":true})).await,
        api_err(400, 10187, "stream source can not also schedule messages")
    );
    let off = json!({"name":"S","subjects":["s.>"]}).to_string();
    assert_eq!(
        req(&c, "$JS.API.STREAM.UPDATE.S", &off).await["error"],
        api_err(500, 10052, "message schedules can not be disabled")
    );
    // It can be turned on later, and the stream then schedules.
    create(&c, "L", json!({"name":"L","subjects":["l.>"]})).await;
    let on = json!({"name":"L","subjects":["l.>"],"allow_msg_schedules":true}).to_string();
    assert_eq!(
        req(&c, "$JS.API.STREAM.UPDATE.L", &on).await["config"]["allow_msg_schedules"],
        true
    );
    let every = [
        ("Nats-Schedule", "@every 1s"),
        ("Nats-Schedule-Target", "l.t"),
    ];
    publish(&c, "l.s", &every, "").await;
    wait_count(&c, "L", "l.t", 1).await;
}

#[tokio::test]
async fn schedules_go_on_after_a_restart() {
    let mut nile = start();
    let c = connect(&nile).await;
    create(&c, "S", stream_config("S")).await;
    let at = format!("@at {}", in_ms(3000));
    publish(
        &c,
        "sched.at",
        &[
            ("Nats-Schedule", at.as_str()),
            ("Nats-Schedule-Target", "tgt.at"),
        ],
        "later",
    )
    .await;
    publish(
        &c,
        "sched.ev",
        &[
            ("Nats-Schedule", "@every 1s"),
            ("Nats-Schedule-Target", "tgt.ev"),
        ],
        "tick",
    )
    .await;
    wait_count(&c, "S", "tgt.ev", 1).await;
    drop(c);
    nile.signal_and_wait(15).expect("stopped");
    let dir = std::mem::replace(&mut nile.dir, tempfile::tempdir().unwrap());
    let nile = nile_tests::Nile::start_in(dir, &["-js"]);
    let c = connect(&nile).await;
    let before = subjects(&c, "S").await["tgt.ev"].as_u64().unwrap();
    wait_count(&c, "S", "tgt.ev", before + 2).await;
    wait_count(&c, "S", "tgt.at", 1).await;
    let (_, _, body) = last_on(&c, "S", "tgt.at").await.unwrap();
    assert_eq!(body, "later");
    assert_eq!(subjects(&c, "S").await.get("sched.at"), None);
}

#[tokio::test]
async fn deleting_the_schedule_message_stops_it() {
    let nile = start();
    let c = connect(&nile).await;
    create(&c, "S", stream_config("S")).await;
    let every = [
        ("Nats-Schedule", "@every 1s"),
        ("Nats-Schedule-Target", "tgt.d"),
    ];
    assert_eq!(publish(&c, "sched.d", &every, "").await, ack("S", 1));
    wait_count(&c, "S", "tgt.d", 1).await;
    let v = req(&c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#).await;
    assert_eq!(v["success"], true, "{v}");
    let fired = subjects(&c, "S").await["tgt.d"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(subjects(&c, "S").await["tgt.d"].as_u64().unwrap(), fired);
    // A new schedule on the subject starts afresh.
    publish(&c, "sched.d", &every, "").await;
    wait_count(&c, "S", "tgt.d", fired + 1).await;
}
