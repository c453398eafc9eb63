//! Priority groups of pull consumers (ADR-42, nats-server 2.11/2.12):
//! which waiting request a message goes to under `overflow`,
//! `pinned_client` and `prioritized`, the pin and its timeout, and the
//! pinned / unpinned advisories.

use std::collections::VecDeque;
use std::time::Instant;

use super::config::{ConsumerConfig, PriorityPolicy};
use super::deliver::{status_out, Out};
use super::pull::{status, GroupRequest, WaitingRequest};
use super::{nuid, Consumer, State};
use crate::jetstream::stream::now_ns;

/// The client a `pinned_client` consumer serves, until it stops asking.
#[derive(Debug, Clone)]
pub struct Pin {
    pub id: String,
    pub group: String,
    pub ts_ns: i64,
    /// No pull request from the pinned client by then: the pin goes.
    pub expires: Instant,
}

/// Highest `priority` a request may ask for.
const PRIORITY_MAX: i64 = 9;

/// nats-server's checks of a request's group fields, in its order. A
/// request with the current pin id keeps the pin alive. Err: the status
/// to answer with.
pub fn check_request(
    cfg: &ConsumerConfig,
    st: &mut State,
    g: Option<&GroupRequest>,
    now: Instant,
) -> Result<(), Vec<u8>> {
    let Some(g) = g else { return Ok(()) };
    let policy = cfg.priority_policy;
    let bad = |d: &str| Err(status(&format!("400 Bad Request - {d}"), &[]));
    if (g.min_pending != 0 || g.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
        return bad("Not a Overflow Priority consumer");
    }
    if !g.id.is_empty() && policy != PriorityPolicy::PinnedClient {
        return bad("Not a Pinned Client Priority consumer");
    }
    if !(0..=PRIORITY_MAX).contains(&g.priority) {
        return bad("Priority must be between 0 and 9");
    }
    if policy == PriorityPolicy::None {
        return Ok(());
    }
    if g.group.is_empty() {
        return bad("Priority Group missing");
    }
    if !cfg.has_group(&g.group) {
        return bad("Invalid Priority Group");
    }
    if let Some(pin) = st.pin.as_mut() {
        if g.id == pin.id {
            pin.expires = now + cfg.pinned_ttl();
        } else if !g.id.is_empty() {
            return Err(status("423 Nats-Pin-Id mismatch", &[]));
        }
    }
    Ok(())
}

/// Queue a request: by priority (first come first within one) for
/// `prioritized`, at the end otherwise.
pub fn enqueue(cfg: &ConsumerConfig, waiting: &mut VecDeque<WaitingRequest>, req: WaitingRequest) {
    if cfg.priority_policy != PriorityPolicy::Prioritized {
        waiting.push_back(req);
        return;
    }
    let rank = GroupRequest::rank(req.group.as_ref());
    let at = waiting
        .iter()
        .position(|w| GroupRequest::rank(w.group.as_ref()) > rank)
        .unwrap_or(waiting.len());
    waiting.insert(at, req);
}

/// The backlog an overflow request compares with `min_pending` and
/// `min_ack_pending`: messages still to deliver (counting the one at hand)
/// and messages awaiting an ack.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    pub num_pending: u64,
    pub ack_pending: u64,
}

/// The waiting request the next message goes to.
#[derive(Debug, Clone, Copy)]
pub struct Chosen {
    pub idx: usize,
    /// It took the pin just now: if it cannot take the message, the pin goes
    /// again (as nats-server).
    pub pinned_now: bool,
}

/// The waiting request the next message goes to (None: no request may
/// take it now). Requests holding a stale pin id end with 423; the first
/// request without one takes a free pin.
pub fn choose(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    backlog: Backlog,
    now: Instant,
    out: &mut Vec<Out>,
) -> Option<Chosen> {
    let mut i = 0;
    while i < st.waiting.len() {
        let w = &st.waiting[i];
        let mut pinned_now = false;
        if cfg.priority_policy == PriorityPolicy::PinnedClient {
            let id = w.group.as_ref().map_or("", |g| g.id.as_str());
            let pinned = st.pin.as_ref().map(|p| p.id.as_str());
            match pinned {
                Some(p) if id == p => {}
                Some(_) if id.is_empty() => {
                    i += 1;
                    continue;
                }
                None if id.is_empty() => {
                    pinned_now = pin(c, cfg, st, i, now, out);
                }
                _ => {
                    if let Some(w) = st.waiting.remove(i) {
                        out.push(status_out(&w.reply, wrong_pin_status(&w)));
                    }
                    continue;
                }
            }
        }
        if cfg.priority_policy == PriorityPolicy::Overflow && !overflows(&st.waiting[i], backlog) {
            i += 1;
            continue;
        }
        return Some(Chosen { idx: i, pinned_now });
    }
    None
}

/// An overflow request without thresholds always takes; with them, once
/// either is reached.
fn overflows(w: &WaitingRequest, b: Backlog) -> bool {
    let Some(g) = &w.group else { return true };
    if g.min_pending <= 0 && g.min_ack_pending <= 0 {
        return true;
    }
    (g.min_pending > 0 && g.min_pending as u64 <= b.num_pending)
        || (g.min_ack_pending > 0 && g.min_ack_pending as u64 <= b.ack_pending)
}

