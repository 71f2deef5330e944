//! Peer events: what happened to a peer's connections (connected,
//! disconnected, reconnecting, authentication failures, refusals by a limit,
//! handshakes that never completed), delivered by [`Peer::next_event`].
//!
//! Events wait in a bounded queue of [`EVENT_QUEUE`] entries per peer. Adding
//! one never waits, so a slow (or absent) reader never slows any I/O: when
//! the queue is full the newest event is dropped and counted, and the count
//! is delivered in order as one [`EventKind::Overflow`] event.
//!
//! [`Peer::next_event`]: crate::Peer::next_event

use crate::sync::lock;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// How many events a peer keeps for [`Peer::next_event`](crate::Peer::next_event);
/// more are dropped (newest first) and counted in an [`EventKind::Overflow`] event.
pub const EVENT_QUEUE: usize = 256;

/// What an [`Event`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A connection completed the hello exchange: both names are known and
    /// the remote is listed in `peers()`.
    Connected,
    /// A connection that was `Connected` ended. `reason` says why; when the
    /// remote sent an SSH disconnect with a description (seen by the
    /// connecting side), it is quoted there.
    Disconnected,
    /// The connector for an endpoint is about to try again: `attempt` (1 for
    /// the first retry) and `delay` are set, `reason` names the last error.
    Reconnecting,
    /// A key was refused, by either side: this peer refused a client's key
    /// (`peer` is the name it asked for, `endpoint` its address), or the
    /// server's host key, or the server refused this peer's key.
    /// `fingerprint` is the remote's key.
    AuthFailed,
    /// A limit refused a connection or a channel; `reason` names the limit
    /// (MAX_STARTUPS, MAX_STARTUPS_PER_SOURCE, MAX_CHANNELS, ACCEPT_BACKLOG,
    /// streamkit-services).
    Refused,
    /// A connection ended before the hello exchange completed (a failed or
    /// timed-out SSH handshake, a refused key, a client that never sent
    /// HELLO); follows any `AuthFailed` for the same connection.
    HandshakeFailed,
    /// Events were dropped because nobody read them in time; `dropped` (and
    /// `reason`) say how many. Delivered where the gap is.
    Overflow,
}

impl EventKind {
    /// The kind's name: `connected`, `disconnected`, `reconnecting`,
    /// `auth_failed`, `refused`, `handshake_failed` or `overflow`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::Reconnecting => "reconnecting",
            EventKind::AuthFailed => "auth_failed",
            EventKind::Refused => "refused",
            EventKind::HandshakeFailed => "handshake_failed",
            EventKind::Overflow => "overflow",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to one of a peer's connections (see
/// [`Peer::next_event`](crate::Peer::next_event)). Fields are `None` when
/// not known for this event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The remote peer's name (for `AuthFailed` on the server side, the name
    /// the client asked for).
    pub peer: Option<String>,
    /// The endpoint dialled (connecting side) or the remote's address
    /// (accepting side: `tcp://IP:PORT`, `unix://PATH` or `stream`).
    pub endpoint: Option<String>,
    /// The remote's key fingerprint (`SHA256:...`, as `ssh-keygen -l`
    /// prints it).
    pub fingerprint: Option<String>,
    /// Human-readable detail.
    pub reason: Option<String>,
    /// `Reconnecting`: the number of the attempt about to be made (1 = first retry).
    pub attempt: Option<u32>,
    /// `Reconnecting`: how long until that attempt.
    pub delay: Option<Duration>,
    /// `Overflow`: how many events were dropped.
    pub dropped: u64,
}

impl Event {
    pub(crate) fn new(kind: EventKind) -> Event {
        Event {
            kind,
            peer: None,
            endpoint: None,
            fingerprint: None,
            reason: None,
            attempt: None,
            delay: None,
            dropped: 0,
        }
    }

    pub(crate) fn peer(mut self, p: impl Into<String>) -> Event {
        let p = p.into();
        if !p.is_empty() {
            self.peer = Some(p);
        }
        self
    }

    pub(crate) fn endpoint(mut self, e: impl Into<String>) -> Event {
        self.endpoint = Some(e.into());
        self
    }

    pub(crate) fn fingerprint(mut self, f: impl Into<String>) -> Event {
        let f = f.into();
        if !f.is_empty() {
            self.fingerprint = Some(f);
        }
        self
    }

    pub(crate) fn fingerprint_of(self, k: &russh::keys::PublicKey) -> Event {
        self.fingerprint(k.fingerprint(russh::keys::HashAlg::Sha256).to_string())
    }

    pub(crate) fn reason(mut self, r: impl Into<String>) -> Event {
        self.reason = Some(r.into());
        self
    }

