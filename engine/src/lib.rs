//! Eddy's table engine: tables, items, key encoding, expressions and the storage
//! layout on fjall.
//!
//! ```no_run
//! use eddy_engine::{Engine, EngineConfig, GetItemInput};
//! let engine = Engine::open(EngineConfig::new("./eddy-data"))?;
//! let item = engine.get_item(&GetItemInput { table: "users".into(), ..Default::default() });
//! # Ok::<(), eddy_engine::Error>(())
//! ```
//!
//! Architecture invariants:
//! - The engine knows nothing of HTTP, the DynamoDB wire JSON, tokio or wasm. Callers
//!   hand it typed requests and get typed results or an [`Error`]; writes complete
//!   through a callback run on the writer thread, so async callers need no blocking
//!   thread per write.
//! - An acknowledged write is durable: every item change goes through one group-commit
//!   writer that commits and fsyncs before any writer is answered (`writer/`).
//! - A client mistake is an [`Error::Validation`] (or another DynamoDB outcome)
//!   found before anything is written; nothing is ever half-applied.
//! - A fault in one write (a panic, a key the storage would refuse) is that write's
//!   [`Error::Internal`]; a fault that leaves the engine unable to write is fatal and
//!   goes to [`EngineConfig::on_fatal`], and a full disk is a retryable
//!   [`Error::Unavailable`] (`health.rs`).
//! - The on-disk layout (keyspaces, key encoding, item codec, format version) is
//!   documented in `state.rs`, `keys.rs`, `codec.rs` and `stream/mod.rs`; changing it
//!   bumps a version.
//! - Imports only go down, and the layout test checks there is no circle:
//!   `engine.rs` (the facade: one method per public operation) calls the operations
//!   (`tables.rs`, `items/`, `transact.rs`, `ttl.rs`, `backfill.rs`, `stream/`
//!   `read.rs` and `trim.rs`, `system.rs`), which take the shared state (`state.rs`) and
//!   never the facade; `open.rs` builds the state and starts the threads. Below the
//!   operations: the writer (`writer/`), the catalog's `meta` records (`meta.rs`), the
//!   catalog and its parts (`catalog.rs`, `schema.rs`, `index/`, `stream/def.rs`), the
//!   item cache, and the lower layer (`keys.rs`, `codec.rs`, `reader.rs`, `stored.rs`,
//!   `seal.rs`,
//!   `value.rs`, `number.rs`, `expr/`, `limits.rs`, `sync.rs`, `clock.rs`, `hash.rs`,
//!   `error.rs`), which imports nothing above it. `partiql/` (PartiQL's parser and
//!   its lowering) builds the operations' input types from a statement and a table
//!   definition; it reads no state, and only the facade calls it.

mod backfill;
mod buffers;
mod cache;
pub mod capacity;
mod catalog;
pub mod clock;
mod codec;
mod config;
mod engine;
mod error;
pub mod expr;
pub mod hash;
mod health;
mod index;
mod items;
mod keys;
pub mod limits;
mod meta;
mod number;
mod open;
pub mod partiql;
mod reader;
mod reaper;
mod schema;
mod seal;
mod state;
mod stored;
mod stream;
pub mod sync;
mod system;
mod tables;
mod tags;
pub mod throughput;
mod tokens;
mod transact;
mod ttl;
mod value;
mod writer;

pub use crate::buffers::{WRITE_BUFFER_BYTES_DEFAULT, WRITE_BUFFER_BYTES_MIN, WRITE_STALL_MS_MAX};
pub use crate::catalog::{
    CapacitySetting, CreateTableInput, IndexCapacity, SseSetting, TableClassSetting, TableDef,
    TableSettings, ThroughputChanges,
};
pub use crate::clock::iso8601_ms;
pub use crate::codec::{decode_item, encode_item};
pub use crate::config::{
    BLOCK_CACHE_BYTES_DEFAULT, Durability, EngineConfig, ITEM_CACHE_BYTES_DEFAULT,
    STREAM_RETENTION_MS_DEFAULT, TTL_SWEEP_MS_DEFAULT,
};
pub use crate::engine::Engine;
pub use crate::error::{
    CancellationReason, Error, Result, Throttle, ThrottleException, panic_text,
};
pub use crate::health::{
    DISK_RESERVE_BYTES_DEFAULT, DiskHealth, FatalHook, Fault, FaultKind, Health, HealthStatus,
    StorageState, WriterState,
};
pub use crate::index::def::{
    IndexBuild, IndexDef, IndexInput, IndexKind, IndexProjection, IndexThroughputUpdate,
    IndexUpdate,
};
pub use crate::items::input::{
    BatchGetOutput, BatchGetTable, BatchWriteOutput, BatchWriteRequest, DeleteItemInput, Done,
    ExpressionAttributes, GetItemInput, LegacyWrite, Page, PutItemInput, QueryInput, ReturnValues,
    ScanInput, Select, UpdateItemInput, WriteOutput,
};
pub use crate::keys::{KeyType, decode_key_value, encode_key_value, partition_hash, shard_of};
pub use crate::number::Number;
pub use crate::reader::NumberRef;
pub use crate::schema::{
    BillingMode, IndexKeys, KeyAttribute, KeyRole, KeySchema, OnDemandThroughput, TableClass,
    Throughput, WarmThroughput, check_table_name_length, constraint_errors, key_type_descriptor,
    table_name_pattern_error, validate_table_name,
};
pub use crate::seal::{SEAL_KEY_BYTES, SEALED_TAG, Seal, SealKey};
pub use crate::stored::{SetKind, StoredItem, Visitor};
pub use crate::stream::def::{
    EventName, SHARD_ITERATOR_TTL_MS, StreamDef, StreamSpecification, StreamViewType,
};
pub use crate::stream::read::{ShardInfo, ShardRead};
pub use crate::stream::record::{StreamRecord, format_sequence_number, parse_sequence_number};
pub use crate::stream::registry::{CommitListener, ShardHead};
pub use crate::tables::{TableDescription, TableStatus, UpdateTableInput};
pub use crate::transact::{ConditionCheckInput, TransactWriteAction, TransactWriteInput};
pub use crate::ttl::TimeToLiveDescription;
pub use crate::value::{AttributeType, AttributeValue, Item, item_size_bytes};
