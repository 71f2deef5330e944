//! Zero-copy access to any bytes-like object (bytes, bytearray, memoryview,
//! array.array, numpy arrays, ...) through the buffer protocol.
//!
//! The wheel is built against the abi3 (stable ABI) for Python 3.9+, and
//! `PyObject_GetBuffer`/`Py_buffer` only entered the *limited API* in 3.11, so
//! pyo3 does not expose `PyBuffer` for abi3-py39. Both have nevertheless been
//! exported with this exact layout by every CPython since 3.3 (that stability is
//! why 3.11 could add them to the limited API), so they are declared here.
//! The view pins the exporter (a bytearray cannot be resized while exported), so
//! the slice stays valid while the GIL is released.

use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::type_name;

#[repr(C)]
#[allow(non_camel_case_types)]
struct Py_buffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

extern "C" {
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut Py_buffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut Py_buffer);
}

/// `PyBUF_SIMPLE`: a C-contiguous run of bytes, no format/shape needed.
const PYBUF_SIMPLE: c_int = 0;
/// `PyBUF_WRITABLE`: and writable.
const PYBUF_WRITABLE: c_int = 0x0001;

/// A borrowed, read-only byte view of a Python object, released on drop.
pub(crate) struct ByteView<'py> {
    view: View,
    _py: PhantomData<Python<'py>>,
}

enum View {
    /// An exact `bytes` object (immutable, kept alive by the caller's
    /// reference): its contents directly, no buffer export.
    Bytes(*const u8, usize),
    Buffer(Box<Py_buffer>),
}

impl<'py> ByteView<'py> {
    /// Borrow `obj`'s bytes; `func`/`param` name the argument in the TypeError.
    pub(crate) fn get(func: &str, param: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast_exact::<PyBytes>() {
            let s = b.as_bytes();
            return Ok(ByteView {
                view: View::Bytes(s.as_ptr(), s.len()),
                _py: PhantomData,
            });
        }
        Self::request(
            func,
            param,
            obj,
            PYBUF_SIMPLE,
            "a bytes-like object (bytes, bytearray, memoryview)",
        )
    }

    /// Borrow `obj`'s bytes for writing (bytearray, writable memoryview, ...).
    pub(crate) fn get_mut(func: &str, param: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        Self::request(
            func,
            param,
            obj,
            PYBUF_WRITABLE,
            "a writable bytes-like object (bytearray, memoryview)",
        )
    }

    fn request(
        func: &str,
        param: &str,
        obj: &Bound<'py, PyAny>,
        flags: c_int,
        what: &str,
    ) -> PyResult<Self> {
        let mut view: Box<Py_buffer> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: we hold the GIL (obj is a Bound) and `view` is a valid Py_buffer.
        let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) };
        if rc != 0 {
            let cause = PyErr::fetch(obj.py());
            let read_only = flags & PYBUF_WRITABLE != 0
                && cause.is_instance_of::<PyBufferError>(obj.py())
                && cause.value(obj.py()).to_string().contains("writable");
            if read_only || cause.is_instance_of::<PyTypeError>(obj.py()) {
                let ro = if read_only { "read-only " } else { "" };
                return Err(PyTypeError::new_err(format!(
                    "{func}() argument '{param}' must be {what}, not {ro}{}",
                    type_name(obj)
                )));
            }
            // e.g. BufferError for a non-contiguous memoryview: keep Python's message.
            return Err(cause);
        }
        Ok(ByteView {
            view: View::Buffer(view),
            _py: PhantomData,
        })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.view {
            // SAFETY: the contents of a live bytes object never change or move;
            // the caller holds a reference to it for as long as this view lives.
            View::Bytes(p, n) => unsafe { std::slice::from_raw_parts(*p, *n) },
            View::Buffer(v) => {
                if v.buf.is_null() || v.len <= 0 {
                    return &[];
                }
                // SAFETY: a successful PyBUF_SIMPLE request yields `len` contiguous
                // bytes at `buf`, valid until PyBuffer_Release.
                unsafe { std::slice::from_raw_parts(v.buf as *const u8, v.len as usize) }
            }
        }
    }
}

impl ByteView<'_> {
    /// The bytes, writable. Only for views from [`ByteView::get_mut`].
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        let View::Buffer(v) = &self.view else {
            return &mut [];
        };
        if v.buf.is_null() || v.len <= 0 || v.readonly != 0 {
            return &mut [];
        }
        // SAFETY: a successful PyBUF_WRITABLE request yields `len` writable
        // contiguous bytes at `buf`, valid until PyBuffer_Release; `&mut self`
        // makes this the only Rust reference to them.
        unsafe { std::slice::from_raw_parts_mut(v.buf as *mut u8, v.len as usize) }
    }
}

impl Drop for ByteView<'_> {
    fn drop(&mut self) {
        if let View::Buffer(v) = &mut self.view {
            // SAFETY: the 'py lifetime proves the GIL is held; released exactly once.
            unsafe { PyBuffer_Release(&mut **v) }
        }
    }
}
