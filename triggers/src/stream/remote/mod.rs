//! Remote stream sources: a trigger whose records come from a DynamoDB Streams endpoint
//! other than this Eddy (AWS, another DynamoDB-compatible database, another Eddy).
//!
//! Design: a mirror. AWS sequence numbers have up to 40 digits and do not fit the
//! `u64` positions of [`StreamSource`], and every consumer room (checkpoints, windows,
//! bisecting, partial failures) speaks those positions. So a poller per mapping
//! (`poller.rs`) copies each remote shard's records, in order, into a durable local
//! mirror (system keys of the mapping), together with the remote position it reached;
//! the ordinary consumers read the mirror through [`RemoteSource`], whose positions are
//! dense local counters. The mirror keeps every record's wire JSON as the remote sent
//! it (plus the remote `eventSourceARN`), and [`RemoteSource`] is also the consumers'
//! [`EventCodec`]: the function sees the remote `eventID`s and `SequenceNumber`s.
//!
//! Owns the mirror's keys and reading it. Must not know HTTP or signing (the host's
//! [`StreamsApi`] sends the calls) nor delivery semantics.

mod attach;
mod poller;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use eddy_engine::sync::lock;
use eddy_engine::{
    AttributeValue, Engine, EventName, Item, KeyAttribute, KeySchema, KeyType, StreamDef,
    StreamRecord, StreamViewType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::render::EventCodec;
use super::source::{SourceError, SourceRead, SourceShard, StreamSource};

pub(crate) use poller::{Poller, describe_shards};

/// Positions of one mirrored shard start at `shard << SHARD_POSITION_BITS`, so that a
/// position alone names its shard (the codec gets a record's position, not its shard).
const SHARD_POSITION_BITS: u32 = 40;

/// AWS's DynamoDB Streams endpoint for a region: the default `SourceEndpoint` of a
/// remote stream ARN.
pub fn aws_endpoint(region: &str) -> String {
    format!("https://streams.dynamodb.{region}.amazonaws.com")
}

/// A DynamoDB Streams call failed: the service's error (`code` is the exception's
/// short name, e.g. `ExpiredIteratorException`), or no answer (`code` empty).
#[derive(Debug, Clone)]
pub struct RemoteError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for RemoteError {}

/// Sends DynamoDB Streams JSON calls (`DescribeStream`, `GetShardIterator`,
/// `GetRecords`) to an endpoint, signed with the server's own credentials. The host
/// implements it: this crate does not know HTTP.
pub trait StreamsApi: Send + Sync {
    /// One call: `operation` is the action name, `body` its JSON request.
    fn call(&self, endpoint: &str, operation: &str, body: &Value) -> Result<Value, RemoteError>;
}

/// A remote shard as the mirror keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ShardState {
    /// The remote `ShardId`.
    pub shard_id: String,
    pub parent_id: Option<String>,
    /// The remote `SequenceNumber` of the last mirrored record.
    pub last_seq: Option<String>,
    /// The mirror position the next record gets.
    pub next_pos: u64,
    /// The remote shard is closed and everything in it is mirrored.
    pub closed: bool,
    /// The first position still in the mirror (records every lane passed are removed);
    /// 0 before the first trim.
    #[serde(default)]
    pub trimmed_to: u64,
    /// For `LATEST`: the iterator taken when the mapping was created, used by the first
    /// poll so that records written between creating and polling are delivered (until
    /// it expires, 15 minutes on AWS; then the poller takes `LATEST` again).
    #[serde(default)]
    pub start_iterator: Option<String>,
}

impl ShardState {
    /// The first position the mirror still holds of shard number `shard`.
    pub(crate) fn horizon(&self, shard: u16) -> u64 {
        self.trimmed_to.max(shard_base(shard))
    }
}

/// The mirror's shards, in order of discovery (parents before their children).
pub(crate) fn shards_key(id: &str) -> Vec<u8> {
    format!("trigger/{id}/remote/shards").into_bytes()
}

/// Where the record at mirror position `pos` is kept.
pub(crate) fn record_key(id: &str, pos: u64) -> Vec<u8> {
    format!("trigger/{id}/remote/rec/{pos:020}").into_bytes()
}

/// The first mirror position of shard number `shard`.
pub(crate) fn shard_base(shard: u16) -> u64 {
    u64::from(shard) << SHARD_POSITION_BITS
}

