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
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// Largest chunk handed to the transport in one send.
const MAX_CHUNK: usize = 64 * 1024;
/// Frames up to this size are copied into one buffer with their header.
const SMALL_FRAME: usize = 16 * 1024;

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
                None => Err(Error::closed("the other end of the in-process channel is gone")),
            },
        }
    }

    pub(crate) async fn ctl(&self, c: Ctl) -> Result<()> {
        match self {
            Tx::SshClient(w) => w.extended_data_bytes(EXT_CONTROL, c.encode()).await.map_err(lost),
            Tx::SshServer(w) => w.extended_data_bytes(EXT_CONTROL, c.encode()).await.map_err(lost),
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
}

impl InBuf {
    fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.q.push_back(b);
    }

    fn copy_out(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(front) = self.q.front_mut() else { break };
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
        self.len -= n;
        self.unacked += n;
        if let Some(front) = self.q.front_mut() {
            if front.len() >= n {
                let b = front.split_to(n);
                if front.is_empty() {
                    self.q.pop_front();
                }
                return b;
            }
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let Some(front) = self.q.front_mut() else { break };
            let k = front.len().min(n - out.len());
            out.extend_from_slice(&front[..k]);
            front.advance(k);
            if front.is_empty() {
                self.q.pop_front();
            }
        }
        out.freeze()
    }

    fn clear(&mut self) {
        self.q.clear();
        self.len = 0;
        self.asm = None;
    }

    /// Try to complete one frame. `Err` on an oversized length.
    fn next_frame(&mut self, max: usize, window: usize) -> Result<Option<Bytes>> {
        if self.asm.is_none() {
            let Some(h) = self.peek4() else { return Ok(None) };
            let n = u32::from_be_bytes(h) as usize;
            if n > max {
                return Err(Error::protocol(format!(
                    "incoming frame of {n} bytes exceeds MAX_FRAME_SIZE ({max} bytes)"
                )));
            }
            if self.len >= 4 + n {
                self.take(4);
                return Ok(Some(self.take(n)));
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
                return Ok(Some(buf.freeze()));
            }
        }
        Ok(None)
    }

    fn has_partial_frame(&self) -> bool {
        self.asm.is_some() || self.len > 0
    }
}

#[derive(Debug, Default)]
struct ChanState {
    inb: [InBuf; 2],
    credit: [i64; 2],
    fin_recv: bool,
    fin_sent: bool,
    close_recv: bool,
    close_sent: bool,
    /// The application called close().
    user_closed: bool,
    finished: bool,
    /// A fatal error (protocol violation, connection lost, peer shut down).
    fatal: Option<Error>,
    trailers: Vec<String>,
}

/// A queue of accepted-but-not-yet-taken channels (the peer's or a parent
/// channel's), bounded by the accept backlog.
#[derive(Debug)]
pub(crate) struct AcceptQueue {
    q: Mutex<(VecDeque<Channel>, Option<Error>)>,
    notify: Notify,
    cap: usize,
}

impl AcceptQueue {
    pub(crate) fn new(cap: usize) -> Self {
        AcceptQueue { q: Mutex::new((VecDeque::new(), None)), notify: Notify::new(), cap }
    }

    /// Queue a channel; gives it back if the queue is full or closed.
    pub(crate) fn push(&self, c: Channel) -> std::result::Result<(), (Channel, &'static str)> {
        let mut q = lock(&self.q);
        if q.1.is_some() {
            return Err((c, "not accepting channels (closed)"));
        }
        if q.0.len() >= self.cap {
            return Err((c, "accept backlog full"));
        }
        q.0.push_back(c);
        drop(q);
        self.notify.notify_one();
        Ok(())
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
    pub(crate) tx: Arc<Tx>,
    conn: Weak<Conn>,
    max_frame: usize,
    window: usize,
    st: Mutex<ChanState>,
    rd: Notify,
    wr: Notify,
    wlock: [tokio::sync::Mutex<()>; 2],
    pub(crate) children: AcceptQueue,
    pub(crate) slot: Option<russh::ChannelId>,
    rt: tokio::runtime::Handle,
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
    pub tx: Arc<Tx>,
    pub conn: Weak<Conn>,
    pub max_frame: usize,
    pub window: usize,
    pub remote_window: usize,
    pub backlog: usize,
    pub slot: Option<russh::ChannelId>,
}

impl ChanInner {
    pub(crate) fn new(p: ChanParams) -> Arc<ChanInner> {
        let mut st = ChanState::default();
        st.credit = [p.remote_window as i64; 2];
        st.inb[0].allowance = p.window as i64;
        st.inb[1].allowance = p.window as i64;
        Arc::new(ChanInner {
            id: p.id,
            service: p.service,
            headers: p.headers,
            local_peer: p.local_peer,
            remote_peer: p.remote_peer,
            tx: p.tx,
            conn: p.conn,
            max_frame: p.max_frame,
            window: p.window,
            st: Mutex::new(st),
            rd: Notify::new(),
            wr: Notify::new(),
            wlock: [tokio::sync::Mutex::new(()), tokio::sync::Mutex::new(())],
            children: AcceptQueue::new(p.backlog),
            slot: p.slot,
            rt: tokio::runtime::Handle::current(),
        })
    }

