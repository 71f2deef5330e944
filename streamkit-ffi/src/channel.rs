//! `sk_channel_*`: byte stream, frames, error frames, trailers, child
//! channels and metadata of one channel.

use std::ffi::c_char;

use streamkit_core::{Channel, Error, Result};

use crate::error::{ffi_call, ffi_void, sk_result};
use crate::ffi::{
    bytes, c_str, c_str_array, into_buf, into_c_string, into_strlist, out_buf, out_ptr, sk_buf,
    sk_channel, sk_strlist, write_out,
};
use crate::handle;
use crate::runtime::{block_on, enter, run_io, Timeout};

/// Most bytes one `sk_channel_read` returns (a channel's default receive window).
const MAX_READ_CHUNK: usize = 256 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Run `f` with a zeroed-once scratch buffer of `len` bytes, reused by the
/// calling thread's later reads (a fresh one if it is busy or gone).
fn with_scratch<T>(len: usize, f: impl FnOnce(&mut [u8]) -> Result<T>) -> Result<T> {
    let mut f = Some(f);
    let r = SCRATCH.try_with(|s| {
        let mut v = s.try_borrow_mut().ok()?;
        if v.len() < len {
            v.resize(len, 0);
        }
        Some((f.take()?)(&mut v[..len]))
    });
    match (r, f.take()) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(&mut vec![0u8; len]),
        (_, None) => Err(streamkit_core::Error::Internal("scratch buffer".into())),
    }
}

/// A read into the caller's `buf` (`cap` bytes): `read` fills Rust-owned
/// memory (the thread's scratch buffer: no allocation or zeroing per call),
/// then what it read is copied out, so the caller's buffer may be
/// uninitialized and is touched only on success. Returns the byte count.
fn read_via_scratch(
    buf: *mut u8,
    cap: usize,
    read: impl FnOnce(&mut [u8]) -> Result<usize>,
) -> Result<usize> {
    with_scratch(cap.min(MAX_READ_CHUNK), |tmp| {
        let got = read(tmp)?.min(tmp.len());
        // SAFETY: buf is valid for cap >= got bytes per the contract, and
        // does not overlap tmp.
        unsafe { std::ptr::copy_nonoverlapping(tmp.as_ptr(), buf, got) };
        Ok(got)
    })
}

/// A frame write (`error`: on the error stream): queued at once when credit
/// allows (no future, no runtime check); otherwise the waiting path, which
/// also refuses a call from inside a tokio runtime.
fn write_frame_like(ch: &Channel, data: &[u8], error: bool) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        let queued = if error {
            ch.try_write_error(data)?
        } else {
            ch.try_write_frame(data)?
        };
        if queued {
            return Ok(());
        }
    }
    if error {
        run_io(Timeout::FOREVER, "write_error", ch.write_error(data))
    } else {
        run_io(Timeout::FOREVER, "write_frame", ch.write_frame(data))
    }
}

fn channel(c: *mut sk_channel) -> Result<Channel> {
    handle::channel("c", c as usize)
}

/// The data-path calls' lookup: `f` runs with the channel, from this
/// thread's one-entry cache when it is still valid (handle::with_channel).
fn with_channel<T>(c: *mut sk_channel, f: impl FnOnce(&Channel) -> Result<T>) -> Result<T> {
    handle::with_channel("c", c as usize, f)
}

/// Write all `len` bytes of `data` to the channel's byte stream.
///
/// Blocks until the data is handed to the connection (waiting for the
/// remote receive window if needed). On success `*written` is `len`.
/// `data` may be NULL when `len` is 0.
///
/// Returns SK_ERR_CLOSED if the channel is closed (locally, by the remote
/// side, by shutdown, or after `sk_channel_close_write`); SK_ERR_INVALID for
/// a bad handle, NULL `data` with `len` > 0 or NULL `written`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_write(
    c: *mut sk_channel,
    data: *const u8,
    len: usize,
    written: *mut usize,
) -> sk_result {
    ffi_call("sk_channel_write", || {
        // SAFETY: data is NULL or len readable bytes per the contract.
        let data = unsafe { bytes(data, len, "data") }?;
        let written = out_ptr(written, "written")?;
        let n = with_channel(c, |ch| run_io(Timeout::FOREVER, "write", ch.write(data)))?;
        // SAFETY: written was checked non-NULL.
        unsafe { write_out(written, n) };
        Ok(())
    })
}

