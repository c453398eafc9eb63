//! Just enough HTTP/1.1: read a GET request head, route it, write a response.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::Server;

/// Bound on a request head; monitoring requests are tiny.
const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// Pretty JSON (two-space indent), as nats-server's `MarshalIndent`.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: serde_json::to_vec_pretty(value).unwrap_or_default(),
        }
    }

    /// Compact JSON, as nats-server writes `/healthz`.
    pub fn json_compact(status: u16, value: &impl serde::Serialize) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }
}

pub async fn serve(server: Arc<Server>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = server.shutdown.notified() => return,
        };
        if let Ok((stream, _)) = accepted {
            let server = server.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, handle(server, stream)).await;
            });
        }
    }
}

async fn handle(server: Arc<Server>, mut stream: TcpStream) -> std::io::Result<()> {
    loop {
        let Some(head) = read_head(&mut stream).await? else {
            return Ok(());
        };
        let first = head.lines().next().unwrap_or_default();
        let mut parts = first.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let resp = if method == "GET" || method == "HEAD" {
            super::endpoints::route(&server, path, query)
        } else {
            Response::text(405, "method not allowed\n")
        };
        // HTTP/1.1 keeps the connection unless told otherwise; 1.0 only when asked.
        let lower = head.to_ascii_lowercase();
        let keep_alive = if first.ends_with("HTTP/1.0") {
            lower.contains("connection: keep-alive")
        } else {
            !lower.contains("connection: close")
        };
        write_response(&mut stream, &resp, method == "HEAD", keep_alive).await?;
        if !keep_alive {
            return Ok(());
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > REQUEST_HEAD_BYTES_MAX {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    head_only: bool,
    keep: bool,
) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len(),
        if keep { "keep-alive" } else { "close" }
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(&r.body).await?;
    }
    stream.flush().await
}
