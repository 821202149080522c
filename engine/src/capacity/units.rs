//! DynamoDB's rules for how many capacity units an operation consumes: sizes in, units
//! out, and the per-table [`Consumed`] an operation's parts add up to.
//!
//! It owns the arithmetic only; it must not know how items are stored or what the wire
//! says (callers hand it byte sizes, already measured by DynamoDB's item-size rules, and
//! whether an index entry moved). The sources of each rule are named where it is coded
//! and in the table-driven tests below.

use crate::capacity::consumed::{Consumed, IndexConsumed};
use crate::index::def::IndexKind;

/// One read unit covers this many bytes of a strongly consistent read ("Item sizes for
/// reads are rounded up to the next 4 KB multiple": developer guide,
/// read-write-operations / ProvisionedThroughput.md).
pub const READ_UNIT_BYTES: usize = 4096;

/// One write unit covers this many bytes ("Item sizes for writes are rounded up to the
/// next 1 KB multiple", same pages).
pub const WRITE_UNIT_BYTES: usize = 1024;

/// How a read is served, which decides what a 4 KB block costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Half a unit per 4 KB (the default of GetItem, Query, Scan, BatchGetItem).
    Eventual,
    /// One unit per 4 KB (`ConsistentRead: true`).
    Strong,
    /// Two units per 4 KB (TransactGetItems; "A transactional read request of an item
    /// up to 4 KB requires two read units", read-write-operations).
    Transactional,
}

impl ReadKind {
    /// The kind of a plain read from its `ConsistentRead` flag.
    pub fn of(consistent_read: bool) -> ReadKind {
        if consistent_read {
            ReadKind::Strong
        } else {
            ReadKind::Eventual
        }
    }

    fn units_per_block(self) -> f64 {
        match self {
            ReadKind::Eventual => 0.5,
            ReadKind::Strong => 1.0,
            ReadKind::Transactional => 2.0,
        }
    }
}

/// How many `unit`-byte blocks `bytes` needs, never fewer than one: a read of an item
/// that does not exist, or a Query that finds nothing, "still consumes provisioned read
/// throughput" (ProvisionedThroughput.md), and a write of a missing item (a DeleteItem
/// of nothing) consumes one write unit (scylladb alternator's
/// test_returnconsumedcapacity.py, test_delete_missing_item, run against DynamoDB).
fn blocks(bytes: usize, unit: usize) -> usize {
    bytes.div_ceil(unit).max(1)
}

/// Units for `bytes` read as one: one item of a GetItem or BatchGetItem, or the summed
/// sizes of every item a Query or Scan read ("DynamoDB computes the total size of all
/// items and then rounds up to the next 4 KB boundary").
pub fn read_units(bytes: usize, kind: ReadKind) -> f64 {
    blocks(bytes, READ_UNIT_BYTES) as f64 * kind.units_per_block()
}

/// Units for writing an item of `bytes`.
pub fn write_units(bytes: usize) -> f64 {
    blocks(bytes, WRITE_UNIT_BYTES) as f64
}

/// Units for a write of one item given its size before and after (`None` when it did
/// not exist, or no longer does): "the item size that matters is the larger of the
/// two" for PutItem and UpdateItem, the deleted item's size for DeleteItem, at least
/// one unit (ProvisionedThroughput.md; alternator's test_short_after_long_put).
pub fn item_write_units(old_bytes: Option<usize>, new_bytes: Option<usize>) -> f64 {
    write_units(old_bytes.unwrap_or(0).max(new_bytes.unwrap_or(0)))
}

/// [`item_write_units`] inside a TransactWriteItems: twice as much ("transactional
/// write requests ... require 2 write units per 1 KB", read-write-operations; the
/// AWS CLI's transact-write-items example, and dynamodb-conformance's captures, which
/// also show a ConditionCheck charged this way on the item it read).
pub fn transact_item_write_units(old_bytes: Option<usize>, new_bytes: Option<usize>) -> f64 {
    2.0 * item_write_units(old_bytes, new_bytes)
}

