//! One stream's receive side, sans-IO: buffered bytes, frame assembly,
//! credit accounting and receive-window auto-tuning. Time is passed in, so
//! everything here is tested deterministically (see the tests below).

use super::tuning::*;
use super::window::WindowBudget;
use crate::error::{Error, Result};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Buffered incoming bytes of one stream (data or errors).
#[derive(Debug, Default)]
pub(super) struct InBuf {
    pub(super) q: VecDeque<Bytes>,
    pub(super) len: usize,
    /// A frame being assembled: (declared length, bytes so far).
    pub(super) asm: Option<(usize, BytesMut)>,
    /// Bytes of the connection's assembly budget held for `asm`.
    pub(super) reserved: usize,
    /// The next frame needs assembly and the budget could not hold it: no
    /// read can progress until another frame's assembly gives bytes back.
    pub(super) asm_blocked: bool,
    /// Bytes consumed but not yet granted back.
    pub(super) unacked: usize,
    /// Credit the sender still has, as we see it.
    pub(super) allowance: i64,
    /// This stream's receive window: W_local, grown by auto-tuning.
    pub(super) window: usize,
    /// Bytes received on this stream so far.
    pub(super) received: u64,
    /// A round-trip probe started by a CREDIT: (the sender's limit before
    /// it, when it was queued, `received` then). The first byte beyond that
    /// limit can only have been sent after the CREDIT arrived.
    pub(super) probe: Option<(u64, Instant, u64)>,
    /// The shortest probe seen: the round-trip estimate.
    pub(super) rtt_min: Option<Duration>,
    /// When the last CREDIT was queued (the fast-turnover rule).
    pub(super) last_credit: Option<Instant>,
}

