//! Per-channel statistics and stall attribution.
//!
//! Counters live in the channel's state and are updated where its lock is
//! already held, so they cost an addition each. Stall clocks ([`Stall`]) are
//! read only when a stall starts or ends (a writer starts waiting for
//! credit, the receive buffer turns non-empty or empty), never per byte,
//! and from the kernel's coarse monotonic clock: a ping-pong exchange turns
//! a buffer non-empty and empty twice per message, and a precise clock read
//! each time cost a quarter of an in-process round trip
//! (bench/stats-cost.sh). The coarse clock ticks every few ms, so one short
//! stall may read as 0 or one tick, but totals are unbiased and the stalls
//! that matter last longer than a tick.

use std::time::Duration;

/// Stall clocks are on. Only `bench/stats-cost.sh` builds with them off
/// (`--cfg streamkit_no_stall_clocks`), to measure what they cost.
pub(super) const STALL_CLOCKS: bool = !cfg!(streamkit_no_stall_clocks);

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
    /// the bottleneck). Measured with a clock that ticks every few ms: one
    /// stall shorter than a tick adds 0 or one tick.
    pub send_blocked_ms: f64,
    /// Milliseconds during which received data sat here unread (this side's
    /// application did not read).
    pub recv_unread_ms: f64,
}

/// A reading of the stall clock: time since an arbitrary origin.
pub(super) type Tick = Duration;

/// The stall clock now (CLOCK_MONOTONIC_COARSE on Linux).
pub(super) fn tick() -> Tick {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant every supported kernel has (it cannot fail then, and a
    // failure would leave zero: a stall measured as zero, nothing worse).
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// A stall clock: the total time during which at least one stall was in
/// progress. Time is passed in (sans-IO).
#[derive(Debug, Default)]
pub(super) struct Stall {
    total: Duration,
    since: Option<Tick>,
    depth: u32,
}

impl Stall {
    pub(super) fn begin(&mut self, now: Tick) {
        if self.depth == 0 {
            self.since = Some(now);
        }
        self.depth += 1;
    }

    pub(super) fn end(&mut self, now: Tick) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            if let Some(t) = self.since.take() {
                self.total += now.saturating_sub(t);
            }
        }
    }

    pub(super) fn active(&self) -> bool {
        self.depth > 0
    }

    /// Total stalled time up to `now`, including a stall in progress.
    pub(super) fn total_at(&self, now: Tick) -> Duration {
        self.total + self.since.map_or(Duration::ZERO, |t| now.saturating_sub(t))
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
        let now = tick();
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
        let t0 = tick();
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

    #[test]
    fn the_clock_moves_forward() {
        let a = tick();
        std::thread::sleep(Duration::from_millis(60));
        let b = tick();
        assert!(b > a, "{a:?} then {b:?}");
        assert!(b - a >= Duration::from_millis(40), "{:?}", b - a);
    }
}
