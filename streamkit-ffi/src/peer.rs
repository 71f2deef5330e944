//! `sk_peer_*`: peers, their options, endpoints and incoming channels.

use std::ffi::c_char;

use streamkit_core::{Error, Peer, PeerOption, Result};

use crate::error::{ffi_call, ffi_void, invalid, sk_result};
use crate::ffi::{
    c_str, c_str_array, into_c_string, into_strlist, out_ptr, sk_channel, sk_peer, sk_strlist,
    write_out,
};
use crate::handle;
use crate::runtime::{block_on, enter, Timeout};

/// Peer options, for `sk_peer_set_option_*` / `sk_peer_get_option_*`.
///
/// The values are fixed (they are also the Python `OPT_*` and Go `Opt*`
/// constants). String options: PRIVATE_KEY, AUTHORIZED_KEYS, NAME,
/// KNOWN_HOSTS; all others are integers. Functions take the option as a
/// plain integer: a value outside this list is `SK_ERR_INVALID`.
#[repr(i32)]
#[allow(non_camel_case_types, dead_code)]
pub enum sk_option {
    /// String: path to an OpenSSH/PEM private key file, or the key text
    /// itself. Default: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa, else a fresh
    /// in-memory ed25519 key.
    SK_OPT_PRIVATE_KEY = 0,
    /// String: path to an authorized_keys file, or its text. The peer
    /// trusts these public keys plus its own. Default ~/.ssh/authorized_keys.
    SK_OPT_AUTHORIZED_KEYS = 1,
    /// String: this peer's name (default: a random UUID).
    SK_OPT_NAME = 2,
    /// Integer, ms: delay between reconnect attempts (default 100; -1 = never retry).
    SK_OPT_RECONNECT_INTERVAL = 3,
    /// Integer, ms: cap of the exponential reconnect backoff (default 0 =
    /// constant interval with jitter).
    SK_OPT_RECONNECT_INTERVAL_MAX = 4,
    /// Integer, ms: how long `sk_peer_connect` keeps trying (default 10000).
    SK_OPT_CONNECT_TIMEOUT = 5,
    /// Integer, bytes: largest incoming frame accepted (default 16 MiB).
    SK_OPT_MAX_FRAME_SIZE = 6,
    /// String: path to a known_hosts file, or its text; when set, servers
    /// are checked against it instead of AUTHORIZED_KEYS.
    SK_OPT_KNOWN_HOSTS = 7,
    /// Integer, ms: keepalive interval on idle connections (default 15000; 0 = off).
    SK_OPT_KEEPALIVE_INTERVAL = 8,
    /// Integer: unanswered keepalives before a connection is dead (default 3).
    SK_OPT_KEEPALIVE_COUNT = 9,
    /// Integer, ms: time allowed for the SSH handshake and authentication (default 10000).
    SK_OPT_HANDSHAKE_TIMEOUT = 10,
    /// Integer: most channels open at once on one connection (default 8192).
    SK_OPT_MAX_CHANNELS = 11,
    /// Integer, bytes: per-channel starting receive window (default 256 KiB);
    /// auto-tuning grows it within SK_OPT_WINDOW_BUDGET.
    SK_OPT_CHANNEL_WINDOW = 12,
    /// Integer: incoming channels queued for accept before new ones are refused (default 1024).
    SK_OPT_ACCEPT_BACKLOG = 13,
    /// Integer, bytes: per connection, how much memory receive-window
    /// auto-tuning may add on top of SK_OPT_CHANNEL_WINDOW, over all its
    /// channels (default 32 MiB; 0 = fixed windows). A channel's window grows
    /// while the window, not its reader, holds the sender back (long, fast
    /// links), so one channel can fill such a link; and, up to 1 MiB, while
    /// its reader consumes a quarter window in under 1 ms (fewer credit
    /// round trips on busy channels).
    SK_OPT_WINDOW_BUDGET = 14,
    /// Integer: most connections one remote key may hold at once to this
    /// peer as a server (default 0 = no limit); more are refused after
    /// authentication (the client's connect fails naming the limit, and an
    /// SK_EVENT_REFUSED event says so here).
    SK_OPT_MAX_CONNECTIONS_PER_KEY = 15,
}

/// The ABI type of an `sk_option` argument: a plain 32-bit integer, so an
/// out-of-range value is an error rather than an invalid Rust enum.
/// (cbindgen prints it as `sk_option`.)
pub type SkOptionValue = i32;

