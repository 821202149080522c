//! The backfill of a global secondary index that UpdateTable adds to a live table: it
//! indexes the items already there, in the background, as DynamoDB's does.
//!
//! UpdateTable only starts it: the writer keeps the new index from then on (`index/`,
//! in the UpdateTable job), its definition is stored as [`IndexBuild::Backfilling`]
//! (DescribeTable: `IndexStatus` `CREATING`, `Backfilling` true), and a builder thread
//! walks the table's items in key order, one bounded step at a time. Each step is a
//! writer job of its own (a control job, which commits alone): it reads the committed
//! items after the cursor, stages their index entries, and stages the new cursor in
//! the same fjall batch, so a crash keeps both or neither and the build resumes exactly
//! where it stopped, on the next `Engine::open`. Writes to the table go on between
//! steps and wait for at most one step. An item that violates the index's key (a key
//! attribute of another type, an empty value, a value over the key-size limits) is
//! left out and counted in the log; the build never fails. When the walk reaches the
//! end, a last step indexes what was written past the cursor meanwhile and the writer
//! starts holding writes to the index's key, then the definition becomes
//! [`IndexBuild::Backfilled`] (`ACTIVE`), under the catalog lock for that one job only.
//!
//! Deleting the index or its table stops the builder at its next step, which then
//! writes nothing (both are writer jobs too, so ordered with the steps).
//!
//! # Layout
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `meta` | `b"backfill/" + index_id u32` | `[CURSOR_VERSION]` + the storage key of the last table item visited |
//!
//! This module knows nothing of the wire JSON; it logs through `tracing`.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use fjall::Keyspace;

use crate::catalog::{TableDef, TableRef, TableStats, is_deleted};
use crate::codec::decode_item;
use crate::error::{Error, Result};
use crate::index::def::{BackfillCursor, IndexBuild, IndexDef, LiveIndex};
use crate::index::entries::{NoEntry, entry_key, project, table_key};
use crate::keys::{check_range, prefix_end, table_prefix};
use crate::meta::stage_table_def;
use crate::seal::Seal;
use crate::state::State;
use crate::stored::StoredItem;
use crate::sync::{lock, write};
use crate::value::item_size_bytes;
use crate::writer::staging::Staging;
use crate::writer::submit::control;

/// Items one backfill step reads at most: a write waits for at most one step. (Measured
/// in a debug build on a loaded 2-core machine, 50,000 small items: with 1,000 items a
/// step, a PutItem during the backfill took 40 ms at the median; with 256, 19 ms, and
/// the backfill took as long, about 6 s.)
const BACKFILL_STEP_ITEMS_MAX: usize = 256;
/// Stored bytes one backfill step reads at most (items are up to 400 KB each, so the
/// item bound alone would allow a step of 400 MB).
const BACKFILL_STEP_BYTES_MAX: usize = /* 1 MiB */ 1024 * 1024;
/// The builder's first pause after a failed step, doubled on each failure in a row.
const BACKFILL_RETRY_MS_MIN: u64 = 100;
/// The builder's longest pause between retries.
const BACKFILL_RETRY_MS_MAX: u64 = 30_000;
/// A running backfill logs its progress at most this often.
const BACKFILL_LOG_INTERVAL_MS: u64 = 5_000;

const CURSOR_PREFIX: &[u8] = b"backfill/";
/// The version of a stored cursor's form.
const CURSOR_VERSION: u8 = 1;

/// The `meta` key of index `index_id`'s backfill cursor.
pub(crate) fn cursor_key(index_id: u32) -> Vec<u8> {
    [CURSOR_PREFIX, &index_id.to_be_bytes()].concat()
}

fn encode_cursor(last: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + last.len());
    out.push(CURSOR_VERSION);
    out.extend_from_slice(last);
    out
}

/// The stored cursor of index `index_id`, if its backfill has visited any item. A
/// cursor in a form this build does not know is dropped with a warning: the backfill
/// then starts over, which is always correct (a step writes what the items say).
fn load_cursor(meta: &Keyspace, index_id: u32) -> Result<Option<Vec<u8>>> {
    let Some(v) = meta.get(cursor_key(index_id))? else {
        return Ok(None);
    };
    match v.split_first() {
        Some((&CURSOR_VERSION, last)) if !last.is_empty() => Ok(Some(last.to_vec())),
        _ => {
            tracing::warn!(index_id, "unreadable index backfill cursor: starting over");
            Ok(None)
        }
    }
}

