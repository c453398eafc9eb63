//! ConsumerConfig as clients send it and nats-server echoes it, with the
//! defaults and the rules checked on create and update.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jetstream::config::{is_valid_name, ConsumerLimits, Retention, StreamConfig};
use crate::jetstream::errors::{err, ApiError};
use crate::subject;

/// nats-server's defaults.
pub const ACK_WAIT_DEFAULT_NS: i64 = 30_000_000_000;
pub const MAX_WAITING_DEFAULT: i64 = 512;
pub const MAX_ACK_PENDING_DEFAULT: i64 = 1000;
pub const INACTIVE_THRESHOLD_EPHEMERAL_NS: i64 = 5_000_000_000;
const HEARTBEAT_MIN_NS: i64 = 100_000_000;
/// The heartbeat a flow-control-acked consumer must have (nats-server's
/// stalled-source detection is built on it).
const FLOW_CONTROL_HEARTBEAT_NS: i64 = 1_000_000_000;
const MAX_EXPIRES_MIN_NS: i64 = 1_000_000;
const DESCRIPTION_LEN_MAX: usize = 4096;
const METADATA_BYTES_MAX: usize = 128 * 1024;
/// A pin lasts this long after the pinned client's last request unless set.
pub const PINNED_TTL_DEFAULT_NS: i64 = 120_000_000_000;
const GROUP_NAME_LEN_MAX: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
    /// 2.14 (ADR-60): acked as `all` by each reply to a flow-control
    /// request, for the durable consumers mirrors and sources may use.
    #[serde(rename = "flow_control")]
    FlowControl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

/// How a pull consumer picks among waiting requests (2.11 priority groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PriorityPolicy {
    #[default]
    None,
    /// Requests with `min_pending` / `min_ack_pending` wait until the backlog is that large.
    Overflow,
    /// One client at a time, named by the `Nats-Pin-Id` it was given.
    PinnedClient,
    /// Requests with a lower `priority` are served first.
    Prioritized,
}

impl<'de> Deserialize<'de> for PriorityPolicy {
    /// nats-server's wording for an unknown policy.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "none" => Ok(PriorityPolicy::None),
            "overflow" => Ok(PriorityPolicy::Overflow),
            "pinned_client" => Ok(PriorityPolicy::PinnedClient),
            "prioritized" => Ok(PriorityPolicy::Prioritized),
            _ => Err(serde::de::Error::custom(format!(
                "unknown priority policy: {s:?}"
            ))),
        }
    }
}

impl PriorityPolicy {
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

/// A 400 error with nats-server's code and text.
fn bad(err_code: u16, description: &str) -> ApiError {
    ApiError {
        code: 400,
        err_code,
        description: description.into(),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The consumer configuration. Field order and omissions are nats-server's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ConsumerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    pub ack_policy: AckPolicy,
    #[serde(skip_serializing_if = "is_zero")]
    pub ack_wait: i64,
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_subjects: Option<Vec<String>>,
    pub replay_policy: ReplayPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_bps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_freq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_waiting: Option<i64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_heartbeat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inactive_threshold: Option<i64>,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// RFC 3339 in UTC: no deliveries before then (2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    /// How long a pin outlives its client's last pull request (ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_timeout: Option<i64>,
}

/// The body of CONSUMER.CREATE.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CreateRequest {
    pub stream_name: String,
    pub config: ConsumerConfig,
    pub action: String,
    /// 2.11's pedantic mode: refuse what would otherwise be defaulted.
    pub pedantic: bool,
}

impl ConsumerConfig {
    pub fn is_push(&self) -> bool {
        self.deliver_subject
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    }

