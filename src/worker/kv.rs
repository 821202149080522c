//! The state workers share in JetStream KV buckets: the lanes' checkpoints and
//! tumbling-window state ([`KvLaneStore`]) and the buckets themselves.
//!
//! Buckets: `EDDY_CHECKPOINTS` (`ckpt.<unit>`: the position after the last handled
//! record, a JetStream stream sequence, 8 bytes big-endian; `win.<unit>`: the open
//! window's JSON), `EDDY_LEASES` (`lease.<unit>`: the owning worker's id) and
//! `EDDY_WORKERS` (`worker.<id>`: its heartbeat). A unit is
//! `<trigger>.<lanes>.<shard>.<lane>`: with the trigger's `ParallelizationFactor`
//! (`lanes`) in it, a new factor makes new units, whose lanes start at the oldest
//! checkpoint of the old ones on their shard, as the in-process runtime restarts them.
//!
//! Owns the buckets' names and the checkpoint's compare-and-set. Must not know which
//! worker owns what (that is `leases.rs`) nor delivery.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::kv;
use bytes::Bytes;
use eddy_triggers::stream::{LaneId, LaneStore};

use super::lock;

/// How long one KV operation may take before it counts as failed.
pub(super) const KV_TIMEOUT_MS: u64 = 3_000;

/// Compare-and-set rounds of one checkpoint write before it gives up (another writer
/// keeps moving it; the next batch writes again).
const CHECKPOINT_CAS_ROUNDS_MAX: u32 = 8;

/// Why a compare-and-set write did not happen.
#[derive(Debug)]
pub(super) enum Cas {
    /// The key is not at the revision expected (or exists, for a create): someone else
    /// wrote it.
    Conflict,
    /// NATS did not do it (away, timed out, refused).
    Failed(String),
}

impl std::fmt::Display for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cas::Conflict => f.write_str("the key was written by another worker"),
            Cas::Failed(e) => f.write_str(e),
        }
    }
}

/// Writes `value` at `key` if the key is at `revision` (`None`: if it has no value).
pub(super) async fn cas(
    store: &kv::Store,
    key: &str,
    value: Bytes,
    revision: Option<u64>,
) -> Result<u64, Cas> {
    match revision {
        Some(revision) => store.update(key, value, revision).await.map_err(|e| {
            if e.kind() == kv::UpdateErrorKind::WrongLastRevision {
                Cas::Conflict
            } else {
                Cas::Failed(e.to_string())
            }
        }),
        None => store.create(key, value).await.map_err(|e| {
            if e.kind() == kv::CreateErrorKind::AlreadyExists {
                Cas::Conflict
            } else {
                Cas::Failed(e.to_string())
            }
        }),
    }
}

/// [`cas`] bounded by [`KV_TIMEOUT_MS`], from a plain thread.
pub(super) fn cas_blocking(
    handle: &tokio::runtime::Handle,
    store: &kv::Store,
    key: &str,
    value: Bytes,
    revision: Option<u64>,
) -> Result<u64, Cas> {
    handle.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(KV_TIMEOUT_MS),
            cas(store, key, value, revision),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Cas::Failed(format!(
                "NATS did not answer within {KV_TIMEOUT_MS} ms"
            )))
        })
    })
}

/// The buckets of one region, created if missing.
pub(super) struct Buckets {
    pub checkpoints: kv::Store,
    pub leases: kv::Store,
    pub workers: kv::Store,
}

/// A bucket's name: `EDDY_<what>` (trigger ids are unique across regions).
fn bucket(what: &str) -> String {
    format!("EDDY_{what}")
}

impl Buckets {
    pub(super) async fn open(js: &jetstream::Context) -> Result<Buckets, String> {
        let open = |what: &'static str| {
            let name = bucket(what);
            let js = js.clone();
            async move {
                if let Ok(store) = js.get_key_value(&name).await {
                    return Ok(store);
                }
                js.create_key_value(kv::Config {
                    bucket: name.clone(),
                    history: 1,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("KV bucket {name}: {e}"))
            }
        };
        Ok(Buckets {
            checkpoints: open("CHECKPOINTS").await?,
            leases: open("LEASES").await?,
            workers: open("WORKERS").await?,
        })
    }
}

/// A lane's key in the checkpoints and leases buckets:
/// `<trigger>.<lanes>.<shard>.<lane>`, `lanes` being the trigger's
/// `ParallelizationFactor`.
pub(super) fn unit_key(trigger: &str, lanes: u32, shard: u16, lane: u32) -> String {
    format!("{trigger}.{lanes}.{shard}.{lane}")
}

/// Checkpoints and window state in the checkpoints bucket. A checkpoint never moves
/// backwards: each write is a compare-and-set on the key's revision that leaves a
/// larger stored position as it is (a worker that lost a lane may still finish a batch
/// after the new owner moved on).
pub(super) struct KvLaneStore {
    pub handle: tokio::runtime::Handle,
    pub store: kv::Store,
    /// The trigger's `ParallelizationFactor` whose lanes this store keeps.
    lanes: u32,
    /// The last revision and position this process wrote or read, per key: the next
    /// write tries that revision first, so it usually takes one round trip.
    known: Mutex<HashMap<String, (u64, u64)>>,
}

