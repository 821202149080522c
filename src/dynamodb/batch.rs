//! BatchGetItem and BatchWriteItem.
//!
//! Owns their request shapes and responses. Must not know how the engine splits or
//! applies a batch.

use std::collections::HashMap;

use eddy_engine::limits::BATCH_WRITE_REQUESTS_MAX;
use eddy_engine::{BatchGetTable, BatchWriteRequest, Engine, Error};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::access::{
    Access, AccessResult, KEY_ATTRIBUTES, KEY_LEADING, KEY_SELECT, attribute_names,
    expression_names, leading_keys, select_of,
};
use super::capacity::{self, Detail, Split};
use super::request::{NamesTables, expr_attrs, json_bytes, required, write};
use super::violations::Violations;
use crate::error::ApiError;
use crate::wire::input::{WireItem, WireValue, into_item};
use crate::wire::{WireItems, WireOut};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchGetRequest {
    request_items: Option<HashMap<String, KeysAndAttributes>>,
    return_consumed_capacity: Option<String>,
}

/// How many tables a batch may name at least (`RequestItems` is never empty).
const BATCH_TABLES_MIN: usize = 1;

/// The model's bounds on a map that has none we check here (its size is the engine's).
const UNBOUNDED: usize = usize::MAX;

/// The members of a batch request's `RequestItems` DynamoDB checks first: present and
/// not empty (an empty map prints as `{}`).
fn check_request_items<T>(items: Option<&HashMap<String, T>>, v: &mut Violations) {
    v.not_null(items, "requestItems");
    if let Some(items) = items {
        v.count(
            Some("{}"),
            items.len(),
            "requestItems",
            BATCH_TABLES_MIN,
            UNBOUNDED,
        );
    }
}

impl BatchGetRequest {
    /// DynamoDB's first pass, in the order dynalite's tests record it: the capacity
    /// flag, `RequestItems`, then each table's `Keys` (present, not empty) and
    /// `AttributesToGet` (not empty), named by the table.
    fn check_members(&self) -> Result<(), ApiError> {
        let mut v = Violations::new();
        v.return_consumed_capacity(self.return_consumed_capacity.as_deref());
        check_request_items(self.request_items.as_ref(), &mut v);
        for (table, ka) in self.request_items.iter().flatten() {
            let field = |m: &str| format!("requestItems.{table}.member.{m}");
            v.not_null(ka.keys.as_ref(), &field("keys"));
            if ka.keys.as_ref().is_some_and(Vec::is_empty) {
                v.count(Some("[]"), 0, &field("keys"), 1, UNBOUNDED);
            }
            if ka.attributes_to_get.as_ref().is_some_and(Vec::is_empty) {
                v.count(Some("[]"), 0, &field("attributesToGet"), 1, UNBOUNDED);
            }
        }
        v.finish()
    }
}

impl NamesTables for BatchGetRequest {
    fn tables(&self) -> Vec<&str> {
        self.request_items
            .iter()
            .flat_map(|items| items.keys().map(String::as_str))
            .collect()
    }