    pub fn is_durable(&self) -> bool {
        self.durable_name.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// The filter patterns (none: everything).
    pub fn filters(&self) -> Vec<String> {
        match (&self.filter_subject, &self.filter_subjects) {
            (Some(f), _) if !f.is_empty() => vec![f.clone()],
            (_, Some(list)) => list.clone(),
            _ => Vec::new(),
        }
    }

    /// Fill defaults and check nats-server's rules against the stream.
    pub fn normalize(
        mut self,
        stream: &StreamConfig,
        pedantic: bool,
    ) -> Result<ConsumerConfig, ApiError> {
        self.check_names()?;
        self.check_sizes()?;
        self.check_filters()?;
        self.check_ack_flow_control(pedantic)?;
        self.check_push_pull()?;
        self.check_timers()?;
        sample_percent(self.sample_freq.as_deref())?;
        // As nats-server: the first backoff step is the ack wait.
        if let Some(first) = self.backoff.as_ref().and_then(|b| b.first().copied()) {
            self.ack_wait = first;
        }
        // Without acks nats-server leaves ack_wait and max_ack_pending unset (omitted).
        // Flow-control acks have no ack wait (nats-server omits it).
        let timed = !matches!(self.ack_policy, AckPolicy::None | AckPolicy::FlowControl);
        if timed && self.ack_wait <= 0 {
            self.ack_wait = ACK_WAIT_DEFAULT_NS;
        }
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        if let Some(b) = &self.backoff {
            // nats-server 2.15 lets the last step repeat: only fewer
            // deliveries than steps is refused.
            if self.max_deliver > 0 && self.max_deliver < b.len() as i64 {
                return Err(bad(
                    10116,
                    "max deliver is required to be > length of backoff values",
                ));
            }
        }
        self.apply_stream_limits(&stream.consumer_limits, pedantic)?;
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = MAX_ACK_PENDING_DEFAULT;
        }
        if !self.is_durable() && self.inactive_threshold.is_none_or(|t| t <= 0) {
            self.inactive_threshold = Some(INACTIVE_THRESHOLD_EPHEMERAL_NS);
        }
        self.check_policies(stream)?;
        self.check_priority(pedantic)?;
        self.normalize_pause()?;
        Ok(self)
    }

    /// The pause deadline in ns since the epoch (None: not set, or long past).
    pub fn pause_until_ns(&self) -> Option<i64> {
        pause_deadline_ns(self.pause_until.as_deref()?)
            .ok()
            .flatten()
    }

    /// Paused now, and until when (ns since the epoch)?
    pub fn paused_at(&self, now_ns: i64) -> Option<i64> {
        self.pause_until_ns().filter(|t| *t > now_ns)
    }

    /// As nats-server, the deadline is kept in UTC.
    fn normalize_pause(&mut self) -> Result<(), ApiError> {
        let Some(text) = self.pause_until.as_deref() else {
            return Ok(());
        };
        if let Some(ns) = pause_deadline_ns(text)? {
            self.pause_until = Some(crate::logging::rfc3339_ns(ns));
        }
        Ok(())
    }

    /// Priority groups: pull consumers only, named groups, a policy that uses them.
    fn check_priority(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if self.priority_timeout.is_some_and(|t| t < 0) {
            if pedantic {
                return Err(bad(
                    10157,
                    "pedantic mode: priority_timeout must not be negative",
                ));
            }
            self.priority_timeout = None;
        }
        if self.priority_timeout == Some(0) {
            self.priority_timeout = None;
        }
        if self.priority_groups.as_ref().is_some_and(|g| g.is_empty()) {
            self.priority_groups = None;
        }
        let groups = self.priority_groups.as_deref().unwrap_or_default();
        if self.priority_policy.is_none() {
            if !groups.is_empty() {
                return Err(err::priority_groups_without_policy());
            }
            if self.priority_timeout.is_some() {
                return Err(err::pinned_ttl_without_policy());
            }
            return Ok(());
        }
        if self.is_push() {
            return Err(err::push_with_priority_group());
        }
        if groups.is_empty() {
            return Err(err::priority_policy_without_group());
        }
        for g in groups {
            if g.is_empty() {
                return Err(err::empty_group_name());
            }
            if !is_valid_group_name(g) {
                return Err(err::invalid_group_name());
            }
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout.is_none() {
            self.priority_timeout = Some(PINNED_TTL_DEFAULT_NS);
        }
        Ok(())
    }

    /// The pin timeout of a pinned-client consumer.
    pub fn pinned_ttl(&self) -> std::time::Duration {
        let ns = self
            .priority_timeout
            .unwrap_or(PINNED_TTL_DEFAULT_NS)
            .max(1);
        std::time::Duration::from_nanos(ns as u64)
    }

    pub fn is_pinned(&self) -> bool {
        self.priority_policy == PriorityPolicy::PinnedClient
    }

    /// Is `group` one of this consumer's priority groups?
    pub fn has_group(&self, group: &str) -> bool {
        self.priority_groups.iter().flatten().any(|g| g == group)
    }

    /// The stream's `consumer_limits` (2.10): unset values take them (even
    /// for ack-none consumers and durables, as nats-server), larger ones
    /// are refused.
    fn apply_stream_limits(
        &mut self,
        limits: &ConsumerLimits,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let max_ack_pending_limit = limits.max_ack_pending.filter(|m| *m > 0);
        let inactive_limit_ns = limits.inactive_threshold.filter(|t| *t > 0);
        if let Some(limit) = max_ack_pending_limit {
            if self.max_ack_pending == 0 {
                if pedantic {
                    return Err(bad(
                        10157,
                        "pedantic mode: max_ack_pending must be set if it's configured in stream limits",
                    ));
                }
                self.max_ack_pending = limit;
            }
            if self.max_ack_pending > limit {
                return Err(bad(
                    10121,
                    &format!("consumer max ack pending exceeds system limit of {limit}"),
                ));
            }
        }
        if let Some(limit) = inactive_limit_ns {
            let threshold = self.inactive_threshold.filter(|t| *t > 0).unwrap_or(limit);
            if threshold > limit {
                return Err(bad(
                    10153,
                    &format!(
                        "consumer inactive threshold exceeds system limit of {}",
                        crate::monitor::go_duration(limit as u64)
                    ),
                ));
            }
            self.inactive_threshold = Some(threshold);
        }
        Ok(())
    }

    /// Would this (existing) consumer break the stream's new limits?
    pub fn violates(&self, limits: &ConsumerLimits) -> bool {
        let over = |limit: Option<i64>, v: i64| limit.is_some_and(|l| l > 0 && v > l);
        over(limits.max_ack_pending, self.max_ack_pending)
            || over(
                limits.inactive_threshold,
                self.inactive_threshold.unwrap_or(0),
            )
    }

    fn check_names(&mut self) -> Result<(), ApiError> {
        let durable = self.durable_name.clone().filter(|s| !s.is_empty());
        let name = self.name.clone().filter(|s| !s.is_empty());
        if let (Some(d), Some(n)) = (&durable, &name) {
            if d != n {
                return Err(bad(
                    10132,
                    "consumer name in subject does not match durable name in request",
                ));
            }
        }
        for n in durable.iter().chain(name.iter()) {
            if !is_valid_name(n) {
                return Err(bad(10103, "durable name can not contain '.', '*', '>'"));
            }
        }
        self.durable_name = durable.clone();
        self.name = name.or(durable);
        Ok(())
    }

    fn check_sizes(&self) -> Result<(), ApiError> {
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > DESCRIPTION_LEN_MAX)
        {
            return Err(bad(
                10107,
                "consumer description is too long, maximum allowed is 4096",
            ));
        }
        let metadata_bytes: usize = self
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if metadata_bytes > METADATA_BYTES_MAX {
            return Err(bad(
                10135,
                "consumer metadata exceeds maximum size of 128KB",
            ));
        }
        Ok(())
    }

