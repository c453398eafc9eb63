//! The monitoring listener (`-m`, `http_port`, `http`): nats-server's HTTP
//! endpoints (`/varz`, `/connz`, `/subsz`, `/jsz`, `/healthz`, `/`, and the
//! empty standalone `/routez`, `/gatewayz`, `/leafz`, `/accountz`) and
//! Prometheus `/metrics`. A small HTTP/1.1 GET server: monitoring needs
//! nothing more.
//!
//! Nothing here runs per message: traffic counters live on each connection
//! ([`crate::client::Counters`]) and are summed when a request comes in.
//! JetStream's numbers come from a [`JetStreamSource`] it registers with
//! [`MonitorState::set_jetstream`].

mod connz;
#[cfg(test)]
mod contract_tests;
mod endpoints;
mod http;
pub mod jetstream;
mod jsz;
mod metrics;
mod procstat;
mod query;
mod standalone;
mod state;
mod subsz;
pub mod sys;
mod varz;

pub use jetstream::{JetStreamSnapshot, JetStreamSource, SnapshotWants};
pub use state::{ClosedConn, MonitorState};

use std::net::SocketAddr;
use std::sync::Arc;

use crate::server::Server;
use crate::start::StartError;

/// Bind the monitoring port if configured; log nats-server's line.
pub async fn start(server: &Arc<Server>) -> Result<Option<SocketAddr>, StartError> {
    let opts = server.options();
    let Some(port) = opts.http_port else {
        return Ok(None);
    };
    let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
    let addr = format!("{host}:{}", port.bind_port());
    let (listener, local) = crate::start::bind_listener(&addr).await?;
    *server.http_addr.lock() = Some(local);
    tracing::info!("Starting http monitor on {host}:{}", local.port());
    tokio::spawn(http::serve(server.clone(), listener));
    Ok(Some(local))
}

/// A duration as nats-server prints uptimes: `1y2d3h4m5s`, largest unit first.
pub fn uptime(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A round-trip time as nats-server's `/connz` shows it: Go's
/// `Duration.String()` (`0s`, `850ns`, `105µs`, `2.054704ms`, `1m2.5s`),
/// truncated to whole microseconds between 1 µs and 1 ms.
pub fn rtt(d: std::time::Duration) -> String {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let ns = if ns > 1_000 && ns < 1_000_000 {
        ns - ns % 1_000
    } else {
        ns
    };
    go_duration(ns)
}

/// Go's `time.Duration.String()` for a non-negative duration in nanoseconds.
pub(crate) fn go_duration(ns: u64) -> String {
    const SEC: u64 = 1_000_000_000;
    match ns {
        0 => "0s".to_string(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", decimal(n, 3)),
        n if n < SEC => format!("{}ms", decimal(n, 6)),
        n => {
            let secs = decimal(n % (60 * SEC), 9);
            let (mins, hours) = (n / (60 * SEC) % 60, n / (3600 * SEC));
            if hours > 0 {
                format!("{hours}h{mins}m{secs}s")
            } else if mins > 0 {
                format!("{mins}m{secs}s")
            } else {
                format!("{secs}s")
            }
        }
    }
}

/// `v / 10^places` in decimal, trailing fractional zeros dropped.
fn decimal(v: u64, places: u32) -> String {
    let unit = 10u64.pow(places);
    let (int, frac) = (v / unit, v % unit);
    if frac == 0 {
        return int.to_string();
    }
    let digits = format!("{frac:0width$}", width = places as usize);
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn rtt_as_go_prints_durations() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_000), "1µs"),
            // Between 1 µs and 1 ms nats-server truncates to microseconds.
            (Duration::from_nanos(105_999), "105µs"),
            (Duration::from_nanos(1_500), "1µs"),
            (Duration::from_nanos(2_054_704), "2.054704ms"),
            (Duration::from_millis(1), "1ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_nanos(1_000_000_001), "1.000000001s"),
            (
                Duration::from_secs(62) + Duration::from_millis(500),
                "1m2.5s",
            ),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3600 * 26 + 61), "26h1m1s"),
        ];
        for (d, want) in cases {
            assert_eq!(super::rtt(d), want, "{d:?}");
        }
    }

    #[test]
    fn uptime_as_nats_server() {
        assert_eq!(super::uptime(Duration::from_millis(999)), "0s");
        assert_eq!(super::uptime(Duration::from_secs(61)), "1m1s");
        assert_eq!(
            super::uptime(Duration::from_secs(3600 * 25 + 2)),
            "1d1h0m2s"
        );
        assert_eq!(
            super::uptime(Duration::from_secs(86_400 * 366)),
            "1y1d0h0m0s"
        );
    }
}
