//! The shared state every operation works on: the fjall keyspaces, the published
//! catalog, the stream registry, the item cache, the vitals and the writer's queue.
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
//! | `meta` | `b"txtoken/" + completed_ms u64 + token` | the transaction's `u128` fingerprint, see `tokens.rs` |
//! | `meta` | `b"backfill/" + index_id u32` | an unfinished index backfill's cursor, see `backfill.rs` |
//! | `meta` | `b"seal_check"` | present once the directory was opened with an encryption key: a sealed known text, see `seal.rs` |
//! | `items` | `[table_id u32][shard u16][hash u64][enc(pk)][enc(sk)]?`, see `keys.rs` | the item, see `codec.rs` |
//! | `items` | `[index_id u32][shard u16][hash u64][enc(index keys)][enc(table keys)]`, see `index/` | the item as the index projects it |
//! | `streams`, `meta` | the stream log and its catalog, see `stream/` | |
//! | `system` | any key of another subsystem (trigger definitions, checkpoints) | its bytes |
//!
//! With an encryption key (`EngineConfig::seal_key`) every value of `items`, `streams`
//! and `system` is sealed (`seal.rs`: `0xE5`, nonce, AES-256-GCM ciphertext and tag, the
//! storage key as associated data); without one it is stored as the table shows. Keys
//! are never sealed: their byte order is the order every range read depends on, so the
//! encoded key attributes of tables and indexes stay in clear. `meta` stays in clear
//! too: it holds names, schemas and counters, read before any value is opened.
//!
//! The data directory also holds `reaping/`: hard links the reaper (`reaper.rs`) keeps
//! to fjall's table and journal files, so that freeing a deleted file happens on its
//! thread and not under fjall's version lock. It is emptied on every open.
//!
//! It owns the state and the few primitives every operation needs (a table by name, a
//! point read through the cache, a write outside the writer, a background loop); it
//! must not know any operation, nor the facade (`engine.rs`) that calls them.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, RwLock};

use fjall::{Database, Keyspace, PersistMode};

use crate::buffers::WriteBuffers;
use crate::cache::ItemCache;
use crate::catalog::TableRef;
use crate::config::{Durability, EngineConfig};
use crate::error::{Error, Result, panic_text};
use crate::health::{FaultKind, Health, StorageState, Vitals, WriterState};
use crate::seal::Seal;
use crate::stored::StoredItem;
use crate::stream::registry::StreamRegistry;
use crate::sync::{lock, read, write};
use crate::tokens::ClientTokens;
use crate::value::Item;
use crate::writer::job::Job;
use crate::writer::staging::Staging;

/// The engine's shared state; the facade and every background thread hold it in an
/// `Arc`.
pub(crate) struct State {
    pub(crate) config: EngineConfig,
    pub(crate) db: Database,
    pub(crate) items: Keyspace,
    /// Seals the values of `items` and `records` (a no-op without a key; `seal.rs`).
    pub(crate) seal: Seal,
    /// Point reads of `items` go through it; the writer keeps it coherent.
    pub(crate) cache: ItemCache,
    /// The bound on fjall's memtables, kept by the writer.
    pub(crate) buffers: WriteBuffers,
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
    /// Set once the items stored before this run are counted (`open.rs`).
    pub(crate) counts_ready: AtomicBool,
    /// The thread that counts them, joined at shutdown.
    pub(crate) count_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Notified when `counts_ready` is set (its mutex guards nothing else).
    pub(crate) counts_signal: (Mutex<()>, std::sync::Condvar),
    /// Live tables by name. A `BTreeMap` because ListTables pages in name order.
    pub(crate) tables: RwLock<BTreeMap<String, TableRef>>,
    /// Serializes catalog changes (create, delete, update) with each other.
    pub(crate) catalog_lock: Mutex<()>,
    /// Where the Time to Live sweeper resumes in each table (see `ttl.rs`).
    pub(crate) ttl_cursors: Mutex<HashMap<u32, Vec<u8>>>,
    /// The TransactWriteItems client request tokens of the idempotency window (kept
    /// durably in `meta`, loaded on open).
    pub(crate) client_tokens: Arc<ClientTokens>,
    /// The fatal fault, if one happened, and the disk guard (see `health.rs`).
    pub(crate) vitals: Vitals,
    /// The writer's queue (`writer/`); taken at shutdown.
    pub(crate) writer: Mutex<Option<SyncSender<Job<State>>>>,
    pub(crate) writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
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

/// How long DescribeTable waits for the counts of the items stored before this run
/// (`open.rs`) before it answers with what is counted so far.
const COUNTS_WAIT_MS_MAX: u64 = 60_000;

impl State {
    /// Waits until the items stored before this run are counted, or for
    /// [`COUNTS_WAIT_MS_MAX`]; true if they are.
    pub(crate) fn wait_counts(&self) -> bool {
        if self.counts_ready.load(Ordering::Acquire) {
            return true;
        }
        let (m, cv) = &self.counts_signal;
        let guard = lock(m);
        let _ = cv.wait_timeout_while(
            guard,
            std::time::Duration::from_millis(COUNTS_WAIT_MS_MAX),
            |()| !self.counts_ready.load(Ordering::Acquire),
        );
        self.counts_ready.load(Ordering::Acquire)
    }

