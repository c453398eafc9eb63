//! Monitoring over NATS: the system account's `$SYS.REQ.SERVER.PING[.<EP>]`,
//! `$SYS.REQ.SERVER.<id>.<EP>` and `$SYS.REQ.ACCOUNT.<acc>.<EP>` requests
//! (what `nats server ...` and surveyors send), answered with the same
//! documents as the HTTP endpoints inside nats-server's envelope:
//! `{"server": {name, host, id, ver, jetstream, flags, seq, time}, "data": ...}`
//! (`"statsz"` for PING / STATSZ, `"error"` for a bad request).
//!
//! The request body is the endpoint's options as JSON (`{"subscriptions":
//! true}`); it is turned into the HTTP query the endpoint already reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::endpoints;
use crate::account::Account;
use crate::server::Server;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// The account `$SYS.REQ.*` is served in, if any: `system_account`, else a
/// configured account called `$SYS`.
pub fn system_account_name(server: &Server) -> Option<String> {
    let o = server.options();
    if o.no_system_account {
        return None;
    }
    o.system_account.clone().or_else(|| {
        o.accounts
            .iter()
            .any(|a| a.name == "$SYS")
            .then(|| "$SYS".into())
    })
}

/// Installs the request handlers when `account` is the system account.
pub fn attach(server: &Arc<Server>, account: &Arc<Account>) {
    if system_account_name(server).as_deref() != Some(account.name.as_str()) {
        return;
    }
    let handler: Arc<dyn InternalSubscriber> = Arc::new(SysRequests {
        server: Arc::downgrade(server),
        account: Arc::downgrade(account),
        runtime: tokio::runtime::Handle::current(),
    });
    let id = &server.server_id;
    let subjects = [
        "$SYS.REQ.SERVER.PING".to_string(),
        "$SYS.REQ.SERVER.PING.*".to_string(),
        format!("$SYS.REQ.SERVER.{id}.*"),
        "$SYS.REQ.ACCOUNT.*.*".to_string(),
    ];
    for subject in subjects {
        let sub = Subscription::new(
            Bytes::from(subject),
            None,
            Bytes::from_static(b"sys"),
            SubTarget::Internal(handler.clone()),
        );
        account.sublist.insert(Arc::new(sub));
    }
    let _ = server.system_account.set(account.clone());
    tracing::debug!("system account {}: $SYS.REQ requests served", account.name);
}

/// The envelope's `seq`: one per answer or event.
static SEQ: AtomicU64 = AtomicU64::new(0);

fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed) + 1
}

/// The system account, the client's account name and the event's subject,
/// when someone in the system account listens for `$SYS.ACCOUNT.<acc>.<event>`.
fn listener<'a>(
    server: &'a Server,
    account: Option<&str>,
    event: &str,
) -> Option<(&'a Arc<Account>, String, String)> {
    let sys = server.system_account.get()?;
    let acc = account
        .unwrap_or(crate::account::GLOBAL_ACCOUNT)
        .to_string();
    let subject = format!("$SYS.ACCOUNT.{acc}.{event}");
    sys.has_interest(subject.as_bytes())
        .then_some((sys, acc, subject))
}

/// `$SYS.ACCOUNT.<acc>.CONNECT` for a client whose CONNECT was accepted.
pub fn client_connect(server: &Arc<Server>, c: &crate::client::ClientHandle) {
    let meta = c.meta.lock().clone();
    let Some((sys, acc, subject)) = listener(server, meta.account.as_deref(), "CONNECT") else {
        return;
    };
    let peer = Peer {
        cid: c.cid,
        addr: c.addr,
        start: c.start,
        acc: &acc,
        user: meta.user.as_deref(),
        name: &meta.name,
        lang: &meta.lang,
        version: &meta.version,
    };
    let body = json!({
        "type": "io.nats.server.advisory.v1.client_connect",
        "id": crate::jetstream::consumer::nuid(),
        "timestamp": crate::logging::rfc3339_ns(crate::jetstream::stream::now_ns()),
        "server": server_info(server, ident(server), next_seq()),
        "client": peer.json(None),
    });
    sys.publish_internal(subject.as_bytes(), None, &[], body.to_string().as_bytes());
}

/// `$SYS.ACCOUNT.<acc>.DISCONNECT` for a client that had connected.
pub fn client_disconnect(server: &Server, c: &super::ClosedConn) {
    let Some((sys, acc, subject)) = listener(server, c.account.as_deref(), "DISCONNECT") else {
        return;
    };
    let peer = Peer {
        cid: c.cid,
        addr: c.addr,
        start: c.start,
        acc: &acc,
        user: c.user.as_deref(),
        name: &c.name,
        lang: &c.lang,
        version: &c.version,
    };
    let stop = crate::logging::rfc3339(c.stop);
    let mut client = peer.json(Some(stop.clone()));
    client["rtt"] = (c.rtt.as_nanos() as u64).into();
    let body = json!({
        "type": "io.nats.server.advisory.v1.client_disconnect",
        "id": crate::jetstream::consumer::nuid(),
        "timestamp": stop,
        "server": server_info(server, ident(server), next_seq()),
        "client": client,
        // As nats-server: what the client sent, and what it was sent.
        "sent": {"msgs": c.in_msgs, "bytes": c.in_bytes},
        "received": {"msgs": c.out_msgs, "bytes": c.out_bytes},
        "reason": c.reason,
    });
    sys.publish_internal(subject.as_bytes(), None, &[], body.to_string().as_bytes());
}

