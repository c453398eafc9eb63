//! Routing a request to its endpoint; `/`, `/healthz` and the shared response
//! rules: JSON pretty-printed as nats-server, `callback=` JSONP, 400 with a
//! plain-text message for a bad parameter, 404 for an unknown path.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::http::Response;
use super::query::{BadParam, Query};
use super::{connz, jsz, metrics, standalone, subsz, varz};
use crate::server::Server;

/// Paths served, as listed on `/` and counted in `http_req_stats`.
const ENDPOINTS: [(&str, &str); 11] = [
    ("/varz", "General"),
    ("/jsz", "JetStream"),
    ("/connz", "Connections"),
    ("/accountz", "Accounts"),
    ("/subsz", "Subscriptions"),
    ("/routez", "Routes"),
    ("/leafz", "LeafNodes"),
    ("/gatewayz", "Gateways"),
    ("/healthz", "Health Probe"),
    ("/metrics", "Prometheus Metrics"),
    ("/", "Index"),
];

pub fn route(server: &Arc<Server>, path: &str, raw_query: &str) -> Response {
    let q = Query::parse(raw_query);
    let path = match path {
        "/" => "/",
        p => p.trim_end_matches('/'),
    };
    let path = if path == "/subscriptionsz" {
        "/subsz"
    } else {
        path
    };
    let Some(&(known, _)) = ENDPOINTS.iter().find(|(p, _)| *p == path) else {
        return Response::text(404, "404 page not found\n");
    };
    server.monitor.count_request(known);
    serve(server, known, &q)
}

/// The answer for a known endpoint path, not counted in `http_req_stats`
/// (the system account's requests use it too).
pub fn serve(server: &Arc<Server>, known: &str, q: &Query) -> Response {
    let result = match known {
        "/" => Ok(index()),
        "/varz" => Ok(json_response(q, &varz::varz(server))),
        "/connz" => connz::connz(server, q).map(|c| json_response(q, &c)),
        "/subsz" => subsz::subsz(server, q).map(|s| json_response(q, &s)),
        "/jsz" => jsz::jsz(server, q).map(|j| json_response(q, &j)),
        "/healthz" => healthz(server, q),
        "/routez" => Ok(json_response(q, &standalone::routez(server))),
        "/gatewayz" => Ok(json_response(q, &standalone::gatewayz(server))),
        "/leafz" => Ok(json_response(q, &standalone::leafz(server))),
        "/accountz" => Ok(json_response(q, &standalone::accountz(server))),
        "/metrics" => Ok(Response {
            status: 200,
            content_type: metrics::CONTENT_TYPE,
            body: metrics::render(server).into_bytes(),
        }),
        _ => return Response::text(404, "404 page not found\n"),
    };
    result.unwrap_or_else(|BadParam(msg)| Response::text(400, &msg))
}

/// 200 with pretty JSON, or `callback(json)` when the caller asks for JSONP.
fn json_response(q: &Query, value: &impl Serialize) -> Response {
    let mut r = Response::json(200, value);
    let callback = q.get("callback");
    if !callback.is_empty() {
        let mut body = Vec::with_capacity(r.body.len() + callback.len() + 2);
        body.extend_from_slice(callback.as_bytes());
        body.push(b'(');
        body.extend_from_slice(&r.body);
        body.push(b')');
        r.body = body;
        r.content_type = "application/javascript";
    }
    r
}

fn index() -> Response {
    let mut body = String::from(
        "<html lang=\"en\">\n<head><title>Nile monitoring</title></head>\n<body>\n<h1>Nile</h1>\n",
    );
    for (path, title) in ENDPOINTS.iter().filter(|(p, _)| *p != "/") {
        body.push_str(&format!(
            "<a href=.{path}>{title} <code>{path}</code></a><br/>\n"
        ));
    }
    body.push_str("</body>\n</html>\n");
    Response {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
    }
}

/// 200 `{"status":"ok"}` when ready; 503 with `status` and `error`
/// otherwise (nats-server 2.15.1 leaves `status_code` out over HTTP: the
/// status line has it). Both `js-enabled-only` and `js-server-only` still
/// want JetStream running when configured, and skip the per-stream check
/// (a standalone nats-server has no meta group for `js-server-only` to ask).
fn healthz(server: &Server, q: &Query) -> Result<Response, BadParam> {
    let js_enabled_only = q.bool("js-enabled-only")?;
    let js_server_only = q.bool("js-server-only")?;
    // Validated as nats-server does; the answer is the same without it.
    q.bool("details")?;
    let unavailable = |error: String| {
        Ok(Response::json_compact(
            503,
            &json!({"status": "unavailable", "error": error}),
        ))
    };
    if server.is_shutting_down() {
        return unavailable("server shutting down".into());
    }
    if server.client_addr.lock().is_none() {
        return unavailable("server not ready for connections".into());
    }
    if server.options().jetstream.enabled {
        match server.monitor.jetstream() {
            // Started (it opens every stream first) but reports no details.
            None if server.jetstream.get().is_some() => {}
            // nats-server's JSNotEnabledErr text.
            None => return unavailable("JetStream not enabled (10076)".into()),
            Some(_) if !js_enabled_only && !js_server_only => {
                for js in super::jsz::sources(server) {
                    if let Err(e) = js.health() {
                        return unavailable(e);
                    }
                }
            }
            Some(_) => {}
        }
    }
    Ok(Response::json_compact(200, &json!({"status": "ok"})))
}
