//! Every JetStream API error Nile returns, in one table: HTTP-like `code`,
//! `err_code` and nats-server's description.

use serde::Serialize;

/// The error object inside an API response or PubAck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl ApiError {
    fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }
}

/// Constructors named after nats-server's `errors.json` identifiers.
pub mod err {
    use super::ApiError;

    pub fn bad_request() -> ApiError {
        ApiError::new(400, 10003, "bad request")
    }
    pub fn invalid_json(detail: &str) -> ApiError {
        ApiError::new(400, 10025, format!("invalid JSON: {detail}"))
    }
    pub fn not_enabled_for_account() -> ApiError {
        ApiError::new(503, 10039, "JetStream not enabled for account")
    }
    pub fn stream_not_found() -> ApiError {
        ApiError::new(404, 10059, "stream not found")
    }
    pub fn consumer_not_found() -> ApiError {
        ApiError::new(404, 10014, "consumer not found")
    }
    pub fn no_message_found() -> ApiError {
        ApiError::new(404, 10037, "no message found")
    }
    pub fn stream_name_exists() -> ApiError {
        ApiError::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_name_mismatch() -> ApiError {
        ApiError::new(400, 10056, "stream name in subject does not match request")
    }
    pub fn subjects_overlap() -> ApiError {
        ApiError::new(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn invalid_config(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10052, text)
    }
    pub fn stream_transform_invalid(text: impl Into<String>) -> ApiError {
        ApiError::new(400, 10156, format!("stream transform: {}", text.into()))
    }
    pub fn mirror_immutable() -> ApiError {
        ApiError::new(400, 10055, "stream mirror configuration can not be updated")
    }
    pub fn replicas_not_supported() -> ApiError {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn msg_ttl_invalid() -> ApiError {
        ApiError::new(400, 10165, "invalid per-message TTL")
    }
    pub fn msg_ttl_disabled() -> ApiError {
        ApiError::new(400, 10166, "per-message TTL is disabled")
    }
    pub fn expected_stream_mismatch() -> ApiError {
        ApiError::new(400, 10060, "expected stream does not match")
    }
    pub fn wrong_last_sequence(seq: u64) -> ApiError {
        ApiError::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn wrong_last_msg_id(id: &str) -> ApiError {
        ApiError::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn store_failed(text: impl Into<String>) -> ApiError {
        ApiError::new(503, 10077, text)
    }
    pub fn message_too_big() -> ApiError {
        ApiError::new(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn headers_too_big() -> ApiError {
        ApiError::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }
    pub fn sealed() -> ApiError {
        ApiError::new(400, 10109, "invalid operation on sealed stream")
    }
    pub fn rollup_failed(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10111, text)
    }
    pub fn max_streams() -> ApiError {
        ApiError::new(400, 10027, "maximum number of streams reached")
    }
    pub fn consumer_limits_violated(names: &str) -> ApiError {
        ApiError::new(
            500,
            10069,
            format!("change to limits violates consumers: {names}"),
        )
    }
    pub fn max_bytes_required() -> ApiError {
        ApiError::new(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }
    pub fn max_bytes_over_account() -> ApiError {
        ApiError::new(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }
    pub fn max_consumers() -> ApiError {
        ApiError::new(400, 10026, "maximum consumers limit reached")
    }
    pub fn insufficient_resources() -> ApiError {
        ApiError::new(503, 10023, "insufficient resources")
    }
    pub fn account_resources_exceeded() -> ApiError {
        ApiError::new(400, 10002, "resource limits exceeded for account")
    }
    pub fn storage_resources_exceeded() -> ApiError {
        ApiError::new(500, 10047, "insufficient storage resources available")
    }
    pub fn memory_resources_exceeded() -> ApiError {
        ApiError::new(500, 10028, "insufficient memory resources available")
    }
    /// nats-server reports a denied delete as a failed delete (10057).
    pub fn stream_delete_denied() -> ApiError {
        ApiError::new(500, 10057, "message delete not permitted")
    }
    pub fn stream_purge_denied() -> ApiError {
        ApiError::new(500, 10110, "stream purge not permitted")
    }
    pub fn sequence_not_found(seq: u64) -> ApiError {
        ApiError::new(400, 10043, format!("sequence {seq} not found"))
    }
    pub fn name_contains_path_separators() -> ApiError {
        ApiError::new(400, 10128, "Stream name can not contain path separators")
    }
    pub fn stream_msg_delete_failed(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10057, text)
    }
    pub fn bad_request_text(text: impl Into<String>) -> ApiError {
        ApiError::new(400, 10003, text)
    }
    /// ADR-44: the request's `Nats-Required-Api-Level` is above the server's.
    pub fn required_api_level() -> ApiError {
        ApiError::new(412, 10185, "JetStream minimum api level required")
    }
    // Message counters (ADR-49, nats-server 2.12).
    pub fn msg_counter_disabled() -> ApiError {
        ApiError::new(400, 10168, "message counters is disabled")
    }
    pub fn msg_counter_incr_missing() -> ApiError {
        ApiError::new(400, 10169, "message counter increment is missing")
    }
    pub fn msg_counter_has_payload() -> ApiError {
        ApiError::new(400, 10170, "message counter has payload")
    }
    pub fn msg_counter_incr_invalid() -> ApiError {
        ApiError::new(400, 10171, "message counter increment is invalid")
    }
    pub fn msg_counter_broken() -> ApiError {
        ApiError::new(400, 10172, "message counter is broken")
    }
    pub fn mirror_with_counters() -> ApiError {
        ApiError::new(400, 10173, "stream mirrors can not also calculate counters")
    }
    // Atomic batch publish (ADR-50, nats-server 2.12).
    pub fn atomic_publish_disabled() -> ApiError {
        ApiError::new(400, 10174, "atomic publish is disabled")
    }
    pub fn atomic_publish_missing_seq() -> ApiError {
        ApiError::new(400, 10175, "atomic publish sequence is missing")
    }
    pub fn atomic_publish_incomplete() -> ApiError {
        ApiError::new(400, 10176, "atomic publish batch is incomplete")
    }
    pub fn atomic_publish_unsupported_header(header: &str) -> ApiError {
        ApiError::new(
            400,
            10177,
            format!("atomic publish unsupported header used: {header}"),
        )
    }
    pub fn atomic_publish_invalid_id() -> ApiError {
        ApiError::new(400, 10179, "atomic publish batch ID is invalid")
    }
    pub fn atomic_publish_too_large(msgs_max: u64) -> ApiError {
        ApiError::new(
            400,
            10199,
            format!("atomic publish batch is too large: {msgs_max}"),
        )
    }
    pub fn atomic_publish_invalid_commit() -> ApiError {
        ApiError::new(400, 10200, "atomic publish batch commit is invalid")
    }
    pub fn atomic_publish_duplicate_msg_id() -> ApiError {
        ApiError::new(
            400,
            10201,
            "atomic publish batch contains duplicate message id",
        )
    }
    pub fn atomic_publish_too_many_inflight() -> ApiError {
        ApiError::new(429, 10210, "atomic publish too many inflight")
    }
    pub fn mirror_with_atomic_publish() -> ApiError {
        ApiError::new(
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        )
    }
    // Fast-ingest batch publish (ADR-50, nats-server 2.14).
    pub fn fast_publish_disabled() -> ApiError {
        ApiError::new(400, 10205, "batch publish is disabled")
    }
    pub fn fast_publish_invalid_pattern() -> ApiError {
        ApiError::new(400, 10206, "batch publish pattern is invalid")
    }
    pub fn fast_publish_invalid_id() -> ApiError {
        ApiError::new(400, 10207, "batch publish ID is invalid")
    }
    pub fn fast_publish_unknown_id() -> ApiError {
        ApiError::new(400, 10208, "batch publish ID unknown")
    }
    pub fn mirror_with_fast_publish() -> ApiError {
        ApiError::new(
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        )
    }
    pub fn fast_publish_too_many_inflight() -> ApiError {
        ApiError::new(429, 10211, "batch publish too many inflight")
    }
    /// The last-subject-sequence check of a batch message on a subject an
    /// earlier message of the same batch writes.
    pub fn wrong_last_sequence_constant() -> ApiError {
        ApiError::new(400, 10164, "wrong last sequence")
    }
    pub fn stream_general(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10051, text)
    }
    pub fn storage_failed(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10077, text)
    }

    // Mirrors and sources (nats-server's JSMirror* / JSSource* errors).
    pub fn mirror_with_subjects() -> ApiError {
        ApiError::new(400, 10034, "stream mirrors can not contain subjects")
    }
    pub fn mirror_with_sources() -> ApiError {
        ApiError::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }
    pub fn mirror_with_first_seq() -> ApiError {
        ApiError::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }
    pub fn mirror_multiple_filters() -> ApiError {
        ApiError::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }
    pub fn mirror_invalid_stream_name() -> ApiError {
        ApiError::new(400, 10142, "mirrored stream name is invalid")
    }
    pub fn mirror_invalid_subject_filter(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10151, format!("mirror transform source: {detail}"))
    }
    pub fn mirror_invalid_transform_dest(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10154, format!("mirror transform: {detail}"))
    }
    pub fn mirror_overlapping_filters() -> ApiError {
        ApiError::new(400, 10152, "mirror subject filters can not overlap")
    }
    pub fn mirror_max_msg_size() -> ApiError {
        ApiError::new(
            400,
            10030,
            "stream mirror must have max message size >= source",
        )
    }
    pub fn source_duplicate() -> ApiError {
        ApiError::new(400, 10140, "duplicate source configuration detected")
    }
    pub fn source_invalid_stream_name() -> ApiError {
        ApiError::new(400, 10141, "sourced stream name is invalid")
    }
    pub fn source_multiple_filters() -> ApiError {
        ApiError::new(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }
    pub fn source_invalid_subject_filter(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10145, format!("source transform source: {detail}"))
    }
    pub fn source_invalid_transform_dest(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10146, format!("source transform: {detail}"))
    }
    pub fn source_overlapping_filters() -> ApiError {
        ApiError::new(400, 10147, "source filters can not overlap")
    }
    pub fn source_max_msg_size() -> ApiError {
        ApiError::new(
            400,
            10046,
            "stream source must have max message size >= target",
        )
    }
    /// nats-server's JSStreamCreateErrF wrapping a bad filter subject.
    pub fn stream_create(text: impl Into<String>) -> ApiError {
        ApiError::new(500, 10049, text)
    }
    pub fn external_api_overlap(prefix: &str) -> ApiError {
        ApiError::new(
            400,
            10021,
            format!("stream external api prefix {prefix} must not overlap with $JS.API"),
        )
    }
    pub fn external_delivery_invalid(prefix: &str) -> ApiError {
        ApiError::new(
            400,
            10024,
            format!("stream external delivery prefix {prefix} must not contain wildcards"),
        )
    }
    pub fn priority_policy_without_group() -> ApiError {
        ApiError::new(
            400,
            10159,
            "Setting PriorityPolicy requires at least one PriorityGroup to be set",
        )
    }
    pub fn invalid_priority_group() -> ApiError {
        ApiError::new(
            400,
            10160,
            "Provided priority group does not exist for this consumer",
        )
    }
    pub fn empty_group_name() -> ApiError {
        ApiError::new(400, 10161, "Group name cannot be an empty string")
    }
    pub fn invalid_group_name() -> ApiError {
        ApiError::new(
            400,
            10162,
            "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
        )
    }
    pub fn push_with_priority_group() -> ApiError {
        ApiError::new(
            400,
            10178,
            "priority groups can not be used with push consumers",
        )
    }
    pub fn priority_groups_without_policy() -> ApiError {
        ApiError::new(
            400,
            10196,
            "consumer can not have priority groups when policy is none",
        )
    }
    pub fn pinned_ttl_without_policy() -> ApiError {
        ApiError::new(
            400,
            10197,
            "PinnedTTL cannot be set when PriorityPolicy is none",
        )
    }
    pub fn consumer_store_failed(text: &str) -> ApiError {
        ApiError::new(
            500,
            10104,
            format!("error creating store for consumer: {text}"),
        )
    }
    /// CONSUMER.RESET to a sequence the consumer's deliver policy rules out.
    pub fn invalid_reset(why: &str) -> ApiError {
        ApiError::new(400, 10204, format!("invalid reset: {why}"))
    }
    pub fn mirror_with_schedules() -> ApiError {
        ApiError::new(400, 10186, "stream mirrors can not also schedule messages")
    }
    pub fn source_with_schedules() -> ApiError {
        ApiError::new(400, 10187, "stream source can not also schedule messages")
    }
    pub fn schedules_disabled() -> ApiError {
        ApiError::new(400, 10188, "message schedules is disabled")
    }
    pub fn schedules_pattern_invalid() -> ApiError {
        ApiError::new(400, 10189, "message schedules pattern is invalid")
    }
    pub fn schedules_target_invalid() -> ApiError {
        ApiError::new(400, 10190, "message schedules target is invalid")
    }
    pub fn schedules_ttl_invalid() -> ApiError {
        ApiError::new(400, 10191, "message schedules invalid per-message TTL")
    }
    pub fn schedules_rollup_invalid() -> ApiError {
        ApiError::new(400, 10192, "message schedules invalid rollup")
    }
    pub fn schedules_source_invalid() -> ApiError {
        ApiError::new(400, 10203, "message schedules source is invalid")
    }
    pub fn schedules_scheduler_invalid() -> ApiError {
        ApiError::new(400, 10212, "message schedules invalid scheduler")
    }
    pub fn schedules_time_zone_invalid() -> ApiError {
        ApiError::new(400, 10223, "message schedules time zone is invalid")
    }
    pub fn ack_fc_requires_push() -> ApiError {
        ApiError::new(
            400,
            10218,
            "flow control ack policy requires a push based consumer",
        )
    }
    pub fn ack_fc_requires_fc() -> ApiError {
        ApiError::new(400, 10219, "flow control ack policy requires flow control")
    }
    pub fn ack_fc_requires_max_ack_pending() -> ApiError {
        ApiError::new(
            400,
            10220,
            "flow control ack policy requires max ack pending",
        )
    }
    pub fn ack_fc_requires_no_ack_wait() -> ApiError {
        ApiError::new(
            400,
            10221,
            "flow control ack policy requires unset ack wait",
        )
    }
    pub fn ack_fc_requires_no_max_deliver() -> ApiError {
        ApiError::new(
            400,
            10222,
            "flow control ack policy requires unset max deliver",
        )
    }
    pub fn mirror_consumer_invalid() -> ApiError {
        ApiError::new(400, 10213, "stream mirror consumer config is invalid")
    }
    pub fn source_consumer_invalid() -> ApiError {
        ApiError::new(400, 10215, "stream source consumer config is invalid")
    }
}
