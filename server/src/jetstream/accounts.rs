//! Which accounts have JetStream, where their streams live, and the answer
//! an account without it gets.
//!
//! nats-server's rule: with no accounts configured, `$G` has JetStream;
//! once accounts are configured only those that enable it (`jetstream:
//! enabled` or a limits block, or JetStream limits in an account JWT) do.
//! Every other account's `$JS.API.>` requests get error 10039.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::errors::err;
use super::{JetStream, JetStreamError};
use crate::account::Account;
use crate::options::AccountJsLimits;
use crate::server::Server;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// `$G` keeps `<store_dir>/streams` (so existing stores still open); each
/// other account has `<store_dir>/accounts/<name>/streams`.
pub fn streams_dir(store_dir: &Path, account: &str) -> PathBuf {
    if account == crate::account::GLOBAL_ACCOUNT {
        store_dir.join("streams")
    } else {
        store_dir.join("accounts").join(account).join("streams")
    }
}

/// The account's JetStream limits, `None` when it has no JetStream.
pub fn limits_of(server: &Server, account: &str) -> Option<AccountJsLimits> {
    let opts = server.options();
    if !opts.jetstream.enabled {
        return None;
    }
    if account == crate::account::GLOBAL_ACCOUNT {
        let alone = opts.accounts.is_empty() && opts.auth.trust.is_none();
        return alone.then(AccountJsLimits::default);
    }
    if let Some(a) = opts.accounts.iter().find(|a| a.name == account) {
        return a.jetstream;
    }
    server.authenticator().jwt_jetstream_limits(account)
}

/// Start a new account's JetStream, or with JetStream on but not for the
/// account, answer its API requests with "not enabled".
pub fn attach(
    server: &Arc<Server>,
    account: &Arc<Account>,
) -> Result<Option<Arc<JetStream>>, JetStreamError> {
    if !server.options().jetstream.enabled {
        return Ok(None);
    }
    let Some(limits) = limits_of(server, &account.name) else {
        let sub = Subscription::new(
            Bytes::from_static(b"$JS.API.>"),
            None,
            Bytes::from_static(b"js-off"),
            SubTarget::Internal(Arc::new(NotEnabled {
                account: Arc::downgrade(account),
                runtime: tokio::runtime::Handle::current(),
            })),
        );
        account.sublist.insert(Arc::new(sub));
        return Ok(None);
    };
    let js = JetStream::start(server, account, limits)?;
    let _ = account.jetstream.set(js.clone());
    Ok(Some(js))
}

/// Answers an account without JetStream.
struct NotEnabled {
    account: std::sync::Weak<Account>,
    runtime: tokio::runtime::Handle,
}

impl InternalSubscriber for NotEnabled {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let imported = self
            .account
            .upgrade()
            .is_some_and(|a| a.imports_js_api.load(std::sync::atomic::Ordering::Relaxed));
        if imported {
            return false;
        }
        let subject = String::from_utf8_lossy(d.subject);
        let (Some(kind), Some(reply)) = (response_type(&subject), d.reply) else {
            // Pull requests and the like: nobody answers (no-responders).
            return false;
        };
        let mut body = super::api::typed(&kind, serde_json::json!({}));
        body["error"] = serde_json::to_value(err::not_enabled_for_account()).unwrap_or_default();
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let reply = reply.to_vec();
        let account = self.account.clone();
        // Not on the publisher's routing call: it holds the sublist.
        self.runtime.spawn(async move {
            if let Some(a) = account.upgrade() {
                a.publish_internal(&reply, None, &[], &body);
            }
        });
        true
    }
}

/// The `type` of the answer to an API subject: `$JS.API.INFO` is an
/// account info, `$JS.API.STREAM.CREATE.X` a `stream_create_response`.
fn response_type(subject: &str) -> Option<String> {
    let rest = subject.strip_prefix("$JS.API.")?;
    if rest == "INFO" {
        return Some("account_info_response".into());
    }
    let mut t = rest.split('.');
    let (area, op) = (t.next()?, t.next()?);
    if !matches!(area, "STREAM" | "CONSUMER") || op == "MSG" && area == "CONSUMER" {
        return None;
    }
    Some(format!(
        "{}_{}_response",
        area.to_ascii_lowercase(),
        op.to_ascii_lowercase()
    ))
}
