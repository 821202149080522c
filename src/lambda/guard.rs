//! The guard of Lambda's routes (an axum middleware): with `--auth sigv4` a request must
//! be signed (for the `lambda` service, as the aws CLI and the SDKs sign it) by a known
//! key, and a key that is not an administrator's is held to its user's policies with
//! Lambda's own actions and resources (`lambda:InvokeFunction` on
//! `arn:aws:lambda:<region>:<account>:function:<name>`). Refusals answer in Lambda's
//! error shape, with the 403 AWS's REST services give them.
//!
//! Owns each route's action and resource. Must not know how a signature is computed
//! (`crate::auth`) nor what a route does.

use std::time::SystemTime;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::LambdaError;
use super::names::function_name;
use crate::auth::decide::Subject;
use crate::auth::{AuthError, sign, verify};

/// Largest body any Lambda route reads (CreateFunction's: a component in base64 inside
/// JSON); the guard buffers a signed body up to this to check its hash.
pub(super) const SIGNED_BODY_BYTES_MAX: usize = crate::body::DEPLOY_JSON_BYTES_MAX;

/// Largest answer read back to find the name of what a create made, for the audit log
/// (a `FunctionConfiguration` or a mapping is a few KB).
const CREATED_BODY_BYTES_MAX: usize = 64 * 1024;

/// Verifies the signature and the signer's permission for the route's action (through
/// [`checked`]), and with `--audit-log` records every change, as `/v1`'s are: the
/// `lambda:` action, the ARN of what it changed and the status. Invoke is a call of the
/// function, not a change of it (CloudTrail logs it as a data event), and is not
/// recorded.
pub(super) async fn guard(req: Request, next: Next) -> Response {
    let (op, resource) = operation(req.method(), req.uri().path());
    let change = crate::audit::enabled()
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && op != "InvokeFunction";
    if !change {
        return checked(req, next).await.0;
    }
    let ip = crate::audit::source_ip(req.extensions());
    let (resp, key) = checked(req, next).await;
    if key.is_none() && crate::auth::verifying().is_some() {
        // Refused before it ran: recorded as denied by `checked`.
        return resp;
    }
    let (region, account) = crate::auth::users().map_or_else(
        || ("*".to_owned(), "*".to_owned()),
        |u| {
            let c = u.engine_config();
            (c.region.clone(), c.account_id.clone())
        },
    );
    let status = resp.status();
    let (resp, resource) = match resource {
        Resource::Any if status.is_success() => {
            let (head, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, CREATED_BODY_BYTES_MAX)
                .await
                .unwrap_or_default();
            let created: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let resource = match created.as_ref() {
                Some(v) if v.get("UUID").is_some() => {
                    Resource::Mapping(v["UUID"].as_str().unwrap_or_default().to_owned())
                }
                Some(v) => {
                    Resource::Function(v["FunctionName"].as_str().unwrap_or_default().to_owned())
                }
                None => Resource::Any,
            };
            (
                Response::from_parts(head, axum::body::Body::from(bytes)),
                resource,
            )
        }
        other => (resp, other),
    };
    crate::audit::change(
        &crate::audit::Identity::of(key.as_deref()),
        ip,
        &format!("lambda:{op}"),
        &resource.arn(&region, &account),
        status.as_u16(),
    );
    resp
}

/// The answer, and the verified key (`None` with `--auth off`, or when refused).
async fn checked(req: Request, next: Next) -> (Response, Option<std::sync::Arc<crate::auth::Key>>) {
    let Some(keys) = crate::auth::verifying() else {
        return (next.run(req).await, None);
    };
    let unsigned = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes() == sign::UNSIGNED_PAYLOAD.as_bytes());
    let (mut parts, body) = req.into_parts();
    // Nothing of the body is read for a request whose signature fails without it.
    if let Err(e) = verify::prepare(keys, &parts.uri, &parts.headers, SystemTime::now()) {
        return (refuse(&parts, &e), None);
    }
    let (body, bytes) = if unsigned {
        (body, None)
    } else {
        match crate::body::read(&parts.headers, body, SIGNED_BODY_BYTES_MAX).await {
            Ok(buffered) => (
                axum::body::Body::from(buffered.bytes.clone()),
                Some(buffered),
            ),
            Err(e) => {
                let op = operation(&parts.method, parts.uri.path()).0;
                return (LambdaError::body(&e, &op).into_response(), None);
            }
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
        Err(e) => return (refuse(&parts, &e), None),
    };
    if !key.admin {
        let Some(users) = crate::auth::users() else {
            return (
                LambdaError::service("the user store is not open").into_response(),
                None,
            );
        };
        let config = users.engine_config();
        let subject = Subject::of(
            &key,
            users,
            &config.account_id,
            crate::audit::source_ip(&parts.extensions),
        );
        let (op, resource) = operation(&parts.method, parts.uri.path());
        let action = format!("lambda:{op}");
        let resource = resource.arn(&config.region, &config.account_id);
        if let Err(d) = subject.allow(&action, &resource, &[]) {
            crate::audit::denied(
                &crate::audit::Identity::of(Some(&key)),
                subject.principal.source_ip,
                &d.action,
                &d.resource,
                "AccessDeniedException",
                &d.message,
            );
            let resp = LambdaError::new(StatusCode::FORBIDDEN, "AccessDeniedException", d.message)
                .into_response();
            return (resp, None);
        }
    }
    parts.extensions.insert(key.clone());
    (next.run(Request::from_parts(parts, body)).await, Some(key))
}

