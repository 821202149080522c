//! DynamoDB request metrics for `GET /metrics`: how many requests each operation got,
//! per table and outcome, and how long they took, kept on every request at the cost
//! of a few uncontended atomic additions (`requests.rs` holds the counters); and the
//! capacity families read from the engine's per-table totals (`capacity.rs`).
//!
//! Owns the closed sets of operations and outcomes, their label values and the series
//! names. Must not know request shapes (the edge hands over the table names a request
//! names) nor routes (the `/metrics` handler calls [`render`]).

mod capacity;
mod requests;
mod tables;

use std::time::Duration;

use axum::response::Response;
use eddy_engine::Engine;

pub use requests::{
    LATENCY_BUCKETS_S, LATENCY_BUCKETS_US, METRIC_TABLES_MAX, TABLES_PER_REQUEST_COUNTED_MAX, Tally,
};

/// The operations counted by name, DynamoDB's and DynamoDB Streams'. Anything else a
/// client names (the target is the client's text) is counted as [`UNKNOWN_OPERATION`],
/// so that the label set stays closed.
const OPERATIONS: [&str; 35] = [
    "PutItem",
    "GetItem",
    "DeleteItem",
    "UpdateItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
    "CreateTable",
    "DescribeTable",
    "DeleteTable",
    "ListTables",
    "UpdateTable",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeKinesisStreamingDestination",
    "DescribeTableReplicaAutoScaling",
    "ListGlobalTables",
    "DescribeLimits",
    "DescribeEndpoints",
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
    UNKNOWN_OPERATION,
];

/// The label of an operation Eddy does not know (or a request without `X-Amz-Target`).
const UNKNOWN_OPERATION: &str = "_unknown";

/// How many operations are counted apart (the last is [`UNKNOWN_OPERATION`]).
const OPERATIONS_COUNT: usize = OPERATIONS.len();

/// The index of the operation a request's `X-Amz-Target` names (`DynamoDB_20120810.PutItem`).
pub fn operation(target: Option<&str>) -> usize {
    let op = target
        .and_then(|t| t.split_once('.'))
        .filter(|(service, _)| matches!(*service, "DynamoDB_20120810" | "DynamoDBStreams_20120810"))
        .map_or("", |(_, op)| op);
    OPERATIONS
        .iter()
        .position(|known| *known == op)
        .unwrap_or(OPERATIONS_COUNT - 1)
}

/// The outcomes counted apart: a success, a throttled request, a server error, and
/// each client error type DynamoDB (and Eddy's edge) answers with; any other client
/// error is [`OTHER_CLIENT_ERROR`].
const OUTCOMES: [&str; 27] = [
    "ok",
    "throttled",
    "server_error",
    "ValidationException",
    "ConditionalCheckFailedException",
    "ResourceNotFoundException",
    "ResourceInUseException",
    "TransactionCanceledException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "IdempotentParameterMismatchException",
    "ItemCollectionSizeLimitExceededException",
    "LimitExceededException",
    "DuplicateItemException",
    "TableNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "SerializationException",
    "UnknownOperationException",
    "RequestEntityTooLargeException",
    "RequestTimeoutException",
    "BadRequestException",
    "ExpiredIteratorException",
    OTHER_CLIENT_ERROR,
];

/// The outcome label of a client error whose type is not in [`OUTCOMES`].
const OTHER_CLIENT_ERROR: &str = "OtherClientError";
const OUTCOMES_COUNT: usize = OUTCOMES.len();
const OUTCOME_OK: usize = 0;
const OUTCOME_THROTTLED: usize = 1;
const OUTCOME_SERVER_ERROR: usize = 2;

/// The error types SDKs retry as throttling: DynamoDB's provisioned-throughput and
/// control-plane throttles and the account-level request limit.
const THROTTLING_TYPES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// The outcome of an error answer, carried in the response's extensions so that the
/// edge counts it without parsing the body.
#[derive(Debug, Clone, Copy)]
struct Outcome(usize);

/// Marks an error answer with its outcome: `kind` is its `__type` (with or without the
/// `namespace#` prefix), `status` its HTTP status.
pub fn mark_error(resp: &mut Response, kind: &str) {
    let outcome = classify(resp.status().as_u16(), kind);
    resp.extensions_mut().insert(Outcome(outcome));
}