    /// One access per table, with every key's partition value and the projection.
    fn accesses(&self, op: &str, engine: &Engine) -> AccessResult {
        let mut out = Vec::new();
        for (table, ka) in self.request_items.iter().flatten() {
            let mut names = expression_names(
                &ka.expression_attribute_names,
                &ka.expression_attribute_values,
                ka.projection_expression.as_deref(),
                None,
            )?;
            names.extend(ka.attributes_to_get.iter().flatten().cloned());
            let projects = ka.projection_expression.is_some() || ka.attributes_to_get.is_some();
            out.push(
                Access::new(op, Some(table))
                    .with(
                        KEY_LEADING,
                        leading_keys(engine, table, ka.keys.iter().flatten()),
                    )
                    .with(KEY_ATTRIBUTES, attribute_names(None, Some(&names)))
                    .with(KEY_SELECT, select_of(None, projects).into_iter().collect()),
            );
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeysAndAttributes {
    keys: Option<Vec<WireItem>>,
    projection_expression: Option<String>,
    /// Eddy's reads are always current; this decides only what they cost.
    consistent_read: Option<bool>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
}

pub(super) fn batch_get_item(engine: &Engine, r: BatchGetRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members()?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let items = required(r.request_items, "requestItems")?;
    let mut tables = Vec::with_capacity(items.len());
    for (name, ka) in items {
        tables.push(BatchGetTable {
            table: name,
            keys: required(ka.keys, "keys")?
                .into_iter()
                .map(into_item)
                .collect::<Result<_, _>>()?,
            projection: ka.projection_expression,
            attributes: expr_attrs(
                ka.expression_attribute_names,
                ka.expression_attribute_values,
            )?,
            attributes_to_get: ka.attributes_to_get,
            consistent_read: ka.consistent_read.unwrap_or(false),
        });
    }
    let out = engine.batch_get_item(&tables)?;
    let mut responses = Map::new();
    for (name, items) in &out.responses {
        responses.insert(
            name.clone(),
            serde_json::to_value(WireItems(items)).unwrap_or_default(),
        );
    }
    let mut unprocessed = Map::new();
    for (name, keys) in &out.unprocessed {
        unprocessed.insert(name.clone(), json!({ "Keys": WireItems(keys) }));
    }
    let mut body = json_bytes(&json!({
        "Responses": responses,
        "UnprocessedKeys": unprocessed,
    }));
    capacity::append(&mut body, capacity::list(&out.consumed, detail, Split::No));
    Ok(body)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchWriteRequestBody {
    request_items: Option<HashMap<String, Vec<WriteRequest>>>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

impl BatchWriteRequestBody {
    /// DynamoDB's first pass, in the order dynalite's tests record it: the capacity and
    /// metrics flags, `RequestItems`, then each request's missing key or item, named by
    /// the table and the request's 1-based position.
    fn check_members(&self) -> Result<(), ApiError> {
        let mut v = Violations::new();
        v.return_consumed_capacity(self.return_consumed_capacity.as_deref());
        v.return_item_collection_metrics(self.return_item_collection_metrics.as_deref());
        check_request_items(self.request_items.as_ref(), &mut v);
        if self
            .request_items
            .iter()
            .flatten()
            .any(|(_, reqs)| reqs.is_empty())
        {
            // The recorded answer (dynalite's "empty list in RequestItems").
            v.map_value_length("requestItems", 1, BATCH_WRITE_REQUESTS_MAX);
        }
        for (table, reqs) in self.request_items.iter().flatten() {
            for (i, w) in reqs.iter().enumerate() {
                let field = |m: &str| format!("requestItems.{table}.member.{}.member.{m}", i + 1);
                if let Some(d) = &w.delete_request {
                    v.not_null(d.key.as_ref(), &field("deleteRequest.key"));
                }
                if let Some(p) = &w.put_request {
                    v.not_null(p.item.as_ref(), &field("putRequest.item"));
                }
            }
        }
        v.finish()
    }
}

impl NamesTables for BatchWriteRequestBody {
    fn tables(&self) -> Vec<&str> {
        self.request_items
            .iter()
            .flat_map(|items| items.keys().map(String::as_str))
            .collect()
    }

    /// One access per table, with the partition value of every put and delete, and
    /// the attributes of every item put.
    fn accesses(&self, op: &str, engine: &Engine) -> AccessResult {
        let mut out = Vec::new();
        for (table, reqs) in self.request_items.iter().flatten() {
            let items = reqs.iter().filter_map(|w| {
                w.put_request
                    .as_ref()
                    .and_then(|p| p.item.as_ref())
                    .or_else(|| w.delete_request.as_ref().and_then(|d| d.key.as_ref()))
            });
            let mut names = Vec::new();
            for p in reqs.iter().filter_map(|w| w.put_request.as_ref()) {
                names.extend(attribute_names(p.item.as_ref(), None));
            }
            out.push(
                Access::new(op, Some(table))
                    .with(KEY_LEADING, leading_keys(engine, table, items))
                    .with(KEY_ATTRIBUTES, attribute_names(None, Some(&names))),
            );
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WriteRequest {
    put_request: Option<PutRequest>,
    delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRequest {
    item: Option<WireItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteRequest {
    key: Option<WireItem>,
}

pub(super) async fn batch_write_item(
    engine: &Engine,
    r: BatchWriteRequestBody,
) -> Result<Vec<u8>, ApiError> {
    r.check_members()?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let items = required(r.request_items, "requestItems")?;
    let mut requests = Vec::with_capacity(items.len());
    for (name, reqs) in items {
        let mut converted = Vec::with_capacity(reqs.len());
        for w in reqs {
            converted.push(match (w.put_request, w.delete_request) {
                (Some(p), None) => BatchWriteRequest::Put(into_item(required(p.item, "item")?)?),
                (None, Some(d)) => BatchWriteRequest::Delete(into_item(required(d.key, "key")?)?),
                _ => {
                    return Err(Error::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    )
                    .into());
                }
            });
        }
        requests.push((name, converted));
    }
    let out = write(|done| engine.batch_write_item(requests, done)).await?;
    let mut unprocessed = Map::new();
    for (name, reqs) in &out.unprocessed {
        let reqs: Vec<Value> = reqs
            .iter()
            .map(|r| match r {
                BatchWriteRequest::Put(item) => json!({ "PutRequest": { "Item": WireOut(item) } }),
                BatchWriteRequest::Delete(key) => {
                    json!({ "DeleteRequest": { "Key": WireOut(key) } })
                }
            })
            .collect();
        unprocessed.insert(name.clone(), Value::Array(reqs));
    }
    let mut body = json_bytes(&json!({ "UnprocessedItems": unprocessed }));
    capacity::append(&mut body, capacity::list(&out.consumed, detail, Split::No));
    Ok(body)
}
