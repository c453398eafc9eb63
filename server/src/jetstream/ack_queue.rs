//! The queue from a stream's publishers, on their readers' tasks, to its ack
//! task. A lock and a `Vec` the ack task swaps out whole: a push is a few
//! dozen instructions and wakes the ack task only when the queue was empty,
//! where a channel costs several hundred per message.

use parking_lot::Mutex;
use tokio::sync::Notify;

pub struct AckQueue<T> {
    inner: Mutex<Inner<T>>,
    ready: Notify,
}

struct Inner<T> {
    items: Vec<T>,
    closed: bool,
}

impl<T> Default for AckQueue<T> {
    fn default() -> Self {
        AckQueue {
            inner: Mutex::new(Inner {
                items: Vec::new(),
                closed: false,
            }),
            ready: Notify::new(),
        }
    }
}

impl<T> AckQueue<T> {
    /// Queue `item`; dropped if the queue is closed.
    pub fn push(&self, item: T) {
        let mut inner = self.inner.lock();
        if inner.closed {
            return;
        }
        let was_empty = inner.items.is_empty();
        inner.items.push(item);
        drop(inner);
        if was_empty {
            // A permit is kept if the ack task is not waiting yet.
            self.ready.notify_one();
        }
    }

    /// Waits until something is queued, then swaps all of it into `into`
    /// (empty, keeping its capacity for the next swap). False once the
    /// queue is closed and drained.
    pub async fn take_all(&self, into: &mut Vec<T>) -> bool {
        loop {
            {
                let mut inner = self.inner.lock();
                if !inner.items.is_empty() {
                    std::mem::swap(&mut inner.items, into);
                    return true;
                }
                if inner.closed {
                    return false;
                }
            }
            self.ready.notified().await;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.lock().items.is_empty()
    }

    /// No more pushes; the taker gets what is left, then false.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.ready.notify_one();
    }
}

/// The publishers' end: closes the queue when the stream goes.
pub struct AckSender<T>(pub std::sync::Arc<AckQueue<T>>);

impl<T> Drop for AckSender<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn items_come_out_in_order_then_the_close() {
        let q = Arc::new(AckQueue::default());
        let taker = tokio::spawn({
            let q = q.clone();
            async move {
                let (mut got, mut batch) = (Vec::new(), Vec::new());
                while q.take_all(&mut batch).await {
                    got.append(&mut batch);
                }
                got
            }
        });
        let sender = AckSender(q.clone());
        for i in 0..1000u32 {
            sender.0.push(i);
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(sender);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), taker)
            .await
            .expect("the close ends the taker")
            .unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        q.push(7);
        assert!(q.is_empty(), "a closed queue takes nothing");
    }
}
