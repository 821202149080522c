//! TransactWriteItems and TransactGetItems.
//!
//! Owns their request shapes (the four write actions, each a subset of one set of
//! fields) and responses. Must not know how the engine commits a transaction or keeps
//! its ClientRequestToken window.

use std::collections::HashMap;

use eddy_engine::{
    ConditionCheckInput, DeleteItemInput, Engine, Error, GetItemInput, PutItemInput,
    TransactWriteAction, TransactWriteInput, UpdateItemInput,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{
    Access, AccessResult, KEY_ATTRIBUTES, KEY_LEADING, KEY_SELECT, attribute_names,
    expression_names, leading_keys, select_of,
};
use super::capacity::{self, Detail, Split};
use super::request::{
    NamesTables, expr_attrs, json_bytes, required, return_old_on_failure_at, write,
};
use super::violations::{RETURN_VALUES_ON_CONDITION_CHECK_FAILURE, Violations};
use crate::error::ApiError;
use crate::wire::WireOut;
use crate::wire::input::{WireItem, WireValue, into_item};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactWriteRequest {
    transact_items: Option<Vec<TransactWriteItem>>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

impl NamesTables for TransactWriteRequest {
    fn tables(&self) -> Vec<&str> {
        self.transact_items
            .iter()
            .flatten()
            .flat_map(|w| [&w.condition_check, &w.put, &w.update, &w.delete])
            .filter_map(|a| a.as_ref()?.table_name.as_deref())
            .collect()
    }

    /// Each action is its own IAM action on its table (DynamoDB authorizes a
    /// transaction's PutItem, UpdateItem, DeleteItem and ConditionCheckItem one by
    /// one), with its item's partition value and the attributes it writes.
    fn accesses(&self, _op: &str, engine: &Engine) -> AccessResult {
        let mut out = Vec::new();
        for w in self.transact_items.iter().flatten() {
            let actions = [
                ("ConditionCheckItem", &w.condition_check),
                ("PutItem", &w.put),
                ("UpdateItem", &w.update),
                ("DeleteItem", &w.delete),
            ];
            for (action, a) in actions {
                let Some(a) = a else { continue };
                let table = a.table_name.as_deref();
                let item = a.item.as_ref().or(a.key.as_ref());
                let leading = table.map_or_else(Vec::new, |t| leading_keys(engine, t, item));
                let mut names = expression_names(
                    &a.expression_attribute_names,
                    &a.expression_attribute_values,
                    None,
                    a.update_expression.as_deref(),
                )?;
                names.extend(attribute_names(a.item.as_ref(), None));
                out.push(
                    Access::new(action, table)
                        .with(KEY_LEADING, leading)
                        .with(KEY_ATTRIBUTES, attribute_names(None, Some(&names))),
                );
            }
        }
        Ok(out)
    }
}

/// DynamoDB's bounds on a `ClientRequestToken`, in characters.
const CLIENT_REQUEST_TOKEN_CHARS_MIN: usize = 1;
const CLIENT_REQUEST_TOKEN_CHARS_MAX: usize = 36;

/// A missing or empty `TransactItems` (an empty list prints as `[]`); its upper bound
/// is the engine's.
fn check_transact_items<T>(items: Option<&Vec<T>>, v: &mut Violations) {
    v.not_null(items, "transactItems");
    if items.is_some_and(Vec::is_empty) {
        v.count(Some("[]"), 0, "transactItems", 1, usize::MAX);
    }
}

impl TransactWriteRequest {
    /// DynamoDB's first pass, reported together: the capacity and metrics flags, the
    /// token's length, `TransactItems`, then each action's missing members and its
    /// return-values flag, named by the action's 1-based position.
    fn check_members(&self) -> Result<(), ApiError> {
        let mut v = Violations::new();
        v.return_consumed_capacity(self.return_consumed_capacity.as_deref());
        v.return_item_collection_metrics(self.return_item_collection_metrics.as_deref());
        v.length(
            self.client_request_token.as_deref(),
            "clientRequestToken",
            CLIENT_REQUEST_TOKEN_CHARS_MIN,
            CLIENT_REQUEST_TOKEN_CHARS_MAX,
        );
        check_transact_items(self.transact_items.as_ref(), &mut v);
        for (i, w) in self.transact_items.iter().flatten().enumerate() {
            for (kind, action) in [
                ("conditionCheck", &w.condition_check),
                ("put", &w.put),
                ("update", &w.update),
                ("delete", &w.delete),
            ] {
                let Some(a) = action else { continue };
                let field = |name: &str| format!("transactItems.{}.member.{kind}.{name}", i + 1);
                v.not_null(a.table_name.as_ref(), &field("tableName"));
                if kind == "put" {
                    v.not_null(a.item.as_ref(), &field("item"));
                } else {
                    v.not_null(a.key.as_ref(), &field("key"));
                }
                if kind == "conditionCheck" {
                    v.not_null(
                        a.condition_expression.as_ref(),
                        &field("conditionExpression"),
                    );
                }
                if kind == "update" {
                    v.not_null(a.update_expression.as_ref(), &field("updateExpression"));
                }
                v.one_of(
                    a.return_values_on_condition_check_failure.as_deref(),
                    &field("returnValuesOnConditionCheckFailure"),
                    RETURN_VALUES_ON_CONDITION_CHECK_FAILURE,
                );
            }
        }
        v.finish()
    }
}

/// One `TransactWriteItem`: exactly one of its four actions is set.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWriteItem {
    condition_check: Option<TransactAction>,
    put: Option<TransactAction>,
    update: Option<TransactAction>,
    delete: Option<TransactAction>,
}

/// The fields of the four transaction actions (each uses its own subset).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactAction {
    table_name: Option<String>,
    item: Option<WireItem>,
    key: Option<WireItem>,
    condition_expression: Option<String>,
    update_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    return_values_on_condition_check_failure: Option<String>,
}