    /// nats-server's rules for `ack_policy: flow_control`: a push consumer
    /// with flow control and a 1 s heartbeat (both set for it outside
    /// pedantic mode), no ack wait, backoff or delivery limit.
    fn check_ack_flow_control(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if self.ack_policy != AckPolicy::FlowControl {
            return Ok(());
        }
        if !pedantic {
            self.flow_control = true;
            self.idle_heartbeat = Some(FLOW_CONTROL_HEARTBEAT_NS);
        }
        if self.deliver_subject.as_deref().is_none_or(str::is_empty) {
            return Err(err::ack_fc_requires_push());
        }
        if !self.flow_control {
            return Err(err::ack_fc_requires_fc());
        }
        if self.idle_heartbeat != Some(FLOW_CONTROL_HEARTBEAT_NS) {
            return Err(err::invalid_config(
                "flow control ack policy heartbeat needs to be 1s",
            ));
        }
        if self.max_ack_pending < 0 {
            return Err(err::ack_fc_requires_max_ack_pending());
        }
        if self.ack_wait != 0 || self.backoff.as_ref().is_some_and(|b| !b.is_empty()) {
            return Err(err::ack_fc_requires_no_ack_wait());
        }
        if self.max_deliver > 0 {
            return Err(err::ack_fc_requires_no_max_deliver());
        }
        Ok(())
    }

    fn check_timers(&self) -> Result<(), ApiError> {
        if self.ack_wait < 0 {
            return Err(bad(10183, "consumer ack wait needs to be positive"));
        }
        if self.backoff.iter().flatten().any(|b| *b < 0) {
            return Err(bad(10184, "consumer backoff needs to be positive"));
        }
        if self
            .max_expires
            .is_some_and(|e| e > 0 && e < MAX_EXPIRES_MIN_NS)
        {
            return Err(bad(
                10115,
                "consumer max request expires needs to be >= 1ms",
            ));
        }
        Ok(())
    }

