//! Start-up and shutdown: bind listeners, write the pid and ports files,
//! log what harnesses look for, and handle signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::client::CloseReason;
use crate::options::Options;
use crate::server::{Server, NATS_VERSION};

/// Everything that can stop start-up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Error listening on port: {addr}, {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("Could not write {what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("JetStream: {0}")]
    JetStream(crate::jetstream::JetStreamError),
    #[error("Could not create store directory {path}: {source}")]
    StoreDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A started server and the addresses it listens on.
pub struct Running {
    pub server: Arc<Server>,
    pub client_addr: SocketAddr,
    ports_file: Option<PathBuf>,
}

/// Bind and start serving; returns once the listeners are up.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    let server = Server::new(opts);
    let opts = server.options();
    tracing::info!("Starting nats-server");
    tracing::info!(
        "  Version:  {NATS_VERSION} (nile {})",
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!("  Name:     {}", server.server_name);
    tracing::info!("  ID:       {}", server.server_id);
    for w in &opts.warnings {
        tracing::warn!("{w}");
    }
    if opts.jetstream.enabled {
        start_jetstream(&opts)?;
        let global = server.accounts.global().clone();
        if crate::jetstream::accounts::limits_of(&server, &global.name).is_some() {
            // `$G`'s store failing to open stops the server, as before accounts.
            let js = crate::jetstream::JetStream::start(&server, &global, Default::default())
                .map_err(StartError::JetStream)?;
            let _ = global.jetstream.set(js.clone());
            server.monitor.set_jetstream(js.clone());
            let _ = server.jetstream.set(js);
        } else {
            server.attach_jetstream(&global);
        }
    }
    // Every configured account exists (with its JetStream) before imports
    // are wired between them.
    for a in &opts.accounts {
        server.account(Some(&a.name));
    }
    crate::imports::install(&server);
    let addr = format!("{}:{}", opts.host, opts.port.bind_port());
    let listener = bind_clients(&opts.host, opts.port.bind_port())
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let client_addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: opts.host.clone(),
        source,
    })?;
    *server.client_addr.lock() = Some(client_addr);
    let http_addr = crate::monitor::start(&server).await?;
    tracing::info!(
        "Listening for client connections on {}:{}",
        opts.host,
        client_addr.port()
    );
    let ws_addr = start_websocket(&server, &opts).await?;
    write_pid_file(&opts)?;
    let ports_file = write_ports_file(&opts, client_addr, http_addr, ws_addr)?;
    tracing::info!("Server is ready");
    tokio::spawn(server.clone().accept_loop(listener));
    Ok(Running {
        server,
        client_addr,
        ports_file,
    })
}

