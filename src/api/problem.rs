//! The `/v1` API's error: `{"error": {"code", "message", "field"?}}` with its status,
//! and the one mapping of the executor's, the triggers' and the schedules' errors to it.
//!
//! Owns [`Problem`], its rendering, and [`json_body`], the JSON answer errors and routes
//! share. Must not know any route.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_triggers::DeployError;
use eddy_triggers::TriggerError;
use serde_json::{Value, json};

use crate::body::BodyError;

/// What a throttled client is told to wait before it retries (`Retry-After`, seconds).
const RETRY_AFTER_S: u64 = 1;

/// An API error: `{"error": {"code", "message", "field"?}}` with its status, and
/// Lambda's `Type` and `Reason` where Lambda sends them (a throttle).
#[derive(Debug)]
pub struct Problem {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) field: Option<String>,
    /// Lambda's `Reason` of a `TooManyRequestsException`.
    pub(super) reason: Option<&'static str>,
    /// `Retry-After` (seconds) for a throttled request.
    pub(super) retry_after_s: Option<u64>,
    /// The connection cannot carry another request (the body was not read to its end).
    pub(super) close: bool,
}

impl Problem {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
            field: None,
            reason: None,
            retry_after_s: None,
            close: false,
        }
    }

    /// Lambda's throttle: 429 `TooManyRequestsException`, "Rate Exceeded.", with its
    /// `Reason` (when Lambda has one for the case) and `Retry-After`.
    pub(super) fn throttled(
        reason: Option<&'static str>,
        detail: impl std::fmt::Display,
    ) -> Problem {
        Problem {
            reason,
            retry_after_s: Some(RETRY_AFTER_S),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                format!("Rate Exceeded. {detail}"),
            )
        }
    }

    /// The answer to a request whose handler panicked (the edge logged it).
    pub(crate) fn panicked(request_id: &str) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            format!(
                "the server failed while handling this request (request id {request_id}); \
                 the failure was logged"
            ),
        )
    }

    /// A body that was not read.
    pub(super) fn body(e: &BodyError) -> Problem {
        match e {
            BodyError::TooLarge { .. } => Problem {
                close: true,
                ..Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    e.to_string(),
                )
            },
            BodyError::Busy { .. } => Problem::throttled(None, e),
            BodyError::TimedOut { .. } => Problem {
                close: true,
                ..Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeoutException",
                    e.to_string(),
                )
            },
            BodyError::Unreadable(_) => {
                Problem::bad_request("InvalidRequestContentException", e.to_string())
            }
        }
    }

    /// A 400 about one field (or query parameter); the message names it.
    pub(crate) fn invalid(field: &str, message: impl std::fmt::Display) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!("{field}: {message}"),
            )
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// A 400 for a request that would exceed one of the server's quotas (the number of
    /// functions, triggers or schedules): Lambda's `ServiceQuotaExceededException`, "The
    /// request would exceed a service quota".
    pub(crate) fn quota_exceeded(message: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "ServiceQuotaExceededException",
            message,
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Problem {
        let message = message.into();
        tracing::error!(error = %message, "internal error in the /v1 API");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = Value::String(field);
        }
        if let Some(reason) = self.reason {
            error["Reason"] = Value::from(reason);
            error["Type"] = Value::from("User");
        }
        let mut resp = (self.status, json_body(&json!({ "error": error }))).into_response();
        let headers = resp.headers_mut();
        // Lambda names its error type in this header too.
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Some(seconds) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<TriggerError> for Problem {
    fn from(e: TriggerError) -> Problem {
        match e {
            TriggerError::Invalid { field, message } => Problem::invalid(field, message),
            TriggerError::NotFound(message) => Problem::not_found(message),
            TriggerError::Conflict(message) => {
                Problem::new(StatusCode::CONFLICT, "ResourceConflictException", message)
            }
            TriggerError::LimitExceeded(message) => Problem::quota_exceeded(message),
            e @ (TriggerError::Storage(_)
            | TriggerError::Source(_)
            | TriggerError::Corrupt { .. }
            | TriggerError::Encode { .. }) => Problem::internal(e.to_string()),
        }
    }
}

impl From<DeployError> for Problem {
    fn from(e: DeployError) -> Problem {
        match &e {
            DeployError::InvalidName { .. } => Problem {
                field: Some("name".to_owned()),
                ..Problem::bad_request("InvalidParameterValueException", e.to_string())
            },
            DeployError::InvalidConfig { field, message } => Problem::invalid(field, message),
            DeployError::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                e.to_string(),
            ),
            DeployError::NotWasm
            | DeployError::CoreModule
            | DeployError::InvalidComponent { .. }
            | DeployError::WrongWorld { .. } => {
                Problem::bad_request("InvalidComponentException", e.to_string())
            }
            DeployError::TooManyFunctions { .. } => Problem::quota_exceeded(e.to_string()),
            DeployError::Store(_) => Problem::internal(e.to_string()),
            // A rejection added later: its message says what is wrong.
            _ => Problem::bad_request("InvalidParameterValueException", e.to_string()),
        }
    }
}

/// A `200 OK` JSON answer (`application/json`).
pub(crate) fn json_body(v: &Value) -> Response {
    let mut resp = v.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    use eddy_triggers::DeployError;

    #[test]
    fn quotas_and_throttles_answer_lambdas_shapes() {
        let quota = Problem::from(TriggerError::LimitExceeded("too many".into()));
        assert_eq!(quota.status, StatusCode::BAD_REQUEST);
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        let quota = Problem::from(TriggerError::LimitExceeded("too many".into()));
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        let quota = Problem::from(DeployError::TooManyFunctions { deployed: 256 });
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        assert!(quota.message.contains("256"), "{}", quota.message);

        let throttled = Problem::throttled(Some("ConcurrentInvocationLimitExceeded"), "busy");
        let resp = throttled.into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            "TooManyRequestsException"
        );
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    }
}
