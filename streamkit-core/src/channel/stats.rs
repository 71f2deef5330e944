//! Per-channel statistics and stall attribution.
//!
//! Counters live in the channel's state and are updated where its lock is
//! already held, so they cost an addition each. Stall clocks ([`Stall`]) are
//! read only when a stall starts or ends (a writer starts waiting for
//! credit, the receive buffer turns non-empty or empty), never per byte.

use std::time::{Duration, Instant};

/// What one channel has moved, and which side has been slow.
///
/// `send_blocked_ms` large on this side and `recv_unread_ms` large on the
/// other: the remote reader is slow. `recv_unread_ms` large here: this
/// side's application is slow to read.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Bytes written by this side (byte stream and frames with their 4-byte
    /// headers, data and error streams).
    pub bytes_sent: u64,
    /// Bytes received from the remote (counted as they arrive).
    pub bytes_received: u64,
    /// Frames and error frames written.
    pub frames_sent: u64,
    /// Frames and error frames read by this side's application.
    pub frames_received: u64,
    /// Bytes received and not yet read, both streams.
    pub recv_buffered: usize,
    /// This side's current receive window on the data stream (it grows by
    /// auto-tuning).
    pub recv_window: usize,
    /// Credit this side may still send on the data stream before it waits.
    pub send_credit: u64,
    /// Milliseconds during which at least one writer here waited for the
    /// remote's credit (the remote did not read fast enough, or the link is
    /// the bottleneck).
    pub send_blocked_ms: f64,
    /// Milliseconds during which received data sat here unread (this side's
    /// application did not read).
    pub recv_unread_ms: f64,
}

/// A stall clock: the total time during which at least one stall was in
/// progress. Time is passed in (sans-IO).
#[derive(Debug, Default)]
pub(super) struct Stall {
    total: Duration,
    since: Option<Instant>,
    depth: u32,
}

impl Stall {
    pub(super) fn begin(&mut self, now: Instant) {
        if self.depth == 0 {
            self.since = Some(now);
        }
        self.depth += 1;
    }

    pub(super) fn end(&mut self, now: Instant) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            if let Some(t) = self.since.take() {
                self.total += now.saturating_duration_since(t);
            }
        }
    }

    pub(super) fn active(&self) -> bool {
        self.depth > 0
    }

    /// Total stalled time up to `now`, including a stall in progress.
    pub(super) fn total_at(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Counters kept in the channel's state.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) bytes_sent: u64,
    pub(super) frames_sent: u64,
    pub(super) frames_received: u64,
    /// Writers waiting for credit.
    pub(super) send_blocked: Stall,
    /// Received bytes buffered unread.
    pub(super) recv_unread: Stall,
}

impl super::inner::ChanInner {
    pub(crate) fn stats(&self) -> ChannelStats {
        let now = Instant::now();
        let st = crate::sync::lock(&self.st);
        ChannelStats {
            bytes_sent: st.counters.bytes_sent,
            bytes_received: st.inb[0].received + st.inb[1].received,
            frames_sent: st.counters.frames_sent,
            frames_received: st.counters.frames_received,
            recv_buffered: st.inb[0].len + st.inb[1].len,
            recv_window: st.inb[0].window,
            send_credit: st.credit[0].max(0) as u64,
            send_blocked_ms: ms(st.counters.send_blocked.total_at(now)),
            recv_unread_ms: ms(st.counters.recv_unread.total_at(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_stalls_count_once_and_a_running_one_counts_so_far() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = Stall::default();
        assert_eq!(s.total_at(at(5)), Duration::ZERO);
        s.begin(at(10));
        s.begin(at(12)); // a second writer waits too
        s.end(at(15));
        assert!(s.active());
        assert_eq!(s.total_at(at(18)), Duration::from_millis(8), "in progress");
        s.end(at(20));
        assert!(!s.active());
        assert_eq!(s.total_at(at(100)), Duration::from_millis(10));
        s.end(at(101)); // unbalanced end: ignored
        s.begin(at(200));
        s.end(at(230));
        assert_eq!(s.total_at(at(300)), Duration::from_millis(40));
    }
}
