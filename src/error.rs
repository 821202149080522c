//! Errors at the HTTP edge and their one mapping to DynamoDB's wire errors: the
//! `__type` a client's SDK turns into an exception class, the message, and the status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_engine::{CancellationReason, Error, ThrottleException};
use serde_json::{Value, json};

use crate::wire::WireOut;

/// Everything a DynamoDB request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// An outcome the engine reported.
    Engine(Error),
    /// The body is not the JSON the operation expects.
    Serialization(String),
    /// A dispatcher knows no operation of that name (the edge answers it as
    /// [`ApiError::UnknownTarget`], naming it).
    UnknownOperation,
    /// `X-Amz-Target` names no operation Eddy knows: the operation (or the whole target,
    /// when it names no service Eddy serves; empty when there is none).
    UnknownTarget(String),
    /// DynamoDB's `TableNotFoundException` (the backup operations' missing table, which
    /// is not the engine's `ResourceNotFoundException`), with its message.
    TableNotFound(String),
    /// A caller's grant refused the request (`code` is DynamoDB's, e.g.
    /// `AccessDeniedException`): only a function's table calls are gated.
    Refused { code: String, message: String },
    /// A PartiQL INSERT found its key taken (`DuplicateItemException`).
    DuplicateItem,
}

/// DynamoDB's message of `DuplicateItemException`.
pub const DUPLICATE_ITEM_MESSAGE: &str = "Duplicate primary key exists in table";

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Engine(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Serialization(serialization_message(&e))
    }
}

/// DynamoDB's messages for malformed JSON are terse; keep serde's position so the
/// client can find the mistake.
fn serialization_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => format!("Malformed JSON: {e}"),
        Category::Data => format!("Unexpected value in request: {e}"),
        Category::Io => format!("Cannot read request: {e}"),
    }
}

const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";

/// DynamoDB's message of `InternalServerError` (API Reference: "The server encountered
/// an internal error trying to fulfill the request.").
const INTERNAL_SERVER_ERROR_MESSAGE: &str =
    "The server encountered an internal error trying to fulfill the request.";

impl ApiError {
    /// The status, the full `__type` and the message.
    fn parts(&self) -> (StatusCode, String, String) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            ApiError::Serialization(m) => (
                bad,
                "com.amazon.coral.service#SerializationException".into(),
                m.clone(),
            ),
            // dynalite (whose tests ran against DynamoDB) records the type; DynamoDB's
            // message is not recorded there. This one is DynamoDB Local's ("An unknown
            // operation was requested."), naming the operation so that the client sees
            // which call Eddy lacks.
            ApiError::UnknownOperation => (
                bad,
                "com.amazon.coral.service#UnknownOperationException".into(),
                "An unknown operation was requested.".into(),
            ),
            ApiError::UnknownTarget(op) => (
                bad,
                "com.amazon.coral.service#UnknownOperationException".into(),
                if op.is_empty() {
                    "An unknown operation was requested: the request has no X-Amz-Target".into()
                } else {
                    format!("An unknown operation was requested: {op}")
                },
            ),
            ApiError::TableNotFound(m) => {
                (bad, format!("{DYNAMODB}#TableNotFoundException"), m.clone())
            }
            ApiError::Refused { code, message } => (
                bad,
                format!("com.amazon.coral.service#{code}"),
                message.clone(),
            ),
            ApiError::DuplicateItem => (
                bad,
                format!("{DYNAMODB}#DuplicateItemException"),
                DUPLICATE_ITEM_MESSAGE.into(),
            ),
            ApiError::Engine(e) => match e {
                Error::Validation(m) => (
                    bad,
                    "com.amazon.coral.validate#ValidationException".into(),
                    m.clone(),
                ),
                Error::ResourceNotFound(m) => (
                    bad,
                    format!("{DYNAMODB}#ResourceNotFoundException"),
                    m.clone(),
                ),
                Error::ResourceInUse(m) => {
                    (bad, format!("{DYNAMODB}#ResourceInUseException"), m.clone())
                }
                Error::ConditionalCheckFailed { .. } => (
                    bad,
                    format!("{DYNAMODB}#ConditionalCheckFailedException"),
                    "The conditional request failed".into(),
                ),
                Error::TrimmedDataAccess(m) => (
                    bad,
                    format!("{DYNAMODB}#TrimmedDataAccessException"),
                    m.clone(),
                ),
                Error::ExpiredIterator(m) => (
                    bad,
                    format!("{DYNAMODB}#ExpiredIteratorException"),
                    m.clone(),
                ),
                Error::TransactionCanceled { .. } => (
                    bad,
                    format!("{DYNAMODB}#TransactionCanceledException"),
                    e.to_string(),
                ),
                Error::IdempotentParameterMismatch(m) => (
                    bad,
                    format!("{DYNAMODB}#IdempotentParameterMismatchException"),
                    m.clone(),
                ),
                Error::TransactionInProgress(m) => (
                    bad,
                    format!("{DYNAMODB}#TransactionInProgressException"),
                    m.clone(),
                ),
                Error::LimitExceeded(m) => {
                    (bad, format!("{DYNAMODB}#LimitExceededException"), m.clone())
                }
                Error::ShuttingDown => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "com.amazon.coral.availability#ServiceUnavailableException".into(),
                    "The server is shutting down".into(),
                ),
                // Both are 400s the SDKs retry with backoff (their throttling codes).
                Error::Throttled(t) => (
                    bad,
                    match t.exception {
                        ThrottleException::ProvisionedThroughputExceeded => {
                            format!("{DYNAMODB}#ProvisionedThroughputExceededException")
                        }
                        ThrottleException::Throttling => {
                            "com.amazon.coral.availability#ThrottlingException".into()
                        }
                    },
                    t.message.to_string(),
                ),
                Error::Unavailable(m) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "com.amazon.coral.availability#ServiceUnavailableException".into(),
                    m.clone(),
                ),
                // A caught bug (`Internal`, the request's work was contained and
                // nothing of it written) or a storage failure: retryable for the SDK.
                // The detail goes to the log; the client gets DynamoDB's own message.
                other => {
                    tracing::error!(error = %other, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("{DYNAMODB}#InternalServerError"),
                        INTERNAL_SERVER_ERROR_MESSAGE.into(),
                    )
                }
            },
        }
    }
}

