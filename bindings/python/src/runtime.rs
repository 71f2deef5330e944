//! The hidden tokio runtime and the one helper every blocking call goes through.
//!
//! * One lazily built multi-thread runtime (the core's shared runtime:
//!   `STREAMKIT_THREADS` workers, default 2) drives all I/O. Python threads never run on it. A forked child
//!   builds its own on first use (see [`rt`]); handles from the parent are
//!   refused there by [`InRt::live`].
//! * [`block`] runs a core future to completion for a Python caller:
//!   1. **fast path** — the future is polled once on the calling thread with the
//!      GIL held and a no-op waker (a write outside the runtime's context, so
//!      the core sees the thread outside the runtime it is). A read whose
//!      frame is already buffered (or a write that fits the window) finishes
//!      here without releasing the GIL and without crossing threads.
//!   2. otherwise the GIL is released and the *same* future is driven with
//!      `Runtime::block_on` in slices of at most [`SLICE`]; between slices the
//!      GIL is re-taken to run `check_signals()`, so Ctrl-C raises
//!      KeyboardInterrupt within ~50 ms, and the deadline is checked.
//!
//!   The future stays pinned on the caller's stack the whole time, so it may
//!   borrow Python buffers (pinned by the buffer protocol) and nothing is spawned.
//!   Giving up (timeout, signal) drops the future; the core's reads and accepts
//!   are cancel-safe.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::task::Poll;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// How long a blocked call waits with the GIL released before it checks for signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// The process's runtime (the core's shared runtime: `STREAMKIT_THREADS`
/// workers, default 2; rebuilt in a forked child).
pub(crate) fn rt() -> PyResult<&'static Runtime> {
    streamkit_core::runtime::shared().map_err(|e| Python::attach(|py| errors::to_py(py, e)))
}

/// The generation of the current runtime (starting it if needed).
pub(crate) fn generation() -> PyResult<u64> {
    streamkit_core::runtime::generation().map_err(|e| Python::attach(|py| errors::to_py(py, e)))
}

/// Enter the runtime's context, for drops and one-off polls that cannot
/// report an error (`None` only if no runtime could be started, in which
/// case no core object exists either).
pub(crate) fn enter() -> Option<tokio::runtime::EnterGuard<'static>> {
    streamkit_core::runtime::shared().ok().map(|rt| rt.enter())
}

/// What a caller of [`block`] is doing, for error messages ("accept timed out after 0.5 s").
pub(crate) struct Op<'a> {
    pub what: &'a str,
    /// `None` waits forever.
    pub timeout: Option<Duration>,
    /// Try one GIL-held poll before releasing the GIL.
    pub fast: bool,
    /// Make that poll outside the runtime's context (writes: see [`block`]).
    pub outside: bool,
}

impl<'a> Op<'a> {
    pub(crate) fn new(what: &'a str) -> Self {
        Op {
            what,
            timeout: None,
            fast: false,
            outside: false,
        }
    }
    pub(crate) fn fast(what: &'a str, timeout: Option<Duration>) -> Self {
        Op {
            what,
            timeout,
            fast: true,
            outside: false,
        }
    }
    /// A write: a fast poll outside the runtime's context, then waiting.
    pub(crate) fn write(what: &'a str) -> Self {
        Op {
            what,
            timeout: None,
            fast: true,
            outside: true,
        }
    }
}

/// Run `fut` to completion for a Python caller (see the module docs).
pub(crate) fn block<F, T>(py: Python<'_>, op: Op<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = streamkit_core::Result<T>> + Send,
    T: Send,
{
    // The call runs inside the runtime's context, and `fut` is declared after
    // the guard's slot so it is dropped before leaving it: whatever a finished
    // or abandoned core future releases (sockets, tasks) is torn down with the
    // runtime at hand, as it would be inside the runtime.
    //
    // Except a write's first poll (`op.outside`): the writer is a Python
    // thread, not a runtime task, and the core recognises such a writer by
    // that (`Handle::try_current` fails) and lets the channel's flusher wait
    // for the writer's next frames instead of sending each one alone, as for
    // streamkit.aio and the C ABI. Entering first made the core take the
    // Python thread for a task and slowed small frames between processes.
    // (Reads stay inside: their credit updates must go out at once, and bulk
    // reads were slower outside.) A
    // write that finishes in one poll owns nothing to tear down.
    let rt = rt()?;
    let mut _rt = (!op.outside).then(|| rt.enter());
    let mut fut = std::pin::pin!(fut);
    if op.fast || op.timeout == Some(Duration::ZERO) {
        if let Poll::Ready(r) = streamkit_core::runtime::poll_once(fut.as_mut()) {
            return r.map_err(|e| errors::to_py(py, e));
        }
    }
    _rt.get_or_insert_with(|| rt.enter());
    let deadline = op
        .timeout
        .map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future));
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(errors::timeout(py, op.what, op.timeout.unwrap_or_default()));
                }
                left.min(SLICE)
            }
        };
        let f = fut.as_mut();
        let r = py.detach(move || rt.block_on(async move { tokio::time::timeout(slice, f).await }));
        match r {
            Ok(r) => return r.map_err(|e| errors::to_py(py, e)),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Owns a core handle and drops it inside the runtime's context, so that a
/// handle garbage-collected by Python (no close/shutdown) can still tear down
/// its tasks and sockets. Remembers the runtime generation it was created in:
/// after a fork() the handle belongs to the parent and [`InRt::live`] refuses it.
pub(crate) struct InRt<T> {
    v: ManuallyDrop<T>,
    generation: u64,
}

impl<T> InRt<T> {
    /// Wrap a handle created in the current runtime generation.
    /// (Core objects are only made under a started runtime.)
    pub(crate) fn new(v: T) -> Self {
        InRt {
            v: ManuallyDrop::new(v),
            generation: streamkit_core::runtime::current_generation(),
        }
    }

    /// The handle, for calls that need the runtime; a ClosedError if it was
    /// created by the parent of this (forked) process.
    pub(crate) fn live(&self, py: Python<'_>, what: &str) -> PyResult<&T> {
        if streamkit_core::runtime::is_current(self.generation) {
            Ok(&self.v)
        } else {
            Err(errors::closed(
                py,
                format!("{what}: this object was created before fork(); create peers in the child process"),
            ))
        }
    }
}

impl<T> Deref for InRt<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.v
    }
}

impl<T> Drop for InRt<T> {
    fn drop(&mut self) {
        let rt = match streamkit_core::runtime::shared() {
            // A parent's handle in a forked child: its runtime has no threads
            // here and its drop could block on them. Leak it.
            Ok(rt) if streamkit_core::runtime::is_current(self.generation) => rt,
            _ => return,
        };
        let _rt = rt.enter();
        // SAFETY: dropped exactly once, here; never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.v) }
    }
}