fn wrong_pin_status(w: &WaitingRequest) -> Vec<u8> {
    status(
        "423 Nats-Wrong-Pin-Id",
        &[
            ("Nats-Pending-Messages", w.batch_left.to_string()),
            ("Nats-Pending-Bytes", w.bytes_left.to_string()),
        ],
    )
}

/// Pin the request at `i`: it gets a new id, which its messages carry.
/// A request without group fields takes no pin (it is served unpinned).
fn pin(
    c: &Consumer,
    cfg: &ConsumerConfig,
    st: &mut State,
    i: usize,
    now: Instant,
    out: &mut Vec<Out>,
) -> bool {
    let Some(g) = st.waiting.get_mut(i).and_then(|w| w.group.as_mut()) else {
        return false;
    };
    let id = nuid();
    g.id = id.clone();
    let p = Pin {
        id,
        group: g.group.clone(),
        ts_ns: now_ns(),
        expires: now + cfg.pinned_ttl(),
    };
    out.push(advisory(
        c,
        "PINNED",
        "consumer_group_pinned",
        &p.group,
        ("pinned_id", &p.id),
    ));
    st.pin = Some(p);
    true
}

fn unpinned(c: &Consumer, group: &str, reason: &str) -> Out {
    advisory(
        c,
        "UNPINNED",
        "consumer_group_unpinned",
        group,
        ("reason", reason),
    )
}

/// A pin whose client sent nothing for the pin timeout goes.
pub fn expire_pin(c: &Consumer, st: &mut State, now: Instant, out: &mut Vec<Out>) {
    if let Some(p) = st.pin.take_if(|p| p.expires <= now) {
        out.push(unpinned(c, &p.group, "timeout"));
    }
}

impl Consumer {
    /// CONSUMER.UNPIN: the group's pin goes (whether or not one was held,
    /// the advisory is sent, as nats-server) and the next request may take it.
    pub fn unpin(&self, group: &str) {
        self.state.lock().pin = None;
        let o = unpinned(self, group, "admin");
        self.account
            .publish_internal(&o.to, None, &o.headers, &o.body);
        self.wake.notify_one();
    }
}

/// The pin id header a pinned delivery carries.
pub fn with_pin_header(headers: &[u8], id: &str) -> Vec<u8> {
    crate::jetstream::headers::HeaderBuilder::extend(headers)
        .add("Nats-Pin-Id", id)
        .finish()
}

/// `$JS.EVENT.ADVISORY.CONSUMER.{PINNED,UNPINNED}.<stream>.<consumer>`,
/// fields in nats-server's order.
fn advisory(c: &Consumer, event: &str, kind: &str, group: &str, last: (&str, &str)) -> Out {
    let subject = format!(
        "$JS.EVENT.ADVISORY.CONSUMER.{event}.{}.{}",
        c.stream_name, c.name
    );
    let mut body = serde_json::json!({
        "type": format!("io.nats.jetstream.advisory.v1.{kind}"),
        "id": nuid(),
        "timestamp": crate::logging::rfc3339_ns(now_ns()),
        "account": crate::jetstream::monitor::GLOBAL_ACCOUNT,
        "stream": c.stream_name,
        "consumer": c.name,
    });
    if let Some(d) = c.server.options().jetstream.domain.clone() {
        body["domain"] = d.into();
    }
    body["group"] = group.into();
    body[last.0] = last.1.into();
    Out::event(subject, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(priority: Option<i64>) -> WaitingRequest {
        let body = match priority {
            Some(p) => format!(r#"{{"batch":1,"group":"A","priority":{p}}}"#),
            None => "1".to_string(),
        };
        super::super::pull::parse(Bytes::new(), body.as_bytes(), Instant::now()).expect("request")
    }

    #[test]
    fn prioritized_queue_orders_by_priority_then_arrival() {
        let cfg = ConsumerConfig {
            priority_policy: PriorityPolicy::Prioritized,
            ..Default::default()
        };
        let mut q = VecDeque::new();
        for p in [Some(5), None, Some(1), Some(5), Some(0)] {
            enqueue(&cfg, &mut q, req(p));
        }
        let ranks: Vec<i64> = q
            .iter()
            .map(|w| GroupRequest::rank(w.group.as_ref()))
            .collect();
        assert_eq!(ranks, [0, 1, 5, 5, i64::MAX]);
    }

    #[test]
    fn overflow_thresholds() {
        let mut w = req(Some(0));
        let backlog = |n, a| Backlog {
            num_pending: n,
            ack_pending: a,
        };
        assert!(overflows(&w, backlog(0, 0)), "no thresholds: always");
        if let Some(g) = w.group.as_mut() {
            g.min_pending = 10;
            g.min_ack_pending = 5;
        }
        assert!(!overflows(&w, backlog(9, 4)));
        assert!(overflows(&w, backlog(10, 0)));
        assert!(overflows(&w, backlog(0, 5)));
    }
}
