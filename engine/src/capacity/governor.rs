//! The throughput a table and its indexes may consume. SKELETON: the seam the capacity
//! work is built on; every request is admitted and nothing is counted yet.
//!
//! It owns admission (before an operation runs) and charging (after, with what it
//! consumed); it must not know request shapes or the wire.

use crate::capacity::consumed::Consumed;
use crate::error::Result;

/// One table's throughput state: its own buckets and its global indexes'.
#[derive(Debug, Default)]
pub struct Governor {}

/// Monotonic totals of one table, for metrics and auto scaling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityTotals {
    /// Units consumed on the table itself since the server started.
    pub read_units: f64,
    pub write_units: f64,
    /// Requests refused for throughput since the server started.
    pub throttled_reads: u64,
    pub throttled_writes: u64,
    /// The provisioned units now in force (0 for on-demand).
    pub provisioned_read_units: i64,
    pub provisioned_write_units: i64,
    /// The same per global and local secondary index, by name.
    pub indexes: Vec<(String, IndexTotals)>,
}

/// Monotonic totals of one index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexTotals {
    pub read_units: f64,
    pub write_units: f64,
    pub throttled_reads: u64,
    pub throttled_writes: u64,
    pub provisioned_read_units: i64,
    pub provisioned_write_units: i64,
}

impl Governor {
    /// Admits a read of the table (`index` None) or of one index, on the partition
    /// with this hash when the read names one (a Scan does not).
    pub fn admit_read(&self, _index: Option<&str>, _partition: Option<u64>) -> Result<()> {
        Ok(())
    }

    /// Admits a write to the table on the partition with this hash; a global index
    /// without capacity throttles the table's write, as in DynamoDB.
    pub fn admit_write(&self, _partition: Option<u64>) -> Result<()> {
        Ok(())
    }

    /// Charges what an admitted operation consumed.
    pub fn charge(&self, _partition: Option<u64>, _consumed: &Consumed) {}

    /// The table's totals so far.
    pub fn totals(&self) -> CapacityTotals {
        CapacityTotals::default()
    }
}
