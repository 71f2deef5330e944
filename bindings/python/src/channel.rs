//! `streamkit.Channel` and `streamkit.ChannelMeta`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use streamkit_core::Channel;

use crate::args;
use crate::buffer::ByteView;
use crate::errors;
use crate::runtime::{block, InRt, Op};
use crate::shared::{self, eof_as_none, eof_as_zero};

/// A bidirectional stream tunnelled through an SSH connection to a peer.
///
/// A channel carries a byte stream (read/write), length-prefixed message
/// frames on that same stream (read_frame/write_frame), error frames on a
/// separate stream (read_error/write_error) and trailers sent before close.
/// It can open and accept child channels. Iterating over a channel yields
/// frames until the remote side closes it. A channel is a context manager
/// (close on exit) and is closed when garbage-collected.
///
/// Channels are returned by Peer.open(), Peer.accept(), Channel.open() and
/// Channel.accept(); they cannot be created directly. All methods are
/// thread-safe; blocking calls release the GIL and can be interrupted with
/// Ctrl-C (KeyboardInterrupt).
#[pyclass(module = "streamkit", name = "Channel", frozen, weakref)]
pub(crate) struct PyChannel {
    inner: InRt<Channel>,
}

impl PyChannel {
    pub(crate) fn new(ch: Channel) -> Self {
        PyChannel {
            inner: InRt::new(ch),
        }
    }
}

#[pymethods]
impl PyChannel {
    /// The channel's metadata (service, headers, trailers, local_peer,
    /// remote_peer) as a ChannelMeta.
    #[getter]
    fn meta(slf: &Bound<'_, Self>) -> ChannelMeta {
        let ch = &slf.get().inner;
        ChannelMeta {
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
    /// What this channel has moved and where it stalled: bytes and frames
    /// each way, bytes buffered unread, the receive window, and how long
    /// writers waited for credit (send_blocked_ms) and data sat unread
    /// (recv_unread_ms). Does not block.
    fn stats(&self) -> crate::stats::ChannelStats {
        self.inner.stats().into()
    }

    /// fileno() -> int
    ///
    /// A descriptor for selectors / select / poll, level-triggered:
    /// readable exactly while read(), read_frame() or read_error() with
    /// timeout=0 would return instead of raising TimeoutError (data or an
    /// error frame is waiting, or the channel has ended; an ended channel
    /// stays readable). What counts as data follows the last read: after
    /// read_frame(), a whole frame; otherwise any byte. The descriptor
    /// belongs to the channel: never read, write or close it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let ch = self.inner.live(py, "Channel.fileno")?;
        ch.poll_fd().map_err(|e| errors::to_py(py, e))
    }

    /// True once the channel has fully ended: closed (or closed for writing)
    /// by both sides, or its connection or peer is gone.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// read(n=65536, timeout=None) -> bytes
    ///
    /// Read up to n bytes of the byte stream, waiting until at least one is
    /// available. Returns b"" at end of stream (the remote side closed or
    /// called close_write()). timeout is in seconds; None waits forever.
    #[pyo3(signature = (n=None, timeout=None), text_signature = "(self, n=65536, timeout=None)")]
    fn read<'py>(
        &self,
        py: Python<'py>,
        n: Option<&Bound<'py, PyAny>>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let n = shared::read_len(py, "Channel.read", n)?;
        let t = args::timeout("Channel.read", timeout)?;
        if n == 0 {
            return Ok(PyBytes::new(py, b""));
        }
        let ch = self.inner.live(py, "Channel.read")?;
        let mut buf = shared::scratch(n);
        let r = block(py, Op::fast("Channel.read", t), async {
            eof_as_zero(ch.read(&mut buf[..n]).await)
        });
        let out = r.map(|got| PyBytes::new(py, &buf[..got]));
        shared::scratch_done(buf);
        out
    }

