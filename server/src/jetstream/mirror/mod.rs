//! Mirrors and sources: streams fed from other streams of this server.
//!
//! - A **mirror** is a copy of one origin stream with the origin's sequence
//!   numbers (gaps kept); it has no subjects of its own.
//! - A stream with **sources** appends messages of several origins under new
//!   sequence numbers, each stamped with a `Nats-Stream-Source` header, next
//!   to what is published on its own subjects.
//!
//! On one server there is no need for nats-server's internal push consumers:
//! a copier task per stream ([`copier`]) reads each origin's engine from the
//! next sequence it needs up to the origin's durable watermark and appends
//! into the stream. It wakes when an origin's watermark moves. Where it left
//! off is never stored separately, so it cannot disagree with the messages:
//! a mirror resumes after its own last sequence, a source after the origin
//! sequence in the newest `Nats-Stream-Source` header naming it.
//!
//! This file holds the config side: parsing, the checks nats-server makes on
//! create and update, and the `mirror` / `sources` objects of STREAM.INFO.

pub mod copier;
pub mod transform;

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::transform::{Transform, TransformError};
use super::config::{is_valid_name, StreamConfig};
use super::errors::{err, ApiError};
use super::stream::Stream;
use super::JetStream;
use crate::subject;

pub use copier::{start, stop, wake_all};

