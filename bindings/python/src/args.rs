//! Argument extraction with clear TypeError / InvalidArgument messages.
//!
//! Methods take `&Bound<PyAny>` and convert here instead of relying on pyo3's
//! automatic extraction, so every message names the method, the parameter, the
//! expected type and what was given ("Peer.bind() argument 'endpoint' must be
//! str, not int").

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyString};

use crate::errors;

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

pub(crate) fn type_error(func: &str, param: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{func}() argument '{param}' must be {expected}, not {}",
        type_name(obj)
    ))
}

/// A `str` argument.
pub(crate) fn string(func: &str, param: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(type_error(func, param, "str", obj)),
    }
}

/// A `str` or `os.PathLike[str]` argument (key and known_hosts options: a path or the text).
pub(crate) fn string_or_path(func: &str, param: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if obj.hasattr("__fspath__")? {
        let p = obj.call_method0("__fspath__")?;
        if let Ok(s) = p.cast::<PyString>() {
            return Ok(s.to_cow()?.into_owned());
        }
    }
    Err(type_error(func, param, "str or os.PathLike[str]", obj))
}

/// An `int` argument (bool is refused: `True` is almost always a mistake here).
pub(crate) fn int(func: &str, param: &str, obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(type_error(func, param, "int", obj));
    }
    obj.extract::<i64>().map_err(|_| {
        errors::invalid(
            obj.py(),
            format!("{func}() argument '{param}' is out of range: {obj}"),
        )
    })
}

/// A timeout in seconds (`int` or `float`); `None` (or +inf) waits forever.
pub(crate) fn timeout(func: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(type_error(
            func,
            "timeout",
            "float, int or None (seconds)",
            obj,
        ));
    }
    let secs: f64 = obj.extract()?;
    if secs.is_nan() || secs < 0.0 {
        return Err(errors::invalid(
            obj.py(),
            format!("{func}() argument 'timeout' must be >= 0 seconds or None, not {secs}"),
        ));
    }
    // Beyond ~centuries (or inf), wait forever.
    Ok(Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| d.as_secs() < 1 << 32))
}

/// A sequence of `str` (headers, trailers), or a dict of str to str that
/// becomes `"key=value"` items. A bare `str`/`bytes` is refused rather than
/// silently iterated character by character.
pub(crate) fn string_list(
    func: &str,
    param: &str,
    obj: &Bound<'_, PyAny>,
) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
    {
        return Err(type_error(
            func,
            param,
            "a list/tuple of str (a single str is not accepted)",
            obj,
        ));
    }
    if let Ok(map) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map.iter() {
            match (k.cast::<PyString>(), v.cast::<PyString>()) {
                (Ok(k), Ok(v)) => out.push(format!("{}={}", k.to_cow()?, v.to_cow()?)),
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "{func}() argument '{param}' as a dict must map str to str, found {}: {}",
                        type_name(&k),
                        type_name(&v)
                    )))
                }
            }
        }
        return Ok(out);
    }
    let iter = obj
        .try_iter()
        .map_err(|_| type_error(func, param, "an iterable of str", obj))?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_cow()?.into_owned()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{func}() argument '{param}' must contain only str, found {}",
                    type_name(&item)
                )))
            }
        }
    }
    Ok(out)
}

/// A file descriptor: an `int` or an object with a `fileno()` method (a socket).
pub(crate) fn fileno(func: &str, param: &str, obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    let fd_obj = if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        obj.clone()
    } else if obj.hasattr("fileno")? {
        obj.call_method0("fileno")?
    } else {
        return Err(type_error(
            func,
            param,
            "a socket (or any object with fileno()) or an int fd",
            obj,
        ));
    };
    let fd = int(func, param, &fd_obj)?;
    if fd < 0 || fd > i32::MAX as i64 {
        return Err(errors::invalid(
            obj.py(),
            format!(
                "{func}() argument '{param}' has no valid file descriptor ({fd}); is it closed?"
            ),
        ));
    }
    Ok(fd as i32)
}
