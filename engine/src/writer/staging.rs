//! The batch every write to fjall is built in, by the writer and by the writes made
//! outside it alike, with each key and value checked against the storage layer's
//! bounds as it is staged.
//!
//! It owns those bounds checks; it must not know what the keys mean.

use fjall::{Database, Keyspace, PersistMode, UserKey, UserValue};

use crate::error::{Error, Result};
use crate::health::JOURNAL_ENTRY_OVERHEAD_BYTES;
use crate::limits::{STORAGE_KEY_BYTES_MAX, STORAGE_KEY_BYTES_MIN, STORAGE_VALUE_BYTES_MAX};

/// One job's (or one outside write's) keys and values, each checked against the
/// storage layer's bounds as it is staged: fjall asserts (panics) on a key that is
/// empty or longer than [`STORAGE_KEY_BYTES_MAX`], and a panic in the middle of
/// filling a batch would leave half a job in it. An offending key or value is not
/// staged; [`Staging::check`] then fails the job. The method names and argument types
/// are fjall's batch's, so code that stages writes reads the same.
#[derive(Default)]
pub(crate) struct Staging {
    ops: Vec<(Keyspace, UserKey, Option<UserValue>)>,
    /// What the ops will take in the journal, roughly (for the disk guard).
    bytes: u64,
    /// The first key or value out of bounds.
    fault: Option<String>,
}

impl Staging {
    pub(crate) fn insert<K: Into<UserKey>, V: Into<UserValue>>(
        &mut self,
        keyspace: &Keyspace,
        key: K,
        value: V,
    ) {
        self.stage(keyspace, key.into(), Some(value.into()));
    }

    pub(crate) fn remove<K: Into<UserKey>>(&mut self, keyspace: &Keyspace, key: K) {
        self.stage(keyspace, key.into(), None);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// What the ops will take in the journal, roughly (for the disk guard).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Takes a completed job's ops into this (the group's) staging.
    pub(crate) fn absorb(&mut self, other: Staging) {
        self.ops.extend(other.ops);
        self.bytes += other.bytes;
    }

    fn stage(&mut self, keyspace: &Keyspace, key: UserKey, value: Option<UserValue>) {
        let value_len = value.as_ref().map_or(0, |v| v.len());
        if let Some(fault) = storage_bounds_fault(&key, value_len) {
            self.fault.get_or_insert(fault);
            return;
        }
        self.bytes += (key.len() + value_len) as u64 + JOURNAL_ENTRY_OVERHEAD_BYTES;
        self.ops.push((keyspace.clone(), key, value));
    }

    /// Fails if anything was out of bounds: the job is a bug's victim, not the client's
    /// (input checks refuse such keys before they reach the writer), and nothing of it
    /// is written.
    pub(crate) fn check(&mut self) -> Result<()> {
        match self.fault.take() {
            Some(fault) => Err(Error::Internal(format!(
                "{fault}; nothing of it was written"
            ))),
            None => Ok(()),
        }
    }

    /// A fjall batch of the staged ops (checked, so fjall's own asserts cannot fire).
    pub(crate) fn into_batch(
        self,
        db: &Database,
        durability: Option<PersistMode>,
    ) -> fjall::OwnedWriteBatch {
        let mut batch = fjall::OwnedWriteBatch::with_capacity(db.clone(), self.ops.len() + 1)
            .durability(durability);
        for (keyspace, key, value) in self.ops {
            match value {
                Some(value) => batch.insert(&keyspace, key, value),
                None => batch.remove(&keyspace, key),
            }
        }
        batch
    }
}

/// What is wrong with a key and a value's length for the storage layer, if anything
/// (see [`STORAGE_KEY_BYTES_MAX`]).
pub(crate) fn storage_bounds_fault(key: &[u8], value_len: usize) -> Option<String> {
    if !(STORAGE_KEY_BYTES_MIN..=STORAGE_KEY_BYTES_MAX).contains(&key.len()) {
        Some(format!(
            "a storage key of {} bytes is outside the storage layer's bounds ({STORAGE_KEY_BYTES_MIN} to {STORAGE_KEY_BYTES_MAX} bytes)",
            key.len()
        ))
    } else if value_len > STORAGE_VALUE_BYTES_MAX {
        Some(format!(
            "a stored value of {value_len} bytes is over the storage layer's bound of {STORAGE_VALUE_BYTES_MAX} bytes"
        ))
    } else {
        None
    }
}
