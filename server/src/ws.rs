//! WebSocket clients (nats.ws, nats.js in browsers): the `websocket {}` listener.
//!
//! After the HTTP upgrade, a pump task turns WebSocket frames into a plain
//! byte stream and back, and the NATS connection runs over that stream exactly
//! as over TCP. Each client frame is unmasked into the stream; the server's
//! output goes out as one binary frame per write. Pings are answered, a close
//! frame is echoed and ends the connection. Compression is not negotiated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

use crate::server::Server;

/// RFC 6455's key suffix for `Sec-WebSocket-Accept`.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// An upgrade request larger than this is refused.
const HANDSHAKE_BYTES_MAX: usize = 16 * 1024;
/// Bytes buffered between the pump and the NATS connection in each direction.
const PIPE_BYTES: usize = 256 * 1024;
/// A client frame larger than this closes the connection (nats-server bounds
/// frames by max_payload plus protocol overhead; this is looser).
const FRAME_BYTES_MAX: u64 = 64 * 1024 * 1024 + 64 * 1024;

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("websocket handshake: {0}")]
    Handshake(&'static str),
    #[error("websocket frame: {0}")]
    Frame(&'static str),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Read the HTTP upgrade request and answer it. Errors get a 400.
pub async fn handshake<S>(sock: &mut S, timeout: Duration) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = tokio::time::timeout(timeout, read_request(sock))
        .await
        .map_err(|_| WsError::Handshake("timeout"))??;
    match accept_key(&request) {
        Ok(accept) => {
            let reply = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            sock.write_all(reply.as_bytes()).await?;
            Ok(())
        }
        Err(why) => {
            let body = format!("{why}\n");
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            Err(WsError::Handshake(why))
        }
    }
}

async fn read_request<S: AsyncRead + Unpin>(sock: &mut S) -> Result<String, WsError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| WsError::Handshake("request is not UTF-8"));
        }
        if buf.len() > HANDSHAKE_BYTES_MAX {
            return Err(WsError::Handshake("request too large"));
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(WsError::Handshake("closed during the upgrade"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Check the upgrade request; the `Sec-WebSocket-Accept` value for it.
fn accept_key(request: &str) -> Result<String, &'static str> {
    let mut lines = request.split("\r\n");
    let first = lines.next().unwrap_or("");
    if !first.starts_with("GET ") {
        return Err("websocket handshake requires GET");
    }
    let mut key = None;
    let (mut upgrade, mut connection, mut version) = (false, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "connection" => {
                connection = value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            }
            "sec-websocket-version" => version = value == "13",
            "sec-websocket-key" => key = Some(value.to_string()),
            _ => {}
        }
    }
    if !upgrade {
        return Err("invalid value for header 'Upgrade'");
    }
    if !connection {
        return Err("invalid value for header 'Connection'");
    }
    if !version {
        return Err("invalid value for header 'Sec-Websocket-Version'");
    }
    let key = key.ok_or("key missing")?;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes()))
}

