//! Per-connection statistics.

use super::Conn;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One connection of a peer, as `Peer::stats` reports it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConnStats {
    /// The remote peer's name.
    pub peer: String,
    /// How the connection was made (`tcp://HOST:PORT` dialled, or
    /// `tcp://ADDR` of an accepted client, `unix://PATH`, `inproc://NAME`).
    pub endpoint: String,
    /// The remote's key fingerprint (`SHA256:...`), empty if it has none
    /// (an inproc peer without a key).
    pub fingerprint: String,
    /// Bytes this side's channels sent on the connection (channels open
    /// now and those already finished).
    pub bytes_sent: u64,
    /// Bytes this side's channels received on it.
    pub bytes_received: u64,
    /// Channels open on the connection now.
    pub channels: usize,
    /// The last round trip measured on the connection, in milliseconds: the
    /// hello exchange (on the connecting side), then flow control's credit
    /// round trips on channels that move data. `None` before the first.
    pub rtt_ms: Option<f64>,
    /// Milliseconds since the hello exchange completed.
    pub connected_ms: f64,
}

/// What a connection counts for its stats.
#[derive(Debug, Default)]
pub(super) struct ConnCounters {
    /// Totals of channels already finished: (sent, received).
    pub(super) done: std::sync::Mutex<(u64, u64)>,
    /// Last round trip in microseconds, 0 before the first.
    pub(super) rtt_us: std::sync::atomic::AtomicU64,
    pub(super) connected_at: std::sync::OnceLock<Instant>,
    pub(super) hello_sent: std::sync::OnceLock<Instant>,
}

impl Conn {
    /// The client sent its HELLO (the hello exchange is the first round trip).
    pub(crate) fn note_hello_sent(&self) {
        let _ = self.counters.hello_sent.set(Instant::now());
    }

    pub(super) fn note_connected(&self) {
        let now = Instant::now();
        let _ = self.counters.connected_at.set(now);
        if let Some(t) = self.counters.hello_sent.get() {
            self.set_rtt(now.saturating_duration_since(*t));
        }
    }

    pub(super) fn set_rtt(&self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        self.counters.rtt_us.store(us, Ordering::Relaxed);
    }

    /// A channel is finished: keep its totals.
    pub(super) fn add_finished(&self, sent: u64, received: u64) {
        let mut d = lock(&self.counters.done);
        d.0 += sent;
        d.1 += received;
    }

    pub(crate) fn stats(&self) -> ConnStats {
        let chans: Vec<_> = lock(&self.chans).values().cloned().collect();
        let (mut sent, mut received) = *lock(&self.counters.done);
        for c in &chans {
            let s = c.stats();
            sent += s.bytes_sent;
            received += s.bytes_received;
        }
        let rtt = self.counters.rtt_us.load(Ordering::Relaxed);
        ConnStats {
            peer: self.remote_name(),
            endpoint: self.describe.clone(),
            fingerprint: self.identity_fingerprint(),
            bytes_sent: sent,
            bytes_received: received,
            channels: chans.len(),
            rtt_ms: (rtt > 0).then(|| rtt as f64 / 1e3),
            connected_ms: self
                .counters
                .connected_at
                .get()
                .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3),
        }
    }
}
