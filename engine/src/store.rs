//! The engine handle, its storage on fjall and the group-commit writer.
//!
//! # Storage layout (format version 1)
//!
//! One fjall `Database` in the data directory, with these keyspaces:
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `meta` | `b"format"` | `[FORMAT_VERSION]` — refused on open if unknown |
//! | `meta` | `b"next_table_id"` | `u32` big-endian: the next table id to hand out |
//! | `meta` | `b"table/" + name` | a `TableDef` (version byte + postcard), see `catalog.rs` |
//! | `meta` | `b"txtoken/" + completed_ms u64 + token` | the transaction's `u128` fingerprint, see `transact.rs` |
//! | `meta` | `b"backfill/" + index_id u32` | an unfinished index backfill's cursor, see `backfill.rs` |
//! | `items` | `[table_id u32][shard u16][hash u64][enc(pk)][enc(sk)]?`, see `keys.rs` | the item, see `codec.rs` |
//! | `items` | `[index_id u32][shard u16][hash u64][enc(index keys)][enc(table keys)]`, see `index.rs` | the item as the index projects it |
//! | `streams`, `meta` | the stream log and its catalog, see `stream.rs` | |
//! | `system` | any key of another subsystem (trigger definitions, checkpoints) | its bytes |
//!
//! # Writes
//!
//! Every change to `items` goes through one writer thread. It takes all waiting jobs
//! (up to [`COMMIT_GROUP_WRITES_MAX`]), evaluates each job's mutations against the
//! current items (reading through an overlay of the changes earlier jobs in the same
//! group made), puts all resulting changes into one fjall batch, commits it with one
//! fsync, and only then answers every job. The change record of every item change goes
//! into the same batch (see `stream.rs`), so the stream can never drift from the table;
//! so do the item's secondary index entries (see `index.rs`). Concurrent writers thus
//! share one fsync (group commit), and a job's read-check-write is serialized with
//! every other write, so conditions need no locks. A control job (stream
//! enable/disable, an index change or backfill step) commits in a group of its own, so
//! it sees every earlier write committed and every later write sees what it did. Reads
//! see every acknowledged write: point reads go through the item cache (`cache.rs`),
//! which the writer keeps coherent around each commit, and ranges go straight to fjall.
//!
//! The data directory also holds `reaping/`: hard links the reaper (`reaper.rs`) keeps
//! to fjall's table and journal files, so that freeing a deleted file happens on its
//! thread and not under fjall's version lock. It is emptied on every open.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, UserKey, UserValue};

use crate::buffers::{NoRoom, WriteBuffers};
use crate::cache::ItemCache;
use crate::catalog::{Table, TableDef, TableRef, TableStats, is_deleted};
use crate::codec::decode_item;
use crate::error::{CancellationReason, Error, Result, panic_text};
use crate::health::{
    DISK_RESERVE_BYTES_DEFAULT, DiskGuard, FatalHook, FaultKind, Health,
    JOURNAL_ENTRY_OVERHEAD_BYTES, StorageState, Vitals, WriterState,
};
use crate::index::IndexStats;
use crate::limits::{
    COMMIT_GROUP_WRITES_MAX, STORAGE_KEY_BYTES_MAX, STORAGE_KEY_BYTES_MIN, STORAGE_VALUE_BYTES_MAX,
    WRITE_QUEUE_DEPTH_MAX,
};
use crate::stored::StoredItem;
use crate::stream::{ShardHead, StreamRegistry, encode_record, record_key};
use crate::value::{Item, item_size_bytes};

/// Most of fjall's background threads (memtable flushes, compaction). fjall's default
/// is one per core (up to 4); Eddy gives it half the cores, so flushing and compaction
/// cannot take a small machine's cores away from request handling (on 2 cores the
/// default showed up as a longer PutItem latency tail under load).
const FLUSH_COMPACTION_THREADS_MAX: usize = 4;

/// Fewest of fjall's background threads. With two or more, fjall's first worker leaves
/// compactions to the others and so is free to flush while a long compaction runs; with
/// one, flushes (and so the memory of every sealed memtable) wait for the compaction.
const FLUSH_COMPACTION_THREADS_MIN: usize = 2;

fn flush_compaction_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores / 2).clamp(FLUSH_COMPACTION_THREADS_MIN, FLUSH_COMPACTION_THREADS_MAX)
}

/// A commit group slower than this is reported (fsync stalls, LSM back-pressure).
const SLOW_COMMIT_MS: u128 = 50;

/// How often the watchdog asks fjall whether it still takes writes.
const STORAGE_PROBE_INTERVAL_MS: u64 = 1000;

/// How long the purge of a deleted table waits before trying again while the disk is
/// below its reserve.
const PURGE_RETRY_MS: u64 = 1000;

/// The on-disk format this build reads and writes.
const FORMAT_VERSION: u8 = 1;

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
    /// refused with a retryable [`Error::Unavailable`] until space is freed, so the
    /// storage never meets a full disk (see `health.rs`). 0 turns the guard off.
    pub disk_reserve_bytes: u64,
    /// Called when a fault leaves the engine unable to write (see [`FatalHook`]);
    /// without one the engine refuses writes from then on and reports itself failed.
    pub on_fatal: Option<FatalHook>,
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
            shard_iterator_ttl_ms: crate::stream::SHARD_ITERATOR_TTL_MS,
            table_shards: crate::limits::TABLE_SHARDS_DEFAULT,
            item_cache_bytes: ITEM_CACHE_BYTES_DEFAULT,
            ttl_sweep_ms: crate::ttl::TTL_SWEEP_MS_DEFAULT,
            write_buffer_bytes: crate::buffers::WRITE_BUFFER_BYTES_DEFAULT,
            block_cache_bytes: BLOCK_CACHE_BYTES_DEFAULT,
            disk_reserve_bytes: DISK_RESERVE_BYTES_DEFAULT,
            on_fatal: None,
        }
    }
}

