//! The data plane's request types, and what every call checks alike: expression
//! attributes and parameter families, the condition, projection and filter
//! (expression or legacy), an item's and a key's shape, Select and Limit, and the
//! index a read names.
//!
//! It owns the inputs' validation; it must not read or write anything.

use std::collections::{BTreeMap, HashMap};

use crate::capacity::Consumed;
use crate::catalog::TableRef;
use crate::error::{Error, Result};
use crate::expr::legacy::{
    self, AttributeUpdate, ConditionalOperator, ExpectedAttribute, LegacyCondition,
};
use crate::expr::{Condition, Projection, Resolver};
use crate::index::def::{IndexBuild, IndexDef, IndexKind};
use crate::keys::item_key;
use crate::limits::ITEM_BYTES_MAX;
use crate::schema::invalid_start_key;
use crate::stored::StoredItem;
use crate::value::{AttributeValue, Item, check_attribute_name, item_size_bytes};

/// `ExpressionAttributeNames` and `ExpressionAttributeValues` of a request.
#[derive(Debug, Clone, Default)]
pub struct ExpressionAttributes {
    pub names: Option<HashMap<String, String>>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

impl ExpressionAttributes {
    /// The top-level attribute names a ProjectionExpression reads and an
    /// UpdateExpression writes, `#name` placeholders resolved: what an access policy
    /// knows as `dynamodb:Attributes`. An invalid expression is the error the request
    /// itself would answer.
    pub fn accessed_attributes(
        &self,
        projection: Option<&str>,
        update: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut resolver = self.resolver()?;
        let mut names = Vec::new();
        if let Some(p) = projection {
            names.extend(
                resolver
                    .projection(p)?
                    .paths
                    .iter()
                    .map(|p| p.head().to_owned()),
            );
        }
        if let Some(u) = update {
            names.extend(resolver.update(u)?.touched_attributes());
        }
        Ok(names)
    }

    pub(crate) fn resolver(&self) -> Result<Resolver<'_>> {
        let resolver = Resolver::new(self.names.as_ref(), self.values.as_ref())?;
        if let Some(values) = &self.values {
            let mut keys: Vec<&String> = values.keys().collect();
            keys.sort();
            for k in keys {
                crate::value::check_nested_names(&values[k])?;
                values[k].validate(1).map_err(|e| {
                    Error::validation(format!(
                        "ExpressionAttributeValues contains invalid value: {e} for key {k}"
                    ))
                })?;
            }
        }
        Ok(resolver)
    }

    /// DynamoDB's checks on mixing expression and legacy parameters (see
    /// [`legacy::check_parameter_families`]).
    pub(crate) fn check_families(
        &self,
        expression: &[(&str, bool)],
        legacy: &[(&str, bool)],
    ) -> Result<()> {
        legacy::check_parameter_families(
            expression,
            legacy,
            self.names.is_some(),
            self.values.is_some(),
        )
    }
}

/// The legacy parameters of a conditional write (`Expected`, `ConditionalOperator`).
#[derive(Debug, Clone, Default)]
pub struct LegacyWrite {
    pub expected: Option<BTreeMap<String, ExpectedAttribute>>,
    pub conditional_operator: Option<ConditionalOperator>,
}

/// The condition of a write: its ConditionExpression, or its legacy `Expected`.
pub(crate) fn write_condition(
    resolver: &mut Resolver<'_>,
    expr: Option<&str>,
    legacy: &LegacyWrite,
) -> Result<Option<Condition>> {
    match (expr, &legacy.expected) {
        (Some(c), _) => resolver.condition(c).map(Some),
        (None, Some(e)) => {
            legacy::expected_condition(e, legacy.conditional_operator.unwrap_or_default())
        }
        (None, None) => Ok(None),
    }
}

/// The projection of a read: its ProjectionExpression, or its legacy `AttributesToGet`.
pub(crate) fn read_projection(
    resolver: &mut Resolver<'_>,
    expr: Option<&str>,
    attributes_to_get: Option<&[String]>,
) -> Result<Option<Projection>> {
    match (expr, attributes_to_get) {
        (Some(p), _) => resolver.projection(p).map(Some),
        (None, Some(a)) => legacy::attributes_to_get(a).map(Some),
        (None, None) => Ok(None),
    }
}

/// The filter of a Query or Scan: its FilterExpression, or its legacy
/// `QueryFilter`/`ScanFilter` with `ConditionalOperator`.
pub(crate) fn read_filter(
    resolver: &mut Resolver<'_>,
    expr: Option<&str>,
    filter: Option<&BTreeMap<String, LegacyCondition>>,
    op: Option<ConditionalOperator>,
) -> Result<Option<Condition>> {
    match (expr, filter) {
        (Some(f), _) => resolver.filter(f).map(Some),
        (None, Some(f)) => legacy::filter_condition(f, op.unwrap_or_default()),
        (None, None) => Ok(None),
    }
}

/// What a write returns of the item (`ReturnValues`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

