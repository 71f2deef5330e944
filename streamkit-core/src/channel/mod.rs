//! Channels: bidirectional streams with frames, error frames, trailers,
//! half-close and child channels.
//!
//! A [`Channel`] is a cheap clonable handle; every method takes `&self` and is
//! safe to call from many tasks. Incoming data is buffered per stream up to the
//! channel's receive window; the sender blocks once the credit it was granted
//! is used up, so a reader that does not read applies backpressure instead of
//! growing memory (docs/PROTOCOL.md, "Flow control").
//!
//! Layout, bottom to top: `tuning` (constants), `window` (the connection's
//! auto-tuning budget), `inbuf` (one stream's receive side, sans-IO), `state`
//! (the state behind the channel's lock), `lifecycle` (PROTOCOL.md 11.4's
//! table: what a received message does in each phase, sans-IO), `tx` (the transport a channel
//! writes to), `host` (what a channel needs from its connection), `inner`
//! (the shared channel object) with its paths in `flush`, `recv`, `read`,
//! `write` and `close`, `accept` (accept queues), and here the public
//! [`Channel`] handle.

mod accept;
mod close;
mod flush;
mod host;
mod inbuf;
mod inner;
mod lifecycle;
mod read;
mod recv;
mod state;
mod stats;
mod tuning;
mod tx;
mod window;
mod write;

pub(crate) use accept::AcceptQueue;
pub(crate) use host::{BoxFuture, ChanHost};
pub(crate) use inner::{ChanInner, ChanParams};
pub use stats::ChannelStats;
pub(crate) use tx::Tx;
pub(crate) use window::{AsmBudget, WindowBudget};

use crate::error::{Error, Result};
use crate::proto::Ctl;
use crate::sync::lock;
use bytes::Bytes;
use inbuf::InBuf;
use std::fmt;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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

    /// What this channel has moved and where it stalled (see
    /// [`ChannelStats`]). Cheap: one lock, no I/O.
    pub fn stats(&self) -> ChannelStats {
        self.i().stats()
    }

    /// A descriptor for an event loop (poll, epoll, kqueue, selectors),
    /// level-triggered: readable exactly while a read, frame read or error
    /// read would return without waiting: data is here, an error frame is
    /// here, or the channel has ended (end of stream, closed, failed).
    /// Whether data counts as "here" follows the last read on the byte
    /// stream: after a frame read it means a whole frame (or, for a frame
    /// too large for the window, enough of it to return credit), otherwise
    /// any byte. So a non-blocking read after a wake-up returns something,
    /// except when another thread read first, or on the first poll of a
    /// frame reader that has not read yet (which may see half a frame).
    ///
    /// The descriptor belongs to the channel: do not read, write or close
    /// it; it stays valid while any handle to the channel exists. Made on
    /// first use; channels never asked for one cost nothing.
    pub fn poll_fd(&self) -> Result<std::os::unix::io::RawFd> {
        self.i()
            .poll_fd()
            .map_err(|e| Error::Io(format!("cannot create a readiness descriptor: {e}")))
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
            st.settle_unread();
        }
        i.wake_readers();
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
        conn.open_child(i.id, service, headers).await
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
