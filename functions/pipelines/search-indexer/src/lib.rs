//! Search indexer: keeps a full-text index of a table (usually `products`) in step with it.
//!
//! Deployed with `--index <name>` and triggered by the table's stream. For every record:
//! an INSERT or a MODIFY upserts the item's new image, as plain JSON (`{"name":"Kettle",
//! "price":25}`, not DynamoDB JSON), under the item's key; a REMOVE deletes that key's
//! document. The index is the configuration value `INDEX` (default `products`); the
//! deployment must be granted it. Users query it with `GET /v1/search/{index}?q=…`.
//!
//! Correct under at-least-once delivery by construction: an upsert replaces the document
//! with the same id and a delete of an absent id does nothing, and the records of one item
//! arrive in order, so delivering a record again (a retried batch, a replay from
//! TRIM_HORIZON, a restart before the checkpoint moved) ends in the same index. The host
//! commits the index once the invocation succeeds, before the checkpoint moves.
//!
//! Must not know how the host stores or ranks documents.

use eddy_sdk::search::{Index, SearchError};
use eddy_sdk::{AttributeValue, BatchResponse, Context, Error, EventName, Item, StreamEvent};
use serde_json::{Map, Number, Value};

/// The index written when the deployment sets no `INDEX`.
const DEFAULT_INDEX: &str = "products";

fn index_changes(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let name = ctx
        .config("INDEX")
        .unwrap_or_else(|| DEFAULT_INDEX.to_owned());
    let index = Index::new(&name);
    let (mut upserts, mut deletes) = (0usize, 0usize);
    for record in &event.records {
        let id = document_id(&record.dynamodb.keys).ok_or_else(|| {
            Error::msg(format!(
                "record {} has no key",
                record.dynamodb.sequence_number
            ))
        })?;
        match (record.event_name, &record.dynamodb.new_image) {
            (EventName::Remove, _) => {
                index.delete(&id)?;
                deletes += 1;
            }
            (EventName::Insert | EventName::Modify, Some(image)) => {
                match index.upsert(&id, &plain_item(image)) {
                    Ok(()) => upserts += 1,
                    // A document the index refuses (too large, say) would be refused on
                    // every retry too, and blocking the shard on it helps no one. The old
                    // version must not stay findable either: drop it, and say so.
                    Err(SearchError::Invalid(message)) => {
                        eddy_sdk::log::log(
                            eddy_sdk::log::Level::Error,
                            "document refused; removed from the index",
                            &[("id", &id), ("error", &message)],
                        );
                        index.delete(&id)?;
                        deletes += 1;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            (_, None) => {
                return Err(Error::msg(
                    "the record has no NewImage: the table's stream must be NEW_IMAGE or \
                     NEW_AND_OLD_IMAGES",
                ));
            }
        }
    }
    eddy_sdk::log::log(
        eddy_sdk::log::Level::Info,
        "indexed",
        &[
            ("index", &name),
            ("upserts", &upserts.to_string()),
            ("deletes", &deletes.to_string()),
        ],
    );
    Ok(BatchResponse::success())
}

/// The document id of the item with key `keys`: the key's value as text for a table with
/// a partition key only (`p1`, `42`), and the key as compact JSON with sorted attribute
/// names for a table with a sort key too (`{"pk":"a","sk":1}`). The same item always gets
/// the same id, whichever record names it.
fn document_id(keys: &Item) -> Option<String> {
    match keys.len() {
        0 => None,
        1 => keys.values().next().map(|value| match plain(value) {
            Value::String(text) => text,
            other => other.to_string(),
        }),
        _ => Some(Value::Object(plain_item(keys)).to_string()),
    }
}

/// An item in plain JSON.
fn plain_item(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, value)| (name.clone(), plain(value)))
        .collect()
}

/// One DynamoDB attribute value in plain JSON: strings and binary (base64) as strings,
/// numbers as numbers, sets and lists as arrays, maps as objects.
fn plain(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) | AttributeValue::B(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Ss(items) | AttributeValue::Bs(items) => {
            items.iter().cloned().map(Value::String).collect()
        }
        AttributeValue::Ns(items) => items.iter().map(|n| number(n)).collect(),
        AttributeValue::M(map) => Value::Object(plain_item(map)),
        AttributeValue::L(items) => items.iter().map(plain).collect(),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
    }
}

/// A DynamoDB number (up to 38 digits) as a JSON number: exact when it is an integer that
/// fits 64 bits, otherwise the nearest double; its text when even that fails.
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

eddy_sdk::handler!(index_changes);