impl ReturnValues {
    pub fn parse(s: &str) -> Result<ReturnValues> {
        Ok(match s {
            "NONE" => ReturnValues::None,
            "ALL_OLD" => ReturnValues::AllOld,
            "UPDATED_OLD" => ReturnValues::UpdatedOld,
            "ALL_NEW" => ReturnValues::AllNew,
            "UPDATED_NEW" => ReturnValues::UpdatedNew,
            _ => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{s}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
                )));
            }
        })
    }
}

/// Which attributes a Query or Scan returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Select {
    #[default]
    AllAttributes,
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

#[derive(Debug, Clone, Default)]
pub struct PutItemInput {
    pub table: String,
    pub item: Item,
    pub condition: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_values: ReturnValues,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub return_old_on_condition_failure: bool,
    /// `Expected` / `ConditionalOperator` (instead of `condition`).
    pub legacy: LegacyWrite,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteItemInput {
    pub table: String,
    pub key: Item,
    pub condition: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_values: ReturnValues,
    pub return_old_on_condition_failure: bool,
    /// `Expected` / `ConditionalOperator` (instead of `condition`).
    pub legacy: LegacyWrite,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateItemInput {
    pub table: String,
    pub key: Item,
    pub update: Option<String>,
    pub condition: Option<String>,
    pub attributes: ExpressionAttributes,
    pub return_values: ReturnValues,
    pub return_old_on_condition_failure: bool,
    /// `Expected` / `ConditionalOperator` (instead of `condition`).
    pub legacy: LegacyWrite,
    /// Legacy `AttributeUpdates` (instead of `update`).
    pub attribute_updates: Option<BTreeMap<String, AttributeUpdate>>,
}

/// The attributes a write returns, per its `ReturnValues`.
#[derive(Debug, Clone, Default)]
pub struct WriteOutput {
    pub attributes: Option<Item>,
    /// The capacity the write consumed (see `capacity/units.rs`).
    pub consumed: Consumed,
}

#[derive(Debug, Clone, Default)]
pub struct GetItemInput {
    pub table: String,
    pub key: Item,
    pub projection: Option<String>,
    pub attributes: ExpressionAttributes,
    /// Legacy `AttributesToGet` (instead of `projection`).
    pub attributes_to_get: Option<Vec<String>>,
    /// `ConsistentRead`: Eddy's reads are always current, but a strongly consistent
    /// read costs twice the capacity of an eventually consistent one.
    pub consistent_read: bool,
}

#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    pub table: String,
    pub key_condition: Option<String>,
    pub filter: Option<String>,
    pub projection: Option<String>,
    pub attributes: ExpressionAttributes,
    pub select: Option<Select>,
    pub limit: Option<usize>,
    pub scan_forward: bool,
    pub exclusive_start_key: Option<Item>,
    /// `IndexName`: query this secondary index instead of the table.
    pub index: Option<String>,
    pub consistent_read: bool,
    /// Legacy `AttributesToGet`, `KeyConditions`, `QueryFilter`, `ConditionalOperator`.
    pub attributes_to_get: Option<Vec<String>>,
    pub key_conditions: Option<BTreeMap<String, LegacyCondition>>,
    pub query_filter: Option<BTreeMap<String, LegacyCondition>>,
    pub conditional_operator: Option<ConditionalOperator>,
}

#[derive(Debug, Clone, Default)]
pub struct ScanInput {
    pub table: String,
    pub filter: Option<String>,
    pub projection: Option<String>,
    pub attributes: ExpressionAttributes,
    pub select: Option<Select>,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<Item>,
    pub segment: Option<u32>,
    pub total_segments: Option<u32>,
    /// `IndexName`: scan this secondary index instead of the table.
    pub index: Option<String>,
    pub consistent_read: bool,
    /// Legacy `AttributesToGet`, `ScanFilter`, `ConditionalOperator`.
    pub attributes_to_get: Option<Vec<String>>,
    pub scan_filter: Option<BTreeMap<String, LegacyCondition>>,
    pub conditional_operator: Option<ConditionalOperator>,
}

/// One page of a Query or Scan.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The matching items (empty for `Select::Count`), as stored: a page read without
    /// a filter or projection passes the stored bytes on without building items.
    pub items: Vec<StoredItem>,
    pub count: usize,
    pub scanned_count: usize,
    pub last_evaluated_key: Option<Item>,
    /// The capacity the page's read consumed.
    pub consumed: Consumed,
}

impl Page {
    /// The page's items, built.
    pub fn decoded_items(&self) -> Result<Vec<Item>> {
        self.items.iter().map(StoredItem::decode).collect()
    }
}

/// Keys to read from one table in a BatchGetItem.
#[derive(Debug, Clone, Default)]
pub struct BatchGetTable {
    pub table: String,
    pub keys: Vec<Item>,
    pub projection: Option<String>,
    pub attributes: ExpressionAttributes,
    /// Legacy `AttributesToGet` (instead of `projection`).
    pub attributes_to_get: Option<Vec<String>>,
    /// `ConsistentRead` of this table's reads (it decides their capacity only).
    pub consistent_read: bool,
}

