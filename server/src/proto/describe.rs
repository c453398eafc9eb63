//! An op as nats-server's protocol trace shows it (`-V`): `[SUB foo 1]`,
//! `[PUB foo 5]`, `[CONNECT {...}]`. Harnesses grep these lines.

use super::{ClientOp, Publish};

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The bracketed form of `op`, or `None` for ops nats-server does not trace.
pub fn describe(op: &ClientOp) -> Option<String> {
    Some(match op {
        ClientOp::Connect(json) => format!("[CONNECT {}]", text(json)),
        ClientOp::Pub(p) => publish(p),
        ClientOp::Sub {
            subject,
            queue: None,
            sid,
        } => {
            format!("[SUB {} {}]", text(subject), text(sid))
        }
        ClientOp::Sub {
            subject,
            queue: Some(q),
            sid,
        } => format!("[SUB {} {} {}]", text(subject), text(q), text(sid)),
        ClientOp::Unsub { sid, max: None } => format!("[UNSUB {}]", text(sid)),
        ClientOp::Unsub { sid, max: Some(m) } => format!("[UNSUB {} {m}]", text(sid)),
        ClientOp::Ping => "[PING]".into(),
        ClientOp::Pong => "[PONG]".into(),
        ClientOp::Ack | ClientOp::Err => return None,
    })
}

fn publish(p: &Publish) -> String {
    let reply = p
        .reply
        .as_ref()
        .map(|r| format!(" {}", text(r)))
        .unwrap_or_default();
    if p.has_headers {
        format!(
            "[HPUB {}{reply} {} {}]",
            text(&p.subject),
            p.headers_len,
            p.payload.len()
        )
    } else {
        format!("[PUB {}{reply} {}]", text(&p.subject), p.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn shapes() {
        let sub = ClientOp::Sub {
            subject: Bytes::from_static(b"foo"),
            queue: None,
            sid: Bytes::from_static(b"1"),
        };
        assert_eq!(describe(&sub).unwrap(), "[SUB foo 1]");
        let p = ClientOp::Pub(Publish {
            subject: Bytes::from_static(b"a"),
            reply: Some(Bytes::from_static(b"r")),
            headers_len: 0,
            payload: Bytes::from_static(b"hello"),
            has_headers: false,
        });
        assert_eq!(describe(&p).unwrap(), "[PUB a r 5]");
        assert!(describe(&ClientOp::Ack).is_none());
    }
}
