//! Channels: bidirectional streams with frames, error frames, trailers,
//! half-close and child channels.
//!
//! A [`Channel`] is a cheap clonable handle; every method takes `&self` and is
//! safe to call from many tasks. Incoming data is buffered per stream up to the
//! channel's receive window; the sender blocks once the credit it was granted
//! is used up, so a reader that does not read applies backpressure instead of
//! growing memory (docs/PROTOCOL.md, "Flow control").

use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::proto::{close_code, Ctl, EXT_CONTROL, EXT_ERRORS};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// Largest chunk handed to the transport in one send.
const MAX_CHUNK: usize = 64 * 1024;
/// Frames up to this size are copied into one buffer with their header.
const SMALL_FRAME: usize = 16 * 1024;
/// Byte-stream writes up to this size are coalesced with neighbours.
const COALESCE_PIECE: usize = 4 * 1024;
/// Most bytes coalesced into one transport send.
const COALESCE_MAX: usize = 64 * 1024;
/// A flusher that finds less than this coalesced while the writer is still
/// adding to it gives the writer a moment to add more (see `flush_loop`).
const FLUSH_WAIT_BELOW: usize = 32 * 1024;
/// At most this many such moments per send.
const FLUSH_WAIT_CHECKS: usize = 64;
/// Window auto-tuning's "the reader waited for credit" rule grows a window
/// only up to this size: enough to hide a short link's scheduling latency
/// (measured: 256 KiB -> 4 MiB doubles loopback bulk on an idle machine),
/// while larger windows there only lengthen the sender's queues (16 MiB was
/// slower than 4). Long links grow further by the bandwidth-delay rule.
const STARVED_GROWTH_MAX: usize = 4 << 20;
/// Window auto-tuning's "fast turnover" rule: a reader that consumes a
/// CREDIT's worth (a quarter window) within this time of the previous CREDIT
/// doubles its window...
const FAST_TURNOVER: Duration = Duration::from_millis(1);
/// ...up to this size. Every CREDIT costs a wake-up on both sides and, for a
/// sender that runs out of credit, a wait; a stream that turns its window
/// over this fast (a stream of small frames) spent that on every 64 KiB with
/// the 256 KiB default, even with its reader behind (so neither rule above
/// grows it); a 1 MiB cap removes most of those waits (BENCHMARKS.md,
/// scenario 7).
const TURNOVER_GROWTH_MAX: usize = 1 << 20;

/// How a channel's outgoing side reaches the other end.
pub(crate) enum Tx {
    /// An SSH channel on the connecting (client) side.
    SshClient(russh::ChannelWriteHalf<russh::client::Msg>),
    /// An SSH channel on the bound (server) side.
    SshServer(russh::ChannelWriteHalf<russh::server::Msg>),
    /// The other end of an in-process channel.
    Inproc(Mutex<Weak<ChanInner>>),
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tx::SshClient(_) => "Tx::SshClient",
            Tx::SshServer(_) => "Tx::SshServer",
            Tx::Inproc(_) => "Tx::Inproc",
        })
    }
}

fn lost(_: russh::Error) -> Error {
    Error::closed("the connection carrying this channel is gone")
}

impl Tx {
    fn inproc_peer(&self) -> Option<Arc<ChanInner>> {
        match self {
            Tx::Inproc(w) => lock(w).upgrade(),
            _ => None,
        }
    }

    async fn data(&self, stream: u8, b: Bytes) -> Result<()> {
        match self {
            Tx::SshClient(w) if stream == 0 => w.data_bytes(b).await.map_err(lost),
            Tx::SshClient(w) => w.extended_data_bytes(EXT_ERRORS, b).await.map_err(lost),
            Tx::SshServer(w) if stream == 0 => w.data_bytes(b).await.map_err(lost),
            Tx::SshServer(w) => w.extended_data_bytes(EXT_ERRORS, b).await.map_err(lost),
            Tx::Inproc(_) => match self.inproc_peer() {
                Some(p) => {
                    p.on_data(stream, b);
                    Ok(())
                }
                None => Err(Error::closed(
                    "the other end of the in-process channel is gone",
                )),
            },
        }
    }

    pub(crate) async fn ctl(&self, c: Ctl) -> Result<()> {
        match self {
            Tx::SshClient(w) => w
                .extended_data_bytes(EXT_CONTROL, c.encode())
                .await
                .map_err(lost),
            Tx::SshServer(w) => w
                .extended_data_bytes(EXT_CONTROL, c.encode())
                .await
                .map_err(lost),
            Tx::Inproc(_) => {
                if let Some(p) = self.inproc_peer() {
                    p.on_ctl(c);
                }
                Ok(())
            }
        }
    }

    /// Send a control message without waiting: inline for inproc, on a task for
    /// SSH (used from russh handler callbacks, which must never wait on the
    /// session they run in).
    pub(crate) fn ctl_nowait(self: &Arc<Self>, rt: &tokio::runtime::Handle, c: Ctl) {
        match &**self {
            Tx::Inproc(_) => {
                if let Some(p) = self.inproc_peer() {
                    p.on_ctl(c);
                }
            }
            _ => {
                let tx = self.clone();
                rt.spawn(async move {
                    let _ = tx.ctl(c).await;
                });
            }
        }
    }

    /// Close the underlying SSH channel (used when a pooled channel is retired
    /// or its control stream is corrupt).
    pub(crate) async fn close_ssh(&self) {
        let _ = match self {
            Tx::SshClient(w) => w.close().await,
            Tx::SshServer(w) => w.close().await,
            Tx::Inproc(_) => Ok(()),
        };
    }
}

/// What receive-window auto-tuning may still add on one connection
/// (WINDOW_BUDGET): windows grow by taking from it, and give back when their
/// channel is gone.
#[derive(Debug)]
pub(crate) struct WindowBudget(AtomicUsize);

