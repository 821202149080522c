//! What an item operation consumed, measured on the items it read or wrote: the bridge
//! between the data plane's items and index entries and the unit rules of
//! `capacity/units.rs`, and the one place that charges the table's governor with it.
//!
//! It owns which sizes an operation is charged on (the larger image of a write, each
//! index entry a write changes, the entries or items a read went through); it must not
//! know the unit arithmetic itself, the writer, or the wire.

use crate::capacity::Consumed;
use crate::capacity::units::{
    EntryChange, ReadKind, index_write_units, item_write_units, transact_item_write_units,
};
use crate::catalog::{TableDef, TableRef};
use crate::index::def::{IndexDef, IndexProjection};
use crate::index::entries::{entry_key, entry_key_names, projects};
use crate::value::{Item, item_size_bytes};
use crate::writer::job::Applied;

/// What one write of one item (`old` before, `new` after; `None` for no item)
/// consumed on its table and on each index whose entry it changed. A transaction's
/// write costs the table twice as much; its index writes cost what they cost outside
/// one (see `capacity/units.rs`).
pub(crate) fn write_consumed(table: &TableRef, applied: &Applied, transaction: bool) -> Consumed {
    let mut c = Consumed::on_table(&table.def.name);
    let (old, new) = (applied.old.as_ref(), applied.new.as_ref());
    let (old_bytes, new_bytes) = (applied.old_bytes, applied.new_bytes);
    c.table_write_units = if transaction {
        transact_item_write_units(old_bytes, new_bytes)
    } else {
        item_write_units(old_bytes, new_bytes)
    };
    // Most tables have no index: then nothing below allocates.
    let indexes = table.stats.live_indexes();
    for live in indexes.iter() {
        let change = entry_change(&table.def, &live.def, old, new);
        if let Some(units) = index_write_units(change) {
            c.add_index(&live.def.name, live.def.kind, 0.0, units);
        }
    }
    c
}

/// What an item going from `old` to `new` does to its entry in `index`, sized as the
/// index stores it (the table's and the index's keys and the projected attributes).
pub(crate) fn entry_change(
    table: &TableDef,
    index: &IndexDef,
    old: Option<&Item>,
    new: Option<&Item>,
) -> EntryChange {
    fn keyed<'a>(
        table: &TableDef,
        index: &IndexDef,
        i: Option<&'a Item>,
    ) -> Option<(Vec<u8>, &'a Item)> {
        let i = i?;
        entry_key(table, index, i).ok().map(|k| (k, i))
    }
    match (keyed(table, index, old), keyed(table, index, new)) {
        (None, None) => EntryChange::Absent,
        (None, Some((_, n))) => EntryChange::Insert {
            new_bytes: entry_bytes(table, index, n),
        },
        (Some((_, o)), None) => EntryChange::Remove {
            old_bytes: entry_bytes(table, index, o),
        },
        (Some((ok, o)), Some((nk, n))) => {
            let (old_bytes, new_bytes) =
                (entry_bytes(table, index, o), entry_bytes(table, index, n));
            if ok != nk {
                EntryChange::Move {
                    old_bytes,
                    new_bytes,
                }
            } else if same_entry(table, index, o, n) {
                EntryChange::Unchanged
            } else {
                EntryChange::Update {
                    old_bytes,
                    new_bytes,
                }
            }
        }
    }
}

/// The size of `item`'s entry in `index`, without building the entry.
fn entry_bytes(table: &TableDef, index: &IndexDef, item: &Item) -> usize {
    if index.projection == IndexProjection::All {
        return item_size_bytes(item);
    }
    let keys = entry_key_names(table, index);
    item.iter()
        .filter(|(k, _)| projects(index, &keys, k))
        .map(|(k, v)| k.len() + v.size_bytes())
        .sum()
}

