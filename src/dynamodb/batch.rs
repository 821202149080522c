//! BatchGetItem and BatchWriteItem.
//!
//! Owns their request shapes and responses. Must not know how the engine splits or
//! applies a batch.

use std::collections::HashMap;

use eddy_engine::{BatchGetTable, BatchWriteRequest, Engine, Error};
use serde::Deserialize;
use serde_json::{Map, json};

use super::request::{NamesTables, expr_attrs, json_bytes, required, write};
use crate::error::ApiError;
use crate::wire::WireItems;
use crate::wire::input::{WireItem, WireValue, into_item};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchGetRequest {
    request_items: Option<HashMap<String, KeysAndAttributes>>,
}

impl NamesTables for BatchGetRequest {
    fn tables(&self) -> Vec<&str> {
        self.request_items
            .iter()
            .flat_map(|items| items.keys().map(String::as_str))
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeysAndAttributes {
    keys: Option<Vec<WireItem>>,
    projection_expression: Option<String>,
    #[allow(
        dead_code,
        reason = "reads are always consistent; accepted for compatibility"
    )]
    consistent_read: Option<bool>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
}

pub(super) fn batch_get_item(engine: &Engine, r: BatchGetRequest) -> Result<Vec<u8>, ApiError> {
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
    Ok(json_bytes(&json!({
        "Responses": responses,
        "UnprocessedKeys": unprocessed,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchWriteRequestBody {
    request_items: Option<HashMap<String, Vec<WriteRequest>>>,
}

impl NamesTables for BatchWriteRequestBody {
    fn tables(&self) -> Vec<&str> {
        self.request_items
            .iter()
            .flat_map(|items| items.keys().map(String::as_str))
            .collect()
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
    write(|done| engine.batch_write_item(requests, done)).await?;
    Ok(b"{\"UnprocessedItems\":{}}".to_vec())
}
