//! `/routez`, `/gatewayz`, `/leafz` and `/accountz` as a standalone
//! nats-server answers them: Nile has no routes, gateways or leaf nodes, but
//! dashboards and exporters poll these and expect JSON, not a 404.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::logging::rfc3339;
use crate::server::Server;

pub fn routez(server: &Server) -> Value {
    json!({
        "server_id": server.server_id,
        "server_name": server.server_name,
        "now": rfc3339(SystemTime::now()),
        "num_routes": 0,
        "routes": [],
    })
}

pub fn gatewayz(server: &Server) -> Value {
    json!({
        "server_id": server.server_id,
        "now": rfc3339(SystemTime::now()),
        "outbound_gateways": {},
        "inbound_gateways": {},
    })
}

pub fn leafz(server: &Server) -> Value {
    json!({
        "server_id": server.server_id,
        "now": rfc3339(SystemTime::now()),
        "leafnodes": 0,
        "leafs": [],
    })
}

/// The global account plus every account named by a configured user.
pub fn accountz(server: &Server) -> Value {
    let o = server.options();
    let mut accounts: BTreeSet<String> = o
        .auth
        .users
        .iter()
        .filter_map(|u| u.account.clone())
        .collect();
    // Configured accounts without users, and JWT accounts once used.
    accounts.extend(o.accounts.iter().map(|a| a.name.clone()));
    accounts.extend(server.accounts.all().iter().map(|a| a.name.clone()));
    let mut v = json!({
        "server_id": server.server_id,
        "now": rfc3339(SystemTime::now()),
    });
    if let Some(sys) = super::sys::system_account_name(server) {
        v["system_account"] = sys.into();
    }
    v["accounts"] = json!(accounts);
    v
}