/// A refused signature: its DynamoDB-named type (the same names Lambda uses) with 403,
/// recorded in the audit log with the access key the request claimed.
fn refuse(parts: &axum::http::request::Parts, e: &AuthError) -> Response {
    if crate::audit::enabled() {
        let (op, resource) = operation(&parts.method, parts.uri.path());
        let resource = match resource {
            Resource::Any => "*".to_owned(),
            Resource::Function(name) | Resource::Mapping(name) => name,
        };
        crate::audit::denied(
            &crate::audit::Identity::claimed(parts),
            crate::audit::source_ip(&parts.extensions),
            &format!("lambda:{op}"),
            &resource,
            e.kind(),
            e.message(),
        );
    }
    LambdaError::new(StatusCode::FORBIDDEN, e.kind(), e.message()).into_response()
}

/// What an action is authorized on.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Resource {
    /// A list: `*`.
    Any,
    Function(String),
    Mapping(String),
}

impl Resource {
    fn arn(&self, region: &str, account: &str) -> String {
        match self {
            Resource::Any => "*".to_owned(),
            Resource::Function(name) => {
                format!("arn:aws:lambda:{region}:{account}:function:{name}")
            }
            Resource::Mapping(uuid) => {
                format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")
            }
        }
    }
}

/// The IAM action (without `lambda:`) and resource of a request on Lambda's routes, as
/// Lambda's service authorization reference names them.
pub(super) fn operation(method: &Method, path: &str) -> (String, Resource) {
    let rest = path.trim_start_matches(super::API_PREFIX);
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let decoded = |p: &str| {
        let p = crate::percent::decode_component(p).unwrap_or_else(|| p.to_owned());
        function_name(&p).0
    };
    let (action, resource) = match (method, parts.as_slice()) {
        (&Method::POST, ["functions"]) => ("CreateFunction", Resource::Any),
        (_, ["functions"]) => ("ListFunctions", Resource::Any),
        (&Method::DELETE, ["functions", f]) => ("DeleteFunction", Resource::Function(decoded(f))),
        (_, ["functions", f]) => ("GetFunction", Resource::Function(decoded(f))),
        (_, ["functions", f, "configuration"]) => {
            ("GetFunctionConfiguration", Resource::Function(decoded(f)))
        }
        (_, ["functions", f, "code"]) => ("UpdateFunctionCode", Resource::Function(decoded(f))),
        (_, ["functions", f, "invocations"]) => ("InvokeFunction", Resource::Function(decoded(f))),
        (&Method::POST, ["event-source-mappings"]) => ("CreateEventSourceMapping", Resource::Any),
        (_, ["event-source-mappings"]) => ("ListEventSourceMappings", Resource::Any),
        (m, ["event-source-mappings", id]) => {
            let action = match *m {
                Method::PUT => "UpdateEventSourceMapping",
                Method::DELETE => "DeleteEventSourceMapping",
                _ => "GetEventSourceMapping",
            };
            (action, Resource::Mapping((*id).to_owned()))
        }
        _ => ("Unknown", Resource::Any),
    };
    (action.to_owned(), resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_lambdas_action_on_its_resource() {
        let op = |m: Method, p: &str| operation(&m, p);
        assert_eq!(
            op(Method::POST, "/2015-03-31/functions/f%3A1/invocations"),
            ("InvokeFunction".into(), Resource::Function("f".into()))
        );
        assert_eq!(
            op(
                Method::GET,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ag"
            ),
            ("GetFunction".into(), Resource::Function("g".into()))
        );
        assert_eq!(
            op(Method::GET, "/2015-03-31/event-source-mappings/"),
            ("ListEventSourceMappings".into(), Resource::Any)
        );
        assert_eq!(
            op(Method::PUT, "/2015-03-31/event-source-mappings/u-1").0,
            "UpdateEventSourceMapping"
        );
        assert_eq!(
            Resource::Function("f".into()).arn("eu-west-1", "123"),
            "arn:aws:lambda:eu-west-1:123:function:f"
        );
    }
}
