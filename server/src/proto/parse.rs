//! Client → server ops: bytes in, [`ClientOp`] out. No I/O.
//!
//! `parse` looks at the front of a read buffer. When a whole op (control line
//! and, for PUB/HPUB, its payload) is there, it splits it off the buffer and
//! returns it; the subject, reply and payload are slices of one frozen chunk,
//! so a message costs no copy and no allocation beyond the read buffer itself.
//! When the op is incomplete it returns `Ok(None)` and leaves the buffer alone:
//! the caller reads more and calls again.

use bytes::{Buf, Bytes, BytesMut};

/// Limits the parser enforces before it trusts a length from the peer.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub control_line_bytes_max: usize,
    pub payload_bytes_max: usize,
}

/// A publish: PUB, or HPUB when `headers_len > 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    /// Bytes of the header block at the start of `payload`; 0 for PUB.
    pub headers_len: usize,
    /// Headers (if any) followed by the message body.
    pub payload: Bytes,
    /// HPUB, even with an empty header block.
    pub has_headers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    Connect(Bytes),
    Pub(Publish),
    Sub {
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    },
    Unsub {
        sid: Bytes,
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `+OK` (or `INFO`) sent by a client: legal, and ignored.
    Ack,
    /// `-ERR` sent by a client (its text is not kept).
    Err,
}

/// Why a buffer is not a valid op. Each maps to one `-ERR` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Unknown Protocol Operation")]
    UnknownOp,
    #[error("maximum control line exceeded")]
    ControlLineTooLong,
    #[error("Maximum Payload Violation")]
    PayloadTooBig,
    /// Malformed arguments to a known op (nats-server: "processPub Parse Error").
    #[error("{0}")]
    BadArgs(&'static str),
}

/// Parse one op off the front of `buf`.
pub fn parse(buf: &mut BytesMut, limits: &ParseLimits) -> Result<Option<ClientOp>, ParseError> {
    // Nearly every op on a busy connection is a PUB or HPUB as clients write it.
    let hpub = buf.starts_with(b"HPUB ");
    if hpub || buf.starts_with(b"PUB ") {
        if let Some(line) = scan_pub_line(buf, hpub, limits) {
            return finish_pub(buf, line.nl, &line.tokens[..line.count], hpub, limits);
        }
    }
    parse_general(buf, limits)
}

/// Any op, with every spelling the protocol allows (case, tabs, runs of spaces).
pub(crate) fn parse_general(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<ClientOp>, ParseError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > limits.control_line_bytes_max {
            return Err(ParseError::ControlLineTooLong);
        }
        return Ok(None);
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let (op, args_at) = split_op(&buf[..line_end]);
    let op = op.ok_or(ParseError::UnknownOp)?;
    let has_args = args_at < line_end;
    if op.takes_args() && !has_args {
        // nats-server's state machine wants a space after these op names.
        return Err(ParseError::UnknownOp);
    }
    if op.takes_args() {
        check_line(line_end, limits)?;
    }
    let simple = match op {
        Op::Pub | Op::Hpub => return parse_pub(buf, nl, line_end, args_at, op == Op::Hpub, limits),
        Op::Sub | Op::Unsub | Op::Connect => {
            let line = buf.split_to(nl + 1).freeze();
            let args = line.slice(args_at..line_end);
            return match op {
                Op::Sub => parse_sub(&args).map(Some),
                Op::Unsub => parse_unsub(&args).map(Some),
                _ => Ok(Some(ClientOp::Connect(trim(&args)))),
            };
        }
        Op::Ping => ClientOp::Ping,
        Op::Pong => ClientOp::Pong,
        Op::Ack => ClientOp::Ack,
        Op::Err => ClientOp::Err,
    };
    buf.advance(nl + 1);
    Ok(Some(simple))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Connect,
    Ping,
    Pong,
    Ack,
    Err,
}

impl Op {
    fn from_name(name: &[u8]) -> Option<Op> {
        const NAMES: [(&[u8], Op); 10] = [
            (b"PUB", Op::Pub),
            (b"HPUB", Op::Hpub),
            (b"SUB", Op::Sub),
            (b"UNSUB", Op::Unsub),
            (b"CONNECT", Op::Connect),
            (b"PING", Op::Ping),
            (b"PONG", Op::Pong),
            (b"+OK", Op::Ack),
            // nats-server ignores an INFO from a client.
            (b"INFO", Op::Ack),
            (b"-ERR", Op::Err),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, op)| *op)
    }

    fn takes_args(self) -> bool {
        matches!(self, Op::Pub | Op::Hpub | Op::Sub | Op::Unsub | Op::Connect)
    }
}

fn check_line(line_bytes: usize, limits: &ParseLimits) -> Result<(), ParseError> {
    if line_bytes > limits.control_line_bytes_max {
        return Err(ParseError::ControlLineTooLong);
    }
    Ok(())
}