/// A handle to the engine; cheap to clone, shared by all request handlers.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: EngineConfig,
    pub(crate) db: Database,
    pub(crate) items: Keyspace,
    /// Point reads of `items` go through it; the writer keeps it coherent.
    pub(crate) cache: ItemCache,
    /// The bound on fjall's memtables, kept by the writer.
    buffers: WriteBuffers,
    pub(crate) meta: Keyspace,
    /// The stream log (`streams` keyspace).
    pub(crate) records: Keyspace,
    /// Other subsystems' durable state (`system` keyspace).
    pub(crate) system: Keyspace,
    pub(crate) streams: StreamRegistry,
    /// The last sequence number the writer assigned.
    pub(crate) seq: AtomicU64,
    /// The last sequence number of a durable commit.
    pub(crate) committed_seq: AtomicU64,
    /// Set by `shutdown`; background threads stop.
    pub(crate) closed: AtomicBool,
    /// Live tables by name. A `BTreeMap` because ListTables pages in name order.
    pub(crate) tables: RwLock<BTreeMap<String, TableRef>>,
    /// Serializes catalog changes (create, delete, update) with each other.
    pub(crate) catalog_lock: Mutex<()>,
    /// Where the Time to Live sweeper resumes in each table (see `ttl.rs`).
    pub(crate) ttl_cursors: Mutex<HashMap<u32, Vec<u8>>>,
    /// The TransactWriteItems client request tokens of the idempotency window (kept
    /// durably in `meta`, loaded on open).
    pub(crate) client_tokens: Arc<crate::transact::ClientTokens>,
    /// The fatal fault, if one happened, and the disk guard (see `health.rs`).
    pub(crate) vitals: Vitals,
    writer: Mutex<Option<SyncSender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Faults the writer's unit tests inject into commits.
    #[cfg(test)]
    pub(crate) injected: Injected,
}

/// Commit failures a unit test asks for (the real ones need a broken disk).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Injected {
    /// The next commit fails as a journal write that hit a full disk.
    pub(crate) fail_commit: AtomicBool,
    /// The next commit panics (a bug in the commit itself, outside any job).
    pub(crate) panic_commit: AtomicBool,
}

