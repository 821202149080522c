//! The table grant: which DynamoDB requests a function may make.
//!
//! Owns the allow-list check that runs before a request reaches the host's
//! [`TableApi`](super::TableApi). It reads only the keys of a request that name tables
//! (`TableName`, `RequestItems`, `TransactItems[].<Op>.TableName`) and denies what it
//! cannot check (no table named, PartiQL). Must not know how requests are executed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::TableCallError;

/// A larger request is refused before parsing (DynamoDB's own request limit).
pub const DYNAMODB_REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A longer operation name is refused (real ones are short ASCII words).
pub const OPERATION_NAME_BYTES_MAX: usize = 64;

/// A refused request, as the `dynamodb` import returns it.
pub(crate) type Denied = TableCallError;

#[derive(Deserialize)]
struct TableNames {
    #[serde(rename = "TableName")]
    table_name: Option<String>,
    #[serde(rename = "RequestItems")]
    request_items: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(rename = "TransactItems")]
    transact_items: Option<Vec<BTreeMap<String, TransactTarget>>>,
}

#[derive(Deserialize)]
struct TransactTarget {
    #[serde(rename = "TableName")]
    table_name: Option<String>,
}

/// Checks that `request_json` for `operation` names only tables in `granted`.
pub(crate) fn check(
    function: &str,
    operation: &str,
    request_json: &str,
    granted: &BTreeSet<String>,
) -> Result<(), Denied> {
    if operation.is_empty()
        || operation.len() > OPERATION_NAME_BYTES_MAX
        || !operation.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(TableCallError::new(
            "UnknownOperationException",
            format!("not a DynamoDB operation: {operation:?}"),
        ));
    }
    if matches!(
        operation,
        "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction"
    ) {
        return Err(denied(
            function,
            operation,
            "PartiQL statements (use the item operations on granted tables)",
        ));
    }
    if request_json.len() > DYNAMODB_REQUEST_BYTES_MAX {
        return Err(TableCallError::new(
            "ValidationException",
            format!(
                "request of {} bytes is over the limit of {DYNAMODB_REQUEST_BYTES_MAX} bytes",
                request_json.len()
            ),
        ));
    }
    let names: TableNames = serde_json::from_str(request_json).map_err(|e| {
        TableCallError::new(
            "SerializationException",
            format!("the request is not a JSON object of the expected shape: {e}"),
        )
    })?;
    let mut named = Vec::new();
    named.extend(names.table_name);
    named.extend(
        names
            .request_items
            .into_iter()
            .flat_map(BTreeMap::into_keys),
    );
    for item in names.transact_items.into_iter().flatten() {
        named.extend(item.into_values().filter_map(|t| t.table_name));
    }
    if named.is_empty() {
        return Err(denied(function, operation, "a request that names no table"));
    }
    match named.iter().find(|t| !granted.contains(table_of(t))) {
        Some(table) => Err(denied(function, operation, &format!("table/{table}"))),
        None => Ok(()),
    }
}

/// The table name in `name`, which may be a table ARN (`arn:…:table/<name>[/index/…]`).
fn table_of(name: &str) -> &str {
    match name
        .strip_prefix("arn:")
        .and_then(|arn| arn.split_once(":table/"))
    {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => name,
    }
}

fn denied(function: &str, operation: &str, resource: &str) -> Denied {
    TableCallError::new(
        "AccessDeniedException",
        format!(
            "function {function} is not authorized to perform: dynamodb:{operation} on \
             resource: {resource} (grant tables in the function's deployment)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> BTreeSet<String> {
        ["users".to_owned(), "audit".to_owned()].into()
    }

    fn code(op: &str, req: &str) -> Option<String> {
        check("f", op, req, &granted()).err().map(|e| e.code)
    }

    #[test]
    fn table_grant_cases() {
        let ok = None;
        let denied = Some("AccessDeniedException".to_owned());
        let cases: &[(&str, &str, Option<String>)] = &[
            ("PutItem", r#"{"TableName":"users","Item":{}}"#, ok.clone()),
            (
                "PutItem",
                r#"{"TableName":"other","Item":{}}"#,
                denied.clone(),
            ),
            (
                "GetItem",
                r#"{"TableName":"arn:aws:dynamodb:us-east-1:0:table/users"}"#,
                ok.clone(),
            ),
            (
                "Query",
                r#"{"TableName":"arn:aws:dynamodb:us-east-1:0:table/other/index/i"}"#,
                denied.clone(),
            ),
            (
                "BatchWriteItem",
                r#"{"RequestItems":{"users":[],"audit":[]}}"#,
                ok.clone(),
            ),
            (
                "BatchGetItem",
                r#"{"RequestItems":{"users":{},"other":{}}}"#,
                denied.clone(),
            ),
            (
                "TransactWriteItems",
                r#"{"TransactItems":[{"Put":{"TableName":"users"}},{"Delete":{"TableName":"audit"}}]}"#,
                ok.clone(),
            ),
            (
                "TransactWriteItems",
                r#"{"TransactItems":[{"Put":{"TableName":"users"}},{"Update":{"TableName":"x"}}]}"#,
                denied.clone(),
            ),
            ("ListTables", "{}", denied.clone()),
            (
                "ExecuteStatement",
                r#"{"Statement":"SELECT * FROM users"}"#,
                denied.clone(),
            ),
            (
                "PutItem",
                "not json",
                Some("SerializationException".to_owned()),
            ),
            (
                "Put Item",
                "{}",
                Some("UnknownOperationException".to_owned()),
            ),
        ];
        for (op, req, want) in cases {
            assert_eq!(&code(op, req), want, "{op} {req}");
        }
    }

    #[test]
    fn the_message_names_the_table() {
        let TableCallError { message, .. } =
            check("fn1", "PutItem", r#"{"TableName":"secret"}"#, &granted())
                .expect_err("must be denied");
        assert!(message.contains("fn1"), "{message}");
        assert!(message.contains("dynamodb:PutItem"), "{message}");
        assert!(message.contains("table/secret"), "{message}");
    }
}
