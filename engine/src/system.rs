//! Durable key-value state for other subsystems (the trigger runtime keeps its
//! definitions and checkpoints here), in the `system` keyspace, so one data directory
//! holds everything and one fsync policy covers it.
//!
//! With an encryption key the values are sealed like items (`seal.rs`): they hold
//! access keys' secrets, trigger definitions and window state; keys stay in clear.
//!
//! It owns the bounds of a system key and value; it must not know what the keys mean.

use crate::error::{Error, Result};
use crate::state::State;
use crate::writer::staging::Staging;

/// Writes a key durably (fsync'd unless the store is in-memory or buffered).
/// A key or value the storage layer cannot hold is an [`Error::Validation`]
/// (`keys::check_storage_key`), never a panic inside fjall.
pub(crate) fn system_put(state: &State, key: &[u8], value: &[u8]) -> Result<()> {
    let value = state.seal.seal(key, &value.into());
    check_system_entry(key, &value)?;
    let mut staging = Staging::default();
    staging.insert(&state.system, key, value);
    state.commit_outside(staging, state.sync_mode(), "storing a system key")
}

/// Writes a key without waiting for the disk: it survives a crash of the process
/// only once a later synced write (or the OS) flushed it. For state whose loss is
/// harmless, such as a trigger checkpoint (a lost one means a redelivery, which
/// at-least-once allows).
pub(crate) fn system_put_relaxed(state: &State, key: &[u8], value: &[u8]) -> Result<()> {
    let value = state.seal.seal(key, &value.into());
    check_system_entry(key, &value)?;
    let mut staging = Staging::default();
    staging.insert(&state.system, key, value);
    state.commit_outside(staging, None, "storing a system key")
}

/// Writes `puts` and removes `deletes` in one atomic, durable commit: after a crash
/// either all of them happened or none did (a remote stream's mirror commits its
/// records with the remote position they reach, and trims what every consumer passed).
pub(crate) fn system_batch(
    state: &State,
    puts: &[(Vec<u8>, Vec<u8>)],
    deletes: &[Vec<u8>],
) -> Result<()> {
    let mut staging = Staging::default();
    for (key, value) in puts {
        let value = state.seal.seal(key, &value.as_slice().into());
        check_system_entry(key, &value)?;
        staging.insert(&state.system, key, value);
    }
    for key in deletes {
        crate::keys::check_storage_key(key)?;
        staging.remove(&state.system, key);
    }
    state.commit_outside(staging, state.sync_mode(), "writing system keys")
}

pub(crate) fn system_get(state: &State, key: &[u8]) -> Result<Option<Vec<u8>>> {
    crate::keys::check_storage_key(key)?;
    match state.system.get(key)? {
        Some(v) => Ok(Some(state.seal.open(key, v)?.to_vec())),
        None => Ok(None),
    }
}

pub(crate) fn system_delete(state: &State, key: &[u8]) -> Result<()> {
    crate::keys::check_storage_key(key)?;
    let mut staging = Staging::default();
    staging.remove(&state.system, key);
    state.commit_outside(staging, state.sync_mode(), "deleting a system key")
}

/// All keys with a prefix, in order. The empty prefix is every key; a prefix
/// longer than a key can be is an error (it would bound a range read).
pub(crate) fn system_scan(state: &State, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if !prefix.is_empty() {
        crate::keys::check_storage_key(prefix)?;
    }
    let mut out = Vec::new();
    for kv in state.system.prefix(prefix) {
        let (k, v) = kv.into_inner()?;
        let v = state.seal.open(&k, v)?;
        out.push((k.to_vec(), v.to_vec()));
    }
    Ok(out)
}

/// Checks a `system` entry against the storage layer's bounds.
fn check_system_entry(key: &[u8], value: &[u8]) -> Result<()> {
    crate::keys::check_storage_key(key)?;
    if value.len() > crate::limits::STORAGE_VALUE_BYTES_MAX {
        return Err(Error::validation(format!(
            "a value of {} bytes is longer than the {} bytes the storage layer accepts",
            value.len(),
            crate::limits::STORAGE_VALUE_BYTES_MAX
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Engine, EngineConfig, Error};

    #[test]
    fn a_batch_writes_and_removes_together_and_a_bad_key_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(dir.path());
        config.in_memory = true;
        let engine = Engine::open(config).unwrap();
        engine.system_put(b"m/old", b"1").unwrap();
        let puts = vec![
            (b"m/a".to_vec(), b"a".to_vec()),
            (b"m/b".to_vec(), b"b".to_vec()),
        ];
        engine.system_batch(&puts, &[b"m/old".to_vec()]).unwrap();
        let keys: Vec<Vec<u8>> = engine
            .system_scan(b"m/")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"m/a".to_vec(), b"m/b".to_vec()]);

        // An empty key is refused before anything is staged: neither put happens.
        let bad = vec![
            (b"m/c".to_vec(), b"c".to_vec()),
            (Vec::new(), b"x".to_vec()),
        ];
        match engine.system_batch(&bad, &[b"m/a".to_vec()]) {
            Err(Error::Validation(_)) => {}
            other => panic!("an empty key fails the batch, got {other:?}"),
        }
        assert_eq!(engine.system_get(b"m/c").unwrap(), None);
        assert_eq!(engine.system_get(b"m/a").unwrap(), Some(b"a".to_vec()));
    }
}