impl InBuf {
    pub(super) fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.q.push_back(b);
    }

    /// Put bytes back at the front (see `Channel::unread`).
    pub(super) fn push_front(&mut self, b: Bytes) {
        self.len += b.len();
        self.unacked = self.unacked.saturating_sub(b.len());
        self.q.push_front(b);
    }

    pub(super) fn copy_out(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(front) = self.q.front_mut() else {
                break;
            };
            let k = front.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&front[..k]);
            front.advance(k);
            if front.is_empty() {
                self.q.pop_front();
            }
            n += k;
        }
        self.len -= n;
        self.unacked += n;
        n
    }

    /// The payload length of the frame at the front, once its header is
    /// here (`proto::frame_len`: the one frame-header decoder).
    pub(super) fn peek_frame_len(&self) -> Option<usize> {
        self.peek4().map(crate::proto::frame_len)
    }

    fn peek4(&self) -> Option<[u8; 4]> {
        if self.len < 4 {
            return None;
        }
        let mut h = [0u8; 4];
        let mut i = 0;
        for c in &self.q {
            for &b in c.iter() {
                h[i] = b;
                i += 1;
                if i == 4 {
                    return Some(h);
                }
            }
        }
        None
    }

    /// Take exactly `n` bytes (n <= len), zero-copy when they sit in one chunk.
    pub(super) fn take(&mut self, n: usize) -> Bytes {
        if let Some(b) = self.take_front(n, |front| front.split_to(n)) {
            return b;
        }
        self.len -= n;
        self.unacked += n;
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let Some(front) = self.q.front_mut() else {
                break;
            };
            let k = front.len().min(n - out.len());
            out.extend_from_slice(&front[..k]);
            front.advance(k);
            if front.is_empty() {
                self.q.pop_front();
            }
        }
        out.freeze()
    }

    /// Take exactly `n` bytes (n <= len) as a new `Vec`: one copy, and no
    /// reference taken to (and dropped from) the chunk they sit in.
    pub(super) fn take_vec(&mut self, n: usize) -> Vec<u8> {
        let v = self.take_front(n, |front| {
            let v = front[..n].to_vec();
            front.advance(n);
            v
        });
        v.unwrap_or_else(|| Vec::from(self.take(n)))
    }

    /// Take `n` bytes (n <= len) with `f`, which consumes them from the front
    /// chunk, if they all sit in it; `None` (nothing taken) otherwise.
    pub(super) fn take_front<T>(&mut self, n: usize, f: impl FnOnce(&mut Bytes) -> T) -> Option<T> {
        let front = self.q.front_mut().filter(|front| front.len() >= n)?;
        let v = f(front);
        if front.is_empty() {
            self.q.pop_front();
        }
        self.len -= n;
        self.unacked += n;
        Some(v)
    }

    pub(super) fn clear(&mut self) {
        self.q.clear();
        self.len = 0;
        self.asm = None;
    }

    /// Try to complete one frame: a frame that is all here is taken by
    /// `take` (its length after the header), one assembled piece by piece is
    /// converted by `whole`. `Err` on an oversized length.
    pub(super) fn next_frame_as<T>(
        &mut self,
        max: usize,
        window: usize,
        take: fn(&mut InBuf, usize) -> T,
        whole: fn(Bytes) -> T,
        reserve: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<T>> {
        if self.asm.is_none() {
            let Some(n) = self.peek_frame_len() else {
                return Ok(None);
            };
            if n > max {
                return Err(Error::protocol(format!(
                    "incoming frame of {n} bytes exceeds MAX_FRAME_SIZE ({max} bytes)"
                )));
            }
            if self.len >= 4 + n {
                self.take(4);
                return Ok(Some(take(self, n)));
            }
            if 4 + n <= window / 2 {
                return Ok(None); // it will fit in the window: wait for all of it
            }
            if !reserve(n) {
                self.asm_blocked = true;
                return Ok(None); // wait for the connection's assembly budget
            }
            self.asm_blocked = false;
            self.reserved = n;
            self.take(4);
            self.asm = Some((n, BytesMut::with_capacity(n.min(window))));
        }
        if let Some((n, have)) = self.asm.as_ref().map(|(n, b)| (*n, b.len())) {
            let k = (n - have).min(self.len);
            if k > 0 {
                let b = self.take(k);
                if let Some((_, buf)) = self.asm.as_mut() {
                    buf.extend_from_slice(&b);
                }
            }
            if self.asm.as_ref().is_some_and(|(n, b)| b.len() == *n) {
                let (_, buf) = self.asm.take().unwrap_or_default();
                return Ok(Some(whole(buf.freeze())));
            }
        }
        Ok(None)
    }

    /// Would a frame read return or make progress now: a whole frame (or
    /// the rest of one being assembled) is here, the next frame is too long
    /// (the read fails), a frame too large to wait for whole has begun, or
    /// enough of one being assembled has arrived for its credit to be due.
    pub(super) fn frame_ready(&self, max: usize, window: usize) -> bool {
        if let Some((n, b)) = &self.asm {
            let k = (n - b.len()).min(self.len);
            return k == n - b.len() || self.unacked + k >= self.grant_threshold();
        }
        match self.peek_frame_len() {
            None => false,
            Some(n) => n > max || self.len >= 4 + n || (4 + n > window / 2 && !self.asm_blocked),
        }
    }

    pub(super) fn has_partial_frame(&self) -> bool {
        self.asm.is_some() || self.len > 0
    }

    /// Consumed bytes are granted back once this many are pending.
    pub(super) fn grant_threshold(&self) -> usize {
        (self.window / 4).max(1)
    }

    /// A CREDIT is being queued at `now`: if the previous one was less than
    /// FAST_TURNOVER ago, double the window (up to TURNOVER_GROWTH_MAX,
    /// taking from `budget`); the extra credit joins `unacked`, which this
    /// CREDIT grants.
    pub(super) fn on_credit(&mut self, now: Instant, budget: &WindowBudget) {
        let fast = self
            .last_credit
            .is_some_and(|t| now.saturating_duration_since(t) < FAST_TURNOVER);
        self.last_credit = Some(now);
        if fast && self.window < TURNOVER_GROWTH_MAX {
            let extra = budget.take(self.window.min(TURNOVER_GROWTH_MAX - self.window));
            self.window += extra;
            self.unacked += extra;
        }
    }

    /// Count `n` received bytes; when they complete a round-trip probe (the
    /// clock is read through `now` only then, not per arrival),
    /// decide whether the window is what limits the sender and if so double
    /// it (taking from `budget`). The extra credit joins `unacked` and goes
    /// out with the next CREDIT. Two signs, either suffices:
    /// - as in grpc-go's BDP estimator: what arrives per round trip (the
    ///   probe's bytes scaled to the shortest round trip seen) is at least
    ///   2/3 of the window (a long, fast link);
    /// - the reader had drained everything (`starved`) and the sender resumed
    ///   within a few round trips of our CREDIT: it was waiting for credit,
    ///   not for data of its own (a short link where the credit's round trip
    ///   is all scheduling latency, so the first sign never sees a full window
    ///   in flight).
    ///
    /// A reader that falls behind keeps bytes buffered, so neither holds.
    pub(super) fn on_received(
        &mut self,
        n: usize,
        starved: bool,
        now: impl FnOnce() -> Instant,
        budget: &WindowBudget,
    ) -> Option<Duration> {
        // Returns the probe's round trip when one completed.
        self.received += n as u64;
        let (limit, t0, base) = self.probe?;
        if self.received <= limit {
            return None;
        }
        self.probe = None;
        let dt = now().saturating_duration_since(t0);
        let rtt = self.rtt_min.map_or(dt, |r| r.min(dt));
        self.rtt_min = Some(rtt);
        // Bytes per round trip: what arrived during the probe, scaled from the
        // probe's duration to the shortest round trip seen.
        let bytes = (self.received - base) as f64;
        let bdp = bytes * rtt.as_secs_f64() / dt.as_secs_f64().max(1e-9);
        let waited_for_credit = starved && dt <= rtt * 4 && self.window < STARVED_GROWTH_MAX;
        if bdp * 3.0 >= self.window as f64 * 2.0 || waited_for_credit {
            let extra = budget.take(self.window);
            self.window += extra;
            self.unacked += extra;
        }
        Some(dt)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::LazyLock;

    #[test]
    fn frame_ready_follows_what_a_frame_read_would_do() {
        let (max, window) = (1 << 20, 1024);
        let mut ib = InBuf {
            window,
            ..InBuf::default()
        };
        assert!(!ib.frame_ready(max, window), "empty");
        ib.push(Bytes::from_static(&[0, 0, 0, 5, b'a']));
        assert!(!ib.frame_ready(max, window), "half a small frame");
        ib.push(Bytes::from_static(b"bcde"));
        assert!(ib.frame_ready(max, window), "a whole frame");
        ib.clear();
        ib.push(Bytes::copy_from_slice(&(max as u32 + 1).to_be_bytes()));
        assert!(
            ib.frame_ready(max, window),
            "too long: the read fails at once"
        );
        ib.clear();
        // A frame larger than half the window is assembled piece by piece:
        // ready once a read can return credit (a quarter window) or finish it.
        ib.push(Bytes::copy_from_slice(&2000u32.to_be_bytes()));
        assert!(
            ib.frame_ready(max, window),
            "a large frame starts assembling"
        );
        ib.next_frame_as(max, window, InBuf::take, |b| b, &mut |_| true)
            .unwrap();
        ib.unacked = 0;
        assert!(ib.asm.is_some());
        assert!(!ib.frame_ready(max, window), "nothing more arrived");
        ib.push(Bytes::from(vec![0u8; 100]));
        assert!(!ib.frame_ready(max, window), "less than a quarter window");
        ib.push(Bytes::from(vec![0u8; 200]));
        assert!(ib.frame_ready(max, window), "credit is due");
    }

    /// The "now" every probe below ends at: time is an input, not a clock read.
    fn at() -> Instant {
        static AT: LazyLock<Instant> = LazyLock::new(|| Instant::now() + Duration::from_secs(3600));
        *AT
    }

    fn probing(
        window: usize,
        received: u64,
        limit: u64,
        ago: Duration,
        base: u64,
        rtt_min: Option<Duration>,
    ) -> InBuf {
        InBuf {
            window,
            received,
            probe: Some((limit, at() - ago, base)),
            rtt_min,
            ..InBuf::default()
        }
    }

    #[test]
    fn credits_in_quick_succession_grow_the_window_up_to_1_mib() {
        let budget = WindowBudget::new(1 << 30);
        let mut ib = InBuf {
            window: 256 * 1024,
            ..InBuf::default()
        };
        let t0 = Instant::now();
        ib.on_credit(t0, &budget);
        assert_eq!(
            ib.window,
            256 * 1024,
            "the first CREDIT has nothing to compare with"
        );
        ib.on_credit(t0 + FAST_TURNOVER * 2, &budget);
        assert_eq!(
            ib.window,
            256 * 1024,
            "a CREDIT per 2 ms is not fast turnover"
        );
        ib.on_credit(t0 + FAST_TURNOVER * 2 + FAST_TURNOVER / 4, &budget);
        assert_eq!(ib.window, 512 * 1024);
        assert_eq!(
            ib.unacked,
            256 * 1024,
            "the extra credit goes out with this CREDIT"
        );
        for k in 1..10 {
            ib.on_credit(
                t0 + FAST_TURNOVER * 2 + FAST_TURNOVER / 4 * (k + 1),
                &budget,
            );
        }
        assert_eq!(ib.window, TURNOVER_GROWTH_MAX);
        assert_eq!(
            budget.0.load(Ordering::Relaxed),
            (1 << 30) - (TURNOVER_GROWTH_MAX - 256 * 1024)
        );
        // a small budget limits the growth
        let budget = WindowBudget::new(1000);
        let mut ib = InBuf {
            window: 4096,
            ..InBuf::default()
        };
        ib.on_credit(t0, &budget);
        ib.on_credit(t0, &budget);
        assert_eq!(ib.window, 5096);
        assert_eq!(budget.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn probe_completes_only_beyond_the_old_limit() {
        let budget = WindowBudget::new(1 << 20);
        let mut ib = probing(1000, 0, 1000, Duration::from_millis(1), 0, None);
        ib.on_received(1000, true, at, &budget);
        assert!(
            ib.probe.is_some(),
            "the sender may send up to the old limit without our CREDIT"
        );
        assert_eq!(ib.window, 1000);
        ib.on_received(1, true, at, &budget);
        assert!(ib.probe.is_none());
        assert!(
            ib.rtt_min == Some(Duration::from_millis(1)),
            "the probe's duration is the round-trip sample"
        );
    }

    #[test]
    fn starved_reader_and_prompt_resume_doubles_the_window() {
        let budget = WindowBudget::new(1 << 20);
        // the reader had drained everything, and the sender resumed one round trip after the CREDIT
        let mut ib = probing(
            4096,
            100,
            100,
            Duration::from_micros(200),
            100,
            Some(Duration::from_micros(150)),
        );
        ib.on_received(10, true, at, &budget);
        assert_eq!(ib.window, 8192);
        assert_eq!(
            ib.unacked, 4096,
            "the extra credit goes out with the next CREDIT"
        );
        assert_eq!(budget.0.load(Ordering::Relaxed), (1 << 20) - 4096);
    }

    #[test]
    fn a_reader_that_falls_behind_does_not_grow_the_window() {
        let budget = WindowBudget::new(1 << 20);
        // bytes still buffered (not starved), little in flight per round trip
        let mut ib = probing(
            4096,
            100,
            100,
            Duration::from_micros(200),
            90,
            Some(Duration::from_micros(150)),
        );
        ib.on_received(10, false, at, &budget);
        assert_eq!(ib.window, 4096);
        assert_eq!(ib.unacked, 0);
        assert_eq!(budget.0.load(Ordering::Relaxed), 1 << 20);
    }

    #[test]
    fn waiting_for_credit_grows_a_window_only_up_to_4_mib() {
        let budget = WindowBudget::new(1 << 30);
        let mut ib = probing(
            STARVED_GROWTH_MAX,
            100,
            100,
            Duration::from_micros(200),
            99,
            Some(Duration::from_micros(150)),
        );
        ib.on_received(10, true, at, &budget);
        assert_eq!(ib.window, STARVED_GROWTH_MAX);
        let mut ib = probing(
            STARVED_GROWTH_MAX / 2,
            100,
            100,
            Duration::from_micros(200),
            99,
            Some(Duration::from_micros(150)),
        );
        ib.on_received(10, true, at, &budget);
        assert_eq!(ib.window, STARVED_GROWTH_MAX);
    }

    #[test]
    fn a_late_resume_is_the_sender_s_own_pace() {
        let budget = WindowBudget::new(1 << 20);
        // starved, but the sender came back 50 round trips after the CREDIT
        let mut ib = probing(
            4096,
            100,
            100,
            Duration::from_millis(50),
            90,
            Some(Duration::from_millis(1)),
        );
        ib.on_received(10, true, at, &budget);
        assert_eq!(ib.window, 4096);
    }

    #[test]
    fn a_full_window_per_round_trip_grows_it_like_grpc_bdp() {
        let budget = WindowBudget::new(1 << 20);
        // not starved, but 3/4 of the window arrived within one (shortest) round trip
        let mut ib = probing(
            4096,
            3072,
            3071,
            Duration::from_millis(50),
            0,
            Some(Duration::from_millis(50)),
        );
        ib.on_received(1, false, at, &budget);
        assert_eq!(ib.window, 8192);
        // half a window per round trip is not enough
        let mut ib = probing(
            4096,
            2048,
            2047,
            Duration::from_millis(50),
            0,
            Some(Duration::from_millis(50)),
        );
        ib.on_received(1, false, at, &budget);
        assert_eq!(ib.window, 4096);
    }

    #[test]
    fn growth_is_bounded_by_the_budget_and_given_back() {
        let budget = WindowBudget::new(1000);
        let mut ib = probing(
            4096,
            0,
            0,
            Duration::from_micros(10),
            0,
            Some(Duration::from_micros(10)),
        );
        ib.on_received(1, true, at, &budget);
        assert_eq!(ib.window, 5096, "only what is left of the budget");
        assert_eq!(budget.take(1), 0);
        let mut ib = probing(
            4096,
            0,
            0,
            Duration::from_micros(10),
            0,
            Some(Duration::from_micros(10)),
        );
        ib.on_received(1, true, at, &budget);
        assert_eq!(ib.window, 4096, "an exhausted budget leaves windows fixed");
        budget.give_back(1000);
        assert_eq!(budget.take(5000), 1000);
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = crate::proto::frame_header(payload.len()).to_vec();
        v.extend_from_slice(payload);
        v
    }

    fn next(ib: &mut InBuf, max: usize, window: usize) -> Result<Option<Bytes>> {
        ib.next_frame_as(max, window, InBuf::take, |b| b, &mut |_| true)
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let mut wire = frame(b"hello");
        wire.extend(frame(b""));
        wire.extend(frame(&[7u8; 300]));
        // every split point of the byte stream, in one and two pieces
        for cut in 0..=wire.len() {
            let mut ib = InBuf::default();
            let mut got = Vec::new();
            for piece in [&wire[..cut], &wire[cut..]] {
                ib.push(Bytes::copy_from_slice(piece));
                while let Some(f) = next(&mut ib, 1 << 20, 1 << 20).unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(&got[0][..], b"hello");
            assert!(got[1].is_empty());
            assert_eq!(&got[2][..], &[7u8; 300][..]);
            assert!(!ib.has_partial_frame());
            assert_eq!(
                ib.unacked,
                wire.len(),
                "every byte consumed is due for credit"
            );
        }
    }

    #[test]
    fn an_oversized_frame_is_an_error_before_any_payload_arrives() {
        let mut ib = InBuf::default();
        ib.push(Bytes::copy_from_slice(&crate::proto::frame_header(1001)));
        let e = next(&mut ib, 1000, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("exceeds MAX_FRAME_SIZE"), "{e}");
    }

    /// A frame larger than half the window cannot wait in the buffer until
    /// it is whole (the sender would run out of credit first): it is
    /// assembled piece by piece, and what was consumed is due for credit at
    /// once, so the sender can go on.
    #[test]
    fn a_frame_larger_than_half_the_window_is_assembled_as_it_arrives() {
        let window = 1000;
        let mut ib = InBuf::default();
        let payload: Vec<u8> = (0..800u32).map(|i| i as u8).collect();
        let wire = frame(&payload);
        ib.push(Bytes::copy_from_slice(&wire[..300]));
        assert!(next(&mut ib, 1 << 20, window).unwrap().is_none());
        assert_eq!(ib.len, 0, "the piece moved into the assembly buffer");
        assert_eq!(ib.unacked, 300, "and is due for credit");
        assert!(ib.has_partial_frame());
        ib.push(Bytes::copy_from_slice(&wire[300..]));
        let f = next(&mut ib, 1 << 20, window).unwrap().unwrap();
        assert_eq!(&f[..], &payload[..]);
        assert!(!ib.has_partial_frame());
        // a frame that fits in half the window waits until it is whole
        let mut ib = InBuf::default();
        let wire = frame(&[1u8; 100]);
        ib.push(Bytes::copy_from_slice(&wire[..50]));
        assert!(next(&mut ib, 1 << 20, window).unwrap().is_none());
        assert_eq!((ib.len, ib.unacked), (50, 0), "nothing consumed yet");
    }

    #[test]
    fn reading_and_unreading_account_for_credit() {
        let mut ib = InBuf {
            window: 4096,
            ..InBuf::default()
        };
        assert_eq!(ib.grant_threshold(), 1024, "a quarter of the window");
        ib.push(Bytes::from_static(b"abcdef"));
        ib.push(Bytes::from_static(b"gh"));
        let mut out = [0u8; 7];
        assert_eq!(ib.copy_out(&mut out), 7);
        assert_eq!(&out, b"abcdefg");
        assert_eq!((ib.len, ib.unacked), (1, 7));
        ib.push_front(Bytes::from_static(b"fg"));
        assert_eq!(
            (ib.len, ib.unacked),
            (3, 5),
            "bytes put back are not granted twice"
        );
        assert_eq!(&ib.take(3)[..], b"fgh");
        assert_eq!(ib.take_vec(0), Vec::<u8>::new());
        assert_eq!((ib.len, ib.unacked), (0, 8));
    }
}
