//! Ack bodies published to `$JS.ACK...` subjects (spec §3.9).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    Ack,
    /// Redeliver, after a delay if given.
    Nak(Option<Duration>),
    /// Work in progress: restart the ack-wait timer.
    Progress,
    /// Ack, then treat the rest as a pull request answered to the ack's reply.
    Next(Vec<u8>),
    Term(Option<String>),
}

pub fn parse(body: &[u8]) -> AckKind {
    let text = std::str::from_utf8(body).unwrap_or("").trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    match word {
        "" | "+ACK" | "+OK" => AckKind::Ack,
        "-NAK" => AckKind::Nak(nak_delay(rest)),
        "+WPI" => AckKind::Progress,
        "+NXT" => AckKind::Next(rest.as_bytes().to_vec()),
        "+TERM" => AckKind::Term((!rest.is_empty()).then(|| rest.to_string())),
        _ => AckKind::Ack,
    }
}

/// `{"delay": ns}` or a Go duration like `5s`.
fn nak_delay(rest: &str) -> Option<Duration> {
    if rest.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(rest) {
        return v
            .get("delay")
            .and_then(serde_json::Value::as_i64)
            .filter(|d| *d > 0)
            .map(|d| Duration::from_nanos(d as u64));
    }
    go_duration(rest)
}

/// Go's `time.ParseDuration` for the common units.
pub fn go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// The numbers an ack subject carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTokens {
    pub deliveries: u64,
    pub sseq: u64,
    pub dseq: u64,
}

/// Delivery count, stream and consumer sequence from an ack subject
/// `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
pub fn seqs(subject: &[u8]) -> Option<AckTokens> {
    // Walks the tokens without collecting them: this runs for every ack, and
    // the Vec with its regrowth was most of its cost (callgrind).
    let num = |t: Option<&[u8]>| std::str::from_utf8(t?).ok()?.parse::<u64>().ok();
    let mut tokens = subject.split(|b| *b == b'.').skip(4);
    let (deliveries, sseq, dseq) = (tokens.next(), tokens.next(), tokens.next());
    // `<ts>.<pending>` must follow, as in nats-server's ack subjects.
    tokens.nth(1)?;
    Some(AckTokens {
        deliveries: num(deliveries)?,
        sseq: num(sseq)?,
        dseq: num(dseq)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(parse(b""), AckKind::Ack);
        assert_eq!(parse(b"+ACK"), AckKind::Ack);
        assert_eq!(parse(b"-NAK"), AckKind::Nak(None));
        assert_eq!(
            parse(br#"-NAK {"delay": 2000000000}"#),
            AckKind::Nak(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            parse(b"-NAK 5s"),
            AckKind::Nak(Some(Duration::from_secs(5)))
        );
        assert_eq!(parse(b"+WPI"), AckKind::Progress);
        assert_eq!(parse(b"+NXT 10"), AckKind::Next(b"10".to_vec()));
        assert_eq!(
            parse(b"+TERM bad data"),
            AckKind::Term(Some("bad data".into()))
        );
        assert_eq!(
            seqs(b"$JS.ACK.S.C.1.42.7.123.0"),
            Some(AckTokens {
                deliveries: 1,
                sseq: 42,
                dseq: 7
            })
        );
        assert_eq!(seqs(b"$JS.ACK.S.C.1"), None);
        // One token short (no pending count).
        assert_eq!(seqs(b"$JS.ACK.S.C.1.42.7.123"), None);
        assert_eq!(seqs(b"$JS.ACK.S.C.x.42.7.123.0"), None);
    }
}
