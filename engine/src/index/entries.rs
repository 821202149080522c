//! An item's index entries: their keys (absent for a sparse index, refused for an
//! index-key violation), the item as each index projects it, and the entry changes a
//! write makes, which the writer stages with the item.
//!
//! It owns the entries' layout (see `index/mod.rs`); it must not know the writer.

use std::sync::Arc;

use crate::catalog::TableDef;
use crate::error::{Error, Result};
use crate::index::def::{IndexBuild, IndexDef, IndexProjection, IndexStats, LiveIndex, invalid};
use crate::keys::{check_storage_key, composite_item_key, encode_key_value, item_key};
use crate::limits::{PARTITION_KEY_BYTES_MAX, SORT_KEY_BYTES_MAX};
use crate::schema::{
    IndexKeys, KeyAttribute, KeyRole, check_not_empty_key, check_partition_key_size,
    check_sort_key_size, invalid_start_key, key_type_descriptor,
};
use crate::value::{AttributeValue, Item, item_size_bytes};

/// The names of an index entry's key attributes: the table's, then the index's own.
pub fn entry_key_names<'a>(table: &'a TableDef, index: &'a IndexDef) -> Vec<&'a str> {
    let mut names: Vec<&str> = table.key_names().collect();
    for n in index.key_schema.names() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Why an item has no entry in an index: DynamoDB's *index-key violations* (a key
/// attribute of another type, an empty S or B, a value over the key-size limits), or
/// simply a missing key attribute (a sparse index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEntry {
    Missing,
    Violation,
}

/// An item's values of an index's partition attributes and of its sort attributes,
/// each in KeySchema order.
type KeyValues<'a> = (Vec<&'a AttributeValue>, Vec<&'a AttributeValue>);

/// The index key values of an item (partition values, then sort values, each in
/// KeySchema order), if the item belongs in the index: every index key attribute
/// present, of its defined type, not empty, and within DynamoDB's key-size limits
/// (which hold for each attribute of a multi-attribute key). The writer and the
/// backfill decide with this one function, so they agree on what an index holds; an
/// item missing any one attribute of a multi-attribute key is not in the index.
fn index_keys<'a>(index: &IndexDef, item: &'a Item) -> Result<KeyValues<'a>, NoEntry> {
    let value = |attr: &KeyAttribute, bytes_max: usize| -> Result<&'a AttributeValue, NoEntry> {
        let v = item.get(&attr.name).ok_or(NoEntry::Missing)?;
        let eligible =
            attr.key_type.is_type_of(v) && !is_empty_value(v) && v.size_bytes() <= bytes_max;
        if eligible {
            Ok(v)
        } else {
            Err(NoEntry::Violation)
        }
    };
    // Attributes are looked at in KeySchema order, the first one missing or in
    // violation deciding, as with a one-and-one key.
    let keys = &index.key_schema;
    let hash = keys
        .hash
        .iter()
        .map(|a| value(a, PARTITION_KEY_BYTES_MAX))
        .collect::<Result<Vec<_>, _>>()?;
    let range = keys
        .range
        .iter()
        .map(|a| value(a, SORT_KEY_BYTES_MAX))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((hash, range))
}

fn is_empty_value(v: &AttributeValue) -> bool {
    match v {
        AttributeValue::S(s) => s.is_empty(),
        AttributeValue::B(b) => b.is_empty(),
        _ => false,
    }
}

/// The storage key of an item's entry in `index`, or why it has none. The item must
/// carry the table's key attributes (every stored item does).
pub fn entry_key(table: &TableDef, index: &IndexDef, item: &Item) -> Result<Vec<u8>, NoEntry> {
    let (hash, range) = index_keys(index, item)?;
    let table_keys = table.key_names().map(|n| item.get(n));
    let mut key = composite_item_key(index.id, table.shards, &hash, &range)
        .map_err(|_| NoEntry::Violation)?
        .0;
    for v in table_keys {
        encode_key_value(v.ok_or(NoEntry::Missing)?, &mut key);
    }
    // Index and table keys within DynamoDB's limits make an entry key of at most
    // about 12 KB; the storage bound is asserted where the key is made, not assumed.
    let fits = check_storage_key(&key).is_ok();
    debug_assert!(fits, "index entry key of {} bytes", key.len());
    if fits {
        Ok(key)
    } else {
        Err(NoEntry::Violation)
    }
}

