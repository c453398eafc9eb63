//! Accounts: each one a subject space of its own.
//!
//! Every client is bound to one account when its CONNECT is accepted and
//! publishes, subscribes and receives only inside it. Users without an
//! account are in the global account `$G`; with no accounts configured
//! everybody is, and nothing differs from a server without accounts.
//! A connection looks its account up once, at CONNECT, and keeps the
//! `Arc`: the data path never consults the account table.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use parking_lot::RwLock;

use crate::client::FlushList;
use crate::router::{self, RouteCache};
use crate::sublist::Sublist;
use crate::subscription::Delivery;

/// The account of users configured without one (nats-server's name).
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: String,
    pub sublist: Sublist,
    /// This account's JetStream, when it has one.
    pub jetstream: OnceLock<Arc<crate::jetstream::JetStream>>,
    /// A service import brings another account's `$JS.API` here: no
    /// "not enabled" answer from this account's own.
    pub imports_js_api: AtomicBool,
    /// Accounts whose streams this one imports: a subscription here may be
    /// the interest a push consumer there waits for.
    stream_exporters: RwLock<Vec<std::sync::Weak<Account>>>,
}

impl Account {
    pub fn new(name: &str) -> Arc<Account> {
        Arc::new(Account {
            name: name.to_string(),
            sublist: Sublist::new(),
            jetstream: OnceLock::new(),
            imports_js_api: AtomicBool::new(false),
            stream_exporters: RwLock::new(Vec::new()),
        })
    }

    /// Would a message on `subject` reach anyone here (through stream
    /// imports, only if someone in the importer listens)?
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        let result = self.sublist.match_subject(subject);
        result
            .psubs
            .iter()
            .chain(result.qsubs.iter().flatten())
            .any(|s| match &s.target {
                crate::subscription::SubTarget::Client(_) => true,
                crate::subscription::SubTarget::Internal(i) => i.has_interest(subject),
            })
    }

    pub fn add_stream_exporter(&self, exporter: &Arc<Account>) {
        self.stream_exporters.write().push(Arc::downgrade(exporter));
    }

    /// A subscription was added here: wake whoever waits for interest in
    /// the accounts this one imports streams from.
    pub fn interest_added(&self) {
        for e in self.stream_exporters.read().iter() {
            if let Some(e) = e.upgrade() {
                e.sublist.inserted().notify_waiters();
            }
        }
    }

    pub fn is_global(&self) -> bool {
        self.name == GLOBAL_ACCOUNT
    }

    /// Publish a message that originates in the server (API replies,
    /// PubAcks, advisories) into this account. `headers` is a whole header
    /// block or empty.
    pub fn publish_internal(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        body: &[u8],
    ) -> usize {
        let mut routes = RouteCache::default();
        let mut flush = FlushList::default();
        let n = self.publish_with(&mut routes, &mut flush, subject, reply, headers, body);
        flush.flush();
        n
    }

    /// As [`Account::publish_internal`], batching route lookups and
    /// wake-ups across many messages (the caller flushes `flush`).
    pub fn publish_with(
        &self,
        routes: &mut RouteCache,
        flush: &mut FlushList,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        body: &[u8],
    ) -> usize {
        let body = Bytes::copy_from_slice(body);
        self.publish_routed(routes, flush, subject, subject, reply, headers, &body)
    }

    /// Route by `to` but show `subject` in the MSG line: how consumers
    /// deliver a stored message to an inbox or deliver subject.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_routed(
        &self,
        routes: &mut RouteCache,
        flush: &mut FlushList,
        to: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        body: &Bytes,
    ) -> usize {
        // Without headers the stored payload goes out as it is: no copy,
        // not even of the reference count.
        let joined;
        let payload = if headers.is_empty() {
            body
        } else {
            let mut p = BytesMut::with_capacity(headers.len() + body.len());
            p.extend_from_slice(headers);
            p.extend_from_slice(body);
            joined = p.freeze();
            &joined
        };
        let d = Delivery {
            subject,
            routed: (to != subject).then_some(to),
            reply,
            headers_len: headers.len(),
            has_headers: !headers.is_empty(),
            payload,
            origin_cid: 0,
        };
        let result = routes.lookup(&self.sublist, to);
        router::route(&self.sublist, &result, &d, true, flush)
    }
}

/// Every account the server knows: `$G`, the configured ones, and JWT
/// accounts as their first user logs in.
pub struct Accounts {
    global: Arc<Account>,
    named: RwLock<HashMap<String, Arc<Account>>>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            global: Account::new(GLOBAL_ACCOUNT),
            named: RwLock::new(HashMap::new()),
        }
    }
}

impl Accounts {
    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account called `name` (`None`: `$G`), made on first use; true
    /// when this call made it.
    pub fn get_or_create(&self, name: Option<&str>) -> (Arc<Account>, bool) {
        let name = match name {
            None | Some(GLOBAL_ACCOUNT) => return (self.global.clone(), false),
            Some(n) => n,
        };
        if let Some(a) = self.named.read().get(name) {
            return (a.clone(), false);
        }
        let mut named = self.named.write();
        if let Some(a) = named.get(name) {
            return (a.clone(), false);
        }
        let a = Account::new(name);
        named.insert(name.to_string(), a.clone());
        (a, true)
    }

    /// The account called `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        if name == GLOBAL_ACCOUNT {
            return Some(self.global.clone());
        }
        self.named.read().get(name).cloned()
    }

    /// Every account's JetStream, in no order (cheaper than [`Self::all`]).
    pub fn jetstreams(&self) -> Vec<Arc<crate::jetstream::JetStream>> {
        let named = self.named.read();
        std::iter::once(&self.global)
            .chain(named.values())
            .filter_map(|a| a.jetstream.get().cloned())
            .collect()
    }

    /// `$G` first, then the others by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut named: Vec<_> = self.named.read().values().cloned().collect();
        named.sort_by(|a, b| a.name.cmp(&b.name));
        std::iter::once(self.global.clone()).chain(named).collect()
    }

    /// Subscriptions in every account.
    pub fn subs_count(&self) -> usize {
        self.all().iter().map(|a| a.sublist.count()).sum()
    }

    /// Summed (inserts, removes, matches) of every account's sublist.
    pub fn subs_stats(&self) -> (u64, u64, u64) {
        self.all().iter().fold((0, 0, 0), |t, a| {
            let (i, r, m) = a.sublist.stats();
            (t.0 + i, t.1 + r, t.2 + m)
        })
    }
}
