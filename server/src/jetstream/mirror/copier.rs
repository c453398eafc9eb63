//! The copier: one task per mirror or sourcing stream, reading each origin's
//! engine up to the origin's durable watermark and appending into the stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nile_engine::StoredMsg;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::transform::Transform;
use super::{is_copy, SourceSpec, STREAM_SOURCE};
use crate::jetstream::errors::{err, ApiError};
use crate::jetstream::headers::{self, HeaderBuilder};
use crate::jetstream::stream::{now_ns, Stream};
use crate::jetstream::JetStream;

/// Messages copied from one origin before the task yields to others.
const COPY_BATCH_MSGS_MAX: usize = 1024;
/// How often an idle copier looks again without being woken: covers an
/// origin that does not exist yet, and retries after an append error.
const ORIGIN_POLL_MS: u64 = 1000;

/// Where one mirror or source stands.
#[derive(Default)]
struct LinkState {
    /// Next origin sequence to look at; 0 until known.
    next_seq: u64,
    /// Last origin sequence copied.
    last_seq: u64,
    /// When the origin was last seen (ns since the epoch); 0 = never.
    active_ns: i64,
    error: Option<ApiError>,
    /// The origin this link is registered with for wake-ups.
    origin: Weak<Stream>,
}

/// One `mirror` or `sources[]` entry at run time.
pub struct Link {
    pub spec: SourceSpec,
    /// The entry as configured, for STREAM.INFO.
    pub raw: Value,
    filters: Vec<(Transform, String, String)>,
    local: bool,
    state: Mutex<LinkState>,
}

/// What STREAM.INFO reports about a link.
pub struct Report {
    pub lag: u64,
    pub last_seq: u64,
    /// Nanoseconds since the origin was last seen, -1 if never.
    pub active_ns: i64,
    pub error: Option<ApiError>,
}

pub struct Copier {
    pub mirror: bool,
    pub links: Vec<Link>,
    wake: Arc<Notify>,
    stop: AtomicBool,
}

/// Start (or restart, after an update) the copier of `stream`, if its
/// config has a mirror or sources.
pub fn start(js: &JetStream, stream: &Arc<Stream>) {
    stop(stream);
    let cfg = stream.config.read().clone();
    if !is_copy(&cfg) {
        return;
    }
    let domain = js.server.options().jetstream.domain.clone();
    let domain = domain.as_deref().filter(|d| !d.is_empty());
    let raws = cfg.mirror.iter().chain(cfg.sources.iter().flatten());
    let links = raws
        .filter_map(|raw| {
            let spec = SourceSpec::parse(raw).ok()?;
            Some(Link {
                filters: spec.transforms(),
                local: spec.is_local(domain),
                spec,
                raw: raw.clone(),
                state: Mutex::new(LinkState::default()),
            })
        })
        .collect();
    let copier = Arc::new(Copier {
        mirror: cfg.mirror.is_some(),
        links,
        wake: Arc::new(Notify::new()),
        stop: AtomicBool::new(false),
    });
    *stream.copier.lock() = Some(copier.clone());
    js.runtime
        .spawn(run(js.me.clone(), Arc::downgrade(stream), copier));
}

/// Stop the copier of `stream` (deleted, or about to be restarted).
pub fn stop(stream: &Stream) {
    if let Some(c) = stream.copier.lock().take() {
        c.stop.store(true, Ordering::Release);
        c.wake.notify_one();
    }
}

/// A stream appeared: copiers waiting for it as an origin look again.
pub fn wake_all(js: &JetStream) {
    for s in js.streams.read().values() {
        if let Some(c) = &*s.copier.lock() {
            c.wake.notify_one();
        }
    }
}

