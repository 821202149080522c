//! The item cache: stored items (or their absence) by storage key, so that reading a
//! hot item skips the LSM tree's lookup. Bounded by bytes, evicted by `quick_cache`'s
//! CLOCK-Pro policy.
//!
//! It must never serve a value older than the newest committed write of its key
//! (reads are always strongly consistent). The writer thread keeps it so:
//!
//! - Before committing a group it calls [`ItemCache::begin_write`] for every key the
//!   group writes: the key's entry goes, and its gate (one of [`GATES`], by key hash)
//!   counts one more write in flight and moves to a new epoch.
//! - After the commit, [`ItemCache::end_write`] puts the committed values in and
//!   closes the writes, again moving the epoch.
//! - A reader that misses takes a [`Ticket`] before reading the tree, and fills the
//!   entry afterwards only if its gate saw no write at all in between (same epoch,
//!   none in flight). So a reader that raced a write never puts back what it read
//!   before the write; it just does not fill.
//!
//! This module knows nothing about tables or the encoding; it holds opaque keys and
//! [`StoredItem`]s.

use std::sync::Mutex;

use quick_cache::sync::{Cache, DefaultLifecycle};
use xxhash_rust::xxh3::{Xxh3Builder, xxh3_64};

use crate::stored::StoredItem;
use crate::sync::lock;

/// Gates that order cache fills against writes; more gates mean fewer fills skipped
/// because an unrelated key of the same gate was being written.
pub const GATES: usize = 256;

/// Bytes an entry is charged on top of its key and value (the cache's own node, the
/// key's and value's headers).
const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// What an entry weighs: its key, its value and the overhead.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Vec<u8>, Option<StoredItem>> for Weight {
    fn weight(&self, key: &Vec<u8>, value: &Option<StoredItem>) -> u64 {
        let value = value.as_ref().map_or(0, StoredItem::encoded_len);
        (key.len() + value) as u64 + ENTRY_OVERHEAD_BYTES
    }
}

#[derive(Default)]
struct Gate {
    /// Moves on every begin and end of a write through this gate.
    epoch: u64,
    /// Writes begun and not yet ended.
    writing: u32,
}

/// Permission to fill one key's entry with what a read found, if no write of its gate
/// began or ended since the ticket was taken.
pub(crate) struct Ticket {
    gate: usize,
    epoch: u64,
}

pub(crate) struct ItemCache {
    /// `None` when the cache is off (a capacity of 0).
    entries: Option<Cache<Vec<u8>, Option<StoredItem>, Weight, Xxh3Builder>>,
    gates: Box<[Mutex<Gate>]>,
}

impl ItemCache {
    /// A cache of at most `capacity_bytes` (0 turns it off).
    pub(crate) fn new(capacity_bytes: u64) -> ItemCache {
        // The estimate only sizes the cache's tables; assume ~1 KiB entries.
        let estimated_items = usize::try_from(capacity_bytes / 1024).unwrap_or(usize::MAX);
        let entries = (capacity_bytes > 0).then(|| {
            Cache::with(
                estimated_items.max(16),
                capacity_bytes,
                Weight,
                Xxh3Builder::new(),
                DefaultLifecycle::default(),
            )
        });
        ItemCache {
            entries,
            gates: (0..GATES).map(|_| Mutex::default()).collect(),
        }
    }

    fn gate_of(key: &[u8]) -> usize {
        (xxh3_64(key) % GATES as u64) as usize
    }

    /// The cached value of `key`: `Some(None)` when the key is known to be absent,
    /// `None` on a miss.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<StoredItem>> {
        self.entries.as_ref()?.get(key)
    }

    /// Takes a ticket to fill `key` after reading it, unless a write of its gate is in
    /// flight (what the read finds may then be outdated by the time it is filled).
    pub(crate) fn ticket(&self, key: &[u8]) -> Option<Ticket> {
        self.entries.as_ref()?;
        let gate = Self::gate_of(key);
        let g = lock(&self.gates[gate]);
        (g.writing == 0).then_some(Ticket {
            gate,
            epoch: g.epoch,
        })
    }

    /// Fills `key` with what a read under `ticket` found, unless a write went through
    /// its gate since. The entry is a copy ([`StoredItem::detached`]): a read from a
    /// table file is a view into its whole data block, which the cache must not keep.
    pub(crate) fn fill(&self, key: &[u8], ticket: Ticket, value: Option<&StoredItem>) {
        let Some(entries) = &self.entries else { return };
        let g = lock(&self.gates[ticket.gate]);
        if g.epoch == ticket.epoch && g.writing == 0 {
            entries.insert(key.to_vec(), value.map(StoredItem::detached));
        }
    }

    /// Called by the writer before it commits a write of `key`.
    pub(crate) fn begin_write(&self, key: &[u8]) {
        let Some(entries) = &self.entries else { return };
        let mut g = lock(&self.gates[Self::gate_of(key)]);
        g.writing += 1;
        g.epoch += 1;
        entries.remove(key);
    }

    /// Called by the writer after the commit of a write begun with `begin_write`:
    /// `value` is what the key now holds, or `Err(())` if the commit failed (the entry
    /// stays out; the next read fills it).
    pub(crate) fn end_write(&self, key: Vec<u8>, value: Result<Option<StoredItem>, ()>) {
        let Some(entries) = &self.entries else { return };
        let mut g = lock(&self.gates[Self::gate_of(&key)]);
        if let Ok(value) = value {
            entries.insert(key, value);
        }
        g.writing -= 1;
        g.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{AttributeValue, Item};

    fn item(v: &str) -> StoredItem {
        StoredItem::encode(&Item::from([(
            "pk".to_string(),
            AttributeValue::S(v.into()),
        )]))
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_fill() {
        let cache = ItemCache::new(1 << 20);
        let ticket = cache.ticket(b"k").unwrap();
        // The write begins and ends while the read is out.
        cache.begin_write(b"k");
        cache.end_write(b"k".to_vec(), Ok(Some(item("new"))));
        cache.fill(b"k", ticket, Some(&item("old")));
        assert_eq!(cache.get(b"k"), Some(Some(item("new"))));
    }

    #[test]
    fn no_ticket_while_a_write_is_in_flight() {
        let cache = ItemCache::new(1 << 20);
        cache.begin_write(b"k");
        assert!(cache.ticket(b"k").is_none());
        assert_eq!(cache.get(b"k"), None);
        cache.end_write(b"k".to_vec(), Err(()));
        assert_eq!(cache.get(b"k"), None, "a failed commit leaves no entry");
        let ticket = cache.ticket(b"k").unwrap();
        cache.fill(b"k", ticket, None);
        assert_eq!(cache.get(b"k"), Some(None), "absence is cached too");
    }

    #[test]
    fn off_at_zero_capacity() {
        let cache = ItemCache::new(0);
        assert!(cache.ticket(b"k").is_none());
        cache.begin_write(b"k");
        cache.end_write(b"k".to_vec(), Ok(Some(item("v"))));
        assert_eq!(cache.get(b"k"), None);
    }

    #[test]
    fn bounded_by_bytes() {
        let cache = ItemCache::new(64 * 1024);
        for i in 0..10_000u32 {
            let key = i.to_be_bytes();
            let ticket = cache.ticket(&key).unwrap();
            cache.fill(&key, ticket, Some(&item(&"x".repeat(100))));
        }
        let cached = (0..10_000u32)
            .filter(|i| cache.get(&i.to_be_bytes()).is_some())
            .count();
        assert!(cached > 0 && cached < 1000, "{cached} entries cached");
    }
}
