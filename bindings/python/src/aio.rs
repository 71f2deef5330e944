//! `streamkit.aio`: the asyncio API (`Peer`, `Channel`, `ChannelMeta`).
//!
//! Channel reads (`read`, `read_frame`, `read_error`, `__anext__`) return a
//! native Python coroutine (defined in `streamkit/aio.py`, registered with
//! [`_aio_init`]; `read_frame`/`read_error`/`__anext__` are replaced on the
//! class by those `async def`s). Its first step calls `_try_*`, which takes
//! an already-buffered result on the spot — no [`AioOp`], no `StopIteration`
//! object, no event-loop round trip — and only when the read has to wait
//! does it `await` the read's [`AioOp`]. Nothing is read before the
//! coroutine is awaited.
//!
//! Every other awaitable method returns an [`AioOp`], a small coroutine
//! object (it has `send`/`throw`/`close`/`__await__`, so
//! `asyncio.create_task` accepts it). Nothing happens until it is awaited —
//! except for writes, which try the fast path at call time (like
//! `StreamWriter.write`): a write that fits the window is sent before the
//! call returns and the shared, already-completed op is returned (awaiting it
//! costs no allocation and no `StopIteration`); a frame of up to
//! [`INLINE_FRAME`] bytes is copied into the write's future itself (one
//! allocation). Otherwise, on await:
//!
//! 1. **fast path** — the core future is polled once on the event-loop thread
//!    (GIL held, no-op waker). A buffered frame, a queued channel or a write
//!    that fits the window completes right here: no task, no thread hop.
//! 2. **slow path** — the *same* (already polled) future is handed to
//!    `pyo3_async_runtimes::tokio::future_into_py`, which runs it on the
//!    extension's tokio runtime and resolves an asyncio future; the op simply
//!    delegates to that future's iterator, so the event loop never blocks.
//!
//! **Cancellation never loses data.** Reads and accepts do not carry their
//! result through the asyncio future: the tokio side stores it in a per-object
//! [`Stash`] and the asyncio future only signals "ready"; the op then takes the
//! result from the stash on the loop thread. If the awaiting task was cancelled
//! meanwhile, the result stays in the stash and the next read/accept returns it
//! first. A per-stash async gate, held from the core call until the result is
//! stashed, keeps slow reads in order, and the fast path reads the core only
//! while no slow read is in flight ([`Stash::slow`]), so a frame a cancelled
//! read stashed is never overtaken. Cancelling before completion drops the
//! tokio future (the core's reads and accepts are cancel-safe). Writes are not
//! restartable: a cancelled write may have sent part of its data.
//!
//! **Frames are read ahead.** A frame read that finds frames buffered takes
//! all of them (up to 128 / 16 KiB) off the byte stream in one core call and
//! stashes all but the first, so the next reads are a stash pop each (see
//! [`quick_frames_ahead`]). A byte read (`read`, `join`) first puts stashed
//! frames back in front of the stream ([`give_back_frames`]), so frame and
//! byte reads can be mixed as on the blocking API.
//!
//! **Fairness.** Fast-path completions do not yield to the event loop. So that
//! busy channels cannot hold up the loop, the first op of a busy period
//! records the time and schedules a reset with `loop.call_soon` (it runs at
//! the start of the next loop iteration); once the period is older than
//! [`SLICE`], every op first yields once (a bare `yield`: the task moves to
//! the next iteration) before doing anything. One loop iteration therefore
//! spends at most about [`SLICE`] in fast-path streamkit work, however many
//! tasks are ready.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may abort

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use pyo3::exceptions::{PyRuntimeError, PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple, PyType};
use streamkit_core::{Channel, Error, Peer};
use tokio::sync::OwnedMutexGuard;

use crate::args;
use crate::buffer::ByteView;
use crate::errors;
use crate::runtime::{self, generation, rt, InRt};
use crate::shared::{self, eof_as_none, eof_as_zero};

/// Frames up to this size are copied into the write's own future (no
/// separate buffer allocation).
const INLINE_FRAME: usize = 128;
/// Longest run of fast-path work in one event-loop iteration (see module docs).
const SLICE: Duration = Duration::from_micros(500);

thread_local! {
    /// When the current busy period (loop iteration) started doing streamkit work.
    static BUSY: Cell<Busy> = const { Cell::new(Busy { since: None, calls: 0, over: false }) };
    /// `_aio_reset` as a Python callable, for `loop.call_soon`.
    static RESET_FN: std::cell::OnceCell<Py<PyAny>> = const { std::cell::OnceCell::new() };
}

/// Ends the busy period; scheduled with `loop.call_soon`.
#[pyfunction]
fn _aio_reset() {
    BUSY.with(|b| {
        b.set(Busy {
            since: None,
            calls: 0,
            over: false,
        })
    });
}

/// The current busy period (see the module docs).
#[derive(Clone, Copy)]
struct Busy {
    /// When it started; `None` between periods.
    since: Option<Instant>,
    /// Fast-path checks in this period (the clock is read every [`CLOCK_EVERY`]).
    calls: u32,
    /// The period is older than [`SLICE`]: everything yields until it ends.
    over: bool,
}

/// Read the clock on every this many fast-path checks (a check is well
/// under a microsecond, so the slice overshoots by a few microseconds at
/// most; reading the clock on every check showed up in a frame read).
const CLOCK_EVERY: u32 = 32;

/// Whether this op should yield to the loop first; starts a busy period if none.
fn must_yield(py: Python<'_>) -> PyResult<bool> {
    let mut b = BUSY.with(|b| b.get());
    match b.since {
        Some(t) => {
            if !b.over {
                b.calls = b.calls.wrapping_add(1);
                if b.calls.is_multiple_of(CLOCK_EVERY) && t.elapsed() > SLICE {
                    b.over = true;
                }
                BUSY.with(|c| c.set(b));
            }
            Ok(b.over)
        }
        None => {
            let now = Instant::now();
            let f = RESET_FN.with(|c| -> PyResult<Py<PyAny>> {
                if let Some(f) = c.get() {
                    return Ok(f.clone_ref(py));
                }
                let f = wrap_pyfunction!(_aio_reset, py)?.into_any().unbind();
                let _ = c.set(f.clone_ref(py));
                Ok(f)
            })?;
            let lp = pyo3_async_runtimes::get_running_loop(py)?;
            lp.call_method1(pyo3::intern!(py, "call_soon"), (f,))?;
            BUSY.with(|b| {
                b.set(Busy {
                    since: Some(now),
                    calls: 0,
                    over: false,
                })
            });
            Ok(false)
        }
    }
}

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// One poll of a core call on the stack (no allocation).
type QuickPoll<T> = fn(&Src) -> Poll<CoreResult<T>>;
type CoreResult<T> = streamkit_core::Result<T>;

// ------------------------------------------------------------------ bridge

/// Runtime generation the pyo3-async-runtimes bridge was bound to (0 = not yet).
static BRIDGE_GEN: AtomicU64 = AtomicU64::new(0);

/// Bind pyo3-async-runtimes to the extension's runtime (once per process).
fn bridge(py: Python<'_>) -> PyResult<()> {
    let g = generation()?;
    match BRIDGE_GEN.load(Ordering::Acquire) {
        x if x == g => Ok(()),
        0 => {
            // Err means it was already set (by an earlier call in this process): fine.
            let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt()?);
            BRIDGE_GEN.store(g, Ordering::Release);
            Ok(())
        }
        _ => Err(errors::closed(
            py,
            "streamkit.aio: this process was fork()ed after the parent used streamkit.aio; \
             its asyncio bridge cannot be rebuilt here (use the 'spawn' start method)",
        )),
    }
}

/// Slow-path futures handed to pyo3-async-runtimes and not yet finished. Each
/// one ends with a blocking-pool thread attaching to the interpreter; doing
/// that while the interpreter finalizes aborts the process, so an `atexit`
/// hook ([`_aio_quiesce`]) waits for this to reach zero.
static INFLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Slow-path waits started in this process (for `_aio_stats`).
static WAITS: AtomicU64 = AtomicU64::new(0);

/// _aio_stats() -> dict[str, int]
///
/// Counters for benchmarks: "waits" is the number of awaits that had to wait
/// through pyo3-async-runtimes (every other await completed at once).
#[pyfunction]
fn _aio_stats(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("waits", WAITS.load(Ordering::Relaxed))?;
    Ok(d)
}