async fn run(js: Weak<JetStream>, stream: Weak<Stream>, c: Arc<Copier>) {
    let mut resumed = false;
    loop {
        if c.stop.load(Ordering::Acquire) {
            break;
        }
        let (Some(js), Some(me)) = (js.upgrade(), stream.upgrade()) else {
            break;
        };
        if !js.stream(&me.name).is_some_and(|s| Arc::ptr_eq(&s, &me)) {
            break;
        }
        if !resumed {
            c.resume(&me);
            resumed = true;
        }
        let mut busy = false;
        for link in &c.links {
            busy |= link.turn(&js, &me, c.mirror, &c.wake);
        }
        drop((js, me));
        if busy {
            tokio::task::yield_now().await;
            continue;
        }
        let poll = Duration::from_millis(ORIGIN_POLL_MS);
        let _ = tokio::time::timeout(poll, c.wake.notified()).await;
    }
}

impl Copier {
    /// Where to go on from, derived from what the stream holds: a mirror
    /// after its last sequence, a source after the origin sequence in the
    /// newest header naming it (scanning back from the end).
    fn resume(&self, me: &Stream) {
        let st = me.store.state(false);
        if st.msgs == 0 && st.last_seq == 0 {
            return;
        }
        if self.mirror {
            if let Some(l) = self.links.first() {
                l.state.lock().next_seq = st.last_seq + 1;
            }
            return;
        }
        let mut pending: Vec<&Link> = self.links.iter().collect();
        let mut seq = st.last_seq;
        while seq >= st.first_seq.max(1) && !pending.is_empty() {
            if let Some((name, origin_seq, src)) = me
                .store
                .get(seq)
                .ok()
                .and_then(|m| parse_source_header(&m.headers))
            {
                pending.retain(|l| {
                    let hit = l.spec.name == name && l.filters.iter().any(|(_, s, _)| *s == src);
                    if hit {
                        let mut ls = l.state.lock();
                        ls.next_seq = origin_seq + 1;
                        ls.last_seq = origin_seq;
                    }
                    !hit
                });
            }
            seq -= 1;
        }
    }
}

/// `<origin> <seq> <filter> ...` of a `Nats-Stream-Source` header.
fn parse_source_header(hdrs: &[u8]) -> Option<(String, u64, String)> {
    let v = headers::get_str(hdrs, STREAM_SOURCE)?;
    let mut t = v.split(' ');
    let name = t.next()?.to_string();
    let seq = t.next()?.parse().ok()?;
    let src = t.next().unwrap_or(">").to_string();
    Some((name, seq, src))
}

impl Link {
    /// Copy what is durable in the origin and not yet here; true when a
    /// full batch was copied (more may be waiting).
    fn turn(&self, js: &JetStream, me: &Stream, mirror: bool, wake: &Arc<Notify>) -> bool {
        let origin = if self.local {
            js.stream(&self.spec.name)
        } else {
            None
        };
        let mut st = self.state.lock();
        let Some(origin) = origin else {
            st.error = Some(err::stream_not_found());
            return false;
        };
        if !Weak::ptr_eq(&st.origin, &Arc::downgrade(&origin)) {
            origin.watchers.lock().push(Arc::downgrade(wake));
            st.origin = Arc::downgrade(&origin);
        }
        st.active_ns = now_ns();
        if st.next_seq == 0 {
            st.next_seq = self.start_seq(&origin);
        }
        let durable = origin.durable_seq.load(Ordering::Acquire);
        let mut copied = 0;
        while copied < COPY_BATCH_MSGS_MAX {
            let Some(m) = self.next_msg(&origin, st.next_seq) else {
                break;
            };
            if m.seq > durable {
                break;
            }
            if let Err(e) = self.copy(me, mirror, &m) {
                // Retried every poll: log only when the error changes.
                if st.error.as_ref() != Some(&e) {
                    tracing::warn!(
                        "stream {:?}: cannot copy {:?} sequence {}: {}",
                        me.name,
                        self.spec.name,
                        m.seq,
                        e.description
                    );
                }
                st.error = Some(e);
                return false;
            }
            st.next_seq = m.seq + 1;
            st.last_seq = m.seq;
            copied += 1;
        }
        st.error = None;
        copied == COPY_BATCH_MSGS_MAX
    }

