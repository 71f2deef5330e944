//! One connection between two peers (SSH or in-process) and the channels on it.
//!
//! Both transports share the channel logic in `channel.rs`; this module routes
//! incoming transport events to channels and implements channel open, accept,
//! the hello exchange and SSH channel reuse (docs/PROTOCOL.md).

use crate::channel::{BoxFuture, ChanHost, ChanInner, ChanParams, Channel, Tx, WindowBudget};
use crate::identity::{Identity, RemoteAuth};
use crate::sync::lock;

mod link;
mod owner;
mod stats;

use crate::error::{Error, Result};
use crate::proto::{close_code, Ctl, CtlReader, VERSION};
use crate::slab::RecvSlabs;
pub(crate) use link::SshLink;
pub(crate) use owner::{ConnOwner, InprocOwner};
use russh::ChannelId;
pub use stats::ConnStats;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::Notify;

/// Most idle SSH channels kept for reuse per connection.
const MAX_IDLE_SSH_CHANNELS: usize = 1024;

/// Most bytes of unfinished control messages a connection holds over all
/// its SSH channels (16 of the largest): a remote that starts messages on
/// many channels and never finishes them is disconnected rather than
/// holding up to MAX_CONTROL_LEN on every one.
pub const MAX_PARTIAL_CONTROL: usize = 16 * crate::proto::MAX_CONTROL_LEN;

struct Slot {
    tx: Arc<Tx>,
    owner: bool,
    control: bool,
    ctl: CountedCtl,
    cur: Option<Arc<ChanInner>>,
}

/// A control-stream reader whose buffered bytes count against the
/// connection's MAX_PARTIAL_CONTROL budget until it is dropped.
struct CountedCtl {
    r: CtlReader,
    total: Arc<AtomicUsize>,
    held: usize,
}

impl CountedCtl {
    fn new(total: Arc<AtomicUsize>) -> Self {
        CountedCtl {
            r: CtlReader::default(),
            total,
            held: 0,
        }
    }

    /// Count what is buffered now; the connection's total after.
    fn settle(&mut self) -> usize {
        let now = self.r.buffered();
        let before = std::mem::replace(&mut self.held, now);
        if now >= before {
            self.total.fetch_add(now - before, Ordering::Relaxed) + (now - before)
        } else {
            self.total.fetch_sub(before - now, Ordering::Relaxed) - (before - now)
        }
    }
}