    fn wake_all(&self) {
        self.rd.notify_waiters();
        self.wr.notify_waiters();
    }

    /// Incoming bytes on stream 0 (data) or 1 (errors).
    pub(crate) fn on_data(&self, stream: u8, b: Bytes) {
        let s = usize::from(stream.min(1));
        let mut st = lock(&self.st);
        if st.close_sent || st.finished || st.fatal.is_some() {
            return; // we are closing: discard
        }
        if st.fin_recv || st.close_recv {
            drop(st);
            self.protocol_violation("data received after the sender half-closed the channel");
            return;
        }
        st.inb[s].allowance -= b.len() as i64;
        if st.inb[s].allowance < 0 {
            drop(st);
            self.protocol_violation("the sender exceeded its flow-control credit");
            return;
        }
        st.inb[s].push(b);
        drop(st);
        self.rd.notify_waiters();
    }

    /// An incoming control message for this channel.
    pub(crate) fn on_ctl(&self, c: Ctl) {
        let mut finished = false;
        let mut reply_close = false;
        {
            let mut st = lock(&self.st);
            if st.finished {
                return;
            }
            match c {
                Ctl::Credit { stream, bytes } => {
                    let s = usize::from(stream.min(1));
                    st.credit[s] += i64::from(bytes);
                }
                Ctl::Trailers(t) => {
                    if st.trailers.len() + t.len() <= crate::proto::MAX_LIST_ITEMS {
                        st.trailers.extend(t);
                    }
                }
                Ctl::Fin => st.fin_recv = true,
                Ctl::Close { code, reason } => {
                    st.close_recv = true;
                    if code != close_code::NORMAL && st.fatal.is_none() {
                        let why = if reason.is_empty() { "closed by the remote peer".to_string() } else { reason };
                        st.fatal = Some(match code {
                            close_code::PROTOCOL => Error::Protocol(format!("remote peer closed the channel: {why}")),
                            _ => Error::Closed(format!("remote peer closed the channel: {why}")),
                        });
                    }
                    if !st.close_sent {
                        st.close_sent = true;
                        reply_close = true;
                    }
                    st.finished = true;
                    finished = true;
                }
                Ctl::Hello { .. } | Ctl::Open { .. } => {
                    drop(st);
                    self.protocol_violation("unexpected HELLO/OPEN on an open channel");
                    return;
                }
            }
        }
        if reply_close {
            self.tx.ctl_nowait(&self.rt, Ctl::Close { code: close_code::NORMAL, reason: String::new() });
        }
        if finished {
            self.children.close(Error::closed("parent channel closed"));
            self.release();
        }
        self.wake_all();
    }

    /// The channel is unusable: record why, tell the remote, wake everyone.
    pub(crate) fn protocol_violation(&self, why: &str) {
        tracing::warn!(channel = self.id, remote = %self.remote_peer, "closing channel: {why}");
        self.fail_with(Error::protocol(why.to_string()), close_code::PROTOCOL, true);
    }