fn option(o: SkOptionValue) -> Result<PeerOption> {
    PeerOption::from_i32(o).map_err(|_| {
        invalid(format!(
            "o = {o} is not an sk_option (valid values are 0..={})",
            PeerOption::ALL.len() - 1
        ))
    })
}

fn peer(p: *mut sk_peer) -> Result<Peer> {
    handle::peer("p", p as usize)
}

/// Create a new peer with default options (random name, default keys).
///
/// On success writes a new handle to `*out`; the caller owns it and must
/// release it with `sk_peer_free`. Does not block.
///
/// Returns SK_ERR_INVALID if `out` is NULL, SK_ERR_INTERNAL on a bug.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_new(out: *mut *mut sk_peer) -> sk_result {
    ffi_call("sk_peer_new", || {
        let out = out_ptr(out, "out")?;
        let p = enter(Peer::new)?;
        let h = handle::insert_peer(p)?;
        // SAFETY: out was checked non-NULL; the caller passes a writable slot.
        unsafe { write_out(out, h as *mut sk_peer) };
        Ok(())
    })
}

/// Shut the peer down (if it is not already) and release the handle.
///
/// Every call blocked on this peer or on its channels returns SK_ERR_CLOSED.
/// Afterwards the handle is invalid: passing it to any function returns
/// SK_ERR_INVALID. `sk_peer_free(NULL)`, and freeing an already freed or
/// unknown handle, do nothing. Channel handles obtained from this peer stay
/// valid (calls on them return SK_ERR_CLOSED) and must still be freed with
/// `sk_channel_free`. Blocks briefly (at most about 5 s) while the peer's
/// connections are shut down.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_free(p: *mut sk_peer) {
    ffi_void("sk_peer_free", || {
        if p.is_null() {
            return;
        }
        if let Some(peer) = handle::remove_peer(p as usize) {
            shutdown_and_drop(peer);
        }
    })
}

fn shutdown_and_drop(peer: Peer) {
    if peer.is_shutdown() {
        let _ = enter(move || drop(peer));
        return;
    }
    let p2 = peer.clone();
    let shut = async move {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), p2.shutdown()).await;
    };
    match block_on(shut) {
        Ok(()) => {}
        // Called from inside a runtime: shut down in the background instead.
        Err(_) => {
            if let Ok(rt) = crate::runtime::runtime() {
                let p3 = peer.clone();
                rt.spawn(async move {
                    let _ = p3.shutdown().await;
                });
            }
        }
    }
    let _ = enter(move || drop(peer));
}

/// Set a string option (PRIVATE_KEY, AUTHORIZED_KEYS, NAME, KNOWN_HOSTS).
///
/// `v` is copied. For the key options it is either a file path or the key
/// text itself (a file is read and checked now); an empty string restores
/// the default. Options may not affect connections that already exist: set
/// them before `sk_peer_bind`/`sk_peer_connect`. Does not block.
///
/// Returns SK_ERR_INVALID if `p` is not a live peer, `v` is NULL or not
/// UTF-8, `o` is not an sk_option or is an integer option, or the value is
/// rejected (an empty NAME, a key file that cannot be read, key text that
/// does not parse); the message says which. On failure the previous value
/// is kept.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_set_option_str(
    p: *mut sk_peer,
    o: SkOptionValue,
    v: *const c_char,
) -> sk_result {
    ffi_call("sk_peer_set_option_str", || {
        let peer = peer(p)?;
        let opt = option(o)?;
        // SAFETY: v is NULL or a C string per the documented contract.
        let v = unsafe { c_str(v, "v") }?;
        peer.set_option_str(opt, v)
    })
}

/// Set an integer option (every option except the four string ones).
///
/// Like string options, set them before `sk_peer_bind`/`sk_peer_connect`:
/// existing connections may keep the old value. Does not block.
///
/// Returns SK_ERR_INVALID if `p` is not a live peer, `o` is not an
/// sk_option or is a string option, or `v` is out of range for the option
/// (the message gives the allowed range).
#[no_mangle]
pub unsafe extern "C" fn sk_peer_set_option_int(
    p: *mut sk_peer,
    o: SkOptionValue,
    v: i64,
) -> sk_result {
    ffi_call("sk_peer_set_option_int", || {
        let peer = peer(p)?;
        let opt = option(o)?;
        peer.set_option_int(opt, v)
    })
}

