//! The stream log: one change record per real item modification, per hash shard,
//! written by the group-commit writer in the same fjall batch as the item, kept for the
//! retention period (24 h by default) and read through [`Engine::read_shard`].
//!
//! # Layout (format version 1)
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `streams` | `[stream_id u32][shard u16][seq u64]` (big-endian) | a record, below |
//! | `meta` | `b"stream/" + stream_id u32` | a [`StreamDef`] (version byte + postcard) |
//! | `meta` | `b"trim/" + stream_id u32 + shard u16` | `u64`: the shard's trim horizon |
//! | `meta` | `b"seq_hwm"` | `u64`: the highest sequence number ever assigned |
//!
//! A record is `[version 2][event u8: 1 INSERT, 2 MODIFY, 3 REMOVE, 4 REMOVE by TTL][created_us u64]`
//! `[view u8][size_bytes u32][hops u8]` then three length-prefixed (`u32`) sections: the keys,
//! the new image and the old image, each an item in the `codec.rs` format or empty
//! (length 0) when the view type leaves it out.
//!
//! Sequence numbers come from one counter per database, assigned by the writer in
//! commit order, so they strictly increase within every shard (and across shards).
//! On the wire a sequence number is `"1"` followed by the counter in 20 digits: a
//! 21-digit decimal that orders like the counter.
//!
//! This module knows nothing of the Streams wire API; `src/streams.rs` builds the JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{KeySchema, TableDef, TableRef};
use crate::clock::iso8601_ms;
use crate::codec::{decode_item, encode_item};
use crate::error::{Error, Result};
use crate::store::{Engine, Inner, Staging, lock, now_ms, read, write};
use crate::value::{Item, item_size_bytes};

/// Which images a stream record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::KeysOnly => "KEYS_ONLY",
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    pub fn parse(s: &str) -> Result<StreamViewType> {
        Ok(match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
                )));
            }
        })
    }

    fn tag(self) -> u8 {
        match self {
            StreamViewType::KeysOnly => 1,
            StreamViewType::NewImage => 2,
            StreamViewType::OldImage => 3,
            StreamViewType::NewAndOldImages => 4,
        }
    }

    fn from_tag(t: u8) -> Result<StreamViewType> {
        Ok(match t {
            1 => StreamViewType::KeysOnly,
            2 => StreamViewType::NewImage,
            3 => StreamViewType::OldImage,
            4 => StreamViewType::NewAndOldImages,
            _ => return Err(Error::Storage(format!("unknown stream view type {t}"))),
        })
    }
}

/// The kind of change a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// A stream as the catalog keeps it. Immutable except for `disabled_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamDef {
    pub id: u32,
    pub table_name: String,
    pub table_id: u32,
    /// ISO-8601 creation time with milliseconds, unique per table.
    pub label: String,
    pub view_type: StreamViewType,
    pub key_schema: KeySchema,
    pub shards: u16,
    pub created_ms: u64,
    /// Every record of this stream has a larger sequence number.
    pub start_seq: u64,
    /// When the stream was disabled (or its table deleted); its shards are closed.
    pub disabled_ms: Option<u64>,
}

const STREAM_DEF_VERSION: u8 = 1;
/// Version 2 added `hops`; version 1 records (without it) still decode, with 0 hops.
const RECORD_VERSION: u8 = 2;

impl StreamDef {
    /// The DynamoDB Streams id of one of this stream's shards
    /// (`shardId-<created ms, 20 digits>-<stream id><shard>`), stable for the stream's
    /// life and unique across streams of the same table.
    pub fn shard_id(&self, shard: u16) -> String {
        format!(
            "shardId-{:020}-{:08x}{:04x}",
            self.created_ms, self.id, shard
        )
    }

    /// A definition that cannot be encoded is an [`Error::Internal`] of the change
    /// that would store it: an empty payload must never be written in its place.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![STREAM_DEF_VERSION];
        out.extend(postcard::to_stdvec(self).map_err(|e| {
            Error::Internal(format!("cannot encode stream {}: {e}", self.id))
        })?);
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<StreamDef> {
        match bytes.split_first() {
            Some((&STREAM_DEF_VERSION, rest)) => postcard::from_bytes(rest)
                .map_err(|e| Error::Storage(format!("corrupt stream definition: {e}"))),
            _ => Err(Error::Storage("unknown stream definition version".into())),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.disabled_ms.is_none()
    }
}

/// One change record as the engine reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub seq: u64,
    pub event_name: EventName,
    /// Commit time in microseconds since the epoch (iterator age is measured from it).
    pub created_us: u64,
    pub view_type: StreamViewType,
    pub size_bytes: u64,
    /// Trigger invocations that led to this change (0 for a client's write).
    pub hops: u8,
    /// A REMOVE made by the Time to Live sweeper (see `ttl.rs`), which the wire reports
    /// as the TTL service's `userIdentity`.
    pub by_ttl: bool,
    pub keys: Item,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
}

