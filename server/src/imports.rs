//! Exports and imports: messages crossing from one account to another.
//!
//! A stream import is an internal subscription in the exporter's account
//! on the imported subject; each message it gets is routed again in the
//! importer's account (under the local subject). A service import is the
//! reverse: an internal subscription in the importer's account on the
//! local subject forwards the request into the exporter's account with a
//! fresh reply subject `_R_.<id>` there, whose one subscription carries
//! the answer (every answer, for `response_type: stream`) back to the
//! requester's reply subject. A reply so finds its way back exactly once:
//! the `_R_` subject exists in the exporter's account only.

use std::cell::Cell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;

use crate::account::Account;
use crate::client::FlushList;
use crate::options::{Export, Import, ShareKind};
use crate::server::Server;
use crate::subject;
use crate::subscription::{Delivery, InternalSubscriber, SubTarget, Subscription};

/// How long a streamed service response (`response_type: stream`) keeps
/// its route back: nats-server's default response threshold.
const RESPONSE_STREAM_TTL: Duration = Duration::from_secs(120);
/// A message crossing more accounts than this is dropped: imports that
/// form a cycle must not loop forever.
const HOPS_MAX: u32 = 8;
/// Random characters in a `_R_.` reply subject.
const REPLY_ID_LEN: usize = 12;

thread_local! {
    static HOPS: Cell<u32> = const { Cell::new(0) };
}

/// Wire every configured account's imports (after all accounts exist).
pub fn install(server: &Arc<Server>) {
    let opts = server.options();
    for importer in &opts.accounts {
        for import in &importer.imports {
            let Some(export) = find_export(&opts.accounts, import, &importer.name) else {
                tracing::warn!(
                    "account {}: import of {:?} from {} has no matching export; ignored",
                    importer.name,
                    import.subject,
                    import.account
                );
                continue;
            };
            let to = server.account(Some(&importer.name));
            let from = server.account(Some(&import.account));
            match import.kind {
                ShareKind::Stream => stream_import(&from, &to, import),
                ShareKind::Service => service_import(&from, &to, import, export.response_stream),
            }
        }
    }
}

/// The exporter's export that covers `import` and lets `importer` take it.
pub fn find_export<'a>(
    accounts: &'a [crate::options::AccountOptions],
    import: &Import,
    importer: &str,
) -> Option<&'a Export> {
    let exporter = accounts.iter().find(|a| a.name == import.account)?;
    exporter.exports.iter().find(|e| {
        e.kind == import.kind
            && subject::is_subset(import.subject.as_bytes(), e.subject.as_bytes())
            && (e.accounts.is_empty() || e.accounts.iter().any(|a| a == importer))
    })
}

fn stream_import(from: &Arc<Account>, to: &Arc<Account>, import: &Import) {
    let local = import
        .local
        .clone()
        .unwrap_or_else(|| import.subject.clone());
    let fwd = StreamForward {
        to: Arc::downgrade(to),
        remote: import.subject.clone(),
        local,
    };
    let sub = Subscription::new(
        Bytes::from(import.subject.clone()),
        None,
        Bytes::from_static(b"import"),
        SubTarget::Internal(Arc::new(fwd)),
    );
    from.sublist.insert(Arc::new(sub));
    to.add_stream_exporter(from);
}

fn service_import(from: &Arc<Account>, to: &Arc<Account>, import: &Import, response_stream: bool) {
    let local = import
        .local
        .clone()
        .unwrap_or_else(|| import.subject.clone());
    if subject::matches(local.as_bytes(), b"$JS.API.INFO") {
        // Its JetStream is the exporter's: no "not enabled" answer as well.
        to.imports_js_api
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let fwd = ServiceForward {
        exporter: Arc::downgrade(from),
        importer: Arc::downgrade(to),
        remote: import.subject.clone(),
        local: local.clone(),
        response_stream,
        runtime: tokio::runtime::Handle::current(),
    };
    let sub = Subscription::new(
        Bytes::from(local),
        None,
        Bytes::from_static(b"import"),
        SubTarget::Internal(Arc::new(fwd)),
    );
    to.sublist.insert(Arc::new(sub));
}

/// `subject` matched `from` (a pattern); the same tokens under `to`: each
/// wildcard of `to` takes what the same wildcard of `from` matched, in order.
pub fn map_subject(from: &str, to: &str, subject: &[u8]) -> Vec<u8> {
    if from == to {
        return subject.to_vec();
    }
    let tokens: Vec<&[u8]> = subject.split(|b| *b == b'.').collect();
    let mut stars: Vec<&[u8]> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    for (i, pat) in from.split('.').enumerate() {
        match pat {
            "*" => stars.push(tokens.get(i).copied().unwrap_or(b"")),
            ">" => {
                tail = tokens.get(i..).unwrap_or(&[]).join(&b'.');
                break;
            }
            _ => {}
        }
    }
    let mut stars = stars.into_iter();
    let mapped: Vec<&[u8]> = to
        .split('.')
        .map(|pat| match pat {
            ">" => tail.as_slice(),
            "*" => stars.next().unwrap_or(b""),
            lit => lit.as_bytes(),
        })
        .collect();
    mapped.join(&b'.')
}

/// Route `d` in `account` to `to`, shown as `subject`, with `reply`; how
/// many got it.
fn reroute(
    account: &Account,
    d: &Delivery<'_>,
    to: &[u8],
    subject: &[u8],
    reply: Option<&[u8]>,
) -> usize {
    let hops = HOPS.with(|h| h.get());
    if hops >= HOPS_MAX {
        return 0;
    }
    HOPS.with(|h| h.set(hops + 1));
    let moved = Delivery {
        subject,
        routed: (to != subject).then_some(to),
        reply,
        ..d.clone()
    };
    let result = account.sublist.match_subject(to);
    let mut flush = FlushList::default();
    let n = crate::router::route(&account.sublist, &result, &moved, true, &mut flush);
    flush.flush();
    HOPS.with(|h| h.set(hops));
    n
}

struct StreamForward {
    to: Weak<Account>,
    remote: String,
    local: String,
}

impl InternalSubscriber for StreamForward {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(to) = self.to.upgrade() else {
            return false;
        };
        let by = map_subject(&self.remote, &self.local, d.routed.unwrap_or(d.subject));
        // A stored message keeps the subject it was stored under.
        let shown = if d.routed.is_some() { d.subject } else { &by };
        reroute(&to, d, &by, shown, d.reply) > 0
    }

    fn has_interest(&self, subject: &[u8]) -> bool {
        let hops = HOPS.with(|h| h.get());
        if hops >= HOPS_MAX {
            return false;
        }
        let Some(to) = self.to.upgrade() else {
            return false;
        };
        HOPS.with(|h| h.set(hops + 1));
        let local = map_subject(&self.remote, &self.local, subject);
        let any = to.has_interest(&local);
        HOPS.with(|h| h.set(hops));
        any
    }
}