pub(crate) fn load_shards(engine: &Engine, id: &str) -> Vec<ShardState> {
    engine
        .system_get(&shards_key(id))
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default()
}

/// A stream read from outside this engine, as the consumers need it: named after its
/// table, one shard per shard of the source (a remote mapping's mirrored shards, or a
/// trigger worker's JetStream subjects).
pub fn remote_stream_def(arn: &str, table_name: &str, shards: usize) -> StreamDef {
    StreamDef {
        id: 0,
        table_name: table_name.to_owned(),
        table_id: 0,
        label: arn.rsplit('/').next().unwrap_or_default().to_owned(),
        view_type: StreamViewType::NewAndOldImages,
        key_schema: KeySchema {
            hash: KeyAttribute {
                name: String::new(),
                key_type: KeyType::S,
            },
            range: None,
        },
        shards: u16::try_from(shards).unwrap_or(u16::MAX),
        created_ms: 0,
        start_seq: 0,
        disabled_ms: None,
    }
}

/// The mirror of one remote stream, read by the mapping's consumers.
pub(crate) struct RemoteSource {
    engine: Engine,
    id: String,
    stream: Arc<StreamDef>,
    /// The mapping's lanes per shard (its `ParallelizationFactor`): a child shard is
    /// read once every lane passed the end of its parent.
    lanes: u32,
    shards: Mutex<Vec<ShardState>>,
    /// Bumped (and waiters woken) whenever the poller mirrored records.
    changed: (Mutex<u64>, Condvar),
}

impl RemoteSource {
    pub(crate) fn new(
        engine: Engine,
        id: &str,
        stream: Arc<StreamDef>,
        lanes: u32,
    ) -> Arc<RemoteSource> {
        let shards = load_shards(&engine, id);
        Arc::new(RemoteSource {
            engine,
            id: id.to_owned(),
            stream,
            lanes,
            shards: Mutex::new(shards),
            changed: (Mutex::new(0), Condvar::new()),
        })
    }

    pub(crate) fn stream_def(&self) -> Arc<StreamDef> {
        Arc::clone(&self.stream)
    }

    /// The poller committed `shards` (after their records): consumers may read on.
    pub(crate) fn committed(&self, shards: Vec<ShardState>) {
        *lock(&self.shards) = shards;
        let (count, cv) = &self.changed;
        *lock(count) += 1;
        cv.notify_all();
    }

    fn shard_state(&self, shard: u16) -> Option<ShardState> {
        lock(&self.shards).get(usize::from(shard)).cloned()
    }

    /// Whether shard `shard` may be delivered: it has no parent in the mirror, or the
    /// parent is closed and every lane's checkpoint is past its last record, so a
    /// child's records never reach the function before its parent's.
    fn parent_delivered(&self, shard: u16) -> bool {
        let (parent, end) = {
            let shards = lock(&self.shards);
            let Some(pid) = shards
                .get(usize::from(shard))
                .and_then(|s| s.parent_id.clone())
            else {
                return true;
            };
            let Some((i, p)) = shards.iter().enumerate().find(|(_, o)| o.shard_id == pid) else {
                return true;
            };
            if !p.closed {
                return false;
            }
            (u16::try_from(i).unwrap_or(u16::MAX), p.next_pos)
        };
        (0..self.lanes.max(1)).all(|lane| {
            super::consumer::load_checkpoint(&self.engine, &self.id, parent, lane)
                .is_some_and(|c| c >= end)
        })
    }
}

/// The engine-side view of a mirrored record: what the consumer rooms use (position,
/// age, event name and a key for the lane split). The record's content stays in its
/// JSON, which [`RemoteSource`] writes as the codec.
fn decode(pos: u64, json: &[u8]) -> Option<StreamRecord> {
    let v: Value = serde_json::from_slice(json).ok()?;
    let d = &v["dynamodb"];
    let event_name = match v["eventName"].as_str()? {
        "INSERT" => EventName::Insert,
        "MODIFY" => EventName::Modify,
        _ => EventName::Remove,
    };
    let created_s = d["ApproximateCreationDateTime"].as_f64().unwrap_or(0.0);
    // The lane split hashes the record's keys: their JSON text, as one string, is as
    // stable per item as the typed keys would be.
    let mut keys = Item::new();
    keys.insert(String::new(), AttributeValue::S(d["Keys"].to_string()));
    Some(StreamRecord {
        seq: pos,
        event_name,
        created_us: (created_s * 1_000_000.0) as u64,
        view_type: StreamViewType::NewAndOldImages,
        size_bytes: d["SizeBytes"].as_u64().unwrap_or(json.len() as u64),
        hops: 0,
        by_ttl: false,
        keys,
        new_image: None,
        old_image: None,
    })
}