/// Accept WebSocket clients until shutdown (or lame duck).
pub async fn accept_loop(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshake_timeout: Duration,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = server.shutdown.notified() => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    if let Err(e) = upgrade(server, stream, addr, tls, handshake_timeout).await {
                        tracing::debug!(%addr, "websocket client refused: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::error!("Error accepting websocket connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if server.is_shutting_down() || server.lame_duck.load(std::sync::atomic::Ordering::Acquire)
        {
            return;
        }
    }
}

async fn upgrade(
    server: Arc<Server>,
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    timeout: Duration,
) -> Result<(), WsError> {
    match tls {
        Some(acceptor) => {
            let mut s = tokio::time::timeout(timeout, acceptor.accept(stream))
                .await
                .map_err(|_| WsError::Handshake("TLS handshake timeout"))??;
            handshake(&mut s, timeout).await?;
            serve(server, s, addr).await;
        }
        None => {
            let mut s = stream;
            handshake(&mut s, timeout).await?;
            serve(server, s, addr).await;
        }
    }
    Ok(())
}

/// Serve a WebSocket client on `sock` (after `handshake`): the NATS
/// connection runs over one end of a pipe, the pump over the other.
pub async fn serve<S>(server: Arc<Server>, sock: S, addr: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (nats_end, pump_end) = tokio::io::duplex(PIPE_BYTES);
    let pump = tokio::spawn(pump(sock, pump_end));
    crate::connection::serve_stream(server, nats_end, addr).await;
    let _ = pump.await;
}

/// Move bytes both ways until either side ends.
async fn pump<S>(sock: S, pipe: DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sock_rd, mut sock_wr) = tokio::io::split(sock);
    let (mut pipe_rd, mut pipe_wr) = tokio::io::split(pipe);
    let mut frames = FrameReader::default();
    let mut inbound = BytesMut::with_capacity(16 * 1024);
    let mut outbound = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            r = sock_rd.read_buf(&mut inbound) => {
                if !matches!(r, Ok(n) if n > 0) {
                    return;
                }
                match frames.decode(&mut inbound) {
                    Ok(out) => {
                        if !out.data.is_empty() && pipe_wr.write_all(&out.data).await.is_err() {
                            return;
                        }
                        for control in &out.replies {
                            if sock_wr.write_all(control).await.is_err() {
                                return;
                            }
                        }
                        if out.closed {
                            let _ = sock_wr.shutdown().await;
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::debug!("{e}");
                        let _ = sock_wr.write_all(&close_frame(1002)).await;
                        return;
                    }
                }
            }
            r = pipe_rd.read(&mut outbound) => {
                let n = match r {
                    Ok(n) if n > 0 => n,
                    _ => {
                        let _ = sock_wr.write_all(&close_frame(1000)).await;
                        let _ = sock_wr.shutdown().await;
                        return;
                    }
                };
                let mut frame = Vec::with_capacity(n + 10);
                frame_header(&mut frame, OP_BINARY, n);
                frame.extend_from_slice(&outbound[..n]);
                if sock_wr.write_all(&frame).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// An unmasked server frame header (FIN set).
fn frame_header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

fn close_frame(code: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(4);
    frame_header(&mut f, OP_CLOSE, 2);
    f.extend_from_slice(&code.to_be_bytes());
    f
}

/// What one batch of client bytes decoded to.
#[derive(Default)]
struct Decoded {
    /// Payload bytes of data frames, unmasked, in order.
    data: Vec<u8>,
    /// Frames to send back (pongs, the close echo).
    replies: Vec<Vec<u8>>,
    closed: bool,
}

/// Decodes client frames across reads; data frames (and their continuations)
/// are passed through as they arrive, whole control frames are answered.
#[derive(Default)]
struct FrameReader {
    /// A data frame's payload bytes not yet seen, and its mask and position.
    data_left: u64,
    mask: [u8; 4],
    mask_pos: usize,
}

impl FrameReader {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, WsError> {
        let mut out = Decoded::default();
        loop {
            if self.data_left > 0 {
                let n = (self.data_left as usize).min(buf.len());
                if n == 0 {
                    return Ok(out);
                }
                for b in &buf[..n] {
                    out.data.push(b ^ self.mask[self.mask_pos & 3]);
                    self.mask_pos += 1;
                }
                buf.advance(n);
                self.data_left -= n as u64;
                continue;
            }
            let Some(h) = parse_header(buf)? else {
                return Ok(out);
            };
            match h.opcode {
                OP_CONT | OP_TEXT | OP_BINARY => {
                    buf.advance(h.header_len);
                    self.data_left = h.payload_len;
                    self.mask = h.mask;
                    self.mask_pos = 0;
                }
                OP_CLOSE | OP_PING | OP_PONG => {
                    if h.payload_len > 125 {
                        return Err(WsError::Frame("control frame too large"));
                    }
                    let total = h.header_len + h.payload_len as usize;
                    if buf.len() < total {
                        return Ok(out);
                    }
                    let body: Vec<u8> = buf[h.header_len..total]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ h.mask[i & 3])
                        .collect();
                    buf.advance(total);
                    let reply_op = match h.opcode {
                        OP_PING => OP_PONG,
                        OP_CLOSE => OP_CLOSE,
                        _ => continue,
                    };
                    let mut reply = Vec::with_capacity(body.len() + 2);
                    frame_header(&mut reply, reply_op, body.len());
                    reply.extend_from_slice(&body);
                    out.replies.push(reply);
                    if h.opcode == OP_CLOSE {
                        out.closed = true;
                        return Ok(out);
                    }
                }
                _ => return Err(WsError::Frame("unknown opcode")),
            }
        }
    }
}

struct Header {
    opcode: u8,
    header_len: usize,
    payload_len: u64,
    mask: [u8; 4],
}

/// A client frame header, if all of it has arrived.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, WsError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x70 != 0 {
        return Err(WsError::Frame("compression was not negotiated"));
    }
    if buf[1] & 0x80 == 0 {
        return Err(WsError::Frame("client frames must be masked"));
    }
    let opcode = buf[0] & 0x0F;
    let (payload_len, mut at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if payload_len > FRAME_BYTES_MAX {
        return Err(WsError::Frame("frame too large"));
    }
    if buf.len() < at + 4 {
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&buf[at..at + 4]);
    at += 4;
    Ok(Some(Header {
        opcode,
        header_len: at,
        payload_len,
        mask,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            0..=125 => f.push(0x80 | payload.len() as u8),
            n => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        f
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13";
        assert_eq!(accept_key(req).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(accept_key("GET / HTTP/1.1\r\nUpgrade: websocket").is_err());
    }

    #[test]
    fn frames_split_anywhere_decode_to_the_same_bytes() {
        let mut wire = client_frame(OP_BINARY, false, b"PUB a 5\r\n");
        wire.extend(client_frame(OP_PING, true, b"hi"));
        wire.extend(client_frame(OP_CONT, true, &[b'x'; 300]));
        wire.extend(client_frame(OP_CLOSE, true, &1000u16.to_be_bytes()));
        for cut in 0..wire.len() {
            let mut r = FrameReader::default();
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = r.decode(&mut buf).unwrap();
            buf.extend_from_slice(&wire[cut..]);
            let rest = r.decode(&mut buf).unwrap();
            got.data.extend(rest.data);
            got.replies.extend(rest.replies);
            let mut want = b"PUB a 5\r\n".to_vec();
            want.extend([b'x'; 300]);
            assert_eq!(got.data, want, "cut at {cut}");
            assert_eq!(got.replies.len(), 2);
            assert_eq!(got.replies[0], [0x8A, 2, b'h', b'i']);
            assert!(rest.closed || got.closed);
        }
    }

    #[test]
    fn unmasked_and_compressed_frames_are_refused() {
        let mut r = FrameReader::default();
        assert!(r
            .decode(&mut BytesMut::from(&[0x82u8, 0x01, b'a'][..]))
            .is_err());
        let mut f = client_frame(OP_BINARY, true, b"a");
        f[0] |= 0x40;
        assert!(r.decode(&mut BytesMut::from(&f[..])).is_err());
    }
}
