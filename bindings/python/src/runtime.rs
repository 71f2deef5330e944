//! The hidden tokio runtime and the one helper every blocking call goes through.
//!
//! * One lazily built multi-thread runtime (`STREAMKIT_WORKER_THREADS`, default 2
//!   workers) drives all I/O. Python threads never run on it.
//! * [`block`] runs a core future to completion for a Python caller:
//!   1. **fast path** — the future is polled once on the calling thread with the
//!      GIL held and a no-op waker. A read whose frame is already buffered (or a
//!      write that fits the window) finishes here without releasing the GIL and
//!      without crossing threads.
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
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// How long a blocked call waits with the GIL released before it checks for signals.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

pub(crate) static RT: LazyLock<Runtime> = LazyLock::new(|| {
    let workers = std::env::var("STREAMKIT_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("streamkit-worker")
        .enable_all()
        .build()
        .expect("streamkit: cannot start the tokio runtime")
});

/// What a caller of [`block`] is doing, for error messages ("accept timed out after 0.5 s").
pub(crate) struct Op<'a> {
    pub what: &'a str,
    /// `None` waits forever.
    pub timeout: Option<Duration>,
    /// Try one GIL-held poll before releasing the GIL.
    pub fast: bool,
}

impl<'a> Op<'a> {
    pub(crate) fn new(what: &'a str) -> Self {
        Op { what, timeout: None, fast: false }
    }
    pub(crate) fn fast(what: &'a str, timeout: Option<Duration>) -> Self {
        Op { what, timeout, fast: true }
    }
}

/// Run `fut` to completion for a Python caller (see the module docs).
pub(crate) fn block<F, T>(py: Python<'_>, op: Op<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = streamkit_core::Result<T>> + Send,
    T: Send,
{
    let mut fut = std::pin::pin!(fut);
    if op.fast || op.timeout == Some(Duration::ZERO) {
        let _rt = RT.enter();
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r.map_err(|e| errors::to_py(py, e));
        }
    }
    let deadline = op.timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future));
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
        let r = py.detach(move || RT.block_on(async move { tokio::time::timeout(slice, f).await }));
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
/// its tasks and sockets.
pub(crate) struct InRt<T>(ManuallyDrop<T>);

impl<T> InRt<T> {
    pub(crate) fn new(v: T) -> Self {
        InRt(ManuallyDrop::new(v))
    }
}

impl<T> Deref for InRt<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Drop for InRt<T> {
    fn drop(&mut self) {
        let _rt = RT.enter();
        // SAFETY: dropped exactly once, here; never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.0) }
    }
}