/// The wire form of a sequence number: `"1"` and the counter in 20 digits.
pub fn format_sequence_number(seq: u64) -> String {
    format!("1{seq:020}")
}

/// Parses a wire sequence number; `None` when it is not one Eddy issued.
pub fn parse_sequence_number(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('1')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The storage key of a record.
pub(crate) fn record_key(stream_id: u32, shard: u16, seq: u64) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..4].copy_from_slice(&stream_id.to_be_bytes());
    k[4..6].copy_from_slice(&shard.to_be_bytes());
    k[6..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn shard_prefix(stream_id: u32, shard: u16) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..4].copy_from_slice(&stream_id.to_be_bytes());
    k[4..].copy_from_slice(&shard.to_be_bytes());
    k
}

fn seq_of_key(key: &[u8]) -> Result<u64> {
    let b: [u8; 8] = key
        .get(6..14)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Storage("corrupt stream record key".into()))?;
    Ok(u64::from_be_bytes(b))
}

/// Builds the stored record of one change, with the images the view type asks for.
/// Returns `None` when nothing changed.
pub(crate) fn encode_record(
    view: StreamViewType,
    key_names: &[&str],
    old: Option<&Item>,
    new: Option<&Item>,
    created_us: u64,
    hops: u8,
    by_ttl: bool,
) -> Option<Vec<u8>> {
    let (event, source) = match (old, new) {
        (None, Some(n)) => (EventName::Insert, n),
        (Some(_), Some(n)) => (EventName::Modify, n),
        (Some(o), None) => (EventName::Remove, o),
        (None, None) => return None,
    };
    let keys: Item = key_names
        .iter()
        .filter_map(|k| source.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let with_new = matches!(
        view,
        StreamViewType::NewImage | StreamViewType::NewAndOldImages
    );
    let with_old = matches!(
        view,
        StreamViewType::OldImage | StreamViewType::NewAndOldImages
    );
    let new = new.filter(|_| with_new);
    let old = old.filter(|_| with_old);
    let size =
        item_size_bytes(&keys) + new.map_or(0, item_size_bytes) + old.map_or(0, item_size_bytes);
    let mut out = Vec::with_capacity(32 + size * 2);
    out.push(RECORD_VERSION);
    out.push(match event {
        EventName::Insert => 1,
        EventName::Modify => 2,
        EventName::Remove if by_ttl => 4,
        EventName::Remove => 3,
    });
    out.extend(created_us.to_be_bytes());
    out.push(view.tag());
    out.extend(u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes());
    out.push(hops);
    for section in [Some(&keys), new, old] {
        match section {
            Some(item) => {
                let bytes = encode_item(item);
                out.extend(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend(bytes);
            }
            None => out.extend(0u32.to_be_bytes()),
        }
    }
    Some(out)
}

/// Decodes a stored record; corrupt bytes are an error, never a panic.
pub(crate) fn decode_record(seq: u64, bytes: &[u8]) -> Result<StreamRecord> {
    let corrupt = || Error::Storage("corrupt stream record".into());
    let mut r = bytes;
    let mut take = |n: usize| -> Result<&[u8]> {
        if r.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = r.split_at(n);
        r = rest;
        Ok(head)
    };
    let version = take(1)?[0];
    if version != RECORD_VERSION && version != 1 {
        return Err(Error::Storage("unknown stream record version".into()));
    }
    let (event_name, by_ttl) = match take(1)?[0] {
        1 => (EventName::Insert, false),
        2 => (EventName::Modify, false),
        3 => (EventName::Remove, false),
        4 => (EventName::Remove, true),
        _ => return Err(corrupt()),
    };
    let created_us = u64::from_be_bytes(take(8)?.try_into().map_err(|_| corrupt())?);
    let view_type = StreamViewType::from_tag(take(1)?[0])?;
    let size_bytes = u64::from(u32::from_be_bytes(
        take(4)?.try_into().map_err(|_| corrupt())?,
    ));
    let hops = if version >= 2 { take(1)?[0] } else { 0 };
    let mut sections = [None, None, None];
    for s in &mut sections {
        let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
        if len > 0 {
            *s = Some(decode_item(take(len)?)?);
        }
    }
    let [keys, new_image, old_image] = sections;
    Ok(StreamRecord {
        seq,
        event_name,
        created_us,
        view_type,
        size_bytes,
        hops,
        by_ttl,
        keys: keys.ok_or_else(corrupt)?,
        new_image,
        old_image,
    })
}

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
}

fn trim_key(stream_id: u32, shard: u16) -> Vec<u8> {
    [
        b"trim/".as_slice(),
        &stream_id.to_be_bytes(),
        &shard.to_be_bytes(),
    ]
    .concat()
}

fn stream_meta_key(id: u32) -> Vec<u8> {
    [b"stream/".as_slice(), &id.to_be_bytes()].concat()
}

/// Stream control, run on the writer thread so it is ordered with item writes.
impl Inner {
    /// Creates and enables a new stream for `table` (in the batch being built).
    pub(crate) fn enable_stream(
        &self,
        table: &TableRef,
        view: StreamViewType,
        batch: &mut Staging,
    ) -> Result<Arc<StreamDef>> {
        let id = self.allocate_id(b"next_stream_id", batch)?;
        let mut created_ms = now_ms();
        // Labels must be unique per table: never reuse a millisecond.
        let defs = read(&self.streams.defs);
        while defs
            .values()
            .any(|d| d.table_name == table.def.name && d.created_ms >= created_ms)
        {
            created_ms += 1;
        }
        drop(defs);
        let def = Arc::new(StreamDef {
            id,
            table_name: table.def.name.clone(),
            table_id: table.def.id,
            label: iso8601_ms(created_ms),
            view_type: view,
            key_schema: table.def.key_schema.clone(),
            shards: table.def.shards,
            created_ms,
            start_seq: self.seq.load(Ordering::Acquire),
            disabled_ms: None,
        });
        batch.insert(&self.meta, stream_meta_key(id), def.encode()?);
        *write(&table.stats.stream) = Some(Arc::clone(&def));
        write(&self.streams.defs).insert(id, Arc::clone(&def));
        Ok(def)
    }

    /// Disables the table's current stream: its shards close and stay readable until
    /// retention trims them.
    pub(crate) fn disable_stream(&self, table: &TableRef, batch: &mut Staging) -> Result<()> {
        let Some(current) = read(&table.stats.stream).clone() else {
            return Ok(());
        };
        let mut def = (*current).clone();
        def.disabled_ms = Some(now_ms());
        batch.insert(&self.meta, stream_meta_key(def.id), def.encode()?);
        write(&table.stats.stream).take();
        write(&self.streams.defs).insert(def.id, Arc::new(def));
        Ok(())
    }

    /// Hands out the next id from a `meta` counter, in the batch being built.
    pub(crate) fn allocate_id(&self, key: &[u8], batch: &mut Staging) -> Result<u32> {
        let next = match self.meta.get(key)? {
            Some(v) => u32::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::Storage("corrupt id counter".into()))?,
            ),
            None => 1,
        };
        batch.insert(&self.meta, key.to_vec(), (next + 1).to_be_bytes());
        Ok(next)
    }

    /// After a commit: publish the shards' new heads and wake readers.
    pub(crate) fn publish_heads(&self, heads: &[ShardHead]) {
        if heads.is_empty() {
            return;
        }
        {
            let mut h = write(&self.streams.heads);
            for s in heads {
                h.insert((s.stream_id, s.shard), s.seq);
            }
        }
        *lock(&self.streams.commits) += 1;
        self.streams.commit_signal.notify_all();
        for l in read(&self.streams.listeners).iter() {
            l(heads);
        }
    }
}

