//! Channels accepted but not yet taken by the application.

use super::Channel;
use crate::error::{Error, Result};
use crate::readiness::Readiness;
use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Notify;

/// A queue of accepted-but-not-yet-taken channels (the peer's or a parent
/// channel's), bounded by the accept backlog.
#[derive(Debug)]
pub(crate) struct AcceptQueue {
    q: Mutex<(VecDeque<Channel>, Option<Error>)>,
    notify: Notify,
    cap: std::sync::atomic::AtomicUsize,
    /// A readiness descriptor (and its source bit) fed by this queue.
    poll: OnceLock<(Arc<Readiness>, u8)>,
}

impl AcceptQueue {
    pub(crate) fn new(cap: usize) -> Self {
        AcceptQueue {
            q: Mutex::new((VecDeque::new(), None)),
            notify: Notify::new(),
            cap: cap.into(),
            poll: OnceLock::new(),
        }
    }

    /// Feed `r`'s source `bit`: ready while a channel (or the queue's
    /// closing error) is waiting to be taken.
    pub(crate) fn attach(&self, r: Arc<Readiness>, bit: u8) {
        let q = lock(&self.q);
        if self.poll.set((r, bit)).is_ok() {
            self.refresh(&q);
        }
    }

    fn refresh(&self, q: &(VecDeque<Channel>, Option<Error>)) {
        if let Some((r, bit)) = self.poll.get() {
            r.set(*bit, !q.0.is_empty() || q.1.is_some());
        }
    }

    /// Queue a channel; gives it back if the queue is full or closed.
    pub(crate) fn push(&self, c: Channel) -> std::result::Result<(), (Channel, &'static str)> {
        let mut q = lock(&self.q);
        if q.1.is_some() {
            return Err((c, "not accepting channels (closed)"));
        }
        if q.0.len() >= self.cap.load(std::sync::atomic::Ordering::Relaxed) {
            return Err((c, "accept backlog full (ACCEPT_BACKLOG)"));
        }
        q.0.push_back(c);
        self.refresh(&q);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    pub(crate) fn set_cap(&self, cap: usize) {
        self.cap.store(cap, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) async fn pop(&self) -> Result<Channel> {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut q = lock(&self.q);
                if let Some(c) = q.0.pop_front() {
                    self.refresh(&q);
                    if !q.0.is_empty() {
                        self.notify.notify_one();
                    }
                    return Ok(c);
                }
                if let Some(e) = &q.1 {
                    return Err(e.clone());
                }
            }
            n.await;
        }
    }

    pub(crate) fn close(&self, e: Error) {
        let drained: Vec<Channel> = {
            let mut q = lock(&self.q);
            if q.1.is_none() {
                q.1 = Some(e);
            }
            let d = q.0.drain(..).collect();
            self.refresh(&q);
            d
        };
        drop(drained);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}
