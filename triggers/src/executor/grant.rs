//! The table grant: which DynamoDB requests a function may make.
//!
//! Owns the allow-list: the checks that need no parsing run before a request reaches
//! the host's [`TableApi`](super::TableApi); the host parses the request once and asks
//! the [`TableGrant`] about the tables it names before anything runs. It denies what it
//! cannot check (no table named). Must not know how requests are parsed or
//! executed.

use super::tables::{TableCallError, TableGrant};

/// A larger request is refused before parsing (DynamoDB's own request limit).
pub const DYNAMODB_REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A longer operation name is refused (real ones are short ASCII words).
pub const OPERATION_NAME_BYTES_MAX: usize = 64;

/// A refused request, as the `dynamodb` import returns it.
pub(crate) type Denied = TableCallError;

/// Checks what can be checked before the request is parsed: that `operation` is a
/// DynamoDB operation name, and that the request is within DynamoDB's size limit. The
/// tables it names (for PartiQL, the tables its parsed statements name) are checked by
/// [`TableGrant::allow`] once the host has parsed it.
pub(crate) fn check_request(operation: &str, request_json: &str) -> Result<(), Denied> {
    if operation.is_empty()
        || operation.len() > OPERATION_NAME_BYTES_MAX
        || !operation.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(TableCallError::new(
            "UnknownOperationException",
            format!("not a DynamoDB operation: {operation:?}"),
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
    Ok(())
}

impl TableGrant<'_> {
    /// Allows `operation` on the tables `named`, or says which one is not granted. A
    /// request that names no table (ListTables, tagging by ARN) is denied: the grant
    /// cannot tell what it reaches.
    pub fn allow(&self, operation: &str, named: &[&str]) -> Result<(), TableCallError> {
        if named.is_empty() {
            return Err(denied(
                self.function,
                operation,
                "a request that names no table",
            ));
        }
        match named.iter().find(|t| !self.granted.contains(table_of(t))) {
            Some(table) => Err(denied(self.function, operation, &format!("table/{table}"))),
            None => Ok(()),
        }
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
    use std::collections::BTreeSet;

    use super::*;

    fn granted() -> BTreeSet<String> {
        ["users".to_owned(), "audit".to_owned()].into()
    }

    fn code(op: &str, named: &[&str]) -> Option<String> {
        let granted = granted();
        let grant = TableGrant {
            function: "f",
            granted: &granted,
        };
        check_request(op, "{}")
            .and_then(|()| grant.allow(op, named))
            .err()
            .map(|e| e.code)
    }

    #[test]
    fn table_grant_cases() {
        let ok = None;
        let denied = Some("AccessDeniedException".to_owned());
        let cases: &[(&str, &[&str], Option<String>)] = &[
            ("PutItem", &["users"], ok.clone()),
            ("PutItem", &["other"], denied.clone()),
            (
                "GetItem",
                &["arn:aws:dynamodb:us-east-1:0:table/users"],
                ok.clone(),
            ),
            (
                "Query",
                &["arn:aws:dynamodb:us-east-1:0:table/other/index/i"],
                denied.clone(),
            ),
            ("BatchWriteItem", &["users", "audit"], ok.clone()),
            ("BatchGetItem", &["users", "other"], denied.clone()),
            ("ListTables", &[], denied.clone()),
            ("ExecuteStatement", &["users"], ok.clone()),
            ("ExecuteTransaction", &["users", "other"], denied.clone()),
            (
                "Put Item",
                &["users"],
                Some("UnknownOperationException".to_owned()),
            ),
        ];
        for (op, named, want) in cases {
            assert_eq!(&code(op, named), want, "{op} {named:?}");
        }
        let oversized = "x".repeat(DYNAMODB_REQUEST_BYTES_MAX + 1);
        assert_eq!(
            check_request("PutItem", &oversized).map_err(|e| e.code),
            Err("ValidationException".to_owned())
        );
    }

    #[test]
    fn the_message_names_the_table() {
        let granted = granted();
        let grant = TableGrant {
            function: "fn1",
            granted: &granted,
        };
        let TableCallError { message, .. } = grant
            .allow("PutItem", &["secret"])
            .expect_err("must be denied");
        assert!(message.contains("fn1"), "{message}");
        assert!(message.contains("dynamodb:PutItem"), "{message}");
        assert!(message.contains("table/secret"), "{message}");
    }
}
