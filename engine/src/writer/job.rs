//! What the writer is sent: a job of item mutations (a write, a batch, a transaction,
//! the Time to Live sweeper's deletes) or a control change, and what a mutation
//! decides and returns.
//!
//! It owns the shapes only; it must not know the shared state's fields (a control
//! change is generic over it) nor how a group is committed.

use crate::catalog::TableRef;
use crate::error::{Error, Result};
use crate::value::Item;
use crate::writer::staging::Staging;

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
    /// Their sizes as DynamoDB counts them (`item_size_bytes`), measured once by the
    /// writer, which needs them for the table's size anyway: what the write consumed is
    /// computed from them in the write's completion, on the writer thread, so that
    /// accounting walks no item a second time there.
    pub old_bytes: Option<usize>,
    pub new_bytes: Option<usize>,
}

pub(crate) type MutationFn = Box<dyn FnOnce(Option<&Item>) -> Result<Change> + Send>;
pub(crate) type Completion<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// One item's read-check-write, evaluated by the writer.
pub(crate) struct Mutation {
    pub table: TableRef,
    pub key: Vec<u8>,
    pub apply: MutationFn,
}

pub(crate) enum Job<S> {
    /// All mutations apply, or (if any fails) none do.
    Items {
        mutations: Vec<Mutation>,
        /// A TransactWriteItems: every mutation is evaluated even after one failed, and
        /// a failure of a condition or an update cancels the job with one reason per
        /// mutation ([`Error::TransactionCanceled`]).
        transaction: bool,
        /// How many trigger invocations led to this write (see `Engine::caused_by`).
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
        apply: ControlFn<S>,
        done: Completion<()>,
    },
}

/// A `meta` key and value.
pub(crate) type Marker = (Vec<u8>, Vec<u8>);

/// A control change, run on the writer with the shared state `S` and the group's
/// staging. Generic over the state so that this file need not name it: the state
/// holds the queue of jobs, and naming it here would tie the two files in a circle.
pub(crate) type ControlFn<S> = Box<dyn FnOnce(&S, &mut Staging) -> Result<()> + Send>;

/// Answers a job that will not run.
pub(crate) fn fail_job<S>(job: Job<S>, e: Error) {
    match job {
        Job::Items { done, .. } => done(Err(e)),
        Job::Control { done, .. } => done(Err(e)),
    }
}