/// Copies the outcome mark of one answer onto another made from it (an answer whose
/// body is rewritten).
pub fn carry_mark(from: &Response, to: &mut Response) {
    if let Some(outcome) = from.extensions().get::<Outcome>() {
        to.extensions_mut().insert(*outcome);
    }
}

fn classify(status: u16, kind: &str) -> usize {
    let short = kind.rsplit_once('#').map_or(kind, |(_, short)| short);
    if THROTTLING_TYPES.contains(&short) {
        OUTCOME_THROTTLED
    } else if status >= 500 {
        OUTCOME_SERVER_ERROR
    } else {
        OUTCOMES
            .iter()
            .position(|known| *known == short)
            .unwrap_or(OUTCOMES_COUNT - 1)
    }
}

/// The outcome of a finished answer: 200 is a success; an error answer carries its
/// mark, and one without (which no DynamoDB path makes) is classed by its status.
fn outcome_of(resp: &Response) -> usize {
    let status = resp.status();
    if status.is_success() {
        return OUTCOME_OK;
    }
    match resp.extensions().get::<Outcome>() {
        Some(Outcome(outcome)) => *outcome,
        None if status.is_server_error() => OUTCOME_SERVER_ERROR,
        None => OUTCOMES_COUNT - 1,
    }
}

/// Counts one answered request of operation `op` (see [`operation`]) that named the
/// tables in `tally`, and its latency.
pub fn record(engine: &Engine, op: usize, tally: &Tally, resp: &Response, elapsed: Duration) {
    let outcome = outcome_of(resp);
    let counted = requests::record(engine, op, tally, outcome, elapsed);
    // One line per request at DEBUG (`EDDY_LOG=debug`); the names are looked up only
    // when the line is written, so that a request at the default level pays nothing.
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            operation = OPERATIONS[op],
            table = %requests::slot_names(&counted).join(","),
            status = resp.status().as_u16(),
            outcome = OUTCOMES[outcome],
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "DynamoDB request"
        );
    }
}

/// Every DynamoDB request, capacity and table-size family, in Prometheus' text format.
pub fn render(engine: &Engine) -> String {
    let names = table_names(engine);
    let mut out = requests::render();
    out.push_str(&capacity::render(engine, &names));
    out.push_str(&tables::render(engine, &names));
    out
}

/// Every table's name: ListTables' pages, until the last.
fn table_names(engine: &Engine) -> Vec<String> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    while let Ok((page, last)) = engine.list_tables(after.as_deref(), None) {
        names.extend(page);
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    names
}

/// A label value with Prometheus' escapes (backslash, double quote, line feed).
pub(crate) fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_outcomes_are_closed_sets() {
        assert_eq!(
            OPERATIONS[operation(Some("DynamoDB_20120810.PutItem"))],
            "PutItem"
        );
        assert_eq!(
            OPERATIONS[operation(Some("DynamoDBStreams_20120810.GetRecords"))],
            "GetRecords"
        );
        assert_eq!(
            OPERATIONS[operation(Some("DynamoDB_20120810.Nope"))],
            UNKNOWN_OPERATION
        );
        assert_eq!(
            OPERATIONS[operation(Some("Other.PutItem"))],
            UNKNOWN_OPERATION
        );
        assert_eq!(OPERATIONS[operation(None)], UNKNOWN_OPERATION);
        let dynamodb = "com.amazonaws.dynamodb.v20120810#";
        assert_eq!(
            OUTCOMES[classify(
                400,
                &format!("{dynamodb}ProvisionedThroughputExceededException")
            )],
            "throttled"
        );
        assert_eq!(OUTCOMES[classify(400, "ThrottlingException")], "throttled");
        assert_eq!(
            OUTCOMES[classify(500, &format!("{dynamodb}InternalServerError"))],
            "server_error"
        );
        assert_eq!(
            OUTCOMES[classify(400, &format!("{dynamodb}ConditionalCheckFailedException"))],
            "ConditionalCheckFailedException"
        );
        assert_eq!(OUTCOMES[classify(400, "SomethingNew")], OTHER_CLIENT_ERROR);
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
