//! The connection-wide budgets: what receive-window auto-tuning may add,
//! and how many bytes of large frames may be assembled at once.

use super::inner::ChanInner;
use crate::sync::lock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Weak};

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

/// Least bytes of large frames one connection may assemble at once (the
/// budget is this or MAX_FRAME_SIZE, whichever is larger).
pub const MIN_ASSEMBLY_BUDGET: usize = 64 << 20;

/// Bytes of frames too large to wait for whole (PROTOCOL.md 10.2) that one
/// connection's readers may assemble at once. A reader reserves a frame's
/// declared length before it starts assembling; when the budget cannot
/// hold it, the reader waits (no credit is returned for that frame, so the
/// sender waits too) until another frame completes. The budget is at least
/// MAX_FRAME_SIZE, so a frame can always be assembled once the others are
/// done: this is backpressure, never a failure.
#[derive(Debug)]
pub(crate) struct AsmBudget {
    cap: usize,
    used: Mutex<(usize, Vec<Weak<ChanInner>>)>,
}

impl AsmBudget {
    pub(crate) fn new(max_frame: usize) -> Self {
        AsmBudget {
            cap: MIN_ASSEMBLY_BUDGET.max(max_frame),
            used: Mutex::new((0, Vec::new())),
        }
    }

    /// Reserve `n` bytes for `who`, or remember it to wake once bytes are
    /// given back.
    pub(super) fn try_reserve(&self, n: usize, who: Weak<ChanInner>) -> bool {
        let mut u = lock(&self.used);
        if u.0 + n <= self.cap {
            u.0 += n;
            return true;
        }
        if !u.1.iter().any(|w| w.ptr_eq(&who)) {
            u.1.push(who);
        }
        false
    }

    /// Give back `n` reserved bytes and wake the readers waiting for them.
    /// Called with no channel's state locked.
    pub(super) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let waiting = {
            let mut u = lock(&self.used);
            u.0 = u.0.saturating_sub(n);
            std::mem::take(&mut u.1)
        };
        for w in waiting {
            if let Some(c) = w.upgrade() {
                c.asm_budget_freed();
            }
        }
    }

    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        lock(&self.used).0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reservations_stay_within_the_budget() {
        let b = AsmBudget::new(16 << 20);
        assert_eq!(b.cap, MIN_ASSEMBLY_BUDGET);
        assert_eq!(
            AsmBudget::new(100 << 20).cap,
            100 << 20,
            "at least MAX_FRAME_SIZE"
        );
        let none = Weak::<ChanInner>::new();
        for _ in 0..4 {
            assert!(b.try_reserve(16 << 20, none.clone()));
        }
        assert!(!b.try_reserve(1, none.clone()), "full");
        assert_eq!(b.used(), 64 << 20);
        assert_eq!(lock(&b.used).1.len(), 1, "the refused reader waits");
        assert!(!b.try_reserve(1, none.clone()));
        b.release(16 << 20);
        assert!(
            lock(&b.used).1.is_empty(),
            "waiters are woken (and forgotten)"
        );
        assert!(b.try_reserve(16 << 20, none.clone()));
        assert!(!b.try_reserve(1, none));
        b.release(64 << 20);
        assert_eq!(b.used(), 0);
    }
}