/// Counts one in-flight slow-path future while alive.
struct Inflight;

impl Inflight {
    fn new() -> Self {
        WAITS.fetch_add(1, Ordering::Relaxed);
        INFLIGHT.fetch_add(1, Ordering::AcqRel);
        Inflight
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        INFLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// _aio_quiesce(timeout) -> bool
///
/// Wait (GIL released) until no streamkit.aio bridge work is in flight, plus a
/// short grace period for the bridge threads to leave the interpreter; called
/// at exit by streamkit.aio. True if everything finished in time.
#[pyfunction]
pub(crate) fn _aio_quiesce(py: Python<'_>, timeout: f64) -> bool {
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 60.0));
        let mut idle_since: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if INFLIGHT.load(Ordering::Acquire) == 0 {
                let t = *idle_since.get_or_insert(now);
                if now.duration_since(t) >= Duration::from_millis(20) {
                    return true;
                }
            } else {
                idle_since = None;
            }
            if now >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// A result computed off the loop thread, converted to Python (with the GIL)
/// by pyo3-async-runtimes or by the fast path.
pub(crate) enum Out {
    None,
    Int(usize),
    Str(String),
    Chan(Channel),
    Err(Error),
}

impl<'py> IntoPyObject<'py> for Out {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Out::None => Ok(py.None().into_bound(py)),
            Out::Int(n) => Ok(n.into_pyobject(py)?.into_any()),
            Out::Str(s) => Ok(s.into_pyobject(py)?.into_any()),
            Out::Chan(c) => Ok(Bound::new(py, AioChannel::new(c))?.into_any()),
            Out::Err(e) => Err(errors::to_py(py, e)),
        }
    }
}

fn out_unit(r: CoreResult<()>) -> Out {
    match r {
        Ok(()) => Out::None,
        Err(e) => Out::Err(e),
    }
}

/// Poll `fut` once on this thread inside the runtime's context.
fn poll_once<T>(fut: &mut BoxFut<T>) -> Poll<T> {
    let _rt = runtime::enter();
    let mut cx = Context::from_waker(Waker::noop());
    fut.as_mut().poll(&mut cx)
}

// ------------------------------------------------------------------ stash

/// Something a stash can hold; byte chunks can be split for a shorter read.
pub(crate) trait Item: Send + Sized + 'static {
    /// Split off at most `n` units; the rest (if any) goes back to the stash.
    fn take_part(self, _n: usize) -> (Self, Option<Self>) {
        (self, None)
    }
}
impl Item for Option<Bytes> {}
impl Item for Channel {}
impl Item for Option<streamkit_core::Event> {}
impl Item for Vec<u8> {
    fn take_part(mut self, n: usize) -> (Self, Option<Self>) {
        if self.len() > n {
            let rest = self.split_off(n);
            (self, Some(rest))
        } else {
            (self, None)
        }
    }
}

/// Results of reads/accepts that completed after their awaiting task had
/// gone (cancelled), kept in order for the next caller.
pub(crate) struct Stash<T> {
    /// Held by a slow-path read from before its core call until its result
    /// is stashed, so slow reads finish in order.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Slow-path reads started and not finished (each may still stash a
    /// result). The fast path reads the core directly only when this is 0.
    slow: AtomicUsize,
    /// `q.len()`, readable without the lock.
    len: AtomicUsize,
    q: Mutex<VecDeque<CoreResult<T>>>,
}

impl<T: Item> Stash<T> {
    fn new() -> Arc<Self> {
        Arc::new(Stash {
            gate: Arc::new(tokio::sync::Mutex::new(())),
            slow: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            q: Mutex::new(VecDeque::new()),
        })
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CoreResult<T>>> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }
    fn push(&self, r: CoreResult<T>) {
        let mut q = self.lock();
        q.push_back(r);
        self.len.store(q.len(), Ordering::Release);
    }
    fn push_many(&self, rs: impl IntoIterator<Item = CoreResult<T>>) {
        let mut q = self.lock();
        q.extend(rs);
        self.len.store(q.len(), Ordering::Release);
    }
    fn pop(&self, n: usize) -> Option<CoreResult<T>> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.lock();
        let r = match q.pop_front()? {
            Ok(v) => {
                let (v, rest) = v.take_part(n);
                if let Some(rest) = rest {
                    q.push_front(Ok(rest));
                }
                Ok(v)
            }
            Err(e) => Err(e),
        };
        self.len.store(q.len(), Ordering::Release);
        Some(r)
    }

    /// The fast path of a read: the oldest stashed result, else one poll of
    /// the core read (`quick`) unless a slow-path read is in flight (it may
    /// still stash an earlier result). `None`: the caller has to wait.
    fn try_fast(
        &self,
        limit: usize,
        quick: impl FnOnce() -> Poll<CoreResult<T>>,
    ) -> Option<CoreResult<T>> {
        self.try_fast_with(limit, |r| r, quick)
    }

    /// [`Stash::try_fast`] with the result in another form: `stashed` turns
    /// a stashed result into it, `quick` produces it directly.
    fn try_fast_with<R>(
        &self,
        limit: usize,
        stashed: impl FnOnce(CoreResult<T>) -> R,
        quick: impl FnOnce() -> Poll<R>,
    ) -> Option<R> {
        if let Some(r) = self.pop(limit) {
            return Some(stashed(r));
        }
        if self.slow.load(Ordering::Acquire) != 0 {
            return None;
        }
        // A slow read that just finished stashed its result before leaving
        // the count (Release/Acquire): look once more.
        if let Some(r) = self.pop(limit) {
            return Some(stashed(r));
        }
        let _rt = runtime::enter();
        match quick() {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }
}

/// Counts one slow-path read of a stash while alive (see [`Stash::slow`]).
struct SlowRead<T: Item>(Arc<Stash<T>>);

impl<T: Item> SlowRead<T> {
    fn new(stash: &Arc<Stash<T>>) -> Self {
        stash.slow.fetch_add(1, Ordering::AcqRel);
        SlowRead(stash.clone())
    }
}

impl<T: Item> Drop for SlowRead<T> {
    fn drop(&mut self) {
        self.0.slow.fetch_sub(1, Ordering::AcqRel);
    }
}

// ------------------------------------------------------------------ jobs

/// What an [`AioOp`] runs.
trait Job: Send + 'static {
    /// Try to finish on the loop thread: `Some(result)`, or `None` to wait.
    fn try_now(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    /// Start waiting: an asyncio future from `future_into_py`.
    fn slow<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
    /// The asyncio future finished with `v`: the result, or `None` to retry.
    fn finish(&mut self, py: Python<'_>, v: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>>;
}

/// A value that is already known (`__aenter__`).
struct ReadyJob(Option<Py<PyAny>>);

impl Job for ReadyJob {
    fn try_now(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(Some(self.0.take().unwrap_or_else(|| py.None())))
    }
    fn slow<'py>(&mut self, _py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Err(PyRuntimeError::new_err(
            "streamkit.aio: internal error (ready job waited)",
        ))
    }
    fn finish(&mut self, py: Python<'_>, v: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let _ = py;
        Ok(Some(v.unbind()))
    }
}

/// An operation whose result travels through the asyncio future (writes,
/// bind/connect/open/close/shutdown, ...).
struct SimpleJob {
    fut: Option<BoxFut<Out>>,
    /// Try one poll on the loop thread first.
    fast: bool,
}

impl Job for SimpleJob {
    fn try_now(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if !self.fast {
            return Ok(None);
        }
        let Some(fut) = self.fut.as_mut() else {
            return Ok(None);
        };
        match poll_once(fut) {
            Poll::Ready(out) => {
                self.fut = None;
                Ok(Some(out.into_pyobject(py)?.unbind()))
            }
            Poll::Pending => Ok(None),
        }
    }
    fn slow<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = self
            .fut
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("streamkit.aio: internal error (job reused)"))?;
        let guard = Inflight::new();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let out = fut.await;
            drop(guard);
            Ok(out)
        })
    }
    fn finish(&mut self, _py: Python<'_>, v: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        Ok(Some(v.unbind()))
    }
}