/// The op and where its arguments start.
fn split_op(line: &[u8]) -> (Option<Op>, usize) {
    let start = line
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(line.len());
    let rest = &line[start..];
    let len = rest.iter().position(|b| is_space(*b)).unwrap_or(rest.len());
    (Op::from_name(&rest[..len]), start + len)
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(b: &Bytes) -> Bytes {
    let start = b.iter().position(|c| !is_space(*c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !is_space(*c))
        .map_or(start, |e| e + 1);
    b.slice(start..end)
}

/// Split arguments on runs of spaces/tabs; at most `N` of them.
fn split_args<const N: usize>(args: &[u8]) -> Option<([(usize, usize); N], usize)> {
    let mut out = [(0usize, 0usize); N];
    let mut count = 0;
    let mut i = 0;
    while i < args.len() {
        if is_space(args[i]) {
            i += 1;
            continue;
        }
        // Tokens (subjects, inboxes) are long; separators are single bytes.
        let end = memchr::memchr2(b' ', b'\t', &args[i..]).map_or(args.len(), |e| i + e);
        if count == N {
            return None;
        }
        out[count] = (i, end);
        count += 1;
        i = end;
    }
    Some((out, count))
}

fn parse_size(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 12 {
        return None;
    }
    b.iter().try_fold(0usize, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + usize::from(c - b'0'))
    })
}

fn parse_pub(
    buf: &mut BytesMut,
    nl: usize,
    line_end: usize,
    args_at: usize,
    hpub: bool,
    limits: &ParseLimits,
) -> Result<Option<ClientOp>, ParseError> {
    let (mut tok, n) =
        split_args::<4>(&buf[args_at..line_end]).ok_or(ParseError::BadArgs(pub_error(hpub)))?;
    for t in &mut tok {
        *t = (t.0 + args_at, t.1 + args_at);
    }
    finish_pub(buf, nl, &tok[..n], hpub, limits)
}

fn pub_error(hpub: bool) -> &'static str {
    if hpub {
        "processHeaderPub Parse Error"
    } else {
        "processPub Parse Error"
    }
}

/// PUB/HPUB from its arguments: `tok` are the (start, end) of each one in
/// `buf`, whose control line ends at `nl`.
fn finish_pub(
    buf: &mut BytesMut,
    nl: usize,
    tok: &[(usize, usize)],
    hpub: bool,
    limits: &ParseLimits,
) -> Result<Option<ClientOp>, ParseError> {
    let bad = pub_error(hpub);
    let n = tok.len();
    let sizes_at = if hpub {
        n.checked_sub(2)
    } else {
        n.checked_sub(1)
    };
    let sizes_at = sizes_at
        .filter(|s| *s == 1 || *s == 2)
        .ok_or(ParseError::BadArgs(bad))?;
    let num = |i: usize| parse_size(&buf[tok[i].0..tok[i].1]).ok_or(ParseError::BadArgs(bad));
    let total = num(n - 1)?;
    let headers_len = if hpub { num(n - 2)? } else { 0 };
    // nats-server checks only this (a 0-byte header block makes a plain MSG).
    if hpub && headers_len > total {
        return Err(ParseError::BadArgs(bad));
    }
    if total > limits.payload_bytes_max {
        return Err(ParseError::PayloadTooBig);
    }
    let frame_len = nl + 1 + total + 2;
    if buf.len() < frame_len {
        buf.reserve(frame_len - buf.len());
        return Ok(None);
    }
    if !payload_end_ok(&buf[nl + 1 + total..frame_len]) {
        return Err(ParseError::UnknownOp);
    }
    let mut frame = buf.split_to(frame_len).freeze();
    let slice = |i: usize| frame.slice(tok[i].0..tok[i].1);
    let subject = slice(0);
    let reply = (sizes_at == 2).then(|| slice(1));
    // The frame itself becomes the payload: one reference count fewer to
    // take and drop per message than slicing it a third time.
    frame.advance(nl + 1);
    frame.truncate(total);
    Ok(Some(ClientOp::Pub(Publish {
        subject,
        reply,
        headers_len,
        payload: frame,
        has_headers: hpub,
    })))
}

fn payload_end_ok(end: &[u8]) -> bool {
    end == b"\r\n"
}

fn parse_sub(args: &Bytes) -> Result<ClientOp, ParseError> {
    let bad = ParseError::BadArgs("processSub Parse Error");
    let (tok, n) = split_args::<3>(args).ok_or(bad.clone())?;
    let s = |i: usize| args.slice(tok[i].0..tok[i].1);
    match n {
        2 => Ok(ClientOp::Sub {
            subject: s(0),
            queue: None,
            sid: s(1),
        }),
        3 => Ok(ClientOp::Sub {
            subject: s(0),
            queue: Some(s(1)),
            sid: s(2),
        }),
        _ => Err(bad),
    }
}

