//! The writer thread: it gathers waiting jobs into a group (a control job alone),
//! keeps the memtables inside their budget, refuses a group after a fatal fault or
//! below the disk reserve, and hands the rest to `group.rs`.
//!
//! It owns the loop and what a panic outside any job means; it must not know what a
//! job does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::Receiver;

use fjall::PersistMode;

use crate::buffers::NoRoom;
use crate::config::Durability;
use crate::error::{Error, panic_text};
use crate::health::FaultKind;
use crate::limits::COMMIT_GROUP_WRITES_MAX;
use crate::state::State;
use crate::writer::group::commit_group;
use crate::writer::job::{Job, fail_job};

/// The writer thread. A panic that escapes [`writer_loop`] (one outside any job: in the
/// commit itself) is fatal; so is a commit the storage refuses (`commit_group`). Once
/// the engine has a fatal fault the thread stays to refuse every write still queued
/// or sent, with the fault's message, until shutdown.
pub(crate) fn writer_main(inner: &State, rx: Receiver<Job<State>>) {
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

fn writer_loop(inner: &State, rx: &Receiver<Job<State>>) {
    let durability = if inner.config.in_memory || inner.config.durability == Durability::Buffered {
        None
    } else {
        Some(PersistMode::SyncData)
    };
    // A control job commits in a group of its own, so it reads the items as every
    // earlier write left them, and later writes see what it did (an index backfill
    // needs both). One taken while gathering a group waits here for the next.
    let mut held: Option<Job<State>> = None;
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