    fn check_filters(&mut self) -> Result<(), ApiError> {
        if self.filter_subject.as_deref() == Some("") {
            self.filter_subject = None;
        }
        if self.filter_subjects.as_ref().is_some_and(|v| v.is_empty()) {
            self.filter_subjects = None;
        }
        if self.filter_subject.is_some() && self.filter_subjects.is_some() {
            return Err(bad(
                10136,
                "consumer cannot have both FilterSubject and FilterSubjects specified",
            ));
        }
        let filters = self.filters();
        for (i, f) in filters.iter().enumerate() {
            if f.is_empty() {
                return Err(bad(
                    10139,
                    "consumer filter in FilterSubjects cannot be empty",
                ));
            }
            if !subject::is_valid(f.as_bytes()) {
                return Err(bad(
                    10093,
                    "consumer filter subject is not a valid subset of the interest subjects",
                ));
            }
            if filters[..i]
                .iter()
                .any(|o| subject::overlaps(o.as_bytes(), f.as_bytes()))
            {
                return Err(bad(10138, "consumer subject filters cannot overlap"));
            }
        }
        Ok(())
    }

    fn check_push_pull(&mut self) -> Result<(), ApiError> {
        if self.deliver_subject.as_deref() == Some("") {
            self.deliver_subject = None;
        }
        if let Some(ds) = &self.deliver_subject {
            if !subject::is_valid_literal(ds.as_bytes()) {
                return Err(bad(10079, "consumer deliver subject has wildcards"));
            }
            if self.max_waiting.is_some_and(|w| w != 0) {
                return Err(bad(10080, "consumer in push mode can not set max waiting"));
            }
            self.max_waiting = None;
            if self.flow_control && self.idle_heartbeat.is_none_or(|h| h <= 0) {
                return Err(bad(
                    10108,
                    "consumer with flow control also needs heartbeats",
                ));
            }
        } else {
            if self.idle_heartbeat.is_some_and(|h| h > 0) {
                return Err(bad(
                    10088,
                    "consumer idle heartbeat requires a push based consumer",
                ));
            }
            if self.flow_control {
                return Err(bad(
                    10089,
                    "consumer flow control requires a push based consumer",
                ));
            }
            if self.rate_limit_bps.is_some_and(|r| r > 0) {
                return Err(bad(
                    10086,
                    "consumer in pull mode can not have rate limit set",
                ));
            }
            if self.max_waiting.is_none_or(|w| w <= 0) {
                self.max_waiting = Some(MAX_WAITING_DEFAULT);
            }
        }
        if self
            .idle_heartbeat
            .is_some_and(|h| h > 0 && h < HEARTBEAT_MIN_NS)
        {
            return Err(bad(10083, "consumer idle heartbeat needs to be >= 100ms"));
        }
        if self.idle_heartbeat == Some(0) {
            self.idle_heartbeat = None;
        }
        Ok(())
    }