/// Sets the counters of a table's indexes being backfilled from what is stored (on
/// open, as counters live in memory): the entries of the items its backfill has
/// visited (see [`BackfillCursor`]), whose cursor is loaded here. Complete indexes are
/// counted after open, with the table's items (`open.rs`).
pub(crate) fn count_backfilling_indexes(
    items: &Keyspace,
    seal: &Seal,
    meta: &Keyspace,
    def: &TableDef,
    stats: &TableStats,
) -> Result<()> {
    for live in stats.live_indexes().iter() {
        let Some(cursor) = &live.backfill else {
            continue;
        };
        let last = load_cursor(meta, live.def.id)?;
        let (n, bytes) = count_visited(items, seal, def, &live.def, last.as_deref())?;
        *lock(&cursor.last) = last;
        live.counters.item_count.store(n, Ordering::Relaxed);
        live.counters.size_bytes.store(bytes, Ordering::Relaxed);
    }
    Ok(())
}

/// The item count and size of `index`'s entries for table items up to `last`.
fn count_visited(
    items: &Keyspace,
    seal: &Seal,
    table: &TableDef,
    index: &IndexDef,
    last: Option<&[u8]>,
) -> Result<(i64, i64)> {
    let Some(last) = last else {
        return Ok((0, 0));
    };
    let (mut n, mut bytes) = (0i64, 0i64);
    for kv in items.prefix(index.id.to_be_bytes()) {
        let (k, v) = kv.into_inner()?;
        let entry = decode_item(&seal.open(&k, v)?)?;
        if table_key(table, &entry).is_some_and(|k| k.as_slice() <= last) {
            n += 1;
            bytes += item_size_bytes(&entry) as i64;
        }
    }
    Ok((n, bytes))
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy)]
struct Step {
    /// Table items read.
    read: u64,
    /// Items given an entry.
    indexed: u64,
    /// Items left out for an index-key violation.
    violations: u64,
    /// The walk reached the end of the table.
    at_end: bool,
    /// The table or the index is gone (deleted): the builder stops.
    gone: bool,
}

impl Step {
    fn add(&mut self, other: Step) {
        self.read += other.read;
        self.indexed += other.indexed;
        self.violations += other.violations;
    }
}

/// The live index `index_id` of `table`, while the table is not deleted.
fn live_index(table: &TableRef, index_id: u32) -> Option<LiveIndex> {
    if is_deleted(table) {
        return None;
    }
    table
        .stats
        .live_indexes()
        .iter()
        .find(|l| l.def.id == index_id)
        .cloned()
}

/// Indexes the table's items after `cursor`, at most `limits` (items, bytes) of them,
/// into `batch`, with the new cursor; moves the cursor and counts what it indexed.
/// Runs on the writer thread (in a control job).
fn walk(
    inner: &State,
    batch: &mut Staging,
    table: &TableDef,
    live: &LiveIndex,
    cursor: &BackfillCursor,
    limits: Option<(usize, usize)>,
) -> Result<Step> {
    let prefix = table_prefix(table.id);
    let from = match lock(&cursor.last).clone() {
        Some(last) => Bound::Excluded(last),
        None => Bound::Included(prefix.to_vec()),
    };
    let to = prefix_end(&prefix);
    let mut step = Step {
        at_end: true,
        ..Step::default()
    };
    let (mut bytes, mut indexed_bytes) = (0usize, 0i64);
    let mut last = None;
    for kv in inner.items.range(check_range((from, to))?) {
        let (k, v) = kv.into_inner()?;
        let v = inner.seal.open(&k, v)?;
        let item = decode_item(&v)?;
        match entry_key(table, &live.def, &item) {
            Ok(key) => {
                let projected = project(table, &live.def, &item);
                indexed_bytes += item_size_bytes(&projected) as i64;
                let stored = StoredItem::encode(&projected);
                let value = inner.seal.seal(&key, stored.slice());
                batch.insert(&inner.items, key, value);
                step.indexed += 1;
            }
            Err(NoEntry::Violation) => step.violations += 1,
            Err(NoEntry::Missing) => {}
        }
        step.read += 1;
        bytes += v.len();
        last = Some(k.to_vec());
        if limits.is_some_and(|(items, max)| step.read as usize >= items || bytes >= max) {
            step.at_end = false;
            break;
        }
    }
    if let Some(last) = last {
        batch.insert(&inner.meta, cursor_key(live.def.id), encode_cursor(&last));
        *lock(&cursor.last) = Some(last);
        live.counters.add(step.indexed as i64, indexed_bytes);
    }
    Ok(step)
}

