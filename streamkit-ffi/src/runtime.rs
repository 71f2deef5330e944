//! The hidden tokio runtime behind every blocking C call.
//!
//! One multi-thread runtime is built on first use with 2 worker threads, or
//! `STREAMKIT_THREADS` (1..=64) if that environment variable is set. Blocking
//! calls run their future with `Runtime::block_on` on the caller's own
//! thread, so C threads never hand work to a callback thread and results come
//! back in the calling thread (where `sk_last_error()` is read).

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use streamkit_core::{Error, Result};
use tokio::runtime::Runtime;

use crate::error::invalid;

/// Default number of runtime worker threads.
const DEFAULT_THREADS: usize = 2;

/// Worker threads for a `STREAMKIT_THREADS` value (unset or invalid: 2).
fn parse_threads(v: Option<&str>) -> usize {
    v.and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(DEFAULT_THREADS)
}

fn thread_count() -> usize {
    parse_threads(std::env::var("STREAMKIT_THREADS").ok().as_deref())
}

static RUNTIME: LazyLock<std::result::Result<Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(thread_count())
        .thread_name("streamkit-rt")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the streamkit runtime: {e}"))
});

/// The runtime, built on first use.
pub(crate) fn runtime() -> Result<&'static Runtime> {
    RUNTIME.as_ref().map_err(|e| Error::Io(e.clone()))
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
                Err(_) if self.1 == 0 => Err(Error::Timeout(format!(
                    "{what}: nothing available right now (timeout_ms = 0 polls)"
                ))),
                Err(_) => Err(Error::Timeout(format!("{what}: no result within {} ms", self.1))),
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

    #[test]
    fn thread_count_from_env_value() {
        assert_eq!(parse_threads(None), 2);
        assert_eq!(parse_threads(Some("1")), 1);
        assert_eq!(parse_threads(Some(" 8 ")), 8);
        assert_eq!(parse_threads(Some("0")), 2);
        assert_eq!(parse_threads(Some("65")), 2);
        assert_eq!(parse_threads(Some("many")), 2);
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