/// What a gated read returns: `None` = "the stash already has something".
/// The guards are dropped once the result is delivered or stashed.
type Gated<T> = (Option<CoreResult<T>>, OwnedMutexGuard<()>, SlowRead<T>);

/// The handle a [`StashJob`] reads from.
enum Src {
    Chan(Channel),
    /// A byte read of at most this many bytes.
    Bytes(Channel, usize),
    Peer(Peer),
}

/// A cancel-safe read or accept whose result goes through a [`Stash`].
struct StashJob<T: Item> {
    stash: Arc<Stash<T>>,
    /// Largest part to take from the stash (byte reads), else `usize::MAX`.
    limit: usize,
    src: Src,
    /// The core call, as an owned future.
    start: fn(&Src) -> BoxFut<CoreResult<T>>,
    /// One poll of the core call on the stack (no allocation); the core's
    /// reads are cancel-safe, so a Pending poll is simply dropped.
    quick: Option<QuickPoll<T>>,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    pending: Option<BoxFut<Gated<T>>>,
}

fn noop_poll<F: Future>(f: F) -> Poll<F::Output> {
    let mut f = std::pin::pin!(f);
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn src_chan(s: &Src) -> &Channel {
    match s {
        Src::Chan(c) | Src::Bytes(c, _) => c,
        Src::Peer(_) => unreachable!("channel source expected"),
    }
}

fn start_frame(s: &Src) -> BoxFut<CoreResult<Option<Bytes>>> {
    let c = src_chan(s).clone();
    Box::pin(async move { eof_as_none(c.read_frame().await) })
}
fn quick_frame(s: &Src) -> Poll<CoreResult<Option<Bytes>>> {
    noop_poll(src_chan(s).read_frame()).map(eof_as_none)
}
fn quick_frame_ch(c: &Channel) -> Poll<CoreResult<Option<Bytes>>> {
    noop_poll(c.read_frame()).map(eof_as_none)
}
/// Frames read ahead per fast-path read: at most this many bytes...
const AHEAD_BYTES: usize = 16 * 1024;
/// ...and this many frames.
const AHEAD_FRAMES: usize = 128;

/// The fast path of a frame read, reading ahead: every whole frame that is
/// buffered (up to [`AHEAD_FRAMES`] / [`AHEAD_BYTES`]) in one core call, the
/// first returned and the rest stashed for the next reads, which then cost
/// a stash pop instead of a core read each (one lock, one credit update per
/// batch). Frames read ahead are put back in front of the byte stream
/// before a byte read ([`give_back_frames`]), so mixing frame and byte reads
/// sees the stream in order. Only called with the stash empty and no slow
/// read in flight (`Stash::try_fast`).
fn quick_frames_ahead(
    c: &Channel,
    stash: &Stash<Option<Bytes>>,
) -> Poll<CoreResult<Option<Bytes>>> {
    let mut buf = shared::scratch(AHEAD_BYTES);
    let r = noop_poll(c.read_frames(&mut buf[..AHEAD_BYTES], AHEAD_FRAMES));
    let out = match r {
        Poll::Ready(Ok(Some(n))) if n > 0 => {
            let mut all = Bytes::copy_from_slice(&buf[..n]);
            let mut next = move || {
                (all.len() >= 4).then(|| {
                    let len = u32::from_be_bytes([all[0], all[1], all[2], all[3]]) as usize;
                    let mut f = all.split_to(4 + len);
                    f.advance(4);
                    f
                })
            };
            let first = next();
            stash.push_many(std::iter::from_fn(|| next().map(|f| Ok(Some(f)))));
            Poll::Ready(Ok(first))
        }
        // The next frame is one read_frame must read (large, or over the limit).
        Poll::Ready(Ok(Some(_))) => quick_frame_ch(c),
        Poll::Ready(Ok(None)) => Poll::Ready(Ok(None)),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    };
    shared::scratch_done(buf);
    out
}

/// Put frames that were taken off the byte stream but not yet returned (read
/// ahead, or left by a cancelled read) back in front of it, in order, so a
/// byte read that follows frame reads starts where the last returned frame
/// ended. Stops at anything that is not a frame (end of stream, an error).
fn give_back_frames(sh: &ChanShared) {
    let st = &sh.frames;
    if st.is_empty() || st.slow.load(Ordering::Acquire) != 0 {
        return;
    }
    let mut back = Vec::new();
    {
        let mut q = st.lock();
        while let Some(r) = q.pop_front() {
            let Ok(Some(f)) = r else {
                q.push_front(r);
                break;
            };
            back.extend_from_slice(&(f.len() as u32).to_be_bytes());
            back.extend_from_slice(&f);
        }
        st.len.store(q.len(), Ordering::Release);
    }
    sh.ch.unread(&back);
}

fn quick_error_ch(c: &Channel) -> Poll<CoreResult<Option<Bytes>>> {
    noop_poll(c.read_error()).map(eof_as_none)
}
fn quick_bytes_ch(c: &Channel, n: usize) -> Poll<CoreResult<Vec<u8>>> {
    let mut buf = vec![0u8; n];
    match noop_poll(c.read(&mut buf)) {
        Poll::Ready(r) => Poll::Ready(read_chunk(r, buf)),
        Poll::Pending => Poll::Pending,
    }
}
fn start_error(s: &Src) -> BoxFut<CoreResult<Option<Bytes>>> {
    let c = src_chan(s).clone();
    Box::pin(async move { eof_as_none(c.read_error().await) })
}
fn quick_error(s: &Src) -> Poll<CoreResult<Option<Bytes>>> {
    noop_poll(src_chan(s).read_error()).map(eof_as_none)
}
fn read_chunk(r: CoreResult<usize>, mut buf: Vec<u8>) -> CoreResult<Vec<u8>> {
    let k = eof_as_zero(r)?;
    buf.truncate(k);
    Ok(buf)
}
fn start_bytes(s: &Src) -> BoxFut<CoreResult<Vec<u8>>> {
    let (c, n) = match s {
        Src::Bytes(c, n) => (c.clone(), *n),
        _ => unreachable!("byte source expected"),
    };
    Box::pin(async move {
        let mut buf = vec![0u8; n];
        let r = c.read(&mut buf).await;
        read_chunk(r, buf)
    })
}
fn quick_bytes(s: &Src) -> Poll<CoreResult<Vec<u8>>> {
    let Src::Bytes(c, n) = s else {
        unreachable!("byte source expected")
    };
    quick_bytes_ch(c, *n)
}
fn start_event(s: &Src) -> BoxFut<CoreResult<Option<streamkit_core::Event>>> {
    match s {
        Src::Peer(p) => {
            let p = p.clone();
            Box::pin(async move { Ok(p.next_event().await) })
        }
        Src::Chan(_) | Src::Bytes(..) => Box::pin(async { Ok(None) }),
    }
}

fn start_accept(s: &Src) -> BoxFut<CoreResult<Channel>> {
    match s {
        Src::Peer(p) => {
            let p = p.clone();
            Box::pin(async move { p.accept().await })
        }
        Src::Chan(c) | Src::Bytes(c, _) => {
            let c = c.clone();
            Box::pin(async move { c.accept().await })
        }
    }
}

impl<T: Item> StashJob<T> {
    fn gated(&mut self) -> BoxFut<Gated<T>> {
        let gate = self.stash.gate.clone();
        let stash = self.stash.clone();
        let slow = SlowRead::new(&self.stash);
        let core = (self.start)(&self.src);
        Box::pin(async move {
            let g = gate.lock_owned().await;
            if !stash.is_empty() {
                return (None, g, slow);
            }
            (Some(core.await), g, slow)
        })
    }
    fn deliver(&self, py: Python<'_>, r: CoreResult<T>) -> PyResult<Option<Py<PyAny>>> {
        match r {
            Ok(v) => (self.conv)(py, v).map(Some),
            Err(e) => Err(errors::to_py(py, e)),
        }
    }
}

impl<T: Item> Job for StashJob<T> {
    fn try_now(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            if let Some(r) = self.stash.pop(self.limit) {
                return self.deliver(py, r);
            }
            if let (None, Some(quick)) = (&self.pending, self.quick) {
                // Allocation-free attempt.
                let src = &self.src;
                return match self.stash.try_fast(self.limit, || quick(src)) {
                    Some(r) => self.deliver(py, r),
                    None => Ok(None),
                };
            }
            let mut fut = match self.pending.take() {
                Some(f) => f,
                None => self.gated(),
            };
            match poll_once(&mut fut) {
                Poll::Ready((Some(r), g, slow)) => {
                    drop((g, slow));
                    return self.deliver(py, r);
                }
                // The stash got something: take it (or, if a concurrent reader
                // took it first, try again).
                Poll::Ready((None, g, slow)) => drop((g, slow)),
                Poll::Pending => {
                    self.pending = Some(fut);
                    return Ok(None);
                }
            }
        }
    }
    fn slow<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fut = match self.pending.take() {
            Some(f) => f,
            None => self.gated(),
        };
        let stash = self.stash.clone();
        let guard = Inflight::new();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let _guard = guard;
            let (r, g, slow) = fut.await;
            if let Some(r) = r {
                stash.push(r);
            }
            drop((g, slow));
            Ok(Out::None)
        })
    }
    fn finish(&mut self, py: Python<'_>, _v: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        match self.stash.pop(self.limit) {
            Some(r) => self.deliver(py, r),
            None => Ok(None),
        }
    }
}

