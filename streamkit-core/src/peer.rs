//! Peers: bind, connect, accept and open channels.

use crate::authz::Source;
use crate::channel::{AcceptQueue, Channel};
use crate::conn::{Conn, ConnOwner, ConnStats, InprocOwner, Limits};
use crate::endpoint::{Endpoint, Target};
use crate::error::{Error, Result};
use crate::event::{Event, EventKind, EventQueue};
use crate::keys::{self, TrustSet};
use crate::options::{Options, PeerOption};
use crate::slab::SlabPool;
use crate::ssh::{self, ConnSettings};
use crate::startups::{Slot, Startups};
use crate::sync::lock;
use russh::keys::{PrivateKey, PublicKey};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Listener {
    task: Option<JoinHandle<()>>,
    unix_path: Option<PathBuf>,
    inproc: Option<String>,
}

struct Connector {
    cancel: CancellationToken,
    current: Arc<Mutex<Option<Arc<Conn>>>>,
}

pub(crate) struct PeerInner {
    opts: Mutex<Options>,
    key: Mutex<Option<Arc<PrivateKey>>>,
    /// The last trust set built, with what it was built from.
    trust: Mutex<Option<(keys::AuthorizedStamp, PublicKey, Arc<TrustSet>)>>,
    conns: Mutex<Vec<Arc<Conn>>>,
    listeners: Mutex<HashMap<String, Listener>>,
    /// Requested spellings of bound endpoints (`tcp://127.0.0.1:0`) to the
    /// endpoint actually bound, so `unbind` accepts either.
    aliases: Mutex<HashMap<String, String>>,
    connectors: Mutex<HashMap<String, Connector>>,
    pub(crate) accept_q: AcceptQueue,
    rr: AtomicUsize,
    shut: AtomicBool,
    /// Receive buffers recycled across this peer's SSH connections.
    slabs: Arc<SlabPool>,
    /// Connections accepted but not yet authenticated (MAX_STARTUPS).
    startups: Arc<Startups>,
    /// What happened to connections, for `next_event` (bounded, never waits).
    pub(crate) events: Arc<EventQueue>,
    /// The readiness descriptor for accept and events, made on first use.
    poll: std::sync::OnceLock<Arc<crate::readiness::Readiness>>,
}

