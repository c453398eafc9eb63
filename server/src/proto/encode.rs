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
    let sizes = sizes_line(
        reply.is_some(),
        has_headers.then_some(headers_len),
        payload.len(),
    );
    let reply = reply.unwrap_or_default();
    let line_len = subject.len() + sid.len() + reply.len() + sizes.as_slice().len() + 6;
    out.reserve(line_len + payload.len() + 2);
    out.put_slice(if has_headers { b"HMSG " } else { b"MSG " });
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    out.put_slice(reply);
    out.put_slice(sizes.as_slice());
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// A MSG/HMSG whose reply subject comes in two pieces (a consumer's
/// `$JS.ACK.<stream>.<consumer>` prefix and the message's numbers, so the
/// reply is never built on its own), and whose header block and body are
/// separate slices (a stored message keeps them apart; joining them first
/// would copy both). `headers: None` is a plain MSG; `Some` an HMSG, even
/// with an empty block.
pub fn msg_parts(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: [&[u8]; 2],
    headers: Option<&[u8]>,
    body: &[u8],
) {
    let headers_len = headers.map_or(0, <[u8]>::len);
    let has_reply = !reply[0].is_empty() || !reply[1].is_empty();
    let sizes = sizes_line(
        has_reply,
        headers.map(<[u8]>::len),
        headers_len + body.len(),
    );
    let line_len =
        subject.len() + sid.len() + reply[0].len() + reply[1].len() + sizes.as_slice().len() + 6;
    out.reserve(line_len + headers_len + body.len() + 2);
    out.put_slice(if headers.is_some() { b"HMSG " } else { b"MSG " });
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    out.put_slice(reply[0]);
    out.put_slice(reply[1]);
    out.put_slice(sizes.as_slice());
    if let Some(h) = headers {
        out.put_slice(h);
    }
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// The end of a MSG line: `[ ]<headers len> <total len>\r\n` (the leading
/// space after a reply subject), built in one piece.
fn sizes_line(after_reply: bool, headers_len: Option<usize>, total: usize) -> Backwards<48> {
    let mut b = Backwards::new();
    b.byte(b'\n');
    b.byte(b'\r');
    b.decimal(total as u64);
    if let Some(h) = headers_len {
        b.byte(b' ');
        b.decimal(h as u64);
    }
    if after_reply {
        b.byte(b' ');
    }
    b
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

/// Write `n` in decimal without allocating, and without the formatting
/// machinery (which costs several times more on paths that run per message).
pub fn put_decimal(out: &mut impl BufMut, n: u64) {
    let mut digits = Backwards::<20>::new();
    digits.decimal(n);
    out.put_slice(digits.as_slice());
}

/// Append `n` in decimal to `out`.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    put_decimal(out, n);
}

/// A short run of bytes written from its end towards its start, so that
/// numbers (whose length is only known once they are divided out) and the
/// separators around them are built in one stack buffer and copied out once.
pub struct Backwards<const N: usize> {
    bytes: [u8; N],
    at: usize,
}

impl<const N: usize> Default for Backwards<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Backwards<N> {
    pub fn new() -> Self {
        Backwards {
            bytes: [0; N],
            at: N,
        }
    }

    /// What has been written, in reading order.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.at..]
    }

    /// Put `b` before what is there. Panics past `N` bytes: callers size
    /// `N` for their longest output.
    pub fn byte(&mut self, b: u8) {
        self.at -= 1;
        self.bytes[self.at] = b;
    }

    /// Put the decimal digits of `n` before what is there; two digits per
    /// division: timestamps and sequences are long numbers on per-message paths.
    pub fn decimal(&mut self, mut n: u64) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            self.at -= 2;
            self.bytes[self.at..self.at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            self.at -= 2;
            self.bytes[self.at..self.at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            self.byte(b'0' + n as u8);
        }
    }
}
