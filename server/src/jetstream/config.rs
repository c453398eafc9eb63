//! StreamConfig as clients send it and as nats-server echoes it back:
//! every field present, limits normalised (-1 = unlimited), durations in ns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::{err, ApiError};
use crate::subject;

/// nats-server's default `duplicate_window`: two minutes.
pub const DUPLICATE_WINDOW_DEFAULT_NS: i64 = 120_000_000_000;
/// Names longer than this are refused (nats-server's `JSMaxNameLen`).
pub const NAME_BYTES_MAX: usize = 255;
/// nats-server's `JSMaxDescriptionLen`.
pub const DESCRIPTION_BYTES_MAX: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

/// `persist_mode` (2.12): `async` lets nats-server ack before its write is
/// flushed. Nile acks only after fdatasync whatever the mode (see
/// docs/compatibility.md); the setting is kept and echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PersistMode {
    #[default]
    Default,
    Async,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConsumerLimits {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub inactive_threshold: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_ack_pending: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Republish {
    #[serde(default)]
    pub src: String,
    pub dest: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

/// `subject_transform`: stored messages get `src` → `dest` applied to
/// their subject. An empty `src` means `>`; it is echoed as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransformConfig {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub dest: String,
}

/// The stream configuration. Field order is nats-server's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Absent for mirrors and sources-only streams, as nats-server omits it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    pub discard: Discard,
    pub storage: Storage,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_ack: bool,
    /// 0 (absent) for mirrors and sourcing streams unless set.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<serde_json::Value>>,
    pub compression: Compression,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransformConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<Republish>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: ConsumerLimits,
    /// `Nats-TTL` on published messages is honoured (2.11, ADR-43).
    pub allow_msg_ttl: bool,
    /// ns; when the last message on a subject expires, a marker with this
    /// TTL takes its place (0: no markers).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    /// Message counters (2.12, ADR-49; see `counter`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_msg_counter: bool,
    /// Atomic batch publish (2.12, ADR-50; see `stream::batch`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_atomic: bool,
    /// Message schedules (2.12, ADR-51; see `schedule`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_msg_schedules: bool,
    /// Omitted when `default`, as nats-server does.
    #[serde(skip_serializing_if = "is_default_persist")]
    pub persist_mode: PersistMode,
    /// Fast-ingest batch publish (2.14, ADR-50; see `stream::fast_batch`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_batched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

fn is_default_persist(m: &PersistMode) -> bool {
    *m == PersistMode::Default
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            name: String::new(),
            description: None,
            subjects: Vec::new(),
            retention: Retention::Limits,
            max_consumers: -1,
            max_msgs: -1,
            max_bytes: -1,
            max_age: 0,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard: Discard::Old,
            storage: Storage::File,
            num_replicas: 0,
            no_ack: false,
            duplicate_window: 0,
            placement: None,
            mirror: None,
            sources: None,
            compression: Compression::None,
            first_seq: 0,
            subject_transform: None,
            republish: None,
            allow_direct: false,
            mirror_direct: false,
            discard_new_per_subject: false,
            sealed: false,
            deny_delete: false,
            deny_purge: false,
            allow_rollup_hdrs: false,
            consumer_limits: ConsumerLimits::default(),
            allow_msg_ttl: false,
            subject_delete_marker_ttl: 0,
            allow_msg_counter: false,
            allow_atomic: false,
            allow_msg_schedules: false,
            persist_mode: PersistMode::Default,
            allow_batched: false,
            metadata: None,
        }
    }
}

/// A stream or consumer name: nats-server refuses `.`, `*`, `>`, path
/// separators and whitespace.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && !name.chars().any(|c| {
            matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control()
        })
}

fn unlimited(v: i64) -> i64 {
    if v <= 0 {
        -1
    } else {
        v
    }
}

