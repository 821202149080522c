//! PutItem, GetItem, UpdateItem and DeleteItem: one item by its key.
//!
//! Owns their request shapes (with the legacy `Expected` and `AttributeUpdates`). Must
//! not know how the engine applies them.

use std::collections::HashMap;

use eddy_engine::{
    DeleteItemInput, Engine, GetItemInput, PutItemInput, UpdateItemInput, WriteOutput,
};
use serde::Deserialize;

use super::access::{
    Access, AccessResult, KEY_ATTRIBUTES, KEY_LEADING, KEY_RETURN_VALUES, KEY_SELECT,
    attribute_names, expression_names, leading_keys, select_of,
};
use super::capacity::{self, Detail, Split};
use super::request::{
    NamesTables, expr_attrs, required, return_old_on_failure, return_values, write, write_output,
};
use super::violations::Violations;
use crate::error::ApiError;
use crate::legacy::{self, WireAttributeUpdate, WireExpected};
use crate::wire::input::{WireItem, WireValue, into_item};
use crate::wire::stored;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutItemRequest {
    table_name: Option<String>,
    item: Option<WireItem>,
    condition_expression: Option<String>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    expected: Option<HashMap<String, WireExpected>>,
    conditional_operator: Option<String>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

impl NamesTables for PutItemRequest {
    fn tables(&self) -> Vec<&str> {
        self.table_name.as_deref().into_iter().collect()
    }

    fn accesses(&self, op: &str, engine: &Engine) -> AccessResult {
        let table = self.table_name.as_deref();
        let leading = table.map_or_else(Vec::new, |t| leading_keys(engine, t, self.item.iter()));
        Ok(vec![
            Access::new(op, table)
                .with(KEY_LEADING, leading)
                .with(KEY_ATTRIBUTES, attribute_names(self.item.as_ref(), None))
                .with_one(KEY_RETURN_VALUES, self.return_values.as_deref()),
        ])
    }
}

/// `ReturnValues`' members as DynamoDB lists them (dynalite's recorded messages).
const RETURN_VALUES: &[&str] = &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];

/// The first pass DynamoDB makes over a one-item request, reported together: the
/// capacity and metrics flags, `ReturnValues`' enum, an empty `AttributesToGet`, then
/// the table name and the item or key (the order dynalite's tests record for GetItem,
/// UpdateItem and BatchWriteItem; its recordings of PutItem and DeleteItem list the
/// same violations in other orders, so DynamoDB's order is not stable).
/// `key` is `("item", ..)` for PutItem; `metrics` is `None` for GetItem, which has no
/// such member, and `attributes_to_get` is `None` for all but GetItem.
fn check_members(
    capacity: Option<&str>,
    metrics: Option<Option<&str>>,
    return_values: Option<&str>,
    attributes_to_get: Option<&[String]>,
    table: Option<&String>,
    key: (&str, Option<&WireItem>),
) -> Result<(), ApiError> {
    let mut v = Violations::new();
    v.return_consumed_capacity(capacity);
    if let Some(metrics) = metrics {
        v.return_item_collection_metrics(metrics);
    }
    v.one_of(return_values, "returnValues", RETURN_VALUES);
    if attributes_to_get.is_some_and(<[String]>::is_empty) {
        v.count(Some("[]"), 0, "attributesToGet", 1, usize::MAX);
    }
    v.not_null(table, "tableName");
    v.not_null(key.1, key.0);
    v.finish()
}

/// The legacy `Expected` / `ConditionalOperator` of a write.
fn legacy_write(
    expected: Option<HashMap<String, WireExpected>>,
    op: Option<String>,
) -> Result<eddy_engine::LegacyWrite, ApiError> {
    Ok(eddy_engine::LegacyWrite {
        expected: legacy::expected(expected)?,
        conditional_operator: legacy::conditional_operator(op)?,
    })
}

