//! Fault points: named places between the statements of a multi-row operation where a test can
//! force an error, to prove that a crash there leaves no partial state.
//!
//! In production no point is armed, and a check is one uncontended lock and an empty-set lookup.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct FaultPoints(Arc<Mutex<HashSet<&'static str>>>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("fault injected at {0}")]
pub struct InjectedFault(pub &'static str);

impl FaultPoints {
    pub fn arm(&self, point: &'static str) {
        self.lock().insert(point);
    }

    pub fn disarm_all(&self) {
        self.lock().clear();
    }

    /// Fails when `point` is armed. Armed points stay armed until disarmed.
    pub fn check(&self, point: &'static str) -> Result<(), InjectedFault> {
        if self.lock().contains(point) { Err(InjectedFault(point)) } else { Ok(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<&'static str>> {
        // A panic while holding this lock cannot leave the set half-updated: recover it.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