/// Read a string option.
///
/// On success `*out` is a new NUL-terminated string owned by the caller;
/// free it with `sk_string_free`. An unset key option reads as "". Does not
/// block. Returns SK_ERR_INVALID if `p` is not a live peer, `out` is NULL,
/// or `o` is not a string option.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_get_option_str(
    p: *mut sk_peer,
    o: SkOptionValue,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_peer_get_option_str", || {
        let peer = peer(p)?;
        let opt = option(o)?;
        let out = out_ptr(out, "out")?;
        let s = into_c_string(peer.get_option_str(opt)?, "option value")?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, s) };
        Ok(())
    })
}

/// Read an integer option into `*out`.
///
/// Does not block. Returns SK_ERR_INVALID if `p` is not a live peer, `out`
/// is NULL, or `o` is not an integer option.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_get_option_int(
    p: *mut sk_peer,
    o: SkOptionValue,
    out: *mut i64,
) -> sk_result {
    ffi_call("sk_peer_get_option_int", || {
        let peer = peer(p)?;
        let opt = option(o)?;
        let out = out_ptr(out, "out")?;
        let v = peer.get_option_int(opt)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}

/// This peer's public key, as one OpenSSH line ("ssh-ed25519 AAAA...").
///
/// Give it to the other side's SK_OPT_AUTHORIZED_KEYS. On success `*out` is
/// owned by the caller; free it with `sk_string_free`. Does not block.
/// Returns SK_ERR_INVALID if `p` is not a live peer or `out` is NULL; an
/// error from loading the default key (~/.ssh/id_ed25519 or id_rsa)
/// otherwise.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_public_key(p: *mut sk_peer, out: *mut *mut c_char) -> sk_result {
    ffi_call("sk_peer_public_key", || {
        let peer = peer(p)?;
        let out = out_ptr(out, "out")?;
        let key = enter(|| peer.public_key())??;
        let s = into_c_string(key, "public key")?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, s) };
        Ok(())
    })
}

/// Listen on `endpoint` ("tcp://HOST:PORT", "unix:///abs/path" or
/// "inproc://NAME"); other peers can then `sk_peer_connect` to it.
///
/// If `bound` is not NULL, on success `*bound` receives the endpoint
/// actually bound (with the real port when PORT was 0), owned by the caller:
/// free it with `sk_string_free`. Blocks until the listener is set up.
///
/// Returns SK_ERR_INVALID for a NULL/non-UTF-8/malformed endpoint or an
/// unknown scheme (the message quotes it); SK_ERR_IO if the address cannot
/// be bound (in use, not local, permission); SK_ERR_CLOSED after
/// `sk_peer_shutdown`.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_bind(
    p: *mut sk_peer,
    endpoint: *const c_char,
    bound: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_peer_bind", || {
        let peer = peer(p)?;
        // SAFETY: endpoint is NULL or a C string per the documented contract.
        let ep = unsafe { c_str(endpoint, "endpoint") }?;
        let real = block_on(peer.bind(ep))??;
        if !bound.is_null() {
            let s = into_c_string(real, "bound endpoint")?;
            // SAFETY: bound is non-NULL and writable per the contract.
            unsafe { write_out(bound, s) };
        }
        Ok(())
    })
}

/// Stop listening on an endpoint previously bound (the string given to, or
/// returned by, `sk_peer_bind`). Existing connections stay up.
///
/// Blocks until the listener is closed. Returns SK_ERR_INVALID for a
/// NULL/malformed endpoint or one that is not bound; SK_ERR_CLOSED after
/// shutdown.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_unbind(p: *mut sk_peer, endpoint: *const c_char) -> sk_result {
    ffi_call("sk_peer_unbind", || {
        let peer = peer(p)?;
        // SAFETY: endpoint is NULL or a C string per the documented contract.
        let ep = unsafe { c_str(endpoint, "endpoint") }?;
        block_on(peer.unbind(ep))?
    })
}

/// Connect to a peer bound at `endpoint`.
///
/// Blocks until both sides know each other's name (after the SSH handshake
/// and mutual key check), retrying every RECONNECT_INTERVAL until
/// CONNECT_TIMEOUT. The connection is re-established in the background if it
/// drops later.
///
/// Returns SK_ERR_INVALID for a NULL/malformed endpoint; SK_ERR_TIMEOUT when
/// CONNECT_TIMEOUT expires without a connection (for example nobody is
/// listening); SK_ERR_IO when RECONNECT_INTERVAL is -1 and the single
/// attempt fails (for example connection refused); SK_ERR_AUTH when either
/// side does not trust the other's key; SK_ERR_CLOSED if the peer is shut
/// down meanwhile.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_connect(p: *mut sk_peer, endpoint: *const c_char) -> sk_result {
    ffi_call("sk_peer_connect", || {
        let peer = peer(p)?;
        // SAFETY: endpoint is NULL or a C string per the documented contract.
        let ep = unsafe { c_str(endpoint, "endpoint") }?;
        block_on(peer.connect(ep))?
    })
}

