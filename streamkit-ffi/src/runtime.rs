//! The hidden tokio runtime behind every blocking C call.
//!
//! One multi-thread runtime (the core's shared runtime: 2 worker threads, or
//! `STREAMKIT_THREADS`=1..64; rebuilt in a forked child) is built on first use. Blocking
//! calls run their future with `Runtime::block_on` on the caller's own
//! thread, so C threads never hand work to a callback thread and results come
//! back in the calling thread (where `sk_last_error()` is read).
//!
//! The data-path calls (read, write, frames) first poll their future once on
//! the caller's thread without entering the runtime ([`run_io`]): when a frame
//! is already buffered or flow-control credit is available, the core's
//! futures complete on that first poll, and the call costs no runtime entry,
//! no thread park and no wake-up. Only when the first poll is pending does
//! the same future (never a second one, so nothing is lost or duplicated)
//! continue under `Runtime::block_on`, with the timeout applied there.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use streamkit_core::{Error, Result};
use tokio::runtime::Runtime;

use crate::error::invalid;

/// The runtime, built on first use (see `streamkit_core::runtime`).
pub(crate) fn runtime() -> Result<&'static Runtime> {
    streamkit_core::runtime::shared()
}

/// Run `fut` to completion on the caller's thread.
///
/// Fails with an invalid-argument error instead of panicking when called from
/// inside a tokio runtime (one of streamkit's worker threads, or async code of
/// the host application), where blocking would deadlock or abort.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(invalid(
            "blocking streamkit calls must not be made from inside a tokio runtime \
             (an async task or a streamkit runtime thread); call from an ordinary thread",
        ));
    }
    Ok(runtime()?.block_on(fut))
}

/// Run a data-path future: poll it once on the caller's thread (no runtime
/// entry; the core's futures need none until they have to wait), and if it is
/// not ready, finish the same future under [`block_on`] within `t`.
///
/// A `timeout_ms` of 0 that is not ready on the first poll times out right
/// away without entering the runtime (dropping the future, which the core's
/// reads allow: they are cancel-safe, and nothing was consumed). Writes pass
/// `Timeout::FOREVER`.
pub(crate) fn run_io<T, F>(t: Timeout, what: &str, fut: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return block_on(fut)?; // refused with the usual message
    }
    let mut fut = std::pin::pin!(fut);
    if let Poll::Ready(v) = streamkit_core::runtime::poll_once(fut.as_mut()) {
        return v;
    }
    if t.1 == 0 {
        return Err(t.expired(what));
    }
    block_on(t.run(what, fut))?
}

/// Run a synchronous closure inside the runtime's context (needed when a
/// core object may spawn tasks or be dropped, which may spawn its cleanup).
pub(crate) fn enter<T>(f: impl FnOnce() -> T) -> Result<T> {
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        return Ok(f());
    }
    let _guard = rt.enter();
    Ok(f())
}

/// A C `timeout_ms`: -1 waits forever, 0 polls once, > 0 waits that long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeout(Option<Duration>, i64);

impl Timeout {
    /// No limit (-1), for calls that take no `timeout_ms`.
    pub(crate) const FOREVER: Timeout = Timeout(None, -1);

    fn expired(self, what: &str) -> Error {
        if self.1 == 0 {
            Error::Timeout(format!(
                "{what}: nothing available right now (timeout_ms = 0 polls)"
            ))
        } else {
            Error::Timeout(format!("{what}: no result within {} ms", self.1))
        }
    }

    pub(crate) fn from_ms(ms: i64) -> Result<Timeout> {
        match ms {
            -1 => Ok(Timeout(None, ms)),
            0.. => Ok(Timeout(Some(Duration::from_millis(ms as u64)), ms)),
            _ => Err(invalid(format!(
                "timeout_ms must be -1 (wait forever), 0 (poll) or a positive number of milliseconds, got {ms}"
            ))),
        }
    }

    /// Await `fut` (cancel-safe) for at most this long.
    pub(crate) async fn run<T, F>(self, what: &str, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        match self.0 {
            None => fut.await,
            Some(d) => match tokio::time::timeout(d, fut).await {
                Ok(r) => r,
                Err(_) => Err(self.expired(what)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_inside_runtime_is_refused() {
        let r = block_on(async { block_on(async { 1 }) }).unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.kind(), streamkit_core::ErrorKind::Invalid);
    }

    /// Pending on its first `pending` polls (waking itself), then ready
    /// with the number of polls; counts polls and drops.
    struct Steps {
        pending: usize,
        polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Future for Steps {
        type Output = Result<usize>;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<Self::Output> {
            let n = self.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if self.pending > 0 {
                self.pending -= 1;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(n))
        }
    }

    fn steps(pending: usize) -> (Steps, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        (
            Steps {
                pending,
                polls: polls.clone(),
            },
            polls,
        )
    }

    #[test]
    fn run_io_ready_on_first_poll() {
        let (f, polls) = steps(0);
        assert_eq!(run_io(Timeout::FOREVER, "x", f).unwrap(), 1);
        assert_eq!(polls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn run_io_continues_the_same_future() {
        // Not ready at first: the same future (not a new one) is finished
        // under the runtime, so its state carries over (3 polls in all).
        let (f, polls) = steps(2);
        assert_eq!(run_io(Timeout::from_ms(-1).unwrap(), "x", f).unwrap(), 3);
        assert_eq!(polls.load(std::sync::atomic::Ordering::SeqCst), 3);
        let (f, _) = steps(1);
        assert_eq!(run_io(Timeout::from_ms(1000).unwrap(), "x", f).unwrap(), 2);
    }

    #[test]
    fn run_io_timeouts() {
        // timeout 0: one poll, then the poll-timeout error.
        let (f, polls) = steps(1);
        let e = run_io(Timeout::from_ms(0).unwrap(), "read_frame", f).unwrap_err();
        assert_eq!(e.kind(), streamkit_core::ErrorKind::Timeout);
        assert!(
            e.to_string()
                .contains("read_frame: nothing available right now"),
            "{e}"
        );
        assert_eq!(polls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // a positive timeout is applied under the runtime.
        let start = std::time::Instant::now();
        let e = run_io::<(), _>(
            Timeout::from_ms(30).unwrap(),
            "read",
            std::future::pending(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), streamkit_core::ErrorKind::Timeout);
        assert!(e.to_string().contains("no result within 30 ms"), "{e}");
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn run_io_inside_runtime_is_refused() {
        let r = block_on(async { run_io(Timeout::FOREVER, "x", async { Ok(1) }) }).unwrap();
        assert_eq!(r.unwrap_err().kind(), streamkit_core::ErrorKind::Invalid);
    }

    #[test]
    fn timeouts() {
        assert!(Timeout::from_ms(-2).is_err());
        let t = Timeout::from_ms(0).unwrap();
        let r: Result<()> = block_on(t.run("x", std::future::pending())).unwrap();
        assert_eq!(r.unwrap_err().kind(), streamkit_core::ErrorKind::Timeout);
        let t = Timeout::from_ms(0).unwrap();
        let r = block_on(t.run("x", async { Ok(5) })).unwrap();
        assert_eq!(r.unwrap(), 5);
        let t = Timeout::from_ms(30).unwrap();
        let start = std::time::Instant::now();
        let r: Result<()> = block_on(t.run("x", std::future::pending())).unwrap();
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
