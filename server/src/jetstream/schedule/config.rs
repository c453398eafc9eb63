//! What `allow_msg_schedules` requires of a stream config (nats-server's rules).

use crate::jetstream::config::{Discard, StreamConfig};
use crate::jetstream::errors::{err, ApiError};

/// Schedules are stored as subject roll-ups, so (outside pedantic mode, as
/// nats-server) allowing them allows roll-ups and purges rather than
/// refusing the config. Copies of other streams cannot schedule.
pub fn check_config(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if !cfg.allow_msg_schedules {
        return Ok(());
    }
    if cfg.allow_msg_counter {
        return Err(err::invalid_config(
            "counter stream cannot use message schedules",
        ));
    }
    if cfg.discard == Discard::New {
        return Err(err::invalid_config(
            "message scheduling cannot use discard new",
        ));
    }
    if cfg.mirror.is_some() {
        return Err(err::mirror_with_schedules());
    }
    if cfg.sources.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(err::source_with_schedules());
    }
    cfg.allow_rollup_hdrs = true;
    cfg.deny_purge = false;
    Ok(())
}

pub fn check_update(old: &StreamConfig, new: &StreamConfig) -> Result<(), ApiError> {
    if old.allow_msg_schedules && !new.allow_msg_schedules {
        return Err(err::invalid_config("message schedules can not be disabled"));
    }
    Ok(())
}