/// Run the SSH client side of a connection over `fd`: a connected socket
/// (TCP or Unix), one end of a socketpair, or a pipe-like descriptor that
/// reads and writes (a pty, a character device). Trust, keepalive and
/// channels work as over tcp://; the server's key must be trusted as for
/// `sk_peer_connect` (with KNOWN_HOSTS, any plain line with the key matches,
/// since a descriptor has no host name).
///
/// Ownership of `fd` passes to streamkit when this is called: it is closed
/// when the connection ends, or before the call returns if it fails
/// (except when `fd` is negative or not an open descriptor). A lost
/// connection is not re-established (a descriptor cannot be reopened): its
/// channels fail with SK_ERR_CLOSED and the remote leaves `sk_peer_peers`.
///
/// Blocks until both sides know each other's name, or HANDSHAKE_TIMEOUT.
/// Returns SK_ERR_INVALID for a bad handle, a negative or closed fd, a
/// regular file or a datagram socket; SK_ERR_AUTH when either side does not
/// trust the other's key; SK_ERR_TIMEOUT when the handshake does not
/// complete in time; SK_ERR_IO / SK_ERR_CLOSED when the stream fails or ends.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_connect_fd(p: *mut sk_peer, fd: std::ffi::c_int) -> sk_result {
    ffi_call("sk_peer_connect_fd", || {
        // SAFETY: the caller hands over ownership of fd.
        let owned = unsafe { crate::fdio::take_fd(fd) }?;
        let peer = peer(p)?;
        block_on(async move {
            let io = crate::fdio::stream(owned, false)?;
            peer.connect_stream(io).await.map(|_| ())
        })?
    })
}

/// Run the SSH server side of a connection over `fd` (see
/// `sk_peer_connect_fd`), as if it had been accepted by `sk_peer_bind`: the
/// client's key must be in AUTHORIZED_KEYS (a descriptor has no source
/// address, so a `from=` line never admits it). For a program started by
/// inetd or systemd socket activation, or spawned with a socketpair.
///
/// Ownership of `fd` passes to streamkit as for `sk_peer_connect_fd`.
/// Blocks until both sides know each other's name, or HANDSHAKE_TIMEOUT.
/// Returns SK_ERR_INVALID for a bad handle or fd; SK_ERR_TIMEOUT when the
/// client does not complete the handshake in time; SK_ERR_CLOSED when it
/// fails (an untrusted key, for example: the log says why).
#[no_mangle]
pub unsafe extern "C" fn sk_peer_serve_fd(p: *mut sk_peer, fd: std::ffi::c_int) -> sk_result {
    ffi_call("sk_peer_serve_fd", || {
        // SAFETY: the caller hands over ownership of fd.
        let owned = unsafe { crate::fdio::take_fd(fd) }?;
        let peer = peer(p)?;
        block_on(async move {
            let io = crate::fdio::stream(owned, false)?;
            peer.serve_stream(io).await.map(|_| ())
        })?
    })
}

/// Close the connection made by `sk_peer_connect(endpoint)` and stop
/// reconnecting to it. Its channels fail with SK_ERR_CLOSED.
///
/// Blocks until the connection is closed. Returns SK_ERR_INVALID for a
/// NULL/malformed endpoint or one that is not connected; SK_ERR_CLOSED after
/// shutdown.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_disconnect(p: *mut sk_peer, endpoint: *const c_char) -> sk_result {
    ffi_call("sk_peer_disconnect", || {
        let peer = peer(p)?;
        // SAFETY: endpoint is NULL or a C string per the documented contract.
        let ep = unsafe { c_str(endpoint, "endpoint") }?;
        block_on(peer.disconnect(ep))?
    })
}

/// The names of the currently connected peers, sorted, without duplicates.
///
/// On success fills `*out` (possibly with an empty list); the caller owns
/// it and frees it with `sk_strlist_free`. Does not block. Returns
/// SK_ERR_INVALID if `p` is not a live peer or `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_peers(p: *mut sk_peer, out: *mut sk_strlist) -> sk_result {
    ffi_call("sk_peer_peers", || {
        let peer = peer(p)?;
        let out = out_ptr(out, "out")?;
        let list = into_strlist(peer.peers(), "peer name")?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, list) };
        Ok(())
    })
}

