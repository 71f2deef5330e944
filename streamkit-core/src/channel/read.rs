//! The application's read paths: bytes, frames and error frames.

use super::inbuf::InBuf;
use super::inner::ChanInner;
use super::state::ChanState;
use crate::error::{Error, Result};
use crate::sync::lock;
use bytes::Bytes;
use std::sync::Arc;

impl ChanInner {
    pub(super) async fn wait_rd<T>(&self, mut f: impl FnMut(&mut ChanState) -> Option<T>) -> T {
        loop {
            {
                let mut st = lock(&self.st);
                let r = f(&mut st);
                self.refresh_poll(&st);
                if let Some(v) = r {
                    st.settle_unread();
                    return v;
                }
            }
            let n = self.rd.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            {
                let mut st = lock(&self.st);
                let r = f(&mut st);
                self.refresh_poll(&st);
                if let Some(v) = r {
                    st.settle_unread();
                    return v;
                }
            }
            n.await;
        }
    }

    pub(super) async fn read(self: &Arc<Self>, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut due = false;
        let r = self
            .wait_rd(|st| {
                st.poll_frames = false;
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
    pub(super) async fn read_frame(self: &Arc<Self>, s: usize) -> Result<Option<Bytes>> {
        self.read_frame_as(s, InBuf::take, |b| b).await
    }

    /// [`read_frame`](Self::read_frame) with the frame made by `take` or
    /// `whole` (see `InBuf::next_frame_as`).
    pub(super) async fn read_frame_as<T>(
        self: &Arc<Self>,
        s: usize,
        take: fn(&mut InBuf, usize) -> T,
        whole: fn(Bytes) -> T,
    ) -> Result<Option<T>> {
        let max = self.max_frame;
        let window = self.window;
        loop {
            let mut due = false;
            let mut freed = 0;
            let r = self
                .wait_rd(|st| {
                    st.poll_frames |= s == 0;
                    if st.user_closed {
                        return Some(Err(Error::closed("channel is closed")));
                    }
                    // Called only when a large frame starts: no weak
                    // reference is taken for every frame read.
                    let mut reserve =
                        |n: usize| self.asm_budget.try_reserve(n, Arc::downgrade(self));
                    match st.inb[s].next_frame_as(max, window, take, whole, &mut reserve) {
                        Err(e) => return Some(Err(e)),
                        Ok(Some(f)) => {
                            due = Self::grant_due(st, s);
                            st.counters.frames_received += 1;
                            if st.inb[s].asm.is_none() {
                                freed = std::mem::take(&mut st.inb[s].reserved);
                            }
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
            self.asm_budget.release(freed);
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
    pub(super) async fn read_frames(
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
                st.poll_frames |= s == 0;
                if st.user_closed {
                    return Some(Err(Error::closed("channel is closed")));
                }
                let ib = &mut st.inb[s];
                if ib.asm.is_some() {
                    return Some(Ok(Some(0))); // a large frame being assembled: read_frame's
                }
                let (mut n, mut k) = (0, 0);
                while k < max_frames {
                    let Some(len) = ib.peek_frame_len() else {
                        break;
                    };
                    if len > max || 4 + len > buf.len() - n || ib.len < 4 + len {
                        break;
                    }
                    ib.copy_out(&mut buf[n..n + 4 + len]);
                    n += 4 + len;
                    k += 1;
                }
                if n > 0 {
                    due = Self::grant_due(st, s);
                    st.counters.frames_received += k as u64;
                    return Some(Ok(Some(n)));
                }
                if let Some(len) = ib.peek_frame_len() {
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
}
