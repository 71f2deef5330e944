//! Statistics: `sk_channel_stats` fills a caller's struct, `sk_peer_stats`
//! an owned list freed with `sk_conn_stats_list_free`.

use std::ffi::{c_char, CString};

use streamkit_core::Result;

use crate::error::{ffi_call, ffi_void, sk_result};
use crate::ffi::{into_c_string, out_ptr, sk_channel, sk_peer, write_out};
use crate::handle;

/// What one channel has moved and where it stalled (filled by
/// `sk_channel_stats`). Durations are milliseconds.
///
/// Which side is slow: `send_blocked_ms` growing here and `recv_unread_ms`
/// growing on the other side means the remote application does not read
/// fast enough; `recv_unread_ms` growing here means this side does not.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sk_channel_statistics {
    /// Bytes written by this side (byte stream, frames with their 4-byte
    /// headers, error frames).
    pub bytes_sent: u64,
    /// Bytes received from the remote, counted as they arrive.
    pub bytes_received: u64,
    /// Frames and error frames written.
    pub frames_sent: u64,
    /// Frames and error frames read by this side.
    pub frames_received: u64,
    /// Bytes received and not yet read (both streams).
    pub recv_buffered: u64,
    /// This side's current receive window on the data stream.
    pub recv_window: u64,
    /// Credit this side may still send on the data stream before it waits.
    pub send_credit: u64,
    /// Time during which at least one writer waited for the remote's credit.
    pub send_blocked_ms: f64,
    /// Time during which received data sat here unread.
    pub recv_unread_ms: f64,
}

/// One connection of a peer (an item of `sk_conn_statistics_list`).
/// Strings are owned by the list.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sk_conn_statistics {
    /// The remote peer's name.
    pub peer: *mut c_char,
    /// How the connection was made: the endpoint dialled, or
    /// `tcp://ADDR:PORT` / `unix://PATH` / `inproc://NAME` of an accepted one.
    pub endpoint: *mut c_char,
    /// The remote's key fingerprint (`SHA256:...`), "" if it has none.
    pub fingerprint: *mut c_char,
    /// Bytes sent by this side's channels on the connection.
    pub bytes_sent: u64,
    /// Bytes received by them.
    pub bytes_received: u64,
    /// Channels open on the connection now.
    pub channels: u64,
    /// The last round trip measured, in ms; -1 before the first.
    pub rtt_ms: f64,
    /// Milliseconds since the connection was established.
    pub connected_ms: f64,
}

/// The connections of a peer (filled by `sk_peer_stats`); free with
/// `sk_conn_stats_list_free`. An empty list has `items == NULL`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sk_conn_statistics_list {
    /// `len` entries (NULL when `len` is 0).
    pub items: *mut sk_conn_statistics,
    /// Number of entries.
    pub len: usize,
}

/// Fill `*out` with the channel's statistics.
///
/// Does not block (one short lock). Returns SK_ERR_INVALID for a bad handle
/// or NULL `out`. Works on a closed channel (the final figures).
#[no_mangle]
pub unsafe extern "C" fn sk_channel_stats(
    c: *mut sk_channel,
    out: *mut sk_channel_statistics,
) -> sk_result {
    ffi_call("sk_channel_stats", || {
        let ch = handle::channel("c", c as usize)?;
        let out = out_ptr(out, "out")?;
        let s = ch.stats();
        let v = sk_channel_statistics {
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            frames_sent: s.frames_sent,
            frames_received: s.frames_received,
            recv_buffered: s.recv_buffered as u64,
            recv_window: s.recv_window as u64,
            send_credit: s.send_credit,
            send_blocked_ms: s.send_blocked_ms,
            recv_unread_ms: s.recv_unread_ms,
        };
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}

/// Fill `*out` with one entry per established connection of the peer.
///
/// On success the caller owns the list and frees it with
/// `sk_conn_stats_list_free`. Does not block. Returns SK_ERR_INVALID for a
/// bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_stats(
    p: *mut sk_peer,
    out: *mut sk_conn_statistics_list,
) -> sk_result {
    ffi_call("sk_peer_stats", || {
        let peer = handle::peer("p", p as usize)?;
        let out = out_ptr(out, "out")?;
        let mut items = Vec::new();
        for s in peer.stats() {
            // Built one at a time so that a failure frees what was made.
            let e = Entry::new(s)?;
            items.push(e.into_raw());
        }
        let list = if items.is_empty() {
            sk_conn_statistics_list {
                items: std::ptr::null_mut(),
                len: 0,
            }
        } else {
            let b = items.into_boxed_slice();
            let len = b.len();
            sk_conn_statistics_list {
                items: Box::into_raw(b).cast::<sk_conn_statistics>(),
                len,
            }
        };
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, list) };
        Ok(())
    })
}

/// Free a list filled by `sk_peer_stats` and reset it to `{NULL, 0}`.
/// NULL and `{NULL, 0}` do nothing.
#[no_mangle]
pub unsafe extern "C" fn sk_conn_stats_list_free(l: *mut sk_conn_statistics_list) {
    ffi_void("sk_conn_stats_list_free", || {
        if l.is_null() {
            return;
        }
        // SAFETY: l is a list filled by sk_peer_stats, per the contract.
        let l = unsafe { &mut *l };
        if !l.items.is_null() && l.len > 0 {
            let slice = std::ptr::slice_from_raw_parts_mut(l.items, l.len);
            // SAFETY: items/len came from Box<[sk_conn_statistics]>::into_raw.
            let items = unsafe { Box::from_raw(slice) };
            for e in items.iter() {
                for s in [e.peer, e.endpoint, e.fingerprint] {
                    if !s.is_null() {
                        // SAFETY: each string came from CString::into_raw.
                        drop(unsafe { CString::from_raw(s) });
                    }
                }
            }
        }
        l.items = std::ptr::null_mut();
        l.len = 0;
    })
}

/// An entry whose strings are freed if it is dropped before `into_raw`.
struct Entry(sk_conn_statistics);

impl Entry {
    fn new(s: streamkit_core::ConnStats) -> Result<Entry> {
        let mut e = Entry(sk_conn_statistics {
            peer: std::ptr::null_mut(),
            endpoint: std::ptr::null_mut(),
            fingerprint: std::ptr::null_mut(),
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            channels: s.channels as u64,
            rtt_ms: s.rtt_ms.unwrap_or(-1.0),
            connected_ms: s.connected_ms,
        });
        e.0.peer = into_c_string(s.peer, "peer name")?;
        e.0.endpoint = into_c_string(s.endpoint, "endpoint")?;
        e.0.fingerprint = into_c_string(s.fingerprint, "fingerprint")?;
        Ok(e)
    }

    fn into_raw(self) -> sk_conn_statistics {
        let e = std::mem::ManuallyDrop::new(self);
        sk_conn_statistics { ..e.0 }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        for s in [self.0.peer, self.0.endpoint, self.0.fingerprint] {
            if !s.is_null() {
                // SAFETY: each string came from CString::into_raw.
                drop(unsafe { CString::from_raw(s) });
            }
        }
    }
}
