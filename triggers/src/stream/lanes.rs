//! The consumers' seams beyond the record source: where a lane keeps its durable state
//! ([`LaneStore`]: the checkpoint and the tumbling window's state) and where a batch
//! that is given up goes ([`FailureSink`]: the failure destination table), and what a
//! consumer is handed to run ([`LaneDeps`]).
//!
//! The in-process runtime uses the embedded engine for both ([`EngineLaneStore`],
//! [`EngineFailureSink`]); a trigger worker in another process (`eddy worker`) keeps
//! its lanes' state in NATS JetStream and writes failed batches to Eddy over HTTP.
//! Must not know delivery semantics, mappings' registry, HTTP or NATS.

use std::sync::Arc;

use eddy_engine::{Engine, Item, KeySchema, PutItemInput};

use super::mapping::{checkpoint_key, window_key};
use crate::executor::{Executor, FunctionStore, TableApi};

/// One lane of one trigger: the unit that owns a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LaneId<'a> {
    pub trigger: &'a str,
    pub shard: u16,
    pub lane: u32,
}

/// Where a lane's durable state lives: its checkpoint (the position after the last
/// handled record) and its open tumbling window (the window's JSON).
pub trait LaneStore: Send + Sync {
    /// The stored checkpoint, if any.
    fn load_checkpoint(&self, lane: LaneId<'_>) -> Option<u64>;

    /// Stores the checkpoint. A store shared by several processes must never move it
    /// backwards (a lane that lost its ownership may still finish a batch).
    fn save_checkpoint(&self, lane: LaneId<'_>, pos: u64) -> Result<(), String>;

    /// The stored window state (its JSON), if any.
    fn load_window(&self, lane: LaneId<'_>) -> Option<Vec<u8>>;

    /// Stores (`Some`) or removes (`None`) the window state.
    fn save_window(&self, lane: LaneId<'_>, json: Option<&[u8]>) -> Result<(), String>;
}

/// Where failed batches go: a table that receives one item per failed batch.
pub trait FailureSink: Send + Sync {
    /// The key schema of the destination table (its item key is built from it).
    fn key_schema(&self, table: &str) -> Result<KeySchema, String>;

    /// Writes one item into the destination table (replacing one with its key).
    fn put(&self, table: &str, item: Item) -> Result<(), String>;
}

/// What every consumer of a runtime is handed: the executor and functions, the
/// functions' table capability, the lanes' state and the failure destination, and the
/// names of the region and account (in the failure records' ARNs).
pub struct LaneDeps {
    pub executor: Executor,
    pub functions: Arc<FunctionStore>,
    pub tables: Arc<dyn TableApi>,
    pub store: Arc<dyn LaneStore>,
    pub failures: Arc<dyn FailureSink>,
    pub region: String,
    pub account_id: String,
}

impl std::fmt::Debug for LaneDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneDeps")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Lane state in the embedded engine's system keys.
pub struct EngineLaneStore {
    pub engine: Engine,
}

impl LaneStore for EngineLaneStore {
    fn load_checkpoint(&self, lane: LaneId<'_>) -> Option<u64> {
        load_engine_checkpoint(&self.engine, lane.trigger, lane.shard, lane.lane)
    }

    fn save_checkpoint(&self, lane: LaneId<'_>, pos: u64) -> Result<(), String> {
        let key = checkpoint_key(lane.trigger, lane.shard, lane.lane);
        // Not fsync'd: a checkpoint lost in a crash only means records are delivered
        // again (at-least-once), and a per-batch fsync would cap throughput. Writes
        // reach the journal in order, so a recovered checkpoint is never ahead of a
        // handled batch.
        self.engine
            .system_put_relaxed(&key, &pos.to_be_bytes())
            .map_err(|e| e.to_string())
    }

    fn load_window(&self, lane: LaneId<'_>) -> Option<Vec<u8>> {
        self.engine
            .system_get(&window_key(lane.trigger, lane.shard, lane.lane))
            .ok()?
    }

    fn save_window(&self, lane: LaneId<'_>, json: Option<&[u8]>) -> Result<(), String> {
        let key = window_key(lane.trigger, lane.shard, lane.lane);
        match json {
            Some(json) => self.engine.system_put_relaxed(&key, json),
            None => self.engine.system_delete(&key),
        }
        .map_err(|e| e.to_string())
    }
}

/// A lane's checkpoint in the engine's system keys.
pub(crate) fn load_engine_checkpoint(
    engine: &Engine,
    id: &str,
    shard: u16,
    lane: u32,
) -> Option<u64> {
    engine
        .system_get(&checkpoint_key(id, shard, lane))
        .ok()
        .flatten()
        .and_then(|v| v.as_slice().try_into().ok())
        .map(u64::from_be_bytes)
}

/// Failed batches written into a table of the embedded engine.
pub struct EngineFailureSink {
    pub engine: Engine,
}

impl FailureSink for EngineFailureSink {
    fn key_schema(&self, table: &str) -> Result<KeySchema, String> {
        self.engine
            .table_def(table)
            .map(|def| def.key_schema)
            .map_err(|e| e.to_string())
    }

    fn put(&self, table: &str, item: Item) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.engine.put_item(
            PutItemInput {
                table: table.to_string(),
                item,
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| "the engine stopped".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
