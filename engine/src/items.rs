//! The data plane: single-item reads and writes, Query, Scan and the batch calls.
//!
//! Each call validates its input and parses its expressions on the caller's thread, so
//! a client mistake is reported before anything is queued; only the read-check-write
//! of the item itself runs on the writer (see `store.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use crate::catalog::{
    KeySchema, TableRef, check_not_empty_key, check_partition_key_size, check_sort_key_size,
    invalid_start_key,
};
use crate::error::{Error, Result};
use crate::expr::legacy::{
    self, AttributeUpdate, ConditionalOperator, ExpectedAttribute, LegacyCondition,
};
use crate::expr::{
    Condition, KeyCondition, Path, Projection, Resolver, SortCondition, UpdateExpr,
    project as project_paths,
};
use crate::index::{IndexBuild, IndexDef, IndexKind, IndexProjection};
use crate::keys::{
    KeyRange, after_prefix, check_range, encode_key_prefix, encode_key_value, item_key, partition_prefix, prefix_end,
};
use crate::limits::{
    BATCH_GET_BYTES_MAX, BATCH_GET_KEYS_MAX, BATCH_WRITE_REQUESTS_MAX, ITEM_BYTES_MAX,
    PAGE_BYTES_MAX, SCAN_SEGMENTS_MAX,
};
use crate::store::{Applied, Change, Engine, Mutation, MutationFn};
use crate::stored::StoredItem;
use crate::value::{AttributeValue, Item, check_attribute_name, item_size_bytes};