impl ApiError {
    /// The HTTP status the error is answered with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The error as a DynamoDB client's SDK sees it: the exception name (the part of
    /// `__type` after `#`) and the message. The function capability reports it so.
    pub fn code_and_message(&self) -> (String, String) {
        let (_, kind, message) = self.parts();
        let code = kind.rsplit_once('#').map_or(kind.as_str(), |(_, c)| c);
        (code.to_owned(), message)
    }
}

/// `CancellationReasons`: one entry per action, `{"Code": "None"}` for those that did
/// not fail.
fn cancellation_reasons(reasons: &[CancellationReason]) -> Value {
    reasons
        .iter()
        .map(|r| {
            let mut v = json!({ "Code": r.code() });
            if let Some(m) = r.message() {
                v["Message"] = json!(m);
            }
            if let CancellationReason::ConditionalCheckFailed { item: Some(item) } = r {
                v["Item"] = serde_json::to_value(WireOut(item)).unwrap_or_default();
            }
            v
        })
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, message) = self.parts();
        let mut body = json!({ "__type": &kind, "message": message });
        match &self {
            ApiError::Engine(Error::ConditionalCheckFailed { item: Some(item) }) => {
                body["Item"] = serde_json::to_value(WireOut(item)).unwrap_or_default();
            }
            ApiError::Engine(Error::Throttled(t)) => {
                // The member's spelling differs between the two exceptions in
                // DynamoDB's service model.
                let member = match t.exception {
                    ThrottleException::ProvisionedThroughputExceeded => "ThrottlingReasons",
                    ThrottleException::Throttling => "throttlingReasons",
                };
                body[member] = json!([{ "reason": t.reason, "resource": t.resource }]);
            }
            ApiError::Engine(Error::TransactionCanceled { reasons }) => {
                body["CancellationReasons"] = cancellation_reasons(reasons);
                // DynamoDB spells this exception's message field `Message`.
                if let Some(m) = body.as_object_mut().and_then(|o| o.remove("message")) {
                    body["Message"] = m;
                }
            }
            _ => {}
        }
        let mut resp = json_response(status, body.to_string().into_bytes());
        crate::metrics::mark_error(&mut resp, &kind);
        resp
    }
}

/// A DynamoDB answer: the JSON 1.0 content type and the CRC32 of the body in
/// `x-amz-crc32`, which DynamoDB sends with every body, errors too (dynalite's tests,
/// written against DynamoDB, check it on error bodies), and which SDKs verify when it
/// is present.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let crc = crc32fast::hash(&body);
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    resp
}