/// Starts a builder for every index whose backfill an earlier run left unfinished
/// (on open), and forgets the cursors of indexes that are no longer being built (a
/// crash between deleting a table's definition and its cursors leaves them).
pub(crate) fn resume_backfills(state: &Arc<State>) {
    let tables = state.tables_snapshot();
    let building: Vec<u32> = tables
        .iter()
        .flat_map(|t| t.def.indexes.iter())
        .filter(|i| i.build == IndexBuild::Backfilling)
        .map(|i| i.id)
        .collect();
    let stray = state.meta.prefix(CURSOR_PREFIX).filter_map(|kv| {
        let key = kv.key().ok()?;
        let id = key.strip_prefix(CURSOR_PREFIX)?.try_into().ok();
        id.map(u32::from_be_bytes)
            .is_none_or(|id| !building.contains(&id))
            .then(|| key.to_vec())
    });
    for key in stray.collect::<Vec<_>>() {
        if let Err(e) = state.meta.remove(key) {
            tracing::warn!("cannot forget a stale index backfill cursor: {e}");
        }
    }
    for table in tables {
        for index in &table.def.indexes {
            if index.build == IndexBuild::Backfilling {
                tracing::info!(
                    table = %table.def.name,
                    index = %index.name,
                    "resuming the backfill of a global secondary index"
                );
                spawn_backfill(state, Arc::clone(&table), index.id);
            }
        }
    }
}

/// Starts the builder of index `index_id` of `table` on a thread of its own. The
/// thread holds the engine only during a step, so it never keeps a dropped engine
/// alive, and stops when the engine closes (the cursor is stored: the next open
/// resumes).
pub(crate) fn spawn_backfill(state: &Arc<State>, table: TableRef, index_id: u32) {
    let weak = Arc::downgrade(state);
    let name = table.def.name.clone();
    let spawned = std::thread::Builder::new()
        .name("eddy-backfill".into())
        .spawn(move || run_backfill(&weak, &table, index_id));
    if let Err(e) = spawned {
        // The index stays CREATING; the next open resumes its backfill.
        tracing::error!(table = %name, "cannot start an index backfill thread: {e}");
    }
}

/// One step of the backfill of index `index_id`: a writer job that indexes up to
/// [`BACKFILL_STEP_ITEMS_MAX`] items after the cursor.
fn backfill_step(state: &State, table: &TableRef, index_id: u32) -> Result<Step> {
    let report: Arc<Mutex<Step>> = Arc::default();
    let (t, r) = (Arc::clone(table), Arc::clone(&report));
    control(
        state,
        Box::new(move |inner, batch| {
            let step = match live_index(&t, index_id) {
                None => Step {
                    gone: true,
                    ..Step::default()
                },
                // Complete already (a finish whose definition was not stored yet).
                Some(LiveIndex { backfill: None, .. }) => Step {
                    at_end: true,
                    ..Step::default()
                },
                Some(l) => {
                    let cursor = l.backfill.clone().unwrap_or_default();
                    let limits = (BACKFILL_STEP_ITEMS_MAX, BACKFILL_STEP_BYTES_MAX);
                    walk(inner, batch, &t.def, &l, &cursor, Some(limits))?
                }
            };
            *lock(&r) = step;
            Ok(())
        }),
    )?;
    Ok(*lock(&report))
}

/// Ends the backfill of index `index_id`: one writer job indexes what was written
/// past the cursor since the last step, makes the writer hold writes to the
/// index's key and forgets the cursor; then the definition is stored and published
/// as [`IndexBuild::Backfilled`]. The catalog lock is held for that job only.
/// Returns what the last job indexed, or `None` if the table or the index is gone.
fn finish_backfill(state: &State, table: &TableRef, index_id: u32) -> Result<Option<Step>> {
    let _guard = lock(&state.catalog_lock);
    let current = match state.table(&table.def.name) {
        Ok(t) if t.def.id == table.def.id => t,
        _ => return Ok(None),
    };
    let building = |i: &IndexDef| i.id == index_id && i.build == IndexBuild::Backfilling;
    let Some(at) = current.def.indexes.iter().position(building) else {
        return Ok(None);
    };
    let report: Arc<Mutex<Step>> = Arc::default();
    let mut def = current.def.clone();
    def.indexes[at].build = IndexBuild::Backfilled;
    let (t, r, finished) = (Arc::clone(&current), Arc::clone(&report), def.clone());
    // The last walk, the index kept as complete, its cursor's removal and the
    // definition that says it is complete commit together.
    control(
        state,
        Box::new(move |inner, batch| {
            let Some(l) = live_index(&t, index_id) else {
                return Ok(());
            };
            if let Some(cursor) = &l.backfill {
                *lock(&r) = walk(inner, batch, &t.def, &l, cursor, None)?;
            }
            let list: Vec<LiveIndex> = t
                .stats
                .live_indexes()
                .iter()
                .map(|other| {
                    if other.def.id != index_id {
                        return other.clone();
                    }
                    let mut done = other.clone();
                    done.def.build = IndexBuild::Backfilled;
                    done.backfill = None;
                    done
                })
                .collect();
            stage_table_def(inner, batch, &finished, false, None)?;
            *write(&t.stats.indexes) = Arc::new(list);
            batch.remove(&inner.meta, cursor_key(index_id));
            Ok(())
        }),
    )?;
    state.publish_table(Arc::new(crate::catalog::Table {
        def,
        stats: Arc::clone(&current.stats),
    }));
    let step = *lock(&report);
    Ok(Some(step))
}

