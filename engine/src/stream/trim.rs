//! Retention: deleting records older than the retention period and forgetting
//! disabled streams once they are past it, on a background thread writers never wait
//! for. The same thread expires old client request tokens (`transact.rs`).
//!
//! It owns the trim horizons' advance; it must not know the readers.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::state::State;
use crate::stream::def::{StreamDef, stream_meta_key, trim_key};
use crate::stream::record::{seq_of_key, shard_prefix};
use crate::sync::{lock, read, write};
use crate::writer::staging::Staging;

/// Deletes records older than the retention period, and forgets disabled streams
/// once they are past retention. Runs on its own thread; writers never wait for it.
pub(crate) fn trim_streams(state: &State) -> Result<()> {
    const TRIM_CHUNK_RECORDS_MAX: usize = 10_000;
    let retention = state.config.stream_retention_ms;
    let cutoff = now_ms().saturating_sub(retention);
    let cutoff_us = cutoff.saturating_mul(1000);
    let defs: Vec<Arc<StreamDef>> = read(&state.streams.defs).values().cloned().collect();
    for def in defs {
        for shard in 0..def.shards {
            let mut batch = Staging::default();
            let mut horizon = None;
            for (removed, kv) in state
                .records
                .prefix(shard_prefix(def.id, shard))
                .enumerate()
            {
                let (k, v) = kv.into_inner()?;
                let v = state.seal.open(&k, v)?;
                let created = v
                    .get(2..10)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| Error::Storage("corrupt stream record".into()))?;
                if created >= cutoff_us || removed >= TRIM_CHUNK_RECORDS_MAX {
                    break;
                }
                horizon = Some(seq_of_key(&k)? + 1);
                batch.remove(&state.records, k);
            }
            if let Some(h) = horizon {
                batch.insert(&state.meta, trim_key(def.id, shard), h.to_be_bytes());
                // Readers must see the new horizon no later than the records vanish.
                lock(&state.streams.trim_horizons).insert((def.id, shard), h);
                state.commit_outside(batch, None, "trimming a stream")?;
            }
        }
        if let Some(disabled) = def.disabled_ms
            && disabled < cutoff
            && (0..def.shards).all(|s| {
                state
                    .records
                    .prefix(shard_prefix(def.id, s))
                    .next()
                    .is_none()
            })
        {
            let mut batch = Staging::default();
            batch.remove(&state.meta, stream_meta_key(def.id));
            for s in 0..def.shards {
                batch.remove(&state.meta, trim_key(def.id, s));
            }
            state.commit_outside(batch, None, "forgetting a stream")?;
            write(&state.streams.defs).remove(&def.id);
        }
    }
    Ok(())
}

/// Starts the background trimmer (called once by `Engine::open`). It also expires
/// the durable client request tokens (`transact.rs`).
pub(crate) fn start_trimmer(state: &Arc<State>) {
    let interval = Duration::from_millis((state.config.stream_retention_ms / 8).clamp(100, 60_000));
    state.spawn_periodic("eddy-trim", interval, |state| {
        if let Err(e) = trim_streams(state) {
            eprintln!("eddy: stream trim failed: {e}");
        }
        if let Err(e) = crate::transact::expire_client_tokens(state) {
            eprintln!("eddy: client request token expiry failed: {e}");
        }
        true
    });
}