    fn overflow(n: u64) -> Event {
        let mut e = Event::new(EventKind::Overflow).reason(format!(
            "{n} event{} dropped: the event queue ({EVENT_QUEUE}) was full",
            if n == 1 { " was" } else { "s were" }
        ));
        e.dropped = n;
        e
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(p) = &self.peer {
            write!(f, " peer={p}")?;
        }
        if let Some(e) = &self.endpoint {
            write!(f, " endpoint={e}")?;
        }
        if let Some(k) = &self.fingerprint {
            write!(f, " fingerprint={k}")?;
        }
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct QState {
    q: VecDeque<Event>,
    dropped: u64,
    closed: bool,
}

/// A peer's bounded event queue. `push` never waits.
#[derive(Default)]
pub(crate) struct EventQueue {
    st: Mutex<QState>,
    notify: Notify,
    /// A readiness descriptor (and its source bit) fed by this queue.
    poll: std::sync::OnceLock<(std::sync::Arc<crate::readiness::Readiness>, u8)>,
}

impl fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueue").finish_non_exhaustive()
    }
}

impl EventQueue {
    /// Feed `r`'s source `bit`: ready while an event (or the end) is waiting.
    pub(crate) fn attach(&self, r: std::sync::Arc<crate::readiness::Readiness>, bit: u8) {
        let st = lock(&self.st);
        if self.poll.set((r, bit)).is_ok() {
            self.refresh(&st);
        }
    }

    fn refresh(&self, st: &QState) {
        if let Some((r, bit)) = self.poll.get() {
            r.set(*bit, !st.q.is_empty() || st.dropped > 0 || st.closed);
        }
    }

    /// Queue an event, or count it as dropped if the queue is full. Events
    /// pushed after [`EventQueue::close`] are discarded.
    pub(crate) fn push(&self, ev: Event) {
        tracing::trace!("event: {ev}");
        let mut st = lock(&self.st);
        if st.closed {
            return;
        }
        if st.dropped > 0 && st.q.len() < EVENT_QUEUE {
            let n = std::mem::take(&mut st.dropped);
            st.q.push_back(Event::overflow(n));
        }
        if st.q.len() >= EVENT_QUEUE {
            st.dropped += 1;
            return;
        }
        st.q.push_back(ev);
        self.refresh(&st);
        drop(st);
        self.notify.notify_one();
    }

    fn try_pop(&self) -> std::result::Result<Event, bool> {
        let mut st = lock(&self.st);
        let r = if let Some(e) = st.q.pop_front() {
            Ok(e)
        } else if st.dropped > 0 {
            let n = std::mem::take(&mut st.dropped);
            Ok(Event::overflow(n))
        } else {
            Err(st.closed)
        };
        self.refresh(&st);
        r
    }

    /// The next event; `None` once closed and drained.
    pub(crate) async fn pop(&self) -> Option<Event> {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            match self.try_pop() {
                Ok(e) => {
                    // Pass the wakeup on if more are waiting (several readers).
                    if !lock(&self.st).q.is_empty() {
                        self.notify.notify_one();
                    }
                    return Some(e);
                }
                Err(true) => {
                    self.notify.notify_one();
                    return None;
                }
                Err(false) => n.await,
            }
        }
    }

    /// No more events are accepted; readers get what is queued, then `None`.
    pub(crate) fn close(&self) {
        {
            let mut st = lock(&self.st);
            st.closed = true;
            self.refresh(&st);
        }
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

/// This peer (as server) refused a client's key.
pub(crate) fn client_refused(user: &str, from: &str, key: &russh::keys::PublicKey) -> Event {
    Event::new(EventKind::AuthFailed)
        .peer(user)
        .endpoint(from)
        .fingerprint_of(key)
        .reason(format!(
            "we refused the key of client {user:?} from {from} (the log, at warn level, says why)"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_is_counted_and_delivered_in_order() {
        let q = EventQueue::default();
        for i in 0..EVENT_QUEUE + 5 {
            q.push(Event::new(EventKind::Refused).reason(i.to_string()));
        }
        // Room again: the gap is reported before the next event.
        for i in 0..EVENT_QUEUE {
            let e = q.pop().await.unwrap();
            assert_eq!(e.reason.as_deref(), Some(i.to_string().as_str()));
        }
        q.push(Event::new(EventKind::Connected));
        let o = q.pop().await.unwrap();
        assert_eq!((o.kind, o.dropped), (EventKind::Overflow, 5));
        assert_eq!(q.pop().await.unwrap().kind, EventKind::Connected);
        // Dropped with nothing after: still reported.
        for _ in 0..EVENT_QUEUE + 2 {
            q.push(Event::new(EventKind::Refused));
        }
        q.close();
        q.push(Event::new(EventKind::Connected));
        let mut n = 0;
        let mut dropped = 0;
        while let Some(e) = q.pop().await {
            n += 1;
            dropped += e.dropped;
        }
        assert_eq!((n, dropped), (EVENT_QUEUE + 1, 2));
    }
}