impl Drop for CountedCtl {
    fn drop(&mut self) {
        self.total.fetch_sub(self.held, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub(crate) struct SshState {
    pub(crate) link: OnceLock<Box<dyn SshLink>>,
    /// The socket writer's queue gate (see `ssh::WShared::writable`).
    pub(crate) gate: OnceLock<Arc<crate::writer::WShared>>,
    slots: Mutex<HashMap<ChannelId, Slot>>,
    idle: Mutex<Vec<ChannelId>>,
    /// Bytes of unfinished control messages over all slots.
    partial_ctl: Arc<AtomicUsize>,
}

pub(crate) enum ConnKind {
    Ssh(SshState),
    Inproc(Mutex<Weak<Conn>>),
}

/// Limits copied from the peer's options when the connection was made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub window: usize,
    pub max_frame: usize,
    pub backlog: usize,
    pub max_channels: usize,
    pub window_budget: usize,
}

pub(crate) struct Conn {
    pub(crate) peer: Weak<dyn ConnOwner>,
    pub(crate) local_name: String,
    remote_name: Mutex<String>,
    /// The remote's authenticated key and what its AUTHORIZED_KEYS line
    /// grants (`None` for inproc links and before authentication).
    remote_auth: Mutex<Option<RemoteAuth>>,
    /// The remote's key for channel metadata (SSH: the authenticated key;
    /// inproc: the other peer's own key).
    pub(crate) identity: Mutex<Identity>,
    pub(crate) is_client: bool,
    pub(crate) describe: String,
    pub(crate) kind: ConnKind,
    chans: Mutex<HashMap<u64, Arc<ChanInner>>>,
    next_id: AtomicU64,
    remote_window: AtomicUsize,
    pub(crate) limits: Limits,
    /// What receive-window auto-tuning may still add (WINDOW_BUDGET).
    budget: Arc<WindowBudget>,
    asm_budget: Arc<crate::channel::AsmBudget>,
    closed: AtomicBool,
    hello_done: AtomicBool,
    /// The remote's HELLO was received (OPENs are allowed from then on).
    hello_seen: AtomicBool,
    counters: stats::ConnCounters,
    events: Notify,
    /// Ends the SSH session's socket I/O (see `ssh::NbStream`).
    pub(crate) kill: tokio_util::sync::CancellationToken,
    /// Cancelled once the socket is flushed and closed (SSH), or at once (inproc).
    pub(crate) io_done: tokio_util::sync::CancellationToken,
    pub(crate) rt: tokio::runtime::Handle,
    /// The peer's event queue (see `event.rs`).
    pub(crate) ev: Arc<crate::event::EventQueue>,
    /// Why the connection ended (set once, by `on_lost`).
    lost: Mutex<Option<String>>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("remote", &self.remote_name())
            .field("via", &self.describe)
            .finish()
    }
}

impl Conn {
    pub(crate) fn new(
        peer: Weak<dyn ConnOwner>,
        local_name: String,
        is_client: bool,
        describe: String,
        kind: ConnKind,
        limits: Limits,
    ) -> Arc<Conn> {
        let io_done = tokio_util::sync::CancellationToken::new();
        if matches!(kind, ConnKind::Inproc(_)) {
            io_done.cancel();
        }
        let ev = peer.upgrade().map(|p| p.event_queue()).unwrap_or_default();
        Arc::new(Conn {
            peer,
            local_name,
            remote_name: Mutex::new(String::new()),
            remote_auth: Mutex::new(None),
            identity: Mutex::new(Identity::default()),
            is_client,
            describe,
            kind,
            chans: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(if is_client { 1 } else { 2 }),
            remote_window: AtomicUsize::new(0),
            budget: Arc::new(WindowBudget::new(limits.window_budget)),
            asm_budget: Arc::new(crate::channel::AsmBudget::new(limits.max_frame)),
            limits,
            closed: AtomicBool::new(false),
            hello_done: AtomicBool::new(false),
            hello_seen: AtomicBool::new(false),
            counters: Default::default(),
            events: Notify::new(),
            kill: tokio_util::sync::CancellationToken::new(),
            io_done: io_done.clone(),
            rt: tokio::runtime::Handle::current(),
            ev,
            lost: Mutex::new(None),
        })
    }

    pub(crate) fn remote_name(&self) -> String {
        lock(&self.remote_name).clone()
    }

    /// Whether the remote's name is `name`, without copying it (peers scan
    /// every connection with this: one lock and a compare each).
    pub(crate) fn remote_name_is(&self, name: &str) -> bool {
        *lock(&self.remote_name) == name
    }

    /// Whether the remote authenticated with `key`, without copying its
    /// authorization (for the same scans).
    pub(crate) fn remote_key_is(&self, key: &russh::keys::PublicKey) -> bool {
        lock(&self.remote_auth)
            .as_ref()
            .is_some_and(|a| a.key.key_data() == key.key_data())
    }

    pub(crate) fn set_remote_auth(&self, a: RemoteAuth) {
        self.set_identity(Identity::of(&a.key));
        *lock(&self.remote_auth) = Some(a);
    }

    pub(crate) fn identity_fingerprint(&self) -> String {
        lock(&self.identity).fingerprint.clone()
    }

    pub(crate) fn set_identity(&self, i: Identity) {
        *lock(&self.identity) = i;
    }

    pub(crate) fn remote_auth(&self) -> Option<RemoteAuth> {
        lock(&self.remote_auth).clone()
    }