/// A client as the events describe it.
struct Peer<'a> {
    cid: u64,
    addr: std::net::SocketAddr,
    start: std::time::SystemTime,
    acc: &'a str,
    user: Option<&'a str>,
    name: &'a str,
    lang: &'a str,
    version: &'a str,
}

impl Peer<'_> {
    fn json(&self, stop: Option<String>) -> Value {
        let mut v = json!({
            "start": crate::logging::rfc3339(self.start),
            "host": self.addr.ip().to_string(),
            "id": self.cid,
            "acc": self.acc,
        });
        // nats-server leaves empty ones out.
        let texts = [
            ("user", self.user.unwrap_or("")),
            ("name", self.name),
            ("lang", self.lang),
            ("ver", self.version),
        ];
        for (key, text) in texts {
            if !text.is_empty() {
                v[key] = text.into();
            }
        }
        if let Some(stop) = stop {
            v["stop"] = stop.into();
        }
        v["kind"] = "Client".into();
        v["client_type"] = "nats".into();
        v
    }
}

struct SysRequests {
    server: std::sync::Weak<Server>,
    /// The system account, where the answers go.
    account: std::sync::Weak<Account>,
    runtime: tokio::runtime::Handle,
}

impl InternalSubscriber for SysRequests {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(reply) = d.reply.map(<[u8]>::to_vec) else {
            return false;
        };
        let subject = String::from_utf8_lossy(d.subject).into_owned();
        let Some(req) = Request::parse(&subject) else {
            return false; // unknown endpoint: no responders, as nats-server
        };
        let body = d.payload[d.headers_len.min(d.payload.len())..].to_vec();
        let seq = next_seq();
        let server = self.server.clone();
        let account = self.account.clone();
        // Not on the publisher's routing call: it holds the sublist.
        self.runtime.spawn(async move {
            let Some(server) = server.upgrade() else {
                return;
            };
            let answer = answer(&server, &req, &body, seq);
            if let Some(a) = account.upgrade() {
                a.publish_internal(&reply, None, &[], &answer);
            }
        });
        true
    }
}

/// What a request subject asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    endpoint: Endpoint,
    /// `$SYS.REQ.ACCOUNT.<acc>.<EP>`: the endpoint for that account only.
    account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Statsz,
    Idz,
    Http(&'static str),
}

impl Request {
    fn parse(subject: &str) -> Option<Request> {
        let rest = subject.strip_prefix("$SYS.REQ.")?;
        let mut t = rest.split('.');
        match (t.next()?, t.next(), t.next(), t.next()) {
            ("SERVER", Some("PING"), None, None) => Some(Request {
                endpoint: Endpoint::Statsz,
                account: None,
            }),
            ("SERVER", Some(_), Some(ep), None) => Some(Request {
                endpoint: Endpoint::parse(ep)?,
                account: None,
            }),
            ("ACCOUNT", Some(acc), Some(ep), None) => {
                let endpoint = match ep {
                    "CONNZ" | "SUBSZ" | "JSZ" => Endpoint::parse(ep)?,
                    _ => return None,
                };
                Some(Request {
                    endpoint,
                    account: Some(acc.to_string()),
                })
            }
            _ => None,
        }
    }
}

impl Endpoint {
    fn parse(token: &str) -> Option<Endpoint> {
        Some(match token {
            "STATSZ" => Endpoint::Statsz,
            "IDZ" => Endpoint::Idz,
            "VARZ" => Endpoint::Http("/varz"),
            "CONNZ" => Endpoint::Http("/connz"),
            "SUBSZ" => Endpoint::Http("/subsz"),
            "JSZ" => Endpoint::Http("/jsz"),
            "HEALTHZ" => Endpoint::Http("/healthz"),
            "ACCOUNTZ" => Endpoint::Http("/accountz"),
            "ROUTEZ" => Endpoint::Http("/routez"),
            "GATEWAYZ" => Endpoint::Http("/gatewayz"),
            "LEAFZ" => Endpoint::Http("/leafz"),
            _ => return None,
        })
    }
}

/// The whole answer to one request, as JSON bytes.
fn ident(server: &Server) -> Value {
    json!({
        "name": server.server_name,
        "host": server.options().host,
        "id": server.server_id,
    })
}

fn answer(server: &Arc<Server>, req: &Request, body: &[u8], seq: u64) -> Vec<u8> {
    let ident = ident(server);
    if req.endpoint == Endpoint::Idz {
        return serde_json::to_vec(&ident).unwrap_or_default();
    }
    let mut envelope = Map::new();
    envelope.insert("server".into(), server_info(server, ident, seq));
    match document(server, req, body) {
        Ok((key, value)) => envelope.insert(key.into(), value),
        Err(description) => envelope.insert(
            "error".into(),
            json!({"code": 400, "description": description}),
        ),
    };
    serde_json::to_vec(&Value::Object(envelope)).unwrap_or_default()
}

