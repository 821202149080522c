//! The capacity one operation consumed on one table and its indexes: the engine's
//! answer to `ReturnConsumedCapacity`, and what the governor charges.
//!
//! It owns the shape only; the rules that compute units live beside it, and the wire
//! form (`CapacityUnits`, `Table`, `GlobalSecondaryIndexes`, ...) in the server crate.

use crate::index::def::IndexKind;

/// Units consumed on one table by one operation (a batch or a transaction gives one per
/// table it touched), in DynamoDB's units: read units of 4 KB (half for an eventually
/// consistent read), write units of 1 KB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumed {
    /// The table's name, as `ConsumedCapacity.TableName` gives it.
    pub table: String,
    /// Units consumed on the table itself (not its indexes).
    pub table_read_units: f64,
    pub table_write_units: f64,
    /// Units consumed on each index the operation read or wrote, in the order of the
    /// table's index definitions; an index the operation did not touch is absent.
    pub indexes: Vec<IndexConsumed>,
}

/// Units consumed on one secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConsumed {
    pub name: String,
    pub kind: IndexKind,
    pub read_units: f64,
    pub write_units: f64,
}

impl Consumed {
    /// Read units on the table and its indexes together (`ReadCapacityUnits` of the
    /// total).
    pub fn read_units(&self) -> f64 {
        self.table_read_units + self.indexes.iter().map(|i| i.read_units).sum::<f64>()
    }

    /// Write units on the table and its indexes together.
    pub fn write_units(&self) -> f64 {
        self.table_write_units + self.indexes.iter().map(|i| i.write_units).sum::<f64>()
    }

    /// Read and write units together (`CapacityUnits` of the total).
    pub fn units(&self) -> f64 {
        self.read_units() + self.write_units()
    }
}
