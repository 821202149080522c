//! The backfill of a global secondary index that UpdateTable adds to a live table: it
//! indexes the items already there, in the background, as DynamoDB's does.
//!
//! UpdateTable only starts it: the writer keeps the new index from then on (`index.rs`,
//! [`Engine::start_index`]), its definition is stored as [`IndexBuild::Backfilling`]
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
use crate::index::{
    BackfillCursor, IndexBuild, IndexDef, LiveIndex, NoEntry, entry_key, project, table_key,
};
use crate::keys::{check_range, prefix_end, table_prefix};
use crate::store::{Engine, Inner, count_items, lock, write};
use crate::stored::StoredItem;
use crate::value::item_size_bytes;

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

/// Sets the counters of a table's indexes from what is stored (on open, as counters
/// live in memory): a complete index counts all its entries, an index being backfilled
/// only the entries of the items its backfill has visited (see [`BackfillCursor`]),
/// whose cursor is loaded here.
pub(crate) fn count_indexes(
    items: &Keyspace,
    meta: &Keyspace,
    def: &TableDef,
    stats: &TableStats,
) -> Result<()> {
    for live in stats.live_indexes().iter() {
        let (n, bytes) = match &live.backfill {
            None => count_items(items, live.def.id)?,
            Some(cursor) => {
                let last = load_cursor(meta, live.def.id)?;
                let counted = count_visited(items, def, &live.def, last.as_deref())?;
                *lock(&cursor.last) = last;
                counted
            }
        };
        live.counters.item_count.store(n, Ordering::Relaxed);
        live.counters.size_bytes.store(bytes, Ordering::Relaxed);
    }
    Ok(())
}