fn server_info(server: &Server, ident: Value, seq: u64) -> Value {
    let mut v = ident;
    v["ver"] = crate::server::NATS_VERSION.into();
    v["jetstream"] = server.jetstream.get().is_some().into();
    v["flags"] = 0.into();
    v["seq"] = seq.into();
    v["time"] = crate::logging::rfc3339_ns(crate::jetstream::stream::now_ns()).into();
    v
}

/// The envelope's key and the document, or why the request is bad.
fn document(
    server: &Arc<Server>,
    req: &Request,
    body: &[u8],
) -> Result<(&'static str, Value), String> {
    let options = options_of(body)?;
    let path = match req.endpoint {
        Endpoint::Statsz => return Ok(("statsz", statsz(server))),
        Endpoint::Idz => unreachable!("answered without an envelope"),
        Endpoint::Http(path) => path,
    };
    let query = query_of(path, &options, req.account.as_deref());
    let r = endpoints::serve(server, path, &super::query::Query::parse(&query));
    let text = String::from_utf8_lossy(&r.body).into_owned();
    if path == "/healthz" {
        // nats-server adds the status code to the document over NATS.
        let mut v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        v["status_code"] = r.status.into();
        return Ok(("data", v));
    }
    if r.status != 200 {
        return Err(text.trim().to_string());
    }
    let v = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(("data", v))
}

/// The request's options object; an empty body is no options.
fn options_of(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("options must be a JSON object".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The HTTP query an endpoint reads for the JSON options nats-server's
/// request structs name (`subscriptions`, `account`, ...).
fn query_of(path: &str, options: &Map<String, Value>, account: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in options {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let key = match (path, key.as_str()) {
            ("/connz", "subscriptions") => "subs",
            ("/connz", "subscriptions_detail") if text == "true" => {
                pairs.push(("subs".into(), "detail".into()));
                continue;
            }
            ("/subsz", "subscriptions") => "subs",
            (_, "account") => "acc",
            (_, k) => k,
        };
        pairs.push((key.to_string(), text));
    }
    if let Some(acc) = account {
        pairs.retain(|(k, _)| k != "acc");
        pairs.push(("acc".into(), acc.into()));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes what would break a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'>' | b'$' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// nats-server's `statsz` document, from the numbers `/varz` reports.
fn statsz(server: &Arc<Server>) -> Value {
    let v = serde_json::to_value(super::varz::varz(server)).unwrap_or_default();
    let pair = |msgs: &str, bytes: &str| json!({"msgs": v[msgs], "bytes": v[bytes]});
    json!({
        "start": v["start"],
        "mem": v["mem"],
        "cores": v["cores"],
        "cpu": v["cpu"],
        "connections": v["connections"],
        "total_connections": v["total_connections"],
        "active_accounts": server.accounts.all().len(),
        "subscriptions": v["subscriptions"],
        "sent": pair("out_msgs", "out_bytes"),
        "sent_to_clients": pair("out_msgs", "out_bytes"),
        "received": pair("in_msgs", "in_bytes"),
        "received_from_clients": pair("in_msgs", "in_bytes"),
        "slow_consumers": v["slow_consumers"],
        "active_servers": 1,
        "gomaxprocs": v["gomaxprocs"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_their_endpoint() {
        let r = |s| Request::parse(s).map(|r| (r.endpoint, r.account));
        assert_eq!(r("$SYS.REQ.SERVER.PING"), Some((Endpoint::Statsz, None)));
        assert_eq!(
            r("$SYS.REQ.SERVER.PING.CONNZ"),
            Some((Endpoint::Http("/connz"), None))
        );
        assert_eq!(r("$SYS.REQ.SERVER.NABC.IDZ"), Some((Endpoint::Idz, None)));
        assert_eq!(
            r("$SYS.REQ.ACCOUNT.A.SUBSZ"),
            Some((Endpoint::Http("/subsz"), Some("A".into())))
        );
        assert_eq!(r("$SYS.REQ.ACCOUNT.A.VARZ"), None);
        assert_eq!(r("$SYS.REQ.SERVER.PING.NOPE"), None);
        assert_eq!(r("$SYS.REQ.SERVER.PING.CONNZ.X"), None);
    }

    #[test]
    fn options_become_the_endpoints_query() {
        let o = |s: &str| options_of(s.as_bytes()).unwrap();
        assert_eq!(
            query_of("/connz", &o(r#"{"subscriptions":true,"limit":5}"#), None),
            "subs=true&limit=5"
        );
        assert_eq!(
            query_of("/connz", &o(r#"{"subscriptions_detail":true}"#), Some("A")),
            "subs=detail&acc=A"
        );
        assert_eq!(
            query_of("/jsz", &o(r#"{"account":"B","streams":true}"#), None),
            "acc=B&streams=true"
        );
        assert!(options_of(b"{bad").is_err());
        assert!(options_of(b"  ").unwrap().is_empty());
    }
}
