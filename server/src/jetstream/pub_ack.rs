//! What a publish leaves for the ack task, and the PubAck bytes the task
//! writes from it. A publish records the facts (sequence, duplicate flag,
//! reply subject) without allocating; the ack task formats each PubAck
//! into one reused buffer, since routing copies the payload into every
//! subscriber's outbound buffer anyway.

use bytes::{Bytes, BytesMut};
use nile_engine::DurableTicket;

use super::super::republish::Republished;
use crate::proto::encode::put_decimal;

/// Reply subjects up to this long are kept inline: clients' inboxes
/// (`_INBOX.<nuid>` is 29 bytes, a muxed `_INBOX.<nuid>.<nuid>` 52).
const REPLY_INLINE_BYTES_MAX: usize = 62;

/// Bytes the ack task's buffer grows by when the PubAcks it lent out are
/// still held by someone (otherwise it reuses its allocation).
const ACK_BUFFER_BYTES_MIN: usize = 8 * 1024;

/// A stored record waiting to become durable, and the PubAck (if any) to
/// send once it is.
pub struct PendingAck {
    pub ticket: Option<DurableTicket>,
    /// Where the PubAck goes; none, no PubAck.
    pub reply: Option<ReplyTo>,
    pub body: AckBody,
    /// RePublish copy, sent once the record is durable (boxed: rare, and
    /// every queued ack would carry its size).
    pub republish: Option<Box<Republished>>,
}

impl PendingAck {
    /// A record of the server's own or one published without a reply:
    /// only its durability is awaited.
    pub fn silent(ticket: DurableTicket, republish: Option<Box<Republished>>) -> Self {
        PendingAck {
            ticket: Some(ticket),
            reply: None,
            body: AckBody::Raw(Vec::new()),
            republish,
        }
    }
}

/// What the PubAck says.
pub enum AckBody {
    /// `{"stream":<name>[,"domain":<d>],"seq":<seq>}`, with
    /// `,"duplicate": true` before the brace for a duplicate.
    Seq { seq: u64, duplicate: bool },
    /// The same with `tail` before the closing brace (a counter's value,
    /// a batch commit's id and count).
    SeqWith { seq: u64, tail: Vec<u8> },
    /// Written out already (an error; empty for a staged batch message).
    Raw(Vec<u8>),
}

/// A PubAck's reply subject: inline when short, so a publish costs no
/// allocation for it.
pub enum ReplyTo {
    Inline {
        len: u8,
        bytes: [u8; REPLY_INLINE_BYTES_MAX],
    },
    Heap(Box<[u8]>),
}

impl ReplyTo {
    pub fn new(subject: &[u8]) -> Self {
        let mut bytes = [0u8; REPLY_INLINE_BYTES_MAX];
        match bytes.get_mut(..subject.len()) {
            Some(head) => {
                head.copy_from_slice(subject);
                ReplyTo::Inline {
                    len: subject.len() as u8,
                    bytes,
                }
            }
            None => ReplyTo::Heap(subject.into()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ReplyTo::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            ReplyTo::Heap(b) => b,
        }
    }
}

/// Writes PubAcks on the ack task: what every PubAck of the stream starts
/// with (built once per domain, not escaped per message), and the buffer
/// each is written into and lent out from.
#[derive(Default)]
pub struct AckWriter {
    domain: Option<String>,
    /// `{"stream":<name>[,"domain":<domain>],"seq":`
    prefix: Vec<u8>,
    buf: BytesMut,
}

impl AckWriter {
    /// Use `domain` from now on (a reload may change it).
    pub fn set_domain(&mut self, stream: &str, domain: Option<&str>) {
        if !self.prefix.is_empty() && self.domain.as_deref() == domain {
            return;
        }
        let mut prefix = b"{\"stream\":".to_vec();
        let _ = serde_json::to_writer(&mut prefix, stream);
        if let Some(d) = domain {
            prefix.extend_from_slice(b",\"domain\":");
            let _ = serde_json::to_writer(&mut prefix, d);
        }
        prefix.extend_from_slice(b",\"seq\":");
        self.prefix = prefix;
        self.domain = domain.map(str::to_string);
    }

