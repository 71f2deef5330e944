//! Channels accepted but not yet taken by the application.

use super::Channel;
use crate::error::{Error, Result};
use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// A queue of accepted-but-not-yet-taken channels (the peer's or a parent
/// channel's), bounded by the accept backlog.
#[derive(Debug)]
pub(crate) struct AcceptQueue {
    q: Mutex<(VecDeque<Channel>, Option<Error>)>,
    notify: Notify,
    cap: std::sync::atomic::AtomicUsize,
}

impl AcceptQueue {
    pub(crate) fn new(cap: usize) -> Self {
        AcceptQueue {
            q: Mutex::new((VecDeque::new(), None)),
            notify: Notify::new(),
            cap: cap.into(),
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
            q.0.drain(..).collect()
        };
        drop(drained);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}
