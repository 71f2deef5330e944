//! Readiness descriptors for event loops: `sk_channel_fd`, `sk_peer_fd`.

use std::ffi::c_int;

use crate::error::{ffi_call, sk_result};
use crate::ffi::{out_ptr, sk_channel, sk_peer, write_out};
use crate::handle;

/// Store in `*fd` a descriptor to wait on with poll(2), epoll or an event
/// loop: level-triggered, readable exactly while `sk_channel_read`,
/// `sk_channel_read_frame`, `sk_channel_read_frames` or
/// `sk_channel_read_error` with `timeout_ms` 0 would not return
/// SK_ERR_TIMEOUT (data or an error frame is waiting, or the channel has
/// ended: end of stream, closed or failed). Once the channel has ended it
/// stays readable, as a socket at end of file does.
///
/// "Data is waiting" follows the last read made on the byte stream: after
/// `sk_channel_read_frame` or `sk_channel_read_frames` it means a whole
/// frame (or, for a frame too large for the window, enough of it that a
/// read returns credit to the sender and then times out); otherwise, and
/// before any read, any byte. A wake-up finds nothing only then, or when
/// another thread read first: always read with `timeout_ms` 0 after a
/// wake-up and go back to waiting on SK_ERR_TIMEOUT.
///
/// The descriptor belongs to the channel: never read, write or close it.
/// It stays valid until `sk_channel_free`; every call returns the same one.
/// Returns SK_ERR_INVALID for a bad handle or NULL `fd`, SK_ERR_IO if the
/// system is out of descriptors.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_fd(c: *mut sk_channel, fd: *mut c_int) -> sk_result {
    ffi_call("sk_channel_fd", || {
        let ch = handle::channel("c", c as usize)?;
        let out = out_ptr(fd, "fd")?;
        let v = ch.poll_fd()?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}

/// Store in `*fd` a descriptor to wait on with poll(2), epoll or an event
/// loop: level-triggered, readable exactly while `sk_peer_accept` or
/// `sk_peer_next_event` with `timeout_ms` 0 would not return SK_ERR_TIMEOUT
/// (a channel or an event is queued, or the peer is shut down). After a
/// wake-up call both with `timeout_ms` 0: either may be the one ready.
///
/// The descriptor belongs to the peer: never read, write or close it. It
/// stays valid until `sk_peer_free`; every call returns the same one.
/// Returns SK_ERR_INVALID for a bad handle or NULL `fd`, SK_ERR_IO if the
/// system is out of descriptors.
#[no_mangle]
pub unsafe extern "C" fn sk_peer_fd(p: *mut sk_peer, fd: *mut c_int) -> sk_result {
    ffi_call("sk_peer_fd", || {
        let peer = handle::peer("p", p as usize)?;
        let out = out_ptr(fd, "fd")?;
        let v = peer.poll_fd()?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}
