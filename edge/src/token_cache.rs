//! A bounded map of verified tokens, keyed by the SHA-256 of the token and dropped at `exp`.

use std::collections::{HashMap, VecDeque};

/// At most `capacity` entries; the oldest entry goes first when full. Entries are never
/// returned at or after their expiry time.
#[derive(Debug)]
pub struct TokenCache<V> {
    capacity: usize,
    /// Value, expiry and the insertion number of the entry.
    entries: HashMap<[u8; 32], (V, i64, u64)>,
    /// Keys in insertion order with their insertion numbers; an item whose number no longer
    /// matches its entry is a leftover of a removed entry.
    order: VecDeque<([u8; 32], u64)>,
    inserted: u64,
    /// Bumped by every [`clear`](Self::clear).
    generation: u64,
}

/// The cache key of a token: its SHA-256.
pub type TokenKey = [u8; 32];

/// The cache key of a token.
pub fn token_key(token: &str) -> TokenKey {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

impl<V> TokenCache<V> {
    /// An empty cache holding at most `capacity` tokens (0: nothing is kept).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
            inserted: 0,
            generation: 0,
        }
    }

    /// The entry for `key` if it has not expired at `now` (seconds).
    pub fn get(&mut self, key: &[u8; 32], now: i64) -> Option<&V> {
        let expired = self.entries.get(key).is_some_and(|(_, exp, _)| now >= *exp);
        if expired {
            self.entries.remove(key);
            return None;
        }
        self.entries.get(key).map(|(v, _, _)| v)
    }

    /// Keeps `value` until `expires_at` (seconds).
    pub fn insert(&mut self, key: [u8; 32], value: V, expires_at: i64) {
        if self.capacity == 0 {
            return;
        }
        self.inserted += 1;
        if self.entries.remove(&key).is_none() {
            while self.entries.len() >= self.capacity {
                let Some((old, number)) = self.order.pop_front() else {
                    break;
                };
                if self.entries.get(&old).is_some_and(|(_, _, n)| *n == number) {
                    self.entries.remove(&old);
                }
            }
        }
        self.entries.insert(key, (value, expires_at, self.inserted));
        self.order.push_back((key, self.inserted));
        // Leftovers of entries removed by `get` or replaced stay until popped; bound them.
        if self.order.len() > self.capacity * 2 {
            let entries = &self.entries;
            self.order
                .retain(|(k, n)| entries.get(k).is_some_and(|(_, _, m)| m == n));
        }
    }

    /// Forgets everything (new keys or a new bundle).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.generation += 1;
    }

    /// Which [`clear`](Self::clear) the cache is at. A value computed while the cache was at
    /// one generation (a token verified with keys, mapped with a gate) is stale after a clear.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Keeps `value` until `expires_at`, unless the cache was cleared since `generation`
    /// was read: a token verified during a key refresh or a bundle update is not kept.
    pub fn insert_from(&mut self, generation: u64, key: [u8; 32], value: V, expires_at: i64) {
        if generation == self.generation {
            self.insert(key, value, expires_at);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_oldest_goes_first() {
        let mut cache = TokenCache::new(2);
        let (a, b, c) = (token_key("a"), token_key("b"), token_key("c"));
        cache.insert(a, 1, 100);
        cache.insert(b, 2, 100);
        assert_eq!(cache.get(&a, 99), Some(&1));
        assert_eq!(cache.get(&a, 100), None, "gone at exp");
        cache.insert(a, 1, 100);
        cache.insert(c, 3, 100);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&b, 0), None, "b was the oldest");
        assert_eq!(cache.get(&c, 0), Some(&3));
        cache.clear();
        assert!(cache.is_empty());
        let mut off = TokenCache::new(0);
        off.insert(a, 1, 100);
        assert_eq!(off.get(&a, 0), None);
    }

    #[test]
    fn a_value_from_before_a_clear_is_not_kept() {
        let mut cache = TokenCache::new(4);
        let key = token_key("a");
        let before = cache.generation();
        cache.clear();
        cache.insert_from(before, key, 1, 100);
        assert_eq!(cache.get(&key, 0), None, "computed before the clear");
        cache.insert_from(cache.generation(), key, 2, 100);
        assert_eq!(cache.get(&key, 0), Some(&2));
    }

    #[test]
    fn churn_keeps_bookkeeping_bounded() {
        let mut cache = TokenCache::new(4);
        for i in 0..1000 {
            let key = token_key(&i.to_string());
            cache.insert(key, i, 10);
            assert_eq!(cache.get(&key, 20), None);
        }
        assert!(cache.order.len() <= 8);
    }
}
