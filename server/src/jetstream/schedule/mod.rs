//! Message schedules (ADR-51): a message whose `Nats-Schedule` header
//! holds a schedule makes the stream store a copy of it on its
//! `Nats-Schedule-Target` subject when the schedule fires.
//!
//! The schedule lives in the stream's messages, as in nats-server: the
//! schedule message is the last message on its subject (stored with
//! `Nats-Rollup: sub`), and each produced message says when the schedule
//! fires next (`Nats-Schedule-Next`) or that it is done (`purge`, which
//! purges the schedule's subject). What the [`Scheduler`] keeps in memory
//! is rebuilt from them on start-up ([`recover`]).

pub mod config;
mod cron;
mod fire;
mod spec;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use nile_engine::{PurgeRequest, StreamStore, SubjectFilter};
use parking_lot::Mutex;

use super::config::StreamConfig;
use super::errors::{err, ApiError};
use super::headers;
use crate::subject;
pub use fire::run;
use spec::{Spec, SpecError};

pub const SCHEDULE: &str = "Nats-Schedule";
pub const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
pub const TTL: &str = "Nats-Schedule-TTL";
pub const ROLLUP: &str = "Nats-Schedule-Rollup";
pub const TARGET: &str = "Nats-Schedule-Target";
pub const SOURCE: &str = "Nats-Schedule-Source";
/// On produced messages (and cancels): the schedule's subject.
pub const SCHEDULER: &str = "Nats-Scheduler";
/// On produced messages (and cancels): when the schedule fires next, or
/// [`NEXT_PURGE`].
pub const NEXT: &str = "Nats-Schedule-Next";
pub const NEXT_PURGE: &str = "purge";

/// Every header above starts so: a publish without it skips all checks.
const HEADER_PREFIX: &[u8] = b"Nats-Sched";

/// What a publish's schedule headers ask of the stream once it is stored.
pub struct Checked<'a> {
    /// The headers to store: a schedule gets `Nats-Rollup: sub` added.
    pub headers: Cow<'a, [u8]>,
    /// The published message is a schedule, first due at this time (ns).
    pub schedule_at: Option<i64>,
    /// Stop the schedule on this subject (`Nats-Schedule-Next: purge`).
    pub stop: Option<String>,
}

/// A schedule message's headers, as read when it is published and when it fires.
struct Parsed<'a> {
    spec: Spec,
    target: &'a str,
    source: Option<&'a str>,
    ttl: Option<&'a str>,
    rollup: Option<&'a str>,
}

impl<'a> Parsed<'a> {
    /// `None` when `hdrs` hold no schedule (no or an empty `Nats-Schedule`).
    fn read(hdrs: &'a [u8]) -> Option<Result<Parsed<'a>, ApiError>> {
        let pattern = headers::get(hdrs, SCHEDULE).filter(|p| !p.is_empty())?;
        let spec = std::str::from_utf8(pattern)
            .map_err(|_| SpecError::Pattern)
            .and_then(|p| {
                let tz = spec::time_zone(headers::get_str(hdrs, TIME_ZONE))?;
                Spec::parse(p, tz)
            })
            .map_err(|e| match e {
                SpecError::Pattern => err::schedules_pattern_invalid(),
                SpecError::TimeZone => err::schedules_time_zone_invalid(),
            });
        Some(spec.map(|spec| Parsed {
            spec,
            target: non_empty(hdrs, TARGET).unwrap_or(""),
            source: non_empty(hdrs, SOURCE),
            ttl: non_empty(hdrs, TTL),
            rollup: non_empty(hdrs, ROLLUP),
        }))
    }

    /// nats-server's checks of a schedule on publish, in its order.
    fn check(&self, cfg: &StreamConfig, subject: &[u8]) -> Result<(), ApiError> {
        if self.ttl.is_some_and(|t| super::ttl::parse(t).is_err()) {
            return Err(err::schedules_ttl_invalid());
        }
        if self.rollup.is_some_and(|r| r != "sub") {
            return Err(err::schedules_rollup_invalid());
        }
        if self.ttl.is_some() && !cfg.allow_msg_ttl {
            return Err(err::msg_ttl_disabled());
        }
        let target = self.target.as_bytes();
        if !subject::is_valid_literal(target) || target == subject {
            return Err(err::schedules_target_invalid());
        }
        if let Some(source) = self.source.map(str::as_bytes) {
            if source == target || source == subject || !subject::is_valid_literal(source) {
                return Err(err::schedules_source_invalid());
            }
        }
        let captured = |s: &[u8]| {
            cfg.subjects
                .iter()
                .any(|p| subject::overlaps(p.as_bytes(), s))
        };
        if !captured(target) {
            return Err(err::schedules_target_invalid());
        }
        if self.source.is_some_and(|s| !captured(s.as_bytes())) {
            return Err(err::schedules_source_invalid());
        }
        Ok(())
    }
}

fn non_empty<'a>(hdrs: &'a [u8], name: &str) -> Option<&'a str> {
    headers::get_str(hdrs, name).filter(|v| !v.is_empty())
}

