//! NATS subject filters: tokens separated by `.`, `*` matches one token,
//! `>` matches one or more tokens and must be last.

/// One or more subject patterns; a subject matches if any pattern does.
/// An empty set, or one holding `>`, matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectFilter {
    patterns: Vec<Vec<u8>>,
    match_all: bool,
    literal: bool,
}

impl SubjectFilter {
    /// Matches every subject.
    pub fn all() -> Self {
        Self {
            patterns: Vec::new(),
            match_all: true,
            literal: false,
        }
    }

    /// A single pattern (literal or with wildcards).
    pub fn new(pattern: impl AsRef<[u8]>) -> Self {
        Self::from_patterns([pattern])
    }

    /// Any of several patterns.
    pub fn from_patterns<I, P>(patterns: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let patterns: Vec<Vec<u8>> = patterns
            .into_iter()
            .map(|p| p.as_ref().to_vec())
            .filter(|p| !p.is_empty())
            .collect();
        let match_all = patterns.is_empty() || patterns.iter().any(|p| p.as_slice() == b">");
        let literal = !match_all && patterns.iter().all(|p| is_literal(p));
        Self {
            patterns,
            match_all,
            literal,
        }
    }

    /// True if every subject matches.
    pub fn is_all(&self) -> bool {
        self.match_all
    }

    /// True if no pattern has a wildcard (lookups can use the subject map).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// The patterns as given.
    pub fn patterns(&self) -> &[Vec<u8>] {
        &self.patterns
    }

    /// Does `subject` match any pattern?
    pub fn matches(&self, subject: &[u8]) -> bool {
        self.match_all || self.patterns.iter().any(|p| subject_matches(p, subject))
    }
}

/// True if `s` has no `*` or `>` token.
pub fn is_literal(s: &[u8]) -> bool {
    !s.split(|b| *b == b'.').any(|t| t == b"*" || t == b">")
}

/// Does literal `subject` match `pattern`?
pub fn subject_matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pt = pattern.split(|b| *b == b'.');
    let mut st = subject.split(|b| *b == b'.');
    loop {
        match (pt.next(), st.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) => return true,
            (Some(p), Some(s)) => {
                if p != b"*" && p != s {
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
    fn wildcards() {
        assert!(subject_matches(b"a.b", b"a.b"));
        assert!(!subject_matches(b"a.b", b"a.c"));
        assert!(subject_matches(b"a.*", b"a.c"));
        assert!(!subject_matches(b"a.*", b"a.c.d"));
        assert!(subject_matches(b"a.>", b"a.c.d"));
        assert!(!subject_matches(b"a.>", b"a"));
        assert!(subject_matches(b">", b"a"));
        assert!(subject_matches(b"*.b.>", b"x.b.c"));
        assert!(!subject_matches(b"a.b.c", b"a.b"));
        let f = SubjectFilter::from_patterns(["x.*", "y"]);
        assert!(f.matches(b"x.1") && f.matches(b"y") && !f.matches(b"z"));
        assert!(!f.is_literal());
        assert!(SubjectFilter::from_patterns(Vec::<&str>::new()).is_all());
    }
}