impl StreamSource for RemoteSource {
    fn stream(&self, _id: u32) -> Option<Arc<StreamDef>> {
        Some(self.stream_def())
    }

    fn shards(&self, _stream: &StreamDef) -> Vec<SourceShard> {
        let shards = lock(&self.shards);
        shards
            .iter()
            .enumerate()
            .map(|(i, s)| SourceShard {
                shard: u16::try_from(i).unwrap_or(u16::MAX),
                parent: s
                    .parent_id
                    .as_ref()
                    .and_then(|p| shards.iter().position(|o| &o.shard_id == p))
                    .and_then(|p| u16::try_from(p).ok()),
            })
            .collect()
    }

    fn trim_horizon(&self, _stream: &StreamDef, shard: u16) -> u64 {
        self.shard_state(shard)
            .map_or(shard_base(shard), |s| s.horizon(shard))
    }

    /// A remote mapping's `LATEST` was taken by the poller (its first iterator), so
    /// everything mirrored is after it: consumers start at their shard's beginning.
    fn latest(&self) -> u64 {
        0
    }

    fn read(
        &self,
        _stream: &StreamDef,
        shard: u16,
        from: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<SourceRead, SourceError> {
        let Some(state) = self.shard_state(shard) else {
            return Ok(SourceRead {
                records: Vec::new(),
                next: from,
                drained: true,
            });
        };
        if from < state.horizon(shard) {
            return Err(SourceError::Trimmed);
        }
        if !self.parent_delivered(shard) {
            return Ok(SourceRead {
                records: Vec::new(),
                next: from,
                drained: false,
            });
        }
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut pos = from;
        while pos < state.next_pos && records.len() < limit {
            let json = self
                .engine
                .system_get(&record_key(&self.id, pos))
                .map_err(|e| SourceError::Unavailable(Box::new(e)))?;
            let Some(json) = json else {
                // Mirrored records are removed only below every lane's checkpoint.
                return Err(SourceError::Trimmed);
            };
            bytes += json.len();
            if bytes > bytes_max && !records.is_empty() {
                break;
            }
            if let Some(r) = decode(pos, &json) {
                records.push(r);
            }
            pos += 1;
        }
        Ok(SourceRead {
            records,
            next: pos,
            drained: state.closed && pos >= state.next_pos,
        })
    }

    /// The remote `ShardId`.
    fn shard_id(&self, _stream: &StreamDef, shard: u16) -> String {
        self.shard_state(shard)
            .map_or_else(|| format!("shard-{shard}"), |s| s.shard_id)
    }

    /// The remote `SequenceNumber` of the mirrored record (a trimmed one keeps its
    /// mirror position).
    fn sequence_number(&self, pos: u64) -> String {
        self.engine
            .system_get(&record_key(&self.id, pos))
            .ok()
            .flatten()
            .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
            .and_then(|v| v["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned))
            .unwrap_or_else(|| pos.to_string())
    }

    fn wait(&self, _stream: &StreamDef, shard: u16, from: u64, timeout: Duration) -> bool {
        let has = |s: &RemoteSource| {
            s.shard_state(shard)
                .is_some_and(|st| st.next_pos > from || st.closed)
                && s.parent_delivered(shard)
        };
        if has(self) {
            return true;
        }
        let (count, cv) = &self.changed;
        let guard = lock(count);
        let _ = cv.wait_timeout(guard, timeout);
        has(self)
    }
}

impl EventCodec for RemoteSource {
    /// The record exactly as the remote sent it, with the remote stream's ARN.
    fn write_record(
        &self,
        record: &StreamRecord,
        _stream: &StreamDef,
        _event_source_arn: &str,
        out: &mut Vec<u8>,
    ) {
        match self.engine.system_get(&record_key(&self.id, record.seq)) {
            Ok(Some(json)) => out.extend_from_slice(&json),
            // Gone between the read and the rendering (only a trim can do that): an
            // empty object, which the function sees as a record without fields.
            _ => out.extend_from_slice(b"{}"),
        }
    }
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
