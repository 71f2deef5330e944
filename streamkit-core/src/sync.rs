//! Small synchronisation helpers shared by every layer.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, ignoring poisoning: a panic elsewhere must not turn every later
/// call into a second panic (and nothing may panic across the C ABI). The
/// state behind these locks stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
