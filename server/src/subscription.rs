//! A subscription: who gets the messages of a subject pattern.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::client::ClientHandle;

/// A message as routed inside the server.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub subject: &'a [u8],
    /// The subject it was routed by when that is not `subject` (a stored
    /// message delivered to an inbox): what a stream import maps.
    pub routed: Option<&'a [u8]>,
    pub reply: Option<&'a [u8]>,
    /// Header block length at the start of `payload` (0: none).
    pub headers_len: usize,
    pub has_headers: bool,
    pub payload: &'a Bytes,
    /// Connection id of the publisher (0: the server itself).
    pub origin_cid: u64,
}

/// Server-side subscribers (JetStream API, streams, consumers) implement this.
/// `deliver` runs on the publisher's task: it must not block. It returns
/// false to decline, which counts as "no subscriber" for no-responders
/// (nats-server answers a direct get on a missing stream with silence).
pub trait InternalSubscriber: Send + Sync {
    fn deliver(&self, msg: &Delivery<'_>) -> bool;

    /// Does a message on `subject` reach someone through this subscriber?
    /// A stream import's forwarder answers for the importer's subscribers.
    fn has_interest(&self, _subject: &[u8]) -> bool {
        true
    }
}

pub enum SubTarget {
    Client(Arc<ClientHandle>),
    Internal(Arc<dyn InternalSubscriber>),
}

impl std::fmt::Debug for SubTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubTarget::Client(c) => write!(f, "Client({})", c.cid),
            SubTarget::Internal(_) => f.write_str("Internal"),
        }
    }
}

#[derive(Debug)]
pub struct Subscription {
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    pub target: SubTarget,
    /// A wildcard subscription of a user with subscribe deny rules: messages on
    /// denied subjects are not delivered through it (as nats-server).
    pub deny: Option<Arc<crate::auth::Rules>>,
    /// Auto-unsubscribe after this many deliveries (0: never).
    max_msgs: AtomicU64,
    delivered: AtomicU64,
}

/// What a delivery attempt did to the subscription's budget.
#[derive(Debug, PartialEq, Eq)]
pub enum Budget {
    /// Deliver; more may follow.
    Open,
    /// Deliver; this was the last one: remove the subscription.
    Last,
    /// Already used up: do not deliver.
    Spent,
}

impl Subscription {
    pub fn new(subject: Bytes, queue: Option<Bytes>, sid: Bytes, target: SubTarget) -> Self {
        Subscription {
            subject,
            queue,
            sid,
            target,
            deny: None,
            max_msgs: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// Filter deliveries through `rules`' deny list.
    pub fn with_deny(mut self, rules: Option<Arc<crate::auth::Rules>>) -> Self {
        self.deny = rules;
        self
    }

    pub fn client_cid(&self) -> u64 {
        match &self.target {
            SubTarget::Client(c) => c.cid,
            SubTarget::Internal(_) => 0,
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn set_max(&self, max_msgs: u64) {
        self.max_msgs.store(max_msgs, Ordering::Relaxed);
    }

    /// Has an UNSUB max been reached?
    pub fn is_spent(&self) -> bool {
        let max = self.max_msgs.load(Ordering::Relaxed);
        max != 0 && self.delivered.load(Ordering::Relaxed) >= max
    }

    /// Count one delivery against the UNSUB max, if any.
    pub fn take_one(&self) -> Budget {
        let max = self.max_msgs.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        match max {
            0 => Budget::Open,
            m if n < m => Budget::Open,
            m if n == m => Budget::Last,
            _ => Budget::Spent,
        }
    }
}
