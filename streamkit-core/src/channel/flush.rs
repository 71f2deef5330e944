//! The flusher: drains a channel's outgoing queue to its transport, one
//! flusher at a time, and the in-process hand-over that skips it.

use super::inner::ChanInner;
use super::state::{ChanState, Out};
use super::tuning::*;
use crate::proto::Ctl;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

impl ChanInner {
    /// In-process hand-over while nothing is queued (`st.idle()`): mark the
    /// channel as flushing, so that anything queued meanwhile waits behind
    /// us, release the lock and let `give` deliver to the remote channel.
    /// If it declined, `declined` queues the data instead. Returns whether a
    /// flusher must be started (something is queued); otherwise the channel
    /// is idle again and waiting writers are woken.
    pub(super) fn hand_over(
        &self,
        mut st: MutexGuard<'_, ChanState>,
        give: impl FnOnce() -> bool,
        declined: impl FnOnce(&mut ChanState),
    ) -> bool {
        st.flushing = true;
        drop(st);
        let given = give();
        let mut st = lock(&self.st);
        if !given {
            declined(&mut st);
            return true;
        }
        if !st.outq.is_empty() || !st.tail.is_empty() {
            return true;
        }
        st.flushing = false;
        drop(st);
        self.wr.notify_waiters();
        false
    }

    /// For a writer on a thread outside the runtime (`foreign`: the C ABI
    /// and the bindings over it): before a flusher sends the small writes
    /// coalesced so far (other than the first ones it was started for, which
    /// go at once), it lets the writer add to them while the writer is still
    /// adding: it checks the coalescing buffer again after `sched_yield`
    /// (the writer may be waiting for this very CPU), until it stops
    /// growing, reaches FLUSH_WAIT_BELOW or FLUSH_WAIT_CHECKS checks were
    /// made. A writer that stopped (nothing coalesced: a request sent, now
    /// waiting for the reply) costs one check and no yield; a writer in full
    /// flow gets large transport sends instead of one per few frames. Such a
    /// writer runs in parallel with the flusher, which otherwise caught up
    /// every few frames: ~4 KiB sends, many more context switches and
    /// wake-ups per frame (BENCHMARKS.md, scenario 7). A writer that is a
    /// task on the runtime needs none of this: the flusher it starts runs
    /// only when the writer task yields, so its frames have coalesced
    /// already (and a task yield here, deferred by tokio until the worker
    /// polls for I/O, made a round trip several times slower).
    ///
    /// Only the first check takes the state's lock; the later ones read
    /// `queued`, so the waiting flusher never contends for the lock with the
    /// writer it waits for (with the lock, each check could stall the writer
    /// and send both threads into the futex path: in perf of scenario 7's Go
    /// frames program, try_small_frame, let_writer_add and lock_contended
    /// dominated the profile of its slow runs).
    pub(super) fn let_writer_add(&self, foreign: bool) {
        if !foreign {
            return;
        }
        let (len, start) = {
            let st = lock(&self.st);
            if !st.outq.is_empty() {
                return;
            }
            (st.tail.len(), self.queued.load(Ordering::Relaxed))
        };
        if len == 0 || len >= FLUSH_WAIT_BELOW {
            return;
        }
        let mut last = start;
        for _ in 0..FLUSH_WAIT_CHECKS {
            std::thread::yield_now();
            let now = self.queued.load(Ordering::Relaxed);
            if now == last || len as u64 + now.wrapping_sub(start) >= FLUSH_WAIT_BELOW as u64 {
                return;
            }
            last = now;
        }
    }

    /// Account for `n` more bytes queued (see `queued`); `st` is locked.
    pub(super) fn note_queued(&self, _st: &mut ChanState, n: usize) {
        let q = self.queued.load(Ordering::Relaxed);
        self.queued
            .store(q.wrapping_add(n as u64), Ordering::Relaxed);
    }

    /// `ChanState::push_small`, counted in `queued`.
    pub(super) fn push_small(&self, st: &mut ChanState, s: u8, parts: &[&[u8]]) {
        st.push_small(s, parts);
        self.note_queued(st, parts.iter().map(|p| p.len()).sum());
    }

    /// Queue `o`; returns whether a flusher must be started. A flusher
    /// waiting for a writer (`let_writer_add`) sends at once.
    pub(super) fn enqueue(&self, st: &mut ChanState, o: Out) -> bool {
        st.push(o);
        self.note_queued(st, FLUSH_WAIT_BELOW);
        !std::mem::replace(&mut st.flushing, true)
    }

    /// Drain the outgoing queue in order. One flusher runs at a time, so the
    /// transport sees data, trailers, FIN and CLOSE in the order they were
    /// queued, and small writes leave as large packets.
    pub(super) async fn flush_loop(self: Arc<Self>, foreign: bool) {
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                self.let_writer_add(foreign);
            }
            let items: Vec<Out> = {
                let mut st = lock(&self.st);
                st.seal_tail();
                if st.outq.is_empty() {
                    st.flushing = false;
                    drop(st);
                    self.wr.notify_waiters();
                    return;
                }
                st.outq.drain(..).collect()
            };
            for it in items {
                let (r, was_close) = match it {
                    Out::Data(s, b) => {
                        if let Some(g) = &self.gate {
                            g.writable().await;
                        }
                        (self.tx.data(s, b).await, false)
                    }
                    Out::Ctl(c) => {
                        let is_close = matches!(c, Ctl::Close { .. });
                        (self.tx.ctl(c).await, is_close)
                    }
                };
                if let Err(e) = r {
                    {
                        let mut st = lock(&self.st);
                        st.outq.clear();
                        st.tail.clear();
                        st.flushing = false;
                        if st.fatal.is_none() {
                            st.fatal = Some(e);
                        }
                    }
                    self.wake_all();
                    return;
                }
                if was_close {
                    let finish = {
                        let mut st = lock(&self.st);
                        st.close_flushed = true;
                        let f = st.close_recv && !st.finished;
                        if f {
                            st.finished = true;
                        }
                        f
                    };
                    if finish {
                        self.release();
                    }
                }
            }
        }
    }
}
