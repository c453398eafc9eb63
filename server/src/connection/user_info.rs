//! `$SYS.REQ.USER.INFO`: a client asks who it is logged in as (user,
//! account, permissions). nats-server answers it for every account, so
//! the connection answers it itself, into its own account.

use super::Connection;

pub(super) const SUBJECT: &[u8] = b"$SYS.REQ.USER.INFO";

impl Connection {
    pub(super) fn user_info(&mut self, reply: &[u8]) {
        let (user, label) = {
            let meta = self.handle.meta.lock();
            (meta.user.clone().unwrap_or_default(), meta.account.clone())
        };
        let account = label.unwrap_or_else(|| self.account.name.clone());
        let mut data = serde_json::json!({
            "user": user,
            "account": account,
            "account_name": account,
        });
        if let Some(perms) = &self.perms {
            data["permissions"] = perms.to_json();
        }
        let opts = self.server.options();
        let body = serde_json::json!({
            "server": {
                "name": self.server.server_name,
                "host": opts.host,
                "id": self.server.server_id,
                "ver": crate::server::NATS_VERSION,
                "jetstream": opts.jetstream.enabled,
                "time": crate::logging::rfc3339_ns(crate::jetstream::stream::now_ns()),
            },
            "data": data,
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        self.account.publish_internal(reply, None, &[], &body);
    }
}
