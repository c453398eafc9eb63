//! Handing a turn's messages to their subscribers, after the state lock is
//! released.
//!
//! A turn's messages mostly go to one subject (the push subject, or the
//! inbox of the pull request being served) with one client subscribed. For
//! such a run of messages the route is looked up once, and every MSG/HMSG
//! frame, `$JS.ACK` reply included, is written straight into that client's
//! outbound buffer under one lock per chunk: no reply subject, payload copy
//! or route per message. Anything else (queue groups, several or internal
//! subscribers, `allow_responses` clients) takes the general router path.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;

use super::deliver::Out;
use super::Consumer;
use crate::client::{ClientHandle, FlushList};
use crate::proto::encode;
use crate::router::RouteCache;
use crate::sublist::SubResult;
use crate::subscription::{Budget, SubTarget, Subscription};

/// Frames appended per lock of the subscriber's buffer, at most about this
/// many bytes: the slow-consumer limit is checked after each chunk, and
/// publishers to the same client do not wait behind a whole turn.
const CHUNK_BYTES_MAX: usize = 256 * 1024;

/// The numbers of a delivered message's `$JS.ACK` reply, written out only
/// into the frame that carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckReply {
    /// Deliveries, stream sequence, consumer sequence.
    pub nums: [u64; 3],
    pub ts: i64,
    pub pending: u64,
}

/// The longest `.<deliveries>.<sseq>.<dseq>.<ts>.<pending>`: five numbers
/// of at most 20 digits, a sign, five dots.
const ACK_NUMBERS_BYTES_MAX: usize = 5 * 21 + 1;

impl AckReply {
    /// The length of the whole reply behind a `prefix_bytes`-long
    /// `$JS.ACK.<stream>.<consumer>`, without writing it.
    pub(crate) fn len_after(&self, prefix_bytes: usize) -> usize {
        let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let nums: usize = self.nums.iter().map(|n| digits(*n)).sum();
        let sign = usize::from(self.ts < 0);
        prefix_bytes + 5 + nums + sign + digits(self.ts.unsigned_abs()) + digits(self.pending)
    }

    /// The reply's numbers, after the `$JS.ACK.<stream>.<consumer>` prefix.
    fn numbers(&self) -> encode::Backwards<ACK_NUMBERS_BYTES_MAX> {
        let mut b = encode::Backwards::new();
        b.decimal(self.pending);
        b.byte(b'.');
        b.decimal(self.ts.unsigned_abs());
        if self.ts < 0 {
            b.byte(b'-');
        }
        for n in self.nums.iter().rev() {
            b.byte(b'.');
            b.decimal(*n);
        }
        b.byte(b'.');
        b
    }
}

impl Consumer {
    /// `$JS.ACK.<stream>.<consumer>`, the start of every ack reply.
    fn ack_prefix(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(8 + self.stream_name.len() + 1 + self.name.len());
        p.extend_from_slice(b"$JS.ACK.");
        p.extend_from_slice(self.stream_name.as_bytes());
        p.push(b'.');
        p.extend_from_slice(self.name.as_bytes());
        p
    }
}

/// Publish `out` in order. The caller flushes `flush` (one wake-up per
/// subscriber for the whole turn).
pub(super) fn publish(c: &Consumer, routes: &mut RouteCache, flush: &mut FlushList, out: &[Out]) {
    let ack_prefix = c.ack_prefix();
    let mut rest = out;
    while let Some(first) = rest.first() {
        let run_len = rest.iter().take_while(|o| o.to == first.to).count();
        let (run, next) = rest.split_at(run_len);
        rest = next;
        let result = routes.lookup(&c.account.sublist, &first.to);
        let mut sent = 0;
        if let Some((sub, client)) = sole_client(&result) {
            sent = write_direct(c, sub, client, run, &ack_prefix);
            if sent > 0 {
                flush.add(client);
            }
        }
        // What the direct path did not take (none of it, or the rest after
        // the subscription's UNSUB max) goes through the router.
        for o in &run[sent..] {
            routed(c, routes, flush, o, &ack_prefix);
        }
    }
}

