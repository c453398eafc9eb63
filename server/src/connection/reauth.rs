//! A configuration reload re-applied to a connected client, as nats-server
//! does: the client's CONNECT credentials are checked against the new
//! users; a client no longer allowed in is closed (without an `-ERR`, as
//! nats-server), and subscriptions its new
//! permissions deny are dropped with a `-ERR` naming each.

use super::{Connection, Stop};
use crate::auth::Credentials;
use crate::client::CloseReason;

/// The credentials a client sent in CONNECT, kept to re-check on reload.
#[derive(Debug, Default)]
pub(super) struct SavedCredentials {
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
    nkey: Option<String>,
    sig: Option<String>,
    jwt: Option<String>,
}

impl SavedCredentials {
    pub(super) fn save(c: &Credentials<'_>) -> Self {
        let own = |s: Option<&str>| s.map(str::to_string);
        SavedCredentials {
            user: own(c.user),
            pass: own(c.pass),
            token: own(c.token),
            nkey: own(c.nkey),
            sig: own(c.sig),
            jwt: own(c.jwt),
        }
    }

    fn borrow<'a>(&'a self, nonce: &'a str, ip: std::net::IpAddr) -> Credentials<'a> {
        Credentials {
            user: self.user.as_deref(),
            pass: self.pass.as_deref(),
            token: self.token.as_deref(),
            nkey: self.nkey.as_deref(),
            sig: self.sig.as_deref(),
            jwt: self.jwt.as_deref(),
            nonce,
            client_ip: Some(ip),
        }
    }
}

impl Connection {
    /// Runs after a reload swapped the authenticator.
    pub(super) fn reauthorize(&mut self) -> Result<(), Stop> {
        if !self.connected {
            return Ok(());
        }
        let creds = self.creds.borrow(&self.nonce, self.handle.addr.ip());
        let Some(identity) = self.server.authenticator().authenticate(&creds) else {
            tracing::debug!(cid = self.handle.cid, "not authorized after reload");
            // nats-server closes such a client without an -ERR.
            return Err(Stop::Close(CloseReason::AuthViolation, None));
        };
        *self.handle.responses.lock() = identity
            .perms
            .as_ref()
            .and_then(|p| p.responses)
            .map(crate::client::Responses::new);
        self.perms = identity.perms;
        self.drop_denied_subs();
        Ok(())
    }

    /// Subscriptions made under the old permissions that the new ones deny.
    fn drop_denied_subs(&mut self) {
        let Some(perms) = self.perms.clone() else {
            return;
        };
        let denied: Vec<_> = self
            .subs
            .iter()
            .filter(|(_, s)| !s.is_spent() && !perms.can_subscribe(&s.subject, s.queue.as_deref()))
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in denied {
            let Some(sub) = self.subs.remove(&sid) else {
                continue;
            };
            self.account.sublist.remove(&sub);
            // Unlike at SUB time, nats-server names the sid here.
            let text = format!(
                "Permissions Violation for Subscription to \"{}\" (sid \"{}\")",
                String::from_utf8_lossy(&sub.subject),
                String::from_utf8_lossy(&sid)
            );
            tracing::info!(cid = self.handle.cid, "{text} after reload");
            self.send_err(&text);
        }
        self.handle
            .subs_count
            .store(self.subs.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}
