//! The subscription trie: which subscriptions does a literal subject reach?
//!
//! One level per token; each level has literal children plus the `*` and `>`
//! children. Matching walks at most three branches per token. Readers hold a
//! read lock only for the walk; each connection keeps its own result cache
//! keyed by subject and invalidated by [`Sublist::generation`], so a steady
//! publisher does no trie walk at all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::subscription::Subscription;

/// Everything one subject reaches: plain subscribers, and queue groups
/// (each group gets the message once).
#[derive(Default, Debug)]
pub struct SubResult {
    pub psubs: Vec<Arc<Subscription>>,
    pub qsubs: Vec<Vec<Arc<Subscription>>>,
}

impl SubResult {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }

    /// Empty, keeping the plain subscribers' capacity for reuse.
    pub fn clear(&mut self) {
        self.psubs.clear();
        self.qsubs.clear();
    }
}

/// Subject tokens and queue names key the trie's maps: a fast seeded hash.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Node {
    psubs: Vec<Arc<Subscription>>,
    qsubs: Map<Bytes, Vec<Arc<Subscription>>>,
    next: Option<Box<Level>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.psubs.is_empty()
            && self.qsubs.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

#[derive(Default)]
struct Level {
    literal: Map<Bytes, Node>,
    pwc: Option<Box<Node>>,
    fwc: Option<Box<Node>>,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

#[derive(Default)]
pub struct Sublist {
    root: RwLock<Level>,
    generation: AtomicU64,
    count: AtomicUsize,
    matches: AtomicU64,
    inserts: AtomicU64,
    removes: AtomicU64,
    /// Wakes tasks waiting for a subscriber to appear (push consumers
    /// without interest), so they need not poll for it.
    inserted: tokio::sync::Notify,
}

impl Sublist {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bumped on every insert and remove: cached results older than this are stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Notified after every insert (see [`Self::generation`] to close the
    /// race between looking and waiting).
    pub fn inserted(&self) -> &tokio::sync::Notify {
        &self.inserted
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// (inserts, removes, matches) since start, for monitoring.
    pub fn stats(&self) -> (u64, u64, u64) {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (r(&self.inserts), r(&self.removes), r(&self.matches))
    }

    pub fn insert(&self, sub: Arc<Subscription>) {
        let mut root = self.root.write();
        let mut level: &mut Level = &mut root;
        let mut tokens = sub.subject.split(|b| *b == b'.').peekable();
        loop {
            let Some(token) = tokens.next() else { return };
            let node = match token {
                b"*" => level.pwc.get_or_insert_with(Box::default).as_mut(),
                b">" => level.fwc.get_or_insert_with(Box::default).as_mut(),
                t => level.literal.entry(Bytes::copy_from_slice(t)).or_default(),
            };
            if tokens.peek().is_none() {
                match &sub.queue {
                    Some(q) => node.qsubs.entry(q.clone()).or_default().push(sub.clone()),
                    None => node.psubs.push(sub.clone()),
                }
                break;
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
        drop(root);
        self.inserted.notify_waiters();
    }

    /// Remove `sub` (by identity). Returns false if it was not there.
    pub fn remove(&self, sub: &Arc<Subscription>) -> bool {
        let mut root = self.root.write();
        let tokens: Vec<&[u8]> = sub.subject.split(|b| *b == b'.').collect();
        let removed = remove_from(&mut root, &tokens, sub);
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.removes.fetch_add(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Visit every subscription (for monitoring; holds the read lock).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Subscription>)) {
        fn walk(level: &Level, f: &mut dyn FnMut(&Arc<Subscription>)) {
            let nodes = level.literal.values();
            for node in nodes
                .chain(level.pwc.as_deref())
                .chain(level.fwc.as_deref())
            {
                node.psubs.iter().for_each(&mut *f);
                node.qsubs.values().flatten().for_each(&mut *f);
                if let Some(next) = &node.next {
                    walk(next, f);
                }
            }
        }
        walk(&self.root.read(), &mut f);
    }

    /// All subscriptions matching the literal `subject`.
    pub fn match_subject(&self, subject: &[u8]) -> SubResult {
        let mut result = SubResult::default();
        self.match_into(subject, &mut result);
        result
    }

    /// As [`Sublist::match_subject`], into `out` (which must be empty), so a
    /// caller matching many one-off subjects reuses one result's memory.
    pub fn match_into(&self, subject: &[u8], out: &mut SubResult) {
        self.match_into_uniform(subject, out);
    }

    /// As [`Sublist::match_into`], and tells whether the result holds for
    /// every subject that differs from `subject` only in its last token: no
    /// trie level the last token is looked up in has literal children, so
    /// only wildcards matched it. Valid until [`Self::generation`] changes.
    pub fn match_into_uniform(&self, subject: &[u8], out: &mut SubResult) -> bool {
        self.matches.fetch_add(1, Ordering::Relaxed);
        let tokens: smallvec_tokens::Tokens = smallvec_tokens::split(subject);
        // As nats-server: a subject with an empty token (`a..b`, `.a`, `a.`) matches nothing.
        if tokens.as_slice().iter().any(|t| t.is_empty()) {
            return false;
        }
        let root = self.root.read();
        let mut uniform = true;
        match_level(&root, tokens.as_slice(), out, &mut uniform);
        uniform
    }
}

fn remove_from(level: &mut Level, tokens: &[&[u8]], sub: &Arc<Subscription>) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return false;
    };
    let (removed, now_empty) = {
        let node = match *token {
            b"*" => level.pwc.as_deref_mut(),
            b">" => level.fwc.as_deref_mut(),
            t => level.literal.get_mut(t),
        };
        let Some(node) = node else { return false };
        let removed = if rest.is_empty() {
            remove_sub(node, sub)
        } else {
            let r = node
                .next
                .as_deref_mut()
                .is_some_and(|next| remove_from(next, rest, sub));
            if node.next.as_ref().is_some_and(|n| n.is_empty()) {
                node.next = None;
            }
            r
        };
        (removed, node.is_empty())
    };
    if now_empty {
        match *token {
            b"*" => level.pwc = None,
            b">" => level.fwc = None,
            t => {
                level.literal.remove(t);
            }
        }
    }
    removed
}

fn remove_sub(node: &mut Node, sub: &Arc<Subscription>) -> bool {
    let list = match &sub.queue {
        Some(q) => match node.qsubs.get_mut(q) {
            Some(list) => list,
            None => return false,
        },
        None => &mut node.psubs,
    };
    let Some(i) = list.iter().position(|s| Arc::ptr_eq(s, sub)) else {
        return false;
    };
    list.swap_remove(i);
    if let Some(q) = &sub.queue {
        if node.qsubs.get(q).is_some_and(|l| l.is_empty()) {
            node.qsubs.remove(q);
        }
    }
    true
}

/// `uniform` is cleared when the last token meets a level with literal
/// children (see [`Sublist::match_into_uniform`]).
fn match_level(level: &Level, tokens: &[&[u8]], out: &mut SubResult, uniform: &mut bool) {
    let Some((token, rest)) = tokens.split_first() else {
        return;
    };
    if rest.is_empty() && !level.literal.is_empty() {
        *uniform = false;
    }
    if let Some(fwc) = &level.fwc {
        add_node(fwc, out);
    }
    if let Some(pwc) = &level.pwc {
        visit(pwc, rest, out, uniform);
    }
    if let Some(node) = level.literal.get(*token) {
        visit(node, rest, out, uniform);
    }
}

fn visit(node: &Node, rest: &[&[u8]], out: &mut SubResult, uniform: &mut bool) {
    if rest.is_empty() {
        add_node(node, out);
    } else if let Some(next) = &node.next {
        match_level(next, rest, out, uniform);
    }
}

fn add_node(node: &Node, out: &mut SubResult) {
    out.psubs.extend(node.psubs.iter().cloned());
    for group in node.qsubs.values() {
        // The same group name reached through two patterns is still one group.
        let name = group.first().and_then(|s| s.queue.as_ref());
        if let Some(existing) = out
            .qsubs
            .iter_mut()
            .find(|g| g.first().and_then(|s| s.queue.as_ref()) == name)
        {
            existing.extend(group.iter().cloned());
        } else {
            out.qsubs.push(group.clone());
        }
    }
}

/// Token splitting without a heap allocation for ordinary subjects.
mod smallvec_tokens {
    const INLINE: usize = 16;

    // The inline variant is the point: it lives briefly on the stack.
    #[allow(clippy::large_enum_variant)]
    pub enum Tokens<'a> {
        Inline([&'a [u8]; INLINE], usize),
        Heap(Vec<&'a [u8]>),
    }

    impl<'a> Tokens<'a> {
        pub fn as_slice(&self) -> &[&'a [u8]] {
            match self {
                Tokens::Inline(arr, n) => &arr[..*n],
                Tokens::Heap(v) => v,
            }
        }
    }

    pub fn split(subject: &[u8]) -> Tokens<'_> {
        let mut arr: [&[u8]; INLINE] = [&[]; INLINE];
        let mut n = 0;
        let mut start = 0;
        // memchr skips long tokens (inbox ids) a word at a time.
        let ends = memchr::memchr_iter(b'.', subject).chain(std::iter::once(subject.len()));
        for end in ends {
            if n == INLINE {
                return Tokens::Heap(subject.split(|b| *b == b'.').collect());
            }
            arr[n] = &subject[start..end];
            start = end + 1;
            n += 1;
        }
        Tokens::Inline(arr, n)
    }
}
