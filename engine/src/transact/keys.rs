//! A transaction's actions' keys checked against their tables' key schemas before
//! anything else about the transaction, as DynamoDB does.
//!
//! DynamoDB answers a key of the wrong type, a non-scalar one or a missing one by
//! cancelling the transaction: the first such action gets a `ValidationError` reason
//! and every other action `None` (captured against DynamoDB by the dynamodb-conformance
//! suite and floci's PR 3674: a Put's item says "Type mismatch for key …", the `Key` of
//! an Update, Delete or ConditionCheck "The provided key element does not match the
//! schema"). An empty string or binary key value is different: input validation
//! refuses it up front, so it fails the whole request; so is an empty value of a
//! secondary index's key in a Put's item (the conformance suite's
//! transactIndexKeys test), while an index key of the wrong type cancels when the
//! action is evaluated, like any index check of an item written.
//!
//! This module owns that classification; it must not read items or build mutations.

use crate::catalog::{Table, TableDef};
use crate::error::Result;
use crate::schema::{KeyAttribute, check_not_empty_key, item_key_attribute};
use crate::transact::TransactWriteAction;
use crate::value::{AttributeValue, Item};

/// The reason the action's key cancels the transaction, if it does; an empty key value
/// is an error of the whole request.
pub(super) fn key_fault(table: &Table, action: &TransactWriteAction) -> Result<Option<String>> {
    let def = &table.def;
    match action {
        TransactWriteAction::Put(p) => {
            check_no_empty_index_key(table, &p.item)?;
            item_fault(def, &p.item)
        }
        TransactWriteAction::Update(u) => key_param_fault(def, &u.key),
        TransactWriteAction::Delete(d) => key_param_fault(def, &d.key),
        TransactWriteAction::ConditionCheck(c) => key_param_fault(def, &c.key),
    }
}

fn key_attributes(table: &TableDef) -> impl Iterator<Item = &KeyAttribute> {
    std::iter::once(&table.key_schema.hash).chain(table.key_schema.range.as_ref())
}

/// Refuses an empty string or binary value of a key attribute (whatever its type).
fn check_no_empty(table: &TableDef, values: &Item) -> Result<()> {
    for attr in key_attributes(table) {
        if let Some(v) = values.get(&attr.name) {
            check_not_empty_key(v, &attr.name)?;
        }
    }
    Ok(())
}

/// Refuses an empty string or binary value, of the right type, of a key attribute of
/// one of the table's indexes, with the index check's own message.
fn check_no_empty_index_key(table: &Table, item: &Item) -> Result<()> {
    let indexes = table.stats.live_indexes();
    let empties: Item = indexes
        .iter()
        .flat_map(|l| l.def.key_schema.attributes())
        .filter_map(|(attr, _)| {
            let v = item.get(&attr.name)?;
            let empty = match v {
                AttributeValue::S(s) => s.is_empty(),
                AttributeValue::B(b) => b.is_empty(),
                _ => false,
            };
            (empty && attr.key_type.is_type_of(v)).then(|| (attr.name.clone(), v.clone()))
        })
        .collect();
    crate::index::entries::check_item(&indexes, &empties)
}

/// A Put's item: each key attribute present and of its type, in the PutItem words.
fn item_fault(table: &TableDef, item: &Item) -> Result<Option<String>> {
    check_no_empty(table, item)?;
    for attr in key_attributes(table) {
        if let Err(crate::error::Error::Validation(m)) = item_key_attribute(item, attr) {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// A `Key` parameter: exactly the key attributes, of their types.
fn key_param_fault(table: &TableDef, key: &Item) -> Result<Option<String>> {
    check_no_empty(table, key)?;
    let shaped = key.len() == key_attributes(table).count()
        && key_attributes(table)
            .all(|a| key.get(&a.name).is_some_and(|v| a.key_type.is_type_of(v)));
    Ok((!shaped).then(|| "The provided key element does not match the schema".to_string()))
}
