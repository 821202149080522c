//! Lambda's REST API on Eddy's port (`/2015-03-31/…`), so that `aws lambda …
//! --endpoint-url` and the SDKs' Lambda clients drive Eddy's functions and triggers
//! unchanged: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, DeleteFunction, Invoke, and Create/Get/List/Update/Delete of
//! event-source mappings (Eddy's stream triggers, which already take Lambda's fields).
//!
//! Owns the routes, Lambda's request and response JSON, its error shape (`error.rs`),
//! the guard of these routes (`guard.rs`), the component inside a deployment package
//! (`zip.rs`), the attributes Lambda shows that a deployment does not keep (`meta.rs`)
//! and Lambda's forms of a function's name (`names.rs`). Must not know how a function
//! is compiled or run, nor how a trigger delivers (`eddy-triggers`), nor Eddy's own
//! `/v1` API (`api/`), whose upload slots it only shares.

mod error;
mod functions;
mod guard;
mod invoke;
mod mappings;
mod meta;
mod names;
mod zip;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::body::Buffered;
use crate::state::AppState;
use error::LambdaError;

/// The version prefix of every Lambda route this module answers.
pub(crate) const API_PREFIX: &str = "/2015-03-31";

/// The answer to a Lambda request whose handler panicked: Lambda's retryable 500
/// `ServiceException`, in its shape, so that the SDKs' Lambda clients read it (and
/// retry) as they would read AWS's.
pub(crate) fn panicked(request_id: &str) -> Response {
    LambdaError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        format!("Eddy failed to answer this request (request id {request_id})"),
    )
    .into_response()
}

/// Largest body of a request that is not CreateFunction, UpdateFunctionCode or Invoke
/// (a mapping's fields: five 4,096-character filter patterns fit many times over).
pub const LAMBDA_BODY_BYTES_MAX: usize = 256 * 1024;

type LambdaResult = Result<Response, LambdaError>;

/// Lambda's routes, merged into [`crate::server::app`]; every one passes
/// [`guard::guard`] first.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/2015-03-31/functions",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/{name}",
            get(functions::get).delete(functions::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::invoke),
        )
        // botocore's older models end this path with a slash, newer ones do not.
        .route(
            "/2015-03-31/event-source-mappings",
            get(mappings::list).post(mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/",
            get(mappings::list).post(mappings::create),
        )
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(mappings::get)
                .put(mappings::update)
                .delete(mappings::delete),
        )
        .route("/2015-03-31/{*rest}", axum::routing::any(unknown_operation))
        .layer(axum::middleware::from_fn(guard::guard))
}

/// A Lambda path Eddy does not answer (aliases, versions, layers, URLs, …).
async fn unknown_operation(method: axum::http::Method, uri: axum::http::Uri) -> LambdaError {
    LambdaError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!(
            "Eddy does not implement {method} {}: its Lambda API has CreateFunction, \
             GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode, \
             DeleteFunction, Invoke and the event-source mapping operations",
            uri.path()
        ),
    )
}

/// A JSON answer with Lambda's status for the operation.
fn answer(status: StatusCode, value: &Value) -> Response {
    let mut resp = (status, value.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Reads a body of at most `limit_bytes`; keep the result until the request is
/// answered, it holds the body's share of the edge's budget.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit_bytes: usize,
    operation: &str,
) -> Result<Buffered, LambdaError> {
    crate::body::read(headers, body, limit_bytes)
        .await
        .map_err(|e| LambdaError::body(&e, operation))
}

/// The request's JSON object as `T` (an empty body is `{}`); a member of the wrong type
/// is named in the message.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, LambdaError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let value: Value = serde_json::from_slice(bytes).map_err(LambdaError::unparsable)?;
    if !value.is_object() {
        return Err(LambdaError::unparsable("the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(LambdaError::unparsable)
}

/// Runs blocking work (compiling, running wasm, joining consumer threads, fsyncs) off
/// the async workers; a panic in it is raised again in the request's task.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LambdaError> {
    crate::blocking::run(f).await.ok_or_else(|| {
        LambdaError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the server is shutting down",
        )
    })
}

/// The value of query parameter `name` (the last one, if repeated); one that is not
/// URL-encoded UTF-8 is refused.
fn query_param(uri: &axum::http::Uri, name: &str) -> Result<Option<String>, LambdaError> {
    let mut found = None;
    for part in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        if crate::percent::decode_query(key).as_deref() == Some(name) {
            found = Some(crate::percent::decode_query(value).ok_or_else(|| {
                LambdaError::invalid(format!("{name}: {value:?} is not URL-encoded UTF-8"))
            })?);
        }
    }
    Ok(found)
}

/// Lambda's `LastModified` of a function: ISO 8601 with milliseconds and a `+0000`
/// offset ("2024-05-01T12:00:00.000+0000").
fn last_modified(ms: u64) -> String {
    format!("{}+0000", eddy_engine::clock::iso8601_ms(ms))
}
