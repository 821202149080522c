//! Lambda's REST error: the `x-amzn-ErrorType` header naming the type, and a body of
//! `{"Type": "User" | "Service", "message": …}` (`Message` for the types whose shape in
//! Lambda's service model spells it so), with the status Lambda gives the type.
//!
//! Owns [`LambdaError`] and the mapping of the executor's, the triggers' and the body
//! reader's errors to it. Must not know any route.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_triggers::{DeployError, TriggerError};
use serde_json::json;

use crate::body::BodyError;

/// What a throttled client is told to wait before it retries (`Retry-After`, seconds).
const RETRY_AFTER_S: u64 = 1;

/// An error in Lambda's shape.
#[derive(Debug)]
pub(super) struct LambdaError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    /// Lambda's `Reason` of a `TooManyRequestsException`.
    pub(super) reason: Option<&'static str>,
    /// The connection cannot carry another request (the body was not read to its end).
    pub(super) close: bool,
}

impl LambdaError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        LambdaError {
            status,
            code,
            message: message.into(),
            reason: None,
            close: false,
        }
    }

    /// 400 `InvalidParameterValueException`: a member's value Lambda (or Eddy) refuses.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    /// 400 `ValidationException` in the wording AWS's front end uses for a member outside
    /// the constraints of the service model: "1 validation error detected: Value '0' at
    /// 'timeout' failed to satisfy constraint: Member must have value greater than or
    /// equal to 1".
    pub(super) fn constraint(value: impl std::fmt::Display, member: &str, rule: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
                 constraint: {rule}"
            ),
        )
    }

    /// 404 `ResourceNotFoundException`.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// Lambda's answer for a function that does not exist: "Function not found: <arn>".
    pub(super) fn function_not_found(arn: &str) -> Self {
        Self::not_found(format!("Function not found: {arn}"))
    }

    /// Lambda's answer for an event-source mapping that does not exist. The text is the
    /// one AWS SDK tests and emulators record ("The resource you requested does not
    /// exist."); the SDK for Java appends its own "(Service: …)" suffix, not part of it.
    pub(super) fn mapping_not_found() -> Self {
        Self::not_found("The resource you requested does not exist.")
    }

    /// 409 `ResourceConflictException`.
    pub(super) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "ResourceConflictException", message)
    }

    /// 429 `TooManyRequestsException`, "Rate Exceeded.", with Lambda's `Reason`.
    pub(super) fn throttled(reason: Option<&'static str>, detail: impl std::fmt::Display) -> Self {
        LambdaError {
            reason,
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                format!("Rate Exceeded. {detail}"),
            )
        }
    }

    /// 500 `ServiceException`: Eddy failed, not the request; logged.
    pub(super) fn service(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error in Lambda's API");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }

    /// A body that was not read.
    pub(super) fn body(e: &BodyError, operation: &str) -> Self {
        match e {
            // Lambda's front end: "Request must be smaller than 6291456 bytes for the
            // InvokeFunction operation" (413 RequestTooLargeException).
            BodyError::TooLarge { limit_bytes } => LambdaError {
                close: true,
                ..Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    format!(
                        "Request must be smaller than {limit_bytes} bytes for the {operation} operation"
                    ),
                )
            },
            BodyError::Busy { .. } => Self::throttled(None, e),
            BodyError::TimedOut { .. } => LambdaError {
                close: true,
                ..Self::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeoutException",
                    e.to_string(),
                )
            },
            BodyError::Unreadable(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                e.to_string(),
            ),
        }
    }

    /// The body is not the JSON object the operation takes.
    pub(super) fn unparsable(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {detail}"),
        )
    }

    /// A deployment the executor refused; `member` names Lambda's member for each of
    /// Eddy's configuration fields.
    pub(super) fn deploy(e: DeployError) -> Self {
        match &e {
            DeployError::InvalidName { .. } => Self::invalid(e.to_string()),
            DeployError::InvalidConfig { field, message } => {
                Self::invalid(format!("{}: {message}", member_of(field)))
            }
            DeployError::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                e.to_string(),
            ),
            // Lambda refuses code it cannot use as InvalidParameterValueException; the
            // message says what is wrong with the component.
            DeployError::NotWasm
            | DeployError::CoreModule
            | DeployError::InvalidComponent { .. }
            | DeployError::WrongWorld { .. } => {
                Self::invalid(format!("Code.ZipFile is not a usable function: {e}"))
            }
            DeployError::TooManyFunctions { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "CodeStorageExceededException",
                e.to_string(),
            ),
            DeployError::Store(_) => Self::service(e.to_string()),
            _ => Self::invalid(e.to_string()),
        }
    }
}

/// Lambda's member (or Eddy's tag, for the grants Lambda has no member for) that sets
/// one of Eddy's deployment fields.
fn member_of(field: &str) -> &str {
    match field {
        "memory_mb" => "MemorySize",
        "timeout_ms" => "Timeout",
        "environment" => "Environment.Variables",
        "tables" => "Tags.eddy:tables",
        "hosts" => "Tags.eddy:hosts",
        "indexes" => "Tags.eddy:indexes",
        "allow_any_host" => "Tags.eddy:allow-any-host",
        "email" => "Tags.eddy:email",
        other => other,
    }
}

impl From<TriggerError> for LambdaError {
    fn from(e: TriggerError) -> Self {
        match e {
            TriggerError::Invalid { field, message } => {
                Self::invalid(format!("{field}: {message}"))
            }
            TriggerError::NotFound(message) => Self::not_found(message),
            TriggerError::Conflict(message) => Self::conflict(message),
            TriggerError::LimitExceeded(message) => Self::new(
                StatusCode::BAD_REQUEST,
                "ServiceQuotaExceededException",
                message,
            ),
            e @ (TriggerError::Storage(_)
            | TriggerError::Source(_)
            | TriggerError::Corrupt { .. }
            | TriggerError::Encode { .. }) => Self::service(e.to_string()),
        }
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        // Lambda's service model spells the message `Message` in these shapes and
        // `message` in the others; botocore reads either, other SDKs read their shape's.
        let key = match self.code {
            "ResourceNotFoundException" | "AccessDeniedException" => "Message",
            _ => "message",
        };
        let kind = if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = json!({ "Type": kind, key: self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = json!(reason);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if self.reason.is_some() || self.status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
