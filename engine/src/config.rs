//! How to open an engine: [`EngineConfig`], [`Durability`] and their defaults.
//!
//! It owns the knobs and their defaults; it must not know what reads them.

use std::path::PathBuf;

use crate::capacity::CapacityClock;
use crate::health::{DISK_RESERVE_BYTES_DEFAULT, FatalHook};
use crate::seal::SealKey;

/// The Time to Live sweeper's default interval.
pub const TTL_SWEEP_MS_DEFAULT: u64 = 10_000;

/// How the writer makes a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync (fdatasync) every commit group before answering. The default.
    Sync,
    /// Answer after the write reaches the OS; a machine crash can lose recent writes.
    /// For benchmarks and throwaway stores only.
    Buffered,
}

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the data lives. With `in_memory` it is a scratch directory removed on drop.
    pub data_dir: PathBuf,
    pub in_memory: bool,
    pub region: String,
    /// The 12-digit account id used in ARNs.
    pub account_id: String,
    pub durability: Durability,
    /// How long stream records are kept (DynamoDB: 24 hours).
    pub stream_retention_ms: u64,
    /// How long a shard iterator stays valid (DynamoDB: 15 minutes).
    pub shard_iterator_ttl_ms: u64,
    /// Hash shards of each new table (1 to `TABLE_SHARDS_MAX`).
    pub table_shards: u16,
    /// Bytes of recently read and written items kept in memory for point reads
    /// (see `cache.rs`); 0 turns the cache off.
    pub item_cache_bytes: u64,
    /// How often expired items (Time to Live) are looked for and deleted.
    pub ttl_sweep_ms: u64,
    /// Memory for writes not yet flushed to table files (fjall's memtables, all
    /// keyspaces together); the writer keeps them inside it (see `buffers.rs`).
    pub write_buffer_bytes: u64,
    /// Memory for fjall's cache of table blocks read from disk.
    pub block_cache_bytes: u64,
    /// Free space kept on the data directory's file system: below it every write is
    /// refused with a retryable [`Error::Unavailable`](crate::Error::Unavailable) until space is freed, so the
    /// storage never meets a full disk (see `health.rs`). 0 turns the guard off.
    pub disk_reserve_bytes: u64,
    /// Called when a fault leaves the engine unable to write (see [`FatalHook`]);
    /// without one the engine refuses writes from then on and reports itself failed.
    pub on_fatal: Option<FatalHook>,
    /// The encryption-at-rest key: with one, item, index-entry and change-record values
    /// are sealed before they reach fjall (see `seal.rs`); without, they are stored in
    /// clear. A directory once opened with a key can only be opened with that key.
    pub seal_key: Option<SealKey>,
    /// The time source of capacity (throttling, burst, the daily decrease limit): the
    /// wall clock, or a manual clock tests drive (see `capacity/clock.rs`).
    pub capacity_clock: CapacityClock,
    /// Turns capacity admission and charging off for every table: nothing is
    /// throttled and no units are counted (ConsumedCapacity is still returned when
    /// asked for). Off is not DynamoDB's behaviour; it exists so the cost of the
    /// accounting can be measured against the same build (`tests/load/capacity-cost.sh`).
    pub capacity_accounting_off: bool,
}

/// fjall's block cache's default size (fjall's own default is 32 MiB).
pub const BLOCK_CACHE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// The item cache's default size.
pub const ITEM_CACHE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// DynamoDB Streams keeps records for 24 hours.
pub const STREAM_RETENTION_MS_DEFAULT: u64 = 24 * 60 * 60 * 1000;

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            in_memory: false,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            durability: Durability::Sync,
            stream_retention_ms: STREAM_RETENTION_MS_DEFAULT,
            shard_iterator_ttl_ms: crate::stream::def::SHARD_ITERATOR_TTL_MS,
            table_shards: crate::limits::TABLE_SHARDS_DEFAULT,
            item_cache_bytes: ITEM_CACHE_BYTES_DEFAULT,
            ttl_sweep_ms: TTL_SWEEP_MS_DEFAULT,
            write_buffer_bytes: crate::buffers::WRITE_BUFFER_BYTES_DEFAULT,
            block_cache_bytes: BLOCK_CACHE_BYTES_DEFAULT,
            disk_reserve_bytes: DISK_RESERVE_BYTES_DEFAULT,
            on_fatal: None,
            seal_key: None,
            capacity_clock: CapacityClock::wall(),
            capacity_accounting_off: false,
        }
    }
}