/// The general path: one message through the router.
fn routed(
    c: &Consumer,
    routes: &mut RouteCache,
    flush: &mut FlushList,
    o: &Out,
    ack_prefix: &[u8],
) {
    let reply = match &o.ack {
        Some(a) => Some([ack_prefix, a.numbers().as_slice()].concat()),
        None => o.reply.as_deref().map(<[u8]>::to_vec),
    };
    c.account.publish_routed(
        routes,
        flush,
        &o.to,
        &o.subject,
        reply.as_deref(),
        &o.headers,
        &o.body,
    );
}

/// The one client subscribed to a subject, when that is all there is to
/// deliver to (no queue group, no internal subscriber, no reply grants).
fn sole_client(result: &SubResult) -> Option<(&Arc<Subscription>, &Arc<ClientHandle>)> {
    let [sub] = result.psubs.as_slice() else {
        return None;
    };
    if !result.qsubs.is_empty() {
        return None;
    }
    let SubTarget::Client(client) = &sub.target else {
        return None;
    };
    if client.responses.lock().is_some() {
        return None;
    }
    Some((sub, client))
}

/// Write the frames of `run` into `client`'s buffer. Returns how many
/// messages were dealt with (delivered or filtered out); fewer than
/// `run.len()` when the subscription's budget ran out or the client closed,
/// and the router then sees (and drops) the rest as it would have.
fn write_direct(
    c: &Consumer,
    sub: &Arc<Subscription>,
    client: &ClientHandle,
    run: &[Out],
    ack_prefix: &[u8],
) -> usize {
    let headers_ok = client.headers.load(Ordering::Relaxed);
    let mut done = 0;
    let mut last = false;
    while done < run.len() && !last {
        let open = client.queue_frames(|buf| {
            let (mut msgs, mut bytes) = (0u64, 0u64);
            let start = buf.len();
            while done < run.len() && buf.len() - start < CHUNK_BYTES_MAX {
                let o = &run[done];
                if sub
                    .deny
                    .as_ref()
                    .is_some_and(|r| r.denies_literal(&o.subject))
                {
                    done += 1;
                    continue;
                }
                match sub.take_one() {
                    Budget::Spent => break,
                    Budget::Last => last = true,
                    Budget::Open => {}
                }
                put_frame(buf, &sub.sid, o, headers_ok, ack_prefix);
                msgs += 1;
                bytes += (o.headers.len() + o.body.len()) as u64;
                done += 1;
                if last {
                    break;
                }
            }
            (msgs, bytes)
        });
        if !open {
            break;
        }
        if done < run.len() && !last && sub.is_spent() {
            break;
        }
    }
    if last {
        c.account.sublist.remove(sub);
    }
    done
}

/// One MSG/HMSG as the router would have written it for this client.
fn put_frame(buf: &mut BytesMut, sid: &[u8], o: &Out, headers_ok: bool, ack_prefix: &[u8]) {
    // A client without header support gets the body alone as a plain MSG.
    let headers = (!o.headers.is_empty() && headers_ok).then_some(&o.headers[..]);
    match (&o.ack, &o.reply) {
        (Some(a), _) => {
            let numbers = a.numbers();
            let reply = [ack_prefix, numbers.as_slice()];
            encode::msg_parts(buf, &o.subject, sid, reply, headers, &o.body);
        }
        (None, reply) => {
            let reply = [reply.as_deref().unwrap_or_default(), &[]];
            encode::msg_parts(buf, &o.subject, sid, reply, headers, &o.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AckReply;

    #[test]
    fn ack_numbers_read_as_formatted() {
        for (nums, ts, pending) in [
            ([1, 1, 1], 0, 0),
            ([2, 98_765, 100_001], 1_764_000_000_123_456_789, 7),
            ([u64::MAX, u64::MAX, u64::MAX], i64::MIN, u64::MAX),
            ([9, 10, 99], -5, 100),
        ] {
            let a = AckReply { nums, ts, pending };
            let want = format!(".{}.{}.{}.{ts}.{pending}", nums[0], nums[1], nums[2]);
            assert_eq!(a.numbers().as_slice(), want.as_bytes());
            assert_eq!(a.len_after(10), 10 + want.len(), "{want}");
        }
    }
}
