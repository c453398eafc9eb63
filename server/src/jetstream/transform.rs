//! Subject transforms, as streams use them (`subject_transform`, and
//! `republish` from `src` to `dest`): a source pattern whose `*` wildcards
//! are numbered 1, 2, ... and a destination of literal tokens, `$N`, `>`
//! and the mapping functions nats-server documents (`{{wildcard(N)}}`,
//! `{{partition(n, N...)}}`, `{{split(N, delim)}}`, `{{splitfromleft(N,
//! pos)}}`, `{{splitfromright(N, pos)}}`, `{{slicefromleft(N, size)}}`,
//! `{{slicefromright(N, size)}}`, `{{left(N, len)}}`, `{{right(N, len)}}`).

use crate::subject;

/// Why a transform is refused; the text follows nats-server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// Source or destination is not a valid subject for a transform.
    #[error("invalid subject")]
    InvalidSubject,
    /// `$N` or a function names a wildcard the source does not have.
    #[error("invalid mapping destination: wildcard index out of range in {token}: [{index}]")]
    WildcardOutOfRange { token: String, index: usize },
    /// `{{name(...)}}` with an unknown name.
    #[error("invalid mapping destination: unknown function in {0}")]
    UnknownFunction(String),
    /// A known function with arguments it cannot take.
    #[error("invalid mapping destination: invalid arguments in {0}")]
    BadArguments(String),
}

/// One destination token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dest {
    Literal(String),
    /// The source's `*` number N (1-based), as `$N` or `{{wildcard(N)}}`.
    Wildcard(usize),
    /// Everything the source's trailing `>` matched.
    Rest,
    Partition {
        buckets: u32,
        wildcards: Vec<usize>,
    },
    Split {
        wildcard: usize,
        delim: String,
    },
    SplitFromLeft {
        wildcard: usize,
        at: usize,
    },
    SplitFromRight {
        wildcard: usize,
        at: usize,
    },
    SliceFromLeft {
        wildcard: usize,
        size: usize,
    },
    SliceFromRight {
        wildcard: usize,
        size: usize,
    },
    Left {
        wildcard: usize,
        len: usize,
    },
    Right {
        wildcard: usize,
        len: usize,
    },
}

/// A checked transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: String,
    dest: Vec<Dest>,
}

impl Transform {
    /// Parses `src` (empty means `>`) and `dest`.
    pub fn new(src: &str, dest: &str) -> Result<Transform, TransformError> {
        let src = if src.is_empty() { ">" } else { src };
        if !subject::is_valid(src.as_bytes()) || dest.is_empty() {
            return Err(TransformError::InvalidSubject);
        }
        let stars = src.split('.').filter(|t| *t == "*").count();
        let src_rest = src == ">" || src.ends_with(".>");
        let tokens: Vec<&str> = dest.split('.').collect();
        let mut out = Vec::with_capacity(tokens.len());
        for (i, tok) in tokens.iter().enumerate() {
            let d = parse_token(tok)?;
            let last = i + 1 == tokens.len();
            match &d {
                Dest::Rest if !(last && src_rest) => return Err(TransformError::InvalidSubject),
                Dest::Literal(l) if l.is_empty() || l == "*" => {
                    return Err(TransformError::InvalidSubject)
                }
                _ => {}
            }
            if let Some(index) = wildcards_of(&d).into_iter().find(|n| *n == 0 || *n > stars) {
                return Err(TransformError::WildcardOutOfRange {
                    token: (*tok).to_string(),
                    index,
                });
            }
            out.push(d);
        }
        Ok(Transform {
            src: src.to_string(),
            dest: out,
        })
    }

    /// The transformed subject, or `None` when `subject` does not match
    /// the source.
    pub fn apply(&self, subject: &str) -> Option<String> {
        if !subject::matches(self.src.as_bytes(), subject.as_bytes()) {
            return None;
        }
        let mut stars = Vec::new();
        let mut rest = "";
        let mut at = 0usize;
        for pat in self.src.split('.') {
            let tail = subject.get(at..).unwrap_or("");
            if pat == ">" {
                rest = tail;
                break;
            }
            let tok = tail.split('.').next().unwrap_or("");
            if pat == "*" {
                stars.push(tok);
            }
            at += tok.len() + 1;
        }
        let star = |n: usize| stars.get(n.wrapping_sub(1)).copied().unwrap_or("");
        let mut parts: Vec<String> = Vec::with_capacity(self.dest.len());
        for d in &self.dest {
            match d {
                Dest::Literal(l) => parts.push(l.clone()),
                Dest::Wildcard(n) => parts.push(star(*n).to_string()),
                Dest::Rest => parts.push(rest.to_string()),
                Dest::Partition { buckets, wildcards } => {
                    let key: String = if wildcards.is_empty() {
                        subject.to_string()
                    } else {
                        wildcards.iter().map(|n| star(*n)).collect()
                    };
                    let bucket = fnv1a32(key.as_bytes()) % (*buckets).max(1);
                    parts.push(bucket.to_string());
                }
                Dest::Split { wildcard, delim } => {
                    let pieces = star(*wildcard)
                        .split(delim.as_str())
                        .filter(|p| !p.is_empty());
                    parts.push(pieces.collect::<Vec<_>>().join("."));
                }
                Dest::SplitFromLeft { wildcard, at } => {
                    parts.push(split_at(star(*wildcard), *at));
                }
                Dest::SplitFromRight { wildcard, at } => {
                    let tok = star(*wildcard);
                    parts.push(split_at(tok, tok.len().saturating_sub(*at)));
                }
                Dest::SliceFromLeft { wildcard, size } => {
                    parts.push(slices(star(*wildcard), *size, false));
                }
                Dest::SliceFromRight { wildcard, size } => {
                    parts.push(slices(star(*wildcard), *size, true));
                }
                Dest::Left { wildcard, len } => {
                    let tok = star(*wildcard);
                    parts.push(tok.get(..(*len).min(tok.len())).unwrap_or(tok).to_string());
                }
                Dest::Right { wildcard, len } => {
                    let tok = star(*wildcard);
                    let from = tok.len().saturating_sub(*len);
                    parts.push(tok.get(from..).unwrap_or(tok).to_string());
                }
            }
        }
        Some(parts.join("."))
    }
}