thread_local! {
    static ORIGIN_HOPS: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with writes submitted from this thread marked as caused by a chain of
/// `hops` trigger invocations. The mark travels into the change records, so the
/// trigger runtime can stop a function whose writes re-trigger it (Lambda's
/// recursive-loop guard). Client writes carry 0.
pub fn with_origin_hops<T>(hops: u8, f: impl FnOnce() -> T) -> T {
    let previous = ORIGIN_HOPS.with(|h| h.replace(hops));
    let out = f();
    ORIGIN_HOPS.with(|h| h.set(previous));
    out
}

/// What a mutation does to its item, decided by the writer against the current item.
#[derive(Debug)]
pub enum Change {
    Put(Item),
    Delete,
    /// Leaves the item as it is (a transaction's ConditionCheck).
    Keep,
}

/// An item before and after a mutation was applied.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

pub(crate) type MutationFn = Box<dyn FnOnce(Option<&Item>) -> Result<Change> + Send>;
pub(crate) type Completion<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// One item's read-check-write, evaluated by the writer.
pub(crate) struct Mutation {
    pub table: TableRef,
    pub key: Vec<u8>,
    pub apply: MutationFn,
}

enum Job {
    /// All mutations apply, or (if any fails) none do.
    Items {
        mutations: Vec<Mutation>,
        /// A TransactWriteItems: every mutation is evaluated even after one failed, and
        /// a failure of a condition or an update cancels the job with one reason per
        /// mutation ([`Error::TransactionCanceled`]).
        transaction: bool,
        /// How many trigger invocations led to this write (see [`with_origin_hops`]).
        hops: u8,
        /// A `meta` record committed with the job's changes, only if they apply (a
        /// transaction's client request token).
        marker: Option<Marker>,
        /// The Time to Live sweeper's deletes: their records say so.
        by_ttl: bool,
        done: Completion<Vec<Applied>>,
    },
    /// A catalog change ordered with item writes (stream enable/disable, index
    /// changes); it commits alone, in a group of its own.
    Control {
        apply: ControlFn,
        done: Completion<()>,
    },
}

/// A `meta` key and value.
pub(crate) type Marker = (Vec<u8>, Vec<u8>);

pub(crate) type ControlFn = Box<dyn FnOnce(&Inner, &mut Staging) -> Result<()> + Send>;

impl Engine {
    /// Opens (or creates) the store and starts the writer.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let db = Database::builder(&config.data_dir)
            .temporary(config.in_memory)
            .worker_threads(flush_compaction_threads())
            .cache_size(config.block_cache_bytes)
            .open()?;
        let buffers = WriteBuffers::new(config.write_buffer_bytes);
        // The writer rotates memtables at their share of the write-buffer budget
        // (`buffers.rs`); fjall's own limit, fixed when a keyspace is created, is set
        // above it so that fjall never asks its workers for a rotation the writer makes.
        let options =
            || KeyspaceCreateOptions::default().max_memtable_size(2 * buffers.memtable_bytes());
        let items = db.keyspace("items", options)?;
        let meta = db.keyspace("meta", options)?;
        let records = db.keyspace("streams", options)?;
        let system = db.keyspace("system", options)?;
        match meta.get(b"format")? {
            None => meta.insert(b"format", [FORMAT_VERSION])?,
            Some(v) if v.as_ref() == [FORMAT_VERSION] => {}
            Some(v) => {
                return Err(Error::Storage(format!(
                    "data directory has format {:?}, this build reads format {FORMAT_VERSION}",
                    v.as_ref()
                )));
            }
        }
        let streams = StreamRegistry::load(&meta, &records)?;
        let client_tokens = crate::transact::ClientTokens::load(&meta, now_ms())?;
        let mut tables = BTreeMap::new();
        for kv in meta.prefix(b"table/") {
            let (_, v) = kv.into_inner()?;
            let def = TableDef::decode(&v)?;
            let stats = Arc::new(TableStats::with_indexes(&def.indexes));
            let (n, bytes) = count_items(&items, def.id)?;
            stats.add(n, bytes);
            crate::backfill::count_indexes(&items, &meta, &def, &stats)?;
            *write(&stats.ttl_attribute) = crate::ttl::load_ttl(&meta, def.id)?;
            *write(&stats.stream) = read(&streams.defs)
                .values()
                .find(|s| s.table_id == def.id && s.is_enabled())
                .cloned();
            tables.insert(def.name.clone(), Arc::new(Table { def, stats }));
        }
        // Sequence numbers never go back, even when every record was trimmed.
        let hwm = match meta.get(b"seq_hwm")? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::Storage("corrupt seq_hwm".into()))?,
            ),
            None => 0,
        };
        let last_seq = read(&streams.heads).values().copied().fold(hwm, u64::max);
        let (tx, rx) = std::sync::mpsc::sync_channel(WRITE_QUEUE_DEPTH_MAX);
        let vitals = Vitals::new(
            config.on_fatal.clone(),
            DiskGuard::new(&config.data_dir, config.disk_reserve_bytes),
        );
        let inner = Arc::new(Inner {
            cache: ItemCache::new(config.item_cache_bytes),
            buffers,
            vitals,
            config,
            db,
            items,
            meta,
            records,
            system,
            streams,
            seq: AtomicU64::new(last_seq),
            committed_seq: AtomicU64::new(last_seq),
            closed: AtomicBool::new(false),
            tables: RwLock::new(tables),
            catalog_lock: Mutex::new(()),
            ttl_cursors: Mutex::default(),
            client_tokens: Arc::new(client_tokens),
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(None),
            #[cfg(test)]
            injected: Injected::default(),
        });
        let writer_inner = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name("eddy-writer".into())
            .spawn(move || writer_main(&writer_inner, rx))
            .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
        *lock(&inner.writer_thread) = Some(handle);
        let engine = Engine { inner };
        engine.start_trimmer();
        engine.start_ttl_sweeper();
        engine.start_watchdog();
        crate::reaper::start_reaper(&engine.inner);
        engine.resume_backfills();
        Ok(engine)
    }

    /// Looks every [`STORAGE_PROBE_INTERVAL_MS`] whether fjall still takes writes: a
    /// memtable flush or a compaction that failed in fjall's own threads poisons it
    /// without any commit of ours failing, and the engine must not look healthy until
    /// the next write finds out.
    fn start_watchdog(&self) {
        let interval = std::time::Duration::from_millis(STORAGE_PROBE_INTERVAL_MS);
        self.spawn_periodic("eddy-watchdog", interval, |engine| {
            let inner = &engine.inner;
            if inner.vitals.fault().is_none() {
                // Flushes the journal's buffer to the OS (nothing, after a synced
                // commit); fails only if fjall is poisoned or that write fails.
                if let Err(e) = inner.db.persist(PersistMode::Buffer) {
                    inner.storage_fault("probing whether it still takes writes", &e);
                }
            }
            true
        });
    }

    /// Whether writes can be served, and if not, why (see `health.rs`).
    pub fn health(&self) -> Health {
        let inner = &self.inner;
        let fault = inner.vitals.fault().cloned();
        let crashed = fault
            .as_ref()
            .is_some_and(|f| f.kind == FaultKind::WriterCrashed);
        let gone = lock(&inner.writer_thread)
            .as_ref()
            .is_none_or(std::thread::JoinHandle::is_finished);
        let writer = if inner.closed.load(Ordering::Acquire) {
            WriterState::Stopped
        } else if crashed || gone {
            WriterState::Failed
        } else {
            WriterState::Running
        };
        let storage = match &fault {
            Some(f) if f.kind == FaultKind::Storage => StorageState::Failed,
            _ => StorageState::Ok,
        };
        Health {
            writer,
            storage,
            fault,
            disk: inner.vitals.disk.health(inner.unflushed_bytes()),
        }
    }

    /// Runs `tick` every `interval` on a thread named `name`, until the engine is
    /// closed or dropped or `tick` returns false. The thread holds the engine only
    /// while `tick` runs, so it never keeps a dropped engine alive.
    pub(crate) fn spawn_periodic(
        &self,
        name: &str,
        interval: std::time::Duration,
        mut tick: impl FnMut(&Engine) -> bool + Send + 'static,
    ) {
        let weak = Arc::downgrade(&self.inner);
        let thread = name.to_string();
        let _ = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.closed.load(Ordering::Acquire) {
                        return;
                    }
                    let engine = Engine { inner };
                    // A tick that panics is that tick's fault: the next one runs as
                    // usual (the panic itself was printed by the panic hook).
                    match catch_unwind(AssertUnwindSafe(|| tick(&engine))) {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(panic) => eprintln!(
                            "eddy: {thread}: a run panicked ({}); the loop goes on",
                            panic_text(&*panic)
                        ),
                    }
                }
            });
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Stops taking writes, lets the writer finish what is queued, and flushes.
    pub fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        lock(&self.inner.writer).take();
        if let Some(h) = lock(&self.inner.writer_thread).take() {
            let _ = h.join();
        }
        // After a fatal fault fjall refuses this too, and there is nothing new to say.
        if self.inner.vitals.fault().is_none()
            && let Err(e) = self.inner.db.persist(PersistMode::SyncAll)
        {
            self.inner
                .storage_fault("flushing the journal at shutdown", &e);
        }
    }

    pub(crate) fn table(&self, name: &str) -> Result<TableRef> {
        read(&self.inner.tables)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("Requested resource not found"))
    }

    /// Queues an atomic group of mutations; `done` runs on the writer thread once they
    /// are durable (or failed), so it must be quick (e.g. send on a channel).
    pub(crate) fn submit(&self, mutations: Vec<Mutation>, done: Completion<Vec<Applied>>) {
        self.submit_items(mutations, false, None, done);
    }

    /// Queues the mutations of a TransactWriteItems, in action order; see
    /// [`Job::Items`] for how its failures are reported. `marker` commits with the
    /// transaction if it applies.
    pub(crate) fn submit_transaction(
        &self,
        mutations: Vec<Mutation>,
        marker: Option<Marker>,
        done: Completion<Vec<Applied>>,
    ) {
        self.submit_items(mutations, true, marker, done);
    }

    /// Queues the Time to Live sweeper's deletes (see `ttl.rs`).
    pub(crate) fn submit_expiry(&self, mutations: Vec<Mutation>, done: Completion<Vec<Applied>>) {
        let hops = ORIGIN_HOPS.with(std::cell::Cell::get);
        self.send(Job::Items {
            mutations,
            transaction: false,
            hops,
            marker: None,
            by_ttl: true,
            done,
        });
    }

    fn submit_items(
        &self,
        mutations: Vec<Mutation>,
        transaction: bool,
        marker: Option<Marker>,
        done: Completion<Vec<Applied>>,
    ) {
        let hops = ORIGIN_HOPS.with(std::cell::Cell::get);
        self.send(Job::Items {
            mutations,
            transaction,
            hops,
            marker,
            by_ttl: false,
            done,
        });
    }

    /// Runs a catalog change on the writer, ordered with item writes, and waits for
    /// its commit.
    pub(crate) fn control(&self, apply: ControlFn) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Job::Control {
            apply,
            done: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        });
        // Dropped unanswered: the engine shut down, or a fatal fault left the job's
        // outcome unknown.
        rx.recv()
            .map_err(|_| self.inner.vitals.refusal().unwrap_or(Error::ShuttingDown))?
    }

    fn send(&self, job: Job) {
        // After a fatal fault nothing is queued: the writer would refuse it anyway.
        if let Some(e) = self.inner.vitals.refusal() {
            return fail_job(job, e);
        }
        let sender = lock(&self.inner.writer).clone();
        let Some(sender) = sender else {
            return fail_job(job, Error::ShuttingDown);
        };
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => fail_job(
                job,
                Error::LimitExceeded(format!(
                    "Too many writes are waiting (more than {WRITE_QUEUE_DEPTH_MAX}); retry"
                )),
            ),
            Err(TrySendError::Disconnected(job)) => fail_job(job, Error::ShuttingDown),
        }
    }

    /// Reads one item by its storage key.
    pub(crate) fn read_item(&self, key: &[u8]) -> Result<Option<Item>> {
        self.read_stored(key)?.map(|s| s.decode()).transpose()
    }

    /// Reads one item by its storage key, as stored, through the item cache.
    pub(crate) fn read_stored(&self, key: &[u8]) -> Result<Option<StoredItem>> {
        let cache = &self.inner.cache;
        if let Some(hit) = cache.get(key) {
            return Ok(hit);
        }
        let ticket = cache.ticket(key);
        let item = self.inner.items.get(key)?.map(StoredItem::from_slice);
        if let Some(ticket) = ticket {
            cache.fill(key, ticket, item.clone());
        }
        Ok(item)
    }
}