impl PeerInner {
    pub(crate) fn is_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        if self.is_shut() {
            Err(Error::closed("peer is shut down"))
        } else {
            Ok(())
        }
    }

    pub(crate) fn identity(&self) -> Result<Arc<PrivateKey>> {
        let mut k = lock(&self.key);
        if let Some(k) = &*k {
            return Ok(k.clone());
        }
        let opt = lock(&self.opts).private_key.clone();
        let key = Arc::new(keys::load_identity(opt.as_deref())?);
        *k = Some(key.clone());
        Ok(key)
    }

    fn limits(o: &Options) -> Limits {
        Limits {
            window: o.channel_window as usize,
            max_frame: o.max_frame_size as usize,
            backlog: o.accept_backlog as usize,
            max_channels: o.max_channels as usize,
            window_budget: o.window_budget as usize,
        }
    }

    pub(crate) fn settings(&self) -> Result<ConnSettings> {
        let key = self.identity()?;
        let o = lock(&self.opts).clone();
        let trust = self.trust_set(o.authorized_keys.as_deref(), key.public_key())?;
        let known_hosts = keys::load_known_hosts(o.known_hosts.as_deref())?;
        Ok(ConnSettings {
            name: o.name.clone(),
            trust,
            key,
            known_hosts,
            limits: Self::limits(&o),
            handshake_timeout: Duration::from_millis(o.handshake_timeout as u64),
            keepalive: (o.keepalive_interval > 0).then(|| {
                (
                    Duration::from_millis(o.keepalive_interval as u64),
                    o.keepalive_count as usize,
                )
            }),
            slabs: self.slabs.clone(),
        })
    }

    /// AUTHORIZED_KEYS plus the own key, parsed again only when the option
    /// or the file changed (each accepted socket asks, before any
    /// authentication: a large file must not be parsed per stranger).
    fn trust_set(&self, opt: Option<&str>, own: &PublicKey) -> Result<Arc<TrustSet>> {
        let stamp = keys::authorized_stamp(opt);
        if let (Some(st), Some((s, k, t))) = (&stamp, &*lock(&self.trust)) {
            if s == st && k == own {
                return Ok(t.clone());
            }
        }
        let t = Arc::new(TrustSet::new(keys::load_authorized(opt)?, own.clone()));
        if let Some(st) = stamp.filter(keys::AuthorizedStamp::settled) {
            *lock(&self.trust) = Some((st, own.clone(), t.clone()));
        }
        Ok(t)
    }

    pub(crate) fn settings_for_inproc(&self) -> Result<(String, Limits)> {
        self.check_open()?;
        let o = lock(&self.opts);
        Ok((o.name.clone(), Self::limits(&o)))
    }

    /// Add an established connection. An SSH connection whose remote name
    /// is this peer's own name, or is already connected with another key, is
    /// refused (an `Auth` error naming the reason); the caller closes it.
    pub(crate) fn add_conn(&self, c: Arc<Conn>) -> Result<()> {
        if self.is_shut() {
            c.close("peer is shut down");
            return Ok(());
        }
        let per_key = lock(&self.opts).max_connections_per_key as usize;
        let mut conns = lock(&self.conns);
        if let Some(a) = c.remote_auth() {
            self.check_claim(&conns, &c.remote_name(), &a.key)
                .map_err(Error::Auth)?;
            if per_key > 0 && !c.is_client {
                let held = conns
                    .iter()
                    .filter(|x| !x.is_closed() && !x.is_client && x.remote_key_is(&a.key))
                    .count();
                if held >= per_key {
                    let why = format!(
                        "connection refused: key {} already holds {held} connections (MAX_CONNECTIONS_PER_KEY = {per_key})",
                        a.key.fingerprint(russh::keys::HashAlg::Sha256)
                    );
                    drop(conns);
                    self.events.push(
                        crate::Event::new(crate::EventKind::Refused)
                            .peer(c.remote_name())
                            .endpoint(c.describe.clone())
                            .fingerprint_of(&a.key)
                            .reason(why.clone()),
                    );
                    return Err(Error::closed(why));
                }
            }
        }
        conns.push(c);
        Ok(())
    }

    /// Whether a remote authenticated with `key` may use the peer name `name`.
    pub(crate) fn name_claim(
        &self,
        name: &str,
        key: &PublicKey,
    ) -> std::result::Result<(), String> {
        self.check_claim(&lock(&self.conns), name, key)
    }

    fn check_claim(
        &self,
        conns: &[Arc<Conn>],
        name: &str,
        key: &PublicKey,
    ) -> std::result::Result<(), String> {
        if lock(&self.opts).name == name {
            return Err(format!(
                "the name {name:?} is this peer's own name and cannot be claimed by a remote"
            ));
        }
        for other in conns
            .iter()
            .filter(|c| !c.is_closed() && c.remote_name_is(name))
        {
            if let Some(a) = other.remote_auth() {
                if a.key.key_data() != key.key_data() {
                    return Err(format!(
                        "the name {name:?} is already connected with another key ({})",
                        keys::public_line(&a.key)
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn remove_conn(&self, c: &Conn) {
        lock(&self.conns).retain(|x| !std::ptr::eq(&**x, c));
    }

    fn peers(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.conns)
            .iter()
            .filter(|c| c.is_established())
            .map(|c| c.remote_name())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn conn_for(&self, name: &str) -> Option<Arc<Conn>> {
        let conns = lock(&self.conns);
        let mut best: Option<&Arc<Conn>> = None;
        for c in conns
            .iter()
            .filter(|c| c.is_established() && c.remote_name_is(name))
        {
            if best.is_none_or(|b| c.channel_count() < b.channel_count()) {
                best = Some(c);
            }
        }
        best.cloned()
    }

    /// Mark shut down, stop connectors and listeners, refuse accepts, and take
    /// the connections. `None` if already shut down.
    fn begin_shutdown(&self) -> Option<Vec<Arc<Conn>>> {
        if self.shut.swap(true, Ordering::AcqRel) {
            return None;
        }
        for (_, c) in lock(&self.connectors).drain() {
            c.cancel.cancel();
        }
        lock(&self.aliases).clear();
        let listeners: Vec<Listener> = lock(&self.listeners).drain().map(|(_, l)| l).collect();
        for l in listeners {
            self.stop_listener(l);
        }
        self.accept_q.close(Error::closed("peer is shut down"));
        Some(lock(&self.conns).drain(..).collect())
    }

    /// Stop everything at once (used when the last handle is dropped).
    fn shutdown_now(&self) {
        if let Some(conns) = self.begin_shutdown() {
            for c in &conns {
                c.close("peer shut down");
            }
        }
        self.events.close();
    }

    fn stop_listener(&self, l: Listener) {
        if let Some(t) = l.task {
            t.abort();
        }
        if let Some(p) = l.unix_path {
            let _ = std::fs::remove_file(p);
        }
        if let Some(n) = l.inproc {
            crate::inproc::unbind(&n, self as &dyn InprocOwner);
        }
    }
}

impl ConnOwner for PeerInner {
    fn add_conn(&self, c: Arc<Conn>) -> Result<()> {
        PeerInner::add_conn(self, c)
    }

    fn remove_conn(&self, c: &Conn) {
        PeerInner::remove_conn(self, c);
    }

    fn name_claim(&self, name: &str, key: &PublicKey) -> std::result::Result<(), String> {
        PeerInner::name_claim(self, name, key)
    }

    fn accept_channel(&self, c: Channel) -> std::result::Result<(), (Channel, &'static str)> {
        self.accept_q.push(c)
    }

    fn event_queue(&self) -> Arc<EventQueue> {
        self.events.clone()
    }
}

impl InprocOwner for PeerInner {
    fn is_shut(&self) -> bool {
        PeerInner::is_shut(self)
    }

    fn settings_for_inproc(&self) -> Result<(String, Limits)> {
        PeerInner::settings_for_inproc(self)
    }

    fn identity(&self) -> Result<Arc<PrivateKey>> {
        PeerInner::identity(self)
    }
}

struct PeerHandle {
    inner: Arc<PeerInner>,
}

impl Drop for PeerHandle {
    fn drop(&mut self) {
        self.inner.shutdown_now();
    }
}

/// A streamkit peer: binds and connects like a ZeroMQ socket; every
/// connection is a mutually authenticated SSH connection (or an in-memory
/// link for `inproc://`), and channels are opened to peers by name.
///
/// `Peer` is a cheap clonable handle. When the last handle is dropped the
/// peer shuts down.
///
/// ```no_run
/// # async fn demo() -> streamkit_core::Result<()> {
/// use streamkit_core::{Peer, PeerOption};
/// let server = Peer::new();
/// server.set_option_str(PeerOption::Name, "server")?;
/// let client = Peer::new();
/// // trust each other
/// server.set_option_str(PeerOption::AuthorizedKeys, &client.public_key()?)?;
/// client.set_option_str(PeerOption::AuthorizedKeys, &server.public_key()?)?;
/// let ep = server.bind("tcp://127.0.0.1:0").await?;
/// client.connect(&ep).await?;
/// let ch = client.open("server", "greeting", &[]).await?;
/// ch.write_frame(b"hi").await?;
/// let incoming = server.accept().await?;
/// assert_eq!(incoming.read_frame().await?.as_deref(), Some(&b"hi"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Peer {
    h: Arc<PeerHandle>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer").field("name", &self.name()).finish()
    }
}

impl Default for Peer {
    fn default() -> Self {
        Peer::new()
    }
}

fn backoff(interval: i64, max: i64, attempt: u32) -> Duration {
    let base = interval.max(1) as f64;
    let d = if max <= 0 {
        base
    } else {
        (base * 2f64.powi(attempt.min(30) as i32)).min(max as f64)
    };
    // +-20% jitter
    let j = 0.8 + 0.4 * (rand::random::<u32>() as f64 / u32::MAX as f64);
    Duration::from_millis((d * j).max(1.0) as u64)
}

impl Peer {
    /// A new peer with default options (a random UUID name, the user's
    /// ~/.ssh identity or a fresh ed25519 key). Needs no runtime.
    pub fn new() -> Peer {
        Peer {
            h: Arc::new(PeerHandle {
                inner: Arc::new(PeerInner {
                    opts: Mutex::new(Options::default()),
                    key: Mutex::new(None),
                    trust: Mutex::new(None),
                    conns: Mutex::new(Vec::new()),
                    listeners: Mutex::new(HashMap::new()),
                    aliases: Mutex::new(HashMap::new()),
                    connectors: Mutex::new(HashMap::new()),
                    accept_q: AcceptQueue::new(1024),
                    rr: AtomicUsize::new(0),
                    shut: AtomicBool::new(false),
                    slabs: Arc::default(),
                    startups: Arc::default(),
                    events: Arc::default(),
                    poll: std::sync::OnceLock::new(),
                }),
            }),
        }
    }

    fn i(&self) -> &Arc<PeerInner> {
        &self.h.inner
    }

    /// Set a string option (PRIVATE_KEY, AUTHORIZED_KEYS, NAME, KNOWN_HOSTS).
    /// Keys are checked now, so a bad key fails here with a message naming it.
    /// Changes apply to connections made afterwards.
    pub fn set_option_str(&self, opt: PeerOption, v: &str) -> Result<()> {
        let i = self.i();
        i.check_open()?;
        match opt {
            PeerOption::PrivateKey if !v.is_empty() => {
                let k = keys::load_identity(Some(v))?;
                lock(&i.opts).set_str(opt, v)?;
                *lock(&i.key) = Some(Arc::new(k));
                Ok(())
            }
            PeerOption::PrivateKey => {
                lock(&i.opts).set_str(opt, v)?;
                *lock(&i.key) = None;
                Ok(())
            }
            PeerOption::AuthorizedKeys if !v.is_empty() => {
                keys::load_authorized(Some(v))?;
                lock(&i.opts).set_str(opt, v)
            }
            PeerOption::KnownHosts if !v.is_empty() => {
                keys::load_known_hosts(Some(v))?;
                lock(&i.opts).set_str(opt, v)
            }
            _ => lock(&i.opts).set_str(opt, v),
        }
    }

    /// Set an integer option.
    pub fn set_option_int(&self, opt: PeerOption, v: i64) -> Result<()> {
        self.i().check_open()?;
        lock(&self.i().opts).set_int(opt, v)?;
        if opt == PeerOption::AcceptBacklog {
            self.i().accept_q.set_cap(v as usize);
        }
        Ok(())
    }

    /// Get a string option.
    pub fn get_option_str(&self, opt: PeerOption) -> Result<String> {
        lock(&self.i().opts).get_str(opt)
    }

    /// Get an integer option.
    pub fn get_option_int(&self, opt: PeerOption) -> Result<i64> {
        lock(&self.i().opts).get_int(opt)
    }

    /// This peer's public key as one OpenSSH line (`ssh-ed25519 AAAA...`).
    pub fn public_key(&self) -> Result<String> {
        Ok(keys::public_line(self.i().identity()?.public_key()))
    }

    /// This peer's name.
    pub fn name(&self) -> String {
        lock(&self.i().opts).name.clone()
    }

    /// True once [`Peer::shutdown`] was called.
    pub fn is_shutdown(&self) -> bool {
        self.i().is_shut()
    }

    /// Bind an endpoint and accept connections on it. Returns the endpoint
    /// actually bound (the real port for `tcp://HOST:0`).
    pub async fn bind(&self, endpoint: &str) -> Result<String> {
        let i = self.i().clone();
        i.check_open()?;
        let ep = Endpoint::parse(endpoint)?;
        if let Endpoint::Inproc(name) = &ep {
            crate::inproc::bind(name, &(i.clone() as Arc<dyn InprocOwner>))?;
            let bound = ep.to_string();
            lock(&i.listeners).insert(
                bound.clone(),
                Listener {
                    task: None,
                    unix_path: None,
                    inproc: Some(name.clone()),
                },
            );
            return Ok(bound);
        }
        // Validate keys now so a bad key is reported by bind, not per connection.
        i.settings()?;
        let (bound, task, unix_path) = match &ep {
            Endpoint::Tcp { host, port } => {
                let l = tokio::net::TcpListener::bind((host.as_str(), *port))
                    .await
                    .map_err(|e| Error::Io(format!("cannot bind {endpoint}: {e}")))?;
                let addr = l.local_addr()?;
                let bound = Endpoint::Tcp {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                }
                .to_string();
                let weak = Arc::downgrade(&i);
                let bound2 = bound.clone();
                let task = tokio::spawn(async move {
                    let mut backoff = AcceptBackoff::default();
                    loop {
                        let (s, from) = match l.accept().await {
                            Ok(x) => x,
                            Err(e) => {
                                backoff.failed(&bound2, &e).await;
                                continue;
                            }
                        };
                        backoff.ok();
                        let Some(peer) = weak.upgrade() else { return };
                        let from_s = format!("tcp://{from}");
                        // Over MAX_STARTUPS the socket is dropped (closed) here,
                        // before the banner or any key-exchange work.
                        let slot = match peer.startups.try_admit(Some(from.ip()), &from_s) {
                            Ok(slot) => slot,
                            Err(why) => {
                                peer.events.push(refused_startup(&from_s, why));
                                continue;
                            }
                        };
                        let _ = s.set_nodelay(true);
                        spawn_serve(peer, from_s, Source::ip(from.ip()), s, slot, None);
                    }
                });
                (bound, task, None)
            }
            Endpoint::Unix(path) => {
                let l = match tokio::net::UnixListener::bind(path) {
                    Ok(l) => l,
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                        // A stale socket file from a dead process can be
                        // replaced; any other kind of file is never removed.
                        use std::os::unix::fs::FileTypeExt;
                        let is_socket = std::fs::symlink_metadata(path)
                            .is_ok_and(|m| m.file_type().is_socket());
                        if !is_socket {
                            return Err(Error::Io(format!(
                                "cannot bind {endpoint}: {} exists and is not a socket; remove it or choose another path",
                                path.display()
                            )));
                        }
                        if tokio::net::UnixStream::connect(path).await.is_ok() {
                            return Err(Error::Io(format!(
                                "cannot bind {endpoint}: address in use"
                            )));
                        }
                        let _ = std::fs::remove_file(path);
                        tokio::net::UnixListener::bind(path)
                            .map_err(|e| Error::Io(format!("cannot bind {endpoint}: {e}")))?
                    }
                    Err(e) => return Err(Error::Io(format!("cannot bind {endpoint}: {e}"))),
                };
                let weak = Arc::downgrade(&i);
                let from = ep.to_string();
                let task = tokio::spawn(async move {
                    let mut backoff = AcceptBackoff::default();
                    loop {
                        let s = match l.accept().await {
                            Ok((s, _)) => s,
                            Err(e) => {
                                backoff.failed(&from, &e).await;
                                continue;
                            }
                        };
                        backoff.ok();
                        let Some(peer) = weak.upgrade() else { return };
                        let slot = match peer.startups.try_admit(None, &from) {
                            Ok(slot) => slot,
                            Err(why) => {
                                peer.events.push(refused_startup(&from, why));
                                continue;
                            }
                        };
                        spawn_serve(
                            peer,
                            from.clone(),
                            Source::NoAddress("unix://"),
                            s,
                            slot,
                            None,
                        );
                    }
                });
                (ep.to_string(), task, Some(path.clone()))
            }
            Endpoint::Inproc(_) => unreachable_inproc()?,
        };
        let mut ls = lock(&i.listeners);
        if i.is_shut() {
            task.abort();
            return Err(Error::closed("peer is shut down"));
        }
        ls.insert(
            bound.clone(),
            Listener {
                task: Some(task),
                unix_path,
                inproc: None,
            },
        );
        drop(ls);
        if bound != endpoint {
            lock(&i.aliases).insert(endpoint.to_string(), bound.clone());
        }
        Ok(bound)
    }

    /// Stop accepting on an endpoint given to (or returned by) `bind`.
    /// Connections already made stay up.
    pub async fn unbind(&self, endpoint: &str) -> Result<()> {
        let i = self.i();
        i.check_open()?;
        Endpoint::parse(endpoint)?;
        let key = {
            let mut aliases = lock(&i.aliases);
            let key = aliases
                .remove(endpoint)
                .unwrap_or_else(|| endpoint.to_string());
            aliases.retain(|_, bound| *bound != key);
            key
        };
        let l = lock(&i.listeners).remove(&key);
        match l {
            Some(mut l) => {
                // Wait for the accept task to end, so the socket is closed
                // (new connects refused) when unbind returns.
                let task = l.task.take();
                i.stop_listener(l);
                if let Some(t) = task {
                    t.abort();
                    let _ = t.await;
                }
                Ok(())
            }
            None => Err(Error::invalid(format!(
                "endpoint {endpoint} is not bound by this peer"
            ))),
        }
    }

    /// Connect to a bound peer. Retries per RECONNECT_INTERVAL until
    /// CONNECT_TIMEOUT; returns once both sides know each other's name.
    /// If the connection later drops it is re-established in the background.
    pub async fn connect(&self, endpoint: &str) -> Result<()> {
        self.connect_dial(endpoint, None).await
    }

    /// [`Peer::connect`] to `endpoint` through streams made by `dial`: each
    /// attempt, and each reconnect after the connection drops, calls `dial`
    /// again (a proxy command is run again, say). Trust is checked as for
    /// a direct connection to `endpoint` (KNOWN_HOSTS for its host);
    /// [`Peer::disconnect`]`(endpoint)` ends it. A `dial` error counts as a
    /// failed attempt (retried per RECONNECT_INTERVAL until CONNECT_TIMEOUT).
    pub async fn connect_via<F, Fut, S>(&self, endpoint: &str, dial: F) -> Result<()>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::io::Result<S>> + Send + 'static,
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let ep = Endpoint::parse(endpoint)?;
        if matches!(ep, Endpoint::Inproc(_)) {
            return Err(Error::invalid(format!(
                "bad endpoint {endpoint:?}: inproc:// cannot be reached through a stream"
            )));
        }
        let dial: Dialer = Arc::new(move || {
            let f = dial();
            Box::pin(async move {
                let s = f.await?;
                Ok(Box::pin(s) as BoxStream)
            })
        });
        self.connect_dial(endpoint, Some(dial)).await
    }

    async fn connect_dial(&self, endpoint: &str, dial: Option<Dialer>) -> Result<()> {
        let i = self.i().clone();
        i.check_open()?;
        let ep = Endpoint::parse(endpoint)?;
        if !matches!(ep, Endpoint::Inproc(_)) {
            i.settings()?;
        }
        if let Some(c) = lock(&i.connectors).get(endpoint) {
            if lock(&c.current)
                .as_ref()
                .is_some_and(|c| c.is_established())
            {
                return Ok(());
            }
        }
        let connect_timeout = lock(&i.opts).connect_timeout;
        let cancel = CancellationToken::new();
        let current = Arc::new(Mutex::new(None));
        let last_err: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = oneshot::channel::<Result<()>>();
        {
            let mut cs = lock(&i.connectors);
            if let Some(old) = cs.insert(
                endpoint.to_string(),
                Connector {
                    cancel: cancel.clone(),
                    current: current.clone(),
                },
            ) {
                old.cancel.cancel();
            }
        }
        let weak = Arc::downgrade(&i);
        tokio::spawn(connector_loop(
            weak,
            ep.clone(),
            dial,
            cancel.clone(),
            current,
            last_err.clone(),
            tx,
        ));
        let res = if connect_timeout == 0 {
            rx.await
                .unwrap_or_else(|_| Err(Error::closed("peer shut down while connecting")))
        } else {
            match tokio::time::timeout(Duration::from_millis(connect_timeout as u64), rx).await {
                Ok(r) => {
                    r.unwrap_or_else(|_| Err(Error::closed("peer shut down while connecting")))
                }
                Err(_) => {
                    let why = lock(&last_err)
                        .as_ref()
                        .map(|e| format!(": last error: {e}"))
                        .unwrap_or_default();
                    Err(Error::Timeout(format!(
                        "could not connect to {endpoint} within {connect_timeout} ms (CONNECT_TIMEOUT){why}"
                    )))
                }
            }
        };
        if res.is_err() {
            cancel.cancel();
            let mut cs = lock(&i.connectors);
            if cs.get(endpoint).is_some_and(|c| c.cancel.is_cancelled()) {
                cs.remove(endpoint);
            }
        }
        res
    }

    /// Close the connection made by `connect(endpoint)` and stop reconnecting.
    pub async fn disconnect(&self, endpoint: &str) -> Result<()> {
        let i = self.i();
        i.check_open()?;
        Endpoint::parse(endpoint)?;
        let c = lock(&i.connectors).remove(endpoint);
        match c {
            Some(c) => {
                c.cancel.cancel();
                let conn = lock(&c.current).take();
                if let Some(conn) = conn {
                    conn.close("disconnected");
                }
                Ok(())
            }
            None => Err(Error::invalid(format!("not connected to {endpoint}"))),
        }
    }

    /// Names of the connected peers, sorted, without duplicates.
    pub fn peers(&self) -> Vec<String> {
        self.i().peers()
    }

    /// One entry per established connection (see [`ConnStats`]), in the
    /// order they were made. A peer reached over several connections has
    /// an entry for each.
    pub fn stats(&self) -> Vec<ConnStats> {
        let conns: Vec<Arc<Conn>> = lock(&self.i().conns)
            .iter()
            .filter(|c| c.is_established())
            .cloned()
            .collect();
        conns.iter().map(|c| c.stats()).collect()
    }

    /// Close every connection to the peer `name` and stop reconnecting to it.
    pub async fn drop_peer(&self, name: &str) -> Result<()> {
        let i = self.i();
        i.check_open()?;
        let victims: Vec<Arc<Conn>> = lock(&i.conns)
            .iter()
            .filter(|c| c.remote_name_is(name))
            .cloned()
            .collect();
        if victims.is_empty() {
            return Err(Error::NoPeer(format!("no connected peer named {name:?}")));
        }
        {
            let mut cs = lock(&i.connectors);
            cs.retain(|_, c| {
                let hit = lock(&c.current)
                    .as_ref()
                    .is_some_and(|x| x.remote_name_is(name));
                if hit {
                    c.cancel.cancel();
                }
                !hit
            });
        }
        for c in victims {
            c.close("dropped");
        }
        Ok(())
    }

    /// The next connected peer in round-robin order, or `None`.
    pub fn next_peer(&self) -> Option<String> {
        let names = self.peers();
        if names.is_empty() {
            return None;
        }
        let k = self.i().rr.fetch_add(1, Ordering::Relaxed);
        Some(names[k % names.len()].clone())
    }

    /// Wait for a channel opened by a remote peer. Fails with a closed error
    /// once the peer is shut down.
    pub async fn accept(&self) -> Result<Channel> {
        self.i().accept_q.pop().await
    }

    /// Open a channel to the connected peer `peer`.
    pub async fn open(&self, peer: &str, service: &str, headers: &[String]) -> Result<Channel> {
        let i = self.i();
        i.check_open()?;
        let conn = i.conn_for(peer).ok_or_else(|| {
            Error::NoPeer(format!(
                "no connected peer named {peer:?} (connected: {:?})",
                i.peers()
            ))
        })?;
        conn.open(0, service, headers).await
    }

    /// Close every connection, listener and channel; unblock every waiting
    /// call with a closed error. A second call is a closed error.
    ///
    /// Shutdown is graceful: every channel still open is closed, and the
    /// remote's acknowledgement of each close is awaited (so everything
    /// written before has been delivered), then each connection is
    /// disconnected and its socket flushed — for up to 2 seconds in all — so a
    /// process may exit right after shutting down.
    pub async fn shutdown(&self) -> Result<()> {
        let Some(conns) = self.i().begin_shutdown() else {
            return Err(Error::closed("peer is already shut down"));
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for c in &conns {
            c.close_all_channels();
        }
        let _ = tokio::time::timeout_at(deadline, async {
            for c in &conns {
                c.wait_no_channels().await;
            }
        })
        .await;
        for c in &conns {
            c.close("peer shut down");
        }
        let _ = tokio::time::timeout_at(deadline + Duration::from_millis(500), async {
            for c in &conns {
                c.io_done.cancelled().await;
            }
        })
        .await;
        self.i().events.close();
        Ok(())
    }

    /// Run the SSH client side of a connection over `io`, any byte stream
    /// (a socket made elsewhere, a socketpair to a child process, a command's
    /// stdin/stdout), and return the remote peer's name once the names are
    /// exchanged. Trust, keepalive and channel semantics are those of
    /// `tcp://`: the server's key must be trusted (AUTHORIZED_KEYS, or
    /// KNOWN_HOSTS, where a bare stream has no host name, so any plain line
    /// with the key matches; see [`Peer::connect_stream_to`]).
    ///
    /// A stream cannot be reopened, so a lost connection is not
    /// re-established: its channels fail and the remote leaves `peers()`.
    pub async fn connect_stream<S>(&self, io: S) -> Result<String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        self.connect_stream_target(io, Target::stream(None)).await
    }

    /// [`Peer::connect_stream`] for a stream that leads to `endpoint` (a
    /// proxy command's target, say): KNOWN_HOSTS is checked for that
    /// endpoint's host, and messages name it.
    pub async fn connect_stream_to<S>(&self, io: S, endpoint: &str) -> Result<String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let ep = Endpoint::parse(endpoint)?;
        if matches!(ep, Endpoint::Inproc(_)) {
            return Err(Error::invalid(format!(
                "bad endpoint {endpoint:?}: a stream cannot lead to an inproc:// endpoint"
            )));
        }
        self.connect_stream_target(io, Target::stream(Some(ep)))
            .await
    }

    async fn connect_stream_target<S>(&self, io: S, target: Target) -> Result<String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let i = self.i().clone();
        i.check_open()?;
        let settings = i.settings()?;
        let owner: Arc<dyn ConnOwner> = i.clone();
        let conn = ssh::connect(
            &owner,
            &settings,
            &target,
            Source::NoAddress("stream"),
            Box::pin(io),
        )
        .await?;
        if let Err(e) = i.add_conn(conn.clone()) {
            conn.close("name refused");
            return Err(e);
        }
        Ok(conn.remote_name())
    }

    /// Run the SSH server side of a connection over `io` (see
    /// [`Peer::connect_stream`]), like one accepted by [`Peer::bind`], and
    /// return the client's name once the names are exchanged. The client
    /// must be trusted (AUTHORIZED_KEYS); a stream has no source address,
    /// so `from=` lines never admit it. Fails after HANDSHAKE_TIMEOUT if
    /// the client does not complete the handshake.
    pub async fn serve_stream<S>(&self, io: S) -> Result<String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let i = self.i().clone();
        i.check_open()?;
        let settings = i.settings()?;
        let timeout = settings.handshake_timeout;
        let slot = i
            .startups
            .try_admit(None, "stream")
            .map_err(|why| Error::closed(format!("refused: {why}")))?;
        let (tx, rx) = oneshot::channel();
        spawn_serve(
            i.clone(),
            "stream".into(),
            Source::NoAddress("stream"),
            Box::pin(io),
            slot,
            Some(tx),
        );
        let conn = rx
            .await
            .map_err(|_| Error::closed("the stream's connection ended at once"))?;
        match tokio::time::timeout(timeout + Duration::from_millis(500), conn.wait_hello()).await {
            Ok(true) => Ok(conn.remote_name()),
            Ok(false) => Err(Error::closed(format!(
                "the client on the stream did not complete the handshake: {}",
                conn.lost_reason()
                    .unwrap_or_else(|| "connection closed".into())
            ))),
            Err(_) => {
                conn.close("handshake timeout");
                Err(Error::Timeout(format!(
                    "the client on the stream did not complete the handshake within {} ms (HANDSHAKE_TIMEOUT)",
                    timeout.as_millis()
                )))
            }
        }
    }

    /// The next event about this peer's connections (see [`Event`]), waiting
    /// for one. Events are kept in a bounded queue ([`crate::EVENT_QUEUE`]);
    /// adding one never waits, so I/O is never slowed by a slow reader: when
    /// the queue is full the newest are dropped and counted, and the count
    /// arrives, in order, as one [`EventKind::Overflow`] event.
    ///
    /// After [`Peer::shutdown`] (or once the last handle is gone) the events
    /// still queued are returned (including the shutdown's own
    /// `Disconnected` events), then `None`. Cancel-safe.
    pub async fn next_event(&self) -> Option<Event> {
        self.i().events.pop().await
    }

    /// A descriptor for an event loop (poll, epoll, kqueue, selectors),
    /// level-triggered: readable exactly while [`Peer::accept`] or
    /// [`Peer::next_event`] would return without waiting (a channel or an
    /// event is queued, or the peer is shut down). A wake-up may find the
    /// other one ready instead: try both without waiting. Another thread
    /// taking the channel or event first is the only way a wake-up can find
    /// nothing.
    ///
    /// The descriptor belongs to the peer: do not read, write or close it;
    /// it stays valid while any handle to the peer exists.
    pub fn poll_fd(&self) -> Result<std::os::unix::io::RawFd> {
        let i = self.i();
        if i.poll.get().is_none() {
            let r = crate::readiness::Readiness::new()
                .map_err(|e| Error::Io(format!("cannot create a readiness descriptor: {e}")))?;
            if i.poll.set(Arc::new(r)).is_ok() {
                if let Some(r) = i.poll.get() {
                    i.accept_q.attach(r.clone(), 0);
                    i.events.attach(r.clone(), 1);
                }
            }
        }
        Ok(i.poll.get().map_or(-1, |r| r.fd()))
    }
}

