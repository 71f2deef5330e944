//! The hidden runtime that the blocking language bindings (C, Python, Go)
//! share: one definition of the worker count, its environment variable, the
//! fork rule and the caller-thread fast path, so every binding behaves alike.
//!
//! Rust programs bring their own tokio runtime and do not need this module.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Runtime;

use crate::{Error, Result};

/// The environment variable that sets the number of worker threads.
pub const THREADS_VAR: &str = "STREAMKIT_THREADS";
/// Worker threads when [`THREADS_VAR`] is unset.
pub const DEFAULT_THREADS: usize = 2;
/// The largest accepted worker count.
pub const MAX_THREADS: usize = 64;

/// The worker count for a value of [`THREADS_VAR`] (`None`: unset).
///
/// An empty value counts as unset; anything else must be a whole number from
/// 1 to [`MAX_THREADS`], so a typo is reported instead of silently ignored.
pub fn parse_threads(value: Option<&str>) -> Result<usize> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_THREADS);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(Error::Invalid(format!(
            "{THREADS_VAR}={v:?}: expected a whole number of worker threads from 1 to {MAX_THREADS}"
        ))),
    }
}

/// The worker count the environment asks for ([`parse_threads`] of [`THREADS_VAR`]).
pub fn threads_from_env() -> Result<usize> {
    parse_threads(std::env::var(THREADS_VAR).ok().as_deref())
}

/// Build a multi-thread runtime with the environment's worker count.
pub fn build() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads_from_env()?)
        .thread_name("streamkit-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the streamkit runtime: {e}")))
}

// The shared runtime is built on first use and rebuilt in a child after
// fork(): the child inherits the parent's runtime memory but none of its
// threads, so the old one is abandoned (leaked) there. `GENERATION` counts
// runtimes, so handles created before a fork can be recognised and refused
// instead of hanging forever.
static RT_PTR: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static RT_LOCK: Mutex<()> = Mutex::new(());
static FORKED: AtomicBool = AtomicBool::new(false);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    FORKED.store(true, Ordering::SeqCst);
}

fn install_fork_handler() {
    ATFORK.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// The process-wide runtime, built on first use (and again in a forked child).
pub fn shared() -> Result<&'static Runtime> {
    let p = RT_PTR.load(Ordering::Acquire);
    if !p.is_null() && !FORKED.load(Ordering::Relaxed) {
        // SAFETY: shared runtimes are leaked, never freed.
        return Ok(unsafe { &*p });
    }
    shared_slow()
}

#[cold]
fn shared_slow() -> Result<&'static Runtime> {
    install_fork_handler();
    let _g = RT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if FORKED.swap(false, Ordering::SeqCst) {
        // In a forked child: the parent's runtime has no threads here.
        RT_PTR.store(std::ptr::null_mut(), Ordering::Release);
    }
    let p = RT_PTR.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: as above.
        return Ok(unsafe { &*p });
    }
    let rt: &'static Runtime = Box::leak(Box::new(build()?));
    GENERATION.fetch_add(1, Ordering::SeqCst);
    RT_PTR.store(rt as *const Runtime as *mut Runtime, Ordering::Release);
    Ok(rt)
}

/// Which shared runtime is current (starting it if needed): objects created
/// under one generation are dead in a forked child, which has the next one.
pub fn generation() -> Result<u64> {
    shared()?;
    Ok(GENERATION.load(Ordering::SeqCst))
}

/// The current shared runtime's generation without starting one (0: none yet).
pub fn current_generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Whether objects created under `generation` still belong to this process's
/// shared runtime (false for a parent's objects in a forked child).
pub fn is_current(generation: u64) -> bool {
    generation == GENERATION.load(Ordering::SeqCst) && !FORKED.load(Ordering::SeqCst)
}

/// Poll `fut` once on the caller's thread with a no-op waker.
///
/// streamkit's reads and writes complete on this first poll when a frame is
/// buffered or credit is available, so a binding can skip the runtime
/// entirely; when it is pending, the caller goes on driving the same future
/// (never a second one, so nothing is lost or duplicated).
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_value_is_checked() {
        assert_eq!(parse_threads(None).unwrap(), DEFAULT_THREADS);
        assert_eq!(parse_threads(Some(" ")).unwrap(), DEFAULT_THREADS);
        assert_eq!(parse_threads(Some(" 4 ")).unwrap(), 4);
        assert_eq!(parse_threads(Some("64")).unwrap(), 64);
        for bad in ["0", "65", "two", "-1", "1.5"] {
            let e = parse_threads(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("STREAMKIT_THREADS") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn shared_runtime_is_one_runtime() {
        let a = shared().unwrap() as *const Runtime;
        let b = shared().unwrap() as *const Runtime;
        assert_eq!(a, b);
        let g = generation().unwrap();
        assert_eq!(g, generation().unwrap());
        assert_eq!(shared().unwrap().block_on(async { 7 }), 7);
    }

    #[test]
    fn poll_once_reports_ready_and_pending() {
        let mut ready = std::pin::pin!(async { 1 });
        assert_eq!(poll_once(ready.as_mut()), Poll::Ready(1));
        let mut pending = std::pin::pin!(std::future::pending::<()>());
        assert!(poll_once(pending.as_mut()).is_pending());
    }
}