/// Read up to `cap` bytes (at most 256 KiB per call) from the channel's
/// byte stream into `buf`. `buf` is written only on success.
///
/// Blocks until at least one byte is available, for at most `timeout_ms`
/// (-1 = forever, 0 = only what is already buffered). On success `*n` is the
/// number of bytes read; `*n == 0` (with SK_OK) means end of stream: the
/// remote side closed or called `sk_channel_close_write`.
///
/// Returns SK_ERR_TIMEOUT when the timeout expires (nothing was consumed);
/// SK_ERR_CLOSED if the channel is closed or its peer shut down, also
/// while this call is waiting in another thread; SK_ERR_INVALID for a bad
/// handle, NULL `buf` or `n`, `cap` == 0, or a timeout below -1.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_read(
    c: *mut sk_channel,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
    timeout_ms: i64,
) -> sk_result {
    ffi_call("sk_channel_read", || {
        let buf = out_buf(buf, cap, "buf")?;
        let n = out_ptr(n, "n")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let got = read_via_scratch(buf, cap, |tmp| {
            with_channel(c, |ch| run_io(t, "read", ch.read(tmp)))
        })?;
        // SAFETY: n was checked non-NULL.
        unsafe { write_out(n, got) };
        Ok(())
    })
}

/// Write one frame: a 4-byte big-endian length, then `len` bytes of `data`,
/// on the channel's byte stream. Frames written by concurrent callers are
/// never interleaved. `data` may be NULL when `len` is 0.
///
/// Blocks like `sk_channel_write`. Returns SK_ERR_INVALID if `len` does not
/// fit in 32 bits or for bad arguments; SK_ERR_CLOSED if the channel is
/// closed.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_write_frame(
    c: *mut sk_channel,
    data: *const u8,
    len: usize,
) -> sk_result {
    ffi_call("sk_channel_write_frame", || {
        // SAFETY: data is NULL or len readable bytes per the contract.
        let data = unsafe { bytes(data, len, "data") }?;
        if u32::try_from(len).is_err() {
            return Err(crate::error::invalid(format!(
                "len = {len} does not fit in a frame's 32-bit length"
            )));
        }
        with_channel(c, |ch| write_frame_like(ch, data, false))
    })
}

/// Read one frame written by `sk_channel_write_frame` on the other side.
///
/// Blocks for at most `timeout_ms` (-1 = forever, 0 = poll). On success
/// `*out` holds the payload (possibly empty: `{NULL, 0}`); the caller owns
/// it and frees it with `sk_buf_free`.
///
/// Returns SK_ERR_EOF at a clean end of stream (no partial frame pending);
/// SK_ERR_PROTOCOL if the announced length exceeds MAX_FRAME_SIZE or the
/// stream ends inside a frame (the channel is then closed); SK_ERR_TIMEOUT;
/// SK_ERR_CLOSED if the channel is closed or its peer shut down, also while
/// waiting; SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_read_frame(
    c: *mut sk_channel,
    out: *mut sk_buf,
    timeout_ms: i64,
) -> sk_result {
    ffi_call("sk_channel_read_frame", || {
        let out = out_ptr(out, "out")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let frame = with_channel(c, |ch| run_io(t, "read_frame", ch.read_frame_vec()))?
            .ok_or(Error::Eof)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, into_buf(frame)) };
        Ok(())
    })
}

/// Read several frames in one call: the frames already received, as many
/// as fit in `buf`, copied as they are on the stream. For callers that
/// read many small frames (a binding can serve them from its own buffer,
/// one native call per batch instead of per frame).
///
/// Blocks like `sk_channel_read_frame` until at least one whole frame is
/// there, for at most `timeout_ms` (-1 = forever, 0 = poll), then never
/// waits for more. On success `buf[0..*len]` holds one or more records,
/// each a 4-byte big-endian payload length followed by the payload (the
/// same bytes a `sk_channel_read` would return); `buf` is written only on
/// success. `*len == 0` with SK_OK means nothing was read because the next
/// frame must be read with `sk_channel_read_frame`: it does not fit in
/// `cap` (or is one of the large frames that call assembles piece by
/// piece), or it is over MAX_FRAME_SIZE or cut off by the end of the stream,
/// which that call reports as SK_ERR_PROTOCOL.
///
/// Returns SK_ERR_EOF at a clean end of stream; SK_ERR_TIMEOUT (nothing
/// consumed); SK_ERR_CLOSED if the channel is closed or its peer shut down,
/// also while waiting; SK_ERR_INVALID for a bad handle, NULL `buf` or
/// `len`, `cap` below 4, or a timeout below -1. At most 256 KiB are read
/// per call.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_read_frames(
    c: *mut sk_channel,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    timeout_ms: i64,
) -> sk_result {
    ffi_call("sk_channel_read_frames", || {
        let buf = out_buf(buf, cap, "buf")?;
        if cap < 4 {
            return Err(crate::error::invalid(format!(
                "cap = {cap}: buf must hold at least 4 bytes (an empty frame's length)"
            )));
        }
        let len = out_ptr(len, "len")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let got = read_via_scratch(buf, cap, |tmp| {
            with_channel(c, |ch| {
                run_io(t, "read_frames", ch.read_frames(tmp, usize::MAX))
            })?
            .ok_or(Error::Eof)
        })?;
        // SAFETY: len was checked non-NULL.
        unsafe { write_out(len, got) };
        Ok(())
    })
}