/// The storage key an index Query or Scan's `ExclusiveStartKey` names: it must hold
/// the table's and the index's key attributes, of their types and within DynamoDB's
/// key limits.
pub fn start_key(table: &TableDef, index: &IndexDef, esk: &Item) -> Result<Vec<u8>> {
    let names = entry_key_names(table, index);
    let attrs = table
        .attribute_definitions
        .iter()
        .filter(|a| names.contains(&a.name.as_str()));
    let well_typed = attrs
        .clone()
        .all(|a| esk.get(&a.name).is_some_and(|v| a.key_type.is_type_of(v)));
    let mismatch = || {
        invalid_start_key(Error::validation(
            "The provided key element does not match the schema",
        ))
    };
    if esk.len() != names.len() || !well_typed {
        return Err(mismatch());
    }
    let table_keys = IndexKeys::of(&table.key_schema);
    for (attr, role) in table_keys.attributes().chain(index.key_schema.attributes()) {
        let v = &esk[&attr.name];
        check_not_empty_key(v, &attr.name).map_err(invalid_start_key)?;
        let sized = if role == KeyRole::Hash {
            check_partition_key_size(v)
        } else {
            check_sort_key_size(v)
        };
        sized.map_err(invalid_start_key)?;
    }
    entry_key(table, index, esk).map_err(|_| mismatch())
}

/// Whether the index's entries carry attribute `name`, given its key attribute names.
pub(crate) fn projects(index: &IndexDef, keys: &[&str], name: &str) -> bool {
    match &index.projection {
        IndexProjection::All => true,
        IndexProjection::KeysOnly => keys.contains(&name),
        IndexProjection::Include(attrs) => keys.contains(&name) || attrs.iter().any(|a| a == name),
    }
}

/// An item as its entry in `index` stores it.
pub fn project(table: &TableDef, index: &IndexDef, item: &Item) -> Item {
    if index.projection == IndexProjection::All {
        return item.clone();
    }
    let keys = entry_key_names(table, index);
    item.iter()
        .filter(|(k, _)| projects(index, &keys, k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether every attribute of `names` is in the index's entries.
pub fn projects_all(table: &TableDef, index: &IndexDef, names: &[&str]) -> bool {
    let keys = entry_key_names(table, index);
    names.iter().all(|n| projects(index, &keys, n))
}

/// Rejects an item whose value for an index key attribute has the wrong type, is
/// empty, or is too long, as DynamoDB rejects such a write. An index still being
/// backfilled is not held to this: DynamoDB takes such a write and leaves the item out
/// of the index until the backfill is done, and refuses it only after.
pub fn check_item(indexes: &[LiveIndex], item: &Item) -> Result<()> {
    let built = indexes
        .iter()
        .map(|l| &l.def)
        .filter(|d| d.build != IndexBuild::Backfilling);
    for index in built {
        for (attr, role) in index.key_schema.attributes() {
            let bytes_max = match role {
                KeyRole::Hash => PARTITION_KEY_BYTES_MAX,
                KeyRole::Range => SORT_KEY_BYTES_MAX,
            };
            let Some(v) = item.get(&attr.name) else {
                continue;
            };
            if !attr.key_type.is_type_of(v) {
                return Err(invalid(format!(
                    "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    key_type_descriptor(attr.key_type),
                    v.attribute_type().descriptor(),
                    index.name
                )));
            }
            if is_empty_value(v) {
                return Err(Error::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                    empty_kind(v),
                    index.name,
                    attr.name
                )));
            }
            if v.size_bytes() > bytes_max {
                return Err(invalid(format!(
                    "Size of the index key attribute {} of index {} exceeds the limit of {bytes_max} bytes",
                    attr.name, index.name
                )));
            }
        }
    }
    Ok(())
}

/// Refuses an update expression that sets a key attribute of a built index directly to
/// an empty string or binary value (of the attribute's type). DynamoDB's input
/// validation refuses that before the item is read, in words of its own without the
/// index's name, so that it fails a whole transaction rather than cancelling it (the
/// dynamodb-conformance suite's transactIndexKeys test, captured against DynamoDB;
/// moto's EmptyKeyAttributeException has the same words for UpdateItem). `sets` are
/// the top-level attributes the expression sets to a plain value, with that value.
pub fn check_update_values<'a>(
    indexes: &[LiveIndex],
    sets: impl IntoIterator<Item = (&'a str, &'a AttributeValue)>,
) -> Result<()> {
    let built: Vec<&IndexDef> = indexes
        .iter()
        .map(|l| &l.def)
        .filter(|d| d.build != IndexBuild::Backfilling)
        .collect();
    for (name, v) in sets {
        let refused = is_empty_value(v)
            && built.iter().any(|index| {
                index
                    .key_schema
                    .attributes()
                    .any(|(attr, _)| attr.name == name && attr.key_type.is_type_of(v))
            });
        if refused {
            return Err(Error::validation(format!(
                "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty {} value.",
                empty_kind(v)
            )));
        }
    }
    Ok(())
}

