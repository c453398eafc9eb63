//! RePublish: once a message is stored (and, in Nile, durable), publish a
//! copy to `dest` with headers that say where it is stored, as nats-server
//! does: the original headers, then `Nats-Stream`, `Nats-Subject`,
//! `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Last-Sequence` (the previous
//! sequence of the same subject, 0 if none), and with `headers_only` an
//! empty payload and `Nats-Msg-Size`.

use bytes::Bytes;

use super::config::{Republish, SubjectTransformConfig};
use super::errors::{err, ApiError};
use super::headers::HeaderBuilder;
use super::transform::Transform;

/// The stream's compiled publish-time rules.
#[derive(Default)]
pub struct Rules {
    /// `subject_transform`: the stored subject.
    pub transform: Option<Transform>,
    pub republish: Option<Republisher>,
}

impl Rules {
    /// Compiles checked configs (see [`check_transform`], [`check_republish`]);
    /// anything that no longer compiles is left out.
    pub fn new(transform: Option<&SubjectTransformConfig>, rp: Option<&Republish>) -> Rules {
        Rules {
            transform: transform
                .filter(|t| !t.dest.is_empty())
                .and_then(|t| Transform::new(&t.src, &t.dest).ok()),
            republish: rp.and_then(|r| {
                let transform = (!r.dest.is_empty())
                    .then(|| Transform::new(&r.src, &r.dest).ok())
                    .flatten()?;
                Some(Republisher {
                    transform,
                    headers_only: r.headers_only,
                })
            }),
        }
    }
}

/// A stream's `subject_transform`, checked as nats-server does (400 10156).
pub fn check_transform(t: &SubjectTransformConfig) -> Result<(), ApiError> {
    if t.dest.is_empty() {
        return Ok(());
    }
    Transform::new(&t.src, &t.dest)
        .map(|_| ())
        .map_err(|e| err::stream_transform_invalid(e.to_string()))
}

/// A stream's `republish`: the destination may not feed the stream again,
/// and `src` → `dest` must be a valid transform (500 10052, as nats-server).
pub fn check_republish(rp: &Republish, subjects: &[String]) -> Result<(), ApiError> {
    // As nats-server, the destination is compared as written: `$1` and
    // `{{wildcard(1)}}` are plain tokens here.
    if !rp.dest.is_empty()
        && subjects
            .iter()
            .any(|s| crate::subject::overlaps(s.as_bytes(), rp.dest.as_bytes()))
    {
        return Err(err::invalid_config(
            "stream configuration for republish destination forms a cycle",
        ));
    }
    // nats-server refuses a missing `src` (its message shows the default).
    let valid =
        rp.dest.is_empty() || (!rp.src.is_empty() && Transform::new(&rp.src, &rp.dest).is_ok());
    if valid {
        return Ok(());
    }
    let src = if rp.src.is_empty() { ">" } else { &rp.src };
    Err(err::invalid_config(format!(
        "stream configuration for republish with transform from '{src}' to '{}' not valid",
        rp.dest
    )))
}

pub struct Republisher {
    transform: Transform,
    headers_only: bool,
}

/// A stored message as RePublish describes it.
pub struct StoredFacts<'a> {
    pub stream: &'a str,
    pub subject: &'a str,
    pub seq: u64,
    pub timestamp_ns: i64,
    /// Previous sequence of the same subject (0: none).
    pub subject_last_seq: u64,
}

/// The message to publish once the stored one is durable.
pub struct Republished {
    pub subject: Bytes,
    pub headers: Vec<u8>,
    pub payload: Bytes,
}

impl Republisher {
    /// The copy to publish, or `None` when the subject is outside `src`.
    pub fn message(&self, m: &StoredFacts<'_>, hdrs: &[u8], body: &[u8]) -> Option<Republished> {
        let subject = self.transform.apply(m.subject)?;
        let mut h = HeaderBuilder::extend(hdrs)
            .add("Nats-Stream", m.stream)
            .add("Nats-Subject", m.subject)
            .add("Nats-Sequence", &m.seq.to_string())
            .add(
                "Nats-Time-Stamp",
                &crate::logging::rfc3339_ns(m.timestamp_ns),
            )
            .add("Nats-Last-Sequence", &m.subject_last_seq.to_string());
        if self.headers_only {
            h = h.add("Nats-Msg-Size", &body.len().to_string());
        }
        let payload = if self.headers_only {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(body)
        };
        Some(Republished {
            subject: Bytes::from(subject),
            headers: h.finish(),
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(src: &str, dest: &str) -> Republish {
        Republish {
            src: src.into(),
            dest: dest.into(),
            headers_only: false,
        }
    }

    /// Verdicts recorded from nats-server 2.15.1 for a stream on `v.>`, `w`.
    #[test]
    fn checks_as_nats_server() {
        let subjects = vec!["v.>".to_string(), "w".to_string()];
        let check =
            |src, dest| check_republish(&rp(src, dest), &subjects).map_err(|e| e.description);
        let cycle = Err("stream configuration for republish destination forms a cycle".to_string());
        assert_eq!(check(">", "v.x"), cycle);
        assert_eq!(check("v.>", "w"), cycle);
        assert_eq!(check("v.*", ">"), cycle);
        assert_eq!(check("v.*", "v.$1"), cycle);
        // Tokens are compared as written (nats.js kv test republishes to `$KV`).
        assert_eq!(check(">", "$KV.b.>"), Ok(()));
        assert_eq!(check("v.*", "w.{{wildcard(1)}}"), Ok(()));
        for ok in [
            ("baz", "q"),
            ("v.*", "q"),
            ("v.*", "q.$1"),
            ("v.>", "q.>"),
            ("v.*", "q.{{wildcard(1)}}"),
            ("v.>", ""),
            ("v.*.*", "q.$2.$1"),
            ("v.*", "q.{{partition(3,1)}}"),
        ] {
            assert_eq!(check(ok.0, ok.1), Ok(()), "{ok:?}");
        }
        for (src, dest, shown) in [
            ("", "q", ">"),
            ("v.>", "q.*", "v.>"),
            ("v.*", "q.$2", "v.*"),
            ("v.>", "q.*.*", "v.>"),
            ("v.*", "q.>", "v.*"),
        ] {
            let want = format!("stream configuration for republish with transform from '{shown}' to '{dest}' not valid");
            assert_eq!(check(src, dest), Err(want));
        }
    }

    #[test]
    fn headers_as_nats_server() {
        let r = Republisher {
            transform: Transform::new(">", "rp.>").unwrap(),
            headers_only: true,
        };
        let facts = StoredFacts {
            stream: "S",
            subject: "foo.b",
            seq: 3,
            timestamp_ns: 1_000_000_001,
            subject_last_seq: 2,
        };
        let m = r
            .message(&facts, b"NATS/1.0\r\nX-A: 1\r\n\r\n", b"three")
            .unwrap();
        assert_eq!(&m.subject[..], b"rp.foo.b");
        assert_eq!(
            String::from_utf8(m.headers).unwrap(),
            "NATS/1.0\r\nX-A: 1\r\nNats-Stream: S\r\nNats-Subject: foo.b\r\nNats-Sequence: 3\r\n\
             Nats-Time-Stamp: 1970-01-01T00:00:01.000000001Z\r\nNats-Last-Sequence: 2\r\n\
             Nats-Msg-Size: 5\r\n\r\n"
        );
        assert!(m.payload.is_empty());
    }
}
