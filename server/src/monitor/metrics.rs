//! `/metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Names follow Prometheus conventions: a `nile_` prefix, base units
//! (`_bytes`, `_seconds`), `_total` on counters. Per-stream and per-consumer
//! families are labelled by `account`, `stream` (and `consumer`); they come
//! from the JetStream snapshot, so they are empty until JetStream registers.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::jetstream::{Histogram, SnapshotWants};
use super::{jsz, procstat};
use crate::server::{Server, NATS_VERSION};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(server: &Server) -> String {
    let mut m = Metrics::default();
    core(&mut m, server);
    jetstream(&mut m, server);
    engine(&mut m);
    m.out
}

fn core(m: &mut Metrics, server: &Server) {
    let o = server.options();
    let [in_msgs, in_bytes, out_msgs, out_bytes] = server.traffic();
    let t = &server.totals;
    let start = server.start.duration_since(UNIX_EPOCH).unwrap_or_default();
    let uptime = SystemTime::now()
        .duration_since(server.start)
        .unwrap_or_default();
    m.gauge("nile_info", "Server identity; the value is always 1.");
    let nile_version = env!("CARGO_PKG_VERSION");
    m.sample(
        "nile_info",
        &[
            ("version", nile_version),
            ("nats_version", NATS_VERSION),
            ("server_id", &server.server_id),
            ("server_name", &server.server_name),
        ],
        1,
    );
    m.one(
        "nile_start_time_seconds",
        "gauge",
        "Start time, seconds since the Unix epoch.",
        start.as_secs_f64(),
    );
    m.one(
        "nile_uptime_seconds",
        "gauge",
        "Seconds since start.",
        uptime.as_secs_f64(),
    );
    m.one(
        "nile_connections",
        "gauge",
        "Client connections open now.",
        server.clients.lock().len(),
    );
    m.one(
        "nile_connections_accepted_total",
        "counter",
        "Client connections accepted since start.",
        t.total_connections.load(Ordering::Relaxed),
    );
    m.one(
        "nile_max_connections",
        "gauge",
        "Configured connection limit.",
        o.connections_max,
    );
    m.one(
        "nile_subscriptions",
        "gauge",
        "Subscriptions now, JetStream's internal ones included.",
        server.accounts.subs_count(),
    );
    m.one(
        "nile_received_messages_total",
        "counter",
        "Messages published by clients.",
        in_msgs,
    );
    m.one(
        "nile_received_bytes_total",
        "counter",
        "Payload bytes published by clients.",
        in_bytes,
    );
    m.one(
        "nile_sent_messages_total",
        "counter",
        "Messages delivered to clients.",
        out_msgs,
    );
    m.one(
        "nile_sent_bytes_total",
        "counter",
        "Payload bytes delivered to clients.",
        out_bytes,
    );
    m.one(
        "nile_slow_consumers_total",
        "counter",
        "Clients disconnected for not reading fast enough.",
        t.slow_consumers.load(Ordering::Relaxed),
    );
    m.one(
        "nile_stale_connections_total",
        "counter",
        "Clients disconnected for not answering PINGs.",
        server.monitor.stale_connections(),
    );
    m.one(
        "nile_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the process.",
        procstat::rss_bytes(),
    );
    m.one(
        "nile_process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the process.",
        procstat::cpu_seconds(),
    );
    m.counter(
        "nile_http_requests_total",
        "Monitoring requests served, by endpoint.",
    );
    for (path, n) in server.monitor.http_requests() {
        m.sample("nile_http_requests_total", &[("path", path)], n);
    }
}

fn jetstream(m: &mut Metrics, server: &Server) {
    let o = server.options();
    let enabled = o.jetstream.enabled;
    let wants = SnapshotWants {
        streams: true,
        consumers: true,
        ..SnapshotWants::default()
    };
    let snap = jsz::snapshot(server, &wants);
    let t = snap.totals();
    m.one(
        "nile_jetstream_enabled",
        "gauge",
        "1 if JetStream is enabled.",
        u8::from(enabled),
    );
    if enabled {
        let c = jsz::config_json(&o, &snap);
        m.one(
            "nile_jetstream_max_memory_bytes",
            "gauge",
            "Memory JetStream may use.",
            c.max_memory,
        );
        m.one(
            "nile_jetstream_max_storage_bytes",
            "gauge",
            "Disk JetStream may use.",
            c.max_storage,
        );
    }
    m.one(
        "nile_jetstream_memory_bytes",
        "gauge",
        "Bytes held by memory streams.",
        t.memory,
    );
    m.one(
        "nile_jetstream_storage_bytes",
        "gauge",
        "Bytes held by file streams.",
        t.storage,
    );
    m.one(
        "nile_jetstream_accounts",
        "gauge",
        "Accounts with JetStream enabled.",
        snap.accounts.len(),
    );
    m.one("nile_jetstream_streams", "gauge", "Streams.", t.streams);
    m.one(
        "nile_jetstream_consumers",
        "gauge",
        "Consumers.",
        t.consumers,
    );
    m.one(
        "nile_jetstream_messages",
        "gauge",
        "Messages stored over all streams.",
        t.messages,
    );
    m.one(
        "nile_jetstream_api_requests_total",
        "counter",
        "JetStream API requests.",
        t.api_total,
    );
    m.one(
        "nile_jetstream_api_errors_total",
        "counter",
        "JetStream API requests answered with an error.",
        t.api_errors,
    );
    streams(m, &snap);
}