/// How long GetRecords' iterators live (DynamoDB: 15 minutes).
pub const SHARD_ITERATOR_TTL_MS: u64 = 15 * 60 * 1000;

impl Engine {
    /// All streams, optionally of one table, ordered by id (creation order).
    pub fn list_streams(&self, table: Option<&str>) -> Vec<Arc<StreamDef>> {
        read(&self.inner.streams.defs)
            .values()
            .filter(|d| table.is_none_or(|t| d.table_name == t))
            .cloned()
            .collect()
    }

    pub fn stream(&self, id: u32) -> Option<Arc<StreamDef>> {
        read(&self.inner.streams.defs).get(&id).cloned()
    }

    /// The stream's ARN.
    pub fn stream_arn(&self, def: &StreamDef) -> String {
        format!("{}/stream/{}", self.table_arn(&def.table_name), def.label)
    }

    /// Resolves a stream ARN of this engine.
    pub fn stream_by_arn(&self, arn: &str) -> Option<Arc<StreamDef>> {
        let (table_part, label) = arn.rsplit_once("/stream/")?;
        let table = table_part.rsplit_once(":table/")?.1;
        read(&self.inner.streams.defs)
            .values()
            .find(|d| d.table_name == table && d.label == label && self.stream_arn(d) == arn)
            .cloned()
    }