#[derive(Debug, Clone, Default)]
pub struct BatchGetOutput {
    /// Found items per table name, in request order of the tables.
    pub responses: Vec<(String, Vec<Item>)>,
    /// Keys not read because the response reached its size limit.
    pub unprocessed: Vec<(String, Vec<Item>)>,
    /// The capacity consumed, one entry per table read.
    pub consumed: Vec<Consumed>,
}

/// What a BatchWriteItem answers: the requests refused for throughput, per table, for
/// the client to send again (`UnprocessedItems`), and what the others consumed.
#[derive(Debug, Clone, Default)]
pub struct BatchWriteOutput {
    pub unprocessed: Vec<(String, Vec<BatchWriteRequest>)>,
    /// The capacity the processed requests consumed, per table.
    pub consumed: Vec<crate::capacity::Consumed>,
}

/// One request of a BatchWriteItem.
#[derive(Debug, Clone)]
pub enum BatchWriteRequest {
    Put(Item),
    Delete(Item),
}

pub type Done<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// Checks a client's item: attribute names, valid values, size limit, key attributes.
pub(crate) fn check_item(table: &TableRef, item: &Item) -> Result<()> {
    for (name, v) in item {
        check_attribute_name(name)?;
        v.validate(1)?;
    }
    if item_size_bytes(item) > ITEM_BYTES_MAX {
        return Err(Error::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    table.def.item_key(item)?;
    Ok(())
}

/// The storage key of a `Key` parameter, checked against the schema.
pub(crate) fn storage_key_of(table: &TableRef, key: &Item) -> Result<Vec<u8>> {
    for v in key.values() {
        v.validate(1)?;
    }
    let (pk, sk) = table.def.key_from(key)?;
    Ok(item_key(table.def.id, table.def.shards, pk, sk)?.0)
}

pub(crate) fn storage_key_of_item(table: &TableRef, item: &Item) -> Result<Vec<u8>> {
    let (pk, sk) = table.def.item_key(item)?;
    Ok(item_key(table.def.id, table.def.shards, pk, sk)?.0)
}

/// PutItem and DeleteItem can return only the old item.
pub(crate) fn check_old_only(rv: ReturnValues) -> Result<()> {
    if matches!(rv, ReturnValues::None | ReturnValues::AllOld) {
        Ok(())
    } else {
        Err(Error::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ))
    }
}

/// The Select a Query or Scan reads with, checked against its projection and index.
/// The messages are those moto's tests recorded against DynamoDB (test_select.py,
/// `aws_verified`): a Query's carry the "1 validation error detected: " envelope and a
/// Scan's do not, and COUNT is described as "only the Count".
pub(crate) fn resolve_select(
    select: Option<Select>,
    has_projection: bool,
    legacy_projection: bool,
    on_index: bool,
    query: bool,
) -> Result<Select> {
    let parameter = if legacy_projection {
        "AttributesToGet"
    } else {
        "ProjectionExpression"
    };
    let envelope = if query {
        "1 validation error detected: "
    } else {
        ""
    };
    match (select, has_projection) {
        (None, true) => Ok(Select::SpecificAttributes),
        // An index returns what it projects unless asked for more.
        (None, false) if on_index => Ok(Select::AllProjectedAttributes),
        (None, false) => Ok(Select::AllAttributes),
        (Some(Select::SpecificAttributes), true) => Ok(Select::SpecificAttributes),
        (Some(Select::SpecificAttributes), false) => Err(Error::validation(format!(
            "{envelope}Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        ))),
        (Some(Select::AllProjectedAttributes), false) if on_index => {
            Ok(Select::AllProjectedAttributes)
        }
        (Some(Select::AllProjectedAttributes), false) => Err(Error::validation(format!(
            "{envelope}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        ))),
        (Some(s), true) => Err(Error::validation(format!(
            "{envelope}Cannot specify the {parameter} when choosing to get {}",
            match s {
                Select::Count => "only the Count",
                Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
                _ => "ALL_ATTRIBUTES",
            }
        ))),
        (Some(s), false) => Ok(s),
    }
}

pub(crate) fn check_limit(limit: Option<usize>) -> Result<Option<usize>> {
    match limit {
        Some(0) => Err(Error::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        other => Ok(other),
    }
}

/// The storage key an `ExclusiveStartKey` of a table names.
pub(crate) fn start_key(table: &TableRef, esk: &Item) -> Result<Vec<u8>> {
    storage_key_of(table, esk).map_err(invalid_start_key)
}

/// The index `IndexName` names, checked against the read's consistency.
pub(crate) fn find_index<'a>(
    table: &'a TableRef,
    name: Option<&str>,
    consistent_read: bool,
) -> Result<Option<&'a IndexDef>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let index = table.def.index(name).ok_or_else(|| {
        Error::validation(format!(
            "The table does not have the specified index: {name}"
        ))
    })?;
    if consistent_read && index.kind == IndexKind::Global {
        return Err(Error::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if index.build == IndexBuild::Backfilling {
        return Err(Error::validation(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    Ok(Some(index))
}
