//! Reading the stream log: the streams and shards there are, a shard's records from a
//! position, and waiting for new ones (woken by commits, not by polling).
//!
//! It owns those reads; it must not know the Streams wire API (`src/streams.rs`
//! builds the JSON) nor the writer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::catalog::{TableDef, TableRef};
use crate::error::{Error, Result};
use crate::state::State;
use crate::stream::def::StreamDef;
use crate::stream::record::{StreamRecord, decode_record, record_key, seq_of_key};
use crate::stream::registry::CommitListener;
use crate::sync::{lock, read, write};

/// Where a shard's records start and (when the stream is disabled) end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard: u16,
    pub starting_seq: u64,
    /// Set once the shard is closed (its stream disabled).
    pub ending_seq: Option<u64>,
}

/// One read of a shard.
#[derive(Debug, Clone, Default)]
pub struct ShardRead {
    pub records: Vec<StreamRecord>,
    /// The position to read from next (the first sequence number not yet read).
    pub next_seq: u64,
    /// The shard is closed and everything in it has been read.
    pub drained: bool,
}

/// All streams, optionally of one table, ordered by id (creation order).
pub(crate) fn list_streams(state: &State, table: Option<&str>) -> Vec<Arc<StreamDef>> {
    read(&state.streams.defs)
        .values()
        .filter(|d| table.is_none_or(|t| d.table_name == t))
        .cloned()
        .collect()
}

pub(crate) fn stream(state: &State, id: u32) -> Option<Arc<StreamDef>> {
    read(&state.streams.defs).get(&id).cloned()
}

/// The stream's ARN.
pub(crate) fn stream_arn(state: &State, def: &StreamDef) -> String {
    format!("{}/stream/{}", state.table_arn(&def.table_name), def.label)
}

/// Resolves a stream ARN of this engine.
pub(crate) fn stream_by_arn(state: &State, arn: &str) -> Option<Arc<StreamDef>> {
    let (table_part, label) = arn.rsplit_once("/stream/")?;
    let table = table_part.rsplit_once(":table/")?.1;
    read(&state.streams.defs)
        .values()
        .find(|d| d.table_name == table && d.label == label && stream_arn(state, d) == arn)
        .cloned()
}

/// The current enabled stream of a table, if any.
pub(crate) fn table_stream(table: &TableRef) -> Option<Arc<StreamDef>> {
    read(&table.stats.stream).clone()
}

/// The latest stream of a table (enabled or not), for DescribeTable.
pub(crate) fn latest_stream(state: &State, table: &TableDef) -> Option<Arc<StreamDef>> {
    read(&state.streams.defs)
        .values()
        .filter(|d| d.table_id == table.id)
        .max_by_key(|d| d.id)
        .cloned()
}

/// The shards of a stream with their sequence-number ranges.
pub(crate) fn stream_shards(state: &State, def: &StreamDef) -> Result<Vec<ShardInfo>> {
    let mut out = Vec::with_capacity(usize::from(def.shards));
    for shard in 0..def.shards {
        let ending_seq = def.disabled_ms.map(|_| shard_head(state, def, shard));
        // A shard starts at its oldest readable record: Eddy's shards outlive the
        // retention of their records (DynamoDB's shards do not), and a client reading
        // from a shard's StartingSequenceNumber must not be told it is trimmed.
        out.push(ShardInfo {
            shard,
            starting_seq: trim_horizon(state, def, shard),
            ending_seq,
        });
    }
    Ok(out)
}

/// The newest committed sequence number of a shard (the stream's start when empty).
pub(crate) fn shard_head(state: &State, def: &StreamDef, shard: u16) -> u64 {
    read(&state.streams.heads)
        .get(&(def.id, shard))
        .copied()
        .unwrap_or(def.start_seq)
}

/// The smallest sequence number of a shard still readable.
pub(crate) fn trim_horizon(state: &State, def: &StreamDef, shard: u16) -> u64 {
    lock(&state.streams.trim_horizons)
        .get(&(def.id, shard))
        .copied()
        .unwrap_or(def.start_seq + 1)
}

/// The position just after everything committed so far (a LATEST iterator).
pub(crate) fn latest_position(state: &State) -> u64 {
    state.committed_seq.load(Ordering::Acquire) + 1
}

/// Reads up to `limit` records (and about `bytes_max` bytes) of a shard, starting
/// at the first record whose sequence number is `>= from_seq`. Reading a position
/// that retention has already trimmed is `Error::TrimmedDataAccess`.
pub(crate) fn read_shard(
    state: &State,
    def: &StreamDef,
    shard: u16,
    from_seq: u64,
    limit: usize,
    bytes_max: usize,
) -> Result<ShardRead> {
    if shard >= def.shards {
        return Err(Error::not_found(
            "Requested resource not found: Shard does not exist",
        ));
    }
    if from_seq < trim_horizon(state, def, shard) {
        return Err(Error::TrimmedDataAccess(
            "The operation attempted to read past the oldest stream record in a shard.".into(),
        ));
    }
    let from = record_key(def.id, shard, from_seq);
    let end = record_key(def.id, shard, u64::MAX);
    let mut out = ShardRead {
        records: Vec::new(),
        next_seq: from_seq,
        drained: false,
    };
    let mut bytes = 0usize;
    for kv in state.records.range(from..=end) {
        if out.records.len() >= limit || bytes >= bytes_max {
            return Ok(out);
        }
        let (k, v) = kv.into_inner()?;
        let seq = seq_of_key(&k)?;
        let v = state.seal.open(&k, v)?;
        bytes += v.len();
        out.records.push(decode_record(seq, &v)?);
        out.next_seq = seq + 1;
    }
    // Everything there is has been read; a closed shard is then drained. The
    // stream definition is re-read: it may have been disabled meanwhile, and no
    // record is written to a disabled stream, so nothing can follow.
    out.drained = stream(state, def.id).is_none_or(|d| !d.is_enabled())
        && out.next_seq > shard_head(state, def, shard);
    Ok(out)
}

/// Registers a callback run after every commit that wrote stream records.
pub(crate) fn on_stream_commit(state: &State, listener: CommitListener) {
    write(&state.streams.listeners).push(listener);
}

/// Blocks until the shard has a record with a sequence number `>= from_seq`, or
/// `timeout` passes. Returns whether such a record exists. Woken by commits, not by
/// polling.
pub(crate) fn wait_for_records(
    state: &State,
    def: &StreamDef,
    shard: u16,
    from_seq: u64,
    timeout: Duration,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    let mut commits = lock(&state.streams.commits);
    loop {
        if shard_head(state, def, shard) >= from_seq {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        commits = match state
            .streams
            .commit_signal
            .wait_timeout(commits, deadline - now)
        {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
}
