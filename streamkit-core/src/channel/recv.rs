//! What arrives from the transport: data, control messages, failures, and
//! the credit granted back as the application reads.

use super::inner::ChanInner;
use super::lifecycle::{verdict, Received, Verdict};
use super::state::{ChanState, Out};
use crate::error::Error;
use crate::proto::{close_code, Ctl};
use crate::sync::lock;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

impl ChanInner {
    /// Incoming bytes on stream 0 (data) or 1 (errors).
    pub(crate) fn on_data(&self, stream: u8, b: Bytes) {
        self.deliver(stream, false, || b);
    }

    /// [`on_data`](Self::on_data) with the bytes made by `make`; with
    /// `only_if_drained`, only if nothing is buffered on the stream (its
    /// reader has caught up): false, nothing made and nothing done,
    /// otherwise.
    pub(super) fn deliver(
        &self,
        stream: u8,
        only_if_drained: bool,
        make: impl FnOnce() -> Bytes,
    ) -> bool {
        let s = usize::from(stream.min(1));
        let mut st = lock(&self.st);
        if only_if_drained && st.inb[s].len != 0 {
            return false;
        }
        let b = make();
        match verdict(st.phase(), Received::Bytes) {
            Verdict::Handle => {}
            Verdict::Discard => return true,
            Verdict::Violation(why) => {
                drop(st);
                self.protocol_violation(why);
                return true;
            }
        }
        st.inb[s].allowance -= b.len() as i64;
        if st.inb[s].allowance < 0 {
            drop(st);
            self.protocol_violation("the sender exceeded its flow-control credit");
            return true;
        }
        let starved = st.inb[s].len == 0;
        let rtt = st.inb[s].on_received(b.len(), starved, Instant::now, &self.budget);
        st.inb[s].push(b);
        st.settle_unread();
        drop(st);
        if let Some(rtt) = rtt {
            if let Some(h) = self.conn.upgrade() {
                h.note_rtt(rtt);
            }
        }
        self.wake_readers();
        true
    }

    /// An incoming control message for this channel.
    pub(crate) fn on_ctl(&self, c: Ctl) {
        let mut finished = false;
        let mut start = false;
        {
            let mut st = lock(&self.st);
            let msg = match &c {
                Ctl::Credit { .. } => Received::Credit,
                Ctl::Trailers(_) => Received::Trailers,
                Ctl::Fin => Received::Fin,
                Ctl::Close { .. } => Received::Close,
                Ctl::Hello { .. } | Ctl::Open { .. } => Received::Open,
            };
            match verdict(st.phase(), msg) {
                Verdict::Handle => {}
                Verdict::Discard => return,
                Verdict::Violation(why) => {
                    drop(st);
                    self.protocol_violation(why);
                    return;
                }
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
                Ctl::Hello { .. } | Ctl::Open { .. } => return, // a violation, above
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
            // (its CLOSE, or its FIN: the data is complete) does not turn
            // that clean end into an error for readers (PROTOCOL.md 14.2).
            if st.fatal.is_none() && (notify_remote || !(st.close_recv || st.fin_recv)) {
                st.fatal = Some(e.clone());
            } else if !notify_remote && st.lost.is_none() {
                st.lost = Some(e.clone());
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

    /// Return consumed credit to the sender once a quarter window is read.
    pub(super) fn grant(self: &Arc<Self>, s: usize) {
        let start = {
            let mut st = lock(&self.st);
            if !Self::grant_due(&st, s) {
                return;
            }
            let ib = &mut st.inb[s];
            let now = Instant::now();
            ib.on_credit(now, &self.budget);
            let n = std::mem::take(&mut ib.unacked);
            self.refresh_poll(&st);
            let ib = &mut st.inb[s];
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
    pub(super) fn grant_due(st: &ChanState, s: usize) -> bool {
        !(st.close_sent || st.close_recv) && st.inb[s].unacked >= st.inb[s].grant_threshold()
    }
}
