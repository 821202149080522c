//! Opening an engine: the fjall database and its keyspaces, the format check, the
//! catalog, streams and client tokens loaded from `meta`, the table counters counted,
//! and then the writer and the background threads (trimmer, Time to Live sweeper,
//! watchdog, reaper, unfinished backfills) started.
//!
//! It owns startup order; it must not know any operation's request shapes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use fjall::config::PinningPolicy;
use fjall::{Database, KeyspaceCreateOptions, PersistMode};

use crate::buffers::WriteBuffers;
use crate::cache::ItemCache;
use crate::catalog::{Table, TableDef, TableRef, TableStats};
use crate::clock::now_ms;
use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::health::{DiskGuard, Vitals};
use crate::index::def::IndexStats;
use crate::limits::WRITE_QUEUE_DEPTH_MAX;
use crate::meta::{count_items, load_ttl};
use crate::seal::Seal;
#[cfg(test)]
use crate::state::Injected;
use crate::state::State;
use crate::stream::registry::StreamRegistry;
use crate::sync::{lock, read, write};
use crate::tokens::ClientTokens;
use crate::writer::thread::writer_main;

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
/// How often the watchdog asks fjall whether it still takes writes.
const STORAGE_PROBE_INTERVAL_MS: u64 = 1000;

/// The on-disk format this build reads and writes.
const FORMAT_VERSION: u8 = 1;
/// Opens (or creates) the store, loads the catalog, starts the writer and the
/// background threads.
pub(crate) fn open(config: EngineConfig) -> Result<Arc<State>> {
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
    // Point reads (GetItem, and every write's read of the old item) look each key up
    // in the filter and index of every level. fjall pins those blocks in memory only
    // for the first levels; below, each lookup fetched them through the block cache,
    // whole, and on a table larger than the cache that was most of the read: measured,
    // GetItem at 10 M items (960 MB) ran at 0.05 of its rate at 20 k items. Pinned on
    // every level (unpartitioned) they cost, by their format, a few bytes per item
    // stored (not measured apart).
    let items = db.keyspace("items", || {
        options()
            .filter_block_pinning_policy(PinningPolicy::all(true))
            .index_block_pinning_policy(PinningPolicy::all(true))
            .filter_block_partitioning_policy(PinningPolicy::all(false))
            .index_block_partitioning_policy(PinningPolicy::all(false))
    })?;
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
    let seal = Seal::new(config.seal_key.clone());
    seal.check_directory(&meta)?;
    let streams = StreamRegistry::load(&meta, &records)?;
    let client_tokens = ClientTokens::load(&meta, now_ms())?;
    // The items as they are before any write of this run: what the counts below read,
    // while new writes add their changes to the same counters.
    let before_writes = db.snapshot();
    let mut tables = BTreeMap::new();
    for kv in meta.prefix(b"table/") {
        let (_, v) = kv.into_inner()?;
        let def = TableDef::decode(&v)?;
        let stats = Arc::new(TableStats::with_indexes(&def.indexes));
        // The items themselves and the complete indexes are counted after open
        // (`count_in_background`); an index being backfilled is counted here, with
        // the cursor its backfill resumes from.
        crate::backfill::count_backfilling_indexes(&items, &seal, &meta, &def, &stats)?;
        *write(&stats.ttl_attribute) = load_ttl(&meta, def.id)?;
        *write(&stats.stream) = read(&streams.defs)
            .values()
            .find(|s| s.table_id == def.id && s.is_enabled())
            .cloned();
        let arn = format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            config.region, config.account_id, def.name
        );
        stats.capacity.configure(
            &config.capacity_clock,
            crate::throughput::capacity_spec(&def, arn, config.capacity_accounting_off),
        );
        tables.insert(def.name.clone(), Arc::new(Table { def, stats }));
    }
    let plan = to_count(&tables);
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
    let inner = Arc::new(State {
        cache: ItemCache::new(config.item_cache_bytes),
        buffers,
        vitals,
        config,
        db,
        items,
        seal,
        meta,
        records,
        system,
        streams,
        seq: AtomicU64::new(last_seq),
        committed_seq: AtomicU64::new(last_seq),
        closed: AtomicBool::new(false),
        counts_ready: AtomicBool::new(false),
        count_thread: Mutex::new(None),
        counts_signal: (Mutex::new(()), std::sync::Condvar::new()),
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
    count_in_background(&inner, before_writes, plan)?;
    crate::stream::trim::start_trimmer(&inner);
    crate::ttl::start_ttl_sweeper(&inner);
    start_watchdog(&inner);
    crate::reaper::start_reaper(&inner);
    crate::backfill::resume_backfills(&inner);
    Ok(inner)
}

/// Counts every table's items and complete indexes as `before_writes` sees them, on a
/// thread of its own, adding them to the counters the writes of this run change; then
/// marks the counts ready (`State::wait_counts`). Counting reads and decodes every
/// item (measured: 9 s at 10 M items), which is why the server does not wait for it
/// to serve: only the counts (DescribeTable's `ItemCount` and `TableSizeBytes`) do.
fn count_in_background(
    inner: &Arc<State>,
    before_writes: fjall::Snapshot,
    plan: Vec<ToCount>,
) -> Result<()> {
    let counting = Arc::clone(inner);
    let handle = std::thread::Builder::new()
        .name("eddy-count".into())
        .spawn(move || {
            // A panic here is a bug in decoding a stored item: as fatal as an error,
            // and either way the counts are marked ready, so nobody waits on them.
            let counted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                count_tables(&counting, &before_writes, &plan)
            }))
            .unwrap_or_else(|panic| {
                Err(Error::Internal(format!(
                    "the count panicked: {}",
                    crate::error::panic_text(&*panic)
                )))
            });
            if let Err(e) = counted {
                counting.vitals.fatal(
                    crate::health::FaultKind::Storage,
                    format!("the storage failed while counting the items on open: {e}"),
                );
            }
            counting.set_counts_ready();
        })
        .map_err(|e| Error::Storage(format!("cannot start the counting thread: {e}")))?;
    // Shutdown stops and joins it, so that no count outlives the engine's storage.
    *lock(&inner.count_thread) = Some(handle);
    Ok(())
}

