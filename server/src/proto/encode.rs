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
pub fn put_decimal(out: &mut BytesMut, n: u64) {
    let (digits, at) = decimal(n);
    out.put_slice(&digits[at..]);
}

/// Append `n` in decimal to `out`, without the formatting machinery (which
/// costs several times more on paths that run per message).
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let (digits, at) = decimal(n);
    out.extend_from_slice(&digits[at..]);
}

/// The decimal digits of `n`: they are `digits[at..]`. Two digits per
/// division: timestamps and sequences are long numbers on per-message paths.
fn decimal(mut n: u64) -> ([u8; 20], usize) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    (digits, i)
}