    /// The first origin sequence a new mirror or source takes.
    fn start_seq(&self, origin: &Stream) -> u64 {
        if self.spec.opt_start_seq > 0 {
            return self.spec.opt_start_seq;
        }
        let start_ns = self
            .spec
            .opt_start_time
            .as_deref()
            .and_then(crate::jetstream::time::parse_rfc3339);
        match start_ns {
            Some(ns) => origin
                .store
                .seq_for_time(ns)
                .unwrap_or_else(|| origin.store.state(false).last_seq + 1),
            None => 1,
        }
    }

    /// The next origin message at or after `from` that a filter takes.
    fn next_msg(&self, origin: &Stream, mut from: u64) -> Option<StoredMsg> {
        loop {
            let seq = self
                .filters
                .iter()
                .filter_map(|(t, _, _)| origin.store.next_matching_seq(from, &t.filter()))
                .min()?;
            match origin.store.get(seq) {
                Ok(m) => return Some(m),
                // Deleted since the index said so: look further.
                Err(_) => from = seq + 1,
            }
        }
    }

    fn copy(&self, me: &Stream, mirror: bool, m: &StoredMsg) -> Result<(), ApiError> {
        let Some((t, src, dest)) = self.filters.iter().find(|(t, _, _)| t.matches(&m.subject))
        else {
            return Ok(());
        };
        let orig = String::from_utf8_lossy(&m.subject);
        let subject = t.apply(&orig);
        if mirror {
            let seq = me.append_copied(
                Some(m.seq),
                subject.as_bytes(),
                &m.headers,
                &m.payload,
                m.timestamp_ns,
            )?;
            if seq != m.seq {
                return Err(err::stream_general(format!(
                    "mirror sequence {seq} does not match origin sequence {}",
                    m.seq
                )));
            }
            return Ok(());
        }
        let value = format!("{} {} {src} {dest} {orig}", self.spec.name, m.seq);
        let hdrs = HeaderBuilder::extend(&without_header(&m.headers, STREAM_SOURCE))
            .add(STREAM_SOURCE, &value)
            .finish();
        me.append_copied(None, subject.as_bytes(), &hdrs, &m.payload, now_ns())?;
        Ok(())
    }

    pub fn report(&self) -> Report {
        let st = self.state.lock();
        let lag = st.origin.upgrade().map_or(0, |o| {
            let from = st.next_seq.max(1);
            self.filters
                .iter()
                .map(|(t, _, _)| o.store.num_pending(from, &t.filter(), false))
                .sum()
        });
        Report {
            lag,
            last_seq: st.last_seq,
            active_ns: if st.active_ns == 0 {
                -1
            } else {
                (now_ns() - st.active_ns).max(0)
            },
            error: st.error.clone(),
        }
    }
}

/// A header block without any `name:` line (a source of a source carries
/// only the newest hop, as nats-server does).
fn without_header(block: &[u8], name: &str) -> Vec<u8> {
    if headers::get(block, name).is_none() {
        return block.to_vec();
    }
    let mut out = Vec::with_capacity(block.len());
    for line in block.split_inclusive(|b| *b == b'\n') {
        let key = line.split(|b| *b == b':').next().unwrap_or(&[]);
        if line.contains(&b':') && key == name.as_bytes() {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_header_round_trip() {
        let block = HeaderBuilder::new(None)
            .add("X", "y")
            .add(STREAM_SOURCE, "O 4 o.1 > o.1")
            .finish();
        assert_eq!(
            parse_source_header(&block),
            Some(("O".to_string(), 4, "o.1".to_string()))
        );
        let stripped = without_header(&block, STREAM_SOURCE);
        assert_eq!(stripped, b"NATS/1.0\r\nX: y\r\n\r\n");
    }
}
