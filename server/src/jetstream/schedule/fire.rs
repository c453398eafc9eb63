//! Firing schedules: the stream's schedule task, and the message each due
//! schedule stores on its target subject.

use std::sync::{Arc, Weak};
use std::time::Duration;

use nile_engine::SubjectFilter;

use super::{purge_subject, Parsed, Scheduler, NEXT, NEXT_PURGE, SCHEDULER};
use crate::jetstream::headers::{self, HeaderBuilder};
use crate::jetstream::stream::{now_ns, Stream};
use crate::jetstream::ttl;

/// How long the task sleeps with nothing due; a new schedule wakes it.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Headers of the schedule (or its source message) that would stop the
/// produced message from being stored as it should, or that it sets anew.
const STRIPPED_PREFIXES: [&str; 2] = ["Nats-Schedule", "Nats-Expected-"];
const STRIPPED: [&str; 3] = [headers::MSG_ID, ttl::TTL, headers::ROLLUP];

/// The stream's schedule task: sleeps until the earliest schedule is due
/// (or a new one comes first), then fires what is due. Ends with the stream.
pub async fn run(stream: Weak<Stream>, sched: Arc<Scheduler>) {
    loop {
        let wait = match sched.earliest() {
            Some(at) => Duration::from_nanos(u64::try_from(at - now_ns()).unwrap_or(0)),
            None => IDLE_WAIT,
        };
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = sched.wake.notified() => {}
            }
        }
        let Some(stream) = stream.upgrade() else {
            return;
        };
        fire_due(&stream, &sched, now_ns());
    }
}

/// Stores the message of every schedule due by `now_ns`, in due order.
pub fn fire_due(stream: &Stream, sched: &Scheduler, now_ns: i64) {
    for (subject, seq, due_ns) in sched.take_due(now_ns) {
        if let Err(why) = fire(stream, sched, &subject, seq, due_ns, now_ns) {
            tracing::debug!(stream = %stream.name, subject = %String::from_utf8_lossy(&subject), why, "schedule dropped");
        }
    }
}

/// One schedule: its message (or its source subject's last message) goes
/// to its target with `Nats-Scheduler` and `Nats-Schedule-Next`; then it is
/// due again, or purged when it does not repeat.
fn fire(
    stream: &Stream,
    sched: &Scheduler,
    subject: &[u8],
    seq: u64,
    due_ns: i64,
    now_ns: i64,
) -> Result<(), &'static str> {
    // Removed since (deleted, purged, acked on a work queue): it is over.
    let m = stream
        .store
        .get(seq)
        .map_err(|_| "schedule message removed")?;
    if m.subject != subject {
        return Err("schedule message replaced");
    }
    let parsed = match Parsed::read(&m.headers) {
        Some(Ok(p)) => p,
        _ => return Err("not a valid schedule"),
    };
    if parsed.target.is_empty() || parsed.ttl.is_some_and(|t| ttl::parse(t).is_err()) {
        return Err("not a valid schedule");
    }
    let next_ns = match parsed.spec.repeats() {
        true => Some(
            parsed
                .spec
                .next(due_ns, now_ns)
                .map_err(|_| "pattern ends")?,
        ),
        false => None,
    };
    let next = next_ns.map_or_else(|| NEXT_PURGE.to_string(), |t| parsed.spec.format_next(t));
    let source = parsed
        .source
        .and_then(|s| stream.store.last_for_subject(&SubjectFilter::new(s)).ok());
    let content = source.as_ref().unwrap_or(&m);
    let hdrs = produced_headers(&content.headers, subject, &next, &parsed);
    let expires_ns = ttl::for_copy(&stream.config.read(), &hdrs, now_ns);
    let msg = (parsed.target.as_bytes(), &hdrs[..], &content.payload[..]);
    if let Err(e) = stream.append_internal(None, msg, now_ns, expires_ns) {
        tracing::warn!(stream = %stream.name, error = %e.description, "scheduled message not stored");
    }
    match next_ns {
        Some(at) => sched.set(subject, seq, at),
        None => purge_subject(
            stream.store.as_ref(),
            std::str::from_utf8(subject).unwrap_or(""),
        ),
    }
    Ok(())
}

fn produced_headers(from: &[u8], subject: &[u8], next: &str, parsed: &Parsed<'_>) -> Vec<u8> {
    let mut b = HeaderBuilder::extend(&without_schedule_headers(from));
    b = b
        .add(SCHEDULER, &String::from_utf8_lossy(subject))
        .add(NEXT, next);
    if let Some(t) = parsed.ttl {
        b = b.add(ttl::TTL, t);
    }
    if let Some(r) = parsed.rollup {
        b = b.add(headers::ROLLUP, r);
    }
    b.finish()
}

/// `block` without the headers the produced message must not inherit.
fn without_schedule_headers(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let body = block.strip_suffix(b"\r\n").unwrap_or(block);
    for (i, line) in body.split_inclusive(|b| *b == b'\n').enumerate() {
        let name = line
            .iter()
            .position(|b| *b == b':')
            .map_or(&line[..0], |colon| &line[..colon]);
        let stripped = STRIPPED_PREFIXES
            .iter()
            .any(|p| name.starts_with(p.as_bytes()))
            || STRIPPED.iter().any(|s| name == s.as_bytes());
        if i == 0 || !stripped {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produced_headers_keep_only_the_users() {
        let from = b"NATS/1.0\r\nNats-Schedule: @every 1s\r\nNats-Schedule-Target: t\r\nX-Custom: keep\r\nNats-Msg-Id: m1\r\nNats-Expected-Stream: S\r\nNats-Rollup: sub\r\n\r\n";
        let parsed = Parsed::read(from).unwrap().unwrap();
        let out = produced_headers(from, b"sched.a", "2026-12-01T23:36:23Z", &parsed);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NATS/1.0\r\nX-Custom: keep\r\nNats-Scheduler: sched.a\r\nNats-Schedule-Next: 2026-12-01T23:36:23Z\r\n\r\n"
        );
        let bare = produced_headers(b"", b"s", "purge", &parsed);
        assert_eq!(
            bare,
            b"NATS/1.0\r\nNats-Scheduler: s\r\nNats-Schedule-Next: purge\r\n\r\n"
        );
    }
}