fn refused_startup(from: &str, why: String) -> Event {
    Event::new(EventKind::Refused)
        .endpoint(from)
        .reason(format!("connection refused: {why}"))
}

fn unreachable_inproc() -> Result<(String, JoinHandle<()>, Option<PathBuf>)> {
    Err(Error::Internal(
        "inproc endpoint reached the socket path".into(),
    ))
}

fn spawn_serve<S>(
    peer: Arc<PeerInner>,
    from: String,
    src: Source,
    s: S,
    slot: Slot,
    on_conn: Option<oneshot::Sender<Arc<Conn>>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    match peer.settings() {
        Ok(settings) => {
            tokio::spawn(ssh::serve(
                peer as Arc<dyn ConnOwner>,
                settings,
                from,
                src,
                s,
                slot,
                on_conn,
            ));
        }
        Err(e) => tracing::warn!("refusing connection from {from}: {e}"),
    }
}

/// What an accept loop does when `accept` fails: out of descriptors
/// (EMFILE/ENFILE), memory or buffers, it waits before trying again,
/// doubling the wait from 10 ms up to 1 s while failures continue, so it
/// never spins; the listener keeps serving once descriptors are free again.
#[derive(Default)]
struct AcceptBackoff {
    wait: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    async fn failed(&mut self, ep: &str, e: &std::io::Error) {
        let wait = match self.wait {
            None => {
                tracing::warn!(
                    "accept on {ep} failed: {e}; retrying with backoff (raise the descriptor limit, RLIMIT_NOFILE, if this is EMFILE)"
                );
                Self::FIRST
            }
            Some(w) => (w * 2).min(Self::MAX),
        };
        self.wait = Some(wait);
        tokio::time::sleep(wait).await;
    }