/// Put `len` bytes back in front of the channel's byte stream: the next
/// `sk_channel_read`, `sk_channel_read_frame` or `sk_channel_read_frames`
/// returns them first. For a binding that read frames ahead with
/// `sk_channel_read_frames` and must hand what it did not use to a byte
/// read. Give back only bytes read from this channel, in the order read:
/// they do not count against the flow-control window. `data` may be NULL
/// when `len` is 0. Does not block. On a closed channel the bytes are
/// dropped (SK_OK).
///
/// Returns SK_ERR_INVALID for a bad handle or NULL `data` with `len` > 0.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_unread(
    c: *mut sk_channel,
    data: *const u8,
    len: usize,
) -> sk_result {
    ffi_call("sk_channel_unread", || {
        // SAFETY: data is NULL or len readable bytes per the contract.
        let data = unsafe { bytes(data, len, "data") }?;
        with_channel(c, |ch| {
            ch.unread(data);
            Ok(())
        })
    })
}

/// Send one error frame on the channel's error stream (SSH extended data),
/// separate from the byte stream. `data` may be NULL when `len` is 0.
///
/// Blocks like `sk_channel_write`. Returns SK_ERR_CLOSED if the channel is
/// closed; SK_ERR_INVALID for bad arguments.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_write_error(
    c: *mut sk_channel,
    data: *const u8,
    len: usize,
) -> sk_result {
    ffi_call("sk_channel_write_error", || {
        // SAFETY: data is NULL or len readable bytes per the contract.
        let data = unsafe { bytes(data, len, "data") }?;
        with_channel(c, |ch| write_frame_like(ch, data, true))
    })
}

/// Read one error frame sent with `sk_channel_write_error`.
///
/// Blocks for at most `timeout_ms` (-1 = forever, 0 = poll). On success
/// `*out` is owned by the caller; free it with `sk_buf_free`. Returns
/// SK_ERR_EOF when the error stream has ended (the remote side closed);
/// SK_ERR_TIMEOUT; SK_ERR_CLOSED if the channel is closed locally or its
/// peer shut down; SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_read_error(
    c: *mut sk_channel,
    out: *mut sk_buf,
    timeout_ms: i64,
) -> sk_result {
    ffi_call("sk_channel_read_error", || {
        let out = out_ptr(out, "out")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let frame =
            with_channel(c, |ch| run_io(t, "read_error", ch.read_error()))?.ok_or(Error::Eof)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, into_buf(Vec::from(frame))) };
        Ok(())
    })
}

/// Close the sending half: the other side reads end of stream (0 bytes /
/// SK_ERR_EOF) after the data already sent, and can read this side's
/// trailers. This side can still read.
///
/// Blocks until the close is sent. Returns SK_ERR_CLOSED if the channel is
/// already closed; SK_ERR_INVALID for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_close_write(c: *mut sk_channel) -> sk_result {
    ffi_call("sk_channel_close_write", || {
        let ch = channel(c)?;
        block_on(ch.close_write())?
    })
}

/// Attach `n` "key=value" trailers, delivered to the other side when this
/// side closes (or closes for writing). `trailers` may be NULL when `n` is 0.
///
/// Blocks until the trailers are sent. Returns SK_ERR_CLOSED if the channel
/// is closed; SK_ERR_INVALID for a bad handle, NULL `trailers` with `n` > 0,
/// or a NULL/non-UTF-8 element (the message names its index).
#[no_mangle]
pub unsafe extern "C" fn sk_channel_write_trailers(
    c: *mut sk_channel,
    trailers: *const *const c_char,
    n: usize,
) -> sk_result {
    ffi_call("sk_channel_write_trailers", || {
        let ch = channel(c)?;
        // SAFETY: trailers is NULL or n C strings per the contract.
        let list = unsafe { c_str_array(trailers, n, "trailers") }?;
        block_on(ch.write_trailers(&list))?
    })
}

