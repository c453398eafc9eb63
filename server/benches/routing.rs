//! Subject routing micro benchmarks over 10k subscriptions, wildcards included.
//!
//! cargo bench -p nile-server --bench routing
//!
//! - match: a trie walk (`Sublist::match_subject`) for subjects reaching a
//!   literal, `*` and `>` subscriptions; one reaching nothing.
//! - cache: the per-connection route cache hit a steady publisher sees.
//! - route: a whole delivery, encoding MSG frames into client buffers, to
//!   1 and to 10 subscribers, and to one queue group member.
//! - churn: subscribe and unsubscribe one subscription in the full trie.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nile_server::client::{ClientHandle, FlushList};
use nile_server::router::{self, RouteCache};
use nile_server::sublist::Sublist;
use nile_server::subscription::{Delivery, SubTarget, Subscription};

const SUBS: usize = 10_000;
const REGIONS: usize = 100;
/// Drain a subscriber's buffer past this, as its writer would.
const PENDING_DRAIN_BYTES: usize = 1 << 20;

fn client(cid: u64) -> Arc<ClientHandle> {
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    Arc::new(ClientHandle::new(cid, addr, usize::MAX))
}

fn sub(
    subject: String,
    queue: Option<&str>,
    sid: usize,
    to: &Arc<ClientHandle>,
) -> Arc<Subscription> {
    Arc::new(Subscription::new(
        Bytes::from(subject),
        queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
        Bytes::from(sid.to_string()),
        SubTarget::Client(to.clone()),
    ))
}

/// 10k subscriptions: 9,000 literals `bench.<r>.<i>`, 500 `bench.<r>.*`,
/// 300 `bench.*.<i>`, 100 `bench.<r>.>`, 100 in queue groups `bench.q.<i>`.
/// The subscribers of `bench.7.7` are the ten fan-out clients.
fn build(fanout: &[Arc<ClientHandle>], other: &Arc<ClientHandle>) -> Sublist {
    let sl = Sublist::new();
    let mut sid = 0;
    let mut add = |subject: String, queue: Option<&str>, to: &Arc<ClientHandle>| {
        sid += 1;
        sl.insert(sub(subject, queue, sid, to));
    };
    for i in 0..9_000 {
        add(format!("bench.{}.{i}", i % REGIONS), None, other);
    }
    for i in 0..500 {
        add(format!("bench.{}.*", i % REGIONS + REGIONS), None, other);
    }
    for i in 0..300 {
        add(format!("bench.*.{}", i + 100_000), None, other);
    }
    for i in 0..100 {
        add(format!("bench.{}.>", i + 2 * REGIONS), None, other);
    }
    for i in 0..100 {
        add(
            format!("bench.q.{}", i % 10),
            Some(&format!("g{}", i % 3)),
            other,
        );
    }
    for c in fanout {
        add("bench.7.7".into(), None, c);
    }
    assert!(sl.count() >= SUBS);
    sl
}

fn bench_match(c: &mut Criterion) {
    let other = client(1);
    let sl = build(&[], &other);
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Elements(1));
    for (name, subject) in [
        ("literal", "bench.7.1507"),
        ("pwc_tail", "bench.107.x"),
        ("pwc_middle", "bench.x.100007"),
        ("fwc", "bench.207.a.b.c"),
        ("queue", "bench.q.3"),
        ("none", "other.subject.here"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(sl.match_subject(black_box(subject.as_bytes()))))
        });
    }
    g.finish();
}

fn bench_cache(c: &mut Criterion) {
    let other = client(1);
    let sl = build(&[], &other);
    let mut routes = RouteCache::default();
    let mut g = c.benchmark_group("cache");
    g.throughput(Throughput::Elements(1));
    g.bench_function("hit", |b| {
        b.iter(|| black_box(routes.lookup(&sl, black_box(b"bench.7.1507"))))
    });
    g.finish();
}

fn bench_route(c: &mut Criterion) {
    let other = client(1);
    let fanout: Vec<_> = (0..10).map(|i| client(100 + i)).collect();
    let payload = Bytes::from(vec![b'x'; 128]);
    let d = Delivery {
        subject: b"bench.7.7",
        routed: None,
        reply: None,
        headers_len: 0,
        has_headers: false,
        payload: &payload,
        origin_cid: 0,
    };
    let mut g = c.benchmark_group("route");
    for n in [1usize, 10] {
        let sl = build(&fanout[..n], &other);
        let mut routes = RouteCache::default();
        let mut flush = FlushList::default();
        let mut spare = BytesMut::new();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("fanout_{n}_128B"), |b| {
            b.iter(|| {
                let r = routes.lookup(&sl, d.subject);
                black_box(router::route(&sl, &r, &d, true, &mut flush));
                flush.flush();
                drain(&fanout[..n], &mut spare);
            })
        });
    }
    let sl = build(&[], &other);
    let mut routes = RouteCache::default();
    let mut flush = FlushList::default();
    let mut spare = BytesMut::new();
    let q = Delivery {
        subject: b"bench.q.3",
        ..d.clone()
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("queue_group_128B", |b| {
        b.iter(|| {
            let r = routes.lookup(&sl, q.subject);
            black_box(router::route(&sl, &r, &q, true, &mut flush));
            flush.flush();
            drain(std::slice::from_ref(&other), &mut spare);
        })
    });
    g.finish();
}

fn drain(clients: &[Arc<ClientHandle>], spare: &mut BytesMut) {
    for c in clients {
        if c.pending_bytes() > PENDING_DRAIN_BYTES {
            c.take_output(spare);
            spare.clear();
        }
    }
}

fn bench_churn(c: &mut Criterion) {
    let other = client(1);
    let sl = build(&[], &other);
    let mut g = c.benchmark_group("churn");
    g.throughput(Throughput::Elements(1));
    let s = sub("bench.55.churn".into(), None, 0, &other);
    g.bench_function("sub_unsub", |b| {
        b.iter(|| {
            sl.insert(s.clone());
            black_box(sl.remove(&s));
        })
    });
    g.finish();
}

criterion_group!(benches, bench_match, bench_cache, bench_route, bench_churn);
criterion_main!(benches);