fn fail_job(job: Job, e: Error) {
    match job {
        Job::Items { done, .. } => done(Err(e)),
        Job::Control { done, .. } => done(Err(e)),
    }
}

/// Counts a table's items and bytes (on open, since the counters live in memory).
/// The item count and size of a table or index, by its storage id.
pub(crate) fn count_items(items: &Keyspace, id: u32) -> Result<(i64, i64)> {
    let (mut n, mut bytes) = (0i64, 0i64);
    for kv in items.prefix(id.to_be_bytes()) {
        let (_, v) = kv.into_inner()?;
        n += 1;
        bytes += item_size_bytes(&decode_item(&v)?) as i64;
    }
    Ok((n, bytes))
}

/// The writer thread. A panic that escapes [`writer_loop`] (one outside any job: in the
/// commit itself) is fatal; so is a commit the storage refuses (`commit_group`). Once
/// the engine has a fatal fault the thread stays to refuse every write still queued
/// or sent, with the fault's message, until shutdown.
fn writer_main(inner: &Inner, rx: Receiver<Job>) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| writer_loop(inner, &rx))) {
        inner.vitals.fatal(
            FaultKind::WriterCrashed,
            format!(
                "the writer thread panicked outside any one write: {}",
                panic_text(&*panic)
            ),
        );
    }
    for job in rx.iter() {
        let e = inner.vitals.refusal().unwrap_or(Error::ShuttingDown);
        fail_job(job, e);
    }
}