/// Close the channel in both directions. Calls blocked on it in other
/// threads return SK_ERR_CLOSED. Closing twice is fine (SK_OK).
///
/// The handle stays valid until `sk_channel_free`. Blocks until the close
/// is sent. Returns SK_ERR_INVALID for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_close(c: *mut sk_channel) -> sk_result {
    ffi_call("sk_channel_close", || {
        let ch = channel(c)?;
        block_on(ch.close())?
    })
}

/// Close the channel (if still open) and release the handle.
///
/// Calls blocked on the channel in other threads return SK_ERR_CLOSED;
/// afterwards the handle is invalid (SK_ERR_INVALID everywhere).
/// `sk_channel_free(NULL)` and freeing an already freed or unknown handle do
/// nothing. Blocks briefly (at most about 5 s) while the close is sent.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_free(c: *mut sk_channel) {
    ffi_void("sk_channel_free", || {
        if c.is_null() {
            return;
        }
        handle::forget_cached_channel(c as usize);
        if let Some(ch) = handle::remove_channel(c as usize) {
            if !ch.is_closed() {
                let ch2 = ch.clone();
                let close = async move {
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_secs(5), ch2.close()).await;
                };
                if block_on(close).is_err() {
                    // Inside a runtime: close in the background.
                    if let Ok(rt) = crate::runtime::runtime() {
                        let ch3 = ch.clone();
                        rt.spawn(async move {
                            let _ = ch3.close().await;
                        });
                    }
                }
            }
            let _ = enter(move || drop(ch));
        }
    })
}

/// Open a child channel inside this channel ("channels of channels"), for
/// `service` with `n_headers` "key=value" headers (`headers` may be NULL
/// when `n_headers` is 0). The remote side receives it from
/// `sk_channel_accept` on its end of this channel.
///
/// Blocks until the remote side has the channel. On success `*out` is a new
/// channel handle owned by the caller; free it with `sk_channel_free`.
/// Returns SK_ERR_CLOSED if the parent is closed; SK_ERR_INVALID for bad
/// arguments.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_open(
    parent: *mut sk_channel,
    service: *const c_char,
    headers: *const *const c_char,
    n_headers: usize,
    out: *mut *mut sk_channel,
) -> sk_result {
    ffi_call("sk_channel_open", || {
        let ch = handle::channel("parent", parent as usize)?;
        // SAFETY: service is NULL or a C string per the contract.
        let service = unsafe { c_str(service, "service") }?;
        // SAFETY: headers is NULL or n_headers C strings per the contract.
        let headers = unsafe { c_str_array(headers, n_headers, "headers") }?;
        let out = out_ptr(out, "out")?;
        let child = block_on(ch.open(service, &headers))??;
        let h = handle::insert_channel(child)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, h as *mut sk_channel) };
        Ok(())
    })
}

/// Wait for a child channel opened by the remote side with
/// `sk_channel_open` on its end of `parent`.
///
/// Blocks for at most `timeout_ms` (-1 = forever, 0 = poll). On success
/// `*out` is a new channel handle owned by the caller; free it with
/// `sk_channel_free`. Returns SK_ERR_TIMEOUT; SK_ERR_CLOSED if the parent is
/// or becomes closed; SK_ERR_INVALID for bad arguments.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_accept(
    parent: *mut sk_channel,
    timeout_ms: i64,
    out: *mut *mut sk_channel,
) -> sk_result {
    ffi_call("sk_channel_accept", || {
        let ch = handle::channel("parent", parent as usize)?;
        let out = out_ptr(out, "out")?;
        let t = Timeout::from_ms(timeout_ms)?;
        let child = block_on(t.run("accept", ch.accept()))??;
        let h = handle::insert_channel(child)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, h as *mut sk_channel) };
        Ok(())
    })
}

