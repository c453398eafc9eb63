//! The monitoring listener (`-m`, `http_port`, `http`): nats-server's HTTP
//! endpoints. A small HTTP/1.1 GET server: monitoring needs nothing more.

mod endpoints;
mod http;

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
