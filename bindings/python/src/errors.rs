//! The single mapping from `streamkit_core::Error` to Python exceptions.

use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use streamkit_core::{Error, ErrorKind};

use crate::exceptions;

fn raise(
    py: Python<'_>,
    pick: impl FnOnce(&exceptions::Exceptions) -> &Py<pyo3::types::PyType>,
    msg: String,
) -> PyErr {
    match exceptions::get(py) {
        Ok(x) => PyErr::from_type(pick(x).bind(py).clone(), msg),
        Err(e) => {
            PyRuntimeError::new_err(format!("{msg} (and streamkit exceptions unavailable: {e})"))
        }
    }
}

/// Map a core error onto the exception hierarchy, keeping the core's message.
///
/// Kinds with a dedicated class carry the bare message (the class names the
/// kind); I/O, internal and unexpected end-of-stream errors become the base
/// `streamkit.Error` with the core's full text ("I/O error: ...").
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.message().to_owned();
    match e.kind() {
        ErrorKind::Invalid => raise(py, |x| &x.invalid, msg),
        ErrorKind::Closed => raise(py, |x| &x.closed, msg),
        ErrorKind::Timeout => raise(py, |x| &x.timeout, msg),
        ErrorKind::NoPeer => raise(py, |x| &x.no_peer, msg),
        ErrorKind::Auth => raise(py, |x| &x.auth, msg),
        ErrorKind::Protocol => raise(py, |x| &x.protocol, msg),
        ErrorKind::Io | ErrorKind::Eof | ErrorKind::Internal => {
            raise(py, |x| &x.error, e.to_string())
        }
    }
}

/// `streamkit.TimeoutError` for a call-level timeout.
pub(crate) fn timeout(py: Python<'_>, what: &str, after: Duration) -> PyErr {
    raise(
        py,
        |x| &x.timeout,
        format!("{what} timed out after {} s", after.as_secs_f64()),
    )
}

/// `streamkit.InvalidArgument` (also a ValueError) raised by the binding itself.
pub(crate) fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, |x| &x.invalid, msg.into())
}

/// `streamkit.ClosedError` raised by the binding itself.
pub(crate) fn closed(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, |x| &x.closed, msg.into())
}

/// Whether `e` is a `streamkit.ClosedError`.
pub(crate) fn is_closed(py: Python<'_>, e: &PyErr) -> bool {
    exceptions::get(py)
        .map(|x| e.is_instance(py, x.closed.bind(py).as_any()))
        .unwrap_or(false)
}
