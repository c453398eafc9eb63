//! Connecting to the server under test, with errors mapped to exit codes.

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions};

use crate::cli::ConnArgs;
use crate::error::{BenchError, Result};

/// Messages a subscription buffers in the client before it drops them. Large,
/// so that a burst from a fast server is not counted as a client loss.
const SUBSCRIPTION_CAPACITY: usize = 1 << 20;

/// One connection per benchmark client, as `nats bench` does: sharing one
/// socket would measure the client's multiplexing, not the server.
pub async fn connect(conn: &ConnArgs, name: &str) -> Result<Client> {
    let mut opts = ConnectOptions::new()
        .name(format!("nile-bench {name}"))
        .connection_timeout(Duration::from_secs(5))
        .subscription_capacity(SUBSCRIPTION_CAPACITY)
        // A benchmark that silently reconnects would report nonsense.
        .max_reconnects(0)
        .request_timeout(Some(Duration::from_secs(10)));
    if let Some(token) = &conn.token {
        opts = opts.token(token.clone());
    }
    if conn.user.is_some() || conn.password.is_some() {
        opts = opts.user_and_password(
            conn.user.clone().unwrap_or_default(),
            conn.password.clone().unwrap_or_default(),
        );
    }
    opts.connect(conn.url.as_str()).await.map_err(|e| {
        let msg = format!("{}: {e}", conn.url);
        match e.kind() {
            ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
                BenchError::Auth(msg)
            }
            ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => {
                BenchError::Connect(format!("{msg} (is the server running?)"))
            }
            _ => BenchError::Connect(msg),
        }
    })
}

/// Connects `n` clients named `role-0`, `role-1`, ...
pub async fn connect_many(conn: &ConnArgs, role: &str, n: usize) -> Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(connect(conn, &format!("{role}-{i}")).await?);
    }
    Ok(clients)
}

/// Waits until the server has processed everything this client sent so far.
/// `flush` only empties our socket buffer; an echo through a private inbox
/// proves the server handled earlier SUBs, in any server that speaks core NATS.
pub async fn round_trip(client: &Client) -> Result<()> {
    use futures::StreamExt;
    let inbox = client.new_inbox();
    let mut sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| BenchError::from_core("subscribe", e))?;
    client
        .publish(inbox, bytes::Bytes::new())
        .await
        .map_err(|e| BenchError::from_core("publish", e))?;
    client
        .flush()
        .await
        .map_err(|e| BenchError::from_core("flush", e))?;
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(BenchError::Other("connection closed".into())),
        Err(_) => Err(BenchError::Timeout(
            "the server did not echo a message to our own subscription".into(),
        )),
    }
}