    /// The current enabled stream of a table, if any.
    pub fn table_stream(&self, table: &TableRef) -> Option<Arc<StreamDef>> {
        read(&table.stats.stream).clone()
    }

    /// The latest stream of a table (enabled or not), for DescribeTable.
    pub fn latest_stream(&self, table: &TableDef) -> Option<Arc<StreamDef>> {
        read(&self.inner.streams.defs)
            .values()
            .filter(|d| d.table_id == table.id)
            .max_by_key(|d| d.id)
            .cloned()
    }

    /// The shards of a stream with their sequence-number ranges.
    pub fn stream_shards(&self, def: &StreamDef) -> Result<Vec<ShardInfo>> {
        let mut out = Vec::with_capacity(usize::from(def.shards));
        for shard in 0..def.shards {
            let ending_seq = def.disabled_ms.map(|_| self.shard_head(def, shard));
            out.push(ShardInfo {
                shard,
                starting_seq: def.start_seq + 1,
                ending_seq,
            });
        }
        Ok(out)
    }

    /// The newest committed sequence number of a shard (the stream's start when empty).
    pub fn shard_head(&self, def: &StreamDef, shard: u16) -> u64 {
        read(&self.inner.streams.heads)
            .get(&(def.id, shard))
            .copied()
            .unwrap_or(def.start_seq)
    }

    /// The smallest sequence number of a shard still readable.
    pub fn trim_horizon(&self, def: &StreamDef, shard: u16) -> u64 {
        lock(&self.inner.streams.trim_horizons)
            .get(&(def.id, shard))
            .copied()
            .unwrap_or(def.start_seq + 1)
    }

    /// The position just after everything committed so far (a LATEST iterator).
    pub fn latest_position(&self) -> u64 {
        self.inner.committed_seq.load(Ordering::Acquire) + 1
    }