impl<T: Item> Drop for StashJob<T> {
    fn drop(&mut self) {
        // A pending future may hold channel handles: drop them in the runtime.
        let _rt = runtime::enter();
        drop(self.pending.take());
        // (`src` is dropped after this, still in the runtime's context: jobs
        // are only dropped by `AioOp::release`, which enters the runtime.)
    }
}

// ------------------------------------------------------------------ AioOp

enum State {
    /// Not started; `yielded` once the fairness yield was done.
    Init {
        yielded: bool,
    },
    /// Waiting on an asyncio future: its `__await__` iterator and the future.
    Waiting {
        iter: Py<PyAny>,
        fut: Py<PyAny>,
    },
    Done,
    /// Already finished with None and reusable: the shared [`completed`] op
    /// returned by a write that was sent at call time.
    Completed,
}

static COMPLETED: PyOnceLock<Py<AioOp>> = PyOnceLock::new();
static EXHAUSTED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The shared, reusable operation that resolves to None at once.
fn completed(py: Python<'_>) -> PyResult<Py<AioOp>> {
    Ok(COMPLETED
        .get_or_try_init(py, || {
            Py::new(
                py,
                AioOp {
                    what: "completed",
                    job: Mutex::new(None),
                    state: State::Completed,
                },
            )
        })?
        .clone_ref(py))
}

/// An empty iterator: awaiting it yields None without raising StopIteration.
fn exhausted(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(EXHAUSTED
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(PyTuple::empty(py).try_iter()?.into_any().unbind())
        })?
        .clone_ref(py))
}

/// A failure known before the op was awaited (raised when it is).
struct ErrJob(Option<PyErr>);

impl Job for ErrJob {
    fn try_now(&mut self, _py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| PyRuntimeError::new_err("streamkit.aio: error already raised")))
    }
    fn slow<'py>(&mut self, _py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Err(PyRuntimeError::new_err(
            "streamkit.aio: internal error (error job waited)",
        ))
    }
    fn finish(&mut self, _py: Python<'_>, v: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        Ok(Some(v.unbind()))
    }
}

/// A streamkit.aio operation: a coroutine object (await it, or pass it to
/// asyncio.create_task / asyncio.wait_for / asyncio.gather). Nothing runs
/// until it is awaited; it can be awaited once.
#[pyclass(module = "streamkit.aio", name = "Operation")]
pub(crate) struct AioOp {
    what: &'static str,
    /// Only touched through `&mut self` (`Mutex::get_mut`, no locking); the
    /// mutex just makes the class `Sync` as pyo3 requires.
    job: Mutex<Option<Box<dyn Job>>>,
    state: State,
}

impl AioOp {
    fn new(what: &'static str, job: impl Job) -> Self {
        AioOp {
            what,
            job: Mutex::new(Some(Box::new(job))),
            state: State::Init { yielded: false },
        }
    }

    fn done(&mut self, py: Python<'_>, v: Py<PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.state = State::Done;
        self.release();
        if v.is_none(py) {
            return Ok(None);
        }
        Err(PyStopIteration::new_err((v,)))
    }

