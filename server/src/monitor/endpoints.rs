//! The endpoints and their JSON, field names as nats-server's.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use super::http::Response;
use crate::logging::rfc3339;
use crate::server::{Server, GO_VERSION, NATS_VERSION};

pub fn route(server: &Arc<Server>, path: &str, query: &str) -> Response {
    match path.trim_end_matches('/') {
        "" => index(),
        "/varz" => Response::json(200, &varz(server)),
        "/healthz" => healthz(server, query),
        "/connz" => Response::json(200, &connz(server)),
        _ => Response {
            status: 404,
            content_type: "text/plain",
            body: b"404 page not found\n".to_vec(),
        },
    }
}

fn index() -> Response {
    let mut body = String::from("<html><body><h1>Nile monitoring</h1><ul>");
    for e in ["varz", "connz", "healthz"] {
        body.push_str(&format!("<li><a href=\"/{e}\">/{e}</a></li>"));
    }
    body.push_str("</ul></body></html>\n");
    Response {
        status: 200,
        content_type: "text/html",
        body: body.into_bytes(),
    }
}

fn healthz(server: &Server, _query: &str) -> Response {
    if server.is_shutting_down() {
        return Response::json(
            503,
            &json!({"status": "unavailable", "status_code": 503, "error": "server shutting down"}),
        );
    }
    Response::json(200, &json!({"status": "ok"}))
}

fn varz(server: &Server) -> serde_json::Value {
    let o = server.options();
    let [in_msgs, in_bytes, out_msgs, out_bytes] = server.traffic();
    let now = SystemTime::now();
    let uptime = now.duration_since(server.start).unwrap_or_default();
    let port = server.client_addr.lock().map_or(0, |a| a.port());
    let http_port = server.http_addr.lock().map_or(0, |a| a.port());
    json!({
        "server_id": server.server_id,
        "server_name": server.server_name,
        "version": NATS_VERSION,
        "proto": 1,
        "go": GO_VERSION,
        "host": o.host,
        "port": port,
        "max_connections": o.connections_max,
        "ping_interval": o.ping_interval.as_nanos() as u64,
        "ping_max": o.pings_out_max,
        "http_host": o.http_host.clone().unwrap_or_else(|| o.host.clone()),
        "http_port": http_port,
        "auth_timeout": o.auth.timeout.unwrap_or(crate::options::AUTH_TIMEOUT_DEFAULT).as_secs_f64(),
        "max_control_line": o.control_line_bytes_max,
        "max_payload": o.payload_bytes_max,
        "max_pending": o.pending_bytes_max,
        "write_deadline": o.write_deadline.as_nanos() as u64,
        "start": rfc3339(server.start),
        "now": rfc3339(now),
        "uptime": format!("{}s", uptime.as_secs()),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "connections": server.clients.lock().len(),
        "total_connections": server.totals.total_connections.load(Ordering::Relaxed),
        "in_msgs": in_msgs,
        "out_msgs": out_msgs,
        "in_bytes": in_bytes,
        "out_bytes": out_bytes,
        "slow_consumers": server.totals.slow_consumers.load(Ordering::Relaxed),
        "subscriptions": server.sublist.count(),
        "jetstream": {"config": {"store_dir": o.jetstream.store_dir, "sync_interval": format!("{:?}", o.jetstream.sync)}},
    })
}

fn connz(server: &Server) -> serde_json::Value {
    let now = SystemTime::now();
    let mut clients: Vec<_> = server.clients.lock().values().cloned().collect();
    clients.sort_by_key(|c| c.cid);
    let conns: Vec<_> = clients
        .iter()
        .map(|c| {
            let meta = c.meta.lock().clone();
            let k = &c.counters;
            json!({
                "cid": c.cid,
                "ip": c.addr.ip().to_string(),
                "port": c.addr.port(),
                "start": rfc3339(c.start),
                "uptime": format!("{}s", now.duration_since(c.start).unwrap_or_default().as_secs()),
                "pending_bytes": c.pending_bytes(),
                "in_msgs": k.in_msgs.load(Ordering::Relaxed),
                "out_msgs": k.out_msgs.load(Ordering::Relaxed),
                "in_bytes": k.in_bytes.load(Ordering::Relaxed),
                "out_bytes": k.out_bytes.load(Ordering::Relaxed),
                "subscriptions": c.subs_count.load(Ordering::Relaxed),
                "name": meta.name,
                "lang": meta.lang,
                "version": meta.version,
            })
        })
        .collect();
    json!({
        "server_id": server.server_id,
        "now": rfc3339(now),
        "num_connections": conns.len(),
        "total": conns.len(),
        "offset": 0,
        "limit": 1024,
        "connections": conns,
    })
}