/// After a failed step: the writer may have moved the in-memory cursor and counted
/// a step whose batch did not commit, so both are set again from what is stored
/// (in a writer job, ordered with the writes).
fn repair_backfill(state: &State, table: &TableRef, index_id: u32) -> Result<()> {
    let t = Arc::clone(table);
    control(
        state,
        Box::new(move |inner, _| {
            let Some(l) = live_index(&t, index_id) else {
                return Ok(());
            };
            let Some(cursor) = &l.backfill else {
                return Ok(());
            };
            let last = load_cursor(&inner.meta, index_id)?;
            let (n, bytes) =
                count_visited(&inner.items, &inner.seal, &t.def, &l.def, last.as_deref())?;
            *lock(&cursor.last) = last;
            l.counters.item_count.store(n, Ordering::Relaxed);
            l.counters.size_bytes.store(bytes, Ordering::Relaxed);
            Ok(())
        }),
    )
}

/// The builder's loop: steps until the end of the table, then the finish; a failed
/// step is repaired and retried after a pause that grows to [`BACKFILL_RETRY_MS_MAX`].
fn run_backfill(weak: &Weak<State>, table: &TableRef, index_id: u32) {
    let index_name = table
        .def
        .indexes
        .iter()
        .find(|i| i.id == index_id)
        .map_or_else(|| index_id.to_string(), |i| i.name.clone());
    let (table_name, index) = (table.def.name.as_str(), index_name.as_str());
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut total = Step::default();
    let mut pause_ms = BACKFILL_RETRY_MS_MIN;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let outcome = backfill_step(&inner, table, index_id).and_then(|step| {
            total.add(step);
            if step.gone {
                return Ok(Some(None));
            }
            if !step.at_end {
                return Ok(None);
            }
            finish_backfill(&inner, table, index_id).map(Some)
        });
        let failure = match outcome {
            Ok(None) => {
                pause_ms = BACKFILL_RETRY_MS_MIN;
                if last_log.elapsed() >= Duration::from_millis(BACKFILL_LOG_INTERVAL_MS) {
                    last_log = Instant::now();
                    tracing::info!(
                        table = table_name,
                        index,
                        items_read = total.read,
                        items_indexed = total.indexed,
                        index_key_violations = total.violations,
                        "backfilling a global secondary index"
                    );
                }
                continue;
            }
            Ok(Some(Some(last))) => {
                total.add(last);
                tracing::info!(
                    table = table_name,
                    index,
                    items_read = total.read,
                    items_indexed = total.indexed,
                    index_key_violations = total.violations,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "global secondary index backfilled: ACTIVE"
                );
                return;
            }
            Ok(Some(None)) => {
                tracing::info!(
                    table = table_name,
                    index,
                    "index backfill stopped: the table or the index was deleted"
                );
                return;
            }
            Err(Error::ShuttingDown) => return,
            Err(e) => e,
        };
        tracing::warn!(
            table = table_name,
            index,
            "index backfill step failed, retrying in {pause_ms} ms: {failure}"
        );
        if let Err(e) = repair_backfill(&inner, table, index_id) {
            tracing::warn!(
                table = table_name,
                index,
                "index backfill repair failed: {e}"
            );
        }
        drop(inner);
        std::thread::sleep(Duration::from_millis(pause_ms));
        pause_ms = (pause_ms * 2).min(BACKFILL_RETRY_MS_MAX);
    }
}

#[cfg(test)]
mod tests;