/// What a write did to one item's entry in one secondary index, in the terms of the
/// developer guide's "Provisioned Throughput Considerations" for global and local
/// secondary indexes (GSI.md, LSI.md). Sizes are of the entry as the index stores it:
/// the table's keys, the index's keys and the projected attributes, with no per-entry
/// overhead (the 100 bytes those pages add are storage only: dynoxide's captures
/// against DynamoDB charge a 3,017-byte entry 3 units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryChange {
    /// "If an item is not present in the index before or after the item is updated,
    /// there is no additional write cost for the index."
    Absent,
    /// The entry is the same before and after (an identical overwrite, or a change to
    /// attributes the index does not project): no cost, and no arm in the answer
    /// (dynamodb-conformance captures, via dynoxide's index_capacity.rs).
    Unchanged,
    /// "one write operation is required to put the item into the index".
    Insert { new_bytes: usize },
    /// "one write is required to delete the old item projection from the index",
    /// sized on the entry removed.
    Remove { old_bytes: usize },
    /// Same index key, other projected values: "one write is required to update the
    /// values of the projected attributes", sized on the larger entry.
    Update { old_bytes: usize, new_bytes: usize },
    /// The index key changed: "two writes are required, one to delete the previous
    /// item from the index and another write to put the new item", each rounded on its
    /// own entry.
    Move { old_bytes: usize, new_bytes: usize },
}

/// The write units one index consumes for one item write, or `None` when the index
/// was not touched (and so has no arm in `ConsumedCapacity`). A transaction does not
/// double these: the 2x is the table's alone (dynoxide PR 188, measured against
/// DynamoDB).
pub fn index_write_units(change: EntryChange) -> Option<f64> {
    match change {
        EntryChange::Absent | EntryChange::Unchanged => None,
        EntryChange::Insert { new_bytes } => Some(write_units(new_bytes)),
        EntryChange::Remove { old_bytes } => Some(write_units(old_bytes)),
        EntryChange::Update {
            old_bytes,
            new_bytes,
        } => Some(write_units(old_bytes.max(new_bytes))),
        EntryChange::Move {
            old_bytes,
            new_bytes,
        } => Some(write_units(old_bytes) + write_units(new_bytes)),
    }
}