fn writer_loop(inner: &Inner, rx: &Receiver<Job>) {
    let durability = if inner.config.in_memory || inner.config.durability == Durability::Buffered {
        None
    } else {
        Some(PersistMode::SyncData)
    };
    // A control job commits in a group of its own, so it reads the items as every
    // earlier write left them, and later writes see what it did (an index backfill
    // needs both). One taken while gathering a group waits here for the next.
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut jobs = vec![first];
        while !matches!(jobs[0], Job::Control { .. }) && jobs.len() < COMMIT_GROUP_WRITES_MAX {
            match rx.try_recv() {
                Ok(job @ Job::Control { .. }) => {
                    held = Some(job);
                    break;
                }
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // The memtables stay inside their budget: full ones are rotated here, and while
        // flushes are behind the group waits (`buffers.rs`).
        let keyspaces = [&inner.items, &inner.records, &inner.meta, &inner.system];
        let room = match inner.buffers.make_room(&inner.db, &keyspaces) {
            Ok(()) => Ok(()),
            Err(NoRoom::Storage(e)) => Err(inner.storage_fault("rotating a memtable", &e)),
            Err(NoRoom::Behind(e)) => Err(e),
        };
        // After a fatal fault, or while the disk is below its reserve, the group is
        // refused before anything of it is evaluated or staged.
        if let Err(refused) = room.and_then(|()| inner.vitals.admit(inner.unflushed_bytes())) {
            let message = refused.to_string();
            for job in jobs {
                fail_job(job, refusal_like(&refused, &message));
            }
            continue;
        }
        commit_group(inner, jobs, durability);
    }
}

/// Another error of the same kind and message as `e` (a refusal answers each job of a
/// group; [`Error`] is not `Clone`).
fn refusal_like(e: &Error, message: &str) -> Error {
    match e {
        Error::Unavailable(m) => Error::Unavailable(m.clone()),
        Error::Storage(m) => Error::Storage(m.clone()),
        _ => Error::Internal(message.to_string()),
    }
}

/// What one job of a group turned into, waiting for the commit.
enum Outcome {
    Items(Completion<Vec<Applied>>, Result<Vec<Applied>>),
    Unit(Completion<()>, Result<()>),
}

/// The writes of one job, or of a whole group, and what they change in memory once
/// committed. A job builds its own and joins the group's only when it completed, so a
/// job that fails or panics leaves no trace in the group.
#[derive(Default)]
struct Changes {
    staging: Staging,
    /// Items as the changes leave them, by storage key (`None` = deleted): what later
    /// jobs of the group read through.
    overlay: HashMap<Vec<u8>, Option<Item>>,
    /// Item-count and size deltas per table, applied once the batch is durable.
    deltas: Vec<(Arc<TableStats>, i64, i64)>,
    /// The same per index.
    index_deltas: Vec<(Arc<IndexStats>, i64, i64)>,
    /// The newest record staged per shard, published once the batch is durable.
    heads: Vec<ShardHead>,
    /// Every item write in order, for the item cache.
    written: Vec<(Vec<u8>, Option<StoredItem>)>,
}

impl Changes {
    /// Takes a completed job's changes into the group's.
    fn absorb(&mut self, job: Changes) {
        self.staging.ops.extend(job.staging.ops);
        self.staging.bytes += job.staging.bytes;
        self.overlay.extend(job.overlay);
        self.deltas.extend(job.deltas);
        self.index_deltas.extend(job.index_deltas);
        self.written.extend(job.written);
        for h in job.heads {
            note_head(&mut self.heads, h);
        }
    }
}

/// Records `head` as its shard's newest staged record, unless a newer one is there.
fn note_head(heads: &mut Vec<ShardHead>, head: ShardHead) {
    match heads
        .iter_mut()
        .find(|h| h.stream_id == head.stream_id && h.shard == head.shard)
    {
        Some(h) => h.seq = h.seq.max(head.seq),
        None => heads.push(head),
    }
}

/// One job's (or one outside write's) keys and values, each checked against the
/// storage layer's bounds as it is staged: fjall asserts (panics) on a key that is
/// empty or longer than [`STORAGE_KEY_BYTES_MAX`], and a panic in the middle of
/// filling a batch would leave half a job in it. An offending key or value is not
/// staged; [`Staging::check`] then fails the job. The method names and argument types
/// are fjall's batch's, so code that stages writes reads the same.
#[derive(Default)]
pub(crate) struct Staging {
    ops: Vec<(Keyspace, UserKey, Option<UserValue>)>,
    /// What the ops will take in the journal, roughly (for the disk guard).
    bytes: u64,
    /// The first key or value out of bounds.
    fault: Option<String>,
}

impl Staging {
    pub(crate) fn insert<K: Into<UserKey>, V: Into<UserValue>>(
        &mut self,
        keyspace: &Keyspace,
        key: K,
        value: V,
    ) {
        self.stage(keyspace, key.into(), Some(value.into()));
    }

    pub(crate) fn remove<K: Into<UserKey>>(&mut self, keyspace: &Keyspace, key: K) {
        self.stage(keyspace, key.into(), None);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn stage(&mut self, keyspace: &Keyspace, key: UserKey, value: Option<UserValue>) {
        let value_len = value.as_ref().map_or(0, |v| v.len());
        if let Some(fault) = storage_bounds_fault(&key, value_len) {
            self.fault.get_or_insert(fault);
            return;
        }
        self.bytes += (key.len() + value_len) as u64 + JOURNAL_ENTRY_OVERHEAD_BYTES;
        self.ops.push((keyspace.clone(), key, value));
    }

    /// Fails if anything was out of bounds: the job is a bug's victim, not the client's
    /// (input checks refuse such keys before they reach the writer), and nothing of it
    /// is written.
    fn check(&mut self) -> Result<()> {
        match self.fault.take() {
            Some(fault) => Err(Error::Internal(format!(
                "{fault}; nothing of it was written"
            ))),
            None => Ok(()),
        }
    }

    /// A fjall batch of the staged ops (checked, so fjall's own asserts cannot fire).
    fn into_batch(self, db: &Database, durability: Option<PersistMode>) -> fjall::OwnedWriteBatch {
        let mut batch = fjall::OwnedWriteBatch::with_capacity(db.clone(), self.ops.len() + 1)
            .durability(durability);
        for (keyspace, key, value) in self.ops {
            match value {
                Some(value) => batch.insert(&keyspace, key, value),
                None => batch.remove(&keyspace, key),
            }
        }
        batch
    }
}

/// What is wrong with a key and a value's length for the storage layer, if anything
/// (see [`STORAGE_KEY_BYTES_MAX`]).
fn storage_bounds_fault(key: &[u8], value_len: usize) -> Option<String> {
    if !(STORAGE_KEY_BYTES_MIN..=STORAGE_KEY_BYTES_MAX).contains(&key.len()) {
        Some(format!(
            "a storage key of {} bytes is outside the storage layer's bounds ({STORAGE_KEY_BYTES_MIN} to {STORAGE_KEY_BYTES_MAX} bytes)",
            key.len()
        ))
    } else if value_len > STORAGE_VALUE_BYTES_MAX {
        Some(format!(
            "a stored value of {value_len} bytes is over the storage layer's bound of {STORAGE_VALUE_BYTES_MAX} bytes"
        ))
    } else {
        None
    }
}

/// Runs one unit of work, turning a panic into that unit's [`Error::Internal`]. The
/// panic hook has already printed the panic and where it happened; this adds which
/// unit paid for it.
fn contain<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let message = panic_text(&*panic);
            eprintln!(
                "eddy: {what} panicked ({message}); it fails alone and nothing of it is written"
            );
            Err(Error::Internal(format!(
                "{what} failed on a bug ({message}); nothing of it was written"
            )))
        }
    }
}

/// Runs a completion, so that one whose code panics (it is the caller's) does not take
/// the writer down; its write is committed either way.
fn answer<T>(done: Completion<T>, r: Result<T>) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| done(r))) {
        eprintln!(
            "eddy: a write's completion panicked ({}); the write itself stands",
            panic_text(&*panic)
        );
    }
}

/// Reports a panic that unwinds through the commit of a group as fatal before the
/// group's completions are dropped (it is declared after them, so it drops first): the
/// writes' outcome is unknown, and the fatal hook must run before any caller could see
/// its completion vanish.
struct FatalOnUnwind<'a>(&'a Inner);

impl Drop for FatalOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.vitals.fatal(
                FaultKind::WriterCrashed,
                "the writer thread panicked while committing a group of writes (the panic is printed above)"
                    .into(),
            );
        }
    }
}

/// Commits a batch; unit tests can make it fail or panic (see [`Injected`]).
fn commit_batch(inner: &Inner, batch: fjall::OwnedWriteBatch) -> Result<(), fjall::Error> {
    #[cfg(test)]
    {
        if inner.injected.panic_commit.swap(false, Ordering::AcqRel) {
            panic!("injected panic in the commit");
        }
        if inner.injected.fail_commit.swap(false, Ordering::AcqRel) {
            return Err(fjall::Error::Io(std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            )));
        }
    }
    #[cfg(not(test))]
    let _ = inner;
    batch.commit()
}

