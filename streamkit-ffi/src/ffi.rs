//! C-visible data types and the helpers that turn C arguments into Rust
//! values (and Rust results into C-owned memory). Every raw-pointer access
//! of the crate goes through this file.

use std::ffi::{c_char, CStr, CString};

use streamkit_core::{Error, Result};

use crate::error::invalid;

/// An opaque peer handle.
///
/// Create with `sk_peer_new`, release with `sk_peer_free`. The value is a
/// checked id, not a pointer to memory: a freed or made-up handle is
/// reported as `SK_ERR_INVALID`.
///
/// Methods: sk_peer_set_option_str, sk_peer_set_option_int,
/// sk_peer_get_option_str, sk_peer_get_option_int, sk_peer_public_key,
/// sk_peer_bind, sk_peer_unbind, sk_peer_connect, sk_peer_disconnect,
/// sk_peer_peers, sk_peer_drop, sk_peer_next_peer, sk_peer_accept,
/// sk_peer_open, sk_peer_next_event, sk_peer_shutdown, sk_peer_free.
#[allow(non_camel_case_types)]
pub struct sk_peer {
    _private: [u8; 0],
}

/// An opaque channel handle.
///
/// Returned by `sk_peer_open`, `sk_peer_accept`, `sk_channel_open` and
/// `sk_channel_accept`; release with `sk_channel_free`. A freed or made-up
/// handle is reported as `SK_ERR_INVALID`.
///
/// Methods: sk_channel_write, sk_channel_read, sk_channel_write_frame,
/// sk_channel_read_frame, sk_channel_read_frames, sk_channel_unread,
/// sk_channel_write_error, sk_channel_read_error,
/// sk_channel_close_write, sk_channel_write_trailers, sk_channel_close,
/// sk_channel_open, sk_channel_accept, sk_channel_join_fd,
/// sk_channel_service, sk_channel_headers, sk_channel_trailers,
/// sk_channel_local_peer, sk_channel_remote_peer, sk_channel_remote_key,
/// sk_channel_remote_fingerprint, sk_channel_free.
#[allow(non_camel_case_types)]
pub struct sk_channel {
    _private: [u8; 0],
}

/// A byte buffer owned by the caller once returned.
///
/// Release with `sk_buf_free`, which frees `data` and resets the struct to
/// `{NULL, 0}`. An empty buffer has `data == NULL` and `len == 0`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sk_buf {
    /// The bytes (NULL when `len` is 0).
    pub data: *mut u8,
    /// Number of bytes at `data`.
    pub len: usize,
}

/// A list of NUL-terminated UTF-8 strings owned by the caller once returned.
///
/// Release with `sk_strlist_free`, which frees every item and the array and
/// resets the struct to `{NULL, 0}`. An empty list has `items == NULL`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sk_strlist {
    /// `len` strings (NULL when `len` is 0).
    pub items: *mut *mut c_char,
    /// Number of strings.
    pub len: usize,
}

/// Check an output pointer; the value is written later, only on success.
pub(crate) fn out_ptr<T>(p: *mut T, arg: &str) -> Result<*mut T> {
    if p.is_null() {
        Err(invalid(format!(
            "{arg} is NULL (an output pointer is required)"
        )))
    } else {
        Ok(p)
    }
}

/// Write an output value (the pointer was checked by [`out_ptr`]).
///
/// # Safety
/// `p` must be valid for writes of `T`.
pub(crate) unsafe fn write_out<T>(p: *mut T, v: T) {
    // SAFETY: the caller guarantees p is a valid, writable location.
    unsafe { p.write(v) }
}

/// Borrow a C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, arg: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(invalid(format!("{arg} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        invalid(format!(
            "{arg} is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Borrow a byte-slice argument. NULL is allowed only with `len == 0`.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for the call.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, arg: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{arg} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!("{arg}: length {len} is too large")));
    }
    // SAFETY: non-NULL, len bytes readable per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Check a caller-provided output buffer; `cap` must be > 0. Nothing is
/// read from it, and it is written only on success (it may be uninitialized,
/// so no Rust slice is ever made over it).
pub(crate) fn out_buf(p: *mut u8, cap: usize, arg: &str) -> Result<*mut u8> {
    if p.is_null() {
        return Err(invalid(format!("{arg} is NULL")));
    }
    if cap == 0 {
        return Err(invalid(format!(
            "the capacity of {arg} is 0 (a 0-byte read could not be told apart from end of stream)"
        )));
    }
    if cap > isize::MAX as usize {
        return Err(invalid(format!("capacity {cap} of {arg} is too large")));
    }
    Ok(p)
}

