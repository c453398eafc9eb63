//! Durability tickets. All appends share one watermark, "every sequence up
//! to N is durable"; the flusher raises it after each fdatasync, which
//! completes every ticket at or below N with one notification.

use crate::error::StoreError;
use parking_lot::{Condvar, Mutex};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Mark {
    durable_seq: u64,
    failed: Option<String>,
    /// Async waiters: (sequence, waker). Woken when the mark passes them.
    wakers: Vec<(u64, Waker)>,
}

/// The shared watermark.
#[derive(Default)]
pub struct Durability {
    mark: Mutex<Mark>,
    cv: Condvar,
}

impl Durability {
    /// A watermark starting at `durable_seq`.
    pub fn new(durable_seq: u64) -> Arc<Self> {
        let d = Self::default();
        d.mark.lock().durable_seq = durable_seq;
        Arc::new(d)
    }

    /// Everything up to `seq` is durable.
    pub fn advance(&self, seq: u64) {
        let ready: Vec<Waker> = {
            let mut m = self.mark.lock();
            if seq <= m.durable_seq {
                return;
            }
            m.durable_seq = seq;
            let (done, rest): (Vec<_>, Vec<_>) = m.wakers.drain(..).partition(|(s, _)| *s <= seq);
            m.wakers = rest;
            done.into_iter().map(|(_, w)| w).collect()
        };
        self.cv.notify_all();
        ready.into_iter().for_each(Waker::wake);
    }

    /// A flush failed: every ticket above the mark fails, now and later.
    pub fn fail(&self, why: String) {
        let ready: Vec<Waker> = {
            let mut m = self.mark.lock();
            m.failed.get_or_insert(why);
            m.wakers.drain(..).map(|(_, w)| w).collect()
        };
        self.cv.notify_all();
        ready.into_iter().for_each(Waker::wake);
    }

    /// Current mark.
    pub fn durable_seq(&self) -> u64 {
        self.mark.lock().durable_seq
    }

    fn check(m: &Mark, seq: u64) -> Option<Result<(), StoreError>> {
        if seq <= m.durable_seq {
            return Some(Ok(()));
        }
        m.failed
            .as_ref()
            .map(|why| Err(StoreError::Poisoned(why.clone())))
    }
}

/// Completes when the appended record is durable under the store's sync
/// policy. Use [`DurableTicket::wait`] from threads or `.await` it.
#[must_use = "an append is acknowledged only once its ticket completes"]
pub struct DurableTicket {
    seq: u64,
    shared: Option<Arc<Durability>>,
}

impl DurableTicket {
    /// A ticket that waits for `seq` to pass the watermark.
    pub fn pending(seq: u64, shared: Arc<Durability>) -> Self {
        Self {
            seq,
            shared: Some(shared),
        }
    }

    /// An already complete ticket (interval policy, memory stores).
    pub fn ready(seq: u64) -> Self {
        Self { seq, shared: None }
    }

    /// The sequence this ticket is for.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// `Some` once the outcome is known.
    pub fn try_result(&self) -> Option<Result<(), StoreError>> {
        match &self.shared {
            None => Some(Ok(())),
            Some(d) => Durability::check(&d.mark.lock(), self.seq),
        }
    }

    /// `Some(Ok(mark))` once durable, where every sequence up to `mark`
    /// (this one's or later) is durable too: a holder of many tickets of
    /// one store can pass every ticket at or below `mark` without taking
    /// the watermark's lock for each.
    pub fn durable_through(&self) -> Option<Result<u64, StoreError>> {
        let Some(d) = &self.shared else {
            return Some(Ok(self.seq));
        };
        let m = d.mark.lock();
        Durability::check(&m, self.seq).map(|r| r.map(|()| m.durable_seq))
    }

    /// Blocks until durable or failed.
    pub fn wait(&self) -> Result<(), StoreError> {
        let Some(d) = &self.shared else { return Ok(()) };
        let mut m = d.mark.lock();
        loop {
            if let Some(r) = Durability::check(&m, self.seq) {
                return r;
            }
            d.cv.wait(&mut m);
        }
    }
}

impl Future for DurableTicket {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(d) = &self.shared else {
            return Poll::Ready(Ok(()));
        };
        let mut m = d.mark.lock();
        if let Some(r) = Durability::check(&m, self.seq) {
            return Poll::Ready(r);
        }
        // Replace our previous waker instead of piling up duplicates.
        let seq = self.seq;
        if let Some(slot) = m
            .wakers
            .iter_mut()
            .find(|(s, w)| *s == seq && w.will_wake(cx.waker()))
        {
            slot.1 = cx.waker().clone();
        } else {
            m.wakers.push((seq, cx.waker().clone()));
        }
        Poll::Pending
    }
}
