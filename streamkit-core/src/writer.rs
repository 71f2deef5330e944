//! The socket under an SSH session: writes never wait.
//!
//! russh's session loop writes to its stream from inside its own select
//! loop; a socket that is full would stall every channel of the connection
//! there. [`NbStream`] queues writes instead and drains them on a separate
//! task, and [`WShared`] is the queue's gate that channel data waits at (in
//! the channel's flusher, never in the session loop).

use crate::sync::lock;
use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;

/// Writes up to this size go straight to the socket when nothing is queued
/// (see `NbStream::poll_write`); larger ones always go through the writer task,
/// so bulk encryption and socket sends overlap on two threads.
const WRITE_THROUGH_MAX: usize = 4096;
/// The writer task keeps a drained queue buffer for reuse up to this
/// capacity (two such buffers per connection stay allocated while it lives).
const KEEP_BUF: usize = 256 * 1024;
/// Channel data waits (in its flusher, never in russh's session loop) while
/// more than this is queued or being written to the socket, so the queue is
/// bounded by it rather than by every channel's window at once.
const WRITE_HIGH_WATER: usize = 8 * 1024 * 1024;

struct WState {
    buf: BytesMut,
    /// Bytes the writer task has taken and is writing.
    writing: usize,
    err: Option<io::ErrorKind>,
    shutdown: bool,
    /// A write-through went to a stream that buffers (its flush was not
    /// done at once): the writer task flushes it.
    need_flush: bool,
}

pub(crate) struct WShared {
    st: Mutex<WState>,
    notify: Notify,
    /// Signalled when the writer task has written a batch.
    drained: Notify,
}

impl WShared {
    /// Wait until less than WRITE_HIGH_WATER is queued or being written (or
    /// the socket failed or is shutting down: the write then fails on its own).
    /// Checked first without registering for `drained` (the common case:
    /// the queue is short), so a send does not touch the Notify's waiter list.
    pub(crate) async fn writable(&self) {
        while !self.below_high_water() {
            let n = self.drained.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.below_high_water() {
                return;
            }
            n.await;
        }
    }

    fn below_high_water(&self) -> bool {
        let st = lock(&self.st);
        st.buf.len() + st.writing <= WRITE_HIGH_WATER || st.err.is_some() || st.shutdown
    }
}

/// A stream whose writes are queued and drained by a separate task, so that
/// russh's session loop (which does not read while it writes) can always go
/// back to reading. This is what prevents the both-directions deadlock of
/// docs/PROTOCOL.md §20.1. The queue is bounded by streamkit's flow control: at most
/// the credit granted by the remote on each channel is ever in flight.
pub(crate) struct NbStream<R> {
    rd: R,
    w: Arc<WShared>,
    /// The socket's write half, held by the writer task while it writes; a
    /// small write finding the queue empty and this free goes straight out.
    wr: Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>>,
    /// Cancelled when the connection must end even if the remote (or russh's
    /// session loop) does not cooperate: reads then fail and the session ends.
    kill: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl<R> NbStream<R> {
    pub(crate) fn new<S>(
        s: S,
        kill: tokio_util::sync::CancellationToken,
        io_done: tokio_util::sync::CancellationToken,
    ) -> NbStream<tokio::io::ReadHalf<S>>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(s);
        let wr: Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>> =
            Arc::new(tokio::sync::Mutex::new(Box::new(wr)));
        let w = Arc::new(WShared {
            st: Mutex::new(WState {
                buf: BytesMut::new(),
                writing: 0,
                err: None,
                shutdown: false,
                need_flush: false,
            }),
            notify: Notify::new(),
            drained: Notify::new(),
        });
        let w2 = w.clone();
        let wr2 = wr.clone();
        tokio::spawn(async move {
            // Signals `io_done` however this task ends: everything queued has
            // been written (or the socket failed) and the socket is shut down.
            let _done = io_done.drop_guard();
            // The queue is swapped with this buffer, so both keep their
            // capacity (no regrowth and page faults per burst).
            let mut chunk = BytesMut::new();
            loop {
                let n = w2.notify.notified();
                tokio::pin!(n);
                n.as_mut().enable();
                // Hold the socket before taking the queue, so a write-through
                // in poll_write can never overtake bytes taken here.
                let mut g = wr2.lock().await;
                let (shutdown, need_flush) = {
                    let mut st = lock(&w2.st);
                    std::mem::swap(&mut st.buf, &mut chunk);
                    st.writing = chunk.len();
                    (st.shutdown, std::mem::take(&mut st.need_flush))
                };
                if chunk.is_empty() && need_flush {
                    // Streams that buffer (stdout, a BufWriter) must not hold
                    // a packet back; for sockets flush does nothing.
                    if let Err(e) = g.flush().await {
                        lock(&w2.st).err = Some(e.kind());
                        w2.drained.notify_waiters();
                        return;
                    }
                }
                if chunk.is_empty() {
                    if shutdown {
                        let _ = g.shutdown().await;
                        return;
                    }
                    drop(g);
                    n.await;
                    continue;
                }
                if let Err(e) = g.write_all(&chunk).await {
                    lock(&w2.st).err = Some(e.kind());
                    w2.drained.notify_waiters();
                    return;
                }
                if let Err(e) = g.flush().await {
                    lock(&w2.st).err = Some(e.kind());
                    w2.drained.notify_waiters();
                    return;
                }
                drop(g);
                lock(&w2.st).writing = 0;
                w2.drained.notify_waiters();
                chunk.clear();
                if chunk.capacity() > KEEP_BUF {
                    chunk = BytesMut::new();
                }
            }
        });
        NbStream {
            rd,
            w,
            wr,
            kill: Box::pin(kill.cancelled_owned()),
        }
    }
}