/// Bind `addr` (`host:port`, port 0 for any) and say which address it got;
/// errors name the address, as nats-server's do.
pub(crate) async fn bind_listener(addr: &str) -> Result<(TcpListener, SocketAddr), StartError> {
    let listen_err = |source| StartError::Listen {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(listen_err)?;
    let bound = listener.local_addr().map_err(listen_err)?;
    Ok((listener, bound))
}

/// The client listener. nats-server (Go) serves both IPv4 and IPv6 on the
/// wildcard `0.0.0.0`, so clients dialling `localhost` reach it over `::1`
/// too: bind `[::]` dual-stack there, falling back to IPv4 only.
async fn bind_clients(host: &str, port: u16) -> std::io::Result<TcpListener> {
    if host == "0.0.0.0" {
        if let Ok(l) = TcpListener::bind(("::", port)).await {
            return Ok(l);
        }
    }
    TcpListener::bind(format!("{host}:{port}")).await
}

/// The `websocket {}` listener, when configured with a port.
async fn start_websocket(
    server: &Arc<Server>,
    opts: &Options,
) -> Result<Option<SocketAddr>, StartError> {
    let Some(ws) = &opts.websocket else {
        return Ok(None);
    };
    if ws.port == crate::options::Port::Fixed(0) {
        return Ok(None);
    }
    let host = ws.host.clone().unwrap_or_else(|| opts.host.clone());
    let addr = format!("{host}:{}", ws.port.bind_port());
    let tls = match &ws.tls {
        Some(t) => Some(crate::tls::acceptor(t).map_err(|e| StartError::Listen {
            addr: addr.clone(),
            source: std::io::Error::other(e.to_string()),
        })?),
        None => None,
    };
    let (listener, bound) = bind_listener(&addr).await?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!(
        "Listening for websocket clients on {scheme}://{host}:{}",
        bound.port()
    );
    if tls.is_none() {
        tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    tokio::spawn(crate::ws::accept_loop(
        server.clone(),
        listener,
        tls,
        ws.handshake_timeout,
    ));
    Ok(Some(bound))
}

fn start_jetstream(opts: &Options) -> Result<(), StartError> {
    let dir = &opts.jetstream.store_dir;
    std::fs::create_dir_all(dir).map_err(|source| StartError::StoreDir {
        path: dir.clone(),
        source,
    })?;
    let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    tracing::info!("Starting JetStream");
    tracing::info!("  Store Directory: \"{}\"", shown.display());
    tracing::info!("  Sync:            {:?}", opts.jetstream.sync);
    Ok(())
}

fn write_pid_file(opts: &Options) -> Result<(), StartError> {
    let Some(path) = &opts.pid_file else {
        return Ok(());
    };
    std::fs::write(path, std::process::id().to_string()).map_err(|source| StartError::File {
        what: "pid file",
        path: path.clone(),
        source,
    })
}

/// `<dir>/<exe>_<pid>.ports`, as nats-server writes it for harnesses using `-p -1`.
fn write_ports_file(
    opts: &Options,
    client: SocketAddr,
    http: Option<SocketAddr>,
    ws: Option<SocketAddr>,
) -> Result<Option<PathBuf>, StartError> {
    let Some(dir) = &opts.ports_file_dir else {
        return Ok(None);
    };
    let mut ports = serde_json::json!({ "nats": advertised_urls("nats", &opts.host, client) });
    if let Some(h) = http {
        let http_host = opts.http_host.as_deref().unwrap_or(&opts.host);
        ports["monitoring"] = serde_json::json!(advertised_urls("http", http_host, h));
    }
    if let (Some(w), Some(wo)) = (ws, &opts.websocket) {
        let ws_host = wo.host.as_deref().unwrap_or(&opts.host);
        let scheme = if wo.tls.is_some() { "wss" } else { "ws" };
        ports["websocket"] = serde_json::json!(advertised_urls(scheme, ws_host, w));
    }
    let path = dir.join(format!("{}_{}.ports", opts.exe_name, std::process::id()));
    std::fs::write(&path, ports.to_string()).map_err(|source| StartError::File {
        what: "ports file",
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

/// The URLs a listener is reached at, for the ports file. A listener on an
/// unspecified address is listed by its loopback addresses, IPv4 first, as
/// nats-server lists its interfaces (harnesses dial the first entry); the
/// dual-stack `[::]` listener takes both.
fn advertised_urls(scheme: &str, host: &str, addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let specified = !(host.is_empty() || host == "0.0.0.0" || host == "::");
    if specified {
        return vec![format!("{scheme}://{host}:{port}")];
    }
    let mut urls = vec![format!("{scheme}://127.0.0.1:{port}")];
    if addr.is_ipv6() {
        urls.push(format!("{scheme}://[::1]:{port}"));
    }
    urls
}

impl Running {
    /// Serve until a signal says stop; handles reload and lame duck.
    pub async fn wait_for_signals(self, reload: impl Fn() -> Option<Options>) {
        let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr2), Ok(mut usr1)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined2()),
            signal(SignalKind::user_defined1()),
        ) else {
            tracing::error!("could not install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => self.reload(reload()),
                _ = usr1.recv() => tracing::info!("Log file reopen is not needed: lines are appended as written"),
                _ = usr2.recv() => { self.lame_duck().await; break; }
                _ = self.server.shutdown.notified() => break,
            }
        }
        tracing::info!("Initiating Shutdown...");
        self.server.begin_shutdown();
        for account in self.server.accounts.all() {
            if let Some(js) = account.jetstream.get() {
                js.shutdown();
            }
        }
        // Give writers a moment to flush their last frames.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if let Some(p) = &self.ports_file {
            let _ = std::fs::remove_file(p);
        }
        tracing::info!("Server Exiting..");
    }

    fn reload(&self, new: Option<Options>) {
        let Some(new) = new else {
            tracing::error!("Failed to reload server configuration");
            return;
        };
        let old = self.server.options();
        if new.port != old.port || new.host != old.host {
            tracing::warn!("Reload: the client listen address cannot change without a restart");
        }
        *self.server.auth.write() = Arc::new(crate::auth::Authenticator::new_or_closed(&new.auth));
        *self.server.opts.write() = Arc::new(Options {
            port: old.port,
            host: old.host.clone(),
            ..new
        });
        // Every client re-checks its login and subscriptions (notify_one
        // keeps the wake-up for a reader busy elsewhere).
        for c in self.server.clients.lock().values() {
            c.reauth.notify_one();
        }
        tracing::info!("Reloaded server configuration");
    }

    /// SIGUSR2: stop accepting, tell clients (INFO `ldm`), then close them
    /// spread over the lame-duck duration.
    async fn lame_duck(&self) {
        let server = &self.server;
        server.lame_duck.store(true, Ordering::Release);
        let opts = server.options();
        tracing::info!("Entering lame duck mode, stop accepting new clients");
        let clients: Vec<_> = server.clients.lock().values().cloned().collect();
        for c in &clients {
            let info = server.info_json(c.cid, None, true, None);
            c.queue(|b| crate::proto::encode::info(b, &info));
            c.signal();
        }
        tokio::time::sleep(opts.lame_duck_grace.min(opts.lame_duck_duration)).await;
        let gap = opts.lame_duck_duration.saturating_sub(opts.lame_duck_grace)
            / (clients.len() as u32).max(1);
        for c in clients {
            c.close_with(CloseReason::ServerShutdown, None);
            tokio::time::sleep(gap.min(std::time::Duration::from_secs(1))).await;
        }
    }
}
