//! `/connz`: open and recently closed client connections, with nats-server's
//! parameters (`sort`, `offset`, `limit`, `subs`, `state`, `cid`, `auth`,
//! `user`, `acc`) and its `ConnInfo` field names.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::query::{self, BadParam, Query};
use super::state::ClosedConn;
use super::uptime;
use crate::client::ClientHandle;
use crate::logging::rfc3339;
use crate::server::Server;
use crate::subscription::Subscription;

#[derive(Serialize)]
pub struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

#[derive(Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail>>,
}

/// One subscription, as `/connz?subs=detail` and `/subsz?subs=1` list it.
#[derive(Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<String>,
    pub sid: String,
    pub msgs: u64,
    pub cid: u64,
}

impl SubDetail {
    pub fn of(sub: &Subscription) -> Self {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        SubDetail {
            account: None,
            account_tag: None,
            subject: text(&sub.subject),
            qgroup: sub.queue.as_deref().map(text),
            sid: text(&sub.sid),
            msgs: sub.delivered(),
            cid: sub.client_cid(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Any,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    fn parse(s: &str) -> Result<Sort, BadParam> {
        Ok(match s {
            "" | "cid" | "start" => Sort::Cid,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::MsgsTo,
            "msgs_from" => Sort::MsgsFrom,
            "bytes_to" => Sort::BytesTo,
            "bytes_from" => Sort::BytesFrom,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            "rtt" => Sort::Rtt,
            other => return Err(BadParam(format!("invalid sorting option: {other}"))),
        })
    }
}

/// A connection plus the raw values sorting needs.
struct Row {
    info: ConnInfo,
    last: SystemTime,
    lifetime: Duration,
    idle: Duration,
    stop: Option<SystemTime>,
    rtt: Duration,
}

struct Params {
    sort: Sort,
    state: State,
    subs: bool,
    subs_detail: bool,
    auth: bool,
    cid: u64,
    user: String,
    acc: String,
}

fn params(q: &Query) -> Result<Params, BadParam> {
    let sort_text = q.get("sort");
    let sort = Sort::parse(sort_text)?;
    let auth = q.bool("auth")?;
    let subs_detail = q.get("subs").eq_ignore_ascii_case("detail");
    let subs = !subs_detail && q.bool("subs")?;
    let cid = q.uint("cid")?;
    let state = match q.get("state").to_ascii_lowercase().as_str() {
        "" | "open" => State::Open,
        "closed" => State::Closed,
        "any" | "all" => State::Any,
        _ => {
            return Err(BadParam(format!(
                "Error decoding state for {}",
                q.get("state")
            )))
        }
    };
    if matches!(sort, Sort::Stop | Sort::Reason) && state != State::Closed {
        return Err(BadParam(format!(
            "sort by {sort_text} only valid on closed connections"
        )));
    }
    Ok(Params {
        sort,
        state,
        subs,
        subs_detail,
        auth,
        cid,
        user: q.get("user").to_string(),
        acc: q.get("acc").to_string(),
    })
}

pub fn connz(server: &Server, q: &Query) -> Result<Connz, BadParam> {
    let p = params(q)?;
    let (offset, mut limit) = query::paging(q)?;
    if p.cid > 0 {
        limit = 1;
    }
    let now = SystemTime::now();
    let mut rows = Vec::new();
    if p.state != State::Closed {
        let mut open: Vec<Arc<ClientHandle>> = server.clients.lock().values().cloned().collect();
        open.retain(|c| p.cid == 0 || c.cid == p.cid);
        let mut subs = if p.subs || p.subs_detail {
            subs_by_client(server)
        } else {
            HashMap::new()
        };
        for c in open {
            let list = subs.remove(&c.cid).unwrap_or_default();
            rows.push(open_row(&c, now, &p, list));
        }
    }
    if p.state != State::Open {
        for c in server.monitor.closed() {
            if p.cid == 0 || c.cid == p.cid {
                rows.push(closed_row(&c));
            }
        }
    }
    rows.retain(|r| {
        (p.user.is_empty() || r.info.authorized_user.as_deref() == Some(p.user.as_str()))
            && (p.acc.is_empty() || r.info.account.as_deref().unwrap_or("$G") == p.acc)
    });
    // Filters used the identity fields; show them only when asked (`auth`).
    if !p.auth {
        for r in &mut rows {
            r.info.authorized_user = None;
            r.info.account = None;
        }
    }
    sort_rows(&mut rows, p.sort);
    let total = rows.len();
    let connections: Vec<ConnInfo> = query::page(rows, offset, limit)
        .into_iter()
        .map(|r| r.info)
        .collect();
    Ok(Connz {
        server_id: server.server_id.clone(),
        now: rfc3339(now),
        num_connections: connections.len(),
        total,
        offset,
        limit,
        connections,
    })
}

/// nats-server's orders: cid ascending, uptime ascending, reason by name,
/// every other key descending (busiest first). Ties keep cid order.
fn sort_rows(rows: &mut [Row], sort: Sort) {
    rows.sort_by_key(|r| r.info.cid);
    match sort {
        Sort::Cid => {}
        Sort::Subs => rows.sort_by_key(|r| std::cmp::Reverse(r.info.subscriptions)),
        Sort::Pending => rows.sort_by_key(|r| std::cmp::Reverse(r.info.pending_bytes)),
        Sort::MsgsTo => rows.sort_by_key(|r| std::cmp::Reverse(r.info.out_msgs)),
        Sort::MsgsFrom => rows.sort_by_key(|r| std::cmp::Reverse(r.info.in_msgs)),
        Sort::BytesTo => rows.sort_by_key(|r| std::cmp::Reverse(r.info.out_bytes)),
        Sort::BytesFrom => rows.sort_by_key(|r| std::cmp::Reverse(r.info.in_bytes)),
        Sort::Last => rows.sort_by_key(|r| std::cmp::Reverse(r.last)),
        Sort::Idle => rows.sort_by_key(|r| std::cmp::Reverse(r.idle)),
        Sort::Uptime => rows.sort_by_key(|r| r.lifetime),
        Sort::Stop => rows.sort_by_key(|r| std::cmp::Reverse(r.stop)),
        Sort::Reason => rows.sort_by_key(|r| r.info.reason),
        Sort::Rtt => rows.sort_by_key(|r| std::cmp::Reverse(r.rtt)),
    }
}

/// Each client's subscriptions, from one walk of the sublist.
fn subs_by_client(server: &Server) -> HashMap<u64, Vec<Arc<Subscription>>> {
    let mut map: HashMap<u64, Vec<Arc<Subscription>>> = HashMap::new();
    for account in server.accounts.all() {
        account.sublist.for_each(|s| {
            let cid = s.client_cid();
            if cid != 0 && !s.is_spent() {
                map.entry(cid).or_default().push(s.clone());
            }
        });
    }
    map
}

fn open_row(
    c: &ClientHandle,
    now: SystemTime,
    p: &Params,
    mut subs: Vec<Arc<Subscription>>,
) -> Row {
    let meta = c.meta.lock().clone();
    let k = &c.counters;
    let last = c.last_activity();
    let lifetime = now.duration_since(c.start).unwrap_or_default();
    let idle = now.duration_since(last).unwrap_or_default();
    // Subscription order in the sublist is arbitrary: show them by sid.
    subs.sort_by(|a, b| sid_order(&a.sid, &b.sid));
    let list = (p.subs && !subs.is_empty()).then(|| {
        subs.iter()
            .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
            .collect()
    });
    let detail = (p.subs_detail && !subs.is_empty())
        .then(|| subs.iter().map(|s| SubDetail::of(s)).collect());
    Row {
        info: ConnInfo {
            cid: c.cid,
            kind: "Client",
            kind_type: "nats",
            ip: c.addr.ip().to_string(),
            port: c.addr.port(),
            start: rfc3339(c.start),
            last_activity: rfc3339(last),
            stop: None,
            reason: None,
            rtt: super::rtt(c.rtt()),
            uptime: uptime(lifetime),
            idle: uptime(idle),
            pending_bytes: c.pending_bytes(),
            in_msgs: k.in_msgs.load(Ordering::Relaxed),
            out_msgs: k.out_msgs.load(Ordering::Relaxed),
            in_bytes: k.in_bytes.load(Ordering::Relaxed),
            out_bytes: k.out_bytes.load(Ordering::Relaxed),
            subscriptions: c.subs_count.load(Ordering::Relaxed),
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            authorized_user: meta.user,
            account: meta.account.filter(|a| a != "$G"),
            subscriptions_list: list,
            subscriptions_list_detail: detail,
        },
        last,
        lifetime,
        idle,
        stop: None,
        rtt: c.rtt(),
    }
}

/// Numeric sids (what clients send) in numeric order, others after, by text.
fn sid_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let num = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u64>().ok();
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn closed_row(c: &ClosedConn) -> Row {
    let lifetime = c.stop.duration_since(c.start).unwrap_or_default();
    let idle = c.stop.duration_since(c.last_activity).unwrap_or_default();
    Row {
        info: ConnInfo {
            cid: c.cid,
            kind: "Client",
            kind_type: "nats",
            ip: c.addr.ip().to_string(),
            port: c.addr.port(),
            start: rfc3339(c.start),
            last_activity: rfc3339(c.last_activity),
            stop: Some(rfc3339(c.stop)),
            reason: Some(c.reason),
            rtt: super::rtt(c.rtt),
            uptime: uptime(lifetime),
            idle: uptime(idle),
            pending_bytes: 0,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subscriptions,
            name: c.name.clone(),
            lang: c.lang.clone(),
            version: c.version.clone(),
            authorized_user: c.user.clone(),
            account: c.account.clone().filter(|a| a != "$G"),
            subscriptions_list: None,
            subscriptions_list_detail: None,
        },
        last: c.last_activity,
        lifetime,
        idle,
        stop: Some(c.stop),
        rtt: c.rtt,
    }
}
