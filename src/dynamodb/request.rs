//! What the DynamoDB operations share: reading a request body into its shape, the
//! common request fields (expression attributes, return values, a table name), bridging
//! an engine write or a blocking read to async, and writing an item response. The Streams API (`streams.rs`) reads its requests with
//! these too.
//!
//! Owns these helpers. Must not know any one operation.

use std::collections::HashMap;

use bytes::Bytes;
use eddy_engine::{Done, Engine, Error, ExpressionAttributes, ReturnValues, WriteOutput};
use serde::Deserialize;

use super::access::{Access, AccessResult};
use crate::error::ApiError;
use crate::wire::WireOut;
use crate::wire::input::{WireValue, into_values};

pub(crate) fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Result<T, ApiError> {
    Ok(serde_json::from_slice(body)?)
}

/// Who may run a parsed request: given the tables it names (perhaps none), allows it or
/// says why not. Requests from the HTTP edge have none; a function's table calls check
/// their grant here, on the request as parsed for the operation, so it is parsed once.
pub(crate) type Gate<'g> = Option<&'g (dyn Fn(&dyn NamesTables) -> Result<(), ApiError> + Sync)>;

/// The tables a request names, as a grant sees them: `TableName`, the keys of
/// `RequestItems`, each transaction action's `TableName` (an ARN is left as it is).
pub(crate) trait NamesTables {
    fn tables(&self) -> Vec<&str>;

    /// What the request does, for an access policy (see `access.rs`): by default the
    /// operation `op` on each table it names, or on no table (`*`), with no condition
    /// keys; the data-plane shapes state their keys and per-item actions themselves.
    fn accesses(&self, op: &str, _engine: &Engine) -> AccessResult {
        let tables = self.tables();
        if tables.is_empty() {
            return Ok(vec![Access::new(op, None)]);
        }
        Ok(tables
            .into_iter()
            .map(|t| Access::new(op, Some(t)))
            .collect())
    }
}

/// Implements [`NamesTables`] for request shapes whose one table is their
/// `table_name` field (most operations).
macro_rules! names_its_table {
    ($($shape:ty),+ $(,)?) => {
        $(impl $crate::dynamodb::request::NamesTables for $shape {
            fn tables(&self) -> Vec<&str> {
                self.table_name.as_deref().into_iter().collect()
            }
        })+
    };
}
pub(crate) use names_its_table;

/// [`parse`], then the gate (if any) on the tables the request names.
pub(crate) fn parse_gated<'a, T: Deserialize<'a> + NamesTables>(
    body: &'a Bytes,
    gate: Gate<'_>,
) -> Result<T, ApiError> {
    let request: T = parse(body)?;
    if let Some(gate) = gate {
        gate(&request)?;
    }
    Ok(request)
}

pub(crate) fn json_bytes(v: &impl serde::Serialize) -> Vec<u8> {
    // Serializing our own response values cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Runs blocking engine work (reads, scans) off the async workers. A panic in it is
/// raised again in the request's own task, where the edge answers DynamoDB's
/// `InternalServerError` and logs it with the operation and request id (the function
/// capability, which calls in from plain threads, catches it itself). A task the
/// runtime cancelled at shutdown is `ShuttingDown`.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::blocking::run(f)
        .await
        .unwrap_or(Err(ApiError::Engine(Error::ShuttingDown)))
}

/// Bridges an engine write (completed by a callback on the writer thread) to async. The
/// writer answers every job, `ShuttingDown` included; a callback dropped unanswered
/// means the writer stopped in the middle of the job, so whether it was applied is
/// unknown: that is DynamoDB's retryable `InternalServerError`, never an answer that
/// claims the write did not happen.
pub(super) async fn write<T: Send + 'static>(start: impl FnOnce(Done<T>)) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    match rx.await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ApiError::Engine(Error::Internal(
            "the writer stopped before it answered this write; its outcome is unknown".into(),
        ))),
    }
}

pub(crate) fn expr_attrs(
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, WireValue>>,
) -> Result<ExpressionAttributes, ApiError> {
    Ok(ExpressionAttributes {
        names,
        values: into_values(values)?,
    })
}

pub(super) fn return_values(rv: Option<String>) -> Result<ReturnValues, ApiError> {
    Ok(rv
        .as_deref()
        .map(ReturnValues::parse)
        .transpose()?
        .unwrap_or_default())
}

pub(super) fn return_old_on_failure(v: Option<String>) -> Result<bool, ApiError> {
    return_old_on_failure_at(v, "returnValuesOnConditionCheckFailure")
}

/// [`return_old_on_failure`] of a member at `field` (inside a list, DynamoDB names the
/// member by its path, `transactItems.1.member.put.returnValuesOnConditionCheckFailure`).
pub(super) fn return_old_on_failure_at(v: Option<String>, field: &str) -> Result<bool, ApiError> {
    match v.as_deref() {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(Error::validation(format!(
            "1 validation error detected: Value '{other}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        ))
        .into()),
    }
}

pub(crate) fn required<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        Error::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
        .into()
    })
}

pub(super) fn write_output(out: WriteOutput) -> Vec<u8> {
    match out.attributes {
        Some(item) => item_response("Attributes", &item),
        None => b"{}".to_vec(),
    }
}

/// `{"<field>": <item>}`, serialized straight from the engine's values.
pub(super) fn item_response(field: &'static str, item: &eddy_engine::Item) -> Vec<u8> {
    use serde::ser::SerializeMap;
    struct One<'a>(&'static str, WireOut<'a>);
    impl serde::Serialize for One<'_> {
        fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
            let mut m = ser.serialize_map(Some(1))?;
            m.serialize_entry(self.0, &self.1)?;
            m.end()
        }
    }
    json_bytes(&One(field, WireOut(item)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TableNameRequest {
    pub(super) table_name: Option<String>,
}

names_its_table!(TableNameRequest);

/// A request that names no table (DescribeLimits, DescribeEndpoints).
pub(crate) struct NoTable;

impl NamesTables for NoTable {
    fn tables(&self) -> Vec<&str> {
        Vec::new()
    }
}