fn commit_group(inner: &Inner, jobs: Vec<Job>, durability: Option<PersistMode>) {
    let mut group = Changes::default();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let _fatal_on_unwind = FatalOnUnwind(inner);
    for job in jobs {
        match job {
            Job::Control { apply, done } => {
                let mut staging = Staging::default();
                let r = contain("a catalog change", || apply(inner, &mut staging))
                    .and_then(|()| staging.check());
                if r.is_ok() {
                    group.staging.ops.extend(staging.ops);
                    group.staging.bytes += staging.bytes;
                }
                outcomes.push(Outcome::Unit(done, r));
            }
            Job::Items {
                mutations,
                transaction,
                hops,
                marker,
                by_ttl,
                done,
            } => {
                let job = JobSpec {
                    transaction,
                    hops,
                    marker,
                    by_ttl,
                };
                let mut changes = Changes::default();
                let r = contain("a write", || {
                    stage_items(inner, mutations, &job, &group.overlay, &mut changes)
                })
                .and_then(|applied| changes.staging.check().map(|()| applied));
                if r.is_ok() {
                    group.absorb(changes);
                }
                outcomes.push(Outcome::Items(done, r));
            }
        }
    }
    let last_seq = inner.seq.load(Ordering::Relaxed);
    if !group.heads.is_empty() {
        group
            .staging
            .insert(&inner.meta, b"seq_hwm".as_slice(), last_seq.to_be_bytes());
    }
    // Readers of these keys go to the tree until the commit has ended (see `cache.rs`).
    for (key, _) in &group.written {
        inner.cache.begin_write(key);
    }
    let commit_started = std::time::Instant::now();
    let bytes = group.staging.bytes;
    let committed = if group.staging.is_empty() {
        Ok(())
    } else {
        commit_batch(inner, group.staging.into_batch(&inner.db, durability))
    };
    for (key, value) in group.written {
        inner
            .cache
            .end_write(key, committed.as_ref().map(|()| value).map_err(|_| ()));
    }
    let commit_ms = commit_started.elapsed().as_millis();
    if commit_ms >= SLOW_COMMIT_MS {
        // The engine has no logger of its own; stderr reaches the operator's log.
        eprintln!(
            "eddy: slow commit group: {commit_ms} ms for {} jobs",
            outcomes.len()
        );
    }
    if let Err(e) = committed {
        // fjall is poisoned now, and the group's outcome is unknown (an fsync that
        // failed may still have left it in the journal): the hook runs before anyone
        // is answered. If it returns, only the jobs that failed on their own (and so
        // were not in the batch) get their answer.
        inner.storage_fault(
            &format!("committing a group of {} writes", outcomes.len()),
            &e,
        );
        for o in outcomes {
            match o {
                Outcome::Items(done, Err(e)) => answer(done, Err(e)),
                Outcome::Unit(done, Err(e)) => answer(done, Err(e)),
                Outcome::Items(..) | Outcome::Unit(..) => {}
            }
        }
        return;
    }
    inner.vitals.disk.spent(bytes);
    for (stats, n, bytes) in group.deltas {
        stats.add(n, bytes);
    }
    for (counters, n, bytes) in group.index_deltas {
        counters.add(n, bytes);
    }
    inner.committed_seq.store(last_seq, Ordering::Release);
    // Listeners are other subsystems' code; one that panics must not take the writer
    // (and every later write) with it. The commit stands either way.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| inner.publish_heads(&group.heads))) {
        eprintln!(
            "eddy: a commit listener panicked ({}); the commit stands",
            panic_text(&*panic)
        );
    }
    for o in outcomes {
        match o {
            Outcome::Items(done, r) => answer(done, r),
            Outcome::Unit(done, r) => answer(done, r),
        }
    }
}

/// How an item job's changes are written and recorded.
struct JobSpec {
    transaction: bool,
    hops: u8,
    marker: Option<Marker>,
    by_ttl: bool,
}

/// Evaluates an item job and stages its changes into `out` (its own, joined to the
/// group's only if this returns `Ok` with everything in bounds).
fn stage_items(
    inner: &Inner,
    mutations: Vec<Mutation>,
    job: &JobSpec,
    overlay: &HashMap<Vec<u8>, Option<Item>>,
    out: &mut Changes,
) -> Result<Vec<Applied>> {
    let staged = evaluate(inner, mutations, job.transaction, overlay)?;
    if let Some((key, value)) = &job.marker {
        out.staging.insert(&inner.meta, key.clone(), value.clone());
    }
    let mut applied = Vec::with_capacity(staged.len());
    for s in staged {
        if let Some(new) = &s.change {
            let stored = new.as_ref().map(StoredItem::encode);
            match &stored {
                Some(item) => out
                    .staging
                    .insert(&inner.items, s.key.clone(), item.slice().clone()),
                None => out.staging.remove(&inner.items, s.key.clone()),
            }
            out.written.push((s.key.clone(), stored));
            stage_index_entries(inner, &mut out.staging, &mut out.index_deltas, &s, new);
            let size = |i: &Option<Item>| i.as_ref().map_or(0, |i| item_size_bytes(i) as i64);
            let count = i64::from(new.is_some()) - i64::from(s.old.is_some());
            out.deltas
                .push((Arc::clone(&s.table.stats), count, size(new) - size(&s.old)));
            stage_record(
                inner,
                &mut out.staging,
                &mut out.heads,
                &s,
                new.as_ref(),
                job.hops,
                job.by_ttl,
            );
            out.overlay.insert(s.key.clone(), new.clone());
        }
        let new = match s.change {
            Some(new) => new,
            None => s.old.clone(),
        };
        applied.push(Applied { old: s.old, new });
    }
    Ok(applied)
}

/// Adds a staged item change's index entry changes to the staging (see `index.rs`).
fn stage_index_entries(
    inner: &Inner,
    staging: &mut Staging,
    deltas: &mut Vec<(Arc<IndexStats>, i64, i64)>,
    s: &Staged,
    new: &Option<Item>,
) {
    let indexes = s.table.stats.live_indexes();
    if indexes.is_empty() {
        return;
    }
    for c in crate::index::entry_changes(&s.table.def, &indexes, s.old.as_ref(), new.as_ref()) {
        if let Some(key) = c.remove {
            staging.remove(&inner.items, key);
        }
        if let Some((key, item)) = c.insert {
            staging.insert(&inner.items, key, StoredItem::encode(&item).slice().clone());
        }
        deltas.push((c.counters, c.items_delta, c.bytes_delta));
    }
}

