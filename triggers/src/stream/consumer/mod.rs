//! One consumer: a shard lane of one mapping. It owns a checkpoint and delivers the
//! lane's records in sequence order with Lambda's semantics: batching window, filters,
//! retries with exponential backoff, bisecting, partial batch responses, record age,
//! tumbling windows and the failure destination.
//!
//! A fault in host code while handling a batch (rendering the event, filtering,
//! checkpointing, the failure destination) is that batch's failure: it is caught at the
//! batch boundary and handled by the mapping's retry policy, and the consumer thread
//! lives on. A throttled invocation (the executor's queue was full, or the deadline
//! passed before an instance slot was free) is retried with backoff without using up
//! `MaximumRetryAttempts`, as Lambda does for throttles where the batch did not reach
//! the function.
//!
//! The rooms: `lane` (the consumer's state and what every room shares), `run` (the
//! loop: read, cut, render, filter, checkpoint), `delivery` (invoking the function,
//! retries, bisecting, partial responses), `window` (tumbling windows) and
//! `destination` (giving a batch up). Records are read only through the
//! [`StreamSource`](super::source::StreamSource).

mod delivery;
mod destination;
mod lane;
mod report;
mod run;
mod window;

pub(crate) use super::lanes::load_engine_checkpoint as load_checkpoint;
pub(crate) use destination::check_destination;
pub(crate) use lane::Consumer;
pub use lane::RECURSION_HOPS_MAX;
