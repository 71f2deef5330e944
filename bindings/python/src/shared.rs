//! Argument handling and core calls shared by the blocking classes
//! (`peer`/`channel`) and the asyncio classes (`aio`), so both parse the same
//! arguments the same way and raise the same errors.

use pyo3::prelude::*;
use streamkit_core::{Error, Peer, PeerOption};

use crate::args;
use crate::errors;
use crate::fdstream::FdStream;
use crate::runtime;

/// Largest single read() allocation; read(n) returns at most this many bytes.
pub(crate) const MAX_READ: usize = 16 << 20;

/// The byte count a read(n=...) asks for: 65536 when not given, at most [`MAX_READ`].
pub(crate) fn read_len(
    py: Python<'_>,
    func: &str,
    n: Option<&Bound<'_, PyAny>>,
) -> PyResult<usize> {
    let Some(n) = n else { return Ok(65536) };
    let v = args::int(func, "n", n)?;
    if v < 0 {
        return Err(errors::invalid(
            py,
            format!("{func}() argument 'n' must be >= 0, not {v}"),
        ));
    }
    Ok((v as u64).min(MAX_READ as u64) as usize)
}

/// Read buffers up to this size are kept for the thread's next read.
const SCRATCH_KEEP: usize = 1 << 20;

thread_local! {
    /// This thread's reusable read buffer (see [`scratch`]).
    static SCRATCH: std::cell::Cell<Option<Vec<u8>>> = const { std::cell::Cell::new(None) };
}

/// A buffer of `n` bytes to read into, reused across this thread's reads so
/// a read(n) does not allocate and zero `n` bytes each time; its contents are
/// whatever an earlier read left. Hand it back with [`scratch_done`]. (A
/// re-entrant read, e.g. from a signal handler, simply gets a new buffer.)
pub(crate) fn scratch(n: usize) -> Vec<u8> {
    let mut v = SCRATCH.take().unwrap_or_default();
    if v.len() < n {
        v.resize(n, 0);
    }
    v
}

/// Return a buffer from [`scratch`] for the thread's next read.
pub(crate) fn scratch_done(v: Vec<u8>) {
    if v.len() <= SCRATCH_KEEP {
        SCRATCH.set(Some(v));
    }
}

/// A clean end of stream (`Error::Eof`) as `None`.
pub(crate) fn eof_as_none<T>(
    r: streamkit_core::Result<Option<T>>,
) -> streamkit_core::Result<Option<T>> {
    match r {
        Err(Error::Eof) => Ok(None),
        r => r,
    }
}

/// A clean end of stream (`Error::Eof`) as a read of 0 bytes.
pub(crate) fn eof_as_zero(r: streamkit_core::Result<usize>) -> streamkit_core::Result<usize> {
    match r {
        Err(Error::Eof) => Ok(0),
        r => r,
    }
}

/// `service` and optional `headers` of an open() call.
pub(crate) fn service_headers(
    func: &str,
    service: &Bound<'_, PyAny>,
    headers: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, Vec<String>)> {
    let service = args::string(func, "service", service)?;
    let headers = match headers {
        Some(h) => args::string_list(func, "headers", h)?,
        None => Vec::new(),
    };
    Ok((service, headers))
}

/// The socket argument of join(), duplicated into a tokio stream.
pub(crate) fn join_stream(
    py: Python<'_>,
    func: &str,
    sock: &Bound<'_, PyAny>,
) -> PyResult<FdStream> {
    let fd = args::fileno(func, "sock", sock)?;
    let _rt = runtime::enter();
    FdStream::dup(fd).map_err(|e| errors::to_py(py, e.into()))
}

/// The `sock_or_fd` argument of connect_fd()/serve_fd(), duplicated into a
/// tokio stream.
pub(crate) fn fd_stream(py: Python<'_>, func: &str, sock: &Bound<'_, PyAny>) -> PyResult<FdStream> {
    let fd = args::fileno(func, "sock_or_fd", sock)?;
    let _rt = runtime::enter();
    FdStream::dup(fd).map_err(|e| errors::to_py(py, e.into()))
}

// ------------------------------------------------------------------ peer options

/// The `option` argument of set_option/get_option.
fn option_from(py: Python<'_>, func: &str, opt: &Bound<'_, PyAny>) -> PyResult<PeerOption> {
    let v = args::int(func, "option", opt)?;
    let v = i32::try_from(v).map_err(|_| errors::invalid(py, format!("unknown option {v}")))?;
    PeerOption::from_i32(v).map_err(|e| errors::to_py(py, e))
}

/// Set one option from a Python value (str / PathLike for string options, int otherwise).
fn set_value(
    py: Python<'_>,
    peer: &Peer,
    func: &str,
    param: &str,
    opt: PeerOption,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let r = if opt.is_string() {
        let v = if matches!(opt, PeerOption::Name) {
            args::string(func, param, value)?
        } else {
            args::string_or_path(func, param, value)?
        };
        peer.set_option_str(opt, &v)
    } else {
        let v = args::int(func, param, value)?;
        peer.set_option_int(opt, v)
    };
    r.map_err(|e| errors::to_py(py, e))
}

/// Peer.set_option(option, value).
pub(crate) fn set_option(
    py: Python<'_>,
    peer: &Peer,
    option: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let opt = option_from(py, "Peer.set_option", option)?;
    set_value(py, peer, "Peer.set_option", "value", opt, value)
}

/// Peer.get_option(option): a str for string options, else an int.
pub(crate) fn get_option(
    py: Python<'_>,
    peer: &Peer,
    option: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let opt = option_from(py, "Peer.get_option", option)?;
    if opt.is_string() {
        let v = peer.get_option_str(opt).map_err(|e| errors::to_py(py, e))?;
        Ok(v.into_pyobject(py)?.into_any().unbind())
    } else {
        let v = peer.get_option_int(opt).map_err(|e| errors::to_py(py, e))?;
        Ok(v.into_pyobject(py)?.into_any().unbind())
    }
}

