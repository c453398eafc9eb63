//! Codec micro benchmarks: parse client ops, encode MSG/HMSG frames.
//!
//! cargo bench -p nile-server --bench codec
//!
//! Parse runs over a buffer of many frames, as one socket read delivers
//! them; throughput is reported in frames (elements) per second.

use bytes::{BufMut, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nile_server::proto::{encode, parse, ClientOp, ParseLimits};

const LIMITS: ParseLimits = ParseLimits {
    control_line_bytes_max: 4096,
    payload_bytes_max: 1024 * 1024,
};

/// Frames per parse batch: about what one 64 KiB read holds at 128 B.
const FRAMES_PER_BATCH: usize = 400;

fn frames(one: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(one.len() * FRAMES_PER_BATCH);
    for _ in 0..FRAMES_PER_BATCH {
        b.put_slice(one);
    }
    b
}

fn pub_frame(size: usize) -> Vec<u8> {
    let mut f = format!("PUB bench.subject.0 _INBOX.abc.1 {size}\r\n").into_bytes();
    f.extend(std::iter::repeat_n(b'x', size));
    f.extend_from_slice(b"\r\n");
    f
}

fn hpub_frame(size: usize) -> Vec<u8> {
    let hdrs = b"NATS/1.0\r\nNats-Msg-Id: 1234567890\r\n\r\n";
    let total = hdrs.len() + size;
    let mut f = format!("HPUB bench.subject.0 {} {total}\r\n", hdrs.len()).into_bytes();
    f.extend_from_slice(hdrs);
    f.extend(std::iter::repeat_n(b'x', size));
    f.extend_from_slice(b"\r\n");
    f
}

fn parse_all(mut buf: BytesMut) -> usize {
    let mut n = 0;
    while let Ok(Some(op)) = parse(&mut buf, &LIMITS) {
        if let ClientOp::Pub(p) = op {
            n += p.payload.len();
        }
    }
    n
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(FRAMES_PER_BATCH as u64));
    for (name, frame) in [
        ("pub_16B", pub_frame(16)),
        ("pub_128B", pub_frame(128)),
        ("pub_4KiB", pub_frame(4096)),
        ("hpub_128B", hpub_frame(128)),
        ("ping", b"PING\r\n".to_vec()),
        ("sub", b"SUB bench.> q1 42\r\n".to_vec()),
    ] {
        let input = frames(&frame);
        g.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |buf| black_box(parse_all(buf)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let hdrs = b"NATS/1.0\r\nNats-Msg-Id: 1234567890\r\n\r\n";
    for size in [16usize, 128, 4096] {
        let body = vec![b'x'; size];
        let mut with_hdrs = hdrs.to_vec();
        with_hdrs.extend_from_slice(&body);
        let mut out = BytesMut::with_capacity(1 << 20);
        g.bench_function(format!("msg_{size}B"), |b| {
            b.iter(|| {
                if out.len() > (1 << 20) - 8192 {
                    out.clear();
                }
                encode::msg(
                    &mut out,
                    b"bench.subject.0",
                    b"17",
                    Some(b"_INBOX.abc.1"),
                    0,
                    false,
                    black_box(&body),
                );
            })
        });
        g.bench_function(format!("hmsg_{size}B"), |b| {
            b.iter(|| {
                if out.len() > (1 << 20) - 8192 {
                    out.clear();
                }
                encode::msg(
                    &mut out,
                    b"bench.subject.0",
                    b"17",
                    None,
                    hdrs.len(),
                    true,
                    black_box(&with_hdrs),
                );
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse, bench_encode);
criterion_main!(benches);