/// The item count and size of `index`'s entries for table items up to `last`.
fn count_visited(
    items: &Keyspace,
    table: &TableDef,
    index: &IndexDef,
    last: Option<&[u8]>,
) -> Result<(i64, i64)> {
    let Some(last) = last else {
        return Ok((0, 0));
    };
    let (mut n, mut bytes) = (0i64, 0i64);
    for kv in items.prefix(index.id.to_be_bytes()) {
        let (_, v) = kv.into_inner()?;
        let entry = decode_item(&v)?;
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
    inner: &Inner,
    batch: &mut crate::store::Staging,
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
        let item = decode_item(&v)?;
        match entry_key(table, &live.def, &item) {
            Ok(key) => {
                let projected = project(table, &live.def, &item);
                indexed_bytes += item_size_bytes(&projected) as i64;
                let stored = StoredItem::encode(&projected);
                batch.insert(&inner.items, key, stored.slice().clone());
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

impl Engine {
    /// Starts a builder for every index whose backfill an earlier run left unfinished
    /// (on open), and forgets the cursors of indexes that are no longer being built (a
    /// crash between deleting a table's definition and its cursors leaves them).
    pub(crate) fn resume_backfills(&self) {
        let tables = self.tables_snapshot();
        let building: Vec<u32> = tables
            .iter()
            .flat_map(|t| t.def.indexes.iter())
            .filter(|i| i.build == IndexBuild::Backfilling)
            .map(|i| i.id)
            .collect();
        let stray = self.inner.meta.prefix(CURSOR_PREFIX).filter_map(|kv| {
            let key = kv.key().ok()?;
            let id = key.strip_prefix(CURSOR_PREFIX)?.try_into().ok();
            id.map(u32::from_be_bytes)
                .is_none_or(|id| !building.contains(&id))
                .then(|| key.to_vec())
        });
        for key in stray.collect::<Vec<_>>() {
            if let Err(e) = self.inner.meta.remove(key) {
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
                    self.spawn_backfill(Arc::clone(&table), index.id);
                }
            }
        }
    }

    /// Starts the builder of index `index_id` of `table` on a thread of its own. The
    /// thread holds the engine only during a step, so it never keeps a dropped engine
    /// alive, and stops when the engine closes (the cursor is stored: the next open
    /// resumes).
    pub(crate) fn spawn_backfill(&self, table: TableRef, index_id: u32) {
        let weak = Arc::downgrade(&self.inner);
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
    fn backfill_step(&self, table: &TableRef, index_id: u32) -> Result<Step> {
        let report: Arc<Mutex<Step>> = Arc::default();
        let (t, r) = (Arc::clone(table), Arc::clone(&report));
        self.control(Box::new(move |inner, batch| {
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
        }))?;
        Ok(*lock(&report))
    }

    /// Ends the backfill of index `index_id`: one writer job indexes what was written
    /// past the cursor since the last step, makes the writer hold writes to the
    /// index's key and forgets the cursor; then the definition is stored and published
    /// as [`IndexBuild::Backfilled`]. The catalog lock is held for that job only.
    /// Returns what the last job indexed, or `None` if the table or the index is gone.
    fn finish_backfill(&self, table: &TableRef, index_id: u32) -> Result<Option<Step>> {
        let _guard = lock(&self.inner.catalog_lock);
        let current = match self.table(&table.def.name) {
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
        self.control(Box::new(move |inner, batch| {
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
            inner.stage_table_def(batch, &finished, false, None)?;
            *write(&t.stats.indexes) = Arc::new(list);
            batch.remove(&inner.meta, cursor_key(index_id));
            Ok(())
        }))?;
        self.publish_table(Arc::new(crate::catalog::Table {
            def,
            stats: Arc::clone(&current.stats),
        }));
        let step = *lock(&report);
        Ok(Some(step))
    }

    /// After a failed step: the writer may have moved the in-memory cursor and counted
    /// a step whose batch did not commit, so both are set again from what is stored
    /// (in a writer job, ordered with the writes).
    fn repair_backfill(&self, table: &TableRef, index_id: u32) -> Result<()> {
        let t = Arc::clone(table);
        self.control(Box::new(move |inner, _| {
            let Some(l) = live_index(&t, index_id) else {
                return Ok(());
            };
            let Some(cursor) = &l.backfill else {
                return Ok(());
            };
            let last = load_cursor(&inner.meta, index_id)?;
            let (n, bytes) = count_visited(&inner.items, &t.def, &l.def, last.as_deref())?;
            *lock(&cursor.last) = last;
            l.counters.item_count.store(n, Ordering::Relaxed);
            l.counters.size_bytes.store(bytes, Ordering::Relaxed);
            Ok(())
        }))
    }
}

/// The builder's loop: steps until the end of the table, then the finish; a failed
/// step is repaired and retried after a pause that grows to [`BACKFILL_RETRY_MS_MAX`].
fn run_backfill(weak: &Weak<Inner>, table: &TableRef, index_id: u32) {
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
        let engine = Engine { inner };
        let outcome = engine.backfill_step(table, index_id).and_then(|step| {
            total.add(step);
            if step.gone {
                return Ok(Some(None));
            }
            if !step.at_end {
                return Ok(None);
            }
            engine.finish_backfill(table, index_id).map(Some)
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
        if let Err(e) = engine.repair_backfill(table, index_id) {
            tracing::warn!(
                table = table_name,
                index,
                "index backfill repair failed: {e}"
            );
        }
        drop(engine);
        std::thread::sleep(Duration::from_millis(pause_ms));
        pause_ms = (pause_ms * 2).min(BACKFILL_RETRY_MS_MAX);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{BillingMode, CreateTableInput, KeyAttribute, KeyRole};
    use crate::index::{IndexInput, IndexKind, IndexUpdate};
    use crate::items::{BatchWriteRequest, PutItemInput, QueryInput, ScanInput};
    use crate::keys::KeyType;
    use crate::store::EngineConfig;
    use crate::tables::UpdateTableInput;
    use crate::value::{AttributeValue, Item};

    /// How long a test waits for a backfill to finish (a debug build indexes a few
    /// thousand items a second on a loaded 2-core machine; this is far beyond).
    const BACKFILL_WAIT_MS_MAX: u64 = 60_000;

    fn open(dir: &Path) -> Engine {
        // A closed engine's threads let go of the data directory's lock within a step.
        let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
        loop {
            match Engine::open(EngineConfig::new(dir)) {
                Ok(e) => return e,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("reopening: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("reopen: {e}"),
            }
        }
    }

    fn attr(name: &str, key_type: KeyType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type,
        }
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn create(engine: &Engine, table: &str) {
        engine
            .create_table(CreateTableInput {
                name: table.into(),
                attribute_definitions: vec![attr("pk", KeyType::S)],
                key_schema: vec![("pk".into(), KeyRole::Hash)],
                billing_mode: Some(BillingMode::PayPerRequest),
                ..CreateTableInput::default()
            })
            .unwrap();
    }

    fn write(engine: &Engine, table: &str, items: Vec<Item>) {
        for chunk in items.chunks(25) {
            let (tx, rx) = std::sync::mpsc::channel();
            let puts = chunk.iter().cloned().map(BatchWriteRequest::Put).collect();
            engine.batch_write_item(
                vec![(table.into(), puts)],
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            rx.recv().unwrap().unwrap();
        }
    }

    fn put(engine: &Engine, table: &str, item: Item) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        let input = PutItemInput {
            table: table.into(),
            item,
            ..PutItemInput::default()
        };
        engine.put_item(
            input,
            Box::new(move |r| {
                let _ = tx.send(r.map(|_| ()));
            }),
        );
        rx.recv().unwrap()
    }

    /// An UpdateTable that adds GSI `name` on `hash` (S) [+ `range` (S)], ALL.
    fn add_index(engine: &Engine, table: &str, name: &str, hash: &str, range: Option<&str>) {
        let mut key_schema = vec![(hash.to_string(), KeyRole::Hash)];
        let mut definitions = vec![attr(hash, KeyType::S)];
        if let Some(r) = range {
            key_schema.push((r.to_string(), KeyRole::Range));
            definitions.push(attr(r, KeyType::S));
        }
        let input = UpdateTableInput {
            attribute_definitions: Some(definitions),
            index_updates: vec![IndexUpdate::Create(IndexInput {
                name: name.into(),
                kind: IndexKind::Global,
                key_schema,
                projection_type: Some("ALL".into()),
                non_key_attributes: None,
                throughput: None,
            })],
            ..UpdateTableInput::default()
        };
        let desc = engine.update_table(table, input).unwrap();
        // UpdateTable returns with the index still to be built.
        let ix = desc.def.index(name).unwrap();
        assert_eq!(ix.build, IndexBuild::Backfilling);
    }

    /// Waits until index `name` is built; returns its item count.
    fn wait_built(engine: &Engine, table: &str, name: &str) -> i64 {
        let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
        loop {
            let d = engine.describe_table(table).unwrap();
            let at = d.def.indexes.iter().position(|i| i.name == name).unwrap();
            if d.def.indexes[at].build == IndexBuild::Backfilled {
                return d.index_counts[at].0;
            }
            assert!(Instant::now() < deadline, "{name} is not built");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `pk`s an index scan returns, sorted.
    fn scan_index(engine: &Engine, table: &str, index: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = engine
                .scan(&ScanInput {
                    table: table.into(),
                    index: Some(index.into()),
                    exclusive_start_key: start.take(),
                    ..ScanInput::default()
                })
                .unwrap();
            for item in page.decoded_items().unwrap() {
                match &item["pk"] {
                    AttributeValue::S(pk) => out.push(pk.clone()),
                    other => panic!("{other:?}"),
                }
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        out.sort();
        out
    }

    fn item(pk: &str, attrs: &[(&str, AttributeValue)]) -> Item {
        let mut i = Item::from([("pk".to_string(), s(pk))]);
        i.extend(attrs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        i
    }

    #[test]
    fn the_backfill_leaves_out_index_key_violations_and_counts_what_it_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        create(&engine, "tab");
        let x = |n: usize| s(&"x".repeat(n));
        let items = vec![
            item("small", &[("x", s("v")), ("g", s("g"))]),
            item("hash-max", &[("x", x(2048)), ("g", s("g"))]),
            item("hash-over", &[("x", x(2049)), ("g", s("g"))]),
            item("key-3000", &[("x", x(3000)), ("g", s("g"))]),
            item("key-66500", &[("x", x(66_500)), ("g", s("g"))]),
            item("sort-max", &[("x", x(1024)), ("g", s("g"))]),
            item("sort-over", &[("x", x(1025)), ("g", s("g"))]),
            item("empty", &[("x", s("")), ("g", s("g"))]),
            item(
                "number",
                &[("x", AttributeValue::N(7.into())), ("g", s("g"))],
            ),
            item("missing", &[("g", s("g"))]),
        ];
        write(&engine, "tab", items);
        add_index(&engine, "tab", "by_x", "x", None);
        assert_eq!(wait_built(&engine, "tab", "by_x"), 4);
        assert_eq!(
            scan_index(&engine, "tab", "by_x"),
            ["hash-max", "small", "sort-max", "sort-over"]
        );
        // The same value as a sort key is held to 1,024 bytes.
        add_index(&engine, "tab", "by_g_x", "g", Some("x"));
        assert_eq!(wait_built(&engine, "tab", "by_g_x"), 2);
        assert_eq!(scan_index(&engine, "tab", "by_g_x"), ["small", "sort-max"]);
        // Once built, the indexes hold writes to their keys; items left out stay in
        // the table, and writes elsewhere go on.
        let e = put(&engine, "tab", item("new", &[("x", x(3000))])).unwrap_err();
        assert!(
            e.to_string().contains("exceeds the limit of 2048 bytes"),
            "{e}"
        );
        let e = put(&engine, "tab", item("new", &[("x", s(""))])).unwrap_err();
        assert!(e.to_string().contains("empty string value"), "{e}");
        put(&engine, "tab", item("new", &[("x", s("w")), ("g", s("g"))])).unwrap();
        assert_eq!(scan_index(&engine, "tab", "by_g_x").len(), 3);
        let d = engine.describe_table("tab").unwrap();
        assert_eq!(d.item_count, 11);
        assert_eq!(
            d.index_counts,
            [(5, d.index_counts[0].1), (3, d.index_counts[1].1)]
        );
    }

    #[test]
    fn a_backfilling_index_cannot_be_read_and_takes_writes_that_violate_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        create(&engine, "tab");
        // Several steps' worth of items: the builder needs a few writer jobs (each
        // fsync'd) before it can finish, and the finish needs the catalog lock, which
        // this thread takes back the moment UpdateTable releases it. Holding it keeps
        // the index CREATING for as long as this test looks.
        let items = (0..3 * BACKFILL_STEP_ITEMS_MAX).map(|i| item(&format!("i{i:05}"), &[]));
        write(&engine, "tab", items.collect());
        write(&engine, "tab", vec![item("a", &[("x", s("1"))])]);
        let input = UpdateTableInput {
            attribute_definitions: Some(vec![attr("x", KeyType::S)]),
            index_updates: vec![IndexUpdate::Create(IndexInput {
                name: "by_x".into(),
                kind: IndexKind::Global,
                key_schema: vec![("x".into(), KeyRole::Hash)],
                projection_type: Some("KEYS_ONLY".into()),
                non_key_attributes: None,
                throughput: None,
            })],
            ..UpdateTableInput::default()
        };
        engine.update_table("tab", input).unwrap();
        let catalog = lock(&engine.inner.catalog_lock);
        let query = QueryInput {
            table: "tab".into(),
            index: Some("by_x".into()),
            key_condition: Some("x = :x".into()),
            attributes: crate::items::ExpressionAttributes {
                names: None,
                values: Some([(":x".to_string(), s("1"))].into()),
            },
            scan_forward: true,
            ..QueryInput::default()
        };
        let d = engine.describe_table("tab").unwrap();
        assert_eq!(d.def.indexes[0].build, IndexBuild::Backfilling);
        let e = engine.query(&query).unwrap_err().to_string();
        assert_eq!(
            e,
            "Cannot read from backfilling global secondary index: by_x"
        );
        let scan = ScanInput {
            table: "tab".into(),
            index: Some("by_x".into()),
            ..ScanInput::default()
        };
        let e = engine.scan(&scan).unwrap_err().to_string();
        assert_eq!(
            e,
            "Cannot read from backfilling global secondary index: by_x"
        );
        // DynamoDB takes a write that violates the key of an index being built, and
        // leaves the item out of it.
        put(
            &engine,
            "tab",
            item("b", &[("x", AttributeValue::N(1.into()))]),
        )
        .unwrap();
        put(&engine, "tab", item("c", &[("x", s(""))])).unwrap();
        drop(catalog);
        assert_eq!(wait_built(&engine, "tab", "by_x"), 1);
        assert_eq!(engine.query(&query).unwrap().count, 1);
        let e = put(
            &engine,
            "tab",
            item("d", &[("x", AttributeValue::N(1.into()))]),
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("Type mismatch for Index Key x")
        );
    }

    /// Shuts `engine` down once the backfill of its only index has stored a cursor
    /// past `from`.
    fn stop_after_progress(engine: &Engine, from: Option<Vec<u8>>) {
        let id = engine.describe_table("tab").unwrap().def.indexes[0].id;
        let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
        while load_cursor(&engine.inner.meta, id).unwrap() <= from {
            assert!(Instant::now() < deadline, "the backfill makes no progress");
            std::thread::sleep(Duration::from_millis(1));
        }
        engine.shutdown();
    }

    #[test]
    fn a_backfill_resumes_from_its_stored_cursor_after_the_engine_stops() {
        let dir = tempfile::tempdir().unwrap();
        const ITEMS: usize = 30 * BACKFILL_STEP_ITEMS_MAX;
        let expected: Vec<String> = {
            let engine = open(dir.path());
            create(&engine, "tab");
            let items: Vec<Item> = (0..ITEMS)
                .map(|i| {
                    let pk = format!("i{i:06}");
                    match i % 4 {
                        0 => item(&pk, &[]),
                        1 => item(&pk, &[("x", AttributeValue::N((i as i64).into()))]),
                        _ => item(&pk, &[("x", s(&format!("x{}", i % 7)))]),
                    }
                })
                .collect();
            write(&engine, "tab", items.clone());
            add_index(&engine, "tab", "by_x", "x", None);
            stop_after_progress(&engine, None);
            items
                .iter()
                .filter(|i| matches!(i.get("x"), Some(AttributeValue::S(_))))
                .map(|i| match &i["pk"] {
                    AttributeValue::S(pk) => pk.clone(),
                    _ => unreachable!(),
                })
                .collect()
        };
        // Each reopen finds the index still backfilling, and resumes where the stored
        // cursor says; it is stopped again once it has made a step.
        let mut cursors = Vec::new();
        for _ in 0..3 {
            let engine = open(dir.path());
            let d = engine.describe_table("tab").unwrap();
            assert_eq!(d.def.indexes[0].build, IndexBuild::Backfilling);
            let cursor = load_cursor(&engine.inner.meta, d.def.indexes[0].id).unwrap();
            assert!(cursor.is_some(), "the stopped backfill had stored a cursor");
            cursors.push(cursor.clone());
            stop_after_progress(&engine, cursor);
        }
        assert!(cursors.is_sorted(), "the cursor only moves forward");
        let engine = open(dir.path());
        assert_eq!(wait_built(&engine, "tab", "by_x"), expected.len() as i64);
        assert_eq!(scan_index(&engine, "tab", "by_x"), expected);
        let id = engine.describe_table("tab").unwrap().def.indexes[0].id;
        assert_eq!(load_cursor(&engine.inner.meta, id).unwrap(), None);
        // The count survives a restart of a built index too.
        engine.shutdown();
        drop(engine);
        let engine = open(dir.path());
        let d = engine.describe_table("tab").unwrap();
        assert_eq!(d.index_counts[0].0, expected.len() as i64);
    }

    #[test]
    fn deleting_a_backfilling_index_or_its_table_stops_the_builder() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        const ITEMS: usize = 10 * BACKFILL_STEP_ITEMS_MAX;
        for table in ["tab", "unu"] {
            create(&engine, table);
            let items = (0..ITEMS).map(|i| item(&format!("i{i:05}"), &[("x", s("v"))]));
            write(&engine, table, items.collect());
            add_index(&engine, table, "by_x", "x", None);
        }
        let id = engine.describe_table("tab").unwrap().def.indexes[0].id;
        // Deleting an index allowed while it is being backfilled.
        let input = UpdateTableInput {
            index_updates: vec![IndexUpdate::Delete("by_x".into())],
            ..UpdateTableInput::default()
        };
        let d = engine.update_table("tab", input).unwrap();
        assert!(d.def.indexes.is_empty());
        engine.delete_table("unu").unwrap();
        assert_eq!(load_cursor(&engine.inner.meta, id).unwrap(), None);
        // The table takes writes of any type for x again, and nothing of the index
        // remains once its entries are purged.
        put(
            &engine,
            "tab",
            item("n", &[("x", AttributeValue::N(1.into()))]),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
        while engine.inner.items.prefix(id.to_be_bytes()).next().is_some() {
            assert!(
                Instant::now() < deadline,
                "entries of the deleted index remain"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(engine.describe_table("unu").is_err());
    }

    #[test]
    fn cursors_of_indexes_no_longer_built_are_forgotten_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        engine
            .inner
            .meta
            .insert(cursor_key(999), encode_cursor(b"k"))
            .unwrap();
        engine.inner.meta.insert(b"backfill/x", b"?").unwrap();
        engine.shutdown();
        drop(engine);
        let engine = open(dir.path());
        assert_eq!(engine.inner.meta.prefix(CURSOR_PREFIX).count(), 0);
    }
}
