//! The record path's seam: where a consumer reads change records from.
//!
//! Owns the [`StreamSource`] trait (read from a position, wait for new records, shard
//! lineage; its error is [`SourceError`], beside the crate's other errors) and its
//! implementation over the embedded engine ([`EngineSource`]). Another
//! source (NATS JetStream, a remote DynamoDB Streams endpoint) implements the same trait.
//! Must not know mappings, checkpoints or delivery.

use std::sync::Arc;
use std::time::Duration;

use eddy_engine::{Engine, Error as EngineError, StreamDef, StreamRecord};

pub use crate::error::SourceError;

/// Records read in one call while searching for a timestamp.
const POSITION_SEARCH_RECORDS_MAX: usize = 1000;

/// One shard of a stream and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceShard {
    pub shard: u16,
    /// The shard this one continues (its records come after the parent's). The
    /// embedded engine's shards are fixed for a stream's life and have none.
    pub parent: Option<u16>,
}

/// Records of one shard from a position.
#[derive(Debug)]
pub struct SourceRead {
    pub records: Vec<StreamRecord>,
    /// The position to read from next.
    pub next: u64,
    /// The shard is closed and everything in it has been read.
    pub drained: bool,
}

/// A stream of change records, read by position, shard by shard.
pub trait StreamSource: Send + Sync {
    /// The stream with this id, if it still exists.
    fn stream(&self, id: u32) -> Option<Arc<StreamDef>>;

    /// The shards of a stream, parents before their children.
    fn shards(&self, stream: &StreamDef) -> Vec<SourceShard>;

    /// The oldest readable position of a shard.
    fn trim_horizon(&self, stream: &StreamDef, shard: u16) -> u64;

    /// The position just after everything written so far.
    fn latest(&self) -> u64;

    /// Up to `limit` records (about `bytes_max` bytes) of a shard from position `from`.
    fn read(
        &self,
        stream: &StreamDef,
        shard: u16,
        from: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<SourceRead, SourceError>;

    /// Waits until the shard has a record at or after `from`, or `timeout` passes.
    /// Returns whether one exists.
    fn wait(&self, stream: &StreamDef, shard: u16, from: u64, timeout: Duration) -> bool;

    /// The shard's id as DynamoDB Streams names it (in failure records, recent errors
    /// and tumbling-window events).
    fn shard_id(&self, stream: &StreamDef, shard: u16) -> String {
        stream.shard_id(shard)
    }

    /// The `SequenceNumber` of the record at position `pos`, as the function saw it.
    fn sequence_number(&self, pos: u64) -> String {
        eddy_engine::format_sequence_number(pos)
    }

    /// The first position at or after `ms` (epoch milliseconds) in a shard.
    fn position_at(&self, stream: &StreamDef, shard: u16, ms: u64) -> Result<u64, SourceError> {
        let mut pos = self.trim_horizon(stream, shard);
        loop {
            let read = self.read(stream, shard, pos, POSITION_SEARCH_RECORDS_MAX, usize::MAX)?;
            if let Some(r) = read
                .records
                .iter()
                .find(|r| r.created_us >= ms.saturating_mul(1000))
            {
                return Ok(r.seq);
            }
            if read.records.is_empty() {
                return Ok(pos);
            }
            pos = read.next;
        }
    }
}

/// The embedded engine's stream log as a [`StreamSource`]: reads are range scans, and
/// waits are woken by commits (no poll interval).
#[derive(Clone)]
pub struct EngineSource {
    engine: Engine,
}

impl EngineSource {
    pub fn new(engine: Engine) -> EngineSource {
        EngineSource { engine }
    }
}

impl std::fmt::Debug for EngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSource").finish_non_exhaustive()
    }
}

impl StreamSource for EngineSource {
    fn stream(&self, id: u32) -> Option<Arc<StreamDef>> {
        self.engine.stream(id)
    }

    fn shards(&self, stream: &StreamDef) -> Vec<SourceShard> {
        (0..stream.shards)
            .map(|shard| SourceShard {
                shard,
                parent: None,
            })
            .collect()
    }

    fn trim_horizon(&self, stream: &StreamDef, shard: u16) -> u64 {
        self.engine.trim_horizon(stream, shard)
    }

    fn latest(&self) -> u64 {
        self.engine.latest_position()
    }

    fn read(
        &self,
        stream: &StreamDef,
        shard: u16,
        from: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<SourceRead, SourceError> {
        match self
            .engine
            .read_shard(stream, shard, from, limit, bytes_max)
        {
            Ok(r) => Ok(SourceRead {
                records: r.records,
                next: r.next_seq,
                drained: r.drained,
            }),
            Err(EngineError::TrimmedDataAccess(_)) => Err(SourceError::Trimmed),
            Err(e) => Err(SourceError::Unavailable(Box::new(e))),
        }
    }

    fn wait(&self, stream: &StreamDef, shard: u16, from: u64, timeout: Duration) -> bool {
        self.engine.wait_for_records(stream, shard, from, timeout)
    }
}