/// Splice the channel's byte stream with the file descriptor `fd`: bytes
/// read from `fd` are written to the channel and bytes read from the
/// channel are written to `fd`, until both directions have ended (end of
/// stream on `fd` is passed on as `sk_channel_close_write`; the channel's
/// end of stream shuts down writing on a socket `fd`). Then the channel is
/// closed. Closing the channel (from another thread, or by the remote side)
/// ends the call too.
///
/// A TCP or Unix stream socket is the usual `fd`; terminals, FIFOs and other
/// pollable descriptors work too, and a regular file is sent from its
/// current offset to its end, then written to after that.
///
/// Ownership of `fd` passes to streamkit when this is called: it is closed
/// before the call returns, whatever the result (except when `fd` is
/// negative or not an open descriptor). Blocks until both sides end.
///
/// Returns SK_OK when both directions ended cleanly; SK_ERR_INVALID for a
/// bad handle, a negative or closed `fd`, or a datagram socket; SK_ERR_IO
/// for an I/O error on `fd`; SK_ERR_CLOSED if the channel is closed (locally,
/// by the remote side or by shutdown) before both directions ended.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_join_fd(c: *mut sk_channel, fd: std::ffi::c_int) -> sk_result {
    ffi_call("sk_channel_join_fd", || {
        // Take the fd first, so that it is closed on every path below.
        // SAFETY: the caller hands over ownership of fd.
        let owned = unsafe { crate::fdio::take_fd(fd) }?;
        let ch = channel(c)?;
        block_on(async move { crate::fdio::join(&ch, owned).await })?
    })
}

fn meta_string(
    c: *mut sk_channel,
    out: *mut *mut c_char,
    what: &str,
    get: impl FnOnce(&Channel) -> String,
) -> Result<()> {
    let ch = channel(c)?;
    let out = out_ptr(out, "out")?;
    let s = into_c_string(get(&ch), what)?;
    // SAFETY: out was checked non-NULL.
    unsafe { write_out(out, s) };
    Ok(())
}

fn meta_list(
    c: *mut sk_channel,
    out: *mut sk_strlist,
    what: &str,
    get: impl FnOnce(&Channel) -> Vec<String>,
) -> Result<()> {
    let ch = channel(c)?;
    let out = out_ptr(out, "out")?;
    let list = into_strlist(get(&ch), what)?;
    // SAFETY: out was checked non-NULL.
    unsafe { write_out(out, list) };
    Ok(())
}

/// The service name the channel was opened for.
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_service(
    c: *mut sk_channel,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_channel_service", || {
        meta_string(c, out, "service", |ch| ch.service().to_owned())
    })
}

/// The "key=value" headers the channel was opened with.
///
/// On success fills `*out` (possibly empty); the caller owns it and frees it
/// with `sk_strlist_free`. Does not block. Returns SK_ERR_INVALID for a bad
/// handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_headers(c: *mut sk_channel, out: *mut sk_strlist) -> sk_result {
    ffi_call("sk_channel_headers", || {
        meta_list(c, out, "header", |ch| ch.headers().to_vec())
    })
}

/// The trailers received from the other side: empty until the other side
/// has closed or closed for writing (read until end of stream first).
///
/// On success fills `*out`; the caller owns it and frees it with
/// `sk_strlist_free`. Does not block. Returns SK_ERR_INVALID for a bad
/// handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_trailers(
    c: *mut sk_channel,
    out: *mut sk_strlist,
) -> sk_result {
    ffi_call("sk_channel_trailers", || {
        meta_list(c, out, "trailer", |ch| ch.trailers())
    })
}

/// The name of the local peer (this side) of the channel.
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_local_peer(
    c: *mut sk_channel,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_channel_local_peer", || {
        meta_string(c, out, "peer name", |ch| ch.local_peer().to_owned())
    })
}

/// The name of the remote peer (the other side) of the channel.
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_remote_peer(
    c: *mut sk_channel,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_channel_remote_peer", || {
        meta_string(c, out, "peer name", |ch| ch.remote_peer().to_owned())
    })
}

/// The remote's public key as authenticated: one OpenSSH line without
/// comment (`ssh-ed25519 AAAA...`); for inproc, the other peer's own key.
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_remote_key(
    c: *mut sk_channel,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_channel_remote_key", || {
        meta_string(c, out, "remote key", |ch| ch.remote_key().to_owned())
    })
}

/// The SHA256 fingerprint of the remote's key, exactly as `ssh-keygen -lf`
/// prints it (`SHA256:` + unpadded base64).
///
/// On success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID for a bad handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn sk_channel_remote_fingerprint(
    c: *mut sk_channel,
    out: *mut *mut c_char,
) -> sk_result {
    ffi_call("sk_channel_remote_fingerprint", || {
        meta_string(c, out, "remote fingerprint", |ch| {
            ch.remote_fingerprint().to_owned()
        })
    })
}