fn parse_unsub(args: &Bytes) -> Result<ClientOp, ParseError> {
    let bad = ParseError::BadArgs("processUnsub Parse Error");
    let (tok, n) = split_args::<2>(args).ok_or(bad.clone())?;
    let s = |i: usize| args.slice(tok[i].0..tok[i].1);
    match n {
        1 => Ok(ClientOp::Unsub {
            sid: s(0),
            max: None,
        }),
        // A max that is not a number unsubscribes at once, as nats-server.
        2 => Ok(ClientOp::Unsub {
            sid: s(0),
            max: Some(parse_size(&s(1)).map_or(0, |m| m as u64)),
        }),
        _ => Err(bad),
    }
}

/// A PUB or HPUB control line as clients write it: where it ends and its
/// arguments.
struct PubLine {
    nl: usize,
    tokens: [(usize, usize); 4],
    count: usize,
}

/// Scan `PUB <subject> [reply] <size>\r\n` (HPUB: `<hdr size> <size>`) at
/// the front of `buf` eight bytes at a time, finding the single spaces
/// between the arguments and the line end in one pass (memchr calls per
/// token cost more than the whole scan on lines this short). `None` for
/// anything else (tabs, runs of spaces, a bare `\n`, the wrong number of
/// arguments, an incomplete or over-long line): the general parser then
/// decides, with its errors.
fn scan_pub_line(buf: &[u8], hpub: bool, limits: &ParseLimits) -> Option<PubLine> {
    let (args_at, min, max) = if hpub { (5, 3, 4) } else { (4, 2, 3) };
    let hay = &buf[..buf.len().min(limits.control_line_bytes_max)];
    let mut line = PubLine {
        nl: 0,
        tokens: [(0, 0); 4],
        count: 0,
    };
    let mut start = args_at;
    // One separator or the line end at `k`; Some(true) when the line is done.
    let mut hit = |k: usize| -> Option<bool> {
        match hay[k] {
            b' ' if k > start && line.count + 1 < max => {
                line.tokens[line.count] = (start, k);
                line.count += 1;
                start = k + 1;
                Some(false)
            }
            b'\n' if k > start + 1 && hay[k - 1] == b'\r' => {
                line.tokens[line.count] = (start, k - 1);
                line.count += 1;
                line.nl = k;
                Some(true)
            }
            _ => None,
        }
    };
    let args = hay.get(args_at..)?;
    // Sixteen bytes per step where the target has a vector compare, then
    // eight, then one: each stage starts where the one before stopped.
    #[cfg(target_arch = "x86_64")]
    let blocks_at = {
        let blocks = args.chunks_exact(16);
        for (b, block) in blocks.enumerate() {
            let mut found = separators16(block);
            while found != 0 {
                let k = args_at + b * 16 + found.trailing_zeros() as usize;
                found &= found - 1;
                if hit(k)? {
                    return (line.count >= min).then_some(line);
                }
            }
        }
        args.len() - args.len() % 16
    };
    #[cfg(not(target_arch = "x86_64"))]
    let blocks_at = 0;
    let words_at = args_at + blocks_at;
    let words = args[blocks_at..].chunks_exact(8);
    let tail_at = hay.len() - words.remainder().len();
    for (w, word) in words.enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        let mut found = byte_is(x, b' ') | byte_is(x, b'\n') | byte_is(x, b'\t');
        while found != 0 {
            let k = words_at + w * 8 + (found.trailing_zeros() / 8) as usize;
            found &= found - 1;
            if hit(k)? {
                return (line.count >= min).then_some(line);
            }
        }
    }
    for (k, b) in hay.iter().enumerate().skip(tail_at) {
        if matches!(b, b' ' | b'\n' | b'\t') && hit(k)? {
            return (line.count >= min).then_some(line);
        }
    }
    None
}

/// Bit `i` set for each byte `i` of a 16-byte `block` that is a space, a
/// tab or a `\n`: two vector compares' worth per byte fewer than the word
/// scan, which matters on long subjects and reply inboxes.
#[cfg(target_arch = "x86_64")]
fn separators16(block: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    assert!(block.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; the unaligned load reads 16 bytes, which `block`
    // was just checked to hold.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let any = _mm_or_si128(_mm_or_si128(eq(b' '), eq(b'\n')), eq(b'\t'));
        _mm_movemask_epi8(any) as u32
    }
}

/// The high bit of each byte of `x` that equals `b`, and no other bit
/// (exact: no carry crosses from one byte into the next).
fn byte_is(x: u64, b: u8) -> u64 {
    const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let y = x ^ (0x0101_0101_0101_0101 * u64::from(b));
    !(((y & LOW_BITS) + LOW_BITS) | y | LOW_BITS)
}
