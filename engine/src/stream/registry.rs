//! Stream state the engine keeps in memory: every definition, each shard's head and
//! trim horizon, and the listeners told of each commit; loaded from `meta` and the
//! `streams` keyspace on open, and kept by the writer and the trimmer.
//!
//! It owns that state and waking readers after a commit; it must not know the shared
//! state or any operation.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::stream::def::StreamDef;
use crate::stream::record::{seq_of_key, shard_prefix};
use crate::sync::{lock, read, write};

/// Stream state the engine keeps in memory, shared by the writer and readers.
#[derive(Default)]
pub(crate) struct StreamRegistry {
    /// All streams, enabled or disabled-but-retained, by id.
    pub defs: std::sync::RwLock<std::collections::BTreeMap<u32, Arc<StreamDef>>>,
    /// Per shard: the smallest sequence number still readable.
    pub trim_horizons: std::sync::Mutex<HashMap<(u32, u16), u64>>,
    /// Per shard: the sequence number of the newest committed record.
    pub heads: std::sync::RwLock<HashMap<(u32, u16), u64>>,
    /// Bumped after every commit that wrote records; readers wait on it.
    pub commits: std::sync::Mutex<u64>,
    pub commit_signal: std::sync::Condvar,
    /// Called after every commit that wrote records, with the shards that grew.
    pub listeners: std::sync::RwLock<Vec<CommitListener>>,
}

/// A callback run on the writer thread after records commit; it must be quick (wake a
/// task, send on a channel).
pub type CommitListener = Arc<dyn Fn(&[ShardHead]) + Send + Sync>;

/// A shard and its newest committed sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHead {
    pub stream_id: u32,
    pub shard: u16,
    pub seq: u64,
}

impl StreamRegistry {
    pub(crate) fn load(
        meta: &fjall::Keyspace,
        records: &fjall::Keyspace,
    ) -> Result<StreamRegistry> {
        let reg = StreamRegistry::default();
        for kv in meta.prefix(b"stream/") {
            let (_, v) = kv.into_inner()?;
            let def = StreamDef::decode(&v)?;
            for shard in 0..def.shards {
                if let Some(kv) = records.prefix(shard_prefix(def.id, shard)).next_back() {
                    let k = kv.key()?;
                    write(&reg.heads).insert((def.id, shard), seq_of_key(&k)?);
                }
            }
            write(&reg.defs).insert(def.id, Arc::new(def));
        }
        for kv in meta.prefix(b"trim/") {
            let (k, v) = kv.into_inner()?;
            let stream = u32::from_be_bytes(
                k.get(5..9)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| Error::Storage("corrupt trim key".into()))?,
            );
            let shard = u16::from_be_bytes(
                k.get(9..11)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| Error::Storage("corrupt trim key".into()))?,
            );
            let seq = u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::Storage("corrupt trim value".into()))?,
            );
            lock(&reg.trim_horizons).insert((stream, shard), seq);
        }
        Ok(reg)
    }

    /// After a commit: publish the shards' new heads and wake readers.
    pub(crate) fn publish_heads(&self, heads: &[ShardHead]) {
        if heads.is_empty() {
            return;
        }
        {
            let mut h = write(&self.heads);
            for s in heads {
                h.insert((s.stream_id, s.shard), s.seq);
            }
        }
        *lock(&self.commits) += 1;
        self.commit_signal.notify_all();
        for l in read(&self.listeners).iter() {
            l(heads);
        }
    }
}
