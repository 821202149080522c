//! What every `/v1` route shares: reading a body (within its limit and the edge's
//! budget), a query string or a JSON body with errors that name the field, answering
//! JSON, and running blocking work off the async workers.
//!
//! Owns these helpers. Must not know any route or what its body means.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::problem::{Problem, json_body};
use crate::body::Buffered;
use crate::percent::decode_query;

pub(super) type ApiResult = Result<Response, Problem>;

pub(super) fn ok(v: &Value) -> ApiResult {
    Ok(json_body(v))
}

pub(super) fn created(v: &Value) -> ApiResult {
    Ok((StatusCode::CREATED, json_body(v)).into_response())
}

/// Runs blocking work (compiling, running wasm, joining consumer threads) off the async
/// workers. A panic in it is raised again in the request's task, where the edge answers
/// it with a 500 and logs it with the route and the request id.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Problem> {
    crate::blocking::run(f).await.ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the server is shutting down",
        )
    })
}

/// Reads a body of at most `limit_bytes` (refused on its `Content-Length` before any of
/// it is read); keep the result until the request is answered, it holds the body's
/// share of the edge's budget.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit_bytes: usize,
) -> Result<Buffered, Problem> {
    crate::body::read(headers, body, limit_bytes)
        .await
        .map_err(|e| Problem::body(&e))
}

pub(super) fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(
            "InvalidRequestContentException",
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Deserializes a JSON object field by field first, so that an unknown field or a
/// value of the wrong type is reported with the field's name.
/// Reads a definition body (a trigger's or a schedule's, at most `limit_bytes`): an
/// empty body is the default request, and an unknown field or a value of the wrong type
/// is a 400 naming the field.
pub(super) async fn definition_request<T: Default + serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit_bytes: usize,
) -> Result<T, Problem> {
    definition_from_bytes(&read_body(headers, body, limit_bytes).await?.bytes)
}

/// [`definition_request`] on a body already read.
pub(super) fn definition_from_bytes<T: Default + serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_fields(parse_json(bytes)?, "")
}

pub(super) fn parse_fields<T: serde::de::DeserializeOwned>(
    value: Value,
    prefix: &str,
) -> Result<T, Problem> {
    let Value::Object(fields) = value else {
        return Err(Problem::bad_request(
            "InvalidRequestContentException",
            "the body must be a JSON object",
        ));
    };
    for (key, v) in &fields {
        let single = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
        if let Err(e) = serde_json::from_value::<T>(single) {
            return Err(Problem::invalid(&format!("{prefix}{key}"), e));
        }
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| Problem::bad_request("InvalidRequestContentException", e.to_string()))
}

/// `a=1&b=x%20y&b=z` into ordered pairs (repeated keys kept); `+` is a space.
pub(super) fn parse_query(query: &str) -> Result<Vec<(String, String)>, Problem> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_query(key).ok_or_else(|| {
            Problem::invalid("query", format!("{key:?} is not URL-encoded UTF-8"))
        })?;
        let value = decode_query(value)
            .ok_or_else(|| Problem::invalid(&key, format!("{value:?} is not URL-encoded UTF-8")))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}