/// The header a sourced message carries: origin, its sequence, filter,
/// transform destination and original subject.
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TransformSpec {
    pub src: String,
    pub dest: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct External {
    pub api: String,
    pub deliver: String,
}

/// One `mirror` or `sources[]` entry (nats-server's StreamSource). Field
/// order and omitted empties are nats-server's, so configs echo alike.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SourceSpec {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub filter_subject: Option<String>,
    #[serde(skip_serializing_if = "is_empty_list")]
    pub subject_transforms: Option<Vec<TransformSpec>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Fields Nile does not act on (such as 2.14's `consumer`), echoed back.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_empty_str(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(str::is_empty)
}

fn is_empty_list(v: &Option<Vec<TransformSpec>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

/// Which of the two a spec is, for error codes and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mirror,
    Source,
}

impl SourceSpec {
    pub fn parse(v: &Value) -> Result<SourceSpec, ApiError> {
        serde_json::from_value(v.clone()).map_err(|e| err::invalid_json(&e.to_string()))
    }

    fn filter(&self) -> &str {
        self.filter_subject.as_deref().unwrap_or("")
    }

    fn transform_specs(&self) -> &[TransformSpec] {
        self.subject_transforms.as_deref().unwrap_or(&[])
    }

    /// The compiled filters: the transforms, else the filter subject, else
    /// everything. Each comes with the `src dest` pair its header names.
    pub fn transforms(&self) -> Vec<(Transform, String, String)> {
        let token = |s: &str| if s.is_empty() { ">" } else { s }.to_string();
        let specs = self.transform_specs();
        if specs.is_empty() {
            let f = self.filter();
            return Transform::new(f, "")
                .map(|t| vec![(t, token(f), ">".to_string())])
                .unwrap_or_default();
        }
        specs
            .iter()
            .filter_map(|s| {
                let t = Transform::new(&s.src, &s.dest).ok()?;
                Some((t, token(&s.src), token(&s.dest)))
            })
            .collect()
    }

    /// Identity for duplicate detection: the origin, its filters and where
    /// it lives.
    fn identity(&self) -> String {
        let mut id = self.name.clone();
        if let Some(e) = &self.external {
            id.push(':');
            id.push_str(&e.api);
        }
        id.push(' ');
        id.push_str(self.filter());
        for t in self.transform_specs() {
            id.push_str(&format!(" {}>{}", t.src, t.dest));
        }
        id
    }

    /// Is the origin on this server? An `external.api` that names this
    /// server's own domain API is.
    pub fn is_local(&self, domain: Option<&str>) -> bool {
        match &self.external {
            None => true,
            Some(e) => domain.is_some_and(|d| e.api == format!("$JS.{d}.API")),
        }
    }

    /// The static checks nats-server makes on one entry.
    /// ADR-60's `consumer` (a durable consumer on the origin to copy
    /// through) needs a name and a deliver subject, and takes the place of
    /// the start and filter settings, which then belong to that consumer.
    fn check_consumer(&self, kind: Kind) -> Result<(), ApiError> {
        let Some(c) = self.other.get("consumer").filter(|c| !c.is_null()) else {
            return Ok(());
        };
        let set = |k: &str| c[k].as_str().is_some_and(|v| !v.is_empty());
        let positioned = self.opt_start_seq > 0 || self.opt_start_time.is_some();
        let filtered = !self.filter().is_empty() || !self.transform_specs().is_empty();
        if set("name") && set("deliver_subject") && !positioned && !filtered {
            return Ok(());
        }
        Err(match kind {
            Kind::Mirror => err::mirror_consumer_invalid(),
            Kind::Source => err::source_consumer_invalid(),
        })
    }

    fn check(&self, kind: Kind) -> Result<(), ApiError> {
        let (bad_name, multiple, bad_src, bad_dest, overlap) = match kind {
            Kind::Mirror => (
                err::mirror_invalid_stream_name as fn() -> ApiError,
                err::mirror_multiple_filters as fn() -> ApiError,
                err::mirror_invalid_subject_filter as fn(TransformError) -> ApiError,
                err::mirror_invalid_transform_dest as fn(TransformError) -> ApiError,
                err::mirror_overlapping_filters as fn() -> ApiError,
            ),
            Kind::Source => (
                err::source_invalid_stream_name as fn() -> ApiError,
                err::source_multiple_filters as fn() -> ApiError,
                err::source_invalid_subject_filter as fn(TransformError) -> ApiError,
                err::source_invalid_transform_dest as fn(TransformError) -> ApiError,
                err::source_overlapping_filters as fn() -> ApiError,
            ),
        };
        if kind == Kind::Source && !is_valid_name(&self.name) {
            return Err(bad_name());
        }
        self.check_consumer(kind)?;
        if !self.filter().is_empty() && !self.transform_specs().is_empty() {
            return Err(multiple());
        }
        let specs = self.transform_specs();
        for t in specs {
            Transform::new(&t.src, &t.dest).map_err(|e| match e {
                TransformError::BadSource(_) => bad_src(e),
                TransformError::BadDest(_) => bad_dest(e),
            })?;
        }
        let pattern = |s: &str| if s.is_empty() { ">" } else { s }.to_string();
        for (i, a) in specs.iter().enumerate() {
            let clash = specs.iter().skip(i + 1).any(|b| {
                let (a, b) = (pattern(&a.src), pattern(&b.src));
                match kind {
                    Kind::Mirror => subject::overlaps(a.as_bytes(), b.as_bytes()),
                    Kind::Source => {
                        subject::is_subset(a.as_bytes(), b.as_bytes())
                            || subject::is_subset(b.as_bytes(), a.as_bytes())
                    }
                }
            });
            if clash {
                return Err(overlap());
            }
        }
        match &self.external {
            None if kind == Kind::Mirror && !is_valid_name(&self.name) => return Err(bad_name()),
            None => {}
            Some(e) => check_external(e)?,
        }
        let f = self.filter();
        if !f.is_empty() && !subject::is_valid(f.as_bytes()) {
            return Err(err::stream_create(match kind {
                Kind::Mirror => format!("subject filter '{f}' for the mirror invalid subject"),
                Kind::Source => format!("subject filter '{f}' for the source: invalid subject"),
            }));
        }
        Ok(())
    }
}

fn check_external(e: &External) -> Result<(), ApiError> {
    let literal = |p: &str| subject::is_valid_literal(p.as_bytes());
    if !e.deliver.is_empty() && !literal(&e.deliver) {
        return Err(err::external_delivery_invalid(&e.deliver));
    }
    if !e.api.is_empty() {
        if !literal(&e.api) {
            return Err(err::invalid_config(format!(
                "stream external api prefix {:?} must be a valid subject without wildcards",
                e.api
            )));
        }
        let api = format!("{}.>", e.api);
        if subject::overlaps(api.as_bytes(), b"$JS.API.>") {
            return Err(err::external_api_overlap(&e.api));
        }
    }
    Ok(())
}

/// The entry as nats-server echoes it (its field order, no empty fields,
/// `external` with both prefixes).
fn canonical(spec: &SourceSpec) -> Value {
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// Checks on `mirror` and `sources` that need no other stream, in
/// nats-server's order. An empty `sources` list is no sources at all.
pub fn check_config(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if cfg.sources.as_ref().is_some_and(Vec::is_empty) {
        cfg.sources = None;
    }
    if let Some(m) = &mut cfg.mirror {
        if cfg.first_seq > 0 {
            return Err(err::mirror_with_first_seq());
        }
        if !cfg.subjects.is_empty() {
            return Err(err::mirror_with_subjects());
        }
        if cfg.sources.is_some() {
            return Err(err::mirror_with_sources());
        }
        let spec = SourceSpec::parse(m)?;
        spec.check(Kind::Mirror)?;
        *m = canonical(&spec);
    }
    let mut seen = HashSet::new();
    for v in cfg.sources.iter_mut().flatten() {
        let spec = SourceSpec::parse(v)?;
        if !is_valid_name(&spec.name) {
            return Err(err::source_invalid_stream_name());
        }
        if !seen.insert(spec.identity()) {
            return Err(err::source_duplicate());
        }
        spec.check(Kind::Source)?;
        *v = canonical(&spec);
    }
    Ok(())
}

/// Does this config copy from other streams?
pub fn is_copy(cfg: &StreamConfig) -> bool {
    cfg.mirror.is_some() || cfg.sources.as_ref().is_some_and(|s| !s.is_empty())
}

/// Checks against the streams that exist, on create and update: message
/// size limits, cycles; and a mirror serves direct gets when its origin does.
pub fn resolve(js: &JetStream, cfg: &mut StreamConfig) -> Result<(), ApiError> {
    let domain = js.server.options().jetstream.domain.clone();
    let domain = domain.as_deref().filter(|d| !d.is_empty());
    let size = cfg.max_msg_size;
    let too_small = |origin: &Stream| {
        let o = origin.config.read().max_msg_size;
        size > 0 && o > 0 && size < o
    };
    if let Some(m) = cfg.mirror.as_ref().and_then(|v| SourceSpec::parse(v).ok()) {
        if let Some(origin) = js.stream(&m.name).filter(|_| m.is_local(domain)) {
            if too_small(&origin) {
                return Err(err::mirror_max_msg_size());
            }
            cfg.mirror_direct = origin.config.read().allow_direct;
        }
    }
    let sources = cfg.sources.iter().flatten();
    for s in sources.filter_map(|v| SourceSpec::parse(v).ok()) {
        if let Some(origin) = js.stream(&s.name).filter(|_| s.is_local(domain)) {
            if too_small(&origin) {
                return Err(err::source_max_msg_size());
            }
        }
    }
    check_cycles(js, cfg)
}

/// nats-server's cycle rule: following mirrors and sources from `cfg` must
/// not come back to a stream already seen (for sources: only when its
/// filter would take that stream's own subjects again).
fn check_cycles(js: &JetStream, cfg: &StreamConfig) -> Result<(), ApiError> {
    let cycle = || err::invalid_config("detected cycle");
    let mut queue = VecDeque::from([cfg.clone()]);
    let mut visited = HashSet::new();
    while let Some(c) = queue.pop_front() {
        visited.insert(c.name.clone());
        let mut next = Vec::new();
        for s in c
            .sources
            .iter()
            .flatten()
            .filter_map(|v| SourceSpec::parse(v).ok())
        {
            if s.external.is_some() {
                continue;
            }
            if visited.contains(&s.name) {
                let f = s.filter();
                let takes_own = f.is_empty()
                    || c.subjects
                        .iter()
                        .any(|subj| subject::overlaps(subj.as_bytes(), f.as_bytes()));
                if takes_own {
                    return Err(cycle());
                }
            } else {
                next.push(s.name);
            }
        }
        if let Some(m) = c.mirror.as_ref().and_then(|v| SourceSpec::parse(v).ok()) {
            if m.external.is_none() {
                if visited.contains(&m.name) {
                    return Err(cycle());
                }
                next.push(m.name);
            }
        }
        for name in next {
            let queued = queue.iter().any(|q| q.name == name);
            if let (false, Some(s)) = (queued, js.stream(&name)) {
                queue.push_back(s.config.read().clone());
            }
        }
    }
    Ok(())
}

/// Direct gets for `name`: the stream itself when it allows them, else a
/// mirror of it with `mirror_direct`.
pub fn direct_target(js: &JetStream, name: &str) -> Option<String> {
    let streams = js.streams.read();
    if streams
        .get(name)
        .is_some_and(|s| s.config.read().allow_direct)
    {
        return Some(name.to_string());
    }
    streams.values().find_map(|s| {
        let c = s.config.read();
        let origin = c.mirror.as_ref()?.get("name")?.as_str()?;
        (c.mirror_direct && origin == name).then(|| s.name.clone())
    })
}

/// Adds `mirror` / `sources` to a StreamInfo object (before `ts`, where
/// nats-server puts them).
pub fn info_into(v: &mut Value, stream: &Stream) {
    let Some(c) = stream.copier.lock().clone() else {
        return;
    };
    let links: Vec<Value> = c.links.iter().map(|l| link_info(l, c.mirror)).collect();
    let Value::Object(map) = v else { return };
    let ts = map.remove("ts");
    if c.mirror {
        if let Some(first) = links.into_iter().next() {
            map.insert("mirror".into(), first);
        }
    } else {
        map.insert("sources".into(), Value::Array(links));
    }
    if let Some(ts) = ts {
        map.insert("ts".into(), ts);
    }
}

fn link_info(l: &copier::Link, mirror: bool) -> Value {
    let st = l.report();
    let mut v = json!({"name": l.spec.name});
    if let Some(e) = l.raw.get("external") {
        v["external"] = e.clone();
    }
    v["lag"] = st.lag.into();
    if !mirror && st.last_seq > 0 {
        v["seq"] = st.last_seq.into();
    }
    v["active"] = st.active_ns.into();
    if let Some(f) = l.spec.filter_subject.as_ref().filter(|f| !f.is_empty()) {
        v["filter_subject"] = f.as_str().into();
    }
    if let Some(t) = l.raw.get("subject_transforms").filter(|t| !t.is_null()) {
        v["subject_transforms"] = t.clone();
    }
    if let Some(e) = st.error {
        v["error"] = json!(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: Value) -> Result<(), u16> {
        let mut cfg: StreamConfig = serde_json::from_value(json).unwrap();
        check_config(&mut cfg).map_err(|e| e.err_code)
    }

    #[test]
    fn codes_match_nats_server() {
        let m = |j: Value| check(json!({"name": "M", "mirror": j}));
        assert_eq!(
            check(json!({"name":"M","mirror":{"name":"O"},"subjects":["x"]})),
            Err(10034)
        );
        assert_eq!(
            check(json!({"name":"M","mirror":{"name":"O"},"sources":[{"name":"O"}]})),
            Err(10031)
        );
        assert_eq!(
            check(json!({"name":"M","mirror":{"name":"O"},"first_seq":5})),
            Err(10143)
        );
        assert_eq!(m(json!({"name": "a.b"})), Err(10142));
        assert_eq!(
            m(
                json!({"name":"O","filter_subject":"o.1","subject_transforms":[{"src":"o.1","dest":"p"}]})
            ),
            Err(10150)
        );
        assert_eq!(
            m(json!({"name":"O","subject_transforms":[{"src":"o.*","dest":"p.{{wildcard(2)}}"}]})),
            Err(10154)
        );
        assert_eq!(
            m(json!({"name":"O","external":{"api":"$JS.API"}})),
            Err(10021)
        );
        let s = |j: Value| check(json!({"name": "S", "sources": j}));
        assert_eq!(s(json!([{"name":"O"},{"name":"O"}])), Err(10140));
        assert_eq!(
            s(json!([{"name":"O","filter_subject":"a"},{"name":"O","filter_subject":"b"}])),
            Ok(())
        );
        assert_eq!(s(json!([{"name":"a.b"}])), Err(10141));
        assert_eq!(
            s(
                json!([{"name":"O","subject_transforms":[{"src":"o.*","dest":"p"},{"src":"o.1","dest":"q"}]}])
            ),
            Err(10147)
        );
        assert_eq!(
            s(json!([{"name":"O","subject_transforms":[{"src":"o..","dest":"p"}]}])),
            Err(10145)
        );
        assert_eq!(s(json!([{"name":"O","filter_subject":"o.."}])), Err(10049));
    }

    #[test]
    fn echo_is_canonical_and_keeps_fields_nile_does_not_act_on() {
        let mut cfg: StreamConfig = serde_json::from_value(json!({"name": "S", "sources": [
            {"filter_subject": "", "consumer": {"name": "c", "deliver_subject": "d"},
             "opt_start_seq": 0, "name": "O", "external": {"api": "$JS.hub.API"}}
        ]}))
        .unwrap();
        check_config(&mut cfg).unwrap();
        assert_eq!(
            serde_json::to_string(&cfg.sources.unwrap()[0]).unwrap(),
            r#"{"name":"O","external":{"api":"$JS.hub.API","deliver":""},"consumer":{"name":"c","deliver_subject":"d"}}"#
        );
    }
}
