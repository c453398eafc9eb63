//! Reading and writing NATS header blocks (`NATS/1.0\r\nKey: Value\r\n\r\n`).

/// Header names the server acts on when a message is published into a stream.
pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
/// 2.11: the (wildcard) subject the last-subject-sequence check is made on.
pub const EXPECTED_LAST_SUBJ_SEQ_SUBJ: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";

/// The value of the first header named exactly `name`, trimmed.
/// nats-server matches header names case-sensitively here.
#[inline]
pub fn get<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    // Most publishes carry no headers: several lookups each, made free
    // (inlined, no call for an empty block).
    if block.is_empty() {
        return None;
    }
    find(block, name)
}

fn find<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut lines = block.split(|b| *b == b'\n');
    lines.next()?; // the NATS/1.0 status line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        if &line[..colon] == name.as_bytes() {
            return Some(trim(&line[colon + 1..]));
        }
    }
    None
}

pub fn get_str<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    get(block, name).and_then(|v| std::str::from_utf8(v).ok())
}

pub fn get_u64(block: &[u8], name: &str) -> Option<Result<u64, ()>> {
    get_str(block, name).map(|v| v.parse::<u64>().map_err(|_| ()))
}

/// `block` without the headers named exactly `name`, then `name: value`
/// added last (where nats-server puts a header it rewrites).
pub fn set_last(block: &[u8], name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + value.len());
    let body = block.strip_suffix(b"\r\n").unwrap_or(block);
    for (i, line) in body.split_inclusive(|b| *b == b'\n').enumerate() {
        let named = line
            .iter()
            .position(|b| *b == b':')
            .is_some_and(|colon| &line[..colon] == name.as_bytes());
        if i == 0 || !named {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Builds a header block; `status` gives `NATS/1.0 404 Message Not Found`.
pub struct HeaderBuilder {
    buf: Vec<u8>,
}

impl HeaderBuilder {
    pub fn new(status: Option<&str>) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(b"NATS/1.0");
        if let Some(s) = status {
            buf.push(b' ');
            buf.extend_from_slice(s.as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        HeaderBuilder { buf }
    }

    /// Start from an existing block (its end marker is dropped).
    pub fn extend(block: &[u8]) -> Self {
        let body = block.strip_suffix(b"\r\n").unwrap_or(block);
        if body.is_empty() {
            return Self::new(None);
        }
        HeaderBuilder { buf: body.to_vec() }
    }

    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_build() {
        let block = HeaderBuilder::new(None)
            .add(MSG_ID, "abc")
            .add("X", " y ")
            .finish();
        assert_eq!(block, b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX:  y \r\n\r\n");
        assert_eq!(get(&block, MSG_ID), Some(&b"abc"[..]));
        assert_eq!(get(&block, "X"), Some(&b"y"[..]));
        assert_eq!(get(&block, "nats-msg-id"), None);
        let more = HeaderBuilder::extend(&block).add("Z", "1").finish();
        assert_eq!(
            more,
            b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX:  y \r\nZ: 1\r\n\r\n"
        );
        assert_eq!(
            set_last(&more, "X", b"2"),
            b"NATS/1.0\r\nNats-Msg-Id: abc\r\nZ: 1\r\nX: 2\r\n\r\n"
        );
        assert_eq!(
            HeaderBuilder::new(Some("404 Message Not Found")).finish(),
            b"NATS/1.0 404 Message Not Found\r\n\r\n"
        );
    }
}
