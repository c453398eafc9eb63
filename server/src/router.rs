//! Routing one published message to every subscription it reaches.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;

use crate::client::FlushList;
use crate::sublist::{SubResult, Sublist};
use crate::subscription::{Budget, Delivery, SubTarget, Subscription};

/// Bound on subjects a connection remembers routes for.
const ROUTE_CACHE_LEN_MAX: usize = 1024;

/// A connection's own memo of subject → subscriptions, valid for one sublist generation.
#[derive(Default)]
pub struct RouteCache {
    generation: u64,
    routes: HashMap<Bytes, Arc<SubResult>, foldhash::fast::RandomState>,
    /// The last subject looked up and its result: a publisher's run of
    /// messages to one subject, or the messages of one pull batch to one
    /// inbox, hit it without hashing.
    last_subject: Vec<u8>,
    last: Option<Arc<SubResult>>,
    /// The last one-off result (see [`is_one_off`]), whose memory the next
    /// one-off subject reuses when nobody holds it any more.
    one_off: Option<Arc<SubResult>>,
}

impl RouteCache {
    pub fn lookup(&mut self, sublist: &Sublist, subject: &[u8]) -> Arc<SubResult> {
        let generation = sublist.generation();
        if generation != self.generation {
            self.routes.clear();
            self.last = None;
            self.one_off = None;
            self.generation = generation;
        }
        if let Some(r) = &self.last {
            if self.last_subject == subject {
                return r.clone();
            }
        }
        let result = if is_one_off(subject) {
            self.lookup_one_off(sublist, subject)
        } else {
            self.lookup_cached(sublist, subject)
        };
        self.last_subject.clear();
        self.last_subject.extend_from_slice(subject);
        self.last = Some(result.clone());
        result
    }

    fn lookup_cached(&mut self, sublist: &Sublist, subject: &[u8]) -> Arc<SubResult> {
        if let Some(r) = self.routes.get(subject) {
            return r.clone();
        }
        let result = Arc::new(sublist.match_subject(subject));
        if self.routes.len() >= ROUTE_CACHE_LEN_MAX {
            self.routes.clear();
        }
        // Copy the key: the subject may point into a large read buffer.
        self.routes
            .insert(Bytes::copy_from_slice(subject), result.clone());
        result
    }

    /// Match without caching: a reply or ack subject is used once or for one
    /// batch, so caching it would cost an allocation and evict useful routes.
    fn lookup_one_off(&mut self, sublist: &Sublist, subject: &[u8]) -> Arc<SubResult> {
        // Drop our other handle first, so the previous one-off result is
        // free to be refilled.
        self.last = None;
        let mut result = self.one_off.take().unwrap_or_default();
        match Arc::get_mut(&mut result) {
            // Nobody else holds the previous result: refill it in place.
            Some(r) => {
                r.clear();
                sublist.match_into(subject, r);
            }
            None => result = Arc::new(sublist.match_subject(subject)),
        }
        self.one_off = Some(result.clone());
        result
    }
}

/// Subjects that are (almost) never published to twice: request inboxes
/// (`_INBOX.` is every client library's default prefix) and JetStream acks,
/// which carry the message's sequence numbers.
fn is_one_off(subject: &[u8]) -> bool {
    subject.starts_with(b"_INBOX.") || subject.starts_with(b"$JS.ACK.")
}

/// Deliver `d` to all matching subscriptions. Returns how many got it.
/// `echo == false` skips the publisher's own subscriptions.
pub fn route(
    sublist: &Sublist,
    result: &SubResult,
    d: &Delivery<'_>,
    echo: bool,
    flush: &mut FlushList,
) -> usize {
    let mut count = 0;
    for sub in &result.psubs {
        if !echo && sub.client_cid() == d.origin_cid {
            continue;
        }
        count += usize::from(deliver(sublist, sub, d, flush));
    }
    for group in &result.qsubs {
        count += usize::from(deliver_to_group(sublist, group, d, echo, flush));
    }
    count
}

/// One member of the group gets it: start at a random member, try the next
/// one if a member's budget is spent or its connection is gone.
fn deliver_to_group(
    sublist: &Sublist,
    group: &[Arc<Subscription>],
    d: &Delivery<'_>,
    echo: bool,
    flush: &mut FlushList,
) -> bool {
    if group.is_empty() {
        return false;
    }
    let start = if group.len() == 1 {
        0
    } else {
        rand::thread_rng().gen_range(0..group.len())
    };
    (0..group.len()).any(|i| {
        let sub = &group[(start + i) % group.len()];
        (echo || sub.client_cid() != d.origin_cid) && deliver(sublist, sub, d, flush)
    })
}

fn deliver(
    sublist: &Sublist,
    sub: &Arc<Subscription>,
    d: &Delivery<'_>,
    flush: &mut FlushList,
) -> bool {
    if sub
        .deny
        .as_ref()
        .is_some_and(|r| r.denies_literal(d.subject))
    {
        return false;
    }
    match sub.take_one() {
        Budget::Spent => return false,
        Budget::Last => {
            sublist.remove(sub);
        }
        Budget::Open => {}
    }
    match &sub.target {
        SubTarget::Client(client) => {
            let ok = client.queue_msg(&sub.sid, d);
            if ok {
                flush.add(client);
            }
            ok
        }
        SubTarget::Internal(handler) => handler.deliver(d),
    }
}