impl StreamConfig {
    /// Fill defaults and check the rules nats-server checks on create and update.
    pub fn normalize(mut self) -> Result<StreamConfig, ApiError> {
        if self.name.len() > NAME_BYTES_MAX {
            return Err(err::invalid_config(format!(
                "stream name is too long, maximum allowed is {NAME_BYTES_MAX}"
            )));
        }
        if self.name.contains(['/', '\\']) {
            return Err(err::name_contains_path_separators());
        }
        if !is_valid_name(&self.name) {
            return Err(err::invalid_config(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > DESCRIPTION_BYTES_MAX)
        {
            return Err(err::invalid_config(format!(
                "stream description is too long, maximum allowed is {DESCRIPTION_BYTES_MAX}"
            )));
        }
        if self.num_replicas > 5 {
            return Err(err::invalid_config("maximum replicas is 5"));
        }
        if self.num_replicas > 1 {
            return Err(err::replicas_not_supported());
        }
        self.num_replicas = 1;
        if self.max_age < 0 {
            return Err(err::invalid_config("max age can not be negative"));
        }
        if self.max_age != 0 && self.max_age < 100_000_000 {
            return Err(err::invalid_config("max age needs to be >= 100ms"));
        }
        if self.duplicate_window < 0 {
            return Err(err::invalid_config("duplicates window can not be negative"));
        }
        super::mirror::check_config(&mut self)?;
        super::stream::batch::check_config(&self)?;
        super::stream::fast_batch::check_config(&self)?;
        super::counter::check_config(&self)?;
        self.normalize_markers()?;
        super::schedule::config::check_config(&mut self)?;
        self.check_persist_mode()?;
        self.normalize_limits()?;
        self.normalize_subjects()?;
        self.check_flags()?;
        self.check_transforms()?;
        Ok(self)
    }

    /// Subject delete markers need per-message TTLs (the marker has one)
    /// and roll-ups: as nats-server outside pedantic mode, setting them
    /// turns those on rather than refusing the config.
    fn normalize_markers(&mut self) -> Result<(), ApiError> {
        let ttl = self.subject_delete_marker_ttl;
        if ttl < 0 {
            return Err(err::invalid_config(
                "subject delete marker TTL must not be negative",
            ));
        }
        if ttl == 0 {
            return Ok(());
        }
        if self.mirror.is_some() {
            return Err(err::invalid_config(
                "subject delete markers forbidden on mirrors",
            ));
        }
        if ttl < 1_000_000_000 {
            return Err(err::invalid_config(
                "subject delete marker TTL must be at least 1 second",
            ));
        }
        self.allow_msg_ttl = true;
        self.allow_rollup_hdrs = true;
        self.deny_purge = false;
        Ok(())
    }

    fn check_persist_mode(&self) -> Result<(), ApiError> {
        if self.persist_mode != PersistMode::Async {
            return Ok(());
        }
        if self.storage != Storage::File {
            return Err(err::invalid_config(
                "async persist mode is only supported on file storage",
            ));
        }
        if self.allow_atomic {
            return Err(err::invalid_config(
                "async persist mode is not supported with atomic batch publish",
            ));
        }
        Ok(())
    }

    fn normalize_limits(&mut self) -> Result<(), ApiError> {
        self.max_msgs = unlimited(self.max_msgs);
        self.max_bytes = unlimited(self.max_bytes);
        self.max_msgs_per_subject = unlimited(self.max_msgs_per_subject);
        self.max_msg_size = unlimited(self.max_msg_size);
        self.max_consumers = unlimited(self.max_consumers);
        if self.max_msg_size > i64::from(i32::MAX) {
            // nats-server's field is an int32: its JSON decoder refuses this.
            return Err(err::invalid_json(&format!(
                "json: cannot unmarshal number {} into Go struct field StreamConfigRequest.max_msg_size of type int32",
                self.max_msg_size
            )));
        }
        if self.duplicate_window == 0 && super::mirror::is_copy(self) {
            // nats-server gives mirrors and sourcing streams no default window.
        } else if self.duplicate_window == 0 {
            self.duplicate_window = DUPLICATE_WINDOW_DEFAULT_NS;
            if self.max_age != 0 && self.max_age < self.duplicate_window {
                self.duplicate_window = self.max_age;
            }
        } else if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(err::invalid_config(
                "duplicates window can not be larger then max age",
            ));
        } else if self.duplicate_window < 100_000_000 {
            return Err(err::invalid_config(
                "duplicates window needs to be >= 100ms",
            ));
        }
        Ok(())
    }

    fn normalize_subjects(&mut self) -> Result<(), ApiError> {
        if self.subjects.is_empty() && self.mirror.is_none() && self.sources.is_none() {
            self.subjects = vec![self.name.clone()];
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if !subject::is_valid(s.as_bytes()) {
                return Err(err::invalid_config("invalid subject"));
            }
            if let Some(o) = self.subjects[..i]
                .iter()
                .find(|o| subject::overlaps(o.as_bytes(), s.as_bytes()))
            {
                return Err(err::invalid_config(format!(
                    "subject {o:?} overlaps with {s:?}"
                )));
            }
            if !self.no_ack && s == ">" {
                return Err(err::invalid_config(
                    "capturing all subjects requires no-ack to be true",
                ));
            }
            if !self.no_ack && overlaps_api(s) {
                return Err(err::invalid_config(
                    "subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
            if !self.no_ack && overlaps_system_api(s) {
                return Err(err::invalid_config(
                    "subjects that overlap with system api require no-ack to be true",
                ));
            }
        }
        Ok(())
    }

    fn check_flags(&self) -> Result<(), ApiError> {
        if self.mirror_direct && self.mirror.is_none() {
            return Err(err::invalid_config(
                "stream has no mirror but does have mirror direct",
            ));
        }
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(err::invalid_config("roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(err::invalid_config(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(err::invalid_config(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        Ok(())
    }

    fn check_transforms(&self) -> Result<(), ApiError> {
        if let Some(t) = &self.subject_transform {
            super::republish::check_transform(t)?;
        }
        if let Some(rp) = &self.republish {
            super::republish::check_republish(rp, &self.subjects)?;
        }
        Ok(())
    }

    /// What sealing implies, as nats-server rewrites a sealed config: no
    /// expiry, no new messages, no deletes, purges or rollups.
    pub fn seal(&mut self) {
        self.max_age = 0;
        self.discard = Discard::New;
        self.deny_delete = true;
        self.deny_purge = true;
        self.allow_rollup_hdrs = false;
    }

    /// nats-server's rules for what STREAM.UPDATE may change.
    pub fn check_update(&self, old: &StreamConfig) -> Result<(), ApiError> {
        super::counter::check_update(old, self)?;
        super::schedule::config::check_update(old, self)?;
        if old.persist_mode != self.persist_mode {
            return Err(err::invalid_config(
                "stream configuration update can not change persist mode",
            ));
        }
        let no = |what: &str| {
            Err(err::invalid_config(format!(
                "stream configuration update can not change {what}"
            )))
        };
        if self.storage != old.storage {
            return no("storage type");
        }
        if (self.retention == Retention::Workqueue) != (old.retention == Retention::Workqueue)
            && self.retention != old.retention
        {
            return no("retention policy to/from workqueue");
        }
        if old.sealed && !self.sealed {
            return Err(err::invalid_config(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if old.deny_delete && !self.deny_delete {
            return Err(err::invalid_config(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if old.allow_msg_ttl && !self.allow_msg_ttl {
            return Err(err::invalid_config(
                "message TTL status can not be disabled",
            ));
        }
        if old.deny_purge && !self.deny_purge {
            return Err(err::invalid_config(
                "stream configuration update can not cancel deny purge",
            ));
        }
        // Removing the mirror promotes it to a plain stream (nats-server 2.12+);
        // any other change is refused.
        if self.mirror != old.mirror && self.mirror.is_some() {
            return Err(err::mirror_immutable());
        }
        Ok(())
    }
}

/// Streams may not capture JetStream's namespaces unless `no_ack`
/// (nats-server's rule; subjects within `$JS.EVENT.>` are exempt).
fn overlaps_api(s: &str) -> bool {
    ["$JS.>", "$JSC.>", "$NRG.>"]
        .iter()
        .any(|p| subject::overlaps(p.as_bytes(), s.as_bytes()))
        && !subject::is_subset(s.as_bytes(), b"$JS.EVENT.>")
}

/// Nor the system account's, except `$SYS.ACCOUNT.>`.
fn overlaps_system_api(s: &str) -> bool {
    subject::overlaps(b"$SYS.>", s.as_bytes())
        && !subject::is_subset(s.as_bytes(), b"$SYS.ACCOUNT.>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<StreamConfig, ApiError> {
        serde_json::from_str::<StreamConfig>(json)
            .unwrap()
            .normalize()
    }

    #[test]
    fn defaults_match_nats_server() {
        let c = parse(r#"{"name":"S1"}"#).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["subjects"], serde_json::json!(["S1"]));
        assert_eq!(v["max_msgs"], -1);
        assert_eq!(v["duplicate_window"], DUPLICATE_WINDOW_DEFAULT_NS);
        assert_eq!(v["num_replicas"], 1);
        assert_eq!(v["retention"], "limits");
        assert_eq!(v["storage"], "file");
        assert_eq!(v["discard"], "old");
        assert_eq!(v["compression"], "none");
        assert_eq!(v["consumer_limits"], serde_json::json!({}));
    }

    #[test]
    fn duplicate_window_follows_small_max_age() {
        let c = parse(r#"{"name":"S","max_age":1000000000,"max_msgs":0}"#).unwrap();
        assert_eq!(c.duplicate_window, 1_000_000_000);
        assert_eq!(c.max_msgs, -1);
    }

    #[test]
    fn rejections() {
        assert_eq!(
            parse(r#"{"name":"S","max_age":-5}"#)
                .unwrap_err()
                .description,
            "max age can not be negative"
        );
        assert_eq!(
            parse(r#"{"name":"S","num_replicas":3}"#)
                .unwrap_err()
                .err_code,
            10074
        );
        assert_eq!(parse(r#"{"name":"a.b"}"#).unwrap_err().err_code, 10052);
        assert_eq!(
            parse(r#"{"name":"S","subjects":["a","a"]}"#)
                .unwrap_err()
                .err_code,
            10052
        );
        assert_eq!(
            parse(r#"{"name":"S","subjects":["a.*","a.b"]}"#)
                .unwrap_err()
                .err_code,
            10052
        );
        assert_eq!(
            parse(r#"{"name":"S","subjects":["$JS.API.>"]}"#)
                .unwrap_err()
                .err_code,
            10052
        );
        assert!(parse(r#"{"name":"S","deny_purge":true,"allow_rollup_hdrs":true}"#).is_err());
    }

    #[test]
    fn markers_imply_ttl_and_rollups() {
        let c = parse(r#"{"name":"S","subject_delete_marker_ttl":1000000000,"deny_purge":true}"#)
            .unwrap();
        assert!(c.allow_msg_ttl && c.allow_rollup_hdrs && !c.deny_purge);
        let short = parse(r#"{"name":"S","subject_delete_marker_ttl":500000000}"#);
        assert_eq!(
            short.unwrap_err().description,
            "subject delete marker TTL must be at least 1 second"
        );
        let mirror =
            parse(r#"{"name":"S","mirror":{"name":"O"},"subject_delete_marker_ttl":1000000000}"#);
        assert_eq!(
            mirror.unwrap_err().description,
            "subject delete markers forbidden on mirrors"
        );
        let on = parse(r#"{"name":"S","allow_msg_ttl":true}"#).unwrap();
        let off = parse(r#"{"name":"S"}"#).unwrap();
        assert_eq!(
            off.check_update(&on).unwrap_err().description,
            "message TTL status can not be disabled"
        );
        assert!(on.check_update(&off).is_ok());
    }

    #[test]
    fn names() {
        for bad in ["", "a.b", "a*", "a>", "a b", "a/b", "a\\b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_name("ORDERS-1_x"));
    }
}