fn transact_action(i: usize, w: TransactWriteItem) -> Result<TransactWriteAction, ApiError> {
    let (kind, a) = match (w.condition_check, w.put, w.update, w.delete) {
        (Some(a), None, None, None) => ("conditionCheck", a),
        (None, Some(a), None, None) => ("put", a),
        (None, None, Some(a), None) => ("update", a),
        (None, None, None, Some(a)) => ("delete", a),
        _ => {
            return Err(Error::validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            )
            .into());
        }
    };
    // DynamoDB names a member of a list by its 1-based position.
    let field = |name: &str| format!("transactItems.{}.member.{kind}.{name}", i + 1);
    let table = required(a.table_name, &field("tableName"))?;
    let attributes = expr_attrs(a.expression_attribute_names, a.expression_attribute_values)?;
    let return_old_on_condition_failure = return_old_on_failure_at(
        a.return_values_on_condition_check_failure,
        &field("returnValuesOnConditionCheckFailure"),
    )?;
    let key = |k: Option<WireItem>| into_item(required(k, &field("key"))?);
    Ok(match kind {
        "conditionCheck" => TransactWriteAction::ConditionCheck(ConditionCheckInput {
            table,
            key: key(a.key)?,
            condition: required(a.condition_expression, &field("conditionExpression"))?,
            attributes,
            return_old_on_condition_failure,
        }),
        "put" => TransactWriteAction::Put(PutItemInput {
            table,
            item: into_item(required(a.item, &field("item"))?)?,
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
        "update" => TransactWriteAction::Update(UpdateItemInput {
            table,
            key: key(a.key)?,
            update: Some(required(a.update_expression, &field("updateExpression"))?),
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
        _ => TransactWriteAction::Delete(DeleteItemInput {
            table,
            key: key(a.key)?,
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
    })
}

pub(super) async fn transact_write_items(
    engine: &Engine,
    r: TransactWriteRequest,
) -> Result<Vec<u8>, ApiError> {
    r.check_members()?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let items = required(r.transact_items, "transactItems")?;
    let input = TransactWriteInput {
        actions: items
            .into_iter()
            .enumerate()
            .map(|(i, w)| transact_action(i, w))
            .collect::<Result<_, _>>()?,
        client_request_token: r.client_request_token,
    };
    // A cancelled transaction fails before this, and answers no ConsumedCapacity
    // (dynamodb-conformance's captures: "A failing condition cancels the transaction,
    // and the response carries no ConsumedCapacity at all").
    let consumed = write(|done| engine.transact_write_items(input, done)).await?;
    let mut body = b"{}".to_vec();
    capacity::append(
        &mut body,
        capacity::list(&consumed, detail, Split::ReadWrite),
    );
    Ok(body)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactGetRequest {
    transact_items: Option<Vec<TransactGetItem>>,
    return_consumed_capacity: Option<String>,
}

impl NamesTables for TransactGetRequest {
    fn tables(&self) -> Vec<&str> {
        self.transact_items
            .iter()
            .flatten()
            .filter_map(|g| g.get.as_ref()?.table_name.as_deref())
            .collect()
    }

    /// Each read is a GetItem on its table, with its key's partition value.
    fn accesses(&self, _op: &str, engine: &Engine) -> AccessResult {
        let mut out = Vec::new();
        for g in self
            .transact_items
            .iter()
            .flatten()
            .filter_map(|g| g.get.as_ref())
        {
            let table = g.table_name.as_deref();
            let leading = table.map_or_else(Vec::new, |t| leading_keys(engine, t, g.key.iter()));
            let names = expression_names(
                &g.expression_attribute_names,
                &None,
                g.projection_expression.as_deref(),
                None,
            )?;
            out.push(
                Access::new("GetItem", table)
                    .with(KEY_LEADING, leading)
                    .with(KEY_ATTRIBUTES, attribute_names(None, Some(&names)))
                    .with(
                        KEY_SELECT,
                        select_of(None, g.projection_expression.is_some())
                            .into_iter()
                            .collect(),
                    ),
            );
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGetItem {
    get: Option<TransactGet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGet {
    table_name: Option<String>,
    key: Option<WireItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
}

pub(super) fn transact_get_items(
    engine: &Engine,
    r: TransactGetRequest,
) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.return_consumed_capacity(r.return_consumed_capacity.as_deref());
    check_transact_items(r.transact_items.as_ref(), &mut v);
    for (i, t) in r.transact_items.iter().flatten().enumerate() {
        let field = |name: &str| format!("transactItems.{}.member.{name}", i + 1);
        v.not_null(t.get.as_ref(), &field("get"));
        if let Some(g) = &t.get {
            v.not_null(g.table_name.as_ref(), &field("get.tableName"));
            v.not_null(g.key.as_ref(), &field("get.key"));
        }
    }
    v.finish()?;
    let items = required(r.transact_items, "transactItems")?;
    let mut gets = Vec::with_capacity(items.len());
    for (i, t) in items.into_iter().enumerate() {
        let field = |name: &str| format!("transactItems.{}.member.{name}", i + 1);
        let g = required(t.get, &field("get"))?;
        gets.push(GetItemInput {
            table: required(g.table_name, &field("get.tableName"))?,
            key: into_item(required(g.key, &field("get.key"))?)?,
            projection: g.projection_expression,
            attributes: expr_attrs(g.expression_attribute_names, None)?,
            attributes_to_get: None,
            consistent_read: true,
        });
    }
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let (items, consumed) = engine.transact_get_items(&gets)?;
    let responses: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Some(item) => json!({ "Item": WireOut(item) }),
            None => json!({}),
        })
        .collect();
    let mut body = json_bytes(&json!({ "Responses": responses }));
    capacity::append(
        &mut body,
        capacity::list(&consumed, detail, Split::ReadWrite),
    );
    Ok(body)
}
