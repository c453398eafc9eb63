//! nats-server's config syntax: text in, tree out. No I/O of its own.
//!
//! The grammar follows nats-server's `conf/lex.go` and `conf/parse.go`: `key: value`, `key = value`
//! or `key value`; `{}` maps and `[]` arrays separated by commas or new lines; `#` and `//`
//! comments; `'raw'`, `"escaped"` and bare strings; integers with size suffixes; floats;
//! booleans (`true yes on` / `false no off`); Zulu datetimes; `(` ... `)` raw blocks; `$VAR`
//! references; `include file`. Includes and environment variables go through [`Env`], so the
//! caller decides where text comes from (tests feed it from memory).
//!
//! Deliberate differences from nats-server, all on input it rejects or mangles:
//! * a number directly followed by `]` (`[1, 2]`) is a number; nats-server makes `2]` a string
//!   and then fails;
//! * an unknown size suffix (`1kbb`) is an error; nats-server silently drops the key;
//! * an integer whose suffix overflows `i64` is an error; nats-server wraps around;
//! * a key with no value is an error (as in nats-server 2.10+, while 2.9 ignores it).

use std::collections::HashSet;
use std::sync::Arc;

/// Where a key or value starts: file name, 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

/// A value with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    String(String),
    Bool(bool),
    /// After the size suffix is applied: `1MB` is 1048576, `1M` is 1000000.
    Integer(i64),
    Float(f64),
    /// `YYYY-MM-DDTHH:MM:SSZ`, kept as written.
    DateTime(String),
    Array(Vec<Value>),
    Map(Map),
}

impl Kind {
    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::String(_) => "string",
            Kind::Bool(_) => "boolean",
            Kind::Integer(_) => "integer",
            Kind::Float(_) => "float",
            Kind::DateTime(_) => "datetime",
            Kind::Array(_) => "array",
            Kind::Map(_) => "map",
        }
    }
}

/// One `key: value` pair. Keys keep their spelling; lookups by the mapper ignore case.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Value,
    /// Some `$key` referred to this entry. nats-server does not report such entries as unknown
    /// fields: they are variable definitions.
    pub referenced: bool,
}

/// A map in file order. A repeated key appears twice; the later one wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    pub entries: Vec<Entry>,
}

impl Map {
    /// The last entry whose key equals `key` exactly (variables are case-sensitive).
    fn lookup_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().rev().find(|e| e.key == key)
    }
}

/// A syntax error at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// What the parser needs from the outside world.
pub trait Env {
    /// Text of `path` included from `from` (the including file's name). Returns the name to
    /// report in errors (normally the resolved path) and the text.
    fn include(&self, from: &str, path: &str) -> Result<(String, String), String>;
    /// An environment variable, consulted when `$NAME` is not a key in scope.
    fn var(&self, name: &str) -> Option<String>;
}

/// Nesting deeper than this is refused, so hostile input cannot overflow the stack.
const DEPTH_MAX: usize = 64;
/// Include chains longer than this are refused (a file including itself, for one).
const INCLUDE_DEPTH_MAX: usize = 16;
/// The key nats-server uses to parse an environment variable's text as a value.
const ENV_KEY: &str = "pk";

/// Parse a whole config file.
pub fn parse(file: &str, text: &str, env: &dyn Env) -> Result<Map, SyntaxError> {
    let mut seen = HashSet::new();
    Parser::new(file, text, env, 0, &mut seen).document()
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
    file: Arc<str>,
    env: &'a dyn Env,
    /// Maps being filled, outermost first: the scope of `$VAR` lookups.
    scopes: Vec<Map>,
    depth: usize,
    include_depth: usize,
    /// Environment variables being expanded, to refuse `A=$A` cycles.
    env_seen: &'a mut HashSet<String>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_nl(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Characters that end a bare number (nats-server's list, plus `]`).
fn ends_number(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => is_nl(c) || is_blank(c) || matches!(c, '}' | ']' | ';' | ','),
    }
}

/// Characters that end a bare string.
fn ends_bare(c: char) -> bool {
    is_nl(c) || is_blank(c) || matches!(c, ';' | ',' | ']' | '}')
}

