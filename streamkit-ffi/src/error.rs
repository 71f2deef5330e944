//! `sk_result`, the per-thread last-error message and the panic boundary that
//! every export goes through.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use streamkit_core::{Error, ErrorKind};

/// The result of every fallible streamkit call.
///
/// The numbers are part of the ABI: they never change and are never reused.
/// On any value other than `SK_OK`, `sk_last_error()` on the same thread
/// describes what failed, and no output parameter has been written.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sk_result {
    /// Success. Output parameters have been written.
    SK_OK = 0,
    /// A bad argument: NULL pointer, invalid UTF-8, freed or unknown handle,
    /// malformed endpoint or key, unknown option, out-of-range value, or a
    /// blocking call made from inside streamkit's own runtime.
    SK_ERR_INVALID = 1,
    /// The peer or channel is closed, or was shut down / closed by another
    /// thread while this call was waiting.
    SK_ERR_CLOSED = 2,
    /// The timeout given to the call (or the CONNECT_TIMEOUT option) expired.
    SK_ERR_TIMEOUT = 3,
    /// No connected peer matches the request (or there is no peer at all).
    SK_ERR_NO_PEER = 4,
    /// An operating-system I/O error (socket, file, address in use, ...).
    SK_ERR_IO = 5,
    /// Authentication failed: the remote key is not trusted, or the remote
    /// side does not trust ours.
    SK_ERR_AUTH = 6,
    /// The remote side broke the protocol (for example a frame larger than
    /// MAX_FRAME_SIZE); the channel has been closed.
    SK_ERR_PROTOCOL = 7,
    /// A clean end of stream (frame and error-frame reads only).
    SK_ERR_EOF = 8,
    /// A bug inside streamkit (a caught panic or broken invariant). The
    /// process is still safe to use; please report the message.
    SK_ERR_INTERNAL = 9,
}

impl From<ErrorKind> for sk_result {
    fn from(k: ErrorKind) -> Self {
        match k {
            ErrorKind::Invalid => sk_result::SK_ERR_INVALID,
            ErrorKind::Closed => sk_result::SK_ERR_CLOSED,
            ErrorKind::Timeout => sk_result::SK_ERR_TIMEOUT,
            ErrorKind::NoPeer => sk_result::SK_ERR_NO_PEER,
            ErrorKind::Io => sk_result::SK_ERR_IO,
            ErrorKind::Auth => sk_result::SK_ERR_AUTH,
            ErrorKind::Protocol => sk_result::SK_ERR_PROTOCOL,
            ErrorKind::Eof => sk_result::SK_ERR_EOF,
            ErrorKind::Internal => sk_result::SK_ERR_INTERNAL,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Store `msg` as this thread's last error. Interior NUL bytes are replaced.
pub(crate) fn set_last_error(msg: String) {
    let msg = CString::new(msg).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.retain(|&b| b != 0);
        CString::new(v).unwrap_or_default()
    });
    // try_with: during thread teardown the slot may be gone; then drop the message.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            *s = msg;
        }
    });
}

/// Pointer to this thread's last error message ("" if none yet).
pub(crate) fn last_error_ptr() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    LAST_ERROR
        .try_with(|slot| match slot.try_borrow() {
            // The CString's heap buffer does not move until it is replaced
            // by the next failing call on this thread.
            Ok(s) => s.as_ptr(),
            Err(_) => EMPTY.as_ptr().cast(),
        })
        .unwrap_or(EMPTY.as_ptr().cast())
}

/// An invalid-argument error.
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// The boundary every fallible export runs its body in.
///
/// `Ok(())` becomes `SK_OK`. An `Err` becomes its `sk_result` and the
/// thread's last error is set to "`func`: <message>". A panic is caught and
/// becomes `SK_ERR_INTERNAL`, so no unwind ever crosses into C.
pub(crate) fn ffi_call<F>(func: &'static str, body: F) -> sk_result
where
    F: FnOnce() -> Result<(), Error>,
{
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => sk_result::SK_OK,
        Ok(Err(e)) => {
            set_last_error(format!("{func}: {e}"));
            e.kind().into()
        }
        Err(payload) => {
            let msg = panic_message(&*payload);
            // Dropping the payload could itself panic; don't let it escape.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            set_last_error(format!(
                "{func}: internal error: panic inside streamkit: {msg} (this is a bug; please report it)"
            ));
            sk_result::SK_ERR_INTERNAL
        }
    }
}

/// Like [`ffi_call`] for exports that return nothing (the `*_free`
/// functions): failures and panics are swallowed, never propagated.
pub(crate) fn ffi_void<F: FnOnce()>(func: &'static str, body: F) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        let msg = panic_message(&*payload);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        set_last_error(format!(
            "{func}: internal error: panic inside streamkit: {msg}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panic_becomes_internal() {
        let r = ffi_call("sk_test", || panic!("boom"));
        assert_eq!(r, sk_result::SK_ERR_INTERNAL);
        assert!(last().contains("sk_test"), "{}", last());
        assert!(last().contains("boom"), "{}", last());
        let r = ffi_call("sk_test2", || std::panic::panic_any(42u8));
        assert_eq!(r, sk_result::SK_ERR_INTERNAL);
        ffi_void("sk_void", || panic!("in free"));
        assert!(last().contains("in free"));
    }

    #[test]
    fn errors_map_one_to_one() {
        let cases = [
            (Error::Invalid("a".into()), 1),
            (Error::Closed("a".into()), 2),
            (Error::Timeout("a".into()), 3),
            (Error::NoPeer("a".into()), 4),
            (Error::Io("a".into()), 5),
            (Error::Auth("a".into()), 6),
            (Error::Protocol("a".into()), 7),
            (Error::Eof, 8),
            (Error::Internal("a".into()), 9),
        ];
        for (e, code) in cases {
            let want = e.to_string();
            let r = ffi_call("sk_x", move || Err(e));
            assert_eq!(r as i32, code);
            assert_eq!(last(), format!("sk_x: {want}"));
        }
        assert_eq!(ffi_call("sk_ok", || Ok(())) as i32, 0);
    }

    #[test]
    fn last_error_is_per_thread_and_nul_safe() {
        set_last_error("main\0thread".into());
        assert_eq!(last(), "mainthread");
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            set_last_error("other".into());
            assert_eq!(last(), "other");
        })
        .join()
        .unwrap();
        assert_eq!(last(), "mainthread");
    }
}
