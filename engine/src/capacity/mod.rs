//! Capacity: what each operation consumes, in DynamoDB's read and write units
//! (`consumed.rs` holds the result's shape), and the throughput each table and index
//! may consume (`governor.rs`: provisioned token buckets with burst capacity, on-demand
//! maximums, the per-partition ceilings, and a time source tests can drive).
//!
//! It owns the arithmetic of units and the buckets; it must not know the wire shapes
//! (the server crate builds `ConsumedCapacity` JSON from [`Consumed`]) nor how items
//! are stored (callers hand it sizes and keys' partition hashes).

pub mod consumed;
pub mod governor;
pub mod units;

pub use self::consumed::{Consumed, IndexConsumed};
pub use self::governor::{CapacityTotals, Governor, IndexTotals};
pub use self::units::ReadKind;
