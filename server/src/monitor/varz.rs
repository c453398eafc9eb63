//! `/varz`: identity, limits, uptime, process and traffic totals, JetStream.
//! Field names and order as nats-server 2.15's `Varz`; cluster, gateway,
//! leaf, mqtt and websocket are empty objects as on a standalone server.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::jsz::{self, JetStreamConfigJson, JetStreamStatsJson};
use super::{procstat, uptime};
use crate::logging::rfc3339;
use crate::options::{Options, AUTH_TIMEOUT_DEFAULT};
use crate::server::{Server, GO_VERSION, NATS_VERSION};

#[derive(Serialize)]
pub struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u32,
    go: &'static str,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    max_connections: usize,
    ping_interval: u64,
    ping_max: u32,
    http_host: String,
    http_port: u16,
    http_base_path: &'static str,
    https_port: u16,
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: Empty,
    gateway: Empty,
    leaf: Empty,
    mqtt: Empty,
    websocket: Empty,
    jetstream: JetStreamVarz,
    tls_timeout: f64,
    write_deadline: u64,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u32,
    remotes: u32,
    leafnodes: u32,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<&'static str, u64>,
    config_load_time: String,
    config_digest: &'static str,
    slow_consumer_stats: PerKind,
    stale_connection_stats: PerKind,
}

#[derive(Serialize)]
struct Empty {}

/// Counts by connection kind; only clients exist in Nile.
#[derive(Serialize)]
struct PerKind {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

impl PerKind {
    fn clients(n: u64) -> Self {
        PerKind {
            clients: n,
            routes: 0,
            gateways: 0,
            leafs: 0,
        }
    }
}

/// `{}` when JetStream is off, as nats-server.
#[derive(Serialize, Default)]
struct JetStreamVarz {
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<JetStreamConfigJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<JetStreamStatsJson>,
}

/// The configured http host, as nats-server shows it (the client host if unset).
pub fn http_host(o: &Options) -> String {
    o.http_host.clone().unwrap_or_else(|| o.host.clone())
}

pub fn varz(server: &Server) -> Varz {
    let o = server.options();
    let [in_msgs, in_bytes, out_msgs, out_bytes] = server.traffic();
    let now = SystemTime::now();
    let port = server.client_addr.lock().map_or(0, |a| a.port());
    let http_port = server.http_addr.lock().map_or(0, |a| a.port());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slow = server.totals.slow_consumers.load(Ordering::Relaxed);
    let stale = server.monitor.stale_connections();
    let jetstream = if o.jetstream.enabled {
        let snap = jsz::snapshot(server, &Default::default());
        JetStreamVarz {
            config: Some(jsz::config_json(&o, &snap)),
            stats: Some(jsz::stats_json(&snap)),
        }
    } else {
        JetStreamVarz::default()
    };
    Varz {
        server_id: server.server_id.clone(),
        server_name: server.server_name.clone(),
        version: NATS_VERSION,
        proto: 1,
        go: GO_VERSION,
        host: o.host.clone(),
        port,
        auth_required: server.authenticator().required(),
        max_connections: o.connections_max,
        ping_interval: o.ping_interval.as_nanos() as u64,
        ping_max: o.pings_out_max,
        http_host: http_host(&o),
        http_port,
        http_base_path: "",
        https_port: 0,
        auth_timeout: o.auth.timeout.unwrap_or(AUTH_TIMEOUT_DEFAULT).as_secs_f64(),
        max_control_line: o.control_line_bytes_max,
        max_payload: o.payload_bytes_max,
        max_pending: o.pending_bytes_max,
        cluster: Empty {},
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream,
        // nats-server's TLS_TIMEOUT default, shown even without TLS.
        tls_timeout: 2.0,
        write_deadline: o.write_deadline.as_nanos() as u64,
        start: rfc3339(server.start),
        now: rfc3339(now),
        uptime: uptime(now.duration_since(server.start).unwrap_or_default()),
        mem: procstat::rss_bytes(),
        cores,
        gomaxprocs: cores,
        cpu: server.monitor.cpu.percent(),
        connections: server.clients.lock().len(),
        total_connections: server.totals.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs,
        in_bytes,
        in_client_msgs: in_msgs,
        in_client_bytes: in_bytes,
        out_msgs,
        out_bytes,
        out_client_msgs: out_msgs,
        out_client_bytes: out_bytes,
        slow_consumers: slow,
        stale_connections: stale,
        subscriptions: server.accounts.subs_count(),
        http_req_stats: server.monitor.http_requests(),
        config_load_time: rfc3339(server.monitor.config_load_time()),
        config_digest: "",
        slow_consumer_stats: PerKind::clients(slow),
        stale_connection_stats: PerKind::clients(stale),
    }
}