/// `ExpressionAttributeNames` and `ExpressionAttributeValues` of a request.
#[derive(Debug, Clone, Default)]
pub struct ExpressionAttributes {
    pub names: Option<HashMap<String, String>>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

impl ExpressionAttributes {
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
    fn check_families(&self, expression: &[(&str, bool)], legacy: &[(&str, bool)]) -> Result<()> {
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
fn write_condition(
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
fn read_projection(
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
fn read_filter(
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
}

#[derive(Debug, Clone, Default)]
pub struct GetItemInput {
    pub table: String,
    pub key: Item,
    pub projection: Option<String>,
    pub attributes: ExpressionAttributes,
    /// Legacy `AttributesToGet` (instead of `projection`).
    pub attributes_to_get: Option<Vec<String>>,
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
}

#[derive(Debug, Clone, Default)]
pub struct BatchGetOutput {
    /// Found items per table name, in request order of the tables.
    pub responses: Vec<(String, Vec<Item>)>,
    /// Keys not read because the response reached its size limit.
    pub unprocessed: Vec<(String, Vec<Item>)>,
}

/// One request of a BatchWriteItem.
#[derive(Debug, Clone)]
pub enum BatchWriteRequest {
    Put(Item),
    Delete(Item),
}

pub type Done<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// Checks a client's item: attribute names, valid values, size limit, key attributes.
fn check_item(table: &TableRef, item: &Item) -> Result<()> {
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

fn storage_key_of_item(table: &TableRef, item: &Item) -> Result<Vec<u8>> {
    let (pk, sk) = table.def.item_key(item)?;
    Ok(item_key(table.def.id, table.def.shards, pk, sk)?.0)
}

fn condition_failed(old: Option<&Item>, return_old: bool) -> Error {
    Error::ConditionalCheckFailed {
        item: if return_old { old.cloned() } else { None },
    }
}

fn check_condition(cond: &Option<Condition>, old: Option<&Item>, return_old: bool) -> Result<()> {
    if let Some(c) = cond {
        let empty = Item::new();
        if !c.evaluate(old.unwrap_or(&empty))? {
            return Err(condition_failed(old, return_old));
        }
    }
    Ok(())
}

/// A validated single-item write, ready for the writer: its mutation, and what its
/// answer needs.
pub(crate) struct PreparedWrite {
    pub mutation: Mutation,
    return_values: ReturnValues,
    /// The paths an update writes (UPDATED_OLD / UPDATED_NEW return them).
    touched: Vec<Path>,
}

/// A mutation that makes `change` if `condition` holds for the current item.
pub(crate) fn conditional(
    condition: Option<Condition>,
    return_old: bool,
    change: Change,
) -> MutationFn {
    Box::new(move |old: Option<&Item>| {
        check_condition(&condition, old, return_old)?;
        Ok(change)
    })
}

/// PutItem and DeleteItem can return only the old item.
fn check_old_only(rv: ReturnValues) -> Result<()> {
    if matches!(rv, ReturnValues::None | ReturnValues::AllOld) {
        Ok(())
    } else {
        Err(Error::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ))
    }
}

impl Engine {
    pub fn put_item(&self, input: PutItemInput, done: Done<WriteOutput>) {
        self.submit_write(self.prepare_put(input), done);
    }

    pub fn delete_item(&self, input: DeleteItemInput, done: Done<WriteOutput>) {
        self.submit_write(self.prepare_delete(input), done);
    }

    pub fn update_item(&self, input: UpdateItemInput, done: Done<WriteOutput>) {
        self.submit_write(self.prepare_update(input), done);
    }

    fn submit_write(&self, prepared: Result<PreparedWrite>, done: Done<WriteOutput>) {
        let p = match prepared {
            Ok(p) => p,
            Err(e) => return done(Err(e)),
        };
        let (rv, touched) = (p.return_values, p.touched);
        self.submit(
            vec![p.mutation],
            Box::new(move |r| done(r.map(|a| single_output(a, rv, &touched)))),
        );
    }

    /// What PutItem and DeleteItem check alike: the parameter families, ReturnValues,
    /// the table, and the condition (parsed).
    fn prepare_whole_item_write(
        &self,
        table: &str,
        condition: Option<&str>,
        attributes: &ExpressionAttributes,
        legacy: &LegacyWrite,
        return_values: ReturnValues,
    ) -> Result<(TableRef, Option<Condition>)> {
        attributes.check_families(
            &[("ConditionExpression", condition.is_some())],
            &[("Expected", legacy.expected.is_some())],
        )?;
        check_old_only(return_values)?;
        let table = self.table(table)?;
        let mut resolver = attributes.resolver()?;
        let condition = write_condition(&mut resolver, condition, legacy)?;
        resolver.finish()?;
        Ok((table, condition))
    }

    /// Validates a PutItem (or a transaction's Put) and builds its mutation.
    pub(crate) fn prepare_put(&self, input: PutItemInput) -> Result<PreparedWrite> {
        let (table, condition) = self.prepare_whole_item_write(
            &input.table,
            input.condition.as_deref(),
            &input.attributes,
            &input.legacy,
            input.return_values,
        )?;
        check_item(&table, &input.item)?;
        let key = storage_key_of_item(&table, &input.item)?;
        let apply = conditional(
            condition,
            input.return_old_on_condition_failure,
            Change::Put(input.item),
        );
        Ok(PreparedWrite {
            mutation: Mutation { table, key, apply },
            return_values: input.return_values,
            touched: Vec::new(),
        })
    }

    /// Validates a DeleteItem (or a transaction's Delete) and builds its mutation.
    pub(crate) fn prepare_delete(&self, input: DeleteItemInput) -> Result<PreparedWrite> {
        let (table, condition) = self.prepare_whole_item_write(
            &input.table,
            input.condition.as_deref(),
            &input.attributes,
            &input.legacy,
            input.return_values,
        )?;
        let key = storage_key_of(&table, &input.key)?;
        let apply = conditional(
            condition,
            input.return_old_on_condition_failure,
            Change::Delete,
        );
        Ok(PreparedWrite {
            mutation: Mutation { table, key, apply },
            return_values: input.return_values,
            touched: Vec::new(),
        })
    }

    /// Validates an UpdateItem (or a transaction's Update) and builds its mutation.
    pub(crate) fn prepare_update(&self, input: UpdateItemInput) -> Result<PreparedWrite> {
        input.attributes.check_families(
            &[
                ("UpdateExpression", input.update.is_some()),
                ("ConditionExpression", input.condition.is_some()),
            ],
            &[
                ("AttributeUpdates", input.attribute_updates.is_some()),
                ("Expected", input.legacy.expected.is_some()),
            ],
        )?;
        let table = self.table(&input.table)?;
        let key = storage_key_of(&table, &input.key)?;
        let mut resolver = input.attributes.resolver()?;
        let update = match (&input.update, &input.attribute_updates) {
            (Some(u), _) => Some(resolver.update(u)?),
            (None, Some(a)) => Some(legacy::attribute_updates(a)?),
            (None, None) => None,
        };
        let condition = write_condition(&mut resolver, input.condition.as_deref(), &input.legacy)?;
        resolver.finish()?;
        let mut touched = Vec::new();
        if let Some(u) = &update {
            u.check_key_update(&table.def.key_names().collect::<Vec<_>>())?;
            touched = u.target_paths();
        }
        let legacy_update = input.update.is_none();
        let return_old = input.return_old_on_condition_failure;
        let key_item = input.key;
        let apply = Box::new(move |old: Option<&Item>| {
            check_condition(&condition, old, return_old)?;
            let mut item = old.cloned().unwrap_or(key_item);
            if let Some(u) = &update {
                item = apply_update(u, item).map_err(|e| {
                    if legacy_update {
                        legacy::attribute_update_error(e)
                    } else {
                        e
                    }
                })?;
            }
            Ok(Change::Put(item))
        });
        Ok(PreparedWrite {
            mutation: Mutation { table, key, apply },
            return_values: input.return_values,
            touched,
        })
    }

    /// Validates a GetItem (or a transaction's Get): the item's storage key and the
    /// projection to apply to it.
    pub(crate) fn prepare_get(
        &self,
        input: &GetItemInput,
    ) -> Result<(TableRef, Vec<u8>, Option<Projection>)> {
        input.attributes.check_families(
            &[("ProjectionExpression", input.projection.is_some())],
            &[("AttributesToGet", input.attributes_to_get.is_some())],
        )?;
        let table = self.table(&input.table)?;
        let key = storage_key_of(&table, &input.key)?;
        let mut resolver = input.attributes.resolver()?;
        let projection = read_projection(
            &mut resolver,
            input.projection.as_deref(),
            input.attributes_to_get.as_deref(),
        )?;
        resolver.finish()?;
        Ok((table, key, projection))
    }

    pub fn get_item(&self, input: &GetItemInput) -> Result<Option<Item>> {
        self.get_item_stored(input)?
            .map(|stored| stored.decode())
            .transpose()
    }

    /// [`Engine::get_item`] as stored: without a projection the item is not decoded.
    pub fn get_item_stored(&self, input: &GetItemInput) -> Result<Option<StoredItem>> {
        let (_, key, projection) = self.prepare_get(input)?;
        let Some(stored) = self.read_stored(&key)? else {
            return Ok(None);
        };
        Ok(Some(match projection {
            None => stored,
            Some(p) => StoredItem::encode(&project(stored.decode()?, Some(&p))),
        }))
    }

    pub fn query(&self, input: &QueryInput) -> Result<Page> {
        // As DynamoDB: KeyConditions next to expression parameters is only a mix when
        // KeyConditionExpression is one of them.
        input.attributes.check_families(
            &[
                ("ProjectionExpression", input.projection.is_some()),
                ("FilterExpression", input.filter.is_some()),
                ("KeyConditionExpression", input.key_condition.is_some()),
            ],
            &[
                ("AttributesToGet", input.attributes_to_get.is_some()),
                ("QueryFilter", input.query_filter.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
                (
                    "KeyConditions",
                    input.key_conditions.is_some() && input.key_condition.is_some(),
                ),
            ],
        )?;
        let no_key_condition = || {
            Error::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            )
        };
        if input.key_condition.is_none() && input.key_conditions.is_none() {
            return Err(no_key_condition());
        }
        let table = self.table(&input.table)?;
        let index = find_index(&table, input.index.as_deref(), input.consistent_read)?;
        let schema = index.map_or(&table.def.key_schema, |i| &i.key_schema);
        let mut resolver = input.attributes.resolver()?;
        let hash = &schema.hash.name;
        let range = schema.range.as_ref().map(|r| r.name.as_str());
        let kc = match (input.key_condition.as_deref(), &input.key_conditions) {
            (Some(kc), _) => resolver.key_condition(kc, hash, range)?,
            (None, Some(kc)) => legacy::key_conditions(kc, hash, range)?,
            (None, None) => return Err(no_key_condition()),
        };
        let filter = read_filter(
            &mut resolver,
            input.filter.as_deref(),
            input.query_filter.as_ref(),
            input.conditional_operator,
        )?;
        if let Some(f) = &input.query_filter
            && let Some(k) = schema.names().find(|k| f.contains_key(*k))
        {
            return Err(Error::validation(format!(
                "QueryFilter can only contain non-primary key attributes: Primary key attribute: {k}"
            )));
        }
        let projection = read_projection(
            &mut resolver,
            input.projection.as_deref(),
            input.attributes_to_get.as_deref(),
        )?;
        resolver.finish()?;
        let select = resolve_select(
            input.select,
            projection.is_some(),
            input.attributes_to_get.is_some(),
            index.is_some(),
        )?;
        let source = ReadSource::new(&table, index, select, projection.as_ref(), filter.as_ref())?;
        let limit = check_limit(input.limit)?;
        let (lo, hi) = query_bounds(source.id(), table.def.shards, schema, &kc)?;
        let (lo, hi) = match &input.exclusive_start_key {
            None => (lo, hi),
            Some(esk) => {
                let k = source.start_key(esk)?;
                if input.scan_forward {
                    (Bound::Excluded(k), hi)
                } else {
                    (lo, Bound::Excluded(k))
                }
            }
        };
        let iter = self.inner.items.range(check_range((lo, hi))?);
        let iter: Box<dyn Iterator<Item = fjall::Guard>> = if input.scan_forward {
            Box::new(iter)
        } else {
            Box::new(iter.rev())
        };
        self.read_page(
            &source,
            iter,
            limit,
            filter.as_ref(),
            projection.as_ref(),
            select,
        )
    }

    pub fn scan(&self, input: &ScanInput) -> Result<Page> {
        input.attributes.check_families(
            &[
                ("ProjectionExpression", input.projection.is_some()),
                ("FilterExpression", input.filter.is_some()),
            ],
            &[
                ("AttributesToGet", input.attributes_to_get.is_some()),
                ("ScanFilter", input.scan_filter.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
        )?;
        let table = self.table(&input.table)?;
        let index = find_index(&table, input.index.as_deref(), input.consistent_read)?;
        let mut resolver = input.attributes.resolver()?;
        let filter = read_filter(
            &mut resolver,
            input.filter.as_deref(),
            input.scan_filter.as_ref(),
            input.conditional_operator,
        )?;
        let projection = read_projection(
            &mut resolver,
            input.projection.as_deref(),
            input.attributes_to_get.as_deref(),
        )?;
        resolver.finish()?;
        let select = resolve_select(
            input.select,
            projection.is_some(),
            input.attributes_to_get.is_some(),
            index.is_some(),
        )?;
        let source = ReadSource::new(&table, index, select, projection.as_ref(), filter.as_ref())?;
        let limit = check_limit(input.limit)?;
        let (lo, hi) = scan_bounds(
            source.id(),
            table.def.shards,
            input.segment,
            input.total_segments,
        )?;
        let lo = match &input.exclusive_start_key {
            None => lo,
            Some(esk) => Bound::Excluded(source.start_key(esk)?),
        };
        let iter = Box::new(self.inner.items.range(check_range((lo, hi))?));
        self.read_page(
            &source,
            iter,
            limit,
            filter.as_ref(),
            projection.as_ref(),
            select,
        )
    }

    pub fn batch_get_item(&self, tables: &[BatchGetTable]) -> Result<BatchGetOutput> {
        let total: usize = tables.iter().map(|t| t.keys.len()).sum();
        if total > BATCH_GET_KEYS_MAX {
            return Err(Error::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        if tables.is_empty() {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        // Validate everything before reading anything.
        let mut plans = Vec::with_capacity(tables.len());
        for t in tables {
            t.attributes.check_families(
                &[("ProjectionExpression", t.projection.is_some())],
                &[("AttributesToGet", t.attributes_to_get.is_some())],
            )?;
            let table = self.table(&t.table)?;
            if t.keys.is_empty() {
                return Err(Error::validation(
                    "1 validation error detected: Value '[]' at 'requestItems.1.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            let mut resolver = t.attributes.resolver()?;
            let projection = read_projection(
                &mut resolver,
                t.projection.as_deref(),
                t.attributes_to_get.as_deref(),
            )?;
            resolver.finish()?;
            let mut seen = HashSet::new();
            let mut keys = Vec::with_capacity(t.keys.len());
            for k in &t.keys {
                let sk = storage_key_of(&table, k)?;
                if !seen.insert(sk.clone()) {
                    return Err(Error::validation(
                        "Provided list of item keys contains duplicates",
                    ));
                }
                keys.push((sk, k));
            }
            plans.push((t, keys, projection));
        }
        let mut out = BatchGetOutput::default();
        let mut bytes = 0usize;
        for (t, keys, projection) in plans {
            let mut found = Vec::new();
            let mut unprocessed = Vec::new();
            for (sk, k) in keys {
                if bytes >= BATCH_GET_BYTES_MAX {
                    unprocessed.push(k.clone());
                    continue;
                }
                if let Some(item) = self.read_item(&sk)? {
                    bytes += item_size_bytes(&item);
                    found.push(project(item, projection.as_ref()));
                }
            }
            out.responses.push((t.table.clone(), found));
            if !unprocessed.is_empty() {
                out.unprocessed.push((t.table.clone(), unprocessed));
            }
        }
        Ok(out)
    }

    /// Applies all requests of a BatchWriteItem together. Eddy never throttles, so
    /// nothing is ever left unprocessed.
    pub fn batch_write_item(
        &self,
        requests: Vec<(String, Vec<BatchWriteRequest>)>,
        done: Done<()>,
    ) {
        let prepared = (|| {
            let total: usize = requests.iter().map(|(_, r)| r.len()).sum();
            if total > BATCH_WRITE_REQUESTS_MAX {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {BATCH_WRITE_REQUESTS_MAX}, Member must have length greater than or equal to 1]"
                )));
            }
            if total == 0 {
                return Err(Error::validation(
                    "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            let mut mutations = Vec::with_capacity(total);
            let mut seen = HashSet::new();
            for (name, reqs) in requests {
                let table = self.table(&name)?;
                for r in reqs {
                    let (key, change) = match r {
                        BatchWriteRequest::Put(item) => {
                            check_item(&table, &item)?;
                            (storage_key_of_item(&table, &item)?, Change::Put(item))
                        }
                        BatchWriteRequest::Delete(key) => {
                            (storage_key_of(&table, &key)?, Change::Delete)
                        }
                    };
                    if !seen.insert(key.clone()) {
                        return Err(Error::validation(
                            "Provided list of item keys contains duplicates",
                        ));
                    }
                    mutations.push(Mutation {
                        table: TableRef::clone(&table),
                        key,
                        apply: Box::new(move |_| Ok(change)),
                    });
                }
            }
            Ok(mutations)
        })();
        match prepared {
            Ok(m) => self.submit(m, Box::new(move |r| done(r.map(|_| ())))),
            Err(e) => done(Err(e)),
        }
    }
}

/// Applies an update and holds the result to DynamoDB's item rules. Besides the size,
/// the nesting depth: an update can set a document inside an existing one, so without
/// this check repeated updates could nest an item ever deeper, until the recursive
/// walks over it (encoding, evaluation) overflowed a thread's stack.
fn apply_update(u: &UpdateExpr, item: Item) -> Result<Item> {
    let item = u.applied(item)?;
    if item_size_bytes(&item) > ITEM_BYTES_MAX {
        return Err(Error::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    for v in item.values() {
        v.check_depth(1)?;
    }
    Ok(item)
}

/// Builds a single write's output from its before/after images.
/// `touched` is the paths an update wrote: UPDATED_OLD / UPDATED_NEW return the item
/// projected onto them (a nested path returns the nested value inside its parents, as a
/// ProjectionExpression would).
fn single_output(applied: Vec<Applied>, rv: ReturnValues, touched: &[Path]) -> WriteOutput {
    let Some(a) = applied.into_iter().next() else {
        return WriteOutput::default();
    };
    let pick = |item: Option<Item>| -> Option<Item> {
        let picked = project_paths(&item?, touched);
        (!picked.is_empty()).then_some(picked)
    };
    let attributes = match rv {
        ReturnValues::None => None,
        ReturnValues::AllOld => a.old,
        ReturnValues::AllNew => a.new,
        ReturnValues::UpdatedOld => pick(a.old),
        ReturnValues::UpdatedNew => pick(a.new),
    };
    WriteOutput { attributes }
}

pub(crate) fn project(item: Item, projection: Option<&Projection>) -> Item {
    match projection {
        Some(p) => p.apply(&item),
        None => item,
    }
}

fn resolve_select(
    select: Option<Select>,
    has_projection: bool,
    legacy_projection: bool,
    on_index: bool,
) -> Result<Select> {
    let parameter = if legacy_projection {
        "AttributesToGet"
    } else {
        "ProjectionExpression"
    };
    match (select, has_projection) {
        (None, true) => Ok(Select::SpecificAttributes),
        // An index returns what it projects unless asked for more.
        (None, false) if on_index => Ok(Select::AllProjectedAttributes),
        (None, false) => Ok(Select::AllAttributes),
        (Some(Select::SpecificAttributes), _) => Ok(Select::SpecificAttributes),
        (Some(Select::AllProjectedAttributes), false) if on_index => {
            Ok(Select::AllProjectedAttributes)
        }
        (Some(Select::AllProjectedAttributes), false) => Err(Error::validation(
            "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries",
        )),
        (Some(s), true) => Err(Error::validation(format!(
            "One or more parameter values were invalid: Cannot specify the {parameter} when choosing to get {}",
            match s {
                Select::Count => "COUNT",
                Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
                _ => "ALL_ATTRIBUTES",
            }
        ))),
        (Some(s), false) => Ok(s),
    }
}

fn check_limit(limit: Option<usize>) -> Result<Option<usize>> {
    match limit {
        Some(0) => Err(Error::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        other => Ok(other),
    }
}

/// The storage key an `ExclusiveStartKey` of a table names.
fn start_key(table: &TableRef, esk: &Item) -> Result<Vec<u8>> {
    storage_key_of(table, esk).map_err(invalid_start_key)
}

/// The index `IndexName` names, checked against the read's consistency.
fn find_index<'a>(
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

/// What a Query or Scan reads: a table's items, or the entries of one of its indexes.
struct ReadSource<'a> {
    table: &'a TableRef,
    index: Option<&'a IndexDef>,
    /// A local index whose entries lack attributes the request needs: each entry read
    /// is swapped for the table's item, as DynamoDB fetches them from the table.
    fetch: bool,
}

impl<'a> ReadSource<'a> {
    /// Checks that the request asks a global index only for what it projects (a
    /// local index fetches the rest from the table).
    fn new(
        table: &'a TableRef,
        index: Option<&'a IndexDef>,
        select: Select,
        projection: Option<&Projection>,
        filter: Option<&Condition>,
    ) -> Result<ReadSource<'a>> {
        let Some(ix) = index else {
            return Ok(ReadSource {
                table,
                index,
                fetch: false,
            });
        };
        let def = &table.def;
        let all = ix.projection == IndexProjection::All;
        let wanted: Vec<&str> =
            projection.map_or_else(Vec::new, |p| p.paths.iter().map(|p| p.head()).collect());
        let mut filtered = Vec::new();
        if let Some(f) = filter {
            f.attribute_heads(&mut filtered);
        }
        let missing = |names: &[&str]| -> Vec<String> {
            let mut out: Vec<String> = names
                .iter()
                .filter(|n| !crate::index::projects_all(def, ix, &[**n]))
                .map(|n| n.to_string())
                .collect();
            out.dedup();
            out
        };
        let (missing_wanted, missing_filtered) = (missing(&wanted), missing(&filtered));
        let needs_table = (!all && select == Select::AllAttributes)
            || !missing_wanted.is_empty()
            || !missing_filtered.is_empty();
        if ix.kind == IndexKind::Global && needs_table {
            return Err(if select == Select::AllAttributes {
                Error::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    ix.name
                ))
            } else if !missing_wanted.is_empty() {
                Error::validation(format!(
                    "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
                    ix.name,
                    missing_wanted.join(", ")
                ))
            } else {
                Error::validation(format!(
                    "One or more parameter values were invalid: Secondary index {} does not project one or more filter attributes: [{}]",
                    ix.name,
                    missing_filtered.join(", ")
                ))
            });
        }
        Ok(ReadSource {
            table,
            index,
            fetch: needs_table,
        })
    }

    /// The storage id the read's keys start with.
    fn id(&self) -> u32 {
        self.index.map_or(self.table.def.id, |i| i.id)
    }

    /// The attributes of a `LastEvaluatedKey`: the table's keys, and the index's.
    fn key_names(&self) -> Vec<&str> {
        match self.index {
            None => self.table.def.key_names().collect(),
            Some(ix) => crate::index::entry_key_names(&self.table.def, ix),
        }
    }

    fn start_key(&self, esk: &Item) -> Result<Vec<u8>> {
        match self.index {
            None => start_key(self.table, esk),
            Some(ix) => crate::index::start_key(&self.table.def, ix, esk),
        }
    }
}

/// The key range a key condition selects in the table or index with storage id `id`.
/// Each sort key condition is a range of key *prefixes*: an index entry's key goes on
/// after its sort key (`index.rs`), and as the encoding is prefix-free, the keys
/// starting with `enc(v)` are exactly those whose sort key is `v`.
///
/// The key values are held to DynamoDB's key limits first, as DynamoDB holds a Query's
/// (with the messages of an item's key), so no value can build a range bound the
/// storage layer refuses; the bounds are checked against it all the same.
fn query_bounds(id: u32, shards: u16, schema: &KeySchema, kc: &KeyCondition) -> Result<KeyRange> {
    let pk_type = schema.hash.key_type;
    if !pk_type.is_type_of(&kc.partition) {
        return Err(Error::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    check_not_empty_key(&kc.partition, &schema.hash.name)?;
    check_partition_key_size(&kc.partition)?;
    let prefix = partition_prefix(id, shards, &kc.partition)?;
    let with = |v: &AttributeValue| {
        let mut k = prefix.clone();
        encode_key_value(v, &mut k);
        k
    };
    let whole = (Bound::Included(prefix.clone()), prefix_end(&prefix));
    let Some(sort) = &kc.sort else {
        return check_range(whole);
    };
    if let Some(range) = &schema.range {
        let values: Vec<&AttributeValue> = match sort {
            SortCondition::Between(a, b) => vec![a, b],
            SortCondition::Eq(v)
            | SortCondition::Lt(v)
            | SortCondition::Le(v)
            | SortCondition::Gt(v)
            | SortCondition::Ge(v)
            | SortCondition::BeginsWith(v) => vec![v],
        };
        if values.iter().any(|v| !range.key_type.is_type_of(v)) {
            return Err(Error::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
    }
    for v in sort.values() {
        check_sort_key_size(v)?;
    }
    check_range(match sort {
        SortCondition::Eq(v) => (Bound::Included(with(v)), prefix_end(&with(v))),
        SortCondition::Lt(v) => (whole.0, Bound::Excluded(with(v))),
        SortCondition::Le(v) => (whole.0, prefix_end(&with(v))),
        SortCondition::Gt(v) => (after_prefix(&with(v)), whole.1),
        SortCondition::Ge(v) => (Bound::Included(with(v)), whole.1),
        SortCondition::Between(a, b) => (Bound::Included(with(a)), prefix_end(&with(b))),
        SortCondition::BeginsWith(v) => {
            if matches!(v, AttributeValue::N(_)) {
                return Err(Error::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            let mut p = prefix.clone();
            encode_key_prefix(v, &mut p);
            let end = prefix_end(&p);
            (Bound::Included(p), end)
        }
    })
}

/// The key range of a whole table, or of one parallel-scan segment: segment `s` of `n`
/// covers partition hashes `[s·2⁶⁴/n, (s+1)·2⁶⁴/n)`, which is a contiguous key range
/// because keys start with the shard and the hash (see `keys.rs`).
fn scan_bounds(id: u32, shards: u16, segment: Option<u32>, total: Option<u32>) -> Result<KeyRange> {
    let id = id.to_be_bytes();
    let (segment, total) = match (segment, total) {
        (None, None) => return Ok((Bound::Included(id.to_vec()), prefix_end(&id))),
        (Some(s), Some(t)) => (s, t),
        (Some(_), None) => {
            return Err(Error::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
    };
    if total == 0 || total > SCAN_SEGMENTS_MAX {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
            if total == 0 {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {SCAN_SEGMENTS_MAX}")
            }
        )));
    }
    if segment >= total {
        return Err(Error::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )));
    }
    let bound = |s: u32| -> Option<Vec<u8>> {
        // ceil(s · 2^64 / total); None past the end of the hash space.
        let h = (u128::from(s) << 64).div_ceil(u128::from(total));
        if h > u128::from(u64::MAX) {
            return None;
        }
        let h = h as u64;
        let mut k = id.to_vec();
        k.extend(crate::keys::shard_of(h, shards).to_be_bytes());
        k.extend(h.to_be_bytes());
        Some(k)
    };
    let lo = bound(segment).map_or(Bound::Included(id.to_vec()), Bound::Included);
    let hi = if segment + 1 == total {
        prefix_end(&id)
    } else {
        bound(segment + 1).map_or_else(|| prefix_end(&id), Bound::Excluded)
    };
    Ok((lo, hi))
}

impl Engine {
    /// Reads one page: stops after `limit` items were evaluated or the page reached its
    /// size limit, applies the filter to what was read, and projects what is returned.
    fn read_page(
        &self,
        source: &ReadSource<'_>,
        iter: Box<dyn Iterator<Item = fjall::Guard> + '_>,
        limit: Option<usize>,
        filter: Option<&Condition>,
        projection: Option<&Projection>,
        select: Select,
    ) -> Result<Page> {
        let mut page = Page::default();
        let mut bytes = 0usize;
        let mut last: Option<Item> = None;
        let mut stopped_early = false;
        let key_names = source.key_names();
        let key_of = |item: &Item| -> Item {
            key_names
                .iter()
                .filter_map(|n| item.get(*n).map(|v| (n.to_string(), v.clone())))
                .collect()
        };
        for kv in iter {
            let (_, v) = kv.into_inner()?;
            let mut stored = StoredItem::from_slice(v);
            if source.fetch {
                // The entry's table key names the item; a write that deleted it after
                // this read began leaves the entry as the answer.
                let key =
                    storage_key_of(source.table, &source.table.def.key_of(&stored.decode()?))?;
                if let Some(full) = self.read_stored(&key)? {
                    stored = full;
                }
            }
            page.scanned_count += 1;
            // Only a filter or a projection needs the item built; otherwise the stored
            // bytes go out as they are.
            let item = match (filter, projection) {
                (None, None) => None,
                _ => Some(stored.decode()?),
            };
            bytes += match &item {
                Some(item) => item_size_bytes(item),
                None => stored.size_bytes()?,
            };
            let matches = match (filter, &item) {
                (Some(f), Some(item)) => f.evaluate(item)?,
                _ => true,
            };
            let at_limit =
                limit.is_some_and(|l| page.scanned_count >= l) || bytes >= PAGE_BYTES_MAX;
            if at_limit {
                last = Some(match &item {
                    Some(item) => key_of(item),
                    None => key_of(&stored.decode()?),
                });
            }
            if matches {
                page.count += 1;
                if select != Select::Count {
                    page.items.push(match (item, projection) {
                        (Some(item), Some(p)) => StoredItem::encode(&project(item, Some(p))),
                        _ => stored,
                    });
                }
            }
            if at_limit {
                stopped_early = true;
                break;
            }
        }
        if stopped_early {
            page.last_evaluated_key = last;
        }
        Ok(page)
    }
}
