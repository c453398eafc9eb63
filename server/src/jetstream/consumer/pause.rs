//! Pausing a consumer (2.11): `pause_until` in its config, set at create or
//! by CONSUMER.PAUSE. While paused nothing is delivered; pull requests
//! still queue, expire and get their heartbeats, as in nats-server. At the
//! deadline delivery resumes and the pause advisory says so.

use std::time::{Duration, Instant};

use super::config::ConsumerConfig;
use super::deliver::Out;
use super::{nuid, Consumer, State};
use crate::jetstream::stream::now_ns;
use crate::logging::rfc3339_ns;

/// Go's zero `time.Time`, which nats-server writes for "no deadline".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// When the resume advisory is due, if the consumer is paused now.
pub fn resume_at(cfg: &ConsumerConfig, now: Instant) -> Option<Instant> {
    let now_ns = now_ns();
    let until = cfg.paused_at(now_ns)?;
    Some(now + Duration::from_nanos((until - now_ns) as u64))
}

/// Paused now, and for how long still?
pub fn remaining(cfg: &ConsumerConfig) -> Option<Duration> {
    let now_ns = now_ns();
    cfg.paused_at(now_ns)
        .map(|until| Duration::from_nanos((until - now_ns) as u64))
}

impl Consumer {
    /// CONSUMER.PAUSE: set or clear the deadline (the caller saves the
    /// config), tell the delivery task, send the advisory.
    pub fn set_pause(&self, until: Option<String>) {
        let cfg = {
            let mut cfg = self.config.write();
            cfg.pause_until = until;
            cfg.clone()
        };
        self.state.lock().resume_at = resume_at(&cfg, Instant::now());
        self.send_pause_advisory(&cfg);
        self.wake.notify_one();
    }

    pub fn send_pause_advisory(&self, cfg: &ConsumerConfig) {
        let (subject, body) = self.pause_advisory(cfg);
        self.account
            .publish_internal(subject.as_bytes(), None, &[], body.as_bytes());
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.PAUSE.<stream>.<consumer>`: subject and body.
    fn pause_advisory(&self, cfg: &ConsumerConfig) -> (String, String) {
        let subject = format!(
            "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.{}.{}",
            self.stream_name, self.name
        );
        let until = cfg.pause_until_ns();
        let mut body = serde_json::json!({
            "type": "io.nats.jetstream.advisory.v1.consumer_pause",
            "id": nuid(),
            "timestamp": rfc3339_ns(now_ns()),
            "stream": self.stream_name,
            "consumer": self.name,
            "paused": until.is_some_and(|u| u > now_ns()),
            "pause_until": until.map_or(ZERO_TIME.to_string(), rfc3339_ns),
        });
        if let Some(d) = self.server.options().jetstream.domain.clone() {
            body["domain"] = d.into();
        }
        (subject, body.to_string())
    }

    /// In a delivery turn: is the consumer paused? Once the deadline has
    /// passed the resume advisory goes out (once).
    pub(crate) fn check_pause(
        &self,
        cfg: &ConsumerConfig,
        st: &mut State,
        now: Instant,
        out: &mut Vec<Out>,
    ) -> bool {
        match st.resume_at {
            Some(t) if t > now => true,
            Some(_) => {
                st.resume_at = None;
                let (subject, body) = self.pause_advisory(cfg);
                out.push(Out::event(subject, body));
                false
            }
            None => false,
        }
    }
}
