//! The exception hierarchy: `streamkit.Error` and its subclasses.
//!
//! Two of them also derive from a builtin (`TimeoutError` from the builtin
//! `TimeoutError`, `InvalidArgument` from `ValueError`), which needs multiple
//! inheritance, so every class is created with `type(name, bases, ns)` at module
//! initialisation and kept in a [`PyOnceLock`].

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pub(crate) struct Exceptions {
    pub error: Py<PyType>,
    pub closed: Py<PyType>,
    pub timeout: Py<PyType>,
    pub no_peer: Py<PyType>,
    pub auth: Py<PyType>,
    pub protocol: Py<PyType>,
    pub invalid: Py<PyType>,
}

static EXC: PyOnceLock<Exceptions> = PyOnceLock::new();

fn make<'py>(
    py: Python<'py>,
    name: &str,
    bases: Vec<Bound<'py, PyAny>>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "streamkit")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let ty = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

fn build(py: Python<'_>) -> PyResult<Exceptions> {
    let builtins = py.import("builtins")?;
    let error = make(
        py,
        "Error",
        vec![builtins.getattr("Exception")?],
        "Base class of every error raised by streamkit.",
    )?;
    let e = || error.bind(py).clone().into_any();
    Ok(Exceptions {
        closed: make(
            py,
            "ClosedError",
            vec![e()],
            "The peer or channel is closed, or was shut down while the call was waiting.",
        )?,
        timeout: make(
            py,
            "TimeoutError",
            vec![e(), builtins.getattr("TimeoutError")?],
            "The call's timeout (or the peer's CONNECT_TIMEOUT) passed first.\n\n\
             Also a subclass of the builtin TimeoutError.",
        )?,
        no_peer: make(
            py,
            "NoPeerError",
            vec![e()],
            "No connected peer matches the request.",
        )?,
        auth: make(
            py,
            "AuthError",
            vec![e()],
            "Authentication failed: the remote key (client or host key) is not trusted, \
             or the remote side rejected ours.",
        )?,
        protocol: make(
            py,
            "ProtocolError",
            vec![e()],
            "The remote side broke the streamkit protocol (for example a frame larger \
             than MAX_FRAME_SIZE).",
        )?,
        invalid: make(
            py,
            "InvalidArgument",
            vec![e(), builtins.getattr("ValueError")?],
            "A malformed argument value (endpoint, key, option value, ...).\n\n\
             Also a subclass of ValueError.",
        )?,
        error,
    })
}

pub(crate) fn get(py: Python<'_>) -> PyResult<&Exceptions> {
    EXC.get_or_try_init(py, || build(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let x = get(py)?;
    m.add("Error", x.error.bind(py))?;
    m.add("ClosedError", x.closed.bind(py))?;
    m.add("TimeoutError", x.timeout.bind(py))?;
    m.add("NoPeerError", x.no_peer.bind(py))?;
    m.add("AuthError", x.auth.bind(py))?;
    m.add("ProtocolError", x.protocol.bind(py))?;
    m.add("InvalidArgument", x.invalid.bind(py))?;
    Ok(())
}
