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
    /// A one-off subject's parent (up to and with its last `.`) whose
    /// children all route alike (only wildcards matched the last token, see
    /// [`Sublist::match_into_uniform`]): a muxed request inbox
    /// `_INBOX.<id>.*`, whose every `_INBOX.<id>.<n>` reply (PubAcks of a
    /// publisher with many in flight) then skips the trie walk.
    parent: Vec<u8>,
    parent_result: Option<Arc<SubResult>>,
}

impl RouteCache {
    pub fn lookup(&mut self, sublist: &Sublist, subject: &[u8]) -> Arc<SubResult> {
        let generation = sublist.generation();
        if generation != self.generation {
            self.routes.clear();
            self.last = None;
            self.one_off = None;
            self.parent_result = None;
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
        // The parent with its dot; a subject ending in a dot matches nothing
        // and is no child of it.
        let parent_len = memchr::memrchr(b'.', subject)
            .map(|i| i + 1)
            .filter(|&n| n < subject.len());
        if let (Some(n), Some(r)) = (parent_len, &self.parent_result) {
            if self.parent[..] == subject[..n] {
                return r.clone();
            }
        }
        // Drop our other handle first, so the previous one-off result is
        // free to be refilled.
        self.last = None;
        let mut result = self.one_off.take().unwrap_or_default();
        let uniform = match Arc::get_mut(&mut result) {
            // Nobody else holds the previous result: refill it in place.
            Some(r) => {
                r.clear();
                sublist.match_into_uniform(subject, r)
            }
            None => {
                let mut r = SubResult::default();
                let uniform = sublist.match_into_uniform(subject, &mut r);
                result = Arc::new(r);
                uniform
            }
        };
        match parent_len {
            Some(n) if uniform => {
                self.parent.clear();
                self.parent.extend_from_slice(&subject[..n]);
                self.parent_result = Some(result.clone());
            }
            _ => self.one_off = Some(result.clone()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientHandle;

    fn sub(sublist: &Sublist, subject: &str, queue: Option<&str>) -> Arc<Subscription> {
        let addr = "127.0.0.1:1".parse().expect("addr");
        let client = Arc::new(ClientHandle::new(1, addr, usize::MAX));
        let s = Arc::new(Subscription::new(
            Bytes::copy_from_slice(subject.as_bytes()),
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
            Bytes::from_static(b"1"),
            SubTarget::Client(client),
        ));
        sublist.insert(s.clone());
        s
    }

    fn counts(routes: &mut RouteCache, sublist: &Sublist, subject: &str) -> (usize, usize) {
        let r = routes.lookup(sublist, subject.as_bytes());
        (r.psubs.len(), r.qsubs.iter().map(Vec::len).sum())
    }

    #[test]
    fn inbox_replies_share_the_wildcard_route_and_stay_exact() {
        let sl = Sublist::new();
        let mut routes = RouteCache::default();
        let wild = sub(&sl, "_INBOX.abc.*", None);
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.1"), (1, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.2"), (1, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abcd.2"), (0, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.3.4"), (0, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc."), (0, 0));
        // A literal sibling makes the parent's children differ.
        let lit = sub(&sl, "_INBOX.abc.7", None);
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.6"), (1, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.7"), (2, 0));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.8"), (1, 0));
        sl.remove(&lit);
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.7"), (1, 0));
        // Queue members and wildcards elsewhere in the trie count too.
        sub(&sl, "_INBOX.*.*", Some("q"));
        sub(&sl, "_INBOX.>", None);
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.9"), (2, 1));
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.10"), (2, 1));
        sl.remove(&wild);
        assert_eq!(counts(&mut routes, &sl, "_INBOX.abc.11"), (1, 1));
    }
}
