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
mod varz;

pub use jetstream::{JetStreamSnapshot, JetStreamSource, SnapshotWants};
pub use state::{ClosedConn, MonitorState};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

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
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
