//! `ChannelStats` and `ConnStats`: shared by the blocking and asyncio
//! classes (`Channel.stats()`, `Peer.stats()`).

use pyo3::prelude::*;

/// What one channel has moved and where it stalled (from `Channel.stats()`).
///
/// Durations are milliseconds (float). `send_blocked_ms` growing here while
/// `recv_unread_ms` grows on the other side: the remote application does
/// not read fast enough. `recv_unread_ms` growing here: this side does not.
#[pyclass(module = "streamkit", frozen, get_all)]
#[derive(Debug)]
pub(crate) struct ChannelStats {
    /// Bytes written by this side (byte stream, frames with their 4-byte
    /// headers, error frames).
    bytes_sent: u64,
    /// Bytes received from the remote, counted as they arrive.
    bytes_received: u64,
    /// Frames and error frames written.
    frames_sent: u64,
    /// Frames and error frames read by this side.
    frames_received: u64,
    /// Bytes received and not yet read (both streams).
    recv_buffered: usize,
    /// This side's current receive window on the data stream.
    recv_window: usize,
    /// Credit this side may still send on the data stream before it waits.
    send_credit: u64,
    /// Milliseconds during which at least one writer waited for the
    /// remote's credit.
    send_blocked_ms: f64,
    /// Milliseconds during which received data sat here unread.
    recv_unread_ms: f64,
}

impl From<streamkit_core::ChannelStats> for ChannelStats {
    fn from(s: streamkit_core::ChannelStats) -> Self {
        ChannelStats {
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            frames_sent: s.frames_sent,
            frames_received: s.frames_received,
            recv_buffered: s.recv_buffered,
            recv_window: s.recv_window,
            send_credit: s.send_credit,
            send_blocked_ms: s.send_blocked_ms,
            recv_unread_ms: s.recv_unread_ms,
        }
    }
}

#[pymethods]
impl ChannelStats {
    fn __repr__(&self) -> String {
        format!(
            "ChannelStats(bytes_sent={}, bytes_received={}, frames_sent={}, frames_received={}, recv_buffered={}, recv_window={}, send_credit={}, send_blocked_ms={:.3}, recv_unread_ms={:.3})",
            self.bytes_sent,
            self.bytes_received,
            self.frames_sent,
            self.frames_received,
            self.recv_buffered,
            self.recv_window,
            self.send_credit,
            self.send_blocked_ms,
            self.recv_unread_ms
        )
    }
}

/// One established connection of a peer (from `Peer.stats()`).
#[pyclass(module = "streamkit", frozen, get_all)]
#[derive(Debug)]
pub(crate) struct ConnStats {
    /// The remote peer's name.
    peer: String,
    /// The endpoint dialled, or `tcp://ADDR:PORT` / `unix://PATH` /
    /// `inproc://NAME` of an accepted connection.
    endpoint: String,
    /// The remote's key fingerprint (`SHA256:...`), "" if it has none.
    fingerprint: String,
    /// Bytes sent by this side's channels on the connection.
    bytes_sent: u64,
    /// Bytes received by them.
    bytes_received: u64,
    /// Channels open on the connection now.
    channels: usize,
    /// The last round trip measured (ms), None before the first.
    rtt_ms: Option<f64>,
    /// Milliseconds since the connection was established.
    connected_ms: f64,
}

impl From<streamkit_core::ConnStats> for ConnStats {
    fn from(s: streamkit_core::ConnStats) -> Self {
        ConnStats {
            peer: s.peer,
            endpoint: s.endpoint,
            fingerprint: s.fingerprint,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            channels: s.channels,
            rtt_ms: s.rtt_ms,
            connected_ms: s.connected_ms,
        }
    }
}

#[pymethods]
impl ConnStats {
    fn __repr__(&self) -> String {
        format!(
            "ConnStats(peer={:?}, endpoint={:?}, fingerprint={:?}, bytes_sent={}, bytes_received={}, channels={}, rtt_ms={}, connected_ms={:.1})",
            self.peer,
            self.endpoint,
            self.fingerprint,
            self.bytes_sent,
            self.bytes_received,
            self.channels,
            self.rtt_ms.map_or("None".to_string(), |r| format!("{r:.3}")),
            self.connected_ms
        )
    }
}

/// `Peer.stats()` for both Peer classes.
pub(crate) fn peer_stats(p: &streamkit_core::Peer) -> Vec<ConnStats> {
    p.stats().into_iter().map(ConnStats::from).collect()
}
