//! A small in-process read cache for the two reads every open page repeats while it polls: its
//! session and its job's status.
//!
//! Entries live a short, fixed time so that a change made by *another* process sharing the
//! database shows within that time; changes made by this process forget the entry at once. A
//! read that started before a change must not put the old value back after the change forgot it,
//! so every `forget` moves an epoch and `put` only stores a value read under the current epoch.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Taken before a read of the source of truth; a value read under an older epoch is not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    epoch: AtomicU64,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache { ttl, capacity, epoch: AtomicU64::new(0), entries: Mutex::new(HashMap::new()) }
    }

    /// A fresh value, if one is cached.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    /// Stores a value read under `epoch`, unless something was forgotten since.
    pub fn put(&self, epoch: Epoch, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `forget` also takes, so the two cannot interleave.
        if self.epoch.load(Ordering::Acquire) != epoch.0 {
            return;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn forget(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    pub fn forget_all(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> TtlCache<&'static str, u32> {
        TtlCache::new(Duration::from_secs(60), 2)
    }

    #[test]
    fn a_stored_value_is_answered_until_forgotten() {
        let c = cache();
        c.put(c.epoch(), "job", 1);
        assert_eq!(c.get(&"job"), Some(1));
        c.forget(&"job");
        assert_eq!(c.get(&"job"), None);
    }

    #[test]
    fn a_value_read_before_a_change_is_not_stored_after_it() {
        let c = cache();
        let before = c.epoch();
        c.forget(&"job"); // the change commits and forgets while the old value is being read
        c.put(before, "job", 1);
        assert_eq!(c.get(&"job"), None);
        c.put(c.epoch(), "job", 2);
        assert_eq!(c.get(&"job"), Some(2));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = TtlCache::new(Duration::ZERO, 8);
        c.put(c.epoch(), "job", 1);
        assert_eq!(c.get(&"job"), None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let c = cache();
        for (i, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            c.put(c.epoch(), key, i as u32);
        }
        assert!(c.entries.lock().unwrap().len() <= 2);
        assert_eq!(c.get(&"d"), Some(3));
    }

    #[test]
    fn forget_all_empties_it() {
        let c = cache();
        c.put(c.epoch(), "a", 1);
        c.forget_all();
        assert_eq!(c.get(&"a"), None);
    }
}