/// Wildcard numbers a destination token refers to.
fn wildcards_of(d: &Dest) -> Vec<usize> {
    match d {
        Dest::Literal(_) | Dest::Rest => Vec::new(),
        Dest::Partition { wildcards, .. } => wildcards.clone(),
        Dest::Wildcard(n)
        | Dest::Split { wildcard: n, .. }
        | Dest::SplitFromLeft { wildcard: n, .. }
        | Dest::SplitFromRight { wildcard: n, .. }
        | Dest::SliceFromLeft { wildcard: n, .. }
        | Dest::SliceFromRight { wildcard: n, .. }
        | Dest::Left { wildcard: n, .. }
        | Dest::Right { wildcard: n, .. } => vec![*n],
    }
}

fn parse_token(tok: &str) -> Result<Dest, TransformError> {
    if tok == ">" {
        return Ok(Dest::Rest);
    }
    if let Some(n) = tok.strip_prefix('$') {
        if let Ok(n) = n.parse::<usize>() {
            return Ok(Dest::Wildcard(n));
        }
    }
    let Some(inner) = tok.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) else {
        return Ok(Dest::Literal(tok.to_string()));
    };
    let unknown = || TransformError::UnknownFunction(tok.to_string());
    let bad = || TransformError::BadArguments(tok.to_string());
    let inner = inner.trim();
    let (name, args) = inner.split_once('(').ok_or_else(unknown)?;
    let args = args.strip_suffix(')').ok_or_else(bad)?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let num = |i: usize| -> Result<usize, TransformError> {
        args.get(i)
            .and_then(|a| a.parse::<usize>().ok())
            .ok_or_else(bad)
    };
    let two = |f: fn(usize, usize) -> Dest| -> Result<Dest, TransformError> {
        if args.len() != 2 {
            return Err(bad());
        }
        Ok(f(num(0)?, num(1)?))
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "wildcard" if args.len() == 1 => Ok(Dest::Wildcard(num(0)?)),
        "wildcard" => Err(bad()),
        "partition" => {
            let buckets = u32::try_from(num(0)?).map_err(|_| bad())?;
            let wildcards = (1..args.len()).map(num).collect::<Result<_, _>>()?;
            Ok(Dest::Partition { buckets, wildcards })
        }
        "split" if args.len() == 2 && !args[1].is_empty() => Ok(Dest::Split {
            wildcard: num(0)?,
            delim: args[1].to_string(),
        }),
        "split" => Err(bad()),
        "splitfromleft" => two(|wildcard, at| Dest::SplitFromLeft { wildcard, at }),
        "splitfromright" => two(|wildcard, at| Dest::SplitFromRight { wildcard, at }),
        "slicefromleft" => two(|wildcard, size| Dest::SliceFromLeft { wildcard, size }),
        "slicefromright" => two(|wildcard, size| Dest::SliceFromRight { wildcard, size }),
        "left" => two(|wildcard, len| Dest::Left { wildcard, len }),
        "right" => two(|wildcard, len| Dest::Right { wildcard, len }),
        _ => Err(unknown()),
    }
}

/// `tok` cut in two at byte `at`; unchanged if that leaves a side empty.
fn split_at(tok: &str, at: usize) -> String {
    match (tok.get(..at), tok.get(at..)) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => format!("{a}.{b}"),
        _ => tok.to_string(),
    }
}

/// `tok` in pieces of `size` bytes, counted from the left or the right.
fn slices(tok: &str, size: usize, from_right: bool) -> String {
    if size == 0 || tok.len() <= size {
        return tok.to_string();
    }
    let first = if from_right {
        match tok.len() % size {
            0 => size,
            r => r,
        }
    } else {
        size
    };
    let mut out = Vec::new();
    let mut at = 0;
    let mut len = first;
    while at < tok.len() {
        let end = (at + len).min(tok.len());
        out.push(tok.get(at..end).unwrap_or(""));
        at = end;
        len = size;
    }
    out.join(".")
}

