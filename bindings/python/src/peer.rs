//! `streamkit.Peer`.

use pyo3::prelude::*;
use pyo3::types::PyType;
use streamkit_core::Peer;

use crate::args;
use crate::channel::PyChannel;
use crate::errors;
use crate::runtime::{block, InRt, Op};
use crate::shared;

/// A streamkit peer: binds and/or connects like a ZeroMQ socket; every
/// connection is a mutually authenticated SSH connection, and channels are
/// opened to (or accepted from) connected peers by name.
///
/// Peer(name=None, private_key=None, authorized_keys=None, known_hosts=None,
///      reconnect_interval=None, reconnect_interval_max=None,
///      connect_timeout=None, max_frame_size=None, *, keepalive_interval=None,
///      keepalive_count=None, handshake_timeout=None, max_channels=None,
///      channel_window=None, accept_backlog=None, window_budget=None,
///      max_connections_per_key=None)
///
/// One keyword per option (OPT_* in lower case); every argument left as None
/// keeps the core default. Durations are seconds (float or int), like every
/// timeout= argument:
///
/// * name (str): this peer's name; default a random UUID.
/// * private_key (str | PathLike): path to an OpenSSH/PEM private key file, or
///   the key text itself (e.g. from generate_key()); default ~/.ssh/id_ed25519,
///   then ~/.ssh/id_rsa, else a fresh in-memory ed25519 key.
/// * authorized_keys (str | PathLike): path to an authorized_keys file or its
///   text; the public keys trusted in both directions (plus our own).
///   Default ~/.ssh/authorized_keys.
/// * known_hosts (str | PathLike): when set, servers we connect to must match it.
/// * reconnect_interval (seconds): delay between connection attempts
///   (default 0.1; -1 = never retry).
/// * reconnect_interval_max (seconds): 0 = constant interval with jitter, else
///   exponential backoff capped at this value.
/// * connect_timeout (seconds): how long connect() keeps trying (default 10).
/// * max_frame_size (int, bytes): largest frame read_frame() accepts (default 16 MiB).
/// * keepalive_interval (seconds): keepalive probe interval on idle
///   connections (default 15; 0 = off); keepalive_count (int): unanswered
///   probes before a connection is declared dead (default 3).
/// * handshake_timeout (seconds): SSH handshake + authentication + hello (default 10).
/// * max_channels, channel_window, accept_backlog, window_budget (int): see
///   the OPT_* constants of the same names.
/// * max_connections_per_key (int): most connections one remote key may hold
///   at once to this peer as a server (default 0 = no limit).
///
/// set_option()/get_option() keep the C units (integers in milliseconds or
/// bytes).
///
/// A Peer is a context manager: leaving the `with` block shuts it down. A Peer
/// that is garbage-collected without shutdown() is shut down and releases its
/// sockets and tasks. All methods are thread-safe; blocking calls release the
/// GIL and can be interrupted with Ctrl-C (KeyboardInterrupt).
#[pyclass(module = "streamkit", name = "Peer", frozen, weakref)]
pub(crate) struct PyPeer {
    inner: InRt<Peer>,
}