/// Checks a publish's schedule headers (ADR-51) and says what storing it
/// means for the stream's schedules. `last_headers` reads the headers of
/// the last message on a subject. Free for a publish without them.
#[inline]
pub fn check<'a>(
    cfg: &StreamConfig,
    subject: &[u8],
    hdrs: &'a [u8],
    now_ns: i64,
    last_headers: impl Fn(&str) -> Option<Bytes>,
) -> Result<Checked<'a>, ApiError> {
    let mut checked = Checked {
        headers: Cow::Borrowed(hdrs),
        schedule_at: None,
        stop: None,
    };
    if hdrs.is_empty() || memchr::memmem::find(hdrs, HEADER_PREFIX).is_none() {
        return Ok(checked);
    }
    if let Some(parsed) = Parsed::read(hdrs) {
        if !cfg.allow_msg_schedules {
            return Err(err::schedules_disabled());
        }
        let parsed = parsed?;
        parsed.check(cfg, subject)?;
        checked.schedule_at = Some(
            parsed
                .spec
                .next(now_ns, 0)
                .map_err(|_| err::schedules_pattern_invalid())?,
        );
        checked.headers = Cow::Owned(with_subject_rollup(hdrs)?);
    }
    checked.stop = check_stop(cfg, subject, hdrs, last_headers)?;
    Ok(checked)
}

/// A schedule is stored as a subject roll-up, replacing the one before it.
fn with_subject_rollup(hdrs: &[u8]) -> Result<Vec<u8>, ApiError> {
    match headers::get_str(hdrs, headers::ROLLUP) {
        None => Ok(headers::HeaderBuilder::extend(hdrs)
            .add(headers::ROLLUP, "sub")
            .finish()),
        Some(r) if r.eq_ignore_ascii_case("sub") => Ok(hdrs.to_vec()),
        Some(_) => Err(err::schedules_rollup_invalid()),
    }
}

/// `Nats-Schedule-Next: purge` with `Nats-Scheduler: <subject>` stops that
/// schedule once this message is stored; any other use of the two is refused.
fn check_stop(
    cfg: &StreamConfig,
    subject: &[u8],
    hdrs: &[u8],
    last_headers: impl Fn(&str) -> Option<Bytes>,
) -> Result<Option<String>, ApiError> {
    let scheduler = non_empty(hdrs, SCHEDULER);
    let Some(next) = headers::get(hdrs, NEXT).filter(|v| !v.is_empty()) else {
        return match scheduler {
            Some(_) => Err(err::schedules_scheduler_invalid()),
            None => Ok(None),
        };
    };
    if next != NEXT_PURGE.as_bytes() {
        return Err(err::schedules_scheduler_invalid());
    }
    let Some(scheduler) =
        scheduler.filter(|s| s.as_bytes() != subject && subject::is_valid_literal(s.as_bytes()))
    else {
        return Err(err::schedules_scheduler_invalid());
    };
    if !cfg.allow_msg_schedules {
        return Err(err::schedules_disabled());
    }
    // Stopping a subject that holds no message at all is allowed (a
    // schedule that already ended); one that holds a plain message is not.
    if let Some(last) = last_headers(scheduler) {
        if headers::get(&last, SCHEDULE).is_none_or(<[u8]>::is_empty) {
            return Err(err::schedules_scheduler_invalid());
        }
    }
    Ok(Some(scheduler.to_string()))
}

/// A stream's schedules that are due some time: subject → (sequence of
/// the schedule message, when it fires next).
#[derive(Default)]
pub struct Scheduler {
    due: Mutex<Due>,
    /// Wakes the stream's schedule task when a schedule is added.
    pub wake: tokio::sync::Notify,
}

#[derive(Default)]
struct Due {
    by_subject: HashMap<Bytes, (u64, i64)>,
    order: BTreeSet<(i64, Bytes)>,
}

impl Scheduler {
    /// The schedule on `subject` is the message `seq`, due at `at_ns`.
    pub fn set(&self, subject: &[u8], seq: u64, at_ns: i64) {
        let subject = Bytes::copy_from_slice(subject);
        let mut due = self.due.lock();
        if let Some((_, old)) = due.by_subject.insert(subject.clone(), (seq, at_ns)) {
            due.order.remove(&(old, subject.clone()));
        }
        let earliest = due.order.first().is_none_or(|(t, _)| at_ns < *t);
        due.order.insert((at_ns, subject));
        drop(due);
        if earliest {
            self.wake.notify_one();
        }
    }

    pub fn remove(&self, subject: &[u8]) {
        let mut due = self.due.lock();
        if due.by_subject.is_empty() {
            return;
        }
        if let Some((subject, (_, at))) = due.by_subject.remove_entry(subject) {
            due.order.remove(&(at, subject));
        }
    }

    /// When the earliest schedule is due, if any.
    pub fn earliest(&self) -> Option<i64> {
        self.due.lock().order.first().map(|(t, _)| *t)
    }