    /// readinto(buffer, timeout=None) -> int
    ///
    /// Like read(len(buffer)) but into a writable bytes-like object
    /// (bytearray, memoryview, ...) without allocating: returns the number of
    /// bytes stored, 0 at end of stream (or for an empty buffer).
    #[pyo3(signature = (buffer, timeout=None))]
    fn readinto(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let mut view = ByteView::get_mut("Channel.readinto", "buffer", buffer)?;
        let t = args::timeout("Channel.readinto", timeout)?;
        let buf = view.as_mut_slice();
        if buf.is_empty() {
            return Ok(0);
        }
        let ch = self.inner.live(py, "Channel.readinto")?;
        block(py, Op::fast("Channel.readinto", t), async {
            eof_as_zero(ch.read(buf).await)
        })
    }

    /// write(data) -> int
    ///
    /// Write all of data (any bytes-like object: bytes, bytearray, memoryview,
    /// ...) to the byte stream, without copying it in Python. Returns len(data).
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let view = ByteView::get("Channel.write", "data", data)?;
        let bytes = view.as_slice();
        block(
            py,
            Op::write("Channel.write"),
            self.inner.live(py, "Channel.write")?.write(bytes),
        )
    }

    /// write_frame(data) -> None
    ///
    /// Send one frame (4-byte big-endian length + payload) on the byte stream.
    /// data is any bytes-like object.
    fn write_frame(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let view = ByteView::get("Channel.write_frame", "data", data)?;
        let bytes = view.as_slice();
        block(
            py,
            Op::write("Channel.write_frame"),
            self.inner
                .live(py, "Channel.write_frame")?
                .write_frame(bytes),
        )
    }

    /// read_frame(timeout=None) -> bytes | None
    ///
    /// Receive the next frame; None at a clean end of stream. timeout is in
    /// seconds (None waits forever; 0 only returns an already-buffered frame).
    /// A frame larger than MAX_FRAME_SIZE raises ProtocolError and closes the
    /// channel. A frame that is already buffered is returned without releasing
    /// the GIL.
    #[pyo3(signature = (timeout=None))]
    fn read_frame<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let t = args::timeout("Channel.read_frame", timeout)?;
        let ch = self.inner.live(py, "Channel.read_frame")?;
        let f = block(py, Op::fast("Channel.read_frame", t), async {
            eof_as_none(ch.read_frame().await)
        })?;
        Ok(f.map(|b| PyBytes::new(py, &b)))
    }

    /// write_error(data) -> None
    ///
    /// Send an error frame on the channel's separate error stream (SSH
    /// extended data). data is any bytes-like object.
    fn write_error(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let view = ByteView::get("Channel.write_error", "data", data)?;
        let bytes = view.as_slice();
        block(
            py,
            Op::write("Channel.write_error"),
            self.inner
                .live(py, "Channel.write_error")?
                .write_error(bytes),
        )
    }

    /// read_error(timeout=None) -> bytes | None
    ///
    /// Receive the next error frame; None at end of stream. timeout is in
    /// seconds; None waits forever.
    #[pyo3(signature = (timeout=None))]
    fn read_error<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let t = args::timeout("Channel.read_error", timeout)?;
        let ch = self.inner.live(py, "Channel.read_error")?;
        let f = block(py, Op::fast("Channel.read_error", t), async {
            eof_as_none(ch.read_error().await)
        })?;
        Ok(f.map(|b| PyBytes::new(py, &b)))
    }

    /// close_write() -> None
    ///
    /// Half-close: tell the remote side we will write nothing more (its reads
    /// then reach end of stream). Reading stays possible.
    fn close_write(&self, py: Python<'_>) -> PyResult<()> {
        block(
            py,
            Op::new("Channel.close_write"),
            self.inner.live(py, "Channel.close_write")?.close_write(),
        )
    }

    /// write_trailers(trailers) -> None
    ///
    /// Send "key=value" trailers (a list of str, or a dict of str to str); the
    /// remote side can read them
    /// from meta.trailers once this side has closed (or closed for writing).
    fn write_trailers(&self, py: Python<'_>, trailers: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = args::string_list("Channel.write_trailers", "trailers", trailers)?;
        block(
            py,
            Op::new("Channel.write_trailers"),
            self.inner
                .live(py, "Channel.write_trailers")?
                .write_trailers(&t),
        )
    }

    /// close() -> None
    ///
    /// Close the channel in both directions. Calling it again does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        block(
            py,
            Op::new("Channel.close"),
            self.inner.live(py, "Channel.close")?.close(),
        )
    }

    /// open(service, headers=()) -> Channel
    ///
    /// Open a child channel inside this one ("channels of channels"); the
    /// remote side receives it with Channel.accept(). headers as for Peer.open().
    #[pyo3(signature = (service, headers=None), text_signature = "(self, service, headers=())")]
    fn open(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyChannel> {
        let (service, headers) = shared::service_headers("Channel.open", service, headers)?;
        let ch = block(
            py,
            Op::new("Channel.open"),
            self.inner
                .live(py, "Channel.open")?
                .open(&service, &headers),
        )?;
        Ok(PyChannel::new(ch))
    }

    /// accept(timeout=None) -> Channel
    ///
    /// Wait for a child channel opened by the remote side with Channel.open().
    /// timeout is in seconds; None waits forever.
    #[pyo3(signature = (timeout=None))]
    fn accept(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<PyChannel> {
        let t = args::timeout("Channel.accept", timeout)?;
        let ch = block(
            py,
            Op::fast("Channel.accept", t),
            self.inner.live(py, "Channel.accept")?.accept(),
        )?;
        Ok(PyChannel::new(ch))
    }

    /// join(sock) -> None
    ///
    /// Splice this channel's byte stream with a stream socket (or any object
    /// with fileno(), or an int fd) in both directions until both sides have
    /// ended, then close the channel. Blocks until done (the GIL is released).
    /// The descriptor is duplicated: the caller still owns and must close `sock`.
    fn join(&self, py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<()> {
        let stream = shared::join_stream(py, "Channel.join", sock)?;
        block(
            py,
            Op::new("Channel.join"),
            self.inner.live(py, "Channel.join")?.join(stream),
        )
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next frame; stops at end of stream.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.read_frame(py, None)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Close the channel; exceptions propagate.
    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<streamkit.Channel service={:?} {} -> {}{}>",
            self.inner.service(),
            self.inner.local_peer(),
            self.inner.remote_peer(),
            if self.inner.is_closed() {
                " closed"
            } else {
                ""
            }
        )
    }
}

/// A channel's metadata: service name, headers, trailers and the names of
/// both peers. `trailers` is read live from the channel: the remote side's
/// trailers appear once it has closed (or closed for writing).
#[pyclass(module = "streamkit", name = "ChannelMeta", frozen)]
pub(crate) struct ChannelMeta {
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
    channel: Py<PyChannel>,
}

#[pymethods]
impl ChannelMeta {
    /// The "key=value" trailers received from the remote side (empty until it
    /// has closed or closed for writing).
    #[getter]
    fn trailers(&self) -> Vec<String> {
        self.channel.get().inner.trailers()
    }

    /// The headers as a dict: `"key=value"` items split at the first `=`
    /// (an item without one maps to ""). A key given twice keeps its last
    /// value; `headers` keeps them all, in order.
    #[getter]
    fn headers_dict(&self) -> std::collections::HashMap<String, String> {
        to_dict(&self.headers)
    }

    /// The trailers as a dict, split like `headers_dict`.
    #[getter]
    fn trailers_dict(&self) -> std::collections::HashMap<String, String> {
        to_dict(&self.channel.get().inner.trailers())
    }

    fn __repr__(&self) -> String {
        format!(
            "ChannelMeta(service={:?}, headers={:?}, local_peer={:?}, remote_peer={:?})",
            self.service, self.headers, self.local_peer, self.remote_peer
        )
    }
}

/// `"key=value"` items as a dict (see `ChannelMeta.headers_dict`).
pub(crate) fn to_dict(items: &[String]) -> std::collections::HashMap<String, String> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect()
}
