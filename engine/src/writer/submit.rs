//! Queueing a job for the writer, from any thread: item writes, transactions, the
//! Time to Live sweeper's deletes and control changes, item writes each marked with
//! the trigger hops its caller passes (see `Engine::caused_by`).
//!
//! It owns the queue's admission (a full queue, a fatal fault, shutdown); it must not
//! know how a job is evaluated or committed.

use std::sync::mpsc::TrySendError;

use crate::error::{Error, Result};
use crate::limits::WRITE_QUEUE_DEPTH_MAX;
use crate::state::State;
use crate::sync::lock;
use crate::writer::job::{Applied, Completion, ControlFn, Job, Marker, Mutation, fail_job};

/// Queues an atomic group of mutations; `done` runs on the writer thread once they
/// are durable (or failed), so it must be quick (e.g. send on a channel).
pub(crate) fn submit(
    state: &State,
    hops: u8,
    mutations: Vec<Mutation>,
    done: Completion<Vec<Applied>>,
) {
    submit_items(state, hops, mutations, false, None, done);
}

/// Queues the mutations of a TransactWriteItems, in action order; see
/// [`Job::Items`] for how its failures are reported. `marker` commits with the
/// transaction if it applies.
pub(crate) fn submit_transaction(
    state: &State,
    hops: u8,
    mutations: Vec<Mutation>,
    marker: Option<Marker>,
    done: Completion<Vec<Applied>>,
) {
    submit_items(state, hops, mutations, true, marker, done);
}

/// Queues the Time to Live sweeper's deletes (see `ttl.rs`): no trigger caused them.
pub(crate) fn submit_expiry(
    state: &State,
    mutations: Vec<Mutation>,
    done: Completion<Vec<Applied>>,
) {
    send(
        state,
        Job::Items {
            mutations,
            transaction: false,
            hops: 0,
            marker: None,
            by_ttl: true,
            done,
        },
    );
}

fn submit_items(
    state: &State,
    hops: u8,
    mutations: Vec<Mutation>,
    transaction: bool,
    marker: Option<Marker>,
    done: Completion<Vec<Applied>>,
) {
    send(
        state,
        Job::Items {
            mutations,
            transaction,
            hops,
            marker,
            by_ttl: false,
            done,
        },
    );
}

/// Runs a catalog change on the writer, ordered with item writes, and waits for
/// its commit.
pub(crate) fn control(state: &State, apply: ControlFn<State>) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    send(
        state,
        Job::Control {
            apply,
            done: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        },
    );
    // Dropped unanswered: the engine shut down, or a fatal fault left the job's
    // outcome unknown.
    rx.recv()
        .map_err(|_| state.vitals.refusal().unwrap_or(Error::ShuttingDown))?
}

fn send(state: &State, job: Job<State>) {
    // After a fatal fault nothing is queued: the writer would refuse it anyway.
    if let Some(e) = state.vitals.refusal() {
        return fail_job(job, e);
    }
    let sender = lock(&state.writer).clone();
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