/// How DynamoDB's messages name an empty key value's type.
fn empty_kind(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::B(_) => "binary",
        _ => "string",
    }
}

/// What one item change does to one index: the entry to remove, the entry to write
/// (with the item as the index stores it), and the change to the index's item count
/// and size.
pub struct EntryChange {
    pub counters: Arc<IndexStats>,
    pub remove: Option<Vec<u8>>,
    pub insert: Option<(Vec<u8>, Item)>,
    pub items_delta: i64,
    pub bytes_delta: i64,
}

/// What an item going from `old` to `new` does to each index of its table. An index
/// whose entry stays the same (same key, same projected item) is left out. On an index
/// being backfilled, the change of an item the backfill has not visited yet is written
/// but not counted: the backfill counts the item when it gets there (see
/// [`BackfillCursor`]).
pub fn entry_changes(
    table: &TableDef,
    indexes: &[LiveIndex],
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<EntryChange> {
    let mut out = Vec::new();
    for live in indexes {
        let index = &live.def;
        let entry = |i: &Item| {
            entry_key(table, index, i)
                .ok()
                .map(|k| (k, project(table, index, i)))
        };
        let old_entry = old.and_then(entry);
        let new_entry = new.and_then(entry);
        if old_entry == new_entry {
            continue;
        }
        let counted = match (&live.backfill, new.or(old)) {
            (Some(cursor), Some(item)) => {
                table_key(table, item).is_some_and(|k| cursor.visited(&k))
            }
            _ => true,
        };
        let size =
            |e: &Option<(Vec<u8>, Item)>| e.as_ref().map_or(0, |(_, i)| item_size_bytes(i) as i64);
        let (items_delta, bytes_delta) = if counted {
            (
                i64::from(new_entry.is_some()) - i64::from(old_entry.is_some()),
                size(&new_entry) - size(&old_entry),
            )
        } else {
            (0, 0)
        };
        // A rewrite under the same key needs no removal first.
        let remove = match (old_entry, &new_entry) {
            (Some((ok, _)), Some((nk, _))) if ok == *nk => None,
            (old, _) => old.map(|(k, _)| k),
        };
        out.push(EntryChange {
            counters: Arc::clone(&live.counters),
            remove,
            insert: new_entry,
            items_delta,
            bytes_delta,
        });
    }
    out
}

/// The storage key of a stored item of `table` (it carries the key attributes).
pub(crate) fn table_key(table: &TableDef, item: &Item) -> Option<Vec<u8>> {
    let pk = item.get(&table.key_schema.hash.name)?;
    let sk = match &table.key_schema.range {
        Some(r) => Some(item.get(&r.name)?),
        None => None,
    };
    item_key(table.id, table.shards, pk, sk)
        .ok()
        .map(|(k, _)| k)
}