    pub(crate) fn set_remote_name(&self, n: &str) {
        *lock(&self.remote_name) = n.to_string();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Both names are known (the remote's HELLO arrived): the connection is
    /// listed in `peers()`.
    pub(crate) fn is_established(&self) -> bool {
        self.hello_seen.load(Ordering::Acquire) && !self.is_closed()
    }

    pub(crate) fn channel_count(&self) -> usize {
        lock(&self.chans).len()
    }

    /// Wait until the hello exchange completed (true) or the connection closed (false).
    pub(crate) async fn wait_hello(&self) -> bool {
        loop {
            let n = self.events.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_closed() {
                return false;
            }
            if self.hello_done.load(Ordering::Acquire) {
                return true;
            }
            n.await;
        }
    }

    /// Wait until the connection is closed.
    pub(crate) async fn wait_closed(&self) {
        loop {
            let n = self.events.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_closed() {
                return;
            }
            n.await;
        }
    }

    pub(crate) fn mark_hello(&self, remote: &str, window: usize) {
        tracing::info!(
            remote,
            via = %self.describe,
            fingerprint = %lock(&self.identity).fingerprint,
            "{} {remote}",
            if self.is_client { "connected to" } else { "accepted connection from" }
        );
        self.set_remote_name(remote);
        self.remote_window.store(window, Ordering::Release);
        self.hello_seen.store(true, Ordering::Release);
        self.hello_done.store(true, Ordering::Release);
        self.note_connected();
        self.events.notify_waiters();
        self.ev.push(self.event(crate::EventKind::Connected));
    }

    pub(crate) fn set_write_gate(&self, g: Arc<crate::writer::WShared>) {
        if let ConnKind::Ssh(ssh) = &self.kind {
            let _ = ssh.gate.set(g);
        }
    }

    fn params(
        self: &Arc<Self>,
        id: u64,
        service: String,
        headers: Vec<String>,
        tx: Arc<Tx>,
        slot: Option<ChannelId>,
    ) -> ChanParams {
        ChanParams {
            id,
            service,
            headers,
            local_peer: self.local_name.clone(),
            remote_peer: self.remote_name(),
            remote: lock(&self.identity).clone(),
            tx,
            conn: Arc::downgrade(self) as Weak<dyn ChanHost>,
            max_frame: self.limits.max_frame,
            window: self.limits.window,
            remote_window: self.remote_window.load(Ordering::Acquire),
            backlog: self.limits.backlog,
            budget: self.budget.clone(),
            asm_budget: self.asm_budget.clone(),
            slot,
            gate: match &self.kind {
                ConnKind::Ssh(ssh) => ssh.gate.get().cloned(),
                _ => None,
            },
        }
    }

    /// Open a channel (top-level when `parent` is 0).
    pub(crate) async fn open(
        self: &Arc<Self>,
        parent: u64,
        service: &str,
        headers: &[String],
    ) -> Result<Channel> {
        if !self.hello_done.load(Ordering::Acquire) && !self.wait_hello().await {
            return Err(Error::closed(format!(
                "connection to {} is closed",
                self.remote_name()
            )));
        }
        if self.is_closed() {
            return Err(Error::closed(format!(
                "connection to {} is closed",
                self.remote_name()
            )));
        }
        if self.channel_count() >= self.limits.max_channels {
            return Err(Error::invalid(format!(
                "too many open channels on the connection to {} (MAX_CHANNELS = {})",
                self.remote_name(),
                self.limits.max_channels
            )));
        }
        if headers.len() > crate::proto::MAX_LIST_ITEMS {
            return Err(Error::invalid(format!(
                "too many headers ({}; the limit is {})",
                headers.len(),
                crate::proto::MAX_LIST_ITEMS
            )));
        }
        let size: usize = service.len() + headers.iter().map(|h| h.len() + 4).sum::<usize>();
        if size > crate::proto::MAX_CONTROL_LEN / 2 {
            return Err(Error::invalid("service name and headers exceed 512 KiB"));
        }
        let id = self.next_id.fetch_add(2, Ordering::Relaxed);
        match &self.kind {
            ConnKind::Inproc(other) => {
                let other = lock(other)
                    .upgrade()
                    .ok_or_else(|| Error::closed("in-process peer is gone"))?;
                self.open_inproc(&other, id, parent, service, headers)
            }
            ConnKind::Ssh(ssh) => {
                let (slot_id, tx) = self.take_ssh_channel(ssh).await?;
                let chan = ChanInner::new(self.params(
                    id,
                    service.to_string(),
                    headers.to_vec(),
                    tx.clone(),
                    Some(slot_id),
                ));
                {
                    let mut slots = lock(&ssh.slots);
                    if let Some(s) = slots.get_mut(&slot_id) {
                        s.cur = Some(chan.clone());
                    }
                }
                lock(&self.chans).insert(id, chan.clone());
                let r = tx
                    .ctl(Ctl::Open {
                        version: VERSION,
                        id,
                        parent,
                        service: service.to_string(),
                        headers: headers.to_vec(),
                    })
                    .await;
                if let Err(e) = r {
                    chan.fail_with(e.clone(), close_code::NORMAL, false);
                    return Err(e);
                }
                Ok(Channel::from_inner(chan))
            }
        }
    }

    async fn take_ssh_channel(self: &Arc<Self>, ssh: &SshState) -> Result<(ChannelId, Arc<Tx>)> {
        loop {
            let idle = lock(&ssh.idle).pop();
            let Some(id) = idle else { break };
            if let Some(s) = lock(&ssh.slots).get(&id) {
                if s.cur.is_none() {
                    return Ok((id, s.tx.clone()));
                }
            }
        }
        let link = ssh
            .link
            .get()
            .ok_or_else(|| Error::closed("connection is not established"))?;
        let (id, tx) = link.open_session().await.map_err(|e| self.lost_err(e))?;
        let tx = Arc::new(tx);
        self.add_slot(id, tx.clone(), true, false);
        Ok((id, tx))
    }

    fn lost_err(&self, e: russh::Error) -> Error {
        Error::closed(format!("connection to {} failed: {e}", self.remote_name()))
    }

    fn open_inproc(
        self: &Arc<Self>,
        other: &Arc<Conn>,
        id: u64,
        parent: u64,
        service: &str,
        headers: &[String],
    ) -> Result<Channel> {
        let tx_a = Arc::new(Tx::Inproc(Mutex::new(Weak::new())));
        let tx_b = Arc::new(Tx::Inproc(Mutex::new(Weak::new())));
        let a = ChanInner::new(self.params(
            id,
            service.to_string(),
            headers.to_vec(),
            tx_a.clone(),
            None,
        ));
        let b = ChanInner::new(other.params(
            id,
            service.to_string(),
            headers.to_vec(),
            tx_b.clone(),
            None,
        ));
        if let Tx::Inproc(w) = &*tx_a {
            *lock(w) = Arc::downgrade(&b);
        }
        if let Tx::Inproc(w) = &*tx_b {
            *lock(w) = Arc::downgrade(&a);
        }
        lock(&self.chans).insert(id, a.clone());
        let ca = Channel::from_inner(a);
        other.accept_incoming(b, parent);
        Ok(ca)
    }

    /// Deliver a channel opened by the remote to the peer's or its parent's accept queue.
    fn accept_incoming(self: &Arc<Self>, chan: Arc<ChanInner>, parent: u64) {
        let refuse = |chan: &Arc<ChanInner>, why: String| {
            tracing::warn!(remote = %self.remote_name(), "refusing channel {}: {why}", chan.id);
            self.emit(crate::EventKind::Refused, format!("channel refused: {why}"));
            chan.fail_with(Error::closed(why), close_code::REFUSED, true);
        };
        if self.channel_count() >= self.limits.max_channels {
            refuse(
                &chan,
                format!(
                    "too many channels on this connection (MAX_CHANNELS = {})",
                    self.limits.max_channels
                ),
            );
            return;
        }
        lock(&self.chans).insert(chan.id, chan.clone());
        let target = if parent == 0 {
            None
        } else {
            let p = lock(&self.chans).get(&parent).cloned();
            match p {
                Some(p) => Some(p),
                None => {
                    refuse(&chan, format!("unknown parent channel {parent}"));
                    return;
                }
            }
        };
        let handle = Channel::from_inner(chan.clone());
        let pushed = match &target {
            Some(p) => p.children.push(handle),
            None => match self.peer.upgrade() {
                Some(peer) => peer.accept_channel(handle),
                None => Err((handle, "peer is gone")),
            },
        };
        if let Err((handle, why)) = pushed {
            refuse(&chan, why.to_string());
            drop(handle);
        }
    }

    /// Close every channel of this connection (graceful shutdown).
    pub(crate) fn close_all_channels(&self) {
        let chans: Vec<Arc<ChanInner>> = lock(&self.chans).values().cloned().collect();
        for c in chans {
            c.close_for_shutdown();
        }
    }

    /// Wait until every channel has finished (both sides closed) or the
    /// connection is gone.
    pub(crate) async fn wait_no_channels(&self) {
        loop {
            let n = self.events.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_closed() || lock(&self.chans).is_empty() {
                return;
            }
            n.await;
        }
    }

    /// Called by a channel once both sides have closed it.
    pub(crate) fn channel_finished(&self, chan: &ChanInner) {
        let removed = {
            let mut chans = lock(&self.chans);
            let removed = chans
                .get(&chan.id)
                .is_some_and(|c| std::ptr::eq(&**c, chan))
                && chans.remove(&chan.id).is_some();
            if chans.is_empty() {
                self.events.notify_waiters();
            }
            removed
        };
        if removed {
            // Outside the table's lock: stats() takes the channel's.
            let s = chan.stats();
            self.add_finished(s.bytes_sent, s.bytes_received);
        }
        let ConnKind::Ssh(ssh) = &self.kind else {
            return;
        };
        let Some(slot_id) = chan.slot else { return };
        let mut retire = None;
        {
            let mut slots = lock(&ssh.slots);
            if let Some(s) = slots.get_mut(&slot_id) {
                if s.cur.as_ref().is_some_and(|c| std::ptr::eq(&**c, chan)) {
                    s.cur = None;
                    if s.owner {
                        let mut idle = lock(&ssh.idle);
                        if idle.len() < MAX_IDLE_SSH_CHANNELS {
                            idle.push(slot_id);
                        } else {
                            retire = slots.remove(&slot_id).map(|s| s.tx);
                        }
                    }
                }
            }
        }
        if let Some(tx) = retire {
            self.rt.spawn(async move { tx.close_ssh().await });
        }
    }

    pub(crate) fn add_slot(&self, id: ChannelId, tx: Arc<Tx>, owner: bool, control: bool) {
        if let ConnKind::Ssh(ssh) = &self.kind {
            lock(&ssh.slots).insert(
                id,
                Slot {
                    tx,
                    owner,
                    control,
                    ctl: CountedCtl::new(ssh.partial_ctl.clone()),
                    cur: None,
                },
            );
        }
    }

    /// Whether the remote may open one more SSH channel: at most MAX_CHANNELS
    /// in use plus the idle pool, so a peer that opens SSH channels and never
    /// finishes them cannot grow memory without bound.
    pub(crate) fn ssh_channel_allowed(&self) -> bool {
        let ConnKind::Ssh(ssh) = &self.kind else {
            return false;
        };
        let n = lock(&ssh.slots).len();
        let ok = n < self.limits.max_channels + MAX_IDLE_SSH_CHANNELS + 1;
        if !ok {
            tracing::warn!(remote = %self.remote_name(), "refusing SSH channel: {n} open (MAX_CHANNELS = {})", self.limits.max_channels);
            self.emit(
                crate::EventKind::Refused,
                format!(
                    "SSH channel refused: {n} open (MAX_CHANNELS = {})",
                    self.limits.max_channels
                ),
            );
        }
        ok
    }

    fn slot_cur(&self, id: ChannelId) -> Option<Arc<ChanInner>> {
        let ConnKind::Ssh(ssh) = &self.kind else {
            return None;
        };
        lock(&ssh.slots).get(&id).and_then(|s| s.cur.clone())
    }

    /// Incoming SSH channel data (stream 0) or error-stream data (stream 1),
    /// copied into the connection's recycled receive slabs.
    pub(crate) fn ssh_data(&self, id: ChannelId, stream: u8, data: &[u8], slabs: &mut RecvSlabs) {
        match self.slot_cur(id) {
            Some(c) => c.on_data(stream, slabs.copy(data)),
            None => tracing::debug!(
                "dropping {} bytes for SSH channel {id} with no streamkit channel",
                data.len()
            ),
        }
    }

    /// Incoming bytes of the control stream of SSH channel `id`.
    pub(crate) fn ssh_ctl(self: &Arc<Self>, id: ChannelId, data: &[u8]) {
        let ConnKind::Ssh(ssh) = &self.kind else {
            return;
        };
        let (msgs, err, tx, control, partial) = {
            let mut slots = lock(&ssh.slots);
            let Some(s) = slots.get_mut(&id) else { return };
            s.ctl.r.push(data);
            let mut msgs = Vec::new();
            let mut err = None;
            loop {
                match s.ctl.r.next_msg() {
                    Ok(Some(m)) => msgs.push(m),
                    Ok(None) => break,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            let partial = s.ctl.settle();
            (msgs, err, s.tx.clone(), s.control, partial)
        };
        if partial > MAX_PARTIAL_CONTROL {
            let why = format!(
                "protocol violation: {partial} bytes of unfinished control messages over its SSH channels (the limit is {} MiB)",
                MAX_PARTIAL_CONTROL >> 20
            );
            tracing::warn!(remote = %self.remote_name(), via = %self.describe, "disconnecting: {why}");
            self.close(&why);
            return;
        }
        for m in msgs {
            match m {
                Ctl::Hello {
                    version,
                    name,
                    window,
                } => self.on_hello(id, &tx, version, &name, window as usize),
                _ if control => {
                    tracing::warn!(remote = %self.remote_name(), "ignoring {m:?} on the control channel")
                }
                Ctl::Open {
                    version,
                    id: cid,
                    parent,
                    service,
                    headers,
                } => {
                    if let Some(cur) = self.slot_cur(id) {
                        if cur.closed_both_ways() {
                            // Our CLOSE is queued and the owner's arrived: the owner
                            // only reuses the SSH channel after receiving our CLOSE,
                            // so it has been sent; only our bookkeeping lags.
                            if let Some(s) = lock(&ssh.slots).get_mut(&id) {
                                s.cur = None;
                            }
                            let mut chans = lock(&self.chans);
                            if chans.get(&cur.id).is_some_and(|c| Arc::ptr_eq(c, &cur)) {
                                chans.remove(&cur.id);
                            }
                        } else {
                            cur.protocol_violation("OPEN received on an SSH channel whose streamkit channel is still open");
                            continue;
                        }
                    }
                    if !self.hello_seen.load(Ordering::Acquire) {
                        tracing::warn!("OPEN before HELLO: closing connection");
                        self.close("protocol error: OPEN before HELLO");
                        return;
                    }
                    let chan = ChanInner::new(self.params(
                        cid,
                        service.clone(),
                        headers,
                        tx.clone(),
                        Some(id),
                    ));
                    if let Some(s) = lock(&ssh.slots).get_mut(&id) {
                        s.cur = Some(chan.clone());
                    }
                    if version != VERSION {
                        chan.fail_with(
                            Error::protocol(format!("unsupported channel version {version}")),
                            close_code::PROTOCOL,
                            true,
                        );
                        continue;
                    }
                    let remote_parity = if self.is_client { 0 } else { 1 };
                    let owned_by_remote = lock(&ssh.slots).get(&id).is_some_and(|s| !s.owner);
                    if cid == 0
                        || cid % 2 != remote_parity
                        || !owned_by_remote
                        || lock(&self.chans).contains_key(&cid)
                    {
                        chan.fail_with(
                            Error::protocol(format!("bad or duplicate channel id {cid}")),
                            close_code::PROTOCOL,
                            true,
                        );
                        continue;
                    }
                    if let Some(a) = self.remote_auth() {
                        if !a.grant.allows_service(&service) {
                            let why = format!(
                                "service {service:?} is not in the streamkit-services=\"{}\" of this key's AUTHORIZED_KEYS line",
                                a.grant.services.as_deref().unwrap_or_default().join(",")
                            );
                            tracing::warn!(remote = %self.remote_name(), "refusing channel {cid}: {why}");
                            self.emit(crate::EventKind::Refused, format!("channel refused: {why}"));
                            chan.fail_with(Error::closed(why), close_code::REFUSED, true);
                            continue;
                        }
                    }
                    self.accept_incoming(chan, parent);
                }
                other => match self.slot_cur(id) {
                    Some(c) => c.on_ctl(other),
                    None => tracing::debug!(
                        "control message {other:?} for SSH channel {id} with no streamkit channel"
                    ),
                },
            }
        }
        if let Some(e) = err {
            // The control stream of this SSH channel can no longer be parsed:
            // fail its streamkit channel and retire the SSH channel. Other
            // channels are unaffected.
            tracing::warn!(remote = %self.remote_name(), "malformed control message: {}", e.0);
            if let Some(c) = self.slot_cur(id) {
                c.fail_with(
                    Error::protocol(format!("malformed control message: {}", e.0)),
                    close_code::PROTOCOL,
                    false,
                );
            }
            lock(&ssh.slots).remove(&id);
            self.rt.spawn(async move { tx.close_ssh().await });
        }
    }

    fn on_hello(
        self: &Arc<Self>,
        id: ChannelId,
        tx: &Arc<Tx>,
        version: u8,
        name: &str,
        window: usize,
    ) {
        if self.hello_seen.load(Ordering::Acquire) {
            tracing::warn!("duplicate HELLO ignored");
            return;
        }
        if version != VERSION {
            self.close(&format!("unsupported protocol version {version}"));
            return;
        }
        if window < 1024 {
            self.close("HELLO window too small");
            return;
        }
        if let ConnKind::Ssh(ssh) = &self.kind {
            if let Some(s) = lock(&ssh.slots).get_mut(&id) {
                s.control = true;
            }
        }
        if self.is_client {
            if crate::options::validate_name(name).is_err() {
                self.close("server HELLO carries an invalid peer name");
                return;
            }
            self.mark_hello(name, window);
            return;
        }
        // server: the name must be the authenticated SSH user name
        let authed = self.remote_name();
        if authed != name {
            tracing::warn!(
                "HELLO name {name:?} differs from the authenticated user {authed:?}: closing"
            );
            self.close("HELLO name does not match the authenticated user");
            return;
        }
        // The client is known from now on (listed in peers(), its OPENs are
        // accepted) — before our HELLO leaves, so that when the client's
        // connect() returns we already know it. Our own opens wait until the
        // HELLO has been handed to the session (`hello_done`), so that no OPEN
        // can overtake it.
        self.set_remote_name(name);
        self.remote_window.store(window, Ordering::Release);
        self.hello_seen.store(true, Ordering::Release);
        if let Some(peer) = self.peer.upgrade() {
            if let Err(e) = peer.add_conn(self.clone()) {
                tracing::warn!("refused client {name:?} ({}): {e}", self.describe);
                self.close(&e.to_string());
                return;
            }
        }
        let me = self.clone();
        let tx = tx.clone();
        let name = name.to_string();
        self.rt.spawn(async move {
            let hello = Ctl::Hello {
                version: VERSION,
                name: me.local_name.clone(),
                window: me.limits.window as u32,
            };
            if tx.ctl(hello).await.is_err() {
                return;
            }
            me.mark_hello(&name, window);
        });
    }

    /// The remote closed an SSH channel.
    pub(crate) fn ssh_channel_closed(&self, id: ChannelId) {
        let ConnKind::Ssh(ssh) = &self.kind else {
            return;
        };
        let slot = lock(&ssh.slots).remove(&id);
        if let Some(Slot { cur: Some(c), .. }) = slot {
            c.fail_with(
                Error::closed("the remote closed the SSH channel"),
                close_code::NORMAL,
                false,
            );
        }
    }

    /// The connection is gone (or being closed): fail every channel.
    pub(crate) fn on_lost(&self, reason: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        *lock(&self.lost) = Some(reason.to_string());
        let remote = self.remote_name();
        if self.hello_done.load(Ordering::Acquire) {
            tracing::info!(%remote, via = %self.describe, "connection closed: {reason}");
            self.emit(crate::EventKind::Disconnected, reason);
        } else {
            tracing::debug!(via = %self.describe, "connection closed before the hello exchange: {reason}");
            self.emit(crate::EventKind::HandshakeFailed, reason);
        }
        let chans: Vec<_> = lock(&self.chans).drain().map(|(_, c)| c).collect();
        let e = Error::closed(format!("connection to {remote} lost: {reason}"));
        for c in chans {
            c.fail_with(e.clone(), close_code::SHUTDOWN, false);
        }
        if let ConnKind::Ssh(ssh) = &self.kind {
            lock(&ssh.slots).clear();
            lock(&ssh.idle).clear();
        }
        if let ConnKind::Inproc(o) = &self.kind {
            let other = lock(o).upgrade();
            if let Some(o) = other {
                o.on_lost(reason);
            }
        }
        if let Some(peer) = self.peer.upgrade() {
            peer.remove_conn(self);
        }
        self.events.notify_waiters();
    }

    /// Close the connection: send SSH_MSG_DISCONNECT, and end the socket I/O
    /// shortly after even if the remote or the session does not cooperate
    /// (a stalled handshake, a dead link).
    /// Why the connection ended, once it has.
    pub(crate) fn lost_reason(&self) -> Option<String> {
        lock(&self.lost).clone()
    }

    pub(crate) fn close(&self, reason: &str) {
        // Record our reason first: the disconnect below may end the session
        // on another worker before this thread runs on, and the first reason
        // recorded is the one events and errors report.
        let disconnect = match &self.kind {
            ConnKind::Ssh(ssh) => ssh.link.get().map(|l| l.disconnect(reason.to_string())),
            ConnKind::Inproc(_) => None,
        };
        self.on_lost(reason);
        if let ConnKind::Ssh(_) = &self.kind {
            let kill = self.kill.clone();
            self.rt.spawn(async move {
                if let Some(d) = disconnect {
                    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), d).await;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                kill.cancel();
            });
        }
    }
}

impl Conn {
    /// The registered `Arc` of a channel of this connection.
    pub(crate) fn chan_arc(&self, c: &ChanInner) -> Option<Arc<ChanInner>> {
        lock(&self.chans)
            .get(&c.id)
            .filter(|x| std::ptr::eq(&***x, c))
            .cloned()
    }
}

impl ChanHost for Conn {
    fn chan_arc(&self, c: &ChanInner) -> Option<Arc<ChanInner>> {
        Conn::chan_arc(self, c)
    }

    fn channel_finished(&self, c: &ChanInner) {
        Conn::channel_finished(self, c);
    }

    fn note_rtt(&self, rtt: std::time::Duration) {
        self.set_rtt(rtt);
    }

    fn open_child<'a>(
        self: Arc<Self>,
        parent: u64,
        service: &'a str,
        headers: &'a [String],
    ) -> BoxFuture<'a, Result<Channel>> {
        Box::pin(async move { self.open(parent, service, headers).await })
    }
}

impl Conn {
    /// An event about this connection: its remote name, endpoint and the
    /// remote key's fingerprint, as far as they are known.
    pub(crate) fn event(&self, kind: crate::event::EventKind) -> crate::event::Event {
        let fp = lock(&self.identity).fingerprint.clone();
        crate::event::Event::new(kind)
            .peer(self.remote_name())
            .endpoint(self.describe.clone())
            .fingerprint(fp)
    }

    /// Queue an event about this connection with `reason`.
    pub(crate) fn emit(&self, kind: crate::event::EventKind, reason: impl Into<String>) {
        self.ev.push(self.event(kind).reason(reason));
    }
}