/// Whether two items under the same entry key store the same entry in `index`.
fn same_entry(table: &TableDef, index: &IndexDef, a: &Item, b: &Item) -> bool {
    if index.projection == IndexProjection::All {
        return a == b;
    }
    let keys = entry_key_names(table, index);
    let mut a = a.iter().filter(|(k, _)| projects(index, &keys, k));
    let mut b = b.iter().filter(|(k, _)| projects(index, &keys, k));
    // Items are ordered maps, so equal entries list the same pairs in the same order.
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// What a Query or Scan read: `read_bytes` summed over what it went through (a
/// table's items, or an index's entries) and rounded once; on a local index, the
/// table items it fetched for attributes the index lacks, each rounded on its own
/// (LSI.md, "Read Capacity Units"). Reads of an index are its arm; fetches, which read
/// the table, are the table's (an assumption: DynamoDB's documents do not say which arm
/// reports them).
pub(crate) fn range_read_consumed(
    table: &TableRef,
    index: Option<&IndexDef>,
    kind: ReadKind,
    read_bytes: usize,
    fetched_units: f64,
) -> Consumed {
    let mut c = Consumed::on_table(&table.def.name);
    let units = crate::capacity::units::read_units(read_bytes, kind);
    match index {
        None => c.table_read_units = units,
        Some(ix) => {
            c.table_read_units = fetched_units;
            c.add_index(&ix.name, ix.kind, units, 0.0);
        }
    }
    c
}

/// Charges what an operation consumed to its table's governor (every request, asked
/// for or not), on the partition its key names when it names one.
pub(crate) fn charge(table: &TableRef, partition: Option<u64>, consumed: &Consumed) {
    table.stats.capacity.charge(partition, consumed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::def::{IndexBuild, IndexKind};
    use crate::keys::KeyType;
    use crate::schema::{BillingMode, IndexKeys, KeyAttribute, KeySchema, Throughput};
    use crate::value::AttributeValue;

    fn attr(name: &str) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type: KeyType::S,
        }
    }

    /// A table `pk` with a global index on `g` of the given projection.
    fn table(projection: IndexProjection) -> TableDef {
        TableDef {
            name: "t".into(),
            id: 1,
            key_schema: KeySchema {
                hash: attr("pk"),
                range: None,
            },
            attribute_definitions: vec![attr("pk"), attr("g")],
            billing_mode: BillingMode::PayPerRequest,
            throughput: Throughput::default(),
            pay_per_request_since_ms: None,
            created_at_ms: 0,
            shards: 1,
            tags: Default::default(),
            settings: Default::default(),
            indexes: vec![IndexDef {
                name: "gsi".into(),
                kind: IndexKind::Global,
                id: 2,
                key_schema: IndexKeys {
                    hash: vec![attr("g")],
                    range: Vec::new(),
                },
                projection,
                throughput: None,
                build: IndexBuild::WithTable,
            }],
        }
    }

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    /// A rule, the item before and after, the index's projection, the change.
    type Row = (
        &'static str,
        Option<Item>,
        Option<Item>,
        IndexProjection,
        EntryChange,
    );

    /// Each row: what the write did, the item before and after, the projection, and
    /// the change the index sees (GSI.md's "Write Capacity Units" cases; sizes are the
    /// entry's: `pk` + `g` (+ `p` when projected)).
    #[test]
    fn entry_changes_by_dynamodb_cases() {
        use EntryChange::*;
        let include = IndexProjection::Include(vec!["p".into()]);
        let rows: Vec<Row> = vec![
            (
                "new item with the index key: put into the index",
                None,
                Some(item(&[("pk", "a"), ("g", "x"), ("p", "1"), ("o", "zz")])),
                include.clone(),
                // pk+a, g+x, p+1 = 7 bytes; `o` is not projected.
                Insert { new_bytes: 7 },
            ),
            (
                "never in the index",
                Some(item(&[("pk", "a")])),
                Some(item(&[("pk", "a"), ("o", "1")])),
                include.clone(),
                Absent,
            ),
            (
                "index key attribute removed",
                Some(item(&[("pk", "a"), ("g", "x")])),
                Some(item(&[("pk", "a")])),
                include.clone(),
                Remove { old_bytes: 5 },
            ),
            (
                "deleted item that was in the index",
                Some(item(&[("pk", "a"), ("g", "x")])),
                None,
                IndexProjection::KeysOnly,
                Remove { old_bytes: 5 },
            ),
            (
                "index key changed",
                Some(item(&[("pk", "a"), ("g", "x")])),
                Some(item(&[("pk", "a"), ("g", "yy")])),
                include.clone(),
                Move {
                    old_bytes: 5,
                    new_bytes: 6,
                },
            ),
            (
                "projected attribute changed",
                Some(item(&[("pk", "a"), ("g", "x"), ("p", "1")])),
                Some(item(&[("pk", "a"), ("g", "x"), ("p", "22")])),
                include.clone(),
                Update {
                    old_bytes: 7,
                    new_bytes: 8,
                },
            ),
            (
                "unprojected attribute changed",
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "1")])),
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "2")])),
                include.clone(),
                Unchanged,
            ),
            (
                "any attribute changed under ALL",
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "1")])),
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "22")])),
                IndexProjection::All,
                Update {
                    old_bytes: 7,
                    new_bytes: 8,
                },
            ),
            (
                "identical overwrite",
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "1")])),
                Some(item(&[("pk", "a"), ("g", "x"), ("o", "1")])),
                IndexProjection::All,
                Unchanged,
            ),
        ];
        for (rule, old, new, projection, want) in rows {
            let t = table(projection);
            assert_eq!(
                entry_change(&t, &t.indexes[0], old.as_ref(), new.as_ref()),
                want,
                "{rule}"
            );
        }
    }
}