    fn release(&mut self) {
        if let Some(j) = self.job.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            let _rt = runtime::enter();
            drop(j);
        }
    }

    fn step(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            match &self.state {
                State::Completed => return Ok(None),
                State::Done => {
                    return Err(PyRuntimeError::new_err(format!(
                        "cannot reuse already awaited streamkit.aio operation ({})",
                        self.what
                    )))
                }
                State::Init { yielded } => {
                    if !*yielded && must_yield(py)? {
                        self.state = State::Init { yielded: true };
                        return Ok(Some(py.None()));
                    }
                    let job = self
                        .job
                        .get_mut()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                        .expect("job present until done");
                    let r = match job.try_now(py) {
                        Ok(r) => r,
                        Err(e) => {
                            self.state = State::Done;
                            self.release();
                            return Err(e);
                        }
                    };
                    if let Some(v) = r {
                        return self.done(py, v);
                    }
                    if let Err(e) = bridge(py) {
                        self.state = State::Done;
                        self.release();
                        return Err(e);
                    }
                    let fut = match job.slow(py) {
                        Ok(f) => f,
                        Err(e) => {
                            self.state = State::Done;
                            self.release();
                            return Err(e);
                        }
                    };
                    let iter = fut.call_method0(pyo3::intern!(py, "__await__"))?;
                    self.state = State::Waiting {
                        iter: iter.unbind(),
                        fut: fut.unbind(),
                    };
                }
                State::Waiting { iter, .. } => {
                    let iter = iter.bind(py).clone();
                    match iter.call_method0(pyo3::intern!(py, "__next__")) {
                        Ok(y) => return Ok(Some(y.unbind())),
                        Err(e) if e.is_instance_of::<PyStopIteration>(py) => {
                            let v = e.value(py).getattr(pyo3::intern!(py, "value"))?;
                            let job = self
                                .job
                                .get_mut()
                                .unwrap_or_else(|e| e.into_inner())
                                .as_mut()
                                .expect("job present until done");
                            match job.finish(py, v) {
                                Ok(Some(r)) => return self.done(py, r),
                                Ok(None) => self.state = State::Init { yielded: true },
                                Err(e) => {
                                    self.state = State::Done;
                                    self.release();
                                    return Err(e);
                                }
                            }
                        }
                        Err(e) => {
                            self.state = State::Done;
                            self.release();
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// Stop: cancel the asyncio future if one is pending (which drops the
    /// tokio future) and release the job.
    fn abort(&mut self, py: Python<'_>) {
        if matches!(self.state, State::Completed) {
            return;
        }
        if let State::Waiting { fut, .. } = &self.state {
            let _ = fut.bind(py).call_method0(pyo3::intern!(py, "cancel"));
        }
        self.state = State::Done;
        self.release();
    }
}

#[pymethods]
impl AioOp {
    fn __await__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        // The shared completed op (a write that fitted the window) is the
        // hot case: recognised by identity, without borrowing the cell.
        let py = slf.py();
        if COMPLETED
            .get(py)
            .is_some_and(|c| c.as_ptr() == slf.as_ptr())
        {
            return exhausted(py);
        }
        Ok(slf.clone().into_any().unbind())
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.step(py)
    }

    /// send(value) -> Any: resume the operation (the value is ignored).
    fn send(&mut self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let _ = value;
        match self.step(py)? {
            Some(v) => Ok(Some(v)),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// throw(typ, val=None, tb=None): stop the operation (cancelling any
    /// pending I/O) and raise the exception in the awaiting code.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &mut self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        self.abort(py);
        let exc = match val.filter(|v| !v.is_none()) {
            Some(v) if v.is_instance_of::<pyo3::exceptions::PyBaseException>() => v.clone(),
            Some(v) => typ.call1((v,))?,
            None if typ.is_instance_of::<PyType>() => typ.call0()?,
            None => typ.clone(),
        };
        Err(PyErr::from_value(exc))
    }

    /// close(): stop the operation, cancelling any pending I/O.
    fn close(&mut self, py: Python<'_>) {
        self.abort(py);
    }

    fn __repr__(&self) -> String {
        let st = match self.state {
            State::Init { .. } => "not started",
            State::Waiting { .. } => "waiting",
            State::Done => "done",
            State::Completed => "completed",
        };
        format!("<streamkit.aio.Operation {} ({st})>", self.what)
    }
}

impl Drop for AioOp {
    fn drop(&mut self) {
        self.release();
    }
}

fn op(py: Python<'_>, what: &'static str, job: impl Job) -> PyResult<Py<AioOp>> {
    Py::new(py, AioOp::new(what, job))
}

fn simple<F>(py: Python<'_>, what: &'static str, fast: bool, fut: F) -> PyResult<Py<AioOp>>
where
    F: Future<Output = Out> + Send + 'static,
{
    op(
        py,
        what,
        SimpleJob {
            fut: Some(Box::pin(fut)),
            fast,
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn stashed<T: Item>(
    py: Python<'_>,
    what: &'static str,
    stash: &Arc<Stash<T>>,
    limit: usize,
    src: Src,
    start: fn(&Src) -> BoxFut<CoreResult<T>>,
    quick: Option<QuickPoll<T>>,
    conv: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<AioOp>> {
    op(
        py,
        what,
        StashJob {
            stash: stash.clone(),
            limit,
            src,
            start,
            quick,
            conv,
            pending: None,
        },
    )
}

fn conv_channel(py: Python<'_>, ch: Channel) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, AioChannel::new(ch))?.into_any())
}

fn conv_frame(py: Python<'_>, f: Option<Bytes>) -> PyResult<Py<PyAny>> {
    Ok(match f {
        Some(b) => PyBytes::new(py, &b).into_any().unbind(),
        None => py.None(),
    })
}

fn conv_frame_or_stop(py: Python<'_>, f: Option<Bytes>) -> PyResult<Py<PyAny>> {
    match f {
        Some(b) => Ok(PyBytes::new(py, &b).into_any().unbind()),
        None => Err(PyStopAsyncIteration::new_err(())),
    }
}

fn conv_chunk(py: Python<'_>, v: Vec<u8>) -> PyResult<Py<PyAny>> {
    Ok(PyBytes::new(py, &v).into_any().unbind())
}

// ------------------------------------------------------------------ Peer

struct PeerShared {
    peer: Peer,
    accepts: Arc<Stash<Channel>>,
    events: Arc<Stash<Option<streamkit_core::Event>>>,
}

/// An asyncio streamkit peer (streamkit.aio.Peer): the same peer as
/// streamkit.Peer, with awaitable methods.
///
/// Peer(name=None, private_key=None, ..., *, keepalive_interval=None, ...)
///
/// Arguments as for streamkit.Peer (durations in seconds). bind, unbind, connect, disconnect, drop,
/// accept, open and shutdown return awaitables (coroutine objects) and never
/// block the event loop; peers, next_peer, set_option, get_option,
/// public_key and name are plain. `async with Peer(...) as p:` shuts the peer
/// down on exit. Cancelling a task that awaits accept() raises CancelledError
/// there and loses no channel. Use asyncio.wait_for() for timeouts.
#[pyclass(module = "streamkit.aio", name = "Peer", frozen, weakref)]
pub(crate) struct AioPeer {
    inner: InRt<Arc<PeerShared>>,
}

impl AioPeer {
    fn live(&self, py: Python<'_>, what: &str) -> PyResult<Peer> {
        Ok(self.inner.live(py, what)?.peer.clone())
    }

    fn string_op<F, Fut>(
        &self,
        py: Python<'_>,
        what: &'static str,
        endpoint: &Bound<'_, PyAny>,
        f: F,
    ) -> PyResult<Py<AioOp>>
    where
        F: FnOnce(Peer, String) -> Fut,
        Fut: Future<Output = Out> + Send + 'static,
    {
        let ep = args::string(what, "endpoint", endpoint)?;
        let p = self.live(py, what)?;
        simple(py, what, false, f(p, ep))
    }
}

#[pymethods]
impl AioPeer {
    #[new]
    #[pyo3(signature = (name=None, private_key=None, authorized_keys=None, known_hosts=None,
                        reconnect_interval=None, reconnect_interval_max=None,
                        connect_timeout=None, max_frame_size=None, *,
                        keepalive_interval=None, keepalive_count=None, handshake_timeout=None,
                        max_channels=None, channel_window=None, accept_backlog=None,
                        window_budget=None, max_connections_per_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: Option<&Bound<'_, PyAny>>,
        private_key: Option<&Bound<'_, PyAny>>,
        authorized_keys: Option<&Bound<'_, PyAny>>,
        known_hosts: Option<&Bound<'_, PyAny>>,
        reconnect_interval: Option<&Bound<'_, PyAny>>,
        reconnect_interval_max: Option<&Bound<'_, PyAny>>,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        max_frame_size: Option<&Bound<'_, PyAny>>,
        keepalive_interval: Option<&Bound<'_, PyAny>>,
        keepalive_count: Option<&Bound<'_, PyAny>>,
        handshake_timeout: Option<&Bound<'_, PyAny>>,
        max_channels: Option<&Bound<'_, PyAny>>,
        channel_window: Option<&Bound<'_, PyAny>>,
        accept_backlog: Option<&Bound<'_, PyAny>>,
        window_budget: Option<&Bound<'_, PyAny>>,
        max_connections_per_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let peer = shared::new_peer(
            py,
            shared::PeerOptions {
                name,
                private_key,
                authorized_keys,
                known_hosts,
                reconnect_interval,
                reconnect_interval_max,
                connect_timeout,
                max_frame_size,
                keepalive_interval,
                keepalive_count,
                handshake_timeout,
                max_channels,
                channel_window,
                accept_backlog,
                window_budget,
                max_connections_per_key,
            },
        )?;
        Ok(AioPeer {
            inner: InRt::new(Arc::new(PeerShared {
                peer,
                accepts: Stash::new(),
                events: Stash::new(),
            })),
        })
    }

    /// set_option(option, value) -> None
    ///
    /// Set an option (one of the OPT_* constants), as streamkit.Peer.set_option.
    fn set_option(
        &self,
        py: Python<'_>,
        option: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        shared::set_option(py, &self.inner.peer, option, value)
    }

    /// get_option(option) -> str | int
    ///
    /// The current value of an option (str for string options, else int).
    fn get_option(&self, py: Python<'_>, option: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        shared::get_option(py, &self.inner.peer, option)
    }

    /// This peer's public key, one OpenSSH line ("ssh-ed25519 AAAA...").
    #[getter]
    fn public_key(&self, py: Python<'_>) -> PyResult<String> {
        shared::public_key(py, &self.inner.peer)
    }

    /// This peer's name (option OPT_NAME).
    #[getter]
    fn name(&self) -> String {
        self.inner.peer.name()
    }

    /// True once shutdown() has completed (or started).
    #[getter]
    fn is_shutdown(&self) -> bool {
        self.inner.peer.is_shutdown()
    }

    /// bind(endpoint) -> Awaitable[str]
    ///
    /// Listen on "tcp://HOST:PORT", "unix:///path" or "inproc://NAME";
    /// resolves to the endpoint actually bound (real port).
    fn bind(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.string_op(py, "Peer.bind", endpoint, |p, ep| async move {
            match p.bind(&ep).await {
                Ok(s) => Out::Str(s),
                Err(e) => Out::Err(e),
            }
        })
    }

    /// unbind(endpoint) -> Awaitable[None]
    ///
    /// Stop listening on an endpoint returned by bind().
    fn unbind(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.string_op(py, "Peer.unbind", endpoint, |p, ep| async move {
            out_unit(p.unbind(&ep).await)
        })
    }

    /// connect(endpoint) -> Awaitable[None]
    ///
    /// Connect to a bound peer and authenticate both ways (retrying until
    /// CONNECT_TIMEOUT, then TimeoutError; AuthError for an untrusted key).
    fn connect(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.string_op(py, "Peer.connect", endpoint, |p, ep| async move {
            out_unit(p.connect(&ep).await)
        })
    }

    /// connect_fd(sock_or_fd) -> Awaitable[str]
    ///
    /// The SSH client side of a connection over a connected socket or fd;
    /// the remote's name once the names are exchanged (see
    /// streamkit.Peer.connect_fd).
    fn connect_fd(&self, py: Python<'_>, sock_or_fd: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        let io = shared::fd_stream(py, "Peer.connect_fd", sock_or_fd)?;
        let p = self.live(py, "Peer.connect_fd")?;
        simple(py, "Peer.connect_fd", false, async move {
            match p.connect_stream(io).await {
                Ok(s) => Out::Str(s),
                Err(e) => Out::Err(e),
            }
        })
    }

    /// serve_fd(sock_or_fd) -> Awaitable[str]
    ///
    /// The SSH server side of a connection over a connected socket or fd;
    /// the client's name once the names are exchanged (see
    /// streamkit.Peer.serve_fd).
    fn serve_fd(&self, py: Python<'_>, sock_or_fd: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        let io = shared::fd_stream(py, "Peer.serve_fd", sock_or_fd)?;
        let p = self.live(py, "Peer.serve_fd")?;
        simple(py, "Peer.serve_fd", false, async move {
            match p.serve_stream(io).await {
                Ok(s) => Out::Str(s),
                Err(e) => Out::Err(e),
            }
        })
    }

    /// disconnect(endpoint) -> Awaitable[None]
    ///
    /// Close the connection made by connect(endpoint) and stop reconnecting.
    fn disconnect(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.string_op(py, "Peer.disconnect", endpoint, |p, ep| async move {
            out_unit(p.disconnect(&ep).await)
        })
    }

    /// peers() -> list[str]
    ///
    /// Names of the currently connected peers, sorted.
    fn peers(&self) -> Vec<String> {
        self.inner.peer.peers()
    }

    /// stats() -> list[ConnStats]
    ///
    /// One entry per established connection: remote name, endpoint,
    /// fingerprint, bytes each way, open channels, last round trip and time
    /// connected. Does not block.
    fn stats(&self) -> Vec<crate::stats::ConnStats> {
        crate::stats::peer_stats(&self.inner.peer)
    }

    /// next_peer() -> str | None
    ///
    /// The next connected peer in round-robin order, or None.
    fn next_peer(&self) -> Option<String> {
        self.inner.peer.next_peer()
    }

    /// drop(name) -> Awaitable[None]
    ///
    /// Close the connection to the named peer (NoPeerError if unknown).
    fn drop(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        let name = args::string("Peer.drop", "name", name)?;
        let p = self.live(py, "Peer.drop")?;
        simple(py, "Peer.drop", false, async move {
            out_unit(p.drop_peer(&name).await)
        })
    }

    /// accept() -> Awaitable[Channel]
    ///
    /// Wait for a channel opened by a remote peer. ClosedError once the peer
    /// is shut down. Cancel-safe: a cancelled accept loses no channel.
    fn accept(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let p = self.live(py, "Peer.accept")?;
        stashed(
            py,
            "Peer.accept",
            &self.inner.accepts,
            usize::MAX,
            Src::Peer(p),
            start_accept,
            None,
            conv_channel,
        )
    }

    /// next_event() -> Awaitable[Event | None]
    ///
    /// The next event about this peer's connections (see streamkit.Event);
    /// None once the peer is shut down and the queued events were taken.
    /// Cancel-safe: a cancelled wait loses no event. (For a timeout use
    /// asyncio.wait_for.)
    fn next_event(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let p = self.live(py, "Peer.next_event")?;
        stashed(
            py,
            "Peer.next_event",
            &self.inner.events,
            usize::MAX,
            Src::Peer(p),
            start_event,
            None,
            crate::event::to_py,
        )
    }

    /// open(peer, service, headers=()) -> Awaitable[Channel]
    ///
    /// Open a channel to the connected peer named `peer` for `service`, with
    /// "key=value" headers (list/tuple of str or dict of str to str).
    #[pyo3(signature = (peer, service, headers=None), text_signature = "(self, peer, service, headers=())")]
    fn open(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
        service: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<AioOp>> {
        let name = args::string("Peer.open", "peer", peer)?;
        let (service, headers) = shared::service_headers("Peer.open", service, headers)?;
        let p = self.live(py, "Peer.open")?;
        simple(py, "Peer.open", false, async move {
            match p.open(&name, &service, &headers).await {
                Ok(c) => Out::Chan(c),
                Err(e) => Out::Err(e),
            }
        })
    }

    /// shutdown() -> Awaitable[None]
    ///
    /// Close every connection, listener and channel and wake every waiting
    /// call with ClosedError. A second shutdown raises ClosedError.
    fn shutdown(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let p = self.live(py, "Peer.shutdown")?;
        simple(py, "Peer.shutdown", false, async move {
            out_unit(p.shutdown().await)
        })
    }

    fn __aenter__(slf: &Bound<'_, Self>) -> PyResult<Py<AioOp>> {
        op(
            slf.py(),
            "Peer.__aenter__",
            ReadyJob(Some(slf.clone().into_any().unbind())),
        )
    }

    /// Shut the peer down (unless already shut down); exceptions propagate.
    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __aexit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<AioOp>> {
        let p = self.live(py, "Peer.__aexit__")?;
        simple(py, "Peer.__aexit__", false, async move {
            if p.is_shutdown() {
                return Out::None;
            }
            match p.shutdown().await {
                Ok(()) | Err(Error::Closed(_)) => Out::None,
                Err(e) => Out::Err(e),
            }
        })
    }

    fn __repr__(&self) -> String {
        let p = &self.inner.peer;
        format!(
            "<streamkit.aio.Peer name={:?}{}>",
            p.name(),
            if p.is_shutdown() { " shut down" } else { "" }
        )
    }
}

// ------------------------------------------------------------------ reads as coroutines

/// What a channel read returns (the `kind` passed to the Python helper).
const READ_FRAME: u8 = 0;
const READ_ERROR: u8 = 1;
/// A frame for `async for`: StopAsyncIteration at end of stream.
const READ_ANEXT: u8 = 2;
/// Up to `n` bytes of the byte stream.
const READ_BYTES: u8 = 3;

fn read_what(kind: u8) -> &'static str {
    match kind {
        READ_FRAME => "Channel.read_frame",
        READ_ERROR => "Channel.read_error",
        READ_ANEXT => "Channel.__anext__",
        _ => "Channel.read",
    }
}

/// `streamkit.aio._read`, a coroutine function registered by `_aio_init`:
/// `r = ch._try_read(kind, n)`, and only if that is [`WAIT`],
/// `r = await ch._wait_read(kind, n)`. A read whose data is already there
/// so completes inside one native coroutine step: no `Operation` object, no
/// StopIteration, no event-loop round trip. Channel reads return such a
/// coroutine (nothing is read before it is awaited); without the helper they
/// return the `Operation` directly.
static READ_CORO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// The sentinel `_try_read` returns when the read has to wait.
static WAIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn wait_sentinel(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    WAIT.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("builtins")?.getattr("object")?.call0()?.unbind())
    })
}

/// _aio_init(read) -> object
///
/// Register streamkit.aio's read helper coroutine function; returns the
/// sentinel meaning "has to wait".
#[pyfunction]
fn _aio_init(py: Python<'_>, read: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let _ = READ_CORO.set(py, read.unbind());
    Ok(wait_sentinel(py)?.clone_ref(py))
}

// ------------------------------------------------------------------ Channel

struct ChanShared {
    ch: Channel,
    frames: Arc<Stash<Option<Bytes>>>,
    errs: Arc<Stash<Option<Bytes>>>,
    bytes: Arc<Stash<Vec<u8>>>,
    accepts: Arc<Stash<Channel>>,
}

/// An asyncio streamkit channel (streamkit.aio.Channel), returned by
/// aio.Peer.open/accept and aio.Channel.open/accept.
///
/// Same semantics as streamkit.Channel; read, write, read_frame,
/// write_frame, read_error, write_error, close_write, write_trailers, close,
/// open, accept and join return awaitables (coroutine objects) and never
/// block the event loop. `async for frame in ch` yields frames until end of
/// stream; `async with ch:` closes it on exit. A read or accept cancelled
/// while waiting loses nothing: its result goes to the next call. A write
/// cancelled while waiting (flow control) may have sent part of its data.
#[pyclass(module = "streamkit.aio", name = "Channel", frozen, weakref)]
pub(crate) struct AioChannel {
    inner: InRt<Arc<ChanShared>>,
}

impl AioChannel {
    pub(crate) fn new(ch: Channel) -> Self {
        AioChannel {
            inner: InRt::new(Arc::new(ChanShared {
                ch,
                frames: Stash::new(),
                errs: Stash::new(),
                bytes: Stash::new(),
                accepts: Stash::new(),
            })),
        }
    }

    fn live(&self, py: Python<'_>, what: &str) -> PyResult<Channel> {
        Ok(self.inner.live(py, what)?.ch.clone())
    }

    fn write_like(
        &self,
        py: Python<'_>,
        what: &'static str,
        data: &Bound<'_, PyAny>,
        kind: u8,
    ) -> PyResult<Py<AioOp>> {
        let view = ByteView::get(what, "data", data)?;
        let src = view.as_slice();
        let sh = self.inner.live(py, what)?;
        if kind != 0 && matches!(must_yield(py), Ok(false)) {
            // A frame that fits the remote's window right now is queued here,
            // with no future, copy or allocation (not even of the channel
            // handle); otherwise nothing was written and the future below
            // does the (waiting) write.
            let r = if kind == 1 {
                sh.ch.try_write_frame(src)
            } else {
                sh.ch.try_write_error(src)
            };
            match r {
                Ok(true) => return completed(py),
                Ok(false) => {}
                Err(e) => return op(py, what, ErrJob(Some(errors::to_py(py, e)))),
            }
        }
        let ch = sh.ch.clone();
        let mut fut: BoxFut<Out> = if kind != 0 && src.len() <= INLINE_FRAME {
            // A small frame travels inside the future itself: one allocation.
            let mut buf = [0u8; INLINE_FRAME];
            let len = src.len();
            buf[..len].copy_from_slice(src);
            Box::pin(async move {
                let p = &buf[..len];
                if kind == 1 {
                    out_unit(ch.write_frame(p).await)
                } else {
                    out_unit(ch.write_error(p).await)
                }
            })
        } else {
            let bytes = Bytes::copy_from_slice(src);
            Box::pin(async move {
                match kind {
                    0 => match ch.write_bytes(bytes).await {
                        Ok(n) => Out::Int(n),
                        Err(e) => Out::Err(e),
                    },
                    1 => out_unit(ch.write_frame(&bytes).await),
                    _ => out_unit(ch.write_error(&bytes).await),
                }
            })
        };
        drop(view);
        // Writes start at call time (like StreamWriter.write): one that fits
        // the window is sent before this returns and the op is already done.
        // Not when the loop's fairness slice is used up (or there is no
        // running loop): then the op yields first, on await.
        if matches!(must_yield(py), Ok(false)) {
            let _rt = runtime::enter();
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                drop(fut);
                return match out {
                    Out::None => completed(py),
                    Out::Err(e) => op(py, what, ErrJob(Some(errors::to_py(py, e)))),
                    other => op(py, what, ReadyJob(Some(other.into_pyobject(py)?.unbind()))),
                };
            }
        }
        op(
            py,
            what,
            SimpleJob {
                fut: Some(fut),
                fast: true,
            },
        )
    }

    /// The `Operation` for a read (see [`READ_CORO`]).
    fn read_op(&self, py: Python<'_>, kind: u8, n: usize) -> PyResult<Py<AioOp>> {
        let what = read_what(kind);
        let ch = self.live(py, what)?;
        match kind {
            READ_BYTES => {
                give_back_frames(&self.inner);
                stashed(
                    py,
                    what,
                    &self.inner.bytes,
                    n,
                    Src::Bytes(ch, n),
                    start_bytes,
                    Some(quick_bytes),
                    conv_chunk,
                )
            }
            READ_ERROR => stashed(
                py,
                what,
                &self.inner.errs,
                usize::MAX,
                Src::Chan(ch),
                start_error,
                Some(quick_error),
                conv_frame,
            ),
            _ => stashed(
                py,
                what,
                &self.inner.frames,
                usize::MAX,
                Src::Chan(ch),
                start_frame,
                Some(quick_frame),
                if kind == READ_ANEXT {
                    conv_frame_or_stop
                } else {
                    conv_frame
                },
            ),
        }
    }

    /// A read: the helper coroutine (or, without it, the `Operation`).
    fn read_awaitable(slf: &Bound<'_, Self>, kind: u8, n: usize) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        this.inner.live(py, read_what(kind))?;
        match READ_CORO.get(py) {
            Some(f) => Ok(f.bind(py).call1((slf, kind, n))?.unbind()),
            None => Ok(this.read_op(py, kind, n)?.into_any()),
        }
    }
}

#[pymethods]
impl AioChannel {
    /// The channel's metadata (service, headers, trailers, local_peer, remote_peer).
    #[getter]
    fn meta(slf: &Bound<'_, Self>) -> AioChannelMeta {
        let ch = &slf.get().inner.ch;
        AioChannelMeta {
            service: ch.service().to_owned(),
            headers: ch.headers().to_vec(),
            local_peer: ch.local_peer().to_owned(),
            remote_peer: ch.remote_peer().to_owned(),
            remote_key: ch.remote_key().to_owned(),
            remote_fingerprint: ch.remote_fingerprint().to_owned(),
            channel: slf.clone().unbind(),
        }
    }

    /// stats() -> ChannelStats
    ///
    /// What this channel has moved and where it stalled (see
    /// streamkit.ChannelStats). Does not block.
    fn stats(&self) -> crate::stats::ChannelStats {
        self.inner.ch.stats().into()
    }

    /// True once the channel has fully ended.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.ch.is_closed()
    }

    /// read(n=65536) -> Awaitable[bytes]
    ///
    /// Read up to n bytes of the byte stream, waiting for at least one;
    /// b"" at end of stream.
    #[pyo3(signature = (n=None), text_signature = "(self, n=65536)")]
    fn read(slf: &Bound<'_, Self>, n: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let n = shared::read_len(py, "Channel.read", n)?;
        if n == 0 {
            return Ok(op(
                py,
                "Channel.read",
                ReadyJob(Some(PyBytes::new(py, b"").into_any().unbind())),
            )?
            .into_any());
        }
        Self::read_awaitable(slf, READ_BYTES, n)
    }

    /// write(data) -> Awaitable[int]
    ///
    /// Write all of data (any bytes-like object; copied at call time) to the
    /// byte stream; resolves to len(data). Starts at call time: data that
    /// fits the flow-control window is sent before this returns; the rest
    /// is sent when awaited (a cancelled or never-awaited write may then
    /// have sent only part of it).
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.write_like(py, "Channel.write", data, 0)
    }

    /// write_frame(data) -> Awaitable[None]
    ///
    /// Send one frame (4-byte big-endian length + payload; data is any
    /// bytes-like object, copied at call time). Starts at call time, as write().
    fn write_frame(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.write_like(py, "Channel.write_frame", data, 1)
    }

    /// read_frame() -> Awaitable[bytes | None]
    ///
    /// The next frame; None at a clean end of stream. Cancel-safe. Frames
    /// that have already arrived are read ahead (up to 128 frames / 16 KiB
    /// in one native call) and returned by the next reads; a read() after
    /// read_frame() returns those bytes first.
    fn read_frame(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Self::read_awaitable(slf, READ_FRAME, 0)
    }

    /// write_error(data) -> Awaitable[None]
    ///
    /// Send an error frame on the separate error stream. Starts at call
    /// time, as write().
    fn write_error(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        self.write_like(py, "Channel.write_error", data, 2)
    }

    /// read_error() -> Awaitable[bytes | None]
    ///
    /// The next error frame; None at end of stream. Cancel-safe.
    fn read_error(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Self::read_awaitable(slf, READ_ERROR, 0)
    }

    /// close_write() -> Awaitable[None]
    ///
    /// Half-close: the remote side's reads reach end of stream.
    fn close_write(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let ch = self.live(py, "Channel.close_write")?;
        simple(py, "Channel.close_write", false, async move {
            out_unit(ch.close_write().await)
        })
    }

    /// write_trailers(trailers) -> Awaitable[None]
    ///
    /// Send "key=value" trailers (list of str or dict of str to str).
    fn write_trailers(&self, py: Python<'_>, trailers: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        let t = args::string_list("Channel.write_trailers", "trailers", trailers)?;
        let ch = self.live(py, "Channel.write_trailers")?;
        simple(py, "Channel.write_trailers", false, async move {
            out_unit(ch.write_trailers(&t).await)
        })
    }

    /// close() -> Awaitable[None]
    ///
    /// Close the channel in both directions (idempotent).
    fn close(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let ch = self.live(py, "Channel.close")?;
        simple(py, "Channel.close", false, async move {
            out_unit(ch.close().await)
        })
    }

    /// open(service, headers=()) -> Awaitable[Channel]
    ///
    /// Open a child channel inside this one; the remote side accepts it with
    /// Channel.accept().
    #[pyo3(signature = (service, headers=None), text_signature = "(self, service, headers=())")]
    fn open(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<AioOp>> {
        let (service, headers) = shared::service_headers("Channel.open", service, headers)?;
        let ch = self.live(py, "Channel.open")?;
        simple(py, "Channel.open", false, async move {
            match ch.open(&service, &headers).await {
                Ok(c) => Out::Chan(c),
                Err(e) => Out::Err(e),
            }
        })
    }

    /// accept() -> Awaitable[Channel]
    ///
    /// Wait for a child channel opened by the remote side. Cancel-safe.
    fn accept(&self, py: Python<'_>) -> PyResult<Py<AioOp>> {
        let ch = self.live(py, "Channel.accept")?;
        stashed(
            py,
            "Channel.accept",
            &self.inner.accepts,
            usize::MAX,
            Src::Chan(ch),
            start_accept,
            None,
            conv_channel,
        )
    }

    /// join(sock) -> Awaitable[None]
    ///
    /// Splice the byte stream with a stream socket (or object with fileno(),
    /// or int fd) until both sides end, then close the channel. The
    /// descriptor is duplicated: the caller still owns `sock`.
    fn join(&self, py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<Py<AioOp>> {
        let stream = shared::join_stream(py, "Channel.join", sock)?;
        let ch = self.live(py, "Channel.join")?;
        give_back_frames(&self.inner);
        simple(py, "Channel.join", false, async move {
            out_unit(ch.join(stream).await)
        })
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next frame; StopAsyncIteration at end of stream.
    fn __anext__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Self::read_awaitable(slf, READ_ANEXT, 0)
    }

    /// _try_read(kind, n): the read's result if it is there now (see
    /// `streamkit.aio._read`), else the "has to wait" sentinel. Also the
    /// sentinel once fast-path work has used up this loop iteration's slice
    /// (the Operation then yields to the loop first).
    fn _try_read(&self, py: Python<'_>, kind: u8, n: usize) -> PyResult<Py<PyAny>> {
        let sh = self.inner.live(py, read_what(kind))?;
        if must_yield(py)? {
            return Ok(wait_sentinel(py)?.clone_ref(py));
        }
        let ch = &sh.ch;
        let r = match kind {
            READ_BYTES => {
                give_back_frames(sh);
                // Read straight into the thread's scratch buffer (no n-byte
                // allocation and zeroing per read), one copy into the bytes.
                let mut buf = shared::scratch(n);
                let r = sh.bytes.try_fast_with(
                    n,
                    |r| r.map(|v| conv_chunk(py, v)),
                    || {
                        noop_poll(ch.read(&mut buf[..n])).map(|r| {
                            eof_as_zero(r)
                                .map(|k| Ok(PyBytes::new(py, &buf[..k]).into_any().unbind()))
                        })
                    },
                );
                shared::scratch_done(buf);
                match r {
                    Some(r) => r,
                    None => return Ok(wait_sentinel(py)?.clone_ref(py)),
                }
            }
            READ_ERROR => match sh.errs.try_fast(usize::MAX, || quick_error_ch(ch)) {
                Some(r) => r.map(|v| conv_frame(py, v)),
                None => return Ok(wait_sentinel(py)?.clone_ref(py)),
            },
            _ => match sh
                .frames
                .try_fast(usize::MAX, || quick_frames_ahead(ch, &sh.frames))
            {
                Some(r) => r.map(|v| {
                    if kind == READ_ANEXT {
                        conv_frame_or_stop(py, v)
                    } else {
                        conv_frame(py, v)
                    }
                }),
                None => return Ok(wait_sentinel(py)?.clone_ref(py)),
            },
        };
        match r {
            Ok(v) => v,
            Err(e) => Err(errors::to_py(py, e)),
        }
    }

    /// _try_frame(): _try_read(READ_FRAME, 0) without argument parsing.
    fn _try_frame(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self._try_read(py, READ_FRAME, 0)
    }

    /// _try_error(): _try_read(READ_ERROR, 0) without argument parsing.
    fn _try_error(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self._try_read(py, READ_ERROR, 0)
    }

    /// _try_anext(): _try_read(READ_ANEXT, 0) without argument parsing.
    fn _try_anext(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self._try_read(py, READ_ANEXT, 0)
    }

    /// _wait_read(kind, n) -> Operation: the read as an Operation (waits
    /// through pyo3-async-runtimes when it has to).
    fn _wait_read(&self, py: Python<'_>, kind: u8, n: usize) -> PyResult<Py<AioOp>> {
        self.read_op(py, kind, n)
    }

    fn __aenter__(slf: &Bound<'_, Self>) -> PyResult<Py<AioOp>> {
        op(
            slf.py(),
            "Channel.__aenter__",
            ReadyJob(Some(slf.clone().into_any().unbind())),
        )
    }

    /// Close the channel; exceptions propagate.
    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __aexit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<AioOp>> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        let ch = &self.inner.ch;
        format!(
            "<streamkit.aio.Channel service={:?} {} -> {}{}>",
            ch.service(),
            ch.local_peer(),
            ch.remote_peer(),
            if ch.is_closed() { " closed" } else { "" }
        )
    }
}

/// A channel's metadata: service name, headers, trailers and both peers'
/// names. `trailers` is read live (the remote side's trailers appear once it
/// has closed or closed for writing).
#[pyclass(module = "streamkit.aio", name = "ChannelMeta", frozen)]
pub(crate) struct AioChannelMeta {
    /// The service name the channel was opened for.
    #[pyo3(get)]
    service: String,
    /// The "key=value" headers sent when the channel was opened.
    #[pyo3(get)]
    headers: Vec<String>,
    /// The name of this side's peer.
    #[pyo3(get)]
    local_peer: String,
    /// The name of the remote peer.
    #[pyo3(get)]
    remote_peer: String,
    /// The public key the remote authenticated with: one OpenSSH line, no
    /// comment (for inproc, the other peer's own key).
    #[pyo3(get)]
    remote_key: String,
    /// The SHA256 fingerprint of remote_key, as `ssh-keygen -lf` prints it.
    #[pyo3(get)]
    remote_fingerprint: String,
    channel: Py<AioChannel>,
}

#[pymethods]
impl AioChannelMeta {
    /// The "key=value" trailers received from the remote side (empty until it
    /// has closed or closed for writing).
    #[getter]
    fn trailers(&self) -> Vec<String> {
        self.channel.get().inner.ch.trailers()
    }

    /// The headers as a dict, as streamkit.ChannelMeta.headers_dict.
    #[getter]
    fn headers_dict(&self) -> std::collections::HashMap<String, String> {
        crate::channel::to_dict(&self.headers)
    }

    /// The trailers as a dict, as streamkit.ChannelMeta.trailers_dict.
    #[getter]
    fn trailers_dict(&self) -> std::collections::HashMap<String, String> {
        crate::channel::to_dict(&self.channel.get().inner.ch.trailers())
    }

    fn __repr__(&self) -> String {
        format!(
            "ChannelMeta(service={:?}, headers={:?}, local_peer={:?}, remote_peer={:?})",
            self.service, self.headers, self.local_peer, self.remote_peer
        )
    }
}

/// Register the classes on the extension module (as private names; the
/// public ones are re-exported by `streamkit.aio`).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("_AioPeer", py.get_type::<AioPeer>())?;
    m.add("_AioChannel", py.get_type::<AioChannel>())?;
    m.add("_AioChannelMeta", py.get_type::<AioChannelMeta>())?;
    m.add("_AioOperation", py.get_type::<AioOp>())?;
    m.add_function(wrap_pyfunction!(_aio_quiesce, m)?)?;
    m.add_function(wrap_pyfunction!(_aio_init, m)?)?;
    m.add_function(wrap_pyfunction!(_aio_stats, m)?)?;
    Ok(())
}