    fn ok(&mut self) {
        self.wait = None;
    }
}

/// Something both readable and writable, boxed (a dialled stream).
trait AsyncStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send> AsyncStream for T {}
type BoxStream = std::pin::Pin<Box<dyn AsyncStream>>;
type Dialer = Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = std::io::Result<BoxStream>> + Send>,
        > + Send
        + Sync,
>;

async fn establish(
    peer: &Arc<PeerInner>,
    ep: &Endpoint,
    dial: Option<&Dialer>,
) -> Result<Arc<Conn>> {
    let owner: Arc<dyn ConnOwner> = peer.clone();
    if let Some(dial) = dial {
        let settings = peer.settings()?;
        let s = tokio::time::timeout(settings.handshake_timeout, dial())
            .await
            .map_err(|_| Error::Timeout(format!("the stream to {ep} did not open in time")))?
            .map_err(|e| Error::Io(format!("cannot open the stream to {ep}: {e}")))?;
        return ssh::connect(
            &owner,
            &settings,
            &Target::stream(Some(ep.clone())),
            Source::NoAddress("stream"),
            s,
        )
        .await;
    }
    match ep {
        Endpoint::Inproc(name) => {
            crate::inproc::connect(&(peer.clone() as Arc<dyn InprocOwner>), name)
        }
        Endpoint::Tcp { host, port } => {
            let settings = peer.settings()?;
            let s = tokio::time::timeout(
                settings.handshake_timeout,
                tokio::net::TcpStream::connect((host.as_str(), *port)),
            )
            .await
            .map_err(|_| Error::Timeout(format!("TCP connect to {ep} timed out")))?
            .map_err(|e| Error::Io(format!("cannot connect to {ep}: {e}")))?;
            let _ = s.set_nodelay(true);
            let src = s
                .peer_addr()
                .map(|a| Source::ip(a.ip()))
                .map_err(|e| Error::Io(format!("cannot connect to {ep}: {e}")))?;
            ssh::connect(&owner, &settings, &Target::endpoint(ep), src, s).await
        }
        Endpoint::Unix(path) => {
            let settings = peer.settings()?;
            let s = tokio::time::timeout(
                settings.handshake_timeout,
                tokio::net::UnixStream::connect(path),
            )
            .await
            .map_err(|_| Error::Timeout(format!("connect to {ep} timed out")))?
            .map_err(|e| Error::Io(format!("cannot connect to {ep}: {e}")))?;
            ssh::connect(
                &owner,
                &settings,
                &Target::endpoint(ep),
                Source::NoAddress("unix://"),
                s,
            )
            .await
        }
    }
}

