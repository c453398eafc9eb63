//! An account's `exports` and `imports` lists.

use super::keys::{self, Result};
use super::parser::{Entry, Kind, Map, Value};
use crate::options::{Export, Import, ShareKind};

/// `exports: [ {stream: S} | {service: S, response_type, accounts: [..]} ]`.
pub fn exports(e: &Entry, path: &str) -> Result<Vec<Export>> {
    items(e, path)?
        .into_iter()
        .map(|m| export(e, path, m))
        .collect()
}

/// `imports: [ {stream: {account, subject}, prefix|to} | {service: {account, subject}, to} ]`.
pub fn imports(e: &Entry, path: &str) -> Result<Vec<Import>> {
    items(e, path)?
        .into_iter()
        .map(|m| import(e, path, m))
        .collect()
}

fn items<'a>(e: &'a Entry, path: &str) -> Result<Vec<&'a Map>> {
    let Kind::Array(list) = &e.value.kind else {
        return Err(keys::type_error(e, path, "an array"));
    };
    list.iter()
        .map(|v| match &v.kind {
            Kind::Map(m) => Ok(m),
            _ => Err(keys::value_error(v, path, "Expected a map entry")),
        })
        .collect()
}

fn text(v: &Value) -> Option<&str> {
    match &v.kind {
        Kind::String(s) => Some(s),
        _ => None,
    }
}

fn export(e: &Entry, path: &str, m: &Map) -> Result<Export> {
    let mut out = Export {
        kind: ShareKind::Stream,
        subject: String::new(),
        accounts: Vec::new(),
        response_stream: false,
    };
    for entry in &m.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = keys::join(path, &key);
        match key.as_str() {
            "stream" | "service" => {
                out.kind = kind_of(&key);
                out.subject = text(&entry.value)
                    .ok_or_else(|| keys::type_error(entry, &p, "a subject"))?
                    .to_string();
            }
            "accounts" => {
                let Kind::Array(list) = &entry.value.kind else {
                    return Err(keys::type_error(entry, &p, "an array of accounts"));
                };
                out.accounts = list.iter().filter_map(text).map(str::to_string).collect();
            }
            "response" | "response_type" => {
                let t = text(&entry.value).unwrap_or("").to_ascii_lowercase();
                out.response_stream = matches!(t.as_str(), "stream" | "chunked");
            }
            // Latency tracking, thresholds and tracing: not implemented.
            _ => {}
        }
    }
    if out.subject.is_empty() {
        return Err(keys::key_error(
            e,
            path,
            "Export requires a stream or service",
        ));
    }
    Ok(out)
}

fn import(e: &Entry, path: &str, m: &Map) -> Result<Import> {
    let mut out = Import {
        kind: ShareKind::Stream,
        account: String::new(),
        subject: String::new(),
        local: None,
    };
    let mut prefix = None;
    for entry in &m.entries {
        let key = entry.key.to_ascii_lowercase();
        let p = keys::join(path, &key);
        match key.as_str() {
            "stream" | "service" => {
                out.kind = kind_of(&key);
                let Kind::Map(src) = &entry.value.kind else {
                    return Err(keys::type_error(entry, &p, "{account, subject}"));
                };
                for f in &src.entries {
                    let v = text(&f.value).unwrap_or("").to_string();
                    match f.key.to_ascii_lowercase().as_str() {
                        "account" => out.account = v,
                        "subject" => out.subject = v,
                        _ => {}
                    }
                }
            }
            "to" | "local_subject" => out.local = text(&entry.value).map(str::to_string),
            "prefix" => prefix = text(&entry.value).map(str::to_string),
            _ => {}
        }
    }
    if out.account.is_empty() || out.subject.is_empty() {
        return Err(keys::key_error(
            e,
            path,
            "Import requires an account and a subject",
        ));
    }
    if let (Some(p), None) = (prefix, &out.local) {
        out.local = Some(format!("{}.{}", p.trim_end_matches('.'), out.subject));
    }
    Ok(out)
}

fn kind_of(key: &str) -> ShareKind {
    if key == "service" {
        ShareKind::Service
    } else {
        ShareKind::Stream
    }
}