/// The storage engine's durability histograms: process-wide, summed over
/// every stream, so they only ever grow.
fn engine(m: &mut Metrics) {
    let stats = nile_engine::stats::sync_stats();
    m.histogram(
        "nile_engine_fsync_seconds",
        "Time per fdatasync of a file the storage engine writes (segments, tombstones, consumer state, metadata).",
        &Histogram::scaled(&stats.fsync_ns.snapshot(), 1e9),
    );
    m.histogram(
        "nile_engine_group_commit_records",
        "Messages made durable per group-commit fdatasync, over all streams.",
        &Histogram::scaled(&stats.group_commit_records.snapshot(), 1.0),
    );
}

type StreamValue = fn(&super::jetstream::StreamSnapshot) -> u64;
type ConsumerValue = fn(&super::jetstream::ConsumerSnapshot) -> u64;

/// Per-stream and per-consumer gauges, one family at a time as the format wants.
fn streams(m: &mut Metrics, snap: &super::jetstream::JetStreamSnapshot) {
    let stream_families: [(&str, &str, StreamValue); 6] = [
        ("nile_stream_messages", "Messages in the stream.", |s| {
            s.messages
        }),
        ("nile_stream_bytes", "Bytes in the stream.", |s| s.bytes),
        (
            "nile_stream_first_seq",
            "First sequence in the stream.",
            |s| s.first_seq,
        ),
        (
            "nile_stream_last_seq",
            "Last sequence in the stream.",
            |s| s.last_seq,
        ),
        (
            "nile_stream_subjects",
            "Distinct subjects in the stream.",
            |s| s.num_subjects,
        ),
        ("nile_stream_consumers", "Consumers of the stream.", |s| {
            s.consumer_count
        }),
    ];
    for (name, help, value) in stream_families {
        m.gauge(name, help);
        for a in &snap.accounts {
            for s in &a.streams {
                m.sample(name, &[("account", &a.name), ("stream", &s.name)], value(s));
            }
        }
    }
    let consumer_families: [(&str, &str, ConsumerValue); 8] = [
        (
            "nile_consumer_num_pending",
            "Messages not yet delivered.",
            |c| c.num_pending,
        ),
        (
            "nile_consumer_num_ack_pending",
            "Messages delivered, not yet acknowledged.",
            |c| c.num_ack_pending,
        ),
        (
            "nile_consumer_num_redelivered",
            "Messages redelivered at least once.",
            |c| c.num_redelivered,
        ),
        ("nile_consumer_num_waiting", "Pull requests waiting.", |c| {
            c.num_waiting
        }),
        (
            "nile_consumer_delivered_consumer_seq",
            "Last delivered consumer sequence.",
            |c| c.delivered.consumer_seq,
        ),
        (
            "nile_consumer_delivered_stream_seq",
            "Last delivered stream sequence.",
            |c| c.delivered.stream_seq,
        ),
        (
            "nile_consumer_ack_floor_consumer_seq",
            "Ack floor, consumer sequence.",
            |c| c.ack_floor.consumer_seq,
        ),
        (
            "nile_consumer_ack_floor_stream_seq",
            "Ack floor, stream sequence.",
            |c| c.ack_floor.stream_seq,
        ),
    ];
    for (name, help, value) in consumer_families {
        m.gauge(name, help);
        for a in &snap.accounts {
            for s in &a.streams {
                for c in &s.consumers {
                    let labels = [
                        ("account", a.name.as_str()),
                        ("stream", &s.name),
                        ("consumer", &c.name),
                    ];
                    m.sample(name, &labels, value(c));
                }
            }
        }
    }
}

#[derive(Default)]
struct Metrics {
    out: String,
}

impl Metrics {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn gauge(&mut self, name: &str, help: &str) {
        self.header(name, "gauge", help);
    }

    fn counter(&mut self, name: &str, help: &str) {
        self.header(name, "counter", help);
    }

    /// A family with one unlabelled sample.
    fn one(&mut self, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
        self.header(name, kind, help);
        self.sample(name, &[], v);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label(&mut self.out, val);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {v}");
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (le, n) in &h.buckets {
            self.sample(&bucket, &[("le", &le.to_string())], n);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count);
        self.sample(&format!("{name}_sum"), &[], h.sum);
        self.sample(&format!("{name}_count"), &[], h.count);
    }
}

/// Label values escape backslash, double quote and newline.
fn escape_label(out: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_histograms() {
        let mut m = Metrics::default();
        m.gauge("x", "X.");
        m.sample("x", &[("stream", "a\"b\\c\nd")], 1);
        m.histogram(
            "h_seconds",
            "H.",
            &Histogram {
                buckets: vec![(0.001, 2), (0.01, 5)],
                sum: 0.02,
                count: 6,
            },
        );
        let want = "# HELP x X.\n# TYPE x gauge\nx{stream=\"a\\\"b\\\\c\\nd\"} 1\n\
                    # HELP h_seconds H.\n# TYPE h_seconds histogram\n\
                    h_seconds_bucket{le=\"0.001\"} 2\nh_seconds_bucket{le=\"0.01\"} 5\n\
                    h_seconds_bucket{le=\"+Inf\"} 6\nh_seconds_sum 0.02\nh_seconds_count 6\n";
        assert_eq!(m.out, want);
    }
}