#[pymethods]
impl PyPeer {
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
        Ok(PyPeer {
            inner: InRt::new(peer),
        })
    }

    /// set_option(option, value) -> None
    ///
    /// Set an option (one of the OPT_* constants). String options (OPT_NAME,
    /// OPT_PRIVATE_KEY, OPT_AUTHORIZED_KEYS, OPT_KNOWN_HOSTS) take a str (key
    /// and host options also accept a path-like object); every other option
    /// takes an int (milliseconds, bytes or a count).
    /// Raises InvalidArgument for an unknown option or a bad value.
    fn set_option(
        &self,
        py: Python<'_>,
        option: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        shared::set_option(py, &self.inner, option, value)
    }

    /// get_option(option) -> str | int
    ///
    /// The current value of an option (one of the OPT_* constants): a str for
    /// string options, an int otherwise. Unset key options read as "".
    fn get_option(&self, py: Python<'_>, option: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        shared::get_option(py, &self.inner, option)
    }

    /// This peer's public key, one OpenSSH line ("ssh-ed25519 AAAA...").
    /// Give it to other peers as (part of) their authorized_keys.
    #[getter]
    fn public_key(&self, py: Python<'_>) -> PyResult<String> {
        shared::public_key(py, &self.inner)
    }

    /// This peer's name (option OPT_NAME).
    #[getter]
    fn name(&self) -> String {
        self.inner.name()
    }

    /// bind(endpoint) -> str
    ///
    /// Listen on an endpoint: "tcp://HOST:PORT" (PORT 0 picks a free port),
    /// "unix:///abs/path" or "inproc://NAME". Returns the endpoint actually
    /// bound (with the real port). Raises InvalidArgument for a bad endpoint.
    fn bind(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<String> {
        let ep = args::string("Peer.bind", "endpoint", endpoint)?;
        block(
            py,
            Op::new("Peer.bind"),
            self.inner.live(py, "Peer.bind")?.bind(&ep),
        )
    }

    /// unbind(endpoint) -> None
    ///
    /// Stop listening on an endpoint previously returned by bind().
    fn unbind(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<()> {
        let ep = args::string("Peer.unbind", "endpoint", endpoint)?;
        block(
            py,
            Op::new("Peer.unbind"),
            self.inner.live(py, "Peer.unbind")?.unbind(&ep),
        )
    }

    /// connect(endpoint) -> None
    ///
    /// Connect to a bound peer and authenticate both ways. Returns once both
    /// sides know each other's name. Retries every RECONNECT_INTERVAL until
    /// CONNECT_TIMEOUT, then raises TimeoutError; an untrusted key raises
    /// AuthError. The connection is re-established in the background if it drops.
    fn connect(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<()> {
        let ep = args::string("Peer.connect", "endpoint", endpoint)?;
        block(
            py,
            Op::new("Peer.connect"),
            self.inner.live(py, "Peer.connect")?.connect(&ep),
        )
    }

    /// connect_fd(sock_or_fd) -> str
    ///
    /// Run the SSH client side of a connection over an already-connected
    /// socket (or anything with fileno(), or an fd number: a socketpair end,
    /// a pipe-like descriptor) and return the remote peer's name once both
    /// sides know each other. Trust, keepalive and channels work as over
    /// tcp://. The descriptor is duplicated: your object stays yours to
    /// close. A lost connection is not re-established (a descriptor cannot
    /// be reopened). Raises AuthError for an untrusted key, TimeoutError
    /// after HANDSHAKE_TIMEOUT.
    fn connect_fd(&self, py: Python<'_>, sock_or_fd: &Bound<'_, PyAny>) -> PyResult<String> {
        let io = shared::fd_stream(py, "Peer.connect_fd", sock_or_fd)?;
        block(
            py,
            Op::new("Peer.connect_fd"),
            self.inner.live(py, "Peer.connect_fd")?.connect_stream(io),
        )
    }

    /// serve_fd(sock_or_fd) -> str
    ///
    /// Run the SSH server side of a connection over a connected socket or
    /// fd, as if bind() had accepted it (for inetd, systemd socket
    /// activation, or a child spawned with a socketpair), and return the
    /// client's name once the names are exchanged. The client's key must be
    /// in AUTHORIZED_KEYS; a descriptor has no source address, so a from=
    /// line never admits it. The descriptor is duplicated as for connect_fd.
    fn serve_fd(&self, py: Python<'_>, sock_or_fd: &Bound<'_, PyAny>) -> PyResult<String> {
        let io = shared::fd_stream(py, "Peer.serve_fd", sock_or_fd)?;
        block(
            py,
            Op::new("Peer.serve_fd"),
            self.inner.live(py, "Peer.serve_fd")?.serve_stream(io),
        )
    }

    /// disconnect(endpoint) -> None
    ///
    /// Close the connection made by connect(endpoint) and stop reconnecting.
    fn disconnect(&self, py: Python<'_>, endpoint: &Bound<'_, PyAny>) -> PyResult<()> {
        let ep = args::string("Peer.disconnect", "endpoint", endpoint)?;
        block(
            py,
            Op::new("Peer.disconnect"),
            self.inner.live(py, "Peer.disconnect")?.disconnect(&ep),
        )
    }

    /// peers() -> list[str]
    ///
    /// Names of the currently connected peers, sorted.
    fn peers(&self) -> Vec<String> {
        self.inner.peers()
    }

    /// stats() -> list[ConnStats]
    ///
    /// One entry per established connection: remote name, endpoint,
    /// fingerprint, bytes each way, open channels, last round trip and time
    /// connected. Does not block.
    fn stats(&self) -> Vec<crate::stats::ConnStats> {
        crate::stats::peer_stats(&self.inner)
    }

    /// fileno() -> int
    ///
    /// A descriptor for selectors / select / poll, level-triggered:
    /// readable exactly while accept(timeout=0) or next_event(timeout=0)
    /// would return a channel or an event (or the peer is shut down). After
    /// a wake-up try both. The descriptor belongs to the peer: never read,
    /// write or close it.
    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let p = self.inner.live(py, "Peer.fileno")?;
        p.poll_fd().map_err(|e| errors::to_py(py, e))
    }

    /// drop(name) -> None
    ///
    /// Close the connection to the named peer. Raises NoPeerError if there is
    /// no such peer.
    fn drop(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = args::string("Peer.drop", "name", name)?;
        block(
            py,
            Op::new("Peer.drop"),
            self.inner.live(py, "Peer.drop")?.drop_peer(&name),
        )
    }

    /// next_peer() -> str | None
    ///
    /// The next connected peer in round-robin order, or None if there is none.
    fn next_peer(&self) -> Option<String> {
        self.inner.next_peer()
    }

    /// accept(timeout=None) -> Channel
    ///
    /// Wait for a channel opened by a remote peer. timeout is in seconds
    /// (float); None waits forever. Raises TimeoutError when it passes and
    /// ClosedError once the peer is shut down (also for callers already
    /// waiting in another thread).
    #[pyo3(signature = (timeout=None))]
    fn accept(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<PyChannel> {
        let t = args::timeout("Peer.accept", timeout)?;
        let ch = block(
            py,
            Op::fast("Peer.accept", t),
            self.inner.live(py, "Peer.accept")?.accept(),
        )?;
        Ok(PyChannel::new(ch))
    }

    /// next_event(timeout=None) -> Event | None
    ///
    /// The next event about this peer's connections (see Event). timeout is
    /// in seconds (float); None waits forever. Returns None when the timeout
    /// passes, and once the peer is shut down and the events queued before
    /// were taken. Releases the GIL while waiting; interruptible by signals.
    /// Events wait in a bounded queue (256) that never slows I/O; when it is
    /// full the newest are dropped and reported as one "overflow" event.
    #[pyo3(signature = (timeout=None))]
    fn next_event(
        &self,
        py: Python<'_>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let t = args::timeout("Peer.next_event", timeout)?;
        let p = self.inner.live(py, "Peer.next_event")?.clone();
        // The timeout runs inside the future: when it passes the result is
        // None, not TimeoutError.
        let e = block(py, Op::fast("Peer.next_event", None), async move {
            Ok(match t {
                Some(d) => tokio::time::timeout(d, p.next_event()).await.ok().flatten(),
                None => p.next_event().await,
            })
        })?;
        crate::event::to_py(py, e)
    }

    /// open(peer, service, headers=()) -> Channel
    ///
    /// Open a channel to the connected peer named `peer` for `service`, with
    /// "key=value" headers (a list or tuple of str, or a dict of str to str).
    /// Raises NoPeerError if no such peer is connected.
    #[pyo3(signature = (peer, service, headers=None), text_signature = "(self, peer, service, headers=())")]
    fn open(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
        service: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyChannel> {
        let peer = args::string("Peer.open", "peer", peer)?;
        let (service, headers) = shared::service_headers("Peer.open", service, headers)?;
        let ch = block(
            py,
            Op::new("Peer.open"),
            self.inner
                .live(py, "Peer.open")?
                .open(&peer, &service, &headers),
        )?;
        Ok(PyChannel::new(ch))
    }

    /// shutdown() -> None
    ///
    /// Close every connection, listener and channel of this peer and unblock
    /// every call waiting on them (they raise ClosedError). A second
    /// shutdown() raises ClosedError.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        block(
            py,
            Op::new("Peer.shutdown"),
            self.inner.live(py, "Peer.shutdown")?.shutdown(),
        )
    }

    /// True once shutdown() has been called.
    #[getter]
    fn is_shutdown(&self) -> bool {
        self.inner.is_shutdown()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Shut the peer down (unless already shut down); exceptions propagate.
    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyType>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if !self.inner.is_shutdown() {
            match self.shutdown(py) {
                Ok(()) => {}
                // Raced with another shutdown: the peer is down, which is what we want.
                Err(e) if errors::is_closed(py, &e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<streamkit.Peer name={:?}{}>",
            self.inner.name(),
            if self.inner.is_shutdown() {
                " shut down"
            } else {
                ""
            }
        )
    }
}
