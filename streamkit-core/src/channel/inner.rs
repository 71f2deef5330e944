//! The shared state of one channel and the helpers every path uses.

use super::accept::AcceptQueue;
use super::host::ChanHost;
use super::state::ChanState;
use super::tuning::*;
use super::tx::Tx;
use super::window::{AsmBudget, WindowBudget};
use crate::error::Error;
use crate::identity::Identity;
use crate::readiness::Readiness;
use crate::sync::lock;
use crate::writer::WShared;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::Notify;

/// The shared state of one channel.
pub(crate) struct ChanInner {
    pub(crate) id: u64,
    pub(super) service: String,
    pub(super) headers: Vec<String>,
    pub(super) local_peer: String,
    pub(super) remote_peer: String,
    pub(super) remote: Identity,
    pub(crate) tx: Arc<Tx>,
    pub(super) conn: Weak<dyn ChanHost>,
    pub(super) max_frame: usize,
    pub(super) window: usize,
    pub(super) small_limit: usize,
    pub(super) st: Mutex<ChanState>,
    pub(super) rd: Notify,
    pub(super) wr: Notify,
    pub(super) wlock: [tokio::sync::Mutex<()>; 2],
    pub(crate) children: AcceptQueue,
    pub(crate) slot: Option<russh::ChannelId>,
    pub(super) rt: tokio::runtime::Handle,
    pub(super) budget: Arc<WindowBudget>,
    /// The connection's budget for assembling large frames.
    pub(super) asm_budget: Arc<AsmBudget>,
    /// SSH: the socket writer's queue gate (see `ssh::WShared::writable`).
    pub(super) gate: Option<Arc<WShared>>,
    /// Bytes ever added to the coalescing buffer, plus FLUSH_WAIT_BELOW for
    /// everything else queued (a "send now"). Changed only under `st`'s
    /// lock (a plain load and store, no atomic read-modify-write on the
    /// writer's path); read without it by a flusher waiting for a writer
    /// (`let_writer_add`), which then never contends for the lock with the
    /// writer it waits for.
    pub(super) queued: AtomicU64,
    /// The readiness descriptor, made on the application's first request.
    pub(super) poll: OnceLock<Readiness>,
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
        let reserved: usize = st
            .inb
            .iter_mut()
            .map(|ib| std::mem::take(&mut ib.reserved))
            .sum();
        self.asm_budget.release(reserved);
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
    pub remote: Identity,
    pub tx: Arc<Tx>,
    pub conn: Weak<dyn ChanHost>,
    pub max_frame: usize,
    pub window: usize,
    pub remote_window: usize,
    pub backlog: usize,
    pub budget: Arc<WindowBudget>,
    pub asm_budget: Arc<AsmBudget>,
    pub slot: Option<russh::ChannelId>,
    /// SSH: the socket writer's queue gate that data waits at.
    pub gate: Option<Arc<WShared>>,
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
            asm_budget: p.asm_budget,
            gate: p.gate,
            queued: AtomicU64::new(0),
            poll: OnceLock::new(),
        })
    }

    pub(super) fn wake_all(&self) {
        self.settle_asm_budget();
        self.wake_readers();
        self.wr.notify_waiters();
    }

    /// Give back the assembly budget held for frames no longer being
    /// assembled (completed, or dropped when the channel closed or failed).
    /// Called with the state unlocked.
    pub(super) fn settle_asm_budget(&self) {
        let n: usize = {
            let mut st = lock(&self.st);
            st.inb
                .iter_mut()
                .filter(|ib| ib.asm.is_none())
                .map(|ib| std::mem::take(&mut ib.reserved))
                .sum()
        };
        self.asm_budget.release(n);
    }

    /// Another frame's assembly gave budget back: let this channel's frame
    /// readers try again.
    pub(super) fn asm_budget_freed(&self) {
        {
            let mut st = lock(&self.st);
            st.inb[0].asm_blocked = false;
            st.inb[1].asm_blocked = false;
        }
        self.wake_readers();
    }

    /// Wake blocked readers and bring the readiness descriptor up to date.
    /// Called with the state unlocked, after any change a reader can see.
    pub(super) fn wake_readers(&self) {
        self.rd.notify_waiters();
        if self.poll.get().is_some() {
            let st = lock(&self.st);
            self.refresh_poll(&st);
        }
    }

    /// Update the readiness descriptor from `st` (called under its lock).
    pub(super) fn refresh_poll(&self, st: &ChanState) {
        if let Some(p) = self.poll.get() {
            p.set(0, self.read_ready(st));
        }
    }

    /// A read, frame read or error read would return without waiting: data
    /// (whole frames, when the last read on stream 0 was a frame read; any
    /// byte otherwise), an error frame, or the end of the channel.
    fn read_ready(&self, st: &ChanState) -> bool {
        if st.fin_recv || st.close_recv || st.lost.is_some() || self.closed_error(st).is_some() {
            return true;
        }
        if st.inb[1].frame_ready(self.max_frame, self.window) {
            return true;
        }
        if st.poll_frames {
            st.inb[0].frame_ready(self.max_frame, self.window)
        } else {
            st.inb[0].len > 0
        }
    }

    /// The channel's readiness descriptor (see `Channel::poll_fd`).
    pub(super) fn poll_fd(&self) -> std::io::Result<std::os::unix::io::RawFd> {
        if self.poll.get().is_none() {
            let r = Readiness::new()?;
            let _ = self.poll.set(r);
        }
        let st = lock(&self.st);
        self.refresh_poll(&st);
        Ok(self.poll.get().map_or(-1, Readiness::fd))
    }

    /// Start a flusher if none is running. Called with the state unlocked.
    pub(super) fn kick(self: &Arc<Self>, start: bool) {
        if start {
            // Started by a thread outside the runtime (a binding's caller)?
            let foreign = tokio::runtime::Handle::try_current().is_err();
            let me = self.clone();
            self.rt.spawn(async move { me.flush_loop(foreign).await });
        }
    }

    /// An owning `Arc` of this channel (through its connection's table or the
    /// inproc link); needed to start a flusher from `&self` contexts.
    pub(super) fn self_arc(&self) -> Option<Arc<ChanInner>> {
        self.conn.upgrade().and_then(|c| c.chan_arc(self))
    }

    /// Forget this channel in its connection once both sides have closed.
    pub(super) fn release(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.channel_finished(self);
        }
    }

    pub(super) fn closed_error(&self, st: &ChanState) -> Option<Error> {
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

    pub(super) fn write_error(&self, st: &ChanState) -> Option<Error> {
        if let Some(e) = self.closed_error(st) {
            return Some(e);
        }
        if let Some(e) = &st.lost {
            return Some(e.clone());
        }
        if st.close_recv || st.close_sent {
            return Some(Error::closed("the remote peer closed the channel"));
        }
        if st.fin_sent {
            return Some(Error::closed("channel is closed for writing"));
        }
        None
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
