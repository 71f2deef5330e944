//! A channel's mutable state, behind one lock: both receive sides, credit,
//! the close handshake's flags, trailers and the outgoing queue.

use super::inbuf::InBuf;
use super::stats::Counters;
use super::tuning::*;
use crate::error::Error;
use crate::proto::Ctl;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Something queued for the transport, in order.
#[derive(Debug)]
pub(super) enum Out {
    Data(u8, Bytes),
    Ctl(Ctl),
}

#[derive(Debug, Default)]
pub(super) struct ChanState {
    pub(super) inb: [InBuf; 2],
    pub(super) counters: Counters,
    pub(super) credit: [i64; 2],
    pub(super) fin_recv: bool,
    pub(super) fin_sent: bool,
    pub(super) close_recv: bool,
    /// CLOSE is queued (or sent).
    pub(super) close_sent: bool,
    /// CLOSE has been handed to the transport.
    pub(super) close_flushed: bool,
    /// The application called close().
    pub(super) user_closed: bool,
    /// Closed by the peer's shutdown.
    pub(super) peer_shutdown: bool,
    pub(super) finished: bool,
    /// A fatal error (protocol violation, connection lost, peer shut down).
    pub(super) fatal: Option<Error>,
    /// The connection was lost after the remote's FIN: reads still end
    /// cleanly (its data is complete), writes fail with this.
    pub(super) lost: Option<Error>,
    pub(super) trailers: Vec<String>,
    /// Bytes of `trailers` (4 + length each), bounded by MAX_TRAILER_BYTES.
    pub(super) trailer_bytes: usize,
    /// Trailers sent so far (count, bytes), bounded like those received.
    pub(super) trailers_sent: (usize, usize),
    /// Outgoing queue, drained in order by one flusher at a time.
    pub(super) outq: VecDeque<Out>,
    /// Small writes are coalesced here before joining `outq`.
    pub(super) tail: BytesMut,
    pub(super) tail_stream: u8,
    pub(super) flushing: bool,
    /// A multi-piece write (bytes or a large frame) is in progress on the
    /// stream: small frames wait for it so they cannot land in its middle.
    pub(super) large: [bool; 2],
    /// The last read on stream 0 was a frame read: its readiness
    /// descriptor then waits for whole frames rather than any byte.
    pub(super) poll_frames: bool,
}

impl ChanState {
    /// Start or stop the unread clock when the receive buffers turned
    /// non-empty or empty; the clock is read only then.
    pub(super) fn settle_unread(&mut self) {
        if !super::stats::STALL_CLOCKS {
            return;
        }
        let unread = self.inb[0].len + self.inb[1].len > 0;
        let c = &mut self.counters.recv_unread;
        if c.active() != unread {
            if unread {
                c.begin(super::stats::tick());
            } else {
                c.end(super::stats::tick());
            }
        }
    }

    pub(super) fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let b = self.tail.split().freeze();
            self.outq.push_back(Out::Data(self.tail_stream, b));
        }
    }

    pub(super) fn push_small(&mut self, s: u8, parts: &[&[u8]]) {
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

    pub(super) fn push(&mut self, o: Out) {
        self.seal_tail();
        self.outq.push_back(o);
    }

    /// No flusher running and nothing queued.
    pub(super) fn idle(&self) -> bool {
        !self.flushing && self.outq.is_empty() && self.tail.is_empty()
    }
}
