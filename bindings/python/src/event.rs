//! `streamkit.Event`: what happened to a peer's connections
//! (`Peer.next_event`, `streamkit.aio.Peer.next_event`).

use pyo3::prelude::*;

/// An event about a peer's connections, from Peer.next_event().
///
/// kind is one of "connected", "disconnected", "reconnecting",
/// "auth_failed", "refused", "handshake_failed", "overflow". peer (the remote
/// peer's name), endpoint (the endpoint dialled, or on the accepting side the
/// remote's address), fingerprint (the remote key, "SHA256:...") and reason
/// (human text) are None when not known. For "disconnected" on the
/// connecting side the reason quotes the server's disconnect description;
/// "overflow" reports (in reason and dropped) events dropped because the
/// bounded queue was full.
#[pyclass(module = "streamkit", name = "Event", frozen)]
pub(crate) struct PyEvent {
    /// The kind of event (str).
    #[pyo3(get)]
    kind: &'static str,
    /// The remote peer's name, or None.
    #[pyo3(get)]
    peer: Option<String>,
    /// The endpoint dialled, or the remote's address, or None.
    #[pyo3(get)]
    endpoint: Option<String>,
    /// The remote key's SHA256 fingerprint, or None.
    #[pyo3(get)]
    fingerprint: Option<String>,
    /// Human-readable detail, or None.
    #[pyo3(get)]
    reason: Option<String>,
    /// "reconnecting": the number of the attempt about to be made, else None.
    #[pyo3(get)]
    attempt: Option<u32>,
    /// "reconnecting": seconds until that attempt, else None.
    #[pyo3(get)]
    delay: Option<f64>,
    /// "overflow": how many events were dropped, else 0.
    #[pyo3(get)]
    dropped: u64,
}

impl From<streamkit_core::Event> for PyEvent {
    fn from(e: streamkit_core::Event) -> PyEvent {
        PyEvent {
            kind: e.kind.as_str(),
            peer: e.peer,
            endpoint: e.endpoint,
            fingerprint: e.fingerprint,
            reason: e.reason,
            attempt: e.attempt,
            delay: e.delay.map(|d| d.as_secs_f64()),
            dropped: e.dropped,
        }
    }
}

#[pymethods]
impl PyEvent {
    fn __repr__(&self) -> String {
        let mut s = format!("Event(kind={:?}", self.kind);
        for (k, v) in [
            ("peer", &self.peer),
            ("endpoint", &self.endpoint),
            ("fingerprint", &self.fingerprint),
            ("reason", &self.reason),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(", {k}={v:?}"));
            }
        }
        s.push(')');
        s
    }
}

/// An event (or None) as a Python object.
pub(crate) fn to_py(py: Python<'_>, e: Option<streamkit_core::Event>) -> PyResult<Py<PyAny>> {
    match e {
        Some(e) => Ok(Py::new(py, PyEvent::from(e))?.into_any()),
        None => Ok(py.None()),
    }
}
