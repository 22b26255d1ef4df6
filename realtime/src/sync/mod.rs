//! Locking and waking with no knowledge of the rest of the crate.
//!
//! Locks are poison-free: a panic elsewhere (in a user's filter or hook, say) must not turn
//! every later send into a panic, and the state they guard stays consistent at every unlock.

mod abort;

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) use abort::Abort;

/// Locks `mutex`, whether or not a thread panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads `lock`, whether or not a thread panicked while holding it.
pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

#[cfg_attr(
    not(feature = "redis"),
    allow(dead_code, reason = "used by the Redis engine")
)]
/// Writes `lock`, whether or not a thread panicked while holding it.
pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