fn reconnecting(ep: &Endpoint, attempt: u32, d: Duration, last: Option<&Error>) -> Event {
    let mut why = format!("attempt {attempt} in {} ms", d.as_millis());
    if let Some(e) = last {
        why.push_str(&format!(" (last error: {e})"));
    }
    let mut ev = Event::new(EventKind::Reconnecting)
        .endpoint(ep.to_string())
        .reason(why);
    ev.attempt = Some(attempt);
    ev.delay = Some(d);
    ev
}

async fn connector_loop(
    weak: std::sync::Weak<PeerInner>,
    ep: Endpoint,
    dial: Option<Dialer>,
    cancel: CancellationToken,
    current: Arc<Mutex<Option<Arc<Conn>>>>,
    last_err: Arc<Mutex<Option<Error>>>,
    first: oneshot::Sender<Result<()>>,
) {
    let mut first = Some(first);
    let mut attempt: u32 = 0;
    let Some(events) = weak.upgrade().map(|p| p.events.clone()) else {
        return;
    };
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let Some(peer) = weak.upgrade() else { return };
        if peer.is_shut() {
            return;
        }
        let r = tokio::select! {
            r = establish(&peer, &ep, dial.as_ref()) => r,
            _ = cancel.cancelled() => return,
        };
        let (interval, max) = {
            let o = lock(&peer.opts);
            (o.reconnect_interval, o.reconnect_interval_max)
        };
        match r {
            Ok(conn) => {
                if cancel.is_cancelled() || peer.is_shut() {
                    conn.close("cancelled");
                    return;
                }
                if let Err(e) = peer.add_conn(conn.clone()) {
                    // The name was refused: retried after the backoff below.
                    conn.close("name refused");
                    tracing::warn!("connection to {ep} refused: {e}");
                    *lock(&last_err) = Some(e.clone());
                    if let Some(f) = first.take() {
                        let _ = f.send(Err(e));
                        return;
                    }
                    drop(peer);
                } else {
                    attempt = 0;
                    *lock(&current) = Some(conn.clone());
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    drop(peer);
                    tokio::select! {
                        _ = conn.wait_closed() => {}
                        // Whoever cancels (disconnect, drop_peer, shutdown) closes
                        // the connection itself, gracefully where it can.
                        _ = cancel.cancelled() => return,
                    }
                    *lock(&current) = None;
                    tracing::info!("connection to {ep} lost; reconnecting");
                }
            }
            Err(e) => {
                tracing::debug!("connect to {ep} failed: {e}");
                // Refused keys, bad settings and a refused hello exchange
                // (PROTOCOL.md 5.2) fail the same way on every attempt.
                let permanent = matches!(
                    e.kind(),
                    crate::ErrorKind::Auth | crate::ErrorKind::Invalid | crate::ErrorKind::Protocol
                );
                *lock(&last_err) = Some(e.clone());
                if first.is_some() && (permanent || interval < 0) {
                    if let Some(f) = first.take() {
                        let _ = f.send(Err(e));
                    }
                    return;
                }
                drop(peer);
            }
        }
        if interval < 0 {
            return;
        }
        let d = backoff(interval, max, attempt);
        attempt = attempt.saturating_add(1);
        events.push(reconnecting(&ep, attempt, d, lock(&last_err).as_ref()));
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