/// Adds the change record of a staged item change to the staging, when the table's
/// stream is enabled. The sequence number it takes is gone even if the job then
/// fails: a gap is harmless, a number handed out twice would not be.
fn stage_record(
    inner: &Inner,
    staging: &mut Staging,
    heads: &mut Vec<ShardHead>,
    s: &Staged,
    new: Option<&Item>,
    hops: u8,
    by_ttl: bool,
) {
    let Some(stream) = read(&s.table.stats.stream).clone() else {
        return;
    };
    let names: Vec<&str> = s.table.def.key_names().collect();
    let Some(record) = encode_record(
        stream.view_type,
        &names,
        s.old.as_ref(),
        new,
        now_us(),
        hops,
        by_ttl,
    ) else {
        return;
    };
    // The shard is part of the item key (bytes 4..6, see `keys.rs`).
    let shard = s
        .key
        .get(4..6)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let seq = inner.seq.fetch_add(1, Ordering::Relaxed) + 1;
    staging.insert(&inner.records, record_key(stream.id, shard, seq), record);
    note_head(
        heads,
        ShardHead {
            stream_id: stream.id,
            shard,
            seq,
        },
    );
}

struct Staged {
    table: TableRef,
    key: Vec<u8>,
    old: Option<Item>,
    /// `Some(new state)` when the item changes; `None` when it does not (`Change::Keep`,
    /// or a write of what is already there).
    change: Option<Option<Item>>,
}

/// Evaluates a job's mutations against the current state; all succeed or the job fails.
fn evaluate(
    inner: &Inner,
    mutations: Vec<Mutation>,
    transaction: bool,
    overlay: &HashMap<Vec<u8>, Option<Item>>,
) -> Result<Vec<Staged>> {
    let mut staged: Vec<Staged> = Vec::with_capacity(mutations.len());
    // A transaction reports why each of its actions failed, as DynamoDB does, so it
    // goes on evaluating after a failure; nothing of it is staged once one failed.
    let mut reasons: Vec<CancellationReason> = Vec::new();
    let mut cancelled = false;
    for m in mutations {
        if is_deleted(&m.table) {
            return Err(Error::not_found("Requested resource not found"));
        }
        // fjall asserts on such a key in a read as in a write; input checks refuse
        // them before they are queued, so one here is a bug.
        if let Some(fault) = storage_bounds_fault(&m.key, 0) {
            return Err(Error::Internal(format!(
                "{fault}; nothing of it was written"
            )));
        }
        // A job may touch the same key twice only in a transaction, which DynamoDB
        // rejects up front; still read through earlier changes of this job to be safe.
        let earlier = staged
            .iter()
            .rev()
            .find(|s| s.key == m.key)
            .map(|s| s.change.clone().unwrap_or_else(|| s.old.clone()));
        let old = match earlier {
            Some(v) => v,
            None => match overlay.get(&m.key) {
                Some(v) => v.clone(),
                // The cache holds committed state: no write of this group has begun.
                None => match inner.cache.get(&m.key) {
                    Some(cached) => cached.map(|s| s.decode()).transpose()?,
                    None => match inner.items.get(&m.key)? {
                        Some(bytes) => Some(decode_item(&bytes)?),
                        None => None,
                    },
                },
            },
        };
        // An item written must fit the table's indexes, whichever path wrote it.
        let change = (m.apply)(old.as_ref()).and_then(|change| {
            if let Change::Put(item) = &change {
                crate::index::check_item(&m.table.stats.live_indexes(), item)?;
            }
            Ok(change)
        });
        let change = match change {
            Ok(change) => {
                if transaction {
                    reasons.push(CancellationReason::None);
                }
                change
            }
            Err(e) if transaction => {
                reasons.push(match e {
                    Error::ConditionalCheckFailed { item } => {
                        CancellationReason::ConditionalCheckFailed { item }
                    }
                    Error::Validation(message) => CancellationReason::ValidationError(message),
                    other => return Err(other),
                });
                cancelled = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if cancelled {
            continue;
        }
        let change = match change {
            Change::Put(item) => {
                if old.as_ref() == Some(&item) {
                    None
                } else {
                    Some(Some(item))
                }
            }
            Change::Delete if old.is_some() => Some(None),
            Change::Delete | Change::Keep => None,
        };
        staged.push(Staged {
            table: m.table,
            key: m.key,
            old,
            change,
        });
    }
    if cancelled {
        return Err(Error::TransactionCanceled { reasons });
    }
    Ok(staged)
}

pub(crate) use crate::clock::{now_ms, now_us};
pub(crate) use crate::sync::{lock, read, write};

/// Writes to fjall outside the writer thread, and what a storage failure means.
impl Inner {
    /// Commits writes made outside the writer (system keys, the catalog, trims and
    /// purges): refused like any write after a fatal fault or below the disk reserve,
    /// and a storage failure is fatal, as in the writer.
    pub(crate) fn commit_outside(
        &self,
        mut staging: Staging,
        durability: Option<PersistMode>,
        what: &str,
    ) -> Result<()> {
        staging.check()?;
        if staging.is_empty() {
            return Ok(());
        }
        self.vitals.admit(self.unflushed_bytes())?;
        let bytes = staging.bytes;
        commit_batch(self, staging.into_batch(&self.db, durability))
            .map_err(|e| self.storage_fault(what, &e))?;
        self.vitals.disk.spent(bytes);
        Ok(())
    }

    /// Bytes fjall holds in memtables (active and sealed) and will write to disk when
    /// it flushes them: the disk guard keeps that much free on top of the reserve.
    /// (`write_buffer_size` is marked experimental in fjall 3.1; it is one atomic load.)
    pub(crate) fn unflushed_bytes(&self) -> u64 {
        self.db.write_buffer_size()
    }

    /// Reports a write the storage refused: fjall poisons itself on a failed journal
    /// write or fsync and takes no write after it, so this is a fatal fault (the
    /// binary's hook ends the process). Returns the error for a caller that is still
    /// there to get one.
    pub(crate) fn storage_fault(&self, what: &str, e: &fjall::Error) -> Error {
        let message = format!("the storage failed while {what}: {e}");
        self.vitals.fatal(FaultKind::Storage, message.clone());
        Error::Storage(message)
    }
}

/// Durable key-value state for other subsystems (the trigger runtime keeps its
/// definitions and checkpoints here), so one data directory holds everything and one
/// fsync policy covers it.
impl Engine {
    /// Writes a key durably (fsync'd unless the store is in-memory or buffered).
    /// A key or value the storage layer cannot hold is an [`Error::Validation`]
    /// (`keys::check_storage_key`), never a panic inside fjall.
    pub fn system_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_system_entry(key, value)?;
        let mut staging = Staging::default();
        staging.insert(&self.inner.system, key, value);
        self.inner
            .commit_outside(staging, self.sync_mode(), "storing a system key")
    }

    /// Writes a key without waiting for the disk: it survives a crash of the process
    /// only once a later synced write (or the OS) flushed it. For state whose loss is
    /// harmless, such as a trigger checkpoint (a lost one means a redelivery, which
    /// at-least-once allows).
    pub fn system_put_relaxed(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_system_entry(key, value)?;
        let mut staging = Staging::default();
        staging.insert(&self.inner.system, key, value);
        self.inner
            .commit_outside(staging, None, "storing a system key")
    }

    pub fn system_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        crate::keys::check_storage_key(key)?;
        Ok(self.inner.system.get(key)?.map(|v| v.to_vec()))
    }

    pub fn system_delete(&self, key: &[u8]) -> Result<()> {
        crate::keys::check_storage_key(key)?;
        let mut staging = Staging::default();
        staging.remove(&self.inner.system, key);
        self.inner
            .commit_outside(staging, self.sync_mode(), "deleting a system key")
    }

    /// All keys with a prefix, in order. The empty prefix is every key; a prefix
    /// longer than a key can be is an error (it would bound a range read).
    pub fn system_scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if !prefix.is_empty() {
            crate::keys::check_storage_key(prefix)?;
        }
        let mut out = Vec::new();
        for kv in self.inner.system.prefix(prefix) {
            let (k, v) = kv.into_inner()?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn sync_mode(&self) -> Option<PersistMode> {
        let c = &self.inner.config;
        (!c.in_memory && c.durability == Durability::Sync).then_some(PersistMode::SyncData)
    }
}

/// Checks a `system` entry against the storage layer's bounds.
fn check_system_entry(key: &[u8], value: &[u8]) -> Result<()> {
    crate::keys::check_storage_key(key)?;
    if value.len() > crate::limits::STORAGE_VALUE_BYTES_MAX {
        return Err(Error::validation(format!(
            "a value of {} bytes is longer than the {} bytes the storage layer accepts",
            value.len(),
            crate::limits::STORAGE_VALUE_BYTES_MAX
        )));
    }
    Ok(())
}

/// Storage of the catalog in `meta`.
impl Engine {
    pub(crate) fn allocate_table_id(&self) -> Result<u32> {
        let next = match self.inner.meta.get(b"next_table_id")? {
            Some(v) => {
                let b: [u8; 4] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| Error::Storage("corrupt next_table_id".into()))?;
                u32::from_be_bytes(b)
            }
            None => 1,
        };
        Ok(next)
    }

    /// Writes (or removes) a table definition, durably, on its own (a change that
    /// touches nothing else, such as tags). A change that must commit together with
    /// other catalog state stages the definition in its writer job instead
    /// ([`Inner::stage_table_def`]).
    pub(crate) fn persist_table(&self, def: &TableDef) -> Result<()> {
        let mut staging = Staging::default();
        self.inner.stage_table_def(&mut staging, def, false, None)?;
        let durability = (!self.inner.config.in_memory).then_some(PersistMode::SyncData);
        self.inner
            .commit_outside(staging, durability, "storing a table definition")
    }

    /// Removes every item of a deleted table, in bounded chunks, off the request path.
    /// The thread holds the engine only while it removes a chunk. While the disk is
    /// below its reserve it waits; a chunk that panics, a fatal fault or the engine's
    /// end stop it, and the rest stays as unreachable garbage: the table id is never
    /// reused, so those items can never reappear.
    pub(crate) fn purge_table_items(&self, table_id: u32) {
        const PURGE_CHUNK_KEYS_MAX: usize = 10_000;
        let weak = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("eddy-purge".into())
            .spawn(move || {
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.closed.load(Ordering::Acquire) {
                        return;
                    }
                    let chunk = contain("purging a deleted table", || {
                        let mut staging = Staging::default();
                        for kv in inner
                            .items
                            .prefix(table_id.to_be_bytes())
                            .take(PURGE_CHUNK_KEYS_MAX)
                        {
                            staging.remove(&inner.items, kv.key()?);
                        }
                        if staging.is_empty() {
                            return Ok(false);
                        }
                        inner.commit_outside(staging, None, "purging a deleted table")?;
                        Ok(true)
                    });
                    match chunk {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(Error::Unavailable(_)) => {
                            drop(inner);
                            std::thread::sleep(std::time::Duration::from_millis(PURGE_RETRY_MS));
                        }
                        Err(e) => {
                            eprintln!("eddy: purging the items of table {table_id} stopped: {e}");
                            return;
                        }
                    }
                }
            });
        drop(spawned);
    }

    pub(crate) fn tables_snapshot(&self) -> Vec<TableRef> {
        read(&self.inner.tables).values().cloned().collect()
    }

    pub(crate) fn publish_table(&self, table: TableRef) {
        write(&self.inner.tables).insert(table.def.name.clone(), table);
    }
}