impl WindowBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        WindowBudget(AtomicUsize::new(bytes))
    }

    /// Take up to `want` bytes; returns what was taken.
    fn take(&self, want: usize) -> usize {
        let mut got = 0;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                got = left.min(want);
                Some(left - got)
            });
        got
    }

    fn give_back(&self, n: usize) {
        self.0.fetch_add(n, Ordering::AcqRel);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Buffered incoming bytes of one stream (data or errors).
#[derive(Debug, Default)]
struct InBuf {
    q: VecDeque<Bytes>,
    len: usize,
    /// A frame being assembled: (declared length, bytes so far).
    asm: Option<(usize, BytesMut)>,
    /// Bytes consumed but not yet granted back.
    unacked: usize,
    /// Credit the sender still has, as we see it.
    allowance: i64,
    /// This stream's receive window: W_local, grown by auto-tuning.
    window: usize,
    /// Bytes received on this stream so far.
    received: u64,
    /// A round-trip probe started by a CREDIT: (the sender's limit before
    /// it, when it was queued, `received` then). The first byte beyond that
    /// limit can only have been sent after the CREDIT arrived.
    probe: Option<(u64, Instant, u64)>,
    /// The shortest probe seen: the round-trip estimate.
    rtt_min: Option<Duration>,
    /// When the last CREDIT was queued (the fast-turnover rule).
    last_credit: Option<Instant>,
}

impl InBuf {
    fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.q.push_back(b);
    }

    /// Put bytes back at the front (see `Channel::unread`).
    fn push_front(&mut self, b: Bytes) {
        self.len += b.len();
        self.unacked = self.unacked.saturating_sub(b.len());
        self.q.push_front(b);
    }

    fn copy_out(&mut self, out: &mut [u8]) -> usize {
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
    fn take(&mut self, n: usize) -> Bytes {
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
    fn take_vec(&mut self, n: usize) -> Vec<u8> {
        let v = self.take_front(n, |front| {
            let v = front[..n].to_vec();
            front.advance(n);
            v
        });
        v.unwrap_or_else(|| Vec::from(self.take(n)))
    }

    /// Take `n` bytes (n <= len) with `f`, which consumes them from the front
    /// chunk, if they all sit in it; `None` (nothing taken) otherwise.
    fn take_front<T>(&mut self, n: usize, f: impl FnOnce(&mut Bytes) -> T) -> Option<T> {
        let front = self.q.front_mut().filter(|front| front.len() >= n)?;
        let v = f(front);
        if front.is_empty() {
            self.q.pop_front();
        }
        self.len -= n;
        self.unacked += n;
        Some(v)
    }

    fn clear(&mut self) {
        self.q.clear();
        self.len = 0;
        self.asm = None;
    }

    /// Try to complete one frame: a frame that is all here is taken by
    /// `take` (its length after the header), one assembled piece by piece is
    /// converted by `whole`. `Err` on an oversized length.
    fn next_frame_as<T>(
        &mut self,
        max: usize,
        window: usize,
        take: fn(&mut InBuf, usize) -> T,
        whole: fn(Bytes) -> T,
    ) -> Result<Option<T>> {
        if self.asm.is_none() {
            let Some(h) = self.peek4() else {
                return Ok(None);
            };
            let n = u32::from_be_bytes(h) as usize;
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

    fn has_partial_frame(&self) -> bool {
        self.asm.is_some() || self.len > 0
    }

    /// Consumed bytes are granted back once this many are pending.
    fn grant_threshold(&self) -> usize {
        (self.window / 4).max(1)
    }

    /// A CREDIT is being queued at `now`: if the previous one was less than
    /// FAST_TURNOVER ago, double the window (up to TURNOVER_GROWTH_MAX,
    /// taking from `budget`); the extra credit joins `unacked`, which this
    /// CREDIT grants.
    fn on_credit(&mut self, now: Instant, budget: &WindowBudget) {
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

    /// Count `n` received bytes; when they complete a round-trip probe,
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
    fn on_received(&mut self, n: usize, starved: bool, budget: &WindowBudget) {
        self.received += n as u64;
        let Some((limit, t0, base)) = self.probe else {
            return;
        };
        if self.received <= limit {
            return;
        }
        self.probe = None;
        let dt = t0.elapsed();
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
    }
}

/// Something queued for the transport, in order.
#[derive(Debug)]
enum Out {
    Data(u8, Bytes),
    Ctl(Ctl),
}

#[derive(Debug, Default)]
struct ChanState {
    inb: [InBuf; 2],
    credit: [i64; 2],
    fin_recv: bool,
    fin_sent: bool,
    close_recv: bool,
    /// CLOSE is queued (or sent).
    close_sent: bool,
    /// CLOSE has been handed to the transport.
    close_flushed: bool,
    /// The application called close().
    user_closed: bool,
    /// Closed by the peer's shutdown.
    peer_shutdown: bool,
    finished: bool,
    /// A fatal error (protocol violation, connection lost, peer shut down).
    fatal: Option<Error>,
    trailers: Vec<String>,
    /// Bytes of `trailers` (4 + length each), bounded by MAX_TRAILER_BYTES.
    trailer_bytes: usize,
    /// Trailers sent so far (count, bytes), bounded like those received.
    trailers_sent: (usize, usize),
    /// Outgoing queue, drained in order by one flusher at a time.
    outq: VecDeque<Out>,
    /// Small writes are coalesced here before joining `outq`.
    tail: BytesMut,
    tail_stream: u8,
    flushing: bool,
    /// A multi-piece write (bytes or a large frame) is in progress on the
    /// stream: small frames wait for it so they cannot land in its middle.
    large: [bool; 2],
}

impl ChanState {
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let b = self.tail.split().freeze();
            self.outq.push_back(Out::Data(self.tail_stream, b));
        }
    }

    fn push_small(&mut self, s: u8, parts: &[&[u8]]) {
        if self.tail_stream != s || self.tail.len() >= COALESCE_MAX {
            self.seal_tail();
        }
        self.tail_stream = s;
        if self.tail.capacity() - self.tail.len() < parts.iter().map(|p| p.len()).sum::<usize>() {
            self.tail.reserve(COALESCE_MAX);
        }
        for p in parts {
            self.tail.extend_from_slice(p);
        }
    }

    fn push(&mut self, o: Out) {
        self.seal_tail();
        self.outq.push_back(o);
    }

    /// No flusher running and nothing queued.
    fn idle(&self) -> bool {
        !self.flushing && self.outq.is_empty() && self.tail.is_empty()
    }
}

/// A queue of accepted-but-not-yet-taken channels (the peer's or a parent
/// channel's), bounded by the accept backlog.
#[derive(Debug)]
pub(crate) struct AcceptQueue {
    q: Mutex<(VecDeque<Channel>, Option<Error>)>,
    notify: Notify,
    cap: std::sync::atomic::AtomicUsize,
}

impl AcceptQueue {
    pub(crate) fn new(cap: usize) -> Self {
        AcceptQueue {
            q: Mutex::new((VecDeque::new(), None)),
            notify: Notify::new(),
            cap: cap.into(),
        }
    }

    /// Queue a channel; gives it back if the queue is full or closed.
    pub(crate) fn push(&self, c: Channel) -> std::result::Result<(), (Channel, &'static str)> {
        let mut q = lock(&self.q);
        if q.1.is_some() {
            return Err((c, "not accepting channels (closed)"));
        }
        if q.0.len() >= self.cap.load(std::sync::atomic::Ordering::Relaxed) {
            return Err((c, "accept backlog full (ACCEPT_BACKLOG)"));
        }
        q.0.push_back(c);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    pub(crate) fn set_cap(&self, cap: usize) {
        self.cap.store(cap, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) async fn pop(&self) -> Result<Channel> {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut q = lock(&self.q);
                if let Some(c) = q.0.pop_front() {
                    if !q.0.is_empty() {
                        self.notify.notify_one();
                    }
                    return Ok(c);
                }
                if let Some(e) = &q.1 {
                    return Err(e.clone());
                }
            }
            n.await;
        }
    }

    pub(crate) fn close(&self, e: Error) {
        let drained: Vec<Channel> = {
            let mut q = lock(&self.q);
            if q.1.is_none() {
                q.1 = Some(e);
            }
            q.0.drain(..).collect()
        };
        drop(drained);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

/// The shared state of one channel.
pub(crate) struct ChanInner {
    pub(crate) id: u64,
    service: String,
    headers: Vec<String>,
    local_peer: String,
    remote_peer: String,
    remote: crate::conn::Identity,
    pub(crate) tx: Arc<Tx>,
    conn: Weak<Conn>,
    max_frame: usize,
    window: usize,
    small_limit: usize,
    st: Mutex<ChanState>,
    rd: Notify,
    wr: Notify,
    wlock: [tokio::sync::Mutex<()>; 2],
    pub(crate) children: AcceptQueue,
    pub(crate) slot: Option<russh::ChannelId>,
    rt: tokio::runtime::Handle,
    budget: Arc<WindowBudget>,
    /// SSH: the socket writer's queue gate (see `ssh::WShared::writable`).
    gate: Option<Arc<crate::ssh::WShared>>,
    /// Bytes ever added to the coalescing buffer, plus FLUSH_WAIT_BELOW for
    /// everything else queued (a "send now"). Changed only under `st`'s
    /// lock (a plain load and store, no atomic read-modify-write on the
    /// writer's path); read without it by a flusher waiting for a writer
    /// (`let_writer_add`), which then never contends for the lock with the
    /// writer it waits for.
    queued: AtomicU64,
}

impl Drop for ChanInner {
    fn drop(&mut self) {
        let st = self.st.get_mut().unwrap_or_else(|p| p.into_inner());
        let extra: usize = st
            .inb
            .iter()
            .map(|ib| ib.window.saturating_sub(self.window))
            .sum();
        self.budget.give_back(extra);
    }
}

impl fmt::Debug for ChanInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("service", &self.service)
            .field("remote_peer", &self.remote_peer)
            .finish()
    }
}

pub(crate) struct ChanParams {
    pub id: u64,
    pub service: String,
    pub headers: Vec<String>,
    pub local_peer: String,
    pub remote_peer: String,
    pub remote: crate::conn::Identity,
    pub tx: Arc<Tx>,
    pub conn: Weak<Conn>,
    pub max_frame: usize,
    pub window: usize,
    pub remote_window: usize,
    pub backlog: usize,
    pub budget: Arc<WindowBudget>,
    pub slot: Option<russh::ChannelId>,
    /// SSH: the socket writer's queue gate that data waits at.
    pub gate: Option<Arc<crate::ssh::WShared>>,
}

impl ChanInner {
    pub(crate) fn new(p: ChanParams) -> Arc<ChanInner> {
        let mut st = ChanState {
            credit: [p.remote_window as i64; 2],
            ..ChanState::default()
        };
        for ib in &mut st.inb {
            ib.allowance = p.window as i64;
            ib.window = p.window;
        }
        Arc::new(ChanInner {
            id: p.id,
            service: p.service,
            headers: p.headers,
            local_peer: p.local_peer,
            remote_peer: p.remote_peer,
            remote: p.remote,
            tx: p.tx,
            conn: p.conn,
            max_frame: p.max_frame,
            window: p.window,
            small_limit: SMALL_FRAME.min(p.remote_window / 4).max(64),
            st: Mutex::new(st),
            rd: Notify::new(),
            wr: Notify::new(),
            wlock: [tokio::sync::Mutex::new(()), tokio::sync::Mutex::new(())],
            children: AcceptQueue::new(p.backlog),
            slot: p.slot,
            rt: tokio::runtime::Handle::current(),
            budget: p.budget,
            gate: p.gate,
            queued: AtomicU64::new(0),
        })
    }

    fn wake_all(&self) {
        self.rd.notify_waiters();
        self.wr.notify_waiters();
    }

    /// Start a flusher if none is running. Called with the state unlocked.
    fn kick(self: &Arc<Self>, start: bool) {
        if start {
            // Started by a thread outside the runtime (a binding's caller)?
            let foreign = tokio::runtime::Handle::try_current().is_err();
            let me = self.clone();
            self.rt.spawn(async move { me.flush_loop(foreign).await });
        }
    }

    /// In-process hand-over while nothing is queued (`st.idle()`): mark the
    /// channel as flushing, so that anything queued meanwhile waits behind
    /// us, release the lock and let `give` deliver to the remote channel.
    /// If it declined, `declined` queues the data instead. Returns whether a
    /// flusher must be started (something is queued); otherwise the channel
    /// is idle again and waiting writers are woken.
    fn hand_over(
        &self,
        mut st: MutexGuard<'_, ChanState>,
        give: impl FnOnce() -> bool,
        declined: impl FnOnce(&mut ChanState),
    ) -> bool {
        st.flushing = true;
        drop(st);
        let given = give();
        let mut st = lock(&self.st);
        if !given {
            declined(&mut st);
            return true;
        }
        if !st.outq.is_empty() || !st.tail.is_empty() {
            return true;
        }
        st.flushing = false;
        drop(st);
        self.wr.notify_waiters();
        false
    }

    /// For a writer on a thread outside the runtime (`foreign`: the C ABI
    /// and the bindings over it): before a flusher sends the small writes
    /// coalesced so far (other than the first ones it was started for, which
    /// go at once), it lets the writer add to them while the writer is still
    /// adding: it checks the coalescing buffer again after `sched_yield`
    /// (the writer may be waiting for this very CPU), until it stops
    /// growing, reaches FLUSH_WAIT_BELOW or FLUSH_WAIT_CHECKS checks were
    /// made. A writer that stopped (nothing coalesced: a request sent, now
    /// waiting for the reply) costs one check and no yield; a writer in full
    /// flow gets large transport sends instead of one per few frames. Such a
    /// writer runs in parallel with the flusher, which otherwise caught up
    /// every few frames: ~4 KiB sends, many more context switches and
    /// wake-ups per frame (BENCHMARKS.md, scenario 7). A writer that is a
    /// task on the runtime needs none of this: the flusher it starts runs
    /// only when the writer task yields, so its frames have coalesced
    /// already (and a task yield here, deferred by tokio until the worker
    /// polls for I/O, made a round trip several times slower).
    ///
    /// Only the first check takes the state's lock; the later ones read
    /// `queued`, so the waiting flusher never contends for the lock with the
    /// writer it waits for (with the lock, each check could stall the writer
    /// and send both threads into the futex path: in perf of scenario 7's Go
    /// frames program, try_small_frame, let_writer_add and lock_contended
    /// dominated the profile of its slow runs).
    fn let_writer_add(&self, foreign: bool) {
        if !foreign {
            return;
        }
        let (len, start) = {
            let st = lock(&self.st);
            if !st.outq.is_empty() {
                return;
            }
            (st.tail.len(), self.queued.load(Ordering::Relaxed))
        };
        if len == 0 || len >= FLUSH_WAIT_BELOW {
            return;
        }
        let mut last = start;
        for _ in 0..FLUSH_WAIT_CHECKS {
            std::thread::yield_now();
            let now = self.queued.load(Ordering::Relaxed);
            if now == last || len as u64 + now.wrapping_sub(start) >= FLUSH_WAIT_BELOW as u64 {
                return;
            }
            last = now;
        }
    }

    /// Account for `n` more bytes queued (see `queued`); `st` is locked.
    fn note_queued(&self, _st: &mut ChanState, n: usize) {
        let q = self.queued.load(Ordering::Relaxed);
        self.queued
            .store(q.wrapping_add(n as u64), Ordering::Relaxed);
    }

    /// `ChanState::push_small`, counted in `queued`.
    fn push_small(&self, st: &mut ChanState, s: u8, parts: &[&[u8]]) {
        st.push_small(s, parts);
        self.note_queued(st, parts.iter().map(|p| p.len()).sum());
    }

    /// Queue `o`; returns whether a flusher must be started. A flusher
    /// waiting for a writer (`let_writer_add`) sends at once.
    fn enqueue(&self, st: &mut ChanState, o: Out) -> bool {
        st.push(o);
        self.note_queued(st, FLUSH_WAIT_BELOW);
        !std::mem::replace(&mut st.flushing, true)
    }

    /// Drain the outgoing queue in order. One flusher runs at a time, so the
    /// transport sees data, trailers, FIN and CLOSE in the order they were
    /// queued, and small writes leave as large packets.
    async fn flush_loop(self: Arc<Self>, foreign: bool) {
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                self.let_writer_add(foreign);
            }
            let items: Vec<Out> = {
                let mut st = lock(&self.st);
                st.seal_tail();
                if st.outq.is_empty() {
                    st.flushing = false;
                    drop(st);
                    self.wr.notify_waiters();
                    return;
                }
                st.outq.drain(..).collect()
            };
            for it in items {
                let (r, was_close) = match it {
                    Out::Data(s, b) => {
                        if let Some(g) = &self.gate {
                            g.writable().await;
                        }
                        (self.tx.data(s, b).await, false)
                    }
                    Out::Ctl(c) => {
                        let is_close = matches!(c, Ctl::Close { .. });
                        (self.tx.ctl(c).await, is_close)
                    }
                };
                if let Err(e) = r {
                    {
                        let mut st = lock(&self.st);
                        st.outq.clear();
                        st.tail.clear();
                        st.flushing = false;
                        if st.fatal.is_none() {
                            st.fatal = Some(e);
                        }
                    }
                    self.wake_all();
                    return;
                }
                if was_close {
                    let finish = {
                        let mut st = lock(&self.st);
                        st.close_flushed = true;
                        let f = st.close_recv && !st.finished;
                        if f {
                            st.finished = true;
                        }
                        f
                    };
                    if finish {
                        self.release();
                    }
                }
            }
        }
    }

    /// Incoming bytes on stream 0 (data) or 1 (errors).
    pub(crate) fn on_data(&self, stream: u8, b: Bytes) {
        self.deliver(stream, false, || b);
    }

    /// [`on_data`](Self::on_data) with the bytes made by `make`; with
    /// `only_if_drained`, only if nothing is buffered on the stream (its
    /// reader has caught up): false, nothing made and nothing done,
    /// otherwise.
    fn deliver(&self, stream: u8, only_if_drained: bool, make: impl FnOnce() -> Bytes) -> bool {
        let s = usize::from(stream.min(1));
        let mut st = lock(&self.st);
        if only_if_drained && st.inb[s].len != 0 {
            return false;
        }
        let b = make();
        if st.close_sent || st.finished || st.fatal.is_some() {
            return true; // we are closing: discard
        }
        if st.fin_recv || st.close_recv {
            drop(st);
            self.protocol_violation("data received after the sender half-closed the channel");
            return true;
        }
        st.inb[s].allowance -= b.len() as i64;
        if st.inb[s].allowance < 0 {
            drop(st);
            self.protocol_violation("the sender exceeded its flow-control credit");
            return true;
        }
        let starved = st.inb[s].len == 0;
        st.inb[s].on_received(b.len(), starved, &self.budget);
        st.inb[s].push(b);
        drop(st);
        self.rd.notify_waiters();
        true
    }

    /// An incoming control message for this channel.
    pub(crate) fn on_ctl(&self, c: Ctl) {
        let mut finished = false;
        let mut start = false;
        {
            let mut st = lock(&self.st);
            if st.finished {
                return;
            }
            match c {
                Ctl::Credit { stream, bytes } if stream <= 1 => {
                    st.credit[usize::from(stream)] += i64::from(bytes);
                }
                Ctl::Credit { stream, .. } => {
                    drop(st);
                    self.protocol_violation(&format!("CREDIT for unknown stream {stream}"));
                    return;
                }
                Ctl::Trailers(t) => {
                    let bytes: usize = t.iter().map(|s| s.len() + 4).sum();
                    if st.trailers.len() + t.len() > crate::proto::MAX_LIST_ITEMS {
                        drop(st);
                        self.protocol_violation("more than 4096 trailers");
                        return;
                    }
                    if st.trailer_bytes + bytes > crate::proto::MAX_TRAILER_BYTES {
                        drop(st);
                        self.protocol_violation("more than 512 KiB of trailers");
                        return;
                    }
                    st.trailer_bytes += bytes;
                    st.trailers.extend(t);
                }
                Ctl::Fin => st.fin_recv = true,
                Ctl::Close { code, reason } => {
                    st.close_recv = true;
                    if code != close_code::NORMAL && st.fatal.is_none() {
                        let why = if reason.is_empty() {
                            "closed by the remote peer".to_string()
                        } else {
                            reason
                        };
                        st.fatal = Some(match code {
                            close_code::PROTOCOL => {
                                Error::Protocol(format!("remote peer closed the channel: {why}"))
                            }
                            _ => Error::Closed(format!("remote peer closed the channel: {why}")),
                        });
                    }
                    if !st.close_sent {
                        // Reply with our CLOSE after anything already queued.
                        st.close_sent = true;
                        start = self.enqueue(
                            &mut st,
                            Out::Ctl(Ctl::Close {
                                code: close_code::NORMAL,
                                reason: String::new(),
                            }),
                        );
                    } else if st.close_flushed {
                        st.finished = true;
                        finished = true;
                    }
                }
                Ctl::Hello { .. } | Ctl::Open { .. } => {
                    drop(st);
                    self.protocol_violation("unexpected HELLO/OPEN on an open channel");
                    return;
                }
            }
        }
        if start {
            if let Some(me) = self.self_arc() {
                me.kick(true);
            }
        }
        if finished {
            self.release();
        }
        if finished || start {
            self.children.close(Error::closed("parent channel closed"));
        }
        self.wake_all();
    }

    /// An owning `Arc` of this channel (through its connection's table or the
    /// inproc link); needed to start a flusher from `&self` contexts.
    fn self_arc(&self) -> Option<Arc<ChanInner>> {
        self.conn.upgrade().and_then(|c| c.chan_arc(self))
    }

    /// The channel is unusable: record why, tell the remote, wake everyone.
    pub(crate) fn protocol_violation(&self, why: &str) {
        tracing::warn!(channel = self.id, remote = %self.remote_peer, "closing channel: {why}");
        self.fail_with(Error::protocol(why.to_string()), close_code::PROTOCOL, true);
    }

    /// Fail the channel with `e`. If `notify_remote`, queue CLOSE with `code`
    /// (dropping data not yet sent); otherwise the connection is gone.
    pub(crate) fn fail_with(&self, e: Error, code: u32, notify_remote: bool) {
        let mut start = false;
        {
            let mut st = lock(&self.st);
            // A connection lost after the remote closed the channel cleanly
            // does not turn that clean end into an error.
            if st.fatal.is_none() && (notify_remote || !st.close_recv) {
                st.fatal = Some(e.clone());
            }
            if notify_remote {
                // A protocol violation: what is buffered cannot be trusted.
                st.inb[0].clear();
                st.inb[1].clear();
            }
            // (On connection loss, data received before the loss stays
            // readable; reads return the error once it is consumed.)
            if notify_remote {
                if !st.close_sent {
                    st.close_sent = true;
                    st.outq.retain(|o| matches!(o, Out::Ctl(_)));
                    st.tail.clear();
                    start = self.enqueue(
                        &mut st,
                        Out::Ctl(Ctl::Close {
                            code,
                            reason: e.message().to_string(),
                        }),
                    );
                }
            } else {
                st.outq.clear();
                st.tail.clear();
                st.close_recv = true;
                st.finished = true;
            }
        }
        if !notify_remote {
            self.release();
        }
        if start {
            match self.self_arc() {
                Some(me) => me.kick(true),
                None => {
                    // not registered (e.g. refused before delivery): send directly
                    let c = Ctl::Close {
                        code,
                        reason: e.message().to_string(),
                    };
                    let tx = self.tx.clone();
                    lock(&self.st).flushing = false;
                    tx.ctl_nowait(&self.rt, c);
                }
            }
        }
        self.children.close(e);
        self.wake_all();
    }

    /// Forget this channel in its connection once both sides have closed.
    fn release(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.channel_finished(self);
        }
    }

    fn closed_error(&self, st: &ChanState) -> Option<Error> {
        if st.user_closed {
            return Some(Error::closed(if st.peer_shutdown {
                "peer is shut down"
            } else {
                "channel is closed"
            }));
        }
        if let Some(e) = &st.fatal {
            return Some(e.clone());
        }
        None
    }

    fn write_error(&self, st: &ChanState) -> Option<Error> {
        if let Some(e) = self.closed_error(st) {
            return Some(e);
        }
        if st.close_recv || st.close_sent {
            return Some(Error::closed("the remote peer closed the channel"));
        }
        if st.fin_sent {
            return Some(Error::closed("channel is closed for writing"));
        }
        None
    }

    /// Return consumed credit to the sender once a quarter window is read.
    fn grant(self: &Arc<Self>, s: usize) {
        let start = {
            let mut st = lock(&self.st);
            if !Self::grant_due(&st, s) {
                return;
            }
            let ib = &mut st.inb[s];
            let now = Instant::now();
            ib.on_credit(now, &self.budget);
            let n = std::mem::take(&mut ib.unacked);
            if ib.probe.is_none() {
                ib.probe = Some((ib.received + ib.allowance as u64, now, ib.received));
            }
            ib.allowance += n as i64;
            // Through the ordered queue, so a CREDIT can never follow our CLOSE.
            self.enqueue(
                &mut st,
                Out::Ctl(Ctl::Credit {
                    stream: s as u8,
                    bytes: n as u32,
                }),
            )
        };
        self.kick(start);
    }

    /// Whether [`grant`](Self::grant) would send a CREDIT on stream `s` now.
    /// Reads check it under the lock they already hold and call `grant`
    /// only then: most reads owe nothing, and a second lock per read (taken
    /// while the session thread delivers into the same state) showed up in
    /// a frame reader's profile.
    fn grant_due(st: &ChanState, s: usize) -> bool {
        !(st.close_sent || st.close_recv) && st.inb[s].unacked >= st.inb[s].grant_threshold()
    }

    async fn wait_rd<T>(&self, mut f: impl FnMut(&mut ChanState) -> Option<T>) -> T {
        loop {
            {
                let mut st = lock(&self.st);
                if let Some(v) = f(&mut st) {
                    return v;
                }
            }
            let n = self.rd.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut st = lock(&self.st);
                if let Some(v) = f(&mut st) {
                    return v;
                }
            }
            n.await;
        }
    }

    async fn read(self: &Arc<Self>, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut due = false;
        let r = self
            .wait_rd(|st| {
                if let Some(e) = self.closed_error(st) {
                    if st.user_closed || st.inb[0].len == 0 {
                        return Some(Err(e));
                    }
                }
                if st.inb[0].len > 0 {
                    let n = st.inb[0].copy_out(buf);
                    due = Self::grant_due(st, 0);
                    return Some(Ok(n));
                }
                if st.fin_recv || st.close_recv {
                    return Some(Ok(0));
                }
                None
            })
            .await;
        if due {
            self.grant(0);
        }
        r
    }

    /// Read one frame from stream `s`.
    async fn read_frame(self: &Arc<Self>, s: usize) -> Result<Option<Bytes>> {
        self.read_frame_as(s, InBuf::take, |b| b).await
    }

    /// [`read_frame`](Self::read_frame) with the frame made by `take` or
    /// `whole` (see `InBuf::next_frame_as`).
    async fn read_frame_as<T>(
        self: &Arc<Self>,
        s: usize,
        take: fn(&mut InBuf, usize) -> T,
        whole: fn(Bytes) -> T,
    ) -> Result<Option<T>> {
        let max = self.max_frame;
        let window = self.window;
        loop {
            let mut due = false;
            let r = self
                .wait_rd(|st| {
                    if st.user_closed {
                        return Some(Err(Error::closed("channel is closed")));
                    }
                    match st.inb[s].next_frame_as(max, window, take, whole) {
                        Err(e) => return Some(Err(e)),
                        Ok(Some(f)) => {
                            due = Self::grant_due(st, s);
                            return Some(Ok(Some(f)));
                        }
                        Ok(None) => {}
                    }
                    if st.inb[s].unacked >= st.inb[s].grant_threshold() && st.inb[s].asm.is_some() {
                        // a large frame is being assembled: return credit so it can continue
                        return Some(Ok(None));
                    }
                    if let Some(e) = self.closed_error(st) {
                        return Some(Err(e));
                    }
                    if st.fin_recv || st.close_recv {
                        if st.inb[s].has_partial_frame() {
                            return Some(Err(Error::protocol(
                                "stream ended in the middle of a frame",
                            )));
                        }
                        return Some(Err(Error::Eof));
                    }
                    None
                })
                .await;
            match r {
                Ok(None) => {
                    self.grant(s);
                    continue;
                }
                Ok(Some(f)) => {
                    if due {
                        self.grant(s);
                    }
                    return Ok(Some(f));
                }
                Err(Error::Eof) => return Ok(None),
                Err(e) => {
                    if e.kind() == crate::ErrorKind::Protocol {
                        let already = lock(&self.st).fatal.is_some();
                        if !already {
                            self.protocol_violation(e.message());
                        }
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Copy whole frames of stream `s` into `buf` (see `Channel::read_frames`).
    async fn read_frames(
        self: &Arc<Self>,
        s: usize,
        buf: &mut [u8],
        max_frames: usize,
    ) -> Result<Option<usize>> {
        let max = self.max_frame;
        let window = self.window;
        let mut due = false;
        let r = self
            .wait_rd(|st| {
                if st.user_closed {
                    return Some(Err(Error::closed("channel is closed")));
                }
                let ib = &mut st.inb[s];
                if ib.asm.is_some() {
                    return Some(Ok(Some(0))); // a large frame being assembled: read_frame's
                }
                let (mut n, mut k) = (0, 0);
                while k < max_frames {
                    let Some(h) = ib.peek4() else { break };
                    let len = u32::from_be_bytes(h) as usize;
                    if len > max || 4 + len > buf.len() - n || ib.len < 4 + len {
                        break;
                    }
                    ib.copy_out(&mut buf[n..n + 4 + len]);
                    n += 4 + len;
                    k += 1;
                }
                if n > 0 {
                    due = Self::grant_due(st, s);
                    return Some(Ok(Some(n)));
                }
                if let Some(h) = ib.peek4() {
                    let len = u32::from_be_bytes(h) as usize;
                    // Too long for MAX_FRAME_SIZE (read_frame fails the
                    // channel), for `buf`, or to wait for in one piece.
                    if len > max || 4 + len > buf.len() || 4 + len > window / 2 {
                        return Some(Ok(Some(0)));
                    }
                }
                if let Some(e) = self.closed_error(st) {
                    return Some(Err(e));
                }
                if st.fin_recv || st.close_recv {
                    if st.inb[s].has_partial_frame() {
                        return Some(Ok(Some(0))); // read_frame reports the protocol error
                    }
                    return Some(Ok(None));
                }
                None
            })
            .await;
        if due {
            self.grant(s);
        }
        r
    }

    /// Wait for credit, then queue up to MAX_CHUNK bytes of `data` from `off`.
    /// Returns how many bytes were queued.
    async fn queue_piece(self: &Arc<Self>, s: usize, data: &Bytes, off: usize) -> Result<usize> {
        loop {
            let n = self.wr.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            let got = {
                let mut st = lock(&self.st);
                if let Some(e) = self.write_error(&st) {
                    return Err(e);
                }
                if st.credit[s] <= 0 {
                    None
                } else {
                    let k = (st.credit[s] as usize).min(data.len() - off).min(MAX_CHUNK);
                    st.credit[s] -= k as i64;
                    if k > COALESCE_PIECE && st.idle() {
                        if let Some(peer) = self.tx.inproc_peer() {
                            // In-process and nothing queued: hand the buffer straight
                            // over (no copy, no task hop).
                            let b = data.slice(off..off + k);
                            let start =
                                self.hand_over(st, || peer.deliver(s as u8, false, || b), |_| {});
                            self.kick(start);
                            return Ok(k);
                        }
                    }
                    let start = if k <= COALESCE_PIECE {
                        self.push_small(&mut st, s as u8, &[&data[off..off + k]]);
                        !std::mem::replace(&mut st.flushing, true)
                    } else {
                        self.enqueue(&mut st, Out::Data(s as u8, data.slice(off..off + k)))
                    };
                    Some((k, start))
                }
            };
            match got {
                Some((k, start)) => {
                    self.kick(start);
                    return Ok(k);
                }
                None => n.await,
            }
        }
    }

    async fn send_stream(self: &Arc<Self>, s: usize, data: Bytes) -> Result<()> {
        let mut off = 0;
        while off < data.len() {
            off += self.queue_piece(s, &data, off).await?;
        }
        Ok(())
    }

    /// Queue a small frame if credit allows and no large write is in
    /// progress: `Ok(Some(start_flusher))`, or `Ok(None)` to wait.
    fn try_small_frame(&self, s: usize, payload: &[u8], need: usize) -> Result<Option<bool>> {
        let mut st = lock(&self.st);
        if let Some(e) = self.write_error(&st) {
            return Err(e);
        }
        if st.large[s] || st.credit[s] < need as i64 {
            return Ok(None);
        }
        st.credit[s] -= need as i64;
        let hdr = crate::proto::frame_header(payload.len());
        if st.idle() {
            if let Some(peer) = self.tx.inproc_peer() {
                // In-process, nothing queued: if the remote reader has caught
                // up (it is waiting, latency matters), hand the frame over
                // now, on this thread, instead of starting a flusher task
                // (whose spawn wakes another worker thread). A reader that is
                // behind gets coalesced frames from the flusher as usual.
                let give = || {
                    peer.deliver(s as u8, true, || {
                        let mut b = BytesMut::with_capacity(need);
                        b.extend_from_slice(&hdr);
                        b.extend_from_slice(payload);
                        b.freeze()
                    })
                };
                return Ok(Some(self.hand_over(st, give, |st| {
                    self.push_small(st, s as u8, &[&hdr, payload])
                })));
            }
        }
        self.push_small(&mut st, s as u8, &[&hdr, payload]);
        Ok(Some(!std::mem::replace(&mut st.flushing, true)))
    }

    /// Queue a frame without waiting, all or nothing (see `Channel::try_write_frame`).
    fn try_write_frame(self: &Arc<Self>, s: usize, payload: &[u8]) -> Result<bool> {
        let need = 4 + payload.len();
        if need > self.small_limit {
            let st = lock(&self.st);
            return match self.write_error(&st) {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        match self.try_small_frame(s, payload, need)? {
            Some(start) => {
                self.kick(start);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn write_frame(self: &Arc<Self>, s: usize, payload: &[u8]) -> Result<()> {
        if payload.len() > u32::MAX as usize {
            return Err(Error::invalid("frame larger than 4 GiB"));
        }
        let need = 4 + payload.len();
        if need <= self.small_limit {
            // Fast path: one short critical section, no async lock; the frame
            // is coalesced with its neighbours into large transport sends.
            loop {
                if let Some(start) = self.try_small_frame(s, payload, need)? {
                    self.kick(start);
                    return Ok(());
                }
                let n = self.wr.notified();
                tokio::pin!(n);
                n.as_mut().enable();
                if let Some(start) = self.try_small_frame(s, payload, need)? {
                    self.kick(start);
                    return Ok(());
                }
                n.await;
            }
        }
        let _g = self.wlock[s].lock().await;
        let _l = self.large_write(s);
        self.send_stream(
            s,
            Bytes::copy_from_slice(&crate::proto::frame_header(payload.len())),
        )
        .await?;
        self.send_stream(s, Bytes::copy_from_slice(payload)).await
    }

    /// Mark a multi-piece write on stream `s` until the guard is dropped
    /// (also when the write fails or its future is cancelled).
    fn large_write(&self, s: usize) -> LargeWrite<'_> {
        lock(&self.st).large[s] = true;
        LargeWrite { ch: self, s }
    }

    /// Queue a control message after the data written so far.
    fn queue_ctl(self: &Arc<Self>, c: Ctl, mark: impl FnOnce(&mut ChanState)) -> Result<()> {
        let start = {
            let mut st = lock(&self.st);
            if let Some(e) = self.write_error(&st) {
                return Err(e);
            }
            mark(&mut st);
            self.enqueue(&mut st, Out::Ctl(c))
        };
        self.kick(start);
        Ok(())
    }

    fn close(self: &Arc<Self>) -> Result<()> {
        let start;
        {
            let mut st = lock(&self.st);
            if st.user_closed {
                return Ok(());
            }
            st.user_closed = true;
            st.inb[0].clear();
            st.inb[1].clear();
            if st.close_sent {
                start = false;
            } else {
                st.close_sent = true;
                start = self.enqueue(
                    &mut st,
                    Out::Ctl(Ctl::Close {
                        code: close_code::NORMAL,
                        reason: String::new(),
                    }),
                );
            }
        }
        self.kick(start);
        self.wake_all();
        self.children.close(Error::closed("parent channel closed"));
        Ok(())
    }

    /// Close because the peer shuts down. A channel the application had not
    /// closed is closed with code SHUTDOWN, so its remote reads what was sent
    /// and then a closed error — never a clean end of stream that would make a
    /// cut-off transfer look complete.
    pub(crate) fn close_for_shutdown(self: &Arc<Self>) {
        let start = {
            let mut st = lock(&self.st);
            if st.user_closed {
                return;
            }
            st.user_closed = true;
            st.peer_shutdown = true;
            st.inb[0].clear();
            st.inb[1].clear();
            if st.close_sent {
                false
            } else {
                st.close_sent = true;
                // Code 3 makes the remote report a closed error after the data,
                // so a cut-off transfer never looks complete. A channel whose
                // application already half-closed it sent everything it meant
                // to (FIN is queued before this): a normal close, so the
                // remote reads a clean end of stream.
                let c = if st.fin_sent {
                    Ctl::Close {
                        code: close_code::NORMAL,
                        reason: String::new(),
                    }
                } else {
                    Ctl::Close {
                        code: close_code::SHUTDOWN,
                        reason: "peer shut down".into(),
                    }
                };
                self.enqueue(&mut st, Out::Ctl(c))
            }
        };
        self.kick(start);
        self.wake_all();
        self.children.close(Error::closed("peer is shut down"));
    }

    /// Wait until everything queued so far has been handed to the transport.
    async fn flushed(&self) {
        loop {
            let n = self.wr.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let st = lock(&self.st);
                if !st.flushing || st.fatal.is_some() {
                    return;
                }
            }
            n.await;
        }
    }

    /// Both CLOSEs happened (ours may still be in the output queue).
    pub(crate) fn closed_both_ways(&self) -> bool {
        let st = lock(&self.st);
        st.close_sent && st.close_recv
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.st).finished
    }
}

struct LargeWrite<'a> {
    ch: &'a ChanInner,
    s: usize,
}

impl Drop for LargeWrite<'_> {
    fn drop(&mut self) {
        lock(&self.ch.st).large[self.s] = false;
        self.ch.wr.notify_waiters();
    }
}

/// Metadata of a channel: what it was opened with, and who is on each end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMeta {
    /// The service name given to `open`.
    pub service: String,
    /// The headers given to `open`, in order.
    pub headers: Vec<String>,
    /// Trailers received so far (complete once the remote closed or closed for writing).
    pub trailers: Vec<String>,
    /// This peer's name.
    pub local_peer: String,
    /// The remote peer's name.
    pub remote_peer: String,
    remote_key: String,
    remote_fingerprint: String,
}

impl ChannelMeta {
    /// The remote's public key as authenticated, one OpenSSH line without
    /// comment (`ssh-ed25519 AAAA...`); for `inproc://`, the other peer's own
    /// key (empty if it has none that can be loaded).
    pub fn remote_key(&self) -> String {
        self.remote_key.clone()
    }

    /// The SHA256 fingerprint of [`remote_key`](Self::remote_key), exactly as
    /// `ssh-keygen -lf` prints it (`SHA256:` + unpadded base64).
    pub fn remote_fingerprint(&self) -> String {
        self.remote_fingerprint.clone()
    }
}

struct ChanHandle {
    inner: Arc<ChanInner>,
}

impl Drop for ChanHandle {
    fn drop(&mut self) {
        let _ = self.inner.close();
    }
}

/// A bidirectional stream between two peers.
///
/// Cloning gives another handle to the same channel. When the last handle is
/// dropped the channel is closed.
///
/// ```no_run
/// # async fn demo(peer: streamkit_core::Peer) -> streamkit_core::Result<()> {
/// let ch = peer.open("server", "echo", &["lang=en".to_string()]).await?;
/// ch.write_frame(b"hello").await?;
/// let reply = ch.read_frame().await?; // Some(frame) or None at end of stream
/// ch.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    h: Arc<ChanHandle>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.h.inner.fmt(f)
    }
}

impl Channel {
    pub(crate) fn from_inner(inner: Arc<ChanInner>) -> Channel {
        Channel {
            h: Arc::new(ChanHandle { inner }),
        }
    }

    fn i(&self) -> &Arc<ChanInner> {
        &self.h.inner
    }

    /// Service, headers, trailers received so far, and both peer names.
    pub fn meta(&self) -> ChannelMeta {
        let i = self.i();
        ChannelMeta {
            service: i.service.clone(),
            headers: i.headers.clone(),
            trailers: self.trailers(),
            local_peer: i.local_peer.clone(),
            remote_peer: i.remote_peer.clone(),
            remote_key: i.remote.key.clone(),
            remote_fingerprint: i.remote.fingerprint.clone(),
        }
    }

    /// See [`ChannelMeta::remote_key`].
    pub fn remote_key(&self) -> &str {
        &self.i().remote.key
    }

    /// See [`ChannelMeta::remote_fingerprint`].
    pub fn remote_fingerprint(&self) -> &str {
        &self.i().remote.fingerprint
    }

    /// The service name this channel was opened with.
    pub fn service(&self) -> &str {
        &self.i().service
    }

    /// The headers this channel was opened with.
    pub fn headers(&self) -> &[String] {
        &self.i().headers
    }

    /// This peer's name.
    pub fn local_peer(&self) -> &str {
        &self.i().local_peer
    }

    /// The remote peer's name.
    pub fn remote_peer(&self) -> &str {
        &self.i().remote_peer
    }

    /// Trailers received so far.
    pub fn trailers(&self) -> Vec<String> {
        lock(&self.i().st).trailers.clone()
    }

    /// Read up to `buf.len()` bytes of the byte stream; `Ok(0)` at end of stream.
    /// Cancel-safe: if the future is dropped, no data is lost.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.i().read(buf).await
    }

    /// Write all of `data` to the byte stream, waiting for flow-control credit
    /// as needed. Returns `data.len()`.
    pub async fn write(&self, data: &[u8]) -> Result<usize> {
        self.write_bytes(Bytes::copy_from_slice(data)).await
    }

    /// Write an owned buffer without copying it.
    pub async fn write_bytes(&self, data: Bytes) -> Result<usize> {
        let i = self.i();
        let n = data.len();
        let _g = i.wlock[0].lock().await;
        let _l = i.large_write(0);
        i.send_stream(0, data).await?;
        Ok(n)
    }

    /// Write one frame: a 4-byte big-endian length, then `payload`.
    pub async fn write_frame(&self, payload: &[u8]) -> Result<()> {
        self.i().write_frame(0, payload).await
    }

    /// Write one frame only if that needs no waiting, all or nothing:
    /// `Ok(true)` if it was queued (exactly as `write_frame` would have),
    /// `Ok(false)` if nothing was written because `write_frame` would have to
    /// wait (the remote's window is full, a large write is in progress, or the
    /// frame is over 16 KiB or a quarter of the remote's window, which always
    /// take the waiting path). For callers that cannot poll a future, e.g. a
    /// binding's fast path: on `false`, call `write_frame`. Errors as
    /// `write_frame`.
    pub fn try_write_frame(&self, payload: &[u8]) -> Result<bool> {
        self.i().try_write_frame(0, payload)
    }

    /// `try_write_frame` for an error frame (see `write_error`).
    pub fn try_write_error(&self, payload: &[u8]) -> Result<bool> {
        self.i().try_write_frame(1, payload)
    }

    /// Read one frame; `Ok(None)` at a clean end of stream. A declared length
    /// over MAX_FRAME_SIZE fails with a protocol error and closes the channel.
    /// Cancel-safe.
    ///
    /// The frame usually shares memory with the SSH packet it arrived in
    /// (packets of 16 KiB or more are carved from 128 KiB receive slabs):
    /// keeping a small frame for long keeps that memory allocated. Copy it
    /// (`Bytes::copy_from_slice`) if you store it.
    pub async fn read_frame(&self) -> Result<Option<Bytes>> {
        self.i().read_frame(0).await
    }

    /// [`read_frame`](Self::read_frame) into a new `Vec`: the frame is
    /// copied once and no reference to the receive memory is kept. For a
    /// caller that copies every frame anyway (to store it, or to hand it to
    /// another language), this is cheaper than `read_frame` and a copy: it
    /// takes no reference to the shared receive slab (two atomic updates of
    /// a counter the connection's thread updates too). Cancel-safe.
    pub async fn read_frame_vec(&self) -> Result<Option<Vec<u8>>> {
        self.i().read_frame_as(0, InBuf::take_vec, Vec::from).await
    }

    /// Read several frames at once: wait like `read_frame` until at least
    /// one whole frame is buffered (or the stream ends), then copy whole
    /// frames, up to `max_frames` and as many as fit, into `buf` exactly as
    /// they are on the stream (a 4-byte big-endian length, then the
    /// payload, each). Returns `Ok(Some(n))` with the `n` bytes copied;
    /// `Ok(Some(0))` when nothing was read because the next frame must be
    /// read with `read_frame` (it is longer than `buf`, over
    /// MAX_FRAME_SIZE, too long to wait for in one piece, or the stream
    /// ends inside it: `read_frame` returns it or the error); `Ok(None)` at
    /// a clean end of stream. Errors and cancel-safety as `read_frame`.
    pub async fn read_frames(&self, buf: &mut [u8], max_frames: usize) -> Result<Option<usize>> {
        self.i().read_frames(0, buf, max_frames).await
    }

    /// Put bytes taken from the byte stream back in front of it, so that
    /// the next read (bytes or frame) returns them first: for a binding
    /// that read frames ahead with `read_frames` and must hand the rest to
    /// a byte read. The bytes count against nothing (credit already
    /// granted for them stays granted), so only give back what was read
    /// from this channel. Does nothing on a closed channel.
    pub fn unread(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let i = self.i();
        {
            let mut st = lock(&i.st);
            if st.user_closed {
                return;
            }
            st.inb[0].push_front(Bytes::copy_from_slice(data));
        }
        i.rd.notify_waiters();
    }

    /// Send an error frame (SSH extended data, type 1).
    pub async fn write_error(&self, payload: &[u8]) -> Result<()> {
        self.i().write_frame(1, payload).await
    }

    /// Read one error frame; `Ok(None)` once the remote has half-closed or closed.
    pub async fn read_error(&self) -> Result<Option<Bytes>> {
        self.i().read_frame(1).await
    }

    /// Half-close: the remote reads end of stream after the data sent so far.
    /// Reading from this side continues to work.
    pub async fn close_write(&self) -> Result<()> {
        let i = self.i();
        let _g0 = i.wlock[0].lock().await;
        let _g1 = i.wlock[1].lock().await;
        {
            let st = lock(&i.st);
            if st.fin_sent
                && i.write_error(&st)
                    .is_some_and(|_| !st.user_closed && st.fatal.is_none() && !st.close_sent)
            {
                return Ok(());
            }
        }
        i.queue_ctl(Ctl::Fin, |st| st.fin_sent = true)?;
        i.flushed().await;
        Ok(())
    }

    /// Send trailers (`key=value` strings). The remote can read them once this
    /// side closes or closes for writing.
    pub async fn write_trailers(&self, trailers: &[String]) -> Result<()> {
        if trailers.len() > crate::proto::MAX_LIST_ITEMS {
            return Err(Error::invalid(format!(
                "too many trailers ({}; the limit is {})",
                trailers.len(),
                crate::proto::MAX_LIST_ITEMS
            )));
        }
        let total: usize = trailers.iter().map(|t| t.len() + 4).sum();
        let i = self.i();
        let _g0 = i.wlock[0].lock().await;
        {
            // The receiver keeps at most this much over the channel's life
            // (PROTOCOL.md 11.1): refuse here, in the caller's words, rather
            // than have the remote close the channel.
            let mut st = lock(&i.st);
            let (n, b) = st.trailers_sent;
            if n + trailers.len() > crate::proto::MAX_LIST_ITEMS
                || b + total > crate::proto::MAX_TRAILER_BYTES
            {
                return Err(Error::invalid(format!(
                    "trailers over the channel's limit: {} trailers and {} bytes sent so far, \
                     at most {} trailers and 512 KiB in all",
                    n,
                    b,
                    crate::proto::MAX_LIST_ITEMS
                )));
            }
            st.trailers_sent = (n + trailers.len(), b + total);
        }
        i.queue_ctl(Ctl::Trailers(trailers.to_vec()), |_| {})
    }

    /// Close the channel in both directions. Unread incoming data is
    /// discarded; blocked calls on this channel return a closed error.
    /// Closing twice is not an error.
    pub async fn close(&self) -> Result<()> {
        let i = self.i();
        i.close()?;
        i.flushed().await;
        Ok(())
    }

    /// Open a child channel inside this one; the remote receives it from
    /// [`Channel::accept`] on its end of this channel, never from `Peer::accept`.
    pub async fn open(&self, service: &str, headers: &[String]) -> Result<Channel> {
        let i = self.i();
        {
            let st = lock(&i.st);
            if let Some(e) = i.closed_error(&st) {
                return Err(e);
            }
            if st.close_recv || st.close_sent {
                return Err(Error::closed("the parent channel is closed"));
            }
        }
        let conn = i
            .conn
            .upgrade()
            .ok_or_else(|| Error::closed("connection is gone"))?;
        conn.open(i.id, service, headers).await
    }

    /// Wait for a child channel opened by the remote through this channel.
    pub async fn accept(&self) -> Result<Channel> {
        self.i().children.pop().await
    }

    /// Splice this channel with `io` in both directions until both ends have
    /// finished (EOF each way), then close the channel.
    pub async fn join<S>(&self, io: S) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Send,
    {
        let (mut r, mut w) = tokio::io::split(io);
        let up = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    return self.close_write().await;
                }
                self.write(&buf[..n]).await?;
            }
        };
        let down = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = self.read(&mut buf).await?;
                if n == 0 {
                    let _ = w.shutdown().await;
                    return Ok::<(), Error>(());
                }
                w.write_all(&buf[..n]).await?;
            }
        };
        tokio::pin!(up);
        tokio::pin!(down);
        // The first error ends both directions; a remote that closed the
        // channel outright (not just half-closed) ends the splice too.
        let r = tokio::select! {
            a = &mut up => match a {
                Ok(()) => down.await,
                Err(e) => Err(e),
            },
            b = &mut down => match b {
                Ok(()) if lock(&self.i().st).close_recv => Ok(()),
                Ok(()) => up.await,
                Err(e) => Err(e),
            },
        };
        let _ = self.close().await;
        r
    }

    /// True once both sides have closed the channel.
    pub fn is_closed(&self) -> bool {
        self.i().is_finished()
    }

    /// A connection-unique id (also the id in the wire protocol).
    pub fn id(&self) -> u64 {
        self.i().id
    }

    /// The current receive window of the data stream, in bytes: at most this
    /// much of the remote's data is ever buffered here unread. It starts at
    /// the `ChannelWindow` option and grows (up to the connection's
    /// `WindowBudget`) while the window, not this reader, is what holds the
    /// sender back: on long, fast links or when every credit's round trip
    /// costs scheduling latency (docs/PROTOCOL.md §10.6).
    pub fn receive_window(&self) -> usize {
        lock(&self.i().st).inb[0].window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            probe: Some((limit, Instant::now() - ago, base)),
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
        ib.on_received(1000, true, &budget);
        assert!(
            ib.probe.is_some(),
            "the sender may send up to the old limit without our CREDIT"
        );
        assert_eq!(ib.window, 1000);
        ib.on_received(1, true, &budget);
        assert!(ib.probe.is_none());
        assert!(
            ib.rtt_min.is_some_and(|r| r >= Duration::from_millis(1)),
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
        ib.on_received(10, true, &budget);
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
        ib.on_received(10, false, &budget);
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
        ib.on_received(10, true, &budget);
        assert_eq!(ib.window, STARVED_GROWTH_MAX);
        let mut ib = probing(
            STARVED_GROWTH_MAX / 2,
            100,
            100,
            Duration::from_micros(200),
            99,
            Some(Duration::from_micros(150)),
        );
        ib.on_received(10, true, &budget);
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
        ib.on_received(10, true, &budget);
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
        ib.on_received(1, false, &budget);
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
        ib.on_received(1, false, &budget);
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
        ib.on_received(1, true, &budget);
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
        ib.on_received(1, true, &budget);
        assert_eq!(ib.window, 4096, "an exhausted budget leaves windows fixed");
        budget.give_back(1000);
        assert_eq!(budget.take(5000), 1000);
    }
}
