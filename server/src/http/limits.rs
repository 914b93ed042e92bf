//! Per-key request budgets over one-minute windows (login attempts, generation submissions).
//! Kept in the process: with several processes each enforces its own budget, which bounds the
//! total at N × the limit — good enough for abuse limits, and no shared store is needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;

const WINDOW_MS: i64 = 60_000;

#[derive(Clone, Default)]
pub struct RateLimits(Arc<Mutex<HashMap<String, (i64, u32)>>>);

impl RateLimits {
    /// Counts one attempt for `key`; false when it goes over `per_minute` (0 means no limit).
    pub fn hit(&self, key: &str, per_minute: u32, now: Timestamp) -> bool {
        if per_minute == 0 {
            return true;
        }
        let window = now.millis().div_euclid(WINDOW_MS);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (w, _)| *w == window);
        }
        let slot = map.entry(key.to_owned()).or_insert((window, 0));
        if slot.0 != window {
            *slot = (window, 0);
        }
        slot.1 += 1;
        slot.1 <= per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_budget_per_minute_and_then_a_new_one() {
        let limits = RateLimits::default();
        let t = Timestamp::from_millis(0);
        assert!((0..3).all(|_| limits.hit("k", 3, t)));
        assert!(!limits.hit("k", 3, t));
        assert!(limits.hit("other", 3, t), "keys are independent");
        assert!(limits.hit("k", 3, t.plus_secs(60)), "a new minute, a new budget");
        assert!((0..100).all(|_| limits.hit("free", 0, t)), "0 means no limit");
    }
}