impl<'a> Parser<'a> {
    fn new(
        file: &str,
        text: &str,
        env: &'a dyn Env,
        include_depth: usize,
        env_seen: &'a mut HashSet<String>,
    ) -> Self {
        Parser {
            chars: text.chars().collect(),
            at: 0,
            line: 1,
            column: 1,
            file: Arc::from(file),
            env,
            scopes: Vec::new(),
            depth: 0,
            include_depth,
            env_seen,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            pos: self.pos(),
            message: message.into(),
        })
    }

    /// At `#` or `//`?
    fn at_comment(&self) -> bool {
        self.peek() == Some('#') || (self.peek() == Some('/') && self.peek2() == Some('/'))
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_nl(c) {
                break;
            }
            self.bump();
        }
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    /// Skip white space, new lines and comments.
    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                _ if self.at_comment() => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// The top level. A JSON-style `{ ... }` around the whole file is allowed, as in
    /// nats-server 2.10+.
    fn document(mut self) -> Result<Map, SyntaxError> {
        self.scopes.push(Map::default());
        let mut braces = 0usize;
        loop {
            self.skip_space();
            match self.peek() {
                None if braces > 0 => return self.err("Unexpected EOF: missing '}'"),
                None => break,
                Some('{') => {
                    braces += 1;
                    self.bump();
                }
                Some('}') if braces > 0 => {
                    braces -= 1;
                    self.bump();
                }
                Some(';' | ',') if braces > 0 => {
                    self.bump();
                }
                Some(_) => {
                    self.entry()?;
                    self.top_value_end()?;
                }
            }
        }
        Ok(self.scopes.pop().unwrap_or_default())
    }

    /// After a top-level value: only blanks, then a comment, new line, `;`, `,`, `}` or EOF.
    fn top_value_end(&mut self) -> Result<(), SyntaxError> {
        self.skip_blanks();
        if self.at_comment() {
            self.skip_comment();
            return Ok(());
        }
        match self.peek() {
            None | Some('}') => Ok(()),
            Some(c) if is_nl(c) || c == ';' || c == ',' => {
                self.bump();
                Ok(())
            }
            Some(c) => self.err(format!(
                "Expected a top-level value to end with a new line, comment or EOF, but got '{c}' instead"
            )),
        }
    }

    /// `key [:=] value`, or `include path`; adds the result to the innermost scope.
    fn entry(&mut self) -> Result<(), SyntaxError> {
        let key_pos = self.pos();
        let (key, quoted) = self.key()?;
        if !quoted && key.eq_ignore_ascii_case("include") && self.peek().is_some_and(is_blank) {
            return self.include();
        }
        // nats-server lets new lines sit between a key and its separator or value.
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        if matches!(self.peek(), Some(':' | '=')) {
            self.bump();
            self.skip_blanks();
        }
        if self.peek().is_none() {
            return Err(SyntaxError {
                pos: key_pos,
                message: format!("key {key:?} has no value"),
            });
        }
        let value = self.value()?;
        self.scope().entries.push(Entry {
            key,
            key_pos,
            value,
            referenced: false,
        });
        Ok(())
    }

    fn scope(&mut self) -> &mut Map {
        if self.scopes.is_empty() {
            self.scopes.push(Map::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// A quoted key (no escapes, as nats-server) or a bare one up to blank, separator or brace.
    fn key(&mut self) -> Result<(String, bool), SyntaxError> {
        if let Some(q @ ('"' | '\'')) = self.peek() {
            self.bump();
            let mut key = String::new();
            loop {
                match self.bump() {
                    None => return self.err("Unexpected EOF in quoted key"),
                    Some(c) if c == q => return Ok((key, true)),
                    Some(c) => key.push(c),
                }
            }
        }
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[') {
                break;
            }
            key.push(c);
            self.bump();
        }
        if key.is_empty() {
            let c = self.peek().unwrap_or(' ');
            return self.err(format!("Unexpected '{c}' where a key was expected"));
        }
        Ok((key, false))
    }

    /// `include path`: parse the other file with its own scope and merge its keys here.
    fn include(&mut self) -> Result<(), SyntaxError> {
        self.skip_blanks();
        let pos = self.pos();
        let path = self.include_path()?;
        if self.include_depth >= INCLUDE_DEPTH_MAX {
            return Err(SyntaxError {
                pos,
                message: format!("include '{path}': includes nested too deeply"),
            });
        }
        let (name, text) = self
            .env
            .include(&self.file, &path)
            .map_err(|message| SyntaxError {
                pos: pos.clone(),
                message: format!("error parsing include file '{path}', {message}"),
            })?;
        let included = Parser::new(
            &name,
            &text,
            self.env,
            self.include_depth + 1,
            self.env_seen,
        )
        .document()?;
        self.scope().entries.extend(included.entries);
        Ok(())
    }

    fn include_path(&mut self) -> Result<String, SyntaxError> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let mut path = String::new();
                loop {
                    match self.bump() {
                        None => return self.err("Unexpected EOF in quoted include"),
                        Some(c) if c == q => return Ok(path),
                        Some(c) => path.push(c),
                    }
                }
            }
            None => self.err("Expected include value but found EOF"),
            Some(c) if is_nl(c) => self.err("Expected include value but found new line"),
            Some(c) if matches!(c, '[' | '{' | '(') || c == '-' || c.is_ascii_digit() => {
                self.err(format!("Expected include value but found '{c}'"))
            }
            Some(_) => {
                let mut path = String::new();
                while let Some(c) = self.peek() {
                    if is_nl(c) || is_blank(c) || matches!(c, ';' | '}' | '\'') {
                        break;
                    }
                    path.push(c);
                    self.bump();
                }
                Ok(path)
            }
        }
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        let pos = self.pos();
        let kind = match self.peek() {
            None => return self.err("Expected value but found EOF"),
            Some('[') => self.nested(Self::array)?,
            Some('{') => self.nested(Self::map)?,
            Some('\'') => Kind::String(self.single_quoted()?),
            Some('"') => Kind::String(self.double_quoted()?),
            Some('(') => Kind::String(self.raw_block()?),
            Some('-') => self.negative_number()?,
            Some(c) if c.is_ascii_digit() => self.number_or_string()?,
            Some('.') => return self.err("Floats must start with a digit"),
            Some(c) if is_nl(c) => return self.err("Expected value but found new line"),
            Some(_) => return self.bare(pos),
        };
        Ok(Value { kind, pos })
    }

    /// Run `f` one level deeper, refusing absurd nesting.
    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Kind, SyntaxError>,
    ) -> Result<Kind, SyntaxError> {
        if self.depth >= DEPTH_MAX {
            return self.err("maps and arrays nested too deeply");
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn array(&mut self) -> Result<Kind, SyntaxError> {
        self.bump(); // '['
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return self.err("Unexpected EOF processing array"),
                Some(']') => {
                    self.bump();
                    return Ok(Kind::Array(items));
                }
                Some(',') => return self.err("Unexpected array value terminator ','"),
                Some(_) => {}
            }
            items.push(self.value()?);
            self.skip_blanks();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(Kind::Array(items));
                }
                Some(c) if c == ',' || is_nl(c) => {
                    self.bump();
                }
                None => return self.err("Unexpected EOF processing array"),
                Some(c) => {
                    return self.err(format!(
                        "Expected an array value terminator ',' or an array terminator ']', but got '{c}' instead"
                    ))
                }
            }
        }
    }

    fn map(&mut self) -> Result<Kind, SyntaxError> {
        self.bump(); // '{'
        self.scopes.push(Map::default());
        let result = self.map_body();
        let map = self.scopes.pop().unwrap_or_default();
        result.map(|()| Kind::Map(map))
    }

    fn map_body(&mut self) -> Result<(), SyntaxError> {
        loop {
            self.skip_space();
            match self.peek() {
                None => return self.err("Unexpected EOF processing map"),
                Some('}') => {
                    self.bump();
                    return Ok(());
                }
                Some(c @ (':' | '=' | ',' | ']')) => {
                    return self.err(format!("Unexpected '{c}' processing map"))
                }
                Some(_) => {}
            }
            self.entry()?;
            self.skip_blanks();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            match self.peek() {
                Some('}') => {
                    self.bump();
                    return Ok(());
                }
                Some(c) if c == ',' || c == ';' || is_nl(c) => {
                    self.bump();
                }
                None => return self.err("Unexpected EOF processing map"),
                Some(c) => {
                    return self.err(format!(
                        "Expected a map value terminator ',' or a map terminator '}}', but got '{c}' instead"
                    ))
                }
            }
        }
    }

    /// `'...'`: no escapes.
    fn single_quoted(&mut self) -> Result<String, SyntaxError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return self.err("Unexpected EOF in quoted string"),
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// `"..."` with nats-server's escapes.
    fn double_quoted(&mut self) -> Result<String, SyntaxError> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None => return self.err("Unexpected EOF in quoted string"),
                Some('"') => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
                Some('\\') => self.escape(&mut bytes)?,
                Some(c) => push_char(&mut bytes, c),
            }
        }
    }

    /// After a `\`: `\xHH \t \n \r \" \\`. `\xHH` is a raw byte, so escapes can spell UTF-8.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        match self.bump() {
            Some('t') => out.push(b'\t'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = [self.bump(), self.bump()].iter().flatten().collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 => out.push(b),
                    _ => {
                        return self.err(format!(
                            "Expected two hexadecimal digits after '\\x', but got '{hex}'"
                        ))
                    }
                }
            }
            other => {
                let c = other.map(String::from).unwrap_or_else(|| "EOF".into());
                return self.err(format!(
                    "Invalid escape character '{c}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\"
                ));
            }
        }
        Ok(())
    }

    /// `(` ... `)` where the `)` stands alone on its line: the text in between, verbatim.
    fn raw_block(&mut self) -> Result<String, SyntaxError> {
        self.bump();
        let start = self.at;
        loop {
            match self.bump() {
                None => return self.err("Unexpected EOF processing block"),
                Some(')') => {
                    let alone_before = self.at >= 2 && self.chars.get(self.at - 2) == Some(&'\n');
                    let alone_after = matches!(self.peek(), None | Some('\n'));
                    if alone_before && alone_after {
                        let end = self.at - 2;
                        return Ok(self.chars[start..end].iter().collect());
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// `-` then digits: an integer (maybe with suffix) or a float.
    fn negative_number(&mut self) -> Result<Kind, SyntaxError> {
        let start = self.at;
        let pos = self.pos();
        self.bump();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return self.err("Floats must start with a digit, not '.'"),
            other => {
                let c = other.map(String::from).unwrap_or_else(|| "EOF".into());
                return self.err(format!("Expected a digit but got '{c}'"));
            }
        }
        self.digits();
        match self.peek() {
            Some('.') => self.float_or_ip(start),
            Some(c) if is_size_suffix(c) => self.sized_or_string(start, pos),
            _ => self.integer(start, pos),
        }
    }

    /// Starts with a digit: integer, sized integer, float, IP address, datetime, or a bare
    /// string that happens to start with a digit (`2s`, `10.0.0.1:4222` aside).
    fn number_or_string(&mut self) -> Result<Kind, SyntaxError> {
        let start = self.at;
        let pos = self.pos();
        self.digits();
        match self.peek() {
            Some('-') if self.at - start == 4 => self.datetime(start),
            Some('-') => self.err("All ISO8601 dates must be in full Zulu form"),
            Some('.') => self.float_or_ip(start),
            Some(c) if is_size_suffix(c) => self.sized_or_string(start, pos),
            c if ends_number(c) => self.integer(start, pos),
            _ => self.bare_from(start, pos).map(|v| v.kind),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn text(&self, start: usize) -> String {
        self.chars
            .get(start..self.at)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    fn integer(&mut self, start: usize, pos: Pos) -> Result<Kind, SyntaxError> {
        let text = self.text(start);
        match text.parse::<i64>() {
            Ok(n) => Ok(Kind::Integer(n)),
            Err(_) => Err(SyntaxError {
                pos,
                message: format!("integer '{text}' is out of the range"),
            }),
        }
    }

    /// Digits then `k`/`m`/... and any `b`/`i`: a size if a terminator follows, else a string.
    fn sized_or_string(&mut self, start: usize, pos: Pos) -> Result<Kind, SyntaxError> {
        let digits_end = self.at;
        self.bump();
        while matches!(self.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.bump();
        }
        if !ends_number(self.peek()) {
            return self.bare_from(start, pos).map(|v| v.kind);
        }
        let number: String = self.chars[start..digits_end].iter().collect();
        let suffix: String = self.chars[digits_end..self.at].iter().collect();
        let text = format!("{number}{suffix}");
        let err = |message: String| SyntaxError {
            pos: pos.clone(),
            message,
        };
        let n: i64 = number
            .parse()
            .map_err(|_| err(format!("integer '{text}' is out of the range")))?;
        let mult = size_multiplier(&suffix.to_ascii_lowercase())
            .ok_or_else(|| err(format!("unknown size suffix in '{text}'")))?;
        n.checked_mul(mult)
            .map(Kind::Integer)
            .ok_or_else(|| err(format!("integer '{text}' is out of the range")))
    }

    /// After digits and a `.`: a float, or an IP address (string) when a second `.` follows.
    fn float_or_ip(&mut self, start: usize) -> Result<Kind, SyntaxError> {
        self.bump(); // '.'
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let c = self
                .peek()
                .map(String::from)
                .unwrap_or_else(|| "EOF".into());
            return self.err(format!(
                "Floats must have a digit after the '.', but got '{c}' instead"
            ));
        }
        self.digits();
        if self.peek() == Some('.') {
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
            {
                self.bump();
            }
            return Ok(Kind::String(self.text(start)));
        }
        let text = self.text(start);
        text.parse::<f64>()
            .map(Kind::Float)
            .or_else(|_| self.err(format!("Expected float, but got '{text}'")))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, after `YYYY`.
    fn datetime(&mut self, start: usize) -> Result<Kind, SyntaxError> {
        const FORMAT: &str = "-00-00T00:00:00Z";
        for f in FORMAT.chars() {
            let c = self.peek();
            let ok = match f {
                '0' => c.is_some_and(|c| c.is_ascii_digit()),
                _ => c == Some(f),
            };
            if !ok {
                let got = c.map(String::from).unwrap_or_else(|| "EOF".into());
                return self.err(format!(
                    "Expected '{f}' in ISO8601 datetime, but found '{got}' instead"
                ));
            }
            self.bump();
        }
        Ok(Kind::DateTime(self.text(start)))
    }

    /// A bare string from the current position.
    fn bare(&mut self, pos: Pos) -> Result<Value, SyntaxError> {
        let start = self.at;
        self.bare_from(start, pos)
    }

    /// A bare string that began at `start`: up to a blank, new line, `; , ] }` or EOF. A `'`
    /// also ends it (and is eaten), as in nats-server. Then: boolean, `$variable` or string.
    fn bare_from(&mut self, start: usize, pos: Pos) -> Result<Value, SyntaxError> {
        let mut bytes = Vec::new();
        for &c in self.chars.get(start..self.at).unwrap_or_default() {
            push_char(&mut bytes, c);
        }
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if ends_bare(c) {
                break;
            }
            self.bump();
            match c {
                '\'' => break,
                '\\' => {
                    escaped = true;
                    self.escape(&mut bytes)?;
                }
                c => push_char(&mut bytes, c),
            }
        }
        let s = String::from_utf8_lossy(&bytes).into_owned();
        if escaped {
            return Ok(Value {
                kind: Kind::String(s),
                pos,
            });
        }
        if let Some(b) = parse_bool(&s) {
            return Ok(Value {
                kind: Kind::Bool(b),
                pos,
            });
        }
        match s.strip_prefix('$') {
            Some(name) => self.variable(name, pos),
            None => Ok(Value {
                kind: Kind::String(s),
                pos,
            }),
        }
    }

    /// `$name`: a key in an enclosing map (innermost first), else an environment variable
    /// parsed as a config value. `$2a$...` is a bare bcrypt hash, not a variable.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, SyntaxError> {
        if name.starts_with("2a$") {
            return Ok(Value {
                kind: Kind::String(format!("${name}")),
                pos,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.lookup_mut(name) {
                entry.referenced = true;
                return Ok(Value {
                    kind: entry.value.kind.clone(),
                    pos,
                });
            }
        }
        let line = pos.line;
        let fail = |message: String| SyntaxError {
            pos: pos.clone(),
            message,
        };
        let Some(text) = self.env.var(name) else {
            return Err(fail(format!(
                "variable reference for '{name}' on line {line} can not be found"
            )));
        };
        if !self.env_seen.insert(name.to_string()) {
            return Err(fail(format!("variable reference cycle for '{name}'")));
        }
        let source = format!("{ENV_KEY}={text}");
        let parsed = Parser::new(
            &self.file,
            &source,
            self.env,
            self.include_depth,
            self.env_seen,
        )
        .document();
        self.env_seen.remove(name);
        let map = parsed.map_err(|e| {
            fail(format!(
                "variable reference for '{name}' on line {line} could not be parsed: {}",
                e.message
            ))
        })?;
        match map.entries.into_iter().rev().find(|e| e.key == ENV_KEY) {
            Some(entry) => Ok(Value {
                kind: entry.value.kind,
                pos,
            }),
            None => Err(fail(format!(
                "variable reference for '{name}' on line {line} can not be found"
            ))),
        }
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// nats-server's booleans, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// nats-server's size suffixes (lower-cased): a bare letter is decimal (`1k` = 1000), with `b`,
/// `i` or `ib` it is binary (`1kb` = `1KiB` = 1024).
fn size_multiplier(suffix: &str) -> Option<i64> {
    const K: i64 = 1000;
    const KI: i64 = 1024;
    let (letter, rest) = suffix.split_at(suffix.len().min(1));
    let power = match letter {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    match rest {
        "" => Some(K.pow(power)),
        "b" | "i" | "ib" => Some(KI.pow(power)),
        _ => None,
    }
}
