//! Cross-origin requests to the DynamoDB endpoint, answered as DynamoDB answers them, so
//! that the AWS SDK for JavaScript works from a page in a browser: a request with an
//! `Origin` gets `Access-Control-Allow-Origin: *`; a preflight (`OPTIONS` with an
//! `Origin`) is allowed whatever it asks, its requested method and headers echoed back,
//! for 172800 s. dynalite's tests (written against DynamoDB) record these answers.
//!
//! Owns the CORS headers. Knows nothing of what a request asks otherwise; the `/v1`
//! API is not a DynamoDB endpoint and is left out.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long a browser may keep a preflight's answer, in seconds (DynamoDB: 172800,
/// two days).
pub const PREFLIGHT_MAX_AGE_S: u32 = 172_800;

/// Whether CORS applies to a request: it names an `Origin` and goes to the DynamoDB
/// endpoint (not `/v1` or `/metrics`).
pub(super) fn applies(req: &Request) -> bool {
    let path = req.uri().path();
    req.headers().contains_key(header::ORIGIN) && !path.starts_with("/v1/") && path != "/metrics"
}

/// The answer to an `OPTIONS` request on the DynamoDB endpoint, if `req` is one: a
/// preflight (with an `Origin`) is allowed; without an `Origin` it is DynamoDB's 404
/// `<UnknownOperationException/>`, as for any method but POST.
pub(super) fn options(req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if req.method() != Method::OPTIONS || path.starts_with("/v1/") || path == "/metrics" {
        return None;
    }
    if !req.headers().contains_key(header::ORIGIN) {
        let body = "<UnknownOperationException/>\n";
        let mut resp = (StatusCode::NOT_FOUND, body).into_response();
        resp.headers_mut().insert(
            "x-amz-crc32",
            HeaderValue::from(crc32fast::hash(body.as_bytes())),
        );
        return Some(resp);
    }
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    echo(
        req.headers(),
        header::ACCESS_CONTROL_REQUEST_HEADERS,
        h,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
    );
    echo(
        req.headers(),
        header::ACCESS_CONTROL_REQUEST_METHOD,
        h,
        header::ACCESS_CONTROL_ALLOW_METHODS,
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_S),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    allow(&mut resp);
    Some(resp)
}

/// Marks an answer to a cross-origin request as readable by any origin, and lets the
/// page read the request id (DynamoDB does not expose `x-amz-crc32`, so browser SDKs
/// skip their CRC check, as against DynamoDB).
pub(super) fn allow(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-amzn-RequestId"),
    );
}

/// Copies `from`'s value in `request` to `to` in `response`, if there is one.
fn echo(
    request: &HeaderMap,
    from: header::HeaderName,
    response: &mut HeaderMap,
    to: header::HeaderName,
) {
    if let Some(v) = request.get(from) {
        response.insert(to, v.clone());
    }
}
