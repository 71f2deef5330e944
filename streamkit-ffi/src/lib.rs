//! The C ABI of streamkit: `libstreamkit.so`, `libstreamkit.a` and
//! `include/streamkit.h` (generated from this crate by cbindgen).
//!
//! Organization:
//! - `error`: `sk_result`, the thread-local `sk_last_error()` message and
//!   the panic boundary every export runs in;
//! - `handle`: the generation-checked handle table behind `sk_peer *` and
//!   `sk_channel *` (C never holds a pointer to Rust memory);
//! - `ffi`: C-visible structs and the argument / owned-result helpers;
//! - `runtime`: the hidden tokio runtime and timeouts;
//! - `peer`, `channel`, `fdio`, `stats`: the exports, one file per C type
//!   or concept.
//!
//! Every export is a plain `#[no_mangle] pub unsafe extern "C" fn` whose
//! body runs inside `error::ffi_call`, so NULLs, bad UTF-8, stale handles
//! and panics all come back as result codes with a message.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// The exports' safety contract (pointer arguments valid for the documented
// length, NUL-terminated strings, owned results freed once) is stated once in
// the header's "API conventions" and in each function's comment, in C terms;
// a Rust "# Safety" section on each of them would only repeat it.
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_char;

// Declaration order is the order of the header: peer, then channel.
mod channel;
mod error;
mod event;
mod fdio;
mod ffi;
mod handle;
mod peer;
mod poll;
mod runtime;
mod stats;

pub use channel::*;
pub use error::sk_result;
pub use event::*;
pub use ffi::{sk_buf, sk_channel, sk_peer, sk_strlist};
pub use peer::*;
pub use stats::*;

use error::{ffi_call, ffi_void};
use ffi::{into_c_string, out_ptr, write_out};

/// The message of the last failed streamkit call on the calling thread.
///
/// Returns "" if no call has failed on this thread yet. The string is owned
/// by streamkit: do not free it. It stays valid until the next failing
/// streamkit call on the same thread (copy it to keep it). Successful calls
/// do not change it. Never returns NULL; does not block.
#[no_mangle]
pub extern "C" fn sk_last_error() -> *const c_char {
    error::last_error_ptr()
}

/// The major version of the header (`SK_VERSION_MAJOR`). Compare with
/// `sk_version()` at run time to detect a header/library mismatch.
pub const SK_VERSION_MAJOR: u32 = 0;
/// The minor version of the header.
pub const SK_VERSION_MINOR: u32 = 1;
/// The patch version of the header.
pub const SK_VERSION_PATCH: u32 = 0;

/// The library version, e.g. "0.1.0". A static string: do not free it.
/// Never returns NULL; does not block.
#[no_mangle]
pub extern "C" fn sk_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Generate a new ed25519 private key, as OpenSSH private key text.
///
/// Use it with SK_OPT_PRIVATE_KEY (the option accepts the text itself). On
/// success `*out` is owned by the caller; free it with `sk_string_free`.
/// Does not block. Returns SK_ERR_INVALID if `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sk_generate_key(out: *mut *mut c_char) -> sk_result {
    ffi_call("sk_generate_key", || {
        let out = out_ptr(out, "out")?;
        let s = into_c_string(streamkit_core::generate_key(), "key")?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_out(out, s) };
        Ok(())
    })
}

/// Free a string returned by streamkit (`char **out` results).
///
/// `sk_string_free(NULL)` does nothing. Must not be called twice with the
/// same pointer, nor with memory streamkit did not allocate (do not use it
/// for `sk_last_error()` or `sk_version()`).
#[no_mangle]
pub unsafe extern "C" fn sk_string_free(s: *mut c_char) {
    // SAFETY: s is NULL or a string from streamkit, per the contract.
    ffi_void("sk_string_free", || unsafe { ffi::free_c_string(s) })
}

/// Free the bytes of an `sk_buf` filled by streamkit and reset it to
/// `{NULL, 0}` (so freeing the same struct again is harmless).
///
/// `sk_buf_free(NULL)` does nothing, and so does a `{NULL, 0}` buffer.
/// Must not be given a struct streamkit did not fill.
#[no_mangle]
pub unsafe extern "C" fn sk_buf_free(b: *mut sk_buf) {
    // SAFETY: b is NULL or an sk_buf filled by streamkit, per the contract.
    ffi_void("sk_buf_free", || unsafe { ffi::free_buf(b) })
}

/// Free every string of an `sk_strlist` filled by streamkit and the array,
/// and reset it to `{NULL, 0}` (so freeing the same struct again is
/// harmless).
///
/// `sk_strlist_free(NULL)` does nothing, and so does a `{NULL, 0}` list.
/// Must not be given a struct streamkit did not fill.
#[no_mangle]
pub unsafe extern "C" fn sk_strlist_free(l: *mut sk_strlist) {
    // SAFETY: l is NULL or an sk_strlist filled by streamkit, per the contract.
    ffi_void("sk_strlist_free", || unsafe { ffi::free_strlist(l) })
}

/// The number of live `sk_peer` and `sk_channel` handles (created and not
/// yet freed) in this process. Meant for leak tests. Does not block.
#[no_mangle]
pub extern "C" fn sk_live_handles() -> usize {
    std::panic::catch_unwind(handle::live).unwrap_or(0)
}

#[cfg(test)]
mod version_tests {
    /// The header's macros are literals (cbindgen cannot evaluate `env!`):
    /// this fails when Cargo.toml's version moves without them.
    #[test]
    fn header_version_macros_match_cargo_toml() {
        let v = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
        assert_eq!(super::SK_VERSION_MAJOR, v(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(super::SK_VERSION_MINOR, v(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(super::SK_VERSION_PATCH, v(env!("CARGO_PKG_VERSION_PATCH")));
        let header = include_str!("../../include/streamkit.h");
        for (name, value) in [
            ("SK_VERSION_MAJOR", super::SK_VERSION_MAJOR),
            ("SK_VERSION_MINOR", super::SK_VERSION_MINOR),
            ("SK_VERSION_PATCH", super::SK_VERSION_PATCH),
        ] {
            let line = format!("#define {name} {value}");
            assert!(
                header.lines().any(|l| l == line),
                "include/streamkit.h lacks `{line}`: run streamkit-ffi/gen_header.sh"
            );
        }
    }
}
