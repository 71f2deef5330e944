//! Peer events: `sk_peer_next_event`, the `sk_event` accessors and `sk_event_free`.

use std::ffi::{c_char, CString};

use streamkit_core::{Event, EventKind};

use crate::error::{ffi_call, ffi_void};
use crate::ffi::{out_ptr, write_out};
use crate::runtime::{block_on, Timeout};
use crate::sk_peer;
use crate::sk_result;

/// What an `sk_event` reports (returned by `sk_event_kind`; the type has the
/// `_t` suffix because C gives types and functions one namespace).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sk_event_kind_t {
    /// No event (a NULL `sk_event`), or a kind newer than this header; the
    /// reason says what happened.
    SK_EVENT_NONE = 0,
    /// A connection completed the hello exchange (peer, endpoint and
    /// fingerprint are set).
    SK_EVENT_CONNECTED = 1,
    /// A connected connection ended; the reason says why (on the connecting
    /// side it quotes the server's SSH disconnect description when it sent one).
    SK_EVENT_DISCONNECTED = 2,
    /// The connector for an endpoint retries; the reason gives the attempt
    /// number, the delay and the last error.
    SK_EVENT_RECONNECTING = 3,
    /// Either side refused a key: the fingerprint is the remote's key; on the
    /// accepting side the endpoint is the client's address and the peer the
    /// name it asked for.
    SK_EVENT_AUTH_FAILED = 4,
    /// A limit refused a connection or a channel; the reason names it
    /// (MAX_STARTUPS, MAX_STARTUPS_PER_SOURCE, MAX_CHANNELS, ACCEPT_BACKLOG).
    SK_EVENT_REFUSED = 5,
    /// A connection ended before the hello exchange (failed or timed-out
    /// handshake, refused key, no HELLO).
    SK_EVENT_HANDSHAKE_FAILED = 6,
    /// Events were dropped because the queue (256 events) was full; the
    /// reason gives the number. Delivered where the gap is.
    SK_EVENT_OVERFLOW = 7,
}

/// One event, owned by the caller once returned by `sk_peer_next_event`;
/// release it with `sk_event_free`. Read it with `sk_event_kind`,
/// `sk_event_peer`, `sk_event_endpoint`, `sk_event_fingerprint` and
/// `sk_event_reason`.
#[allow(non_camel_case_types)]
pub struct sk_event {
    kind: sk_event_kind_t,
    peer: Option<CString>,
    endpoint: Option<CString>,
    fingerprint: Option<CString>,
    reason: Option<CString>,
}

fn cs(s: Option<String>) -> Option<CString> {
    // Names, endpoints and fingerprints never hold NUL; a reason quoting a
    // remote's text might: its NULs are dropped.
    s.map(|s| CString::new(s.replace('\0', "")).unwrap_or_default())
}

impl From<Event> for sk_event {
    fn from(e: Event) -> sk_event {
        let kind = match e.kind {
            EventKind::Connected => sk_event_kind_t::SK_EVENT_CONNECTED,
            EventKind::Disconnected => sk_event_kind_t::SK_EVENT_DISCONNECTED,
            EventKind::Reconnecting => sk_event_kind_t::SK_EVENT_RECONNECTING,
            EventKind::AuthFailed => sk_event_kind_t::SK_EVENT_AUTH_FAILED,
            EventKind::Refused => sk_event_kind_t::SK_EVENT_REFUSED,
            EventKind::HandshakeFailed => sk_event_kind_t::SK_EVENT_HANDSHAKE_FAILED,
            EventKind::Overflow => sk_event_kind_t::SK_EVENT_OVERFLOW,
            _ => sk_event_kind_t::SK_EVENT_NONE,
        };
        let reason = if kind == sk_event_kind_t::SK_EVENT_NONE {
            Some(e.to_string())
        } else {
            e.reason
        };
        sk_event {
            kind,
            peer: cs(e.peer),
            endpoint: cs(e.endpoint),
            fingerprint: cs(e.fingerprint),
            reason: cs(reason),
        }
    }
}