/// The partition hash inside a table's or an index's storage key (bytes 6..14, after
/// the table id and the shard: see `keys.rs`), which the governor's per-partition
/// limits are kept by; `None` for a key too short to hold one.
pub fn key_partition(storage_key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = storage_key.get(6..14)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

impl Consumed {
    /// Nothing consumed yet on table `name`.
    pub fn on_table(name: &str) -> Consumed {
        Consumed {
            table: name.to_owned(),
            ..Consumed::default()
        }
    }

    /// Adds units consumed on index `name`, to its arm if it has one already; arms keep
    /// the order they were first added in.
    pub fn add_index(&mut self, name: &str, kind: IndexKind, read_units: f64, write_units: f64) {
        match self.indexes.iter_mut().find(|i| i.name == name) {
            Some(i) => {
                i.read_units += read_units;
                i.write_units += write_units;
            }
            None => self.indexes.push(IndexConsumed {
                name: name.to_owned(),
                kind,
                read_units,
                write_units,
            }),
        }
    }

    /// Adds everything `other` consumed (on the same table) to this.
    pub fn absorb(&mut self, other: &Consumed) {
        self.table_read_units += other.table_read_units;
        self.table_write_units += other.table_write_units;
        for i in &other.indexes {
            self.add_index(&i.name, i.kind, i.read_units, i.write_units);
        }
    }
}

/// Adds `c` to its table's entry in `list` (a batch or a transaction answers one
/// `ConsumedCapacity` per table), in the order tables were first seen.
pub fn merge_by_table(list: &mut Vec<Consumed>, c: &Consumed) {
    match list.iter_mut().find(|x| x.table == c.table) {
        Some(x) => x.absorb(c),
        None => list.push(c.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: usize = 1024;

    /// Each row: a rule, its source, the bytes and kind read, the units.
    #[test]
    fn read_rules() {
        let rows: &[(&str, usize, ReadKind, f64)] = &[
            // ProvisionedThroughput.md: "reading a 3,500-byte item consumes the same
            // throughput as reading a 4 KB item"; eventually consistent is half.
            ("3500 B strongly consistent", 3500, ReadKind::Strong, 1.0),
            (
                "3500 B eventually consistent",
                3500,
                ReadKind::Eventual,
                0.5,
            ),
            // alternator test_long_get: exactly 4 KB is one unit, one byte more two.
            ("exactly 4 KB", 4 * KB, ReadKind::Strong, 1.0),
            ("4 KB + 1", 4 * KB + 1, ReadKind::Strong, 2.0),
            ("4 KB + 1 eventual", 4 * KB + 1, ReadKind::Eventual, 1.0),
            // ProvisionedThroughput.md: "If you read an item of 10 KB, DynamoDB rounds
            // the item size to 12 KB".
            ("10 KB strong", 10 * KB, ReadKind::Strong, 3.0),
            // ProvisionedThroughput.md: a missing item still costs 1 (SC) / 0.5 (EC).
            ("missing strong", 0, ReadKind::Strong, 1.0),
            ("missing eventual", 0, ReadKind::Eventual, 0.5),
            // read-write-operations: a transactional read of 8 KB takes 4 units; the
            // AWS CLI's transact-get-items example: two small items, 4.0.
            ("8 KB transactional", 8 * KB, ReadKind::Transactional, 4.0),
            ("missing transactional", 0, ReadKind::Transactional, 2.0),
            // ProvisionedThroughput.md (Query): 40.8 KB in total rounds to 44 KB;
            // 1500 items of 64 bytes are 96 KB; eventual at 80 KB is 10 units.
            ("query 40.8 KB summed", 41779, ReadKind::Strong, 11.0),
            ("query 1500 x 64 B", 1500 * 64, ReadKind::Strong, 24.0),
            ("query 80 KB eventual", 80 * KB, ReadKind::Eventual, 10.0),
            // GSI.md: 8 index entries of 2000 bytes, eventual: 2 units.
            ("gsi query 16000 B", 16000, ReadKind::Eventual, 2.0),
        ];
        for (rule, bytes, kind, want) in rows {
            assert_eq!(read_units(*bytes, *kind), *want, "{rule}");
        }
    }

    #[test]
    fn batch_get_rounds_each_item() {
        // ProvisionedThroughput.md: a 1.5 KB and a 6.5 KB item are 4 KB + 8 KB, not 8 KB.
        let each: f64 = [1536, 6656]
            .iter()
            .map(|b| read_units(*b, ReadKind::Strong))
            .sum();
        assert_eq!(each, 3.0);
        assert_eq!(read_units(1536 + 6656, ReadKind::Strong), 2.0);
    }

    #[test]
    fn write_rules() {
        let rows: &[(&str, Option<usize>, Option<usize>, f64)] = &[
            // ProvisionedThroughput.md: "writing a 500-byte item consumes the same
            // throughput as writing a 1 KB item"; 1.6 KB rounds to 2 KB.
            ("new 500 B", None, Some(500), 1.0),
            ("new 1.6 KB", None, Some(1638), 2.0),
            // alternator test_long_put: exactly 1 KB is one unit, one byte more two.
            ("exactly 1 KB", None, Some(KB), 1.0),
            ("1 KB + 1", None, Some(KB + 1), 2.0),
            // PutItem/UpdateItem: the larger of before and after (alternator
            // test_short_after_long_put: a 2 KB+ item overwritten by a tiny one is 3).
            ("overwrite larger", Some(100), Some(2 * KB + 100), 3.0),
            ("overwrite smaller", Some(2 * KB + 100), Some(100), 3.0),
            // DeleteItem: the deleted item's size (alternator test_long_delete: 2 KB+1
            // is 3); a missing item still 1 (test_delete_missing_item).
            ("delete 2 KB + 1", Some(2 * KB + 1), None, 3.0),
            ("delete missing", None, None, 1.0),
        ];
        for (rule, old, new, want) in rows {
            assert_eq!(item_write_units(*old, *new), *want, "{rule}");
        }
        // BatchWriteItem rounds each item: 500 B + 3.5 KB are 1 + 4 = 5 units.
        assert_eq!(
            item_write_units(None, Some(500)) + item_write_units(None, Some(3584)),
            5.0
        );
        // TransactWriteItems: twice.
        assert_eq!(transact_item_write_units(None, Some(500)), 2.0);
        assert_eq!(transact_item_write_units(Some(3 * KB), None), 6.0);
    }

    #[test]
    fn index_write_rules() {
        use EntryChange::*;
        // GSI.md / LSI.md "Write Capacity Units", with the sizes dynoxide measured
        // against DynamoDB (index_capacity.rs captures S1..S7, R1..R3, L1, L2).
        let rows: &[(&str, EntryChange, Option<f64>)] = &[
            ("no entry before or after", Absent, None),
            ("identical entry", Unchanged, None),
            ("put into index, small", Insert { new_bytes: 18 }, Some(1.0)),
            (
                "put into index, 3017 B (no overhead)",
                Insert { new_bytes: 3017 },
                Some(3.0),
            ),
            ("removed from index", Remove { old_bytes: 3017 }, Some(3.0)),
            (
                "projected change, shrink",
                Update {
                    old_bytes: 3017,
                    new_bytes: 18,
                },
                Some(3.0),
            ),
            (
                "projected change, rounds once",
                Update {
                    old_bytes: 1517,
                    new_bytes: 1517,
                },
                Some(2.0),
            ),
            (
                "key move, small",
                Move {
                    old_bytes: 20,
                    new_bytes: 20,
                },
                Some(2.0),
            ),
            (
                "key move, each half rounded",
                Move {
                    old_bytes: 3017,
                    new_bytes: 18,
                },
                Some(4.0),
            ),
            (
                "key move, 1517 B both sides",
                Move {
                    old_bytes: 1517,
                    new_bytes: 1517,
                },
                Some(4.0),
            ),
        ];
        for (rule, change, want) in rows {
            assert_eq!(index_write_units(*change), *want, "{rule}");
        }
    }

    #[test]
    fn consumed_adds_up_per_table_and_index() {
        let mut a = Consumed::on_table("t");
        a.table_write_units = 1.0;
        a.add_index("g", IndexKind::Global, 0.0, 1.0);
        let mut b = Consumed::on_table("t");
        b.table_write_units = 2.0;
        b.add_index("l", IndexKind::Local, 0.0, 2.0);
        b.add_index("g", IndexKind::Global, 0.0, 2.0);
        let other = Consumed::on_table("u");
        let mut list = Vec::new();
        for c in [&a, &other, &b] {
            merge_by_table(&mut list, c);
        }
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].table, "t");
        assert_eq!(list[0].table_write_units, 3.0);
        let arms: Vec<(&str, f64)> = list[0]
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.write_units))
            .collect();
        assert_eq!(arms, [("g", 3.0), ("l", 2.0)]);
        assert_eq!(list[0].units(), 8.0);
        assert_eq!(list[1].table, "u");
    }

    #[test]
    fn partition_is_read_from_the_key_header() {
        let mut key = vec![0, 0, 0, 7, 0, 3];
        key.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        key.push(9);
        assert_eq!(key_partition(&key), Some(0x0102_0304_0506_0708));
        assert_eq!(key_partition(&key[..10]), None);
    }
}