    /// Reads up to `limit` records (and about `bytes_max` bytes) of a shard, starting
    /// at the first record whose sequence number is `>= from_seq`. Reading a position
    /// that retention has already trimmed is `Error::TrimmedDataAccess`.
    pub fn read_shard(
        &self,
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
        if from_seq < self.trim_horizon(def, shard) {
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
        for kv in self.inner.records.range(from..=end) {
            if out.records.len() >= limit || bytes >= bytes_max {
                return Ok(out);
            }
            let (k, v) = kv.into_inner()?;
            let seq = seq_of_key(&k)?;
            bytes += v.len();
            out.records.push(decode_record(seq, &v)?);
            out.next_seq = seq + 1;
        }
        // Everything there is has been read; a closed shard is then drained. The
        // stream definition is re-read: it may have been disabled meanwhile, and no
        // record is written to a disabled stream, so nothing can follow.
        out.drained = self.stream(def.id).is_none_or(|d| !d.is_enabled())
            && out.next_seq > self.shard_head(def, shard);
        Ok(out)
    }

    /// Registers a callback run after every commit that wrote stream records.
    pub fn on_stream_commit(&self, listener: CommitListener) {
        write(&self.inner.streams.listeners).push(listener);
    }

    /// Blocks until the shard has a record with a sequence number `>= from_seq`, or
    /// `timeout` passes. Returns whether such a record exists. Woken by commits, not by
    /// polling.
    pub fn wait_for_records(
        &self,
        def: &StreamDef,
        shard: u16,
        from_seq: u64,
        timeout: Duration,
    ) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut commits = lock(&self.inner.streams.commits);
        loop {
            if self.shard_head(def, shard) >= from_seq {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            commits = match self
                .inner
                .streams
                .commit_signal
                .wait_timeout(commits, deadline - now)
            {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Deletes records older than the retention period, and forgets disabled streams
    /// once they are past retention. Runs on its own thread; writers never wait for it.
    pub(crate) fn trim_streams(&self) -> Result<()> {
        const TRIM_CHUNK_RECORDS_MAX: usize = 10_000;
        let retention = self.inner.config.stream_retention_ms;
        let cutoff = now_ms().saturating_sub(retention);
        let cutoff_us = cutoff.saturating_mul(1000);
        let defs: Vec<Arc<StreamDef>> = read(&self.inner.streams.defs).values().cloned().collect();
        for def in defs {
            for shard in 0..def.shards {
                let mut batch = Staging::default();
                let mut horizon = None;
                for (removed, kv) in self
                    .inner
                    .records
                    .prefix(shard_prefix(def.id, shard))
                    .enumerate()
                {
                    let (k, v) = kv.into_inner()?;
                    let created = v
                        .get(2..10)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| Error::Storage("corrupt stream record".into()))?;
                    if created >= cutoff_us || removed >= TRIM_CHUNK_RECORDS_MAX {
                        break;
                    }
                    horizon = Some(seq_of_key(&k)? + 1);
                    batch.remove(&self.inner.records, k);
                }
                if let Some(h) = horizon {
                    batch.insert(&self.inner.meta, trim_key(def.id, shard), h.to_be_bytes());
                    // Readers must see the new horizon no later than the records vanish.
                    lock(&self.inner.streams.trim_horizons).insert((def.id, shard), h);
                    self.inner
                        .commit_outside(batch, None, "trimming a stream")?;
                }
            }
            if let Some(disabled) = def.disabled_ms
                && disabled < cutoff
                && (0..def.shards).all(|s| {
                    self.inner
                        .records
                        .prefix(shard_prefix(def.id, s))
                        .next()
                        .is_none()
                })
            {
                let mut batch = Staging::default();
                batch.remove(&self.inner.meta, stream_meta_key(def.id));
                for s in 0..def.shards {
                    batch.remove(&self.inner.meta, trim_key(def.id, s));
                }
                self.inner
                    .commit_outside(batch, None, "forgetting a stream")?;
                write(&self.inner.streams.defs).remove(&def.id);
            }
        }
        Ok(())
    }

    /// Starts the background trimmer (called once by `Engine::open`). It also expires
    /// the durable client request tokens (`transact.rs`).
    pub(crate) fn start_trimmer(&self) {
        let interval =
            Duration::from_millis((self.inner.config.stream_retention_ms / 8).clamp(100, 60_000));
        self.spawn_periodic("eddy-trim", interval, |engine| {
            if let Err(e) = engine.trim_streams() {
                eprintln!("eddy: stream trim failed: {e}");
            }
            if let Err(e) = engine.expire_client_tokens() {
                eprintln!("eddy: client request token expiry failed: {e}");
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip_and_order() {
        let a = format_sequence_number(1);
        let b = format_sequence_number(20);
        assert_eq!(a.len(), 21);
        assert!(a < b, "string order follows numeric order");
        assert_eq!(parse_sequence_number(&a), Some(1));
        assert_eq!(
            parse_sequence_number(&format_sequence_number(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_sequence_number("12"), None);
        assert_eq!(parse_sequence_number("2000000000000000000001"), None);
    }

    #[test]
    fn records_round_trip_per_view_type() {
        use crate::value::AttributeValue;
        let old: Item = [
            ("pk".to_string(), AttributeValue::S("k".into())),
            ("v".to_string(), AttributeValue::Bool(false)),
        ]
        .into();
        let new: Item = [
            ("pk".to_string(), AttributeValue::S("k".into())),
            ("v".to_string(), AttributeValue::Bool(true)),
        ]
        .into();
        for view in [
            StreamViewType::KeysOnly,
            StreamViewType::NewImage,
            StreamViewType::OldImage,
            StreamViewType::NewAndOldImages,
        ] {
            let bytes = encode_record(view, &["pk"], Some(&old), Some(&new), 42, 3, false).unwrap();
            let r = decode_record(7, &bytes).unwrap();
            assert_eq!(r.event_name, EventName::Modify);
            assert_eq!(r.keys.len(), 1);
            assert_eq!(
                r.new_image.is_some(),
                matches!(
                    view,
                    StreamViewType::NewImage | StreamViewType::NewAndOldImages
                )
            );
            assert_eq!(
                r.old_image.is_some(),
                matches!(
                    view,
                    StreamViewType::OldImage | StreamViewType::NewAndOldImages
                )
            );
            assert_eq!(r.created_us, 42);
            assert_eq!(r.hops, 3);
            for cut in 0..bytes.len() {
                assert!(decode_record(7, &bytes[..cut]).is_err());
            }
        }
        assert!(
            encode_record(StreamViewType::KeysOnly, &["pk"], None, None, 1, 0, false).is_none()
        );
    }
}
