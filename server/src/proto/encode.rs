//! Server → client frames, appended to an outbound buffer. No I/O.

use bytes::{BufMut, BytesMut};

/// `MSG <subject> <sid> [reply] <len>\r\n<payload>\r\n`, or the HMSG form
/// when `headers_len > 0` (or `has_headers`).
pub fn msg(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers_len: usize,
    has_headers: bool,
    payload: &[u8],
) {
    let reply_len = reply.map_or(0, |r| r.len() + 1);
    out.reserve(subject.len() + sid.len() + reply_len + payload.len() + 48);
    out.put_slice(if has_headers { b"HMSG " } else { b"MSG " });
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    if has_headers {
        put_decimal(out, headers_len as u64);
        out.put_u8(b' ');
    }
    put_decimal(out, payload.len() as u64);
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// `-ERR '<text>'\r\n`, nats-server's wording.
pub fn err(out: &mut BytesMut, text: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// `INFO <json>\r\n`.
pub fn info(out: &mut BytesMut, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(b"\r\n");
}

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Write `n` in decimal without allocating.
pub fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}