/// What the count after open adds to: a table's counters and those of its indexes
/// that were complete when it opened (an index being backfilled is counted on open,
/// and one completed during the count has its counters set by its backfill).
struct ToCount {
    id: u32,
    table: Arc<TableStats>,
    indexes: Vec<(u32, Arc<IndexStats>)>,
}

fn to_count(tables: &BTreeMap<String, TableRef>) -> Vec<ToCount> {
    tables
        .values()
        .map(|t| ToCount {
            id: t.def.id,
            table: Arc::clone(&t.stats),
            indexes: t
                .stats
                .live_indexes()
                .iter()
                .filter(|l| l.backfill.is_none())
                .map(|l| (l.def.id, Arc::clone(&l.counters)))
                .collect(),
        })
        .collect()
}

fn count_tables(inner: &State, before_writes: &fjall::Snapshot, plan: &[ToCount]) -> Result<()> {
    let stop = &inner.closed;
    for t in plan {
        let Some((n, bytes)) = count_items(before_writes, &inner.items, &inner.seal, t.id, stop)?
        else {
            return Ok(());
        };
        t.table.add(n, bytes);
        for (id, counters) in &t.indexes {
            let Some((n, bytes)) =
                count_items(before_writes, &inner.items, &inner.seal, *id, stop)?
            else {
                return Ok(());
            };
            counters.add(n, bytes);
        }
    }
    Ok(())
}

/// Looks every [`STORAGE_PROBE_INTERVAL_MS`] whether fjall still takes writes: a
/// memtable flush or a compaction that failed in fjall's own threads poisons it
/// without any commit of ours failing, and the engine must not look healthy until
/// the next write finds out.
fn start_watchdog(state: &Arc<State>) {
    let interval = std::time::Duration::from_millis(STORAGE_PROBE_INTERVAL_MS);
    state.spawn_periodic("eddy-watchdog", interval, |inner| {
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