    /// The PubAck's bytes, sharing the writer's buffer: once every copy
    /// is dropped the buffer is reused, so a PubAck costs no allocation.
    pub fn write(&mut self, body: &AckBody) -> Bytes {
        let len = match body {
            AckBody::Seq { .. } => self.prefix.len() + 40,
            AckBody::SeqWith { tail, .. } => self.prefix.len() + 21 + tail.len(),
            AckBody::Raw(raw) => raw.len(),
        };
        if self.buf.capacity() < len {
            self.buf.reserve(len.max(ACK_BUFFER_BYTES_MIN));
        }
        match body {
            AckBody::Seq { seq, duplicate } => {
                self.buf.extend_from_slice(&self.prefix);
                put_decimal(&mut self.buf, *seq);
                if *duplicate {
                    self.buf.extend_from_slice(b",\"duplicate\": true");
                }
                self.buf.extend_from_slice(b"}");
            }
            AckBody::SeqWith { seq, tail } => {
                self.buf.extend_from_slice(&self.prefix);
                put_decimal(&mut self.buf, *seq);
                self.buf.extend_from_slice(tail);
                self.buf.extend_from_slice(b"}");
            }
            AckBody::Raw(raw) => self.buf.extend_from_slice(raw),
        }
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_acks_as_nats_server_writes_them() {
        let mut w = AckWriter::default();
        w.set_domain("S", None);
        let seq = |seq, duplicate| AckBody::Seq { seq, duplicate };
        assert_eq!(&w.write(&seq(7, false))[..], br#"{"stream":"S","seq":7}"#);
        assert_eq!(
            &w.write(&seq(u64::MAX, true))[..],
            br#"{"stream":"S","seq":18446744073709551615,"duplicate": true}"#
        );
        let tail = br#","val":"12""#.to_vec();
        assert_eq!(
            &w.write(&AckBody::SeqWith { seq: 3, tail })[..],
            br#"{"stream":"S","seq":3,"val":"12"}"#
        );
        assert_eq!(&w.write(&AckBody::Raw(b"{}".to_vec()))[..], b"{}");
        assert!(w.write(&AckBody::Raw(Vec::new())).is_empty());
        w.set_domain("S\"q", Some("hub"));
        assert_eq!(
            &w.write(&seq(1, false))[..],
            br#"{"stream":"S\"q","domain":"hub","seq":1}"#
        );
        w.set_domain("S", None);
        assert_eq!(&w.write(&seq(2, false))[..], br#"{"stream":"S","seq":2}"#);
    }

    #[test]
    fn a_held_pub_ack_keeps_its_bytes_while_the_buffer_moves_on() {
        let mut w = AckWriter::default();
        w.set_domain("S", None);
        let held: Vec<Bytes> = (1..=2000)
            .map(|seq| {
                w.write(&AckBody::Seq {
                    seq,
                    duplicate: false,
                })
            })
            .collect();
        for (i, b) in held.iter().enumerate() {
            assert_eq!(
                &b[..],
                format!(r#"{{"stream":"S","seq":{}}}"#, i + 1).as_bytes()
            );
        }
    }

    #[test]
    fn reply_subjects_short_and_long() {
        for len in [
            0,
            1,
            29,
            52,
            REPLY_INLINE_BYTES_MAX,
            REPLY_INLINE_BYTES_MAX + 1,
            300,
        ] {
            let s: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let r = ReplyTo::new(&s);
            assert_eq!(r.as_bytes(), &s[..]);
            assert_eq!(
                matches!(r, ReplyTo::Inline { .. }),
                len <= REPLY_INLINE_BYTES_MAX
            );
        }
    }
}