/// Close every connection with the peer called `name` (either direction).
///
/// Blocks until closed. Returns SK_ERR_INVALID if `name` is NULL or not
/// UTF-8; SK_ERR_NO_PEER if no connected peer has that name; SK_ERR_CLOSED
/// after shutdown.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_drop(p: *mut sk_peer, name: *const c_char) -> sk_result {
    ffi_call("sk_peer_drop", || {
        let peer = peer(p)?;
        // SAFETY: name is NULL or a C string per the documented contract.
        let name = unsafe { c_str(name, "name") }?;
        block_on(peer.drop_peer(name))?
    })
}

/// The next connected peer's name, round robin (for load balancing opens).
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_NO_PEER if no peer is connected;
/// SK_ERR_INVALID if `p` is not a live peer or `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_next_peer(p: *mut sk_peer, out: *mut *mut c_char) -> sk_result {
    ffi_call("sk_peer_next_peer", || {
        let peer = peer(p)?;
        let out = out_ptr(out, "out")?;
        let name = peer
            .next_peer()
            .ok_or_else(|| Error::NoPeer("no peer is connected".into()))?;
        let s = into_c_string(name, "peer name")?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, s) };
        Ok(())
    })
}

/// Wait for a channel opened by any connected peer.
///
/// Blocks for up to `timeout_ms` (-1 = forever, 0 = only take one already
/// waiting). On success `*out` is a new channel handle owned by the caller
/// (free with `sk_channel_free`); its service, headers and remote peer are
/// available with the `sk_channel_*` getters.
///
/// Returns SK_ERR_TIMEOUT when the timeout expires; SK_ERR_CLOSED after (or
/// during) `sk_peer_shutdown`/`sk_peer_free` from any thread; SK_ERR_INVALID
/// for a bad handle, NULL `out` or a timeout below -1.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_accept(
    p: *mut sk_peer,
    timeout_ms: i64,
    out: *mut *mut sk_channel,
) -> sk_result {
    ffi_call("sk_peer_accept", || {
        let peer = peer(p)?;
        let out = out_ptr(out, "out")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let ch = block_on(t.run("accept", peer.accept()))??;
        let h = handle::insert_channel(ch)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, h as *mut sk_channel) };
        Ok(())
    })
}

/// Open a channel to the connected peer called `peer` for `service`, sending
/// `n_headers` "key=value" strings as headers (`headers` may be NULL when
/// `n_headers` is 0).
///
/// Blocks until the remote side has the channel (it does not wait for the
/// remote application to accept it). On success `*out` is a new channel
/// handle owned by the caller; free it with `sk_channel_free`.
///
/// Returns SK_ERR_NO_PEER if no connected peer has that name; SK_ERR_INVALID
/// for NULL/non-UTF-8 strings, a NULL `headers` with `n_headers` > 0, or a
/// NULL `out`; SK_ERR_CLOSED if the peer is shut down or the connection
/// drops meanwhile.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_open(
    p: *mut sk_peer,
    peer: *const c_char,
    service: *const c_char,
    headers: *const *const c_char,
    n_headers: usize,
    out: *mut *mut sk_channel,
) -> sk_result {
    ffi_call("sk_peer_open", || {
        let this = handle::peer("p", p as usize)?;
        // SAFETY: string arguments follow the documented contract.
        let name = unsafe { c_str(peer, "peer") }?;
        // SAFETY: as above.
        let service = unsafe { c_str(service, "service") }?;
        // SAFETY: headers is NULL or n_headers C strings.
        let headers = unsafe { c_str_array(headers, n_headers, "headers") }?;
        let out = out_ptr(out, "out")?;
        let ch = block_on(this.open(name, service, &headers))??;
        let h = handle::insert_channel(ch)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, h as *mut sk_channel) };
        Ok(())
    })
}

/// Shut the peer down: close listeners, connections and channels, stop
/// reconnecting, and make every call blocked on this peer or its channels
/// (in any thread) return SK_ERR_CLOSED.
///
/// The handle stays valid (calls return SK_ERR_CLOSED) until
/// `sk_peer_free`. Blocks until shutdown completes. Returns SK_ERR_CLOSED
/// if the peer was already shut down.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_shutdown(p: *mut sk_peer) -> sk_result {
    ffi_call("sk_peer_shutdown", || {
        let peer = peer(p)?;
        block_on(peer.shutdown())?
    })
}
