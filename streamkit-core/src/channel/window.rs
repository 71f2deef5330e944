//! The connection-wide budget that receive-window auto-tuning draws from.

use std::sync::atomic::{AtomicUsize, Ordering};

/// What receive-window auto-tuning may still add on one connection
/// (WINDOW_BUDGET): windows grow by taking from it, and give back when their
/// channel is gone.
#[derive(Debug)]
pub(crate) struct WindowBudget(pub(super) AtomicUsize);

impl WindowBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        WindowBudget(AtomicUsize::new(bytes))
    }

    /// Take up to `want` bytes; returns what was taken.
    pub(super) fn take(&self, want: usize) -> usize {
        let mut got = 0;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                got = left.min(want);
                Some(left - got)
            });
        got
    }

    pub(super) fn give_back(&self, n: usize) {
        self.0.fetch_add(n, Ordering::AcqRel);
    }
}
