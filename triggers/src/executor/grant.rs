//! The checks of a function's DynamoDB request that need no parsing: an operation
//! name and DynamoDB's size limit, run before the request reaches the host's
//! [`TableApi`](super::TableApi). The host then parses the request once and evaluates
//! the function's role (the [`TableGrant`](super::TableGrant)'s tables as a policy) on every action and
//! resource it needs, before anything runs.
//!
//! Owns these checks. Must not know how requests are parsed, authorized or executed.

use super::tables::TableCallError;

/// A larger request is refused before parsing (DynamoDB's own request limit).
pub const DYNAMODB_REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A longer operation name is refused (real ones are short ASCII words).
pub const OPERATION_NAME_BYTES_MAX: usize = 64;

/// A refused request, as the `dynamodb` import returns it.
pub(crate) type Denied = TableCallError;

/// Checks what can be checked before the request is parsed: that `operation` is a
/// DynamoDB operation name, and that the request is within DynamoDB's size limit. The
/// tables it names (for PartiQL, the tables its parsed statements name) are checked by
/// the host's role check once it has parsed it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_parsing() {
        assert!(check_request("PutItem", "{}").is_ok());
        assert_eq!(
            check_request("Put Item", "{}").map_err(|e| e.code),
            Err("UnknownOperationException".to_owned())
        );
        let oversized = "x".repeat(DYNAMODB_REQUEST_BYTES_MAX + 1);
        assert_eq!(
            check_request("PutItem", &oversized).map_err(|e| e.code),
            Err("ValidationException".to_owned())
        );
    }
}
