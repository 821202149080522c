//! Capacity: what each operation consumes, in DynamoDB's read and write units
//! (`consumed.rs` holds the result's shape), and the throughput each table and index
//! may consume (`governor.rs`: provisioned token buckets with burst capacity, on-demand
//! maximums, the per-partition ceilings; `bucket.rs` one bucket; `messages.rs` the
//! throttling errors; `clock.rs` the time source tests can drive; `sieve.rs` the cheap count that
//! keeps keys far from their ceiling out of the exact per-key buckets).
//!
//! It owns the arithmetic of units and the buckets; it must not know the wire shapes
//! (the server crate builds `ConsumedCapacity` JSON from [`Consumed`]) nor how items
//! are stored (callers hand it sizes and keys' partition hashes).

mod bucket;
pub mod clock;
pub mod consumed;
pub mod governor;
pub mod messages;
mod sieve;
#[cfg(test)]
mod tests;
pub mod units;

pub use self::clock::CapacityClock;
pub use self::consumed::{Consumed, IndexConsumed};
pub use self::governor::{CapacitySpec, CapacityTotals, Governor, IndexSpec, IndexTotals, Limits};
pub use self::units::ReadKind;
