//! Query-string parameters, decoded and validated as nats-server does, so a
//! bad value gets the same 400 text (`Error decoding int for 'limit': ...`).

/// A bad parameter: the 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam(pub String);

pub type Result<T> = std::result::Result<T, BadParam>;

/// `key=value` pairs in order; the first occurrence of a key wins (Go's `Query().Get`).
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query { pairs }
    }

    /// The value, or "" when absent (Go treats both alike).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Go's `strconv.ParseBool`: 1 t T TRUE true True / 0 f F FALSE false False.
    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            v => Err(BadParam(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))),
        }
    }

    /// Go's `strconv.Atoi`; absent is 0.
    pub fn int(&self, key: &str) -> Result<i64> {
        match self.get(key) {
            "" => Ok(0),
            v => v.parse().map_err(|_| {
                BadParam(format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing \"{v}\": invalid syntax"
                ))
            }),
        }
    }

    /// Go's `strconv.ParseUint`; absent is 0.
    pub fn uint(&self, key: &str) -> Result<u64> {
        match self.get(key) {
            "" => Ok(0),
            v => v.parse().map_err(|_| {
                BadParam(format!(
                    "Error decoding uint64 for '{key}': strconv.ParseUint: parsing \"{v}\": invalid syntax"
                ))
            }),
        }
    }
}

/// Paging as nats-server clamps it: negative offset → 0, limit ≤ 0 → 1024.
pub fn paging(q: &Query) -> Result<(usize, usize)> {
    const LIST_LEN_DEFAULT: usize = 1024;
    let offset = q.int("offset")?.max(0) as usize;
    let limit = match q.int("limit")? {
        n if n <= 0 => LIST_LEN_DEFAULT,
        n => n as usize,
    };
    Ok((offset, limit))
}

/// `items[offset..offset+limit]`, clamped.
pub fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}

/// URL form decoding: `+` is a space, `%XX` a byte; malformed escapes stay as written.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_takes_first() {
        let q = Query::parse("test=foo%2Ebar&a=1&a=2&sp=x+y&bad=%G1&end=%4");
        assert_eq!(q.get("test"), "foo.bar");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.get("sp"), "x y");
        assert_eq!(q.get("bad"), "%G1");
        assert_eq!(q.get("end"), "%4");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn go_style_errors() {
        let q = Query::parse("subs=2&limit=x&cid=abc&ok=T");
        assert!(q.bool("ok").unwrap());
        assert_eq!(
            q.bool("subs").unwrap_err().0,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"2\": invalid syntax"
        );
        assert!(q
            .int("limit")
            .unwrap_err()
            .0
            .starts_with("Error decoding int for 'limit'"));
        assert!(q
            .uint("cid")
            .unwrap_err()
            .0
            .starts_with("Error decoding uint64 for 'cid'"));
    }

    #[test]
    fn paging_clamps() {
        assert_eq!(
            paging(&Query::parse("limit=-1&offset=-3")).unwrap(),
            (0, 1024)
        );
        assert_eq!(paging(&Query::parse("limit=2&offset=1")).unwrap(), (1, 2));
        assert_eq!(page(vec![1, 2, 3], 1, 5), vec![2, 3]);
        assert_eq!(page(vec![1, 2, 3], 7, 5), Vec::<i32>::new());
    }
}
