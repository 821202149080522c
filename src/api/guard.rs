//! The `/v1` guard (an axum middleware on the `/v1` routes and `/metrics`): with
//! `--auth sigv4`, the request's signature is verified and an administrator's key is
//! required where the route changes something or manages keys; `/metrics` and `/v1`
//! reads may be made public by flags.
//!
//! Owns which routes need an administrator and how a signed body is read for its hash:
//! under the edge's body budget, as every other body, so that requests carrying a known
//! access key id but no valid signature cannot buffer memory past the budget. Must not
//! know how a signature is computed (`crate::auth`).

use std::time::SystemTime;

use axum::extract::Request;
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::auth::{AuthError, V1_SIGNED_BODY_BYTES_MAX, sign, verify};

/// Whether a `/v1` route needs an administrator: every change, and all of `/v1/iam`.
fn needs_admin(method: &Method, path: &str) -> bool {
    path.starts_with("/v1/iam") || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether anyone may make this request unsigned: `/metrics` and `/v1` reads when the
/// server was told to make them public; `/v1/iam` never.
fn is_public(method: &Method, path: &str) -> bool {
    let public = crate::auth::public();
    if path == METRICS_PATH {
        return public.metrics;
    }
    public.v1_reads && matches!(*method, Method::GET | Method::HEAD) && !path.starts_with("/v1/iam")
}

/// The Prometheus route, guarded as `/v1` reads are.
const METRICS_PATH: &str = "/metrics";

/// Verifies the signature of a `/v1` or `/metrics` request, and that the signer is an
/// administrator where the route needs one. Other routes, public ones, and every route
/// with `--auth off`, pass untouched.
pub async fn v1_guard(req: Request, next: Next) -> Response {
    let Some(keys) = crate::auth::verifying() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if !(path.starts_with("/v1/") || path == METRICS_PATH) || is_public(req.method(), path) {
        return next.run(req).await;
    }
    let unsigned = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes() == sign::UNSIGNED_PAYLOAD.as_bytes());
    let (mut parts, body) = req.into_parts();
    // Nothing of the body is read for a request whose signature fails without it.
    if let Err(e) = verify::prepare(keys, &parts.uri, &parts.headers, SystemTime::now()) {
        return refuse(&parts, &e);
    }
    let (body, bytes) = if unsigned {
        (body, None)
    } else {
        // The body's share of the budget is held only while its hash is checked; the
        // route then reads it again from memory and takes its own share.
        match crate::body::read(&parts.headers, body, V1_SIGNED_BODY_BYTES_MAX).await {
            Ok(buffered) => (
                axum::body::Body::from(buffered.bytes.clone()),
                Some(buffered),
            ),
            Err(crate::body::BodyError::TooLarge { .. }) => {
                let e = AuthError::InvalidSignature(format!(
                    "A signed body is at most {V1_SIGNED_BODY_BYTES_MAX} bytes; sign a larger one as UNSIGNED-PAYLOAD"
                ));
                return refuse(&parts, &e);
            }
            Err(e) => return Problem::body(&e).into_response(),
        }
    };
    let verified = verify::verify(
        keys,
        &parts.method,
        &parts.uri,
        &parts.headers,
        bytes.as_ref().map(|b| &b.bytes[..]),
        SystemTime::now(),
    );
    drop(bytes);
    let key = match verified {
        Ok(key) => key,
        Err(e) => return refuse(&parts, &e),
    };
    if needs_admin(&parts.method, parts.uri.path()) && !key.admin {
        let e = AuthError::NotAdmin(format!(
            "User {} (access key {}) is not authorized to perform {} {}: it needs an administrator's key",
            key.user,
            key.access_key_id,
            parts.method,
            parts.uri.path()
        ));
        return refuse(&parts, &e);
    }
    // The routes (and the audit log's record of a change) read who signed.
    parts.extensions.insert(key);
    next.run(Request::from_parts(parts, body)).await
}

/// The `/v1` answer to a refused request, recorded in the audit log.
fn refuse(parts: &Parts, e: &AuthError) -> Response {
    crate::audit::v1_refused(parts, e.v1_response())
}
