//! `/v1/autoscaling`: auto scaling of provisioned capacity in Application Auto
//! Scaling's JSON shapes, as REST routes (the `eddy autoscaling` commands use them):
//! `targets` (GET lists, PUT registers, DELETE deregisters), `policies` (the same for
//! scaling policies) and `activities` (GET); and `POST /v1/autoscaling` with
//! `X-Amz-Target: AnyScaleFrontendService.<Operation>` for any operation.
//!
//! Every request's `ServiceNamespace` defaults to `dynamodb`; the query parameters of
//! a GET or DELETE are the operation's members (`ResourceId`, `ScalableDimension`,
//! `PolicyName`). Errors are the `/v1` shape with the operation's error type as the
//! code (400, 404 for `ObjectNotFoundException`).
//!
//! Owns these routes. Must not know what an operation does (`crate::scaling::api`).

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use super::common::{ApiResult, blocking, ok, parse_json, parse_query, read_body};
use super::problem::Problem;
use crate::scaling::api::{AasError, call};
use crate::scaling::wire::{REQUEST_BODY_BYTES_MAX, TARGET_PREFIX};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/autoscaling", post(by_target))
        .route(
            "/v1/autoscaling/targets",
            get(|uri: Uri| from_query(uri, "DescribeScalableTargets"))
                .put(|h: HeaderMap, b: Body| from_body(h, b, "RegisterScalableTarget"))
                .delete(|uri: Uri| from_query(uri, "DeregisterScalableTarget")),
        )
        .route(
            "/v1/autoscaling/policies",
            get(|uri: Uri| from_query(uri, "DescribeScalingPolicies"))
                .put(|h: HeaderMap, b: Body| from_body(h, b, "PutScalingPolicy"))
                .delete(|uri: Uri| from_query(uri, "DeleteScalingPolicy")),
        )
        .route(
            "/v1/autoscaling/activities",
            get(|uri: Uri| from_query(uri, "DescribeScalingActivities")),
        )
}

impl From<AasError> for Problem {
    fn from(e: AasError) -> Problem {
        let status = match e.kind {
            "ObjectNotFoundException" => StatusCode::NOT_FOUND,
            "InternalServiceException" => return Problem::internal(e.message),
            _ => StatusCode::BAD_REQUEST,
        };
        Problem::new(status, e.kind, e.message)
    }
}

/// Runs an operation with `ServiceNamespace` defaulting to `dynamodb`.
async fn run(op: &'static str, mut members: Map<String, Value>) -> ApiResult {
    let Some(scaling) = crate::scaling::get() else {
        return Err(Problem::internal(
            "auto scaling is not running on this server",
        ));
    };
    members
        .entry("ServiceNamespace")
        .or_insert_with(|| Value::from("dynamodb"));
    let body = Value::Object(members);
    ok(&blocking(move || call(&scaling, op, &body)).await??)
}

/// The query parameters as the operation's members; `ResourceIds` (a list) takes
/// every `ResourceId` given, and `MaxResults` is a number.
async fn from_query(uri: Uri, op: &'static str) -> ApiResult {
    let mut members = Map::new();
    let mut ids = Vec::new();
    for (key, value) in parse_query(uri.query().unwrap_or(""))? {
        match key.as_str() {
            "ResourceId" if op == "DescribeScalableTargets" => ids.push(Value::from(value)),
            "MaxResults" => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| Problem::invalid("MaxResults", "must be an integer"))?;
                members.insert(key, Value::from(n));
            }
            "PolicyName" if op == "DescribeScalingPolicies" => {
                members.insert("PolicyNames".into(), Value::Array(vec![Value::from(value)]));
            }
            _ => {
                members.insert(key, Value::from(value));
            }
        }
    }
    if !ids.is_empty() {
        members.insert("ResourceIds".into(), Value::Array(ids));
    }
    run(op, members).await
}

async fn from_body(headers: HeaderMap, body: Body, op: &'static str) -> ApiResult {
    let buffered = read_body(&headers, body, REQUEST_BODY_BYTES_MAX).await?;
    match parse_json(&buffered.bytes)? {
        Value::Object(members) => run(op, members).await,
        _ => Err(Problem::bad_request(
            "InvalidRequestContentException",
            "the body must be a JSON object",
        )),
    }
}

/// `POST /v1/autoscaling` with the operation in `X-Amz-Target`.
async fn by_target(headers: HeaderMap, body: Body) -> ApiResult {
    let target = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or("");
    let op = match target.split_once('.') {
        Some((TARGET_PREFIX, op)) => op,
        _ => {
            return Err(Problem::invalid(
                "X-Amz-Target",
                format!("must be {TARGET_PREFIX}.<Operation>, not {target:?}"),
            ));
        }
    };
    let op: &'static str = match crate::scaling::api::OPERATIONS.iter().find(|o| **o == op) {
        Some(op) => op,
        None => {
            return Err(Problem::invalid(
                "X-Amz-Target",
                format!("{op} is not an Application Auto Scaling operation Eddy serves"),
            ));
        }
    };
    from_body(headers, body, op).await
}
