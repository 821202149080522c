//! Application Auto Scaling's own protocol on Eddy's port: `POST /` with
//! `X-Amz-Target: AnyScaleFrontendService.<Operation>` and a JSON 1.1 body, as the aws
//! CLI (`aws application-autoscaling … --endpoint-url`) and the SDKs send it, signed
//! for the service `application-autoscaling` under `--auth sigv4`.
//!
//! Owns that protocol's answers. Must not know what an operation does (`api.rs`).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{AasError, CHANGES, call};
use crate::auth::AuthError;
use crate::auth::decide::Subject;

/// The `X-Amz-Target` prefix of Application Auto Scaling.
pub const TARGET_PREFIX: &str = "AnyScaleFrontendService";

/// Largest request body an Application Auto Scaling call may send (its requests are
/// small: a policy is the largest, a few KB).
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

/// A JSON 1.1 answer.
fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    resp
}

/// An error as JSON 1.1 writes it: `{"__type", "message"}`, 400 unless internal.
pub fn error(e: &AasError) -> Response {
    let status = if e.is_internal() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    answer(status, &json!({ "__type": e.kind, "message": e.message }))
}

/// Answers one Application Auto Scaling request (`op` is the part of the target
/// after the prefix).
pub async fn request(parts: Parts, body: Body, op: String) -> Response {
    let buffered = match crate::body::read(&parts.headers, body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => {
            return error(&AasError {
                kind: "SerializationException",
                message: e.to_string(),
            });
        }
    };
    let key = match crate::auth::check_dynamodb(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &buffered.bytes,
    ) {
        Ok(key) => key,
        Err(refused) => return crate::audit::scaling_refused(&parts, &op, refused),
    };
    let Some(scaling) = super::get() else {
        return error(&AasError {
            kind: "InternalServiceException",
            message: "auto scaling is not running on this server".into(),
        });
    };
    // A key that is not an administrator's may read what its user's policies allow
    // (`application-autoscaling:Describe…`); every change needs an administrator.
    if let Some(key) = key.as_ref().filter(|k| !k.admin) {
        // DynamoDB's refusal (`com.amazon.coral.service#AccessDeniedException`, which
        // the SDKs read as `AccessDeniedException`), recorded in the audit log.
        let denied = |message: String| {
            let resp = AuthError::NotAdmin(message).dynamodb_response();
            crate::audit::scaling_refused(&parts, &op, resp)
        };
        if CHANGES.contains(&op.as_str()) {
            return denied(format!(
                "User {} (access key {}) is not authorized to perform application-autoscaling:{op}: it needs an administrator's key",
                key.user, key.access_key_id
            ));
        }
        let Some(users) = crate::auth::users() else {
            return denied("the user store is not open".into());
        };
        let subject = Subject::of(
            key,
            users,
            &scaling.engine.config().account_id,
            crate::audit::source_ip(&parts.extensions),
        );
        if let Err(d) = subject.allow(&format!("application-autoscaling:{op}"), "*", &[]) {
            return denied(d.message);
        }
    }
    let body: Value = if buffered.bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&buffered.bytes) {
            Ok(v) => v,
            Err(e) => {
                return error(&AasError {
                    kind: "SerializationException",
                    message: format!("the body is not valid JSON: {e}"),
                });
            }
        }
    };
    drop(buffered);
    let resource = body
        .get("ResourceId")
        .and_then(Value::as_str)
        .unwrap_or("*")
        .to_owned();
    let changes = CHANGES.contains(&op.as_str());
    let audited_op = op.clone();
    let result = crate::blocking::run(move || call(&scaling, &op, &body)).await;
    let resp = match result {
        Some(Ok(v)) => answer(StatusCode::OK, &v),
        Some(Err(e)) => error(&e),
        None => error(&AasError {
            kind: "InternalServiceException",
            message: "the server is shutting down".into(),
        }),
    };
    // A change is recorded in the audit log with its status, failed ones too.
    if changes {
        crate::audit::change(
            &crate::audit::Identity::of(key.as_deref()),
            crate::audit::source_ip(&parts.extensions),
            &format!("application-autoscaling:{audited_op}"),
            &resource,
            resp.status().as_u16(),
        );
    }
    resp
}