    fn check_policies(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        let policy = |p: &str| format!("consumer delivery policy is deliver {p}");
        let has_seq = self.opt_start_seq.is_some_and(|s| s > 0);
        let has_time = self.opt_start_time.is_some();
        let (name, needs) = match self.deliver_policy {
            DeliverPolicy::All => ("all", None),
            DeliverPolicy::Last => ("last", None),
            DeliverPolicy::New => ("new", None),
            DeliverPolicy::LastPerSubject => ("last per subject", None),
            DeliverPolicy::ByStartSequence => ("by start sequence", Some(("sequence", has_seq))),
            DeliverPolicy::ByStartTime => ("by start time", Some(("time", has_time))),
        };
        if let Some((what, false)) = needs {
            return Err(bad(
                10094,
                &format!("{}, but optional start {what} is not set", policy(name)),
            ));
        }
        // nats-server's text, including its doubled word for this case.
        let extra_seq = "start start sequence";
        let also = match self.deliver_policy {
            DeliverPolicy::ByStartSequence => has_time.then_some("start time"),
            DeliverPolicy::ByStartTime => has_seq.then_some(extra_seq),
            _ if has_seq => Some("start sequence"),
            _ if has_time => Some("start time"),
            _ => None,
        };
        if let Some(what) = also {
            return Err(bad(
                10094,
                &format!("{}, but optional {what} is also set", policy(name)),
            ));
        }
        if self.deliver_policy == DeliverPolicy::LastPerSubject && self.filters().is_empty() {
            return Err(bad(10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set"));
        }
        if stream.retention == Retention::Workqueue {
            if !matches!(
                self.ack_policy,
                AckPolicy::Explicit | AckPolicy::FlowControl
            ) {
                return Err(bad(
                    10084,
                    "consumer must be explicit ack on workqueue stream",
                ));
            }
            if self.deliver_policy != DeliverPolicy::All {
                return Err(bad(
                    10101,
                    "consumer must be deliver all on workqueue stream",
                ));
            }
        }
        if self.num_replicas > 1 {
            return Err(err::replicas_not_supported());
        }
        Ok(())
    }

    /// nats-server's rules for what an update may change.
    pub fn check_update(&self, old: &ConsumerConfig) -> Result<(), ApiError> {
        let no = |what: &str| {
            Err(ApiError {
                code: 400,
                err_code: 10012,
                description: format!("consumer configuration update can not change {what}"),
            })
        };
        if self.deliver_policy != old.deliver_policy {
            return no("deliver policy");
        }
        if self.opt_start_seq != old.opt_start_seq || self.opt_start_time != old.opt_start_time {
            return no("start point");
        }
        if self.ack_policy != old.ack_policy {
            return no("ack policy");
        }
        if self.replay_policy != old.replay_policy {
            return no("replay policy");
        }
        if self.is_push() != old.is_push() {
            return no("push/pull mode");
        }
        if self.max_waiting != old.max_waiting {
            return no("max waiting");
        }
        if self.mem_storage != old.mem_storage {
            return no("mem storage");
        }
        Ok(())
    }
}

/// A pause deadline: ns since the epoch, or None for a time before 1970
/// (Go's zero time means no deadline; any past time pauses nothing).
pub fn pause_deadline_ns(text: &str) -> Result<Option<i64>, ApiError> {
    let year = text.get(0..4).and_then(|y| y.parse::<i32>().ok());
    if year.is_some_and(|y| y < 1970) {
        return Ok(None);
    }
    crate::jetstream::time::parse_rfc3339(text)
        .map(Some)
        .ok_or_else(|| err::invalid_json(&format!("parsing time {text:?}: invalid time")))
}

/// nats-server's group names: 1 to 16 of `A-Z a-z 0-9 / _ = -`.
pub fn is_valid_group_name(g: &str) -> bool {
    (1..=GROUP_NAME_LEN_MAX).contains(&g.len())
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_=-".contains(&b))
}

/// `sample_freq` as a percentage ("50" or "50%"); `None` when unset or 0.
pub fn sample_percent(freq: Option<&str>) -> Result<Option<u32>, ApiError> {
    let Some(freq) = freq.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let digits = freq.strip_suffix('%').unwrap_or(freq);
    let fail = |why: String| {
        bad(
            10095,
            &format!("failed to parse consumer sampling configuration: {why}"),
        )
    };
    // Go's strconv.Atoi accepts a sign; a negative value is refused without a parse error.
    let n: i64 = digits
        .parse()
        .map_err(|_| fail(format!("strconv.Atoi: parsing {digits:?}: invalid syntax")))?;
    if n < 0 {
        return Err(fail("<nil>".into()));
    }
    Ok((n > 0).then(|| n.min(100) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_deadlines() {
        // Go's zero time and anything before 1970: no deadline.
        assert_eq!(pause_deadline_ns("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(
            pause_deadline_ns("1970-01-01T00:00:01Z"),
            Ok(Some(1_000_000_000))
        );
        assert!(pause_deadline_ns("garbage").is_err());
        // Past 2262 the ns count would overflow: refused, not wrapped.
        assert!(pause_deadline_ns("9999-01-01T00:00:00Z").is_err());
        let mut cfg = ConsumerConfig {
            pause_until: Some("2099-01-01T01:00:00.5+01:00".into()),
            ..Default::default()
        };
        cfg.normalize_pause().expect("valid");
        assert_eq!(cfg.pause_until.as_deref(), Some("2099-01-01T00:00:00.5Z"));
    }

    #[test]
    fn group_names() {
        for ok in ["A", "a-b_c/d=e", "0123456789abcdef"] {
            assert!(is_valid_group_name(ok), "{ok}");
        }
        for bad in ["", "a.b", "a b", "0123456789abcdefg", "*"] {
            assert!(!is_valid_group_name(bad), "{bad}");
        }
    }

    #[test]
    fn priority_rules() {
        let pinned = ConsumerConfig {
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: Some(vec!["A".into()]),
            ..Default::default()
        };
        let mut cfg = pinned.clone();
        cfg.check_priority(false).expect("valid");
        assert_eq!(cfg.priority_timeout, Some(PINNED_TTL_DEFAULT_NS));
        let mut push = ConsumerConfig {
            deliver_subject: Some("d".into()),
            ..pinned.clone()
        };
        assert_eq!(
            push.check_priority(false).map_err(|e| e.err_code),
            Err(10178)
        );
        let mut negative = ConsumerConfig {
            priority_timeout: Some(-1),
            ..pinned
        };
        assert_eq!(
            negative.check_priority(true).map_err(|e| e.err_code),
            Err(10157)
        );
    }
}