    /// Marks the counts of the items stored before this run ready, and wakes whoever
    /// waits for them.
    pub(crate) fn set_counts_ready(&self) {
        let (m, cv) = &self.counts_signal;
        let _guard = lock(m);
        self.counts_ready.store(true, Ordering::Release);
        cv.notify_all();
    }

    pub(crate) fn table(&self, name: &str) -> Result<TableRef> {
        read(&self.tables)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("Requested resource not found"))
    }

    pub(crate) fn tables_snapshot(&self) -> Vec<TableRef> {
        read(&self.tables).values().cloned().collect()
    }

    pub(crate) fn publish_table(&self, table: TableRef) {
        // The throughput the definition sets is in force from the moment it is visible.
        let spec = crate::throughput::capacity_spec(
            &table.def,
            self.table_arn(&table.def.name),
            self.config.capacity_accounting_off,
        );
        table
            .stats
            .capacity
            .configure(&self.config.capacity_clock, spec);
        write(&self.tables).insert(table.def.name.clone(), table);
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

    /// The ARN of table `name`.
    pub(crate) fn table_arn(&self, name: &str) -> String {
        let c = &self.config;
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            c.region, c.account_id
        )
    }

    /// Reads one item by its storage key.
    pub(crate) fn read_item(&self, key: &[u8]) -> Result<Option<Item>> {
        self.read_stored(key)?.map(|s| s.decode()).transpose()
    }

    /// Reads one item by its storage key, as stored, through the item cache.
    pub(crate) fn read_stored(&self, key: &[u8]) -> Result<Option<StoredItem>> {
        let cache = &self.cache;
        if let Some(hit) = cache.get(key) {
            return Ok(hit);
        }
        let ticket = cache.ticket(key);
        let item = match self.items.get(key)? {
            Some(v) => Some(StoredItem::from_slice(self.seal.open(key, v)?)),
            None => None,
        };
        if let Some(ticket) = ticket {
            cache.fill(key, ticket, item.as_ref());
        }
        Ok(item)
    }

    /// Whether writes can be served, and if not, why (see `health.rs`).
    pub(crate) fn health(&self) -> Health {
        let inner = self;
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
        self: &Arc<Self>,
        name: &str,
        interval: std::time::Duration,
        mut tick: impl FnMut(&State) -> bool + Send + 'static,
    ) {
        let weak = Arc::downgrade(self);
        let thread = name.to_string();
        let _ = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let Some(state) = weak.upgrade() else { return };
                    if state.closed.load(Ordering::Acquire) {
                        return;
                    }
                    // A tick that panics is that tick's fault: the next one runs as
                    // usual (the panic itself was printed by the panic hook).
                    match catch_unwind(AssertUnwindSafe(|| tick(&state))) {
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

    /// Stops taking writes, lets the writer finish what is queued, and flushes.
    pub(crate) fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(h) = lock(&self.count_thread).take() {
            let _ = h.join();
        }
        lock(&self.writer).take();
        if let Some(h) = lock(&self.writer_thread).take() {
            let _ = h.join();
        }
        // After a fatal fault fjall refuses this too, and there is nothing new to say.
        if self.vitals.fault().is_none()
            && let Err(e) = self.db.persist(PersistMode::SyncAll)
        {
            self.storage_fault("flushing the journal at shutdown", &e);
        }
    }

    /// How a write outside the writer is made durable: as the writer's commits are.
    pub(crate) fn sync_mode(&self) -> Option<PersistMode> {
        let c = &self.config;
        (!c.in_memory && c.durability == Durability::Sync).then_some(PersistMode::SyncData)
    }
}

/// Writes to fjall outside the writer thread, and what a storage failure means.
impl State {
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
        let bytes = staging.bytes();
        self.commit_batch(staging.into_batch(&self.db, durability))
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

impl State {
    /// Commits a batch; unit tests can make it fail or panic (see [`Injected`]).
    pub(crate) fn commit_batch(&self, batch: fjall::OwnedWriteBatch) -> Result<(), fjall::Error> {
        let inner = self;
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
}

#[cfg(test)]
mod tests {
    use crate::EngineConfig;
    use crate::engine::Engine;

    #[test]
    fn the_item_cache_keeps_its_own_copy_of_an_item_read_from_a_table_file() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
        let state = &engine.state;
        // A data block's worth of values, flushed from the memtable to a table file.
        for i in 0..64u8 {
            state.items.insert([b'k', i], vec![i; 100]).unwrap();
        }
        state.items.rotate_memtable_and_wait().unwrap();
        let key = [b'k', 7];
        let read = state.read_stored(&key).unwrap().unwrap();
        let cached = state.cache.get(&key).unwrap().unwrap();
        assert_eq!(cached, read);
        // The next read is served from the block cache: a view into the same block.
        let again = state.items.get(key).unwrap().unwrap();
        assert_eq!(
            again.as_ptr(),
            read.slice().as_ptr(),
            "fjall's reads are views into the cached block"
        );
        assert_ne!(
            cached.slice().as_ptr(),
            again.as_ptr(),
            "the item cache holds a copy, not a view into the block"
        );
    }
}