pub(super) async fn put_item(engine: &Engine, r: PutItemRequest) -> Result<Vec<u8>, ApiError> {
    check_members(
        r.return_consumed_capacity.as_deref(),
        Some(r.return_item_collection_metrics.as_deref()),
        r.return_values.as_deref(),
        None,
        r.table_name.as_ref(),
        ("item", r.item.as_ref()),
    )?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let input = PutItemInput {
        table: required(r.table_name, "tableName")?,
        item: into_item(required(r.item, "item")?)?,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
    };
    Ok(write_answer(
        write(|done| engine.put_item(input, done)).await?,
        detail,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyedRequest {
    table_name: Option<String>,
    key: Option<WireItem>,
    condition_expression: Option<String>,
    update_expression: Option<String>,
    projection_expression: Option<String>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
    expected: Option<HashMap<String, WireExpected>>,
    conditional_operator: Option<String>,
    attribute_updates: Option<HashMap<String, WireAttributeUpdate>>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
    consistent_read: Option<bool>,
}

impl KeyedRequest {
    /// [`check_members`] for a keyed request; `writes` says whether the operation has
    /// `ReturnItemCollectionMetrics` (GetItem has not).
    fn check_members(&self, writes: bool) -> Result<(), ApiError> {
        check_members(
            self.return_consumed_capacity.as_deref(),
            writes.then_some(self.return_item_collection_metrics.as_deref()),
            self.return_values.as_deref(),
            // Only GetItem has `AttributesToGet`.
            if writes {
                None
            } else {
                self.attributes_to_get.as_deref()
            },
            self.table_name.as_ref(),
            ("key", self.key.as_ref()),
        )
    }
}

impl NamesTables for KeyedRequest {
    fn tables(&self) -> Vec<&str> {
        self.table_name.as_deref().into_iter().collect()
    }

    /// GetItem, UpdateItem and DeleteItem: the key's partition value, the attributes
    /// read (a projection) or written (an update), `Select` of a read and
    /// `ReturnValues` of a write.
    fn accesses(&self, op: &str, engine: &Engine) -> AccessResult {
        let table = self.table_name.as_deref();
        let leading = table.map_or_else(Vec::new, |t| leading_keys(engine, t, self.key.iter()));
        let get = op == "GetItem";
        let mut names = expression_names(
            &self.expression_attribute_names,
            &self.expression_attribute_values,
            self.projection_expression.as_deref().filter(|_| get),
            self.update_expression
                .as_deref()
                .filter(|_| op == "UpdateItem"),
        )?;
        if get {
            names.extend(self.attributes_to_get.iter().flatten().cloned());
        }
        names.extend(
            self.attribute_updates
                .iter()
                .flat_map(|u| u.keys().cloned()),
        );
        names.sort();
        names.dedup();
        let access = Access::new(op, table)
            .with(KEY_LEADING, leading)
            .with(KEY_ATTRIBUTES, names);
        Ok(vec![if get {
            let projects = self.projection_expression.is_some() || self.attributes_to_get.is_some();
            access.with(KEY_SELECT, select_of(None, projects).into_iter().collect())
        } else {
            access.with_one(KEY_RETURN_VALUES, self.return_values.as_deref())
        }])
    }
}

pub(super) async fn delete_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members(true)?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let input = DeleteItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
    };
    Ok(write_answer(
        write(|done| engine.delete_item(input, done)).await?,
        detail,
    ))
}

pub(super) async fn update_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members(true)?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let input = UpdateItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        update: r.update_expression,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
        attribute_updates: legacy::attribute_updates(r.attribute_updates)?,
    };
    Ok(write_answer(
        write(|done| engine.update_item(input, done)).await?,
        detail,
    ))
}

pub(super) fn get_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members(false)?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let input = GetItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        attributes_to_get: r.attributes_to_get,
        consistent_read: r.consistent_read.unwrap_or(false),
    };
    let (item, consumed) = engine.get_item_stored(&input)?;
    let mut out = match item {
        Some(item) => {
            let mut out =
                Vec::with_capacity(16 + stored::json_len_hint(std::slice::from_ref(&item)));
            out.extend_from_slice(br#"{"Item":"#);
            stored::write_item(&mut out, &item)?;
            out.push(b'}');
            out
        }
        None => b"{}".to_vec(),
    };
    capacity::append(&mut out, capacity::object(&consumed, detail, Split::No));
    Ok(out)
}

/// A single write's answer: its `Attributes` and, if asked for, its
/// `ConsumedCapacity`.
fn write_answer(mut out: WriteOutput, detail: Detail) -> Vec<u8> {
    let consumed = std::mem::take(&mut out.consumed);
    let mut body = write_output(out);
    capacity::append(&mut body, capacity::object(&consumed, detail, Split::No));
    body
}