/// Peer.public_key.
pub(crate) fn public_key(py: Python<'_>, peer: &Peer) -> PyResult<String> {
    peer.public_key().map_err(|e| errors::to_py(py, e))
}

/// The keyword options of the Peer constructors, in signature order: each
/// option's name in lower case. Durations are float (or int) seconds here;
/// set_option/get_option keep the C units (milliseconds).
#[derive(Default)]
pub(crate) struct PeerOptions<'a, 'py> {
    pub name: Option<&'a Bound<'py, PyAny>>,
    pub private_key: Option<&'a Bound<'py, PyAny>>,
    pub authorized_keys: Option<&'a Bound<'py, PyAny>>,
    pub known_hosts: Option<&'a Bound<'py, PyAny>>,
    pub reconnect_interval: Option<&'a Bound<'py, PyAny>>,
    pub reconnect_interval_max: Option<&'a Bound<'py, PyAny>>,
    pub connect_timeout: Option<&'a Bound<'py, PyAny>>,
    pub max_frame_size: Option<&'a Bound<'py, PyAny>>,
    pub keepalive_interval: Option<&'a Bound<'py, PyAny>>,
    pub keepalive_count: Option<&'a Bound<'py, PyAny>>,
    pub handshake_timeout: Option<&'a Bound<'py, PyAny>>,
    pub max_channels: Option<&'a Bound<'py, PyAny>>,
    pub channel_window: Option<&'a Bound<'py, PyAny>>,
    pub accept_backlog: Option<&'a Bound<'py, PyAny>>,
    pub window_budget: Option<&'a Bound<'py, PyAny>>,
    pub max_connections_per_key: Option<&'a Bound<'py, PyAny>>,
}

/// Whether a constructor keyword is a duration (seconds, stored as ms).
fn is_duration(opt: PeerOption) -> bool {
    matches!(
        opt,
        PeerOption::ReconnectInterval
            | PeerOption::ReconnectIntervalMax
            | PeerOption::ConnectTimeout
            | PeerOption::KeepaliveInterval
            | PeerOption::HandshakeTimeout
    )
}

/// A duration keyword in seconds (`float` or `int`) as the core's
/// milliseconds. `reconnect_interval=-1` keeps its meaning: never retry.
fn duration_ms(func: &str, param: &str, opt: PeerOption, obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(args::type_error(func, param, "float or int (seconds)", obj));
    }
    let secs: f64 = obj.extract()?;
    if matches!(opt, PeerOption::ReconnectInterval) && secs == -1.0 {
        return Ok(-1);
    }
    const MAX_SECS: f64 = 86_400.0;
    if !secs.is_finite() || !(0.0..=MAX_SECS).contains(&secs) {
        let never = if matches!(opt, PeerOption::ReconnectInterval) {
            " (or -1: never retry)"
        } else {
            ""
        };
        return Err(errors::invalid(
            obj.py(),
            format!("{func}() argument '{param}' must be 0 to 86400 seconds{never}, not {secs}"),
        ));
    }
    Ok((secs * 1000.0).round() as i64)
}

impl PeerOptions<'_, '_> {
    /// Apply every option that is given and not None (errors name "Peer" and the keyword).
    pub(crate) fn apply(&self, py: Python<'_>, peer: &Peer) -> PyResult<()> {
        use PeerOption as O;
        let opts = [
            ("name", O::Name, self.name),
            ("private_key", O::PrivateKey, self.private_key),
            ("authorized_keys", O::AuthorizedKeys, self.authorized_keys),
            ("known_hosts", O::KnownHosts, self.known_hosts),
            (
                "reconnect_interval",
                O::ReconnectInterval,
                self.reconnect_interval,
            ),
            (
                "reconnect_interval_max",
                O::ReconnectIntervalMax,
                self.reconnect_interval_max,
            ),
            ("connect_timeout", O::ConnectTimeout, self.connect_timeout),
            ("max_frame_size", O::MaxFrameSize, self.max_frame_size),
            (
                "keepalive_interval",
                O::KeepaliveInterval,
                self.keepalive_interval,
            ),
            ("keepalive_count", O::KeepaliveCount, self.keepalive_count),
            (
                "handshake_timeout",
                O::HandshakeTimeout,
                self.handshake_timeout,
            ),
            ("max_channels", O::MaxChannels, self.max_channels),
            ("channel_window", O::ChannelWindow, self.channel_window),
            ("accept_backlog", O::AcceptBacklog, self.accept_backlog),
            ("window_budget", O::WindowBudget, self.window_budget),
            (
                "max_connections_per_key",
                O::MaxConnectionsPerKey,
                self.max_connections_per_key,
            ),
        ];
        for (param, opt, value) in opts {
            let Some(v) = value.filter(|v| !v.is_none()) else {
                continue;
            };
            if is_duration(opt) {
                let ms = duration_ms("Peer", param, opt, v)?;
                peer.set_option_int(opt, ms)
                    .map_err(|e| errors::to_py(py, e))?;
            } else {
                set_value(py, peer, "Peer", param, opt, v)?;
            }
        }
        Ok(())
    }
}

/// A new core peer with the constructor's options applied. Created (and, on a
/// bad option, dropped) inside the runtime's context.
pub(crate) fn new_peer(py: Python<'_>, opts: PeerOptions<'_, '_>) -> PyResult<Peer> {
    let _rt = runtime::enter();
    let peer = Peer::new();
    opts.apply(py, &peer)?;
    Ok(peer)
}
