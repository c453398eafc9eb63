//! Subject rules: tokens split by `.`, `*` matches one token, `>` one or more at the end.

/// A literal subject, as PUB needs with pedantic checks: no wildcards.
pub fn is_valid_literal(subject: &[u8]) -> bool {
    is_valid(subject)
        && subject
            .split(|b| *b == b'.')
            .all(|t| t != b"*" && t != b">")
}

/// A subject that SUB accepts: non-empty tokens, no whitespace, `>` only last.
pub fn is_valid(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split(|b| *b == b'.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() || token.iter().any(|b| b.is_ascii_whitespace()) {
            return false;
        }
        if token == b">" && tokens.peek().is_some() {
            return false;
        }
    }
    true
}

/// A queue group name: no whitespace.
pub fn is_valid_queue(queue: &[u8]) -> bool {
    !queue.is_empty() && !queue.iter().any(|b| b.is_ascii_whitespace())
}

/// Does literal `subject` match `pattern` (which may hold wildcards)?
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut p = pattern.split(|b| *b == b'.');
    let mut s = subject.split(|b| *b == b'.');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) => return true,
            (Some(pt), Some(st)) if pt == b"*" || pt == st => {}
            _ => return false,
        }
    }
}

/// Could some literal subject match both patterns? (Used for overlap checks.)
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let mut x = a.split(|c| *c == b'.');
    let mut y = b.split(|c| *c == b'.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) | (Some(_), Some(b">")) => return true,
            (Some(s), Some(t)) if s == b"*" || t == b"*" || s == t => {}
            _ => return false,
        }
    }
}

/// Is `sub` a subset of `pattern`: every subject `sub` matches, `pattern` matches too?
pub fn is_subset(sub: &[u8], pattern: &[u8]) -> bool {
    let mut s = sub.split(|c| *c == b'.');
    let mut p = pattern.split(|c| *c == b'.');
    loop {
        match (s.next(), p.next()) {
            (None, None) => return true,
            (Some(_), Some(b">")) => return true,
            (Some(b">"), _) => return false,
            (Some(st), Some(pt)) if pt == b"*" || st == pt => {
                if st == b"*" && pt != b"*" {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        for ok in [
            "a",
            "a.b",
            "a.*",
            "a.>",
            ">",
            "*",
            "$JS.API.>",
            "a*b.c",
            "_INBOX.x-y:z",
        ] {
            assert!(is_valid(ok.as_bytes()), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a.>.b", "a b", "a\tb"] {
            assert!(!is_valid(bad.as_bytes()), "{bad}");
        }
        assert!(is_valid_literal(b"a.b*"));
        assert!(!is_valid_literal(b"a.*"));
        assert!(!is_valid_literal(b">"));
    }

    #[test]
    fn matching() {
        assert!(matches(b"a.*", b"a.b"));
        assert!(!matches(b"a.*", b"a.b.c"));
        assert!(matches(b"a.>", b"a.b.c"));
        assert!(!matches(b"a.>", b"a"));
        assert!(matches(b">", b"x"));
        assert!(matches(b"*.b", b"a.b"));
        assert!(!matches(b"a.b", b"a.c"));
    }

    #[test]
    fn overlap_and_subset() {
        assert!(overlaps(b"a.*", b"*.b"));
        assert!(overlaps(b"a.>", b"a.b.c"));
        assert!(!overlaps(b"a.b", b"a.c"));
        assert!(!overlaps(b"a.*", b"a.b.c"));
        assert!(is_subset(b"a.b", b"a.*"));
        assert!(is_subset(b"a.*", b"a.>"));
        assert!(!is_subset(b"a.>", b"a.*"));
        assert!(!is_subset(b"a.*", b"a.b"));
    }
}