/// 32-bit FNV-1a, the hash nats-server partitions by.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str, dest: &str, subject: &str) -> String {
        Transform::new(src, dest)
            .unwrap()
            .apply(subject)
            .unwrap_or_else(|| panic!("{subject} does not match {src}"))
    }

    /// Expected subjects recorded from nats-server 2.15.1 (stored subject
    /// of a stream with `subject_transform {src: "in.*.*", dest}`).
    #[test]
    fn functions_as_nats_server() {
        let inputs = [
            "in.abc-de-f.k",
            "in.x.y",
            "in.hello.world",
            "in.a--b.1",
            "in.abcde.zz",
            "in.0.1",
        ];
        let cases: &[(&str, [&str; 6])] = &[
            (
                "p.{{partition(10,1,2)}}.$1.$2",
                [
                    "p.7.abc-de-f.k",
                    "p.2.x.y",
                    "p.7.hello.world",
                    "p.1.a--b.1",
                    "p.2.abcde.zz",
                    "p.2.0.1",
                ],
            ),
            (
                "p.{{Partition(7,2)}}",
                ["p.6", "p.6", "p.0", "p.2", "p.0", "p.2"],
            ),
            (
                "s.{{split(1,-)}}.x",
                [
                    "s.abc.de.f.x",
                    "s.x.x",
                    "s.hello.x",
                    "s.a.b.x",
                    "s.abcde.x",
                    "s.0.x",
                ],
            ),
            (
                "sl.{{SplitFromLeft(1,2)}}",
                [
                    "sl.ab.c-de-f",
                    "sl.x",
                    "sl.he.llo",
                    "sl.a-.-b",
                    "sl.ab.cde",
                    "sl.0",
                ],
            ),
            (
                "sr.{{splitfromright(1,2)}}",
                [
                    "sr.abc-de.-f",
                    "sr.x",
                    "sr.hel.lo",
                    "sr.a-.-b",
                    "sr.abc.de",
                    "sr.0",
                ],
            ),
            (
                "cl.{{slicefromleft(1,2)}}",
                [
                    "cl.ab.c-.de.-f",
                    "cl.x",
                    "cl.he.ll.o",
                    "cl.a-.-b",
                    "cl.ab.cd.e",
                    "cl.0",
                ],
            ),
            (
                "cr.{{slicefromright(1,2)}}",
                [
                    "cr.ab.c-.de.-f",
                    "cr.x",
                    "cr.h.el.lo",
                    "cr.a-.-b",
                    "cr.a.bc.de",
                    "cr.0",
                ],
            ),
            (
                "l.{{left(1,2)}}",
                ["l.ab", "l.x", "l.he", "l.a-", "l.ab", "l.0"],
            ),
            (
                "r.{{right(1,2)}}",
                ["r.-f", "r.x", "r.lo", "r.-b", "r.de", "r.0"],
            ),
            (
                "w.{{ wildcard(2) }}.{{wildcard(1)}}",
                [
                    "w.k.abc-de-f",
                    "w.y.x",
                    "w.world.hello",
                    "w.1.a--b",
                    "w.zz.abcde",
                    "w.1.0",
                ],
            ),
            (
                "m.$2.x.$1",
                [
                    "m.k.x.abc-de-f",
                    "m.y.x.x",
                    "m.world.x.hello",
                    "m.1.x.a--b",
                    "m.zz.x.abcde",
                    "m.1.x.0",
                ],
            ),
        ];
        for (dest, want) in cases {
            for (input, want) in inputs.iter().zip(want) {
                assert_eq!(t("in.*.*", dest, input), *want, "{dest} on {input}");
            }
        }
    }

    #[test]
    fn full_wildcard_and_no_match() {
        assert_eq!(t(">", "transformed.>", "test"), "transformed.test");
        assert_eq!(t("", "x.>", "a.b.c"), "x.a.b.c");
        assert_eq!(t("a.>", "b.>", "a.b.c"), "b.b.c");
        assert_eq!(t("a.*.>", "$1.>", "a.b.c.d"), "b.c.d");
        let tr = Transform::new("a.*", "b.$1").unwrap();
        assert_eq!(tr.apply("c.d"), None);
        assert_eq!(tr.apply("a.d.e"), None);
    }

    #[test]
    fn refusals_as_nats_server() {
        let e = |s: &str, d: &str| Transform::new(s, d).unwrap_err().to_string();
        assert_eq!(
            e("a.*", "t.$2"),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(e("a.*", "t.>"), "invalid subject");
        assert_eq!(e("a.>", "t.*"), "invalid subject");
        assert_eq!(e("in.*.*", "st.*.*"), "invalid subject");
        assert_eq!(
            e("a.*", "t.{{bogus(1)}}"),
            "invalid mapping destination: unknown function in {{bogus(1)}}"
        );
        assert!(Transform::new("a.*", "t.{{partition(0,1)}}").is_ok());
    }
}
