//! The engine's facade: the [`Engine`] handle, opening and shutting it down, and one
//! method per public operation, each delegating to the operation's function over the
//! shared state (`state.rs`).
//!
//! It owns the public API's shape; it must not hold any operation's logic, and no
//! module below imports it (operations take the state, not the facade).

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{CreateTableInput, TableDef, TableRef};
use crate::config::EngineConfig;
use crate::error::Result;
use crate::health::Health;
use crate::items::input::{
    BatchGetOutput, BatchGetTable, BatchWriteOutput, BatchWriteRequest, DeleteItemInput, Done,
    GetItemInput, Page, PutItemInput, QueryInput, ScanInput, UpdateItemInput, WriteOutput,
};
use crate::state::State;
use crate::stored::StoredItem;
use crate::stream::def::StreamDef;
use crate::stream::read::{ShardInfo, ShardRead};
use crate::stream::registry::CommitListener;
use crate::tables::{TableDescription, UpdateTableInput};
use crate::transact::TransactWriteInput;
use crate::ttl::TimeToLiveDescription;
use crate::value::{AttributeValue, Item};

/// A handle to the engine; cheap to clone, shared by all request handlers.
#[derive(Clone)]
pub struct Engine {
    pub(crate) state: Arc<State>,
    /// How many trigger invocations led to the writes made through this handle (0 for
    /// a client's); see [`Engine::caused_by`].
    origin_hops: u8,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.state.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (or creates) the store and starts the writer (see `open.rs`).
    pub fn open(config: EngineConfig) -> Result<Engine> {
        Ok(Engine {
            state: crate::open::open(config)?,
            origin_hops: 0,
        })
    }

    /// A handle whose writes are marked as caused by a chain of `hops` trigger
    /// invocations. The mark travels into their change records, so the trigger runtime
    /// can stop a function whose writes re-trigger it (Lambda's recursive-loop guard).
    /// The caller carries it explicitly (a function's table calls get it from their
    /// invocation), so nothing rides on the thread a write happens to run on.
    pub fn caused_by(&self, hops: u8) -> Engine {
        Engine {
            state: Arc::clone(&self.state),
            origin_hops: hops,
        }
    }

    /// The hop mark of this handle's writes (0 for a client's).
    pub fn origin_hops(&self) -> u8 {
        self.origin_hops
    }

    /// Whether writes can be served, and if not, why (see `health.rs`).
    pub fn health(&self) -> Health {
        self.state.health()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.state.config
    }

    /// Stops taking writes, lets the writer finish what is queued, and flushes.
    /// How stored values are sealed (encryption at rest), for the subsystems that keep
    /// their own files in the data directory (the function store) and seal them alike.
    pub fn seal(&self) -> &crate::seal::Seal {
        &self.state.seal
    }

    pub fn shutdown(&self) {
        self.state.shutdown();
    }

