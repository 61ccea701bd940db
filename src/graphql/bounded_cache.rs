//! A map of bounded size for the GraphQL caches (parsed documents, persisted queries): it never
//! holds more than so many entries nor more than so many bytes, and evicts the least recently used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Keyed by text sent by clients, so the hasher stays std's keyed SipHash: a client cannot
/// choose keys that collide.
pub struct BoundedCache<V> {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    slots: HashMap<Box<str>, Slot<V>>,
    /// The weights of the slots, added up.
    bytes: usize,
    /// Counts uses; a slot remembers the count at its last use.
    clock: u64,
}

struct Slot<V> {
    value: Arc<V>,
    weight: usize,
    last_used: u64,
}

impl<V> BoundedCache<V> {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries: max_entries.max(1),
            max_bytes,
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                bytes: 0,
                clock: 0,
            }),
        }
    }

    /// The value under `key`, marked as just used.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.slots.get_mut(key)?;
        slot.last_used = now;
        Some(Arc::clone(&slot.value))
    }

    /// Whether `key` is held, without marking it as used.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().slots.contains_key(key)
    }

    /// Keeps `value` under `key`, weighing the key's length plus `weight` bytes, and evicts the
    /// least recently used entries until both bounds hold. An entry heavier than the whole
    /// cache may hold is not kept; `false` says so.
    pub fn insert(&self, key: &str, value: V, weight: usize) -> bool {
        let weight = key.len().saturating_add(weight);
        if weight > self.max_bytes {
            return false;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.slots.remove(key) {
            inner.bytes -= old.weight;
        }
        while inner.slots.len() >= self.max_entries || inner.bytes + weight > self.max_bytes {
            if !inner.evict_least_recently_used() {
                break;
            }
        }
        inner.clock += 1;
        let last_used = inner.clock;
        inner.bytes += weight;
        inner.slots.insert(
            key.into(),
            Slot {
                value: Arc::new(value),
                weight,
                last_used,
            },
        );
        true
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// The weights of the entries held, added up.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Nothing held here is left half-changed by a panic (each change is a single map
    /// operation and a sum), so a poisoned lock is still good to use.
    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V> Inner<V> {
    /// A linear scan: the caches hold a few hundred entries, and only a miss inserts.
    fn evict_least_recently_used(&mut self) -> bool {
        let oldest = self
            .slots
            .iter()
            .min_by_key(|(_, slot)| slot.last_used)
            .map(|(key, _)| key.clone());
        let Some(key) = oldest else {
            return false;
        };
        if let Some(slot) = self.slots.remove(&key) {
            self.bytes -= slot.weight;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let cache = BoundedCache::new(2, 1_000);
        cache.insert("a", 1, 0);
        cache.insert("b", 2, 0);
        assert_eq!(cache.get("a").as_deref(), Some(&1));
        cache.insert("c", 3, 0);

        assert_eq!(cache.len(), 2);
        assert!(cache.contains("a"));
        assert!(!cache.contains("b"), "b was used least recently");
        assert!(cache.contains("c"));
    }

    #[test]
    fn the_byte_bound_holds_and_an_entry_too_heavy_is_not_kept() {
        let cache = BoundedCache::new(100, 30);
        assert!(cache.insert("a", (), 9)); // 10 bytes
        assert!(cache.insert("b", (), 9));
        assert!(cache.insert("c", (), 9));
        assert!(cache.insert("d", (), 9));
        assert_eq!(cache.bytes(), 30);
        assert!(!cache.contains("a"));

        assert!(!cache.insert("huge", (), 100));
        assert!(!cache.contains("huge"));
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn inserting_a_key_again_replaces_it_and_its_weight() {
        let cache = BoundedCache::new(10, 100);
        cache.insert("a", 1, 50);
        cache.insert("a", 2, 10);
        assert_eq!(cache.bytes(), 11);
        assert_eq!(cache.get("a").as_deref(), Some(&2));
    }
}