impl KvLaneStore {
    pub(super) fn new(handle: tokio::runtime::Handle, store: kv::Store, lanes: u32) -> KvLaneStore {
        KvLaneStore {
            handle,
            store,
            lanes,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, what: &str, lane: LaneId<'_>) -> String {
        format!(
            "{what}.{}",
            unit_key(lane.trigger, self.lanes, lane.shard, lane.lane)
        )
    }

    /// The checkpoint of lane `lane` as the trigger had it with `lanes` lanes per shard.
    pub(super) fn checkpoint_with(&self, lanes: u32, lane: LaneId<'_>) -> Option<u64> {
        let key = format!(
            "ckpt.{}",
            unit_key(lane.trigger, lanes, lane.shard, lane.lane)
        );
        self.read_checkpoint(&key).ok().flatten().map(|(_, p)| p)
    }

    fn block<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        self.handle.block_on(async {
            tokio::time::timeout(Duration::from_millis(KV_TIMEOUT_MS), f)
                .await
                .map_err(|_| format!("NATS did not answer within {KV_TIMEOUT_MS} ms"))?
        })
    }

    /// The stored checkpoint and its revision.
    fn read_checkpoint(&self, key: &str) -> Result<Option<(u64, u64)>, String> {
        let entry = self.block(async {
            self.store
                .entry(key.to_owned())
                .await
                .map_err(|e| e.to_string())
        })?;
        Ok(entry.and_then(|e| {
            let pos = e.value.as_ref().try_into().ok().map(u64::from_be_bytes)?;
            matches!(e.operation, kv::Operation::Put).then_some((e.revision, pos))
        }))
    }

    /// Stores a lane's first position unless one is stored already; returns the
    /// stored one.
    pub(super) fn init_checkpoint(&self, lane: LaneId<'_>, pos: u64) -> Result<u64, String> {
        let key = self.key("ckpt", lane);
        if let Some((_, stored)) = self.read_checkpoint(&key)? {
            return Ok(stored);
        }
        let value = Bytes::copy_from_slice(&pos.to_be_bytes());
        match cas_blocking(&self.handle, &self.store, &key, value, None) {
            Ok(_) => Ok(pos),
            // Another worker stored one first: theirs stands.
            Err(Cas::Conflict) => self
                .read_checkpoint(&key)?
                .map(|(_, p)| p)
                .ok_or_else(|| format!("cannot store the first checkpoint of {key}")),
            Err(Cas::Failed(e)) => Err(e),
        }
    }
}

impl LaneStore for KvLaneStore {
    fn load_checkpoint(&self, lane: LaneId<'_>) -> Option<u64> {
        let key = self.key("ckpt", lane);
        let found = self.read_checkpoint(&key).ok().flatten()?;
        lock(&self.known).insert(key, found);
        Some(found.1)
    }

    fn save_checkpoint(&self, lane: LaneId<'_>, pos: u64) -> Result<(), String> {
        let key = self.key("ckpt", lane);
        let value = Bytes::copy_from_slice(&pos.to_be_bytes());
        let mut known = lock(&self.known).get(&key).copied();
        for _ in 0..CHECKPOINT_CAS_ROUNDS_MAX {
            if let Some((_, stored)) = known
                && stored > pos
            {
                // Another owner got further: never move it back.
                return Ok(());
            }
            let written = cas_blocking(
                &self.handle,
                &self.store,
                &key,
                value.clone(),
                known.map(|(revision, _)| revision),
            );
            match written {
                Ok(revision) => {
                    lock(&self.known).insert(key, (revision, pos));
                    return Ok(());
                }
                Err(Cas::Conflict) => known = self.read_checkpoint(&key)?,
                Err(Cas::Failed(e)) => return Err(e),
            }
        }
        Err(format!(
            "the checkpoint {key} kept changing under {CHECKPOINT_CAS_ROUNDS_MAX} writes"
        ))
    }

    fn load_window(&self, lane: LaneId<'_>) -> Option<Vec<u8>> {
        let key = self.key("win", lane);
        self.block(async { self.store.get(key).await.map_err(|e| e.to_string()) })
            .ok()
            .flatten()
            .filter(|v| !v.is_empty())
            .map(|v| v.to_vec())
    }

    fn save_window(&self, lane: LaneId<'_>, json: Option<&[u8]>) -> Result<(), String> {
        let key = self.key("win", lane);
        self.block(async {
            match json {
                Some(json) => self
                    .store
                    .put(&key, Bytes::copy_from_slice(json))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => self.store.delete(&key).await.map_err(|e| e.to_string()),
            }
        })
    }
}