    /// Fail the channel with `e`. If `notify_remote`, send CLOSE with `code`.
    pub(crate) fn fail_with(&self, e: Error, code: u32, notify_remote: bool) {
        let send_close;
        {
            let mut st = lock(&self.st);
            if st.fatal.is_none() {
                st.fatal = Some(e.clone());
            }
            send_close = notify_remote && !st.close_sent;
            if send_close {
                st.close_sent = true;
            }
            if !notify_remote {
                st.close_recv = true;
                st.finished = true;
            }
        }
        if send_close {
            self.tx.ctl_nowait(&self.rt, Ctl::Close { code, reason: e.message().to_string() });
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
        if let Some(e) = &st.fatal {
            return Some(e.clone());
        }
        if st.user_closed {
            return Some(Error::closed("channel is closed"));
        }
        None
    }

    fn write_error(&self, st: &ChanState) -> Option<Error> {
        if let Some(e) = self.closed_error(st) {
            return Some(e);
        }
        if st.close_sent {
            return Some(Error::closed("channel is closed"));
        }
        if st.close_recv {
            return Some(Error::closed("the remote peer closed the channel"));
        }
        if st.fin_sent {
            return Some(Error::closed("channel is closed for writing"));
        }
        None
    }

    async fn grant(&self, s: usize) {
        let credit = {
            let mut st = lock(&self.st);
            let threshold = (self.window / 4).max(1);
            if st.close_sent || st.close_recv || st.inb[s].unacked < threshold {
                return;
            }
            let n = std::mem::take(&mut st.inb[s].unacked);
            st.inb[s].allowance += n as i64;
            n
        };
        let _ = self.tx.ctl(Ctl::Credit { stream: s as u8, bytes: credit as u32 }).await;
    }

    async fn wait_rd<T>(&self, mut f: impl FnMut(&mut ChanState) -> Option<T>) -> T {
        loop {
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

    async fn read(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = self
            .wait_rd(|st| {
                if st.inb[0].len > 0 {
                    return Some(Ok(st.inb[0].copy_out(buf)));
                }
                if let Some(e) = self.closed_error(st) {
                    return Some(Err(e));
                }
                if st.fin_recv || st.close_recv {
                    return Some(Ok(0));
                }
                None
            })
            .await;
        self.grant(0).await;
        r
    }

    /// Read one frame from stream `s`.
    async fn read_frame(&self, s: usize) -> Result<Option<Bytes>> {
        let max = self.max_frame;
        let window = self.window;
        let mut granted_midway = false;
        loop {
            let r = self
                .wait_rd(|st| {
                    match st.inb[s].next_frame(max, window) {
                        Err(e) => return Some(Err(e)),
                        Ok(Some(f)) => return Some(Ok(Some(f))),
                        Ok(None) => {}
                    }
                    if st.inb[s].unacked >= (window / 4).max(1) && st.inb[s].asm.is_some() {
                        // a large frame is being assembled: return credit so it can continue
                        return Some(Ok(None));
                    }
                    if let Some(e) = self.closed_error(st) {
                        return Some(Err(e));
                    }
                    if st.fin_recv || st.close_recv {
                        if st.inb[s].has_partial_frame() {
                            return Some(Err(Error::protocol("stream ended in the middle of a frame")));
                        }
                        return Some(Err(Error::Eof));
                    }
                    None
                })
                .await;
            match r {
                Ok(None) => {
                    granted_midway = true;
                    self.grant(s).await;
                    continue;
                }
                Ok(Some(f)) => {
                    self.grant(s).await;
                    return Ok(Some(f));
                }
                Err(Error::Eof) => return Ok(None),
                Err(e) => {
                    let _ = granted_midway;
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

    /// Wait for up to `want` bytes of credit on stream `s`.
    async fn reserve(&self, s: usize, want: usize) -> Result<usize> {
        loop {
            let n = self.wr.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut st = lock(&self.st);
                if let Some(e) = self.write_error(&st) {
                    return Err(e);
                }
                if st.credit[s] > 0 {
                    let k = (st.credit[s] as usize).min(want).min(MAX_CHUNK);
                    st.credit[s] -= k as i64;
                    return Ok(k);
                }
            }
            n.await;
        }
    }

    async fn send_stream(&self, s: usize, data: Bytes) -> Result<()> {
        let mut off = 0;
        while off < data.len() {
            let k = self.reserve(s, data.len() - off).await?;
            self.tx.data(s as u8, data.slice(off..off + k)).await?;
            off += k;
        }
        Ok(())
    }

    async fn write_frame(&self, s: usize, payload: &[u8]) -> Result<()> {
        if payload.len() > u32::MAX as usize {
            return Err(Error::invalid("frame larger than 4 GiB"));
        }
        let _g = self.wlock[s].lock().await;
        if payload.len() <= SMALL_FRAME {
            let mut b = BytesMut::with_capacity(4 + payload.len());
            b.extend_from_slice(&crate::proto::frame_header(payload.len()));
            b.extend_from_slice(payload);
            self.send_stream(s, b.freeze()).await
        } else {
            self.send_stream(s, Bytes::copy_from_slice(&crate::proto::frame_header(payload.len()))).await?;
            self.send_stream(s, Bytes::copy_from_slice(payload)).await
        }
    }

    async fn send_ctl_checked(&self, c: Ctl, mark: impl FnOnce(&mut ChanState)) -> Result<()> {
        {
            let mut st = lock(&self.st);
            if let Some(e) = self.write_error(&st) {
                return Err(e);
            }
            mark(&mut st);
        }
        self.tx.ctl(c).await
    }

    async fn close(&self) -> Result<()> {
        let _g0 = self.wlock[0].try_lock();
        let finished;
        let was_sent;
        {
            let mut st = lock(&self.st);
            if st.user_closed {
                return Ok(());
            }
            st.user_closed = true;
            was_sent = st.close_sent;
            st.close_sent = true;
            st.inb[0].clear();
            st.inb[1].clear();
            finished = st.close_recv;
            if finished {
                st.finished = true;
            }
        }
        self.wake_all();
        self.children.close(Error::closed("parent channel closed"));
        if !was_sent {
            // A close on a dead connection is still a successful local close.
            let _ = self.tx.ctl(Ctl::Close { code: close_code::NORMAL, reason: String::new() }).await;
        }
        if finished {
            self.release();
        }
        Ok(())
    }

    /// Close without waiting (used when the last handle is dropped).
    fn close_nowait(self: &Arc<Self>) {
        let me = self.clone();
        let already = lock(&self.st).user_closed;
        if !already {
            self.rt.spawn(async move {
                let _ = me.close().await;
            });
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.st).finished
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
}

struct ChanHandle {
    inner: Arc<ChanInner>,
}

impl Drop for ChanHandle {
    fn drop(&mut self) {
        self.inner.close_nowait();
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
        Channel { h: Arc::new(ChanHandle { inner }) }
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
        }
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
        i.send_stream(0, data).await?;
        Ok(n)
    }

    /// Write one frame: a 4-byte big-endian length, then `payload`.
    pub async fn write_frame(&self, payload: &[u8]) -> Result<()> {
        self.i().write_frame(0, payload).await
    }

    /// Read one frame; `Ok(None)` at a clean end of stream. A declared length
    /// over MAX_FRAME_SIZE fails with a protocol error and closes the channel.
    /// Cancel-safe.
    pub async fn read_frame(&self) -> Result<Option<Bytes>> {
        self.i().read_frame(0).await
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
            if st.fin_sent && st.fatal.is_none() && !st.close_sent {
                return Ok(());
            }
        }
        i.send_ctl_checked(Ctl::Fin, |st| st.fin_sent = true).await
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
        if total > crate::proto::MAX_CONTROL_LEN / 2 {
            return Err(Error::invalid("trailers larger than 512 KiB"));
        }
        let i = self.i();
        let _g0 = i.wlock[0].lock().await;
        i.send_ctl_checked(Ctl::Trailers(trailers.to_vec()), |_| {}).await
    }

    /// Close the channel in both directions. Unread incoming data is
    /// discarded; blocked calls on this channel return a closed error.
    /// Closing twice is not an error.
    pub async fn close(&self) -> Result<()> {
        self.i().close().await
    }

    /// Open a child channel inside this one; the remote receives it from
    /// [`Channel::accept`] on its end of this channel, never from `Peer::accept`.
    pub async fn open(&self, service: &str, headers: &[String]) -> Result<Channel> {
        let i = self.i();
        {
            let st = lock(&i.st);
            if let Some(e) = i.write_error(&st) {
                return Err(e);
            }
        }
        let conn = i.conn.upgrade().ok_or_else(|| Error::closed("connection is gone"))?;
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
        let (a, b) = tokio::join!(up, down);
        let _ = self.close().await;
        a.and(b)
    }

    /// True once both sides have closed the channel.
    pub fn is_closed(&self) -> bool {
        self.i().is_finished()
    }

    /// A connection-unique id (also the id in the wire protocol).
    pub fn id(&self) -> u64 {
        self.i().id
    }
}
