//! The `/v1` guard (an axum middleware on the `/v1` routes and `/metrics`): with
//! `--auth sigv4`, the request's signature is verified and an administrator's key is
//! required where the route changes something or manages keys; `/metrics` and `/v1`
//! reads may be made public by flags.
//!
//! A key that is not an administrator's may make `/v1` reads its user's policies allow:
//! each read is an `eddy:` action on a named resource (`eddy:GetFunctionLogs` on
//! `arn:eddy:<region>:<account>:function/<name>`, `eddy:Search` on
//! `…:search-index/<name>`), so function logs and search indexes are authorized per
//! name.
//!
//! Owns which routes need an administrator, the `/v1` reads' actions and resources, and
//! how a signed body is read for its hash:
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
use crate::auth::decide::Subject;
use crate::auth::{AuthError, V1_SIGNED_BODY_BYTES_MAX, sign, verify};

/// Whether a `/v1` route needs an administrator: every change, all of `/v1/iam`, and
/// a function's component (its code, for trigger workers).
fn needs_admin(method: &Method, path: &str) -> bool {
    path.starts_with("/v1/iam")
        || is_component(path)
        || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `GET /v1/functions/{name}/component`: a function's code.
fn is_component(path: &str) -> bool {
    path.starts_with("/v1/functions/") && path.ends_with("/component")
}

/// Whether anyone may make this request unsigned: `/metrics` and `/v1` reads when the
/// server was told to make them public; `/v1/iam` never.
fn is_public(method: &Method, path: &str) -> bool {
    let public = crate::auth::public();
    if path == METRICS_PATH {
        return public.metrics;
    }
    public.v1_reads
        && matches!(*method, Method::GET | Method::HEAD)
        && !path.starts_with("/v1/iam")
        && !is_component(path)
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
    if !key.admin
        && !needs_admin(&parts.method, parts.uri.path())
        && let Err(message) = allow_read(&key, parts.uri.path(), &parts.extensions)
    {
        return refuse(&parts, &AuthError::NotAdmin(message));
    }
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

/// The `eddy:` action and resource of a `/v1` read: a list is on `*`, one named
/// function, trigger, schedule or search index on its ARN.
pub(crate) fn read_action(path: &str, region: &str, account: &str) -> (String, String) {
    let arn = |kind: &str, name: &str| format!("arn:eddy:{region}:{account}:{kind}/{name}");
    let parts: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let decoded = |p: &str| crate::percent::decode_component(p).unwrap_or_else(|| p.to_owned());
    match parts.as_slice() {
        ["functions"] => ("eddy:ListFunctions".into(), "*".into()),
        ["functions", name] => ("eddy:GetFunction".into(), arn("function", &decoded(name))),
        ["functions", name, "logs"] => (
            "eddy:GetFunctionLogs".into(),
            arn("function", &decoded(name)),
        ),
        ["triggers"] => ("eddy:ListTriggers".into(), "*".into()),
        ["triggers", id, ..] => ("eddy:GetTrigger".into(), arn("trigger", &decoded(id))),
        ["schedules"] => ("eddy:ListSchedules".into(), "*".into()),
        ["schedules", name, ..] => ("eddy:GetSchedule".into(), arn("schedule", &decoded(name))),
        ["search"] => ("eddy:ListSearchIndexes".into(), "*".into()),
        ["search", index, ..] => ("eddy:Search".into(), arn("search-index", &decoded(index))),
        // Auto scaling's reads are Application Auto Scaling's own actions.
        ["autoscaling", "targets"] => (
            "application-autoscaling:DescribeScalableTargets".into(),
            "*".into(),
        ),
        ["autoscaling", "policies"] => (
            "application-autoscaling:DescribeScalingPolicies".into(),
            "*".into(),
        ),
        ["autoscaling", "activities"] => (
            "application-autoscaling:DescribeScalingActivities".into(),
            "*".into(),
        ),
        _ => ("eddy:Get".into(), "*".into()),
    }
}

/// Whether the user of a key that is not an administrator's may make this read.
fn allow_read(
    key: &crate::auth::Key,
    path: &str,
    extensions: &axum::http::Extensions,
) -> Result<(), String> {
    let Some(users) = crate::auth::users() else {
        return Err("the user store is not open".to_owned());
    };
    let config = users.engine_config();
    let subject = Subject::of(
        key,
        users,
        &config.account_id,
        crate::audit::source_ip(extensions),
    );
    let (action, resource) = read_action(path, &config.region, &config.account_id);
    subject
        .allow(&action, &resource, &[])
        .map_err(|d| d.message)
}

/// The `/v1` answer to a refused request, recorded in the audit log.
fn refuse(parts: &Parts, e: &AuthError) -> Response {
    crate::audit::v1_refused(parts, e.v1_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_scaling_reads_are_application_auto_scalings_actions() {
        let action = |path: &str| read_action(path, "us-east-1", "000000000000").0;
        assert_eq!(
            action("/v1/autoscaling/targets"),
            "application-autoscaling:DescribeScalableTargets"
        );
        assert_eq!(
            action("/v1/autoscaling/policies"),
            "application-autoscaling:DescribeScalingPolicies"
        );
        assert_eq!(
            action("/v1/autoscaling/activities"),
            "application-autoscaling:DescribeScalingActivities"
        );
        // Every change needs an administrator whatever the route.
        assert!(needs_admin(&Method::PUT, "/v1/autoscaling/targets"));
        assert!(needs_admin(&Method::POST, "/v1/autoscaling"));
        assert!(!needs_admin(&Method::GET, "/v1/autoscaling/policies"));
    }
}