    /// Takes every schedule due by `now_ns`: (subject, sequence, due time).
    fn take_due(&self, now_ns: i64) -> Vec<(Bytes, u64, i64)> {
        let mut due = self.due.lock();
        let mut out = Vec::new();
        while let Some((at, _)) = due.order.first() {
            if *at > now_ns {
                break;
            }
            let Some((at, subject)) = due.order.pop_first() else {
                break;
            };
            if let Some((seq, _)) = due.by_subject.remove(&subject) {
                out.push((subject, seq, at));
            }
        }
        out
    }

    /// After a message is stored: a schedule replaces the one on its
    /// subject, a plain message there ends it (as in nats-server), and a
    /// stop purges the schedule it names.
    pub fn after_store(
        &self,
        store: &dyn StreamStore,
        seq: u64,
        subject: &[u8],
        checked: &Checked<'_>,
    ) {
        match checked.schedule_at {
            Some(at) => self.set(subject, seq, at),
            None => self.remove(subject),
        }
        if let Some(stop) = &checked.stop {
            purge_subject(store, stop);
            self.remove(stop.as_bytes());
        }
    }
}

/// Removes a schedule message (and anything else on its subject).
fn purge_subject(store: &dyn StreamStore, subject: &str) {
    let req = PurgeRequest {
        subject: Some(subject.to_string()),
        keep: None,
        up_to_seq: None,
    };
    if let Err(e) = store.purge(&req) {
        tracing::warn!(subject, error = %e, "schedule not purged");
    }
}

/// Rebuilds the due schedules from the stream's messages: the last message
/// of each subject that holds a schedule, and the target's last message
/// when that one was produced by it (it says when the schedule fires next,
/// or that it is done and its purge did not happen before a stop).
pub fn recover(store: &dyn StreamStore, sched: &Scheduler, now_ns: i64) {
    let subjects = store.subjects_state(&SubjectFilter::all());
    for subject in subjects.keys() {
        let Ok(m) = store.last_for_subject(&SubjectFilter::new(subject.as_bytes())) else {
            continue;
        };
        let Some(Ok(parsed)) = Parsed::read(&m.headers) else {
            continue;
        };
        match fired_next(store, parsed.target, subject, m.seq) {
            Some(Fired::Done) => purge_subject(store, subject),
            Some(Fired::Next(at)) => sched.set(subject.as_bytes(), m.seq, at),
            None => {
                if let Ok(at) = parsed.spec.next(m.timestamp_ns, now_ns) {
                    sched.set(subject.as_bytes(), m.seq, at);
                }
            }
        }
    }
}

enum Fired {
    Done,
    Next(i64),
}

/// What the schedule on `subject` (message `seq`) said when it last fired
/// into `target`, if the target's last message is its.
fn fired_next(store: &dyn StreamStore, target: &str, subject: &str, seq: u64) -> Option<Fired> {
    let last = store
        .last_for_subject(&SubjectFilter::new(target.as_bytes()))
        .ok()?;
    if last.seq < seq || headers::get_str(&last.headers, SCHEDULER) != Some(subject) {
        return None;
    }
    match headers::get_str(&last.headers, NEXT)? {
        NEXT_PURGE => Some(Fired::Done),
        t => super::time::parse_rfc3339(t).map(Fired::Next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_schedules_come_in_time_order_and_replace_each_other() {
        let s = Scheduler::default();
        s.set(b"a", 1, 30);
        s.set(b"b", 2, 10);
        s.set(b"c", 3, 20);
        // A new schedule on a subject replaces its old due time.
        s.set(b"a", 4, 5);
        assert_eq!(s.earliest(), Some(5));
        let due: Vec<_> = s
            .take_due(20)
            .into_iter()
            .map(|(subj, seq, at)| (subj.to_vec(), seq, at))
            .collect();
        assert_eq!(
            due,
            [
                (b"a".to_vec(), 4, 5),
                (b"b".to_vec(), 2, 10),
                (b"c".to_vec(), 3, 20)
            ]
        );
        assert_eq!(s.earliest(), None);
        s.set(b"d", 5, 40);
        s.remove(b"d");
        assert!(s.take_due(i64::MAX).is_empty());
    }

    #[test]
    fn stop_needs_purge_and_another_subject() {
        let cfg = StreamConfig {
            allow_msg_schedules: true,
            subjects: vec!["s.>".into()],
            ..StreamConfig::default()
        };
        let hdrs = |next: &str, scheduler: &str| {
            headers::HeaderBuilder::new(None)
                .add(NEXT, next)
                .add(SCHEDULER, scheduler)
                .finish()
        };
        let none = |_: &str| None;
        let stop = hdrs("purge", "s.sched");
        let ok = check(&cfg, b"s.stop", &stop, 0, none).unwrap();
        assert_eq!(ok.stop.as_deref(), Some("s.sched"));
        for (next, scheduler) in [("purge", "s.stop"), ("soon", "s.sched"), ("purge", "s.*")] {
            let e = check(&cfg, b"s.stop", &hdrs(next, scheduler), 0, none)
                .err()
                .unwrap();
            assert_eq!(e.err_code, 10212, "{next} {scheduler}");
        }
    }
}