    /// Writes a key durably (fsync'd unless the store is in-memory or buffered).
    /// A key or value the storage layer cannot hold is an [`Error::Validation`](crate::Error::Validation)
    /// (`keys::check_storage_key`), never a panic inside fjall.
    pub fn system_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        crate::system::system_put(&self.state, key, value)
    }

    /// Writes a key without waiting for the disk: it survives a crash of the process
    /// only once a later synced write (or the OS) flushed it. For state whose loss is
    /// harmless, such as a trigger checkpoint (a lost one means a redelivery, which
    /// at-least-once allows).
    pub fn system_put_relaxed(&self, key: &[u8], value: &[u8]) -> Result<()> {
        crate::system::system_put_relaxed(&self.state, key, value)
    }

    /// Writes `puts` and removes `deletes` in one atomic, durable commit.
    pub fn system_batch(&self, puts: &[(Vec<u8>, Vec<u8>)], deletes: &[Vec<u8>]) -> Result<()> {
        crate::system::system_batch(&self.state, puts, deletes)
    }

    pub fn system_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        crate::system::system_get(&self.state, key)
    }

    pub fn system_delete(&self, key: &[u8]) -> Result<()> {
        crate::system::system_delete(&self.state, key)
    }

    /// All keys with a prefix, in order. The empty prefix is every key; a prefix
    /// longer than a key can be is an error (it would bound a range read).
    pub fn system_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        crate::system::system_scan(&self.state, prefix)
    }

    /// The ARN of a table in this engine's region and account.
    pub fn table_arn(&self, name: &str) -> String {
        self.state.table_arn(name)
    }

    pub fn create_table(&self, input: CreateTableInput) -> Result<TableDescription> {
        crate::tables::create_table(&self.state, input)
    }

    /// Lowers a PartiQL statement onto the JSON API's request that does the same, against
    /// the table's key schema as it is now (`ResourceNotFound` for no such table).
    pub fn lower_partiql(
        &self,
        statement: &crate::partiql::ast::Statement,
        params: &[crate::AttributeValue],
    ) -> Result<crate::partiql::Lowered> {
        let table = self.state.table(statement.table())?;
        crate::partiql::lower(statement, params, &table.def)
    }

    /// The name of a table's partition-key attribute, without copying its definition
    /// (an access policy's `dynamodb:LeadingKeys` is read from it on every request).
    pub fn partition_key_name(&self, name: &str) -> Result<String> {
        Ok(self.state.table(name)?.def.key_schema.hash.name.clone())
    }

    /// The definition of a table as it is now (`ResourceNotFound` for no such table).
    pub fn table_def(&self, name: &str) -> Result<TableDef> {
        Ok(self.state.table(name)?.def.clone())
    }

    /// Whether the items stored before this run are counted: until then DescribeTable
    /// waits for them (at most a minute), so a caller on an async runtime should
    /// describe on a blocking thread.
    pub fn counts_ready(&self) -> bool {
        self.state
            .counts_ready
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn describe_table(&self, name: &str) -> Result<TableDescription> {
        crate::tables::describe_table(&self.state, name)
    }

    pub fn delete_table(&self, name: &str) -> Result<TableDescription> {
        crate::tables::delete_table(&self.state, name)
    }

    /// Table names in order, starting after `start_after`, at most `limit`; the second
    /// value is the last name returned when more follow.
    pub fn list_tables(
        &self,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<String>, Option<String>)> {
        crate::tables::list_tables(&self.state, start_after, limit)
    }

    pub fn update_table(&self, name: &str, input: UpdateTableInput) -> Result<TableDescription> {
        crate::tables::update_table(&self.state, name, input)
    }

    pub fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<()> {
        crate::tags::tag_resource(&self.state, arn, tags)
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        crate::tags::untag_resource(&self.state, arn, keys)
    }

    pub fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        crate::tags::list_tags(&self.state, arn)
    }

    pub fn put_item(&self, input: PutItemInput, done: Done<WriteOutput>) {
        crate::items::write::put_item(&self.state, self.origin_hops, input, done)
    }

    pub fn delete_item(&self, input: DeleteItemInput, done: Done<WriteOutput>) {
        crate::items::write::delete_item(&self.state, self.origin_hops, input, done)
    }

    pub fn update_item(&self, input: UpdateItemInput, done: Done<WriteOutput>) {
        crate::items::write::update_item(&self.state, self.origin_hops, input, done)
    }

    pub fn get_item(&self, input: &GetItemInput) -> Result<Option<Item>> {
        crate::items::read::get_item(&self.state, input)
    }

    /// [`Engine::get_item`] as stored: without a projection the item is not decoded.
    /// With it, the capacity the read consumed (charged to the table already).
    pub fn get_item_stored(
        &self,
        input: &GetItemInput,
    ) -> Result<(Option<StoredItem>, crate::capacity::Consumed)> {
        crate::items::read::get_item_stored(&self.state, input)
    }

    pub fn query(&self, input: &QueryInput) -> Result<Page> {
        crate::items::read::query(&self.state, input)
    }

    /// The partition-key values a Query reads (`dynamodb:LeadingKeys` for an access
    /// policy), resolved as the Query resolves them.
    pub fn query_partition(&self, input: &QueryInput) -> Result<Vec<AttributeValue>> {
        crate::items::read::query_partition(&self.state, input)
    }

    pub fn scan(&self, input: &ScanInput) -> Result<Page> {
        crate::items::read::scan(&self.state, input)
    }

    pub fn batch_get_item(&self, tables: &[BatchGetTable]) -> Result<BatchGetOutput> {
        crate::items::read::batch_get_item(&self.state, tables)
    }

    /// Applies the requests of a BatchWriteItem together, answering the capacity they
    /// consumed per table; those refused for throughput come back unprocessed (all
    /// refused is the throttling error).
    pub fn batch_write_item(
        &self,
        requests: Vec<(String, Vec<BatchWriteRequest>)>,
        done: Done<BatchWriteOutput>,
    ) {
        crate::items::write::batch_write_item(&self.state, self.origin_hops, requests, done)
    }

    /// Applies all actions atomically, or none: see the module documentation. Answers
    /// the capacity consumed per table.
    pub fn transact_write_items(
        &self,
        input: TransactWriteInput,
        done: Done<Vec<crate::capacity::Consumed>>,
    ) {
        crate::transact::transact_write_items(&self.state, self.origin_hops, input, done)
    }

    /// Reads up to [`TRANSACT_ITEMS_MAX`](crate::limits::TRANSACT_ITEMS_MAX) items from one snapshot; `None` for an item
    /// that does not exist, in request order; with the capacity consumed per table.
    pub fn transact_get_items(
        &self,
        gets: &[GetItemInput],
    ) -> Result<(Vec<Option<Item>>, Vec<crate::capacity::Consumed>)> {
        crate::transact::transact_get_items(&self.state, gets)
    }

    /// UpdateTimeToLive: enables or disables expiry on `attribute_name`. Like
    /// DynamoDB's, the call is not idempotent: enabling twice, or disabling what is not
    /// enabled, is a `ValidationException`.
    pub fn update_time_to_live(
        &self,
        table: &str,
        enabled: bool,
        attribute_name: &str,
    ) -> Result<()> {
        crate::ttl::update_time_to_live(&self.state, table, enabled, attribute_name)
    }

    /// DescribeTimeToLive.
    pub fn describe_time_to_live(&self, table: &str) -> Result<TimeToLiveDescription> {
        crate::ttl::describe_time_to_live(&self.state, table)
    }

    /// All streams, optionally of one table, ordered by id (creation order).
    pub fn list_streams(&self, table: Option<&str>) -> Vec<Arc<StreamDef>> {
        crate::stream::read::list_streams(&self.state, table)
    }

    pub fn stream(&self, id: u32) -> Option<Arc<StreamDef>> {
        crate::stream::read::stream(&self.state, id)
    }

    /// The stream's ARN.
    pub fn stream_arn(&self, def: &StreamDef) -> String {
        crate::stream::read::stream_arn(&self.state, def)
    }

    /// Resolves a stream ARN of this engine.
    pub fn stream_by_arn(&self, arn: &str) -> Option<Arc<StreamDef>> {
        crate::stream::read::stream_by_arn(&self.state, arn)
    }

    /// The current enabled stream of a table, if any.
    pub fn table_stream(&self, table: &TableRef) -> Option<Arc<StreamDef>> {
        crate::stream::read::table_stream(table)
    }

    /// The latest stream of a table (enabled or not), for DescribeTable.
    pub fn latest_stream(&self, table: &TableDef) -> Option<Arc<StreamDef>> {
        crate::stream::read::latest_stream(&self.state, table)
    }

    /// The shards of a stream with their sequence-number ranges.
    pub fn stream_shards(&self, def: &StreamDef) -> Result<Vec<ShardInfo>> {
        crate::stream::read::stream_shards(&self.state, def)
    }

    /// The newest committed sequence number of a shard (the stream's start when empty).
    pub fn shard_head(&self, def: &StreamDef, shard: u16) -> u64 {
        crate::stream::read::shard_head(&self.state, def, shard)
    }

    /// The smallest sequence number of a shard still readable.
    pub fn trim_horizon(&self, def: &StreamDef, shard: u16) -> u64 {
        crate::stream::read::trim_horizon(&self.state, def, shard)
    }

    /// The position just after everything committed so far (a LATEST iterator).
    pub fn latest_position(&self) -> u64 {
        crate::stream::read::latest_position(&self.state)
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
        crate::stream::read::read_shard(&self.state, def, shard, from_seq, limit, bytes_max)
    }

    /// Registers a callback run after every commit that wrote stream records.
    pub fn on_stream_commit(&self, listener: CommitListener) {
        crate::stream::read::on_stream_commit(&self.state, listener)
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
        crate::stream::read::wait_for_records(&self.state, def, shard, from_seq, timeout)
    }

    /// The capacity totals of table `name` (consumed and provisioned units, throttled
    /// requests), for metrics and auto scaling.
    pub fn capacity_totals(&self, name: &str) -> Result<crate::capacity::CapacityTotals> {
        let table = self.state.table(name)?;
        Ok(table.stats.capacity.totals())
    }

    /// The capacity's time source in epoch milliseconds: the wall clock, or the clock
    /// tests drive (see `capacity/`).
    pub fn capacity_now_ms(&self) -> u64 {
        self.state.config.capacity_clock.now_ms()
    }

    /// Moves the manual capacity clock forward by `ms` and returns its new reading;
    /// `None` when the engine runs on the wall clock.
    pub fn advance_capacity_clock(&self, ms: u64) -> Option<u64> {
        self.state.config.capacity_clock.advance(ms)
    }
}
