//! The application's write paths: bytes and frames, with credit.

use super::inner::ChanInner;
use super::state::ChanState;
use super::state::Out;
use super::tuning::*;
use crate::error::{Error, Result};
use crate::sync::lock;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;

impl ChanInner {
    /// Wait for credit, then queue up to MAX_CHUNK bytes of `data` from `off`.
    /// Returns how many bytes were queued.
    pub(super) async fn queue_piece(
        self: &Arc<Self>,
        s: usize,
        data: &Bytes,
        off: usize,
    ) -> Result<usize> {
        let mut blocked = Blocked {
            ch: self,
            on: false,
        };
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
                    blocked.begin(&mut st);
                    None
                } else {
                    blocked.end(&mut st);
                    let k = (st.credit[s] as usize).min(data.len() - off).min(MAX_CHUNK);
                    st.credit[s] -= k as i64;
                    st.counters.bytes_sent += k as u64;
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

    pub(super) async fn send_stream(self: &Arc<Self>, s: usize, data: Bytes) -> Result<()> {
        let mut off = 0;
        while off < data.len() {
            off += self.queue_piece(s, &data, off).await?;
        }
        Ok(())
    }

    /// Queue a small frame if credit allows and no large write is in
    /// progress: `Ok(Some(start_flusher))`, or `Ok(None)` to wait.
    pub(super) fn try_small_frame(
        &self,
        s: usize,
        payload: &[u8],
        need: usize,
    ) -> Result<Option<bool>> {
        let mut st = lock(&self.st);
        if let Some(e) = self.write_error(&st) {
            return Err(e);
        }
        if st.large[s] || st.credit[s] < need as i64 {
            return Ok(None);
        }
        st.credit[s] -= need as i64;
        st.counters.bytes_sent += need as u64;
        st.counters.frames_sent += 1;
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
    pub(super) fn try_write_frame(self: &Arc<Self>, s: usize, payload: &[u8]) -> Result<bool> {
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

    pub(super) async fn write_frame(self: &Arc<Self>, s: usize, payload: &[u8]) -> Result<()> {
        if payload.len() > u32::MAX as usize {
            return Err(Error::invalid("frame larger than 4 GiB"));
        }
        let need = 4 + payload.len();
        if need <= self.small_limit {
            // Fast path: one short critical section, no async lock; the frame
            // is coalesced with its neighbours into large transport sends.
            let mut blocked = Blocked {
                ch: self,
                on: false,
            };
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
                {
                    let mut st = lock(&self.st);
                    if st.credit[s] < need as i64 {
                        blocked.begin(&mut st); // not just behind a large write
                    }
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
        self.send_stream(s, Bytes::copy_from_slice(payload)).await?;
        lock(&self.st).counters.frames_sent += 1;
        Ok(())
    }

    /// Mark a multi-piece write on stream `s` until the guard is dropped
    /// (also when the write fails or its future is cancelled).
    pub(super) fn large_write(&self, s: usize) -> LargeWrite<'_> {
        lock(&self.st).large[s] = true;
        LargeWrite { ch: self, s }
    }
}

/// A writer waiting for the remote's credit: counted in
/// `ChannelStats::send_blocked_ms` until it goes on, fails or is cancelled.
struct Blocked<'a> {
    ch: &'a ChanInner,
    on: bool,
}

impl Blocked<'_> {
    fn begin(&mut self, st: &mut ChanState) {
        if !self.on && super::stats::STALL_CLOCKS {
            self.on = true;
            st.counters.send_blocked.begin(super::stats::tick());
        }
    }

    fn end(&mut self, st: &mut ChanState) {
        if self.on {
            self.on = false;
            st.counters.send_blocked.end(super::stats::tick());
        }
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        if self.on {
            self.end(&mut lock(&self.ch.st));
        }
    }
}

pub(super) struct LargeWrite<'a> {
    ch: &'a ChanInner,
    s: usize,
}

impl Drop for LargeWrite<'_> {
    fn drop(&mut self) {
        lock(&self.ch.st).large[self.s] = false;
        self.ch.wr.notify_waiters();
    }
}
