//! One commit group: each job evaluated and staged on its own (a job that fails or
//! panics leaves no trace), the group's changes committed in one fjall batch with one
//! fsync, the in-memory state (counters, cache, stream heads) updated after, and only
//! then every job answered.
//!
//! It owns what a commit changes and the order of commit and answers; it must not
//! know the request shapes of the operations whose mutations it applies.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fjall::PersistMode;

use crate::catalog::TableStats;
use crate::clock::now_us;
use crate::error::{Result, contain, panic_text};
use crate::health::FaultKind;
use crate::index::def::IndexStats;
use crate::state::State;
use crate::stored::StoredItem;
use crate::stream::record::{encode_record, record_key};
use crate::stream::registry::ShardHead;
use crate::sync::read;
use crate::value::{Item, item_size_bytes};
use crate::writer::evaluate::{Staged, evaluate};
use crate::writer::job::{Applied, Completion, Job, Marker, Mutation};
use crate::writer::staging::Staging;

/// A commit group slower than this is reported (fsync stalls, LSM back-pressure).
const SLOW_COMMIT_MS: u128 = 50;

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
        self.staging.absorb(job.staging);
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
struct FatalOnUnwind<'a>(&'a State);

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

pub(crate) fn commit_group(inner: &State, jobs: Vec<Job<State>>, durability: Option<PersistMode>) {
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
                    group.staging.absorb(staging);
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
    let bytes = group.staging.bytes();
    let committed = if group.staging.is_empty() {
        Ok(())
    } else {
        inner.commit_batch(group.staging.into_batch(&inner.db, durability))
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
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
        inner.streams.publish_heads(&group.heads)
    })) {
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
    inner: &State,
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
        let old_bytes = s.old.as_ref().map(item_size_bytes);
        let mut new_bytes = old_bytes;
        if let Some(new) = &s.change {
            new_bytes = new.as_ref().map(item_size_bytes);
            let stored = new.as_ref().map(StoredItem::encode);
            match &stored {
                Some(item) => out.staging.insert(
                    &inner.items,
                    s.key.clone(),
                    inner.seal.seal(&s.key, item.slice()),
                ),
                None => out.staging.remove(&inner.items, s.key.clone()),
            }
            out.written.push((s.key.clone(), stored));
            stage_index_entries(inner, &mut out.staging, &mut out.index_deltas, &s, new);
            let size = |bytes: Option<usize>| bytes.map_or(0, |b| b as i64);
            let count = i64::from(new.is_some()) - i64::from(s.old.is_some());
            out.deltas.push((
                Arc::clone(&s.table.stats),
                count,
                size(new_bytes) - size(old_bytes),
            ));
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
        applied.push(Applied {
            old: s.old,
            new,
            old_bytes,
            new_bytes,
        });
    }
    Ok(applied)
}

/// Adds a staged item change's index entry changes to the staging (see `index/entries.rs`).
fn stage_index_entries(
    inner: &State,
    staging: &mut Staging,
    deltas: &mut Vec<(Arc<IndexStats>, i64, i64)>,
    s: &Staged,
    new: &Option<Item>,
) {
    let indexes = s.table.stats.live_indexes();
    if indexes.is_empty() {
        return;
    }
    for c in
        crate::index::entries::entry_changes(&s.table.def, &indexes, s.old.as_ref(), new.as_ref())
    {
        if let Some(key) = c.remove {
            staging.remove(&inner.items, key);
        }
        if let Some((key, item)) = c.insert {
            let value = inner.seal.seal(&key, StoredItem::encode(&item).slice());
            staging.insert(&inner.items, key, value);
        }
        deltas.push((c.counters, c.items_delta, c.bytes_delta));
    }
}

/// Adds the change record of a staged item change to the staging, when the table's
/// stream is enabled. The sequence number it takes is gone even if the job then
/// fails: a gap is harmless, a number handed out twice would not be.
fn stage_record(
    inner: &State,
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
    let key = record_key(stream.id, shard, seq);
    let record = inner.seal.seal(&key, &record.into());
    staging.insert(&inner.records, key, record);
    note_head(
        heads,
        ShardHead {
            stream_id: stream.id,
            shard,
            seq,
        },
    );
}
