//! `streamkit._streamkit`: the pyo3 extension behind the `streamkit` Python
//! package. It wraps `streamkit_core` directly (Rust to Rust, not the C ABI).
//!
//! Organization:
//! * `runtime` — the hidden tokio runtime and `block`, the single helper every
//!   blocking call goes through (GIL-held fast path, then GIL released with
//!   periodic signal checks).
//! * `exceptions` / `errors` — the exception classes and the one mapping from
//!   `streamkit_core::Error`.
//! * `args` / `buffer` — argument conversion with clear TypeErrors; zero-copy
//!   bytes-like input.
//! * `shared` — argument parsing and core calls used by both the blocking and
//!   the asyncio classes (read sizes, open/join arguments, peer options).
//! * `peer` / `channel` — the `Peer`, `Channel` and `ChannelMeta` classes.
//! * `stats` — `ChannelStats` and `ConnStats`, shared by both APIs.
//! * `fdstream` — the tokio stream over a dup'ed fd used by `Channel.join`.
//! * `aio` — the asyncio classes behind `streamkit.aio` (pyo3-async-runtimes).

use pyo3::prelude::*;
use streamkit_core::PeerOption;

mod aio;
mod args;
mod buffer;
mod channel;
mod errors;
mod event;
mod exceptions;
mod fdstream;
mod peer;
mod runtime;
mod shared;
mod stats;

/// generate_key() -> str
///
/// A new ed25519 private key as OpenSSH PEM text, usable as a Peer's
/// private_key. Get its public half with public_key(key).
#[pyfunction]
fn generate_key(py: Python<'_>) -> String {
    py.detach(streamkit_core::generate_key)
}

/// public_key(private_key) -> str
///
/// The OpenSSH public key line of a private key (a path such as
/// ~/.ssh/id_ed25519, or the key text from generate_key()): the line to put
/// in the other side's authorized_keys. Raises InvalidArgument for a key
/// that does not load.
#[pyfunction]
fn public_key(py: Python<'_>, private_key: &Bound<'_, PyAny>) -> PyResult<String> {
    let key = args::string_or_path("public_key", "private_key", private_key)?;
    py.detach(|| streamkit_core::public_key_of(&key))
        .map_err(|e| errors::to_py(py, e))
}

#[pymodule]
fn _streamkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(public_key, m)?)?;
    m.add_class::<peer::PyPeer>()?;
    m.add_class::<channel::PyChannel>()?;
    m.add_class::<channel::ChannelMeta>()?;
    m.add_class::<stats::ChannelStats>()?;
    m.add_class::<stats::ConnStats>()?;
    m.add_class::<event::PyEvent>()?;
    exceptions::register(m)?;
    aio::register(m)?;
    for opt in PeerOption::ALL {
        m.add(format!("OPT_{}", opt.name()).as_str(), opt as i32)?;
    }
    Ok(())
}
