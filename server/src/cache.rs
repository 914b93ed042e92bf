//! A small in-process read cache for the two reads every open page repeats while it polls: its
//! session and its job's status.
//!
//! Entries live a short, fixed time so that a change made by *another* process sharing the
//! database shows within that time; changes made by this process forget the entry at once. A
//! read that started before a change must not put the old value back after the change forgot it,
//! so every `forget` moves an epoch and `put` only stores a value read under the current epoch.
//!
//! When an entry goes stale, the first reader refreshes it and the others keep the stale value
//! meanwhile (for at most another `ttl`), so that a busy key costs one read per `ttl` instead of
//! one per waiting poll at the moment it expires.

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
    entries: Mutex<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    stored: Instant,
    value: V,
    /// When a reader set out to refresh this stale entry.
    refreshing: Option<Instant>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache { ttl, capacity, epoch: AtomicU64::new(0), entries: Mutex::new(HashMap::new()) }
    }

    /// A fresh value; or a stale one while another reader refreshes it. `None` tells the caller
    /// to read the source of truth (and `put` what it read).
    pub fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(key)?;
        if entry.stored.elapsed() < self.ttl {
            return Some(entry.value.clone());
        }
        // A refresh that failed or was dropped stops counting after `ttl`; then the next reader goes.
        if entry.refreshing.is_some_and(|since| since.elapsed() < self.ttl) {
            return Some(entry.value.clone());
        }
        entry.refreshing = Some(Instant::now());
        None
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
            entries.retain(|_, e| e.stored.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, Entry { stored: Instant::now(), value, refreshing: None });
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
    fn while_one_reader_refreshes_a_stale_entry_the_others_get_the_stale_value() {
        let c = TtlCache::new(Duration::from_millis(50), 8);
        c.put(c.epoch(), "job", 1);
        std::thread::sleep(Duration::from_millis(60));
        let epoch = c.epoch();
        assert_eq!(c.get(&"job"), None, "the first reader refreshes");
        assert_eq!(c.get(&"job"), Some(1), "the others are not sent to the database meanwhile");
        c.put(epoch, "job", 2);
        assert_eq!(c.get(&"job"), Some(2));
        // A refresh that never comes back is given up after the ttl.
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&"job"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&"job"), None, "the abandoned refresh is taken over");
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