struct ServiceForward {
    exporter: Weak<Account>,
    importer: Weak<Account>,
    remote: String,
    local: String,
    response_stream: bool,
    runtime: tokio::runtime::Handle,
}

impl InternalSubscriber for ServiceForward {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(exporter) = self.exporter.upgrade() else {
            return false;
        };
        let subject = map_subject(&self.local, &self.remote, d.routed.unwrap_or(d.subject));
        let importer = self.importer.upgrade();
        let name = importer.as_ref().map_or("", |a| a.name.as_str());
        let payload = with_request_info(d, name);
        let d = &Delivery {
            headers_len: payload.len() - (d.payload.len() - d.headers_len),
            has_headers: true,
            payload: &payload,
            ..d.clone()
        };
        let Some(reply) = d.reply else {
            return reroute(&exporter, d, &subject, &subject, None) > 0;
        };
        let mapped = response_subject();
        let back = Subscription::new(
            Bytes::from(mapped.clone()),
            None,
            Bytes::from_static(b"response"),
            SubTarget::Internal(Arc::new(ResponseForward {
                importer: self.importer.clone(),
                reply: Bytes::copy_from_slice(reply),
            })),
        );
        if !self.response_stream {
            back.set_max(1);
        }
        let back = Arc::new(back);
        exporter.sublist.insert(back.clone());
        let delivered = reroute(&exporter, d, &subject, &subject, Some(mapped.as_bytes()));
        if delivered == 0 {
            exporter.sublist.remove(&back);
            return false;
        }
        // A singleton's route goes with its one answer; any route back is
        // dropped after the threshold.
        let account = Arc::downgrade(&exporter);
        self.runtime.spawn(async move {
            tokio::time::sleep(RESPONSE_STREAM_TTL).await;
            if let Some(a) = account.upgrade() {
                a.sublist.remove(&back);
            }
        });
        true
    }
}

/// The request with a `Nats-Request-Info` header naming the requesting
/// account, as nats-server adds to every service import.
fn with_request_info(d: &Delivery<'_>, account: &str) -> Bytes {
    let line = format!(
        "Nats-Request-Info: {{\"acc\":{}}}\r\n",
        serde_json::json!(account)
    );
    let body = d.payload.get(d.headers_len..).unwrap_or_default();
    let mut out = Vec::with_capacity(d.payload.len() + line.len() + 12);
    match d.payload.get(..d.headers_len) {
        Some(block) if d.has_headers && block.ends_with(b"\r\n\r\n") => {
            out.extend_from_slice(&block[..block.len() - 2]);
        }
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// A fresh `_R_.<id>` reply subject for a forwarded request.
fn response_subject() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(4 + REPLY_ID_LEN);
    s.push_str("_R_.");
    for _ in 0..REPLY_ID_LEN {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

/// Carries an answer from the exporter's `_R_` subject to the requester.
struct ResponseForward {
    importer: Weak<Account>,
    reply: Bytes,
}

impl InternalSubscriber for ResponseForward {
    fn deliver(&self, d: &Delivery<'_>) -> bool {
        let Some(importer) = self.importer.upgrade() else {
            return false;
        };
        // A plain answer shows the requester's reply subject; a message
        // routed to it under its own subject (a JetStream pull delivers a
        // stored message so) keeps that subject.
        let shown = if d.routed.is_none() {
            &self.reply[..]
        } else {
            d.subject
        };
        reroute(&importer, d, &self.reply, shown, d.reply) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::map_subject;

    #[test]
    fn maps_wildcards_in_order() {
        let m = |f, t, s: &str| String::from_utf8(map_subject(f, t, s.as_bytes())).unwrap();
        assert_eq!(
            m("$JS.API.>", "IPA.>", "$JS.API.STREAM.INFO.S"),
            "IPA.STREAM.INFO.S"
        );
        assert_eq!(m("IPA.>", "$JS.API.>", "IPA.INFO"), "$JS.API.INFO");
        assert_eq!(m("a.*.c", "x.*", "a.b.c"), "x.b");
        assert_eq!(m("foo.>", "foo.>", "foo.bar"), "foo.bar");
        assert_eq!(m("svc", "local", "svc"), "local");
        assert_eq!(m("a.>", "p.a.>", "a.b.c"), "p.a.b.c");
    }
}