impl<R> NbStream<R> {
    /// The write queue's gate, for channel flushers (see [`WShared::writable`]).
    pub(crate) fn gate(&self) -> Arc<WShared> {
        self.w.clone()
    }
}

impl<R> Drop for NbStream<R> {
    fn drop(&mut self) {
        // Let the writer task flush what is queued, shut the write half down
        // and exit, so the socket is closed when the session is gone.
        lock(&self.w.st).shutdown = true;
        self.w.notify.notify_one();
        self.w.drained.notify_waiters();
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for NbStream<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection closed locally",
            )));
        }
        Pin::new(&mut self.rd).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for NbStream<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = lock(&self.w.st);
        if let Some(k) = st.err {
            return Poll::Ready(Err(io::Error::new(k, "socket write failed")));
        }
        let mut done = 0;
        if data.len() <= WRITE_THROUGH_MAX && st.buf.is_empty() && !st.shutdown {
            // Nothing queued and the writer task is not holding the socket:
            // send a small packet (a frame, a round trip's reply) now instead
            // of waking the writer task for it. Whatever the kernel does not
            // take at once is queued as usual; this never waits.
            if let Ok(mut g) = self.wr.try_lock() {
                let mut ncx = Context::from_waker(std::task::Waker::noop());
                while done < data.len() {
                    match Pin::new(&mut **g).poll_write(&mut ncx, &data[done..]) {
                        Poll::Ready(Ok(n)) if n > 0 => done += n,
                        Poll::Ready(Ok(_)) | Poll::Pending => break,
                        Poll::Ready(Err(e)) => {
                            st.err = Some(e.kind());
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                if done > 0
                    && !matches!(Pin::new(&mut **g).poll_flush(&mut ncx), Poll::Ready(Ok(())))
                {
                    st.need_flush = true;
                    if done == data.len() {
                        drop(g);
                        drop(st);
                        self.w.notify.notify_one();
                        return Poll::Ready(Ok(data.len()));
                    }
                }
            }
        }
        if done < data.len() {
            st.buf.extend_from_slice(&data[done..]);
            drop(st);
            self.w.notify.notify_one();
        }
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.w.st).shutdown = true;
        self.w.notify.notify_one();
        self.w.drained.notify_waiters();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Channel data waits at the socket writer's gate while more than
    /// WRITE_HIGH_WATER is queued, and goes on once the socket drains; russh's
    /// own writes (poll_write) never wait.
    #[tokio::test]
    async fn write_gate_holds_data_above_the_high_water_mark() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let kill = tokio_util::sync::CancellationToken::new();
        let done = tokio_util::sync::CancellationToken::new();
        let mut nb = NbStream::<()>::new(ours, kill.clone(), done.clone());
        let gate = nb.gate();
        tokio::time::timeout(Duration::from_secs(5), gate.writable())
            .await
            .expect("an empty queue is writable");
        // What russh writes is queued at once, however much (nobody reads yet).
        let total = WRITE_HIGH_WATER + 4 * 1024 * 1024;
        let chunk = vec![7u8; 64 * 1024];
        let mut queued = 0;
        while queued < total {
            nb.write_all(&chunk).await.unwrap();
            queued += chunk.len();
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(200), gate.writable())
                .await
                .is_err(),
            "the gate must hold data while {total} bytes are queued"
        );
        // Drain the other end: the gate opens, and every byte arrives.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0;
            while got < total {
                let n = theirs.read(&mut buf).await.unwrap();
                assert!(n > 0 && buf[..n].iter().all(|&b| b == 7));
                got += n;
            }
            got
        });
        tokio::time::timeout(Duration::from_secs(10), gate.writable())
            .await
            .expect("the gate opens as the socket drains");
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(10), reader)
                .await
                .unwrap()
                .unwrap(),
            total
        );
        drop(nb);
        tokio::time::timeout(Duration::from_secs(5), done.cancelled())
            .await
            .expect("writer task ends after drop");
    }
}
