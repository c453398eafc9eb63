//! Subject transforms of a mirror or source (`{"src","dest"}`): the
//! stream transform of [`crate::jetstream::transform`] plus what a source
//! adds to it: an empty `src` takes every subject, an empty `dest` keeps it.

use nile_engine::SubjectFilter;

use crate::jetstream::transform as mapping;
use crate::subject;

/// A compiled `src` → `dest` mapping.
#[derive(Debug, Clone)]
pub struct Transform {
    /// The source filter; empty means every subject.
    pub src: String,
    /// `None` keeps the subject as it is.
    dest: Option<mapping::Transform>,
}

/// Why a mapping is refused, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("invalid subject {0}")]
    BadSource(String),
    #[error("{0}")]
    BadDest(mapping::TransformError),
}

impl Transform {
    pub fn new(src: &str, dest: &str) -> Result<Transform, TransformError> {
        if !src.is_empty() && !subject::is_valid(src.as_bytes()) {
            return Err(TransformError::BadSource(src.to_string()));
        }
        let dest = match dest {
            "" => None,
            d => Some(mapping::Transform::new(src, d).map_err(TransformError::BadDest)?),
        };
        Ok(Transform {
            src: src.to_string(),
            dest,
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
        self.dest
            .as_ref()
            .and_then(|t| t.apply(subj))
            .unwrap_or_else(|| subj.to_string())
    }
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
        // The stream transform's functions work here too.
        let t = Transform::new("o.*", "p.{{partition(3,1)}}.$1").unwrap();
        assert!(t.apply("o.x").starts_with("p."));
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
