//! The limits a JWT login carries (user and account `subs`, `payload`, the
//! account's `conn`), enforced as nats-server enforces them.

use std::time::Duration;

use super::{Connection, Stop};
use crate::auth::{ClientLimits, Identity};
use crate::client::CloseReason;

pub(super) const SUBS_EXCEEDED: &str = "maximum subscriptions exceeded";
const ACCOUNT_CONNS_EXCEEDED: &str = "maximum account active connections exceeded";
/// nats-server sends the `-ERR` of a login allowed no subscriptions and
/// closes the connection this long after.
const SUBS_NONE_CLOSE_WAIT: Duration = Duration::from_millis(20);

impl Connection {
    /// Refuse a login past its account's `conn` limit; otherwise count this
    /// connection in the account at once, under the registry lock, so two
    /// logins racing for the last place cannot both take it.
    pub(super) fn take_account_place(&self, identity: &Identity) -> Result<(), Stop> {
        let (Some(max), Some(account)) = (
            identity.limits.account_conns_max,
            identity.account.as_deref(),
        ) else {
            return Ok(());
        };
        let clients = self.server.clients.lock();
        let cid = self.handle.cid;
        let others = clients.iter().filter(|(id, _)| **id != cid);
        if crate::auth::account_conns_full(others.map(|(_, c)| c), account, max) {
            return Err(Stop::Close(
                CloseReason::MaxAccountConnections,
                Some(ACCOUNT_CONNS_EXCEEDED),
            ));
        }
        self.handle.meta.lock().account = Some(account.to_string());
        Ok(())
    }

    /// The payload limit is the tightest of the server's, the user's and
    /// the account's; a login already at its `subs` limit (none allowed) is
    /// told so and closed shortly after, as nats-server does.
    pub(super) fn apply_limits(&mut self, limits: &ClientLimits) {
        let server_max = self.server.options().payload_bytes_max;
        self.limits.payload_bytes_max = limits
            .payload_bytes_max
            .map_or(server_max, |m| m.min(server_max));
        self.subs_max = limits.subs_max;
        if self.subs_at_limit() {
            self.expires_at = Some(tokio::time::Instant::now() + SUBS_NONE_CLOSE_WAIT);
            self.expiry = (CloseReason::MaxSubscriptions, SUBS_EXCEEDED);
        }
    }

    /// Are the live subscriptions at the `subs` limit? Ones an UNSUB max has
    /// spent no longer count.
    pub(super) fn subs_at_limit(&mut self) -> bool {
        let Some(max) = self.subs_max else {
            return false;
        };
        if self.subs.len() >= max {
            self.subs.retain(|_, s| !s.is_spent());
        }
        self.subs.len() >= max
    }
}
