//! The group-commit writer: every change to `items` (and every catalog change ordered
//! with them) goes through it.
//!
//! # Writes
//!
//! Every change to `items` goes through one writer thread. It takes all waiting jobs
//! (up to `COMMIT_GROUP_WRITES_MAX`, `limits.rs`), evaluates each job's mutations against the
//! current items (reading through an overlay of the changes earlier jobs in the same
//! group made), puts all resulting changes into one fjall batch, commits it with one
//! fsync, and only then answers every job. The change record of every item change goes
//! into the same batch (see `stream/`), so the stream can never drift from the table;
//! so do the item's secondary index entries (see `index/`). Concurrent writers thus
//! share one fsync (group commit), and a job's read-check-write is serialized with
//! every other write, so conditions need no locks. A control job (stream
//! enable/disable, an index change or backfill step) commits in a group of its own, so
//! it sees every earlier write committed and every later write sees what it did. Reads
//! see every acknowledged write: point reads go through the item cache (`cache.rs`),
//! which the writer keeps coherent around each commit, and ranges go straight to fjall.
//!
//! The rooms: `job.rs` (what is sent: item mutations and control changes),
//! `submit.rs` (queueing a job, from any thread), `thread.rs` (the writer thread and
//! its group loop), `group.rs` (one group's evaluation, staging, commit and answers),
//! `evaluate.rs` (a job's read-check-write against the current items) and
//! `staging.rs` (the bounds-checked batch every write to fjall is built in).
//!
//! It owns the commit order and durability of writes; it must not know the request
//! shapes of any operation (a mutation is a closure the operation built) nor the
//! facade (`engine.rs`).

pub(crate) mod evaluate;
pub(crate) mod group;
pub(crate) mod job;
pub(crate) mod staging;
pub(crate) mod submit;
pub(crate) mod thread;

#[cfg(test)]
mod tests;
