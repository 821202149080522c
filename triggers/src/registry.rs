//! The registry of definitions: stream triggers and schedules alike are definitions
//! kept as JSON under system keys of the engine, loaded at start, and changed one at a
//! time under one control lock.
//!
//! Owns the storage of definitions (persist, load, erase), the in-memory table of live
//! entries (get, list, insert, remove), the quota check and the control lock. Must not
//! know what a definition means, what threads an entry runs, or how it is shown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_engine::Engine;
use eddy_engine::sync::lock;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::TriggerError;

/// A kind of stored definition: its JSON form, its system keys and its words in
/// messages.
pub(crate) trait Definition: Serialize + DeserializeOwned {
    /// The kind, lower case, as messages name it (`trigger`, `schedule`).
    const KIND: &'static str;
    /// The kind as a "not found" message starts (`Trigger`, `Schedule`).
    const TITLE: &'static str;
    /// The system-key prefix every definition of this kind (and its state) lives under.
    const PREFIX: &'static str;

    /// The system key of the definition called `name`.
    fn key(name: &str) -> Vec<u8>;

    /// The prefix of everything else stored for `name` (checkpoints, window state),
    /// erased with it; `None` when a definition has no other state.
    fn state_prefix(_name: &str) -> Option<Vec<u8>> {
        None
    }

    /// Whether a key under [`Definition::PREFIX`] holds a definition (and not state).
    fn is_key(_key: &[u8]) -> bool {
        true
    }
}

/// A live entry of a registry: what runs for one definition.
pub(crate) trait Entry: Send + Sync {
    type Def: Definition;
}

/// The definitions of one kind and their live entries.
pub(crate) struct Registry<E: Entry> {
    engine: Engine,
    entries: Mutex<BTreeMap<String, Arc<E>>>,
    /// Serializes changes (create, update, delete, shutdown): a name or count check and
    /// the change that relies on it are one step, and an update that stops and starts
    /// an entry's threads never overlaps another.
    control: Mutex<()>,
    /// The most entries kept; one more is refused.
    entries_max: usize,
}

impl<E: Entry> Registry<E> {
    pub(crate) fn new(engine: Engine, entries_max: usize) -> Registry<E> {
        Registry {
            engine,
            entries: Mutex::new(BTreeMap::new()),
            control: Mutex::new(()),
            entries_max,
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Every stored definition, in key order.
    pub(crate) fn load(&self) -> Result<Vec<E::Def>, TriggerError> {
        let stored = self
            .engine
            .system_scan(<E::Def as Definition>::PREFIX.as_bytes())?;
        stored
            .into_iter()
            .filter(|(k, _)| <E::Def as Definition>::is_key(k))
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|source| TriggerError::Corrupt {
                    kind: <E::Def as Definition>::KIND,
                    source,
                })
            })
            .collect()
    }

    /// Stores a definition (durably: it must survive a crash once acknowledged).
    pub(crate) fn persist(&self, name: &str, def: &E::Def) -> Result<(), TriggerError> {
        let bytes = serde_json::to_vec(def).map_err(|source| TriggerError::Encode {
            kind: <E::Def as Definition>::KIND,
            source,
        })?;
        self.engine
            .system_put(&<E::Def as Definition>::key(name), &bytes)?;
        Ok(())
    }

    /// Deletes a stored definition and its state.
    pub(crate) fn erase(&self, name: &str) -> Result<(), TriggerError> {
        self.engine
            .system_delete(&<E::Def as Definition>::key(name))?;
        if let Some(prefix) = <E::Def as Definition>::state_prefix(name) {
            for (k, _) in self.engine.system_scan(&prefix)? {
                self.engine.system_delete(&k)?;
            }
        }
        Ok(())
    }

    /// The control lock: hold it for the whole of a change.
    pub(crate) fn change(&self) -> MutexGuard<'_, ()> {
        lock(&self.control)
    }

    pub(crate) fn insert(&self, name: String, entry: Arc<E>) {
        lock(&self.entries).insert(name, entry);
    }

    pub(crate) fn remove(&self, name: &str) -> Option<Arc<E>> {
        lock(&self.entries).remove(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        lock(&self.entries).contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Result<Arc<E>, TriggerError> {
        lock(&self.entries).get(name).cloned().ok_or_else(|| {
            TriggerError::NotFound(format!(
                "{} not found: {name}",
                <E::Def as Definition>::TITLE
            ))
        })
    }

    /// A snapshot of every entry (the lock is not held while callers use them).
    pub(crate) fn all(&self) -> Vec<Arc<E>> {
        lock(&self.entries).values().cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Refuses one more entry when the registry is full.
    pub(crate) fn check_room(&self) -> Result<(), TriggerError> {
        let count = self.len();
        if count >= self.entries_max {
            return Err(TriggerError::LimitExceeded(format!(
                "{count} {kind}s exist, the most this server keeps ({max}): delete one before \
                 creating another",
                kind = <E::Def as Definition>::KIND,
                max = self.entries_max,
            )));
        }
        Ok(())
    }
}