/// Copy an array of `n` C strings. NULL is allowed only with `n == 0`.
///
/// # Safety
/// `p` is NULL or valid for reads of `n` pointers, each NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn c_str_array(
    p: *const *const c_char,
    n: usize,
    arg: &str,
) -> Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(invalid(format!("{arg} is NULL but its count is {n}")));
    }
    if n > (isize::MAX as usize) / std::mem::size_of::<*const c_char>() {
        return Err(invalid(format!("{arg}: count {n} is too large")));
    }
    // SAFETY: non-NULL, n pointers readable per the caller's contract.
    let ptrs = unsafe { std::slice::from_raw_parts(p, n) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each element is NULL or a C string per the caller's contract.
        .map(|(i, &s)| unsafe { c_str(s, &format!("{arg}[{i}]")) }.map(str::to_owned))
        .collect()
}

fn to_cstring(s: String, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::Protocol(format!(
            "{what} contains a NUL byte and cannot be returned as a C string"
        ))
    })
}

/// Turn a Rust string into a `char *` the caller frees with `sk_string_free`.
pub(crate) fn into_c_string(s: String, what: &str) -> Result<*mut c_char> {
    Ok(to_cstring(s, what)?.into_raw())
}

/// Turn bytes into an `sk_buf` the caller frees with `sk_buf_free`.
pub(crate) fn into_buf(v: Vec<u8>) -> sk_buf {
    if v.is_empty() {
        return sk_buf {
            data: std::ptr::null_mut(),
            len: 0,
        };
    }
    let b: Box<[u8]> = v.into_boxed_slice();
    let len = b.len();
    sk_buf {
        data: Box::into_raw(b).cast::<u8>(),
        len,
    }
}

/// Turn strings into an `sk_strlist` the caller frees with `sk_strlist_free`.
/// Fails (allocating nothing) if a string contains a NUL byte.
pub(crate) fn into_strlist(v: Vec<String>, what: &str) -> Result<sk_strlist> {
    if v.is_empty() {
        return Ok(sk_strlist {
            items: std::ptr::null_mut(),
            len: 0,
        });
    }
    let cs = v
        .into_iter()
        .map(|s| to_cstring(s, what))
        .collect::<Result<Vec<CString>>>()?;
    let items: Box<[*mut c_char]> = cs.into_iter().map(CString::into_raw).collect();
    let len = items.len();
    Ok(sk_strlist {
        items: Box::into_raw(items).cast::<*mut c_char>(),
        len,
    })
}

/// Free what [`into_buf`] allocated and reset the struct.
///
/// # Safety
/// `b` is NULL or points to an `sk_buf` filled by streamkit (or `{NULL, 0}`).
pub(crate) unsafe fn free_buf(b: *mut sk_buf) {
    if b.is_null() {
        return;
    }
    // SAFETY: b is a valid sk_buf per the caller's contract.
    let b = unsafe { &mut *b };
    if !b.data.is_null() && b.len > 0 {
        let slice = std::ptr::slice_from_raw_parts_mut(b.data, b.len);
        // SAFETY: data/len came from Box<[u8]>::into_raw in into_buf.
        drop(unsafe { Box::from_raw(slice) });
    }
    b.data = std::ptr::null_mut();
    b.len = 0;
}

/// Free what [`into_strlist`] allocated and reset the struct.
///
/// # Safety
/// `l` is NULL or points to an `sk_strlist` filled by streamkit (or `{NULL, 0}`).
pub(crate) unsafe fn free_strlist(l: *mut sk_strlist) {
    if l.is_null() {
        return;
    }
    // SAFETY: l is a valid sk_strlist per the caller's contract.
    let l = unsafe { &mut *l };
    if !l.items.is_null() && l.len > 0 {
        let slice = std::ptr::slice_from_raw_parts_mut(l.items, l.len);
        // SAFETY: items/len came from Box<[*mut c_char]>::into_raw.
        let items = unsafe { Box::from_raw(slice) };
        for &s in items.iter() {
            if !s.is_null() {
                // SAFETY: each item came from CString::into_raw.
                drop(unsafe { CString::from_raw(s) });
            }
        }
    }
    l.items = std::ptr::null_mut();
    l.len = 0;
}

/// Free what [`into_c_string`] allocated.
///
/// # Safety
/// `s` is NULL or a string returned by streamkit, not yet freed.
pub(crate) unsafe fn free_c_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: s came from CString::into_raw.
        drop(unsafe { CString::from_raw(s) });
    }
}