/// Wait for the next event about the peer's connections (connected,
/// disconnected, reconnecting, auth_failed, refused, handshake_failed,
/// overflow).
///
/// Blocks for up to `timeout_ms` (-1 = forever, 0 = only take one already
/// queued). Events wait in a bounded queue (256) that never slows I/O: when
/// it is full the newest are dropped and reported as one SK_EVENT_OVERFLOW.
/// On success `*out` is a new event owned by the caller; free it with
/// `sk_event_free`. Thread-safe; each event goes to one caller.
///
/// Returns SK_ERR_TIMEOUT when the timeout expires; SK_ERR_CLOSED once the
/// peer is shut down and the events queued before were taken;
/// SK_ERR_INVALID for a bad handle, NULL `out` or a timeout below -1.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_next_event(
    p: *mut sk_peer,
    timeout_ms: i64,
    out: *mut *mut sk_event,
) -> sk_result {
    ffi_call("sk_peer_next_event", || {
        let peer = crate::handle::peer("p", p as usize)?;
        let out = out_ptr(out, "out")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let ev = block_on(t.run("next_event", async {
            peer.next_event().await.ok_or_else(|| {
                streamkit_core::Error::Closed("peer is shut down (no more events)".into())
            })
        }))??;
        let b = Box::into_raw(Box::new(sk_event::from(ev)));
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, b) };
        Ok(())
    })
}

/// Release an event. `sk_event_free(NULL)` does nothing; the strings its
/// accessors returned are invalid afterwards. Does not block.
#[no_mangle]
pub unsafe extern "C" fn sk_event_free(e: *mut sk_event) {
    ffi_void("sk_event_free", || {
        if !e.is_null() {
            // SAFETY: e came from Box::into_raw in sk_peer_next_event and is
            // freed once, per the contract.
            drop(unsafe { Box::from_raw(e) });
        }
    })
}

/// # Safety
/// `e` is NULL or an event not yet freed.
unsafe fn get<'a>(e: *const sk_event) -> Option<&'a sk_event> {
    // SAFETY: per the caller's contract.
    unsafe { e.as_ref() }
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The event's kind; SK_EVENT_NONE for NULL. Does not block.
#[no_mangle]
pub unsafe extern "C" fn sk_event_kind(e: *const sk_event) -> sk_event_kind_t {
    // SAFETY: e is NULL or a live event.
    unsafe { get(e) }.map_or(sk_event_kind_t::SK_EVENT_NONE, |e| e.kind)
}

/// The remote peer's name, or NULL when unknown (or `e` is NULL). Owned by
/// the event: valid until `sk_event_free`, do not free it.
#[no_mangle]
pub unsafe extern "C" fn sk_event_peer(e: *const sk_event) -> *const c_char {
    // SAFETY: e is NULL or a live event.
    unsafe { get(e) }.map_or(std::ptr::null(), |e| ptr(&e.peer))
}

/// The endpoint dialled (connecting side) or the remote's address (accepting
/// side: "tcp://IP:PORT", "unix://PATH" or "stream"), or NULL. Valid until `sk_event_free`.
#[no_mangle]
pub unsafe extern "C" fn sk_event_endpoint(e: *const sk_event) -> *const c_char {
    // SAFETY: e is NULL or a live event.
    unsafe { get(e) }.map_or(std::ptr::null(), |e| ptr(&e.endpoint))
}

/// The remote key's fingerprint ("SHA256:...", as ssh-keygen -l prints it),
/// or NULL when unknown. Valid until `sk_event_free`.
#[no_mangle]
pub unsafe extern "C" fn sk_event_fingerprint(e: *const sk_event) -> *const c_char {
    // SAFETY: e is NULL or a live event.
    unsafe { get(e) }.map_or(std::ptr::null(), |e| ptr(&e.fingerprint))
}

/// Human-readable detail, or NULL. Valid until `sk_event_free`.
#[no_mangle]
pub unsafe extern "C" fn sk_event_reason(e: *const sk_event) -> *const c_char {
    // SAFETY: e is NULL or a live event.
    unsafe { get(e) }.map_or(std::ptr::null(), |e| ptr(&e.reason))
}
