//! Subject transforms of a mirror or source (`{"src","dest"}`): the parts
//! of nats-server's mapping language that sources use — literal tokens,
//! `{{wildcard(n)}}` / `$n` and a trailing `>`.

use nile_engine::SubjectFilter;

use crate::subject;

/// One destination token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The n-th (1-based) `*` wildcard of the source.
    Wildcard(usize),
    /// The tokens matched by the source's trailing `>`.
    Rest,
}

/// A compiled `src` → `dest` mapping.
#[derive(Debug, Clone)]
pub struct Transform {
    /// The source filter; empty means every subject.
    pub src: String,
    /// Destination tokens; `None` keeps the subject as it is.
    dest: Option<Vec<Part>>,
}

/// Why a mapping is refused, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("invalid subject {0}")]
    BadSource(String),
    #[error("invalid mapping destination: {0}")]
    BadDest(String),
}

impl Transform {
    pub fn new(src: &str, dest: &str) -> Result<Transform, TransformError> {
        if !src.is_empty() && !subject::is_valid(src.as_bytes()) {
            return Err(TransformError::BadSource(src.to_string()));
        }
        let src_pattern = if src.is_empty() { ">" } else { src };
        let wildcards = src_pattern.split('.').filter(|t| *t == "*").count();
        let src_has_rest = src_pattern.ends_with('>');
        if dest.is_empty() {
            return Ok(Transform {
                src: src.to_string(),
                dest: None,
            });
        }
        let mut parts = Vec::new();
        for token in dest.split('.') {
            let part = parse_token(token)?;
            match part {
                Part::Wildcard(n) if n == 0 || n > wildcards => {
                    return Err(TransformError::BadDest(format!(
                        "wildcard index out of range in {token}: [{n}]"
                    )));
                }
                Part::Rest if !src_has_rest => {
                    return Err(TransformError::BadDest(
                        "invalid transform destination".into(),
                    ));
                }
                _ => parts.push(part),
            }
        }
        Ok(Transform {
            src: src.to_string(),
            dest: Some(parts),
        })
    }

    /// Does this transform take `subject`?
    pub fn matches(&self, subj: &[u8]) -> bool {
        self.src.is_empty() || subject::matches(self.src.as_bytes(), subj)
    }

    /// The engine filter for the source side.
    pub fn filter(&self) -> SubjectFilter {
        if self.src.is_empty() {
            SubjectFilter::all()
        } else {
            SubjectFilter::new(&self.src)
        }
    }

    /// The mapped subject, for a subject that [`matches`](Self::matches).
    pub fn apply(&self, subj: &str) -> String {
        let Some(parts) = &self.dest else {
            return subj.to_string();
        };
        let src = if self.src.is_empty() { ">" } else { &self.src };
        let tokens: Vec<&str> = subj.split('.').collect();
        let mut wild = Vec::new();
        let mut rest = String::new();
        for (i, p) in src.split('.').enumerate() {
            match p {
                "*" => wild.push(tokens.get(i).copied().unwrap_or("")),
                ">" => rest = tokens.get(i..).unwrap_or(&[]).join("."),
                _ => {}
            }
        }
        let out: Vec<String> = parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.clone(),
                Part::Wildcard(n) => wild.get(n - 1).copied().unwrap_or("").to_string(),
                Part::Rest => rest.clone(),
            })
            .collect();
        out.join(".")
    }
}

fn parse_token(token: &str) -> Result<Part, TransformError> {
    if token == ">" {
        return Ok(Part::Rest);
    }
    if let Some(n) = token.strip_prefix('$') {
        if let Ok(n) = n.parse::<usize>() {
            return Ok(Part::Wildcard(n));
        }
    }
    if let Some(inner) = token.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        let inner = inner.trim();
        let arg = inner
            .strip_prefix("wildcard(")
            .or_else(|| inner.strip_prefix("Wildcard("))
            .and_then(|a| a.strip_suffix(')'));
        return match arg.and_then(|a| a.trim().parse::<usize>().ok()) {
            Some(n) => Ok(Part::Wildcard(n)),
            None => Err(TransformError::BadDest(format!(
                "unknown function in {token}"
            ))),
        };
    }
    if token.is_empty() || token == "*" || token.contains([' ', '\t']) {
        return Err(TransformError::BadDest(
            "invalid transform destination".into(),
        ));
    }
    Ok(Part::Literal(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_wildcards_and_rest() {
        let t = Transform::new("o.*.*", "t.{{wildcard(2)}}.$1").unwrap();
        assert!(t.matches(b"o.a.b"));
        assert_eq!(t.apply("o.a.b"), "t.b.a");
        let t = Transform::new("", "x.>").unwrap();
        assert_eq!(t.apply("a.b"), "x.a.b");
        assert!(Transform::new("a.*", "x.>").is_err());
        let t = Transform::new(">", "x.>").unwrap();
        assert_eq!(t.apply("a.b"), "x.a.b");
        let t = Transform::new("o.*", "").unwrap();
        assert_eq!(t.apply("o.1"), "o.1");
    }

    #[test]
    fn refuses_what_nats_server_refuses() {
        assert_eq!(
            Transform::new("o.*", "p.{{wildcard(2)}}")
                .unwrap_err()
                .to_string(),
            "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
        );
        assert_eq!(
            Transform::new("o..", "p").unwrap_err().to_string(),
            "invalid subject o.."
        );
    }
}