/// The catalog's durable and published state, changed by writer jobs (see `tables.rs`).
impl Inner {
    /// Stages a table definition, or its removal (with its TTL setting), and the next
    /// table id to hand out, into a writer job's batch: the definition commits together
    /// with whatever else the job changes (a stream, an index, a backfill cursor), so a
    /// catalog change is applied whole or not at all.
    pub(crate) fn stage_table_def(
        &self,
        staging: &mut Staging,
        def: &TableDef,
        removed: bool,
        next_table_id: Option<u32>,
    ) -> Result<()> {
        let key = [b"table/".as_slice(), def.name.as_bytes()].concat();
        if removed {
            staging.remove(&self.meta, key);
            // A deleted table's TTL setting goes with it (its id is never reused, so
            // this only tidies up).
            staging.remove(&self.meta, crate::ttl::ttl_key(def.id));
        } else {
            staging.insert(&self.meta, key, def.encode()?);
        }
        if let Some(id) = next_table_id {
            staging.insert(&self.meta, b"next_table_id", id.to_be_bytes());
        }
        Ok(())
    }

    /// Takes a table out of the catalog: from now on writes to it find no table. Run
    /// on the writer (in a job), so every write queued before it still commits.
    pub(crate) fn unpublish_table(&self, name: &str) -> Option<TableRef> {
        let t = write(&self.tables).remove(name);
        if let Some(t) = &t {
            t.stats.deleted.store(true, Ordering::Release);
        }
        t
    }
}

#[cfg(test)]
mod tests;
