//! A typed DynamoDB client over the host's `dynamodb` capability.
//!
//! Owns the request and response shapes of the common item operations (DynamoDB JSON
//! 1.0, PascalCase fields) and the raw [`DynamoDb::call`] for every other operation.
//! Must not know how the host enforces the table grant (it answers
//! `AccessDeniedException`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Item;
use crate::bindings::eddy::function::dynamodb as host;

/// A DynamoDB error: the exception name (`ConditionalCheckFailedException`, …) and its
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbError {
    /// The exception name without namespace.
    pub code: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for DynamoDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DynamoDbError {}

impl DynamoDbError {
    fn client(message: impl fmt::Display) -> Self {
        Self {
            code: "SerializationException".to_owned(),
            message: message.to_string(),
        }
    }
}

/// The DynamoDB API of this Eddy, limited to the tables granted to the deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct DynamoDb {
    _private: (),
}

impl DynamoDb {
    /// The client (it holds nothing; the host keeps the connection).
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// Calls any operation with a raw JSON request (`operation` as in `X-Amz-Target`
    /// without its prefix) and returns the raw JSON response.
    pub fn call_json(&self, operation: &str, request_json: &str) -> Result<String, DynamoDbError> {
        host::call(operation, request_json).map_err(|e| DynamoDbError {
            code: e.code,
            message: e.message,
        })
    }

    /// Calls any operation with typed request and response.
    pub fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        operation: &str,
        request: &Req,
    ) -> Result<Resp, DynamoDbError> {
        let request = serde_json::to_string(request).map_err(DynamoDbError::client)?;
        let response = self.call_json(operation, &request)?;
        serde_json::from_str(&response).map_err(DynamoDbError::client)
    }

    /// PutItem.
    pub fn put_item(&self, input: &PutItemInput) -> Result<PutItemOutput, DynamoDbError> {
        self.call("PutItem", input)
    }

    /// GetItem.
    pub fn get_item(&self, input: &GetItemInput) -> Result<GetItemOutput, DynamoDbError> {
        self.call("GetItem", input)
    }

    /// UpdateItem.
    pub fn update_item(&self, input: &UpdateItemInput) -> Result<UpdateItemOutput, DynamoDbError> {
        self.call("UpdateItem", input)
    }

    /// DeleteItem.
    pub fn delete_item(&self, input: &DeleteItemInput) -> Result<DeleteItemOutput, DynamoDbError> {
        self.call("DeleteItem", input)
    }

    /// Query (one page; follow `last_evaluated_key` for more).
    pub fn query(&self, input: &QueryInput) -> Result<QueryOutput, DynamoDbError> {
        self.call("Query", input)
    }

    /// Writes `item` to `table` unconditionally.
    pub fn put(&self, table: &str, item: Item) -> Result<(), DynamoDbError> {
        self.put_item(&PutItemInput {
            table_name: table.to_owned(),
            item,
            ..PutItemInput::default()
        })
        .map(drop)
    }

    /// Reads the item with `key` from `table` (strongly consistent).
    pub fn get(&self, table: &str, key: Item) -> Result<Option<Item>, DynamoDbError> {
        self.get_item(&GetItemInput {
            table_name: table.to_owned(),
            key,
            consistent_read: Some(true),
            ..GetItemInput::default()
        })
        .map(|out| out.item)
    }

    /// Deletes the item with `key` from `table`.
    pub fn delete(&self, table: &str, key: Item) -> Result<(), DynamoDbError> {
        self.delete_item(&DeleteItemInput {
            table_name: table.to_owned(),
            key,
            ..DeleteItemInput::default()
        })
        .map(drop)
    }
}

/// PutItem's request.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    pub table_name: String,
    pub item: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<Item>,
    /// `NONE` or `ALL_OLD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<String>,
}

/// PutItem's response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemOutput {
    /// The old item, with `ReturnValues: ALL_OLD`.
    #[serde(default)]
    pub attributes: Option<Item>,
}

/// GetItem's request.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: String,
    pub key: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
}

/// GetItem's response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemOutput {
    /// The item, if it exists.
    #[serde(default)]
    pub item: Option<Item>,
}

/// UpdateItem's request.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    pub table_name: String,
    pub key: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<Item>,
    /// `NONE`, `ALL_OLD`, `UPDATED_OLD`, `ALL_NEW` or `UPDATED_NEW`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<String>,
}

/// UpdateItem's response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemOutput {
    /// The attributes asked for with `ReturnValues`.
    #[serde(default)]
    pub attributes: Option<Item>,
}

/// DeleteItem's request.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    pub table_name: String,
    pub key: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<Item>,
    /// `NONE` or `ALL_OLD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<String>,
}

/// DeleteItem's response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemOutput {
    /// The old item, with `ReturnValues: ALL_OLD`.
    #[serde(default)]
    pub attributes: Option<Item>,
}

/// Query's request.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    pub key_condition_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_index_forward: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_key: Option<Item>,
}

/// Query's response (one page).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryOutput {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub scanned_count: u64,
    /// Where the next page starts, if there is one.
    #[serde(default)]
    pub last_evaluated_key: Option<Item>,
}
